//! Verifying many signatures at once.
//!
//! Ed25519 signatures are checked together with one randomised batch equation
//!
//! ```text
//! [-(Σ zᵢ·sᵢ)]·B + Σ zᵢ·Rᵢ + Σ (zᵢ·kᵢ)·Aᵢ == 0        kᵢ = SHA-512(Rᵢ ‖ Aᵢ ‖ Mᵢ) mod L
//! ```
//!
//! one multiscalar multiplication for the whole batch (the terms of a key used several times
//! are merged, so a batch by one issuer costs about one point per signature). The strict
//! rules of single verification are applied to every item first, separately, as
//! `verify_strict` applies them: A canonical and not of small order (checked when the key was
//! decoded), R canonical and not of small order, S < L. The equation itself is the cofactorless
//! one single verification uses. The zᵢ are 128-bit, odd, and derived from a hash of the whole
//! batch (no randomness needed, the same verdict every time).
//!
//! When the equation fails, every Ed25519 item is verified on its own, so the error names the
//! first bad item, exactly as a loop of single verifications would. Other algorithms (ML-DSA,
//! hybrids, round-3 Dilithium) have no batch equation here and are verified one by one.
//!
//! Equivalence with single verification: an item single verification accepts passes the
//! equation, and an item it rejects for an encoding rule is rejected before it. What is left is
//! a signature whose check fails only by a torsion point (it needs a key or R with a small-order
//! component, which only the holder of the private key can produce): one such item alone always
//! fails the equation (an odd zᵢ cannot cancel a torsion point of order 2, 4 or 8), but two
//! crafted together can cancel with probability about 1/4 per attempt. Such a batch then
//! accepts what single verification refuses, and only signatures their own signer chose to
//! break that way; callers that must match single verification bit for bit on adversarial
//! signers verify one at a time.

use alloc::vec::Vec;
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest as _, Sha512};

use super::{ed25519, DecodedKey, PublicKey, Signature};
use crate::error::{Error, ErrorCode, Result};

/// One signature of a batch: the key, the message, the FIPS 204 context (ML-DSA only) and the
/// signature.
#[derive(Clone, Copy)]
pub struct BatchItem<'a> {
    /// The public key.
    pub key: &'a PublicKey,
    /// The signed message.
    pub message: &'a [u8],
    /// The FIPS 204 context (ignored by Ed25519).
    pub context: &'a [u8],
    /// The signature.
    pub signature: &'a Signature,
}

/// A failed batch: the index of the first item that does not verify, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFailure {
    /// Index of the first bad item.
    pub index: usize,
    /// The error single verification gives for it.
    pub error: Error,
}

/// An Ed25519 item that passed the encoding rules: its parts for the equation.
struct Prepared {
    index: usize,
    key: usize,
    r: EdwardsPoint,
    /// R as the signature encodes it (what the coefficients' seed hashes: compressing `r`
    /// again would cost a field inversion per item).
    r_bytes: [u8; 32],
    s: Scalar,
    k: Scalar,
}

