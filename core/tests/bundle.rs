//! Bundle verification end to end: valid token and manifest bundles, every way a bundle can be
//! wrong, trust-root rotation, the vectors in tests/vectors/bundle.json, and mutation tests.

mod support;

use cairn_core::bundle::example::{MemoryRegistry, NOW, ORIGIN};
use cairn_core::bundle::{verify_bundle, Bundle, BundleKind, BundlePolicy};
use cairn_core::checkpoint::Checkpoint;
use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{b64_decode, b64_encode, hex_decode_array, hex_encode};
use cairn_core::ledger::Event;
use cairn_core::manifest::ArtifactCheck;
use cairn_core::merkle::InclusionProof;
use cairn_core::token::{TokenBuilder, VerifyOptions};
use cairn_core::trust::{Role, RoleSet, Thresholds, TrustedKey, VerifiedRoot};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::vectors;

const ARTIFACT: &[u8] = b"cairn release 1.0\n";

fn code(r: Result<impl Sized, cairn_core::Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.code().as_str().into(),
    }
}

fn with_artifact(a: &[u8]) -> BundlePolicy<'_> {
    BundlePolicy {
        artifact: ArtifactCheck::Bytes(a),
        ..Default::default()
    }
}

/// A registry with some unrelated history, a signed artifact and a token.
fn registry() -> (MemoryRegistry, Bundle, Bundle) {
    let mut reg = MemoryRegistry::new(1);
    reg.append(Event::AuditNote {
        text: "registry created".into(),
    })
    .unwrap();
    let (m, mseq) = reg.sign_artifact("release.tar", ARTIFACT).unwrap();
    let holder = SigningKey::from_seed(Algorithm::Ed25519, &[77; 32]);
    let (t, tseq) = reg.issue_token(&holder, "publish", 3600).unwrap();
    reg.append(Event::AuditNote {
        text: "later history".into(),
    })
    .unwrap();
    let mb = reg.bundle(mseq, m, vec![]).unwrap();
    let tb = reg.bundle(tseq, t, vec![]).unwrap();
    (reg, mb, tb)
}

#[test]
fn valid_manifest_bundle_reports_what_it_checked() {
    let (reg, mb, _) = registry();
    let v = verify_bundle(&mb, &reg.pinned(), NOW, &with_artifact(ARTIFACT)).unwrap();
    assert_eq!(v.kind, BundleKind::Manifest);
    assert_eq!(v.checkpoint.origin, ORIGIN);
    assert_eq!(v.checkpoint.size, 4);
    assert_eq!(v.entry_seq, 1);
    assert_eq!(v.signers.len(), 1);
    assert_eq!(v.signers[0].label, "release-signer");
    assert_eq!(v.checkpoint_signers[0].label, "log");
    assert!(v.trust_root_matches_bundle);
    assert!(v.checks.contains(&"artifact_digest"));
    let j = v.to_json();
    assert_eq!(j["kind"], "manifest");
    assert_eq!(j["manifest"]["claims"]["name"], "release.tar");
    // Without the artifact, signatures and inclusion still verify; the digest is not checked.
    let v = verify_bundle(&mb, &reg.pinned(), NOW, &BundlePolicy::default()).unwrap();
    assert!(!v.checks.contains(&"artifact_digest"));
}

#[test]
fn valid_token_bundle_and_its_failures() {
    let (reg, _, tb) = registry();
    let pinned = reg.pinned();
    let v = verify_bundle(&tb, &pinned, NOW, &BundlePolicy::default()).unwrap();
    assert_eq!(v.kind, BundleKind::Token);
    assert_eq!(
        v.token
            .as_ref()
            .unwrap()
            .claims
            .capabilities
            .iter()
            .next()
            .unwrap(),
        "publish"
    );
    // expired: the token was valid for an hour from NOW-100.
    assert_eq!(
        code(verify_bundle(
            &tb,
            &pinned,
            NOW + 3600,
            &BundlePolicy::default()
        )),
        "expired"
    );
    assert_eq!(
        code(verify_bundle(
            &tb,
            &pinned,
            NOW - 1000,
            &BundlePolicy::default()
        )),
        "not_yet_valid"
    );
    let revoked = [tb.subject.id()];
    let policy = BundlePolicy {
        revoked_tokens: &revoked,
        ..Default::default()
    };
    assert_eq!(code(verify_bundle(&tb, &pinned, NOW, &policy)), "revoked");
    // The verifier's revoked ids are a check only when given: an empty list checks nothing.
    let checks = |revoked: &[[u8; 32]]| {
        let policy = BundlePolicy {
            revoked_tokens: revoked,
            ..Default::default()
        };
        verify_bundle(&tb, &pinned, NOW, &policy).unwrap().checks
    };
    assert!(!checks(&[]).contains(&"token_revocation"));
    assert!(checks(&[[7; 32]]).contains(&"token_revocation"));
    let with_token_options = |audience, capability| {
        let policy = BundlePolicy {
            token: VerifyOptions {
                audience,
                capability,
            },
            ..Default::default()
        };
        code(verify_bundle(&tb, &pinned, NOW, &policy))
    };
    assert_eq!(
        with_token_options(Some("other.example"), None),
        "domain_mismatch"
    );
    assert_eq!(with_token_options(None, Some("admin")), "unauthorized");
}

/// A check the bundle's kind cannot answer is refused, not dropped: a token bundle swapped in
/// for a manifest bundle does not pass an artifact check, nor a manifest bundle a token's.
#[test]
fn a_check_the_bundles_kind_cannot_answer_is_refused() {
    let (reg, mb, tb) = registry();
    let pinned = reg.pinned();
    let e = verify_bundle(&tb, &pinned, NOW, &with_artifact(ARTIFACT)).unwrap_err();
    assert_eq!(e.code().as_str(), "domain_mismatch");
    assert!(e.to_string().contains("token bundle"), "{e}");
    let digest = ArtifactCheck::Digest {
        size: ARTIFACT.len() as u64,
        sha256: cairn_core::encoding::sha256(&[ARTIFACT]),
    };
    let policy = BundlePolicy {
        artifact: digest,
        ..Default::default()
    };
    assert_eq!(
        code(verify_bundle(&tb, &pinned, NOW, &policy)),
        "domain_mismatch"
    );
    for (audience, capability) in [(Some(ORIGIN), None), (None, Some("publish"))] {
        let policy = BundlePolicy {
            token: VerifyOptions {
                audience,
                capability,
            },
            ..with_artifact(ARTIFACT)
        };
        let e = verify_bundle(&mb, &pinned, NOW, &policy).unwrap_err();
        assert_eq!(e.code().as_str(), "domain_mismatch");
        assert!(e.to_string().contains("manifest bundle"), "{e}");
    }
    // Each kind with the checks it answers still verifies.
    verify_bundle(&mb, &pinned, NOW, &with_artifact(ARTIFACT)).unwrap();
    verify_bundle(&tb, &pinned, NOW, &BundlePolicy::default()).unwrap();
}

#[test]
fn delegated_token_bundle() {
    let mut reg = MemoryRegistry::new(2);
    let alice = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[21; 32]);
    let bob = SigningKey::from_seed(Algorithm::Ed25519, &[22; 32]);
    let (parent, _) = reg.issue_token(&alice, "publish", 3600).unwrap();
    let child = TokenBuilder::new(bob.public_key().clone())
        .audience("registry.example")
        .capability("publish")
        .validity(NOW - 50, NOW + 600)
        .nonce([9; 16])
        .deterministic()
        .delegate(&parent, &alice)
        .unwrap();
    let seq = reg
        .append(Event::TokenIssued {
            token_id: child.id(),
            issuer: alice.public_key().key_id(),
            audience: "registry.example".into(),
            expires_at: NOW + 600,
        })
        .unwrap();
    let b = reg
        .bundle(seq, child.clone(), vec![parent.clone()])
        .unwrap();
    let v = verify_bundle(&b, &reg.pinned(), NOW, &BundlePolicy::default()).unwrap();
    assert_eq!(v.signers.len(), 2);
    assert_eq!(v.signers[1].key_id, alice.public_key().key_id());
    // Without its parent the child cannot be verified.
    let orphan = reg.bundle(seq, child, vec![]).unwrap();
    assert_ne!(
        code(verify_bundle(
            &orphan,
            &reg.pinned(),
            NOW,
            &BundlePolicy::default()
        )),
        "ok"
    );
    // Revoking the parent revokes the child.
    let revoked = [parent.id()];
    let policy = BundlePolicy {
        revoked_tokens: &revoked,
        ..Default::default()
    };
    assert_eq!(
        code(verify_bundle(&b, &reg.pinned(), NOW, &policy)),
        "revoked"
    );
}

