//! Refreshing a bundle: moving it to a newer checkpoint of the same log without its subject's
//! issuer (docs/FORMATS.md section 12, "Refresh").
//!
//! A version 2 bundle proves "not revoked as of checkpoint N"; a verifier with a maximum age
//! refuses it once N's newest entry is older than that (`stale`). Anyone can bring it up to
//! date with pieces the registry publishes for everyone — a newer checkpoint, the consistency
//! proof from the bundle's checkpoint to it, the subject's inclusion proof under it, and new
//! non-membership proofs ([`RefreshPieces`]) — the subject, its parents and its ledger entry
//! stay as they were.
//!
//! [`refresh_bundle`] is pure: it checks that the pieces fit the bundle (same log, a tree that
//! extends the bundle's, the same entry, a proof for every object the bundle rests on) and
//! returns the refreshed version 2 bundle. It does not check signatures, which need the
//! verifier's pinned trust root: run [`verify_bundle`](super::verify_bundle) on the result,
//! as on any bundle.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::{
    check_not_revoked, checkpoint_map_and_time, revocation_objects, Bundle, RevocationSection,
    BUNDLE_VERSION_2, MAX_BUNDLE_LEN, MAX_REVOCATION_PROOFS, MAX_TRUST_CHAIN,
};
use crate::checkpoint::Checkpoint;
use crate::dsse::Envelope;
use crate::encoding::{from_postcard_canonical, hex32, hex_encode, to_postcard, Digest};
use crate::error::{Error, ErrorCode, Result};
use crate::merkle::{leaf_hash, ConsistencyProof, InclusionProof};
use crate::note::Note;

/// Magic prefix of encoded refresh pieces.
pub const REFRESH_MAGIC: &[u8; 4] = b"CRFP";
/// The refresh pieces' format version.
pub const REFRESH_VERSION: u8 = 1;

/// What a registry hands out to refresh one bundle: everything in a version 2 bundle that
/// depends on the checkpoint, for a newer checkpoint, plus the consistency proof that links
/// the bundle's checkpoint to it.
///
/// Encoding: `CRFP` ‖ postcard(pieces), canonical, at most 1 MiB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshPieces {
    /// Format version ([`REFRESH_VERSION`]).
    pub version: u8,
    /// The newer signed checkpoint note (with a `cairn.revocations` line; cosignatures may
    /// follow the log's signatures).
    pub checkpoint: String,
    /// RFC 9162 consistency proof from the bundle's checkpoint (`old_size`) to the newer one
    /// (`new_size`).
    pub consistency: ConsistencyProof,
    /// The subject's entry (the bundle's `inclusion.leaf_index`) under the newer checkpoint.
    pub inclusion: InclusionProof,
    /// The registry's trust-root versions, oldest first (as in a bundle).
    pub trust_chain: Vec<Envelope>,
    /// Id of the trust root the registry uses.
    #[serde(with = "hex32")]
    pub root_id: Digest,
    /// The newer checkpoint's newest entry with its inclusion proof, and the non-membership
    /// proofs for the bundle's objects against the newer checkpoint's revocation map.
    pub revocation: RevocationSection,
}

