//! Ed25519 (RFC 8032, pure) with strict verification, the same rules as libsodium:
//!
//! - the public key A and the signature's R must be canonical encodings (y < p);
//! - A and R must not have small order (weak keys and the trivial forgeries they allow);
//! - S must be reduced (S < L), so a signature cannot be re-encoded into a second valid one.
//!
//! A is checked once, when the key is decoded ([`parse_public_key`]); R and S are checked on
//! their bytes ([`is_canonical_y`], [`is_small_order_encoding`], [`is_reduced_scalar`]), and
//! then the cofactorless equation R = [S]B − [k]A decides, the recomputed R compared with the
//! signature's byte for byte. That is what ed25519-dalek's `verify_strict` decides, without
//! decompressing R only to learn its order (a field square root, the costliest step after the
//! equation itself in the browser build); the tests hold the two to the same verdicts.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};

use crate::error::{Error, ErrorCode, Result};

/// True when the 32-byte point encoding has y < p = 2^255 − 19 (the sign bit is ignored).
///
/// y ≥ p only for y = p + k with k in 0..19: bytes 1..=30 all 0xff, the low 7 bits of byte 31
/// set, and byte 0 ≥ 0xed.
pub(super) fn is_canonical_y(bytes: &[u8; 32]) -> bool {
    let high_all_ones = bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff);
    !(high_all_ones && bytes[0] >= 0xed)
}

/// Decodes and checks a public key: canonical, a curve point, not of small order. The result
/// is kept by [`super::PublicKey`], so the point is decompressed once per key, not per
/// signature.
pub(super) fn parse_public_key(bytes: &[u8]) -> Result<VerifyingKey> {
    let arr: &[u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::new(ErrorCode::InvalidKey, "Ed25519 public key must be 32 bytes"))?;
    if !is_canonical_y(arr) {
        return Err(Error::new(
            ErrorCode::InvalidKey,
            "Ed25519 public key is not a canonical encoding",
        ));
    }
    let k = VerifyingKey::from_bytes(arr).map_err(|_| {
        Error::new(
            ErrorCode::InvalidKey,
            "Ed25519 public key is not a curve point",
        )
    })?;
    if k.is_weak() {
        return Err(Error::new(
            ErrorCode::InvalidKey,
            "Ed25519 public key has small order",
        ));
    }
    Ok(k)
}

/// Strict RFC 8032 verification of a 64-byte signature (R ‖ S) under a key from
/// [`parse_public_key`].
pub(super) fn verify(k: &VerifyingKey, message: &[u8], sig: &[u8]) -> Result<()> {
    let bad = || {
        Error::new(
            ErrorCode::SignatureInvalid,
            "Ed25519 signature does not verify",
        )
    };
    let sig: &[u8; 64] = sig.try_into().map_err(|_| {
        Error::new(
            ErrorCode::SignatureInvalid,
            "Ed25519 signature must be 64 bytes",
        )
    })?;
    if !is_strict_encoding(sig) {
        return Err(bad());
    }
    // Then the cofactorless equation R == [S]B - [k]A: the host's where one is installed,
    // else dalek's (an R that is no curve point never equals a recomputed one).
    #[cfg(feature = "host-ed25519")]
    if let Some(host) = host::HOST.get() {
        match host(k.as_bytes(), message, sig) {
            Some(true) => return Ok(()),
            Some(false) => return Err(bad()),
            None => {}
        }
    }
    k.verify(message, &Signature::from_bytes(sig))
        .map_err(|_| bad())
}

/// What verify_strict adds to the bare equation, on the signature's bytes (A was checked when
/// the key was decoded): R canonical and not of small order, S < L. The equation of dalek's
/// `verify` would refuse a non-canonical R and S ≥ L itself; a host's need not.
pub(super) fn is_strict_encoding(sig: &[u8; 64]) -> bool {
    let mut r = [0u8; 32];
    r.copy_from_slice(&sig[..32]);
    let mut s = [0u8; 32];
    s.copy_from_slice(&sig[32..]);
    is_canonical_y(&r) && !is_small_order_encoding(&r) && is_reduced_scalar(&s)
}

/// The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L_BYTES: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// S < L (little-endian comparison).
pub(super) fn is_reduced_scalar(s: &[u8; 32]) -> bool {
    for i in (0..32).rev() {
        if s[i] != L_BYTES[i] {
            return s[i] < L_BYTES[i];
        }
    }
    false
}

