// The auditor's page in headless Chromium (Debian's, driven by playwright-core): from
// file:// and from `dyad serve`'s /audit/. A good receipt verifies with its details;
// tampered receipts are refused with the verifier's reason; a live log audited through
// the served page gives what `dyad audit --url` gives. Screenshots go to $SHOTS.
// Run by cli/tests/cli_web_page.rs, which prepares everything named in the environment:
//   PLAYWRIGHT_CORE  the playwright-core package directory
//   CHROMIUM         the browser binary
//   PAGE_FILE        the page written by `dyad export web`
//   FIXTURES         alpha.pub, bravo.pub, good.tlog-proof (a receipt), expect.json, and a
//                    receipt directory with its key history (expect.json's key_history)
//   LIVE_KEYS        the live channel's alpha.pub and bravo.pub
//   SERVED_URL       the node's public URL (https), whose /audit/ serves the page
//   ACCESS_FILE      a read credential for it
//   AUDIT_JSON       `dyad audit --url --json --skip-attachments` of that node
//   SHOTS            where the screenshots go
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const { chromium } = createRequire(import.meta.url)(env('PLAYWRIGHT_CORE'));
const fixtures = env('FIXTURES');
const fx = (name) => join(fixtures, name);
const expect = JSON.parse(readFileSync(fx('expect.json'), 'utf8'));
const shots = env('SHOTS');
const keys = [fx('alpha.pub'), fx('bravo.pub')];
const liveKeys = [join(env('LIVE_KEYS'), 'alpha.pub'), join(env('LIVE_KEYS'), 'bravo.pub')];

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: env('CHROMIUM'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
});
after(async () => browser && browser.close());

async function open(url, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('requestfailed', (r) => {
    if (!r.url().startsWith(new URL(url).origin) && !r.url().startsWith('blob:') && !r.url().startsWith('file:')) {
      errors.push(`external request ${r.url()}`);
    }
  });
  await page.goto(url);
  return { page, errors, context };
}

// Clicks a button and waits for the answer it gives: the old verdict is cleared first, so
// a verdict still standing from the previous check is never read as this one's.
async function verdictOf(page, button, timeout = 60000) {
  await page.$eval('#verdict', (v) => delete v.dataset.valid);
  await page.click(button);
  return verdict(page, timeout);
}

async function verdict(page, timeout = 60000) {
  await page.waitForSelector('#verdict[data-valid]', { timeout });
  return { valid: await page.getAttribute('#verdict', 'data-valid'), text: await page.textContent('#verdict') };
}

async function receiptChecks(page, where) {
  await page.setInputFiles('#key-files', keys);
  await page.setInputFiles('#receipt-file', fx('good.tlog-proof'));
  const good = await verdictOf(page, '#verify-receipt');
  assert.equal(good.valid, 'true', good.text);
  for (const fact of expect.good_receipt_facts) assert.ok(good.text.includes(fact), `${fact} not in: ${good.text}`);
  await page.screenshot({ path: join(shots, `${where}-good-receipt.png`), fullPage: true });
  for (const [i, t] of expect.tampered.entries()) {
    await page.setInputFiles('#receipt-file', { name: `tampered-${i}.tlog-proof`, mimeType: 'text/plain', buffer: Buffer.from(t.receipt, 'utf8') });
    const bad = await verdictOf(page, '#verify-receipt');
    assert.equal(bad.valid, 'false', `tampered ${i} (${t.what}) verified`);
    assert.ok(bad.text.includes(t.reason), `tampered ${i} (${t.what}): the page says ${bad.text}, the verifier ${t.reason}`);
    if (i === 0) await page.screenshot({ path: join(shots, `${where}-tampered-receipt.png`), fullPage: true });
  }
  await keyHistoryChecks(page, where);
}

// A receipt after key changes: refused without its key history (the page says what to
// give), verified with it, naming each key change as `dyad verify receipt` does.
async function keyHistoryChecks(page, where) {
  const kh = expect.key_history;
  await page.setInputFiles('#receipt-file', fx(kh.receipt));
  await page.setInputFiles('#key-history-files', []);
  const without = await verdictOf(page, '#verify-receipt');
  assert.equal(without.valid, 'false', `verified without its key history: ${without.text}`);
  assert.ok(without.text.includes('key-changes/'), without.text);
  await page.setInputFiles('#key-history-files', kh.files.map(fx));
  const withHistory = await verdictOf(page, '#verify-receipt');
  assert.equal(withHistory.valid, 'true', withHistory.text);
  for (const fact of kh.facts) assert.ok(withHistory.text.includes(fact), `${fact} not in: ${withHistory.text}`);
  await page.screenshot({ path: join(shots, `${where}-key-history-receipt.png`), fullPage: true });
  await page.setInputFiles('#key-history-files', []);
}

test('from file://: receipts verified and refused as the verifier says', async () => {
  const { page, errors, context } = await open(pathToFileURL(env('PAGE_FILE')).href);
  await receiptChecks(page, 'file');
  assert.deepEqual(errors, []);
  await context.close();
});

test('from dyad serve: /audit/ audits the live log as dyad audit --url does', async () => {
  const base = env('SERVED_URL').replace(/\/$/, '');
  // The node's certificate is self-signed and pinned by the credential: a browser is told
  // to accept it here, as an auditor would after comparing the pin.
  const { page, errors, context } = await open(`${base}/audit/`, { ignoreHTTPSErrors: true });
  await receiptChecks(page, 'served');
  await page.setInputFiles('#key-files', liveKeys);
  await page.fill('#log-url', base);
  await page.setInputFiles('#access-file', env('ACCESS_FILE'));
  const started = Date.now();
  const audit = await verdictOf(page, '#audit-log');
  assert.equal(audit.valid, 'true', audit.text);
  const answer = await page.evaluate(() => window.lastAnswer);
  const native = JSON.parse(readFileSync(env('AUDIT_JSON'), 'utf8'));
  for (const field of ['origin', 'sequencer', 'cosigner', 'entries', 'committed_size', 'pending', 'root', 'entries_by_sequencer', 'entries_by_cosigner', 'kinds']) {
    assert.deepEqual(answer[field], native[field], `${field}: page ${JSON.stringify(answer[field])}, dyad audit ${JSON.stringify(native[field])}`);
  }
  await page.screenshot({ path: join(shots, 'served-log-audit.png'), fullPage: true });
  writeFileSync(join(shots, 'served-log-audit.json'), JSON.stringify({ ...answer, wall_ms: Date.now() - started }));
  assert.deepEqual(errors, []);
  await context.close();
});
