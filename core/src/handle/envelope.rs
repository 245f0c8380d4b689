//! Handle envelopes: HPKE (RFC 9180) base mode, one-shot, to a registry key named by its key
//! id (docs/FORMATS.md section 19.3).
//!
//! An envelope is
//!
//! ```text
//! version (1 byte, 0x01) || suite (2 bytes, big endian) || kid (8 bytes) || enc || ciphertext
//! ```
//!
//! where `enc` is the HPKE encapsulated key (its length is fixed by the suite) and
//! `ciphertext` the AEAD output (plaintext and 16-byte tag). The HPKE `info` is
//! `"cairn handle envelope v1" || 0x00 || purpose` and the AEAD `aad` is the 11-byte header
//! followed by the caller's aad: so an envelope sealed for one purpose (say registration)
//! cannot be opened as another (a resolve answer), and the header cannot be changed without
//! the tag failing.
//!
//! Suites, chosen by the sender (the recipient's key names one):
//! - [`Suite::X25519ChaCha20Poly1305`] (id 0x0001): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//!   ChaCha20-Poly1305. Keys and `enc` are 32 bytes.
//! - [`Suite::XWingChaCha20Poly1305`] (id 0x0002): the post-quantum hybrid X-Wing KEM
//!   (ML-KEM-768 + X25519, HPKE KEM id 0x647a, draft-ietf-hpke-pq), HKDF-SHA256,
//!   ChaCha20-Poly1305. The private key is a 32-byte seed, the public key 1216 bytes, `enc`
//!   1120 bytes. An envelope stays confidential as long as either X25519 or ML-KEM-768 holds.
//!
//! Randomness comes from the caller: [`seal`] takes [`SEAL_SEED_LEN`] bytes. With X25519 the
//! sender's ephemeral key pair is `DeriveKeyPair(seed)` (RFC 9180 section 7.1.3); X-Wing's
//! encapsulation takes 64 random bytes, which are the seed followed by
//! `SHA-256("cairn handle seed stream" || seed || 0 (8 bytes, big endian))`. The seed must be
//! fresh and secret for every envelope; anyone who knows it can open the envelope.
//!
//! Errors: `malformed` (truncated, bad layout), `too_large` (over a limit),
//! `unsupported_version`, `unsupported_algorithm` (unknown or reserved suite), `unknown_key` (no
//! key of the envelope's kid), `invalid_key` (a key or encapsulated key that is not a usable
//! X25519 point), `signature_invalid` (the AEAD tag does not verify: tampered envelope, wrong
//! key, other purpose or aad).

use alloc::string::String;
use alloc::vec::Vec;
use core::convert::Infallible;
use core::fmt;

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::{X25519HkdfSha256, XWing};
use hpke::{Deserializable, HpkeError, Kem as _, OpModeR, OpModeS, Serializable};
use zeroize::Zeroizing;

use crate::encoding::{hex_decode_array, hex_encode, sha256};
use crate::error::{Error, ErrorCode, Result};

/// The envelope format version this build reads and writes (first byte).
pub const ENVELOPE_VERSION: u8 = 1;
/// The start of every envelope's HPKE `info`, before `0x00 || purpose`.
pub const ENVELOPE_INFO: &[u8] = b"cairn handle envelope v1";
/// The domain of derived key ids: `kid = SHA-256(KID_LABEL || 0x00 || suite || public key)[..8]`.
pub const KID_LABEL: &[u8] = b"cairn handle envelope kid v1";
/// Length of a key id.
pub const KID_LEN: usize = 8;
/// Length of the header: version, suite, kid.
pub const ENVELOPE_HEADER_LEN: usize = 1 + 2 + KID_LEN;
/// Largest envelope accepted or produced, in bytes.
pub const MAX_ENVELOPE_LEN: usize = 64 * 1024;
/// Largest purpose string, in bytes.
pub const MAX_PURPOSE_LEN: usize = 64;
/// Largest caller aad, in bytes.
pub const MAX_AAD_LEN: usize = 1024;
/// Length of the seed [`seal`] takes (the sender's ephemeral `ikm`).
pub const SEAL_SEED_LEN: usize = 32;
/// Most keys a [`Keyring`] holds (the active one and the retired ones).
pub const MAX_KEYRING_KEYS: usize = 64;
/// Length of every suite's private key: an X25519 scalar, or X-Wing's decapsulation seed.
pub const SECRET_KEY_LEN: usize = 32;

const TAG_LEN: usize = 16;
const X25519_LEN: usize = 32;
const XWING_PK_LEN: usize = 1216;
const XWING_ENC_LEN: usize = 1120;

/// An envelope's cipher suite.
///
/// ```
/// use cairn_core::handle::Suite;
/// let s = Suite::from_id(1)?;
/// assert_eq!(s, Suite::X25519ChaCha20Poly1305);
/// assert_eq!(s.hpke_ids(), (0x0020, 0x0001, 0x0003));
/// assert_eq!(Suite::from_id(2)?, Suite::XWingChaCha20Poly1305);
/// assert_eq!(Suite::from_name("xwing")?.public_key_len(), 1216);
/// assert_eq!(Suite::from_id(3).unwrap_err().code().as_str(), "unsupported_algorithm");
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Suite {
    /// Id 0x0001: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305.
    X25519ChaCha20Poly1305,
    /// Id 0x0002: X-Wing (ML-KEM-768 + X25519), HKDF-SHA256, ChaCha20-Poly1305.
    XWingChaCha20Poly1305,
}

