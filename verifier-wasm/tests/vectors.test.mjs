// Runs every vector of spec/vectors/entries.json and ../shared/vectors (tree.json,
// notes.json) through the wasm module under Node.js, checks each answer against the
// vector's expectation, and writes every call with its answer to $DYAD_WEB_CASES, which
// tests/wasm_agrees.rs replays through the native build of the same checks.
// Needs $DYAD_WEB_PKG_NODE: the wasm-bindgen --target nodejs output (verifier-wasm/www/build.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = process.env.DYAD_WEB_PKG_NODE;
if (!pkg) throw new Error('set DYAD_WEB_PKG_NODE to the nodejs build of the verifier (verifier-wasm/www/build.sh)');
const wasm = createRequire(import.meta.url)(join(pkg, 'dyad_verifier_wasm.js'));

const json = (p) => JSON.parse(readFileSync(p, 'utf8'));
const spec = json(join(root, 'spec/vectors/entries.json'));
const tree = json(join(root, '../shared/vectors/tree.json'));
const notes = json(join(root, '../shared/vectors/notes.json'));

const hex = (h) => Uint8Array.from(Buffer.from(h, 'hex'));
const toHex = (b) => Buffer.from(b).toString('hex');
const utf8 = (s) => new TextEncoder().encode(s);
const cases = [];

function record(call, answerText) {
  const answer = JSON.parse(answerText);
  cases.push({ ...call, answer });
  return answer;
}

const keyFiles = spec.parties.map((p) => [`${p.name.split('/').pop()}.pub`, `${p.vkey}\n`]);

function receipt(bytes, { keys = keyFiles, attachments = [], endorsement = null, keyHistory = [] } = {}) {
  const check = new wasm.ReceiptCheck();
  keys.forEach(([n, t]) => check.add_key_file(n, t));
  keyHistory.forEach(([n, b]) => check.add_key_change(n, b));
  attachments.forEach(([n, b]) => check.add_attachment(n, b));
  if (endorsement) check.set_endorsement(endorsement);
  const out = check.verify(bytes);
  check.free();
  return record({
    fn: 'receipt', receipt_hex: toHex(bytes), keys,
    attachments: attachments.map(([n, b]) => [n, toHex(b)]),
    endorsement_hex: endorsement && toHex(endorsement),
    key_history: keyHistory.map(([n, b]) => [n, toHex(b)]),
  }, out);
}

function leafAudit(leaves, checkpoints) {
  const audit = new wasm.LeafAudit();
  leaves.forEach((l) => audit.add_leaf(l));
  checkpoints.forEach((c) => audit.add_checkpoint(c));
  const out = audit.run(keyFiles.map((k) => k[0]), keyFiles.map((k) => k[1]));
  audit.free();
  return record({ fn: 'leaf_audit', leaves_hex: leaves.map(toHex), checkpoints_hex: checkpoints.map(toHex), keys: keyFiles }, out);
}

/** The receipt with byte `at` changed (a tampered receipt). */
function tampered(text, at) {
  const b = utf8(text);
  b[at] = b[at] === 0x41 ? 0x42 : 0x41;
  return b;
}

test('every receipt of the spec vectors verifies, with what it proves', () => {
  for (const { index, receipt: text } of spec.receipts) {
    const r = receipt(utf8(text));
    assert.equal(r.valid, true, `receipt ${index}: ${r.reason}`);
    assert.equal(r.index, index);
    const entry = spec.entries.find((e) => e.index === index);
    assert.equal(r.subject, entry.decoded.subject);
    assert.equal(r.kind, entry.decoded.kind);
  }
});

test('a changed byte anywhere in a receipt is refused with the reason', () => {
  const { receipt: text } = spec.receipts[spec.receipts.length - 1];
  const lines = text.split('\n');
  // A byte in each of: the entry line, a proof hash line, the checkpoint's root, its signature.
  const offsets = [];
  let at = 0;
  for (const line of lines) {
    if (line.length > 8) offsets.push(at + Math.floor(line.length / 2));
    at += line.length + 1;
  }
  assert.ok(offsets.length >= 4);
  for (const o of offsets) {
    const r = receipt(tampered(text, o));
    assert.equal(r.valid, false, `byte ${o} changed, still valid`);
    assert.ok(r.reason.length > 0);
  }
});

