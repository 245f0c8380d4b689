//! Crypto suites: Ed25519, ML-DSA-44/65 (FIPS 204), hybrids of both, and (feature
//! `legacy-dilithium`, native only) round-3 Dilithium for migrating old signatures.
//!
//! Everything here verifies bytes: callers pass the exact message and the FIPS 204 context
//! (cairn puts the payload type there). A hybrid signature is the Ed25519 signature followed
//! by the ML-DSA signature over the same message, and both halves must verify. Ed25519 is
//! verified strictly (canonical encodings, no small-order points, S < L). docs/FORMATS.md
//! ("Crypto suites, key ids and key encodings") specifies every rule; [`verify_signature`]
//! is the one-call entry point for raw bytes.
//!
//! Invariant: a [`PublicKey`] or [`Signature`] value always has the exact length of its
//! algorithm; constructors check it, so verification never sees a short buffer.

pub mod batch;
mod ed25519;
#[cfg(feature = "host-ed25519")]
pub use ed25519::host;
#[cfg(feature = "legacy-dilithium")]
mod legacy;
mod mldsa;
#[cfg(feature = "native-mldsa-sign")]
mod native_sign;
pub mod pem;
pub mod prepared;
#[cfg(feature = "std")]
mod signing;

#[cfg(feature = "legacy-dilithium")]
pub use legacy::LegacySigningKey;
#[cfg(feature = "std")]
pub use signing::SigningKey;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use once_cell::race::OnceBox;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::encoding::{hex_encode, sha256, Digest};
use crate::error::{Error, ErrorCode, Result};

/// Ed25519 public key length.
pub const ED25519_PK_LEN: usize = 32;
/// Ed25519 signature length.
pub const ED25519_SIG_LEN: usize = 64;
/// ML-DSA-44 public key length (FIPS 204 table 2).
pub const MLDSA44_PK_LEN: usize = 1312;
/// ML-DSA-44 signature length.
pub const MLDSA44_SIG_LEN: usize = 2420;
/// ML-DSA-65 public key length.
pub const MLDSA65_PK_LEN: usize = 1952;
/// ML-DSA-65 signature length.
pub const MLDSA65_SIG_LEN: usize = 3309;
/// Round-3 Dilithium3 signature length (Dilithium2's equals ML-DSA-44's).
pub const DILITHIUM3_R3_SIG_LEN: usize = 3293;
/// Longest FIPS 204 context string.
pub const MAX_CONTEXT_LEN: usize = 255;

/// A signature algorithm. The numeric id is part of every key id and of the binary formats.
///
/// ```
/// use cairn_core::crypto::Algorithm;
/// assert_eq!(Algorithm::parse("ed25519+ml-dsa-65")?, Algorithm::Ed25519MlDsa65);
/// assert_eq!(Algorithm::Ed25519MlDsa65.id(), 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// Ed25519 (RFC 8032, pure), strict verification.
    Ed25519,
    /// ML-DSA-44 (FIPS 204), pure (not pre-hashed).
    MlDsa44,
    /// ML-DSA-65 (FIPS 204), pure.
    MlDsa65,
    /// Ed25519 and ML-DSA-44 over the same message; both must verify.
    Ed25519MlDsa44,
    /// Ed25519 and ML-DSA-65 over the same message; both must verify.
    Ed25519MlDsa65,
    /// Round-3 CRYSTALS-Dilithium2 (pre-FIPS; verification needs feature `legacy-dilithium`).
    Dilithium2R3,
    /// Round-3 CRYSTALS-Dilithium3 (pre-FIPS; verification needs feature `legacy-dilithium`).
    Dilithium3R3,
}

impl Algorithm {
    /// Every algorithm, in id order.
    pub const ALL: [Algorithm; 7] = [
        Algorithm::Ed25519,
        Algorithm::MlDsa44,
        Algorithm::MlDsa65,
        Algorithm::Ed25519MlDsa44,
        Algorithm::Ed25519MlDsa65,
        Algorithm::Dilithium2R3,
        Algorithm::Dilithium3R3,
    ];

