//! A node's TLS identity in its data directory (spec/node.md 9.2 and 9.4): an ECDSA P-256
//! key (`tls.key`) and a self-signed certificate for it (`tls.crt`) carrying the party's
//! binding. Both files are mode 0600, written aside and renamed, durably.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dyad_ledger::keys::SignerKey;
use dyad_ledger::private_dir::{self, PrivateDirError};
use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair, PublicKeyData,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

use super::binding::{
    verify_certificate, verify_certificate_by_any_key, Binding, BindingError, BINDING_OID,
};
use super::fingerprint;

/// The TLS private key (PKCS#8 PEM) in the data directory.
pub const TLS_KEY_FILE: &str = "tls.key";
/// The node's certificate (PEM) in the data directory.
pub const TLS_CERT_FILE: &str = "tls.crt";
/// How long a binding is valid (spec/node.md 9.4).
pub const BINDING_LIFETIME_S: u64 = 90 * 24 * 3600;
/// A certificate with less validity left than this is renewed (same key, new binding).
pub const RENEW_BEFORE_S: u64 = 30 * 24 * 3600;
/// Neither file is anywhere near this.
const MAX_PEM_LEN: u64 = 64 * 1024;

/// Why the TLS identity cannot be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A key or certificate file could not be written.
    #[error(transparent)]
    File(#[from] PrivateDirError),
    /// A key or certificate file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The key file is not a PEM PKCS#8 ECDSA P-256 private key.
    #[error("{}: not a PEM PKCS#8 ECDSA P-256 private key: {reason}", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rcgen could not make the certificate.
    #[error("cannot make the certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The new certificate does not verify (a bug if it happens).
    #[error("the new certificate does not verify: {0}")]
    Binding(#[from] BindingError),
    /// The clock is outside the certificate's range.
    #[error("the clock is out of the certificate's range")]
    Clock,
    /// The TLS key cannot be used to sign.
    #[error("the TLS key cannot sign: {0}")]
    Signing(rustls::Error),
}

/// What [`TlsIdentity::load_or_create`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityChange {
    /// The key and the certificate were there and good.
    Loaded,
    /// The key was there; a new certificate was issued (missing, not for this channel or
    /// key, or expiring).
    Renewed,
    /// A new key and certificate were made.
    Created,
}

/// The node's TLS key and certificate. `Debug` shows the certificate's fingerprint only.
pub struct TlsIdentity {
    key: KeyPair,
    certificate: CertificateDer<'static>,
    not_after: u64,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("fingerprint", &self.fingerprint_text())
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Loads the identity of `data_dir`, making what is missing: a new key if there is
    /// none, a new certificate if there is none or it does not hold a valid binding by
    /// `party` for `origin` with at least [`RENEW_BEFORE_S`] left at `now` (seconds).
    pub fn load_or_create(
        data_dir: &Path,
        party: &SignerKey,
        origin: &str,
        now: u64,
    ) -> Result<(TlsIdentity, IdentityChange), IdentityError> {
        let key_path = data_dir.join(TLS_KEY_FILE);
        let Some(key) = read_key(&key_path)? else {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            private_dir::write_file(&key_path, key.serialize_pem().as_bytes())?;
            let identity = Self::issue(key, party, origin, now)?;
            identity.write_certificate(data_dir)?;
            return Ok((identity, IdentityChange::Created));
        };
        if let Some(certificate) = read_certificate(&data_dir.join(TLS_CERT_FILE))? {
            let current = verify_certificate(&certificate, origin, &[party.public_key()], now);
            if let Ok(bound) = current {
                if bound.spki == key.subject_public_key_info()
                    && bound.not_after >= now.saturating_add(RENEW_BEFORE_S)
                {
                    let not_after = bound.not_after;
                    let identity = TlsIdentity {
                        key,
                        certificate,
                        not_after,
                    };
                    return Ok((identity, IdentityChange::Loaded));
                }
            }
        }
        let identity = Self::issue(key, party, origin, now)?;
        identity.write_certificate(data_dir)?;
        Ok((identity, IdentityChange::Renewed))
    }

    /// The identity in `data_dir` as it is, with the party key its binding is by, if the
    /// key and the certificate are there and the certificate holds a valid binding of that
    /// key for `origin` at `now` by any party key. Nothing is made or written: a party
    /// that does not know its key at the committed size yet (`dyad restore --from-peer`)
    /// presents what its node presented last, bound by that key.
    pub fn load_as_is(
        data_dir: &Path,
        origin: &str,
        now: u64,
    ) -> Result<Option<(TlsIdentity, [u8; 32])>, IdentityError> {
        let Some(key) = read_key(&data_dir.join(TLS_KEY_FILE))? else {
            return Ok(None);
        };
        let Some(certificate) = read_certificate(&data_dir.join(TLS_CERT_FILE))? else {
            return Ok(None);
        };
        let Ok(bound) = verify_certificate_by_any_key(&certificate, origin, now) else {
            return Ok(None);
        };
        if bound.spki != key.subject_public_key_info() {
            return Ok(None);
        }
        let identity = TlsIdentity {
            key,
            certificate,
            not_after: bound.not_after,
        };
        Ok(Some((identity, bound.party_key)))
    }

