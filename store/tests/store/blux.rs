//! Importing a blux-reg configuration directory into a registry.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use cairn_core::blux::{parse_iso8601_micros, verify_manifest, verify_token, TokenPolicy};
use cairn_core::crypto::{pem, Algorithm, PublicKey, SigningKey};
use cairn_core::encoding::{hex_encode, sha256};
use cairn_core::ledger::Event;
use cairn_core::trust::{Role, RoleSet};
use cairn_store::{BluxImport, CreateOptions, KeySpec, Protection, Registry, StoreCode};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../core/tests/fixtures/blux")
            .join(name),
    )
    .unwrap()
}

/// A blux-reg config dir: a private key with its public file, another public key, the
/// fixture ledger and revocations.
pub(super) fn config_dir(root: &Path) -> SigningKey {
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

// --- tokens and manifests -------------------------------------------------------------

/// Unix seconds of a blux-reg timestamp.
fn at_secs(ts: &str) -> u64 {
    (parse_iso8601_micros(ts).unwrap() / 1_000_000) as u64
}

/// Before every fixture token expires (the first, `token_basic`, at 15:02).
const BEFORE_EXPIRY: &str = "2026-01-20T14:30:00+00:00";

/// A fixture with one JSON field's string value replaced (the file stays blux-reg's layout).
fn edited(name: &str, field: &str, value: &str) -> String {
    let text = String::from_utf8(fixture(name)).unwrap();
    let start = text.find(&format!("\"{field}\": \"")).unwrap() + field.len() + 5;
    let end = start + text[start..].find('"').unwrap();
    format!("{}{}{}", &text[..start], value, &text[end..])
}

/// `config_dir` plus every fixture token in `trust/tokens/` and both fixture manifests with
/// their artifacts in `manifests/`, plus the bad objects each test expects rejected.
fn full_config_dir(root: &Path) {
    config_dir(root);
    let tokens = root.join("trust/tokens");
    let manifests = root.join("manifests");
    std::fs::create_dir_all(&tokens).unwrap();
    std::fs::create_dir_all(&manifests).unwrap();
    for name in [
        "token_basic.json",
        "token_unicode.json",
        "token_floats.json",
        "token_revoked.json",
        "token_reencoded.json",
        "token_wrong_fingerprint.json",
    ] {
        std::fs::write(tokens.join(name), fixture(name)).unwrap();
    }
    // The capability changed after signing.
    std::fs::write(
        tokens.join("tampered.token.json"),
        edited("token_basic.json", "capability", "admin"),
    )
    .unwrap();
    std::fs::write(tokens.join("notes.txt"), "not a token").unwrap();
    for (manifest, artifact, on_disk) in [
        (
            "artifact.txt.blux-manifest.json",
            "artifact.txt",
            "artifact.txt",
        ),
        (
            "artifact2.bin.blux-manifest.json",
            "artifact2.bin",
            "résumé 🚀.bin",
        ),
    ] {
        std::fs::write(manifests.join(manifest), fixture(manifest)).unwrap();
        std::fs::write(manifests.join(on_disk), fixture(artifact)).unwrap();
    }
    std::fs::write(
        manifests.join("traversal.blux-manifest.json"),
        edited(
            "artifact.txt.blux-manifest.json",
            "artifact_path",
            "../keys/mine.pub.pem",
        ),
    )
    .unwrap();
    std::fs::write(
        manifests.join("missing.blux-manifest.json"),
        edited(
            "artifact.txt.blux-manifest.json",
            "artifact_path",
            "gone.txt",
        ),
    )
    .unwrap();
}

fn registry_at(dir: &Path, ts: &str) -> Registry {
    let mut reg = registry(dir);
    let now = at_secs(ts);
    reg.set_clock(Arc::new(move || now));
    reg
}

fn rejected(report: &BluxImport) -> BTreeMap<&str, &str> {
    report
        .rejected
        .iter()
        .map(|r| (r.path.as_str(), r.code.as_str()))
        .collect()
}

/// The `imported` entries after `from`: source → digest.
fn imported_since(reg: &Registry, from: u64) -> BTreeMap<String, [u8; 32]> {
    reg.entries(from, reg.tree_size().unwrap())
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.entry.event {
            Event::Imported { source, digest } => Some((source, digest)),
            _ => None,
        })
        .collect()
}

fn config_key(config: &Path, rel: &str) -> PublicKey {
    pem::public_key_from_pem(&std::fs::read_to_string(config.join(rel)).unwrap()).unwrap()
}

fn hex_hash(d: &[u8; 32]) -> String {
    hex_encode(d)
}

