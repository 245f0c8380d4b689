//! The `Registry` front: creating and opening the file (the checks an open makes), unlocking
//! the log key. The handle itself and its write path are the kernel's (`kernel::db`).

use std::path::Path;
use std::sync::{Arc, Mutex};

use redb::{Database, ReadableDatabase};

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::db::{system_clock, Clock, Registry, Txn};
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
        let log_record = crate::objects::keys::load_key(&rtx, &log_id)?.ok_or_else(|| {
            StoreError::corrupt(format!("the log key {log_id} is not in the key table"))
        })?;
        let log_key = match log_record.unseal(passphrase) {
            Ok(k) => Some(Arc::new(k)),
            Err(e) if e.code() == StoreCode::PassphraseRequired => None,
            Err(e) => return Err(e),
        };
        crate::integrity::verify::verify_on_open(&rtx, &rm.origin, &log_record)?;
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

    /// [`Registry::open_or_create`] at [`crate::default_path`].
    pub fn open_default(opts: CreateOptions) -> StoreResult<Registry> {
        Registry::open_or_create(crate::default_path()?, opts)
    }

    /// Unseals the log key of a registry opened without its passphrase.
    pub fn unlock(&self, passphrase: &Passphrase) -> StoreResult<()> {
        let rtx = self.read_tx()?;
        let id = schema::read_log_key_id(&rtx.open_table(META)?)?;
        let rec = crate::objects::keys::load_key(&rtx, &id)?.ok_or_else(|| {
            StoreError::corrupt(format!("the log key {id} is not in the key table"))
        })?;
        let key = rec.unseal(Some(passphrase))?;
        *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(key));
        Ok(())
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
