#!/usr/bin/env bash
# make demo: the whole pipeline on the tiny real model stories260K (Karpathy's tinyllamas, 260K parameters):
# convert (GGUF) → calib → ternarize (DLT, G = 64, activation-aware refit) → distill (OFF) → pack (t2) → gen, then
# a table of held-out perplexity, sizes, bits per weight, decode speed and greedy samples, printed and written as
# markdown to OUT/RESULTS.md (scripts/update-readme-results.sh splices it into README.md).
#
# Calibration and distillation see only the first 80% of the text (scripts/split-text.sh); perplexity is measured
# on the last 20%, which no step has seen.
#
# usage: scripts/demo.sh [BIN] [MODELS] [OUT] [TEXT]
#   env: DEMO_STEPS (end-to-end distillation steps of 4 sequences, after a block-wise warm start of a quarter as
#        many steps per block; default 1000: about a minute on 2 cores), DEMO_THREADS (default: all cores)
set -euo pipefail
bin=${1:-.build/release}
models=${2:-../shared/models}
out=${3:-out/demo}
text=${4:-$models/../data/tinystories/calib.txt}
steps=${DEMO_STEPS:-1000}
batch=4
threads=()
[ -n "${DEMO_THREADS:-}" ] && threads=(--threads "$DEMO_THREADS")
ctx=256
prompt="Once upon a time"
gguf=$models/stories260K/stories260K-F32.gguf

if [ ! -f "$gguf" ]; then
    cat >&2 <<MSG
demo: stories260K not found: $gguf does not exist.
The model is Andrej Karpathy's stories260K (MIT), on Hugging Face at karpathy/tinyllamas, folder stories260K:
  https://huggingface.co/karpathy/tinyllamas/tree/main/stories260K   (stories260K.bin and tok512.bin)
That is a llama2.c checkpoint; the GGUF the demo reads was made from it with llama.cpp's converter:
  llama-convert-llama2c-to-ggml --copy-vocab-from-model tok512.bin --llama2c-model stories260K.bin \\
      --llama2c-output-model stories260K-F32.gguf
