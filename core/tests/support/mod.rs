//! Helpers shared by the integration tests: the harness behind every tests/vectors/<kind>.json
//! file, keys in the JSON form the vector files use, byte mutations for property tests, and a
//! few constants and reference texts more than one test file needs.
//!
//! Every file in core/tests is a crate of its own and takes this module in with `mod support;`;
//! each uses only a part of it, hence the module-wide `dead_code` allowance.
#![allow(dead_code)]

use cairn_core::ErrorCode;

/// The code of a result that must be an error (panics on `Ok`, showing the value).
pub fn code<T: std::fmt::Debug>(r: cairn_core::Result<T>) -> ErrorCode {
    r.unwrap_err().code()
}

/// docs/FORMATS.md with all whitespace removed, so that tests can look for the hex and base64
/// of worked examples however the document wraps them.
pub fn format_doc_without_whitespace() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/FORMATS.md");
    std::fs::read_to_string(path)
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The harness for tests/vectors/<kind>.json.
///
/// A vector test builds the file's text with its generator and hands it to [`committed`], which
/// first rewrites the file when `CAIRN_REGEN_VECTORS=1` and then insists the committed file is
/// exactly that text; then it runs every case through the verifier with [`check`]:
///
/// ```text
/// let cases = vectors::committed("merkle", &generate());
/// vectors::check(&cases, run); // run: fn(&Value) -> Result<Value, cairn_core::Error>
/// ```
///
/// A case's `expect` is `{"ok": true, ...result fields}` or `{"error": "<code>"}`, and a
/// verdict must match it exactly: no missing, extra or different field.
pub mod vectors {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use cairn_core::encoding::b64_decode;
    use cairn_core::Error;
    use serde::Serialize;
    use serde_json::{json, Value};

    /// Set to `1`, the vector tests rewrite their files from the generators.
    pub const REGEN_VAR: &str = "CAIRN_REGEN_VECTORS";

    /// Set (to anything), [`check`] prints the detail of every error a case produced.
    pub const SHOW_ERRORS_VAR: &str = "CAIRN_SHOW_ERRORS";

    /// tests/vectors/<kind>.json at the repository root.
    pub fn path(kind: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/vectors")
            .join(format!("{kind}.json"))
    }

    /// A vector document's text as the files hold it: pretty-printed JSON and a final newline.
    pub fn render<T: Serialize + ?Sized>(doc: &T) -> String {
        serde_json::to_string_pretty(doc).expect("a vector document serializes") + "\n"
    }

    /// A case with its fields in the order the files list them (a `json!` map would sort them).
    #[derive(Serialize)]
    pub struct Case {
        pub name: String,
        pub op: String,
        pub args: Value,
        pub expect: Value,
    }

    /// A vector document with its fields in the order the files list them.
    #[derive(Serialize)]
    pub struct Doc {
        pub kind: &'static str,
        pub version: u32,
        pub description: &'static str,
        pub ops: Value,
        pub cases: Vec<Case>,
    }

