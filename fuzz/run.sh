#!/usr/bin/env bash
# Runs dyad's fuzz targets: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Installs cargo-fuzz if missing, builds every target once, writes the seed corpora from
# the vectors (examples/seeds.rs), replays fuzz/regressions/<target>/ (inputs that once
# crashed), then fuzzes each target (all of fuzz_targets/, or those named) for
# SECONDS_PER_TARGET seconds (default 30). Prints per target the executions, executions per
# second and whether it crashed; exits 1 if any target crashed or any regression input
# still crashes (2 on a usage or setup error). Crashing inputs land in
# fuzz/artifacts/<target>/.
#
# Needs only the stable toolchain: by default the targets are built without a sanitizer
# (`cargo fuzz run -s none`). DYAD_FUZZ_ASAN=1 builds them with AddressSanitizer instead
# (`RUSTC_BOOTSTRAP=1 cargo fuzz run`, into target/asan so the two builds do not evict
# each other). Other environment: DYAD_FUZZ_JOBS (cargo build jobs).
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-30}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]   (seconds: a positive integer)" >&2
  exit 2
fi
shift $(($# > 0 ? 1 : 0))

if [ ! -d ../../shared/vectors ]; then
  echo "error: ../shared/vectors (Go x/mod reference vectors) is missing beside the checkout" >&2
  exit 2
fi

all_targets=()
for f in fuzz_targets/*.rs; do
  all_targets+=("$(basename "$f" .rs)")
done
if [ $# -gt 0 ]; then
  targets=("$@")
  for t in "${targets[@]}"; do
    if [ ! -f "fuzz_targets/$t.rs" ]; then
      echo "error: no fuzz target '$t' (have: ${all_targets[*]})" >&2
      exit 2
    fi
  done
else
  targets=("${all_targets[@]}")
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

fuzz_args=(-s none)
env_prefix=()
bin_dir=target/x86_64-unknown-linux-gnu/release
if [ "${DYAD_FUZZ_ASAN:-0}" = 1 ]; then
  fuzz_args=(-s address --target-dir target/asan)
  env_prefix=(env RUSTC_BOOTSTRAP=1)
  bin_dir=target/asan/x86_64-unknown-linux-gnu/release
fi
if [ -n "${DYAD_FUZZ_JOBS:-}" ]; then
  fuzz_args+=(--jobs "$DYAD_FUZZ_JOBS")
fi

start=$(date +%s)
# cargo fuzz has no --locked of its own: fail here if fuzz/Cargo.lock is stale.
if ! cargo metadata --locked --format-version 1 >/dev/null; then
  echo "error: fuzz/Cargo.lock is out of date (a dependency of ledger/ or verifier/ changed?):" >&2
  echo "       run 'cargo update --workspace' in fuzz/ and commit fuzz/Cargo.lock" >&2
  exit 2
fi

echo "== building ${#targets[@]} fuzz target(s) (${fuzz_args[*]})"
if [ ${#targets[@]} -eq ${#all_targets[@]} ]; then
  "${env_prefix[@]}" cargo fuzz build "${fuzz_args[@]}"
else
  for t in "${targets[@]}"; do
    "${env_prefix[@]}" cargo fuzz build "${fuzz_args[@]}" "$t"
  done
fi

echo "== writing seed corpora"
cargo run --quiet --locked --no-default-features --example seeds -- corpus

dict_for() {
  case $1 in
    note_* | checkpoint_*) echo dict/note.dict ;;
    entry_* | genesis_decode) echo dict/entry.dict ;;
    vkey_parse | signer_key_parse | policy_parse) echo dict/key.dict ;;
    receipt_* | evidence_*) echo dict/proof.dict ;;
    sync_bundle) echo dict/sync.dict ;;
    stix) echo dict/stix.dict ;;
    node_* | tile_parse) echo dict/node.dict ;;
    *) echo "" ;;
  esac
}

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=0
results=()

echo "== replaying fuzz/regressions"
for t in "${targets[@]}"; do
  dir=regressions/$t
  [ -d "$dir" ] || continue
  files=("$dir"/*)
  [ -e "${files[0]}" ] || continue
  if "$bin_dir/$t" -runs=0 -artifact_prefix="$logs/" "${files[@]}" >"$logs/$t.regressions" 2>&1; then
    echo "  $t: ${#files[@]} input(s) pass"
  else
    echo "  $t: REGRESSION STILL CRASHES:"
    grep -m1 -B1 -A3 -E "panicked at|ERROR: AddressSanitizer" "$logs/$t.regressions" | sed 's/^/    /' || true
    results+=("$(printf '%-24s %12s %10s  %s' "$t" - - "regression input still crashes ($dir)")")
    failed=1
  fi
done

echo "== fuzzing ${#targets[@]} target(s) for ${seconds}s each"
for t in "${targets[@]}"; do
  dict=$(dict_for "$t")
  args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048)
  [ -n "$dict" ] && args+=(-dict="$dict")
  log=$logs/$t.log
  # A target without seeds still needs its corpus directory (cargo fuzz refuses a missing one).
  mkdir -p "corpus/$t"
  status=ok
  if ! "${env_prefix[@]}" cargo fuzz run "${fuzz_args[@]}" "$t" "corpus/$t" -- "${args[@]}" >"$log" 2>&1; then
    status=CRASH
    failed=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ "$status" = CRASH ]; then
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    why=$(grep -m1 -E "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer" "$log" || true)
    detail=$(grep -m1 -A1 "panicked at" "$log" | tail -1 || true)
    status="CRASH ${artifact:-(see log)}: ${why} ${detail}"
    echo "---- $t crashed:"
    grep -m1 -A14 -E "panicked at|ERROR: AddressSanitizer|ERROR: libFuzzer" "$log" | sed 's/^/    /' || true
  fi
  # node_http's data directories (its process is gone now; it cannot remove them itself).
  if [ "$t" = node_http ]; then
    for d in /dev/shm/dyad-fuzz-node-http-* "${TMPDIR:-/tmp}"/dyad-fuzz-node-http-*; do
      if [ -d "$d" ] && [ ! -d "/proc/${d##*-}" ]; then rm -rf "$d"; fi
    done
  fi
  line=$(printf '%-24s %12s %10s  %s' "$t" "${runs:-?}" "${rate:-?}" "$status")
  results+=("$line")
  echo "$line"
done

end=$(date +%s)
echo
printf '%-24s %12s %10s  %s\n' target executions exec/s result
printf '%s\n' "${results[@]}"
echo "total wall time: $((end - start))s"
exit $failed
