//! Bundles: everything an offline verifier needs, besides its pinned trust root, to accept a
//! token or a manifest.
//!
//! A bundle carries the signed object (and a token's delegation parents), the ledger entry that
//! recorded it, that entry's inclusion proof, a signed checkpoint of the ledger, and the trust
//! root versions issued after the one the verifier may have pinned. [`verify_bundle`] checks,
//! in order: the trust-root rotation chain, the checkpoint's signatures (by the newest root's
//! checkpoint keys, hybrid by default), the inclusion of the entry under the checkpoint's root,
//! that the entry records exactly this object, and the object itself (signatures by keys
//! holding the right role, validity at `now`, revocation, delegation, artifact digest).
//!
//! A version 2 bundle ([`BUNDLE_VERSION_2`]) adds a [`RevocationSection`]: proofs, against the
//! revocation map the checkpoint's `cairn.revocations` line commits to, that the subject, its
//! signers' keys and a token's ancestors are not revoked, and the checkpoint's newest entry,
//! whose time dates the checkpoint for [`BundlePolicy::max_age`]. The verdict then reports
//! [`NotRevokedAsOf`]: not revoked as of checkpoint N — nothing about revocations after it.
//!
//! Encoding: `CBDL` ‖ postcard([`Bundle`]) (‖ postcard([`RevocationSection`]) for version 2),
//! canonical, at most [`MAX_BUNDLE_LEN`] bytes.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::checkpoint::{
    check_freshness, verify_checkpoint, CheckpointPolicy, CheckpointVerifier, LastSeen,
    RevocationsRef, TrustRootRef, VerifiedCheckpoint,
};
use crate::crypto::KeyId;
use crate::dsse::Envelope;
use crate::encoding::{
    from_postcard, from_postcard_canonical, hex32, hex_encode, to_postcard, Digest,
};
use crate::error::{Error, ErrorCode, Result};
use crate::ledger::{Event, LedgerEntry};
use crate::manifest::{
    manifest_digest, verify_manifest, ArtifactCheck, VerifiedManifest, MANIFEST_PAYLOAD_TYPE,
};
use crate::merkle::{leaf_hash, InclusionProof};
use crate::revocation::{map_key, ObjectKind, RevocationProof};
use crate::token::{verify_token, VerifiedToken, VerifyOptions, TOKEN_PAYLOAD_TYPE};
use crate::trust::{Role, TrustRoot, VerifiedRoot};
use crate::UnixTime;

mod refresh;
pub use refresh::{refresh_bundle, RefreshPieces, REFRESH_MAGIC, REFRESH_VERSION};

/// Magic prefix of an encoded bundle.
pub const BUNDLE_MAGIC: &[u8; 4] = b"CBDL";
/// Bundle format version 1: no revocation proofs, no checkpoint time.
pub const BUNDLE_VERSION: u8 = 1;
/// Bundle format version 2: version 1 followed by a [`RevocationSection`] (non-membership
/// proofs against the checkpoint's revocation map, and the checkpoint's newest entry, which
/// dates it).
pub const BUNDLE_VERSION_2: u8 = 2;
/// Most revocation proofs a version 2 bundle may carry.
pub const MAX_REVOCATION_PROOFS: usize = 96;
/// Largest encoded bundle accepted.
pub const MAX_BUNDLE_LEN: usize = 1024 * 1024;
/// Most trust-root versions a bundle may carry.
pub const MAX_TRUST_CHAIN: usize = 64;

/// A self-contained proof for one token or manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// Format version ([`BUNDLE_VERSION`]).
    pub version: u8,
    /// The token or manifest envelope.
    pub subject: Envelope,
    /// For a delegated token: its ancestors, root token first. Empty otherwise.
    pub parents: Vec<Envelope>,
    /// The ledger entry bytes that recorded the subject (the Merkle leaf).
    pub entry: Vec<u8>,
    /// Inclusion proof of `entry` in the tree of `checkpoint`.
    pub inclusion: InclusionProof,
    /// The signed checkpoint note (C2SP signed-note text).
    pub checkpoint: String,
    /// Trust-root versions, oldest first, up to the one the registry used. Versions at or
    /// below the verifier's pinned one are skipped.
    pub trust_chain: Vec<Envelope>,
    /// Id of the trust root the registry used when it exported the bundle.
    #[serde(with = "hex32")]
    pub root_id: Digest,
    /// Version 2 only: the proofs that the subject, its signers' keys and a token's ancestors
    /// are not revoked as of the checkpoint. Encoded after `root_id`; absent from version 1.
    #[serde(skip)]
    pub revocation: Option<RevocationSection>,
}

/// The part a version 2 bundle adds after the version 1 fields.
///
/// `newest` is the inclusion of the checkpoint's newest entry (leaf `size − 1`): its time is
/// the **checkpoint time** a maximum age is measured from. A checkpoint of size N cannot be
/// signed before its entry N − 1 was logged, and entry times never go back along the chain,
/// so the log's own history vouches for it (a checkpoint carries no timestamp of its own; a
/// later signing time would be the log's word only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RevocationSection {
    /// The ledger entry at index `checkpoint size − 1` (the Merkle leaf bytes).
    pub newest_entry: Vec<u8>,
    /// Its inclusion proof in the checkpoint's tree.
    pub newest_inclusion: InclusionProof,
    /// Proofs against the checkpoint's revocation map, strictly ascending by (kind, id).
    pub proofs: Vec<ObjectProof>,
}

/// A proof about one object against a revocation map (docs/FORMATS.md section 17).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectProof {
    /// The object's kind byte (`01` key, `02` token, `03` manifest).
    pub kind: u8,
    /// The object's id (key id, token id, manifest digest).
    #[serde(with = "hex32")]
    pub id: Digest,
    /// The proof's bytes (section 17 encoding, at most 8234 bytes).
    pub proof: Vec<u8>,
}

