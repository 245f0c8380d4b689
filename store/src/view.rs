//! JSON views of the registry's records, defined once: what `cairn --json` prints and what
//! `cairn serve` answers for the same record. Each is cairn-core's view of the object
//! (`cairn_core::view`) where it has one, with what the registry keeps beside it (the ledger
//! entry that recorded it, when, its status).
//!
//! ```
//! use cairn_store::{view, CreateOptions, Protection, Registry};
//! let dir = tempfile::tempdir()?;
//! let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
//! let log = reg.log_key_id()?;
//! let v = view::key(&reg.key(&log)?, Some(&log));
//! assert_eq!(v["log_key"], true);
//! assert_eq!(v["status"], "active");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use cairn_core::crypto::KeyId;
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{b64_encode, hex_encode};
use cairn_core::trust::RoleSet;
use serde_json::{json, Value};

use crate::{
    KeyInfo, KeyStatus, ManifestInfo, NodeInfo, PeerIdentity, PeerInfo, PrivatePart, Revocation,
    SignedEntry, StoredCheckpoint, StoredTrustRoot, TokenInfo,
};

/// Role names, e.g. `["root", "checkpoint"]`.
pub fn roles(r: RoleSet) -> Vec<&'static str> {
    r.iter().map(|r| r.name()).collect()
}

/// An envelope's DSSE JSON as a JSON value (what `cairn ... --out` writes to a file).
pub fn envelope_json(env: &Envelope) -> Value {
    serde_json::from_str(&env.to_json()).unwrap_or(Value::Null)
}

/// How a key's private half is kept: `none`, `insecure` or `sealed` (never what it is).
pub fn private_name(p: PrivatePart) -> &'static str {
    match p {
        PrivatePart::None => "none",
        PrivatePart::Insecure => "insecure",
        PrivatePart::Sealed(_) => "sealed",
    }
}

/// A key's status: `active`, `rotated` or `revoked`.
pub fn status_name(s: &KeyStatus) -> &'static str {
    match s {
        KeyStatus::Active => "active",
        KeyStatus::Rotated { .. } => "rotated",
        KeyStatus::Revoked { .. } => "revoked",
    }
}

/// A revocation.
pub fn revocation(r: &Revocation) -> Value {
    json!({"reason": r.reason, "revoker": r.revoker.to_hex(), "seq": r.seq, "at": r.at})
}

/// A key.
pub fn key(k: &KeyInfo, log: Option<&KeyId>) -> Value {
    let mut v = json!({
        "key_id": k.key_id.to_hex(),
        "algorithm": k.public_key.algorithm().name(),
        "label": k.label,
        "roles": roles(k.roles),
        "expires_at": k.expires_at,
        "added_seq": k.added_seq,
        "added_at": k.added_at,
        "status": status_name(&k.status),
        "private": private_name(k.private),
        "public_key": b64_encode(k.public_key.as_bytes()),
        "log_key": log == Some(&k.key_id),
    });
    match &k.status {
        KeyStatus::Active => {}
        KeyStatus::Rotated { successor, seq, at } => {
            v["rotated"] = json!({"successor": successor.to_hex(), "seq": seq, "at": at});
        }
        KeyStatus::Revoked {
            reason,
            revoker,
            seq,
            at,
        } => {
            v["revoked"] =
                json!({"reason": reason, "revoker": revoker.to_hex(), "seq": seq, "at": at});
        }
    }
    v
}

/// A node.
pub fn node(n: &NodeInfo) -> Value {
    json!({"spec": n.spec.to_json_value(), "seq": n.seq, "registered_at": n.registered_at, "digest": hex_encode(&n.spec.digest())})
}

/// A token.
pub fn token(t: &TokenInfo) -> Value {
    json!({
        "id": hex_encode(&t.id),
        "seq": t.seq,
        "issued_at": t.issued_at,
        "revoked": t.revoked.as_ref().map(revocation),
        "claims": t.claims.to_json(),
        "envelope": envelope_json(&t.envelope),
    })
}

