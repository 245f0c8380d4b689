//! Importing a blux-reg configuration directory into a registry.

use std::path::Path;

use cairn_core::crypto::{pem, Algorithm, SigningKey};
use cairn_core::store::{CreateOptions, Protection, Registry, StoreCode};
use cairn_core::trust::Role;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/blux")
            .join(name),
    )
    .unwrap()
}

/// A blux-reg config dir: a private key with its public file, another public key, the
/// fixture ledger and revocations.
fn config_dir(root: &Path) -> SigningKey {
    let sk = SigningKey::from_seed(Algorithm::Ed25519, &[3; 32]);
    std::fs::create_dir_all(root.join("keys")).unwrap();
    std::fs::create_dir_all(root.join("trust")).unwrap();
    std::fs::write(
        root.join("keys/mine.pem"),
        pem::signing_key_to_pem(&sk).unwrap().as_bytes(),
    )
    .unwrap();
    std::fs::write(
        root.join("keys/mine.pub.pem"),
        pem::public_key_to_pem(sk.public_key()).unwrap(),
    )
    .unwrap();
    std::fs::write(root.join("keys/signer.pub.pem"), fixture("signer.pub.pem")).unwrap();
    std::fs::write(root.join("trust/ledger.jsonl"), fixture("ledger.jsonl")).unwrap();
    std::fs::write(
        root.join("trust/token_revocations.jsonl"),
        fixture("token_revocations.jsonl"),
    )
    .unwrap();
    sk
}

fn registry(dir: &Path) -> Registry {
    Registry::create(
        dir.join("r.redb"),
        CreateOptions::new("blux.example.test/log", Protection::Insecure),
    )
    .unwrap()
}

#[test]
fn imports_keys_and_trust_files_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("blux");
    let sk = config_dir(&config);
    let reg = registry(dir.path());
    let report = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();
    assert_eq!(report.keys.len(), 2);
    assert!(report.ledger_entries > 0 && report.revocations > 0);
    assert_eq!(report.imported_seqs.len(), 2);
    let mine = reg.key(&sk.public_key().key_id()).unwrap();
    assert_eq!(mine.label, "blux:mine");
    assert!(mine.roles.contains(Role::TokenIssuer) && mine.roles.contains(Role::ManifestSigner));
    reg.audit().unwrap();
    // Again: the keys are there already and are skipped; the files are recorded again.
    let again = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();
    assert_eq!((again.keys.len(), again.skipped.len()), (0, 2));
}

#[test]
fn a_broken_file_fails_the_whole_import() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("blux");
    config_dir(&config);
    let reg = registry(dir.path());
    let size = reg.tree_size().unwrap();
    // A ledger line edited: its entry_hash no longer matches.
    let ledger = String::from_utf8(fixture("ledger.jsonl")).unwrap();
    let edited = ledger.replacen("\"action\":\"", "\"action\":\"x", 1);
    assert_ne!(edited, ledger);
    std::fs::write(config.join("trust/ledger.jsonl"), edited).unwrap();
    assert!(reg
        .import_blux_dir(&config, &Protection::Insecure)
        .unwrap_err()
        .code()
        .core()
        .is_some());
    assert_eq!(reg.tree_size().unwrap(), size, "nothing was written");
    // A public file that is not the private key's.
    config_dir(&config);
    std::fs::write(config.join("keys/mine.pub.pem"), fixture("other.pub.pem")).unwrap();
    assert_eq!(
        reg.import_blux_dir(&config, &Protection::Insecure)
            .unwrap_err()
            .code()
            .as_str(),
        "key_mismatch"
    );
    // Not a blux-reg directory at all.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_eq!(
        reg.import_blux_dir(&empty, &Protection::Insecure)
            .unwrap_err()
            .code(),
        StoreCode::NotFound
    );
    assert_eq!(reg.tree_size().unwrap(), size);
}
