//! The ledger: every state change of a registry as one signed, hash-chained entry.
//!
//! A [`LedgerEntry`] is `{version, seq, time, prev_hash, event}`. Its *entry bytes* are its
//! canonical postcard encoding; they are at once
//! - what [`entry_hash`] hashes (SHA-256) and the next entry's `prev_hash` names,
//! - the Merkle leaf of the registry's log (leaf hash SHA-256(0x00 ‖ entry bytes)),
//! - the payload of the DSSE envelope the log key signs ([`LEDGER_ENTRY_TYPE`]).
//!
//! [`verify_entry`] checks one signed entry; [`verify_chain`] and [`ChainVerifier`] check
//! the hash chain of a run of entries.

mod chain;
mod claims;
mod event;
pub mod export;
mod rules;

pub use chain::{verify_chain, verify_chain_bytes, ChainHead, ChainVerifier};
pub use claims::{check_checkpoint_claims, LedgerClaims};
pub use event::{
    Event, PreviousDigest, MAX_ID_LEN, MAX_LABEL_LEN, MAX_NAME_LEN, MAX_REASON_LEN, MAX_SIGNERS,
    MAX_TEXT_LEN,
};
pub use rules::{
    check_entry, check_token_authority, required_consents, KeyStatus, LedgerHandle, LedgerKey,
    LedgerManifest, LedgerPeerKey, LedgerState, LedgerToken, LedgerView, Revocation,
};

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::crypto::PublicKey;
use crate::dsse::Envelope;
use crate::encoding::{from_postcard_canonical, hex32, sha256, to_postcard, Digest};
use crate::error::{Error, ErrorCode, Result};
use crate::UnixTime;

/// DSSE payload type of a signed ledger entry.
pub const LEDGER_ENTRY_TYPE: &str = "application/vnd.cairn.ledger-entry.v1+postcard";
/// The entry format version this build reads and writes (first byte of the entry bytes).
pub const LEDGER_ENTRY_VERSION: u8 = 1;
/// Largest entry accepted, in bytes.
pub const MAX_ENTRY_LEN: usize = 16 * 1024;
/// The `prev_hash` of entry 0.
pub const ZERO_HASH: Digest = [0u8; 32];

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Format version, [`LEDGER_ENTRY_VERSION`].
    pub version: u8,
    /// Position in the ledger: 0, 1, 2, … (also the Merkle leaf index).
    pub seq: u64,
    /// When the change happened (Unix seconds, never decreasing along the chain).
    pub time: UnixTime,
    /// [`entry_hash`] of entry `seq - 1`; [`ZERO_HASH`] for entry 0.
    #[serde(with = "hex32")]
    pub prev_hash: Digest,
    /// What happened.
    pub event: Event,
}

/// The hash of an entry: SHA-256 of its entry bytes.
pub fn entry_hash(entry_bytes: &[u8]) -> Digest {
    sha256(&[entry_bytes])
}

/// The fixed-layout prefix of every entry, read before the full decode so that a newer
/// format version or event kind is reported as such rather than as garbage.
#[derive(Deserialize)]
struct EntryHead {
    _version: u8,
    _seq: u64,
    _time: u64,
    _prev_hash: [u8; 32],
    kind: u32,
}

impl LedgerEntry {
    /// A version-1 entry.
    pub fn new(seq: u64, time: UnixTime, prev_hash: Digest, event: Event) -> LedgerEntry {
        LedgerEntry {
            version: LEDGER_ENTRY_VERSION,
            seq,
            time,
            prev_hash,
            event,
        }
    }

    /// The entry bytes (canonical postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        to_postcard(self)
    }

    /// The entry's hash: SHA-256 of [`LedgerEntry::to_bytes`].
    pub fn hash(&self) -> Digest {
        entry_hash(&self.to_bytes())
    }

    /// Decodes entry bytes: `too_large` above [`MAX_ENTRY_LEN`] or for an oversized field,
    /// `unsupported_version` for another format version or an event kind this build does not
    /// know, `malformed` for anything else that is not the canonical encoding of a valid entry.
    ///
    /// ```
    /// use cairn_core::ledger::{Event, LedgerEntry, ZERO_HASH};
    /// let e = LedgerEntry::new(0, 1_700_000_000, ZERO_HASH, Event::AuditNote { text: "hello".into() });
    /// let bytes = e.to_bytes();
    /// assert_eq!(LedgerEntry::from_bytes(&bytes)?, e);
    /// assert!(LedgerEntry::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<LedgerEntry> {
        Self::check_prefix(bytes)?;
        let entry: LedgerEntry = from_postcard_canonical(bytes, MAX_ENTRY_LEN, "ledger entry")?;
        entry.validate()?;
        Ok(entry)
    }

    /// What [`LedgerEntry::from_bytes`] checks before decoding: the length limit
    /// (`too_large`), the format version and the event kind (`unsupported_version` for a
    /// newer writer's entry), so that a reader which decodes trusted bytes without validating
    /// them again still reports a newer format as such, not as garbage.
    ///
    /// ```
    /// use cairn_core::ledger::{Event, LedgerEntry, ZERO_HASH};
    /// let mut bytes = LedgerEntry::new(0, 1, ZERO_HASH, Event::AuditNote { text: "a".into() }).to_bytes();
    /// assert!(LedgerEntry::check_prefix(&bytes).is_ok());
    /// bytes[0] = 9;
    /// assert_eq!(LedgerEntry::check_prefix(&bytes).unwrap_err().code().as_str(), "unsupported_version");
    /// ```
    pub fn check_prefix(bytes: &[u8]) -> Result<()> {
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!(
                    "ledger entry is {} bytes, the limit is {MAX_ENTRY_LEN}",
                    bytes.len()
                ),
            ));
        }
        match bytes.first() {
            None => return Err(Error::malformed("ledger entry: empty")),
            Some(&LEDGER_ENTRY_VERSION) => {}
            Some(v) => {
                return Err(Error::new(
                    ErrorCode::UnsupportedVersion,
                    alloc::format!("ledger entry format version {v} is not supported"),
                ))
            }
        }
        if let Ok((head, _)) = postcard::take_from_bytes::<EntryHead>(bytes) {
            if head.kind as usize >= Event::KINDS.len() {
                return Err(Error::new(
                    ErrorCode::UnsupportedVersion,
                    alloc::format!("ledger entry: unknown event kind {}", head.kind),
                ));
            }
        }
        Ok(())
    }

    /// Checks what the encoding alone cannot: the format version, that entry 0 has an
    /// all-zero `prev_hash` (`chain_broken` otherwise), that `seq` leaves room for a
    /// successor, and the field bounds of the event ([`Event::validate`]).
    pub fn validate(&self) -> Result<()> {
        let ctx = |e: Error| e.context(&alloc::format!("ledger entry {}", self.seq));
        if self.version != LEDGER_ENTRY_VERSION {
            return Err(ctx(Error::new(
                ErrorCode::UnsupportedVersion,
                alloc::format!("format version {} is not supported", self.version),
            )));
        }
        if self.seq == 0 && self.prev_hash != ZERO_HASH {
            return Err(ctx(Error::new(
                ErrorCode::ChainBroken,
                "the first entry must have an all-zero prev_hash",
            )));
        }
        if self.seq == u64::MAX {
            return Err(ctx(Error::malformed("sequence number space exhausted")));
        }
        self.event.validate().map_err(ctx)
    }

    /// An unsigned envelope carrying the entry bytes, after [`LedgerEntry::validate`].
    pub fn to_envelope(&self) -> Result<Envelope> {
        self.validate()?;
        Envelope::new(LEDGER_ENTRY_TYPE, self.to_bytes())
    }
}

