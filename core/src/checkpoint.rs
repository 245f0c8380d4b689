//! C2SP tlog-checkpoints (`c2sp.org/tlog-checkpoint`) inside C2SP signed notes, signed with
//! cairn keys and verified under a [`CheckpointPolicy`].
//!
//! The note text is
//!
//! ```text
//! <origin>\n
//! <tree size, ASCII decimal, no leading zeros>\n
//! <root hash, canonical base64 of 32 bytes>\n
//! [<extension line>\n ...]
//! ```
//!
//! A cairn key signs under a key name (normally the origin): an Ed25519 key gives the standard
//! type-`0x01` line that Go's `sumdb/note` verifies; an ML-DSA key gives a `0xff` line with
//! cairn's label (see [`crate::note`]); a hybrid key gives both lines, and both must verify
//! for the key to count.

use alloc::string::String;
use alloc::vec::Vec;

#[cfg(feature = "std")]
use crate::crypto::SigningKey;
use crate::crypto::{KeyId, PublicKey};
use crate::encoding::{b64_decode, b64_encode, Digest};
use crate::error::{Error, ErrorCode, Result};
use crate::merkle::EMPTY_ROOT;
use crate::note::{Note, NoteVerifier};

/// Largest tree size a checkpoint may state: 2^63 − 1.
pub const MAX_TREE_SIZE: u64 = i64::MAX as u64;

/// Why checkpoints signed by a log key of `alg` fall short of what C2SP tlog-tiles (a public
/// log's checkpoint carries an Ed25519 signature) and Go's note verifier need, if they do: a
/// key without an Ed25519 half signs no line they can check. One rule for every place that
/// warns of it (creating a registry, serving it, exporting its tiles).
///
/// ```
/// use cairn_core::checkpoint::log_key_shortfall;
/// use cairn_core::crypto::Algorithm;
/// assert!(log_key_shortfall(Algorithm::Ed25519MlDsa44).is_none());
/// let why = log_key_shortfall(Algorithm::MlDsa65).ok_or("a warning")?;
/// assert!(why.contains("ml-dsa-65 alone"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn log_key_shortfall(alg: crate::crypto::Algorithm) -> Option<String> {
    (!alg.has_ed25519()).then(|| {
        alloc::format!(
            "the log key is {alg} alone: its checkpoints carry no Ed25519 signature, so tlog-tiles \
             clients, Go's note verifier (golang.org/x/mod/sumdb/note) and other signed-note \
             verifiers cannot check them; use ed25519+{alg} for post-quantum signatures they can \
             still check",
            alg = alg.name()
        )
    })
}

/// The body of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity (first line); non-empty.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root of the tree at `size` ([`EMPTY_ROOT`] for 0).
    pub root: Digest,
    /// Opaque extension lines (each non-empty, without the newline).
    pub extensions: Vec<String>,
}

fn check_line(line: &str, what: &str) -> Result<()> {
    if line.is_empty() {
        return Err(Error::malformed(alloc::format!(
            "checkpoint {what} is empty"
        )));
    }
    if line.chars().any(|c| c < ' ') {
        return Err(Error::malformed(alloc::format!(
            "checkpoint {what} contains a newline or control character"
        )));
    }
    Ok(())
}

