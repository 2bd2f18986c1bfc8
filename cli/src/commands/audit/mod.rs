//! `dyad audit`: audits a whole log with the independent verifier: every entry decoded,
//! its signature and the channel's rules checked, the tree recomputed, every co-signed
//! checkpoint checked against it, and conflicting checkpoints turned into evidence.
//!
//! Every check is `dyad_verifier::audit`'s, run on the machine's cores by the verifier's
//! `parallel_audit`. The sources are [`local`] (a replica's store, read with `dyad-ledger`
//! for its raw bytes only, or a sync bundle; through [`stream`]) and [`remote`] (a
//! tlog-tiles server: `dyad_node::audit_url` fetches and feeds them to it). The auditor does not trust the
//! party's software, only the bytes it can recompute.
//!
//! Then, unless `--skip-attachments`, [`attachments`] checks every attachment every entry
//! names: present in the source, of the size and SHA-256 the entry names.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use dyad_verifier::audit::{AuditError, AuditReport};
use dyad_verifier::entry::Kind;
use dyad_verifier::genesis::{KeyChange, WitnessChange};
use serde_json::{json as j, Value};

use crate::error::{CliError, Result};
use crate::output::{b64, json, key_id_hex, outln, write_file};
use crate::policy_arg::Trust;
use crate::running_node::reader_reach;
use crate::Ctx;

mod attachments;
mod local;
mod remote;
mod stream;

use attachments::{AttachmentFailure, AttachmentsAudit};

use local::audit_bundle;
pub use local::audit_data;
use remote::audit_url;

pub const EXAMPLES: &str = "\
Examples:
  dyad audit --data /srv/dyad/alpha --trust alpha.pub --trust bravo.pub
  dyad audit --bundle full-log.dyad-sync --trust alpha.pub --trust bravo.pub --json
  dyad audit --bundle full-log.dyad-sync --trust alpha.pub --trust bravo.pub \\
             --evidence-out conflict.dyad-equivocation
  dyad audit --url https://127.0.0.1:7380 --access alpha-read.cred --trust alpha.pub --trust bravo.pub
  dyad audit --url https://log.example/dyad-tiles --trust alpha.pub --trust bravo.pub
  dyad audit --data /srv/dyad/alpha --policy channel.policy     # from `dyad policy show`

The whole log is needed: a bundle made with `dyad sync export --from 0` from either party,
or a party's data directory (read-only: only raw entries and checkpoint notes are read),
or --url URL: a live node, or a static tile export (`dyad export tiles`) served by any web
server, read over the C2SP tlog-tiles API up to its checkpoint and streamed into the verifier.
Every attachment every entry names is checked too (present, of its size and SHA-256): in the
data directory's attachment store, the bundle's attachment records, or at URL/attachment/<hash>;
--skip-attachments leaves them out, and the report says they were not checked (a static tile
export serves no attachments).
--policy FILE (a C2SP tlog-policy naming the parties, spec/dyad.md section 9) may stand for
--trust: the genesis must be of its log and parties, and every co-signed checkpoint must
meet its quorum as well as the genesis's own witness threshold.
The verdict is PASSED (exit 0) or FAILED (exit 1) with the first problem, naming the entry,
attachment or checkpoint. If two co-signed checkpoints conflict, the evidence of equivocation is written
to --evidence-out FILE (or printed) and can be checked with `dyad verify evidence`.";

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Audit a sync bundle holding the whole log (`dyad sync export --from 0`), instead of --data DIR.
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    pub bundle: Option<PathBuf>,
    /// Audit the log served at URL over the C2SP tlog-tiles API (a node or a static export).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// With --url: the read credential (`dyad access grant`) for a node whose read API is
    /// closed; it pins the node's certificate and carries the token.
    #[arg(long, value_name = "FILE", requires = "url")]
    pub access: Option<PathBuf>,
    /// The two parties' verifier key files.
    #[arg(
        long = "trust",
        value_name = "KEY.pub",
        required_unless_present = "policy"
    )]
    pub trust: Vec<PathBuf>,
    /// A C2SP tlog-policy naming the channel (spec/dyad.md section 9) instead of --trust:
    /// the genesis must be of its log and parties, and every checkpoint must meet its quorum.
    #[arg(long, value_name = "FILE", conflicts_with = "trust")]
    pub policy: Option<PathBuf>,
    /// Where to write evidence of equivocation if the audit finds any.
    #[arg(long, value_name = "FILE")]
    pub evidence_out: Option<PathBuf>,
    /// Do not check the entries' attachments (presence, size, SHA-256); the report says so.
    #[arg(long)]
    pub skip_attachments: bool,
}

