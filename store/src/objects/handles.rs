//! The handle registry's persistent half (seed 003's Enigma node registry): handles, each
//! stored under its peppered blind index, never in the clear, with the identity behind it
//! sealed at rest.
//!
//! The store never sees a handle, a pepper or an envelope key. Its caller (`cairn serve`)
//! normalises the handle, computes its blind index (`cairn_core::handle::blind_index`) and
//! seals the identity to its own envelope key (docs/STORE.md, "Handles", describes the
//! scheme the service uses); the store keeps the sealed bytes as they are. So a copy of the
//! redb file shows neither handles nor identities to someone without the pepper and the keys.
//!
//! Every registration, re-registration and removal is a ledger entry in the same commit as
//! the table change (`handle_registered`, `handle_removed`), holding the blind index and the
//! identity digest: SHA-256 of the sealed record bytes. The handle set is thereby covered by
//! checkpoints and tiles, and the audit compares the table with the replayed ledger without
//! needing any secret.

use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::db::{Registry, Txn};
use crate::kernel::schema::{self, ReadTables, HANDLES};
use crate::objects::keys::check_reason;
use cairn_core::encoding::{hex_encode, sha256, Digest};
use cairn_core::error::ErrorCode;
use cairn_core::ledger::{Event, LedgerHandle, PreviousDigest};
use cairn_core::UnixTime;

/// Largest sealed identity the store keeps, in bytes (the size of the largest handle
/// envelope, docs/FORMATS.md section 19).
pub const MAX_SEALED_IDENTITY_LEN: usize = 64 * 1024;

/// A registered handle as the table holds it (keyed by blind index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandleInfo {
    /// The handle's blind index (the table key).
    pub blind_index: Digest,
    /// The identity, sealed at rest by the caller; opaque to the store.
    pub sealed_identity: Vec<u8>,
    /// The `handle_registered` entry of this identity.
    pub seq: u64,
    /// When it was registered (the entry's time).
    pub registered_at: UnixTime,
}

/// The record under a blind index (the key is not repeated inside).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HandleRecord {
    sealed_identity: Vec<u8>,
    seq: u64,
    registered_at: UnixTime,
}

impl HandleInfo {
    /// SHA-256 of the sealed identity: the `identity_digest` of its ledger entries.
    pub fn identity_digest(&self) -> Digest {
        identity_digest(&self.sealed_identity)
    }

    fn from_record(blind_index: Digest, r: HandleRecord) -> HandleInfo {
        HandleInfo {
            blind_index,
            sealed_identity: r.sealed_identity,
            seq: r.seq,
            registered_at: r.registered_at,
        }
    }
}

/// The `identity_digest` of a sealed identity: SHA-256 of its bytes.
pub fn identity_digest(sealed_identity: &[u8]) -> Digest {
    sha256(&[sealed_identity])
}

