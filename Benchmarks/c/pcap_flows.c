/*
 * pcap_flows -- reference flow counter: libpcap read loop + 5-tuple parse + flow table.
 *
 * What it does per packet (the minimum a flow monitor must do):
 *   - link layer: Ethernet (DLT_EN10MB) with up to 2 VLAN tags (0x8100 / 0x88a8);
 *     raw IP (DLT_RAW, LINKTYPE_IPV4/IPV6) is also accepted; other link types are skipped;
 *   - IPv4 (any IHL) and IPv6 (skipping Hop-by-Hop, Routing and Destination Options headers);
 *   - TCP/UDP/SCTP ports; ICMP and ICMPv6 echo request/reply are keyed by their identifier (as
 *     Linux conntrack and flowmon key them), so two pings between the same hosts are two flows;
 *     other IP protocols (and other ICMP messages) form a flow keyed by addresses + protocol;
 *     non-first IPv4/IPv6 fragments carry no ports and are only counted (no reassembly);
 *   - a bidirectional key (the lower (address, port) endpoint first), hashed into an
 *     open-addressing table with linear probing. Capacity is fixed at start (power of two),
 *     so there is no malloc per packet; entries are never evicted (no timeouts).
 *
 * It is the reference flowmon's flow-table throughput is compared with; it does no TCP
 * state tracking, no timeouts and no output per flow, so it is a lower bound on work.
 *
 *   gcc -O2 -Wall -Wextra -o pcap_flows pcap_flows.c -lpcap
 *   ./pcap_flows FILE [CAPACITY_LOG2]      (default 2^18 slots = 14 MiB, up to 196608 flows)
 *   -> "packets N bytes N flows N non_ip N fragments N truncated N dropped_full N"
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One flow key. Addresses are 16 bytes (IPv4 stored in the first 4), all fields packed to
 * 40 bytes with no padding so memcmp() is a valid comparison. */
struct flow_key {
    uint8_t a[16], b[16];     /* endpoint A (lower), endpoint B */
    uint16_t pa, pb;          /* ports of A and B (0 if the protocol has none) */
    uint8_t proto, family;    /* IP protocol; 4 or 6 */
    uint8_t pad[2];           /* always zero */
};

struct flow_entry {
    struct flow_key key;
    uint64_t packets;         /* 0 = empty slot */
    uint64_t bytes;
};

static struct flow_entry *table;
static size_t table_mask;
static unsigned long long n_flows, n_dropped_full;

