#!/usr/bin/env bash
# The GPU checks, as one script for the lent device machine (CuPy is there;
# autograd travels as a wheel in .whl/). Writes logs under $OUT.
set -uo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import cupy, numpy; print('cupy', cupy.__version__, 'numpy', numpy.__version__)" | tee -a "$OUT/gpu.txt"
echo "== test suite on the cupy backend =="
NPSCORE_BACKEND=cupy timeout 240 python3 -m pytest -q -x -p no:cacheprovider tests 2>&1 | tail -25 | tee "$OUT/tests_cupy.txt"
echo "== benchmark =="
timeout 150 python3 benchmarks/losses.py --backend cupy --quick --out "$OUT" 2>&1 | tee "$OUT/bench_cupy.txt"
echo "== demo =="
timeout 120 python3 -m npscore demo --backend cupy --out "$OUT/demo" --no-progress 2>&1 | tail -12 | tee "$OUT/demo_cupy.txt"