fn open_handles_read(
    rtx: &ReadTransaction,
) -> StoreResult<Option<redb::ReadOnlyTable<[u8; 32], &'static [u8]>>> {
    match rtx.open_table(HANDLES) {
        Ok(t) => Ok(Some(t)),
        // A file created before the handle table existed: no handles.
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn load_handle(
    tx: &redb::WriteTransaction,
    blind_index: &Digest,
) -> StoreResult<Option<HandleInfo>> {
    let rec: Option<HandleRecord> = tx.get_record(HANDLES, *blind_index, "handle record")?;
    Ok(rec.map(|r| HandleInfo::from_record(*blind_index, r)))
}

fn load_handle_read(
    rtx: &ReadTransaction,
    blind_index: &Digest,
) -> StoreResult<Option<HandleInfo>> {
    let Some(t) = open_handles_read(rtx)? else {
        return Ok(None);
    };
    let Some(v) = t.get(*blind_index)? else {
        return Ok(None);
    };
    let rec: HandleRecord = schema::decode(v.value(), "handle record")?;
    Ok(Some(HandleInfo::from_record(*blind_index, rec)))
}

/// The ledger's view of a handle, from the table (the rule book's `handle`).
pub(crate) fn ledger_handle(
    tx: &redb::WriteTransaction,
    blind_index: &Digest,
) -> StoreResult<Option<LedgerHandle>> {
    Ok(load_handle(tx, blind_index)?.map(|h| LedgerHandle {
        seq: h.seq,
        identity_digest: h.identity_digest(),
    }))
}

/// Every handle the table holds, as the ledger should describe it (the audit's side).
pub(crate) fn table_handles(
    rtx: &ReadTransaction,
) -> StoreResult<std::collections::BTreeMap<Digest, (LedgerHandle, UnixTime)>> {
    let mut out = std::collections::BTreeMap::new();
    if let Some(t) = open_handles_read(rtx)? {
        for row in t.iter()? {
            let (k, v) = row?;
            let rec: HandleRecord = schema::decode(v.value(), "handle record")?;
            out.insert(
                k.value(),
                (
                    LedgerHandle {
                        seq: rec.seq,
                        identity_digest: identity_digest(&rec.sealed_identity),
                    },
                    rec.registered_at,
                ),
            );
        }
    }
    Ok(out)
}

fn check_sealed(sealed_identity: &[u8]) -> StoreResult<()> {
    if sealed_identity.is_empty() {
        return Err(StoreError::field(
            ErrorCode::Malformed,
            "sealed_identity",
            "a sealed identity is not empty",
        ));
    }
    if sealed_identity.len() > MAX_SEALED_IDENTITY_LEN {
        return Err(StoreError::field(
            ErrorCode::TooLarge,
            "sealed_identity",
            format!(
                "a sealed identity is at most {MAX_SEALED_IDENTITY_LEN} bytes, not {}",
                sealed_identity.len()
            ),
        ));
    }
    Ok(())
}

impl Txn<'_> {
    fn put_handle(
        &mut self,
        blind_index: &Digest,
        sealed_identity: &[u8],
        seq: u64,
    ) -> StoreResult<HandleInfo> {
        let rec = HandleRecord {
            sealed_identity: sealed_identity.to_vec(),
            seq,
            registered_at: self.now(),
        };
        self.tx
            .open_table(HANDLES)?
            .insert(*blind_index, schema::encode(&rec).as_slice())?;
        Ok(HandleInfo::from_record(*blind_index, rec))
    }

    /// Registers a free handle: stores `sealed_identity` under `blind_index` and records
    /// `handle_registered` in the same commit. A handle already held is `already_exists`
    /// (whatever identity it holds: a registration never overwrites).
    pub fn register_handle(
        &mut self,
        blind_index: &Digest,
        sealed_identity: &[u8],
    ) -> StoreResult<HandleInfo> {
        check_sealed(sealed_identity)?;
        if load_handle(&self.tx, blind_index)?.is_some() {
            return Err(StoreError::new(
                StoreCode::AlreadyExists,
                "this handle is already registered",
            ));
        }
        let seq = self.append(
            Event::HandleRegistered {
                blind_index: *blind_index,
                identity_digest: identity_digest(sealed_identity),
                previous: None,
            },
            &[],
        )?;
        self.put_handle(blind_index, sealed_identity, seq)
    }

    /// Re-registers a held handle with another identity. `previous` must be the identity
    /// digest it holds now (`digest_mismatch` otherwise, `not_found` if the handle is free):
    /// a compare-and-swap, so that two writers cannot silently overwrite each other.
    pub fn reregister_handle(
        &mut self,
        blind_index: &Digest,
        previous: &Digest,
        sealed_identity: &[u8],
    ) -> StoreResult<HandleInfo> {
        check_sealed(sealed_identity)?;
        let old = load_handle(&self.tx, blind_index)?
            .ok_or_else(|| StoreError::not_found("this handle is not registered"))?;
        if old.identity_digest() != *previous {
            return Err(StoreError::core(
                ErrorCode::DigestMismatch,
                "the handle holds another identity than the one this re-registration replaces",
            ));
        }
        let digest = identity_digest(sealed_identity);
        if digest == *previous {
            return Err(StoreError::core(
                ErrorCode::Malformed,
                "the re-registration stores the identity record the handle already holds",
            ));
        }
        let seq = self.append(
            Event::HandleRegistered {
                blind_index: *blind_index,
                identity_digest: digest,
                previous: Some(PreviousDigest(*previous)),
            },
            &[],
        )?;
        self.put_handle(blind_index, sealed_identity, seq)
    }

    /// Removes a handle (`not_found` if it is free), recording `handle_removed`.
    pub fn remove_handle(&mut self, blind_index: &Digest, reason: &str) -> StoreResult<u64> {
        check_reason(reason)?;
        let old = load_handle(&self.tx, blind_index)?
            .ok_or_else(|| StoreError::not_found("this handle is not registered"))?;
        let seq = self.append(
            Event::HandleRemoved {
                blind_index: *blind_index,
                identity_digest: old.identity_digest(),
                reason: reason.to_owned(),
            },
            &[],
        )?;
        self.tx.open_table(HANDLES)?.remove(*blind_index)?;
        Ok(seq)
    }

    /// The handle under `blind_index` inside this transaction, as stored.
    pub fn handle(&self, blind_index: &Digest) -> StoreResult<Option<HandleInfo>> {
        load_handle(&self.tx, blind_index)
    }
}

