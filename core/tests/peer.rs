//! Peer key exchange: the messages (tests/vectors/peer.json and negative tests), the replay
//! and pending-request state machine, and the vouching policy.
//!
//! `generate()` rebuilds every vector from fixed seeds (ML-DSA signs with FIPS 204's
//! deterministic variant, ML-KEM keys come from fixed `d`, `z`).
//! `CAIRN_REGEN_VECTORS=1 cargo test -p cairn-core --test peer` rewrites the file.

mod support;

use cairn_core::bundle::example::{MemoryRegistry, NOW};
use cairn_core::crypto::{Algorithm, KeyId, SigningKey};
use cairn_core::dsse::{Envelope, EnvelopeSignature};
use cairn_core::encoding::{b64_decode, b64_encode, hex_encode, to_postcard};
use cairn_core::ledger::Event;
use cairn_core::peer::{
    verify_key_request, verify_key_response, vouch, ExchangeConfig, KemPublicKey, KeyRequest,
    KeyResponse, PeerExchangeState, PeerLog, VerifiedKeyResponse, VouchPolicy, VouchRule,
    KEY_REQUEST_TYPE, KEY_RESPONSE_TYPE, MAX_KEY_MESSAGE_LEN,
};
use cairn_core::trust::{Role, RoleSet, Thresholds, TrustRoot, TrustedKey, VerifiedRoot};
use cairn_core::{view, Error, ErrorCode};
use ml_kem::KeyExport;
use serde_json::{json, Value};
use support::vectors;

const SKEW: u64 = 300;

fn key(alg: Algorithm, n: u8) -> SigningKey {
    SigningKey::from_seed(alg, &[n; 32])
}

/// An ML-KEM-768 encapsulation key from fixed seeds.
fn kem_bytes(n: u8) -> Vec<u8> {
    let mut seed = [n; 64];
    seed[32..].fill(n.wrapping_add(1));
    let dk = ml_kem::DecapsulationKey768::from_seed(seed.into());
    let ek = dk.encapsulation_key().to_bytes();
    ek.to_vec()
}

fn kem(n: u8) -> KemPublicKey {
    KemPublicKey::from_bytes(&kem_bytes(n)).unwrap()
}

fn request(requester: &SigningKey, from: &str, to: &str, ts: u64, nonce: u64) -> KeyRequest {
    KeyRequest {
        version: 1,
        requester_id: from.into(),
        responder_id: to.into(),
        requester_key: requester.public_key().clone(),
        timestamp: ts,
        nonce,
    }
}

#[allow(clippy::too_many_arguments)]
fn response(
    responder: &SigningKey,
    from: &str,
    to: &str,
    kem_n: u8,
    request_nonce: u64,
    ts: u64,
    nonce: u64,
) -> KeyResponse {
    KeyResponse {
        version: 1,
        responder_id: from.into(),
        requester_id: to.into(),
        signing_key: responder.public_key().clone(),
        kem_key: kem(kem_n),
        request_nonce,
        timestamp: ts,
        nonce,
    }
}

/// Signs raw payload bytes (valid or deliberately not) deterministically.
fn signed(payload_type: &str, payload: Vec<u8>, key: &SigningKey) -> Envelope {
    let mut env = Envelope::new(payload_type, payload).unwrap();
    env.sign_deterministic(key).unwrap();
    env
}

fn flip(mut bytes: Vec<u8>, index: usize) -> Vec<u8> {
    bytes[index] ^= 0x04;
    bytes
}

// ---------------------------------------------------------------------------------------------
// Vectors

struct Case {
    name: String,
    op: &'static str,
    args: Value,
    expect: Value,
}

fn err(code: ErrorCode) -> Value {
    json!({"error": code.as_str()})
}

