//! `dyad receipt`: a receipt for one committed message (spec/dyad.md section 8), a C2SP
//! tlog-proof file anyone can verify offline with the two parties' `.pub` files; with
//! `--out DIR`, a receipt directory holding the entry's attachments too. While a node runs
//! on the data directory the receipt is made through it, the same bytes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use dyad_verifier::entry::Kind;
use dyad_verifier::receipt_directory::{ATTACHMENTS_DIR, RECEIPT_FILE};
use serde_json::json as j;

use super::receipt_endorsement::{endorsement_if_any, write_endorsement_receipt, ENDORSEMENT_FILE};
use super::receipt_key_changes::{file_name, key_change_indices, key_history, KEY_CHANGES_DIR};
use crate::attachment_files::{in_dir, save_all, NamedAttachment, NewDir};
use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::output::{json, out_bytes, outln, write_file};
use crate::replica_reads::Replica;
use crate::Ctx;

pub const RECEIPT_EXAMPLES: &str = "\
Examples:
  dyad receipt 3 --out receipt-3                  # a directory: the receipt and the attachments
  dyad verify receipt receipt-3 --trust alpha.pub --trust bravo.pub
  dyad receipt 3 --out receipt-3.tlog-proof       # the receipt file alone

A receipt is a C2SP tlog-proof file (spec/dyad.md section 8): the entry's bytes, its index,
its inclusion proof and the latest checkpoint co-signed by both parties. Anyone with the two
parties' .pub files can verify it offline. Only committed entries have receipts. The entry
names each attachment by its SHA-256 and size, so the receipt proves the attachments' bytes
only when they are given beside it: --out DIR writes DIR/receipt.tlog-proof and each
attachment under DIR/attachments/, every byte checked against the entry while copied.
For an endorsed record the directory also holds endorsement.tlog-proof, the endorsement's
receipt against the same checkpoint (--endorsement-out FILE writes it alone):
`dyad verify receipt DIR` then says \"signed by A, endorsed by B\".
When a party changed its key (`dyad rotate-key`) or the parties changed the witnesses
(`dyad witness-change`) below the checkpoint, the directory holds the key history too:
key-changes/<index>.tlog-proof, each such change's receipt against the same checkpoint
(spec/dyad.md 8.1); the receipt file alone does not verify without it.";

#[derive(Args, Debug)]
pub struct ReceiptArgs {
    /// The entry's index.
    pub index: u64,
    /// Write a receipt directory DIR (created; it must not exist or be empty), or, for a
    /// path ending in .tlog-proof, the receipt file alone (default: standard output).
    #[arg(long, value_name = "DIR|FILE.tlog-proof")]
    pub out: Option<PathBuf>,
    /// For a record: write its endorsement's receipt, proved against the same checkpoint,
    /// to FILE (`dyad verify receipt R --endorsement FILE`).
    #[arg(long, value_name = "FILE")]
    pub endorsement_out: Option<PathBuf>,
}

/// The receipt for entry `index` at the latest co-signed checkpoint, with that
/// checkpoint's size: through the running node, or from the store.
pub fn make_receipt(data: &DataDir, index: u64) -> Result<(Vec<u8>, u64)> {
    let receipt = Replica::of(data)?.receipt(index)?;
    Ok((receipt.receipt, receipt.checkpoint_size))
}

pub fn write_receipt(path: &Path, receipt: &[u8]) -> Result<()> {
    write_file(path, receipt, true)
}

/// Whether `--out` names the receipt file rather than a receipt directory.
fn is_receipt_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "tlog-proof")
}

/// Whether the receipt's entry is a record (spec 3.6), and the attachments it names.
fn entry_of(receipt: &[u8]) -> Result<(bool, Vec<NamedAttachment>)> {
    let not_ours = |e: String| CliError::check(format!("internal: the receipt made here {e}"));
    let parsed = dyad_verifier::receipt::parse(receipt)
        .map_err(|e| not_ours(format!("does not parse: {e}")))?;
    let entry = dyad_verifier::entry::decode(&parsed.entry_bytes)
        .map_err(|e| not_ours(format!("holds an entry that does not decode: {e}")))?;
    let attachments = entry.attachments.iter().map(NamedAttachment::from);
    Ok((entry.kind == Kind::Record, attachments.collect()))
}

