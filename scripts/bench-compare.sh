#!/usr/bin/env bash
# Compare Tandem with kfake on this machine, each server in its own process
# on loopback, driven by `tandem bench` with identical flags.
#
#   TANDEM=./bin/tandem scripts/bench-compare.sh      (make bench-compare)
#
# Servers:
#   tandem           $TANDEM serve, data in a fresh directory
#   kfake-disk       kfake persisting to a fresh directory, fsync per batch
#   kfake-blackhole  kfake discarding produced data: the client-and-protocol
#                    ceiling that the other figures are divided by
# Scenarios (1 KiB records, 16 partitions, acks=all, one fresh server each):
#   produce throughput, uncompressed, then consume throughput of that data
#   produce throughput, lz4
#   produce latency at a steady 100,000 records/s with linger 0
# Before them, `tandem bench disk` measures the storage alone at the latency
# run's byte rate (the floor under fsync-before-ack latency on this disk),
# and after the uncompressed run the data is consumed again by two clients.
#
# Environment:
#   TANDEM           tandem binary (default ./bin/tandem)
#   BENCH_BYTES      bytes per throughput run (default 1GiB)
#   BENCH_SECONDS    seconds of the latency run (default 10)
#   BENCH_SERVERS    servers to run (default "tandem kfake-disk kfake-blackhole")
#   BENCH_PORT       first loopback port to try (default 29092)
#   BENCH_WARM       1 (default): hand every run recently freed pages (see
#                    warm_pages); 0: no warm-up
#   BENCH_WARM_MIB   MiB written and deleted by the warm-up (default 1536)
#   BENCH_KEEP       directory to keep logs and JSON results in (default: a
#                    temporary directory, removed at exit)
# Prints a markdown table on stdout; progress goes to stderr.
set -euo pipefail

TANDEM=${TANDEM:-./bin/tandem}
BYTES=${BENCH_BYTES:-1GiB}
SECONDS_LAT=${BENCH_SECONDS:-10}
SERVERS=${BENCH_SERVERS:-"tandem kfake-disk kfake-blackhole"}
PORT=${BENCH_PORT:-29092}
RATE=100000
RECORD=1024
PARTS=16

if [ ! -x "$TANDEM" ]; then
  echo "bench-compare: $TANDEM is not an executable (build it with 'make build' or set TANDEM)" >&2
  exit 2
fi

if [ -n "${BENCH_KEEP:-}" ]; then
  WORK=$BENCH_KEEP
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench.XXXXXX")
fi

SERVER_PID=""
cleanup() {
  stop_server
  if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench-compare: $*" >&2; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

next_port() {
  PORT=$((PORT + 1))
  while port_in_use "$PORT"; do PORT=$((PORT + 1)); done
}

# start_server NAME RUN: starts server NAME for run RUN on a free port and
# waits (at most 60 s) until it accepts connections. Sets ADDR.
start_server() {
  local name=$1 run=$2 dir="$WORK/data-$1-$2"
  next_port
  ADDR=127.0.0.1:$PORT
  rm -rf "$dir"
  mkdir -p "$dir"
  local cmd
  case $name in
    tandem)
      next_port
      HTTP_ADDR=127.0.0.1:$PORT
      cmd=("$TANDEM" serve --listeners="PLAINTEXT://$ADDR" --log.dirs="$dir" --http.listeners="http://$HTTP_ADDR") ;;
    kfake-disk) cmd=("$TANDEM" bench kfake --addr "$ADDR" --data-dir "$dir" --sync-writes) ;;
    kfake-blackhole) cmd=("$TANDEM" bench kfake --addr "$ADDR" --blackhole) ;;
    *) log "unknown server $name"; exit 2 ;;
  esac
  "${cmd[@]}" >"$WORK/$name-$run.server.log" 2>&1 &
  SERVER_PID=$!
  local deadline=$((SECONDS + 60))
  until port_in_use "$PORT"; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "$name exited before listening; its log:"
      cat "$WORK/$name-$run.server.log" >&2
      SERVER_PID=""
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "$name not listening on $ADDR after 60 s"
      stop_server
      return 1
    fi
    sleep 0.1
  done
}

