#!/usr/bin/env python3
"""Drives kafka-python against the capture responder.

    kafka_python_client.py metadata --bootstrap 127.0.0.1:PORT
    kafka_python_client.py produce  --bootstrap 127.0.0.1:PORT --codec gzip

The produce run sends the same five records as the kcat run (keys, values,
headers, a null value and a null key) to topic "golden" partition 0, with
fixed timestamps so the captured batches are reproducible apart from the
compressed bytes.
"""

import argparse
import logging
import sys

import kafka
from kafka import KafkaConsumer, KafkaProducer

TOPIC = "golden"
BASE_TS = 1700000000000  # 2023-11-14T22:13:20Z

RECORDS = [
    (b"k1", b"hello"),
    (b"k2", b"world"),
    (b"k3", None),
    (None, b"no-key"),
    (b"k5", "caf\u00e9".encode("utf-8")),
]
HEADERS = [("h1", b"v1"), ("trace", b"abc")]


def metadata(bootstrap):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="golden-kafka-python",
                             request_timeout_ms=10000)
    topics = consumer.topics()
    print("topics:", sorted(topics))
    print("partitions of golden:", sorted(consumer.partitions_for_topic(TOPIC) or []))
    consumer.close()


def produce(bootstrap, codec):
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="golden-kafka-python",
        compression_type=None if codec == "none" else codec,
        linger_ms=200,
        acks=1,
        retries=0,
        request_timeout_ms=10000,
    )
    futures = []
    for i, (key, value) in enumerate(RECORDS):
        futures.append(producer.send(TOPIC, key=key, value=value, headers=HEADERS,
                                     partition=0, timestamp_ms=BASE_TS + i))
    producer.flush(timeout=20)
    for f in futures:
        md = f.get(timeout=10)
        print("sent", md.topic, md.partition, md.offset)
    producer.close(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["metadata", "produce"])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--codec", default="none",
                    choices=["none", "gzip", "snappy", "lz4", "zstd"])
    ap.add_argument("-v", action="store_true", help="debug logging")
    args = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.v else logging.WARNING, stream=sys.stderr)
    print("kafka-python", kafka.__version__, file=sys.stderr)
    if args.mode == "metadata":
        metadata(args.bootstrap)
    else:
        produce(args.bootstrap, args.codec)


if __name__ == "__main__":
    main()
