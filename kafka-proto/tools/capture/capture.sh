#!/usr/bin/env bash
# Captures golden request frames and record batches from real Kafka clients.
#
#   kafka-proto/tools/capture/capture.sh
#
# Needs: python3 (for responder.py, stdlib only), kcat, and one or more
# Pythons with kafka-python + python-snappy + lz4 + zstandard, listed in
# CAPTURE_PYTHONS (space separated, default: python3). setup.sh makes them;
# see README.md next to this script.
#
# Rewrites kafka-proto/tests/fixtures/frames/ and .../records/ from scratch.
# CI never runs this; the fixtures are committed.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PROTO=$(cd "$HERE/../.." && pwd)
FRAMES="$PROTO/tests/fixtures/frames"
RECORDS="$PROTO/tests/fixtures/records"
# Space-separated Python interpreters, each with its own kafka-python.
PYS=${CAPTURE_PYTHONS:-python3}
KCAT=${KCAT:-kcat}
WORK=$(mktemp -d)
RESP_PID=
FAILED=0

cleanup() {
    if [ -n "$RESP_PID" ]; then kill "$RESP_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$FRAMES" "$RECORDS"
rm -f "$FRAMES"/*.bin "$FRAMES"/INDEX.tsv "$RECORDS"/*.bin "$RECORDS"/*.json

start_responder() { # label step codec
    rm -f "$WORK/port"
    python3 "$HERE/responder.py" --label "$1" --step "$2" ${3:+--codec "$3"} \
        --frames-dir "$FRAMES" --records-dir "$RECORDS" \
        --port-file "$WORK/port" 2>>"$WORK/responder.log" &
    RESP_PID=$!
    for _ in $(seq 200); do [ -s "$WORK/port" ] && break; sleep 0.05; done
    PORT=$(cat "$WORK/port")
}

stop_responder() {
    kill "$RESP_PID" 2>/dev/null || true
    wait "$RESP_PID" 2>/dev/null || true
    RESP_PID=
}

step() { # label step codec -- command... ($PORT is substituted via BOOT)
    local label=$1 name=$2 codec=$3
    shift 4
    start_responder "$label" "$name" "$codec"
    BOOT="127.0.0.1:$PORT"
    echo "== $label $name (port $PORT)"
    if ! "$@" >"$WORK/out" 2>&1; then
        echo "!! $label $name FAILED:"; sed 's/^/   /' "$WORK/out"; FAILED=1
    fi
    stop_responder
}

# Five messages: keyed, a null value (-Z turns the empty value into NULL),
# a null key, a non-ASCII value. Key delimiter ':'.
kcat_messages() { printf 'k1:hello\nk2:world\nk3:\n:no-key\nk5:caf\xc3\xa9\n'; }

kcat_metadata_all()    { timeout 30 "$KCAT" -b "$BOOT" -L; }
kcat_metadata_golden() { timeout 30 "$KCAT" -b "$BOOT" -L -t golden; }
kcat_produce() { # codec
    kcat_messages | timeout 30 "$KCAT" -b "$BOOT" -P -t golden -p 0 -K: -Z \
        -H h1=v1 -H trace=abc -z "$1" -X linger.ms=100
}
kp() { timeout 60 "$PY" "$HERE/kafka_python_client.py" "$@" --bootstrap "$BOOT"; }

# ---- kcat / librdkafka --------------------------------------------------
RDK_VER=$("$KCAT" -V 2>&1 | sed -n 's/.*librdkafka \([0-9][0-9.]*\).*/\1/p' | head -1)
KL="kcat-librdkafka$RDK_VER"
step "$KL" metadata-all "" -- kcat_metadata_all
step "$KL" metadata-golden "" -- kcat_metadata_golden
for codec in none gzip snappy lz4 zstd; do
    step "$KL" "produce-$codec" "$codec" -- kcat_produce "$codec"
done

# ---- kafka-python (one pass per interpreter in CAPTURE_PYTHONS) ---------
for PY in $PYS; do
    KP_VER=$("$PY" -c 'import kafka; print(kafka.__version__)')
    PL="kafka-python$KP_VER"
    step "$PL" metadata-all "" -- kp metadata
    for codec in none gzip snappy lz4 zstd; do
        step "$PL" "produce-$codec" "$codec" -- kp produce --codec "$codec"
    done
done

# ---- expected decoded content ------------------------------------------
PY=${PYS%% *}
"$PY" "$HERE/decode_records.py" "$RECORDS"/*.bin

# Independent check of the frames, with any kafka-python 3.x we have.
for PY in $PYS; do
    if "$PY" -c 'import kafka, sys; sys.exit(int(kafka.__version__.split(".")[0]) < 3)'; then
        "$PY" "$HERE/crosscheck.py" || FAILED=1
        break
    fi
done

if grep -q WARNING "$WORK/responder.log"; then
    echo "!! responder warnings:"; grep WARNING "$WORK/responder.log"; FAILED=1
fi
echo
echo "== frames"; (cd "$FRAMES" && ls -l --time-style=+ | awk 'NR>1{print $5"\t"$NF}')
echo "== records"; (cd "$RECORDS" && ls -l --time-style=+ | awk 'NR>1{print $5"\t"$NF}')
[ "$FAILED" = 0 ] || { echo "capture FAILED"; exit 1; }
echo "capture OK"
