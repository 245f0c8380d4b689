//! Durable file replacement: the one way cairn writes a file that is not the registry
//! database itself (exported keys, bundles, trust roots, ledger exports, a new rollback
//! anchor, tile trees, configs) and the way it creates the registry file.
//!
//! [`write_atomic`] writes the bytes to a temporary file in the same directory, fsyncs it,
//! renames it over the destination and fsyncs the directory. A crash at any point leaves
//! either the old file (or none) or the complete new one under the final name, never a
//! half-written file; a leftover temporary file is named `.<name>.cairn-tmp.<pid>.<n>` and
//! is removed by the next successful write to the same destination.
//!
//! A tree of many files (the tiles of a log) is written through [`DurableBatch`]: each file as
//! [`write_atomic`] writes it, but each directory fsynced once, at [`DurableBatch::finish`],
//! rather than after every file.
//!
//! A file that holds a secret (an exported private key, the registry itself, a copy of it) is
//! created readable by its owner only ([`write_private_with`], [`create_private`]): mode 0600
//! on Unix from the moment it exists, whatever the umask. Everything else gets the umask's
//! mode, so that exports meant to be published (tiles, bundles) stay readable by a web server.
//!
//! Reading a file that someone else may have put in place (a tile of an exported tree, a
//! service's configuration) goes through [`read_regular`]: a regular file only, read no
//! further than a limit.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What [`read_regular`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegularRead {
    /// The file's bytes, at most the limit.
    Bytes(Vec<u8>),
    /// Not a regular file (a directory, a FIFO, a device, a socket): not opened.
    NotRegular,
    /// A regular file longer than the limit: read no further.
    TooLarge,
}

/// Reads the regular file `path`, at most `max` bytes. Anything else is refused before it is
/// opened, since opening a FIFO waits for a writer and a device may never end; a file longer
/// than `max` (whatever length it reported) is read no further than one byte past it.
///
/// ```
/// use cairn_store::fsio::{read_regular, RegularRead};
/// let dir = tempfile::tempdir()?;
/// let f = dir.path().join("note");
/// std::fs::write(&f, b"hello")?;
/// assert_eq!(read_regular(&f, 5)?, RegularRead::Bytes(b"hello".to_vec()));
/// assert_eq!(read_regular(&f, 4)?, RegularRead::TooLarge);
/// assert_eq!(read_regular(dir.path(), 5)?, RegularRead::NotRegular);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_regular(path: &Path, max: usize) -> std::io::Result<RegularRead> {
    use std::io::Read;
    if !fs::metadata(path)?.is_file() {
        return Ok(RegularRead::NotRegular);
    }
    let mut bytes = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    File::open(path)?.take(limit).read_to_end(&mut bytes)?;
    Ok(if bytes.len() > max {
        RegularRead::TooLarge
    } else {
        RegularRead::Bytes(bytes)
    })
}

/// A temporary sibling of `dest`: same directory, so the rename is atomic.
pub fn temp_path(dest: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dest.with_file_name(format!(".{name}.cairn-tmp.{}.{n}", std::process::id()))
}

/// The directory holding `path` ("." for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Fsyncs a directory so that a rename or a file creation inside it survives a crash. On
/// platforms where a directory cannot be opened for syncing this is a no-op.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Takes an exclusive lock on directory `dir`, held until the returned file is dropped, among
/// the callers (processes or threads) that take it the same way: `flock` on the directory
/// itself where the system allows it (Linux, macOS, the BSDs), so that no lock file is left
/// behind. Best effort: where the directory cannot be opened for reading (write and search
/// permission only, or Windows) or locked (Solaris's `fcntl` locks want a file open for
/// writing), no lock (`None`), as before locking.
pub fn lock_dir(dir: &Path) -> Option<File> {
    let f = File::open(dir).ok()?;
    f.lock().ok()?;
    Some(f)
}

