/*
 * The records flowmon's TC programs (bpf/flowmon.bpf.c) write into their BPF ring buffer and
 * the maps they share with user space (Sources/KernelCapture). One definition for both sides:
 * the BPF program includes this file, and Swift imports it through the CBPF module.
 */
#ifndef FLOWMON_BPF_H
#define FLOWMON_BPF_H

#include <linux/types.h>

/* The most bytes of a packet a record carries (`--snaplen` with `--datapath ebpf`). */
#define FLOWMON_MAX_SNAPLEN 512

/* What a ring-buffer record is. */
enum flowmon_record_kind {
    /* A packet's metadata and its first bytes: `struct flowmon_packet_record`, then `captured` bytes. */
    FLOWMON_RECORD_PACKET = 1,
};

/* Which way the packet crossed the interface: received by it (TC ingress) or sent (TC egress). */
enum flowmon_direction {
    FLOWMON_INGRESS = 0,
    FLOWMON_EGRESS = 1,
};

/* A packet's record header (24 bytes); the packet's first `captured` bytes follow it. */
struct flowmon_packet_record {
    /* bpf_ktime_get_ns(): CLOCK_MONOTONIC, in nanoseconds. */
    __u64 time_ns;
    /* The interface the program is attached to (skb->ifindex). */
    __u32 ifindex;
    /* The frame's length as the interface carries it (skb->len, plus 4 when the VLAN tag the
     * kernel holds out of band is written back into the bytes, as libpcap does). */
    __u32 wire_length;
    /* Bytes of the packet that follow: min(wire_length, snaplen). */
    __u16 captured;
    __u8 kind;      /* enum flowmon_record_kind */
    __u8 direction; /* enum flowmon_direction */
    /* LINKTYPE_ value of the bytes: 1 Ethernet, 101 raw IP (a device without a link header). */
    __u16 link_type;
    __u16 reserved;
};

/* What user space tells the program about an interface it is attached to (flowmon_interfaces). */
struct flowmon_interface {
    __u16 link_type; /* LINKTYPE_ value, as in the record */
    __u8 role;       /* ObservationPoints.Role: 1 pod-facing, 2 other, 3 loopback */
    __u8 reserved;
};

/* Per-CPU counters (flowmon_counters), summed by user space. */
enum flowmon_counter {
    /* Packets the programs saw, and their bytes (wire_length). */
    FLOWMON_COUNTER_PACKETS = 0,
    FLOWMON_COUNTER_BYTES = 1,
    /* Packets lost because the ring buffer had no room for their record (bpf_ringbuf_reserve failed). */
    FLOWMON_COUNTER_RING_LOST = 2,
    FLOWMON_COUNTERS = 8,
};

/* Set by user space before the program is loaded (the object's .rodata). */
struct flowmon_config {
    /* Bytes of each packet copied into its record, 1 ... FLOWMON_MAX_SNAPLEN. */
    __u32 snaplen;
    __u32 reserved;
};

#endif