#[test]
fn tampered_bundles_fail_with_the_right_code() {
    let (reg, mb, tb) = registry();
    let pinned = reg.pinned();
    let check = |b: &Bundle, artifact: &[u8]| {
        code(verify_bundle(b, &pinned, NOW, &with_artifact(artifact)))
    };
    assert_eq!(check(&mb, b"cairn release 1.1\n"), "digest_mismatch");

    let mut b = mb.clone();
    b.inclusion.hashes[0][0] ^= 1;
    assert_eq!(check(&b, ARTIFACT), "proof_invalid");

    let mut b = mb.clone();
    b.inclusion.hashes.pop();
    assert_eq!(check(&b, ARTIFACT), "proof_invalid");

    // Another entry of the same log, with its own valid proof, does not record this manifest.
    let mut b = mb.clone();
    b.entry = reg.entries()[0].clone();
    b.inclusion.leaf_index = 0;
    b.inclusion.hashes = reg.tree().prove_inclusion(0, 4).unwrap();
    assert_eq!(check(&b, ARTIFACT), "proof_invalid");

    // A token offered with the manifest's entry: refused with an artifact to check (no token
    // bundle answers that), and without one (the entry does not record the token).
    let mut b = mb.clone();
    b.subject = tb.subject.clone();
    assert_eq!(check(&b, ARTIFACT), "domain_mismatch");
    assert_eq!(
        code(verify_bundle(
            &b,
            &reg.pinned(),
            NOW,
            &BundlePolicy::default()
        )),
        "proof_invalid"
    );

    // The checkpoint's root changed: its signature no longer verifies.
    let mut b = mb.clone();
    let root_line = b.checkpoint.lines().nth(2).unwrap().to_string();
    let mut flipped = b64_decode(&root_line).unwrap();
    flipped[0] ^= 0x80;
    b.checkpoint = b.checkpoint.replacen(&root_line, &b64_encode(&flipped), 1);
    assert_eq!(check(&b, ARTIFACT), "signature_invalid");

    // The checkpoint truncated before its signatures.
    let mut b = mb.clone();
    b.checkpoint
        .truncate(b.checkpoint.find("\n\n").unwrap() + 1);
    assert_eq!(check(&b, ARTIFACT), "malformed");

    // The manifest's signature broken.
    let mut b = mb.clone();
    b.subject.signatures[0].sig[3] ^= 4;
    assert_eq!(check(&b, ARTIFACT), "signature_invalid");

    // The inclusion proof claims a different tree size than the checkpoint.
    let mut b = mb.clone();
    b.inclusion.tree_size += 1;
    assert_eq!(check(&b, ARTIFACT), "proof_invalid");
}

#[test]
fn foreign_root_and_expired_root_are_refused() {
    let (_, mb, _) = registry();
    let other = MemoryRegistry::new(50);
    let r = verify_bundle(&mb, &other.pinned(), NOW, &with_artifact(ARTIFACT));
    assert_eq!(code(r), "unknown_key");
    let (reg, mb, _) = registry();
    let r = verify_bundle(
        &mb,
        &reg.pinned(),
        NOW + 400 * 86_400,
        &with_artifact(ARTIFACT),
    );
    assert_eq!(code(r), "expired");
}

#[test]
fn ed25519_only_checkpoint_fails_the_default_hybrid_policy() {
    let (reg, mb, _) = registry();
    let ed = SigningKey::from_seed(Algorithm::Ed25519, &[2; 32]);
    let (pinned, v2) = rotate(&reg, &ed);
    let mut b = mb.clone();
    b.trust_chain = vec![v2];
    b.checkpoint = Checkpoint::new(ORIGIN, 4, reg.tree().root())
        .sign(&[(ORIGIN, &ed)])
        .unwrap();
    let r = verify_bundle(&b, &pinned, NOW, &with_artifact(ARTIFACT));
    assert_eq!(code(r), "threshold_not_met");
    let relaxed = BundlePolicy {
        require_hybrid_checkpoint: false,
        ..with_artifact(ARTIFACT)
    };
    let v = verify_bundle(&b, &pinned, NOW, &relaxed).unwrap();
    assert_eq!(v.trust_root_version, 2);
}

/// Rotates the registry's root to version 2 with `log` as the checkpoint key.
fn rotate(reg: &MemoryRegistry, log: &SigningKey) -> (VerifiedRoot, Envelope) {
    let pinned = reg.pinned();
    let keys = vec![
        TrustedKey::new(
            reg.root_key.public_key().clone(),
            RoleSet::of(&[Role::Root]),
            "root",
        ),
        TrustedKey::new(
            log.public_key().clone(),
            RoleSet::of(&[Role::Checkpoint]),
            "log-2",
        ),
        TrustedKey::new(
            reg.signer.public_key().clone(),
            RoleSet::of(&[Role::TokenIssuer, Role::ManifestSigner]),
            "release-signer",
        ),
    ];
    let t = Thresholds::default()
        .with(Role::Root, 1)
        .with(Role::Checkpoint, 1)
        .with(Role::TokenIssuer, 1)
        .with(Role::ManifestSigner, 1);
    let v2 = pinned.successor(NOW - 10, NOW + 86_400, keys, t);
    let mut env = v2.to_envelope().unwrap();
    env.sign_deterministic(&reg.root_key).unwrap();
    (pinned, env)
}

#[test]
fn rotated_root_carried_in_the_bundle() {
    let (reg, mb, _) = registry();
    let hybrid = SigningKey::from_seed(Algorithm::Ed25519MlDsa65, &[3; 32]);
    let (pinned, v2) = rotate(&reg, &hybrid);
    let mut b = mb.clone();
    b.checkpoint = Checkpoint::new(ORIGIN, 4, reg.tree().root())
        .sign(&[(ORIGIN, &hybrid)])
        .unwrap();
    // The new checkpoint key is unknown to a verifier pinned at v1 unless the chain is there.
    assert_eq!(
        code(verify_bundle(&b, &pinned, NOW, &with_artifact(ARTIFACT))),
        "unknown_key"
    );
    b.trust_chain = vec![v2.clone()];
    let v = verify_bundle(&b, &pinned, NOW, &with_artifact(ARTIFACT)).unwrap();
    assert_eq!(v.trust_root_version, 2);
    // A verifier already pinned at v2 skips the chain element.
    let pinned2 = VerifiedRoot::from_pinned(&v2).unwrap();
    assert_eq!(
        verify_bundle(&b, &pinned2, NOW, &with_artifact(ARTIFACT))
            .unwrap()
            .trust_root_version,
        2
    );
    // A forged v2 (signed by the new key only) is refused.
    let mut forged = v2.clone();
    forged.signatures.clear();
    forged.sign_deterministic(&hybrid).unwrap();
    b.trust_chain = vec![forged];
    assert_ne!(
        code(verify_bundle(&b, &pinned, NOW, &with_artifact(ARTIFACT))),
        "ok"
    );
}

#[test]
fn bundle_encoding_is_strict() {
    let (_, mb, _) = registry();
    let bytes = mb.to_bytes();
    assert_eq!(Bundle::from_bytes(&bytes).unwrap(), mb);
    assert_eq!(
        code(Bundle::from_bytes(&bytes[..bytes.len() - 1])),
        "malformed"
    );
    let mut t = bytes.clone();
    t.push(0);
    assert_eq!(code(Bundle::from_bytes(&t)), "malformed");
    let mut t = bytes.clone();
    t[0] = b'X';
    assert_eq!(code(Bundle::from_bytes(&t)), "malformed");
    let mut t = bytes.clone();
    t[4] = 3;
    assert_eq!(code(Bundle::from_bytes(&t)), "unsupported_version");
    // Version 2 needs its revocation section after the version 1 fields.
    t[4] = 2;
    assert_eq!(code(Bundle::from_bytes(&t)), "malformed");
    assert_eq!(
        code(Bundle::from_bytes(&vec![0; 2 * 1024 * 1024])),
        "too_large"
    );
    // An envelope inside keeps the limits it keeps alone: a payload type over 255 bytes, or
    // more signatures than an envelope may carry, is refused when the bundle is decoded.
    let mut long_type = mb.clone();
    long_type.subject.payload_type = "x".repeat(300);
    assert_eq!(code(Bundle::from_bytes(&long_type.to_bytes())), "malformed");
    let mut many = mb.clone();
    let sig = many.subject.signatures[0].clone();
    many.subject.signatures = vec![sig; 5000];
    assert_eq!(code(Bundle::from_bytes(&many.to_bytes())), "too_large");
}

// ---- vectors ----

fn vector_case(
    name: &str,
    bundle: &[u8],
    pinned: &Envelope,
    now: u64,
    artifact: Option<&[u8]>,
    expect: Value,
) -> Value {
    json!({
        "name": name,
        "op": "verify_bundle",
        "args": {
            "bundle": b64_encode(bundle),
            "trusted_root": b64_encode(&pinned.to_compact()),
            "now": now,
            "artifact": artifact.map(b64_encode),
            "revoked": [],
        },
        "expect": expect,
    })
}

