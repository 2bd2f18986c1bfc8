//! `dyad audit`: audits a whole log with the independent verifier: every entry decoded,
//! its signature and the channel's rules checked, the tree recomputed, every co-signed
//! checkpoint checked against it, and conflicting checkpoints turned into evidence.
//!
//! Every check is `dyad_verifier::audit`'s. This module uses `dyad-ledger` in exactly one
//! place, [`raw_log`], and only to read raw bytes out of a replica's store: the auditor
//! does not trust the party's software, only the bytes it can recompute.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use dyad_verifier::audit::{audit, AuditError, AuditReport, AuditTrust};
use dyad_verifier::entry::Kind;
use serde_json::{json as j, Value};

use crate::bundle::{BundleReader, Record};
use crate::cmd_verify::read_two_parties;
use crate::error::{CliError, Result};
use crate::output::{b64, json, outln, progress, write_file};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  dyad audit --data /srv/dyad/alpha --trust alpha.pub --trust bravo.pub
  dyad audit --bundle full-log.dyad-sync --trust alpha.pub --trust bravo.pub --json
  dyad audit --bundle full-log.dyad-sync --trust alpha.pub --trust bravo.pub \\
             --evidence-out conflict.dyad-equivocation

The whole log is needed: a bundle made with `dyad sync export --from 0` from either party,
or a party's data directory (read-only: only raw entries and checkpoint notes are read).
The verdict is PASSED (exit 0) or FAILED (exit 1) with the first problem, naming the entry or
checkpoint. If two co-signed checkpoints conflict, the evidence of equivocation is written
to --evidence-out FILE (or printed) and can be checked with `dyad verify evidence`.";

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Audit a sync bundle holding the whole log (`dyad sync export --from 0`), instead of --data DIR.
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// The two parties' verifier key files.
    #[arg(long = "trust", value_name = "KEY.pub", required = true)]
    pub trust: Vec<PathBuf>,
    /// Where to write evidence of equivocation if the audit finds any.
    #[arg(long, value_name = "FILE")]
    pub evidence_out: Option<PathBuf>,
}

/// Why an audit did not pass.
#[derive(Debug)]
pub enum AuditFailure {
    /// The verifier found a problem in the log.
    Log(AuditError),
    /// The source could not be read in full (a damaged store, a bundle that ended early).
    Source(String),
    /// Every record verified, but the bundle file is not the one that was exported.
    Checksum,
}

impl std::fmt::Display for AuditFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditFailure::Log(e) => write!(f, "{e}"),
            AuditFailure::Source(e) => write!(f, "{e}"),
            AuditFailure::Checksum => f.write_str(
                "the bundle's checksum does not match its content: it was altered after export",
            ),
        }
    }
}

pub struct AuditOutcome {
    pub source: String,
    pub result: std::result::Result<AuditReport, AuditFailure>,
}

/// Size of a checkpoint note, to feed the notes to the auditor in order.
fn note_size(note: &[u8]) -> Option<u64> {
    let parsed = dyad_verifier::note::parse(note).ok()?;
    dyad_verifier::checkpoint::parse(&parsed.text)
        .ok()
        .map(|c| c.size)
}

/// Runs the verifier's audit over a stream of leaves. A read error ends the stream and
/// is reported instead of whatever the shortened log would look like.
fn audit_stream(
    leaves: impl Iterator<Item = std::result::Result<Vec<u8>, String>>,
    total: u64,
    checkpoints: &[Vec<u8>],
    trust: AuditTrust,
) -> std::result::Result<AuditReport, AuditFailure> {
    let bar = progress(total, "auditing");
    let mut source_error = None;
    let stream = leaves.map_while(|item| match item {
        Ok(bytes) => {
            bar.inc(1);
            Some(bytes)
        }
        Err(e) => {
            source_error = Some(e);
            None
        }
    });
    let result = audit(stream, checkpoints, trust);
    bar.finish_and_clear();
    if let Some(e) = source_error {
        return Err(AuditFailure::Source(e));
    }
    result.map_err(AuditFailure::Log)
}

pub fn audit_data(
    dir: &Path,
    a: dyad_verifier::key::VerifierKey,
    b: dyad_verifier::key::VerifierKey,
) -> Result<AuditOutcome> {
    let store_dir = if dir.join("ledger").is_dir() {
        dir.join("ledger")
    } else {
        dir.to_owned()
    };
    let source = format!("replica {}", store_dir.display());
    let raw = match raw_log(&store_dir) {
        Ok(raw) => raw,
        Err(RawError::Unreadable(e)) => return Err(e),
        Err(RawError::Damaged(e)) => {
            return Ok(AuditOutcome {
                source,
                result: Err(AuditFailure::Source(e)),
            })
        }
    };
    let result = audit_stream(
        raw.leaves,
        raw.size,
        &raw.checkpoints,
        AuditTrust::Parties([a, b]),
    );
    Ok(AuditOutcome { source, result })
}

