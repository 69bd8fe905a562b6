internal import CIntrinsics

/// SHA-1 (FIPS 180-4 §6.1) over bytes in memory, with no allocation: the message schedule
/// (16 words, reused in a ring, §6.1.3) and the padded last blocks are tuples on the stack.
/// Community ID v1 (`CommunityID`) is its only user; SHA-1 is broken for collision resistance,
/// which a flow identifier does not need.
/// Where the CPU has them (x86-64's SHA extensions), blocks are compressed by its SHA-1
/// instructions (`flowmon_sha1_blocks`): a flow record's Community ID then costs a fraction of
/// the portable compression below, which every other CPU runs.
enum SHA1 {
    typealias State = (UInt32, UInt32, UInt32, UInt32, UInt32)

    /// Whether this CPU compresses with its SHA instructions.
    static let accelerated = flowmon_sha1_accelerated() != 0

    /// Writes the 20-byte digest of `message` to the first 20 bytes of `digest` (big-endian words).
    /// `accelerated`: false compresses in Swift whatever the CPU (tests compare the two).
    static func hash(_ message: UnsafeRawBufferPointer, into digest: UnsafeMutableRawBufferPointer,
                     accelerated: Bool = SHA1.accelerated) {
        precondition(digest.count >= 20)
        var state: State = (0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0)
        let whole = message.count / 64
        for block in 0..<whole {
            compress(message.baseAddress! + block * 64, &state, accelerated: accelerated)
        }
        // The rest, 0x80, zeros, and the length in bits as 64 bits big-endian (§5.1.1): one
        // block if the rest leaves room for 9 bytes, else two.
        var tail: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                   UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let rest = message.count - whole * 64
        let tailBlocks = rest + 9 <= 64 ? 1 : 2
        withUnsafeMutableBytes(of: &tail) { tail in
            if rest > 0 { tail.baseAddress!.copyMemory(from: message.baseAddress! + whole * 64, byteCount: rest) }
            tail[rest] = 0x80
            tail.storeBytes(of: (UInt64(message.count) &* 8).bigEndian, toByteOffset: tailBlocks * 64 - 8, as: UInt64.self)
            for block in 0..<tailBlocks {
                compress(UnsafeRawPointer(tail.baseAddress! + block * 64), &state, accelerated: accelerated)
            }
        }
        digest.storeBytes(of: state.0.bigEndian, toByteOffset: 0, as: UInt32.self)
        digest.storeBytes(of: state.1.bigEndian, toByteOffset: 4, as: UInt32.self)
        digest.storeBytes(of: state.2.bigEndian, toByteOffset: 8, as: UInt32.self)
        digest.storeBytes(of: state.3.bigEndian, toByteOffset: 12, as: UInt32.self)
        digest.storeBytes(of: state.4.bigEndian, toByteOffset: 16, as: UInt32.self)
    }

    /// One 64-byte block into `state`: with the CPU's SHA instructions, or in Swift.
    private static func compress(_ block: UnsafeRawPointer, _ state: inout State, accelerated: Bool) {
        if accelerated {
            withUnsafeMutableBytes(of: &state) { words in
                flowmon_sha1_blocks(words.baseAddress!.assumingMemoryBound(to: UInt32.self), block, 1)
            }
        } else {
            compressPortably(block, &state)
        }
    }

    /// One 64-byte block into `state` (§6.1.2 steps 1-4, the schedule as a 16-word ring).
    private static func compressPortably(_ block: UnsafeRawPointer, _ state: inout State) {
        var schedule: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                       UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var (a, b, c, d, e) = state
        withUnsafeMutableBytes(of: &schedule) { raw in
            let w = raw.baseAddress!.assumingMemoryBound(to: UInt32.self)
            for t in 0..<16 {
                w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: t * 4, as: UInt32.self))
            }
            for t in 0..<80 {
                if t >= 16 {
                    let x = w[(t - 3) & 15] ^ w[(t - 8) & 15] ^ w[(t - 14) & 15] ^ w[t & 15]
                    w[t & 15] = x << 1 | x >> 31
                }
                let f: UInt32
                let k: UInt32
                if t < 20 {
                    f = (b & c) | (~b & d); k = 0x5a82_7999
                } else if t < 40 {
                    f = b ^ c ^ d; k = 0x6ed9_eba1
                } else if t < 60 {
                    f = (b & c) | (b & d) | (c & d); k = 0x8f1b_bcdc
                } else {
                    f = b ^ c ^ d; k = 0xca62_c1d6
                }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[t & 15]
                e = d
                d = c
                c = b << 30 | b >> 2
                b = a
                a = temp
            }
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e)
    }
}
