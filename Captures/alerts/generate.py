#!/usr/bin/env python3
"""Write the security-alert fixtures into Captures/alerts/.

    python3 Captures/alerts/generate.py            # (re)write every file in Captures/alerts/
    python3 Captures/alerts/generate.py --check    # regenerate in memory, compare with the files on disk

Standard library only, and deterministic: no clock, no randomness, fixed timestamps (every
hand-built capture starts at epoch 1700000000 = 2023-11-14T22:13:20Z). Running it twice gives
byte-identical files. Packet headers, checksums and the pcap writer come from ../packetlib.py.

Hand-built here (one small capture per detector scenario, each with a .md note):
  policy-violation.pcap     shop/cart-1 -> payments/api-1:8443 four times (denied), web-1 once (allowed)
  port-scan-vertical.pcap   SYN scan of 15 ports of one pod
  port-scan-horizontal.pcap SYN to port 22 of 25 pods
  syn-flood.pcap            300 spoofed SYNs to one pod:443, 5 normal connections in between
  stealth-scans.pcap        NULL, FIN, XMAS, SYN+FIN and SYN+RST probes
  spoofed-source.pcap       an unknown source in the local pod CIDR; VNI/identity mismatch in VXLAN 8472
  world-egress.pcap         a pod of the sensitive namespace talks to the world (TCP 443, UDP 53)
  icmp-sweep.pcap           ICMP echo to 25 pods
  allowlisted-scan.pcap     the vertical scan from monitoring/prometheus-1 (allow-list test)
  scan-with-violations.pcap shop/cart-1 SYN-scans 30 ports of payments/api-1 (each denied); web-1 once (denied)
  dns-external-resolver.pcap  pods ask 8.8.8.8 and 9.9.9.9; the kube-dns pod, NodeLocal DNS and the node do not alert
  dns-tunneling.pcap        10 TXT queries with 50-character base32 labels (tunnel-like), among normal names
  dns-nxdomain-burst.pcap   NXDOMAIN for 20 distinct DGA-like names, with search-path NXDOMAINs
plus alerts.pods.json (the inventory for all of them), alerts.policies.yaml (one NetworkPolicy)
and README.md.

Written by the cluster traffic generator Benchmarks/gen_cluster_pcap.py:
  benign.pcap, scan-in-cluster.pcap, synflood-in-cluster.pcap and their .pods.json
If it is missing, those files are left as they are.

Classic pcap, little-endian, microsecond timestamps, LINKTYPE_ETHERNET, snaplen 65535. Every IPv4
header, TCP, UDP and ICMP checksum is computed (including the outer UDP checksum of VXLAN).
"""

import base64
import hashlib
import math
import json
import os
import struct
import subprocess
import sys
import tempfile
import uuid
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))      # Captures/, for packetlib.py
sys.dont_write_bytecode = True                 # no Captures/__pycache__ next to the fixtures
from packetlib import (  # noqa: E402
    ACK, FIN, PROTO_ICMP, PROTO_TCP, PROTO_UDP, PSH, RST, SYN, URG, IPv4Ids, bridge_mac, ethernet, icmp_echo,
    ip4, ipv4_packet, md_table, pcap_bytes, tcp_segment, tunnel_source_port, udp_datagram, vxlan_header)

REPO = os.path.dirname(os.path.dirname(HERE))
SHARED_GENERATOR = os.path.join(REPO, "Benchmarks", "gen_cluster_pcap.py")

EPOCH_US = 1_700_000_000 * 1_000_000      # 2023-11-14T22:13:20Z
MS = 1_000                                # microseconds
S = 1_000_000

VXLAN_PORT = 8472                         # Cilium's (and Linux's) VXLAN port

# ---------------------------------------------------------------------------------------------
# Cluster


LOCAL_NODE, LOCAL_NODE_IP = "kind-worker-0", "172.18.0.2"
REMOTE_NODE, REMOTE_NODE_IP = "kind-worker-1", "172.18.0.3"
NODE_IP = {LOCAL_NODE: LOCAL_NODE_IP, REMOTE_NODE: REMOTE_NODE_IP}

# (namespace, name, labels, ip, node, container ports [(port, protocol)])
PODS = [
    ("shop", "web-1", {"app": "web", "tier": "frontend"}, "10.244.0.10", LOCAL_NODE, [(8080, "TCP"), (443, "TCP"), (80, "TCP")]),
    ("shop", "cart-1", {"app": "cart"}, "10.244.0.11", LOCAL_NODE, [(8080, "TCP")]),
    ("payments", "api-1", {"app": "payments-api", "data": "pci"}, "10.244.0.20", LOCAL_NODE, [(8443, "TCP")]),
    ("monitoring", "prometheus-1", {"app": "prometheus"}, "10.244.0.30", LOCAL_NODE, [(9090, "TCP")]),
    ("kube-system", "coredns-1", {"k8s-app": "kube-dns"}, "10.244.0.2", LOCAL_NODE, [(53, "UDP"), (53, "TCP")]),
    ("shop", "web-2", {"app": "web", "tier": "frontend"}, "10.244.1.10", REMOTE_NODE, [(8080, "TCP"), (443, "TCP"), (80, "TCP")]),
    ("shop", "db-1", {"app": "db"}, "10.244.1.20", REMOTE_NODE, [(5432, "TCP")]),
] + [("shop", f"batch-{n}", {"app": "batch"}, f"10.244.1.{100 + n}", REMOTE_NODE, []) for n in range(30)]

POD_BY_IP = {p[3]: p for p in PODS}


def pod_name(ip):
    p = POD_BY_IP.get(ip)
    return f"{p[0]}/{p[1]}" if p else None


def identities():
    """Identity numbers as flowmon allocates them for alerts.pods.json (no namespaces file): each
    pod's security labels (own labels, io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name,
    io.cilium.k8s.policy.cluster=default, io.cilium.k8s.policy.serviceaccount, io.kubernetes.pod.namespace),
    each distinct set numbered from its canonical text (IdentityAllocator: 256 + FNV-1a-64 mod 65280,
    collisions by double hashing in rounds, the canonical text that sorts first keeping a number). See
    Sources/Agent/Inventory/SecurityLabels.swift and IdentityAllocator.swift."""
    sets = {}
    for ns, _, labels, ip, _, _ in PODS:
        full = dict(labels)
        full["io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name"] = ns
        full["io.cilium.k8s.policy.cluster"] = "default"
        full["io.cilium.k8s.policy.serviceaccount"] = "default"
        full["io.kubernetes.pod.namespace"] = ns
        canonical = ";".join(sorted(f"k8s:{k}={v}" for k, v in full.items()))
        sets.setdefault(canonical, []).append(ip)
    span = 65280

    def sequence(canonical):
        h = 0xcbf29ce484222325
        for byte in canonical.encode():
            h = ((h ^ byte) * 0x100000001b3) % (1 << 64)
        step = 1 + (h >> 32) % (span - 1)
        while math.gcd(step, span) != 1:
            step = step % (span - 1) + 1
        return h % span, step

    numbers, held, pending, round_ = {}, set(), sorted(sets, key=lambda c: c.encode()), 0
    while pending:
        losers = []
        for canonical in pending:
            home, step = sequence(canonical)
            number = 256 + (home + round_ * step) % span
            if number in held:
                losers.append(canonical)
            else:
                held.add(number)
                numbers[canonical] = number
        pending, round_ = losers, round_ + 1
    result = {}
    for canonical, number in numbers.items():
        for ip in sets[canonical]:
            result[ip] = number
    return result


IDENTITY = identities()
ID_HOST, ID_WORLD, ID_REMOTE_NODE = 1, 2, 6     # Cilium's reserved identities

# ---------------------------------------------------------------------------------------------
# Link layer and pcap (checksums, IPv4/TCP/UDP/ICMP headers and the pcap writer: ../packetlib.py)


GATEWAY_MAC = b"\x0a\x58\x0a\xf4\x00\x01"          # cni0 bridge (10.244.0.1)
NODE_MAC = {LOCAL_NODE_IP: b"\x02\x42\xac\x12\x00\x02", REMOTE_NODE_IP: b"\x02\x42\xac\x12\x00\x03"}


def mac_for(ip):
    """Local pod CIDR (10.244.0.0/24): the pod's own veth MAC (0a:58 + its address, as the bridge
    CNI does); anything else reaches the bridge through the gateway."""
    return bridge_mac(ip4(ip)) if ip.startswith("10.244.0.") else GATEWAY_MAC


