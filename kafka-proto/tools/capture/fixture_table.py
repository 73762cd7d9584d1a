#!/usr/bin/env python3
"""Prints the Markdown fixture tables of README.md from frames/INDEX.tsv and
the records/*.json files (stdlib only):

    python3 kafka-proto/tools/capture/fixture_table.py > /tmp/table.md
"""
import csv
import glob
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(os.path.join(HERE, "..", "..", "tests", "fixtures"))

FIXED_TS = 1700000000000


def frames():
    rows = list(csv.DictReader(open("frames/INDEX.tsv"), delimiter="\t"))
    print("#### Request frames (`tests/fixtures/frames/`)\n")
    print("| file | bytes | API | header | client | run | what |")
    print("| --- | ---: | --- | --- | --- | --- | --- |")
    for r in rows:
        f = r["file"]
        m = re.match(r"(.*?)-(\d{3})-(\w+)-v(\d+)\.bin", f)
        client, api = m.group(1), m.group(3)
        notes = r["notes"]
        what = notes
        if api == "ApiVersions":
            if "KIP-511" in notes:
                what = "answered with v0: error 35 + api list (KIP-511)"
            else:
                what = notes.replace("client_software=", "ClientSoftwareName/Version ")
        elif api == "Metadata":
            t = re.search(r"topics=(.*)$", notes).group(1)
            what = {"None": "all topics (null array)",
                    "[]": "no topics (empty array: brokers only)"}.get(
                        t, "topics " + t.replace("'", ""))
            a = re.search(r"allow_auto_topic_creation=(\d)", notes)
            if a:
                what += ", allow_auto_topic_creation=" + ("true" if a.group(1) == "1" else "false")
        elif api == "Produce":
            m2 = re.search(r"acks=(-?\d+) timeout_ms=(\d+); (\S+)\[(\d+)\] -> (\S+)", notes)
            what = "acks=%s timeout=%sms, %s[%s] records = `records/%s`" % m2.groups()
        print("| `%s` | %d | %s v%s | v%s | %s | %s | %s |" % (
            f, os.path.getsize("frames/" + f), api, r["api_version"], r["header_version"],
            client, r["step"], what))


def records():
    print("\n#### Record batches (`tests/fixtures/records/`)\n")
    print("Each `.bin` is the `records` field of one Produce partition, byte for byte; "
          "the `.json` next to it is its decoded content.\n")
    print("| file | bytes | client | codec (attributes) | framing | batch | records | timestamps |")
    print("| --- | ---: | --- | --- | --- | --- | --- | --- |")
    for f in sorted(glob.glob("records/*.json")):
        d = json.load(open(f, encoding="utf-8"))
        b = d["batches"][0]
        client = re.match(r"records/(.*?)-(none|gzip|snappy|lz4|zstd)-", f).group(1)
        if b["base_timestamp"] == FIXED_TS:
            ts = "fixed: %d + i" % FIXED_TS
        else:
            ts = "wall clock, all deltas 0"
        print("| `%s` | %d | %s | %s (%d) | %s | magic %d, %d batch, CRC-32C ok=%s, "
              "producer_id %d | %d | %s |" % (
                  d["file"], d["size"], client, b["codec"], b["attributes"],
                  b["compression_framing"] or "-", b["magic"], len(d["batches"]),
                  b["crc_valid"], b["producer_id"], b["records_count"], ts))


if __name__ == "__main__":
    frames()
    records()
