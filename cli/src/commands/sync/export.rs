//! `dyad sync export`: the bundle for the peer (see the parent module), to a file or to
//! standard output.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use dyad_ledger::attachments::Attachments;
use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::durable::{self, WriteOptions, Written};
use dyad_ledger::keys::SignerKey;
use serde_json::json as j;

use super::attachments::{write_attachments, NamedAttachments};
use crate::bundle::{BundleWriter, Record};
use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::node_snapshot::through_running_node;
use crate::output::{json, outln, progress};
use crate::Ctx;

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub role: &'static str,
    pub records: u64,
    pub genesis: bool,
    /// Entries `[from, to)`.
    pub entries: Option<(u64, u64)>,
    pub submissions: u64,
    /// The attachments carried, and their bytes.
    pub attachments: u64,
    pub attachment_bytes: u64,
    /// The size of the freshly signed checkpoint, if any.
    pub checkpoint: Option<u64>,
    /// The sizes of the co-signed checkpoints included.
    pub cosigned: Vec<u64>,
}

/// Writes the bundle for the peer into `w` (see the module documentation), with the
/// attachments its entries and submissions name, read from `store`.
fn write_export<W: Write>(
    channel: &mut Channel,
    key: &SignerKey,
    store: &Attachments,
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
    let mut named = NamedAttachments::default();
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
            named.note_bytes(&bytes, || format!("entry {index}"))?;
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
            let n = summary.submissions + 1;
            named.note_bytes(&e.bytes, || format!("submission {n}"))?;
            writer
                .record(&Record::Submission(e.bytes))
                .map_err(io_err)?;
            summary.submissions += 1;
        }
    }
    (summary.attachments, summary.attachment_bytes) =
        write_attachments(&mut writer, store, &named)?;
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
    export_to_file_from(data, data, from, path)
}

/// The replica in `data` and the attachment store of `attachments_in` (a node's data
/// directory, when `data` is a snapshot of its store).
fn open_export(
    data: &DataDir,
    attachments_in: &DataDir,
) -> Result<(Channel, SignerKey, Attachments)> {
    let (config, channel) = data.open()?;
    let key = config.signer_key()?;
    let store = attachments_in.attachments(channel.genesis().max_attachment_size)?;
    Ok((channel, key, store))
}

/// [`export_to_file`], reading attachments from `attachments_in`.
fn export_to_file_from(
    data: &DataDir,
    attachments_in: &DataDir,
    from: Option<u64>,
    path: &Path,
) -> Result<ExportSummary> {
    let (mut channel, key, store) = open_export(data, attachments_in)?;
    // The export's own error (a store read, say) is kept whole; the I/O error handed to the
    // durable writer only makes it discard the temporary file.
    let mut export_error = None;
    let written = durable::write_with(path, WriteOptions::SHARED, |file| {
        match write_export(&mut channel, &key, &store, from, BufWriter::new(file)) {
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
    if s.attachments > 0 {
        lines.push(format!(
            "{} attachment(s) ({} bytes)",
            s.attachments, s.attachment_bytes
        ));
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
        "attachments": s.attachments,
        "attachment_bytes": s.attachment_bytes,
        "checkpoint_size": s.checkpoint,
        "cosigned_sizes": s.cosigned,
    })
}

/// `dyad sync export`: the bundle to FILE (and the summary to standard output) or to
/// standard output (and the summary to standard error).
pub(super) fn run(ctx: &Ctx, from: Option<u64>, out: Option<&Path>) -> Result<()> {
    // While a node runs there, the export reads a snapshot of its store (removed after).
    let snapshot = through_running_node(&ctx.data_dir())?;
    let data = snapshot
        .as_ref()
        .map_or_else(|| ctx.data_dir(), |s| s.data_dir());
    // Attachments are files beside the store, written atomically: read where they are.
    let attachments_in = ctx.data_dir();
    let summary = match out {
        Some(path) => export_to_file_from(&data, &attachments_in, from, path)?,
        None => {
            let (mut channel, key, store) = open_export(&data, &attachments_in)?;
            let stdout = io::stdout();
            let (_, summary) = write_export(
                &mut channel,
                &key,
                &store,
                from,
                BufWriter::new(stdout.lock()),
            )?;
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
    Ok(())
}