def pcap_packet_count(data):
    """Number of records in a classic little-endian pcap (for the README of the generated cluster captures)."""
    n, off = 0, 24
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        off += 16 + incl
        n += 1
    return n


# ---------------------------------------------------------------------------------------------
# Payloads


def tls_client_hello(sni):
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    body = (b"\x03\x03" + hashlib.sha256(b"client:" + name).digest() + b"\x00"
            + struct.pack("!H", 4) + b"\xc0\x2f\xc0\x30" + b"\x01\x00"
            + struct.pack("!H", len(sni_ext)) + sni_ext)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_server_hello(sni):
    body = b"\x03\x03" + hashlib.sha256(b"server:" + sni.encode()).digest() + b"\x00" + b"\xc0\x2f" + b"\x00"
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs


def dns_query(txid, name, qtype=1):
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", qtype, 1)


def dns_empty_answer(query, rcode=0):
    """The response to `query` with no answer record: NOERROR/NODATA (rcode 0) or NXDOMAIN (3)."""
    return query[:2] + struct.pack("!H", 0x8180 | rcode) + query[4:6] + b"\x00\x00" + query[8:]


def base32_label(seed, length):
    """A deterministic label of `length` base32 characters (a-z, 2-7), as tunnels encode data."""
    text = base64.b32encode(hashlib.sha256(seed.encode()).digest() * 2).decode().lower().rstrip("=")
    return text[:length]


def dns_answer(query, address):
    return (query[:2] + b"\x81\x80" + query[4:6] + b"\x00\x01" + query[8:]
            + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + ip4(address))


PING_PAYLOAD = bytes(range(0x10, 0x38))             # 40 bytes, like ping's pattern after its timestamp

# ---------------------------------------------------------------------------------------------
# Capture builder


class Capture:
    """Records of one file. Each file has its own IPv4 identification counter."""

    def __init__(self, ident_start):
        self.recs = []
        self.ids = IPv4Ids(ident_start)

    def next_id(self):
        return self.ids.take()

    def ip(self, src, dst, proto, l4, ttl=64):
        return ipv4_packet(src, dst, proto, l4, self.next_id(), ttl=ttl)

    def add(self, ts, src, dst, proto, l4, ttl=64):
        self.recs.append((ts, ethernet(self.ip(src, dst, proto, l4, ttl), mac_for(src), mac_for(dst))))

    def tcp(self, ts, src, sport, dst, dport, seq, ack, flags, payload=b"", window=64240, mss=True, ttl=64):
        self.add(ts, src, dst, PROTO_TCP, tcp_segment(ip4(src), ip4(dst), sport, dport, seq, ack, flags, payload,
                                                      window, mss), ttl)

    def udp(self, ts, src, sport, dst, dport, payload):
        self.add(ts, src, dst, PROTO_UDP, udp_datagram(ip4(src), ip4(dst), sport, dport, payload))

    def icmp(self, ts, src, dst, icmp_type, ident, seq, payload=PING_PAYLOAD):
        self.add(ts, src, dst, PROTO_ICMP, icmp_echo(icmp_type, ident, seq, payload))

    def session(self, t, client, cport, server, sport, request, response, ttl_client=64):
        """A complete TCP session: handshake, one request and one response (each ACKed), FIN both
        ways, last ACK: 10 packets. Returns the last packet's timestamp."""
        c_isn = zlib.crc32(f"{client}:{cport}>{server}:{sport}".encode())
        s_isn = zlib.crc32(f"{server}:{sport}<{client}:{cport}".encode())
        c, s = c_isn + 1, s_isn + 1
        steps = [
            (0, True, SYN, c_isn, 0, b""),
            (200, False, SYN | ACK, s_isn, c, b""),
            (150, True, ACK, c, s, b""),
            (300, True, PSH | ACK, c, s, request),
            (200, False, ACK, s, c + len(request), b""),
            (1500, False, PSH | ACK, s, c + len(request), response),
            (200, True, ACK, c + len(request), s + len(response), b""),
            (5000, True, FIN | ACK, c + len(request), s + len(response), b""),
            (200, False, FIN | ACK, s + len(response), c + len(request) + 1, b""),
            (150, True, ACK, c + len(request) + 1, s + len(response) + 1, b""),
        ]
        for delay, from_client, flags, seq, ack, data in steps:
            t += delay
            if from_client:
                self.tcp(t, client, cport, server, sport, seq, ack, flags, data, ttl=ttl_client)
            else:
                self.tcp(t, server, sport, client, cport, seq, ack, flags, data, window=65160)
        return t

    def pcap(self):
        """Classic pcap, LINKTYPE_ETHERNET, snaplen 65535, records in timestamp order (stable)."""
        return pcap_bytes(sorted(self.recs, key=lambda r: r[0]), snaplen=65535)


def regen_line():
    return ("Regenerate: `python3 Captures/alerts/generate.py` (rewrites every file in `Captures/alerts/`; "
            "`--check` verifies them). Deterministic: byte-identical on every run.")


def note(title, capture, body):
    return f"""# {title}

Classic pcap, Ethernet, microsecond timestamps, {len(capture.recs)} packets, starting at
{(min(t for t, _ in capture.recs) - EPOCH_US) / S:.3f} s after epoch 1700000000 (2023-11-14T22:13:20Z).
Inventory: `alerts.pods.json` (local node `kind-worker-0`, 172.18.0.2). All checksums are valid.

{body.strip()}

{regen_line()}
"""


# ---------------------------------------------------------------------------------------------
# Scenarios


def build_policy_violation():
    cap = Capture(0x1000)
    api, cart, web = "10.244.0.20", "10.244.0.11", "10.244.0.10"
    sni = "api.payments.svc.cluster.local"
    req, resp = tls_client_hello(sni), tls_server_hello(sni)
    # (start offset s, client, source port, allowed?)
    plan = [(0.0, cart, 40001, False), (1.0, web, 41001, True), (5.0, cart, 40002, False),
            (10.0, cart, 40003, False), (15.0, cart, 40004, False)]
    rows = []
    for off, client, cport, allowed in plan:
        n0 = len(cap.recs)
        cap.session(EPOCH_US + int(off * S), client, cport, api, 8443, req, resp)
        rows.append((f"{off:.1f} s", f"{pod_name(client)} {client}:{cport} → payments/api-1 {api}:8443",
                     len(cap.recs) - n0,
                     "allowed (FORWARDED, ingress allowed by payments/payments-api-ingress)" if allowed else
                     "**denied**: AUDIT (DROPPED with --verdict-as-enforced), POLICY_DENIED (133), ingress at payments/api-1"))
    body = f"""
**What:** five complete TCP sessions to payments/api-1 {api}:8443 (handshake, a TLS ClientHello and
ServerHello, each ACKed, FIN both ways, last ACK; 10 packets each). The policy
`alerts.policies.yaml` (NetworkPolicy payments/payments-api-ingress) selects app=payments-api and
allows ingress only from pods with app=web in namespace shop, TCP 8443. shop/cart-1 (app=cart) is
not app=web, so its four connections are denied at ingress. shop/web-1 is allowed.

{md_table(["start", "connection", "packets", "verdict"], rows)}

**Alerts (with `--pods alerts.pods.json --node-name kind-worker-0 --policies alerts.policies.yaml`):**
- policy violation: **4 denied connections**, source shop/cart-1 (10.244.0.11, identity {IDENTITY[cart]}),
  destination payments/api-1 (10.244.0.20, identity {IDENTITY[api]}) TCP 8443, reason POLICY_DENIED,
  direction INGRESS. payments/payments-api-ingress selects api-1, which puts it in default deny for
  ingress, and no rule allows cart-1 (so flowmon's `ingress_denied_by` is empty: it is not an explicit
  deny). Source ports
  40001-40004, first at +0.0 s, last at +15.0 s (all within 20 s): a repeated-violation alert with a
  20 s window counts 4.
- **No alert** for shop/web-1 10.244.0.10:41001 (identity {IDENTITY[web]}): allowed by the policy.
- No other policy applies. Egress is not enforced (no policy selects cart-1 or web-1 for egress).
"""
    return {"policy-violation.pcap": cap.pcap(), "policy-violation.md": note("policy-violation.pcap", cap, body)}


OPEN_PORTS = (22, 25)