impl Suite {
    /// The two-byte suite id written in envelopes.
    pub const fn id(self) -> u16 {
        match self {
            Suite::X25519ChaCha20Poly1305 => 0x0001,
            Suite::XWingChaCha20Poly1305 => 0x0002,
        }
    }

    /// The suite of an id: `unsupported_algorithm` for an unknown one.
    pub fn from_id(id: u16) -> Result<Suite> {
        match id {
            0x0001 => Ok(Suite::X25519ChaCha20Poly1305),
            0x0002 => Ok(Suite::XWingChaCha20Poly1305),
            other => Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                alloc::format!("unknown envelope suite 0x{other:04x}"),
            )),
        }
    }

    /// The suite of a name: [`Suite::name`], or the short `x25519` / `xwing`
    /// (`unsupported_algorithm` otherwise).
    pub fn from_name(name: &str) -> Result<Suite> {
        match name {
            "x25519" | "x25519-hkdf-sha256-chacha20poly1305" => Ok(Suite::X25519ChaCha20Poly1305),
            "xwing" | "xwing-hkdf-sha256-chacha20poly1305" => Ok(Suite::XWingChaCha20Poly1305),
            _ => Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                "unknown envelope suite name (x25519 or xwing)",
            )),
        }
    }

    /// The name used in test vectors, views and messages.
    pub const fn name(self) -> &'static str {
        match self {
            Suite::X25519ChaCha20Poly1305 => "x25519-hkdf-sha256-chacha20poly1305",
            Suite::XWingChaCha20Poly1305 => "xwing-hkdf-sha256-chacha20poly1305",
        }
    }

    /// The short name: `x25519` or `xwing`.
    pub const fn short_name(self) -> &'static str {
        match self {
            Suite::X25519ChaCha20Poly1305 => "x25519",
            Suite::XWingChaCha20Poly1305 => "xwing",
        }
    }

    /// The RFC 9180 identifiers `(kem_id, kdf_id, aead_id)`.
    pub const fn hpke_ids(self) -> (u16, u16, u16) {
        match self {
            Suite::X25519ChaCha20Poly1305 => (0x0020, 0x0001, 0x0003),
            Suite::XWingChaCha20Poly1305 => (0x647a, 0x0001, 0x0003),
        }
    }

    /// Length of the encapsulated key (`Nenc`): 32 for X25519, 1120 for X-Wing.
    pub const fn enc_len(self) -> usize {
        match self {
            Suite::X25519ChaCha20Poly1305 => X25519_LEN,
            Suite::XWingChaCha20Poly1305 => XWING_ENC_LEN,
        }
    }

    /// Length of a public key (`Npk`): 32 for X25519, 1216 for X-Wing. Private keys are
    /// [`SECRET_KEY_LEN`] bytes in both.
    pub const fn public_key_len(self) -> usize {
        match self {
            Suite::X25519ChaCha20Poly1305 => X25519_LEN,
            Suite::XWingChaCha20Poly1305 => XWING_PK_LEN,
        }
    }
}

/// A key id: 8 bytes naming the recipient key, shown as 16 hex digits (seed 003's `kid_hex`).
/// Either given by configuration or derived from the public key ([`Kid::derive`]).
///
/// ```
/// use cairn_core::handle::Kid;
/// let kid = Kid::from_hex("0001020304050607")?;
/// assert_eq!(kid.to_hex(), "0001020304050607");
/// assert!(Kid::from_hex("0001").is_err());
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kid(pub [u8; KID_LEN]);

impl Kid {
    /// `SHA-256("cairn handle envelope kid v1" || 0x00 || suite id (2 bytes, big endian) ||
    /// public key)`, first 8 bytes.
    pub fn derive(suite: Suite, public_key: &[u8]) -> Kid {
        let digest = sha256(&[KID_LABEL, &[0], &suite.id().to_be_bytes(), public_key]);
        let mut kid = [0u8; KID_LEN];
        kid.copy_from_slice(&digest[..KID_LEN]);
        Kid(kid)
    }

