//! Witness cosignatures (C2SP `tlog-cosignature`): cosigner keys, the signed messages of both
//! cosignature types, cosigning, k-of-n quorum verification and split-view detection.
//!
//! A cosignature is a signed-note line on a checkpoint, `— <cosigner name>
//! base64(key id ‖ timestamp ‖ signature)`, by which a witness states that, as of `timestamp`,
//! the checkpoint's tree is the largest consistent tree it has seen from the log. Two types:
//!
//! | type | key id | signed message | signature |
//! |---|---|---|---|
//! | `0x04` Ed25519 `cosignature/v1` | SHA-256(name ‖ `\n` ‖ `04` ‖ 32-byte key)\[:4\] | `cosignature/v1\n` ‖ `time <t>\n` ‖ the whole checkpoint text | 8-byte big-endian t ‖ 64 bytes |
//! | `0x06` ML-DSA-44 `subtree/v1` | SHA-256(name ‖ `\n` ‖ `06` ‖ 1312-byte key)\[:4\] | `cosigned_message` (below) | 8-byte big-endian t ‖ 2420 bytes |
//!
//! The ML-DSA-44 message is the TLS-encoded struct `"subtree/v1\n\0"` (12 bytes) ‖ `u8`
//! length ‖ cosigner name ‖ `u64` t ‖ `u8` length ‖ origin ‖ `u64` start (0 for a checkpoint) ‖
//! `u64` end (the tree size) ‖ 32-byte root, signed with pure FIPS 204 ML-DSA-44 and the empty
//! context string. It covers the origin, size and root only: **no extension line**. An
//! Ed25519 cosignature covers the extension lines as bytes, but C2SP says neither type makes a
//! statement about them, and a witness cosigns two checkpoints of one tree whatever their
//! extension lines. So a quorum of cosignatures protects the log's tree; it does not protect a
//! `cairn.revocations` or `cairn.trust-root` line, which only the log's own signature covers
//! (see [`detect_split_view`], which also compares the revocation lines of one tree).
//!
//! Because an ML-DSA-44 cosignature does not cover extension lines, one made over the bare
//! three-line checkpoint (as witnesses that refuse extension lines, such as torchwood's
//! litewitness, produce) is equally valid on cairn's checkpoint with extension lines, and
//! [`verify_cosignatures`] accepts it there. (torchwood's own verifier does not: it checks
//! ML-DSA-44 cosignatures only on checkpoints without extension lines.)
//!
//! Verification follows signed-note: lines whose (name, key id) match no witness of the policy
//! are ignored; every line that matches a witness must verify (repeated lines included), or the
//! whole note is refused (`signature_invalid`). Each witness counts once toward the quorum,
//! whatever the number of its lines.

pub mod add;

#[cfg(feature = "std")]
use crate::crypto::SigningKey;
use alloc::string::String;
use alloc::vec::Vec;

use crate::checkpoint::{
    verify_checkpoint, Checkpoint, CheckpointPolicy, CheckpointVerifier, RevocationsRef,
    VerifiedCheckpoint,
};
use crate::crypto::{Algorithm, PublicKey, Signature, ED25519_SIG_LEN, MLDSA44_SIG_LEN};
use crate::encoding::{b64_decode, b64_encode, sha256, Digest};
use crate::error::{Error, ErrorCode, Result};
#[cfg(feature = "std")]
use crate::note::NoteSignature;
use crate::note::{is_valid_key_name, Note};
use crate::UnixTime;

/// First line of the Ed25519 cosignature message (with its newline).
pub const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";
/// The 12-byte label that starts the ML-DSA-44 `cosigned_message`.
pub const SUBTREE_V1_LABEL: &[u8; 12] = b"subtree/v1\n\0";
/// Largest cosignature timestamp: 2^63 − 1.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;
/// How far in the future a cosignature's timestamp may be, by default, and still count.
pub const DEFAULT_MAX_FUTURE_SKEW: u64 = 300;
/// Most witnesses a policy may name (C2SP tlog-policy asks implementations for at least 32).
pub const MAX_WITNESSES: usize = 64;

/// A cosignature type of C2SP tlog-cosignature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CosignatureType {
    /// Type `0x04`: timestamped Ed25519 `cosignature/v1` over the whole checkpoint text.
    Ed25519,
    /// Type `0x06`: timestamped ML-DSA-44 `subtree/v1` over origin, size and root.
    MlDsa44,
}

