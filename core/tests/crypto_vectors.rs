//! tests/vectors/crypto.json: the verdicts every cairn implementation (Rust, wasm, Node) must
//! give for raw signature verification and key ids.
//!
//! The file is generated deterministically (keys from `SigningKey::from_seed`, signatures from
//! `sign_deterministic`) by `generate()` below; `CAIRN_REGEN_VECTORS=1 cargo test -p cairn-core
//! --test crypto_vectors` rewrites it. The normal run checks every case and that the committed
//! file is exactly what the generator produces now.

mod support;

use cairn_core::crypto::{self, Algorithm, PublicKey, SigningKey, ED25519_PK_LEN, ED25519_SIG_LEN};
use cairn_core::encoding::{b64_decode, b64_encode, hex_decode_array};
use serde_json::{json, Value};
use support::crypto::{plus_l, L, NON_LEGACY};
use support::vectors::{self, b64};

const MSG: &[u8] = b"cairn test vector";
const CTX: &[u8] = b"application/vnd.cairn.test.v1+postcard";

fn key(alg: Algorithm) -> SigningKey {
    SigningKey::from_seed(alg, &[alg.id(); 32])
}

fn other_key(alg: Algorithm) -> SigningKey {
    SigningKey::from_seed(alg, &[alg.id() ^ 0x80; 32])
}

fn sign(k: &SigningKey, msg: &[u8], ctx: &[u8]) -> Vec<u8> {
    k.sign_deterministic(msg, ctx).unwrap().into_bytes()
}

fn flip(bytes: &[u8], pos: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[pos] ^= 0x01;
    b
}

struct Cases(Vec<Value>);

impl Cases {
    #[allow(clippy::too_many_arguments)] // one argument per field of the case
    fn verify(
        &mut self,
        name: &str,
        alg: &str,
        pk: &[u8],
        msg: &[u8],
        ctx: &[u8],
        sig: &[u8],
        expect: Result<(), &str>,
    ) {
        let expect = match expect {
            Ok(()) => json!({"ok": true}),
            Err(code) => json!({"error": code}),
        };
        self.0.push(json!({
            "args": {
                "algorithm": alg,
                "context": b64_encode(ctx),
                "message": b64_encode(msg),
                "public_key": b64_encode(pk),
                "signature": b64_encode(sig),
            },
            "expect": expect,
            "name": name,
            "op": "verify_signature",
        }));
    }

    fn key_id(&mut self, name: &str, alg: &str, pk: &[u8], expect: Result<String, &str>) {
        let expect = match expect {
            Ok(id) => json!({"key_id": id, "ok": true}),
            Err(code) => json!({"error": code}),
        };
        self.0.push(json!({
            "args": {"algorithm": alg, "public_key": b64_encode(pk)},
            "expect": expect,
            "name": name,
            "op": "key_id",
        }));
    }
}

/// The first single-bit change of an Ed25519 key that is still a valid key.
fn valid_ed25519_neighbour(pk: &[u8]) -> Vec<u8> {
    (0..256)
        .map(|bit| {
            let mut b = pk.to_vec();
            b[bit / 8] ^= 1 << (bit % 8);
            b
        })
        .find(|b| PublicKey::from_bytes(Algorithm::Ed25519, b).is_ok())
        .unwrap()
}

/// The first y = p + k encoding (k in 0..19, sign bit clear then set) that decodes to a point
/// of large order, i.e. a key only a non-canonical encoding check refuses.
fn non_canonical_ed25519_key() -> [u8; 32] {
    (0..19u8)
        .flat_map(|k| [0x7f, 0xff].map(|top| (k, top)))
        .map(|(k, top)| {
            let mut b = [0xffu8; 32];
            b[0] = 0xed + k;
            b[31] = top;
            b
        })
        .find(|b| ed25519_dalek::VerifyingKey::from_bytes(b).is_ok_and(|v| !v.is_weak()))
        .unwrap()
}

