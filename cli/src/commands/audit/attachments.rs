//! The audit's attachment check: every attachment every entry names is present, of its
//! size and SHA-256 (spec/dyad.md section 3.5), each checked once, streamed through
//! `dyad_verifier::attachment::AttachmentCheck` (never held in memory, never read past its
//! size). The sources are a replica's attachment store (`--data`), the node's
//! `GET /attachment/<hash>` (`--url`) and a bundle's attachment records (`--bundle`, see
//! [`BundleAttachments`]). It runs after the log itself passed, so the entries it reads
//! are the audited ones.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

use dyad_verifier::attachment::{AttachmentCheck, AttachmentError};
use dyad_verifier::audit::NamedAttachment;
use dyad_verifier::entry::{self as entry_codec, Attachment};
use dyad_verifier::Hash;
use serde_json::{json as j, Value};

use super::AuditFailure;
use crate::output::progress;

/// Bytes read at a time from a file.
const READ_CHUNK: usize = 64 * 1024;

/// What the audit did about attachments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachmentsAudit {
    /// `--skip-attachments`.
    Skipped,
    /// Every attachment checked: how many distinct ones, and their bytes.
    Checked { count: u64, bytes: u64 },
}

impl AttachmentsAudit {
    pub fn line(&self) -> String {
        match self {
            AttachmentsAudit::Skipped => {
                "  attachments  NOT checked (--skip-attachments): their presence, size and SHA-256 are unverified".to_owned()
            }
            AttachmentsAudit::Checked { count, bytes } => format!(
                "  attachments  {count} checked ({bytes} bytes): each present, of the size and SHA-256 its entry names"
            ),
        }
    }

    pub fn json(&self) -> Value {
        match self {
            AttachmentsAudit::Skipped => j!({ "checked": false }),
            AttachmentsAudit::Checked { count, bytes } => {
                j!({ "checked": true, "count": count, "bytes": bytes })
            }
        }
    }
}

/// What is wrong with one attachment.
#[derive(Debug)]
pub enum Problem {
    Missing,
    Wrong(AttachmentError),
}

/// The first attachment found wrong, with the entry that names it.
#[derive(Debug)]
pub struct AttachmentFailure {
    pub index: u64,
    pub name: String,
    pub sha256: Hash,
    pub size: u64,
    pub problem: Problem,
}

impl AttachmentFailure {
    fn new(index: u64, a: &Attachment, problem: Problem) -> AttachmentFailure {
        AttachmentFailure {
            index,
            name: a.name.clone(),
            sha256: a.sha256,
            size: a.size,
            problem,
        }
    }

    /// One word for the JSON report: missing, too-short, too-long, changed.
    pub fn what(&self) -> &'static str {
        match &self.problem {
            Problem::Missing => "missing",
            Problem::Wrong(AttachmentError::AttachmentTooShort { .. }) => "too-short",
            Problem::Wrong(AttachmentError::AttachmentTooLong { .. }) => "too-long",
            Problem::Wrong(_) => "changed",
        }
    }

    pub fn json(&self) -> Value {
        j!({
            "name": self.name,
            "sha256": hex::encode(self.sha256),
            "size": self.size,
            "problem": self.what(),
        })
    }
}

impl std::fmt::Display for AttachmentFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "entry {}: attachment {:?} (SHA-256 {}, {} bytes) is ",
            self.index,
            self.name,
            hex::encode(self.sha256),
            self.size
        )?;
        match &self.problem {
            Problem::Missing => f.write_str("missing"),
            Problem::Wrong(e @ AttachmentError::AttachmentTooShort { .. }) => {
                write!(f, "too short: {e}")
            }
            Problem::Wrong(e @ AttachmentError::AttachmentTooLong { .. }) => {
                write!(f, "too long: {e}")
            }
            Problem::Wrong(e) => write!(f, "changed: {e}"),
        }
    }
}

