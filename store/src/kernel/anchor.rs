//! The rollback anchor: a small side file, `<registry file>.anchor`, holding the newest signed
//! head (its note, size and root), rewritten after every commit that signs a new head.
//! Opening compares the file's verified head with it: a registry file whose tree is smaller
//! than the anchor's, or that does not extend the anchored tree, is an older (or another) copy
//! put back in place of the registry, and is refused with `rolled_back`.
//!
//! The anchor lives beside the file, so it catches a registry file replaced on its own (a
//! restored backup, a copied-back snapshot); whoever can rewrite or delete both files defeats
//! it, as they could any local record. A missing anchor is written on the next read-write open.
//!
//! # On disk (version 2)
//!
//! Two slots of [`SLOT`] bytes, slot 1 starting at byte [`SLOT`] (the file ends after the
//! furthest record written). Each record is
//!
//! ```text
//! "cairn anchor v2\n" (16 bytes) | generation (u64 BE) | body length (u32 BE) | body |
//! SHA-256 of everything before it (32 bytes)
//! ```
//!
//! and the body is the text `size N`, `root <base64>`, a blank line and the signed head note.
//! The newest intact record (highest generation, checksum good) is the anchor. A write puts
//! the next generation in the other slot, in place, and makes it durable with one `fdatasync`:
//! a crash during the write tears at most that slot, and the other still holds the previous
//! anchor, which is behind the file and so accepted. Creating the file (or replacing it:
//! a new registry, `reset_anchor`, an open bringing a missing one up to date) writes slot 0
//! alone through `fsio::write_atomic`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use redb::ReadTransaction;
use sha2::{Digest as _, Sha256};

use cairn_core::encoding::{b64_decode, b64_encode, Digest};

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::fsio;
use crate::kernel::head::VerifiedHead;
use crate::kernel::schema;

/// First bytes of each record.
const MAGIC: &[u8; 16] = b"cairn anchor v2\n";
/// Bytes reserved per slot: a head note is a few hundred bytes, a hybrid one a few KiB.
pub(crate) const SLOT: u64 = 32 * 1024;
/// Magic, generation and body length.
const HEADER: usize = 16 + 8 + 4;
/// The SHA-256 after the body.
const TAG: usize = 32;

/// What an anchor file records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Entries covered.
    pub size: u64,
    /// Merkle root at that size.
    pub root: Digest,
    /// The signed head note (a checkpoint note signed by the log key).
    pub note: String,
}

/// The anchor file of the registry at `path`: `path` with `.anchor` appended.
pub fn anchor_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".anchor");
    path.with_file_name(name)
}

impl Anchor {
    /// The anchor beside the registry file `path`, if there is one (`corrupt` if neither slot
    /// holds an intact record).
    pub fn read_beside(path: &Path) -> StoreResult<Option<Anchor>> {
        read(path)
    }

    fn of(head: &VerifiedHead, note: String) -> Anchor {
        Anchor {
            size: head.size,
            root: head.root,
            note,
        }
    }

    fn body(&self) -> String {
        format!(
            "size {}\nroot {}\n\n{}",
            self.size,
            b64_encode(&self.root),
            self.note
        )
    }

    fn parse_body(text: &str) -> Option<Anchor> {
        let mut lines = text.splitn(4, '\n');
        let size = lines.next()?.strip_prefix("size ")?.parse::<u64>().ok()?;
        let root = b64_decode(lines.next()?.strip_prefix("root ")?).ok()?;
        let root = <Digest>::try_from(root.as_slice()).ok()?;
        if !lines.next()?.is_empty() {
            return None;
        }
        let note = lines.next().unwrap_or_default().to_owned();
        Some(Anchor { size, root, note })
    }

    /// The record of generation `generation`, at most [`SLOT`] bytes.
    fn record(&self, generation: u64) -> std::io::Result<Vec<u8>> {
        let body = self.body();
        let len = u32::try_from(body.len())
            .ok()
            .filter(|_| (HEADER + body.len() + TAG) as u64 <= SLOT)
            .ok_or_else(|| {
                std::io::Error::other("the head note is too large for an anchor slot")
            })?;
        let mut rec = Vec::with_capacity(HEADER + body.len() + TAG);
        rec.extend_from_slice(MAGIC);
        rec.extend_from_slice(&generation.to_be_bytes());
        rec.extend_from_slice(&len.to_be_bytes());
        rec.extend_from_slice(body.as_bytes());
        let tag = Sha256::digest(&rec);
        rec.extend_from_slice(&tag);
        Ok(rec)
    }
}

