//! A standalone C2SP tlog-witness (`dyad witness serve`): co-signs checkpoints of any log
//! it is configured to trust (a dyad channel or any C2SP checkpoint log). The decisions
//! are `dyad_ledger::wire::witness_request` (no I/O); the durable record of each log is
//! [`record`]; the HTTP endpoint is [`http`].

pub mod http;
pub mod record;

use dyad_ledger::keys::SignerKey;
use dyad_ledger::wire::witness_request::TrustedLog;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::note;

/// Why the witness's configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WitnessConfigError {
    /// The logs file is not a tlog-policy text.
    #[error("the logs file: {0}")]
    Policy(String),
    /// The logs file names no log.
    #[error("the logs file names no log (lines `log <vkey> [url]`)")]
    NoLogs,
    /// The witness key has no cosignature form.
    #[error("the witness key: {0}")]
    Key(String),
}

/// The logs a witness trusts, from a tlog-policy-style text: its `log <vkey> [url]` lines
/// (the key's name is the log's origin); `witness`, `group` and `quorum` lines are
/// accepted and not used, and the quorum line a policy needs may be left out.
pub fn trusted_logs(policy_text: &str) -> Result<Vec<TrustedLog>, WitnessConfigError> {
    let has_quorum = policy_text
        .lines()
        .any(|l| l.split_whitespace().next() == Some("quorum"));
    let text = if has_quorum {
        policy_text.to_owned()
    } else {
        format!("{policy_text}\nquorum none\n")
    };
    let policy = dyad_verifier::policy::parse(&text)
        .map_err(|e| WitnessConfigError::Policy(e.to_string()))?;
    let mut logs: Vec<TrustedLog> = Vec::new();
    for log in policy.logs() {
        let origin = log.key.name().to_owned();
        match logs.iter_mut().find(|l| l.origin == origin) {
            Some(l) => l.keys.push(log.key.clone()),
            None => logs.push(TrustedLog {
                origin,
                keys: vec![log.key.clone()],
            }),
        }
    }
    if logs.is_empty() {
        return Err(WitnessConfigError::NoLogs);
    }
    Ok(logs)
}

/// The witness's signing key and its cosignature (type 0x04) verifier key.
pub struct WitnessKey {
    key: SignerKey,
    cosignature_key: VerifierKey,
}

impl WitnessKey {
    /// The key, with its cosignature verifier key.
    pub fn new(key: SignerKey) -> Result<WitnessKey, WitnessConfigError> {
        let cosignature_key = dyad_ledger::genesis::Party::of(&key)
            .cosignature_key()
            .map_err(|e| WitnessConfigError::Key(e.to_string()))?;
        Ok(WitnessKey {
            key,
            cosignature_key,
        })
    }

    /// Its cosignature verifier key (what logs and verifiers configure).
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.cosignature_key
    }

    /// A C2SP cosignature/v1 line on `checkpoint_text` made at `timestamp` (seconds).
    pub fn cosign(&self, checkpoint_text: &str, timestamp: u64) -> String {
        let message = dyad_verifier::cosignature::signed_message(timestamp, checkpoint_text);
        let mut sig = timestamp.to_be_bytes().to_vec();
        sig.extend_from_slice(&self.key.sign(&message));
        note::signature_line(
            self.cosignature_key.name(),
            self.cosignature_key.key_id(),
            &sig,
        )
    }
}