impl CosignatureType {
    /// The signed-note signature type byte: `0x04` or `0x06`.
    pub const fn type_byte(self) -> u8 {
        match self {
            CosignatureType::Ed25519 => 0x04,
            CosignatureType::MlDsa44 => 0x06,
        }
    }

    /// The cairn algorithm of the cosigner key.
    pub const fn algorithm(self) -> Algorithm {
        match self {
            CosignatureType::Ed25519 => Algorithm::Ed25519,
            CosignatureType::MlDsa44 => Algorithm::MlDsa44,
        }
    }

    /// Length of the signature bytes after the key id: 8-byte timestamp ‖ signature.
    pub const fn signature_len(self) -> usize {
        8 + match self {
            CosignatureType::Ed25519 => ED25519_SIG_LEN,
            CosignatureType::MlDsa44 => MLDSA44_SIG_LEN,
        }
    }

    /// A short name for views: `ed25519` or `ml-dsa-44`.
    pub const fn name(self) -> &'static str {
        match self {
            CosignatureType::Ed25519 => "ed25519",
            CosignatureType::MlDsa44 => "ml-dsa-44",
        }
    }

    /// The type of a cosigner key of algorithm `alg` (`unsupported_algorithm` for any but
    /// Ed25519 and ML-DSA-44).
    pub fn for_algorithm(alg: Algorithm) -> Result<CosignatureType> {
        match alg {
            Algorithm::Ed25519 => Ok(CosignatureType::Ed25519),
            Algorithm::MlDsa44 => Ok(CosignatureType::MlDsa44),
            other => Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                alloc::format!(
                    "C2SP cosignatures are Ed25519 (0x04) or ML-DSA-44 (0x06), not {other}"
                ),
            )),
        }
    }

    fn from_type_byte(b: u8) -> Result<CosignatureType> {
        match b {
            0x04 => Ok(CosignatureType::Ed25519),
            0x06 => Ok(CosignatureType::MlDsa44),
            other => Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                alloc::format!("signature type 0x{other:02x} is not a C2SP cosignature type"),
            )),
        }
    }
}

/// The key id of a cosigner key: the first four bytes, big-endian, of
/// SHA-256(name ‖ `0x0A` ‖ type byte ‖ public key).
///
/// ```
/// use cairn_core::witness::{cosigner_key_id, CosignatureType};
/// let id = cosigner_key_id("w.test/w1", CosignatureType::Ed25519, &[1; 32]);
/// let d = cairn_core::encoding::sha256(&[b"w.test/w1\n\x04", &[1; 32]]);
/// assert_eq!(id, u32::from_be_bytes([d[0], d[1], d[2], d[3]]));
/// ```
pub fn cosigner_key_id(name: &str, ty: CosignatureType, public_key: &[u8]) -> u32 {
    let d = sha256(&[name.as_bytes(), b"\n", &[ty.type_byte()], public_key]);
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The message an Ed25519 cosignature signs: `cosignature/v1\ntime <t>\n` followed by the
/// whole checkpoint text (with its extension lines and final newline).
///
/// ```
/// use cairn_core::witness::ed25519_message;
/// let m = ed25519_message(1679315147, "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
/// assert!(m.starts_with(b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n"));
/// ```
pub fn ed25519_message(timestamp: u64, checkpoint_text: &str) -> Vec<u8> {
    alloc::format!("{COSIGNATURE_V1_HEADER}time {timestamp}\n{checkpoint_text}").into_bytes()
}

/// The ML-DSA-44 `cosigned_message` (see the module documentation). `malformed` when the
/// name or origin is empty or over 255 bytes, the timestamp is over 2^63 − 1, a subtree
/// (`start` ≠ 0) has a timestamp, `start > end`, or an empty range has another hash than
/// SHA-256("").
///
/// ```
/// use cairn_core::witness::mldsa44_message;
/// let m = mldsa44_message("w", 7, "log", 0, 5, &[9; 32])?;
/// assert_eq!(&m[..14], b"subtree/v1\n\x00\x01w");
/// assert_eq!(m.len(), 12 + 2 + 8 + 4 + 8 + 8 + 32);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn mldsa44_message(
    cosigner_name: &str,
    timestamp: u64,
    origin: &str,
    start: u64,
    end: u64,
    hash: &Digest,
) -> Result<Vec<u8>> {
    let short = |what: &str, s: &str| {
        if s.is_empty() || s.len() > 255 {
            Err(Error::malformed(alloc::format!(
                "ML-DSA-44 cosignature: the {what} must be 1 to 255 bytes"
            )))
        } else {
            Ok(())
        }
    };
    short("cosigner name", cosigner_name)?;
    short("log origin", origin)?;
    if timestamp > MAX_TIMESTAMP {
        return Err(Error::malformed("cosignature timestamp exceeds 2^63 - 1"));
    }
    if start != 0 && timestamp != 0 {
        return Err(Error::malformed(
            "a subtree cosignature (start > 0) must have timestamp 0",
        ));
    }
    if start > end || (start == end && *hash != crate::merkle::EMPTY_ROOT) {
        return Err(Error::malformed(
            "ML-DSA-44 cosignature: invalid range or empty-range hash",
        ));
    }
    let mut m = Vec::with_capacity(12 + 1 + cosigner_name.len() + 8 + 1 + origin.len() + 48);
    m.extend_from_slice(SUBTREE_V1_LABEL);
    m.push(cosigner_name.len() as u8);
    m.extend_from_slice(cosigner_name.as_bytes());
    m.extend_from_slice(&timestamp.to_be_bytes());
    m.push(origin.len() as u8);
    m.extend_from_slice(origin.as_bytes());
    m.extend_from_slice(&start.to_be_bytes());
    m.extend_from_slice(&end.to_be_bytes());
    m.extend_from_slice(hash);
    Ok(m)
}

