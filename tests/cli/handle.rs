//! `cairn handle register|resolve|check` against a real `cairn serve` with `[envelope]` on a
//! loopback port: registration (new, unchanged, taken), existence checks, resolution opened
//! with the client's ephemeral key (devices included), the proof of work solved when the
//! service asks for one, the client's refusals (bad handle, bad identity, bad URL, no
//! service), and the X-Wing suite with an envelope key sealed in the registry (`cairn handle
//! key generate|list`).

use std::time::Duration;

use serde_json::{json, Value};

use super::serve::{agent, free_port, start_server, start_server_with, Serving};
use super::Env;

/// A registry and a `cairn serve` on a free loopback port with the handle registry enabled
/// (and `[pow]` with `difficulty` bits when given); returns the server and its base URL.
fn serve_handles(env: &Env, pow: Option<u8>) -> (Serving, String) {
    env.ok(&[
        "init",
        "--origin",
        "handles.example/log",
        "--insecure-no-passphrase",
    ]);
    let port = free_port();
    let mut cfg = format!(
        "address = \"127.0.0.1:{port}\"\n[rate_limit]\nenabled = false\n\
         [envelope]\npepper_hex = \"{}\"\n\
         keys = [{{ x25519_private_key_hex = \"{}\", active = true }}]\n",
        "5a".repeat(32),
        "c3".repeat(32)
    );
    if let Some(bits) = pow {
        cfg.push_str(&format!(
            "[pow]\nenabled = true\ndifficulty = {bits}\nttl_seconds = 120\n"
        ));
    }
    let cfg = env.write("serve.toml", cfg.as_bytes());
    let base = format!("http://127.0.0.1:{port}");
    (start_server(env, &cfg, &base), base)
}

