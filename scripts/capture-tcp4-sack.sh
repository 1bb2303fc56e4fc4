#!/usr/bin/env bash
# Records test/fixtures/tcp4-sack.pcap: Linux ↔ Linux TCP with SACK blocks, which none of the
# shared captures holds (their path never loses a segment).
#
#   sudo scripts/capture-tcp4-sack.sh          (root: namespaces; needs ip, ethtool, dumpcap, tshark, python3)
#
#   ns A: client 192.168.69.1 (02:00:00:00:00:0a) ─ veth ─ ns M: relay ─ veth ─ ns B: server .2 (…:0b)
#
# The server sends 20 000 bytes and closes. The relay in M is a two-port bridge in Python that
# drops every 4th data frame from the server, so the client's kernel ACKs with SACK blocks and
# the server's kernel retransmits. Offloads are off and the MTU is 576, so every captured frame
# is a real wire frame with a full checksum and the 20 kB take many segments. The capture is
# taken on the client's interface; both sides' frames are Linux's own.
#
# Everything runs in three namespaces made here and deleted on exit (also on failure); every
# process started is ended by its PID; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=test/fixtures/tcp4-sack
TAG="tcpsack-$$"
A="$TAG-a" M="$TAG-m" B="$TAG-b"
TMP=$(mktemp -d)
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for n in "$A" "$M" "$B"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

for n in "$A" "$M" "$B"; do ip netns add "$n"; done
ip link add va netns "$A" type veth peer name ma netns "$M"
ip link add vb netns "$B" type veth peer name mb netns "$M"
ip -n "$A" link set dev va address 02:00:00:00:00:0a
ip -n "$B" link set dev vb address 02:00:00:00:00:0b
for spec in "$A va" "$M ma" "$M mb" "$B vb"; do
  set -- $spec
  ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
  ip -n "$1" link set dev "$2" mtu 576 up
done
ip -n "$M" link set dev ma promisc on
ip -n "$M" link set dev mb promisc on
ip -n "$A" addr add 192.168.69.1/24 dev va
ip -n "$B" addr add 192.168.69.2/24 dev vb

cat >"$TMP/relay.py" <<'PY'
import select, socket, sys, time
ETH_P_ALL, PACKET_OUTGOING = 3, 4
ports = {}
for name in ('ma', 'mb'):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((name, 0))
    ports[name] = s
peer = {'ma': 'mb', 'mb': 'ma'}
data_from_server = 0
deadline = time.time() + 30
while time.time() < deadline:
    ready, _, _ = select.select(list(ports.values()), [], [], 0.5)
    for name, s in ports.items():
        if s not in ready:
            continue
        frame, addr = s.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING:
            continue
        # IPv4 TCP from the server carrying data (IP total length beyond 40 + 12 of TS option).
        if name == 'mb' and frame[12:14] == b'\x08\x00' and frame[23] == 6 and len(frame) > 14 + 52:
            data_from_server += 1
            if data_from_server % 4 == 0:
                continue
        ports[peer[name]].send(frame)
PY
ip netns exec "$M" python3 "$TMP/relay.py" & PIDS+=($!)

cat >"$TMP/server.py" <<'PY'
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('192.168.69.2', 80)); s.listen(1); s.settimeout(20)
c, _ = s.accept()
c.sendall(bytes((i * 7) & 0xff for i in range(20000)))
c.close()
PY
cat >"$TMP/client.py" <<'PY'
import socket, sys
c = socket.create_connection(('192.168.69.2', 80), timeout=20)
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
c.close()
sys.exit(0 if n == 20000 else 1)
PY
ip netns exec "$B" python3 "$TMP/server.py" & PIDS+=($!)
ip netns exec "$A" dumpcap -q -i va -P -w "$TMP/cap.pcap" -a duration:12 2>"$TMP/dumpcap.err" & CAP=$!
PIDS+=($CAP)
sleep 2
ip netns exec "$A" timeout 25 python3 "$TMP/client.py"
sleep 1
kill -INT "$CAP" 2>/dev/null || cat "$TMP/dumpcap.err" >&2
wait "$CAP" || true

cp "$TMP/cap.pcap" "$OUT.pcap"
chmod 644 "$OUT.pcap"
tshark -r "$OUT.pcap" -T json --no-duplicate-keys \
  -o tcp.relative_sequence_numbers:FALSE -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
  >"$TMP/cap.tshark.json" 2>/dev/null
node scripts/trim-tshark.mjs --compact "$TMP/cap.tshark.json" "$OUT.wire.json"
echo "wrote $OUT.pcap ($(stat -c %s "$OUT.pcap") bytes) and $OUT.wire.json"
