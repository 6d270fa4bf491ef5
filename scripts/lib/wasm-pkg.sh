# shellcheck shell=bash
# Builds the WASM package the one way both scripts/test-wasm.sh and
# scripts/bench-wasm.sh use: bindings/wasm/pkg/web (ES module, for
# bundlers and browsers) and pkg/nodejs (CommonJS), from one release build.
#
#   . scripts/lib/wasm-pkg.sh; build_wasm_pkg [extra cargo arguments, e.g. --features bench]
#
# - opt-level "s" for the crate and its whole dependency tree, for this one
#   wasm32 build (see [profile.release.package.smartmeter-wasm] in Cargo.toml);
# - wasm-bindgen at the exact version of Cargo.lock (installed by the caller);
# - wasm-opt -Oz from npm's binaryen (examples/dashboard devDependencies,
#   installed by `npm ci` there). Debian's binaryen 108 turns the module's
#   externref table into one that no engine accepts; version 132 keeps it.
#
# Sets WASM_RAW, WASM_GZIP (before wasm-opt) and WASM_OPT_RAW, WASM_OPT_GZIP
# (what the package ships), in bytes.

# shellcheck source=cargo.sh
. "$(dirname "${BASH_SOURCE[0]}")/cargo.sh"

build_wasm_pkg() {
  local root target_dir wasm pkg wasm_opt built
  root=$(pwd)
  pkg=$root/bindings/wasm/pkg
  wasm_opt=$root/examples/dashboard/node_modules/.bin/wasm-opt
  if [ ! -x "$wasm_opt" ]; then
    echo "no $wasm_opt: run npm ci in examples/dashboard first" >&2
    return 1
  fi
  target_dir=$(cargo_target_dir)
  CARGO_PROFILE_RELEASE_OPT_LEVEL=s cargo build --locked -q -p smartmeter-wasm --target wasm32-unknown-unknown --release "$@"
  wasm=$target_dir/wasm32-unknown-unknown/release/smartmeter_wasm.wasm
  rm -rf "$pkg/web" "$pkg/nodejs"
  wasm-bindgen --target web --out-dir "$pkg/web" "$wasm"
  wasm-bindgen --target nodejs --out-dir "$pkg/nodejs" "$wasm"
  # pkg/package.json has no "type": the nodejs build is CommonJS, the web build an ES module.
  echo '{"type": "module"}' >"$pkg/web/package.json"
  built=$pkg/web/smartmeter_wasm_bg.wasm
  WASM_RAW=$(wc -c <"$built")
  WASM_GZIP=$(gzip -9 -c "$built" | wc -c)
  # Names and producers are for debuggers; the JS glue does not need them.
  "$wasm_opt" -Oz --strip-debug --strip-producers "$built" -o "$built.opt"
  mv "$built.opt" "$built"
  cp "$built" "$pkg/nodejs/smartmeter_wasm_bg.wasm"
  WASM_OPT_RAW=$(wc -c <"$built")
  WASM_OPT_GZIP=$(gzip -9 -c "$built" | wc -c)
  echo "smartmeter_wasm_bg.wasm: $WASM_RAW bytes raw, $WASM_GZIP gzipped; after wasm-opt -Oz: $WASM_OPT_RAW raw, $WASM_OPT_GZIP gzipped"
}
