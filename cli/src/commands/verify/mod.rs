//! `dyad verify ...`: the auditor's checks of single artefacts. Built ONLY on
//! `dyad-verifier` (never on `dyad-ledger`): an auditor trusts neither party's software,
//! so these commands share no code with the log they check.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::key::{SignatureType, VerifierKey};
use serde_json::{json as j, Value};

use crate::error::{CliError, Result};
use crate::output::b64;
use crate::policy_arg::Trust;
use crate::trust::read_trust;
use crate::Ctx;

mod attachments;
mod checkpoint;
mod endorsed;
mod evidence;
mod mirror;
pub mod proofs;
mod receipt;

pub use receipt::check_receipt;

const EXAMPLES: &str = "\
Examples:
  dyad verify inclusion incl.json          # from `dyad prove inclusion I --json`
  dyad verify consistency cons.json        # from `dyad prove consistency OLD NEW --json`
  dyad verify checkpoint latest.checkpoint --trust alpha.pub --trust bravo.pub
  dyad verify receipt receipt-3.tlog-proof --trust alpha.pub --trust bravo.pub
  dyad verify receipt receipt-3 --trust alpha.pub --trust bravo.pub   # a receipt directory
  dyad verify evidence conflict.dyad-equivocation --trust alpha.pub
  dyad verify evidence data/bravo/evidence/broken-promise-*.dyad-broken-promise --trust alpha.pub
  dyad policy show > channel.policy        # the channel's policy, for auditors
  dyad verify receipt receipt-3.tlog-proof --policy channel.policy
  dyad verify checkpoint latest.checkpoint --policy channel.policy

--policy takes a C2SP tlog-policy instead (spec/dyad.md section 9): a checkpoint must be
signed by its log and cosigned to its quorum; for receipts and evidence it must also name
the parties (its one log is the sequencer; witnesses `sequencer` and `cosigner` name the
two parties), as `dyad policy show` writes it.
--trust takes the parties' .pub files (type 0x01 keys under the party names). From each the
verifier derives the keys it signs with (spec/dyad.md section 2.2): the same key named by
the channel's origin for checkpoints signed as the log, and the cosignature/v1 key (type
0x04) for co-signatures. Exit 0: it verifies. Exit 1: it is of the expected form but does
not verify (the message says why). Exit 2: the file cannot be read, is larger than any
such file can be, or is not of the expected form (not a signed note, not a checkpoint, not
a receipt, not evidence).";

#[derive(Subcommand, Debug)]
pub enum VerifyCommand {
    /// Check an inclusion proof (the JSON of `dyad prove inclusion --json`) against its root.
    #[command(after_help = EXAMPLES)]
    Inclusion {
        /// The proof JSON file, or '-' for standard input.
        file: PathBuf,
    },
    /// Check a consistency proof (the JSON of `dyad prove consistency --json`) against its roots.
    #[command(after_help = EXAMPLES)]
    Consistency {
        /// The proof JSON file, or '-' for standard input.
        file: PathBuf,
    },
    /// Check a checkpoint note: valid, and signed or co-signed by every trusted key.
    #[command(after_help = EXAMPLES)]
    Checkpoint {
        /// The signed note (as `dyad checkpoint` prints it), or '-'.
        note: PathBuf,
        /// A party's verifier key file (repeatable); every one must have signed or co-signed.
        #[arg(
            long = "trust",
            value_name = "KEY.pub",
            required_unless_present = "policy"
        )]
        trust: Vec<PathBuf>,
        /// A C2SP tlog-policy instead: a log of it signed, and the cosignatures meet its quorum.
        #[arg(long, value_name = "FILE", conflicts_with = "trust")]
        policy: Option<PathBuf>,
        /// Require this origin.
        #[arg(long)]
        origin: Option<String>,
        /// A receipt directory (from `dyad receipt N --out DIR`) whose key-changes/ hold the
        /// key and witness changes below the checkpoint's size, each against this same note:
        /// then the note must be committed under the two parties' keys (exactly two --trust,
        /// or a --policy naming them) and the witnesses at its size (spec/dyad.md 8).
        #[arg(long, value_name = "DIR")]
        key_history: Option<PathBuf>,
    },
    /// Check a receipt (a C2SP tlog-proof file or receipt directory from `dyad receipt`) with
    /// the two parties' keys, and the attachments' bytes when they are given.
    #[command(after_help = EXAMPLES)]
    Receipt {
        /// The receipt file, '-', or a receipt directory (its receipt.tlog-proof, and the
        /// attachments in its attachments/).
        file: PathBuf,
        /// Check the entry's attachments against the files in DIR (named as in a receipt
        /// directory, spec/dyad.md section 8).
        #[arg(long, value_name = "DIR")]
        attachments: Option<PathBuf>,
        /// The two parties' verifier key files.
        #[arg(
            long = "trust",
            value_name = "KEY.pub",
            required_unless_present = "policy"
        )]
        trust: Vec<PathBuf>,
        /// A C2SP tlog-policy naming the parties (spec/dyad.md section 9) instead of --trust:
        /// the checkpoint must meet its quorum too.
        #[arg(long, value_name = "FILE", conflicts_with = "trust")]
        policy: Option<PathBuf>,
        /// Require this origin.
        #[arg(long)]
        origin: Option<String>,
        /// For a record: its endorsement's receipt (`dyad receipt N --endorsement-out`),
        /// checked too: "signed by A, endorsed by B".
        #[arg(long, value_name = "FILE")]
        endorsement: Option<PathBuf>,
        /// Also check the receipt against a published copy of the log at URL (`dyad export
        /// tiles --to`, `dyad serve --publish`; a hash-only mirror suffices): its checkpoint
        /// co-signed by both parties, consistent with the receipt's, and including the
        /// entry, by proofs built from its hash tiles.
        #[arg(long, value_name = "URL", conflicts_with = "endorsement")]
        mirror: Option<String>,
    },
    /// Check evidence of equivocation or of a broken promise (spec/evidence.md) against the
    /// accused party's key. Exit 0: proven; 1: not proven; 2: unreadable or not evidence.
    #[command(after_help = EXAMPLES)]
    Evidence {
        /// The evidence file (dyad-equivocation/v1 or dyad-broken-promise/v1), or '-'.
        file: PathBuf,
        /// Verifier key files of the parties who may be accused (repeatable).
        #[arg(
            long = "trust",
            value_name = "KEY.pub",
            required_unless_present = "policy"
        )]
        trust: Vec<PathBuf>,
        /// A C2SP tlog-policy naming the parties (spec/dyad.md section 9) instead of --trust.
        #[arg(long, value_name = "FILE", conflicts_with = "trust")]
        policy: Option<PathBuf>,
    },
    /// Check a replica's store on disk in full: every entry, bundle, hash tile and node.
    #[command(after_help = crate::commands::verify_store::EXAMPLES)]
    Store(crate::commands::verify_store::VerifyStoreArgs),
}

