//! Keys kept open. A registry asked to ([`Registry::keep_keys_open`]) keeps each key it
//! unseals with a passphrase for signing, so that signing with it again costs no Argon2
//! derivation (tens to hundreds of milliseconds at the default cost, on the one thread that
//! writes).
//!
//! Invariants:
//! - An open key is used only for the same sealed secret (the record's sealed form, by
//!   SHA-256) and the same passphrase (by a SHA-256 kept beside it, compared in constant
//!   time: two digests of one length, so not even the passphrase's length shows in the time
//!   taken): a key re-sealed, rotated away, or asked for with another passphrase is unsealed
//!   afresh, so a wrong passphrase fails exactly as it does without this.
//! - Only what [`KeyRecord::unseal`] returned is kept: a secret that does not match its
//!   public key is never opened.
//! - Keys stored in the clear cost no derivation and are not kept.
//! - What is kept (the open key, the passphrase's digest; never the passphrase) is wiped from
//!   memory when dropped: when the key is revoked or rotated away, when keeping is turned off,
//!   or when the registry is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use cairn_core::crypto::{KeyId, SigningKey};
use cairn_core::encoding::{sha256, to_postcard, Digest};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::StoreResult;
use crate::objects::keys::KeyRecord;
use crate::objects::seal::Passphrase;
#[cfg(doc)]
use crate::Registry;

/// The keys a registry keeps open, and whether it keeps them.
#[derive(Default)]
pub(crate) struct OpenKeys {
    keep: AtomicBool,
    keys: Mutex<HashMap<KeyId, OpenKey>>,
}

impl std::fmt::Debug for OpenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenKeys").finish_non_exhaustive()
    }
}

/// One open key, with what it was opened from.
struct OpenKey {
    /// SHA-256 of the sealed secret's stored form.
    sealed: Digest,
    /// [`passphrase_digest`] of the passphrase that opened it.
    passphrase: Zeroizing<Digest>,
    key: Arc<SigningKey>,
}

/// What an open key remembers of its passphrase: a SHA-256 under this module's own label, of
/// one length whatever the passphrase's.
fn passphrase_digest(p: &Passphrase) -> Zeroizing<Digest> {
    Zeroizing::new(sha256(&[b"cairn open key passphrase\0", p.as_bytes()]))
}

impl OpenKeys {
    /// Most keys kept open; when full, all are forgotten (a registry signs with a few).
    const MAX: usize = 256;

    /// Starts or stops keeping keys open; stopping forgets (and wipes) those kept.
    pub(crate) fn set_keep(&self, keep: bool) {
        self.keep.store(keep, Relaxed);
        if !keep {
            self.lock().clear();
        }
    }

    /// Whether keys are kept open.
    pub(crate) fn keeps(&self) -> bool {
        self.keep.load(Relaxed)
    }