impl Bundle {
    /// `CBDL` ‖ postcard(bundle): the version 1 fields, then for version 2 the
    /// [`RevocationSection`] (an empty one if `revocation` is `None`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::from(&BUNDLE_MAGIC[..]);
        out.extend_from_slice(&to_postcard(self));
        if self.version == BUNDLE_VERSION_2 {
            match &self.revocation {
                Some(r) => out.extend_from_slice(&to_postcard(r)),
                None => out.extend_from_slice(&to_postcard(&RevocationSection::default())),
            }
        }
        out
    }

    /// Parses an encoded bundle (canonical encoding, size limits, known version).
    pub fn from_bytes(bytes: &[u8]) -> Result<Bundle> {
        if bytes.len() > MAX_BUNDLE_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "bundle is larger than 1 MiB",
            ));
        }
        let body = bytes
            .strip_prefix(&BUNDLE_MAGIC[..])
            .ok_or_else(|| Error::malformed("bundle: missing CBDL magic"))?;
        let version = body.first().copied();
        if version.is_some_and(|v| v != BUNDLE_VERSION && v != BUNDLE_VERSION_2) {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                alloc::format!("bundle version {} is not supported", body[0]),
            ));
        }
        let bundle = if version == Some(BUNDLE_VERSION_2) {
            let (mut bundle, rest) = postcard::take_from_bytes::<Bundle>(body)
                .map_err(|e| Error::malformed(alloc::format!("bundle: cannot decode: {e}")))?;
            let section: RevocationSection =
                from_postcard(rest, MAX_BUNDLE_LEN, "bundle revocation section")?;
            if section.proofs.len() > MAX_REVOCATION_PROOFS {
                return Err(Error::new(
                    ErrorCode::TooLarge,
                    "bundle: too many revocation proofs",
                ));
            }
            if section
                .proofs
                .windows(2)
                .any(|w| (w[0].kind, w[0].id) >= (w[1].kind, w[1].id))
            {
                return Err(Error::malformed(
                    "bundle: revocation proofs must be strictly ascending by (kind, id)",
                ));
            }
            bundle.revocation = Some(section);
            if bundle.to_bytes() != bytes {
                return Err(Error::malformed("bundle: not in canonical encoding"));
            }
            bundle
        } else {
            from_postcard_canonical::<Bundle>(body, MAX_BUNDLE_LEN, "bundle")?
        };
        if bundle.trust_chain.len() > MAX_TRUST_CHAIN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "bundle: trust chain too long",
            ));
        }
        // Every envelope keeps the limits an envelope decoded on its own keeps, so nothing
        // that walks a decoded bundle meets an oversized one.
        for env in core::iter::once(&bundle.subject)
            .chain(&bundle.parents)
            .chain(&bundle.trust_chain)
        {
            env.check_limits().map_err(|e| e.context("bundle"))?;
        }
        Ok(bundle)
    }

    /// A version 2 bundle's revocation proofs (none for version 1).
    pub(crate) fn revocation_proofs(&self) -> &[ObjectProof] {
        self.revocation
            .as_ref()
            .map(|r| r.proofs.as_slice())
            .unwrap_or_default()
    }

    /// What kind of object the bundle is for, from the subject's payload type.
    pub fn kind(&self) -> Result<BundleKind> {
        match self.subject.payload_type.as_str() {
            TOKEN_PAYLOAD_TYPE => Ok(BundleKind::Token),
            MANIFEST_PAYLOAD_TYPE => Ok(BundleKind::Manifest),
            other => Err(Error::new(
                ErrorCode::DomainMismatch,
                alloc::format!("bundles carry tokens or manifests, not {other:?}"),
            )),
        }
    }
}

/// The kind of object a bundle proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleKind {
    /// A capability token.
    Token,
    /// An artifact manifest.
    Manifest,
}

/// What the verifier demands beyond the trust root's own rules.
#[derive(Debug, Clone)]
pub struct BundlePolicy<'a> {
    /// Require the checkpoint signers to include both an Ed25519 and an ML-DSA signature
    /// (a hybrid key satisfies both). Default: true.
    pub require_hybrid_checkpoint: bool,
    /// For manifests: the artifact to compare with the manifest's size and digest.
    pub artifact: ArtifactCheck<'a>,
    /// For tokens: the audience and capability the relying party expects.
    pub token: VerifyOptions<'a>,
    /// Revoked token ids known to the verifier (a token or any ancestor listed → `revoked`).
    pub revoked_tokens: &'a [Digest],
    /// The newest checkpoint (or tree size) the verifier accepted before: an older checkpoint
    /// is refused (`replayed`), as is another root at the same size (`proof_invalid`); see
    /// [`check_freshness`]. `None`: no freshness check.
    pub last_seen: Option<&'a LastSeen>,
    /// The oldest checkpoint accepted, in seconds: a bundle whose checkpoint time (the time of
    /// the checkpoint's newest entry, which a version 2 bundle carries) is more than `max_age`
    /// before `now` is refused (`stale`). A version 1 bundle has no checkpoint time and is
    /// refused (`stale`) whenever a maximum age is set. `None`: no age limit.
    pub max_age: Option<u64>,
}

impl Default for BundlePolicy<'_> {
    fn default() -> Self {
        BundlePolicy {
            require_hybrid_checkpoint: true,
            artifact: ArtifactCheck::None,
            token: VerifyOptions::default(),
            revoked_tokens: &[],
            last_seen: None,
            max_age: None,
        }
    }
}

/// A signer the verdict reports: its key id, algorithm and label in the trust root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfo {
    /// Key id.
    pub key_id: KeyId,
    /// Algorithm name.
    pub algorithm: &'static str,
    /// The key's label in the trust root.
    pub label: String,
    /// Role names the trust root gives the key.
    pub roles: Vec<&'static str>,
}