    /// The cases of tests/vectors/<kind>.json, once the file is known to be exactly `generated`
    /// (the generator's output now), so that a change of format cannot slip through unnoticed.
    ///
    /// With `CAIRN_REGEN_VECTORS=1` the file is first rewritten with `generated`. Also checked:
    /// the document's kind, version 1 and description; that every case has a name, an op listed
    /// under `ops`, an args object and a well-formed `expect`; and that no op has two cases of
    /// the same name.
    pub fn committed(kind: &str, generated: &str) -> Vec<Value> {
        let path = path(kind);
        if std::env::var(REGEN_VAR).as_deref() == Ok("1") {
            std::fs::create_dir_all(path.parent().expect("the path has a parent")).unwrap();
            std::fs::write(&path, generated).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("tests/vectors/{kind}.json: {e} ({REGEN_VAR}=1 writes it)");
        });
        if let Some(diff) = first_difference(&text, generated) {
            panic!(
                "tests/vectors/{kind}.json differs from what the generator produces now: a format \
                 changed? Regenerate with {REGEN_VAR}=1 only if the change is intended, and review \
                 the diff.\n{diff}"
            );
        }
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["kind"], kind, "{kind}.json: kind");
        assert_eq!(doc["version"], 1, "{kind}.json: version");
        assert!(
            doc["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{kind}.json: description"
        );
        let ops = doc["ops"]
            .as_object()
            .unwrap_or_else(|| panic!("{kind}.json: ops is not an object"));
        let mut seen = BTreeSet::new();
        for case in doc["cases"].as_array().expect("cases is an array") {
            let name = case["name"].as_str().expect("a case has a name");
            let op = case["op"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no op"));
            assert!(ops.contains_key(op), "{name}: op {op} is not listed in ops");
            assert!(case["args"].is_object(), "{name}: args is not an object");
            assert_expect_shape(name, &case["expect"]);
            assert!(seen.insert((op, name)), "{op} has two cases named {name}");
        }
        match doc["cases"].take() {
            Value::Array(cases) => cases,
            _ => unreachable!("checked above"),
        }
    }

    /// Runs every case and asserts its verdict is exactly its `expect` (see [`outcome`]).
    ///
    /// `run` gets the whole case (`name`, `op`, `args`) and returns the op's result fields, or
    /// the verifier's error. Set `CAIRN_SHOW_ERRORS` to print every error's detail.
    pub fn check(cases: &[Value], mut run: impl FnMut(&Value) -> Result<Value, Error>) {
        for case in cases {
            let name = case["name"].as_str().unwrap_or_default();
            let result = run(case);
            let got = outcome(&result);
            match &result {
                Ok(_) => assert_eq!(got, case["expect"], "case {name}"),
                Err(e) => {
                    if std::env::var(SHOW_ERRORS_VAR).is_ok() {
                        eprintln!("{name}: {e}");
                    }
                    assert_eq!(got, case["expect"], "case {name}: {e}");
                }
            }
        }
    }

    /// The `expect` object a result calls for: `{"ok": true, ...fields}` for `Ok(fields)`
    /// (fields may already hold `"ok": true`), `{"error": "<code>"}` for an error.
    pub fn outcome(result: &Result<Value, Error>) -> Value {
        match result {
            Ok(Value::Object(fields)) => {
                let mut expect = fields.clone();
                match expect.insert("ok".into(), Value::Bool(true)) {
                    None | Some(Value::Bool(true)) => Value::Object(expect),
                    Some(other) => panic!("a result says ok: {other}"),
                }
            }
            Ok(other) => panic!("a result must be a JSON object, not {other}"),
            Err(e) => json!({"error": e.code().as_str()}),
        }
    }

    /// Asserts no two cases share a name, whatever their op.
    pub fn assert_distinct_names(cases: &[Value]) {
        let mut names = BTreeSet::new();
        for case in cases {
            let name = case["name"].as_str().expect("a case has a name");
            assert!(names.insert(name), "duplicate case name {name}");
        }
    }

    /// Asserts each of `ops` has at least one valid and one invalid case.
    pub fn assert_both_verdicts(cases: &[Value], ops: &[&str]) {
        for op in ops {
            let of = |op: &str, valid: bool| {
                cases
                    .iter()
                    .any(|c| c["op"] == op && (c["expect"]["ok"] == true) == valid)
            };
            assert!(of(op, true), "{op}: no valid case");
            assert!(of(op, false), "{op}: no invalid case");
        }
    }

    /// Decodes a base64 string argument (panics on anything else: the file is broken).
    pub fn b64(v: &Value) -> Vec<u8> {
        b64_decode(v.as_str().expect("a base64 string")).expect("base64")
    }

    fn assert_expect_shape(name: &str, expect: &Value) {
        let fields = expect
            .as_object()
            .unwrap_or_else(|| panic!("{name}: expect is not an object"));
        let valid = fields.get("ok") == Some(&Value::Bool(true));
        let invalid = fields.len() == 1 && fields.get("error").is_some_and(Value::is_string);
        assert!(
            valid != invalid,
            "{name}: expect must be {{ok: true, ...}} or {{error: code}}, not {expect}"
        );
    }

    /// Where two texts first differ, as a line number with both lines (None when equal).
    fn first_difference(committed: &str, generated: &str) -> Option<String> {
        if committed == generated {
            return None;
        }
        let (mut c, mut g) = (committed.lines(), generated.lines());
        for n in 1.. {
            match (c.next(), g.next()) {
                (Some(a), Some(b)) if a == b => {}
                (None, None) => break,
                (a, b) => {
                    let show =
                        |l: Option<&str>| l.map_or("(end of text)".into(), |l| format!("{l:?}"));
                    return Some(format!(
                        "first difference at line {n}:\n  committed: {}\n  generated: {}",
                        show(a),
                        show(b)
                    ));
                }
            }
        }
        Some("the texts differ only in line endings or a final newline".into())
    }
}

