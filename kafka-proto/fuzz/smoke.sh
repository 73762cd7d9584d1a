#!/usr/bin/env bash
# Builds the fuzz targets and runs each for a bounded number of iterations, seeded with the
# golden frames and sample encodings (examples/make_seeds.rs). Stable Rust: no sanitizer (-s none).
#   RUNS=N   iterations per target (default 20000)
set -euo pipefail
cd "$(dirname "$0")"
RUNS=${RUNS:-20000}
if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked
fi
targets=$(cargo fuzz list)
cargo fuzz build -s none
cargo run --quiet --release --example make_seeds -- corpus
for t in $targets; do
    corpus="corpus/$t"
    mkdir -p "$corpus"
    if [ -d "seeds/$t" ]; then cp -n seeds/"$t"/* "$corpus"/ 2>/dev/null || true; fi
    echo "fuzz $t: $RUNS runs"
    cargo fuzz run -s none "$t" "$corpus" -- -runs="$RUNS" -max_len=65536 -timeout=10 2>&1 | tail -n 3
done