pub fn audit_bundle(
    path: &Path,
    a: dyad_verifier::key::VerifierKey,
    b: dyad_verifier::key::VerifierKey,
) -> Result<AuditOutcome> {
    let source = format!("bundle {}", path.display());
    // Pass 1: the bundle's form, its checkpoints (few and small) and its entry count.
    // Pass 2 streams the entries, so memory stays flat however long the log is.
    let mut reader = BundleReader::open(path)?;
    let mut checkpoints = Vec::new();
    let mut entries = 0u64;
    while let Some(record) = reader.next_record()? {
        match record {
            Record::Entry { index, .. } => {
                if entries == 0 && index != 0 {
                    return Err(CliError::usage_hint(
                        format!("{}: the bundle starts at entry {index}; an audit needs the whole log from entry 0", path.display()),
                        "export it with `dyad sync export --from 0 --out FILE`",
                    ));
                }
                entries += 1;
            }
            Record::Cosigned(note) => checkpoints.push(note),
            _ => {}
        }
    }
    if entries == 0 {
        return Err(CliError::usage_hint(
            format!("{}: the bundle holds no entries", path.display()),
            "export the whole log with `dyad sync export --from 0 --out FILE`",
        ));
    }
    let checksum_ok = reader.checksum_ok() == Some(true);
    let bundle_origin = reader.origin().to_owned();
    let mut second = BundleReader::open(path)?;
    let leaves = std::iter::from_fn(move || loop {
        match second.next_record() {
            Ok(Some(Record::Entry { bytes, .. })) => return Some(Ok(bytes)),
            Ok(Some(_)) => continue,
            Ok(None) => return None,
            Err(e) => return Some(Err(format!("the bundle changed while it was read: {e}"))),
        }
    });
    checkpoints.sort_by_key(|n| note_size(n));
    let mut result = audit_stream(leaves, entries, &checkpoints, AuditTrust::Parties([a, b]));
    if let Ok(report) = &result {
        if report.genesis.origin != bundle_origin {
            result = Err(AuditFailure::Source(format!(
                "the bundle says origin {bundle_origin:?} but its genesis is of {:?}",
                report.genesis.origin
            )));
        } else if !checksum_ok {
            result = Err(AuditFailure::Checksum);
        }
    }
    Ok(AuditOutcome { source, result })
}

fn kinds_json(kinds: &[u64; 5]) -> Value {
    let mut m = serde_json::Map::new();
    for (i, n) in kinds.iter().enumerate() {
        if let Some(k) = u8::try_from(i).ok().and_then(Kind::from_u8) {
            m.insert(k.as_str().to_owned(), (*n).into());
        }
    }
    Value::Object(m)
}

pub fn report_json(outcome: &AuditOutcome) -> Value {
    match &outcome.result {
        Ok(r) => j!({
            "verdict": "pass",
            "source": outcome.source,
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
            "kinds": kinds_json(&r.kinds),
        }),
        Err(f) => j!({
            "verdict": "fail",
            "source": outcome.source,
            "error": f.to_string(),
            "entry": match f { AuditFailure::Log(AuditError::Entry { index, .. }) => Some(*index), _ => None },
        }),
    }
}

pub fn report_lines(outcome: &AuditOutcome) -> Vec<String> {
    match &outcome.result {
        Ok(r) => {
            let kinds: Vec<String> = r
                .kinds
                .iter()
                .enumerate()
                .filter(|(i, n)| **n > 0 && *i > 0)
                .filter_map(|(i, n)| {
                    u8::try_from(i)
                        .ok()
                        .and_then(Kind::from_u8)
                        .map(|k| format!("{n} {k}"))
                })
                .collect();
            vec![
                format!("AUDIT PASSED: {}", outcome.source),
                format!("  channel      {}", r.genesis.origin),
                format!("  sequencer    {} ({} entries, genesis included)", r.genesis.sequencer.name, r.entries_by_sequencer),
                format!("  co-signer    {} ({} entries)", r.genesis.cosigner.name, r.entries_by_cosigner),
                format!("  entries      {} ({} committed, {} pending)", r.leaves, r.committed_size, r.pending),
                format!(
                    "  checkpoints  {} co-signed checkpoint(s) checked{}",
                    r.checkpoints,
                    r.latest_checkpoint.as_ref().map_or(String::new(), |c| format!(", the latest of size {}", c.size))
                ),
                format!("  root         {}", b64(&r.root)),
                format!("  messages     {}", if kinds.is_empty() { "none yet".to_owned() } else { kinds.join(", ") }),
                "  Every entry is signed by its sender, follows the channel's rules, and is in the tree every co-signed checkpoint commits to.".to_owned(),
            ]
        }
        Err(f) => vec![
            format!("AUDIT FAILED: {}", outcome.source),
            format!("  {f}"),
        ],
    }
}

