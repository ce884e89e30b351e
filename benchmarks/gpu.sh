#!/usr/bin/env bash
# GPU checks, benchmarks and the demo checkpoint's training on one CUDA machine; every result is
# written into DIR as soon as it exists, so a timeout keeps what was done.
#   bash benchmarks/gpu.sh checks DIR          # CUDA parity checks (benchmarks/gpu_checks.py)
#   bash benchmarks/gpu.sh bench DIR           # senses, the pipeline and the default generator on CUDA
#   bash benchmarks/gpu.sh train DIR MINUTES   # training/train_demo.sh: demo recipe, export, evaluation
#   bash benchmarks/gpu.sh all DIR SECONDS     # train for what the benchmarks leave of SECONDS, then
#                                              # the checks and the benchmarks
#   bash benchmarks/gpu.sh ports DIR           # mediapipe's networks in torch on CUDA (~5 min): their
#       checks and training.prepare on the GPU with them (benchmarks/gpu_ports.py), their batched
#       latency against the CPU (bench_ports: batch 1/16/64 at 256²/512²) and prepare's throughput
#       (bench_prepare). The machine has no mediapipe and no `tflite` reader: first run
#       `python -m benchmarks.gpu_bundle` where mediapipe is installed and carry `.gpu_bundle`
#       (~6 MB). Each step has its own time limit (at most 9 min in all) and writes its file into
#       DIR when done: machine.txt ports_checks.txt prepare_cuda.json ports.md prepare_log.txt prepare.md.
# Data: data/prepared/portraits and data/prepared/portraits_val (model card, "Reproduce").
# Without internet, SENSORIUM_OFFLINE=1 skips the VGG/AlexNet/Inception download probes and the
# perceptual loss takes its logged random-VGG fallback; where mediapipe is missing, the senses it
# provides are benchmarked through full-size random replicas of the transformers models only.
set -u
MODE=${1:-}; DIR=${2:-}; ARG=${3:-}
[ -n "$MODE" ] && [ -n "$DIR" ] || { echo "usage: gpu.sh checks|bench|ports DIR | train DIR MINUTES | all DIR SECONDS"; exit 2; }
mkdir -p "$DIR"
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-/tmp/inductor}

machine() {
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$DIR/machine.txt" 2>&1
  python -c "import torch; print('torch', torch.__version__)" >> "$DIR/machine.txt"
}
checks() { timeout 90 python -m benchmarks.gpu_checks > "$DIR/checks.txt" 2>&1; tail -2 "$DIR/checks.txt"; }
bench() {
  local B="$DIR/bench.md"
  { echo "## senses (full-size replicas where weights are missing)"; } >> "$B"
  timeout 70 python -m benchmarks.bench_senses --device cuda --replicas >> "$B" 2>&1
  { echo; echo "## pipeline (depth/segmentation/face-parsing replicas where weights are missing)"; } >> "$B"
  ( eval "$(python -m benchmarks.replicas /tmp/replicas)"; timeout 50 python -m benchmarks.bench_pipeline --device cuda --no-write ) >> "$B" 2>&1
  { echo; echo "## generator, default config, 256², batch 16"; } >> "$B"
  timeout "${1:-130}" python -m benchmarks.bench_generator --device cuda --config default --res 256 \
    --modes bf16+cl bf16+cl+compile --batches 16 --no-write >> "$B" 2>&1
  grep "^|" "$B" | head -40
}

ports_setup() {  # the `tflite` reader and the .tflite files from .gpu_bundle where the machine lacks them
  local B=${SENSORIUM_GPU_BUNDLE:-$PWD/.gpu_bundle}
  if ! python -c "import tflite" 2>/dev/null; then
    ls "$B"/wheels/tflite-*.whl >/dev/null 2>&1 || { echo "no $B/wheels: run python -m benchmarks.gpu_bundle, carry .gpu_bundle"; return 1; }
    python -m pip install -q --no-index --no-deps --no-compile --target /tmp/ports_site "$B"/wheels/*.whl || return 1
    export PYTHONPATH=/tmp/ports_site${PYTHONPATH:+:$PYTHONPATH}
  fi
  python -c "import mediapipe" 2>/dev/null || export SENSORIUM_MEDIAPIPE_MODULES="$B/mediapipe_modules"
  export SENSORIUM_GPU_BUNDLE="$B" SENSORIUM_OFFLINE=1 HF_HUB_OFFLINE=1
}
ports() {  # PORTS_DEVICE=cpu PORTS_BATCHES="1 2" PORTS_SIZES=128 PORTS_IMAGES=8: a dry run of the plumbing
  local DEV=${PORTS_DEVICE:-cuda} BATCHES=${PORTS_BATCHES:-1 16 64} SIZES=${PORTS_SIZES:-256 512}
  ports_setup || return 1
  timeout 120 python -m benchmarks.gpu_checks --ports-only --device "$DEV" --out "$DIR" > "$DIR/ports_checks.txt" 2>&1
  grep -a "^PASS\|^FAIL" "$DIR/ports_checks.txt" | cut -c1-300
  timeout 210 python -m benchmarks.bench_ports --devices "$DEV" cpu --batches $BATCHES --sizes $SIZES --budget 5 \
    > "$DIR/ports.md" 2>&1
  timeout 210 python -m benchmarks.bench_prepare --images "${PORTS_IMAGES:-128}" --devices "$DEV" cpu --batches $BATCHES \
    --senses person,face_landmarks,face_parsing,face_depth,edges --rounds 2 --no-write > "$DIR/prepare_log.txt" 2>&1
  grep -a "^|\|^20\|^###\|^round" "$DIR/prepare_log.txt" > "$DIR/prepare.md"
  cat "$DIR/ports.md" "$DIR/prepare.md" | grep -a "^|\|^CUDA" | cut -c1-400
}

case "$MODE" in
checks) machine; checks ;;
bench) machine; bench ;;
ports) machine; ports ;;
train) machine; RUN=${RUN:-/tmp/sensorium_demo_run} bash training/train_demo.sh "$DIR/demo" "${ARG:-8}" ;;
all)
  BUDGET=${ARG:-560}; START=$SECONDS
  TRAIN_S=$(( BUDGET - 250 - 60 ))  # benchmarks ~250 s; start-up, export and evaluation ~60 s
  machine
  RUN=${RUN:-/tmp/sensorium_demo_run} bash training/train_demo.sh "$DIR/demo" "$(python -c "print(round($TRAIN_S / 60, 2))")"
  echo "training done at $(( SECONDS - START )) s"
  checks
  LEFT=$(( BUDGET - (SECONDS - START) - 130 ))
  bench $(( LEFT > 30 ? LEFT : 30 ))
  echo "all done at $(( SECONDS - START )) s" ;;
*) echo "usage: gpu.sh checks|bench|ports DIR | train DIR MINUTES | all DIR SECONDS"; exit 2 ;;
esac
