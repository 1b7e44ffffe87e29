#!/usr/bin/env bash
# The fused CuPy kernels on a machine with a CUDA GPU and CuPy, as one short run:
#   1. their tests against the NumPy references, on CuPy (tests/test_fused.py's gpu tests);
#   2. the `gpu` preset's MNIST training steps/s with the kernels and without (NPSCORE_FUSED=0),
#      alternating in one sitting (benchmarks/mnist_speed.py);
#   3. the whole suite on the CuPy backend.
#   bash benchmarks/gpu_speed.sh        (MNIST's IDX files in .mnist/ or NPSCORE_MNIST_DIR)
# Everything goes to $OUT (default gpu_out): log.txt and tests_cupy.log.
set -uo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1
date -u
git rev-parse HEAD 2>/dev/null || true
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
python3 -c "import cupy; print('cupy', cupy.__version__)"
echo "== the fused kernels' tests on CuPy =="
NPSCORE_BACKEND=cupy python3 -m pytest -q -p no:cacheprovider tests/test_fused.py tests/test_activations.py tests/test_optim.py \
    tests/test_mnist_base.py tests/test_mnist_model.py
echo "== gpu preset, steps/s, fused and not =="
python3 benchmarks/mnist_speed.py . .:NPSCORE_FUSED=0 --backend cupy --preset gpu --steps "${STEPS:-1000}" \
    --rounds "${ROUNDS:-2}" --data "${NPSCORE_MNIST_DIR:-.mnist}"
echo "== the whole suite on CuPy =="
NPSCORE_BACKEND=cupy timeout -s INT "${TEST_SECONDS:-300}" python3 -m pytest -q -p no:cacheprovider tests \
    > "$OUT/tests_cupy.log" 2>&1
echo "exit $?" >> "$OUT/tests_cupy.log"
tail -3 "$OUT/tests_cupy.log"
date -u
