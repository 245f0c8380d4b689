//! The verifiers as plain Rust: parsed inputs in, a JSON view out.
//!
//! Every function here mirrors one JavaScript export (named in its doc) and returns either a
//! view of what was established (always with `"valid": true`) or the cairn-core error. Views
//! use cairn-core's own `to_json` forms where they exist, so the CLI's `--json` output, the
//! JavaScript results and the test vectors name fields alike (snake_case).

use cairn_core::blux;
use cairn_core::bundle::{verify_bundle as core_verify_bundle, Bundle, BundlePolicy};
use cairn_core::checkpoint::{
    verify_checkpoint as core_verify_checkpoint, CheckpointPolicy, LastSeen, RevocationsRef,
};
use cairn_core::crypto::batch::{verify_batch, BatchItem};
use cairn_core::crypto::{PublicKey, Signature};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{hex_encode, Digest};
use cairn_core::ledger::{self, ChainHead};
use cairn_core::manifest::{self, ArtifactCheck};
use cairn_core::merkle;
use cairn_core::revocation::{self, ObjectKind, RevocationProof};
use cairn_core::token::{self, VerifyOptions};
use cairn_core::trust;
use cairn_core::witness::{self, WitnessPolicy};
use cairn_core::{Error, ErrorCode, Result, UnixTime};
use serde_json::{json, Value};

pub use cairn_core::checkpoint::CheckpointVerifier;

use cairn_core::view;

/// An artifact to check a manifest against: its bytes, or a digest computed elsewhere
/// (`size` is required by cairn manifests, optional for blux-reg ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Artifact {
    /// The artifact's bytes, hashed here.
    Bytes(Vec<u8>),
    /// SHA-256 (and size) computed by the caller, e.g. with a streaming hasher.
    Digest {
        /// SHA-256 of the bytes.
        sha256: Digest,
        /// Size in bytes, when known.
        size: Option<u64>,
    },
}

impl Artifact {
    fn check(&self) -> Result<ArtifactCheck<'_>> {
        match self {
            Artifact::Bytes(b) => Ok(ArtifactCheck::Bytes(b)),
            Artifact::Digest {
                sha256,
                size: Some(size),
            } => Ok(ArtifactCheck::Digest {
                size: *size,
                sha256: *sha256,
            }),
            Artifact::Digest { size: None, .. } => Err(Error::malformed(
                "artifact: a precomputed digest needs the artifact's size too",
            )),
        }
    }

    fn sha256(&self) -> Digest {
        match self {
            Artifact::Bytes(b) => cairn_core::encoding::sha256(&[b]),
            Artifact::Digest { sha256, .. } => *sha256,
        }
    }
}

/// A verifier's view with `"valid": true` added, for a view that serializes directly: the
/// object the `Value`-returning verifiers here give ([`verify_token`] for [`check_token`]'s
/// result). `valid` comes last, where it sorts among a token view's members, so the JSON text
/// is the same too.
#[derive(Debug, serde::Serialize)]
pub struct Valid<T> {
    /// The view.
    #[serde(flatten)]
    pub view: T,
    /// Always true (a failed verification is an error, not a view).
    pub valid: bool,
}

fn with_valid(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("valid".into(), Value::Bool(true));
    }
    v
}

/// `verifySignature`: checks one raw signature by `key` over `message`, with the FIPS 204
/// `context` (ignored by Ed25519).
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// let sk = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let sig = sk.sign(b"hi", b"")?;
/// let v = cairn_wasm::api::verify_signature(sk.public_key(), b"hi", sig.as_bytes(), b"")?;
/// assert_eq!(v["valid"], true);
/// assert_eq!(v["algorithm"], "ed25519");
/// let e = cairn_wasm::api::verify_signature(sk.public_key(), b"ho", sig.as_bytes(), b"").unwrap_err();
/// assert_eq!(e.code().as_str(), "signature_invalid");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_signature(
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
    context: &[u8],
) -> Result<Value> {
    let sig = Signature::from_bytes(key.algorithm(), signature)?;
    key.verify(message, context, &sig)?;
    Ok(json!({
        "valid": true,
        "algorithm": key.algorithm().name(),
        "key_id": key.key_id().to_hex(),
    }))
}

/// One item of `verifySignatures`.
#[derive(Clone)]
pub struct SignatureItem {
    /// The public key.
    pub key: PublicKey,
    /// The signed message.
    pub message: Vec<u8>,
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// The FIPS 204 context (ML-DSA; ignored by Ed25519).
    pub context: Vec<u8>,
}

/// `verifySignatures`: many raw signatures at once. Ed25519 ones are checked with one batch
/// equation (cairn-core's `crypto::batch`: the strict encoding rules per item, then the
/// equation); when it fails, or for other algorithms, each is verified alone. The error is the
/// first bad item's, prefixed with its index (`signatures[3]: ...`).
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_wasm::api::{verify_signatures, SignatureItem};
/// let sk = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let item = |m: &[u8]| -> Result<SignatureItem, cairn_core::Error> {
///     Ok(SignatureItem { key: sk.public_key().clone(), message: m.to_vec(),
///         signature: sk.sign(m, b"")?.into_bytes(), context: vec![] })
/// };
/// let mut items = vec![item(b"a")?, item(b"b")?, item(b"c")?];
/// assert_eq!(verify_signatures(&items)?["count"], 3);
/// items[1].message = b"x".to_vec();
/// let e = verify_signatures(&items).unwrap_err();
/// assert_eq!(e.code().as_str(), "signature_invalid");
/// assert!(e.detail().starts_with("signatures[1]"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_signatures(items: &[SignatureItem]) -> Result<Value> {
    let sigs = items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            Signature::from_bytes(it.key.algorithm(), &it.signature)
                .map_err(|e| e.context(&format!("signatures[{i}]")))
        })
        .collect::<Result<Vec<_>>>()?;
    let batch: Vec<BatchItem<'_>> = items
        .iter()
        .zip(&sigs)
        .map(|(it, sig)| BatchItem {
            key: &it.key,
            message: &it.message,
            context: &it.context,
            signature: sig,
        })
        .collect();
    verify_batch(&batch).map_err(|f| f.error.context(&format!("signatures[{}]", f.index)))?;
    let mut signers: Vec<Value> = Vec::with_capacity(items.len());
    let mut last: Option<(&PublicKey, String)> = None;
    for it in items {
        let id = match &last {
            Some((k, id)) if *k == &it.key => id.clone(),
            _ => it.key.key_id().to_hex(),
        };
        signers.push(Value::String(id.clone()));
        last = Some((&it.key, id));
    }
    Ok(json!({"valid": true, "count": items.len(), "signers": signers}))
}