fn generate() -> String {
    let alice = key(Algorithm::MlDsa65, 1);
    let bob = key(Algorithm::MlDsa65, 2);
    let bob_hybrid = key(Algorithm::Ed25519MlDsa65, 3);
    let mallory = key(Algorithm::MlDsa65, 4);
    let small = key(Algorithm::MlDsa44, 5);
    let ed = key(Algorithm::Ed25519, 6);
    let now = 1_767_225_600u64; // 2026-01-01T00:00:00Z
    let mut cases: Vec<Case> = Vec::new();

    // Requests.
    let mut req = |name: &str, bytes: Vec<u8>, me: &str, at: u64, expect: Value| {
        cases.push(Case {
            name: name.into(),
            op: "verify_key_request",
            args: json!({"message": b64_encode(&bytes), "me": me, "now": at, "max_skew": SKEW}),
            expect,
        });
    };
    let ok_req = |r: &KeyRequest| {
        json!({"ok": true, "requester_id": r.requester_id, "responder_id": r.responder_id,
               "requester_key_id": r.requester_key.key_id().to_hex(),
               "timestamp": r.timestamp, "nonce": r.nonce})
    };
    let r1 = request(&alice, "alice", "bob", now - 10, 1_000);
    let r1_env = signed(KEY_REQUEST_TYPE, r1.to_bytes(), &alice);
    let r1_bytes = r1_env.to_compact();
    req(
        "request_ml_dsa_65",
        r1_bytes.clone(),
        "bob",
        now,
        ok_req(&r1),
    );
    let r2 = request(&bob_hybrid, "bob", "alice", now + 10, u64::MAX);
    req(
        "request_hybrid",
        signed(KEY_REQUEST_TYPE, r2.to_bytes(), &bob_hybrid).to_compact(),
        "alice",
        now,
        ok_req(&r2),
    );
    req(
        "request_at_edge_of_skew",
        r1_bytes.clone(),
        "bob",
        now - 10 + SKEW,
        ok_req(&r1),
    );
    req(
        "request_too_old",
        r1_bytes.clone(),
        "bob",
        now - 10 + SKEW + 1,
        err(ErrorCode::Expired),
    );
    req(
        "request_from_the_future",
        r1_bytes.clone(),
        "bob",
        now - 10 - SKEW - 1,
        err(ErrorCode::NotYetValid),
    );
    req(
        "request_redirected",
        r1_bytes.clone(),
        "carol",
        now,
        err(ErrorCode::DomainMismatch),
    );
    req(
        "request_reflected_to_sender",
        r1_bytes.clone(),
        "alice",
        now,
        err(ErrorCode::DomainMismatch),
    );
    req(
        "request_truncated",
        r1_bytes[..r1_bytes.len() - 1].to_vec(),
        "bob",
        now,
        err(ErrorCode::Malformed),
    );
    req(
        "request_empty",
        Vec::new(),
        "bob",
        now,
        err(ErrorCode::Malformed),
    );
    req(
        "request_as_json_envelope",
        r1_env.to_json().into_bytes(),
        "bob",
        now,
        err(ErrorCode::Malformed),
    );
    req(
        "request_too_large",
        vec![0u8; MAX_KEY_MESSAGE_LEN + 1],
        "bob",
        now,
        err(ErrorCode::TooLarge),
    );
    {
        // A bit flipped in the nonce (the payload's last byte): still decodes, no longer verifies.
        let mut env = r1_env.clone();
        let n = env.payload.len();
        env.payload[n - 1] ^= 0x01;
        req(
            "request_payload_bit_flipped",
            env.to_compact(),
            "bob",
            now,
            err(ErrorCode::SignatureInvalid),
        );
        let mut env = r1_env.clone();
        env.signatures[0].sig = flip(env.signatures[0].sig.clone(), 100);
        req(
            "request_signature_bit_flipped",
            env.to_compact(),
            "bob",
            now,
            err(ErrorCode::SignatureInvalid),
        );
    }
    // Signed by another key than the one it carries.
    let by_mallory = signed(KEY_REQUEST_TYPE, r1.to_bytes(), &mallory);
    req(
        "request_signed_by_other_key",
        by_mallory.to_compact(),
        "bob",
        now,
        err(ErrorCode::KeyMismatch),
    );
    {
        // Mallory's signature under Alice's key id.
        let mut env = by_mallory.clone();
        env.signatures[0].keyid = alice.public_key().key_id();
        req(
            "request_signature_by_other_key_relabelled",
            env.to_compact(),
            "bob",
            now,
            err(ErrorCode::SignatureInvalid),
        );
    }
    {
        let mut env = r1_env.clone();
        let extra = env.signatures[0].clone();
        env.signatures.push(EnvelopeSignature { ..extra });
        req(
            "request_two_signatures",
            env.to_compact(),
            "bob",
            now,
            err(ErrorCode::SignatureInvalid),
        );
    }
    // Wrong domain: the request's payload as a response, and a signature made for another type.
    req(
        "request_payload_under_response_type",
        signed(KEY_RESPONSE_TYPE, r1.to_bytes(), &alice).to_compact(),
        "bob",
        now,
        err(ErrorCode::DomainMismatch),
    );
    {
        let mut env = signed(
            "application/vnd.cairn.token.v1+postcard",
            r1.to_bytes(),
            &alice,
        );
        env.payload_type = KEY_REQUEST_TYPE.into();
        req(
            "request_signed_for_other_domain",
            env.to_compact(),
            "bob",
            now,
            err(ErrorCode::SignatureInvalid),
        );
    }
    {
        let mut p = r1.to_bytes();
        p[0] = 2;
        req(
            "request_version_2",
            signed(KEY_REQUEST_TYPE, p, &alice).to_compact(),
            "bob",
            now,
            err(ErrorCode::UnsupportedVersion),
        );
        let mut p = r1.to_bytes();
        p.push(0);
        req(
            "request_trailing_byte",
            signed(KEY_REQUEST_TYPE, p, &alice).to_compact(),
            "bob",
            now,
            err(ErrorCode::Malformed),
        );
        let p = r1.to_bytes();
        req(
            "request_payload_truncated",
            signed(KEY_REQUEST_TYPE, p[..p.len() - 1].to_vec(), &alice).to_compact(),
            "bob",
            now,
            err(ErrorCode::Malformed),
        );
    }
    for (name, k) in [
        ("request_ml_dsa_44_key", &small),
        ("request_ed25519_key", &ed),
    ] {
        let r = request(k, "alice", "bob", now, 5);
        req(
            name,
            signed(KEY_REQUEST_TYPE, r.to_bytes(), k).to_compact(),
            "bob",
            now,
            err(ErrorCode::UnsupportedAlgorithm),
        );
    }
    let same = request(&alice, "alice", "alice", now, 5);
    req(
        "request_to_itself",
        signed(KEY_REQUEST_TYPE, same.to_bytes(), &alice).to_compact(),
        "alice",
        now,
        err(ErrorCode::Malformed),
    );
    let empty = request(&alice, "", "bob", now, 5);
    req(
        "request_empty_requester_id",
        signed(KEY_REQUEST_TYPE, empty.to_bytes(), &alice).to_compact(),
        "bob",
        now,
        err(ErrorCode::Malformed),
    );

    // Responses.
    let mut resp = |name: &str, bytes: Vec<u8>, me: &str, at: u64, expect: Value| {
        cases.push(Case {
            name: name.into(),
            op: "verify_key_response",
            args: json!({"message": b64_encode(&bytes), "me": me, "now": at, "max_skew": SKEW}),
            expect,
        });
    };
    let ok_resp = |r: &KeyResponse| {
        json!({"ok": true, "responder_id": r.responder_id, "requester_id": r.requester_id,
               "key_id": r.signing_key.key_id().to_hex(),
               "algorithm": r.signing_key.algorithm().name(),
               "kem_key_sha256": hex_encode(&r.kem_key.digest()),
               "request_nonce": r.request_nonce, "timestamp": r.timestamp, "nonce": r.nonce,
               "has_proof": false})
    };
    let s1 = response(&bob, "bob", "alice", 7, 1_000, now - 5, 2_000);
    let s1_env = signed(KEY_RESPONSE_TYPE, s1.to_bytes(), &bob);
    let s1_bytes = s1_env.to_compact();
    resp(
        "response_ml_dsa_65",
        s1_bytes.clone(),
        "alice",
        now,
        ok_resp(&s1),
    );
    let s2 = response(&bob_hybrid, "bob", "alice", 8, 1, now, 2);
    resp(
        "response_hybrid",
        signed(KEY_RESPONSE_TYPE, s2.to_bytes(), &bob_hybrid).to_compact(),
        "alice",
        now,
        ok_resp(&s2),
    );
    resp(
        "response_too_old",
        s1_bytes.clone(),
        "alice",
        now + SKEW,
        err(ErrorCode::Expired),
    );
    resp(
        "response_redirected",
        s1_bytes.clone(),
        "carol",
        now,
        err(ErrorCode::DomainMismatch),
    );
    resp(
        "response_reflected_to_sender",
        s1_bytes.clone(),
        "bob",
        now,
        err(ErrorCode::DomainMismatch),
    );
    resp(
        "response_truncated",
        s1_bytes[..s1_bytes.len() / 2].to_vec(),
        "alice",
        now,
        err(ErrorCode::Malformed),
    );
    {
        let mut env = s1_env.clone();
        let n = env.payload.len();
        env.payload[n - 1] ^= 0x01;
        resp(
            "response_payload_bit_flipped",
            env.to_compact(),
            "alice",
            now,
            err(ErrorCode::SignatureInvalid),
        );
    }
    resp(
        "response_signed_by_other_key",
        signed(KEY_RESPONSE_TYPE, s1.to_bytes(), &mallory).to_compact(),
        "alice",
        now,
        err(ErrorCode::KeyMismatch),
    );
    {
        // A man in the middle puts his own keys in and signs: valid as a message (vouching is
        // what refuses it), so the vector shows the substituted key id.
        let mut mitm = s1.clone();
        mitm.signing_key = mallory.public_key().clone();
        mitm.kem_key = kem(9);
        resp(
            "response_keys_substituted_and_resigned",
            signed(KEY_RESPONSE_TYPE, mitm.to_bytes(), &mallory).to_compact(),
            "alice",
            now,
            ok_resp(&mitm),
        );
        // ... or keeps Bob's signature: it no longer verifies.
        let mut env = s1_env.clone();
        env.payload = mitm.to_bytes();
        env.signatures[0].keyid = mallory.public_key().key_id();
        resp(
            "response_keys_substituted_signature_kept",
            env.to_compact(),
            "alice",
            now,
            err(ErrorCode::SignatureInvalid),
        );
    }
    resp(
        "response_payload_under_request_type",
        signed(KEY_REQUEST_TYPE, s1.to_bytes(), &bob).to_compact(),
        "alice",
        now,
        err(ErrorCode::DomainMismatch),
    );
    resp(
        "request_presented_as_response",
        r1_bytes.clone(),
        "alice",
        now,
        err(ErrorCode::DomainMismatch),
    );
    {
        let mut p = s1.to_bytes();
        p[0] = 9;
        resp(
            "response_version_9",
            signed(KEY_RESPONSE_TYPE, p, &bob).to_compact(),
            "alice",
            now,
            err(ErrorCode::UnsupportedVersion),
        );
    }
    {
        // KEM keys failing FIPS 203: every coefficient 0xfff (above q), and one coefficient
        // exactly q = 3329 (0xd01) in the first slot.
        let kem_at = {
            let p = s1.to_bytes();
            let k = s1.kem_key.as_bytes();
            p.windows(k.len()).position(|w| w == k).unwrap()
        };
        let mut p = s1.to_bytes();
        p[kem_at..kem_at + 1152].fill(0xff);
        resp(
            "response_kem_key_all_coefficients_out_of_range",
            signed(KEY_RESPONSE_TYPE, p, &bob).to_compact(),
            "alice",
            now,
            err(ErrorCode::InvalidKey),
        );
        let mut p = s1.to_bytes();
        p[kem_at] = 0x01;
        p[kem_at + 1] = (p[kem_at + 1] & 0xf0) | 0x0d;
        resp(
            "response_kem_key_coefficient_equal_to_q",
            signed(KEY_RESPONSE_TYPE, p, &bob).to_compact(),
            "alice",
            now,
            err(ErrorCode::InvalidKey),
        );
        // One byte short: the length prefix says 1183.
        let mut p = s1.to_bytes();
        assert_eq!(&p[kem_at - 2..kem_at], &[0xa0, 0x09]); // varint 1184
        p[kem_at - 2] = 0x9f;
        p.remove(kem_at);
        resp(
            "response_kem_key_short",
            signed(KEY_RESPONSE_TYPE, p, &bob).to_compact(),
            "alice",
            now,
            err(ErrorCode::InvalidKey),
        );
    }
    {
        let r = response(&small, "bob", "alice", 7, 1, now, 2);
        resp(
            "response_ml_dsa_44_key",
            signed(KEY_RESPONSE_TYPE, r.to_bytes(), &small).to_compact(),
            "alice",
            now,
            err(ErrorCode::UnsupportedAlgorithm),
        );
    }
    resp(
        "response_garbage",
        b"CDSE\xff\xff\xff".to_vec(),
        "alice",
        now,
        err(ErrorCode::Malformed),
    );
    resp(
        "response_bundle_garbage",
        b"CBDL\x01\x02".to_vec(),
        "alice",
        now,
        err(ErrorCode::Malformed),
    );

    vouch_cases(&mut cases);

    let doc = json!({
        "kind": "peer",
        "version": 1,
        "description": "Peer key exchange: KeyRequest and KeyResponse, DSSE envelopes (compact CDSE form) of types \
            application/vnd.cairn.peer-key-request.v1+postcard and application/vnd.cairn.peer-key-response.v1+postcard, \
            self-signed by the key they carry (docs/FORMATS.md, Peer key exchange). Signing keys from \
            SigningKey::from_seed with deterministic ML-DSA; ML-KEM-768 keys from fixed d and z.",
        "ops": {
            "verify_key_request": "args: message (base64 of the message bytes), me (the verifier's peer id), now, max_skew (seconds). \
                Result: {ok, requester_id, responder_id, requester_key_id, timestamp, nonce} or {error}.",
            "verify_key_response": "args: message (base64: a compact envelope or a CBDL bundle whose subject is one), me, now, max_skew. \
                Result: {ok, responder_id, requester_id, key_id, algorithm, kem_key_sha256 (hex), request_nonce, timestamp, nonce, has_proof} or {error}.",
            "vouch_key_response": "args: message, me, now, max_skew as for verify_key_response, and policy: {log_roots ([{peer, root}]: \
                a peer id and the base64 trust-root envelope of that peer's own registry, whose checkpoint keys vouch for that peer's \
                keys through a key-transparency bundle), bootstrap_root (base64 trust root whose peer-role keys \
                pin bootstrap peers, or null), pinned_key_id (hex key id the verifier already pinned for the responder, or null), \
                trust_on_first_use, require_hybrid_checkpoint, max_age (seconds; absent: no limit)}. The response is verified, then cairn_core::peer::vouch decides. \
                Result: {ok, rule (bootstrap, pinned, transparency, first_use), key_id, logged_at ({origin, size, seq} for transparency, else null), \
                not_revoked_as_of (the checkpoint time of a version 2 transparency bundle, as of which the key is proven not revoked, else null)} or {error}."
        },
        "cases": cases.into_iter().map(|c| json!({
            "name": c.name, "op": c.op, "args": c.args, "expect": c.expect
        })).collect::<Vec<_>>(),
    });
    vectors::render(&doc)
}

