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

/*
 * An interface the programs are attached to (flowmon_interfaces, per CPU; user space makes its
 * entry when it attaches): what user space tells the programs about it, the same on every CPU,
 * and in mode 2 what they counted there without sending it up, this CPU's share. One map, so
 * one lookup per packet.
 */
struct flowmon_interface {
    __u16 link_type; /* LINKTYPE_ value, as in the record */
    __u8 role;       /* ObservationPoints.Role: 1 pod-facing, 2 other, 3 loopback */
    __u8 reserved[5];
    /* Mode 2: aggregated, and skipped by the observation rule (stats.capture.interfaces). */
    __u64 aggregated_packets;
    __u64 aggregated_bytes;
    __u64 seen_elsewhere_packets;
    __u64 seen_elsewhere_bytes;
    /* Mode 2, this CPU: the source address last learned here as a local pod (as on the wire)
     * and when (bpf_ktime_get_ns): see learn_local_pod in bpf/flowmon.bpf.c. */
    __u64 learned_address[2];
    __u64 learned_ns;
};

/* Per-CPU counters (flowmon_counters), summed by user space. */
enum flowmon_counter {
    /* Packets the programs saw, and their bytes (wire_length). */
    FLOWMON_COUNTER_PACKETS = 0,
    FLOWMON_COUNTER_BYTES = 1,
    /* Packets lost because the ring buffer had no room for their record (bpf_ringbuf_reserve failed). */
    FLOWMON_COUNTER_RING_LOST = 2,
    /* Mode 2 (FLOWMON_MODE_FLOWS): packets counted in the flow map instead of sent as records,
     * and their bytes (wire_length). */
    FLOWMON_COUNTER_AGGREGATED_PACKETS = 3,
    FLOWMON_COUNTER_AGGREGATED_BYTES = 4,
    /* Mode 2: packets the program did not count because they are counted at another interface
     * (the observation rule, see observation_admits in bpf/flowmon.bpf.c), and their bytes. */
    FLOWMON_COUNTER_SEEN_ELSEWHERE = 5,
    FLOWMON_COUNTER_SEEN_ELSEWHERE_BYTES = 6,
    FLOWMON_COUNTERS = 8,
};

/* What the programs do with a packet (`flowmon capture --ebpf-mode`). */
enum flowmon_mode {
    /* Mode 1: every packet goes up as a record. */
    FLOWMON_MODE_PACKETS = 0,
    /* Mode 2: the programs parse the packet and count it in flowmon_flows; only a connection's
     * first packets, its TCP state changes and what they cannot classify go up as records. */
    FLOWMON_MODE_FLOWS = 1,
};

/* Set by user space before the program is loaded (the object's .rodata). */
struct flowmon_config {
    /* Bytes of each packet copied into its record, 1 ... FLOWMON_MAX_SNAPLEN. */
    __u32 snaplen;
    /* enum flowmon_mode: a constant to the verifier, which prunes the other mode's code. */
    __u32 mode;
};

/*
 * Mode 2's flow map (flowmon_flows): a hash keyed by the connection's symmetric key,
 * built as flowmon's user space builds its FlowKey (Sources/Datapath/FlowKey.swift,
 * PacketObservation.swift): the two endpoints ordered low, high (address, then port), IPv4
 * addresses IPv4-mapped (::ffff:a.b.c.d), the addresses' bytes in network order. Ports are TCP,
 * UDP and SCTP ports; for ICMP and ICMPv6 echo requests and replies both hold the identifier.
 */
struct flowmon_flow_key {
    __u64 low_address[2];  /* the address's 16 bytes as they are on the wire */
    __u64 high_address[2];
    __u16 low_port;        /* host order */
    __u16 high_port;
    __u8 protocol;         /* IPPROTO_ */
    __u8 reserved[3];
};

/*
 * A connection in flowmon_flows, one value shared by the CPUs. Index 0 is the way from the key's
 * low endpoint to its high one, 1 the way back. `packets` and `bytes` count only the packets the
 * program aggregated (the packets it sent up as records are counted by user space from the
 * records); `tcp_flags` and `seen` cover every packet of the connection, so that a packet with
 * a flag not seen yet, or the first packet each way, goes up.
 */
struct flowmon_flow_value {
    __u64 packets[2];
    __u64 bytes[2];    /* wire_length, as the records' */
    __u64 last_ns;     /* bpf_ktime_get_ns() of the connection's latest packet (its first came up
                        * as a record, which starts the connection in user space) */
    __u16 tcp_flags[2];
    __u8 seen;         /* bit 0: a packet went low -> high; bit 1: high -> low */
    __u8 reserved[3];
};

#endif