/// `keyId`: a key's algorithm, id (SHA-256 of the algorithm id and the key bytes) and size,
/// after the same checks verification applies to it.
pub fn key_info(key: &PublicKey) -> Value {
    json!({
        "algorithm": key.algorithm().name(),
        "key_id": key.key_id().to_hex(),
        "size": key.as_bytes().len(),
    })
}

/// `verifyEnvelope`: a DSSE envelope (JSON or compact form) of `payload_type`, signed by at
/// least `threshold` distinct keys of `keys`.
pub fn verify_envelope(
    envelope: &[u8],
    payload_type: &str,
    keys: &[PublicKey],
    threshold: usize,
) -> Result<Value> {
    let env = Envelope::parse(envelope)?;
    let ok = env.verify(payload_type, keys, threshold)?;
    let mut v = with_valid(view::envelope(&env));
    v["signers"] = view::key_ids(&ok.signers);
    Ok(v)
}

/// What `verifyToken` checks: a capability token (envelope bytes) with its delegation
/// `parents` (root first), issued by one of `trusted_issuers`, valid at `now`, not revoked,
/// and, when given, for `audience` and granting `capability`.
#[derive(Debug, Clone, Copy)]
pub struct TokenCheck<'a> {
    /// The token's envelope (compact or JSON form).
    pub token: &'a [u8],
    /// Its delegation parents' envelopes, root first.
    pub parents: &'a [Vec<u8>],
    /// The keys a root token may be issued by.
    pub trusted_issuers: &'a [PublicKey],
    /// The time the token must be valid at.
    pub now: UnixTime,
    /// Revoked token ids (the token's and its ancestors' are checked).
    pub revoked: &'a [Digest],
    /// The audience the token must name.
    pub audience: Option<&'a str>,
    /// A capability the token must grant.
    pub capability: Option<&'a str>,
}

/// `verifyToken`: [`check_token`]'s verdict as its JSON view with `valid: true`.
pub fn verify_token(check: &TokenCheck<'_>) -> Result<Value> {
    Ok(with_valid(check_token(check)?.to_json()))
}

/// [`verify_token`]'s checks, returning what they established: the exports write
/// `Valid { view: v.json(), valid: true }` straight to JSON text, the same object as
/// [`verify_token`]'s without building a `Value`.
pub fn check_token(check: &TokenCheck<'_>) -> Result<token::VerifiedToken> {
    let token_env = Envelope::parse(check.token).map_err(|e| e.context("token"))?;
    let parents = check
        .parents
        .iter()
        .enumerate()
        .map(|(i, p)| Envelope::parse(p).map_err(|e| e.context(&format!("parent {i}"))))
        .collect::<Result<Vec<_>>>()?;
    let opts = VerifyOptions {
        audience: check.audience,
        capability: check.capability,
    };
    token::verify_token(
        &token_env,
        &parents,
        check.trusted_issuers,
        check.now,
        check.revoked,
        &opts,
    )
}

/// One token of `verifyTokens`: its envelope bytes and its delegation parents (root first).
#[derive(Debug, Clone, Default)]
pub struct TokenItem {
    /// The token (envelope bytes or DSSE JSON).
    pub token: Vec<u8>,
    /// Its delegation parents, root first.
    pub parents: Vec<Vec<u8>>,
}

/// `verifyTokens`: many tokens under the same issuers, time, revocations, audience and
/// capability (cairn-core's `token::verify_tokens`: the root signatures by Ed25519 issuers
/// through one batch equation). Every token must verify; the error is the first bad one's, as
/// verifying them in order one by one gives it, prefixed with its index (`tokens[2]: ...`).
/// The result lists each token's view, in order.
#[allow(clippy::too_many_arguments)]
pub fn verify_tokens(
    items: &[TokenItem],
    trusted_issuers: &[PublicKey],
    now: UnixTime,
    revoked: &[Digest],
    audience: Option<&str>,
    capability: Option<&str>,
) -> Result<Value> {
    let name = |i: usize| format!("tokens[{i}]");
    // Parse everything first; a parse error counts at its position.
    let parsed: Vec<Result<(Envelope, Vec<Envelope>)>> = items
        .iter()
        .map(|item| {
            let token = Envelope::parse(&item.token).map_err(|e| e.context("token"))?;
            let parents = item
                .parents
                .iter()
                .enumerate()
                .map(|(i, p)| Envelope::parse(p).map_err(|e| e.context(&format!("parent {i}"))))
                .collect::<Result<Vec<_>>>()?;
            Ok((token, parents))
        })
        .collect();
    let ok: Vec<(&Envelope, &[Envelope])> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().map(|(t, ps)| (t, ps.as_slice())))
        .collect();
    let opts = VerifyOptions {
        audience,
        capability,
    };
    let mut verdicts = token::verify_tokens(&ok, trusted_issuers, now, revoked, &opts).into_iter();
    let mut views = Vec::with_capacity(items.len());
    for (i, p) in parsed.iter().enumerate() {
        if let Err(e) = p {
            return Err(e.clone().context(&name(i)));
        }
        let v = verdicts
            .next()
            .ok_or_else(|| Error::malformed("internal: a token without a verdict"))?
            .map_err(|e| e.context(&name(i)))?;
        views.push(with_valid(v.to_json()));
    }
    Ok(json!({"valid": true, "count": items.len(), "tokens": views}))
}

