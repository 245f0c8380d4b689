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
//! # On disk (version 3)
//!
//! Two slots of [`SLOT`] bytes, slot 1 starting at byte [`SLOT`] (the file ends after the
//! furthest record written). Each record is
//!
//! ```text
//! "cairn anchor v3\n" (16 bytes) | generation (u64 BE) | body length (u32 BE) | body |
//! SHA-256 of everything before it (32 bytes)
//! ```
//!
//! and the body is the text `size N`, `root <base64>`, optionally `before M <base64>`, a blank
//! line and the signed head note. The newest intact record (highest generation, checksum good)
//! is the anchor. A write puts the next generation in the other slot, in place, and makes it
//! durable with one `fdatasync`: a crash during the write tears at most that slot, and the
//! other still holds the previous anchor, which the file's head is or extends, and so accepted.
//! Creating the file (or replacing it: a new registry, `reset_anchor`, an open bringing a
//! missing one up to date) writes slot 0 alone through `fsio::write_atomic`. Version-2 records
//! (the same, without `before`) are still read.
//!
//! # Written with the commit
//!
//! [`crate::Registry::write`] does not wait for redb's commit before writing the anchor: the
//! background writer ([`AnchorWrites::send_ahead`]) records the new head while redb commits,
//! with `before` naming the head the file holds until the commit is durable, and the write
//! returns once both are on disk (the anchor's `fdatasync` then costs nothing beside redb's).
//! Such a record accepts the file at exactly `before` (a crash before the commit was durable)
//! or extending the new head. Invariants:
//!
//! 1. When a commit starts, the newest durable record accepts the file's head and every
//!    extension of it. A record written ahead of a commit that then failed does not (it names a
//!    head the file never got), so [`AnchorWrites::ahead`] stays set and the next commit first
//!    records the file's head ([`AnchorWrites::repair`]).
//! 2. Records are written one at a time (the `io` lock), each into the slot not holding the
//!    newest, so by 1 a crash in any write leaves a record that accepts the file.
//! 3. After the commit, the writer confirms the new head (the same record without `before`)
//!    off the caller's path, so an older copy at exactly `before` is refused from then on;
//!    dropping the registry waits for it. A confirmation is skipped once a newer head is
//!    recorded, so the anchor never goes back.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use redb::ReadTransaction;
use sha2::{Digest as _, Sha256};

use cairn_core::encoding::{b64_decode, b64_encode, Digest};

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::fsio;
use crate::kernel::head::VerifiedHead;
use crate::kernel::schema;