fn parse_size(line: &str) -> Result<u64> {
    let digits_only = !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || line.len() > 19 || (line.len() > 1 && line.starts_with('0')) {
        return Err(Error::malformed(
            "checkpoint size must be decimal digits without leading zeros",
        ));
    }
    match line.parse::<u64>() {
        Ok(n) if n <= MAX_TREE_SIZE => Ok(n),
        _ => Err(Error::malformed("checkpoint size exceeds 2^63 - 1")),
    }
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Digest) -> Checkpoint {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text of the checkpoint, after checking every rule [`Checkpoint::parse_text`]
    /// enforces.
    ///
    /// ```
    /// use cairn_core::checkpoint::Checkpoint;
    /// use cairn_core::merkle::EMPTY_ROOT;
    /// let text = Checkpoint::new("example.test/log", 0, EMPTY_ROOT).to_text()?;
    /// assert_eq!(text, "example.test/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_text(&self) -> Result<String> {
        check_line(&self.origin, "origin")?;
        for e in &self.extensions {
            check_line(e, "extension line")?;
        }
        if self.size > MAX_TREE_SIZE {
            return Err(Error::malformed("checkpoint size exceeds 2^63 - 1"));
        }
        if self.size == 0 && self.root != EMPTY_ROOT {
            return Err(Error::malformed(
                "the root of the empty tree is SHA-256 of the empty string",
            ));
        }
        let mut out = alloc::format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            b64_encode(&self.root)
        );
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        Ok(out)
    }

    /// Parses a checkpoint note text: at least three lines, every line non-empty and ending
    /// in a newline; a size in decimal without leading zeros, at most 2^63 − 1; a root in
    /// canonical base64 of exactly 32 bytes, which for size 0 must be SHA-256("").
    ///
    /// ```
    /// use cairn_core::checkpoint::Checkpoint;
    /// let c = Checkpoint::parse_text("example.test/log\n10\ntFkYYz7pMaKdJBl0CVRwgcMV0m7LP7BBe4lB+Fm44H4=\n")?;
    /// assert_eq!((c.origin.as_str(), c.size), ("example.test/log", 10));
    /// assert!(Checkpoint::parse_text("example.test/log\n010\ntFkYYz7pMaKdJBl0CVRwgcMV0m7LP7BBe4lB+Fm44H4=\n").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_text(text: &str) -> Result<Checkpoint> {
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| Error::malformed("checkpoint text must end with a newline"))?;
        let mut lines = body.split('\n');
        let (origin, size, root) = match (lines.next(), lines.next(), lines.next()) {
            (Some(o), Some(s), Some(r)) => (o, s, r),
            _ => {
                return Err(Error::malformed(
                    "checkpoint needs origin, size and root lines",
                ))
            }
        };
        check_line(origin, "origin")?;
        let size = parse_size(size)?;
        let root_bytes = b64_decode(root).map_err(|e| e.context("checkpoint root"))?;
        let root: Digest = root_bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::malformed("checkpoint root must be 32 bytes"))?;
        if size == 0 && root != EMPTY_ROOT {
            return Err(Error::malformed(
                "a size-0 checkpoint must carry SHA-256 of the empty string as its root",
            ));
        }
        let extensions = lines
            .map(|l| check_line(l, "extension line").map(|()| String::from(l)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint: one note with the lines of every `(key name, key)` pair, in
    /// order (a hybrid key adds its Ed25519 line then its ML-DSA line).
    ///
    /// ```
    /// use cairn_core::checkpoint::{verify_checkpoint, Checkpoint, CheckpointPolicy, CheckpointVerifier};
    /// use cairn_core::crypto::{Algorithm, SigningKey};
    /// use cairn_core::merkle::{leaf_hash, root_of};
    /// let key = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[1; 32]);
    /// let cp = Checkpoint::new("example.test/log", 1, root_of(&[leaf_hash(b"x")]));
    /// let note = cp.sign(&[("example.test/log", &key)])?;
    /// let verifier = CheckpointVerifier { name: "example.test/log".into(), public_key: key.public_key().clone() };
    /// let policy = CheckpointPolicy::new("example.test/log");
    /// let ok = verify_checkpoint(note.as_bytes(), &[verifier], &policy)?;
    /// assert_eq!((ok.size, ok.signers), (1, vec![key.public_key().key_id()]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn sign(&self, signers: &[(&str, &SigningKey)]) -> Result<String> {
        self.sign_with(signers, false)
    }

    /// Like [`Checkpoint::sign`] with deterministic ML-DSA signatures (for test vectors).
    #[cfg(feature = "std")]
    pub fn sign_deterministic(&self, signers: &[(&str, &SigningKey)]) -> Result<String> {
        self.sign_with(signers, true)
    }

    #[cfg(feature = "std")]
    fn sign_with(&self, signers: &[(&str, &SigningKey)], deterministic: bool) -> Result<String> {
        if signers.is_empty() {
            return Err(Error::malformed("a checkpoint needs at least one signer"));
        }
        let mut note = Note::new(&self.to_text()?)?;
        for (name, key) in signers {
            if deterministic {
                note.sign_deterministic(name, key)?;
            } else {
                note.sign(name, key)?;
            }
        }
        note.encode()
    }
}

