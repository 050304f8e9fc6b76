#!/usr/bin/env bash
# Cluster-link mirroring against a consume→re-produce pipeline (what
# MirrorMaker 2 does), two `tandem serve` processes on loopback, driven by
# `tandem bench mirror` (issue #4).
#
#   TANDEM=./bin/tandem scripts/bench-mirror.sh
#
# Run 1 (fresh source and destination): throughput and CPU per GB of a mirror
# and of the pipeline copying the same BENCH_BYTES of 1 KiB lz4 records
# (16 partitions), then replication latency at BENCH_LATENCY_RATE.
# Run 2 (fresh pair): 1,000 mirrored partitions on one link, destination RSS.
#
# Environment:
#   TANDEM              tandem binary (default ./bin/tandem)
#   BENCH_BYTES         bytes of values for the throughput phase (default 1GiB)
#   BENCH_LATENCY_RATE  bytes/s offered in the latency phase (default 10MB)
#   BENCH_SECONDS       length of the latency phase (default 20s)
#   BENCH_PORT          first loopback port to try (default 29192)
#   BENCH_WARM          1 (default): write and delete BENCH_WARM_MIB (default
#                       3072) before each run (see warm_pages); 0: don't
#   BENCH_KEEP          keep logs and JSON results in this directory
# Prints a markdown table on stdout; progress goes to stderr.
set -euo pipefail

NAME=bench-mirror
PORT=${BENCH_PORT:-29192}
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

BYTES=${BENCH_BYTES:-1GiB}
LRATE=${BENCH_LATENCY_RATE:-10MB}
LSECS=${BENCH_SECONDS:-20}


# warm_pages (BENCH_WARM=1, the default): write and delete BENCH_WARM_MIB
# before a run, so that the brokers write into recently freed page-cache
# pages. On a VM with balloon free-page reporting, first-touch pages fault
# in the host (~3.3 s of CPU per GiB written on the machine of
# docs/benchmarks.md, against ~0.2 s for recycled ones), which otherwise
# lands on whichever copy writes first. See scripts/bench-compare.sh.
warm_pages() {
  [ "${BENCH_WARM:-1}" = 1 ] || return 0
  dd if=/dev/zero of="$WORK/warm" bs=1M count=$((${BENCH_WARM_MIB:-3072})) status=none
  rm -f "$WORK/warm"
}

# run NAME FLAGS...: fresh source and destination, one `tandem bench mirror`.
run() {
  local name=$1; shift
  sync
  warm_pages
  start "$name-src"; local src=$ADDR spid=$PID
  start "$name-dst"; local dst=$ADDR durl=$URL dpid=$PID
  log "$name: source $src (pid $spid), destination $dst $durl (pid $dpid)"
  local cmd=("$TANDEM" bench mirror --source "$src" --dest "$dst" --dest-url "$durl" --dest-pid "$dpid" --source-pid "$spid" "$@")
  echo "${cmd[*]}" >"$WORK/$name.cmd"
  if ! "${cmd[@]}" >"$WORK/$name.out" 2>&1; then
    log "$name failed; its output:"; cat "$WORK/$name.out" >&2
  fi
  cat "$WORK/$name.out" >&2
  grep '^{' "$WORK/$name.out" | tail -n 1 >"$WORK/$name.json" || true
  stop_servers
  rm -rf "$WORK/data-$name-src" "$WORK/data-$name-dst"
}

get() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" "$WORK/$1.json" 2>/dev/null | head -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'; }
v() { local x; x=$(get "$1" "$2"); echo "${x:--}"; }

run main --phases throughput,latency --bytes "$BYTES" --latency-rate "$LRATE" --latency-duration "${LSECS}s"
run many --phases partitions --many-partitions 1000 --records-per-partition 5

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mm=$(get main mirror_mbps); pm=$(get main pipeline_mbps)
mc=$(get main mirror_dest_cpu_s_per_gb); pc=$(get main pipeline_cpu_s_per_gb)
echo "## tandem bench mirror: cluster link vs consume→re-produce pipeline"
echo
echo "Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r); brokers and client share the CPUs."
echo "Page warm-up before each run: BENCH_WARM=${BENCH_WARM:-1} (${BENCH_WARM_MIB:-3072} MiB)."
echo "Throughput: $(v main bytes) bytes of 1 KiB lz4 values, 16 partitions. MB = 10^6 bytes of record values."
echo
echo "| Figure | mirror | pipeline | mirror / pipeline |"
echo "|---|---:|---:|---:|"
echo "| MB/s | ${mm:--} | ${pm:--} | $(ratio "$mm" "$pm") |"
echo "| MB/s, mirror including a sync() after catch-up | $(v main mirror_with_sync_mbps) | ${pm:--} | $(ratio "$(get main mirror_with_sync_mbps)" "$pm") |"
echo "| CPU s/GB (destination broker; pipeline: + pipeline process) | ${mc:--} | ${pc:--} | $(ratio "$mc" "$pc") |"
echo "| – destination broker CPU s/GB | ${mc:--} | $(v main pipeline_dest_cpu_s_per_gb) | $(ratio "$mc" "$(get main pipeline_dest_cpu_s_per_gb)") |"
echo "| – pipeline process CPU s/GB | – | $(v main pipeline_proc_cpu_s_per_gb) | – |"
echo "| source broker CPU s/GB (not in the ratio) | $(v main mirror_source_cpu_s_per_gb) | $(v main pipeline_source_cpu_s_per_gb) | $(ratio "$(get main mirror_source_cpu_s_per_gb)" "$(get main pipeline_source_cpu_s_per_gb)") |"
echo
echo "| Replication latency, source ack → readable on the mirror | value |"
echo "|---|---:|"
echo "| offered / achieved MB/s | $LRATE / $(v main latency_offered_mbps) |"
echo "| records measured (warm-up left out) | $(v main latency_records) |"
echo "| p50 ms | $(v main latency_p50_ms) |"
echo "| p99 ms | $(v main latency_p99_ms) |"
echo "| p99.9 ms | $(v main latency_p999_ms) |"
echo "| max ms | $(v main latency_max_ms) |"
echo "| send → readable on the mirror p50 / p99 ms | $(v main send_to_mirror_p50_ms) / $(v main send_to_mirror_p99_ms) |"
echo
echo "| 1,000 mirrored partitions on one link | value |"
echo "|---|---:|"
echo "| catch-up s | $(v many many_catch_up_seconds) |"
echo "| destination RSS MB before the mirror | $(v many many_dest_rss_before_mb) |"
echo "| destination RSS MB after catch-up | $(v many many_dest_rss_mb) |"
echo "| destination peak RSS (VmHWM) MB | $(v many many_dest_rss_peak_mb) |"
echo
echo "Commands: $(cat "$WORK/main.cmd"); $(cat "$WORK/many.cmd")"
if [ -n "${BENCH_KEEP:-}" ]; then echo "Logs and JSON: $WORK"; fi
