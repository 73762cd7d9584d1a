#!/usr/bin/env python3
"""Tiny scripted Kafka "broker" used to capture golden request frames.

It speaks just enough of the Kafka protocol for a real client to fetch
metadata and produce: ApiVersions (18), Metadata (3) and Produce (0).
Every request frame it receives is saved verbatim (without the 4-byte
length prefix) as

    <frames-dir>/<label>-<seq>-<ApiName>-v<version>.bin

and every partition's `records` payload of a Produce request is saved as

    <records-dir>/<label>-<codec>-<topic>-p<partition>.bin

A line per frame is appended to <frames-dir>/INDEX.tsv.

Python 3 standard library only. Not a broker: it stores nothing and
answers every Produce with error 0 and an incrementing base offset.
"""

import argparse
import hashlib
import os
import re
import socket
import socketserver
import struct
import sys
import threading

API_NAMES = {0: "Produce", 1: "Fetch", 3: "Metadata", 10: "FindCoordinator", 18: "ApiVersions"}

# Ranges advertised in ApiVersions responses (key: (min, max)).
# Fetch (1) and FindCoordinator (10) are advertised but never answered:
# librdkafka derives its feature flags from them (MsgVer2 needs Produce v3 +
# Fetch v4, ZSTD needs Produce v7 + Fetch v10, LZ4 needs FindCoordinator v0).
# Without them librdkafka silently falls back to magic 0 message sets with no
# compression and no headers.
ADVERTISED = {0: (0, 9), 1: (0, 12), 3: (0, 12), 10: (0, 4), 18: (0, 3)}

# First flexible version of each API we answer.
FLEXIBLE_FROM = {0: 9, 3: 9, 18: 3}

UNSUPPORTED_VERSION = 35
NUM_PARTITIONS = 4
CLUSTER_ID = "golden-cluster-000000"
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


class Short(Exception):
    pass


# --------------------------------------------------------------------------
# Decoding helpers
# --------------------------------------------------------------------------
class Reader:
    def __init__(self, buf, pos=0):
        self.buf = buf
        self.pos = pos

    def remaining(self):
        return len(self.buf) - self.pos

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise Short("need %d bytes at %d, have %d" % (n, self.pos, self.remaining()))
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def _unpack(self, fmt):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))[0]

    def i8(self):
        return self._unpack(">b")

    def i16(self):
        return self._unpack(">h")

    def i32(self):
        return self._unpack(">i")

    def i64(self):
        return self._unpack(">q")

    def uvarint(self):
        shift = 0
        result = 0
        while True:
            b = self.take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def varint(self):
        v = self.uvarint()
        return (v >> 1) ^ -(v & 1)

    def string(self, compact=False):
        n = self.uvarint() - 1 if compact else self.i16()
        if n < 0:
            return None
        return self.take(n).decode("utf-8", "replace")

    def bytes_(self, compact=False):
        n = self.uvarint() - 1 if compact else self.i32()
        if n < 0:
            return None
        return self.take(n)

    def array_len(self, compact=False):
        """Returns None for a null array."""
        n = self.uvarint() - 1 if compact else self.i32()
        return None if n < 0 else n

    def tagged_fields(self):
        out = []
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            size = self.uvarint()
            out.append((tag, self.take(size)))
        return out


# --------------------------------------------------------------------------
# Encoding helpers
# --------------------------------------------------------------------------
class Writer:
    def __init__(self):
        self.parts = []

    def raw(self, b):
        self.parts.append(b)
        return self

    def i8(self, v):
        return self.raw(struct.pack(">b", v))

    def i16(self, v):
        return self.raw(struct.pack(">h", v))

    def i32(self, v):
        return self.raw(struct.pack(">i", v))

    def i64(self, v):
        return self.raw(struct.pack(">q", v))

    def uvarint(self, v):
        out = bytearray()
        while True:
            b = v & 0x7F
            v >>= 7
            if v:
                out.append(b | 0x80)
            else:
                out.append(b)
                return self.raw(bytes(out))

    def string(self, s, compact=False):
        if s is None:
            return self.uvarint(0) if compact else self.i16(-1)
        b = s.encode("utf-8")
        if compact:
            self.uvarint(len(b) + 1)
        else:
            self.i16(len(b))
        return self.raw(b)

    def array_len(self, n, compact=False):
        if n is None:
            return self.uvarint(0) if compact else self.i32(-1)
        return self.uvarint(n + 1) if compact else self.i32(n)

    def tags(self, flexible):
        if flexible:
            self.uvarint(0)
        return self

    def bytes(self):
        return b"".join(self.parts)


