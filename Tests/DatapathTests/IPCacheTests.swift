import Datapath
import FlowCore
import Testing

private func v4(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32) -> IPAddress {
    IPAddress(ipv4: a << 24 | b << 16 | c << 8 | d)
}

private func v6(_ high: UInt64, _ low: UInt64) -> IPAddress { IPAddress(high: high, low: low) }

private func entry(_ prefix: IPAddress, _ length: UInt8, _ identity: UInt32, endpoint: UInt32 = 0) -> IPCacheEntry {
    IPCacheEntry(prefix: IPPrefix(address: prefix, length: length), value: IPCacheValue(identity: Identity(identity), endpoint: endpoint))
}

struct IdentityTests {
    @Test func reservedNumbersAreCiliums() {
        #expect(Identity.unknown.rawValue == 0)
        #expect(Identity.host.rawValue == 1)
        #expect(Identity.world.rawValue == 2)
        #expect(Identity.unmanaged.rawValue == 3)
        #expect(Identity.health.rawValue == 4)
        #expect(Identity.initializing.rawValue == 5)
        #expect(Identity.remoteNode.rawValue == 6)
        #expect(Identity.kubeAPIServer.rawValue == 7)
        #expect(Identity.ingress.rawValue == 8)
        #expect(Identity.worldIPv4.rawValue == 9)
        #expect(Identity.worldIPv6.rawValue == 10)
        #expect(Identity.firstAllocated.rawValue == 256)
        #expect(Identity.host.reservedName?.description == "host")
        #expect(Identity.remoteNode.reservedName?.description == "remote-node")
        #expect(Identity.initializing.reservedName?.description == "init")
        #expect(Identity.worldIPv4.reservedName?.description == "world-ipv4")
        #expect(Identity.kubeAPIServer.reservedName?.description == "kube-apiserver")
        #expect(Identity(256).reservedName == nil)
        #expect(Identity.host.isReserved && !Identity.unknown.isReserved && !Identity(256).isReserved)
        #expect(Identity(0x0100_0001).isLocalScope && !Identity(256).isLocalScope)
        #expect(Identity.host < Identity.world)
    }
}

struct IPCacheTests {
    @Test func emptyCacheResolvesEverythingToWorld() {
        let cache = IPCache()
        #expect(cache.lookup(v4(10, 0, 0, 1)) == IPCacheValue(identity: .world))
        #expect(cache.lookup(v6(0xfd00_0000_0000_0000, 1)).identity == .world)
        #expect(cache.count == 0)
    }

    @Test func longestPrefixWins() {
        let cache = IPCache([
            entry(v4(10, 0, 0, 0), 8, 1000),
            entry(v4(10, 244, 0, 0), 16, 1001),
            entry(v4(10, 244, 1, 0), 24, 1002),
            entry(v4(10, 244, 1, 5), 32, 1003, endpoint: 7),
        ])
        #expect(cache.lookup(v4(10, 244, 1, 5)) == IPCacheValue(identity: Identity(1003), endpoint: 7))
        #expect(cache.lookup(v4(10, 244, 1, 6)).identity.rawValue == 1002)
        #expect(cache.lookup(v4(10, 244, 2, 6)).identity.rawValue == 1001)
        #expect(cache.lookup(v4(10, 9, 2, 6)).identity.rawValue == 1000)
        #expect(cache.lookup(v4(11, 0, 0, 0)).identity == .world)
    }

    @Test func explicitZeroPrefixesBeatTheDefaultAndStayInTheirFamily() {
        let cache = IPCache([
            entry(v4(0, 0, 0, 0), 0, Identity.worldIPv4.rawValue),
            entry(.zero, 0, Identity.worldIPv6.rawValue),
        ])
        #expect(cache.lookup(v4(198, 18, 0, 1)).identity == .worldIPv4)
        #expect(cache.lookup(v4(0, 0, 0, 0)).identity == .worldIPv4)
        #expect(cache.lookup(v6(0x2001_0db8_0000_0000, 1)).identity == .worldIPv6)
        #expect(cache.lookup(.zero).identity == .worldIPv6)

        let onlyV4 = IPCache([entry(v4(0, 0, 0, 0), 0, 9)])
        #expect(onlyV4.lookup(v6(0x2001_0db8_0000_0000, 1)).identity == .world)
        let onlyV6 = IPCache([entry(.zero, 0, 10)])
        #expect(onlyV6.lookup(v4(1, 2, 3, 4)).identity == .world)
    }

    @Test func hostRoutesMatchOnlyThemselves() {
        let a = v6(0xfd00_0010_0244_0000, 0x0000_0000_0001_0005)
        let cache = IPCache([entry(v4(172, 18, 0, 2), 32, 1), entry(a, 128, 300)])
        #expect(cache.lookup(v4(172, 18, 0, 2)).identity == .host)
        #expect(cache.lookup(v4(172, 18, 0, 3)).identity == .world)
        #expect(cache.lookup(a).identity.rawValue == 300)
        #expect(cache.lookup(v6(a.high, a.low ^ 1)).identity == .world)
    }