/// The bytes of one attachment from a source, in chunks; `None`: the source lacks it.
type Chunks<'a> = Box<dyn Iterator<Item = Result<Vec<u8>, String>> + 'a>;

/// Checks every attachment the audit found named (each distinct one once, with the first
/// entry naming it) against what `open` yields for it; stops at the first problem.
fn check_named<'s>(
    named: &[NamedAttachment],
    mut open: impl FnMut(&Attachment) -> Result<Option<Chunks<'s>>, String>,
) -> Result<AttachmentsAudit, AuditFailure> {
    let bar = progress(named.len() as u64, "checking attachments");
    let (mut count, mut bytes) = (0u64, 0u64);
    let result = (|| {
        for NamedAttachment {
            index,
            attachment: a,
        } in named
        {
            bar.inc(1);
            let index = *index;
            let fail = |p| AuditFailure::Attachment(AttachmentFailure::new(index, a, p));
            let source_error = |e: String| {
                AuditFailure::Source(format!(
                    "entry {index}: attachment {:?} (SHA-256 {}): {e}",
                    a.name,
                    hex::encode(a.sha256)
                ))
            };
            let Some(chunks) = open(a).map_err(source_error)? else {
                return Err(fail(Problem::Missing));
            };
            let mut check = AttachmentCheck::new(a);
            for chunk in chunks {
                let chunk = chunk.map_err(source_error)?;
                check.update(&chunk).map_err(|e| fail(Problem::Wrong(e)))?;
            }
            check.finish().map_err(|e| fail(Problem::Wrong(e)))?;
            count += 1;
            bytes += a.size;
        }
        Ok(AttachmentsAudit::Checked { count, bytes })
    })();
    bar.finish_and_clear();
    result
}

/// The file's bytes in chunks, at most `limit` of them.
fn file_chunks(file: File, limit: u64) -> Chunks<'static> {
    let mut file = file.take(limit);
    let mut done = false;
    Box::new(std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            match file.read(&mut buf) {
                Ok(0) => {
                    done = true;
                    return None;
                }
                Ok(n) => {
                    buf.truncate(n);
                    return Some(Ok(buf));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    done = true;
                    return Some(Err(e.to_string()));
                }
            }
        }
    }))
}

