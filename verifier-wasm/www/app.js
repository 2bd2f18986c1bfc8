// The auditor's page: reads the files a person gives, hands them to the verifier (the
// wasm module inlined in this page), and shows its answer in #verdict. The whole-log audit
// runs in a Web Worker made from this page's own text (a Blob URL), so that it works from
// file:// too. Expects `wasm_bindgen` (the wasm-bindgen glue) and VERIFIER_WASM_BASE64.
'use strict';

const $ = (id) => document.getElementById(id);
const bytesOf = async (file) => new Uint8Array(await file.arrayBuffer());

function decodeBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

const wasmModule = WebAssembly.compile(decodeBase64(VERIFIER_WASM_BASE64)).then((module) => {
  wasm_bindgen.initSync({ module });
  return module;
});

async function keyFiles() {
  const names = [], texts = [];
  for (const f of $('key-files').files) {
    names.push(f.name);
    texts.push(await f.text());
  }
  return { names, texts };
}

function show(valid, text) {
  const v = $('verdict');
  v.textContent = text;
  v.dataset.valid = valid ? 'true' : 'false';
}

function busy(text) {
  const v = $('verdict');
  delete v.dataset.valid;
  v.textContent = text;
}

const time = (s) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

// One line per key change followed, as `dyad verify receipt` and `dyad audit` print them.
const keyChangeLines = (changes) => changes.map((c) =>
  `  key change entry ${c.index}: the ${c.role} replaced key ${c.old_key_id} with ${c.new_key_id} (${c.new_key})`);

// One line per witness change followed, as `dyad verify receipt` and `dyad audit` print them.
const witnessChangeLines = (changes) => (changes || []).map((c) =>
  `  witness change entry ${c.index} (number ${c.number}, sent by the ${c.sender}, approved by the other party): ${c.witness_threshold} of [${c.witnesses.map((w) => w.name).join(', ')}] from entry ${c.index + 1} on`);

function receiptText(r) {
  if (!r.valid) {
    const head = r.index === undefined ? 'DOES NOT VERIFY' : 'DOES NOT VERIFY (the receipt itself verifies)';
    const hint = r.may_need_key_history
      ? '\nIf a party changed its key, give the receipt directory\'s key-changes/ files in "Its key history".'
      : '';
    return `${head}: ${r.reason}${hint}`;
  }
  const lines = [
    `VERIFIED: receipt for entry ${r.index} of ${r.origin}`,
    `  ${r.kind} from ${r.sender} (${r.sender_role}), message ${r.sequence}, sent ${new Date(r.timestamp_ms).toISOString()}`,
    `  subject: ${r.subject}`,
    `  committed: in the checkpoint of size ${r.checkpoint.size} (root ${r.checkpoint.root}), signed by ${r.log}, co-signed by ${r.cosigner} at ${time(r.cosigned_at)}`,
  ];
  for (const w of r.witnesses) lines.push(`  witness ${w.name} co-signed at ${time(w.cosigned_at)}`);
  lines.push(...keyChangeLines(r.key_changes));
  if (r.key_changes.length > 0) {
    lines.push('  Key history: followed from the genesis keys through every key change given; each was signed by the party\'s key before it and proved by the new one.');
  }
  lines.push(...witnessChangeLines(r.witness_changes));
  if ((r.witness_changes || []).length > 0) {
    lines.push('  Witness changes: each was signed by one party and approved by the other; the checkpoint was judged by the witnesses and threshold of the last one.');
  }
  if (r.endorsement) {
    lines.push(`  record signed by ${r.endorsement.signed_by}, endorsed by ${r.endorsement.endorsed_by} (entry ${r.endorsement.endorsement_index})`);
  }
  for (const a of r.attachments) {
    lines.push(`  attachment ${a.name} (${a.size} bytes, sha256 ${a.sha256_hex}): ${a.checked ? 'checked' : 'NOT CHECKED'}`);
  }
  for (const n of r.not_attachments) lines.push(`  note: ${n} is not an attachment of the entry: not checked`);
  lines.push('  The sender signed this message, and both parties signed a checkpoint that includes it; neither can rewrite it.');
  return lines.join('\n');
}

// The key-change receipts, bounded before they are read as `dyad verify receipt` bounds
// key-changes/: at most max_key_history() files, each no larger than a receipt.
async function addKeyHistory(check, files) {
  const most = wasm_bindgen.max_key_history();
  if (files.length > most) return `${files.length} key-change receipts given, more than the ${most} a key history may hold (spec 8)`;
  const largest = wasm_bindgen.max_receipt_bytes();
  for (const f of files) {
    if (f.size > largest) return `${f.name}: a key-change receipt of ${f.size} bytes, more than the ${largest} accepted`;
    check.add_key_change(f.name, await bytesOf(f));
  }
  return null;
}

