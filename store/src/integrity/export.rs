//! Ledger export as a self-verifying stream, and the import-side verification of another
//! registry's export (docs/formats/store-export.md specifies the bytes).
//!
//! The stream carries every entry up to the newest checkpoint, in order, with each checkpoint
//! placed right after the entry that completes its size. A reader needs nothing else to check
//! it: the log key is added by entry 0 and every rotation is in the stream, so each entry's
//! signature, the hash chain, the Merkle tree and every checkpoint can be verified as the bytes
//! arrive, in one pass. What anchors the stream to a real source is the caller's expectation: the
//! source's origin, and a checkpoint obtained from the source (or its witnesses) with the key
//! that signed it — the stream must be consistent with it.

use std::io::{Read, Write};

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::integrity::audit::replay_entry;
use crate::kernel::checkpoints::{open_note, CheckpointRecord};
use crate::kernel::db::Registry;
use crate::kernel::entries::decode_entry;
use crate::kernel::schema::{self, CHECKPOINTS, ENTRIES};
use cairn_core::crypto::{KeyId, PublicKey};
use cairn_core::encoding::{b64_encode, from_postcard, to_postcard, Digest};
use cairn_core::error::ErrorCode;
use cairn_core::ledger::ChainVerifier;
use cairn_core::ledger::LedgerState;
use cairn_core::merkle::MemoryTree;

/// First bytes of an export stream: magic and format version.
pub const EXPORT_MAGIC: &[u8; 9] = b"CAIRNLOG\x01";
/// Largest frame accepted.
pub const MAX_FRAME_LEN: usize = 1024 * 1024;

/// One frame of the stream (postcard; see docs/formats/store-export.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Frame {
    /// First frame: the log's origin and the number of entries that follow.
    Header { origin: String, size: u64 },
    /// One entry: its compact DSSE envelope.
    Entry(#[serde(with = "cairn_core::crypto::bytes_b64")] Vec<u8>),
    /// A signed checkpoint note whose size is the number of entries so far.
    Checkpoint(String),
    /// Last frame: the size and root of the whole stream.
    End {
        size: u64,
        #[serde(with = "cairn_core::encoding::hex32")]
        root: Digest,
    },
}

