#!/usr/bin/env bash
# make bench (tokenizer part): encoding speed of the stories260K tokenizer on calib.txt, in MB/s, through
# `tllm-gen --tokenize` on the file repeated 20 times (~8 MB, so model loading is negligible), best of 3.
set -euo pipefail
bin=${1:-.build/release}
shared=${2:-../shared}
dir=${3:-bench-data}
calib=$shared/data/tinystories/calib.txt
model=$shared/models/stories260K/stories260K-F32.gguf
if [ ! -f "$calib" ] || [ ! -f "$model" ]; then echo "bench-tokenizer: $shared not found, skipped" >&2; exit 0; fi
mkdir -p "$dir"
for i in $(seq 20); do cat "$calib"; done > "$dir/calib20.txt"
python3 - "$bin/tllm-gen" "$model" "$dir/calib20.txt" <<'PY'
import os, subprocess, sys, time
tool, model, text = sys.argv[1:]
size = os.path.getsize(text)
best = 1e9
for _ in range(3):
    t = time.perf_counter()
    out = subprocess.run([tool, "-m", model, "--tokenize", "-f", text], check=True, capture_output=True).stdout
    best = min(best, time.perf_counter() - t)
n = len(out.split())
print(f"tokenizer (stories260K, SentencePiece BPE): {size/1e6:.1f} MB -> {n} ids in {best:.2f} s = {size/best/1e6:.1f} MB/s (whole tool run, best of 3)")
PY