/// The message a cosigner of type `ty` named `name` signs for `checkpoint` (whose text is
/// `text`) at `timestamp`.
fn signed_message(
    ty: CosignatureType,
    name: &str,
    timestamp: u64,
    checkpoint: &Checkpoint,
    text: &str,
) -> Result<Vec<u8>> {
    if timestamp > MAX_TIMESTAMP {
        return Err(Error::malformed("cosignature timestamp exceeds 2^63 - 1"));
    }
    match ty {
        CosignatureType::Ed25519 => Ok(ed25519_message(timestamp, text)),
        CosignatureType::MlDsa44 => mldsa44_message(
            name,
            timestamp,
            &checkpoint.origin,
            0,
            checkpoint.size,
            &checkpoint.root,
        ),
    }
}

/// A cosigner's public key as policies and notes name it: key name, cosignature type, key and
/// key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignerKey {
    name: String,
    ty: CosignatureType,
    key: PublicKey,
    key_id: u32,
}

impl CosignerKey {
    /// The cosigner key `key` (Ed25519 → type `0x04`, ML-DSA-44 → type `0x06`) under `name`.
    ///
    /// Errors: `malformed` for an invalid key name (empty, white space or `+`; for ML-DSA-44,
    /// over 255 bytes), `unsupported_algorithm` for any other algorithm.
    pub fn new(name: &str, key: &PublicKey) -> Result<CosignerKey> {
        let ty = CosignatureType::for_algorithm(key.algorithm())?;
        if !is_valid_key_name(name) {
            return Err(Error::malformed(alloc::format!(
                "invalid cosigner name {name:?}: it must be non-empty, without spaces or '+'"
            )));
        }
        if ty == CosignatureType::MlDsa44 && name.len() > 255 {
            return Err(Error::malformed(
                "an ML-DSA-44 cosigner name is at most 255 bytes",
            ));
        }
        Ok(CosignerKey {
            name: name.into(),
            ty,
            key_id: cosigner_key_id(name, ty, key.as_bytes()),
            key: key.clone(),
        })
    }