/// A trusted checkpoint signer: the key name its lines carry and its cairn public key (any
/// non-legacy suite).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointVerifier {
    /// Key name in the signature lines (normally the log's origin).
    pub name: String,
    /// The signer's public key.
    pub public_key: PublicKey,
}

/// What a verifier demands of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// The origin line the checkpoint must carry (`domain_mismatch` otherwise).
    pub origin: String,
    /// How many distinct keys (by key id) must have signed; at least 1.
    pub threshold: usize,
    /// Keys that must be among the signers, whatever the threshold.
    pub required: Vec<KeyId>,
}

impl CheckpointPolicy {
    /// Any one of the given verifiers suffices.
    pub fn new(origin: &str) -> CheckpointPolicy {
        CheckpointPolicy {
            origin: origin.into(),
            threshold: 1,
            required: Vec::new(),
        }
    }

    /// Every one of `verifiers` must sign.
    pub fn all(origin: &str, verifiers: &[CheckpointVerifier]) -> CheckpointPolicy {
        let mut required: Vec<KeyId> = Vec::new();
        for v in verifiers {
            let id = v.public_key.key_id();
            if !required.contains(&id) {
                required.push(id);
            }
        }
        CheckpointPolicy {
            origin: origin.into(),
            threshold: required.len().max(1),
            required,
        }
    }
}

/// Start of the extension line by which a cairn checkpoint names the trust root that was
/// current when it was signed (see [`TrustRootRef`]).
pub const TRUST_ROOT_EXTENSION: &str = "cairn.trust-root ";

/// The trust root a checkpoint commits to: its `root_version` and its id (SHA-256 of its DSSE
/// PAE, [`crate::trust::root_id`]). A bundle verifier refuses a checkpoint naming a root its
/// trust chain does not reach (a stripped chain).
///
/// Extension line, byte-exact: `cairn.trust-root <version> <id>`: the version in decimal
/// without leading zeros (at least 1), the id as 64 lowercase hex digits, single spaces.
///
/// ```
/// use cairn_core::checkpoint::{Checkpoint, TrustRootRef};
/// use cairn_core::merkle::EMPTY_ROOT;
/// let r = TrustRootRef { version: 2, id: [0xab; 32] };
/// let cp = Checkpoint::new("example.test/log", 0, EMPTY_ROOT).with_trust_root(r);
/// assert_eq!(cp.extensions[0], format!("cairn.trust-root 2 {}", "ab".repeat(32)));
/// assert_eq!(cp.trust_root()?, Some(r));
/// assert!(Checkpoint::new("example.test/log", 0, EMPTY_ROOT).trust_root()?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustRootRef {
    /// The root's `root_version`.
    pub version: u64,
    /// The root's id.
    pub id: Digest,
}

impl TrustRootRef {
    /// The extension line.
    pub fn to_line(&self) -> String {
        alloc::format!(
            "{TRUST_ROOT_EXTENSION}{} {}",
            self.version,
            crate::encoding::hex_encode(&self.id)
        )
    }

