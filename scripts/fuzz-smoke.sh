#!/usr/bin/env bash
# Fuzz smoke: builds every cargo-fuzz target in fuzz/ and runs each for a short fixed time,
# starting from a copy of its committed seed corpus (fuzz/corpus/TARGET). Fails on the first
# crash (a panic, an out-of-memory, a timeout) and prints the input that caused it.
#
#   bash scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]     (default 10, or $FUZZ_SMOKE_SECONDS)
#
# Called by scripts/test.sh. cargo-fuzz passes nightly-only compiler flags; with the stable
# toolchain that is all this machine has, RUSTC_BOOTSTRAP=1 lets it (see docs/testing.md).
# The sanitizer is off: the workspace forbids `unsafe`, so what the smoke looks for is panics,
# runaway memory and hangs, and an uninstrumented build is several times faster to build and
# to run. Long runs (`cargo fuzz run TARGET`, address sanitizer on) are for a developer's machine.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${1:-${FUZZ_SMOKE_SECONDS:-10}}"
CARGO_FUZZ_VERSION=0.13.2

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

export RUSTC_BOOTSTRAP=1
cd fuzz
cargo fuzz build --sanitizer none --release

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=()
for target in $(cargo fuzz list); do
    corpus="$work/$target"
    mkdir -p "$corpus"
    if [ -d "corpus/$target" ]; then
        cp -R "corpus/$target/." "$corpus/"
    fi
    printf '%-20s ' "$target"
    log="$work/$target.log"
    # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: runaway memory.
    if cargo fuzz run --sanitizer none --release "$target" "$corpus" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
        echo "ok (${runs:-?} runs in ${seconds}s, $(find "$corpus" -type f | wc -l) corpus files)"
    else
        echo "FAILED"
        tail -n 40 "$log"
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz smoke failed: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
