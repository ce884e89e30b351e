#!/usr/bin/env bash
# Lent-GPU sessions (15 minutes of device time, 10 per call): one `all` call, then, while the
# machine is still warm, more training with `--resume latest` on /tmp/demo if time is left (as on
# 2026-11-27: `all 555` took 429 s on an H100, the resumed call 315 s). Everything lands in $OUT
# as soon as it exists, and only a few files: the device tool returns at most eight.
# `train` and `all` continue the shipped demo checkpoint (`--init_from`); INIT= starts afresh.
#
#   bash benchmarks/gpu_next.sh train 8   # demo checkpoint: 8 more minutes at 256² from the shipped
#                                         # one, export into $OUT (BATCH=1 for a CPU smoke test)
#   bash benchmarks/gpu_next.sh bench     # CUDA checks; senses (full-size replicas) and the app's
#                                         # server work (bench_pipeline) on the GPU
#   bash benchmarks/gpu_next.sh ablation 2000  # full Sensorium vs content-only SPADE on the offline
#                                         # two-domain stand-in at 128², same steps and seed; one table
#   bash benchmarks/gpu_next.sh all 560   # one call for a 15-minute session: demo training for what
#                                         # the benches leave of 560 s, then senses, pipeline and the
#                                         # default generator's missing cells; six files come back
#
# Carry data/prepared (the maps are made here: the device has no mediapipe). The device cannot
# reach pytorch.org: SENSORIUM_OFFLINE=1 skips the VGG/AlexNet/Inception download probes, and the
# perceptual loss takes its logged random-VGG fallback.
set -u
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 SENSORIUM_OFFLINE=1 HF_HUB_OFFLINE=1 TORCHINDUCTOR_CACHE_DIR=/tmp/inductor
case "${1:-}" in
train)
  MIN=${2:-8}
  DEMO="--model.channels 16 --model.max_channels 128 --model.fusion_hidden 16 --model.style_channels 16 --model.fusion_style_dim 16 --model.style_dim 64"
  # Continues the shipped checkpoint (generator, encoders and discriminator; its architecture);
  # INIT= (empty) trains the demo config from scratch instead.
  INIT=${INIT-assets/checkpoints/sensorium-portraits}
  timeout $(( MIN * 60 + 60 )) python -m training.train --data data/prepared/portraits --out /tmp/demo --steps 1000000 \
    --batch_size "${BATCH:-32}" --time_limit_min "$MIN" --log_every 100 --sample_every 1000000 --ckpt_every 1000000 --keep_last 1 \
    --lambda_l1 1 --lr_g 2e-4 --lr_d 4e-4 --ema_start 500 --export_dtype float16 \
    $([ -n "$INIT" ] && echo "--init_from $INIT" || echo "$DEMO") > /tmp/demo_train.txt 2>&1
  cp /tmp/demo/export/config.json /tmp/demo/export/*.safetensors "$OUT/"
  cp /tmp/demo/log.jsonl "$OUT/demo_log.jsonl"; cp /tmp/demo/samples/*.png "$OUT/demo_sample.png" 2>/dev/null
  timeout 60 python -m training.evaluate /tmp/demo/export --data data/prepared/portraits_val --out /tmp/eval --pairs 48 \
    --no-senses > /dev/null 2>&1 && cp /tmp/eval/metrics.json "$OUT/demo_eval.json"
  tail -c 400 /tmp/demo_train.txt ;;
bench)
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$OUT/gpu.txt" 2>&1
  timeout 90 python -m benchmarks.gpu_checks > "$OUT/checks.txt" 2>&1; tail -2 "$OUT/checks.txt"
  timeout 200 python -m benchmarks.bench_senses --device cuda --replicas > "$OUT/senses_gpu.md" 2>&1
  timeout 120 python -m benchmarks.bench_pipeline --device cuda --no-write > "$OUT/pipeline_gpu.md" 2>&1
  timeout 120 python -m benchmarks.bench_generator --config default --no-write > "$OUT/generator_default.md" 2>&1
  grep "^|" "$OUT/senses_gpu.md" "$OUT/pipeline_gpu.md" | head -30 ;;
ablation)
  STEPS=${2:-2000}
  python -m training.data.domains build --domain portraits=data/prepared/portraits,data/prepared/portraits_val \
    --domain scenes=data/prepared/scenes --val 12 --resolution 128 --out /tmp/standin_128 > /dev/null
  DEMO="--model.channels 16 --model.max_channels 128 --model.fusion_hidden 16 --model.style_channels 16 --model.fusion_style_dim 16 --model.style_dim 64"
  for row in sensorium spade_content_only; do
    rm -rf /tmp/abl/$row  # same steps for both rows: a fresh run, not a resume
    timeout 300 python -m training.train --config training/configs/$row.yaml --data /tmp/standin_128/train \
      --out /tmp/abl/$row --steps "$STEPS" --batch_size 32 --seed 0 --lambda_l1 1 \
      --log_every 100 --sample_every 1000000 --ckpt_every 1000000 $DEMO > "/tmp/abl_$row.txt" 2>&1
  done
  timeout 120 python -m training.compare --data /tmp/standin_128/val --out /tmp/abl/table --pairs 128 --no-senses \
    --checkpoints sensorium=/tmp/abl/sensorium/export spade_content_only=/tmp/abl/spade_content_only/export > /dev/null 2>&1
  cp /tmp/abl/table/table.md "$OUT/ablation_table.md"; cp /tmp/abl/table/grid_portraits_to_scenes.png "$OUT/"
  grep -h "steps\|time limit" /tmp/abl_*.txt | tail -4; cat "$OUT/ablation_table.md" ;;
all)
  BUDGET=${2:-560}; START=$SECONDS; B="$OUT/bench.md"
  INIT=${INIT-assets/checkpoints/sensorium-portraits}  # as in `train`: INIT= starts from scratch
  BENCH_S=250  # senses 70 + pipeline 50 + generator 130: what the benches need after training
  TRAIN_S=$(( BUDGET - BENCH_S - 40 ))  # 40 s: start, data load, export
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$B" 2>&1
  python -c "import torch; print('torch', torch.__version__)" >> "$B"
  DEMO="--model.channels 16 --model.max_channels 128 --model.fusion_hidden 16 --model.style_channels 16 --model.fusion_style_dim 16 --model.style_dim 64"
  timeout $(( TRAIN_S + 60 )) python -m training.train --data data/prepared/portraits --out /tmp/demo --steps 1000000 \
    --batch_size "${BATCH:-32}" --time_limit_min "$(python -c "print($TRAIN_S / 60)")" --log_every 100 \
    --sample_every 1000000 --ckpt_every 1000000 --keep_last 1 --lambda_l1 1 --lr_g 2e-4 --lr_d 4e-4 --ema_start 500 \
    --export_dtype float16 $([ -n "$INIT" ] && echo "--init_from $INIT" || echo "$DEMO") > /tmp/demo_train.txt 2>&1
  cp /tmp/demo/export/*.safetensors /tmp/demo/export/config.json "$OUT/"; cp /tmp/demo/log.jsonl "$OUT/demo_log.jsonl"
  tail -c 300 /tmp/demo_train.txt; echo "training done at $(( SECONDS - START )) s"
  { echo; echo "## senses (full-size replicas where weights are missing)"; } >> "$B"
  timeout 70 python -m benchmarks.bench_senses --device cuda --replicas >> "$B" 2>&1
  { echo; echo "## pipeline (depth/segmentation/face-parsing replicas; no mediapipe on this machine)"; } >> "$B"
  ( eval "$(python -m benchmarks.replicas /tmp/replicas)"; timeout 50 python -m benchmarks.bench_pipeline --device cuda --no-write ) >> "$B" 2>&1
  { echo; echo "## generator, default config, 256², batch 16"; } >> "$B"
  LEFT=$(( BUDGET - (SECONDS - START) - 5 ))
  timeout $(( LEFT > 20 ? LEFT : 20 )) python -m benchmarks.bench_generator --device cuda --config default --res 256 \
    --modes bf16+cl bf16+cl+compile --batches 16 --no-write >> "$B" 2>&1
  echo "all done at $(( SECONDS - START )) s"; grep "^|" "$B" | head -40 ;;
*) echo "usage: gpu_next.sh train MINUTES | bench | ablation STEPS | all SECONDS"; exit 2 ;;
esac