/* FNV-1a over the key bytes, then a final avalanche so the low bits used as index are mixed. */
static inline uint64_t hash_key(const struct flow_key *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < sizeof *k; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static void flow_update(const struct flow_key *k, uint32_t len)
{
    size_t i = hash_key(k) & table_mask;
    for (size_t probes = 0; probes <= table_mask; probes++, i = (i + 1) & table_mask) {
        struct flow_entry *e = &table[i];
        if (e->packets == 0) {
            /* Keep a quarter of the table free so probe chains stay short. */
            if (n_flows >= (table_mask + 1) / 4 * 3) {
                n_dropped_full++;
                return;
            }
            e->key = *k;
            e->packets = 1;
            e->bytes = len;
            n_flows++;
            return;
        }
        if (memcmp(&e->key, k, sizeof *k) == 0) {
            e->packets++;
            e->bytes += len;
            return;
        }
    }
}

/* Order the two endpoints so both directions of a conversation give the same key. */
static void make_key(struct flow_key *k, int family, const uint8_t *src, const uint8_t *dst,
                     int alen, uint8_t proto, uint16_t sport, uint16_t dport)
{
    memset(k, 0, sizeof *k);
    k->family = (uint8_t)family;
    k->proto = proto;
    int c = memcmp(src, dst, (size_t)alen);
    if (c < 0 || (c == 0 && sport <= dport)) {
        memcpy(k->a, src, (size_t)alen); memcpy(k->b, dst, (size_t)alen);
        k->pa = sport; k->pb = dport;
    } else {
        memcpy(k->a, dst, (size_t)alen); memcpy(k->b, src, (size_t)alen);
        k->pa = dport; k->pb = sport;
    }
}

static unsigned long long n_non_ip, n_frag, n_trunc;

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Ports for TCP (6), UDP (17), SCTP (132); the echo identifier on both sides for ICMP (1) and
 * ICMPv6 (58) echo request/reply; 0/0 otherwise. Returns -1 if cut short. */
static int ports(uint8_t proto, const uint8_t *l4, size_t len, uint16_t *sp, uint16_t *dp)
{
    *sp = *dp = 0;
    if (proto == 6 || proto == 17 || proto == 132) {
        if (len < 4)
            return -1;
        *sp = rd16(l4);
        *dp = rd16(l4 + 2);
    } else if (proto == 1 || proto == 58) {
        if (len < 8)
            return -1;
        uint8_t type = l4[0];
        int echo = proto == 1 ? (type == 8 || type == 0) : (type == 128 || type == 129);
        if (echo)
            *sp = *dp = rd16(l4 + 4);
    }
    return 0;
}

static void handle_ipv4(const uint8_t *p, size_t len, uint32_t caplen)
{
    if (len < 20 || (p[0] >> 4) != 4) { n_trunc++; return; }
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    if (ihl < 20 || len < ihl) { n_trunc++; return; }
    uint16_t frag = rd16(p + 6);
    if (frag & 0x1fff) { n_frag++; return; }          /* non-first fragment: no L4 header */
    uint8_t proto = p[9];
    uint16_t sp, dp;
    if (ports(proto, p + ihl, len - ihl, &sp, &dp) < 0) { n_trunc++; return; }
    struct flow_key k;
    make_key(&k, 4, p + 12, p + 16, 4, proto, sp, dp);
    flow_update(&k, caplen);
}

static void handle_ipv6(const uint8_t *p, size_t len, uint32_t caplen)
{
    if (len < 40 || (p[0] >> 4) != 6) { n_trunc++; return; }
    uint8_t nh = p[6];
    size_t off = 40;
    /* Walk the extension headers that may precede the transport header (bounded loop). */
    for (int guard = 0; guard < 8; guard++) {
        if (nh == 0 || nh == 43 || nh == 60) {        /* Hop-by-Hop, Routing, Destination Options */
            if (len < off + 8) { n_trunc++; return; }
            nh = p[off];
            off += ((size_t)p[off + 1] + 1) * 8;
        } else if (nh == 44) {                        /* Fragment */
            if (len < off + 8) { n_trunc++; return; }
            if (rd16(p + off + 2) & 0xfff8) { n_frag++; return; }
            nh = p[off];
            off += 8;
        } else {
            break;
        }
    }
    if (len < off) { n_trunc++; return; }
    uint16_t sp, dp;
    if (ports(nh, p + off, len - off, &sp, &dp) < 0) { n_trunc++; return; }
    struct flow_key k;
    make_key(&k, 6, p + 8, p + 24, 16, nh, sp, dp);
    flow_update(&k, caplen);
}

static void handle_ip(const uint8_t *p, size_t len, uint32_t caplen)
{
    if (len >= 1 && (p[0] >> 4) == 4)
        handle_ipv4(p, len, caplen);
    else if (len >= 1 && (p[0] >> 4) == 6)
        handle_ipv6(p, len, caplen);
    else
        n_non_ip++;
}

static void handle_ethernet(const uint8_t *p, size_t len, uint32_t caplen)
{
    if (len < 14) { n_trunc++; return; }
    uint16_t type = rd16(p + 12);
    size_t off = 14;
    for (int tags = 0; tags < 2 && (type == 0x8100 || type == 0x88a8); tags++) {
        if (len < off + 4) { n_trunc++; return; }
        type = rd16(p + off + 2);
        off += 4;
    }
    if (type == 0x0800)
        handle_ipv4(p + off, len - off, caplen);
    else if (type == 0x86dd)
        handle_ipv6(p + off, len - off, caplen);
    else
        n_non_ip++;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s FILE [CAPACITY_LOG2]\n", argv[0]);
        return 2;
    }
    int cap_log2 = argc == 3 ? atoi(argv[2]) : 18;
    if (cap_log2 < 4 || cap_log2 > 30) {
        fprintf(stderr, "pcap_flows: CAPACITY_LOG2 must be 4..30\n");
        return 2;
    }
    table_mask = ((size_t)1 << cap_log2) - 1;
    table = calloc(table_mask + 1, sizeof *table);    /* the only allocation */
    if (table == NULL) {
        perror("pcap_flows: calloc");
        return 1;
    }

    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[1], errbuf);
    if (p == NULL) {
        fprintf(stderr, "pcap_flows: %s\n", errbuf);
        return 1;
    }
    int dlt = pcap_datalink(p);

    unsigned long long packets = 0, bytes = 0;
    struct pcap_pkthdr *hdr;
    const unsigned char *data;
    int rc;
    while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
        packets++;
        bytes += hdr->caplen;
        switch (dlt) {
        case DLT_EN10MB: handle_ethernet(data, hdr->caplen, hdr->caplen); break;
        case DLT_RAW:
#ifdef DLT_IPV4
        case DLT_IPV4:
        case DLT_IPV6:
#endif
            handle_ip(data, hdr->caplen, hdr->caplen); break;
        default: n_non_ip++; break;
        }
    }
    if (rc == PCAP_ERROR)
        fprintf(stderr, "pcap_flows: %s (after %llu packets)\n", pcap_geterr(p), packets);

    printf("packets %llu bytes %llu flows %llu non_ip %llu fragments %llu truncated %llu dropped_full %llu\n",
           packets, bytes, n_flows, n_non_ip, n_frag, n_trunc, n_dropped_full);
    pcap_close(p);
    free(table);
    return rc == PCAP_ERROR ? 1 : 0;
}
