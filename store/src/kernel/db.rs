//! The storage kernel's front door: the [`Registry`] handle over one redb database, its read
//! snapshots, and the write path ([`Registry::write`] and [`Txn`]): one durable transaction
//! per call, every entry stored with its Merkle leaf in the same commit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use redb::{
    Database, Durability, ReadOnlyDatabase, ReadTransaction, ReadableDatabase, WriteTransaction,
};

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::checkpoints::CheckpointRecord;
use crate::kernel::head::VerifiedHead;
use crate::kernel::schema::{self, ReadTables};
use crate::kernel::tree::TreeView;
use cairn_core::crypto::{KeyId, PublicKey, SigningKey};
use cairn_core::encoding::Digest;
use cairn_core::ledger::{ChainHead, Event, LedgerEntry};
use cairn_core::merkle;
use cairn_core::UnixTime;

/// Runs `f`, turning a panic inside it into a `corrupt` error.
///
/// redb verifies page checksums only in its full integrity check (which `Registry::check`
/// runs, and an open runs after an unclean shutdown); reading a damaged page otherwise can
/// make it panic rather than return an error, as its documentation says of a plain open. A
/// flat open does not read every page, so every public read and write runs under this guard:
/// damage anywhere in the file is reported as `corrupt`, never a crash. Nothing redb does in
/// a read snapshot outlives it, and a write transaction that panicked is dropped, that is,
/// aborted.
pub(crate) fn guard<T>(f: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(StoreError::corrupt(format!(
            "the database engine failed on a damaged page ({}); run `cairn check`, and restore the file from a backup if it fails",
            panic_message(payload.as_ref())
        ))),
    }
}

/// What a caught panic said (its `&str` or `String` payload), for an error message.
///
/// ```
/// // A formatted panic's payload, as `std::panic::catch_unwind` returns it.
/// let payload: Box<dyn std::any::Any + Send> = Box::new(format!("page {} is damaged", 7));
/// assert_eq!(cairn_store::panic_message(payload.as_ref()), "page 7 is damaged");
/// let other: Box<dyn std::any::Any + Send> = Box::new(7u8);
/// assert_eq!(cairn_store::panic_message(other.as_ref()), "unknown failure");
/// ```
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown failure".to_owned())
}

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
    pub(crate) db: Db,
    pub(crate) path: PathBuf,
    pub(crate) origin: String,
    /// The log's signing key, once unsealed. `None`: the registry is readable but a write
    /// fails with `passphrase_required`.
    pub(crate) writer: Mutex<Option<Arc<SigningKey>>>,
    pub(crate) clock: Clock,
    /// The signed head as verified at open and renewed by every commit: what verified reads
    /// check records against.
    /// With it, the stored bytes of its head record: a snapshot holding the same bytes needs no
    /// second verification. One lock, so the two never disagree.
    pub(crate) head: Mutex<(VerifiedHead, Vec<u8>)>,
    /// The log keys signed heads are verified with: the current one (verified against its
    /// key record at open, replaced when a commit rotates the log key) and those this process
    /// rotated from or to ([`LogKeys`]).
    pub(crate) log_keys: Mutex<LogKeys>,
    /// Whether each commit rewrites the anchor file (kernel::anchor).
    pub(crate) anchor: std::sync::atomic::AtomicBool,
    /// Subtree hashes proven under the signed head, which let verified reads stop their
    /// inclusion proofs early (kernel::known states when this is sound).
    pub(crate) known: std::sync::RwLock<crate::kernel::known::KnownSubtrees>,
    /// Told how long each signature by the log key took ([`Registry::observe_log_signing`]).
    pub(crate) on_log_sign: std::sync::OnceLock<LogSignObserver>,
    /// The anchors commits owe, written off the writer lock (kernel::anchor).
    pub(crate) anchors: crate::kernel::anchor::AnchorWrites,
    /// Token chains already authenticated, by token id (objects::tokens).
    pub(crate) token_memo: crate::objects::tokens::TokenMemo,
    /// Keys unsealed for signing and kept open, when asked (objects::open_keys).
    pub(crate) open_keys: crate::objects::open_keys::OpenKeys,
}

