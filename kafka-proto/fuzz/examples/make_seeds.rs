//! Writes seed corpora for the fuzz targets: sample encodings of every request and response at
//! every version, and the golden frames captured from real clients.
//!
//! `cargo run --example make_seeds -- OUT_DIR`

use std::path::PathBuf;

use bytes::BytesMut;
use kafka_proto::messages::samples;
use kafka_proto::ApiKey;

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    for t in ["frame", "request", "response"] {
        std::fs::create_dir_all(out.join(t))?;
    }
    let mut n = 0;
    for (i, key) in ApiKey::ALL.iter().enumerate() {
        let r = key.valid_versions();
        for v in r.min..=r.max {
            let mut req = BytesMut::from(&[i as u8, (v - r.min) as u8][..]);
            if samples::request(*key, v, 0).encode(&mut req, v).is_ok() {
                std::fs::write(out.join("request").join(format!("{key}-v{v}")), &req)?;
            }
            let mut resp = BytesMut::from(&[i as u8, (v - r.min) as u8][..]);
            if samples::response(*key, v, 0).encode(&mut resp, v).is_ok() {
                std::fs::write(out.join("response").join(format!("{key}-v{v}")), &resp)?;
            }
            n += 2;
        }
    }
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/frames");
    for e in std::fs::read_dir(golden)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "bin") {
            let body = std::fs::read(&p)?;
            let mut framed = (body.len() as i32).to_be_bytes().to_vec();
            framed.extend_from_slice(&body);
            let name = p.file_name().map(|n| n.to_os_string()).unwrap_or_default();
            std::fs::write(out.join("frame").join(name), framed)?;
            n += 1;
        }
    }
    eprintln!("wrote {n} seeds into {}", out.display());
    Ok(())
}