/// Verifies every item; Ed25519 items through one batch equation (see the module docs).
/// Returns the first item (in input order) that does not verify, with the error a single
/// verification of it gives.
///
/// ```
/// # #[cfg(feature = "std")] {
/// use cairn_core::crypto::{Algorithm, SigningKey, batch::{verify_batch, BatchItem}};
/// let sk = SigningKey::from_seed(Algorithm::Ed25519, &[3; 32]);
/// let msgs: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 10]).collect();
/// let sigs: Vec<_> = msgs.iter().map(|m| sk.sign(m, b"")).collect::<Result<_, _>>()?;
/// let items: Vec<_> = msgs.iter().zip(&sigs)
///     .map(|(m, s)| BatchItem { key: sk.public_key(), message: m, context: b"", signature: s })
///     .collect();
/// assert!(verify_batch(&items).is_ok());
/// let mut bad = items.clone();
/// bad[5].message = b"other";
/// assert_eq!(verify_batch(&bad).unwrap_err().index, 5);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_batch(items: &[BatchItem<'_>]) -> core::result::Result<(), BatchFailure> {
    let fail = |index: usize, error: Error| BatchFailure { index, error };
    let mut first_bad: Option<BatchFailure> = None;
    // Distinct Ed25519 keys (by bytes) and the prepared items.
    let mut keys: Vec<(&[u8], EdwardsPoint)> = Vec::new();
    let mut prepared: Vec<Prepared> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match (&item.key.decoded, item.signature.alg == item.key.alg) {
            (DecodedKey::Ed25519(vk), true) => match prepare(item, vk) {
                Ok(parts) => add_prepared(&mut keys, &mut prepared, index, item, vk, parts),
                Err(e) => {
                    // Everything before it still has to be checked to name the first bad one;
                    // nothing after it matters. Stop collecting.
                    first_bad = Some(fail(index, e));
                    break;
                }
            },
            _ => {
                if let Err(e) = item.key.verify(item.message, item.context, item.signature) {
                    first_bad = Some(fail(index, e));
                    break;
                }
            }
        }
    }
    if let Some(bad) = first_bad {
        // Items before the bad one may be bad too: check the Ed25519 ones (the others were
        // verified in order already) one by one, so the first is named.
        for p in prepared.iter().filter(|p| p.index < bad.index) {
            let item = &items[p.index];
            if let Err(e) = item.key.verify(item.message, item.context, item.signature) {
                return Err(fail(p.index, e));
            }
        }
        return Err(bad);
    }
    if let [p] = prepared.as_slice() {
        // One signature: its own verification is cheaper than a three-point equation.
        let item = &items[p.index];
        return item
            .key
            .verify(item.message, item.context, item.signature)
            .map_err(|e| fail(p.index, e));
    }
    if prepared.is_empty() || equation_holds(&prepared, &keys) {
        return Ok(());
    }
    for p in &prepared {
        let item = &items[p.index];
        if let Err(e) = item.key.verify(item.message, item.context, item.signature) {
            return Err(fail(p.index, e));
        }
    }
    // The equation failed, yet every item verifies alone: impossible for honest inputs (the
    // equation is implied by the single ones), so refuse rather than guess.
    Err(fail(
        0,
        Error::new(
            ErrorCode::SignatureInvalid,
            "Ed25519 batch equation failed although each signature verifies",
        ),
    ))
}

/// Every item's verdict, each the error single verification gives for it or `Ok`. Ed25519
/// items that pass the encoding rules are checked through the batch equation; when it fails,
/// halves are checked by equations of their own while that pays, and what no equation clears
/// is checked alone. The search is bounded: equations over at most three times the batch, then
/// single checks (in a batch of 64, one bad signature costs at most 124 more signatures in
/// equations and two single checks, two bad ones at most four single checks), where
/// [`verify_batch`] names only the first bad item and checks every item before it alone. For a verifier answering many independent requests at once (a server
/// checking its clients' proofs of possession), where a client sending bad signatures must not
/// make the others' checks cost much more than checking each alone.
///
/// What the module docs say of the equation holds for each half it accepts: items accepted
/// there are accepted as a group.
///
/// ```
/// # #[cfg(feature = "std")] {
/// use cairn_core::crypto::{Algorithm, SigningKey, batch::{verify_each, BatchItem}};
/// let sk = SigningKey::from_seed(Algorithm::Ed25519, &[3; 32]);
/// let msgs: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 10]).collect();
/// let sigs: Vec<_> = msgs.iter().map(|m| sk.sign(m, b"")).collect::<Result<_, _>>()?;
/// let mut items: Vec<_> = msgs.iter().zip(&sigs)
///     .map(|(m, s)| BatchItem { key: sk.public_key(), message: m, context: b"", signature: s })
///     .collect();
/// items[2].message = b"other";
/// items[6].message = b"another";
/// let verdicts = verify_each(&items);
/// let bad: Vec<usize> = (0..8).filter(|&i| verdicts[i].is_err()).collect();
/// assert_eq!(bad, [2, 6]);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_each(items: &[BatchItem<'_>]) -> Vec<Result<()>> {
    let mut keys: Vec<(&[u8], EdwardsPoint)> = Vec::new();
    let mut prepared: Vec<Prepared> = Vec::with_capacity(items.len());
    let mut verdicts = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        verdicts.push(
            match (&item.key.decoded, item.signature.alg == item.key.alg) {
                (DecodedKey::Ed25519(vk), true) => prepare(item, vk)
                    .map(|parts| add_prepared(&mut keys, &mut prepared, index, item, vk, parts)),
                _ => item.key.verify(item.message, item.context, item.signature),
            },
        );
    }
    settle(items, &prepared, &keys, &mut verdicts);
    verdicts
}

