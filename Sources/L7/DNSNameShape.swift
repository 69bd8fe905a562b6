#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The measures DNS tunnelling detection takes of a query name (presentation text, as
/// `DNSName.text` writes it: lowercase, no trailing dot): its length, and of the labels left of
/// its registered domain the longest one, that label's Shannon entropy and a hash of it.
///
/// Tunnels (iodine, dnscat2, DNSExfiltrator, Cobalt Strike's DNS beacon) encode data in those
/// labels, each query a new chunk: names near the 255-octet limit and labels near the 63-octet
/// limit (RFC 1035 §2.3.4) drawn from base32/base64/hex alphabets, whose per-character entropy is
/// higher than words'. The registered domain is approximated without the Public Suffix List: the
/// last two labels, or three when the last is a two-letter country code and the one before it
/// has at most three characters (`co.uk`, `com.au`). The longest label is what the detector
/// counts (`labelHash`): the search-path expansions of one name (`x.example.com.ns.svc.cluster.local`,
/// `x.example.com.svc.cluster.local`, ...) share it and count once.
public struct DNSNameShape: Sendable, Equatable {
    /// Characters in the name.
    public var length = 0
    /// The longest label left of the registered domain, in characters (0: none).
    public var longestLabel = 0
    /// The Shannon entropy of that label's characters, in thousandths of a bit per character.
    public var entropyMillibits = 0
    /// FNV-1a (64-bit) of that label, or of the whole name when it has none.
    public var labelHash: UInt64 = 0

    public init(_ name: String) {
        var name = name
        name.withUTF8 { self = DNSNameShape(utf8: UnsafeRawBufferPointer($0)) }
    }

    public init(utf8 bytes: UnsafeRawBufferPointer) {
        var count = bytes.count
        if count > 0 && bytes[count - 1] == UInt8(ascii: ".") { count -= 1 }
        self.length = count
        // Label boundaries from the right: the registered domain's start.
        var dots: (last: Int, second: Int, third: Int) = (-1, -1, -1)
        var index = count - 1
        while index >= 0 {
            if bytes[index] == UInt8(ascii: ".") {
                if dots.last < 0 { dots.last = index } else if dots.second < 0 { dots.second = index } else {
                    dots.third = index
                    break
                }
            }
            index -= 1
        }
        // `end`: where the labels left of the registered domain end (the dot before it), or -1.
        var end = dots.second
        if dots.last >= 0, dots.second >= 0, count - dots.last - 1 == 2, dots.last - dots.second - 1 <= 3 {
            end = dots.third
        }
        var best = (start: 0, length: 0)
        if end > 0 {
            var start = 0
            for position in 0...end where position == end || bytes[position] == UInt8(ascii: ".") {
                if position - start > best.length { best = (start, position - start) }
                start = position + 1
            }
        }
        self.longestLabel = best.length
        let label = best.length > 0 ? UnsafeRawBufferPointer(rebasing: bytes[best.start..<best.start + best.length])
            : UnsafeRawBufferPointer(rebasing: bytes[0..<count])
        self.labelHash = Self.hash(label)
        self.entropyMillibits = best.length > 0 ? Self.entropyMillibits(label) : 0
    }

    /// FNV-1a, 64-bit, of ASCII-lowercased bytes.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            let lower = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            hash = (hash ^ UInt64(lower)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// Shannon entropy H = -Σ p·log2 p over the bytes' frequencies, in millibits per byte.
    static func entropyMillibits(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard bytes.count > 1 else { return 0 }
        var counts = InlineArray<256, UInt16>(repeating: 0)
        for byte in bytes { counts[Int(byte)] &+= 1 }
        let total = Double(bytes.count)
        var entropy = 0.0
        for index in 0..<256 where counts[index] > 0 {
            let p = Double(counts[index]) / total
            entropy -= p * log2(p)
        }
        return Int((entropy * 1000).rounded())
    }
}