impl RefreshPieces {
    /// `CRFP` ‖ postcard(pieces).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::from(&REFRESH_MAGIC[..]);
        out.extend_from_slice(&to_postcard(self));
        out
    }

    /// Parses encoded pieces: magic, known version (`unsupported_version`), canonical postcard
    /// with no trailing bytes (`malformed`), at most 1 MiB, 96 proofs strictly ascending by
    /// (kind, id) and 64 trust-root versions (`too_large`).
    ///
    /// ```
    /// use cairn_core::bundle::RefreshPieces;
    /// use cairn_core::ErrorCode;
    /// assert_eq!(RefreshPieces::from_bytes(b"CBDL\x01").unwrap_err().code(), ErrorCode::Malformed);
    /// assert_eq!(RefreshPieces::from_bytes(b"CRFP\x07").unwrap_err().code(), ErrorCode::UnsupportedVersion);
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<RefreshPieces> {
        if bytes.len() > MAX_BUNDLE_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "refresh pieces are larger than 1 MiB",
            ));
        }
        let body = bytes
            .strip_prefix(&REFRESH_MAGIC[..])
            .ok_or_else(|| Error::malformed("refresh pieces: missing CRFP magic"))?;
        if let Some(&v) = body.first().filter(|&&v| v != REFRESH_VERSION) {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                alloc::format!("refresh pieces version {v} is not supported"),
            ));
        }
        let pieces: RefreshPieces =
            from_postcard_canonical(body, MAX_BUNDLE_LEN, "refresh pieces")?;
        pieces.check()?;
        Ok(pieces)
    }

    /// The rules decoded pieces keep, whichever way they were made (decoded, or built in
    /// code): the version, at most [`MAX_REVOCATION_PROOFS`] proofs strictly ascending by
    /// (kind, id), at most [`MAX_TRUST_CHAIN`] trust-root versions within an envelope's
    /// limits. A bundle refreshed from them then decodes again.
    fn check(&self) -> Result<()> {
        let pieces = self;
        if pieces.version != REFRESH_VERSION {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                alloc::format!("refresh pieces version {} is not supported", pieces.version),
            ));
        }
        let proofs = &pieces.revocation.proofs;
        if proofs.len() > MAX_REVOCATION_PROOFS {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "refresh pieces: too many revocation proofs",
            ));
        }
        if proofs
            .windows(2)
            .any(|w| (w[0].kind, w[0].id) >= (w[1].kind, w[1].id))
        {
            return Err(Error::malformed(
                "refresh pieces: revocation proofs must be strictly ascending by (kind, id)",
            ));
        }
        if pieces.trust_chain.len() > MAX_TRUST_CHAIN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "refresh pieces: trust chain too long",
            ));
        }
        for env in &pieces.trust_chain {
            env.check_limits()
                .map_err(|e| e.context("refresh pieces"))?;
        }
        Ok(())
    }
}

/// The checkpoint body of a signed note (signatures not checked).
fn checkpoint_of(note: &str, what: &str) -> Result<Checkpoint> {
    Note::parse(note.as_bytes())
        .and_then(|n| Checkpoint::parse_text(n.text()))
        .map_err(|e| e.context(what))
}