fn write_frame(out: &mut impl Write, frame: &Frame) -> StoreResult<()> {
    let body = to_postcard(frame);
    let len = u32::try_from(body.len())
        .map_err(|_| StoreError::core(ErrorCode::TooLarge, "export frame too large"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(&body)?;
    Ok(())
}

/// Reads the next frame; `None` at a clean end of input.
fn read_frame(input: &mut impl Read) -> StoreResult<Option<Frame>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME_LEN {
        return Err(StoreError::core(
            ErrorCode::TooLarge,
            format!("export frame of {len} bytes exceeds {MAX_FRAME_LEN}"),
        ));
    }
    let mut body = vec![0u8; len];
    input.read_exact(&mut body).map_err(|_| {
        StoreError::core(
            ErrorCode::Malformed,
            "export stream is truncated inside a frame",
        )
    })?;
    Ok(Some(from_postcard(&body, MAX_FRAME_LEN, "export frame")?))
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

/// Writes an export stream frame by frame: the header, then entries in order with each
/// checkpoint right after the entry that completes its size, then the final frame (which
/// [`ExportWriter::finish`] computes). [`Registry::export_ledger`] uses it; so can tools that
/// build a stream from elsewhere.
pub struct ExportWriter<W: Write> {
    out: W,
    tree: MemoryTree,
    announced: u64,
}

impl<W: Write> ExportWriter<W> {
    /// Writes the magic and the header announcing `size` entries of log `origin`.
    pub fn new(mut out: W, origin: &str, size: u64) -> StoreResult<ExportWriter<W>> {
        out.write_all(EXPORT_MAGIC)?;
        write_frame(
            &mut out,
            &Frame::Header {
                origin: origin.to_owned(),
                size,
            },
        )?;
        Ok(ExportWriter {
            out,
            tree: MemoryTree::new(),
            announced: size,
        })
    }

    /// Writes the next entry (its compact DSSE envelope).
    pub fn entry(&mut self, compact_envelope: &[u8]) -> StoreResult<()> {
        let env = cairn_core::dsse::Envelope::from_compact(compact_envelope)?;
        self.tree.append(&env.payload)?;
        write_frame(&mut self.out, &Frame::Entry(compact_envelope.to_vec()))
    }

    /// Writes a checkpoint note for the entries written so far.
    pub fn checkpoint(&mut self, note: &str) -> StoreResult<()> {
        write_frame(&mut self.out, &Frame::Checkpoint(note.to_owned()))
    }

    /// Writes the final frame (size and root of the entries written) and returns the output.
    pub fn finish(mut self) -> StoreResult<W> {
        let size = cairn_core::merkle::TreeHashes::tree_size(&self.tree);
        if size != self.announced {
            return Err(StoreError::core(
                ErrorCode::Malformed,
                format!("announced {} entries, wrote {size}", self.announced),
            ));
        }
        write_frame(
            &mut self.out,
            &Frame::End {
                size,
                root: self.tree.root(),
            },
        )?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl Registry {
    /// Writes the ledger up to the newest checkpoint as a self-verifying stream. Returns the
    /// number of entries written. Entries after the newest checkpoint are not exported (no
    /// signature commits to them yet): create a checkpoint first to include them.
    pub fn export_ledger(&self, out: impl Write) -> StoreResult<u64> {
        let rtx = self.read_tx()?;
        let cps = rtx.open_table(CHECKPOINTS)?;
        let size = cps
            .last()?
            .map(|(k, _)| k.value())
            .ok_or_else(|| StoreError::corrupt("the registry has no checkpoint"))?;
        let mut notes = std::collections::BTreeMap::new();
        for row in cps.range(..=size)? {
            let (k, v) = row?;
            let rec: CheckpointRecord = schema::decode(v.value(), "checkpoint")?;
            notes.insert(k.value(), rec.note);
        }
        let mut w = ExportWriter::new(out, self.origin(), size)?;
        if let Some(note) = notes.get(&0) {
            w.checkpoint(note)?;
        }
        let entries = rtx.open_table(ENTRIES)?;
        for row in entries.range(..size)? {
            let (k, v) = row?;
            w.entry(v.value())?;
            if let Some(note) = notes.get(&(k.value() + 1)) {
                w.checkpoint(note)?;
            }
        }
        w.finish()?;
        Ok(size)
    }
}

/// Verifies another registry's export, in one pass over the stream: every entry (decoding,
/// hash chain, log-key signature and consent signatures, as the audit checks them), the Merkle
/// tree, every checkpoint in the stream, the final size and root, and the caller's
/// expectation. Errors name the first bad entry by sequence number.
///
/// ```
/// use cairn_store::{verify_export, CreateOptions, ExportExpectation, Protection, Registry};
/// let dir = tempfile::tempdir()?;
/// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
/// let mut stream = Vec::new();
/// reg.export_ledger(&mut stream)?;
/// let cp = reg.latest_checkpoint()?;
/// let log = reg.key(&reg.log_key_id()?)?.public_key;
/// let expect = ExportExpectation { origin: Some("example.test/log".into()), checkpoint: Some((cp.note, log)) };
/// let report = verify_export(&stream[..], &expect)?;
/// assert_eq!(report.entries, 1);
/// stream[40] ^= 1;
/// assert!(verify_export(&stream[..], &expect).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_export(
    mut input: impl Read,
    expect: &ExportExpectation,
) -> StoreResult<ExportReport> {
    let malformed = |d: &str| StoreError::core(ErrorCode::Malformed, format!("export stream: {d}"));
    let mut magic = [0u8; 9];
    input
        .read_exact(&mut magic)
        .map_err(|_| malformed("too short"))?;
    if magic[..8] != EXPORT_MAGIC[..8] {
        return Err(malformed("not a cairn ledger export"));
    }
    if magic[8] != EXPORT_MAGIC[8] {
        return Err(StoreError::core(
            ErrorCode::UnsupportedVersion,
            format!("export format version {} is not supported", magic[8]),
        ));
    }
    let Some(Frame::Header { origin, size }) = read_frame(&mut input)? else {
        return Err(malformed("the first frame must be the header"));
    };
    if let Some(want) = &expect.origin {
        if *want != origin {
            return Err(StoreError::core(
                ErrorCode::DomainMismatch,
                format!("the export is of {origin:?}, not {want:?}"),
            ));
        }
    }
    let mut chain = ChainVerifier::new();
    let mut replay = LedgerState::new();
    let mut tree = MemoryTree::new();
    let mut checkpoints = 0u64;
    let mut n = 0u64;
    loop {
        let frame = read_frame(&mut input)?
            .ok_or_else(|| malformed("ends without its final frame (truncated)"))?;
        match frame {
            Frame::Entry(bytes) => {
                let e = decode_entry(n, &bytes)?;
                chain
                    .push_bytes(&e.envelope.payload)
                    .map_err(|err| StoreError::from(err).at_seq(n))?;
                replay_entry(&mut replay, &e)?;
                tree.append(&e.envelope.payload)?;
                n += 1;
            }
            Frame::Checkpoint(note) => {
                let key_id = replay
                    .log_key_at(n)
                    .ok_or_else(|| malformed("a checkpoint precedes entry 0"))?;
                let key = replay
                    .keys
                    .get(&key_id)
                    .map(|k| k.public_key.clone())
                    .ok_or_else(|| malformed("unknown log key"))?;
                let (cp_size, cp_root) = open_note(&note, &origin, &key)
                    .map_err(|e| e.context(&format!("checkpoint after {n} entries")))?;
                if cp_size != n || cp_root != tree.root() {
                    return Err(StoreError::core(
                        ErrorCode::ProofInvalid,
                        format!(
                            "the checkpoint after {n} entries does not match them (size {cp_size})"
                        ),
                    ));
                }
                checkpoints += 1;
            }
            Frame::End {
                size: end_size,
                root,
            } => {
                if end_size != n || n != size {
                    return Err(malformed(&format!(
                        "announced {size} entries, ends at {end_size}, carried {n}"
                    )));
                }
                if root != tree.root() {
                    return Err(StoreError::core(
                        ErrorCode::ProofInvalid,
                        "the final root does not match the entries",
                    ));
                }
                break;
            }
            Frame::Header { .. } => return Err(malformed("a second header")),
        }
        if n > size {
            return Err(malformed("more entries than announced"));
        }
    }
    if read_frame(&mut input)?.is_some() {
        return Err(malformed("frames after the final frame"));
    }
    if checkpoints == 0 {
        return Err(malformed(
            "no checkpoint: nothing signed commits to the entries",
        ));
    }
    if let Some((note, key)) = &expect.checkpoint {
        let (cp_size, cp_root) =
            open_note(note, &origin, key).map_err(|e| e.context("the expected checkpoint"))?;
        if cp_size > n {
            return Err(StoreError::core(
                ErrorCode::ChainBroken,
                format!("the expected checkpoint covers {cp_size} entries, the export only {n}"),
            )
            .at_seq(n));
        }
        if replay.log_key_at(cp_size) != Some(key.key_id()) {
            return Err(StoreError::core(
                ErrorCode::KeyMismatch,
                "the expected checkpoint's key is not the export's log key at that size",
            ));
        }
        let root = tree.root_at(cp_size)?;
        if root != cp_root {
            return Err(StoreError::core(
                ErrorCode::ProofInvalid,
                format!("the export is not consistent with the expected checkpoint: root at size {cp_size} is {}, the checkpoint says {}", b64_encode(&root), b64_encode(&cp_root)),
            ));
        }
    }
    Ok(ExportReport {
        origin,
        entries: n,
        checkpoints,
        root: tree.root(),
        log_key: replay.log_key().ok_or_else(|| malformed("no entries"))?,
    })
}