    /// Parses a verifier key (vkey) `<name>+<key id, 8 hex>+<base64(type byte ‖ public key)>`
    /// with type `0x04` (32-byte Ed25519 key) or `0x06` (1312-byte ML-DSA-44 key).
    ///
    /// Errors: `too_large` (over 8192 bytes), `malformed` (layout, name, hex, base64),
    /// `unsupported_algorithm` (another type byte), `invalid_key` (wrong length or an invalid
    /// Ed25519 point), `key_mismatch` (the key id is not the key's).
    ///
    /// ```
    /// use cairn_core::crypto::{Algorithm, PublicKey};
    /// use cairn_core::witness::CosignerKey;
    /// # let raw = cairn_core::encoding::hex_decode_array::<32>(
    /// #     "73d2f927ebd1503886eaf698eddcaa773b17ad92bf648b5b6fe2e38d89640198")?;
    /// let key = CosignerKey::new("w.test/w1", &PublicKey::from_bytes(Algorithm::Ed25519, &raw)?)?;
    /// let vkey = key.vkey();
    /// assert_eq!(CosignerKey::from_vkey(&vkey)?, key);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_vkey(vkey: &str) -> Result<CosignerKey> {
        if vkey.len() > 8192 {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "cosigner vkey over 8192 bytes",
            ));
        }
        let mut parts = vkey.splitn(3, '+');
        let (name, id_hex, key64) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(h), Some(k)) => (n, h, k),
            _ => return Err(Error::malformed("cosigner vkey must be name+keyid+key")),
        };
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::malformed(
                "cosigner vkey: key id must be 8 hex digits",
            ));
        }
        let id = u32::from_str_radix(id_hex, 16)
            .map_err(|_| Error::malformed("cosigner vkey: key id must be 8 hex digits"))?;
        let bytes = b64_decode(key64).map_err(|e| e.context("cosigner vkey"))?;
        let (&ty, key) = bytes
            .split_first()
            .ok_or_else(|| Error::malformed("cosigner vkey: empty key"))?;
        let ty = CosignatureType::from_type_byte(ty)?;
        let key = PublicKey::from_bytes(ty.algorithm(), key)?;
        let k = CosignerKey::new(name, &key)?;
        if k.key_id != id {
            return Err(Error::new(
                ErrorCode::KeyMismatch,
                alloc::format!("cosigner vkey: key id {id_hex} does not match its key"),
            ));
        }
        Ok(k)
    }

    /// The vkey string (lowercase key id).
    pub fn vkey(&self) -> String {
        let mut raw = Vec::with_capacity(1 + self.key.as_bytes().len());
        raw.push(self.ty.type_byte());
        raw.extend_from_slice(self.key.as_bytes());
        alloc::format!("{}+{:08x}+{}", self.name, self.key_id, b64_encode(&raw))
    }

    /// The key name its lines carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cosignature type.
    pub fn cosignature_type(&self) -> CosignatureType {
        self.ty
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The 4-byte key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Checks one line's bytes after the key id (`timestamp ‖ signature`) over `checkpoint`,
    /// whose note text is `text`, and returns the timestamp.
    ///
    /// Errors: `signature_invalid` (wrong length, timestamp over 2^63 − 1, a message that
    /// cannot be formed, or a signature that does not verify).
    pub fn verify(&self, checkpoint: &Checkpoint, text: &str, bytes: &[u8]) -> Result<u64> {
        let invalid = |why: &str| {
            Error::new(
                ErrorCode::SignatureInvalid,
                alloc::format!("cosignature of {}+{:08x}: {why}", self.name, self.key_id),
            )
        };
        if bytes.len() != self.ty.signature_len() {
            return Err(invalid(&alloc::format!(
                "{} bytes, expected {}",
                bytes.len(),
                self.ty.signature_len()
            )));
        }
        let (t, sig) = bytes.split_at(8);
        let mut tb = [0u8; 8];
        tb.copy_from_slice(t);
        let timestamp = u64::from_be_bytes(tb);
        let message = signed_message(self.ty, &self.name, timestamp, checkpoint, text)
            .map_err(|e| invalid(e.detail()))?;
        let sig =
            Signature::from_bytes(self.ty.algorithm(), sig).map_err(|e| invalid(e.detail()))?;
        self.key
            .verify(&message, b"", &sig)
            .map_err(|e| invalid(e.detail()))?;
        Ok(timestamp)
    }
}

/// Cosigns a checkpoint text: the note signature line of `key` (Ed25519 or ML-DSA-44, hedged
/// ML-DSA randomness) under `name`, stamped `timestamp`. What a witness returns from
/// `add-checkpoint`, after its own checks.
///
/// ```
/// use cairn_core::checkpoint::Checkpoint;
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::merkle::EMPTY_ROOT;
/// use cairn_core::witness::cosign;
/// let text = Checkpoint::new("example.test/log", 0, EMPTY_ROOT).to_text()?;
/// let key = SigningKey::from_seed(Algorithm::Ed25519, &[4; 32]);
/// let line = cosign(&text, "example.test/w1", &key, 1_700_000_000)?;
/// assert_eq!(line.signature.len(), 8 + 64);
/// assert_eq!(&line.signature[..8], &1_700_000_000u64.to_be_bytes());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "std")]
pub fn cosign(
    checkpoint_text: &str,
    name: &str,
    key: &SigningKey,
    timestamp: UnixTime,
) -> Result<NoteSignature> {
    cosign_with(checkpoint_text, name, key, timestamp, false)
}

/// Like [`cosign`] with FIPS 204's deterministic ML-DSA variant (for test vectors).
#[cfg(feature = "std")]
pub fn cosign_deterministic(
    checkpoint_text: &str,
    name: &str,
    key: &SigningKey,
    timestamp: UnixTime,
) -> Result<NoteSignature> {
    cosign_with(checkpoint_text, name, key, timestamp, true)
}

