//! Private keys at rest: Argon2id turns the caller's passphrase into a 256-bit key, and
//! XChaCha20-Poly1305 encrypts the key's secret form under it, with the key's identity as
//! associated data (so a sealed secret moved onto another key record does not open).
//!
//! The Argon2 parameters are stored with every sealed secret, so keys sealed with cheap
//! parameters (tests, demos) and with the defaults live side by side, and the defaults can
//! grow without re-sealing old keys. Every intermediate secret (derived key, plaintext) is
//! held in zeroizing memory.
//!
//! The explicit insecure form keeps the secret in the clear. It exists for tests and demos
//! only and is visible as such in every key listing.

use argon2::{Argon2, Params};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{StoreCode, StoreError, StoreResult};
use cairn_core::crypto::{Algorithm, KeyId};
use cairn_core::error::ErrorCode;

/// Domain label in the associated data of every sealed signing key.
const AAD_LABEL: &[u8] = b"cairn/sealed-key/v1";
/// Domain label in the associated data of every sealed envelope key (the handle registry's
/// HPKE keys): another label, so neither kind of record opens as the other.
const ENVELOPE_AAD_LABEL: &[u8] = b"cairn/sealed-envelope-key/v1";

/// A passphrase, wiped from memory when dropped. Its `Debug` form never shows it.
///
/// ```
/// use cairn_store::Passphrase;
/// let p = Passphrase::new("correct horse battery staple");
/// assert_eq!(format!("{p:?}"), "Passphrase(..)");
/// ```
#[derive(Clone)]
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl Passphrase {
    /// Wraps passphrase bytes (any bytes; UTF-8 is not required).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Passphrase {
        Passphrase(Zeroizing::new(bytes.into()))
    }

    /// The passphrase bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

/// Argon2id cost parameters, stored with each sealed secret.
///
/// ```
/// use cairn_store::KdfParams;
/// assert!(KdfParams::DEFAULT.memory_kib >= 64 * 1024);
/// assert!(KdfParams::INSECURE_FAST.memory_kib < 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB (Argon2 `m`).
    pub memory_kib: u32,
    /// Passes (Argon2 `t`).
    pub iterations: u32,
    /// Lanes (Argon2 `p`).
    pub parallelism: u32,
}

impl KdfParams {
    /// The default: 64 MiB, 3 passes, 1 lane (RFC 9106 §4, second recommended option,
    /// with one lane for predictable cost on small machines).
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };

    /// The cheapest parameters Argon2 allows: for tests and demos only.
    pub const INSECURE_FAST: KdfParams = KdfParams {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };

    /// Largest memory cost accepted when opening a sealed secret (4 GiB): a damaged or
    /// hostile record must not make the registry allocate without bound.
    pub const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
    /// Largest pass count accepted.
    pub const MAX_ITERATIONS: u32 = 64;
    /// Largest lane count accepted.
    pub const MAX_PARALLELISM: u32 = 16;

    fn argon2(&self) -> StoreResult<Argon2<'static>> {
        if self.memory_kib > Self::MAX_MEMORY_KIB
            || self.iterations > Self::MAX_ITERATIONS
            || self.parallelism > Self::MAX_PARALLELISM
        {
            return Err(StoreError::core(
                ErrorCode::TooLarge,
                format!("Argon2 parameters {self:?} exceed the accepted maximum"),
            ));
        }
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| {
                StoreError::core(ErrorCode::Malformed, format!("Argon2 parameters: {e}"))
            })?;
        Ok(Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams::DEFAULT
    }
}

/// How a new private key is protected at rest.
#[derive(Debug, Clone)]
pub enum Protection {
    /// Sealed under a passphrase with the given Argon2id cost.
    Passphrase(Passphrase, KdfParams),
    /// Stored in the clear. For tests and demos only.
    Insecure,
}

impl Protection {
    /// A passphrase with the default Argon2id cost.
    pub fn passphrase(p: Passphrase) -> Protection {
        Protection::Passphrase(p, KdfParams::DEFAULT)
    }
}

