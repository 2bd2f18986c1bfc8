//! What a C2SP tlog-witness decides about one `add-checkpoint` request, without transport
//! or storage: [`authenticate`] parses the body and checks the note against the logs the
//! witness trusts (400, 404, 403), then [`check_against`] compares it with what the
//! witness recorded for the origin (409, 422) — the caller runs that step and the update
//! of its record atomically. A witness never cosigns two checkpoints of one origin that
//! conflict: only a checkpoint consistent with the recorded one passes, so the record only
//! grows along one tree.

use dyad_verifier::checkpoint::{parse_note, Checkpoint};
use dyad_verifier::key::VerifierKey;
use dyad_verifier::note;
use dyad_verifier::proof::verify_consistency;

use super::witness::{AddCheckpoint, WitnessError};
use crate::tree::Hash;

/// A log the witness co-signs for: its origin and its key(s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedLog {
    /// The checkpoint origin line.
    pub origin: String,
    /// The log's note verifier keys (any one signing suffices).
    pub keys: Vec<VerifierKey>,
}

/// What the witness recorded for an origin: the latest checkpoint it co-signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// Its size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

/// Why the witness does not cosign, by the HTTP status C2SP tlog-witness gives it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: the body, its note or its checkpoint is malformed, or `old` exceeds the size.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 404: no trusted log has this origin.
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// 403: no signature verifies under a trusted key of the origin.
    #[error("the checkpoint is not signed by a trusted key of its log")]
    NotSigned,
    /// 409: `old` is not the recorded size, or the same size with another root. The
    /// recorded size goes in the body (`text/x.tlog.size`).
    #[error("the witness's recorded size is {0}")]
    Conflict(u64),
    /// 422: the consistency proof does not verify.
    #[error("the consistency proof does not verify: {0}")]
    BadProof(String),
}

impl Refusal {
    /// The HTTP status C2SP tlog-witness answers with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::UnknownOrigin(_) => 404,
            Refusal::NotSigned => 403,
            Refusal::Conflict(_) => 409,
            Refusal::BadProof(_) => 422,
        }
    }
}

/// A request whose note is a checkpoint signed by a trusted log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    /// The parsed request.
    pub request: AddCheckpoint,
    /// Its checkpoint.
    pub checkpoint: Checkpoint,
}

/// Parses the body and checks its note against the trusted logs.
pub fn authenticate(body: &[u8], logs: &[TrustedLog]) -> Result<Authenticated, Refusal> {
    let bad = |e: &dyn std::fmt::Display| Refusal::BadRequest(e.to_string());
    let request = AddCheckpoint::parse(body).map_err(|e: WitnessError| bad(&e))?;
    let checkpoint = parse_note(&request.note).map_err(|e| bad(&e))?;
    let log = logs
        .iter()
        .find(|l| l.origin == checkpoint.origin)
        .ok_or_else(|| Refusal::UnknownOrigin(checkpoint.origin.clone()))?;
    match note::verify(&request.note, &log.keys) {
        Ok(v) if v.verified.iter().any(|s| log.keys.contains(&s.key)) => {}
        _ => return Err(Refusal::NotSigned),
    }
    if request.old > checkpoint.size {
        return Err(bad(&format_args!(
            "old size {} exceeds the checkpoint's size {}",
            request.old, checkpoint.size
        )));
    }
    if request.old == 0 && !request.proof.is_empty() {
        return Err(bad(&"a proof from old size 0 must be empty"));
    }
    Ok(Authenticated {
        request,
        checkpoint,
    })
}

/// Checks an authenticated request against the witness's record for its origin (`None`:
/// it never co-signed one). `Ok` means: cosign, and record the checkpoint.
pub fn check_against(req: &Authenticated, recorded: Option<Recorded>) -> Result<(), Refusal> {
    let recorded_size = recorded.map_or(0, |r| r.size);
    if req.request.old != recorded_size {
        return Err(Refusal::Conflict(recorded_size));
    }
    let Some(recorded) = recorded else {
        return Ok(());
    };
    let cp = &req.checkpoint;
    if cp.size == recorded.size {
        return if cp.root == recorded.root && req.request.proof.is_empty() {
            Ok(())
        } else {
            Err(Refusal::Conflict(recorded.size))
        };
    }
    verify_consistency(
        recorded.size,
        cp.size,
        &recorded.root,
        &cp.root,
        &req.request.proof,
    )
    .map_err(|e| Refusal::BadProof(e.to_string()))
}