#[test]
fn verified_tokens_and_manifests_are_imported_and_the_rest_reported() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("blux");
    full_config_dir(&config);
    let reg = registry_at(dir.path(), BEFORE_EXPIRY);
    let size = reg.tree_size().unwrap();
    let report = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();

    let tokens: Vec<(&str, String)> = report
        .tokens
        .iter()
        .map(|t| (t.path.as_str(), hex_hash(&t.object_hash)))
        .collect();
    assert_eq!(
        tokens,
        [
            (
                "trust/tokens/token_basic.json",
                "88262af52b743710a10f23cceae20f470f04ad096634242f970c68a9906bcf1a".into()
            ),
            (
                "trust/tokens/token_floats.json",
                "dd29ed43c4fc9676ab05263d4e49b47ec663d213e9390a54bd1b44e4c12ce151".into()
            ),
            (
                "trust/tokens/token_unicode.json",
                "407b0e92c8c66cba155f6bf362f210045a7563e383ebace38232e93e42982063".into()
            ),
        ]
    );
    let manifests: Vec<(&str, String)> = report
        .manifests
        .iter()
        .map(|m| (m.path.as_str(), hex_hash(&m.object_hash)))
        .collect();
    assert_eq!(
        manifests,
        [
            (
                "manifests/artifact.txt.blux-manifest.json",
                "0bc445367c1ef13bbaa03babb76d8cfa5e660ae5a18f180e51ffe0fbd4b91d97".into()
            ),
            (
                "manifests/artifact2.bin.blux-manifest.json",
                "7b2b48a5f4a0f1e16fe45c0a318563a77bf1bdc6a8fc183ccb81b54688293ea2".into()
            ),
        ]
    );
    let signer = "abd53445b1653cb8b718edd05adfaaef8215f05f38e3e179191a173a6f01add2";
    for object in report.tokens.iter().chain(&report.manifests) {
        assert_eq!(hex_hash(&object.signer), signer);
    }

    assert_eq!(
        rejected(&report),
        BTreeMap::from([
            ("manifests/missing.blux-manifest.json", "not_found"),
            ("manifests/traversal.blux-manifest.json", "malformed"),
            ("trust/tokens/tampered.token.json", "signature_invalid"),
            ("trust/tokens/token_reencoded.json", "signature_invalid"),
            ("trust/tokens/token_revoked.json", "revoked"),
            ("trust/tokens/token_wrong_fingerprint.json", "key_mismatch"),
        ])
    );
    let traversal = report
        .rejected
        .iter()
        .find(|r| r.path.contains("traversal"))
        .unwrap();
    assert!(
        traversal.message.contains("not a plain file name"),
        "{traversal:?}"
    );

    // Exactly the verified objects and the two trust files were recorded, each by the
    // SHA-256 of its bytes.
    let recorded = imported_since(&reg, size);
    let mut expected = BTreeMap::new();
    for rel in ["trust/ledger.jsonl", "trust/token_revocations.jsonl"]
        .into_iter()
        .chain(report.tokens.iter().map(|t| t.path.as_str()))
        .chain(report.manifests.iter().map(|m| m.path.as_str()))
    {
        let bytes = std::fs::read(config.join(rel)).unwrap();
        expected.insert(format!("blux-reg:{rel}"), sha256(&[&bytes]));
    }
    assert_eq!(recorded, expected);
    for object in report.tokens.iter().chain(&report.manifests) {
        assert_eq!(
            recorded[&format!("blux-reg:{}", object.path)],
            object.sha256
        );
        assert!(report.imported_seqs.contains(&object.seq));
    }
    assert_eq!(report.imported_seqs.len(), 2 + 3 + 2);
    let audit = reg.audit().unwrap();
    assert_eq!(audit.entries, reg.tree_size().unwrap());
}

#[test]
fn a_changed_artifact_is_rejected_and_not_imported() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("blux");
    full_config_dir(&config);
    // One byte more than what was signed (blux-reg hashes raw bytes: no newline folding).
    let mut changed = fixture("artifact.txt");
    changed.extend_from_slice(b"\n");
    std::fs::write(config.join("manifests/artifact.txt"), changed).unwrap();
    let reg = registry_at(dir.path(), BEFORE_EXPIRY);
    let report = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();
    assert_eq!(
        rejected(&report).get("manifests/artifact.txt.blux-manifest.json"),
        Some(&"digest_mismatch")
    );
    let names: Vec<&str> = report.manifests.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(names, ["manifests/artifact2.bin.blux-manifest.json"]);
    assert!(
        !imported_since(&reg, 0).contains_key("blux-reg:manifests/artifact.txt.blux-manifest.json")
    );
    reg.audit().unwrap();
}

