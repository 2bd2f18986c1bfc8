#!/usr/bin/env bash
# Builds the auditor's page: the verifier's checks for wasm32, their wasm-bindgen glue
# (for the page, and for Node.js for the tests), and the one-file page.
# Needs .ci/install-web-tools.sh's tools (the wasm32 target, wasm-bindgen-cli, node).
# Writes $DYAD_WEB_OUT (default target/web): page/index.html, pkg-node/.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${DYAD_WEB_OUT:-target/web}"
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build -p dyad-verifier-wasm --target wasm32-unknown-unknown --release --locked
wasm="$target_dir/wasm32-unknown-unknown/release/dyad_verifier_wasm.wasm"
rm -rf "$out/pkg-page" "$out/pkg-node"
mkdir -p "$out/page"
wasm-bindgen --target no-modules --no-typescript --out-dir "$out/pkg-page" "$wasm"
wasm-bindgen --target nodejs --no-typescript --out-dir "$out/pkg-node" "$wasm"
node verifier-wasm/www/build.mjs "$out/pkg-page" "$out/page/index.html"