/// The structured result of [`verify_bundle`].
#[derive(Debug, Clone)]
pub struct BundleVerdict {
    /// Token or manifest.
    pub kind: BundleKind,
    /// Token id or manifest digest.
    pub subject_id: Digest,
    /// Who signed the subject (for a delegated token: the issuer of the root token first,
    /// then each delegating holder).
    pub signers: Vec<SignerInfo>,
    /// The checkpoint the entry is included in.
    pub checkpoint: VerifiedCheckpoint,
    /// Checkpoint signers.
    pub checkpoint_signers: Vec<SignerInfo>,
    /// The ledger entry's sequence number and time.
    pub entry_seq: u64,
    /// The ledger entry's time.
    pub entry_time: UnixTime,
    /// The trust root the verification used (newest of the pinned one and the bundle's chain).
    pub trust_root_version: u64,
    /// Its id.
    pub trust_root_id: Digest,
    /// Whether that id equals the one the registry recorded in the bundle.
    pub trust_root_matches_bundle: bool,
    /// The checks performed, in order.
    pub checks: Vec<&'static str>,
    /// Details for a token.
    pub token: Option<VerifiedToken>,
    /// Details for a manifest.
    pub manifest: Option<VerifiedManifest>,
    /// Version 2: what the revocation proofs established (`None` for a version 1 bundle,
    /// which proves nothing about revocations).
    pub not_revoked_as_of: Option<NotRevokedAsOf>,
}

/// "Not revoked as of checkpoint N": the subject, its signers' keys and a token's ancestors
/// are absent from the revocation map the checkpoint of size N commits to.
///
/// It says nothing about revocations logged after entry N − 1; bound that with a maximum
/// checkpoint age ([`BundlePolicy::max_age`]) or a newer bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRevokedAsOf {
    /// The checkpoint's size N.
    pub size: u64,
    /// The number of objects the checkpoint's map holds as revoked.
    pub revocations: u64,
    /// The map's root.
    pub root: Digest,
    /// The checkpoint time: the time of its newest entry (N − 1).
    pub time: UnixTime,
    /// The objects proven not revoked, by kind and id, ascending.
    pub objects: Vec<(ObjectKind, Digest)>,
}

impl BundleVerdict {
    /// A plain JSON view (for the CLI's `--json`, the wasm binding and the web page).
    pub fn to_json(&self) -> serde_json::Value {
        let signer = |s: &SignerInfo| json!({"key_id": s.key_id.to_hex(), "algorithm": s.algorithm, "label": s.label, "roles": s.roles});
        json!({
            "valid": true,
            "kind": match self.kind { BundleKind::Token => "token", BundleKind::Manifest => "manifest" },
            "subject_id": hex_encode(&self.subject_id),
            "signers": self.signers.iter().map(signer).collect::<Vec<_>>(),
            "checkpoint": {
                "origin": self.checkpoint.origin,
                "size": self.checkpoint.size,
                "root": hex_encode(&self.checkpoint.root),
                "signers": self.checkpoint_signers.iter().map(signer).collect::<Vec<_>>(),
            },
            "entry": {"seq": self.entry_seq, "time": self.entry_time},
            "trust_root": {
                "version": self.trust_root_version,
                "id": hex_encode(&self.trust_root_id),
                "matches_bundle": self.trust_root_matches_bundle,
            },
            "checks": self.checks,
            "token": self.token.as_ref().map(|t| t.to_json()),
            "manifest": self.manifest.as_ref().map(|m| m.to_json()),
            "not_revoked_as_of": self.not_revoked_as_of.as_ref().map(crate::view::not_revoked_as_of),
        })
    }
}

fn signer_info(root: &TrustRoot, key_id: &KeyId) -> SignerInfo {
    match root.key(key_id) {
        Some(k) => SignerInfo {
            key_id: *key_id,
            algorithm: k.public_key.algorithm().name(),
            label: k.label.clone(),
            roles: k.roles.iter().map(|r| r.name()).collect(),
        },
        // A delegating holder: authorised by its parent token, not by the trust root.
        None => SignerInfo {
            key_id: *key_id,
            algorithm: "",
            label: String::from("delegated holder"),
            roles: Vec::new(),
        },
    }
}

/// Walks the bundle's trust chain forward from the pinned root, skipping versions the verifier
/// already has; the newest root must be unexpired at `now`.
fn newest_root(pinned: &VerifiedRoot, chain: &[Envelope], now: UnixTime) -> Result<VerifiedRoot> {
    let mut newer = Vec::new();
    for env in chain {
        let version = TrustRoot::from_bytes(&env.payload)
            .map_err(|e| e.context("bundle trust chain"))?
            .root_version;
        if version > pinned.root_version {
            newer.push(env.clone());
        }
    }
    crate::trust::verify_rotation_chain(pinned, &newer, now)
}

/// What [`verify_logged_entry`] established: the newest trust root, the verified checkpoint
/// and the ledger entry proven included under it.
pub(crate) struct LoggedEntry {
    pub(crate) root: VerifiedRoot,
    pub(crate) checkpoint: VerifiedCheckpoint,
    pub(crate) entry: LedgerEntry,
}

