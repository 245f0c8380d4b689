//! Who vouches for a peer's key: the policy a verifier chooses, and the rule that applied.
//!
//! A verified [`KeyResponse`](super::KeyResponse) proves only that its sender holds the key it
//! carries. [`vouch`] decides whether that key is the peer's, in this order:
//!
//! 1. **Bootstrap pin.** The policy's trust root lists keys with role `peer` whose label is
//!    a peer id. If it pins any key for the responder, the response's key must be one of
//!    them (`key_mismatch` otherwise, whatever else vouches) and valid at `now` (`expired`
//!    otherwise: a pin whose window has ended still pins, it never lets another key through);
//!    a match is [`VouchRule::Bootstrap`]. The root must be unexpired at `now` (`expired`
//!    otherwise).
//! 2. **Pinned key.** The registry's current key for the peer (the caller passes it): the
//!    same key is [`VouchRule::Pinned`]; any other key is `key_changed`, naming both key ids,
//!    whatever else would vouch for it. Only an operator's acceptance moves the pin.
//! 3. **Key transparency.** The response came as a [`Bundle`](crate::bundle::Bundle) whose
//!    subject is the response itself and whose ledger entry records this key for this peer
//!    (`peer_key_stored` or `peer_key_verified`), included under a checkpoint signed by the
//!    checkpoint keys of the trust root the policy names as *that peer's* registry's
//!    ([`PeerLog`]): [`VouchRule::Transparency`]. Only the peer's own log vouches for its key:
//!    any registry logs the keys it stores for others, vouched for or not, so a log trusted
//!    for one peer says nothing about another's. A proof that fails is an error
//!    (`proof_invalid`, `signature_invalid`, ...), never a reason to fall back to trust on
//!    first use. A version 2 bundle also proves the key not revoked in that log as of the
//!    checkpoint (`revoked` otherwise), and dates the checkpoint (a version 1 bundle is
//!    accepted only under a checkpoint without a revocation map, from a log older than it;
//!    `proof_invalid` otherwise): with
//!    [`VouchPolicy::max_age`] set, a checkpoint older than that, or a version 1 bundle, is
//!    `stale`. Without it, a key the peer revoked still vouches through a bundle made before
//!    the revocation (its proofs do not depend on the response they travel with).
//! 4. **Trust on first use**, only if the policy enables it and no key is pinned:
//!    [`VouchRule::FirstUse`].
//!
//! Anything else is `unauthorized`: nothing vouches for the key.

use alloc::string::String;
use alloc::vec::Vec;

use super::VerifiedKeyResponse;
use crate::bundle::{
    check_not_revoked, dated_checkpoint, verify_logged_entry, BUNDLE_VERSION, BUNDLE_VERSION_2,
};
use crate::crypto::KeyId;
use crate::error::{Error, ErrorCode, Result};
use crate::ledger::Event;
use crate::revocation::ObjectKind;
use crate::trust::{Role, VerifiedRoot};
use crate::UnixTime;

/// The rule that vouched for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VouchRule {
    /// A key with role `peer` in the trust root, labelled with the peer's id.
    Bootstrap,
    /// The key the registry already pinned for this peer.
    Pinned,
    /// A ledger entry of the responder's registry, proven under a trusted checkpoint.
    Transparency,
    /// Trust on first use: the first key seen for the peer, pinned from now on.
    FirstUse,
    /// An operator accepted a changed key (recorded in the ledger).
    OperatorAccepted,
}

impl VouchRule {
    /// The rule's name, as listings and `--json` show it.
    pub const fn name(self) -> &'static str {
        match self {
            VouchRule::Bootstrap => "bootstrap",
            VouchRule::Pinned => "pinned",
            VouchRule::Transparency => "transparency",
            VouchRule::FirstUse => "first_use",
            VouchRule::OperatorAccepted => "operator_accepted",
        }
    }
}

/// A registry log trusted to vouch for one peer's keys: the trust root of that peer's own
/// registry.
///
/// ```
/// # use cairn_core::peer::PeerLog;
/// # fn roots(root: cairn_core::trust::VerifiedRoot) {
/// let logs = [PeerLog::new("node-b", root)];
/// assert_eq!(logs[0].peer_id, "node-b");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PeerLog {
    /// The peer whose keys this log vouches for (its id in key requests and responses).
    pub peer_id: String,
    /// The trust root of the peer's registry: its checkpoint keys sign the log.
    pub root: VerifiedRoot,
}

