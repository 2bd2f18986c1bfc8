//! Reading a bundle for `dyad sync import`, streaming: records are checked as they come
//! (form, order, that each parses), attachment bytes are checked against the entry that
//! names them and staged in the attachment store without a name, and only a bundle whose
//! `end` line checks out is returned (spec/sync.md section 1.1). Memory holds the entries,
//! submissions and notes, as applying them needs, and one chunk of an attachment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dyad_ledger::attachments::{self, Attachments, Receiving};
use dyad_ledger::entry::SignedEntry;
use dyad_ledger::tree::Hash;
use dyad_verifier::attachment::AttachmentCheck;

use super::attachments::{Named, NamedAttachments};
use crate::bundle::{BundleError, BundleReader, Record};
use crate::checkpoint_note;
use crate::error::{CliError, Result};
use crate::output::progress;

/// A bundle read whole and checked, its attachments staged.
pub struct Received {
    pub path: PathBuf,
    /// Every record but attachment records and their chunks, in order.
    pub records: Vec<Record>,
    /// The attachments the bundle carried, each checked against its entry: hash, size.
    pub carried: BTreeMap<Hash, u64>,
    /// Those of them this replica did not hold, staged: stored by [`Received::store_attachments`].
    staged: Vec<attachments::Received>,
}

impl Received {
    /// Stores the staged attachments under their names; returns how many.
    pub fn store_attachments(&mut self) -> Result<u64> {
        let staged = std::mem::take(&mut self.staged);
        let n = staged.len() as u64;
        for s in staged {
            s.commit()?;
        }
        Ok(n)
    }
}

/// The attachment whose chunks are being read.
struct Incoming {
    hash: Hash,
    named: Named,
    check: AttachmentCheck,
    /// Where its bytes go; `None` when an intact copy is held already.
    receiving: Option<Receiving>,
}

/// Reads the bundle at `path`, for the channel `origin`, staging its attachments in
/// `store` (`None`: this party has no replica, and a bundle with attachments is refused).
pub fn read_bundle(path: &Path, origin: &str, store: Option<&Attachments>) -> Result<Received> {
    let mut reader = BundleReader::open(path)?;
    if reader.origin() != origin {
        return Err(BundleError::WrongOrigin {
            path: path.to_owned(),
            expected: origin.to_owned(),
            found: reader.origin().to_owned(),
        }
        .into());
    }
    let bar = progress(reader.len(), "reading bundle");
    let mut reading = Reading {
        path,
        store,
        out: Received {
            path: path.to_owned(),
            records: Vec::new(),
            carried: BTreeMap::new(),
            staged: Vec::new(),
        },
        named: NamedAttachments::default(),
        incoming: None,
        submissions: 0,
    };
    // The first refusal waits for the end line: a bundle damaged in transit is reported
    // as such (its checksum), not as whatever the damage looks like.
    let mut refused = None;
    while let Some(record) = reader.next_record()? {
        bar.set_position(reader.position());
        if refused.is_none() {
            refused = reading.take(record).err();
        }
    }
    bar.finish_and_clear();
    // Dropping `reading` removes whatever was staged.
    if reader.checksum_ok() != Some(true) {
        return Err(reader.checksum_error().into());
    }
    match refused {
        Some(e) => Err(e),
        None => Ok(reading.out),
    }
}

/// The state of a bundle being read.
struct Reading<'a> {
    path: &'a Path,
    store: Option<&'a Attachments>,
    out: Received,
    named: NamedAttachments,
    incoming: Option<Incoming>,
    submissions: u64,
}

