//! The handle registry's store: handles under their blind index, identities kept as the
//! caller sealed them, every change a ledger entry carrying the blind index and the identity
//! digest (never the handle), verified reads, the audit against the replayed ledger, and a
//! restart that keeps everything.

use cairn_core::ledger::{Event, PreviousDigest};
use cairn_core::ErrorCode;
use cairn_store::{identity_digest, CreateOptions, Protection, Registry, StoreCode};
use redb::{Database, ReadableTable, TableDefinition};

const HANDLES: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("handles");

/// A new registry in a temporary directory (kept alive by the returned guard).
fn fresh() -> (tempfile::TempDir, std::path::PathBuf, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.redb");
    let reg = Registry::create(
        &path,
        CreateOptions::new("handles.example.test/log", Protection::Insecure),
    )
    .unwrap();
    (dir, path, reg)
}

fn events(reg: &Registry) -> Vec<Event> {
    reg.entries(0, u64::MAX)
        .unwrap()
        .into_iter()
        .map(|e| e.entry.event)
        .collect()
}

#[test]
fn handles_register_reregister_remove_and_survive_a_restart() {
    let (_dir, path, reg) = fresh();
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
    let (dir, path, reg) = fresh();
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

/// Envelope keys sealed in the registry: sealed under the key passphrase (the secret is not in
/// the file), opened only with it, a kid taken once, a record moved under another kid refused,
/// and all of it kept over a restart.
#[test]
fn envelope_keys_are_sealed_opened_with_the_passphrase_and_survive_a_restart() {
    use cairn_store::{KdfParams, Passphrase};
    const ENVELOPE_KEYS: TableDefinition<[u8; 8], &[u8]> = TableDefinition::new("envelope_keys");
    let (_dir, path, reg) = fresh();
    assert!(reg.envelope_keys().unwrap().is_empty());
    let pass = Passphrase::new("envelope pass");
    let sealed = Protection::Passphrase(pass.clone(), KdfParams::INSECURE_FAST);
    let secret = [0x5e; 32];
    let (k1, k2) = ([1u8; 8], [2u8; 8]);
    reg.add_envelope_key(k1, 1, &[0x11; 32], &secret, &sealed)
        .unwrap();
    reg.add_envelope_key(k2, 2, &[0x22; 1216], &[0x6f; 32], &Protection::Insecure)
        .unwrap();
    // Each kid once; a secret of another length is refused.
    let e = reg
        .add_envelope_key(k1, 1, &[0x11; 32], &secret, &sealed)
        .unwrap_err();
    assert_eq!(e.code(), StoreCode::AlreadyExists);
    let e = reg
        .add_envelope_key([3; 8], 1, &[0x11; 32], &[1; 31], &sealed)
        .unwrap_err();
    assert_eq!(e.code(), StoreCode::Core(ErrorCode::Malformed));

    let (info, s) = reg.open_envelope_key(&k1, Some(&pass)).unwrap();
    assert_eq!(
        (info.suite, info.insecure, s.as_slice()),
        (1, false, &secret[..])
    );
    let e = reg.open_envelope_key(&k1, None).unwrap_err();
    assert_eq!(e.code(), StoreCode::PassphraseRequired);
    let e = reg
        .open_envelope_key(&k1, Some(&Passphrase::new("wrong")))
        .unwrap_err();
    assert_eq!(e.code(), StoreCode::BadPassphrase);
    let (info2, _) = reg.open_envelope_key(&k2, None).unwrap();
    assert!(info2.insecure);
    assert_eq!(info2.public_key.len(), 1216);
    let e = reg.open_envelope_key(&[9; 8], Some(&pass)).unwrap_err();
    assert_eq!(e.code(), StoreCode::NotFound);
    drop(reg);

    // The sealed secret is not in the file.
    let raw = std::fs::read(&path).unwrap();
    assert!(!raw.windows(32).any(|w| w == secret));

    // A record copied under another kid does not open (the kid is in the associated data).
    edit(&path, |tx| {
        let mut t = tx.open_table(ENVELOPE_KEYS).unwrap();
        let rec = t.get(k1).unwrap().unwrap().value().to_vec();
        t.insert([7u8; 8], rec.as_slice()).unwrap();
    });
    let reg = Registry::open(&path, None).unwrap();
    let e = reg.open_envelope_key(&[7; 8], Some(&pass)).unwrap_err();
    assert_eq!(e.code(), StoreCode::BadPassphrase);
    // A restart keeps the keys.
    let kids: Vec<[u8; 8]> = reg.envelope_keys().unwrap().iter().map(|k| k.kid).collect();
    assert_eq!(kids, vec![k1, k2, [7; 8]]);
    assert_eq!(
        reg.open_envelope_key(&k1, Some(&pass))
            .unwrap()
            .1
            .as_slice(),
        secret
    );
    reg.audit().unwrap();
}