#[test]
fn other_artifact_paths_outside_the_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("blux");
    config_dir(&config);
    let manifests = config.join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    // A real file at each target, so only the path check can refuse them.
    std::fs::write(dir.path().join("outside.txt"), fixture("artifact.txt")).unwrap();
    std::fs::create_dir_all(manifests.join("sub")).unwrap();
    std::fs::write(manifests.join("sub/artifact.txt"), fixture("artifact.txt")).unwrap();
    let outside = dir.path().join("outside.txt");
    for (i, path) in [
        "..",
        ".",
        "",
        "../outside.txt",
        "sub/artifact.txt",
        "sub\\\\artifact.txt",
        outside.to_str().unwrap(),
    ]
    .into_iter()
    .enumerate()
    {
        std::fs::write(
            manifests.join(format!("m{i}.blux-manifest.json")),
            edited("artifact.txt.blux-manifest.json", "artifact_path", path),
        )
        .unwrap();
    }
    let reg = registry(dir.path());
    let report = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();
    assert!(report.manifests.is_empty());
    assert_eq!(report.rejected.len(), 7, "{:?}", report.rejected);
    for r in &report.rejected {
        assert_eq!(r.code.as_str(), "malformed", "{r:?}");
        assert!(r.message.contains("not a plain file name"), "{r:?}");
    }
}

#[cfg(unix)]
#[test]
fn symbolic_links_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("blux");
    full_config_dir(&config);
    let tokens = config.join("trust/tokens");
    std::fs::remove_file(tokens.join("token_basic.json")).unwrap();
    std::fs::write(dir.path().join("token.json"), fixture("token_basic.json")).unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("token.json"),
        tokens.join("token_basic.json"),
    )
    .unwrap();
    let manifests = config.join("manifests");
    std::fs::rename(
        manifests.join("artifact.txt"),
        dir.path().join("artifact.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("artifact.txt"),
        manifests.join("artifact.txt"),
    )
    .unwrap();
    let reg = registry_at(dir.path(), BEFORE_EXPIRY);
    let report = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();
    let codes = rejected(&report);
    assert_eq!(codes["trust/tokens/token_basic.json"], "malformed");
    assert_eq!(
        codes["manifests/artifact.txt.blux-manifest.json"],
        "malformed"
    );
    assert_eq!((report.tokens.len(), report.manifests.len()), (2, 1));
}

#[test]
fn expired_tokens_are_rejected_at_the_registry_clock() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("blux");
    full_config_dir(&config);
    // Still valid at its expires_at second.
    let reg = registry_at(&dir.path().join("a"), "2026-01-20T15:02:00+00:00");
    let report = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();
    assert!(report
        .tokens
        .iter()
        .any(|t| t.path == "trust/tokens/token_basic.json"));
    // One second later it is not, and nothing else changes.
    let reg = registry_at(&dir.path().join("b"), "2026-01-20T15:02:01+00:00");
    let report = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();
    let codes = rejected(&report);
    assert_eq!(codes["trust/tokens/token_basic.json"], "expired");
    assert_eq!(
        codes["trust/tokens/token_wrong_fingerprint.json"],
        "key_mismatch"
    );
    assert_eq!(report.tokens.len(), 2);
    // The next day only the unicode token (valid a day) is left; revoked tokens show as
    // expired first, as blux-reg checks expiry before revocation.
    let reg = registry_at(&dir.path().join("c"), "2026-01-21T00:00:00+00:00");
    let report = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();
    let names: Vec<&str> = report.tokens.iter().map(|t| t.path.as_str()).collect();
    assert_eq!(names, ["trust/tokens/token_unicode.json"]);
    assert_eq!(
        rejected(&report)["trust/tokens/token_revoked.json"],
        "expired"
    );
    assert_eq!(report.manifests.len(), 2, "manifests do not expire");
    reg.audit().unwrap();
}

