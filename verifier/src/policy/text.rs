//! The policy's text form: parsing tlog-policy lines and writing them back.

use alloc::string::ToString;
use alloc::vec::Vec;
use core::fmt;

use super::model::{Policy, PolicyError, Threshold};
use crate::key::VerifierKey;

/// Parses a tlog-policy text.
pub fn parse(text: &str) -> Result<Policy, PolicyError> {
    let mut policy = Policy::new();
    for (index, line) in text.split('\n').enumerate() {
        let number = index + 1;
        // tlog-policy, "Character set": of the control characters only tab and newline.
        if let Some(byte) = line
            .bytes()
            .find(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return Err(PolicyError::ForbiddenCharacter { line: number, byte });
        }
        let mut fields = line.split([' ', '\t']).filter(|f| !f.is_empty());
        let Some(keyword) = fields.next() else {
            continue;
        };
        if keyword.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = fields.collect();
        let parse_key = |s: &str| {
            VerifierKey::parse(s).map_err(|reason| PolicyError::InvalidKey {
                line: number,
                reason,
            })
        };
        match (keyword, fields.as_slice()) {
            ("log", [key, url @ ..]) if url.len() <= 1 => {
                policy.insert_log(number, parse_key(key)?, url.first().copied())?;
            }
            ("witness", [name, key, url @ ..]) if url.len() <= 1 => {
                policy.insert_witness(number, name, parse_key(key)?, url.first().copied())?;
            }
            ("group", [name, _]) => {
                return Err(PolicyError::EmptyGroup {
                    line: number,
                    name: name.to_string(),
                });
            }
            ("group", [name, threshold, members @ ..]) => {
                policy.insert_group(number, name, Threshold::parse(threshold, number)?, members)?;
            }
            ("quorum", [name]) => policy.insert_quorum(number, name)?,
            ("log", _) => {
                return Err(PolicyError::WrongFieldCount {
                    line: number,
                    keyword: "log",
                })
            }
            ("witness", _) => {
                return Err(PolicyError::WrongFieldCount {
                    line: number,
                    keyword: "witness",
                })
            }
            ("group", _) => {
                return Err(PolicyError::WrongFieldCount {
                    line: number,
                    keyword: "group",
                })
            }
            ("quorum", _) => {
                return Err(PolicyError::WrongFieldCount {
                    line: number,
                    keyword: "quorum",
                })
            }
            (other, _) => {
                return Err(PolicyError::UnknownKeyword {
                    line: number,
                    keyword: other.to_string(),
                });
            }
        }
    }
    if policy.quorum.is_none() {
        return Err(PolicyError::MissingQuorum);
    }
    Ok(policy)
}

/// Writes the policy in tlog-policy text: logs, witnesses, groups, then the quorum
/// line (left out while no quorum is set, so such a text would not parse).
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for log in &self.logs {
            write!(f, "log {}", log.key)?;
            if let Some(url) = &log.url {
                write!(f, " {url}")?;
            }
            writeln!(f)?;
        }
        for witness in &self.witnesses {
            write!(f, "witness {} {}", witness.name, witness.key)?;
            if let Some(url) = &witness.url {
                write!(f, " {url}")?;
            }
            writeln!(f)?;
        }
        for group in &self.groups {
            write!(f, "group {} {}", group.name, group.threshold)?;
            for member in &group.members {
                write!(f, " {}", self.member_name(*member))?;
            }
            writeln!(f)?;
        }
        if let Some(quorum) = self.quorum_name() {
            writeln!(f, "quorum {quorum}")?;
        }
        Ok(())
    }
}
