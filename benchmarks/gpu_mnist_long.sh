#!/usr/bin/env bash
# The longer MNIST configuration on a lent GPU (recorded in examples/README.md):
# H = 1024, 60000 steps, batch 128, --backend cupy. CuPy is on the device
# machine; autograd travels as a wheel in .whl/ and MNIST as .mnist/.
set -uo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 NPSCORE_MNIST_DIR=${NPSCORE_MNIST_DIR:-.mnist}
date -u
timeout 330 python3 -m npscore mnist --backend cupy --steps 60000 --hidden 1024 --batch-size 128 \
    --out /tmp/m60 --no-progress 2>&1 | tail -8
cp /tmp/m60/samples.png "$OUT/mnist60k_samples.png"
cp /tmp/m60/metrics.json "$OUT/mnist60k_metrics.json"
date -u