fn generate() -> Value {
    let (reg, mb, tb) = registry();
    let root = &reg.root;
    let ok = |b: &Bundle| {
        let v = verify_bundle(b, &reg.pinned(), NOW, &BundlePolicy::default()).unwrap();
        json!({"ok": true, "kind": if v.kind == BundleKind::Token { "token" } else { "manifest" },
               "subject_id": hex_encode(&v.subject_id), "checkpoint_size": v.checkpoint.size})
    };
    let err = |c: &str| json!({"error": c});
    let mut cases = vec![
        vector_case(
            "manifest bundle with its artifact",
            &mb.to_bytes(),
            root,
            NOW,
            Some(ARTIFACT),
            ok(&mb),
        ),
        vector_case(
            "manifest bundle without artifact",
            &mb.to_bytes(),
            root,
            NOW,
            None,
            ok(&mb),
        ),
        vector_case("token bundle", &tb.to_bytes(), root, NOW, None, ok(&tb)),
        vector_case(
            "modified artifact",
            &mb.to_bytes(),
            root,
            NOW,
            Some(b"cairn release 1.1\n"),
            err("digest_mismatch"),
        ),
        vector_case(
            "token expired",
            &tb.to_bytes(),
            root,
            NOW + 3600,
            None,
            err("expired"),
        ),
        vector_case(
            "trust root expired",
            &mb.to_bytes(),
            root,
            NOW + 400 * 86_400,
            None,
            err("expired"),
        ),
        vector_case(
            "other registry's root",
            &mb.to_bytes(),
            &MemoryRegistry::new(50).root,
            NOW,
            None,
            err("unknown_key"),
        ),
    ];
    let mut b = mb.clone();
    b.inclusion.hashes[1][7] ^= 0x10;
    cases.push(vector_case(
        "inclusion proof bit flipped",
        &b.to_bytes(),
        root,
        NOW,
        None,
        err("proof_invalid"),
    ));
    let mut b = mb.clone();
    b.subject = tb.subject.clone();
    cases.push(vector_case(
        "subject swapped",
        &b.to_bytes(),
        root,
        NOW,
        None,
        err("proof_invalid"),
    ));
    let mut b = mb.clone();
    let i = b.checkpoint.len() - 10;
    let mut cp = b.checkpoint.into_bytes();
    cp[i] = if cp[i] == b'A' { b'B' } else { b'A' };
    b.checkpoint = String::from_utf8(cp).unwrap();
    cases.push(vector_case(
        "checkpoint signature altered",
        &b.to_bytes(),
        root,
        NOW,
        None,
        err("signature_invalid"),
    ));
    let bytes = mb.to_bytes();
    cases.push(vector_case(
        "truncated",
        &bytes[..bytes.len() / 2],
        root,
        NOW,
        None,
        err("malformed"),
    ));
    let mut t = bytes.clone();
    t.push(0);
    cases.push(vector_case(
        "trailing byte",
        &t,
        root,
        NOW,
        None,
        err("malformed"),
    ));
    cases.push(vector_case(
        "not a bundle",
        b"hello",
        root,
        NOW,
        None,
        err("malformed"),
    ));
    // Checkpoints naming the trust root (the `cairn.trust-root` extension line).
    let (_, v2) = rotate(&reg, &reg.log_key);
    let v2_ref = {
        let r = VerifiedRoot::from_pinned(&v2).unwrap();
        cairn_core::checkpoint::TrustRootRef {
            version: r.root_version,
            id: r.id(),
        }
    };
    let v1_ref = cairn_core::checkpoint::TrustRootRef {
        version: 1,
        id: reg.pinned().id(),
    };
    let under = |extensions: Vec<String>, chain: Vec<Envelope>| {
        let mut b = mb.clone();
        let mut cp = Checkpoint::new(ORIGIN, mb.inclusion.tree_size, reg.tree().root());
        cp.extensions = extensions;
        b.checkpoint = cp.sign_deterministic(&[(ORIGIN, &reg.log_key)]).unwrap();
        b.trust_chain = chain;
        b
    };
    let b = under(vec![v1_ref.to_line()], vec![]);
    cases.push(vector_case(
        "checkpoint names the pinned trust root",
        &b.to_bytes(),
        root,
        NOW,
        None,
        ok(&b),
    ));
    let b = under(vec![v2_ref.to_line()], vec![v2.clone()]);
    cases.push(vector_case(
        "checkpoint names trust root v2, carried in the chain",
        &b.to_bytes(),
        root,
        NOW,
        None,
        ok(&b),
    ));
    let b = under(vec![v2_ref.to_line()], vec![]);
    cases.push(vector_case(
        "checkpoint names trust root v2, chain stripped",
        &b.to_bytes(),
        root,
        NOW,
        None,
        err("chain_broken"),
    ));
    let mut other = v1_ref;
    other.id[0] ^= 1;
    let b = under(vec![other.to_line()], vec![]);
    cases.push(vector_case(
        "checkpoint names another trust root of the pinned version",
        &b.to_bytes(),
        root,
        NOW,
        None,
        err("chain_broken"),
    ));
    let b = under(vec![v1_ref.to_line(), v1_ref.to_line()], vec![]);
    cases.push(vector_case(
        "checkpoint names two trust roots",
        &b.to_bytes(),
        root,
        NOW,
        None,
        err("malformed"),
    ));
    cases.extend(v2::vector_cases());
    json!({
        "kind": "bundle",
        "version": 1,
        "description": "Bundles (CBDL) verified offline against a pinned trust root. The registry is bundle::example::MemoryRegistry::new(1): hybrid root and log keys, an Ed25519 signer; deterministic signatures. The trust-root cases re-sign the manifest bundle's checkpoint with a cairn.trust-root extension line (docs/FORMATS.md), v2 being a rotation that keeps every key. The cases named 'bundle v2 ...' are version 2 bundles (non-revocation proofs against the checkpoint's cairn.revocations map, the checkpoint dated by its newest entry) from the same keys: three unrelated revocations, a manifest, a token to a hybrid holder and a token delegated by that holder, then (in the negative cases) the revocation the name gives, then an audit note.",
        "ops": {"verify_bundle": "bundle: base64 of CBDL bytes; trusted_root: base64 of the pinned trust root's compact envelope; now: Unix seconds; artifact: base64 of the artifact bytes or null; revoked: hex token ids; max_age (optional, absent = none): the oldest checkpoint accepted, in seconds. Default policy (hybrid checkpoint required). Result: kind, subject_id (hex), checkpoint_size."},
        "cases": cases,
    })
}

