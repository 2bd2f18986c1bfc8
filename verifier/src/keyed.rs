//! Strict Ed25519 verification for a key known in advance.
//!
//! Every signature dyad checks is by one of a handful of keys a channel names in its
//! genesis, so what `ed25519_dalek::VerifyingKey::verify_strict` recomputes on every call
//! can be computed once per key: a table of multiples of −A (crate::comb, 660 KiB), so that
//! [S]B − [k]A is two table-driven sums of about 32 points each (the basepoint's table is
//! built once for all keys), instead of a double-scalar multiplication with its 256
//! doublings; and whether A has small order.
//!
//! [`KeyedVerifier::verify`] decides exactly what `verify_strict` decides (ed25519-dalek
//! 2.2, `verifying.rs`): S must be canonical (< ℓ); R must decompress and, like A, must not
//! have small order; k = SHA-512(R ‖ A ‖ M) over the encodings as given; and the signature
//! holds when the encoding of [S]B − [k]A equals R's bytes. That last comparison is made
//! without an encoding (a field inversion): the computed point must equal the decompressed
//! R, and R's encoding must be the canonical one (y < p; the other non-canonical form, x = 0
//! with the sign bit set, only occurs for the identity and the point of order 2, refused
//! as small-order above). For a valid point P, encode(P) = R ⇔ P = decode(R) and
//! encode(decode(R)) = R, so the two comparisons agree.
//!
//! tests/keyed.rs checks the equivalence against `verify_strict` on the C2SP CCTV edge-case
//! vectors and on random and mutated signatures; fuzz/fuzz_targets/keyed_verify.rs does too.

use alloc::boxed::Box;
use core::fmt;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::VerifyingKey;
use once_cell::race::OnceBox;
use sha2::{Digest, Sha512};

use crate::comb::CombTable;

/// The basepoint's table, computed once for every key's verifier.
static BASEPOINT: OnceBox<CombTable> = OnceBox::new();

fn basepoint() -> &'static CombTable {
    BASEPOINT.get_or_init(|| Box::new(CombTable::new(&ED25519_BASEPOINT_POINT)))
}

/// One public key with its precomputed verification table.
pub struct KeyedVerifier {
    /// A's encoding as the key was given: k hashes these bytes, as `verify_strict` does.
    encoded: [u8; 32],
    /// A has small order: `verify_strict` refuses every signature by such a key.
    small_order: bool,
    /// −A, the point the table is built from.
    minus_a_point: EdwardsPoint,
    /// The multiples of −A, for a fixed-base multiplication by k: built by the first check,
    /// so that holding a verifier (a store's parties' keys, opened for any command) costs
    /// nothing until it is used.
    minus_a: OnceBox<CombTable>,
}

impl KeyedVerifier {
    /// A verifier for `key`. Its table (4,224 point additions, about 2 ms) is built by the
    /// first check: worth it for a key that checks more than about a hundred signatures.
    pub fn new(key: &VerifyingKey) -> Self {
        let a: EdwardsPoint = key.to_edwards();
        Self {
            encoded: key.to_bytes(),
            small_order: a.is_small_order(),
            minus_a_point: -a,
            minus_a: OnceBox::new(),
        }
    }

    fn minus_a(&self) -> &CombTable {
        self.minus_a
            .get_or_init(|| Box::new(CombTable::new(&self.minus_a_point)))
    }

    /// The key's encoding as given.
    pub fn key_bytes(&self) -> &[u8; 32] {
        &self.encoded
    }

    /// Whether `signature` is a valid signature of `message` by this key, decided exactly as
    /// `VerifyingKey::verify_strict` decides it.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let (r_bytes, s_bytes) = split(signature);
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
            return false;
        };
        let Some(r) = CompressedEdwardsY(r_bytes).decompress() else {
            return false;
        };
        if r.is_small_order() || self.small_order {
            return false;
        }
        let mut hash = Sha512::new();
        hash.update(r_bytes);
        hash.update(self.encoded);
        hash.update(message);
        let k = Scalar::from_hash(hash);
        let expected = basepoint().mul(&s) + self.minus_a().mul(&k);
        encodes_as(&expected, &r, &r_bytes)
    }
}

impl fmt::Debug for KeyedVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedVerifier")
            .field("key", &self.encoded)
            .finish_non_exhaustive()
    }
}

fn split(signature: &[u8; 64]) -> ([u8; 32], [u8; 32]) {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&signature[..32]);
    s.copy_from_slice(&signature[32..]);
    (r, s)
}

/// Whether `point`'s encoding is `r_bytes`, given `r`, their decompression, without
/// encoding `point`: the same point, and `r_bytes` its canonical encoding.
fn encodes_as(point: &EdwardsPoint, r: &EdwardsPoint, r_bytes: &[u8; 32]) -> bool {
    y_is_canonical(r_bytes) && point == r
}

/// Whether the y coordinate encoded in `point` (its low 255 bits) is below p = 2^255 − 19:
/// the 19 encodings from p to 2^255 − 1 are the non-canonical ones (RFC 8032 section 5.1.3).
fn y_is_canonical(point: &[u8; 32]) -> bool {
    let top = point[31] & 0x7f == 0x7f;
    let middle = point[1..31].iter().all(|b| *b == 0xff);
    !(top && middle && point[0] >= 0xed)
}

#[cfg(test)]
mod tests {
    use super::{encodes_as, y_is_canonical};
    use curve25519_dalek::edwards::CompressedEdwardsY;

    #[test]
    fn the_nineteen_encodings_at_or_above_p_are_not_canonical() {
        let mut y = [0xffu8; 32];
        y[31] = 0x7f;
        for low in 0u8..=255 {
            y[0] = low;
            assert_eq!(y_is_canonical(&y), low < 0xed, "{low:#x}");
            let mut signed = y;
            signed[31] |= 0x80;
            assert_eq!(y_is_canonical(&signed), low < 0xed, "sign bit, {low:#x}");
        }
        let mut below = y;
        below[30] = 0xfe;
        assert!(y_is_canonical(&below));
    }

    /// Every encoding whose y is at or above p that decompresses (y + p for y < 19, both
    /// signs): the comparison without encoding says what comparing encodings says.
    #[test]
    fn comparing_points_agrees_with_comparing_encodings_on_non_canonical_y() {
        let mut decompressed = 0;
        for y in 0u8..19 {
            for sign in [0u8, 0x80] {
                let mut bytes = [0xffu8; 32];
                bytes[0] = 0xed + y;
                bytes[31] = 0x7f | sign;
                let Some(r) = CompressedEdwardsY(bytes).decompress() else {
                    continue;
                };
                decompressed += 1;
                assert_eq!(encodes_as(&r, &r, &bytes), r.compress().0 == bytes);
                assert!(!encodes_as(&r, &r, &bytes), "{bytes:?} is not canonical");
                let canonical = r.compress().0;
                assert!(encodes_as(&r, &r, &canonical));
            }
        }
        assert!(decompressed > 4, "{decompressed} of 38 decompress");
    }
}