/// Sets the verdicts of `prepared` (all `Ok` on entry): all accepted when the equation holds
/// for the whole batch; otherwise the bad ones are searched for ([`Search`]).
fn settle(
    items: &[BatchItem<'_>],
    prepared: &[Prepared],
    keys: &[(&[u8], EdwardsPoint)],
    verdicts: &mut [Result<()>],
) {
    let mut search = Search {
        items,
        keys,
        verdicts,
        budget: 3 * prepared.len(),
    };
    match prepared {
        [] => {}
        [_] => search.one_by_one(prepared),
        _ if equation_holds(prepared, keys) => {}
        _ => search.bad_in(prepared),
    }
}

/// The search for the bad signatures of a batch whose equation failed: halves checked by
/// equations of their own while that pays, single verification for what is left.
///
/// Its cost is bounded whatever the signatures: equations over at most three times as many
/// signatures as the batch holds (the `budget`) on top of the failed one, then single
/// verification of the signatures no equation cleared. The items were prepared once (R
/// decompressed, hashed); an equation only costs its multiscalar multiplication. In a batch of
/// 64 (the test below counts them): one bad signature costs equations over at most 124 more
/// signatures (a half, and at the levels where that half failed, the other half too) and two
/// single checks; two bad ones at most four single checks; when many are bad the budget runs
/// out and the rest is checked alone, as it would be unbatched, after equations over at most
/// four times the batch.
struct Search<'s, 'a> {
    items: &'s [BatchItem<'a>],
    keys: &'s [(&'a [u8], EdwardsPoint)],
    verdicts: &'s mut [Result<()>],
    /// Signatures the search may still put through equations.
    budget: usize,
}

impl Search<'_, '_> {
    /// Single verification of every item of `part`.
    fn one_by_one(&mut self, part: &[Prepared]) {
        #[cfg(all(test, feature = "std"))]
        tests::SINGLES.with(|t| t.set(t.get() + part.len()));
        for p in part {
            let item = &self.items[p.index];
            self.verdicts[p.index] = item.key.verify(item.message, item.context, item.signature);
        }
    }

    /// Whether the equation holds for `part`, paid from the budget.
    fn holds(&mut self, part: &[Prepared]) -> bool {
        self.budget -= part.len();
        equation_holds(part, self.keys)
    }

    /// `part` holds at least one bad signature.
    fn bad_in(&mut self, part: &[Prepared]) {
        let (left, right) = part.split_at(part.len() / 2);
        if part.len() <= 2 || self.budget < left.len() {
            return self.one_by_one(part);
        }
        if self.holds(left) {
            // Then the bad ones are all on the right: no equation needed to know it.
            self.bad_in(right);
        } else {
            self.bad_in(left);
            self.may_hold_bad(right);
        }
    }

    /// `part` may hold bad signatures.
    fn may_hold_bad(&mut self, part: &[Prepared]) {
        if part.len() <= 1 || self.budget < part.len() {
            self.one_by_one(part);
        } else if !self.holds(part) {
            self.bad_in(part);
        }
    }
}

/// Adds item `index` (its key `vk`, its `parts` from [`prepare`]) to the equation's items,
/// its key to `keys` unless an earlier item has the same key (whose terms are then merged).
fn add_prepared<'a>(
    keys: &mut Vec<(&'a [u8], EdwardsPoint)>,
    prepared: &mut Vec<Prepared>,
    index: usize,
    item: &BatchItem<'a>,
    vk: &ed25519_dalek::VerifyingKey,
    (r, r_bytes, s, k): (EdwardsPoint, [u8; 32], Scalar, Scalar),
) {
    let bytes = item.key.as_bytes();
    let key = keys
        .iter()
        .position(|(b, _)| *b == bytes)
        .unwrap_or_else(|| {
            keys.push((bytes, vk.to_edwards()));
            keys.len() - 1
        });
    prepared.push(Prepared {
        index,
        key,
        r,
        r_bytes,
        s,
        k,
    });
}

