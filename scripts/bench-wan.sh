#!/usr/bin/env bash
# Cluster-link mirroring against a consume→re-produce pipeline across a
# simulated WAN (issue #8, point 7): `tandem bench mirror --phases wan` on
# two `tandem serve` processes on loopback. The source listens on one port
# and advertises another (advertised.listeners), where the benchmark runs
# internal/wanproxy: one-way delay RTT/2 per direction, a shared bandwidth
# cap per direction, a bounded window per connection. Every connection the
# link and the pipeline's consumer make crosses it; the benchmark's own
# producers stand beside the source.
#
#   TANDEM=./bin/tandem scripts/bench-wan.sh
#
# One run: BENCH_BYTES of 1 KiB lz4 values in 8 partitions, mirrored (a new
# link per RTT) and copied by the pipeline at each of BENCH_RTTS, then
# replication latency at BENCH_LATENCY_RATE for BENCH_SECONDS at
# BENCH_LATENCY_RTT.
#
# Environment:
#   TANDEM              tandem binary (default ./bin/tandem)
#   BENCH_BYTES         bytes of values (default 1GiB)
#   BENCH_RTTS          round-trip times (default 0s,50ms,100ms,200ms)
#   BENCH_WAN_RATE      bandwidth per direction, bytes/s (default 125MB = 1 Gbit/s)
#   BENCH_WAN_WINDOW    bytes in flight per connection (default: the host's TCP limit, see wanproxy)
#   BENCH_LATENCY_RTT   (default 100ms)   BENCH_LATENCY_RATE (default 10MB)
#   BENCH_SECONDS       length of the latency run (default 20)
#   BENCH_LINK_CONFIG   extra link configs, k=v,... (default none: the defaults)
#   BENCH_LATENCY_COMPARE  rounds of the latency run with Kafka's fetch and with
#                       LinkFetch (fetch.pipelining.enable=false/true), alternating
#                       (default: one run with the link configs)
#   BENCH_PORT          first loopback port to try (default 29392)
#   BENCH_KEEP          keep logs and JSON in this directory
# Prints a markdown table on stdout; progress goes to stderr.
set -euo pipefail

NAME=bench-wan
PORT=${BENCH_PORT:-29392}
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

BYTES=${BENCH_BYTES:-1GiB}
RTTS=${BENCH_RTTS:-0s,50ms,100ms,200ms}
RATE=${BENCH_WAN_RATE:-125MB}
WINDOW=${BENCH_WAN_WINDOW:-0}
LRTT=${BENCH_LATENCY_RTT:-100ms}
LRATE=${BENCH_LATENCY_RATE:-10MB}
LSECS=${BENCH_SECONDS:-20}


sync
if [ "${BENCH_WARM:-1}" = 1 ]; then # see scripts/bench-mirror.sh (warm_pages)
  dd if=/dev/zero of="$WORK/warm" bs=1M count=$((${BENCH_WARM_MIB:-3072})) status=none
  rm -f "$WORK/warm"
fi
next_port; PROXY=127.0.0.1:$PORT # the address the source advertises; the benchmark listens there
start src --advertised.listeners="PLAINTEXT://$PROXY"; src=$ADDR spid=$PID
start dst ${BENCH_DST_FLAGS:-}; dst=$ADDR durl=$URL dpid=$PID
log "source $src advertised as $PROXY (pid $spid), destination $dst $durl (pid $dpid)"
cmd=("$TANDEM" bench mirror --phases wan --source "$PROXY" --wan-target "$src" --dest "$dst" --dest-url "$durl"
  --dest-pid "$dpid" --source-pid "$spid" --partitions 8 --bytes "$BYTES" --wan-rtts "$RTTS" --wan-rate "$RATE"
  --wan-window "$WINDOW" --wan-latency-rtt "$LRTT" --latency-rate "$LRATE" --latency-duration "${LSECS}s")