fn generate() -> String {
    let mut c = Cases(Vec::new());
    let sig_inv = Err("signature_invalid");
    let key_inv = Err("invalid_key");

    for alg in NON_LEGACY {
        let n = alg.name();
        let k = key(alg);
        let pk = k.public_key().as_bytes().to_vec();
        let empty = sign(&k, b"", b"");
        let sig = sign(&k, MSG, CTX);
        c.verify(
            &format!("{n}: valid, empty message and context"),
            n,
            &pk,
            b"",
            b"",
            &empty,
            Ok(()),
        );
        c.verify(
            &format!("{n}: valid, with context"),
            n,
            &pk,
            MSG,
            CTX,
            &sig,
            Ok(()),
        );
        c.verify(
            &format!("{n}: first signature byte, one bit flipped"),
            n,
            &pk,
            MSG,
            CTX,
            &flip(&sig, 0),
            sig_inv,
        );
        c.verify(
            &format!("{n}: last signature byte, one bit flipped"),
            n,
            &pk,
            MSG,
            CTX,
            &flip(&sig, sig.len() - 1),
            sig_inv,
        );
        c.verify(
            &format!("{n}: message, one bit flipped"),
            n,
            &pk,
            &flip(MSG, 3),
            CTX,
            &sig,
            sig_inv,
        );
        c.verify(
            &format!("{n}: signature one byte short"),
            n,
            &pk,
            MSG,
            CTX,
            &sig[..sig.len() - 1],
            sig_inv,
        );
        if alg == Algorithm::Ed25519 || alg == Algorithm::MlDsa44 {
            // (Length checks are the same code for every algorithm: two suffice.)
            c.verify(
                &format!("{n}: signature one byte long"),
                n,
                &pk,
                MSG,
                CTX,
                &[&sig[..], &[0]].concat(),
                sig_inv,
            );
            c.verify(
                &format!("{n}: empty signature"),
                n,
                &pk,
                MSG,
                CTX,
                b"",
                sig_inv,
            );
        }
        c.verify(
            &format!("{n}: public key one byte short"),
            n,
            &pk[..pk.len() - 1],
            MSG,
            CTX,
            &sig,
            key_inv,
        );
        c.verify(
            &format!("{n}: signature by another key"),
            n,
            &pk,
            MSG,
            CTX,
            &sign(&other_key(alg), MSG, CTX),
            sig_inv,
        );
        c.verify(
            &format!("{n}: context of 256 bytes"),
            n,
            &pk,
            MSG,
            &[0x61; 256],
            &sig,
            Err("domain_mismatch"),
        );
        if alg == Algorithm::Ed25519 {
            c.verify(
                "ed25519: has no context, so another context does not matter",
                n,
                &pk,
                MSG,
                b"application/vnd.cairn.other.v1+postcard",
                &sig,
                Ok(()),
            );
        } else {
            c.verify(
                &format!("{n}: wrong context"),
                n,
                &pk,
                MSG,
                b"application/vnd.cairn.other.v1+postcard",
                &sig,
                sig_inv,
            );
            if !alg.has_ed25519() {
                c.verify(
                    &format!("{n}: context missing"),
                    n,
                    &pk,
                    MSG,
                    b"",
                    &sig,
                    sig_inv,
                );
                c.verify(
                    &format!("{n}: context moved into the message"),
                    n,
                    &pk,
                    &[CTX, MSG].concat(),
                    b"",
                    &sig,
                    sig_inv,
                );
            }
        }
        // One bit of the key flipped, keeping it a valid key: a different key.
        let (pk_flip, what) = if alg == Algorithm::Ed25519 {
            (
                valid_ed25519_neighbour(&pk),
                "public key, one bit flipped (still a valid point)",
            )
        } else {
            (
                flip(&pk, pk.len() - 1),
                "public key, last bit of the ML-DSA key flipped",
            )
        };
        c.verify(
            &format!("{n}: {what}"),
            n,
            &pk_flip,
            MSG,
            CTX,
            &sig,
            sig_inv,
        );
        if alg.is_post_quantum() && !alg.has_ed25519() {
            let pq_sig_len = alg.signature_len()
                - if alg.has_ed25519() {
                    ED25519_SIG_LEN
                } else {
                    0
                };
            let pq_start = sig.len() - pq_sig_len;
            for (fill, label) in [(0, "all zero"), (0xff, "all 0xff")] {
                let mut filled = sig.clone();
                filled[pq_start..].fill(fill);
                c.verify(
                    &format!("{n}: ML-DSA signature {label}"),
                    n,
                    &pk,
                    MSG,
                    CTX,
                    &filled,
                    sig_inv,
                );
            }
        }
    }

    // Hybrids: both halves are required, and each half is checked against the right message.
    for alg in [Algorithm::Ed25519MlDsa44, Algorithm::Ed25519MlDsa65] {
        let n = alg.name();
        let k = key(alg);
        let pk = k.public_key().as_bytes().to_vec();
        let a = sign(&k, MSG, CTX);
        let b = sign(&k, b"another message", CTX);
        let s = ED25519_SIG_LEN;
        c.verify(
            &format!("{n}: Ed25519 half from a signature over another message"),
            n,
            &pk,
            MSG,
            CTX,
            &[&b[..s], &a[s..]].concat(),
            sig_inv,
        );
        c.verify(
            &format!("{n}: ML-DSA half from a signature over another message"),
            n,
            &pk,
            MSG,
            CTX,
            &[&a[..s], &b[s..]].concat(),
            sig_inv,
        );
        c.verify(
            &format!("{n}: Ed25519 half broken (one bit)"),
            n,
            &pk,
            MSG,
            CTX,
            &flip(&a, 10),
            sig_inv,
        );
        c.verify(
            &format!("{n}: ML-DSA half broken (one bit)"),
            n,
            &pk,
            MSG,
            CTX,
            &flip(&a, s + 10),
            sig_inv,
        );
        let o = sign(&other_key(alg), MSG, CTX);
        c.verify(
            &format!("{n}: ML-DSA half by another key"),
            n,
            &pk,
            MSG,
            CTX,
            &[&a[..s], &o[s..]].concat(),
            sig_inv,
        );
        c.verify(
            &format!("{n}: Ed25519 half by another key"),
            n,
            &pk,
            MSG,
            CTX,
            &[&o[..s], &a[s..]].concat(),
            sig_inv,
        );
        c.verify(
            &format!("{n}: Ed25519 signature alone"),
            n,
            &pk,
            MSG,
            CTX,
            &a[..s],
            sig_inv,
        );
        let mut small = pk.clone();
        small[..ED25519_PK_LEN].fill(0);
        small[0] = 1;
        c.verify(
            &format!("{n}: Ed25519 part of the key has small order"),
            n,
            &small,
            MSG,
            CTX,
            &a,
            key_inv,
        );
        // Separability, by design: each half is a standalone signature of its own algorithm
        // (under keys whose ids differ from the hybrid's).
        let pq = if alg == Algorithm::Ed25519MlDsa44 {
            Algorithm::MlDsa44
        } else {
            Algorithm::MlDsa65
        };
        c.verify(
            &format!(
                "{n}: its Ed25519 half verifies alone as ed25519 under the Ed25519 part of the key"
            ),
            "ed25519",
            &pk[..ED25519_PK_LEN],
            MSG,
            b"",
            &a[..s],
            Ok(()),
        );
        c.verify(
            &format!(
                "{n}: its ML-DSA half verifies alone as {} under the ML-DSA part of the key",
                pq.name()
            ),
            pq.name(),
            &pk[ED25519_PK_LEN..],
            MSG,
            CTX,
            &a[s..],
            Ok(()),
        );
    }

    // Wrong algorithm labels.
    let m44 = key(Algorithm::MlDsa44);
    let m44_pk = m44.public_key().as_bytes().to_vec();
    let m44_sig = sign(&m44, MSG, CTX);
    c.verify(
        "ml-dsa-44 key and signature labelled ml-dsa-65",
        "ml-dsa-65",
        &m44_pk,
        MSG,
        CTX,
        &m44_sig,
        key_inv,
    );
    c.verify(
        "ml-dsa-44 key and signature labelled ed25519",
        "ed25519",
        &m44_pk,
        MSG,
        CTX,
        &m44_sig,
        key_inv,
    );
    c.verify(
        "unknown algorithm ml-dsa-87",
        "ml-dsa-87",
        &m44_pk,
        MSG,
        CTX,
        &m44_sig,
        Err("unsupported_algorithm"),
    );
    let ed = key(Algorithm::Ed25519);
    let ed_pk = ed.public_key().as_bytes().to_vec();
    let ed_sig = sign(&ed, MSG, b"");
    c.verify(
        "algorithm names are case sensitive (Ed25519)",
        "Ed25519",
        &ed_pk,
        MSG,
        b"",
        &ed_sig,
        Err("unsupported_algorithm"),
    );
    c.verify(
        "empty algorithm name",
        "",
        &ed_pk,
        MSG,
        b"",
        &ed_sig,
        Err("unsupported_algorithm"),
    );

    // Ed25519 strictness.
    let n = "ed25519";
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut trivial = [0u8; 64];
    trivial[0] = 1; // R = identity, S = 0: "valid" for the identity key under lax rules
    c.verify(
        "ed25519: small-order key (identity) with R = identity, S = 0",
        n,
        &identity,
        MSG,
        b"",
        &trivial,
        key_inv,
    );
    let order8: [u8; 32] =
        hex_decode_array("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
            .unwrap();
    c.verify(
        "ed25519: small-order key (order 8)",
        n,
        &order8,
        MSG,
        b"",
        &ed_sig,
        key_inv,
    );
    c.verify(
        "ed25519: all-zero key (order 4)",
        n,
        &[0; 32],
        MSG,
        b"",
        &ed_sig,
        key_inv,
    );
    c.verify(
        "ed25519: non-canonical key encoding (y = p + k, large order)",
        n,
        &non_canonical_ed25519_key(),
        MSG,
        b"",
        &ed_sig,
        key_inv,
    );
    let mut s_plus_l = ed_sig.clone();
    s_plus_l[32..].copy_from_slice(&plus_l(&ed_sig[32..]));
    c.verify(
        "ed25519: non-canonical S (S + L)",
        n,
        &ed_pk,
        MSG,
        b"",
        &s_plus_l,
        sig_inv,
    );
    let mut s_is_l = ed_sig.clone();
    s_is_l[32..].copy_from_slice(&L);
    c.verify("ed25519: S = L", n, &ed_pk, MSG, b"", &s_is_l, sig_inv);
    let mut small_r = ed_sig.clone();
    small_r[..32].copy_from_slice(&identity);
    c.verify(
        "ed25519: small-order R (identity)",
        n,
        &ed_pk,
        MSG,
        b"",
        &small_r,
        sig_inv,
    );
    let mut bad_r = ed_sig.clone();
    bad_r[..32].fill(0xff);
    bad_r[0] = 0xee;
    bad_r[31] = 0x7f;
    c.verify(
        "ed25519: non-canonical R (y = p + 1)",
        n,
        &ed_pk,
        MSG,
        b"",
        &bad_r,
        sig_inv,
    );
    // A signature made outside cairn: blux-reg's example token (docs: blux-reg reference).
    let blux_pk: [u8; 32] =
        hex_decode_array("73d2f927ebd1503886eaf698eddcaa773b17ad92bf648b5b6fe2e38d89640198")
            .unwrap();
    let blux_msg = br#"{"audience":"outer-void/blux-guard","capability":"publish","constraints":{"scope":"release"},"expires_at":"2036-01-18T15:00:00+00:00","issued_at":"2026-01-20T15:00:00+00:00","issuer":{"fingerprint":"da88a5104f8602e8c19542bf3d76924e83c312d3f3b4c6cc31a89685f07c91e6","key_name":"signer","public_key":"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAc9L5J+vRUDiG6vaY7dyqdzsXrZK/ZItbb+LjjYlkAZg=\n-----END PUBLIC KEY-----\n"},"schema_version":"1.0","token_type":"capability","ttl_seconds":315360000}"#;
    let blux_sig = b64_decode(
        "Ea7IeDz+pZ4MYXrvdMqDL89HCTIqmDBRHUdGJDOJCuiTgn6HE1kdWjat4fQIT+9iBd5I37UKs2aRWO4My7cIAQ==",
    )
    .unwrap();
    c.verify(
        "ed25519: blux-reg example token signature (made by OpenSSL)",
        n,
        &blux_pk,
        blux_msg,
        b"",
        &blux_sig,
        Ok(()),
    );

    // Key ids.
    for alg in NON_LEGACY {
        let pk = key(alg).public_key().clone();
        c.key_id(
            &format!("{}: key id", alg.name()),
            alg.name(),
            pk.as_bytes(),
            Ok(pk.key_id().to_hex()),
        );
    }
    for (legacy, like) in [
        (Algorithm::Dilithium2R3, Algorithm::MlDsa44),
        (Algorithm::Dilithium3R3, Algorithm::MlDsa65),
    ] {
        let bytes = key(like).public_key().as_bytes().to_vec();
        let id = PublicKey::from_bytes(legacy, &bytes)
            .unwrap()
            .key_id()
            .to_hex();
        c.key_id(
            &format!(
                "{}: key id (same key bytes as the {} case: the id differs)",
                legacy.name(),
                like.name()
            ),
            legacy.name(),
            &bytes,
            Ok(id),
        );
    }
    c.key_id(
        "ed25519: blux-reg example key",
        "ed25519",
        &blux_pk,
        Ok("1c6516226d7c747929ef9e0ed47b891fad6336c3e3c22f65ebad4a2bce3d13d9".into()),
    );
    c.key_id(
        "unknown algorithm",
        "rsa",
        &blux_pk,
        Err("unsupported_algorithm"),
    );
    c.key_id(
        "ed25519: key of 31 bytes",
        "ed25519",
        &blux_pk[..31],
        Err("invalid_key"),
    );
    c.key_id("ed25519: empty key", "ed25519", b"", Err("invalid_key"));
    c.key_id(
        "ed25519: small-order key",
        "ed25519",
        &identity,
        Err("invalid_key"),
    );
    c.key_id(
        "ed25519: non-canonical key encoding",
        "ed25519",
        &non_canonical_ed25519_key(),
        Err("invalid_key"),
    );
    c.key_id(
        "ml-dsa-65: ML-DSA-44 key (wrong length)",
        "ml-dsa-65",
        &m44_pk,
        Err("invalid_key"),
    );
    let mut hybrid_small = identity.to_vec();
    hybrid_small.extend_from_slice(&m44_pk);
    c.key_id(
        "ed25519+ml-dsa-44: small-order Ed25519 part",
        "ed25519+ml-dsa-44",
        &hybrid_small,
        Err("invalid_key"),
    );

    let doc = json!({
        "cases": c.0,
        "description": "Raw signature verification and key ids for every cairn algorithm. Keys: SigningKey::from_seed(alg, [alg id; 32]); 'another key' uses the seed [alg id ^ 0x80; 32]. Signatures: sign_deterministic (ML-DSA deterministic variant, rnd = 0). Binary values are standard base64. A hybrid signature is the Ed25519 signature followed by the ML-DSA signature over the same message; Ed25519 has no context. Round-3 Dilithium appears only in key_id cases (its verification is native-only).",
        "kind": "crypto",
        "ops": {
            "key_id": "args {algorithm (name), public_key}: parse the key (length and validity checks as for verification) and return key_id = lowercase hex SHA-256(algorithm id byte || public key)",
            "verify_signature": "args {algorithm (name), public_key, message, context, signature}: parse the key, then the signature (length), then verify; ok or the error code",
        },
        "version": 1,
    });
    vectors::render(&doc)
}

/// Runs one case the way a verifier binding would: by name, from base64 arguments.
fn run(case: &Value) -> cairn_core::Result<Value> {
    let a = &case["args"];
    let alg = Algorithm::parse(a["algorithm"].as_str().unwrap())?;
    match case["op"].as_str().unwrap() {
        "verify_signature" => crypto::verify_signature(
            alg,
            &b64(&a["public_key"]),
            &b64(&a["message"]),
            &b64(&a["context"]),
            &b64(&a["signature"]),
        )
        .map(|()| json!({})),
        "key_id" => PublicKey::from_bytes(alg, &b64(&a["public_key"]))
            .map(|pk| json!({"key_id": pk.key_id().to_hex()})),
        op => panic!("unknown op {op}"),
    }
}

#[test]
fn crypto_vectors() {
    let cases = vectors::committed("crypto", &generate());
    vectors::assert_distinct_names(&cases);
    vectors::check(&cases, run);
    // Every algorithm has valid and invalid cases for both ops (legacy: key_id only).
    for alg in Algorithm::ALL {
        let of = |op: &str, ok: bool| {
            cases.iter().any(|c| {
                c["op"] == op
                    && c["args"]["algorithm"] == alg.name()
                    && (c["expect"]["ok"] == true) == ok
            })
        };
        assert!(of("key_id", true), "{alg}");
        if !alg.is_legacy() {
            assert!(
                of("verify_signature", true) && of("verify_signature", false),
                "{alg}"
            );
            assert!(of("key_id", false) || alg != Algorithm::Ed25519, "{alg}");
        }
    }
}