/// The encoding rules of strict single verification, and the parts the equation needs.
fn prepare(
    item: &BatchItem<'_>,
    vk: &ed25519_dalek::VerifyingKey,
) -> Result<(EdwardsPoint, [u8; 32], Scalar, Scalar)> {
    let bad = || {
        Error::new(
            ErrorCode::SignatureInvalid,
            "Ed25519 signature does not verify",
        )
    };
    // The same order of checks as `PublicKey::verify`.
    if item.context.len() > super::MAX_CONTEXT_LEN {
        return Err(Error::new(
            ErrorCode::DomainMismatch,
            "context longer than 255 bytes",
        ));
    }
    let sig: &[u8; 64] = item.signature.bytes.as_slice().try_into().map_err(|_| {
        Error::new(
            ErrorCode::SignatureInvalid,
            "Ed25519 signature must be 64 bytes",
        )
    })?;
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&sig[..32]);
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&sig[32..]);
    // The byte checks first (as `ed25519::verify`): the decompression below is a field
    // square root, spent only on an R that can pass.
    if !ed25519::is_canonical_y(&r_bytes) || ed25519::is_small_order_encoding(&r_bytes) {
        return Err(bad());
    }
    let r = CompressedEdwardsY(r_bytes).decompress().ok_or_else(bad)?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).ok_or_else(bad)?;
    let mut h = Sha512::new();
    h.update(r_bytes);
    h.update(vk.as_bytes());
    h.update(item.message);
    let k = Scalar::from_hash(h);
    Ok((r, r_bytes, s, k))
}

