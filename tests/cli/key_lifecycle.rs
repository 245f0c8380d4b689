//! Key lifecycle through the CLI: a rotated key cannot mint tokens the registry accepts, and
//! an older copy of the registry file put back is refused until the anchor is reset.

use super::Env;

/// Registry `env` with an issuer and a holder; returns the id of a token issued before the
/// issuer is rotated, after its private key was exported to `leaked.pem`.
fn rotated_issuer(env: &Env) -> String {
    env.ok(&["init", "--insecure-no-passphrase"]);
    for (label, role) in [("issuer", "token-issuer"), ("agent", "peer")] {
        env.ok(&[
            "key",
            "generate",
            "--label",
            label,
            "--role",
            role,
            "--algorithm",
            "ed25519",
            "--insecure-no-passphrase",
        ]);
    }
    let t = env.ok(&[
        "token",
        "issue",
        "--issuer",
        "issuer",
        "--holder",
        "agent",
        "--audience",
        "svc.example",
        "--capability",
        "read",
        "--out",
        &env.p("before.json"),
    ]);
    env.ok(&[
        "key",
        "export",
        "issuer",
        "--private",
        "--out",
        &env.p("leaked.pem"),
    ]);
    env.ok(&["key", "rotate", "issuer", "--insecure-no-passphrase"]);
    t["token"]["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_rotated_key_cannot_mint_tokens_the_registry_accepts() {
    let env = Env::new();
    let before = rotated_issuer(&env);
    // The leaked old key, imported into a second registry, mints a token after the rotation.
    let other = Env::new();
    other.ok(&["init", "--insecure-no-passphrase"]);
    other.ok(&[
        "key",
        "import",
        "--private",
        &env.p("leaked.pem"),
        "--label",
        "old",
        "--role",
        "token-issuer",
        "--insecure-no-passphrase",
    ]);
    other.ok(&[
        "key",
        "generate",
        "--label",
        "agent",
        "--role",
        "peer",
        "--algorithm",
        "ed25519",
        "--insecure-no-passphrase",
    ]);
    other.ok(&[
        "token",
        "issue",
        "--issuer",
        "old",
        "--holder",
        "agent",
        "--audience",
        "svc.example",
        "--capability",
        "read",
        "--out",
        &other.p("minted.json"),
    ]);
    let minted = other.p("minted.json");
    // The second registry records it, so it verifies there...
    other.ok(&["token", "verify", "--file", &minted]);
    // ...but not in the first: it is not recorded, and it was issued after the rotation
    // closed the key's window.
    let v = env.fails(&["token", "verify", "--file", &minted], 1, "unauthorized");
    assert!(
        v["message"].as_str().unwrap().contains("not recorded"),
        "{v}"
    );
    let v = env.fails(
        &["token", "verify", "--file", &minted, "--allow-unrecorded"],
        1,
        "unauthorized",
    );
    assert!(
        v["message"].as_str().unwrap().contains("validity window"),
        "{v}"
    );
    // The token recorded before the rotation stays valid, by id and presented.
    let v = env.ok(&["token", "verify", &before]);
    assert_eq!(v["valid"], true);
    env.ok(&["token", "verify", "--file", &env.p("before.json")]);
    env.ok(&[
        "token",
        "verify",
        "--file",
        &env.p("before.json"),
        "--allow-unrecorded",
    ]);
}

#[test]
fn an_older_copy_of_the_file_is_refused_until_the_anchor_is_reset() {
    let env = Env::new();
    let id = rotated_issuer(&env);
    let store = env.home().join("registry.redb");
    let backup = env.path("backup.redb");
    std::fs::copy(&store, &backup).unwrap();
    let before = env.ok(&["status"])["entries"].as_u64().unwrap();
    // Revoked by its issuer, the rotated key (the label now names its successor).
    let token = env.ok(&["token", "show", &id]);
    let old_issuer = token["token"]["claims"]["issuer"]
        .as_str()
        .unwrap()
        .to_owned();
    env.ok(&[
        "token",
        "revoke",
        &id,
        "--reason",
        "leaked",
        "--revoker",
        &old_issuer,
    ]);
    env.fails(&["token", "verify", &id], 1, "revoked");
    std::fs::copy(&backup, &store).unwrap();
    let v = env.fails(&["token", "verify", &id], 1, "rolled_back");
    let msg = v["message"].as_str().unwrap();
    assert!(msg.contains("anchor reset"), "{msg}");
    env.fails(&["status"], 1, "rolled_back");
    let v = env.ok(&["anchor", "reset"]);
    assert!(
        v["previous_entries"].as_u64() > v["entries"].as_u64(),
        "{v}"
    );
    assert_eq!(v["entries"].as_u64(), Some(before));
    // The restore is accepted, with what it lost: the revocation.
    env.ok(&["token", "verify", &id]);
}

/// A damaged anchor stops every open (`corrupt`, naming `cairn anchor reset`), and the reset
/// it names repairs it, though it cannot say what the anchor recorded before.
#[test]
fn a_damaged_anchor_is_repaired_by_the_reset_its_error_names() {
    let env = Env::new();
    env.ok(&["init", "--insecure-no-passphrase"]);
    let entries = env.ok(&["status"])["entries"].clone();
    std::fs::write(env.home().join("registry.redb.anchor"), b"x").unwrap();
    let v = env.fails(&["status"], 1, "corrupt");
    assert!(
        v["message"].as_str().unwrap().contains("anchor reset"),
        "{v}"
    );
    let v = env.ok(&["anchor", "reset"]);
    assert!(v["previous_entries"].is_null(), "{v}");
    assert_eq!(v["entries"], entries);
    assert_eq!(env.ok(&["status"])["entries"], entries);
}

#[test]
fn a_rotation_to_a_weaker_algorithm_needs_to_be_asked_for() {
    let env = Env::new();
    env.ok(&["init", "--insecure-no-passphrase"]);
    let algorithm_of = |label: &str| {
        let keys = env.ok(&["key", "list"]);
        let active: Vec<String> = keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["label"] == label && k["status"] == "active")
            .map(|k| k["algorithm"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(active.len(), 1, "{keys}");
        active[0].clone()
    };
    assert_eq!(algorithm_of("log"), "ed25519+ml-dsa-44");
    // Each of these gives up something the hybrid log key has; each is refused and changes
    // nothing.
    for weaker in ["ed25519", "ml-dsa-44"] {
        let e = env.fails(
            &[
                "key",
                "rotate",
                "log",
                "--algorithm",
                weaker,
                "--insecure-no-passphrase",
            ],
            2,
            "usage",
        );
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("--allow-weaker-algorithm"),
            "{e}"
        );
        assert_eq!(algorithm_of("log"), "ed25519+ml-dsa-44");
    }
    // The same strength, or more, needs nothing.
    env.ok(&["key", "rotate", "log", "--insecure-no-passphrase"]);
    env.ok(&[
        "key",
        "rotate",
        "log",
        "--algorithm",
        "ed25519+ml-dsa-65",
        "--insecure-no-passphrase",
    ]);
    assert_eq!(algorithm_of("log"), "ed25519+ml-dsa-65");
    env.fails(
        &[
            "key",
            "rotate",
            "log",
            "--algorithm",
            "ed25519+ml-dsa-44",
            "--insecure-no-passphrase",
        ],
        2,
        "usage",
    );
    // Asked for, it is done.
    let r = env.ok(&[
        "key",
        "rotate",
        "log",
        "--algorithm",
        "ed25519",
        "--allow-weaker-algorithm",
        "--insecure-no-passphrase",
    ]);
    assert_eq!(r["log_key_rotated"], true);
    assert_eq!(algorithm_of("log"), "ed25519");
}
