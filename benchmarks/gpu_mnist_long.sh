#!/usr/bin/env bash
# The GPU configuration of MNIST on a machine with a CUDA GPU: `npscore mnist --preset gpu
# --backend cupy` (H = 1024, 100k steps, batch 256, 5000 samples), with the CuPy test
# suite beside it. CuPy is installed there; autograd travels as a wheel in
# .whl/ and MNIST as .mnist/. Results go to examples/README.md with date, GPU and commit.
set -uo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 NPSCORE_MNIST_DIR=${NPSCORE_MNIST_DIR:-.mnist}
date -u
git rev-parse HEAD 2>/dev/null || true
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
(NPSCORE_BACKEND=cupy timeout 280 python3 -m pytest -q -p no:cacheprovider tests > "$OUT/tests_cupy.log" 2>&1;
 echo "exit $?" >> "$OUT/tests_cupy.log") &
timeout 560 python3 -m npscore mnist --preset gpu --backend cupy --checkpoint-every 5000 --out /tmp/mgpu \
    --no-progress 2>&1 | tail -12
cp /tmp/mgpu/samples.png "$OUT/mnist_gpu_samples.png"
cp /tmp/mgpu/metrics.json "$OUT/mnist_gpu_metrics.json"