#[cfg(feature = "std")]
fn cosign_with(
    text: &str,
    name: &str,
    key: &SigningKey,
    timestamp: UnixTime,
    deterministic: bool,
) -> Result<NoteSignature> {
    let ck = CosignerKey::new(name, key.public_key())?;
    let checkpoint = Checkpoint::parse_text(text)?;
    let message = signed_message(ck.ty, name, timestamp, &checkpoint, text)?;
    let sig = if deterministic {
        key.sign_deterministic(&message, b"")?
    } else {
        key.sign(&message, b"")?
    };
    let mut signature = Vec::with_capacity(ck.ty.signature_len());
    signature.extend_from_slice(&timestamp.to_be_bytes());
    signature.extend_from_slice(sig.as_bytes());
    Ok(NoteSignature {
        name: name.into(),
        key_hash: ck.key_id,
        signature,
    })
}

/// A witness a verifier trusts: its name in the policy and its cosigner key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    /// The witness's name in the policy (reported in verdicts; need not be the key name).
    pub name: String,
    /// Its cosigner key.
    pub key: CosignerKey,
}

/// What a verifier demands of a checkpoint's witnesses: `quorum` of the `witnesses` must have
/// cosigned, each at a time no older than `max_age` seconds before `now` (when set) and no
/// later than `max_future_skew` seconds after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessPolicy {
    /// The trusted witnesses (at most [`MAX_WITNESSES`]; distinct names and keys).
    pub witnesses: Vec<Witness>,
    /// How many distinct witnesses must cosign (0: none required; at most the number of
    /// witnesses).
    pub quorum: usize,
    /// Oldest acceptable cosignature, in seconds before `now`; `None` accepts any age.
    pub max_age: Option<u64>,
    /// Latest acceptable cosignature, in seconds after `now` (clock skew).
    pub max_future_skew: u64,
}

impl WitnessPolicy {
    /// `quorum` of `witnesses`, any age, the default future skew.
    pub fn new(witnesses: Vec<Witness>, quorum: usize) -> WitnessPolicy {
        WitnessPolicy {
            witnesses,
            quorum,
            max_age: None,
            max_future_skew: DEFAULT_MAX_FUTURE_SKEW,
        }
    }