    /// The one-byte algorithm id (frozen: see docs/FORMATS.md).
    pub const fn id(self) -> u8 {
        match self {
            Algorithm::Ed25519 => 0x01,
            Algorithm::MlDsa44 => 0x02,
            Algorithm::MlDsa65 => 0x03,
            Algorithm::Ed25519MlDsa44 => 0x04,
            Algorithm::Ed25519MlDsa65 => 0x05,
            Algorithm::Dilithium2R3 => 0x81,
            Algorithm::Dilithium3R3 => 0x82,
        }
    }

    /// Looks an algorithm up by its id.
    pub fn from_id(id: u8) -> Result<Algorithm> {
        Algorithm::ALL
            .iter()
            .copied()
            .find(|a| a.id() == id)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::UnsupportedAlgorithm,
                    alloc::format!("unknown algorithm id 0x{id:02x}"),
                )
            })
    }

    /// The algorithm's name (frozen).
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::MlDsa44 => "ml-dsa-44",
            Algorithm::MlDsa65 => "ml-dsa-65",
            Algorithm::Ed25519MlDsa44 => "ed25519+ml-dsa-44",
            Algorithm::Ed25519MlDsa65 => "ed25519+ml-dsa-65",
            Algorithm::Dilithium2R3 => "dilithium2-r3",
            Algorithm::Dilithium3R3 => "dilithium3-r3",
        }
    }

    /// Looks an algorithm up by its name.
    pub fn parse(name: &str) -> Result<Algorithm> {
        Algorithm::ALL
            .iter()
            .copied()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::UnsupportedAlgorithm,
                    alloc::format!("unknown algorithm {name:?}"),
                )
            })
    }

    /// Public key length in bytes (hybrids: Ed25519 key then ML-DSA key).
    pub const fn public_key_len(self) -> usize {
        match self {
            Algorithm::Ed25519 => ED25519_PK_LEN,
            Algorithm::MlDsa44 | Algorithm::Dilithium2R3 => MLDSA44_PK_LEN,
            Algorithm::MlDsa65 | Algorithm::Dilithium3R3 => MLDSA65_PK_LEN,
            Algorithm::Ed25519MlDsa44 => ED25519_PK_LEN + MLDSA44_PK_LEN,
            Algorithm::Ed25519MlDsa65 => ED25519_PK_LEN + MLDSA65_PK_LEN,
        }
    }

    /// Signature length in bytes (hybrids: Ed25519 signature then ML-DSA signature).
    pub const fn signature_len(self) -> usize {
        match self {
            Algorithm::Ed25519 => ED25519_SIG_LEN,
            Algorithm::MlDsa44 | Algorithm::Dilithium2R3 => MLDSA44_SIG_LEN,
            Algorithm::MlDsa65 => MLDSA65_SIG_LEN,
            Algorithm::Dilithium3R3 => DILITHIUM3_R3_SIG_LEN,
            Algorithm::Ed25519MlDsa44 => ED25519_SIG_LEN + MLDSA44_SIG_LEN,
            Algorithm::Ed25519MlDsa65 => ED25519_SIG_LEN + MLDSA65_SIG_LEN,
        }
    }

    /// True for the algorithms that include an Ed25519 half.
    pub const fn has_ed25519(self) -> bool {
        matches!(
            self,
            Algorithm::Ed25519 | Algorithm::Ed25519MlDsa44 | Algorithm::Ed25519MlDsa65
        )
    }

    /// True for the algorithms that include a post-quantum half.
    pub const fn is_post_quantum(self) -> bool {
        !matches!(self, Algorithm::Ed25519)
    }

    /// True for round-3 Dilithium, accepted only for migrating old signatures.
    pub const fn is_legacy(self) -> bool {
        matches!(self, Algorithm::Dilithium2R3 | Algorithm::Dilithium3R3)
    }

    /// The NIST security category of the post-quantum half (FIPS 204: ML-DSA-44 is 2,
    /// ML-DSA-65 is 3; round-3 Dilithium2 and Dilithium3 alike); 0 for Ed25519 alone.
    ///
    /// ```
    /// use cairn_core::crypto::Algorithm;
    /// assert_eq!(Algorithm::Ed25519.post_quantum_category(), 0);
    /// assert_eq!(Algorithm::Ed25519MlDsa44.post_quantum_category(), 2);
    /// assert_eq!(Algorithm::MlDsa65.post_quantum_category(), 3);
    /// ```
    pub const fn post_quantum_category(self) -> u8 {
        match self {
            Algorithm::Ed25519 => 0,
            Algorithm::MlDsa44 | Algorithm::Ed25519MlDsa44 | Algorithm::Dilithium2R3 => 2,
            Algorithm::MlDsa65 | Algorithm::Ed25519MlDsa65 | Algorithm::Dilithium3R3 => 3,
        }
    }

    /// What a key of this algorithm would give up were it replaced by one of `new`: its
    /// post-quantum category (a lower one, or none), or, for a hybrid, its classical Ed25519
    /// half. `None` when `new` keeps both. The store's key rotation refuses such a rotation
    /// unless its caller asks for it (`cairn key rotate --allow-weaker-algorithm`).
    ///
    /// ```
    /// use cairn_core::crypto::Algorithm;
    /// assert!(Algorithm::Ed25519MlDsa44.weakened_by(Algorithm::Ed25519).is_some());
    /// assert!(Algorithm::Ed25519MlDsa65.weakened_by(Algorithm::Ed25519MlDsa44).is_some());
    /// assert!(Algorithm::Ed25519MlDsa44.weakened_by(Algorithm::MlDsa44).is_some());
    /// let both = Algorithm::Ed25519MlDsa65.weakened_by(Algorithm::MlDsa44).unwrap_or_default();
    /// assert!(both.contains("category") && both.contains("Ed25519"));
    /// assert!(Algorithm::Ed25519.weakened_by(Algorithm::Ed25519MlDsa44).is_none());
    /// assert!(Algorithm::MlDsa44.weakened_by(Algorithm::Ed25519MlDsa65).is_none());
    /// ```
    pub const fn weakened_by(self, new: Algorithm) -> Option<&'static str> {
        let weaker = new.post_quantum_category() < self.post_quantum_category();
        let hybrid_half = self.has_ed25519() && self.is_post_quantum() && !new.has_ed25519();
        match (weaker, hybrid_half, new.is_post_quantum()) {
            (true, _, false) => Some("its post-quantum protection"),
            (true, true, true) => Some(concat!(
                "post-quantum strength (a lower NIST category) ",
                "and the classical Ed25519 half of its hybrid signature"
            )),
            (true, false, true) => Some("post-quantum strength (a lower NIST category)"),
            (false, true, _) => Some("the classical Ed25519 half of its hybrid signature"),
            (false, false, _) => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Algorithm {
    fn serialize<S: Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(self.name())
        } else {
            s.serialize_u8(self.id())
        }
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            Algorithm::parse(&s).map_err(serde::de::Error::custom)
        } else {
            Algorithm::from_id(u8::deserialize(d)?).map_err(serde::de::Error::custom)
        }
    }
}

