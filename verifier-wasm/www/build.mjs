// Assembles the auditor's page into one HTML file that works from file:// (no fetch of the
// .wasm, no module scripts, the worker from a Blob): index.html with the wasm-bindgen glue
// (--target no-modules), the wasm module as base64, app.js, and the worker's source
// (glue + worker.js) in a non-executed script element.
// Usage: node build.mjs PKG_DIR OUT_FILE
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const [pkg, out] = process.argv.slice(2);
if (!pkg || !out) {
  console.error('usage: node build.mjs PKG_DIR OUT_FILE');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const read = (p) => readFileSync(p, 'utf8');
const glue = read(join(pkg, 'dyad_verifier_wasm.js'));
const wasm = readFileSync(join(pkg, 'dyad_verifier_wasm_bg.wasm'));
const script = (body, attrs = '') => {
  if (/<\/script/i.test(body)) throw new Error('a script holds </script');
  return `<script${attrs}>\n${body}\n</script>`;
};
const inlined = [
  script(glue),
  script(`${glue}\n${read(join(here, 'worker.js'))}`, ' id="worker-source" type="text/plain"'),
  script(`const VERIFIER_WASM_BASE64 = "${wasm.toString('base64')}";\n${read(join(here, 'app.js'))}`),
].join('\n');
const page = read(join(here, 'index.html')).replace('<!-- @VERIFIER@ -->', inlined);
writeFileSync(out, page);
const gz = gzipSync(page, { level: 9 }).length;
console.log(`${out}: ${page.length} bytes, ${gz} gzipped (wasm ${wasm.length} bytes)`);
if (gz > 500 * 1024) {
  console.error('error: the page is over its budget of 500 KB gzipped');
  process.exit(1);
}