/// Checks the attachments the audit found named in the attachment store of the data
/// directory `dir` (`<dir>/attachments/<hex>`), read as plain files: nothing is created
/// or removed.
pub fn check_in_dir(
    dir: &Path,
    named: &[NamedAttachment],
) -> Result<AttachmentsAudit, AuditFailure> {
    let store = dir.join("attachments");
    check_named(named, |a| {
        let path = store.join(hex::encode(a.sha256));
        match File::open(&path) {
            // One byte more than the size, so that a longer file is noticed.
            Ok(file) => Ok(Some(file_chunks(file, a.size.saturating_add(1)))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    })
}

/// Checks the attachments the audit found named, served at `<url>/attachment/<hex>`
/// (spec/node.md 2.2), streamed with the audit's read credential; a 404 is a missing
/// attachment.
pub fn check_at_url(
    client: &dyad_node::BlockingClient,
    named: &[NamedAttachment],
) -> Result<AttachmentsAudit, AuditFailure> {
    let base = client.tile_client().base_url().to_owned();
    check_named(named, |a| {
        let url = format!("{base}/attachment/{}", hex::encode(a.sha256));
        // The whole transfer, at a slow 1 MiB per second and a minute more.
        let timeout = Duration::from_secs(60 + (a.size >> 20));
        let request = client.tile_client().http().get(&url).timeout(timeout);
        // `send` starts the timeout's timer: it runs on the client's runtime.
        let mut response = client
            .block_on(async { request.send().await })
            .map_err(|e| format!("{url}: {e}"))?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            status => return Err(format!("{url}: the server answered {status}")),
        }
        // Read at most one byte past the size (the check stops at the first byte too many).
        let mut left = a.size.saturating_add(1);
        let chunks = std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            match client.block_on(response.chunk()) {
                Ok(Some(bytes)) => {
                    let n = (bytes.len() as u64).min(left);
                    left -= n;
                    Some(Ok(bytes[..n as usize].to_vec()))
                }
                Ok(None) => None,
                Err(e) => Some(Err(format!("{url}: {e}"))),
            }
        });
        Ok(Some(Box::new(chunks) as Chunks<'_>))
    })
}

/// An attachment an entry of a bundle names: the first entry naming it, the attachment,
/// and the outcome of its check (`None`: the bundle does not carry it).
type NamedInBundle = (u64, Attachment, Option<Result<(), AttachmentError>>);

/// A bundle's attachment records checked against the entries before them as the bundle
/// is read (entries come first: spec/sync.md section 1), for [`BundleAttachments::verdict`]
/// once the log passed.
#[derive(Default)]
pub struct BundleAttachments {
    /// Every attachment named, by hash and size.
    named: BTreeMap<(Hash, u64), NamedInBundle>,
    /// The checks of the attachment record being read, one per size named for its hash.
    reading: Vec<((Hash, u64), AttachmentCheck)>,
}

impl BundleAttachments {
    /// An entry record: notes what it names.
    pub fn entry(&mut self, index: u64, bytes: &[u8]) {
        let Ok(entry) = entry_codec::decode(bytes) else {
            return; // the audit reports it
        };
        for a in entry.attachments {
            self.named
                .entry((a.sha256, a.size))
                .or_insert((index, a, None));
        }
    }

    /// An attachment record: its chunks are checked against every size named for it.
    pub fn attachment(&mut self, sha256: Hash, _size: u64) {
        self.close();
        self.reading = self
            .named
            .range((sha256, 0)..=(sha256, u64::MAX))
            .map(|(key, (_, a, _))| (*key, AttachmentCheck::new(a)))
            .collect();
        self.close_if_complete();
    }

    pub fn chunk(&mut self, bytes: &[u8]) {
        let mut failed = Vec::new();
        for (key, check) in &mut self.reading {
            if let Err(e) = check.update(bytes) {
                failed.push((*key, e));
            }
        }
        for (key, e) in failed {
            self.reading.retain(|(k, _)| *k != key);
            if let Some(named) = self.named.get_mut(&key) {
                named.2 = Some(Err(e));
            }
        }
        self.close_if_complete();
    }

    /// Attachments of size 0, or whose bytes all came: their checks end.
    fn close_if_complete(&mut self) {
        if self
            .reading
            .iter()
            .all(|((_, size), check)| check.seen() >= *size)
        {
            self.close();
        }
    }

    /// Ends the checks of the attachment record being read.
    pub fn close(&mut self) {
        for (key, check) in std::mem::take(&mut self.reading) {
            if let Some(named) = self.named.get_mut(&key) {
                named.2 = Some(check.finish());
            }
        }
    }

    /// The first attachment (by entry index) the bundle does not carry intact.
    pub fn verdict(mut self) -> Result<AttachmentsAudit, AuditFailure> {
        self.close();
        let mut worst: Option<AttachmentFailure> = None;
        let (mut count, mut bytes) = (0, 0);
        for (index, a, outcome) in self.named.into_values() {
            let problem = match outcome {
                Some(Ok(())) => {
                    count += 1;
                    bytes += a.size;
                    continue;
                }
                Some(Err(e)) => Problem::Wrong(e),
                None => Problem::Missing,
            };
            if worst.as_ref().is_none_or(|w| index < w.index) {
                worst = Some(AttachmentFailure::new(index, &a, problem));
            }
        }
        match worst {
            Some(f) => Err(AuditFailure::Attachment(f)),
            None => Ok(AttachmentsAudit::Checked { count, bytes }),
        }
    }
}