/// Creates `dir` and any missing parents, fsyncing each directory that gained an entry.
pub fn create_dir_all_durable(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_all_durable(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    sync_dir(parent_dir(dir))
}

/// Removes temporary files an interrupted write to `dest` left behind.
fn remove_stale_temps(dest: &Path) {
    if let Some(name) = dest.file_name() {
        remove_stale_temps_in(
            parent_dir(dest),
            &BTreeSet::from([name.to_string_lossy().into_owned()]),
        );
    }
}

/// Removes from `dir`, in one reading of it, the temporary files interrupted writes to any of
/// `names` (file names, as [`temp_path`] spells them) left behind
/// (`.<name>.cairn-tmp.<pid>.<n>`). On Linux, a temporary of another process still running is
/// left alone: it may be a write in progress, which would fail if its file went. (This
/// process's own are removed: a process restarted under the same pid, as a container's first
/// process is, would otherwise keep its predecessor's forever.)
fn remove_stale_temps_in(dir: &Path, names: &BTreeSet<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let file = file.to_string_lossy();
        let stale = file
            .strip_prefix('.')
            .and_then(|rest| rest.rsplit_once(".cairn-tmp."))
            .is_some_and(|(name, tail)| {
                names.contains(name) && is_pid_and_count(tail) && !is_running(tail)
            });
        if stale {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Whether the process whose id begins `tail` (`<pid>.<n>`) is another one, running: on
/// Linux, whether `/proc/<pid>` exists; elsewhere, unknown, taken as not.
fn is_running(tail: &str) -> bool {
    #[cfg(target_os = "linux")]
    {
        tail.split_once('.').is_some_and(|(pid, _)| {
            pid != std::process::id().to_string() && Path::new("/proc").join(pid).exists()
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tail;
        false
    }
}

/// Whether `tail` is the `<pid>.<n>` [`temp_path`] ends a temporary's name with: two runs of
/// ASCII digits, so that a file of another shape that merely shares the prefix is left alone.
fn is_pid_and_count(tail: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    tail.split_once('.')
        .is_some_and(|(pid, n)| digits(pid) && digits(n))
}

/// Moves a complete, fsynced file into place: rename over `dest`, then fsync the directory.
pub fn rename_durable(tmp: &Path, dest: &Path) -> std::io::Result<()> {
    fs::rename(tmp, dest)?;
    sync_dir(parent_dir(dest))?;
    remove_stale_temps(dest);
    Ok(())
}

/// Writes `dest` atomically and durably with what `fill` writes (see the module docs).
/// Parent directories are created. On error the destination is untouched and the temporary
/// file removed.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let p = dir.path().join("out/root.json");
/// cairn_store::fsio::write_atomic_with(&p, |f| { use std::io::Write; f.write_all(b"{}") })?;
/// assert_eq!(std::fs::read(&p)?, b"{}");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomic_with(
    dest: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    write_with(dest, Access::Shared, fill)
}

/// Who may read a file cairn creates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// As the process's umask allows (exports meant to be published).
    Shared,
    /// The owner only (mode 0600 on Unix): anything holding a secret.
    Private,
}

/// Creates `path`, which must not exist, for writing. A [`Access::Private`] file is created
/// with mode 0600, so no other user can open it at any moment of its life.
fn create_new(path: &Path, access: Access) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if access == Access::Private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    }
    #[cfg(not(unix))]
    let _ = access;
    opts.open(path)
}

/// Creates the empty file `path` (which must not exist) readable and writable by its owner
/// only (mode 0600 on Unix), for a database to be built in: the registry holds its keys, so
/// no other user may read it.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let p = dir.path().join("registry.redb");
/// cairn_store::fsio::create_private(&p)?;
/// # #[cfg(unix)] {
/// use std::os::unix::fs::PermissionsExt;
/// assert_eq!(std::fs::metadata(&p)?.permissions().mode() & 0o777, 0o600);
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn create_private(path: &Path) -> std::io::Result<()> {
    create_new(path, Access::Private).map(drop)
}

/// Like [`write_atomic_with`], for a file holding a secret (an exported private key, a copy of
/// a registry): the file is readable by its owner only (mode 0600 on Unix) from its creation.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let p = dir.path().join("signer.key");
/// cairn_store::fsio::write_private_with(&p, |f| { use std::io::Write; f.write_all(b"secret") })?;
/// # #[cfg(unix)] {
/// use std::os::unix::fs::PermissionsExt;
/// assert_eq!(std::fs::metadata(&p)?.permissions().mode() & 0o777, 0o600);
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_private_with(
    dest: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    write_with(dest, Access::Private, fill)
}

/// [`write_atomic_with`] and [`write_private_with`]: the file is made with `access`.
fn write_with(
    dest: &Path,
    access: Access,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    replace_with(dest, access, fill)?;
    sync_dir(parent_dir(dest))?;
    remove_stale_temps(dest);
    Ok(())
}

/// Writes what `fill` writes to a new temporary sibling of `dest` (made with `access`), fsyncs
/// it and renames it over `dest`: the file appears whole or not at all, its bytes durable
/// before it appears. The directory's new entry is not fsynced here. Parent directories are
/// created. On error the destination is untouched and the temporary file removed.
fn replace_with(
    dest: &Path,
    access: Access,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    create_dir_all_durable(parent_dir(dest))?;
    let tmp = temp_path(dest);
    let result = (|| {
        let mut f = create_new(&tmp, access)?;
        fill(&mut f)?;
        f.flush()?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Many files written as [`write_atomic`] writes one, with each directory fsynced once, by
/// [`DurableBatch::finish`], rather than after every file: one fsync a file instead of two, and
/// one reading of each directory for stale temporaries, for a tree of many files (the tiles of a
/// log). Each file appears whole or not at all, its bytes durable before it appears. Until
/// `finish` returns, a crash may lose files already in place (a file written anew may be gone,
/// a file replaced may be back to its old content), never leave a half-written one: publish
/// nothing that needs them (a checkpoint) before it has returned.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let mut batch = cairn_store::fsio::DurableBatch::new();
/// batch.write(&dir.path().join("tile/0/000"), b"hashes")?;
/// batch.write(&dir.path().join("tile/entries/000"), b"entries")?;
/// batch.finish().map_err(|(_, e)| e)?;
/// assert_eq!(std::fs::read(dir.path().join("tile/0/000"))?, b"hashes");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct DurableBatch {
    /// Each directory written into, with the names written there.
    dirs: BTreeMap<PathBuf, BTreeSet<String>>,
}

impl DurableBatch {
    /// A batch with nothing written yet.
    pub fn new() -> DurableBatch {
        DurableBatch::default()
    }

    /// Writes `bytes` to `dest` (parent directories created): whole and durable, its directory
    /// entry durable once [`DurableBatch::finish`] returns. On error the destination is
    /// untouched and no temporary file is left.
    pub fn write(&mut self, dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
        replace_with(dest, Access::Shared, |f| f.write_all(bytes))?;
        if let Some(name) = dest.file_name() {
            self.dirs
                .entry(parent_dir(dest).to_path_buf())
                .or_default()
                .insert(name.to_string_lossy().into_owned());
        }
        Ok(())
    }

    /// Fsyncs every directory written into, so that every file written is durable under its
    /// name, and removes the temporaries earlier interrupted writes to those names left. A
    /// directory that cannot be synced is returned with its error.
    pub fn finish(self) -> Result<(), (PathBuf, std::io::Error)> {
        for (dir, names) in &self.dirs {
            sync_dir(dir).map_err(|e| (dir.clone(), e))?;
            remove_stale_temps_in(dir, names);
        }
        Ok(())
    }
}

/// Writes `bytes` to `dest` atomically and durably ([`write_atomic_with`]).
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let p = dir.path().join("key.pem");
/// cairn_store::fsio::write_atomic(&p, b"old")?;
/// cairn_store::fsio::write_atomic(&p, b"new")?;
/// assert_eq!(std::fs::read(&p)?, b"new");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(dest, |f| f.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_batch_writes_every_file_and_clears_only_its_names_stale_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let tiles = dir.path().join("tile/0");
        fs::create_dir_all(&tiles).unwrap();
        // Left by interrupted writes: one of a name the batch writes, one of another name;
        // and files that only look like temporaries.
        // (Process 99999999 cannot exist: Linux pids end at 4194304.)
        fs::write(tiles.join(".000.cairn-tmp.99999999.0"), b"half").unwrap();
        fs::write(tiles.join(".001.cairn-tmp.99999999.1"), b"half").unwrap();
        fs::write(tiles.join("000.cairn-tmp.1.2"), b"kept").unwrap();
        // The prefix of a temporary, but not its `<pid>.<n>` tail: not one of ours.
        for kept in [
            ".000.cairn-tmp.notes",
            ".000.cairn-tmp.1",
            ".000.cairn-tmp.1.x",
        ] {
            fs::write(tiles.join(kept), b"kept").unwrap();
        }
        fs::write(tiles.join("000"), b"old").unwrap();
        let mut batch = DurableBatch::new();
        batch.write(&tiles.join("000"), b"new").unwrap();
        batch.write(&tiles.join("002"), b"two").unwrap();
        batch
            .write(&dir.path().join("tile/entries/000"), b"entries")
            .unwrap();
        batch.finish().unwrap();
        assert_eq!(fs::read(tiles.join("000")).unwrap(), b"new");
        assert_eq!(fs::read(tiles.join("002")).unwrap(), b"two");
        assert_eq!(
            fs::read(dir.path().join("tile/entries/000")).unwrap(),
            b"entries"
        );
        assert_eq!(
            names(&tiles),
            [
                ".000.cairn-tmp.1",
                ".000.cairn-tmp.1.x",
                ".000.cairn-tmp.notes",
                ".001.cairn-tmp.99999999.1",
                "000",
                "000.cairn-tmp.1.2",
                "002"
            ]
        );
    }

    #[test]
    fn a_failed_batch_write_leaves_no_temporary_and_the_batch_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("000");
        fs::write(&p, b"old").unwrap();
        // A directory where the file itself should be: the temporary is written, and its
        // rename over the directory fails.
        fs::create_dir(dir.path().join("blocked")).unwrap();
        let mut batch = DurableBatch::new();
        let err = batch.write(&dir.path().join("blocked"), b"new");
        assert!(err.is_err());
        assert_eq!(names(dir.path()), ["000", "blocked"]);
        batch.write(&p, b"new").unwrap();
        batch.finish().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["000", "blocked"]);
    }

    #[test]
    fn a_failed_fill_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bundle.cbdl");
        write_atomic(&p, b"first").unwrap();
        let err = write_atomic_with(&p, |f| {
            f.write_all(b"half")?;
            Err(std::io::Error::other("interrupted"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "interrupted");
        assert_eq!(fs::read(&p).unwrap(), b"first");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("bundle.cbdl")]);
    }

    /// The child of [`a_process_killed_while_writing_leaves_the_old_file`]: starts a write of
    /// the file named by `CAIRN_FSIO_CRASH_CHILD`, flushes half of it to the temporary, says
    /// so by creating `<file>.ready`, and waits inside the fill callback to be killed. Does
    /// nothing when run as an ordinary test.
    #[test]
    fn crash_child() {
        let Some(dest) = std::env::var_os("CAIRN_FSIO_CRASH_CHILD") else {
            return;
        };
        let dest = PathBuf::from(dest);
        let _ = write_atomic_with(&dest, |f| {
            f.write_all(b"new, but only the first half")?;
            f.sync_all()?;
            fs::write(dest.with_extension("ready"), b"")?;
            std::thread::sleep(std::time::Duration::from_secs(120));
            Ok(())
        });
        unreachable!("the parent kills this process before the write completes");
    }

    #[cfg(unix)]
    #[test]
    fn a_process_killed_while_writing_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.bundle");
        write_atomic(&p, b"old").unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "fsio::tests::crash_child", "--nocapture"])
            .env("CAIRN_FSIO_CRASH_CHILD", &p)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let ready = p.with_extension("ready");
        let start = std::time::Instant::now();
        while !ready.exists() {
            assert!(
                start.elapsed().as_secs() < 60,
                "the child never reached the fill callback"
            );
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the child exited early: {status}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().unwrap(); // SIGKILL: no destructor, no cleanup runs
        child.wait().unwrap();
        fs::remove_file(&ready).unwrap();
        // The destination is the old file; the half-written bytes are in a temporary only.
        assert_eq!(fs::read(&p).unwrap(), b"old");
        let temps: Vec<PathBuf> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|q| q != &p)
            .collect();
        assert_eq!(temps.len(), 1, "{temps:?}");
        assert!(temps[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".app.bundle.cairn-tmp."));
        assert_eq!(
            fs::read(&temps[0]).unwrap(),
            b"new, but only the first half"
        );
        // The next write replaces the file and removes the leftover.
        write_atomic(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert!(!temps[0].exists());
    }

    #[test]
    fn stale_temporaries_are_cleaned_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("root.json");
        let stale = dir.path().join(".root.json.cairn-tmp.99999999.0");
        fs::write(&stale, b"partial").unwrap();
        // This process's own leftovers go too (a restart can reuse a pid).
        let own = dir
            .path()
            .join(format!(".root.json.cairn-tmp.{}.77", std::process::id()));
        fs::write(&own, b"partial").unwrap();
        // Another running process's temporary may be a write in progress: kept, on Linux,
        // where that can be told.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let live = dir
            .path()
            .join(format!(".root.json.cairn-tmp.{}.0", other.id()));
        fs::write(&live, b"in progress").unwrap();
        write_atomic(&p, b"{}").unwrap();
        let _ = other.kill();
        let _ = other.wait();
        assert!(!stale.exists() && !own.exists());
        let can_tell = cfg!(target_os = "linux") && Path::new("/proc/self").exists();
        assert_eq!(live.exists(), can_tell);
        assert_eq!(fs::read(&p).unwrap(), b"{}");
    }
}