    /// Reads 16 hex digits, either case.
    pub fn from_hex(text: &str) -> Result<Kid> {
        hex_decode_array(text)
            .map(Kid)
            .map_err(|e| e.context("kid"))
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex_encode(&self.0)
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kid({})", self.to_hex())
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A recipient's public key: what a sender seals to.
///
/// ```
/// use cairn_core::handle::{EnvelopeSecretKey, Suite};
/// let sk = EnvelopeSecretKey::derive(Suite::X25519ChaCha20Poly1305, None, &[1; 32])?;
/// let pk = sk.public_key();
/// assert_eq!(pk.kid(), sk.kid());
/// assert_eq!(pk.as_bytes().len(), 32);
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EnvelopePublicKey {
    suite: Suite,
    kid: Kid,
    bytes: Vec<u8>,
}

impl EnvelopePublicKey {
    /// A public key and its kid; `kid: None` derives it ([`Kid::derive`]). `invalid_key` for a
    /// key of the wrong length, or an X-Wing key whose ML-KEM part fails FIPS 203's checks.
    pub fn from_bytes(suite: Suite, kid: Option<Kid>, bytes: &[u8]) -> Result<EnvelopePublicKey> {
        if bytes.len() != suite.public_key_len() {
            return Err(Error::new(
                ErrorCode::InvalidKey,
                alloc::format!(
                    "a {} public key is {} bytes, got {}",
                    suite.short_name(),
                    suite.public_key_len(),
                    bytes.len()
                ),
            ));
        }
        if suite == Suite::XWingChaCha20Poly1305 {
            <XWing as hpke::Kem>::PublicKey::from_bytes(bytes)
                .map_err(|e| hpke_error(e, "X-Wing public key"))?;
        }
        if suite == Suite::X25519ChaCha20Poly1305 && is_small_order_x25519(bytes) {
            return Err(Error::new(
                ErrorCode::InvalidKey,
                "an X25519 key of small order: no envelope can be sealed to it (the exchange gives the all-zero secret)",
            ));
        }
        Ok(EnvelopePublicKey {
            suite,
            kid: kid.unwrap_or_else(|| Kid::derive(suite, bytes)),
            bytes: bytes.to_vec(),
        })
    }

    /// Which suite a key of `len` bytes belongs to (32: X25519, 1216: X-Wing), as a server
    /// reads a requester's ephemeral key; `invalid_key` for another length.
    pub fn suite_of_len(len: usize) -> Result<Suite> {
        match len {
            X25519_LEN => Ok(Suite::X25519ChaCha20Poly1305),
            XWING_PK_LEN => Ok(Suite::XWingChaCha20Poly1305),
            other => Err(Error::new(
                ErrorCode::InvalidKey,
                alloc::format!(
                    "a public key is 32 bytes (X25519) or 1216 bytes (X-Wing), got {other}"
                ),
            )),
        }
    }

    /// The suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The key id.
    pub fn kid(&self) -> Kid {
        self.kid
    }

    /// The raw public key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for EnvelopePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EnvelopePublicKey({}, kid {}, {})",
            self.suite.name(),
            self.kid,
            hex_encode(&self.bytes)
        )
    }
}

/// A recipient's private key with its kid (seed 003's `x25519_private_key_hex` and `kid_hex`).
/// Wiped from memory when dropped; `Debug` shows only the kid.
///
/// ```
/// use cairn_core::handle::{EnvelopeSecretKey, Kid, Suite};
/// let sk = EnvelopeSecretKey::from_bytes(
///     Suite::X25519ChaCha20Poly1305,
///     Some(Kid::from_hex("0001020304050607")?),
///     &[0x10; 32],
/// )?;
/// assert_eq!(sk.kid().to_hex(), "0001020304050607");
/// assert!(format!("{sk:?}").contains("0001020304050607"));
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[derive(Clone)]
pub struct EnvelopeSecretKey {
    suite: Suite,
    kid: Kid,
    secret: Zeroizing<[u8; SECRET_KEY_LEN]>,
    public: Vec<u8>,
}

impl EnvelopeSecretKey {
    /// A private key from its raw bytes (an X25519 scalar or an X-Wing seed, 32 bytes);
    /// `kid: None` derives the kid from the public key. `invalid_key` for a key of the wrong
    /// length.
    pub fn from_bytes(suite: Suite, kid: Option<Kid>, secret: &[u8]) -> Result<EnvelopeSecretKey> {
        let wrong = |_| {
            Error::new(
                ErrorCode::InvalidKey,
                alloc::format!(
                    "a {} private key is {SECRET_KEY_LEN} bytes, got {}",
                    suite.short_name(),
                    secret.len()
                ),
            )
        };
        Ok(match suite {
            Suite::X25519ChaCha20Poly1305 => Self::from_hpke::<X25519HkdfSha256>(
                suite,
                kid,
                &<X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(secret).map_err(wrong)?,
            ),
            Suite::XWingChaCha20Poly1305 => Self::from_hpke::<XWing>(
                suite,
                kid,
                &<XWing as hpke::Kem>::PrivateKey::from_bytes(secret).map_err(wrong)?,
            ),
        })
    }

    /// A key pair derived from `ikm` by RFC 9180's `DeriveKeyPair` (section 7.1.3): at least
    /// 32 bytes of secret keying material (`invalid_key` when shorter or over 256 bytes).
    pub fn derive(suite: Suite, kid: Option<Kid>, ikm: &[u8]) -> Result<EnvelopeSecretKey> {
        if !(32..=256).contains(&ikm.len()) {
            return Err(Error::new(
                ErrorCode::InvalidKey,
                alloc::format!(
                    "key derivation needs 32 to 256 bytes of ikm, got {}",
                    ikm.len()
                ),
            ));
        }
        Ok(match suite {
            Suite::X25519ChaCha20Poly1305 => Self::from_hpke::<X25519HkdfSha256>(
                suite,
                kid,
                &X25519HkdfSha256::derive_keypair(ikm).0,
            ),
            Suite::XWingChaCha20Poly1305 => {
                Self::from_hpke::<XWing>(suite, kid, &XWing::derive_keypair(ikm).0)
            }
        })
    }

