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
"$BIN/tllm-pack" --bench-models "${models[@]}" --threads "$THREADS" --bench-sizes "$SIZES" "$@" 2>&1 | tee "$DIR/tllm.txt"

# llama.cpp on the same model and machine, right after (llama-cpp-python; LLAMA_PYTHON names an interpreter
# that has it): the float model exported to GGUF and quantized by llama.cpp itself; then the ratios.
PY=${LLAMA_PYTHON:-python3}
if "$PY" -c "import llama_cpp" 2>/dev/null; then
  [ -f "$DIR/float.gguf" ] || "$BIN/tllm-convert" "$DIR/float-f16.tllm" -o "$DIR/float.gguf" -q
  IFS=, read -r pp tg reps <<< "$SIZES"
  "$PY" scripts/pack/bench-llamacpp.py "$DIR/float.gguf" "$THREADS" "$pp" "$tg" "$reps" 2>/dev/null | tee "$DIR/llamacpp.txt"
  python3 - "$DIR/tllm.txt" "$DIR/llamacpp.txt" <<'PY'
import re, sys
def rows(path, key):
    out = {}
    for line in open(path):
        m = re.search(r"pp\d+\s+([\d.]+).*tg\d+\s+([\d.]+)", line)
        if m: out[key(line)] = (float(m.group(1)), float(m.group(2)))
    return out
ours = rows(sys.argv[1], lambda l: l.split()[0])
theirs = rows(sys.argv[2], lambda l: re.match(r"llama\.cpp (.+?)\s+[\d.]+ MB", l).group(1))
pairs = [("t2-head-t2.tpk", "TQ2_0 all ternary"), ("t2-head-q8.tpk", "TQ2_0 default mix"), ("t1-head-t2.tpk", "TQ1_0 all ternary"),
         ("t1-head-t2.tpk", "TQ2_0 all ternary"), ("float-f16.tllm", "F16")]
for a, b in pairs:
    if a in ours and b in theirs:
        (p1, t1), (p2, t2) = ours[a], theirs[b]
        print(f"{a:16s} vs llama.cpp {b:18s}: decode {t1 / t2:.2f}x, prompt {p1 / p2:.2f}x")
PY
else
  echo "pack bench: llama-cpp-python is not importable by $PY (set LLAMA_PYTHON); llama.cpp's figures skipped" >&2
fi