impl PeerLog {
    /// The log of `peer_id`'s registry, under `root`.
    pub fn new(peer_id: &str, root: VerifiedRoot) -> PeerLog {
        PeerLog {
            peer_id: peer_id.into(),
            root,
        }
    }
}

/// What a verifier accepts as vouching for a peer's key.
#[derive(Debug, Clone, Default)]
pub struct VouchPolicy<'a> {
    /// The trust root whose `peer`-role keys pin bootstrap peers (label = peer id).
    pub bootstrap: Option<&'a VerifiedRoot>,
    /// The peers' own registry logs trusted for key-transparency proofs, each for its peer.
    pub transparency: &'a [PeerLog],
    /// Require both an Ed25519 and an ML-DSA signature on a transparency checkpoint.
    pub require_hybrid_checkpoint: bool,
    /// Pin the first key seen for a peer that nothing else vouches for.
    pub trust_on_first_use: bool,
    /// The oldest transparency checkpoint accepted, in seconds before `now` (its time is its
    /// newest entry's, which a version 2 bundle carries): older is `stale`, and so is a
    /// version 1 bundle, which carries no time. `None`: no age limit.
    pub max_age: Option<u64>,
}

/// The outcome of [`vouch`]: which rule applied, and for a transparency proof, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vouch {
    /// The rule.
    pub rule: VouchRule,
    /// The vouched key.
    pub key_id: KeyId,
    /// For [`VouchRule::Transparency`]: the checkpoint's origin, its tree size and the
    /// entry's sequence number.
    pub logged_at: Option<(String, u64, u64)>,
    /// For [`VouchRule::Transparency`] through a version 2 bundle: the checkpoint's time (its
    /// newest entry's), as of which the key is proven not revoked in the peer's log.
    pub not_revoked_as_of: Option<UnixTime>,
}

/// Decides whether the response's signing key is the responder's (see the module
/// documentation for the order of the rules). `pinned` is the key the caller's registry
/// currently holds for the responder, if any.
pub fn vouch(
    response: &VerifiedKeyResponse,
    pinned: Option<&KeyId>,
    policy: &VouchPolicy<'_>,
    now: UnixTime,
) -> Result<Vouch> {
    let peer = &response.response.responder_id;
    let key_id = response.key_id();
    let done = |rule| {
        Ok(Vouch {
            rule,
            key_id,
            logged_at: None,
            not_revoked_as_of: None,
        })
    };

    let mut bootstrap = false;
    if let Some(root) = policy.bootstrap {
        // An expired root is an error, not a root without pins: skipping it would let trust
        // on first use accept a stranger's key for a bootstrap peer.
        root.check_unexpired(now)
            .map_err(|e| e.context("bootstrap trust root"))?;
        // Every pin of the peer, whatever its window: a pin that expired (or a key rotated
        // out of the root) still says which keys are the peer's, and must not leave the peer
        // unpinned for trust on first use to accept anyone.
        let pins: Vec<&crate::trust::TrustedKey> = root
            .root()
            .keys
            .iter()
            .filter(|k| k.roles.contains(Role::Peer) && k.label == *peer)
            .collect();
        if !pins.is_empty() {
            let Some(pin) = pins.iter().find(|k| k.key_id() == key_id) else {
                return Err(Error::new(
                    ErrorCode::KeyMismatch,
                    alloc::format!(
                        "the trust root pins key {} for peer {peer:?}; the response carries key {key_id}",
                        pins[0].key_id()
                    ),
                ));
            };
            if !pin.is_valid_at(now) {
                return Err(Error::new(
                    ErrorCode::Expired,
                    alloc::format!(
                        "the trust root pins key {key_id} for peer {peer:?} only outside the time {now}"
                    ),
                ));
            }
            bootstrap = true;
        }
    }
    if let Some(old) = pinned {
        if *old != key_id {
            return Err(Error::new(
                ErrorCode::KeyChanged,
                alloc::format!(
                    "peer {peer:?} changed its key: pinned {old}, presented {key_id}; an operator must accept the change"
                ),
            ));
        }
        if !bootstrap {
            return done(VouchRule::Pinned);
        }
    }
    if bootstrap {
        return done(VouchRule::Bootstrap);
    }
    if let Some(bundle) = &response.proof {
        return transparency(response, bundle, policy, now);
    }
    if policy.trust_on_first_use {
        return done(VouchRule::FirstUse);
    }
    Err(Error::new(
        ErrorCode::Unauthorized,
        alloc::format!(
            "nothing vouches for key {key_id} of peer {peer:?}: no bootstrap pin, no transparency proof, and trust on first use is off"
        ),
    ))
}