(then set llama.context_length to 512 with gguf-py's gguf-set-metadata; the converter writes 128).
Put it at MODELS/stories260K/stories260K-F32.gguf and run \`make demo TLLM_MODELS=MODELS\`,
or put ../shared (models/ and data/) beside this checkout.
MSG
    exit 1
fi
if [ ! -f "$text" ]; then
    cat >&2 <<MSG
demo: calibration text not found: $text does not exist.
The demo uses TinyStories text (Hugging Face dataset roneneldan/TinyStories, split validation, CDLA-Sharing-1.0):
give any plain-text file of a few hundred kB of stories with \`make demo DEMO_TEXT=FILE\`.
MSG
    exit 1
fi
for t in tllm-convert tllm-calib tllm-ternarize tllm-distill tllm-pack tllm-gen; do
    [ -x "$bin/$t" ] || { echo "demo: $bin/$t not found (build first: make build)" >&2; exit 1; }
done

mkdir -p "$out"
t_start=$(date +%s.%N)
m=$out/stories260K
step() { echo; echo "== $*"; }
seconds() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# A number from the pretty-printed JSON our tools write: the first `"key": value` in the file.
jnum() { sed -n "s/^ *\"$2\": \([-0-9.eE+]*\),\{0,1\}\$/\1/p" "$1" | head -n 1; }

step "split $(basename "$text"): first 80% for calibration and distillation, last 20% held out for perplexity"
bash "$(dirname "$0")/split-text.sh" "$text" "$out/fit.txt" "$out/heldout.txt"
echo "   fit $(stat -c %s "$out/fit.txt") bytes, held out $(stat -c %s "$out/heldout.txt") bytes"

step "convert: GGUF → float container"
"$bin/tllm-convert" "$gguf" -o "$m.tllm"

step "calib: tokens, block outputs and input statistics of the float model on the fit text"
t0=$(date +%s.%N)
"$bin/tllm-calib" "$m.tllm" "$out/fit.txt" -o "$m.calib.tllm" --seq-len "$ctx" "${threads[@]}" -q
echo "   $m.calib.tllm: $(stat -c %s "$m.calib.tllm") bytes in $(seconds "$t0") s"

step "ternarize: DLT fit, groups of 64, activation-aware refit of α and γ"
"$bin/tllm-ternarize" "$m.tllm" -o "$m.t.tllm" --group 64 --calib "$m.calib.tllm" "${threads[@]}" --json -q > "$out/ternarize.json"
echo "   $m.t.tllm: mean relative weight error ‖W − Ŵ‖/‖W‖ over the linear layers" \
    "$(sed -n 's/^ *"weight_error": \([-0-9.eE+]*\),*$/\1/p' "$out/ternarize.json" | awk '{ s += $1 } END { printf "%.3f", s / NR }')"

step "distill: OFF (feature cosine + KD toward the float teacher), $((steps / 4)) steps per block alone, then $steps end to end"
"$bin/tllm-distill" --teacher "$m.tllm" --student "$m.t.tllm" --calib "$m.calib.tllm" -o "$m.off.tllm" \
    --steps "$steps" --batch "$batch" "${threads[@]}" --json > "$out/distill.json"

step "pack: 2-bit trits (t2) + f16 α, γ per group"
"$bin/tllm-pack" "$m.off.tllm" -o "$m.off.tpk" --json > "$out/pack.json"
"$bin/tllm-pack" "$m.t.tllm" -o "$m.t.tpk" --json -q > "$out/pack-fit.json"

step "gen: held-out perplexity (ctx $ctx), decode speed, greedy samples"
names=(float fit off packed)
files=("$m.tllm" "$m.t.tllm" "$m.off.tllm" "$m.off.tpk")
for i in "${!names[@]}"; do
    "$bin/tllm-gen" -m "${files[$i]}" --perplexity "$out/heldout.txt" --ctx "$ctx" "${threads[@]}" --json -q > "$out/${names[$i]}.ppl.json"
    "$bin/tllm-gen" -m "${files[$i]}" -p "$prompt" -n 40 --temp 0 "${threads[@]}" -q > "$out/${names[$i]}.sample.txt"
    printf '   %-6s PPL %.2f\n' "${names[$i]}" "$(jnum "$out/${names[$i]}.ppl.json" ppl)"
done
for n in float packed; do
    i=0; [ $n = packed ] && i=3
    "$bin/tllm-gen" -m "${files[$i]}" --bench -p 0 -n 128 -r 5 "${threads[@]}" --json -q > "$out/$n.bench.json"
done
total=$(seconds "$t_start")

# ---- the table -------------------------------------------------------------------------------------------------
params=$(jnum "$out/pack.json" parameters)
ppl() { printf '%.2f ± %.2f' "$(jnum "$out/$1.ppl.json" ppl)" "$(jnum "$out/$1.ppl.json" stderr)"; }
size() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.0f kB", b / 1000 }'; }
bpw() { awk -v b="$(stat -c %s "$1")" -v p="$params" 'BEGIN { printf "%.1f", 8 * b / p }'; }
tps() { printf '%.0f' "$(jnum "$out/$1.bench.json" tokens_per_second)"; }
sample() { printf '%s%s' "$prompt" "$(tr '\n' ' ' < "$out/$1.sample.txt" | sed 's/ *$//')"; }
lin=$(printf '%.2f' "$(jnum "$out/pack.json" linear_bits_per_weight)")
bench_threads=$(jnum "$out/packed.bench.json" threads)
dsteps=$(jnum "$out/distill.json" steps)
wsteps=$(jnum "$out/distill.json" blockwise_steps)
dsec=$(printf '%.0f' "$(jnum "$out/distill.json" seconds)")
dtps=$(printf '%.0f' "$(jnum "$out/distill.json" tokens_per_s)")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)

{
    echo "stories260K (260,032 parameters), perplexity at ctx $ctx on the held-out last 20% of TinyStories calib.txt"
    echo "($(stat -c %s "$out/heldout.txt") bytes; calibration and distillation used the first 80% only)."
    echo
    echo "| model | file | size | bits/weight (file) | held-out PPL | decode tok/s ($bench_threads threads) |"
    echo "|---|---|---|---|---|---|"
    echo "| float (f32) | \`stories260K.tllm\` | $(size "$m.tllm") | $(bpw "$m.tllm") | $(ppl float) | $(tps float) |"
    echo "| DLT fit (G = 64, refit) | \`stories260K.t.tllm\` | $(size "$m.t.tllm") | $(bpw "$m.t.tllm") ¹ | $(ppl fit) | |"
    echo "| DLT + OFF ($wsteps steps per block, then $dsteps) | \`stories260K.off.tllm\` | $(size "$m.off.tllm") | $(bpw "$m.off.tllm") ¹ | $(ppl off) | |"
    echo "| DLT + OFF, packed (t2) | \`stories260K.off.tpk\` | $(size "$m.off.tpk") | $(bpw "$m.off.tpk") (linear layers $lin) | $(ppl packed) | $(tps packed) |"
    echo
    echo "¹ a ternary container keeps the latent f32 weights for training besides the codes; the deployable file is the"
    echo "packed \`.tpk\`: $(awk -v b="$(jnum "$out/pack.json" tensor_bytes)" 'BEGIN { printf "%.0f kB", b / 1000 }') of tensors (linear layers $lin bits/weight, embedding f16), the rest is the manifest, tokenizer,"
    echo "checksums and tar padding, which weigh as much as the weights only in a model this small."
    echo "Decode speed: at this size the whole f32 model stays in the CPU caches, so decoding is not limited by memory"
    echo "bandwidth (the packed model reaches $(awk -v f="$(jnum "$out/packed.bench.json" fraction)" 'BEGIN { printf "%.0f", 100 * f }')% of its bandwidth bound) and reading fewer bytes does not make it"
    echo "faster; the packed format is for models whose weights do not fit in the caches."
    echo "Distillation: a block-wise warm start ($wsteps steps per block), then $dsteps end-to-end steps of $batch × $ctx tokens; $dsec s in all ($dtps tokens/s end to end)."
    echo
    echo "Greedy samples (temperature 0, 40 tokens):"
    echo
    echo "- float: $(sample float)"
    echo "- DLT fit: $(sample fit)"
    echo "- DLT + OFF: $(sample off)"
    echo "- DLT + OFF, packed: $(sample packed)"
    echo
    echo "Measured by \`make demo\` on ${cpu:-this machine}, $(nproc) cores: the pipeline took ${total%.*} s after the build."
} > "$out/RESULTS.md"

echo
echo "== results (also in $out/RESULTS.md; scripts/update-readme-results.sh copies them into README.md)"
echo
cat "$out/RESULTS.md"