#[test]
fn only_keys_of_the_directory_usable_for_the_role_are_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("blux");
    full_config_dir(&config);
    // Without the signer's key nothing it signed verifies: blux-reg would accept any
    // self-signed token; the import trusts only the directory's keys.
    std::fs::remove_file(config.join("keys/signer.pub.pem")).unwrap();
    let reg = registry_at(&dir.path().join("a"), BEFORE_EXPIRY);
    let report = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();
    assert!(report.tokens.is_empty() && report.manifests.is_empty());
    let codes = rejected(&report);
    assert_eq!(codes["trust/tokens/token_basic.json"], "unknown_key");
    assert_eq!(
        codes["manifests/artifact.txt.blux-manifest.json"],
        "unknown_key"
    );

    // The registry already holds the signer's key, as a manifest signer only: the import
    // skips the key file, and the key vouches for manifests but not for tokens.
    std::fs::write(
        config.join("keys/signer.pub.pem"),
        fixture("signer.pub.pem"),
    )
    .unwrap();
    let reg = registry_at(&dir.path().join("b"), BEFORE_EXPIRY);
    let signer =
        pem::public_key_from_pem(std::str::from_utf8(&fixture("signer.pub.pem")).unwrap()).unwrap();
    reg.write(|tx| {
        tx.import_public_key(
            &signer,
            &KeySpec::new("release", RoleSet::of(&[Role::ManifestSigner])),
        )
    })
    .unwrap();
    let report = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();
    assert_eq!(report.skipped.len(), 1);
    assert!(report.tokens.is_empty());
    assert_eq!(report.manifests.len(), 2);
    assert_eq!(
        rejected(&report)["trust/tokens/token_basic.json"],
        "unknown_key"
    );
    reg.audit().unwrap();
}

#[test]
fn bad_token_and_manifest_files_are_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("blux");
    let tokens = config.join("trust/tokens");
    let manifests = config.join("manifests");
    std::fs::create_dir_all(&tokens).unwrap();
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(tokens.join("a.json"), "{\"truncated\": ").unwrap();
    std::fs::write(tokens.join("b.json"), [0xff, 0xfe]).unwrap();
    std::fs::write(tokens.join("c.json"), vec![b' '; 1024 * 1024 + 1]).unwrap();
    std::fs::create_dir_all(tokens.join("d.json")).unwrap();
    // A manifest with a bad version is refused before its artifact is looked for.
    let manifest = String::from_utf8(fixture("artifact.txt.blux-manifest.json")).unwrap();
    std::fs::write(
        manifests.join("e.blux-manifest.json"),
        manifest.replace("\"1.0\"", "\"2.0\""),
    )
    .unwrap();
    std::fs::write(manifests.join("f.blux-manifest.json"), "[]").unwrap();
    let reg = registry(dir.path());
    let size = reg.tree_size().unwrap();
    let report = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();
    assert_eq!(
        rejected(&report),
        BTreeMap::from([
            ("manifests/e.blux-manifest.json", "unsupported_version"),
            ("manifests/f.blux-manifest.json", "malformed"),
            ("trust/tokens/a.json", "malformed"),
            ("trust/tokens/b.json", "malformed"),
            ("trust/tokens/c.json", "too_large"),
            ("trust/tokens/d.json", "malformed"),
        ])
    );
    assert!(report.imported_seqs.is_empty());
    assert_eq!(reg.tree_size().unwrap(), size);
}

