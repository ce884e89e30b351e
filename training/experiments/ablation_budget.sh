# The budget every 64² CPU ablation row shares (sourced by recipe_ablation.sh and
# consistency_ablation.sh), so rows of different scripts are compared at the same seed, steps,
# batch, optimiser and model size. Needs STEPS set; defines SMALL, COMMON and KEPT.
SMALL="--model.channels 8 --model.max_channels 64 --model.num_scales 4 --model.style_dim 32 --model.style_channels 8
  --model.fusion_style_dim 8 --model.fusion_hidden 8 --model.disc_channels 16 --model.disc_layers 3"
COMMON="--steps $STEPS --batch_size 8 --seed 0 --lr_g 2e-4 --lr_d 4e-4 --lambda_l1 1 --ema_decay 0.99
  --log_every 50 --sample_every $STEPS --ckpt_every 100 --keep_last 10 --num_workers 1 $SMALL"
# training/configs/demo.yaml's recipe beside the random VGG: D augmentation and crisp line maps.
KEPT="--d_augment translation,cutout,color --zoom_p 0.5 --crisp_lines true"
