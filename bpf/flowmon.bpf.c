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
 * Mode 2 (`--ebpf-mode flows`, flowmon_config.mode FLOWMON_MODE_FLOWS): the program parses
 * the packet itself and counts it in a flow map (flowmon_flows) keyed as user space
 * keys connections; only a connection's first packet each way, its TCP state changes and the
 * packets it cannot classify go up as records (see flow_observe). User space reads the map at
 * every sweep and adds what it counted to the connections (Sources/FlowMonitor/KernelFlows.swift).
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
const volatile struct flowmon_config flowmon_config = {.snaplen = 192, .mode = FLOWMON_MODE_PACKETS};

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

/* The interfaces the programs are attached to: link type and role, and mode 2's counts there
 * (per CPU). Entries are made by user space only, so not preallocated: the memory follows the
 * interfaces attached, not max_entries times the CPUs. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 16384);
    __type(key, __u32);
    __type(value, struct flowmon_interface);
} flowmon_interfaces SEC(".maps");

/*
 * Mode 2's connections (its size is set by user space). A plain hash, not an LRU one: an LRU
 * map would make room by dropping a connection whose latest counts user space has not read
 * yet; this one refuses the insert, and the packet goes up as a record instead. User space
 * deletes connections idle for longer than the shortest flow timeout, so the map stays bounded.
 * One value per connection shared by the CPUs (counts added atomically), not a per-CPU hash: a
 * per-CPU entry is made, and its first packet sent up, on every CPU a connection's packets
 * reach, and making one allocates per-CPU memory, which cost more than the rest of the program
 * (bench-live-rate: 0.8-1.2 us per packet against about 0.6). Not preallocated: the memory
 * follows the connections there are (about 200 bytes each), not max_entries.
 */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 65536);
    __type(key, struct flowmon_flow_key);
    __type(value, struct flowmon_flow_value);
} flowmon_flows SEC(".maps");