# --------------------------------------------------------------------------
# Record payload inspection (only enough to name files / count records)
# --------------------------------------------------------------------------
def inspect_records(records):
    """Returns (codec_name, magic, record_count) for a records payload."""
    if not records or len(records) < 17:
        return ("empty", None, 0)
    r = Reader(records)
    codec = None
    magic = None
    count = 0
    while r.remaining() >= 12:
        r.i64()  # offset / base_offset
        size = r.i32()
        if size < 0 or r.remaining() < size:
            break
        body = Reader(r.take(size))
        if size < 5:
            break
        # magic sits at offset 4 of the body both for v2 batches (after the
        # partition leader epoch) and v0/v1 messages (after the crc).
        magic = body.buf[4]
        if magic == 2:
            body.i32()  # partition leader epoch
            body.i8()   # magic
            body.take(4)  # crc
            attrs = body.i16()
            body.i32()  # last offset delta
            body.take(8 + 8 + 8 + 2 + 4)
            n = body.i32()
            count += n
        else:
            body.take(4)  # crc
            body.i8()     # magic
            attrs = body.i8()
            count += 1
        if codec is None:
            codec = CODECS.get(attrs & 0x07, "codec%d" % (attrs & 0x07))
    return (codec or "unknown", magic, count)


# --------------------------------------------------------------------------
# The responder
# --------------------------------------------------------------------------
class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.offsets = {}
        os.makedirs(args.frames_dir, exist_ok=True)
        os.makedirs(args.records_dir, exist_ok=True)
        self.seq = self._next_seq()
        self.port = None
        self.connections = 0

    def next_connection(self):
        with self.lock:
            self.connections += 1
            return self.connections

    def _next_seq(self):
        pat = re.compile(re.escape(self.args.label) + r"-(\d{3})-")
        best = 0
        for name in os.listdir(self.args.frames_dir):
            m = pat.match(name)
            if m:
                best = max(best, int(m.group(1)))
        return best + 1

    def save_frame(self, api_key, api_version, frame):
        with self.lock:
            seq = self.seq
            self.seq += 1
        name = "%s-%03d-%s-v%d.bin" % (self.args.label, seq,
                                        API_NAMES.get(api_key, "Api%d" % api_key),
                                        api_version)
        with open(os.path.join(self.args.frames_dir, name), "wb") as f:
            f.write(frame)
        return name

    def index(self, fields):
        line = "\t".join("" if v is None else str(v) for v in fields)
        path = os.path.join(self.args.frames_dir, "INDEX.tsv")
        with self.lock:
            new = not os.path.exists(path)
            with open(path, "a") as f:
                if new:
                    f.write("file\tapi_key\tapi_version\theader_version\tcorrelation_id"
                            "\tclient_id\tstep\tconnection\tnotes\n")
                f.write(line + "\n")

    def save_records(self, topic, partition, records):
        codec, magic, count = inspect_records(records)
        name_codec = self.args.codec or codec
        note = "records magic=%s codec=%s count=%d" % (magic, codec, count)
        if self.args.codec and self.args.codec != codec:
            note += " (WARNING: expected codec %s)" % self.args.codec
            log("WARNING: expected codec %s but batch says %s" % (self.args.codec, codec))
        safe_topic = re.sub(r"[^A-Za-z0-9._-]", "_", topic)
        base = "%s-%s-%s-p%d" % (self.args.label, name_codec, safe_topic, partition)
        with self.lock:
            name = base + ".bin"
            n = 2
            while os.path.exists(os.path.join(self.args.records_dir, name)):
                name = "%s-b%d.bin" % (base, n)
                n += 1
            with open(os.path.join(self.args.records_dir, name), "wb") as f:
                f.write(records or b"")
            key = (topic, partition)
            base_offset = self.offsets.get(key, 0)
            self.offsets[key] = base_offset + max(count, 1)
        return name, base_offset, note


