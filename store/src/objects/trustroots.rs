//! The registry's trust root: create version 1, then move to new versions by dual-signed
//! rotation (trust module). Every version is checked with the verifier's own rules before it
//! is recorded.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::db::{Registry, Txn};
use crate::kernel::schema::{self, TRUST_ROOTS};
use crate::objects::keys::KeyStatus;
use crate::objects::seal::Passphrase;
use cairn_core::crypto::{KeyId, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::error::ErrorCode;
use cairn_core::ledger::Event;
use cairn_core::trust::{
    sign_root, verify_rotation_chain, verify_trust_root, Role, Thresholds, TrustRoot, TrustedKey,
    VerifiedRoot,
};
use cairn_core::UnixTime;

/// What a trust-root version lists: keys of this registry (with the roles, labels and
/// expiry their records give them), per-role thresholds, and the version's own expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRootSpec {
    /// Keys to list (active keys of this registry).
    pub keys: Vec<KeyId>,
    /// Per-role thresholds.
    pub thresholds: Thresholds,
    /// When this version stops being acceptable as the newest.
    pub expires_at: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TrustRootRecord {
    #[serde(with = "cairn_core::crypto::bytes_b64")]
    pub envelope: Vec<u8>,
    pub seq: u64,
}

/// A recorded trust-root version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTrustRoot {
    /// The verified root.
    pub root: VerifiedRoot,
    /// Its signed envelope (what verifiers pin or receive in a bundle's chain).
    pub envelope: Envelope,
    /// The `trust_root_updated` entry.
    pub seq: u64,
}

impl TrustRootRecord {
    pub(crate) fn stored(&self) -> StoreResult<StoredTrustRoot> {
        let bad = |e: cairn_core::Error| {
            StoreError::corrupt(format!("stored trust root: {}", e.detail()))
        };
        let envelope = Envelope::from_compact(&self.envelope).map_err(bad)?;
        let root = VerifiedRoot::from_pinned(&envelope).map_err(bad)?;
        Ok(StoredTrustRoot {
            root,
            envelope,
            seq: self.seq,
        })
    }
}

/// Every recorded version, oldest first.
pub(crate) fn all_roots(
    table: &impl ReadableTable<u64, &'static [u8]>,
) -> StoreResult<Vec<StoredTrustRoot>> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let rec: TrustRootRecord = schema::decode(row?.1.value(), "trust root")?;
        out.push(rec.stored()?);
    }
    Ok(out)
}

/// Whether key `id`, with `status`, may sign the move from trust root `current` to its next
/// version: an active key, or a root key of `current` rotated since (the chain needs a
/// threshold of `current`'s root keys), never a revoked one. The rule
/// [`Txn::update_trust_root`] applies, and `cairn root rotate` picks its default signers by.
pub fn signs_next_trust_root(
    current: Option<&cairn_core::trust::TrustRoot>,
    id: &KeyId,
    status: &KeyStatus,
) -> bool {
    match status {
        KeyStatus::Active => true,
        KeyStatus::Rotated { .. } => current
            .and_then(|r| r.role_of(id))
            .is_some_and(|roles| roles.contains(Role::Root)),
        KeyStatus::Revoked { .. } => false,
    }
}

