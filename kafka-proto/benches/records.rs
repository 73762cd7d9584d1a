//! Record batch encode/decode throughput: 1,000,000 records of 100 bytes (16-byte key, 84-byte
//! value) in batches of 16 KiB and 1 MiB, uncompressed and with each codec.
//!
//! `cargo bench -p kafka-proto --bench records` runs the criterion groups (records/s) and then
//! prints a summary table: records/s, payload MB/s, allocations per record, and each codec step
//! against the codec crate called directly on the same bytes. Under `cargo test` (no `--bench`
//! argument) it runs on 10,000 records once, as a smoke test.

use std::alloc::System;
use std::hint::black_box;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use kafka_proto::record::{
    BatchMeta, BuilderOptions, Compression, RecordBatchBuilder, RecordBatches,
    DEFAULT_DECOMPRESSION_LIMIT,
};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 84;
const BATCH_SIZES: [(usize, &str); 2] = [(16 * 1024, "16KiB"), (1024 * 1024, "1MiB")];

struct Dataset {
    keys: Vec<[u8; KEY_LEN]>,
    values: Vec<[u8; VALUE_LEN]>,
}

fn dataset(n: usize) -> Dataset {
    // Text-like values (so codecs have something to do) from a fixed pseudo-random sequence.
    const WORDS: [&str; 16] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut keys = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(format!("user-{:011}", next() % 100_000_000_000).as_bytes());
        let mut text = format!("{{\"seq\":{i},\"event\":\"");
        while text.len() < VALUE_LEN {
            text.push_str(WORDS[(next() % 16) as usize]);
            text.push(' ');
        }
        let mut value = [0u8; VALUE_LEN];
        value.copy_from_slice(&text.as_bytes()[..VALUE_LEN]);
        keys.push(key);
        values.push(value);
    }
    Dataset { keys, values }
}

fn encode(data: &Dataset, codec: Compression, max_bytes: usize) -> Vec<Bytes> {
    let options = BuilderOptions::default()
        .compression(codec)
        .max_bytes(max_bytes);
    let mut out = Vec::new();
    let mut builder = RecordBatchBuilder::new(options);
    let mut base = 0i64;
    for (i, (k, v)) in data.keys.iter().zip(&data.values).enumerate() {
        let ts = 1_700_000_000_000 + i as i64;
        if !builder.try_append(ts, Some(k), Some(v), &[]).unwrap() {
            let full = std::mem::replace(&mut builder, RecordBatchBuilder::new(options));
            let n = full.len() as i64;
            out.push(
                full.finish(&BatchMeta {
                    base_offset: base,
                    ..Default::default()
                })
                .unwrap(),
            );
            base += n;
            assert!(builder.try_append(ts, Some(k), Some(v), &[]).unwrap());
        }
    }
    out.push(
        builder
            .finish(&BatchMeta {
                base_offset: base,
                ..Default::default()
            })
            .unwrap(),
    );
    out
}

/// Iterates every record, touching the first and last byte of key and value.
fn decode(input: &Bytes) -> (u64, u64) {
    let mut count = 0u64;
    let mut sum = 0u64;
    for batch in RecordBatches::new(input.clone()) {
        let batch = batch.unwrap();
        for record in batch.records().unwrap() {
            let record = record.unwrap();
            let key = record.key().unwrap_or_default();
            let value = record.value().unwrap_or_default();
            sum += u64::from(key.first().copied().unwrap_or(0))
                + u64::from(value.last().copied().unwrap_or(0))
                + value.len() as u64;
            count += 1;
        }
    }
    (count, sum)
}

fn concat(batches: &[Bytes]) -> Bytes {
    let mut all = Vec::with_capacity(batches.iter().map(Bytes::len).sum());
    for b in batches {
        all.extend_from_slice(b);
    }
    Bytes::from(all)
}

/// The record sections of the batches: (uncompressed, compressed with `codec` by us).
fn sections(data: &Dataset, codec: Compression, max_bytes: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let plain = encode(data, Compression::None, max_bytes)
        .iter()
        .map(|b| b[61..].to_vec())
        .collect::<Vec<_>>();
    let packed = plain
        .iter()
        .map(|s| {
            let mut out = Vec::new();
            codec.compress(s, None, &mut out).unwrap();
            out
        })
        .collect();
    (plain, packed)
}

/// The codec crate called directly (its own simplest whole-buffer API) on the same bytes.
fn raw_compress(codec: Compression, input: &[u8]) -> Vec<u8> {
    match codec {
        Compression::None => input.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(input).unwrap();
            e.finish().unwrap()
        }
        Compression::Snappy => snap::raw::Encoder::new().compress_vec(input).unwrap(),
        Compression::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(input).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => zstd::bulk::compress(input, 3).unwrap(),
    }
}

fn raw_decompress(codec: Compression, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match codec {
        Compression::None => out.extend_from_slice(input),
        Compression::Gzip => {
            flate2::bufread::MultiGzDecoder::new(input)
                .read_to_end(&mut out)
                .unwrap();
        }
        Compression::Snappy => {
            // Our sections use the xerial framing; the crate decodes each raw block.
            let mut rest = &input[16..];
            let mut dec = snap::raw::Decoder::new();
            while !rest.is_empty() {
                let len = i32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
                out.extend_from_slice(&dec.decompress_vec(&rest[4..4 + len]).unwrap());
                rest = &rest[4 + len..];
            }
        }
        Compression::Lz4 => {
            lz4_flex::frame::FrameDecoder::new(input)
                .read_to_end(&mut out)
                .unwrap();
        }
        Compression::Zstd => out = zstd::stream::decode_all(input).unwrap(),
    }
    out
}

fn codec_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

