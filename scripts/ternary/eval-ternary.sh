#!/usr/bin/env bash
# Issue 5's table with the built tools: stories260K perplexity at ctx 256 on the last 20% of calib.txt for float,
# absmean, twn, dlt and dlt + activation-aware refit, each at G = 64 and per row; fitting and calibration use
# the first 80% only (cut at the first blank line at or after 80% of the bytes). The in-process twin of this
# script is Tests/TLLMCoreTests/Ternary/TernaryEvalTable.swift (same split, same numbers, plus paired deltas).
#
# usage: scripts/ternary/eval-ternary.sh [WORKDIR]     (env: BIN=.build/release SHARED=../shared CTX=256)
# needs: swift build -c release; tllm-gen running ternary containers (openModel → TernarySource).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/.build/release}
SHARED=${SHARED:-$ROOT/../shared}
CTX=${CTX:-256}
MODEL=$SHARED/models/stories260K/hf
TEXT=$SHARED/data/tinystories/calib.txt
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/tllm-eval-ternary.XXXXXX")}
mkdir -p "$WORK"
for t in tllm-convert tllm-calib tllm-ternarize tllm-gen; do
    [ -x "$BIN/$t" ] || { echo "eval-ternary: $BIN/$t not found (swift build -c release, or set BIN)" >&2; exit 1; }
done
[ -f "$TEXT" ] || { echo "eval-ternary: $TEXT not found (set SHARED)" >&2; exit 1; }

# 80/20 split: the smallest i >= cut with bytes i, i+1 both '\n'; the fit part ends after them.
size=$(stat -c %s "$TEXT")
cut=$((size * 8 / 10))
off=$(tail -c +$((cut + 1)) "$TEXT" | grep -b -x '' | awk -F: '$1 >= 1 { print $1; exit }')
head -c $((cut + off + 1)) "$TEXT" > "$WORK/fit.txt"
tail -c +$((cut + off + 2)) "$TEXT" > "$WORK/eval.txt"
echo "eval-ternary: fit on $(stat -c %s "$WORK/fit.txt") bytes, evaluate on $(stat -c %s "$WORK/eval.txt") bytes; work in $WORK" >&2

"$BIN/tllm-convert" "$MODEL" -o "$WORK/float.tllm" -q
"$BIN/tllm-calib" "$WORK/float.tllm" "$WORK/fit.txt" -o "$WORK/calib.tllm" --seq-len "$CTX" --layers none -q

ppl() {  # prints "x +/- y"
    "$BIN/tllm-gen" -m "$1" --perplexity "$WORK/eval.txt" --ctx "$CTX" -q | sed -n 's/^PPL = //p'
}

printf '| method | G | PPL (ctx %s) |\n|---|---|---|\n' "$CTX"
p=$(ppl "$WORK/float.tllm")
printf '| float | - | %s |\n' "$p"
for g in 64 row; do
    for m in absmean twn dlt dlt+refit; do
        init=${m%+refit}
        extra=()
        [ "$m" = "dlt+refit" ] && extra=(--calib "$WORK/calib.tllm")
        out="$WORK/$m-G$g.tllm"
        "$BIN/tllm-ternarize" "$WORK/float.tllm" -o "$out" --group "$g" --init "$init" "${extra[@]}" -q
        p=$(ppl "$out")  # fails (and stops the script) if tllm-gen cannot run ternary containers yet
        printf '| %s | %s | %s |\n' "$m" "$g" "$p"
    done
done
