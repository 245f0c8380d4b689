//! Trust roots and rotation chains: behaviour tests and the frozen vectors in
//! tests/vectors/trust.json (regenerate with CAIRN_REGEN_VECTORS=1).

mod support;

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{b64_encode, hex_encode, sha256};
use cairn_core::ledger::LEDGER_ENTRY_TYPE;
use cairn_core::trust::*;
use cairn_core::{ErrorCode, Result};
use serde_json::{json, Value};
use support::vectors::{self, b64};

const T0: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY: u64 = 86_400;
const NOW: u64 = T0 + 180 * DAY;
const ORIGIN: &str = "registry.example/log";

fn key(alg: Algorithm, n: u8) -> SigningKey {
    SigningKey::from_seed(alg, &[n; 32])
}
fn ed(n: u8) -> SigningKey {
    key(Algorithm::Ed25519, n)
}

fn tk(k: &SigningKey, roles: &[Role], label: &str) -> TrustedKey {
    TrustedKey::new(k.public_key().clone(), RoleSet::of(roles), label)
}

fn thr(root: u8, checkpoint: u8) -> Thresholds {
    Thresholds::default()
        .with(Role::Root, root)
        .with(Role::Checkpoint, checkpoint)
}

fn root(
    v: u64,
    prev: Option<&TrustRoot>,
    issued: u64,
    expires: u64,
    keys: Vec<TrustedKey>,
    t: Thresholds,
) -> TrustRoot {
    TrustRoot {
        version: TRUST_ROOT_VERSION,
        root_version: v,
        origin: ORIGIN.into(),
        issued_at: issued,
        expires_at: expires,
        keys,
        thresholds: t,
        previous: prev.map(TrustRoot::id),
    }
}

/// Signs the payload of `root` as is (no validation), deterministically.
fn sign_raw(payload: Vec<u8>, payload_type: &str, keys: &[&SigningKey]) -> Envelope {
    let mut env = Envelope::new(payload_type, payload).unwrap();
    for k in keys {
        env.sign_deterministic(k).unwrap();
    }
    env
}

fn sign(r: &TrustRoot, keys: &[&SigningKey]) -> Envelope {
    r.validate().unwrap();
    sign_raw(r.to_bytes(), TRUST_ROOT_TYPE, keys)
}

fn flip_in(mut bytes: Vec<u8>, needle: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle");
    bytes[at] ^= 0x01;
    bytes
}

fn case(name: &str, pinned: &[u8], chain: &[Vec<u8>], now: u64, expect: Value) -> Value {
    json!({"name": name, "op": "verify_trust_root_chain",
           "args": {"pinned": b64_encode(pinned),
                    "chain": chain.iter().map(|e| b64_encode(e)).collect::<Vec<_>>(),
                    "now": now},
           "expect": expect})
}

fn ok(r: &TrustRoot) -> Value {
    json!({"ok": true, "version": r.root_version, "root_id": hex_encode(&r.id())})
}

fn err(code: &str) -> Value {
    json!({"error": code})
}

fn c(env: &Envelope) -> Vec<u8> {
    env.to_compact()
}

