//! A whole log's audit over the C2SP tlog-tiles API, driven from outside: the caller (the
//! page's Web Worker) fetches what [`LogAudit::next_request`] names and hands the bytes to
//! [`LogAudit::feed`]. Every check is the verifier's: the [`Auditor`] takes every entry
//! and the checkpoint exactly as `dyad audit --url` feeds them (leaf 0, then the
//! checkpoint, then the other leaves), and the [`TileChecker`] checks every hash tile
//! against the entries, as `dyad audit --url` does after the audit.
//!
//! Unlike the native audit, which reads the entries twice (the audit, then the hash
//! tiles), this reads each entry bundle once and asks for each hash tile as soon as the
//! entries it covers were audited: the verdict is the same; when a log is wrong in both an
//! entry and a hash tile, the first problem met is the one named. The attachments are not
//! fetched (as `dyad audit --url --skip-attachments`). Memory: one bundle, at most 256
//! hashes per tile level, and the auditor's own flat state.

use std::collections::VecDeque;

use dyad_verifier::audit::{AuditReport, AuditTrust, Auditor};
use dyad_verifier::checkpoint;
use dyad_verifier::hash::leaf_hash;
use dyad_verifier::tiles::{TileChecker, TileId};
use dyad_verifier::Kind;
use serde_json::{json, Value};

use crate::{b64, key_changes_json, keys, refused, witness_changes_json};

/// Entries per bundle and hashes per tile (C2SP tlog-tiles).
const FULL_WIDTH: u16 = 256;
/// A bundle's largest size: 256 entries of at most 65535 bytes, each with its length.
const MAX_BUNDLE_BYTES: usize = FULL_WIDTH as usize * (2 + u16::MAX as usize);

/// What must be fetched next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    /// Entry bundle `index` with `width` entries.
    Entries { index: u64, width: u16 },
    /// A hash tile the tile checker asked for.
    Hashes(TileId),
}

/// The audit in progress.
pub struct LogAudit {
    trust: AuditTrust,
    auditor: Option<Auditor>,
    tiles: TileChecker,
    note: Vec<u8>,
    size: u64,
    /// The next entry index to audit.
    next_entry: u64,
    /// Entries of the current bundle not yet audited (a hash tile was due before them).
    held: VecDeque<Vec<u8>>,
    queue: VecDeque<Request>,
    partial_tiles_asked: bool,
    failed: Option<String>,
    report: Option<AuditReport>,
}

/// The tlog-tiles path of an index: groups of three digits, all but the last prefixed `x`.
fn encode_index(mut n: u64) -> String {
    let mut s = format!("{:03}", n % 1000);
    while n >= 1000 {
        n /= 1000;
        s = format!("x{:03}/{s}", n % 1000);
    }
    s
}

fn tile_path(level: &str, index: u64, width: u16) -> String {
    let mut p = format!("tile/{level}/{}", encode_index(index));
    if width != FULL_WIDTH {
        p.push_str(&format!(".p/{width}"));
    }
    p
}

/// An entry bundle of exactly `width` entries, nothing after the last (tlog-tiles).
fn parse_bundle(bytes: &[u8], width: u16) -> Result<Vec<Vec<u8>>, String> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(format!(
            "an entry bundle of {} bytes is too large",
            bytes.len()
        ));
    }
    let mut out = Vec::with_capacity(usize::from(width));
    let mut rest = bytes;
    for entry in 0..width {
        let truncated = || format!("the entry bundle ends inside entry {entry} of {width}");
        let (len, tail) = rest.split_first_chunk::<2>().ok_or_else(truncated)?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(truncated());
        }
        let (data, tail) = tail.split_at(len);
        out.push(data.to_vec());
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(format!(
            "the entry bundle has {} bytes after its {width} entries",
            rest.len()
        ));
    }
    Ok(out)
}

impl LogAudit {
    /// An audit trusting the two parties whose `.pub` files are given (`(name, text)`).
    pub fn new(key_files: &[(String, String)]) -> Result<LogAudit, String> {
        let files = keys::read(key_files).map_err(|e| e.to_string())?;
        let (a, b) = files.two_parties().map_err(|e| e.to_string())?;
        Ok(LogAudit {
            trust: AuditTrust::Parties([a, b]),
            auditor: None,
            tiles: TileChecker::new(),
            note: Vec::new(),
            size: 0,
            next_entry: 0,
            held: VecDeque::new(),
            queue: VecDeque::new(),
            partial_tiles_asked: false,
            failed: None,
            report: None,
        })
    }

