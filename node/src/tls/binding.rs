//! The binding extension (spec/node.md 9.3): a party's Ed25519 genesis key signs, for one
//! channel and until a time, the SubjectPublicKeyInfo of its node's TLS certificate. Pure:
//! building the extension's value and checking a certificate against it.

use dyad_ledger::keys::SignerKey;
use ed25519_dalek::{Signature, VerifyingKey};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The extension's OID (spec/node.md 9.3: dyad's own, unregistered).
pub const BINDING_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 4_294_967_290, 1];

/// The label that starts the signed statement; the NUL after it keeps the statement apart
/// from every signed-note text and from entry messages (spec/dyad.md 2.2).
pub const BINDING_LABEL: &[u8] = b"dyad-tls-binding/v1\0";

/// The DER value of an extension is small; anything longer is refused before parsing.
const MAX_BINDING_LEN: usize = 256;
/// A dyad certificate is well under this; a larger one is refused before parsing.
pub const MAX_CERTIFICATE_LEN: usize = 16 * 1024;

/// Why a certificate's binding is refused.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum BindingError {
    /// The channel origin is empty or over 255 bytes.
    #[error("the channel origin must be 1 to 255 bytes, not {0}")]
    OriginLength(usize),
    /// The certificate is over [`MAX_CERTIFICATE_LEN`] bytes.
    #[error("the certificate is larger than {MAX_CERTIFICATE_LEN} bytes")]
    CertificateTooLarge,
    /// The certificate is not X.509 DER.
    #[error("the certificate is not X.509 DER: {0}")]
    CertificateMalformed(String),
    /// Bytes follow the certificate's DER encoding.
    #[error("bytes follow the certificate's DER encoding")]
    TrailingBytes,
    /// The certificate carries no dyad binding extension.
    #[error("the certificate has no dyad binding extension")]
    NoBinding,
    /// The certificate carries more than one dyad binding extension.
    #[error("the certificate has more than one dyad binding extension")]
    SeveralBindings,
    /// The binding extension is not a DER `DyadTlsBinding`.
    #[error("the binding extension is not a DER DyadTlsBinding: {0}")]
    BindingMalformed(String),
    /// The binding's party key is not a valid Ed25519 public key.
    #[error("the binding's party key is not a valid Ed25519 public key")]
    InvalidPartyKey,
    /// The binding's party key is not one this node accepts.
    #[error("the binding's party key is not one this node accepts")]
    UnknownPartyKey,
    /// The binding's signature does not verify for this channel and certificate key.
    #[error("the binding's signature does not verify for this channel and certificate key")]
    BadSignature,
    /// The binding's notAfter differs from the certificate's.
    #[error("the binding's notAfter {binding} differs from the certificate's {certificate}")]
    NotAfterMismatch {
        /// The binding's notAfter (Unix seconds).
        binding: u64,
        /// The certificate's notAfter (Unix seconds).
        certificate: i64,
    },
    /// The binding has expired.
    #[error("the binding expired at {not_after} (now {now})")]
    Expired {
        /// When it expired (Unix seconds).
        not_after: u64,
        /// The time of the check (Unix seconds).
        now: u64,
    },
}

/// The extension's decoded value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The party's Ed25519 genesis public key.
    pub party_key: [u8; 32],
    /// The end of the binding's validity, in seconds since the Unix epoch.
    pub not_after: u64,
    /// `party_key`'s signature over [`statement`].
    pub signature: [u8; 64],
}

/// What is signed: `label || u8 len(origin) || origin || u64 not_after || spki`.
pub fn statement(origin: &str, not_after: u64, spki: &[u8]) -> Result<Vec<u8>, BindingError> {
    let len = u8::try_from(origin.len())
        .ok()
        .filter(|&n| n > 0)
        .ok_or(BindingError::OriginLength(origin.len()))?;
    let mut m = Vec::with_capacity(BINDING_LABEL.len() + 1 + origin.len() + 8 + spki.len());
    m.extend_from_slice(BINDING_LABEL);
    m.push(len);
    m.extend_from_slice(origin.as_bytes());
    m.extend_from_slice(&not_after.to_be_bytes());
    m.extend_from_slice(spki);
    Ok(m)
}