# stop_server stops the server this script started, by its PID: SIGTERM,
# then SIGKILL after 30 s.
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL "$SERVER_PID" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# warm_pages (BENCH_WARM=1): write and delete a file of BENCH_WARM_BYTES
# just before a run, so that every server starts with the same supply of
# recently freed page-cache pages. On a VM whose balloon driver reports
# free pages back to the hypervisor (virtio-balloon free page reporting),
# the first touch of a reported page faults in the host: on the machine of
# docs/benchmarks.md, writing 1 GiB into such pages costs ~3.3 s of CPU,
# into just-freed ones ~0.2 s. Without this, whichever server runs right
# after another server's data was deleted gets warm pages and the others
# cold ones, and the run order decides the ratio.
warm_pages() {
  [ "${BENCH_WARM:-1}" = 1 ] || return 0
  dd if=/dev/zero of="$WORK/warm" bs=1M count=$((${BENCH_WARM_MIB:-1536})) status=none
  rm -f "$WORK/warm"
}

# bench SERVER RUN FLAGS...: one fresh server, one `tandem bench` run; the
# JSON result line goes to $WORK/SERVER-RUN.json (empty if the run failed).
bench() {
  local name=$1 run=$2
  shift 2
  : >"$WORK/$name-$run.json"
  log "$name / $run: starting"
  # Start every run from the same state: no dirty data left by the
  # previous run for the kernel (or a syncfs round) to write back.
  sync
  warm_pages
  if ! start_server "$name" "$run"; then return 0; fi
  if "$TANDEM" bench --brokers "$ADDR" --topic "bench-$run" --create-topic \
      --partitions "$PARTS" --record-size "$RECORD" --acks all "$@" \
      >"$WORK/$name-$run.out" 2>&1; then
    grep '^{' "$WORK/$name-$run.out" | tail -n 1 >"$WORK/$name-$run.json" || true
    if [ "$run" = tput-none ] && [ "$name" != kfake-blackhole ]; then
      # The same data again, read by two consumer clients (two
      # connections and fetch pipelines, as two group members have).
      : >"$WORK/$name-consume2.json"
      if "$TANDEM" bench --brokers "$ADDR" --topic "bench-$run" --create-topic=false \
          --consume-only --consumers 2 >"$WORK/$name-consume2.out" 2>&1; then
        grep '^{' "$WORK/$name-consume2.out" | tail -n 1 >"$WORK/$name-consume2.json" || true
      else
        log "$name / consume with 2 consumers failed; its output:"
        cat "$WORK/$name-consume2.out" >&2
      fi
    fi
  else
    log "$name / $run failed; its output:"
    cat "$WORK/$name-$run.out" >&2
  fi
  if [ "$name" = tandem ]; then
    # The broker's own view of the run: fsync round and request-time
    # histograms, to tell storage stalls from the rest.
    curl -s "http://$HTTP_ADDR/metrics" >"$WORK/$name-$run.metrics" 2>/dev/null || true
  fi
  stop_server
  rm -rf "$WORK/data-$name-$run"
}

# get SERVER RUN KEY: a number from a result line, empty if missing.
get() {
  [ -s "$WORK/$1-$2.json" ] || return 0
  sed -n "s/.*\"$3\":\([-0-9.eE+]*\).*/\1/p" "$WORK/$1-$2.json" 2>/dev/null | head -n 1
}

# ratio A B: A/B to two decimals, or "-" when either is missing or B is 0.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}

lat_bytes=$((RATE * RECORD * SECONDS_LAT))
# The storage alone, no broker: fsync rounds at the latency run's byte
# rate, the floor under any fsync-before-ack server's latency here.
log "disk probe: starting"
sync
: >"$WORK/disk-latency.json"
if "$TANDEM" bench disk --dir "$WORK" --rate $((RATE * RECORD)) --duration "${SECONDS_LAT}s" \
    >"$WORK/disk.out" 2>&1; then
  grep '^{' "$WORK/disk.out" | tail -n 1 >"$WORK/disk-latency.json" || true
else
  log "disk probe failed; its output:"
  cat "$WORK/disk.out" >&2
fi
for s in $SERVERS; do
  consume=(--consume)
  # A blackhole keeps nothing to consume.
  if [ "$s" = kfake-blackhole ]; then consume=(); fi
  bench "$s" tput-none --bytes "$BYTES" --compression none "${consume[@]}"
  bench "$s" tput-lz4 --bytes "$BYTES" --compression lz4
  bench "$s" latency --bytes "$lat_bytes" --compression none --linger 0s --rate "$RATE"
done

