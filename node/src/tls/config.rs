//! rustls configurations (spec/node.md 9.1): TLS 1.3 only, the `ring` provider, the node's
//! certificate presented as server and as client, and the verifiers of verify.rs.
//!
//! The provider is `ring`: it builds with a C compiler alone, where aws-lc-rs needs more
//! of the machine (and cmake on some), and it has everything this profile uses.

use std::sync::{Arc, RwLock};

use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ServerConfig, SignatureScheme};

use super::binding::BindingError;
use super::deferred::DeferredPartyVerifier;
use super::verify::{PartyClientVerifier, PartyVerifier, PinnedServerVerifier};

/// The only protocol version offered or accepted.
static VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
/// Both sides speak HTTP/1.1 (spec/node.md 1.1).
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The crypto provider every dyad config and verifier uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes `ring` the process's default provider, unless one is installed already.
/// reqwest (built without a provider of its own) needs it for every client it builds,
/// even one that only speaks plain HTTP or over a Unix socket.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Why a configuration cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// rustls refused the configuration.
    #[error("rustls refused the configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The certificate does not carry a valid binding.
    #[error(transparent)]
    Binding(#[from] BindingError),
}

/// The certificate the node presents, as server and as client, replaceable while it runs
/// (a renewed certificate, spec/node.md 9.4) without rebuilding the configs.
#[derive(Debug)]
pub struct CertSlot(RwLock<Arc<CertifiedKey>>);

impl CertSlot {
    /// A slot presenting `certified` until it is replaced.
    pub fn new(certified: Arc<CertifiedKey>) -> Arc<CertSlot> {
        Arc::new(CertSlot(RwLock::new(certified)))
    }

    /// Presents `certified` from the next handshake on.
    pub fn replace(&self, certified: Arc<CertifiedKey>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = certified;
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl ResolvesClientCert for CertSlot {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Who asked for a client certificate may go without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// Only the peer may connect (no read API for others).
    PeerOnly,
    /// The peer, or a client with no certificate at all (a credential holder or a public
    /// reader, identified at the HTTP layer). A certificate that is sent must pass.
    PeerOrAnonymous,
}

/// The node's server config: its certificate from `slot`, clients checked by `peers`.
pub fn server_config(
    slot: Arc<CertSlot>,
    peers: PartyVerifier,
    client_auth: ClientAuth,
) -> Result<ServerConfig, TlsConfigError> {
    let verifier = PartyClientVerifier::new(peers, client_auth == ClientAuth::PeerOnly);
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_cert_resolver(slot);
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    // No session resumption (spec/node.md 9.5): a resumed session skips the client
    // certificate check and would keep the identity of its first handshake, e.g. a party
    // key a key change has since retired (spec/dyad.md 3.7). Every connection is checked
    // against the keys current at its own handshake; connections are kept alive, so the
    // cost is one full handshake per connection.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// The node's client config towards its peer: the peer checked by `peer`, the node's own
/// certificate from `slot` presented.
pub fn peer_client_config(
    slot: Arc<CertSlot>,
    peer: PartyVerifier,
) -> Result<ClientConfig, TlsConfigError> {
    party_client_config(slot, Arc::new(peer))
}

/// [`peer_client_config`] checking the peer's key only after the log is fetched
/// ([`DeferredPartyVerifier`]: `dyad restore --from-peer` after key changes).
pub fn deferred_peer_client_config(
    slot: Arc<CertSlot>,
    peer: DeferredPartyVerifier,
) -> Result<ClientConfig, TlsConfigError> {
    party_client_config(slot, Arc::new(peer))
}

fn party_client_config(
    slot: Arc<CertSlot>,
    peer: Arc<dyn rustls::client::danger::ServerCertVerifier>,
) -> Result<ClientConfig, TlsConfigError> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(peer)
        .with_client_cert_resolver(slot);
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(config)
}

/// A credential holder's client config: the node checked by its pin (SHA-256 of its
/// SPKI), no client certificate.
pub fn reader_client_config(pin: [u8; 32]) -> Result<ClientConfig, TlsConfigError> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServerVerifier::new(pin)))
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(config)
}

/// Who is at the other end of an accepted connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// A party: its certificate's binding is by this key (one the verifier accepts).
    Party([u8; 32]),
    /// No client certificate: not the peer (a reader; the HTTP layer asks for a token).
    NotThePeer,
}

/// Identifies the client of an accepted server connection from the certificates it
/// presented (`ServerConnection::peer_certificates`). The handshake already checked them,
/// so a certificate here has a valid binding; checking again costs one signature
/// verification per connection and keeps this function safe on its own.
pub fn identify(
    presented: Option<&[CertificateDer<'_>]>,
    peers: &PartyVerifier,
    now: rustls::pki_types::UnixTime,
) -> Peer {
    match presented {
        Some([certificate]) => match peers.check(certificate, now) {
            Ok(bound) => Peer::Party(bound.party_key),
            Err(_) => Peer::NotThePeer,
        },
        _ => Peer::NotThePeer,
    }
}
