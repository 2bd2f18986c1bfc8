//! The policy itself: its logs, witnesses, groups and quorum, and how it is built.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::key::{KeyError, SignatureType, VerifierKey};
use crate::note::NoteError;

/// Most logs a policy may list.
pub const MAX_LOGS: usize = 32;
/// Most witnesses a policy may list.
pub const MAX_WITNESSES: usize = 32;
/// Most groups a policy may define.
pub const MAX_GROUPS: usize = 32;

/// The predefined name for "no cosignatures needed".
pub const NONE: &str = "none";

/// Line number given in errors from the builder methods, which have no line.
pub const BUILDER_LINE: usize = 0;

/// Why a policy was rejected, or why a checkpoint does not satisfy it. `line`
/// counts policy lines from 1; [`BUILDER_LINE`] (0) marks a builder call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("line {line}: forbidden control character 0x{byte:02x}")]
    ForbiddenCharacter { line: usize, byte: u8 },
    #[error("line {line}: unknown keyword {keyword:?}")]
    UnknownKeyword { line: usize, keyword: String },
    #[error("line {line}: wrong number of fields for {keyword:?}")]
    WrongFieldCount { line: usize, keyword: &'static str },
    #[error("line {line}: invalid verifier key: {reason}")]
    InvalidKey { line: usize, reason: KeyError },
    #[error("line {line}: a log key must be an Ed25519 (0x01) key")]
    LogKeyNotEd25519 { line: usize },
    #[error("line {line}: a log with this public key is already listed")]
    DuplicateLog { line: usize },
    #[error("line {line}: a witness with this public key is already listed")]
    DuplicateWitness { line: usize },
    #[error("line {line}: more than {MAX_LOGS} logs")]
    TooManyLogs { line: usize },
    #[error("line {line}: more than {MAX_WITNESSES} witnesses")]
    TooManyWitnesses { line: usize },
    #[error("line {line}: more than {MAX_GROUPS} groups")]
    TooManyGroups { line: usize },
    #[error("line {line}: {name:?} is not a valid name")]
    InvalidName { line: usize, name: String },
    #[error("line {line}: the name \"none\" is predefined")]
    ReservedName { line: usize },
    #[error("line {line}: {name:?} is already defined")]
    DuplicateName { line: usize, name: String },
    #[error("line {line}: {name:?} is not defined on an earlier line")]
    UndefinedName { line: usize, name: String },
    #[error("line {line}: \"none\" cannot be a group member")]
    NoneAsMember { line: usize },
    #[error("line {line}: {name:?} is already a group member")]
    MemberUsedTwice { line: usize, name: String },
    #[error("line {line}: group {name:?} has no members")]
    EmptyGroup { line: usize, name: String },
    #[error("line {line}: threshold {threshold:?} is not all, any or a decimal number")]
    InvalidThreshold { line: usize, threshold: String },
    #[error("line {line}: threshold {threshold} is not between 1 and the {members} members")]
    ThresholdOutOfRange {
        line: usize,
        threshold: usize,
        members: usize,
    },
    #[error("line {line}: the quorum is already defined")]
    DuplicateQuorum { line: usize },
    #[error("policy has no quorum line")]
    MissingQuorum,
    #[error("note rejected: {0}")]
    Note(NoteError),
    #[error("no log of the policy signed the checkpoint (is the policy for another log?)")]
    NoLogSignature,
    #[error("no log that signed the checkpoint has a key named after its origin {origin:?}")]
    OriginMismatch { origin: String },
    #[error("checkpoint rejected: {0}")]
    Checkpoint(CheckpointError),
    /// `missing` says which groups fall short and whose cosignatures they lack.
    #[error("cosignatures do not meet the quorum {quorum:?}: {missing}")]
    QuorumNotMet { quorum: String, missing: String },
}

/// How many members of a group must have witnessed for the group to have witnessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    All,
    Any,
    AtLeast(usize),
}

impl Threshold {
    pub(super) fn required(self, members: usize) -> usize {
        match self {
            Threshold::All => members,
            Threshold::Any => 1,
            Threshold::AtLeast(k) => k,
        }
    }

