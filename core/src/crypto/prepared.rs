//! Ed25519 verification under one key many times: [`PreparedEd25519Key`] keeps multiples of
//! the key (and the base point) laid out so that a verification needs 128 point additions and
//! 4 doublings, where ed25519-dalek's double-base multiplication spends about 253 doublings
//! and 80 additions. Building the table costs about two verifications and 40 KiB, so it pays
//! for a key seen again: a token issuer, a log key, a witness, a holder signing its requests.
//! [`PreparedKeys`] decides which keys get one. The browser build keeps a few (cairn-wasm's
//! `host` module; about 1.7× faster there than ed25519-dalek); `cairn serve` and the native
//! Node addon keep one set for the whole process ([`process`], about 1.5× faster natively).
//!
//! The rules are those of every Ed25519 verification in cairn (the `ed25519` module): the key
//! is checked when prepared (canonical, a curve point, not of small order), R and S on their
//! bytes, then the cofactorless equation `R = [S]B − [k]A` decides, the recomputed R compared
//! with the signature's byte for byte. Only the way `[S]B − [k]A` is computed differs, and the
//! tests hold its verdicts to ed25519-dalek's `verify_strict` (keys with a torsion component
//! included).
//!
//! Variable time: everything here is public (keys, messages, signatures).

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use once_cell::race::OnceBox;
use sha2::{Digest as _, Sha512};

use super::ed25519::{is_strict_encoding, parse_public_key};
use crate::error::{Error, ErrorCode, Result};

/// `rows[i][j - 1] = j · 256^i · P` for i in 0..32 and j in 1..=8.
///
/// A scalar below 2^253 written in 64 signed radix-16 digits d (each in −8..=8) is
/// `Σ d[2i]·256^i + 16·Σ d[2i+1]·256^i`, so `[x]P` is `16·(Σ ±rows[i][|d[2i+1]| − 1])` plus
/// `Σ ±rows[i][|d[2i]| − 1]`: one lookup and one addition per non-zero digit, and four
/// doublings in all.
struct Comb {
    rows: Vec<[EdwardsPoint; 8]>,
}

impl Comb {
    fn new(p: &EdwardsPoint) -> Comb {
        let mut rows = vec![[EdwardsPoint::identity(); 8]; 32];
        let mut base = *p;
        for row in rows.iter_mut() {
            row[0] = base;
            for j in 1..8 {
                row[j] = row[j - 1] + base;
            }
            // 256 = 8 · 8 · 4
            base = base.mul_by_cofactor().mul_by_cofactor();
            base = base + base;
            base = base + base;
        }
        Comb { rows }
    }

    /// Adds Σ d[2i + odd]·256^i·P to `acc`.
    fn add_digits(&self, acc: &mut EdwardsPoint, digits: &[i8; 64], odd: usize) {
        for (i, row) in self.rows.iter().enumerate() {
            let d = digits[2 * i + odd];
            if d > 0 {
                *acc += row[d.unsigned_abs() as usize - 1];
            } else if d < 0 {
                *acc -= row[d.unsigned_abs() as usize - 1];
            }
        }
    }
}

/// The 64 signed radix-16 digits of a reduced scalar (each in −8..=7, the last in 0..=8).
fn radix16(x: &Scalar) -> [i8; 64] {
    let bytes = x.to_bytes();
    let mut d = [0i8; 64];
    for (i, b) in bytes.iter().enumerate() {
        d[2 * i] = (b & 15) as i8;
        d[2 * i + 1] = (b >> 4) as i8;
    }
    // Recentre: a digit ≥ 8 becomes d − 16 and carries one into the next. A reduced scalar
    // is below 2^253, so its top digit is at most 1 and, with the carry, at most 2.
    for i in 0..63 {
        let carry = (d[i] + 8) >> 4;
        d[i] -= carry << 4;
        d[i + 1] += carry;
    }
    d
}

/// The base point's table, built at its first use (about one verification's time).
fn basepoint() -> &'static Comb {
    static B: OnceBox<Comb> = OnceBox::new();
    B.get_or_init(|| alloc::boxed::Box::new(Comb::new(&ED25519_BASEPOINT_POINT)))
}

