#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// MD5 (RFC 1321), for JA3 fingerprints only: a name for a ClientHello, not a security measure.
/// Reads the message in place and keeps its state in registers: no allocation.
enum MD5 {
    /// T[i] = floor(2^32 × |sin(i + 1)|) (RFC 1321 §3.4).
    static let sines: [UInt32] = (0..<64).map { UInt32(4_294_967_296 * abs(sin(Double($0 + 1)))) }
    /// The left rotations of the four rounds.
    static let shifts: [UInt32] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]

    typealias State = (UInt32, UInt32, UInt32, UInt32)

    /// The digest of `message`: the four state words, whose bytes in little-endian order are
    /// the 16 bytes of the digest.
    static func digest(_ message: UnsafeRawBufferPointer) -> State {
        var state: State = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476)
        Self.sines.withUnsafeBufferPointer { sines in
            Self.shifts.withUnsafeBufferPointer { shifts in
                let whole = message.count / 64 * 64
                var block = 0
                while block < whole {
                    Self.compress(UnsafeRawBufferPointer(rebasing: message[block..<(block + 64)]), &state, sines, shifts)
                    block += 64
                }
                // Padding (§3.1-§3.2): a 1 bit, zeros to 56 mod 64 bytes, the length in bits,
                // little-endian; one or two blocks.
                withUnsafeTemporaryAllocation(byteCount: 128, alignment: 8) { tail in
                    tail.initializeMemory(as: UInt8.self, repeating: 0)
                    let rest = message.count - whole
                    for index in 0..<rest { tail[index] = message[whole + index] }
                    tail[rest] = 0x80
                    let length = rest < 56 ? 64 : 128
                    let bits = UInt64(message.count) &* 8
                    for index in 0..<8 { tail[length - 8 + index] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(index))) }
                    Self.compress(UnsafeRawBufferPointer(rebasing: tail[0..<64]), &state, sines, shifts)
                    if length == 128 {
                        Self.compress(UnsafeRawBufferPointer(rebasing: tail[64..<128]), &state, sines, shifts)
                    }
                }
            }
        }
        return state
    }

    /// One 64-byte block (§3.4).
    static func compress(_ block: UnsafeRawBufferPointer, _ state: inout State, _ sines: UnsafeBufferPointer<UInt32>,
                         _ shifts: UnsafeBufferPointer<UInt32>) {
        func word(_ index: Int) -> UInt32 {
            UInt32(block[4 * index]) | UInt32(block[4 * index + 1]) << 8 | UInt32(block[4 * index + 2]) << 16
                | UInt32(block[4 * index + 3]) << 24
        }
        var (a, b, c, d) = state
        for step in 0..<64 {
            let (mixed, index): (UInt32, Int) = switch step / 16 {
            case 0: ((b & c) | (~b & d), step)
            case 1: ((d & b) | (~d & c), (5 * step + 1) % 16)
            case 2: (b ^ c ^ d, (3 * step + 5) % 16)
            default: (c ^ (b | ~d), (7 * step) % 16)
            }
            let sum = a &+ mixed &+ sines[step] &+ word(index)
            let shift = shifts[step / 16 * 4 + step % 4]
            (a, d, c) = (d, c, b)
            b = b &+ (sum << shift | sum >> (32 - shift))
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d)
    }

    /// Calls `body` with the digest of `message` in lowercase hexadecimal (32 bytes).
    static func withHex<Result>(_ message: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        let state = Self.digest(message)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { hex in
            let digits: StaticString = "0123456789abcdef"
            for index in 0..<4 {
                let word = index == 0 ? state.0 : index == 1 ? state.1 : index == 2 ? state.2 : state.3
                for byte in 0..<4 {
                    let value = Int(truncatingIfNeeded: word >> (8 * UInt32(byte))) & 0xFF
                    hex[8 * index + 2 * byte] = digits.utf8Start[value >> 4]
                    hex[8 * index + 2 * byte + 1] = digits.utf8Start[value & 15]
                }
            }
            return body(UnsafeRawBufferPointer(hex))
        }
    }

    /// The digest of `message` in lowercase hexadecimal.
    static func hex(_ message: [UInt8]) -> String {
        message.withUnsafeBytes { bytes in Self.withHex(bytes) { String(decoding: $0, as: UTF8.self) } }
    }
}
