#!/usr/bin/env python3
"""kafka-python side of the interop suite (driven by run.sh).

Each subcommand is one step of a check: it talks to the broker at --bootstrap,
asserts what it got, prints what it did and exits 0, or prints why not and
exits 1. Records are compared in the line format run.sh asks kcat for:

    partition|offset|timestamp|key|value|headers      (headers: k=v,k=v; null: NULL)

Written for kafka-python 2.3.x; the few admin calls that 3.x renamed go
through small helpers so the file runs on both.
"""

import argparse
import json
import sys
import threading
import time

import kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
T0 = 1700000000000  # fixed record timestamps (ms)


class CheckFailed(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def log(msg):
    print(msg, flush=True)


# --- clients ----------------------------------------------------------------

COMMON = dict(request_timeout_ms=20000, retry_backoff_ms=100, reconnect_backoff_ms=50,
              reconnect_backoff_max_ms=1000)


def consumer(bootstrap, **kw):
    cfg = dict(bootstrap_servers=bootstrap, client_id="interop-kp", auto_offset_reset="earliest",
               enable_auto_commit=False, fetch_max_wait_ms=100, session_timeout_ms=10000,
               heartbeat_interval_ms=500, **COMMON)
    cfg.update(kw)
    return KafkaConsumer(**cfg)


def producer(bootstrap, **kw):
    cfg = dict(bootstrap_servers=bootstrap, client_id="interop-kp", acks="all", linger_ms=5,
               **COMMON)
    cfg.update(kw)
    return KafkaProducer(**cfg)


def admin(bootstrap):
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="interop-kp-admin", **COMMON)


def committed_offsets(adm, group):
    """{TopicPartition: offset} committed by a group (OffsetFetch through the admin client)."""
    if hasattr(adm, "list_consumer_group_offsets"):  # kafka-python 2.x
        res = adm.list_consumer_group_offsets(group)
    else:  # kafka-python 3.x
        res = adm.list_group_offsets({group: None})[group]
    return {tp: om.offset for tp, om in res.items() if om.offset >= 0}


def field(value):
    """kcat's %K|%k (or %S|%s): byte length (-1 for null) and the text ('' for null)."""
    if value is None:
        return "-1|"
    return "%d|%s" % (len(value), value.decode("utf-8"))


def headers_text(headers):
    return ",".join("%s=%s" % (k, "" if v is None else v.decode("utf-8")) for k, v in (headers or []))


def line(rec):
    return "%d|%d|%d|%s|%s|%s" % (rec.partition, rec.offset, rec.timestamp, field(rec.key),
                                  field(rec.value), headers_text(rec.headers))


def strip_ts(text_line):
    """The line without its timestamp field (kcat-produced records carry the wall clock)."""
    f = text_line.split("|", 3)
    return "|".join(f[:2] + [f[3]])


