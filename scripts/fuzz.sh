#!/usr/bin/env bash
# make fuzz: libFuzzer over each parser of untrusted files for $1 seconds (default 60), seeded with small valid
# files. Crashes land in Fuzz/crash-* (SWIFT_BACKTRACE off, or libFuzzer writes no artifact).
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/../Fuzz"
swift build --sanitize=fuzzer -c release 2>&1 | tail -n 3
bin=$(swift build --sanitize=fuzzer -c release --show-bin-path)
export SWIFT_BACKTRACE=enable=no
shared=${TLLM_SHARED:-$(cd ../.. && pwd)/shared}
[ -d "$shared/models" ] || echo "fuzz: $shared not found; fuzzing without seed files" >&2
for t in GGUF Safetensors Container; do
    corpus=corpus-$t
    mkdir -p "$corpus"
    case $t in
        GGUF) [ -d "$shared/models/quant-zoo" ] && for f in "$shared"/models/quant-zoo/zoo-Q4_0.gguf "$shared"/models/quant-zoo/zoo-TQ1_0.gguf; do head -c 300000 "$f" > "$corpus/seed-$(basename "$f")"; done ;;
        Safetensors) [ -d "$shared/models/stories260K" ] && head -c 100000 "$shared/models/stories260K/hf/model.safetensors" > "$corpus/seed.safetensors" ;;
        Container) [ -x ../.build/release/tllm-convert ] && [ -d "$shared/models/stories260K" ] && ../.build/release/tllm-convert -q "$shared/models/stories260K/hf" -o "$corpus/seed.tllm" || true ;;
    esac
    echo "== Fuzz$t for ${seconds}s"
    "$bin/Fuzz$t" -max_total_time="$seconds" -max_len=400000 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" 2>&1 \
        | grep -E "^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|.*crash-)" || true
done
crashes=$(ls crash-* leak-* timeout-* oom-* 2>/dev/null | wc -l)
echo "fuzz: $crashes crash/leak/timeout/oom artifacts in Fuzz/"
[ "$crashes" -eq 0 ]
