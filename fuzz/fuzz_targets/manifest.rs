//! Signed artifact manifests (`verify_manifest`).
//!
//! Mode 0 (even): the first record is a manifest envelope (compact or JSON), verified with
//! the trusted signers and threshold of manifest.json case `flags`; a second record, if
//! present, is the artifact.
//!
//! Mode 1 (odd): the first record is a manifest claims payload, signed by a fixed trusted key
//! before verification.
//!
//! Invariants: accepted claims re-encode to the payload; the digest is `manifest_digest`;
//! signers are distinct and trusted, at least the threshold; the artifact check passes only
//! when size and SHA-256 match the claims, and checking bytes agrees with checking their
//! digest; a signed payload whose claims decode verifies against its own size and digest,
//! and fails against any other size.
#![no_main]

use std::sync::OnceLock;

use cairn_core::crypto::PublicKey;
use cairn_core::dsse::Envelope;
use cairn_core::encoding::sha256;
use cairn_core::manifest::{
    manifest_digest, verify_manifest, ArtifactCheck, ManifestClaims, MANIFEST_PAYLOAD_TYPE,
};
use cairn_core::ErrorCode;
use cairn_fuzz::{cases, key_from_json, pick, pool, vectors, Input};
use libfuzzer_sys::fuzz_target;

struct Case {
    keys: Vec<PublicKey>,
    threshold: usize,
}

fn fixtures() -> &'static [Case] {
    static F: OnceLock<Vec<Case>> = OnceLock::new();
    F.get_or_init(|| {
        cases(vectors::MANIFEST)
            .iter()
            .map(|c| Case {
                keys: c["args"]["trusted_signers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(key_from_json)
                    .collect(),
                threshold: c["args"]["threshold"].as_u64().unwrap_or(1) as usize,
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let Some(first) = input.records.first() else {
        return;
    };
    if input.mode % 2 == 0 {
        let Ok(env) = Envelope::parse(first) else {
            return;
        };
        let case = pick(fixtures(), input.flags);
        let artifact = match input.records.get(1) {
            Some(a) => ArtifactCheck::Bytes(a),
            None => ArtifactCheck::None,
        };
        let r = verify_manifest(&env, &case.keys, case.threshold, artifact);
        if let Some(a) = input.records.get(1) {
            let by_digest = ArtifactCheck::Digest {
                size: a.len() as u64,
                sha256: sha256(&[a]),
            };
            let d = verify_manifest(&env, &case.keys, case.threshold, by_digest);
            assert_eq!(
                r.as_ref().map_err(|e| e.code()),
                d.as_ref().map_err(|e| e.code()),
                "bytes and digest checks agree"
            );
        }
        let Ok(v) = r else {
            return;
        };
        assert_eq!(v.claims.to_payload().ok(), Some(env.payload.clone()));
        assert_eq!(v.digest, manifest_digest(&env));
        assert!(v.signers.len() >= case.threshold);
        for (i, s) in v.signers.iter().enumerate() {
            assert!(case.keys.iter().any(|k| k.key_id() == *s));
            assert!(!v.signers[..i].contains(s));
        }
        if let Some(a) = input.records.get(1) {
            assert_eq!(
                (v.claims.size, v.claims.sha256),
                (a.len() as u64, sha256(&[a]))
            );
        }
    } else {
        let Ok(mut env) = Envelope::new(MANIFEST_PAYLOAD_TYPE, first.clone()) else {
            return;
        };
        let key = &pool()[0];
        env.sign_deterministic(key).unwrap();
        let keys = [key.public_key().clone()];
        let Ok(claims) = ManifestClaims::from_payload(first) else {
            assert!(verify_manifest(&env, &keys, 1, ArtifactCheck::None).is_err());
            return;
        };
        let own = ArtifactCheck::Digest {
            size: claims.size,
            sha256: claims.sha256,
        };
        let v = verify_manifest(&env, &keys, 1, own).expect("signed valid claims verify");
        assert_eq!(v.claims, claims);
        let other = ArtifactCheck::Digest {
            size: claims.size ^ 1,
            sha256: claims.sha256,
        };
        assert_eq!(
            verify_manifest(&env, &keys, 1, other)
                .map_err(|e| e.code())
                .err(),
            Some(ErrorCode::DigestMismatch)
        );
    }
});