/// A durable commit, as [`Registry::write_deferring_anchor`] returns it: what the transaction
/// returned, and the anchor write it still owes.
#[derive(Debug)]
#[must_use = "the anchor it owes is written by Registry::write_anchor"]
pub struct Committed<T> {
    /// What the transaction's closure returned.
    pub value: T,
    /// The anchor this commit owes ([`Registry::write_anchor`] writes it).
    pub anchor: crate::kernel::anchor::AnchorDue,
}

/// When a commit's rollback anchor is written (kernel::anchor).
#[derive(Debug, Clone, Copy)]
enum AnchorTiming {
    /// By the background writer while redb commits ([`Registry::write`]).
    WithCommit,
    /// After the commit, by [`Registry::write_anchor`] ([`Registry::write_deferring_anchor`]).
    AfterCommit,
}

/// Receives the algorithm and duration of each signature the log key makes (a tree head at
/// commit, a checkpoint), for monitoring: see [`Registry::observe_log_signing`].
pub type LogSignObserver =
    Arc<dyn Fn(cairn_core::crypto::Algorithm, std::time::Duration) + Send + Sync>;

/// The database, opened for writing or read-only (a read-only open never writes to the file,
/// so it works on a read-only medium or with read-only permissions).
pub(crate) enum Db {
    /// Opened for reading and writing (an exclusive lock on the file).
    ReadWrite(Database),
    /// Opened read-only: every write fails with `read_only`.
    ReadOnly(ReadOnlyDatabase),
    /// Closed (only while the registry is being dropped).
    Closed,
}

impl Drop for Registry {
    /// Closes the database under the panic guard: closing a read-write database writes redb's
    /// allocator state, which panics rather than errs on some damaged files.
    fn drop(&mut self) {
        let db = std::mem::replace(&mut self.db, Db::Closed);
        let _ = guard(|| {
            drop(db);
            Ok(())
        });
    }
}

impl Db {
    pub(crate) fn begin_read(&self) -> StoreResult<ReadTransaction> {
        Ok(match self {
            Db::ReadWrite(db) => db.begin_read()?,
            Db::ReadOnly(db) => db.begin_read()?,
            Db::Closed => return Err(closed()),
        })
    }

    pub(crate) fn begin_write(&self) -> StoreResult<WriteTransaction> {
        match self {
            Db::ReadWrite(db) => Ok(db.begin_write()?),
            Db::ReadOnly(_) => Err(StoreError::new(
                StoreCode::ReadOnly,
                "the registry was opened read-only",
            )),
            Db::Closed => Err(closed()),
        }
    }
}