def vertical_scan(scanner, ident_start):
    cap = Capture(ident_start)
    target, sport = "10.244.1.20", 54321
    ports = list(range(20, 35))
    for i, port in enumerate(ports):
        t = EPOCH_US + i * 100 * MS
        isn = 0x5CA40000 + port
        cap.tcp(t, scanner, sport, target, port, isn, 0, SYN, window=1024)
        if port in OPEN_PORTS:
            cap.tcp(t + 300, target, port, scanner, sport, 0x0DB00000 + port, isn + 1, SYN | ACK, window=65160)
            cap.tcp(t + 400, scanner, sport, target, port, isn + 1, 0, RST, window=0)
        else:
            cap.tcp(t + 300, target, port, scanner, sport, 0, isn + 1, RST | ACK, window=0)
    return cap, target, sport, ports


def scan_body(cap, scanner, target, sport, ports, allowlisted):
    closed = [p for p in ports if p not in OPEN_PORTS]
    head = f"""
**What:** {pod_name(scanner)} {scanner} SYN-scans {pod_name(target)} {target} (on the remote node
kind-worker-1) from one source port, {sport}: one SYN (window 1024, MSS option) every 0.1 s to each of
the **{len(ports)} distinct ports {ports[0]}..{ports[-1]}**, in increasing order, first at +0.0 s, last at
+{(len(ports) - 1) * 0.1:.1f} s. Closed ports ({len(closed)}) answer RST+ACK (seq 0, ack = ISN+1) 0.3 ms
later. Ports {OPEN_PORTS[0]} and {OPEN_PORTS[1]} are open: SYN-ACK, then the scanner's RST (seq ISN+1)
0.1 ms after it (the half-open scan never completes a handshake).
{len(ports)} SYN + {len(closed)} RST+ACK + 2 SYN-ACK + 2 RST = {len(cap.recs)} packets, {len(ports)} flows
(flowmon's conn_state at this commit: REJ for the {len(closed)} closed ports, RSTO for the 2 open ones).
"""
    numbers = (f"source {scanner} ({pod_name(scanner)}, identity {IDENTITY[scanner]}), target {target} "
               f"({pod_name(target)}), **{len(ports)} distinct destination ports** ({ports[0]}-{ports[-1]}) in "
               f"**{(len(ports) - 1) * 0.1:.1f} s**, {len(closed)} refused (RST+ACK), 2 open (SYN-ACK), "
               f"0 completed handshakes")
    if allowlisted:
        alert = f"""
**Alerts:** the same traffic as `port-scan-vertical.pcap`, from the monitoring pod (namespace
monitoring, app=prometheus). With the scanner allow-listed (by IP 10.244.0.30, by pod
monitoring/prometheus-1, by namespace monitoring or by label app=prometheus): **no alert**.
Without an allow-list: one vertical port-scan alert, {numbers}.
"""
    else:
        alert = f"""
**Alert:** one **vertical port scan**: {numbers}. A threshold of 10 or 15 distinct ports within a few
seconds fires; one of 16 or more does not.
"""
    return head + alert


def build_vertical():
    cap, target, sport, ports = vertical_scan("10.244.0.10", 0x2000)
    return {"port-scan-vertical.pcap": cap.pcap(),
            "port-scan-vertical.md": note("port-scan-vertical.pcap", cap,
                                          scan_body(cap, "10.244.0.10", target, sport, ports, False))}


def build_allowlisted():
    cap, target, sport, ports = vertical_scan("10.244.0.30", 0x2800)
    return {"allowlisted-scan.pcap": cap.pcap(),
            "allowlisted-scan.md": note("allowlisted-scan.pcap", cap,
                                        scan_body(cap, "10.244.0.30", target, sport, ports, True))}


def build_scan_with_violations():
    cap = Capture(0x2c00)
    scanner, target, web, sport = "10.244.0.11", "10.244.0.20", "10.244.0.10", 54330
    ports = list(range(8430, 8460))
    for i, port in enumerate(ports):
        t = EPOCH_US + i * 50 * MS
        isn = 0x5CB00000 + port
        cap.tcp(t, scanner, sport, target, port, isn, 0, SYN, window=1024)
        if port == 8443:
            cap.tcp(t + 300, target, port, scanner, sport, 0x0DC00000 + port, isn + 1, SYN | ACK, window=65160)
            cap.tcp(t + 400, scanner, sport, target, port, isn + 1, 0, RST, window=0)
        else:
            cap.tcp(t + 300, target, port, scanner, sport, 0, isn + 1, RST | ACK, window=0)
    # shop/web-1 tries payments/api-1:9090 once (refused): app=web is allowed only TCP 8443.
    t = EPOCH_US + 1 * S
    cap.tcp(t, web, 41990, target, 9090, 0x77000000, 0, SYN)
    cap.tcp(t + 300, target, 9090, web, 41990, 0, 0x77000001, RST | ACK, window=0)
    body = f"""
**What:** shop/cart-1 {scanner} SYN-scans payments/api-1 {target} (local node) from source port {sport}:
one SYN (window 1024) every 0.05 s to each of the **{len(ports)} distinct ports {ports[0]}..{ports[-1]}**,
first at +0.0 s, last at +{(len(ports) - 1) * 0.05:.2f} s. Port 8443 is open (SYN-ACK, then the scanner's RST);
the {len(ports) - 1} others answer RST+ACK 0.3 ms later. At +1.0 s shop/web-1 {web}:41990 sends one SYN to
api-1:9090, refused (RST+ACK). {len(cap.recs)} packets, {len(ports) + 1} flows.

`alerts.policies.yaml` allows ingress to app=payments-api only from app=web in shop on TCP 8443, so
**every one of the {len(ports) + 1} connections is a policy violation** (AUDIT, POLICY_DENIED, ingress):
cart-1 is not app=web, and web-1's is to 9090.

**Alerts (with `--pods alerts.pods.json --node-name kind-worker-0 --policies alerts.policies.yaml`):**
- one **vertical port scan** from cart-1 to api-1 ({len(ports)} distinct ports; it fires at the 15th)
  with `scan.folded_policy_violations: {len(ports)}`: the {len(ports)} violations it explains are
  folded into it, none written on its own;
- one **policy violation** for web-1 → api-1:9090: web-1 does not scan, so its violation is written
  (when its hold ends);
- with `fold_policy_violations: {{enabled: false}}`: {len(ports) + 1} policy violations and the scan
  alert (`folded_policy_violations: 0`).
"""
    return {"scan-with-violations.pcap": cap.pcap(),
            "scan-with-violations.md": note("scan-with-violations.pcap", cap, body)}


def build_horizontal():
    cap = Capture(0x3000)
    scanner, sport, port = "10.244.0.10", 54322, 22
    targets = [f"10.244.1.{100 + i}" for i in range(25)]
    for i, target in enumerate(targets):
        t = EPOCH_US + i * 200 * MS
        isn = 0x5CA50000 + i
        cap.tcp(t, scanner, sport, target, port, isn, 0, SYN, window=1024)
        cap.tcp(t + 350, target, port, scanner, sport, 0, isn + 1, RST | ACK, window=0)
    body = f"""
**What:** shop/web-1 {scanner} sends one TCP SYN (window 1024, MSS option) from source port {sport}
to port {port} of each of **{len(targets)} distinct hosts** {targets[0]} .. {targets[-1]} (pods
shop/batch-0 .. shop/batch-24 on the remote node kind-worker-1), 0.2 s apart, first at +0.0 s, last at
+{(len(targets) - 1) * 0.2:.1f} s. Every one is answered by RST+ACK (seq 0, ack = ISN+1) 0.35 ms later.
{len(targets)} SYN + {len(targets)} RST+ACK = {len(cap.recs)} packets, {len(targets)} flows (flowmon: REJ).

**Alert:** one **horizontal port scan**: source {scanner} (shop/web-1, identity {IDENTITY[scanner]}),
destination port TCP {port}, **{len(targets)} distinct destination hosts** in
**{(len(targets) - 1) * 0.2:.1f} s**, all {len(targets)} refused (RST+ACK), 0 open. The hosts are 25
of the 30 shop/batch-N pods (batch-25 .. batch-29, 10.244.1.125-129, are not probed).
"""
    return {"port-scan-horizontal.pcap": cap.pcap(),
            "port-scan-horizontal.md": note("port-scan-horizontal.pcap", cap, body)}


