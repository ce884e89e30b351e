#!/usr/bin/env bash
# The data-efficient recipe, proven side by side: the previous recipe, the new one, and the new one
# without each of its main levers, on the portraits set of the demo checkpoint (its 12 held-out
# crops), at 64² so every row runs on two CPU cores. Same seed, photos, steps, batch and model size
# for every row; rows differ only in the flags below. Resumable: finished rows are kept, killed
# ones continue from their last checkpoint. Two rows at a time, one thread each (~2 h on 2 cores).
#   bash training/experiments/recipe_ablation.sh [STEPS] [OUT]
# Needs data/prepared/portraits_64{,_val} and data/raw/scene (see docs/experiments.md).
set -euo pipefail
STEPS=${1:-600}
OUT=${2:-runs/recipe_ablation_64}
DATA=data/prepared/portraits_64
COMPOSITES=data/prepared/portraits_64_composites
export OMP_NUM_THREADS=1
source "$(dirname "$0")/ablation_budget.sh"  # SMALL, COMMON, KEPT
OLD="--perceptual random-legacy"
AUG="--d_augment translation,cutout,color"
VIEW="--style_view true --lambda_style 1 --drop_all_modalities 0.05"
LINES="--zoom_p 0.5 --crisp_lines true"
NEW="--perceptual random $AUG $VIEW $LINES"

# Composites: training people cut out with their person mask, pasted on scene photos, senses re-run.
if [ ! -d "$COMPOSITES" ]; then
  python -m training.composite "$DATA" --backgrounds data/raw/scene --out "$COMPOSITES.tmp" --per-image 2 --seed 0
  mv "$COMPOSITES.tmp" "$COMPOSITES"
fi

row() {  # NAME DATA FLAGS...
  local name=$1 data=$2; shift 2
  [ -f "$OUT/$name/export/model.safetensors" ] && return 0
  local resume=""; [ -d "$OUT/$name/checkpoints" ] && resume="--resume latest"
  mkdir -p "$OUT/$name"
  python -m training.train --data "$data" --out "$OUT/$name" $COMMON "$@" $resume >> "$OUT/$name/train.txt" 2>&1
}
slot() {  # run a row in the background, at most two at a time (one per core)
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || true; done
  row "$@" &
}
slot previous "$DATA" $OLD  # the slow rows (the relu5_1 VGG) start early
slot new_no_composites "$DATA" $NEW
slot new_legacy_vgg "$COMPOSITES" --perceptual random-legacy $AUG $VIEW $LINES
slot new "$COMPOSITES" $NEW
slot new_no_augment "$COMPOSITES" --perceptual random $VIEW $LINES
slot new_no_style_view "$COMPOSITES" --perceptual random $AUG $LINES
# What training/configs/demo.yaml keeps: the new recipe without the two levers that did not help.
slot kept "$DATA" --perceptual random $KEPT
wait
ROWS="previous new new_no_augment new_legacy_vgg new_no_style_view new_no_composites kept"
mkdir -p "$OUT/table" "$OUT/eval"
for name in $ROWS; do
  [ -f "$OUT/table/$name.json" ] && continue
  python -m training.evaluate "$OUT/$name/export" --data "${DATA}_val" --train-data "$DATA" \
    --out "$OUT/eval/$name" --pairs 144 > "$OUT/eval/$name.log" 2>&1
  cp "$OUT/eval/$name/metrics.json" "$OUT/table/$name.json"
done
python -m training.experiments.recipe_table "$OUT" $ROWS > "$OUT/table/table.md"
cat "$OUT/table/table.md"