fn generate() -> Value {
    let mut cases = Vec::new();

    // Chain E: Ed25519 throughout.
    let (e1, e2, ec) = (ed(0x31), ed(0x33), ed(0x32));
    let r_e1 = root(
        1,
        None,
        T0,
        T0 + 365 * DAY,
        vec![
            tk(&e1, &[Role::Root], "root 2026"),
            tk(&ec, &[Role::Checkpoint, Role::TokenIssuer], "log"),
        ],
        thr(1, 1).with(Role::TokenIssuer, 1),
    );
    let env_e1 = sign(&r_e1, &[&e1]);
    let r_e2 = root(
        2,
        Some(&r_e1),
        T0 + 30 * DAY,
        T0 + 400 * DAY,
        vec![
            tk(&e2, &[Role::Root], "root 2026b"),
            tk(&ec, &[Role::Checkpoint], "log"),
        ],
        thr(1, 1),
    );
    let env_e2 = sign(&r_e2, &[&e1, &e2]);

    // Chain M: ML-DSA-44 throughout.
    let (m1, m2) = (key(Algorithm::MlDsa44, 0x41), key(Algorithm::MlDsa44, 0x42));
    let r_m1 = root(
        1,
        None,
        T0,
        T0 + 365 * DAY,
        vec![tk(&m1, &[Role::Root, Role::Checkpoint], "pq root 1")],
        thr(1, 1),
    );
    let env_m1 = sign(&r_m1, &[&m1]);
    let r_m2 = root(
        2,
        Some(&r_m1),
        T0 + 30 * DAY,
        T0 + 200 * DAY,
        vec![tk(&m2, &[Role::Root, Role::Checkpoint], "pq root 2")],
        thr(1, 1),
    );
    let env_m2 = sign(&r_m2, &[&m1, &m2]);

    // Chain X: migration Ed25519 -> ML-DSA-44 -> Ed25519+ML-DSA-65.
    let (x1, x2, x3) = (
        ed(0x51),
        key(Algorithm::MlDsa44, 0x52),
        key(Algorithm::Ed25519MlDsa65, 0x53),
    );
    let xc = ed(0x54);
    let r_x1 = root(
        1,
        None,
        T0,
        T0 + 100 * DAY,
        vec![
            tk(&x1, &[Role::Root], "classic root"),
            tk(&xc, &[Role::Checkpoint], "log"),
        ],
        thr(1, 1),
    );
    let r_x2 = root(
        2,
        Some(&r_x1),
        T0 + 50 * DAY,
        T0 + 200 * DAY,
        vec![
            tk(&x2, &[Role::Root], "pq root"),
            tk(&xc, &[Role::Checkpoint], "log"),
        ],
        thr(1, 1),
    );
    let mut xc3 = tk(&xc, &[Role::Checkpoint, Role::ManifestSigner], "log");
    xc3.not_before = T0 + 150 * DAY;
    xc3.not_after = Some(T0 + 500 * DAY);
    let r_x3 = root(
        3,
        Some(&r_x2),
        T0 + 150 * DAY,
        T0 + 400 * DAY,
        vec![tk(&x3, &[Role::Root], "hybrid root"), xc3],
        thr(1, 1).with(Role::ManifestSigner, 1),
    );
    let (env_x1, env_x2, env_x3) = (
        sign(&r_x1, &[&x1]),
        sign(&r_x2, &[&x1, &x2]),
        sign(&r_x3, &[&x2, &x3]),
    );

    // Chain T: 2-of-3 root keys with overlapping sets.
    let [a, b, cc, dd, ee] = [0x61, 0x62, 0x63, 0x64, 0x65].map(ed);
    let root3 = |ks: [&SigningKey; 3]| {
        ks.iter()
            .enumerate()
            .map(|(i, k)| tk(k, &[Role::Root], &format!("root {i}")))
            .collect::<Vec<_>>()
    };
    let r_t1 = root(1, None, T0, T0 + 365 * DAY, root3([&a, &b, &cc]), thr(2, 0));
    let r_t2 = root(
        2,
        Some(&r_t1),
        T0 + 30 * DAY,
        T0 + 365 * DAY,
        root3([&b, &cc, &dd]),
        thr(2, 0),
    );
    let r_t3 = root(
        3,
        Some(&r_t2),
        T0 + 60 * DAY,
        T0 + 365 * DAY,
        root3([&cc, &dd, &ee]),
        thr(2, 0),
    );
    let env_t1 = sign(&r_t1, &[&a, &b]);
    let env_t2 = sign(&r_t2, &[&a, &b, &cc, &dd]);
    let env_t3 = sign(&r_t3, &[&b, &cc, &dd, &ee]);

    // Valid chains.
    cases.push(case(
        "single ed25519 root, empty chain",
        &c(&env_e1),
        &[],
        NOW,
        ok(&r_e1),
    ));
    cases.push(case(
        "ed25519 root rotated once",
        &c(&env_e1),
        &[c(&env_e2)],
        NOW,
        ok(&r_e2),
    ));
    cases.push(case(
        "ml-dsa-44 root rotated once",
        &c(&env_m1),
        &[c(&env_m2)],
        NOW,
        ok(&r_m2),
    ));
    cases.push(case(
        "three versions: ed25519, ml-dsa-44, ed25519+ml-dsa-65",
        &c(&env_x1),
        &[c(&env_x2), c(&env_x3)],
        NOW,
        ok(&r_x3),
    ));
    cases.push(case(
        "three versions; only the newest is unexpired",
        &c(&env_x1),
        &[c(&env_x2), c(&env_x3)],
        T0 + 300 * DAY,
        ok(&r_x3),
    ));
    cases.push(case(
        "pinned at version 2, chain to 3",
        &c(&env_x2),
        &[c(&env_x3)],
        NOW,
        ok(&r_x3),
    ));
    cases.push(case(
        "2-of-3 root keys over three versions",
        &c(&env_t1),
        &[c(&env_t2), c(&env_t3)],
        NOW,
        ok(&r_t3),
    ));
    cases.push(case(
        "pinned root in DSSE JSON form",
        env_e1.to_json().as_bytes(),
        &[c(&env_e2)],
        NOW,
        ok(&r_e2),
    ));

    // Missing signatures.
    cases.push(case(
        "rotation lacks the previous root keys' signatures",
        &c(&env_m1),
        &[c(&sign(&r_m2, &[&m2]))],
        NOW,
        err("threshold_not_met"),
    ));
    cases.push(case(
        "rotation lacks the new root keys' signatures",
        &c(&env_m1),
        &[c(&sign(&r_m2, &[&m1]))],
        NOW,
        err("threshold_not_met"),
    ));
    cases.push(case(
        "2-of-3: one signature by the previous root keys",
        &c(&env_t1),
        &[c(&sign(&r_t2, &[&cc, &dd]))],
        NOW,
        err("threshold_not_met"),
    ));
    cases.push(case(
        "2-of-3: one signature by the new root keys",
        &c(&env_t1),
        &[c(&sign(&r_t2, &[&a, &b]))],
        NOW,
        err("threshold_not_met"),
    ));
    cases.push(case(
        "pinned root not signed by its own root key",
        &c(&sign(&r_e1, &[&ec])),
        &[],
        NOW,
        err("threshold_not_met"),
    ));

    // Broken links.
    let gap = root(
        3,
        Some(&r_e1),
        T0 + 30 * DAY,
        T0 + 400 * DAY,
        vec![tk(&e2, &[Role::Root], "gap")],
        thr(1, 0),
    );
    cases.push(case(
        "version gap: 1 then 3",
        &c(&env_e1),
        &[c(&sign(&gap, &[&e1, &e2]))],
        NOW,
        err("chain_broken"),
    ));
    cases.push(case(
        "version gap: version 3 of a real chain after version 1",
        &c(&env_x1),
        &[c(&env_x3)],
        NOW,
        err("threshold_not_met"),
    ));
    let mut wrong_prev = r_e2.clone();
    wrong_prev.previous = Some(sha256(&[b"some other root"]));
    cases.push(case(
        "previous names another root",
        &c(&env_e1),
        &[c(&sign(&wrong_prev, &[&e1, &e2]))],
        NOW,
        err("chain_broken"),
    ));
    let mut backwards = r_e2.clone();
    backwards.issued_at = T0 - 1;
    cases.push(case(
        "issued_at earlier than the previous version's",
        &c(&env_e1),
        &[c(&sign(&backwards, &[&e1, &e2]))],
        NOW,
        err("chain_broken"),
    ));
    let mut renamed = r_e2.clone();
    renamed.origin = "other.example/log".into();
    cases.push(case(
        "rotation changes the origin",
        &c(&env_e1),
        &[c(&sign(&renamed, &[&e1, &e2]))],
        NOW,
        err("domain_mismatch"),
    ));

    // Expiry.
    cases.push(case(
        "newest root expired",
        &c(&env_e1),
        &[c(&env_e2)],
        T0 + 400 * DAY,
        err("expired"),
    ));
    cases.push(case(
        "pinned root expired, empty chain",
        &c(&env_x1),
        &[],
        NOW,
        err("expired"),
    ));
    cases.push(case(
        "newest root valid one second before expiry",
        &c(&env_e1),
        &[c(&env_e2)],
        T0 + 400 * DAY - 1,
        ok(&r_e2),
    ));

    // Replays and rollbacks.
    cases.push(case(
        "older root replayed after a newer one",
        &c(&env_t1),
        &[c(&env_t2), c(&env_t3), c(&env_t2)],
        NOW,
        err("replayed"),
    ));
    cases.push(case(
        "same version twice",
        &c(&env_t1),
        &[c(&env_t2), c(&env_t2)],
        NOW,
        err("replayed"),
    ));
    cases.push(case(
        "pinned root as its own successor",
        &c(&env_e1),
        &[c(&env_e1)],
        NOW,
        err("replayed"),
    ));

    // Validity windows of root keys.
    let (w1k, w2k) = (ed(0x71), ed(0x73));
    let mut wk = tk(&w1k, &[Role::Root], "short-lived root");
    wk.not_after = Some(T0 + 20 * DAY);
    let r_w1 = root(1, None, T0, T0 + 365 * DAY, vec![wk], thr(1, 0));
    let env_w1 = sign(&r_w1, &[&w1k]);
    let r_w2_late = root(
        2,
        Some(&r_w1),
        T0 + 30 * DAY,
        T0 + 365 * DAY,
        vec![tk(&w2k, &[Role::Root], "next")],
        thr(1, 0),
    );
    let r_w2_early = root(
        2,
        Some(&r_w1),
        T0 + 10 * DAY,
        T0 + 365 * DAY,
        vec![tk(&w2k, &[Role::Root], "next")],
        thr(1, 0),
    );
    cases.push(case(
        "previous root key past its not_after at the rotation's issued_at",
        &c(&env_w1),
        &[c(&sign(&r_w2_late, &[&w1k, &w2k]))],
        NOW,
        err("unauthorized"),
    ));
    cases.push(case(
        "previous root key inside its window at the rotation's issued_at",
        &c(&env_w1),
        &[c(&sign(&r_w2_early, &[&w1k, &w2k]))],
        NOW,
        ok(&r_w2_early),
    ));

    // Tampering and malformed input.
    cases.push(case(
        "pinned root: bit flipped in a key label",
        &flip_in(c(&env_e1), b"root 2026"),
        &[],
        NOW,
        err("signature_invalid"),
    ));
    cases.push(case(
        "rotation: bit flipped in a key label",
        &c(&env_e1),
        &[flip_in(c(&env_e2), b"root 2026b")],
        NOW,
        err("signature_invalid"),
    ));
    let m2c = c(&env_m2);
    let first_sig = m2c.len() - 2 * (32 + 2 + 2420) + 34 + 100; // inside m1's ML-DSA signature
    let mut m2_flipped = m2c.clone();
    m2_flipped[first_sig] ^= 0x01;
    cases.push(case(
        "rotation: bit flipped in the previous root's ml-dsa signature",
        &c(&env_m1),
        &[m2_flipped],
        NOW,
        err("signature_invalid"),
    ));
    let e2c = c(&env_e2);
    cases.push(case(
        "rotation envelope truncated",
        &c(&env_e1),
        &[e2c[..e2c.len() - 1].to_vec()],
        NOW,
        err("malformed"),
    ));
    let e1c = c(&env_e1);
    cases.push(case(
        "pinned envelope truncated",
        &e1c[..e1c.len() / 2],
        &[],
        NOW,
        err("malformed"),
    ));
    cases.push(case(
        "ledger entry envelope presented as a trust root",
        &c(&sign_raw(r_e1.to_bytes(), LEDGER_ENTRY_TYPE, &[&e1])),
        &[],
        NOW,
        err("domain_mismatch"),
    ));
    let mut v2 = r_e2.to_bytes();
    v2[0] = 2;
    cases.push(case(
        "rotation in unknown format version 2",
        &c(&env_e1),
        &[c(&sign_raw(v2, TRUST_ROOT_TYPE, &[&e1, &e2]))],
        NOW,
        err("unsupported_version"),
    ));
    let mut too_high = r_e2.clone();
    too_high.thresholds.root = 2;
    cases.push(case(
        "rotation with a root threshold above its root key count",
        &c(&env_e1),
        &[c(&sign_raw(
            too_high.to_bytes(),
            TRUST_ROOT_TYPE,
            &[&e1, &e2],
        ))],
        NOW,
        err("malformed"),
    ));
    let mut first_with_prev = r_e1.clone();
    first_with_prev.previous = Some([9; 32]);
    cases.push(case(
        "version 1 naming a previous root",
        &c(&sign_raw(
            first_with_prev.to_bytes(),
            TRUST_ROOT_TYPE,
            &[&e1],
        )),
        &[],
        NOW,
        err("malformed"),
    ));
    let mut twice = r_e1.clone();
    twice.keys.push(twice.keys[0].clone());
    cases.push(case(
        "pinned root listing a key twice",
        &c(&sign_raw(twice.to_bytes(), TRUST_ROOT_TYPE, &[&e1])),
        &[],
        NOW,
        err("malformed"),
    ));

    json!({
        "kind": "trust",
        "version": 1,
        "description": "cairn trust roots (postcard TrustRoot in a DSSE envelope of type application/vnd.cairn.trust-root.v1+postcard) and their dual-signed rotation chains. Binary arguments are standard base64; root ids are lowercase hex.",
        "ops": {
            "verify_trust_root_chain": "args {pinned: base64 envelope of the pinned root (compact CDSE form or DSSE JSON bytes), chain: [base64 envelopes of versions n+1, n+2, ...], now: Unix seconds}; the pinned root must carry a threshold of its own root keys; result {version (root_version of the newest), root_id (hex)}"
        },
        "cases": cases
    })
}