/// The part of bundle verification that does not depend on the subject: the trust-root chain
/// from `pinned`, the checkpoint's signatures by the newest root's checkpoint keys, the
/// trust root the checkpoint names (against the chain), its freshness against `last_seen`, the
/// inclusion of the entry under the checkpoint's root, and the entry's decoding. Pushes the
/// names of the checks it made onto `checks`.
pub(crate) fn verify_logged_entry(
    bundle: &Bundle,
    pinned: &VerifiedRoot,
    now: UnixTime,
    require_hybrid_checkpoint: bool,
    last_seen: Option<&LastSeen>,
    checks: &mut Vec<&'static str>,
) -> Result<LoggedEntry> {
    let root =
        newest_root(pinned, &bundle.trust_chain, now).map_err(|e| e.context("trust root"))?;
    checks.push("trust_root_chain");

    // The checkpoint: signed by the newest root's checkpoint keys under the root's origin.
    let verifiers: Vec<CheckpointVerifier> = root
        .keys_for(Role::Checkpoint, now)
        .map(|k| CheckpointVerifier {
            name: root.origin.clone(),
            public_key: k.public_key.clone(),
        })
        .collect();
    let threshold = root.threshold(Role::Checkpoint);
    if verifiers.is_empty() || threshold == 0 {
        return Err(Error::new(
            ErrorCode::Unauthorized,
            "the trust root names no valid checkpoint key",
        ));
    }
    let cp_policy = CheckpointPolicy {
        origin: root.origin.clone(),
        threshold,
        required: Vec::new(),
    };
    let checkpoint = verify_checkpoint(bundle.checkpoint.as_bytes(), &verifiers, &cp_policy)
        .map_err(|e| e.context("checkpoint"))?;
    if require_hybrid_checkpoint {
        let algs = || {
            checkpoint
                .signers
                .iter()
                .filter_map(|id| root.key(id))
                .map(|k| k.public_key.algorithm())
        };
        let classical = algs().any(|a| a.has_ed25519());
        let post_quantum = algs().any(|a| a.is_post_quantum());
        if !(classical && post_quantum) {
            return Err(Error::new(
                ErrorCode::ThresholdNotMet,
                "checkpoint: policy requires both an Ed25519 and an ML-DSA signature",
            ));
        }
    }
    checks.push("checkpoint_signatures");

    // The trust root the checkpoint names must be one the chain reached: a checkpoint signed
    // under root v3 with a chain cut at v2 would let keys v3 removed still count.
    if let Some(named) = TrustRootRef::from_extensions(&checkpoint.extensions)
        .map_err(|e| e.context("checkpoint"))?
    {
        check_trust_root(&named, &root)?;
        checks.push("checkpoint_trust_root");
    }

    // Not older than, nor a split view of, what the verifier saw before.
    if let Some(last) = last_seen {
        check_freshness(&checkpoint.origin, checkpoint.size, &checkpoint.root, last)
            .map_err(|e| e.context("checkpoint freshness"))?;
        checks.push("checkpoint_freshness");
    }

    // The entry is in the tree the checkpoint commits to.
    if bundle.inclusion.tree_size != checkpoint.size {
        return Err(Error::new(
            ErrorCode::ProofInvalid,
            alloc::format!(
                "inclusion proof is for tree size {}, the checkpoint for {}",
                bundle.inclusion.tree_size,
                checkpoint.size
            ),
        ));
    }
    bundle
        .inclusion
        .verify(&leaf_hash(&bundle.entry), &checkpoint.root)
        .map_err(|e| e.context("ledger entry inclusion"))?;
    checks.push("inclusion_proof");

    let entry = LedgerEntry::from_bytes(&bundle.entry).map_err(|e| e.context("ledger entry"))?;
    if entry.seq != bundle.inclusion.leaf_index {
        return Err(Error::new(
            ErrorCode::ProofInvalid,
            "ledger entry sequence differs from its leaf index",
        ));
    }
    Ok(LoggedEntry {
        root,
        checkpoint,
        entry,
    })
}

/// The rule for a checkpoint naming trust root `named` when the verifier's newest root
/// (pinned, or reached through the bundle's chain) is `root`: a newer version than `root` is a
/// chain cut short (`chain_broken`), the same version with another id is another root
/// (`chain_broken`); an older version is fine (the verifier already holds a newer root).
fn check_trust_root(named: &TrustRootRef, root: &VerifiedRoot) -> Result<()> {
    if named.version > root.root_version {
        return Err(Error::new(
            ErrorCode::ChainBroken,
            alloc::format!(
                "the checkpoint names trust root version {}, the bundle's trust chain reaches only version {}: the newer roots are missing",
                named.version, root.root_version
            ),
        ));
    }
    if named.version == root.root_version && named.id != root.id() {
        return Err(Error::new(
            ErrorCode::ChainBroken,
            alloc::format!(
                "the checkpoint names trust root version {} with id {}, the verifier's root of that version is {}",
                named.version,
                hex_encode(&named.id),
                hex_encode(&root.id())
            ),
        ));
    }
    Ok(())
}

