#!/usr/bin/env bash
# Short GPU run: train the demo checkpoint for TRAIN_MIN minutes at 256², copy the export (few
# files: the device tool returns a handful), then measure default-config training throughput.
set -u
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"; TRAIN_MIN=${1:-1.3}
export PYTHONUNBUFFERED=1
DEMO="--model.channels 16 --model.max_channels 128 --model.fusion_hidden 16 --model.style_channels 16 --model.fusion_style_dim 16 --model.style_dim 64"
timeout 150 python -m training.train --data data/prepared/portraits --out /tmp/demo --steps 100000 --batch_size 32 \
  --time_limit_min "$TRAIN_MIN" --log_every 100 --sample_every 100000 --ckpt_every 100000 --keep_last 1 \
  --lambda_l1 1 --lr_g 2e-4 --lr_d 4e-4 --export_dtype float16 $DEMO > /tmp/demo_train.txt 2>&1
cp /tmp/demo/export/config.json /tmp/demo/export/model.safetensors "$OUT/"
cp /tmp/demo/log.jsonl "$OUT/demo_log.jsonl"; cp /tmp/demo/samples/*.png "$OUT/demo_sample.png"
timeout 45 python -m training.train --data data/prepared/portraits --out /tmp/thr --steps 40 --batch_size 16 \
  --log_every 20 --sample_every 100000 --ckpt_every 100000 > /tmp/thr.txt 2>&1
cp /tmp/thr/log.jsonl "$OUT/throughput_log.jsonl"; tail -c 300 /tmp/demo_train.txt