    pub(super) fn parse(field: &str, line: usize) -> Result<Self, PolicyError> {
        match field {
            "all" => Ok(Threshold::All),
            "any" => Ok(Threshold::Any),
            _ if !field.is_empty() && field.bytes().all(|b| b.is_ascii_digit()) => field
                .parse()
                .map(Threshold::AtLeast)
                .map_err(|_| PolicyError::InvalidThreshold {
                    line,
                    threshold: field.to_string(),
                }),
            _ => Err(PolicyError::InvalidThreshold {
                line,
                threshold: field.to_string(),
            }),
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::All => f.write_str("all"),
            Threshold::Any => f.write_str("any"),
            Threshold::AtLeast(k) => write!(f, "{k}"),
        }
    }
}

/// A log the policy accepts checkpoints from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    pub key: VerifierKey,
    pub url: Option<String>,
}

/// A named witness whose cosignatures count towards the quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    pub name: String,
    pub key: VerifierKey,
    pub url: Option<String>,
}

/// A witness or group, by its position in the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Group {
    pub(super) name: String,
    pub(super) threshold: Threshold,
    pub(super) members: Vec<Member>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Quorum {
    Nobody,
    Member(Member),
}

/// A parsed or built tlog-policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub(super) logs: Vec<Log>,
    pub(super) witnesses: Vec<Witness>,
    pub(super) groups: Vec<Group>,
    pub(super) quorum: Option<Quorum>,
}

/// A checkpoint signed by one of the policy's logs and cosigned to its quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    pub checkpoint: Checkpoint,
    /// The note text that was signed.
    pub text: String,
    /// The log key whose signature verified.
    pub log: VerifierKey,
    /// Witness name and cosignature timestamp (0 for an Ed25519-typed witness key),
    /// in the order of the note's signature lines.
    pub cosigners: Vec<(String, u64)>,
}

/// A witness or group name: one field of a policy line, and not `none`.
pub(super) fn check_new_name(policy: &Policy, line: usize, name: &str) -> Result<(), PolicyError> {
    let is_field = !name.is_empty() && !name.bytes().any(|b| b <= b' ' || b == 0x7f);
    if !is_field {
        return Err(PolicyError::InvalidName {
            line,
            name: name.to_string(),
        });
    }
    if name == NONE {
        return Err(PolicyError::ReservedName { line });
    }
    if policy.lookup(name).is_some() {
        return Err(PolicyError::DuplicateName {
            line,
            name: name.to_string(),
        });
    }
    Ok(())
}

impl Policy {
    /// An empty policy: no logs, no witnesses, no quorum yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts checkpoints signed by `key`, which must be an Ed25519 (0x01) key
    /// named after the log's origin.
    pub fn add_log(&mut self, key: VerifierKey) -> Result<&mut Self, PolicyError> {
        self.insert_log(BUILDER_LINE, key, None)?;
        Ok(self)
    }

    /// Adds a witness called `name` (the policy's own name for it, not the key name).
    pub fn add_witness(&mut self, name: &str, key: VerifierKey) -> Result<&mut Self, PolicyError> {
        self.insert_witness(BUILDER_LINE, name, key, None)?;
        Ok(self)
    }

    /// Defines a group of earlier-defined witnesses and groups.
    pub fn add_group<S: AsRef<str>>(
        &mut self,
        name: &str,
        threshold: Threshold,
        members: &[S],
    ) -> Result<&mut Self, PolicyError> {
        self.insert_group(BUILDER_LINE, name, threshold, members)?;
        Ok(self)
    }

    /// Sets the quorum to an earlier-defined witness or group, or [`NONE`].
    pub fn set_quorum(&mut self, name: &str) -> Result<&mut Self, PolicyError> {
        self.insert_quorum(BUILDER_LINE, name)?;
        Ok(self)
    }

    /// The accepted logs.
    pub fn logs(&self) -> &[Log] {
        &self.logs
    }

    /// The witnesses, in definition order.
    pub fn witnesses(&self) -> &[Witness] {
        &self.witnesses
    }

    /// The quorum's name, or `None` if no quorum is set yet.
    pub fn quorum_name(&self) -> Option<&str> {
        self.quorum.map(|q| match q {
            Quorum::Nobody => NONE,
            Quorum::Member(m) => self.member_name(m),
        })
    }