/// `verifyManifest`: an artifact manifest (envelope bytes) signed by at least `threshold`
/// distinct keys of `trusted_signers`, and, when given, the artifact matches it.
pub fn verify_manifest(
    manifest_env: &[u8],
    trusted_signers: &[PublicKey],
    threshold: usize,
    artifact: Option<&Artifact>,
) -> Result<Value> {
    let env = Envelope::parse(manifest_env).map_err(|e| e.context("manifest"))?;
    let check = match artifact {
        Some(a) => a.check()?,
        None => ArtifactCheck::None,
    };
    let v = manifest::verify_manifest(&env, trusted_signers, threshold, check)?;
    let mut out = with_valid(v.to_json());
    out["artifact_checked"] = Value::Bool(artifact.is_some());
    Ok(out)
}

/// `verifyCheckpoint`: a signed checkpoint note under `policy`, by `verifiers`.
pub fn verify_checkpoint(
    note: &[u8],
    verifiers: &[CheckpointVerifier],
    policy: &CheckpointPolicy,
) -> Result<Value> {
    let v = core_verify_checkpoint(note, verifiers, policy)?;
    Ok(with_valid(view::verified_checkpoint(&v)))
}

/// `verifyInclusion`: an RFC 9162 inclusion proof.
pub fn verify_inclusion(
    leaf_hash: &Digest,
    index: u64,
    tree_size: u64,
    proof: &[Digest],
    root: &Digest,
) -> Result<Value> {
    merkle::verify_inclusion(leaf_hash, index, tree_size, proof, root)?;
    Ok(json!({"valid": true, "index": index, "tree_size": tree_size, "root": hex_encode(root)}))
}

/// `verifyConsistency`: an RFC 9162 consistency proof.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Digest,
    new_root: &Digest,
    proof: &[Digest],
) -> Result<Value> {
    merkle::verify_consistency(old_size, new_size, old_root, new_root, proof)?;
    Ok(json!({"valid": true, "old_size": old_size, "new_size": new_size}))
}

/// `merkleRoot`: the RFC 6962 root of `leaves` (raw leaf bytes), and each leaf's hash.
pub fn merkle_root(leaves: &[Vec<u8>]) -> Result<Value> {
    let hashes: Vec<Digest> = leaves.iter().map(|l| merkle::leaf_hash(l)).collect();
    Ok(json!({
        "root": hex_encode(&merkle::root_of(&hashes)),
        "size": hashes.len(),
        "leaf_hashes": hashes.iter().map(|h| hex_encode(h)).collect::<Vec<_>>(),
    }))
}

/// `verifyTrustRootChain`: the pinned root (its own root-key threshold), then each newer
/// version in `chain`, to the newest, which must be unexpired at `now`.
pub fn verify_trust_root_chain(pinned: &[u8], chain: &[Vec<u8>], now: UnixTime) -> Result<Value> {
    let pinned = Envelope::parse(pinned).map_err(|e| e.context("pinned trust root"))?;
    let chain = chain
        .iter()
        .enumerate()
        .map(|(i, c)| Envelope::parse(c).map_err(|e| e.context(&format!("trust root {i}"))))
        .collect::<Result<Vec<_>>>()?;
    let newest = trust::verify_trust_root_chain(&pinned, &chain, now)?;
    Ok(with_valid(view::trust_root(&newest)))
}

/// `verifyLedgerEntry`: a signed ledger entry (envelope bytes) by `threshold` of `log_keys`.
pub fn verify_ledger_entry(
    entry: &[u8],
    log_keys: &[PublicKey],
    threshold: usize,
) -> Result<Value> {
    let env = Envelope::parse(entry).map_err(|e| e.context("ledger entry"))?;
    let e = ledger::verify_entry(&env, log_keys, threshold)?;
    Ok(with_valid(view::ledger_entry(&e)))
}

/// `verifyLedgerChain`: entry bytes in order, continuing `start` (genesis when absent).
pub fn verify_ledger_chain(entries: &[Vec<u8>], start: Option<ChainHead>) -> Result<Value> {
    let head = ledger::verify_chain_bytes(entries.iter().map(Vec::as_slice), start)?;
    Ok(json!({
        "valid": true,
        "next_seq": head.next_seq,
        "head_hash": hex_encode(&head.head_hash),
        "last_time": head.last_time,
    }))
}

/// What `verifyBundle` demands beyond the trust root's rules.
#[derive(Debug, Clone, Default)]
pub struct BundleOptions {
    /// The artifact (manifest bundles).
    pub artifact: Option<Artifact>,
    /// Revoked token ids.
    pub revoked: Vec<Digest>,
    /// Expected token audience.
    pub audience: Option<String>,
    /// Capability the token must grant.
    pub capability: Option<String>,
    /// Accept a checkpoint without both an Ed25519 and an ML-DSA signature.
    pub allow_classical_checkpoint: bool,
    /// The newest checkpoint (or tree size) the caller accepted before ([`last_seen`]).
    pub last_seen: Option<LastSeen>,
    /// The oldest checkpoint accepted, in seconds (`maxAge`; `stale` beyond it).
    pub max_age: Option<u64>,
}

