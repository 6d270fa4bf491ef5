# shellcheck shell=bash
# Where cargo puts what it builds, for scripts that run a built binary.
# Source this file, then:
#   cargo_target_dir        prints the workspace's target directory
#
# Asked of cargo rather than assumed to be ./target: CARGO_TARGET_DIR, a
# .cargo/config.toml or a shared build directory may put it elsewhere.

cargo_target_dir() {
  cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}