#[test]
fn register_check_and_resolve_a_handle_against_cairn_serve() {
    let env = Env::new();
    let (_server, base) = serve_handles(&env, None);
    let s = base.as_str();
    let key = "ab".repeat(32);

    // A new registration: the identity has no handle member, the normalised one is added.
    let id = env.write(
        "alice.json",
        format!("{{\n  \"device_pubkey\": \"{key}\"\n}}\n").as_bytes(),
    );
    let v = env.ok(&[
        "handle",
        "register",
        "  Ａlice ",
        "--identity",
        &id,
        "--server",
        s,
    ]);
    assert_eq!(v["handle"], "alice", "{v}");
    assert_eq!(v["status"], "registered", "{v}");
    assert!(v["seq"].as_u64().is_some(), "{v}");
    assert_eq!(v["kid"].as_str().map(str::len), Some(16), "{v}");

    // The same identity again (from stdin, written compactly, with the handle): unchanged.
    let again = env.run_in(
        &[
            "handle",
            "register",
            "alice",
            "--identity",
            "-",
            "--server",
            &format!("{s}/"),
        ],
        Some(&format!(
            "{{\"handle\":\"alice\",\"device_pubkey\":\"{key}\"}}"
        )),
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("alice: unchanged"),
        "{}",
        again.stdout
    );

    // Another identity for the held handle: 409 already_exists, exit 1, nothing changed.
    let other = env.write(
        "mallory.json",
        format!(
            "{{\"handle\":\"ALICE\",\"device_pubkey\":\"{}\"}}",
            "cd".repeat(32)
        )
        .as_bytes(),
    );
    let v = env.fails(
        &[
            "handle",
            "register",
            "alice",
            "--identity",
            &other,
            "--server",
            s,
        ],
        1,
        "already_exists",
    );
    assert_eq!(v["field"], "handle", "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("already registered"),
        "{v}"
    );
    let text = env.run(&[
        "handle",
        "register",
        "alice",
        "--identity",
        &other,
        "--server",
        s,
    ]);
    assert_eq!(text.code, 1);
    assert!(
        text.stderr.starts_with("cairn: already_exists: "),
        "{}",
        text.stderr
    );

    // The client's own refusals, before anything is sent.
    let v = env.fails(
        &[
            "handle",
            "register",
            "bob",
            "--identity",
            &other,
            "--server",
            s,
        ],
        2,
        "malformed",
    );
    assert_eq!(v["field"], "identity.handle", "{v}");
    let list = env.write("list.json", b"[1, 2]");
    let v = env.fails(
        &[
            "handle",
            "register",
            "bob",
            "--identity",
            &list,
            "--server",
            s,
        ],
        2,
        "malformed",
    );
    assert_eq!(v["field"], "identity", "{v}");
    let v = env.fails(
        &["handle", "check", "a\u{200B}b", "--server", s],
        2,
        "malformed",
    );
    assert_eq!(v["field"], "handle", "{v}");
    env.fails(
        &[
            "handle",
            "register",
            "bob",
            "--identity",
            &env.p("missing.json"),
            "--server",
            s,
        ],
        2,
        "not_found",
    );

    // Existence.
    let v = env.ok(&["handle", "check", "Alice", "--server", s]);
    assert_eq!(
        (v["handle"].as_str(), v["exists"].as_bool()),
        (Some("alice"), Some(true))
    );
    assert_eq!(v["pow"], Value::Null);
    let v = env.ok(&["handle", "check", "bob", "--server", s]);
    assert_eq!(v["exists"], false, "{v}");
    let t = env.run(&["handle", "check", "bob", "--server", s]);
    assert_eq!((t.code, t.stdout.trim()), (0, "bob: does not exist"));

    // Resolution: the identity as registered, and a device once it announces itself.
    let identity = json!({"handle": "alice", "device_pubkey": key});
    let v = env.ok(&["handle", "resolve", "alice", "--server", s]);
    assert_eq!(v["found"], true, "{v}");
    assert_eq!(v["identity"], identity, "{v}");
    assert_eq!(v["devices"], json!([]), "{v}");
    let r = agent(Duration::from_secs(10))
        .post(&format!("{s}/announce"))
        .header("content-type", "application/json")
        .send(r#"{"handle":"alice","device_id":"phone-1","endpoint":"https://phone.example/a"}"#)
        .expect("announce");
    assert_eq!(r.status(), 200);
    let v = env.ok(&["handle", "resolve", "alice", "--server", s]);
    assert_eq!(v["identity"], identity, "{v}");
    assert_eq!(v["devices"][0]["device_id"], "phone-1", "{v}");
    assert_eq!(
        v["devices"][0]["endpoint"], "https://phone.example/a",
        "{v}"
    );
    let t = env.run(&["handle", "resolve", "alice", "--server", s]);
    assert_eq!(t.code, 0, "{}", t.stderr);
    assert!(
        t.stdout.starts_with("alice: found\nidentity: {"),
        "{}",
        t.stdout
    );
    assert!(
        t.stdout.contains("phone-1  https://phone.example/a"),
        "{}",
        t.stdout
    );
    let v = env.ok(&["handle", "resolve", "bob", "--server", s]);
    assert_eq!(
        (&v["found"], &v["identity"], &v["devices"]),
        (&json!(false), &Value::Null, &json!([]))
    );
    let t = env.run(&["handle", "resolve", "bob", "--server", s]);
    assert_eq!((t.code, t.stdout.trim()), (0, "bob: not found"));
}

#[test]
fn resolve_and_check_solve_the_proof_of_work_the_service_asks_for() {
    let env = Env::new();
    let (_server, base) = serve_handles(&env, Some(8));
    let s = base.as_str();
    let id = env.write("carol.json", br#"{"handle":"carol","k":1}"#);
    // Registration needs no proof of work.
    let v = env.ok(&[
        "handle",
        "register",
        "carol",
        "--identity",
        &id,
        "--server",
        s,
    ]);
    assert_eq!(v["status"], "registered", "{v}");
    let v = env.ok(&["handle", "resolve", "carol", "--server", s]);
    assert_eq!(v["identity"], json!({"handle": "carol", "k": 1}), "{v}");
    assert_eq!(v["pow"]["difficulty"], 8, "{v}");
    let v = env.ok(&["handle", "check", "carol", "--server", s]);
    assert_eq!(
        (v["exists"].as_bool(), &v["pow"]["difficulty"]),
        (Some(true), &json!(8))
    );
    let t = env.run(&["handle", "check", "dave", "--server", s]);
    assert_eq!(t.code, 0, "{}", t.stderr);
    assert!(t
        .stdout
        .starts_with("dave: does not exist\nsolved a proof of work of 8 bits"));
    // More work than the client is willing to do: refused before solving.
    let v = env.fails(
        &[
            "handle",
            "check",
            "carol",
            "--server",
            s,
            "--max-pow-difficulty",
            "4",
        ],
        2,
        "pow_required",
    );
    assert!(v["message"].as_str().unwrap().contains("8 bits"), "{v}");
}

#[test]
fn handle_commands_refuse_bad_servers() {
    let env = Env::new();
    let id = env.write("erin.json", br#"{"handle":"erin"}"#);
    for bad in ["ftp://127.0.0.1:1", "127.0.0.1:8080", "http://", ""] {
        env.fails(&["handle", "check", "erin", "--server", bad], 2, "usage");
        env.fails(
            &[
                "handle",
                "register",
                "erin",
                "--identity",
                &id,
                "--server",
                bad,
            ],
            2,
            "usage",
        );
    }
    // Nothing listens: a network error (exit 2), within the timeout.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let v = env.fails(
        &[
            "handle",
            "resolve",
            "erin",
            "--server",
            &closed,
            "--timeout",
            "5",
        ],
        2,
        "io",
    );
    assert!(v["message"].as_str().unwrap().contains("POST"), "{v}");
    // A cairn service without [envelope]: its 404 not_found, with its message.
    env.ok(&[
        "init",
        "--origin",
        "plain.example/log",
        "--insecure-no-passphrase",
    ]);
    let (cfg, base) = super::serve::loopback_config(&env);
    let _server = start_server(&env, &cfg, &base);
    let v = env.fails(
        &[
            "handle",
            "register",
            "erin",
            "--identity",
            &id,
            "--server",
            &base,
        ],
        2,
        "not_found",
    );
    assert!(v["message"].as_str().unwrap().contains("[envelope]"), "{v}");
}

#[test]
fn xwing_with_an_envelope_key_sealed_in_the_registry() {
    let env = Env::new();
    env.ok(&[
        "init",
        "--origin",
        "handles.example/log",
        "--insecure-no-passphrase",
    ]);
    let v = env.ok(&["handle", "key", "list"]);
    assert_eq!(v["envelope_keys"], json!([]));
    let pass = env.write("key.pass", b"envelope key passphrase\n");
    let fast = [
        "--key-passphrase-file",
        pass.as_str(),
        "--insecure-fast-kdf",
    ];
    let mut args = vec!["handle", "key", "generate", "--suite", "xwing"];
    args.extend(fast);
    let v = env.ok(&args);
    let k = &v["envelope_key"];
    assert_eq!(k["suite"], "xwing-hkdf-sha256-chacha20poly1305");
    assert_eq!(k["sealed"], true);
    assert_eq!(k["public_key_hex"].as_str().unwrap().len(), 2 * 1216);
    let kid = k["kid_hex"].as_str().unwrap().to_owned();
    let v = env.ok(&["handle", "key", "list"]);
    assert_eq!(v["envelope_keys"][0]["kid_hex"], kid.as_str());
    // Without a passphrase, generation is refused (no key is stored in the clear unasked).
    env.fails(&["handle", "key", "generate"], 2, "passphrase_required");
    let v = env.ok(&["handle", "key", "list"]);
    assert_eq!(v["envelope_keys"].as_array().unwrap().len(), 1);

    let port = free_port();
    let cfg = format!(
        "address = \"127.0.0.1:{port}\"\n[rate_limit]\nenabled = false\n\
         [envelope]\npepper_hex = \"{}\"\n\
         keys = [{{ x25519_private_key_hex = \"{}\", active = true }}, {{ sealed_kid_hex = \"{kid}\", active = true }}]\n",
        "5a".repeat(32),
        "c3".repeat(32)
    );
    let cfg = env.write("serve.toml", cfg.as_bytes());
    let base = format!("http://127.0.0.1:{port}");
    // cairn serve asks for the key passphrase the sealed key needs; without one it stops.
    let t = env.run(&["serve", "--config", &cfg]);
    assert_ne!(t.code, 0);
    assert!(t.stderr.contains("passphrase"), "{}", t.stderr);
    let _server = start_server_with(&env, &cfg, &base, &["--key-passphrase-file", &pass]);
    let s = base.as_str();

    let id = env.write("alice.json", br#"{"device_pubkey":"pq-device"}"#);
    let v = env.ok(&[
        "handle",
        "register",
        "alice",
        "--identity",
        &id,
        "--suite",
        "xwing",
        "--server",
        s,
    ]);
    assert_eq!(
        (v["status"].as_str(), v["kid"].as_str()),
        (Some("registered"), Some(kid.as_str()))
    );
    assert_eq!(v["suite"], "xwing-hkdf-sha256-chacha20poly1305");
    for suite in ["xwing", "x25519"] {
        let v = env.ok(&[
            "handle", "resolve", "alice", "--suite", suite, "--server", s,
        ]);
        assert_eq!(v["found"], true, "{v}");
        assert_eq!(v["identity"]["device_pubkey"], "pq-device");
    }
}