    /// Parses an extension line: `None` for a line of another kind, `malformed` for a
    /// `cairn.trust-root` line that breaks the format.
    pub fn parse_line(line: &str) -> Result<Option<TrustRootRef>> {
        let Some(rest) = line.strip_prefix(TRUST_ROOT_EXTENSION) else {
            return Ok(None);
        };
        let bad = || {
            Error::malformed("checkpoint: a cairn.trust-root line is `cairn.trust-root <version> <64 lowercase hex digits>`")
        };
        let (version, id) = rest.split_once(' ').ok_or_else(bad)?;
        let digits = !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit());
        if !digits || version.starts_with('0') || version.len() > 20 {
            return Err(bad());
        }
        let version: u64 = version.parse().map_err(|_| bad())?;
        let lower_hex =
            id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !lower_hex {
            return Err(bad());
        }
        let id = crate::encoding::hex_decode_array::<32>(id).map_err(|_| bad())?;
        Ok(Some(TrustRootRef { version, id }))
    }

    /// The trust root named by extension lines: at most one `cairn.trust-root` line
    /// (`malformed` for two or a broken one); lines of other kinds are ignored.
    pub fn from_extensions(extensions: &[String]) -> Result<Option<TrustRootRef>> {
        let mut found = None;
        for line in extensions {
            if let Some(r) = TrustRootRef::parse_line(line)? {
                if found.is_some() {
                    return Err(Error::malformed(
                        "checkpoint: more than one cairn.trust-root line",
                    ));
                }
                found = Some(r);
            }
        }
        Ok(found)
    }
}

impl Checkpoint {
    /// Adds the extension line naming `root` (see [`TrustRootRef`]).
    pub fn with_trust_root(mut self, root: TrustRootRef) -> Checkpoint {
        self.extensions.push(root.to_line());
        self
    }

    /// The trust root this checkpoint names, if any (see [`TrustRootRef::from_extensions`]).
    pub fn trust_root(&self) -> Result<Option<TrustRootRef>> {
        TrustRootRef::from_extensions(&self.extensions)
    }
}

/// Start of the extension line by which a cairn checkpoint commits to the registry's revocation
/// map (see [`RevocationsRef`]).
pub const REVOCATIONS_EXTENSION: &str = "cairn.revocations ";

/// The revocation map a checkpoint commits to: how many objects are revoked and the map's root
/// ([`crate::revocation`]) over the ledger entries `[0, size)` of the checkpoint. A
/// non-membership proof against this root shows an object "not revoked as of this checkpoint".
///
/// Extension line, byte-exact: `cairn.revocations <count> <root>`: the count in decimal without
/// leading zeros (`0` for none), the root as canonical base64 of 32 bytes, single spaces. A count
/// of 0 must carry the empty map's root ([`crate::revocation::empty_root`]).
///
/// ```
/// use cairn_core::checkpoint::{Checkpoint, RevocationsRef};
/// use cairn_core::merkle::EMPTY_ROOT;
/// use cairn_core::revocation::empty_root;
/// let r = RevocationsRef { count: 0, root: empty_root() };
/// let cp = Checkpoint::new("example.test/log", 0, EMPTY_ROOT).with_revocations(r);
/// assert_eq!(cp.extensions[0], "cairn.revocations 0 voHwm+TaFV7P/CM7Ok+meFKxI34x/p04dtDtt6XgeXo=");
/// assert_eq!(cp.revocations()?, Some(r));
/// assert!(Checkpoint::new("example.test/log", 0, EMPTY_ROOT).revocations()?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationsRef {
    /// Number of revoked objects (leaves of the map).
    pub count: u64,
    /// The map's root.
    pub root: Digest,
}

/// `<count> revocations, root <base64 root>`: how errors and reports name a revocation map.
impl core::fmt::Display for RevocationsRef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} revocations, root {}",
            self.count,
            b64_encode(&self.root)
        )
    }
}

impl RevocationsRef {
    /// The extension line.
    pub fn to_line(&self) -> String {
        alloc::format!(
            "{REVOCATIONS_EXTENSION}{} {}",
            self.count,
            b64_encode(&self.root)
        )
    }