/// An Ed25519 public key with its precomputed multiples, for verifying many signatures under
/// it (about 40 KiB).
///
/// ```
/// use cairn_core::crypto::prepared::PreparedEd25519Key;
/// # #[cfg(feature = "std")] {
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// let sk = SigningKey::from_seed(Algorithm::Ed25519, &[7; 32]);
/// let sig = sk.sign(b"message", b"")?;
/// let key = PreparedEd25519Key::new(sk.public_key().as_bytes())?;
/// assert!(key.verify(b"message", sig.as_bytes()).is_ok());
/// assert!(key.verify(b"messagf", sig.as_bytes()).is_err());
/// # }
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub struct PreparedEd25519Key {
    key: [u8; 32],
    minus_a: Comb,
}

impl PreparedEd25519Key {
    /// Checks the key (`invalid_key` unless it is 32 bytes, canonical, a curve point and not
    /// of small order) and computes its table.
    pub fn new(key: &[u8]) -> Result<PreparedEd25519Key> {
        let vk = parse_public_key(key)?;
        Ok(PreparedEd25519Key {
            key: *vk.as_bytes(),
            minus_a: Comb::new(&-vk.to_edwards()),
        })
    }

    /// The key's 32 bytes.
    pub fn key_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// Strict verification of a 64-byte signature (R ‖ S) of `message`: the verdict of every
    /// Ed25519 verification in cairn (`signature_invalid` when it fails).
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<()> {
        let ok = <&[u8; 64]>::try_from(sig)
            .is_ok_and(|sig| is_strict_encoding(sig) && self.equation(message, sig));
        if ok {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::SignatureInvalid,
                "Ed25519 signature does not verify",
            ))
        }
    }

    /// `R == [S]B − [k]A`, byte for byte, with `k = SHA-512(R ‖ A ‖ M) mod L`. Only for
    /// signatures whose encoding passed [`is_strict_encoding`].
    fn equation(&self, message: &[u8], sig: &[u8; 64]) -> bool {
        let mut s = [0u8; 32];
        s.copy_from_slice(&sig[32..]);
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)) else {
            return false;
        };
        let h: [u8; 64] = Sha512::new()
            .chain_update(&sig[..32])
            .chain_update(self.key)
            .chain_update(message)
            .finalize()
            .into();
        let k = Scalar::from_bytes_mod_order_wide(&h);
        self.combination(&s, &k).compress().as_bytes()[..] == sig[..32]
    }

    /// `[s]B − [k]A`.
    fn combination(&self, s: &Scalar, k: &Scalar) -> EdwardsPoint {
        let (ds, dk) = (radix16(s), radix16(k));
        let b = basepoint();
        let mut acc = EdwardsPoint::identity();
        b.add_digits(&mut acc, &ds, 1);
        self.minus_a.add_digits(&mut acc, &dk, 1);
        // × 16 = × 8 × 2
        acc = acc.mul_by_cofactor();
        acc = acc + acc;
        b.add_digits(&mut acc, &ds, 0);
        self.minus_a.add_digits(&mut acc, &dk, 0);
        acc
    }
}

impl core::fmt::Debug for PreparedEd25519Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PreparedEd25519Key")
            .field("key", &crate::encoding::hex_encode(&self.key))
            .finish_non_exhaustive()
    }
}

/// Prepared keys [`PreparedKeys::new`] keeps (about 40 KiB each).
pub const PREPARED_KEYS: usize = 8;
/// Keys not prepared whose uses [`PreparedKeys`] counts (a ring: the oldest forgotten first).
pub const SEEN_KEYS: usize = 64;
/// The use at which [`PreparedKeys`] prepares a key.
pub const PREPARE_AT_USE: u8 = 3;