def read_all(bootstrap, topic, timeout=30.0):
    """Every record of every partition of `topic`, from the log start to the end offset."""
    c = consumer(bootstrap)
    try:
        deadline = time.time() + timeout
        parts = None
        while time.time() < deadline:
            parts = c.partitions_for_topic(topic)
            if parts:
                break
            time.sleep(0.1)
        expect(parts, "topic %s has no partitions in metadata" % topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        end = c.end_offsets(tps)
        got = []
        while any(c.position(tp) < end[tp] for tp in tps):
            expect(time.time() < deadline, "timed out reading %s: positions %s, end offsets %s"
                   % (topic, {tp.partition: c.position(tp) for tp in tps},
                      {tp.partition: end[tp] for tp in tps}))
            for recs in c.poll(timeout_ms=500).values():
                got.extend(recs)
        got.sort(key=lambda r: (r.partition, r.offset))
        return got, {tp.partition: end[tp] for tp in tps}
    finally:
        c.close()


def compare(what, got_lines, want_lines):
    if got_lines != want_lines:
        log("%s: got %d lines, want %d" % (what, len(got_lines), len(want_lines)))
        for i in range(max(len(got_lines), len(want_lines))):
            g = got_lines[i] if i < len(got_lines) else "<none>"
            w = want_lines[i] if i < len(want_lines) else "<none>"
            if g != w:
                log("  first difference at line %d:\n    got  %r\n    want %r" % (i, g, w))
                break
        raise CheckFailed("%s: records differ" % what)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [ln for ln in f.read().split("\n") if ln]


# --- subcommands --------------------------------------------------------------


def cmd_info(a):
    import kafka.codec as codec
    log("kafka-python %s (snappy %s, lz4 %s, zstd %s)" % (
        kafka.__version__, codec.has_snappy(), codec.has_lz4(), codec.has_zstd()))
    expect(codec.has_gzip() and codec.has_snappy() and codec.has_lz4() and codec.has_zstd(),
           "a compression codec is missing in this venv")


def cmd_create_topic(a):
    """CreateTopics through the admin client, then Metadata must show the partitions."""
    adm = admin(a.bootstrap)
    try:
        from kafka.admin import NewTopic
        adm.create_topics([NewTopic(a.topic, a.partitions, 1)])
        log("created %s with %d partitions" % (a.topic, a.partitions))
        if a.check_exists:
            # A second CreateTopics for the same name must fail with TOPIC_ALREADY_EXISTS.
            from kafka.errors import TopicAlreadyExistsError
            try:
                adm.create_topics([NewTopic(a.topic, a.partitions, 1)])
            except TopicAlreadyExistsError:
                log("second CreateTopics: TopicAlreadyExistsError, as Kafka answers")
            else:
                raise CheckFailed("second CreateTopics for %s succeeded" % a.topic)
    finally:
        adm.close()
    c = consumer(a.bootstrap)
    try:
        parts = c.partitions_for_topic(a.topic)
        expect(parts == set(range(a.partitions)), "metadata for %s: partitions %s" % (a.topic, parts))
    finally:
        c.close()


def cmd_consume_compare(a):
    """Read a topic and compare with an expected file (kcat line format)."""
    got, end = read_all(a.bootstrap, a.topic)
    got_lines = [line(r) for r in got]
    want = read_lines(a.expect)
    if a.ignore_timestamps:
        got_lines = [strip_ts(x) for x in got_lines]
        want = [strip_ts(x) for x in want]
    compare("kafka-python reading %s" % a.topic, got_lines, want)
    log("kafka-python read %d records of %s exactly as expected (end offsets %s)"
        % (len(got_lines), a.topic, end))


def kp_records(codec):
    """Records kafka-python sends in the per-codec check: (key, value, headers, timestamp)."""
    recs = []
    filler = " the quick brown fox jumps over the lazy dog" * 3
    for i in range(12):
        recs.append(("key-%d" % i, "value-%d-%s%s" % (i, codec, filler),
                     [("h1", b"v1"), ("trace", ("kp-%s-%d" % (codec, i)).encode()), ("h1", b"dup")],
                     T0 + i))
    recs.append((None, "no key", [("only", b"one")], T0 + 100))
    recs.append(("tombstone", None, [("h", b"")], T0 + 101))
    recs.append(("utf8", "caf\u00e9 \u2615 \u00fcber", [("lang", "fran\u00e7ais".encode())], T0 + 102))
    recs.append(("empty-value", "", [], T0 + 103))
    return recs


def cmd_produce_codec(a):
    """KafkaProducer with compression_type=codec; writes the expected lines for the readers."""
    codec = a.codec
    p = producer(a.bootstrap, compression_type=None if codec == "none" else codec,
                 linger_ms=50, batch_size=1 << 20)
    recs = kp_records(codec)
    try:
        futs = [p.send(a.topic, key=None if k is None else k.encode(),
                       value=None if v is None else v.encode(), headers=h,
                       partition=a.partition, timestamp_ms=ts)
                for k, v, h, ts in recs]
        p.flush(timeout=30)
        metas = [f.get(timeout=30) for f in futs]
    finally:
        p.close(timeout=10)
    offsets = [(m.partition, m.offset) for m in metas]
    expect(offsets == [(a.partition, i) for i in range(len(recs))],
           "acknowledged offsets %s, want 0..%d on partition %d" % (offsets, len(recs) - 1, a.partition))
    with open(a.expect, "w", encoding="utf-8") as f:
        for i, (k, v, h, ts) in enumerate(recs):
            f.write("%d|%d|%d|%s|%s|%s\n" % (
                a.partition, i, ts, field(None if k is None else k.encode()),
                field(None if v is None else v.encode()), headers_text(h)))
    log("kafka-python produced %d %s records to %s[%d], acknowledged at offsets 0..%d"
        % (len(recs), codec, a.topic, a.partition, len(recs) - 1))


def produce_keyed(bootstrap, topic, keys, prefix):
    p = producer(bootstrap)
    try:
        futs = [p.send(topic, key=k.encode(), value=("%s-%s" % (prefix, k)).encode(),
                       headers=[("n", k.encode())]) for k in keys]
        p.flush(timeout=30)
        return [f.get(timeout=30) for f in futs]
    finally:
        p.close(timeout=10)


def cmd_produce_keyed(a):
    """Records spread over partitions by key (the default murmur2 partitioner)."""
    keys = ["%s-%d" % (a.key_prefix, i) for i in range(a.count)]
    metas = produce_keyed(a.bootstrap, a.topic, keys, "value")
    per = {}
    for m in metas:
        per[m.partition] = per.get(m.partition, 0) + 1
    log("produced %d keyed records to %s: per partition %s" % (len(metas), a.topic, dict(sorted(per.items()))))
    if a.spread:
        expect(len(per) == a.spread, "records landed on partitions %s, want all %d" % (sorted(per), a.spread))


def poll_records(c, want, timeout, extra_wait=1.0, stop_at_want=False):
    """Poll until `want` records arrived, then keep polling `extra_wait` s for any extra."""
    got = []
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        for recs in c.poll(timeout_ms=200, max_records=(want - len(got)) if stop_at_want else None).values():
            got.extend(recs)
    if not stop_at_want:
        end = time.time() + extra_wait
        while time.time() < end:
            for recs in c.poll(timeout_ms=200).values():
                got.extend(recs)
    return got


def commit_records(c, recs):
    """Commit, per partition, the offset after the last of `recs` (what the app consumed)."""
    offs = {}
    for r in recs:
        tp = TopicPartition(r.topic, r.partition)
        offs[tp] = max(offs.get(tp, 0), r.offset + 1)
    c.commit({tp: OffsetAndMetadata(o, "interop", -1) for tp, o in offs.items()})
    return offs


def keyset(recs):
    return [r.key.decode() for r in recs]


def cmd_group_commit_resume(a):
    """Consume `first` records, commit exactly those, close; a new member resumes at the commits."""
    total, first = a.count, a.first
    c1 = consumer(a.bootstrap, group_id=a.group, max_poll_records=5)
    c1.subscribe([a.topic])
    try:
        got1 = poll_records(c1, first, 30, stop_at_want=True)
        expect(len(got1) == first, "first consumer got %d records, want %d" % (len(got1), first))
        offs = commit_records(c1, got1)
        log("consumer 1 (%s): %d records, committed %s"
            % (a.group, len(got1), {tp.partition: o for tp, o in sorted(offs.items())}))
    finally:
        c1.close()
    adm = admin(a.bootstrap)
    try:
        committed = committed_offsets(adm, a.group)
        expect(sum(committed.values()) == first and committed == offs,
               "committed after consumer 1: %s, want %s" % (committed, offs))
    finally:
        adm.close()

    c2 = consumer(a.bootstrap, group_id=a.group)
    c2.subscribe([a.topic])
    try:
        got2 = poll_records(c2, total - first, 30, extra_wait=1.5)
        offs2 = commit_records(c2, got2) if got2 else {}
        log("consumer 2 (%s): %d records, committed %s"
            % (a.group, len(got2), {tp.partition: o for tp, o in sorted(offs2.items())}))
        parts = c2.assignment()
        end = c2.end_offsets(list(parts))
    finally:
        c2.close()
    keys = keyset(got1) + keyset(got2)
    dups = sorted(k for k in set(keys) if keys.count(k) > 1)
    expect(not dups, "records consumed twice across the restart: %s" % dups)
    want = set("%s-%d" % (a.key_prefix, i) for i in range(total))
    expect(set(keys) == want, "consumed keys differ: missing %s, unexpected %s"
           % (sorted(want - set(keys)), sorted(set(keys) - want)))
    for r in got1 + got2:
        expect(r.value == ("value-" + r.key.decode()).encode(), "record %s has value %r" % (r.key, r.value))
    adm = admin(a.bootstrap)
    try:
        committed = committed_offsets(adm, a.group)
    finally:
        adm.close()
    expect(sum(committed.values()) == total, "committed offsets %s sum to %d, want %d"
           % (committed, sum(committed.values()), total))
    expect(committed == end, "committed offsets %s differ from the end offsets %s" % (committed, end))
    log("together %d distinct records, no duplicates; committed offsets %s sum to %d"
        % (len(keys), {tp.partition: o for tp, o in sorted(committed.items())}, total))


def cmd_group_offsets(a):
    """The group's committed offsets (OffsetFetch) must equal --expect (JSON {partition: offset})."""
    want = {TopicPartition(a.topic, int(p)): o for p, o in json.loads(a.expect).items()}
    adm = admin(a.bootstrap)
    try:
        got = committed_offsets(adm, a.group)
    finally:
        adm.close()
    got = {tp: o for tp, o in got.items() if tp.topic == a.topic}
    expect(got == want, "committed offsets of %s: %s, want %s" % (a.group, got, want))
    log("group %s committed offsets on %s: %s" % (a.group, a.topic,
                                                   {tp.partition: o for tp, o in sorted(got.items())}))


def cmd_save_group_offsets(a):
    adm = admin(a.bootstrap)
    try:
        got = committed_offsets(adm, a.group)
    finally:
        adm.close()
    out = {str(tp.partition): o for tp, o in got.items() if tp.topic == a.topic}
    print(json.dumps(out, sort_keys=True))


def cmd_group_resume(a):
    """A member of an existing group gets exactly the records with --key-prefix (nothing older)."""
    c = consumer(a.bootstrap, group_id=a.group)
    c.subscribe([a.topic])
    try:
        got = poll_records(c, a.count, 30, extra_wait=1.5)
        keys = keyset(got)
        want = ["%s-%d" % (a.key_prefix, i) for i in range(a.count)]
        expect(sorted(keys) == sorted(want), "resumed consumer got %s, want exactly %s" % (keys, want))
        offs = commit_records(c, got)
        log("group %s resumed at its committed offsets: got exactly the %d new records, committed %s"
            % (a.group, len(got), {tp.partition: o for tp, o in sorted(offs.items())}))
    finally:
        c.close()


def dump_threads():
    """Where every thread is (for a check that timed out waiting on a client)."""
    import traceback
    names = {t.ident: t.name for t in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        log("--- thread %s" % names.get(ident, ident))
        log("".join(traceback.format_stack(frame)).rstrip())


def cmd_group_two_consumers(a):
    """Two concurrent members split the partitions; records produced afterwards reach exactly one."""
    lock = threading.Lock()
    stop = threading.Event()
    state = {n: {"assignment": set(), "records": [], "error": None} for n in ("A", "B")}

    def run(name):
        try:
            c = consumer(a.bootstrap, group_id=a.group, client_id="interop-kp-" + name)
            c.subscribe([a.topic])
            try:
                while not stop.is_set():
                    batch = c.poll(timeout_ms=100)
                    with lock:
                        state[name]["assignment"] = set(tp.partition for tp in c.assignment())
                        for recs in batch.values():
                            state[name]["records"].extend(recs)
            finally:
                c.close()
        except Exception as e:  # reported by the main thread
            state[name]["error"] = repr(e)

    threads = [threading.Thread(target=run, args=(n,), name="member-" + n, daemon=True) for n in ("A", "B")]
    for t in threads:
        t.start()
    try:
        # Wait until both members hold disjoint, complete assignments, stable for 1 s.
        deadline = time.time() + 40
        stable_since = None
        last = None
        while True:
            with lock:
                asg = (frozenset(state["A"]["assignment"]), frozenset(state["B"]["assignment"]))
                errs = [state[n]["error"] for n in state if state[n]["error"]]
            expect(not errs, "consumer thread failed: %s" % errs)
            ok = asg[0] and asg[1] and not (asg[0] & asg[1]) and (asg[0] | asg[1]) == set(range(a.partitions))
            if ok and asg == last:
                if time.time() - stable_since >= 1.0:
                    break
            else:
                stable_since = time.time()
            last = asg
            if time.time() >= deadline:
                dump_threads()
                raise CheckFailed("no stable split of %d partitions between two members: A=%s B=%s"
                                  % (a.partitions, sorted(asg[0]), sorted(asg[1])))
            time.sleep(0.1)
        log("two members of %s: A has partitions %s, B has %s" % (a.group, sorted(asg[0]), sorted(asg[1])))
        keys = ["%s-%d" % (a.key_prefix, i) for i in range(a.count)]
        metas = produce_keyed(a.bootstrap, a.topic, keys, "value")
        by_part = {}
        for m in metas:
            by_part.setdefault(m.partition, 0)
            by_part[m.partition] += 1
        deadline = time.time() + 30
        while True:
            with lock:
                n = len(state["A"]["records"]) + len(state["B"]["records"])
            if n >= a.count or time.time() > deadline:
                break
            time.sleep(0.1)
        time.sleep(1.0)  # any duplicate would show up now
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
    with lock:
        ra, rb = state["A"]["records"], state["B"]["records"]
        asg_a, asg_b = state["A"]["assignment"], state["B"]["assignment"]
    keys = keyset(ra) + keyset(rb)
    expect(len(keys) == len(set(keys)), "duplicates: %s" % sorted(k for k in set(keys) if keys.count(k) > 1))
    expect(set(keys) == set("%s-%d" % (a.key_prefix, i) for i in range(a.count)),
           "union of both members is %d records, want %d" % (len(set(keys)), a.count))
    expect(ra and rb, "one member got nothing: A %d, B %d (partitions with data: %s)"
           % (len(ra), len(rb), sorted(by_part)))
    expect(all(r.partition in asg_a for r in ra) and all(r.partition in asg_b for r in rb),
           "a member got records from a partition it was not assigned")
    log("member A got %d records from %s, member B got %d from %s: union is all %d, no duplicates"
        % (len(ra), sorted(asg_a), len(rb), sorted(asg_b), a.count))


def cmd_produce_timestamps(a):
    """Records with known timestamps: partition 0 increasing, partition 2 out of order."""
    p = producer(a.bootstrap)
    try:
        futs = [p.send(a.topic, key=b"t%d" % i, value=b"ts-%d" % i, partition=0,
                       timestamp_ms=T0 + i * 1000) for i in range(10)]
        futs += [p.send(a.topic, key=b"u%d" % i, value=b"ooo-%d" % i, partition=2, timestamp_ms=T0 + d)
                 for i, d in enumerate([0, 5000, 2000, 8000])]
        p.flush(timeout=30)
        metas = [(f.get(timeout=30).partition, f.get(timeout=30).offset) for f in futs]
    finally:
        p.close(timeout=10)
    expect(metas == [(0, i) for i in range(10)] + [(2, i) for i in range(4)], "acks %s" % metas)
    log("produced 10 records with timestamps T0+i*1000 to %s[0] and 4 out-of-order ones to [2]" % a.topic)


def cmd_list_offsets(a):
    """ListOffsets through the consumer: beginning, end, and by timestamp."""
    c = consumer(a.bootstrap)
    try:
        tps = [TopicPartition(a.topic, p) for p in range(3)]
        beg = {tp.partition: o for tp, o in c.beginning_offsets(tps).items()}
        end = {tp.partition: o for tp, o in c.end_offsets(tps).items()}
        expect(beg == {0: 0, 1: 0, 2: 0}, "beginning_offsets %s" % beg)
        expect(end == {0: 10, 1: 0, 2: 4}, "end_offsets %s" % end)
        cases = [
            (0, T0, (0, T0)),                 # exact first timestamp
            (0, T0 - 5000, (0, T0)),          # before everything: the first record
            (0, T0 + 3500, (4, T0 + 4000)),   # between records: the next one
            (0, T0 + 9000, (9, T0 + 9000)),   # exact last
            (0, T0 + 9001, None),             # after the last: no offset
            (1, T0, None),                    # empty partition
            (2, T0 + 1000, (1, T0 + 5000)),   # out of order: first record with ts >= target
            (2, T0 + 6000, (3, T0 + 8000)),
        ]
        for part, ts, want in cases:
            tp = TopicPartition(a.topic, part)
            r = c.offsets_for_times({tp: ts})[tp]
            got = None if r is None else (r.offset, r.timestamp)
            expect(got == want, "offsets_for_times(%s[%d], T0%+d) = %s, want %s"
                   % (a.topic, part, ts - T0, got, want))
        log("beginning_offsets %s, end_offsets %s, offsets_for_times: %d cases right" % (beg, end, len(cases)))
    finally:
        c.close()


def cmd_stream(a):
    """Produce a numbered stream (acks=all, one partition) until the broker goes away; write the acks."""
    p = producer(a.bootstrap, linger_ms=2, retries=0, max_in_flight_requests_per_connection=1,
                 request_timeout_ms=3000, max_block_ms=3000)
    acked = []
    failed = [0]

    def ok(i):
        return lambda m: acked.append((i, m.offset))

    def bad(_e):
        failed[0] += 1

    i = 0
    deadline = time.time() + a.seconds
    try:
        last_progress = (time.time(), 0)
        while time.time() < deadline and failed[0] == 0:
            if len(acked) != last_progress[1]:
                last_progress = (time.time(), len(acked))
            elif time.time() - last_progress[0] > 1.5:
                break  # no acknowledgement for 1.5 s: the broker is gone
            if i - len(acked) > 2000:  # bounded backlog: "sent" stays close to what reached the broker
                time.sleep(0.001)
                continue
            try:
                p.send(a.topic, key=b"s", value=b"stream-%d" % i, partition=0).add_callback(ok(i)).add_errback(bad)
            except Exception:
                break
            i += 1
        try:
            p.flush(timeout=5)
        except Exception:
            pass
    finally:
        try:
            p.close(timeout=2)
        except Exception:
            pass
    with open(a.out, "w") as f:
        json.dump({"sent": i, "acked": acked}, f)
    log("stream: sent %d, acknowledged %d, failed %d" % (i, len(acked), failed[0]))


def cmd_check_stream(a):
    """After kill -9 and restart: the log is the stream's prefix and holds every acknowledged record."""
    with open(a.acks) as f:
        st = json.load(f)
    acked = st["acked"]
    expect(acked, "the stream got no acknowledgement before the kill")
    got, _ = read_all(a.bootstrap, a.topic, timeout=60)
    values = [r.value.decode() for r in got if r.partition == 0]
    offsets = [r.offset for r in got if r.partition == 0]
    expect(offsets == list(range(len(offsets))), "offsets are not 0..n-1")
    expect(values == ["stream-%d" % i for i in range(len(values))],
           "the log is not a prefix of the stream in order")
    for i, off in acked:
        expect(off < len(values) and values[off] == "stream-%d" % i,
               "acknowledged record stream-%d at offset %d is missing after the restart" % (i, off))
    log("after kill -9: log holds %d records, a prefix of the %d sent, containing all %d acknowledged"
        % (len(values), st["sent"], len(acked)))


def cmd_batch_codecs(a):
    """Codecs of the stored batches of one partition (the log keeps batches as received)."""
    import glob
    import os
    import struct
    names = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
    found = []
    for path in sorted(glob.glob(os.path.join(a.dir, "*.log"))):
        with open(path, "rb") as f:
            data = f.read()
        pos = 0
        while pos + 23 <= len(data):
            length, = struct.unpack_from(">i", data, pos + 8)
            magic = data[pos + 16]
            attrs, = struct.unpack_from(">h", data, pos + 21)
            expect(magic == 2, "batch at %s:%d has magic %d" % (path, pos, magic))
            found.append(names.get(attrs & 7, str(attrs & 7)))
            pos += 12 + length
    expect(found, "no batches under %s" % a.dir)
    expect(set(found) == {a.codec}, "stored batches under %s use %s, want only %s" % (a.dir, found, a.codec))
    log("%d stored batch(es), codec %s" % (len(found), a.codec))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("info")
    s.set_defaults(fn=cmd_info)
    s = sub.add_parser("create-topic")
    s.add_argument("topic")
    s.add_argument("--partitions", type=int, required=True)
    s.add_argument("--check-exists", action="store_true")
    s.set_defaults(fn=cmd_create_topic)
    s = sub.add_parser("consume-compare")
    s.add_argument("topic")
    s.add_argument("--expect", required=True)
    s.add_argument("--ignore-timestamps", action="store_true")
    s.set_defaults(fn=cmd_consume_compare)
    s = sub.add_parser("produce-codec")
    s.add_argument("topic")
    s.add_argument("--codec", choices=CODECS, required=True)
    s.add_argument("--partition", type=int, required=True)
    s.add_argument("--expect", required=True)
    s.set_defaults(fn=cmd_produce_codec)
    s = sub.add_parser("produce-keyed")
    s.add_argument("topic")
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--key-prefix", required=True)
    s.add_argument("--spread", type=int, default=0)
    s.set_defaults(fn=cmd_produce_keyed)
    s = sub.add_parser("group-commit-resume")
    s.add_argument("topic")
    s.add_argument("--group", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--first", type=int, required=True)
    s.add_argument("--key-prefix", required=True)
    s.set_defaults(fn=cmd_group_commit_resume)
    s = sub.add_parser("group-offsets")
    s.add_argument("topic")
    s.add_argument("--group", required=True)
    s.add_argument("--expect", required=True)
    s.set_defaults(fn=cmd_group_offsets)
    s = sub.add_parser("save-group-offsets")
    s.add_argument("topic")
    s.add_argument("--group", required=True)
    s.set_defaults(fn=cmd_save_group_offsets)
    s = sub.add_parser("group-resume")
    s.add_argument("topic")
    s.add_argument("--group", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--key-prefix", required=True)
    s.set_defaults(fn=cmd_group_resume)
    s = sub.add_parser("group-two-consumers")
    s.add_argument("topic")
    s.add_argument("--group", required=True)
    s.add_argument("--partitions", type=int, required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--key-prefix", required=True)
    s.set_defaults(fn=cmd_group_two_consumers)
    s = sub.add_parser("produce-timestamps")
    s.add_argument("topic")
    s.set_defaults(fn=cmd_produce_timestamps)
    s = sub.add_parser("list-offsets")
    s.add_argument("topic")
    s.set_defaults(fn=cmd_list_offsets)
    s = sub.add_parser("stream")
    s.add_argument("topic")
    s.add_argument("--seconds", type=float, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_stream)
    s = sub.add_parser("check-stream")
    s.add_argument("topic")
    s.add_argument("--acks", required=True)
    s.set_defaults(fn=cmd_check_stream)
    s = sub.add_parser("batch-codecs")
    s.add_argument("dir")
    s.add_argument("--codec", choices=CODECS, required=True)
    s.set_defaults(fn=cmd_batch_codecs)
    a = ap.parse_args()
    try:
        a.fn(a)
    except CheckFailed as e:
        log("FAILED: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
