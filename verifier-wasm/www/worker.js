// The whole-log audit, in a Web Worker: fetches what the verifier's LogAudit asks for
// (the checkpoint, then entry bundles and hash tiles in order) and feeds it back. Given
// the compiled wasm module, the log URL, a read token or null, and the key files.
'use strict';

self.onmessage = async ({ data }) => {
  const { module, url, token, names, texts } = data;
  const base = url.replace(/\/+$/, '');
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const get = async (path) => {
    const resp = await fetch(`${base}/${path}`, { headers, cache: 'no-store' });
    return { status: resp.status, bytes: new Uint8Array(await resp.arrayBuffer()) };
  };
  const done = (result) => self.postMessage({ result });
  let audit;
  try {
    wasm_bindgen.initSync({ module });
    audit = new wasm_bindgen.LogAudit(names, texts);
  } catch (e) {
    return done({ valid: false, reason: String(e && e.message ? e.message : e) });
  }
  try {
    const cp = await get('checkpoint');
    if (cp.status !== 200) return done({ valid: false, reason: `${base}/checkpoint: HTTP ${cp.status}` });
    let answer = JSON.parse(audit.start(cp.bytes));
    if (!answer.valid) return done(answer);
    let last = 0;
    for (;;) {
      const next = JSON.parse(audit.next_request());
      if (next.done) break;
      let got = await get(next.path);
      let full = false;
      if (got.status === 404 && next.fallback) {
        got = await get(next.fallback);
        full = true;
      }
      if (got.status !== 200) return done({ valid: false, reason: `${base}/${next.path}: HTTP ${got.status}` });
      answer = JSON.parse(audit.feed(got.bytes, full));
      if (!answer.valid) return done(answer);
      if (answer.done !== last) {
        last = answer.done;
        self.postMessage({ progress: { done: answer.done, total: answer.total } });
      }
    }
    done(JSON.parse(audit.finish()));
  } catch (e) {
    done({ valid: false, reason: `${base}: ${e && e.message ? e.message : e}` });
  } finally {
    audit.free();
  }
};
