//! Ledger export streams (docs/FORMATS.md, "Ledger export streams"): the frames and their
//! verification, with no I/O, so that a registry's import, a browser and Node verify an
//! export with the same code.
//!
//! A stream is [`EXPORT_MAGIC`] then frames, each a u32 big-endian length and a postcard
//! [`Frame`]: the header, every entry in order (its compact DSSE envelope, carrying only the
//! signatures of the keys whose consent its event needs), a checkpoint note right after the
//! entry that completes its size, and the final frame with the size and root of all entries.
//!
//! Entries are not signed by the log key one by one: the checkpoints sign the tree that holds
//! them. A stream is therefore accepted only if its last checkpoint covers every entry, so
//! each entry is committed to by a checkpoint signed by the log key of its time (the log key
//! is added by entry 0 and every rotation is in the stream). [`ExportVerifier`] checks, as the
//! bytes arrive: each entry's decoding, the hash chain, the ledger rule book
//! ([`LedgerState::apply`]: who may sign what, consent signatures), the Merkle tree, each
//! checkpoint's signature and root, the final frame, and the caller's expectation.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::{ChainVerifier, LedgerState};
use crate::checkpoint::{
    verify_checkpoint, CheckpointPolicy, CheckpointVerifier, RevocationsRef, VerifiedCheckpoint,
};
use crate::crypto::{KeyId, PublicKey};
use crate::dsse::Envelope;
use crate::encoding::{b64_encode, from_postcard_canonical, to_postcard, Digest};
use crate::error::{Error, ErrorCode, Result};
use crate::merkle::MemoryTree;

/// First bytes of an export stream: magic and format version (2: entries carry consent
/// signatures only; checkpoints sign the tree).
pub const EXPORT_MAGIC: &[u8; 9] = b"CAIRNLOG\x02";
/// Largest frame accepted.
pub const MAX_FRAME_LEN: usize = 1024 * 1024;

/// One frame of an export stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// First frame: the log's origin and the number of entries that follow.
    Header {
        /// The log's origin (the first line of its checkpoints).
        origin: String,
        /// Entries in the stream.
        size: u64,
    },
    /// One entry: its compact DSSE envelope.
    Entry(#[serde(with = "crate::crypto::bytes_b64")] Vec<u8>),
    /// A signed checkpoint note whose size is the number of entries so far.
    Checkpoint(String),
    /// Last frame: the size and root of the whole stream.
    End {
        /// Entries in the stream.
        size: u64,
        /// Merkle root of all of them.
        #[serde(with = "crate::encoding::hex32")]
        root: Digest,
    },
}

impl Frame {
    /// The frame as it goes on the wire: u32 big-endian length, then the postcard body
    /// (`too_large` above [`MAX_FRAME_LEN`]).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let body = to_postcard(self);
        if body.len() > MAX_FRAME_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                format!(
                    "export frame of {} bytes exceeds {MAX_FRAME_LEN}",
                    body.len()
                ),
            ));
        }
        let mut out = Vec::with_capacity(4 + body.len());
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }
}

/// What the importer expects of the source.
#[derive(Debug, Clone, Default)]
pub struct ExportExpectation {
    /// The source's origin; the stream must carry it.
    pub origin: Option<String>,
    /// A checkpoint note obtained from the source (or its witnesses), with the key that signed
    /// it: the stream must contain that tree as a prefix (same root at that size), and the key
    /// must be the stream's log key at that size.
    pub checkpoint: Option<(String, PublicKey)>,
}

/// What a verified export establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// The source's origin.
    pub origin: String,
    /// Entries verified.
    pub entries: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Merkle root of all entries.
    pub root: Digest,
    /// The log key at the end of the stream.
    pub log_key: KeyId,
}

fn malformed(detail: &str) -> Error {
    Error::malformed(format!("export stream: {detail}"))
}

/// Verifies a checkpoint note for `origin` signed by `key` under the key name `origin`
/// (every signature line of the key, both halves of a hybrid); returns (size, root).
pub fn open_log_note(note: &str, origin: &str, key: &PublicKey) -> Result<(u64, Digest)> {
    open_log_checkpoint(note, origin, key).map(|cp| (cp.size, cp.root))
}

/// [`open_log_note`], returning the whole verified checkpoint (its extension lines too: the
/// revocation map it commits to).
pub fn open_log_checkpoint(
    note: &str,
    origin: &str,
    key: &PublicKey,
) -> Result<VerifiedCheckpoint> {
    let verifier = CheckpointVerifier {
        name: origin.into(),
        public_key: key.clone(),
    };
    verify_checkpoint(note.as_bytes(), &[verifier], &CheckpointPolicy::new(origin))
}