/// The batch equation, with 128-bit odd coefficients derived from the whole batch.
fn equation_holds(prepared: &[Prepared], keys: &[(&[u8], EdwardsPoint)]) -> bool {
    #[cfg(all(test, feature = "std"))]
    tests::TERMS.with(|t| t.set(t.get() + prepared.len()));
    // Seed: every R, s, k and key of the batch, so no item can be chosen after the zᵢ.
    let mut seed = Sha512::new();
    seed.update(b"cairn ed25519 batch v1");
    seed.update((prepared.len() as u64).to_le_bytes());
    for p in prepared {
        seed.update(p.r_bytes);
        seed.update(p.s.as_bytes());
        seed.update(p.k.as_bytes());
        seed.update(keys[p.key].0);
    }
    let seed = seed.finalize();
    let mut b_coeff = Scalar::ZERO;
    let mut key_coeff = alloc::vec![Scalar::ZERO; keys.len()];
    let mut scalars: Vec<Scalar> = Vec::with_capacity(prepared.len() + keys.len() + 1);
    let mut points: Vec<EdwardsPoint> = Vec::with_capacity(prepared.len() + keys.len() + 1);
    for (i, p) in prepared.iter().enumerate() {
        let mut h = Sha512::new();
        h.update(seed);
        h.update((i as u64).to_le_bytes());
        let out = h.finalize();
        let mut z = [0u8; 32];
        z[..16].copy_from_slice(&out[..16]);
        z[0] |= 1;
        let z = Scalar::from_bytes_mod_order(z);
        b_coeff -= z * p.s;
        key_coeff[p.key] += z * p.k;
        scalars.push(z);
        points.push(p.r);
    }
    scalars.push(b_coeff);
    points.push(ED25519_BASEPOINT_POINT);
    for (c, (_, a)) in key_coeff.into_iter().zip(keys) {
        // A key no item of this (part of a) batch uses adds nothing.
        if c != Scalar::ZERO {
            scalars.push(c);
            points.push(*a);
        }
    }
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).is_identity()
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::crypto::{Algorithm, SigningKey};

    std::thread_local! {
        /// Signatures put through batch equations on this thread.
        pub(super) static TERMS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
        /// Signatures the search checked alone on this thread.
        pub(super) static SINGLES: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
    }

    /// The signatures `f` put through equations, and those it checked alone.
    fn cost_of<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
        TERMS.with(|t| t.set(0));
        SINGLES.with(|t| t.set(0));
        let out = f();
        (out, TERMS.with(|t| t.get()), SINGLES.with(|t| t.get()))
    }

    /// The search's cost, counted exactly (the coefficients are derived from the batch, so the
    /// same batch always takes the same path): every verdict is single verification's, one or
    /// two bad signatures cost a few equations and at most four single checks, many bad ones
    /// stop the search once equations have held three times the batch.
    #[test]
    fn the_search_for_bad_signatures_is_bounded() -> Result<()> {
        let sk = SigningKey::from_seed(Algorithm::Ed25519, &[7; 32]);
        let messages: Vec<Vec<u8>> = (0..64u8).map(|i| alloc::vec![i; 16]).collect();
        let sigs: Vec<Signature> = messages
            .iter()
            .map(|m| sk.sign(m, b""))
            .collect::<Result<_>>()?;
        let wrong = b"another message".to_vec();
        let items_with = |bad: &dyn Fn(usize) -> bool| -> Vec<BatchItem<'_>> {
            (0..64)
                .map(|i| BatchItem {
                    key: sk.public_key(),
                    message: if bad(i) { &wrong } else { &messages[i] },
                    context: b"",
                    signature: &sigs[i],
                })
                .collect()
        };
        /// Name, which are bad, signatures in equations, signatures checked alone.
        type Case<'c> = (&'c str, &'c dyn Fn(usize) -> bool, usize, usize);
        let cases: [Case<'_>; 8] = [
            ("none bad", &|_| false, 64, 0),
            ("the first bad", &|i| i == 0, 188, 2),
            ("one bad", &|i| i == 37, 152, 2),
            ("the last bad", &|i| i == 63, 126, 2),
            ("two bad", &|i| i == 27 || i == 33, 222, 4),
            ("two bad, one half", &|i| i == 15 || i == 25, 194, 4),
            ("every fourth bad", &|i| i % 4 == 1, 64 + 3 * 64, 48),
            ("all bad", &|_| true, 64 + 3 * 64, 64),
        ];
        for (name, bad, terms_expected, singles_expected) in cases {
            let items = items_with(bad);
            let (verdicts, terms, singles) = cost_of(|| verify_each(&items));
            assert_eq!(
                (terms, singles),
                (terms_expected, singles_expected),
                "{name}: signatures in equations, checked alone"
            );
            for (i, v) in verdicts.iter().enumerate() {
                assert_eq!(v.is_err(), bad(i), "{name}: item {i}");
            }
        }
        Ok(())
    }

    /// `verify_each` gives single verification's verdict for every item, wherever the bad ones
    /// stand and whatever they are: another message, a signature of small-order R, a
    /// non-Ed25519 key, none at all.
    #[test]
    fn verify_each_matches_single_verification() -> Result<()> {
        let keys: Vec<SigningKey> = (1..=5u8)
            .map(|s| SigningKey::from_seed(Algorithm::Ed25519, &[s; 32]))
            .chain([SigningKey::from_seed(Algorithm::MlDsa44, &[9; 32])])
            .collect();
        let messages: Vec<Vec<u8>> = (0..11u8).map(|i| alloc::vec![i; 20]).collect();
        let key_of = |i: usize| &keys[if i % 4 == 3 { 5 } else { i % 5 }];
        let good: Vec<Signature> = (0..11)
            .map(|i| key_of(i).sign(&messages[i], b"ctx"))
            .collect::<Result<_>>()?;
        let mut small_r = good[0].clone();
        small_r.bytes[..32].copy_from_slice(&[0; 32]); // R = identity-ish, small order
        let cases: &[&[usize]] = &[
            &[],
            &[0],
            &[10],
            &[4, 5],
            &[1, 2, 3, 7, 9],
            &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        ];
        for bad in cases {
            let wrong = b"not the message".to_vec();
            let items: Vec<BatchItem<'_>> = (0..11)
                .map(|i| BatchItem {
                    key: key_of(i).public_key(),
                    message: if bad.contains(&i) && i != 0 {
                        &wrong
                    } else {
                        &messages[i]
                    },
                    context: b"ctx",
                    signature: if bad.contains(&i) && i == 0 {
                        &small_r
                    } else {
                        &good[i]
                    },
                })
                .collect();
            let verdicts = verify_each(&items);
            for (i, item) in items.iter().enumerate() {
                let single = item.key.verify(item.message, item.context, item.signature);
                assert_eq!(verdicts[i], single, "item {i} of {bad:?}");
                assert_eq!(
                    verdicts[i].is_err(),
                    bad.contains(&i),
                    "item {i} of {bad:?}"
                );
            }
            // verify_batch agrees on the first bad one.
            match verify_batch(&items) {
                Ok(()) => assert!(bad.is_empty()),
                Err(f) => assert_eq!(Some(&f.index), bad.iter().min()),
            }
        }
        assert!(verify_each(&[]).is_empty());
        Ok(())
    }
}
