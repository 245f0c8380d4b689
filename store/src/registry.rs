//! The `Registry` front: creating and opening the file (the checks an open makes), unlocking
//! the log key. The handle itself and its write path are the kernel's (`kernel::db`).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use redb::Database;

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::fsio;
use crate::kernel::anchor;
use crate::kernel::db::{guard, system_clock, Clock, Db, Registry, Txn};
use crate::kernel::head::VerifiedHead;
use crate::kernel::schema::{self, RegistryMeta, META, META_LOG_KEY, META_REGISTRY, META_SCHEMA};
use crate::objects::keys::KeySpec;
use crate::objects::seal::{Passphrase, Protection};
use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::trust::{Role, RoleSet};

/// Largest origin accepted (the checkpoint origin line).
pub const MAX_ORIGIN_LEN: usize = 256;

/// How to create a registry.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// The log's origin: the first line of every checkpoint (e.g. `registry.example.org/log`).
    pub origin: String,
    /// Algorithm of the log key that signs every checkpoint and each commit's tree head (hybrid
    /// by default).
    pub log_algorithm: Algorithm,
    /// How the log key is sealed at rest.
    pub protection: Protection,
    /// Whether every commit records the new signed head in the rollback anchor
    /// `<registry file>.anchor` (default on; see [`Registry::reset_anchor`]). Each commit then
    /// costs one more record written in place and its fsync. It holds for the handle
    /// [`Registry::create`] returns: every later open writes the anchor again (creating it if
    /// missing), unless that handle turns it off with [`Registry::set_anchor_writes`].
    pub anchor: bool,
}

