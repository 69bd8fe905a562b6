import ArgumentParser

/// A size on the command line: a whole number of MiB (`512`), or a whole number with a
/// binary unit, `K` (KiB), `M` (MiB) or `G` (GiB): `64K`, `512M`, `2G`.
struct ByteSize: ExpressibleByArgument {
    var bytes: Int64

    init?(argument: String) {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = Substring(argument.uppercased())
        var unit: Int64 = 1 << 20
        if let last = digits.last, let multiple = units[last] {
            unit = multiple
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int64(digits), value > 0
        else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: unit)
        guard !overflow else { return nil }
        self.bytes = bytes
    }
}