fn run(case: &Value) -> Result<Value> {
    let args = &case["args"];
    assert_eq!(case["op"], "verify_trust_root_chain");
    let pinned = Envelope::parse(&b64(&args["pinned"]))?;
    let chain = args["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| Envelope::parse(&b64(e)))
        .collect::<Result<Vec<_>>>()?;
    let newest = verify_trust_root_chain(&pinned, &chain, args["now"].as_u64().unwrap())?;
    Ok(json!({"ok": true, "version": newest.root_version, "root_id": hex_encode(&newest.id())}))
}

#[test]
fn vectors() {
    let cases = vectors::committed("trust", &vectors::render(&generate()));
    vectors::assert_distinct_names(&cases);
    vectors::assert_both_verdicts(&cases, &["verify_trust_root_chain"]);
    vectors::check(&cases, run);
}

fn simple_root(k: &SigningKey) -> TrustRoot {
    TrustRoot::initial(
        ORIGIN,
        T0,
        T0 + 365 * DAY,
        vec![tk(k, &[Role::Root], "root")],
        thr(1, 0),
    )
}

#[test]
fn validation_rules() {
    let k = ed(1);
    let code = |r: &TrustRoot| r.validate().unwrap_err().code();
    assert!(simple_root(&k).validate().is_ok());
    let mut r = simple_root(&k);
    r.root_version = 0;
    assert_eq!(code(&r), ErrorCode::Malformed);
    let mut r = simple_root(&k);
    r.root_version = 2;
    assert_eq!(code(&r), ErrorCode::Malformed, "version 2 needs previous");
    let mut r = simple_root(&k);
    r.origin = String::new();
    assert_eq!(code(&r), ErrorCode::Malformed);
    r.origin = "a\nb".into();
    assert_eq!(code(&r), ErrorCode::Malformed);
    r.origin = "o".repeat(MAX_ORIGIN_LEN + 1);
    assert_eq!(code(&r), ErrorCode::TooLarge);
    let mut r = simple_root(&k);
    r.expires_at = r.issued_at;
    assert_eq!(code(&r), ErrorCode::Malformed);
    let mut r = simple_root(&k);
    r.keys.clear();
    assert_eq!(code(&r), ErrorCode::Malformed);
    let mut r = simple_root(&k);
    r.keys[0].roles = RoleSet::EMPTY;
    assert_eq!(code(&r), ErrorCode::Malformed);
    let mut r = simple_root(&k);
    r.keys[0].label = "l".repeat(MAX_LABEL_LEN + 1);
    assert_eq!(code(&r), ErrorCode::TooLarge);
    let mut r = simple_root(&k);
    r.keys[0].not_before = 10;
    r.keys[0].not_after = Some(10);
    assert_eq!(code(&r), ErrorCode::Malformed);
    let mut r = simple_root(&k);
    r.thresholds.checkpoint = 1; // no key holds the role
    assert_eq!(code(&r), ErrorCode::Malformed);
    let mut r = simple_root(&k);
    r.thresholds.root = 0;
    assert_eq!(code(&r), ErrorCode::Malformed);
    let mut r = simple_root(&k);
    r.keys[0].roles = RoleSet::of(&[Role::Checkpoint]);
    r.thresholds = thr(0, 1);
    assert_eq!(code(&r), ErrorCode::Malformed, "a root needs a root key");
    let mut r = simple_root(&k);
    r.keys = (0..=MAX_KEYS as u8)
        .map(|i| tk(&ed(100 + i), &[Role::Root], "k"))
        .collect();
    assert_eq!(code(&r), ErrorCode::TooLarge);
    let mut r = simple_root(&k);
    r.version = 2;
    assert_eq!(code(&r), ErrorCode::UnsupportedVersion);
    assert_eq!(
        TrustRoot::from_bytes(&[]).unwrap_err().code(),
        ErrorCode::Malformed
    );
    let big = vec![1u8; MAX_TRUST_ROOT_LEN + 1];
    assert_eq!(
        TrustRoot::from_bytes(&big).unwrap_err().code(),
        ErrorCode::TooLarge
    );
}

#[test]
fn queries_honour_roles_and_windows() {
    let (r, c1, c2, p) = (ed(1), ed(2), key(Algorithm::MlDsa44, 3), ed(4));
    let mut old = tk(&c1, &[Role::Checkpoint], "old log key");
    old.not_after = Some(T0 + 10 * DAY);
    let mut new = tk(&c2, &[Role::Checkpoint, Role::Peer], "new log key");
    new.not_before = T0 + 5 * DAY;
    let root = TrustRoot::initial(
        ORIGIN,
        T0,
        T0 + 365 * DAY,
        vec![
            tk(&r, &[Role::Root], "root"),
            old,
            new,
            tk(&p, &[Role::Peer], "peer"),
        ],
        thr(1, 1).with(Role::Peer, 2),
    );
    let env = sign_root(&root, &[&r]).unwrap();
    let v = verify_trust_root(&env, T0).unwrap();
    let ids = |role, at| {
        v.keys_for(role, at)
            .map(TrustedKey::key_id)
            .collect::<Vec<_>>()
    };
    let id = |k: &SigningKey| k.public_key().key_id();
    assert_eq!(ids(Role::Checkpoint, T0), [id(&c1)]);
    assert_eq!(ids(Role::Checkpoint, T0 + 7 * DAY), [id(&c1), id(&c2)]);
    assert_eq!(ids(Role::Checkpoint, T0 + 10 * DAY), [id(&c2)]);
    assert_eq!(ids(Role::Peer, T0), [id(&p)]);
    assert_eq!(v.threshold(Role::Peer), 2);
    assert_eq!(v.threshold(Role::TokenIssuer), 0);
    assert_eq!(
        v.role_of(&id(&c2)),
        Some(RoleSet::of(&[Role::Checkpoint, Role::Peer]))
    );
    assert_eq!(v.role_of(&id(&ed(9))), None);
    assert!(v.authorize(&id(&c1), Role::Checkpoint, T0).is_ok());
    assert_eq!(
        v.authorize(&id(&c1), Role::Checkpoint, T0 + 10 * DAY)
            .unwrap_err()
            .code(),
        ErrorCode::Unauthorized
    );
    assert_eq!(
        v.authorize(&id(&c1), Role::Root, T0).unwrap_err().code(),
        ErrorCode::Unauthorized
    );
    assert_eq!(
        v.authorize(&id(&ed(9)), Role::Root, T0).unwrap_err().code(),
        ErrorCode::UnknownKey
    );

    // verify_envelope: role keys valid at the given time, the role's threshold.
    let mut obj = Envelope::new("application/example", b"x".to_vec()).unwrap();
    obj.sign(&c1).unwrap();
    assert!(v
        .verify_envelope(&obj, "application/example", Role::Checkpoint, T0)
        .is_ok());
    assert_eq!(
        v.verify_envelope(&obj, "application/example", Role::Checkpoint, T0 + 20 * DAY)
            .unwrap_err()
            .code(),
        ErrorCode::UnknownKey
    );
    assert_eq!(
        v.verify_envelope(&obj, "application/example", Role::TokenIssuer, T0)
            .unwrap_err()
            .code(),
        ErrorCode::Unauthorized
    );
    let mut peer_obj = Envelope::new("application/example", b"y".to_vec()).unwrap();
    peer_obj.sign(&p).unwrap();
    assert_eq!(
        v.verify_envelope(&peer_obj, "application/example", Role::Peer, T0 + 7 * DAY)
            .unwrap_err()
            .code(),
        ErrorCode::ThresholdNotMet
    );
    peer_obj.sign(&c2).unwrap();
    assert!(v
        .verify_envelope(&peer_obj, "application/example", Role::Peer, T0 + 7 * DAY)
        .is_ok());
}

#[test]
fn builders_rotate_with_hedged_signatures() {
    let (a, b) = (
        key(Algorithm::Ed25519MlDsa44, 1),
        key(Algorithm::MlDsa65, 2),
    );
    let v1 = sign_root(&simple_root(&a), &[&a]).unwrap();
    let pinned = VerifiedRoot::from_pinned(&v1).unwrap();
    assert_eq!(pinned.id(), root_id(&v1.payload));
    assert_eq!(pinned.id(), pinned.root().id());
    let next = pinned.successor(
        T0 + DAY,
        T0 + 400 * DAY,
        vec![tk(&b, &[Role::Root], "b")],
        thr(1, 0),
    );
    assert_eq!((next.root_version, next.previous), (2, Some(pinned.id())));
    // The same key listed twice among signers signs once.
    let v2 = sign_root(&next, &[&a, &b, &a]).unwrap();
    assert_eq!(v2.signatures.len(), 2);
    let newest = verify_rotation_chain(&pinned, std::slice::from_ref(&v2), T0 + 2 * DAY).unwrap();
    assert_eq!(newest.root_version, 2);
    // The id ignores signatures: re-signing (hedged ML-DSA differs each time) keeps it.
    let v2b = sign_root(&next, &[&b, &a]).unwrap();
    assert_ne!(v2.to_compact(), v2b.to_compact());
    assert_eq!(VerifiedRoot::from_pinned(&v2b).unwrap().id(), newest.id());
    // An empty chain checks the pinned root's own expiry.
    assert_eq!(
        verify_rotation_chain(&pinned, &[], T0 + 365 * DAY)
            .unwrap_err()
            .code(),
        ErrorCode::Expired
    );
    // Invalid roots are refused before signing.
    let mut bad = simple_root(&a);
    bad.thresholds.root = 3;
    assert_eq!(
        sign_root(&bad, &[&a]).unwrap_err().code(),
        ErrorCode::Malformed
    );
}

#[test]
fn json_view_of_a_root_is_readable() {
    let k = ed(1);
    let r = simple_root(&k);
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["keys"][0]["roles"], json!(["root"]));
    assert_eq!(j["keys"][0]["public_key"]["alg"], "ed25519");
    assert_eq!(j["previous"], Value::Null);
    let mut r2 = r.clone();
    r2.previous = Some([0xab; 32]);
    let j = serde_json::to_value(&r2).unwrap();
    assert_eq!(j["previous"], "ab".repeat(32));
    assert_eq!(serde_json::from_value::<TrustRoot>(j).unwrap(), r2);
}

/// The worked example in docs/FORMATS.md (trust-root section) is the bytes the code produces.
#[test]
fn worked_example_in_the_format_doc_is_current() {
    let doc = support::format_doc_without_whitespace();
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors::path("trust")).unwrap()).unwrap();
    let case = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "ed25519 root rotated once")
        .unwrap();
    let v1 = Envelope::parse(&b64(&case["args"]["pinned"])).unwrap();
    let v2 = Envelope::parse(&b64(&case["args"]["chain"][0])).unwrap();
    for env in [&v1, &v2] {
        assert!(doc.contains(&hex_encode(&env.payload)));
        assert!(doc.contains(&hex_encode(&root_id(&env.payload))));
        for s in &env.signatures {
            assert!(doc.contains(&s.keyid.to_hex()[..6]));
        }
    }
    assert_eq!(
        v1.signatures[0].keyid.to_hex(),
        "f0b2c34ad8ed055ed9a61b6f25037dc948afd094b1ccf86dfe07b77babe58be9"
    );
    assert!(doc.contains(&v2.signatures[1].keyid.to_hex()));
}