    /// Starts with the log's checkpoint note (its `/checkpoint`): the size it claims is
    /// what is audited, and the note itself is checked by the auditor after leaf 0.
    pub fn start(&mut self, note: &[u8]) -> String {
        let answer = match checkpoint::parse_note(note) {
            Ok(cp) => match Auditor::new(self.trust.clone()) {
                Ok(auditor) => {
                    self.auditor = Some(auditor);
                    self.note = note.to_vec();
                    self.size = cp.size;
                    json!({"valid": true, "origin": cp.origin, "size": cp.size})
                }
                Err(e) => self.fail(e.to_string()),
            },
            Err(e) => self.fail(format!("the log's checkpoint: {e}")),
        };
        answer.to_string()
    }

    fn fail(&mut self, reason: String) -> Value {
        self.failed = Some(reason.clone());
        refused(reason)
    }

    /// The next thing to fetch, as JSON: `{"path", "fallback"}` (the fallback is the full
    /// bundle to read when a partial one is gone, as static exports keep only some), or
    /// `{"done": true}` once everything was fed and checked.
    pub fn next_request(&mut self) -> String {
        self.schedule();
        match self.queue.front() {
            _ if self.failed.is_some() || self.auditor.is_none() => json!({"done": true}),
            Some(Request::Entries { index, width }) => json!({
                "path": tile_path("entries", *index, *width),
                "fallback": (*width != FULL_WIDTH).then(|| tile_path("entries", *index, FULL_WIDTH)),
            }),
            Some(Request::Hashes(t)) => {
                json!({"path": tile_path(&t.level.to_string(), t.index, t.width), "fallback": null})
            }
            None => json!({"done": true}),
        }
        .to_string()
    }

    fn schedule(&mut self) {
        if !self.queue.is_empty() || !self.held.is_empty() || self.failed.is_some() {
            return;
        }
        if self.next_entry < self.size {
            let index = self.next_entry / u64::from(FULL_WIDTH);
            let width = (self.size - index * u64::from(FULL_WIDTH)).min(u64::from(FULL_WIDTH));
            self.queue.push_back(Request::Entries {
                index,
                width: width as u16,
            });
        } else if !self.partial_tiles_asked {
            self.partial_tiles_asked = true;
            self.queue
                .extend(self.tiles.partial_tiles().into_iter().map(Request::Hashes));
        }
    }

    /// Hands over the bytes fetched for the last request (`full_bundle`: the fallback,
    /// a full bundle, was read). Answers `{"valid": true, "done", "total"}` or the
    /// refusal that ends the audit.
    pub fn feed(&mut self, bytes: &[u8], full_bundle: bool) -> String {
        if let Some(reason) = &self.failed {
            return refused(reason).to_string();
        }
        let Some(request) = self.queue.pop_front() else {
            return self.fail("nothing was asked for".into()).to_string();
        };
        let step = match request {
            Request::Entries { index, width } => {
                let read_width = if full_bundle { FULL_WIDTH } else { width };
                parse_bundle(bytes, read_width)
                    .map_err(|e| format!("{}: {e}", tile_path("entries", index, width)))
                    .and_then(|mut entries| {
                        entries.truncate(usize::from(width));
                        self.held.extend(entries);
                        self.audit_held()
                    })
            }
            Request::Hashes(tile) => self
                .check_tile(tile, bytes)
                .and_then(|()| self.audit_held()),
        };
        match step {
            Ok(()) => {
                json!({"valid": true, "done": self.next_entry, "total": self.size}).to_string()
            }
            Err(reason) => self.fail(reason).to_string(),
        }
    }

