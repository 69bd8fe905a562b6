#!/usr/bin/env python3
"""Writes Captures/l7/dns-tcp-split.pcap from Captures/l7/l7-egress.pcap (real traffic, see README.md).

The same frames, except:
- exchange 8's DNS over TCP (`dig +tcp other.example.test`) is re-cut as a sender may cut it
  (RFC 7766 section 8): the query in two segments (1 byte, then the rest: the length prefix split),
  the answer in three (1 byte, 29 bytes, then the rest). Each new segment keeps the original's
  headers and TCP options, with its sequence number, IP length and both checksums recomputed.
- exchange 7's connection attempt to 203.0.113.20 (other.example.test) is repeated 1 s after the
  last frame, so it starts after the name was learned from that answer.

Standard library only; deterministic. Run: python3 Captures/l7/split-dns-tcp.py
"""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from packetlib import checksum, pseudo_header, PROTO_TCP  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def read_pcap(path):
    data = open(path, "rb").read()
    assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4, "little-endian microsecond pcap"
    header, records, offset = data[:24], [], 24
    while offset < len(data):
        seconds, micros, caplen, wirelen = struct.unpack("<IIII", data[offset:offset + 16])
        records.append((seconds * 1_000_000 + micros, data[offset + 16:offset + 16 + caplen]))
        offset += 16 + caplen
    return header, records


def tcp_fields(frame):
    """(ip header offset, ip header length, tcp header length, src, dst, sport, dport, seq) of an Ethernet/IPv4/TCP frame, else None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != PROTO_TCP:
        return None
    ihl = (frame[14] & 0x0F) * 4
    tcp = 14 + ihl
    sport, dport, seq = struct.unpack("!HHI", frame[tcp:tcp + 8])
    return 14, ihl, (frame[tcp + 12] >> 4) * 4, frame[26:30], frame[30:34], sport, dport, seq


def resegment(frame, pieces):
    """The frame's TCP payload cut into segments of the given sizes (the last takes the rest)."""
    ip, ihl, thl, src, dst, sport, dport, seq = tcp_fields(frame)
    head, payload = frame[:ip + ihl + thl], frame[ip + ihl + thl:]
    cuts, start = [], 0
    for size in pieces + [len(payload)]:
        end = min(start + size, len(payload))
        cuts.append((start, end))
        start = end
    frames = []
    for start, end in cuts:
        if start == end:
            continue
        out = bytearray(head + payload[start:end])
        struct.pack_into("!H", out, ip + 2, ihl + thl + end - start)          # IPv4 total length
        struct.pack_into("!H", out, ip + 10, 0)
        struct.pack_into("!H", out, ip + 10, checksum(bytes(out[ip:ip + ihl])))
        tcp = ip + ihl
        struct.pack_into("!I", out, tcp + 4, (seq + start) & 0xFFFFFFFF)
        struct.pack_into("!H", out, tcp + 16, 0)
        segment = bytes(out[tcp:])
        struct.pack_into("!H", out, tcp + 16, checksum(pseudo_header(src, dst, PROTO_TCP, len(segment)) + segment))
        frames.append(bytes(out))
    return frames


def main():
    header, records = read_pcap(os.path.join(HERE, "l7-egress.pcap"))
    out, repeated = [], []
    other = bytes([203, 0, 113, 20])
    for time, frame in records:
        fields = tcp_fields(frame)
        payload = fields and len(frame) - (fields[0] + fields[1] + fields[2])
        if fields and 53 in (fields[5], fields[6]) and payload:
            pieces = [1] if fields[6] == 53 else [1, 29]
            out.extend((time, piece) for piece in resegment(frame, pieces))
            continue
        if fields and other in (fields[3], fields[4]):
            repeated.append((time, frame))
        out.append((time, frame))
    shift = out[-1][0] + 1_000_000 - repeated[0][0]
    out.extend((time + shift, frame) for time, frame in repeated)
    with open(os.path.join(HERE, "dns-tcp-split.pcap"), "wb") as f:
        f.write(header)
        for time, frame in out:
            f.write(struct.pack("<IIII", time // 1_000_000, time % 1_000_000, len(frame), len(frame)) + frame)


if __name__ == "__main__":
    main()
