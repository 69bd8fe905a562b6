import FlowCore
import Synchronization

/// What the DNS answers seen so far say about addresses: which names resolved to each, until
/// when, and who asked. The passive twin of Cilium's DNS cache (pkg/fqdn: each endpoint's
/// `DNSHistory`, merged by the `NameManager` into the addresses each `toFQDNs` selector
/// selects):
///
/// - An answer maps the **query name** to every A/AAAA address reached from it, through any
///   CNAME chain in the same response, with the smallest TTL on the way (Cilium's
///   `ExtractMsgDetails`), raised to `minimumTTL` (`--tofqdns-min-ttl`, default 0 since Cilium
///   1.13: upstream TTLs are honoured).
/// - **Selection is global**: an address is selected by every selector matching any name that
///   resolved to it for any endpoint, as Cilium's selector cache holds one set of addresses per
///   selector. **Names on flows are per endpoint**: Hubble's `destination_names` are the names
///   the source itself looked up (`GetNamesOf(sourceEndpoint, ip)`).
/// - An entry lives until its TTL passes in packet time (replay stays deterministic). A
///   connection keeps the verdict of its first packet, which is what Cilium's connection
///   tracking gives a connection to an address whose name has since expired.
/// - Bounded: at most `maximumAddresses` addresses and `maximumNamesPerAddress` names each; an
///   address over the bound is evicted (expired ones first, then the oldest), and counted.
///
/// Used on one thread (the capture thread, which sees packets in order); only `nameSets` is
/// read from other threads.
public final class DNSNameCache {
    public struct Settings: Sendable, Equatable {
        /// Seconds an answer is kept at least (Cilium's `--tofqdns-min-ttl`).
        public var minimumTTL: UInt32
        public var maximumAddresses: Int
        public var maximumNamesPerAddress: Int

        public init(minimumTTL: UInt32 = 0, maximumAddresses: Int = 65_536, maximumNamesPerAddress: Int = 16) {
            self.minimumTTL = minimumTTL
            self.maximumAddresses = max(1, maximumAddresses)
            self.maximumNamesPerAddress = max(1, maximumNamesPerAddress)
        }
    }

    /// What the cache has done, for `stats`.
    public struct Counters: Sendable, Equatable {
        /// Address-name pairs learned or refreshed from answers.
        public var learned: UInt64 = 0
        /// Addresses dropped to stay within `maximumAddresses`, or names within `maximumNamesPerAddress`.
        public var evicted: UInt64 = 0
        /// Address-name pairs whose TTL passed.
        public var expired: UInt64 = 0
        /// Name sets not made because 65,535 exist (their flows carry no names).
        public var nameSetsFull: UInt64 = 0
        public init() {}
    }

    struct Resolution {
        var name: UInt32
        var querier: IPAddress
        var expires: Int64
    }

    /// A class: the dictionary holds a reference, so a packet's lookup retains one object (a
    /// struct copied out retained both arrays) and updates happen in place.
    final class AddressNames {
        var resolutions: [Resolution]
        /// Derived from `resolutions` (`refresh`): every selector of every live name, and each
        /// querier's name set.
        var selectors: UInt64 = 0
        var sets: [(querier: IPAddress, nameSet: UInt16)] = []
        /// The earliest expiry: the derived values hold until then.
        var validUntil: Int64 = .max

        init(resolutions: [Resolution]) { self.resolutions = resolutions }

        /// What a packet to or from the address carries, for `peer`.
        @inline(__always)
        func tag(peer: IPAddress) -> (selectors: UInt64, nameSet: UInt16) {
            // By index: iterating an array of tuples allocates in an unoptimized build.
            for index in 0..<self.sets.count where self.sets[index].querier == peer {
                return (self.selectors, self.sets[index].nameSet)
            }
            return (self.selectors, 0)
        }

