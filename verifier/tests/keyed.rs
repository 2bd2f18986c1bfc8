//! The keyed verifier (src/keyed.rs) decides exactly what
//! `ed25519_dalek::VerifyingKey::verify_strict` decides: on every C2SP CCTV edge-case
//! vector (small-order, mixed-order and non-canonical A and R), and on random signatures,
//! valid and mutated (a flipped bit, a non-canonical S, a small-order or mixed-order R).

use dyad_testkit::cctv_ed25519;
use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::keyed::KeyedVerifier;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use proptest::prelude::*;

fn strict(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
    key.verify_strict(message, &Signature::from_bytes(signature))
        .is_ok()
}

#[test]
fn agrees_with_verify_strict_on_every_cctv_vector() {
    let vectors = cctv_ed25519::vectors();
    assert!(vectors.len() > 900, "{} vectors", vectors.len());
    let (mut compared, mut accepted) = (0, 0);
    for v in &vectors {
        // A key that does not decompress is refused before any signature is checked.
        let Ok(key) = VerifyingKey::from_bytes(&v.key) else {
            continue;
        };
        let theirs = strict(&key, &v.message, &v.signature);
        let ours = KeyedVerifier::new(&key).verify(&v.message, &v.signature);
        assert_eq!(ours, theirs, "vector {} (flags {:?})", v.number, v.flags);
        compared += 1;
        accepted += usize::from(theirs);
    }
    // Both verdicts occur, and the non-canonical cases are among those compared.
    assert!(compared > 800, "{compared} compared");
    assert!(
        accepted > 0 && accepted < compared,
        "{accepted} of {compared} accepted"
    );
    let non_canonical_r = vectors
        .iter()
        .filter(|v| v.flags.iter().any(|f| f == "non_canonical_R"))
        .filter(|v| VerifyingKey::from_bytes(&v.key).is_ok())
        .count();
    assert!(non_canonical_r > 100, "{non_canonical_r}");
}

/// The small-order points' encodings (canonical and not), from the vectors' R values.
fn small_order_encodings() -> Vec<[u8; 32]> {
    let mut points: Vec<[u8; 32]> = cctv_ed25519::vectors()
        .iter()
        .filter(|v| v.flags.iter().any(|f| f == "low_order_R"))
        .map(|v| v.signature[..32].try_into().unwrap())
        .collect();
    points.sort();
    points.dedup();
    points
}

/// ℓ, the order of the base point, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// S + ℓ: the same scalar, non-canonically encoded (S < ℓ < 2^253, so it fits).
fn plus_ell(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(s[i]) + u16::from(ELL[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    None,
    FlipSignatureBit(usize),
    FlipMessageBit(usize),
    NonCanonicalS,
    SmallOrderR(usize),
    RandomSignature([u8; 32], [u8; 32]),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::None),
        (0usize..512).prop_map(Mutation::FlipSignatureBit),
        (0usize..256).prop_map(Mutation::FlipMessageBit),
        Just(Mutation::NonCanonicalS),
        any::<usize>().prop_map(Mutation::SmallOrderR),
        (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(r, s)| Mutation::RandomSignature(r, s)),
    ]
}

fn apply(m: &Mutation, message: &mut [u8], signature: &mut [u8; 64], small: &[[u8; 32]]) {
    match m {
        Mutation::None => {}
        Mutation::FlipSignatureBit(bit) => signature[bit / 8] ^= 1 << (bit % 8),
        Mutation::FlipMessageBit(bit) => {
            if !message.is_empty() {
                let at = (bit / 8) % message.len();
                message[at] ^= 1 << (bit % 8);
            }
        }
        Mutation::NonCanonicalS => {
            let s = plus_ell(&signature[32..]);
            signature[32..].copy_from_slice(&s);
        }
        Mutation::SmallOrderR(i) => signature[..32].copy_from_slice(&small[i % small.len()]),
        Mutation::RandomSignature(r, s) => {
            signature[..32].copy_from_slice(r);
            signature[32..].copy_from_slice(s);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn agrees_with_verify_strict_on_random_and_mutated_signatures(
        seed in any::<[u8; 32]>(),
        message in proptest::collection::vec(any::<u8>(), 0..300),
        m in mutation(),
    ) {
        let signing = SigningKey::from_bytes(&seed);
        let key = signing.verifying_key();
        let mut signature = signing.sign(&message).to_bytes();
        let mut message = message;
        apply(&m, &mut message, &mut signature, &small_order_encodings());
        let theirs = strict(&key, &message, &signature);
        prop_assert_eq!(KeyedVerifier::new(&key).verify(&message, &signature), theirs);
        if matches!(m, Mutation::None) {
            prop_assert!(theirs, "an unmutated signature verifies");
        }
        // Through a note verifier key, with and without its table.
        let vkey = VerifierKey::new("party", SignatureType::Ed25519, key.to_bytes()).unwrap();
        prop_assert_eq!(vkey.verify_strict(&message, &signature), theirs);
        prop_assert_eq!(vkey.clone().precomputed().verify_strict(&message, &signature), theirs);
        prop_assert_eq!(vkey.clone().precomputed(), vkey);
    }
}
