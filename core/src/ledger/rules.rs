//! The ledger rule book: for every event kind, whether an entry is allowed given the state
//! the ledger describes so far — who must consent (sign the entry), which objects must exist
//! or must not, which roles and statuses the keys involved must have — and what it changes.
//!
//! This is the one place those rules live. A registry's writer checks every entry through
//! [`check_entry`] (over its own tables, through [`LedgerView`]) before committing it; its
//! audit and the verification of a ledger export replay every entry through
//! [`LedgerState::apply`], which calls the same [`check_entry`]. An entry the writer would
//! refuse is therefore refused on replay and on import, and the other way round.
//!
//! The match over [`Event`] is exhaustive (no wildcard arm): a new event kind does not
//! compile until its rule is written here.
//!
//! Consent is proven by signatures on the entry's DSSE envelope (payload type
//! [`LEDGER_ENTRY_TYPE`](super::LEDGER_ENTRY_TYPE), payload = the entry bytes). The log key
//! does not sign entries (it signs tree heads); the rule book only asks for the signatures of
//! the keys whose consent an event needs: both keys of a rotation, the revoker of a key, token
//! or manifest.
//!
//! Time rules use the entry's own `time`, so a replay decides exactly as the writer did.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::{Event, LedgerEntry, LEDGER_ENTRY_TYPE};
use crate::crypto::{KeyId, PublicKey};
use crate::dsse::Envelope;
use crate::encoding::{hex_encode, Digest};
use crate::error::{Error, ErrorCode};
use crate::trust::{Role, RoleSet};
use crate::UnixTime;

/// Where a key stands in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    /// In use.
    Active,
    /// Replaced by `successor` at entry `seq`; it signs nothing new.
    Rotated {
        /// The key that replaced it.
        successor: KeyId,
        /// The `key_rotated` entry.
        seq: u64,
        /// When.
        at: UnixTime,
    },
    /// Revoked at entry `seq`.
    Revoked {
        /// Why.
        reason: String,
        /// Who authorised it.
        revoker: KeyId,
        /// The `key_revoked` entry.
        seq: u64,
        /// When.
        at: UnixTime,
    },
}

/// A revocation as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Why.
    pub reason: String,
    /// The key that authorised it.
    pub revoker: KeyId,
    /// The revocation entry.
    pub seq: u64,
    /// When.
    pub at: UnixTime,
}

/// A key as the ledger describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerKey {
    /// The key.
    pub public_key: PublicKey,
    /// Its label.
    pub label: String,
    /// What it may sign.
    pub roles: RoleSet,
    /// When it stops being valid, if ever.
    pub expires_at: Option<UnixTime>,
    /// The `key_added` entry.
    pub added_seq: u64,
    /// Where it stands.
    pub status: KeyStatus,
}

impl LedgerKey {
    /// Checks the key may sign for `role` at `time`: active, unexpired and holding the role.
    pub fn check_usable(&self, role: Role, time: UnixTime) -> Result<(), Error> {
        self.check_active(time)?;
        if !self.roles.contains(role) {
            return Err(Error::new(
                ErrorCode::Unauthorized,
                format!(
                    "key {} does not hold the {} role",
                    self.public_key.key_id(),
                    role.name()
                ),
            ));
        }
        Ok(())
    }

    /// Checks the key may sign anything new at `time`: neither rotated nor revoked, and
    /// unexpired.
    pub fn check_active(&self, time: UnixTime) -> Result<(), Error> {
        let id = self.public_key.key_id();
        match &self.status {
            KeyStatus::Active => {}
            KeyStatus::Rotated { successor, .. } => {
                return Err(Error::new(
                    ErrorCode::Unauthorized,
                    format!("key {id} was rotated to {successor} and signs nothing new"),
                ))
            }
            KeyStatus::Revoked { reason, .. } => {
                return Err(Error::new(
                    ErrorCode::Revoked,
                    format!("key {id} is revoked: {reason}"),
                ))
            }
        }
        if self.expires_at.is_some_and(|t| time >= t) {
            return Err(Error::new(
                ErrorCode::Expired,
                format!("key {id} has expired"),
            ));
        }
        Ok(())
    }
}

