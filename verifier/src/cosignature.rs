//! C2SP tlog-cosignature `cosignature/v1`: timestamped Ed25519 cosignatures
//! (signature type 0x04).
//!
//! The signature bytes of a cosignature line are a `timestamped_signature`:
//! the timestamp as a big-endian u64, then the 64-byte Ed25519 signature over
//! [`signed_message`].

use alloc::format;
use alloc::vec::Vec;

/// Largest timestamp a cosignature may carry (tlog-cosignature: "MUST NOT exceed 2^63 - 1").
pub const MAX_TIMESTAMP: u64 = (1 << 63) - 1;

/// Length of a `timestamped_signature` for Ed25519: 8-byte timestamp, 64-byte signature.
pub const TIMESTAMPED_SIGNATURE_LEN: usize = 8 + 64;

/// The message a cosigner signs: `cosignature/v1\ntime <timestamp>\n` followed by
/// the checkpoint text (the note text, with its final newline, without signatures).
pub fn signed_message(timestamp: u64, checkpoint_text: &str) -> Vec<u8> {
    let mut message = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    message.extend_from_slice(checkpoint_text.as_bytes());
    message
}

/// Lays out a `timestamped_signature` (tlog-cosignature, "Format"): the bytes a
/// cosignature line carries after the key ID.
pub fn timestamped_signature(
    timestamp: u64,
    signature: &[u8; 64],
) -> [u8; TIMESTAMPED_SIGNATURE_LEN] {
    let mut out = [0u8; TIMESTAMPED_SIGNATURE_LEN];
    out[..8].copy_from_slice(&timestamp.to_be_bytes());
    out[8..].copy_from_slice(signature);
    out
}

/// Splits a `timestamped_signature` into timestamp and signature; `None` when the
/// length is not [`TIMESTAMPED_SIGNATURE_LEN`]. The timestamp is not range-checked here.
pub fn split_timestamped_signature(bytes: &[u8]) -> Option<(u64, [u8; 64])> {
    let bytes: &[u8; TIMESTAMPED_SIGNATURE_LEN] = bytes.try_into().ok()?;
    let (timestamp, signature) = bytes.split_at(8);
    Some((
        u64::from_be_bytes(timestamp.try_into().ok()?),
        signature.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout_follows_the_spec_example() {
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let message = signed_message(1679315147, text);
        let expected = format!("cosignature/v1\ntime 1679315147\n{text}");
        assert_eq!(message, expected.as_bytes());
    }

    #[test]
    fn timestamped_signature_round_trips() {
        let signature = [7u8; 64];
        let bytes = timestamped_signature(MAX_TIMESTAMP, &signature);
        assert_eq!(
            split_timestamped_signature(&bytes),
            Some((MAX_TIMESTAMP, signature))
        );
        assert_eq!(split_timestamped_signature(&bytes[1..]), None);
    }
}