/// A view as the vectors state it: `ok: true` and the view's fields but `omit`.
fn with_ok(view: Value, omit: &[&str]) -> Value {
    let mut m = match view {
        Value::Object(m) => m,
        other => return other,
    };
    for k in omit {
        m.remove(*k);
    }
    m.insert("ok".into(), Value::Bool(true));
    Value::Object(m)
}

/// The ops as every implementation runs them.
fn run(case: &Value) -> Result<Value, Error> {
    let args = &case["args"];
    let message = b64_decode(args["message"].as_str().unwrap())?;
    let me = args["me"].as_str().unwrap();
    let now = args["now"].as_u64().unwrap();
    let skew = args["max_skew"].as_u64().unwrap();
    match case["op"].as_str().unwrap() {
        // The vectors' fields are the package's view (cairn_core::view), less the key bytes.
        "verify_key_request" => {
            let v = view::key_request(&verify_key_request(&message, me, now, skew)?);
            Ok(with_ok(v, &[]))
        }
        "verify_key_response" => {
            let v = view::key_response(&verify_key_response(&message, me, now, skew)?);
            Ok(with_ok(v, &["signing_key", "kem_key"]))
        }
        "vouch_key_response" => {
            let v = verify_key_response(&message, me, now, skew)?;
            let p = &args["policy"];
            let root = |b: &Value| -> Result<VerifiedRoot, Error> {
                VerifiedRoot::from_pinned(&Envelope::parse(&b64_decode(b.as_str().unwrap())?)?)
            };
            let logs = p["log_roots"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| Ok(PeerLog::new(l["peer"].as_str().unwrap(), root(&l["root"])?)))
                .collect::<Result<Vec<_>, Error>>()?;
            let bootstrap = match &p["bootstrap_root"] {
                Value::Null => None,
                b => Some(root(b)?),
            };
            let pinned = match &p["pinned_key_id"] {
                Value::Null => None,
                k => Some(KeyId::from_hex(k.as_str().unwrap())?),
            };
            let policy = VouchPolicy {
                bootstrap: bootstrap.as_ref(),
                transparency: &logs,
                require_hybrid_checkpoint: p["require_hybrid_checkpoint"].as_bool().unwrap(),
                trust_on_first_use: p["trust_on_first_use"].as_bool().unwrap(),
                max_age: p["max_age"].as_u64(),
            };
            Ok(with_ok(
                view::vouch(&vouch(&v, pinned.as_ref(), &policy, now)?),
                &[],
            ))
        }
        op => panic!("unknown op {op}"),
    }
}

