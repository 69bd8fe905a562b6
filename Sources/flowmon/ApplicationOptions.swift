import ArgumentParser
import FlowMonitor
import L7

/// The application layer's options (DNS, HTTP, TLS), shared by every subcommand that tracks flows.
struct ApplicationOptions: ParsableArguments {
    @Flag(name: .customLong("l7"), inversion: .prefixedNo, help: "Read DNS, HTTP/1.x and TLS ClientHello payload: 'dns', 'http' and 'tls' records, names on flows, toFQDNs and L7 policy rules judged. With --no-l7, toFQDNs rules select no address and L7 rules are not judged.")
    var enabled = true

    @Option(name: .customLong("dns-port"), help: ArgumentHelp("A port whose TCP and UDP payload is DNS (repeatable; default 53; the ports of the policies' rules.dns are added).", valueName: "port"))
    var dnsPorts: [UInt16] = []

    @Option(name: .customLong("fqdn-min-ttl"), help: ArgumentHelp("Seconds a DNS answer selects its addresses for toFQDNs at least, whatever its TTL (Cilium's --tofqdns-min-ttl; default 0: the answer's TTL).", valueName: "seconds"))
    var minimumTTL: UInt32 = 0

    @Option(name: .customLong("fqdn-cache-size"), help: ArgumentHelp("Most addresses the DNS name cache holds; beyond, expired ones and then the oldest are dropped (counted in stats.l7.dns.cache_evicted).", valueName: "n"))
    var cacheSize = 65_536

    @Option(name: .customLong("http-depth"), help: ArgumentHelp("Bytes of each direction of an HTTP connection parsed at most (Suricata's stream.reassembly.depth): a number of MiB, or with K, M or G.", valueName: "size"))
    var httpDepth: ByteSize = ByteSize(argument: "1M")!

    func validate() throws {
        guard (1...(1 << 24)).contains(self.cacheSize) else {
            throw ValidationError("'--fqdn-cache-size' must be between 1 and \(1 << 24), got \(self.cacheSize).")
        }
        guard self.dnsPorts.allSatisfy({ $0 != 0 }) else { throw ValidationError("'--dns-port' must be 1-65535.") }
    }

    /// The settings, or nil with `--no-l7`.
    var settings: ApplicationSettings? {
        guard self.enabled else { return nil }
        return ApplicationSettings(
            dnsPorts: self.dnsPorts.isEmpty ? [53] : self.dnsPorts,
            nameCache: DNSNameCache.Settings(minimumTTL: self.minimumTTL, maximumAddresses: self.cacheSize),
            httpDepth: Int(self.httpDepth.bytes))
    }
}

extension ProcessorConfiguration {
    /// This configuration with the application layer as `options` set it.
    func with(_ options: ApplicationOptions) -> ProcessorConfiguration {
        var configuration = self
        configuration.application = options.settings
        return configuration
    }
}
