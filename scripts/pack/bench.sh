#!/usr/bin/env bash
# Issue-7 benchmark: the synthetic 0.5 B-shape model (dim 2048, FFN 5632, 8 layers, 32/4 heads, vocab 32000)
# as f16 float, t2 and t1, each with the head in f16, q8 and t2; decode tg128 and prompt pp512 tokens/s on
# $THREADS threads, bytes per token, and the fraction of the memory-bandwidth bound (bandwidth measured in the
# same run). Models are generated under $BENCH_DIR (never committed; ~6 GB). Usage: scripts/pack/bench.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${BENCH_DIR:-/tmp/tllm-bench}
THREADS=${THREADS:-2}
SIZES=${SIZES:-512,128,3}
BIN=${BIN:-.build-pack/release}
[ -x "$BIN/tllm-pack" ] || swift build -c release --scratch-path .build-pack
mkdir -p "$DIR"
[ -f "$DIR/hf/model.safetensors" ] || python3 scripts/make-synthetic-model.py "$DIR/hf" --dtype F16
[ -f "$DIR/float-f16.tllm" ] || "$BIN/tllm-convert" "$DIR/hf" -o "$DIR/float-f16.tllm" --dtype f16 -q
# Random codes written directly (fitting 0.5 B random weights would only cost time); the head ternarized too.
[ -f "$DIR/model.t.tllm" ] || "$BIN/tllm-pack" "$DIR/float-f16.tllm" -o "$DIR/model.t.tllm" --make-synthetic --ternary-head
models=("$DIR/float-f16.tllm")
for layout in t2 t1; do
  for head in f16 q8 t2; do
    out="$DIR/$layout-head-$head.tpk"
    [ -f "$out" ] || "$BIN/tllm-pack" "$DIR/model.t.tllm" -o "$out" --layout "$layout" --head "$head" -q
    models+=("$out")
  done
done
ls -l "${models[@]}"
"$BIN/tllm-pack" --bench-models "${models[@]}" --threads "$THREADS" --bench-sizes "$SIZES" "$@"
