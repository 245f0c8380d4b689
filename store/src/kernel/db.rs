//! The storage kernel's front door: the [`Registry`] handle over one redb database, its read
//! snapshots, and the write path ([`Registry::write`] and [`Txn`]): one durable transaction
//! per call, every entry stored with its Merkle leaf in the same commit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use redb::{Database, Durability, ReadTransaction, ReadableDatabase, WriteTransaction};

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::schema;
use crate::kernel::tree::TreeView;
use cairn_core::crypto::{KeyId, SigningKey};
use cairn_core::encoding::Digest;
use cairn_core::ledger::{ChainHead, Event, LedgerEntry};
use cairn_core::merkle;
use cairn_core::UnixTime;

/// A clock: returns the current Unix time in seconds.
pub type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

pub(crate) fn system_clock() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The registry: keys, nodes, tokens, manifests, trust roots, and the signed ledger with its
/// Merkle tree and checkpoints, all in one redb file.
///
/// `Registry` is `Send + Sync`: share it across threads behind an `Arc`. Reads run on redb
/// read transactions (snapshots) and never wait for the writer; writes are serialised, and
/// each [`Registry::write`] call is one durable transaction.
pub struct Registry {
    pub(crate) db: Database,
    pub(crate) path: PathBuf,
    pub(crate) origin: String,
    /// The log's signing key, once unsealed. `None`: the registry is readable but a write
    /// fails with `passphrase_required`.
    pub(crate) writer: Mutex<Option<Arc<SigningKey>>>,
    pub(crate) clock: Clock,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("path", &self.path)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Replaces the clock that stamps ledger entries (tests and replays). Entry times never
    /// go backwards whatever the clock says.
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// The current time by the registry's clock.
    pub fn now(&self) -> UnixTime {
        (self.clock)()
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// True when the log key is unsealed and the registry can write.
    pub fn is_writable(&self) -> bool {
        self.writer_key().is_some()
    }

    pub(crate) fn writer_key(&self) -> Option<Arc<SigningKey>> {
        // A poisoned lock only means a writer panicked; the key inside is still valid.
        self.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Runs `f` as ONE durable write transaction: everything `f` does through the [`Txn`]
    /// (state changes, their ledger entries, the Merkle tree) commits together when `f`
    /// returns `Ok`, and nothing does when it returns `Err` or the process dies first. This
    /// is also the batch API: many operations in one `write` share one commit.
    ///
    /// ```
    /// use cairn_store::{CreateOptions, KeySpec, Protection, Registry};
    /// use cairn_core::crypto::Algorithm;
    /// use cairn_core::trust::{Role, RoleSet};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let spec = KeySpec::new("issuer", RoleSet::of(&[Role::TokenIssuer]));
    /// let (a, b) = reg.write(|tx| {
    ///     let a = tx.generate_key(Algorithm::Ed25519, &spec, &Protection::Insecure)?;
    ///     let b = tx.generate_key(Algorithm::MlDsa44, &spec, &Protection::Insecure)?;
    ///     Ok((a, b))
    /// })?;
    /// assert_eq!(reg.tree_size()?, 3);
    /// assert_ne!(a.key_id, b.key_id);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write<T>(&self, f: impl FnOnce(&mut Txn<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let log_key = guard.clone().ok_or_else(|| {
            StoreError::new(
                StoreCode::PassphraseRequired,
                "the log key is sealed: open the registry with its passphrase to write",
            )
        })?;
        let tx = self.db.begin_write()?;
        let mut txn = Txn::new(self, tx, log_key)?;
        let out = f(&mut txn)?;
        let new_key = txn.log_key_changed.then(|| txn.log_key.clone());
        txn.commit()?;
        if let Some(k) = new_key {
            *guard = Some(k);
        }
        Ok(out)
    }

    /// A read transaction: a consistent snapshot that never blocks the writer.
    pub(crate) fn read_tx(&self) -> StoreResult<ReadTransaction> {
        Ok(self.db.begin_read()?)
    }

    /// The number of ledger entries (= leaves of the Merkle tree).
    pub fn tree_size(&self) -> StoreResult<u64> {
        let rtx = self.read_tx()?;
        crate::kernel::entries::tree_size(&rtx.open_table(schema::ENTRIES)?)
    }
}

