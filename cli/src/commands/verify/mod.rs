//! `dyad verify ...`: the auditor's checks of single artefacts. Built ONLY on
//! `dyad-verifier` (never on `dyad-ledger`): an auditor trusts neither party's software,
//! so these commands share no code with the log they check.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::equivocation::{self, Contradiction};
use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::promise_evidence;
use dyad_verifier::receipt::{self, ReceiptTrust};
use dyad_verifier::{note, proof};
use serde::{Deserialize, Serialize};
use serde_json::{json as j, Value};

use crate::bounded::{read_bounded, MAX_CHECKPOINT, MAX_EVIDENCE, MAX_PROOF_JSON, MAX_RECEIPT};
use crate::data::read_public_key;
use crate::error::{CliError, Result};
use crate::output::{b64, format_ms, format_s, hash_from_b64, json, outln, printable};
use crate::Ctx;

const EXAMPLES: &str = "\
Examples:
  dyad verify inclusion incl.json          # from `dyad prove inclusion I --json`
  dyad verify consistency cons.json        # from `dyad prove consistency OLD NEW --json`
  dyad verify checkpoint latest.checkpoint --trust alpha.pub --trust bravo.pub
  dyad verify receipt receipt-3.tlog-proof --trust alpha.pub --trust bravo.pub
  dyad verify evidence conflict.dyad-equivocation --trust alpha.pub
  dyad verify evidence data/bravo/evidence/broken-promise-*.dyad-broken-promise --trust alpha.pub

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
        #[arg(long = "trust", value_name = "KEY.pub", required = true)]
        trust: Vec<PathBuf>,
        /// Require this origin.
        #[arg(long)]
        origin: Option<String>,
    },
    /// Check a receipt (a C2SP tlog-proof file from `dyad receipt`) with the two parties' keys.
    #[command(after_help = EXAMPLES)]
    Receipt {
        /// The receipt file, or '-'.
        file: PathBuf,
        /// The two parties' verifier key files.
        #[arg(long = "trust", value_name = "KEY.pub", required = true)]
        trust: Vec<PathBuf>,
        /// Require this origin.
        #[arg(long)]
        origin: Option<String>,
    },
    /// Check evidence of equivocation or of a broken promise (spec/evidence.md) against the
    /// accused party's key. Exit 0: proven; 1: not proven; 2: unreadable or not evidence.
    #[command(after_help = EXAMPLES)]
    Evidence {
        /// The evidence file (dyad-equivocation/v1 or dyad-broken-promise/v1), or '-'.
        file: PathBuf,
        /// Verifier key files of the parties who may be accused (repeatable).
        #[arg(long = "trust", value_name = "KEY.pub", required = true)]
        trust: Vec<PathBuf>,
    },
    /// Check a replica's store on disk in full: every entry, bundle, hash tile and node.
    #[command(after_help = crate::commands::verify_store::EXAMPLES)]
    Store(crate::commands::verify_store::VerifyStoreArgs),
}

/// `dyad prove inclusion --json`, field for field.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InclusionJson {
    pub index: u64,
    pub size: u64,
    pub leaf_hash: String,
    pub root: String,
    pub proof: Vec<String>,
}

/// `dyad prove consistency --json`, field for field.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyJson {
    pub old_size: u64,
    pub new_size: u64,
    pub old_root: String,
    pub new_root: String,
    pub proof: Vec<String>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, what: &str) -> Result<T> {
    let bytes = read_bounded(path, MAX_PROOF_JSON)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| CliError::malformed(path, format!("not {what} JSON: {e}")))
}

fn hash(path: &Path, field: &str, text: &str) -> Result<[u8; 32]> {
    hash_from_b64(text).ok_or_else(|| {
        CliError::malformed(
            path,
            format!("{field} is not a base64 SHA-256 hash (32 bytes)"),
        )
    })
}

