#!/usr/bin/env bash
# A source-initiated link (DESTINATION/INBOUND + SOURCE/OUTBOUND, the source
# relaying the destination's fetches) against an ordinary OUTBOUND link, two
# `tandem serve` processes on loopback, driven by `tandem bench
# source-initiated` (docs/benchmarks.md).
#
#   TANDEM=./bin/tandem scripts/bench-source-initiated.sh
#
# Environment:
#   TANDEM              tandem binary (default ./bin/tandem)
#   BENCH_BYTES         bytes of values mirrored by every run (default 512MiB)
#   BENCH_ROUNDS        rounds of one outbound and one source-initiated mirror (default 3)
#   BENCH_LATENCY_RATE  bytes/s offered in each latency run (default 10MB; 0: none)
#   BENCH_SECONDS       length of each latency run (default 10)
#   BENCH_PORT          first loopback port to try (default 29492)
#   BENCH_WARM          1 (default): write and delete BENCH_WARM_MIB (default
#                       2048) first (see scripts/bench-mirror.sh, warm_pages)
#   BENCH_KEEP          keep logs and JSON results in this directory
#   BENCH_WAN_RTT       e.g. 100ms: a simulated WAN path (internal/wanproxy)
#                       between the clusters, for both kinds of link; the
#                       source then has two listeners: PLAINTEXT, advertised
#                       as the proxy's address (the OUTBOUND links' way in),
#                       and LOCAL, advertising itself (the SOURCE halves'
#                       local.listener.name, and the benchmark's producers)
#   BENCH_WAN_RATE      bytes/s per direction of the path (default 125MB)
#   BENCH_SERVE_FLAGS   extra flags of both `tandem serve` (e.g.
#                       --http.pprof.enable=true to profile them)
# Progress and results go to stdout; the last line is the JSON result.
set -euo pipefail

NAME=bench-source-initiated
PORT=${BENCH_PORT:-29492}
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

sync
if [ "${BENCH_WARM:-1}" = 1 ]; then
  dd if=/dev/zero of="$WORK/warm" bs=1M count=$((${BENCH_WARM_MIB:-2048})) status=none
  rm -f "$WORK/warm"
fi
read -r -a extra <<<"${BENCH_SERVE_FLAGS:-}"
wan=()
if [ -n "${BENCH_WAN_RTT:-}" ]; then
  next_port; proxy=127.0.0.1:$PORT  # the benchmark's proxy to the source listens here
  next_port; local=127.0.0.1:$PORT  # the source's LOCAL listener
  EXTRA_LISTENERS="LOCAL://$local" start src "${extra[@]}" --listener.security.protocol.map=PLAINTEXT:PLAINTEXT,LOCAL:PLAINTEXT \
    --advertised.listeners="PLAINTEXT://$proxy,LOCAL://$local"
  wan=(--wan-rtt "$BENCH_WAN_RTT" --wan-rate "${BENCH_WAN_RATE:-125MB}" --wan-listen "$proxy" --wan-target "$ADDR" --local-listener LOCAL)
  src=$local surl=$URL spid=$PID
else
  start src "${extra[@]}"; src=$ADDR surl=$URL spid=$PID
fi
start dst "${extra[@]}"; dst=$ADDR durl=$URL dpid=$PID
log "source $src $surl (pid $spid), destination $dst $durl (pid $dpid)"
cmd=("$TANDEM" bench source-initiated --source "$src" --source-url "$surl" --source-pid "$spid"
  --dest "$dst" --dest-url "$durl" --dest-pid "$dpid" --partitions 8 --bytes "${BENCH_BYTES:-512MiB}"
  --rounds "${BENCH_ROUNDS:-3}" --latency-rate "${BENCH_LATENCY_RATE:-10MB}" --latency-duration "${BENCH_SECONDS:-10}s" "${wan[@]}")
echo "${cmd[*]}" >"$WORK/si.cmd"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r); $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Command: ${cmd[*]}"
"${cmd[@]}"
