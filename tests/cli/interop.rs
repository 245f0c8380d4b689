//! Interop with Go's signed-note verifiers: the C2SP verifier key string, the warning for
//! log keys Go cannot check, and proofs against roots no checkpoint signed.

use cairn_core::encoding::{b64_decode, b64_encode, hex_encode, sha256};
use serde_json::Value;

use super::Env;

/// `<name>+<hash>+<base64(0x01 || key)>` with hash = SHA-256(name || 0x0A || 0x01 || key)[..4].
fn go_verifier_key(name: &str, ed25519: &[u8]) -> String {
    let h = sha256(&[name.as_bytes(), b"\n", &[1], ed25519]);
    let mut enc = vec![1u8];
    enc.extend_from_slice(ed25519);
    format!("{name}+{}+{}", hex_encode(&h[..4]), b64_encode(&enc))
}

/// The key hashes (first 4 bytes of each signature) of a note's signature lines for `name`.
fn note_key_hashes(note: &str, name: &str) -> Vec<String> {
    note.lines()
        .filter_map(|l| l.strip_prefix(&format!("\u{2014} {name} ")))
        .map(|sig| hex_encode(&b64_decode(sig).unwrap()[..4]))
        .collect()
}

#[test]
fn verifier_keys_for_go_and_the_warning_for_keys_it_cannot_check() {
    // An Ed25519 log: the verifier key is Go's format, named by the origin, and its hash is
    // the one on the checkpoint's signature line.
    let env = Env::new();
    let v = env.ok(&[
        "init",
        "--origin",
        "test.example/log",
        "--log-algorithm",
        "ed25519",
        "--insecure-no-passphrase",
    ]);
    assert_eq!(v["warnings"], serde_json::json!([]));
    let key = env.ok(&["key", "show", "log"]);
    let raw = b64_decode(key["key"]["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(raw.len(), 32);
    let want = go_verifier_key("test.example/log", &raw);
    assert_eq!(key["note_verifier_key"], want.as_str(), "{key}");
    assert_eq!(key["note_verifier_keys"], serde_json::json!([want]));
    let cp = env.ok(&["checkpoint", "latest"]);
    assert_eq!(cp["note_verifier_key"], want.as_str());
    let hash = want.split('+').nth(1).unwrap();
    assert_eq!(
        note_key_hashes(
            cp["checkpoint"]["note"].as_str().unwrap(),
            "test.example/log"
        ),
        vec![hash.to_owned()]
    );
    let out = env.run(&["checkpoint", "create"]);
    assert!(
        out.stdout.contains(&format!("note key  {want}")),
        "{}",
        out.stdout
    );
    let out = env.run(&["key", "show", "log"]);
    assert!(out.stdout.contains(&want), "{}", out.stdout);
    // A non-log Ed25519 key is named by its label; an ML-DSA-only key has none for Go.
    env.ok(&[
        "key",
        "generate",
        "--label",
        "release",
        "--role",
        "manifest-signer",
        "--algorithm",
        "ed25519",
        "--insecure-no-passphrase",
    ]);
    let r = env.ok(&["key", "show", "release"]);
    let raw = b64_decode(r["key"]["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(
        r["note_verifier_key"],
        go_verifier_key("release", &raw).as_str()
    );
    env.ok(&[
        "key",
        "generate",
        "--label",
        "pq",
        "--role",
        "peer",
        "--algorithm",
        "ml-dsa-44",
        "--insecure-no-passphrase",
    ]);
    let pq = env.ok(&["key", "show", "pq"]);
    assert_eq!(pq["note_verifier_key"], Value::Null, "{pq}");
    assert_eq!(pq["note_verifier_keys"].as_array().unwrap().len(), 1);
    assert!(env
        .run(&["key", "show", "pq"])
        .stdout
        .contains("none for Go"));

    // A hybrid log (the default): the Ed25519 half for Go, both lines listed.
    let hy = Env::new();
    hy.ok(&[
        "init",
        "--origin",
        "hy.example/log",
        "--insecure-no-passphrase",
    ]);
    let cp = hy.ok(&["checkpoint", "latest"]);
    let go = cp["note_verifier_key"].as_str().unwrap().to_owned();
    let all = cp["note_verifier_keys"].as_array().unwrap();
    assert_eq!(all.len(), 2, "{cp}");
    assert_eq!(all[0], go.as_str());
    let parts: Vec<&str> = go.splitn(3, '+').collect();
    assert_eq!(parts[0], "hy.example/log");
    let enc = b64_decode(parts[2]).unwrap();
    assert_eq!((enc.len(), enc[0]), (33, 1));
    assert_eq!(go, go_verifier_key("hy.example/log", &enc[1..]));
    let hashes = note_key_hashes(cp["checkpoint"]["note"].as_str().unwrap(), "hy.example/log");
    assert_eq!(hashes.len(), 2);
    assert!(hashes.contains(&parts[1].to_owned()), "{hashes:?}");
    assert_eq!(
        hy.ok(&["key", "show", "log"])["note_verifier_key"],
        go.as_str()
    );

    // An ML-DSA-only log key: a warning on stderr, or in "warnings" with --json.
    let ml = Env::new();
    let out = ml.run(&[
        "init",
        "--log-algorithm",
        "ml-dsa-44",
        "--insecure-no-passphrase",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("sumdb/note"),
        "{}",
        out.stderr
    );
    // Its tiles are exported, with the same warning (tlog-tiles asks for an Ed25519 line).
    let out = ml.run(&["tiles", "export", &ml.p("tiles")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("no Ed25519 signature"),
        "{}",
        out.stderr
    );
    let ml65 = Env::new();
    let v = ml65.ok(&[
        "init",
        "--log-algorithm",
        "ml-dsa-65",
        "--insecure-no-passphrase",
    ]);
    let w = v["warnings"].as_array().unwrap();
    assert_eq!(w.len(), 1, "{v}");
    assert!(w[0].as_str().unwrap().contains("ml-dsa-65"), "{v}");
    assert_eq!(
        ml65.ok(&["checkpoint", "latest"])["note_verifier_key"],
        Value::Null
    );
    let quiet = Env::new();
    let out = quiet.run(&["init", "--insecure-no-passphrase"]);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn an_inclusion_proof_against_an_unsigned_root_says_so() {
    let env = Env::new();
    env.ok(&["init", "--insecure-no-passphrase"]);
    let signed = env.ok(&["checkpoint", "latest"])["checkpoint"]["size"]
        .as_u64()
        .unwrap();
    env.ok(&[
        "key",
        "generate",
        "--label",
        "a",
        "--role",
        "peer",
        "--algorithm",
        "ed25519",
        "--insecure-no-passphrase",
    ]);
    let seq = env.ok(&["key", "show", "a"])["key"]["added_seq"]
        .as_u64()
        .unwrap();
    assert!(seq >= signed, "the entry is newer than the checkpoint");
    let s = seq.to_string();

    // By default the proof is against the signed head, which covers the newest entry.
    let v = env.ok(&["proof", "inclusion", &s]);
    assert_eq!(v["signed"], true, "{v}");
    assert_eq!(v["signed_by"], "head", "{v}");
    assert_eq!(v["size"], seq + 1);
    let note = v["checkpoint"].as_str().unwrap();
    assert_eq!(
        note.lines().nth(1),
        Some((seq + 1).to_string().as_str()),
        "{note}"
    );
    // A size that neither a checkpoint nor the head covers is proven against an unsigned root.
    env.ok(&[
        "key",
        "generate",
        "--label",
        "b",
        "--role",
        "peer",
        "--algorithm",
        "ed25519",
        "--insecure-no-passphrase",
    ]);
    let size = (seq + 1).to_string();
    let v = env.ok(&["proof", "inclusion", &s, "--size", &size]);
    assert_eq!(v["signed"], false, "{v}");
    assert_eq!(v["signed_by"], "none", "{v}");
    assert_eq!(v["checkpoint"], Value::Null);
    assert_eq!(v["newest_checkpoint_size"], signed);
    assert_eq!(v["size"], seq + 1);
    let out = env.run(&["proof", "inclusion", &s, "--size", &size]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("NOT SIGNED"), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("at size {signed}")),
        "{}",
        out.stdout
    );

    // Once a checkpoint covers it, the same proof is against a signed root.
    env.ok(&["checkpoint", "create"]);
    let v = env.ok(&["proof", "inclusion", &s]);
    assert_eq!(v["signed"], true, "{v}");
    assert_eq!(v["signed_by"], "checkpoint", "{v}");
    assert_eq!(v["newest_checkpoint_size"], seq + 2);
    assert!(v["checkpoint"].as_str().is_some());
    assert!(!env
        .run(&["proof", "inclusion", &s])
        .stdout
        .contains("NOT SIGNED"));
    // An older checkpoint's size is signed too; a size no checkpoint has is not.
    let v = env.ok(&["proof", "inclusion", "0", "--size", &signed.to_string()]);
    assert_eq!(v["signed"], true, "{v}");
    if seq > signed {
        let v = env.ok(&["proof", "inclusion", "0", "--size", &seq.to_string()]);
        assert_eq!(v["signed"], false, "{v}");
    }
}
