#!/usr/bin/env bash
# The GPU checks, as one script for a machine with a CUDA GPU (CuPy installed
# there; autograd travels as a wheel in .whl/, MNIST as .mnist/). Everything is
# logged to $OUT/log.txt; a few result files are copied next to it.
set -uo pipefail
OUT=${OUT:-gpu_out}
W=/tmp/npscore_gpu
MNIST_SECONDS=${MNIST_SECONDS:-240}
mkdir -p "$OUT" "$W"
exec > >(tee "$OUT/log.txt") 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
export NPSCORE_MNIST_DIR=${NPSCORE_MNIST_DIR:-.mnist}
date -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import cupy, numpy; print('cupy', cupy.__version__, 'numpy', numpy.__version__)"

echo "== MNIST on cupy: a 1000-step speed probe (run twice: the first fills CuPy's kernel cache), then a run sized to ~$MNIST_SECONDS s =="
for i in 1 2; do
    probe=$(timeout 90 python3 -m npscore mnist --backend cupy --steps 1000 --hidden 1024 --samples 0 \
            --out "$W/probe$i" --no-progress | tail -1)
done
echo "$probe"
secs=$(echo "$probe" | sed -n 's/.*this run \([0-9.]*\)s.*/\1/p')
STEPS=$(python3 -c "s=float('${secs:-10}'); print(max(2000, min(100000, int($MNIST_SECONDS / s) * 1000)))")
echo "steps: $STEPS"
timeout $((MNIST_SECONDS + 150)) python3 -m npscore mnist --backend cupy --steps "$STEPS" --hidden 1024 \
    --batch-size 128 --out "$W/mnist" --no-progress
cp "$W/mnist/samples.png" "$OUT/mnist_samples.png" 2>/dev/null
cp "$W/mnist/metrics.json" "$OUT/mnist_metrics.json" 2>/dev/null

echo "== test suite on the cupy backend =="
NPSCORE_BACKEND=cupy timeout 150 python3 -m pytest -q -p no:cacheprovider --maxfail=10 tests 2>&1 | tail -25

echo "== benchmark =="
timeout 60 python3 benchmarks/losses.py --backend cupy --quick --out "$W/bench"
cp "$W/bench/losses_cupy.json" "$OUT/" 2>/dev/null

echo "== demo =="
timeout 60 python3 -m npscore demo --backend cupy --out "$W/demo" --no-progress | tail -12
cp "$W/demo/samples.png" "$OUT/demo_samples.png" 2>/dev/null
date -u
