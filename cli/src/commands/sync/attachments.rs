//! The attachments a bundle carries (spec/sync.md sections 1.1 and 2): which ones an
//! export writes, and what an import requires before it co-signs or appends.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};

use dyad_ledger::attachments::Attachments;
use dyad_ledger::channel::Channel;
use dyad_ledger::entry::{Attachment, SignedEntry};
use dyad_ledger::sync::WriteAttachmentError;
use dyad_ledger::tree::Hash;

use crate::bundle::BundleWriter;
use crate::error::{CliError, Result};
use crate::output::progress;

/// An attachment as the first entry or submission of a bundle that names it.
#[derive(Clone, Debug)]
pub struct Named {
    pub size: u64,
    /// "entry 12", "submission 3".
    pub by: String,
    pub name: String,
}

impl Named {
    fn of(a: &Attachment, by: String) -> Named {
        Named {
            size: a.size,
            by,
            name: a.name.clone(),
        }
    }

    /// "entry 12's attachment "report.pdf" (2500000 bytes, SHA-256 ab…)".
    pub fn describe(&self, hash: &Hash) -> String {
        format!(
            "{}'s attachment {:?} ({} bytes, SHA-256 {})",
            self.by,
            self.name,
            self.size,
            hex::encode(hash)
        )
    }
}

/// The attachments named by the entries and submissions of a bundle, each once (the first
/// naming wins), in the order a bundle carries them: ascending hash.
#[derive(Default)]
pub struct NamedAttachments(pub BTreeMap<Hash, Named>);

impl NamedAttachments {
    /// Notes the attachments `entry` names, as `by` ("entry 12").
    pub fn note(&mut self, entry: &SignedEntry, by: impl Fn() -> String) {
        for a in &entry.entry.body.attachments {
            self.0.entry(a.sha256).or_insert_with(|| Named::of(a, by()));
        }
    }

    /// Notes the attachments of an entry's bytes (which the store or queue decoded before).
    pub fn note_bytes(&mut self, bytes: &[u8], by: impl Fn() -> String) -> Result<()> {
        let entry = SignedEntry::decode(bytes)
            .map_err(|e| CliError::check(format!("{} does not decode: {e}", by())))?;
        self.note(&entry, by);
        Ok(())
    }

    pub fn get(&self, hash: &Hash) -> Option<&Named> {
        self.0.get(hash)
    }
}

/// Writes every named attachment into the bundle, read from `store` one chunk at a time and
/// checked as it goes. Returns how many, and their bytes.
pub fn write_attachments<W: Write>(
    writer: &mut BundleWriter<W>,
    store: &Attachments,
    named: &NamedAttachments,
) -> Result<(u64, u64)> {
    let total: u64 = named.0.values().map(|n| n.size).sum();
    let bar = progress(total, "exporting attachments");
    let mut bytes = 0;
    for (hash, n) in &named.0 {
        let path = store.path_of(hash);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CliError::check_hint(
                    format!("cannot export {}: this replica does not hold it", n.describe(hash)),
                    "restore it into the data directory's attachments/ (from the party that sent it), then export again",
                ))
            }
            Err(e) => return Err(CliError::read(&path)(e)),
        };
        writer
            .attachment(*hash, n.size, bar.wrap_read(file))
            .map_err(|e| match e {
                WriteAttachmentError::Write(e) => CliError::Output(e),
                WriteAttachmentError::Read(e) => CliError::read(&path)(e),
                WriteAttachmentError::Content(e) => CliError::check_hint(
                    format!(
                        "cannot export {}: this replica's copy {} is damaged: {e}",
                        n.describe(hash),
                        path.display()
                    ),
                    "restore an intact copy (from the party that sent it), then export again",
                ),
            })?;
        bytes += n.size;
    }
    bar.finish_and_clear();
    Ok((named.0.len() as u64, bytes))
}

/// An attachment an entry needs that is neither held intact nor carried by the bundle.
fn lacking(what: &str, a: &Attachment, consequence: &str, hint: String) -> CliError {
    CliError::check_hint(
        format!(
            "{what} names attachment {:?} (SHA-256 {}, {} bytes), which this replica does not hold and the bundle does not carry: {consequence}",
            a.name,
            hex::encode(a.sha256),
            a.size
        ),
        hint,
    )
}

/// Whether the attachment is carried by the bundle or held intact.
fn at_hand(store: &Attachments, carried: &BTreeMap<Hash, u64>, a: &Attachment) -> Result<bool> {
    Ok(carried.get(&a.sha256) == Some(&a.size) || store.holds(&a.sha256, a.size)?)
}

/// The co-signer's rule (spec/sync.md section 3): before it co-signs a checkpoint over
/// `new_entries` (which follow the entries it holds), every attachment an entry below the
/// checkpoint names is at hand: the new entries' ones held intact or carried, the held
/// entries' ones present with their size (they were checked when those were co-signed).
pub fn require_for_cosigning(
    channel: &Channel,
    store: &Attachments,
    new_entries: &[Vec<u8>],
    carried: &BTreeMap<Hash, u64>,
) -> Result<()> {
    let held = channel.size();
    let consequence = "nothing was co-signed";
    for (i, bytes) in new_entries.iter().enumerate() {
        let index = held + i as u64;
        let entry = SignedEntry::decode(bytes)
            .map_err(|e| CliError::check(format!("entry {index} does not decode: {e}")))?;
        for a in &entry.entry.body.attachments {
            if !at_hand(store, carried, a)? {
                let hint = "ask the sequencer for a new bundle (`dyad sync export` carries the attachments of the entries it exports)";
                return Err(lacking(
                    &format!("entry {index}"),
                    a,
                    consequence,
                    hint.into(),
                ));
            }
        }
    }
    let bar = progress(held, "checking held attachments");
    for item in channel.store().leaves(0..held)? {
        let (index, bytes) = item?;
        bar.inc(1);
        let Ok(entry) = SignedEntry::decode(&bytes) else {
            continue; // the genesis, or what the store's own checks report
        };
        for a in &entry.entry.body.attachments {
            let present = std::fs::metadata(store.path_of(&a.sha256))
                .is_ok_and(|m| m.is_file() && m.len() == a.size);
            if !present && carried.get(&a.sha256) != Some(&a.size) {
                let hint = format!(
                    "ask the sequencer for `dyad sync export --from {index}`, which carries it"
                );
                return Err(lacking(&format!("entry {index}"), a, consequence, hint));
            }
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// The sequencer's rule: every attachment a submission names is held intact or carried.
pub fn require_for_appending(
    submissions: &[SignedEntry],
    store: &Attachments,
    carried: &BTreeMap<Hash, u64>,
) -> Result<()> {
    for (i, entry) in submissions.iter().enumerate() {
        for a in &entry.entry.body.attachments {
            if !at_hand(store, carried, a)? {
                let what = format!(
                    "submission {} (the co-signer's message {})",
                    i + 1,
                    entry.entry.body.sequence
                );
                let hint = "ask the co-signer for a new bundle (`dyad sync export` carries its messages' attachments)";
                return Err(lacking(&what, a, "nothing was appended", hint.into()));
            }
        }
    }
    Ok(())
}