/// The record at the start of `slot` (the slot's bytes, possibly cut short by the file's end),
/// with its generation, if it is intact.
fn decode_slot(slot: &[u8]) -> Option<(u64, Anchor)> {
    let header = slot.get(..HEADER)?;
    if &header[..16] != MAGIC {
        return None;
    }
    let generation = u64::from_be_bytes(header[16..24].try_into().ok()?);
    let len = u32::from_be_bytes(header[24..28].try_into().ok()?) as usize;
    if len as u64 > SLOT {
        return None;
    }
    let signed = slot.get(..HEADER + len)?;
    let tag = slot.get(HEADER + len..HEADER + len + TAG)?;
    if Sha256::digest(signed).as_slice() != tag {
        return None;
    }
    let anchor = Anchor::parse_body(std::str::from_utf8(&signed[HEADER..]).ok()?)?;
    Some((generation, anchor))
}

/// The two slots of an anchor file's bytes, decoded.
fn decode_slots(bytes: &[u8]) -> [Option<(u64, Anchor)>; 2] {
    let cut = bytes.len().min(SLOT as usize);
    [decode_slot(&bytes[..cut]), decode_slot(&bytes[cut..])]
}

/// The newest intact record of `slots`: its slot, generation and anchor.
fn newest(slots: [Option<(u64, Anchor)>; 2]) -> Option<(usize, u64, Anchor)> {
    let [a, b] = slots;
    match (a, b) {
        (Some((ga, a)), Some((gb, _))) if ga >= gb => Some((0, ga, a)),
        (_, Some((gb, b))) => Some((1, gb, b)),
        (Some((ga, a)), None) => Some((0, ga, a)),
        (None, None) => None,
    }
}

