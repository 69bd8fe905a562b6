import ArgumentParser

/// A size on the command line: a whole number of MiB (`512`), or a whole number with a
/// binary unit, `K` (KiB), `M` (MiB) or `G` (GiB): `64K`, `512M`, `2G`.
struct ByteSize: ExpressibleByArgument {
    var bytes: Int64

    init?(argument: String) {
        var digits = Substring(argument)
        var unit: Int64 = 1 << 20
        switch digits.last {
        case "K", "k": unit = 1 << 10
        case "M", "m": unit = 1 << 20
        case "G", "g": unit = 1 << 30
        default: break
        }
        if digits.last?.isLetter == true { digits = digits.dropLast() }
        guard digits.allSatisfy(\.isASCII), let value = Int64(digits), value > 0 else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: unit)
        guard !overflow else { return nil }
        self.bytes = bytes
    }
}
