//! Variable-time multiplication of one fixed point by many scalars, for signature checks.
//!
//! A [`CombTable`] holds [d·2^(W·i)]P for every window i of a 256-bit scalar and every
//! digit 1 ≤ d ≤ 2^(W−1). A scalar written in signed base 2^W (digits in [−2^(W−1), 2^(W−1)))
//! is then the sum of one table point, or its negation, per nonzero digit: about 256/W
//! point additions and no doublings, against curve25519-dalek's `EdwardsBasepointTable`
//! (64 additions, 4 doublings and a constant-time scan of 8 points per addition) or a
//! double-scalar multiplication (about 256 doublings).
//!
//! Everything here is public data (keys, signatures, hashes of them), so the table is
//! indexed by the digit directly: no constant-time selection. Only curve25519-dalek's public
//! point arithmetic is used; the result is the same point whatever the method (the tests
//! below compare it with `Scalar * EdwardsPoint`; tests/keyed.rs compares the verdicts
//! with `verify_strict`).

use alloc::vec::Vec;

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;

/// Bits per window, one byte of the scalar: 2^(W−1) = 128 points per window, 33 windows,
/// 660 KiB per table, built with 4,224 point additions. Of W = 5 to 8, 8 checked
/// signatures fastest, in the appends of `dyad-bench` as on its own (BENCHMARKS.md); a
/// ninth bit would double the table for 3 fewer additions.
const W: usize = 8;
/// Points per window: the digits 1 ..= 2^(W−1).
const HALF: usize = 1 << (W - 1);
/// Windows in 256 bits, plus one for the last carry.
const WINDOWS: usize = 256_usize.div_ceil(W) + 1;

/// The multiples of one point that [`CombTable::mul`] adds up.
pub struct CombTable {
    /// `points[i * HALF + d − 1]` = [d·2^(W·i)]P.
    points: Vec<EdwardsPoint>,
}

impl CombTable {
    /// Computes the table for `p`: WINDOWS × HALF point additions (about 2 ms).
    pub fn new(p: &EdwardsPoint) -> Self {
        let mut points = Vec::with_capacity(WINDOWS * HALF);
        let mut base = *p;
        for _ in 0..WINDOWS {
            let mut multiple = base;
            for _ in 1..HALF {
                points.push(multiple);
                multiple += base;
            }
            // multiple = [2^(W−1)]base, the window's last point; twice it is the next base.
            points.push(multiple);
            base = multiple + multiple;
        }
        Self { points }
    }

    /// [scalar]P, in variable time.
    pub fn mul(&self, scalar: &Scalar) -> EdwardsPoint {
        let mut sum = EdwardsPoint::identity();
        for (window, digit) in signed_digits(scalar.as_bytes()).iter().enumerate() {
            let row = window * HALF;
            match *digit {
                0 => {}
                d if d > 0 => sum += &self.points[row + d as usize - 1],
                d => sum -= &self.points[row + d.unsigned_abs() as usize - 1],
            }
        }
        sum
    }
}

/// `bytes` (little-endian) as WINDOWS signed digits in [−2^(W−1), 2^(W−1)), least
/// significant first: their sum of d·2^(W·i) is the number `bytes` encodes. A window is
/// one byte (W = 8); the last one holds only the carry.
fn signed_digits(bytes: &[u8; 32]) -> [i16; WINDOWS] {
    let mut digits = [0i16; WINDOWS];
    let mut carry = 0i16;
    for (window, digit) in digits.iter_mut().enumerate() {
        let value = i16::from(bytes.get(window).copied().unwrap_or(0)) + carry;
        carry = i16::from(value >= HALF as i16);
        *digit = value - (carry << W);
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::{signed_digits, CombTable, HALF, W};
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
    use curve25519_dalek::scalar::Scalar;

    /// The table's product is the point `Scalar * EdwardsPoint` computes, for edge scalars
    /// (0, 1, ℓ − 1, powers of two, all digits at their extremes) and a spread of others,
    /// on the basepoint and on a point with a torsion component.
    #[test]
    fn the_product_is_the_point_dalek_computes() {
        let torsion = curve25519_dalek::edwards::CompressedEdwardsY([
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef,
            0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88,
            0x6d, 0x53, 0xfc, 0x05,
        ])
        .decompress()
        .expect("a point of order 8");
        let mixed = ED25519_BASEPOINT_POINT * Scalar::from(7u64) + torsion;
        let mut scalars = alloc::vec![Scalar::ZERO, Scalar::ONE, -Scalar::ONE];
        for bit in 0..253 {
            let mut b = [0u8; 32];
            b[bit / 8] = 1 << (bit % 8);
            scalars.push(Scalar::from_bytes_mod_order(b));
        }
        // Every window's digit at the boundary of the signed range, and on either side.
        for byte in [0x7f, 0x80, 0x81, 0xff] {
            scalars.push(Scalar::from_bytes_mod_order([byte; 32]));
        }
        for seed in 0u8..32 {
            scalars.push(Scalar::from_bytes_mod_order(core::array::from_fn(|i| {
                (i as u8)
                    .wrapping_mul(seed)
                    .wrapping_add(seed.rotate_left(3))
            })));
        }
        for point in [ED25519_BASEPOINT_POINT, -ED25519_BASEPOINT_POINT, mixed] {
            let table = CombTable::new(&point);
            for s in &scalars {
                assert_eq!(table.mul(s), point * s, "{:?}", s.as_bytes());
            }
        }
    }

    /// The digits are in range and add up to the number, for edge values and a spread of
    /// others (the high bit set, all ones, single bits).
    #[test]
    fn signed_digits_add_up_to_the_number() {
        let mut cases: alloc::vec::Vec<[u8; 32]> = alloc::vec![[0u8; 32], [0xff; 32]];
        for bit in 0..256 {
            let mut b = [0u8; 32];
            b[bit / 8] = 1 << (bit % 8);
            cases.push(b);
        }
        for seed in 0u8..64 {
            cases.push(core::array::from_fn(|i| {
                (i as u8).wrapping_mul(seed).wrapping_add(seed ^ 0x5a)
            }));
        }
        for bytes in cases {
            let digits = signed_digits(&bytes);
            // Add the digits back up, in 32-bit limbs with signed carries.
            let mut sum = [0i64; 9];
            for (i, d) in digits.iter().enumerate() {
                assert!(-(HALF as i16) <= *d && *d < HALF as i16, "{d}");
                let bit = i * W;
                sum[bit / 32] += i64::from(*d) << (bit % 32);
            }
            let mut carry = 0i64;
            let mut back = [0u8; 36];
            for (limb, value) in sum.iter().enumerate() {
                let v = value + carry;
                let low = v.rem_euclid(1 << 32);
                carry = (v - low) >> 32;
                back[limb * 4..limb * 4 + 4].copy_from_slice(&(low as u32).to_le_bytes());
            }
            assert_eq!(carry, 0);
            assert_eq!(&back[..32], &bytes[..]);
            assert_eq!(back[32..], [0u8; 4]);
        }
    }
}