/// The vouching vectors: one response (compact, or as a key-transparency bundle from an
/// in-memory registry log) under each rule of `cairn_core::peer::vouch`, and each refusal.
fn vouch_cases(cases: &mut Vec<Case>) {
    let bob = key(Algorithm::Ed25519MlDsa65, 2);
    let mallory = key(Algorithm::MlDsa65, 4);
    let resp = response(&bob, "bob", "alice", 7, 1, NOW, 2);
    let env = resp.sign(&bob).unwrap();
    let compact = env.to_compact();
    let bob_id = bob.public_key().key_id();
    let stored = |peer: &str, k: KeyId| Event::PeerKeyStored {
        peer_id: peer.into(),
        key_id: k,
    };
    let logged = |seed: u8, event: Event| {
        let mut reg = MemoryRegistry::new(seed);
        let bytes = transparency_bundle(&mut reg, &env, event);
        (bytes, b64_encode(&reg.root.to_compact()))
    };
    let (bundle, log_root) = logged(60, stored("bob", bob_id));
    let (_, stranger_root) = logged(61, stored("bob", bob_id));
    let (other_peer, other_peer_root) = logged(60, stored("carol", bob_id));
    let (other_key, other_key_root) = logged(60, stored("bob", KeyId([1; 32])));
    let mut tampered = cairn_core::bundle::Bundle::from_bytes(&bundle).unwrap();
    tampered.inclusion.hashes[0][0] ^= 1;
    let tampered = tampered.to_bytes();
    let pins = |p: &[(&str, &SigningKey)]| b64_encode(&bootstrap_root_envelope(p).to_compact());
    let bob_pinned = pins(&[("bob", &bob)]);
    // Bob's pin ended an hour ago (a key rotated out of the root): it still pins bob.
    let bob_pin_expired =
        b64_encode(&bootstrap_root_envelope_with(&[("bob", &bob)], Some(NOW - 3_600)).to_compact());
    let mallory_pinned = pins(&[("bob", &mallory)]);
    let policy = |logs: &[&str], bootstrap: Option<&str>, pinned: Option<KeyId>, tofu: bool| {
        // Every log here is trusted as bob's registry's, but the one named "carol's".
        let logs: Vec<Value> = logs
            .iter()
            .map(|l| match l.strip_prefix("carol:") {
                Some(root) => json!({"peer": "carol", "root": root}),
                None => json!({"peer": "bob", "root": l}),
            })
            .collect();
        json!({"log_roots": logs, "bootstrap_root": bootstrap,
               "pinned_key_id": pinned.map(|k| k.to_hex()), "trust_on_first_use": tofu,
               "require_hybrid_checkpoint": true})
    };
    let ok = |rule: VouchRule, logged_at: Value| json!({"ok": true, "rule": rule.name(), "key_id": bob_id.to_hex(), "logged_at": logged_at, "not_revoked_as_of": null});
    // Version 2 bundles: the key proven not revoked as of the checkpoint, which is dated (its
    // newest entry's time), against a maximum age.
    let logged_v2 = |events: &[Event]| -> Result<_, Error> {
        let mut reg = MemoryRegistry::new(60);
        reg.append(Event::AuditNote {
            text: "before".into(),
        })?;
        let seq = reg.append(stored("bob", bob_id))?;
        for e in events {
            reg.append(e.clone())?;
        }
        let b = reg.bundle_v2(seq, env.clone(), Vec::new())?;
        Ok((b, b64_encode(&reg.root.to_compact())))
    };
    // invariant: an in-memory log of these fixed events appends and proves them.
    let logged_v2 = |events: &[Event]| logged_v2(events).expect("fixed events");
    let (v2, v2_root) = logged_v2(&[Event::AuditNote {
        text: "after".into(),
    }]);
    let (revoked, revoked_root) = logged_v2(&[Event::KeyRevoked {
        key_id: bob_id,
        reason: "leaked".into(),
        revoker: bob_id,
    }]);
    let mut unproven = v2.clone();
    if let Some(r) = unproven.revocation.as_mut() {
        r.proofs.clear();
    }
    // The revoked key's bundle relabelled version 1 (the version byte is signed by nobody).
    let mut relabelled = revoked.clone();
    relabelled.version = cairn_core::bundle::BUNDLE_VERSION;
    relabelled.revocation = None;
    let (v2, revoked, unproven, relabelled) = (
        v2.to_bytes(),
        revoked.to_bytes(),
        unproven.to_bytes(),
        relabelled.to_bytes(),
    );
    let aged = |logs: &[&str], max_age: u64| {
        let mut p = policy(logs, None, None, false);
        p["max_age"] = json!(max_age);
        p
    };
    // The newest entry of a three-entry log (MemoryRegistry dates entry n at NOW - 60 + n).
    let v2_time = NOW - 58;
    let mut ok_v2 = ok(
        VouchRule::Transparency,
        json!({"origin": "example.test/registry", "size": 3, "seq": 1}),
    );
    ok_v2["not_revoked_as_of"] = json!(v2_time);
    let at_log = json!({"origin": "example.test/registry", "size": 3, "seq": 1});
    let table: Vec<(&str, &[u8], Value, i64, Value)> = vec![
        (
            "vouch_transparency",
            &bundle,
            policy(&[&log_root], None, None, false),
            0,
            ok(VouchRule::Transparency, at_log.clone()),
        ),
        (
            "vouch_transparency_second_trusted_log",
            &bundle,
            policy(&[&stranger_root, &log_root], None, None, false),
            0,
            ok(VouchRule::Transparency, at_log),
        ),
        (
            "vouch_transparency_log_trusted_for_another_peer",
            &bundle,
            policy(&[&format!("carol:{log_root}")], None, None, true),
            0,
            err(ErrorCode::Unauthorized),
        ),
        (
            "vouch_transparency_untrusted_log",
            &bundle,
            policy(&[&stranger_root], None, None, true),
            0,
            err(ErrorCode::UnknownKey),
        ),
        (
            "vouch_transparency_no_trusted_log_no_fallback",
            &bundle,
            policy(&[], None, None, true),
            0,
            err(ErrorCode::Unauthorized),
        ),
        (
            "vouch_transparency_entry_for_other_peer",
            &other_peer,
            policy(&[&other_peer_root], None, None, false),
            0,
            err(ErrorCode::ProofInvalid),
        ),
        (
            "vouch_transparency_entry_for_other_key",
            &other_key,
            policy(&[&other_key_root], None, None, false),
            0,
            err(ErrorCode::ProofInvalid),
        ),
        (
            "vouch_transparency_inclusion_proof_tampered",
            &tampered,
            policy(&[&log_root], None, None, false),
            0,
            err(ErrorCode::ProofInvalid),
        ),
        (
            "vouch_transparency_yields_to_a_different_pin",
            &bundle,
            policy(&[&log_root], None, Some(KeyId([7; 32])), false),
            0,
            err(ErrorCode::KeyChanged),
        ),
        (
            "vouch_pinned",
            &compact,
            policy(&[], None, Some(bob_id), false),
            0,
            ok(VouchRule::Pinned, Value::Null),
        ),
        (
            "vouch_pinned_key_changed",
            &compact,
            policy(&[], None, Some(KeyId([7; 32])), true),
            0,
            err(ErrorCode::KeyChanged),
        ),
        (
            "vouch_bootstrap",
            &compact,
            policy(&[], Some(&bob_pinned), None, false),
            0,
            ok(VouchRule::Bootstrap, Value::Null),
        ),
        (
            "vouch_bootstrap_pins_another_key",
            &compact,
            policy(&[], Some(&mallory_pinned), None, true),
            0,
            err(ErrorCode::KeyMismatch),
        ),
        (
            "vouch_bootstrap_pin_expired",
            &compact,
            policy(&[], Some(&bob_pin_expired), None, true),
            0,
            err(ErrorCode::Expired),
        ),
        (
            "vouch_bootstrap_root_expired",
            &compact,
            policy(&[], Some(&bob_pinned), None, true),
            2 * 86_400,
            err(ErrorCode::Expired),
        ),
        (
            "vouch_first_use",
            &compact,
            policy(&[], None, None, true),
            0,
            ok(VouchRule::FirstUse, Value::Null),
        ),
        (
            "vouch_nothing_vouches",
            &compact,
            policy(&[], None, None, false),
            0,
            err(ErrorCode::Unauthorized),
        ),
        (
            "vouch_transparency_v2",
            &v2,
            aged(&[&v2_root], 3_600),
            0,
            ok_v2.clone(),
        ),
        (
            "vouch_transparency_v2_no_max_age",
            &v2,
            policy(&[&v2_root], None, None, false),
            0,
            ok_v2,
        ),
        (
            "vouch_transparency_v2_key_revoked",
            &revoked,
            policy(&[&revoked_root], None, None, true),
            0,
            err(ErrorCode::Revoked),
        ),
        (
            "vouch_transparency_v2_stale",
            &v2,
            aged(&[&v2_root], 30),
            0,
            err(ErrorCode::Stale),
        ),
        (
            "vouch_transparency_v2_no_revocation_proof",
            &unproven,
            policy(&[&v2_root], None, None, true),
            0,
            err(ErrorCode::ProofInvalid),
        ),
        (
            "vouch_transparency_v2_relabelled_v1",
            &relabelled,
            policy(&[&revoked_root], None, None, true),
            0,
            err(ErrorCode::ProofInvalid),
        ),
        (
            "vouch_transparency_v1_with_max_age",
            &bundle,
            aged(&[&log_root], 3_600),
            0,
            err(ErrorCode::Stale),
        ),
    ];
    for (name, message, policy, later, expect) in table {
        // `later`: the verifier's clock runs ahead; the response is re-stamped to stay fresh.
        let (message, at) = if later == 0 {
            (message.to_vec(), NOW)
        } else {
            let at = NOW + later as u64;
            let r = response(&bob, "bob", "alice", 7, 1, at, 2);
            (r.sign(&bob).unwrap().to_compact(), at)
        };
        cases.push(Case {
            name: name.into(),
            op: "vouch_key_response",
            args: json!({"message": b64_encode(&message), "me": "alice", "now": at,
                         "max_skew": SKEW, "policy": policy}),
            expect,
        });
    }
}

