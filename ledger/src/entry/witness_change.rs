//! Witness-change entries (spec/dyad.md 3.8): both parties replace the witnesses and their
//! threshold. The entry is signed by one party like any entry (3.4); its payload carries
//! the change's number, the new list and threshold, and the other party's approval, its
//! signature over the witness-change statement. The payload's codec, the statement and the
//! form rules are the verifier's (`dyad_verifier::witness_change`): one definition for the
//! parties that sign and the auditor that checks.

use super::{Draft, EntryBody, Kind};
use crate::genesis::Party;
use crate::keys::SignerKey;

pub use dyad_verifier::witness_change::{
    approval_verifies, statement, WitnessChangeError, WitnessChangePayload,
    WITNESS_CHANGE_CONTENT_TYPE, WITNESS_CHANGE_STATEMENT_PREFIX,
};

/// The content type of a witness-change entry.
pub const CONTENT_TYPE: &str = WITNESS_CHANGE_CONTENT_TYPE;
/// The subject dyad writes on a witness change (the spec leaves it free).
pub const SUBJECT: &str = "Witness change";

/// The witnesses as the verifier's payload lists them.
fn listed(witnesses: &[Party]) -> Vec<dyad_verifier::genesis::Party> {
    witnesses
        .iter()
        .map(|w| dyad_verifier::genesis::Party {
            name: w.name.clone(),
            public_key: w.public_key,
        })
        .collect()
}

/// The witnesses of a payload as the ledger's parties.
pub fn witnesses_of(change: &WitnessChangePayload) -> Vec<Party> {
    change
        .witnesses
        .iter()
        .map(|w| Party {
            name: w.name.clone(),
            public_key: w.public_key,
        })
        .collect()
}

/// The payload of the change to `witnesses` and `witness_threshold` numbered `number`,
/// with `approval` (the other party's signature over its statement).
pub fn payload(
    number: u32,
    witnesses: &[Party],
    witness_threshold: u8,
    approval: [u8; 64],
) -> WitnessChangePayload {
    WitnessChangePayload {
        number,
        witnesses: listed(witnesses),
        witness_threshold,
        approval,
    }
}

/// The approval of a witness change by `key`, the party that does not send it (spec 3.8):
/// its signature over the statement of the change in channel `origin`. It names neither
/// sender nor sequence, so it is made before the sender writes the entry.
pub fn approve(
    key: &SignerKey,
    origin: &str,
    number: u32,
    witnesses: &[Party],
    witness_threshold: u8,
) -> [u8; 64] {
    let unsigned = payload(number, witnesses, witness_threshold, [0; 64]);
    key.sign(&statement(origin, &unsigned))
}

/// The payload of the change to `witnesses` and `witness_threshold` numbered `number`,
/// with `key`'s approval (see [`approve`]): what the other party's draft carries.
pub fn approved(
    key: &SignerKey,
    origin: &str,
    number: u32,
    witnesses: &[Party],
    witness_threshold: u8,
) -> WitnessChangePayload {
    let approval = approve(key, origin, number, witnesses, witness_threshold);
    payload(number, witnesses, witness_threshold, approval)
}

/// The draft of a witness-change entry carrying `change` (approval included), to be signed
/// by the sender as any message.
pub fn draft(change: &WitnessChangePayload) -> Draft {
    Draft::new(Kind::WitnessChange, SUBJECT, CONTENT_TYPE, change.encode())
}

/// The form rules of spec 3.8 on an entry body (content type, the payload's encoding and
/// its list's own rules, no `reply_to`, no attachments), as the verifier checks them.
/// Returns the payload of a witness change; `None` for every other kind.
pub fn check(body: &EntryBody) -> Result<Option<WitnessChangePayload>, WitnessChangeError> {
    if body.kind != Kind::WitnessChange {
        return Ok(None);
    }
    dyad_verifier::witness_change::check_form(&verifier_entry(body))
}

/// The body as the verifier's entry (no signatures: the form rules do not read them).
fn verifier_entry(body: &EntryBody) -> dyad_verifier::entry::Entry {
    dyad_verifier::entry::Entry {
        version: body.version,
        origin: body.origin.clone(),
        // `check` calls this for witness changes only.
        kind: dyad_verifier::Kind::WitnessChange,
        sender: body.sender,
        sequence: body.sequence,
        timestamp_ms: body.timestamp_ms,
        reply_to: body.reply_to,
        subject: body.subject.clone(),
        content_type: body.content_type.clone(),
        payload: body.payload.clone(),
        attachments: body
            .attachments
            .iter()
            .map(|a| dyad_verifier::entry::Attachment {
                sha256: a.sha256,
                size: a.size,
                name: a.name.clone(),
                content_type: a.content_type.clone(),
            })
            .collect(),
        signatures: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::EntryBody;

    fn key(name: &str, seed: u8) -> SignerKey {
        SignerKey::from_seed(name, [seed; 32]).unwrap()
    }

    fn body(payload: &WitnessChangePayload) -> EntryBody {
        let sender = key("a.example", 1);
        draft(payload)
            .sign(&sender, "o.example/c", 4, 1000)
            .unwrap()
            .entry
            .body
    }

    #[test]
    fn an_approved_draft_checks_and_its_approval_is_the_approvers() {
        let approver = key("b.example", 2);
        let witnesses = [Party::of(&key("w.example", 3))];
        let approval = approve(&approver, "o.example/c", 1, &witnesses, 1);
        let change = payload(1, &witnesses, 1, approval);
        let checked = check(&body(&change)).unwrap().expect("a witness change");
        assert_eq!(checked, change);
        assert_eq!(witnesses_of(&checked), witnesses);
        let approver_key = Party::of(&approver).entry_key().unwrap();
        assert!(approval_verifies("o.example/c", &checked, &approver_key));
        // Bound to the channel, the number and the set.
        assert!(!approval_verifies("o.example/d", &checked, &approver_key));
        let mut other = checked.clone();
        other.number = 2;
        assert!(!approval_verifies("o.example/c", &other, &approver_key));
        let sender_key = Party::of(&key("a.example", 1)).entry_key().unwrap();
        assert!(!approval_verifies("o.example/c", &checked, &sender_key));
    }

    #[test]
    fn other_kinds_are_not_judged_and_the_form_rules_are_the_verifiers() {
        let mut b = body(&payload(1, &[], 0, [0; 64]));
        assert!(check(&b).unwrap().is_some());
        b.reply_to = Some(1);
        assert_eq!(check(&b).unwrap_err().code(), "WitnessChangeWithReplyTo");
        b.kind = Kind::Notification;
        assert_eq!(check(&b), Ok(None));
    }
}
