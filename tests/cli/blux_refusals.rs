//! `cairn import blux` names every file it imported and every file it refused, with its
//! code; a refusal writes nothing and exits 1 unless --allow-partial.

use std::path::PathBuf;

use serde_json::Value;

use super::Env;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("core/tests/fixtures/blux")
}

/// A blux-reg directory: the signer's public key, one manifest that verifies with its
/// artifact, and tokens that do not verify (the fixtures expired in January 2026).
fn config_with_refusals(env: &Env) -> PathBuf {
    let f = fixtures();
    let config = env.path("blux");
    for d in ["keys", "trust/tokens", "manifests"] {
        std::fs::create_dir_all(config.join(d)).unwrap();
    }
    let copy = |from: &str, to: &str| {
        std::fs::copy(f.join(from), config.join(to)).unwrap();
    };
    copy("signer.pub.pem", "keys/signer.pub.pem");
    copy("artifact.txt", "manifests/artifact.txt");
    copy(
        "artifact.txt.blux-manifest.json",
        "manifests/artifact.txt.blux-manifest.json",
    );
    copy("token_basic.json", "trust/tokens/basic.json");
    copy("token_wrong_fingerprint.json", "trust/tokens/forged.json");
    copy("token_reencoded.json", "trust/tokens/reencoded.json");
    std::fs::write(config.join("trust/tokens/broken.json"), "{\"token_type\": ").unwrap();
    config
}

fn codes(v: &Value) -> Vec<(String, String)> {
    let mut c: Vec<(String, String)> = v["rejected"]
        .as_array()
        .unwrap_or_else(|| panic!("no rejected in {v}"))
        .iter()
        .map(|r| {
            assert!(r["message"].as_str().is_some_and(|m| !m.is_empty()), "{r}");
            (
                r["path"].as_str().unwrap().to_owned(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    c.sort();
    c
}

fn expected_refusals() -> Vec<(String, String)> {
    [
        ("trust/tokens/basic.json", "expired"),
        ("trust/tokens/broken.json", "malformed"),
        ("trust/tokens/forged.json", "key_mismatch"),
        ("trust/tokens/reencoded.json", "signature_invalid"),
    ]
    .iter()
    .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
    .collect()
}

fn entries(env: &Env) -> u64 {
    env.ok(&["status"])["entries"].as_u64().unwrap()
}

#[test]
fn import_blux_refusals_are_listed_and_fail_the_import() {
    let env = Env::new();
    env.ok(&["init", "--insecure-no-passphrase"]);
    let config = config_with_refusals(&env);
    let dir = config.display().to_string();
    let before = entries(&env);

    // --json: exit 1, error "refused", every refused file with its code, and what would
    // have been imported; nothing written.
    let out = env.run(&["import", "blux", &dir, "--json"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["error"], "refused", "{v}");
    assert_eq!(v["written"], false, "{v}");
    assert_eq!(codes(&v), expected_refusals(), "{v}");
    let m = v["manifests"].as_array().unwrap();
    assert_eq!(m.len(), 1, "{v}");
    assert_eq!(m[0]["path"], "manifests/artifact.txt.blux-manifest.json");
    assert_eq!(
        m[0]["object_hash"],
        "0bc445367c1ef13bbaa03babb76d8cfa5e660ae5a18f180e51ffe0fbd4b91d97"
    );
    assert_eq!(m[0]["seq"], Value::Null, "not written: no entry");
    assert_eq!(v["imported_seqs"], serde_json::json!([]));
    assert_eq!(entries(&env), before, "a refused import writes nothing");
    // The key is not in the registry either (the transaction was rolled back).
    env.fails(&["key", "show", "blux:signer"], 2, "not_found");

    // Text: the report on stdout names each refused file and its code, the error on stderr.
    let out = env.run(&["import", "blux", &dir]);
    assert_eq!(out.code, 1);
    for (path, code) in expected_refusals() {
        assert!(
            out.stdout.contains(&format!("REFUSED   {path}: {code}")),
            "{path} {code} not in:\n{}",
            out.stdout
        );
    }
    assert!(out
        .stdout
        .contains("manifests/artifact.txt.blux-manifest.json"));
    assert!(out.stderr.starts_with("cairn: refused:"), "{}", out.stderr);
    assert!(out.stderr.contains("--allow-partial"), "{}", out.stderr);

    // --allow-partial: what verifies is imported (exit 0), the refusals are still listed.
    let v = env.ok(&["import", "blux", &dir, "--allow-partial"]);
    assert_eq!(v["written"], true);
    assert_eq!(codes(&v), expected_refusals(), "{v}");
    let seq = v["manifests"][0]["seq"].as_u64().unwrap();
    assert!(seq >= before, "{v}");
    assert_eq!(v["keys"][0]["label"], "blux:signer");
    assert!(v["imported_seqs"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(seq)));
    assert_eq!(entries(&env), before + 2, "the key and the manifest");
    let out = env.run(&["import", "blux", &dir, "--allow-partial"]);
    assert_eq!(out.code, 0);
    assert!(out
        .stdout
        .contains("REFUSED   trust/tokens/forged.json: key_mismatch"));
    assert!(out.stdout.contains("--allow-partial"), "{}", out.stdout);
    env.ok(&["ledger", "audit"]);

    // With the refused files gone, a plain import succeeds and lists what it imported.
    for t in ["basic", "forged", "reencoded", "broken"] {
        std::fs::remove_file(config.join(format!("trust/tokens/{t}.json"))).unwrap();
    }
    let v = env.ok(&["import", "blux", &dir]);
    assert_eq!(v["rejected"], serde_json::json!([]));
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(v["skipped"][0]["code"], "already_exists", "{v}");
    assert_eq!(v["skipped"][0]["path"], "keys/signer.pub.pem", "{v}");
}

#[test]
fn a_manifest_whose_artifact_changed_is_refused_by_name() {
    let env = Env::new();
    env.ok(&["init", "--insecure-no-passphrase"]);
    let config = config_with_refusals(&env);
    std::fs::remove_dir_all(config.join("trust/tokens")).unwrap();
    std::fs::write(config.join("manifests/artifact.txt"), b"changed").unwrap();
    let out = env.run(&["import", "blux", &config.display().to_string(), "--json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let v = out.json();
    assert_eq!(
        codes(&v),
        vec![(
            "manifests/artifact.txt.blux-manifest.json".to_owned(),
            "digest_mismatch".to_owned()
        )]
    );
    assert_eq!(v["manifests"], serde_json::json!([]));
}