        /// Extends the resolution of `name` for `querier`, if there is one (nil when not). True
        /// when none expired by `time`: the names, selectors and sets stay as they are (only the
        /// earliest expiry may move); false when the entry must be refreshed.
        func renew(name: UInt32, querier: IPAddress, expires: Int64, at time: Int64) -> Bool? {
            guard let index = self.resolutions.firstIndex(where: { $0.name == name && $0.querier == querier }) else {
                return nil
            }
            self.resolutions[index].expires = max(self.resolutions[index].expires, expires)
            guard time < self.validUntil else { return false }
            self.validUntil = self.resolutions.reduce(Int64.max) { min($0, $1.expires) }
            return true
        }

        /// Drops the resolution closest to expiry, to make room.
        func dropSoonest() {
            guard let soonest = self.resolutions.indices.min(by: { self.resolutions[$0].expires < self.resolutions[$1].expires })
            else { return }
            self.resolutions.remove(at: soonest)
        }
    }

    public let settings: Settings
    public private(set) var counters = Counters()
    /// The names, interned: index → text, its selectors and the id of the set of it alone
    /// (0 until made) (index 0 unused).
    private var names: [(text: String, selectors: UInt64, set: UInt16)] = [("", 0, 0)]
    private var nameIndex: [String: UInt32] = [:]
    private var addresses: [IPAddress: AddressNames] = [:]
    /// A 65,536-bit filter of the addresses ever learned (since the last rebuild): an address
    /// whose bit is clear is not in `addresses`, so most packets skip the dictionary's hashing.
    private var filter = [UInt64](repeating: 0, count: 1024)
    private var filterCount = 0
    /// Addresses in the order first learned, for eviction (`head` is the oldest still listed).
    private var arrivals: [IPAddress] = []
    private var head = 0
    /// The selectors a name matches (the loaded policies' `toFQDNs`); replaced on reload.
    private var selectorsOf: (String) -> UInt64
    /// The sets of names flows carry, readable from any thread.
    public let nameSets: NameSets
    private var nameSetIndex: [[UInt32]: UInt16] = [:]

    public init(settings: Settings = Settings(), nameSets: NameSets = NameSets(),
                selectors: @escaping (String) -> UInt64 = { _ in 0 }) {
        self.settings = settings
        self.nameSets = nameSets
        self.selectorsOf = selectors
    }

    /// No address has names: the per-packet lookup can be skipped.
    @inlinable public var isEmpty: Bool { self.count == 0 }
    public var count: Int { self.addresses.count }

    /// Records that `querier` asked for `name` and was told `answers` at `time`. `name` is the
    /// query name as `DNSName.text` gives it (lowercase, no trailing dot).
    public func learn(name: String, answers: [(address: IPAddress, ttl: UInt32)], querier: IPAddress,
                      time: CaptureTime) {
        guard !answers.isEmpty else { return }
        let nameID = self.intern(name)
        for answer in answers {
            let ttl = Int64(max(answer.ttl, self.settings.minimumTTL))
            let expires = time.nanoseconds &+ ttl &* 1_000_000_000
            self.counters.learned &+= 1
            if let known = self.addresses[answer.address] {
                switch known.renew(name: nameID, querier: querier, expires: expires, at: time.nanoseconds) {
                case true?:
                    continue
                case false?:
                    break
                case nil:
                    if known.resolutions.count >= self.settings.maximumNamesPerAddress {
                        known.dropSoonest()
                        self.counters.evicted &+= 1
                    }
                    known.resolutions.append(Resolution(name: nameID, querier: querier, expires: expires))
                }
                self.refresh(known, at: time.nanoseconds)
            } else {
                if self.addresses.count >= self.settings.maximumAddresses { self.makeRoom(at: time.nanoseconds) }
                let entry = AddressNames(resolutions: [Resolution(name: nameID, querier: querier, expires: expires)])
                self.refresh(entry, at: time.nanoseconds)
                self.addresses[answer.address] = entry
                self.arrivals.append(answer.address)
                self.setFilterBit(answer.address)
            }
        }
    }

    /// The selectors of `address` and the names `peer` looked up for it, at `time`: what a
    /// packet between them carries. No allocation unless an entry expired since it was last read.
    @inline(__always)
    public func tag(_ address: IPAddress, peer: IPAddress, time: CaptureTime) -> (selectors: UInt64, nameSet: UInt16) {
        let bit = Self.filterBit(address)
        guard self.filter.withUnsafeBufferPointer({ $0[bit >> 6] & (1 << UInt64(bit & 63)) != 0 }),
            let known = self.addresses[address]
        else { return (0, 0) }
        if time.nanoseconds >= known.validUntil { return self.expire(address, at: time.nanoseconds, peer: peer) }
        return known.tag(peer: peer)
    }

