//! Record batch decoding must never panic: raw batches (magic 0/1/2, CRC on and off), each codec
//! on its own, codec payloads wrapped in a valid batch (so the record parser sees inflated
//! bytes), and the broker's mutable view.
#![no_main]

use bytes::Bytes;
use kafka_proto::record::{
    crc32c, BatchViewsMut, Compression, ReadOptions, RecordBatches, BATCH_HEADER_SIZE,
};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 4 << 20;

fn read_all(input: Bytes, verify_crc: bool) {
    let options = ReadOptions::default()
        .verify_crc(verify_crc)
        .decompression_limit(LIMIT);
    let mut batches = RecordBatches::with_options(input, options);
    for batch in &mut batches {
        let Ok(batch) = batch else { break };
        let _ = batch.header().last_offset();
        let Ok(records) = batch.records() else {
            continue;
        };
        for record in records {
            let Ok(record) = record else { break };
            let _ = (
                record.key(),
                record.value(),
                record.key_bytes(),
                record.value_bytes(),
            );
            for h in record.headers() {
                let _ = h.key_str();
            }
            let _ = record.control();
        }
    }
    let _ = batches.incomplete_tail();
}

/// Wraps `payload` as the records section of an otherwise valid magic-2 batch.
fn wrap(codec: Compression, count: i32, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(BATCH_HEADER_SIZE + payload.len());
    b.extend_from_slice(&0i64.to_be_bytes());
    b.extend_from_slice(&((BATCH_HEADER_SIZE - 12 + payload.len()) as i32).to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    b.push(2);
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&i16::from(codec.id()).to_be_bytes());
    b.extend_from_slice(&count.saturating_sub(1).to_be_bytes());
    b.extend_from_slice(&[0; 8 + 8]);
    b.extend_from_slice(&(-1i64).to_be_bytes());
    b.extend_from_slice(&(-1i16).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&count.to_be_bytes());
    b.extend_from_slice(payload);
    let crc = crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 8 {
        0 => read_all(Bytes::copy_from_slice(rest), false),
        1 => read_all(Bytes::copy_from_slice(rest), true),
        2 => {
            let mut buf = rest.to_vec();
            for view in BatchViewsMut::new(&mut buf) {
                let Ok(mut view) = view else { break };
                view.set_base_offset(1);
                view.set_partition_leader_epoch(2);
            }
        }
        m => {
            // 3..=7: codec by id (3 = none .. 7 = zstd): alone, then wrapped in a batch.
            let codec = Compression::ALL[usize::from(m - 3)];
            let _ = codec.decompress(rest, LIMIT);
            let count = i32::from(rest.first().copied().unwrap_or(0));
            read_all(
                Bytes::from(wrap(codec, count, rest.get(1..).unwrap_or_default())),
                true,
            );
        }
    }
});
