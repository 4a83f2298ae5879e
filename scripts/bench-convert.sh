#!/usr/bin/env bash
# make bench (conversion part): convert a synthetic ~2 GB safetensors model (generated here, never committed)
# to a container and back, and report throughput as a ratio to `cp` of the same file, measured in the same run,
# and peak RSS against the target (at most twice the largest tensor plus 300 MB).
set -euo pipefail
bin=${1:-.build/release}
dir=${2:-bench-data}
model=$dir/synthetic-0.5b
mkdir -p "$dir"
if [ ! -f "$model/model.safetensors" ]; then
    python3 scripts/make-synthetic-model.py "$model" >&2
fi
bytes=$(stat -c %s "$model/model.safetensors")
largest=$((32000 * 2048 * 4))

# Runs a command, prints "seconds peak_rss_bytes".
measure() {
    python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
dt = time.perf_counter() - t
print(f"{dt:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}")
PY
}

sync
read -r t_cp _ < <(measure cp "$model/model.safetensors" "$dir/copy.safetensors")
rm -f "$dir/copy.safetensors"; sync
read -r t_in rss_in < <(measure "$bin/tllm-convert" -q "$model" -o "$dir/synthetic.tllm")
read -r t_out rss_out < <(measure "$bin/tllm-convert" -q "$dir/synthetic.tllm" -o "$dir/roundtrip.safetensors")
read -r t_gguf rss_gguf < <(measure "$bin/tllm-convert" -q "$dir/synthetic.tllm" -o "$dir/synthetic.gguf")
if cmp -s "$model/model.safetensors" "$dir/roundtrip.safetensors"; then same="byte-identical to the input"; else same="DIFFERENT from the input"; fi
target=$((2 * largest + 300 * 1000 * 1000))
python3 - "$bytes" "$t_cp" "$t_in" "$rss_in" "$t_out" "$rss_out" "$t_gguf" "$rss_gguf" "$target" <<'PY'
import sys
b, tcp, tin, rin, tout, rout, tg, rg, target = map(float, sys.argv[1:])
print(f"model: {b/1e9:.2f} GB safetensors (F32); cp: {tcp:.2f} s = {b/tcp/1e9:.2f} GB/s")
for name, t, r in [("safetensors -> container", tin, rin), ("container -> safetensors", tout, rout),
                   ("container -> gguf", tg, rg)]:
    print(f"{name:26s} {t:6.2f} s  {b/t/1e9:5.2f} GB/s  {tcp/t:5.2f}x cp speed  peak RSS {r/1e6:6.0f} MB"
          f"  ({'within' if r <= target else 'OVER'} target {target/1e6:.0f} MB)")
PY
echo "round trip safetensors -> container -> safetensors: $same"
rm -f "$dir/roundtrip.safetensors" "$dir/synthetic.gguf"
