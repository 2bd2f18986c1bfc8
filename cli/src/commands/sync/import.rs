//! `dyad sync import`: reads and checks a whole bundle from the peer, then applies it to
//! the replica (see the parent module).

use std::path::Path;

use dyad_ledger::attachments::Attachments;
use dyad_ledger::channel::{Channel, ChannelError, Role};
use dyad_ledger::entry::SignedEntry;
use dyad_ledger::keys::SignerKey;
use serde_json::json as j;

use super::attachments::{require_for_appending, require_for_cosigning};
use super::received::{read_bundle, Received};
use crate::bundle::Record;
use crate::checkpoint_note;
use crate::commands::init::{import_genesis, GenesisImport};
use crate::data::{Config, DataDir};
use crate::error::{CliError, Result};
use crate::output::{json, now_ms, outln};
use crate::Ctx;

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub role: &'static str,
    pub genesis: Option<&'static str>,
    /// Entries the bundle carried that this replica already held, identical.
    pub entries_held: u64,
    /// Entries added (co-signer).
    pub entries_added: u64,
    /// Submissions newly appended, with their indexes (sequencer).
    pub appended: Vec<u64>,
    /// Submissions that were already in the log.
    pub already_appended: u64,
    /// The size this party co-signed (co-signer).
    pub cosigned: Option<u64>,
    /// The bundle's checkpoint was older than this replica (already co-signed).
    pub stale_checkpoint: Option<u64>,
    /// Attachments the bundle carried, and those of them newly stored here.
    pub attachments_carried: u64,
    pub attachments_stored: u64,
    pub size: u64,
    pub committed_size: u64,
}

/// A checkpoint note's size, to apply co-signed checkpoints in order (every note was
/// parsed before: [`read_bundle`]).
fn checkpoint_size(note: &[u8]) -> u64 {
    checkpoint_note::size(note).unwrap_or(0)
}

/// Entries the bundle carries that this replica holds must be byte-for-byte identical;
/// returns those beyond, which must continue the log without a gap.
fn split_held(
    channel: &Channel,
    bundle: &Received,
    summary: &mut ImportSummary,
) -> Result<Vec<Vec<u8>>> {
    let held = channel.size();
    let mut new = Vec::new();
    for r in &bundle.records {
        let Record::Entry { index, bytes } = r else {
            continue;
        };
        if *index < held {
            if channel.store().leaf(*index)? != *bytes {
                return Err(CliError::check_hint(
                    format!("entry {index} in the bundle differs from this replica's entry {index}: the log was rewritten, or the bundle forged"),
                    "keep the bundle: with this replica it is evidence; `dyad audit --bundle` on it names what is wrong",
                ));
            }
            summary.entries_held += 1;
        } else if *index == held + new.len() as u64 {
            new.push(bytes.clone());
        } else {
            return Err(CliError::check_hint(
                format!("the bundle's entries start at {index} but this replica holds only {held}: entries {held}..{} are missing", index - 1),
                format!("ask the sequencer for `dyad sync export --from {held}`"),
            ));
        }
    }
    Ok(new)
}

fn refuse(bundle: &Received, message: &str, hint: &str) -> CliError {
    CliError::usage_hint(format!("{}: {message}", bundle.path.display()), hint)
}

