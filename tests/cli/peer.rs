//! `cairn peer`: two registries exchanging keys through files, first use, a changed key
//! refused until an operator accepts it, bootstrap pins, replay refused, list/show/remove.

use ml_kem::KeyExport;
use serde_json::{json, Value};

use super::Env;

/// The registry's own peer signing key, `me` (ML-DSA-65).
fn signing_key(env: &Env) {
    env.ok(&[
        "key",
        "generate",
        "--label",
        "me",
        "--role",
        "peer",
        "--algorithm",
        "ml-dsa-65",
        "--insecure-no-passphrase",
    ]);
}

/// A registry that is peer `id`, its KEM key derived from `n`.
fn peer(id: &str, n: u8) -> Env {
    let env = Env::new();
    env.insecure_registry();
    signing_key(&env);
    let mut seed = [n; 64];
    seed[32..].fill(n ^ 0x33);
    let dk = ml_kem::DecapsulationKey768::from_seed(seed.into());
    let ek = dk.encapsulation_key().to_bytes();
    let kem = env.write("me.kem", &ek);
    let v = env.ok(&["peer", "init", "--id", id, "--key", "me", "--kem-key", &kem]);
    assert_eq!(v["peer_id"], id);
    env
}

/// `a` asks `b` (peer id `b_id`) for its keys; returns the path of b's response in a's dir.
fn exchange(a: &Env, b: &Env, b_id: &str) -> String {
    let req = a.p("req.bin");
    let v = a.ok(&["peer", "request", b_id, "--again", "--out", &req]);
    assert_eq!(v["requested"], true);
    let bytes = std::fs::read(&req).unwrap();
    let req_b = b.write("req.bin", &bytes);
    let resp_b = b.p("resp.bin");
    b.ok(&["peer", "respond", &req_b, "--out", &resp_b]);
    a.write("resp.bin", &std::fs::read(&resp_b).unwrap())
}

/// `a`'s trust root rotated to pin `b`'s key as peer `b_id`: imported with role peer,
/// labelled with the peer id; `rotate_args` go to `root rotate`.
fn pin_in_root(a: &Env, b: &Env, b_id: &str, rotate_args: &[&str]) {
    let pem = b.run(&["key", "export", "me"]).stdout;
    let pem_file = a.write(&format!("{b_id}.pem"), pem.as_bytes());
    a.ok(&[
        "key", "import", "--public", &pem_file, "--label", b_id, "--role", "peer",
    ]);
    let mut args = vec![
        "root", "rotate", "--key", "root", "--key", "log", "--key", b_id,
    ];
    args.extend_from_slice(rotate_args);
    a.ok(&args);
}

