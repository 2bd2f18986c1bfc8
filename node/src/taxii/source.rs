//! Indexing the committed `threat-indicators` entries into the two collections
//! (spec/node.md 11.3): a STIX payload, and each attachment labelled STIX, read from the
//! attachment store. Only committed entries (below the newest co-signed checkpoint) are
//! read, each once; a STIX attachment is validated here (the ledger checks payloads on
//! append, attachments are not in the entry), and one that fails, is larger than
//! [`MAX_STIX_ATTACHMENT`] or is not held is left out, with a warning in the log.

use dyad_ledger::entry::{EntryBody, Kind};
use dyad_ledger::stix::{is_stix_content_type, validate_document};
use serde_json::Value;

use super::Indexed;
use crate::{NodeError, Shared};

/// The largest STIX attachment indexed (it is parsed in memory).
pub const MAX_STIX_ATTACHMENT: u64 = 64 << 20;

/// Entries read under one hold of the ledger's lock.
const BATCH: u64 = 4096;

/// Indexes the committed entries not indexed yet.
pub(super) fn refresh(
    shared: &Shared,
    own_key_id: u32,
    indexed: &mut Indexed,
) -> Result<(), NodeError> {
    let committed = *shared.committed.borrow();
    while indexed.scanned < committed {
        let upto = committed.min(indexed.scanned.saturating_add(BATCH));
        let bodies = indicator_entries(shared, indexed.scanned, upto)?;
        for (index, body) in bodies {
            add_entry(shared, own_key_id, indexed, index, &body);
        }
        indexed.scanned = upto;
    }
    Ok(())
}

/// The `threat-indicators` entries in `from..upto`, read under the ledger's shared lock.
fn indicator_entries(
    shared: &Shared,
    from: u64,
    upto: u64,
) -> Result<Vec<(u64, EntryBody)>, NodeError> {
    let guard = shared
        .ledger
        .read()
        .map_err(|_| NodeError::Task("ledger lock poisoned".into()))?;
    let channel = guard.as_ref().ok_or(NodeError::Stopped)?;
    let mut bodies = Vec::new();
    for index in from..upto {
        let body = channel.entry(index)?.entry.body;
        if body.kind == Kind::ThreatIndicators {
            bodies.push((index, body));
        }
    }
    Ok(bodies)
}

fn add_entry(
    shared: &Shared,
    own_key_id: u32,
    indexed: &mut Indexed,
    index: u64,
    body: &EntryBody,
) {
    let collection = if body.sender == own_key_id {
        &mut indexed.sent
    } else {
        &mut indexed.received
    };
    let mut documents = Vec::new();
    if is_stix_content_type(&body.content_type) {
        documents.push(body.payload.clone());
    }
    for a in body
        .attachments
        .iter()
        .filter(|a| is_stix_content_type(&a.content_type))
    {
        let name = &a.name;
        if a.size > MAX_STIX_ATTACHMENT {
            tracing::warn!(index, attachment = %name, size = a.size, "a STIX attachment too large to serve over TAXII is left out");
            continue;
        }
        match shared.attachments.get(&a.sha256) {
            Ok(bytes) => match validate_document(&bytes) {
                Ok(()) => documents.push(bytes),
                Err(e) => {
                    tracing::warn!(index, attachment = %name, error = %e, "a STIX attachment that is not valid STIX 2.1 is left out of TAXII")
                }
            },
            Err(e) => {
                tracing::warn!(index, attachment = %name, error = %e, "a STIX attachment cannot be read for TAXII")
            }
        }
    }
    let mut full = false;
    for document in documents {
        let Ok(doc) = serde_json::from_slice::<Value>(&document) else {
            continue;
        };
        let objects: &[Value] = match doc.get("type").and_then(Value::as_str) {
            Some("bundle") => doc
                .get("objects")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default(),
            _ => std::slice::from_ref(&doc),
        };
        for object in objects.iter().filter_map(Value::as_object) {
            full |= !collection.add(object, index, body.timestamp_ms)
                && collection.len() >= super::index::MAX_OBJECTS;
        }
    }
    if full {
        tracing::error!(
            index,
            max = super::index::MAX_OBJECTS,
            "a TAXII collection is full: later objects are not served"
        );
    }
}