/// The entry an envelope carries, without verifying any signature: the payload type must be
/// [`LEDGER_ENTRY_TYPE`] (`domain_mismatch`), then the payload must decode
/// ([`LedgerEntry::from_bytes`]). Consent signatures are the rule book's business
/// ([`check_entry`]); the log key signs tree heads, not entries.
///
/// ```
/// use cairn_core::ledger::{entry_from_envelope, Event, LedgerEntry, ZERO_HASH};
/// let entry = LedgerEntry::new(0, 10, ZERO_HASH, Event::AuditNote { text: "hi".into() });
/// let env = entry.to_envelope()?;
/// assert_eq!(entry_from_envelope(&env)?, entry);
/// let other = cairn_core::dsse::Envelope::new("application/example", env.payload.clone())?;
/// assert!(entry_from_envelope(&other).is_err());
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn entry_from_envelope(env: &Envelope) -> Result<LedgerEntry> {
    check_entry_type(env)?;
    LedgerEntry::from_bytes(&env.payload)
}

/// The envelope's payload type must be [`LEDGER_ENTRY_TYPE`] (`domain_mismatch` otherwise):
/// what [`entry_from_envelope`] checks before decoding, for readers that decode the payload
/// themselves.
///
/// ```
/// use cairn_core::dsse::Envelope;
/// use cairn_core::ledger::{check_entry_type, LEDGER_ENTRY_TYPE};
/// assert!(check_entry_type(&Envelope::new(LEDGER_ENTRY_TYPE, vec![1])?).is_ok());
/// assert!(check_entry_type(&Envelope::new("text/plain", vec![1])?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_entry_type(env: &Envelope) -> Result<()> {
    if env.payload_type != LEDGER_ENTRY_TYPE {
        return Err(Error::new(
            ErrorCode::DomainMismatch,
            alloc::format!(
                "expected a ledger entry ({LEDGER_ENTRY_TYPE}), got {:?}",
                env.payload_type
            ),
        ));
    }
    Ok(())
}

/// Verifies a signed ledger entry: payload type [`LEDGER_ENTRY_TYPE`] (`domain_mismatch`),
/// `threshold` distinct valid signatures by `log_keys` over the envelope bytes, and only
/// then the decoding of the entry ([`LedgerEntry::from_bytes`]).
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::ledger::{verify_entry, Event, LedgerEntry, ZERO_HASH};
/// let log = SigningKey::from_seed(Algorithm::Ed25519, &[4; 32]);
/// let entry = LedgerEntry::new(0, 10, ZERO_HASH, Event::AuditNote { text: "hi".into() });
/// let mut env = entry.to_envelope()?;
/// env.sign(&log)?;
/// assert_eq!(verify_entry(&env, &[log.public_key().clone()], 1)?, entry);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_entry(
    env: &Envelope,
    log_keys: &[PublicKey],
    threshold: usize,
) -> Result<LedgerEntry> {
    let ok = env.verify(LEDGER_ENTRY_TYPE, log_keys, threshold)?;
    LedgerEntry::from_bytes(ok.payload)
}

/// Signs `entry` with each of `keys` (feature `std`).
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::ledger::{sign_entry, verify_entry, Event, LedgerEntry, ZERO_HASH};
/// let log = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[5; 32]);
/// let entry = LedgerEntry::new(0, 10, ZERO_HASH, Event::AuditNote { text: "hi".into() });
/// let env = sign_entry(&entry, &[&log])?;
/// assert!(verify_entry(&env, &[log.public_key().clone()], 1).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "std")]
pub fn sign_entry(entry: &LedgerEntry, keys: &[&crate::crypto::SigningKey]) -> Result<Envelope> {
    let mut env = entry.to_envelope()?;
    for k in keys {
        env.sign(k)?;
    }
    Ok(env)
}
