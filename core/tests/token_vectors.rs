//! Test vectors for capability tokens: tests/vectors/token.json.
//!
//! `generate()` rebuilds every case from fixed seeds (Ed25519 is deterministic, ML-DSA signs
//! with FIPS 204's deterministic variant). The normal run checks that the committed file is
//! exactly what the generator produces and that `verify_token` gives every case's verdict.
//! `CAIRN_REGEN_VECTORS=1 cargo test -p cairn-core --test token_vectors` rewrites the file.
//!
//! Expected results are written down by the generator from what it built (ids it computed,
//! the error it meant to provoke), never copied from the verifier's answer.

mod support;

use std::collections::BTreeSet;

use cairn_core::crypto::{Algorithm, KeyId, PublicKey, SigningKey};
use cairn_core::dsse::{Envelope, EnvelopeSignature};
use cairn_core::encoding::{b64_decode, b64_encode, hex_decode_array, hex_encode, to_postcard};
use cairn_core::manifest::{ManifestClaims, MANIFEST_PAYLOAD_TYPE};
use cairn_core::token::{
    verify_token, ConstraintValue, TokenClaims, VerifyOptions, TOKEN_PAYLOAD_TYPE,
};
use cairn_core::{Error, ErrorCode};
use serde_json::{json, Value};
use support::keys::{key_json, parse_keys};
use support::vectors;

const T0: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY: u64 = 86_400;
const AUDIENCE: &str = "registry.example";

fn key(alg: Algorithm, n: u8) -> SigningKey {
    SigningKey::from_seed(alg, &[n; 32])
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Claims with the common defaults; callers adjust fields.
fn claims(issuer: &SigningKey, holder: &SigningKey, caps: &[&str], nonce: u8) -> TokenClaims {
    TokenClaims {
        version: 1,
        issuer: issuer.public_key().key_id(),
        audience: AUDIENCE.into(),
        holder: holder.public_key().clone(),
        capabilities: set(caps),
        constraints: Default::default(),
        not_before: T0,
        expires_at: T0 + 30 * DAY,
        nonce: [nonce; 16],
        parent: None,
    }
}

/// Signs raw payload bytes (valid or deliberately not) as a token.
fn sign_payload(payload_type: &str, payload: Vec<u8>, key: &SigningKey) -> Envelope {
    let mut env = Envelope::new(payload_type, payload).unwrap();
    env.sign_deterministic(key).unwrap();
    env
}

fn sign(c: &TokenClaims, key: &SigningKey) -> Envelope {
    sign_payload(TOKEN_PAYLOAD_TYPE, to_postcard(c), key)
}

fn flip(mut bytes: Vec<u8>, index: usize) -> Vec<u8> {
    bytes[index] ^= 0x04;
    bytes
}

/// Offset of the payload inside a compact envelope.
fn payload_offset(env: &Envelope) -> usize {
    let compact = env.to_compact();
    compact
        .windows(env.payload.len())
        .position(|w| w == env.payload.as_slice())
        .unwrap()
}

struct Case {
    name: String,
    args: Value,
    expect: Value,
}

#[derive(Clone)]
struct Args {
    token: Vec<u8>,
    parents: Vec<Vec<u8>>,
    trusted: Vec<PublicKey>,
    now: u64,
    revoked: Vec<[u8; 32]>,
    audience: Option<String>,
    capability: Option<String>,
}

impl Args {
    fn new(token: &Envelope, parents: &[&Envelope], trusted: &[&SigningKey], now: u64) -> Args {
        Args {
            token: token.to_compact(),
            parents: parents.iter().map(|p| p.to_compact()).collect(),
            trusted: trusted.iter().map(|k| k.public_key().clone()).collect(),
            now,
            revoked: vec![],
            audience: None,
            capability: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "token": b64_encode(&self.token),
            "parents": self.parents.iter().map(|p| b64_encode(p)).collect::<Vec<_>>(),
            "trusted_issuers": self.trusted.iter().map(key_json).collect::<Vec<_>>(),
            "now": self.now,
            "revoked": self.revoked.iter().map(|r| hex_encode(r)).collect::<Vec<_>>(),
        });
        if let Some(a) = &self.audience {
            v["audience"] = json!(a);
        }
        if let Some(c) = &self.capability {
            v["capability"] = json!(c);
        }
        v
    }
}