impl Reading<'_> {
    /// Takes the next record (in the order the decoder checked).
    fn take(&mut self, record: Record) -> Result<()> {
        let path = self.path;
        match record {
            Record::Attachment { sha256, size } => {
                self.incoming = Some(start(path, self.store, &self.named, sha256, size)?);
                if size == 0 {
                    finish(&mut self.out, self.incoming.take())?;
                }
            }
            Record::Chunk(bytes) => {
                // The decoder refuses a chunk that follows no attachment.
                let current = self
                    .incoming
                    .as_mut()
                    .ok_or_else(|| CliError::malformed(path, "a chunk follows no attachment"))?;
                chunk(path, current, &bytes)?;
                if current.check.seen() == current.named.size {
                    finish(&mut self.out, self.incoming.take())?;
                }
            }
            record => {
                let by = match &record {
                    Record::Entry { index, .. } => format!("entry {index}"),
                    Record::Submission(_) => {
                        self.submissions += 1;
                        format!("submission {}", self.submissions)
                    }
                    _ => String::new(),
                };
                parse(path, &record, &by, &mut self.named)?;
                self.out.records.push(record);
            }
        }
        Ok(())
    }
}

/// Checks that a record parses; notes the attachments an entry or submission names.
fn parse(path: &Path, record: &Record, by: &str, named: &mut NamedAttachments) -> Result<()> {
    let bad = |what: String| CliError::malformed(path, what);
    match record {
        Record::Entry { bytes, .. } | Record::Submission(bytes) => {
            let e = SignedEntry::decode(bytes)
                .map_err(|e| bad(format!("{by} does not decode: {e}")))?;
            named.note(&e, || by.to_owned());
        }
        Record::Checkpoint(note) | Record::Cosigned(note) => {
            checkpoint_note::parse(note)
                .map_err(|e| bad(format!("a {} record is {e}", record.tag())))?;
        }
        _ => {}
    }
    Ok(())
}

/// An attachment record: named by the bundle's entries with this size, within the
/// channel's limit; its bytes go to a staged file unless an intact copy is held.
fn start(
    path: &Path,
    store: Option<&Attachments>,
    named: &NamedAttachments,
    hash: Hash,
    size: u64,
) -> Result<Incoming> {
    let hex = hex::encode(hash);
    let refuse = |message: String| CliError::check(format!("{}: {message}", path.display()));
    let Some(store) = store else {
        return Err(refuse(format!(
            "it carries attachment {hex}, but this party has no replica to store it in"
        )));
    };
    let Some(n) = named.get(&hash) else {
        return Err(refuse(format!(
            "it carries attachment {hex}, which none of its entries or submissions names"
        )));
    };
    if n.size != size {
        return Err(refuse(format!(
            "it carries {size} bytes for {}",
            n.describe(&hash)
        )));
    }
    if size > store.max_size() {
        return Err(refuse(format!(
            "{} is over the channel's limit of {} bytes",
            n.describe(&hash),
            store.max_size()
        )));
    }
    let receiving = if store.holds(&hash, size)? {
        None
    } else {
        Some(store.receive(hash, size)?)
    };
    Ok(Incoming {
        hash,
        named: n.clone(),
        check: AttachmentCheck::expecting(hash, size),
        receiving,
    })
}

fn changed(path: &Path, named: &Named, hash: &Hash, why: impl std::fmt::Display) -> CliError {
    CliError::check_hint(
        format!(
            "{}: {} in the bundle is not the one named: {why}; nothing was stored or co-signed",
            path.display(),
            named.describe(hash)
        ),
        "the bundle was altered or damaged: ask the peer for a new one",
    )
}

fn chunk(path: &Path, current: &mut Incoming, bytes: &[u8]) -> Result<()> {
    current
        .check
        .update(bytes)
        .map_err(|e| changed(path, &current.named, &current.hash, e))?;
    if let Some(r) = current.receiving.as_mut() {
        r.write(bytes)?;
    }
    Ok(())
}

/// The attachment's bytes are complete: checked, and staged if they were to be stored.
fn finish(out: &mut Received, current: Option<Incoming>) -> Result<()> {
    let Some(current) = current else {
        return Ok(());
    };
    let Incoming {
        hash,
        named,
        check,
        receiving,
    } = current;
    if let Err(e) = check.finish() {
        return Err(changed(&out.path, &named, &hash, e));
    }
    if let Some(r) = receiving {
        out.staged.push(r.finish_staged()?);
    }
    out.carried.insert(hash, named.size);
    Ok(())
}