    /// Both suites' private keys are 32 bytes: `write_exact` fills exactly that.
    fn from_hpke<K: hpke::Kem>(
        suite: Suite,
        kid: Option<Kid>,
        sk: &K::PrivateKey,
    ) -> EnvelopeSecretKey {
        let mut secret = Zeroizing::new([0u8; SECRET_KEY_LEN]);
        secret.copy_from_slice(&sk.to_bytes());
        let public = K::sk_to_pk(sk).to_bytes().to_vec();
        EnvelopeSecretKey {
            suite,
            kid: kid.unwrap_or_else(|| Kid::derive(suite, &public)),
            secret,
            public,
        }
    }

    /// The suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The key id.
    pub fn kid(&self) -> Kid {
        self.kid
    }

    /// The raw private key (handle with care).
    pub fn secret_bytes(&self) -> &[u8] {
        self.secret.as_slice()
    }

    /// The public key, under the same kid.
    pub fn public_key(&self) -> EnvelopePublicKey {
        EnvelopePublicKey {
            suite: self.suite,
            kid: self.kid,
            bytes: self.public.clone(),
        }
    }
}

impl fmt::Debug for EnvelopeSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EnvelopeSecretKey({}, kid {})",
            self.suite.name(),
            self.kid
        )
    }
}

/// The registry's envelope keys: the active keys, at most one per suite (what senders seal
/// to, `GET /envelope_pubkey`; the first is the primary one), and the retired ones, still able
/// to open what was sealed to them. Kids are distinct.
///
/// ```
/// use cairn_core::handle::{seal, EnvelopeSecretKey, Keyring, Suite};
/// let suite = Suite::X25519ChaCha20Poly1305;
/// let old = EnvelopeSecretKey::derive(suite, None, &[1; 32])?;
/// let new = EnvelopeSecretKey::derive(suite, None, &[2; 32])?;
/// let sealed = seal(&old.public_key(), b"register", b"", b"hello", &[9; 32])?;
/// let ring = Keyring::new(new, vec![old])?;
/// assert_eq!(ring.open(b"register", b"", &sealed)?, b"hello");
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Keyring {
    /// The active keys first (`actives` of them, distinct suites), then the retired ones.
    keys: Vec<EnvelopeSecretKey>,
    actives: usize,
}

impl Keyring {
    /// One active key and the retired ones (`malformed` when two share a kid, `too_large` over
    /// [`MAX_KEYRING_KEYS`] keys).
    pub fn new(active: EnvelopeSecretKey, retired: Vec<EnvelopeSecretKey>) -> Result<Keyring> {
        Keyring::with_actives(alloc::vec![active], retired)
    }

    /// Active keys of distinct suites (the first is the primary one) and the retired ones:
    /// `malformed` without an active key, with two active keys of one suite or two keys sharing
    /// a kid; `too_large` over [`MAX_KEYRING_KEYS`] keys.
    ///
    /// ```
    /// use cairn_core::handle::{EnvelopeSecretKey, Keyring, Suite};
    /// let x = EnvelopeSecretKey::derive(Suite::X25519ChaCha20Poly1305, None, &[1; 32])?;
    /// let pq = EnvelopeSecretKey::derive(Suite::XWingChaCha20Poly1305, None, &[2; 32])?;
    /// let ring = Keyring::with_actives(vec![x.clone(), pq.clone()], vec![])?;
    /// assert_eq!(ring.active().kid(), x.kid());
    /// assert_eq!(ring.active_for(Suite::XWingChaCha20Poly1305).map(|k| k.kid()), Some(pq.kid()));
    /// assert!(Keyring::with_actives(vec![x.clone(), x], vec![]).is_err());
    /// # Ok::<(), cairn_core::Error>(())
    /// ```
    pub fn with_actives(
        actives: Vec<EnvelopeSecretKey>,
        retired: Vec<EnvelopeSecretKey>,
    ) -> Result<Keyring> {
        if actives.is_empty() {
            return Err(Error::malformed("a keyring needs an active key"));
        }
        for (i, k) in actives.iter().enumerate() {
            if actives[..i].iter().any(|o| o.suite == k.suite) {
                return Err(Error::malformed(alloc::format!(
                    "two active keys of suite {}: one active key per suite",
                    k.suite.short_name()
                )));
            }
        }
        let n = actives.len();
        let mut keys = actives;
        keys.extend(retired);
        if keys.len() > MAX_KEYRING_KEYS {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("a keyring holds at most {MAX_KEYRING_KEYS} keys"),
            ));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.kid == k.kid) {
                return Err(Error::malformed(alloc::format!(
                    "two keyring keys share the kid {}",
                    k.kid
                )));
            }
        }
        Ok(Keyring { keys, actives: n })
    }

    /// The primary active key (the first given).
    pub fn active(&self) -> &EnvelopeSecretKey {
        &self.keys[0] // invariant: a keyring is built with at least one active key
    }

    /// The active key of a suite, if any.
    pub fn active_for(&self, suite: Suite) -> Option<&EnvelopeSecretKey> {
        self.keys[..self.actives].iter().find(|k| k.suite == suite)
    }

    /// Whether the key of `kid` is an active one.
    pub fn is_active(&self, kid: &Kid) -> bool {
        self.keys[..self.actives].iter().any(|k| &k.kid == kid)
    }

    /// The key of a kid, active or retired.
    pub fn get(&self, kid: &Kid) -> Option<&EnvelopeSecretKey> {
        self.keys.iter().find(|k| &k.kid == kid)
    }

    /// Every public key, the active ones first (`GET /envelope_pubkeys`).
    pub fn public_keys(&self) -> Vec<EnvelopePublicKey> {
        self.keys
            .iter()
            .map(EnvelopeSecretKey::public_key)
            .collect()
    }

    /// Opens an envelope with the key its kid names (`unknown_key` when none, or when that key
    /// is of another suite), as [`open`].
    pub fn open(&self, purpose: &[u8], aad: &[u8], envelope: &[u8]) -> Result<Vec<u8>> {
        let parsed = Envelope::parse(envelope)?;
        let key = self
            .get(&parsed.kid)
            .filter(|k| k.suite == parsed.suite)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::UnknownKey,
                    alloc::format!(
                        "no envelope key has the kid {} and the suite {}",
                        parsed.kid,
                        parsed.suite.short_name()
                    ),
                )
            })?;
        open_parsed(key, purpose, aad, &parsed)
    }
}

