import FlowCore

extension JSONBuffer {
    /// Appends an address as a quoted string in its canonical text (`IPAddress.writeText`:
    /// dotted quad, RFC 5952); an IPv4-mapped address met in an IPv6 header (`asIPv6`)
    /// prints as `::ffff:a.b.c.d` (RFC 5952 §5).
    public mutating func appendQuoted(_ address: IPAddress, asIPv6: Bool = false) {
        self.append(byte: UInt8(ascii: "\""))
        address.writeText(mappedAsIPv6: asIPv6) { self.append(byte: $0) }
        self.append(byte: UInt8(ascii: "\""))
    }

    /// Appends `"YYYY-MM-DDTHH:MM:SS.ffffff+0000"`: Suricata EVE's timestamp form (UTC,
    /// microseconds, offset without a colon).
    public mutating func appendQuotedTimestamp(_ time: CaptureTime) {
        self.append(byte: UInt8(ascii: "\""))
        self.appendDateTime(time)
        self.append(byte: UInt8(ascii: "."))
        self.append(padded: UInt64(time.subsecondNanoseconds / 1000), width: 6)
        self.append(raw: "+0000\"")
    }

    /// Appends `"YYYY-MM-DDTHH:MM:SS.fffffffffZ"`: RFC 3339 in UTC with nanoseconds, as
    /// protojson (and so Hubble) writes timestamps.
    public mutating func appendQuotedRFC3339(_ time: CaptureTime) {
        self.append(byte: UInt8(ascii: "\""))
        self.appendDateTime(time)
        self.append(byte: UInt8(ascii: "."))
        self.append(padded: UInt64(time.subsecondNanoseconds), width: 9)
        self.append(raw: "Z\"")
    }

    /// Appends `YYYY-MM-DDTHH:MM:SS` (UTC). Civil date from days since the epoch by Howard
    /// Hinnant's `civil_from_days` algorithm; no Foundation, no allocation.
    mutating func appendDateTime(_ time: CaptureTime) {
        let seconds = time.seconds
        var days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = UInt64(seconds - days * 86_400)
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

        if year < 0 {
            self.append(byte: UInt8(ascii: "-"))
            self.append(padded: UInt64(-year), width: 4)
        } else {
            self.append(padded: UInt64(year), width: 4)
        }
        self.append(byte: UInt8(ascii: "-"))
        self.append(padded: UInt64(month), width: 2)
        self.append(byte: UInt8(ascii: "-"))
        self.append(padded: UInt64(day), width: 2)
        self.append(byte: UInt8(ascii: "T"))
        self.append(padded: secondOfDay / 3600, width: 2)
        self.append(byte: UInt8(ascii: ":"))
        self.append(padded: secondOfDay / 60 % 60, width: 2)
        self.append(byte: UInt8(ascii: ":"))
        self.append(padded: secondOfDay % 60, width: 2)
    }
}
