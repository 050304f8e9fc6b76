# Shared by scripts/bench-mirror.sh and scripts/bench-wan.sh: a work
# directory, `tandem serve` processes on free loopback ports, clean-up.
# The caller sets NAME (its name in messages) and PORT (the first port to
# try), then sources this file. TANDEM defaults to ./bin/tandem.

TANDEM=${TANDEM:-./bin/tandem}

if [ ! -x "$TANDEM" ]; then
  echo "$NAME: $TANDEM is not an executable (make build, or set TANDEM)" >&2
  exit 2
fi
if [ -n "${BENCH_KEEP:-}" ]; then WORK=$BENCH_KEEP; mkdir -p "$WORK"; else WORK=$(mktemp -d "${TMPDIR:-/tmp}/tandem-$NAME.XXXXXX"); fi

PIDS=()
stop_servers() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
      sleep 0.1
    done
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
cleanup() { stop_servers; if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "$NAME: $*" >&2; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port() { PORT=$((PORT + 1)); while port_in_use "$PORT"; do PORT=$((PORT + 1)); done; }

# start NAME [FLAG...]: a fresh `tandem serve` on free ports, with any
# extra flags; sets ADDR, URL, PID. EXTRA_LISTENERS (NAME://host:port,...)
# are added to its PLAINTEXT listener.
start() {
  local name=$1 dir="$WORK/data-$1"
  shift
  rm -rf "$dir"; mkdir -p "$dir"
  next_port; ADDR=127.0.0.1:$PORT
  next_port; URL=http://127.0.0.1:$PORT
  "$TANDEM" serve --listeners="PLAINTEXT://$ADDR${EXTRA_LISTENERS:+,$EXTRA_LISTENERS}" --http.listeners="$URL" --log.dirs="$dir" "$@" >"$WORK/$name.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  local deadline=$((SECONDS + 60)) hp=${URL##*:}
  until port_in_use "${ADDR##*:}" && port_in_use "$hp"; do
    if ! kill -0 "$PID" 2>/dev/null; then log "$name exited; its log:"; cat "$WORK/$name.log" >&2; exit 1; fi
    if [ "$SECONDS" -ge "$deadline" ]; then log "$name not listening after 60 s"; exit 1; fi
    sleep 0.1
  done
}

