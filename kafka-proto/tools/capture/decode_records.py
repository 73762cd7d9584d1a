#!/usr/bin/env python3
"""Decodes captured Produce `records` payloads into reviewable JSON.

    decode_records.py FILE.bin [FILE.bin ...]   # writes FILE.json next to each

Independent of the Rust codec: written straight from the RecordBatch v2 and
MessageSet v0/v1 layouts. Needs the compression libraries of the capture
venv: python-snappy (or cramjam), lz4, zstandard; gzip is stdlib.

The JSON is the expected decoded content of the fixture: one entry per
batch (or per top-level message for magic 0/1) with the header fields, the
codec, whether the CRC checks out, and each record's offset/timestamp
deltas, absolute offset/timestamp, key, value and headers. Keys, values and
header values are UTF-8 strings, or null; bytes that are not UTF-8 are
written as {"hex": "..."}.
"""

import gzip
import io
import json
import os
import struct
import sys
import zlib

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
XERIAL_MAGIC = b"\x82SNAPPY\x00"


# ---- CRC-32C (Castagnoli), table driven ------------------------------------
def _crc32c_table():
    poly = 0x82F63B78
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ---- decompression ----------------------------------------------------------
def snappy_raw(data):
    try:
        import snappy  # python-snappy
        return snappy.decompress(data)
    except ImportError:
        import cramjam
        return bytes(cramjam.snappy.decompress_raw(data))


def decompress(codec, data):
    """Returns (bytes, framing-note)."""
    if codec == 0:
        return data, None
    if codec == 1:
        return gzip.GzipFile(fileobj=io.BytesIO(data)).read(), "gzip"
    if codec == 2:
        if data.startswith(XERIAL_MAGIC):
            # xerial/snappy-java framing: 8 magic, i32 version, i32 compat,
            # then blocks of i32 length + raw snappy block.
            pos = 16
            out = bytearray()
            while pos < len(data):
                (n,) = struct.unpack_from(">i", data, pos)
                pos += 4
                out += snappy_raw(data[pos:pos + n])
                pos += n
            return bytes(out), "snappy-xerial"
        return snappy_raw(data), "snappy-raw"
    if codec == 3:
        import lz4.frame
        return lz4.frame.decompress(data), "lz4-frame"
    if codec == 4:
        import zstandard
        dobj = zstandard.ZstdDecompressor().decompressobj()
        return dobj.decompress(data), "zstd-frame"
    raise ValueError("unknown codec %d" % codec)


# ---- readers ----------------------------------------------------------------
class Reader:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def remaining(self):
        return len(self.buf) - self.pos

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise ValueError("short read: need %d at %d of %d" % (n, self.pos, len(self.buf)))
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def varint(self):
        shift = 0
        v = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
        return (v >> 1) ^ -(v & 1)

    def varbytes(self):
        n = self.varint()
        return None if n < 0 else self.take(n)


def text(b):
    if b is None:
        return None
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": b.hex()}


def decode_v2_records(data, count, base_offset, base_ts):
    r = Reader(data)
    out = []
    for _ in range(count):
        length = r.varint()
        rec = Reader(r.take(length))
        attributes = rec.unpack(">b")
        ts_delta = rec.varint()
        off_delta = rec.varint()
        key = rec.varbytes()
        value = rec.varbytes()
        headers = []
        for _ in range(rec.varint()):
            hk = rec.varbytes()
            hv = rec.varbytes()
            headers.append([text(hk), text(hv)])
        if rec.remaining():
            raise ValueError("%d bytes left in record" % rec.remaining())
        out.append({
            "length": length,
            "attributes": attributes,
            "offset_delta": off_delta,
            "offset": base_offset + off_delta,
            "timestamp_delta": ts_delta,
            "timestamp": base_ts + ts_delta,
            "key": text(key),
            "value": text(value),
            "headers": headers,
        })
    if r.remaining():
        raise ValueError("%d bytes left after %d records" % (r.remaining(), count))
    return out