/// Which Ed25519 keys are worth a [`PreparedEd25519Key`]: a key is prepared at its
/// [`PREPARE_AT_USE`]th use among the last [`SEEN_KEYS`] keys seen, and a fixed number are
/// kept ([`PREPARED_KEYS`] by default), the least recently used dropped first. A verifier
/// checks a few keys many times (token issuers, a holder's proofs); a key used once or twice
/// never pays for a table. More keys in rotation than it keeps make every third use rebuild a
/// table: keep enough for the keys a verifier sees often.
///
/// Not synchronised: keep it in a `RefCell` or a `Mutex`. [`PreparedKeys::prepared`] builds a
/// table in place; a caller that must not hold its lock for that (about two verifications'
/// time) uses [`PreparedKeys::count_use`], builds the table after letting go, and hands it back
/// with [`PreparedKeys::insert`].
///
/// ```
/// # #[cfg(feature = "std")] {
/// use cairn_core::crypto::prepared::{PreparedKeys, PREPARE_AT_USE};
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// let sk = SigningKey::from_seed(Algorithm::Ed25519, &[7; 32]);
/// let pk: [u8; 32] = sk.public_key().as_bytes().try_into()?;
/// let mut keys = PreparedKeys::new();
/// for _ in 1..PREPARE_AT_USE {
///     assert!(keys.prepared(&pk).is_none()); // counted
/// }
/// let key = keys.prepared(&pk).ok_or("prepared at the third use")?;
/// assert!(key.verify(b"m", sk.sign(b"m", b"")?.as_bytes()).is_ok());
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PreparedKeys {
    /// Most recently used last; at most `capacity`.
    prepared: Vec<Arc<PreparedEd25519Key>>,
    capacity: usize,
    /// Keys seen and how often; a new key is written at `seen[next_seen]`, the oldest slot (a
    /// slot freed when its key was prepared stays empty until then).
    seen: [Option<([u8; 32], u8)>; SEEN_KEYS],
    next_seen: usize,
}

/// What one use of a key calls for ([`PreparedKeys::count_use`]).
#[derive(Debug, Clone)]
pub enum KeyUse {
    /// The key's table.
    Prepared(Arc<PreparedEd25519Key>),
    /// This use is the one to prepare it at: build the table and [`PreparedKeys::insert`] it.
    Prepare,
    /// Counted; not worth a table yet.
    Counted,
}

impl KeyUse {
    /// The table this use calls for: the one kept, or `pk`'s built now (and handed to
    /// `insert`), or `None` (counted only, or a key that cannot be prepared: the caller's
    /// verifier then decides, and refuses it).
    fn resolve(
        self,
        pk: &[u8; 32],
        insert: impl FnOnce(Arc<PreparedEd25519Key>),
    ) -> Option<Arc<PreparedEd25519Key>> {
        match self {
            KeyUse::Prepared(k) => Some(k),
            KeyUse::Counted => None,
            KeyUse::Prepare => {
                let k = Arc::new(PreparedEd25519Key::new(pk).ok()?);
                insert(k.clone());
                Some(k)
            }
        }
    }
}

impl Default for PreparedKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl PreparedKeys {
    /// No key seen yet; keeps [`PREPARED_KEYS`] tables.
    pub const fn new() -> PreparedKeys {
        PreparedKeys::with_capacity(PREPARED_KEYS)
    }

    /// No key seen yet; keeps `capacity` tables (at least one).
    pub const fn with_capacity(capacity: usize) -> PreparedKeys {
        PreparedKeys {
            prepared: Vec::new(),
            capacity: if capacity == 0 { 1 } else { capacity },
            seen: [None; SEEN_KEYS],
            next_seen: 0,
        }
    }

    /// Counts a use of `pk` and says what it calls for.
    pub fn count_use(&mut self, pk: &[u8; 32]) -> KeyUse {
        if let Some(i) = self.prepared.iter().position(|k| k.key_bytes() == pk) {
            let k = self.prepared.remove(i);
            self.prepared.push(k.clone());
            return KeyUse::Prepared(k);
        }
        let slot = self
            .seen
            .iter()
            .position(|s| s.is_some_and(|(k, _)| &k == pk));
        let Some(slot) = slot else {
            self.seen[self.next_seen] = Some((*pk, 1));
            self.next_seen = (self.next_seen + 1) % SEEN_KEYS;
            return KeyUse::Counted;
        };
        let uses = self.seen[slot].map_or(0, |(_, n)| n).saturating_add(1);
        if uses < PREPARE_AT_USE {
            self.seen[slot] = Some((*pk, uses));
            return KeyUse::Counted;
        }
        self.seen[slot] = None;
        KeyUse::Prepare
    }

