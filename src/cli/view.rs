//! Text views of stored objects (the lines people read); their JSON views are cairn-store's.

use cairn_core::crypto::{KeyId, PublicKey};
use cairn_core::encoding::hex_encode;
use cairn_core::note::{NoteVerifier, SignatureType};
use cairn_store::view::{private_name, status_name};
use cairn_store::{
    KeyInfo, KeyStatus, NodeInfo, PrivatePart, SignedEntry, StoredTrustRoot, TokenInfo,
};
use serde_json::{json, Value};

// The JSON views are the store's (cairn_store::view), shared with `cairn serve`; this module
// holds the text forms people read.
pub use cairn_store::view::{
    checkpoint as checkpoint_json, entry as entry_json, envelope_json, key as key_json,
    manifest as manifest_json, node as node_json, roles, token as token_json,
    trust_root as trust_root_json,
};

use super::secrets::short;
use super::util::fmt_time;

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
        s.push_str("\nthis is the log key: it signs every checkpoint and each commit's tree head");
    }
    if k.private == PrivatePart::Insecure {
        s.push_str(
            "\nWARNING: the private key is stored WITHOUT passphrase protection (insecure mode)",
        );
    }
    s
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