    /// Checks the policy itself: at most [`MAX_WITNESSES`] witnesses (`too_large`), quorum at
    /// most their number, distinct witness names, no key listed twice and no two keys sharing
    /// a (key name, key id) (`malformed`).
    pub fn validate(&self) -> Result<()> {
        if self.witnesses.len() > MAX_WITNESSES {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("witness policy: more than {MAX_WITNESSES} witnesses"),
            ));
        }
        if self.quorum > self.witnesses.len() {
            return Err(Error::malformed(alloc::format!(
                "witness policy: quorum {} exceeds the {} witnesses",
                self.quorum,
                self.witnesses.len()
            )));
        }
        for (i, a) in self.witnesses.iter().enumerate() {
            for b in &self.witnesses[i + 1..] {
                if a.name == b.name {
                    return Err(Error::malformed(alloc::format!(
                        "witness policy: witness {:?} is listed twice",
                        a.name
                    )));
                }
                if a.key.key == b.key.key {
                    return Err(Error::malformed(alloc::format!(
                        "witness policy: witnesses {:?} and {:?} have the same key (one witness)",
                        a.name,
                        b.name
                    )));
                }
                if a.key.name == b.key.name && a.key.key_id == b.key.key_id {
                    return Err(Error::malformed(alloc::format!(
                        "witness policy: ambiguous keys, two share {}+{:08x}",
                        a.key.name,
                        a.key.key_id
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Whether a witness's cosignature counted toward the quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CosignatureStanding {
    /// Within the policy's time window: counted.
    Counted,
    /// Older than the policy's `max_age`: not counted.
    Stale,
    /// Further in the future than the policy's skew allows: not counted.
    Future,
    /// Timestamp 0: tlog-cosignature's line that states nothing about the tree being the
    /// newest its signer saw (a log's own ML-DSA-44 signature, or a subtree signature with the
    /// same bytes), whatever the policy: not counted.
    Undated,
}

impl CosignatureStanding {
    /// `counted`, `stale`, `future` or `undated`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CosignatureStanding::Counted => "counted",
            CosignatureStanding::Stale => "stale",
            CosignatureStanding::Future => "future",
            CosignatureStanding::Undated => "undated",
        }
    }
}

/// One witness whose cosignature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessCosignature {
    /// The witness's name in the policy.
    pub witness: String,
    /// The cosignature type.
    pub cosignature_type: CosignatureType,
    /// The newest timestamp among the witness's valid lines.
    pub timestamp: u64,
    /// Whether it counted toward the quorum.
    pub standing: CosignatureStanding,
}

/// Which witnesses cosigned a checkpoint and whether the quorum is met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessVerdict {
    /// The witnesses whose cosignature verified, in policy order.
    pub cosigned: Vec<WitnessCosignature>,
    /// The policy's quorum.
    pub quorum: usize,
    /// Whether at least `quorum` cosignatures counted.
    pub quorum_met: bool,
}

impl WitnessVerdict {
    /// Number of cosignatures that counted.
    pub fn counted(&self) -> usize {
        self.count(CosignatureStanding::Counted)
    }

    fn count(&self, s: CosignatureStanding) -> usize {
        self.cosigned.iter().filter(|c| c.standing == s).count()
    }

    /// The verdict as a result: `Ok` when the quorum is met; otherwise `stale` when counting
    /// the stale cosignatures would meet it, `not_yet_valid` when counting the future-dated
    /// ones too would, `threshold_not_met` else.
    pub fn check(&self) -> Result<()> {
        if self.quorum_met {
            return Ok(());
        }
        let counted = self.counted();
        let stale = self.count(CosignatureStanding::Stale);
        let future = self.count(CosignatureStanding::Future);
        if counted + stale >= self.quorum {
            Err(Error::new(
                ErrorCode::Stale,
                alloc::format!(
                    "{counted} of the required {} witnesses cosigned recently enough ({stale} more cosigned earlier than the policy's maximum age)",
                    self.quorum
                ),
            ))
        } else if counted + stale + future >= self.quorum {
            Err(Error::new(
                ErrorCode::NotYetValid,
                alloc::format!(
                    "{counted} of the required {} witnesses cosigned ({future} more are dated in the future)",
                    self.quorum
                ),
            ))
        } else {
            let undated = self.count(CosignatureStanding::Undated);
            Err(Error::new(
                ErrorCode::ThresholdNotMet,
                alloc::format!(
                    "{} of the required {} witnesses cosigned the checkpoint{}",
                    counted + stale + future,
                    self.quorum,
                    if undated > 0 {
                        alloc::format!(
                            " ({undated} more with timestamp 0, which states nothing about the tree being the newest they saw)"
                        )
                    } else {
                        String::new()
                    }
                ),
            ))
        }
    }
}

/// Verifies the cosignatures of a parsed checkpoint note against `policy` at time `now`, and
/// reports which witnesses cosigned and whether the quorum is met (not an error: see
/// [`WitnessVerdict::check`]). The log's own signature is not checked here (see
/// [`verify_witnessed_checkpoint`]).
///
/// Errors: `malformed` / `too_large` (the policy, or the note text is not a checkpoint),
/// `signature_invalid` (a line of a policy witness does not verify: the whole note is refused).
///
/// ```
/// use cairn_core::checkpoint::Checkpoint;
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::merkle::EMPTY_ROOT;
/// use cairn_core::note::Note;
/// use cairn_core::witness::{cosign, verify_cosignatures, CosignerKey, Witness, WitnessPolicy};
/// let log = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let text = Checkpoint::new("example.test/log", 0, EMPTY_ROOT).to_text()?;
/// let mut note = Note::new(&text)?;
/// note.sign("example.test/log", &log)?;
/// let w = SigningKey::from_seed(Algorithm::Ed25519, &[2; 32]);
/// note.push_signature(cosign(&text, "example.test/w1", &w, 100)?)?;
/// let policy = WitnessPolicy::new(vec![Witness {
///     name: "w1".into(),
///     key: CosignerKey::new("example.test/w1", w.public_key())?,
/// }], 1);
/// let verdict = verify_cosignatures(&note, &policy, 200)?;
/// assert!(verdict.quorum_met);
/// assert_eq!(verdict.cosigned[0].timestamp, 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_cosignatures(
    note: &Note,
    policy: &WitnessPolicy,
    now: UnixTime,
) -> Result<WitnessVerdict> {
    policy.validate()?;
    let checkpoint = Checkpoint::parse_text(note.text())?;
    let mut newest: Vec<Option<u64>> = alloc::vec![None; policy.witnesses.len()];
    for line in note.signatures() {
        let Some(i) = policy
            .witnesses
            .iter()
            .position(|w| w.key.name == line.name && w.key.key_id == line.key_hash)
        else {
            continue; // not a witness of this policy: ignored
        };
        let t = policy.witnesses[i]
            .key
            .verify(&checkpoint, note.text(), &line.signature)
            .map_err(|e| e.context(&alloc::format!("witness {:?}", policy.witnesses[i].name)))?;
        let slot = &mut newest[i];
        *slot = Some(slot.map_or(t, |old| old.max(t)));
    }
    let mut cosigned = Vec::new();
    for (w, t) in policy.witnesses.iter().zip(newest) {
        let Some(timestamp) = t else { continue };
        let standing = if timestamp == 0 {
            CosignatureStanding::Undated
        } else if timestamp > now.saturating_add(policy.max_future_skew) {
            CosignatureStanding::Future
        } else if policy
            .max_age
            .is_some_and(|age| timestamp < now.saturating_sub(age))
        {
            CosignatureStanding::Stale
        } else {
            CosignatureStanding::Counted
        };
        cosigned.push(WitnessCosignature {
            witness: w.name.clone(),
            cosignature_type: w.key.ty,
            timestamp,
            standing,
        });
    }
    let counted = cosigned
        .iter()
        .filter(|c| c.standing == CosignatureStanding::Counted)
        .count();
    Ok(WitnessVerdict {
        cosigned,
        quorum: policy.quorum,
        quorum_met: counted >= policy.quorum,
    })
}

