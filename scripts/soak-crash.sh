#!/usr/bin/env bash
# Crash soak: runs the store's kill-and-recover test with many more kills than the test suite
# (default 1000), in release mode. Usage: scripts/soak-crash.sh [kills] [seed]
# After every SIGKILL of the writing child the registry must open, pass the full audit and hold
# every acknowledged write; the seed printed at the start replays a failing run.
set -euo pipefail
cd "$(dirname "$0")/.."
kills="${1:-1000}"
seed="${2:-$(date +%s%N)}"
echo "crash soak: $kills kills, seed $seed"
CAIRN_CRASH_KILLS="$kills" CAIRN_CRASH_SEED="$seed" \
  cargo test --release -p cairn-store --test store -- --nocapture --test-threads=1 crash::crash_kill_loop
