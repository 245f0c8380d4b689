//! The ledger's entries as the kernel stores them: one compact DSSE envelope per sequence
//! number, decoded and checked against its key; the chain head and tree size they imply.

use redb::ReadableTable;

use crate::error::{StoreError, StoreResult};
use crate::kernel::tree::TreeView;
use cairn_core::dsse::Envelope;
use cairn_core::encoding::Digest;
use cairn_core::ledger::{entry_hash, ChainHead, LedgerEntry, MAX_ENTRY_LEN};
use cairn_core::merkle;

/// A ledger entry as stored: the signed envelope and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEntry {
    /// The decoded entry.
    pub entry: LedgerEntry,
    /// The DSSE envelope: payload = entry bytes, signed by the keys whose consent the entry
    /// needs (none for most; the log key signs tree heads, not entries).
    pub envelope: Envelope,
}

impl SignedEntry {
    /// SHA-256 of the entry bytes (what the next entry's `prev_hash` names).
    pub fn hash(&self) -> Digest {
        entry_hash(&self.envelope.payload)
    }

    /// The entry's Merkle leaf hash.
    pub fn leaf_hash(&self) -> Digest {
        merkle::leaf_hash(&self.envelope.payload)
    }
}

/// Decodes a stored entry without verifying signatures (the audit does that). A stored entry
/// that does not decode, or whose sequence number is not its key, is `corrupt`-like and is
/// reported against `seq`.
pub(crate) fn decode_entry(seq: u64, bytes: &[u8]) -> StoreResult<SignedEntry> {
    let envelope = decode_envelope(seq, bytes)?;
    let entry =
        LedgerEntry::from_bytes(&envelope.payload).map_err(|e| StoreError::from(e).at_seq(seq))?;
    check_seq(seq, entry, envelope)
}

/// The envelope of the entry stored under `seq`, its payload type checked (a ledger entry)
/// but the payload not decoded yet.
pub(crate) fn decode_envelope(seq: u64, bytes: &[u8]) -> StoreResult<Envelope> {
    let envelope = Envelope::from_compact(bytes).map_err(|e| {
        StoreError::from(e)
            .context("stored entry envelope")
            .at_seq(seq)
    })?;
    cairn_core::ledger::check_entry_type(&envelope).map_err(|e| StoreError::from(e).at_seq(seq))?;
    Ok(envelope)
}

/// Decodes the payload of an envelope whose Merkle leaf is proven included under the signed
/// head. Those bytes are the writer's own canonical encoding of an entry it validated, so
/// they are decoded without encoding them again to compare and without validating the entry
/// again (what a verified read saves over [`decode_entry`]); a decoding failure is still an
/// error, never a panic.
pub(crate) fn decode_proven(seq: u64, envelope: Envelope) -> StoreResult<SignedEntry> {
    // The length, format version and event kind first, as a full decode checks them: a
    // newer writer's entry is `unsupported_version`, not a decoding failure.
    LedgerEntry::check_prefix(&envelope.payload).map_err(|e| StoreError::from(e).at_seq(seq))?;
    let entry: LedgerEntry =
        cairn_core::encoding::from_postcard(&envelope.payload, MAX_ENTRY_LEN, "ledger entry")
            .map_err(|e| StoreError::from(e).at_seq(seq))?;
    check_seq(seq, entry, envelope)
}

/// The entry stored under `seq` must say it is entry `seq`.
fn check_seq(seq: u64, entry: LedgerEntry, envelope: Envelope) -> StoreResult<SignedEntry> {
    if entry.seq != seq {
        return Err(StoreError::core(
            cairn_core::ErrorCode::ChainBroken,
            format!(
                "the entry stored under {seq} says it is entry {}",
                entry.seq
            ),
        )
        .at_seq(seq));
    }
    Ok(SignedEntry { entry, envelope })
}

/// Number of entries: one more than the last stored sequence number.
pub(crate) fn tree_size(entries: &impl ReadableTable<u64, &'static [u8]>) -> StoreResult<u64> {
    match entries.last()? {
        None => Ok(0),
        Some((k, _)) => k.value().checked_add(1).ok_or_else(|| {
            StoreError::corrupt("the entry table's last key is u64::MAX: no log is that long")
        }),
    }
}

/// The chain head after the last stored entry.
pub(crate) fn read_head(
    entries: &impl ReadableTable<u64, &'static [u8]>,
) -> StoreResult<ChainHead> {
    match entries.last()? {
        None => Ok(ChainHead::GENESIS),
        Some((k, v)) => {
            let e = decode_entry(k.value(), v.value())?;
            Ok(ChainHead {
                next_seq: e.entry.seq + 1,
                head_hash: e.hash(),
                last_time: e.entry.time,
            })
        }
    }
}

/// The root of the stored tree at `size`.
pub(crate) fn root_at(
    tree: &impl ReadableTable<(u8, u64), [u8; 32]>,
    tree_size: u64,
    size: u64,
) -> StoreResult<Digest> {
    TreeView::new(tree, tree_size).run(|v| merkle::tree_root(v, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::ledger::{Event, LEDGER_ENTRY_TYPE, ZERO_HASH};

    /// A proven payload is decoded without validating it again, but a newer writer's format
    /// version or event kind is still `unsupported_version`, as a full decode reports it.
    #[test]
    fn proven_payloads_of_a_newer_format_are_unsupported_not_garbage() {
        let entry = LedgerEntry::new(3, 1, ZERO_HASH, Event::AuditNote { text: "a".into() });
        let bytes = entry.to_bytes();
        let env = |payload: Vec<u8>| Envelope::new(LEDGER_ENTRY_TYPE, payload).unwrap();
        assert_eq!(decode_proven(3, env(bytes.clone())).unwrap().entry, entry);
        let mut version = bytes.clone();
        version[0] += 1;
        // The kind follows version (1 byte), seq and time (varints of 1 byte here) and the
        // 32-byte previous hash.
        let mut kind = bytes.clone();
        kind[1 + 1 + 1 + 32] = Event::KINDS.len() as u8;
        for payload in [version, kind] {
            let e = decode_proven(3, env(payload)).unwrap_err();
            assert_eq!(e.code().as_str(), "unsupported_version", "{e}");
        }
    }
}
