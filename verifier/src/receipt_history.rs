//! A receipt with its key history (spec/dyad.md section 8, "Receipts after a key
//! change"): when parties changed their keys or the witnesses below the checkpoint's
//! size, the receipt comes with a receipt of every key-change and witness-change entry
//! against the same checkpoint. The verifier starts from the genesis keys (and the trusted
//! witnesses), takes the changes in ascending index, checks the receipt's own entry under
//! its sender's key at its index, and the checkpoint, once, under the keys and witnesses
//! current at its size (a policy's witnesses and quorum stay as written, section 9).

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::channel::{self, CommitKeys};
use crate::checkpoint::Checkpoint;
use crate::entry_codec::{self, Entry};
use crate::hash::leaf_hash;
use crate::key::SignatureType;
use crate::key_change;
use crate::key_history::{KeyChange, KeyHistory};
use crate::proof;
use crate::receipt::{self, Receipt, ReceiptError, ReceiptTrust, VerifiedReceipt};
use crate::rules::{EntryError, Kind, PartyRole};
use crate::witness_change;
use crate::witness_history::WitnessChange;

pub use crate::receipt::MAX_KEY_HISTORY;

/// A key-change receipt, parsed: its checkpoint is the receipt's.
struct Change {
    receipt: Receipt,
    entry: Entry,
}

/// Verifies a receipt (section 8) with its key history: `key_changes` are the receipts
/// of the key-change and witness-change entries below the checkpoint's size, in any
/// order, each against the receipt's checkpoint note byte for byte. Without a key history this is
/// [`receipt::verify`]. Under a policy, the key history starts from the parties the policy
/// names, and the checkpoint must meet the policy with the parties' keys at its size
/// (section 9).
///
/// The verified receipt lists the key and witness changes it was verified with.
pub fn verify_with_key_history(
    bytes: &[u8],
    key_changes: &[Vec<u8>],
    trust: &ReceiptTrust,
) -> Result<VerifiedReceipt, ReceiptError> {
    if key_changes.is_empty() {
        return receipt::verify(bytes, trust);
    }
    if key_changes.len() > MAX_KEY_HISTORY {
        return Err(ReceiptError::KeyHistoryTooLong {
            count: key_changes.len(),
        });
    }
    let main = receipt::parse(bytes)?;
    let changes = parse_history(&main.checkpoint_note, key_changes)?;
    let checkpoint = channel::read_checkpoint(&main.checkpoint_note)?;
    pinned_origin(trust, &checkpoint)?;
    by_roles(trust, |sequencer| {
        replay(&main, &changes, trust, sequencer, &checkpoint)
    })
}

/// The checkpoint is of the origin the trust pins, if it pins one.
fn pinned_origin(trust: &ReceiptTrust, checkpoint: &Checkpoint) -> Result<(), ReceiptError> {
    match trust.origin() {
        Some(expected) if expected != checkpoint.origin => Err(ReceiptError::WrongOrigin {
            expected: expected.into(),
            found: checkpoint.origin.clone(),
        }),
        _ => Ok(()),
    }
}

/// `verify` with each party as the sequencer that the trust allows (both, when it names
/// no roles): the first that passes, else the error of the roles under which the log
/// signature is there.
fn by_roles<T>(
    trust: &ReceiptTrust,
    mut verify: impl FnMut(usize) -> Result<T, ReceiptError>,
) -> Result<T, ReceiptError> {
    let candidates: &[usize] = if trust.roles_known() { &[0] } else { &[0, 1] };
    let mut error = None;
    for &sequencer in candidates {
        match verify(sequencer) {
            Ok(verified) => return Ok(verified),
            Err(e) => {
                let log_missing = matches!(
                    e,
                    ReceiptError::NotCommitted(channel::CommitError::MissingLogSignature(_))
                );
                if error.is_none() || !log_missing {
                    error = Some(e);
                }
            }
        }
    }
    Err(error.unwrap_or(ReceiptError::MissingCheckpoint))
}

/// A checkpoint verified with a key history: committed under the keys and witnesses at
/// its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The committed checkpoint, who signed it and when.
    pub committed: channel::Committed,
    /// The key changes followed, in index order.
    pub key_changes: Vec<KeyChange>,
    /// The witness changes followed, in index order.
    pub witness_changes: Vec<WitnessChange>,
}

