#!/usr/bin/env python3
"""gen_small_frames.py -- a capture of minimum-size frames, where per-packet cost dominates.

Writes a classic pcap (LINKTYPE_ETHERNET, microsecond timestamps) of --packets frames of
exactly 64 bytes on the wire (60 captured: Ethernet + IPv4 + TCP or UDP + padding, the FCS is
not captured), spread over --flows bidirectional connections between pod addresses
(10.244.0.0/16) and services, 70% TCP (SYN, SYN-ACK, then ACKs both ways), 30% UDP. Each
connection sends packets in both directions. Deterministic for given options (--seed).

Usage: gen_small_frames.py --packets 2000000 --flows 50000 --out small.pcap [--seed 1]
Standard library only.
"""
import argparse
import random
import struct
import sys


def checksum(data):
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(src, dst, proto, sport, dport, flags, seq, ack, ident):
    """Ethernet + IPv4 (RFC 791) + TCP (RFC 9293, 20 bytes) or UDP (RFC 768, 8 bytes), padded to 60 bytes."""
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0)
    else:
        l4 = struct.pack("!HHHH", sport, dport, 8, 0)
    total = 20 + len(l4)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident & 0xFFFF, 0x4000, 64, proto, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    pseudo = src + dst + struct.pack("!BBH", 0, proto, len(l4))
    csum = checksum(pseudo + l4)
    l4 = l4[:16] + struct.pack("!H", csum) + l4[18:] if proto == 6 else l4[:6] + struct.pack("!H", csum or 0xFFFF)
    eth = bytes.fromhex("0a580af40001") + bytes.fromhex("0a580af40002") + b"\x08\x00"
    data = eth + ip + l4
    return data + b"\0" * (60 - len(data))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, default=2_000_000)
    parser.add_argument("--flows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    flows = []
    for index in range(args.flows):
        client = bytes([10, 244, index % 200, 2 + (index // 200) % 250])
        server = bytes([10, 96 + (index % 7), rng.randrange(256), rng.randrange(1, 255)])
        proto = 6 if rng.random() < 0.7 else 17
        flows.append((client, server, proto, 32768 + index % 28000, rng.choice([80, 443, 53, 6379, 5432, 8080])))
    start = 1_767_225_600
    with open(args.out, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        sent = [0] * args.flows
        for number in range(args.packets):
            # Every flow starts within the first half; later packets pick flows at random.
            index = number if number < args.flows else rng.randrange(args.flows)
            client, server, proto, sport, dport = flows[index]
            step = sent[index]
            sent[index] += 1
            from_client = step % 2 == 0
            if proto == 6:
                flags = 0x02 if step == 0 else 0x12 if step == 1 else 0x10
            else:
                flags = 0
            src, dst = (client, server) if from_client else (server, client)
            sp, dp = (sport, dport) if from_client else (dport, sport)
            data = frame(src, dst, proto, sp, dp, flags, 1000 + step, 2000 + step if step else 0, number)
            micros = number * 5  # 200,000 packets per second of capture time
            out.write(struct.pack("<IIII", start + micros // 1_000_000, micros % 1_000_000, len(data), 64))
            out.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
