#!/usr/bin/env bash
# SASL_SSL (SCRAM-SHA-512) against PLAINTEXT on one Tandem broker: starts
# `tandem serve` with both listeners (a fresh CA and broker certificate made
# with openssl, ECDSA P-256), then runs `tandem bench security`, which
# creates the SCRAM user through the PLAINTEXT listener and produces then
# consumes the same workload through each listener, alternating which goes
# first, and prints the ratios (issue #10 targets: produce >= 0.7x, consume
# >= 0.5x).
#
#   TANDEM=./bin/tandem scripts/bench-security.sh
#
# Environment:
#   TANDEM          tandem binary (default ./bin/tandem)
#   BENCH_BYTES     bytes produced per run (default 512MiB)
#   BENCH_ROUNDS    rounds of one PLAINTEXT and one secured run (default 2)
#   BENCH_PROTOCOL  SASL_SSL (default) or SSL (TLS only, no SASL)
#   BENCH_PORT      first loopback port to try (default 29492, below the
#                   ephemeral range so no client connection holds it)
#   BENCH_KEEP      directory to keep certificates and logs in (default: a
#                   temporary directory, removed at exit)
set -euo pipefail

NAME=bench-security
PORT=${BENCH_PORT:-29492}
BYTES=${BENCH_BYTES:-512MiB}
ROUNDS=${BENCH_ROUNDS:-2}
PROTOCOL=${BENCH_PROTOCOL:-SASL_SSL}
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

case $PROTOCOL in SASL_SSL | SSL) ;; *) log "BENCH_PROTOCOL must be SASL_SSL or SSL"; exit 2 ;; esac

# A CA and a broker certificate for 127.0.0.1 and localhost; the broker's
# key store is a PEM file with the key and the certificate (KIP-651).
ec() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "$@" 2>/dev/null; }
ec -x509 -days 2 -subj "/CN=Tandem bench CA" -keyout "$WORK/ca.key" -out "$WORK/ca.pem"
ec -subj "/CN=localhost" -keyout "$WORK/broker.key" -out "$WORK/broker.csr"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$WORK/san.ext"
openssl x509 -req -days 2 -in "$WORK/broker.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -extfile "$WORK/san.ext" -out "$WORK/broker.crt" 2>/dev/null
cat "$WORK/broker.key" "$WORK/broker.crt" >"$WORK/broker.pem"

next_port; PLAIN=127.0.0.1:$PORT
next_port; SECURE=127.0.0.1:$PORT
next_port; HTTP=http://127.0.0.1:$PORT
PASSWORD=$(openssl rand -hex 16)

cat >"$WORK/server.properties" <<PROPS
listeners=PLAINTEXT://$PLAIN,$PROTOCOL://$SECURE
http.listeners=$HTTP
log.dirs=$WORK/data
ssl.keystore.type=PEM
ssl.keystore.location=$WORK/broker.pem
PROPS
cat >"$WORK/client.properties" <<PROPS
security.protocol=$PROTOCOL
ssl.truststore.type=PEM
ssl.truststore.location=$WORK/ca.pem
PROPS
SCRAM=()
if [ "$PROTOCOL" = SASL_SSL ]; then
  cat >>"$WORK/server.properties" <<PROPS
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
PROPS
  cat >>"$WORK/client.properties" <<PROPS
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="bench" password="$PASSWORD";
PROPS
  SCRAM=(--create-scram-user)
fi

"$TANDEM" serve --config "$WORK/server.properties" >"$WORK/tandem.log" 2>&1 &
PIDS+=("$!")
deadline=$((SECONDS + 60))
until port_in_use "${PLAIN##*:}" && port_in_use "${SECURE##*:}"; do
  if ! kill -0 "${PIDS[0]}" 2>/dev/null; then log "tandem exited; its log:"; cat "$WORK/tandem.log" >&2; exit 1; fi
  if [ "$SECONDS" -ge "$deadline" ]; then log "tandem not listening after 60 s"; exit 1; fi
  sleep 0.1
done

log "tandem: PLAINTEXT $PLAIN, $PROTOCOL $SECURE; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$TANDEM" bench security --brokers "$PLAIN" --secure-brokers "$SECURE" --secure-config "$WORK/client.properties" \
  "${SCRAM[@]}" --bytes "$BYTES" --rounds "$ROUNDS" --topic bench-security
