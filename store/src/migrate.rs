//! Schema migration: `cairn migrate` / [`Registry::migrate`].
//!
//! Schema 1 signed every ledger entry with the log key; schema 2 signs one tree head per
//! commit and keeps on each entry only the signatures of the keys whose consent its event
//! needs. The entry bytes — the Merkle leaves — are the same in both, so the tree and every
//! published checkpoint stay valid: migrating verifies the whole schema-1 ledger (each entry's
//! log-key signature, the hash chain and the rule book), strips the log key's signatures from
//! the entries that need no consent from it, signs the head with the log key, and records
//! schema 2, all in one transaction. A copy of the original file is kept beside it first.

use std::path::{Path, PathBuf};

use redb::{Database, Durability, ReadableDatabase, ReadableTable};

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::fsio;
use crate::integrity::verify::check_tree_size;
use crate::kernel::db::Registry;
use crate::kernel::entries::{decode_entry, root_at};
use crate::kernel::head::sign_note;
use crate::kernel::schema::{self, HeadRecord, RegistryMeta, ENTRIES, META, META_HEAD, TREE};
use crate::objects::keys::load_key;
use crate::objects::seal::Passphrase;
use cairn_core::dsse::Envelope;
use cairn_core::encoding::Digest;
use cairn_core::ledger::{required_consents, verify_entry, ChainVerifier, LedgerState};
use cairn_core::merkle::root_of;

/// What [`Registry::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The schema the file had.
    pub from: u32,
    /// The schema it has now.
    pub to: u32,
    /// Ledger entries verified and rewritten.
    pub entries: u64,
    /// Where the copy of the original file is (`None` when nothing needed migrating).
    pub backup: Option<PathBuf>,
}

/// The name of the copy kept before migrating from `from`.
pub fn backup_path(path: &Path, from: u32) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".schema{from}.bak"));
    path.with_file_name(name)
}

fn read_schema_of(db: &impl ReadableDatabase) -> StoreResult<u32> {
    let rtx = db.begin_read()?;
    let meta = rtx
        .open_table(META)
        .map_err(|_| StoreError::new(StoreCode::NotARegistry, "the file has no cairn tables"))?;
    schema::read_schema(&meta)?.ok_or_else(|| {
        StoreError::new(
            StoreCode::NotARegistry,
            "the file has no cairn schema record",
        )
    })
}

impl Registry {
    /// Upgrades the registry file at `path` to this build's schema (see the module docs).
    /// Needs the log key's passphrase (it signs the new head). A file already at this schema
    /// is left untouched. Refuses to overwrite an earlier backup (`already_exists`).
    ///
    /// After migrating, the file is opened and fully audited before this returns.
    pub fn migrate(
        path: impl AsRef<Path>,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<Migration> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(StoreError::not_found(format!(
                "no registry at {}",
                path.display()
            )));
        }
        let (from, passphrase_ok) = {
            let db = Database::builder().open_read_only(path)?;
            let from = read_schema_of(&db)?;
            // The passphrase first: a wrong one must not leave a backup behind.
            let rtx = db.begin_read()?;
            let log_id = schema::read_log_key_id(&rtx.open_table(META)?)?;
            let ok = match load_key(&rtx, &log_id)? {
                Some(rec) => rec.unseal(passphrase).map(|_| ()),
                None => Err(StoreError::corrupt(format!(
                    "the log key {log_id} is not in the key table"
                ))),
            };
            (from, ok)
        };
        match from {
            schema::SCHEMA_VERSION => {
                let reg = Registry::open_read_only(path)?;
                return Ok(Migration {
                    from,
                    to: from,
                    entries: reg.tree_size()?,
                    backup: None,
                });
            }
            1 => passphrase_ok?,
            v => schema::check_schema(v)?,
        }
        let backup = backup_path(path, from);
        if backup.exists() {
            return Err(StoreError::new(
                StoreCode::AlreadyExists,
                format!(
                    "{} exists (a copy from an earlier migration); move it away first",
                    backup.display()
                ),
            ));
        }
        fsio::write_private_with(&backup, |f| {
            std::io::copy(&mut std::fs::File::open(path)?, f).map(|_| ())
        })?;
        // The page check, once: a migration rewrites every entry and must start from a sound file.
        let db = Database::builder()
            .set_check_integrity_on_open(true)
            .open(path)?;
        let entries = migrate_1_to_2(&db, passphrase)?;
        drop(db);
        let reg = Registry::open(path, passphrase)?;
        reg.audit()?;
        Ok(Migration {
            from,
            to: schema::SCHEMA_VERSION,
            entries,
            backup: Some(backup),
        })
    }
}