impl Binding {
    /// The party's signature binding `spki` to it in the channel `origin` until `not_after`.
    pub fn sign(
        party: &SignerKey,
        origin: &str,
        not_after: u64,
        spki: &[u8],
    ) -> Result<Binding, BindingError> {
        let message = statement(origin, not_after, spki)?;
        Ok(Binding {
            party_key: party.public_key(),
            not_after,
            signature: party.sign(&message),
        })
    }

    /// The DER `DyadTlsBinding` (spec/node.md 9.3), the extension's value.
    pub fn encode(&self) -> Vec<u8> {
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_bytes(&self.party_key);
                w.next().write_u64(self.not_after);
                w.next().write_bytes(&self.signature);
            })
        })
    }

    /// Parses the extension's value: DER only, nothing after it, fields of exact sizes.
    pub fn decode(bytes: &[u8]) -> Result<Binding, BindingError> {
        if bytes.len() > MAX_BINDING_LEN {
            return Err(BindingError::BindingMalformed(format!(
                "{} bytes, more than {MAX_BINDING_LEN}",
                bytes.len()
            )));
        }
        let (key, not_after, signature) = yasna::parse_der(bytes, |r| {
            r.read_sequence(|r| {
                let key = r.next().read_bytes()?;
                let not_after = r.next().read_u64()?;
                let signature = r.next().read_bytes()?;
                Ok((key, not_after, signature))
            })
        })
        .map_err(|e| BindingError::BindingMalformed(e.to_string()))?;
        let party_key = <[u8; 32]>::try_from(key.as_slice())
            .map_err(|_| BindingError::BindingMalformed("the party key is not 32 bytes".into()))?;
        let signature = <[u8; 64]>::try_from(signature.as_slice())
            .map_err(|_| BindingError::BindingMalformed("the signature is not 64 bytes".into()))?;
        if not_after > i64::MAX as u64 {
            return Err(BindingError::BindingMalformed(
                "notAfter is out of range".into(),
            ));
        }
        Ok(Binding {
            party_key,
            not_after,
            signature,
        })
    }
}

/// A certificate whose binding verified (spec/node.md 9.3, checks 1 to 5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundCertificate {
    /// The party key that signed the binding: one of the accepted keys.
    pub party_key: [u8; 32],
    /// The end of the binding's validity, signed in it (Unix seconds).
    pub not_after: u64,
    /// The certificate's SubjectPublicKeyInfo, DER, as it appears in the certificate.
    pub spki: Vec<u8>,
}

/// The parts of a certificate the binding needs, parsed strictly.
struct ParsedCertificate {
    spki: Vec<u8>,
    not_after: i64,
    binding: Binding,
}

fn parse_certificate(der: &[u8]) -> Result<ParsedCertificate, BindingError> {
    if der.len() > MAX_CERTIFICATE_LEN {
        return Err(BindingError::CertificateTooLarge);
    }
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| BindingError::CertificateMalformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(BindingError::TrailingBytes);
    }
    let oid = binding_oid();
    let mut bindings = cert.extensions().iter().filter(|e| e.oid == oid);
    let extension = bindings.next().ok_or(BindingError::NoBinding)?;
    if bindings.next().is_some() {
        return Err(BindingError::SeveralBindings);
    }
    Ok(ParsedCertificate {
        spki: cert.tbs_certificate.subject_pki.raw.to_vec(),
        not_after: cert.validity().not_after.timestamp(),
        binding: Binding::decode(extension.value)?,
    })
}

fn binding_oid() -> x509_parser::der_parser::oid::Oid<'static> {
    x509_parser::der_parser::oid::Oid::from(BINDING_OID).expect("the binding OID is well formed")
}

/// The SubjectPublicKeyInfo (DER) of a certificate, for its pin.
pub fn certificate_spki(der: &[u8]) -> Result<Vec<u8>, BindingError> {
    if der.len() > MAX_CERTIFICATE_LEN {
        return Err(BindingError::CertificateTooLarge);
    }
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| BindingError::CertificateMalformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(BindingError::TrailingBytes);
    }
    Ok(cert.tbs_certificate.subject_pki.raw.to_vec())
}

