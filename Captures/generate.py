#!/usr/bin/env python3
"""Write flowmon's synthetic test captures into Captures/synthetic/.

    python3 Captures/generate.py            # (re)write every capture and its .md note
    python3 Captures/generate.py --check    # regenerate in memory, compare with the files on disk

Standard library only, and deterministic: no clock, no randomness, fixed timestamps
(epoch 1700000000 = 2023-11-14T22:13:20Z). Running it twice gives byte-identical files.
The IPv4/TCP/UDP/ICMP headers, checksums and the pcap writer come from Captures/packetlib.py.

Each capture fills a gap in Captures/real/ (see Captures/real/MANIFEST.md):
  tcp-conn-states.pcap   one TCP connection per Zeek conn_state, SYN-ACK first, port reuse
  udp-icmp.pcap          UDP/ICMP/ICMPv6 request-response, ICMP error quoting a UDP flow
  fragments.pcap         IPv4/IPv6 fragments in order, out of order, first fragment missing
  overlay-cilium.pcap    pod-to-pod traffic in VXLAN 8472 / Geneve 6081 / VXLAN 4789
  overlay-flannel.pcap   pod-to-pod traffic in flannel's VXLAN (VNI 1 both ways, UDP 8472)
  overlay-segments.pcap  one inner TCP 5-tuple in two VXLAN segments (VNI 10100 and 10200) at once
  linktypes.pcapng       one pcapng section with Ethernet, SLL2, raw IPv4 and NULL interfaces
  idle-timeouts.pcap     gaps around the default idle timeouts (new 30 s, est. 300 s, closed 10 s)

All IPv4 header, TCP, UDP, ICMP and ICMPv6 checksums are computed (tshark validates them
when asked: tshark -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE).
The expected flows written into each .md come from the same case tables that build the packets.
"""

import os
import struct
import sys

sys.dont_write_bytecode = True      # no Captures/__pycache__ next to the fixtures
from packetlib import (  # noqa: E402  (Captures/packetlib.py, beside this file)
    ACK, ETH_IPV4, FIN, PROTO_ICMP, PROTO_TCP, PROTO_UDP, PSH, RST, SYN, IPv4Ids, bridge_mac, checksum,
    ethernet, icmp_message, ip4, ipv4_packet, md_table, pcap_bytes, pseudo_header, tcp_segment,
    tunnel_source_port, udp_datagram, vxlan_header)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "synthetic")
EPOCH_NS = 1_700_000_000 * 1_000_000_000
MS = 1_000_000          # nanoseconds
S = 1_000_000_000

PROTO_IPV6_FRAG, PROTO_ICMPV6 = 44, 58
ETH_TEB = 0x6558

# ---------------------------------------------------------------------------------------------
# Addresses, IPv6 and link layers (checksums and IPv4/TCP/UDP/ICMP headers: packetlib.py)


def ip6(s):
    """Parse an IPv6 literal (with at most one '::') into 16 bytes."""
    head, _, tail = s.partition("::")
    h = [int(x, 16) for x in head.split(":") if x]
    t = [int(x, 16) for x in tail.split(":") if x]
    return struct.pack("!8H", *(h + [0] * (8 - len(h) - len(t)) + t))


def addr(s):
    return ip6(s) if ":" in s else ip4(s)


def mac_for(ip):
    """Kubernetes bridge-style MAC (0a:58 + last four address bytes), so frames are readable."""
    return bridge_mac(addr(ip))


