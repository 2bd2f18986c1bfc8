//! Checking a checkpoint note against a policy: a log's signature and the quorum.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::model::{Member, Policy, PolicyError, Quorum, VerifiedCheckpoint};
use crate::checkpoint;
use crate::key::VerifierKey;
use crate::note::{self, NoteError};

impl Policy {
    /// Whether each group is met by the witnesses marked in `cosigned` (indexed like
    /// `witnesses`), indexed like `groups`.
    fn groups_met(&self, cosigned: &[bool]) -> Vec<bool> {
        // Groups only name earlier groups, so one pass in definition order settles each.
        let mut group_met: Vec<bool> = Vec::with_capacity(self.groups.len());
        for group in &self.groups {
            let count = group
                .members
                .iter()
                .filter(|m| member_met(**m, cosigned, &group_met))
                .count();
            group_met.push(count >= group.threshold.required(group.members.len()));
        }
        group_met
    }

    /// What keeps an unmet `member` from being met: each short group with what it needs,
    /// then the witnesses under them that did not cosign.
    fn shortfall(&self, member: Member, cosigned: &[bool], group_met: &[bool]) -> String {
        let mut groups: Vec<String> = Vec::new();
        let mut witnesses: Vec<&str> = Vec::new();
        let mut todo = vec![member];
        while let Some(m) = todo.pop() {
            match m {
                Member::Witness(_) => witnesses.push(self.member_name(m)),
                Member::Group(i) => {
                    let Some(group) = self.groups.get(i) else {
                        continue;
                    };
                    let names: Vec<&str> =
                        group.members.iter().map(|m| self.member_name(*m)).collect();
                    let met = group
                        .members
                        .iter()
                        .filter(|m| member_met(**m, cosigned, group_met))
                        .count();
                    groups.push(format!(
                        "group {:?} has {met} of the {} it needs of {}",
                        group.name,
                        group.threshold.required(group.members.len()),
                        names.join(", ")
                    ));
                    let unmet = group
                        .members
                        .iter()
                        .rev()
                        .filter(|m| !member_met(**m, cosigned, group_met));
                    todo.extend(unmet);
                }
            }
        }
        witnesses.sort_unstable();
        witnesses.dedup();
        let mut out = groups.join("; ");
        if !witnesses.is_empty() {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(&format!("no cosignature from {}", witnesses.join(", ")));
        }
        out
    }

    /// Verifies a checkpoint note: a valid Ed25519 signature by one of the
    /// policy's logs whose key name is the checkpoint's origin, a well-formed
    /// checkpoint body, and cosignatures that meet the quorum. Any signature by
    /// a key of the policy that fails to verify rejects the note.
    pub fn verify_checkpoint(&self, note: &[u8]) -> Result<VerifiedCheckpoint, PolicyError> {
        let quorum = self.quorum.ok_or(PolicyError::MissingQuorum)?;
        let keys: Vec<VerifierKey> = self
            .logs
            .iter()
            .map(|l| l.key.clone())
            .chain(self.witnesses.iter().map(|w| w.key.clone()))
            .collect();
        let verified = note::verify(note, &keys).map_err(|e| match e {
            NoteError::NoVerifiedSignature => PolicyError::NoLogSignature,
            other => PolicyError::Note(other),
        })?;

        let is_log = |key: &VerifierKey| self.logs.iter().any(|l| l.key == *key);
        if !verified.verified.iter().any(|v| is_log(&v.key)) {
            return Err(PolicyError::NoLogSignature);
        }
        let checkpoint = checkpoint::parse(&verified.text).map_err(PolicyError::Checkpoint)?;
        let log = verified
            .verified
            .iter()
            .map(|v| &v.key)
            .find(|key| is_log(key) && key.name() == checkpoint.origin)
            .ok_or_else(|| PolicyError::OriginMismatch {
                origin: checkpoint.origin.clone(),
            })?
            .clone();

        let mut cosigned = vec![false; self.witnesses.len()];
        let mut cosigners = Vec::new();
        for signature in &verified.verified {
            let witness = self.witnesses.iter().position(|w| w.key == signature.key);
            let Some(index) = witness else { continue };
            if signature.key.public_key_bytes() == log.public_key_bytes() {
                continue;
            }
            if let (Some(flag), Some(w)) = (cosigned.get_mut(index), self.witnesses.get(index)) {
                *flag = true;
                cosigners.push((w.name.clone(), signature.timestamp.unwrap_or(0)));
            }
        }
        if let Quorum::Member(member) = quorum {
            let group_met = self.groups_met(&cosigned);
            if !member_met(member, &cosigned, &group_met) {
                return Err(PolicyError::QuorumNotMet {
                    quorum: self.quorum_name().unwrap_or_default().to_string(),
                    missing: self.shortfall(member, &cosigned, &group_met),
                });
            }
        }
        Ok(VerifiedCheckpoint {
            checkpoint,
            text: verified.text,
            log,
            cosigners,
        })
    }
}

/// Whether a witness cosigned, or a group (settled in `group_met`) is met.
fn member_met(member: Member, cosigned: &[bool], group_met: &[bool]) -> bool {
    match member {
        Member::Witness(i) => cosigned.get(i).copied().unwrap_or(false),
        Member::Group(i) => group_met.get(i).copied().unwrap_or(false),
    }
}
