//! JSON views of cairn-core objects: what JavaScript receives.
//!
//! Conventions (shared with cairn-core's `to_json` views and the CLI): member names are
//! snake_case; digests and key ids are lowercase hex; other binary data is standard base64;
//! times are Unix seconds; sizes are numbers (exact below 2^53). Views never hold more than the
//! object does, so they are bounded by its limits.

use cairn_core::blux;
use cairn_core::bundle::Bundle;
use cairn_core::checkpoint::Checkpoint;
use cairn_core::crypto::{Algorithm, KeyId};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{b64_encode, hex_encode, Digest};
use cairn_core::ledger::{LedgerEntry, LEDGER_ENTRY_TYPE};
use cairn_core::manifest::{manifest_digest, ManifestClaims, MANIFEST_PAYLOAD_TYPE};
use cairn_core::note::Note;
use cairn_core::token::{TokenClaims, TOKEN_PAYLOAD_TYPE};
use cairn_core::trust::{root_id, Role, TrustRoot, TRUST_ROOT_TYPE};
use cairn_core::{Error, Result};
use serde_json::{json, Value};

/// Algorithms whose signature has this length (several share one, e.g. ML-DSA-44 and
/// round-3 Dilithium2): a hint for display, never a verification input.
pub fn algorithms_for_signature_len(len: usize) -> Vec<&'static str> {
    Algorithm::ALL
        .iter()
        .filter(|a| a.signature_len() == len)
        .map(|a| a.name())
        .collect()
}

/// A list of key ids.
pub fn key_ids(ids: &[KeyId]) -> Value {
    Value::Array(ids.iter().map(|k| Value::String(k.to_hex())).collect())
}

/// An envelope, undecoded: type, payload (base64), id and who signed.
pub fn envelope(env: &Envelope) -> Value {
    let sigs: Vec<Value> = env
        .signatures
        .iter()
        .map(|s| {
            json!({
                "key_id": s.keyid.to_hex(),
                "size": s.sig.len(),
                "algorithms": algorithms_for_signature_len(s.sig.len()),
            })
        })
        .collect();
    json!({
        "kind": "envelope",
        "id": hex_encode(&env.id()),
        "payload_type": env.payload_type,
        "payload_size": env.payload.len(),
        "payload": b64_encode(&env.payload),
        "signatures": sigs,
    })
}

fn error_view(e: &Error) -> Value {
    json!({"code": e.code().as_str(), "message": e.detail()})
}

/// An envelope with its payload decoded when the payload type is a cairn object:
/// `object` names it (`token`, `manifest`, `trust_root`, `ledger_entry`, or null), `decoded`
/// holds its view, `decode_error` what went wrong (signatures are not checked).
pub fn envelope_decoded(env: &Envelope) -> Value {
    let mut v = envelope(env);
    let p = &env.payload;
    let (object, decoded): (Option<&str>, Result<Value>) = match env.payload_type.as_str() {
        TOKEN_PAYLOAD_TYPE => (
            Some("token"),
            TokenClaims::from_payload(p).map(|c| c.to_json()),
        ),
        MANIFEST_PAYLOAD_TYPE => (
            Some("manifest"),
            ManifestClaims::from_payload(p).map(|c| {
                let mut c = c.to_json();
                c["manifest_digest"] = Value::String(hex_encode(&manifest_digest(env)));
                c
            }),
        ),
        TRUST_ROOT_TYPE => (
            Some("trust_root"),
            TrustRoot::from_bytes(p).map(|r| trust_root(&r, &root_id(p))),
        ),
        LEDGER_ENTRY_TYPE => (
            Some("ledger_entry"),
            LedgerEntry::from_bytes(p).map(|e| ledger_entry(&e)),
        ),
        _ => (None, Ok(Value::Null)),
    };
    v["object"] = object.map_or(Value::Null, |o| Value::String(o.into()));
    match decoded {
        Ok(d) => v["decoded"] = d,
        Err(e) => {
            v["decoded"] = Value::Null;
            v["decode_error"] = error_view(&e);
        }
    }
    v
}

