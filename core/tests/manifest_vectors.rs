//! Test vectors for artifact manifests: tests/vectors/manifest.json.
//!
//! Generated from fixed seeds (deterministic ML-DSA). The normal run checks that the
//! committed file equals the generator's output and that `verify_manifest` gives every
//! verdict; `CAIRN_REGEN_VECTORS=1 cargo test -p cairn-core --test manifest_vectors` rewrites
//! it. Expected results come from what the generator built, not from the verifier.

mod support;

use std::collections::BTreeSet;

use cairn_core::crypto::{Algorithm, PublicKey, SigningKey};
use cairn_core::dsse::{pae, Envelope};
use cairn_core::encoding::{
    b64_decode, b64_encode, hex_decode_array, hex_encode, sha256, to_postcard,
};
use cairn_core::manifest::{verify_manifest, ArtifactCheck, ManifestClaims, MANIFEST_PAYLOAD_TYPE};
use cairn_core::token::TOKEN_PAYLOAD_TYPE;
use cairn_core::{Error, ErrorCode};
use serde_json::{json, Value};
use support::keys::{key_json, parse_keys};
use support::vectors;

const T0: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const ARTIFACT: &[u8] = b"cairn example artifact: release 1.0.0\n";

fn key(alg: Algorithm, n: u8) -> SigningKey {
    SigningKey::from_seed(alg, &[n; 32])
}

fn example_claims() -> ManifestClaims {
    let mut c = ManifestClaims::new(
        "release-1.0.0.txt",
        "text/plain; charset=utf-8",
        ARTIFACT.len() as u64,
        sha256(&[ARTIFACT]),
        T0,
    );
    c.metadata.insert("commit".into(), "4f2a9c1".into());
    c.metadata
        .insert("license".into(), "Apache-2.0 OR MIT".into());
    c
}

fn signed_payload(payload_type: &str, payload: Vec<u8>, keys: &[&SigningKey]) -> Envelope {
    let mut env = Envelope::new(payload_type, payload).unwrap();
    for k in keys {
        env.sign_deterministic(k).unwrap();
    }
    env
}

fn signed(c: &ManifestClaims, keys: &[&SigningKey]) -> Envelope {
    signed_payload(MANIFEST_PAYLOAD_TYPE, to_postcard(c), keys)
}

fn flip(mut bytes: Vec<u8>, index: usize) -> Vec<u8> {
    bytes[index] ^= 0x10;
    bytes
}

enum Artifact {
    Bytes(Vec<u8>),
    Digest(u64, [u8; 32]),
    None,
}

struct Args {
    manifest: Vec<u8>,
    trusted: Vec<PublicKey>,
    threshold: u64,
    artifact: Artifact,
}

impl Args {
    fn new(env: &Envelope, trusted: &[&SigningKey], threshold: u64) -> Args {
        Args {
            manifest: env.to_compact(),
            trusted: trusted.iter().map(|k| k.public_key().clone()).collect(),
            threshold,
            artifact: Artifact::Bytes(ARTIFACT.to_vec()),
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "manifest": b64_encode(&self.manifest),
            "trusted_signers": self.trusted.iter().map(key_json).collect::<Vec<_>>(),
            "threshold": self.threshold,
        });
        match &self.artifact {
            Artifact::Bytes(b) => v["artifact"] = json!(b64_encode(b)),
            Artifact::Digest(size, d) => {
                v["artifact_size"] = json!(size);
                v["artifact_sha256"] = json!(hex_encode(d));
            }
            Artifact::None => {}
        }
        v
    }
}

fn ok(env: &Envelope, signers: &[&SigningKey]) -> Value {
    let c = ManifestClaims::from_payload(&env.payload).unwrap();
    json!({
        "ok": true,
        "digest": hex_encode(&sha256(&[&pae(&env.payload_type, &env.payload)])),
        "name": c.name,
        "size": c.size,
        "sha256": hex_encode(&c.sha256),
        "signers": signers.iter().map(|k| k.public_key().key_id().to_hex()).collect::<Vec<_>>(),
    })
}

fn err(code: ErrorCode) -> Value {
    json!({ "error": code.as_str() })
}