/// A manifest.
pub fn manifest(m: &ManifestInfo) -> Value {
    json!({
        "digest": hex_encode(&m.digest),
        "claims": m.claims.to_json(),
        "signers": m.signers.iter().map(KeyId::to_hex).collect::<Vec<_>>(),
        "signed_seq": m.signed_seq,
        "last_seq": m.last_seq,
        "signed_at": m.signed_at,
        "revoked": m.revoked.as_ref().map(revocation),
        "envelope": envelope_json(&m.envelope),
    })
}

/// A ledger entry: cairn-core's view of the entry, and who signed its envelope.
pub fn entry(e: &SignedEntry) -> Value {
    let mut v = cairn_core::view::ledger_entry(&e.entry);
    v["signers"] = json!(e
        .envelope
        .signatures
        .iter()
        .map(|s| s.keyid.to_hex())
        .collect::<Vec<_>>());
    v
}

/// A checkpoint: cairn-core's view of its note, and what the registry keeps beside it (the
/// signing key, when it was made, the note text).
pub fn checkpoint(c: &StoredCheckpoint) -> Value {
    let mut v = cairn_core::view::checkpoint_note(c.note.as_bytes()).unwrap_or_else(|e| {
        json!({"kind": "checkpoint", "size": c.size, "root": hex_encode(&c.root), "decode_error": cairn_core::view::error(&e)})
    });
    v["key_id"] = json!(c.key_id.to_hex());
    v["created_at"] = json!(c.created_at);
    v["note"] = json!(c.note);
    v
}

/// A trust-root version: cairn-core's view of the root, its ledger entry and its envelope.
pub fn trust_root(r: &StoredTrustRoot) -> Value {
    let mut v = cairn_core::view::trust_root(&r.root);
    v["seq"] = json!(r.seq);
    v["envelope"] = envelope_json(&r.envelope);
    v
}

/// This registry's own peer identity: `{"peer_id", "key_id", "kem_key"` (base64),
/// `"kem_key_sha256", "stored_seq"}` (the `peer_key_stored` entry a key-transparency proof of
/// its responses points at).
pub fn peer_identity(me: &PeerIdentity) -> Value {
    json!({
        "peer_id": me.peer_id,
        "key_id": me.key_id.to_hex(),
        "kem_key": b64_encode(me.kem_key.as_bytes()),
        "kem_key_sha256": hex_encode(&me.kem_key.digest()),
        "stored_seq": me.stored_seq,
    })
}

/// A stored peer: its key, how it was vouched for (`verified`: the rule, its ledger entry and
/// time; null while unverified) and a changed key waiting for an operator (`proposed_key_id`,
/// and its `proposed_algorithm`, which an operator weighs before accepting it).
pub fn peer(p: &PeerInfo) -> Value {
    json!({
        "peer_id": p.peer_id,
        "key_id": p.key_id().to_hex(),
        "algorithm": p.signing_key.algorithm().name(),
        "legacy": p.is_legacy(),
        "kem_key_sha256": hex_encode(&p.kem_key.digest()),
        "stored_seq": p.stored_seq,
        "stored_at": p.stored_at,
        "verified": p.verified.map(|v| json!({"rule": v.rule.name(), "seq": v.seq, "at": v.at})),
        "proposed_key_id": p.proposed.as_ref().map(|x| x.signing_key.key_id().to_hex()),
        "proposed_algorithm": p.proposed.as_ref().map(|x| x.signing_key.algorithm().name()),
    })
}

/// Where an object stands in the revocation map under the signed head, with the proof
/// (`cairn proof revocation`, `GET /api/v1/proofs/revocation`): `kind`, `id`, `revoked`, `seq`
/// (the revoking entry, or null), `proof` (base64, docs/FORMATS.md section 17),
/// `revocations` (`count`, `root` in hex: what the note's `cairn.revocations` line states),
/// `tree_size` and `checkpoint` (the signed head's note, to verify first).
pub fn revocation_status(s: &crate::RevocationStatus) -> Value {
    json!({
        "kind": s.kind.name(),
        "id": hex_encode(&s.id),
        "revoked": s.revoked_by.is_some(),
        "seq": s.revoked_by,
        "proof": b64_encode(&s.proof.to_bytes()),
        "revocations": {"count": s.revocations.count, "root": hex_encode(&s.revocations.root)},
        "tree_size": s.head.size,
        "checkpoint": s.note,
    })
}
