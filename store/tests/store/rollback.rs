//! The rollback anchor: an older copy of the registry file put back in place is refused
//! (`rolled_back`, naming both sizes) until an operator accepts it with `reset_anchor`.

use std::path::Path;

use cairn_core::crypto::Algorithm;
use cairn_core::token::VerifyOptions;
use cairn_core::trust::{Role, RoleSet};
use cairn_store::*;

fn create(path: &Path) -> Registry {
    Registry::create(
        path,
        CreateOptions::new("rollback.example.test/log", Protection::Insecure),
    )
    .unwrap()
}

/// A registry in a fresh directory, with one key registered (so one entry past creation).
fn one_entry_registry() -> (tempfile::TempDir, std::path::PathBuf, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.redb");
    let reg = create(&path);
    key(&reg, "a", Role::Peer);
    reg.settle_anchor();
    (dir, path, reg)
}

/// The tree size the anchor beside `path` records (it must exist and be readable).
fn anchored_size(path: &Path) -> u64 {
    Anchor::read_beside(path).unwrap().unwrap().size
}

fn key(reg: &Registry, label: &str, role: Role) -> KeyInfo {
    reg.generate_key(
        Algorithm::Ed25519,
        &KeySpec::new(label, RoleSet::of(&[role])),
        &Protection::Insecure,
    )
    .unwrap()
}

#[test]
fn an_older_copy_is_refused_until_the_anchor_is_reset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.redb");
    let backup = dir.path().join("backup.redb");
    let reg = create(&path);
    let issuer = key(&reg, "issuer", Role::TokenIssuer);
    let holder = key(&reg, "holder", Role::Peer);
    let token = reg
        .issue_token(
            &issuer.key_id,
            None,
            &TokenRequest::new(holder.public_key, "svc.example", &["read"], 3600),
        )
        .unwrap();
    let old_size = reg.tree_size().unwrap();
    drop(reg);
    std::fs::copy(&path, &backup).unwrap();

    // The token is revoked afterwards; the anchor follows every commit.
    let reg = Registry::open(&path, None).unwrap();
    let previous = reg.signed_head();
    reg.revoke_token(&token.id, "leaked", &issuer.key_id, None)
        .unwrap();
    let new_size = reg.tree_size().unwrap();
    // Written with the commit, naming the head before it until the confirmation lands.
    let written = Anchor::read_beside(&path).unwrap().unwrap();
    assert_eq!(
        (written.size, written.root),
        (new_size, reg.signed_head().root)
    );
    assert!(
        [None, Some((previous.size, previous.root))].contains(&written.before),
        "{:?}",
        written.before
    );
    reg.settle_anchor();
    let anchor = Anchor::read_beside(&path).unwrap().unwrap();
    assert_eq!(anchor.size, new_size);
    assert_eq!(anchor.root, reg.signed_head().root);
    assert_eq!(anchor.before, None);
    drop(reg);

    // Put the older copy back: every open refuses it, naming both sizes.
    std::fs::copy(&backup, &path).unwrap();
    for e in [
        Registry::open(&path, None).unwrap_err(),
        Registry::open_read_only(&path).unwrap_err(),
    ] {
        assert_eq!(e.code(), StoreCode::RolledBack, "{e}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("holds {old_size} entries"))
                && text.contains(&format!("records {new_size}")),
            "{text}"
        );
    }
    // A read-only open never rewrites the anchor, even the refused one.
    assert_eq!(Anchor::read_beside(&path).unwrap().unwrap(), anchor);

    // The operator accepts the restore: it opens, and the revocation is gone with it.
    let head = Registry::reset_anchor(&path).unwrap();
    assert_eq!(head.size, old_size);
    assert_eq!(anchored_size(&path), old_size);
    let reg = Registry::open(&path, None).unwrap();
    assert!(reg
        .verify_token(&token.envelope, reg.now(), &VerifyOptions::default())
        .is_ok());
    reg.audit().unwrap();
}

