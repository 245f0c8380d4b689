//! [`Registry`]: opening and creating the file, the write path ([`Registry::write`] and
//! [`Txn`]) and the read path (one redb read transaction per call).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use redb::{Database, Durability, ReadTransaction, ReadableDatabase, WriteTransaction};

use super::error::{StoreCode, StoreError, StoreResult};
use super::keys::{KeyRecord, KeySpec};
use super::schema::{self, RegistryMeta, META, META_LOG_KEY, META_REGISTRY, META_SCHEMA};
use super::seal::{Passphrase, Protection};
use super::tree::TreeView;
use cairn_core::crypto::{Algorithm, KeyId, SigningKey};
use cairn_core::encoding::Digest;
use cairn_core::ledger::{ChainHead, Event, LedgerEntry};
use cairn_core::merkle;
use cairn_core::trust::{Role, RoleSet};
use cairn_core::UnixTime;

/// Largest origin accepted (the checkpoint origin line).
pub const MAX_ORIGIN_LEN: usize = 256;

/// A clock: returns the current Unix time in seconds.
pub type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

fn system_clock() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How to create a registry.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// The log's origin: the first line of every checkpoint (e.g. `registry.example.org/log`).
    pub origin: String,
    /// Algorithm of the log key that signs every entry and checkpoint (hybrid by default).
    pub log_algorithm: Algorithm,
    /// How the log key is sealed at rest.
    pub protection: Protection,
}

impl CreateOptions {
    /// A registry named `origin` whose log key is Ed25519 + ML-DSA-44, sealed as `protection`.
    pub fn new(origin: &str, protection: Protection) -> CreateOptions {
        CreateOptions {
            origin: origin.to_owned(),
            log_algorithm: Algorithm::Ed25519MlDsa44,
            protection,
        }
    }
}

/// The registry: keys, nodes, tokens, manifests, trust roots, and the signed ledger with its
/// Merkle tree and checkpoints, all in one redb file.
///
/// `Registry` is `Send + Sync`: share it across threads behind an `Arc`. Reads run on redb
/// read transactions (snapshots) and never wait for the writer; writes are serialised, and
/// each [`Registry::write`] call is one durable transaction.
pub struct Registry {
    pub(crate) db: Database,
    path: PathBuf,
    origin: String,
    /// The log's signing key, once unsealed. `None`: the registry is readable but a write
    /// fails with `passphrase_required`.
    writer: Mutex<Option<Arc<SigningKey>>>,
    clock: Clock,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("path", &self.path)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

fn check_origin(origin: &str) -> StoreResult<()> {
    let bad = origin.is_empty()
        || origin.len() > MAX_ORIGIN_LEN
        || origin.contains('+')
        || origin.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad {
        return Err(StoreError::field(
            cairn_core::ErrorCode::Malformed,
            "origin",
            format!(
                "{origin:?}: 1 to {MAX_ORIGIN_LEN} bytes, no spaces, control characters or '+'"
            ),
        ));
    }
    Ok(())
}

impl Registry {
    /// Creates a new registry file at `path` (parent directories included). Refuses a path
    /// that already holds a registry (`already_exists`) or any other non-empty file.
    ///
    /// Creation writes the schema record, the log key (sealed as `opts.protection`), ledger
    /// entry 0 (the log key's `key_added`, signed by itself) and the first checkpoint.
    ///
    /// ```
    /// use cairn_store::{CreateOptions, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("registry.redb");
    /// let reg = Registry::create(&path, CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// assert_eq!(reg.tree_size()?, 1);
    /// drop(reg);
    /// let reg = Registry::open(&path, None)?;
    /// assert_eq!(reg.origin(), "example.test/log");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(path: impl AsRef<Path>, opts: CreateOptions) -> StoreResult<Registry> {
        let path = path.as_ref();
        check_origin(&opts.origin)?;
        if path.exists() && std::fs::metadata(path)?.len() > 0 {
            let reg_there = Registry::open(path, None);
            return Err(match reg_there {
                Ok(_) => StoreError::new(
                    StoreCode::AlreadyExists,
                    format!("{} already holds a cairn registry", path.display()),
                ),
                Err(e) if e.code() == StoreCode::Locked => e,
                Err(_) => StoreError::new(
                    StoreCode::AlreadyExists,
                    format!(
                        "{} exists and is not an empty file; refusing to overwrite it",
                        path.display()
                    ),
                ),
            });
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        // The key first: an unusable algorithm must not leave an empty file behind.
        let log_key = Arc::new(SigningKey::try_generate(opts.log_algorithm)?);
        let db = Database::builder().create(path)?;
        let clock: Clock = Arc::new(system_clock);
        let now = clock();
        let reg = Registry {
            db,
            path: path.to_path_buf(),
            origin: opts.origin.clone(),
            writer: Mutex::new(Some(log_key.clone())),
            clock,
        };
        let tx = reg.db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            meta.insert(META_SCHEMA, schema::SCHEMA_VERSION.to_le_bytes().as_slice())?;
            let rm = RegistryMeta {
                origin: opts.origin.clone(),
                created_at: now,
            };
            meta.insert(META_REGISTRY, schema::encode(&rm).as_slice())?;
            meta.insert(META_LOG_KEY, log_key.public_key().key_id().0.as_slice())?;
        }
        schema::create_tables(&tx)?;
        let mut txn = Txn::new(&reg, tx, log_key)?;
        let spec = KeySpec::new("log", RoleSet::of(&[Role::Checkpoint]));
        txn.add_key_material(&txn.log_key.clone(), &spec, Some(&opts.protection))?;
        txn.create_checkpoint()?;
        txn.commit()?;
        Ok(reg)
    }