def decode_batch_v2(base_offset, batch_length, body):
    r = Reader(body)
    leader_epoch = r.unpack(">i")
    magic = r.unpack(">b")
    crc = r.unpack(">I")
    crc_actual = crc32c(body[r.pos:])
    attributes = r.unpack(">h")
    last_offset_delta = r.unpack(">i")
    base_ts = r.unpack(">q")
    max_ts = r.unpack(">q")
    producer_id = r.unpack(">q")
    producer_epoch = r.unpack(">h")
    base_sequence = r.unpack(">i")
    count = r.unpack(">i")
    payload = body[r.pos:]
    codec = attributes & 0x07
    data, framing = decompress(codec, payload)
    return {
        "base_offset": base_offset,
        "batch_length": batch_length,
        "partition_leader_epoch": leader_epoch,
        "magic": magic,
        "crc": crc,
        "crc_valid": crc == crc_actual,
        "attributes": attributes,
        "codec": CODECS.get(codec, "codec%d" % codec),
        "compression_framing": framing,
        "compressed_size": len(payload) if codec else None,
        "uncompressed_records_size": len(data),
        "timestamp_type": "LogAppendTime" if attributes & 0x08 else "CreateTime",
        "is_transactional": bool(attributes & 0x10),
        "is_control": bool(attributes & 0x20),
        "last_offset_delta": last_offset_delta,
        "base_timestamp": base_ts,
        "max_timestamp": max_ts,
        "producer_id": producer_id,
        "producer_epoch": producer_epoch,
        "base_sequence": base_sequence,
        "records_count": count,
        "records": decode_v2_records(data, count, base_offset, base_ts),
    }


def decode_message_v01(offset, size, body, depth=0):
    """Legacy message (magic 0/1); recurses into compressed wrappers."""
    r = Reader(body)
    crc = r.unpack(">I")
    crc_actual = zlib.crc32(body[4:]) & 0xFFFFFFFF
    magic = r.unpack(">b")
    attributes = r.unpack(">b")
    ts = r.unpack(">q") if magic >= 1 else None
    klen = r.unpack(">i")
    key = None if klen < 0 else r.take(klen)
    vlen = r.unpack(">i")
    value = None if vlen < 0 else r.take(vlen)
    codec = attributes & 0x07
    msg = {
        "offset": offset,
        "message_size": size,
        "magic": magic,
        "crc": crc,
        "crc_valid": crc == crc_actual,
        "attributes": attributes,
        "codec": CODECS.get(codec, "codec%d" % codec),
        "timestamp": ts,
        "key": text(key),
    }
    if codec:
        data, framing = decompress(codec, value)
        msg["compression_framing"] = framing
        msg["inner"] = decode_message_set(data, depth + 1)
    else:
        msg["value"] = text(value)
    return msg


def decode_message_set(data, depth=0):
    r = Reader(data)
    out = []
    while r.remaining() >= 12:
        offset = r.unpack(">q")
        size = r.unpack(">i")
        body = r.take(size)
        magic = body[4]
        if magic == 2:
            out.append(decode_batch_v2(offset, size, body))
        else:
            out.append(decode_message_v01(offset, size, body, depth))
    if r.remaining():
        out.append({"trailing_partial_bytes": r.remaining()})
    return out


def decode_file(path):
    with open(path, "rb") as f:
        data = f.read()
    return {
        "file": os.path.basename(path),
        "size": len(data),
        "batches": decode_message_set(data),
    }


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        doc = decode_file(path)
        out = os.path.splitext(path)[0] + ".json"
        with open(out, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False)
            f.write("\n")
        n = sum(len(b.get("records", b.get("inner", [None]))) for b in doc["batches"])
        print("%s: %d batch(es), %d record(s)" % (os.path.basename(out), len(doc["batches"]), n))


if __name__ == "__main__":
    main()
