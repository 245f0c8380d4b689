//! JSON and text views of stored objects (what `--json` prints, and the lines people read).

use cairn_core::crypto::{KeyId, PublicKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{b64_encode, hex_encode};
use cairn_core::note::{NoteVerifier, SignatureType};
use cairn_core::trust::RoleSet;
use cairn_core::view;
use cairn_store::{
    KeyInfo, KeyStatus, ManifestInfo, NodeInfo, PrivatePart, Revocation, SignedEntry,
    StoredCheckpoint, StoredTrustRoot, TokenInfo,
};
use serde_json::{json, Value};

use super::secrets::short;
use super::util::fmt_time;

/// Role names.
pub fn roles(r: RoleSet) -> Vec<&'static str> {
    r.iter().map(|r| r.name()).collect()
}

/// An envelope's DSSE JSON as a JSON value.
pub fn envelope_json(env: &Envelope) -> Value {
    serde_json::from_str(&env.to_json()).unwrap_or(Value::Null)
}

fn private_name(p: PrivatePart) -> &'static str {
    match p {
        PrivatePart::None => "none",
        PrivatePart::Insecure => "insecure",
        PrivatePart::Sealed(_) => "sealed",
    }
}

fn status_name(s: &KeyStatus) -> &'static str {
    match s {
        KeyStatus::Active => "active",
        KeyStatus::Rotated { .. } => "rotated",
        KeyStatus::Revoked { .. } => "revoked",
    }
}

/// A revocation.
pub fn revocation_json(r: &Revocation) -> Value {
    json!({"reason": r.reason, "revoker": r.revoker.to_hex(), "seq": r.seq, "at": r.at})
}