def build_syn_flood():
    cap = Capture(0x4000)
    victim, port = "10.244.0.10", 443
    sources = []
    for i in range(300):
        src = f"198.18.{10 + i // 250}.{1 + i % 250}"
        sport = 10000 + (i * 7919) % 50000          # 7919 is prime: 300 distinct ports
        sources.append((src, sport))
        t = EPOCH_US + i * 10 * MS
        isn = (i * 2654435761) & 0xFFFFFFFF
        cap.tcp(t, src, sport, victim, port, isn, 0, SYN, window=1024, ttl=57)
        if i % 2 == 0:
            cap.tcp(t + 150, victim, port, src, sport, 0x5F100000 + i, isn + 1, SYN | ACK, window=65160)
    assert len(set(s for s, _ in sources)) == 300 and len(set(p for _, p in sources)) == 300
    legit, sni = "198.51.100.7", "shop.example.com"
    starts = [305 * MS + k * 600 * MS for k in range(5)]
    for k, off in enumerate(starts):
        cap.session(EPOCH_US + off, legit, 50001 + k, victim, port, tls_client_hello(sni), tls_server_hello(sni),
                    ttl_client=57)
    last_syn = (len(sources) - 1) * 10 * MS
    body = f"""
**What:** {len(sources)} TCP SYNs (window 1024, MSS option, TTL 57) to shop/web-1 {victim}:{port} from
**{len(sources)} distinct spoofed world sources** 198.18.10.1 .. 198.18.11.50 (RFC 2544 range), each
from its own source port (10000 + i·7919 mod 50000, all distinct), one every 10 ms: first at +0.000 s,
last at +{last_syn / S:.3f} s (**within 3 s**). web-1 answers every other one (the even-numbered SYNs:
**150 SYN-ACKs**, 0.15 ms after the SYN) and no ACK ever comes back; the other 150 get no answer.

Interleaved, **5 normal complete connections** from 198.51.100.7 (ports 50001-50005) to {victim}:{port}
starting at +{starts[0] / S:.3f}, +{starts[1] / S:.3f}, +{starts[2] / S:.3f}, +{starts[3] / S:.3f} and
+{starts[4] / S:.3f} s: handshake, TLS ClientHello / ServerHello, FIN both ways (10 packets each).
{len(sources)} + 150 + 50 = {len(cap.recs)} packets, 305 flows. flowmon's conn_state at this commit:
S0 for the 150 unanswered SYNs, **S1** for the 150 SYN-ACKed ones (Zeek's "Sh" history), SF for the 5
normal connections; so counting only S0 finds 150 half-open connections, not 300.

**Alert:** one **SYN flood** against {victim}:{port} (shop/web-1, identity {IDENTITY[victim]}):
**300 half-open connections** (SYN never followed by an ACK from the initiator) from **300 distinct
sources** in **{last_syn / S:.2f} s** (about 100 SYN/s); 150 of them SYN-ACKed, 150 unanswered. The 5
connections from 198.51.100.7 complete their handshakes and must not be counted as half-open, nor
raise any alert of their own. The sources are world (identity {ID_WORLD}); since each sends a single SYN,
no per-source alert (scan) should fire.
"""
    return {"syn-flood.pcap": cap.pcap(), "syn-flood.md": note("syn-flood.pcap", cap, body)}


def build_stealth():
    cap = Capture(0x5000)
    scanner, target, sport = "10.244.0.10", "10.244.1.20", 54323
    names = {0: "NULL", FIN: "FIN", FIN | PSH | URG: "XMAS", SYN | FIN: "SYN+FIN", SYN | RST: "SYN+RST"}
    probes = [(1001, 0), (1002, FIN), (1003, FIN | PSH | URG), (1004, SYN | FIN), (1005, SYN | RST),
              (1006, 0), (1007, 0), (1008, 0)]
    answered = (0, FIN, FIN | PSH | URG)
    rows = []
    for i, (port, flags) in enumerate(probes):
        t = EPOCH_US + i * 100 * MS
        seq = 0x57EA1000 + port
        cap.tcp(t, scanner, sport, target, port, seq, 0, flags, window=1024, mss=False)
        reply = "—"
        if flags in answered:
            ack = seq + (1 if flags & FIN else 0)
            cap.tcp(t + 250, target, port, scanner, sport, 0, ack, RST | ACK, window=0)
            reply = f"RST+ACK (seq 0, ack {'seq+1' if flags & FIN else 'seq'})"
        flag_hex = f"0x{flags:02x}"
        rows.append((f"+{i * 0.1:.1f} s", port, names[flags], flag_hex, reply))
    body = f"""
**What:** shop/web-1 {scanner} sends one TCP probe with an invalid flag combination (no options,
window 1024, source port {sport}) to each of 8 distinct ports of shop/db-1 {target}, 0.1 s apart.
The closed ports answer the NULL, FIN and XMAS probes with RST+ACK 0.25 ms later (RFC 793 behaviour
for a segment without ACK to a closed port: seq 0, ack = probe seq + length, FIN counting 1); the
SYN+FIN and SYN+RST probes get no answer. 8 probes + 6 RST+ACK = {len(cap.recs)} packets, 8 flows
(flowmon's conn_state at this commit: OTH for the 6 answered probes, SH for SYN+FIN, RSTOS0 for SYN+RST).

{md_table(["time", "dst port", "probe", "TCP flags", "answer"], rows)}

**Alerts:** stealth-scan / invalid-flags detection from {scanner} (shop/web-1, identity
{IDENTITY[scanner]}) to {target} (shop/db-1): **8 probes to 8 distinct ports** in 0.7 s:
**NULL 4** (1001, 1006, 1007, 1008), **FIN 1** (1002), **XMAS 1** (1003), **SYN+FIN 1** (1004),
**SYN+RST 1** (1005). If alerts are raised per probe type: NULL (4 ports), FIN (1), XMAS (1),
SYN+FIN (1), SYN+RST (1): 5 alerts. SYN+FIN and SYN+RST are never legal in any TCP state. If per
scanner: one alert with 8 invalid-flag probes.
"""
    return {"stealth-scans.pcap": cap.pcap(), "stealth-scans.md": note("stealth-scans.pcap", cap, body)}


def vxlan_frame(cap, outer_src, outer_dst, vni, inner_ip_pkt, inner_src, inner_dst, flow_key):
    """Outer Ethernet/IPv4/UDP(8472)/VXLAN (flags 0x08, VNI) around an inner Ethernet frame.
    The outer source port is a hash of the inner flow and direction, as the kernel picks it."""
    inner = ethernet(inner_ip_pkt, bridge_mac(ip4(inner_src)), bridge_mac(ip4(inner_dst)))
    vx = vxlan_header(vni) + inner
    sport = tunnel_source_port(flow_key)
    udp = udp_datagram(ip4(outer_src), ip4(outer_dst), sport, VXLAN_PORT, vx)
    outer = ipv4_packet(outer_src, outer_dst, PROTO_UDP, udp, cap.next_id(), df=False)
    return ethernet(outer, NODE_MAC[outer_src], NODE_MAC[outer_dst]), sport