/// Verifies a bare checkpoint note (section 7) with a key history (section 8): the
/// receipts of the key-change and witness-change entries below its size, each against this
/// note byte for byte, taken from the genesis keys (or the policy's parties) in index
/// order; the note must then be committed under the keys and witnesses at its size (under
/// a policy: meet it with the parties' keys at its size).
pub fn verify_checkpoint_with_key_history(
    note: &[u8],
    key_changes: &[Vec<u8>],
    trust: &ReceiptTrust,
) -> Result<VerifiedCheckpoint, ReceiptError> {
    if key_changes.len() > MAX_KEY_HISTORY {
        return Err(ReceiptError::KeyHistoryTooLong {
            count: key_changes.len(),
        });
    }
    let changes = parse_history(note, key_changes)?;
    let checkpoint = channel::read_checkpoint(note)?;
    pinned_origin(trust, &checkpoint)?;
    by_roles(trust, |sequencer| {
        let roles = trust.roles(sequencer);
        let (witnesses, threshold) = trust.witnesses();
        let mut keys =
            KeyHistory::from_keys(roles[0].1.clone(), roles[1].1.clone(), witnesses, threshold);
        for change in &changes {
            apply(&mut keys, change, &checkpoint, roles)?;
        }
        let committed = commit(trust, &keys, note, &checkpoint)?;
        let (key_changes, witness_changes) = followed(&keys);
        Ok(VerifiedCheckpoint {
            committed,
            key_changes,
            witness_changes,
        })
    })
}

/// Parses the key-change receipts, each against the checkpoint `note`, in ascending
/// index, no index twice.
fn parse_history(note: &[u8], key_changes: &[Vec<u8>]) -> Result<Vec<Change>, ReceiptError> {
    let mut changes = Vec::with_capacity(key_changes.len());
    for (position, bytes) in key_changes.iter().enumerate() {
        let wrap = |error| ReceiptError::KeyHistoryReceipt {
            position,
            error: Box::new(error),
        };
        let mut receipt = receipt::parse(bytes).map_err(wrap)?;
        let index = receipt.index;
        if receipt.checkpoint_note != note {
            return Err(ReceiptError::KeyHistoryCheckpointDiffers { index });
        }
        // The note is the receipt's: one copy is enough.
        receipt.checkpoint_note = Vec::new();
        let entry = entry_codec::decode(&receipt.entry_bytes).map_err(|e| in_change(index, e))?;
        if !matches!(entry.kind, Kind::KeyChange | Kind::WitnessChange) {
            return Err(ReceiptError::KeyHistoryNotAKeyChange {
                index,
                kind: entry.kind,
            });
        }
        changes.push(Change { receipt, entry });
    }
    changes.sort_by_key(|c| c.receipt.index);
    if let Some(pair) = changes
        .windows(2)
        .find(|w| w[0].receipt.index == w[1].receipt.index)
    {
        return Err(ReceiptError::KeyHistoryDuplicate {
            index: pair[0].receipt.index,
        });
    }
    Ok(changes)
}

fn in_change(index: u64, error: impl Into<ReceiptError>) -> ReceiptError {
    ReceiptError::KeyHistory {
        index,
        error: Box::new(error.into()),
    }
}

/// The key history from the genesis keys with party `sequencer` (0 or 1) sequencing,
/// the receipt's entry at its index, and the checkpoint under the keys at its size.
fn replay(
    main: &Receipt,
    changes: &[Change],
    trust: &ReceiptTrust,
    sequencer: usize,
    checkpoint: &Checkpoint,
) -> Result<VerifiedReceipt, ReceiptError> {
    let roles = trust.roles(sequencer);
    let (witnesses, threshold) = trust.witnesses();
    let mut keys =
        KeyHistory::from_keys(roles[0].1.clone(), roles[1].1.clone(), witnesses, threshold);
    let entry = entry_codec::decode(&main.entry_bytes)?;
    receipt::check_origin(&entry, &checkpoint.origin)?;
    let mut sender = None;
    for change in changes {
        // The receipt's entry is signed by its sender's key at its index: after the key
        // changes below it.
        if sender.is_none() && change.receipt.index >= main.index {
            sender = Some(check_main(main, &entry, &keys, roles)?);
        }
        apply(&mut keys, change, checkpoint, roles)?;
    }
    let sender = match sender {
        Some(sender) => sender,
        None => check_main(main, &entry, &keys, roles)?,
    };
    let committed = commit(trust, &keys, &main.checkpoint_note, checkpoint)?;
    receipt::finish(main.clone(), entry, sender, committed, followed(&keys))
}

