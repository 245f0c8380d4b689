//! The rollback anchor: a small side file, `<registry file>.anchor`, holding the newest signed
//! head (its note, size and root), rewritten atomically after every commit that signs a new
//! head. Opening compares the file's verified head with it: a registry file whose tree is
//! smaller than the anchor's, or that does not extend the anchored tree, is an older (or
//! another) copy put back in place of the registry, and is refused with `rolled_back`.
//!
//! The anchor lives beside the file, so it catches a registry file replaced on its own (a
//! restored backup, a copied-back snapshot); whoever can rewrite or delete both files defeats
//! it, as they could any local record. A missing anchor is written on the next read-write open.

use std::path::{Path, PathBuf};

use redb::ReadTransaction;

use cairn_core::encoding::{b64_decode, b64_encode, Digest};

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::fsio;
use crate::kernel::head::VerifiedHead;
use crate::kernel::schema;

/// First line of an anchor file.
const MAGIC: &str = "cairn registry anchor v1";
/// Largest anchor file read (a head note is a few hundred bytes; a hybrid one a few KiB).
const MAX_ANCHOR: u64 = 64 * 1024;

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
    /// The anchor beside the registry file `path`, if there is one (`corrupt` if it does not
    /// parse).
    pub fn read_beside(path: &Path) -> StoreResult<Option<Anchor>> {
        read(path)
    }

    fn to_text(&self) -> String {
        format!(
            "{MAGIC}\nsize {}\nroot {}\n\n{}",
            self.size,
            b64_encode(&self.root),
            self.note
        )
    }

    fn parse(text: &str, path: &Path) -> StoreResult<Anchor> {
        let bad = |why: &str| {
            StoreError::corrupt(format!(
                "the anchor file {} is damaged ({why}); if the registry file is the one you trust, `cairn anchor reset` records it again",
                path.display()
            ))
        };
        let mut lines = text.splitn(5, '\n');
        if lines.next() != Some(MAGIC) {
            return Err(bad("unknown first line"));
        }
        let size = lines
            .next()
            .and_then(|l| l.strip_prefix("size "))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| bad("no size line"))?;
        let root = lines
            .next()
            .and_then(|l| l.strip_prefix("root "))
            .and_then(|v| b64_decode(v).ok())
            .and_then(|v| <Digest>::try_from(v.as_slice()).ok())
            .ok_or_else(|| bad("no root line"))?;
        if lines.next() != Some("") {
            return Err(bad("no blank line before the note"));
        }
        let note = lines.next().unwrap_or_default().to_owned();
        Ok(Anchor { size, root, note })
    }
}

/// Reads the anchor beside `path`; `None` when there is none.
pub(crate) fn read(path: &Path) -> StoreResult<Option<Anchor>> {
    use std::io::Read;
    let ap = anchor_path(path);
    let file = match std::fs::File::open(&ap) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut text = String::new();
    file.take(MAX_ANCHOR + 1)
        .read_to_string(&mut text)
        .map_err(|_| {
            StoreError::corrupt(format!("the anchor file {} is not text", ap.display()))
        })?;
    if text.len() as u64 > MAX_ANCHOR {
        return Err(StoreError::corrupt(format!(
            "the anchor file {} is larger than {MAX_ANCHOR} bytes",
            ap.display()
        )));
    }
    Anchor::parse(&text, &ap).map(Some)
}

/// Writes the anchor beside `path` for `head` (its signed note `note`), atomically.
pub(crate) fn write(path: &Path, head: &VerifiedHead, note: &str) -> StoreResult<()> {
    let a = Anchor {
        size: head.size,
        root: head.root,
        note: note.to_owned(),
    };
    fsio::write_atomic(&anchor_path(path), a.to_text().as_bytes()).map_err(|e| {
        StoreError::new(
            StoreCode::Io,
            format!(
                "the commit is durable, but its anchor {} could not be written: {e}",
                anchor_path(path).display()
            ),
        )
    })
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
    head: VerifiedHead,
    note: String,
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
    /// Held while the file is written: one anchor write at a time.
    io: std::sync::Mutex<()>,
}

impl AnchorWrites {
    /// Records that the durable commit of `head` (signed note `note`) owes its anchor.
    /// Called under the registry's writer lock, in commit order.
    pub(crate) fn owe(&self, head: VerifiedHead, note: String) -> AnchorDue {
        let mut o = self.owing.lock().unwrap_or_else(|p| p.into_inner());
        o.issued += 1;
        let due = AnchorDue(o.issued);
        o.newest = Some(Owed { due, head, note });
        due
    }

    /// Returns once the anchor of `due`, or of a newer commit, is written beside `path`.
    pub(crate) fn settle(&self, path: &Path, due: AnchorDue) -> StoreResult<()> {
        if due == AnchorDue::NONE {
            return Ok(());
        }
        let _io = self.io.lock().unwrap_or_else(|p| p.into_inner());
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
        match write(path, &owed.head, &owed.note) {
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
/// Returns whether the anchor is missing or behind (and so should be rewritten).
pub(crate) fn check(rtx: &ReadTransaction, path: &Path, head: &VerifiedHead) -> StoreResult<bool> {
    let Some(anchor) = read(path)? else {
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
    Ok(head.size > anchor.size)
}

/// The signed head note stored in the file (the META head record), for the anchor.
pub(crate) fn head_note(raw: &[u8]) -> StoreResult<String> {
    let rec: schema::HeadRecord = schema::decode(raw, "head record")?;
    Ok(rec.note)
}
