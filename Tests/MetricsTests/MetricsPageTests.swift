import Metrics
import Testing

/// The exposition text (Prometheus text format 0.0.4): HELP/TYPE lines, label escaping, names.
@Suite struct MetricsPageTests {
    @Test func familiesHaveHelpAndTypeLinesBeforeTheirSamples() {
        var page = MetricsPage()
        page.family("flowmon_packets_total", .counter, help: "Packets read")
        page.sample("flowmon_packets_total", [("interface", "eth0")], 42)
        page.family("flowmon_active_flows", .gauge, help: "Open")
        page.sample("flowmon_active_flows", [], 3)
        #expect(page.text == """
            # HELP flowmon_packets_total Packets read
            # TYPE flowmon_packets_total counter
            flowmon_packets_total{interface="eth0"} 42
            # HELP flowmon_active_flows Open
            # TYPE flowmon_active_flows gauge
            flowmon_active_flows 3

            """)
    }

    @Test func labelValuesEscapeBackslashQuoteAndLineFeed() {
        #expect(MetricsPage.escapeLabelValue(#"a\b"c"#) == #"a\\b\"c"#)
        #expect(MetricsPage.escapeLabelValue("line\nbreak") == #"line\nbreak"#)
        #expect(MetricsPage.escapeLabelValue("tab\tand ünïcode") == "tab\tand ünïcode")
        var page = MetricsPage()
        page.family("x_total", .counter, help: "back\\slash\nnewline")
        page.sample("x_total", [("interface", "we\"ird\\\n")], 1)
        #expect(page.text.contains(#"# HELP x_total back\\slash\nnewline"#))
        #expect(page.text.contains(#"x_total{interface="we\"ird\\\n"} 1"#))
    }

    @Test func namesFollowTheDataModel() {
        #expect(MetricsPage.isValidName("hubble_flows_processed_total"))
        #expect(MetricsPage.isValidName("a:b"))
        #expect(!MetricsPage.isValidName("9lives"))
        #expect(!MetricsPage.isValidName("has-dash"))
        #expect(!MetricsPage.isValidName(""))
        #expect(MetricsPage.isValidLabelName("source"))
        #expect(!MetricsPage.isValidLabelName("__name__"))
        #expect(!MetricsPage.isValidLabelName("a:b"))
    }
}
