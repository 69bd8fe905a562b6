#ifndef FLOWMON_CBPF_SHIM_H
#define FLOWMON_CBPF_SHIM_H
/* libbpf (object loading, maps, TC attachment, the ring buffer) and the records flowmon's BPF
 * programs share with user space. Only the KernelCapture module imports this. */
/* linux/bpf.h and libpcap's pcap/bpf.h both define `struct bpf_insn` (different ones); flowmon
 * imports both modules, so the kernel's is renamed here. */
#define bpf_insn flowmon_kernel_bpf_insn
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_link.h>
#undef bpf_insn
#include <sys/eventfd.h>
#include <sys/mman.h>

/* The ring buffer's positions are shared with the kernel: read with acquire, written with release
 * ordering (as the kernel's BPF ring buffer and libbpf's consumer do). */
static inline unsigned long flowmon_load_acquire(const unsigned long *position) {
    return __atomic_load_n(position, __ATOMIC_ACQUIRE);
}
static inline unsigned int flowmon_load_acquire_u32(const unsigned int *word) {
    return __atomic_load_n(word, __ATOMIC_ACQUIRE);
}
static inline void flowmon_store_release(unsigned long *position, unsigned long value) {
    __atomic_store_n(position, value, __ATOMIC_RELEASE);
}
#include "flowmon_bpf.h"
#endif
