//! Trust roots and their rotation chains.
//!
//! A trust root is the one thing a verifier pins: a versioned, signed list of keys with
//! [`Role`]s, validity windows and per-role thresholds. It travels as a DSSE [`Envelope`]
//! with payload type [`TRUST_ROOT_TYPE`] whose payload is the postcard encoding of
//! [`TrustRoot`].
//!
//! Rotation: version n+1 names version n by its [`root_id`] and must carry a threshold of
//! signatures from version n's root keys *and* from its own root keys (dual signing), so a
//! verifier holding any old version walks forward with [`verify_rotation_chain`] and an
//! attacker holding only new keys (or only old ones) cannot publish a successor.
//!
//! The root id is SHA-256 over the DSSE pre-authentication encoding of the payload, not over
//! the envelope: signatures can be added (or re-made, ML-DSA signing being randomised) without
//! changing the id that version n+1 commits to, and JSON and compact envelopes of one root
//! share one id.

mod roles;
mod verify;

pub use roles::{Role, RoleSet};
pub use verify::{verify_rotation_chain, verify_trust_root, verify_trust_root_chain, VerifiedRoot};

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::crypto::{KeyId, PublicKey};
use crate::dsse::{pae, Envelope};
use crate::encoding::{from_postcard_canonical, sha256, to_postcard, Digest};
use crate::error::{Error, ErrorCode, Result};
use crate::UnixTime;

/// DSSE payload type of a trust root.
pub const TRUST_ROOT_TYPE: &str = "application/vnd.cairn.trust-root.v1+postcard";
/// The format version this build reads and writes (first byte of the payload).
pub const TRUST_ROOT_VERSION: u8 = 1;
/// Largest trust-root payload accepted.
pub const MAX_TRUST_ROOT_LEN: usize = 128 * 1024;
/// Most keys one trust root may list.
pub const MAX_KEYS: usize = 32;
/// Longest origin (the name of the registry the root governs), in bytes.
pub const MAX_ORIGIN_LEN: usize = 256;
/// Longest key label, in bytes.
pub const MAX_LABEL_LEN: usize = 128;

/// A key the root trusts, with what it may sign and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKey {
    /// The public key (its algorithm travels with it).
    pub public_key: PublicKey,
    /// What the key may sign; never empty.
    pub roles: RoleSet,
    /// First second the key is valid (inclusive).
    pub not_before: UnixTime,
    /// First second the key is no longer valid (exclusive); `None` for no end.
    pub not_after: Option<UnixTime>,
    /// Human-readable label (at most [`MAX_LABEL_LEN`] bytes).
    pub label: String,
}

impl TrustedKey {
    /// A key valid from the epoch with no end.
    pub fn new(public_key: PublicKey, roles: RoleSet, label: &str) -> TrustedKey {
        TrustedKey {
            public_key,
            roles,
            not_before: 0,
            not_after: None,
            label: label.into(),
        }
    }

    /// The key's id.
    pub fn key_id(&self) -> KeyId {
        self.public_key.key_id()
    }

    /// True if `at` lies in `[not_before, not_after)`.
    pub fn is_valid_at(&self, at: UnixTime) -> bool {
        at >= self.not_before && self.not_after.is_none_or(|end| at < end)
    }
}

/// How many distinct keys of each role must sign. A role no key holds has threshold 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Thresholds {
    /// Signatures needed on a new root version (from this version's root keys).
    pub root: u8,
    /// Signatures needed on a checkpoint or ledger entry.
    pub checkpoint: u8,
    /// Signatures needed on a capability token.
    pub token_issuer: u8,
    /// Signatures needed on an artifact manifest.
    pub manifest_signer: u8,
    /// Signatures needed to vouch for a peer key.
    pub peer: u8,
}

impl Thresholds {
    /// The threshold of `role`.
    pub fn get(&self, role: Role) -> u8 {
        match role {
            Role::Root => self.root,
            Role::Checkpoint => self.checkpoint,
            Role::TokenIssuer => self.token_issuer,
            Role::ManifestSigner => self.manifest_signer,
            Role::Peer => self.peer,
        }
    }

