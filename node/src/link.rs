//! The node's TLS link (spec/node.md section 9): its identity loaded (or created) at start,
//! the acceptor of its public listener, the HTTP client it uses towards its peer, and the
//! daily renewal of its certificate. With [`NodeConfig::insecure_http`] there is no
//! acceptor and the peer client may use `http://`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::UnixTime;
use tokio_rustls::TlsAcceptor;

use crate::client::{http_client_with, Reach};
use crate::keys::NodeKeys;
use crate::tls::{
    peer_client_config, server_config, CertSlot, ClientAuth, IdentityChange, PartyVerifier,
    TlsIdentity,
};
use crate::{NodeConfig, NodeError, Shared};
use dyad_ledger::keys::SignerKey;

/// How often a running node checks whether its certificate needs renewing.
const RENEWAL_CHECK: Duration = Duration::from_secs(24 * 3600);

/// The TLS side of a running node.
pub(crate) struct Link {
    /// The certificate presented, as server and as client.
    pub slot: Arc<CertSlot>,
    /// Wraps accepted connections; `None` when the node serves plain HTTP.
    pub acceptor: Option<TlsAcceptor>,
    /// Identifies a connecting client: the peer's key or this party's own (its CLI).
    pub clients: PartyVerifier,
    /// The client's view of the peer: its key only.
    pub peer: PartyVerifier,
    identity: Mutex<TlsIdentity>,
}

fn tls_error(e: impl std::fmt::Display) -> NodeError {
    NodeError::Tls(e.to_string())
}

impl Link {
    /// Loads the identity from the data directory (creating or renewing it as 9.4 says,
    /// bound by `binding`, the party's key at the committed size) and builds the acceptor,
    /// accepting the peer's and this party's keys in `keys`.
    pub fn load(
        config: &NodeConfig,
        origin: &str,
        keys: &NodeKeys,
        binding: &SignerKey,
    ) -> Result<Link, NodeError> {
        let now = dyad_ledger::clock::now_ms() / 1000;
        let (identity, change) =
            TlsIdentity::load_or_create(&config.data_dir, binding, origin, now)
                .map_err(tls_error)?;
        match change {
            IdentityChange::Created => {
                tracing::info!(fingerprint = %identity.fingerprint_text(), pin = %identity.pin(), "created the node's TLS key and certificate")
            }
            IdentityChange::Renewed => {
                tracing::info!(fingerprint = %identity.fingerprint_text(), "issued a new TLS certificate for the node's key")
            }
            IdentityChange::Loaded => {}
        }
        let slot = CertSlot::new(identity.certified_key().map_err(tls_error)?);
        let clients = PartyVerifier::new(origin, keys.client_keys()).map_err(tls_error)?;
        let peer = PartyVerifier::new(origin, keys.peer.clone()).map_err(tls_error)?;
        let acceptor = if config.insecure_http {
            None
        } else {
            let server = server_config(slot.clone(), clients.clone(), ClientAuth::PeerOrAnonymous)
                .map_err(tls_error)?;
            Some(TlsAcceptor::from(Arc::new(server)))
        };
        Ok(Link {
            slot,
            acceptor,
            clients,
            peer,
            identity: Mutex::new(identity),
        })
    }

    /// The HTTP client towards the peer: TLS 1.3 presenting this node's certificate and
    /// accepting only the peer's binding; `https://` only unless the node itself serves
    /// plain HTTP behind a proxy.
    pub fn peer_http(&self, config: &NodeConfig) -> Result<reqwest::Client, NodeError> {
        let tls = peer_client_config(self.slot.clone(), self.peer.clone()).map_err(tls_error)?;
        let reach = Reach::tls(tls, None).allow_plain_http(config.insecure_http);
        Ok(http_client_with(
            config.peer_timeout.min(Duration::from_secs(10)),
            config.peer_timeout,
            reach,
        )?)
    }

    /// The certificate's pin (`sha256//…`), which read credentials carry.
    pub fn pin(&self) -> String {
        self.identity().pin()
    }

    /// Renews the certificate if it needs it (spec/node.md 9.4) and presents the new one.
    fn renew_if_due(&self, shared: &Shared) -> Result<(), NodeError> {
        let now = UnixTime::now().as_secs();
        if !self.identity().needs_renewal(now) {
            return Ok(());
        }
        let binding = shared.keys().binding;
        let key = shared.held_keys.find(&binding).ok_or_else(|| {
            tls_error("the node does not hold its party's committed key to bind a certificate")
        })?;
        self.rebind(shared, &key)?;
        tracing::info!(fingerprint = %self.identity().fingerprint_text(), "renewed the node's TLS certificate");
        Ok(())
    }

    fn identity(&self) -> std::sync::MutexGuard<'_, TlsIdentity> {
        self.identity.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Issues a certificate for the node's TLS key bound by `party` (its party's key at
    /// the committed size) and presents it from the next handshake on.
    pub fn rebind(&self, shared: &Shared, party: &SignerKey) -> Result<(), NodeError> {
        let now = UnixTime::now().as_secs();
        let mut identity = self.identity();
        let renewed = identity
            .renew(&shared.data_dir, party, &shared.origin, now)
            .map_err(tls_error)?;
        self.slot
            .replace(renewed.certified_key().map_err(tls_error)?);
        *identity = renewed;
        Ok(())
    }
}

/// Checks once a day whether the certificate needs renewing, until the node stops.
pub(crate) async fn renew_daily(shared: Arc<Shared>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RENEWAL_CHECK) => {}
            _ = shared.stopped() => return,
        }
        if let Err(e) = shared.link.renew_if_due(&shared) {
            tracing::error!(error = %e, "cannot renew the node's TLS certificate; retrying tomorrow");
        }
    }
}