def build_spoofed():
    cap = Capture(0x6000)
    inner_ids = IPv4Ids(0x6800)       # IPv4 ids of the inner packets
    rows = []
    # (a) unknown source inside the local pod CIDR.
    spoof, web, t = "10.244.0.99", "10.244.0.10", EPOCH_US
    c_isn, s_isn = 0x0A0B0C00, 0x1A1B1C00
    steps = [(0, True, SYN, c_isn, 0), (200, False, SYN | ACK, s_isn, c_isn + 1), (150, True, ACK, c_isn + 1, s_isn + 1),
             (3000, True, FIN | ACK, c_isn + 1, s_isn + 1), (200, False, FIN | ACK, s_isn + 1, c_isn + 2),
             (150, True, ACK, c_isn + 2, s_isn + 2)]
    for delay, from_client, flags, seq, ack in steps:
        t += delay
        if from_client:
            cap.tcp(t, spoof, 40100, web, 80, seq, ack, flags)
        else:
            cap.tcp(t, web, 80, spoof, 40100, seq, ack, flags, window=65160)
    n_a = len(cap.recs)
    # (b) VXLAN from the remote node carrying web-2's SYN with VNI 2 (reserved:world).
    web2, cart = "10.244.1.10", "10.244.0.11"
    t = EPOCH_US + 1 * S
    isn_c, isn_s = 0x2B2B0000, 0x3C3C0000
    syn = ipv4_packet(web2, cart, PROTO_TCP, tcp_segment(ip4(web2), ip4(cart), 40200, 8080, isn_c, 0, SYN),
                      inner_ids.take(), ttl=63)
    frame, sp_b1 = vxlan_frame(cap, REMOTE_NODE_IP, LOCAL_NODE_IP, ID_WORLD, syn, web2, cart, ("b", web2, cart))
    cap.recs.append((t, frame))
    synack = ipv4_packet(cart, web2, PROTO_TCP,
                         tcp_segment(ip4(cart), ip4(web2), 8080, 40200, isn_s, isn_c + 1, SYN | ACK, window=65160),
                         inner_ids.take())
    frame, sp_b2 = vxlan_frame(cap, LOCAL_NODE_IP, REMOTE_NODE_IP, IDENTITY[cart], synack, cart, web2, ("b", cart, web2))
    cap.recs.append((t + 250, frame))
    # (c) correct: VNI 6 (reserved:remote-node) from the remote node itself, ICMP echo to cart-1;
    #     the reply carries cart-1's own identity.
    t = EPOCH_US + 2 * S
    req = ipv4_packet(REMOTE_NODE_IP, cart, PROTO_ICMP, icmp_echo(8, 0x0C06, 1, PING_PAYLOAD), inner_ids.take())
    frame, sp_c1 = vxlan_frame(cap, REMOTE_NODE_IP, LOCAL_NODE_IP, ID_REMOTE_NODE, req, REMOTE_NODE_IP, cart,
                               ("c", REMOTE_NODE_IP, cart))
    cap.recs.append((t, frame))
    rep = ipv4_packet(cart, REMOTE_NODE_IP, PROTO_ICMP, icmp_echo(0, 0x0C06, 1, PING_PAYLOAD), inner_ids.take())
    frame, sp_c2 = vxlan_frame(cap, LOCAL_NODE_IP, REMOTE_NODE_IP, IDENTITY[cart], rep, cart, REMOTE_NODE_IP,
                               ("c", cart, REMOTE_NODE_IP))
    cap.recs.append((t + 300, frame))

    rows = [
        ("a", "+0.000 s", f"TCP 10.244.0.99:40100 → shop/web-1 {web}:80, plain Ethernet", "—",
         "S, SA, A, FA, FA, A (6)", f"**spoofed source**: 10.244.0.99 is inside the local pod CIDR 10.244.0.0/24 but no pod has it"),
        ("b", "+1.000 s", f"TCP shop/web-2 {web2}:40200 → shop/cart-1 {cart}:8080",
         f"SYN: 172.18.0.3:{sp_b1} → 172.18.0.2:8472, **VNI {ID_WORLD}**; SYN-ACK: 172.18.0.2:{sp_b2} → 172.18.0.3:8472, VNI {IDENTITY[cart]}",
         "S, SA (2)", f"**identity mismatch**: VNI {ID_WORLD} (reserved:world) but web-2's identity is {IDENTITY[web2]}"),
        ("c", "+2.000 s", f"ICMP echo id 0x0c06 seq 1, node 172.18.0.3 → shop/cart-1 {cart}",
         f"request: 172.18.0.3:{sp_c1} → 172.18.0.2:8472, VNI {ID_REMOTE_NODE}; reply: 172.18.0.2:{sp_c2} → 172.18.0.3:8472, VNI {IDENTITY[cart]}",
         "request, reply (2)", f"none: VNI {ID_REMOTE_NODE} (reserved:remote-node) is right for 172.18.0.3, VNI {IDENTITY[cart]} is cart-1's identity"),
    ]
    body = f"""
**What:** three cases. (a) is plain Ethernet on the pod bridge (10.244.0.99 has the MAC
0a:58:0a:f4:00:63). (b) and (c) are Cilium-style VXLAN between the nodes, as seen on the local node's
uplink: outer Ethernet (02:42:ac:12:00:03 ↔ 02:42:ac:12:00:02) / IPv4 (no DF) / UDP to port **8472** (outer
source port = a hash of the inner flow, one per direction; UDP checksum computed) / VXLAN (flags 0x08,
I bit set; VNI = the sender's security identity) / inner Ethernet / IPv4. tshark decodes the inner
packets only with `-d udp.port==8472,vxlan`. {n_a} + 2 + 2 = {len(cap.recs)} packets.

Identities (as flowmon numbers them for `alerts.pods.json`; see `identities()` in generate.py): 1 host,
2 world, 6 remote-node; shop/web-2 and shop/web-1 {IDENTITY[web2]} (same labels), shop/cart-1 {IDENTITY[cart]}.

{md_table(["case", "time", "inner flow", "tunnel", "packets", "expected"], rows)}

**Alerts:**
- (a) one **spoofed / unknown source** alert: source 10.244.0.99 (no pod, not a node address, but inside
  the local node's pod CIDR 10.244.0.0/24), destination shop/web-1 10.244.0.10:80, 1 connection
  (6 packets, handshake completed). flowmon's ipcache knows no pod CIDR and resolves 10.244.0.99 to
  world (identity 2), so the detector needs the pod CIDR from elsewhere (e.g. the /24 the node's pods
  are in, or an option).
- (b) one **tunnel identity mismatch** alert: inner source 10.244.1.10 is shop/web-2 (identity
  {IDENTITY[web2]}, on kind-worker-1 = outer source 172.18.0.3), but the VXLAN VNI is **{ID_WORLD}**
  (reserved:world). Destination shop/cart-1 10.244.0.11:8080.
  The SYN-ACK back carries cart-1's own identity (**VNI {IDENTITY[cart]}**), which is right: only the
  SYN is a mismatch. With flowmon's default `--tunnel-key auto` the two directions (VNI {ID_WORLD} and
  VNI {IDENTITY[cart]}) are one flow, with `tunnel.response_vni`; with `--tunnel-key vni` they are two.
- (c) **no alert**: VNI {ID_REMOTE_NODE} (reserved:remote-node) for traffic from the remote node's own address
  172.18.0.3, and the reply carries cart-1's identity {IDENTITY[cart]}.
"""
    return {"spoofed-source.pcap": cap.pcap(), "spoofed-source.md": note("spoofed-source.pcap", cap, body)}


def build_world_egress():
    cap = Capture(0x7000)
    api, web = "10.244.0.20", "10.244.0.10"
    t = EPOCH_US
    q = dns_query(0x5A17, "psp.example.net")
    cap.udp(t, api, 45001, "203.0.113.9", 53, q)
    cap.udp(t + 12 * MS, "203.0.113.9", 53, api, 45001, dns_answer(q, "198.18.7.7"))
    n_dns = len(cap.recs)
    cap.session(t + 50 * MS, api, 45000, "198.18.7.7", 443, tls_client_hello("psp.example.net"),
                tls_server_hello("psp.example.net"))
    n_api = len(cap.recs) - n_dns
    cap.session(t + 1 * S, web, 45002, "198.18.7.8", 443, tls_client_hello("cdn.example.com"),
                tls_server_hello("cdn.example.com"))
    n_web = len(cap.recs) - n_dns - n_api
    rows = [
        ("+0.000 s", f"UDP payments/api-1 {api}:45001 → 203.0.113.9:53", n_dns, "DNS query A psp.example.net, answer 198.18.7.7", "**alert**"),
        ("+0.050 s", f"TCP payments/api-1 {api}:45000 → 198.18.7.7:443", n_api, "handshake, TLS ClientHello (SNI psp.example.net) / ServerHello, FIN both ways", "**alert**"),
        ("+1.000 s", f"TCP shop/web-1 {web}:45002 → 198.18.7.8:443", n_web, "handshake, TLS ClientHello (SNI cdn.example.com) / ServerHello, FIN both ways", "no alert (shop is not sensitive)"),
    ]
    body = f"""
**What:** three connections from local pods to world addresses (not a pod, not a node, not in the
cluster's 10.244.0.0/16; identity {ID_WORLD}, reserved:world). Packets from the world come through the
cni0 gateway MAC 0a:58:0a:f4:00:01. {len(cap.recs)} packets.

{md_table(["time", "flow", "packets", "content", "with namespace payments sensitive"], rows)}

**Alerts** (with namespace `payments` the only sensitive namespace): **2 world-egress alerts**, both
from payments/api-1 10.244.0.20 (identity {IDENTITY[api]}, labels app=payments-api, data=pci):
TCP to **198.18.7.7:443** and UDP to **203.0.113.9:53**. **No alert** for shop/web-1 → 198.18.7.8:443.
(If sensitivity is by label `data=pci` instead, the result is the same.) The DNS query also raises
**1 `dns_external_resolver` alert** (signature 9100050, whatever is sensitive): 203.0.113.9 is not the
cluster's resolver.
"""
    return {"world-egress.pcap": cap.pcap(), "world-egress.md": note("world-egress.pcap", cap, body)}