/// A key id: SHA-256(algorithm id byte ‖ public key bytes). The same raw key under two
/// algorithms has two ids, and the id is never the bare SHA-256 of the key (blux-reg's
/// fingerprint), so the two cannot be confused.
///
/// ```
/// use cairn_core::crypto::{Algorithm, KeyId, PublicKey};
/// let raw = cairn_core::encoding::hex_decode_array::<32>(
///     "73d2f927ebd1503886eaf698eddcaa773b17ad92bf648b5b6fe2e38d89640198")?;
/// let pk = PublicKey::from_bytes(Algorithm::Ed25519, &raw)?;
/// assert_eq!(
///     pk.key_id().to_hex(),
///     "1c6516226d7c747929ef9e0ed47b891fad6336c3e3c22f65ebad4a2bce3d13d9"
/// );
/// assert_eq!(pk.key_id(), KeyId::compute(Algorithm::Ed25519, &raw));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub Digest);

impl KeyId {
    /// Computes the id of a key from its algorithm and raw bytes (which are not validated).
    pub fn compute(alg: Algorithm, public_key: &[u8]) -> KeyId {
        KeyId(sha256(&[&[alg.id()], public_key]))
    }

    /// Lowercase hex (64 characters): the form used in DSSE `keyid` fields and JSON.
    pub fn to_hex(&self) -> String {
        hex_encode(&self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Result<KeyId> {
        crate::encoding::hex_decode_array::<32>(text)
            .map(KeyId)
            .map_err(|e| e.context("key id"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.to_hex())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        crate::encoding::hex32::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        crate::encoding::hex32::deserialize(d).map(KeyId)
    }
}

/// A public key of any supported algorithm, length-checked (and for Ed25519, point-checked).
///
/// The key is decoded once and kept beside its raw bytes, so each verification does only the
/// signature's own work: the Ed25519 point is decompressed when the key is built (that is
/// also its validity check), the ML-DSA key is expanded at its first verification (about
/// 13–20 µs natively, so keys that are only carried, like a token's holder, never pay it).
/// Equality and hashing look at the algorithm and the raw bytes only, so a `PublicKey` is a
/// sound `HashMap` key; clippy's `mutable_key_type` lint sees the cache and warns anyway
/// (`ignore-interior-mutability = ["cairn_core::crypto::PublicKey"]` in `clippy.toml`
/// tells it otherwise).
///
/// ```
/// # #[cfg(feature = "std")] {
/// use cairn_core::crypto::{Algorithm, PublicKey, SigningKey};
/// let sk = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[3; 32]);
/// let sig = sk.sign(b"m", b"ctx")?;
/// let pk = PublicKey::from_bytes(Algorithm::Ed25519MlDsa44, sk.public_key().as_bytes())?;
/// assert!(pk.verify(b"m", b"ctx", &sig).is_ok()); // expands the ML-DSA half, once
/// assert!(pk.verify(b"m", b"ctx", &sig).is_ok()); // reuses it
/// assert_eq!(&pk, sk.public_key());
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PublicKey {
    alg: Algorithm,
    bytes: Vec<u8>,
    decoded: DecodedKey,
}

/// An ML-DSA key's expanded form, filled at its first verification. Shared (`Arc`) between
/// clones of a key and a hybrid's ML-DSA half, so any of them expands it for all; the `Arc`
/// also keeps `PublicKey` free of visible interior mutability (a `HashMap` key is fine).
type LazyExpanded = Arc<OnceBox<mldsa::ExpandedKey>>;

/// The decoded form of a [`PublicKey`], derived from its bytes and never serialized.
#[derive(Clone)]
enum DecodedKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    MlDsa(LazyExpanded),
    Hybrid(ed25519_dalek::VerifyingKey, LazyExpanded),
    /// Round-3 Dilithium: verified from its bytes by the legacy backend (or refused).
    Legacy,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.alg == other.alg && self.bytes == other.bytes
    }
}

impl Eq for PublicKey {}

impl core::hash::Hash for PublicKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.alg.hash(state);
        self.bytes.hash(state);
    }
}