/// Verifies a bundle offline against a pinned trust root at time `now`.
///
/// Errors carry the code of the first check that failed: the trust chain (`chain_broken`,
/// `expired`, `threshold_not_met`, ...), the checkpoint (`signature_invalid`,
/// `threshold_not_met`, `domain_mismatch`), the trust root it names against the chain
/// (`chain_broken`), its freshness against `policy.last_seen`
/// (`replayed`, `proof_invalid`, `domain_mismatch`), the inclusion proof or the entry not recording the
/// subject (`proof_invalid`), the subject (`signature_invalid`, `unknown_key`, `expired`,
/// `not_yet_valid`, `revoked`, `delegation_invalid`, `digest_mismatch`, ...); for a version 2
/// bundle, the checkpoint's map and newest entry (`proof_invalid`), the maximum age (`stale`,
/// also for a version 1 bundle when `policy.max_age` is set), and the revocation proofs
/// (`revoked` for a proven revocation, `proof_invalid` for a missing proof or another root,
/// `malformed` for a damaged one). Before all of them, a policy asking what the bundle's kind
/// cannot answer is `domain_mismatch`: an artifact check of a token bundle, an audience or
/// capability of a manifest bundle.
///
/// ```
/// # #[cfg(feature = "std")] {
/// use cairn_core::bundle::{example, verify_bundle, Bundle, BundlePolicy};
/// let (pinned, bundle) = example::manifest_bundle(b"artifact bytes");
/// let bundle = Bundle::from_bytes(&bundle.to_bytes())?;
/// let policy = BundlePolicy { artifact: cairn_core::manifest::ArtifactCheck::Bytes(b"artifact bytes"), ..Default::default() };
/// let verdict = verify_bundle(&bundle, &pinned, example::NOW, &policy)?;
/// assert_eq!(verdict.checkpoint.origin, "example.test/registry");
/// let tampered = BundlePolicy { artifact: cairn_core::manifest::ArtifactCheck::Bytes(b"other bytes"), ..Default::default() };
/// assert_eq!(verify_bundle(&bundle, &pinned, example::NOW, &tampered).unwrap_err().code().as_str(), "digest_mismatch");
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_bundle(
    bundle: &Bundle,
    pinned: &VerifiedRoot,
    now: UnixTime,
    policy: &BundlePolicy<'_>,
) -> Result<BundleVerdict> {
    let mut checks = Vec::new();
    let kind = bundle.kind()?;
    // A policy asking what the bundle's kind cannot answer is refused, not dropped: a token
    // bundle vouches for no artifact, a manifest bundle grants no audience or capability (a
    // bundle of the other kind, swapped in, would otherwise pass the check asked for).
    match kind {
        BundleKind::Token if !matches!(policy.artifact, ArtifactCheck::None) => {
            return Err(Error::new(
                ErrorCode::DomainMismatch,
                "this is a token bundle: it vouches for no artifact (an artifact check needs a manifest bundle)",
            ));
        }
        BundleKind::Manifest
            if policy.token.audience.is_some() || policy.token.capability.is_some() =>
        {
            return Err(Error::new(
                ErrorCode::DomainMismatch,
                "this is a manifest bundle: it grants no audience or capability (those checks need a token bundle)",
            ));
        }
        _ => {}
    }
    if bundle.version != BUNDLE_VERSION && bundle.version != BUNDLE_VERSION_2 {
        return Err(Error::new(
            ErrorCode::UnsupportedVersion,
            "unknown bundle version",
        ));
    }

    let LoggedEntry {
        root,
        checkpoint,
        entry,
    } = verify_logged_entry(
        bundle,
        pinned,
        now,
        policy.require_hybrid_checkpoint,
        policy.last_seen,
        &mut checks,
    )?;

    // Version 2: the checkpoint's map, its time (its newest entry), and the maximum age.
    let dated = dated_checkpoint(bundle, &checkpoint, now, policy.max_age)?;
    if policy.max_age.is_some() {
        checks.push("checkpoint_age");
    }

    // The entry records exactly this subject.
    let subject_id = match kind {
        BundleKind::Token => bundle.subject.id(),
        BundleKind::Manifest => manifest_digest(&bundle.subject),
    };
    let recorded = match (&entry.event, kind) {
        (Event::TokenIssued { token_id, .. }, BundleKind::Token) => *token_id == subject_id,
        (
            Event::ManifestSigned {
                manifest_digest, ..
            },
            BundleKind::Manifest,
        )
        | (
            Event::ManifestCosigned {
                manifest_digest, ..
            },
            BundleKind::Manifest,
        ) => *manifest_digest == subject_id,
        _ => false,
    };
    if !recorded {
        return Err(Error::new(
            ErrorCode::ProofInvalid,
            "the ledger entry does not record this object",
        ));
    }
    checks.push("ledger_entry_records_subject");

    // The subject, against keys holding the right role when the entry was logged.
    let (signers, token, manifest) = match kind {
        BundleKind::Token => {
            let issuers = root.public_keys_for(Role::TokenIssuer, entry.time);
            let t = verify_token(
                &bundle.subject,
                &bundle.parents,
                &issuers,
                now,
                policy.revoked_tokens,
                &policy.token,
            )?;
            checks.extend(["token_signature", "token_validity", "token_delegation"]);
            // Only a list the verifier gave was checked: an empty one says nothing.
            if !policy.revoked_tokens.is_empty() {
                checks.push("token_revocation");
            }
            let mut signers = alloc::vec![signer_info(&root, &t.issuer.key_id())];
            // Each delegated link is signed by its parent's holder (verify_token checked that).
            let links = bundle
                .parents
                .iter()
                .skip(1)
                .chain(core::iter::once(&bundle.subject));
            if !bundle.parents.is_empty() {
                for env in links {
                    if let Some(s) = env.signatures.first() {
                        signers.push(signer_info(&root, &s.keyid));
                    }
                }
            }
            (signers, Some(t), None)
        }
        BundleKind::Manifest => {
            let keys = root.public_keys_for(Role::ManifestSigner, entry.time);
            let threshold = root.threshold(Role::ManifestSigner);
            if threshold == 0 {
                return Err(Error::new(
                    ErrorCode::Unauthorized,
                    "the trust root names no manifest signer",
                ));
            }
            let artifact = match policy.artifact {
                ArtifactCheck::Digest { size, sha256 } => ArtifactCheck::Digest { size, sha256 },
                ArtifactCheck::Bytes(b) => ArtifactCheck::Bytes(b),
                ArtifactCheck::None => ArtifactCheck::None,
            };
            let checked_artifact = !matches!(artifact, ArtifactCheck::None);
            let m = verify_manifest(&bundle.subject, &keys, threshold, artifact)?;
            checks.push("manifest_signatures");
            if checked_artifact {
                checks.push("artifact_digest");
            }
            (
                m.signers.iter().map(|id| signer_info(&root, id)).collect(),
                None,
                Some(m),
            )
        }
    };

    // Version 2: nothing it rests on is in the checkpoint's revocation map.
    let not_revoked_as_of = match dated {
        Some((map, time)) => {
            let mut objects = alloc::vec![(
                match kind {
                    BundleKind::Token => ObjectKind::Token,
                    BundleKind::Manifest => ObjectKind::Manifest,
                },
                subject_id
            )];
            objects.extend(bundle.parents.iter().map(|p| (ObjectKind::Token, p.id())));
            objects.extend(signers.iter().map(|s| (ObjectKind::Key, s.key_id.0)));
            objects.sort();
            objects.dedup();
            check_not_revoked(bundle.revocation_proofs(), &map, &objects, checkpoint.size)?;
            checks.push("not_revoked");
            Some(NotRevokedAsOf {
                size: checkpoint.size,
                revocations: map.count,
                root: map.root,
                time,
                objects,
            })
        }
        None => None,
    };

    Ok(BundleVerdict {
        kind,
        subject_id,
        signers,
        checkpoint_signers: checkpoint
            .signers
            .iter()
            .map(|id| signer_info(&root, id))
            .collect(),
        checkpoint,
        entry_seq: entry.seq,
        entry_time: entry.time,
        trust_root_version: root.root_version,
        trust_root_id: root.id(),
        trust_root_matches_bundle: root.id() == bundle.root_id,
        checks,
        token,
        manifest,
        not_revoked_as_of,
    })
}