/// A trust root version: keys with roles and windows, thresholds, validity.
pub fn trust_root(root: &TrustRoot, id: &Digest) -> Value {
    let keys: Vec<Value> = root
        .keys
        .iter()
        .map(|k| {
            json!({
                "key_id": k.key_id().to_hex(),
                "algorithm": k.public_key.algorithm().name(),
                "public_key": b64_encode(k.public_key.as_bytes()),
                "label": k.label,
                "roles": k.roles.iter().map(Role::name).collect::<Vec<_>>(),
                "not_before": k.not_before,
                "not_after": k.not_after,
            })
        })
        .collect();
    let t = &root.thresholds;
    json!({
        "version": root.root_version,
        "root_id": hex_encode(id),
        "origin": root.origin,
        "issued_at": root.issued_at,
        "expires_at": root.expires_at,
        "previous": root.previous.as_ref().map(|p| hex_encode(p)),
        "keys": keys,
        "thresholds": Role::ALL.iter().map(|r| (r.name().into(), Value::from(t.get(*r)))).collect::<serde_json::Map<String, Value>>(),
    })
}

/// A ledger entry: position, time, chain link, event.
pub fn ledger_entry(e: &LedgerEntry) -> Value {
    json!({
        "seq": e.seq,
        "time": e.time,
        "kind": e.event.kind(),
        "entry_hash": hex_encode(&e.hash()),
        "prev_hash": hex_encode(&e.prev_hash),
        "event": serde_json::to_value(&e.event).unwrap_or(Value::Null),
    })
}

/// A checkpoint note, parsed but not verified: origin, size, root, signature lines.
pub fn checkpoint_note(bytes: &[u8]) -> Result<Value> {
    let note = Note::parse(bytes)?;
    let cp = Checkpoint::parse_text(note.text())?;
    Ok(checkpoint_view(&note, &cp))
}

fn checkpoint_view(note: &Note, cp: &Checkpoint) -> Value {
    let sigs: Vec<Value> = note
        .signatures()
        .iter()
        .map(|s| json!({"name": s.name, "key_hash": format!("{:08x}", s.key_hash), "size": s.signature.len()}))
        .collect();
    json!({
        "kind": "checkpoint",
        "origin": cp.origin,
        "size": cp.size,
        "root": hex_encode(&cp.root),
        "extensions": cp.extensions,
        "signatures": sigs,
    })
}

/// A bundle, decoded but not verified.
pub fn bundle(b: &Bundle) -> Value {
    let checkpoint = Note::parse(b.checkpoint.as_bytes())
        .and_then(|n| Checkpoint::parse_text(n.text()).map(|c| checkpoint_view(&n, &c)))
        .map(|mut v| {
            v["note"] = Value::String(b.checkpoint.clone());
            v
        });
    let trust_chain: Vec<Value> = b
        .trust_chain
        .iter()
        .map(|e| match TrustRoot::from_bytes(&e.payload) {
            Ok(r) => {
                json!({"version": r.root_version, "root_id": hex_encode(&root_id(&e.payload))})
            }
            Err(err) => json!({"decode_error": error_view(&err)}),
        })
        .collect();
    json!({
        "kind": "bundle",
        "version": b.version,
        "subject": envelope_decoded(&b.subject),
        "parents": b.parents.iter().map(|p| hex_encode(&p.id())).collect::<Vec<_>>(),
        "entry": LedgerEntry::from_bytes(&b.entry).map(|e| ledger_entry(&e)).unwrap_or_else(|e| json!({"decode_error": error_view(&e)})),
        "inclusion": {"leaf_index": b.inclusion.leaf_index, "tree_size": b.inclusion.tree_size, "hashes": b.inclusion.hashes.len()},
        "checkpoint": checkpoint.unwrap_or_else(|e| json!({"decode_error": error_view(&e)})),
        "trust_chain": trust_chain,
        "root_id": hex_encode(&b.root_id),
    })
}

/// A blux-reg JSON value as plain JSON (its canonical text re-read); values plain JSON cannot
/// hold (NaN, infinities) stay as their canonical text.
pub fn blux_value(v: &blux::Value) -> Value {
    let text = blux::canonical_json(v);
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}