/// `verifyBundle`'s `lastSeen` (a checkpoint note, signed or bare) and `minSize` options, at
/// most one of them.
pub fn last_seen(note: Option<&[u8]>, min_size: Option<u64>) -> Result<Option<LastSeen>> {
    match (note, min_size) {
        (Some(_), Some(_)) => Err(Error::malformed(
            "give lastSeen or minSize, not both (a remembered checkpoint has a size)",
        )),
        (Some(n), None) => LastSeen::parse_note(n)
            .map(Some)
            .map_err(|e| e.context("lastSeen")),
        (None, Some(n)) => Ok(Some(LastSeen::MinSize(n))),
        (None, None) => Ok(None),
    }
}

/// The option names of `verifyBundle`'s witness policy: the witnesses (vkeys or
/// `{name, vkey}`), the quorum (default: all of them), the maximum age of a cosignature and
/// the maximum future skew, in seconds.
pub const BUNDLE_WITNESS_OPTIONS: [&str; 4] = [
    "witnesses",
    "witnessQuorum",
    "witnessMaxAge",
    "witnessMaxFutureSkew",
];

/// `verifyBundle`: a bundle (CBDL bytes) against a pinned trust root (envelope bytes).
pub fn verify_bundle(
    bundle: &[u8],
    pinned_root: &[u8],
    now: UnixTime,
    opts: &BundleOptions,
) -> Result<Value> {
    let pinned = crate::input::pinned_root_recent(pinned_root, "pinned trust root")?;
    let bundle = Bundle::from_bytes(bundle)?;
    let policy = BundlePolicy {
        require_hybrid_checkpoint: !opts.allow_classical_checkpoint,
        artifact: match &opts.artifact {
            Some(a) => a.check()?,
            None => ArtifactCheck::None,
        },
        token: VerifyOptions {
            audience: opts.audience.as_deref(),
            capability: opts.capability.as_deref(),
        },
        revoked_tokens: &opts.revoked,
        last_seen: opts.last_seen.as_ref(),
        max_age: opts.max_age,
    };
    let verdict = core_verify_bundle(&bundle, &pinned, now, &policy)?;
    let mut v = verdict.to_json();
    v["artifact_checked"] = Value::Bool(opts.artifact.is_some());
    // Filled in by `bundle_witnesses` when the caller names witnesses.
    v["witnessed"] = Value::Null;
    Ok(v)
}

/// `verifyBundle`'s witness policy, applied after [`verify_bundle`] accepted the bundle (whose
/// checkpoint's log signature it verified): the cosignatures on the bundle's checkpoint note
/// by `policy`'s witnesses at `now`, and the quorum, as `cairn bundle verify --witness-key`
/// applies them (`threshold_not_met`; `stale` / `not_yet_valid` when only cosignatures outside
/// the time window are missing; `signature_invalid` for a bad line of a policy witness). The
/// witness verdict view, for the verdict's `witnessed`.
///
/// A separate step so that the wasm build keeps it out of the main module (its size is
/// budgeted): there, the package's `verifyBundle` calls the second module for it; the native
/// addon calls both in one export.
pub fn bundle_witnesses(bundle: &[u8], policy: &WitnessPolicy, now: UnixTime) -> Result<Value> {
    let bundle = Bundle::from_bytes(bundle)?;
    let note = cairn_core::note::Note::parse(bundle.checkpoint.as_bytes())
        .map_err(|e| e.context("checkpoint"))?;
    let verdict =
        witness::verify_cosignatures(&note, policy, now).map_err(|e| e.context("witnesses"))?;
    verdict.check().map_err(|e| e.context("witnesses"))?;
    Ok(view::witness_verdict(&verdict))
}

/// `verifyCosignatures`: the witness cosignatures of a checkpoint note under `policy` at
/// `now` (cairn-core's `witness::verify_cosignatures`): which of the policy's witnesses
/// cosigned, when, whether each counted, and whether the quorum is met, which is reported,
/// not enforced. The log's own signature is not checked (see `verifyWitnessedCheckpoint`).
/// Every line of a policy witness must verify (`signature_invalid` otherwise).
pub fn verify_cosignatures(note: &[u8], policy: &WitnessPolicy, now: UnixTime) -> Result<Value> {
    let note = cairn_core::note::Note::parse(note)?;
    let v = witness::verify_cosignatures(&note, policy, now)?;
    Ok(view::witness_verdict(&v))
}

/// `verifyWitnessedCheckpoint`: the log's signature on a checkpoint note (as
/// `verifyCheckpoint`), then its cosignatures under `witnesses` at `now`, and the quorum
/// (`threshold_not_met`; `stale` or `not_yet_valid` when only cosignatures outside the time
/// window are missing).
pub fn verify_witnessed_checkpoint(
    note: &[u8],
    verifiers: &[CheckpointVerifier],
    policy: &CheckpointPolicy,
    witnesses: &WitnessPolicy,
    now: UnixTime,
) -> Result<Value> {
    let w = witness::verify_witnessed_checkpoint(note, verifiers, policy, witnesses, now)?;
    Ok(with_valid(view::witnessed_checkpoint(&w)))
}

