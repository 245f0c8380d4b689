//! JSON views of cairn-core objects: what JavaScript receives.
//!
//! Conventions: member names are camelCase; digests and key ids are lowercase hex; other
//! binary data is standard base64; times are Unix seconds; sizes are numbers (exact below
//! 2^53). Views never include more than the object holds, so they are bounded by its limits.

use cairn_core::crypto::{KeyId, PublicKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{b64_encode, hex_encode};
use serde_json::{json, Value};

/// Algorithms whose signature has this length (several share one, e.g. ML-DSA-44 and
/// round-3 Dilithium2): a hint for display, never a verification input.
pub fn algorithms_for_signature_len(len: usize) -> Vec<&'static str> {
    cairn_core::crypto::Algorithm::ALL
        .iter()
        .filter(|a| a.signature_len() == len)
        .map(|a| a.name())
        .collect()
}

/// A public key: algorithm, key id, size.
pub fn key(pk: &PublicKey) -> Value {
    json!({
        "algorithm": pk.algorithm().name(),
        "keyId": pk.key_id().to_hex(),
        "size": pk.as_bytes().len(),
    })
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
                "keyId": s.keyid.to_hex(),
                "size": s.sig.len(),
                "algorithms": algorithms_for_signature_len(s.sig.len()),
            })
        })
        .collect();
    json!({
        "kind": "envelope",
        "id": hex_encode(&env.id()),
        "payloadType": env.payload_type,
        "payloadSize": env.payload.len(),
        "payload": b64_encode(&env.payload),
        "signatures": sigs,
    })
}
