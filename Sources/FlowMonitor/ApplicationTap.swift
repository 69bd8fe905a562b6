import Decoding
import FlowCore
import L7
import Output
import Synchronization

/// The capture thread's look at application payload, before a packet goes to its worker: it
/// learns names from DNS answers into the `DNSNameCache` and tags each packet with what the
/// cache knows of its two addresses (the `toFQDNs` selectors its new connection is judged by,
/// the names its record carries), and says which packets' payload the worker must see (DNS,
/// HTTP/1.x, a TLS ClientHello), marking their application protocol. It runs here because
/// the capture thread sees every packet in capture order: a name learned from a response
/// counts for every connection that starts after it, whichever worker owns that connection,
/// and replay stays deterministic.
///
/// Per packet, without DNS in the traffic: two port-bitmap reads and, for TCP payload, a
/// four-byte look at its start. No allocation but when names are learned or expire.
final class ApplicationTap {
    let cache: DNSNameCache
    /// The ports whose TCP and UDP payload is DNS (53, and the ports of `rules.dns`).
    private(set) var dnsPorts: PortSet
    let settings: ApplicationSettings
    /// The TCP connections seen carrying HTTP/1.x (every later segment goes to the worker) or
    /// starting a TLS ClientHello (the next few segments go too, for one split across them).
    /// `reading` false: an HTTP connection whose parser on the worker stopped reading both
    /// directions (`stops`): still tagged as HTTP, its payload no longer sent. `since`: when it
    /// was first followed, so that a late stop of an earlier connection on the same ports does
    /// not stop a later one.
    private var followed: [ConnectionPair: (protocol: AppProtocol, segments: UInt8, seen: Int64, since: Int64, reading: Bool)] = [:]
    /// Where the workers say which HTTP connections they stopped reading.
    let stops = FollowStops()
    /// A followed connection idle this long (nanoseconds of packet time) is forgotten when room is
    /// needed: the flow table's established timeout by default.
    static let followIdle: Int64 = 300_000_000_000
    let maximumFollowed: Int
    /// A 65,536-bit filter of the followed connections: a TCP segment whose bit is clear is not
    /// followed, without hashing its pair into the dictionary.
    private var followedFilter = PortSet([])
    private var filterInsertions = 0
    private(set) var counters = Counters()
    /// DNS answers over TCP that span segments, assembled to learn from (the worker assembles
    /// them again for its records, and counts).
    private var dnsStreams = DNSStreamAssembler<ConnectionPair>()

    struct Counters {
        /// Connections not followed because `maximumFollowed` were followed already.
        var unfollowed: UInt64 = 0
    }

    /// The tap `settings` describe, selecting names by `policy`'s `toFQDNs` selectors and
    /// reading DNS on the ports of its `rules.dns` too.
    init(_ settings: ApplicationSettings, policy: PolicyContext?, maximumFollowed: Int = 65_536) {
        self.settings = settings
        self.cache = DNSNameCache(settings: settings.nameCache, nameSets: NameSets(render: DNSRecord.jsonArray),
                                  selectors: policy?.fqdnSelectors ?? { _ in 0 })
        self.dnsPorts = PortSet(settings.dnsPorts + (policy?.dnsRulePorts ?? []))
        self.maximumFollowed = maximumFollowed
    }

    /// Policies were reloaded: names select by the new `toFQDNs` selectors, and the new
    /// `rules.dns` ports are read as DNS.
    func reload(_ policy: PolicyContext) {
        self.cache.reselect(policy.fqdnSelectors)
        self.dnsPorts = PortSet(self.settings.dnsPorts + policy.dnsRulePorts)
    }

    /// Adds the name cache's and the tap's counts to `counts` (`stats.l7`).
    func addCounts(to counts: inout ApplicationCounters) {
        let cache = self.cache.counters
        counts[.dnsCacheLearned] &+= cache.learned
        counts[.dnsCacheEvicted] &+= cache.evicted
        counts[.dnsCacheExpired] &+= cache.expired
        counts[.dnsCacheAddresses] &+= UInt64(self.cache.count)
        counts[.dnsNameSetsFull] &+= cache.nameSetsFull
        counts[.unfollowed] &+= self.counters.unfollowed
    }

