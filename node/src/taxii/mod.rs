//! A read-only TAXII 2.1 server of the channel's committed threat indicators
//! (spec/node.md section 11), under `/taxii2/` on the public listener, behind the read
//! API's guard: a TAXII client presents a read credential's token as
//! `Authorization: Bearer`.
//!
//! Two collections, one per direction: "received from PEER" (the peer's entries) and
//! "sent to PEER" (this party's). Their objects are those of the committed
//! `threat-indicators` entries: a STIX payload, and STIX attachments from the attachment
//! store. The node indexes them in memory as the committed size grows ([`source`],
//! [`index`]) and answers each request from the index.
//!
//! Pure parts (no network): the query ([`query`]), content negotiation ([`media`]),
//! timestamps ([`time`]) and page selection ([`index`]); the handlers, one file per
//! mechanism: [`discovery`] (discovery and API root), [`collections`], [`objects`]
//! (objects and one object), [`manifest`], [`versions`].

use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::Router;
use dyad_ledger::channel::{Channel, ChannelError, Role};
use sha2::{Digest, Sha256};

use crate::{NodeError, Shared};

mod answer;
mod collections;
mod discovery;
pub mod index;
mod manifest;
pub mod media;
mod objects;
pub mod query;
mod source;
pub mod time;
mod versions;

/// Where the API root is served.
pub(crate) const API_ROOT: &str = "/taxii2/api/";

/// The TAXII routes, to be layered with the read API's guard.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    let c = "/taxii2/api/collections/{collection}";
    Router::new()
        .route("/taxii2/", get(discovery::discovery))
        .route(API_ROOT, get(discovery::api_root))
        .route("/taxii2/api/collections/", get(collections::list))
        .route(&format!("{c}/"), get(collections::one))
        .route(&format!("{c}/objects/"), get(objects::objects))
        .route(&format!("{c}/objects/{{object}}/"), get(objects::object))
        .route(
            &format!("{c}/objects/{{object}}/versions/"),
            get(versions::versions),
        )
        .route(&format!("{c}/manifest/"), get(manifest::manifest))
}

/// Which way a collection's indicators went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// The peer's entries.
    Received,
    /// This party's entries.
    Sent,
}

/// A collection's description, fixed for the channel.
#[derive(Clone, Debug)]
pub(crate) struct CollectionInfo {
    pub id: String,
    pub title: String,
    pub direction: Direction,
}

/// The TAXII feed of a node: its two collections and their index.
pub(crate) struct Feed {
    pub collections: [CollectionInfo; 2],
    /// The entry key id of this party: its entries are "sent".
    own_key_id: u32,
    index: Mutex<Indexed>,
}

/// The collections' objects, from the committed entries below `scanned`.
#[derive(Default)]
pub(crate) struct Indexed {
    scanned: u64,
    received: index::Collection,
    sent: index::Collection,
}

impl Indexed {
    pub fn collection(&self, direction: Direction) -> &index::Collection {
        match direction {
            Direction::Received => &self.received,
            Direction::Sent => &self.sent,
        }
    }
}

/// A collection id: a name-based UUID (RFC 9562 version 8, SHA-256) of the channel's
/// origin and the direction, the same on every start and on both parties' nodes for the
/// same direction of the same party.
fn collection_id(origin: &str, sender: &str, receiver: &str) -> String {
    let digest = Sha256::digest(format!(
        "dyad-taxii-collection/v1\n{origin}\n{sender}\n{receiver}"
    ));
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

impl Feed {
    /// The feed of `channel`'s replica, empty until the first request indexes it.
    pub fn new(channel: &Channel) -> Result<Feed, ChannelError> {
        let genesis = channel.genesis();
        let (own, peer) = match channel.role() {
            Role::Sequencer => (&genesis.sequencer, &genesis.cosigner),
            Role::Cosigner => (&genesis.cosigner, &genesis.sequencer),
        };
        let own_key_id = own.entry_key()?.key_id();
        let origin = channel.origin();
        let collections = [
            CollectionInfo {
                id: collection_id(origin, &peer.name, &own.name),
                title: format!("received from {}", peer.name),
                direction: Direction::Received,
            },
            CollectionInfo {
                id: collection_id(origin, &own.name, &peer.name),
                title: format!("sent to {}", peer.name),
                direction: Direction::Sent,
            },
        ];
        Ok(Feed {
            collections,
            own_key_id,
            index: Mutex::new(Indexed::default()),
        })
    }

    /// The collection named `id`.
    pub fn collection(&self, id: &str) -> Option<&CollectionInfo> {
        self.collections.iter().find(|c| c.id == id)
    }
}

/// Brings the index up to the committed size, then runs `f` on it, on a blocking thread.
pub(crate) async fn with_index<T, F>(shared: &Arc<Shared>, f: F) -> Result<T, NodeError>
where
    F: FnOnce(&Indexed) -> T + Send + 'static,
    T: Send + 'static,
{
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        let feed = &shared.taxii;
        let mut indexed = feed
            .index
            .lock()
            .map_err(|_| NodeError::Task("TAXII index lock poisoned".into()))?;
        source::refresh(&shared, feed.own_key_id, &mut indexed)?;
        Ok(f(&indexed))
    })
    .await
    .map_err(|e| NodeError::Task(e.to_string()))?
}

#[cfg(test)]
mod tests {
    #[test]
    fn collection_ids_are_rfc_9562_version_8_and_differ_by_direction() {
        let a = super::collection_id("o", "alpha", "bravo");
        let b = super::collection_id("o", "bravo", "alpha");
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(a, super::collection_id("o", "alpha", "bravo"));
    }
}
