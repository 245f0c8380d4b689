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
//!   canonically): the result must verify, with the head the target computed.
#![no_main]

use std::sync::OnceLock;

use cairn_core::blux::{
    canonical_hash, canonical_json, parse_json, token_hash, verify_ledger, verify_manifest,
    verify_token, TokenPolicy, Value,
};
use cairn_core::crypto::pem::public_key_from_pem;
use cairn_core::crypto::PublicKey;
use cairn_core::encoding::{hex_decode_array, hex_encode, Digest};
use cairn_fuzz::{cases, pick, vectors, Input};
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
    match input.mode % 5 {
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
        _ => {
            let Some((ledger, n, head)) = rechain(text) else {
                return;
            };
            let s = verify_ledger(&ledger).expect("a ledger chained by the target verifies");
            assert_eq!((s.entries, s.head), (n, head));
        }
    }
});
