//! Verifying a pinned trust root and walking its rotation chain forward.
//!
//! Order of checks for each successor (each step stops at the first failure):
//! 1. payload type (`domain_mismatch`), then a threshold of the *current* version's root keys
//!    over the envelope bytes (`signature_invalid`, `threshold_not_met`) — before the payload
//!    is decoded;
//! 2. decoding (`unsupported_version`, `malformed`, `too_large`);
//! 3. linkage: a version at or below the current one is a rollback (`replayed`); anything but
//!    current + 1 is a gap, and `previous` must be the current id (`chain_broken`); same
//!    origin (`domain_mismatch`); `issued_at` must not go backwards (`chain_broken`);
//! 4. the current version's signers must have been valid at the successor's `issued_at`
//!    (`unauthorized`);
//! 5. a threshold of the successor's own root keys, valid at its `issued_at`.
//!
//! Only the newest version must be unexpired at `now`; versions on the way may have expired
//! (as in TUF), since a verifier that was offline for a year must still be able to catch up.

use alloc::vec::Vec;
use core::ops::Deref;

use super::{root_id, Role, Thresholds, TrustRoot, TrustedKey, TRUST_ROOT_TYPE};
use crate::crypto::KeyId;
use crate::dsse::{Envelope, Verified};
use crate::encoding::Digest;
use crate::error::{Error, ErrorCode, Result};
use crate::UnixTime;

/// A trust root whose signatures (and, if reached by rotation, whose chain) were checked.
/// It dereferences to the [`TrustRoot`] for the query helpers ([`TrustRoot::keys_for`],
/// [`TrustRoot::threshold`], [`TrustRoot::role_of`], [`TrustRoot::authorize`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRoot {
    root: TrustRoot,
    id: Digest,
}

impl Deref for VerifiedRoot {
    type Target = TrustRoot;
    fn deref(&self) -> &TrustRoot {
        &self.root
    }
}

impl VerifiedRoot {
    /// Accepts a root the caller pinned out of band: it must decode and carry a threshold of
    /// its own root keys (valid at its `issued_at`). Expiry is not checked here — a pinned
    /// root may be old, as long as the chain leads to a current one; see
    /// [`verify_trust_root`] and [`verify_rotation_chain`].
    pub fn from_pinned(env: &Envelope) -> Result<VerifiedRoot> {
        check_type(env)?;
        let root = TrustRoot::from_bytes(&env.payload)?;
        check_own_signatures(env, &root)?;
        Ok(VerifiedRoot {
            id: root_id(&env.payload),
            root,
        })
    }

    /// The verified root.
    pub fn root(&self) -> &TrustRoot {
        &self.root
    }

    /// Its id ([`root_id`]).
    pub fn id(&self) -> Digest {
        self.id
    }

    /// `expired` unless `now < expires_at`.
    pub fn check_unexpired(&self, now: UnixTime) -> Result<()> {
        if now >= self.root.expires_at {
            return Err(Error::new(
                ErrorCode::Expired,
                alloc::format!(
                    "trust root version {} expired at {}",
                    self.root.root_version,
                    self.root.expires_at
                ),
            ));
        }
        Ok(())
    }