#[test]
fn a_broken_trust_file_still_fails_everything_tokens_included() {
    let good = String::from_utf8(fixture("token_revocations.jsonl")).unwrap();
    for (revocations, says) in [
        ("{\"token_hash\": \n".to_owned(), "line 1"),
        (
            format!("{}\n\n{{}}\n", good.trim_end()),
            "line 3 has no token_hash",
        ),
        (
            format!("\r{}\r[1]\r", good.trim_end()),
            "line 3 is not a JSON object",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("blux");
        full_config_dir(&config);
        std::fs::write(config.join("trust/token_revocations.jsonl"), &revocations).unwrap();
        let reg = registry_at(dir.path(), BEFORE_EXPIRY);
        let size = reg.tree_size().unwrap();
        let err = reg
            .import_blux_dir(&config, &Protection::Insecure)
            .unwrap_err();
        assert_eq!(err.code().as_str(), "malformed", "{revocations:?}");
        assert!(err.to_string().contains(says), "{revocations:?}: {err}");
        assert_eq!(
            reg.tree_size().unwrap(),
            size,
            "no token or manifest was recorded"
        );
    }
}

/// Lines end as Python's text mode ends them (`\n`, `\r\n` or a lone `\r`), as blux-reg reads
/// the file: each line is counted, and the revoked token is still refused.
#[test]
fn revocation_lines_end_in_any_newline() {
    let good = String::from_utf8(fixture("token_revocations.jsonl")).unwrap();
    let other = format!("{{\"token_hash\":\"{}\"}}", "ab".repeat(32));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("blux");
    full_config_dir(&config);
    std::fs::write(
        config.join("trust/token_revocations.jsonl"),
        format!("\r\n \r{other}\r{}\r\n{other}", good.trim_end()),
    )
    .unwrap();
    let reg = registry_at(dir.path(), BEFORE_EXPIRY);
    let report = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();
    assert_eq!(report.revocations, 3);
    assert!(report
        .rejected
        .iter()
        .any(|r| r.path == "trust/tokens/token_revoked.json" && r.code.as_str() == "revoked"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// A token or manifest mutated anyhow is either imported or reported, never a panic or a
    /// failed import, and what is imported is exactly what verifies.
    #[test]
    fn mutated_objects_are_imported_or_reported(
        token in proptest::bool::ANY,
        at in 0usize..2048,
        byte in proptest::num::u8::ANY,
        cut in proptest::bool::ANY,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("blux");
        config_dir(&config);
        let (rel, name) = if token {
            ("trust/tokens/t.json", "token_basic.json")
        } else {
            ("manifests/artifact.txt.blux-manifest.json", "artifact.txt.blux-manifest.json")
        };
        std::fs::create_dir_all(config.join("trust/tokens")).unwrap();
        std::fs::create_dir_all(config.join("manifests")).unwrap();
        std::fs::write(config.join("manifests/artifact.txt"), fixture("artifact.txt")).unwrap();
        let mut bytes = fixture(name);
        let i = at % bytes.len();
        if cut {
            bytes.truncate(i);
        } else {
            bytes[i] = byte;
        }
        std::fs::write(config.join(rel), &bytes).unwrap();
        let reg = registry_at(dir.path(), BEFORE_EXPIRY);
        let report = reg.import_blux_dir(&config, &Protection::Insecure).unwrap();
        let imported = report.tokens.len() + report.manifests.len();
        proptest::prop_assert_eq!(imported + report.rejected.len(), 1);
        // What the blux module says of the same bytes with the same keys and clock.
        let keys: Vec<_> = [
            config_key(&config, "keys/mine.pub.pem"),
            config_key(&config, "keys/signer.pub.pem"),
        ]
        .into();
        let verdict = match String::from_utf8(bytes) {
            Err(_) => Err("malformed".to_owned()),
            Ok(text) if token => verify_token(
                &text,
                at_secs(BEFORE_EXPIRY),
                Some(std::str::from_utf8(&fixture("token_revocations.jsonl")).unwrap()),
                &TokenPolicy::trusted_keys(&keys),
            )
            .map(|v| v.token_hash)
            .map_err(|e| e.code().as_str().to_owned()),
            Ok(text) => verify_manifest(&text, &sha256(&[&fixture("artifact.txt")]), &keys)
                .map(|v| v.manifest_hash)
                .map_err(|e| e.code().as_str().to_owned()),
        };
        match (report.tokens.first().or(report.manifests.first()), &verdict) {
            (Some(object), Ok(hash)) => proptest::prop_assert_eq!(object.object_hash, *hash),
            (Some(object), Err(code)) => {
                proptest::prop_assert!(false, "{object:?} imported, but {code}")
            }
            (None, Ok(_)) => {
                proptest::prop_assert!(false, "rejected but verifies: {:?}", report.rejected)
            }
            // A manifest can fail on its artifact before the blux module sees it.
            (None, Err(code)) => proptest::prop_assert!(
                !token || report.rejected[0].code.as_str() == code,
                "{:?} vs {code}",
                report.rejected
            ),
        }
        reg.audit().unwrap();
    }
}

/// A directory the import reads (`trust/tokens`, `manifests`, ...) that is a symbolic link to
/// one outside the configuration directory is refused as a whole, before anything is read or
/// written: the files below it would be read through the link.
#[cfg(unix)]
#[test]
fn a_linked_directory_is_refused() -> Result<(), Box<dyn std::error::Error>> {
    for rel in ["trust/tokens", "manifests"] {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("blux");
        full_config_dir(&config);
        let outside = dir.path().join("outside");
        std::fs::rename(config.join(rel), &outside)?;
        std::os::unix::fs::symlink(&outside, config.join(rel))?;
        let reg = registry_at(dir.path(), BEFORE_EXPIRY);
        let size = reg.tree_size()?;
        let e = reg
            .import_blux_dir(&config, &Protection::Insecure)
            .unwrap_err();
        assert_eq!(e.code().as_str(), "malformed", "{rel}: {e}");
        assert!(e.detail().contains("symbolic link"), "{rel}: {e}");
        assert_eq!(reg.tree_size()?, size, "{rel}: nothing written");
    }
    Ok(())
}