    /// Keeps `key`'s table as the most recently used, dropping the least recently used one
    /// when full (a table for the same key already kept is replaced).
    pub fn insert(&mut self, key: Arc<PreparedEd25519Key>) {
        self.prepared.retain(|k| k.key_bytes() != key.key_bytes());
        if self.prepared.len() >= self.capacity {
            self.prepared.remove(0);
        }
        self.prepared.push(key);
    }

    /// The prepared key for `pk`, built now at its [`PREPARE_AT_USE`]th use; `None` before that
    /// (the use is counted) or for a key that cannot be prepared (the caller's verifier then
    /// decides, and refuses it).
    pub fn prepared(&mut self, pk: &[u8; 32]) -> Option<Arc<PreparedEd25519Key>> {
        self.count_use(pk).resolve(pk, |k| self.insert(k))
    }

    /// Whether `pk` is prepared now (it is not counted as a use).
    pub fn is_prepared(&self, pk: &[u8; 32]) -> bool {
        self.prepared.iter().any(|k| k.key_bytes() == pk)
    }
}

/// One [`PreparedKeys`] for the whole process, installed as its Ed25519 equation (feature
/// `host-ed25519` with `std`): what a server (`cairn serve`) or a native addon uses, where
/// every thread verifies through the same hot keys. [`install`](process::install) once; every
/// Ed25519 verification in the process then asks it (cairn's encoding rules are still checked
/// first, and only the way `[S]B − [k]A` is computed changes). A table is built outside the
/// lock, so no other verification waits for it.
#[cfg(all(feature = "host-ed25519", feature = "std"))]
pub mod process {
    use super::PreparedKeys;
    use std::sync::{Mutex, MutexGuard};

    /// Tables kept: more than a browser's eight, for a server's many holders (2.5 MiB).
    pub const KEPT: usize = 64;

    static KEYS: Mutex<PreparedKeys> = Mutex::new(PreparedKeys::with_capacity(KEPT));

    fn keys() -> MutexGuard<'static, PreparedKeys> {
        // A holder that panicked left the tables consistent (each change is one push or
        // remove).
        KEYS.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Installs the process's prepared keys as its Ed25519 equation; false if an equation was
    /// installed already (it stays).
    ///
    /// ```
    /// cairn_core::crypto::prepared::process::install();
    /// assert!(!cairn_core::crypto::prepared::process::install(), "once per process");
    /// ```
    pub fn install() -> bool {
        crate::crypto::host::set_host_equation(equation)
    }