    /// Parses an extension line: `None` for a line of another kind, `malformed` for a
    /// `cairn.revocations` line that breaks the format.
    pub fn parse_line(line: &str) -> Result<Option<RevocationsRef>> {
        let Some(rest) = line.strip_prefix(REVOCATIONS_EXTENSION) else {
            return Ok(None);
        };
        let bad = |why: &str| {
            Error::malformed(alloc::format!(
                "checkpoint: a cairn.revocations line is `cairn.revocations <count> <base64 root>`: {why}"
            ))
        };
        let (count, root) = rest
            .split_once(' ')
            .ok_or_else(|| bad("missing the root"))?;
        let digits = !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit());
        if !digits || (count.len() > 1 && count.starts_with('0')) || count.len() > 20 {
            return Err(bad("the count is not decimal without leading zeros"));
        }
        let count: u64 = count
            .parse()
            .map_err(|_| bad("the count exceeds 2^64 - 1"))?;
        let root: Digest = b64_decode(root)
            .ok()
            .and_then(|b| b.as_slice().try_into().ok())
            .ok_or_else(|| bad("the root is not canonical base64 of 32 bytes"))?;
        if count == 0 && root != crate::revocation::empty_root() {
            return Err(bad(
                "an empty map (count 0) must carry the empty map's root",
            ));
        }
        Ok(Some(RevocationsRef { count, root }))
    }

    /// The revocation map named by extension lines: at most one `cairn.revocations` line
    /// (`malformed` for two or a broken one); lines of other kinds are ignored.
    pub fn from_extensions(extensions: &[String]) -> Result<Option<RevocationsRef>> {
        let mut found = None;
        for line in extensions {
            if let Some(r) = RevocationsRef::parse_line(line)? {
                if found.is_some() {
                    return Err(Error::malformed(
                        "checkpoint: more than one cairn.revocations line",
                    ));
                }
                found = Some(r);
            }
        }
        Ok(found)
    }
}

impl Checkpoint {
    /// Adds the extension line committing to the revocation map `r` (see [`RevocationsRef`]).
    pub fn with_revocations(mut self, r: RevocationsRef) -> Checkpoint {
        self.extensions.push(r.to_line());
        self
    }

    /// The revocation map this checkpoint commits to, if any (see
    /// [`RevocationsRef::from_extensions`]). Checkpoints without the line (from before it, or
    /// of other logs) give `None` and stay valid; they prove nothing about revocations.
    pub fn revocations(&self) -> Result<Option<RevocationsRef>> {
        RevocationsRef::from_extensions(&self.extensions)
    }
}

/// What an offline verifier remembers of the checkpoints it accepted before, so that it can
/// refuse an older one (a rollback to an earlier state of the log) or another one of the same
/// size (a split view: the log showing different trees to different verifiers).
///
/// A verifier keeps the newest checkpoint it accepted from a log (its own record, so
/// [`LastSeen::parse_note`] does not check its signatures again) or, knowing less, only a
/// minimum tree size. [`check_freshness`] applies the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastSeen {
    /// The newest checkpoint accepted from the log.
    Checkpoint(Checkpoint),
    /// A tree size the log is known to have reached.
    MinSize(u64),
}

impl LastSeen {
    /// A remembered checkpoint, from its signed note (as a bundle carries it and
    /// `cairn checkpoint` prints it) or from its bare checkpoint text. The signatures are not
    /// checked again: this is the verifier's own record of a checkpoint it verified.
    ///
    /// ```
    /// use cairn_core::checkpoint::{LastSeen, Checkpoint};
    /// use cairn_core::merkle::EMPTY_ROOT;
    /// let seen = LastSeen::parse_note(b"example.test/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")?;
    /// assert_eq!(seen, LastSeen::Checkpoint(Checkpoint::new("example.test/log", 0, EMPTY_ROOT)));
    /// assert!(LastSeen::parse_note(b"example.test/log\nten\n").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_note(note: &[u8]) -> Result<LastSeen> {
        if note.len() > crate::note::MAX_NOTE_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "last seen checkpoint: note too large",
            ));
        }
        let text = core::str::from_utf8(note)
            .map_err(|_| Error::malformed("last seen checkpoint: not valid UTF-8"))?;
        let checkpoint = if text.contains("\n\n") {
            let note = Note::parse(note).map_err(|e| e.context("last seen checkpoint"))?;
            Checkpoint::parse_text(note.text())
        } else {
            Checkpoint::parse_text(text)
        };
        checkpoint
            .map(LastSeen::Checkpoint)
            .map_err(|e| e.context("last seen checkpoint"))
    }

    /// The tree size the log has at least reached.
    pub fn size(&self) -> u64 {
        match self {
            LastSeen::Checkpoint(c) => c.size,
            LastSeen::MinSize(n) => *n,
        }
    }
}