# Markdown report.
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "## tandem bench: Tandem vs kfake"
echo
echo "Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r). $("$TANDEM" version 2>/dev/null || echo tandem)."
echo "Page warm-up before each run: BENCH_WARM=${BENCH_WARM:-1} (${BENCH_WARM_MIB:-1536} MiB)."
echo "Flags for every server: --partitions $PARTS --record-size $RECORD --acks all; throughput runs --bytes $BYTES;"
echo "latency run --rate $RATE --linger 0s for $SECONDS_LAT s. MB = 10^6 bytes of record values."
echo
header="| Figure |"
rule="|---|"
for s in $SERVERS; do header="$header $s |"; rule="$rule---:|"; done
for s in $SERVERS; do
  if [ "$s" != kfake-blackhole ]; then header="$header $s / blackhole |"; rule="$rule---:|"; fi
done
echo "$header"
echo "$rule"
row() { # row LABEL RUN KEY
  local line="| $1 |" v
  for s in $SERVERS; do
    v=$(get "$s" "$2" "$3")
    line="$line ${v:--} |"
  done
  for s in $SERVERS; do
    if [ "$s" != kfake-blackhole ]; then
      line="$line $(ratio "$(get "$s" "$2" "$3")" "$(get kfake-blackhole "$2" "$3")") |"
    fi
  done
  echo "$line"
}
row "Produce MB/s, uncompressed" tput-none produce_mbps
row "Produce records/s, uncompressed" tput-none produce_records_per_sec
row "Produce MB/s, lz4" tput-lz4 produce_mbps
row "Consume MB/s (of the uncompressed run)" tput-none consume_mbps
row "Consume MB/s, 2 consumers" consume2 consume_mbps
row "Produce p50 ms at ${RATE}/s" latency p50_ms
row "Produce p99 ms at ${RATE}/s" latency p99_ms
row "Produce p99.9 ms at ${RATE}/s" latency p999_ms
row "Records/s achieved at ${RATE}/s" latency produce_records_per_sec
echo
echo "Disk alone (\`tandem bench disk\`, syncfs rounds at $((RATE * RECORD / 1000000)) MB/s, no broker):" \
  "write-to-durable p50 $(get disk latency durable_p50_ms) ms, p99 $(get disk latency durable_p99_ms) ms," \
  "p99.9 $(get disk latency durable_p999_ms) ms; rounds p99 $(get disk latency round_p99_ms) ms, max $(get disk latency round_max_ms) ms."
# hist_q FILE METRIC FILTER Q: the upper bound (ms) of the bucket holding
# quantile Q of Prometheus histogram METRIC, on the series whose labels
# contain FILTER ("" for all): an upper bound, not an interpolation.
hist_q() {
  [ -s "$1" ] || return 0
  awk -v m="$2_bucket{" -v f="$3" -v q="$4" '
    index($0, m) == 1 && index($0, f) > 0 { split($0, a, "le=\""); split(a[2], b, "\""); le[n] = b[1]; c[n] = $NF; n++ }
    END { if (n == 0) exit; total = c[n-1]; for (i = 0; i < n; i++) if (c[i] >= q * total) { v = le[i]; break }
          if (v == "+Inf") print "inf"; else printf "%g\n", v * 1000 }' "$1"
}
if [ -s "$WORK/tandem-latency.metrics" ]; then
  m="$WORK/tandem-latency.metrics"
  f=tandem_fsync_duration_seconds
  r=tandem_request_duration_seconds
  echo "Tandem's own histograms in its latency run (bucket upper bounds): fsync rounds p50 ≤ $(hist_q "$m" $f "" 0.5) ms," \
    "p99 ≤ $(hist_q "$m" $f "" 0.99) ms, max ≤ $(hist_q "$m" $f "" 1) ms;" \
    "Produce requests p50 ≤ $(hist_q "$m" $r 'api="Produce"' 0.5) ms, p99 ≤ $(hist_q "$m" $r 'api="Produce"' 0.99) ms," \
    "max ≤ $(hist_q "$m" $r 'api="Produce"' 1) ms."
fi
echo
echo "Ratios divide by kfake-blackhole (no storage): for MB/s higher is better, for latency lower is better."
echo "kfake-blackhole keeps nothing, so it has no consume figure. Failed runs show '-'."
if [ -n "${BENCH_KEEP:-}" ]; then echo "Logs and JSON results: $WORK"; fi