impl CreateOptions {
    /// A registry named `origin` whose log key is Ed25519 + ML-DSA-44, sealed as `protection`.
    pub fn new(origin: &str, protection: Protection) -> CreateOptions {
        CreateOptions {
            origin: origin.to_owned(),
            log_algorithm: Algorithm::Ed25519MlDsa44,
            protection,
            anchor: true,
        }
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
    /// entry 0 (the log key's `key_added`), the first checkpoint and the signed head.
    ///
    /// Creation is atomic: the registry is built under a temporary name in the same
    /// directory, committed durably, renamed into place and the directory fsynced. A crash at
    /// any point leaves either no registry file or a complete one; a temporary file a crash
    /// left behind is removed by the next successful creation.
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
        // The key first: an unusable algorithm must not leave a file (or a directory) behind.
        let log_key = Arc::new(SigningKey::try_generate(opts.log_algorithm)?);
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        fsio::create_dir_all_durable(dir)?;
        // Creations in one directory one at a time, among processes: two first runs at once
        // would otherwise both find no registry, and the second's rename would replace the
        // first's file (and its anchor) under a process still writing to it.
        let _creating = fsio::lock_dir(dir);
        if path.exists() && std::fs::metadata(path)?.len() > 0 {
            let reg_there = Registry::open_read_only(path);
            return Err(match reg_there {
                Ok(_) => StoreError::new(
                    StoreCode::AlreadyExists,
                    format!("{} already holds a cairn registry", path.display()),
                ),
                Err(e) if e.code() == StoreCode::Locked => e,
                Err(e) => StoreError::new(
                    StoreCode::AlreadyExists,
                    format!(
                        "{} exists and is not an empty file; refusing to overwrite it ({e})",
                        path.display()
                    ),
                ),
            });
        }
        let tmp = fsio::temp_path(path);
        // Owner-only from the start: the file will hold the registry's keys.
        fsio::create_private(&tmp)?;
        let built = Registry::build(&tmp, &opts, log_key.clone());
        let (head, head_raw) = match built {
            Ok(head) => head,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        // A new registry replaces whatever anchor an earlier file at this path left. The anchor
        // goes first: a crash before the registry's rename leaves no registry (and an anchor
        // the next creation replaces), a crash after it a complete registry with its anchor.
        let anchored = if opts.anchor {
            anchor::head_note(&head_raw).and_then(|note| anchor::write(path, &head, &note))
        } else {
            match std::fs::remove_file(anchor::anchor_path(path)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            }
        };
        if let Err(e) = anchored.and_then(|()| Ok(fsio::rename_durable(&tmp, path)?)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let db = Database::builder()
            .open(path)
            .map_err(|e| not_a_database(e, path))?;
        Ok(Registry {
            db: Db::ReadWrite(db),
            path: path.to_path_buf(),
            origin: opts.origin,
            clock: Arc::new(system_clock),
            head: Mutex::new((head, head_raw)),
            log_keys: Mutex::new(crate::kernel::db::LogKeys::new(
                log_key.public_key().clone(),
            )),
            writer: Mutex::new(Some(log_key)),
            anchor: AtomicBool::new(opts.anchor),
            known: Default::default(),
            on_log_sign: Default::default(),
            anchors: Default::default(),
            token_memo: Default::default(),
            open_keys: Default::default(),
        })
    }

    /// Writes a complete new registry into the file `tmp` (one durable commit) and closes it.
    fn build(
        tmp: &Path,
        opts: &CreateOptions,
        log_key: Arc<SigningKey>,
    ) -> StoreResult<(VerifiedHead, Vec<u8>)> {
        let db = Database::builder().create(tmp)?;
        let clock: Clock = Arc::new(system_clock);
        let now = clock();
        let reg = Registry {
            db: Db::ReadWrite(db),
            path: tmp.to_path_buf(),
            origin: opts.origin.clone(),
            writer: Mutex::new(Some(log_key.clone())),
            clock,
            head: Mutex::new((
                VerifiedHead {
                    size: 0,
                    root: cairn_core::merkle::EMPTY_ROOT,
                },
                Vec::new(),
            )),
            log_keys: Mutex::new(crate::kernel::db::LogKeys::new(
                log_key.public_key().clone(),
            )),
            anchor: AtomicBool::new(false),
            known: Default::default(),
            on_log_sign: Default::default(),
            anchors: Default::default(),
            token_memo: Default::default(),
            open_keys: Default::default(),
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
        let head = txn
            .commit()?
            .ok_or_else(|| StoreError::corrupt("no head was signed"))?;
        drop(reg);
        Ok(head)
    }

    /// Opens an existing registry for reading and writing. With `passphrase` (or when the log
    /// key was created insecure) the registry can write; without, it can read, prove and
    /// audit, and every write fails with `passphrase_required`.
    ///
    /// Opening is flat, O(log n) whatever the file's size ([`Registry::open_read_only`] makes
    /// the same checks without writing): the schema record (`schema_too_new` for a newer one,
    /// `migration_required` for schema 1), then the signed head — its signature by the log key,
    /// that the ledger holds exactly the entries it covers, that its root equals the stored
    /// tree's, that the newest entry is the tree's last leaf — and the newest checkpoint. Any
    /// mismatch is an error that says what is wrong; the file is never modified or reset to
    /// make it open. A normal open does not read every page: damage elsewhere is found by the
    /// read that touches it, by [`Registry::audit`] or by [`Registry::check`]. When redb finds
    /// that the file was not closed cleanly, the open runs the full page check first.
    pub fn open(path: impl AsRef<Path>, passphrase: Option<&Passphrase>) -> StoreResult<Registry> {
        let path = path.as_ref();
        exists(path)?;
        guard(|| {
            let repaired = Arc::new(AtomicBool::new(false));
            let flag = repaired.clone();
            let mut db = Database::builder()
                .set_repair_callback(move |_| flag.store(true, Ordering::SeqCst))
                .open(path)
                .map_err(|e| not_a_database(e, path))?;
            if repaired.load(Ordering::SeqCst) {
                // Not closed cleanly: check every page before trusting anything in the file.
                db.check_integrity().map_err(|e| {
                    StoreError::from(e)
                        .context("the file was not closed cleanly and its page check failed")
                })?;
            }
            Registry::finish_open(Db::ReadWrite(db), path, passphrase, AnchorCheck::Check)
        })
    }

    /// Opens an existing registry read-only: nothing is ever written to the file (no commit,
    /// no fsync), so it works on a read-only medium, with read-only permissions, and beside
    /// other readers. It makes the same checks as [`Registry::open`]; every write fails with
    /// `read_only`. A file that was not closed cleanly needs one read-write open (or
    /// `cairn check`) to recover first.
    ///
    /// ```
    /// use cairn_store::{CreateOptions, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("registry.redb");
    /// drop(Registry::create(&path, CreateOptions::new("example.test/log", Protection::Insecure))?);
    /// let reg = Registry::open_read_only(&path)?;
    /// assert_eq!(reg.tree_size()?, 1);
    /// assert_eq!(reg.create_checkpoint().unwrap_err().code().as_str(), "read_only");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_read_only(path: impl AsRef<Path>) -> StoreResult<Registry> {
        let path = path.as_ref();
        exists(path)?;
        guard(|| {
            let db = Database::builder()
                .open_read_only(path)
                .map_err(|e| not_a_database(e, path))?;
            Registry::finish_open(Db::ReadOnly(db), path, None, AnchorCheck::Check)
        })
    }

    /// Records the registry file's current signed head in its rollback anchor
    /// (`<registry file>.anchor`), replacing whatever the anchor said: the recovery after a
    /// genuine restore from a backup, which opening refuses with `rolled_back` because the
    /// restored file is older than the anchor. It makes every check of a read-only open except
    /// the anchor's, and writes only the anchor file.
    ///
    /// Run it only when the older file is the one you mean to keep: whatever the newer file
    /// recorded after the backup (revocations included) is lost with it, and should be
    /// recorded again.
    ///
    /// ```
    /// use cairn_core::crypto::Algorithm;
    /// use cairn_core::trust::{Role, RoleSet};
    /// use cairn_store::{CreateOptions, KeySpec, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("registry.redb");
    /// drop(Registry::create(&path, CreateOptions::new("example.test/log", Protection::Insecure))?);
    /// std::fs::copy(&path, dir.path().join("backup.redb"))?;
    /// let spec = KeySpec::new("peer", RoleSet::of(&[Role::Peer]));
    /// Registry::open(&path, None)?.generate_key(Algorithm::Ed25519, &spec, &Protection::Insecure)?;
    /// std::fs::copy(dir.path().join("backup.redb"), &path)?;
    /// assert_eq!(Registry::open(&path, None).unwrap_err().code().as_str(), "rolled_back");
    /// let head = Registry::reset_anchor(&path)?;
    /// assert_eq!(Registry::open(&path, None)?.signed_head(), head);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reset_anchor(path: impl AsRef<Path>) -> StoreResult<VerifiedHead> {
        let path = path.as_ref();
        exists(path)?;
        let reg = guard(|| {
            let db = Database::builder()
                .open_read_only(path)
                .map_err(|e| not_a_database(e, path))?;
            Registry::finish_open(Db::ReadOnly(db), path, None, AnchorCheck::Skip)
        })?;
        let (head, raw) = reg.head.lock().unwrap_or_else(|p| p.into_inner()).clone();
        drop(reg);
        anchor::write(path, &head, &anchor::head_note(&raw)?)?;
        Ok(head)
    }

    /// The checks every open makes (see [`Registry::open`]).
    fn finish_open(
        db: Db,
        path: &Path,
        passphrase: Option<&Passphrase>,
        anchor_check: AnchorCheck,
    ) -> StoreResult<Registry> {
        let rtx = db.begin_read()?;
        let meta = match rtx.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => {
                return Err(not_a_registry(path, "it has no cairn tables"))
            }
            Err(e) => return Err(e.into()),
        };
        let schema_version = schema::read_schema(&meta)?
            .ok_or_else(|| not_a_registry(path, "it has no cairn schema record"))?;
        schema::check_schema(schema_version)?;
        let rm: RegistryMeta = match meta.get(META_REGISTRY)? {
            Some(v) => schema::decode(v.value(), "registry record")?,
            None => return Err(StoreError::corrupt("the registry record is missing")),
        };
        let log_id = schema::read_log_key_id(&meta)?;
        drop(meta);
        let log_record = crate::objects::keys::load_key(&rtx, &log_id)?.ok_or_else(|| {
            StoreError::corrupt(format!("the log key {log_id} is not in the key table"))
        })?;
        // The file is checked before the log key is unsealed: unsealing runs the key
        // derivation its record names (up to 4 GiB of memory), which a damaged file should
        // not get to ask for before its damage is reported.
        let head = crate::integrity::verify::verify_on_open(&rtx, &rm.origin, &log_record)?;
        let head_raw = rtx
            .open_table(META)?
            .get(schema::META_HEAD)?
            .map(|v| v.value().to_vec())
            .unwrap_or_default();
        if matches!(db, Db::ReadWrite(_)) {
            crate::kernel::head::check_revocation_map(&rtx)?;
        }
        let stale = match anchor_check {
            AnchorCheck::Check => anchor::check(&rtx, path, &head)?,
            AnchorCheck::Skip => false,
        };
        drop(rtx);
        let log_key = match log_record.unseal(passphrase) {
            Ok(k) => Some(Arc::new(k)),
            Err(e) if e.code() == StoreCode::PassphraseRequired => None,
            Err(e) => return Err(e),
        };
        // A missing or lagging anchor catches up on a read-write open; a read-only open never
        // writes anything.
        if stale && matches!(db, Db::ReadWrite(_)) {
            anchor::write(path, &head, &anchor::head_note(&head_raw)?)?;
        }
        Ok(Registry {
            db,
            path: path.to_path_buf(),
            origin: rm.origin,
            writer: Mutex::new(log_key),
            clock: Arc::new(system_clock),
            head: Mutex::new((head, head_raw)),
            log_keys: Mutex::new(crate::kernel::db::LogKeys::new(
                log_record.public_key.clone(),
            )),
            anchor: AtomicBool::new(true),
            known: Default::default(),
            on_log_sign: Default::default(),
            anchors: Default::default(),
            token_memo: Default::default(),
            open_keys: Default::default(),
        })
    }