/// Moves `bundle` (version 1 or 2, a token or a manifest) to the newer checkpoint of
/// `pieces`, returning a version 2 bundle with the same subject, parents and entry.
///
/// Checks, in order (the first failure is the error):
/// 1. the bundle is a token or manifest bundle (`domain_mismatch`); the pieces keep the rules
///    their decoding keeps (version `unsupported_version`, counts `too_large`, proof order
///    `malformed`), whoever built them; and both checkpoints parse (`malformed`);
/// 2. the newer checkpoint is of the same log (`domain_mismatch`) and not smaller
///    (`replayed`); at the same size it has the same root (`split_view`: two trees of one
///    size);
/// 3. the consistency proof runs from the bundle's size and root to the newer ones
///    (`proof_invalid`: a wrong proof, or a log whose history changed);
/// 4. the inclusion proof is for the bundle's leaf under the newer checkpoint and leads from
///    the bundle's entry to its root (`proof_invalid`);
/// 5. the newer checkpoint has a `cairn.revocations` line, and the newest entry and its proof
///    match it (`proof_invalid`, as for a version 2 bundle);
/// 6. every proof verifies against that map, and each object of
///    [`revocation_objects`] has one: a proof that an object **is** in the map is `revoked`
///    (the subject or something it rests on was revoked since), a missing proof
///    `proof_invalid`.
///
/// Signatures are not checked here: verify the result with
/// [`verify_bundle`](super::verify_bundle).
///
/// ```
/// use cairn_core::bundle::{example::{self, MemoryRegistry}, refresh_bundle, verify_bundle, BundlePolicy};
/// use cairn_core::ErrorCode;
/// let mut reg = MemoryRegistry::new(1);
/// let (manifest, seq) = reg.sign_artifact("app.tar", b"artifact")?;
/// let old = reg.bundle_v2(seq, manifest, vec![])?;
/// // A day of other entries later, a verifier accepting checkpoints up to an hour old
/// // refuses the old bundle; the registry's refresh pieces bring it up to date.
/// let policy = BundlePolicy { max_age: Some(3600), ..BundlePolicy::default() };
/// let later = example::NOW + 86_400;
/// reg.append_at(later - 10, cairn_core::ledger::Event::AuditNote { text: "later".into() })?;
/// assert_eq!(verify_bundle(&old, &reg.pinned(), later, &policy).unwrap_err().code(), ErrorCode::Stale);
/// let new = refresh_bundle(&old, &reg.refresh_pieces(&old)?)?;
/// let verdict = verify_bundle(&new, &reg.pinned(), later, &policy)?;
/// assert_eq!(verdict.checkpoint.size, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn refresh_bundle(bundle: &Bundle, pieces: &RefreshPieces) -> Result<Bundle> {
    bundle.kind()?;
    pieces.check()?;
    let old = checkpoint_of(&bundle.checkpoint, "the bundle's checkpoint")?;
    let new = checkpoint_of(&pieces.checkpoint, "the newer checkpoint")?;
    if new.origin != old.origin {
        return Err(Error::new(
            ErrorCode::DomainMismatch,
            alloc::format!(
                "the newer checkpoint is of log {:?}, the bundle's of {:?}",
                new.origin,
                old.origin
            ),
        ));
    }
    if new.size < old.size {
        return Err(Error::new(
            ErrorCode::Replayed,
            alloc::format!(
                "the newer checkpoint (size {}) is older than the bundle's (size {})",
                new.size,
                old.size
            ),
        ));
    }
    if new.size == old.size && new.root != old.root {
        return Err(Error::new(
            ErrorCode::SplitView,
            alloc::format!(
                "two checkpoints of size {} with different roots: {} (the bundle's) and {} (the newer): the log showed two histories",
                new.size,
                hex_encode(&old.root),
                hex_encode(&new.root)
            ),
        ));
    }
    let c = &pieces.consistency;
    if c.old_size != old.size || c.new_size != new.size {
        return Err(Error::new(
            ErrorCode::ProofInvalid,
            alloc::format!(
                "the consistency proof runs from size {} to {}, the checkpoints are of sizes {} and {}",
                c.old_size,
                c.new_size,
                old.size,
                new.size
            ),
        ));
    }
    c.verify(&old.root, &new.root).map_err(|e| {
        e.context("the newer checkpoint does not extend the bundle's (a wrong proof, or a log whose history changed)")
    })?;
    let p = &pieces.inclusion;
    if p.leaf_index != bundle.inclusion.leaf_index || p.tree_size != new.size {
        return Err(Error::new(
            ErrorCode::ProofInvalid,
            alloc::format!(
                "the inclusion proof is for leaf {} of size {}, the bundle's entry is leaf {} and the newer checkpoint of size {}",
                p.leaf_index,
                p.tree_size,
                bundle.inclusion.leaf_index,
                new.size
            ),
        ));
    }
    p.verify(&leaf_hash(&bundle.entry), &new.root)
        .map_err(|e| e.context("the bundle's entry under the newer checkpoint"))?;
    let (map, _time) = checkpoint_map_and_time(
        Some(&pieces.revocation),
        &new.extensions,
        new.size,
        &new.root,
    )?;
    let objects = revocation_objects(&bundle.subject, &bundle.parents)?;
    check_not_revoked(&pieces.revocation.proofs, &map, &objects, new.size)?;
    let fresh = Bundle {
        version: BUNDLE_VERSION_2,
        subject: bundle.subject.clone(),
        parents: bundle.parents.clone(),
        entry: bundle.entry.clone(),
        inclusion: pieces.inclusion.clone(),
        checkpoint: pieces.checkpoint.clone(),
        trust_chain: pieces.trust_chain.clone(),
        root_id: pieces.root_id,
        revocation: Some(pieces.revocation.clone()),
    };
    // The result must decode as a bundle again: within the size any bundle may have.
    if fresh.to_bytes().len() > MAX_BUNDLE_LEN {
        return Err(Error::new(
            ErrorCode::TooLarge,
            "the refreshed bundle would be larger than 1 MiB",
        ));
    }
    Ok(fresh)
}