def build_icmp_sweep():
    cap = Capture(0x8000)
    src = "10.244.0.10"
    targets = [f"10.244.1.{100 + i}" for i in range(25)]
    replied = []
    for i, dst in enumerate(targets):
        t = EPOCH_US + i * 100 * MS
        ident = 0x5300 + i
        cap.icmp(t, src, dst, 8, ident, 1)
        if i % 5 in (0, 2):
            cap.icmp(t + 400, dst, src, 0, ident, 1)
            replied.append(dst)
    body = f"""
**What:** shop/web-1 {src} sends one ICMP echo request (seq 1, 40-byte payload; the id is fixed per
target host: 0x5300 + n for 10.244.1.(100+n)) to each of **{len(targets)} distinct hosts** {targets[0]} ..
{targets[-1]} (shop/batch-0 .. batch-24 on kind-worker-1), 0.1 s apart, first at +0.0 s, last at
+{(len(targets) - 1) * 0.1:.1f} s. **{len(replied)} of them reply** (echo reply 0.4 ms later):
{", ".join(r.rsplit(".", 1)[1] for r in replied)} (last octet). {len(targets)} + {len(replied)} =
{len(cap.recs)} packets, {len(targets)} ICMP flows (flowmon: {len(replied)} SF, {len(targets) - len(replied)} S0).

**Alert:** one **ICMP sweep** (ping sweep): source {src} (shop/web-1, identity {IDENTITY[src]}),
**{len(targets)} distinct destination hosts** in **{(len(targets) - 1) * 0.1:.1f} s**, **{len(replied)}
answered**, {len(targets) - len(replied)} unanswered.
"""
    return {"icmp-sweep.pcap": cap.pcap(), "icmp-sweep.md": note("icmp-sweep.pcap", cap, body)}


QTYPE_A, QTYPE_AAAA, QTYPE_TXT = 1, 28, 16
COREDNS = "10.244.0.2"                    # kube-system/coredns-1, k8s-app=kube-dns


def dns_exchange(cap, t, client, cport, resolver, txid, name, qtype=QTYPE_A, answer=None, rcode=0, delay=2 * MS):
    """One UDP query and (unless answer is False) its response `delay` later: an A record when
    `answer` is an address, else an empty response with `rcode`."""
    q = dns_query(txid, name, qtype)
    cap.udp(t, client, cport, resolver, 53, q)
    if answer is False:
        return
    cap.udp(t + delay, resolver, 53, client, cport, dns_answer(q, answer) if answer else dns_empty_answer(q, rcode))


def build_dns_external_resolver():
    cap = Capture(0xA000)
    web, cart, node = "10.244.0.10", "10.244.0.11", LOCAL_NODE_IP
    t = EPOCH_US
    plan = [
        (0.0, web, 40001, COREDNS, "cart.shop.svc.cluster.local", "10.96.12.7", "no alert (the kube-dns pod)"),
        (0.1, web, 40002, "169.254.20.10", "example.com", "93.184.215.14", "no alert (NodeLocal DNSCache)"),
        (0.2, node, 40003, "1.1.1.1", "deb.debian.org", "151.101.2.132", "no alert (the node itself, not a pod)"),
        (1.0, web, 41001, "8.8.8.8", "example.org", "93.184.215.15", "**alert** (first)"),
        (2.0, web, 41002, "8.8.8.8", "example.org", "93.184.215.15", "counted into the summary"),
        (3.0, web, 41003, "8.8.8.8", "www.example.org", "93.184.215.15", "counted into the summary"),
        (4.0, cart, 41004, "9.9.9.9", "example.net", False, "**alert** (unanswered)"),
    ]
    rows = []
    for index, (off, client, cport, resolver, name, answer, verdict) in enumerate(plan):
        n0 = len(cap.recs)
        dns_exchange(cap, t + int(off * S), client, cport, resolver, 0x6100 + index, name, answer=answer)
        rows.append((f"+{off:.3f} s", f"UDP {pod_name(client) if client in POD_BY_IP else 'node ' + node} "
                     f"{client}:{cport} → {resolver}:53", len(cap.recs) - n0, f"A {name}", verdict))
    body = f"""
**What:** DNS queries (UDP, type A) from two pods and from the node, to the cluster's resolvers and
to others. {len(cap.recs)} packets.

{md_table(["time", "flow", "packets", "question", "dns_external_resolver"], rows)}

**Alerts** (`dns_external_resolver`, signature 9100050; defaults): the cluster's resolvers are the
kube-dns pod {COREDNS} (kube-system, `k8s-app=kube-dns`) and NodeLocal DNSCache's 169.254.20.10, so
**2 first alerts**: shop/web-1 {web} → **8.8.8.8:53** (`dns.queries[0].rrname` example.org) and
shop/cart-1 {cart} → **9.9.9.9:53** (example.net); at the end a **summary** for web-1 → 8.8.8.8 with
`count` **3** (three connections within the 60 s aggregation window). The node's own query to
1.1.1.1 raises none (its source is the node, identity `host`, not a pod).
"""
    return {"dns-external-resolver.pcap": cap.pcap(),
            "dns-external-resolver.md": note("dns-external-resolver.pcap", cap, body)}


TUNNEL_DOMAIN = "tunnel.example.net"
TUNNEL_QUERIES = 10
ELB_NAME = "internal-k8s-shop-ingress-8a9f8e7d6c-1234567890.eu-west-1.elb.amazonaws.com"


def build_dns_tunneling():
    cap = Capture(0xA400)
    cart = "10.244.0.11"
    t = EPOCH_US
    rows = []
    port = 42000
    normal = [("api.github.com", QTYPE_A), ("cart.shop.svc.cluster.local", QTYPE_A), ("www.google.com", QTYPE_AAAA)]
    for index, (name, qtype) in enumerate(normal):
        n0 = len(cap.recs)
        dns_exchange(cap, t + index * 100 * MS, cart, port + index, COREDNS, 0x6400 + index, name, qtype)
        rows.append((f"+{index * 0.1:.3f} s", len(cap.recs) - n0, f"{'A' if qtype == 1 else 'AAAA'} {name}", "normal name"))
    n0 = len(cap.recs)
    for repeat in range(5):
        dns_exchange(cap, t + (500 + repeat * 20) * MS, cart, port + 10 + repeat, COREDNS, 0x6410 + repeat, ELB_NAME)
    rows.append(("+0.500 s", len(cap.recs) - n0, f"A {ELB_NAME} (5 times)",
                 "long name with a 47-character label: counted once (one distinct label)"))
    n0 = len(cap.recs)
    labels = [base32_label(f"chunk-{i}", 50) for i in range(TUNNEL_QUERIES)]
    for i, label in enumerate(labels):
        dns_exchange(cap, t + 1 * S + i * 500 * MS, cart, port + 20 + i, COREDNS, 0x6420 + i, f"{label}.{TUNNEL_DOMAIN}",
                     QTYPE_TXT)
    rows.append(("+1.000 s", len(cap.recs) - n0, f"TXT <50 base32 characters>.{TUNNEL_DOMAIN} ({TUNNEL_QUERIES} names, 0.5 s apart)",
                 f"distinct high-entropy labels; the {TUNNEL_QUERIES}th reaches the threshold"))
    body = f"""
**What:** shop/cart-1 {cart} asks the kube-dns pod {COREDNS} (UDP 53, every query on its own source
port, every one answered NOERROR): normal names, one long load-balancer name five times, then a
tunnel-like stream of **{TUNNEL_QUERIES} TXT queries** whose first label is 50 base32 characters
(a SHA-256 digest of `chunk-N`, base32, lowercase: a different chunk each time, as iodine or
dnscat2 send them) under `{TUNNEL_DOMAIN}`. {len(cap.recs)} packets.

{md_table(["time", "packets", "question", "note"], rows)}

First tunnel name: `{labels[0]}.{TUNNEL_DOMAIN}`.

**Alert** (`dns_tunneling`, signature 9100051; defaults: a label left of the registered domain of at
least 24 characters with at least 4.0 bits of entropy per character, or 52 characters, or a name of
120; **10 distinct** such labels from one source within 60 s): the load-balancer label (47 characters,
4.51 bits per character) is suspicious too but is **one** distinct label however often it is asked,
so the threshold is reached on the {TUNNEL_QUERIES - 1}th tunnel query, at +{1 + (TUNNEL_QUERIES - 2) * 0.5:.1f} s:
**one alert** from shop/cart-1, `dns_tunnel.distinct_names` 10, `longest_label` 50. The normal names
are short. With `names: {TUNNEL_QUERIES + 1}` the alert comes on the {TUNNEL_QUERIES}th tunnel query; with
`names: {TUNNEL_QUERIES + 2}` there is none.
"""
    return {"dns-tunneling.pcap": cap.pcap(), "dns-tunneling.md": note("dns-tunneling.pcap", cap, body)}