    /// The names that resolved to `address` (for anyone) at `time`: `policy explain`, tests.
    public func names(of address: IPAddress, at time: CaptureTime) -> [String] {
        guard let known = self.addresses[address] else { return [] }
        let live = known.resolutions.filter { $0.expires > time.nanoseconds }.map { self.names[Int($0.name)].text }
        return Array(Set(live)).sorted()
    }

    /// Re-derives every name's selectors (the policies were reloaded).
    public func reselect(_ selectors: @escaping (String) -> UInt64) {
        self.selectorsOf = selectors
        for index in 1..<self.names.count { self.names[index].selectors = selectors(self.names[index].text) }
        for address in Array(self.addresses.keys) {
            guard let entry = self.addresses[address] else { continue }
            entry.selectors = entry.resolutions.reduce(0) { $0 | self.names[Int($1.name)].selectors }
        }
    }

    // MARK: Inside

    /// The address's bit in `filter`: a multiplicative hash of its 128 bits, top 16 bits.
    @inline(__always)
    static func filterBit(_ address: IPAddress) -> Int {
        Int(truncatingIfNeeded: ((address.high ^ address.low) &* 0x9E37_79B9_7F4A_7C15) >> 48)
    }

    /// Marks `address` in the filter; once as many addresses were marked as the filter has
    /// words, it is rebuilt from the addresses held now (so evicted ones stop passing it).
    private func setFilterBit(_ address: IPAddress) {
        self.filterCount += 1
        if self.filterCount > self.filter.count * 16 {
            for index in self.filter.indices { self.filter[index] = 0 }
            self.filterCount = 0
            for known in self.addresses.keys {
                let bit = Self.filterBit(known)
                self.filter[bit >> 6] |= 1 << UInt64(bit & 63)
                self.filterCount += 1
            }
        }
        let bit = Self.filterBit(address)
        self.filter[bit >> 6] |= 1 << UInt64(bit & 63)
    }

    private func intern(_ name: String) -> UInt32 {
        if let known = self.nameIndex[name] { return known }
        let id = UInt32(self.names.count)
        self.names.append((name, self.selectorsOf(name), 0))
        self.nameIndex[name] = id
        return id
    }

    /// Drops the expired resolutions of `entry` and derives its selectors and name sets.
    private func refresh(_ entry: AddressNames, at time: Int64) {
        let before = entry.resolutions.count
        entry.resolutions.removeAll { $0.expires <= time }
        self.counters.expired &+= UInt64(before - entry.resolutions.count)
        entry.selectors = 0
        entry.validUntil = .max
        entry.sets.removeAll(keepingCapacity: true)
        let resolutions = entry.resolutions
        for (index, resolution) in resolutions.enumerated() {
            entry.selectors |= self.names[Int(resolution.name)].selectors
            entry.validUntil = min(entry.validUntil, resolution.expires)
            // Each querier's set, made at its first resolution (a querier with one name, the
            // usual case, without gathering them).
            guard !resolutions[..<index].contains(where: { $0.querier == resolution.querier }) else { continue }
            let others = resolutions[(index + 1)...].contains { $0.querier == resolution.querier && $0.name != resolution.name }
            let set = others ? self.nameSet(resolutions[index...].filter { $0.querier == resolution.querier }.map(\.name))
                : self.nameSet(single: resolution.name)
            entry.sets.append((resolution.querier, set))
        }
    }

    private func expire(_ address: IPAddress, at time: Int64, peer: IPAddress) -> (selectors: UInt64, nameSet: UInt16) {
        guard let entry = self.addresses[address] else { return (0, 0) }
        self.refresh(entry, at: time)
        if entry.resolutions.isEmpty {
            self.addresses[address] = nil
            return (0, 0)
        }
        return entry.tag(peer: peer)
    }