/// Verifies an export stream frame by frame (see the module docs). Feed it the magic, then
/// each frame body; [`ExportVerifier::finish`] gives the report.
#[derive(Debug)]
pub struct ExportVerifier {
    expect: ExportExpectation,
    origin: Option<String>,
    announced: u64,
    chain: ChainVerifier,
    state: LedgerState,
    tree: MemoryTree,
    /// The revocation map the entries so far build (what each checkpoint's
    /// `cairn.revocations` line must commit to), and its size.
    revocations: crate::revocation::NodeMap,
    revoked: u64,
    checkpoints: u64,
    /// Size of the newest verified checkpoint.
    covered: u64,
    end: Option<(u64, Digest)>,
    failed_at: Option<u64>,
}

impl ExportVerifier {
    /// A verifier expecting `expect` of the source.
    pub fn new(expect: ExportExpectation) -> ExportVerifier {
        ExportVerifier {
            expect,
            origin: None,
            announced: 0,
            chain: ChainVerifier::new(),
            state: LedgerState::new(),
            tree: MemoryTree::new(),
            revocations: crate::revocation::NodeMap::new(),
            revoked: 0,
            checkpoints: 0,
            covered: 0,
            end: None,
            failed_at: None,
        }
    }

    /// Entries verified so far.
    pub fn entries(&self) -> u64 {
        self.state.size
    }

    /// The sequence number of the entry that failed, when an entry failed.
    pub fn failed_at(&self) -> Option<u64> {
        self.failed_at
    }