/// What a receipt directory holds besides the receipt: the attachments' files and the key
/// history's, as paths in the directory.
struct DirFiles {
    attachments: Vec<PathBuf>,
    key_changes: Vec<(u64, PathBuf)>,
}

/// Writes the receipt directory `dir` (spec/dyad.md sections 8 and 8.1): whole, or
/// nothing.
fn write_receipt_dir(
    data: &DataDir,
    dir: &Path,
    (index, size, receipt): (u64, u64, &[u8]),
    (is_record, attachments): (bool, &[NamedAttachment]),
) -> Result<DirFiles> {
    let endorsement = match is_record {
        true => endorsement_if_any(data, index, size)?,
        false => None,
    };
    let history = key_history(data, size)?;
    let new = NewDir::create(dir)?;
    write_file(&new.path().join(RECEIPT_FILE), receipt, false)?;
    if let Some(bytes) = &endorsement {
        write_file(&new.path().join(ENDORSEMENT_FILE), bytes, false)?;
    }
    let mut key_changes = Vec::with_capacity(history.len());
    if !history.is_empty() {
        let staged = new.subdir(KEY_CHANGES_DIR)?;
        for (at, bytes) in &history {
            write_file(&staged.join(file_name(*at)), bytes, false)?;
            key_changes.push((*at, dir.join(KEY_CHANGES_DIR).join(file_name(*at))));
        }
    }
    let store = data.attachments(u64::MAX)?;
    let staged = save_all(&store, attachments, &new.subdir(ATTACHMENTS_DIR)?)?;
    new.commit()?;
    let in_target = dir.join(ATTACHMENTS_DIR);
    Ok(DirFiles {
        attachments: staged.iter().map(|p| in_dir(&in_target, p)).collect(),
        key_changes,
    })
}

pub fn receipt(ctx: &Ctx, args: &ReceiptArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    let (receipt, size) = make_receipt(&data, args.index)?;
    if let Some(path) = &args.endorsement_out {
        write_endorsement_receipt(&data, args.index, size, path)?;
    }
    let Some(path) = &args.out else {
        out_bytes(&receipt)?;
        return Ok(ExitCode::SUCCESS);
    };
    let (is_record, attachments) = entry_of(&receipt)?;
    let (written, files, key_changes) = if is_receipt_file(path) {
        write_receipt(path, &receipt)?;
        if !attachments.is_empty() {
            eprintln!(
                "note: entry {} names {} attachment(s), not in the receipt file: `dyad receipt {} --out DIR` writes them beside it",
                args.index,
                attachments.len(),
                args.index
            );
        }
        let changes = key_change_indices(&data, size)?;
        if !changes.is_empty() {
            eprintln!(
                "note: {} key or witness change(s) lie below the checkpoint; the receipt file alone does not verify without its key history: `dyad receipt {} --out DIR` writes it (key-changes/)",
                changes.len(),
                args.index
            );
        }
        (path.clone(), Vec::new(), Vec::new())
    } else {
        let files = write_receipt_dir(
            &data,
            path,
            (args.index, size, &receipt),
            (is_record, &attachments),
        )?;
        (
            path.join(RECEIPT_FILE),
            files.attachments,
            files.key_changes,
        )
    };
    if ctx.json {
        json(&j!({
            "index": args.index,
            "checkpoint_size": size,
            "receipt": written,
            "attachments": attachments.iter().enumerate().map(|(i, a)| j!({
                "name": a.name, "size": a.size, "sha256": hex::encode(a.sha256), "file": files.get(i),
            })).collect::<Vec<_>>(),
            "key_changes": key_changes.iter().map(|(i, f)| j!({"index": i, "file": f})).collect::<Vec<_>>(),
        }))?;
    } else {
        outln(&format!(
            "wrote the receipt for entry {} (checkpoint of size {size}) to {}",
            args.index,
            written.display()
        ))?;
        for file in &files {
            outln(&format!(
                "wrote {} (checked against the entry)",
                file.display()
            ))?;
        }
        for (at, file) in &key_changes {
            outln(&format!(
                "wrote {} (the key or witness change at entry {at}, against the same checkpoint)",
                file.display()
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