/// An envelope split into its fields (see the module documentation for the layout).
///
/// ```
/// use cairn_core::handle::{seal, Envelope, EnvelopeSecretKey, Suite};
/// let sk = EnvelopeSecretKey::derive(Suite::X25519ChaCha20Poly1305, None, &[1; 32])?;
/// let bytes = seal(&sk.public_key(), b"register", b"", b"hi", &[9; 32])?;
/// let env = Envelope::parse(&bytes)?;
/// assert_eq!(env.kid, sk.kid());
/// assert_eq!(env.ciphertext.len(), 2 + 16);
/// assert_eq!(env.to_bytes(), bytes);
/// assert_eq!(Envelope::parse(&bytes[..20]).unwrap_err().code().as_str(), "malformed");
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The suite.
    pub suite: Suite,
    /// The recipient key's id.
    pub kid: Kid,
    /// The HPKE encapsulated key.
    pub enc: Vec<u8>,
    /// The AEAD ciphertext, tag included.
    pub ciphertext: Vec<u8>,
}

impl Envelope {
    /// Splits an envelope: `too_large` over [`MAX_ENVELOPE_LEN`], `malformed` when shorter than
    /// a header, or than its suite's `enc` plus a tag, `unsupported_version`,
    /// `unsupported_algorithm`.
    pub fn parse(bytes: &[u8]) -> Result<Envelope> {
        if bytes.len() > MAX_ENVELOPE_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!(
                    "the envelope is {} bytes, the limit is {MAX_ENVELOPE_LEN}",
                    bytes.len()
                ),
            ));
        }
        let Some(&version) = bytes.first() else {
            return Err(Error::malformed("the envelope is empty"));
        };
        if version != ENVELOPE_VERSION {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                alloc::format!("envelope version {version} is not supported"),
            ));
        }
        if bytes.len() < ENVELOPE_HEADER_LEN {
            return Err(Error::malformed(alloc::format!(
                "the envelope is {} bytes, shorter than its {ENVELOPE_HEADER_LEN}-byte header",
                bytes.len()
            )));
        }
        let suite = Suite::from_id(u16::from_be_bytes([bytes[1], bytes[2]]))?;
        let mut kid = [0u8; KID_LEN];
        kid.copy_from_slice(&bytes[3..ENVELOPE_HEADER_LEN]);
        let rest = &bytes[ENVELOPE_HEADER_LEN..];
        if rest.len() < suite.enc_len() + TAG_LEN {
            return Err(Error::malformed(alloc::format!(
                "the envelope is truncated: {} bytes after the header, at least {} needed",
                rest.len(),
                suite.enc_len() + TAG_LEN
            )));
        }
        let (enc, ciphertext) = rest.split_at(suite.enc_len());
        Ok(Envelope {
            suite,
            kid: Kid(kid),
            enc: enc.to_vec(),
            ciphertext: ciphertext.to_vec(),
        })
    }

    /// The 11-byte header: version, suite, kid.
    pub fn header(&self) -> [u8; ENVELOPE_HEADER_LEN] {
        header(self.suite, self.kid)
    }

    /// The envelope's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(ENVELOPE_HEADER_LEN + self.enc.len() + self.ciphertext.len());
        out.extend_from_slice(&self.header());
        out.extend_from_slice(&self.enc);
        out.extend_from_slice(&self.ciphertext);
        out
    }
}

fn header(suite: Suite, kid: Kid) -> [u8; ENVELOPE_HEADER_LEN] {
    let mut h = [0u8; ENVELOPE_HEADER_LEN];
    h[0] = ENVELOPE_VERSION;
    h[1..3].copy_from_slice(&suite.id().to_be_bytes());
    h[3..].copy_from_slice(&kid.0);
    h
}

fn check_len(what: &str, len: usize, max: usize) -> Result<()> {
    if len > max {
        return Err(Error::new(
            ErrorCode::TooLarge,
            alloc::format!("the {what} is {len} bytes, the limit is {max}"),
        ));
    }
    Ok(())
}