    pub(super) fn lookup(&self, name: &str) -> Option<Member> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Some(Member::Witness(i));
        }
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map(Member::Group)
    }

    pub(super) fn member_name(&self, member: Member) -> &str {
        let name = match member {
            Member::Witness(i) => self.witnesses.get(i).map(|w| w.name.as_str()),
            Member::Group(i) => self.groups.get(i).map(|g| g.name.as_str()),
        };
        name.unwrap_or_default()
    }

    pub(super) fn insert_log(
        &mut self,
        line: usize,
        key: VerifierKey,
        url: Option<&str>,
    ) -> Result<(), PolicyError> {
        if key.signature_type() != SignatureType::Ed25519 {
            return Err(PolicyError::LogKeyNotEd25519 { line });
        }
        // tlog-policy: keys are duplicates when they wrap the same public key.
        if self
            .logs
            .iter()
            .any(|l| l.key.public_key_bytes() == key.public_key_bytes())
        {
            return Err(PolicyError::DuplicateLog { line });
        }
        if self.logs.len() >= MAX_LOGS {
            return Err(PolicyError::TooManyLogs { line });
        }
        self.logs.push(Log {
            key,
            url: url.map(|u| u.to_string()),
        });
        Ok(())
    }

    pub(super) fn insert_witness(
        &mut self,
        line: usize,
        name: &str,
        key: VerifierKey,
        url: Option<&str>,
    ) -> Result<(), PolicyError> {
        check_new_name(self, line, name)?;
        if self
            .witnesses
            .iter()
            .any(|w| w.key.public_key_bytes() == key.public_key_bytes())
        {
            return Err(PolicyError::DuplicateWitness { line });
        }
        if self.witnesses.len() >= MAX_WITNESSES {
            return Err(PolicyError::TooManyWitnesses { line });
        }
        self.witnesses.push(Witness {
            name: name.to_string(),
            key,
            url: url.map(|u| u.to_string()),
        });
        Ok(())
    }

    pub(super) fn insert_group<S: AsRef<str>>(
        &mut self,
        line: usize,
        name: &str,
        threshold: Threshold,
        member_names: &[S],
    ) -> Result<(), PolicyError> {
        check_new_name(self, line, name)?;
        if self.groups.len() >= MAX_GROUPS {
            return Err(PolicyError::TooManyGroups { line });
        }
        if member_names.is_empty() {
            return Err(PolicyError::EmptyGroup {
                line,
                name: name.to_string(),
            });
        }
        let mut members: Vec<Member> = Vec::new();
        for member_name in member_names {
            let member_name = member_name.as_ref();
            if member_name == NONE {
                return Err(PolicyError::NoneAsMember { line });
            }
            let member = self
                .lookup(member_name)
                .ok_or_else(|| PolicyError::UndefinedName {
                    line,
                    name: member_name.to_string(),
                })?;
            let already_used = members.contains(&member)
                || self.groups.iter().any(|g| g.members.contains(&member));
            if already_used {
                return Err(PolicyError::MemberUsedTwice {
                    line,
                    name: member_name.to_string(),
                });
            }
            members.push(member);
        }
        if let Threshold::AtLeast(k) = threshold {
            if k == 0 || k > members.len() {
                return Err(PolicyError::ThresholdOutOfRange {
                    line,
                    threshold: k,
                    members: members.len(),
                });
            }
        }
        self.groups.push(Group {
            name: name.to_string(),
            threshold,
            members,
        });
        Ok(())
    }

    pub(super) fn insert_quorum(&mut self, line: usize, name: &str) -> Result<(), PolicyError> {
        if self.quorum.is_some() {
            return Err(PolicyError::DuplicateQuorum { line });
        }
        let quorum = if name == NONE {
            Quorum::Nobody
        } else {
            let member = self
                .lookup(name)
                .ok_or_else(|| PolicyError::UndefinedName {
                    line,
                    name: name.to_string(),
                })?;
            Quorum::Member(member)
        };
        self.quorum = Some(quorum);
        Ok(())
    }
}
