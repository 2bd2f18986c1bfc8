// The browser side of the browser/native speed ratio in BENCHMARKS.md: the page (from
// file://) in headless Chromium does the work of `cargo run --release -p
// dyad-verifier-wasm --example speed`, through the page's own wasm module, and prints the
// same two rates.
// Usage: node speed.mjs PLAYWRIGHT_CORE_DIR CHROMIUM PAGE_FILE
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [core, chromiumPath, pageFile] = process.argv.slice(2);
const { chromium } = createRequire(import.meta.url)(core);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const v = JSON.parse(readFileSync(join(root, 'spec/vectors/entries.json'), 'utf8'));
const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
const page = await browser.newPage();
await page.goto(pathToFileURL(pageFile).href);
const rates = await page.evaluate(async (v) => {
  await wasmModule;
  const enc = new TextEncoder();
  const names = v.parties.map((p) => p.name), texts = v.parties.map((p) => p.vkey);
  const rate = (work) => {
    const start = performance.now();
    let done = 0;
    while (performance.now() - start < 2000) done += work();
    return done / ((performance.now() - start) / 1000);
  };
  const check = new wasm_bindgen.ReceiptCheck();
  names.forEach((n, i) => check.add_key_file(n, texts[i]));
  const receipt = enc.encode(v.receipts[v.receipts.length - 1].receipt);
  if (!JSON.parse(check.verify(receipt)).valid) throw new Error('the receipt does not verify');
  const receipts = rate(() => { check.verify(receipt); return 1; });
  const audit = new wasm_bindgen.LeafAudit();
  const hex = (h) => Uint8Array.from(h.match(/../g).map((b) => parseInt(b, 16)));
  v.entries.forEach((e) => audit.add_leaf(hex(e.entry_hex)));
  v.checkpoints.forEach((c) => audit.add_checkpoint(enc.encode(c.note)));
  if (!JSON.parse(audit.run(names, texts)).valid) throw new Error('the log does not audit');
  const entries = rate(() => { audit.run(names, texts); return v.entries.length; });
  return { receipts_per_s: Math.round(receipts), audit_entries_per_s: Math.round(entries) };
}, v);
console.log(JSON.stringify(rates));
await browser.close();