/// A key.
pub fn key_json(k: &KeyInfo, log: Option<&KeyId>) -> Value {
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

/// One line per key.
pub fn key_line(k: &KeyInfo, log: Option<&KeyId>) -> String {
    let mut s = format!(
        "{}  {:<18} {:<8} {:<9} {:<20} {}",
        short(&k.key_id.to_hex()),
        k.public_key.algorithm().name(),
        status_name(&k.status),
        private_name(k.private),
        k.label,
        roles(k.roles).join(",")
    );
    if log == Some(&k.key_id) {
        s.push_str("  (log key)");
    }
    if let Some(t) = k.expires_at {
        s.push_str(&format!("  expires {}", fmt_time(t)));
    }
    s
}

/// A key, in detail.
pub fn key_text(k: &KeyInfo, log: Option<&KeyId>) -> String {
    let mut s = format!(
        "key       {}\nalgorithm {}\nlabel     {}\nroles     {}\nstatus    {}\nprivate   {}\nadded     entry {} at {}",
        k.key_id,
        k.public_key.algorithm(),
        k.label,
        roles(k.roles).join(", "),
        status_name(&k.status),
        private_name(k.private),
        k.added_seq,
        fmt_time(k.added_at)
    );
    if let Some(t) = k.expires_at {
        s.push_str(&format!("\nexpires   {}", fmt_time(t)));
    }
    match &k.status {
        KeyStatus::Active => {}
        KeyStatus::Rotated { successor, seq, .. } => {
            s.push_str(&format!("\nrotated   to {successor} (entry {seq})"));
        }
        KeyStatus::Revoked {
            reason,
            revoker,
            seq,
            ..
        } => {
            s.push_str(&format!("\nrevoked   by {revoker} (entry {seq}): {reason}"));
        }
    }
    if log == Some(&k.key_id) {
        s.push_str("\nthis is the log key: it signs every entry and checkpoint");
    }
    if k.private == PrivatePart::Insecure {
        s.push_str(
            "\nWARNING: the private key is stored WITHOUT passphrase protection (insecure mode)",
        );
    }
    s
}

/// A node.
pub fn node_json(n: &NodeInfo) -> Value {
    let spec: Value = serde_json::from_str(&n.spec.to_json()).unwrap_or(Value::Null);
    json!({"spec": spec, "seq": n.seq, "registered_at": n.registered_at, "digest": hex_encode(&n.spec.digest())})
}

/// One line per node.
pub fn node_line(n: &NodeInfo) -> String {
    format!(
        "{:<24} {:<10} {}  caps [{}]  signals [{}]",
        n.spec.id,
        n.spec.version,
        n.spec.name,
        n.spec.capabilities.join(", "),
        n.spec.signals.join(", ")
    )
}

/// A token.
pub fn token_json(t: &TokenInfo) -> Value {
    json!({
        "id": hex_encode(&t.id),
        "seq": t.seq,
        "issued_at": t.issued_at,
        "revoked": t.revoked.as_ref().map(revocation_json),
        "claims": t.claims.to_json(),
        "envelope": envelope_json(&t.envelope),
    })
}

/// One line per token.
pub fn token_line(t: &TokenInfo) -> String {
    let c = &t.claims;
    format!(
        "{}  {:<20} [{}]  holder {}  expires {}{}{}",
        short(&hex_encode(&t.id)),
        c.audience,
        c.capabilities
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        short(&c.holder.key_id().to_hex()),
        fmt_time(c.expires_at),
        if c.parent.is_some() {
            "  delegated"
        } else {
            ""
        },
        if t.revoked.is_some() { "  REVOKED" } else { "" }
    )
}

/// A manifest.
pub fn manifest_json(m: &ManifestInfo) -> Value {
    json!({
        "digest": hex_encode(&m.digest),
        "claims": m.claims.to_json(),
        "signers": m.signers.iter().map(KeyId::to_hex).collect::<Vec<_>>(),
        "signed_seq": m.signed_seq,
        "last_seq": m.last_seq,
        "signed_at": m.signed_at,
        "revoked": m.revoked.as_ref().map(revocation_json),
        "envelope": envelope_json(&m.envelope),
    })
}

/// A ledger entry: cairn-core's view of the entry, and who signed its envelope.
pub fn entry_json(e: &SignedEntry) -> Value {
    let mut v = view::ledger_entry(&e.entry);
    v["signers"] = json!(e
        .envelope
        .signatures
        .iter()
        .map(|s| s.keyid.to_hex())
        .collect::<Vec<_>>());
    v
}

/// A field value, compactly: ids shortened, keys by algorithm, text quoted when it has
/// spaces.
fn compact(v: &Value) -> String {
    match v {
        Value::String(s) if super::util::is_full_hex(s) => format!("{}…", short(s)),
        Value::String(s) if s.contains(char::is_whitespace) || s.is_empty() => format!("{s:?}"),
        Value::String(s) => s.clone(),
        Value::Object(m) => match m.get("alg") {
            Some(Value::String(a)) => a.clone(),
            _ => v.to_string(),
        },
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(compact).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// One line per entry.
pub fn entry_line(e: &SignedEntry) -> String {
    let ev = serde_json::to_value(&e.entry.event).unwrap_or(Value::Null);
    let fields = ev
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("{k}={}", compact(v)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    format!(
        "{:>6}  {}  {:<18} {}",
        e.entry.seq,
        fmt_time(e.entry.time),
        e.entry.event.kind(),
        fields
    )
}

/// The C2SP signed-note verifier keys (`<name>+<hash>+<base64>`) of `key` under `name`.
#[derive(Debug, Clone, Default)]
pub struct NoteKeys {
    /// The Ed25519 one (of an Ed25519 key, or the Ed25519 half of a hybrid): what Go's
    /// `golang.org/x/mod/sumdb/note.NewVerifier` takes. `None` for ML-DSA-only keys.
    pub ed25519: Option<String>,
    /// Every line's verifier key, Ed25519 first (a hybrid has two; the ML-DSA one uses
    /// cairn's signature type, which Go's note package does not know).
    pub all: Vec<String>,
}

impl NoteKeys {
    /// The verifier keys of `key` under `name`; none when `name` is not a valid note key
    /// name (empty, or with spaces or '+').
    pub fn of(name: &str, key: &PublicKey) -> NoteKeys {
        let Ok(vs) = NoteVerifier::for_key(name, key) else {
            return NoteKeys::default();
        };
        NoteKeys {
            ed25519: vs
                .iter()
                .find(|v| v.signature_type() == SignatureType::Ed25519)
                .map(NoteVerifier::verifier_key),
            all: vs.iter().map(NoteVerifier::verifier_key).collect(),
        }
    }

    /// The name a key signs notes under: the log's origin for a checkpoint key (the log
    /// key, current or rotated), else its label.
    pub fn name_for<'a>(k: &'a KeyInfo, origin: &'a str) -> &'a str {
        if k.roles.contains(cairn_core::trust::Role::Checkpoint) {
            origin
        } else {
            &k.label
        }
    }

    /// Lines for people.
    pub fn text(&self) -> String {
        let mut s = String::new();
        match &self.ed25519 {
            Some(v) => {
                s.push_str(&format!("note key  {v}\n          (C2SP signed-note verifier key for Go's golang.org/x/mod/sumdb/note"));
                if self.all.len() > 1 {
                    s.push_str(": the Ed25519 half; Go ignores the ML-DSA signature lines");
                }
                s.push(')');
            }
            None if !self.all.is_empty() => s.push_str(
                "note key  none for Go: an ML-DSA-only key signs no line Go's sumdb/note can check",
            ),
            None => {}
        }
        for v in self
            .all
            .iter()
            .filter(|v| Some(*v) != self.ed25519.as_ref())
        {
            // name+hash only: the key itself is over a kilobyte of base64 (--json has it).
            let head = v.splitn(3, '+').take(2).collect::<Vec<_>>().join("+");
            if !s.is_empty() {
                s.push('\n');
            }
            s.push_str(&format!("ml-dsa    {head}+...\n          (cairn's ML-DSA note line, skipped by other verifiers; the whole key is in --json)"));
        }
        s
    }

    /// Fields for `--json`: `note_verifier_key` (Go's; null without an Ed25519 part) and
    /// `note_verifier_keys` (every line's).
    pub fn json(&self) -> Value {
        json!({"note_verifier_key": self.ed25519, "note_verifier_keys": self.all})
    }
}

/// A checkpoint: cairn-core's view of its note, and what the registry keeps beside it (the
/// signing key, when it was made, the note text).
pub fn checkpoint_json(c: &StoredCheckpoint) -> Value {
    let mut v = view::checkpoint_note(c.note.as_bytes()).unwrap_or_else(|e| {
        json!({"kind": "checkpoint", "size": c.size, "root": hex_encode(&c.root), "decode_error": view::error(&e)})
    });
    v["key_id"] = json!(c.key_id.to_hex());
    v["created_at"] = json!(c.created_at);
    v["note"] = json!(c.note);
    v
}

/// A trust-root version: cairn-core's view of the root, its ledger entry and its envelope.
pub fn trust_root_json(r: &StoredTrustRoot) -> Value {
    let mut v = view::trust_root(&r.root);
    v["seq"] = json!(r.seq);
    v["envelope"] = envelope_json(&r.envelope);
    v
}

/// A trust-root version, for people.
pub fn trust_root_text(r: &StoredTrustRoot) -> String {
    let root = &r.root;
    let mut s = format!(
        "trust root v{}  id {}\norigin   {}\nissued   {}\nexpires  {}\nentry    {}\nkeys:",
        root.root_version,
        hex_encode(&root.id()),
        root.origin,
        fmt_time(root.issued_at),
        fmt_time(root.expires_at),
        r.seq
    );
    for k in &root.keys {
        s.push_str(&format!(
            "\n  {}  {:<18} {:<16} {}",
            short(&k.key_id().to_hex()),
            k.public_key.algorithm().name(),
            k.label,
            roles(k.roles).join(",")
        ));
    }
    let t = root.thresholds;
    s.push_str(&format!(
        "\nthresholds: root {} checkpoint {} token-issuer {} manifest-signer {} peer {}",
        t.root, t.checkpoint, t.token_issuer, t.manifest_signer, t.peer
    ));
    s
}