    /// Checks the stream's first bytes.
    pub fn magic(&mut self, magic: &[u8]) -> Result<()> {
        if magic.len() != EXPORT_MAGIC.len() || magic[..8] != EXPORT_MAGIC[..8] {
            return Err(malformed("not a cairn ledger export (bad magic)"));
        }
        if magic[8] != EXPORT_MAGIC[8] {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                format!(
                    "export format version {} is not supported (this build reads version {})",
                    magic[8], EXPORT_MAGIC[8]
                ),
            ));
        }
        Ok(())
    }

    /// Processes the body of the next frame (without its length prefix).
    pub fn frame(&mut self, body: &[u8]) -> Result<()> {
        if self.end.is_some() {
            return Err(malformed("frames after the final frame"));
        }
        let frame: Frame = from_postcard_canonical(body, MAX_FRAME_LEN, "export frame")?;
        if self.origin.is_none() && !matches!(frame, Frame::Header { .. }) {
            return Err(malformed("the first frame must be the header"));
        }
        match frame {
            Frame::Header { .. } if self.origin.is_some() => {
                return Err(malformed("a second header"))
            }
            Frame::Header { origin, size } => {
                if let Some(want) = &self.expect.origin {
                    if *want != origin {
                        return Err(Error::new(
                            ErrorCode::DomainMismatch,
                            format!("the export is of {origin:?}, not {want:?}"),
                        ));
                    }
                }
                self.origin = Some(origin);
                self.announced = size;
            }
            Frame::Entry(bytes) => {
                let n = self.state.size;
                if n >= self.announced {
                    return Err(malformed("more entries than announced"));
                }
                self.entry(&bytes)
                    .inspect_err(|_| self.failed_at = Some(n))?;
            }
            Frame::Checkpoint(note) => {
                let origin = self.origin.clone().unwrap_or_default();
                let n = self.state.size;
                let key_id = self
                    .state
                    .log_key_at(n)
                    .ok_or_else(|| malformed("a checkpoint precedes entry 0"))?;
                let key = self
                    .state
                    .keys
                    .get(&key_id)
                    .map(|k| k.public_key.clone())
                    .ok_or_else(|| malformed("unknown log key"))?;
                let cp = open_log_checkpoint(&note, &origin, &key)
                    .map_err(|e| e.context(&format!("checkpoint after {n} entries")))?;
                let size = cp.size;
                if size != n || cp.root != self.tree.root() {
                    return Err(Error::new(
                        ErrorCode::ProofInvalid,
                        format!(
                            "the checkpoint after {n} entries does not match them (size {size})"
                        ),
                    ));
                }
                // What the checkpoint claims besides its tree (the trust root it names, the
                // revocation map it commits to) must be what these entries give, as the audit
                // requires; a checkpoint without those lines claims nothing.
                let want = super::LedgerClaims {
                    trust_root: self.state.trust_root_ref(),
                    revocations: RevocationsRef {
                        count: self.revoked,
                        root: self.revocations.root()?,
                    },
                };
                super::check_checkpoint_claims(&cp.extensions, &want)
                    .map_err(|e| e.context(&format!("checkpoint after {n} entries")))?;
                self.checkpoints += 1;
                self.covered = n;
            }
            Frame::End { size, root } => {
                let n = self.state.size;
                if size != n || n != self.announced {
                    return Err(malformed(&format!(
                        "announced {} entries, ends at {size}, carried {n}",
                        self.announced
                    )));
                }
                if root != self.tree.root() {
                    return Err(Error::new(
                        ErrorCode::ProofInvalid,
                        "the final root does not match the entries",
                    ));
                }
                self.end = Some((size, root));
            }
        }
        Ok(())
    }

    fn entry(&mut self, compact: &[u8]) -> Result<()> {
        let env = Envelope::from_compact(compact)?;
        let entry = super::entry_from_envelope(&env)?;
        self.chain.push(&entry)?;
        self.state.apply(&entry, &env)?;
        if let Some((kind, id)) = crate::revocation::revoked_object(&entry.event) {
            // The rule book refuses a second revocation of an object, so keys never repeat.
            self.revocations
                .insert(crate::revocation::map_key(kind, &id), entry.seq)?;
            self.revoked += 1;
        }
        self.tree.append(&env.payload)?;
        Ok(())
    }

    /// Ends the stream: the final frame must have arrived, a checkpoint must cover every
    /// entry, and the expected checkpoint (if any) must be a prefix of the stream.
    pub fn finish(self) -> Result<ExportReport> {
        let Some((size, root)) = self.end else {
            return Err(malformed("ends without its final frame (truncated)"));
        };
        let origin = self
            .origin
            .ok_or_else(|| malformed("the first frame must be the header"))?;
        if self.checkpoints == 0 {
            return Err(malformed(
                "no checkpoint: nothing signed commits to the entries",
            ));
        }
        if self.covered != size {
            return Err(Error::new(
                ErrorCode::ProofInvalid,
                format!(
                    "entries {}..{size} are covered by no checkpoint: nothing signed commits to them",
                    self.covered
                ),
            ));
        }
        if let Some((note, key)) = &self.expect.checkpoint {
            let (cp_size, cp_root) = open_log_note(note, &origin, key)
                .map_err(|e| e.context("the expected checkpoint"))?;
            if cp_size > size {
                return Err(Error::new(
                    ErrorCode::ChainBroken,
                    format!(
                        "the expected checkpoint covers {cp_size} entries, the export only {size}"
                    ),
                ));
            }
            if self.state.log_key_at(cp_size) != Some(key.key_id()) {
                return Err(Error::new(
                    ErrorCode::KeyMismatch,
                    "the expected checkpoint's key is not the export's log key at that size",
                ));
            }
            let at = self.tree.root_at(cp_size)?;
            if at != cp_root {
                return Err(Error::new(
                    ErrorCode::ProofInvalid,
                    format!(
                        "the export is not consistent with the expected checkpoint: root at size {cp_size} is {}, the checkpoint says {}",
                        b64_encode(&at),
                        b64_encode(&cp_root)
                    ),
                ));
            }
        }
        Ok(ExportReport {
            origin,
            entries: size,
            checkpoints: self.checkpoints,
            root,
            log_key: self
                .state
                .log_key()
                .ok_or_else(|| malformed("no entries"))?,
        })
    }
}

/// Verifies a whole export stream held in memory (see [`ExportVerifier`] to verify one as
/// it arrives).
///
/// ```
/// use cairn_core::ledger::export::{verify_export, ExportExpectation};
/// let err = verify_export(b"CAIRNLOG\x01", &ExportExpectation::default()).unwrap_err();
/// assert_eq!(err.code(), cairn_core::ErrorCode::UnsupportedVersion);
/// ```
pub fn verify_export(stream: &[u8], expect: &ExportExpectation) -> Result<ExportReport> {
    let mut v = ExportVerifier::new(expect.clone());
    if stream.len() < EXPORT_MAGIC.len() {
        return Err(malformed("too short"));
    }
    v.magic(&stream[..EXPORT_MAGIC.len()])?;
    let mut rest = &stream[EXPORT_MAGIC.len()..];
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(malformed("truncated inside a frame length"));
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len > MAX_FRAME_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                format!("export frame of {len} bytes exceeds {MAX_FRAME_LEN}"),
            ));
        }
        let body = rest
            .get(4..4 + len)
            .ok_or_else(|| malformed("truncated inside a frame"))?;
        v.frame(body).map_err(|e| match v.failed_at() {
            Some(seq) => e.context(&format!("entry {seq}")),
            None => e,
        })?;
        rest = &rest[4 + len..];
    }
    v.finish()
}