/// True when a canonical encoding (y < p) is a point of small order, with either sign bit:
/// y is 1 (order 1), p - 1 (order 2), 0 (order 4) or one of the two y of the order-8 points.
/// A decoder that accepts the sign bit with x = 0 (as curve25519-dalek does) maps those to the
/// same small-order points, so the sign bit is ignored.
pub(super) fn is_small_order_encoding(p: &[u8; 32]) -> bool {
    const Y: [[u8; 32]; 5] = [
        [
            1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0,
        ],
        [
            0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0x7f,
        ],
        [0; 32],
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef,
            0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88,
            0x6d, 0x53, 0xfc, 0x05,
        ],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10,
            0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77,
            0x92, 0xac, 0x03, 0x7a,
        ],
    ];
    let mut y = *p;
    y[31] &= 0x7f;
    Y.contains(&y)
}

/// The host's Ed25519 equation (feature `host-ed25519`): where a faster way to decide the bare
/// equation exists (cairn-wasm installs one at start: keys used again verified with their
/// precomputed multiples, [`crate::crypto::prepared`], and node:crypto in Node), cairn checks
/// the encoding rules itself and lets the host decide the equation. Set once per process.
#[cfg(feature = "host-ed25519")]
pub mod host {
    use once_cell::race::OnceBox;

    /// The cofactorless equation `R == [S]B - [SHA-512(R || A || M)]A` on the raw key, message
    /// and signature: `Some(verdict)`, or `None` when the host cannot decide (cairn then uses
    /// ed25519-dalek). Called only for a canonical, non-small-order A and R and S < L.
    pub type HostEquation = fn(&[u8; 32], &[u8], &[u8; 64]) -> Option<bool>;

    pub(super) static HOST: OnceBox<HostEquation> = OnceBox::new();