#[test]
fn a_same_size_or_forked_copy_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.redb");
    let other = dir.path().join("other.redb");
    // Another registry with the same origin and as many entries: same size, another root.
    drop(create(&path));
    drop(create(&other));
    let anchor_of_path = Anchor::read_beside(&path).unwrap().unwrap();
    std::fs::copy(&other, &path).unwrap();
    let e = Registry::open_read_only(&path).unwrap_err();
    assert_eq!(e.code(), StoreCode::RolledBack, "{e}");
    assert!(e.to_string().contains("does not extend"), "{e}");
    // Longer but forked: it does not extend the anchored tree either.
    {
        let reg = Registry::open(&other, None).unwrap();
        key(&reg, "k", Role::Peer);
    }
    std::fs::copy(&other, &path).unwrap();
    assert_eq!(Anchor::read_beside(&path).unwrap().unwrap(), anchor_of_path);
    let e = Registry::open(&path, None).unwrap_err();
    assert_eq!(e.code(), StoreCode::RolledBack, "{e}");
    // A damaged anchor is reported, not ignored.
    std::fs::write(anchor_path(&path), b"cairn registry anchor v1\nsize x\n").unwrap();
    assert_eq!(
        Registry::open_read_only(&path).unwrap_err().code(),
        StoreCode::Corrupt
    );
    Registry::reset_anchor(&path).unwrap();
    Registry::open(&path, None).unwrap();
}

#[test]
fn a_lagging_or_missing_anchor_catches_up_on_a_read_write_open_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.redb");
    let reg = create(&path);
    let first = Anchor::read_beside(&path).unwrap().unwrap();
    assert_eq!(first.size, 1);
    // Anchor writes off: the file grows past its anchor, which still opens (the file
    // extends it).
    reg.set_anchor_writes(false);
    key(&reg, "a", Role::Peer);
    assert_eq!(Anchor::read_beside(&path).unwrap().unwrap(), first);
    let size = reg.tree_size().unwrap();
    drop(reg);
    let ro = Registry::open_read_only(&path).unwrap();
    drop(ro);
    assert_eq!(Anchor::read_beside(&path).unwrap().unwrap(), first);
    let rw = Registry::open(&path, None).unwrap();
    assert!(rw.anchor_writes());
    assert_eq!(anchored_size(&path), size);
    drop(rw);
    // Missing: a read-only open does not create it, a read-write open does.
    std::fs::remove_file(anchor_path(&path)).unwrap();
    drop(Registry::open_read_only(&path).unwrap());
    assert!(!anchor_path(&path).exists());
    drop(Registry::open(&path, None).unwrap());
    assert_eq!(anchored_size(&path), size);
}

#[test]
fn creating_without_an_anchor_removes_a_stale_one() {
    let (_dir, path, reg) = one_entry_registry();
    drop(reg);
    std::fs::remove_file(&path).unwrap();
    assert!(anchor_path(&path).exists());
    let mut opts = CreateOptions::new("rollback.example.test/log", Protection::Insecure);
    opts.anchor = false;
    let reg = Registry::create(&path, opts).unwrap();
    assert!(!anchor_path(&path).exists());
    assert!(!reg.anchor_writes());
    key(&reg, "b", Role::Peer);
    assert!(!anchor_path(&path).exists());
}

#[test]
fn a_deferred_anchor_is_written_by_write_anchor_and_never_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.redb");
    let reg = create(&path);
    let at_create = Anchor::read_beside(&path).unwrap().unwrap();
    let spec = KeySpec::new("a", RoleSet::of(&[Role::Peer]));
    // Two commits whose anchors are deferred: the anchor still records the head before them.
    let first = reg
        .write_deferring_anchor(|tx| {
            tx.generate_key(Algorithm::Ed25519, &spec, &Protection::Insecure)
        })
        .unwrap();
    let after_first = reg.signed_head();
    let second = reg
        .write_deferring_anchor(|tx| {
            tx.generate_key(Algorithm::Ed25519, &spec, &Protection::Insecure)
        })
        .unwrap();
    assert!(first.anchor < second.anchor);
    assert_ne!(first.anchor, AnchorDue::NONE);
    assert_eq!(Anchor::read_beside(&path).unwrap().unwrap(), at_create);
    // Settling the older one writes the newest head owed, which covers both.
    reg.write_anchor(first.anchor).unwrap();
    let anchor = Anchor::read_beside(&path).unwrap().unwrap();
    assert_eq!(anchor.size, reg.tree_size().unwrap());
    assert_eq!(anchor.size, after_first.size + 1);
    assert_eq!(anchor.root, reg.signed_head().root);
    // The newer one is covered already; nothing owed is a no-op; the anchor never goes back.
    reg.write_anchor(second.anchor).unwrap();
    reg.write_anchor(AnchorDue::NONE).unwrap();
    reg.write_anchor(first.anchor).unwrap();
    assert_eq!(Anchor::read_beside(&path).unwrap().unwrap(), anchor);
    // A commit whose anchor is never written leaves it behind, which an open accepts and
    // brings up to date.
    let third = reg
        .write_deferring_anchor(|tx| {
            tx.generate_key(Algorithm::Ed25519, &spec, &Protection::Insecure)
        })
        .unwrap();
    assert!(third.anchor > second.anchor);
    let size = reg.tree_size().unwrap();
    drop(reg);
    assert_eq!(Anchor::read_beside(&path).unwrap().unwrap(), anchor);
    let reg = Registry::open(&path, None).unwrap();
    assert_eq!(anchored_size(&path), size);
    // A commit that appends nothing owes nothing.
    let nothing = reg.write_deferring_anchor(|_| Ok(())).unwrap();
    assert_eq!(nothing.anchor, AnchorDue::NONE);
}

