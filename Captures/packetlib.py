"""Packet-building helpers shared by the capture generators in Captures/.

Used by Captures/generate.py, Captures/alerts/generate.py and Captures/policy-probes/generate.py.
Standard library only and deterministic. Header builders return bytes in network byte order with
every checksum computed; pcap_bytes writes a little-endian file. IPv4 addresses may be given as
dotted-quad strings or as 4 bytes, IPv6 addresses (pseudo_header, tcp_segment, udp_datagram) as 16 bytes.
"""

import struct
import zlib

PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17           # IANA protocol numbers
ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD                    # EtherTypes
FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20   # TCP flags
LINKTYPE_ETHERNET = 1


# ---------------------------------------------------------------------------------------------
# Addresses and checksums


def ip4(s):
    """Dotted-quad IPv4 address to 4 bytes (RFC 791); bytes pass through unchanged."""
    return s if isinstance(s, bytes) else bytes(int(x) for x in s.split("."))


def bridge_mac(address):
    """Bridge-CNI style MAC 0a:58 + the last four address bytes (not from an RFC; readable frames)."""
    return b"\x0a\x58" + address[-4:]


def checksum(data):
    """Internet checksum: ones' complement of the ones' complement sum of 16-bit words (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def pseudo_header(src, dst, proto, length):
    """TCP/UDP checksum pseudo-header, IPv4 (RFC 9293 3.1, RFC 768) or IPv6 (RFC 8200 8.1)."""
    src, dst = ip4(src), ip4(dst)
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


# ---------------------------------------------------------------------------------------------
# Headers


class IPv4Ids:
    """Deterministic per-file counter for the IPv4 Identification field (RFC 791)."""

    def __init__(self, start=0x1000):
        self.next = start

    def take(self):
        """Next identification value, wrapping at 16 bits (RFC 791)."""
        self.next = (self.next + 1) & 0xFFFF
        return self.next


def ipv4_packet(src, dst, proto, payload, ident, ttl=64, df=True, frag_off=0, more=False):
    """IPv4 header without options (IHL 5), checksummed, plus payload; frag_off in bytes (RFC 791)."""
    flags = (0x4000 if df else 0) | (0x2000 if more else 0) | (frag_off // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags, ttl, proto, 0,
                      ip4(src), ip4(dst))
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:] + payload


def tcp_segment(src, dst, sport, dport, seq, ack, flags, payload=b"", window=64240, mss=True):
    """TCP segment with checksum; an MSS 1460 option on SYN and SYN-ACK unless mss=False (RFC 9293)."""
    opts = struct.pack("!BBH", 2, 4, 1460) if (flags & SYN and mss) else b""
    off = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off << 4, flags, window, 0, 0) + opts
    seg = hdr + payload
    c = checksum(pseudo_header(src, dst, PROTO_TCP, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp_datagram(src, dst, sport, dport, payload):
    """UDP datagram with checksum; a computed 0 is sent as 0xFFFF (RFC 768)."""
    length = 8 + len(payload)
    dg = struct.pack("!HHHH", sport, dport, length, 0) + payload
    c = checksum(pseudo_header(src, dst, PROTO_UDP, length) + dg) or 0xFFFF
    return dg[:6] + struct.pack("!H", c) + dg[8:]


def icmp_message(icmp_type, code, rest, payload=b""):
    """ICMP message: type, code, checksum, the 4-byte rest of header, then payload (RFC 792)."""
    msg = struct.pack("!BBH", icmp_type, code, 0) + rest + payload
    return msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]


def icmp_echo(icmp_type, ident, seq, payload=b""):
    """ICMP echo request (type 8) or reply (type 0) with identifier and sequence number (RFC 792)."""
    return icmp_message(icmp_type, 0, struct.pack("!HH", ident, seq), payload)


def vxlan_header(vni):
    """VXLAN header: flags 0x08 (I bit, VNI valid), 24-bit VNI (RFC 7348 5)."""
    return struct.pack("!BxxxI", 0x08, vni << 8)


def tunnel_source_port(flow_key):
    """Outer UDP source port 49152-65535 from a hash of the inner flow (VXLAN RFC 7348 5, Geneve RFC 8926 3.3)."""
    return 49152 + zlib.crc32(repr(flow_key).encode()) % 16384


def ethernet(ip_pkt, src_mac, dst_mac):
    """Ethernet II frame; EtherType from the IP version nibble (RFC 894 IPv4, RFC 2464 IPv6)."""
    ethertype = ETH_IPV4 if ip_pkt[0] >> 4 == 4 else ETH_IPV6
    return dst_mac + src_mac + struct.pack("!H", ethertype) + ip_pkt


# ---------------------------------------------------------------------------------------------
# Files


def pcap_bytes(records, linktype=LINKTYPE_ETHERNET, snaplen=262144, ts_per_second=1_000_000):
    """Classic pcap (draft-ietf-opsawg-pcap), little-endian, microseconds; records: [(ts, frame)], ts in 1/ts_per_second s."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)]
    for ts, frame in records:
        us = ts * 1_000_000 // ts_per_second
        out.append(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)


def md_table(header, rows):
    """Markdown (GitHub) table of a header row and rows of any values, for the fixtures' notes."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)
