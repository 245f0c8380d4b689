//! Differential tests against independent implementations:
//!
//! - PQClean's ML-DSA (C, through `pqcrypto-mldsa`), always run: signatures cross-verify in
//!   both directions, with empty and non-empty FIPS 204 contexts;
//! - OpenSSL through Python's `cryptography` and the `openssl` command line, when present on
//!   the machine (each test prints why it skips otherwise): PEM keys and signatures cross over.

use std::io::Write;
use std::process::{Command, Stdio};

use cairn_core::crypto::{pem, Algorithm, PublicKey, Signature, SigningKey};
use cairn_core::encoding::{b64_decode, b64_encode};
use cairn_core::ErrorCode;
use pqcrypto_traits::sign::{DetachedSignature as _, PublicKey as _};

const CONTEXTS: [&[u8]; 3] = [
    b"",
    b"application/vnd.cairn.token.v1+postcard",
    &[0x5a; 255],
];
const MESSAGES: [&[u8]; 3] = [b"", b"cairn differential test", &[0xa5; 3000]];

macro_rules! pqclean_differential {
    ($name:ident, $alg:expr, $m:ident) => {
        #[test]
        fn $name() {
            use pqcrypto_mldsa::$m;
            let alg = $alg;
            // cairn signs, PQClean verifies.
            for (i, seed) in [[1u8; 32], [2u8; 32]].iter().enumerate() {
                let sk = SigningKey::from_seed(alg, seed);
                let pq_pk = $m::PublicKey::from_bytes(sk.public_key().as_bytes()).unwrap();
                for ctx in CONTEXTS {
                    for msg in MESSAGES {
                        for sig in [
                            sk.sign(msg, ctx).unwrap(),
                            sk.sign_deterministic(msg, ctx).unwrap(),
                        ] {
                            let s = $m::DetachedSignature::from_bytes(sig.as_bytes()).unwrap();
                            $m::verify_detached_signature_ctx(&s, msg, ctx, &pq_pk)
                                .unwrap_or_else(|_| panic!("key {i}, ctx {} bytes", ctx.len()));
                            // PQClean also refuses it under another context.
                            assert!(
                                $m::verify_detached_signature_ctx(&s, msg, b"x", &pq_pk).is_err()
                            );
                        }
                    }
                }
                // Empty context is PQClean's plain (context-free) API.
                let sig = sk.sign_deterministic(b"plain", b"").unwrap();
                let s = $m::DetachedSignature::from_bytes(sig.as_bytes()).unwrap();
                $m::verify_detached_signature(&s, b"plain", &pq_pk).unwrap();
            }
            // PQClean signs, cairn verifies.
            for _ in 0..2 {
                let (pq_pk, pq_sk) = $m::keypair();
                let pk = PublicKey::from_bytes(alg, pq_pk.as_bytes()).unwrap();
                for ctx in CONTEXTS {
                    for msg in MESSAGES {
                        let s = $m::detached_sign_ctx(msg, ctx, &pq_sk);
                        let sig = Signature::from_bytes(alg, s.as_bytes()).unwrap();
                        pk.verify(msg, ctx, &sig).unwrap();
                        let mut other_ctx = ctx.to_vec();
                        if other_ctx.is_empty() {
                            other_ctx.push(0);
                        } else {
                            other_ctx[0] ^= 1;
                        }
                        assert_eq!(
                            pk.verify(msg, &other_ctx, &sig).unwrap_err().code(),
                            ErrorCode::SignatureInvalid
                        );
                        let mut bad = sig.as_bytes().to_vec();
                        bad[7] ^= 0x10;
                        let bad = Signature::from_bytes(alg, &bad).unwrap();
                        assert!(pk.verify(msg, ctx, &bad).is_err());
                    }
                }
                let s = $m::detached_sign(b"plain", &pq_sk);
                let sig = Signature::from_bytes(alg, s.as_bytes()).unwrap();
                pk.verify(b"plain", b"", &sig).unwrap();
            }
        }
    };
}

pqclean_differential!(pqclean_mldsa44, Algorithm::MlDsa44, mldsa44);
pqclean_differential!(pqclean_mldsa65, Algorithm::MlDsa65, mldsa65);

