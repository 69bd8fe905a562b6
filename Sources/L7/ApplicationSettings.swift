/// How flowmon reads application payload (`--no-l7`, `--dns-port`, `--fqdn-min-ttl`,
/// `--fqdn-cache-size`, `--http-depth`).
public struct ApplicationSettings: Sendable, Equatable {
    /// The ports whose TCP and UDP payload is DNS; the ports of the policies' `rules.dns` are added.
    public var dnsPorts: [UInt16]
    /// The name cache's bounds and Cilium's minimum TTL.
    public var nameCache: DNSNameCache.Settings
    /// Bytes of each direction of an HTTP connection parsed at most (Suricata's
    /// `stream.reassembly.depth`, 1 MiB by default); the rest is counted, not read.
    public var httpDepth: Int

    public init(dnsPorts: [UInt16] = [53], nameCache: DNSNameCache.Settings = DNSNameCache.Settings(),
                httpDepth: Int = 1 << 20) {
        self.dnsPorts = dnsPorts
        self.nameCache = nameCache
        self.httpDepth = httpDepth
    }
}
