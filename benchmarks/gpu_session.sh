#!/usr/bin/env bash
# One bounded GPU session: CUDA checks, demo-checkpoint training (time-limited) + evaluation,
# generator benchmarks, default-config training throughput, and a short ablation.
# Every phase writes under $OUT as it finishes, so a timeout keeps what was done.
#   OUT=/tmp/gpu bash benchmarks/gpu_session.sh [TRAIN_MIN]
set -u
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
TRAIN_MIN=${1:-4}
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=/tmp/inductor
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
python -c "import torch;print(torch.__version__, torch.cuda.get_device_name())" >> "$OUT/gpu.txt" 2>&1

echo "== checks"; timeout 90 python -m benchmarks.gpu_checks > "$OUT/checks.txt" 2>&1; tail -3 "$OUT/checks.txt"

echo "== demo training ($TRAIN_MIN min)"
DEMO="--model.channels 16 --model.max_channels 128 --model.fusion_hidden 16 --model.style_channels 16 --model.fusion_style_dim 16 --model.style_dim 64"
timeout $(( TRAIN_MIN * 60 + 90 )) python -m training.train --data data/prepared/portraits --out "$OUT/demo" \
  --steps 100000 --batch_size 16 --time_limit_min "$TRAIN_MIN" --log_every 100 --sample_every 1000 --ckpt_every 2000 \
  --lambda_l1 1 --lr_g 2e-4 --modality_dropout 0.3 --keep_last 1 --export_dtype float16 $DEMO > "$OUT/demo_train.txt" 2>&1
tail -2 "$OUT/demo_train.txt"
timeout 60 python -m training.evaluate "$OUT/demo/export" --data data/prepared/portraits_val --out "$OUT/demo_eval" --pairs 48 > "$OUT/demo_eval.txt" 2>&1
rm -rf "$OUT/demo/tb"

echo "== generator benchmark"
timeout 100 python -m benchmarks.bench_generator --config demo --quick --no-write > "$OUT/bench_demo.md" 2>&1
timeout 90 python -m benchmarks.bench_generator --config default --quick --no-write > "$OUT/bench_default.md" 2>&1

echo "== default-config training throughput"
timeout 60 python -m training.train --data data/prepared/portraits --out /tmp/thr --steps 60 --batch_size 16 \
  --log_every 20 --sample_every 100000 --ckpt_every 100000 > "$OUT/throughput.txt" 2>&1
cp /tmp/thr/log.jsonl "$OUT/throughput_log.jsonl" 2>/dev/null
echo "== done"