fn generate() -> String {
    let ed = key(Algorithm::Ed25519, 31);
    let ml = key(Algorithm::MlDsa44, 32);
    let hy = key(Algorithm::Ed25519MlDsa44, 33);
    let hy65 = key(Algorithm::Ed25519MlDsa65, 34);
    let stranger = key(Algorithm::Ed25519, 39);

    let claims = example_claims();
    let one = signed(&claims, &[&ed]);
    let two = signed(&claims, &[&ed, &ml]);
    let three = signed(&claims, &[&ed, &ml, &hy]);
    let mut cases: Vec<(String, Value, Value)> = Vec::new();
    let mut add = |name: &str, args: &Args, expect: Value| {
        cases.push((name.into(), args.to_json(), expect));
    };

    // --- valid ---
    add(
        "valid_1_of_1_ed25519_with_artifact_bytes",
        &Args::new(&one, &[&ed], 1),
        ok(&one, &[&ed]),
    );
    let mut a = Args::new(&one, &[&ed], 1);
    a.artifact = Artifact::Digest(ARTIFACT.len() as u64, sha256(&[ARTIFACT]));
    add("valid_1_of_1_with_artifact_digest", &a, ok(&one, &[&ed]));
    let mut a = Args::new(&one, &[&ed], 1);
    a.artifact = Artifact::None;
    add("valid_signature_only", &a, ok(&one, &[&ed]));
    let mut a = Args::new(&one, &[&ed], 1);
    a.manifest = one.to_json().into_bytes();
    add("valid_json_form", &a, ok(&one, &[&ed]));
    add(
        "valid_2_of_3_distinct_signers",
        &Args::new(&two, &[&ed, &ml, &hy], 2),
        ok(&two, &[&ed, &ml]),
    );
    add(
        "valid_3_of_3_same_digest_as_1_of_1",
        &Args::new(&three, &[&hy, &ed, &ml], 3),
        ok(&three, &[&ed, &ml, &hy]),
    );
    add(
        "valid_2_of_2_trusted_with_an_untrusted_cosigner",
        &Args::new(&signed(&claims, &[&stranger, &ed, &ml]), &[&ed, &ml], 2),
        ok(&signed(&claims, &[&stranger, &ed, &ml]), &[&ed, &ml]),
    );
    let hy65_env = signed(&claims, &[&hy65]);
    add(
        "valid_1_of_1_hybrid_ed25519_ml_dsa_65",
        &Args::new(&hy65_env, &[&hy65], 1),
        ok(&hy65_env, &[&hy65]),
    );
    let empty_claims =
        ManifestClaims::new("empty.bin", "application/octet-stream", 0, sha256(&[]), T0);
    let empty = signed(&empty_claims, &[&ml]);
    let mut a = Args::new(&empty, &[&ml], 1);
    a.artifact = Artifact::Bytes(vec![]);
    add("valid_empty_artifact_ml_dsa_44", &a, ok(&empty, &[&ml]));

    // --- thresholds ---
    let mut dup = one.clone();
    dup.signatures.push(dup.signatures[0].clone());
    add(
        "same_signer_twice_does_not_meet_threshold_2",
        &Args::new(&dup, &[&ed, &ml], 2),
        err(ErrorCode::ThresholdNotMet),
    );
    add(
        "one_signer_threshold_2",
        &Args::new(&one, &[&ed, &ml], 2),
        err(ErrorCode::ThresholdNotMet),
    );
    add(
        "untrusted_cosigner_does_not_count",
        &Args::new(&signed(&claims, &[&ed, &stranger]), &[&ed, &ml], 2),
        err(ErrorCode::ThresholdNotMet),
    );
    add(
        "threshold_above_key_count",
        &Args::new(&two, &[&ed, &ml], 3),
        err(ErrorCode::ThresholdNotMet),
    );
    add(
        "untrusted_signer_only",
        &Args::new(&signed(&claims, &[&stranger]), &[&ed], 1),
        err(ErrorCode::UnknownKey),
    );
    add(
        "threshold_zero",
        &Args::new(&one, &[&ed], 0),
        err(ErrorCode::Malformed),
    );
    let two_compact = two.to_compact();
    // The ML-DSA signature is last: corrupt it, keep the Ed25519 one.
    let mut a = Args::new(&two, &[&ed, &ml], 1);
    a.manifest = flip(two_compact.clone(), two_compact.len() - 500);
    add(
        "one_bad_signature_threshold_1_still_met",
        &a,
        ok(&two, &[&ed]),
    );
    let mut a = Args::new(&two, &[&ed, &ml], 2);
    a.manifest = flip(two_compact.clone(), two_compact.len() - 500);
    add(
        "one_bad_signature_threshold_2",
        &a,
        err(ErrorCode::SignatureInvalid),
    );

    // --- the artifact ---
    let mut a = Args::new(&one, &[&ed], 1);
    a.artifact = Artifact::Bytes(flip(ARTIFACT.to_vec(), 5));
    add("artifact_modified", &a, err(ErrorCode::DigestMismatch));
    a.artifact = Artifact::Bytes(ARTIFACT[..ARTIFACT.len() - 1].to_vec());
    add("artifact_truncated", &a, err(ErrorCode::DigestMismatch));
    a.artifact = Artifact::Bytes([ARTIFACT, b"x"].concat());
    add("artifact_extended", &a, err(ErrorCode::DigestMismatch));
    a.artifact = Artifact::Digest(ARTIFACT.len() as u64 + 1, sha256(&[ARTIFACT]));
    add(
        "artifact_size_mismatch_with_right_digest",
        &a,
        err(ErrorCode::DigestMismatch),
    );
    a.artifact = Artifact::Digest(ARTIFACT.len() as u64, sha256(&[b"other"]));
    add(
        "artifact_digest_mismatch_with_right_size",
        &a,
        err(ErrorCode::DigestMismatch),
    );

    // --- tampering and framing ---
    let compact = one.to_compact();
    let off = compact
        .windows(one.payload.len())
        .position(|w| w == one.payload.as_slice())
        .unwrap();
    let mut a = Args::new(&one, &[&ed], 1);
    a.manifest = flip(compact.clone(), off + 3);
    add(
        "flipped_bit_in_payload",
        &a,
        err(ErrorCode::SignatureInvalid),
    );
    a.manifest = flip(compact.clone(), compact.len() - 1);
    add(
        "flipped_bit_in_ed25519_signature",
        &a,
        err(ErrorCode::SignatureInvalid),
    );
    let ml_compact = empty.to_compact();
    let mut a = Args::new(&empty, &[&ml], 1);
    a.artifact = Artifact::None;
    a.manifest = flip(ml_compact.clone(), ml_compact.len() - 1234);
    add(
        "flipped_bit_in_ml_dsa_signature",
        &a,
        err(ErrorCode::SignatureInvalid),
    );
    let mut a = Args::new(&one, &[&ed], 1);
    a.manifest = compact[..compact.len() - 1].to_vec();
    add("truncated", &a, err(ErrorCode::Malformed));
    a.manifest = [compact.as_slice(), &[0]].concat();
    add("trailing_byte", &a, err(ErrorCode::Malformed));
    a.manifest = b"{\"payload\":".to_vec();
    add("truncated_json", &a, err(ErrorCode::Malformed));

    // --- domain and decoding ---
    let as_token = signed_payload(TOKEN_PAYLOAD_TYPE, to_postcard(&claims), &[&ed]);
    add(
        "signed_as_token_offered_as_manifest",
        &Args::new(&as_token, &[&ed], 1),
        err(ErrorCode::DomainMismatch),
    );
    let mut v2 = to_postcard(&claims);
    v2[0] = 2;
    add(
        "unknown_version",
        &Args::new(
            &signed_payload(MANIFEST_PAYLOAD_TYPE, v2, &[&ed]),
            &[&ed],
            1,
        ),
        err(ErrorCode::UnsupportedVersion),
    );
    let fields = |name: &str, metadata: Vec<(&str, &str)>| -> Vec<u8> {
        let c = example_claims();
        [
            to_postcard(&c.version),
            to_postcard(&name),
            to_postcard(&c.size),
            to_postcard(&c.sha256),
            to_postcard(&c.media_type),
            to_postcard(&metadata),
            to_postcard(&c.created_at),
        ]
        .concat()
    };
    let hand = signed_payload(
        MANIFEST_PAYLOAD_TYPE,
        fields(
            "release-1.0.0.txt",
            vec![("commit", "4f2a9c1"), ("license", "Apache-2.0 OR MIT")],
        ),
        &[&ed],
    );
    add(
        "hand_assembled_payload_is_valid",
        &Args::new(&hand, &[&ed], 1),
        ok(&hand, &[&ed]),
    );
    let bad = [
        (
            "metadata_unsorted",
            fields("a.txt", vec![("license", "MIT"), ("commit", "1")]),
        ),
        (
            "metadata_duplicate_key",
            fields("a.txt", vec![("commit", "1"), ("commit", "2")]),
        ),
        ("name_with_path", fields("../etc/passwd", vec![])),
        ("name_empty", fields("", vec![])),
        ("name_dot_dot", fields("..", vec![])),
    ];
    for (name, payload) in bad {
        let env = signed_payload(MANIFEST_PAYLOAD_TYPE, payload, &[&ed]);
        let mut a = Args::new(&env, &[&ed], 1);
        a.artifact = Artifact::None;
        add(name, &a, err(ErrorCode::Malformed));
    }

    let doc = json!({
        "kind": "manifest",
        "version": 1,
        "description": "Artifact manifests: DSSE envelopes of type application/vnd.cairn.manifest.v1+postcard \
            with postcard ManifestClaims, signed by one or more keys (docs/FORMATS.md). Keys are \
            derived with SigningKey::from_seed; ML-DSA signatures use the deterministic variant.",
        "ops": {
            "verify_manifest": "args: manifest (base64 of the envelope bytes, compact CDSE form or DSSE \
                JSON), trusted_signers (array of {algorithm, public_key (base64 raw key)}), threshold \
                (distinct trusted signers required), and either artifact (base64 of the artifact \
                bytes) or artifact_size + artifact_sha256 (hex), or neither (signatures only). \
                Result: {ok, digest (hex SHA-256 of PAE(payloadType, payload)), name, size, sha256, \
                signers (key ids in envelope order)} or {error}."
        },
        "cases": cases.into_iter().map(|(name, args, expect)| json!({
            "name": name, "op": "verify_manifest", "args": args, "expect": expect
        })).collect::<Vec<_>>(),
    });
    vectors::render(&doc)
}