fn ok(token: &Envelope, chain: &[&Envelope], issuer: &SigningKey, holder: &SigningKey) -> Value {
    let claims = TokenClaims::from_payload(&token.payload).unwrap();
    json!({
        "ok": true,
        "id": hex_encode(&token.id()),
        "chain_ids": chain.iter().map(|e| hex_encode(&e.id())).collect::<Vec<_>>(),
        "issuer": issuer.public_key().key_id().to_hex(),
        "holder": holder.public_key().key_id().to_hex(),
        "capabilities": claims.capabilities,
    })
}

fn err(code: ErrorCode) -> Value {
    json!({ "error": code.as_str() })
}

fn generate() -> String {
    let iss_ed = key(Algorithm::Ed25519, 1);
    let iss_ml = key(Algorithm::MlDsa44, 2);
    let iss_hy65 = key(Algorithm::Ed25519MlDsa65, 3);
    let untrusted = key(Algorithm::Ed25519, 9);
    let alice = key(Algorithm::Ed25519, 11);
    let bob = key(Algorithm::Ed25519, 12);
    let carol = key(Algorithm::Ed25519, 13);
    let dave = key(Algorithm::MlDsa44, 14);
    let erin = key(Algorithm::Ed25519MlDsa44, 15);

    // The main chain: root (Ed25519 issuer -> alice), child (alice -> bob),
    // grandchild (bob -> carol), each narrower than its parent.
    let mut root_c = claims(&iss_ed, &alice, &["publish", "read", "yank"], 1);
    root_c.constraints = [
        ("max_size".to_string(), ConstraintValue::Max(1 << 30)),
        (
            "region".to_string(),
            ConstraintValue::OneOf(set(&["eu", "us"])),
        ),
        ("repo".to_string(), ConstraintValue::Prefix("acme/".into())),
    ]
    .into_iter()
    .collect();
    let root = sign(&root_c, &iss_ed);

    let mut child_c = claims(&alice, &bob, &["publish", "read"], 2);
    child_c.constraints = [
        ("max_size".to_string(), ConstraintValue::Max(1 << 20)),
        (
            "rate".to_string(),
            ConstraintValue::Range { min: 1, max: 100 },
        ),
        ("region".to_string(), ConstraintValue::Exact("eu".into())),
        (
            "repo".to_string(),
            ConstraintValue::Prefix("acme/web/".into()),
        ),
    ]
    .into_iter()
    .collect();
    child_c.not_before = T0 + DAY;
    child_c.expires_at = T0 + 20 * DAY;
    child_c.parent = Some(root.id());
    let child = sign(&child_c, &alice);

    let mut grand_c = claims(&bob, &carol, &["read"], 3);
    grand_c.constraints = child_c.constraints.clone();
    grand_c.constraints.insert(
        "repo".into(),
        ConstraintValue::OneOf(set(&["acme/web/app", "acme/web/docs"])),
    );
    grand_c.not_before = T0 + 2 * DAY;
    grand_c.expires_at = T0 + 10 * DAY;
    grand_c.parent = Some(child.id());
    let grand = sign(&grand_c, &bob);

    let now = T0 + 5 * DAY;
    let mut cases: Vec<Case> = Vec::new();
    let mut add = |name: &str, args: &Args, expect: Value| {
        cases.push(Case {
            name: name.into(),
            args: args.to_json(),
            expect,
        })
    };

    // --- valid tokens ---
    let mut a = Args::new(&root, &[], &[&iss_ml, &iss_ed], now);
    a.audience = Some(AUDIENCE.into());
    a.capability = Some("yank".into());
    add("valid_root_ed25519", &a, ok(&root, &[], &iss_ed, &alice));

    let mut ml_c = claims(&iss_ml, &dave, &["read"], 4);
    ml_c.constraints = [("branch".to_string(), ConstraintValue::Exact("main".into()))]
        .into_iter()
        .collect();
    let ml_root = sign(&ml_c, &iss_ml);
    add(
        "valid_root_ml_dsa_44_issuer_and_holder",
        &Args::new(&ml_root, &[], &[&iss_ml], now),
        ok(&ml_root, &[], &iss_ml, &dave),
    );

    let hy_root = sign(&claims(&iss_hy65, &erin, &["read", "write"], 5), &iss_hy65);
    add(
        "valid_root_hybrid_ed25519_ml_dsa_65",
        &Args::new(&hy_root, &[], &[&iss_hy65], now),
        ok(&hy_root, &[], &iss_hy65, &erin),
    );

    // Delegation by post-quantum holders: ML-DSA-44 (dave) and hybrid (erin).
    let mut c = claims(&dave, &bob, &["read"], 10);
    c.constraints = ml_c.constraints.clone();
    c.parent = Some(ml_root.id());
    let ml_child = sign(&c, &dave);
    add(
        "valid_delegated_by_ml_dsa_44_holder",
        &Args::new(&ml_child, &[&ml_root], &[&iss_ml], now),
        ok(&ml_child, &[&ml_root], &iss_ml, &bob),
    );
    let mut c = claims(&erin, &bob, &["write"], 11);
    c.parent = Some(hy_root.id());
    let hy_child = sign(&c, &erin);
    add(
        "valid_delegated_by_hybrid_holder",
        &Args::new(&hy_child, &[&hy_root], &[&iss_hy65], now),
        ok(&hy_child, &[&hy_root], &iss_hy65, &bob),
    );
    let hy_compact = hy_child.to_compact();
    let mut a = Args::new(&hy_child, &[&hy_root], &[&iss_hy65], now);
    a.token = flip(hy_compact.clone(), hy_compact.len() - 100);
    add(
        "flipped_bit_in_ml_dsa_half_of_hybrid_signature",
        &a,
        err(ErrorCode::SignatureInvalid),
    );
    a.token = flip(hy_compact.clone(), hy_compact.len() - 2420 - 10);
    add(
        "flipped_bit_in_ed25519_half_of_hybrid_signature",
        &a,
        err(ErrorCode::SignatureInvalid),
    );

    let mut a = Args::new(&root, &[], &[&iss_ed], now);
    a.token = root.to_json().into_bytes();
    add(
        "valid_root_json_form_has_the_compact_id",
        &a,
        ok(&root, &[], &iss_ed, &alice),
    );

    let mut a = Args::new(&root, &[], &[&iss_ed], now);
    a.token = format!("\n  {}\n", root.to_json().replace(",", ", ")).into_bytes();
    add(
        "valid_root_json_form_with_whitespace",
        &a,
        ok(&root, &[], &iss_ed, &alice),
    );

    let mut a = Args::new(&child, &[&root], &[&iss_ed], now);
    a.capability = Some("publish".into());
    add(
        "valid_delegated_one_level",
        &a,
        ok(&child, &[&root], &iss_ed, &bob),
    );

    let mut a = Args::new(&grand, &[&root, &child], &[&iss_ed], now);
    a.audience = Some(AUDIENCE.into());
    a.capability = Some("read".into());
    a.revoked = vec![[0xaa; 32], ml_root.id()];
    add(
        "valid_delegated_two_levels_unrelated_revocations",
        &a,
        ok(&grand, &[&root, &child], &iss_ed, &carol),
    );

    // --- time: valid while not_before <= now < expires_at ---
    add(
        "valid_at_not_before",
        &Args::new(&root, &[], &[&iss_ed], T0),
        ok(&root, &[], &iss_ed, &alice),
    );
    add(
        "valid_one_second_before_expiry",
        &Args::new(&root, &[], &[&iss_ed], T0 + 30 * DAY - 1),
        ok(&root, &[], &iss_ed, &alice),
    );
    add(
        "expired_at_expires_at",
        &Args::new(&root, &[], &[&iss_ed], T0 + 30 * DAY),
        err(ErrorCode::Expired),
    );
    add(
        "expired_after_expires_at",
        &Args::new(&root, &[], &[&iss_ed], T0 + 30 * DAY + 1),
        err(ErrorCode::Expired),
    );
    add(
        "not_yet_valid",
        &Args::new(&root, &[], &[&iss_ed], T0 - 1),
        err(ErrorCode::NotYetValid),
    );
    add(
        "delegated_expired_while_parent_valid",
        &Args::new(&grand, &[&root, &child], &[&iss_ed], T0 + 10 * DAY),
        err(ErrorCode::Expired),
    );
    add(
        "delegated_not_yet_valid_while_parent_valid",
        &Args::new(&grand, &[&root, &child], &[&iss_ed], T0 + DAY),
        err(ErrorCode::NotYetValid),
    );

    // --- revocation ---
    let mut a = Args::new(&root, &[], &[&iss_ed], now);
    a.revoked = vec![root.id()];
    add("revoked_self", &a, err(ErrorCode::Revoked));
    let mut a = Args::new(&grand, &[&root, &child], &[&iss_ed], now);
    a.revoked = vec![root.id()];
    add("revoked_root_ancestor", &a, err(ErrorCode::Revoked));
    let mut a = Args::new(&grand, &[&root, &child], &[&iss_ed], now);
    a.revoked = vec![child.id()];
    add("revoked_intermediate_ancestor", &a, err(ErrorCode::Revoked));

    // --- caller's checks ---
    let mut a = Args::new(&root, &[], &[&iss_ed], now);
    a.audience = Some("other.example".into());
    add("wrong_audience", &a, err(ErrorCode::DomainMismatch));
    let mut a = Args::new(&grand, &[&root, &child], &[&iss_ed], now);
    a.capability = Some("publish".into());
    add(
        "capability_of_the_parent_not_delegated",
        &a,
        err(ErrorCode::Unauthorized),
    );

    // --- trust ---
    let rogue = sign(&claims(&untrusted, &bob, &["read"], 6), &untrusted);
    add(
        "untrusted_issuer",
        &Args::new(&rogue, &[], &[&iss_ed, &iss_ml], now),
        err(ErrorCode::UnknownKey),
    );
    add(
        "no_trusted_issuers",
        &Args::new(&root, &[], &[], now),
        err(ErrorCode::UnknownKey),
    );
    let mut liar = claims(&iss_ed, &bob, &["read"], 7);
    liar.issuer = iss_ml.public_key().key_id();
    let liar = sign(&liar, &iss_ed);
    add(
        "claimed_issuer_is_not_the_signer",
        &Args::new(&liar, &[], &[&iss_ed, &iss_ml], now),
        err(ErrorCode::KeyMismatch),
    );

    // --- delegation rules ---
    let widen = |f: &dyn Fn(&mut TokenClaims), signer: &SigningKey| {
        let mut c = child_c.clone();
        f(&mut c);
        sign(&c, signer)
    };
    let bad = [
        (
            "delegated_widened_capability",
            widen(
                &|c| {
                    c.capabilities.insert("admin".into());
                },
                &alice,
            ),
            ErrorCode::DelegationInvalid,
        ),
        (
            "delegated_widened_numeric_constraint",
            widen(
                &|c| {
                    c.constraints
                        .insert("max_size".into(), ConstraintValue::Max(2 << 30));
                },
                &alice,
            ),
            ErrorCode::DelegationInvalid,
        ),
        (
            "delegated_widened_text_constraint",
            widen(
                &|c| {
                    c.constraints
                        .insert("repo".into(), ConstraintValue::Prefix("ac".into()));
                },
                &alice,
            ),
            ErrorCode::DelegationInvalid,
        ),
        (
            "delegated_constraint_changed_kind",
            widen(
                &|c| {
                    c.constraints
                        .insert("region".into(), ConstraintValue::Max(1));
                },
                &alice,
            ),
            ErrorCode::DelegationInvalid,
        ),
        (
            "delegated_dropped_constraint",
            widen(
                &|c| {
                    c.constraints.remove("region");
                },
                &alice,
            ),
            ErrorCode::DelegationInvalid,
        ),
        (
            "delegated_widened_expiry",
            widen(&|c| c.expires_at = T0 + 31 * DAY, &alice),
            ErrorCode::DelegationInvalid,
        ),
        (
            "delegated_earlier_not_before",
            widen(&|c| c.not_before = T0 - 1, &alice),
            ErrorCode::DelegationInvalid,
        ),
        (
            "delegated_changed_audience",
            widen(&|c| c.audience = "other.example".into(), &alice),
            ErrorCode::DelegationInvalid,
        ),
        (
            "delegated_wrong_parent_id",
            widen(&|c| c.parent = Some([0xee; 32]), &alice),
            ErrorCode::ChainBroken,
        ),
        (
            "delegated_without_parent_id",
            widen(&|c| c.parent = None, &alice),
            ErrorCode::ChainBroken,
        ),
        (
            "delegated_signed_by_someone_other_than_the_parent_holder",
            widen(&|c| c.issuer = bob.public_key().key_id(), &bob),
            ErrorCode::DelegationInvalid,
        ),
    ];
    for (name, token, code) in &bad {
        add(
            name,
            &Args::new(token, &[&root], &[&iss_ed], now),
            err(*code),
        );
    }
    add(
        "delegated_missing_intermediate_parent",
        &Args::new(&grand, &[&root], &[&iss_ed], now),
        err(ErrorCode::DelegationInvalid),
    );
    add(
        "delegated_parents_in_wrong_order",
        &Args::new(&grand, &[&child, &root], &[&iss_ed], now),
        err(ErrorCode::UnknownKey),
    );
    add(
        "delegated_without_parents",
        &Args::new(&child, &[], &[&iss_ed], now),
        err(ErrorCode::UnknownKey),
    );
    let mut orphan = claims(&iss_ed, &bob, &["read"], 8);
    orphan.parent = Some(root.id());
    let orphan = sign(&orphan, &iss_ed);
    add(
        "trusted_issuer_token_naming_a_parent_that_is_not_given",
        &Args::new(&orphan, &[], &[&iss_ed], now),
        err(ErrorCode::ChainBroken),
    );

    // Chain depth: 8 ancestors is the limit.
    let holders: Vec<SigningKey> = (20..30).map(|n| key(Algorithm::Ed25519, n)).collect();
    let mut deep: Vec<Envelope> = vec![sign(&claims(&iss_ed, &holders[0], &["read"], 20), &iss_ed)];
    for i in 1..10 {
        let mut c = claims(&holders[i - 1], &holders[i], &["read"], 20 + i as u8);
        c.parent = Some(deep[i - 1].id());
        deep.push(sign(&c, &holders[i - 1]));
    }
    let refs: Vec<&Envelope> = deep.iter().collect();
    add(
        "delegation_chain_of_8_ancestors",
        &Args::new(&deep[8], &refs[..8], &[&iss_ed], now),
        ok(&deep[8], &refs[..8], &iss_ed, &holders[8]),
    );
    add(
        "delegation_chain_of_9_ancestors_too_deep",
        &Args::new(&deep[9], &refs[..9], &[&iss_ed], now),
        err(ErrorCode::TooLarge),
    );

    // --- tampering and framing ---
    let compact = root.to_compact();
    let off = payload_offset(&root);
    let mut a = Args::new(&root, &[], &[&iss_ed], now);
    a.token = flip(compact.clone(), off + 40);
    add(
        "flipped_bit_in_payload",
        &a,
        err(ErrorCode::SignatureInvalid),
    );
    a.token = flip(compact.clone(), compact.len() - 20);
    add(
        "flipped_bit_in_ed25519_signature",
        &a,
        err(ErrorCode::SignatureInvalid),
    );
    let ml_compact = ml_root.to_compact();
    let mut a = Args::new(&ml_root, &[], &[&iss_ml], now);
    a.token = flip(ml_compact.clone(), ml_compact.len() - 1000);
    add(
        "flipped_bit_in_ml_dsa_signature",
        &a,
        err(ErrorCode::SignatureInvalid),
    );
    let mut a = Args::new(&root, &[], &[&iss_ed], now);
    a.token = flip(compact.clone(), compact.len() - 64 - 2 - 5);
    add("flipped_bit_in_key_id", &a, err(ErrorCode::UnknownKey));
    let mut a = Args::new(&child, &[&root], &[&iss_ed], now);
    a.parents[0] = flip(compact.clone(), off + 40);
    add(
        "flipped_bit_in_parent_payload",
        &a,
        err(ErrorCode::SignatureInvalid),
    );
    let mut a = Args::new(&root, &[], &[&iss_ed], now);
    a.token = compact[..compact.len() - 1].to_vec();
    add("truncated_by_one_byte", &a, err(ErrorCode::Malformed));
    a.token = compact[..compact.len() / 2].to_vec();
    add("truncated_to_half", &a, err(ErrorCode::Malformed));
    a.token = [compact.as_slice(), &[0]].concat();
    add("trailing_byte", &a, err(ErrorCode::Malformed));
    a.token = b"CDSE".to_vec();
    add("magic_only", &a, err(ErrorCode::Malformed));
    a.token = vec![];
    add("empty_input", &a, err(ErrorCode::Malformed));

    let mut junk = root.clone();
    junk.signatures.push(EnvelopeSignature {
        keyid: KeyId([0x55; 32]),
        sig: vec![0; 64],
    });
    add(
        "extra_junk_signature",
        &Args::new(&junk, &[], &[&iss_ed], now),
        err(ErrorCode::Malformed),
    );
    let mut twice = root.clone();
    twice.signatures.push(twice.signatures[0].clone());
    add(
        "same_signature_twice",
        &Args::new(&twice, &[], &[&iss_ed], now),
        err(ErrorCode::Malformed),
    );
    let mut cosigned = root.clone();
    cosigned.sign_deterministic(&iss_ml).unwrap();
    add(
        "second_valid_signature_by_another_trusted_issuer",
        &Args::new(&cosigned, &[], &[&iss_ed, &iss_ml], now),
        err(ErrorCode::Malformed),
    );
    let mut unsigned = root.clone();
    unsigned.signatures.clear();
    add(
        "no_signature",
        &Args::new(&unsigned, &[], &[&iss_ed], now),
        err(ErrorCode::Malformed),
    );

    // --- domain and decoding ---
    let manifest = ManifestClaims::new(
        "app.tar",
        "application/x-tar",
        3,
        cairn_core::encoding::sha256(&[b"abc"]),
        T0,
    );
    let manifest = sign_payload(
        MANIFEST_PAYLOAD_TYPE,
        manifest.to_payload().unwrap(),
        &iss_ed,
    );
    add(
        "manifest_offered_as_token",
        &Args::new(&manifest, &[], &[&iss_ed], now),
        err(ErrorCode::DomainMismatch),
    );
    let relabelled = sign_payload(
        "application/vnd.cairn.token.v2+postcard",
        to_postcard(&root_c),
        &iss_ed,
    );
    add(
        "token_under_another_payload_type",
        &Args::new(&relabelled, &[], &[&iss_ed], now),
        err(ErrorCode::DomainMismatch),
    );
    let mut v2 = to_postcard(&root_c);
    v2[0] = 2;
    add(
        "unknown_version",
        &Args::new(
            &sign_payload(TOKEN_PAYLOAD_TYPE, v2, &iss_ed),
            &[],
            &[&iss_ed],
            now,
        ),
        err(ErrorCode::UnsupportedVersion),
    );

    // Payloads assembled field by field (postcard of a struct is its fields in order), to
    // produce encodings the claims type itself can never emit.
    let fields = |caps: Vec<&str>, not_before: Vec<u8>, expires_at: u64| -> Vec<u8> {
        let c = claims(&iss_ed, &bob, &["read"], 9);
        [
            to_postcard(&c.version),
            to_postcard(&c.issuer),
            to_postcard(&c.audience),
            to_postcard(&c.holder),
            to_postcard(&caps),
            to_postcard(&c.constraints),
            not_before,
            to_postcard(&expires_at),
            to_postcard(&c.nonce),
            to_postcard(&c.parent),
        ]
        .concat()
    };
    let signed = |p: Vec<u8>| sign_payload(TOKEN_PAYLOAD_TYPE, p, &iss_ed);
    let nbf = to_postcard(&T0);
    let exp = T0 + DAY;
    let base = signed(fields(vec!["read"], nbf.clone(), exp));
    add(
        "hand_assembled_payload_is_valid",
        &Args::new(&base, &[], &[&iss_ed], T0 + 3600),
        ok(&base, &[], &iss_ed, &bob),
    );
    let malformed = [
        (
            "capabilities_unsorted",
            fields(vec!["write", "read"], nbf.clone(), exp),
        ),
        (
            "capabilities_duplicated",
            fields(vec!["read", "read"], nbf.clone(), exp),
        ),
        ("capabilities_empty", fields(vec![], nbf.clone(), exp)),
        (
            "capability_with_space",
            fields(vec!["read all"], nbf.clone(), exp),
        ),
        (
            "non_minimal_varint",
            fields(
                vec!["read"],
                {
                    let mut v = nbf.clone();
                    let last = v.len() - 1;
                    v[last] |= 0x80;
                    v.push(0x00);
                    v
                },
                exp,
            ),
        ),
        ("validity_empty", fields(vec!["read"], nbf.clone(), T0)),
        (
            "payload_with_trailing_byte",
            [fields(vec!["read"], nbf.clone(), exp), vec![0]].concat(),
        ),
        ("payload_truncated", {
            let p = fields(vec!["read"], nbf.clone(), exp);
            p[..p.len() - 1].to_vec()
        }),
    ];
    for (name, payload) in malformed {
        add(
            name,
            &Args::new(&signed(payload), &[], &[&iss_ed], now),
            err(ErrorCode::Malformed),
        );
    }
    // A holder key that is not a valid Ed25519 point (the identity, small order).
    let mut weak = fields(vec!["read"], nbf.clone(), exp);
    let holder_at = 1 + 32 + 1 + AUDIENCE.len();
    assert_eq!(&weak[holder_at..holder_at + 2], &[0x01, 0x20]);
    weak[holder_at + 2..holder_at + 34].copy_from_slice(&{
        let mut id = [0u8; 32];
        id[0] = 1;
        id
    });
    add(
        "holder_key_of_small_order",
        &Args::new(&signed(weak), &[], &[&iss_ed], now),
        err(ErrorCode::Malformed),
    );

    let doc = json!({
        "kind": "token",
        "version": 1,
        "description": "Capability tokens: DSSE envelopes of type application/vnd.cairn.token.v1+postcard \
            with postcard TokenClaims, verified with their delegation chain (docs/FORMATS.md). \
            Keys are derived with SigningKey::from_seed; ML-DSA signatures use the deterministic variant.",
        "ops": {
            "verify_token": "args: token (base64 of the envelope bytes, compact CDSE form or DSSE JSON), \
                parents (array of the same, root first, immediate parent last), trusted_issuers \
                (array of {algorithm, public_key (base64 raw key)}), now (Unix seconds), revoked \
                (array of hex token ids), audience (optional string), capability (optional string). \
                Result: {ok, id, chain_ids (root first), issuer (key id of the trusted root issuer), \
                holder (key id), capabilities} or {error}."
        },
        "cases": cases.into_iter().map(|c| json!({
            "name": c.name, "op": "verify_token", "args": c.args, "expect": c.expect
        })).collect::<Vec<_>>(),
    });
    vectors::render(&doc)
}

