//! The tables of a registry file and the schema-version record.
//!
//! Every table is listed here, so the layout of the file can be read in one place
//! (docs/STORE.md describes it in prose). Values are postcard records defined next to the
//! code that writes them; a record that does not decode is reported as `corrupt`.

use redb::{MultimapTableDefinition, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{StoreCode, StoreError, StoreResult};
use cairn_core::encoding::{from_postcard, to_postcard};
use cairn_core::UnixTime;

/// The schema this build writes. A file with a larger number is refused (`schema_too_new`);
/// a smaller one is refused with `migration_required` until `cairn migrate` upgrades it.
///
/// - 1: every ledger entry signed by the log key; no signed head.
/// - 2: entries carry only consent signatures; the log key signs one tree head per commit
///   (the `head` record in `meta`).
pub const SCHEMA_VERSION: u32 = 2;

/// Largest stored record accepted when reading back (a damaged length must not allocate
/// without bound).
pub(crate) const MAX_RECORD_LEN: usize = 1024 * 1024;

/// `meta`: small named records (schema version, registry identity, current log key).
pub(crate) const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");
/// `entries`: seq → compact DSSE envelope of the ledger entry, signed only by the keys whose
/// consent its event needs (none for most events).
pub(crate) const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
/// `tree`: (level, index) → hash of the complete Merkle subtree there.
pub(crate) const TREE: TableDefinition<(u8, u64), [u8; 32]> = TableDefinition::new("tree");
/// `checkpoints`: tree size → signed checkpoint note.
pub(crate) const CHECKPOINTS: TableDefinition<u64, &[u8]> = TableDefinition::new("checkpoints");
/// `keys`: key id → key record.
pub(crate) const KEYS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("keys");
/// `trust_roots`: root version → signed trust-root envelope (compact form).
pub(crate) const TRUST_ROOTS: TableDefinition<u64, &[u8]> = TableDefinition::new("trust_roots");
/// `nodes`: node id → node record.
pub(crate) const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("nodes");
/// `nodes_by_capability`: capability → node ids declaring it.
pub(crate) const NODES_BY_CAPABILITY: MultimapTableDefinition<&[u8], &[u8]> =
    MultimapTableDefinition::new("nodes_by_capability");
/// `nodes_by_signal`: signal → node ids declaring it.
pub(crate) const NODES_BY_SIGNAL: MultimapTableDefinition<&[u8], &[u8]> =
    MultimapTableDefinition::new("nodes_by_signal");
/// `tokens`: token id → token record.
pub(crate) const TOKENS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("tokens");
/// `manifests`: manifest id → manifest record.
pub(crate) const MANIFESTS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("manifests");
/// `manifests_by_artifact`: artifact SHA-256 → manifest ids.
pub(crate) const MANIFESTS_BY_ARTIFACT: MultimapTableDefinition<[u8; 32], [u8; 32]> =
    MultimapTableDefinition::new("manifests_by_artifact");
/// `manifests_by_signer`: key id → manifest ids it signed.
pub(crate) const MANIFESTS_BY_SIGNER: MultimapTableDefinition<[u8; 32], [u8; 32]> =
    MultimapTableDefinition::new("manifests_by_signer");
/// `peers`: peer id → peer record (its keys, how they were verified, a proposed change).
pub(crate) const PEERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("peers");
/// `peer_exchange`: peer id → replay state of the key exchange with it (last nonces, pending
/// requests), kept across restarts and after the peer is removed.
pub(crate) const PEER_EXCHANGE: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("peer_exchange");
/// `peer_nonces`: key id (32 bytes) ‖ peer id → the highest nonce (u64, little-endian) that
/// peer id used under that signing key. Kept per key, so that a message signed by someone else's
/// key, claiming the peer's id, cannot use up the peer's nonces.
pub(crate) const PEER_NONCES: TableDefinition<&[u8], u64> = TableDefinition::new("peer_nonces");
/// `revocation_map`: the revocation map's stored branch records and its top record
/// (`kernel::revmap`). A file written before it exists gets it built from the ledger by its
/// first write (no schema change).
pub(crate) const REVOCATION_MAP: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("revocation_map");

/// `handles`: blind index (32 bytes) → handle record (the identity sealed at rest by the
/// caller, its `handle_registered` entry and time). No handle is ever stored in the clear.
pub(crate) const HANDLES: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("handles");
/// The handle registry's envelope keys sealed in the registry: kid → record (not logged).
pub(crate) const ENVELOPE_KEYS: TableDefinition<[u8; 8], &[u8]> =
    TableDefinition::new("envelope_keys");

/// `meta` key of the schema version (4 bytes, little-endian u32).
pub(crate) const META_SCHEMA: &[u8] = b"schema";
/// `meta` key of the [`RegistryMeta`] record.
pub(crate) const META_REGISTRY: &[u8] = b"registry";
/// `meta` key of the current log key id (32 bytes).
pub(crate) const META_LOG_KEY: &[u8] = b"log_key";
/// `meta` key of the [`HeadRecord`]: the log key's signed tree head of the last commit.
pub(crate) const META_HEAD: &[u8] = b"head";

/// The signed head: a C2SP checkpoint note of the whole tree after the last commit, signed by
/// the log key named here. Every write transaction that appends entries replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HeadRecord {
    /// The checkpoint note (origin, size, root; the log key's signature lines).
    pub note: String,
    /// The log key that signed it.
    pub key_id: cairn_core::crypto::KeyId,
}

/// Who the registry is: written once at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RegistryMeta {
    /// The log's origin line (checkpoints name it).
    pub origin: String,
    /// When the registry was created.
    pub created_at: UnixTime,
}