/// Public keys in the JSON form the vector files use: `{algorithm, public_key}`.
pub mod keys {
    use cairn_core::crypto::{Algorithm, PublicKey};
    use cairn_core::encoding::{b64_decode, b64_encode};
    use serde_json::{json, Value};

    /// `{"algorithm": name, "public_key": standard base64 of the raw key}`.
    pub fn key_json(pk: &PublicKey) -> Value {
        json!({"algorithm": pk.algorithm().name(), "public_key": b64_encode(pk.as_bytes())})
    }

    /// Reads [`key_json`]'s form the way a verifier binding does: the algorithm name first,
    /// then the base64, then the key, each failure the verifier's error. A missing field is a
    /// broken file and panics.
    pub fn parse_key(v: &Value) -> cairn_core::Result<PublicKey> {
        PublicKey::from_bytes(
            Algorithm::parse(v["algorithm"].as_str().expect("algorithm is a string"))?,
            &b64_decode(v["public_key"].as_str().expect("public_key is a string"))?,
        )
    }

    /// Reads an array of keys in [`key_json`]'s form; the first bad key's error is the result.
    pub fn parse_keys(v: &Value) -> cairn_core::Result<Vec<PublicKey>> {
        v.as_array()
            .expect("an array of keys")
            .iter()
            .map(parse_key)
            .collect()
    }
}

/// Byte-level mutations of valid encodings, for property tests of parsers and verifiers.
pub mod mutate {
    use proptest::prelude::*;

    /// One edit; positions are reduced modulo the length when applied.
    #[derive(Debug, Clone)]
    pub enum Mutation {
        /// Flips bit `.1` (0..8) of the byte at `.0`.
        Flip(usize, u8),
        /// Keeps only the first `.0` bytes (always shortens).
        Truncate(usize),
        /// Inserts byte `.1` before position `.0` (or at the end).
        Insert(usize, u8),
        /// Removes the byte at `.0`.
        Remove(usize),
    }

    /// Any [`Mutation`].
    pub fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
            any::<usize>().prop_map(Mutation::Truncate),
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
            any::<usize>().prop_map(Mutation::Remove),
        ]
    }

    /// Every single-character edit of `text` at `positions` (each at most `text.len()`): each
    /// of `chars` inserted before the position and put in place of the character there, and
    /// that character removed; `f` sees each edited text.
    pub fn char_edits(text: &[char], positions: &[usize], chars: &[char], mut f: impl FnMut(&str)) {
        let edited = |t: Vec<char>| t.into_iter().collect::<String>();
        for &i in positions {
            for &c in chars {
                let mut t = text.to_vec();
                t.insert(i, c);
                f(&edited(t));
                if i < text.len() {
                    let mut t = text.to_vec();
                    t[i] = c;
                    f(&edited(t));
                }
            }
            if i < text.len() {
                let mut t = text.to_vec();
                t.remove(i);
                f(&edited(t));
            }
        }
    }

    /// `text` with each `(position, piece, replace)` applied in turn: the piece put in place
    /// of the character at the position (an ASCII text's byte) when `replace` and there is
    /// one, inserted before it otherwise.
    pub fn str_edits(mut text: String, edits: Vec<(prop::sample::Index, &str, bool)>) -> String {
        for (at, piece, replace) in edits {
            let i = at.index(text.len() + 1);
            if replace && i < text.len() {
                text.replace_range(i..i + 1, piece);
            } else {
                text.insert_str(i, piece);
            }
        }
        text
    }

    /// `bytes` with `m` applied; `bytes` must not be empty.
    pub fn apply(bytes: &[u8], m: &Mutation) -> Vec<u8> {
        let mut b = bytes.to_vec();
        match *m {
            Mutation::Flip(i, bit) => {
                let i = i % b.len();
                b[i] ^= 1 << bit;
            }
            Mutation::Truncate(n) => b.truncate(n % b.len()),
            Mutation::Insert(i, v) => b.insert(i % (b.len() + 1), v),
            Mutation::Remove(i) => {
                b.remove(i % b.len());
            }
        }
        b
    }
}