/// A private key's secret form as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sealed {
    /// In the clear (explicit insecure mode).
    Insecure(#[serde(with = "cairn_core::crypto::bytes_b64")] Vec<u8>),
    /// Argon2id + XChaCha20-Poly1305.
    Argon2idXChaCha20Poly1305 {
        /// Argon2id cost.
        params: KdfParams,
        /// Argon2 salt.
        salt: [u8; 16],
        /// XChaCha20 nonce.
        nonce: [u8; 24],
        /// Ciphertext and 16-byte tag.
        #[serde(with = "cairn_core::crypto::bytes_b64")]
        ciphertext: Vec<u8>,
    },
}

impl Drop for Sealed {
    fn drop(&mut self) {
        if let Sealed::Insecure(bytes) = self {
            zeroize::Zeroize::zeroize(bytes);
        }
    }
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sealed::Insecure(_) => f.write_str("Sealed::Insecure(..)"),
            Sealed::Argon2idXChaCha20Poly1305 { params, .. } => {
                write!(f, "Sealed::Argon2idXChaCha20Poly1305({params:?})")
            }
        }
    }
}

fn aad(alg: Algorithm, key_id: &KeyId) -> Vec<u8> {
    let mut out = Vec::with_capacity(AAD_LABEL.len() + 33);
    out.extend_from_slice(AAD_LABEL);
    out.push(alg.id());
    out.extend_from_slice(&key_id.0);
    out
}

/// `ENVELOPE_AAD_LABEL || suite (2 bytes, big endian) || kid (8 bytes)`.
fn envelope_aad(suite: u16, kid: &[u8; 8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENVELOPE_AAD_LABEL.len() + 10);
    out.extend_from_slice(ENVELOPE_AAD_LABEL);
    out.extend_from_slice(&suite.to_be_bytes());
    out.extend_from_slice(kid);
    out
}

fn derive(
    passphrase: &Passphrase,
    params: &KdfParams,
    salt: &[u8],
) -> StoreResult<Zeroizing<[u8; 32]>> {
    let mut key = Zeroizing::new([0u8; 32]);
    params
        .argon2()?
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|e| StoreError::core(ErrorCode::Malformed, format!("Argon2: {e}")))?;
    Ok(key)
}

impl Sealed {
    /// Seals `secret`, the secret form of the key `key_id` of algorithm `alg`.
    pub fn seal(
        secret: &[u8],
        alg: Algorithm,
        key_id: &KeyId,
        protection: &Protection,
    ) -> StoreResult<Sealed> {
        Sealed::seal_aad(secret, &aad(alg, key_id), protection)
    }

    /// Seals the secret of the envelope key `kid` of suite `suite` (its own associated data).
    pub fn seal_envelope_key(
        secret: &[u8],
        suite: u16,
        kid: &[u8; 8],
        protection: &Protection,
    ) -> StoreResult<Sealed> {
        Sealed::seal_aad(secret, &envelope_aad(suite, kid), protection)
    }

    /// Opens the sealed secret of the envelope key `kid`, as [`Sealed::open`].
    pub fn open_envelope_key(
        &self,
        suite: u16,
        kid: &[u8; 8],
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        let name = format!("envelope key {}", cairn_core::encoding::hex_encode(kid));
        self.open_aad(&envelope_aad(suite, kid), &name, passphrase)
    }

