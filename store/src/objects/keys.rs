//! Keys: generate, import, export, list, rotate, revoke.
//!
//! A key record holds the public key, what the ledger's `key_added` entry said about it
//! (label, roles, expiry), its status, and — for keys whose private half the registry holds —
//! the [`Sealed`] secret. Rotation and revocation entries carry the signatures of the keys
//! that consent to them (old and new key; the revoker), besides the log key's.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::db::{Registry, Txn};
use crate::kernel::schema::{self, ReadTables, KEYS};
use crate::objects::seal::{KdfParams, Passphrase, Protection, Sealed};
use cairn_core::crypto::{pem, Algorithm, KeyId, PublicKey, SigningKey};
use cairn_core::error::ErrorCode;
use cairn_core::ledger::{Event, MAX_LABEL_LEN, MAX_REASON_LEN};
use cairn_core::trust::{Role, RoleSet};
use cairn_core::UnixTime;

/// What a new key is for: the fields its `key_added` entry records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// Human-readable label (at most 128 bytes).
    pub label: String,
    /// What the key may sign (not empty).
    pub roles: RoleSet,
    /// When the key stops being valid, if ever.
    pub expires_at: Option<UnixTime>,
}

impl KeySpec {
    /// A key with `label` and `roles`, valid with no end.
    pub fn new(label: &str, roles: RoleSet) -> KeySpec {
        KeySpec {
            label: label.to_owned(),
            roles,
            expires_at: None,
        }
    }

    fn validate(&self) -> StoreResult<()> {
        if self.label.len() > MAX_LABEL_LEN {
            return Err(StoreError::field(
                ErrorCode::TooLarge,
                "label",
                format!("{} bytes, the limit is {MAX_LABEL_LEN}", self.label.len()),
            ));
        }
        if self.label.chars().any(char::is_control) {
            return Err(StoreError::field(
                ErrorCode::Malformed,
                "label",
                "contains control characters",
            ));
        }
        if self.roles.is_empty() {
            return Err(StoreError::field(
                ErrorCode::Malformed,
                "roles",
                "a key needs at least one role",
            ));
        }
        Ok(())
    }
}

pub use cairn_core::ledger::KeyStatus;

/// Whether a rotation ([`Registry::rotate_key`]) may replace a key by one of an algorithm that
/// gives up some of its protection ([`Algorithm::weakened_by`]): a lower post-quantum category,
/// none at all, or a hybrid's classical Ed25519 half.
///
/// ```
/// use cairn_core::crypto::Algorithm;
/// use cairn_core::trust::{Role, RoleSet};
/// use cairn_store::{CreateOptions, KeySpec, Protection, Registry, WeakerAlgorithm};
/// let dir = tempfile::tempdir()?;
/// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
/// let spec = KeySpec::new("releases", RoleSet::of(&[Role::ManifestSigner]));
/// let hybrid = reg.generate_key(Algorithm::Ed25519MlDsa44, &spec, &Protection::Insecure)?;
/// let to_ed25519 = |weaker| {
///     reg.rotate_key(&hybrid.key_id, None, Algorithm::Ed25519, weaker, &Protection::Insecure)
/// };
/// let refused = to_ed25519(WeakerAlgorithm::Refuse).unwrap_err();
/// assert_eq!(refused.code().as_str(), "invalid_state");
/// let new = to_ed25519(WeakerAlgorithm::Allow)?;
/// assert_eq!(new.public_key.algorithm(), Algorithm::Ed25519);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeakerAlgorithm {
    /// Refuse it (`invalid_state`, nothing written): what a caller means unless it asked.
    Refuse,
    /// Take it: the caller asked for the weaker algorithm on purpose.
    Allow,
}

impl WeakerAlgorithm {
    /// [`WeakerAlgorithm::Allow`] when `asked` (a command's `--allow-weaker` flag, a request's
    /// `allow_weaker`), else [`WeakerAlgorithm::Refuse`].
    pub fn allowed_if(asked: bool) -> WeakerAlgorithm {
        if asked {
            WeakerAlgorithm::Allow
        } else {
            WeakerAlgorithm::Refuse
        }
    }

