//! The node's HTTP bodies at the parse level (`dyad_node`): what it reads from
//! requests and what its clients read from the peer's answers. Never panics; every
//! accepted body is canonical where the format is (written back byte for byte).
//!
//! Layout: byte 0 picks the body, the rest is it.
//! - 0: a tlog-witness `add-checkpoint` request (`witness::AddCheckpoint::parse`);
//! - 1: an `add-checkpoint` 200 answer, cosignature lines (`parse_cosignature_response`);
//! - 2: an `add-checkpoint` 409 answer, `text/x.tlog.size` (`parse_size_body`);
//! - 3: a promise of inclusion, the `POST /submit` answer (`Promise::verify`): the rest
//!   is the note's text, which the target signs with the test log key, so that the
//!   fuzzer reaches the text's parser; a verified promise signs back to the same note;
//! - 4: a promise note as is (signature lines included);
//! - 5: an `/admin/append` request body (`AppendRequest`, JSON, unknown fields refused);
//! - 6: an `/admin/append` answer (`AppendResponse`, what `dyad append` reads);
//! - 7: a `POST /submit-batch` body (`submit::parse_batch`): framed back byte for byte;
//! - 8: a `POST /submit-batch` answer (`SubmitResults::parse`): the next byte is the
//!   number of entries asked about, the rest the body; an accepted one encodes back;
//! - 9: a promise covering several entries (`BatchPromise::verify`): like 3, the rest is
//!   the note's text, signed here;
//! - 10: a `/admin/snapshot` request body (`SnapshotRequest`, JSON, unknown fields refused);
//! - 11: a `/admin/rotate-key` request body (`RotateKeyRequest`, JSON, unknown fields
//!   refused);
//! - 12: a `/admin/witness-change/approve` request body (`WitnessChangeApproveRequest`);
//! - 13: a witness-change approval, its answer and the `/admin/witness-change` request
//!   body (`WitnessChangeApproval`, what `dyad witness-change submit` reads from a file);
//! - 14: a `/admin/witness-change` answer (`WitnessChangeResponse`).
//!
//! The JSON bodies (5, 6, 10 to 14): an accepted one serialises and reads back the same.
#![no_main]

use std::sync::OnceLock;

use dyad_ledger::keys::SignerKey;
use dyad_node::admin::RotateKeyRequest;
use dyad_node::submit::{encode_batch, parse_batch, SubmitResults, MAX_SUBMIT_BATCH};
use dyad_node::witness::{
    parse_cosignature_response, parse_size_body, size_body, AddCheckpoint, MAX_PROOF_LINES,
};
use dyad_node::{
    AppendRequest, AppendResponse, BatchPromise, Promise, SnapshotRequest, WitnessChangeApproval,
    WitnessChangeApproveRequest, WitnessChangeResponse,
};
use dyad_verifier::key::VerifierKey;
use dyad_verifier::note::signature_line;
use libfuzzer_sys::fuzz_target;

const ORIGIN: &str = "example.org/dyad/test";

fn keys() -> &'static (SignerKey, VerifierKey) {
    static KEYS: OnceLock<(SignerKey, VerifierKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = SignerKey::from_seed("example.org/alpha", [1; 32]).expect("a test key");
        let log_key = key
            .verifier_key()
            .with_name(ORIGIN)
            .expect("the origin is a key name");
        (key, log_key)
    })
}

/// A JSON body the node or its client reads: if it is accepted, it serialises and reads
/// back the same.
fn json_round_trip<T>(body: &[u8])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let Ok(value) = serde_json::from_slice::<T>(body) else {
        return;
    };
    let again = serde_json::to_vec(&value).expect("an accepted body serialises");
    assert_eq!(serde_json::from_slice::<T>(&again).ok(), Some(value));
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    match mode % 15 {
        0 => {
            let Ok(req) = AddCheckpoint::parse(body) else {
                return;
            };
            assert!(req.proof.len() <= MAX_PROOF_LINES);
            assert!(!req.note.is_empty());
            assert_eq!(req.encode(), body, "an accepted request is not canonical");
        }
        1 => {
            if let Ok(lines) = parse_cosignature_response(body) {
                assert_eq!(lines, body);
                let text = std::str::from_utf8(lines).expect("accepted as UTF-8");
                assert!(text.ends_with('\n'));
                assert!(text
                    .split_terminator('\n')
                    .all(|l| l.starts_with("\u{2014} ")));
            }
        }
        2 => {
            if let Ok(size) = parse_size_body(body) {
                assert_eq!(size_body(size).as_bytes(), body);
            }
        }
        3 => {
            let (key, log_key) = keys();
            let Ok(text) = std::str::from_utf8(body) else {
                return;
            };
            let note = format!(
                "{text}\n{}",
                signature_line(log_key.name(), log_key.key_id(), &key.sign(text.as_bytes()))
            );
            if let Ok(p) = Promise::verify(note.as_bytes(), log_key) {
                assert_eq!(p.text(), text, "an accepted promise is not canonical");
                assert_eq!(p.sign(key, log_key), note.as_bytes());
            }
        }
        4 => {
            let (_, log_key) = keys();
            if let Ok(p) = Promise::verify(body, log_key) {
                assert!(body.starts_with(p.text().as_bytes()));
            }
        }
        5 => json_round_trip::<AppendRequest>(body),
        7 => {
            if let Ok(entries) = parse_batch(body) {
                assert!(!entries.is_empty() && entries.len() <= MAX_SUBMIT_BATCH);
                let again = encode_batch(entries.iter().copied()).expect("parsed entries frame");
                assert_eq!(again, body, "an accepted batch is not canonical");
            }
        }
        8 => {
            let Some((&count, body)) = body.split_first() else {
                return;
            };
            if let Ok(parsed) = SubmitResults::parse(body, usize::from(count)) {
                assert_eq!(parsed.results.len(), usize::from(count));
                assert_eq!(parsed.encode(), body, "an accepted answer is not canonical");
            }
        }
        9 => {
            let (key, log_key) = keys();
            let Ok(text) = std::str::from_utf8(body) else {
                return;
            };
            let note = format!(
                "{text}\n{}",
                signature_line(log_key.name(), log_key.key_id(), &key.sign(text.as_bytes()))
            );
            if let Ok(p) = BatchPromise::verify(note.as_bytes(), log_key) {
                assert_eq!(p.text(), text, "an accepted promise is not canonical");
                assert!(p.entries.windows(2).all(|w| w[0].0 < w[1].0));
                assert_eq!(p.sign(key, log_key), note.as_bytes());
            }
        }
        6 => json_round_trip::<AppendResponse>(body),
        10 => json_round_trip::<SnapshotRequest>(body),
        11 => json_round_trip::<RotateKeyRequest>(body),
        12 => json_round_trip::<WitnessChangeApproveRequest>(body),
        13 => json_round_trip::<WitnessChangeApproval>(body),
        14 => json_round_trip::<WitnessChangeResponse>(body),
        _ => {}
    }
});
