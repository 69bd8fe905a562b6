#ifndef FLOWMON_CPREFETCH_H
#define FLOWMON_CPREFETCH_H

/// Asks the CPU to start loading the cache line holding `address` (for reading, kept in every
/// cache level) and returns at once; never faults, whatever the address. Swift has no spelling
/// of it: the flow table issues it for the packets a few places ahead of the one it accounts,
/// so their index slots and entries are in the cache when their turn comes.
static inline __attribute__((always_inline)) void flowmon_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
