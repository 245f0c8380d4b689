//! JSON views of cairn objects, defined once.
//!
//! What `cairn --json` prints, what the npm package returns and what the web page shows of an
//! object all come from these functions, so the same object gives the same JSON everywhere.
//! Shells add fields of their own beside a view (the CLI adds where a record sits in the
//! registry: `seq`, `envelope`), never change the fields a view defines.
//!
//! Conventions: member names are snake_case; digests and key ids are lowercase hex; other
//! binary data is standard base64; times are Unix seconds; sizes are numbers (exact below
//! 2^53). A view never holds more than its object does, so it is bounded by its limits.
//! Verification results have their views beside their types (`TokenVerification::to_json`,
//! `BundleVerdict::to_json`, ...); the claims of tokens and manifests likewise.
//!
//! ```
//! # #[cfg(feature = "std")] {
//! use cairn_core::crypto::{Algorithm, SigningKey};
//! use cairn_core::view;
//!
//! let key = SigningKey::from_seed(Algorithm::Ed25519, &[7; 32]);
//! let v = view::public_key(&key.public_key());
//! assert_eq!(v["algorithm"], "ed25519");
//! assert_eq!(v["key_id"], key.public_key().key_id().to_hex());
//! # }
//! ```

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde_json::{json, Map, Value};

use crate::blux;
use crate::bundle::Bundle;
use crate::checkpoint::Checkpoint;
use crate::crypto::{Algorithm, KeyId, PublicKey};
use crate::dsse::Envelope;
use crate::encoding::{b64_encode, hex_encode};
use crate::ledger::{LedgerEntry, LEDGER_ENTRY_TYPE};
use crate::manifest::{manifest_digest, ManifestClaims, MANIFEST_PAYLOAD_TYPE};
use crate::merkle;
use crate::note::Note;
use crate::token::{TokenClaims, TOKEN_PAYLOAD_TYPE};
use crate::trust::{Role, TrustRoot, TRUST_ROOT_TYPE};
use crate::{Error, ErrorCode, Result};

/// What a failure means to the person who asked: `"invalid"` when the input was read and is
/// not valid (a bad signature, a revoked token: the CLI's exit status 1), `"error"` when it
/// could not be checked at all (malformed, too large, an unsupported version or algorithm:
/// exit status 2). Pages and programs branch on this, never on their own list of codes.
///
/// ```
/// use cairn_core::{view, ErrorCode};
/// assert_eq!(view::error_class(ErrorCode::SignatureInvalid), "invalid");
/// assert_eq!(view::error_class(ErrorCode::UnsupportedVersion), "error");
/// ```
pub const fn error_class(code: ErrorCode) -> &'static str {
    if code.is_verification_failure() {
        "invalid"
    } else {
        "error"
    }
}

/// A failure: `{"code", "message", "class"}` (see [`error_class`]), and `"field"` when the
/// error names the input field it concerns.
///
/// ```
/// use cairn_core::{view, Error, ErrorCode};
/// let v = view::error(&Error::new(ErrorCode::Expired, "token expired"));
/// assert_eq!(v["code"], "expired");
/// assert_eq!(v["class"], "invalid");
/// ```
pub fn error(e: &Error) -> Value {
    let mut v =
        json!({"code": e.code().as_str(), "message": e.detail(), "class": error_class(e.code())});
    if let Some(f) = e.field() {
        v["field"] = Value::String(f.into());
    }
    v
}

/// Algorithms whose signature has this length (several share one, e.g. ML-DSA-44 and
/// round-3 Dilithium2): a hint for display, never a verification input.
///
/// ```
/// assert_eq!(cairn_core::view::algorithms_for_signature_len(64), ["ed25519"]);
/// ```
pub fn algorithms_for_signature_len(len: usize) -> Vec<&'static str> {
    Algorithm::ALL
        .iter()
        .filter(|a| a.signature_len() == len)
        .map(|a| a.name())
        .collect()
}

/// A list of key ids, as hex strings.
///
/// ```
/// use cairn_core::crypto::KeyId;
/// let v = cairn_core::view::key_ids(&[KeyId([0xab; 32])]);
/// assert_eq!(v[0], "ab".repeat(32));
/// ```
pub fn key_ids(ids: &[KeyId]) -> Value {
    Value::Array(ids.iter().map(|k| Value::String(k.to_hex())).collect())
}

