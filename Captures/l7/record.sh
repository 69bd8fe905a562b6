#!/usr/bin/env bash
# Records Captures/l7/l7-egress.pcap: real DNS, HTTP/1.1 and TLS traffic of one "pod", made by
# real programs in network namespaces this script creates (and removes, even on failure):
#
#   fm-l7-pod    10.244.1.10  the client pod shop/frontend-1 (curl, dig, python3)
#   fm-l7-node   10.244.1.1   its gateway, and 10.244.1.53, the cluster resolver kube-system/coredns-1
#                             (dnsmasq), and the "world": 203.0.113.10 (api/www.example.test:
#                             python3 http.server on 80, openssl s_server on 443), 203.0.113.20
#                             (other.example.test), 198.51.100.7 (blocked.example.net)
#
# The capture is taken with tcpdump on the node side of the pod's veth (as a node agent sees a
# pod), full packets. Run as root: sudo Captures/l7/record.sh. Needs dnsmasq, tcpdump, curl,
# dig (dnsutils), openssl, python3. What each exchange is for is in README.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/l7-egress.pcap}
WORK=$(mktemp -d)
POD=fm-l7-pod
NODE=fm-l7-node

cleanup() {
    set +e
    [ -f "$WORK/tcpdump.pid" ] && kill "$(cat "$WORK/tcpdump.pid")" 2>/dev/null
    for pid in "$WORK"/*.pid; do [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null; done
    ip netns del $POD 2>/dev/null
    ip netns del $NODE 2>/dev/null
    rm -rf /etc/netns/$POD "$WORK"
}
trap cleanup EXIT
cleanup 2>/dev/null || true
WORK=$(mktemp -d)

ip netns add $POD
ip netns add $NODE
ip link add fm-l7-veth type veth peer name fm-l7-eth0
ip link set fm-l7-eth0 netns $POD
ip link set fm-l7-veth netns $NODE
ip -n $POD addr add 10.244.1.10/24 dev fm-l7-eth0
ip -n $POD link set fm-l7-eth0 up
ip -n $POD link set lo up
ip -n $POD route add default via 10.244.1.1
ip -n $NODE addr add 10.244.1.1/24 dev fm-l7-veth
ip -n $NODE addr add 10.244.1.53/32 dev fm-l7-veth
ip -n $NODE link set fm-l7-veth up
ip -n $NODE link set lo up
for address in 203.0.113.10/32 203.0.113.20/32 198.51.100.7/32; do ip -n $NODE addr add $address dev lo; done
# The pod's resolver: ip netns exec bind-mounts this over /etc/resolv.conf.
mkdir -p /etc/netns/$POD
echo "nameserver 10.244.1.53" > /etc/netns/$POD/resolv.conf

cat > "$WORK/dnsmasq.conf" <<'EOF'
no-resolv
no-hosts
listen-address=10.244.1.53
bind-interfaces
local-ttl=300
local=/example.test/
local=/example.net/
host-record=api.example.test,203.0.113.10,2001:db8::10
host-record=other.example.test,203.0.113.20
host-record=blocked.example.net,198.51.100.7
cname=www.example.test,api.example.test
EOF
ip netns exec $NODE dnsmasq --conf-file="$WORK/dnsmasq.conf" --pid-file="$WORK/dnsmasq.pid"

mkdir -p "$WORK/www/admin"
printf 'hello from api.example.test\n' > "$WORK/www/index.html"
printf '{"items":[1,2,3]}\n' > "$WORK/www/items.json"
printf 'admin\n' > "$WORK/www/admin/index.html"
(cd "$WORK/www" && ip netns exec $NODE python3 -m http.server 80 --bind 203.0.113.10 >/dev/null 2>&1 & echo $! > "$WORK/http.pid")
(cd "$WORK/www" && ip netns exec $NODE python3 -m http.server 80 --bind 198.51.100.7 >/dev/null 2>&1 & echo $! > "$WORK/http2.pid")
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 1 \
    -subj "/CN=api.example.test" >/dev/null 2>&1
ip netns exec $NODE openssl s_server -accept 203.0.113.10:443 -cert "$WORK/cert.pem" -key "$WORK/key.pem" -www \
    -alpn h2,http/1.1 >/dev/null 2>&1 &
echo $! > "$WORK/tls.pid"
sleep 1

ip netns exec $NODE tcpdump -i fm-l7-veth -s 0 -U -w "$WORK/capture.pcap" >/dev/null 2>&1 &
echo $! > "$WORK/tcpdump.pid"
sleep 1

pod() { ip netns exec $POD "$@"; }
# 1. A name, then HTTP to it (curl asks for A and AAAA over UDP).
pod curl -s -o /dev/null http://api.example.test/index.html
# 2. A CNAME chain: www.example.test -> api.example.test.
pod curl -s -o /dev/null http://www.example.test/items.json
# 3. TLS with SNI and ALPN (the handshake is what matters; the certificate is self-signed).
pod curl -s -k -o /dev/null --http1.1 https://api.example.test/ || true
# 4. A request the HTTP rules refuse (POST to /admin/).
pod curl -s -o /dev/null -X POST -d 'x=1' http://api.example.test/admin/ || true
# 5. Two pipelined requests on one connection.
pod python3 - <<'EOF'
import socket
s = socket.create_connection(("203.0.113.10", 80))
s.sendall(b"GET /index.html HTTP/1.1\r\nHost: api.example.test\r\nUser-Agent: pipeline/1\r\n\r\n"
          b"GET /items.json HTTP/1.1\r\nHost: api.example.test\r\nUser-Agent: pipeline/1\r\nConnection: close\r\n\r\n")
while s.recv(65536):
    pass
s.close()
EOF
# 6. A name outside the policy's patterns, then a connection to its address.
pod curl -s -o /dev/null http://blocked.example.net/ || true
# 7. An address never resolved (a hard-coded IP): toFQDNs does not select it.
pod curl -s -o /dev/null --max-time 2 http://203.0.113.20/ || true
# 8. A name that does not exist (NXDOMAIN), and DNS over TCP.
pod dig +short +tries=1 nosuch.example.test @10.244.1.53 >/dev/null || true
pod dig +short +tcp other.example.test @10.244.1.53 >/dev/null
sleep 1
kill "$(cat "$WORK/tcpdump.pid")"
rm "$WORK/tcpdump.pid"
sleep 1
cp "$WORK/capture.pcap" "$OUT"
echo "wrote $OUT ($(stat -c %s "$OUT") bytes)"