/// Reads, checks and applies a bundle to the replica in `data`.
pub fn import(data: &DataDir, path: &Path) -> Result<ImportSummary> {
    let config = data.read_config()?;
    let role = config.role()?;
    // The attachment store, with the channel's size limit, if there is a replica yet.
    let store = if data.ledger_exists()? {
        let (_, channel) = data.open()?;
        Some(data.attachments(channel.genesis().max_attachment_size)?)
    } else {
        None
    };
    let mut bundle = read_checked(path, &config, role, store.as_ref())?;
    let mut summary = ImportSummary {
        role: role.as_str(),
        attachments_carried: bundle.carried.len() as u64,
        ..ImportSummary::default()
    };
    if let Some(Record::Genesis(bytes)) = bundle
        .records
        .iter()
        .find(|r| matches!(r, Record::Genesis(_)))
    {
        summary.genesis = Some(match import_genesis(data, &config, bytes)? {
            GenesisImport::Created => "created",
            GenesisImport::AlreadyHeld => "already-held",
        });
    }
    let (config, mut channel) = data.open()?;
    let key = config.signer_key()?;
    let store = match store {
        Some(s) => s,
        None => data.attachments(channel.genesis().max_attachment_size)?,
    };
    let new_entries = split_held(&channel, &bundle, &mut summary)?;
    let cosigned: Vec<Vec<u8>> = bundle
        .records
        .iter()
        .filter_map(|r| {
            if let Record::Cosigned(n) = r {
                Some(n.clone())
            } else {
                None
            }
        })
        .collect();
    // Signatures of every co-signed checkpoint are checked before anything is stored.
    for note in &cosigned {
        channel.verify_committed(note)?;
    }
    let submissions = submissions(&bundle);
    match role {
        Role::Cosigner if cosigns(&channel, &bundle) => {
            require_for_cosigning(&channel, &store, &new_entries, &bundle.carried)?;
        }
        Role::Cosigner => {}
        Role::Sequencer => require_for_appending(&submissions, &store, &bundle.carried)?,
    }
    // Every check of the bundle passed: its attachments are stored before the entries
    // that name them (spec/sync.md section 1.1).
    summary.attachments_stored = bundle.store_attachments()?;
    match role {
        Role::Cosigner => cosign_entries(&mut channel, &key, &bundle, &new_entries, &mut summary)?,
        Role::Sequencer => {
            append_submissions(&mut channel, &submissions, &new_entries, &mut summary)?
        }
    }
    add_cosigned(&mut channel, cosigned.iter().collect())?;
    summary.size = channel.size();
    summary.committed_size = channel.committed_size()?;
    Ok(summary)
}

/// Whether the bundle asks this co-signer to co-sign: it carries a checkpoint no smaller
/// than the replica (a smaller one is an old bundle).
fn cosigns(channel: &Channel, bundle: &Received) -> bool {
    bundle.records.iter().any(|r| match r {
        Record::Checkpoint(note) => checkpoint_size(note) >= channel.size(),
        _ => false,
    })
}

fn submissions(bundle: &Received) -> Vec<SignedEntry> {
    bundle
        .records
        .iter()
        .filter_map(|r| {
            if let Record::Submission(b) = r {
                SignedEntry::decode(b).ok()
            } else {
                None
            }
        })
        .collect()
}

/// Reads the whole bundle and checks it before anything is applied: intact, for this
/// channel, every record parses, its attachments are those its entries name (staged, not
/// stored yet), and meant for this party.
fn read_checked(
    path: &Path,
    config: &Config,
    role: Role,
    store: Option<&Attachments>,
) -> Result<Received> {
    let bundle = read_bundle(path, &config.origin, store)?;
    let has = |tag: &str| bundle.records.iter().any(|r| r.tag() == tag);
    if has("proposal") {
        return Err(refuse(
            &bundle,
            "this is a genesis proposal, not a sync bundle",
            "the co-signer accepts it with `dyad init --role cosigner --proposal FILE`",
        ));
    }
    match role {
        Role::Sequencer if has("checkpoint") => Err(refuse(
            &bundle,
            "this bundle was written by the sequencer (it carries a checkpoint to co-sign)",
            "import it on the co-signer's side",
        )),
        Role::Cosigner if has("submission") => Err(refuse(
            &bundle,
            "this bundle was written by the co-signer (it carries submissions)",
            "import it on the sequencer's side",
        )),
        _ => Ok(bundle),
    }
}

/// The co-signer's side: the sequencer's new entries and the checkpoint over them are
/// checked, added and co-signed in one step.
fn cosign_entries(
    channel: &mut Channel,
    key: &SignerKey,
    bundle: &Received,
    new_entries: &[Vec<u8>],
    summary: &mut ImportSummary,
) -> Result<()> {
    let checkpoint = bundle.records.iter().find_map(|r| {
        if let Record::Checkpoint(n) = r {
            Some(n)
        } else {
            None
        }
    });
    match checkpoint {
        Some(note) => match channel.accept_and_cosign(key, new_entries, note, now_ms()) {
            Ok(_) => {
                summary.entries_added = new_entries.len() as u64;
                summary.cosigned = Some(channel.size());
            }
            // Only after checking it matches what we hold: an old bundle again.
            Err(ChannelError::Rollback { size, .. }) => summary.stale_checkpoint = Some(size),
            Err(e) => return Err(e.into()),
        },
        None if !new_entries.is_empty() => {
            return Err(CliError::check(format!(
                "the bundle carries {} new entries but no checkpoint to co-sign them with",
                new_entries.len()
            )))
        }
        None => {}
    }
    Ok(())
}

