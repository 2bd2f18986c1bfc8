//! Records and their endorsements (spec/dyad.md section 3.6) as the CLI shows them: one
//! pass over the log that finds every record, who sent it and which entry endorses it.
//! `dyad log --awaiting-endorsement` and `dyad show` read it; from the store, or through
//! the node when one runs on the data directory (it holds the store).

use std::collections::BTreeMap;

use dyad_ledger::entry::{Kind, SignedEntry};
use dyad_ledger::genesis::Genesis;
use dyad_verifier::joint_record::EndorsementPayload;

use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::node_log::NodeLog;
use crate::running_node::{probe, Probe};

/// A record in the log.
#[derive(Clone, Debug)]
pub struct RecordSeen {
    pub sender: u32,
    pub subject: String,
    /// The index of its endorsement, if the log holds one.
    pub endorsed_in: Option<u64>,
    /// This party (the co-signer) has queued its endorsement, not yet in the log.
    pub endorsement_queued: bool,
}

/// Every record of the log, with its endorsement; what the other entries endorse.
#[derive(Clone, Debug)]
pub struct JointLog {
    pub genesis: Genesis,
    /// This party's key ID (type 0x01).
    pub own: u32,
    pub records: BTreeMap<u64, RecordSeen>,
    /// Endorsement index -> the record index it names.
    pub endorsements: BTreeMap<u64, u64>,
    /// Entries read: the log up to here.
    pub size: u64,
}

impl JointLog {
    fn new(genesis: Genesis, own: u32) -> JointLog {
        JointLog {
            genesis,
            own,
            records: BTreeMap::new(),
            endorsements: BTreeMap::new(),
            size: 0,
        }
    }

    fn push(&mut self, index: u64, e: &SignedEntry) {
        let body = &e.entry.body;
        self.size = index + 1;
        match body.kind {
            Kind::Record => {
                self.records.insert(
                    index,
                    RecordSeen {
                        sender: body.sender,
                        subject: body.subject.clone(),
                        endorsed_in: None,
                        endorsement_queued: false,
                    },
                );
            }
            Kind::Endorsement => {
                // The channel rules (spec 3.6) admitted it: its payload names a record.
                if let Ok(named) = EndorsementPayload::decode(&body.payload) {
                    self.endorsements.insert(index, named.record);
                    if let Some(r) = self.records.get_mut(&named.record) {
                        r.endorsed_in.get_or_insert(index);
                    }
                }
            }
            _ => {}
        }
    }

    /// Notes this party's queued endorsement (the co-signer's outbox, read offline).
    fn mark_queued(&mut self, e: &SignedEntry) {
        let body = &e.entry.body;
        if body.kind != Kind::Endorsement {
            return;
        }
        if let Ok(named) = EndorsementPayload::decode(&body.payload) {
            if let Some(r) = self.records.get_mut(&named.record) {
                r.endorsement_queued = true;
            }
        }
    }

    /// Reads the whole log, from the store or through the running node (offline, the
    /// co-signer's queued endorsements too).
    pub fn read(data: &DataDir) -> Result<JointLog> {
        if let Probe::Running(node) = probe(data)? {
            let log = NodeLog::read(&node, data)?;
            let own = match log.role.as_str() {
                "sequencer" => &log.genesis.sequencer,
                "cosigner" => &log.genesis.cosigner,
                other => {
                    return Err(CliError::check(format!(
                        "the node reports an unknown role {other:?}"
                    )))
                }
            };
            let own = own.entry_key()?.key_id();
            let mut joint = JointLog::new(log.genesis.clone(), own);
            log.for_each((0, log.published), |index, e| {
                joint.push(index, e);
                Ok(())
            })?;
            return Ok(joint);
        }
        let (_, channel) = data.open()?;
        let own = channel.own_party().entry_key()?.key_id();
        let mut joint = JointLog::new(channel.genesis().clone(), own);
        for item in channel.store().leaves(0..channel.size())? {
            let (index, bytes) = item?;
            let e = crate::entry_view::read_entry(index, &bytes)?;
            joint.push(index, &e);
        }
        if channel.role() == dyad_ledger::channel::Role::Cosigner {
            for e in channel.queued()? {
                joint.mark_queued(&e);
            }
        }
        Ok(joint)
    }

    /// The party's name for a key ID.
    pub fn name(&self, key_id: u32) -> String {
        crate::entry_view::sender_name(&self.genesis, key_id)
    }

    /// What `dyad show` says of entry `index` about endorsements, if it is a record or an
    /// endorsement.
    pub fn describe(&self, index: u64) -> Option<String> {
        if let Some(r) = self.records.get(&index) {
            return Some(match r.endorsed_in {
                Some(m) => {
                    let by = self
                        .genesis
                        .party_by_key_id(r.sender)
                        .and_then(|p| other_party(&self.genesis, p))
                        .unwrap_or_default();
                    format!("endorsed by {by} in entry {m}")
                }
                None => "not endorsed yet".to_owned(),
            });
        }
        let record = self.endorsements.get(&index)?;
        let subject = self
            .records
            .get(record)
            .map_or_else(String::new, |r| format!(" ({:?})", r.subject));
        Some(format!("endorses record {record}{subject}"))
    }
}

/// The name of the party of `genesis` other than `party`.
fn other_party(genesis: &Genesis, party: &dyad_ledger::genesis::Party) -> Option<String> {
    if *party == genesis.sequencer {
        Some(genesis.cosigner.name.clone())
    } else if *party == genesis.cosigner {
        Some(genesis.sequencer.name.clone())
    } else {
        None
    }
}