impl PublicKey {
    /// Builds a key from raw bytes (hybrid: Ed25519 key ‖ ML-DSA key).
    ///
    /// Rejects wrong lengths, Ed25519 encodings that are not a canonical curve point, and
    /// small-order (weak) Ed25519 keys. Any ML-DSA key of the right length is well formed.
    pub fn from_bytes(alg: Algorithm, bytes: &[u8]) -> Result<PublicKey> {
        if bytes.len() != alg.public_key_len() {
            return Err(Error::new(
                ErrorCode::InvalidKey,
                alloc::format!(
                    "{alg} public key must be {} bytes, got {}",
                    alg.public_key_len(),
                    bytes.len()
                ),
            ));
        }
        // ML-DSA needs no further check: FIPS 204's pkDecode accepts every byte string of
        // the right length (ρ is any 32 bytes, t1 packs 10-bit values with no invalid code),
        // so its expansion can wait for the first verification.
        let decoded = match alg {
            Algorithm::Ed25519 => DecodedKey::Ed25519(ed25519::parse_public_key(bytes)?),
            Algorithm::MlDsa44 | Algorithm::MlDsa65 => DecodedKey::MlDsa(LazyExpanded::default()),
            Algorithm::Ed25519MlDsa44 | Algorithm::Ed25519MlDsa65 => DecodedKey::Hybrid(
                ed25519::parse_public_key(&bytes[..ED25519_PK_LEN])?,
                LazyExpanded::default(),
            ),
            Algorithm::Dilithium2R3 | Algorithm::Dilithium3R3 => DecodedKey::Legacy,
        };
        Ok(PublicKey {
            alg,
            bytes: bytes.to_vec(),
            decoded,
        })
    }