/// A token as the ledger describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerToken {
    /// The `token_issued` entry.
    pub seq: u64,
    /// The key that signed it.
    pub issuer: KeyId,
    /// Who it is for.
    pub audience: String,
    /// When it expires.
    pub expires_at: UnixTime,
    /// Its revocation, if any.
    pub revoked: Option<Revocation>,
}

/// A manifest as the ledger describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerManifest {
    /// The `manifest_signed` entry.
    pub signed_seq: u64,
    /// The newest entry about it (signed or co-signed).
    pub last_seq: u64,
    /// The artifact's name.
    pub name: String,
    /// SHA-256 of the artifact.
    pub sha256: Digest,
    /// Every key that signed it, in order.
    pub signers: Vec<KeyId>,
    /// Its revocation, if any.
    pub revoked: Option<Revocation>,
}

/// A peer key as the ledger describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerPeerKey {
    /// The `peer_key_stored` entry.
    pub stored_seq: u64,
    /// The `peer_key_verified` entry, once verified.
    pub verified_seq: Option<u64>,
}

/// A registered handle as the ledger describes it (keyed by its blind index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerHandle {
    /// The `handle_registered` entry of its current identity.
    pub seq: u64,
    /// SHA-256 of the identity record as stored.
    pub identity_digest: Digest,
}

/// The state the rule book reads: what earlier entries established. A registry implements it
/// over its tables (inside the write transaction); [`LedgerState`] implements it in memory
/// for replays. `E` is the reader's error type (a storage error, or [`Error`] in memory).
pub trait LedgerView {
    /// The reader's error; rule violations arrive as [`Error`] through `From`.
    type Error: From<Error>;
    /// The key signing the log's tree heads (`None` before entry 0).
    fn log_key(&self) -> Result<Option<KeyId>, Self::Error>;
    /// A key added by an earlier entry.
    fn key(&self, id: &KeyId) -> Result<Option<LedgerKey>, Self::Error>;
    /// Whether a node is registered.
    fn node_registered(&self, node_id: &str) -> Result<bool, Self::Error>;
    /// A token issued by an earlier entry.
    fn token(&self, id: &Digest) -> Result<Option<LedgerToken>, Self::Error>;
    /// A manifest signed by an earlier entry.
    fn manifest(&self, digest: &Digest) -> Result<Option<LedgerManifest>, Self::Error>;
    /// The newest trust-root version recorded, if any.
    fn trust_root_version(&self) -> Result<Option<u64>, Self::Error>;
    /// A peer key stored by an earlier entry.
    fn peer_key(&self, peer_id: &str, key: &KeyId) -> Result<Option<LedgerPeerKey>, Self::Error>;
    /// A handle registered by an earlier entry, by blind index.
    fn handle(&self, blind_index: &Digest) -> Result<Option<LedgerHandle>, Self::Error>;
}

fn refuse(code: ErrorCode, detail: String) -> Error {
    Error::new(code, detail)
}