/// The freshness rule of offline verifiers: a checkpoint (of log `origin`, tree `size`, root
/// `root`) is acceptable after `last` when
///
/// - it is not smaller than `last` (else `replayed`: an older state of the log, naming both
///   sizes);
/// - at the same size as a remembered checkpoint, it has the same root (else `proof_invalid`:
///   two trees of one size are a split view, which no consistency proof can reconcile);
/// - a remembered checkpoint is of the same log (else `domain_mismatch`).
///
/// A larger checkpoint is accepted without proof that it extends the remembered one (a bundle
/// carries no consistency proof); `cairn checkpoint consistency` and cosigning witnesses
/// check that.
///
/// ```
/// use cairn_core::checkpoint::{check_freshness, Checkpoint, LastSeen};
/// use cairn_core::ErrorCode;
/// let seen = LastSeen::Checkpoint(Checkpoint::new("example.test/log", 5, [1; 32]));
/// assert!(check_freshness("example.test/log", 6, &[2; 32], &seen).is_ok());
/// assert!(check_freshness("example.test/log", 5, &[1; 32], &seen).is_ok());
/// let older = check_freshness("example.test/log", 4, &[3; 32], &seen).unwrap_err();
/// assert_eq!(older.code(), ErrorCode::Replayed);
/// let split = check_freshness("example.test/log", 5, &[2; 32], &seen).unwrap_err();
/// assert_eq!(split.code(), ErrorCode::ProofInvalid);
/// ```
pub fn check_freshness(origin: &str, size: u64, root: &Digest, last: &LastSeen) -> Result<()> {
    if let LastSeen::Checkpoint(c) = last {
        if c.origin != origin {
            return Err(Error::new(
                ErrorCode::DomainMismatch,
                alloc::format!(
                    "the last seen checkpoint is of log {:?}, this one of {origin:?}",
                    c.origin
                ),
            ));
        }
    }
    let min = last.size();
    if size < min {
        return Err(Error::new(
            ErrorCode::Replayed,
            alloc::format!(
                "checkpoint of size {size} is older than the last one seen (size {min}): a rollback of the log"
            ),
        ));
    }
    if let LastSeen::Checkpoint(c) = last {
        if size == c.size && *root != c.root {
            return Err(Error::new(
                ErrorCode::ProofInvalid,
                alloc::format!(
                    "checkpoint of size {size} has another root than the one seen at that size ({} vs {}): a split view of the log",
                    b64_encode(root),
                    b64_encode(&c.root)
                ),
            ));
        }
    }
    Ok(())
}

/// A checkpoint whose signatures satisfied the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The origin (equal to the policy's).
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root at that size.
    pub root: Digest,
    /// Extension lines, in order.
    pub extensions: Vec<String>,
    /// Key ids of the verifiers whose every line verified, in verifier order, without repeats.
    pub signers: Vec<KeyId>,
}