/// Constants and computations the crypto tests share.
pub mod crypto {
    use cairn_core::crypto::Algorithm;

    /// Every algorithm cairn signs and verifies natively (all but round-3 Dilithium).
    pub const NON_LEGACY: [Algorithm; 5] = [
        Algorithm::Ed25519,
        Algorithm::MlDsa44,
        Algorithm::MlDsa65,
        Algorithm::Ed25519MlDsa44,
        Algorithm::Ed25519MlDsa65,
    ];

    /// Ed25519's group order L, little endian.
    pub const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    /// `s + L` modulo 2^256 (little endian): the same Ed25519 scalar, non-canonically encoded.
    pub fn plus_l(s: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = s[i] as u16 + L[i] as u16 + carry;
            out[i] = sum as u8;
            carry = sum >> 8;
        }
        out
    }

    /// The FIPS 204 expanded private key of an ML-DSA-44 or -65 seed, computed by fips204
    /// directly (not through cairn).
    pub fn mldsa_expanded_secret(alg: Algorithm, seed: &[u8; 32]) -> Vec<u8> {
        use fips204::traits::{KeyGen, SerDes};
        match alg {
            Algorithm::MlDsa44 => fips204::ml_dsa_44::KG::keygen_from_seed(seed)
                .1
                .into_bytes()
                .to_vec(),
            Algorithm::MlDsa65 => fips204::ml_dsa_65::KG::keygen_from_seed(seed)
                .1
                .into_bytes()
                .to_vec(),
            other => panic!("{other} is not ML-DSA"),
        }
    }
}

/// The worked examples of blux-reg's format notes, which both the fixture tests and the
/// vector generator use.
pub mod blux {
    /// The reference capability token (signed by the `signer` fixture key), byte for byte.
    pub const REFERENCE_TOKEN: &str = r#"{
  "audience": "outer-void/blux-guard",
  "capability": "publish",
  "constraints": {
    "scope": "release"
  },
  "expires_at": "2036-01-18T15:00:00+00:00",
  "issued_at": "2026-01-20T15:00:00+00:00",
  "issuer": {
    "fingerprint": "da88a5104f8602e8c19542bf3d76924e83c312d3f3b4c6cc31a89685f07c91e6",
    "key_name": "signer",
    "public_key": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAc9L5J+vRUDiG6vaY7dyqdzsXrZK/ZItbb+LjjYlkAZg=\n-----END PUBLIC KEY-----\n"
  },
  "schema_version": "1.0",
  "signature": "Ea7IeDz+pZ4MYXrvdMqDL89HCTIqmDBRHUdGJDOJCuiTgn6HE1kdWjat4fQIT+9iBd5I37UKs2aRWO4My7cIAQ==",
  "token_type": "capability",
  "ttl_seconds": 315360000
}
"#;

    /// The `signature` field of a blux-reg token or manifest text.
    pub fn signature_of(text: &str) -> String {
        let doc = cairn_core::blux::parse_json(text).expect("a JSON object");
        let sig = doc.get("signature").expect("a signature field");
        sig.as_str().expect("a string signature").to_string()
    }

    /// The reference ledger entry: one line of ledger.jsonl, without its newline.
    pub const REFERENCE_LEDGER_LINE: &str = r#"{"action":"keygen","actor":"da88a5104f8602e8c19542bf3d76924e83c312d3f3b4c6cc31a89685f07c91e6","artifact_hash":null,"entry_hash":"8c2d5b64cbef8f0ee699e63935f11be29e1d2147142f44351d8e57408a1d669e","manifest_hash":null,"payload_summary":"key:signer","prev_hash":null,"ts":"2026-01-20T14:00:00+00:00"}"#;
}