/// The checkpoint `note` committed under the keys and witnesses of `keys` (its size's),
/// or meeting the trusted policy with the parties' keys at its size.
fn commit(
    trust: &ReceiptTrust,
    keys: &KeyHistory,
    note: &[u8],
    checkpoint: &Checkpoint,
) -> Result<channel::Committed, ReceiptError> {
    if let Some(policy) = trust.trusted_policy() {
        // A policy's witnesses and quorum are the auditor's: they do not follow the witness
        // changes (section 9).
        return committed_by_policy(trust, policy, keys, note);
    }
    let commit_keys = CommitKeys {
        origin: checkpoint.origin.clone(),
        log: keys
            .current(PartyRole::Sequencer)
            .with_name(&checkpoint.origin)
            .map_err(ReceiptError::InvalidOrigin)?,
        cosigner: keys
            .current(PartyRole::Cosigner)
            .with_signature_type(SignatureType::CosignatureV1),
        // The witnesses of the last witness change in the key history, or the trusted
        // ones (section 8).
        witnesses: keys.current_witnesses().keys.clone(),
        witness_threshold: keys.current_witnesses().threshold,
    };
    Ok(commit_keys.verify(note)?)
}

/// The key and witness changes the replay followed.
fn followed(keys: &KeyHistory) -> (Vec<KeyChange>, Vec<WitnessChange>) {
    (keys.changes().to_vec(), keys.witness_changes().to_vec())
}

/// The checkpoint meets `policy` with the parties' keys at its size (section 9).
fn committed_by_policy(
    trust: &ReceiptTrust,
    policy: &crate::policy::Policy,
    keys: &KeyHistory,
    note: &[u8],
) -> Result<channel::Committed, ReceiptError> {
    let parties = [
        keys.current(PartyRole::Sequencer).clone(),
        keys.current(PartyRole::Cosigner).clone(),
    ];
    let at_size =
        policy.with_party_keys(parties[0].public_key_bytes(), parties[1].public_key_bytes())?;
    let (committed, _) = trust.committed_by_policy(&at_size, &parties, note)?;
    Ok(committed)
}

/// The receipt's own entry, under its sender's current key.
fn check_main(
    main: &Receipt,
    entry: &Entry,
    keys: &KeyHistory,
    roles: [(PartyRole, &crate::key::VerifierKey); 2],
) -> Result<(PartyRole, crate::key::VerifierKey), ReceiptError> {
    let (role, key) = keys.sender(entry.sender)?;
    receipt::check_entry(main, entry, key, roles)?;
    Ok((role, key.clone()))
}

/// One key change (section 3.7) or witness change (3.8) against the key history before
/// it: of the checkpoint's channel, by a party's current key, signed by it, included at
/// its index; a key change with a valid new key, new to the channel, proved by its
/// statement signature; a witness change with the next number, witnesses that are earlier
/// ones or new to the channel, approved by the other party's current key.
fn apply(
    keys: &mut KeyHistory,
    change: &Change,
    checkpoint: &Checkpoint,
    roles: [(PartyRole, &crate::key::VerifierKey); 2],
) -> Result<(), ReceiptError> {
    let (receipt, entry) = (&change.receipt, &change.entry);
    let index = receipt.index;
    receipt::check_origin(entry, &checkpoint.origin).map_err(|e| in_change(index, e))?;
    let (role, old) = keys.sender(entry.sender).map_err(|e| in_change(index, e))?;
    receipt::check_entry(receipt, entry, old, roles).map_err(|e| in_change(index, e))?;
    let included = |receipt: &Receipt| {
        proof::verify_inclusion(
            &leaf_hash(&receipt.entry_bytes),
            index,
            checkpoint.size,
            &receipt.proof,
            &checkpoint.root,
        )
        .map_err(|e| in_change(index, e))
    };
    if let Some(payload) = witness_change::check_form(entry)
        .map_err(EntryError::from)
        .map_err(|e| in_change(index, e))?
    {
        let set = keys
            .check_witness_change(entry, &payload, role)
            .map_err(|e| in_change(index, EntryError::from(e)))?;
        included(receipt)?;
        keys.apply_witness_change(index, role, payload, set);
        return Ok(());
    }
    let payload = key_change::check_form(entry)
        .map_err(EntryError::from)
        .map_err(|e| in_change(index, e))?
        .ok_or(ReceiptError::KeyHistoryNotAKeyChange {
            index,
            kind: entry.kind,
        })?;
    let new_key = keys
        .check_new_key(entry, &payload, old.name())
        .map_err(|e| in_change(index, EntryError::from(e)))?;
    included(receipt)?;
    keys.apply(index, role, new_key);
    Ok(())
}