/// Reads the anchor file at `ap` whole (`None` when there is none).
fn read_bytes(ap: &Path) -> StoreResult<Option<Vec<u8>>> {
    let file = match File::open(ap) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut bytes = Vec::new();
    file.take(2 * SLOT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > 2 * SLOT {
        return Err(damaged(
            ap,
            &format!("it is larger than {} bytes", 2 * SLOT),
        ));
    }
    Ok(Some(bytes))
}

fn damaged(ap: &Path, why: &str) -> StoreError {
    StoreError::corrupt(format!(
        "the anchor file {} is damaged ({why}); if the registry file is the one you trust, `cairn anchor reset` records it again",
        ap.display()
    ))
}

/// First line of a version-1 anchor file: the same body as a record's, whole-file, written by
/// an atomic replace per commit. Still read, and rewritten as version 2 by a read-write open.
const MAGIC_V1: &str = "cairn registry anchor v1\n";

/// Reads the anchor beside `path`; `None` when there is none.
pub(crate) fn read(path: &Path) -> StoreResult<Option<Anchor>> {
    Ok(read_versioned(path)?.map(|(anchor, _)| anchor))
}

/// [`read`], and whether the file is in version 1 (and so due to be rewritten).
fn read_versioned(path: &Path) -> StoreResult<Option<(Anchor, bool)>> {
    let ap = anchor_path(path);
    let Some(bytes) = read_bytes(&ap)? else {
        return Ok(None);
    };
    if let Some(body) = bytes.strip_prefix(MAGIC_V1.as_bytes()) {
        return match std::str::from_utf8(body).ok().and_then(Anchor::parse_body) {
            Some(anchor) => Ok(Some((anchor, true))),
            None => Err(damaged(&ap, "a version-1 anchor that does not parse")),
        };
    }
    match newest(decode_slots(&bytes)) {
        Some((_, _, anchor)) => Ok(Some((anchor, false))),
        None => Err(damaged(&ap, "neither slot holds an intact record")),
    }
}

/// Writes a new anchor file beside `path` for `head` (its signed note `note`), atomically:
/// slot 0, generation 1, whatever the file held before.
pub(crate) fn write(path: &Path, head: &VerifiedHead, note: &str) -> StoreResult<()> {
    Anchor::of(head, note.to_owned())
        .record(1)
        .and_then(|rec| fsio::write_atomic(&anchor_path(path), &rec))
        .map_err(|e| unwritten(path, e))
}

fn unwritten(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::new(
        StoreCode::Io,
        format!(
            "the commit is durable, but its anchor {} could not be written: {e}",
            anchor_path(path).display()
        ),
    )
}

/// An anchor file kept open by the registry that writes it: which slot holds the newest
/// record, and its generation. Both move only once a record is durable, so a write that
/// failed (even after its bytes reached the page cache) is retried into the same slot, and
/// the other slot keeps the last durable record.
#[derive(Debug)]
struct SlotFile {
    file: File,
    newest: usize,
    generation: u64,
}

/// A writer does not go on from a generation this high (a crafted file could otherwise make
/// the next one overflow): it replaces such a file by a new one. Readers still accept it.
const MAX_GENERATION: u64 = u64::MAX / 2;

impl SlotFile {
    /// Opens the anchor beside `path` for writing in place. A file that is missing, cannot be
    /// read, has no intact version-2 record (a version-1 file among them) or whose newest
    /// generation is [`MAX_GENERATION`] or more is first replaced by a new one holding `a`
    /// (and `true` says that `a` is written already).
    fn open(path: &Path, a: &Anchor) -> std::io::Result<(SlotFile, bool)> {
        let ap = anchor_path(path);
        let current = read_bytes(&ap)
            .ok()
            .flatten()
            .and_then(|bytes| newest(decode_slots(&bytes)))
            .filter(|(_, generation, _)| *generation < MAX_GENERATION);
        let (newest, generation, written) = match current {
            Some((slot, generation, _)) => (slot, generation, false),
            None => {
                fsio::write_atomic(&ap, &a.record(1)?)?;
                (0, 1, true)
            }
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&ap)?;
        Ok((
            SlotFile {
                file,
                newest,
                generation,
            },
            written,
        ))
    }

    /// Writes `a` as the next generation into the slot not holding the newest record, and
    /// makes it durable (one `fdatasync`).
    fn put(&mut self, a: &Anchor) -> std::io::Result<()> {
        let target = 1 - self.newest;
        let generation = self
            .generation
            .checked_add(1)
            .ok_or_else(|| std::io::Error::other("the anchor's generation is exhausted"))?;
        let rec = a.record(generation)?;
        self.file.seek(SeekFrom::Start(target as u64 * SLOT))?;
        self.file.write_all(&rec)?;
        self.file.sync_data()?;
        self.newest = target;
        self.generation = generation;
        Ok(())
    }

    /// Whether `path`'s anchor is still the file this handle writes (not deleted or replaced
    /// since it was opened). Where that cannot be told (not Unix), it is assumed, and an anchor
    /// deleted or replaced while the registry is open is brought up to date by the next open.
    fn is_current(&self, path: &Path) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            match (self.file.metadata(), std::fs::metadata(anchor_path(path))) {
                (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
                _ => false,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            true
        }
    }
}

/// The anchor a durable commit still owes ([`crate::Registry::write_deferring_anchor`]):
/// [`crate::Registry::write_anchor`] writes it, or a newer commit's, which covers it. Owed
/// anchors are numbered in commit order; [`AnchorDue::NONE`] owes nothing (no new head, or
/// anchor writes are off), and the larger of two covers both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AnchorDue(u64);

impl AnchorDue {
    /// Nothing owed.
    pub const NONE: AnchorDue = AnchorDue(0);
}

/// A head whose anchor is not written yet.
#[derive(Debug, Clone)]
struct Owed {
    due: AnchorDue,
    anchor: Anchor,
}

#[derive(Debug, Default)]
struct Owing {
    /// The number of the last anchor owed.
    issued: u64,
    /// The newest head owed and not yet written (it covers every older one).
    newest: Option<Owed>,
    /// The number of the newest anchor written.
    written: u64,
}

/// A registry's anchor writes, taken off its writer lock: a commit owes its anchor once it is
/// durable ([`AnchorWrites::owe`], under the writer lock, so in commit order), and
/// [`AnchorWrites::settle`] writes the newest head owed, so one anchor write can cover several
/// commits while the next transaction already runs. An anchor is only ever written for a
/// durable commit, and never replaced by an older one, so it never gets ahead of the file nor
/// goes back.
#[derive(Debug, Default)]
pub(crate) struct AnchorWrites {
    owing: std::sync::Mutex<Owing>,
    /// Held while the file is written: one anchor write at a time, into the file kept open
    /// since the first (`None` before it). A write that failed keeps the handle, so the retry
    /// goes to the same slot.
    io: std::sync::Mutex<Option<SlotFile>>,
}

/// Writes `a` into the anchor beside `path` through `open`, opening the file first if there
/// is no handle yet or the name no longer leads to the file it holds (deleted or replaced
/// meanwhile: the anchor is then recreated, as the next open would).
fn put(open: &mut Option<SlotFile>, path: &Path, a: &Anchor) -> std::io::Result<()> {
    match open.as_mut() {
        Some(f) if f.is_current(path) => f.put(a),
        _ => {
            let (mut f, written) = SlotFile::open(path, a)?;
            let result = if written { Ok(()) } else { f.put(a) };
            *open = Some(f);
            result
        }
    }
}

impl AnchorWrites {
    /// Records that the durable commit of `head` (signed note `note`) owes its anchor.
    /// Called under the registry's writer lock, in commit order.
    pub(crate) fn owe(&self, head: VerifiedHead, note: String) -> AnchorDue {
        let mut o = self.owing.lock().unwrap_or_else(|p| p.into_inner());
        o.issued += 1;
        let due = AnchorDue(o.issued);
        o.newest = Some(Owed {
            due,
            anchor: Anchor::of(&head, note),
        });
        due
    }

    /// Returns once the anchor of `due`, or of a newer commit, is written beside `path`.
    pub(crate) fn settle(&self, path: &Path, due: AnchorDue) -> StoreResult<()> {
        if due == AnchorDue::NONE {
            return Ok(());
        }
        let mut io = self.io.lock().unwrap_or_else(|p| p.into_inner());
        let owed = {
            let mut o = self.owing.lock().unwrap_or_else(|p| p.into_inner());
            if o.written >= due.0 {
                return Ok(());
            }
            o.newest.take()
        };
        // `due` was owed before this call and is not written, and only a write under `io`
        // takes the newest head (putting it back when it fails): it is there, at `due` or newer.
        let Some(owed) = owed.filter(|o| o.due >= due) else {
            return Err(StoreError::new(
                StoreCode::Io,
                "the commit is durable, but its anchor was not queued for writing",
            ));
        };
        match put(&mut io, path, &owed.anchor).map_err(|e| unwritten(path, e)) {
            Ok(()) => {
                let mut o = self.owing.lock().unwrap_or_else(|p| p.into_inner());
                o.written = o.written.max(owed.due.0);
                Ok(())
            }
            Err(e) => {
                // Still owed: the next settle (this commit's waiters or a later one) retries.
                let mut o = self.owing.lock().unwrap_or_else(|p| p.into_inner());
                if o.newest.as_ref().is_none_or(|n| n.due < owed.due) {
                    o.newest = Some(owed);
                }
                Err(e)
            }
        }
    }
}

/// Checks the verified head `head` of the snapshot `rtx` against the anchor beside `path`.
/// Returns whether the anchor is missing, behind or in version 1 (and so should be rewritten).
pub(crate) fn check(rtx: &ReadTransaction, path: &Path, head: &VerifiedHead) -> StoreResult<bool> {
    let Some((anchor, v1)) = read_versioned(path)? else {
        return Ok(true);
    };
    let recover = "if this is a genuine restore from a backup, run `cairn anchor reset` (Registry::reset_anchor) to accept it";
    if head.size < anchor.size {
        return Err(StoreError::new(
            StoreCode::RolledBack,
            format!(
                "the registry file holds {} entries but its anchor records {}: an older copy of the file was put back, and whatever happened after entry {} (revocations included) is missing; {recover}",
                head.size, anchor.size, head.size
            ),
        )
        .at_seq(head.size));
    }
    let stored = if head.size == anchor.size {
        head.root
    } else {
        let tree = rtx.open_table(schema::TREE)?;
        crate::kernel::entries::root_at(&tree, head.size, anchor.size)?
    };
    if stored != anchor.root {
        return Err(StoreError::new(
            StoreCode::RolledBack,
            format!(
                "the registry file ({} entries) does not extend the history its anchor records ({} entries, root {}; the file gives {} at that size): another copy of the file was put in place; {recover}",
                head.size,
                anchor.size,
                b64_encode(&anchor.root),
                b64_encode(&stored)
            ),
        ));
    }
    Ok(head.size > anchor.size || v1)
}

/// The signed head note stored in the file (the META head record), for the anchor.
pub(crate) fn head_note(raw: &[u8]) -> StoreResult<String> {
    let rec: schema::HeadRecord = schema::decode(raw, "head record")?;
    Ok(rec.note)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(size: u64) -> Anchor {
        Anchor {
            size,
            root: [size as u8; 32],
            note: format!("example.test/log\n{size}\nroot\n\n— example.test/log sig{size}\n"),
        }
    }

    /// A two-slot file: generation 7 (size 7) in slot 0, generation 8 (size 8) in slot 1.
    fn two_slots() -> Vec<u8> {
        let mut bytes = anchor(7).record(7).unwrap();
        bytes.resize(SLOT as usize, 0);
        bytes.extend(anchor(8).record(8).unwrap());
        bytes
    }

    fn newest_size(bytes: &[u8]) -> Option<u64> {
        newest(decode_slots(bytes)).map(|(_, _, a)| a.size)
    }

    #[test]
    fn the_newest_intact_generation_wins_in_either_slot() {
        let bytes = two_slots();
        assert_eq!(
            newest(decode_slots(&bytes)).map(|(s, g, _)| (s, g)),
            Some((1, 8))
        );
        // The same records with the generations the other way round.
        let mut swapped = anchor(8).record(9).unwrap();
        swapped.resize(SLOT as usize, 0);
        swapped.extend(anchor(7).record(3).unwrap());
        assert_eq!(newest_size(&swapped), Some(8));
        assert_eq!(Anchor::parse_body(&anchor(5).body()), Some(anchor(5)));
    }

    #[test]
    fn a_torn_or_cut_record_leaves_the_other_slot() {
        let bytes = two_slots();
        let second = SLOT as usize;
        // Every byte of the newer record flipped in turn: the older one answers.
        for at in second..bytes.len() {
            let mut copy = bytes.clone();
            copy[at] ^= 0x20;
            assert_eq!(newest_size(&copy), Some(7), "flip at {at}");
        }
        // Cut anywhere inside the newer record: the older one answers; inside the older
        // record with no newer one: nothing intact.
        for cut in second..bytes.len() {
            assert_eq!(newest_size(&bytes[..cut]), Some(7), "cut at {cut}");
        }
        assert_eq!(newest_size(&bytes), Some(8));
        let first_len = anchor(7).record(7).unwrap().len();
        for cut in 0..first_len {
            assert_eq!(newest_size(&bytes[..cut]), None, "cut at {cut}");
        }
        // Both records damaged: nothing intact.
        let mut both = bytes.clone();
        both[HEADER + 2] ^= 1;
        both[second + HEADER + 2] ^= 1;
        assert_eq!(newest_size(&both), None);
    }

    #[test]
    fn a_record_that_would_overflow_its_slot_is_not_written() {
        let mut big = anchor(1);
        big.note = "x".repeat(SLOT as usize);
        assert!(big.record(1).is_err());
        let mut fits = anchor(1);
        fits.note.clear();
        fits.note = "x".repeat(SLOT as usize - HEADER - TAG - fits.body().len());
        assert_eq!(fits.record(1).unwrap().len() as u64, SLOT);
    }

    #[test]
    fn a_generation_near_the_end_of_its_range_gets_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.redb");
        let mut bytes = anchor(1).record(u64::MAX).unwrap();
        bytes.resize(SLOT as usize, 0);
        std::fs::write(anchor_path(&path), &bytes).unwrap();
        assert_eq!(read(&path).unwrap(), Some(anchor(1)));
        let mut open = None;
        put(&mut open, &path, &anchor(2)).unwrap();
        let f = open.as_ref().unwrap();
        assert_eq!((f.newest, f.generation), (0, 1));
        put(&mut open, &path, &anchor(3)).unwrap();
        assert_eq!(read(&path).unwrap(), Some(anchor(3)));
    }

    #[test]
    fn writes_alternate_slots_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.redb");
        let mut open = None;
        for size in 1..=5u64 {
            put(&mut open, &path, &anchor(size)).unwrap();
            assert_eq!(read(&path).unwrap(), Some(anchor(size)));
            let f = open.as_ref().unwrap();
            // The first write creates the file (slot 0); then slots 1, 0, 1, ...
            assert_eq!((f.newest, f.generation), (((size + 1) % 2) as usize, size));
        }
        assert!(std::fs::metadata(anchor_path(&path)).unwrap().len() <= 2 * SLOT);
        // Another writer (after a reopen) goes on from the file's newest generation.
        let mut again = None;
        put(&mut again, &path, &anchor(6)).unwrap();
        let f = again.as_ref().unwrap();
        assert_eq!((f.newest, f.generation), (1, 6));
        assert_eq!(read(&path).unwrap(), Some(anchor(6)));
    }
}