fn key_id(env: &Env) -> String {
    env.ok(&["key", "show", "me"])["key"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn peer_exchange_first_use_change_accept_remove() {
    let a = peer("node-a", 1);
    let b = peer("node-b", 2);
    // Without a vouching rule the key is stored, not verified.
    let resp = exchange(&a, &b, "node-b");
    let v = a.ok(&["peer", "receive", &resp]);
    assert_eq!(v["verified"], false);
    assert_eq!(v["peer"]["verified"], Value::Null);
    // The same response again: replayed (exit 1).
    a.fails(
        &["peer", "receive", &resp, "--trust-on-first-use"],
        1,
        "replayed",
    );
    // A fresh response with the same key, nothing vouching still: stored unverified again,
    // the same answer as the first time (not a refusal).
    let again = exchange(&a, &b, "node-b");
    let v = a.ok(&["peer", "receive", &again]);
    assert_eq!(v["verified"], false);
    assert_eq!(v["peer"]["verified"], Value::Null);
    // The operator accepts it.
    let b_key = key_id(&b);
    let v = a.ok(&["peer", "accept", "node-b", &b_key]);
    assert_eq!(v["peer"]["verified"]["rule"], "operator_accepted");
    // Nothing to request now, unless asked again.
    let v = a.ok(&["peer", "request", "node-b", "--out", &a.p("r2.bin")]);
    assert_eq!(v["requested"], false);

    // node-b reinstalled with a new key: refused with both key ids, kept as proposed.
    let b2 = peer("node-b", 3);
    let resp = exchange(&a, &b2, "node-b");
    let v = a.fails(
        &["peer", "receive", &resp, "--trust-on-first-use"],
        1,
        "key_changed",
    );
    let b2_key = key_id(&b2);
    let msg = v["message"].as_str().unwrap();
    assert!(msg.contains(&b_key) && msg.contains(&b2_key), "{msg}");
    let v = a.ok(&["peer", "show", "node-b"]);
    assert_eq!(v["peer"]["key_id"], b_key.as_str());
    assert_eq!(v["peer"]["proposed_key_id"], b2_key.as_str());
    a.ok(&["peer", "accept", "node-b", &b2_key]);
    let v = a.ok(&["peer", "list", "--verified"]);
    assert_eq!(v["peers"][0]["key_id"], b2_key.as_str());
    assert_eq!(v["peers"][0]["legacy"], false);
    // The ledger recorded the change.
    let text = a.run(&["ledger", "tail", "-n", "3"]).stdout;
    assert!(
        text.contains("peer_key_removed") && text.contains("peer_key_verified"),
        "{text}"
    );

    a.ok(&["peer", "remove", "node-b", "--reason", "gone"]);
    a.fails(&["peer", "show", "node-b"], 2, "not_found");
    assert_eq!(a.ok(&["peer", "list"])["peers"], serde_json::json!([]));
    a.ok(&["check"]);
}

#[test]
fn peer_bootstrap_pin_and_transparency_proof() {
    let a = peer("node-a", 1);
    let b = peer("node-b", 2);
    let mallory = peer("node-b", 4);
    // a's trust root pins node-b's key.
    pin_in_root(&a, &b, "node-b", &["--out", &a.p("root2.json")]);
    let resp = exchange(&a, &mallory, "node-b");
    a.fails(
        &[
            "peer",
            "receive",
            &resp,
            "--bootstrap-root",
            &a.p("root2.json"),
            "--trust-on-first-use",
        ],
        1,
        "key_mismatch",
    );
    // Without --bootstrap-root, the registry's own trust root (now root2) pins node-b: first
    // use does not take a stranger's key for it.
    let resp = exchange(&a, &mallory, "node-b");
    a.fails(
        &["peer", "receive", &resp, "--trust-on-first-use"],
        1,
        "key_mismatch",
    );
    let resp = exchange(&a, &b, "node-b");
    let v = a.ok(&["peer", "receive", &resp]);
    assert_eq!(v["rule"], "bootstrap");
    let resp = exchange(&a, &b, "node-b");
    let v = a.ok(&[
        "peer",
        "receive",
        &resp,
        "--bootstrap-root",
        &a.p("root2.json"),
    ]);
    assert_eq!(v["rule"], "bootstrap");

    // A third registry checks node-b's key offline from node-b's own log.
    let c = peer("node-c", 5);
    let b_root = c.write("b-root.json", &std::fs::read(b.p("root.json")).unwrap());
    let respond = |n: u32| {
        let req = c.p(&format!("req{n}.bin"));
        c.ok(&["peer", "request", "node-b", "--out", &req]);
        let req_b = b.write(&format!("req-c{n}.bin"), &std::fs::read(&req).unwrap());
        let out = b.p(&format!("resp-c{n}.cbdl"));
        b.ok(&["peer", "respond", &req_b, "--with-proof", "--out", &out]);
        c.write(&format!("resp{n}.cbdl"), &std::fs::read(out).unwrap())
    };
    // B's log vouches for B's keys only: trusted as another peer's log, it vouches for
    // nothing, and the key is stored unverified like any key nothing vouches for.
    c.fails(
        &["peer", "receive", &respond(1), "--log-root", &b_root],
        2,
        "usage",
    );
    let as_other = format!("node-x={b_root}");
    let v = c.ok(&["peer", "receive", &respond(2), "--log-root", &as_other]);
    assert_eq!(
        (v["verified"].clone(), v["rule"].clone()),
        (json!(false), Value::Null)
    );
    let as_b = format!("node-b={b_root}");
    // A checkpoint older than --max-age is stale (node-b's newest entry is a second old, at
    // least), and stores nothing.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    c.fails(
        &[
            "peer",
            "receive",
            &respond(3),
            "--log-root",
            &as_b,
            "--max-age",
            "0",
        ],
        1,
        "stale",
    );
    let v = c.ok(&[
        "peer",
        "receive",
        &respond(4),
        "--log-root",
        &as_b,
        "--max-age",
        "3600",
    ]);
    assert_eq!(v["rule"], "transparency");
    assert_eq!(v["verified"], true);
    // The key proven not revoked as of the (version 2) bundle's checkpoint.
    assert!(v["vouch"]["not_revoked_as_of"].is_u64(), "{v}");
}

/// The registry's own trust root, once expired, pins nothing for `peer receive` (and says
/// so) rather than failing every response as expired, and turns first use off, so that the
/// peer it pinned cannot be taken by a stranger's key; one given with --bootstrap-root is
/// held to its validity.
#[test]
fn an_expired_own_root_pins_nothing_and_says_so() {
    let a = peer("node-a", 1);
    let b = peer("node-b", 2);
    let mallory = peer("node-b", 4);
    // a's own root pins node-b's key, for a second.
    pin_in_root(
        &a,
        &b,
        "node-b",
        &["--expires-in", "1s", "--out", &a.p("short.json")],
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    // Mallory, as node-b, asking for first use: stored unverified, never pinned.
    let resp = exchange(&a, &mallory, "node-b");
    let out = a.run(&["peer", "receive", &resp, "--trust-on-first-use", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["verified"], false, "{}", out.stdout);
    // --json says why, too.
    let warned = out.json()["warnings"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(warned.contains("trust root has expired"), "{}", out.stdout);
    let out = a.run(&[
        "peer",
        "receive",
        &exchange(&a, &b, "node-b"),
        "--trust-on-first-use",
    ]);
    assert!(
        out.stderr.contains("trust root has expired"),
        "{}",
        out.stderr
    );
    // A root given on purpose is held to its validity.
    let resp = exchange(&a, &b, "node-b");
    a.fails(
        &[
            "peer",
            "receive",
            &resp,
            "--bootstrap-root",
            &a.p("short.json"),
        ],
        1,
        "expired",
    );
}

/// A key-transparency bundle under a checkpoint its log signed with a classical key alone is
/// refused by default (`threshold_not_met`, as `bundle verify` refuses it), and vouches with
/// `--allow-classical-checkpoint`.
#[test]
fn a_classical_checkpoint_vouches_only_when_allowed() {
    // node-d's log signs with Ed25519 alone.
    let d = Env::new();
    d.ok(&[
        "init",
        "--origin",
        "d.example/log",
        "--log-algorithm",
        "ed25519",
        "--insecure-no-passphrase",
    ]);
    signing_key(&d);
    d.ok(&[
        "key",
        "generate",
        "--label",
        "root",
        "--role",
        "root",
        "--insecure-no-passphrase",
    ]);
    let kem = d.write("me.kem", &[7u8; 1184]);
    d.ok(&[
        "peer",
        "init",
        "--id",
        "node-d",
        "--key",
        "me",
        "--kem-key",
        &kem,
    ]);
    d.ok(&["root", "create", "--out", &d.p("root.json")]);
    let c = peer("node-c", 5);
    let d_root = format!(
        "node-d={}",
        c.write("d-root.json", &std::fs::read(d.p("root.json")).unwrap())
    );
    let respond = |n: u32| {
        let req = c.p(&format!("req-d{n}.bin"));
        c.ok(&["peer", "request", "node-d", "--again", "--out", &req]);
        let req_d = d.write(&format!("req{n}.bin"), &std::fs::read(&req).unwrap());
        let out = d.p(&format!("resp{n}.cbdl"));
        d.ok(&["peer", "respond", &req_d, "--with-proof", "--out", &out]);
        c.write(&format!("resp-d{n}.cbdl"), &std::fs::read(out).unwrap())
    };
    let e = c.fails(
        &["peer", "receive", &respond(1), "--log-root", &d_root],
        1,
        "threshold_not_met",
    );
    assert!(e["message"].as_str().unwrap().contains("ML-DSA"), "{e}");
    let v = c.ok(&[
        "peer",
        "receive",
        &respond(2),
        "--log-root",
        &d_root,
        "--allow-classical-checkpoint",
    ]);
    assert_eq!(
        (v["verified"].clone(), v["rule"].clone()),
        (json!(true), json!("transparency"))
    );
}

#[test]
fn peer_refusals_are_typed() {
    let a = peer("node-a", 1);
    a.fails(&["peer", "accept", "node-x", "zz"], 2, "malformed");
    a.fails(
        &["peer", "accept", "node-x", &"ab".repeat(32)],
        2,
        "not_found",
    );
    let junk = a.write("junk.bin", b"CDSE\x01\x02");
    a.fails(
        &["peer", "respond", &junk, "--out", &a.p("o.bin")],
        2,
        "malformed",
    );
    a.fails(&["peer", "receive", &junk], 2, "malformed");
    let bad_kem = a.write("bad.kem", &[0xff; 1184]);
    a.fails(
        &[
            "peer",
            "init",
            "--id",
            "x",
            "--key",
            "me",
            "--kem-key",
            &bad_kem,
        ],
        1,
        "invalid_key",
    );
}

/// `peer init` again with a new key re-keys the identity (its id kept), and says the old key
/// keeps vouching until it is revoked; revoked first, nothing is said.
#[test]
fn peer_init_re_keys_the_identity_and_warns_of_an_unrevoked_old_key() {
    let a = peer("node-a", 1);
    let new_key = |label: &str| {
        a.ok(&[
            "key",
            "generate",
            "--label",
            label,
            "--role",
            "peer",
            "--algorithm",
            "ml-dsa-65",
            "--insecure-no-passphrase",
        ])["key"]["key_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let kem = a.p("me.kem");
    let init = |id: &str, key: &str| -> Vec<String> {
        ["peer", "init", "--id", id, "--key", key, "--kem-key", &kem]
            .map(String::from)
            .to_vec()
    };
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let me2 = new_key("me-2");
    a.fails(&args(&init("node-b", "me-2")), 2, "invalid_state");
    let v = a.ok(&args(&init("node-a", "me-2")));
    assert_eq!(v["key_id"], me2.as_str());
    assert!(
        v["warnings"][0].as_str().unwrap().contains("not revoked"),
        "{v}"
    );
    a.fails(&args(&init("node-a", "me-2")), 2, "already_exists");
    // Revoked before the next re-key: nothing to warn of.
    new_key("me-3");
    a.ok(&[
        "key",
        "revoke",
        "me-2",
        "--reason",
        "leaked",
        "--revoker",
        "me-2",
    ]);
    let v = a.ok(&args(&init("node-a", "me-3")));
    assert_eq!(v["warnings"], json!([]), "{v}");
    a.ok(&["ledger", "audit"]);
}