async function verifyReceipt() {
  const file = $('receipt-file').files[0];
  if (!file) return show(false, 'Choose a receipt file first.');
  busy('Verifying…');
  await wasmModule;
  const check = new wasm_bindgen.ReceiptCheck();
  try {
    const keys = await keyFiles();
    keys.names.forEach((n, i) => check.add_key_file(n, keys.texts[i]));
    const refusal = await addKeyHistory(check, $('key-history-files').files);
    if (refusal) return show(false, `DOES NOT VERIFY: ${refusal}`);
    for (const f of $('attachment-files').files) check.add_attachment(f.name, await bytesOf(f));
    const endorsement = $('endorsement-file').files[0];
    if (endorsement) check.set_endorsement(await bytesOf(endorsement));
    const r = JSON.parse(check.verify(await bytesOf(file)));
    window.lastAnswer = r;
    show(r.valid, receiptText(r));
  } finally {
    check.free();
  }
}

async function verifyEvidence() {
  const file = $('evidence-file').files[0];
  if (!file) return show(false, 'Choose an evidence file first.');
  busy('Checking…');
  await wasmModule;
  const keys = await keyFiles();
  const r = JSON.parse(wasm_bindgen.verify_evidence(await bytesOf(file), keys.names, keys.texts));
  window.lastAnswer = r;
  if (!r.valid) return show(false, `NOT PROVEN: ${r.reason}`);
  const what = r.evidence === 'equivocation'
    ? `EQUIVOCATION PROVEN: ${r.accused} (as ${r.as}) signed two contradicting checkpoints: size ${r.first.size} root ${r.first.root} and size ${r.second.size} root ${r.second.root} (${r.contradiction})`
    : `BROKEN PROMISE PROVEN: ${r.accused} (as the log) promised a message at index ${r.index} and signed a tree of size ${r.checkpoint.size} holding another entry there (promised leaf ${r.promised_leaf_hash}, found ${r.found_leaf_hash})`;
  show(true, what);
}

let worker = null;

async function auditLog() {
  const url = $('log-url').value.trim();
  if (!url) return show(false, 'Give the log URL first.');
  // Busy before the first await: the old verdict must not stand while the file is read.
  busy('Auditing…');
  const access = $('access-file').files[0];
  let token = null;
  if (access) {
    const m = /^token (\S+)$/m.exec(await access.text());
    if (!m) return show(false, `${access.name} is not a read credential (no token line)`);
    token = m[1];
  }
  const module = await wasmModule;
  const keys = await keyFiles();
  if (worker) worker.terminate();
  const source = $('worker-source').textContent;
  worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
  const started = performance.now();
  worker.onmessage = ({ data }) => {
    if (data.progress) {
      const { done, total } = data.progress;
      $('audit-progress').max = Math.max(total, 1);
      $('audit-progress').value = done;
      const secs = (performance.now() - started) / 1000;
      $('audit-rate').textContent = `${done} of ${total} entries, ${Math.round(done / Math.max(secs, 0.001))} entries/s`;
      return;
    }
    const r = data.result;
    window.lastAnswer = r;
    r.seconds = (performance.now() - started) / 1000;
    if (r.valid) {
      const changes = r.key_changes.length === 0 ? ''
        : `\n${keyChangeLines(r.key_changes).join('\n')}\n  Key history: every key change followed from the genesis keys; the checkpoint verifies under the keys at its size.`;
      const witnessChanges = (r.witness_changes || []).length === 0 ? ''
        : `\n${witnessChangeLines(r.witness_changes).join('\n')}\n  Witness changes: every one followed; the checkpoint is committed with the witnesses at its size.`;
      show(true, `AUDIT PASSED: ${r.entries} entries of ${r.origin} (sequencer ${r.sequencer}, co-signer ${r.cosigner}), root ${r.root}, committed ${r.committed_size}, pending ${r.pending}; every entry, hash tile and the checkpoint verify (attachments not fetched)${changes}${witnessChanges}`);
    } else {
      show(false, `AUDIT FAILED: ${r.reason}`);
    }
  };
  worker.postMessage({ module, url, token, names: keys.names, texts: keys.texts });
}

function guarded(fn) {
  return () => fn().catch((e) => show(false, `error: ${e && e.message ? e.message : e}`));
}

$('verify-receipt').addEventListener('click', guarded(verifyReceipt));
$('verify-evidence').addEventListener('click', guarded(verifyEvidence));
$('audit-log').addEventListener('click', guarded(auditLog));
