// SHA-1 block compression (FIPS 180-4 §6.1.2) with the x86 SHA extensions, for the Community ID
// of every flow record (Output's `SHA1`, which keeps its portable Swift compression for other CPUs).
#include "CIntrinsics.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

int flowmon_sha1_accelerated(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const int ssse3 = (ecx >> 9) & 1, sse41 = (ecx >> 19) & 1;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const int sha = (ebx >> 29) & 1;
    return ssse3 && sse41 && sha;
}

// Four rounds; SHA1RNDS4 takes the round function as an immediate (0: rounds 0-19, 1: 20-39, ...).
#define FOUR_ROUNDS(group, abcd, e) \
    ((group) < 5 ? _mm_sha1rnds4_epu32(abcd, e, 0) : (group) < 10 ? _mm_sha1rnds4_epu32(abcd, e, 1) \
     : (group) < 15 ? _mm_sha1rnds4_epu32(abcd, e, 2) : _mm_sha1rnds4_epu32(abcd, e, 3))

__attribute__((target("sha,sse4.1,ssse3")))
void flowmon_sha1_blocks(uint32_t state[5], const void *data, size_t blocks) {
    // The message words big-endian, W[0] in the highest lane, as the instructions take them.
    const __m128i byteOrder = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0x1b);
    __m128i e0 = _mm_set_epi32((int)state[4], 0, 0, 0);
    const unsigned char *block = (const unsigned char *)data;
    for (size_t n = 0; n < blocks; n++, block += 64) {
        const __m128i abcdBefore = abcd, eBefore = e0;
        __m128i w[4];
        for (int i = 0; i < 4; i++) w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * i)), byteOrder);
        // Each group of four rounds takes W[4g..4g+3], the first plus e; e of the next group is
        // the a of four rounds before, rotated (SHA1NEXTE). W[4g..] for g >= 4 from the four
        // groups before (§6.1.2 step 1, four words at a time: SHA1MSG1, xor, SHA1MSG2).
        __m128i previous = abcd;
        abcd = FOUR_ROUNDS(0, abcd, _mm_add_epi32(e0, w[0]));
        for (int group = 1; group < 20; group++) {
            __m128i words;
            if (group < 4) {
                words = w[group];
            } else {
                words = _mm_sha1msg2_epu32(
                    _mm_xor_si128(_mm_sha1msg1_epu32(w[group & 3], w[(group + 1) & 3]), w[(group + 2) & 3]),
                    w[(group + 3) & 3]);
                w[group & 3] = words;
            }
            const __m128i e = _mm_sha1nexte_epu32(previous, words);
            previous = abcd;
            abcd = FOUR_ROUNDS(group, abcd, e);
        }
        e0 = _mm_sha1nexte_epu32(previous, eBefore);
        abcd = _mm_add_epi32(abcd, abcdBefore);
    }
    _mm_storeu_si128((__m128i *)state, _mm_shuffle_epi32(abcd, 0x1b));
    state[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}
#else
int flowmon_sha1_accelerated(void) { return 0; }
void flowmon_sha1_blocks(uint32_t state[5], const void *data, size_t blocks) {
    (void)state; (void)data; (void)blocks;
}
#endif
