//! `dyad sync export|import`: the offline exchange between the two parties, as
//! `dyad-sync/v1` bundle files (spec/sync.md) carried across an air gap.
//!
//! - The sequencer exports the entries the co-signer may lack, a freshly signed
//!   checkpoint to co-sign, its committed checkpoints and, until the first co-signature,
//!   the genesis. The co-signer exports its queued messages and its latest co-signature.
//! - Import reads and checks the whole bundle (checksum, origin, that every record
//!   parses, that it is meant for this party) before it touches the store; then every
//!   change is one of the replica's atomic, durable batches, each verified in full.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use dyad_ledger::channel::{Channel, ChannelError, Role};
use dyad_ledger::durable::{self, WriteOptions, Written};
use dyad_ledger::entry::SignedEntry;
use dyad_ledger::keys::SignerKey;
use serde_json::json as j;

use crate::bundle::{Bundle, BundleWriter, Record};
use crate::commands::init::{import_genesis, GenesisImport};
use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::output::{json, now_ms, outln, progress};
use crate::Ctx;

const EXPORT_EXAMPLES: &str = "\
Examples:
  dyad sync export --out to-bravo.dyad-sync           # what the peer lacks
  dyad sync export --from 0 --out full-log.dyad-sync  # the whole log, for `dyad audit --bundle`
  dyad sync export > bundle.dyad-sync                 # bundle on stdout, summary on stderr

Sequencer: writes the entries from --from N (default: the latest co-signed size), a freshly
signed checkpoint for the co-signer to co-sign, its co-signed checkpoints, and (until the
first co-signature) the genesis. Co-signer: writes its queued messages and its latest
co-signature (and with --from N, its entries from N, for an auditor).
The format is spec/sync.md: one record per line, ending with a record count and a SHA-256
of the whole file, so a truncated or altered copy is refused on import.";

const IMPORT_EXAMPLES: &str = "\
Examples:
  dyad sync import to-bravo.dyad-sync   # co-signer: check the entries, co-sign
  dyad sync import to-alpha.dyad-sync   # sequencer: append submissions, record the co-signature
  dyad sync import genesis.signed       # sequencer: create the replica from the signed genesis

Nothing is applied unless the whole file is intact, is for this channel, and every record
parses; then every entry and signature is verified before it is stored. Exit 1 means a
verification failed (a bad signature, a root that does not match, a rewritten entry): keep
the bundle, it may be evidence. Exit 2 means the file is unreadable, truncated or not for
this party.";