    /// The rule for a key of algorithm `old` replaced by one of `new` (a rotation of this
    /// registry's key, a peer's changed key accepted): one that gives up post-quantum strength
    /// or a hybrid's Ed25519 half is refused (`invalid_state`) unless asked for. `what` names
    /// the key in the message.
    pub(crate) fn check(self, what: &str, old: Algorithm, new: Algorithm) -> StoreResult<()> {
        match old.weakened_by(new) {
            Some(lost) if self == WeakerAlgorithm::Refuse => Err(StoreError::new(
                StoreCode::InvalidState,
                format!(
                    "{what} is {old}: a new {new} key would give up {lost}, and a change to a \
                     weaker algorithm must be asked for"
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// How much of a key's private half the registry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivatePart {
    /// None: a public key only (imported to verify with).
    None,
    /// In the clear (explicit insecure mode).
    Insecure,
    /// Sealed under a passphrase with these Argon2id parameters.
    Sealed(KdfParams),
}

/// The stored record of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub public_key: PublicKey,
    pub label: String,
    pub roles: RoleSet,
    pub expires_at: Option<UnixTime>,
    pub added_seq: u64,
    pub added_at: UnixTime,
    pub status: KeyStatus,
    pub secret: Option<Sealed>,
}

/// A key as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key id.
    pub key_id: KeyId,
    /// The public key.
    pub public_key: PublicKey,
    /// Label.
    pub label: String,
    /// Roles.
    pub roles: RoleSet,
    /// Expiry, if any.
    pub expires_at: Option<UnixTime>,
    /// The `key_added` entry.
    pub added_seq: u64,
    /// When it was added.
    pub added_at: UnixTime,
    /// Active, rotated or revoked.
    pub status: KeyStatus,
    /// Whether (and how) the registry holds the private half.
    pub private: PrivatePart,
}

impl KeyRecord {
    pub(crate) fn info(&self) -> KeyInfo {
        KeyInfo {
            key_id: self.public_key.key_id(),
            public_key: self.public_key.clone(),
            label: self.label.clone(),
            roles: self.roles,
            expires_at: self.expires_at,
            added_seq: self.added_seq,
            added_at: self.added_at,
            status: self.status.clone(),
            private: match &self.secret {
                None => PrivatePart::None,
                Some(s) => s
                    .kdf_params()
                    .map_or(PrivatePart::Insecure, PrivatePart::Sealed),
            },
        }
    }

    /// Opens the private half. `invalid_state` for a public-only key.
    pub(crate) fn unseal(&self, passphrase: Option<&Passphrase>) -> StoreResult<SigningKey> {
        let id = self.public_key.key_id();
        let sealed = self.secret.as_ref().ok_or_else(|| {
            StoreError::new(
                StoreCode::InvalidState,
                format!("the registry holds only the public half of key {id}"),
            )
        })?;
        let alg = self.public_key.algorithm();
        let secret = sealed.open(alg, &id, passphrase)?;
        let sk = SigningKey::from_secret_bytes(alg, &secret).map_err(|e| {
            StoreError::corrupt(format!(
                "key {id}: the stored secret is not a key: {}",
                e.detail()
            ))
        })?;
        if sk.public_key() != &self.public_key {
            return Err(StoreError::corrupt(format!(
                "key {id}: the stored secret belongs to another key"
            )));
        }
        Ok(sk)
    }

    /// The key as the ledger rule book sees it.
    pub(crate) fn ledger_key(&self) -> cairn_core::ledger::LedgerKey {
        cairn_core::ledger::LedgerKey {
            public_key: self.public_key.clone(),
            label: self.label.clone(),
            roles: self.roles,
            expires_at: self.expires_at,
            added_seq: self.added_seq,
            status: self.status.clone(),
        }
    }

    /// Checks the key may sign for `role` at `now`: active (not rotated or revoked),
    /// unexpired and holding the role. The rule is the ledger rule book's
    /// ([`cairn_core::ledger::LedgerKey::check_usable`]);
    /// the store only reports signing with a rotated key as `invalid_state` (a usage error:
    /// use its successor), where the rule book, judging an entry, says `unauthorized`.
    pub(crate) fn check_usable(&self, role: Role, now: UnixTime) -> StoreResult<()> {
        self.ledger_key()
            .check_usable(role, now)
            .map_err(|e| self.signing_error(e))
    }

    /// Checks the key may sign anything new at `now`, whatever its roles (a holder delegating
    /// its token): [`cairn_core::ledger::LedgerKey::check_active`], reported as
    /// [`KeyRecord::check_usable`] reports it.
    pub(crate) fn check_active(&self, now: UnixTime) -> StoreResult<()> {
        self.ledger_key()
            .check_active(now)
            .map_err(|e| self.signing_error(e))
    }

    fn signing_error(&self, e: cairn_core::Error) -> StoreError {
        match self.status {
            KeyStatus::Rotated { .. } => StoreError::new(StoreCode::InvalidState, e.detail()),
            _ => StoreError::from(e),
        }
    }
}

/// Loads a key record in any transaction.
pub(crate) fn load_key(tx: &impl ReadTables, id: &KeyId) -> StoreResult<Option<KeyRecord>> {
    tx.get_record(KEYS, id.0, "key record")
}

/// Reads and decodes a private key PEM; PEM text is untrusted input.
fn signing_key_from_pem(text: &str) -> StoreResult<SigningKey> {
    Ok(pem::signing_key_from_pem(text)?)
}

impl Txn<'_> {
    fn put_key(&self, rec: &KeyRecord) -> StoreResult<()> {
        let id = rec.public_key.key_id();
        self.tx
            .open_table(KEYS)?
            .insert(id.0, schema::encode(rec).as_slice())?;
        Ok(())
    }

    /// Adds a key (private half sealed as `protection`, or public only when `None` is given
    /// for a public key) and its `key_added` entry.
    pub(crate) fn add_key_material(
        &mut self,
        key: &SigningKey,
        spec: &KeySpec,
        protection: Option<&Protection>,
    ) -> StoreResult<KeyInfo> {
        let id = key.public_key().key_id();
        let secret = protection
            .map(|p| Sealed::seal(key.secret_bytes(), key.algorithm(), &id, p))
            .transpose()?;
        self.add_key_record(key.public_key(), spec, secret)
    }

    fn add_key_record(
        &mut self,
        public_key: &PublicKey,
        spec: &KeySpec,
        secret: Option<Sealed>,
    ) -> StoreResult<KeyInfo> {
        spec.validate()?;
        let id = public_key.key_id();
        if load_key(&self.tx, &id)?.is_some() {
            return Err(StoreError::new(
                StoreCode::AlreadyExists,
                format!("key {id} is already in the registry"),
            ));
        }
        let seq = self.append(
            Event::KeyAdded {
                public_key: public_key.clone(),
                label: spec.label.clone(),
                roles: spec.roles,
                expires_at: spec.expires_at,
            },
            &[],
        )?;
        let rec = KeyRecord {
            public_key: public_key.clone(),
            label: spec.label.clone(),
            roles: spec.roles,
            expires_at: spec.expires_at,
            added_seq: seq,
            added_at: self.now(),
            status: KeyStatus::Active,
            secret,
        };
        self.put_key(&rec)?;
        Ok(rec.info())
    }

    /// Generates a key of `algorithm` and stores it, its private half sealed as `protection`.
    pub fn generate_key(
        &mut self,
        algorithm: Algorithm,
        spec: &KeySpec,
        protection: &Protection,
    ) -> StoreResult<KeyInfo> {
        if algorithm.is_legacy() {
            return Err(StoreError::core(
                ErrorCode::UnsupportedAlgorithm,
                format!("{algorithm} keys are for verifying old signatures only"),
            ));
        }
        let key = SigningKey::try_generate(algorithm)?;
        self.add_key_material(&key, spec, Some(protection))
    }

    /// Imports a private key from unencrypted PKCS#8 PEM (Ed25519 or ML-DSA) and seals it.
    pub fn import_private_pem(
        &mut self,
        pem_text: &str,
        spec: &KeySpec,
        protection: &Protection,
    ) -> StoreResult<KeyInfo> {
        let key = signing_key_from_pem(pem_text)?;
        self.add_key_material(&key, spec, Some(protection))
    }

    /// Imports a public key (SubjectPublicKeyInfo PEM) to verify with.
    pub fn import_public_pem(&mut self, pem_text: &str, spec: &KeySpec) -> StoreResult<KeyInfo> {
        let pk = pem::public_key_from_pem(pem_text)?;
        self.add_key_record(&pk, spec, None)
    }

    /// Imports a public key given as bytes (any algorithm, hybrids included).
    pub fn import_public_key(
        &mut self,
        public_key: &PublicKey,
        spec: &KeySpec,
    ) -> StoreResult<KeyInfo> {
        self.add_key_record(public_key, spec, None)
    }

    /// Opens a key for signing in `role`: it must be active, unexpired, hold the role and
    /// have its private half here.
    pub(crate) fn signer(
        &self,
        id: &KeyId,
        passphrase: Option<&Passphrase>,
        role: Role,
    ) -> StoreResult<(KeyRecord, Arc<SigningKey>)> {
        let rec = self.key_record(id)?;
        rec.check_usable(role, self.now())?;
        let sk = self.reg.open_keys.unseal(&rec, passphrase)?;
        Ok((rec, sk))
    }

    /// Opens the key that consents to a revocation by `revoker`: its own key, whatever its
    /// roles, when it revokes what it signed, issued or is itself (`own`); otherwise a key that
    /// may sign as root ([`Txn::signer`]). The one rule of who may revoke, for keys, tokens
    /// and manifests.
    pub(crate) fn revoker(
        &self,
        revoker: &KeyId,
        passphrase: Option<&Passphrase>,
        own: bool,
    ) -> StoreResult<Arc<SigningKey>> {
        if own {
            let rec = self.key_record(revoker)?;
            self.reg.open_keys.unseal(&rec, passphrase)
        } else {
            self.signer(revoker, passphrase, Role::Root)
                .map(|(_, sk)| sk)
        }
    }

    /// Replaces key `old` by a freshly generated key of `algorithm` with the same label,
    /// roles and expiry. Records `key_added` for the new key, then `key_rotated` signed by
    /// both the old and the new key. Rotating the log key switches the log to the new key
    /// and writes a checkpoint signed by it in the same transaction. An algorithm that gives
    /// up some of the old key's protection ([`Algorithm::weakened_by`]) is refused
    /// (`invalid_state`, nothing written) unless `weaker` is [`WeakerAlgorithm::Allow`].
    pub fn rotate_key(
        &mut self,
        old: &KeyId,
        old_passphrase: Option<&Passphrase>,
        algorithm: Algorithm,
        weaker: WeakerAlgorithm,
        protection: &Protection,
    ) -> StoreResult<KeyInfo> {
        let rec = self.key_record(old)?;
        if rec.status != KeyStatus::Active {
            return Err(StoreError::new(
                StoreCode::InvalidState,
                format!("key {old} is not active"),
            ));
        }
        weaker.check(&format!("key {old}"), rec.public_key.algorithm(), algorithm)?;
        let old_sk = self.reg.open_keys.unseal(&rec, old_passphrase)?;
        self.reg.open_keys.forget(old);
        let new_sk = SigningKey::try_generate(algorithm)?;
        let spec = KeySpec {
            label: rec.label.clone(),
            roles: rec.roles,
            expires_at: rec.expires_at,
        };
        let info = self.add_key_material(&new_sk, &spec, Some(protection))?;
        let seq = self.append(
            Event::KeyRotated {
                old: *old,
                new: info.key_id,
            },
            &[&old_sk, &new_sk],
        )?;
        let rotated = KeyRecord {
            status: KeyStatus::Rotated {
                successor: info.key_id,
                seq,
                at: self.now(),
            },
            ..rec
        };
        self.put_key(&rotated)?;
        if *old == self.log_key_id() {
            self.tx
                .open_table(schema::META)?
                .insert(schema::META_LOG_KEY, info.key_id.0.as_slice())?;
            self.log_key = std::sync::Arc::new(new_sk);
            self.log_key_changed = true;
            self.create_checkpoint()?;
        }
        Ok(info)
    }

    /// Revokes `key` for `reason`. The revoker is the key itself or an active key holding
    /// the root role; its signature on the entry proves the authorisation. The log key cannot
    /// be revoked (rotate it instead): every later entry would be unverifiable.
    pub fn revoke_key(
        &mut self,
        key: &KeyId,
        reason: &str,
        revoker: &KeyId,
        revoker_passphrase: Option<&Passphrase>,
    ) -> StoreResult<u64> {
        check_reason(reason)?;
        let rec = self.key_record(key)?;
        if let KeyStatus::Revoked { .. } = rec.status {
            return Err(StoreError::new(
                StoreCode::InvalidState,
                format!("key {key} is already revoked"),
            ));
        }
        if *key == self.log_key_id() {
            return Err(StoreError::new(
                StoreCode::InvalidState,
                "the log key cannot be revoked; rotate it instead",
            ));
        }
        let revoker_sk = self.revoker(revoker, revoker_passphrase, revoker == key)?;
        self.reg.open_keys.forget(key);
        let seq = self.append(
            Event::KeyRevoked {
                key_id: *key,
                reason: reason.to_owned(),
                revoker: *revoker,
            },
            &[&revoker_sk],
        )?;
        let revoked = KeyRecord {
            status: KeyStatus::Revoked {
                reason: reason.to_owned(),
                revoker: *revoker,
                seq,
                at: self.now(),
            },
            ..rec
        };
        self.put_key(&revoked)?;
        Ok(seq)
    }
}

/// Checks a revocation or removal reason.
pub(crate) fn check_reason(reason: &str) -> StoreResult<()> {
    if reason.len() > MAX_REASON_LEN {
        return Err(StoreError::field(
            ErrorCode::TooLarge,
            "reason",
            format!("{} bytes, the limit is {MAX_REASON_LEN}", reason.len()),
        ));
    }
    Ok(())
}

impl Registry {
    /// Keeps every key this registry unseals with a passphrase to sign open, in memory, with
    /// a digest of the passphrase that opened it, so that signing with it again costs no
    /// Argon2 derivation (about 0.1 to 0.3 s at the default cost, on the one thread that
    /// writes); `false` (the default) forgets and wipes those kept. For a long-running
    /// process that holds the passphrase anyway: `cairn serve` turns it on. An open key is
    /// used only for the same sealed secret and the same passphrase (their digests compared
    /// in constant time), so a wrong passphrase still fails; whether it may sign is read from
    /// the ledger on every use; a key revoked or rotated away is forgotten at once. Keys
    /// stored in the clear are never kept (they cost no derivation).
    ///
    /// ```
    /// use cairn_core::crypto::Algorithm;
    /// use cairn_core::trust::{Role, RoleSet};
    /// use cairn_store::{CreateOptions, KdfParams, KeySpec, Passphrase, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let pass = Passphrase::new("correct horse");
    /// let sealed = Protection::Passphrase(pass.clone(), KdfParams::INSECURE_FAST);
    /// let signer = reg.generate_key(Algorithm::Ed25519, &KeySpec::new("releases", RoleSet::of(&[Role::ManifestSigner])), &sealed)?;
    /// reg.keep_keys_open(true);
    /// let sign = |pass: &Passphrase, bytes: &'static [u8]| {
    ///     reg.sign_artifact(&signer.key_id, Some(pass), "app.bin", "application/octet-stream", bytes)
    /// };
    /// sign(&pass, b"one")?; // unsealed, and kept open
    /// assert_eq!(reg.keys_kept_open(), 1);
    /// sign(&pass, b"two")?; // no derivation
    /// // A wrong passphrase is refused as before.
    /// assert!(sign(&Passphrase::new("wrong"), b"three").is_err());
    /// reg.keep_keys_open(false);
    /// assert_eq!(reg.keys_kept_open(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keep_keys_open(&self, keep: bool) {
        self.open_keys.set_keep(keep);
    }

    /// How many keys [`Registry::keep_keys_open`] keeps open now.
    pub fn keys_kept_open(&self) -> usize {
        self.open_keys.len()
    }

    /// Generates and stores a key (one transaction). See [`Txn::generate_key`].
    pub fn generate_key(
        &self,
        algorithm: Algorithm,
        spec: &KeySpec,
        protection: &Protection,
    ) -> StoreResult<KeyInfo> {
        self.write(|tx| tx.generate_key(algorithm, spec, protection))
    }

    /// Rotates a key (one transaction). See [`Txn::rotate_key`].
    pub fn rotate_key(
        &self,
        old: &KeyId,
        old_passphrase: Option<&Passphrase>,
        algorithm: Algorithm,
        weaker: WeakerAlgorithm,
        protection: &Protection,
    ) -> StoreResult<KeyInfo> {
        self.write(|tx| tx.rotate_key(old, old_passphrase, algorithm, weaker, protection))
    }

    /// Revokes a key (one transaction). See [`Txn::revoke_key`].
    pub fn revoke_key(
        &self,
        key: &KeyId,
        reason: &str,
        revoker: &KeyId,
        revoker_passphrase: Option<&Passphrase>,
    ) -> StoreResult<u64> {
        self.write(|tx| tx.revoke_key(key, reason, revoker, revoker_passphrase))
    }

    /// One key.
    pub fn key(&self, id: &KeyId) -> StoreResult<KeyInfo> {
        self.read(|rtx| {
            let rec =
                load_key(&rtx, id)?.ok_or_else(|| StoreError::not_found(format!("no key {id}")))?;
            crate::objects::verified::Proof::new(self, &rtx)?.key(&rec)?;
            Ok(rec.info())
        })
    }

    /// One key as stored, without comparing it with the ledger (what [`Registry::key`]
    /// costs without its verification; for measurements).
    #[doc(hidden)]
    pub fn key_unverified(&self, id: &KeyId) -> StoreResult<KeyInfo> {
        self.read(|rtx| load_key(&rtx, id))?
            .map(|r| r.info())
            .ok_or_else(|| StoreError::not_found(format!("no key {id}")))
    }

    /// Every key, in key-id order.
    pub fn list_keys(&self) -> StoreResult<Vec<KeyInfo>> {
        self.read(|rtx| {
            let proof = crate::objects::verified::Proof::new(self, &rtx)?;
            let table = rtx.open_table(KEYS)?;
            let mut out = Vec::new();
            for row in redb::ReadableTable::iter(&table)? {
                let (_, v) = row?;
                let rec: KeyRecord = schema::decode(v.value(), "key record")?;
                proof.key(&rec)?;
                out.push(rec.info());
            }
            Ok(out)
        })
    }

    /// The id of the key currently signing the log.
    pub fn log_key_id(&self) -> StoreResult<KeyId> {
        self.read(|rtx| schema::read_log_key_id(&rtx.open_table(schema::META)?))
    }

    /// A public key as SubjectPublicKeyInfo PEM (`unsupported_algorithm` for hybrids, which
    /// have no standard encoding).
    pub fn export_public_pem(&self, id: &KeyId) -> StoreResult<String> {
        Ok(pem::public_key_to_pem(&self.key(id)?.public_key)?)
    }

    /// A private key of this registry, opened with `passphrase`, for signing outside the
    /// ledger (a token holder's proof of possession for `cairn serve`). Every algorithm,
    /// hybrids included; `not_found` when the key is unknown, `invalid_state` when only its
    /// public half is here.
    pub fn signing_key(
        &self,
        id: &KeyId,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<SigningKey> {
        let rec = self
            .read(|rtx| load_key(&rtx, id))?
            .ok_or_else(|| StoreError::not_found(format!("no key {id}")))?;
        rec.unseal(passphrase)
    }

    /// A private key as unencrypted PKCS#8 PEM, after opening it with `passphrase`.
    pub fn export_private_pem(
        &self,
        id: &KeyId,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<Zeroizing<String>> {
        let rec = self
            .read(|rtx| load_key(&rtx, id))?
            .ok_or_else(|| StoreError::not_found(format!("no key {id}")))?;
        let sk = rec.unseal(passphrase)?;
        Ok(pem::signing_key_to_pem(&sk)?)
    }
}

impl Txn<'_> {
    /// Reads a key record inside this transaction.
    pub(crate) fn key_record(&self, id: &KeyId) -> StoreResult<KeyRecord> {
        load_key(&self.tx, id)?.ok_or_else(|| StoreError::not_found(format!("no key {id}")))
    }
}