    fn check_tile(&mut self, tile: TileId, bytes: &[u8]) -> Result<(), String> {
        let path = tile_path(&tile.level.to_string(), tile.index, tile.width);
        if bytes.len() != usize::from(tile.width) * 32 {
            return Err(format!(
                "{path}: {} bytes, not {} hashes",
                bytes.len(),
                tile.width
            ));
        }
        let hashes: Vec<[u8; 32]> = bytes
            .chunks_exact(32)
            .map(|c| c.try_into().unwrap_or([0; 32]))
            .collect();
        match self.tiles.check(tile, &hashes) {
            Ok(Some(next)) => {
                self.queue.push_front(Request::Hashes(next));
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(format!("hash tiles: {e}")),
        }
    }

    /// Audits the held entries until a hash tile is due or none are left.
    fn audit_held(&mut self) -> Result<(), String> {
        let Some(auditor) = self.auditor.as_mut() else {
            return Err("the audit was not started with a checkpoint".into());
        };
        while self.queue.is_empty() {
            let Some(entry) = self.held.pop_front() else {
                break;
            };
            auditor
                .push_leaf(&entry)
                .map_err(|e| format!("the log does not verify: {e}"))?;
            if self.next_entry == 0 {
                auditor
                    .check_checkpoint(&self.note)
                    .map_err(|e| format!("the log does not verify: {e}"))?;
            }
            self.next_entry += 1;
            match self.tiles.push_leaf(&leaf_hash(&entry)) {
                Ok(Some(due)) => self.queue.push_back(Request::Hashes(due)),
                Ok(None) => {}
                Err(e) => return Err(format!("hash tiles: {e}")),
            }
        }
        Ok(())
    }

    /// The verdict, once [`LogAudit::next_request`] says done: the report `dyad audit
    /// --url --json` gives (`"verdict": "pass"`) or the refusal.
    pub fn finish(&mut self) -> String {
        if let Some(reason) = &self.failed {
            return json!({"valid": false, "verdict": "fail", "reason": reason}).to_string();
        }
        if self.next_entry < self.size || !self.queue.is_empty() || !self.held.is_empty() {
            return refused("the audit is not finished").to_string();
        }
        let Some(mut auditor) = self.auditor.take() else {
            return refused("the audit was not started with a checkpoint").to_string();
        };
        if self.size == 0 {
            if let Err(e) = auditor.check_checkpoint(&self.note) {
                return self
                    .fail(format!("the log does not verify: {e}"))
                    .to_string();
            }
        }
        let report = match auditor.finish() {
            Ok(r) => r,
            Err(e) => {
                return self
                    .fail(format!("the log does not verify: {e}"))
                    .to_string()
            }
        };
        if self.size > 0 && self.tiles.root() != report.root {
            return self
                .fail("the entries read with the hash tiles do not give the audited root".into())
                .to_string();
        }
        let answer = report_json(&report);
        self.report = Some(report);
        answer.to_string()
    }
}

/// The report of a log that passed, with `dyad audit --json`'s field names.
pub fn report_json(r: &AuditReport) -> Value {
    let mut kinds = serde_json::Map::new();
    for (i, n) in r.kinds.iter().enumerate() {
        if let Some(k) = u8::try_from(i).ok().and_then(Kind::from_u8) {
            kinds.insert(k.as_str().to_owned(), (*n).into());
        }
    }
    json!({
        "valid": true,
        "verdict": "pass",
        "origin": r.genesis.origin,
        "sequencer": r.genesis.sequencer.name,
        "cosigner": r.genesis.cosigner.name,
        "entries": r.leaves,
        "committed_size": r.committed_size,
        "pending": r.pending,
        "checkpoints": r.checkpoints,
        "latest_checkpoint_size": r.latest_checkpoint.as_ref().map(|c| c.size),
        "root": b64(&r.root),
        "entries_by_sequencer": r.entries_by_sequencer,
        "entries_by_cosigner": r.entries_by_cosigner,
        "kinds": Value::Object(kinds),
        "key_changes": key_changes_json(&r.key_changes),
        "witness_changes": witness_changes_json(&r.witness_changes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_are_the_tlog_tiles_ones() {
        assert_eq!(tile_path("2", 1_234_067, 17), "tile/2/x001/x234/067.p/17");
        assert_eq!(tile_path("entries", 7, 256), "tile/entries/007");
    }

    #[test]
    fn bundles_are_parsed_strictly() {
        let bundle = [0, 1, b'a', 0, 2, b'b', b'c'];
        assert_eq!(
            parse_bundle(&bundle, 2).unwrap(),
            vec![b"a".to_vec(), b"bc".to_vec()]
        );
        assert!(parse_bundle(&bundle, 3).is_err());
        assert!(parse_bundle(&bundle[..6], 2).is_err());
        let mut longer = bundle.to_vec();
        longer.push(0);
        assert!(parse_bundle(&longer, 2).is_err());
    }
}