/// Why an audit did not pass.
#[derive(Debug)]
pub enum AuditFailure {
    /// The verifier found a problem in the log.
    Log(AuditError),
    /// Leaf 0 is a genesis of other parties than the trusted ones: whom it names
    /// (sequencer, then co-signer) and whom --trust gave, each as "name (key id)".
    UntrustedGenesis {
        named: [String; 2],
        given: [String; 2],
    },
    /// Leaf 0 is a genesis of another channel than the one --policy names: the origin
    /// and parties (sequencer, then co-signer) the genesis names, and the policy's.
    PolicyGenesis {
        named: Box<(String, [String; 2])>,
        policy: Box<(String, [String; 2])>,
    },
    /// The source could not be read in full (a damaged store, a bundle that ended early).
    Source(String),
    /// Every record verified, but the bundle file is not the one that was exported.
    Checksum,
    /// An attachment an entry names is missing, too short or long, or changed.
    Attachment(AttachmentFailure),
}

impl std::fmt::Display for AuditFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditFailure::Log(e) => write!(f, "{e}"),
            AuditFailure::UntrustedGenesis { named, given } => write!(
                f,
                "entry 0: the genesis names the sequencer {} and the co-signer {}, but --trust gave {} and {}",
                named[0], named[1], given[0], given[1]
            ),
            AuditFailure::PolicyGenesis { named, policy } => write!(
                f,
                "entry 0: the genesis is of channel {} with the sequencer {} and the co-signer {}, but --policy names channel {} with the sequencer {} and the co-signer {}",
                named.0, named.1[0], named.1[1], policy.0, policy.1[0], policy.1[1]
            ),
            AuditFailure::Source(e) => write!(f, "{e}"),
            AuditFailure::Checksum => f.write_str(
                "the bundle's checksum does not match its content: it was altered after export",
            ),
            AuditFailure::Attachment(a) => write!(f, "{a}"),
        }
    }
}

pub struct AuditOutcome {
    pub source: String,
    pub result: std::result::Result<AuditReport, AuditFailure>,
    /// What was done about attachments (meaningful when the audit passed).
    pub attachments: AttachmentsAudit,
}

impl AuditOutcome {
    /// The outcome of the log's audit, then (if it passed, and `check`) of `attachments`.
    fn then_attachments(
        source: String,
        result: std::result::Result<AuditReport, AuditFailure>,
        check: bool,
        attachments: impl FnOnce(&AuditReport) -> std::result::Result<AttachmentsAudit, AuditFailure>,
    ) -> AuditOutcome {
        let (result, attachments) = match result {
            Ok(report) if check => match attachments(&report) {
                Ok(done) => (Ok(report), done),
                Err(e) => (Err(e), AttachmentsAudit::Skipped),
            },
            other => (other, AttachmentsAudit::Skipped),
        };
        AuditOutcome {
            source,
            result,
            attachments,
        }
    }
}

fn kinds_json(kinds: &[u64]) -> Value {
    let mut m = serde_json::Map::new();
    for (i, n) in kinds.iter().enumerate() {
        if let Some(k) = u8::try_from(i).ok().and_then(Kind::from_u8) {
            m.insert(k.as_str().to_owned(), (*n).into());
        }
    }
    Value::Object(m)
}

/// The key changes (spec 3.7): index, party role, retired and new key IDs, new key.
pub(crate) fn key_changes_json(changes: &[KeyChange]) -> Value {
    changes
        .iter()
        .map(|c| {
            j!({
                "index": c.index,
                "role": c.role.to_string(),
                "old_key_id": key_id_hex(c.old_key_id),
                "new_key_id": key_id_hex(c.new_key.key_id()),
                "new_key": c.new_key.to_string(),
            })
        })
        .collect()
}

/// One line per key change, for the text reports.
pub(crate) fn key_change_lines(changes: &[KeyChange]) -> Vec<String> {
    changes
        .iter()
        .map(|c| {
            format!(
                "  key change   entry {}: the {} replaced key {} with {} ({})",
                c.index,
                c.role,
                key_id_hex(c.old_key_id),
                key_id_hex(c.new_key.key_id()),
                c.new_key
            )
        })
        .collect()
}