    /// Verifies `env` as an object of `expected_type` signed by a threshold of this root's
    /// keys holding `role`, counting only keys valid at `at`. `unauthorized` if the root gives
    /// the role to no key.
    ///
    /// ```
    /// # use cairn_core::crypto::{Algorithm, SigningKey};
    /// # use cairn_core::dsse::Envelope;
    /// use cairn_core::trust::*;
    /// let k = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[1; 32]);
    /// let keys = vec![TrustedKey::new(k.public_key().clone(), RoleSet::of(&[Role::Root, Role::ManifestSigner]), "k")];
    /// let t = Thresholds::default().with(Role::Root, 1).with(Role::ManifestSigner, 1);
    /// let root = verify_trust_root(&sign_root(&TrustRoot::initial("example.org/log", 0, 100, keys, t), &[&k])?, 50)?;
    /// let mut manifest = Envelope::new("application/example", b"m".to_vec())?;
    /// manifest.sign(&k)?;
    /// assert!(root.verify_envelope(&manifest, "application/example", Role::ManifestSigner, 50).is_ok());
    /// assert_eq!(root.verify_envelope(&manifest, "application/example", Role::Peer, 50).unwrap_err().code().as_str(), "unauthorized");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_envelope<'e>(
        &self,
        env: &'e Envelope,
        expected_type: &str,
        role: Role,
        at: UnixTime,
    ) -> Result<Verified<'e>> {
        let threshold = self.root.threshold(role);
        if threshold == 0 {
            return Err(Error::new(
                ErrorCode::Unauthorized,
                alloc::format!("the trust root gives the {role} role to no key"),
            ));
        }
        env.verify(
            expected_type,
            &self.root.public_keys_for(role, at),
            threshold,
        )
    }

    /// The unsigned successor of this version: same origin, `root_version + 1`, `previous`
    /// set to this id. Sign it with [`super::sign_root`] using this version's root keys and
    /// the new ones.
    pub fn successor(
        &self,
        issued_at: UnixTime,
        expires_at: UnixTime,
        keys: Vec<TrustedKey>,
        thresholds: Thresholds,
    ) -> TrustRoot {
        TrustRoot {
            version: super::TRUST_ROOT_VERSION,
            root_version: self.root.root_version.saturating_add(1),
            origin: self.root.origin.clone(),
            issued_at,
            expires_at,
            keys,
            thresholds,
            previous: Some(self.id),
        }
    }

    fn successor_from(&self, env: &Envelope) -> Result<VerifiedRoot> {
        check_type(env)?;
        let old_signers = root_signers(env, &self.root)?;
        let next = TrustRoot::from_bytes(&env.payload)?;
        let cur = self.root.root_version;
        if next.root_version <= cur {
            return Err(Error::new(
                ErrorCode::Replayed,
                alloc::format!(
                    "trust root version {} presented after version {cur}",
                    next.root_version
                ),
            ));
        }
        if Some(next.root_version) != cur.checked_add(1) {
            return Err(Error::new(
                ErrorCode::ChainBroken,
                alloc::format!(
                    "trust root version {} follows version {cur}",
                    next.root_version
                ),
            ));
        }
        if next.previous != Some(self.id) {
            return Err(Error::new(
                ErrorCode::ChainBroken,
                "previous does not name the id of the version before",
            ));
        }
        if next.origin != self.root.origin {
            return Err(Error::new(
                ErrorCode::DomainMismatch,
                alloc::format!(
                    "origin changed from {:?} to {:?}",
                    self.root.origin,
                    next.origin
                ),
            ));
        }
        if next.issued_at < self.root.issued_at {
            return Err(Error::new(
                ErrorCode::ChainBroken,
                "issued_at goes backwards",
            ));
        }
        require_in_window(&old_signers, &self.root, next.issued_at)?;
        check_own_signatures(env, &next)?;
        Ok(VerifiedRoot {
            id: root_id(&env.payload),
            root: next,
        })
    }
}

fn check_type(env: &Envelope) -> Result<()> {
    if env.payload_type != TRUST_ROOT_TYPE {
        return Err(Error::new(
            ErrorCode::DomainMismatch,
            alloc::format!(
                "expected payload type {TRUST_ROOT_TYPE:?}, found {:?}",
                env.payload_type
            ),
        ));
    }
    Ok(())
}

/// Distinct root keys of `signer` (validity windows aside) with valid signatures on `env`,
/// at least `signer`'s root threshold of them.
fn root_signers(env: &Envelope, signer: &TrustRoot) -> Result<Vec<KeyId>> {
    let keys: Vec<_> = signer
        .keys
        .iter()
        .filter(|k| k.roles.contains(Role::Root))
        .map(|k| k.public_key.clone())
        .collect();
    let v = signer.root_version;
    // For a root, "no signature by a root key" is just the extreme of too few signatures.
    env.verify(TRUST_ROOT_TYPE, &keys, signer.threshold(Role::Root))
        .map(|ok| ok.signers)
        .map_err(|e| match e.code() {
            ErrorCode::UnknownKey => Error::new(
                ErrorCode::ThresholdNotMet,
                alloc::format!("no signature by a root key of trust root version {v}"),
            ),
            _ => e.context(&alloc::format!("signatures by root keys of version {v}")),
        })
}

fn require_in_window(signers: &[KeyId], signer: &TrustRoot, at: UnixTime) -> Result<()> {
    let valid = signers
        .iter()
        .filter(|id| signer.key(id).is_some_and(|k| k.is_valid_at(at)))
        .count();
    if valid < signer.threshold(Role::Root) {
        return Err(Error::new(
            ErrorCode::Unauthorized,
            alloc::format!(
                "only {valid} root keys of version {} were valid at {at}, {} required",
                signer.root_version,
                signer.threshold(Role::Root)
            ),
        ));
    }
    Ok(())
}