/// What a recorded token's own claims need, beyond what its `token_issued` entry says (the
/// entry carries neither the parent nor the holder, so [`check_entry`] cannot see this): a root
/// token's issuer holds the token-issuer role; a delegated token's parent was recorded before
/// it (by entry `seq`), and its issuer is the parent's holder. The writer applies it before it
/// records a token, the audit to every stored one.
///
/// `issuer_roles`: the roles of the key that signed it; `parent`: the parent's `token_issued`
/// entry and its holder's key id, when the ledger records the parent (`None` for a delegated
/// token whose parent it does not: refused).
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::ledger::check_token_authority;
/// use cairn_core::token::{TokenBuilder, TokenClaims};
/// use cairn_core::trust::{Role, RoleSet};
/// let k = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let token = TokenBuilder::new(k.public_key().clone()).audience("a.example").capability("read")
///     .validity(1, 2).issue(&k)?;
/// let claims = TokenClaims::from_payload(&token.payload)?;
/// assert!(check_token_authority(&claims, RoleSet::of(&[Role::TokenIssuer]), None, 5).is_ok());
/// assert!(check_token_authority(&claims, RoleSet::of(&[Role::Peer]), None, 5).is_err());
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn check_token_authority(
    claims: &crate::token::TokenClaims,
    issuer_roles: RoleSet,
    parent: Option<(u64, KeyId)>,
    seq: u64,
) -> Result<(), Error> {
    match (claims.parent, parent) {
        (None, _) if !issuer_roles.contains(Role::TokenIssuer) => Err(refuse(
            ErrorCode::Unauthorized,
            format!(
                "a root token issued by key {}, which does not hold the token-issuer role",
                claims.issuer
            ),
        )),
        (None, _) => Ok(()),
        (Some(p), None) => Err(refuse(
            ErrorCode::ChainBroken,
            format!(
                "a token delegated from token {}, which the ledger does not record",
                hex_encode(&p)
            ),
        )),
        (Some(p), Some((parent_seq, _))) if parent_seq >= seq => Err(refuse(
            ErrorCode::ChainBroken,
            format!(
                "a token delegated from token {}, recorded only by entry {parent_seq}",
                hex_encode(&p)
            ),
        )),
        (Some(p), Some((_, holder))) if holder != claims.issuer => Err(refuse(
            ErrorCode::KeyMismatch,
            format!(
                "a token delegated from token {} by key {}, not by that token's holder {holder}",
                hex_encode(&p),
                claims.issuer
            ),
        )),
        (Some(_), Some(_)) => Ok(()),
    }
}

fn known_key<V: LedgerView>(view: &V, id: &KeyId) -> Result<LedgerKey, V::Error> {
    view.key(id)?.ok_or_else(|| {
        refuse(
            ErrorCode::UnknownKey,
            format!("refers to key {id}, which no earlier entry added"),
        )
        .into()
    })
}

/// Checks that `signer` signed the entry: its consent to the event.
fn consent(envelope: &Envelope, key: &LedgerKey, why: &str) -> Result<(), Error> {
    envelope
        .verify(LEDGER_ENTRY_TYPE, core::slice::from_ref(&key.public_key), 1)
        .map(|_| ())
        .map_err(|e| e.context(&format!("consent of the {why} {}", key.public_key.key_id())))
}

/// A revoker's authority: the object's own party (`own`: the key itself, the token's issuer,
/// one of the manifest's signers) whatever its status, or an active, unexpired key holding
/// the root role. Its signature on the entry is its consent.
fn revoker_consents<V: LedgerView>(
    view: &V,
    envelope: &Envelope,
    revoker: &KeyId,
    own: bool,
    time: UnixTime,
) -> Result<(), V::Error> {
    let key = known_key(view, revoker)?;
    if !own {
        key.check_usable(Role::Root, time)
            .map_err(|e| e.context("the revoker"))?;
    }
    consent(envelope, &key, "revoker")?;
    Ok(())
}

/// A signer's authority to sign new objects in `role` at `time`.
fn signer_usable<V: LedgerView>(
    view: &V,
    id: &KeyId,
    role: Role,
    time: UnixTime,
) -> Result<(), V::Error> {
    known_key(view, id)?
        .check_usable(role, time)
        .map_err(|e| e.context("the signer").into())
}

/// The keys whose signatures on the entry prove the consent its event needs: the old and the
/// new key of a rotation, the revoker of a revocation, nobody otherwise. [`check_entry`]
/// requires exactly these; a writer signs with them and nothing else.
///
/// ```
/// use cairn_core::crypto::KeyId;
/// use cairn_core::ledger::{required_consents, Event};
/// let (a, b) = (KeyId([1; 32]), KeyId([2; 32]));
/// assert_eq!(required_consents(&Event::KeyRotated { old: a, new: b }), vec![a, b]);
/// assert!(required_consents(&Event::AuditNote { text: "x".into() }).is_empty());
/// ```
pub fn required_consents(event: &Event) -> Vec<KeyId> {
    match event {
        Event::KeyRotated { old, new } => alloc::vec![*old, *new],
        Event::KeyRevoked { revoker, .. }
        | Event::TokenRevoked { revoker, .. }
        | Event::ManifestRevoked { revoker, .. } => alloc::vec![*revoker],
        Event::KeyAdded { .. }
        | Event::TrustRootUpdated { .. }
        | Event::NodeRegistered { .. }
        | Event::NodeDeregistered { .. }
        | Event::TokenIssued { .. }
        | Event::ManifestSigned { .. }
        | Event::ManifestCosigned { .. }
        | Event::PeerKeyStored { .. }
        | Event::PeerKeyVerified { .. }
        | Event::PeerKeyRemoved { .. }
        | Event::Imported { .. }
        | Event::AuditNote { .. }
        | Event::HandleRegistered { .. }
        | Event::HandleRemoved { .. } => Vec::new(),
    }
}