/// Best of `runs` wall-clock times of `f`.
fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn allocations<T>(f: impl FnOnce() -> T) -> usize {
    let region = Region::new(GLOBAL);
    black_box(f());
    region.change().allocations
}

fn criterion_groups(c: &mut Criterion, data: &Dataset) {
    let n = data.keys.len() as u64;
    for (max_bytes, size) in BATCH_SIZES {
        let mut g = c.benchmark_group(format!("records/{size}"));
        g.throughput(Throughput::Elements(n));
        for codec in Compression::ALL {
            let name = codec_name(codec);
            g.bench_function(BenchmarkId::new("encode", name), |b| {
                b.iter(|| encode(data, codec, max_bytes))
            });
            let input = concat(&encode(data, codec, max_bytes));
            g.bench_function(BenchmarkId::new("decode", name), |b| {
                b.iter(|| decode(&input))
            });
        }
        g.finish();

        let mut g = c.benchmark_group(format!("codec/{size}"));
        for codec in &Compression::ALL[1..] {
            let codec = *codec;
            let name = codec_name(codec);
            let (plain, packed) = sections(data, codec, max_bytes);
            g.throughput(Throughput::Bytes(
                plain.iter().map(|s| s.len() as u64).sum(),
            ));
            g.bench_function(BenchmarkId::new("ours-compress", name), |b| {
                b.iter(|| {
                    for s in &plain {
                        let mut out = Vec::new();
                        codec.compress(s, None, &mut out).unwrap();
                        black_box(out);
                    }
                })
            });
            g.bench_function(BenchmarkId::new("crate-compress", name), |b| {
                b.iter(|| {
                    plain
                        .iter()
                        .for_each(|s| drop(black_box(raw_compress(codec, s))))
                })
            });
            g.bench_function(BenchmarkId::new("ours-decompress", name), |b| {
                b.iter(|| {
                    for s in &packed {
                        black_box(codec.decompress(s, DEFAULT_DECOMPRESSION_LIMIT).unwrap());
                    }
                })
            });
            g.bench_function(BenchmarkId::new("crate-decompress", name), |b| {
                b.iter(|| {
                    packed
                        .iter()
                        .for_each(|s| drop(black_box(raw_decompress(codec, s))))
                })
            });
        }
        g.finish();
    }
}

fn summary(data: &Dataset, runs: usize) {
    let n = data.keys.len();
    let payload_mb = (n * (KEY_LEN + VALUE_LEN)) as f64 / 1e6;
    println!();
    println!(
        "Summary: {n} records x {} B (key {KEY_LEN} B), best of {runs} runs, one thread",
        KEY_LEN + VALUE_LEN
    );
    println!(
        "{:<7} {:<6} {:>7} {:>9} | {:>12} {:>9} {:>10} | {:>12} {:>9} {:>10} | {:>9} {:>9}",
        "batch",
        "codec",
        "batches",
        "wire MB",
        "enc rec/s",
        "enc MB/s",
        "enc alloc/rec",
        "dec rec/s",
        "dec MB/s",
        "dec alloc/rec",
        "cmp x crate",
        "dcmp x crate"
    );
    for (max_bytes, size) in BATCH_SIZES {
        for codec in Compression::ALL {
            let batches = encode(data, codec, max_bytes);
            let input = concat(&batches);
            assert_eq!(decode(&input).0 as usize, n);
            let enc = best(runs, || encode(data, codec, max_bytes));
            let dec = best(runs, || decode(&input));
            let enc_allocs = allocations(|| encode(data, codec, max_bytes));
            let dec_allocs = allocations(|| decode(&input));
            let (cmp, dcmp) = if codec == Compression::None {
                (String::from("-"), String::from("-"))
            } else {
                let (plain, packed) = sections(data, codec, max_bytes);
                let ours_c = best(runs, || {
                    for s in &plain {
                        let mut out = Vec::new();
                        codec.compress(s, None, &mut out).unwrap();
                        black_box(out);
                    }
                });
                let raw_c = best(runs, || {
                    plain
                        .iter()
                        .for_each(|s| drop(black_box(raw_compress(codec, s))))
                });
                let ours_d = best(runs, || {
                    for s in &packed {
                        black_box(codec.decompress(s, DEFAULT_DECOMPRESSION_LIMIT).unwrap());
                    }
                });
                let raw_d = best(runs, || {
                    packed
                        .iter()
                        .for_each(|s| drop(black_box(raw_decompress(codec, s))))
                });
                (
                    format!("{:.2}", ours_c.as_secs_f64() / raw_c.as_secs_f64()),
                    format!("{:.2}", ours_d.as_secs_f64() / raw_d.as_secs_f64()),
                )
            };
            println!(
                "{:<7} {:<6} {:>7} {:>9.1} | {:>12.0} {:>9.0} {:>13.4} | {:>12.0} {:>9.0} {:>13.4} | {:>11} {:>12}",
                size,
                codec_name(codec),
                batches.len(),
                input.len() as f64 / 1e6,
                n as f64 / enc.as_secs_f64(),
                payload_mb / enc.as_secs_f64(),
                enc_allocs as f64 / n as f64,
                n as f64 / dec.as_secs_f64(),
                payload_mb / dec.as_secs_f64(),
                dec_allocs as f64 / n as f64,
                cmp,
                dcmp,
            );
        }
    }
    println!("MB/s = record payload (key + value) bytes / s, decimal MB. 'x crate' = our codec step time / the codec crate's own call on the same bytes (lower is better).");
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let n = if bench_mode { 1_000_000 } else { 10_000 };
    let data = dataset(n);
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    if std::env::var_os("RECORDS_BENCH_SUMMARY_ONLY").is_none() {
        criterion_groups(&mut c, &data);
        c.final_summary();
    }
    summary(&data, if bench_mode { 3 } else { 1 });
}