fn closed() -> StoreError {
    StoreError::new(StoreCode::Database, "the registry is closed")
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

    /// True when the log key is unsealed and the file is open for writing.
    pub fn is_writable(&self) -> bool {
        matches!(self.db, Db::ReadWrite(_)) && self.writer_key().is_some()
    }

    /// True when the registry was opened with [`Registry::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        matches!(self.db, Db::ReadOnly(_))
    }

    /// The log keys signed heads are verified with.
    pub(crate) fn log_keys(&self) -> std::sync::MutexGuard<'_, LogKeys> {
        self.log_keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a head this process verified or signed, with its stored bytes.
    /// The proven subtree hashes, for writing.
    pub(crate) fn known_subtrees(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, crate::kernel::known::KnownSubtrees> {
        self.known.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The proven subtree hashes, for reading (readers do not wait for each other).
    pub(crate) fn known_subtrees_read(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, crate::kernel::known::KnownSubtrees> {
        self.known.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_head(&self, head: VerifiedHead, raw: Vec<u8>) {
        *self.head.lock().unwrap_or_else(|p| p.into_inner()) = (head, raw);
    }

    /// Whether each commit rewrites the rollback anchor `<registry file>.anchor` (on unless
    /// [`CreateOptions::anchor`](crate::CreateOptions::anchor) or
    /// [`Registry::set_anchor_writes`] turned it off).
    pub fn anchor_writes(&self) -> bool {
        self.anchor.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Turns the anchor writes of each commit on or off. Each write is one record of a few
    /// KiB written in place and one fsync: off saves that per commit, at the price of an
    /// anchor that lags behind and so catches only rollbacks to before its size. Opening
    /// always checks an anchor that exists.
    pub fn set_anchor_writes(&self, on: bool) {
        self.anchor.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// The signed head (size and root of the whole ledger) as last verified or written.
    pub fn signed_head(&self) -> VerifiedHead {
        self.head.lock().unwrap_or_else(|p| p.into_inner()).0
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
    /// One error is not "nothing": when the commit is durable but its rollback anchor cannot
    /// be written (the anchor's file system full or failing), `write` fails with `io` and a
    /// message that begins "the commit is durable": the writes are in the registry (do not
    /// make them again), the anchor stays owed, and the next write or
    /// [`Registry::write_anchor`] retries it (`cairn serve` answers such a write
    /// `500 not_anchored` with `details.committed: true`).
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
        let done = self.write_with(f, AnchorTiming::WithCommit)?;
        // Owed only when the record sent with the commit could not be written: retried here.
        self.write_anchor(done.anchor)?;
        Ok(done.value)
    }

    /// [`Registry::write`], except that the commit's rollback anchor is not written yet: it
    /// returns once the commit is durable, with the anchor it owes, and releases the writer
    /// lock, so the next transaction can run while [`Registry::write_anchor`] writes it. A
    /// group-commit writer uses this to keep the anchor's fsync off the path between
    /// commits; it should report the write only once the anchor is written, as
    /// [`Registry::write`] does.
    ///
    /// Until then the anchor lags behind the file, which an open accepts (the file extends
    /// it) and brings up to date; an anchor written after its commit is never ahead of the file.
    ///
    /// ```
    /// use cairn_store::{CreateOptions, NodeSpec, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let spec = NodeSpec::from_json(r#"{"id": "n1", "name": "N", "version": "1",
    ///     "provenance": {"source": "https://example.test/n1"}}"#)?;
    /// let done = reg.write_deferring_anchor(|tx| tx.register_node(&spec))?;
    /// reg.write_anchor(done.anchor)?;
    /// assert_eq!(done.value.spec.id, "n1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_deferring_anchor<T>(
        &self,
        f: impl FnOnce(&mut Txn<'_>) -> StoreResult<T>,
    ) -> StoreResult<Committed<T>> {
        self.write_with(f, AnchorTiming::AfterCommit)
    }

    /// One write transaction, its anchor written as `timing` says (kernel::anchor, "Written
    /// with the commit").
    fn write_with<T>(
        &self,
        f: impl FnOnce(&mut Txn<'_>) -> StoreResult<T>,
        timing: AnchorTiming,
    ) -> StoreResult<Committed<T>> {
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let log_key = writer.clone().ok_or_else(|| {
            StoreError::new(
                StoreCode::PassphraseRequired,
                "the log key is sealed: open the registry with its passphrase to write",
            )
        })?;
        let anchoring = self.anchor_writes();
        let before = self.signed_head();
        // Whether anchor writes are on or not: a record left ahead of a failed commit would
        // refuse the file once it grows past it.
        self.anchors.repair(&self.path, || {
            let raw = self
                .head
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .1
                .clone();
            Ok(crate::kernel::anchor::Anchor::of(
                &before,
                crate::kernel::anchor::head_note(&raw)?,
            ))
        })?;
        let (out, new_key, head, sent) = guard(|| {
            let tx = self.db.begin_write()?;
            let mut txn = Txn::new(self, tx, log_key)?;
            let out = f(&mut txn)?;
            let new_key = txn.log_key_changed.then(|| txn.log_key.clone());
            if let Some(k) = &new_key {
                // Before the commit: a reader whose snapshot begins after it, before the
                // current key is replaced below, finds the new head's key.
                self.log_keys().rotating_to(k.public_key().clone());
            }
            let head = txn.seal()?;
            // Sent ahead only from the head this registry last verified or wrote, which the
            // record names as the one the file holds until the commit is durable.
            let ahead = match (&head, timing) {
                (Some((h, _, note)), AnchorTiming::WithCommit)
                    if anchoring && txn.start_size == before.size =>
                {
                    let mut anchor = crate::kernel::anchor::Anchor::of(h, note.clone());
                    let confirmed = anchor.clone();
                    if (before.size, before.root) != (h.size, h.root) {
                        anchor.before = Some((before.size, before.root));
                    }
                    self.anchors
                        .send_ahead(&self.path, anchor)
                        .map(|flight| (flight, confirmed))
                }
                _ => None,
            };
            #[cfg(not(test))]
            let committed = txn.tx.commit();
            #[cfg(test)]
            let committed = match fail_next_commit::take() {
                // Aborted (the transaction dropped), as a commit that failed leaves the file.
                true => Err(redb::CommitError::Storage(redb::StorageError::Io(
                    std::io::Error::other("a commit failure injected by a test"),
                ))),
                false => txn.tx.commit(),
            };
            let sent = ahead.map(|(flight, confirmed)| {
                let written = flight.wait();
                self.anchors
                    .committed(&self.path, committed.is_ok().then_some(confirmed));
                written.is_ok()
            });
            committed?;
            Ok((out, new_key, head, sent))
        })?;
        if let Some(k) = new_key {
            // A rotation always signs a new head (`seal`); were there none, the old key would
            // still have signed the file's current head, of `before.size` entries.
            let first = head
                .as_ref()
                .map_or(before.size.saturating_add(1), |(h, _, _)| h.size);
            self.log_keys().rotated(k.public_key().clone(), first);
            *writer = Some(k);
        }
        let mut anchor = crate::kernel::anchor::AnchorDue::NONE;
        if let Some((h, raw, note)) = head {
            self.set_head(h, raw);
            // After the commit: a crash before the anchor is written leaves it behind the
            // file, which the next open accepts (the file extends it) and brings up to date.
            if anchoring && sent != Some(true) {
                anchor = self.anchors.owe(h, note);
            }
        }
        drop(writer);
        Ok(Committed { value: out, anchor })
    }

    /// Returns once the anchor's background writes are on disk: the confirmation that
    /// [`Registry::write`] leaves to follow its commit (docs/STORE.md, "The rollback
    /// anchor"). Dropping the registry waits for them too.
    ///
    /// ```
    /// use cairn_store::{Anchor, CreateOptions, NodeSpec, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("r.redb");
    /// let reg = Registry::create(&path, CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let spec = NodeSpec::from_json(r#"{"id": "n1", "name": "N", "version": "1",
    ///     "provenance": {"source": "https://example.test/n1"}}"#)?;
    /// reg.register_node(&spec)?;
    /// reg.settle_anchor();
    /// let anchor = Anchor::read_beside(&path)?.ok_or("no anchor")?;
    /// assert_eq!((anchor.size, anchor.before), (reg.tree_size()?, None));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn settle_anchor(&self) {
        self.anchors.wait_idle();
    }

    /// Writes the anchor a commit owes ([`Registry::write_deferring_anchor`]), unless a newer
    /// commit's anchor, which covers it, is written already; returns once it is on disk. A
    /// write that fails leaves the anchor owed, for the next call to retry.
    pub fn write_anchor(&self, due: crate::kernel::anchor::AnchorDue) -> StoreResult<()> {
        self.anchors.settle(&self.path, due)
    }

    /// A read transaction: a consistent snapshot that never blocks the writer. Public reads
    /// go through [`Registry::read`].
    pub(crate) fn read_tx(&self) -> StoreResult<ReadTransaction> {
        self.db.begin_read()
    }

    /// Runs `f` on one read snapshot, with damage turned into errors (see [`guard`]).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(ReadTransaction) -> StoreResult<T>,
    ) -> StoreResult<T> {
        guard(|| f(self.read_tx()?))
    }

    /// Sets the function told the algorithm and duration of every signature the log key makes
    /// from now on (one tree head per commit, and each checkpoint): how a service reports
    /// signing latency. One observer per registry: `false` if one was set already.
    pub fn observe_log_signing(&self, observer: LogSignObserver) -> bool {
        self.on_log_sign.set(observer).is_ok()
    }

    /// The number of ledger entries (= leaves of the Merkle tree).
    pub fn tree_size(&self) -> StoreResult<u64> {
        self.read(|rtx| crate::kernel::entries::tree_size(&rtx.open_table(schema::ENTRIES)?))
    }
}

/// The log keys of the signed heads this process may meet in a snapshot.
///
/// A snapshot's head is signed by the log key its own snapshot names. A registry open for
/// writing is the file's only writer, so that key is one this process holds or held: the
/// current one, one it rotated from (a reader whose snapshot began before the rotation's
/// commit), or one it is rotating to (a reader whose snapshot began after that commit, before
/// the current key was replaced). Verifying every head with the current key alone refused those
/// two as `corrupt`. A key rotated from is taken only for heads of trees smaller than the first
/// head its successor signed, where it signed them: a rotated (perhaps leaked) key vouches for
/// nothing newer. A key named by a snapshot and held by nobody here is still `corrupt`: the
/// file's own key records are not trusted over what this process wrote.
#[derive(Debug)]
pub(crate) struct LogKeys {
    current: (KeyId, PublicKey),
    /// Keys rotated from, with the tree size of their successor's first head (heads of smaller
    /// trees only), and keys being rotated to (`None`): one per rotation this process made,
    /// plus one per rotation whose commit failed, so a handful.
    others: Vec<(KeyId, PublicKey, Option<u64>)>,
}

impl LogKeys {
    pub(crate) fn new(current: PublicKey) -> LogKeys {
        LogKeys {
            current: (current.key_id(), current),
            others: Vec::new(),
        }
    }

    /// The key with id `id` for a head of a tree of `size` entries, if this process holds or
    /// held it as its log key for such a head.
    pub(crate) fn named(&self, id: &KeyId, size: u64) -> Option<&PublicKey> {
        if self.current.0 == *id {
            return Some(&self.current.1);
        }
        self.others
            .iter()
            .find(|(k, _, until)| k == id && until.is_none_or(|u| size < u))
            .map(|(_, key, _)| key)
    }

    /// The id of the newest head's key.
    pub(crate) fn current_id(&self) -> KeyId {
        self.current.0
    }

    /// A commit is about to make `next` the log key.
    pub(crate) fn rotating_to(&mut self, next: PublicKey) {
        let id = next.key_id();
        if id != self.current.0 && !self.others.iter().any(|(k, _, _)| *k == id) {
            self.others.push((id, next, None));
        }
    }

    /// A commit made `next` the log key; its first head is of a tree of `size` entries.
    pub(crate) fn rotated(&mut self, next: PublicKey, size: u64) {
        let (id, previous) = std::mem::replace(&mut self.current, (next.key_id(), next));
        let current = self.current.0;
        self.others.retain(|(k, _, _)| *k != current && *k != id);
        self.others.push((id, previous, Some(size)));
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
    /// Tree size when the transaction began.
    start_size: u64,
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
            start_size: head.next_seq,
            head,
            now: reg.now(),
            log_key,
            log_key_changed: false,
        })
    }

    /// Commits: when entries were appended (or the log key changed), first signs the new
    /// tree head with the log key and stores it (one signature per commit, however many
    /// entries it holds). Returns the new head, if any.
    pub(crate) fn commit(self) -> StoreResult<Option<(VerifiedHead, Vec<u8>)>> {
        let head = self.seal()?.map(|(head, raw, _)| (head, raw));
        self.tx.commit()?;
        Ok(head)
    }

    /// The work of [`Txn::commit`] before redb's: signs and stores the new head, if any.
    /// Returns the head, its stored record and its signed note.
    fn seal(&self) -> StoreResult<Option<(VerifiedHead, Vec<u8>, String)>> {
        let mut head = None;
        if self.head.next_seq != self.start_size || self.log_key_changed {
            let size = self.head.next_seq;
            let root =
                crate::kernel::entries::root_at(&self.tx.open_table(schema::TREE)?, size, size)?;
            let key_id = self.log_key_id();
            // A checkpoint this transaction published at this size is the head already.
            let published = self
                .tx
                .get_record::<u64, CheckpointRecord>(schema::CHECKPOINTS, size, "checkpoint")?
                .filter(|rec| rec.key_id == key_id);
            let note = match published {
                Some(rec) => rec.note,
                None => self.sign_head_note(size, &root)?,
            };
            let rec = schema::encode(&schema::HeadRecord {
                note: note.clone(),
                key_id,
            });
            self.tx
                .open_table(schema::META)?
                .insert(schema::META_HEAD, rec.as_slice())?;
            head = Some((VerifiedHead { size, root }, rec, note));
        }
        Ok(head)
    }

    /// Signs the note of the tree head (size, root) with the log key, and tells the registry's
    /// observer how long the signature took.
    pub(crate) fn sign_head_note(&self, size: u64, root: &Digest) -> StoreResult<String> {
        let origin = self.reg.origin();
        let revocations = crate::kernel::revmap::current_ref(&self.tx, size)?;
        self.sign_head_body(
            &cairn_core::checkpoint::Checkpoint::new(origin, size, *root)
                .with_revocations(revocations),
        )
    }

    /// Signs a checkpoint body (with its extension lines) with the log key, reporting the
    /// signature's latency to the registry's observer.
    pub(crate) fn sign_head_body(
        &self,
        body: &cairn_core::checkpoint::Checkpoint,
    ) -> StoreResult<String> {
        let started = std::time::Instant::now();
        let note = crate::kernel::head::sign_body(self.reg.origin(), body, &self.log_key)?;
        if let Some(f) = self.reg.on_log_sign.get() {
            f(self.log_key.public_key().algorithm(), started.elapsed());
        }
        Ok(note)
    }

    /// The log key as the rule book sees it: `None` before entry 0.
    pub(crate) fn ledger_log_key(&self) -> Option<KeyId> {
        (self.head.next_seq > 0).then(|| self.log_key_id())
    }

    /// The registry this transaction writes to.
    pub fn registry(&self) -> &Registry {
        self.reg
    }

    /// The time stamped on this transaction's entries.
    pub fn now(&self) -> UnixTime {
        self.now.max(self.head.last_time)
    }

    /// Uses `at`, an earlier reading of the registry clock, as this transaction's time
    /// instead of the reading taken when it began. A group commit that runs a batch again
    /// after refusing one of its operations gives every pass one reading, so the operations
    /// it runs again meet the same clock (a key's expiry, a request's lifetime) and reach the
    /// same verdicts. Never later than the reading the transaction began with (a later `at`
    /// is taken as that reading), and [`Txn::now`] still never goes before the last entry's
    /// time.
    ///
    /// ```
    /// use cairn_store::{CreateOptions, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let seen = reg.write(|tx| {
    ///     tx.set_time(u64::MAX);
    ///     Ok(tx.now())
    /// })?;
    /// assert!(seen <= reg.now());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_time(&mut self, at: UnixTime) {
        self.now = at.min(self.now);
    }

    /// The key id of the log key signing this transaction's entries.
    pub fn log_key_id(&self) -> KeyId {
        self.log_key.public_key().key_id()
    }

    /// Stores one ledger entry after `check` allowed it (callers go through `Txn::append`,
    /// which asks the rule book): the entry is signed by `consents` only (their consent, e.g.
    /// both keys of a rotation; the log key signs the tree head at commit, not entries),
    /// stored, and its leaf added to the Merkle tree. Returns the entry's sequence number.
    pub(crate) fn append_raw(
        &mut self,
        event: Event,
        consents: &[&SigningKey],
        check: impl FnOnce(&Self, &LedgerEntry, &cairn_core::dsse::Envelope) -> StoreResult<()>,
    ) -> StoreResult<u64> {
        let time = self.now();
        let entry: LedgerEntry = self.head.next_entry(time, event);
        let seq = entry.seq;
        let mut env = entry
            .to_envelope()
            .map_err(|e| StoreError::from(e).at_seq(seq))?;
        for k in consents {
            let id = k.public_key().key_id();
            if !env.signatures.iter().any(|s| s.keyid == id) {
                env.sign(k)?;
            }
        }
        check(self, &entry, &env).map_err(|e| e.at_seq(seq))?;
        // A revocation enters the revocation map in its own commit.
        crate::kernel::revmap::record(&self.tx, seq, &entry.event, seq)?;
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

/// Tests make the next commit on their thread fail after its anchor record was sent ahead.
#[cfg(test)]
pub(crate) mod fail_next_commit {
    use std::cell::Cell;

    thread_local! {
        static NEXT: Cell<bool> = const { Cell::new(false) };
    }

    /// The next commit on this thread fails (its transaction is dropped, nothing committed).
    pub(crate) fn arm() {
        NEXT.with(|n| n.set(true));
    }

    pub(super) fn take() -> bool {
        NEXT.with(|n| n.replace(false))
    }
}