pub fn run(ctx: &Ctx, args: &AuditArgs) -> Result<ExitCode> {
    let (a, b) = read_two_parties(&args.trust)?;
    let outcome = match &args.bundle {
        Some(_) if ctx.data_given && std::env::var_os("DYAD_DATA").is_none() => {
            return Err(CliError::usage(
                "give either --data DIR or --bundle FILE, not both",
            ));
        }
        Some(path) => audit_bundle(path, a, b)?,
        None => audit_data(&ctx.data, a, b)?,
    };
    let evidence = match &outcome.result {
        Err(AuditFailure::Log(AuditError::ConflictingCheckpoints { evidence, .. })) => {
            Some(evidence.clone())
        }
        _ => None,
    };
    let mut evidence_file = None;
    if let (Some(bytes), Some(path)) = (&evidence, &args.evidence_out) {
        write_file(path, bytes, false)?;
        evidence_file = Some(path.clone());
    }
    if ctx.json {
        let mut v = report_json(&outcome);
        if let Some(o) = v.as_object_mut() {
            if let Some(bytes) = &evidence {
                o.insert("evidence_file".into(), j!(evidence_file));
                if evidence_file.is_none() {
                    o.insert(
                        "evidence".into(),
                        String::from_utf8_lossy(bytes).into_owned().into(),
                    );
                }
            }
        }
        json(&v)?;
    } else {
        for line in report_lines(&outcome) {
            outln(&line)?;
        }
        if let Some(bytes) = &evidence {
            match &evidence_file {
                Some(p) => outln(&format!("  evidence of equivocation written to {} (check it with `dyad verify evidence`)", p.display()))?,
                None => {
                    outln("  evidence of equivocation (save it, or use --evidence-out FILE):")?;
                    crate::output::out_bytes(bytes)?;
                }
            }
        }
    }
    match outcome.result {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(_) => Ok(ExitCode::from(crate::error::EXIT_CHECK)),
    }
}

// ---------------------------------------------------------------------------------------
// The audit's only use of dyad-ledger: reading raw bytes out of a replica's store.
// ---------------------------------------------------------------------------------------

pub struct RawLog {
    pub size: u64,
    pub leaves: Box<dyn Iterator<Item = std::result::Result<Vec<u8>, String>>>,
    /// Checkpoint notes, by size.
    pub checkpoints: Vec<Vec<u8>>,
}

pub enum RawError {
    /// The store cannot be opened at all (missing, locked): exit 2.
    Unreadable(CliError),
    /// The store refuses to open because it is damaged: the audit fails, exit 1.
    Damaged(String),
}

/// Opens a replica's sled store and yields its raw leaf bytes (index order) and its
/// checkpoint notes. It checks nothing itself: the verifier decides what they are worth.
/// (Opening a store does check its own structure; a store that refuses to open is
/// reported as a failed audit.)
fn raw_log(store_dir: &Path) -> std::result::Result<RawLog, RawError> {
    use dyad_ledger::store::{Store, StoreError};
    let store = Store::open(store_dir).map_err(|e| match e {
        StoreError::Damaged(d) => RawError::Damaged(format!("the store is damaged: {d}")),
        other => RawError::Unreadable(CliError::Store(other)),
    })?;
    let size = store.size();
    let mut checkpoints = Vec::new();
    for item in store.checkpoints() {
        match item {
            Ok((_, note)) => checkpoints.push(note),
            Err(e) => {
                return Err(RawError::Damaged(format!(
                    "the store's checkpoints cannot be read: {e}"
                )))
            }
        }
    }
    let leaves = store
        .leaves(0..size)
        .map_err(|e| RawError::Damaged(format!("the store's entries cannot be read: {e}")))?;
    // The iterator keeps the store open until the audit has read every leaf.
    let leaves = leaves.map(move |item| {
        let _keep_open = &store;
        item.map(|(_, bytes)| bytes)
            .map_err(|e| format!("the store's entries cannot be read: {e}"))
    });
    Ok(RawLog {
        size,
        leaves: Box::new(leaves),
        checkpoints,
    })
}