/// One write transaction in progress (see [`Registry::write`]).
pub struct Txn<'r> {
    pub(crate) reg: &'r Registry,
    pub(crate) tx: WriteTransaction,
    pub(crate) head: ChainHead,
    pub(crate) now: UnixTime,
    pub(crate) log_key: Arc<SigningKey>,
    pub(crate) log_key_changed: bool,
}

impl<'r> Txn<'r> {
    pub(crate) fn new(
        reg: &'r Registry,
        mut tx: WriteTransaction,
        log_key: Arc<SigningKey>,
    ) -> StoreResult<Txn<'r>> {
        tx.set_durability(Durability::Immediate)
            .map_err(|e| StoreError::new(StoreCode::Database, e.to_string()))?;
        // Two-phase commit: a crash can then never leave a half-written newest commit, so a
        // newest commit that fails its checksum is damage, which redb reports instead of
        // silently rolling back to the commit before it.
        tx.set_two_phase_commit(true);
        let head = crate::kernel::entries::read_head(&tx.open_table(schema::ENTRIES)?)?;
        Ok(Txn {
            reg,
            tx,
            head,
            now: reg.now(),
            log_key,
            log_key_changed: false,
        })
    }

    pub(crate) fn commit(self) -> StoreResult<()> {
        self.tx.commit()?;
        Ok(())
    }

    /// The registry this transaction writes to.
    pub fn registry(&self) -> &Registry {
        self.reg
    }

    /// The time stamped on this transaction's entries.
    pub fn now(&self) -> UnixTime {
        self.now.max(self.head.last_time)
    }

    /// The key id of the log key signing this transaction's entries.
    pub fn log_key_id(&self) -> KeyId {
        self.log_key.public_key().key_id()
    }

    /// Stores one ledger entry, without any rule check (callers go through
    /// `Txn::append`, which asks the rule book first): signs it with the log key (and
    /// `cosigners`, whose signatures prove their consent, e.g. both keys of a rotation),
    /// stores it and adds its leaf to the Merkle tree. Returns the entry's sequence number.
    pub(crate) fn append_raw(
        &mut self,
        event: Event,
        cosigners: &[&SigningKey],
        check: impl FnOnce(&Self, &LedgerEntry, &cairn_core::dsse::Envelope) -> StoreResult<()>,
    ) -> StoreResult<u64> {
        let time = self.now();
        let entry: LedgerEntry = self.head.next_entry(time, event);
        let seq = entry.seq;
        let mut env = entry
            .to_envelope()
            .map_err(|e| StoreError::from(e).at_seq(seq))?;
        env.sign(&self.log_key)?;
        let log_id = self.log_key_id();
        for k in cosigners {
            let id = k.public_key().key_id();
            if id != log_id && !env.signatures.iter().any(|s| s.keyid == id) {
                env.sign(k)?;
            }
        }
        check(self, &entry, &env).map_err(|e| e.at_seq(seq))?;
        let leaf = merkle::leaf_hash(&env.payload);
        let entry_hash: Digest = cairn_core::ledger::entry_hash(&env.payload);
        self.tx
            .open_table(schema::ENTRIES)?
            .insert(seq, env.to_compact().as_slice())?;
        {
            let mut tree = self.tx.open_table(schema::TREE)?;
            let recs = TreeView::new(&tree, seq).run(|v| merkle::hashes_to_store(v, leaf))?;
            for r in recs {
                tree.insert((r.level, r.index), r.hash)?;
            }
        }
        self.head = ChainHead {
            next_seq: seq + 1,
            head_hash: entry_hash,
            last_time: time,
        };
        Ok(seq)
    }
}