impl Txn<'_> {
    fn build_root_keys(&self, spec: &TrustRootSpec) -> StoreResult<Vec<TrustedKey>> {
        // A token carries one signature, its issuer's: a higher threshold would promise an
        // n-of-m issuance that no verifier enforces.
        if spec.thresholds.get(Role::TokenIssuer) > 1 {
            return Err(StoreError::field(
                ErrorCode::Malformed,
                "thresholds",
                "a capability token carries one signature, its issuer's: the token-issuer threshold is at most 1",
            ));
        }
        let mut keys = Vec::with_capacity(spec.keys.len());
        for id in &spec.keys {
            let rec = self.key_record(id)?;
            if let KeyStatus::Revoked { .. } = rec.status {
                return Err(StoreError::new(
                    StoreCode::InvalidState,
                    format!("key {id} is revoked and cannot be listed in a trust root"),
                ));
            }
            // A rotated key may be listed so that what it signed before its rotation keeps
            // verifying offline; its window ends at the rotation, so nothing it signs later
            // does. An active key's window ends at its expiry.
            let (not_before, mut not_after) = crate::objects::tokens::key_window(&rec);
            // A rotated key's window here ends the second after its rotation: what it signed in
            // that second, before the rotation, is logged with that second's time, which an
            // offline verifier checks against the window; nothing it could sign later is logged
            // (the registry refuses a rotated key). Unrecorded tokens keep the stricter
            // window (`Unrecorded::AllowInKeyWindow`).
            if let KeyStatus::Rotated { at, .. } = rec.status {
                let end = at.saturating_add(1);
                not_after = Some(rec.expires_at.map_or(end, |x| x.min(end)));
            }
            if not_after.is_some_and(|end| end <= not_before) {
                return Err(StoreError::new(
                    StoreCode::InvalidState,
                    format!("key {id} was rotated or expired in the second it was added; its validity window is empty"),
                ));
            }
            keys.push(TrustedKey {
                public_key: rec.public_key.clone(),
                roles: rec.roles,
                not_before,
                not_after,
                label: rec.label.clone(),
            });
        }
        let log = self.log_key_id();
        if !keys
            .iter()
            .any(|k| k.key_id() == log && k.roles.contains(Role::Checkpoint))
        {
            return Err(StoreError::field(
                ErrorCode::Malformed,
                "keys",
                format!("the trust root must list the log key {log}, which signs the checkpoints"),
            ));
        }
        Ok(keys)
    }

    /// The signers' keys, each usable with the root role; or, for a move from `current`, a
    /// root key of `current` rotated since (not revoked): the chain needs a threshold of the
    /// current version's root keys, so without it a registry that rotated its root key could
    /// never rotate its trust root again, and verifiers pinned to the current version would
    /// never learn the new key.
    fn open_signers(
        &self,
        signers: &[(KeyId, Option<&Passphrase>)],
        current: Option<&VerifiedRoot>,
    ) -> StoreResult<Vec<std::sync::Arc<SigningKey>>> {
        signers
            .iter()
            .map(|(id, pass)| {
                let rec = self.key_record(id)?;
                if matches!(rec.status, KeyStatus::Rotated { .. })
                    && signs_next_trust_root(current.map(|r| r.root()), id, &rec.status)
                {
                    return self.reg.open_keys.unseal(&rec, *pass);
                }
                self.signer(id, *pass, Role::Root).map(|(_, sk)| sk)
            })
            .collect()
    }

    fn record_root(&mut self, env: &Envelope, root: &VerifiedRoot) -> StoreResult<StoredTrustRoot> {
        let seq = self.append(
            Event::TrustRootUpdated {
                root_version: root.root_version,
                root_id: root.id(),
            },
            &[],
        )?;
        let rec = TrustRootRecord {
            envelope: env.to_compact(),
            seq,
        };
        self.tx
            .open_table(TRUST_ROOTS)?
            .insert(root.root_version, schema::encode(&rec).as_slice())?;
        rec.stored()
    }

    /// The newest trust root, if the registry has one (read inside this transaction, so a
    /// decision taken under it sees the root the commit will be checked against).
    pub fn current_trust_root(&self) -> StoreResult<Option<StoredTrustRoot>> {
        self.current_root()
    }

    pub(crate) fn current_root(&self) -> StoreResult<Option<StoredTrustRoot>> {
        let t = self.tx.open_table(TRUST_ROOTS)?;
        let last = t.last()?;
        last.map(|(_, v)| schema::decode::<TrustRootRecord>(v.value(), "trust root")?.stored())
            .transpose()
    }

    /// Creates trust-root version 1, signed by `signers` (keys of this registry holding the
    /// root role; a threshold of the new root's own root keys must be among them).
    pub fn create_trust_root(
        &mut self,
        spec: &TrustRootSpec,
        signers: &[(KeyId, Option<&Passphrase>)],
    ) -> StoreResult<StoredTrustRoot> {
        if self.current_root()?.is_some() {
            return Err(StoreError::new(
                StoreCode::AlreadyExists,
                "the registry has a trust root; update it by rotation",
            ));
        }
        let now = self.now();
        let root = TrustRoot::initial(
            self.reg.origin(),
            now,
            spec.expires_at,
            self.build_root_keys(spec)?,
            spec.thresholds,
        );
        let sks = self.open_signers(signers, None)?;
        let env = sign_root(&root, &sks.iter().map(|k| &**k).collect::<Vec<_>>())?;
        let verified = verify_trust_root(&env, now)?;
        self.record_root(&env, &verified)
    }

    /// Moves to the next trust-root version. `signers` must include a threshold of the
    /// current version's root keys and of the new version's (dual signing); the new version
    /// is checked exactly as a verifier walking the rotation chain would.
    pub fn update_trust_root(
        &mut self,
        spec: &TrustRootSpec,
        signers: &[(KeyId, Option<&Passphrase>)],
    ) -> StoreResult<StoredTrustRoot> {
        let current = self.current_root()?.ok_or_else(|| {
            StoreError::new(
                StoreCode::InvalidState,
                "the registry has no trust root yet; create one",
            )
        })?;
        let now = self.now();
        let next = current.root.successor(
            now,
            spec.expires_at,
            self.build_root_keys(spec)?,
            spec.thresholds,
        );
        let sks = self.open_signers(signers, Some(&current.root))?;
        let env = sign_root(&next, &sks.iter().map(|k| &**k).collect::<Vec<_>>())?;
        let verified = verify_rotation_chain(&current.root, std::slice::from_ref(&env), now)?;
        self.record_root(&env, &verified)
    }
}

impl Registry {
    /// Creates trust-root version 1 (one transaction). See [`Txn::create_trust_root`].
    pub fn create_trust_root(
        &self,
        spec: &TrustRootSpec,
        signers: &[(KeyId, Option<&Passphrase>)],
    ) -> StoreResult<StoredTrustRoot> {
        self.write(|tx| tx.create_trust_root(spec, signers))
    }

    /// Rotates the trust root (one transaction). See [`Txn::update_trust_root`].
    pub fn update_trust_root(
        &self,
        spec: &TrustRootSpec,
        signers: &[(KeyId, Option<&Passphrase>)],
    ) -> StoreResult<StoredTrustRoot> {
        self.write(|tx| tx.update_trust_root(spec, signers))
    }

    /// The newest trust-root version (`not_found` before one is created).
    pub fn trust_root(&self) -> StoreResult<StoredTrustRoot> {
        self.trust_roots()?
            .pop()
            .ok_or_else(|| StoreError::not_found("the registry has no trust root yet"))
    }

    /// Every trust-root version, oldest first (a verifier pinning any of them walks forward).
    pub fn trust_roots(&self) -> StoreResult<Vec<StoredTrustRoot>> {
        self.read(|rtx| {
            let roots = all_roots(&rtx.open_table(TRUST_ROOTS)?)?;
            let proof = crate::objects::verified::Proof::new(self, &rtx)?;
            for r in &roots {
                proof.trust_root(r)?;
            }
            Ok(roots)
        })
    }
}