/// A public key: `{"algorithm", "key_id", "size", "public_key"}` (the key bytes in base64).
/// Example in the [module documentation](self).
pub fn public_key(key: &PublicKey) -> Value {
    json!({
        "algorithm": key.algorithm().name(),
        "key_id": key.key_id().to_hex(),
        "size": key.as_bytes().len(),
        "public_key": b64_encode(key.as_bytes()),
    })
}

/// An envelope, undecoded: type, payload (base64), id and who signed.
///
/// ```
/// use cairn_core::dsse::Envelope;
/// let env = Envelope::new("application/x.example", b"hi".to_vec())?;
/// let v = cairn_core::view::envelope(&env);
/// assert_eq!(v["payload"], "aGk=");
/// assert_eq!(v["signatures"], serde_json::json!([]));
/// # Ok::<(), cairn_core::Error>(())
/// ```
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

/// An envelope with its payload decoded when the payload type is a cairn object:
/// `object` names it (`token`, `manifest`, `trust_root`, `ledger_entry`, or null), `decoded`
/// holds its view, `decode_error` what went wrong (signatures are not checked).
///
/// ```
/// use cairn_core::dsse::Envelope;
/// let env = Envelope::new("application/x.example", b"hi".to_vec())?;
/// let v = cairn_core::view::envelope_decoded(&env);
/// assert!(v["object"].is_null());
/// # Ok::<(), cairn_core::Error>(())
/// ```
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
            TrustRoot::from_bytes(p).map(|r| trust_root(&r)),
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
            v["decode_error"] = error(&e);
        }
    }
    v
}

/// A trust root version: `{"version", "root_id", "origin", "issued_at", "expires_at",
/// "previous", "keys", "thresholds"}`; each key with its algorithm, id, public key (base64),
/// label, roles and validity window; thresholds by role name.
///
/// ```
/// fn describe(root: &cairn_core::trust::TrustRoot) -> String {
///     let v = cairn_core::view::trust_root(root);
///     format!("{} v{}", v["origin"], v["version"])
/// }
/// ```
pub fn trust_root(root: &TrustRoot) -> Value {
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
        "root_id": hex_encode(&root.id()),
        "origin": root.origin,
        "issued_at": root.issued_at,
        "expires_at": root.expires_at,
        "previous": root.previous.as_ref().map(|p| hex_encode(p)),
        "keys": keys,
        "thresholds": Role::ALL.iter().map(|r| (r.name().into(), Value::from(t.get(*r)))).collect::<Map<String, Value>>(),
    })
}

/// A ledger entry: `{"seq", "time", "kind", "entry_hash", "leaf_hash", "prev_hash",
/// "event"}`; `leaf_hash` is its RFC 6962 Merkle leaf hash (what proofs are about).
///
/// ```
/// fn describe(entry: &cairn_core::ledger::LedgerEntry) -> String {
///     let v = cairn_core::view::ledger_entry(entry);
///     format!("#{} {} {}", v["seq"], v["kind"], v["entry_hash"])
/// }
/// ```
pub fn ledger_entry(e: &LedgerEntry) -> Value {
    let bytes = e.to_bytes();
    json!({
        "seq": e.seq,
        "time": e.time,
        "kind": e.event.kind(),
        "entry_hash": hex_encode(&crate::ledger::entry_hash(&bytes)),
        "leaf_hash": hex_encode(&merkle::leaf_hash(&bytes)),
        "prev_hash": hex_encode(&e.prev_hash),
        "event": serde_json::to_value(&e.event).unwrap_or(Value::Null),
    })
}

/// A checkpoint note, parsed but not verified: origin, size, root, extension lines and
/// signature lines (name, key hash, size).
///
/// ```
/// let note = "example.org/log\n1\nUlJSUlJSUlJSUlJSUlJSUlJSUlJSUlJSUlJSUlJSUlI=\n\n\u{2014} k AAAAAKqqqqqq\n";
/// assert_eq!(cairn_core::view::checkpoint_note(note.as_bytes())?["size"], 1);
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn checkpoint_note(bytes: &[u8]) -> Result<Value> {
    let note = Note::parse(bytes)?;
    let cp = Checkpoint::parse_text(note.text())?;
    Ok(checkpoint(&note, &cp))
}