def icmpv6_message(src, dst, icmp_type, code, rest, payload=b""):
    msg = struct.pack("!BBH", icmp_type, code, 0) + rest + payload
    c = checksum(pseudo_header(src, dst, PROTO_ICMPV6, len(msg)) + msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def ipv6_packet(src, dst, next_header, payload, hop_limit=64, flow_label=0):
    return struct.pack("!IHBB16s16s", (6 << 28) | flow_label, len(payload), next_header, hop_limit,
                       src, dst) + payload


def ip_packet(src, dst, proto, l4, ids, ttl=64):
    """IPv4 or IPv6 packet (by address family) around an already checksummed L4 payload."""
    s, d = addr(src), addr(dst)
    if len(s) == 4:
        return ipv4_packet(s, d, proto, l4, ids.take(), ttl=ttl)
    return ipv6_packet(s, d, proto, l4, hop_limit=ttl)


def eth_for(ip_pkt, src, dst):
    return ethernet(ip_pkt, mac_for(src), mac_for(dst))


# ---------------------------------------------------------------------------------------------
# pcapng writer (classic pcap: packetlib.pcap_bytes)


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def pcapng_options(opts):
    if not opts:
        return b""
    out = b"".join(struct.pack("<HH", code, len(val)) + pad4(val) for code, val in opts)
    return out + struct.pack("<HH", 0, 0)   # opt_endofopt


def pcapng_block(block_type, body):
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def pcapng_bytes(interfaces, packets, appl="flowmon Captures/generate.py"):
    """One little-endian section. interfaces: [(linktype, name, tsresol_exp)];
    packets: [(ts_ns, interface_index, frame)]."""
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + pcapng_options([(4, appl.encode())])
    out = [pcapng_block(0x0A0D0D0A, shb)]
    for linktype, name, tsresol in interfaces:
        opts = [(2, name.encode())]
        if tsresol != 6:
            opts.append((9, bytes([tsresol])))      # if_tsresol: 10^-tsresol seconds
        out.append(pcapng_block(1, struct.pack("<HHI", linktype, 0, 262144) + pcapng_options(opts)))
    for ts, ifidx, frame in packets:
        units = ts // 10 ** (9 - interfaces[ifidx][2])
        body = struct.pack("<IIIII", ifidx, units >> 32, units & 0xFFFFFFFF, len(frame), len(frame))
        out.append(pcapng_block(6, body + pad4(frame)))
    return b"".join(out)


# ---------------------------------------------------------------------------------------------
# TCP connection builder


class TCPConn:
    """Tracks sequence numbers of both sides of one TCP 5-tuple and emits IP packets.

    emit(ts_ns, ip_packet, src, dst) is called per segment; the caller wraps it in a link layer.
    """

    def __init__(self, emit, ids, client, cport, server, sport, isn_c, isn_s):
        self.emit, self.ids = emit, ids
        self.ep = {True: (client, cport), False: (server, sport)}
        self.nxt = {True: isn_c, False: isn_s}
        self.last = dict(self.nxt)

    def send(self, ts, from_client, flags, data=b"", seq=None, ack=None):
        (src, sp), (dst, dp) = self.ep[from_client], self.ep[not from_client]
        if seq is None:
            seq = self.nxt[from_client]
        if ack is None:
            ack = self.nxt[not from_client] if flags & ACK else 0
        seg = tcp_segment(addr(src), addr(dst), sp, dp, seq, ack, flags, data)
        self.emit(ts, ip_packet(src, dst, PROTO_TCP, seg, self.ids), src, dst)
        self.last[from_client] = seq
        self.nxt[from_client] = seq + len(data) + (1 if flags & (SYN | FIN) else 0)


# Short names for a packet script: (delay_ms, from_client, flags, payload)
C, R = True, False
REQ = b"GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
HANDSHAKE = [(0, C, SYN, b""), (1, R, SYN | ACK, b""), (1, C, ACK, b"")]
EXCHANGE = [(2, C, PSH | ACK, REQ), (1, R, ACK, b""), (3, R, PSH | ACK, RESP), (1, C, ACK, b"")]
CLOSE_BOTH = [(5, C, FIN | ACK, b""), (1, R, FIN | ACK, b""), (1, C, ACK, b"")]


def run_script(conn, t0, script):
    """Play a packet script; returns the timestamp of the last packet."""
    t = t0
    for delay_ms, from_client, flags, data, *seq in script:
        t += delay_ms * MS
        if seq == ["retx"]:          # retransmission: same sequence number as that side's last segment
            seq = [conn.last[from_client]]
        conn.send(t, from_client, flags, data, seq=seq[0] if seq else None)
    return t


def describe_script(script):
    names = {SYN: "S", SYN | ACK: "SA", ACK: "A", PSH | ACK: "PA", FIN | ACK: "FA", RST: "R",
             RST | ACK: "RA", FIN: "F"}
    parts = []
    for _, from_client, flags, data, *_ in script:
        parts.append(("C>" if from_client else "R>") + names[flags] + (f"[{len(data)}]" if data else ""))
    return " ".join(parts)


def regen_line(name):
    return (f"Regenerate: `python3 Captures/generate.py` (writes every file in `Captures/synthetic/`; "
            f"`--check` verifies `{name}` and the others are up to date). Deterministic: byte-identical on every run.")


# ---------------------------------------------------------------------------------------------
# 1. tcp-conn-states.pcap


def build_tcp_conn_states():
    client, server, dport = "10.244.0.10", "10.244.0.20", 8080
    cases = [
        # (conn_state, script, note)
        ("S0", [(0, C, SYN, b""), (1000, C, SYN, b"", "retx")], "SYN and one retransmission, no reply"),
        ("S1", HANDSHAKE + EXCHANGE, "handshake and data, never closed"),
        ("SF", HANDSHAKE + EXCHANGE + CLOSE_BOTH, "handshake, data, FIN both ways, last ACK"),
        ("REJ", [(0, C, SYN, b""), (1, R, RST | ACK, b"", 0)], "SYN answered by RST/ACK (seq 0, ack ISN+1)"),
        ("RSTO", HANDSHAKE + EXCHANGE + [(5, C, RST | ACK, b"")], "established, originator sends RST"),
        ("RSTR", HANDSHAKE + EXCHANGE + [(5, R, RST | ACK, b"")], "established, responder sends RST"),
        ("RSTOS0", [(0, C, SYN, b""), (200, C, RST, b"")], "SYN then originator RST, no SYN-ACK"),
        ("RSTRH", [(0, R, SYN | ACK, b""), (200, R, RST, b"")],
         "SYN-ACK (no SYN seen) then responder RST; the originator is the SYN-ACK's destination"),
        ("SH", [(0, C, SYN, b""), (200, C, FIN, b"")], "SYN then originator FIN, no SYN-ACK"),
        ("SHR", [(0, R, SYN | ACK, b""), (200, R, FIN | ACK, b"")],
         "SYN-ACK (no SYN seen) then responder FIN; originator is the SYN-ACK's destination"),
        ("OTH", [(0, C, PSH | ACK, REQ), (1, R, ACK, b""), (3, R, PSH | ACK, RESP), (1, C, ACK, b"")],
         "midstream: data both ways, no SYN/FIN/RST (originator = first sender, the client port)"),
        ("S2", HANDSHAKE + EXCHANGE + [(5, C, FIN | ACK, b"")],
         "established, originator FIN, nothing more from the responder"),
        ("S3", HANDSHAKE + EXCHANGE + [(5, R, FIN | ACK, b"")],
         "established, responder FIN, nothing more from the originator"),
        ("SF (SYN-ACK first)", [(0, R, SYN | ACK, b""), (1, C, ACK, b"")] + EXCHANGE + CLOSE_BOTH,
         "capture starts at the SYN-ACK (SYN missed): the initiator must be 10.244.0.10 (the SYN-ACK's "
         "destination), not the first packet's sender; Zeek history starts with '^'"),
    ]
    ids = IPv4Ids(0x2000)
    recs = []

    def emit(ts, pkt, src, dst):
        recs.append((ts, eth_for(pkt, src, dst)))

    rows = []
    t = EPOCH_NS
    for i, (state, script, note) in enumerate(cases):
        cport = 40001 + i
        conn = TCPConn(emit, ids, client, cport, server, dport, 1_000_000 * (i + 1), 2_000_000 * (i + 1))
        n0 = len(recs)
        run_script(conn, t, script)
        orig = f"{client}:{cport}"
        rows.append((i + 1, f"{orig} → {server}:{dport}", state, len(recs) - n0, describe_script(script), note))
        t += 2 * S
    # Port reuse: SF, then 5 s after its last packet a new SYN on the same 5-tuple (new ISN).
    cport = 40001 + len(cases)
    conn = TCPConn(emit, ids, client, cport, server, dport, 7_000_000, 8_000_000)
    n0 = len(recs)
    last = run_script(conn, t, HANDSHAKE + EXCHANGE + CLOSE_BOTH)
    rows.append((len(rows) + 1, f"{client}:{cport} → {server}:{dport}", "SF", len(recs) - n0,
                 describe_script(HANDSHAKE + EXCHANGE + CLOSE_BOTH), "port reuse, first connection"))
    conn.nxt = {True: 9_000_000, False: 10_000_000}
    n0 = len(recs)
    run_script(conn, last + 5 * S, HANDSHAKE + EXCHANGE + CLOSE_BOTH)
    rows.append((len(rows) + 1, f"{client}:{cport} → {server}:{dport}", "SF", len(recs) - n0,
                 describe_script(HANDSHAKE + EXCHANGE + CLOSE_BOTH),
                 "port reuse: new SYN (new ISN) 5 s after the first connection's last ACK, i.e. inside the "
                 "10 s closed timeout; must start a NEW flow"))

    md = f"""# tcp-conn-states.pcap

**Purpose:** one TCP connection per Zeek `conn_state` (see `../shared/design/reference-semantics.md`, Zeek conn.log),
plus a connection whose SYN was missed (the capture starts at the SYN-ACK) and a reused 5-tuple. Use it to
test flowmon's TCP state machine, its choice of initiator, and its `conn_state` output.

Ethernet, pcap little-endian microsecond, {len(recs)} packets. Originator 10.244.0.10 (pod), responder 10.244.0.20:8080 (pod).
Each case has its own client port. Cases start 2 s apart, and packets within a case are 1 ms or more apart
(200 ms before the lone RST/FIN cases, 1 s before the S0 retransmission). All checksums are valid.
The capture is about {((recs[-1][0] - recs[0][0]) // S)} s long, so no default idle timeout (new 30 s,
established 300 s, closed 10 s) expires between two packets of one connection. The connections that stay
open (S0, S1, OTH, S2, S3...) are flushed at end of file.

**Expected: {len(rows)} TCP flows**, {len(rows)} `"event_type":"flow"` records, one per row. In the packets
column, `C>` is originator→responder and `R>` is responder→originator. `PA[n]` carries n payload bytes.

{md_table(["#", "5-tuple (originator → responder)", "expected conn_state", "pkts", "packets", "what it is"], rows)}

Notes:
- RSTRH, SHR and "SF (SYN-ACK first)": the first packet comes from 10.244.0.20:8080. The flow's source
  (src_ip/src_port) must still be 10.244.0.10:400xx, because a SYN-ACK's sender is the responder.
- OTH: with no SYN, the originator is the first packet's sender (10.244.0.10:40011 → :8080). This is
  also the side with the high ephemeral port.
- Port reuse (rows {len(rows) - 1} and {len(rows)}): the same 5-tuple produces two flows. Both are SF,
  with 10 packets each. The second starts with a SYN whose ISN has nothing to do with the first connection.

{regen_line("tcp-conn-states.pcap")}
"""
    return {"tcp-conn-states.pcap": pcap_bytes(recs, ts_per_second=S), "tcp-conn-states.md": md}


# ---------------------------------------------------------------------------------------------
# 2. udp-icmp.pcap


def build_udp_icmp():
    ids = IPv4Ids(0x3000)
    recs = []
    t = [EPOCH_NS]

    def put(delay_ms, src, dst, proto, l4):
        t[0] += delay_ms * MS
        recs.append((t[0], eth_for(ip_packet(src, dst, proto, l4, ids), src, dst)))
        return recs[-1]

    def udp(src, sp, dst, dp, payload):
        return udp_datagram(addr(src), addr(dst), sp, dp, payload)

    rows = []
    # a) UDP request/response (DNS-like, to kube-dns), two exchanges on one socket.
    q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03api\x04shop\x03svc\x00\x00\x01\x00\x01"
    a = q[:2] + b"\x81\x80" + q[4:6] + b"\x00\x01" + q[8:] + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x1e\x00\x04\x0a\x60\x00\x2a"
    for k in range(2):
        put(0 if k == 0 else 500, "10.244.0.10", "10.96.0.10", PROTO_UDP, udp("10.244.0.10", 41000, "10.96.0.10", 53, q))
        put(1, "10.96.0.10", "10.244.0.10", PROTO_UDP, udp("10.96.0.10", 53, "10.244.0.10", 41000, a))
    rows.append(("a", "UDP 10.244.0.10:41000 → 10.96.0.10:53", "2 + 2", "UDP request/response (two DNS-like exchanges); conn_state SF"))
    # b) UDP to a closed port, answered by ICMP port unreachable quoting the datagram.
    t[0] += 1000 * MS
    dg = ip_packet("10.244.0.10", "10.244.0.30", PROTO_UDP, udp("10.244.0.10", 41001, "10.244.0.30", 9999, b"ping"), ids)
    recs.append((t[0], eth_for(dg, "10.244.0.10", "10.244.0.30")))
    put(1, "10.244.0.30", "10.244.0.10", PROTO_ICMP, icmp_message(3, 3, b"\0\0\0\0", dg))
    rows.append(("b", "UDP 10.244.0.10:41001 → 10.244.0.30:9999, then ICMP 3/3 from 10.244.0.30", "1 (+1 ICMP)",
                 "the ICMP error quotes the whole UDP datagram (IPv4 header + 8-byte UDP header + 4 bytes). "
                 "Zeek makes a UDP flow in S0 plus a separate ICMP flow (type 3, code 3). A flow table that "
                 "matches ICMP errors to the quoted 5-tuple should attach it to the UDP flow (Suricata does)"))
    # c) ICMP echo request/reply pair.
    for sq in (1, 2):
        put(1000, "10.244.0.10", "10.244.0.40", PROTO_ICMP, icmp_message(8, 0, struct.pack("!HH", 0x1234, sq), b"abcdefgh" * 4))
        put(1, "10.244.0.40", "10.244.0.10", PROTO_ICMP, icmp_message(0, 0, struct.pack("!HH", 0x1234, sq), b"abcdefgh" * 4))
    rows.append(("c", "ICMP echo 10.244.0.10 → 10.244.0.40, id 0x1234, seq 1-2", "2 + 2", "echo request/reply pairs form one ICMP flow (type 8/0 with the same id)"))
    # d) echo reply seen first (request missed), then request/reply seq 2.
    put(1000, "10.244.0.41", "10.244.0.10", PROTO_ICMP, icmp_message(0, 0, struct.pack("!HH", 0x4321, 1), b"x" * 32))
    put(1000, "10.244.0.10", "10.244.0.41", PROTO_ICMP, icmp_message(8, 0, struct.pack("!HH", 0x4321, 2), b"x" * 32))
    put(1, "10.244.0.41", "10.244.0.10", PROTO_ICMP, icmp_message(0, 0, struct.pack("!HH", 0x4321, 2), b"x" * 32))
    rows.append(("d", "ICMP echo 10.244.0.10 → 10.244.0.41, id 0x4321", "1 + 2",
                 "an echo REPLY comes first. The initiator must be 10.244.0.10 (the requester), not the reply's sender 10.244.0.41"))
    # e) ICMPv6 echo.
    s6, d6 = "fd00:10:244::a", "fd00:10:244::14"
    for sq in (1, 2):
        put(1000, s6, d6, PROTO_ICMPV6, icmpv6_message(addr(s6), addr(d6), 128, 0, struct.pack("!HH", 0x0777, sq), b"v6ping"))
        put(1, d6, s6, PROTO_ICMPV6, icmpv6_message(addr(d6), addr(s6), 129, 0, struct.pack("!HH", 0x0777, sq), b"v6ping"))
    rows.append(("e", f"ICMPv6 echo {s6} → {d6}, id 0x0777", "2 + 2", "ICMPv6 echo request 128 / reply 129 form one flow"))
    # f) IPv6 UDP request/response.
    s6, d6 = "fd00:10:244::a", "fd00:10:96::a"
    put(1000, s6, d6, PROTO_UDP, udp(s6, 42000, d6, 53, q))
    put(1, d6, s6, PROTO_UDP, udp(d6, 53, s6, 42000, a))
    rows.append(("f", f"UDP [{s6}]:42000 → [{d6}]:53", "1 + 1", "IPv6 UDP request/response; conn_state SF"))

    md = f"""# udp-icmp.pcap

**Purpose:** UDP and ICMP flows, and their direction: UDP request/response, a UDP datagram answered by
ICMP port unreachable, ICMP echo pairs, an echo reply seen before its request, ICMPv6 echo, IPv6 UDP.

Ethernet, pcap little-endian microsecond, {len(recs)} packets. The cases are about 1 s apart. All
checksums are valid, including the UDP checksum over the IPv6 pseudo-header.

**Expected: 6 flows** (UDP ×3, ICMP ×2, ICMPv6 ×1), or **7** if flowmon keeps the ICMP
port-unreachable as a flow of its own instead of attaching it to the quoted UDP flow (case b). The
pkts column gives originator→responder + responder→originator.

{md_table(["case", "flow (originator → responder)", "pkts", "what it tests"], rows)}

{regen_line("udp-icmp.pcap")}
"""
    return {"udp-icmp.pcap": pcap_bytes(recs, ts_per_second=S), "udp-icmp.md": md}


# ---------------------------------------------------------------------------------------------
# 3. fragments.pcap


def ipv4_fragments(src, dst, proto, l4, ident, chunk):
    s, d = addr(src), addr(dst)
    frags = []
    for off in range(0, len(l4), chunk):
        part = l4[off:off + chunk]
        frags.append(ipv4_packet(s, d, proto, part, ident, df=False, frag_off=off, more=off + chunk < len(l4)))
    return frags


def ipv6_fragments(src, dst, proto, l4, ident, chunk):
    s, d = addr(src), addr(dst)
    frags = []
    for off in range(0, len(l4), chunk):
        part = l4[off:off + chunk]
        more = off + chunk < len(l4)
        fh = struct.pack("!BBHI", proto, 0, off | (1 if more else 0), ident)   # off is a multiple of 8
        frags.append(ipv6_packet(s, d, PROTO_IPV6_FRAG, fh + part))
    return frags


def build_fragments():
    ids = IPv4Ids(0x4000)
    recs = []
    t = [EPOCH_NS]

    def put(delay_ms, pkt, src, dst):
        t[0] += delay_ms * MS
        recs.append((t[0], eth_for(pkt, src, dst)))

    cli, srv = "10.244.0.10", "10.244.0.50"
    payload = bytes((i * 7) & 0xFF for i in range(3000))        # UDP length 3008 -> 1480 + 1480 + 48
    rows = []

    def v4_case(sport, ident, order, reply, what):
        dg = udp_datagram(addr(cli), addr(srv), sport, 9000, payload)
        frags = ipv4_fragments(cli, srv, PROTO_UDP, dg, ident, 1480)
        for k, idx in enumerate(order):
            put(1000 if k == 0 else 1, frags[idx], cli, srv)
        if reply:
            put(1, ip_packet(srv, cli, PROTO_UDP, udp_datagram(addr(srv), addr(cli), 9000, sport, b"ack"), ids), srv, cli)
        rows.append((len(rows) + 1, f"UDP {cli}:{sport} → {srv}:9000", f"0x{ident:04x}",
                     ", ".join(f"frag{i + 1}" for i in order) + (" + 1 reply" if reply else ""), what))

    v4_case(43000, 0xA001, [0, 1, 2], True,
            "3 fragments in order (offsets 0, 1480, 2960; MF on the first two). Expected: 1 UDP flow, "
            "originator→responder 3 packets (one 3000-byte datagram), plus 1 reply")
    v4_case(43001, 0xA002, [1, 2, 0], True,
            "the non-first fragments arrive BEFORE the first. They must be held until the first arrives "
            "and then counted in the same flow. Expected: 1 UDP flow, 3 + 1 packets")
    v4_case(43002, 0xA003, [1, 2], False,
            "the first fragment is missing (orphans). No ports can be known. Expected: NO UDP flow for "
            "port 43002. The 2 fragments are dropped when the reassembly timeout expires or at end of "
            "file, and counted as unreassembled/orphan fragments (an anomaly, not a crash)")
    # IPv6 fragmented UDP in order.
    c6, s6 = "fd00:10:244::a", "fd00:10:244::32"
    dg6 = udp_datagram(addr(c6), addr(s6), 44000, 9000, payload)
    frags6 = ipv6_fragments(c6, s6, PROTO_UDP, dg6, 0xB0001, 1448)   # 1448 = 181 * 8
    for k, f in enumerate(frags6):
        put(1000 if k == 0 else 1, f, c6, s6)
    put(1, ipv6_packet(addr(s6), addr(c6), PROTO_UDP, udp_datagram(addr(s6), addr(c6), 9000, 44000, b"ack")), s6, c6)
    rows.append((len(rows) + 1, f"UDP [{c6}]:44000 → [{s6}]:9000", "0x000b0001",
                 f"{len(frags6)} fragments in order + 1 reply",
                 f"IPv6 Fragment header (offsets 0, 1448, 2896; M on all but the last). Expected: 1 UDP flow, {len(frags6)} + 1 packets"))
    # Atomic IPv6 fragment: Fragment header with offset 0 and M = 0 (RFC 6946): a whole packet.
    dga = udp_datagram(addr(c6), addr(s6), 44001, 9000, b"atomic")
    put(1000, ipv6_packet(addr(c6), addr(s6), PROTO_IPV6_FRAG, struct.pack("!BBHI", PROTO_UDP, 0, 0, 0xB0002) + dga), c6, s6)
    put(1, ipv6_packet(addr(s6), addr(c6), PROTO_UDP, udp_datagram(addr(s6), addr(c6), 9000, 44001, b"ack")), s6, c6)
    rows.append((len(rows) + 1, f"UDP [{c6}]:44001 → [{s6}]:9000", "0x000b0002", "1 atomic fragment + 1 reply",
                 "atomic fragment (offset 0, M=0) is a complete packet and must be processed at once, "
                 "without waiting for reassembly. Expected: 1 UDP flow, 1 + 1 packets"))

    md = f"""# fragments.pcap

**Purpose:** IP fragment handling. IPv4 fragments in order and out of order, orphan fragments whose first
fragment is missing, IPv6 fragments, and an atomic IPv6 fragment. Every fragmented datagram carries a
3000-byte UDP payload, so its UDP length is 3008 and the checksum over the whole datagram is valid.

Ethernet, pcap little-endian microsecond, {len(recs)} packets. The cases are 1 s apart, and fragments
within a case 1 ms apart (far below any reassembly timeout).

**Expected: 4 UDP flows** (cases 1, 2, 4, 5) and **2 orphan IPv4 fragments** (case 3) that belong to
no flow. Packet counts include every fragment: a fragmented datagram seen as N fragments counts as N
packets, and its bytes are the sum of the fragments' IP lengths. tshark instead shows a reassembled
datagram as one frame in `-z conv,udp`.

{md_table(["#", "flow", "IP id", "packets in order of capture", "expected"], rows)}

{regen_line("fragments.pcap")}
"""
    return {"fragments.pcap": pcap_bytes(recs, ts_per_second=S), "fragments.md": md}


# ---------------------------------------------------------------------------------------------
# 4. overlay-cilium.pcap


def tunnel_frame(kind, dport, vni, inner_frame, node_src, node_dst, flow_key, outer_ids):
    """An inner Ethernet frame in VXLAN or Geneve over UDP/IPv4/Ethernet between two nodes."""
    if kind == "vxlan":
        hdr = vxlan_header(vni)
    else:   # geneve, version 0, no options, protocol Transparent Ethernet Bridging
        hdr = struct.pack("!BBHI", 0, 0, ETH_TEB, vni << 8)
    # Outer source port from a hash of the inner flow, as the kernel does (one port per direction).
    sport = tunnel_source_port(flow_key)
    udp = udp_datagram(addr(node_src), addr(node_dst), sport, dport, hdr + inner_frame)
    outer = ipv4_packet(addr(node_src), addr(node_dst), PROTO_UDP, udp, outer_ids.take(), df=False)
    return eth_for(outer, node_src, node_dst)


NODE_A, NODE_B = "172.18.0.2", "172.18.0.3"      # kind nodes: node1 owns 10.244.1.0/24, node2 10.244.2.0/24
POD_A, POD_B, POD_DNS = "10.244.1.5", "10.244.2.7", "10.244.2.9"
IDENTITY = {POD_A: 4242, POD_B: 258, POD_DNS: 5123}   # Cilium puts the source security identity in the VNI


def build_overlay():
    ids = IPv4Ids(0x5000)          # inner (pod) IPv4 ids
    outer_ids = IPv4Ids(0x6000)    # outer (node) IPv4 ids
    recs = []
    node_of = {POD_A: NODE_A, POD_B: NODE_B, POD_DNS: NODE_B}

    def tunnel_emit(kind, dport):
        def emit(ts, pkt, src, dst):
            frame = tunnel_frame(kind, dport, IDENTITY[src], eth_for(pkt, src, dst), node_of[src], node_of[dst],
                                 (kind, src, dst), outer_ids)
            recs.append((ts, frame))
        return emit

    # a) VXLAN 8472: TCP handshake, request/response, FIN both ways.
    conn = TCPConn(tunnel_emit("vxlan", 8472), ids, POD_A, 45000, POD_B, 8080, 111_000, 222_000)
    script = HANDSHAKE + EXCHANGE + CLOSE_BOTH
    last = run_script(conn, EPOCH_NS, script)
    n_tcp = len(recs)
    # b) Geneve 6081: DNS query/answer over UDP.
    emit = tunnel_emit("geneve", 6081)
    q = b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02db\x08payments\x03svc\x00\x00\x01\x00\x01"
    a = q[:2] + b"\x81\x80" + q[4:6] + b"\x00\x01" + q[8:] + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x1e\x00\x04\x0a\x60\x00\x63"
    t = last + 1 * S
    emit(t, ip_packet(POD_A, POD_DNS, PROTO_UDP, udp_datagram(addr(POD_A), addr(POD_DNS), 53000, 53, q), ids), POD_A, POD_DNS)
    emit(t + MS, ip_packet(POD_DNS, POD_A, PROTO_UDP, udp_datagram(addr(POD_DNS), addr(POD_A), 53, 53000, a), ids), POD_DNS, POD_A)
    # c) VXLAN 4789: ICMP echo request/reply, two rounds.
    emit = tunnel_emit("vxlan", 4789)
    t += 1 * S
    for sq in (1, 2):
        emit(t, ip_packet(POD_A, POD_B, PROTO_ICMP, icmp_message(8, 0, struct.pack("!HH", 0x0042, sq), b"k8s-ping" * 4), ids), POD_A, POD_B)
        emit(t + MS, ip_packet(POD_B, POD_A, PROTO_ICMP, icmp_message(0, 0, struct.pack("!HH", 0x0042, sq), b"k8s-ping" * 4), ids), POD_B, POD_A)
        t += S

    rows = [
        ("a", "VXLAN, UDP dport 8472", f"{POD_A}:45000 → {POD_B}:8080 TCP", f"{NODE_A} ↔ {NODE_B}",
         "4242 (from 10.244.1.5) / 258 (from 10.244.2.7)", f"{n_tcp}: {describe_script(script)}", "SF"),
        ("b", "Geneve, UDP dport 6081, no options, protocol 0x6558", f"{POD_A}:53000 → {POD_DNS}:53 UDP",
         f"{NODE_A} ↔ {NODE_B}", "4242 / 5123", "1 + 1 (DNS query/answer)", "SF"),
        ("c", "VXLAN, UDP dport 4789", f"ICMP echo {POD_A} → {POD_B}, id 0x42", f"{NODE_A} ↔ {NODE_B}",
         "4242 / 258", "2 + 2", "(ICMP)"),
    ]
    md = f"""# overlay-cilium.pcap

**Purpose:** pod-to-pod traffic between Kubernetes nodes, as seen on a node's uplink under Cilium's
tunnel modes. The inner flows must be found through VXLAN on **8472** (the Cilium and Linux default,
which tshark does not decode unless told), through Geneve 6081, and through VXLAN 4789.

Outer: Ethernet / IPv4 node {NODE_A} (owns 10.244.1.0/24) ↔ node {NODE_B} (owns 10.244.2.0/24) / UDP.
Each direction of an inner flow has its own outer source port (a hash of the inner flow), as the kernel
chooses it. The outer UDP checksum is computed, not zero. The VNI is the **source pod's Cilium security
identity**: 10.244.1.5 = 4242, 10.244.2.7 = 258, 10.244.2.9 (DNS) = 5123. Inner: Ethernet / IPv4 / TCP,
UDP or ICMP, with valid checksums. pcap little-endian microsecond, {len(recs)} packets.

**Expected: 3 inner flows**, each with its tunnel type and the VNI of each direction. If flowmon also
reports the outer node-to-node UDP 5-tuples as flows, there are 6 more (each inner direction has its own
outer source port). tshark: `tshark -r overlay-cilium.pcap -d udp.port==8472,vxlan -q -z conv,tcp -z conv,udp`.

{md_table(["case", "encapsulation", "inner flow (originator → responder)", "outer nodes", "VNI (identity) per direction", "inner packets", "expected conn_state"], rows)}

{regen_line("overlay-cilium.pcap")}
"""
    return {"overlay-cilium.pcap": pcap_bytes(recs, ts_per_second=S), "overlay-cilium.md": md}


# ---------------------------------------------------------------------------------------------
# 4b. overlay-flannel.pcap and overlay-segments.pcap: the VNI used as flannel and EVPN use it


FLANNEL_NODE_A, FLANNEL_NODE_B = "10.0.0.11", "10.0.0.12"   # flannel nodes: 10.244.1.0/24 and 10.244.2.0/24


def build_overlay_flannel():
    ids, outer_ids, recs = IPv4Ids(0x5400), IPv4Ids(0x6400), []
    client, server, dns = "10.244.1.12", "10.244.2.34", "10.244.2.53"
    node_of = {client: FLANNEL_NODE_A, server: FLANNEL_NODE_B, dns: FLANNEL_NODE_B}

    def emit(ts, pkt, src, dst):   # flannel's vxlan backend: VNI 1 both ways, UDP 8472 (its Linux defaults)
        recs.append((ts, tunnel_frame("vxlan", 8472, 1, eth_for(pkt, src, dst), node_of[src], node_of[dst],
                                      ("flannel", src, dst), outer_ids)))

    script = HANDSHAKE + EXCHANGE + CLOSE_BOTH
    last = run_script(TCPConn(emit, ids, client, 41000, server, 80, 333_000, 444_000), EPOCH_NS, script)
    n_tcp = len(recs)
    q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03web\x03svc\x00\x00\x01\x00\x01"
    a = q[:2] + b"\x81\x80" + q[4:6] + b"\x00\x01" + q[8:] + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x1e\x00\x04\x0a\x60\x00\x50"
    t = last + S
    emit(t, ip_packet(client, dns, PROTO_UDP, udp_datagram(addr(client), addr(dns), 52000, 53, q), ids), client, dns)
    emit(t + MS, ip_packet(dns, client, PROTO_UDP, udp_datagram(addr(dns), addr(client), 53, 52000, a), ids), dns, client)

    rows = [
        ("a", f"{client}:41000 → {server}:80 TCP", "1 / 1", f"{n_tcp}: {describe_script(script)}", "SF"),
        ("b", f"{client}:52000 → {dns}:53 UDP", "1 / 1", "1 + 1 (DNS query/answer)", "SF"),
    ]
    md = f"""# overlay-flannel.pcap

**Purpose:** pod-to-pod traffic between two nodes under flannel's `vxlan` backend with its Linux defaults:
VNI **1** in both directions, UDP port **8472**. Unlike Cilium's overlay (`overlay-cilium.pcap`), the VNI
names one network, the same both ways; every `--tunnel-key` mode gives one flow per connection.

Outer: Ethernet / IPv4 node {FLANNEL_NODE_A} (owns 10.244.1.0/24) ↔ node {FLANNEL_NODE_B} (owns 10.244.2.0/24) /
UDP 8472 / VXLAN VNI 1. Each direction of an inner flow has its own outer source port. Inner: Ethernet / IPv4 /
TCP or UDP, valid checksums. pcap little-endian microsecond, {len(recs)} packets.

**Expected: 2 inner flows**, each with `tunnel.vni` 1 and no `response_vni`.

{md_table(["case", "inner flow (originator → responder)", "VNI per direction", "inner packets", "expected conn_state"], rows)}

{regen_line("overlay-flannel.pcap")}
"""
    return {"overlay-flannel.pcap": pcap_bytes(recs, ts_per_second=S), "overlay-flannel.md": md}


VTEP_A, VTEP_B = "192.0.2.1", "192.0.2.2"            # two VXLAN tunnel endpoints (RFC 5737 documentation range)


def build_overlay_segments():
    outer_ids, recs = IPv4Ids(0x6800), []
    client, server = "192.168.10.5", "192.168.10.6"    # the same addresses in both tenants' segments
    node_of = {client: VTEP_A, server: VTEP_B}
    # (VNI, client ISN, server ISN, start offset, script): tenant 10200's connection starts 1.5 ms after
    # tenant 10100's SYN and its SYN-ACK comes first, so the two handshakes interleave.
    slow_handshake = [(0, C, SYN, b""), (4, R, SYN | ACK, b""), (1, C, ACK, b"")]
    tenants = [(10100, 555_000, 666_000, 0, slow_handshake + EXCHANGE + CLOSE_BOTH),
               (10200, 777_000, 888_000, 1500 * 1000, HANDSHAKE + EXCHANGE + CLOSE_BOTH)]
    per_tenant = []
    for n, (vni, isn_c, isn_s, offset, script) in enumerate(tenants):
        out, ids = [], IPv4Ids(0x5800 + 0x100 * n)

        def emit(ts, pkt, src, dst, vni=vni, out=out):   # one segment: the same VNI both ways (RFC 7348 §4)
            out.append((ts, tunnel_frame("vxlan", 4789, vni, eth_for(pkt, src, dst), node_of[src], node_of[dst],
                                         ("segment", vni, src, dst), outer_ids)))
        run_script(TCPConn(emit, ids, client, 40000, server, 443, isn_c, isn_s), EPOCH_NS + offset, script)
        per_tenant.append(out)
        recs.extend(out)
    recs.sort(key=lambda r: r[0])
    assert len({ts for ts, _ in recs}) == len(recs), "no two packets at the same time"

    rows = [(str(vni), f"{client}:40000 → {server}:443 TCP", f"{vni} / {vni}", f"{len(out)}: {describe_script(script)}",
             "SF") for (vni, _, _, _, script), out in zip(tenants, per_tenant)]
    md = f"""# overlay-segments.pcap

**Purpose:** one inner 5-tuple in two genuine VXLAN segments at once (RFC 7348: the VNI names the segment,
and the same inner addresses may be reused in another; EVPN tenants do this). Each segment uses its VNI in
both directions. The two handshakes interleave, and the second tenant's SYN-ACK arrives before the first's.

Outer: Ethernet / IPv4 VTEP {VTEP_A} ↔ VTEP {VTEP_B} / UDP 4789 / VXLAN. Inner: Ethernet / IPv4 / TCP with valid
checksums. pcap little-endian microsecond, {len(recs)} packets.

**Expected: 2 inner flows** by default (`--tunnel-key auto`) and with `vni`: one direction carries this
5-tuple under two VNIs, so they are two segments. `--tunnel-key none` merges them into one flow.

{md_table(["VNI", "inner flow (originator → responder)", "VNI per direction", "inner packets", "expected conn_state"], rows)}

{regen_line("overlay-segments.pcap")}
"""
    return {"overlay-segments.pcap": pcap_bytes(recs, ts_per_second=S), "overlay-segments.md": md}


# ---------------------------------------------------------------------------------------------
# 5. linktypes.pcapng


def sll2_header(ethertype, ifindex, src_mac, pkttype):
    # protocol, reserved, interface index, ARPHRD_ETHER (1), packet type, address length 6, address (8 bytes)
    return struct.pack("!HHIHBB8s", ethertype, 0, ifindex, 1, pkttype, 6, src_mac)


def build_linktypes():
    interfaces = [(1, "eth0", 6), (276, "any", 9), (228, "tun0", 6), (0, "lo0", 6)]
    ids = IPv4Ids(0x7000)
    pkts = []
    rows = []
    wrap = {
        0: lambda p, s, d: eth_for(p, s, d),
        1: lambda p, s, d: sll2_header(ETH_IPV4, 3, mac_for(s), 4 if s.endswith(".10") else 0) + p,
        2: lambda p, s, d: p,
        3: lambda p, s, d: struct.pack("<I", 2) + p,        # AF_INET in the writer's (little-endian) order
    }
    t = EPOCH_NS
    for ifidx, (linktype, name, tsresol) in enumerate(interfaces):
        client, server = "10.244.0.10", f"10.244.0.{60 + ifidx}"

        def emit(ts, pkt, src, dst, ifidx=ifidx):
            pkts.append((ts, ifidx, wrap[ifidx](pkt, src, dst)))
        conn = TCPConn(emit, ids, client, 46000 + ifidx, server, 443, 31_000 * (ifidx + 1), 41_000 * (ifidx + 1))
        # Odd nanosecond offset on the ns interface, to show the resolution is honoured.
        run_script(conn, t + (123_457 if tsresol == 9 else 0), HANDSHAKE)
        rows.append((ifidx, linktype, {1: "Ethernet", 276: "LINUX_SLL2", 228: "IPV4 (raw)", 0: "NULL (AF_INET=2, LE)"}[linktype],
                     name, "10^-9 (ns)" if tsresol == 9 else "10^-6 (default)",
                     f"{client}:{46000 + ifidx} → {server}:443", "S1 (handshake only)"))
        t += 1 * S
    md = f"""# linktypes.pcapng

**Purpose:** one pcapng section (little-endian) with four interfaces of different link types, so that
the reader must decode each Enhanced Packet Block using its own interface's link type and timestamp
resolution. Each interface carries one TCP handshake (SYN, SYN-ACK, ACK, 1 ms apart). The handshakes
are 1 s apart and use distinct 5-tuples.

Interface 1 (SLL2) has `if_tsresol` = 9, so its timestamps are in nanoseconds: its first packet is at
+1.000123457 s, a value that microsecond rounding would change. The other interfaces use the default
resolution (microseconds). The SLL2 header has interface index 3, ARPHRD_ETHER, and packet type 4
(outgoing) for the client's packets or 0 (to us) for the server's. The NULL header is AF_INET (2) in
little-endian, the byte order of the file. {len(pkts)} packets.

**Expected: 4 TCP flows**, each 2 + 1 packets, conn_state S1 (handshake completed, no data, no close),
flushed at end of file.

**libpcap cannot read this file.** libpcap 1.10 (Debian 12) rejects a pcapng section whose interfaces
have different link types: `pcap_open_offline` succeeds, then the first `pcap_next_ex` fails with "an
interface has a type 276 different from the type of the first interface". tshark reads the file. The real
`pcapng-11-interfaces-ether-null-raw.pcapng` and `pcapng-multisection-custom-blocks.pcapng` fail the
same way (`Benchmarks/c/pcap_count` reads 0 packets from each). A reader built only on libpcap
therefore needs its own pcapng block reader for these files, or must report a clear error.

{md_table(["IDB", "linktype", "name", "if_name", "ts resolution", "flow (originator → responder)", "expected"], rows)}

{regen_line("linktypes.pcapng")}
"""
    return {"linktypes.pcapng": pcapng_bytes(interfaces, pkts), "linktypes.md": md}


# ---------------------------------------------------------------------------------------------
# 6. idle-timeouts.pcap


def build_idle_timeouts():
    ids = IPv4Ids(0x8000)
    recs = []

    def emit(ts, pkt, src, dst):
        recs.append((ts, eth_for(pkt, src, dst)))

    def udp_one_way(ts, sport, dport, dst):
        src = "10.244.0.10"
        emit(ts, ip_packet(src, dst, PROTO_UDP, udp_datagram(addr(src), addr(dst), sport, dport, b"metric:1|c"), ids), src, dst)

    rows = []
    t0 = EPOCH_NS
    # a) one-way UDP (state stays "new"), 31 s gap -> splits.
    udp_one_way(t0, 45000, 8125, "10.244.0.60")
    udp_one_way(t0 + 31 * S, 45000, 8125, "10.244.0.60")
    rows.append(("a", "UDP 10.244.0.10:45000 → 10.244.0.60:8125", "t=0, t=31 s", "new (30 s)",
                 "**2 flows**, 1 packet each: the gap is longer than the new-flow timeout"))
    # b) control: one-way UDP, 29 s gap -> one flow.
    udp_one_way(t0 + 100 * MS, 45001, 8125, "10.244.0.61")
    udp_one_way(t0 + 100 * MS + 29 * S, 45001, 8125, "10.244.0.61")
    rows.append(("b", "UDP 10.244.0.10:45001 → 10.244.0.61:8125", "t=0.1, t=29.1 s", "new (30 s)",
                 "**1 flow**, 2 packets (control for a)"))
    # c) established TCP, 290 s silence, then data and a normal close -> one SF flow.
    conn = TCPConn(emit, ids, "10.244.0.10", 46000, "10.244.0.62", 8080, 5_000, 6_000)
    last = run_script(conn, t0 + 200 * MS, HANDSHAKE + EXCHANGE)
    end_c = run_script(conn, last + 290 * S, EXCHANGE + CLOSE_BOTH)
    rows.append(("c", "TCP 10.244.0.10:46000 → 10.244.0.62:8080", "handshake + data, 290 s gap, data + FIN both ways",
                 "established (300 s)", "**1 flow**, conn_state SF, 14 packets (7 + 7)"))
    # d) established TCP, 301 s silence -> first flow times out (S1), the rest is a new midstream flow.
    conn = TCPConn(emit, ids, "10.244.0.10", 46001, "10.244.0.63", 8080, 7_000, 8_000)
    last = run_script(conn, t0 + 300 * MS, HANDSHAKE + EXCHANGE)
    run_script(conn, last + 301 * S, EXCHANGE + CLOSE_BOTH)
    rows.append(("d", "TCP 10.244.0.10:46001 → 10.244.0.63:8080", "handshake + data, 301 s gap, data + FIN both ways",
                 "established (300 s)", "**2 flows**: 7 packets (S1, ended by timeout), then 7 packets without a SYN "
                 "(midstream; Zeek would call it OTH, or SF if FINs both ways count as a close; originator 10.244.0.10)"))
    # e) closed TCP, late ACK 11 s after the close -> closed flow expires; the late packet is a new flow.
    conn = TCPConn(emit, ids, "10.244.0.10", 46002, "10.244.0.64", 8080, 9_000, 10_000)
    last = run_script(conn, t0 + 400 * MS, HANDSHAKE + EXCHANGE + CLOSE_BOTH)
    conn.send(last + 11 * S, C, ACK)
    rows.append(("e", "TCP 10.244.0.10:46002 → 10.244.0.64:8080", "full SF session, then a bare ACK 11 s after the last ACK",
                 "closed (10 s)", "**2 flows**: SF (10 packets), then a 1-packet midstream flow (OTH)"))
    # f) control: closed TCP, late ACK 9 s after the close -> stays in the same flow.
    conn = TCPConn(emit, ids, "10.244.0.10", 46003, "10.244.0.65", 8080, 11_000, 12_000)
    last = run_script(conn, t0 + 500 * MS, HANDSHAKE + EXCHANGE + CLOSE_BOTH)
    conn.send(last + 9 * S, C, ACK)
    rows.append(("f", "TCP 10.244.0.10:46003 → 10.244.0.65:8080", "full SF session, then a bare ACK 9 s after the last ACK",
                 "closed (10 s)", "**1 flow**, SF, 11 packets (control for e)"))
    recs.sort(key=lambda r: r[0])   # stable: packets of one flow keep their order

    md = f"""# idle-timeouts.pcap

**Purpose:** flows whose gaps fall just inside or just outside flowmon's default idle timeouts:
**new 30 s** (flows with no reply and no completed handshake), **established 300 s**, **closed 10 s**
(after FIN both ways or RST). Each case that crosses a timeout has a control case that stays just
inside it. The flows are interleaved in time, as they would be on a real node. Ethernet, pcap
little-endian microsecond, {len(recs)} packets, about {(recs[-1][0] - recs[0][0]) // S} s of capture time.

The UDP cases send in one direction only, so the flow stays "new" whatever flowmon's rule for
UDP becoming established. A gap counts from the flow's last packet to the next packet.

**Expected: 9 flows** (a: 2, b: 1, c: 1, d: 2, e: 2, f: 1).

{md_table(["case", "5-tuple", "timeline", "timeout tested", "expected"], rows)}

If a timeout is changed (e.g. `--timeout-new`), the expected split moves with it. The ±1 s margins
leave room for inclusive or exclusive comparison.

{regen_line("idle-timeouts.pcap")}
"""
    return {"idle-timeouts.pcap": pcap_bytes(recs, ts_per_second=S), "idle-timeouts.md": md}


# ---------------------------------------------------------------------------------------------


BUILDERS = [build_tcp_conn_states, build_udp_icmp, build_fragments, build_overlay, build_overlay_flannel,
            build_overlay_segments, build_linktypes, build_idle_timeouts]


def main(argv):
    check = "--check" in argv
    if any(a != "--check" for a in argv):
        print("usage: python3 Captures/generate.py [--check]", file=sys.stderr)
        return 2
    os.makedirs(OUT_DIR, exist_ok=True)
    stale = []
    for build in BUILDERS:
        for name, content in build().items():
            data = content.encode() if isinstance(content, str) else content
            path = os.path.join(OUT_DIR, name)
            if check:
                try:
                    same = open(path, "rb").read() == data
                except FileNotFoundError:
                    same = False
                if not same:
                    stale.append(name)
            else:
                with open(path, "wb") as f:
                    f.write(data)
                print(f"wrote {os.path.relpath(path)} ({len(data)} bytes)")
    if check:
        if stale:
            print("out of date (run python3 Captures/generate.py): " + ", ".join(stale), file=sys.stderr)
            return 1
        print("Captures/synthetic is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
