//! blux-reg v1.0 interop: canonical JSON, tokens, manifests and ledger files.
//!
//! The first record is the text under test; `mode % 5` picks what it is:
//! 0 canonical JSON: a parsed value's canonical text parses to a value with the same
//!   canonical text (canonicalisation is idempotent) and the same canonical hash;
//! 1 token: verified at `now` against the revocations and trusted issuers of blux.json token
//!   case `flags`; an accepted token's hash is `token_hash` of the text and it verifies again
//!   alike; with no revocations and any issuer it still verifies;
//! 2 manifest: verified against the keys and artifact digest of manifest case `flags`;
//! 3 ledger file (JSONL), verified as is; an accepted ledger has a head exactly when it has
//!   entries, and verifies again to the same head;
//! 4 ledger lines re-chained by the target (prev_hash and entry_hash recomputed, written
//!   canonically): the result must verify, with the head the target computed;
//! 5 a token object re-signed by the target (issuer key and fingerprint set to a fixed key,
//!   signature over the canonical JSON): it may fail on its shape or expiry, never on its
//!   signature or key, and verifies alike with that key pinned;
//! 6 a manifest object re-signed the same way and checked against the digest it states:
//!   it may fail on its shape, never on its signature or key.
#![no_main]

use std::sync::OnceLock;

use cairn_core::blux::{
    canonical_hash, canonical_json, fingerprint, parse_json, token_hash, verify_ledger,
    verify_manifest, verify_token, Object, TokenPolicy, Value,
};
use cairn_core::crypto::pem::{public_key_from_pem, public_key_to_pem};
use cairn_core::crypto::{PublicKey, SigningKey};
use cairn_core::encoding::{b64_encode, hex_decode_array, hex_encode, Digest};
use cairn_core::ErrorCode;
use cairn_fuzz::{cases, pick, pool, vectors, Input};
use libfuzzer_sys::fuzz_target;

struct TokenCase {
    revocations: Option<String>,
    policy: TokenPolicy,
}

struct ManifestCase {
    digest: Digest,
    keys: Vec<PublicKey>,
}

fn token_cases() -> &'static [TokenCase] {
    static F: OnceLock<Vec<TokenCase>> = OnceLock::new();
    F.get_or_init(|| {
        cases(vectors::BLUX)
            .iter()
            .filter(|c| c["op"] == "blux_verify_token")
            .map(|c| {
                let a = &c["args"];
                let policy = match a["trusted_issuers"].as_array() {
                    None => TokenPolicy::any_issuer(),
                    Some(list) => TokenPolicy::trusted_fingerprints(
                        list.iter()
                            .map(|h| hex_decode_array::<32>(h.as_str().unwrap()).unwrap()),
                    ),
                };
                TokenCase {
                    revocations: a["revocations"].as_str().map(String::from),
                    policy,
                }
            })
            .collect()
    })
}

fn manifest_cases() -> &'static [ManifestCase] {
    static F: OnceLock<Vec<ManifestCase>> = OnceLock::new();
    F.get_or_init(|| {
        cases(vectors::BLUX)
            .iter()
            .filter(|c| c["op"] == "blux_verify_manifest")
            .map(|c| {
                let a = &c["args"];
                ManifestCase {
                    digest: hex_decode_array::<32>(a["artifact_sha256"].as_str().unwrap()).unwrap(),
                    keys: a["keys"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| public_key_from_pem(p.as_str().unwrap()).unwrap())
                        .collect(),
                }
            })
            .collect()
    })
}

/// Errors a correctly signed object by the trusted key must never give.
const SIGNING_ERRORS: [ErrorCode; 3] = [
    ErrorCode::SignatureInvalid,
    ErrorCode::KeyMismatch,
    ErrorCode::UnknownKey,
];

/// Signs `obj` as blux-reg does: Ed25519 over the canonical JSON without `signature`, the
/// signature as padded standard base64. Returns the canonical JSON text of the signed object.
fn sign_object(mut obj: Object, key: &SigningKey) -> String {
    obj.remove("signature");
    let message = canonical_json(&Value::Object(obj.clone()));
    let sig = key.sign_deterministic(message.as_bytes(), b"").unwrap();
    obj.insert(
        "signature",
        Value::from(b64_encode(sig.as_bytes()).as_str()),
    );
    canonical_json(&Value::Object(obj))
}