/// Checks a certificate's binding for the channel `origin`: exactly one binding, by one of
/// `accepted`, verifying strictly over this certificate's SPKI, matching its notAfter, not
/// expired at `now` (seconds since the epoch). The handshake signature is the TLS layer's.
pub fn verify_certificate(
    der: &[u8],
    origin: &str,
    accepted: &[[u8; 32]],
    now: u64,
) -> Result<BoundCertificate, BindingError> {
    let parsed = parse_certificate(der)?;
    if !accepted.contains(&parsed.binding.party_key) {
        return Err(BindingError::UnknownPartyKey);
    }
    check_binding(parsed, origin, now)
}

/// [`verify_certificate`] with any party key: the binding verifies under the key it
/// names. For a client that learns which key it expects only later, from a log it fetches
/// over the connection (`DeferredPartyVerifier`); the key returned must be checked then.
pub fn verify_certificate_by_any_key(
    der: &[u8],
    origin: &str,
    now: u64,
) -> Result<BoundCertificate, BindingError> {
    check_binding(parse_certificate(der)?, origin, now)
}

/// Checks 2 to 5 of spec/node.md 9.3: everything but whether the party key is expected.
fn check_binding(
    parsed: ParsedCertificate,
    origin: &str,
    now: u64,
) -> Result<BoundCertificate, BindingError> {
    let binding = &parsed.binding;
    let key =
        VerifyingKey::from_bytes(&binding.party_key).map_err(|_| BindingError::InvalidPartyKey)?;
    let message = statement(origin, binding.not_after, &parsed.spki)?;
    key.verify_strict(&message, &Signature::from_bytes(&binding.signature))
        .map_err(|_| BindingError::BadSignature)?;
    if i64::try_from(binding.not_after) != Ok(parsed.not_after) {
        return Err(BindingError::NotAfterMismatch {
            binding: binding.not_after,
            certificate: parsed.not_after,
        });
    }
    if now > binding.not_after {
        return Err(BindingError::Expired {
            not_after: binding.not_after,
            now,
        });
    }
    Ok(BoundCertificate {
        party_key: binding.party_key,
        not_after: binding.not_after,
        spki: parsed.spki,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(name: &str, seed: u8) -> SignerKey {
        SignerKey::from_seed(name, [seed; 32]).unwrap()
    }

    #[test]
    fn the_value_round_trips_and_only_exact_der_is_read() {
        let b = Binding::sign(&party("a", 1), "o", 1_800_000_000, b"spki").unwrap();
        let der = b.encode();
        assert_eq!(Binding::decode(&der).unwrap(), b);
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(matches!(
            Binding::decode(&trailing),
            Err(BindingError::BindingMalformed(_))
        ));
        for cut in 0..der.len() {
            assert!(Binding::decode(&der[..cut]).is_err(), "cut at {cut}");
        }
        // A 31-byte key (same structure otherwise) is refused by size.
        let short = yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_bytes(&[0; 31]);
                w.next().write_u64(1);
                w.next().write_bytes(&[0; 64]);
            })
        });
        assert!(
            matches!(Binding::decode(&short), Err(BindingError::BindingMalformed(m)) if m.contains("32"))
        );
        assert!(Binding::decode(&vec![0x30; 300]).is_err());
    }

    #[test]
    fn the_statement_is_domain_separated_and_names_origin_time_and_key() {
        let m = statement("example.org/c", 7, b"K").unwrap();
        assert!(m.starts_with(b"dyad-tls-binding/v1\0"));
        assert_eq!(&m[20..], b"\x0dexample.org/c\0\0\0\0\0\0\0\x07K");
        assert_eq!(statement("", 1, b"k"), Err(BindingError::OriginLength(0)));
        let long = "o".repeat(256);
        assert_eq!(
            statement(&long, 1, b"k"),
            Err(BindingError::OriginLength(256))
        );
    }
}
