#!/usr/bin/env bash
# Train the demo checkpoint with the recipe in training/configs/demo.yaml for MINUTES, export it,
# and evaluate it on the held-out crops; everything lands in DIR. On one GPU (or, slowly, a CPU).
#   bash training/train_demo.sh DIR [MINUTES] [extra train.py flags…]
#   INIT=assets/checkpoints/sensorium-portraits bash training/train_demo.sh runs/demo 5   # continue the shipped one
# Needs the prepared portraits (DATA, default data/prepared/portraits, and its held-out crops VAL,
# default data/prepared/portraits_val; the model card's "Reproduce" makes them). SENSORIUM_OFFLINE=1 on a
# machine without internet.
set -u
DIR=${1:?usage: train_demo.sh DIR [MINUTES] [flags…]}; MIN=${2:-8}; shift $(( $# < 2 ? $# : 2 ))
mkdir -p "$DIR"
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-/tmp/inductor}
INIT_FLAGS=(); [ -n "${INIT:-}" ] && INIT_FLAGS=(--init_from "$INIT")
DATA=${DATA:-data/prepared/portraits}
VAL=${VAL:-data/prepared/portraits_val}
RUN=${RUN:-$DIR/run}  # the run folder (training states, logs); RUN=/tmp/… keeps DIR to the results
rm -rf "$RUN"  # a fresh run each time (continue one with train.py --resume latest)
timeout $(( ${MIN%.*} * 60 + 120 )) python -m training.train --config training/configs/demo.yaml --data "$DATA" \
  --out "$RUN" --time_limit_min "$MIN" "${INIT_FLAGS[@]}" "$@" > "$DIR/train.txt" 2>&1
status=$?
cp "$RUN/log.jsonl" "$DIR/train_log.jsonl" 2>/dev/null
if [ -f "$RUN/export/model.safetensors" ]; then
  rm -rf "$DIR/export"; cp -r "$RUN/export" "$DIR/export"
  # Content consistency needs the senses (mediapipe); without them the JSON says so.
  SENSES=""; python -c "import mediapipe" 2>/dev/null || SENSES="--no-senses"
  timeout 300 python -m training.evaluate "$DIR/export" --data "$VAL" \
    --train-data "$DATA" --out "$DIR/eval" --pairs 48 $SENSES > "$DIR/eval.txt" 2>&1
fi
tail -c 400 "$DIR/train.txt"; echo; grep -h '"reconstruction_psnr"\|"reconstruction_ssim"\|"memorisation_fraction"' "$DIR/eval/metrics.json" 2>/dev/null
exit $status
