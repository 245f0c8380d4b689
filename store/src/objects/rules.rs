//! The ledger rule book's view of the tables inside a write transaction.
//!
//! The writer does not keep the ledger's state in memory: [`TxnView`] answers the rule book's
//! questions ([`LedgerView`]) from the records the transaction sees, which the audit proves
//! equal to the state the ledger describes. Every entry is checked through
//! [`cairn_core::ledger::check_entry`] before it is stored (see `Txn::append`).

use redb::{ReadableTable, WriteTransaction};

use crate::error::{StoreError, StoreResult};
use crate::kernel::db::Txn;
use crate::kernel::schema::TRUST_ROOTS;
use crate::objects::keys::load_key;
use crate::objects::manifests::load_manifest;
use crate::objects::nodes::load_node;
use crate::objects::tokens::load_token;
use cairn_core::crypto::{KeyId, SigningKey};
use cairn_core::encoding::Digest;
use cairn_core::ledger::Event;
use cairn_core::ledger::{
    LedgerHandle, LedgerKey, LedgerManifest, LedgerPeerKey, LedgerToken, LedgerView,
};

/// The state before the entry being appended, as the transaction's tables hold it.
pub(crate) struct TxnView<'a> {
    pub tx: &'a WriteTransaction,
    /// The log key (`None` before entry 0, though the tables may already name it then).
    pub log_key: Option<KeyId>,
}

impl LedgerView for TxnView<'_> {
    type Error = StoreError;

    fn log_key(&self) -> StoreResult<Option<KeyId>> {
        Ok(self.log_key)
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

    fn peer_key(&self, peer_id: &str, key: &KeyId) -> StoreResult<Option<LedgerPeerKey>> {
        crate::objects::peers::ledger_peer_key(self.tx, peer_id, key)
    }

    fn handle(&self, blind_index: &Digest) -> StoreResult<Option<LedgerHandle>> {
        crate::objects::handles::ledger_handle(self.tx, blind_index)
    }
}

impl Txn<'_> {
    /// Appends one ledger entry after the rule book allowed it over the state before it
    /// ([`cairn_core::ledger::check_entry`] through [`TxnView`]): every entry any operation
    /// writes comes through here. `consents` sign the entry to prove their consent.
    pub(crate) fn append(&mut self, event: Event, consents: &[&SigningKey]) -> StoreResult<u64> {
        self.append_raw(event, consents, |txn, entry, env| {
            let view = TxnView {
                tx: &txn.tx,
                log_key: txn.ledger_log_key(),
            };
            cairn_core::ledger::check_entry(&view, entry, env)
        })
    }

    /// Appends `event` as given, with the signatures of `consents`, after the ledger rule
    /// book's check, without touching any state table. It exists so that the rule book can be
    /// tested against the writer with entries the operations never build; an application
    /// that records an event this way leaves its records out of step with the ledger, which
    /// [`Registry::audit`] reports.
    #[doc(hidden)]
    pub fn append_event(&mut self, event: Event, consents: &[&SigningKey]) -> StoreResult<u64> {
        self.append(event, consents)
    }
}