def log(msg):
    sys.stderr.write("[responder] %s\n" % msg)
    sys.stderr.flush()


def topic_uuid(name):
    return hashlib.md5(name.encode("utf-8")).digest()


class Handler(socketserver.BaseRequestHandler):
    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def handle(self):
        st = self.server.state
        self.conn_no = st.next_connection()
        while True:
            head = self.recv_exact(4)
            if head is None:
                return
            (size,) = struct.unpack(">i", head)
            frame = self.recv_exact(size)
            if frame is None:
                return
            resp = self.process(st, frame)
            if resp is False:
                return  # close the connection
            if resp is not None:
                self.request.sendall(struct.pack(">i", len(resp)) + resp)

    def process(self, st, frame):
        r = Reader(frame)
        api_key = r.i16()
        api_version = r.i16()
        corr = r.i32()
        client_id = r.string()
        name = st.save_frame(api_key, api_version, frame)
        notes = []
        flexible = api_key in FLEXIBLE_FROM and api_version >= FLEXIBLE_FROM[api_key]
        header_version = 2 if flexible else 1
        if flexible:
            tags = r.tagged_fields()
            if tags:
                notes.append("header tags=%s" % [(t, v.hex()) for t, v in tags])
        resp = None
        try:
            if api_key == 18:
                resp = self.api_versions(r, corr, api_version, notes)
            elif api_key == 3:
                resp = self.metadata(r, corr, api_version, flexible, notes)
            elif api_key == 0:
                resp = self.produce(st, r, corr, api_version, flexible, notes, name)
            else:
                notes.append("unanswered api; connection closed")
                resp = False
        except Exception as e:  # keep capturing even if a parse fails
            notes.append("parse error: %r" % (e,))
            resp = False
        st.index([name, api_key, api_version, header_version, corr, client_id,
                  st.args.step, self.conn_no, "; ".join(notes)])
        log("%s conn=%d corr=%d client_id=%r %s" % (name, self.conn_no, corr, client_id,
                                                    "; ".join(notes)))
        return resp

    # ---- ApiVersions ---------------------------------------------------
    def api_versions(self, r, corr, version, notes):
        w = Writer().i32(corr)  # response header v0, always
        keys = sorted(ADVERTISED.items())
        if version > 3:
            notes.append("answered v0 UNSUPPORTED_VERSION (KIP-511)")
            w.i16(UNSUPPORTED_VERSION).i32(len(keys))
            for k, (lo, hi) in keys:
                w.i16(k).i16(lo).i16(hi)
            return w.bytes()
        if version >= 3:
            sw_name = r.string(compact=True)
            sw_version = r.string(compact=True)
            r.tagged_fields()
            notes.append("client_software=%s/%s" % (sw_name, sw_version))
        if r.remaining():
            notes.append("%d trailing bytes" % r.remaining())
        compact = version >= 3
        w.i16(0).array_len(len(keys), compact)
        for k, (lo, hi) in keys:
            w.i16(k).i16(lo).i16(hi).tags(compact)
        if version >= 1:
            w.i32(0)  # throttle_time_ms
        w.tags(compact)
        return w.bytes()

    # ---- Metadata ------------------------------------------------------
    def metadata(self, r, corr, v, flexible, notes):
        n = r.array_len(compact=flexible)
        topics = None
        if n is not None:
            topics = []
            for _ in range(n):
                if v >= 10:
                    r.take(16)  # topic id
                    name = r.string(compact=True)
                else:
                    name = r.string(compact=flexible)
                if flexible:
                    r.tagged_fields()
                topics.append(name)
        if v >= 4:
            notes.append("allow_auto_topic_creation=%d" % r.i8())
        if 8 <= v <= 10:
            notes.append("include_cluster_authorized_operations=%d" % r.i8())
        if v >= 8:
            notes.append("include_topic_authorized_operations=%d" % r.i8())
        if flexible:
            tags = r.tagged_fields()
            if tags:
                notes.append("body tags=%s" % [(t, x.hex()) for t, x in tags])
        if r.remaining():
            notes.append("%d trailing bytes: %s" % (r.remaining(), r.buf[r.pos:].hex()))
        notes.append("topics=%s" % (topics,))
        if topics is None or (v == 0 and not topics):
            topics = ["golden"]  # null (v1+) or empty (v0) means all topics
        # an empty array in v1+ asks for no topics (brokers/cluster only)

        c = flexible
        w = Writer().i32(corr).tags(flexible)  # response header v1 when flexible
        if v >= 3:
            w.i32(0)  # throttle
        w.array_len(1, c)
        w.i32(0).string("127.0.0.1", c).i32(self.server.state.port)
        if v >= 1:
            w.string(None, c)  # rack
        w.tags(c)
        if v >= 2:
            w.string(CLUSTER_ID, c)
        if v >= 1:
            w.i32(0)  # controller id
        w.array_len(len(topics), c)
        for t in topics:
            w.i16(0).string(t, c)
            if v >= 10:
                w.raw(topic_uuid(t or ""))
            if v >= 1:
                w.i8(0)  # is_internal
            w.array_len(NUM_PARTITIONS, c)
            for p in range(NUM_PARTITIONS):
                w.i16(0).i32(p).i32(0)
                if v >= 7:
                    w.i32(0)  # leader epoch
                w.array_len(1, c).i32(0)  # replicas
                w.array_len(1, c).i32(0)  # isr
                if v >= 5:
                    w.array_len(0, c)  # offline replicas
                w.tags(c)
            if v >= 8:
                w.i32(-2147483648)  # topic authorized operations
            w.tags(c)
        if 8 <= v <= 10:
            w.i32(-2147483648)  # cluster authorized operations
        w.tags(c)
        return w.bytes()

    # ---- Produce -------------------------------------------------------
    def produce(self, st, r, corr, v, flexible, notes, frame_name):
        c = flexible
        txn = r.string(compact=c) if v >= 3 else None
        acks = r.i16()
        timeout = r.i32()
        notes.append("transactional_id=%r acks=%d timeout_ms=%d" % (txn, acks, timeout))
        results = []
        for _ in range(r.array_len(compact=c) or 0):
            topic = r.string(compact=c)
            parts = []
            for _ in range(r.array_len(compact=c) or 0):
                index = r.i32()
                records = r.bytes_(compact=c)
                if c:
                    r.tagged_fields()
                rec_name, base_offset, note = st.save_records(topic, index, records)
                notes.append("%s[%d] -> %s (%s)" % (topic, index, rec_name, note))
                parts.append((index, base_offset))
            if c:
                r.tagged_fields()
            results.append((topic, parts))
        if c:
            r.tagged_fields()
        if r.remaining():
            notes.append("%d trailing bytes" % r.remaining())
        if acks == 0:
            return None  # no response for acks=0
        w = Writer().i32(corr).tags(flexible)
        w.array_len(len(results), c)
        for topic, parts in results:
            w.string(topic, c).array_len(len(parts), c)
            for index, base_offset in parts:
                w.i32(index).i16(0).i64(base_offset)
                if v >= 2:
                    w.i64(-1)  # log append time
                if v >= 5:
                    w.i64(0)  # log start offset
                if v >= 8:
                    w.array_len(0, c)  # record errors
                    w.string(None, c)  # error message
                w.tags(c)
            w.tags(c)
        if v >= 1:
            w.i32(0)  # throttle
        w.tags(c)
        return w.bytes()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--label", required=True,
                    help="client+version prefix of output names, e.g. kcat-librdkafka2.0.2")
    ap.add_argument("--step", default="", help="free text recorded in INDEX.tsv")
    ap.add_argument("--codec", default="",
                    help="codec of this run, used in records file names "
                         "(default: read from the batch attributes)")
    ap.add_argument("--frames-dir", required=True)
    ap.add_argument("--records-dir", required=True)
    args = ap.parse_args()

    state = State(args)
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = state
    state.port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % state.port)
        os.replace(tmp, args.port_file)
    log("listening on 127.0.0.1:%d label=%s step=%s" % (state.port, args.label, args.step))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