    /// Frees one address slot: every address whose names all expired, or else the oldest.
    private func makeRoom(at time: Int64) {
        let before = self.addresses.count
        self.addresses = self.addresses.filter { _, entry in entry.resolutions.contains { $0.expires > time } }
        self.counters.expired &+= UInt64(before - self.addresses.count)
        while self.addresses.count >= self.settings.maximumAddresses, self.head < self.arrivals.count {
            let oldest = self.arrivals[self.head]
            self.head += 1
            if self.addresses.removeValue(forKey: oldest) != nil { self.counters.evicted &+= 1 }
        }
        if self.head > 4096, self.head * 2 > self.arrivals.count {
            // Forget the listed addresses already gone, keeping the order of the rest.
            self.arrivals = self.arrivals[self.head...].filter { self.addresses[$0] != nil }
            self.head = 0
        }
    }

    /// The id of the set of the one name `id` (remembered with the name).
    private func nameSet(single id: UInt32) -> UInt16 {
        let known = self.names[Int(id)].set
        if known != 0 { return known }
        let set = self.nameSet([id])
        self.names[Int(id)].set = set
        return set
    }

    /// The id of a set of names (sorted by text), interned; 0 once 65,535 sets exist (the flow
    /// entry keeps 16 bits: flows then carry no names, counted in `nameSetsFull`).
    private func nameSet(_ ids: [UInt32]) -> UInt16 {
        let sorted = Array(Set(ids)).sorted { self.names[Int($0)].text < self.names[Int($1)].text }
        if let known = self.nameSetIndex[sorted] { return known }
        guard self.nameSets.count < Int(UInt16.max) else {
            self.counters.nameSetsFull &+= 1
            return 0
        }
        let id = UInt16(self.nameSets.append(sorted.map { self.names[Int($0)].text }))
        self.nameSetIndex[sorted] = id
        return id
    }
}

/// The sets of names flows carry (`FlowEntry.destinationNameSet`), appended by
/// the capture thread's `DNSNameCache` and read by the workers that write the records: each
/// set as text and as the JSON array the records copy (`render`, given by the output side),
/// so writing a record's names allocates nothing.
public final class NameSets: Sendable {
    private let sets = Mutex<[(names: [String], json: [UInt8])]>([([], Array("[]".utf8))])
    private let render: @Sendable ([String]) -> [UInt8]

    public init(render: @escaping @Sendable ([String]) -> [UInt8] = { Array("\($0)".utf8) }) {
        self.render = render
    }

    /// The names of set `id` (none for 0 or an unknown id).
    public func names(_ id: UInt16) -> [String] {
        guard id != 0 else { return [] }
        return self.sets.withLock { id < $0.count ? $0[Int(id)].names : [] }
    }

    /// Calls `body` with set `id` as a JSON array of strings; not for 0 or an unknown id.
    public func withJSON(_ id: UInt16, _ body: (UnsafeRawBufferPointer) -> Void) {
        guard id != 0 else { return }
        self.sets.withLock { sets in
            guard id < sets.count else { return }
            sets[Int(id)].json.withUnsafeBytes { body($0) }
        }
    }

    /// How many sets exist (the empty one included).
    public var count: Int { self.sets.withLock { $0.count } }

    func append(_ names: [String]) -> UInt32 {
        let json = self.render(names)
        return self.sets.withLock { sets in
            sets.append((names, json))
            return UInt32(sets.count - 1)
        }
    }
}

extension DNSNameCache {
    /// Learns from one DNS message a server sent to `querier` (a UDP datagram's payload, or a
    /// message `DNSStreamAssembler` took from TCP): its answers when it answered without error.
    /// Returns whether it was such a response.
    @discardableResult
    public func learn(message bytes: UnsafeRawBufferPointer, querier: IPAddress, time: CaptureTime) -> Bool {
        guard case .success(let message) = DNSMessage.parse(bytes), message.isResponse, message.rcode == 0,
            message.opcode == 0
        else { return false }
        let digest = DNSDigest(message)
        if let query = digest.query { self.learn(name: query, answers: digest.addresses, querier: querier, time: time) }
        return true
    }
}