/// The anchor file's layout (docs/STORE.md, "The rollback anchor"): two slots of this many
/// bytes, each record written in place into the slot not holding the newest one.
const SLOT: usize = 32 * 1024;

#[test]
fn a_torn_anchor_slot_falls_back_to_the_previous_head_which_an_open_accepts() {
    let (_dir, path, reg) = one_entry_registry();
    let previous = Anchor::read_beside(&path).unwrap().unwrap();
    key(&reg, "b", Role::Peer);
    reg.settle_anchor();
    let newest = Anchor::read_beside(&path).unwrap().unwrap();
    assert!(newest.size > previous.size);
    // The slot not holding the newest record holds the same head as it was written with
    // the commit, naming the previous head as `before`.
    let fallback = Anchor {
        before: Some((previous.size, previous.root)),
        ..newest.clone()
    };
    drop(reg);
    // Both slots hold a record; the newest is the one of the higher generation.
    let ap = anchor_path(&path);
    let bytes = std::fs::read(&ap).unwrap();
    assert!(
        bytes.len() > SLOT && bytes.len() <= 2 * SLOT,
        "{}",
        bytes.len()
    );
    let generation = |at: usize| u64::from_be_bytes(bytes[at + 16..at + 24].try_into().unwrap());
    let newest_at = if generation(0) > generation(SLOT) {
        0
    } else {
        SLOT
    };
    // A write torn inside the newest record: the other slot answers, which the file's head
    // matches, so both opens accept it, and a read-write open records the newest again.
    let mut torn = bytes.clone();
    torn[newest_at + 100] ^= 0x01;
    std::fs::write(&ap, &torn).unwrap();
    assert_eq!(Anchor::read_beside(&path).unwrap().unwrap(), fallback);
    drop(Registry::open_read_only(&path).unwrap());
    assert_eq!(
        std::fs::read(&ap).unwrap(),
        torn,
        "a read-only open writes nothing"
    );
    drop(Registry::open(&path, None).unwrap());
    assert_eq!(Anchor::read_beside(&path).unwrap().unwrap(), newest);
    // Both slots damaged: reported, and `reset_anchor` records the file again.
    let mut both = bytes;
    both[100] ^= 0x01;
    both[SLOT + 100] ^= 0x01;
    std::fs::write(&ap, &both).unwrap();
    for e in [
        Registry::open_read_only(&path).unwrap_err(),
        Registry::open(&path, None).unwrap_err(),
    ] {
        assert_eq!(e.code(), StoreCode::Corrupt, "{e}");
        assert!(e.to_string().contains("anchor reset"), "{e}");
    }
    Registry::reset_anchor(&path).unwrap();
    assert_eq!(Anchor::read_beside(&path).unwrap().unwrap(), newest);
    // A registry keeps writing in place after the reset.
    let reg = Registry::open(&path, None).unwrap();
    key(&reg, "c", Role::Peer);
    assert_eq!(anchored_size(&path), reg.tree_size().unwrap());
}

#[test]
fn an_anchor_deleted_or_replaced_while_open_is_recreated_by_the_next_commit() {
    let (dir, path, reg) = one_entry_registry();
    std::fs::remove_file(anchor_path(&path)).unwrap();
    key(&reg, "b", Role::Peer);
    let size = reg.tree_size().unwrap();
    assert_eq!(anchored_size(&path), size);
    // Replaced by another file under the same name: the commit writes the new one.
    let stale = std::fs::read(anchor_path(&path)).unwrap();
    key(&reg, "c", Role::Peer);
    std::fs::write(dir.path().join("copy"), &stale).unwrap();
    std::fs::rename(dir.path().join("copy"), anchor_path(&path)).unwrap();
    key(&reg, "d", Role::Peer);
    assert_eq!(anchored_size(&path), reg.tree_size().unwrap());
}

