#!/usr/bin/env python3
"""Writes the policy-probe fixtures: one probe connection per expectation row of
Tests/ReplayTests/PolicyProbeTests.swift (TCP SYN + SYN-ACK, a UDP datagram, or an ICMP echo
request + reply), plus the inventory the policies in Policies/conformance/ are written for.

Deterministic (fixed timestamps, ports and addresses; stdlib only). Run from the repository root:

    python3 Captures/policy-probes/generate.py

Outputs, in Captures/policy-probes/: policy-probes.pcap, policy-probes.pods.json,
policy-probes.namespaces.json, policy-probes.nodes.json.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_IP = "192.168.1.10"
REMOTE_NODE_IP = "192.168.1.11"

# (namespace, name, labels, ip)
CLIENTS = [
    ("x", "a", {"pod": "a"}, "10.0.1.1"),
    ("x", "b", {"pod": "b"}, "10.0.1.2"),
    ("y", "a", {"pod": "a"}, "10.0.2.1"),
    ("y", "b", {"pod": "b"}, "10.0.2.2"),
    ("y", "c", {"pod": "c"}, "10.0.2.3"),
    ("z", "a", {"pod": "a"}, "10.0.3.1"),
]
# One pod per case, labeled `case: <name>`, so the cases' policies never select each other's pods.
CASES = ["s2", "s3", "s4", "s5", "e6", "s7", "e8", "s9", "s10", "s11", "e12", "s13", "s14", "e15", "s16",
         "s17", "s18", "e19"]
PODS = list(CLIENTS)
for case in CASES:
    PODS.append(("x", case, {"case": case}, "10.0.1.%d" % (100 + int(case[1:]))))
PODS.append(("dd", "s1", {"case": "s1"}, "10.0.4.1"))

NAMED_PORTS = [("serve-80-tcp", 80, "TCP"), ("serve-81-tcp", 81, "TCP"),
               ("serve-80-udp", 80, "UDP"), ("serve-81-udp", 81, "UDP")]

# (source, destination, protocol, destination port or ICMP type). Names resolve through PODS,
# "host" is the local node, anything else is an address literal. Keep in step with the
# expectation table in Tests/ReplayTests/PolicyProbeTests.swift.
PROBES = [
    ("x/a", "dd/s1", "TCP", 80), ("dd/s1", "x/a", "TCP", 80),
    ("x/b", "x/s2", "TCP", 80), ("y/b", "x/s2", "TCP", 80),
    ("y/a", "x/s3", "TCP", 80), ("z/a", "x/s3", "TCP", 80),
    ("y/a", "x/s4", "TCP", 81), ("y/b", "x/s4", "TCP", 80),
    ("z/a", "x/s5", "TCP", 81), ("z/a", "x/s5", "TCP", 80),
    ("x/e6", "y/a", "TCP", 80),
    ("y/a", "x/s7", "UDP", 81), ("y/b", "x/s7", "TCP", 81),
    ("x/e8", "203.0.113.20", "TCP", 443), ("x/e8", "203.0.113.10", "TCP", 443), ("x/e8", "y/a", "TCP", 80),
    ("203.0.113.50", "x/s9", "TCP", 80), ("203.0.113.50", "x/s9", "TCP", 81),
    ("x/a", "x/s10", "TCP", 80), ("y/a", "x/s10", "TCP", 80),
    ("y/b", "x/s11", "TCP", 80), ("y/a", "x/s11", "TCP", 80),
    ("x/e12", "203.0.113.10", "TCP", 443), ("x/e12", "y/a", "TCP", 80),
    ("y/a", "x/s13", "ICMP", 8), ("y/b", "x/s13", "TCP", 80),
    ("y/a", "x/s14", "TCP", 8080), ("y/b", "x/s14", "TCP", 8081),
    ("x/e15", "203.0.113.10", "TCP", 443),
    ("203.0.113.60", "x/s16", "TCP", 80), ("y/a", "x/s16", "TCP", 80),
    ("host", "x/s17", "TCP", 80), ("y/a", "x/s17", "TCP", 80),
    ("y/b", "x/s18", "TCP", 80), ("y/b", "x/s18", "TCP", 81),
    ("x/e19", "y/c", "TCP", 80),
]


def address(name):
    if name == "host":
        return NODE_IP
    for namespace, pod, _, ip in PODS:
        if "%s/%s" % (namespace, pod) == name:
            return ip
    return name


def ip_bytes(text):
    return bytes(int(part) for part in text.split("."))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def ipv4(source, destination, protocol, payload, ident):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, protocol, 0,
                         ip_bytes(source), ip_bytes(destination))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def pseudo(source, destination, protocol, length):
    return ip_bytes(source) + ip_bytes(destination) + struct.pack("!BBH", 0, protocol, length)


def tcp(source, destination, sport, dport, seq, ack, flags):
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0)
    value = checksum(pseudo(source, destination, 6, len(header)) + header)
    return header[:16] + struct.pack("!H", value) + header[18:]


def udp(source, destination, sport, dport, payload):
    header = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    value = checksum(pseudo(source, destination, 17, len(header) + len(payload)) + header + payload) or 0xFFFF
    return header[:6] + struct.pack("!H", value) + payload


def icmp(kind, ident, sequence):
    body = struct.pack("!BBHHH", kind, 0, 0, ident, sequence) + b"probe"
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def ethernet(payload):
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + payload


def packets():
    time = 1_735_725_600_000_000  # 2025-01-01T10:00:00Z, microseconds
    result = []
    for index, (source_name, destination_name, protocol, port) in enumerate(PROBES):
        source, destination = address(source_name), address(destination_name)
        sport = 40000 + index
        if protocol == "TCP":
            result.append((time, ipv4(source, destination, 6, tcp(source, destination, sport, port, 1000 + index, 0, 0x02), index)))
            result.append((time + 100, ipv4(destination, source, 6,
                                            tcp(destination, source, port, sport, 5000 + index, 1001 + index, 0x12), index)))
        elif protocol == "UDP":
            result.append((time, ipv4(source, destination, 17, udp(source, destination, sport, port, b"probe"), index)))
        else:
            result.append((time, ipv4(source, destination, 1, icmp(port, sport, 1), index)))
            result.append((time + 100, ipv4(destination, source, 1, icmp(0, sport, 1), index)))
        time += 10_000
    return result


def write_pcap(path):
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for micros, packet in packets():
            frame = ethernet(packet)
            out.write(struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)))
            out.write(frame)


def write_json(path, value):
    with open(path, "w") as out:
        json.dump(value, out, indent=1, sort_keys=True)
        out.write("\n")


def main():
    pods = []
    for namespace, name, labels, ip in PODS:
        pods.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"nodeName": "node-1", "containers": [{"name": "main", "ports": [
                {"name": port_name, "containerPort": number, "protocol": protocol}
                for port_name, number, protocol in NAMED_PORTS]}]},
            "status": {"podIP": ip, "podIPs": [{"ip": ip}], "hostIP": NODE_IP},
        })
    namespaces = [{"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": name, "labels": {"ns": name, "kubernetes.io/metadata.name": name}}}
                  for name in ["dd", "x", "y", "z"]]
    nodes = [{"apiVersion": "v1", "kind": "Node",
              "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
              "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}
             for name, ip in [("node-1", NODE_IP), ("node-2", REMOTE_NODE_IP)]]
    write_pcap(os.path.join(HERE, "policy-probes.pcap"))
    write_json(os.path.join(HERE, "policy-probes.pods.json"), {"apiVersion": "v1", "kind": "List", "items": pods})
    write_json(os.path.join(HERE, "policy-probes.namespaces.json"),
               {"apiVersion": "v1", "kind": "List", "items": namespaces})
    write_json(os.path.join(HERE, "policy-probes.nodes.json"), {"apiVersion": "v1", "kind": "List", "items": nodes})


if __name__ == "__main__":
    main()