/// A checkpoint signed by its log and cosigned by a quorum of witnesses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessedCheckpoint {
    /// The log's verification of the checkpoint.
    pub checkpoint: VerifiedCheckpoint,
    /// The witnesses' verdict (its quorum is met).
    pub witnesses: WitnessVerdict,
}

/// Verifies a checkpoint note end to end: the log's signatures under `log` and `log_policy`
/// ([`verify_checkpoint`]), then the cosignatures under `witnesses` at `now`
/// ([`verify_cosignatures`]), and requires the quorum ([`WitnessVerdict::check`]).
///
/// With a quorum of k honest-enough witnesses, a log that shows two different trees of the same
/// size (a split view) gets at most one of them cosigned by the quorum, unless k witnesses
/// cosigned both.
pub fn verify_witnessed_checkpoint(
    note: &[u8],
    log: &[CheckpointVerifier],
    log_policy: &CheckpointPolicy,
    witnesses: &WitnessPolicy,
    now: UnixTime,
) -> Result<WitnessedCheckpoint> {
    let checkpoint = verify_checkpoint(note, log, log_policy)?;
    let parsed = Note::parse(note)?;
    let verdict = verify_cosignatures(&parsed, witnesses, now)?;
    verdict.check()?;
    Ok(WitnessedCheckpoint {
        checkpoint,
        witnesses: verdict,
    })
}

/// Two validly signed checkpoints of one log that cannot both be true: the same size with
/// different roots, or the same tree with different revocation maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitView {
    /// The log's origin.
    pub origin: String,
    /// The tree size both checkpoints state.
    pub size: u64,
    /// The first checkpoint's root.
    pub first_root: Digest,
    /// The second checkpoint's root.
    pub second_root: Digest,
    /// The first checkpoint's revocation map, if it names one.
    pub first_revocations: Option<RevocationsRef>,
    /// The second checkpoint's revocation map, if it names one.
    pub second_revocations: Option<RevocationsRef>,
}

impl SplitView {
    /// The `split_view` error, naming both roots (and both revocation maps when the trees
    /// agree).
    pub fn to_error(&self) -> Error {
        let detail = if self.first_root != self.second_root {
            alloc::format!(
                "log {:?} signed two trees of size {}: root {} and root {}",
                self.origin,
                self.size,
                b64_encode(&self.first_root),
                b64_encode(&self.second_root)
            )
        } else {
            let show = |r: &Option<RevocationsRef>| {
                r.map_or_else(|| String::from("none"), |r| alloc::format!("{r}"))
            };
            alloc::format!(
                "log {:?} signed two revocation maps for its tree of size {} (root {}): {} and {}",
                self.origin,
                self.size,
                b64_encode(&self.first_root),
                show(&self.first_revocations),
                show(&self.second_revocations)
            )
        };
        Error::new(ErrorCode::SplitView, detail)
    }
}