fn arg_envelope(v: &Value) -> Result<Envelope, Error> {
    let bytes = b64_decode(v.as_str().unwrap())?;
    Envelope::parse(&bytes)
}

/// The `verify_token` op as every implementation runs it.
fn run(args: &Value) -> Result<Value, Error> {
    let token = arg_envelope(&args["token"])?;
    let parents = args["parents"]
        .as_array()
        .unwrap()
        .iter()
        .map(arg_envelope)
        .collect::<Result<Vec<_>, _>>()?;
    let trusted = parse_keys(&args["trusted_issuers"])?;
    let revoked = args["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| hex_decode_array::<32>(r.as_str().unwrap()))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = VerifyOptions {
        audience: args.get("audience").and_then(Value::as_str),
        capability: args.get("capability").and_then(Value::as_str),
    };
    let v = verify_token(
        &token,
        &parents,
        &trusted,
        args["now"].as_u64().unwrap(),
        &revoked[..],
        &opts,
    )?;
    Ok(json!({
        "ok": true,
        "id": hex_encode(&v.id),
        "chain_ids": v.chain_ids.iter().map(|d| hex_encode(d)).collect::<Vec<_>>(),
        "issuer": v.issuer.key_id().to_hex(),
        "holder": v.claims.holder.key_id().to_hex(),
        "capabilities": v.claims.capabilities,
    }))
}

#[test]
fn token_vectors_match_generator_and_verifier() {
    let cases = vectors::committed("token", &generate());
    assert!(cases.len() >= 40);
    vectors::assert_distinct_names(&cases);
    vectors::assert_both_verdicts(&cases, &["verify_token"]);
    vectors::check(&cases, |case| {
        assert_eq!(case["op"], "verify_token");
        run(&case["args"])
    });
}