    /// The payload `observe` located in `frame`.
    @inline(__always)
    static func payload(of summary: borrowing PacketSummary, in frame: PacketBytes) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: frame.rawBuffer[summary.payloadOffset..<(summary.payloadOffset &+ summary.payloadLength)])
    }

    /// Tags `summary` and returns whether its payload goes to the worker with it.
    @inline(__always)
    func observe(_ summary: inout PacketSummary, frame: PacketBytes, time: CaptureTime) -> Bool {
        guard summary.ipVersion != 0 else { return false }
        if !self.cache.isEmpty {
            (summary.sourceSelectors, summary.sourceNameSet) = self.cache.tag(summary.source, peer: summary.destination,
                                                                              time: time)
            (summary.destinationSelectors, summary.destinationNameSet) = self.cache.tag(
                summary.destination, peer: summary.source, time: time)
        }
        let isTCP = summary.ipProtocol == IPProtocolNumber.tcp
        // A SYN without ACK starts a new connection on its ports (RFC 9293 §3.5): whatever was
        // followed there before (its FIN, without payload, is not seen here) is forgotten, so a
        // connection the worker stopped reading does not silence the next one.
        if isTCP, summary.tcpFlags & (TCPFlag.syn | TCPFlag.ack) == TCPFlag.syn, !self.followed.isEmpty {
            let pair = ConnectionPair(summary)
            if self.followedFilter.contains(pair.filterKey) { self.followed[pair] = nil }
        }
        guard summary.hasPorts, summary.payloadLength > 0, summary.payloadOffset > 0, !summary.isFragment,
            summary.payloadOffset &+ summary.payloadLength <= frame.count
        else { return false }
        guard isTCP || summary.ipProtocol == IPProtocolNumber.udp else { return false }
        let payload = Self.payload(of: summary, in: frame)
        if self.dnsPorts.contains(summary.sourcePort) || self.dnsPorts.contains(summary.destinationPort) {
            summary.applicationProtocol = AppProtocol.dns.rawValue
            if self.dnsPorts.contains(summary.sourcePort) {
                // From the server: an answer for the destination, who asked.
                if isTCP {
                    self.dnsStreams.feed(payload, wireLength: summary.payloadLength, sequence: summary.tcpSequence,
                                         key: ConnectionPair(summary), time: time.nanoseconds) { message in
                        self.cache.learn(message: message, querier: summary.destination, time: time)
                    }
                } else {
                    self.cache.learn(message: payload, querier: summary.destination, time: time)
                }
            }
            if isTCP, summary.tcpFlags & (TCPFlag.fin | TCPFlag.rst) != 0 { self.dnsStreams.end(ConnectionPair(summary)) }
            return true
        }
        guard isTCP else { return false }
        if self.stops.pending.load(ordering: .relaxed) { self.applyStops() }
        let pair = ConnectionPair(summary)
        // One hash of the pair: found by index, updated or removed there.
        if !self.followed.isEmpty, self.followedFilter.contains(pair.filterKey), let index = self.followed.index(forKey: pair) {
            let following = self.followed.values[index]
            summary.applicationProtocol = following.protocol.rawValue
            if summary.tcpFlags & (TCPFlag.fin | TCPFlag.rst) != 0 || following.segments <= 1 {
                self.followed.remove(at: index)
            } else {
                if following.segments != .max { self.followed.values[index].segments = following.segments - 1 }
                self.followed.values[index].seen = time.nanoseconds
            }
            return following.reading
        }
        if HTTPConnection.looksLikeRequest(payload) {
            summary.applicationProtocol = AppProtocol.http.rawValue
            self.follow(pair, .http, segments: .max, time: time)
            return true
        }
        if TLSClientHello.looksLikeClientHello(payload) {
            summary.applicationProtocol = AppProtocol.tls.rawValue
            // A ClientHello with post-quantum key shares spans two or three segments.
            self.follow(pair, .tls, segments: 4, time: time)
            return true
        }
        return false
    }

    /// The HTTP connections the workers stopped reading: their payload is no longer sent.
    private func applyStops() {
        for (pair, time) in self.stops.take() {
            if let index = self.followed.index(forKey: pair), self.followed.values[index].protocol == .http,
               self.followed.values[index].since <= time.nanoseconds
            {
                self.followed.values[index].reading = false
            }
        }
    }

    private func follow(_ pair: ConnectionPair, _ application: AppProtocol, segments: UInt8, time: CaptureTime) {
        if self.followed.count >= self.maximumFollowed {
            self.followed = self.followed.filter { time.nanoseconds - $0.value.seen < Self.followIdle }
        }
        if self.followed.count < self.maximumFollowed {
            self.followed[pair] = (application, segments, time.nanoseconds, time.nanoseconds, true)
            self.followedFilter.insert(pair.filterKey)
            self.filterInsertions += 1
            if self.filterInsertions > 4 * self.maximumFollowed {
                // Rebuilt from the connections followed now, so ended ones stop passing it.
                self.followedFilter = PortSet(self.followed.keys.map(\.filterKey))
                self.filterInsertions = self.followed.count
            }
        } else {
            self.counters.unfollowed &+= 1
        }
    }
}