fn check_own_signatures(env: &Envelope, root: &TrustRoot) -> Result<()> {
    let signers = root_signers(env, root)?;
    require_in_window(&signers, root, root.issued_at)
}

/// Verifies a self-standing trust root: [`VerifiedRoot::from_pinned`] plus `now <
/// expires_at`.
///
/// ```
/// # use cairn_core::crypto::{Algorithm, SigningKey};
/// # use cairn_core::trust::*;
/// let k = SigningKey::from_seed(Algorithm::MlDsa44, &[3; 32]);
/// let keys = vec![TrustedKey::new(k.public_key().clone(), RoleSet::of(&[Role::Root, Role::Checkpoint]), "k")];
/// let t = Thresholds::default().with(Role::Root, 1).with(Role::Checkpoint, 1);
/// let env = sign_root(&TrustRoot::initial("example.org/log", 0, 100, keys, t), &[&k])?;
/// assert!(verify_trust_root(&env, 99).is_ok());
/// assert_eq!(verify_trust_root(&env, 100).unwrap_err().code().as_str(), "expired");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_trust_root(env: &Envelope, now: UnixTime) -> Result<VerifiedRoot> {
    let root = VerifiedRoot::from_pinned(env)?;
    root.check_unexpired(now)?;
    Ok(root)
}

/// Walks from `trusted` through `chain` (versions n+1, n+2, … in order) and returns the newest
/// version, which must be unexpired at `now`. An empty chain returns `trusted` itself after
/// the expiry check. Errors name the version (by position) where the walk stopped; see the
/// module documentation for the order of checks.
///
/// ```
/// # use cairn_core::crypto::{Algorithm, SigningKey};
/// # use cairn_core::trust::*;
/// let (a, b) = (SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]), SigningKey::from_seed(Algorithm::MlDsa65, &[2; 32]));
/// let t = Thresholds::default().with(Role::Root, 1);
/// let key = |k: &cairn_core::crypto::SigningKey| vec![TrustedKey::new(k.public_key().clone(), RoleSet::of(&[Role::Root]), "root")];
/// let v1 = sign_root(&TrustRoot::initial("example.org/log", 0, 100, key(&a), t), &[&a])?;
/// let pinned = VerifiedRoot::from_pinned(&v1)?;
/// let v2 = sign_root(&pinned.successor(50, 500, key(&b), t), &[&a, &b])?;
/// let newest = verify_rotation_chain(&pinned, &[v2], 200)?;
/// assert_eq!(newest.root_version, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_rotation_chain(
    trusted: &VerifiedRoot,
    chain: &[Envelope],
    now: UnixTime,
) -> Result<VerifiedRoot> {
    let mut cur = trusted.clone();
    for (i, env) in chain.iter().enumerate() {
        cur = cur
            .successor_from(env)
            .map_err(|e| e.context(&alloc::format!("rotation chain element {i}")))?;
    }
    cur.check_unexpired(now)?;
    Ok(cur)
}

/// The whole check a verifier with a pinned root runs: [`VerifiedRoot::from_pinned`] on
/// `pinned`, then [`verify_rotation_chain`] through `chain` to the newest version, which must
/// be unexpired at `now`. This is the `verify_trust_root_chain` operation of the test vectors.
///
/// ```
/// # use cairn_core::crypto::{Algorithm, SigningKey};
/// # use cairn_core::trust::*;
/// let k = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let keys = vec![TrustedKey::new(k.public_key().clone(), RoleSet::of(&[Role::Root]), "root")];
/// let v1 = sign_root(&TrustRoot::initial("example.org/log", 0, 100, keys, Thresholds::default().with(Role::Root, 1)), &[&k])?;
/// let newest = verify_trust_root_chain(&v1, &[], 10)?;
/// assert_eq!((newest.root_version, newest.id()), (1, root_id(&v1.payload)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_trust_root_chain(
    pinned: &Envelope,
    chain: &[Envelope],
    now: UnixTime,
) -> Result<VerifiedRoot> {
    let pinned = VerifiedRoot::from_pinned(pinned).map_err(|e| e.context("pinned trust root"))?;
    verify_rotation_chain(&pinned, chain, now)
}
