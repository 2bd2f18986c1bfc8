//! The keys a running node signs and checks with, read from its replica's key state
//! (spec/dyad.md 3.7) rather than from the genesis: a party's key changes when its
//! key-change entry enters the log (or, for a co-signer, once it queued its own), and the
//! node follows at once, without a restart.
//!
//! The TLS binding (spec/node.md 9.3) moves later than signing: a node's certificate is
//! bound by its party's key at the **committed** size, and a node accepts its peer's key
//! at the committed size and at its replica's size. The peer learns a new key only from
//! the log, so until the key change is co-signed the old key must still open connections
//! (the co-signer fetches the sequencer's key change over them); once it is co-signed
//! both sides have it, the node rebinds its certificate, and the old key is refused.

use std::sync::{Arc, RwLock};

use dyad_ledger::channel::{Channel, ChannelError, Role};
use dyad_ledger::genesis::Party;
use dyad_ledger::keys::SignerKey;
use dyad_verifier::key::VerifierKey;

use crate::{NodeError, Shared};

/// What the node signs and checks with now: see the module documentation.
#[derive(Clone, Debug)]
pub(crate) struct NodeKeys {
    /// The key this party signs with now: entries, checkpoints or cosignatures, promises.
    pub signer: SignerKey,
    /// The log key at the replica's size: the sequencer signs checkpoints and promises
    /// with it; the co-signer checks them with it.
    pub log_key: VerifierKey,
    /// Every log key the sequencer has had, oldest first: promises and evidence from
    /// before a key change stay checkable.
    pub log_keys: Vec<VerifierKey>,
    /// The peer's keys its TLS binding may name: at the committed size and at the
    /// replica's size (they differ while its key change awaits co-signing).
    pub peer: Vec<[u8; 32]>,
    /// This party's keys its own CLI may present: the same two, and the key it signs with.
    pub own: Vec<[u8; 32]>,
    /// Every entry key ID the co-signer has had: `/submit` takes entries from these only
    /// (a retired one is then refused by the channel's rules, with its reason).
    pub cosigner_ids: Vec<u32>,
    /// The co-signer's key name (a key change keeps it).
    pub cosigner_name: String,
    /// This party's key at the committed size: the one binding the TLS certificate.
    pub binding: [u8; 32],
    /// How many key changes the log holds (the state is recomputed only when needed).
    changes: usize,
    committed: u64,
}

/// The keys a node holds: the configured one, the ones before it (kept to bind TLS until
/// a key change is co-signed), and any given to it by `rotate-key` since it started.
pub(crate) struct HeldKeys(RwLock<Vec<SignerKey>>);

impl HeldKeys {
    pub fn new(keys: Vec<SignerKey>) -> HeldKeys {
        HeldKeys(RwLock::new(keys))
    }

    pub fn add(&self, key: SignerKey) {
        let mut keys = self.0.write().unwrap_or_else(|p| p.into_inner());
        if !keys.iter().any(|k| k.public_key() == key.public_key()) {
            keys.push(key);
        }
    }

    /// The held key whose public key is `public_key`.
    pub fn find(&self, public_key: &[u8; 32]) -> Option<SignerKey> {
        let keys = self.0.read().unwrap_or_else(|p| p.into_inner());
        keys.iter().find(|k| k.public_key() == *public_key).cloned()
    }
}

fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

impl NodeKeys {
    /// The keys of `ch` as it is now, signing with the held key of this party's signing
    /// key (refused if the node does not hold it, e.g. it was started with a retired key).
    pub fn of(ch: &Channel, held: &HeldKeys) -> Result<NodeKeys, NodeError> {
        let own_role = ch.role();
        let peer_role = match own_role {
            Role::Sequencer => Role::Cosigner,
            Role::Cosigner => Role::Sequencer,
        };
        let signing = ch.own_signing_party()?;
        let signer = held
            .find(&signing.public_key)
            .ok_or_else(|| not_held(ch, &signing))?;
        let committed = ch.committed_size()?;
        let size = ch.size();
        // The sizes at which some party's key changed (0: the genesis keys).
        let indices = ch.key_change_indices();
        let sizes: Vec<u64> = std::iter::once(0)
            .chain(indices.iter().map(|i| i + 1))
            .collect();
        let mut log_keys = Vec::new();
        let mut cosigner_ids = Vec::new();
        for &n in &sizes {
            push_new(&mut log_keys, ch.log_key_at(n)?);
            let cosigner = ch.party_at(Role::Cosigner, n);
            push_new(
                &mut cosigner_ids,
                cosigner.entry_key().map_err(ChannelError::from)?.key_id(),
            );
        }
        let mut peer = Vec::new();
        let mut own = Vec::new();
        for n in [committed, size] {
            push_new(&mut peer, ch.party_at(peer_role, n).public_key);
            push_new(&mut own, ch.party_at(own_role, n).public_key);
        }
        push_new(&mut own, signing.public_key);
        Ok(NodeKeys {
            signer,
            log_key: ch.log_key_at(size)?,
            log_keys,
            peer,
            own,
            cosigner_ids,
            cosigner_name: ch.genesis().cosigner.name.clone(),
            binding: ch.party_at(own_role, committed).public_key,
            changes: indices.len(),
            committed,
        })
    }