    /// The thresholds with `role`'s replaced by `t`.
    pub fn with(mut self, role: Role, t: u8) -> Thresholds {
        match role {
            Role::Root => self.root = t,
            Role::Checkpoint => self.checkpoint = t,
            Role::TokenIssuer => self.token_issuer = t,
            Role::ManifestSigner => self.manifest_signer = t,
            Role::Peer => self.peer = t,
        }
        self
    }
}

/// One version of a trust root: the payload of a trust-root envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustRoot {
    /// Format version, [`TRUST_ROOT_VERSION`].
    pub version: u8,
    /// The root's own version number n: 1 for the first, n+1 for each rotation.
    pub root_version: u64,
    /// Name of the registry (log) this root governs; unchanged across rotations.
    pub origin: String,
    /// When this version was made; signatures by root keys are judged at this time.
    pub issued_at: UnixTime,
    /// When this version stops being acceptable as the newest (exclusive).
    pub expires_at: UnixTime,
    /// The trusted keys (1 to [`MAX_KEYS`], distinct).
    pub keys: Vec<TrustedKey>,
    /// Per-role thresholds.
    pub thresholds: Thresholds,
    /// [`root_id`] of version n-1; `None` exactly when `root_version` is 1.
    #[serde(with = "opt_hex32")]
    pub previous: Option<Digest>,
}

/// The id of a trust-root version: SHA-256(PAE([`TRUST_ROOT_TYPE`], payload)).
///
/// ```
/// use cairn_core::trust::{root_id, TRUST_ROOT_TYPE};
/// let pae = cairn_core::dsse::pae(TRUST_ROOT_TYPE, b"x");
/// assert_eq!(root_id(b"x"), cairn_core::encoding::sha256(&[&pae]));
/// ```
pub fn root_id(payload: &[u8]) -> Digest {
    sha256(&[&pae(TRUST_ROOT_TYPE, payload)])
}

fn too_large(what: &str, len: usize, max: usize) -> Error {
    Error::new(
        ErrorCode::TooLarge,
        alloc::format!("{what} is {len} bytes, the limit is {max}"),
    )
}

impl TrustRoot {
    /// A first version (root_version 1, no previous).
    pub fn initial(
        origin: &str,
        issued_at: UnixTime,
        expires_at: UnixTime,
        keys: Vec<TrustedKey>,
        thresholds: Thresholds,
    ) -> TrustRoot {
        TrustRoot {
            version: TRUST_ROOT_VERSION,
            root_version: 1,
            origin: origin.into(),
            issued_at,
            expires_at,
            keys,
            thresholds,
            previous: None,
        }
    }

    /// The payload bytes: postcard, canonical.
    pub fn to_bytes(&self) -> Vec<u8> {
        to_postcard(self)
    }

    /// Decodes and checks a payload: `unsupported_version` for another format version,
    /// `malformed` / `too_large` for anything that breaks the rules of [`TrustRoot::validate`]
    /// or is not the canonical encoding.
    ///
    /// ```
    /// use cairn_core::trust::TrustRoot;
    /// assert_eq!(TrustRoot::from_bytes(&[2]).unwrap_err().code().as_str(), "unsupported_version");
    /// assert_eq!(TrustRoot::from_bytes(&[1, 1]).unwrap_err().code().as_str(), "malformed");
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<TrustRoot> {
        if bytes.len() > MAX_TRUST_ROOT_LEN {
            return Err(too_large("trust root", bytes.len(), MAX_TRUST_ROOT_LEN));
        }
        match bytes.first() {
            None => return Err(Error::malformed("trust root: empty payload")),
            Some(&TRUST_ROOT_VERSION) => {}
            Some(v) => {
                return Err(Error::new(
                    ErrorCode::UnsupportedVersion,
                    alloc::format!("trust root format version {v} is not supported"),
                ))
            }
        }
        let root: TrustRoot = from_postcard_canonical(bytes, MAX_TRUST_ROOT_LEN, "trust root")?;
        root.validate()?;
        Ok(root)
    }

    /// The id of this version ([`root_id`] of its payload).
    pub fn id(&self) -> Digest {
        root_id(&self.to_bytes())
    }