/// The HTTP connections the workers' parsers stopped reading in both directions (an error, the
/// depth reached, another protocol after 101), for the capture thread's tap: following them
/// to their end copied and looked up every later segment for nothing. Filled by any worker,
/// emptied by the capture thread when `pending` says there is something.
final class FollowStops: Sendable {
    private let pairs = Mutex<[(ConnectionPair, CaptureTime)]>([])
    let pending = Atomic<Bool>(false)

    func add(_ connections: [(source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16,
                              time: CaptureTime)]) {
        self.pairs.withLock { pairs in
            for connection in connections {
                pairs.append((ConnectionPair(connection.source, connection.sourcePort, connection.destination,
                                             connection.destinationPort), connection.time))
            }
        }
        self.pending.store(true, ordering: .releasing)
    }

    func take() -> [(ConnectionPair, CaptureTime)] {
        self.pending.store(false, ordering: .relaxed)
        return self.pairs.withLock { pairs in
            defer { pairs.removeAll() }
            return pairs
        }
    }
}

/// The two ends of a TCP connection, in either direction.
struct ConnectionPair: Hashable, Sendable {
    var low: IPAddress
    var high: IPAddress
    var ports: UInt32

    init(_ summary: PacketSummary) {
        self.init(summary.source, summary.sourcePort, summary.destination, summary.destinationPort)
    }

    init(_ source: IPAddress, _ sourcePort: UInt16, _ destination: IPAddress, _ destinationPort: UInt16) {
        let sourceFirst = (source, sourcePort) < (destination, destinationPort)
        self.low = sourceFirst ? source : destination
        self.high = sourceFirst ? destination : source
        let (lowPort, highPort) = sourceFirst ? (sourcePort, destinationPort) : (destinationPort, sourcePort)
        self.ports = UInt32(lowPort) << 16 | UInt32(highPort)
    }

    /// 16 bits of a multiplicative hash of the pair, for `ApplicationTap`'s filter.
    var filterKey: UInt16 {
        let mixed = (self.low.low ^ self.high.low ^ self.low.high ^ self.high.high ^ UInt64(self.ports)) &* 0x9E37_79B9_7F4A_7C15
        return UInt16(truncatingIfNeeded: mixed >> 48)
    }
}

/// A set of 16-bit values (ports; connections' filter keys) as a 65,536-bit map: one load to test.
struct PortSet {
    private var words = [UInt64](repeating: 0, count: 1024)

    init(_ ports: some Sequence<UInt16>) {
        for port in ports { self.insert(port) }
    }

    mutating func insert(_ port: UInt16) { self.words[Int(port >> 6)] |= 1 << UInt64(port & 63) }

    @inline(__always)
    func contains(_ port: UInt16) -> Bool {
        self.words.withUnsafeBufferPointer { $0[Int(port >> 6)] & (1 << UInt64(port & 63)) != 0 }
    }
}
