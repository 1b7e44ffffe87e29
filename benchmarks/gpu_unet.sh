#!/usr/bin/env bash
# The U-Net on a machine with a CUDA GPU and CuPy, as one call (under 10 minutes on one H100):
#   1. the fused kernels' and the convolution's tests on CuPy;
#   2. `npscore mnist --preset unet-gpu --backend cupy`: train, sample 5000 images, score them;
#   3. the table (date, GPU, commit, steps/s, the step's FLOPs, classifier-FID, speckle, class
#      fractions, wall times) into $OUT/unet_table.md, where the caller collects it.
#   bash benchmarks/gpu_unet.sh        (MNIST's IDX files in .mnist/ or NPSCORE_MNIST_DIR)
# On a CPU, for a check of the script itself: BACKEND=numpy PRESET_FLAGS="--steps 20 --channels 4,8,8
#   --samples 32 --sde-steps 20 --checkpoint-every 10" bash benchmarks/gpu_unet.sh
set -uo pipefail
OUT=${OUT:-gpu_out}
BACKEND=${BACKEND:-cupy}
DATA=${NPSCORE_MNIST_DIR:-.mnist}
mkdir -p "$OUT"
exec > >(tee "$OUT/unet_log.txt") 2>&1
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1
START=$(date +%s)
date -u
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
echo "commit $COMMIT, GPU ${GPU:-none}, backend $BACKEND"
echo "== the kernels' and the convolution's tests on $BACKEND =="
NPSCORE_BACKEND=$BACKEND timeout -s INT "${TEST_SECONDS:-120}" python3 -m pytest -q -p no:cacheprovider \
    tests/test_fused.py tests/test_conv.py tests/test_unet.py 2>&1 | tail -3
echo "== npscore mnist --preset unet-gpu --backend $BACKEND =="
rm -rf "$OUT/unet_run"
T0=$(date +%s)
# shellcheck disable=SC2086
python3 -m npscore mnist --preset unet-gpu --backend "$BACKEND" --data "$DATA" --out "$OUT/unet_run" \
    --no-progress ${PRESET_FLAGS:-}
RC=$?
T1=$(date +%s)
python3 - "$OUT" "$COMMIT" "${GPU:-none}" "$BACKEND" "$((T1 - T0))" "$RC" <<'EOF'
import json, sys, time
from npscore.commands.mnist_config import MNIST_PRESETS
from npscore.nn.unet import UNet
out, commit, gpu, backend, seconds, rc = sys.argv[1:]
lines = [f"| date | GPU | commit | backend | exit | train + sample + score, s |",
         "| --- | --- | --- | --- | --- | --- |",
         f"| {time.strftime('%Y-%m-%d')} | {gpu} | {commit} | {backend} | {rc} | {seconds} |", ""]
try:
    m = json.load(open(f"{out}/unet_run/metrics.json"))
except OSError:
    m = None
if m:
    preset = MNIST_PRESETS["unet-gpu"]
    model = UNet(28, tuple(m["channels"]), 8, preset.sigma_features)
    flops = model.flops_per_image() * 3 * m["batch"]          # forward + backward ~ 3 forwards
    steps_s = m["steps"] / m["train_seconds_this_run"] if m["train_seconds_this_run"] else float("nan")
    r, floor = m["model"], m["mnist_test (floor)"]
    lines += ["| steps | steps/s | GFLOP/step | TFLOP/s | samples | classifier-FID | floor | speckle | floor | "
              "min class | sampling s |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
              f"| {m['steps']} | {steps_s:.1f} | {flops / 1e9:.1f} | {flops * steps_s / 1e12:.2f} | {m['n_samples']} | "
              f"{r['classifier_fid']:.2f} | {floor['classifier_fid']:.2f} | {r['speckle']:.5f} | "
              f"{floor['speckle']:.5f} | {min(r['label_fractions']):.3f} | {m['sample_seconds']:.0f} |"]
open(f"{out}/unet_table.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
echo "total $(( $(date +%s) - START )) s"
date -u