    /// Whether these keys may be out of date for `ch`: a key change entered the log or
    /// was queued, or one awaits co-signing and the committed size moved. Cheap when the
    /// channel never changed a key.
    fn stale_for(&self, ch: &Channel) -> bool {
        let changes = ch.key_change_indices();
        if changes.len() != self.changes {
            return true;
        }
        let queued = ch
            .own_signing_party()
            .map_or(true, |p| p.public_key != self.signer.public_key());
        let pending = changes.last().is_some_and(|last| self.committed <= *last);
        queued || (pending && ch.committed_size().map_or(true, |c| c != self.committed))
    }

    /// Every peer key the certificate checks accept, and this party's own too (its CLI).
    pub fn client_keys(&self) -> Vec<[u8; 32]> {
        let mut all = self.peer.clone();
        for k in &self.own {
            push_new(&mut all, *k);
        }
        all
    }
}

/// The node does not hold the key its party signs with now.
fn not_held(ch: &Channel, signing: &Party) -> NodeError {
    let genesis = match ch.role() {
        Role::Sequencer => &ch.genesis().sequencer,
        Role::Cosigner => &ch.genesis().cosigner,
    };
    if signing.public_key != genesis.public_key {
        NodeError::RotatedKeyNotHeld {
            name: signing.name.clone(),
        }
    } else {
        NodeError::NotOurKey(signing.name.clone())
    }
}

impl Shared {
    /// The keys the node signs and checks with now.
    pub fn keys(&self) -> Arc<NodeKeys> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The first answer of `f` under the log keys the sequencer has had, newest first:
    /// promises and evidence from before its key change are under an older one (3.7).
    pub fn any_log_key<T>(&self, f: impl Fn(&VerifierKey) -> Option<T>) -> Option<T> {
        self.keys().log_keys.iter().rev().find_map(f)
    }

    /// After a write: if a key changed, takes the new keys, tells the TLS checks, and
    /// rebinds the node's certificate once its own key change is co-signed.
    pub(crate) fn follow_key_changes(&self, ch: &Channel) {
        let old = self.keys();
        if !old.stale_for(ch) {
            return;
        }
        let keys = match NodeKeys::of(ch, &self.held_keys) {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(error = %e, "cannot take the channel's new keys");
                return;
            }
        };
        self.link.peer.set_accepted(keys.peer.clone());
        self.link.clients.set_accepted(keys.client_keys());
        let rebind = keys.binding != old.binding;
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys.clone());
        tracing::info!(
            peer_keys = keys.peer.len(),
            log_key = %hex::encode(keys.log_key.key_id().to_be_bytes()),
            "following the channel's key state"
        );
        if rebind {
            self.rebind_certificate(&keys);
        }
    }

    /// Issues the node's certificate under its party's committed key, if the node holds it.
    fn rebind_certificate(&self, keys: &NodeKeys) {
        let Some(key) = self.held_keys.find(&keys.binding) else {
            tracing::error!("the node does not hold its party's committed key: its TLS certificate stays bound by the old one");
            return;
        };
        match self.link.rebind(self, &key) {
            Ok(()) => tracing::info!(
                key = %key.verifier_key(),
                "the node's TLS certificate is now bound by its party's new key"
            ),
            Err(e) => tracing::error!(error = %e, "cannot rebind the node's TLS certificate"),
        }
    }
}