    /// Parses the JSON form `{"alg": "<name>", "key": "<base64>"}` (the key's `Serialize`
    /// form), accepting exactly what `serde_json::from_str::<PublicKey>` accepts (cairn-core's
    /// own JSON reader, so that the browser module has no JSON parser). Every refusal, a key of
    /// the wrong length or a bad point included, is `malformed`.
    ///
    /// ```
    /// use cairn_core::crypto::{Algorithm, PublicKey};
    /// let pk = PublicKey::from_json(
    ///     r#"{"alg": "ed25519", "key": "c9L5J+vRUDiG6vaY7dyqdzsXrZK/ZItbb+LjjYlkAZg="}"#)?;
    /// assert_eq!(pk.algorithm(), Algorithm::Ed25519);
    /// assert!(PublicKey::from_json(r#"{"alg": "ed25519"}"#).is_err());
    /// # Ok::<(), cairn_core::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<PublicKey> {
        let mut j = crate::json_read::Json::new(text);
        let (mut alg, mut key) = (String::new(), String::new());
        let read = j.record(&["alg", "key"], |j, k| {
            *(if k == 0 { &mut alg } else { &mut key }) = j.string()?;
            Some(())
        });
        if read.and_then(|()| j.end()).is_none() {
            return Err(Error::malformed(alloc::format!(
                "key JSON: not {{alg, key}} (invalid at byte {})",
                j.offset()
            )));
        }
        let key = Algorithm::parse(&alg)
            .and_then(|alg| PublicKey::from_bytes(alg, &crate::encoding::b64_decode(&key)?));
        key.map_err(|e| Error::malformed(alloc::format!("key JSON: {}", e.detail())))
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The key id.
    pub fn key_id(&self) -> KeyId {
        KeyId::compute(self.alg, &self.bytes)
    }

    /// The Ed25519 part of the key (the whole key for Ed25519, the first 32 bytes of a hybrid).
    pub fn ed25519_part(&self) -> Option<[u8; 32]> {
        if self.alg.has_ed25519() {
            let mut out = [0u8; 32];
            out.copy_from_slice(&self.bytes[..ED25519_PK_LEN]);
            Some(out)
        } else {
            None
        }
    }

    /// The ML-DSA part of the key and its algorithm, if any.
    pub fn mldsa_part(&self) -> Option<(Algorithm, &[u8])> {
        match self.alg {
            Algorithm::MlDsa44 | Algorithm::MlDsa65 => Some((self.alg, &self.bytes)),
            Algorithm::Ed25519MlDsa44 => Some((Algorithm::MlDsa44, &self.bytes[ED25519_PK_LEN..])),
            Algorithm::Ed25519MlDsa65 => Some((Algorithm::MlDsa65, &self.bytes[ED25519_PK_LEN..])),
            _ => None,
        }
    }

    /// Verifies `sig` over `message` with FIPS 204 `context` (at most 255 bytes, else
    /// `domain_mismatch`). Ed25519 and round-3 Dilithium have no context and ignore it, so for
    /// them the domain must be part of the message (DSSE's PAE does that).
    ///
    /// Errors: `signature_invalid` (wrong algorithm for this key, or the signature does not
    /// verify), `domain_mismatch` (context too long), `unsupported_algorithm` (round-3
    /// Dilithium without the `legacy-dilithium` feature).
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use cairn_core::crypto::{Algorithm, SigningKey};
    /// let sk = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[7; 32]);
    /// let sig = sk.sign(b"hello", b"ctx")?;
    /// let pk = sk.public_key();
    /// assert!(pk.verify(b"hello", b"ctx", &sig).is_ok());
    /// assert!(pk.verify(b"hello", b"other", &sig).is_err());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self, message: &[u8], context: &[u8], sig: &Signature) -> Result<()> {
        if sig.alg != self.alg {
            return Err(Error::new(
                ErrorCode::SignatureInvalid,
                alloc::format!("{} signature presented for a {} key", sig.alg, self.alg),
            ));
        }
        if context.len() > MAX_CONTEXT_LEN {
            return Err(Error::new(
                ErrorCode::DomainMismatch,
                "context longer than 255 bytes",
            ));
        }
        let s = &sig.bytes[..];
        match &self.decoded {
            DecodedKey::Ed25519(k) => ed25519::verify(k, message, s),
            DecodedKey::MlDsa(pq) => self.mldsa_verify(pq, message, context, s),
            DecodedKey::Hybrid(classic, pq) => {
                // Both halves must verify over the same message; the error names the half
                // that failed first.
                ed25519::verify(classic, message, &s[..ED25519_SIG_LEN])
                    .map_err(|e| e.context("hybrid, Ed25519 half"))?;
                self.mldsa_verify(pq, message, context, &s[ED25519_SIG_LEN..])
                    .map_err(|e| e.context("hybrid, ML-DSA half"))
            }
            DecodedKey::Legacy => legacy_verify(self.alg, &self.bytes, message, s),
        }
    }
}