/* Mode 2: the addresses of local pods, learned from the packets they send into their veth (the
 * observation rule's memory, see observation_admits), with the interface they sent from. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64[2]);
    __type(value, __u32);
} flowmon_local_pods SEC(".maps");

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

/* Mode 1's path: the packet's record into the ring. */
static __always_inline int submit_packet(struct __sk_buff *skb, __u8 direction, __u16 link_type, int tagged,
                                         __u32 wire_length)
{
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

/* ---- Mode 2: in-kernel flow aggregation --------------------------------------------------- */

#define FLOWMON_TCP_FIN 0x01
#define FLOWMON_TCP_SYN 0x02
#define FLOWMON_TCP_RST 0x04
#define FLOWMON_TCP_ACK 0x10

/*
 * The most bytes of a packet's start flow_observe reads: Ethernet, two VLAN tags, an IPv6
 * header and the first 14 bytes of a TCP header (ports, data offset, flags).
 */
#define FLOWMON_HEADER_WINDOW 76

/* A 16-bit field as it is in the packet (unaligned: two byte loads). */
static __always_inline __u16 field16(const __u8 *bytes)
{
    __u16 value;
    __builtin_memcpy(&value, bytes, 2);
    return value;
}

/* An address's 16 bytes (as on the wire) as the big-endian number user space compares. */
static __always_inline int address_less(const __u64 *a, const __u64 *b)
{
    __u64 a0 = bpf_be64_to_cpu(a[0]), b0 = bpf_be64_to_cpu(b[0]);
    if (a0 != b0)
        return a0 < b0;
    return bpf_be64_to_cpu(a[1]) < bpf_be64_to_cpu(b[1]);
}

static __always_inline int address_equal(const __u64 *a, const __u64 *b)
{
    return a[0] == b[0] && a[1] == b[1];
}

/* How long an interface's CPU trusts its memory of the address it last learned (below). */
#define FLOWMON_LEARNED_NS 1000000000ULL

/*
 * A local pod's address, seen sending into its veth (HERE, the interface's entry, at NOW):
 * written only when new or moved (a lookup keeps an LRU entry fresh; an update per packet would
 * take the map's lock every time). A pod's veth carries its own address nearly always, so each
 * CPU remembers in the interface's entry the address it last learned there and looks the map up
 * again for that address once a second, not for every packet: an entry the LRU map dropped under
 * pressure (more than its 16,384 addresses learned) is learned again within that second.
 */
static __always_inline void learn_local_pod(__u64 *address, __u32 ifindex, struct flowmon_interface *here, __u64 now)
{
    if (here && now - here->learned_ns < FLOWMON_LEARNED_NS && here->learned_address[0] == address[0] &&
        here->learned_address[1] == address[1])
        return;
    __u32 *known = bpf_map_lookup_elem(&flowmon_local_pods, address);
    if (!known || *known != ifindex)
        bpf_map_update_elem(&flowmon_local_pods, address, &ifindex, BPF_ANY);
    if (here) {
        here->learned_address[0] = address[0];
        here->learned_address[1] = address[1];
        here->learned_ns = now;
    }
}

/*
 * The observation rule for the packets this program counts itself: the twin of user space's
 * ObservationPoints.admits (Sources/Datapath/ObservationPoints.swift), which applies the same
 * rule to the packets sent up as records. Two copies cannot be avoided: the kernel must decide
 * before it counts, and user space decides for the packets the kernel does not parse. Change
 * both together. At a pod-facing interface a packet arriving from the pod counts and teaches
 * its source as a local pod (done by the caller for every packet with an IP header); one
 * leaving towards the pod counts unless its source is a local pod; at any other interface a
 * packet counts only when neither end is a local pod; at loopback, arriving. A packet on an
 * interface without a role counts.
 */
static __always_inline int observation_admits(__u8 role, __u8 direction, __u64 *source, __u64 *destination)
{
    switch (role) {
    case 1: /* pod-facing */
        if (direction == FLOWMON_INGRESS)
            return 1;
        return bpf_map_lookup_elem(&flowmon_local_pods, source) == NULL;
    case 2: /* other */
        return bpf_map_lookup_elem(&flowmon_local_pods, source) == NULL &&
               bpf_map_lookup_elem(&flowmon_local_pods, destination) == NULL;
    case 3: /* loopback */
        return direction == FLOWMON_INGRESS;
    default:
        return 1;
    }
}

/*
 * Mode 2 for one packet. Returns 1 when the packet is dealt with here (counted in the flow map,
 * or not counted because another interface counts it), 0 when it goes up as a record: a
 * connection's first packet, its first packet each way, a TCP packet with SYN, FIN or RST,
 * without ACK (so every packet user space's invalid-flags check could flag goes up: each such
 * combination lacks ACK or has SYN, FIN or RST) or with a flag not seen yet that way, a packet
 * the map has no room for, and every packet this parser does not classify (not IPv4/IPv6; an IPv4 fragment or one with options; an IPv6
 * extension header; a protocol other than TCP, UDP, SCTP, ICMP echo; UDP to a port flowmon's
 * decoder treats as a tunnel, 4789, 8472 and 6081; lengths the decoder would call malformed;
 * more than two VLAN tags in the frame). Those go through user space's decoder and observation
 * rule as in mode 1, so nothing is lost or read differently.
 */
static __always_inline int flow_observe(struct __sk_buff *skb, __u8 direction, __u16 link_type, __u8 role,
                                        __u32 wire_length, __u32 ifindex, struct flowmon_interface *here)
{
    /*
     * The headers are read in place when the packet's linear part holds the whole window (direct
     * packet access: no helper call), else copied once into a window on the stack (a short
     * packet, or one whose headers are not all in the linear part). `window` is how many bytes
     * of it are the packet's: every read below is checked against it, as a load past the
     * packet's end would fail.
     */
    __u8 copy[128]; /* a power of two above the window: see the mask below */
    const __u8 *h = copy;
    __u32 window = skb->len < FLOWMON_HEADER_WINDOW ? skb->len : FLOWMON_HEADER_WINDOW;
    void *data = (void *)(long)skb->data;
    void *data_end = (void *)(long)skb->data_end;
    if (data + FLOWMON_HEADER_WINDOW <= data_end) {
        h = data;
        window = FLOWMON_HEADER_WINDOW;
    } else {
        /* The length masked to 1 ... 128 for the verifier (the mask changes nothing for 1 ... 76;
         * an empty packet asks for 128 bytes, and the load fails). */
        if (bpf_skb_load_bytes(skb, 0, copy, ((window - 1) & (sizeof(copy) - 1)) + 1) != 0)
            return 0;
    }

    __u32 offset = 0;
    __u16 ethertype;
    if (link_type == 1) {
        if (window < 14)
            return 0;
        ethertype = field16(h + 12);
        offset = 14;
        /* Tags in the frame (a tag held out of band, skb->vlan_*, is not part of the key). */
#pragma unroll
        for (int tag = 0; tag < 2; tag++) {
            if (ethertype != bpf_htons(0x8100) && ethertype != bpf_htons(0x88a8) && ethertype != bpf_htons(0x9100))
                break;
            if (offset + 4 > window)
                return 0;
            ethertype = field16(h + offset + 2);
            offset += 4;
        }
    } else if (link_type == 101) {
        if (window < 1)
            return 0;
        ethertype = (h[0] >> 4) == 6 ? bpf_htons(0x86dd) : bpf_htons(0x0800);
    } else {
        return 0;
    }

    __u64 source[2], destination[2];
    __u64 now = bpf_ktime_get_ns();
    __u8 protocol;
    __u32 transport_length;
    __u32 available = skb->len > offset ? skb->len - offset : 0;
    if (ethertype == bpf_htons(0x0800)) {
        if (offset + 20 > window)
            return 0;
        const __u8 *ip = h + offset;
        if ((ip[0] >> 4) != 4)
            return 0;
        source[0] = 0;
        destination[0] = 0;
        __u32 mapped = bpf_htonl(0xffff);
        __u64 s = 0, d = 0;
        __builtin_memcpy(&s, &mapped, 4);
        __builtin_memcpy(&d, &mapped, 4);
        __builtin_memcpy((__u8 *)&s + 4, ip + 12, 4);
        __builtin_memcpy((__u8 *)&d + 4, ip + 16, 4);
        source[1] = s;
        destination[1] = d;
        if (role == 1 && direction == FLOWMON_INGRESS)
            learn_local_pod(source, ifindex, here, now);
        __u16 total = bpf_ntohs(field16(ip + 2));
        /* Options (IHL above 5) and fragments (MF or an offset) go up. */
        if ((ip[0] & 0x0f) != 5 || (bpf_ntohs(field16(ip + 6)) & 0x3fff) != 0 || total < 20 || total > available)
            return 0;
        protocol = ip[9];
        transport_length = total - 20;
        offset += 20;
    } else if (ethertype == bpf_htons(0x86dd)) {
        if (offset + 40 > window)
            return 0;
        const __u8 *ip = h + offset;
        if ((ip[0] >> 4) != 6)
            return 0;
        __builtin_memcpy(source, ip + 8, 16);
        __builtin_memcpy(destination, ip + 24, 16);
        if (role == 1 && direction == FLOWMON_INGRESS)
            learn_local_pod(source, ifindex, here, now);
        __u16 payload = bpf_ntohs(field16(ip + 4));
        /* A jumbogram (payload length 0) goes up, as does any extension header (next header
         * not directly the transport). */
        if (payload == 0 || payload + 40 > available)
            return 0;
        protocol = ip[6];
        transport_length = payload;
        offset += 40;
    } else {
        return 0;
    }

    __u16 source_port = 0, destination_port = 0, flags = 0;
    int is_tcp = 0;
    if (protocol == 6) {
        if (transport_length < 20 || offset + 14 > window)
            return 0;
        const __u8 *tcp = h + offset;
        __u32 header = (tcp[12] >> 4) * 4;
        if (header < 20 || header > transport_length)
            return 0;
        source_port = field16(tcp);
        destination_port = field16(tcp + 2);
        flags = tcp[13] | ((__u16)(tcp[12] & 0x01) << 8);
        is_tcp = 1;
    } else if (protocol == 17 || protocol == 132) {
        if (transport_length < (protocol == 17 ? 8 : 12) || offset + 8 > window)
            return 0;
        const __u8 *ports = h + offset;
        source_port = field16(ports);
        destination_port = field16(ports + 2);
        if (protocol == 17) {
            __u16 length = bpf_ntohs(field16(ports + 4));
            __u16 port = bpf_ntohs(destination_port);
            if (length < 8 || length > transport_length || port == 4789 || port == 8472 || port == 6081)
                return 0;
        }
    } else if (protocol == 1 || protocol == 58) {
        /* Echo request and reply only (RFC 792; RFC 4443 §4.1, 4.2), keyed by the identifier
         * both ways, as user space keys them; every other message goes up. */
        if ((protocol == 1) != (ethertype == bpf_htons(0x0800)) || transport_length < 8 || offset + 8 > window)
            return 0;
        const __u8 *icmp = h + offset;
        int echo = protocol == 1 ? (icmp[0] == 8 || icmp[0] == 0) : (icmp[0] == 128 || icmp[0] == 129);
        if (!echo)
            return 0;
        source_port = field16(icmp + 4);
        destination_port = source_port;
    } else {
        return 0;
    }
    source_port = bpf_ntohs(source_port);
    destination_port = bpf_ntohs(destination_port);

    if (!observation_admits(role, direction, source, destination)) {
        count(FLOWMON_COUNTER_SEEN_ELSEWHERE, 1);
        count(FLOWMON_COUNTER_SEEN_ELSEWHERE_BYTES, wire_length);
        if (here) {
            here->seen_elsewhere_packets += 1;
            here->seen_elsewhere_bytes += wire_length;
        }
        return 1;
    }

    /* The symmetric key, as FlowKey.canonical orders it. */
    struct flowmon_flow_key key = {};
    int from_low = address_less(source, destination) ||
                   (address_equal(source, destination) && source_port <= destination_port);
    if (from_low) {
        __builtin_memcpy(key.low_address, source, 16);
        __builtin_memcpy(key.high_address, destination, 16);
        key.low_port = source_port;
        key.high_port = destination_port;
    } else {
        __builtin_memcpy(key.low_address, destination, 16);
        __builtin_memcpy(key.high_address, source, 16);
        key.low_port = destination_port;
        key.high_port = source_port;
    }
    key.protocol = protocol;
    __u32 way = from_low ? 0 : 1;
    __u8 way_bit = from_low ? 1 : 2;

    struct flowmon_flow_value *value = bpf_map_lookup_elem(&flowmon_flows, &key);
    if (!value) {
        /* A new connection: user space creates and judges it from the record. A full map (or
         * another CPU inserting at the same instant) also sends it up. */
        struct flowmon_flow_value fresh = {};
        fresh.last_ns = now;
        fresh.seen = way_bit;
        if (way == 0)
            fresh.tcp_flags[0] = flags;
        else
            fresh.tcp_flags[1] = flags;
        bpf_map_update_elem(&flowmon_flows, &key, &fresh, BPF_NOEXIST);
        return 0;
    }
    value->last_ns = now;
    /* A SYN without ACK may start a new connection on the same ports (user space ends the old
     * one): the entry forgets what it saw, so the new handshake's packets come up again. */
    if (is_tcp && (flags & (FLOWMON_TCP_SYN | FLOWMON_TCP_ACK)) == FLOWMON_TCP_SYN) {
        value->tcp_flags[0] = 0;
        value->tcp_flags[1] = 0;
        value->seen = 0;
    }
    __u16 *seen_flags = way == 0 ? &value->tcp_flags[0] : &value->tcp_flags[1];
    if (!(value->seen & way_bit) ||
        (is_tcp && ((flags & (FLOWMON_TCP_SYN | FLOWMON_TCP_FIN | FLOWMON_TCP_RST)) || !(flags & FLOWMON_TCP_ACK) ||
                    (flags & ~*seen_flags)))) {
        /* User space's TCP state machine sees every state change; the first packet each way
         * sets what only a packet can (who sent first, an ICMP reply's type). Two CPUs may
         * both send a packet up here, or one's update of `seen` or the flags may overwrite the
         * other's: then more packets come up, not fewer (but for a packet of an old connection
         * counted at the very instant a SYN reuses its ports, see docs/live-capture.md). */
        value->seen |= way_bit;
        *seen_flags |= flags;
        return 0;
    }
    /* Atomic adds: another CPU may count a packet of the same connection at the same time. */
    __sync_fetch_and_add(&value->packets[way], 1);
    __sync_fetch_and_add(&value->bytes[way], wire_length);
    count(FLOWMON_COUNTER_AGGREGATED_PACKETS, 1);
    count(FLOWMON_COUNTER_AGGREGATED_BYTES, wire_length);
    if (here) {
        here->aggregated_packets += 1;
        here->aggregated_bytes += wire_length;
    }
    return 1;
}

static __always_inline int observe(struct __sk_buff *skb, __u8 direction)
{
    __u32 ifindex = skb->ifindex;
    __u16 link_type = 1;
    __u8 role = 0;
    struct flowmon_interface *interface = bpf_map_lookup_elem(&flowmon_interfaces, &ifindex);
    if (interface) {
        link_type = interface->link_type;
        role = interface->role;
    }

    int tagged = link_type == 1 && skb->vlan_present;
    __u32 wire_length = skb->len + (tagged ? 4 : 0);
    count(FLOWMON_COUNTER_PACKETS, 1);
    count(FLOWMON_COUNTER_BYTES, wire_length);

    if (flowmon_config.mode == FLOWMON_MODE_FLOWS &&
        flow_observe(skb, direction, link_type, role, wire_length, ifindex, interface))
        return TC_ACT_UNSPEC;
    return submit_packet(skb, direction, link_type, tagged, wire_length);
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
