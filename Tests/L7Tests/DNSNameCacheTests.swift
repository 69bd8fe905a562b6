import FlowCore
import L7
import Testing

/// The name cache against the Cilium behaviours it models (pkg/fqdn: per-endpoint DNS history,
/// global selection, TTLs with `--tofqdns-min-ttl`).
@Suite struct DNSNameCacheTests {
    let client = IPAddress(text: "10.244.1.10")!
    let other = IPAddress(text: "10.244.1.11")!
    let api = IPAddress(text: "203.0.113.10")!
    let cdn = IPAddress(text: "203.0.113.11")!
    let start = CaptureTime(seconds: 1_700_000_000)

    /// Selector 0 matches api.example.test, selector 1 anything under example.test.
    func cache(_ settings: DNSNameCache.Settings = DNSNameCache.Settings()) -> DNSNameCache {
        DNSNameCache(settings: settings) { name in
            (name == "api.example.test" ? 1 : 0) | (name.hasSuffix(".example.test") ? 2 : 0)
        }
    }

    func at(_ seconds: Int64) -> CaptureTime { CaptureTime(seconds: self.start.seconds + seconds) }

    @Test func anAnswerTagsTheAddressForItsQuerierAndSelectsItForEveryone() {
        let cache = self.cache()
        #expect(cache.isEmpty)
        cache.learn(name: "api.example.test", answers: [(self.api, 300)], querier: self.client, time: self.start)
        let seen = cache.tag(self.api, peer: self.client, time: self.at(1))
        #expect(seen.selectors == 3)
        #expect(cache.nameSets.names(seen.nameSet) == ["api.example.test"])
        // Another pod reaching the address is selected too (one selector cache per node), but
        // carries no names: it did not look the name up (Hubble's names are per endpoint).
        let unasked = cache.tag(self.api, peer: self.other, time: self.at(1))
        #expect(unasked.selectors == 3)
        #expect(unasked.nameSet == 0)
        #expect(cache.tag(self.cdn, peer: self.client, time: self.at(1)) == (0, 0))
    }

    @Test func anAnswerLivesForItsTTLRaisedToTheMinimum() {
        let honouring = self.cache()
        honouring.learn(name: "api.example.test", answers: [(self.api, 30)], querier: self.client, time: self.start)
        #expect(honouring.tag(self.api, peer: self.client, time: self.at(29)).selectors == 3)
        #expect(honouring.tag(self.api, peer: self.client, time: self.at(30)) == (0, 0))
        #expect(honouring.isEmpty)
        #expect(honouring.counters.expired == 1)

        let raised = self.cache(DNSNameCache.Settings(minimumTTL: 3600))
        raised.learn(name: "api.example.test", answers: [(self.api, 30)], querier: self.client, time: self.start)
        #expect(raised.tag(self.api, peer: self.client, time: self.at(3599)).selectors == 3)
        #expect(raised.tag(self.api, peer: self.client, time: self.at(3600)) == (0, 0))
    }

    @Test func namesOfOneAddressAccumulateAndExpireOneByOne() {
        let cache = self.cache()
        cache.learn(name: "api.example.test", answers: [(self.api, 60)], querier: self.client, time: self.start)
        cache.learn(name: "mirror.example.org", answers: [(self.api, 600)], querier: self.client, time: self.start)
        let both = cache.tag(self.api, peer: self.client, time: self.at(10))
        #expect(both.selectors == 3)
        #expect(cache.nameSets.names(both.nameSet) == ["api.example.test", "mirror.example.org"])
        let later = cache.tag(self.api, peer: self.client, time: self.at(61))
        #expect(later.selectors == 0)
        #expect(cache.nameSets.names(later.nameSet) == ["mirror.example.org"])
        #expect(cache.names(of: self.api, at: self.at(61)) == ["mirror.example.org"])
    }

    @Test func aRepeatedAnswerExtendsTheEntry() {
        let cache = self.cache()
        cache.learn(name: "api.example.test", answers: [(self.api, 60)], querier: self.client, time: self.start)
        cache.learn(name: "api.example.test", answers: [(self.api, 60)], querier: self.client, time: self.at(50))
        #expect(cache.tag(self.api, peer: self.client, time: self.at(100)).selectors == 3)
        #expect(cache.counters.learned == 2)
    }

    @Test func theCacheStaysWithinItsBoundEvictingTheOldest() {
        let cache = self.cache(DNSNameCache.Settings(maximumAddresses: 2))
        let addresses = (1...3).map { IPAddress(text: "198.51.100.\($0)")! }
        for (index, address) in addresses.enumerated() {
            cache.learn(name: "h\(index).example.test", answers: [(address, 300)], querier: self.client,
                        time: self.at(Int64(index)))
        }
        #expect(cache.count == 2)
        #expect(cache.counters.evicted == 1)
        #expect(cache.tag(addresses[0], peer: self.client, time: self.at(5)) == (0, 0))
        #expect(cache.tag(addresses[2], peer: self.client, time: self.at(5)).selectors == 2)
    }

    @Test func reloadedSelectorsApplyToWhatIsKnown() {
        let cache = self.cache()
        cache.learn(name: "api.example.test", answers: [(self.api, 300)], querier: self.client, time: self.start)
        cache.reselect { $0 == "api.example.test" ? 4 : 0 }
        #expect(cache.tag(self.api, peer: self.client, time: self.at(1)).selectors == 4)
    }
}