/// `detectSplitView`: two checkpoint notes of one log, each verified under `verifiers` and
/// `policy`; `{"split_view": null}` when they can both be true, else the split view (same
/// size, different roots, or one tree with two revocation maps).
pub fn detect_split_view(
    first: &[u8],
    second: &[u8],
    verifiers: &[CheckpointVerifier],
    policy: &CheckpointPolicy,
) -> Result<Value> {
    let s = witness::detect_split_view(first, second, verifiers, policy)?;
    Ok(json!({"split_view": s.as_ref().map_or(Value::Null, view::split_view)}))
}

/// A revoked object as the revocation functions take it: its kind name (`key`, `token`,
/// `manifest`) and its 32-byte id (key id, token id or manifest digest).
pub fn revocation_object(kind: &str, id: &Digest) -> Result<(ObjectKind, Digest)> {
    let kind = ObjectKind::parse(kind).map_err(|e| e.context("kind"))?;
    Ok((kind, revocation::map_key(kind, id)))
}

/// `revocationMapKey`: the revocation map's key of an object, SHA-256(0x10 ‖ kind ‖ id).
pub fn revocation_map_key(kind: &str, id: &Digest) -> Result<Value> {
    let (kind, key) = revocation_object(kind, id)?;
    Ok(json!({"kind": kind.name(), "id": hex_encode(id), "key": hex_encode(&key)}))
}

/// Most revoked objects `revocationMapRoot` takes.
pub const MAX_MAP_OBJECTS: usize = 100_000;

/// `revocationMapRoot`: the root of the revocation map holding `revoked` objects
/// (`(kind, id, seq)`, seq = the revoking ledger entry), in any order; an object listed
/// twice is `replayed`.
pub fn revocation_map_root(revoked: &[(String, Digest, u64)]) -> Result<Value> {
    if revoked.len() > MAX_MAP_OBJECTS {
        return Err(Error::new(
            ErrorCode::TooLarge,
            format!("revoked: more than {MAX_MAP_OBJECTS} objects"),
        ));
    }
    let mut map = revocation::MemoryMap::new();
    for (i, (kind, id, seq)) in revoked.iter().enumerate() {
        let (_, key) =
            revocation_object(kind, id).map_err(|e| e.context(&format!("revoked[{i}]")))?;
        map.insert(key, *seq)
            .map_err(|e| e.context(&format!("revoked[{i}]")))?;
    }
    let r = RevocationsRef {
        count: map.len(),
        root: map.root(),
    };
    Ok(view::revocations_ref(&r))
}

/// `verifyNotRevoked`: a non-membership proof (revocation map proof bytes) that the object is
/// absent from the map with `root`: not revoked as of the checkpoint carrying the root
/// (`revoked` when the proof shows it present, `proof_invalid` when it does not lead to the
/// root).
pub fn verify_not_revoked(root: &Digest, kind: &str, id: &Digest, proof: &[u8]) -> Result<Value> {
    let (kind, key) = revocation_object(kind, id)?;
    let proof = RevocationProof::from_bytes(proof).map_err(|e| e.context("proof"))?;
    revocation::verify_non_membership(root, &key, &proof)?;
    Ok(json!({
        "valid": true, "revoked": false, "kind": kind.name(), "id": hex_encode(id),
        "key": hex_encode(&key), "root": hex_encode(root),
    }))
}

/// `refreshBundle`: the bundle (version 1 or 2) moved to the newer checkpoint of the refresh
/// pieces (`CRFP`, from the registry), checked to fit it (`cairn_core::bundle::refresh_bundle`:
/// same log, a tree that extends the bundle's, the same entry, a proof for every object it
/// rests on); the refreshed version 2 bundle's bytes. Signatures are checked by `verifyBundle`
/// on the result.
pub fn refresh_bundle(bundle: &[u8], pieces: &[u8]) -> Result<Vec<u8>> {
    let bundle = Bundle::from_bytes(bundle).map_err(|e| e.context("bundle"))?;
    let pieces =
        cairn_core::bundle::RefreshPieces::from_bytes(pieces).map_err(|e| e.context("pieces"))?;
    Ok(cairn_core::bundle::refresh_bundle(&bundle, &pieces)?.to_bytes())
}

/// `verifyRevoked`: a membership proof that the object is in the map with `root`, and the
/// sequence number of the ledger entry that revoked it (`proof_invalid` otherwise).
pub fn verify_revoked(root: &Digest, kind: &str, id: &Digest, proof: &[u8]) -> Result<Value> {
    let (kind, key) = revocation_object(kind, id)?;
    let proof = RevocationProof::from_bytes(proof).map_err(|e| e.context("proof"))?;
    let seq = revocation::verify_membership(root, &key, &proof)?;
    Ok(json!({
        "valid": true, "revoked": true, "seq": seq, "kind": kind.name(), "id": hex_encode(id),
        "key": hex_encode(&key), "root": hex_encode(root),
    }))
}

/// `parseRevocationsLine`: a checkpoint extension line as a `cairn.revocations` line
/// (`{"count", "root", "line"}`), `null` for a line of another kind, `malformed` for a
/// `cairn.revocations` line that breaks the format.
pub fn parse_revocations_line(line: &str) -> Result<Value> {
    Ok(RevocationsRef::parse_line(line)?
        .as_ref()
        .map_or(Value::Null, view::revocations_ref))
}

/// Which issuers `bluxVerifyToken` accepts.
#[derive(Debug, Clone)]
pub enum BluxIssuers {
    /// Any key embedded in the token (blux-reg's own behaviour).
    Any,
    /// Issuers with these fingerprints (SHA-256 of the raw Ed25519 key).
    Fingerprints(Vec<Digest>),
}