#[test]
fn peer_vectors_match_generator_and_verifier() {
    let cases = vectors::committed("peer", &generate());
    assert!(cases.len() >= 40, "{} cases", cases.len());
    vectors::assert_distinct_names(&cases);
    vectors::assert_both_verdicts(
        &cases,
        &[
            "verify_key_request",
            "verify_key_response",
            "vouch_key_response",
        ],
    );
    vectors::check(&cases, run);
}

#[test]
fn peer_vector_messages_survive_every_mutation_without_panic() {
    // Every truncation and a bit flip at every 3rd byte of a valid request and response: an
    // error with a code, or (for flips that leave signed bytes and meaning intact, e.g. in the
    // envelope's length-free parts) never a different accepted message.
    let alice = key(Algorithm::MlDsa65, 1);
    let bob = key(Algorithm::Ed25519MlDsa65, 3);
    let now = 1_767_225_600u64;
    let req = signed(
        KEY_REQUEST_TYPE,
        request(&alice, "alice", "bob", now, 1).to_bytes(),
        &alice,
    )
    .to_compact();
    let resp = response(&bob, "bob", "alice", 7, 1, now, 2);
    let resp_bytes = resp.sign(&bob).unwrap().to_compact();
    for i in 0..req.len() {
        assert!(
            verify_key_request(&req[..i], "bob", now, SKEW).is_err(),
            "truncated at {i}"
        );
    }
    for i in (0..req.len()).step_by(3) {
        let _ = verify_key_request(&flip(req.clone(), i), "bob", now, SKEW)
            .map(|v| panic!("flip at {i} accepted: {v:?}"));
    }
    for i in (0..resp_bytes.len()).step_by(5) {
        assert!(verify_key_response(&resp_bytes[..i], "alice", now, SKEW).is_err());
        let _ = verify_key_response(&flip(resp_bytes.clone(), i), "alice", now, SKEW)
            .map(|v| panic!("flip at {i} accepted: {:?}", v.response));
    }
    // The hedged signing path verifies too.
    assert_eq!(
        verify_key_response(&resp_bytes, "alice", now, SKEW)
            .unwrap()
            .response,
        resp
    );
}

#[test]
fn peer_signing_refuses_a_key_other_than_the_carried_one() {
    let alice = key(Algorithm::MlDsa65, 1);
    let other = key(Algorithm::MlDsa65, 2);
    let r = request(&alice, "alice", "bob", 10, 1);
    assert_eq!(r.sign(&other).unwrap_err().code(), ErrorCode::KeyMismatch);
    let s = response(&alice, "alice", "bob", 1, 1, 10, 1);
    assert_eq!(s.sign(&other).unwrap_err().code(), ErrorCode::KeyMismatch);
    let mut bad = s.clone();
    bad.version = 2;
    assert_eq!(
        bad.sign(&alice).unwrap_err().code(),
        ErrorCode::UnsupportedVersion
    );
}