NXDOMAIN_NAMES = 20


def build_dns_nxdomain_burst():
    cap = Capture(0xA800)
    batch = "10.244.1.100"
    t = EPOCH_US
    names = [base32_label(f"dga-{i}", 12) + ".com" for i in range(NXDOMAIN_NAMES)]
    asked = names[:5] + [names[4]] + names[5:]   # the fifth name twice: still 20 distinct
    port = 43000
    for i, name in enumerate(asked):
        at = t + i * 200 * MS
        # The resolver's search path first: `<name>.shop.svc.cluster.local` (NXDOMAIN, ignored).
        dns_exchange(cap, at, batch, port + 2 * i, COREDNS, 0x6800 + 2 * i, f"{name}.shop.svc.cluster.local", rcode=3)
        dns_exchange(cap, at + 20 * MS, batch, port + 2 * i + 1, COREDNS, 0x6801 + 2 * i, name, rcode=3)
    body = f"""
**What:** shop/batch-0 {batch} (on kind-worker-1) asks the kube-dns pod {COREDNS} for
**{len(asked)} random-looking .com names** ({NXDOMAIN_NAMES} distinct: the fifth is asked twice), 0.2 s
apart, each first with the pod's search suffix `.shop.svc.cluster.local` as a resolver with
`ndots:5` does; every answer is **NXDOMAIN**. The names are 12 base32 characters of SHA-256(`dga-N`)
+ `.com`, like a domain generation algorithm's: {", ".join(names[:3])}, ... {len(cap.recs)} packets,
{len(asked) * 2} UDP flows.

**Alert** (`dns_nxdomain_burst`, signature 9100052; defaults: **20 distinct names** answered NXDOMAIN
to one source within 60 s, names under `cluster.local` not counted): **one alert** from shop/batch-0
on the answer for `{names[-1]}` at +{(len(asked) - 1) * 0.2 + 0.022:.3f} s, `nxdomain.distinct_names`
{NXDOMAIN_NAMES}, `dns.rcode` NXDOMAIN. The {len(asked)} search-path NXDOMAINs are not counted (with
them counted, the threshold would be reached at the tenth name). With `names: {NXDOMAIN_NAMES + 1}`
there is no alert.
"""
    return {"dns-nxdomain-burst.pcap": cap.pcap(), "dns-nxdomain-burst.md": note("dns-nxdomain-burst.pcap", cap, body)}


# ---------------------------------------------------------------------------------------------
# Inventory and policy


def pods_json():
    items = []
    for ns, name, labels, ip, node, ports in PODS:
        app = labels.get("app") or labels.get("k8s-app")
        owner = name.rsplit("-", 1)[0]
        uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"flowmon-alerts/{ns}/{name}"))
        owner_uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"flowmon-alerts/{ns}/statefulset/{owner}"))
        host_ip = NODE_IP[node]
        items.append({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": uid,
                "labels": dict(labels),
                "creationTimestamp": "2023-11-14T21:00:00Z",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": owner, "uid": owner_uid,
                                     "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": {
                "nodeName": node,
                "containers": [{"name": app, "image": f"registry.example/{app}:1.0",
                                "ports": [{"containerPort": p, "protocol": proto} for p, proto in ports]}],
                "restartPolicy": "Always",
                "serviceAccountName": "default",
            },
            "status": {
                "phase": "Running",
                "hostIP": host_ip,
                "hostIPs": [{"ip": host_ip}],
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "startTime": "2023-11-14T21:00:05Z",
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2023-11-14T21:00:10Z"}],
            },
        })
    doc = {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}
    return json.dumps(doc, indent=1) + "\n"


POLICY_YAML = """\
# Ingress to payments/api-1 (app=payments-api) only from shop pods labelled app=web, TCP 8443.
# Used by policy-violation.pcap: shop/cart-1 (app=cart) is denied, shop/web-1 is allowed.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: payments-api-ingress
  namespace: payments
spec:
  podSelector:
    matchLabels:
      app: payments-api
  policyTypes:
    - Ingress
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: shop
          podSelector:
            matchLabels:
              app: web
      ports:
        - protocol: TCP
          port: 8443
"""

# ---------------------------------------------------------------------------------------------
# Files written by the cluster traffic generator (Benchmarks/gen_cluster_pcap.py)

SHARED = [
    # (pcap, pods, options, alert)
    ("benign.pcap", "benign.pods.json", ["--packets", "20000", "--flows", "1000", "--pods", "120", "--seed", "7"],
     "background traffic, no attack: no scan, flood, sweep, stealth or spoofing alert. But see the note on world egress below"),
    ("scan-in-cluster.pcap", "scan-in-cluster.pods.json",
     ["--packets", "20000", "--flows", "1000", "--pods", "120", "--seed", "7", "--scan", "200"],
     "one vertical port scan: shop/thumbnailer 10.244.0.23 → identity/billing 10.244.2.7 (remote node), ports 1-200 in 0.06 s at epoch 1735725603.0, 198 RST+ACK, 2 open (22, 80)"),
    ("synflood-in-cluster.pcap", "synflood-in-cluster.pods.json",
     ["--packets", "30000", "--flows", "1000", "--pods", "120", "--seed", "7", "--synflood", "5000"],
     "one SYN flood on ingress-nginx 10.244.0.4:443: 5000 SYNs from random 198.18.0.0/15 sources (about 4,920 distinct) in 0.09 s at epoch 1735725606.0, 2500 SYN-ACKed, none completed"),
]


def run_shared(out_dir):
    """Run the cluster traffic generator for every SHARED entry into out_dir. Returns False if it is missing.
    --jobs 1 keeps it to one core; the generator documents that --jobs does not change the output."""
    if not os.path.isfile(SHARED_GENERATOR):
        return False
    for pcap, pods, options, _ in SHARED:
        subprocess.run([sys.executable, SHARED_GENERATOR, *options, "--jobs", "1",
                        "--out", os.path.join(out_dir, pcap), "--pods-out", os.path.join(out_dir, pods), "--quiet"],
                       check=True)
    return True


# ---------------------------------------------------------------------------------------------
# README


