//! TLS between the parties and for readers (spec/node.md section 9): the node's identity
//! (a self-signed certificate whose key the party's genesis key binds), the verifiers that
//! accept only the expected party's binding or a pinned key, and TLS 1.3-only rustls
//! configurations. Nothing here opens sockets: the listener wraps accepted connections with
//! a `tokio_rustls::TlsAcceptor` of [`server_config`], the client uses [`peer_client_config`]
//! or [`reader_client_config`].

pub mod binding;
pub mod config;
pub mod deferred;
pub mod fingerprint;
pub mod identity;
pub mod verify;

pub use binding::{Binding, BindingError, BoundCertificate, BINDING_LABEL, BINDING_OID};
pub use config::{
    deferred_peer_client_config, identify, install_default_provider, peer_client_config, provider,
    reader_client_config, server_config, CertSlot, ClientAuth, Peer, TlsConfigError,
};
pub use deferred::{DeferredPartyVerifier, NotThePartysKey, TooManyKeys, MAX_PRESENTED_KEYS};
pub use fingerprint::{fingerprint_text, parse_pin, pin};
pub use identity::{IdentityChange, IdentityError, TlsIdentity, TLS_CERT_FILE, TLS_KEY_FILE};
pub use verify::{PartyClientVerifier, PartyVerifier, PinnedServerVerifier, SIGNATURE_SCHEMES};

#[cfg(test)]
mod tests;