/// `bluxVerifyToken`: a blux-reg v1.0 capability token file.
pub fn blux_verify_token(
    token_json: &str,
    now: UnixTime,
    revocations: Option<&str>,
    issuers: &BluxIssuers,
) -> Result<Value> {
    let policy = match issuers {
        BluxIssuers::Any => blux::TokenPolicy::any_issuer(),
        BluxIssuers::Fingerprints(f) => blux::TokenPolicy::trusted_fingerprints(f.iter().copied()),
    };
    let v = blux::verify_token(token_json, now, revocations, &policy)?;
    Ok(with_valid(view::blux_token_verdict(&v)))
}

/// `bluxVerifyManifest`: a blux-reg v1.0 manifest file against the artifact and trusted keys.
pub fn blux_verify_manifest(
    manifest_json: &str,
    artifact: &Artifact,
    keys: &[PublicKey],
) -> Result<Value> {
    let v = blux::verify_manifest(manifest_json, &artifact.sha256(), keys)?;
    Ok(with_valid(view::blux_manifest_verdict(&v)))
}

/// `bluxVerifyLedger`: the hash chain of a blux-reg ledger file (JSON lines).
pub fn blux_verify_ledger(text: &str) -> Result<Value> {
    let s = blux::verify_ledger(text)?;
    Ok(with_valid(view::blux_ledger(&s)))
}

/// `verifyExport`: a registry's ledger export stream (cairn-core's `ledger::export`, the same
/// code as the store's import): every entry through the rule book, the tree, every checkpoint,
/// and what the caller expects of the source (its origin; a checkpoint from it and its key).
pub fn verify_export(
    stream: &[u8],
    origin: Option<String>,
    checkpoint: Option<(String, PublicKey)>,
) -> Result<Value> {
    let expect = ledger::export::ExportExpectation { origin, checkpoint };
    let r = ledger::export::verify_export(stream, &expect)?;
    Ok(json!({
        "valid": true,
        "origin": r.origin,
        "entries": r.entries,
        "checkpoints": r.checkpoints,
        "root": hex_encode(&r.root),
        "log_key": r.log_key.to_hex(),
    }))
}

/// `bluxCanonicalJson`: blux-reg's canonical JSON of a JSON text, and its SHA-256.
pub fn blux_canonical_json(text: &str) -> Result<Value> {
    let v = blux::parse_json(text)?;
    let canonical = blux::canonical_json(&v);
    Ok(json!({
        "canonical": canonical,
        "sha256": hex_encode(&cairn_core::encoding::sha256(&[canonical.as_bytes()])),
    }))
}

/// `inspect`: decodes any cairn object it recognises into a JSON view, verifying nothing.
/// The view's `kind` names what was found: `envelope` (compact or DSSE JSON, with its
/// payload decoded when the type is known), `bundle`, `checkpoint`, `blux_token`,
/// `blux_manifest`.
pub fn inspect(bytes: &[u8]) -> Result<Value> {
    let Some(first) = bytes.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Err(Error::malformed("empty input"));
    };
    let body = &bytes[first..];
    if body.starts_with(cairn_core::dsse::COMPACT_MAGIC) {
        return Ok(view::envelope_decoded(&Envelope::from_compact(body)?));
    }
    if body.starts_with(cairn_core::bundle::BUNDLE_MAGIC) {
        return Ok(view::bundle(&Bundle::from_bytes(body)?));
    }
    let text = core::str::from_utf8(bytes)
        .map_err(|_| Error::malformed("not a cairn object: binary data without a known magic"))?;
    if body.starts_with(b"{") {
        return inspect_json(text);
    }
    if text.contains("\n\n") {
        return view::checkpoint_note(bytes);
    }
    Err(Error::malformed(
        "not a cairn object: expected an envelope, a bundle, a checkpoint note or a blux-reg file",
    ))
}

fn inspect_json(text: &str) -> Result<Value> {
    if text.len() > cairn_core::dsse::MAX_JSON_LEN {
        return Err(Error::new(ErrorCode::TooLarge, "JSON input is too large"));
    }
    let probe: Value =
        serde_json::from_str(text).map_err(|e| Error::malformed(format!("JSON: {e}")))?;
    if probe.get("payloadType").is_some() {
        return Ok(view::envelope_decoded(&Envelope::from_json(text)?));
    }
    if probe.get("token_type").is_some() || probe.get("ttl_seconds").is_some() {
        return Ok(
            json!({"kind": "blux_token", "token_hash": hex_encode(&blux::token_hash(text)?), "fields": probe}),
        );
    }
    if probe.get("artifact_sha256").is_some() && probe.get("key_fingerprint").is_some() {
        let v = blux::parse_json(text)?;
        return Ok(
            json!({"kind": "blux_manifest", "manifest_hash": hex_encode(&blux::canonical_hash(&v)), "fields": probe}),
        );
    }
    Err(Error::malformed(
        "JSON object is neither a DSSE envelope nor a blux-reg token or manifest",
    ))
}

/// `ArtifactHasher`: SHA-256 and length of an artifact fed in chunks (cairn-core's hasher,
/// so the digest is the one manifests state).
#[derive(Clone, Default)]
pub struct StreamHasher(manifest::ArtifactHasher);

impl StreamHasher {
    /// A hasher that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    /// Bytes seen so far.
    pub fn size(&self) -> u64 {
        self.0.size()
    }

    /// Size and digest of everything fed so far (the hasher can keep going afterwards).
    pub fn finish(&self) -> (u64, Digest) {
        self.0.clone().finalize()
    }

    /// `{algorithm, digest, size}` view.
    pub fn view(&self) -> Value {
        let (size, digest) = self.finish();
        json!({"algorithm": "sha256", "digest": hex_encode(&digest), "size": size})
    }
}

