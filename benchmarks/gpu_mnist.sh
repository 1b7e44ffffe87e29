#!/usr/bin/env bash
# MNIST's GPU configuration (`npscore mnist --preset gpu --backend cupy`) and the test suite on
# the CuPy backend, as one run on a machine with a CUDA GPU and CuPy. Where autograd is missing,
# its wheel travels in .whl/; MNIST's IDX files and a classifier.npz travel in .mnist/.
#   bash benchmarks/gpu_mnist.sh
# TRAIN_SECONDS caps the training: the last checkpoint (every 2500 steps, or EVERY) is then the one sampled,
# and the log says at which step and whether its local gate is trained (a checkpoint stopped before
# the gate's phase is the model without it); a finished training prints its seconds (steps/s).
# A run that does not fit one call: SAMPLE=0 for a call that only trains (TRAIN_SECONDS up to about
# 560), then the same command again on the still-warm machine: a checkpoint left in $W/train is
# continued (--resume) to the preset's end, then sampled.
# FINISH=1: when the cap stops the training before its local gate is trained, the gate is trained
# on the last checkpoint (its steps become the run's: --steps N --resume), within GATE_SECONDS.
# PROGRESS=1 shows the training's progress bar (its steps/s) in the log.
# Everything goes to $OUT: log.txt, tests_cupy.log, and per sampler its metrics and sample grid.
set -uo pipefail
OUT=${OUT:-gpu_out}
W=${W:-/tmp/npscore_gpu}
BACKEND=${BACKEND:-cupy}
TRAIN_SECONDS=${TRAIN_SECONDS:-400}
SAMPLES=${SAMPLES:-5000}
every=${EVERY:+--checkpoint-every $EVERY}   # default: the preset's
mkdir -p "$OUT" "$W"
exec > >(tee "$OUT/log.txt") 2>&1
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1
export NPSCORE_MNIST_DIR=$(realpath "${NPSCORE_MNIST_DIR:-.mnist}")
clf=${CLASSIFIER:-$NPSCORE_MNIST_DIR/classifier.npz}
ckpt=$W/train/checkpoint.npz
date -u
git rev-parse HEAD 2>/dev/null || true
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
python3 -c "import numpy; print('numpy', numpy.__version__)"
[ "$BACKEND" = cupy ] && python3 -c "import cupy; print('cupy', cupy.__version__)"

step() {    # the checkpoint's step
    python3 -c "from npscore import io; import sys; print(int(io.read_npz(sys.argv[1], ('opt_step',), 'checkpoint')['opt_step']))" "$ckpt"
}
where() {   # the checkpoint's step and whether its local gate is trained
    python3 -c "from npscore import io; import sys; d = io.read_npz(sys.argv[1], ('opt_step',), 'checkpoint');
print('checkpoint at step', int(d['opt_step']), '; local gate trained:', io.read_json_array(sys.argv[1], d).get('gate_trained'))" "$ckpt"
}
progress=--no-progress
[ "${PROGRESS:-0}" = 1 ] && progress=""
resume=""
if [ -f "$ckpt" ]; then where; resume="--resume"; fi
if [ -n "$resume" ] && where | grep -q "trained: True"; then
    echo "== training: finished before =="
else
    echo "== training (at most $TRAIN_SECONDS s) $resume =="
    timeout "$TRAIN_SECONDS" python3 -m npscore mnist --preset gpu --backend "$BACKEND" --samples 0 \
        $every --out "$W/train" $progress $resume ${EXTRA:-}
    rc=$?
    echo "training exit $rc"
    if [ "$rc" = 124 ] && [ "${FINISH:-0}" = 1 ] && [ -f "$ckpt" ] && ! where | grep -q "trained: True"; then
        n=$(step)
        echo "== the cap stopped the training: the local gate on the checkpoint at step $n (--steps $n --resume) =="
        timeout "${GATE_SECONDS:-150}" python3 -m npscore mnist --preset gpu --backend "$BACKEND" --samples 0 \
            $every --out "$W/train" $progress --resume ${EXTRA:-} --steps "$n"
        echo "gate exit $?"
    fi
fi
where
[ "${SAMPLE:-1}" = 0 ] && exit 0

echo "== the test suite on the cupy backend, beside the sampling =="
(NPSCORE_BACKEND=$BACKEND timeout -s INT ${TEST_SECONDS:-240} python3 -m pytest -q -p no:cacheprovider tests \
    > "$OUT/tests_cupy.log" 2>&1; echo "exit $?" >> "$OUT/tests_cupy.log") &
tests=$!
for sampler in reverse-sde annealed-langevin; do
    timeout 150 python3 -m npscore sample --checkpoint "$ckpt" --samples "$SAMPLES" --sampler "$sampler" \
        --backend "$BACKEND" --classifier "$clf" --out "$W/$sampler" --no-progress
    cp "$W/$sampler/metrics.json" "$OUT/mnist_gpu_$sampler.json"
    cp "$W/$sampler/samples.png" "$OUT/mnist_gpu_$sampler.png"
done
wait $tests
tail -3 "$OUT/tests_cupy.log"
date -u