#[test]
fn peer_kem_key_checks_follow_fips_203() {
    let good = kem_bytes(1);
    assert!(KemPublicKey::from_bytes(&good).is_ok());
    // rho (the last 32 bytes) is unconstrained.
    let mut rho = good.clone();
    rho[1183] ^= 0xff;
    assert!(KemPublicKey::from_bytes(&rho).is_ok());
    // A coefficient of q - 1 passes, q fails, in the last coefficient of t-hat too.
    let mut k = vec![0u8; 1184];
    k[1150] = 0x00;
    k[1151] = 0xd0; // last coefficient = 0xd00 = 3328
    assert!(KemPublicKey::from_bytes(&k).is_ok());
    k[1150] = 0x10; // low nibble of the last coefficient: 0xd01 = 3329
    k[1151] = 0xd0;
    assert_eq!(
        KemPublicKey::from_bytes(&k).unwrap_err().code(),
        ErrorCode::InvalidKey
    );
    for len in [0, 1, 1183, 1185, 1568] {
        assert_eq!(
            KemPublicKey::from_bytes(&vec![0; len]).unwrap_err().code(),
            ErrorCode::InvalidKey
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Replay state machine

#[test]
fn peer_replay_nonces_strictly_increase_per_peer() {
    let cfg = ExchangeConfig::default();
    let alice = key(Algorithm::MlDsa65, 1);
    let mut s = PeerExchangeState::default();
    let r = |nonce, ts| request(&alice, "alice", "bob", ts, nonce);
    cfg.accept_request(&mut s, &r(5, 1_000), 1_000).unwrap();
    // The same request again, and an older nonce (reordered), are refused; state unchanged.
    assert_eq!(
        cfg.accept_request(&mut s, &r(5, 1_000), 1_001)
            .unwrap_err()
            .code(),
        ErrorCode::Replayed
    );
    assert_eq!(
        cfg.accept_request(&mut s, &r(4, 1_001), 1_001)
            .unwrap_err()
            .code(),
        ErrorCode::Replayed
    );
    assert_eq!(s.last_received, Some(5));
    // Out of the time window: refused, nonce not consumed.
    assert_eq!(
        cfg.accept_request(&mut s, &r(6, 1_000), 1_000 + 301)
            .unwrap_err()
            .code(),
        ErrorCode::Expired
    );
    assert_eq!(
        cfg.accept_request(&mut s, &r(6, 2_000), 1_000)
            .unwrap_err()
            .code(),
        ErrorCode::NotYetValid
    );
    assert_eq!(s.last_received, Some(5));
    cfg.accept_request(&mut s, &r(6, 1_001), 1_001).unwrap();
    // A configurable window.
    let tight = ExchangeConfig {
        max_skew: 10,
        ..cfg
    };
    assert_eq!(
        tight
            .accept_request(&mut s, &r(7, 1_000), 1_011)
            .unwrap_err()
            .code(),
        ErrorCode::Expired
    );
}

#[test]
fn peer_replay_responses_must_answer_an_outstanding_request() {
    let cfg = ExchangeConfig::default();
    let bob = key(Algorithm::MlDsa65, 2);
    let mut s = PeerExchangeState::default();
    let resp = |req_nonce, nonce, ts| response(&bob, "bob", "alice", 1, req_nonce, ts, nonce);
    // Unsolicited.
    assert_eq!(
        cfg.accept_response(&mut s, &resp(1, 10, 1_000), 1_000)
            .unwrap_err()
            .code(),
        ErrorCode::Replayed
    );
    cfg.open_request(&mut s, 1, 1_000).unwrap();
    // Answers another request.
    assert_eq!(
        cfg.accept_response(&mut s, &resp(2, 10, 1_000), 1_000)
            .unwrap_err()
            .code(),
        ErrorCode::Replayed
    );
    cfg.accept_response(&mut s, &resp(1, 10, 1_005), 1_005)
        .unwrap();
    assert!(s.pending.is_empty());
    // Replayed response: the request is answered already.
    assert_eq!(
        cfg.accept_response(&mut s, &resp(1, 10, 1_005), 1_006)
            .unwrap_err()
            .code(),
        ErrorCode::Replayed
    );
    // A fresh request answered with a reused (reordered) responder nonce.
    cfg.open_request(&mut s, 2, 1_010).unwrap();
    assert_eq!(
        cfg.accept_response(&mut s, &resp(2, 9, 1_010), 1_010)
            .unwrap_err()
            .code(),
        ErrorCode::Replayed
    );
    assert_eq!(
        s.pending.len(),
        1,
        "a refused response leaves the request pending"
    );
    // Pending requests expire after 30 s.
    assert_eq!(
        cfg.accept_response(&mut s, &resp(2, 11, 1_041), 1_041)
            .unwrap_err()
            .code(),
        ErrorCode::Expired
    );
    cfg.accept_response(&mut s, &resp(2, 11, 1_040), 1_040)
        .unwrap();
}

#[test]
fn peer_replay_limits_pending_requests_and_cleans_up() {
    let cfg = ExchangeConfig {
        max_pending: 2,
        ..ExchangeConfig::default()
    };
    let mut s = PeerExchangeState::default();
    cfg.open_request(&mut s, 10, 1_000).unwrap();
    cfg.open_request(&mut s, 11, 1_001).unwrap();
    assert_eq!(
        cfg.open_request(&mut s, 12, 1_002).unwrap_err().code(),
        ErrorCode::TooLarge
    );
    assert_eq!(s.last_sent, Some(11), "a refused request uses no nonce");
    // Our own nonces must increase too.
    assert_eq!(
        cfg.open_request(&mut s, 11, 1_040).unwrap_err().code(),
        ErrorCode::Replayed
    );
    // Once the first expired, there is room again, and the expired one is gone.
    cfg.open_request(&mut s, 12, 1_031).unwrap();
    assert_eq!(
        s.pending.iter().map(|p| p.nonce).collect::<Vec<_>>(),
        vec![11, 12]
    );
    assert_eq!(cfg.cleanup(&mut s, 1_061), 1);
    assert_eq!(cfg.cleanup(&mut s, 1_062), 1);
    assert!(s.pending.is_empty());
    cfg.record_sent(&mut s, 13).unwrap();
    assert_eq!(
        cfg.record_sent(&mut s, 13).unwrap_err().code(),
        ErrorCode::Replayed
    );
    // next_nonce is above the last one used, and above now · 2^20.
    assert_eq!(s.next_nonce(0), 14);
    assert_eq!(s.next_nonce(1_000), 1_000 << 20);
}

#[test]
fn peer_replay_state_survives_a_round_trip_through_its_encoding() {
    // What a registry stores between restarts: the same state decodes, and the same replay is
    // still refused after it.
    let cfg = ExchangeConfig::default();
    let alice = key(Algorithm::MlDsa65, 1);
    let mut s = PeerExchangeState::default();
    cfg.open_request(&mut s, 3, 1_000).unwrap();
    cfg.accept_request(&mut s, &request(&alice, "alice", "bob", 1_000, 77), 1_000)
        .unwrap();
    let bytes = to_postcard(&s);
    let mut back: PeerExchangeState = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, s);
    assert_eq!(
        cfg.accept_request(
            &mut back,
            &request(&alice, "alice", "bob", 1_000, 77),
            1_001
        )
        .unwrap_err()
        .code(),
        ErrorCode::Replayed
    );
}

// ---------------------------------------------------------------------------------------------
// Vouching

fn verified(resp: &KeyResponse, key: &SigningKey) -> VerifiedKeyResponse {
    let bytes = resp.sign(key).unwrap().to_compact();
    verify_key_response(&bytes, &resp.requester_id, resp.timestamp, SKEW).unwrap()
}

/// A trust root pinning `pins` (peer id, key) with role `peer`.
fn bootstrap_root(pins: &[(&str, &SigningKey)]) -> VerifiedRoot {
    VerifiedRoot::from_pinned(&bootstrap_root_envelope(pins)).unwrap()
}

/// [`bootstrap_root`]'s signed envelope.
fn bootstrap_root_envelope(pins: &[(&str, &SigningKey)]) -> Envelope {
    bootstrap_root_envelope_with(pins, None)
}

/// [`bootstrap_root_envelope`] with the pins valid until `pins_end` (exclusive).
fn bootstrap_root_envelope_with(pins: &[(&str, &SigningKey)], pins_end: Option<u64>) -> Envelope {
    let root_key = key(Algorithm::Ed25519, 90);
    let mut keys = vec![TrustedKey::new(
        root_key.public_key().clone(),
        RoleSet::of(&[Role::Root]),
        "root",
    )];
    for (id, k) in pins {
        let mut pin = TrustedKey::new(k.public_key().clone(), RoleSet::of(&[Role::Peer]), id);
        pin.not_after = pins_end;
        keys.push(pin);
    }
    let root = TrustRoot::initial(
        "example.test/peers",
        NOW - 86_400,
        NOW + 86_400,
        keys,
        Thresholds::default()
            .with(Role::Root, 1)
            .with(Role::Peer, 1),
    );
    let mut env = root.to_envelope().unwrap();
    env.sign_deterministic(&root_key).unwrap();
    env
}

#[test]
fn peer_vouch_bootstrap_pins_in_the_trust_root() {
    let bob = key(Algorithm::MlDsa65, 2);
    let mallory = key(Algorithm::MlDsa65, 4);
    let root = bootstrap_root(&[("bob", &bob)]);
    let policy = VouchPolicy {
        bootstrap: Some(&root),
        trust_on_first_use: true,
        ..Default::default()
    };
    let good = verified(&response(&bob, "bob", "alice", 1, 1, NOW, 1), &bob);
    let v = vouch(&good, None, &policy, NOW).unwrap();
    assert_eq!(
        (v.rule, v.key_id),
        (VouchRule::Bootstrap, bob.public_key().key_id())
    );
    // A man in the middle with his own (validly self-signed) keys: the pin refuses him, even
    // with trust on first use on.
    let mitm = verified(&response(&mallory, "bob", "alice", 1, 1, NOW, 1), &mallory);
    let e = vouch(&mitm, None, &policy, NOW).unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeyMismatch);
    assert!(
        e.detail().contains(&bob.public_key().key_id().to_hex()),
        "{e}"
    );
    // A peer the root does not pin falls through to the other rules.
    let carol = verified(
        &response(&mallory, "carol", "alice", 1, 1, NOW, 1),
        &mallory,
    );
    assert_eq!(
        vouch(&carol, None, &policy, NOW).unwrap().rule,
        VouchRule::FirstUse
    );
    // The pin is valid only while the root says so.
    let later = verified(
        &response(&bob, "bob", "alice", 1, 1, NOW + 2 * 86_400, 1),
        &bob,
    );
    let e = vouch(&later, None, &policy, NOW + 2 * 86_400).unwrap_err();
    assert_eq!(
        e.code(),
        ErrorCode::Expired,
        "an expired root pins nothing, and is not skipped: {e}"
    );
}

#[test]
fn peer_vouch_first_use_pins_and_a_change_shows_both_key_ids() {
    let bob = key(Algorithm::MlDsa65, 2);
    let bob_new = key(Algorithm::Ed25519MlDsa65, 5);
    let tofu = VouchPolicy {
        trust_on_first_use: true,
        ..Default::default()
    };
    let first = verified(&response(&bob, "bob", "alice", 1, 1, NOW, 1), &bob);
    assert_eq!(
        vouch(&first, None, &tofu, NOW).unwrap().rule,
        VouchRule::FirstUse
    );
    let pinned = bob.public_key().key_id();
    assert_eq!(
        vouch(&first, Some(&pinned), &tofu, NOW).unwrap().rule,
        VouchRule::Pinned
    );
    let changed = verified(&response(&bob_new, "bob", "alice", 1, 2, NOW, 2), &bob_new);
    let e = vouch(&changed, Some(&pinned), &tofu, NOW).unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeyChanged);
    assert_eq!(e.code().as_str(), "key_changed");
    assert!(
        e.detail().contains(&pinned.to_hex())
            && e.detail().contains(&bob_new.public_key().key_id().to_hex()),
        "{e}"
    );
    // Without trust on first use nothing vouches for a stranger.
    let none = VouchPolicy::default();
    assert_eq!(
        vouch(&first, None, &none, NOW).unwrap_err().code(),
        ErrorCode::Unauthorized
    );
}

