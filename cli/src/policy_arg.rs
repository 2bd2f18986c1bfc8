//! `--policy FILE`: a C2SP tlog-policy naming whom an auditor trusts (spec/dyad.md
//! section 9), and the choice between it and `--trust` (the two parties' `.pub` files,
//! the short form). Built on `dyad-verifier` only, like [`crate::trust`].

use std::path::{Path, PathBuf};

use dyad_verifier::audit::AuditTrust;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::policy::{self, Policy, PolicyParties};
use dyad_verifier::receipt::ReceiptTrust;

use crate::bounded::read_bounded_text;
use crate::error::{CliError, Result};
use crate::trust::read_two_parties;

/// Largest policy file read: 32 logs, 32 witnesses and 32 groups of keys and URLs fit
/// many times over, with room for comments.
pub const MAX_POLICY_FILE: u64 = 256 << 10;

/// What to write in a policy so that it names the parties.
const PARTIES_HINT: &str = "a dyad policy names the sequencer as its one `log` (key named by the origin) and both parties as witnesses `sequencer` and `cosigner`; `dyad policy show` writes the channel's";

/// Reads and parses a tlog-policy file; a file that is not one is malformed input (exit 2).
pub fn read_policy(path: &Path) -> Result<Policy> {
    let text = read_bounded_text(path, MAX_POLICY_FILE)?;
    policy::parse(&text).map_err(|e| {
        CliError::malformed(path, format!("not a C2SP tlog-policy: {e}"))
            .with_fields(serde_json::json!({"valid": false, "malformed": true}))
    })
}

/// Whom the auditor trusts: both parties' keys, or a policy naming them.
pub enum Trust {
    /// `--trust A.pub --trust B.pub`: the roles are read from what they signed.
    Parties(VerifierKey, VerifierKey),
    /// `--policy FILE`, with the parties it names.
    Policy(Policy, PolicyParties),
}

impl Trust {
    /// From `--trust` files or a `--policy` file (clap lets only one through). A policy
    /// must name the parties: entry signatures are checked under their keys.
    pub fn read(trust: &[PathBuf], policy: Option<&Path>) -> Result<Trust> {
        let Some(path) = policy else {
            let (a, b) = read_two_parties(trust)?;
            return Ok(Trust::Parties(a, b));
        };
        let policy = read_policy(path)?;
        let parties = policy.parties().map_err(|e| {
            CliError::usage_hint(
                format!(
                    "{}: the policy does not name the channel's parties: {e}",
                    path.display()
                ),
                PARTIES_HINT,
            )
        })?;
        Ok(Trust::Policy(policy, parties))
    }

    /// The two parties' entry keys (sequencer first when a policy gave them).
    pub fn party_keys(&self) -> [VerifierKey; 2] {
        match self {
            Trust::Parties(a, b) => [a.clone(), b.clone()],
            Trust::Policy(_, p) => [p.sequencer.clone(), p.cosigner.clone()],
        }
    }

    /// The keys evidence may accuse (spec/evidence.md): the two parties, and under a policy
    /// also its other witnesses (a witness that co-signed a fork equivocated too).
    pub fn accusable_keys(&self) -> Vec<VerifierKey> {
        let mut keys = self.party_keys().to_vec();
        if let Trust::Policy(policy, _) = self {
            for w in policy.witnesses() {
                if w.name != dyad_verifier::policy::SEQUENCER
                    && w.name != dyad_verifier::policy::COSIGNER
                {
                    keys.push(w.key.clone());
                }
            }
        }
        keys
    }

    /// The receipt verifier's trust, pinned to `origin` if given.
    pub fn receipt_trust(&self, origin: Option<&str>) -> std::result::Result<ReceiptTrust, String> {
        let trust = match self {
            Trust::Parties(a, b) => ReceiptTrust::parties(a.clone(), b.clone()),
            Trust::Policy(policy, _) => ReceiptTrust::from_policy(policy.clone()),
        }
        .map_err(|e| e.to_string())?;
        Ok(match origin {
            Some(o) => trust.with_origin(o),
            None => trust,
        })
    }

    /// The auditor's trust.
    pub fn audit_trust(&self) -> AuditTrust {
        match self {
            Trust::Parties(a, b) => AuditTrust::Parties([a.clone(), b.clone()]),
            Trust::Policy(policy, _) => AuditTrust::Policy(policy.clone()),
        }
    }

    /// Which option gave the trust, for messages.
    pub fn option(&self) -> &'static str {
        match self {
            Trust::Parties(..) => "--trust",
            Trust::Policy(..) => "--policy",
        }
    }
}