/// `info` and `aad` of an envelope, after the size checks.
fn context(purpose: &[u8], aad: &[u8], head: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    check_len("purpose", purpose.len(), MAX_PURPOSE_LEN)?;
    check_len("aad", aad.len(), MAX_AAD_LEN)?;
    let mut info = Vec::with_capacity(ENVELOPE_INFO.len() + 1 + purpose.len());
    info.extend_from_slice(ENVELOPE_INFO);
    info.push(0);
    info.extend_from_slice(purpose);
    let mut full_aad = Vec::with_capacity(head.len() + aad.len());
    full_aad.extend_from_slice(head);
    full_aad.extend_from_slice(aad);
    Ok((info, full_aad))
}

/// Largest plaintext [`seal`] accepts for a suite: what fits in [`MAX_ENVELOPE_LEN`].
///
/// ```
/// use cairn_core::handle::{max_plaintext_len, Suite};
/// assert_eq!(max_plaintext_len(Suite::X25519ChaCha20Poly1305), 65536 - 11 - 32 - 16);
/// ```
pub const fn max_plaintext_len(suite: Suite) -> usize {
    MAX_ENVELOPE_LEN - ENVELOPE_HEADER_LEN - suite.enc_len() - TAG_LEN
}

/// Seals `plaintext` to `recipient` for `purpose` (at most [`MAX_PURPOSE_LEN`] bytes, such as
/// `b"register"`), binding `aad` (at most [`MAX_AAD_LEN`] bytes, such as the handle's blind
/// index). `seed` is the sender's fresh secret randomness: the ephemeral key pair is
/// `DeriveKeyPair(seed)`. Errors: `too_large`, `invalid_key` (a recipient key of small order).
///
/// ```
/// use cairn_core::handle::{open, seal, EnvelopeSecretKey, Suite};
/// let sk = EnvelopeSecretKey::derive(Suite::X25519ChaCha20Poly1305, None, &[1; 32])?;
/// let env = seal(&sk.public_key(), b"register", b"aad", b"secret", &[9; 32])?;
/// assert_eq!(open(&sk, b"register", b"aad", &env)?, b"secret");
/// let err = open(&sk, b"resolve", b"aad", &env).unwrap_err();
/// assert_eq!(err.code().as_str(), "signature_invalid");
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn seal(
    recipient: &EnvelopePublicKey,
    purpose: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    seed: &[u8; SEAL_SEED_LEN],
) -> Result<Vec<u8>> {
    let suite = recipient.suite;
    check_len("plaintext", plaintext.len(), max_plaintext_len(suite))?;
    let head = header(suite, recipient.kid);
    let (info, full_aad) = context(purpose, aad, &head)?;
    let mut rng = SeedRng::new(seed);
    let (enc, ciphertext) = hpke_seal(
        suite,
        &recipient.bytes,
        &info,
        &full_aad,
        plaintext,
        &mut rng,
    )?;
    let mut out = Vec::with_capacity(ENVELOPE_HEADER_LEN + enc.len() + ciphertext.len());
    out.extend_from_slice(&head);
    out.extend_from_slice(&enc);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Opens an envelope with one key: `unknown_key` when the envelope names another kid (or
/// suite), `signature_invalid` when the tag does not verify, and the errors of
/// [`Envelope::parse`]. [`Keyring::open`] picks the key by kid.
///
/// ```
/// use cairn_core::handle::{open, seal, EnvelopeSecretKey, Suite};
/// let a = EnvelopeSecretKey::derive(Suite::X25519ChaCha20Poly1305, None, &[1; 32])?;
/// let b = EnvelopeSecretKey::derive(Suite::X25519ChaCha20Poly1305, None, &[2; 32])?;
/// let env = seal(&a.public_key(), b"p", b"", b"x", &[9; 32])?;
/// assert_eq!(open(&b, b"p", b"", &env).unwrap_err().code().as_str(), "unknown_key");
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn open(
    key: &EnvelopeSecretKey,
    purpose: &[u8],
    aad: &[u8],
    envelope: &[u8],
) -> Result<Vec<u8>> {
    let parsed = Envelope::parse(envelope)?;
    if parsed.kid != key.kid || parsed.suite != key.suite {
        return Err(Error::new(
            ErrorCode::UnknownKey,
            alloc::format!(
                "the envelope is for kid {} ({}), this key is kid {} ({})",
                parsed.kid,
                parsed.suite.name(),
                key.kid,
                key.suite.name()
            ),
        ));
    }
    open_parsed(key, purpose, aad, &parsed)
}

fn open_parsed(
    key: &EnvelopeSecretKey,
    purpose: &[u8],
    aad: &[u8],
    env: &Envelope,
) -> Result<Vec<u8>> {
    let (info, full_aad) = context(purpose, aad, &env.header())?;
    hpke_open(
        env.suite,
        key.secret.as_slice(),
        &env.enc,
        &info,
        &full_aad,
        &env.ciphertext,
    )
}

/// RFC 9180 base-mode single-shot seal with `suite`'s KEM, HKDF-SHA256 and ChaCha20-Poly1305,
/// the KEM's randomness drawn from `rng` (the ephemeral key pair is `DeriveKeyPair` of the
/// first 32 bytes with X25519; X-Wing takes 64 bytes).
pub(crate) fn hpke_seal(
    suite: Suite,
    pk: &[u8],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut SeedRng<'_>,
) -> Result<(Vec<u8>, Vec<u8>)> {
    match suite {
        Suite::X25519ChaCha20Poly1305 => {
            seal_with::<X25519HkdfSha256>(pk, info, aad, plaintext, rng)
        }
        Suite::XWingChaCha20Poly1305 => seal_with::<XWing>(pk, info, aad, plaintext, rng),
    }
}

fn seal_with<K: hpke::Kem>(
    pk: &[u8],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut SeedRng<'_>,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let pk = K::PublicKey::from_bytes(pk).map_err(|e| hpke_error(e, "recipient key"))?;
    let (enc, ct) = hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, K>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        rng,
    )
    .map_err(|e| hpke_error(e, "sealing"))?;
    Ok((enc.to_bytes().to_vec(), ct))
}

/// RFC 9180 base-mode single-shot open, the counterpart of [`hpke_seal`].
pub(crate) fn hpke_open(
    suite: Suite,
    sk: &[u8],
    enc: &[u8],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>> {
    match suite {
        Suite::X25519ChaCha20Poly1305 => {
            open_with::<X25519HkdfSha256>(sk, enc, info, aad, ciphertext)
        }
        Suite::XWingChaCha20Poly1305 => open_with::<XWing>(sk, enc, info, aad, ciphertext),
    }
}

fn open_with<K: hpke::Kem>(
    sk: &[u8],
    enc: &[u8],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>> {
    let sk = K::PrivateKey::from_bytes(sk).map_err(|e| hpke_error(e, "private key"))?;
    let enc = K::EncappedKey::from_bytes(enc).map_err(|e| hpke_error(e, "encapsulated key"))?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, K>(
        &OpModeR::Base,
        &sk,
        &enc,
        info,
        ciphertext,
        aad,
    )
    .map_err(|e| hpke_error(e, "opening"))
}

/// The X25519 public keys of small order, as libsodium lists them: 0, 1, the two points of
/// order 8, and p - 1, p, p + 1 (the last byte's top bit aside, which X25519 ignores). An
/// exchange with one gives the all-zero secret, so nothing can be sealed to it; a key is
/// refused when it is read rather than when it is first used.
const X25519_SMALL_ORDER: [[u8; 32]; 7] = [
    [0; 32],
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0,
    ],
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ],
    small_order_near_p(0xec),
    small_order_near_p(0xed),
    small_order_near_p(0xee),
];

/// p - 1, p or p + 1 (little-endian, first byte `low`; p = 2^255 - 19).
const fn small_order_near_p(low: u8) -> [u8; 32] {
    let mut k = [0xff; 32];
    k[0] = low;
    k[31] = 0x7f;
    k
}

/// Whether `key` is an X25519 public key of small order ([`X25519_SMALL_ORDER`]).
fn is_small_order_x25519(key: &[u8]) -> bool {
    key.len() == X25519_LEN
        && X25519_SMALL_ORDER
            .iter()
            .any(|bad| key[..31] == bad[..31] && (key[31] & 0x7f) == bad[31])
}

fn hpke_error(e: HpkeError, what: &str) -> Error {
    match e {
        HpkeError::OpenError => Error::new(
            ErrorCode::SignatureInvalid,
            "the envelope's tag does not verify (tampered, another key, purpose or aad)",
        ),
        HpkeError::EncapError | HpkeError::DecapError => Error::new(
            ErrorCode::InvalidKey,
            alloc::format!(
                "{what}: the X25519 exchange gives the all-zero secret (a small-order point)"
            ),
        ),
        HpkeError::ValidationError => Error::new(
            ErrorCode::InvalidKey,
            alloc::format!("{what}: not a valid key (FIPS 203 encapsulation key check)"),
        ),
        HpkeError::IncorrectInputLength(want, got) => Error::new(
            ErrorCode::InvalidKey,
            alloc::format!("{what}: {got} bytes where {want} are needed"),
        ),
        other => Error::new(ErrorCode::InvalidKey, alloc::format!("{what}: {other}")),
    }
}

/// The "random" source handed to hpke: the caller's seed, byte for byte, then SHA-256 blocks
/// of `"cairn handle seed stream" || seed || counter (8 bytes, big endian)`. X25519 draws
/// exactly the 32 seed bytes; X-Wing draws 64, the seed and the first block.
pub(crate) struct SeedRng<'a> {
    seed: &'a [u8],
    pos: usize,
    counter: u64,
    block: Zeroizing<[u8; 32]>,
}