/// Decides whether `entry` may follow the state `view` describes. `envelope` is the entry's
/// DSSE envelope, whose signatures prove the consents the event needs (its payload must be
/// the entry's bytes). Returns the first rule the entry breaks.
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::ledger::{sign_entry, Event, LedgerEntry, LedgerState, ZERO_HASH};
/// use cairn_core::trust::{Role, RoleSet};
/// let log = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let add = LedgerEntry::new(0, 10, ZERO_HASH, Event::KeyAdded {
///     public_key: log.public_key().clone(), label: "log".into(),
///     roles: RoleSet::of(&[Role::Checkpoint]), expires_at: None });
/// let mut state = LedgerState::new();
/// state.apply(&add, &sign_entry(&add, &[])?)?;
/// // Revoking the log key is never allowed (rotate it instead).
/// let revoke = LedgerEntry::new(1, 11, add.hash(), Event::KeyRevoked {
///     key_id: log.public_key().key_id(), reason: "x".into(), revoker: log.public_key().key_id() });
/// let err = state.apply(&revoke, &sign_entry(&revoke, &[&log])?).unwrap_err();
/// assert_eq!(err.code(), cairn_core::ErrorCode::Unauthorized);
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn check_entry<V: LedgerView>(
    view: &V,
    entry: &LedgerEntry,
    envelope: &Envelope,
) -> Result<(), V::Error> {
    let time = entry.time;
    let log_key = view.log_key()?;
    if log_key.is_none() && !matches!(entry.event, Event::KeyAdded { .. }) {
        return Err(refuse(
            ErrorCode::ChainBroken,
            "the first entry must add the log key".into(),
        )
        .into());
    }
    match &entry.event {
        Event::KeyAdded {
            public_key, roles, ..
        } => {
            let id = public_key.key_id();
            if view.key(&id)?.is_some() {
                return Err(
                    refuse(ErrorCode::Replayed, format!("key {id} was already added")).into(),
                );
            }
            if roles.is_empty() {
                return Err(refuse(ErrorCode::Malformed, format!("key {id} has no role")).into());
            }
            if log_key.is_none() && !roles.contains(Role::Checkpoint) {
                return Err(refuse(
                    ErrorCode::Unauthorized,
                    "the log key (entry 0) must hold the checkpoint role".into(),
                )
                .into());
            }
        }
        Event::KeyRotated { old, new } => {
            let old_key = known_key(view, old)?;
            let new_key = known_key(view, new)?;
            if old == new {
                return Err(refuse(
                    ErrorCode::ChainBroken,
                    format!("rotates key {old} to itself"),
                )
                .into());
            }
            if old_key.status != KeyStatus::Active {
                return Err(refuse(
                    ErrorCode::ChainBroken,
                    format!("rotates key {old}, which is not active"),
                )
                .into());
            }
            if new_key.status != KeyStatus::Active {
                return Err(refuse(
                    ErrorCode::ChainBroken,
                    format!("rotates to key {new}, which is not an active key"),
                )
                .into());
            }
            if new_key.roles != old_key.roles {
                return Err(refuse(
                    ErrorCode::Unauthorized,
                    format!("the successor {new} does not hold exactly the roles of {old}"),
                )
                .into());
            }
            consent(envelope, &old_key, "old key")?;
            consent(envelope, &new_key, "new key")?;
        }
        Event::KeyRevoked {
            key_id, revoker, ..
        } => {
            let key = known_key(view, key_id)?;
            if matches!(key.status, KeyStatus::Revoked { .. }) {
                return Err(refuse(
                    ErrorCode::Replayed,
                    format!("key {key_id} is already revoked"),
                )
                .into());
            }
            if log_key == Some(*key_id) {
                return Err(refuse(
                    ErrorCode::Unauthorized,
                    "the log key cannot be revoked; rotate it instead".into(),
                )
                .into());
            }
            revoker_consents(view, envelope, revoker, revoker == key_id, time)?;
        }
        Event::TrustRootUpdated { root_version, .. } => {
            let want = view.trust_root_version()?.map_or(1, |v| v + 1);
            if *root_version != want {
                return Err(refuse(
                    ErrorCode::ChainBroken,
                    format!(
                        "trust root version {root_version} recorded where version {want} is next"
                    ),
                )
                .into());
            }
        }
        Event::NodeRegistered { .. } => {}
        Event::NodeDeregistered { node_id, .. } => {
            if !view.node_registered(node_id)? {
                return Err(refuse(
                    ErrorCode::ChainBroken,
                    format!("deregisters node {node_id:?}, which is not registered"),
                )
                .into());
            }
        }
        Event::TokenIssued {
            token_id, issuer, ..
        } => {
            if view.token(token_id)?.is_some() {
                return Err(refuse(
                    ErrorCode::Replayed,
                    format!("token {} was already issued", hex_encode(token_id)),
                )
                .into());
            }
            // A root token's issuer holds the token-issuer role; a delegated token is signed
            // by its parent's holder, a key of this registry. Either way the key must be
            // active and unexpired when the token is recorded.
            known_key(view, issuer)?
                .check_active(time)
                .map_err(|e| e.context("the issuer"))?;
        }
        Event::TokenRevoked {
            token_id, revoker, ..
        } => {
            let token = view.token(token_id)?.ok_or_else(|| {
                refuse(
                    ErrorCode::ChainBroken,
                    format!(
                        "revokes token {}, which was never issued",
                        hex_encode(token_id)
                    ),
                )
            })?;
            if token.revoked.is_some() {
                return Err(refuse(
                    ErrorCode::Replayed,
                    format!("token {} is already revoked", hex_encode(token_id)),
                )
                .into());
            }
            revoker_consents(view, envelope, revoker, *revoker == token.issuer, time)?;
        }
        Event::ManifestSigned {
            manifest_digest,
            signers,
            ..
        } => {
            if view.manifest(manifest_digest)?.is_some() {
                return Err(refuse(
                    ErrorCode::Replayed,
                    format!(
                        "manifest {} was already signed",
                        hex_encode(manifest_digest)
                    ),
                )
                .into());
            }
            for s in signers {
                signer_usable(view, s, Role::ManifestSigner, time)?;
            }
        }
        Event::ManifestCosigned {
            manifest_digest,
            signers,
        } => {
            let m = view.manifest(manifest_digest)?.ok_or_else(|| {
                refuse(
                    ErrorCode::ChainBroken,
                    format!(
                        "co-signs manifest {}, which was never signed",
                        hex_encode(manifest_digest)
                    ),
                )
            })?;
            if m.revoked.is_some() {
                return Err(refuse(
                    ErrorCode::Revoked,
                    format!("manifest {} is revoked", hex_encode(manifest_digest)),
                )
                .into());
            }
            // A manifest's envelope carries every signature it has, so no more signers than
            // an envelope holds: the writer cannot record more, and a replay stays linear.
            if m.signers.len().saturating_add(signers.len()) > crate::dsse::MAX_SIGNATURES {
                return Err(refuse(
                    ErrorCode::TooLarge,
                    format!(
                        "manifest {} would have more than {} signers",
                        hex_encode(manifest_digest),
                        crate::dsse::MAX_SIGNATURES
                    ),
                )
                .into());
            }
            for s in signers {
                if m.signers.contains(s) {
                    return Err(refuse(
                        ErrorCode::Replayed,
                        format!("key {s} already signed this manifest"),
                    )
                    .into());
                }
                signer_usable(view, s, Role::ManifestSigner, time)?;
            }
        }
        Event::ManifestRevoked {
            manifest_digest,
            revoker,
            ..
        } => {
            let m = view.manifest(manifest_digest)?.ok_or_else(|| {
                refuse(
                    ErrorCode::ChainBroken,
                    format!(
                        "revokes manifest {}, which was never signed",
                        hex_encode(manifest_digest)
                    ),
                )
            })?;
            if m.revoked.is_some() {
                return Err(refuse(
                    ErrorCode::Replayed,
                    format!(
                        "manifest {} is already revoked",
                        hex_encode(manifest_digest)
                    ),
                )
                .into());
            }
            revoker_consents(view, envelope, revoker, m.signers.contains(revoker), time)?;
        }
        Event::PeerKeyStored { peer_id, key_id } => {
            if view.peer_key(peer_id, key_id)?.is_some() {
                return Err(refuse(
                    ErrorCode::Replayed,
                    format!("key {key_id} of peer {peer_id:?} is already stored"),
                )
                .into());
            }
        }
        Event::PeerKeyVerified { peer_id, key_id } => match view.peer_key(peer_id, key_id)? {
            None => {
                return Err(refuse(
                    ErrorCode::ChainBroken,
                    format!("verifies key {key_id} of peer {peer_id:?}, which is not stored"),
                )
                .into())
            }
            Some(p) if p.verified_seq.is_some() => {
                return Err(refuse(
                    ErrorCode::Replayed,
                    format!("key {key_id} of peer {peer_id:?} is already verified"),
                )
                .into())
            }
            Some(_) => {}
        },
        Event::PeerKeyRemoved {
            peer_id, key_id, ..
        } => {
            if view.peer_key(peer_id, key_id)?.is_none() {
                return Err(refuse(
                    ErrorCode::ChainBroken,
                    format!("removes key {key_id} of peer {peer_id:?}, which is not stored"),
                )
                .into());
            }
        }
        // Provenance and operator notes change no state and need no consent.
        Event::Imported { .. } | Event::AuditNote { .. } => {}
        // A registration takes a free handle; a re-registration names the identity it
        // replaces, which must be the current one (no silent overwrite, even on replay).
        Event::HandleRegistered {
            blind_index,
            previous,
            ..
        } => match (view.handle(blind_index)?, previous) {
            (None, None) => {}
            (Some(_), None) => {
                return Err(refuse(
                    ErrorCode::Replayed,
                    format!("handle {} is already registered", hex_encode(blind_index)),
                )
                .into())
            }
            (None, Some(_)) => {
                return Err(refuse(
                    ErrorCode::ChainBroken,
                    format!(
                        "re-registers handle {}, which is not registered",
                        hex_encode(blind_index)
                    ),
                )
                .into())
            }
            (Some(h), Some(p)) if h.identity_digest != p.0 => {
                return Err(refuse(
                    ErrorCode::DigestMismatch,
                    format!(
                        "re-registers handle {} replacing an identity it does not hold",
                        hex_encode(blind_index)
                    ),
                )
                .into())
            }
            (Some(_), Some(_)) => {}
        },
        Event::HandleRemoved {
            blind_index,
            identity_digest,
            ..
        } => match view.handle(blind_index)? {
            None => {
                return Err(refuse(
                    ErrorCode::ChainBroken,
                    format!(
                        "removes handle {}, which is not registered",
                        hex_encode(blind_index)
                    ),
                )
                .into())
            }
            Some(h) if h.identity_digest != *identity_digest => {
                return Err(refuse(
                    ErrorCode::DigestMismatch,
                    format!(
                        "removes handle {} naming an identity it does not hold",
                        hex_encode(blind_index)
                    ),
                )
                .into())
            }
            Some(_) => {}
        },
    }
    Ok(())
}

