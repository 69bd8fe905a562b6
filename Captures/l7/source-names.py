#!/usr/bin/env python3
"""Writes Captures/l7/source-names.pcap: a server that looked up its client, for `source_names`.

Synthetic (standard library, Captures/packetlib.py; deterministic), with the addresses of
l7-egress.pcap (README.md):
1. shop/frontend-1 (10.244.1.10) asks kube-system/coredns-1 (10.244.1.53) for
   callback.example.test over UDP; the answer is 203.0.113.30, TTL 300 (RFC 1035 4.1).
2. 203.0.113.30:40000 opens a TCP connection to frontend-1:8080 (a webhook calling back the pod
   that resolved it) and sends `GET /hook HTTP/1.1`; the pod answers 204 and both ends close.
   The responder had looked the initiator up: Hubble names it in `source_names` (and flowmon
   in `src_names`), not in `destination_names`.
3. frontend-1:41000 opens a connection to 203.0.113.30:443 (SYN, SYN-ACK, RST): the usual way,
   whose names are `destination_names` (`dest_names`).

Run: python3 Captures/l7/source-names.py
"""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from packetlib import ACK, FIN, PSH, RST, SYN, PROTO_TCP, PROTO_UDP, ethernet, ipv4_packet, pcap_bytes, tcp_segment, udp_datagram  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
POD, RESOLVER, WORLD = "10.244.1.10", "10.244.1.53", "203.0.113.30"
POD_MAC, NODE_MAC = bytes.fromhex("0a580af4010a"), bytes.fromhex("0a580af40101")
NAME = b"\x08callback\x07example\x04test\x00"


def dns(ident, response):
    """A query for callback.example.test A, or its NOERROR answer (203.0.113.30, TTL 300)."""
    flags = 0x8180 if response else 0x0100
    header = struct.pack("!HHHHHH", ident, flags, 1, 1 if response else 0, 0, 0)
    question = NAME + struct.pack("!HH", 1, 1)
    answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + bytes(int(x) for x in WORLD.split(".")) if response else b""
    return header + question + answer


def frames():
    out, ident = [], [0]

    def send(time, src, dst, proto, payload):
        ident[0] += 1
        frame = ethernet(ipv4_packet(src, dst, proto, payload, ident[0]), POD_MAC if src == POD else NODE_MAC,
                         NODE_MAC if src == POD else POD_MAC)
        out.append((time, frame))

    def tcp(time, src, dst, sport, dport, seq, ack, flags, payload=b""):
        send(time, src, dst, PROTO_TCP, tcp_segment(src, dst, sport, dport, seq, ack, flags, payload))

    base = 1_700_000_000_000_000
    send(base, POD, RESOLVER, PROTO_UDP, udp_datagram(POD, RESOLVER, 35000, 53, dns(0x1234, False)))
    send(base + 900, RESOLVER, POD, PROTO_UDP, udp_datagram(RESOLVER, POD, 53, 35000, dns(0x1234, True)))
    # 2. The world calls the pod back.
    t, c, s = base + 100_000, 1000, 5000
    request = b"GET /hook HTTP/1.1\r\nHost: frontend-1:8080\r\nUser-Agent: hook/1.0\r\n\r\n"
    response = b"HTTP/1.1 204 No Content\r\n\r\n"
    tcp(t, WORLD, POD, 40000, 8080, c, 0, SYN)
    tcp(t + 50, POD, WORLD, 8080, 40000, s, c + 1, SYN | ACK)
    tcp(t + 100, WORLD, POD, 40000, 8080, c + 1, s + 1, ACK)
    tcp(t + 150, WORLD, POD, 40000, 8080, c + 1, s + 1, PSH | ACK, request)
    tcp(t + 400, POD, WORLD, 8080, 40000, s + 1, c + 1 + len(request), PSH | ACK, response)
    tcp(t + 450, WORLD, POD, 40000, 8080, c + 1 + len(request), s + 1 + len(response), FIN | ACK)
    tcp(t + 500, POD, WORLD, 8080, 40000, s + 1 + len(response), c + 2 + len(request), FIN | ACK)
    tcp(t + 550, WORLD, POD, 40000, 8080, c + 2 + len(request), s + 2 + len(response), ACK)
    # 3. The pod calls the world.
    t = base + 200_000
    tcp(t, POD, WORLD, 41000, 443, 7000, 0, SYN)
    tcp(t + 60, WORLD, POD, 443, 41000, 9000, 7001, SYN | ACK)
    tcp(t + 100, POD, WORLD, 41000, 443, 7001, 0, RST)
    return out


if __name__ == "__main__":
    with open(os.path.join(HERE, "source-names.pcap"), "wb") as f:
        f.write(pcap_bytes(frames()))