/// A version 2 bundle's checkpoint map and time ([`checkpoint_map_and_time`]), the time held
/// to `max_age` before `now` (`stale`); a version 1 bundle has neither (`None`), and is `stale`
/// when a maximum age is set.
pub(crate) fn dated_checkpoint(
    bundle: &Bundle,
    checkpoint: &VerifiedCheckpoint,
    now: UnixTime,
    max_age: Option<u64>,
) -> Result<Option<(RevocationsRef, UnixTime)>> {
    let dated = match bundle.version {
        BUNDLE_VERSION_2 => Some(checkpoint_map_and_time(
            bundle.revocation.as_ref(),
            &checkpoint.extensions,
            checkpoint.size,
            &checkpoint.root,
        )?),
        _ => None,
    };
    if let Some(max_age) = max_age {
        let Some((_, time)) = &dated else {
            return Err(Error::new(
                ErrorCode::Stale,
                "the policy sets a maximum checkpoint age and a version 1 bundle carries no checkpoint time",
            ));
        };
        let age = now.saturating_sub(*time);
        if age > max_age {
            return Err(Error::new(
                ErrorCode::Stale,
                alloc::format!(
                    "the checkpoint (size {}) dates from {time}, {age} s before now; the policy accepts at most {max_age} s",
                    checkpoint.size
                ),
            ));
        }
    }
    Ok(dated)
}

/// A version 2 bundle's checkpoint map (its `cairn.revocations` line, required) and time
/// (the time of its newest entry, proven included at index `size − 1`).
fn checkpoint_map_and_time(
    section: Option<&RevocationSection>,
    extensions: &[String],
    size: u64,
    root: &Digest,
) -> Result<(RevocationsRef, UnixTime)> {
    let section = section
        .ok_or_else(|| Error::malformed("a version 2 bundle without its revocation section"))?;
    let map = RevocationsRef::from_extensions(extensions)
        .map_err(|e| e.context("checkpoint"))?
        .ok_or_else(|| {
            Error::new(
                ErrorCode::ProofInvalid,
                "the checkpoint commits to no revocation map (no cairn.revocations line): a version 2 bundle needs one",
            )
        })?;
    let p = &section.newest_inclusion;
    // size ≥ 1: the subject's entry is included under it.
    if p.tree_size != size || p.leaf_index != size.saturating_sub(1) {
        return Err(Error::new(
            ErrorCode::ProofInvalid,
            alloc::format!(
                "the newest entry's proof is for leaf {} of size {}, the checkpoint's newest entry is leaf {} of size {}",
                p.leaf_index,
                p.tree_size,
                size.saturating_sub(1),
                size
            ),
        ));
    }
    p.verify(&leaf_hash(&section.newest_entry), root)
        .map_err(|e| e.context("newest entry inclusion"))?;
    let newest =
        LedgerEntry::from_bytes(&section.newest_entry).map_err(|e| e.context("newest entry"))?;
    if newest.seq != p.leaf_index {
        return Err(Error::new(
            ErrorCode::ProofInvalid,
            "the newest entry's sequence differs from its leaf index",
        ));
    }
    Ok((map, newest.time))
}

/// Checks every proof the bundle carries against the map (a valid proof of presence is
/// `revoked`), and that each of `objects` has one.
pub(crate) fn check_not_revoked(
    proofs: &[ObjectProof],
    map: &RevocationsRef,
    objects: &[(ObjectKind, Digest)],
    size: u64,
) -> Result<()> {
    for p in proofs {
        let kind = ObjectKind::from_byte(p.kind).map_err(|e| e.context("revocation proof"))?;
        let what = || alloc::format!("{} {}", kind.name(), hex_encode(&p.id));
        let proof = RevocationProof::from_bytes(&p.proof)
            .map_err(|e| e.context(&alloc::format!("revocation proof of {}", what())))?;
        proof
            .verify_non_membership(&map.root, &map_key(kind, &p.id))
            .map_err(|e| {
                e.context(&alloc::format!(
                    "{} in the revocation map of checkpoint {size}",
                    what()
                ))
            })?;
    }
    for (kind, id) in objects {
        if !proofs.iter().any(|p| p.kind == kind.byte() && p.id == *id) {
            return Err(Error::new(
                ErrorCode::ProofInvalid,
                alloc::format!(
                    "the bundle carries no revocation proof for {} {}",
                    kind.name(),
                    hex_encode(id)
                ),
            ));
        }
    }
    Ok(())
}

/// The objects a registry proves not revoked in a version 2 bundle of `subject` (with its
/// delegation `parents`): the subject (token id or manifest digest), each parent token, and the
/// key id of every signature on them — a superset of what [`verify_bundle`] requires (the
/// keys whose signatures it counted). For a peer's key response (the subject of a
/// key-transparency bundle, [`crate::peer::vouch`]): the key that signed it.
pub fn revocation_objects(
    subject: &Envelope,
    parents: &[Envelope],
) -> Result<Vec<(ObjectKind, Digest)>> {
    let mut objects = Vec::new();
    match subject.payload_type.as_str() {
        TOKEN_PAYLOAD_TYPE => objects.push((ObjectKind::Token, subject.id())),
        MANIFEST_PAYLOAD_TYPE => objects.push((ObjectKind::Manifest, manifest_digest(subject))),
        crate::peer::KEY_RESPONSE_TYPE => {}
        other => {
            return Err(Error::new(
                ErrorCode::DomainMismatch,
                alloc::format!(
                    "bundles carry tokens, manifests or peer key responses, not {other:?}"
                ),
            ))
        }
    }
    objects.extend(parents.iter().map(|p| (ObjectKind::Token, p.id())));
    for env in parents.iter().chain(core::iter::once(subject)) {
        objects.extend(env.signatures.iter().map(|s| (ObjectKind::Key, s.keyid.0)));
    }
    objects.sort();
    objects.dedup();
    Ok(objects)
}

