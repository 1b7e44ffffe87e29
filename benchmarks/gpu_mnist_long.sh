#!/usr/bin/env bash
# The longer MNIST configuration on a lent GPU (recorded in examples/README.md):
# H = 1024, 40000 steps, batch 128, --backend cupy, with the CuPy test suite
# beside it. CuPy is on the device machine; autograd travels as a wheel in
# .whl/ and MNIST as .mnist/.
set -uo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 NPSCORE_MNIST_DIR=${NPSCORE_MNIST_DIR:-.mnist}
date -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
(NPSCORE_BACKEND=cupy timeout 280 python3 -m pytest -q -p no:cacheprovider tests > "$OUT/tests_cupy.log" 2>&1;
 echo "exit $?" >> "$OUT/tests_cupy.log") &
timeout 330 python3 -m npscore mnist --backend cupy --steps 40000 --hidden 1024 --batch-size 128 \
    --checkpoint-every 2000 --out /tmp/m40 --no-progress 2>&1 | tail -12
cp /tmp/m40/samples.png "$OUT/mnist_gpu_samples.png"
cp /tmp/m40/metrics.json "$OUT/mnist_gpu_metrics.json"
wait
tail -4 "$OUT/tests_cupy.log"
date -u