/// One tile handed to `verifyFromTiles`: its path below the log's prefix (`tile/0/x001/234`,
/// `tile/entries/000.p/7`) and the bytes served there.
#[derive(Debug, Clone, Default)]
pub struct TileInput {
    /// The tile's path (C2SP tlog-tiles).
    pub path: String,
    /// The bytes fetched for it (untrusted: checked and verified like everything else).
    pub data: Vec<u8>,
}

/// What `verifyFromTiles` is asked to prove beside the checkpoint.
#[derive(Debug, Clone, Default)]
pub struct TileRequest {
    /// An entry to fetch from its entry bundle and prove included.
    pub entry: Option<u64>,
    /// An older checkpoint note of the same log (same verifiers and policy) to prove the new
    /// one consistent with.
    pub old_checkpoint: Option<Vec<u8>>,
}

/// Most tiles one `verifyFromTiles` call takes (a proof needs at most two per tile level).
pub const MAX_TILES: usize = 256;

/// Most bytes of tile data one `verifyFromTiles` call takes, all tiles together.
pub const MAX_TILES_BYTES: usize = 64 << 20;

/// One of the tiles a caller gives `verifyFromTiles`, read by a binding: its path first, then
/// its data through `read(limit)` with the most a tile at that path can hold (a hash tile
/// 256 hashes, 8 KiB; an entry bundle `cairn_core::tiles::MAX_BUNDLE_BYTES`), adding to
/// `total`, which stays within [`MAX_TILES_BYTES`] (`too_large`). A server answering every
/// path with a large body costs the caller at most that.
pub fn tile_input(
    path: String,
    read: impl FnOnce(usize) -> Result<Vec<u8>>,
    total: &mut usize,
) -> Result<TileInput> {
    use cairn_core::tiles::{Tile, TileKind, FULL_TILE_BYTES, MAX_BUNDLE_BYTES};
    let limit = match Tile::parse_path(&path) {
        Ok(Tile {
            kind: TileKind::Hashes(_),
            ..
        }) => FULL_TILE_BYTES,
        _ => MAX_BUNDLE_BYTES,
    };
    let data = read(limit)?;
    *total = total.saturating_add(data.len());
    crate::input::check_len(*total, MAX_TILES_BYTES, "tiles, all together")?;
    Ok(TileInput { path, data })
}

/// `verifyFromTiles`: a checkpoint verified as `verifyCheckpoint` does, then, from `tiles`
/// alone (cairn-core's tile client), the entry asked for and its inclusion proof and the
/// consistency proof from an older checkpoint, each verified against the checkpoint's root.
///
/// The package never fetches: when tiles are missing the answer is `{"complete": false,
/// "missing": [paths]}` (every hash tile the proofs need, and the entry bundle), and the
/// caller fetches those and calls again with them added (a partial tile the log has deleted
/// may be given under its full tile's path instead: its first hashes or entries are used).
/// A complete answer is `{"valid": true, "complete": true, ...}`; anything that does not
/// verify throws.
pub fn verify_from_tiles(
    note: &[u8],
    verifiers: &[CheckpointVerifier],
    policy: &CheckpointPolicy,
    request: &TileRequest,
    tiles: &[TileInput],
) -> Result<Value> {
    use cairn_core::tiles::{Tile, TileClient, TileKind};
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    let cp = core_verify_checkpoint(note, verifiers, policy)?;
    let old = match &request.old_checkpoint {
        Some(n) => Some(
            core_verify_checkpoint(n, verifiers, policy).map_err(|e| e.context("oldCheckpoint"))?,
        ),
        None => None,
    };
    let mut given: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for t in tiles {
        Tile::parse_path(&t.path).map_err(|e| e.context("tiles"))?;
        given.insert(t.path.as_str(), t.data.as_slice());
    }
    // A missing hash tile is noted and stood in for by zeros, so one call names every tile the
    // proofs need (their shape does not depend on the hashes); a missing entry bundle ends the
    // call. Either way nothing is verified until every tile is there.
    let missing = RefCell::new(Vec::<String>::new());
    let fetcher = |t: &Tile| -> Result<Vec<u8>> {
        let path = t.path();
        if let Some(b) = given.get(path.as_str()) {
            return Ok(b.to_vec());
        }
        // A partial tile the log has deleted, given under its full tile's path: failing it
        // sends the client to the full tile, whose first hashes or entries stand in.
        let full = Tile {
            width: cairn_core::tiles::TILE_WIDTH,
            ..*t
        };
        if !t.is_full() && given.contains_key(full.path().as_str()) {
            return Err(Error::malformed(format!(
                "tile {path} is not given; its full tile is"
            )));
        }
        // The full tile the client asks for when a partial one is missing (a log may delete
        // partial tiles): named only through the partial, which is what to fetch first.
        let mut noted = missing.borrow_mut();
        let fallback = t.is_full()
            && noted.last().is_some_and(|p| {
                p.strip_prefix(path.as_str())
                    .is_some_and(|r| r.starts_with(".p/"))
            });
        if !fallback {
            noted.push(path.clone());
        }
        drop(noted);
        match t.kind {
            TileKind::Entries => Err(Error::malformed(format!("tile {path} is missing"))),
            TileKind::Hashes(_) => Ok(vec![0; t.hash_bytes_len()]),
        }
    };
    let client = TileClient::new(&cp, fetcher);
    let entry = request.entry.map(|i| client.entry(i).map(|e| (i, e)));
    let consistency = old.as_ref().map(|o| client.consistency_proof(o));
    let mut missing = missing.into_inner();
    if !missing.is_empty() {
        missing.sort();
        missing.dedup();
        return Ok(json!({"complete": false, "missing": missing}));
    }
    // The checkpoint as verifyCheckpoint shows it (its extension lines too, such as
    // `cairn.revocations`), marked complete.
    let mut out = json!({"valid": true, "complete": true});
    if let (Value::Object(o), Value::Object(cp)) = (&mut out, view::verified_checkpoint(&cp)) {
        o.extend(cp);
    }
    if let Some(e) = entry {
        let (index, (bytes, proof)) = e?;
        out["entry"] = json!({
            "index": index,
            "bytes": cairn_core::encoding::b64_encode(&bytes),
            "leaf_hash": hex_encode(&merkle::leaf_hash(&bytes)),
            "proof": proof.hashes.iter().map(|h| hex_encode(h)).collect::<Vec<_>>(),
            "ledger_entry": ledger::LedgerEntry::from_bytes(&bytes).map(|e| view::ledger_entry(&e)).unwrap_or(Value::Null),
        });
    }
    if let (Some(c), Some(o)) = (consistency, old) {
        let proof = c?;
        out["consistency"] = json!({
            "old_size": o.size,
            "old_root": hex_encode(&o.root),
            "proof": proof.hashes.iter().map(|h| hex_encode(h)).collect::<Vec<_>>(),
        });
    }
    Ok(out)
}