fn transparency(
    response: &VerifiedKeyResponse,
    bundle: &crate::bundle::Bundle,
    policy: &VouchPolicy<'_>,
    now: UnixTime,
) -> Result<Vouch> {
    if bundle.subject != response.envelope {
        return Err(Error::new(
            ErrorCode::ProofInvalid,
            "the bundle's subject is not the key response",
        ));
    }
    if bundle.version != BUNDLE_VERSION && bundle.version != BUNDLE_VERSION_2 {
        return Err(Error::new(
            ErrorCode::UnsupportedVersion,
            "unknown bundle version",
        ));
    }
    let peer = &response.response.responder_id;
    let key_id = response.key_id();
    let mut first_error = None;
    // Only the logs trusted for this peer: another's log records the keys it stored for
    // others, which vouches for nothing.
    let own_logs = policy.transparency.iter().filter(|l| l.peer_id == *peer);
    for log in own_logs {
        let mut checks = Vec::new();
        let logged = match verify_logged_entry(
            bundle,
            &log.root,
            now,
            policy.require_hybrid_checkpoint,
            None,
            &mut checks,
        ) {
            Ok(l) => l,
            Err(e) => {
                first_error.get_or_insert(e.context("key transparency"));
                continue;
            }
        };
        let records = match &logged.entry.event {
            Event::PeerKeyStored { peer_id, key_id: k }
            | Event::PeerKeyVerified { peer_id, key_id: k } => peer_id == peer && *k == key_id,
            _ => false,
        };
        if !records {
            return Err(Error::new(
                ErrorCode::ProofInvalid,
                alloc::format!(
                    "the proven ledger entry does not record key {key_id} for peer {peer:?}"
                ),
            ));
        }
        // Not revoked in the peer's log as of the checkpoint, which is recent enough: the
        // rules a version 2 bundle of a token or manifest follows.
        let checkpoint = &logged.checkpoint;
        // A version 1 bundle proves nothing about revocations, and its version byte is signed
        // by nobody: one relabelled from a checkpoint that commits to a revocation map (every
        // head and checkpoint of a log that has one) would carry a revoked key past the map.
        // Only a log from before the map may answer with version 1.
        if bundle.version == BUNDLE_VERSION
            && crate::checkpoint::RevocationsRef::from_extensions(&checkpoint.extensions)?.is_some()
        {
            return Err(Error::new(
                ErrorCode::ProofInvalid,
                "a version 1 bundle under a checkpoint that commits to a revocation map: its log proves its keys not revoked in version 2 bundles",
            ));
        }
        let dated = dated_checkpoint(bundle, checkpoint, now, policy.max_age)?;
        if let Some((map, _)) = &dated {
            check_not_revoked(
                bundle.revocation_proofs(),
                map,
                &[(ObjectKind::Key, key_id.0)],
                checkpoint.size,
            )?;
        }
        let not_revoked_as_of = dated.map(|(_, time)| time);
        return Ok(Vouch {
            rule: VouchRule::Transparency,
            key_id,
            logged_at: Some((checkpoint.origin.clone(), checkpoint.size, logged.entry.seq)),
            not_revoked_as_of,
        });
    }
    Err(first_error.unwrap_or_else(|| {
        Error::new(
            ErrorCode::Unauthorized,
            alloc::format!(
                "the response carries a transparency proof, but the policy trusts no log of peer {peer:?}"
            ),
        )
    }))
}
