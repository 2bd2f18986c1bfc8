# The auditor's page's tools, for .ci/run (which sources this file) and for developers:
# the wasm32 target, wasm-bindgen-cli at exactly the version of the wasm-bindgen crate
# (verifier-wasm/Cargo.toml), Node.js, Debian's Chromium, and playwright-core pinned under
# target/. Each is installed only if missing. Exports DYAD_PLAYWRIGHT_CORE and DYAD_CHROMIUM
# for cli/tests/cli_web_page.rs.
# Measured on the 2-core CI machine: the target 2 s, wasm-bindgen-cli 6 min (compiled),
# chromium 25 s, playwright-core 2 s; nothing once installed.

wasm_bindgen_version=0.2.130
playwright_core_version=1.57.0
web_tools="$PWD/target/web-tools"

web_sudo=""
if [ "$(id -u)" -ne 0 ]; then web_sudo=sudo; fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "== installing the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wasm_bindgen_version" ]; then
  echo "== installing wasm-bindgen-cli $wasm_bindgen_version"
  # --locked first; its lockfile may name a crate version the registry index here lacks,
  # and then the newest compatible versions are taken.
  cargo install -q wasm-bindgen-cli --version "$wasm_bindgen_version" --locked \
    || cargo install -q wasm-bindgen-cli --version "$wasm_bindgen_version"
fi
# Only what is missing: a machine's own Node.js (nodesource's nodejs bundles npm) conflicts
# with Debian's npm package, so Node.js is installed only where there is none.
web_packages=""
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then web_packages=" nodejs npm"; fi
if ! command -v chromium >/dev/null; then web_packages="$web_packages chromium"; fi
if [ -n "$web_packages" ]; then
  echo "== installing from Debian:$web_packages"
  $web_sudo apt-get update -qq && $web_sudo apt-get install -y -qq $web_packages
fi
if [ ! -f "$web_tools/node_modules/playwright-core/package.json" ] \
  || ! grep -q "\"version\": \"$playwright_core_version\"" "$web_tools/node_modules/playwright-core/package.json"; then
  echo "== installing playwright-core $playwright_core_version into $web_tools"
  mkdir -p "$web_tools"
  npm install --prefix "$web_tools" --no-audit --no-fund --silent "playwright-core@$playwright_core_version"
fi
export DYAD_PLAYWRIGHT_CORE="$web_tools/node_modules/playwright-core"
DYAD_CHROMIUM="$(command -v chromium)"
export DYAD_CHROMIUM