#[derive(Subcommand, Debug)]
pub enum SyncCommand {
    /// Write a bundle for the peer.
    #[command(after_help = EXPORT_EXAMPLES)]
    Export {
        /// First entry index to include (sequencer default: the latest co-signed size).
        #[arg(long, value_name = "N")]
        from: Option<u64>,
        /// Write the bundle to FILE (atomically) instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Check and apply a bundle from the peer.
    #[command(after_help = IMPORT_EXAMPLES)]
    Import {
        /// The bundle file.
        file: PathBuf,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub role: &'static str,
    pub records: u64,
    pub genesis: bool,
    /// Entries `[from, to)`.
    pub entries: Option<(u64, u64)>,
    pub submissions: u64,
    /// The size of the freshly signed checkpoint, if any.
    pub checkpoint: Option<u64>,
    /// The sizes of the co-signed checkpoints included.
    pub cosigned: Vec<u64>,
}

/// Writes the bundle for the peer into `w` (see the module documentation).
fn write_export<W: Write>(
    channel: &mut Channel,
    key: &SignerKey,
    from: Option<u64>,
    w: W,
) -> Result<(W, ExportSummary)> {
    let io_err = CliError::Output;
    let size = channel.size();
    let committed = channel.committed_size()?;
    let role = channel.role();
    let mut summary = ExportSummary {
        role: role.as_str(),
        ..ExportSummary::default()
    };
    let from = match (role, from) {
        (_, Some(n)) if n > size => {
            return Err(CliError::usage(format!(
                "--from {n}: the log has only {size} entries"
            )));
        }
        (_, Some(n)) => Some(n),
        (Role::Sequencer, None) => Some(committed),
        (Role::Cosigner, None) => None,
    };
    // Sign first: the signed checkpoint is the sequencer's promise for exactly these entries.
    let checkpoint = if role == Role::Sequencer && size > committed {
        Some(channel.sign_checkpoint(key)?)
    } else {
        None
    };
    let mut writer = BundleWriter::new(w, channel.origin()).map_err(io_err)?;
    if role == Role::Sequencer && committed == 0 {
        // Until the first co-signature the co-signer may not have its replica yet.
        writer
            .record(&Record::Genesis(channel.store().leaf(0)?))
            .map_err(io_err)?;
        summary.genesis = true;
    }
    if let Some(from) = from {
        let bar = progress(size - from, "exporting entries");
        for item in channel.store().leaves(from..size)? {
            let (index, bytes) = item?;
            writer
                .record(&Record::Entry { index, bytes })
                .map_err(io_err)?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        summary.entries = Some((from, size));
    }
    if role == Role::Cosigner {
        for e in channel.queued()? {
            writer
                .record(&Record::Submission(e.bytes))
                .map_err(io_err)?;
            summary.submissions += 1;
        }
    }
    if let Some(note) = checkpoint {
        writer.record(&Record::Checkpoint(note)).map_err(io_err)?;
        summary.checkpoint = Some(size);
    }
    let latest = channel.store().latest_checkpoint()?;
    let floor = from.unwrap_or(u64::MAX);
    for item in channel.store().checkpoints() {
        let (cp_size, note) = item?;
        let is_latest = latest.as_ref().is_some_and(|(s, _)| *s == cp_size);
        if cp_size > floor || is_latest {
            writer.record(&Record::Cosigned(note)).map_err(io_err)?;
            summary.cosigned.push(cp_size);
        }
    }
    let (w, records) = writer.finish().map_err(io_err)?;
    summary.records = records;
    Ok((w, summary))
}

/// Exports into a file atomically and durably ([`dyad_ledger::durable`]): a half-written
/// bundle never carries the final name.
pub fn export_to_file(data: &DataDir, from: Option<u64>, path: &Path) -> Result<ExportSummary> {
    let (config, mut channel) = data.open()?;
    let key = config.signer_key()?;
    // The export's own error (a store read, say) is kept whole; the I/O error handed to the
    // durable writer only makes it discard the temporary file.
    let mut export_error = None;
    let written = durable::write_with(path, WriteOptions::SHARED, |file| {
        match write_export(&mut channel, &key, from, BufWriter::new(file)) {
            Ok((mut buf, summary)) => buf.flush().map(|()| summary),
            Err(e) => {
                export_error = Some(e);
                Err(io::Error::other("export failed"))
            }
        }
    });
    let write_error = |source| CliError::Write {
        path: path.to_owned(),
        source,
    };
    match (export_error, written) {
        (Some(CliError::Output(source)), _) => Err(write_error(source)),
        (Some(other), _) => Err(other),
        (None, Ok(Written::Written(summary))) => Ok(summary),
        (None, Ok(Written::Kept)) => Err(CliError::Exists {
            path: path.to_owned(),
        }),
        (None, Err(source)) => Err(write_error(source)),
    }
}

fn describe_export(s: &ExportSummary) -> Vec<String> {
    let mut lines = Vec::new();
    if s.genesis {
        lines.push("the genesis".to_owned());
    }
    match s.entries {
        Some((a, b)) if b > a => lines.push(format!("entries {a}..{}", b - 1)),
        Some(_) => lines.push("no entries (the peer holds them all)".to_owned()),
        None => {}
    }
    if s.role == "cosigner" {
        lines.push(format!("{} queued message(s)", s.submissions));
    }
    if let Some(c) = s.checkpoint {
        lines.push(format!("a checkpoint of size {c} to co-sign"));
    }
    match s.cosigned.last() {
        Some(last) => lines.push(format!("co-signed checkpoint(s) up to size {last}")),
        None => lines.push("no co-signed checkpoint yet".to_owned()),
    }
    lines
}

fn export_json(s: &ExportSummary, out: Option<&Path>) -> serde_json::Value {
    j!({
        "role": s.role,
        "out": out,
        "records": s.records,
        "genesis": s.genesis,
        "entries_from": s.entries.map(|e| e.0),
        "entries_to": s.entries.map(|e| e.1),
        "submissions": s.submissions,
        "checkpoint_size": s.checkpoint,
        "cosigned_sizes": s.cosigned,
    })
}

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
    pub size: u64,
    pub committed_size: u64,
}

fn decode_records(bundle: &Bundle) -> Result<()> {
    let bar = progress(bundle.records.len() as u64, "checking bundle");
    let bad = |what: String| CliError::malformed(&bundle.path, what);
    for r in &bundle.records {
        match r {
            Record::Entry { bytes, index } => {
                SignedEntry::decode(bytes)
                    .map_err(|e| bad(format!("entry {index} does not decode: {e}")))?;
            }
            Record::Submission(bytes) => {
                SignedEntry::decode(bytes)
                    .map_err(|e| bad(format!("a submission does not decode: {e}")))?;
            }
            Record::Genesis(_) | Record::Proposal(_) => {}
            Record::Checkpoint(note) | Record::Cosigned(note) => {
                let parsed = dyad_verifier::note::parse(note)
                    .map_err(|e| bad(format!("a {} record is not a signed note: {e}", r.tag())))?;
                dyad_verifier::checkpoint::parse(&parsed.text)
                    .map_err(|e| bad(format!("a {} record is not a checkpoint: {e}", r.tag())))?;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

fn checkpoint_size(note: &[u8]) -> u64 {
    dyad_verifier::note::parse(note)
        .ok()
        .and_then(|n| dyad_verifier::checkpoint::parse(&n.text).ok())
        .map_or(0, |c| c.size)
}

/// Entries the bundle carries that this replica holds must be byte-for-byte identical;
/// returns those beyond, which must continue the log without a gap.
fn split_held(
    channel: &Channel,
    bundle: &Bundle,
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

fn refuse(bundle: &Bundle, message: &str, hint: &str) -> CliError {
    CliError::usage_hint(format!("{}: {message}", bundle.path.display()), hint)
}

/// Reads, checks and applies a bundle to the replica in `data`.
pub fn import(data: &DataDir, path: &Path) -> Result<ImportSummary> {
    let config = data.read_config()?;
    let bundle = Bundle::read(path)?;
    bundle.expect_origin(&config.origin)?;
    decode_records(&bundle)?;
    let role = config.role()?;
    let has = |tag: &str| bundle.records.iter().any(|r| r.tag() == tag);
    if has("proposal") {
        return Err(refuse(
            &bundle,
            "this is a genesis proposal, not a sync bundle",
            "the co-signer accepts it with `dyad init --role cosigner --proposal FILE`",
        ));
    }
    match role {
        Role::Sequencer if has("checkpoint") => {
            return Err(refuse(
                &bundle,
                "this bundle was written by the sequencer (it carries a checkpoint to co-sign)",
                "import it on the co-signer's side",
            ))
        }
        Role::Cosigner if has("submission") => {
            return Err(refuse(
                &bundle,
                "this bundle was written by the co-signer (it carries submissions)",
                "import it on the sequencer's side",
            ))
        }
        _ => {}
    }
    let mut summary = ImportSummary {
        role: role.as_str(),
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
    let new_entries = split_held(&channel, &bundle, &mut summary)?;
    let cosigned: Vec<&Vec<u8>> = bundle
        .records
        .iter()
        .filter_map(|r| {
            if let Record::Cosigned(n) = r {
                Some(n)
            } else {
                None
            }
        })
        .collect();
    // Signatures of every co-signed checkpoint are checked before anything is stored.
    for note in &cosigned {
        channel.verify_committed(note)?;
    }
    let now = now_ms();
    match role {
        Role::Cosigner => {
            let checkpoint = bundle.records.iter().find_map(|r| {
                if let Record::Checkpoint(n) = r {
                    Some(n)
                } else {
                    None
                }
            });
            match checkpoint {
                Some(note) => match channel.accept_and_cosign(&key, &new_entries, note, now) {
                    Ok(_) => {
                        summary.entries_added = new_entries.len() as u64;
                        summary.cosigned = Some(channel.size());
                    }
                    // Only after checking it matches what we hold: an old bundle again.
                    Err(ChannelError::Rollback { size, .. }) => {
                        summary.stale_checkpoint = Some(size)
                    }
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
        }
        Role::Sequencer => {
            if !new_entries.is_empty() {
                return Err(CliError::check(format!(
                    "the bundle carries entries from {} that this sequencer never appended: the replicas diverged",
                    channel.size()
                )));
            }
            let submissions: Vec<SignedEntry> = bundle
                .records
                .iter()
                .filter_map(|r| {
                    if let Record::Submission(b) = r {
                        SignedEntry::decode(b).ok()
                    } else {
                        None
                    }
                })
                .collect();
            if !submissions.is_empty() {
                for a in channel.append_signed(&submissions, now)? {
                    if a.existing {
                        summary.already_appended += 1;
                    } else {
                        summary.appended.push(a.index);
                    }
                }
            }
        }
    }
    let mut sorted = cosigned.clone();
    sorted.sort_by_key(|n| checkpoint_size(n));
    for note in sorted {
        let size = checkpoint_size(note);
        if size > channel.size() {
            return Err(CliError::check(format!(
                "the bundle's co-signed checkpoint of size {size} covers entries this replica does not hold ({})",
                channel.size()
            )));
        }
        channel.add_committed_checkpoint(note)?;
    }
    summary.size = channel.size();
    summary.committed_size = channel.committed_size()?;
    Ok(summary)
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

pub fn run(ctx: &Ctx, command: &SyncCommand) -> Result<ExitCode> {
    match command {
        SyncCommand::Export { from, out } => {
            let data = ctx.data_dir();
            let summary = match out {
                Some(path) => export_to_file(&data, *from, path)?,
                None => {
                    let (config, mut channel) = data.open()?;
                    let key = config.signer_key()?;
                    let stdout = io::stdout();
                    let (_, summary) =
                        write_export(&mut channel, &key, *from, BufWriter::new(stdout.lock()))?;
                    summary
                }
            };
            let text = format!(
                "wrote {} record(s): {}",
                summary.records,
                describe_export(&summary).join(", ")
            );
            match (out, ctx.json) {
                (Some(path), true) => json(&export_json(&summary, Some(path)))?,
                (Some(path), false) => {
                    outln(&format!("{text} to {}", path.display()))?;
                    outln(&format!(
                        "next: carry {} to the peer, who runs `dyad sync import {}`",
                        path.display(),
                        path.display()
                    ))?;
                }
                (None, true) => eprintln!("{}", export_json(&summary, None)),
                (None, false) => eprintln!("{text}"),
            }
        }
        SyncCommand::Import { file } => {
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
        }
    }
    Ok(ExitCode::SUCCESS)
}
