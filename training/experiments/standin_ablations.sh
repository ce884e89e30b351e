#!/usr/bin/env bash
# Every ablation row on the offline two-domain stand-in (portraits <-> scenes at 64²), then one
# table. Same data, seed, steps and settings for every row; rows differ only in their config file.
# CPU, one thread per run, one run at a time (about 12 CPU-minutes a row on a 2-core x86_64).
#   bash training/experiments/standin_ablations.sh [STEPS] [OUT]
set -euo pipefail
STEPS=${1:-600}
OUT=${2:-runs/standin_64_ablations}
DATA=data/prepared/standin_64
ROWS="sensorium spade_content_only no_demod_adain no_fusion no_skips single_modality_pose"
SMALL="--model.channels 8 --model.max_channels 64 --model.num_scales 4 --model.style_dim 32 --model.style_channels 8
  --model.fusion_style_dim 8 --model.fusion_hidden 8 --model.disc_channels 16 --model.disc_layers 3"
export OMP_NUM_THREADS=1
for row in $ROWS; do
  [ -f "$OUT/$row/export/model.safetensors" ] && continue  # finished rows are kept; killed ones resume
  resume=""; [ -d "$OUT/$row/checkpoints" ] && resume="--resume latest"
  python -m training.train --config "training/configs/$row.yaml" --data "$DATA/train" --out "$OUT/$row" \
    --steps "$STEPS" --batch_size 8 --seed 0 --lr_g 5e-4 --lr_d 1e-3 --lambda_l1 10 --perceptual none \
    --ema_decay 0.99 --log_every 20 --sample_every "$STEPS" --ckpt_every 100 --num_workers 0 $SMALL $resume
done
python -m training.compare --data "$DATA/val" --out "$OUT/table" --pairs 64 \
  --checkpoints $(for row in $ROWS; do echo "$row=$OUT/$row/export"; done)