    /// How many keys are open now.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// `rec`'s private half, as [`KeyRecord::unseal`] opens it: from the keys kept open when
    /// it was opened before from the same sealed secret with the same passphrase.
    pub(crate) fn unseal(
        &self,
        rec: &KeyRecord,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<Arc<SigningKey>> {
        let (Some(sealed), Some(pass)) = (&rec.secret, passphrase) else {
            return rec.unseal(passphrase).map(Arc::new);
        };
        if sealed.is_insecure() || !self.keeps() {
            return rec.unseal(passphrase).map(Arc::new);
        }
        let id = rec.public_key.key_id();
        let digest = sha256(&[&to_postcard(sealed)]);
        let pass_digest = passphrase_digest(pass);
        if let Some(open) = self.lock().get(&id) {
            let same_pass: bool = open.passphrase.ct_eq(&*pass_digest).into();
            if open.sealed == digest && same_pass {
                return Ok(open.key.clone());
            }
        }
        let key = Arc::new(rec.unseal(passphrase)?);
        let mut keys = self.lock();
        if keys.len() >= Self::MAX {
            keys.clear();
        }
        if self.keeps() {
            keys.insert(
                id,
                OpenKey {
                    sealed: digest,
                    passphrase: pass_digest,
                    key: key.clone(),
                },
            );
        }
        Ok(key)
    }

    /// Forgets (and wipes) key `id`, if open: a key revoked or rotated away signs no more,
    /// and should not stay in memory until the registry is dropped.
    pub(crate) fn forget(&self, id: &KeyId) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<KeyId, OpenKey>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::keys::load_key;
    use crate::objects::seal::{KdfParams, Protection, Sealed};
    use crate::{CreateOptions, KeySpec, Registry};
    use cairn_core::crypto::Algorithm;
    use cairn_core::trust::{Role, RoleSet};

    fn sealed(p: &Passphrase) -> Protection {
        Protection::Passphrase(p.clone(), KdfParams::INSECURE_FAST)
    }

    /// A registry holding one key stored as `protection` says, and that key's record.
    fn setup(protection: &Protection) -> (tempfile::TempDir, Registry, KeyRecord) {
        let dir = tempfile::tempdir().expect("dir");
        let reg = Registry::create(
            dir.path().join("r.redb"),
            CreateOptions::new("example.test/log", Protection::Insecure),
        )
        .expect("registry");
        let spec = KeySpec::new("k", RoleSet::of(&[Role::ManifestSigner]));
        let info = reg
            .generate_key(Algorithm::Ed25519, &spec, protection)
            .expect("key");
        let rec = reg
            .read(|rtx| load_key(&rtx, &info.key_id))
            .expect("read")
            .expect("record");
        (dir, reg, rec)
    }

    #[test]
    fn a_key_is_derived_once_for_the_same_sealed_secret_and_passphrase() {
        let pass = Passphrase::new("right");
        let (_dir, reg, rec) = setup(&sealed(&pass));
        let keys = OpenKeys::default();
        // Not kept unless asked.
        let a = keys.unseal(&rec, Some(&pass)).expect("open");
        let b = keys.unseal(&rec, Some(&pass)).expect("open");
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(keys.len(), 0);
        keys.set_keep(true);
        let a = keys.unseal(&rec, Some(&pass)).expect("open");
        let b = keys.unseal(&rec, Some(&pass)).expect("open");
        assert!(Arc::ptr_eq(&a, &b), "the second one was not derived again");
        assert_eq!(a.public_key(), &rec.public_key);
        // Another passphrase, a missing one: refused as without the cache.
        for wrong in [
            Some(Passphrase::new("wrong")),
            Some(Passphrase::new("righ")),
            None,
        ] {
            let e = keys.unseal(&rec, wrong.as_ref()).map(|_| ()).unwrap_err();
            let plain = rec.unseal(wrong.as_ref()).map(|_| ()).unwrap_err();
            assert_eq!(e.code(), plain.code());
        }
        // The same key sealed again (another salt and nonce): unsealed afresh, then kept.
        let secret = a.secret_bytes();
        let mut resealed = rec.clone();
        resealed.secret = Some(
            Sealed::seal(
                secret,
                Algorithm::Ed25519,
                &rec.public_key.key_id(),
                &sealed(&pass),
            )
            .expect("seal"),
        );
        let c = keys.unseal(&resealed, Some(&pass)).expect("open");
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(Arc::ptr_eq(
            &c,
            &keys.unseal(&resealed, Some(&pass)).expect("open")
        ));
        assert_eq!(keys.len(), 1);
        // Turned off: forgotten.
        keys.set_keep(false);
        assert_eq!(keys.len(), 0);
        drop(reg);
    }

    /// Past [`OpenKeys::MAX`] keys, all are forgotten and keeping starts over.
    #[test]
    fn a_full_set_starts_over() {
        let pass = Passphrase::new("right");
        let (_dir, reg, _) = setup(&sealed(&pass));
        let spec = KeySpec::new("k", RoleSet::of(&[Role::ManifestSigner]));
        let keys = OpenKeys::default();
        keys.set_keep(true);
        let ids: Vec<KeyId> = reg
            .write(|tx| {
                (0..=OpenKeys::MAX)
                    .map(|_| {
                        tx.generate_key(Algorithm::Ed25519, &spec, &sealed(&pass))
                            .map(|k| k.key_id)
                    })
                    .collect()
            })
            .expect("keys");
        for (n, id) in ids.iter().enumerate() {
            let rec = reg
                .read(|rtx| load_key(&rtx, id))
                .expect("read")
                .expect("record");
            keys.unseal(&rec, Some(&pass)).expect("open");
            assert_eq!(keys.len(), n % OpenKeys::MAX + 1);
        }
    }

    #[test]
    fn keys_in_the_clear_are_not_kept() {
        let (_dir, _reg, rec) = setup(&Protection::Insecure);
        let keys = OpenKeys::default();
        keys.set_keep(true);
        keys.unseal(&rec, None).expect("open");
        keys.unseal(&rec, Some(&Passphrase::new("ignored")))
            .expect("open");
        assert_eq!(keys.len(), 0);
    }
}