/// Verifies a schema-1 ledger and rewrites it as schema 2 in one transaction.
fn migrate_1_to_2(db: &Database, passphrase: Option<&Passphrase>) -> StoreResult<u64> {
    let mut tx = db.begin_write()?;
    tx.set_durability(Durability::Immediate)
        .map_err(|e| StoreError::new(StoreCode::Database, e.to_string()))?;
    tx.set_two_phase_commit(true);
    let (origin, log_id) = {
        let meta = tx.open_table(META)?;
        let rm: RegistryMeta = match meta.get(schema::META_REGISTRY)? {
            Some(v) => schema::decode(v.value(), "registry record")?,
            None => return Err(StoreError::corrupt("the registry record is missing")),
        };
        (rm.origin, schema::read_log_key_id(&meta)?)
    };
    let log_record = load_key(&tx, &log_id)?.ok_or_else(|| {
        StoreError::corrupt(format!("the log key {log_id} is not in the key table"))
    })?;
    let log_key = log_record.unseal(passphrase)?;
    let mut state = LedgerState::new();
    let mut chain = ChainVerifier::new();
    let mut rewritten: Vec<(u64, Vec<u8>)> = Vec::new();
    // The leaves the entries give: the head is signed over their root, and the stored tree
    // must agree with them before the log key signs anything.
    let mut leaves: Vec<Digest> = Vec::new();
    {
        let table = tx.open_table(ENTRIES)?;
        let tree = tx.open_table(TREE)?;
        for (expected, row) in (0u64..).zip(table.iter()?) {
            let (k, v) = row?;
            let seq = k.value();
            if seq != expected {
                return Err(StoreError::core(
                    cairn_core::ErrorCode::ChainBroken,
                    format!("entry {expected} is missing"),
                )
                .at_seq(expected));
            }
            let stored = decode_entry(seq, v.value())?;
            let leaf = stored.leaf_hash();
            if tree.get((0, seq))?.map(|h| h.value()) != Some(leaf) {
                return Err(StoreError::corrupt(format!(
                    "the Merkle tree's leaf {seq} is not the hash of entry {seq}"
                ))
                .at_seq(seq));
            }
            leaves.push(leaf);
            // Schema 1: the log key of the entry's time signed it.
            let signer = match state.log_key_at(seq) {
                Some(id) => state.keys.get(&id).map(|k| k.public_key.clone()),
                None => match &stored.entry.event {
                    cairn_core::ledger::Event::KeyAdded { public_key, .. } => {
                        Some(public_key.clone())
                    }
                    _ => None,
                },
            }
            .ok_or_else(|| StoreError::corrupt("entry 0 does not add the log key").at_seq(seq))?;
            verify_entry(&stored.envelope, std::slice::from_ref(&signer), 1).map_err(|e| {
                StoreError::from(e)
                    .context("schema-1 log-key signature")
                    .at_seq(seq)
            })?;
            chain
                .push(&stored.entry)
                .map_err(|e| StoreError::from(e).at_seq(seq))?;
            state
                .apply(&stored.entry, &stored.envelope)
                .map_err(|e| StoreError::from(e).at_seq(seq))?;
            let keep = required_consents(&stored.entry.event);
            let env = Envelope {
                signatures: stored
                    .envelope
                    .signatures
                    .iter()
                    .filter(|s| keep.contains(&s.keyid))
                    .cloned()
                    .collect(),
                ..stored.envelope
            };
            rewritten.push((seq, env.to_compact()));
        }
    }
    let n = rewritten.len() as u64;
    {
        let mut table = tx.open_table(ENTRIES)?;
        for (seq, bytes) in &rewritten {
            table.insert(*seq, bytes.as_slice())?;
        }
    }
    let root = root_of(&leaves);
    {
        let tree = tx.open_table(TREE)?;
        check_tree_size(&tree, n)?;
        if root_at(&tree, n, n)? != root {
            return Err(StoreError::corrupt(format!(
                "the Merkle tree's root at size {n} is not the root of the {n} entries: its inner nodes were damaged or edited"
            )));
        }
    }
    let note = sign_note(&origin, n, &root, &log_key)?;
    {
        let mut meta = tx.open_table(META)?;
        let head = HeadRecord {
            note,
            key_id: log_id,
        };
        meta.insert(META_HEAD, schema::encode(&head).as_slice())?;
        meta.insert(
            schema::META_SCHEMA,
            schema::SCHEMA_VERSION.to_le_bytes().as_slice(),
        )?;
    }
    tx.commit()?;
    Ok(n)
}
