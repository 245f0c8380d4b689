//! Test vectors for blux-reg interop: tests/vectors/blux.json.
//!
//! `CAIRN_REGEN_VECTORS=1 cargo test -p cairn-core --test blux_vectors` rewrites the file
//! from the fixtures and fixed seeds; the normal run checks every case's verdict and that
//! the committed file is exactly what the generator produces now.

mod blux_support;
mod support;

use blux_support::*;
use cairn_core::blux::{
    canonical_json, parse_json, verify_ledger, verify_manifest, verify_token, verify_token_against,
    Revocations, TokenPolicy, Value,
};
use cairn_core::crypto::{pem, Algorithm, SigningKey};
use cairn_core::encoding::{hex_decode_array, hex_encode, sha256};
use serde_json::{json, Value as J};
use support::blux::{signature_of, REFERENCE_LEDGER_LINE, REFERENCE_TOKEN};
use support::vectors::{self, outcome};

/// Runs one case: its result fields, or the verifier's error.
fn run(op: &str, args: &J) -> cairn_core::Result<J> {
    let text = |k: &str| args[k].as_str().unwrap_or_else(|| panic!("arg {k}"));
    match op {
        "blux_verify_token" => {
            let policy = match &args["trusted_issuers"] {
                J::Null => TokenPolicy::any_issuer(),
                J::Array(fps) => TokenPolicy::trusted_fingerprints(
                    fps.iter()
                        .map(|f| hex_decode_array::<32>(f.as_str().unwrap()).unwrap()),
                ),
                other => panic!("trusted_issuers {other}"),
            };
            let now = args["now"].as_u64().unwrap();
            let verdict = verify_token(text("token"), now, args["revocations"].as_str(), &policy);
            // The revocations file read once for many tokens gives every verdict alike.
            if let Some(Ok(read)) = args["revocations"].as_str().map(Revocations::parse) {
                let against = verify_token_against(text("token"), now, Some(&read), &policy);
                assert_eq!(
                    against.as_ref().map(|v| v.token_hash),
                    verdict.as_ref().map(|v| v.token_hash),
                    "{args}"
                );
            }
            verdict.map(|v| {
                let mut out = json!({
                    "token_hash": v.token_hash_hex(),
                    "expires_at": v.expires_at,
                    "issuer_fingerprint": v.issuer_fingerprint_hex(),
                });
                if let Some(c) = v.capability.as_str() {
                    out["capability"] = json!(c);
                }
                if let Some(a) = v.audience.as_str() {
                    out["audience"] = json!(a);
                }
                out
            })
        }
        "blux_verify_manifest" => {
            let keys: Vec<_> = args["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| pem::public_key_from_pem(k.as_str().unwrap()).unwrap())
                .collect();
            let digest = hex_decode_array::<32>(text("artifact_sha256")).unwrap();
            verify_manifest(text("manifest"), &digest, &keys).map(|v| {
                json!({
                    "manifest_hash": hex_encode(&v.manifest_hash),
                    "key_fingerprint": hex_encode(&v.key_fingerprint),
                    "artifact_path": v.artifact_path,
                })
            })
        }
        "blux_verify_ledger" => verify_ledger(text("ledger"))
            .map(|s| json!({"entries": s.entries, "head": s.head_hex()})),
        "canonical_json" => parse_json(text("json")).map(|v| {
            let c = canonical_json(&v);
            json!({"canonical": c, "sha256": hex_sha256(c.as_bytes())})
        }),
        other => panic!("unknown op {other}"),
    }
}

struct Cases(Vec<J>);

impl Cases {
    /// Adds a case after checking the verifier gives the intended verdict.
    fn add(&mut self, name: &str, op: &str, args: J, want: Result<(), &str>) {
        let expect = outcome(&run(op, &args));
        match want {
            Ok(()) => assert_eq!(expect["ok"], json!(true), "{name}: {expect}"),
            Err(code) => assert_eq!(expect["error"], json!(code), "{name}"),
        }
        self.0
            .push(json!({"name": name, "op": op, "args": args, "expect": expect}));
    }

    fn token(
        &mut self,
        name: &str,
        token: &str,
        now: u64,
        revocations: Option<&str>,
        want: Result<(), &str>,
    ) {
        self.token_trusting(name, token, now, revocations, None, want);
    }

    fn token_trusting(
        &mut self,
        name: &str,
        token: &str,
        now: u64,
        revocations: Option<&str>,
        trusted: Option<Vec<&str>>,
        want: Result<(), &str>,
    ) {
        let args = json!({"token": token, "now": now, "revocations": revocations, "trusted_issuers": trusted});
        self.add(name, "blux_verify_token", args, want);
    }

    fn manifest(
        &mut self,
        name: &str,
        manifest: &str,
        digest: &[u8; 32],
        keys: &[&str],
        want: Result<(), &str>,
    ) {
        let args =
            json!({"manifest": manifest, "artifact_sha256": hex_encode(digest), "keys": keys});
        self.add(name, "blux_verify_manifest", args, want);
    }

    fn ledger(&mut self, name: &str, ledger: &str, want: Result<(), &str>) {
        self.add(name, "blux_verify_ledger", json!({"ledger": ledger}), want);
    }

    fn canonical(&mut self, name: &str, text: &str, want: Result<(), &str>) {
        self.add(name, "canonical_json", json!({"json": text}), want);
    }
}

fn generate() -> J {
    let exp = expected();
    let mut c = Cases(Vec::new());
    let revocations = fixture("token_revocations.jsonl");
    let signer_fp = exp["signer_fingerprint"].as_str().unwrap().to_string();
    let other_fp = exp["other_fingerprint"].as_str().unwrap().to_string();
    let at = |name: &str, field: &str| unix(exp["tokens"][name][field].as_str().unwrap());

    // ---- tokens written by blux-reg
    let basic = fixture("token_basic.json");
    let issued = at("token_basic.json", "issued_at");
    let expires = at("token_basic.json", "expires_at");
    c.token(
        "token: blux-reg token, at issue",
        &basic,
        issued,
        Some(&revocations),
        Ok(()),
    );
    c.token(
        "token: valid at its expires_at second",
        &basic,
        expires,
        Some(&revocations),
        Ok(()),
    );
    c.token(
        "token: expired one second after expires_at",
        &basic,
        expires + 1,
        Some(&revocations),
        Err("expired"),
    );
    for name in ["token_unicode.json", "token_floats.json"] {
        c.token(
            &format!("token: {name} (non-ASCII, astral, floats, big integers)"),
            &fixture(name),
            at(name, "issued_at"),
            Some(&revocations),
            Ok(()),
        );
    }
    let revoked = fixture("token_revoked.json");
    let rnow = at("token_revoked.json", "issued_at");
    c.token(
        "token: revoked",
        &revoked,
        rnow,
        Some(&revocations),
        Err("revoked"),
    );
    c.token(
        "token: same token, no revocations file",
        &revoked,
        rnow,
        None,
        Ok(()),
    );
    let messy = format!(
        "\r\n  \n{}\r\n\n",
        revocations.trim_end().replace(
            exp["tokens"]["token_revoked.json"]["token_hash"]
                .as_str()
                .unwrap(),
            &exp["tokens"]["token_revoked.json"]["token_hash"]
                .as_str()
                .unwrap()
                .to_uppercase(),
        )
    );
    c.token(
        "token: revoked (blank lines, CRLF, upper-case hash)",
        &revoked,
        rnow,
        Some(&messy),
        Err("revoked"),
    );
    c.token(
        "token: expiry is checked before revocation",
        &revoked,
        at("token_revoked.json", "expires_at") + 1,
        Some(&revocations),
        Err("expired"),
    );
    c.token(
        "token: re-encoded signature of the revoked token (blux-reg: verified)",
        &fixture("token_reencoded.json"),
        rnow,
        Some(&revocations),
        Err("signature_invalid"),
    );
    c.token(
        "token: issuer.fingerprint names another key (blux-reg: verified)",
        &fixture("token_wrong_fingerprint.json"),
        issued,
        None,
        Err("key_mismatch"),
    );
    c.token_trusting(
        "token: trusted issuer",
        &basic,
        issued,
        None,
        Some(vec![&other_fp, &signer_fp]),
        Ok(()),
    );
    c.token_trusting(
        "token: untrusted issuer",
        &basic,
        issued,
        None,
        Some(vec![&other_fp]),
        Err("unknown_key"),
    );
    c.token_trusting(
        "token: empty trust set",
        &basic,
        issued,
        None,
        Some(vec![]),
        Err("unknown_key"),
    );
    c.token(
        "token: tampered capability",
        &basic.replace("\"publish\"", "\"admin\""),
        issued,
        None,
        Err("signature_invalid"),
    );
    c.token(
        "token: added field",
        &edit_json(&basic, |o| o.insert("admin", Value::Bool(true))),
        issued,
        None,
        Err("signature_invalid"),
    );
    let sig = signature_of(&basic);
    let mut flipped = sig.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    c.token(
        "token: signature with a flipped bit",
        &basic.replace(&sig, std::str::from_utf8(&flipped).unwrap()),
        issued,
        None,
        Err("signature_invalid"),
    );
    c.token(
        "token: signature without padding",
        &basic.replace(&sig, sig.trim_end_matches('=')),
        issued,
        None,
        Err("signature_invalid"),
    );
    c.token(
        "token: signature with a line break",
        &basic.replace(&sig, &format!("{}\\n{}", &sig[..44], &sig[44..])),
        issued,
        None,
        Err("signature_invalid"),
    );
    c.token(
        "token: truncated",
        &basic[..basic.len() / 2],
        issued,
        None,
        Err("malformed"),
    );
    c.token(
        "token: not an object",
        "[1, 2]",
        issued,
        None,
        Err("malformed"),
    );
    c.token(
        "token: missing audience",
        &edit_json(&basic, |o| drop(o.remove("audience"))),
        issued,
        None,
        Err("malformed"),
    );
    c.token(
        "token: wrong token_type",
        &edit_json(&basic, |o| {
            o.insert("token_type", Value::from("delegation"))
        }),
        issued,
        None,
        Err("malformed"),
    );
    c.token(
        "token: schema_version 2.0",
        &edit_json(&basic, |o| o.insert("schema_version", Value::from("2.0"))),
        issued,
        None,
        Err("unsupported_version"),
    );
    c.token(
        "token: empty issuer public key",
        &edit_json(&basic, |o| {
            set_issuer_field(o, "public_key", Value::from(""))
        }),
        issued,
        None,
        Err("malformed"),
    );
    c.token(
        "token: corrupt revocations line",
        &basic,
        issued,
        Some("{\"token_hash\": \n"),
        Err("malformed"),
    );

    // ---- the worked example of blux-reg's format notes
    c.token(
        "token: reference worked example",
        REFERENCE_TOKEN,
        unix("2026-01-20T15:00:00+00:00"),
        None,
        Ok(()),
    );

    // ---- tokens built here the way blux-reg builds them, from fixed seeds
    let sk = key("blux vectors: offsets");
    for (label, expires_at) in [
        ("+05:00 offset", "2030-01-01T05:00:00+05:00"),
        ("Z suffix", "2030-01-01T00:00:00Z"),
        ("-05:00 offset", "2029-12-31T19:00:00-05:00"),
    ] {
        let t = make_token(
            &sk,
            "2026-01-01T00:00:00+00:00",
            expires_at,
            126_230_400,
            "publish",
            obj(&[]),
        );
        c.token(
            &format!("token: expires_at with {label}, at expiry"),
            &t,
            1_893_456_000,
            None,
            Ok(()),
        );
        c.token(
            &format!("token: expires_at with {label}, one second later"),
            &t,
            1_893_456_001,
            None,
            Err("expired"),
        );
    }
    let naive = make_token(
        &sk,
        "2026-01-01T00:00:00+00:00",
        "2030-01-01T00:00:00",
        1,
        "publish",
        obj(&[]),
    );
    c.token(
        "token: expires_at without an offset",
        &naive,
        0,
        None,
        Err("malformed"),
    );
    let mldsa = SigningKey::from_seed(Algorithm::MlDsa44, &sha256(&[b"blux vectors: ml-dsa"]));
    let t = make_token(
        &mldsa,
        "2026-01-01T00:00:00+00:00",
        "2030-01-01T00:00:00+00:00",
        1,
        "publish",
        obj(&[]),
    );
    c.token(
        "token: ML-DSA issuer key",
        &t,
        0,
        None,
        Err("unsupported_algorithm"),
    );

    // ---- manifests
    let signer_pem = fixture("signer.pub.pem");
    let other_pem = fixture("other.pub.pem");
    let m1 = fixture("artifact.txt.blux-manifest.json");
    let d1 = sha256(&[&fixture_bytes("artifact.txt")]);
    let m2 = fixture("artifact2.bin.blux-manifest.json");
    let d2 = sha256(&[&fixture_bytes("artifact2.bin")]);
    c.manifest(
        "manifest: blux-reg manifest",
        &m1,
        &d1,
        &[&signer_pem],
        Ok(()),
    );
    c.manifest(
        "manifest: non-ASCII artifact name, binary CRLF content",
        &m2,
        &d2,
        &[&other_pem, &signer_pem],
        Ok(()),
    );
    c.manifest(
        "manifest: other artifact",
        &m1,
        &d2,
        &[&signer_pem],
        Err("digest_mismatch"),
    );
    c.manifest(
        "manifest: no trusted key",
        &m1,
        &d1,
        &[],
        Err("unknown_key"),
    );
    c.manifest(
        "manifest: only another key",
        &m1,
        &d1,
        &[&other_pem],
        Err("unknown_key"),
    );
    c.manifest(
        "manifest: tampered artifact_path",
        &m1.replace("\"artifact.txt\"", "\"artifact.exe\""),
        &d1,
        &[&signer_pem],
        Err("signature_invalid"),
    );
    let msig = signature_of(&m1);
    c.manifest(
        "manifest: re-encoded signature",
        &m1.replace(&msig, &reencode_signature(&msig)),
        &d1,
        &[&signer_pem],
        Err("signature_invalid"),
    );
    c.manifest(
        "manifest: schema_version 2.0",
        &edit_json(&m1, |o| o.insert("schema_version", Value::from("2.0"))),
        &d1,
        &[&signer_pem],
        Err("unsupported_version"),
    );
    c.manifest(
        "manifest: truncated",
        &m1[..m1.len() - 5],
        &d1,
        &[&signer_pem],
        Err("malformed"),
    );
    c.manifest(
        "manifest: missing key_fingerprint",
        &edit_json(&m1, |o| drop(o.remove("key_fingerprint"))),
        &d1,
        &[&signer_pem],
        Err("malformed"),
    );

    // ---- ledgers
    let ledger = fixture("ledger.jsonl");
    let lines: Vec<&str> = ledger.lines().collect();
    let join = |ls: &[&str]| ls.iter().map(|l| format!("{l}\n")).collect::<String>();
    c.ledger("ledger: blux-reg ledger", &ledger, Ok(()));
    c.ledger(
        "ledger: CRLF line endings",
        &ledger.replace('\n', "\r\n"),
        Ok(()),
    );
    c.ledger(
        "ledger: blank and whitespace-only lines",
        &format!("\n{}\n \t\n", ledger.replace('\n', "\n\n")),
        Ok(()),
    );
    c.ledger("ledger: empty", "", Ok(()));
    c.ledger(
        "ledger: reference first entry",
        &format!("{REFERENCE_LEDGER_LINE}\n"),
        Ok(()),
    );
    c.ledger(
        "ledger: truncated last line",
        &ledger[..ledger.len() - 20],
        Err("malformed"),
    );
    c.ledger(
        "ledger: non-object line",
        &format!("{}[]\n", join(&lines[..2])),
        Err("malformed"),
    );
    let tampered = lines[3].replace("capability:d", "capability:D");
    let mut t = lines.clone();
    t[3] = &tampered;
    c.ledger(
        "ledger: tampered payload_summary",
        &join(&t),
        Err("chain_broken"),
    );
    let mut dropped = lines.clone();
    dropped.remove(4);
    c.ledger(
        "ledger: dropped middle entry",
        &join(&dropped),
        Err("chain_broken"),
    );
    c.ledger(
        "ledger: first entry names a predecessor",
        &join(&lines[1..]),
        Err("chain_broken"),
    );
    let unchained = entry_line(&obj(&[
        ("action", s("event")),
        ("actor", s("mallory")),
        ("artifact_hash", Value::Null),
        ("manifest_hash", Value::Null),
        ("payload_summary", s("forged")),
        ("prev_hash", Value::Null),
        ("ts", s("2026-01-20T15:00:00+00:00")),
    ]));
    c.ledger(
        "ledger: appended unchained entry",
        &format!("{ledger}{unchained}\n"),
        Err("chain_broken"),
    );
    let head = exp["ledger"]["head"].as_str().unwrap();
    let chained = entry_line(&obj(&[
        ("action", s("event")),
        ("actor", s("mallory")),
        ("artifact_hash", Value::Null),
        ("manifest_hash", Value::Null),
        ("payload_summary", s("forged but chained")),
        ("prev_hash", s(head)),
        ("ts", s("2026-01-20T15:00:00+00:00")),
    ]));
    c.ledger(
        "ledger: appended chained forgery verifies (nothing anchors the head)",
        &format!("{ledger}{chained}\n"),
        Ok(()),
    );

    // ---- canonical JSON
    c.canonical(
        "canonical: worked mini example",
        r#"{"b": [1, -2, true, null], "a": {"z": "café ☕", "é": "🚀"}}"#,
        Ok(()),
    );
    c.canonical(
        "canonical: key order is code point order",
        r#"{"😀": 1, "ｚ": 2, "é": 3, "Z": 4, "a": 5}"#,
        Ok(()),
    );
    c.canonical(
        "canonical: duplicate keys, last wins",
        r#"{"a": 1, "b": 2, "a": 3}"#,
        Ok(()),
    );
    c.canonical(
        "canonical: floats",
        "[1e20, 1e16, 1e15, 1E-7, 0.0001, 0.00001, 5e-324, 1.7976931348623157e308, -0.0, 1.0, 1E2, 0.1, -1267860061485775.25]",
        Ok(()),
    );
    c.canonical(
        "canonical: NaN and infinities",
        "[NaN, Infinity, -Infinity, 1e400]",
        Ok(()),
    );
    c.canonical(
        "canonical: exact integers",
        "[9007199254740993, 18446744073709551616, -0, 123456789012345678901234567890]",
        Ok(()),
    );
    c.canonical(
        "canonical: escapes",
        r#"["\u0000\u001f\u007f\u0080 / \\ \" \b \f \n \r \t", "e\u0301", "\ud800", "\udbff\udfff"]"#,
        Ok(()),
    );
    c.canonical(
        "canonical: raw UTF-8 and DEL",
        "[\"\u{7f}é\u{2028}🚀\"]",
        Ok(()),
    );
    c.canonical("canonical: trailing comma", "[1, 2,]", Err("malformed"));
    c.canonical("canonical: single quotes", "{'a': 1}", Err("malformed"));
    c.canonical(
        "canonical: raw control character",
        "[\"a\tb\"]",
        Err("malformed"),
    );
    c.canonical("canonical: leading zero", "[01]", Err("malformed"));
    c.canonical("canonical: bad escape", r#"["\x41"]"#, Err("malformed"));
    c.canonical("canonical: extra data", "{} {}", Err("malformed"));
    c.canonical(
        "canonical: nesting deeper than 128",
        &("[".repeat(129) + &"]".repeat(129)),
        Err("too_large"),
    );

    json!({
        "kind": "blux",
        "version": 1,
        "description": "blux-reg v1.0 interop: capability tokens, artifact manifests, ledger files and \
            blux-reg's canonical JSON (Python json.dumps(sort_keys=True, separators=(\",\", \":\"))). \
            Files are text exactly as blux-reg 0.2.0 writes them; hashes and fingerprints are lowercase hex. \
            Where blux-reg answers wrongly (re-encoded signatures, fingerprint mismatches) the expected \
            verdict is the correct one.",
        "ops": {
            "blux_verify_token": "token: token file text; now: Unix seconds; revocations: text of token_revocations.jsonl or null; trusted_issuers: array of issuer fingerprints (hex) or null for any embedded key. Result: token_hash, expires_at, issuer_fingerprint, capability and audience (when strings).",
            "blux_verify_manifest": "manifest: manifest file text; artifact_sha256: hex SHA-256 of the artifact bytes; keys: trusted public keys as SPKI PEM. Result: manifest_hash, key_fingerprint, artifact_path.",
            "blux_verify_ledger": "ledger: text of ledger.jsonl. Result: entries (count), head (last entry_hash, or null when empty).",
            "canonical_json": "json: a JSON text as Python's json.loads reads it. Result: canonical (the canonical JSON text) and sha256 (hex of its bytes).",
        },
        "cases": c.0,
    })
}

#[test]
fn vectors() {
    let cases = vectors::committed("blux", &vectors::render(&generate()));
    vectors::assert_distinct_names(&cases);
    vectors::assert_both_verdicts(
        &cases,
        &[
            "blux_verify_token",
            "blux_verify_manifest",
            "blux_verify_ledger",
            "canonical_json",
        ],
    );
    vectors::check(&cases, |case| {
        run(case["op"].as_str().unwrap(), &case["args"])
    });
}
