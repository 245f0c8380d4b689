//! The handle registry's store: handles under their blind index, identities kept as the
//! caller sealed them, every change a ledger entry carrying the blind index and the identity
//! digest (never the handle), verified reads, the audit against the replayed ledger, and a
//! restart that keeps everything.

use cairn_core::ledger::{Event, PreviousDigest};
use cairn_core::ErrorCode;
use cairn_store::{identity_digest, CreateOptions, Protection, Registry, StoreCode};
use redb::{Database, ReadableTable, TableDefinition};

const HANDLES: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("handles");

fn events(reg: &Registry) -> Vec<Event> {
    reg.entries(0, u64::MAX)
        .unwrap()
        .into_iter()
        .map(|e| e.entry.event)
        .collect()
}

#[test]
fn handles_register_reregister_remove_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.redb");
    let reg = Registry::create(
        &path,
        CreateOptions::new("handles.example.test/log", Protection::Insecure),
    )
    .unwrap();
    let (a, b) = ([0xa1; 32], [0xb2; 32]);
    let info = reg.register_handle(&a, b"sealed-1").unwrap();
    assert_eq!(info.identity_digest(), identity_digest(b"sealed-1"));
    reg.register_handle(&b, b"sealed-b").unwrap();
    assert_eq!(reg.handle_count().unwrap(), 2);

    // Taken: never overwritten, whatever the identity.
    let e = reg.register_handle(&a, b"sealed-2").unwrap_err();
    assert_eq!(e.code(), StoreCode::AlreadyExists);
    // A re-registration must name the identity it replaces.
    let wrong = identity_digest(b"not it");
    let e = reg.reregister_handle(&a, &wrong, b"sealed-2").unwrap_err();
    assert_eq!(e.code(), StoreCode::Core(ErrorCode::DigestMismatch));
    let e = reg
        .reregister_handle(&[9; 32], &wrong, b"sealed-2")
        .unwrap_err();
    assert_eq!(e.code(), StoreCode::NotFound);
    let old = info.identity_digest();
    let again = reg.reregister_handle(&a, &old, b"sealed-2").unwrap();
    assert_eq!(reg.handle(&a).unwrap().unwrap(), again);

    // Bounds: empty and oversized sealed identities are refused before any entry.
    let size = reg.tree_size().unwrap();
    assert_eq!(
        reg.register_handle(&[3; 32], b"").unwrap_err().code(),
        StoreCode::Core(ErrorCode::Malformed)
    );
    let big = vec![0u8; cairn_store::MAX_SEALED_IDENTITY_LEN + 1];
    assert_eq!(
        reg.register_handle(&[3; 32], &big).unwrap_err().code(),
        StoreCode::Core(ErrorCode::TooLarge)
    );
    assert_eq!(reg.tree_size().unwrap(), size);

    let removed = reg.remove_handle(&b, "owner asked").unwrap();
    assert!(reg.handle(&b).unwrap().is_none());
    assert_eq!(
        reg.remove_handle(&b, "").unwrap_err().code(),
        StoreCode::NotFound
    );

    // The ledger holds blind indexes and digests only.
    let evs = events(&reg);
    let handle_events: Vec<&Event> = evs
        .iter()
        .filter(|e| e.kind().starts_with("handle_"))
        .collect();
    assert_eq!(
        handle_events,
        vec![
            &Event::HandleRegistered {
                blind_index: a,
                identity_digest: old,
                previous: None
            },
            &Event::HandleRegistered {
                blind_index: b,
                identity_digest: identity_digest(b"sealed-b"),
                previous: None
            },
            &Event::HandleRegistered {
                blind_index: a,
                identity_digest: identity_digest(b"sealed-2"),
                previous: Some(PreviousDigest(old))
            },
            &Event::HandleRemoved {
                blind_index: b,
                identity_digest: identity_digest(b"sealed-b"),
                reason: "owner asked".into()
            },
        ]
    );
    assert_eq!(removed + 1, reg.tree_size().unwrap());
    let listed = reg.list_handles(None, 10).unwrap();
    assert_eq!(listed, vec![again.clone()]);
    assert!(reg.list_handles(Some(&a), 10).unwrap().is_empty());
    reg.audit().unwrap();
    drop(reg);

    let reg = Registry::open(&path, None).unwrap();
    assert_eq!(reg.handle(&a).unwrap().unwrap(), again);
    assert_eq!(reg.handle_count().unwrap(), 1);
    reg.audit().unwrap();
}

fn edit(path: &std::path::Path, f: impl FnOnce(&redb::WriteTransaction)) {
    let db = Database::open(path).unwrap();
    let tx = db.begin_write().unwrap();
    f(&tx);
    tx.commit().unwrap();
}

#[test]
fn an_edited_added_or_dropped_handle_record_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.redb");
    let reg = Registry::create(
        &path,
        CreateOptions::new("handles.example.test/log", Protection::Insecure),
    )
    .unwrap();
    let a = [0xa1; 32];
    let seq = reg.register_handle(&a, b"sealed-a").unwrap().seq;
    reg.register_handle(&[0xb2; 32], b"sealed-b").unwrap();
    drop(reg);
    let pristine = dir.path().join("pristine.redb");
    std::fs::copy(&path, &pristine).unwrap();

    // Swap the identity of handle a for that of handle b: the verified read and the audit
    // both name a's entry.
    edit(&path, |tx| {
        let mut t = tx.open_table(HANDLES).unwrap();
        let b = t.get([0xb2; 32]).unwrap().unwrap().value().to_vec();
        t.insert(a, b.as_slice()).unwrap();
    });
    let reg = Registry::open(&path, None).unwrap();
    let e = reg.handle(&a).unwrap_err();
    assert_eq!(e.code(), StoreCode::Corrupt, "{e}");
    let e = reg.audit().unwrap_err();
    assert_eq!(e.seq(), Some(seq), "{e}");
    drop(reg);

    // A record dropped, or one no entry registered.
    for (name, f) in [
        (
            "dropped",
            Box::new(|tx: &redb::WriteTransaction| {
                tx.open_table(HANDLES).unwrap().remove(a).unwrap();
            }) as Box<dyn Fn(&redb::WriteTransaction)>,
        ),
        (
            "added",
            Box::new(|tx: &redb::WriteTransaction| {
                let mut t = tx.open_table(HANDLES).unwrap();
                let v = t.get(a).unwrap().unwrap().value().to_vec();
                t.insert([0xc3; 32], v.as_slice()).unwrap();
            }),
        ),
    ] {
        std::fs::copy(&pristine, &path).unwrap();
        edit(&path, f);
        let reg = Registry::open(&path, None).unwrap();
        assert!(reg.audit().is_err(), "{name}");
    }
}