impl PublicKey {
    /// A hybrid key's two halves as keys of their own (Ed25519, then ML-DSA), sharing this
    /// key's decoded forms: the Ed25519 point is copied and the ML-DSA half shares this key's
    /// expansion, so verifying through the halves costs what verifying the hybrid does.
    /// `None` for a key that is not a hybrid.
    pub(crate) fn hybrid_halves(&self) -> Option<(PublicKey, PublicKey)> {
        let (DecodedKey::Hybrid(classic, pq), Some((pq_alg, pq_bytes))) =
            (&self.decoded, self.mldsa_part())
        else {
            return None;
        };
        let ed = PublicKey {
            alg: Algorithm::Ed25519,
            bytes: self.bytes[..ED25519_PK_LEN].to_vec(),
            decoded: DecodedKey::Ed25519(*classic),
        };
        let ml = PublicKey {
            alg: pq_alg,
            bytes: pq_bytes.to_vec(),
            decoded: DecodedKey::MlDsa(pq.clone()),
        };
        Some((ed, ml))
    }

    /// The ML-DSA part's verification: fips204 with the expanded key, or (feature
    /// `native-mldsa`) PQClean after fips204 has decoded the key once.
    fn mldsa_verify(
        &self,
        cell: &OnceBox<mldsa::ExpandedKey>,
        message: &[u8],
        context: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        let expanded = self.expanded(cell)?;
        #[cfg(feature = "native-mldsa")]
        if let Some((alg, bytes)) = self.mldsa_part() {
            return mldsa::native_verify(alg, bytes, message, context, sig);
        }
        expanded.verify(message, context, sig)
    }

    /// The expanded ML-DSA part, expanded on first use. Two threads racing here both expand
    /// and one result is kept; either is the same key.
    fn expanded<'a>(
        &self,
        cell: &'a OnceBox<mldsa::ExpandedKey>,
    ) -> Result<&'a mldsa::ExpandedKey> {
        cell.get_or_try_init(|| {
            let (alg, bytes) = self
                .mldsa_part()
                .ok_or_else(|| Error::new(ErrorCode::InvalidKey, "key has no ML-DSA part"))?;
            mldsa::ExpandedKey::parse(alg, bytes).map(Box::new)
        })
    }
}

/// Verifies raw bytes in one call: parses the key (`invalid_key`) and the signature
/// (`signature_invalid` on a wrong length), then runs [`PublicKey::verify`]. This is the
/// function the `verify_signature` test vectors exercise.
///
/// ```
/// use cairn_core::crypto::{verify_signature, Algorithm};
/// let key = [0u8; 32]; // small order: refused before any signature check
/// let err = verify_signature(Algorithm::Ed25519, &key, b"m", b"", &[0; 64]).unwrap_err();
/// assert_eq!(err.code().as_str(), "invalid_key");
/// ```
pub fn verify_signature(
    alg: Algorithm,
    public_key: &[u8],
    message: &[u8],
    context: &[u8],
    signature: &[u8],
) -> Result<()> {
    let pk = PublicKey::from_bytes(alg, public_key)?;
    let sig = Signature::from_bytes(alg, signature)?;
    pk.verify(message, context, &sig)
}