impl<'a> SeedRng<'a> {
    pub(crate) fn new(seed: &'a [u8]) -> Self {
        SeedRng {
            seed,
            pos: 0,
            counter: 0,
            block: Zeroizing::new([0; 32]),
        }
    }

    fn next_byte(&mut self) -> u8 {
        let i = self.pos;
        self.pos += 1;
        if let Some(&b) = self.seed.get(i) {
            return b;
        }
        let j = (i - self.seed.len()) % 32;
        if j == 0 {
            *self.block = sha256(&[
                b"cairn handle seed stream",
                self.seed,
                &self.counter.to_be_bytes(),
            ]);
            self.counter += 1;
        }
        self.block[j]
    }
}

impl hpke::rand_core::TryRng for SeedRng<'_> {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> core::result::Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> core::result::Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> core::result::Result<(), Infallible> {
        for b in dst {
            *b = self.next_byte();
        }
        Ok(())
    }
}

impl hpke::rand_core::TryCryptoRng for SeedRng<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every listed key is of small order (no envelope can be sealed to it, with the top bit
    /// of its last byte set or not), and is refused when read; keys off the list are taken.
    #[test]
    fn small_order_x25519_keys_are_refused_when_read() {
        for bad in X25519_SMALL_ORDER {
            for top in [0u8, 0x80] {
                let mut k = bad;
                k[31] |= top;
                let mut rng = SeedRng::new(&[7; SEAL_SEED_LEN]);
                let sealed = hpke_seal(Suite::X25519ChaCha20Poly1305, &k, b"", b"", b"x", &mut rng);
                assert_eq!(
                    sealed.unwrap_err().code(),
                    ErrorCode::InvalidKey,
                    "{k:02x?}"
                );
                let e = EnvelopePublicKey::from_bytes(Suite::X25519ChaCha20Poly1305, None, &k)
                    .unwrap_err();
                assert_eq!(e.code(), ErrorCode::InvalidKey, "{k:02x?}");
            }
        }
        let good = EnvelopeSecretKey::from_bytes(Suite::X25519ChaCha20Poly1305, None, &[3; 32])
            .unwrap()
            .public_key();
        EnvelopePublicKey::from_bytes(Suite::X25519ChaCha20Poly1305, None, good.as_bytes())
            .unwrap();
        let mut two = [0u8; 32];
        two[0] = 2;
        assert!(!is_small_order_x25519(&two));
    }

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 9180 appendix A.2.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305,
    /// base mode), first encryption: the seed is the RFC's `ikmE`, so `enc` and `ct` must be the
    /// RFC's bytes.
    #[test]
    fn rfc9180_a21_known_answer() {
        let ikm_e: [u8; 32] =
            unhex("909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b")
                .try_into()
                .unwrap();
        let pk_r = unhex("4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a");
        let sk_r = unhex("8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb");
        let info = unhex("4f6465206f6e2061204772656369616e2055726e");
        let aad = unhex("436f756e742d30");
        let pt = unhex("4265617574792069732074727574682c20747275746820626561757479");
        let suite = Suite::X25519ChaCha20Poly1305;
        let (enc, ct) =
            hpke_seal(suite, &pk_r, &info, &aad, &pt, &mut SeedRng::new(&ikm_e)).unwrap();
        assert_eq!(
            hex::encode(&enc),
            "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a"
        );
        assert_eq!(
            hex::encode(&ct),
            "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28"
        );
        assert_eq!(hpke_open(suite, &sk_r, &enc, &info, &aad, &ct).unwrap(), pt);
        // The private key's public half is the RFC's pkRm.
        let sk = EnvelopeSecretKey::from_bytes(Suite::X25519ChaCha20Poly1305, None, &sk_r).unwrap();
        assert_eq!(sk.public_key().as_bytes(), pk_r.as_slice());
    }

    /// draft-ietf-hpke-pq's vector for X-Wing with HKDF-SHA256 and ChaCha20-Poly1305 (base
    /// mode), first encryption: `ikmR` derives the vector's key pair, and the 64 bytes of
    /// `ikmE` handed to the KEM give the vector's `enc` and ciphertext.
    #[test]
    fn xwing_hpke_pq_known_answer() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("xwing_hpke_kat.json")).unwrap();
        let h = |k: &str| unhex(v[k].as_str().unwrap());
        let e = &v["encryptions"][0];
        let he = |k: &str| unhex(e[k].as_str().unwrap());
        let suite = Suite::XWingChaCha20Poly1305;
        let sk = EnvelopeSecretKey::derive(suite, None, &h("ikmR")).unwrap();
        assert_eq!(sk.secret_bytes(), h("skRm").as_slice());
        assert_eq!(sk.public_key().as_bytes(), h("pkRm").as_slice());
        let ikm_e = h("ikmE");
        assert_eq!(ikm_e.len(), 64);
        let (enc, ct) = hpke_seal(
            suite,
            &h("pkRm"),
            &h("info"),
            &he("aad"),
            &he("pt"),
            &mut SeedRng::new(&ikm_e),
        )
        .unwrap();
        assert_eq!(enc, h("enc"));
        assert_eq!(ct, he("ct"));
        let pt = hpke_open(suite, &h("skRm"), &enc, &h("info"), &he("aad"), &ct).unwrap();
        assert_eq!(pt, he("pt"));
        // A flipped bit in enc: X-Wing decapsulates to another secret (implicit rejection), so
        // the tag fails.
        let mut bad = enc.clone();
        bad[100] ^= 1;
        let err = hpke_open(suite, &h("skRm"), &bad, &h("info"), &he("aad"), &ct).unwrap_err();
        assert_eq!(err.code(), ErrorCode::SignatureInvalid);
    }

    #[test]
    fn seed_stream_starts_with_the_seed_and_goes_on() {
        use hpke::rand_core::Rng;
        let seed = [7u8; 32];
        let mut r = SeedRng::new(&seed);
        let mut out = [0u8; 100];
        r.fill_bytes(&mut out);
        assert_eq!(&out[..32], &seed);
        assert_eq!(
            &out[32..64],
            &sha256(&[b"cairn handle seed stream", &seed, &0u64.to_be_bytes()])
        );
        assert_eq!(
            &out[64..96],
            &sha256(&[b"cairn handle seed stream", &seed, &1u64.to_be_bytes()])
        );
    }
}