/// The witness changes followed (spec 3.8): index, number, sender's role, the new
/// witnesses (name, type-0x04 key ID and key string each) and threshold.
pub(crate) fn witness_changes_json(changes: &[WitnessChange]) -> Value {
    changes
        .iter()
        .map(|c| {
            let witnesses: Vec<Value> = c
                .witnesses
                .iter()
                .map(|w| match w.cosignature_key() {
                    Ok(key) => j!({
                        "name": w.name,
                        "key_id": key_id_hex(key.key_id()),
                        "key": key.to_string(),
                    }),
                    // A witness the verifier accepted has a valid key; the name alone otherwise.
                    Err(_) => j!({"name": w.name}),
                })
                .collect();
            j!({
                "index": c.index,
                "number": c.number,
                "sender": c.sender.to_string(),
                "witnesses": witnesses,
                "witness_threshold": c.witness_threshold,
            })
        })
        .collect()
}

/// One line per witness change, for the text reports.
pub(crate) fn witness_change_lines(changes: &[WitnessChange]) -> Vec<String> {
    changes
        .iter()
        .map(|c| {
            let names: Vec<&str> = c.witnesses.iter().map(|w| w.name.as_str()).collect();
            format!(
                "  witness change entry {} (number {}, sent by the {}, approved by the other party): {} of [{}] from entry {} on",
                c.index,
                c.number,
                c.sender,
                c.witness_threshold,
                names.join(", "),
                c.index + 1
            )
        })
        .collect()
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
            "key_changes": key_changes_json(&r.key_changes),
            "witness_changes": witness_changes_json(&r.witness_changes),
            "attachments": outcome.attachments.json(),
        }),
        Err(f) => j!({
            "verdict": "fail",
            "source": outcome.source,
            "error": f.to_string(),
            "entry": match f {
                AuditFailure::Log(AuditError::Entry { index, .. }) => Some(*index),
                AuditFailure::Log(AuditError::UntrustedGenesis) | AuditFailure::UntrustedGenesis { .. } | AuditFailure::PolicyGenesis { .. } => Some(0),
                AuditFailure::Attachment(a) => Some(a.index),
                _ => None,
            },
            "attachment": match f {
                AuditFailure::Attachment(a) => Some(a.json()),
                _ => None,
            },
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
            let mut lines = vec![
                format!("AUDIT PASSED: {}", outcome.source),
                format!("  channel      {}", r.genesis.origin),
                format!(
                    "  sequencer    {} ({} entries, genesis included)",
                    r.genesis.sequencer.name, r.entries_by_sequencer
                ),
                format!(
                    "  co-signer    {} ({} entries)",
                    r.genesis.cosigner.name, r.entries_by_cosigner
                ),
                format!(
                    "  entries      {} ({} committed, {} pending)",
                    r.leaves, r.committed_size, r.pending
                ),
                format!(
                    "  checkpoints  {} co-signed checkpoint(s) checked{}",
                    r.checkpoints,
                    r.latest_checkpoint
                        .as_ref()
                        .map_or(String::new(), |c| format!(
                            ", the latest of size {}",
                            c.size
                        ))
                ),
                format!("  root         {}", b64(&r.root)),
                format!(
                    "  messages     {}",
                    if kinds.is_empty() {
                        "none yet".to_owned()
                    } else {
                        kinds.join(", ")
                    }
                ),
                outcome.attachments.line(),
            ];
            lines.extend(key_change_lines(&r.key_changes));
            lines.extend(witness_change_lines(&r.witness_changes));
            lines.push("  Every entry is signed by its sender's key at its index, follows the channel's rules, and is in the tree every co-signed checkpoint commits to.".to_owned());
            if !r.witness_changes.is_empty() {
                lines.push("  Every co-signed checkpoint is committed with the witnesses and threshold current at its size.".to_owned());
            }
            lines
        }
        Err(f) => vec![
            format!("AUDIT FAILED: {}", outcome.source),
            format!("  {f}"),
        ],
    }
}

pub fn run(ctx: &Ctx, args: &AuditArgs) -> Result<ExitCode> {
    let trust = Trust::read(&args.trust, args.policy.as_deref())?.audit_trust();
    let check_attachments = !args.skip_attachments;
    let outcome = match &args.bundle {
        _ if args.url.is_some() => {
            if ctx.data_given && std::env::var_os("DYAD_DATA").is_none() {
                return Err(CliError::usage(
                    "give either --data DIR or --url URL, not both",
                ));
            }
            audit_url(
                args.url.as_deref().unwrap_or_default(),
                reader_reach(args.access.as_deref())?,
                trust,
                check_attachments,
            )?
        }
        Some(_) if ctx.data_given && std::env::var_os("DYAD_DATA").is_none() => {
            return Err(CliError::usage(
                "give either --data DIR or --bundle FILE, not both",
            ));
        }
        Some(path) => audit_bundle(path, trust, check_attachments)?,
        None => audit_data(&ctx.data, trust, check_attachments)?,
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