/// Input that is not of the expected form at all (exit 2); its JSON error object says
/// `"valid": false, "malformed": true`.
fn malformed(path: &Path, message: String) -> CliError {
    CliError::malformed(path, message).with_fields(j!({"valid": false, "malformed": true}))
}

/// A failed verification (exit 1); its JSON error object says `"valid": false`.
fn failed(message: String) -> CliError {
    CliError::check(message).with_fields(j!({"valid": false}))
}

/// The keys a party's key signs a checkpoint of `origin` with (spec 2.2): as the log
/// (the same key under the origin's name), as co-signer (type 0x04), and plainly.
/// The witnesses that co-signed a committed checkpoint, for `--json`.
fn witnesses_json(committed: &dyad_verifier::genesis::Committed) -> Value {
    committed
        .witnesses
        .iter()
        .map(|(k, t)| j!({"name": k.name(), "cosigned_at": t}))
        .collect()
}

/// "  witnessed by A, B" when witnesses co-signed a committed checkpoint.
fn witnessed_line(committed: &dyad_verifier::genesis::Committed) -> Option<String> {
    let names: Vec<&str> = committed.witnesses.iter().map(|(k, _)| k.name()).collect();
    (!names.is_empty()).then(|| format!("  witnessed by {}", names.join(", ")))
}

fn signing_keys(key: &VerifierKey, origin: &str) -> Vec<(VerifierKey, &'static str)> {
    let mut out = Vec::new();
    if key.signature_type() == SignatureType::Ed25519 {
        if let Ok(log) = key.with_name(origin) {
            out.push((log, "log"));
        }
        out.push((
            key.with_signature_type(SignatureType::CosignatureV1),
            "cosigner",
        ));
    }
    out.push((
        key.clone(),
        if key.signature_type() == SignatureType::CosignatureV1 {
            "cosigner"
        } else {
            "signer"
        },
    ));
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

pub fn run(ctx: &Ctx, command: &VerifyCommand) -> Result<ExitCode> {
    match command {
        VerifyCommand::Inclusion { file } => proofs::inclusion(ctx, file),
        VerifyCommand::Consistency { file } => proofs::consistency(ctx, file),
        VerifyCommand::Checkpoint {
            note,
            trust,
            policy,
            origin,
            key_history: Some(dir),
        } => checkpoint::with_key_history(
            ctx,
            note,
            &Trust::read(trust, policy.as_deref())?,
            dir,
            origin.as_deref(),
        ),
        VerifyCommand::Checkpoint {
            note,
            trust,
            policy: Some(policy),
            origin,
            ..
        } if trust.is_empty() => checkpoint::under_policy(ctx, note, policy, origin.as_deref()),
        VerifyCommand::Checkpoint {
            note,
            trust,
            origin,
            ..
        } => checkpoint::checkpoint(ctx, note, trust, origin.as_deref()),
        VerifyCommand::Receipt {
            file,
            attachments,
            trust,
            policy,
            origin,
            endorsement,
            mirror,
        } => endorsed::verify_receipt_or_pair(
            ctx,
            file,
            attachments.as_deref(),
            endorsement.as_deref(),
            &Trust::read(trust, policy.as_deref())?,
            origin.as_deref(),
            mirror.as_deref(),
        ),
        VerifyCommand::Evidence {
            file,
            trust,
            policy,
        } => {
            let keys = match policy {
                Some(p) => Trust::read(&[], Some(p))?.accusable_keys(),
                None => read_trust(trust)?,
            };
            evidence::evidence(ctx, file, &keys)
        }
        VerifyCommand::Store(args) => crate::commands::verify_store::run(ctx, args),
    }
}

fn cp_json(cp: &Checkpoint) -> Value {
    j!({"origin": cp.origin, "size": cp.size, "root": b64(&cp.root)})
}
