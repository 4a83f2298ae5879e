#!/usr/bin/env bash
# Issue-7 benchmark: the synthetic 0.5 B-shape model (dim 2048, FFN 5632, 8 layers, 32/4 heads, vocab 32000)
# as f16 float, t2 and t1, each with the head in f16, q8, q4 and t2 (groups of 128), and t2 with groups of 256 (head t2
# and q4); decode tg128 and prompt pp512 tokens/s on
# $THREADS threads, bytes per token, and the fraction of the memory-bandwidth bound (bandwidth measured in the
# same run); llama.cpp alternating with it, round by round. Models are generated under $BENCH_DIR (never committed;
# ~6 GB). Usage: [ROUNDS=3 SIZES=512,128 LLAMA_PYTHON=python3 NO_MMAP=0] scripts/pack/bench.sh
# NO_MMAP=1 reads every model into memory instead of mapping it, on both sides (tllm --no-mmap: 2 MiB pages where
# the kernel allows; llama.cpp use_mmap=False).
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${BENCH_DIR:-/tmp/tllm-bench}
THREADS=${THREADS:-2}
SIZES=${SIZES:-512,128}
BIN=${BIN:-.build-pack/release}
[ -x "$BIN/tllm-pack" ] || swift build -c release --scratch-path .build-pack
mkdir -p "$DIR"
[ -f "$DIR/hf/model.safetensors" ] || python3 scripts/make-synthetic-model.py "$DIR/hf" --dtype F16
[ -f "$DIR/float-f16.tllm" ] || "$BIN/tllm-convert" "$DIR/hf" -o "$DIR/float-f16.tllm" --dtype f16 -q
# Random codes written directly (fitting 0.5 B random weights would only cost time); the head ternarized too.
[ -f "$DIR/model.t.tllm" ] || "$BIN/tllm-pack" "$DIR/float-f16.tllm" -o "$DIR/model.t.tllm" --make-synthetic --ternary-head
models=("$DIR/float-f16.tllm")
for layout in t2 t1; do
  for head in f16 q8 q4 t2; do
    out="$DIR/$layout-head-$head.tpk"
    [ -f "$out" ] || "$BIN/tllm-pack" "$DIR/model.t.tllm" -o "$out" --layout "$layout" --head "$head" -q
    models+=("$out")
  done
done
# The same model with groups of 256, TQ2_0's block size (one f16 α and γ per 256 weights: 2.125 bits per weight,
# TQ2_0 2.0625), t2 with the head in t2 and in q4.
[ -f "$DIR/model-g256.t.tllm" ] || "$BIN/tllm-pack" "$DIR/float-f16.tllm" -o "$DIR/model-g256.t.tllm" --make-synthetic --ternary-head --synthetic-group 256
for head in t2 q4; do
  out="$DIR/t2-g256-head-$head.tpk"
  [ -f "$out" ] || "$BIN/tllm-pack" "$DIR/model-g256.t.tllm" -o "$out" --layout t2 --head "$head" -q
  models+=("$out")
done
ls -l "${models[@]}"
# llama.cpp on the same model and machine (llama-cpp-python; LLAMA_PYTHON names an interpreter that has it): the
# float model exported to GGUF and quantized by llama.cpp itself. The machine is shared and its speed drifts for
# minutes at a time, so the two run in alternating rounds ($ROUNDS, one repetition each of $SIZES's sizes) and
# the ratios are taken round by round: the median ratio and its range are what to read.
ROUNDS=${ROUNDS:-3}
NO_MMAP=${NO_MMAP:-0}
mmap_flag=(); [ "$NO_MMAP" = 1 ] && mmap_flag=(--no-mmap)
IFS=, read -r pp tg _ <<< "$SIZES"
PY=${LLAMA_PYTHON:-python3}
llama=0
if "$PY" -c "import llama_cpp" 2>/dev/null; then
  llama=1
  [ -f "$DIR/float.gguf" ] || "$BIN/tllm-convert" "$DIR/float-f16.tllm" -o "$DIR/float.gguf" -q
else
  echo "pack bench: llama-cpp-python is not importable by $PY (set LLAMA_PYTHON); llama.cpp's figures skipped" >&2