fn run(args: &Value) -> Result<Value, cairn_core::Error> {
    let bundle = Bundle::from_bytes(&b64_decode(args["bundle"].as_str().unwrap())?)?;
    let pinned = VerifiedRoot::from_pinned(&Envelope::from_compact(&b64_decode(
        args["trusted_root"].as_str().unwrap(),
    )?)?)?;
    let artifact = args["artifact"].as_str().map(|a| b64_decode(a).unwrap());
    let revoked: Vec<[u8; 32]> = args["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| hex_decode_array(r.as_str().unwrap()).unwrap())
        .collect();
    let policy = BundlePolicy {
        artifact: artifact
            .as_deref()
            .map_or(ArtifactCheck::None, ArtifactCheck::Bytes),
        revoked_tokens: &revoked,
        max_age: args["max_age"].as_u64(),
        ..Default::default()
    };
    let v = verify_bundle(&bundle, &pinned, args["now"].as_u64().unwrap(), &policy)?;
    Ok(
        json!({"ok": true, "kind": if v.kind == BundleKind::Token { "token" } else { "manifest" },
              "subject_id": hex_encode(&v.subject_id), "checkpoint_size": v.checkpoint.size}),
    )
}

#[test]
fn bundle_vectors() {
    let cases = vectors::committed("bundle", &vectors::render(&generate()));
    vectors::assert_distinct_names(&cases);
    vectors::assert_both_verdicts(&cases, &["verify_bundle"]);
    vectors::check(&cases, |case| run(&case["args"]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A flipped bit anywhere in an encoded bundle is rejected, except in the informational
    /// root id, which the verdict then reports as not matching.
    #[test]
    fn any_bit_flip_is_caught(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (reg, mb, _) = registry();
        let mut bytes = mb.to_bytes();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        if let Ok(b) = Bundle::from_bytes(&bytes) {
            if let Ok(v) = verify_bundle(&b, &reg.pinned(), NOW, &with_artifact(ARTIFACT)) {
                prop_assert!(!v.trust_root_matches_bundle, "bit flip at byte {} accepted", i);
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut with_magic = b"CBDL\x01".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = Bundle::from_bytes(&bytes);
        let _ = Bundle::from_bytes(&with_magic);
    }
}

#[test]
fn inclusion_proof_type_round_trips_in_bundles() {
    let (_, mb, _) = registry();
    let p: &InclusionProof = &mb.inclusion;
    assert_eq!(InclusionProof::from_bytes(&p.to_bytes()).unwrap(), *p);
}

mod freshness {
    //! Offline freshness: a verifier that remembers the last checkpoint it accepted refuses an
    //! older one (`replayed`) and another root at the same size (`proof_invalid`).

    use super::*;
    use cairn_core::checkpoint::{check_freshness, LastSeen};
    use cairn_core::merkle::TreeHashes;

    fn last_seen(note: &str) -> LastSeen {
        LastSeen::parse_note(note.as_bytes()).unwrap()
    }

    fn policy(last: &LastSeen) -> BundlePolicy<'_> {
        BundlePolicy {
            artifact: ArtifactCheck::Bytes(ARTIFACT),
            last_seen: Some(last),
            ..Default::default()
        }
    }

    #[test]
    fn an_older_checkpoint_is_refused_as_replayed() {
        let (mut reg, old_bundle, _) = registry();
        let old_size = old_bundle.inclusion.tree_size;
        reg.append(Event::AuditNote {
            text: "newer history".into(),
        })
        .unwrap();
        let newer = last_seen(&reg.checkpoint().unwrap());
        let e = verify_bundle(&old_bundle, &reg.pinned(), NOW, &policy(&newer)).unwrap_err();
        assert_eq!(e.code().as_str(), "replayed", "{e}");
        assert!(e.detail().contains(&format!("size {old_size}")), "{e}");
        assert!(
            e.detail().contains(&format!("size {}", old_size + 1)),
            "{e}"
        );
        // Without the memory of the newer checkpoint, the same bundle verifies.
        verify_bundle(&old_bundle, &reg.pinned(), NOW, &with_artifact(ARTIFACT)).unwrap();
        // A minimum size says the same.
        let min = LastSeen::MinSize(old_size + 1);
        let e = verify_bundle(&old_bundle, &reg.pinned(), NOW, &policy(&min)).unwrap_err();
        assert_eq!(e.code().as_str(), "replayed", "{e}");
    }

    #[test]
    fn the_same_or_a_newer_checkpoint_is_accepted_and_the_check_is_reported() {
        let (mut reg, bundle, _) = registry();
        let same = last_seen(&bundle.checkpoint);
        let v = verify_bundle(&bundle, &reg.pinned(), NOW, &policy(&same)).unwrap();
        assert!(v.checks.contains(&"checkpoint_freshness"), "{:?}", v.checks);
        let min = LastSeen::MinSize(bundle.inclusion.tree_size);
        verify_bundle(&bundle, &reg.pinned(), NOW, &policy(&min)).unwrap();
        // The verifier saw size N; the log grew; a bundle under the newer checkpoint passes.
        reg.append(Event::AuditNote {
            text: "newer history".into(),
        })
        .unwrap();
        let (m, seq) = reg.sign_artifact("next.tar", ARTIFACT).unwrap();
        let newer = reg.bundle(seq, m, vec![]).unwrap();
        assert!(newer.inclusion.tree_size > bundle.inclusion.tree_size);
        verify_bundle(&newer, &reg.pinned(), NOW, &policy(&same)).unwrap();
        // Without a last seen checkpoint, no freshness check is claimed.
        let v = verify_bundle(&newer, &reg.pinned(), NOW, &with_artifact(ARTIFACT)).unwrap();
        assert!(!v.checks.contains(&"checkpoint_freshness"));
    }

    #[test]
    fn another_root_at_the_same_size_is_a_split_view() {
        // Two registries with the same keys and origin, and different histories of one size:
        // the log key signed two trees of that size.
        let (_, bundle, _) = registry();
        let mut fork = MemoryRegistry::new(1);
        fork.append(Event::AuditNote {
            text: "a different history".into(),
        })
        .unwrap();
        fork.sign_artifact("release.tar", ARTIFACT).unwrap();
        while fork.tree().tree_size() < bundle.inclusion.tree_size {
            fork.append(Event::AuditNote {
                text: "padding".into(),
            })
            .unwrap();
        }
        let forked = last_seen(&fork.checkpoint().unwrap());
        let LastSeen::Checkpoint(f) = &forked else {
            unreachable!()
        };
        assert_eq!(f.size, bundle.inclusion.tree_size);
        let e = verify_bundle(&bundle, &fork.pinned(), NOW, &policy(&forked)).unwrap_err();
        assert_eq!(e.code().as_str(), "proof_invalid", "{e}");
        assert!(e.detail().contains("split view"), "{e}");
    }

    #[test]
    fn a_checkpoint_of_another_log_is_not_a_last_seen_one() {
        let (reg, bundle, _) = registry();
        let other = LastSeen::Checkpoint(Checkpoint::new("other.test/log", 1, [7; 32]));
        let e = verify_bundle(&bundle, &reg.pinned(), NOW, &policy(&other)).unwrap_err();
        assert_eq!(e.code().as_str(), "domain_mismatch", "{e}");
        assert_eq!(
            code(check_freshness(ORIGIN, 1, &[7; 32], &other)),
            "domain_mismatch"
        );
    }

    #[test]
    fn last_seen_parses_signed_notes_and_bare_text_and_refuses_the_rest() {
        let (_, bundle, _) = registry();
        let signed = last_seen(&bundle.checkpoint);
        let body = bundle.checkpoint.split("\n\n").next().unwrap().to_string() + "\n";
        assert_eq!(last_seen(&body), signed);
        assert_eq!(signed.size(), bundle.inclusion.tree_size);
        for bad in [
            "",
            "\n",
            "example.test/registry\n",
            "example.test/registry\n01\nAAAA\n",
            "example.test/registry\n3\nnot base64\n",
            "example.test/registry\n3\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\nno signature line\n",
        ] {
            assert_eq!(
                code(LastSeen::parse_note(bad.as_bytes())),
                "malformed",
                "{bad:?}"
            );
        }
        assert_eq!(
            code(LastSeen::parse_note(&[0xff, 0xfe, b'\n'])),
            "malformed"
        );
        let huge = vec![b'a'; (1 << 20) + 1];
        assert_eq!(code(LastSeen::parse_note(&huge)), "too_large");
    }

    proptest! {
        #[test]
        fn parse_note_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = LastSeen::parse_note(&bytes);
        }

        #[test]
        fn the_rule_is_a_total_order_on_size(size in 0u64..1000, seen in 0u64..1000, same_root: bool) {
            let root = [1u8; 32];
            let other = if same_root { root } else { [2u8; 32] };
            let last = LastSeen::Checkpoint(Checkpoint::new(ORIGIN, seen, root));
            let r = check_freshness(ORIGIN, size, &other, &last);
            let expected = if size < seen {
                "replayed"
            } else if size == seen && !same_root {
                "proof_invalid"
            } else {
                "ok"
            };
            prop_assert_eq!(code(r), expected);
        }
    }
}

mod trust_root_commitment {
    //! A checkpoint names the trust root current when it was signed; a bundle whose trust
    //! chain does not reach that root is refused (`chain_broken`): a stripped chain cannot keep
    //! a verifier at an older root whose keys a newer one removed.

    use super::*;
    use cairn_core::checkpoint::TrustRootRef;

    /// The manifest bundle re-anchored under a checkpoint (signed by the registry's own log
    /// key, which v2 keeps) whose extension lines are `extensions`.
    fn under(reg: &MemoryRegistry, mb: &Bundle, extensions: Vec<String>) -> Bundle {
        let mut b = mb.clone();
        let mut cp = Checkpoint::new(ORIGIN, mb.inclusion.tree_size, reg.tree().root());
        cp.extensions = extensions;
        b.checkpoint = cp.sign_deterministic(&[(ORIGIN, &reg.log_key)]).unwrap();
        b
    }

    fn named(env: &Envelope) -> TrustRootRef {
        let r = VerifiedRoot::from_pinned(env).unwrap();
        TrustRootRef {
            version: r.root_version,
            id: r.id(),
        }
    }

    #[test]
    fn a_bundle_whose_chain_stops_short_of_the_named_root_is_refused() {
        let (reg, mb, _) = registry();
        let (pinned, v2) = rotate(&reg, &reg.log_key);
        let mut b = under(&reg, &mb, vec![named(&v2).to_line()]);
        // Stripped chain: the verifier stays at v1, whose keys still verify everything.
        let e = verify_bundle(&b, &pinned, NOW, &with_artifact(ARTIFACT)).unwrap_err();
        assert_eq!(e.code().as_str(), "chain_broken", "{e}");
        assert!(
            e.detail().contains("version 2") && e.detail().contains("only version 1"),
            "{e}"
        );
        // Without the extension line the same bundle verifies: the line is what refuses it.
        let plain = under(&reg, &mb, vec![]);
        let v = verify_bundle(&plain, &pinned, NOW, &with_artifact(ARTIFACT)).unwrap();
        assert!(!v.checks.contains(&"checkpoint_trust_root"));
        // With the chain, it verifies and says so.
        b.trust_chain = vec![v2.clone()];
        let v = verify_bundle(&b, &pinned, NOW, &with_artifact(ARTIFACT)).unwrap();
        assert_eq!(v.trust_root_version, 2);
        assert!(
            v.checks.contains(&"checkpoint_trust_root"),
            "{:?}",
            v.checks
        );
        // A verifier pinned at v2 needs no chain.
        b.trust_chain.clear();
        let pinned2 = VerifiedRoot::from_pinned(&v2).unwrap();
        verify_bundle(&b, &pinned2, NOW, &with_artifact(ARTIFACT)).unwrap();
    }

    #[test]
    fn another_root_of_the_named_version_is_refused_an_older_one_is_not() {
        let (reg, mb, _) = registry();
        let (pinned, v2) = rotate(&reg, &reg.log_key);
        let mut other = named(&v2);
        other.id[0] ^= 1;
        let mut b = under(&reg, &mb, vec![other.to_line()]);
        b.trust_chain = vec![v2.clone()];
        let e = verify_bundle(&b, &pinned, NOW, &with_artifact(ARTIFACT)).unwrap_err();
        assert_eq!(e.code().as_str(), "chain_broken", "{e}");
        // A checkpoint from before the rotation names v1: a verifier at v2 accepts it.
        let mut old = under(&reg, &mb, vec![named(&reg.root).to_line()]);
        old.trust_chain = vec![v2.clone()];
        verify_bundle(&old, &pinned, NOW, &with_artifact(ARTIFACT)).unwrap();
        let pinned2 = VerifiedRoot::from_pinned(&v2).unwrap();
        verify_bundle(&old, &pinned2, NOW, &with_artifact(ARTIFACT)).unwrap();
        // v1 with another id is refused at v1.
        let mut wrong_v1 = named(&reg.root);
        wrong_v1.id[31] ^= 0x80;
        let b = under(&reg, &mb, vec![wrong_v1.to_line()]);
        assert_eq!(
            code(verify_bundle(&b, &pinned, NOW, &with_artifact(ARTIFACT))),
            "chain_broken"
        );
    }

    #[test]
    fn trust_root_lines_are_strict_and_other_extensions_are_ignored() {
        let (reg, mb, _) = registry();
        let v1 = named(&reg.root);
        let hex = hex_encode(&v1.id);
        let ok = under(
            &reg,
            &mb,
            vec!["other extension".into(), v1.to_line(), "more".into()],
        );
        verify_bundle(&ok, &reg.pinned(), NOW, &with_artifact(ARTIFACT)).unwrap();
        for bad in [
            format!("cairn.trust-root 01 {hex}"),
            format!("cairn.trust-root 0 {hex}"),
            format!("cairn.trust-root  1 {hex}"),
            format!("cairn.trust-root 1 {}", hex.to_uppercase()),
            format!("cairn.trust-root 1 {}", &hex[..63]),
            format!("cairn.trust-root 1 {hex} "),
            format!("cairn.trust-root 1 {hex}0"),
            format!("cairn.trust-root -1 {hex}"),
            format!("cairn.trust-root 99999999999999999999 {hex}"),
            "cairn.trust-root 1".into(),
            "cairn.trust-root ".into(),
        ] {
            let b = under(&reg, &mb, vec![bad.clone()]);
            assert_eq!(
                code(verify_bundle(
                    &b,
                    &reg.pinned(),
                    NOW,
                    &with_artifact(ARTIFACT)
                )),
                "malformed",
                "{bad:?}"
            );
        }
        let twice = under(&reg, &mb, vec![v1.to_line(), v1.to_line()]);
        assert_eq!(
            code(verify_bundle(
                &twice,
                &reg.pinned(),
                NOW,
                &with_artifact(ARTIFACT)
            )),
            "malformed"
        );
        // A line that merely starts alike is another extension.
        let alike = under(&reg, &mb, vec![format!("cairn.trust-roots 9 {hex}")]);
        verify_bundle(&alike, &reg.pinned(), NOW, &with_artifact(ARTIFACT)).unwrap();
        // Round trip of the line itself.
        assert_eq!(TrustRootRef::parse_line(&v1.to_line()).unwrap(), Some(v1));
    }

    proptest! {
        #[test]
        fn parse_line_never_panics(line in "cairn\\.trust-root [ -~]{0,80}") {
            let _ = TrustRootRef::parse_line(&line);
        }
    }
}

mod v2 {
    //! Version 2 bundles: non-membership proofs against the checkpoint's revocation map for the
    //! subject, its signers' keys and a token's ancestors; the checkpoint time (its newest
    //! entry) and the maximum age.

    use super::*;
    use cairn_core::bundle::{NotRevokedAsOf, ObjectProof, BUNDLE_VERSION, BUNDLE_VERSION_2};
    use cairn_core::crypto::KeyId;
    use cairn_core::manifest::manifest_digest;
    use cairn_core::merkle::TreeHashes;
    use cairn_core::revocation::{map_key, nodes, NodeMap, ObjectKind};

    /// What the scenario revokes before its last entry.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub enum Revoke {
        Nothing,
        Manifest,
        SignerKey,
        Ancestor,
        Child,
    }

    pub struct Scenario {
        pub reg: MemoryRegistry,
        /// Manifest bundle, version 2.
        pub mb: Bundle,
        /// Delegated token bundle (parent issued to alice, child delegated to bob), version 2.
        pub cb: Bundle,
        pub alice: SigningKey,
    }

    /// A registry with unrelated revocations, a manifest, a token and a delegated child; then
    /// the revocation `what`, and one more entry.
    pub fn scenario(what: Revoke) -> Scenario {
        let mut reg = MemoryRegistry::new(1);
        reg.append(Event::AuditNote {
            text: "registry created".into(),
        })
        .unwrap();
        let signer = reg.signer.public_key().key_id();
        for (i, e) in [
            Event::KeyRevoked {
                key_id: KeyId([0xaa; 32]),
                reason: "unrelated".into(),
                revoker: signer,
            },
            Event::TokenRevoked {
                token_id: [0xbb; 32],
                reason: "unrelated".into(),
                revoker: signer,
            },
            Event::ManifestRevoked {
                manifest_digest: [0xcc; 32],
                reason: "unrelated".into(),
                revoker: signer,
            },
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(reg.append(e).unwrap(), 1 + i as u64);
        }
        let (m, mseq) = reg.sign_artifact("release.tar", ARTIFACT).unwrap();
        let alice = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[21; 32]);
        let bob = SigningKey::from_seed(Algorithm::Ed25519, &[22; 32]);
        let (parent, _) = reg.issue_token(&alice, "publish", 3600).unwrap();
        let child = TokenBuilder::new(bob.public_key().clone())
            .audience("registry.example")
            .capability("publish")
            .validity(NOW - 50, NOW + 600)
            .nonce([9; 16])
            .deterministic()
            .delegate(&parent, &alice)
            .unwrap();
        let cseq = reg
            .append(Event::TokenIssued {
                token_id: child.id(),
                issuer: alice.public_key().key_id(),
                audience: "registry.example".into(),
                expires_at: NOW + 600,
            })
            .unwrap();
        let revoke = |token_id| Event::TokenRevoked {
            token_id,
            reason: "compromised".into(),
            revoker: signer,
        };
        match what {
            Revoke::Nothing => None,
            Revoke::Manifest => Some(Event::ManifestRevoked {
                manifest_digest: manifest_digest(&m),
                reason: "bad build".into(),
                revoker: signer,
            }),
            Revoke::SignerKey => Some(Event::KeyRevoked {
                key_id: signer,
                reason: "compromised".into(),
                revoker: signer,
            }),
            Revoke::Ancestor => Some(revoke(parent.id())),
            Revoke::Child => Some(revoke(child.id())),
        }
        .map(|e| reg.append(e).unwrap());
        reg.append(Event::AuditNote {
            text: "later history".into(),
        })
        .unwrap();
        let mb = reg.bundle_v2(mseq, m, vec![]).unwrap();
        let cb = reg.bundle_v2(cseq, child, vec![parent]).unwrap();
        Scenario { reg, mb, cb, alice }
    }

    fn case(
        name: &str,
        b: &Bundle,
        pinned: &Envelope,
        artifact: Option<&[u8]>,
        max_age: Option<u64>,
        expect: Value,
    ) -> Value {
        case_bytes(name, &b.to_bytes(), pinned, artifact, max_age, expect)
    }

    fn case_bytes(
        name: &str,
        bytes: &[u8],
        pinned: &Envelope,
        artifact: Option<&[u8]>,
        max_age: Option<u64>,
        expect: Value,
    ) -> Value {
        let mut c = vector_case(name, bytes, pinned, NOW, artifact, expect);
        if let Some(m) = max_age {
            c["args"]["max_age"] = json!(m);
        }
        c
    }

    /// The version 2 cases of tests/vectors/bundle.json.
    pub fn vector_cases() -> Vec<Value> {
        let s = scenario(Revoke::Nothing);
        let root = &s.reg.root;
        let ok = |b: &Bundle| {
            let v = verify(&s, b, None).unwrap();
            json!({"ok": true, "kind": if v.kind == BundleKind::Token { "token" } else { "manifest" },
                   "subject_id": hex_encode(&v.subject_id), "checkpoint_size": v.checkpoint.size})
        };
        let err = |c: &str| json!({"error": c});
        let subject = manifest_digest(&s.mb.subject);
        let mut cases = vec![
            case(
                "bundle v2 manifest: not revoked as of its checkpoint",
                &s.mb,
                root,
                Some(ARTIFACT),
                None,
                ok(&s.mb),
            ),
            case(
                "bundle v2 delegated token: subject, ancestor and both signers not revoked",
                &s.cb,
                root,
                None,
                None,
                ok(&s.cb),
            ),
        ];
        for (what, name, manifest) in [
            (Revoke::Manifest, "bundle v2 revoked subject", true),
            (Revoke::SignerKey, "bundle v2 revoked signer key", true),
            (Revoke::Ancestor, "bundle v2 revoked ancestor", false),
        ] {
            let r = scenario(what);
            let b = if manifest { &r.mb } else { &r.cb };
            cases.push(case(name, b, root, None, None, err("revoked")));
        }
        let mut b = s.mb.clone();
        proof_of(&mut b, ObjectKind::Manifest, &subject).proof =
            nodes::prove(&NodeMap::new(), &map_key(ObjectKind::Manifest, &subject))
                .unwrap()
                .to_bytes();
        cases.push(case(
            "bundle v2 proof against another root",
            &b,
            root,
            None,
            None,
            err("proof_invalid"),
        ));
        let mut b = s.mb.clone();
        let p = &mut proof_of(&mut b, ObjectKind::Manifest, &subject).proof;
        let last = p.len() - 1;
        p[last] ^= 0x01;
        cases.push(case(
            "bundle v2 proof bit flipped",
            &b,
            root,
            None,
            None,
            err("proof_invalid"),
        ));
        let mut b = s.mb.clone();
        proof_of(&mut b, ObjectKind::Manifest, &subject).proof.pop();
        cases.push(case(
            "bundle v2 proof truncated",
            &b,
            root,
            None,
            None,
            err("malformed"),
        ));
        let mut b = s.cb.clone();
        let parent = s.cb.parents[0].id();
        b.revocation
            .as_mut()
            .unwrap()
            .proofs
            .retain(|p| (p.kind, p.id) != (ObjectKind::Token.byte(), parent));
        cases.push(case(
            "bundle v2 proof of the ancestor missing",
            &b,
            root,
            None,
            None,
            err("proof_invalid"),
        ));
        let mut b = s.mb.clone();
        b.revocation.as_mut().unwrap().proofs.clear();
        cases.push(case(
            "bundle v2 without proofs",
            &b,
            root,
            None,
            None,
            err("proof_invalid"),
        ));
        let age = NOW - (NOW - 60 + s.reg.tree().tree_size() - 1);
        cases.push(case(
            "bundle v2 checkpoint within the maximum age",
            &s.mb,
            root,
            None,
            Some(age),
            ok(&s.mb),
        ));
        cases.push(case(
            "bundle v2 checkpoint older than the maximum age",
            &s.mb,
            root,
            None,
            Some(age - 1),
            err("stale"),
        ));
        let (reg1, mb1, _) = registry();
        assert_eq!(reg1.root.to_compact(), root.to_compact());
        cases.push(case(
            "bundle v1 under a maximum age (no checkpoint time)",
            &mb1,
            root,
            None,
            Some(86_400),
            err("stale"),
        ));
        let mut b = s.mb.clone();
        b.checkpoint = s.reg.checkpoint().unwrap();
        cases.push(case(
            "bundle v2 checkpoint without a cairn.revocations line",
            &b,
            root,
            None,
            None,
            err("proof_invalid"),
        ));
        let size = s.reg.tree().tree_size();
        let mut b = s.mb.clone();
        let r = b.revocation.as_mut().unwrap();
        r.newest_inclusion.leaf_index = size - 2;
        r.newest_entry = s.reg.entries()[(size - 2) as usize].clone();
        r.newest_inclusion.hashes = s.reg.tree().prove_inclusion(size - 2, size).unwrap();
        cases.push(case(
            "bundle v2 newest entry that is not the newest",
            &b,
            root,
            None,
            None,
            err("proof_invalid"),
        ));
        let mut v1 = s.mb.clone();
        v1.version = BUNDLE_VERSION;
        let mut bytes = v1.to_bytes();
        bytes[4] = BUNDLE_VERSION_2;
        cases.push(case_bytes(
            "bundle v2 without its revocation section",
            &bytes,
            root,
            None,
            None,
            err("malformed"),
        ));
        cases
    }

    fn policy(max_age: Option<u64>) -> BundlePolicy<'static> {
        BundlePolicy {
            max_age,
            ..Default::default()
        }
    }

    fn verify(
        s: &Scenario,
        b: &Bundle,
        max_age: Option<u64>,
    ) -> Result<cairn_core::bundle::BundleVerdict, cairn_core::Error> {
        verify_bundle(b, &s.reg.pinned(), NOW, &policy(max_age))
    }

    fn proof_of<'b>(b: &'b mut Bundle, kind: ObjectKind, id: &[u8; 32]) -> &'b mut ObjectProof {
        b.revocation
            .as_mut()
            .unwrap()
            .proofs
            .iter_mut()
            .find(|p| p.kind == kind.byte() && p.id == *id)
            .unwrap()
    }

    #[test]
    fn valid_v2_bundles_say_not_revoked_as_of_their_checkpoint() {
        let s = scenario(Revoke::Nothing);
        let size = s.reg.tree().tree_size();
        let v = verify(&s, &s.mb, None).unwrap();
        let n: &NotRevokedAsOf = v.not_revoked_as_of.as_ref().unwrap();
        assert_eq!(n.size, size);
        assert_eq!(n.revocations, 3);
        assert_eq!(n.root, s.reg.revocations().root().unwrap());
        assert_eq!(n.time, NOW - 60 + size - 1);
        assert_eq!(n.objects.len(), 2, "{:?}", n.objects);
        assert!(v.checks.contains(&"not_revoked"));
        let j = v.to_json();
        assert_eq!(j["not_revoked_as_of"]["size"], size);
        assert_eq!(j["not_revoked_as_of"]["revocations"], 3);
        assert_eq!(j["not_revoked_as_of"]["objects"][0]["kind"], "key");
        // The delegated token: subject, parent, the issuer's key and the delegating holder's.
        let v = verify(&s, &s.cb, None).unwrap();
        let objects = &v.not_revoked_as_of.as_ref().unwrap().objects;
        assert_eq!(objects.len(), 4, "{objects:?}");
        assert!(objects.contains(&(ObjectKind::Key, s.alice.public_key().key_id().0)));
        assert!(objects.contains(&(ObjectKind::Token, s.cb.parents[0].id())));
        // Round trip through bytes; version 1 bundles report nothing about revocations.
        let bytes = s.cb.to_bytes();
        assert_eq!(bytes[4], BUNDLE_VERSION_2);
        assert_eq!(Bundle::from_bytes(&bytes).unwrap(), s.cb);
        let (reg, mb, _) = registry();
        let v = verify_bundle(&mb, &reg.pinned(), NOW, &BundlePolicy::default()).unwrap();
        assert!(v.not_revoked_as_of.is_none());
        assert!(v.to_json()["not_revoked_as_of"].is_null());
        assert_eq!(mb.version, BUNDLE_VERSION);
    }

    #[test]
    fn a_revoked_subject_signer_or_ancestor_is_revoked_naming_the_entry() {
        for (what, manifest) in [
            (Revoke::Manifest, true),
            (Revoke::SignerKey, true),
            (Revoke::SignerKey, false),
            (Revoke::Ancestor, false),
            (Revoke::Child, false),
        ] {
            let s = scenario(what);
            let b = if manifest { &s.mb } else { &s.cb };
            let e = verify(&s, b, None).unwrap_err();
            assert_eq!(e.code().as_str(), "revoked", "{e}");
            // The revocation is entry 8 (after 3 unrelated ones, manifest, token, child).
            assert!(e.detail().contains("ledger entry 7"), "{e}");
        }
        // Revoking the child does not touch the manifest's bundle.
        let s = scenario(Revoke::Child);
        verify(&s, &s.mb, None).unwrap();
    }

    #[test]
    fn damaged_missing_or_foreign_proofs_are_refused() {
        let s = scenario(Revoke::Nothing);
        let subject = manifest_digest(&s.mb.subject);
        // A proof against another map (the empty one).
        let mut b = s.mb.clone();
        proof_of(&mut b, ObjectKind::Manifest, &subject).proof =
            nodes::prove(&NodeMap::new(), &map_key(ObjectKind::Manifest, &subject))
                .unwrap()
                .to_bytes();
        assert_eq!(code(verify(&s, &b, None)), "proof_invalid");
        // A flipped bit in a sibling, and in the status.
        let mut b = s.mb.clone();
        let p = &mut proof_of(&mut b, ObjectKind::Manifest, &subject).proof;
        let last = p.len() - 1;
        p[last] ^= 0x01;
        assert_eq!(code(verify(&s, &b, None)), "proof_invalid");
        let mut b = s.mb.clone();
        proof_of(&mut b, ObjectKind::Manifest, &subject).proof[1] = 1;
        assert_eq!(code(verify(&s, &b, None)), "malformed");
        // Truncated.
        let mut b = s.mb.clone();
        proof_of(&mut b, ObjectKind::Manifest, &subject).proof.pop();
        assert_eq!(code(verify(&s, &b, None)), "malformed");
        // Missing: the subject's, an ancestor's, a signer key's.
        for (kind, id) in [
            (ObjectKind::Token, s.cb.subject.id()),
            (ObjectKind::Token, s.cb.parents[0].id()),
            (ObjectKind::Key, s.alice.public_key().key_id().0),
        ] {
            let mut b = s.cb.clone();
            b.revocation
                .as_mut()
                .unwrap()
                .proofs
                .retain(|p| (p.kind, p.id) != (kind.byte(), id));
            let e = verify(&s, &b, None).unwrap_err();
            assert_eq!(e.code().as_str(), "proof_invalid", "{e}");
            assert!(e.detail().contains("no revocation proof"), "{e}");
        }
        // A proof carried for an object of another kind byte.
        let mut b = s.mb.clone();
        b.revocation.as_mut().unwrap().proofs[0].kind = 9;
        assert_eq!(code(verify(&s, &b, None)), "malformed");
        // No cairn.revocations line in the checkpoint.
        let mut b = s.mb.clone();
        b.checkpoint = s.reg.checkpoint().unwrap();
        assert_eq!(code(verify(&s, &b, None)), "proof_invalid");
        // The map line of another checkpoint (a valid line with another root).
        let mut b = s.mb.clone();
        let mut other = s.reg.revocations_ref().unwrap();
        other.root[0] ^= 1;
        b.checkpoint = Checkpoint::new(ORIGIN, s.reg.tree().tree_size(), s.reg.tree().root())
            .with_revocations(other)
            .sign_deterministic(&[(ORIGIN, &s.reg.log_key)])
            .unwrap();
        assert_eq!(code(verify(&s, &b, None)), "proof_invalid");
    }

    #[test]
    fn the_newest_entry_dates_the_checkpoint_and_must_be_the_newest() {
        let s = scenario(Revoke::Nothing);
        let size = s.reg.tree().tree_size();
        let time = NOW - 60 + size - 1;
        let age = NOW - time;
        verify(&s, &s.mb, Some(age)).unwrap();
        let v = verify(&s, &s.mb, Some(age)).unwrap();
        assert!(v.checks.contains(&"checkpoint_age"));
        let e = verify(&s, &s.mb, Some(age - 1)).unwrap_err();
        assert_eq!(e.code().as_str(), "stale", "{e}");
        // A version 1 bundle has no checkpoint time: stale under any maximum age.
        let (reg, mb, _) = registry();
        let p = policy(Some(u64::MAX));
        assert_eq!(code(verify_bundle(&mb, &reg.pinned(), NOW, &p)), "stale");
        // An older entry passed off as the newest (it would make the checkpoint look older,
        // or, the other way round, an entry of a later tree younger).
        let mut b = s.mb.clone();
        let r = b.revocation.as_mut().unwrap();
        r.newest_entry = s.reg.entries()[(size - 2) as usize].clone();
        assert_eq!(code(verify(&s, &b, None)), "proof_invalid");
        let mut b = s.mb.clone();
        let r = b.revocation.as_mut().unwrap();
        r.newest_inclusion.leaf_index = size - 2;
        r.newest_entry = s.reg.entries()[(size - 2) as usize].clone();
        r.newest_inclusion.hashes = s.reg.tree().prove_inclusion(size - 2, size).unwrap();
        assert_eq!(code(verify(&s, &b, None)), "proof_invalid");
        let mut b = s.mb.clone();
        b.revocation.as_mut().unwrap().newest_inclusion.hashes[0][3] ^= 4;
        assert_eq!(code(verify(&s, &b, None)), "proof_invalid");
    }

    #[test]
    fn v2_encoding_is_strict() {
        let s = scenario(Revoke::Nothing);
        let bytes = s.cb.to_bytes();
        assert_eq!(
            code(Bundle::from_bytes(&bytes[..bytes.len() - 1])),
            "malformed"
        );
        let mut t = bytes.clone();
        t.push(0);
        assert_eq!(code(Bundle::from_bytes(&t)), "malformed");
        let mut t = bytes.clone();
        t[4] = 3;
        assert_eq!(code(Bundle::from_bytes(&t)), "unsupported_version");
        // The v1 part alone, relabelled version 2.
        let mut v1 = s.cb.clone();
        v1.version = BUNDLE_VERSION;
        let mut t = v1.to_bytes();
        t[4] = BUNDLE_VERSION_2;
        assert_eq!(code(Bundle::from_bytes(&t)), "malformed");
        // Proofs out of order or repeated.
        for f in [
            |p: &mut Vec<ObjectProof>| p.swap(0, 1),
            |p: &mut Vec<ObjectProof>| p.push(p[0].clone()),
        ] {
            let mut b = s.cb.clone();
            f(&mut b.revocation.as_mut().unwrap().proofs);
            assert_eq!(code(Bundle::from_bytes(&b.to_bytes())), "malformed");
        }
        // Too many proofs.
        let mut b = s.cb.clone();
        let proofs = &mut b.revocation.as_mut().unwrap().proofs;
        let template = proofs[0].clone();
        proofs.clear();
        for i in 0..=cairn_core::bundle::MAX_REVOCATION_PROOFS {
            let mut p = template.clone();
            p.id = [0; 32];
            p.id[..8].copy_from_slice(&(i as u64).to_be_bytes());
            proofs.push(p);
        }
        assert_eq!(code(Bundle::from_bytes(&b.to_bytes())), "too_large");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A flipped bit anywhere in a version 2 bundle is rejected (or only changes the
        /// informational root id), and never panics.
        #[test]
        fn any_bit_flip_in_v2_is_caught(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            let s = scenario(Revoke::Nothing);
            let mut bytes = s.cb.to_bytes();
            let i = pos.index(bytes.len());
            bytes[i] ^= 1 << bit;
            if let Ok(b) = Bundle::from_bytes(&bytes) {
                if let Ok(v) = verify(&s, &b, None) {
                    prop_assert!(!v.trust_root_matches_bundle, "bit flip at byte {} accepted", i);
                }
            }
        }

        #[test]
        fn random_v2_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut with_magic = b"CBDL\x02".to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = Bundle::from_bytes(&with_magic);
        }
    }
}

