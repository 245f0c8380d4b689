//! Shared helpers for the blux-reg interop tests: fixture access, and building files the
//! way blux-reg writes them (for cases its own run did not produce).
#![allow(dead_code)]

use cairn_core::blux::{canonical_json, fingerprint, parse_json, Int, Object, Value};
use cairn_core::crypto::{pem, Algorithm, SigningKey};
use cairn_core::encoding::{b64_encode, hex_encode, sha256};

pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/blux/");

/// The text of a fixture file.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The bytes of a fixture file.
pub fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// expected.json, parsed.
pub fn expected() -> serde_json::Value {
    serde_json::from_str(&fixture("expected.json")).unwrap()
}

/// Parses an ISO timestamp to Unix seconds (test inputs are whole seconds).
pub fn unix(ts: &str) -> u64 {
    let us = cairn_core::blux::parse_iso8601_micros(ts).unwrap();
    u64::try_from(us / 1_000_000).unwrap()
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    hex_encode(&sha256(&[bytes]))
}

/// `json.dumps(value, indent=2, sort_keys=True)` + "\n", blux-reg's `write_json`.
pub fn python_pretty(v: &Value) -> String {
    let mut out = String::new();
    pretty(v, 0, &mut out);
    out.push('\n');
    out
}

fn pretty(v: &Value, level: usize, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    match v {
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(level + 1));
                pretty(item, level + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(level));
            out.push(']');
        }
        Value::Object(obj) if !obj.is_empty() => {
            out.push_str("{\n");
            for (i, (k, item)) in obj.iter().enumerate() {
                out.push_str(&pad(level + 1));
                out.push_str(&canonical_json(&Value::Str(k.clone())));
                out.push_str(": ");
                pretty(item, level + 1, out);
                out.push_str(if i + 1 < obj.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(level));
            out.push('}');
        }
        other => out.push_str(&canonical_json(other)),
    }
}

pub fn s(text: &str) -> Value {
    Value::from(text)
}

pub fn int(v: i64) -> Value {
    Value::Int(Int::from(v))
}

pub fn obj(pairs: &[(&str, Value)]) -> Value {
    let mut o = Object::new();
    for (k, v) in pairs {
        o.insert(*k, v.clone());
    }
    Value::Object(o)
}

/// A deterministic Ed25519 key from a label.
pub fn key(label: &str) -> SigningKey {
    SigningKey::from_seed(Algorithm::Ed25519, &sha256(&[label.as_bytes()]))
}

/// Signs `payload` (an object) the blux-reg way and returns the token with `signature`.
pub fn sign_object(sk: &SigningKey, payload: &Value) -> Value {
    let sig = sk
        .sign_deterministic(canonical_json(payload).as_bytes(), b"")
        .unwrap();
    let mut o = payload.as_object().unwrap().clone();
    o.insert(
        "signature",
        Value::from(b64_encode(sig.as_bytes()).as_str()),
    );
    Value::Object(o)
}

/// The issuer block blux-reg writes for `sk` (key name "signer").
pub fn issuer(sk: &SigningKey) -> Value {
    let pk = sk.public_key();
    let pem_text = pem::public_key_to_pem(pk).unwrap();
    obj(&[
        ("fingerprint", s(&hex_encode(&fingerprint(pk)))),
        ("key_name", s("signer")),
        ("public_key", s(&pem_text)),
    ])
}

/// A capability token as blux-reg issues it, with explicit timestamps.
pub fn make_token(
    sk: &SigningKey,
    issued_at: &str,
    expires_at: &str,
    ttl: i64,
    capability: &str,
    constraints: Value,
) -> String {
    let payload = obj(&[
        ("audience", s("outer-void/blux-guard")),
        ("capability", s(capability)),
        ("constraints", constraints),
        ("expires_at", s(expires_at)),
        ("issued_at", s(issued_at)),
        ("issuer", issuer(sk)),
        ("schema_version", s("1.0")),
        ("token_type", s("capability")),
        ("ttl_seconds", int(ttl)),
    ]);
    python_pretty(&sign_object(sk, &payload))
}

/// Re-serialises a JSON text after `edit` changes its parsed value (no re-signing).
pub fn edit_json(text: &str, edit: impl FnOnce(&mut Object)) -> String {
    let Value::Object(mut o) = parse_json(text).unwrap() else {
        panic!("not an object")
    };
    edit(&mut o);
    python_pretty(&Value::Object(o))
}

/// Sets a field inside the `issuer` object.
pub fn set_issuer_field(o: &mut Object, name: &str, v: Value) {
    let Some(Value::Object(mut iss)) = o.get("issuer").cloned() else {
        panic!("no issuer")
    };
    iss.insert(name, v);
    o.insert("issuer", Value::Object(iss));
}

/// Re-encodes a canonical base64 signature with the unused low bits of its last data
/// character set: Python's lenient b64decode reads the same 64 bytes.
pub fn reencode_signature(sig: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let data = sig.trim_end_matches('=');
    let last = data.as_bytes()[data.len() - 1];
    let idx = ALPHABET.iter().position(|c| *c == last).unwrap();
    let bumped = ALPHABET[idx | 0b11] as char;
    format!(
        "{}{}{}",
        &data[..data.len() - 1],
        bumped,
        &sig[data.len()..]
    )
}

/// Builds a ledger the way blux-reg appends entries.
pub struct LedgerBuilder {
    pub text: String,
    pub prev: Option<String>,
}

impl LedgerBuilder {
    pub fn new() -> Self {
        LedgerBuilder {
            text: String::new(),
            prev: None,
        }
    }

    /// Appends an entry with blux-reg's fields; returns the line written.
    pub fn append(&mut self, ts: &str, action: &str, actor: &str, summary: &str) -> String {
        let prev = match &self.prev {
            Some(p) => s(p),
            None => Value::Null,
        };
        let entry = obj(&[
            ("action", s(action)),
            ("actor", s(actor)),
            ("artifact_hash", Value::Null),
            ("manifest_hash", Value::Null),
            ("payload_summary", s(summary)),
            ("prev_hash", prev),
            ("ts", s(ts)),
        ]);
        let line = entry_line(&entry);
        let v = parse_json(&line).unwrap();
        self.prev = Some(v.get("entry_hash").unwrap().as_str().unwrap().to_string());
        self.text.push_str(&line);
        self.text.push('\n');
        line
    }
}

/// The canonical line of `entry` with its `entry_hash` added.
pub fn entry_line(entry: &Value) -> String {
    let hash = hex_sha256(canonical_json(entry).as_bytes());
    let mut o = entry.as_object().unwrap().clone();
    o.insert("entry_hash", s(&hash));
    canonical_json(&Value::Object(o))
}
