/// The fuzz targets of `flowmon-fuzz` (see `scripts/fuzz`). Each runs one input through the
/// same code as the CLI; the regression tests run the same harnesses without the fuzzer.
package enum FuzzTarget: String, CaseIterable, Sendable {
    case decoder
    case replay
    case loaders
    case http
    case dns
    case http1
    case tls

    /// A harness for this target, ready for any number of inputs. `repository` is the
    /// repository root: the replay and loaders targets read their fixed cluster files there.
    /// The harness returns true when the input got past the first checks (see each harness).
    package func harness(repository: String) throws -> (UnsafeRawBufferPointer) -> Bool {
        switch self {
        case .decoder: DecoderHarness().run
        case .replay: try ReplayHarness(repository: repository).run
        case .loaders: try LoadersHarness(repository: repository).run
        case .http: HTTPHarness().run
        case .dns: DNSHarness().run
        case .http1: HTTPStreamHarness().run
        case .tls: TLSHarness().run
        }
    }
}