/// Encodes a record.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    to_postcard(value)
}

/// Decodes a stored record; failure means the file was damaged or edited (`corrupt`).
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> StoreResult<T> {
    from_postcard(bytes, MAX_RECORD_LEN, what)
        .map_err(|e| StoreError::corrupt(format!("stored {what} does not decode: {}", e.detail())))
}

/// Reads the schema version of an opened file: `None` if the file has no cairn schema record.
pub(crate) fn read_schema(
    meta: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> StoreResult<Option<u32>> {
    let Some(v) = meta.get(META_SCHEMA)? else {
        return Ok(None);
    };
    let bytes: [u8; 4] = v
        .value()
        .try_into()
        .map_err(|_| StoreError::corrupt("the schema-version record is not 4 bytes"))?;
    Ok(Some(u32::from_le_bytes(bytes)))
}

/// Refuses a schema this build does not know.
pub(crate) fn check_schema(found: u32) -> StoreResult<()> {
    match found {
        SCHEMA_VERSION => Ok(()),
        v if v > SCHEMA_VERSION => Err(StoreError::new(
            StoreCode::SchemaTooNew,
            format!(
                "the registry was written with schema {v}; this build reads schema {SCHEMA_VERSION} and will not guess at a newer one (upgrade cairn)"
            ),
        )),
        1 => Err(StoreError::new(
            StoreCode::MigrationRequired,
            "the registry was written with schema 1 (every entry signed by the log key); this build reads schema 2: run `cairn migrate` (it keeps a copy of the old file) to upgrade it",
        )),
        v => Err(StoreError::corrupt(format!("schema version {v} is not a valid cairn schema"))),
    }
}

/// Creates every table, so that readers can open any of them in a fresh registry.
pub(crate) fn create_tables(tx: &redb::WriteTransaction) -> StoreResult<()> {
    tx.open_table(META)?;
    tx.open_table(ENTRIES)?;
    tx.open_table(TREE)?;
    tx.open_table(CHECKPOINTS)?;
    tx.open_table(KEYS)?;
    tx.open_table(TRUST_ROOTS)?;
    tx.open_table(NODES)?;
    tx.open_multimap_table(NODES_BY_CAPABILITY)?;
    tx.open_multimap_table(NODES_BY_SIGNAL)?;
    tx.open_table(TOKENS)?;
    tx.open_table(MANIFESTS)?;
    tx.open_multimap_table(MANIFESTS_BY_ARTIFACT)?;
    tx.open_multimap_table(MANIFESTS_BY_SIGNER)?;
    tx.open_table(PEERS)?;
    tx.open_table(PEER_EXCHANGE)?;
    tx.open_table(PEER_NONCES)?;
    tx.open_table(REVOCATION_MAP)?;
    tx.open_table(HANDLES)?;
    tx.open_table(ENVELOPE_KEYS)?;
    Ok(())
}

/// Reads the signed head from `meta`.
pub(crate) fn read_head_record(
    meta: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> StoreResult<HeadRecord> {
    let v = meta
        .get(META_HEAD)?
        .ok_or_else(|| StoreError::corrupt("the signed head record is missing"))?;
    decode(v.value(), "signed head")
}

/// Reads the current log key id from `meta`.
pub(crate) fn read_log_key_id(
    meta: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> StoreResult<cairn_core::crypto::KeyId> {
    let v = meta
        .get(META_LOG_KEY)?
        .ok_or_else(|| StoreError::corrupt("the log-key record is missing"))?;
    let id: [u8; 32] = v
        .value()
        .try_into()
        .map_err(|_| StoreError::corrupt("the log-key record is not 32 bytes"))?;
    Ok(cairn_core::crypto::KeyId(id))
}

/// Point reads that work the same inside a read or a write transaction.
pub(crate) trait ReadTables {
    /// The bytes stored under `key` in the byte-valued table `def`.
    fn get_bytes<'k, K: redb::Key + 'static>(
        &self,
        def: TableDefinition<K, &'static [u8]>,
        key: impl std::borrow::Borrow<K::SelfType<'k>>,
    ) -> StoreResult<Option<Vec<u8>>>;

    /// Decodes the record under `key` in `def`.
    fn get_record<'k, K: redb::Key + 'static, T: DeserializeOwned>(
        &self,
        def: TableDefinition<K, &'static [u8]>,
        key: impl std::borrow::Borrow<K::SelfType<'k>>,
        what: &str,
    ) -> StoreResult<Option<T>> {
        self.get_bytes(def, key)?
            .map(|b| decode(&b, what))
            .transpose()
    }
}

impl ReadTables for redb::ReadTransaction {
    fn get_bytes<'k, K: redb::Key + 'static>(
        &self,
        def: TableDefinition<K, &'static [u8]>,
        key: impl std::borrow::Borrow<K::SelfType<'k>>,
    ) -> StoreResult<Option<Vec<u8>>> {
        let t = self.open_table(def)?;
        let v = t.get(key)?;
        Ok(v.map(|v| v.value().to_vec()))
    }
}

impl ReadTables for redb::WriteTransaction {
    fn get_bytes<'k, K: redb::Key + 'static>(
        &self,
        def: TableDefinition<K, &'static [u8]>,
        key: impl std::borrow::Borrow<K::SelfType<'k>>,
    ) -> StoreResult<Option<Vec<u8>>> {
        let t = self.open_table(def)?;
        let v = t.get(key)?;
        Ok(v.map(|v| v.value().to_vec()))
    }
}