    /// Opens an existing registry. With `passphrase` (or when the log key was created
    /// insecure) the registry can write; without, it can read, prove and audit, and every
    /// write fails with `passphrase_required`.
    ///
    /// Opening checks the schema (`schema_too_new` for a newer one), then verifies the
    /// newest checkpoint's signature and that its root equals the stored tree's root at its
    /// size, and that the newest entry is signed and is the tree's last leaf. Any mismatch is
    /// an error that says what is wrong; the file is never modified or reset to make it open.
    pub fn open(path: impl AsRef<Path>, passphrase: Option<&Passphrase>) -> StoreResult<Registry> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(StoreError::not_found(format!(
                "no registry at {}",
                path.display()
            )));
        }
        // The integrity check verifies every page checksum before anything is read, so a file
        // damaged outside cairn is reported as `corrupt` instead of being trusted.
        let db = Database::builder()
            .set_check_integrity_on_open(true)
            .open(path)
            .map_err(|e| not_a_database(e, path))?;
        let rtx = db.begin_read()?;
        let meta = match rtx.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => {
                return Err(StoreError::new(
                    StoreCode::NotARegistry,
                    format!("{} is a database but not a cairn registry", path.display()),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let schema_version = schema::read_schema(&meta)?.ok_or_else(|| {
            StoreError::new(
                StoreCode::NotARegistry,
                format!("{} has no cairn schema record", path.display()),
            )
        })?;
        schema::check_schema(schema_version)?;
        let rm: RegistryMeta = match meta.get(META_REGISTRY)? {
            Some(v) => schema::decode(v.value(), "registry record")?,
            None => return Err(StoreError::corrupt("the registry record is missing")),
        };
        let log_id = schema::read_log_key_id(&meta)?;
        drop(meta);
        let log_record = super::keys::load_key(&rtx, &log_id)?.ok_or_else(|| {
            StoreError::corrupt(format!("the log key {log_id} is not in the key table"))
        })?;
        let log_key = match log_record.unseal(passphrase) {
            Ok(k) => Some(Arc::new(k)),
            Err(e) if e.code() == StoreCode::PassphraseRequired => None,
            Err(e) => return Err(e),
        };
        super::verify::verify_on_open(&rtx, &rm.origin, &log_record)?;
        drop(rtx);
        Ok(Registry {
            db,
            path: path.to_path_buf(),
            origin: rm.origin,
            writer: Mutex::new(log_key),
            clock: Arc::new(system_clock),
        })
    }

    /// Opens the registry at `path`, creating it with `opts` if the file does not exist.
    /// The passphrase of `opts.protection` (if any) unseals the log key of an existing file.
    pub fn open_or_create(path: impl AsRef<Path>, opts: CreateOptions) -> StoreResult<Registry> {
        let path = path.as_ref();
        if path.exists() {
            let pass = match &opts.protection {
                Protection::Passphrase(p, _) => Some(p),
                Protection::Insecure => None,
            };
            Registry::open(path, pass)
        } else {
            Registry::create(path, opts)
        }
    }

    /// [`Registry::open_or_create`] at [`super::default_path`].
    pub fn open_default(opts: CreateOptions) -> StoreResult<Registry> {
        Registry::open_or_create(super::default_path()?, opts)
    }

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

    fn writer_key(&self) -> Option<Arc<SigningKey>> {
        // A poisoned lock only means a writer panicked; the key inside is still valid.
        self.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Unseals the log key of a registry opened without its passphrase.
    pub fn unlock(&self, passphrase: &Passphrase) -> StoreResult<()> {
        let rtx = self.read_tx()?;
        let id = schema::read_log_key_id(&rtx.open_table(META)?)?;
        let rec = super::keys::load_key(&rtx, &id)?.ok_or_else(|| {
            StoreError::corrupt(format!("the log key {id} is not in the key table"))
        })?;
        let key = rec.unseal(Some(passphrase))?;
        *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(key));
        Ok(())
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
        super::log::tree_size(&rtx.open_table(schema::ENTRIES)?)
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
    fn new(
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
        let head = super::log::read_head(&tx.open_table(schema::ENTRIES)?)?;
        Ok(Txn {
            reg,
            tx,
            head,
            now: reg.now(),
            log_key,
            log_key_changed: false,
        })
    }

    fn commit(self) -> StoreResult<()> {
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

    /// Appends one ledger entry: signs it with the log key (and `cosigners`, whose
    /// signatures prove their consent, e.g. both keys of a rotation), stores it and adds its
    /// leaf to the Merkle tree. Returns the entry's sequence number.
    pub(crate) fn append(&mut self, event: Event, cosigners: &[&SigningKey]) -> StoreResult<u64> {
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
        // The rule book decides, over the state before this entry (see `rules`).
        let view = super::rules::TxnView {
            tx: &self.tx,
            has_entries: seq > 0,
        };
        cairn_core::ledger::check_entry(&view, &entry, &env).map_err(|e| e.at_seq(seq))?;
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

    /// Appends `event` as given, with the signatures of `consents`, after the ledger rule
    /// book's check, without touching any state table. It exists so that the rule book can be
    /// tested against the writer with entries the operations never build; an application
    /// that records an event this way leaves its records out of step with the ledger, which
    /// [`Registry::audit`] reports.
    #[doc(hidden)]
    pub fn append_event(&mut self, event: Event, consents: &[&SigningKey]) -> StoreResult<u64> {
        self.append(event, consents)
    }

    /// Reads a key record inside this transaction.
    pub(crate) fn key_record(&self, id: &KeyId) -> StoreResult<KeyRecord> {
        super::keys::load_key(&self.tx, id)?
            .ok_or_else(|| StoreError::not_found(format!("no key {id}")))
    }
}

/// redb reports a file that is not a redb database at all as an I/O error of kind
/// `InvalidData`; that is a wrong file, not a failing disk, so it gets `not_a_registry`.
fn not_a_database(e: redb::DatabaseError, path: &Path) -> StoreError {
    if let redb::DatabaseError::Storage(redb::StorageError::Io(io)) = &e {
        if io.kind() == std::io::ErrorKind::InvalidData {
            return StoreError::new(
                StoreCode::NotARegistry,
                format!("{} is not a cairn registry ({io})", path.display()),
            );
        }
    }
    StoreError::from(e)
}