if [ -n "${BENCH_LINK_CONFIG:-}" ]; then cmd+=(--link-config "$BENCH_LINK_CONFIG"); fi
if [ -n "${BENCH_LATENCY_COMPARE:-}" ]; then cmd+=(--wan-latency-compare "$BENCH_LATENCY_COMPARE"); fi
echo "${cmd[*]}" >"$WORK/wan.cmd"
status=0
"${cmd[@]}" >"$WORK/wan.out" 2>&1 || status=$?
cat "$WORK/wan.out" >&2
if [ "$status" != 0 ]; then log "bench failed ($status)"; exit "$status"; fi
json=$(grep '^{' "$WORK/wan.out" | tail -n 1)
echo "$json" >"$WORK/wan.json"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "## tandem bench mirror --phases wan: mirroring vs consume→re-produce across a simulated WAN"
echo
echo "Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r); brokers, proxy and clients share the CPUs."
echo
python3 - "$WORK/wan.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
w = r["wan"]
print(f"Path: {w['rate_mbps']} MB/s per direction, window {w['window_bytes']} bytes per connection and direction; "
      f"{r['bytes']} bytes of 1 KiB lz4 values, 8 partitions. MB = 10^6 bytes of record values; path MB/s counts the bytes that crossed the path towards the destination.")
print()
print("From the create-mirror request (pipeline: from its start) to caught up, set-up round trips included:")
print()
print("| RTT ms | mirror MB/s | mirror path MB/s | mirror / no delay | pipeline MB/s | pipeline path MB/s | mirror / pipeline |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for p in w["points"]:
    print(f"| {p['rtt_ms']:g} | {p['mirror_mbps']} | {p['mirror_path_mbps']} | {p.get('mirror_vs_no_delay', '-')} | {p['pipeline_mbps']} | {p['pipeline_path_mbps']} | {p['mirror_vs_pipeline']} |")
print()
print("Steady rate, between 10% and 90% of the bytes that crossed the path; set-up is the time until 1% had:")
print()
print("| RTT ms | mirror MB/s | mirror / no delay | pipeline MB/s | mirror / pipeline | set-up s, mirror / pipeline |")
print("|---:|---:|---:|---:|---:|---:|")
for p in w["points"]:
    print(f"| {p['rtt_ms']:g} | {p['mirror_steady_mbps']} | {p.get('steady_mirror_vs_no_delay', '-')} | {p['pipeline_steady_mbps']} | {p['steady_mirror_vs_pipeline']} | {p['mirror_setup_seconds']} / {p['pipeline_setup_seconds']} |")
runs = w.get("latency_runs") or []
if runs:
    print()
    print(f"Replication latency at RTT {w['latency_rtt_ms']:g} ms (source ack → readable on the mirror), Kafka's fetch (a) against LinkFetch (b), alternating, each on a new link:")
    print()
    print("| round | order | a: p50 / p99 / p99.9 / max ms | b: p50 / p99 / p99.9 / max ms | p99 b / a | records, MB/s (a; b) |")
    print("|---:|---|---|---|---:|---|")
    for rnd in sorted({x['round'] for x in runs}):
        rs = [x for x in runs if x['round'] == rnd]
        a = next(x for x in rs if not x['pipelined']); b = next(x for x in rs if x['pipelined'])
        order = "a, b" if rs[0] is a else "b, a"
        q = lambda x: f"{x['p50_ms']} / {x['p99_ms']} / {x['p999_ms']} / {x['max_ms']}"
        print(f"| {rnd+1} | {order} | {q(a)} | {q(b)} | {round(b['p99_ms']/a['p99_ms'], 2) if a['p99_ms'] else '-'} | {a['records']}, {a['mbps']}; {b['records']}, {b['mbps']} |")
elif w.get("latency_rtt_ms"):
    print()
    print(f"Replication latency at RTT {w['latency_rtt_ms']:g} ms, {r['latency_offered_mbps']} MB/s achieved, {r['latency_records']} records: "
          f"p50 {r['latency_p50_ms']} ms, p99 {r['latency_p99_ms']} ms, p99.9 {r['latency_p999_ms']} ms, max {r['latency_max_ms']} ms "
          f"(send → readable on the mirror p50/p99 {r['send_to_mirror_p50_ms']} / {r['send_to_mirror_p99_ms']} ms).")
PY
echo
echo "Command: $(cat "$WORK/wan.cmd")"
if [ -n "${BENCH_KEEP:-}" ]; then echo "Logs and JSON: $WORK"; fi