/// The proofs section of a version 2 bundle for `objects` from a stored map (any
/// [`MapNodes`](crate::revocation::nodes::MapNodes)): one proof per distinct object, in the
/// canonical (kind, id) order.
pub fn object_proofs(
    map: &impl crate::revocation::nodes::MapNodes,
    mut objects: Vec<(ObjectKind, Digest)>,
) -> Result<Vec<ObjectProof>> {
    objects.sort();
    objects.dedup();
    objects
        .into_iter()
        .map(|(kind, id)| {
            Ok(ObjectProof {
                kind: kind.byte(),
                id,
                proof: crate::revocation::nodes::prove(map, &map_key(kind, &id))?.to_bytes(),
            })
        })
        .collect()
}

/// A small in-memory registry for examples, tests and the demo (feature `std`): a trust root,
/// keys, a ledger in a [`crate::merkle::MemoryTree`], and bundle export. The redb-backed store
/// does the same durably.
#[cfg(feature = "std")]
pub mod example {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::crypto::{Algorithm, SigningKey};
    use crate::ledger::ZERO_HASH;
    use crate::manifest::{ArtifactHasher, ManifestClaims};
    use crate::merkle::{MemoryTree, TreeHashes};
    use crate::token::TokenBuilder;
    use crate::trust::{RoleSet, Thresholds, TrustedKey};

    /// The time the examples run at.
    pub const NOW: UnixTime = 1_800_000_000;
    /// The examples' log origin.
    pub const ORIGIN: &str = "example.test/registry";

    /// An in-memory registry: keys, root, ledger, tree.
    pub struct MemoryRegistry {
        /// Root key (signs trust roots).
        pub root_key: SigningKey,
        /// Log key (signs checkpoints).
        pub log_key: SigningKey,
        /// Issues tokens and signs manifests.
        pub signer: SigningKey,
        /// The signed trust root.
        pub root: Envelope,
        entries: Vec<Vec<u8>>,
        tree: MemoryTree,
        revocations: crate::revocation::NodeMap,
        revoked: u64,
    }

