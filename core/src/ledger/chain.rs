//! Hash-chain verification of a run of ledger entries.
//!
//! Rules, for each entry after the chain's starting point:
//! - `seq` is exactly one more than the previous entry's (the first: the start's `next_seq`);
//! - `prev_hash` equals the previous entry's [`entry_hash`](super::entry_hash) (the first: the
//!   start's `head_hash`, all zero at genesis);
//! - `time` is not earlier than the previous entry's: equal times are allowed (several changes
//!   in one second), going backwards is not.
//!
//! Any violation is `chain_broken`, and the error names the sequence number it found. The
//! chain alone does not protect its newest entry: truncating the run or changing its last
//! entry is only detected against a signed entry or a checkpoint of the log.

use serde::{Deserialize, Serialize};

use super::{entry_hash, LedgerEntry, ZERO_HASH};
use crate::encoding::{hex32, Digest};
use crate::error::{Error, ErrorCode, Result};
use crate::UnixTime;

/// Where a verified chain ends, and so where the next entry must continue it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// The `seq` the next entry must have (= number of entries from genesis).
    pub next_seq: u64,
    /// The hash of the last entry; all zero before the first.
    #[serde(with = "hex32")]
    pub head_hash: Digest,
    /// The time of the last entry; the next may not be earlier (0 places no bound).
    pub last_time: UnixTime,
}

impl ChainHead {
    /// The head of an empty ledger.
    pub const GENESIS: ChainHead = ChainHead {
        next_seq: 0,
        head_hash: ZERO_HASH,
        last_time: 0,
    };

    /// The next entry of the chain, continuing this head.
    pub fn next_entry(&self, time: UnixTime, event: super::Event) -> LedgerEntry {
        LedgerEntry::new(self.next_seq, time, self.head_hash, event)
    }
}

impl Default for ChainHead {
    fn default() -> Self {
        ChainHead::GENESIS
    }
}

/// Checks entries one at a time; for audits and replication that stream a ledger.
///
/// ```
/// use cairn_core::ledger::{ChainHead, ChainVerifier, Event};
/// let mut v = ChainVerifier::new();
/// let e0 = ChainHead::GENESIS.next_entry(5, Event::AuditNote { text: "a".into() });
/// v.push(&e0)?;
/// let e1 = v.head().next_entry(6, Event::AuditNote { text: "b".into() });
/// v.push(&e1)?;
/// assert_eq!(v.head().next_seq, 2);
/// assert_eq!(v.push(&e1).unwrap_err().code().as_str(), "chain_broken");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainVerifier {
    head: ChainHead,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier::new()
    }
}

impl ChainVerifier {
    /// A verifier expecting entry 0.
    pub fn new() -> ChainVerifier {
        ChainVerifier::resume(ChainHead::GENESIS)
    }

    /// A verifier continuing from a head verified earlier.
    pub fn resume(head: ChainHead) -> ChainVerifier {
        ChainVerifier { head }
    }

    /// The head after the entries pushed so far.
    pub fn head(&self) -> ChainHead {
        self.head
    }

    /// Checks one decoded entry against the head and advances; returns its hash. On error
    /// the head is unchanged.
    pub fn push(&mut self, entry: &LedgerEntry) -> Result<Digest> {
        entry.validate()?;
        let bytes = entry.to_bytes();
        self.link(entry, entry_hash(&bytes))
    }

    /// Decodes entry bytes ([`LedgerEntry::from_bytes`]), checks and advances; returns the
    /// entry. On error the head is unchanged.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<LedgerEntry> {
        let entry = LedgerEntry::from_bytes(bytes).map_err(|e| {
            e.context(&alloc::format!(
                "entry expected at seq {}",
                self.head.next_seq
            ))
        })?;
        self.link(&entry, entry_hash(bytes))?;
        Ok(entry)
    }

    fn link(&mut self, entry: &LedgerEntry, hash: Digest) -> Result<Digest> {
        let h = &self.head;
        let broken = |detail: alloc::string::String| {
            Err(Error::new(
                ErrorCode::ChainBroken,
                alloc::format!("ledger entry {}: {detail}", entry.seq),
            ))
        };
        if entry.seq != h.next_seq {
            return broken(alloc::format!("expected seq {}", h.next_seq));
        }
        if entry.prev_hash != h.head_hash {
            return broken(alloc::format!(
                "prev_hash does not match the hash of entry {}",
                entry.seq.wrapping_sub(1)
            ));
        }
        if entry.time < h.last_time {
            return broken(alloc::format!(
                "time {} is before the previous entry's {}",
                entry.time,
                h.last_time
            ));
        }
        // validate() refuses seq == u64::MAX, so there is always a next seq.
        self.head = ChainHead {
            next_seq: entry.seq.saturating_add(1),
            head_hash: hash,
            last_time: entry.time,
        };
        Ok(hash)
    }
}

/// Verifies the hash chain of decoded entries from `start` (genesis if `None`) and returns
/// the new head.
///
/// ```
/// use cairn_core::ledger::{verify_chain, ChainHead, Event};
/// let e0 = ChainHead::GENESIS.next_entry(1, Event::AuditNote { text: "a".into() });
/// let head = verify_chain([&e0], None)?;
/// assert_eq!((head.next_seq, head.head_hash), (1, e0.hash()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_chain<'a, I>(entries: I, start: Option<ChainHead>) -> Result<ChainHead>
where
    I: IntoIterator<Item = &'a LedgerEntry>,
{
    let mut v = ChainVerifier::resume(start.unwrap_or(ChainHead::GENESIS));
    for e in entries {
        v.push(e)?;
    }
    Ok(v.head())
}

/// Like [`verify_chain`] over entry bytes (each decoded with [`LedgerEntry::from_bytes`]).
///
/// ```
/// use cairn_core::ledger::{verify_chain_bytes, ChainHead, Event};
/// let e0 = ChainHead::GENESIS.next_entry(1, Event::AuditNote { text: "a".into() }).to_bytes();
/// assert_eq!(verify_chain_bytes([e0.as_slice()], None)?.next_seq, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_chain_bytes<'a, I>(entries: I, start: Option<ChainHead>) -> Result<ChainHead>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut v = ChainVerifier::resume(start.unwrap_or(ChainHead::GENESIS));
    for e in entries {
        v.push_bytes(e)?;
    }
    Ok(v.head())
}