    /// Installs the host's equation; false when one was installed already (it stays).
    pub fn set_host_equation(f: HostEquation) -> bool {
        HOST.set(alloc::boxed::Box::new(f)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p_plus(k: u8, sign: bool) -> [u8; 32] {
        let mut b = [0xffu8; 32];
        b[0] = 0xed + k;
        b[31] = if sign { 0xff } else { 0x7f };
        b
    }

    #[test]
    fn small_order_encodings_are_the_points_dalek_calls_small_order() {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        // Every listed y, with either sign bit, decodes to a small-order point...
        let mut listed = 0;
        for y0 in 0u8..=255 {
            let mut b = [0u8; 32];
            b[0] = y0;
            for sign in [0u8, 0x80] {
                b[31] = sign;
                if let Some(p) = CompressedEdwardsY(b).decompress() {
                    assert_eq!(p.is_small_order(), is_small_order_encoding(&b), "{b:?}");
                    listed += usize::from(is_small_order_encoding(&b));
                }
            }
        }
        assert!(listed >= 4); // y = 0 and y = 1, both signs
        for y in [
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        ] {
            let mut b: [u8; 32] = hex::decode(y).unwrap().try_into().unwrap();
            for sign in [0u8, 0x80] {
                b[31] = (b[31] & 0x7f) | sign;
                let p = CompressedEdwardsY(b).decompress().unwrap();
                assert!(p.is_small_order() && is_small_order_encoding(&b));
            }
        }
        // ...and random large-order points are not listed.
        let sk = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        assert!(!is_small_order_encoding(sk.verifying_key().as_bytes()));
    }

    #[test]
    fn reduced_scalar_boundary() {
        let mut l = L_BYTES;
        assert!(!is_reduced_scalar(&l));
        l[0] -= 1;
        assert!(is_reduced_scalar(&l));
        assert!(is_reduced_scalar(&[0; 32]));
        assert!(!is_reduced_scalar(&[0xff; 32]));
        let mut l1 = L_BYTES;
        l1[0] += 1;
        assert!(!is_reduced_scalar(&l1));
    }

    #[test]
    fn canonical_boundary() {
        // p − 1 is canonical, p .. p + 18 are not, with either sign bit.
        let mut below = p_plus(0, false);
        below[0] = 0xec;
        assert!(is_canonical_y(&below));
        for k in 0..19 {
            assert!(!is_canonical_y(&p_plus(k, false)));
            assert!(!is_canonical_y(&p_plus(k, true)));
        }
        assert!(is_canonical_y(&[0u8; 32]));
        let mut hi = [0xffu8; 32];
        hi[30] = 0xfe;
        assert!(is_canonical_y(&hi));
    }

    #[test]
    fn non_canonical_keys_rejected_even_when_dalek_accepts_them() {
        // At least one y = p + k decodes to a large-order point that dalek would accept.
        let mut accepted_by_dalek = 0;
        for k in 0..19u8 {
            for sign in [false, true] {
                let b = p_plus(k, sign);
                if let Ok(vk) = VerifyingKey::from_bytes(&b) {
                    if !vk.is_weak() {
                        accepted_by_dalek += 1;
                    }
                }
                assert_eq!(
                    parse_public_key(&b).unwrap_err().code(),
                    ErrorCode::InvalidKey
                );
            }
        }
        assert!(accepted_by_dalek > 0);
    }

    /// `verify` (encoding checks, then the bare equation), and the same through a
    /// [`PreparedEd25519Key`](crate::crypto::prepared::PreparedEd25519Key), give
    /// `verify_strict`'s verdict on valid signatures and on every kind of bad one: each bit
    /// flipped, R of small order with either sign bit, R non-canonical, R not a point or a
    /// point with a torsion part added, S not reduced.
    #[test]
    fn verdicts_are_verify_stricts() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        use curve25519_dalek::edwards::CompressedEdwardsY;
        use sha2::Digest as _;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut cases, mut valid) = (0, 0);
        for seed in 0..4u8 {
            let sk = ed25519_dalek::SigningKey::from_bytes(&[seed + 1; 32]);
            let vk = parse_public_key(sk.verifying_key().as_bytes()).unwrap();
            let msg = [seed; 40];
            let good = ed25519_dalek::Signer::sign(&sk, &msg).to_bytes();
            let mut sigs = vec![good];
            for bit in 0..512 {
                let mut s = good;
                s[bit / 8] ^= 1 << (bit % 8);
                sigs.push(s);
            }
            let small: Vec<[u8; 32]> = EIGHT_TORSION.iter().map(|t| t.compress().0).collect();
            for r in small
                .iter()
                .copied()
                .chain((0..19).map(|k| p_plus(k, false)))
            {
                for sign in [0u8, 0x80] {
                    let mut s = good;
                    s[..32].copy_from_slice(&r);
                    s[31] = (s[31] & 0x7f) | sign;
                    sigs.push(s);
                }
            }
            let r_point = CompressedEdwardsY(good[..32].try_into().unwrap())
                .decompress()
                .unwrap();
            for t in EIGHT_TORSION.iter().skip(1) {
                let mut s = good;
                s[..32].copy_from_slice(&(r_point + t).compress().0);
                sigs.push(s);
            }
            for _ in 0..64 {
                let mut s = good;
                for chunk in s[..32].chunks_mut(8) {
                    chunk.copy_from_slice(&next().to_le_bytes());
                }
                sigs.push(s);
            }
            // The key's owner can make R the identity and S = k·a, which satisfies the bare
            // equation; only the small-order check refuses it.
            let identity = EIGHT_TORSION[0].compress().0;
            let k = curve25519_dalek::Scalar::from_bytes_mod_order_wide(
                &sha2::Sha512::new()
                    .chain_update(identity)
                    .chain_update(sk.verifying_key().as_bytes())
                    .chain_update(msg)
                    .finalize()
                    .into(),
            );
            let mut forged = [0u8; 64];
            forged[..32].copy_from_slice(&identity);
            forged[32..].copy_from_slice((k * sk.to_scalar()).as_bytes());
            assert!(vk.verify(&msg, &Signature::from_bytes(&forged)).is_ok());
            sigs.push(forged);
            // S + L: the same scalar, not reduced.
            let mut s_plus_l = good;
            let mut carry = 0u16;
            for i in 0..32 {
                let v = u16::from(s_plus_l[32 + i]) + u16::from(L_BYTES[i]) + carry;
                s_plus_l[32 + i] = v as u8;
                carry = v >> 8;
            }
            sigs.push(s_plus_l);
            // Each encoding rule on its own, as a host's equation (which may reduce S and
            // compare points, not bytes) relies on them: S + L, R = p + 1 (the identity's y,
            // not canonical) and R the identity are refused before any equation.
            let mut r_p_plus_1 = good;
            r_p_plus_1[..32].copy_from_slice(&p_plus(1, false));
            assert!(is_strict_encoding(&good));
            for bad in [s_plus_l, r_p_plus_1, forged] {
                assert!(!is_strict_encoding(&bad), "{bad:?}");
            }
            let prepared = crate::crypto::prepared::PreparedEd25519Key::new(vk.as_bytes()).unwrap();
            for sig in &sigs {
                let strict = vk.verify_strict(&msg, &Signature::from_bytes(sig)).is_ok();
                assert_eq!(verify(&vk, &msg, sig).is_ok(), strict, "{sig:?}");
                assert_eq!(prepared.verify(&msg, sig).is_ok(), strict, "{sig:?}");
                cases += 1;
                valid += usize::from(strict);
            }
        }
        assert_eq!(valid, 4, "only the untouched signatures verify");
        assert!(cases > 2000, "{cases}");
    }

    #[test]
    fn small_order_keys_rejected() {
        // The identity (y = 1) and the point of order 2 (y = −1).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        for k in [identity, minus_one, [0u8; 32]] {
            assert_eq!(
                parse_public_key(&k).unwrap_err().code(),
                ErrorCode::InvalidKey
            );
        }
    }
}