mod refresh {
    //! Refreshing a bundle to a newer checkpoint (`refresh_bundle`): the pieces a registry
    //! hands out, every way they can fail to fit the bundle, and the vectors in
    //! tests/vectors/bundle_refresh.json (refresh, then verify the result).

    use super::v2::{scenario, Revoke, Scenario};
    use super::*;
    use cairn_core::bundle::{refresh_bundle, RefreshPieces, BUNDLE_VERSION_2};
    use cairn_core::manifest::manifest_digest;
    use cairn_core::merkle::TreeHashes;
    use cairn_core::revocation::ObjectKind;
    use support::vectors::{b64, Case, Doc};

    /// Some minutes after the scenario (its delegated token is still valid): verifiers run at
    /// this time and accept checkpoints up to five minutes old.
    const LATER: u64 = NOW + 500;
    const MAX_AGE: u64 = 300;

    fn note(reg: &mut MemoryRegistry, text: &str, time: u64) {
        reg.append_at(time, Event::AuditNote { text: text.into() })
            .unwrap();
    }

    /// The scenario with `more` entries logged just before [`LATER`].
    fn later(what: Revoke, more: &[&str]) -> Scenario {
        let mut s = scenario(what);
        for (i, t) in more.iter().enumerate() {
            note(&mut s.reg, t, LATER - 10 + i as u64);
        }
        s
    }

