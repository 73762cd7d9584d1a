#!/usr/bin/env bash
# Interop suite: real clients (kcat on librdkafka, kafka-python) against the bundled broker.
#
#   bash kafka-broker/tests/interop/run.sh
#
# Installs what it needs (Debian's kcat through apt when missing; a venv with the pinned
# kafka-python and codec libraries under target/interop-venv), builds the `kafka` binary,
# starts the broker on a free port with a fresh data dir, runs the checks (one PASS/FAIL line
# each, then "N passed, M failed") and exits non-zero if any failed. Every client call has a
# timeout, so a hang fails the check instead of blocking CI.
#
# Environment: INTEROP_VENV (venv dir; default target/interop-venv), INTEROP_KAFKA_PYTHON=X.Y.Z
# (another kafka-python release, own venv), INTEROP_KAFKA_BIN (a `kafka` binary to use instead of
# building one), INTEROP_VERBOSE=1 (print each check's output also when it passed),
# KEEP_INTEROP_DIR=1 (keep the temp dir with the broker's data and logs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT"
SECONDS=0

say() { printf '%s\n' "$*"; }
die() { say "interop: $*" >&2; exit 1; }

# --- tools ---------------------------------------------------------------------------------
if ! command -v kcat >/dev/null 2>&1; then
    say "installing kcat (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q kcat
fi
say "kcat: $(kcat -V 2>&1 | grep -m1 -i 'librdkafka' || kcat -V 2>&1 | head -n1)"

# INTEROP_KAFKA_PYTHON=X.Y.Z tries another kafka-python release (own venv) instead of the pin.
KP_OVERRIDE=${INTEROP_KAFKA_PYTHON:-}
VENV=${INTEROP_VENV:-$ROOT/target/interop-venv${KP_OVERRIDE:+-$KP_OVERRIDE}}
PY=$VENV/bin/python
if [ ! -x "$PY" ]; then
    if ! python3 -m venv "$VENV"; then
        # Debian's python3 keeps venv/ensurepip in a separate package.
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q && apt-get install -y -q python3-venv
        rm -rf "$VENV"
        python3 -m venv "$VENV"
    fi
fi
# pip only when requirements.txt changed since the venv was last filled.
if ! cmp -s "$HERE/requirements.txt" "$VENV/.interop-requirements"; then
    "$PY" -m pip install -q --disable-pip-version-check -r "$HERE/requirements.txt"
    if [ -n "$KP_OVERRIDE" ]; then
        "$PY" -m pip install -q --disable-pip-version-check "kafka-python==$KP_OVERRIDE"
    fi
    cp "$HERE/requirements.txt" "$VENV/.interop-requirements"
fi
KPC=$HERE/kafka_python_checks.py
"$PY" "$KPC" --bootstrap - info

if [ -n "${INTEROP_KAFKA_BIN:-}" ]; then
    BIN=$INTEROP_KAFKA_BIN # another build of the binary (e.g. a release one)
else
    cargo build -q -p kafka-cli
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/kafka
fi
[ -x "$BIN" ] || die "no binary at $BIN"

# --- broker --------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kafka-interop.XXXXXX")
DATA=$WORK/data
mkdir -p "$WORK/logs" "$WORK/exp"
BROKER_PID=""
BOOTSTRAP=""
PORT=""
STARTS=0

SUMMARY_DONE=""
broker_logs() {
    local f
    for f in "$WORK"/broker-*.err; do
        [ -e "$f" ] || continue
        say "--- broker stderr, start ${f##*/broker-} (last 40 lines)"
        tail -n 40 "$f"
    done
}

