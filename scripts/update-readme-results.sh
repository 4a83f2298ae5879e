#!/usr/bin/env bash
# Copies the results table that `make demo` measured (out/demo/RESULTS.md) into README.md, between the lines
# <!-- demo-results:begin --> and <!-- demo-results:end -->, so the README's numbers are never typed by hand.
#
# usage: scripts/update-readme-results.sh [RESULTS.md] [README.md]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
results=${1:-$root/out/demo/RESULTS.md}
readme=${2:-$root/README.md}
begin='<!-- demo-results:begin -->'
end='<!-- demo-results:end -->'

[ -f "$results" ] || { echo "update-readme-results: $results: no such file (run make demo first)" >&2; exit 1; }
nb=$(grep -cxF "$begin" "$readme" || true)
ne=$(grep -cxF "$end" "$readme" || true)
if [ "$nb" != 1 ] || [ "$ne" != 1 ] || [ "$(grep -nxF "$begin" "$readme" | cut -d: -f1)" -gt "$(grep -nxF "$end" "$readme" | cut -d: -f1)" ]; then
    echo "update-readme-results: $readme: needs one line '$begin' followed by one line '$end'" >&2
    exit 1
fi

tmp=$(mktemp "$readme.XXXXXX")
trap 'rm -f "$tmp"' EXIT
awk -v begin="$begin" -v end="$end" -v results="$results" '
    $0 == begin { print; while ((getline line < results) > 0) print line; skip = 1; next }
    $0 == end   { skip = 0 }
    !skip       { print }
' "$readme" > "$tmp"
chmod --reference="$readme" "$tmp"
mv "$tmp" "$readme"
trap - EXIT
echo "update-readme-results: $readme: results from $results"
