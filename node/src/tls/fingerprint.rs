//! How people and tools name a node's certificate (spec/node.md 9.2): its fingerprint
//! (SHA-256 of the DER, as `openssl x509 -fingerprint -sha256` prints it) and its pin
//! (SHA-256 of the SubjectPublicKeyInfo, in curl's `--pinnedpubkey` format).

use base64::Engine;
use sha2::{Digest, Sha256};

use super::binding::{certificate_spki, BindingError};

/// The prefix of a pin, as curl writes it.
pub const PIN_PREFIX: &str = "sha256//";

/// SHA-256 of the certificate's DER encoding.
pub fn fingerprint(certificate_der: &[u8]) -> [u8; 32] {
    Sha256::digest(certificate_der).into()
}

/// The fingerprint as colon-separated uppercase hex pairs (OpenSSL's form).
pub fn fingerprint_text(certificate_der: &[u8]) -> String {
    let hex = hex::encode_upper(fingerprint(certificate_der));
    let pairs: Vec<&str> = (0..hex.len()).step_by(2).map(|i| &hex[i..i + 2]).collect();
    pairs.join(":")
}

/// SHA-256 of a SubjectPublicKeyInfo (DER): what a pin holds.
pub fn spki_hash(spki_der: &[u8]) -> [u8; 32] {
    Sha256::digest(spki_der).into()
}

/// The pin of a certificate: `sha256//` and base64 of SHA-256 of its SPKI.
pub fn pin(certificate_der: &[u8]) -> Result<String, BindingError> {
    Ok(pin_text(&spki_hash(&certificate_spki(certificate_der)?)))
}

/// A pin's text from its hash.
pub fn pin_text(hash: &[u8; 32]) -> String {
    format!(
        "{PIN_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// A pin's hash from its text; `None` unless it is exactly `sha256//` and the canonical
/// base64 of 32 bytes.
pub fn parse_pin(text: &str) -> Option<[u8; 32]> {
    let b64 = text.strip_prefix(PIN_PREFIX)?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let hash = <[u8; 32]>::try_from(bytes.as_slice()).ok()?;
    (pin_text(&hash) == text).then_some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_only_in_their_canonical_form() {
        let text = pin_text(&[7; 32]);
        assert_eq!(parse_pin(&text), Some([7; 32]));
        assert_eq!(parse_pin(&text[1..]), None);
        assert_eq!(parse_pin(&text.replace("sha256", "sha384")), None);
        assert_eq!(parse_pin("sha256//AAAA"), None);
        assert_eq!(parse_pin(&format!("{text} ")), None);
    }

    #[test]
    fn the_fingerprint_text_is_colon_separated_pairs() {
        let t = fingerprint_text(b"");
        assert!(t.starts_with("E3:B0:C4:42"), "{t}");
        assert_eq!(t.len(), 32 * 3 - 1);
    }
}