fn rechain(text: &str) -> Option<(String, usize, Option<Digest>)> {
    let mut out = String::new();
    let mut prev: Option<Digest> = None;
    let mut n = 0;
    for line in text.split('\n') {
        let Ok(Value::Object(mut obj)) = parse_json(line) else {
            continue;
        };
        obj.remove("entry_hash");
        obj.insert(
            "prev_hash",
            match prev {
                None => Value::Null,
                Some(p) => Value::from(hex_encode(&p).as_str()),
            },
        );
        let h = canonical_hash(&Value::Object(obj.clone()));
        obj.insert("entry_hash", Value::from(hex_encode(&h).as_str()));
        out.push_str(&canonical_json(&Value::Object(obj)));
        out.push('\n');
        prev = Some(h);
        n += 1;
    }
    Some((out, n, prev))
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let Some(Ok(text)) = input.records.first().map(|r| std::str::from_utf8(r)) else {
        return;
    };
    match input.mode % 7 {
        0 => {
            let Ok(v) = parse_json(text) else {
                return;
            };
            let c = canonical_json(&v);
            let again = parse_json(&c).expect("canonical JSON parses");
            assert_eq!(canonical_json(&again), c, "canonical JSON is idempotent");
            assert_eq!(canonical_hash(&again), canonical_hash(&v));
        }
        1 => {
            let case = pick(token_cases(), input.flags);
            let now = input.now;
            let first = verify_token(text, now, case.revocations.as_deref(), &case.policy);
            let second = verify_token(text, now, case.revocations.as_deref(), &case.policy);
            // Compared by hash and code: verdicts may hold NaN, which equals nothing.
            assert_eq!(
                first.as_ref().map(|v| v.token_hash).map_err(|e| e.code()),
                second.as_ref().map(|v| v.token_hash).map_err(|e| e.code()),
                "verification is deterministic"
            );
            if let Ok(v) = first {
                assert_eq!(token_hash(text).ok(), Some(v.token_hash));
                let open = verify_token(text, now, None, &TokenPolicy::any_issuer());
                assert_eq!(open.ok().map(|o| o.token_hash), Some(v.token_hash));
            }
        }
        2 => {
            let case = pick(manifest_cases(), input.flags);
            if let Ok(v) = verify_manifest(text, &case.digest, &case.keys) {
                assert_eq!(v.artifact_sha256, case.digest);
                assert!(case.keys.contains(&v.key));
                let again = verify_manifest(text, &case.digest, &case.keys).unwrap();
                assert_eq!(again.manifest_hash, v.manifest_hash);
            }
        }
        3 => {
            if let Ok(s) = verify_ledger(text) {
                assert_eq!(
                    s.entries == 0,
                    s.head.is_none(),
                    "a head exactly when entries"
                );
                assert_eq!(verify_ledger(text).ok().map(|t| t.head), Some(s.head));
            }
        }
        5 => {
            let Ok(Value::Object(mut obj)) = parse_json(text) else {
                return;
            };
            let key = &pool()[0];
            let mut issuer = match obj.get("issuer") {
                Some(Value::Object(i)) => i.clone(),
                _ => Object::new(),
            };
            let pem = public_key_to_pem(key.public_key()).unwrap();
            issuer.insert("public_key", Value::from(pem.as_str()));
            let fp = hex_encode(&fingerprint(key.public_key()));
            issuer.insert("fingerprint", Value::from(fp.as_str()));
            obj.insert("issuer", Value::Object(issuer));
            let signed = sign_object(obj, key);
            let pinned = TokenPolicy::trusted_keys([key.public_key()]);
            let any = verify_token(&signed, input.now, None, &TokenPolicy::any_issuer());
            let pin = verify_token(&signed, input.now, None, &pinned);
            assert_eq!(
                any.as_ref().map(|v| v.token_hash).map_err(|e| e.code()),
                pin.as_ref().map(|v| v.token_hash).map_err(|e| e.code()),
                "pinning the signing key changes nothing"
            );
            if let Err(e) = any {
                assert!(
                    !SIGNING_ERRORS.contains(&e.code()),
                    "re-signed token: {e:?}"
                );
            }
        }
        6 => {
            let Ok(Value::Object(mut obj)) = parse_json(text) else {
                return;
            };
            let key = &pool()[0];
            let fp = hex_encode(&fingerprint(key.public_key()));
            obj.insert("key_fingerprint", Value::from(fp.as_str()));
            let digest = obj
                .get("artifact_sha256")
                .and_then(Value::as_str)
                .and_then(|h| hex_decode_array::<32>(h).ok())
                .unwrap_or([0; 32]);
            let signed = sign_object(obj, key);
            match verify_manifest(&signed, &digest, &[key.public_key().clone()]) {
                Ok(v) => assert_eq!(
                    Ok(v.manifest_hash),
                    token_hash(&signed).map_err(|e| e.code())
                ),
                Err(e) => assert!(
                    !SIGNING_ERRORS.contains(&e.code()),
                    "re-signed manifest: {e:?}"
                ),
            }
        }
        _ => {
            let Some((ledger, n, head)) = rechain(text) else {
                return;
            };
            let s = verify_ledger(&ledger).expect("a ledger chained by the target verifies");
            assert_eq!((s.entries, s.head), (n, head));
        }
    }
});