    @Test func ipv4AndIPv6PrefixesDoNotMatchEachOther() {
        // ::/80 covers every v4-mapped address's bit pattern (::ffff:a.b.c.d), but it is an
        // IPv6 prefix: it must not match an IPv4 address. (::ffff:0:0/96 itself cannot be
        // an IPv6 entry: in `IPAddress` that text is the IPv4 address 0.0.0.0.)
        let cache = IPCache([
            entry(.zero, 80, 500),
            entry(.zero, 0, 501),
            entry(v4(10, 0, 0, 0), 8, 502),
        ])
        #expect(cache.lookup(v4(10, 1, 2, 3)).identity.rawValue == 502)
        #expect(cache.lookup(v4(192, 0, 2, 1)).identity == .world)
        // A native IPv6 address in ::/96 (not mapped) does match the IPv6 entry.
        #expect(cache.lookup(IPAddress(high: 0, low: 5)).identity.rawValue == 500)
        // The IPv4 /8 does not match an IPv6 address with the same low bits: ::/0 does.
        #expect(cache.lookup(IPAddress(high: 1, low: 0x0000_ffff_0a01_0203)).identity.rawValue == 501)
        // Nor does the IPv6 ::/0 catch IPv4 addresses the IPv4 prefixes miss.
        #expect(cache.lookup(v4(192, 0, 2, 1)).identity == .world)
    }

    @Test func hostBitsOfEntriesAreIgnoredAndFirstDuplicateWins() {
        let cache = IPCache([
            entry(v4(10, 1, 2, 3), 8, 600),
            entry(v4(10, 0, 0, 0), 8, 601),
            entry(v6(0xfd00_0000_0000_0000, 0xffff), 64, 602),
        ])
        #expect(cache.count == 2)
        #expect(cache.lookup(v4(10, 200, 0, 1)).identity.rawValue == 600)
        #expect(cache.lookup(v6(0xfd00_0000_0000_0000, 42)).identity.rawValue == 602)
    }

    @Test func oddIPv6LengthsAcrossTheWordBoundary() {
        let base = v6(0x2001_0db8_0000_0000, 0x8000_0000_0000_0000)
        let cache = IPCache([entry(base, 65, 700), entry(base, 63, 701), entry(base, 64, 702)])
        #expect(cache.lookup(v6(0x2001_0db8_0000_0000, 0x8000_0000_0000_0001)).identity.rawValue == 700)
        #expect(cache.lookup(v6(0x2001_0db8_0000_0000, 0x0000_0000_0000_0001)).identity.rawValue == 702)
        #expect(cache.lookup(v6(0x2001_0db8_0000_0001, 0)).identity.rawValue == 701)
        #expect(cache.lookup(v6(0x2001_0db8_0000_0002, 0)).identity == .world)
    }

    /// Random prefixes (few lengths, as in practice, and all lengths) against a linear scan.
    @Test(arguments: [UInt64(1), 2, 3])
    func matchesABruteForceModel(seed: UInt64) {
        var rng = IPCacheRandom(seed: seed)
        var entries: [IPCacheEntry] = []
        let v4Lengths: [UInt8] = seed == 1 ? [0, 8, 16, 24, 32] : Array(0...32)
        let v6Lengths: [UInt8] = seed == 1 ? [0, 48, 64, 128] : Array(0...128)
        // Addresses drawn from small pools so prefixes nest and collide often.
        func randomV4() -> IPAddress {
            IPAddress(ipv4: UInt32(truncatingIfNeeded: rng.next()) & 0x0a0f_0f0f | 0x0a00_0000)
        }
        func randomV6() -> IPAddress {
            IPAddress(high: 0xfd00_0000_0000_0000 | (rng.next() & 0x0000_000f_0000_000f), low: rng.next() & 0x0f00_0000_0000_000f)
        }
        for index in 0..<600 {
            let isV4 = rng.next() & 1 == 0
            let address = isV4 ? randomV4() : randomV6()
            let lengths = isV4 ? v4Lengths : v6Lengths
            let length = lengths[Int(rng.next() % UInt64(lengths.count))]
            entries.append(entry(address, length, 1000 + UInt32(index), endpoint: UInt32(index)))
        }
        let cache = IPCache(entries)
        for _ in 0..<5000 {
            var address = rng.next() & 1 == 0 ? randomV4() : randomV6()
            // Some addresses anywhere, mostly outside every long prefix.
            switch rng.next() % 8 {
            case 0: address = IPAddress(ipv4: UInt32(truncatingIfNeeded: rng.next()))
            case 1: address = IPAddress(high: rng.next(), low: rng.next())
            default: break
            }
            #expect(cache.lookup(address) == bruteForce(entries, address))
        }
        // Every entry's own prefix resolves to itself or a duplicate that came first.
        for candidate in entries {
            #expect(cache.lookup(candidate.prefix.address).identity.rawValue >= 1000)
        }
    }

    private func bruteForce(_ entries: [IPCacheEntry], _ address: IPAddress) -> IPCacheValue {
        var best: (length: Int, value: IPCacheValue)? = nil
        for entry in entries where entry.prefix.isIPv4 == address.isIPv4 {
            let length = Int(entry.prefix.length)
            let prefix = entry.prefix.address
            let matches: Bool
            if address.isIPv4 {
                let mask: UInt32 = length == 0 ? 0 : ~0 << (32 - length)
                matches = address.ipv4Value & mask == prefix.ipv4Value & mask
            } else {
                let highMask: UInt64 = length >= 64 ? ~0 : (length == 0 ? 0 : ~0 << (64 - length))
                let lowMask: UInt64 = length <= 64 ? 0 : ~0 << (128 - length)
                matches = address.high & highMask == prefix.high & highMask && address.low & lowMask == prefix.low & lowMask
            }
            // Strictly longer only: the first of equal prefixes wins.
            if matches && (best == nil || length > best!.length) { best = (length, entry.value) }
        }
        return best?.value ?? .world
    }
}

private struct IPCacheRandom {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9e37_79b9_7f4a_7c15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
