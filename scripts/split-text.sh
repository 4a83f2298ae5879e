#!/usr/bin/env bash
# Splits a text file into a fit part and a held-out part that never overlap: the fit part is the first PERCENT
# (default 80) of the bytes, extended to the end of the next blank line so no paragraph is cut; the held-out part
# is the rest. The same cut as scripts/ternary/eval-ternary.sh, so their numbers compare.
#
# usage: scripts/split-text.sh TEXT FIT EVAL [PERCENT]
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 TEXT FIT EVAL [PERCENT]" >&2; exit 2; }
text=$1 fit=$2 eval=$3 percent=${4:-80}
[ -f "$text" ] || { echo "split-text: $text: no such file" >&2; exit 1; }

size=$(stat -c %s "$text")
cut=$((size * percent / 100))
# Offset (from the cut) of the first empty line after the cut, i.e. of the second '\n' of a blank line; a plain
# line end if the rest has no blank line.
off=$(tail -c +$((cut + 1)) "$text" | grep -b -x '' | awk -F: '$1 >= 1 { print $1; exit }' || true)
if [ -z "$off" ]; then
    off=$(($(tail -c +$((cut + 1)) "$text" | head -n 1 | wc -c) - 1))
fi
[ $((cut + off + 1)) -lt "$size" ] || { echo "split-text: $text: no line end after $percent% of the bytes" >&2; exit 1; }
head -c $((cut + off + 1)) "$text" > "$fit.tmp" && mv "$fit.tmp" "$fit"
tail -c +$((cut + off + 2)) "$text" > "$eval.tmp" && mv "$eval.tmp" "$eval"