/// A parsed checkpoint and the note that carries it (see [`checkpoint_note`]).
pub fn checkpoint(note: &Note, cp: &Checkpoint) -> Value {
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

/// A bundle, decoded but not verified: its subject (decoded), parents, ledger entry,
/// inclusion proof shape, checkpoint (with its note text) and trust chain.
///
/// ```
/// fn subject_kind(bytes: &[u8]) -> cairn_core::Result<String> {
///     let b = cairn_core::bundle::Bundle::from_bytes(bytes)?;
///     Ok(cairn_core::view::bundle(&b)["subject"]["object"].to_string())
/// }
/// ```
pub fn bundle(b: &Bundle) -> Value {
    let checkpoint = Note::parse(b.checkpoint.as_bytes())
        .and_then(|n| Checkpoint::parse_text(n.text()).map(|c| checkpoint(&n, &c)))
        .map(|mut v| {
            v["note"] = Value::String(b.checkpoint.clone());
            v
        });
    let trust_chain: Vec<Value> = b
        .trust_chain
        .iter()
        .map(|e| match TrustRoot::from_bytes(&e.payload) {
            Ok(r) => json!({"version": r.root_version, "root_id": hex_encode(&r.id())}),
            Err(err) => json!({"decode_error": error(&err)}),
        })
        .collect();
    json!({
        "kind": "bundle",
        "version": b.version,
        "subject": envelope_decoded(&b.subject),
        "parents": b.parents.iter().map(|p| hex_encode(&p.id())).collect::<Vec<_>>(),
        "entry": LedgerEntry::from_bytes(&b.entry).map(|e| ledger_entry(&e)).unwrap_or_else(|e| json!({"decode_error": error(&e)})),
        "inclusion": {"leaf_index": b.inclusion.leaf_index, "tree_size": b.inclusion.tree_size, "hashes": b.inclusion.hashes.len()},
        "checkpoint": checkpoint.unwrap_or_else(|e| json!({"decode_error": error(&e)})),
        "trust_chain": trust_chain,
        "root_id": hex_encode(&b.root_id),
        "revocation": b.revocation.as_ref().map(|r| json!({
            "newest_entry": LedgerEntry::from_bytes(&r.newest_entry).map(|e| ledger_entry(&e)).unwrap_or_else(|e| json!({"decode_error": error(&e)})),
            "proofs": r.proofs.iter().map(|p| json!({
                "kind": crate::revocation::ObjectKind::from_byte(p.kind).map(|k| k.name()).unwrap_or("unknown"),
                "id": hex_encode(&p.id),
                "bytes": p.proof.len(),
            })).collect::<Vec<_>>(),
        })),
    })
}

/// What a version 2 bundle's revocation proofs established: `{"size", "revocations",
/// "root", "time", "objects": [{"kind", "id"}]}` — not revoked as of the checkpoint of `size`
/// (whose map holds `revocations` objects, root `root` in hex), dated `time` (its newest
/// entry's time).
///
/// ```
/// use cairn_core::bundle::NotRevokedAsOf;
/// use cairn_core::revocation::ObjectKind;
/// let v = cairn_core::view::not_revoked_as_of(&NotRevokedAsOf {
///     size: 12, revocations: 3, root: [0; 32], time: 1_800_000_000,
///     objects: vec![(ObjectKind::Key, [1; 32])],
/// });
/// assert_eq!(v["size"], 12);
/// assert_eq!(v["objects"][0]["kind"], "key");
/// ```
pub fn not_revoked_as_of(v: &crate::bundle::NotRevokedAsOf) -> Value {
    json!({
        "size": v.size,
        "revocations": v.revocations,
        "root": hex_encode(&v.root),
        "time": v.time,
        "objects": v.objects.iter().map(|(k, id)| json!({"kind": k.name(), "id": hex_encode(id)})).collect::<Vec<_>>(),
    })
}

/// A blux-reg JSON value as plain JSON (its canonical text re-read); values plain JSON cannot
/// hold (NaN, infinities) stay as their canonical text.
///
/// ```
/// let v = cairn_core::blux::parse_json(r#"{"b":1,"a":[true]}"#)?;
/// assert_eq!(cairn_core::view::blux_value(&v)["a"][0], true);
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn blux_value(v: &blux::Value) -> Value {
    let text = blux::canonical_json(v);
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// What `blux::verify_token` established about a blux-reg token: `{"token_hash",
/// "issuer_fingerprint", "issuer_key_id", "expires_at" (its text), "expires_at_unix",
/// "capability", "audience", "constraints"}` (the last three as written, see [`blux_value`]).
///
/// ```
/// fn describe(verdict: &cairn_core::blux::TokenVerdict) -> String {
///     let v = cairn_core::view::blux_token_verdict(verdict);
///     format!("{} for {}", v["capability"], v["audience"])
/// }
/// ```
pub fn blux_token_verdict(v: &blux::TokenVerdict) -> Value {
    json!({
        "token_hash": v.token_hash_hex(),
        "issuer_fingerprint": v.issuer_fingerprint_hex(),
        "issuer_key_id": v.issuer_key.key_id().to_hex(),
        "expires_at": v.expires_at,
        "expires_at_unix": v.expires_at_unix,
        "capability": blux_value(&v.capability),
        "audience": blux_value(&v.audience),
        "constraints": blux_value(&v.constraints),
    })
}

/// What `blux::verify_manifest` established about a blux-reg manifest: `{"artifact_path",
/// "artifact_sha256", "created_at", "manifest_hash", "key_fingerprint", "key_id"}`.
///
/// ```
/// fn digest(verdict: &cairn_core::blux::ManifestVerdict) -> String {
///     cairn_core::view::blux_manifest_verdict(verdict)["artifact_sha256"].to_string()
/// }
/// ```
pub fn blux_manifest_verdict(v: &blux::ManifestVerdict) -> Value {
    json!({
        "artifact_path": v.artifact_path,
        "artifact_sha256": hex_encode(&v.artifact_sha256),
        "created_at": blux_value(&v.created_at),
        "manifest_hash": hex_encode(&v.manifest_hash),
        "key_fingerprint": hex_encode(&v.key_fingerprint),
        "key_id": v.key.key_id().to_hex(),
    })
}

/// What `blux::verify_ledger` established about a blux-reg ledger: `{"entries", "head"}`
/// (`head` null for an empty ledger).
///
/// ```
/// let s = cairn_core::blux::verify_ledger("")?;
/// assert_eq!(cairn_core::view::blux_ledger(&s)["entries"], 0);
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn blux_ledger(s: &blux::LedgerSummary) -> Value {
    json!({"entries": s.entries, "head": s.head_hex()})
}

/// A verified peer key request: `{"requester_id", "responder_id", "requester_key_id",
/// "timestamp", "nonce"}`.
///
/// ```
/// fn who(r: &cairn_core::peer::VerifiedKeyRequest) -> String {
///     cairn_core::view::key_request(r)["requester_id"].to_string()
/// }
/// ```
pub fn key_request(v: &crate::peer::VerifiedKeyRequest) -> Value {
    let r = &v.request;
    json!({
        "requester_id": r.requester_id,
        "responder_id": r.responder_id,
        "requester_key_id": r.requester_key.key_id().to_hex(),
        "timestamp": r.timestamp,
        "nonce": r.nonce,
    })
}

/// A verified peer key response: `{"responder_id", "requester_id", "key_id", "algorithm",
/// "signing_key", "kem_key"` (both base64), `"kem_key_sha256", "request_nonce", "timestamp",
/// "nonce", "has_proof"}` (whether it came as a key-transparency bundle).
///
/// ```
/// fn key(r: &cairn_core::peer::VerifiedKeyResponse) -> String {
///     cairn_core::view::key_response(r)["key_id"].to_string()
/// }
/// ```
pub fn key_response(v: &crate::peer::VerifiedKeyResponse) -> Value {
    let r = &v.response;
    json!({
        "responder_id": r.responder_id,
        "requester_id": r.requester_id,
        "key_id": r.signing_key.key_id().to_hex(),
        "algorithm": r.signing_key.algorithm().name(),
        "signing_key": b64_encode(r.signing_key.as_bytes()),
        "kem_key": b64_encode(r.kem_key.as_bytes()),
        "kem_key_sha256": hex_encode(&r.kem_key.digest()),
        "request_nonce": r.request_nonce,
        "timestamp": r.timestamp,
        "nonce": r.nonce,
        "has_proof": v.proof.is_some(),
    })
}

/// Who vouched for a peer's key (`cairn_core::peer::vouch`): `{"rule", "key_id",
/// "logged_at", "not_revoked_as_of"}`, where `logged_at` is `{"origin", "size", "seq"}` for a
/// key-transparency proof (the checkpoint's origin and size, the entry's sequence number) and
/// null otherwise, and `not_revoked_as_of` the checkpoint's time when a version 2 bundle
/// proved the key not revoked in the peer's log as of it (null otherwise).
///
/// ```
/// fn rule(v: &cairn_core::peer::Vouch) -> String {
///     cairn_core::view::vouch(v)["rule"].to_string()
/// }
/// ```
pub fn vouch(v: &crate::peer::Vouch) -> Value {
    json!({
        "rule": v.rule.name(),
        "key_id": v.key_id.to_hex(),
        "logged_at": v.logged_at.as_ref().map(|(origin, size, seq)| json!({
            "origin": origin, "size": size, "seq": seq,
        })),
        "not_revoked_as_of": v.not_revoked_as_of,
    })
}

/// Which witnesses cosigned a checkpoint (`cairn_core::witness::verify_cosignatures`):
/// `{"quorum", "counted", "quorum_met", "cosigned": [{"witness", "type", "timestamp",
/// "standing"}]}` (`standing`: `counted`, `stale`, `future` or `undated`).
///
/// ```
/// fn met(v: &cairn_core::witness::WitnessVerdict) -> bool {
///     cairn_core::view::witness_verdict(v)["quorum_met"] == true
/// }
/// ```
pub fn witness_verdict(v: &crate::witness::WitnessVerdict) -> Value {
    json!({
        "quorum": v.quorum,
        "counted": v.counted(),
        "quorum_met": v.quorum_met,
        "cosigned": v.cosigned.iter().map(|c| json!({
            "witness": c.witness,
            "type": c.cosignature_type.name(),
            "timestamp": c.timestamp,
            "standing": c.standing.as_str(),
        })).collect::<Vec<_>>(),
    })
}

/// A checkpoint's `cairn.revocations` line (`checkpoint::RevocationsRef`): `{"count", "root",
/// "line"}`: the number of revoked objects, the revocation map's root (hex) and the extension
/// line itself (its root in base64, as the checkpoint carries it).
///
/// ```
/// use cairn_core::checkpoint::RevocationsRef;
/// let r = RevocationsRef::parse_line("cairn.revocations 0 voHwm+TaFV7P/CM7Ok+meFKxI34x/p04dtDtt6XgeXo=")?
///     .ok_or("not a revocations line")?;
/// let v = cairn_core::view::revocations_ref(&r);
/// assert_eq!(v["count"], 0);
/// assert_eq!(v["root"], cairn_core::encoding::hex_encode(&cairn_core::revocation::empty_root()));
/// assert_eq!(v["line"], r.to_line());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn revocations_ref(r: &crate::checkpoint::RevocationsRef) -> Value {
    json!({"count": r.count, "root": hex_encode(&r.root), "line": r.to_line()})
}

/// Two signed checkpoints of one log that cannot both be true (`witness::detect_split_view`):
/// `{"origin", "size", "roots": [first, second] (hex), "revocations": [first, second]` (each a
/// [`revocations_ref`] view or null)`, "code": "split_view", "message"}` (the detail of the
/// `split_view` error it amounts to).
///
/// ```
/// use cairn_core::witness::SplitView;
/// let s = SplitView { origin: "example.test/log".into(), size: 5, first_root: [1; 32],
///     second_root: [2; 32], first_revocations: None, second_revocations: None };
/// let v = cairn_core::view::split_view(&s);
/// assert_eq!(v["roots"][1], "02".repeat(32));
/// assert!(v["revocations"][0].is_null());
/// assert_eq!(v["code"], "split_view");
/// ```
pub fn split_view(s: &crate::witness::SplitView) -> Value {
    let revocations = |r: &Option<crate::checkpoint::RevocationsRef>| {
        r.as_ref().map_or(Value::Null, revocations_ref)
    };
    json!({
        "origin": s.origin,
        "size": s.size,
        "roots": [hex_encode(&s.first_root), hex_encode(&s.second_root)],
        "revocations": [revocations(&s.first_revocations), revocations(&s.second_revocations)],
        "code": crate::ErrorCode::SplitView.as_str(),
        "message": s.to_error().detail(),
    })
}

/// A checkpoint verified under its log's keys (`checkpoint::verify_checkpoint`): `{"origin",
/// "size", "root" (hex), "extensions", "signers" (key ids)}`.
pub fn verified_checkpoint(v: &crate::checkpoint::VerifiedCheckpoint) -> Value {
    json!({
        "origin": v.origin,
        "size": v.size,
        "root": hex_encode(&v.root),
        "extensions": v.extensions,
        "signers": key_ids(&v.signers),
    })
}

/// A checkpoint signed by its log and cosigned by a quorum of witnesses
/// (`witness::verify_witnessed_checkpoint`): the [`verified_checkpoint`] view with its
/// [`witness_verdict`] in `"witnessed"`.
pub fn witnessed_checkpoint(w: &crate::witness::WitnessedCheckpoint) -> Value {
    let mut v = verified_checkpoint(&w.checkpoint);
    v["witnessed"] = witness_verdict(&w.witnesses);
    v
}
