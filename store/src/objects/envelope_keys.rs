//! The handle registry's envelope keys sealed in the registry file, so that `cairn serve` can
//! name them in `[envelope] keys` (`sealed_kid_hex`) instead of holding private keys in its
//! configuration.
//!
//! A record is the key's suite id, public key and creation time, and its 32-byte secret sealed
//! like a signing key ([`Sealed`]: Argon2id and XChaCha20-Poly1305 under the key passphrase,
//! or the explicit insecure form), with its own associated data (`cairn/sealed-envelope-key/v1`,
//! suite, kid), so a record moved under another kid or suite does not open.
//!
//! The store does not know the suites' cryptography: its caller derives the public key and the
//! kid (`cairn_core::handle`) and hands them over. Envelope keys are secrets of one service,
//! like its configuration: they are not ledger entries and are never removed (identities
//! sealed at rest to a key need it as long as they are stored).

use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::db::Registry;
use crate::kernel::schema::{self, ENVELOPE_KEYS};
use crate::objects::seal::{Passphrase, Protection, Sealed};
use cairn_core::encoding::hex_encode;
use cairn_core::error::ErrorCode;
use cairn_core::UnixTime;

/// Length of an envelope key's secret (an X25519 scalar or an X-Wing seed).
pub const ENVELOPE_SECRET_LEN: usize = 32;
/// Longest public key stored (X-Wing's is 1216 bytes).
pub const MAX_ENVELOPE_PUBLIC_KEY_LEN: usize = 4096;

/// An envelope key sealed in the registry, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeKeyInfo {
    /// The key id (the table key).
    pub kid: [u8; 8],
    /// The suite id (docs/FORMATS.md section 19: 1 = X25519, 2 = X-Wing).
    pub suite: u16,
    /// The public key.
    pub public_key: Vec<u8>,
    /// When it was stored.
    pub created_at: UnixTime,
    /// Whether the secret is stored in the clear (the explicit insecure mode).
    pub insecure: bool,
}

#[derive(Serialize, Deserialize)]
struct EnvelopeKeyRecord {
    suite: u16,
    public_key: Vec<u8>,
    sealed: Sealed,
    created_at: UnixTime,
}

impl EnvelopeKeyRecord {
    fn info(&self, kid: [u8; 8]) -> EnvelopeKeyInfo {
        EnvelopeKeyInfo {
            kid,
            suite: self.suite,
            public_key: self.public_key.clone(),
            created_at: self.created_at,
            insecure: self.sealed.is_insecure(),
        }
    }
}

fn not_found(kid: &[u8; 8]) -> StoreError {
    StoreError::not_found(format!(
        "no envelope key {} is sealed in this registry",
        hex_encode(kid)
    ))
}

impl Registry {
    /// Seals an envelope key in the registry under `kid` (`already_exists` if that kid is
    /// taken; `malformed` for a secret that is not 32 bytes or an empty public key,
    /// `too_large` for a public key over [`MAX_ENVELOPE_PUBLIC_KEY_LEN`] bytes).
    ///
    /// ```
    /// use cairn_store::{CreateOptions, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let kid = [1u8; 8];
    /// reg.add_envelope_key(kid, 1, &[9; 32], &[7; 32], &Protection::Insecure)?;
    /// let (info, secret) = reg.open_envelope_key(&kid, None)?;
    /// assert_eq!((info.suite, secret.as_slice()), (1, &[7u8; 32][..]));
    /// assert_eq!(reg.envelope_keys()?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_envelope_key(
        &self,
        kid: [u8; 8],
        suite: u16,
        public_key: &[u8],
        secret: &[u8],
        protection: &Protection,
    ) -> StoreResult<EnvelopeKeyInfo> {
        if secret.len() != ENVELOPE_SECRET_LEN {
            return Err(StoreError::field(
                ErrorCode::Malformed,
                "secret",
                format!(
                    "an envelope key's secret is {ENVELOPE_SECRET_LEN} bytes, not {}",
                    secret.len()
                ),
            ));
        }
        if public_key.is_empty() || public_key.len() > MAX_ENVELOPE_PUBLIC_KEY_LEN {
            return Err(StoreError::field(
                ErrorCode::TooLarge,
                "public_key",
                format!("an envelope public key is 1 to {MAX_ENVELOPE_PUBLIC_KEY_LEN} bytes"),
            ));
        }
        // Sealing runs Argon2 (tens of milliseconds): before the write transaction.
        let rec = EnvelopeKeyRecord {
            suite,
            public_key: public_key.to_vec(),
            sealed: Sealed::seal_envelope_key(secret, suite, &kid, protection)?,
            created_at: self.now(),
        };
        self.write(|tx| {
            let mut t = tx.tx.open_table(ENVELOPE_KEYS)?;
            if t.get(kid)?.is_some() {
                return Err(StoreError::new(
                    StoreCode::AlreadyExists,
                    format!(
                        "an envelope key {} is already sealed here",
                        hex_encode(&kid)
                    ),
                ));
            }
            t.insert(kid, schema::encode(&rec).as_slice())?;
            Ok(rec.info(kid))
        })
    }

    /// Every envelope key sealed in the registry, in kid order, without secrets.
    pub fn envelope_keys(&self) -> StoreResult<Vec<EnvelopeKeyInfo>> {
        self.read(|rtx| {
            let t = match rtx.open_table(ENVELOPE_KEYS) {
                Ok(t) => t,
                // A file created before the table existed: none.
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                let rec: EnvelopeKeyRecord = schema::decode(v.value(), "envelope key record")?;
                out.push(rec.info(k.value()));
            }
            Ok(out)
        })
    }

    /// The envelope key `kid` and its secret, opened with `passphrase` (`not_found`,
    /// `passphrase_required`, `bad_passphrase`).
    pub fn open_envelope_key(
        &self,
        kid: &[u8; 8],
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<(EnvelopeKeyInfo, Zeroizing<Vec<u8>>)> {
        let rec: EnvelopeKeyRecord = self.read(|rtx| {
            let t = match rtx.open_table(ENVELOPE_KEYS) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Err(not_found(kid)),
                Err(e) => return Err(e.into()),
            };
            let v = t.get(*kid)?.ok_or_else(|| not_found(kid))?;
            schema::decode(v.value(), "envelope key record")
        })?;
        let secret = rec.sealed.open_envelope_key(rec.suite, kid, passphrase)?;
        Ok((rec.info(*kid), secret))
    }
}
