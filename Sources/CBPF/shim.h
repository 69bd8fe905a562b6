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
#include "flowmon_bpf.h"
#endif