/// The whole state a ledger describes, in memory, built by replaying its entries in order
/// through the rule book. Used by audits and by the verification of ledger exports.
#[derive(Debug, Clone, Default)]
pub struct LedgerState {
    /// Log key after each size at which it changed: (first entry it covers, key).
    log_keys: Vec<(u64, KeyId)>,
    /// Every key ever added.
    pub keys: BTreeMap<KeyId, LedgerKey>,
    /// Registered nodes: id → (entry, spec digest).
    pub nodes: BTreeMap<String, (u64, Digest)>,
    /// Every token ever issued.
    pub tokens: BTreeMap<Digest, LedgerToken>,
    /// Every manifest ever signed.
    pub manifests: BTreeMap<Digest, LedgerManifest>,
    /// Trust-root versions: version → (entry, root id).
    pub trust_roots: BTreeMap<u64, (u64, Digest)>,
    /// Stored peer keys: (peer id, key id) → state.
    pub peer_keys: BTreeMap<(String, KeyId), LedgerPeerKey>,
    /// Registered handles: blind index → state.
    pub handles: BTreeMap<Digest, LedgerHandle>,
    /// Sequence numbers applied so far (the next entry's `seq`).
    pub size: u64,
}

impl LedgerView for LedgerState {
    type Error = Error;
    fn log_key(&self) -> Result<Option<KeyId>, Error> {
        Ok(self.log_keys.last().map(|(_, k)| *k))
    }
    fn key(&self, id: &KeyId) -> Result<Option<LedgerKey>, Error> {
        Ok(self.keys.get(id).cloned())
    }
    fn node_registered(&self, node_id: &str) -> Result<bool, Error> {
        Ok(self.nodes.contains_key(node_id))
    }
    fn token(&self, id: &Digest) -> Result<Option<LedgerToken>, Error> {
        Ok(self.tokens.get(id).cloned())
    }
    fn manifest(&self, digest: &Digest) -> Result<Option<LedgerManifest>, Error> {
        Ok(self.manifests.get(digest).cloned())
    }
    fn trust_root_version(&self) -> Result<Option<u64>, Error> {
        Ok(self.trust_roots.keys().next_back().copied())
    }
    fn peer_key(&self, peer_id: &str, key: &KeyId) -> Result<Option<LedgerPeerKey>, Error> {
        Ok(self.peer_keys.get(&(String::from(peer_id), *key)).copied())
    }
    fn handle(&self, blind_index: &Digest) -> Result<Option<LedgerHandle>, Error> {
        Ok(self.handles.get(blind_index).copied())
    }
}