    /// The full check: redb's page-by-page integrity check (every page checksum of every
    /// table), then the checks of an open. It reads the whole file; [`Registry::audit`] is the
    /// logical check of every entry and record. Needs the registry opened read-write.
    pub fn check(&mut self) -> StoreResult<VerifiedHead> {
        let Db::ReadWrite(db) = &mut self.db else {
            return Err(StoreError::new(
                StoreCode::ReadOnly,
                "the page check needs the registry opened read-write",
            ));
        };
        let intact = guard(|| Ok(db.check_integrity()?))?;
        if !intact {
            return Err(StoreError::corrupt(
                "the page check found damage and redb repaired its allocator state; run `cairn ledger audit` and restore from a backup if it fails",
            ));
        }
        let origin = self.origin.clone();
        let (head, raw) = self.read(|rtx| {
            let log_id = schema::read_log_key_id(&rtx.open_table(META)?)?;
            let log_record = crate::objects::keys::load_key(&rtx, &log_id)?.ok_or_else(|| {
                StoreError::corrupt(format!("the log key {log_id} is not in the key table"))
            })?;
            let head = crate::integrity::verify::verify_on_open(&rtx, &origin, &log_record)?;
            let raw = rtx
                .open_table(META)?
                .get(schema::META_HEAD)?
                .map(|v| v.value().to_vec())
                .unwrap_or_default();
            Ok((head, raw))
        })?;
        self.known_subtrees().clear();
        self.set_head(head, raw);
        Ok(head)
    }