fn hashes(path: &Path, list: &[String]) -> Result<Vec<[u8; 32]>> {
    if list.len() > proof::MAX_PROOF_HASHES {
        return Err(CliError::malformed(
            path,
            format!(
                "the proof has {} hashes, more than any tree needs",
                list.len()
            ),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, h)| hash(path, &format!("proof[{i}]"), h))
        .collect()
}

/// Reports input that is not of the expected form at all (exit 2): as JSON on stdout when
/// asked, and as the error.
fn malformed(ctx: &Ctx, path: &Path, message: String) -> CliError {
    if ctx.json {
        let _ = json(&j!({"valid": false, "malformed": true, "error": message}));
    }
    CliError::malformed(path, message)
}

/// Reports a failed verification: as JSON on stdout when asked, and as the error.
fn failed(ctx: &Ctx, message: String) -> CliError {
    if ctx.json {
        let _ = json(&j!({"valid": false, "error": message}));
    }
    CliError::check(message)
}

/// The party keys given with --trust; `.pub` files of type 0x01 (or 0x04 for a witness).
pub fn read_trust(paths: &[PathBuf]) -> Result<Vec<VerifierKey>> {
    let mut keys: Vec<VerifierKey> = Vec::new();
    for p in paths {
        let key = read_public_key(p)?;
        if keys.contains(&key) {
            return Err(CliError::usage(format!(
                "{} is given twice with --trust",
                p.display()
            )));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Exactly two party keys, as receipts and audits need.
pub fn read_two_parties(paths: &[PathBuf]) -> Result<(VerifierKey, VerifierKey)> {
    let keys = read_trust(paths)?;
    match <[VerifierKey; 2]>::try_from(keys) {
        Ok([a, b])
            if a.signature_type() == SignatureType::Ed25519
                && b.signature_type() == SignatureType::Ed25519 =>
        {
            Ok((a, b))
        }
        Ok(_) => Err(CliError::usage(
            "--trust takes the parties' .pub files (type 0x01 keys), as `dyad keygen` writes them",
        )),
        Err(keys) => Err(CliError::usage(format!(
            "give both parties' keys: --trust SEQUENCER.pub --trust COSIGNER.pub (got {})",
            keys.len()
        ))),
    }
}

/// The keys a party's key signs a checkpoint of `origin` with (spec 2.2): as the log
/// (the same key under the origin's name), as co-signer (type 0x04), and plainly.
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
        VerifyCommand::Inclusion { file } => inclusion(ctx, file),
        VerifyCommand::Consistency { file } => consistency(ctx, file),
        VerifyCommand::Checkpoint {
            note,
            trust,
            origin,
        } => checkpoint(ctx, note, trust, origin.as_deref()),
        VerifyCommand::Receipt {
            file,
            trust,
            origin,
        } => verify_receipt(ctx, file, trust, origin.as_deref()),
        VerifyCommand::Evidence { file, trust } => evidence(ctx, file, trust),
        VerifyCommand::Store(args) => crate::commands::verify_store::run(ctx, args),
    }
}

fn inclusion(ctx: &Ctx, file: &Path) -> Result<ExitCode> {
    let p: InclusionJson = read_json(file, "inclusion proof")?;
    let leaf = hash(file, "leaf_hash", &p.leaf_hash)?;
    let root = hash(file, "root", &p.root)?;
    let path = hashes(file, &p.proof)?;
    proof::verify_inclusion(&leaf, p.index, p.size, &path, &root)
        .map_err(|e| failed(ctx, format!("the inclusion proof does not verify: {e}")))?;
    if ctx.json {
        json(
            &j!({"valid": true, "index": p.index, "size": p.size, "leaf_hash": p.leaf_hash, "root": p.root}),
        )?;
    } else {
        outln(&format!(
            "OK: leaf {} is entry {} of the tree of {} entries with root {}",
            p.leaf_hash, p.index, p.size, p.root
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn consistency(ctx: &Ctx, file: &Path) -> Result<ExitCode> {
    let p: ConsistencyJson = read_json(file, "consistency proof")?;
    let old = hash(file, "old_root", &p.old_root)?;
    let new = hash(file, "new_root", &p.new_root)?;
    let path = hashes(file, &p.proof)?;
    proof::verify_consistency(p.old_size, p.new_size, &old, &new, &path)
        .map_err(|e| failed(ctx, format!("the consistency proof does not verify: {e}")))?;
    if ctx.json {
        json(
            &j!({"valid": true, "old_size": p.old_size, "new_size": p.new_size, "old_root": p.old_root, "new_root": p.new_root}),
        )?;
    } else {
        outln(&format!(
            "OK: the tree of {} entries (root {}) is a prefix of the tree of {} entries (root {})",
            p.old_size, p.old_root, p.new_size, p.new_root
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn checkpoint(ctx: &Ctx, file: &Path, trust: &[PathBuf], origin: Option<&str>) -> Result<ExitCode> {
    let trusted = read_trust(trust)?;
    let bytes = read_bounded(file, MAX_CHECKPOINT)?;
    let parsed =
        note::parse(&bytes).map_err(|e| malformed(ctx, file, format!("not a signed note: {e}")))?;
    let cp = dyad_verifier::checkpoint::parse(&parsed.text)
        .map_err(|e| malformed(ctx, file, format!("not a checkpoint: {e}")))?;
    if let Some(expected) = origin {
        if cp.origin != expected {
            return Err(failed(
                ctx,
                format!(
                    "the checkpoint is for origin {:?}, not {expected:?}",
                    cp.origin
                ),
            ));
        }
    }
    let per_party: Vec<Vec<(VerifierKey, &str)>> = trusted
        .iter()
        .map(|k| signing_keys(k, &cp.origin))
        .collect();
    let mut all: Vec<VerifierKey> = Vec::new();
    for (k, _) in per_party.iter().flatten() {
        if !all.contains(k) {
            all.push(k.clone());
        }
    }
    let verified = note::verify(&bytes, &all)
        .map_err(|e| failed(ctx, format!("the checkpoint does not verify: {e}")))?;
    let mut signers = Vec::new();
    for (party, keys) in trusted.iter().zip(&per_party) {
        let found: Vec<Value> = keys
            .iter()
            .filter_map(|(k, role)| {
                verified
                    .verified
                    .iter()
                    .find(|v| v.key == *k)
                    .map(|v| j!({"role": role, "key": k.to_string(), "timestamp": v.timestamp}))
            })
            .collect();
        if found.is_empty() {
            return Err(failed(
                ctx,
                format!(
                    "the checkpoint of size {} is not signed or co-signed by trusted key {}",
                    cp.size,
                    party.name()
                ),
            ));
        }
        signers.push(j!({"party": party.name(), "signatures": found}));
    }
    if ctx.json {
        json(
            &j!({"valid": true, "origin": cp.origin, "size": cp.size, "root": b64(&cp.root), "signers": signers}),
        )?;
    } else {
        outln(&format!(
            "OK: checkpoint of {} at size {} with root {}",
            cp.origin,
            cp.size,
            b64(&cp.root)
        ))?;
        for s in &signers {
            let roles: Vec<String> = s["signatures"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| match x["timestamp"].as_u64() {
                            Some(t) => {
                                format!("{} at {}", x["role"].as_str().unwrap_or(""), format_s(t))
                            }
                            None => x["role"].as_str().unwrap_or("").to_owned(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            outln(&format!(
                "  signed by {} as {}",
                s["party"].as_str().unwrap_or(""),
                roles.join(", ")
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Verifies a receipt's bytes against the two parties' keys.
pub fn check_receipt(
    bytes: &[u8],
    a: VerifierKey,
    b: VerifierKey,
    origin: Option<&str>,
) -> std::result::Result<receipt::VerifiedReceipt, String> {
    let mut trust = ReceiptTrust::parties(a, b).map_err(|e| e.to_string())?;
    if let Some(o) = origin {
        trust = trust.with_origin(o);
    }
    receipt::verify(bytes, &trust).map_err(|e| format!("the receipt does not verify: {e}"))
}

fn cp_json(cp: &Checkpoint) -> Value {
    j!({"origin": cp.origin, "size": cp.size, "root": b64(&cp.root)})
}

fn verify_receipt(
    ctx: &Ctx,
    file: &Path,
    trust: &[PathBuf],
    origin: Option<&str>,
) -> Result<ExitCode> {
    let (a, b) = read_two_parties(trust)?;
    let bytes = read_bounded(file, MAX_RECEIPT)?;
    // Its form first (exit 2 if it is not a receipt at all): the receipt's lines, and the
    // checkpoint note it ends with. What the signatures cover is then verified (exit 1).
    let parsed =
        receipt::parse(&bytes).map_err(|e| malformed(ctx, file, format!("not a receipt: {e}")))?;
    note::parse(&parsed.checkpoint_note)
        .map_err(|e| {
            malformed(
                ctx,
                file,
                format!("the receipt's checkpoint is not a signed note: {e}"),
            )
        })
        .and_then(|n| {
            dyad_verifier::checkpoint::parse(&n.text).map_err(|e| {
                malformed(
                    ctx,
                    file,
                    format!("the receipt's checkpoint is not a checkpoint: {e}"),
                )
            })
        })?;
    let r = check_receipt(&bytes, a, b, origin).map_err(|e| failed(ctx, e))?;
    let e = &r.entry;
    let payload_text = std::str::from_utf8(&e.payload)
        .ok()
        .filter(|t| !t.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
    if ctx.json {
        json(&j!({
            "valid": true,
            "index": r.index,
            "leaf_hash": b64(&r.leaf_hash),
            "origin": e.origin,
            "kind": e.kind.as_str(),
            "sender": r.sender.name(),
            "sender_role": r.sender_role.to_string(),
            "sequence": e.sequence,
            "time": format_ms(e.timestamp_ms),
            "timestamp_ms": e.timestamp_ms,
            "subject": e.subject,
            "reply_to": e.reply_to,
            "content_type": e.content_type,
            "payload_size": e.payload.len(),
            "payload_text": payload_text,
            "attachments": e.attachments.iter().map(|a| j!({"name": a.name, "size": a.size, "sha256": b64(&a.sha256), "content_type": a.content_type})).collect::<Vec<_>>(),
            "checkpoint": cp_json(&r.committed.checkpoint),
            "cosigner": r.committed.cosigner.name(),
            "cosigned_at": r.committed.cosigned_at,
        }))?;
    } else {
        outln(&format!(
            "OK: receipt for entry {} of {}",
            r.index, e.origin
        ))?;
        outln(&format!(
            "  {} from {} ({}), message {}, sent {}",
            e.kind,
            r.sender.name(),
            r.sender_role,
            e.sequence,
            format_ms(e.timestamp_ms)
        ))?;
        outln(&format!("  subject: {}", printable(&e.subject)))?;
        outln(&format!(
            "  committed: in the checkpoint of size {} (root {}), co-signed by {} at {}",
            r.committed.checkpoint.size,
            b64(&r.committed.checkpoint.root),
            r.committed.cosigner.name(),
            format_s(r.committed.cosigned_at)
        ))?;
        outln("  The sender signed this message, and the other party acknowledged holding it; neither can rewrite it.")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn evidence(ctx: &Ctx, file: &Path, trust: &[PathBuf]) -> Result<ExitCode> {
    let trusted = read_trust(trust)?;
    let bytes = read_bounded(file, MAX_EVIDENCE)?;
    if bytes.starts_with(format!("{}\n", promise_evidence::HEADER).as_bytes()) {
        return broken_promise(ctx, file, &bytes, &trusted);
    }
    let parsed = equivocation::parse(&bytes)
        .map_err(|e| malformed(ctx, file, format!("not valid evidence: {e}")))?;
    let origin = note::parse(&parsed.first_note)
        .ok()
        .and_then(|n| dyad_verifier::checkpoint::parse(&n.text).ok())
        .map(|c| c.origin)
        .ok_or_else(|| {
            malformed(
                ctx,
                file,
                "the evidence's first checkpoint is not readable".to_owned(),
            )
        })?;
    let mut last_error = None;
    for party in &trusted {
        for (key, role) in signing_keys(party, &origin) {
            match equivocation::verify(&bytes, &key) {
                Ok(v) => {
                    let kind = match &v.contradiction {
                        Contradiction::SameSize => "same-size".to_owned(),
                        Contradiction::DifferentLeaf { index, .. } => {
                            format!("different-leaf at index {index}")
                        }
                    };
                    if ctx.json {
                        json(&j!({
                            "valid": true,
                            "evidence": "equivocation",
                            "accused": party.name(),
                            "as": role,
                            "key": key.to_string(),
                            "contradiction": kind,
                            "first": cp_json(&v.first),
                            "second": cp_json(&v.second),
                            "timestamps": v.timestamps.map(|(a, b)| vec![a, b]),
                        }))?;
                    } else {
                        outln(&format!("EQUIVOCATION PROVEN: {} (as {role}) signed two contradicting checkpoints of {origin}:", party.name()))?;
                        outln(&format!(
                            "  size {} root {}",
                            v.first.size,
                            b64(&v.first.root)
                        ))?;
                        outln(&format!(
                            "  size {} root {}",
                            v.second.size,
                            b64(&v.second.root)
                        ))?;
                        outln(&format!("  contradiction: {kind}"))?;
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => last_error = Some(e.to_string()),
            }
        }
    }
    Err(failed(
        ctx,
        format!(
            "the evidence does not prove equivocation by any trusted key: {}",
            last_error.unwrap_or_else(|| "no trusted key".into())
        ),
    ))
}

/// `dyad verify evidence` of a `dyad-broken-promise/v1` file: the log key of some trusted
/// party signed both the promise and the tree that breaks it.
fn broken_promise(
    ctx: &Ctx,
    file: &Path,
    bytes: &[u8],
    trusted: &[VerifierKey],
) -> Result<ExitCode> {
    let parsed = promise_evidence::parse(bytes)
        .map_err(|e| malformed(ctx, file, format!("not valid evidence: {e}")))?;
    let origin = note::parse(&parsed.promise_note)
        .ok()
        .and_then(|n| promise_evidence::parse_promise_text(&n.text).ok())
        .map(|p| p.origin)
        .ok_or_else(|| {
            malformed(
                ctx,
                file,
                "the evidence's promise is not a readable dyad-promise/v1 note".to_owned(),
            )
        })?;
    let mut last_error = None;
    for party in trusted {
        if party.signature_type() != SignatureType::Ed25519 {
            continue;
        }
        let Ok(log_key) = party.with_name(&origin) else {
            continue;
        };
        match promise_evidence::verify(bytes, &log_key) {
            Ok(v) => {
                if ctx.json {
                    json(&j!({
                        "valid": true,
                        "evidence": "broken-promise",
                        "accused": party.name(),
                        "as": "log",
                        "key": log_key.to_string(),
                        "index": v.index,
                        "promised_leaf_hash": b64(&v.promised_leaf),
                        "found_leaf_hash": b64(&v.found_leaf),
                        "promised_entries": v.promised_entries,
                        "checkpoint": cp_json(&v.checkpoint),
                    }))?;
                } else {
                    outln(&format!(
                        "BROKEN PROMISE PROVEN: {} (as the log of {origin}) promised a message at index {} and signed a tree holding another entry there:",
                        party.name(),
                        v.index
                    ))?;
                    outln(&format!("  promised leaf hash {}", b64(&v.promised_leaf)))?;
                    outln(&format!("  found leaf hash    {}", b64(&v.found_leaf)))?;
                    outln(&format!(
                        "  in the checkpoint of size {} with root {}",
                        v.checkpoint.size,
                        b64(&v.checkpoint.root)
                    ))?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => last_error = Some(e.to_string()),
        }
    }
    Err(failed(
        ctx,
        format!(
            "the evidence does not prove a broken promise by any trusted key: {}",
            last_error.unwrap_or_else(|| "no trusted party key (type 0x01)".into())
        ),
    ))
}