test('the wrong keys refuse a receipt', () => {
  const other = notes.keys.find((k) => k.role === 'A' || k.name.endsWith('party-a'));
  const keys = [keyFiles[0], ['other.pub', `${other.verifier_key}\n`]];
  const r = receipt(utf8(spec.receipts[0].receipt), { keys });
  assert.equal(r.valid, false);
});

test('a record with its endorsement: signed by one party, endorsed by the other', () => {
  const record = spec.entries.find((e) => e.decoded.kind === 'record');
  const endorsement = spec.entries.find((e) => e.decoded.kind === 'endorsement');
  const rr = spec.receipts.find((r) => r.index === record.index);
  const er = spec.receipts.find((r) => r.index === endorsement.index);
  const r = receipt(utf8(rr.receipt), { endorsement: utf8(er.receipt) });
  assert.equal(r.valid, true, r.reason);
  assert.notEqual(r.endorsement.signed_by, r.endorsement.endorsed_by);
  const wrong = receipt(utf8(rr.receipt), { endorsement: utf8(rr.receipt) });
  assert.equal(wrong.valid, false);
});

test('the vector log audits, and each invalid entry fails at its index', () => {
  const leaves = spec.entries.map((e) => hex(e.entry_hex));
  const checkpoints = spec.checkpoints.map((c) => utf8(c.note));
  const pass = leafAudit(leaves, checkpoints);
  assert.equal(pass.valid, true, pass.reason);
  assert.equal(pass.entries, leaves.length);
  for (const bad of [...spec.invalid_entries, ...spec.invalid_endorsements]) {
    const log = [...leaves.slice(0, bad.index), hex(bad.entry_hex)];
    const r = leafAudit(log, []);
    assert.equal(r.valid, false, `${bad.name} passed`);
    assert.equal(r.entry, bad.index, `${bad.name}: ${r.reason}`);
  }
});

// The key_changes section (spec/dyad.md 3.7, 8, 8.1): the vector log continued with a
// key change by each party; receipts under its last checkpoint, signed by the new keys.
const kc = spec.key_changes;
const history = kc.key_history.map((h) => [`${h.index}.tlog-proof`, utf8(h.receipt)]);
const roleName = (role) => (role === 'sequencer' ? 'sequencer' : 'co-signer');

test('every receipt after the key changes verifies with its key history, naming both changes', () => {
  assert.equal(history.length, 2);
  assert.ok(kc.receipts.length >= 10);
  for (const { index, receipt: text } of kc.receipts) {
    for (const keyHistory of [history, [...history].reverse()]) {
      const r = receipt(utf8(text), { keyHistory });
      assert.equal(r.valid, true, `receipt ${index}: ${r.reason}`);
      assert.equal(r.index, index);
      assert.equal(r.key_history_files, 2);
      assert.deepEqual(r.key_changes.map((c) => c.index), kc.key_history.map((h) => h.index));
      assert.deepEqual(r.key_changes.map((c) => [c.role, c.new_key]), kc.new_keys.map((k) => [roleName(k.role), k.vkey]));
      for (const c of r.key_changes) {
        assert.match(c.old_key_id, /^[0-9a-f]{8}$/);
        assert.equal(c.new_key_id, c.new_key.split('+')[1]);
      }
    }
    const entry = [...spec.entries, ...kc.entries].find((e) => e.index === index);
    assert.equal(receipt(utf8(text), { keyHistory: history }).subject, entry.decoded.subject);
  }
});

test('without its key history a receipt after the key changes is refused, and says what to give', () => {
  for (const { index, receipt: text } of kc.receipts) {
    const r = receipt(utf8(text));
    assert.equal(r.valid, false, `receipt ${index} verified without its key history`);
    assert.equal(r.may_need_key_history, true, `receipt ${index}: ${r.reason}`);
    assert.match(r.reason, /key history/);
  }
});

