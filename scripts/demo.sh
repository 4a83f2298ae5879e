#!/usr/bin/env bash
# make demo: the pipeline on the tiny real model stories260K (Karpathy's tinyllamas).
# Today: import it from its GGUF and from its Hugging Face directory, show the model summary, and check that
# both imports hold identical tensors. Later issues extend this to calib → ternarize → distill → pack → gen.
set -euo pipefail
bin=${1:-.build/release}
models=${2:-../shared/models}
out=${3:-out/demo}
model=$models/stories260K

if [ ! -f "$model/stories260K-F32.gguf" ]; then
    cat >&2 <<MSG
demo: stories260K not found in $models.
Get it from Hugging Face (karpathy/tinyllamas, folder stories260K) and convert it with llama.cpp's
llama-convert-llama2c-to-ggml, or point TLLM_MODELS at a folder holding stories260K/ as laid out in
../shared/models (stories260K-F32.gguf and hf/).
MSG
    exit 1
fi

mkdir -p "$out"
echo "== import from GGUF and from the Hugging Face directory"
"$bin/tllm-convert" "$model/stories260K-F32.gguf" -o "$out/stories260K.gguf.tllm"
"$bin/tllm-convert" "$model/hf" -o "$out/stories260K.hf.tllm"
ls -l "$out"/*.tllm | awk '{print "   ", $5, "bytes", $NF}'

echo
echo "== model summary"
"$bin/tllm-convert" --inspect "$out/stories260K.hf.tllm" --verify

echo
echo "== are the two imports identical? (tensor checksums from the containers' SHA256SUMS)"
a=$(tar -xOf "$out/stories260K.gguf.tllm" SHA256SUMS | grep ' tensors/')
b=$(tar -xOf "$out/stories260K.hf.tllm" SHA256SUMS | grep ' tensors/')
if [ "$a" = "$b" ]; then
    echo "   yes: $(echo "$a" | wc -l) tensors with identical bytes"
else
    echo "   NO: the GGUF and HF imports differ" >&2
    diff <(echo "$a") <(echo "$b") >&2 || true
    exit 1
fi
