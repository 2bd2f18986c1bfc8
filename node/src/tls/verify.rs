//! Certificate verifiers for rustls (spec/node.md 9.3): the peer's certificate is accepted
//! only with a binding by one of the expected party keys; a credential holder accepts the
//! node's certificate by its pin. Both accept TLS 1.3 handshake signatures only, with the
//! schemes in [`SIGNATURE_SCHEMES`].

use std::sync::{Arc, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, OtherError, SignatureScheme,
};
use subtle::ConstantTimeEq;

use super::binding::{certificate_spki, verify_certificate, BindingError, BoundCertificate};
use super::fingerprint::spki_hash;

/// The handshake signature schemes offered and accepted: dyad's own keys are ECDSA P-256.
pub const SIGNATURE_SCHEMES: [SignatureScheme; 2] = [
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ED25519,
];

pub(super) fn refuse(e: BindingError) -> Error {
    match e {
        BindingError::Expired { .. } => Error::InvalidCertificate(CertificateError::Expired),
        e => Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e)))),
    }
}

pub(super) fn one_certificate(intermediates: &[CertificateDer<'_>]) -> Result<(), Error> {
    if intermediates.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(ChainError)),
        )))
    }
}

/// A chain of more than the one self-signed certificate.
#[derive(Debug, thiserror::Error)]
#[error("a dyad node presents exactly one certificate, not a chain")]
struct ChainError;

pub(super) fn tls13_signature(
    provider: &CryptoProvider,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, Error> {
    if !SIGNATURE_SCHEMES.contains(&dss.scheme) {
        return Err(Error::PeerMisbehaved(
            rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
        ));
    }
    verify_tls13_signature(
        message,
        cert,
        dss,
        &provider.signature_verification_algorithms,
    )
}

pub(super) fn no_tls12() -> Result<HandshakeSignatureValid, Error> {
    // Never reached: every config is TLS 1.3 only (config.rs).
    Err(Error::General(String::from("dyad speaks TLS 1.3 only")))
}

/// Accepts a certificate bound (spec/node.md 9.3) to one of the expected party keys in one
/// channel. As a server verifier it checks the node it connects to; wrapped in
/// [`PartyClientVerifier`] it checks connecting clients.
///
/// Clones share the accepted keys: a running node changes them when a party's key changes
/// (spec/dyad.md 3.7) with [`PartyVerifier::set_accepted`], and every TLS configuration
/// built on a clone sees the change at its next handshake.
#[derive(Debug, Clone)]
pub struct PartyVerifier {
    origin: String,
    accepted: Arc<RwLock<Vec<[u8; 32]>>>,
    provider: Arc<CryptoProvider>,
}

impl PartyVerifier {
    /// A verifier for the channel `origin` accepting the keys in `accepted` (the peer's
    /// genesis key).
    pub fn new(origin: &str, accepted: Vec<[u8; 32]>) -> Result<PartyVerifier, BindingError> {
        super::binding::statement(origin, 0, &[])?; // the origin's length
        Ok(PartyVerifier {
            origin: origin.to_owned(),
            accepted: Arc::new(RwLock::new(accepted)),
            provider: super::config::provider(),
        })
    }

    /// Accepts `accepted` from the next handshake on, in this verifier and its clones.
    pub fn set_accepted(&self, accepted: Vec<[u8; 32]>) {
        *self.accepted.write().unwrap_or_else(|p| p.into_inner()) = accepted;
    }

    /// The keys accepted now.
    pub fn accepted(&self) -> Vec<[u8; 32]> {
        self.accepted
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The binding of `end_entity`, if it is acceptable at `now`.
    pub fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        now: UnixTime,
    ) -> Result<BoundCertificate, BindingError> {
        let accepted = self.accepted.read().unwrap_or_else(|p| p.into_inner());
        verify_certificate(end_entity, &self.origin, &accepted, now.as_secs())
    }

    fn verify(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), Error> {
        one_certificate(intermediates)?;
        self.check(end_entity, now).map(drop).map_err(refuse)
    }
}

impl ServerCertVerifier for PartyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        // The name is not checked: the binding says who the server is.
        self.verify(end_entity, intermediates, now)?;
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

/// The server's view of clients: a client certificate is asked for, and if one is sent it
/// must pass [`PartyVerifier`]; with `mandatory`, a client without one is refused.
#[derive(Debug, Clone)]
pub struct PartyClientVerifier {
    parties: PartyVerifier,
    mandatory: bool,
}

impl PartyClientVerifier {
    /// A client verifier over `parties`; `mandatory` refuses clients without a certificate.
    pub fn new(parties: PartyVerifier, mandatory: bool) -> PartyClientVerifier {
        PartyClientVerifier { parties, mandatory }
    }
}

impl ClientCertVerifier for PartyClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.parties.verify(end_entity, intermediates, now)?;
        Ok(ClientCertVerified::assertion())
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
        tls13_signature(&self.parties.provider, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        SIGNATURE_SCHEMES.to_vec()
    }
}

/// A credential holder's check of the node (spec/node.md 9.5): exactly one certificate
/// whose SPKI hashes to the pin.
#[derive(Debug, Clone)]
pub struct PinnedServerVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

/// A certificate whose SPKI does not hash to the pin.
#[derive(Clone, Debug, thiserror::Error)]
#[error("the server's certificate key does not match the pin")]
pub struct PinMismatch;

impl PinnedServerVerifier {
    /// `pin`: SHA-256 of the node's SubjectPublicKeyInfo.
    pub fn new(pin: [u8; 32]) -> PinnedServerVerifier {
        PinnedServerVerifier {
            pin,
            provider: super::config::provider(),
        }
    }
}

impl ServerCertVerifier for PinnedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        one_certificate(intermediates)?;
        let spki = certificate_spki(end_entity).map_err(refuse)?;
        if bool::from(spki_hash(&spki).ct_eq(&self.pin)) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(PinMismatch)),
            )))
        }
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