    /// Opens the registry at `path`, creating it with `opts` if the file does not exist.
    /// The passphrase of `opts.protection` (if any) unseals the log key of an existing file.
    pub fn open_or_create(path: impl AsRef<Path>, opts: CreateOptions) -> StoreResult<Registry> {
        let path = path.as_ref();
        let pass = match &opts.protection {
            Protection::Passphrase(p, _) => Some(p.clone()),
            Protection::Insecure => None,
        };
        if path.exists() {
            return Registry::open(path, pass.as_ref());
        }
        match Registry::create(path, opts) {
            // Created meanwhile by another process: opened, as if it had been there.
            Err(e) if e.code() == StoreCode::AlreadyExists => Registry::open(path, pass.as_ref()),
            r => r,
        }
    }

    /// [`Registry::open_or_create`] at [`crate::default_path`].
    pub fn open_default(opts: CreateOptions) -> StoreResult<Registry> {
        Registry::open_or_create(crate::default_path()?, opts)
    }

    /// Unseals the log key of a registry opened without its passphrase.
    pub fn unlock(&self, passphrase: &Passphrase) -> StoreResult<()> {
        if self.is_read_only() {
            return Err(StoreError::new(
                StoreCode::ReadOnly,
                "the registry was opened read-only",
            ));
        }
        let rec = self.read(|rtx| {
            let id = schema::read_log_key_id(&rtx.open_table(META)?)?;
            crate::objects::keys::load_key(&rtx, &id)?.ok_or_else(|| {
                StoreError::corrupt(format!("the log key {id} is not in the key table"))
            })
        })?;
        let key = rec.unseal(Some(passphrase))?;
        *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(key));
        Ok(())
    }
}

