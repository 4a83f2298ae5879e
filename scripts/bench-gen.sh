#!/usr/bin/env bash
# make bench (inference part): tllm-gen --bench on the synthetic ~0.5 B model (dim 2048, FFN 5632, 8 layers,
# 32/4 heads, vocab 32000; generated here, never committed), 2 threads, weights stored f32 and f16: pp512 and
# tg128 tokens/s, and generation as a fraction of the memory-bandwidth bound measured in the same run.
set -euo pipefail
bin=${1:-.build/release}
dir=${2:-bench-data}
model=$dir/synthetic-0.5b
[ -f "$model/model.safetensors" ] || python3 scripts/make-synthetic-model.py "$model" >&2
for dtype in f32 f16; do
    echo "== weights stored as $dtype"
    "$bin/tllm-gen" -m "$model" --bench -p 512 -n 128 -r 3 --threads 2 --dtype $dtype 2>&1 | grep -v "loaded"
done
