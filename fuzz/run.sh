#!/usr/bin/env bash
# Runs every fuzz target for a while; exits non-zero if any of them crashes.
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET]   (default 30)
#
# Needs the nightly toolchain (cargo-fuzz builds with sanitizers); installs
# cargo-fuzz if it is missing. Crashing inputs land in fuzz/artifacts/<target>/.
set -euo pipefail

seconds="${1:-30}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

python3 fuzz/seed-corpus.py

# The fuzz crate has its own lock file, outside the workspace's; a stale one
# would be rewritten silently by the build below and fuzz other versions
# than the ones committed. Fail instead, saying how to refresh it.
if ! cargo "+$toolchain" metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null; then
    echo "fuzz: fuzz/Cargo.lock is out of date; refresh it with" \
        "'cargo +$toolchain update --manifest-path fuzz/Cargo.toml --workspace' and commit it" >&2
    exit 1
fi

# One build for all targets; `fuzz run` below reuses it (same flags).
cargo "+$toolchain" fuzz build

targets="$(cargo "+$toolchain" fuzz list)"
[[ -n "$targets" ]] || { echo "fuzz: no targets found" >&2; exit 1; }

failed=()
for target in $targets; do
    echo "=== fuzz $target for ${seconds}s"
    if ! cargo "+$toolchain" fuzz run "$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
        failed+=("$target")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a crash"
