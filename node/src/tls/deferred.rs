//! A client's check of a party's node whose current key it cannot know yet (spec/node.md
//! 10, `dyad restore --from-peer` after key changes): the node's binding is by its party's
//! key at the committed size (9.4), and a replica rebuilt from the genesis learns that key
//! only from the log it fetches over the connection. So the handshake accepts a valid
//! binding by any key (checks 1, 2, 4, 5 and 6 of 9.3) and records the key; check 3 comes
//! after the log is verified, with [`DeferredPartyVerifier::check_presented`]. Nothing read
//! over such a connection may be kept before that check passes.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, SignatureScheme};

use super::binding::{verify_certificate_by_any_key, BindingError};
use super::verify::{no_tls12, one_certificate, refuse, tls13_signature, SIGNATURE_SCHEMES};

/// Accepts a node's certificate with a valid binding by any party key for one channel and
/// records the key; see the module documentation. Clones share the record.
#[derive(Debug, Clone)]
pub struct DeferredPartyVerifier {
    origin: String,
    presented: Arc<Mutex<Vec<[u8; 32]>>>,
    provider: Arc<CryptoProvider>,
}

/// The distinct keys one restore accepts bindings by: the peer's node presents one, or two
/// when its key change is committed while the restore runs. More is not the peer, and the
/// record stays bounded whatever a node presents on reconnections.
pub const MAX_PRESENTED_KEYS: usize = 4;

/// A node presented bindings by more distinct keys than [`MAX_PRESENTED_KEYS`].
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the node presented TLS bindings by more than {0} different keys: it is not the peer's node"
)]
pub struct TooManyKeys(pub usize);

/// A node presented a binding by a key that the verified log does not give its party.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("the node's TLS certificate is bound by the key {}, which is not its party's key at the committed size", hex::encode(.presented))]
pub struct NotThePartysKey {
    /// The key the binding was by.
    pub presented: [u8; 32],
}

impl DeferredPartyVerifier {
    /// A verifier for the channel `origin`, with nothing presented yet.
    pub fn new(origin: &str) -> Result<DeferredPartyVerifier, BindingError> {
        super::binding::statement(origin, 0, &[])?; // the origin's length
        Ok(DeferredPartyVerifier {
            origin: origin.to_owned(),
            presented: Arc::new(Mutex::new(Vec::new())),
            provider: super::config::provider(),
        })
    }

    /// The party keys of every binding accepted so far, each once.
    pub fn presented(&self) -> Vec<[u8; 32]> {
        self.presented
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Check 3 of 9.3, deferred: every binding accepted so far was by one of `accepted`
    /// (the party's keys the verified log gives it). Without TLS (a plain `http://` URL)
    /// nothing was presented and there is nothing to check.
    pub fn check_presented(&self, accepted: &[[u8; 32]]) -> Result<(), NotThePartysKey> {
        match self.presented().into_iter().find(|k| !accepted.contains(k)) {
            Some(presented) => Err(NotThePartysKey { presented }),
            None => Ok(()),
        }
    }
}

impl ServerCertVerifier for DeferredPartyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        one_certificate(intermediates)?;
        let bound = verify_certificate_by_any_key(end_entity, &self.origin, now.as_secs())
            .map_err(refuse)?;
        let mut presented = self.presented.lock().unwrap_or_else(|p| p.into_inner());
        if !presented.contains(&bound.party_key) {
            if presented.len() == MAX_PRESENTED_KEYS {
                let e = TooManyKeys(MAX_PRESENTED_KEYS);
                return Err(Error::InvalidCertificate(CertificateError::Other(
                    OtherError(Arc::new(e)),
                )));
            }
            presented.push(bound.party_key);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        no_tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        tls13_signature(&self.provider, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        SIGNATURE_SCHEMES.to_vec()
    }
}
