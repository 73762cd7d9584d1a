#!/usr/bin/env bash
# Installs what capture.sh drives: Debian's kcat, and two virtualenvs with
# pinned kafka-python releases plus every compression codec they use.
#
#   kafka-proto/tools/capture/setup.sh [VENV_ROOT]     (default: /tmp/kafka-capture)
#
# then:
#   CAPTURE_PYTHONS="VENV_ROOT/kp2/bin/python VENV_ROOT/kp3/bin/python" \
#       kafka-proto/tools/capture/capture.sh
set -euo pipefail
ROOT=${1:-/tmp/kafka-capture}

if ! command -v kcat >/dev/null; then
    apt-get update
    apt-get install -y kcat
fi

CODECS="python-snappy==0.7.3 cramjam==2.14.0 lz4==4.4.5 zstandard==0.25.0"
for pair in kp2:2.3.3 kp3:3.0.12; do
    name=${pair%%:*} ver=${pair#*:}
    if [ ! -x "$ROOT/$name/bin/python" ]; then
        python3 -m venv "$ROOT/$name"
    fi
    # shellcheck disable=SC2086
    "$ROOT/$name/bin/pip" install -q "kafka-python==$ver" $CODECS
    "$ROOT/$name/bin/python" -c 'import kafka, kafka.codec as c; print("kafka-python", kafka.__version__, "snappy", c.has_snappy(), "lz4", c.has_lz4(), "zstd", c.has_zstd())'
done
kcat -V | head -4
echo
echo "CAPTURE_PYTHONS=\"$ROOT/kp2/bin/python $ROOT/kp3/bin/python\""
