//! `cairn blux verify-token|verify-manifest|verify-ledger`: blux-reg files verified from
//! the CLI, with blux-reg's exit codes (0 verified, 1 not verified, 2 usage or unreadable).

use std::path::PathBuf;

use cairn_core::encoding::{hex_encode, sha256};
use serde_json::Value;

use super::Env;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("core/tests/fixtures/blux")
        .join(name)
        .display()
        .to_string()
}

/// The token's own `issued_at`, as Unix seconds (a time at which it is valid).
fn issued_at(token: &str) -> String {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(token).unwrap()).unwrap();
    v["issued_at"].as_str().unwrap().replace("+00:00", "Z")
}

#[test]
fn blux_verify_token_with_blux_reg_exit_codes() {
    let env = Env::new();
    let signer = fixture("signer.pub.pem");
    let other = fixture("other.pub.pem");
    let basic = fixture("token_basic.json");
    let at = issued_at(&basic);

    let v = env.ok(&[
        "blux",
        "verify-token",
        &basic,
        "--key",
        &signer,
        "--at",
        &at,
    ]);
    assert_eq!(v["status"], "verified");
    assert_eq!(
        v["token_hash"],
        "88262af52b743710a10f23cceae20f470f04ad096634242f970c68a9906bcf1a"
    );
    assert_eq!(v["capability"], "publish");
    assert_eq!(v["issuer_pinned"], true);
    assert_eq!(v["revocations_checked"], false);
    // blux-reg's rule (any embedded key) only when asked for.
    let v = env.ok(&["blux", "verify-token", &basic, "--any-issuer", "--at", &at]);
    assert_eq!(v["issuer_pinned"], false);
    let out = env.run(&["blux", "verify-token", &basic, "--any-issuer", "--at", &at]);
    assert!(out.stdout.contains("NOT pinned"), "{}", out.stdout);
    env.fails(&["blux", "verify-token", &basic, "--at", &at], 2, "usage");
    // A keys directory as blux-reg keeps it.
    let keys = env.path("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(&signer, keys.join("signer.pub.pem")).unwrap();
    let kd = keys.display().to_string();
    env.ok(&[
        "blux",
        "verify-token",
        &basic,
        "--keys-dir",
        &kd,
        "--at",
        &at,
    ]);

    // Not verified: exit 1 with cairn's code, whatever the kind of problem.
    env.fails(
        &["blux", "verify-token", &basic, "--key", &signer],
        1,
        "expired",
    );
    env.fails(
        &["blux", "verify-token", &basic, "--key", &other, "--at", &at],
        1,
        "unknown_key",
    );
    let wrong = fixture("token_wrong_fingerprint.json");
    env.fails(
        &[
            "blux",
            "verify-token",
            &wrong,
            "--any-issuer",
            "--at",
            &issued_at(&wrong),
        ],
        1,
        "key_mismatch",
    );
    let reencoded = fixture("token_reencoded.json");
    env.fails(
        &[
            "blux",
            "verify-token",
            &reencoded,
            "--key",
            &signer,
            "--at",
            &issued_at(&reencoded),
        ],
        1,
        "signature_invalid",
    );
    let revoked = fixture("token_revoked.json");
    let rat = issued_at(&revoked);
    let revocations = fixture("token_revocations.jsonl");
    env.ok(&[
        "blux",
        "verify-token",
        &revoked,
        "--key",
        &signer,
        "--at",
        &rat,
    ]);
    // Against a revocations file: the token it names is revoked; a file that is not UTF-8 is
    // a verdict on the inputs, as a bad line in it is (exit 1), never an unreadable file.
    let latin1 = env.write("latin1.jsonl", b"{\"note\": \"caf\xe9\"}\n");
    let bad_line = env.write("bad-line.jsonl", b"not json\n");
    for (file, error) in [
        (&revocations, "revoked"),
        (&latin1, "malformed"),
        (&bad_line, "malformed"),
    ] {
        env.fails(
            &[
                "blux",
                "verify-token",
                &revoked,
                "--key",
                &signer,
                "--at",
                &rat,
                "--revocations",
                file,
            ],
            1,
            error,
        );
    }
    let broken = env.write("broken.json", b"{\"token_type\": \"capability\"");
    env.fails(
        &["blux", "verify-token", &broken, "--any-issuer"],
        1,
        "malformed",
    );
    let huge = env.write("huge.json", &vec![b' '; 2 << 20]);
    env.fails(
        &["blux", "verify-token", &huge, "--any-issuer"],
        1,
        "too_large",
    );
    // Unreadable input and bad arguments: exit 2.
    env.fails(
        &[
            "blux",
            "verify-token",
            &env.p("missing.json"),
            "--any-issuer",
        ],
        2,
        "not_found",
    );
    env.fails(
        &[
            "blux",
            "verify-token",
            &basic,
            "--any-issuer",
            "--at",
            "soon",
        ],
        2,
        "usage",
    );
}

#[test]
fn blux_verify_manifest_and_ledger() {
    let env = Env::new();
    let signer = fixture("signer.pub.pem");
    let dir = env.path("release");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("artifact.txt"), dir.join("artifact.txt")).unwrap();
    std::fs::copy(
        fixture("artifact.txt.blux-manifest.json"),
        dir.join("artifact.txt.blux-manifest.json"),
    )
    .unwrap();
    let manifest = dir
        .join("artifact.txt.blux-manifest.json")
        .display()
        .to_string();

    // The artifact beside the manifest, as blux-reg looks it up.
    let v = env.ok(&["blux", "verify-manifest", &manifest, "--key", &signer]);
    assert_eq!(
        v["manifest_hash"],
        "0bc445367c1ef13bbaa03babb76d8cfa5e660ae5a18f180e51ffe0fbd4b91d97"
    );
    assert_eq!(v["artifact_path"], "artifact.txt");
    env.fails(
        &[
            "blux",
            "verify-manifest",
            &manifest,
            "--key",
            &fixture("other.pub.pem"),
        ],
        1,
        "unknown_key",
    );
    env.fails(&["blux", "verify-manifest", &manifest], 2, "usage");
    // An explicit artifact, from a file or stdin.
    let other = env.write("other.txt", b"not the artifact");
    env.fails(
        &[
            "blux",
            "verify-manifest",
            &manifest,
            "--key",
            &signer,
            "--artifact",
            &other,
        ],
        1,
        "digest_mismatch",
    );
    let a2 = fixture("artifact2.bin");
    env.ok(&[
        "blux",
        "verify-manifest",
        &fixture("artifact2.bin.blux-manifest.json"),
        "--key",
        &signer,
        "--artifact",
        &a2,
    ]);
    // A changed artifact beside it; an artifact_path leading out of the directory.
    std::fs::write(dir.join("artifact.txt"), b"changed").unwrap();
    env.fails(
        &["blux", "verify-manifest", &manifest, "--key", &signer],
        1,
        "digest_mismatch",
    );
    let text = std::fs::read_to_string(&manifest).unwrap();
    let escaped = env.write(
        "escape.blux-manifest.json",
        text.replace("\"artifact.txt\"", "\"../etc/passwd\"")
            .as_bytes(),
    );
    env.fails(
        &["blux", "verify-manifest", &escaped, "--key", &signer],
        1,
        "malformed",
    );

    // The ledger: fixture verifies with blux-reg's head; an edit is chain_broken (exit 1).
    let ledger = fixture("ledger.jsonl");
    let v = env.ok(&["blux", "verify-ledger", &ledger]);
    assert_eq!(v["entries"], 10);
    assert_eq!(
        v["head"],
        "f2ecc53d93902d910217579af42314a4ed8d705e73a01a25b7b59dccda1294a9"
    );
    let body = std::fs::read(&ledger).unwrap();
    assert_eq!(v["sha256"], hex_encode(&sha256(&[&body])));
    let out = env.run(&["blux", "verify-ledger", &ledger]);
    assert!(
        out.stdout.starts_with("ledger ok: 10 entries"),
        "{}",
        out.stdout
    );
    let text = String::from_utf8(body).unwrap();
    let edited = env.write(
        "edited.jsonl",
        text.replacen("\"action\":\"", "\"action\":\"x", 1)
            .as_bytes(),
    );
    env.fails(&["blux", "verify-ledger", &edited], 1, "chain_broken");
    let cut = env.write("cut.jsonl", &text.as_bytes()[..text.len() / 2]);
    env.fails(&["blux", "verify-ledger", &cut], 1, "malformed");
    env.fails(
        &["blux", "verify-ledger", &env.p("none.jsonl")],
        2,
        "not_found",
    );
    let empty = env.write("empty.jsonl", b"");
    assert_eq!(env.ok(&["blux", "verify-ledger", &empty])["entries"], 0);
}