/// Verifies a signed checkpoint note.
///
/// Order of checks and their errors: note size (`too_large`); note and checkpoint syntax
/// (`malformed`; also for a policy threshold of 0 or ambiguous verifiers); signatures: a line
/// from a known (name, key hash) that does not verify (`signature_invalid`), no line from a
/// known key (`unknown_key`); the origin (`domain_mismatch`); the policy: a required key that
/// did not fully sign or fewer distinct signers than the threshold (`threshold_not_met`). A
/// hybrid verifier counts only when both its Ed25519 and its ML-DSA line verified. Lines of
/// unknown keys are ignored.
///
/// ```
/// use cairn_core::checkpoint::{verify_checkpoint, Checkpoint, CheckpointPolicy, CheckpointVerifier};
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::merkle::EMPTY_ROOT;
/// use cairn_core::ErrorCode;
/// let key = SigningKey::from_seed(Algorithm::Ed25519, &[5; 32]);
/// let note = Checkpoint::new("example.test/log", 0, EMPTY_ROOT)
///     .sign(&[("example.test/log", &key)])?;
/// let v = [CheckpointVerifier { name: "example.test/log".into(), public_key: key.public_key().clone() }];
/// assert!(verify_checkpoint(note.as_bytes(), &v, &CheckpointPolicy::new("example.test/log")).is_ok());
/// let e = verify_checkpoint(note.as_bytes(), &v, &CheckpointPolicy::new("other.test/log")).unwrap_err();
/// assert_eq!(e.code(), ErrorCode::DomainMismatch);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_checkpoint(
    note: &[u8],
    verifiers: &[CheckpointVerifier],
    policy: &CheckpointPolicy,
) -> Result<VerifiedCheckpoint> {
    let parsed = Note::parse(note)?;
    let checkpoint = Checkpoint::parse_text(parsed.text())?;
    if policy.threshold == 0 {
        return Err(Error::malformed(
            "checkpoint policy threshold must be at least 1",
        ));
    }

    // Each cairn key becomes one or two note verifiers; `owner` maps them back.
    let mut note_verifiers = Vec::new();
    let mut owner = Vec::new();
    for (i, v) in verifiers.iter().enumerate() {
        for nv in NoteVerifier::for_key(&v.name, &v.public_key)
            .map_err(|e| e.context("checkpoint verifier"))?
        {
            note_verifiers.push(nv);
            owner.push(i);
        }
    }
    let ok = parsed.verify(&note_verifiers)?;

    if checkpoint.origin != policy.origin {
        return Err(Error::new(
            ErrorCode::DomainMismatch,
            alloc::format!(
                "checkpoint origin {:?} is not the expected {:?}",
                checkpoint.origin,
                policy.origin
            ),
        ));
    }

    let mut signers: Vec<KeyId> = Vec::new();
    for (i, v) in verifiers.iter().enumerate() {
        let mut parts = owner
            .iter()
            .enumerate()
            .filter(|(_, &o)| o == i)
            .map(|(k, _)| k);
        if parts.all(|k| ok.contains(&k)) {
            let id = v.public_key.key_id();
            if !signers.contains(&id) {
                signers.push(id);
            }
        }
    }
    for r in &policy.required {
        if !signers.contains(r) {
            return Err(Error::new(
                ErrorCode::ThresholdNotMet,
                alloc::format!("required key {r} did not sign the checkpoint (with every line)"),
            ));
        }
    }
    if signers.len() < policy.threshold {
        return Err(Error::new(
            ErrorCode::ThresholdNotMet,
            alloc::format!(
                "{} of the required {} keys signed the checkpoint",
                signers.len(),
                policy.threshold
            ),
        ));
    }
    Ok(VerifiedCheckpoint {
        origin: checkpoint.origin,
        size: checkpoint.size,
        root: checkpoint.root,
        extensions: checkpoint.extensions,
        signers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT10: &str = "tFkYYz7pMaKdJBl0CVRwgcMV0m7LP7BBe4lB+Fm44H4=";

    #[test]
    fn text_round_trip() {
        let text = alloc::format!("example.test/log\n10\n{ROOT10}\nx y\nz\n");
        let c = Checkpoint::parse_text(&text).unwrap();
        assert_eq!(c.extensions, ["x y", "z"]);
        assert_eq!(c.to_text().unwrap(), text);
    }

    #[test]
    fn text_rejections() {
        for bad in [
            alloc::format!("example.test/log\n10\n{ROOT10}"),
            "example.test/log\n10\n".into(),
            alloc::format!("\n10\n{ROOT10}\n"),
            alloc::format!("o\n\n{ROOT10}\n"),
            alloc::format!("o\n+10\n{ROOT10}\n"),
            alloc::format!("o\n-1\n{ROOT10}\n"),
            alloc::format!("o\n00\n{ROOT10}\n"),
            alloc::format!("o\n 10\n{ROOT10}\n"),
            alloc::format!("o\n9223372036854775808\n{ROOT10}\n"),
            alloc::format!("o\n99999999999999999999\n{ROOT10}\n"),
            alloc::format!("o\n10\n{}\n", &ROOT10[..43]),
            "o\n10\ntFkYYz7pMaKdJBl0CVRwgcMV0m7LP7BBe4lB+Fm44H5=\n".into(),
            "o\n10\ntFkYYz7pMaKdJBl0CVRwgcMV0m7LP7BBe4lB+Fm44H4\n".into(),
            "o\n10\nAAAA\n".into(),
            alloc::format!("o\n10\n{ROOT10}\n\nx\n"),
            alloc::format!("o\n0\n{}\n", b64_encode(&[0u8; 32])),
        ] {
            assert_eq!(
                Checkpoint::parse_text(&bad).unwrap_err().code(),
                ErrorCode::Malformed,
                "{bad:?}"
            );
        }
        let c =
            Checkpoint::parse_text(&alloc::format!("o\n9223372036854775807\n{ROOT10}\n")).unwrap();
        assert_eq!(c.size, MAX_TREE_SIZE);
    }

    #[test]
    fn revocations_line() {
        let empty = crate::revocation::empty_root();
        let r = RevocationsRef {
            count: 3,
            root: [7; 32],
        };
        let cp = Checkpoint::new("o", 1, [1; 32])
            .with_trust_root(TrustRootRef {
                version: 1,
                id: [2; 32],
            })
            .with_revocations(r);
        let parsed = Checkpoint::parse_text(&cp.to_text().unwrap()).unwrap();
        assert_eq!(parsed.revocations().unwrap(), Some(r));
        assert_eq!(parsed.trust_root().unwrap().unwrap().version, 1);
        let b = b64_encode(&[7; 32]);
        for bad in [
            alloc::format!("cairn.revocations 03 {b}"),
            alloc::format!("cairn.revocations -3 {b}"),
            alloc::format!("cairn.revocations 3  {b}"),
            alloc::format!("cairn.revocations 3 {b} "),
            alloc::format!("cairn.revocations 3 {}", &b[..43]),
            alloc::format!(
                "cairn.revocations 3 {}",
                crate::encoding::hex_encode(&[7; 32])
            ),
            alloc::format!("cairn.revocations 0 {b}"),
            alloc::format!("cairn.revocations 18446744073709551616 {b}"),
            "cairn.revocations 3".into(),
            "cairn.revocations ".into(),
        ] {
            assert_eq!(
                RevocationsRef::parse_line(&bad).unwrap_err().code(),
                ErrorCode::Malformed,
                "{bad:?}"
            );
        }
        assert_eq!(
            RevocationsRef::parse_line(&alloc::format!(
                "cairn.revocations 0 {}",
                b64_encode(&empty)
            ))
            .unwrap(),
            Some(RevocationsRef {
                count: 0,
                root: empty
            })
        );
        assert_eq!(
            RevocationsRef::parse_line("cairn.revocationsX 3").unwrap(),
            None
        );
        let two = [r.to_line(), r.to_line()];
        assert!(RevocationsRef::from_extensions(&two).is_err());
    }

    #[test]
    fn to_text_refuses_what_parse_refuses() {
        let mut c = Checkpoint::new("o", 1, [1; 32]);
        c.extensions.push(String::new());
        assert!(c.to_text().is_err());
        assert!(Checkpoint::new("a\nb", 1, [1; 32]).to_text().is_err());
        assert!(Checkpoint::new("", 1, [1; 32]).to_text().is_err());
        assert!(Checkpoint::new("o", 0, [0; 32]).to_text().is_err());
        assert!(Checkpoint::new("o", MAX_TREE_SIZE + 1, [0; 32])
            .to_text()
            .is_err());
    }
}
