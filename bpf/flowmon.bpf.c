// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * flowmon's eBPF datapath (`flowmon capture --datapath ebpf`): TC programs attached at the
 * ingress and egress of each observed interface (tcx links, or a clsact qdisc's direct-action
 * filters on kernels without tcx). Each packet's metadata and first bytes go into a BPF ring
 * buffer, which user space reads in batches and decodes with the same decoder as a libpcap
 * capture (mode 1).
 *
 * Built by the package (Plugins/BPFObject) with `clang -O2 -g -target bpf` and embedded in the
 * flowmon binary. Reads packet data and `struct __sk_buff` only (no kernel structures, so no
 * BTF relocation): it loads on any kernel with BPF ring buffers (5.8 and later).
 *
 * The programs never change what happens to a packet: they return TC_ACT_UNSPEC (TCX_NEXT),
 * so the next filter or program runs as if they were not there.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../Sources/CBPF/flowmon_bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by user space before loading (bpf_map__initial_value on .rodata). */
const volatile struct flowmon_config flowmon_config = {.snaplen = 192};

/* The records (its size is set by user space: `--ebpf-ring-size`). */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 8 << 20);
} flowmon_ring SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, FLOWMON_COUNTERS);
    __type(key, __u32);
    __type(value, __u64);
} flowmon_counters SEC(".maps");

/* The interfaces the programs are attached to: their link type (user space keeps it current). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u32);
    __type(value, struct flowmon_interface);
} flowmon_interfaces SEC(".maps");

static __always_inline void count(__u32 counter, __u64 amount)
{
    __u64 *value = bpf_map_lookup_elem(&flowmon_counters, &counter);
    if (value)
        *value += amount;
}

/* The unread bytes at which the reader is woken: a batch, as libpcap's TPACKET_V3 blocks are. */
#define FLOWMON_WAKEUP_BYTES (32 << 10)

/*
 * How a record of SIZE bytes (its ring-buffer header included) is submitted: waking the reader
 * only when the unread bytes, this record's included, cross a multiple of the wake-up batch
 * (32 KiB, or a quarter of a smaller ring). By default the kernel wakes the reader for every
 * record submitted while it has read everything, which for a reader that keeps up is nearly
 * every packet: an irq_work and an inter-processor interrupt (on a virtual machine, an exit to
 * the hypervisor) in the sending context, and a batch of a few packets per wake-up. A reader
 * that is behind is not asleep; a crossing missed by two CPUs at once is caught at the next
 * multiple; the records of a quiet interface are read when the reader's wait times out
 * (KernelCapture.poll).
 */
static __always_inline __u64 wakeup(__u64 size)
{
    __u64 batch = bpf_ringbuf_query(&flowmon_ring, BPF_RB_RING_SIZE) >> 2;
    if (batch > FLOWMON_WAKEUP_BYTES)
        batch = FLOWMON_WAKEUP_BYTES;
    __u64 unread = bpf_ringbuf_query(&flowmon_ring, BPF_RB_AVAIL_DATA);
    __u64 before = unread > size ? unread - size : 0;
    return (before & ~(batch - 1)) != (unread & ~(batch - 1)) ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/*
 * Reserves a record with room for SIZE bytes of packet (SIZE a power of two), fills it and
 * submits it. Records come in a few fixed sizes (bpf_ringbuf_reserve takes a constant) so that
 * a small packet does not take a whole snaplen of ring space. `captured` is 1 ... SIZE here; the
 * masks say so to the verifier, which cannot follow the comparisons that proved it.
 *
 * With a VLAN tag held out of band (skb->vlan_present), the tag is written back after the MAC
 * addresses, as libpcap does, so the bytes are the frame as it was on the wire (16 bytes of
 * room are reserved beyond SIZE for it).
 */
#define FLOWMON_SUBMIT(SIZE)                                                                      \
    do {                                                                                          \
        struct flowmon_packet_record *record =                                                    \
            bpf_ringbuf_reserve(&flowmon_ring, sizeof(*record) + (SIZE) + 16, 0);                 \
        if (!record) {                                                                            \
            count(FLOWMON_COUNTER_RING_LOST, 1);                                                  \
            return TC_ACT_UNSPEC;                                                                 \
        }                                                                                         \
        __u8 *bytes = (__u8 *)(record + 1);                                                       \
        __u32 copied = 0;                                                                         \
        if (tagged && captured > 16) {                                                            \
            __u32 rest = ((captured - 17) & ((SIZE) - 1)) + 1;                                    \
            if (bpf_skb_load_bytes(skb, 0, bytes, 12) == 0 &&                                     \
                bpf_skb_load_bytes(skb, 12, bytes + 16, rest) == 0) {                             \
                __u16 tpid = skb->vlan_proto;                                                     \
                __u16 tci = bpf_htons((__u16)skb->vlan_tci);                                      \
                __builtin_memcpy(bytes + 12, &tpid, 2);                                           \
                __builtin_memcpy(bytes + 14, &tci, 2);                                            \
                copied = rest + 16;                                                               \
            }                                                                                     \
        } else if (!tagged) {                                                                     \
            __u32 length = ((captured - 1) & ((SIZE) - 1)) + 1;                                   \
            if (bpf_skb_load_bytes(skb, 0, bytes, length) == 0)                                   \
                copied = length;                                                                  \
        }                                                                                         \
        record->time_ns = bpf_ktime_get_ns();                                                     \
        record->ifindex = skb->ifindex;                                                           \
        record->wire_length = wire_length;                                                        \
        record->captured = (__u16)copied;                                                         \
        record->kind = FLOWMON_RECORD_PACKET;                                                     \
        record->direction = direction;                                                            \
        record->link_type = link_type;                                                            \
        record->reserved = 0;                                                                     \
        bpf_ringbuf_submit(record, wakeup(sizeof(*record) + (SIZE) + 16 + 8));                   \
        return TC_ACT_UNSPEC;                                                                     \
    } while (0)

static __always_inline int observe(struct __sk_buff *skb, __u8 direction)
{
    __u32 ifindex = skb->ifindex;
    __u16 link_type = 1;
    struct flowmon_interface *interface = bpf_map_lookup_elem(&flowmon_interfaces, &ifindex);
    if (interface)
        link_type = interface->link_type;

    int tagged = link_type == 1 && skb->vlan_present;
    __u32 wire_length = skb->len + (tagged ? 4 : 0);
    count(FLOWMON_COUNTER_PACKETS, 1);
    count(FLOWMON_COUNTER_BYTES, wire_length);

    __u32 captured = wire_length;
    if (captured > flowmon_config.snaplen)
        captured = flowmon_config.snaplen;
    if (captured <= 64)
        FLOWMON_SUBMIT(64);
    if (captured <= 128)
        FLOWMON_SUBMIT(128);
    if (captured <= 256)
        FLOWMON_SUBMIT(256);
    FLOWMON_SUBMIT(FLOWMON_MAX_SNAPLEN);
}

SEC("tc")
int flowmon_ingress(struct __sk_buff *skb)
{
    return observe(skb, FLOWMON_INGRESS);
}

SEC("tc")
int flowmon_egress(struct __sk_buff *skb)
{
    return observe(skb, FLOWMON_EGRESS);
}