#[test]
fn a_version_1_anchor_is_still_checked_and_rewritten_by_a_read_write_open() {
    let (_dir, path, reg) = one_entry_registry();
    let current = Anchor::read_beside(&path).unwrap().unwrap();
    drop(reg);
    let v1 = |a: &Anchor| {
        format!(
            "cairn registry anchor v1\nsize {}\nroot {}\n\n{}",
            a.size,
            cairn_core::encoding::b64_encode(&a.root),
            a.note
        )
    };
    // A version-1 anchor ahead of the file still refuses it.
    let ahead = Anchor {
        size: current.size + 1,
        ..current.clone()
    };
    std::fs::write(anchor_path(&path), v1(&ahead)).unwrap();
    assert_eq!(
        Registry::open_read_only(&path).unwrap_err().code(),
        StoreCode::RolledBack
    );
    // The file's own head in version 1: read-only opens leave it, a read-write open
    // rewrites it in version 3.
    std::fs::write(anchor_path(&path), v1(&current)).unwrap();
    assert_eq!(Anchor::read_beside(&path).unwrap().unwrap(), current);
    drop(Registry::open_read_only(&path).unwrap());
    assert!(std::fs::read(anchor_path(&path))
        .unwrap()
        .starts_with(b"cairn registry anchor v1\n"));
    drop(Registry::open(&path, None).unwrap());
    assert!(std::fs::read(anchor_path(&path))
        .unwrap()
        .starts_with(b"cairn anchor v3\n"));
    assert_eq!(Anchor::read_beside(&path).unwrap().unwrap(), current);
}

/// A fork of the anchored history, longer than it, whose stored tree was patched so that the
/// root its inner nodes give at the anchor's size is the anchored root (the subtree of the
/// entries where the two histories part copied from the anchored file), is refused: the file
/// must prove, by a consistency proof between the two authenticated roots, that its signed head
/// extends the anchored tree, not merely store nodes that add up to it.
#[test]
fn a_fork_whose_stored_nodes_give_the_anchored_root_is_refused(
) -> Result<(), Box<dyn std::error::Error>> {
    use redb::ReadableDatabase;
    const TREE: redb::TableDefinition<(u8, u64), [u8; 32]> = redb::TableDefinition::new("tree");
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("registry.redb");
    let fork = dir.path().join("fork.redb");
    let reg = create(&path);
    let mut n = 0;
    while reg.tree_size()? < 96 {
        key(&reg, &format!("k{n}"), Role::Peer);
        n += 1;
    }
    drop(reg);
    std::fs::copy(&path, &fork)?;
    std::fs::copy(anchor_path(&path), anchor_path(&fork))?;
    // The anchored history goes on to 100 entries; the fork, from the same 96, to 110.
    let reg = Registry::open(&path, None)?;
    while reg.tree_size()? < 100 {
        key(&reg, &format!("a{n}"), Role::Peer);
        n += 1;
    }
    reg.settle_anchor();
    drop(reg);
    let reg = Registry::open(&fork, None)?;
    while reg.tree_size()? < 110 {
        key(&reg, &format!("b{n}"), Role::Peer);
        n += 1;
    }
    drop(reg);
    assert_eq!(anchored_size(&path), 100);
    // The subtree of entries 96..100 (level 2, index 24), as the anchored file stores it,
    // patched into the fork, which then stores the anchored root's peaks at size 100.
    let read = |p: &Path| -> Result<[u8; 32], Box<dyn std::error::Error>> {
        let db = redb::Database::open(p)?;
        let rtx = db.begin_read()?;
        let t = rtx.open_table(TREE)?;
        let v = t
            .get((2, 24))?
            .ok_or("the node of entries 96..100")?
            .value();
        Ok(v)
    };
    let anchored_node = read(&path)?;
    assert_ne!(read(&fork)?, anchored_node);
    {
        let db = redb::Database::open(&fork)?;
        let tx = db.begin_write()?;
        tx.open_table(TREE)?.insert((2, 24), anchored_node)?;
        tx.commit()?;
    }
    std::fs::copy(&fork, &path)?;
    for e in [
        Registry::open_read_only(&path).unwrap_err(),
        Registry::open(&path, None).unwrap_err(),
    ] {
        assert_eq!(e.code(), StoreCode::RolledBack, "{e}");
        assert!(e.to_string().contains("does not extend"), "{e}");
    }
    Ok(())
}
