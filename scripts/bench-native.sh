#!/usr/bin/env bash
# Runs cairn's native benches (release build, criterion) and prints their summary tables:
# end-to-end verification beside the bare primitives (with the ratios against the performance
# bar), signature backends, batched Ed25519, Merkle proofs, and ledger appends beside the
# blux-reg JSONL baseline. Figures are printed, never asserted. See docs/PERFORMANCE.md.
#
#   scripts/bench-native.sh              every bench, full length (about 45 minutes on 2 cores)
#   scripts/bench-native.sh --quick      shorter runs and smaller sizes (a first look)
#   scripts/bench-native.sh verify       only one bench (verify, ledger, store, service, peer,
#                                        revocation, handle)
#
# The whole output goes to target/bench-native.log; the tables are printed again at the end.
# Criterion's own reports and baselines are under target/criterion.
set -euo pipefail
cd "$(dirname "$0")/.."

benches=()
for arg in "$@"; do
  case "$arg" in
    --quick) export CAIRN_BENCH_QUICK=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "unknown option $arg" >&2; exit 2 ;;
    *) benches+=("$arg") ;;
  esac
done
[ ${#benches[@]} -gt 0 ] || benches=(verify ledger store service peer revocation handle)

log=target/bench-native.log
mkdir -p target
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
{
  echo "# cairn native benches"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- machine: $(nproc) CPUs, $cpu, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)"
  echo "- $(rustc --version)"
  echo "- load average at start (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
  echo "- mode: $([ -n "${CAIRN_BENCH_QUICK:-}" ] && echo quick || echo full)"
} | tee "$log"

cargo bench -p cairn --no-run 2>&1 | tail -n 1
for b in "${benches[@]}"; do
  printf '\n== cargo bench --bench %s\n' "$b"
  cargo bench -p cairn --bench "$b" 2>&1 | tee -a "$log"
done

echo "- load average at end (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)" | tee -a "$log"

printf '\n\n================ summary (also in %s) ================\n' "$log"
sed -n '1,/^- mode/p' "$log"
grep '^- load average at end' "$log"
# The harnesses print their tables as Markdown: headings and rows.
grep -E '^(###|\|)|^From [0-9]+ to' "$log" | sed 's/^###/\n###/'
