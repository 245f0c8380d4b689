#!/usr/bin/env bash
# Runs cairn's fuzz targets (fuzz/, cargo-fuzz + libFuzzer): installs what is missing (a
# dated nightly toolchain, cargo-fuzz), builds, seeds the corpora from tests/vectors, replays the
# recorded regressions, then fuzzes each target for a fixed time. Fails if any target finds
# a crash, a hang or an out-of-memory input, and says where the input is and how to reproduce
# it. docs/FUZZING.md has the details (long runs, minimising, corpora).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to $FUZZ_SECONDS, else 30 (0: build, seed and replay only).
# Targets default to all of them.
# Environment:
#   FUZZ_SECONDS    seconds per target when no argument gives it (default 30)
#   FUZZ_JOBS       targets fuzzed at the same time (default 1)
#   FUZZ_SANITIZER  none (default; cairn-core forbids unsafe code) or address, leak, memory
#   FUZZ_TIMEOUT    seconds one input may run before it counts as a hang (default 10)
#   FUZZ_RSS_MB     memory limit per target process in MB (default 2048)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-30}
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
jobs=${FUZZ_JOBS:-1}
sanitizer=${FUZZ_SANITIZER:-none}
timeout_s=${FUZZ_TIMEOUT:-10}
rss_mb=${FUZZ_RSS_MB:-2048}
triple=$(rustc -vV | sed -n 's/^host: //p')

all_targets=(bundle checkpoint dsse token trust manifest blux merkle ledger export nodespec tiles http witness handle)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_targets/$t.rs" ] || { echo "error: no fuzz target '$t' (have: ${all_targets[*]})" >&2; exit 2; }
done

step() { printf '\n== fuzz: %s\n' "$*"; }

# cargo-fuzz needs -Z flags: the dated nightly of scripts/nightly.sh.
source scripts/nightly.sh # (the working directory is the repository by now)
ensure_nightly
if ! cargo fuzz --version >/dev/null 2>&1; then
  step "installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi

export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
fuzz() { (cd fuzz && cargo "+$CAIRN_NIGHTLY" fuzz "$@"); }
bin_dir="fuzz/target/$triple/release"

step "building (sanitizer: $sanitizer)"
start=$(date +%s)
fuzz build -s "$sanitizer"
echo "built in $(($(date +%s) - start)) s"

step "seeding corpora from tests/vectors"
"$bin_dir/gen-corpus" fuzz/corpus

failed=()
report() { # target, input file, what happened
  local t=$1 input=$2 what=$3
  failed+=("$t")
  cat >&2 <<EOF

!! fuzz target '$t': $what
   input:     $input
   reproduce: (cd fuzz && cargo +$CAIRN_NIGHTLY fuzz run -s $sanitizer $t ${input#fuzz/})
              or: $bin_dir/$t $input
   minimise:  (cd fuzz && cargo +$CAIRN_NIGHTLY fuzz tmin -s $sanitizer $t ${input#fuzz/})
   keep it:   copy it to fuzz/regressions/$t/ (scripts/fuzz.sh replays those)
EOF
}

mkdir -p fuzz/artifacts
# The recorded regressions, and what an earlier run found and left in fuzz/artifacts (a run
# on the same tree must not turn green while a known failing input sits there unfixed).
step "replaying fuzz/regressions and earlier findings"
for t in "${targets[@]}"; do
  dir=fuzz/regressions/$t
  for f in "$dir"/* fuzz/artifacts/"$t"/crash-* fuzz/artifacts/"$t"/timeout-* \
           fuzz/artifacts/"$t"/oom-* fuzz/artifacts/"$t"/leak-*; do
    [ -f "$f" ] || continue
    case $f in *.md) continue ;; esac
    if ! "$bin_dir/$t" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" "$f" >"fuzz/artifacts/replay.log" 2>&1; then
      tail -n 30 fuzz/artifacts/replay.log >&2
      report "$t" "$f" "a recorded regression fails again"
    fi
  done
done

run_one() { # target; writes fuzz/artifacts/<target>.log and libFuzzer's exit status
  local t=$1 rc=0
  mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
  # -len_control=0: mutate seeds at full length from the start; bundles, trust roots and
  # ML-DSA tokens are 2-30 KB, and libFuzzer's default growing limit would cut them to 4 KB.
  "$bin_dir/$t" "fuzz/corpus/$t" \
    -artifact_prefix="fuzz/artifacts/$t/" \
    -max_total_time="$seconds" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" \
    -len_control=0 -print_final_stats=1 >"fuzz/artifacts/$t.log" 2>&1 || rc=$?
  echo "$rc" >"fuzz/artifacts/$t.status"
}

if [ "$seconds" -eq 0 ]; then
  [ ${#failed[@]} -eq 0 ] || { echo "fuzzing failed: ${failed[*]}" >&2; exit 1; }
  echo "fuzzing: 0 s per target, built, seeded and replayed only"
  exit 0
fi

step "fuzzing ${targets[*]} for ${seconds}s each, $jobs at a time"
stamp=$(mktemp)
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  echo "-- $t"
  rm -f "fuzz/artifacts/$t.status"
  run_one "$t" &
done
wait
declare -A status=()
for t in "${targets[@]}"; do
  status[$t]=$(cat "fuzz/artifacts/$t.status" 2>/dev/null || echo 255)
done

for t in "${targets[@]}"; do
  log=fuzz/artifacts/$t.log
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
  new=$(find "fuzz/artifacts/$t" -type f -newer "$stamp" 2>/dev/null | sort)
  if [ "${status[$t]}" -eq 0 ] && [ -z "$new" ]; then
    printf '%-11s ok   %8s runs  %s\n' "$t" "${runs:-?}" "$cov"
    continue
  fi
  printf '%-11s FAIL (libFuzzer exit %s)\n' "$t" "${status[$t]}"
  grep -v '^#\|^INFO\|^WARNING' "$log" | head -n 40 >&2 || true
  if [ -z "$new" ]; then
    report "$t" "$log" "libFuzzer failed without writing an input (see the log)"
  fi
  for f in $new; do
    case $(basename "$f") in
      crash-*) what="crash (panic or abort)" ;;
      timeout-*) what="hang (an input ran over ${timeout_s}s)" ;;
      oom-*) what="out of memory (over ${rss_mb} MB)" ;;
      leak-*) what="memory leak" ;;
      *) what="failure" ;;
    esac
    report "$t" "$f" "$what"
  done
done
rm -f "$stamp"

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzzing: no crashes in ${targets[*]}"