impl Registry {
    /// Registers a handle (one transaction). See [`Txn::register_handle`].
    ///
    /// ```
    /// use cairn_store::{CreateOptions, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let index = [7u8; 32]; // a blind index, computed by the caller
    /// reg.register_handle(&index, b"sealed identity bytes")?;
    /// let stored = reg.handle(&index)?.ok_or("the handle was just registered")?;
    /// assert_eq!(stored.sealed_identity, b"sealed identity bytes");
    /// let taken = reg.register_handle(&index, b"other").unwrap_err();
    /// assert_eq!(taken.code(), cairn_store::StoreCode::AlreadyExists);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_handle(
        &self,
        blind_index: &Digest,
        sealed_identity: &[u8],
    ) -> StoreResult<HandleInfo> {
        self.write(|tx| tx.register_handle(blind_index, sealed_identity))
    }

    /// Re-registers a handle (one transaction). See [`Txn::reregister_handle`].
    pub fn reregister_handle(
        &self,
        blind_index: &Digest,
        previous: &Digest,
        sealed_identity: &[u8],
    ) -> StoreResult<HandleInfo> {
        self.write(|tx| tx.reregister_handle(blind_index, previous, sealed_identity))
    }

    /// Removes a handle (one transaction). See [`Txn::remove_handle`].
    pub fn remove_handle(&self, blind_index: &Digest, reason: &str) -> StoreResult<u64> {
        self.write(|tx| tx.remove_handle(blind_index, reason))
    }

    /// The handle under `blind_index`, if registered: a verified read (its record against
    /// its `handle_registered` entry, proven in the signed head).
    pub fn handle(&self, blind_index: &Digest) -> StoreResult<Option<HandleInfo>> {
        self.read(|rtx| {
            let Some(info) = load_handle_read(&rtx, blind_index)? else {
                return Ok(None);
            };
            crate::objects::verified::Proof::new(self, &rtx)?.handle(&info)?;
            Ok(Some(info))
        })
    }

    /// The handle under `blind_index` as stored, without comparing it with the ledger.
    pub fn handle_unverified(&self, blind_index: &Digest) -> StoreResult<Option<HandleInfo>> {
        self.read(|rtx| load_handle_read(&rtx, blind_index))
    }

    /// How many handles are registered.
    pub fn handle_count(&self) -> StoreResult<u64> {
        self.read(|rtx| match open_handles_read(&rtx)? {
            Some(t) => Ok(t.len()?),
            None => Ok(0),
        })
    }

    /// Up to `limit` handles in blind-index order, starting after `after` (for paging), each
    /// a verified read.
    pub fn list_handles(
        &self,
        after: Option<&Digest>,
        limit: usize,
    ) -> StoreResult<Vec<HandleInfo>> {
        self.read(|rtx| {
            let Some(t) = open_handles_read(&rtx)? else {
                return Ok(Vec::new());
            };
            let proof = crate::objects::verified::Proof::new(self, &rtx)?;
            let mut out = Vec::new();
            let rows = match after {
                Some(a) => t.range::<[u8; 32]>((
                    std::ops::Bound::Excluded(*a),
                    std::ops::Bound::Unbounded,
                ))?,
                None => t.range::<[u8; 32]>(..)?,
            };
            for row in rows {
                if out.len() >= limit {
                    break;
                }
                let (k, v) = row?;
                let rec: HandleRecord = schema::decode(v.value(), "handle record")?;
                let info = HandleInfo::from_record(k.value(), rec);
                proof.handle(&info)?;
                out.push(info);
            }
            Ok(out)
        })
    }
}

/// Names a blind index in messages (hex; it reveals nothing about the handle).
pub(crate) fn show(blind_index: &Digest) -> String {
    hex_encode(blind_index)
}