#[cfg(feature = "legacy-dilithium")]
fn legacy_verify(alg: Algorithm, pk: &[u8], message: &[u8], sig: &[u8]) -> Result<()> {
    legacy::verify(alg, pk, message, sig)
}

#[cfg(not(feature = "legacy-dilithium"))]
fn legacy_verify(alg: Algorithm, _pk: &[u8], _message: &[u8], _sig: &[u8]) -> Result<()> {
    Err(Error::new(
        ErrorCode::UnsupportedAlgorithm,
        alloc::format!("{alg} verification needs the legacy-dilithium feature"),
    ))
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, {})", self.alg, self.key_id())
    }
}

#[derive(Serialize, Deserialize)]
struct RawKey {
    alg: Algorithm,
    #[serde(with = "bytes_b64")]
    key: Vec<u8>,
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        RawKey {
            alg: self.alg,
            key: self.bytes.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let raw = RawKey::deserialize(d)?;
        PublicKey::from_bytes(raw.alg, &raw.key).map_err(serde::de::Error::custom)
    }
}

/// A signature of a known algorithm, length-checked.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature {
    alg: Algorithm,
    bytes: Vec<u8>,
}

impl Signature {
    /// Wraps raw signature bytes, checking the length for `alg`.
    pub fn from_bytes(alg: Algorithm, bytes: &[u8]) -> Result<Signature> {
        if bytes.len() != alg.signature_len() {
            return Err(Error::new(
                ErrorCode::SignatureInvalid,
                alloc::format!(
                    "{alg} signature must be {} bytes, got {}",
                    alg.signature_len(),
                    bytes.len()
                ),
            ));
        }
        Ok(Signature {
            alg,
            bytes: bytes.to_vec(),
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The raw bytes (hybrid: Ed25519 signature ‖ ML-DSA signature).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The Ed25519 part (the whole signature for Ed25519, the first 64 bytes of a hybrid).
    pub fn ed25519_part(&self) -> Option<&[u8]> {
        if self.alg.has_ed25519() {
            self.bytes.get(..ED25519_SIG_LEN)
        } else {
            None
        }
    }

    /// The ML-DSA part of the signature and its algorithm, if any.
    pub fn mldsa_part(&self) -> Option<(Algorithm, &[u8])> {
        match self.alg {
            Algorithm::MlDsa44 | Algorithm::MlDsa65 => Some((self.alg, &self.bytes)),
            Algorithm::Ed25519MlDsa44 => Some((Algorithm::MlDsa44, &self.bytes[ED25519_SIG_LEN..])),
            Algorithm::Ed25519MlDsa65 => Some((Algorithm::MlDsa65, &self.bytes[ED25519_SIG_LEN..])),
            _ => None,
        }
    }

    /// Consumes the signature, returning its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}, {} bytes)", self.alg, self.bytes.len())
    }
}

/// Serde helper: bytes as standard base64 in human-readable formats, raw bytes otherwise.
pub mod bytes_b64 {
    use super::*;

    /// Serialises bytes.
    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> core::result::Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&crate::encoding::b64_encode(b))
        } else {
            s.serialize_bytes(b)
        }
    }

    /// Deserialises bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> core::result::Result<Vec<u8>, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            crate::encoding::b64_decode(&s).map_err(serde::de::Error::custom)
        } else {
            let b: serde_bytes_compat::ByteBuf = Deserialize::deserialize(d)?;
            Ok(b.0)
        }
    }
}

/// Minimal owned byte buffer that deserialises from serde bytes (postcard) efficiently.
mod serde_bytes_compat {
    use alloc::vec::Vec;
    use core::fmt;
    use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

    pub struct ByteBuf(pub Vec<u8>);

    impl<'de> Deserialize<'de> for ByteBuf {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = ByteBuf;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
                    Ok(ByteBuf(v.to_vec()))
                }
                fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                    Ok(ByteBuf(v))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
                    // Bounded: postcard never takes this path; other formats cap the hint.
                    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                    while let Some(b) = seq.next_element::<u8>()? {
                        out.push(b);
                    }
                    Ok(ByteBuf(out))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}