/// Whether an open compares the file with its rollback anchor.
#[derive(Clone, Copy)]
enum AnchorCheck {
    Check,
    Skip,
}

fn exists(path: &Path) -> StoreResult<()> {
    if path.exists() {
        Ok(())
    } else {
        Err(StoreError::not_found(format!(
            "no registry at {}",
            path.display()
        )))
    }
}

/// A database that is not a cairn registry. Older versions created the file in place, so
/// an interrupted `cairn init` could leave such a file: say how to recover.
fn not_a_registry(path: &Path, why: &str) -> StoreError {
    StoreError::new(
        StoreCode::NotARegistry,
        format!(
            "{} is a database but not a cairn registry ({why}); if an interrupted `cairn init` left it, it holds nothing: delete it and run `cairn init` again",
            path.display()
        ),
    )
}

/// redb reports a file that is not a redb database at all as an I/O error of kind
/// `InvalidData`; that is a wrong file, not a failing disk, so it gets `not_a_registry`.
///
/// redb reports a commit slot whose file-format version byte is an older format's as
/// `UpgradeRequired`. A file genuinely written in another format has the same version in both
/// of its commit slots (file offsets 64 and 192); slots that disagree are damage (a flipped
/// bit), reported as `corrupt` rather than as a file from another version of cairn.
fn not_a_database(e: redb::DatabaseError, path: &Path) -> StoreError {
    let versions = commit_slot_versions(path);
    if let Some((a, b)) = versions {
        // Both slots agree on another format than this build's: a consistent file of that
        // format. Newer is a newer cairn's (its redb); older is no cairn's (every version
        // wrote this one).
        if a == b && a > REDB_FILE_FORMAT {
            return StoreError::new(
                StoreCode::SchemaTooNew,
                format!(
                    "{}: both commit slots give database file format {a}, newer than this build reads ({REDB_FILE_FORMAT}): written by a newer cairn; open it with that version",
                    path.display()
                ),
            );
        }
        if a == b && a < REDB_FILE_FORMAT && matches!(e, redb::DatabaseError::UpgradeRequired(_)) {
            return StoreError::new(
                StoreCode::NotARegistry,
                format!(
                    "{}: both commit slots give database file format {a}, older than any cairn wrote ({REDB_FILE_FORMAT}): not a cairn registry",
                    path.display()
                ),
            );
        }
    }
    if let redb::DatabaseError::UpgradeRequired(v) = &e {
        if let Some((a, b)) = versions.filter(|(a, b)| a != b) {
            return StoreError::corrupt(format!(
                "{}: the two commit slots disagree on the file format (version {a} at offset {SLOT_0}, {b} at offset {SLOT_1}): the file is damaged, not written by another version; restore it from a backup",
                path.display()
            ));
        }
        return StoreError::new(
            StoreCode::NotARegistry,
            format!(
                "{}: database file format {v}, which this build does not read: not a cairn registry",
                path.display()
            ),
        );
    }
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

/// The redb file format this build reads and writes (redb 4), which every cairn has written.
const REDB_FILE_FORMAT: u8 = 3;
/// File offsets of redb's two commit slots (the version byte is each slot's first byte).
const SLOT_0: usize = 64;
const SLOT_1: usize = 192;
/// redb's magic number, the file's first nine bytes.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// The version bytes of the two commit slots, if the file starts like a redb database.
fn commit_slot_versions(path: &Path) -> Option<(u8, u8)> {
    use std::io::Read;
    let mut head = [0u8; SLOT_1 + 1];
    std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    (head[..REDB_MAGIC.len()] == REDB_MAGIC).then_some((head[SLOT_0], head[SLOT_1]))
}