/// The `verify_manifest` op as every implementation runs it.
fn run(args: &Value) -> Result<Value, Error> {
    let env = Envelope::parse(&b64_decode(args["manifest"].as_str().unwrap())?)?;
    let trusted = parse_keys(&args["trusted_signers"])?;
    let bytes;
    let artifact = if let Some(b) = args.get("artifact") {
        bytes = b64_decode(b.as_str().unwrap())?;
        ArtifactCheck::Bytes(&bytes)
    } else if let Some(d) = args.get("artifact_sha256") {
        ArtifactCheck::Digest {
            size: args["artifact_size"].as_u64().unwrap(),
            sha256: hex_decode_array::<32>(d.as_str().unwrap())?,
        }
    } else {
        ArtifactCheck::None
    };
    let v = verify_manifest(
        &env,
        &trusted,
        args["threshold"].as_u64().unwrap() as usize,
        artifact,
    )?;
    Ok(json!({
        "ok": true,
        "digest": hex_encode(&v.digest),
        "name": v.claims.name,
        "size": v.claims.size,
        "sha256": hex_encode(&v.claims.sha256),
        "signers": v.signers.iter().map(|k| k.to_hex()).collect::<Vec<_>>(),
    }))
}

#[test]
fn manifest_vectors_match_generator_and_verifier() {
    let cases = vectors::committed("manifest", &generate());
    assert!(cases.len() >= 30);
    vectors::assert_distinct_names(&cases);
    vectors::assert_both_verdicts(&cases, &["verify_manifest"]);
    let mut digests = BTreeSet::new();
    vectors::check(&cases, |case| {
        assert_eq!(case["op"], "verify_manifest");
        let result = run(&case["args"])?;
        if result["name"] == "release-1.0.0.txt" {
            digests.insert(result["digest"].as_str().unwrap().to_string());
        }
        Ok(result)
    });
    // Co-signatures do not change a manifest's identity.
    assert_eq!(digests.len(), 1);
}
