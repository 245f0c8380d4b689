//! Schema 1 -> 2: a registry file written by the schema-1 code (store/tests/fixtures/
//! schema1.redb: Ed25519 log key sealed with the passphrase "fixture-pass"; keys root,
//! release (revoked), issuer, holder; a signed manifest, a node, a token; 9 entries, a
//! checkpoint at 6) is refused until migrated, and migrates without losing anything.

use std::path::{Path, PathBuf};

use cairn_store::*;

fn fixture(dir: &Path) -> PathBuf {
    let p = dir.join("registry.redb");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema1.redb"),
        &p,
    )
    .unwrap();
    p
}

fn pass() -> Passphrase {
    Passphrase::new("fixture-pass")
}

#[test]
fn a_schema_1_file_is_refused_with_a_pointer_to_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let p = fixture(dir.path());
    let digest = |p: &Path| cairn_core::encoding::sha256(&[&std::fs::read(p).unwrap()]);
    let before = digest(&p);
    // A read-only open never writes.
    let e = Registry::open_read_only(&p).unwrap_err();
    assert_eq!(e.code(), StoreCode::MigrationRequired, "{e}");
    assert!(e.to_string().contains("cairn migrate"), "{e}");
    assert!(digest(&p) == before, "a read-only open changed the file");
    let e = Registry::open(&p, Some(&pass())).unwrap_err();
    assert_eq!(e.code(), StoreCode::MigrationRequired, "{e}");
}

#[test]
fn migration_keeps_every_entry_and_record_and_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let p = fixture(dir.path());
    let original = std::fs::read(&p).unwrap();

    // A wrong passphrase changes nothing and leaves no backup.
    let e = Registry::migrate(&p, Some(&Passphrase::new("wrong"))).unwrap_err();
    assert_eq!(e.code(), StoreCode::BadPassphrase);
    assert!(!backup_path(&p, 1).exists());
    assert!(std::fs::read(&p).unwrap() == original);

    let m = Registry::migrate(&p, Some(&pass())).unwrap();
    assert_eq!((m.from, m.to, m.entries), (1, 2, 9));
    let backup = m.backup.unwrap();
    assert_eq!(backup, backup_path(&p, 1));
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        original,
        "the backup is the original"
    );

    let reg = Registry::open(&p, Some(&pass())).unwrap();
    let report = reg.audit().unwrap();
    assert_eq!((report.entries, report.keys, report.nodes), (9, 5, 1));
    assert_eq!((report.tokens, report.manifests), (1, 1));
    // The published checkpoint at 6 still verifies: the entry bytes (leaves) are unchanged.
    let cp = reg.checkpoints().unwrap();
    assert_eq!(cp.iter().map(|c| c.size).collect::<Vec<_>>(), vec![1, 6]);
    assert_eq!(reg.root(6).unwrap(), cp[1].root);
    assert_eq!(reg.signed_head().size, 9);
    // Entries keep only consent signatures: the revocation keeps its revoker's, the others none.
    let entries = reg.entries(0, 9).unwrap();
    let signed: Vec<u64> = entries
        .iter()
        .filter(|e| !e.envelope.signatures.is_empty())
        .map(|e| e.entry.seq)
        .collect();
    assert_eq!(
        signed,
        vec![6],
        "only the key revocation carries a signature"
    );
    assert_eq!(reg.list_nodes().unwrap()[0].spec.id, "node-a");
    // Revocation-map proofs: none while the signed head states no map, as migrated, and still
    // none after a checkpoint, which builds the map without signing a new head (not
    // `corrupt`: the head claims nothing); the next write signs a head that states it.
    let (kind, revoked) = cairn_core::revocation::revoked_object(&entries[6].entry.event).unwrap();
    for checkpoint_first in [false, true] {
        if checkpoint_first {
            reg.create_checkpoint().unwrap();
        }
        assert_eq!(
            reg.revocation_proof(kind, &revoked).unwrap_err().code(),
            StoreCode::InvalidState
        );
    }
    // It writes as a schema-2 registry, and the export verifies.
    reg.write(|tx| {
        tx.append_event(
            cairn_core::ledger::Event::AuditNote {
                text: "after".into(),
            },
            &[],
        )
    })
    .unwrap();
    assert_eq!(
        reg.revocation_proof(kind, &revoked).unwrap().revoked_by,
        Some(6)
    );
    let mut stream = Vec::new();
    assert_eq!(reg.export_ledger(&mut stream).unwrap(), 10);
    verify_export(&stream[..], &ExportExpectation::default()).unwrap();
    drop(reg);
    Registry::open(&p, None).unwrap().audit().unwrap();

    // Migrating again does nothing; a leftover backup is never overwritten.
    let again = Registry::migrate(&p, Some(&pass())).unwrap();
    assert_eq!((again.from, again.to, again.backup), (2, 2, None));
    let p2 = dir.path().join("other.redb");
    std::fs::copy(&backup, &p2).unwrap();
    std::fs::write(backup_path(&p2, 1), b"earlier").unwrap();
    let e = Registry::migrate(&p2, Some(&pass())).unwrap_err();
    assert_eq!(e.code(), StoreCode::AlreadyExists);
}

#[test]
fn a_damaged_schema_1_ledger_is_not_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let p = fixture(dir.path());
    // Flip one byte of an entry's log-key signature (entry 4: the node registration).
    {
        let db = redb::Database::open(&p).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("entries");
            let mut t = tx.open_table(def).unwrap();
            let mut v = redb::ReadableTable::get(&t, 4u64)
                .unwrap()
                .unwrap()
                .value()
                .to_vec();
            let last = v.len() - 1;
            v[last] ^= 1;
            t.insert(4u64, v.as_slice()).unwrap();
        }
        tx.commit().unwrap();
    }
    let e = Registry::migrate(&p, Some(&pass())).unwrap_err();
    assert_eq!(e.seq(), Some(4), "{e}");
    assert_eq!(e.code().as_str(), "signature_invalid", "{e}");
    // Still schema 1, refused as such.
    assert_eq!(
        Registry::open(&p, Some(&pass())).unwrap_err().code(),
        StoreCode::MigrationRequired
    );
}

/// The stored Merkle tree is checked against the entries before the log key signs a head over
/// it: a damaged leaf or inner node is refused, nothing signed, the file left at schema 1.
#[test]
fn a_schema_1_tree_that_disagrees_with_its_entries_is_not_migrated() {
    // (level, index) of the stored hash damaged; the entry the error names, if one.
    for (node, seq) in [((0u8, 4u64), Some(4)), ((3, 0), None), ((0, 8), Some(8))] {
        let dir = tempfile::tempdir().unwrap();
        let p = fixture(dir.path());
        {
            let db = redb::Database::open(&p).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let def: redb::TableDefinition<(u8, u64), [u8; 32]> =
                    redb::TableDefinition::new("tree");
                let mut t = tx.open_table(def).unwrap();
                let mut h = redb::ReadableTable::get(&t, node)
                    .unwrap()
                    .unwrap_or_else(|| panic!("no stored hash at {node:?}"))
                    .value();
                h[0] ^= 1;
                t.insert(node, h).unwrap();
            }
            tx.commit().unwrap();
        }
        let e = Registry::migrate(&p, Some(&pass())).unwrap_err();
        assert_eq!(e.code(), StoreCode::Corrupt, "{node:?}: {e}");
        assert_eq!(e.seq(), seq, "{node:?}: {e}");
        assert_eq!(
            Registry::open(&p, Some(&pass())).unwrap_err().code(),
            StoreCode::MigrationRequired,
            "{node:?}: still schema 1"
        );
    }
}