    fn policy() -> BundlePolicy<'static> {
        BundlePolicy {
            max_age: Some(MAX_AGE),
            ..Default::default()
        }
    }

    /// Refreshes, then verifies the result as the vectors' runner does.
    fn refresh_and_verify(
        bundle: &Bundle,
        pieces: &RefreshPieces,
        pinned: &VerifiedRoot,
    ) -> Result<Value, cairn_core::Error> {
        let b = refresh_bundle(bundle, pieces)?;
        assert_eq!(b.version, BUNDLE_VERSION_2);
        let b = Bundle::from_bytes(&b.to_bytes())?;
        let v = verify_bundle(&b, pinned, LATER, &policy())?;
        let n = v.not_revoked_as_of.as_ref().expect("a version 2 verdict");
        Ok(json!({"checkpoint_size": v.checkpoint.size, "not_revoked_as_of": n.size}))
    }

    fn case(name: &str, bundle: &Bundle, pieces: &[u8], root: &Envelope, expect: Value) -> Case {
        Case {
            name: name.into(),
            op: "refresh_bundle".into(),
            args: json!({
                "bundle": b64_encode(&bundle.to_bytes()),
                "pieces": b64_encode(pieces),
                "trusted_root": b64_encode(&root.to_compact()),
                "now": LATER,
                "max_age": MAX_AGE,
            }),
            expect,
        }
    }

    fn generate() -> Value {
        let old = scenario(Revoke::Nothing);
        let s = later(Revoke::Nothing, &["minutes later"]);
        let root = s.reg.root.clone();
        let pinned = s.reg.pinned();
        let size = s.reg.tree().tree_size();
        let ok = |b: &Bundle, p: &RefreshPieces| {
            let mut v = refresh_and_verify(b, p, &pinned).unwrap();
            v["ok"] = json!(true);
            v
        };
        let err = |c: &str| json!({"error": c});
        let mp = s.reg.refresh_pieces(&old.mb).unwrap();
        let cp = s.reg.refresh_pieces(&old.cb).unwrap();
        let mut cases = vec![
            case(
                "refresh a stale manifest bundle to the newest checkpoint",
                &old.mb,
                &mp.to_bytes(),
                &root,
                ok(&old.mb, &mp),
            ),
            case(
                "refresh a stale delegated token bundle",
                &old.cb,
                &cp.to_bytes(),
                &root,
                ok(&old.cb, &cp),
            ),
        ];
        // A version 1 bundle becomes a version 2 one.
        let mut v1 = old.mb.clone();
        v1.version = cairn_core::bundle::BUNDLE_VERSION;
        v1.revocation = None;
        cases.push(case(
            "refresh a version 1 bundle into a version 2 bundle",
            &v1,
            &mp.to_bytes(),
            &root,
            ok(&v1, &mp),
        ));
        // Refreshing to the same checkpoint changes nothing and stays stale.
        let same = old.reg.refresh_pieces(&old.mb).unwrap();
        cases.push(case(
            "refresh to the bundle's own checkpoint is still stale",
            &old.mb,
            &same.to_bytes(),
            &root,
            err("stale"),
        ));
        // Revoked since the bundle was made: the refresh says so.
        let mut r = later(Revoke::Nothing, &[]);
        r.reg
            .append_at(
                LATER - 20,
                Event::ManifestRevoked {
                    manifest_digest: manifest_digest(&old.mb.subject),
                    reason: "bad build".into(),
                    revoker: r.reg.signer.public_key().key_id(),
                },
            )
            .unwrap();
        note(&mut r.reg, "after the revocation", LATER - 10);
        cases.push(case(
            "refresh of a manifest revoked since",
            &old.mb,
            &r.reg.refresh_pieces(&old.mb).unwrap().to_bytes(),
            &root,
            err("revoked"),
        ));
        // Pieces older than the bundle.
        let newer = s
            .reg
            .bundle_v2(old.mb.inclusion.leaf_index, old.mb.subject.clone(), vec![])
            .unwrap();
        let older = old.reg.refresh_pieces(&old.mb).unwrap();
        cases.push(case(
            "refresh to an older checkpoint",
            &newer,
            &older.to_bytes(),
            &root,
            err("replayed"),
        ));
        // A fork: another history of the same size.
        let mut fork = later(Revoke::Nothing, &["another history"]);
        let forked = fork.reg.refresh_pieces(&old.mb).unwrap();
        cases.push(case(
            "refresh to a fork of the same size",
            &newer,
            &forked.to_bytes(),
            &root,
            err("split_view"),
        ));
        // A fork that grew past the bundle: no consistency proof links them.
        note(&mut fork.reg, "and more", LATER - 5);
        let grown = fork.reg.refresh_pieces(&old.mb).unwrap();
        let mut p = grown.clone();
        let (from, to) = (size, fork.reg.tree().tree_size());
        p.consistency = cairn_core::merkle::ConsistencyProof {
            old_size: from,
            new_size: to,
            hashes: fork.reg.tree().prove_consistency(from, to).unwrap(),
        };
        cases.push(case(
            "refresh to a checkpoint that does not extend the bundle's",
            &newer,
            &p.to_bytes(),
            &root,
            err("proof_invalid"),
        ));
        let mut p = mp.clone();
        p.consistency.hashes[0][0] ^= 1;
        cases.push(case(
            "refresh with a consistency proof bit flipped",
            &old.mb,
            &p.to_bytes(),
            &root,
            err("proof_invalid"),
        ));
        let mut p = mp.clone();
        p.consistency.old_size -= 1;
        cases.push(case(
            "refresh with a consistency proof from another size",
            &old.mb,
            &p.to_bytes(),
            &root,
            err("proof_invalid"),
        ));
        let mut p = mp.clone();
        p.inclusion.hashes[0][0] ^= 1;
        cases.push(case(
            "refresh with the subject's inclusion proof bit flipped",
            &old.mb,
            &p.to_bytes(),
            &root,
            err("proof_invalid"),
        ));
        cases.push(case(
            "refresh with the pieces of another subject",
            &old.mb,
            &cp.to_bytes(),
            &root,
            err("proof_invalid"),
        ));
        let mut p = mp.clone();
        let subject = manifest_digest(&old.mb.subject);
        p.revocation
            .proofs
            .retain(|q| (q.kind, q.id) != (ObjectKind::Manifest.byte(), subject));
        cases.push(case(
            "refresh without the subject's non-membership proof",
            &old.mb,
            &p.to_bytes(),
            &root,
            err("proof_invalid"),
        ));
        let mut p = mp.clone();
        let last = p.revocation.newest_entry.len() - 1;
        p.revocation.newest_entry[last] ^= 1;
        cases.push(case(
            "refresh with the newest entry bit flipped",
            &old.mb,
            &p.to_bytes(),
            &root,
            err("proof_invalid"),
        ));
        let mut p = mp.clone();
        p.checkpoint = old.mb.checkpoint.replace(ORIGIN, "example.test/other");
        cases.push(case(
            "refresh to another log's checkpoint",
            &old.mb,
            &p.to_bytes(),
            &root,
            err("domain_mismatch"),
        ));
        // The same tree signed by a key the trust root does not hold: the refresh fits, the
        // verification refuses it.
        let impostor = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[77; 32]);
        let body = Checkpoint::parse_text(
            cairn_core::note::Note::parse(mp.checkpoint.as_bytes())
                .unwrap()
                .text(),
        )
        .unwrap();
        let mut p = mp.clone();
        p.checkpoint = body.sign_deterministic(&[(ORIGIN, &impostor)]).unwrap();
        cases.push(case(
            "refresh to a checkpoint signed by an unknown key",
            &old.mb,
            &p.to_bytes(),
            &root,
            err("unknown_key"),
        ));
        let bytes = mp.to_bytes();
        cases.push(case(
            "refresh pieces truncated",
            &old.mb,
            &bytes[..bytes.len() - 1],
            &root,
            err("malformed"),
        ));
        let mut wrong = bytes.clone();
        wrong[4] = 2;
        cases.push(case(
            "refresh pieces of an unknown version",
            &old.mb,
            &wrong,
            &root,
            err("unsupported_version"),
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        cases.push(case(
            "refresh pieces with a trailing byte",
            &old.mb,
            &trailing,
            &root,
            err("malformed"),
        ));
        assert!(size > old.reg.tree().tree_size());
        serde_json::to_value(Doc {
            kind: "bundle_refresh",
            version: 1,
            description: "Refreshing a bundle to a newer checkpoint of its log with the pieces the registry hands out (docs/FORMATS.md section 12, Refresh): refresh_bundle, then verify_bundle on the result at `now` with a maximum checkpoint age. A case's error is the first failure of either step.",
            ops: json!({"refresh_bundle": "args: bundle (base64 CBDL), pieces (base64 CRFP), trusted_root (base64 compact envelope), now, max_age; result: checkpoint_size and not_revoked_as_of (the refreshed bundle's checkpoint size)"}),
            cases,
        })
        .unwrap()
    }

    fn run(args: &Value) -> Result<Value, cairn_core::Error> {
        let bundle = Bundle::from_bytes(&b64(&args["bundle"]))?;
        let pieces = RefreshPieces::from_bytes(&b64(&args["pieces"]))?;
        let pinned =
            VerifiedRoot::from_pinned(&Envelope::from_compact(&b64(&args["trusted_root"]))?)?;
        let b = refresh_bundle(&bundle, &pieces)?;
        let policy = BundlePolicy {
            max_age: args["max_age"].as_u64(),
            ..Default::default()
        };
        let v = verify_bundle(&b, &pinned, args["now"].as_u64().unwrap(), &policy)?;
        let n = v.not_revoked_as_of.as_ref().expect("a version 2 verdict");
        Ok(json!({"checkpoint_size": v.checkpoint.size, "not_revoked_as_of": n.size}))
    }

    #[test]
    fn refresh_vectors() {
        let cases = vectors::committed("bundle_refresh", &vectors::render(&generate()));
        vectors::assert_distinct_names(&cases);
        vectors::assert_both_verdicts(&cases, &["refresh_bundle"]);
        vectors::check(&cases, |case| run(&case["args"]));
    }

    /// Pieces built in code keep the rules decoded ones keep: proofs out of order (or another
    /// version) are refused by `refresh_bundle` itself, so a refreshed bundle always decodes.
    #[test]
    fn pieces_built_in_code_keep_the_decoding_rules() -> Result<(), Box<dyn std::error::Error>> {
        let old = scenario(Revoke::Nothing);
        let s = later(Revoke::Nothing, &["minutes later"]);
        let mut p = s.reg.refresh_pieces(&old.cb)?;
        assert!(
            p.revocation.proofs.len() >= 2,
            "a delegated token has several objects"
        );
        refresh_bundle(&old.cb, &p)?;
        p.revocation.proofs.reverse();
        let e = refresh_bundle(&old.cb, &p).unwrap_err();
        assert_eq!(e.code(), cairn_core::ErrorCode::Malformed, "{e}");
        p.revocation.proofs.reverse();
        p.version = 9;
        let e = refresh_bundle(&old.cb, &p).unwrap_err();
        assert_eq!(e.code(), cairn_core::ErrorCode::UnsupportedVersion, "{e}");
        Ok(())
    }

    #[test]
    fn a_stale_bundle_verifies_again_once_refreshed() {
        let old = scenario(Revoke::Nothing);
        let s = later(Revoke::Nothing, &["minutes later"]);
        let pinned = s.reg.pinned();
        let stale = verify_bundle(&old.mb, &pinned, LATER, &policy()).unwrap_err();
        assert_eq!(stale.code(), cairn_core::ErrorCode::Stale);
        let pieces = s.reg.refresh_pieces(&old.mb).unwrap();
        let pieces = RefreshPieces::from_bytes(&pieces.to_bytes()).unwrap();
        let fresh = refresh_bundle(&old.mb, &pieces).unwrap();
        // Same subject, parents and entry; the newer checkpoint's parts.
        assert_eq!(
            (&fresh.subject, &fresh.parents, &fresh.entry),
            (&old.mb.subject, &old.mb.parents, &old.mb.entry)
        );
        assert_eq!(fresh.inclusion.tree_size, s.reg.tree().tree_size());
        let v = verify_bundle(&fresh, &pinned, LATER, &policy()).unwrap();
        assert_eq!(v.not_revoked_as_of.unwrap().time, LATER - 10);
        // Refreshing a fresh bundle to its own checkpoint changes nothing; the old pieces no
        // longer fit it (their consistency proof starts at the old size).
        let again = s.reg.refresh_pieces(&fresh).unwrap();
        assert_eq!(refresh_bundle(&fresh, &again).unwrap(), fresh);
        let misfit = refresh_bundle(&fresh, &pieces).unwrap_err();
        assert_eq!(misfit.code(), cairn_core::ErrorCode::ProofInvalid);
    }

    #[test]
    fn a_refresh_never_makes_a_bundle_over_one_mib() {
        let old = scenario(Revoke::Nothing);
        let s = later(Revoke::Nothing, &["minutes later"]);
        let mut pieces = s.reg.refresh_pieces(&old.mb).unwrap();
        let mut big = s.reg.root.clone();
        big.payload = vec![7; 20_000];
        pieces.trust_chain = vec![big; 60];
        let e = refresh_bundle(&old.mb, &pieces).unwrap_err();
        assert_eq!(e.code(), cairn_core::ErrorCode::TooLarge, "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// A flipped bit anywhere in the pieces never yields a bundle that verifies with a
        /// different checkpoint than the genuine pieces give.
        #[test]
        fn any_bit_flip_in_the_pieces_is_caught(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            let old = scenario(Revoke::Nothing);
            let s = later(Revoke::Nothing, &["minutes later"]);
            let mut bytes = s.reg.refresh_pieces(&old.mb).unwrap().to_bytes();
            let i = pos.index(bytes.len());
            bytes[i] ^= 1 << bit;
            if let Ok(p) = RefreshPieces::from_bytes(&bytes) {
                if let Ok(b) = refresh_bundle(&old.mb, &p) {
                    if let Ok(v) = verify_bundle(&b, &s.reg.pinned(), LATER, &policy()) {
                        // Only the informational root id may change unnoticed.
                        prop_assert!(!v.trust_root_matches_bundle, "bit flip at byte {} accepted", i);
                    }
                }
            }
        }
    }
}