/// First bytes of each record written.
const MAGIC: &[u8; 16] = b"cairn anchor v3\n";
/// First bytes of a version-2 record (no `before` line): still read.
const MAGIC_V2: &[u8; 16] = b"cairn anchor v2\n";
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
    /// Set while the commit of this head may not be durable yet: the head (size, root) the
    /// registry file holds until it is, which the anchor accepts too.
    pub before: Option<(u64, Digest)>,
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

    pub(crate) fn of(head: &VerifiedHead, note: String) -> Anchor {
        Anchor {
            size: head.size,
            root: head.root,
            note,
            before: None,
        }
    }

    fn body(&self) -> String {
        let before = match &self.before {
            Some((size, root)) => format!("before {size} {}\n", b64_encode(root)),
            None => String::new(),
        };
        format!(
            "size {}\nroot {}\n{before}\n{}",
            self.size,
            b64_encode(&self.root),
            self.note
        )
    }

    /// Parses a record's body; `before` lines only where `with_before` (version 3).
    fn parse_body(text: &str, with_before: bool) -> Option<Anchor> {
        fn digest(b64: &str) -> Option<Digest> {
            <Digest>::try_from(b64_decode(b64).ok()?.as_slice()).ok()
        }
        let (head, note) = text.split_once("\n\n")?;
        let mut lines = head.split('\n');
        let size = lines.next()?.strip_prefix("size ")?.parse::<u64>().ok()?;
        let root = digest(lines.next()?.strip_prefix("root ")?)?;
        let before = match lines.next() {
            None => None,
            Some(line) if with_before => {
                let (size, root) = line.strip_prefix("before ")?.split_once(' ')?;
                Some((size.parse::<u64>().ok()?, digest(root)?))
            }
            Some(_) => return None,
        };
        if lines.next().is_some() || before.is_some_and(|(b, _)| b >= size) {
            return None;
        }
        Some(Anchor {
            size,
            root,
            note: note.to_owned(),
            before,
        })
    }

    /// Whether the head (`size`, `root`) is the one this anchor names as `before`.
    fn is_before(&self, size: u64, root: &Digest) -> bool {
        self.before == Some((size, *root))
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
    let with_before = match &header[..16] {
        m if m == MAGIC => true,
        m if m == MAGIC_V2 => false,
        _ => return None,
    };
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
    let anchor = Anchor::parse_body(std::str::from_utf8(&signed[HEADER..]).ok()?, with_before)?;
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
        return match std::str::from_utf8(body)
            .ok()
            .and_then(|b| Anchor::parse_body(b, false))
        {
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
    /// The size the newest record names.
    newest_size: u64,
}

/// A writer does not go on from a generation this high (a crafted file could otherwise make
/// the next one overflow): it replaces such a file by a new one. Readers still accept it.
const MAX_GENERATION: u64 = u64::MAX / 2;

impl SlotFile {
    /// Opens the anchor beside `path` for writing in place. A file that is missing, cannot be
    /// read, has no intact version-2 or -3 record (a version-1 file among them) or whose newest
    /// generation is [`MAX_GENERATION`] or more is first replaced by a new one holding `a`
    /// (and `true` says that `a` is written already).
    fn open(path: &Path, a: &Anchor) -> std::io::Result<(SlotFile, bool)> {
        let ap = anchor_path(path);
        let current = read_bytes(&ap)
            .ok()
            .flatten()
            .and_then(|bytes| newest(decode_slots(&bytes)))
            .filter(|(_, generation, _)| *generation < MAX_GENERATION);
        let (newest, generation, newest_size, written) = match current {
            Some((slot, generation, current)) => (slot, generation, current.size, false),
            None => {
                fsio::write_atomic(&ap, &a.record(1)?)?;
                (0, 1, a.size, true)
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
                newest_size,
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
        self.newest_size = a.size;
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
    /// goes to the same slot. Shared with the background writer.
    io: Arc<Mutex<Option<SlotFile>>>,
    /// The background writer of records sent ahead of their commit (started by the first).
    worker: Mutex<Option<Worker>>,
    /// Set while the newest record may name a head the file does not hold (sent ahead of a
    /// commit that did not succeed): the next commit first records the file's head.
    ahead: AtomicBool,
}

/// What the background writer is sent, and handles in the order sent.
enum Job {
    /// A record sent ahead of its commit: written, and the outcome told.
    Ahead(Anchor, mpsc::SyncSender<std::io::Result<()>>),
    /// A confirmation after the commit: written unless a newer head is recorded already.
    Confirm(Anchor),
    /// Nothing to write: answered once everything sent before it is handled.
    Flush(mpsc::SyncSender<std::io::Result<()>>),
}

/// The background writer's thread and the channel to it.
#[derive(Debug)]
struct Worker {
    jobs: mpsc::Sender<Job>,
    thread: std::thread::JoinHandle<()>,
}

/// The background write of an anchor record, sent ahead of its commit
/// ([`AnchorWrites::send_ahead`]).
#[must_use = "the commit waits for its anchor record"]
pub(crate) struct InFlight(mpsc::Receiver<std::io::Result<()>>);

impl InFlight {
    /// Waits until the record is durable (or its write failed).
    pub(crate) fn wait(self) -> std::io::Result<()> {
        self.0
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the anchor writer stopped")))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a holder panicked; the slot state is still consistent (it
    // moves only once a record is durable).
    m.lock().unwrap_or_else(|p| p.into_inner())
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

/// [`put`], unless the file this handle writes records a newer head already: that one covers
/// `a`, and an anchor never goes back (a late confirmation, an owed anchor settled after a
/// newer record).
fn put_unless_behind(open: &mut Option<SlotFile>, path: &Path, a: &Anchor) -> std::io::Result<()> {
    match open.as_ref() {
        Some(f) if f.is_current(path) && f.newest_size > a.size => Ok(()),
        _ => put(open, path, a),
    }
}

impl AnchorWrites {
    /// Records that the durable commit of `head` (signed note `note`) owes its anchor.
    /// Called under the registry's writer lock, in commit order.
    pub(crate) fn owe(&self, head: VerifiedHead, note: String) -> AnchorDue {
        let mut o = lock(&self.owing);
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
        let mut io = lock(&self.io);
        let owed = {
            let mut o = lock(&self.owing);
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
        // [`crate::Registry::write`]'s records do not go through `owe`.
        match put_unless_behind(&mut io, path, &owed.anchor).map_err(|e| unwritten(path, e)) {
            Ok(()) => {
                let mut o = lock(&self.owing);
                o.written = o.written.max(owed.due.0);
                Ok(())
            }
            Err(e) => {
                // Still owed: the next settle (this commit's waiters or a later one) retries.
                let mut o = lock(&self.owing);
                if o.newest.as_ref().is_none_or(|n| n.due < owed.due) {
                    o.newest = Some(owed);
                }
                Err(e)
            }
        }
    }
}

impl AnchorWrites {
    /// Starts writing, in the background, the record of a commit about to be made: `anchor`
    /// names its new head and, as `before`, the head the file holds until the commit is durable
    /// (module docs, "Written with the commit"). `None` when the writer cannot be started;
    /// the commit then writes its anchor after it, as [`AnchorWrites::settle`] does.
    pub(crate) fn send_ahead(&self, path: &Path, anchor: Anchor) -> Option<InFlight> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.ahead.store(true, Ordering::SeqCst);
        if self.send(path, Job::Ahead(anchor, reply)) {
            Some(InFlight(answer))
        } else {
            // Nothing was sent (and `repair` ran before the commit, so nothing is ahead).
            self.ahead.store(false, Ordering::SeqCst);
            None
        }
    }

    /// After the commit a record was sent ahead of: on success the file holds the new head,
    /// which the background writer confirms (the record without `before`); on failure the
    /// record stays ahead of the file until [`AnchorWrites::repair`].
    pub(crate) fn committed(&self, path: &Path, confirmed: Option<Anchor>) {
        if let Some(anchor) = confirmed {
            self.ahead.store(false, Ordering::SeqCst);
            // Not waited for: until it lands, the record sent ahead stands, which accepts the
            // file. A confirmation that cannot be written leaves it standing.
            let _ = self.send(path, Job::Confirm(anchor));
        }
    }

    /// Before a commit starts: when a record was sent ahead of a commit that did not succeed,
    /// records `head` (the file's) first, so that invariant 1 holds again.
    pub(crate) fn repair(
        &self,
        path: &Path,
        head: impl FnOnce() -> StoreResult<Anchor>,
    ) -> StoreResult<()> {
        if !self.ahead.load(Ordering::SeqCst) {
            return Ok(());
        }
        let anchor = head()?;
        self.wait_idle();
        put(&mut lock(&self.io), path, &anchor).map_err(|e| {
            StoreError::new(
                StoreCode::Io,
                format!(
                    "the anchor {} still names the head of a commit that failed, and could not be brought back: {e}",
                    anchor_path(path).display()
                ),
            )
        })?;
        self.ahead.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Returns once every record sent to the background writer is written (or failed).
    pub(crate) fn wait_idle(&self) {
        let (reply, answer) = mpsc::sync_channel(1);
        let sent = lock(&self.worker)
            .as_ref()
            .is_some_and(|w| w.jobs.send(Job::Flush(reply)).is_ok());
        if sent {
            let _ = answer.recv();
        }
    }

    /// Sends `job` to the background writer, starting it first if needed; `false` if it
    /// cannot be started or has stopped.
    fn send(&self, path: &Path, job: Job) -> bool {
        let mut worker = lock(&self.worker);
        if worker.is_none() {
            let (jobs, queue) = mpsc::channel::<Job>();
            let io = Arc::clone(&self.io);
            let path = path.to_path_buf();
            let thread = std::thread::Builder::new()
                .name("cairn-anchor".into())
                .spawn(move || {
                    for job in queue {
                        match job {
                            Job::Ahead(anchor, reply) => {
                                let _ = reply.send(put(&mut lock(&io), &path, &anchor));
                            }
                            Job::Confirm(anchor) => {
                                // Not written: the record sent ahead stands.
                                let _ = put_unless_behind(&mut lock(&io), &path, &anchor);
                            }
                            Job::Flush(reply) => {
                                let _ = reply.send(Ok(()));
                            }
                        }
                    }
                });
            match thread {
                Ok(thread) => *worker = Some(Worker { jobs, thread }),
                Err(_) => return false,
            }
        }
        worker.as_ref().is_some_and(|w| w.jobs.send(job).is_ok())
    }
}

impl Drop for AnchorWrites {
    /// Lets the background writer finish what it was sent (the last confirmation included).
    fn drop(&mut self) {
        if let Some(w) = lock(&self.worker).take() {
            drop(w.jobs);
            let _ = w.thread.join();
        }
    }
}

/// Checks the verified head `head` of the snapshot `rtx` against the anchor beside `path`: the
/// file must hold the anchored head or extend it, or hold exactly the anchor's `before` head.
/// Returns whether the anchor is missing, behind, ahead (`before`) or in version 1, and so
/// should be rewritten.
pub(crate) fn check(rtx: &ReadTransaction, path: &Path, head: &VerifiedHead) -> StoreResult<bool> {
    let Some((anchor, v1)) = read_versioned(path)? else {
        return Ok(true);
    };
    // A crash while the commit the anchor was written with was in flight: the file holds the
    // head before it.
    if anchor.is_before(head.size, &head.root) {
        return Ok(true);
    }
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
    // The file extends the anchored history when a consistency proof from the anchor's tree
    // to the signed head's verifies: both roots are authenticated (the anchor's by the anchor,
    // the head's by its signature), so inner nodes of the file's tree that the head does not
    // cover (which reading the root at the anchor's size alone would trust) cannot pass off a
    // fork as an extension.
    let tree = rtx.open_table(schema::TREE)?;
    let extends = if head.size == anchor.size {
        head.root == anchor.root
    } else if anchor.size == 0 {
        anchor.root == cairn_core::merkle::EMPTY_ROOT
    } else {
        let hashes = crate::kernel::tree::TreeView::new(&tree, head.size)
            .run(|v| cairn_core::merkle::prove_consistency(v, anchor.size, head.size))?;
        cairn_core::merkle::verify_consistency(
            anchor.size,
            head.size,
            &anchor.root,
            &head.root,
            &hashes,
        )
        .is_ok()
    };
    if !extends {
        // What the file's tree gives at the anchor's size, for the message only.
        let stored = crate::kernel::entries::root_at(&tree, head.size, anchor.size)?;
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
    // A record still naming `before` is confirmed: the file holds its head.
    Ok(head.size > anchor.size || v1 || anchor.before.is_some())
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
            before: None,
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
        assert_eq!(Anchor::parse_body(&anchor(5).body(), true), Some(anchor(5)));
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

    /// A version-2 record: the same layout under the version-2 magic.
    fn v2_record(a: &Anchor, generation: u64) -> Vec<u8> {
        let mut rec = a.record(generation).unwrap();
        rec[..16].copy_from_slice(MAGIC_V2);
        let n = rec.len() - TAG;
        let tag = Sha256::digest(&rec[..n]);
        rec[n..].copy_from_slice(&tag);
        rec
    }

    #[test]
    fn a_before_line_is_read_in_version_3_only_and_must_name_a_smaller_tree() {
        let mut ahead = anchor(9);
        ahead.before = Some((8, [8; 32]));
        let rec = ahead.record(3).unwrap();
        assert_eq!(&rec[..16], MAGIC);
        assert_eq!(decode_slot(&rec), Some((3, ahead.clone())));
        // Version 2: read without `before`, refused with one.
        assert_eq!(decode_slot(&v2_record(&anchor(9), 3)), Some((3, anchor(9))));
        assert_eq!(decode_slot(&v2_record(&ahead, 3)), None);
        // `before` at or past the record's own size, or malformed: not a record.
        for bad in [
            "size 9\nroot {r}\nbefore 9 {r}\n\nnote",
            "size 9\nroot {r}\nbefore 10 {r}\n\nnote",
            "size 9\nroot {r}\nbefore 8\n\nnote",
            "size 9\nroot {r}\nbefore x {r}\n\nnote",
            "size 9\nroot {r}\nbefore 8 {r}\nbefore 7 {r}\n\nnote",
            "size 9\nroot {r}\nafter 8 {r}\n\nnote",
            "size 9\nroot {r}\n",
        ] {
            let text = bad.replace("{r}", &b64_encode(&[1; 32]));
            assert_eq!(Anchor::parse_body(&text, true), None, "{text}");
        }
        let good = format!(
            "size 9\nroot {r}\nbefore 8 {r}\n\nnote",
            r = b64_encode(&[1; 32])
        );
        assert_eq!(
            Anchor::parse_body(&good, true).map(|a| a.before),
            Some(Some((8, [1; 32])))
        );
    }

    #[test]
    fn the_background_writer_writes_in_order_and_never_confirms_an_older_head() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.redb");
        let writes = AnchorWrites::default();
        let mut ahead = anchor(5);
        ahead.before = Some((4, [4; 32]));
        let flight = writes.send_ahead(&path, ahead.clone()).unwrap();
        flight.wait().unwrap();
        assert_eq!(read(&path).unwrap(), Some(ahead.clone()));
        // The commit succeeded: the confirmation follows.
        writes.committed(&path, Some(anchor(5)));
        writes.wait_idle();
        assert_eq!(read(&path).unwrap(), Some(anchor(5)));
        // A newer head recorded off the background writer: an older confirmation is skipped.
        put(&mut lock(&writes.io), &path, &anchor(7)).unwrap();
        let _ = writes.send(&path, Job::Confirm(anchor(6)));
        writes.wait_idle();
        assert_eq!(read(&path).unwrap(), Some(anchor(7)));
        // A commit that failed: the record sent ahead stands until the next commit repairs it
        // with the file's head; with nothing ahead, a repair writes nothing.
        let mut failed = anchor(8);
        failed.before = Some((7, [7; 32]));
        writes
            .send_ahead(&path, failed.clone())
            .unwrap()
            .wait()
            .unwrap();
        writes.committed(&path, None);
        writes.wait_idle();
        assert_eq!(read(&path).unwrap(), Some(failed));
        writes.repair(&path, || Ok(anchor(7))).unwrap();
        assert_eq!(read(&path).unwrap(), Some(anchor(7)));
        writes
            .repair(&path, || -> StoreResult<Anchor> {
                unreachable!("nothing is ahead")
            })
            .unwrap();
        // Dropping waits for what was sent.
        writes.committed(&path, Some(anchor(9)));
        drop(writes);
        assert_eq!(read(&path).unwrap(), Some(anchor(9)));
    }

    #[test]
    fn a_file_at_the_head_before_an_unfinished_commit_is_accepted_and_nothing_older() {
        use crate::{CreateOptions, KeySpec, Protection, Registry};
        use cairn_core::crypto::Algorithm;
        use cairn_core::trust::{Role, RoleSet};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.redb");
        let copy = |n: &str| {
            let to = dir.path().join(n);
            std::fs::copy(&path, &to).unwrap();
            to
        };
        let add_key = |reg: &Registry, label: &str| {
            let spec = KeySpec::new(label, RoleSet::of(&[Role::Peer]));
            reg.generate_key(Algorithm::Ed25519, &spec, &Protection::Insecure)
                .unwrap();
        };
        let reg = Registry::create(
            &path,
            CreateOptions::new("anchor.example.test/log", Protection::Insecure),
        )
        .unwrap();
        add_key(&reg, "a");
        drop(reg);
        let older = copy("older.redb");
        let reg = Registry::open(&path, None).unwrap();
        add_key(&reg, "b");
        let before = reg.signed_head();
        drop(reg);
        let at_before = copy("before.redb");
        let reg = Registry::open(&path, None).unwrap();
        add_key(&reg, "c");
        let head = reg.signed_head();
        drop(reg);
        let newest = copy("newest.redb");
        // The record a crash during the last commit could leave: its head, with `before`.
        let confirmed = read(&path).unwrap().unwrap();
        assert_eq!((confirmed.size, confirmed.before), (head.size, None));
        let mut ahead = confirmed.clone();
        ahead.before = Some((before.size, before.root));
        let set_ahead = || write_record(&path, &ahead);
        let put_back = |from: &Path| std::fs::copy(from, &path).unwrap();
        // The commit did not become durable: the file holds `before`, which opens; a
        // read-write open records it as the anchor.
        set_ahead();
        put_back(&at_before);
        drop(Registry::open_read_only(&path).unwrap());
        assert_eq!(read(&path).unwrap(), Some(ahead.clone()));
        drop(Registry::open(&path, None).unwrap());
        let now = read(&path).unwrap().unwrap();
        assert_eq!(
            (now.size, now.root, now.before),
            (before.size, before.root, None)
        );
        // Anything older than `before` is a rollback.
        set_ahead();
        put_back(&older);
        for e in [
            Registry::open_read_only(&path).unwrap_err(),
            Registry::open(&path, None).unwrap_err(),
        ] {
            assert_eq!(e.code(), StoreCode::RolledBack, "{e}");
        }
        // The commit became durable: the file opens, and the record loses its `before`.
        put_back(&newest);
        drop(Registry::open(&path, None).unwrap());
        assert_eq!(read(&path).unwrap(), Some(confirmed));
        // A `before` naming the right size but another root is a rollback too.
        ahead.before = Some((before.size, [0xAA; 32]));
        write_record(&path, &ahead);
        put_back(&at_before);
        assert_eq!(
            Registry::open_read_only(&path).unwrap_err().code(),
            StoreCode::RolledBack
        );
    }

    /// Replaces the anchor beside `path` by one holding `a` alone.
    fn write_record(path: &Path, a: &Anchor) {
        std::fs::write(anchor_path(path), a.record(1).unwrap()).unwrap();
    }

    /// A registry with one key past creation, its anchor settled.
    fn registry(dir: &Path) -> (PathBuf, crate::Registry) {
        let path = dir.join("r.redb");
        let reg = crate::Registry::create(
            &path,
            crate::CreateOptions::new("anchor.example.test/log", crate::Protection::Insecure),
        )
        .unwrap();
        add_key(&reg, "a").unwrap();
        reg.settle_anchor();
        (path, reg)
    }

    fn add_key(reg: &crate::Registry, label: &str) -> StoreResult<()> {
        use cairn_core::trust::{Role, RoleSet};
        let spec = crate::KeySpec::new(label, RoleSet::of(&[Role::Peer]));
        reg.generate_key(
            cairn_core::crypto::Algorithm::Ed25519,
            &spec,
            &crate::Protection::Insecure,
        )
        .map(|_| ())
    }

    #[test]
    fn a_commit_that_fails_after_its_record_was_sent_leaves_an_anchor_the_file_satisfies() {
        let dir = tempfile::tempdir().unwrap();
        let (path, reg) = registry(dir.path());
        let head = reg.signed_head();
        crate::kernel::db::fail_next_commit::arm();
        assert!(add_key(&reg, "lost").is_err());
        assert_eq!(reg.tree_size().unwrap(), head.size, "nothing committed");
        // The record sent ahead names a head the file never got, and the file's as `before`.
        let ahead = read(&path).unwrap().unwrap();
        assert!(ahead.size > head.size);
        assert_eq!(ahead.before, Some((head.size, head.root)));
        // The next commit first records the file's head, then its own.
        add_key(&reg, "b").unwrap();
        reg.settle_anchor();
        let now = read(&path).unwrap().unwrap();
        assert_eq!(
            (now.size, now.root, now.before),
            (reg.tree_size().unwrap(), reg.signed_head().root, None)
        );
        // A failed commit and then a crash: the file opens, and a read-write open records it.
        crate::kernel::db::fail_next_commit::arm();
        assert!(add_key(&reg, "lost again").is_err());
        let size = reg.tree_size().unwrap();
        drop(reg);
        assert!(read(&path).unwrap().unwrap().before.is_some());
        drop(crate::Registry::open_read_only(&path).unwrap());
        drop(crate::Registry::open(&path, None).unwrap());
        let reopened = read(&path).unwrap().unwrap();
        assert_eq!((reopened.size, reopened.before), (size, None));
    }

    #[test]
    fn anchor_writes_turned_off_after_a_failed_commit_still_repair_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let (path, reg) = registry(dir.path());
        crate::kernel::db::fail_next_commit::arm();
        assert!(add_key(&reg, "lost").is_err());
        reg.set_anchor_writes(false);
        // The file grows past the failed commit's size with other content: the anchor must
        // not be left naming the head that never was.
        for label in ["b", "c"] {
            add_key(&reg, label).unwrap();
        }
        drop(reg);
        let reg = crate::Registry::open(&path, None).unwrap();
        assert!(read(&path).unwrap().unwrap().size <= reg.tree_size().unwrap());
    }

    #[test]
    fn an_anchor_owed_by_a_deferred_commit_does_not_replace_a_newer_one() {
        let dir = tempfile::tempdir().unwrap();
        let (path, reg) = registry(dir.path());
        let deferred = reg.write_deferring_anchor(|tx| {
            use cairn_core::trust::{Role, RoleSet};
            tx.generate_key(
                cairn_core::crypto::Algorithm::Ed25519,
                &crate::KeySpec::new("deferred", RoleSet::of(&[Role::Peer])),
                &crate::Protection::Insecure,
            )
        });
        let due = deferred.unwrap().anchor;
        add_key(&reg, "newer").unwrap();
        reg.settle_anchor();
        let newest = read(&path).unwrap().unwrap();
        assert_eq!(newest.size, reg.tree_size().unwrap());
        reg.write_anchor(due).unwrap();
        assert_eq!(read(&path).unwrap(), Some(newest));
    }
}