/// A registry log recording `event`, and the response as a bundle proving that entry.
fn transparency_bundle(reg: &mut MemoryRegistry, resp_env: &Envelope, event: Event) -> Vec<u8> {
    reg.append(Event::AuditNote {
        text: "before".into(),
    })
    .unwrap();
    let seq = reg.append(event).unwrap();
    reg.append(Event::AuditNote {
        text: "after".into(),
    })
    .unwrap();
    reg.bundle(seq, resp_env.clone(), Vec::new())
        .unwrap()
        .to_bytes()
}

#[test]
fn peer_vouch_key_transparency_through_a_bundle() {
    let bob = key(Algorithm::Ed25519MlDsa65, 2);
    let resp = response(&bob, "bob", "alice", 1, 1, NOW, 1);
    let env = resp.sign(&bob).unwrap();
    let stored = |peer: &str, k: KeyId| Event::PeerKeyStored {
        peer_id: peer.into(),
        key_id: k,
    };
    let mut reg = MemoryRegistry::new(60);
    let bytes = transparency_bundle(&mut reg, &env, stored("bob", bob.public_key().key_id()));
    let v = verify_key_response(&bytes, "alice", NOW, SKEW).unwrap();
    assert!(v.proof.is_some());
    let roots = [PeerLog::new("bob", reg.pinned())];
    let policy = VouchPolicy {
        transparency: &roots,
        require_hybrid_checkpoint: true,
        ..Default::default()
    };
    let got = vouch(&v, None, &policy, NOW).unwrap();
    assert_eq!(got.rule, VouchRule::Transparency);
    let (origin, size, seq) = got.logged_at.unwrap();
    assert_eq!(
        (origin.as_str(), size, seq),
        ("example.test/registry", 3, 1)
    );
    // A pinned different key still wins: key_changed.
    let other = KeyId([7; 32]);
    assert_eq!(
        vouch(&v, Some(&other), &policy, NOW).unwrap_err().code(),
        ErrorCode::KeyChanged
    );

    // The same log trusted for another peer only (a third party's registry, which logs the
    // keys it stores for others): it vouches for nothing of bob's.
    let carols = [PeerLog::new("carol", reg.pinned())];
    let third_party = VouchPolicy {
        transparency: &carols,
        trust_on_first_use: true,
        ..policy.clone()
    };
    let e = vouch(&v, None, &third_party, NOW).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unauthorized, "{e}");
    assert!(e.detail().contains("no log of peer \"bob\""), "{e}");

    // A log the verifier does not trust.
    let stranger = [PeerLog::new("bob", MemoryRegistry::new(61).pinned())];
    let untrusted = VouchPolicy {
        transparency: &stranger,
        ..policy.clone()
    };
    assert!(vouch(&v, None, &untrusted, NOW).is_err());
    // No trusted log at all, even with trust on first use: a bad or unusable proof never
    // falls back to first use.
    let nolog = VouchPolicy {
        trust_on_first_use: true,
        ..Default::default()
    };
    assert_eq!(
        vouch(&v, None, &nolog, NOW).unwrap_err().code(),
        ErrorCode::Unauthorized
    );

    // The entry records another peer, or another key.
    for event in [
        stored("carol", bob.public_key().key_id()),
        stored("bob", KeyId([1; 32])),
    ] {
        let mut reg = MemoryRegistry::new(60);
        let bytes = transparency_bundle(&mut reg, &env, event);
        let v = verify_key_response(&bytes, "alice", NOW, SKEW).unwrap();
        let roots = [PeerLog::new("bob", reg.pinned())];
        let p = VouchPolicy {
            transparency: &roots,
            ..Default::default()
        };
        assert_eq!(
            vouch(&v, None, &p, NOW).unwrap_err().code(),
            ErrorCode::ProofInvalid
        );
    }
    // A tampered inclusion proof.
    let mut b = cairn_core::bundle::Bundle::from_bytes(&bytes).unwrap();
    b.inclusion.hashes[0][0] ^= 1;
    let v = verify_key_response(&b.to_bytes(), "alice", NOW, SKEW).unwrap();
    assert_eq!(
        vouch(&v, None, &policy, NOW).unwrap_err().code(),
        ErrorCode::ProofInvalid
    );
    // verify_bundle does not take a key response for a token or manifest.
    let b = cairn_core::bundle::Bundle::from_bytes(&bytes).unwrap();
    let e = cairn_core::bundle::verify_bundle(&b, &roots[0].root, NOW, &Default::default())
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::DomainMismatch);
}