    /// Checks the structural rules: known format version; root_version ≥ 1 with `previous`
    /// present exactly when it is above 1; origin of 1 to 256 bytes without control
    /// characters; `issued_at < expires_at`; 1 to 32 distinct keys, each with at least one
    /// role, a label of at most 128 bytes and `not_before < not_after`; and for every role,
    /// a threshold between 1 and the number of keys holding it, or 0 if no key holds it.
    /// At least one key must hold the root role.
    pub fn validate(&self) -> Result<()> {
        if self.version != TRUST_ROOT_VERSION {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                alloc::format!(
                    "trust root format version {} is not supported",
                    self.version
                ),
            ));
        }
        if self.root_version == 0 {
            return Err(Error::malformed("trust root: root_version starts at 1"));
        }
        if (self.root_version == 1) != self.previous.is_none() {
            return Err(Error::malformed(
                "trust root: previous must be absent for version 1 and present after",
            ));
        }
        if self.origin.is_empty() || self.origin.chars().any(char::is_control) {
            return Err(Error::malformed(
                "trust root: origin must be non-empty text without control characters",
            ));
        }
        if self.origin.len() > MAX_ORIGIN_LEN {
            return Err(too_large(
                "trust root origin",
                self.origin.len(),
                MAX_ORIGIN_LEN,
            ));
        }
        if self.issued_at >= self.expires_at {
            return Err(Error::malformed(
                "trust root: expires_at must be after issued_at",
            ));
        }
        if self.keys.is_empty() {
            return Err(Error::malformed("trust root: no keys"));
        }
        if self.keys.len() > MAX_KEYS {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!(
                    "trust root lists {} keys, the limit is {MAX_KEYS}",
                    self.keys.len()
                ),
            ));
        }
        let mut ids: Vec<KeyId> = Vec::with_capacity(self.keys.len());
        for (i, k) in self.keys.iter().enumerate() {
            k.validate()
                .map_err(|e| e.context(&alloc::format!("trust root key {i}")))?;
            let id = k.key_id();
            if ids.contains(&id) {
                return Err(Error::malformed(alloc::format!(
                    "trust root: key {id} is listed twice"
                )));
            }
            ids.push(id);
        }
        for role in Role::ALL {
            let holders = self.keys.iter().filter(|k| k.roles.contains(role)).count();
            let t = usize::from(self.thresholds.get(role));
            let sane = if holders == 0 {
                t == 0
            } else {
                (1..=holders).contains(&t)
            };
            if !sane {
                return Err(Error::malformed(alloc::format!(
                    "trust root: threshold {t} for role {role} held by {holders} keys"
                )));
            }
        }
        if self.thresholds.root == 0 {
            return Err(Error::malformed("trust root: no key holds the root role"));
        }
        Ok(())
    }

    /// Keys holding `role` whose validity window contains `at`.
    ///
    /// ```
    /// # use cairn_core::crypto::{Algorithm, SigningKey};
    /// use cairn_core::trust::{Role, RoleSet, Thresholds, TrustRoot, TrustedKey};
    /// let (r, c) = (SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]), SigningKey::from_seed(Algorithm::MlDsa44, &[2; 32]));
    /// let mut log = TrustedKey::new(c.public_key().clone(), RoleSet::of(&[Role::Checkpoint]), "log");
    /// log.not_after = Some(1_000);
    /// let root = TrustRoot::initial("example.org/log", 0, 5_000,
    ///     vec![TrustedKey::new(r.public_key().clone(), RoleSet::of(&[Role::Root]), "root"), log],
    ///     Thresholds::default().with(Role::Root, 1).with(Role::Checkpoint, 1));
    /// assert_eq!(root.keys_for(Role::Checkpoint, 999).count(), 1);
    /// assert_eq!(root.keys_for(Role::Checkpoint, 1_000).count(), 0);
    /// assert_eq!(root.authorize(&c.public_key().key_id(), Role::Checkpoint, 1_000).unwrap_err().code().as_str(), "unauthorized");
    /// ```
    pub fn keys_for(&self, role: Role, at: UnixTime) -> impl Iterator<Item = &TrustedKey> {
        self.keys
            .iter()
            .filter(move |k| k.roles.contains(role) && k.is_valid_at(at))
    }

    /// The public keys of [`TrustRoot::keys_for`], ready for [`Envelope::verify`].
    pub fn public_keys_for(&self, role: Role, at: UnixTime) -> Vec<PublicKey> {
        self.keys_for(role, at)
            .map(|k| k.public_key.clone())
            .collect()
    }

    /// How many distinct keys of `role` must sign (0 if no key holds the role).
    pub fn threshold(&self, role: Role) -> usize {
        usize::from(self.thresholds.get(role))
    }

    /// The listed key with this id.
    pub fn key(&self, key_id: &KeyId) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.key_id() == *key_id)
    }

    /// The roles of the listed key with this id (ignoring validity windows).
    pub fn role_of(&self, key_id: &KeyId) -> Option<RoleSet> {
        self.key(key_id).map(|k| k.roles)
    }

    /// Checks that `key_id` may act as `role` at `at`: `unknown_key` if the root does not
    /// list it, `unauthorized` if it lacks the role or its window excludes `at`.
    pub fn authorize(&self, key_id: &KeyId, role: Role, at: UnixTime) -> Result<&TrustedKey> {
        let key = self.key(key_id).ok_or_else(|| {
            Error::new(
                ErrorCode::UnknownKey,
                alloc::format!(
                    "key {key_id} is not in trust root version {}",
                    self.root_version
                ),
            )
        })?;
        if !key.roles.contains(role) {
            return Err(Error::new(
                ErrorCode::Unauthorized,
                alloc::format!("key {key_id} does not hold the {role} role"),
            ));
        }
        if !key.is_valid_at(at) {
            return Err(Error::new(
                ErrorCode::Unauthorized,
                alloc::format!("key {key_id} is not valid at {at}"),
            ));
        }
        Ok(key)
    }

    /// An unsigned envelope carrying this root, after [`TrustRoot::validate`].
    pub fn to_envelope(&self) -> Result<Envelope> {
        self.validate()?;
        Envelope::new(TRUST_ROOT_TYPE, self.to_bytes())
    }
}

