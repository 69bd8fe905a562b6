/// SHA-1 (FIPS 180-4 §6.1) over bytes in memory, with no allocation: the message schedule
/// and the last padded blocks live on the stack. Community ID v1 (`CommunityID`) is its only
/// user; SHA-1 is broken for collision resistance, which a flow identifier does not need.
enum SHA1 {
    /// The 20-byte digest of `message`, in `digest`'s 20 bytes (big-endian words, FIPS 180-4 §6.1.2).
    static func hash(_ message: UnsafeRawBufferPointer, into digest: UnsafeMutableRawBufferPointer) {
        precondition(digest.count >= 20)
        var state: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0)
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { schedule in
            withUnsafeTemporaryAllocation(byteCount: 128, alignment: 8) { tail in
                let whole = message.count / 64
                for block in 0..<whole {
                    compress(UnsafeRawBufferPointer(rebasing: message[(block * 64)..<(block * 64 + 64)]), &state, schedule)
                }
                // The rest, 0x80, zeros, and the length in bits as 64 bits big-endian (§5.1.1):
                // one block if the rest leaves room for 9 bytes, else two.
                let rest = message.count - whole * 64
                let tailBlocks = rest + 9 <= 64 ? 1 : 2
                tail.initializeMemory(as: UInt8.self, repeating: 0)
                if rest > 0 {
                    tail.baseAddress!.copyMemory(from: message.baseAddress! + whole * 64, byteCount: rest)
                }
                tail[rest] = 0x80
                let bits = UInt64(message.count) &* 8
                for index in 0..<8 {
                    tail[tailBlocks * 64 - 1 - index] = UInt8(truncatingIfNeeded: bits >> (8 * index))
                }
                for block in 0..<tailBlocks {
                    compress(UnsafeRawBufferPointer(rebasing: tail[(block * 64)..<(block * 64 + 64)]), &state, schedule)
                }
            }
        }
        digest.storeBytes(of: state.0.bigEndian, toByteOffset: 0, as: UInt32.self)
        digest.storeBytes(of: state.1.bigEndian, toByteOffset: 4, as: UInt32.self)
        digest.storeBytes(of: state.2.bigEndian, toByteOffset: 8, as: UInt32.self)
        digest.storeBytes(of: state.3.bigEndian, toByteOffset: 12, as: UInt32.self)
        digest.storeBytes(of: state.4.bigEndian, toByteOffset: 16, as: UInt32.self)
    }

    /// One 64-byte block into `state` (§6.1.2 steps 1-4).
    @inline(__always)
    private static func compress(_ block: UnsafeRawBufferPointer, _ state: inout (UInt32, UInt32, UInt32, UInt32, UInt32),
                                 _ w: UnsafeMutableBufferPointer<UInt32>) {
        for t in 0..<16 {
            w[t] = UInt32(block[t * 4]) << 24 | UInt32(block[t * 4 + 1]) << 16 | UInt32(block[t * 4 + 2]) << 8
                | UInt32(block[t * 4 + 3])
        }
        for t in 16..<80 {
            let x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
            w[t] = x << 1 | x >> 31
        }
        var (a, b, c, d, e) = state
        for t in 0..<80 {
            let f: UInt32
            let k: UInt32
            switch t {
            case 0..<20: f = (b & c) | (~b & d); k = 0x5a82_7999
            case 20..<40: f = b ^ c ^ d; k = 0x6ed9_eba1
            case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8f1b_bcdc
            default: f = b ^ c ^ d; k = 0xca62_c1d6
            }
            let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[t]
            e = d
            d = c
            c = b << 30 | b >> 2
            b = a
            a = temp
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e)
    }
}