cleanup() {
    local rc=$?
    if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -TERM "$BROKER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -z "$SUMMARY_DONE" ]; then broker_logs; fi
    if [ "${KEEP_INTEROP_DIR:-}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# start_broker LISTEN: start on DATA, wait for the "ready on" line, set BOOTSTRAP and PORT.
start_broker() {
    STARTS=$((STARTS + 1))
    local out=$WORK/broker-$STARTS.out err=$WORK/broker-$STARTS.err
    : >"$out"
    "$BIN" broker start --listen "$1" --data-dir "$DATA" --default-partitions 3 \
        </dev/null >"$out" 2>"$err" &
    BROKER_PID=$!
    local i
    for i in $(seq 1 200); do
        if grep -q '^kafka broker ready on ' "$out"; then break; fi
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            cat "$err" >&2
            BROKER_PID=""
            return 1
        fi
        sleep 0.05
    done
    BOOTSTRAP=$(sed -n 's/^kafka broker ready on \([^ ]*\).*/\1/p' "$out")
    [ -n "$BOOTSTRAP" ] || { say "broker printed no ready line in 10 s" >&2; return 1; }
    PORT=${BOOTSTRAP##*:}
}

# stop_broker SIGNAL: send it, wait (at most 20 s) and return the broker's exit code.
stop_broker() {
    local pid=$BROKER_PID rc=0 i
    kill "-$1" "$pid"
    for i in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        say "broker did not exit within 20 s of SIG$1" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" || rc=$?
    BROKER_PID=""
    return "$rc"
}

# restart on the same port (clients keep their bootstrap); another free port if it is taken.
restart_broker() {
    start_broker "127.0.0.1:$PORT" || start_broker "127.0.0.1:0"
}

# --- checks --------------------------------------------------------------------------------
PASSED=0
FAILED=0
FAILED_NAMES=()
NCHECK=0

pass() { PASSED=$((PASSED + 1)); say "PASS $1${2:+ ($2)}"; }
fail() { FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); say "FAIL $1${2:+ ($2)}"; }
now_ms() { date +%s%3N; }

# check NAME FUNCTION [ARGS...]: runs the function in a subshell with errexit (any failing
# command or assertion fails the check), its output in a log that is shown on failure.
check() {
    local name=$1 log pid t0 took
    shift
    NCHECK=$((NCHECK + 1))
    log=$WORK/logs/$(printf '%02d' "$NCHECK").log
    t0=$(now_ms)
    ( set -euo pipefail; "$@" ) </dev/null >"$log" 2>&1 &
    pid=$!
    if wait "$pid"; then
        took=$(( $(now_ms) - t0 ))
        pass "$name" "$((took / 1000)).$(printf '%03d' $((took % 1000)) | cut -c1)s"
        if [ "${INTEROP_VERBOSE:-}" = 1 ]; then sed 's/^/    /' "$log"; fi
    else
        took=$(( $(now_ms) - t0 ))
        fail "$name" "$((took / 1000)).$(printf '%03d' $((took % 1000)) | cut -c1)s"
        sed 's/^/    | /' "$log"
    fi
}

KC() { timeout 60 kcat -b "$BOOTSTRAP" "$@"; }
KP() { timeout 120 "$PY" "$KPC" --bootstrap "$BOOTSTRAP" "$@"; }
asserteq() { # asserteq WHAT GOT WANT
    if [ "$2" != "$3" ]; then say "$1: got '$2', want '$3'"; return 1; fi
    say "$1: $2"
}
# diff_files WHAT GOT WANT: exact comparison, with a diff on mismatch.
diff_files() {
    if ! diff -u "$3" "$2" >"$WORK/diff.txt"; then
        say "$1 differs from what was sent (--- want, +++ got):"
        head -n 40 "$WORK/diff.txt"
        return 1
    fi
    say "$1: $(wc -l <"$2") records, exactly as sent"
}
# partition|offset|timestamp|key length|key|value length|value|headers (length -1: null)
FMT='%p|%o|%T|%K|%k|%S|%s|%h\n'
# consume_all TOPIC: every record of the topic in the line format, ordered by partition, offset.
consume_all() {
    local raw
    raw=$(mktemp "$WORK/consume.XXXXXX")
    KC -C -t "$1" -o beginning -e -q -f "$FMT" >"$raw"
    sort -t'|' -k1,1n -k2,2n "$raw"
    rm -f "$raw"
}
# consume_topics PREFIX TOPIC...: consume_all of each topic into PREFIX-TOPIC.txt, in parallel.
consume_topics() {
    local prefix=$1 t pids=() rc=0 pid
    shift
    for t in "$@"; do consume_all "$t" >"$prefix-$t.txt" & pids+=($!); done
    for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
    return "$rc"
}
strip_ts() { cut -d'|' -f1,2,4-; }
# metadata_json: kcat -L -J output reduced to "brokers" and "topic partitions leaders" lines.
metadata_summary() {
    KC -L -J | "$PY" -c '
import json, sys
m = json.load(sys.stdin)
for b in m["brokers"]:
    print("broker %d %s" % (b["id"], b["name"]))
for t in sorted(m["topics"], key=lambda t: t["topic"]):
    ps = sorted(t["partitions"], key=lambda p: p["partition"])
    print("topic %s partitions %s leaders %s replicas %s isrs %s error %s" % (
        t["topic"], [p["partition"] for p in ps], sorted({p["leader"] for p in ps}),
        sorted({tuple(r["id"] for r in p["replicas"]) for p in ps}),
        sorted({tuple(r["id"] for r in p["isrs"]) for p in ps}), t.get("error", "-")))
'
}

CODECS=(none gzip snappy lz4 zstd)
FILLER="the quick brown fox jumps over the lazy dog the quick brown fox jumps over the lazy dog"

# 1. Metadata --------------------------------------------------------------------------------
check_metadata_broker() {
    metadata_summary >"$WORK/md.txt"
    cat "$WORK/md.txt"
    asserteq "brokers" "$(grep '^broker ' "$WORK/md.txt")" "broker 1 $BOOTSTRAP"
    asserteq "topics on a fresh broker" "$(grep -c '^topic ' "$WORK/md.txt" || true)" "0"
}
check_metadata_topic() {
    KP create-topic meta-topic --partitions 3 --check-exists
    metadata_summary >"$WORK/md.txt"
    asserteq "kcat -L" "$(grep '^topic meta-topic ' "$WORK/md.txt")" \
        "topic meta-topic partitions [0, 1, 2] leaders [1] replicas [(1,)] isrs [(1,)] error -"
    local plain
    plain=$(KC -L -t meta-topic)
    say "$plain"
    grep -q '^ 1 brokers:$' <<<"$plain"
    grep -q "^  broker 1 at $BOOTSTRAP" <<<"$plain"
    grep -q '^  topic "meta-topic" with 3 partitions:$' <<<"$plain"
}

# 2. kcat produces in each codec; kcat and kafka-python read it back ---------------------------
kcat_input() { # codec: key:value lines for kcat -K: -Z (empty key or value -> null)
    local i
    for i in $(seq 0 11); do printf 'key-%d:value-%d-%s %s\n' "$i" "$i" "$1" "$FILLER"; done
    printf ':no key\n'            # null key
    printf 'tombstone:\n'         # null value
    printf 'utf8:caf\xc3\xa9 \xe2\x98\x95 \xc3\xbcber\n'
    printf 'colon:a:b:c\n'        # only the first ':' splits
}
nbytes() { if [ -z "$1" ]; then echo -1; else printf '%s' "$1" | wc -c; fi; }
kcat_expected() { # codec partition: what a reader must see (line format without timestamps)
    local codec=$1 p=$2 off=0 key value
    local hdrs="h1=v1,trace=kcat-$codec,h1=dup"
    while IFS= read -r ln; do
        key=${ln%%:*} value=${ln#*:}
        printf '%d|%d|%d|%s|%d|%s|%s\n' "$p" "$off" "$(nbytes "$key")" "$key" "$(nbytes "$value")" \
            "$value" "$hdrs"
        off=$((off + 1))
    done < <(kcat_input "$codec")
}
check_kcat_codec() {
    local codec=$1 p=$2 topic=kcat-$1
    kcat_input "$codec" | KC -P -t "$topic" -p "$p" -K: -Z -z "$codec" -X acks=all \
        -H h1=v1 -H "trace=kcat-$codec" -H h1=dup
    kcat_expected "$codec" "$p" >"$WORK/exp/$topic.nots"
    consume_all "$topic" >"$WORK/exp/$topic"
    strip_ts <"$WORK/exp/$topic" >"$WORK/got.nots"
    diff_files "kcat reading $topic" "$WORK/got.nots" "$WORK/exp/$topic.nots"
    # kafka-python must see the same records, timestamps included.
    KP consume-compare "$topic" --expect "$WORK/exp/$topic"
    if ! KP batch-codecs "$DATA/$topic-$p" --codec "$codec"; then
        say "(kcat sent $codec batches uncompressed: librdkafka 2.0.2 compresses gzip, snappy and"
        say " lz4 only if the broker's ApiVersions lists Produce v0; Kafka 4 lists Produce 0-N for"
        say " this reason although it rejects v0-v2 requests, KAFKA-18659, librdkafka#4956)"
        return 1
    fi
}

# 3. kafka-python produces in each codec; kcat and kafka-python read it back ------------------
check_kp_codec() {
    local codec=$1 p=$2 topic=kp-$1
    KP produce-codec "$topic" --codec "$codec" --partition "$p" --expect "$WORK/exp/$topic"
    consume_all "$topic" >"$WORK/got.txt"
    diff_files "kcat reading $topic" "$WORK/got.txt" "$WORK/exp/$topic"
    KP consume-compare "$topic" --expect "$WORK/exp/$topic"
    KP batch-codecs "$DATA/$topic-$p" --codec "$codec"
}

check_metadata_autocreate() {
    metadata_summary >"$WORK/md.txt"
    local c want got
    for c in "${CODECS[@]}"; do
        for t in "kcat-$c" "kp-$c"; do
            want="topic $t partitions [0, 1, 2] leaders [1] replicas [(1,)] isrs [(1,)] error -"
            got=$(grep "^topic $t " "$WORK/md.txt" || true)
            asserteq "auto-created $t" "$got" "$want"
        done
    done
}

# 4. Consumer groups --------------------------------------------------------------------------
check_kp_group_commit_resume() {
    KP create-topic group-topic --partitions 3
    KP produce-keyed group-topic --count 30 --key-prefix g --spread 3
    KP group-commit-resume group-topic --group kp-group --count 30 --first 12 --key-prefix g
}
check_kcat_group() {
    local i
    for i in $(seq 0 29); do printf 'kk-%d:kcat-value-%d\n' "$i" "$i"; done |
        KC -P -t kcat-group -K: -X acks=all
    consume_all kcat-group >"$WORK/kg-all.txt"
    asserteq "records in kcat-group" "$(wc -l <"$WORK/kg-all.txt")" 30
    asserteq "partitions used by key" "$(cut -d'|' -f1 "$WORK/kg-all.txt" | sort -u | tr '\n' ' ')" "0 1 2 "
    local g=(-G kcat-grp kcat-group -q -f '%p|%o|%k|%s\n' -X auto.offset.reset=earliest)
    KC "${g[@]}" -c 10 >"$WORK/kg-1.txt"
    asserteq "first kcat -G member (-c 10)" "$(wc -l <"$WORK/kg-1.txt")" 10
    KC "${g[@]}" -e >"$WORK/kg-2.txt"
    asserteq "second kcat -G member resumed with (-e)" "$(wc -l <"$WORK/kg-2.txt")" 20
    asserteq "duplicates" "$(cut -d'|' -f3 "$WORK/kg-1.txt" "$WORK/kg-2.txt" | sort | uniq -d | wc -l)" 0
    asserteq "union" "$(cat "$WORK/kg-1.txt" "$WORK/kg-2.txt" | sort -t'|' -k1,1n -k2,2n)" \
        "$(cut -d'|' -f1,2,5,7 "$WORK/kg-all.txt")"
    # committed = end offsets of each partition
    local want
    want=$(cut -d'|' -f1 "$WORK/kg-all.txt" | sort | uniq -c |
        awk '{ printf "%s\"%s\": %d", (NR > 1 ? ", " : "{"), $2, $1 } END { print "}" }')
    KP group-offsets kcat-group --group kcat-grp --expect "$want"
}
check_kp_two_consumers() {
    KP create-topic pair-topic --partitions 3
    KP group-two-consumers pair-topic --group kp-pair --partitions 3 --count 30 --key-prefix pair
}

# 6. List offsets ----------------------------------------------------------------------------
T0=1700000000000
check_list_offsets_kcat() {
    local q want got
    # topic:partition:timestamp -> offset (-1 end, -2 beginning); one query per call, as kcat
    # merges several queries of the same partition.
    for q in "0:-2=0" "0:-1=10" "1:-1=0" "2:-1=4" "0:$T0=0" "0:$((T0 + 3500))=4" \
        "0:$((T0 + 9000))=9" "0:$((T0 + 9001))=-1" "2:$((T0 + 1000))=1" "2:$((T0 + 6000))=3"; do
        want=${q#*=}
        got=$(KC -Q -t "ts-topic:${q%=*}")
        asserteq "kcat -Q -t ts-topic:${q%=*}" "$got" "ts-topic [${q%%:*}] offset $want"
    done
}
check_list_offsets_kp() { KP list-offsets ts-topic; }

# 5. Restart checks ---------------------------------------------------------------------------
TOPICS_ALL=""
check_topics_survived() {
    metadata_summary >"$WORK/md-after.txt"
    asserteq "topics and partitions after restart" "$(grep '^topic ' "$WORK/md-after.txt")" \
        "$(grep '^topic ' "$WORK/md-before.txt")"
    local t
    # shellcheck disable=SC2086
    consume_topics "$WORK/after" $TOPICS_ALL
    for t in $TOPICS_ALL; do
        diff_files "$t after restart" "$WORK/after-$t.txt" "$WORK/before-$t.txt"
    done
}
snapshot_topics() {
    metadata_summary >"$WORK/md-before.txt"
    TOPICS_ALL=$(sed -n 's/^topic \([^ ]*\) .*/\1/p' "$WORK/md-before.txt" | tr '\n' ' ')
    # shellcheck disable=SC2086
    consume_topics "$WORK/before" $TOPICS_ALL
}
check_kp_group_resumes() {
    KP group-offsets group-topic --group kp-group --expect "$(cat "$WORK/kp-group.offsets")"
    KP group-resume group-topic --group kp-group --count 6 --key-prefix after
}
check_kcat_group_resumes() {
    KP group-offsets kcat-group --group kcat-grp --expect "$(cat "$WORK/kcat-grp.offsets")"
    KC -G kcat-grp kcat-group -q -f '%k|%s\n' -X auto.offset.reset=earliest -e >"$WORK/kg-3.txt"
    asserteq "kcat -G after restart" "$(sort "$WORK/kg-3.txt" | tr '\n' ' ')" \
        "$(for i in 0 1 2 3 4; do printf 'kafter-%d|after-%d ' "$i" "$i"; done)"
}

# kill -9 ---------------------------------------------------------------------------------------
check_crash_kcat_data() {
    consume_all crash-kcat | cut -d'|' -f1,2,5,7 >"$WORK/crash-got.txt"
    seq 0 499 | awk '{ printf "0|%d|c-%d|crash-%d\n", $1, $1, $1 }' >"$WORK/crash-want.txt"
    diff_files "crash-kcat after kill -9" "$WORK/crash-got.txt" "$WORK/crash-want.txt"
}

# --- run ----------------------------------------------------------------------------------------
start_broker "127.0.0.1:0" || die "the broker did not start"
say "broker pid $BROKER_PID on $BOOTSTRAP, data in a temp dir"

check "1a metadata: kcat -L shows one broker at $BOOTSTRAP and no topics" check_metadata_broker
check "1b metadata: CreateTopics (kafka-python) 3 partitions, kcat -L lists them" check_metadata_topic

for i in "${!CODECS[@]}"; do
    c=${CODECS[$i]}
    check "2 kcat produce $c (keys, null key/value, headers) -> kcat and kafka-python read it exactly" \
        check_kcat_codec "$c" $((i % 3))
done
for i in "${!CODECS[@]}"; do
    c=${CODECS[$i]}
    check "3 kafka-python produce $c (keys, headers, timestamps) -> kcat and kafka-python read it exactly" \
        check_kp_codec "$c" $(((i + 1) % 3))
done
check "1c metadata: auto-created topics have --default-partitions 3" check_metadata_autocreate

check "4a group: kafka-python consumes 12, commits, closes; next member gets the other 18" \
    check_kp_group_commit_resume
check "4b group: kcat -G -c 10, then kcat -G -e resumes at the commits (30 total, no duplicates)" \
    check_kcat_group
check "4c group: two concurrent kafka-python members split 3 partitions" check_kp_two_consumers

check "6a list offsets: kafka-python produces records with known timestamps" \
    KP produce-timestamps ts-topic
check "6b list offsets: kcat -Q (earliest, latest, by timestamp)" check_list_offsets_kcat
check "6c list offsets: kafka-python beginning/end_offsets, offsets_for_times" check_list_offsets_kp

# Before the restart: new records the groups have not consumed, and what everything looks like.
KP produce-keyed group-topic --count 6 --key-prefix after >/dev/null
for i in 0 1 2 3 4; do printf 'kafter-%d:after-%d\n' "$i" "$i"; done | KC -P -t kcat-group -K: -X acks=all
KP save-group-offsets group-topic --group kp-group >"$WORK/kp-group.offsets"
KP save-group-offsets kcat-group --group kcat-grp >"$WORK/kcat-grp.offsets"
snapshot_topics

# 5. Clean restart.
rc=0
stop_broker TERM || rc=$?
if [ "$rc" -eq 0 ]; then pass "5a restart: SIGTERM stops the broker with exit 0"; else
    fail "5a restart: SIGTERM stops the broker with exit 0 (exit $rc)"; fi
restart_broker || die "the broker did not start again on its data dir"
if grep -qi 'unclean' "$WORK/broker-$STARTS.err"; then
    fail "5b restart: after SIGTERM the broker starts without recovery"
    sed 's/^/    | /' "$WORK/broker-$STARTS.err"
else pass "5b restart: after SIGTERM the broker starts without recovery"; fi
check "5c restart: all topics, partitions and records are there (kcat -C -e, byte-exact lines)" \
    check_topics_survived
check "5d restart: kafka-python group resumes at its committed offsets" check_kp_group_resumes
check "5e restart: kcat -G group resumes at its committed offsets" check_kcat_group_resumes
check "5f restart: list offsets (kcat -Q) still right" check_list_offsets_kcat
check "5g restart: list offsets (kafka-python) still right" check_list_offsets_kp

# kill -9: every acknowledged record survives.
seq 0 499 | awk '{ printf "c-%d:crash-%d\n", $1, $1 }' | KC -P -t crash-kcat -p 0 -K: -X acks=all
KP save-group-offsets group-topic --group kp-group >"$WORK/kp-group.offsets"
KP stream crash-stream --seconds 30 --out "$WORK/stream.json" >"$WORK/logs/stream.log" 2>&1 &
STREAM_PID=$!
sleep 2
kill -KILL "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=""
rc=0
wait "$STREAM_PID" || rc=$?
grep '^stream:' "$WORK/logs/stream.log" | sed 's/^/    /' || cat "$WORK/logs/stream.log"
if [ "$rc" -eq 0 ]; then pass "7a kill -9: the kafka-python stream (acks=all) ran until the kill"; else
    fail "7a kill -9: the kafka-python stream (acks=all) ran until the kill (exit $rc)"; fi
restart_broker || die "the broker did not start again after kill -9"
if grep -qi 'unclean' "$WORK/broker-$STARTS.err"; then
    pass "7b kill -9: the restarted broker reports recovery from an unclean shutdown"
else fail "7b kill -9: the restarted broker reports recovery from an unclean shutdown"; fi
check "7c kill -9: all 500 records kcat produced with acks=all are there, in order" check_crash_kcat_data
check "7d kill -9 during a kafka-python stream: the log is a prefix holding every acknowledged record" \
    KP check-stream crash-stream --acks "$WORK/stream.json"
check "7e kill -9: committed group offsets survive" \
    KP group-offsets group-topic --group kp-group --expect "$(cat "$WORK/kp-group.offsets")"

# --- our client (the kafka CLI) beside librdkafka ------------------------------------------------
# 9a: the same keys land on the same partitions from kcat (murmur2_random, Java-compatible) and
#     from `kafka produce` (the Java default partitioner).
check_cli_partitioning() {
    local keys=$WORK/keys.txt
    seq 1 300 | sed 's/^/user-/' | awk '{print $1 ":" $1 "-value"}' >"$keys"
    timeout 30 "$BIN" -b "$BOOTSTRAP" topic create cli-p-ours cli-p-kcat -p 6 >/dev/null || return 1
    timeout 30 kcat -b "$BOOTSTRAP" -t cli-p-kcat -P -K: -X partitioner=murmur2_random -l "$keys" || return 1
    timeout 30 "$BIN" -b "$BOOTSTRAP" -q produce cli-p-ours -K: --file "$keys" || return 1
    timeout 30 kcat -b "$BOOTSTRAP" -t cli-p-kcat -C -e -q -f '%k %p\n' | sort >"$WORK/p-kcat.txt"
    timeout 30 "$BIN" -b "$BOOTSTRAP" consume cli-p-ours -e -o beginning -f '%k %p\n' | sort >"$WORK/p-ours.txt"
    asserteq "records" "$(wc -l <"$WORK/p-ours.txt")" 300 || return 1
    diff_files "key partitions" "$WORK/p-ours.txt" "$WORK/p-kcat.txt"
}
# 9b: records written by kcat (keys, null values, headers) read back by `kafka consume -J`.
check_cli_reads_kcat() {
    printf 'k1:v1\nk2:\n:v3\n' >"$WORK/kc.txt"
    timeout 30 kcat -b "$BOOTSTRAP" -t cli-read -P -K: -Z -H trace=abc -l "$WORK/kc.txt" || return 1
    timeout 30 "$BIN" -b "$BOOTSTRAP" consume cli-read -e -o beginning -J >"$WORK/kc.json" || return 1
    asserteq "records" "$(wc -l <"$WORK/kc.json")" 3 || return 1
    grep -q '"key":"k1","value":"v1","headers":\[{"key":"trace","value":"abc"}\]' "$WORK/kc.json" &&
        grep -q '"key":"k2","value":null' "$WORK/kc.json" &&
        grep -q '"key":null,"value":"v3"' "$WORK/kc.json"
}
check "9a kafka produce and kcat (murmur2_random) put the same keys on the same partitions" check_cli_partitioning
check "9b kafka consume -J reads kcat's keys, null values and headers" check_cli_reads_kcat

rc=0
stop_broker TERM || rc=$?
if [ "$rc" -eq 0 ]; then pass "8 final SIGTERM: exit 0"; else fail "8 final SIGTERM: exit 0 (exit $rc)"; fi

say ""
say "interop: ${SECONDS}s"
if [ "$FAILED" -gt 0 ]; then
    broker_logs
    say "failed:"
    printf '  %s\n' "${FAILED_NAMES[@]}"
fi
SUMMARY_DONE=1
say "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