fi
: > "$DIR/tllm.txt"; : > "$DIR/llamacpp.txt"
for r in $(seq "$ROUNDS"); do
  echo "round $r of $ROUNDS" >&2
  "$BIN/tllm-pack" --bench-models "${models[@]}" --threads "$THREADS" --bench-sizes "$pp,$tg,1" "${mmap_flag[@]}" "$@" 2>&1 | sed "s/^/$r /" >> "$DIR/tllm.txt"
  [ "$llama" = 0 ] || "$PY" scripts/pack/bench-llamacpp.py "$DIR/float.gguf" "$THREADS" "$pp" "$tg" 1 "$NO_MMAP" 2>/dev/null | sed "s/^/$r /" >> "$DIR/llamacpp.txt"
done
python3 - "$DIR/tllm.txt" "$DIR/llamacpp.txt" "$pp" "$tg" <<'PY'
import re, statistics, sys
from collections import defaultdict
pp, tg = sys.argv[3], sys.argv[4]
ours, theirs, bound, bw = defaultdict(dict), defaultdict(dict), defaultdict(list), []
for line in open(sys.argv[1]):
    r, rest = line.split(" ", 1)
    m = re.search(r"^(\S+) (.+?)\s+([\d.]+) MB/token\s+pp\d+\s+([\d.]+).*tg\d+\s+([\d.]+).*?([\d.]+)% of bound", rest)
    if m:
        ours[m.group(1)][r] = (float(m.group(4)), float(m.group(5)), m.group(2), float(m.group(3)))
        bound[m.group(1)].append(float(m.group(6)))
    m = re.search(r"bandwidth ([\d.]+) GB/s", rest)
    if m: bw.append(float(m.group(1)))
for line in open(sys.argv[2]):
    r, rest = line.split(" ", 1)
    m = re.search(r"llama\.cpp (.+?)\s+([\d.]+) MB file\s+pp\d+\s+([\d.]+).*tg\d+\s+([\d.]+)", rest)
    if m: theirs[m.group(1)][r] = (float(m.group(3)), float(m.group(4)))
med = statistics.median
print(f"medians over {len(bw)} rounds; read bandwidth {med(bw):.1f} GB/s (range {min(bw):.1f}-{max(bw):.1f})")
for k, v in ours.items():
    p, t, what, mb = [x for x in zip(*v.values())]
    print(f"{k:20s} {what[0]:14s} {mb[0]:6.1f} MB/token  pp{pp} {med(p):6.1f}  tg{tg} {med(t):6.1f} t/s  {med(bound[k]):5.1f}% of bound")
for k, v in theirs.items():
    p, t = zip(*v.values())
    print(f"llama.cpp {k:18s}              pp{pp} {med(p):6.1f}  tg{tg} {med(t):6.1f} t/s")
pairs = [("t2-head-t2.tpk", "TQ2_0 all ternary"), ("t2-head-q8.tpk", "TQ2_0 default mix"), ("t2-head-q4.tpk", "TQ2_0 default mix"), ("t1-head-t2.tpk", "TQ1_0 all ternary"),
         ("t2-g256-head-t2.tpk", "TQ2_0 all ternary"), ("t2-g256-head-q4.tpk", "TQ2_0 default mix"),
         ("t1-head-t2.tpk", "t2-head-t2.tpk"), ("t1-head-q8.tpk", "t2-head-q8.tpk"), ("t2-head-q4.tpk", "t2-head-q8.tpk"),
         ("t1-head-q4.tpk", "t1-head-q8.tpk"), ("float-f16.tllm", "F16")]
for a, b in pairs:
    other = theirs.get(b) or ours.get(b)
    if a not in ours or not other: continue
    rounds = sorted(set(ours[a]) & set(other))
    d = [ours[a][r][1] / other[r][1] for r in rounds]
    q = [ours[a][r][0] / other[r][0] for r in rounds]
    print(f"{a:20s} vs {('llama.cpp ' if b in theirs else '') + b:28s}: decode {med(d):.2f}x ({min(d):.2f}-{max(d):.2f}), "
          f"prompt {med(q):.2f}x ({min(q):.2f}-{max(q):.2f}) over {len(rounds)} rounds")
PY