/// Compares two signed checkpoints of one log. Both must verify under `log` and `log_policy`
/// (so that only the log's own signatures count as evidence; errors as [`verify_checkpoint`]).
/// Returns the [`SplitView`] when they state the same size with different roots, or the same
/// size and root with different `cairn.revocations` lines (both present); `None` otherwise
/// (different sizes need a consistency proof, which this does not judge).
///
/// ```
/// use cairn_core::checkpoint::{Checkpoint, CheckpointPolicy, CheckpointVerifier};
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::witness::detect_split_view;
/// let key = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let log = [CheckpointVerifier { name: "example.test/log".into(), public_key: key.public_key().clone() }];
/// let policy = CheckpointPolicy::new("example.test/log");
/// let a = Checkpoint::new("example.test/log", 5, [1; 32]).sign(&[("example.test/log", &key)])?;
/// let b = Checkpoint::new("example.test/log", 5, [2; 32]).sign(&[("example.test/log", &key)])?;
/// let split = detect_split_view(a.as_bytes(), b.as_bytes(), &log, &policy)?.ok_or("no split view")?;
/// assert_eq!((split.first_root, split.second_root), ([1; 32], [2; 32]));
/// assert_eq!(split.to_error().code().as_str(), "split_view");
/// assert!(detect_split_view(a.as_bytes(), a.as_bytes(), &log, &policy)?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn detect_split_view(
    first: &[u8],
    second: &[u8],
    log: &[CheckpointVerifier],
    log_policy: &CheckpointPolicy,
) -> Result<Option<SplitView>> {
    let a = verify_checkpoint(first, log, log_policy).map_err(|e| e.context("first checkpoint"))?;
    let b =
        verify_checkpoint(second, log, log_policy).map_err(|e| e.context("second checkpoint"))?;
    if a.size != b.size {
        return Ok(None);
    }
    let ra = RevocationsRef::from_extensions(&a.extensions)?;
    let rb = RevocationsRef::from_extensions(&b.extensions)?;
    let split = a.root != b.root || matches!((ra, rb), (Some(x), Some(y)) if x != y);
    Ok(split.then_some(SplitView {
        origin: a.origin,
        size: a.size,
        first_root: a.root,
        second_root: b.root,
        first_revocations: ra,
        second_revocations: rb,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cosignature line of the C2SP tlog-cosignature example: key id, then the timestamp
    /// its signed-message example shows.
    #[test]
    fn spec_example_framing() {
        let raw = b64_decode("jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==").unwrap();
        assert_eq!(raw.len(), 4 + CosignatureType::Ed25519.signature_len());
        assert_eq!(&raw[..4], &[0x8d, 0x66, 0xcf, 0x3f]);
        let mut t = [0u8; 8];
        t.copy_from_slice(&raw[4..12]);
        assert_eq!(u64::from_be_bytes(t), 1679315147);
        let m = ed25519_message(
            1679315147,
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        );
        assert_eq!(
            m,
            b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn mldsa_message_rules() {
        let e = crate::merkle::EMPTY_ROOT;
        assert!(mldsa44_message("w", 1, "o", 0, 0, &e).is_ok());
        assert!(mldsa44_message("w", 1, "o", 0, 0, &[1; 32]).is_err());
        assert!(mldsa44_message("w", 1, "o", 8, 13, &[1; 32]).is_err());
        assert!(mldsa44_message("w", 0, "o", 8, 13, &[1; 32]).is_ok());
        assert!(mldsa44_message("w", 0, "o", 13, 8, &[1; 32]).is_err());
        assert!(mldsa44_message("", 0, "o", 0, 1, &[1; 32]).is_err());
        assert!(mldsa44_message("w", 0, &"o".repeat(256), 0, 1, &[1; 32]).is_err());
        assert!(mldsa44_message("w", 0, &"o".repeat(255), 0, 1, &[1; 32]).is_ok());
        assert!(mldsa44_message("w", MAX_TIMESTAMP + 1, "o", 0, 1, &[1; 32]).is_err());
    }

    #[test]
    fn vkey_rejections() {
        let code = |v: &str| CosignerKey::from_vkey(v).unwrap_err().code();
        assert_eq!(code("w"), ErrorCode::Malformed);
        assert_eq!(code("w+0000000+BA=="), ErrorCode::Malformed);
        assert_eq!(code("w+00000000+"), ErrorCode::Malformed);
        assert_eq!(code("w+00000000+AQ=="), ErrorCode::UnsupportedAlgorithm);
        assert_eq!(code("w+00000000+BAE="), ErrorCode::InvalidKey);
        assert_eq!(code(&"w".repeat(9000)), ErrorCode::TooLarge);
    }
}
