//! The ledger rule book's view of the tables inside a write transaction.
//!
//! The writer does not keep the ledger's state in memory: [`TxnView`] answers the rule book's
//! questions ([`LedgerView`]) from the records the transaction sees, which the audit proves
//! equal to the state the ledger describes. Every entry is checked through
//! [`cairn_core::ledger::check_entry`] before it is stored (see `Txn::append`).

use redb::{ReadableTable, WriteTransaction};

use super::error::{StoreError, StoreResult};
use super::keys::load_key;
use super::manifests::load_manifest;
use super::nodes::load_node;
use super::schema::{self, TRUST_ROOTS};
use super::tokens::load_token;
use cairn_core::crypto::KeyId;
use cairn_core::encoding::Digest;
use cairn_core::ledger::{LedgerKey, LedgerManifest, LedgerPeerKey, LedgerToken, LedgerView};

/// The state before the entry being appended, as the transaction's tables hold it.
pub(crate) struct TxnView<'a> {
    pub tx: &'a WriteTransaction,
    /// False before entry 0 (the tables may already name the log key while creating).
    pub has_entries: bool,
}

impl LedgerView for TxnView<'_> {
    type Error = StoreError;

    fn log_key(&self) -> StoreResult<Option<KeyId>> {
        if !self.has_entries {
            return Ok(None);
        }
        Ok(Some(schema::read_log_key_id(
            &self.tx.open_table(schema::META)?,
        )?))
    }

    fn key(&self, id: &KeyId) -> StoreResult<Option<LedgerKey>> {
        Ok(load_key(self.tx, id)?.map(|r| r.ledger_key()))
    }

    fn node_registered(&self, node_id: &str) -> StoreResult<bool> {
        Ok(load_node(self.tx, node_id)?.is_some())
    }

    fn token(&self, id: &Digest) -> StoreResult<Option<LedgerToken>> {
        let Some(rec) = load_token(self.tx, id)? else {
            return Ok(None);
        };
        let info = rec.info()?;
        Ok(Some(LedgerToken {
            seq: info.seq,
            issuer: info.claims.issuer,
            audience: info.claims.audience,
            expires_at: info.claims.expires_at,
            revoked: info.revoked,
        }))
    }

    fn manifest(&self, digest: &Digest) -> StoreResult<Option<LedgerManifest>> {
        let Some(rec) = load_manifest(self.tx, digest)? else {
            return Ok(None);
        };
        let info = rec.info()?;
        Ok(Some(LedgerManifest {
            signed_seq: info.signed_seq,
            last_seq: info.last_seq,
            name: info.claims.name,
            sha256: info.claims.sha256,
            signers: info.signers,
            revoked: info.revoked,
        }))
    }

    fn trust_root_version(&self) -> StoreResult<Option<u64>> {
        let t = self.tx.open_table(TRUST_ROOTS)?;
        let last = t.last()?.map(|(k, _)| k.value());
        Ok(last)
    }

    fn peer_key(&self, _peer_id: &str, _key: &KeyId) -> StoreResult<Option<LedgerPeerKey>> {
        // No writer records peer keys yet; none is stored.
        Ok(None)
    }
}