test('a key history that is incomplete, repeated, not of key changes, changed, or too long is refused', () => {
  const { receipt: text } = kc.receipts[kc.receipts.length - 1];
  const bytes = utf8(text);
  const notAChange = kc.receipts.find((r) => !kc.key_history.some((h) => h.index === r.index));
  const first = kc.key_history[0];
  const changed = tampered(first.receipt, first.receipt.indexOf('\nextra ') + 40);
  const cases = [
    ['only the first key change', [history[0]], /does not verify/],
    ['only the second key change', [history[1]], /does not verify/],
    ['a key change twice', [history[0], history[0], history[1]], /two key-change receipts of entry/],
    ['a receipt of another entry', [...history, [`${notAChange.index}.tlog-proof`, utf8(notAChange.receipt)]], /not a key change/],
    ['a changed key-change receipt', [[history[0][0], changed], history[1]], new RegExp(`the key or witness change at entry ${first.index}`)],
    ['not a receipt', [...history, ['9.tlog-proof', utf8('hello\n')]], /9\.tlog-proof: not a key-change receipt/],
    ['257 files', Array.from({ length: 257 }, (_, i) => [`${i}.tlog-proof`, utf8('x')]), /257 key-change receipts given, more than the 256/],
  ];
  for (const [what, keyHistory, reason] of cases) {
    const r = receipt(bytes, { keyHistory });
    assert.equal(r.valid, false, `${what}: verified`);
    assert.match(r.reason, reason, what);
  }
  assert.equal(wasm.max_key_history(), 256);
});

test('the log with the key changes audits and names them; each invalid key change fails by its rule', () => {
  const leaves = [...spec.entries, ...kc.entries].map((e) => hex(e.entry_hex));
  const checkpoints = [...spec.checkpoints, ...kc.checkpoints].map((c) => utf8(c.note));
  const pass = leafAudit(leaves, checkpoints);
  assert.equal(pass.valid, true, pass.reason);
  assert.deepEqual(pass.key_changes.map((c) => [c.role, c.new_key]), kc.new_keys.map((k) => [roleName(k.role), k.vkey]));
  assert.ok(kc.invalid_entries.length >= 8);
  for (const bad of kc.invalid_entries) {
    const r = leafAudit([...leaves, hex(bad.entry_hex)], checkpoints);
    assert.equal(r.valid, false, `${bad.name} passed`);
    assert.equal(r.entry, bad.index, `${bad.name}: ${r.reason}`);
    assert.equal(r.rule, bad.error, `${bad.name}: ${r.reason}`);
  }
});

const proofBytes = (list) => hex(list.join(''));

test('inclusion proofs of ../shared/vectors agree with Go', () => {
  for (const c of [...tree.inclusion, ...tree.inclusion_invalid, ...tree.inclusion_other_size]) {
    const args = [hex(c.leaf_hash_hex), BigInt(c.index), BigInt(c.size), proofBytes(c.proof_hex), hex(c.root_hex)];
    const r = record({ fn: 'inclusion', leaf_hash_hex: c.leaf_hash_hex, index: c.index, size: c.size, proof_hex: c.proof_hex.join(''), root_hex: c.root_hex },
      wasm.verify_inclusion(...args));
    assert.equal(r.valid, c.expect_valid, `${c.name ?? c.index}: ${r.reason}`);
  }
});

test('consistency proofs of ../shared/vectors agree with Go', () => {
  for (const c of [...tree.consistency, ...tree.consistency_invalid, ...tree.consistency_other_size]) {
    const r = record({ fn: 'consistency', old_size: c.old_size, new_size: c.new_size, old_root_hex: c.old_root_hex, new_root_hex: c.new_root_hex, proof_hex: c.proof_hex.join('') },
      wasm.verify_consistency(BigInt(c.old_size), BigInt(c.new_size), hex(c.old_root_hex), hex(c.new_root_hex), proofBytes(c.proof_hex)));
    assert.equal(r.valid, c.expect_valid, `${c.name ?? c.old_size}: ${r.reason}`);
  }
});

test('signed notes of ../shared/vectors agree with Go', () => {
  const trusted = notes.keys.filter((k) => k.trusted).map((k) => k.verifier_key).join('\n');
  for (const c of notes.cases) {
    const note = Buffer.from(c.note_base64, 'base64');
    const r = record({ fn: 'note', note_hex: toHex(note), key_lines: trusted }, wasm.verify_note(note, trusted));
    assert.equal(r.valid, c.expect.result === 'ok', `${c.name}: ${r.reason}`);
    if (r.valid) assert.deepEqual(r.verified, c.expect.verified_signers, c.name);
  }
});

test('write the calls for the native replay', () => {
  assert.ok(cases.length > 100, `${cases.length} cases`);
  if (process.env.DYAD_WEB_CASES) writeFileSync(process.env.DYAD_WEB_CASES, JSON.stringify(cases));
});