impl LedgerState {
    /// The empty state, before entry 0.
    pub fn new() -> LedgerState {
        LedgerState::default()
    }

    /// The key signing the tree heads that cover entries from `size` on (`None` before
    /// entry 0).
    pub fn log_key_at(&self, size: u64) -> Option<KeyId> {
        self.log_keys
            .iter()
            .rev()
            .find(|(from, _)| *from <= size)
            .map(|(_, k)| *k)
    }

    /// The current log key.
    pub fn log_key(&self) -> Option<KeyId> {
        self.log_keys.last().map(|(_, k)| *k)
    }

    /// The trust root a checkpoint of this state names: the newest version recorded, `None`
    /// before the first (see [`check_checkpoint_claims`](super::check_checkpoint_claims)).
    pub fn trust_root_ref(&self) -> Option<crate::checkpoint::TrustRootRef> {
        self.trust_roots
            .iter()
            .next_back()
            .map(|(version, (_, id))| crate::checkpoint::TrustRootRef {
                version: *version,
                id: *id,
            })
    }

    /// Checks `entry` against the rule book ([`check_entry`]) and, if allowed, applies it.
    /// `entry.seq` must be the next sequence number (`chain_broken` otherwise); the hash chain
    /// itself is [`ChainVerifier`](super::ChainVerifier)'s job.
    pub fn apply(&mut self, entry: &LedgerEntry, envelope: &Envelope) -> Result<(), Error> {
        let seq = entry.seq;
        let ctx = |e: Error| e.context(&format!("ledger entry {seq}"));
        if seq != self.size {
            return Err(ctx(refuse(
                ErrorCode::ChainBroken,
                format!("expected entry {}", self.size),
            )));
        }
        check_entry(self, entry, envelope).map_err(ctx)?;
        let time = entry.time;
        match &entry.event {
            Event::KeyAdded {
                public_key,
                label,
                roles,
                expires_at,
            } => {
                let id = public_key.key_id();
                if self.log_keys.is_empty() {
                    self.log_keys.push((0, id));
                }
                self.keys.insert(
                    id,
                    LedgerKey {
                        public_key: public_key.clone(),
                        label: label.clone(),
                        roles: *roles,
                        expires_at: *expires_at,
                        added_seq: seq,
                        status: KeyStatus::Active,
                    },
                );
            }
            Event::KeyRotated { old, new } => {
                if let Some(k) = self.keys.get_mut(old) {
                    k.status = KeyStatus::Rotated {
                        successor: *new,
                        seq,
                        at: time,
                    };
                }
                if self.log_key() == Some(*old) {
                    self.log_keys.push((seq + 1, *new));
                }
            }
            Event::KeyRevoked {
                key_id,
                reason,
                revoker,
            } => {
                if let Some(k) = self.keys.get_mut(key_id) {
                    k.status = KeyStatus::Revoked {
                        reason: reason.clone(),
                        revoker: *revoker,
                        seq,
                        at: time,
                    };
                }
            }
            Event::TrustRootUpdated {
                root_version,
                root_id,
            } => {
                self.trust_roots.insert(*root_version, (seq, *root_id));
            }
            Event::NodeRegistered {
                node_id,
                spec_digest,
            } => {
                self.nodes.insert(node_id.clone(), (seq, *spec_digest));
            }
            Event::NodeDeregistered { node_id, .. } => {
                self.nodes.remove(node_id);
            }
            Event::TokenIssued {
                token_id,
                issuer,
                audience,
                expires_at,
            } => {
                self.tokens.insert(
                    *token_id,
                    LedgerToken {
                        seq,
                        issuer: *issuer,
                        audience: audience.clone(),
                        expires_at: *expires_at,
                        revoked: None,
                    },
                );
            }
            Event::TokenRevoked {
                token_id,
                reason,
                revoker,
            } => {
                if let Some(t) = self.tokens.get_mut(token_id) {
                    t.revoked = Some(Revocation {
                        reason: reason.clone(),
                        revoker: *revoker,
                        seq,
                        at: time,
                    });
                }
            }
            Event::ManifestSigned {
                manifest_digest,
                artifact_name,
                artifact_sha256,
                signers,
            } => {
                self.manifests.insert(
                    *manifest_digest,
                    LedgerManifest {
                        signed_seq: seq,
                        last_seq: seq,
                        name: artifact_name.clone(),
                        sha256: *artifact_sha256,
                        signers: signers.clone(),
                        revoked: None,
                    },
                );
            }
            Event::ManifestCosigned {
                manifest_digest,
                signers,
            } => {
                if let Some(m) = self.manifests.get_mut(manifest_digest) {
                    m.signers.extend(signers.iter().copied());
                    m.last_seq = seq;
                }
            }
            Event::ManifestRevoked {
                manifest_digest,
                reason,
                revoker,
            } => {
                if let Some(m) = self.manifests.get_mut(manifest_digest) {
                    m.revoked = Some(Revocation {
                        reason: reason.clone(),
                        revoker: *revoker,
                        seq,
                        at: time,
                    });
                }
            }
            Event::PeerKeyStored { peer_id, key_id } => {
                self.peer_keys.insert(
                    (peer_id.clone(), *key_id),
                    LedgerPeerKey {
                        stored_seq: seq,
                        verified_seq: None,
                    },
                );
            }
            Event::PeerKeyVerified { peer_id, key_id } => {
                if let Some(p) = self.peer_keys.get_mut(&(peer_id.clone(), *key_id)) {
                    p.verified_seq = Some(seq);
                }
            }
            Event::PeerKeyRemoved {
                peer_id, key_id, ..
            } => {
                self.peer_keys.remove(&(peer_id.clone(), *key_id));
            }
            Event::Imported { .. } | Event::AuditNote { .. } => {}
            Event::HandleRegistered {
                blind_index,
                identity_digest,
                ..
            } => {
                self.handles.insert(
                    *blind_index,
                    LedgerHandle {
                        seq,
                        identity_digest: *identity_digest,
                    },
                );
            }
            Event::HandleRemoved { blind_index, .. } => {
                self.handles.remove(blind_index);
            }
        }
        self.size = seq + 1;
        Ok(())
    }
}
