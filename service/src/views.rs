//! JSON shapes of stored objects, as the CLI's `--json` prints them (field for field).

use cairn_core::crypto::KeyId;
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{b64_encode, hex_encode};
use cairn_store::{
    KeyInfo, KeyStatus, ManifestInfo, NodeInfo, PrivatePart, Revocation, SignedEntry,
    StoredTrustRoot, TokenInfo,
};
use serde_json::{json, Value};

/// An envelope's DSSE JSON as a JSON value.
pub fn envelope(env: &Envelope) -> Value {
    serde_json::from_str(&env.to_json()).unwrap_or(Value::Null)
}

/// A revocation.
pub fn revocation(r: &Revocation) -> Value {
    json!({"reason": r.reason, "revoker": r.revoker.to_hex(), "seq": r.seq, "at": r.at})
}

/// A key (public parts only; `private` says how the private half is kept, never what it is).
pub fn key(k: &KeyInfo, log: Option<&KeyId>) -> Value {
    let (status, detail) = match &k.status {
        KeyStatus::Active => ("active", Value::Null),
        KeyStatus::Rotated { successor, seq, at } => (
            "rotated",
            json!({"successor": successor.to_hex(), "seq": seq, "at": at}),
        ),
        KeyStatus::Revoked {
            reason,
            revoker,
            seq,
            at,
        } => (
            "revoked",
            json!({"reason": reason, "revoker": revoker.to_hex(), "seq": seq, "at": at}),
        ),
    };
    let mut v = json!({
        "key_id": k.key_id.to_hex(),
        "algorithm": k.public_key.algorithm().name(),
        "label": k.label,
        "roles": k.roles.iter().map(|r| r.name()).collect::<Vec<_>>(),
        "expires_at": k.expires_at,
        "added_seq": k.added_seq,
        "added_at": k.added_at,
        "status": status,
        "private": match k.private {
            PrivatePart::None => "none",
            PrivatePart::Insecure => "insecure",
            PrivatePart::Sealed(_) => "sealed",
        },
        "public_key": b64_encode(k.public_key.as_bytes()),
        "log_key": log == Some(&k.key_id),
    });
    if !detail.is_null() {
        v[status] = detail;
    }
    v
}

/// A node.
pub fn node(n: &NodeInfo) -> Value {
    let spec: Value = serde_json::from_str(&n.spec.to_json()).unwrap_or(Value::Null);
    json!({"spec": spec, "seq": n.seq, "registered_at": n.registered_at, "digest": hex_encode(&n.spec.digest())})
}

/// A token, with its revocation status.
pub fn token(t: &TokenInfo) -> Value {
    json!({
        "id": hex_encode(&t.id),
        "seq": t.seq,
        "issued_at": t.issued_at,
        "revoked": t.revoked.as_ref().map(revocation),
        "claims": t.claims.to_json(),
        "envelope": envelope(&t.envelope),
    })
}

/// A manifest, with its revocation status.
pub fn manifest(m: &ManifestInfo) -> Value {
    json!({
        "digest": hex_encode(&m.digest),
        "claims": m.claims.to_json(),
        "signers": m.signers.iter().map(KeyId::to_hex).collect::<Vec<_>>(),
        "signed_seq": m.signed_seq,
        "last_seq": m.last_seq,
        "signed_at": m.signed_at,
        "revoked": m.revoked.as_ref().map(revocation),
        "envelope": envelope(&m.envelope),
    })
}

/// A ledger entry.
pub fn entry(e: &SignedEntry) -> Value {
    json!({
        "seq": e.entry.seq,
        "time": e.entry.time,
        "kind": e.entry.event.kind(),
        "hash": hex_encode(&e.hash()),
        "leaf_hash": hex_encode(&e.leaf_hash()),
        "prev_hash": hex_encode(&e.entry.prev_hash),
        "event": serde_json::to_value(&e.entry.event).unwrap_or(Value::Null),
        "signers": e.envelope.signatures.iter().map(|s| s.keyid.to_hex()).collect::<Vec<_>>(),
        "envelope": envelope(&e.envelope),
    })
}

/// A trust-root version.
pub fn trust_root(r: &StoredTrustRoot) -> Value {
    json!({
        "seq": r.seq,
        "id": hex_encode(&r.envelope.id()),
        "version": r.root.version,
        "origin": r.root.origin,
        "envelope": envelope(&r.envelope),
    })
}
