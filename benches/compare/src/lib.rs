//! Shared inputs for the comparison benchmarks: identical data fed to our crate and to the
//! crates compared against.

/// Bytes in each key.
pub const KEY_LEN: usize = 16;
/// Bytes in each value.
pub const VALUE_LEN: usize = 84;

/// `n` records: 16-byte keys and 84-byte text-like values (so codecs have something to do),
/// from a fixed pseudo-random sequence. The same generator as `kafka-proto/benches/records.rs`.
pub fn dataset(n: usize) -> Vec<([u8; KEY_LEN], [u8; VALUE_LEN])> {
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
    (0..n)
        .map(|i| {
            let mut key = [0u8; KEY_LEN];
            key.copy_from_slice(format!("user-{:011}", next() % 100_000_000_000).as_bytes());
            let mut text = format!("{{\"seq\":{i},\"event\":\"");
            while text.len() < VALUE_LEN {
                text.push_str(WORDS[(next() % 16) as usize]);
                text.push(' ');
            }
            let mut value = [0u8; VALUE_LEN];
            value.copy_from_slice(&text.as_bytes()[..VALUE_LEN]);
            (key, value)
        })
        .collect()
}

pub mod load;