/// The record after co-signing `checkpoint`.
pub fn record_of(checkpoint: &Checkpoint) -> Recorded {
    Recorded {
        size: checkpoint.size,
        root: checkpoint.root,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SignerKey;
    use crate::tree::{leaf_hash, node_hash};

    const ORIGIN: &str = "example.org/log";

    fn log_key() -> SignerKey {
        SignerKey::from_seed(ORIGIN, [7; 32]).unwrap()
    }

    fn logs() -> Vec<TrustedLog> {
        vec![TrustedLog {
            origin: ORIGIN.into(),
            keys: vec![log_key().verifier_key().clone()],
        }]
    }

    fn signed(size: u64, root: Hash, key: &SignerKey) -> Vec<u8> {
        let text = Checkpoint {
            origin: ORIGIN.into(),
            size,
            root,
            extensions: Vec::new(),
        }
        .to_text();
        let line = note::signature_line(
            key.name(),
            key.verifier_key().key_id(),
            &key.sign(text.as_bytes()),
        );
        format!("{text}\n{line}").into_bytes()
    }

    fn body(old: u64, proof: Vec<Hash>, note: Vec<u8>) -> Vec<u8> {
        AddCheckpoint { old, proof, note }.encode()
    }

    fn roots() -> (Hash, Hash) {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        (a, node_hash(&a, &b))
    }

    #[test]
    fn a_first_checkpoint_then_a_consistent_one_pass_and_a_fork_is_refused() {
        let (r1, r2) = roots();
        let first = authenticate(&body(0, vec![], signed(1, r1, &log_key())), &logs()).unwrap();
        assert_eq!(check_against(&first, None), Ok(()));
        let rec = record_of(&first.checkpoint);
        let proof = vec![leaf_hash(b"b")];
        let next = authenticate(&body(1, proof, signed(2, r2, &log_key())), &logs()).unwrap();
        assert_eq!(check_against(&next, Some(rec)), Ok(()));
        // A wrong proof: 422, never a cosignature.
        let bad = authenticate(
            &body(1, vec![leaf_hash(b"c")], signed(2, r2, &log_key())),
            &logs(),
        )
        .unwrap();
        assert!(matches!(
            check_against(&bad, Some(rec)),
            Err(Refusal::BadProof(_))
        ));
        // Another root at the recorded size: 409, the same root again: fine.
        let fork = authenticate(&body(1, vec![], signed(1, r2, &log_key())), &logs()).unwrap();
        assert_eq!(check_against(&fork, Some(rec)), Err(Refusal::Conflict(1)));
        assert_eq!(check_against(&first_again(r1), Some(rec)), Ok(()));
        // A stale old size: 409 with the recorded size.
        assert_eq!(check_against(&first, Some(rec)), Err(Refusal::Conflict(1)));
    }

    fn first_again(r1: Hash) -> Authenticated {
        authenticate(&body(1, vec![], signed(1, r1, &log_key())), &logs()).unwrap()
    }

    #[test]
    fn requests_are_refused_with_the_c2sp_statuses() {
        let (r1, _) = roots();
        let stranger = SignerKey::from_seed(ORIGIN, [8; 32]).unwrap();
        let other_log = SignerKey::from_seed("example.org/other", [7; 32]).unwrap();
        let status = |b: Vec<u8>| authenticate(&b, &logs()).map(|_| ()).unwrap_err().status();
        assert_eq!(status(b"old x\n\n".to_vec()), 400);
        assert_eq!(status(body(2, vec![], signed(1, r1, &log_key()))), 400);
        assert_eq!(status(body(0, vec![r1], signed(1, r1, &log_key()))), 400);
        assert_eq!(status(body(0, vec![], signed(1, r1, &stranger))), 403);
        let unknown = {
            let text = format!("example.org/other\n1\n{}\n", base64_root(r1));
            let line = note::signature_line(
                other_log.name(),
                other_log.verifier_key().key_id(),
                &other_log.sign(text.as_bytes()),
            );
            format!("{text}\n{line}").into_bytes()
        };
        assert_eq!(status(body(0, vec![], unknown)), 404);
    }

    fn base64_root(r: Hash) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(r)
    }
}