    /// A new key and certificate held in memory only (tests, fuzzing, throwaway nodes).
    pub fn ephemeral(
        party: &SignerKey,
        origin: &str,
        now: u64,
    ) -> Result<TlsIdentity, IdentityError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        Self::issue(key, party, origin, now)
    }

    /// A new certificate for this identity's key, valid for [`BINDING_LIFETIME_S`] from
    /// `now`, written to `data_dir` (a running node renews with this).
    pub fn renew(
        &self,
        data_dir: &Path,
        party: &SignerKey,
        origin: &str,
        now: u64,
    ) -> Result<TlsIdentity, IdentityError> {
        let key = KeyPair::try_from(self.key.serialize_der()).map_err(IdentityError::from)?;
        let identity = Self::issue(key, party, origin, now)?;
        identity.write_certificate(data_dir)?;
        Ok(identity)
    }

    /// Whether the certificate has less than [`RENEW_BEFORE_S`] left at `now`.
    pub fn needs_renewal(&self, now: u64) -> bool {
        self.not_after < now.saturating_add(RENEW_BEFORE_S)
    }

    /// A self-signed certificate for `key` with `party`'s binding (spec/node.md 9.2).
    fn issue(
        key: KeyPair,
        party: &SignerKey,
        origin: &str,
        now: u64,
    ) -> Result<TlsIdentity, IdentityError> {
        let not_after = now.saturating_add(BINDING_LIFETIME_S);
        let spki = key.subject_public_key_info();
        let binding = Binding::sign(party, origin, not_after, &spki)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, format!("dyad {}", party.name()));
        params.distinguished_name = name;
        params.not_before = time_at(now.saturating_sub(3600))?;
        params.not_after = time_at(not_after)?;
        params.custom_extensions = vec![CustomExtension::from_oid_content(
            BINDING_OID,
            binding.encode(),
        )];
        let certificate = params.self_signed(&key)?.der().clone();
        // What the peer will check, checked here first.
        verify_certificate(&certificate, origin, &[party.public_key()], now)?;
        Ok(TlsIdentity {
            key,
            certificate,
            not_after,
        })
    }

    fn write_certificate(&self, data_dir: &Path) -> Result<(), IdentityError> {
        let pem = pem_certificate(&self.certificate);
        private_dir::write_file(&data_dir.join(TLS_CERT_FILE), pem.as_bytes())?;
        Ok(())
    }

    /// The certificate (DER).
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.certificate
    }

    /// The end of the certificate's binding, seconds since the epoch.
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// SHA-256 of the certificate, as OpenSSL prints it (for `dyad tls show`).
    pub fn fingerprint_text(&self) -> String {
        fingerprint::fingerprint_text(&self.certificate)
    }

    /// The pin credential holders check (`sha256//...`, spec/node.md 9.2).
    pub fn pin(&self) -> String {
        fingerprint::pin_text(&fingerprint::spki_hash(&self.key.subject_public_key_info()))
    }

    /// The certificate and its signing key, as rustls presents them (server and client).
    pub fn certified_key(&self) -> Result<Arc<CertifiedKey>, IdentityError> {
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()));
        let signer = super::config::provider()
            .key_provider
            .load_private_key(der)
            .map_err(IdentityError::Signing)?;
        Ok(Arc::new(CertifiedKey::new(
            vec![self.certificate.clone()],
            signer,
        )))
    }
}

fn time_at(seconds: u64) -> Result<time::OffsetDateTime, IdentityError> {
    let s = i64::try_from(seconds).map_err(|_| IdentityError::Clock)?;
    time::OffsetDateTime::from_unix_timestamp(s).map_err(|_| IdentityError::Clock)
}

fn pem_certificate(der: &CertificateDer<'_>) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

fn read_text(path: &Path) -> Result<Option<String>, IdentityError> {
    match dyad_ledger::keys::read_small_text(path, MAX_PEM_LEN) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(IdentityError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The key file, if there is one; a file that is there but not a P-256 key is an error
/// (it is never replaced silently: the operator decides).
fn read_key(path: &Path) -> Result<Option<KeyPair>, IdentityError> {
    let Some(text) = read_text(path)? else {
        return Ok(None);
    };
    let bad = |reason: String| IdentityError::BadKey {
        path: path.to_owned(),
        reason,
    };
    let der =
        PrivatePkcs8KeyDer::from_pem_slice(text.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let key = KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| bad(e.to_string()))?;
    Ok(Some(key))
}

/// The certificate file, if there is one that parses as PEM; anything else is reissued.
fn read_certificate(path: &Path) -> Result<Option<CertificateDer<'static>>, IdentityError> {
    Ok(read_text(path)?.and_then(|text| CertificateDer::from_pem_slice(text.as_bytes()).ok()))
}