/// Runs `python3` with `script`, feeding `input` on stdin; None when python3 or its
/// `cryptography` package (with ML-DSA, i.e. OpenSSL ≥ 3.5 underneath) is missing.
fn python(script: &str, input: &str) -> Option<String> {
    let probe = Command::new("python3")
        .args([
            "-c",
            "from cryptography.hazmat.primitives.asymmetric import mldsa, ed25519",
        ])
        .output()
        .ok()?;
    if !probe.status.success() {
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

const PY: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa
b = lambda s: base64.b64decode(s)
e = lambda x: base64.b64encode(x).decode()
req = json.load(sys.stdin)
out = []
for c in req:
    sk = ser.load_pem_private_key(c["private_pem"].encode(), None)
    pk = ser.load_pem_public_key(c["public_pem"].encode())
    raw = pk.public_bytes_raw()
    assert raw == sk.public_key().public_bytes_raw()
    msg, ctx = b(c["message"]), b(c["context"])
    if isinstance(pk, ed25519.Ed25519PublicKey):
        pk.verify(b(c["signature"]), msg)
        theirs = sk.sign(msg)
        fresh = ed25519.Ed25519PrivateKey.generate()
    else:
        pk.verify(b(c["signature"]), msg, ctx)
        theirs = sk.sign(msg, ctx)
        fresh = {1312: mldsa.MLDSA44PrivateKey, 1952: mldsa.MLDSA65PrivateKey}[len(raw)].generate()
    out.append({
        "public_raw": e(raw),
        "signature": e(theirs),
        "fresh_private_pem": fresh.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()).decode(),
        "fresh_public_pem": fresh.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo).decode(),
        "fresh_public_raw": e(fresh.public_key().public_bytes_raw()),
    })
print(json.dumps(out))
"#;

#[test]
fn python_cryptography_openssl() {
    let algs = [Algorithm::Ed25519, Algorithm::MlDsa44, Algorithm::MlDsa65];
    let msg = b"cross-implementation message";
    let ctx = b"application/vnd.cairn.manifest.v1+postcard";
    let keys: Vec<SigningKey> = algs
        .iter()
        .map(|&a| SigningKey::from_seed(a, &[0x33; 32]))
        .collect();
    let req: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| {
            serde_json::json!({
                "private_pem": pem::signing_key_to_pem(k).unwrap().as_str(),
                "public_pem": pem::public_key_to_pem(k.public_key()).unwrap(),
                "message": b64_encode(msg),
                "context": b64_encode(ctx),
                "signature": b64_encode(k.sign(msg, ctx).unwrap().as_bytes()),
            })
        })
        .collect();
    let Some(out) = python(PY, &serde_json::to_string(&req).unwrap()) else {
        eprintln!("skipped: python3 with cryptography (ML-DSA support) is not available");
        return;
    };
    let resp: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let field = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap().to_string();
    for ((alg, key), r) in algs.iter().zip(&keys).zip(&resp) {
        // OpenSSL read cairn's PEM keys to the same raw public key.
        assert_eq!(
            b64_decode(&field(r, "public_raw")).unwrap(),
            key.public_key().as_bytes()
        );
        // OpenSSL's signature verifies in cairn (Ed25519 without context).
        let sig =
            Signature::from_bytes(*alg, &b64_decode(&field(r, "signature")).unwrap()).unwrap();
        key.public_key().verify(msg, ctx, &sig).unwrap();
        // OpenSSL's freshly generated PEM keys load in cairn.
        let fresh = pem::signing_key_from_pem(&field(r, "fresh_private_pem")).unwrap();
        let fresh_pub = pem::public_key_from_pem(&field(r, "fresh_public_pem")).unwrap();
        assert_eq!(fresh.public_key(), &fresh_pub);
        assert_eq!(
            fresh_pub.as_bytes(),
            b64_decode(&field(r, "fresh_public_raw")).unwrap()
        );
        // And cairn re-exports them byte for byte.
        assert_eq!(
            pem::public_key_to_pem(&fresh_pub).unwrap(),
            field(r, "fresh_public_pem")
        );
        assert_eq!(
            pem::signing_key_to_pem(&fresh).unwrap().as_str(),
            field(r, "fresh_private_pem")
        );
    }
}

fn openssl(args: &[&str]) -> Option<std::process::Output> {
    Command::new("openssl").args(args).output().ok()
}

