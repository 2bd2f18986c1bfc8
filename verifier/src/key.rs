//! C2SP signed-note verifier keys ("vkeys"): `name+keyid+base64(type || public key)`.
//!
//! The key ID is the first four bytes, big-endian, of
//! SHA-256(name || 0x0A || type || public key) (C2SP signed-note, "Signatures").
//! Parsing accepts the key ID in upper- or lowercase hex, as Go's x/mod does;
//! [`Display`](core::fmt::Display) always writes lowercase, the canonical form.

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use core::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use crate::keyed::KeyedVerifier;

/// Length of an Ed25519 public key.
const PUBLIC_KEY_LEN: usize = 32;
/// Length of the key ID field in a vkey string: 8 hex digits.
const KEY_ID_HEX_LEN: usize = 8;

/// The signature type byte of C2SP signed-note, "Signature types".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SignatureType {
    /// Plain Ed25519 note signature over the note text (signed-note).
    Ed25519 = 0x01,
    /// Timestamped Ed25519 cosignature (tlog-cosignature `cosignature/v1`).
    CosignatureV1 = 0x04,
}

impl SignatureType {
    /// The type for an identifier byte.
    pub fn from_byte(byte: u8) -> Result<Self, KeyError> {
        match byte {
            0x01 => Ok(Self::Ed25519),
            0x04 => Ok(Self::CosignatureV1),
            other => Err(KeyError::UnknownSignatureType(other)),
        }
    }

    /// The identifier byte.
    pub fn to_byte(self) -> u8 {
        self as u8
    }
}

/// Why a key name or vkey was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("key name is empty")]
    EmptyName,
    #[error("key name contains '+'")]
    NameContainsPlus,
    #[error("key name contains whitespace or a control character")]
    NameContainsSpaceOrControl,
    #[error("verifier key has no '+' between name, key ID and key")]
    MissingField,
    #[error("key ID is not exactly 8 hex digits")]
    MalformedKeyId,
    #[error("key is not canonical standard base64")]
    KeyNotBase64,
    #[error("key has {length} bytes, want 1 type byte and a 32-byte public key")]
    WrongKeyLength { length: usize },
    #[error("unknown signature type 0x{0:02x}")]
    UnknownSignatureType(u8),
    #[error("public key is not a valid Ed25519 point")]
    InvalidPublicKey,
    #[error("public key has small order: anyone could sign for it")]
    WeakPublicKey,
    #[error("key ID {found:08x} does not match the name and key, which give {computed:08x}")]
    KeyIdMismatch { found: u32, computed: u32 },
}

/// First 4 bytes, big-endian, of SHA-256(name || 0x0A || type || public key).
pub fn key_id(name: &str, sig_type: SignatureType, public_key: &[u8; 32]) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', sig_type.to_byte()])
        .chain_update(public_key)
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Checks a key name: non-empty, no '+', no Unicode whitespace (C2SP signed-note,
/// "Format"), and no control characters, which a note may not contain anyway.
pub fn validate_name(name: &str) -> Result<(), KeyError> {
    if name.is_empty() {
        return Err(KeyError::EmptyName);
    }
    if name.contains('+') {
        return Err(KeyError::NameContainsPlus);
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(KeyError::NameContainsSpaceOrControl);
    }
    Ok(())
}

/// A public key that can verify note signatures: name, key ID, type and Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    signature_type: SignatureType,
    verifying_key: VerifyingKey,
    table: Precomputed,
}

/// A key's precomputed verification table, once [`VerifierKey::precomputed`] has built it.
/// It is a function of the key alone, so it takes no part in comparing or hashing keys.
#[derive(Clone, Default)]
struct Precomputed(Option<Arc<KeyedVerifier>>);

impl PartialEq for Precomputed {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Precomputed {}

impl core::hash::Hash for Precomputed {
    fn hash<H: core::hash::Hasher>(&self, _: &mut H) {}
}

impl fmt::Debug for Precomputed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "table"
        } else {
            "no table"
        })
    }
}

impl VerifierKey {
    /// A key from its parts; the key ID is computed.
    ///
    /// Small-order public keys are rejected: `verify_strict` refuses every
    /// signature by them, so such a key could never verify anything.
    pub fn new(
        name: &str,
        sig_type: SignatureType,
        public_key: [u8; 32],
    ) -> Result<Self, KeyError> {
        validate_name(name)?;
        let verifying_key =
            VerifyingKey::from_bytes(&public_key).map_err(|_| KeyError::InvalidPublicKey)?;
        if verifying_key.is_weak() {
            return Err(KeyError::WeakPublicKey);
        }
        Ok(Self {
            name: name.to_string(),
            key_id: key_id(name, sig_type, &public_key),
            signature_type: sig_type,
            verifying_key,
            table: Precomputed::default(),
        })
    }

