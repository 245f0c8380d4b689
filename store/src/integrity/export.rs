//! Ledger export as a self-verifying stream (docs/FORMATS.md, "Ledger export streams"), and
//! the import-side verification of another registry's export.
//!
//! The frames and their verification are cairn-core's ([`cairn_core::ledger::export`]), so a
//! browser verifies an export with the same code as this import; this module writes streams
//! from a registry and reads them from any `io::Read`.
//!
//! The stream carries every entry up to the signed head, in order, with each published
//! checkpoint placed right after the entry that completes its size and the head's note after
//! the last entry. A reader needs nothing else to check it: the log key is added by entry 0
//! and every rotation is in the stream, so the hash chain, the rule book (with the consent
//! signatures), the Merkle tree and every checkpoint can be verified as the bytes arrive, in
//! one pass, and the last checkpoint commits to every entry. What anchors the stream to a real
//! source is the caller's expectation: the source's origin, and a checkpoint obtained from the
//! source (or its witnesses) with the key that signed it.

use std::io::{Read, Write};

use crate::error::{StoreError, StoreResult};
use crate::kernel::checkpoints::CheckpointRecord;
use crate::kernel::db::Registry;
use crate::kernel::schema::{self, CHECKPOINTS, ENTRIES, META};
use cairn_core::error::ErrorCode;
pub use cairn_core::ledger::export::{
    ExportExpectation, ExportReport, ExportVerifier, Frame, EXPORT_MAGIC, MAX_FRAME_LEN,
};
use cairn_core::merkle::MemoryTree;

fn write_frame(out: &mut impl Write, frame: &Frame) -> StoreResult<()> {
    out.write_all(&frame.encode()?)?;
    Ok(())
}

/// Reads the next frame body; `None` at a clean end of input (nothing at all where a frame's
/// length would start). A length cut short is `malformed`, as cairn-core's verifier has it.
fn read_frame(input: &mut impl Read) -> StoreResult<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    match input.read_exact(&mut len[1..]) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(StoreError::core(
                ErrorCode::Malformed,
                "export stream: truncated inside a frame length",
            ))
        }
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
            "export stream: truncated inside a frame",
        )
    })?;
    Ok(Some(body))
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
    /// Writes the whole ledger, up to the signed head, as a self-verifying stream: every
    /// entry, each published checkpoint after the entry that completes its size, and the
    /// head's note last when no checkpoint was published at its size. Returns the number of
    /// entries written.
    pub fn export_ledger(&self, out: impl Write) -> StoreResult<u64> {
        self.read(|rtx| {
            let head = schema::read_head_record(&rtx.open_table(META)?)?;
            let size = crate::kernel::entries::tree_size(&rtx.open_table(ENTRIES)?)?;
            let cps = rtx.open_table(CHECKPOINTS)?;
            let mut notes = std::collections::BTreeMap::new();
            for row in cps.range(..=size)? {
                let (k, v) = row?;
                let rec: CheckpointRecord = schema::decode(v.value(), "checkpoint")?;
                notes.insert(k.value(), rec.note);
            }
            notes.entry(size).or_insert(head.note);
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
        })
    }
}

/// Verifies another registry's export, in one pass over the stream: every entry (decoding,
/// hash chain and consent signatures, as the audit checks them), the Merkle
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
    let mut v = ExportVerifier::new(expect.clone());
    let mut magic = [0u8; 9];
    input
        .read_exact(&mut magic)
        .map_err(|_| StoreError::core(ErrorCode::Malformed, "export stream: too short"))?;
    v.magic(&magic)?;
    while let Some(body) = read_frame(&mut input)? {
        if let Err(e) = v.frame(&body) {
            let e = StoreError::from(e);
            return Err(match v.failed_at() {
                Some(seq) => e.at_seq(seq),
                None => e,
            });
        }
    }
    Ok(v.finish()?)
}