    impl MemoryRegistry {
        /// Deterministic keys from `seed` (hybrid Ed25519 + ML-DSA-44 for the log and root).
        pub fn new(seed: u8) -> MemoryRegistry {
            MemoryRegistry::with_keys(
                SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[seed; 32]),
                SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[seed.wrapping_add(1); 32]),
                SigningKey::from_seed(Algorithm::Ed25519, &[seed.wrapping_add(2); 32]),
            )
        }

        /// A registry over the given keys: `root_key` signs the trust root, `log_key` the
        /// checkpoints, `signer` tokens and manifests.
        pub fn with_keys(
            root_key: SigningKey,
            log_key: SigningKey,
            signer: SigningKey,
        ) -> MemoryRegistry {
            let keys = alloc::vec![
                TrustedKey::new(
                    root_key.public_key().clone(),
                    RoleSet::of(&[Role::Root]),
                    "root"
                ),
                TrustedKey::new(
                    log_key.public_key().clone(),
                    RoleSet::of(&[Role::Checkpoint]),
                    "log"
                ),
                TrustedKey::new(
                    signer.public_key().clone(),
                    RoleSet::of(&[Role::TokenIssuer, Role::ManifestSigner]),
                    "release-signer",
                ),
            ];
            let thresholds = Thresholds::default()
                .with(Role::Root, 1)
                .with(Role::Checkpoint, 1)
                .with(Role::TokenIssuer, 1)
                .with(Role::ManifestSigner, 1);
            let root =
                TrustRoot::initial(ORIGIN, NOW - 86_400, NOW + 365 * 86_400, keys, thresholds);
            // invariant: the root above is well formed, so it encodes and signs.
            let mut root = root.to_envelope().expect("invariant: example root encodes");
            // invariant: a fresh envelope has no signature yet, so signing cannot collide.
            root.sign_deterministic(&root_key)
                .expect("invariant: example root signs");
            MemoryRegistry {
                root_key,
                log_key,
                signer,
                root,
                entries: Vec::new(),
                tree: MemoryTree::new(),
                revocations: crate::revocation::NodeMap::new(),
                revoked: 0,
            }
        }

        /// The root as a verifier would pin it.
        pub fn pinned(&self) -> VerifiedRoot {
            // invariant: `new` made a root signed by its own root key.
            VerifiedRoot::from_pinned(&self.root).expect("invariant: example root verifies")
        }

        /// The ledger entries so far (postcard bytes, the Merkle leaves).
        pub fn entries(&self) -> &[Vec<u8>] {
            &self.entries
        }

        /// The Merkle tree over the entries.
        pub fn tree(&self) -> &MemoryTree {
            &self.tree
        }

        /// Appends an event logged at `NOW − 60 + seq`; returns the entry's sequence number.
        pub fn append(&mut self, event: Event) -> Result<u64> {
            let seq = self.entries.len() as u64;
            self.append_at(NOW - 60 + seq, event)
        }

        /// Appends an event logged at `time` (not before the previous entry's); returns the
        /// entry's sequence number.
        pub fn append_at(&mut self, time: UnixTime, event: Event) -> Result<u64> {
            let seq = self.entries.len() as u64;
            let prev = self
                .entries
                .last()
                .map(|e| crate::ledger::entry_hash(e))
                .unwrap_or(ZERO_HASH);
            if let Some((kind, id)) = crate::revocation::revoked_object(&event) {
                self.revocations
                    .insert(crate::revocation::map_key(kind, &id), seq)?;
                self.revoked += 1;
            }
            let bytes = LedgerEntry::new(seq, time, prev, event).to_bytes();
            self.tree.append(&bytes)?;
            self.entries.push(bytes);
            Ok(seq)
        }

        /// A signed checkpoint of the whole ledger.
        pub fn checkpoint(&self) -> Result<String> {
            Checkpoint::new(ORIGIN, self.tree.tree_size(), self.tree.root())
                .sign_deterministic(&[(ORIGIN, &self.log_key)])
        }

        /// Exports the bundle for entry `seq` and `subject`.
        pub fn bundle(
            &self,
            seq: u64,
            subject: Envelope,
            parents: Vec<Envelope>,
        ) -> Result<Bundle> {
            let size = self.tree.tree_size();
            let entry = self
                .entries
                .get(seq as usize)
                .cloned()
                .ok_or_else(|| Error::malformed("no such entry"))?;
            Ok(Bundle {
                version: BUNDLE_VERSION,
                subject,
                parents,
                entry,
                inclusion: InclusionProof {
                    leaf_index: seq,
                    tree_size: size,
                    hashes: self.tree.prove_inclusion(seq, size)?,
                },
                checkpoint: self.checkpoint()?,
                trust_chain: Vec::new(),
                root_id: self.pinned().id(),
                revocation: None,
            })
        }

        /// The revocation map over the ledger so far (every `*_revoked` entry).
        pub fn revocations(&self) -> &crate::revocation::NodeMap {
            &self.revocations
        }

        /// The map's checkpoint line: its count and root.
        pub fn revocations_ref(&self) -> Result<RevocationsRef> {
            Ok(RevocationsRef {
                count: self.revoked,
                root: self.revocations.root()?,
            })
        }

        /// A signed checkpoint of the whole ledger with the `cairn.revocations` line.
        pub fn checkpoint_with_revocations(&self) -> Result<String> {
            Checkpoint::new(ORIGIN, self.tree.tree_size(), self.tree.root())
                .with_revocations(self.revocations_ref()?)
                .sign_deterministic(&[(ORIGIN, &self.log_key)])
        }

        /// Exports a version 2 bundle for entry `seq` and `subject`: the version 1 parts under
        /// a checkpoint with the revocation line, the newest entry, and a proof about each
        /// object of [`revocation_objects`].
        pub fn bundle_v2(
            &self,
            seq: u64,
            subject: Envelope,
            parents: Vec<Envelope>,
        ) -> Result<Bundle> {
            let mut b = self.bundle(seq, subject, parents)?;
            b.version = BUNDLE_VERSION_2;
            b.checkpoint = self.checkpoint_with_revocations()?;
            let size = self.tree.tree_size();
            let objects = revocation_objects(&b.subject, &b.parents)?;
            b.revocation = Some(RevocationSection {
                newest_entry: self.entries[(size - 1) as usize].clone(),
                newest_inclusion: InclusionProof {
                    leaf_index: size - 1,
                    tree_size: size,
                    hashes: self.tree.prove_inclusion(size - 1, size)?,
                },
                proofs: object_proofs(&self.revocations, objects)?,
            });
            Ok(b)
        }

        /// The pieces that move `bundle` (one of this registry's) to the current checkpoint:
        /// what [`MemoryRegistry::bundle_v2`] would carry now for the same entry, and the
        /// consistency proof from the bundle's checkpoint.
        pub fn refresh_pieces(&self, bundle: &Bundle) -> Result<RefreshPieces> {
            let old = crate::note::Note::parse(bundle.checkpoint.as_bytes())
                .and_then(|n| Checkpoint::parse_text(n.text()))?;
            let fresh = self.bundle_v2(
                bundle.inclusion.leaf_index,
                bundle.subject.clone(),
                bundle.parents.clone(),
            )?;
            let new_size = self.tree.tree_size();
            Ok(RefreshPieces {
                version: REFRESH_VERSION,
                checkpoint: fresh.checkpoint,
                consistency: crate::merkle::ConsistencyProof {
                    old_size: old.size,
                    new_size,
                    hashes: self.tree.prove_consistency(old.size, new_size)?,
                },
                inclusion: fresh.inclusion,
                trust_chain: fresh.trust_chain,
                root_id: fresh.root_id,
                revocation: fresh.revocation.unwrap_or_default(),
            })
        }

        /// Signs a manifest for `artifact`, logs it, and returns its envelope and entry.
        pub fn sign_artifact(&mut self, name: &str, artifact: &[u8]) -> Result<(Envelope, u64)> {
            let mut h = ArtifactHasher::new();
            h.update(artifact);
            let (size, sha256) = h.finalize();
            let claims =
                ManifestClaims::new(name, "application/octet-stream", size, sha256, NOW - 120);
            let mut env = claims.to_envelope()?;
            env.sign_deterministic(&self.signer)?;
            let seq = self.append(Event::ManifestSigned {
                manifest_digest: manifest_digest(&env),
                artifact_name: name.into(),
                artifact_sha256: sha256,
                signers: alloc::vec![self.signer.public_key().key_id()],
            })?;
            Ok((env, seq))
        }

        /// Issues a token to `holder`, logs it, and returns its envelope and entry.
        pub fn issue_token(
            &mut self,
            holder: &SigningKey,
            capability: &str,
            ttl: u64,
        ) -> Result<(Envelope, u64)> {
            let env = TokenBuilder::new(holder.public_key().clone())
                .audience("registry.example")
                .capability(capability)
                .validity(NOW - 100, NOW - 100 + ttl)
                .nonce(
                    crate::encoding::sha256(&[b"example nonce", &self.entries.len().to_le_bytes()])
                        [..16]
                        .try_into()
                        .unwrap_or([0; 16]),
                )
                .deterministic()
                .issue(&self.signer)?;
            let seq = self.append(Event::TokenIssued {
                token_id: env.id(),
                issuer: self.signer.public_key().key_id(),
                audience: "registry.example".into(),
                expires_at: NOW - 100 + ttl,
            })?;
            Ok((env, seq))
        }
    }

    /// A pinned root and a verifying manifest bundle for `artifact`.
    pub fn manifest_bundle(artifact: &[u8]) -> (VerifiedRoot, Bundle) {
        let mut reg = MemoryRegistry::new(40);
        // invariant: the example registry's operations succeed on well-formed input.
        let (env, seq) = reg
            .sign_artifact("artifact.bin", artifact)
            .expect("invariant: example signs");
        let bundle = reg
            .bundle(seq, env, Vec::new())
            .expect("invariant: example bundle");
        (reg.pinned(), bundle)
    }
}
