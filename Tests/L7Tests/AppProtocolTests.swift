import L7
import Testing

@Suite struct AppProtocolTests {
    @Test func eveNamesAreSuricatas() {
        let names = AppProtocol.allCases.map { $0.eveName.map { "\($0)" } ?? "-" }
        #expect(names == ["-", "dns", "http", "tls", "failed"])
    }
}