/// `verifyKeyRequest`: a peer key request (cairn-core's `peer::verify_key_request`) addressed
/// to `me`, its timestamp within `max_skew` seconds of `now`. Nonces are the registry's to
/// track; the result says what to track.
pub fn verify_key_request(message: &[u8], me: &str, now: UnixTime, max_skew: u64) -> Result<Value> {
    let v = cairn_core::peer::verify_key_request(message, me, now, max_skew)?;
    Ok(with_valid(view::key_request(&v)))
}

/// The options of `verifyKeyResponse` whose presence asks for a vouching decision.
pub const VOUCH_OPTIONS: [&str; 5] = [
    "bootstrapRoot",
    "logRoots",
    "pinnedKeyId",
    "trustOnFirstUse",
    "maxAge",
];

/// Who may vouch for a peer's key in `verifyKeyResponse` (cairn-core's `peer::VouchPolicy`,
/// with the roots as given: signed trust-root envelopes).
#[derive(Debug, Clone, Default)]
pub struct PeerVouchOptions {
    /// The caller named at least one of the options below (even an empty list of logs):
    /// vouching runs, and a key nothing vouches for is an error.
    pub asked: bool,
    /// Trust roots whose peer-role keys pin bootstrap peers (label = peer id).
    pub bootstrap_root: Option<Vec<u8>>,
    /// The peers' own registries' logs, each (peer id, trust root) vouching for that peer's
    /// keys through a key-transparency bundle.
    pub log_roots: Vec<(String, Vec<u8>)>,
    /// The key id the caller already pinned for the responder.
    pub pinned_key_id: Option<String>,
    /// Accept the first key seen for a peer nothing else vouches for.
    pub trust_on_first_use: bool,
    /// Require both an Ed25519 and an ML-DSA signature on a transparency checkpoint.
    pub require_hybrid_checkpoint: bool,
    /// The oldest transparency checkpoint accepted, in seconds (`maxAge`; `stale` beyond it,
    /// and for a version 1 bundle, which carries no checkpoint time).
    pub max_age: Option<u64>,
}

/// `verifyKeyResponse`: a peer key response (a compact envelope, or a bundle whose subject is
/// one) answering `me`: its ML-DSA-65 (or hybrid) signature by the key it carries, the FIPS 203
/// checks of its ML-KEM-768 key, its addressee and time. When `vouch` asks for it, cairn-core's
/// `peer::vouch` then decides whether the key is the responder's (a bootstrap pin, the caller's
/// pinned key, the key-transparency bundle against a trusted log, or trust on first use) and
/// the result's `vouch` says which rule applied; a key nothing vouches for is an error
/// (`unauthorized`, `key_changed`, `key_mismatch`, a proof's code). Without it, `vouch` is null.
pub fn verify_key_response(
    message: &[u8],
    me: &str,
    now: UnixTime,
    max_skew: u64,
    vouch: &PeerVouchOptions,
) -> Result<Value> {
    let v = cairn_core::peer::verify_key_response(message, me, now, max_skew)?;
    let mut out = with_valid(view::key_response(&v));
    out["vouch"] = if vouch.asked {
        let bootstrap = vouch
            .bootstrap_root
            .as_deref()
            .map(|b| crate::input::pinned_root_recent(b, "bootstrapRoot"))
            .transpose()?;
        let logs = vouch
            .log_roots
            .iter()
            .map(|(peer, b)| {
                crate::input::pinned_root_recent(b, "logRoots")
                    .map(|root| cairn_core::peer::PeerLog::new(peer, root))
            })
            .collect::<Result<Vec<_>>>()?;
        let pinned = vouch
            .pinned_key_id
            .as_deref()
            .map(|k| cairn_core::crypto::KeyId::from_hex(k).map_err(|e| e.context("pinnedKeyId")))
            .transpose()?;
        let policy = cairn_core::peer::VouchPolicy {
            bootstrap: bootstrap.as_ref(),
            transparency: &logs,
            require_hybrid_checkpoint: vouch.require_hybrid_checkpoint,
            trust_on_first_use: vouch.trust_on_first_use,
            max_age: vouch.max_age,
        };
        view::vouch(&cairn_core::peer::vouch(&v, pinned.as_ref(), &policy, now)?)
    } else {
        Value::Null
    };
    Ok(out)
}