    fn seal_aad(secret: &[u8], aad: &[u8], protection: &Protection) -> StoreResult<Sealed> {
        let (passphrase, params) = match protection {
            Protection::Insecure => return Ok(Sealed::Insecure(secret.to_vec())),
            Protection::Passphrase(p, params) => (p, params),
        };
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut salt);
        OsRng.fill_bytes(&mut nonce);
        let key = derive(passphrase, params, &salt)?;
        let cipher = XChaCha20Poly1305::new(&(*key).into());
        let ciphertext = cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: secret, aad })
            .map_err(|_| StoreError::core(ErrorCode::Malformed, "sealing the key failed"))?;
        Ok(Sealed::Argon2idXChaCha20Poly1305 {
            params: *params,
            salt,
            nonce,
            ciphertext,
        })
    }

    /// True for the explicit insecure (clear) form.
    pub fn is_insecure(&self) -> bool {
        matches!(self, Sealed::Insecure(_))
    }

    /// The Argon2id parameters, if sealed.
    pub fn kdf_params(&self) -> Option<KdfParams> {
        match self {
            Sealed::Insecure(_) => None,
            Sealed::Argon2idXChaCha20Poly1305 { params, .. } => Some(*params),
        }
    }

    /// Opens the sealed secret of key `key_id`. A sealed secret needs a passphrase
    /// (`passphrase_required`); a wrong one, or an altered record, fails with
    /// `bad_passphrase`. An insecure secret opens with or without one.
    pub fn open(
        &self,
        alg: Algorithm,
        key_id: &KeyId,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        self.open_aad(&aad(alg, key_id), &format!("key {key_id}"), passphrase)
    }

    fn open_aad(
        &self,
        aad: &[u8],
        name: &str,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        match self {
            Sealed::Insecure(bytes) => Ok(Zeroizing::new(bytes.clone())),
            Sealed::Argon2idXChaCha20Poly1305 {
                params,
                salt,
                nonce,
                ciphertext,
            } => {
                let passphrase = passphrase.ok_or_else(|| {
                    StoreError::new(
                        StoreCode::PassphraseRequired,
                        format!("{name} is sealed with a passphrase; none was given"),
                    )
                })?;
                let key = derive(passphrase, params, salt)?;
                let cipher = XChaCha20Poly1305::new(&(*key).into());
                cipher
                    .decrypt(
                        &XNonce::from(*nonce),
                        Payload {
                            msg: ciphertext,
                            aad,
                        },
                    )
                    .map(Zeroizing::new)
                    .map_err(|_| {
                        StoreError::new(
                            StoreCode::BadPassphrase,
                            format!(
                                "the passphrase does not open {name} (or its sealed record was altered)"
                            ),
                        )
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kid() -> KeyId {
        KeyId([7; 32])
    }

    #[test]
    fn seal_open_round_trip() {
        let p = Passphrase::new("pw");
        let prot = Protection::Passphrase(p.clone(), KdfParams::INSECURE_FAST);
        let s = Sealed::seal(b"secret-bytes", Algorithm::Ed25519, &kid(), &prot).unwrap();
        assert!(!s.is_insecure());
        assert_eq!(
            &*s.open(Algorithm::Ed25519, &kid(), Some(&p)).unwrap(),
            b"secret-bytes"
        );
        let wrong = s
            .open(Algorithm::Ed25519, &kid(), Some(&Passphrase::new("px")))
            .unwrap_err();
        assert_eq!(wrong.code(), StoreCode::BadPassphrase);
        let none = s.open(Algorithm::Ed25519, &kid(), None).unwrap_err();
        assert_eq!(none.code(), StoreCode::PassphraseRequired);
        // Bound to the key identity.
        let other = s
            .open(Algorithm::Ed25519, &KeyId([8; 32]), Some(&p))
            .unwrap_err();
        assert_eq!(other.code(), StoreCode::BadPassphrase);
        let other_alg = s.open(Algorithm::MlDsa44, &kid(), Some(&p)).unwrap_err();
        assert_eq!(other_alg.code(), StoreCode::BadPassphrase);
    }

    #[test]
    fn hostile_parameters_are_refused_before_allocating() {
        let s = Sealed::Argon2idXChaCha20Poly1305 {
            params: KdfParams {
                memory_kib: u32::MAX,
                iterations: 1,
                parallelism: 1,
            },
            salt: [0; 16],
            nonce: [0; 24],
            ciphertext: vec![0; 48],
        };
        let e = s
            .open(Algorithm::Ed25519, &kid(), Some(&Passphrase::new("x")))
            .unwrap_err();
        assert_eq!(e.code(), StoreCode::Core(ErrorCode::TooLarge));
    }

    #[test]
    fn insecure_is_explicit() {
        let s = Sealed::seal(b"k", Algorithm::Ed25519, &kid(), &Protection::Insecure).unwrap();
        assert!(s.is_insecure());
        assert_eq!(&*s.open(Algorithm::Ed25519, &kid(), None).unwrap(), b"k");
        assert_eq!(format!("{s:?}"), "Sealed::Insecure(..)");
    }
}