#[test]
fn peer_vouch_refuses_a_bundle_whose_subject_is_not_the_response() {
    let bob = key(Algorithm::MlDsa65, 2);
    let resp = response(&bob, "bob", "alice", 1, 1, NOW, 1);
    let env = resp.sign(&bob).unwrap();
    let mut reg = MemoryRegistry::new(60);
    let bytes = transparency_bundle(
        &mut reg,
        &env,
        Event::PeerKeyStored {
            peer_id: "bob".into(),
            key_id: bob.public_key().key_id(),
        },
    );
    let mut v = verify_key_response(&bytes, "alice", NOW, SKEW).unwrap();
    // What a caller could hand in by mixing a response with another response's bundle.
    v.envelope = resp.sign(&bob).unwrap();
    v.envelope.payload_type = KEY_REQUEST_TYPE.into();
    let roots = [PeerLog::new("bob", reg.pinned())];
    let policy = VouchPolicy {
        transparency: &roots,
        ..Default::default()
    };
    assert_eq!(
        vouch(&v, None, &policy, NOW).unwrap_err().code(),
        ErrorCode::ProofInvalid
    );
}

#[cfg(feature = "legacy-dilithium")]
#[test]
fn peer_legacy_dilithium3_responses_verify_with_the_feature() {
    use cairn_core::crypto::LegacySigningKey;
    let old = LegacySigningKey::generate(Algorithm::Dilithium3R3).unwrap();
    let resp = KeyResponse {
        version: 1,
        responder_id: "numi-peer".into(),
        requester_id: "alice".into(),
        signing_key: old.public_key().clone(),
        kem_key: kem(1),
        request_nonce: 1,
        timestamp: NOW,
        nonce: 1,
    };
    let mut env = Envelope::new(KEY_RESPONSE_TYPE, resp.to_bytes()).unwrap();
    let sig = old.sign(&env.signed_bytes());
    env.signatures.push(EnvelopeSignature {
        keyid: old.public_key().key_id(),
        sig: sig.into_bytes(),
    });
    let v = verify_key_response(&env.to_compact(), "alice", NOW, SKEW).unwrap();
    assert!(v.response.signing_key.algorithm().is_legacy());
    let mut bad = env.clone();
    bad.payload[3] ^= 1;
    assert!(verify_key_response(&bad.to_compact(), "alice", NOW, SKEW).is_err());
}

/// cairn's FIPS 203 modulus check of an encapsulation key agrees with the ml-kem crate's: keys
/// built from 12-bit coefficients, most below q, some at or above it (in any slot, either
/// half of a 3-byte group), plus the 32-byte seed.
mod modulus_check {
    use super::*;
    use proptest::prelude::*;

    fn key(coefficients: &[u16], seed: u8) -> Vec<u8> {
        let mut out = Vec::with_capacity(1184);
        for pair in coefficients.chunks(2) {
            let (a, b) = (pair[0], pair[1]);
            out.push((a & 0xff) as u8);
            out.push(((a >> 8) | ((b & 0x0f) << 4)) as u8);
            out.push((b >> 4) as u8);
        }
        out.extend([seed; 32]);
        out
    }

    fn crate_accepts(k: &[u8]) -> bool {
        let encoded = ml_kem::Key::<ml_kem::EncapsulationKey768>::try_from(k).unwrap();
        ml_kem::EncapsulationKey768::new(&encoded).is_ok()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn agrees_with_ml_kem(
            mut coefficients in proptest::collection::vec(0u16..3329, 768),
            bad in proptest::collection::vec((0usize..768, 3300u16..4096), 0..3),
            seed in any::<u8>(),
        ) {
            for (i, v) in bad {
                coefficients[i] = v;
            }
            let k = key(&coefficients, seed);
            prop_assert_eq!(KemPublicKey::from_bytes(&k).is_ok(), crate_accepts(&k));
        }
    }

    #[test]
    fn edges() {
        for (slot, value, ok) in [
            (0, 3328, true),
            (0, 3329, false),
            (1, 3329, false),
            (767, 4095, false),
            (766, 3328, true),
        ] {
            let mut c = vec![7u16; 768];
            c[slot] = value;
            let k = key(&c, 1);
            assert_eq!(
                KemPublicKey::from_bytes(&k).is_ok(),
                ok,
                "slot {slot} value {value}"
            );
            assert_eq!(crate_accepts(&k), ok);
        }
    }
}