#[test]
fn openssl_cli_pem() {
    if openssl(&["version"]).is_none_or(|o| !o.status.success()) {
        eprintln!("skipped: no openssl command");
        return;
    }
    let dir = std::env::temp_dir().join(format!("cairn-crypto-openssl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let listed = openssl(&["list", "-signature-algorithms"]).unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).to_lowercase();
    let mut algs = vec![("ED25519", Algorithm::Ed25519)];
    if listed.contains("ml-dsa-44") {
        algs.push(("ML-DSA-44", Algorithm::MlDsa44));
        algs.push(("ML-DSA-65", Algorithm::MlDsa65));
    } else {
        eprintln!("openssl has no ML-DSA: only Ed25519 is cross-checked with the CLI");
    }
    for (name, alg) in algs {
        // openssl generates; cairn reads both files and agrees on the public key.
        let key = path(&format!("{name}.key"));
        let pubf = path(&format!("{name}.pub"));
        assert!(openssl(&["genpkey", "-algorithm", name, "-out", &key])
            .unwrap()
            .status
            .success());
        assert!(openssl(&["pkey", "-in", &key, "-pubout", "-out", &pubf])
            .unwrap()
            .status
            .success());
        let sk = pem::signing_key_from_pem(&std::fs::read_to_string(&key).unwrap()).unwrap();
        let pk = pem::public_key_from_pem(&std::fs::read_to_string(&pubf).unwrap()).unwrap();
        assert_eq!(sk.algorithm(), alg);
        assert_eq!(sk.public_key(), &pk);
        // cairn writes; openssl derives the same public key PEM.
        let ours = path(&format!("{name}.cairn.key"));
        let c = SigningKey::from_seed(alg, &[0x44; 32]);
        std::fs::write(&ours, pem::signing_key_to_pem(&c).unwrap().as_bytes()).unwrap();
        let out = openssl(&["pkey", "-in", &ours, "-pubout"]).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            pem::public_key_to_pem(c.public_key()).unwrap()
        );
        // openssl signs raw bytes (no context); cairn verifies.
        if alg == Algorithm::Ed25519 {
            let msgf = path("msg");
            let sigf = path("sig");
            std::fs::write(&msgf, b"signed by openssl").unwrap();
            let out = openssl(&[
                "pkeyutl", "-sign", "-rawin", "-inkey", &ours, "-in", &msgf, "-out", &sigf,
            ])
            .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let sig = Signature::from_bytes(alg, &std::fs::read(&sigf).unwrap()).unwrap();
            c.public_key()
                .verify(b"signed by openssl", b"", &sig)
                .unwrap();
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// OpenSSL's verdicts on every verify_signature vector (hybrids: both halves, each with
/// OpenSSL). The only allowed differences are where cairn is deliberately stricter.
const PY_VECTORS: &str = r#"
import json, base64, sys
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa
d=json.load(sys.stdin)
b=base64.b64decode
PK={"ml-dsa-44":mldsa.MLDSA44PublicKey,"ml-dsa-65":mldsa.MLDSA65PublicKey}
def v(alg,pk,msg,ctx,sig):
    try:
        if alg=="ed25519":
            ed25519.Ed25519PublicKey.from_public_bytes(pk).verify(sig,msg); return True
        if alg in PK:
            if len(ctx)>255: return False
            PK[alg].from_public_bytes(pk).verify(sig,msg,ctx); return True
        if alg.startswith("ed25519+ml-dsa-"):
            pq="ml-dsa-"+alg[-2:]
            return v("ed25519",pk[:32],msg,ctx,sig[:64]) and v(pq,pk[32:],msg,ctx,sig[64:])
        return None
    except Exception as e:
        return False
res=[]
for c in d["cases"]:
    if c["op"]!="verify_signature": continue
    a=c["args"]
    got=v(a["algorithm"],b(a["public_key"]),b(a["message"]),b(a["context"]),b(a["signature"]))
    exp=c["expect"].get("ok",False)
    if got is None: continue
    res.append(got==exp)
    if got!=exp: print("DISAGREE:", c["name"], "openssl:", got, "cairn:", c["expect"])
print(len(res), "compared,", res.count(False), "disagreements")
"#;

#[test]
fn vectors_agree_with_openssl() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/crypto.json");
    let Some(out) = python(PY_VECTORS, &std::fs::read_to_string(path).unwrap()) else {
        eprintln!("skipped: python3 with cryptography (ML-DSA support) is not available");
        return;
    };
    let expected_differences = [
        // Ed25519 has no context; cairn refuses an over-long one for every algorithm alike.
        "DISAGREE: ed25519: context of 256 bytes openssl: True cairn: {'error': 'domain_mismatch'}",
        // OpenSSL accepts the identity key with R = identity, S = 0 for any message.
        "DISAGREE: ed25519: small-order key (identity) with R = identity, S = 0 openssl: True cairn: {'error': 'invalid_key'}",
    ];
    let mut lines: Vec<&str> = out.lines().collect();
    let summary = lines.pop().unwrap();
    assert_eq!(lines, expected_differences, "{out}");
    let compared: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(compared >= 90, "{summary}");
}
