#!/usr/bin/env python3
"""Writes Captures/l7/http-upgrade.pcap: an HTTP connection that becomes a WebSocket, cut by the snapshot length.

Synthetic (standard library, Captures/packetlib.py; deterministic), with the addresses of
l7-egress.pcap (README.md): shop/frontend-1 (10.244.1.10:43000) sends `GET /ws` with
`Upgrade: websocket` to 203.0.113.10:80, which answers `101 Switching Protocols` (RFC 9110
15.2.2): from then on the connection carries WebSocket frames (RFC 6455), not HTTP, and the HTTP
parser reads neither direction. Four frames of 6,000 bytes follow each way, in segments as large
as a capture after GRO holds them (6,040-byte IPv4 packets): a pipeline worker gets at most 4 KiB
of a packet's payload, but these are of a connection no longer read, so the cut is not a loss to
count (`payload_cut` 0), and the capture thread stops sending their payload once the worker says
it stopped reading. Then a second connection on the same ports, a plain `GET /health` answered
`200 OK`: read from its start.

Run: python3 Captures/l7/http-upgrade.py
"""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from packetlib import ACK, FIN, PSH, SYN, PROTO_TCP, ethernet, ipv4_packet, pcap_bytes, tcp_segment  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
POD, WORLD = "10.244.1.10", "203.0.113.10"
POD_MAC, NODE_MAC = bytes.fromhex("0a580af4010a"), bytes.fromhex("0a580af40101")


def frames():
    out, ident = [], [0]

    def tcp(time, src, dst, sport, dport, seq, ack, flags, payload=b""):
        ident[0] += 1
        segment = tcp_segment(src, dst, sport, dport, seq, ack, flags, payload)
        frame = ethernet(ipv4_packet(src, dst, PROTO_TCP, segment, ident[0]), POD_MAC if src == POD else NODE_MAC,
                         NODE_MAC if src == POD else POD_MAC)
        out.append((time, frame))

    def opening(t, c, s, request, response):
        """The handshake, a request and its response from time t (client sequence c, server s):
        the next sequence numbers each way."""
        tcp(t, POD, WORLD, 43000, 80, c, 0, SYN)
        tcp(t + 50, WORLD, POD, 80, 43000, s, c + 1, SYN | ACK)
        tcp(t + 100, POD, WORLD, 43000, 80, c + 1, s + 1, ACK)
        tcp(t + 150, POD, WORLD, 43000, 80, c + 1, s + 1, PSH | ACK, request)
        c, s = c + 1 + len(request), s + 1
        tcp(t + 400, WORLD, POD, 80, 43000, s, c, PSH | ACK, response)
        return c, s + len(response)

    def closing(t, c, s):
        tcp(t, POD, WORLD, 43000, 80, c, s, FIN | ACK)
        tcp(t + 50, WORLD, POD, 80, 43000, s, c + 1, FIN | ACK)
        tcp(t + 100, POD, WORLD, 43000, 80, c + 1, s + 1, ACK)

    t, c, s = 1_700_000_000_000_000, 2000, 8000
    request = (b"GET /ws HTTP/1.1\r\nHost: api.example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    response = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    c, s = opening(t, c, s, request, response)
    # WebSocket binary frames of 6,000 bytes: FIN + opcode 2, 126 = a 16-bit length follows
    # (the client's masked, RFC 6455 5.2-5.3).
    for index in range(4):
        body = bytes((index + n) & 0xFF for n in range(5996))
        client = b"\x82\xfe" + struct.pack("!H", 5992) + b"\x01\x02\x03\x04" + body[:5992]
        server = b"\x82\x7e" + struct.pack("!H", 5996) + body
        tcp(t + 1000 * (index + 1), POD, WORLD, 43000, 80, c, s, PSH | ACK, client)
        c += len(client)
        tcp(t + 1000 * (index + 1) + 300, WORLD, POD, 80, 43000, s, c, PSH | ACK, server)
        s += len(server)
    closing(t + 9000, c, s)
    # The same ports again, a plain request: a new connection, read from its start (the stop of
    # the first, which a worker may send after this one began, is not this one's).
    t = t + 20_000
    c, s = opening(t, 50_000, 90_000, b"GET /health HTTP/1.1\r\nHost: api.example.test\r\n\r\n",
                   b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    closing(t + 500, c, s)
    return out


if __name__ == "__main__":
    with open(os.path.join(HERE, "http-upgrade.pcap"), "wb") as f:
        f.write(pcap_bytes(frames()))