def readme(files):
    """files: {name: bytes} for everything in the directory except README.md."""
    def count(name):
        return pcap_packet_count(files[name]) if name in files else "(missing)"

    rows = [
        ("`policy-violation.pcap`", count("policy-violation.pcap"),
         "policy violation: 4 denied connections shop/cart-1 → payments/api-1:8443 within 15 s (POLICY_DENIED, ingress, payments/payments-api-ingress); web-1's connection allowed"),
        ("`port-scan-vertical.pcap`", count("port-scan-vertical.pcap"),
         "vertical port scan: 10.244.0.10 → 10.244.1.20, 15 distinct ports (20-34) in 1.4 s, 13 RST+ACK, 2 open"),
        ("`port-scan-horizontal.pcap`", count("port-scan-horizontal.pcap"),
         "horizontal scan: 10.244.0.10 → TCP 22 of 25 distinct hosts (10.244.1.100-124) in 4.8 s, all RST+ACK"),
        ("`syn-flood.pcap`", count("syn-flood.pcap"),
         "SYN flood on 10.244.0.10:443: 300 half-open from 300 spoofed sources in 2.99 s (150 SYN-ACKed); 5 complete connections from 198.51.100.7 not counted"),
        ("`stealth-scans.pcap`", count("stealth-scans.pcap"),
         "stealth probes 10.244.0.10 → 10.244.1.20: NULL 4, FIN 1, XMAS 1, SYN+FIN 1, SYN+RST 1 (8 ports, 1001-1008)"),
        ("`spoofed-source.pcap`", count("spoofed-source.pcap"),
         "unknown source 10.244.0.99 in the local pod CIDR; VXLAN 8472 VNI 2 (world) for shop/web-2; a correct VNI 6 case must not alert"),
        ("`world-egress.pcap`", count("world-egress.pcap"),
         "world egress from sensitive namespace payments: 2 alerts (198.18.7.7:443 TCP, 203.0.113.9:53 UDP); none for shop/web-1 → 198.18.7.8:443; the query to 203.0.113.9 is also a dns_external_resolver alert"),
        ("`icmp-sweep.pcap`", count("icmp-sweep.pcap"),
         "ICMP sweep: 10.244.0.10 → 25 distinct hosts in 2.4 s, 10 replies"),
        ("`allowlisted-scan.pcap`", count("allowlisted-scan.pcap"),
         "the vertical scan from monitoring/prometheus-1 10.244.0.30: no alert when allow-listed, else as port-scan-vertical"),
        ("`scan-with-violations.pcap`", count("scan-with-violations.pcap"),
         "shop/cart-1 SYN-scans 30 ports (8430-8459) of payments/api-1, every probe denied by policy: one vertical scan with 30 folded policy violations; web-1's one denied connection to api-1:9090 is still a policy violation"),
        ("`dns-external-resolver.pcap`", count("dns-external-resolver.pcap"),
         "DNS to resolvers other than the cluster's: shop/web-1 → 8.8.8.8 (3 times), shop/cart-1 → 9.9.9.9; none for the kube-dns pod, 169.254.20.10 or the node"),
        ("`dns-tunneling.pcap`", count("dns-tunneling.pcap"),
         "DNS tunnelling: shop/cart-1 sends 10 TXT queries with 50-character base32 labels in 4.5 s; normal and long load-balancer names do not count"),
        ("`dns-nxdomain-burst.pcap`", count("dns-nxdomain-burst.pcap"),
         "NXDOMAIN burst: shop/batch-0 gets NXDOMAIN for 20 distinct DGA-like .com names in 4 s (search-path NXDOMAINs under cluster.local ignored)"),
    ]
    for pcap, pods, options, alert in SHARED:
        rows.append((f"`{pcap}` + `{pods}`", count(pcap), alert))
    shared_cmds = "\n".join(
        f"python3 Benchmarks/gen_cluster_pcap.py {' '.join(options)} --jobs 1 \\\n"
        f"    --out Captures/alerts/{pcap} --pods-out Captures/alerts/{pods} --quiet"
        for pcap, pods, options, _ in SHARED)
    sums = md_table(["file", "bytes", "sha256"],
                    [(f"`{n}`", len(files[n]), f"`{hashlib.sha256(files[n]).hexdigest()}`") for n in sorted(files)])
    return f"""# Alert fixtures

Captures for flowmon's security-alert detectors: one small capture per scenario, each with a `.md`
note (what it holds, the alert it must raise, and the numbers), the inventory and policy they are
written for, and three larger captures from the cluster traffic generator with and without an attack
mixed in.

All files are written by `generate.py` (Python 3, standard library only, deterministic: fixed
timestamps, no randomness; running it twice gives byte-identical files). From the repository root:

```sh
python3 Captures/alerts/generate.py            # rewrite every file here
python3 Captures/alerts/generate.py --check    # verify the files are up to date
```

- **Hand-built captures** (`policy-violation` … `allowlisted-scan`): classic pcap, little-endian,
  microsecond timestamps, LINKTYPE_ETHERNET, snaplen 65535; first packet at epoch 1700000000
  (2023-11-14T22:13:20Z) plus small offsets; every IPv4 header, TCP, UDP and ICMP checksum is valid.
- **`alerts.pods.json`** — `kubectl get pods -A -o json` shape, for all hand-built captures. Local node
  `kind-worker-0` (hostIP 172.18.0.2): shop/web-1 10.244.0.10 (app=web, tier=frontend), shop/cart-1
  10.244.0.11 (app=cart), payments/api-1 10.244.0.20 (app=payments-api, data=pci), monitoring/prometheus-1
  10.244.0.30 (app=prometheus), kube-system/coredns-1 10.244.0.2 (k8s-app=kube-dns). Remote node
  `kind-worker-1` (hostIP 172.18.0.3): shop/web-2 10.244.1.10 (app=web, tier=frontend), shop/db-1
  10.244.1.20 (app=db), shop/batch-0 … batch-29 10.244.1.100 … 10.244.1.129 (app=batch). All Running,
  IPv4 only. Run flowmon with `--pods Captures/alerts/alerts.pods.json --node-name kind-worker-0`.
- **`alerts.policies.yaml`** — NetworkPolicy payments/payments-api-ingress: pods app=payments-api accept
  ingress only from pods app=web in namespace shop, TCP 8443 (`--policies Captures/alerts/alerts.policies.yaml`).
- **Generated cluster captures** (`benign`, `scan-in-cluster`, `synflood-in-cluster`): written by
  `Benchmarks/gen_cluster_pcap.py` with its own inventory
  (`*.pods.json`, 120 pods, local node kind-worker-0) and its default start time, epoch 1735725600
  (2025-01-01T10:00:00Z), not 1700000000. If the generator is missing, `generate.py` says so
  and leaves the committed files as they are. The commands it runs, from the repository root:

```sh
{shared_cmds}
```

## Files and the alert each must raise

{md_table(["capture", "packets", "alert"], rows)}

**The generated cluster captures, as checked with tshark** (numbers from the generator's `--truth-out`
and from the committed files): they hold no TCP probe with invalid flags, no address in 10.244.0.0/16
or fd00:10:244::/64 that is missing from their pods file, no source pinging more than 2 hosts, and no
half-open or refused connection outside the injected attack. In `benign.pcap` a source reaches at most
7 distinct hosts on one port (TCP 443 to the world, all handshakes completed), and the largest fan-in is
44 connections to ingress-nginx 10.244.0.4:443 (all completed). **World egress:** these captures have their
own inventory, in which namespace `payments` exists (4 pods), and payments/users-5gprmhlzbs-p75jg
(10.244.0.9, fd00:10:244::9, on kind-worker-0) talks to world addresses: 6 destinations in
`benign.pcap` (IPv4 and IPv6, TCP 443 and 80), 1 in `scan-in-cluster.pcap`, 3 in
`synflood-in-cluster.pcap`. A world-egress detector with `payments` sensitive therefore alerts on
these captures too; use another sensitive namespace (or none) to test for silence. About 3 % of their flows
are 802.1Q-tagged and about 9 % IPv6; they start at epoch 1735725600 and have snaplen 262144 (the
generator's choices). The three pods files are identical (same --pods and --seed).

Every hand-built capture's `.md` gives the exact flows, timing and numbers. Pod identities (as
flowmon numbers them for `alerts.pods.json`): {", ".join(f"{pod_name(ip)} {n}" for ip, n in sorted(IDENTITY.items(), key=lambda kv: (kv[1], [int(x) for x in kv[0].split(".")])) if not pod_name(ip).startswith("shop/batch-"))}, shop/batch-* {IDENTITY["10.244.1.100"]}.

## Checksums

{sums}
"""


# ---------------------------------------------------------------------------------------------

BUILDERS = [build_policy_violation, build_vertical, build_horizontal, build_syn_flood, build_stealth,
            build_spoofed, build_world_egress, build_icmp_sweep, build_allowlisted, build_scan_with_violations, build_dns_external_resolver,
            build_dns_tunneling, build_dns_nxdomain_burst]


def build_all():
    files = {}
    for build in BUILDERS:
        for name, content in build().items():
            files[name] = content.encode() if isinstance(content, str) else content
    files["alerts.pods.json"] = pods_json().encode()
    files["alerts.policies.yaml"] = POLICY_YAML.encode()
    for name, data in files.items():
        if name.endswith(".pcap"):
            assert pcap_packet_count(data) < 2000, name
    return files


def main(argv):
    check = "--check" in argv
    if any(a != "--check" for a in argv):
        print("usage: python3 Captures/alerts/generate.py [--check]", file=sys.stderr)
        return 2
    files = build_all()
    shared_names = [n for pcap, pods, _, _ in SHARED for n in (pcap, pods)]
    with tempfile.TemporaryDirectory(prefix="flowmon-alerts-") as tmp:
        if run_shared(tmp):
            for name in shared_names:
                with open(os.path.join(tmp, name), "rb") as f:
                    files[name] = f.read()
        else:
            print(f"note: {os.path.normpath(SHARED_GENERATOR)} not found; "
                  f"leaving {', '.join(shared_names)} as they are", file=sys.stderr)
            for name in shared_names:
                path = os.path.join(HERE, name)
                if os.path.exists(path):
                    with open(path, "rb") as f:
                        files[name] = f.read()
    files["README.md"] = readme(files).encode()

    stale = []
    for name in sorted(files):
        path = os.path.join(HERE, name)
        if check:
            try:
                with open(path, "rb") as f:
                    same = f.read() == files[name]
            except FileNotFoundError:
                same = False
            if not same:
                stale.append(name)
        else:
            with open(path, "wb") as f:
                f.write(files[name])
            print(f"wrote {os.path.relpath(path)} ({len(files[name])} bytes)")
    if check:
        if stale:
            print("out of date (run python3 Captures/alerts/generate.py): " + ", ".join(stale), file=sys.stderr)
            return 1
        print("Captures/alerts is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