/// The sequencer's side: the co-signer's submissions are appended (those already in the
/// log are counted, not appended twice); entries it never appended mean a fork.
fn append_submissions(
    channel: &mut Channel,
    submissions: &[SignedEntry],
    new_entries: &[Vec<u8>],
    summary: &mut ImportSummary,
) -> Result<()> {
    if !new_entries.is_empty() {
        return Err(CliError::check(format!(
            "the bundle carries entries from {} that this sequencer never appended: the replicas diverged",
            channel.size()
        )));
    }
    if !submissions.is_empty() {
        for a in channel.append_signed(submissions, now_ms())? {
            if a.existing {
                summary.already_appended += 1;
            } else {
                summary.appended.push(a.index);
            }
        }
    }
    Ok(())
}

/// Records the bundle's co-signed checkpoints (their signatures already checked), in
/// order of size; each must cover only entries this replica holds.
fn add_cosigned(channel: &mut Channel, mut cosigned: Vec<&Vec<u8>>) -> Result<()> {
    cosigned.sort_by_key(|n| checkpoint_size(n));
    for note in cosigned {
        let size = checkpoint_size(note);
        if size > channel.size() {
            return Err(CliError::check(format!(
                "the bundle's co-signed checkpoint of size {size} covers entries this replica does not hold ({})",
                channel.size()
            )));
        }
        channel.add_committed_checkpoint(note)?;
    }
    Ok(())
}

fn import_lines(s: &ImportSummary) -> Vec<String> {
    let mut lines = Vec::new();
    match s.genesis {
        Some("created") => lines.push("created the replica from the signed genesis".to_owned()),
        Some(_) => lines.push("the genesis matches this replica's".to_owned()),
        None => {}
    }
    if s.entries_held > 0 {
        lines.push(format!(
            "{} entries already held, identical",
            s.entries_held
        ));
    }
    if s.entries_added > 0 {
        lines.push(format!("checked and added {} entries", s.entries_added));
    }
    if s.attachments_carried > 0 {
        lines.push(format!(
            "checked {} attachment(s) the bundle carried, {} of them newly stored",
            s.attachments_carried, s.attachments_stored
        ));
    }
    if let Some(size) = s.cosigned {
        lines.push(format!("co-signed the checkpoint of size {size}"));
    }
    if let Some(size) = s.stale_checkpoint {
        lines.push(format!(
            "the bundle's checkpoint (size {size}) is older than this replica: nothing to co-sign"
        ));
    }
    if !s.appended.is_empty() {
        let first = s.appended[0];
        let last = s.appended[s.appended.len() - 1];
        lines.push(format!(
            "appended {} submission(s) at {}",
            s.appended.len(),
            if first == last {
                format!("index {first}")
            } else {
                format!("indexes {first}..{last}")
            }
        ));
    }
    if s.already_appended > 0 {
        lines.push(format!(
            "{} submission(s) were already in the log",
            s.already_appended
        ));
    }
    lines
}

/// `dyad sync import FILE`: applies it, then says what changed and what to do next.
pub(super) fn run(ctx: &Ctx, file: &Path) -> Result<()> {
    let s = import(&ctx.data_dir(), file)?;
    let next = match s.role {
        "cosigner" if s.cosigned.is_some() => "send the co-signature back: `dyad sync export --out FILE` and import FILE on the sequencer",
        "sequencer" if s.size > s.committed_size => "have the pending entries co-signed: `dyad sync export --out FILE` and import FILE on the co-signer",
        _ => "nothing waits",
    };
    if ctx.json {
        json(&j!({
            "role": s.role,
            "genesis": s.genesis,
            "entries_held": s.entries_held,
            "entries_added": s.entries_added,
            "appended": s.appended,
            "already_appended": s.already_appended,
            "cosigned_size": s.cosigned,
            "stale_checkpoint_size": s.stale_checkpoint,
            "attachments_carried": s.attachments_carried,
            "attachments_stored": s.attachments_stored,
            "size": s.size,
            "committed_size": s.committed_size,
            "pending": s.size - s.committed_size,
        }))?;
    } else {
        outln(&format!("imported {}:", file.display()))?;
        for line in import_lines(&s) {
            outln(&format!("  {line}"))?;
        }
        outln(&format!(
            "  the log now has {} entries: {} committed, {} pending",
            s.size,
            s.committed_size,
            s.size - s.committed_size
        ))?;
        outln(&format!("next: {next}"))?;
    }
    Ok(())
}
