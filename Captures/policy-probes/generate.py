#!/usr/bin/env python3
"""Writes the policy-probe fixtures: one probe connection per expectation row of
Tests/ReplayTests/PolicyProbeTests.swift (TCP SYN + SYN-ACK, a UDP datagram, or an ICMP echo
request + reply), plus the inventory the policies in Policies/conformance/ are written for.

Deterministic (fixed timestamps, ports and addresses; stdlib only, packets built with
../packetlib.py). Run from the repository root:

    python3 Captures/policy-probes/generate.py

Outputs, in Captures/policy-probes/: policy-probes.pcap, policy-probes.pods.json,
policy-probes.namespaces.json, policy-probes.nodes.json.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))      # Captures/, for packetlib.py
sys.dont_write_bytecode = True                 # no Captures/__pycache__ next to the fixtures
from packetlib import (  # noqa: E402
    ACK, PROTO_ICMP, PROTO_TCP, PROTO_UDP, SYN, ethernet, icmp_echo, ipv4_packet, pcap_bytes, tcp_segment,
    udp_datagram)

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


# Every frame goes 02:00:00:00:00:01 -> 02:00:00:00:00:02; UDP and ICMP probes carry this payload.
SRC_MAC, DST_MAC = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"
PAYLOAD = b"probe"


def packets():
    """[(microseconds, IPv4 packet)]: SYN (no options) + SYN-ACK, one UDP datagram, or echo request + reply."""
    time = 1_735_725_600_000_000  # 2025-01-01T10:00:00Z, microseconds
    result = []
    for index, (source_name, destination_name, protocol, port) in enumerate(PROBES):
        source, destination = address(source_name), address(destination_name)
        sport = 40000 + index
        if protocol == "TCP":
            syn = tcp_segment(source, destination, sport, port, 1000 + index, 0, SYN, mss=False)
            syn_ack = tcp_segment(destination, source, port, sport, 5000 + index, 1001 + index, SYN | ACK, mss=False)
            result.append((time, ipv4_packet(source, destination, PROTO_TCP, syn, index)))
            result.append((time + 100, ipv4_packet(destination, source, PROTO_TCP, syn_ack, index)))
        elif protocol == "UDP":
            result.append((time, ipv4_packet(source, destination, PROTO_UDP,
                                             udp_datagram(source, destination, sport, port, PAYLOAD), index)))
        else:
            result.append((time, ipv4_packet(source, destination, PROTO_ICMP, icmp_echo(port, sport, 1, PAYLOAD), index)))
            result.append((time + 100, ipv4_packet(destination, source, PROTO_ICMP, icmp_echo(0, sport, 1, PAYLOAD), index)))
        time += 10_000
    return result


def write_pcap(path):
    with open(path, "wb") as out:
        out.write(pcap_bytes([(micros, ethernet(packet, SRC_MAC, DST_MAC)) for micros, packet in packets()],
                             snaplen=65535))


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