    /// Parses `name+keyid+base64(type || public key)`; the key ID must match the
    /// one computed from the name, type and key.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        // The name has no '+' and the key ID is hex, so the first two '+' split the
        // fields; the base64 key may itself contain '+'.
        let mut fields = s.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(KeyError::MissingField);
        };
        validate_name(name)?;
        let found = parse_key_id(id_hex)?;

        let key = BASE64.decode(key_b64).map_err(|_| KeyError::KeyNotBase64)?;
        let (&type_byte, public_key) = key
            .split_first()
            .ok_or(KeyError::WrongKeyLength { length: 0 })?;
        let public_key: [u8; PUBLIC_KEY_LEN] = public_key
            .try_into()
            .map_err(|_| KeyError::WrongKeyLength { length: key.len() })?;
        let sig_type = SignatureType::from_byte(type_byte)?;

        let parsed = Self::new(name, sig_type, public_key)?;
        if parsed.key_id != found {
            return Err(KeyError::KeyIdMismatch {
                found,
                computed: parsed.key_id,
            });
        }
        Ok(parsed)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID, computed from name, type and key.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// What kind of signature this key verifies.
    pub fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.verifying_key.to_bytes()
    }

    /// The Ed25519 key, for verifying signatures.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying_key
    }

    /// The same key with a keyed verifier (crate::keyed), whose table its first check
    /// builds: for a key that checks many signatures, as a channel's parties and witnesses
    /// do in an audit.
    #[must_use]
    pub fn precomputed(mut self) -> Self {
        if self.table.0.is_none() {
            self.table = Precomputed(Some(Arc::new(KeyedVerifier::new(&self.verifying_key))));
        }
        self
    }

    /// Whether `signature` is this key's signature of `message`, under
    /// `ed25519_dalek::VerifyingKey::verify_strict`'s rules (through the precomputed table
    /// when there is one, which decides the same).
    pub fn verify_strict(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        match &self.table.0 {
            Some(table) => table.verify(message, signature),
            None => self
                .verifying_key
                .verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
                .is_ok(),
        }
    }

    /// The same name and key material for another signature type (and so another key ID).
    pub fn with_signature_type(&self, sig_type: SignatureType) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: key_id(&self.name, sig_type, self.verifying_key.as_bytes()),
            signature_type: sig_type,
            verifying_key: self.verifying_key,
            table: self.table.clone(),
        }
    }

    /// This key material under the name and signature type of `other` (a valid key, so
    /// its name needs no check): the log key for a sequencer's new entry key (spec 3.7).
    pub(crate) fn with_name_of(&self, other: &VerifierKey) -> VerifierKey {
        VerifierKey {
            name: other.name.clone(),
            key_id: key_id(
                &other.name,
                other.signature_type,
                self.verifying_key.as_bytes(),
            ),
            signature_type: other.signature_type,
            verifying_key: self.verifying_key,
            table: self.table.clone(),
        }
    }

    /// The same key material and type under another name (and so another key ID).
    pub fn with_name(&self, name: &str) -> Result<VerifierKey, KeyError> {
        validate_name(name)?;
        Ok(VerifierKey {
            name: name.to_string(),
            key_id: key_id(name, self.signature_type, self.verifying_key.as_bytes()),
            signature_type: self.signature_type,
            verifying_key: self.verifying_key,
            table: self.table.clone(),
        })
    }
}

/// Exactly 8 hex digits, either case. `u32::from_str_radix` alone would also
/// take a leading '+', so the digits are checked first.
fn parse_key_id(hex: &str) -> Result<u32, KeyError> {
    if hex.len() != KEY_ID_HEX_LEN || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError::MalformedKeyId);
    }
    u32::from_str_radix(hex, 16).map_err(|_| KeyError::MalformedKeyId)
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = [0u8; 1 + PUBLIC_KEY_LEN];
        key[0] = self.signature_type.to_byte();
        key[1..].copy_from_slice(self.verifying_key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(key)
        )
    }
}

impl core::str::FromStr for VerifierKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for VerifierKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for VerifierKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use super::*;

    #[test]
    fn serializes_as_the_key_string() {
        let public_key = ed25519_dalek::SigningKey::from_bytes(&[9; 32])
            .verifying_key()
            .to_bytes();
        let key =
            VerifierKey::new("example.org/k", SignatureType::CosignatureV1, public_key).unwrap();
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, format!("\"{key}\""));
        assert_eq!(serde_json::from_str::<VerifierKey>(&json).unwrap(), key);
        assert!(serde_json::from_str::<VerifierKey>("\"example.org/k+00000000+AQ==\"").is_err());
    }
}
