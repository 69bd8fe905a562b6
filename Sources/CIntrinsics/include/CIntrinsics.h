#ifndef FLOWMON_CINTRINSICS_H
#define FLOWMON_CINTRINSICS_H

#include <stddef.h>
#include <stdint.h>

/// Asks the CPU to start loading the cache line holding `address` (for reading, kept in every
/// cache level) and returns at once; never faults, whatever the address. Swift has no spelling
/// of it: the flow table issues it for the packets a few places ahead of the one it accounts,
/// so their index slots and entries are in the cache when their turn comes.
static inline __attribute__((always_inline)) void flowmon_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/// 1 when this CPU has the SHA extensions `flowmon_sha1_blocks` uses (x86-64 SHA, SSE4.1, SSSE3).
int flowmon_sha1_accelerated(void);
/// SHA-1's compression of `blocks` 64-byte blocks at `data` into `state` (a, b, c, d, e), with
/// the SHA extensions; only when `flowmon_sha1_accelerated()` says so.
void flowmon_sha1_blocks(uint32_t state[5], const void *data, size_t blocks);

#endif