    /// The verdict of a prepared key, or `None` (ed25519-dalek decides) for a key not
    /// prepared.
    pub(super) fn equation(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Option<bool> {
        // Its own statement: the guard is dropped before a table is built and inserted (in
        // one expression it would be held across `resolve`, which locks again).
        let use_ = keys().count_use(pk);
        let key = use_.resolve(pk, |k| keys().insert(k))?;
        Some(key.verify(msg, sig).is_ok())
    }

    /// Whether `pk` has a table now.
    ///
    /// ```
    /// assert!(!cairn_core::crypto::prepared::process::is_prepared(&[9; 32]));
    /// ```
    pub fn is_prepared(pk: &[u8; 32]) -> bool {
        keys().is_prepared(pk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(bytes: [u8; 32]) -> Scalar {
        Scalar::from_bytes_mod_order(bytes)
    }

    /// `[s]B − [k]A` through the tables equals ed25519-dalek's double-base multiplication, for
    /// scalars that stress the digit recoding (0, 1, L − 1, runs of 8s and of 0xf, the top
    /// digit) and for pseudo-random ones.
    #[test]
    fn combination_is_dalek_double_base_multiplication() {
        let mut edge: Vec<Scalar> = vec![Scalar::ZERO, Scalar::ONE, -Scalar::ONE];
        for fill in [0x88u8, 0xff, 0x0f, 0xf0, 0x80, 0x08, 0x77] {
            edge.push(scalar([fill; 32]));
            let mut top = [0u8; 32];
            top[31] = fill & 0x1f;
            edge.push(scalar(top));
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut random = || {
            let mut b = [0u8; 32];
            for c in b.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                c.copy_from_slice(&state.to_le_bytes());
            }
            scalar(b)
        };
        let mut scalars = edge.clone();
        scalars.extend((0..24).map(|_| random()));
        for seed in 1..4u8 {
            let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
            let key = PreparedEd25519Key::new(sk.verifying_key().as_bytes()).unwrap();
            let minus_a = -sk.verifying_key().to_edwards();
            for s in &scalars {
                for k in &scalars {
                    let want = EdwardsPoint::vartime_double_scalar_mul_basepoint(k, &minus_a, s);
                    assert_eq!(key.combination(s, k), want, "s {s:?} k {k:?}");
                }
            }
        }
    }

    /// A key with a torsion component (A = aB + T, T of order 2, 4 or 8) is a valid key, and
    /// a signature made with a verifies under the cofactorless equation only when kT = 0: the
    /// prepared route must say so exactly when `verify_strict` does, and compute the same point.
    #[test]
    fn mixed_order_keys_give_verify_stricts_verdicts() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        let a = scalar([0x35; 32]);
        let (mut accepted, mut refused) = (0, 0);
        for t in EIGHT_TORSION.iter().skip(1) {
            let point = EdwardsPoint::mul_base(&a) + t;
            let bytes = point.compress().to_bytes();
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&bytes).unwrap();
            let key = PreparedEd25519Key::new(&bytes).unwrap();
            for m in 0..48u8 {
                let msg = [m; 20];
                let r = scalar([m.wrapping_add(7); 32]);
                let big_r = EdwardsPoint::mul_base(&r).compress().to_bytes();
                let h: [u8; 64] = Sha512::new()
                    .chain_update(big_r)
                    .chain_update(bytes)
                    .chain_update(msg)
                    .finalize()
                    .into();
                let k = Scalar::from_bytes_mod_order_wide(&h);
                let s = r + k * a;
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(&big_r);
                sig[32..].copy_from_slice(s.as_bytes());
                let strict = vk
                    .verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&sig))
                    .is_ok();
                assert_eq!(key.verify(&msg, &sig).is_ok(), strict, "T {t:?} m {m}");
                assert_eq!(
                    key.combination(&s, &k),
                    EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-point, &s)
                );
                if strict {
                    accepted += 1;
                } else {
                    refused += 1;
                }
            }
        }
        // Both verdicts occur (kT = 0 about once in 2, 4 or 8 messages, by T's order).
        assert!(accepted > 0 && refused > 0, "{accepted} / {refused}");
    }

    #[test]
    fn digits_recompose_the_scalar() {
        for fill in [0u8, 0x88, 0xff, 0x7f, 0x10] {
            let x = scalar([fill; 32]);
            let d = radix16(&x);
            assert!(d[..63].iter().all(|&v| (-8..=7).contains(&v)), "{d:?}");
            assert!((0..=8).contains(&d[63]));
            let sixteen = Scalar::from(16u8);
            let back = d.iter().rev().fold(Scalar::ZERO, |acc, &v| {
                let v = if v < 0 {
                    -Scalar::from(v.unsigned_abs())
                } else {
                    Scalar::from(v as u8)
                };
                acc * sixteen + v
            });
            assert_eq!(back, x);
        }
    }

    #[test]
    fn bad_keys_are_refused_as_everywhere() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        for bad in [&identity[..], &[0u8; 31][..], &[0xffu8; 32][..]] {
            assert_eq!(
                PreparedEd25519Key::new(bad).unwrap_err().code(),
                ErrorCode::InvalidKey
            );
        }
    }

    /// Distinct valid keys: i · B for i = 1, 2, ...
    fn key(i: u64) -> [u8; 32] {
        (ED25519_BASEPOINT_POINT * Scalar::from(i))
            .compress()
            .to_bytes()
    }

    #[test]
    fn keys_are_prepared_at_their_third_use_and_the_least_recently_used_dropped() {
        let mut keys = PreparedKeys::new();
        // Uses 1 and 2 are counted; the third prepares; later uses find it.
        for use_ in 1..=5u8 {
            let got = keys.prepared(&key(1));
            assert_eq!(got.is_some(), use_ >= PREPARE_AT_USE, "use {use_}");
            assert!(got.is_none_or(|k| k.key_bytes() == &key(1)));
            assert_eq!(keys.is_prepared(&key(1)), use_ >= PREPARE_AT_USE);
        }
        // Fill to PREPARED_KEYS, then use key 1 again so that key 2 is the least recent.
        for i in 2..=PREPARED_KEYS as u64 {
            for _ in 0..PREPARE_AT_USE {
                keys.prepared(&key(i));
            }
        }
        assert!((1..=PREPARED_KEYS as u64).all(|i| keys.is_prepared(&key(i))));
        keys.prepared(&key(1));
        let newcomer = PREPARED_KEYS as u64 + 1;
        for _ in 0..PREPARE_AT_USE {
            keys.prepared(&key(newcomer));
        }
        assert!(keys.is_prepared(&key(newcomer)) && keys.is_prepared(&key(1)));
        assert!(
            !keys.is_prepared(&key(2)),
            "the least recently used is dropped"
        );
        assert_eq!(keys.prepared.len(), PREPARED_KEYS);
    }

    #[test]
    fn counted_uses_are_forgotten_oldest_first_and_bad_keys_never_prepared() {
        let mut keys = PreparedKeys::new();
        // Key 1 used twice, then SEEN_KEYS other keys once each: its count is forgotten, so
        // its next use is a first use again.
        keys.prepared(&key(1));
        keys.prepared(&key(1));
        for i in 100..100 + SEEN_KEYS as u64 {
            assert!(keys.prepared(&key(i)).is_none());
        }
        assert!(keys.prepared(&key(1)).is_none());
        assert!(keys.prepared(&key(1)).is_none());
        assert!(keys.prepared(&key(1)).is_some());
        // A key counted but one short of its third use is still remembered after others.
        keys.prepared(&key(2));
        keys.prepared(&key(2));
        for i in 300..300 + SEEN_KEYS as u64 - 2 {
            keys.prepared(&key(i));
        }
        assert!(keys.prepared(&key(2)).is_some());
        // A key that cannot be prepared (small order) is answered with None at every use.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        for _ in 0..2 * PREPARE_AT_USE {
            assert!(keys.prepared(&identity).is_none());
        }
        assert!(!keys.is_prepared(&identity));
    }

    #[cfg(all(feature = "host-ed25519", feature = "std"))]
    #[test]
    fn the_process_keys_prepare_a_key_used_again_and_keep_every_verdict() {
        use crate::crypto::{Algorithm, Signature, SigningKey};
        process::install();
        let sk = SigningKey::from_seed(Algorithm::Ed25519, &[0x5a; 32]);
        let pk = sk.public_key();
        let raw: [u8; 32] = pk.as_bytes().try_into().unwrap();
        let other = SigningKey::from_seed(Algorithm::Ed25519, &[0x5b; 32]);
        let equation_says = |msg: &[u8], sig: &Signature| {
            process::equation(&raw, msg, sig.as_bytes().try_into().unwrap())
        };
        for i in 0..6u8 {
            let msg = [i; 40];
            let sig = sk.sign(&msg, b"").unwrap();
            assert!(pk.verify(&msg, b"", &sig).is_ok(), "use {i}");
            // From the third use of the key on, the prepared table decides, both ways.
            if i >= 2 {
                assert_eq!(equation_says(&msg, &sig), Some(true));
                assert_eq!(equation_says(&[i ^ 1; 40], &sig), Some(false));
            }
            // Wrong message, a flipped bit, another key's signature: refused, before and
            // after the key is prepared.
            let mut flipped = sig.as_bytes().to_vec();
            flipped[usize::from(i) % 64] ^= 0x40;
            let flipped = Signature::from_bytes(Algorithm::Ed25519, &flipped).unwrap();
            assert!(pk.verify(&[i ^ 1; 40], b"", &sig).is_err());
            assert!(pk.verify(&msg, b"", &flipped).is_err());
            assert!(pk
                .verify(&msg, b"", &other.sign(&msg, b"").unwrap())
                .is_err());
        }
        assert!(process::is_prepared(&raw));
    }
}
