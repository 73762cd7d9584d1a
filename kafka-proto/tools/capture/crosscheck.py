#!/usr/bin/env python3
"""Cross-checks the captured request frames with an independent codec:
kafka-python 3.x's schema-driven protocol classes. Each frame must decode
(request header + body) and re-encode to exactly the same bytes.

    <python with kafka-python>=3> kafka-proto/tools/capture/crosscheck.py
"""
import glob
import os
import struct
import sys

from kafka.protocol.metadata import ApiVersionsRequest, MetadataRequest
from kafka.protocol.producer import ProduceRequest

HERE = os.path.dirname(os.path.abspath(__file__))
FRAMES = os.path.join(HERE, "..", "..", "tests", "fixtures", "frames")
REQUESTS = {0: ProduceRequest, 3: MetadataRequest, 18: ApiVersionsRequest}


def main():
    bad = 0
    files = sorted(glob.glob(os.path.join(FRAMES, "*.bin")))
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        key, version = struct.unpack(">hh", data[:4])
        try:
            obj = REQUESTS[key].decode(data, version=version, header=True)
            again = obj.encode(version=version, header=True)
            ok = again == data
            why = "re-encoded bytes differ"
        except Exception as e:  # report and go on
            ok, why = False, repr(e)
        if not ok:
            bad += 1
            print("MISMATCH %s: %s" % (os.path.basename(path), why))
    print("crosscheck: %d frames, %d mismatches" % (len(files), bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