impl TrustedKey {
    fn validate(&self) -> Result<()> {
        if self.roles.is_empty() {
            return Err(Error::malformed("key holds no role"));
        }
        if self.label.len() > MAX_LABEL_LEN {
            return Err(too_large("key label", self.label.len(), MAX_LABEL_LEN));
        }
        if self.not_after.is_some_and(|end| end <= self.not_before) {
            return Err(Error::malformed("key validity window is empty"));
        }
        Ok(())
    }
}

/// Signs `root` with every key of `signers` (feature `std`): for a rotation, pass a
/// threshold of the previous version's root keys and of the new version's. A key appearing
/// twice (it may hold the root role in both versions) signs once.
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::trust::{sign_root, verify_trust_root, Role, RoleSet, Thresholds, TrustRoot, TrustedKey};
/// let k = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let keys = vec![TrustedKey::new(k.public_key().clone(), RoleSet::of(&[Role::Root]), "root")];
/// let root = TrustRoot::initial("example.org/log", 100, 1_000, keys, Thresholds::default().with(Role::Root, 1));
/// let env = sign_root(&root, &[&k])?;
/// assert_eq!(verify_trust_root(&env, 500)?.root_version, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "std")]
pub fn sign_root(root: &TrustRoot, signers: &[&crate::crypto::SigningKey]) -> Result<Envelope> {
    let mut env = root.to_envelope()?;
    let mut done: Vec<KeyId> = Vec::new();
    for k in signers {
        let id = k.public_key().key_id();
        if !done.contains(&id) {
            env.sign(k)?;
            done.push(id);
        }
    }
    Ok(env)
}

/// Serde helper: an optional digest, as hex in JSON and as postcard's option of 32 bytes.
mod opt_hex32 {
    use crate::encoding::Digest;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Wrap(#[serde(with = "crate::encoding::hex32")] Digest);

    pub fn serialize<S: Serializer>(d: &Option<Digest>, s: S) -> Result<S::Ok, S::Error> {
        d.map(Wrap).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Digest>, D::Error> {
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}
