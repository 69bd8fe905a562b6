#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress display for long replays, redrawn in place on standard error:
///
///     [##########··········]  48%  774 MB / 1.6 GB  1.31 Mpps  ETA 0:01
///
/// Shown only when standard error is a terminal and standard output is not (`ProgressBar.wanted`:
/// when both are the terminal, the records themselves show progress, and a bar redrawn between
/// them would garble them), and redrawn at most
/// five times a second; `finish()` clears the line so the output that follows starts clean.
/// The replay calls `update` between batches of records; reading the clock there is the
/// only clock read, and it never reaches the flow table.
package final class ProgressBar {
    let total: Int64?
    let width = 20
    var started: Int64 = 0
    var lastDrawn: Int64 = 0
    var drawn = false

    /// True when standard error is a terminal and standard output is not.
    package static func wanted(writingToFile: Bool) -> Bool { isatty(2) == 1 && (writingToFile || isatty(1) == 0) }

    /// `total` is the file's size in bytes (nil for a pipe: then no bar, percentage or ETA).
    package init(total: Int64?) {
        self.total = total.flatMap { $0 > 0 ? $0 : nil }
        self.started = Self.now()
    }

    /// Redraws if 200 ms have passed since the last drawing.
    package func update(bytes: Int64, packets: UInt64) {
        let now = Self.now()
        guard now - self.lastDrawn >= 200_000_000 else { return }
        self.lastDrawn = now
        let line = Self.render(bytes: bytes, total: self.total, packets: packets, elapsedNanoseconds: now - self.started,
                               width: self.width)
        Self.write("\r" + line + "\u{1b}[K")
        self.drawn = true
    }

    /// Clears the line (if anything was drawn).
    package func finish() {
        if self.drawn { Self.write("\r\u{1b}[K") }
        self.drawn = false
    }

    /// The text of one drawing (no cursor movement), for the tests.
    package static func render(bytes: Int64, total: Int64?, packets: UInt64, elapsedNanoseconds: Int64, width: Int) -> String {
        let seconds = Double(max(elapsedNanoseconds, 1)) / 1e9
        let rate = "\(Self.decimal(Double(packets) / seconds / 1e6, places: 2)) Mpps"
        guard let total else { return "\(Self.size(bytes))  \(rate)" }
        let fraction = min(max(Double(bytes) / Double(total), 0), 1)
        let filled = Int(fraction * Double(width))
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: "·", count: width - filled) + "]"
        let percent = String(Int(fraction * 100))
        var line = "\(bar) \(String(repeating: " ", count: 3 - percent.count))\(percent)%  \(Self.size(bytes)) / \(Self.size(total))  \(rate)"
        if fraction > 0.01 {
            let remaining = Int(seconds * (1 - fraction) / fraction)
            line += "  ETA \(remaining / 60):\(remaining % 60 < 10 ? "0" : "")\(remaining % 60)"
        }
        return line
    }

    /// 774 MB, 1.6 GB, 12 kB (decimal units, as `ls -h --si` and tcpdump's sizes).
    static func size(_ bytes: Int64) -> String {
        let value = Double(bytes)
        if value >= 1e9 { return "\(Self.decimal(value / 1e9, places: 1)) GB" }
        if value >= 1e6 { return "\(Int(value / 1e6)) MB" }
        if value >= 1e3 { return "\(Int(value / 1e3)) kB" }
        return "\(bytes) B"
    }

    static func decimal(_ value: Double, places: Int) -> String {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = Int((value * scale).rounded())
        let whole = scaled / Int(scale), fraction = String(scaled % Int(scale))
        return "\(whole)." + String(repeating: "0", count: places - fraction.count) + fraction
    }

    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in _ = Glibc.write(2, bytes.baseAddress, bytes.count) }
    }
}
