//! Progress bars on stderr for long work (hashing, audits, exports, imports). They are
//! hidden when stderr is not a terminal or when `--json` is given, so scripts and pipes
//! never see them.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::time::Duration;

use cairn_core::encoding::Digest;
use cairn_core::manifest::hash_reader;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use cairn_core::ErrorCode;
use cairn_store::StoreCode;

use super::error::{CliError, CliResult};

/// How much of stdin (`-`) an artifact may be when `--max-size` is not given: 4 GiB.
pub const DEFAULT_STREAM_LIMIT: u64 = 4 << 30;

fn too_large(what: &str, max: u64) -> CliError {
    CliError::core(
        ErrorCode::TooLarge,
        format!("{what} is larger than {max} bytes (--max-size raises the limit)"),
    )
}

/// Refuses what is not a regular file: devices, FIFOs, sockets and directories may block
/// or never end.
fn refuse_non_regular(path: &Path, meta: &std::fs::Metadata) -> CliResult<()> {
    if meta.is_file() {
        return Ok(());
    }
    let kind = if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file (a device, FIFO or socket may never end)"
    };
    Err(CliError::usage(format!(
        "{} is {kind}: give a regular file, or `-` to read stdin (bounded by --max-size)",
        path.display()
    )))
}

/// Whether bars are drawn.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    /// Bars only on a terminal and never with `--json`.
    pub fn new(json: bool) -> Progress {
        Progress {
            enabled: !json && std::io::stderr().is_terminal(),
        }
    }

    fn target(&self) -> ProgressDrawTarget {
        if self.enabled {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        }
    }

    /// A bar over `len` bytes.
    pub fn bytes(&self, len: u64, message: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(len), self.target());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_owned());
        bar
    }

    /// A bar over `len` items (files, entries).
    pub fn count(&self, len: u64, message: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(len), self.target());
        if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:32}] {pos}/{len} eta {eta}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_owned());
        bar
    }

    /// A spinner for work whose length is unknown.
    pub fn spinner(&self, message: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, self.target());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_message(message.to_owned());
        if self.enabled {
            bar.enable_steady_tick(Duration::from_millis(100));
        }
        bar
    }

    /// Hashes a regular file as a stream (size, SHA-256), with a bar over its length.
    pub fn hash_file(&self, path: &Path) -> CliResult<(u64, Digest)> {
        self.hash_artifact(path, None)
    }

    /// Hashes an artifact as a stream (size, SHA-256): a regular file (symbolic links
    /// followed) with a bar over its length, or stdin for `-` with a spinner counting bytes.
    ///
    /// Anything else (a device such as `/dev/zero`, a FIFO, a directory, a socket) is
    /// refused before a byte is read: such a file may never end. Stdin may be endless too,
    /// so it is read up to `max` bytes ([`DEFAULT_STREAM_LIMIT`] when `None`) and refused
    /// beyond with `too_large`; a regular file longer than `max` (when given) likewise.
    pub fn hash_artifact(&self, path: &Path, max: Option<u64>) -> CliResult<(u64, Digest)> {
        if path == Path::new("-") {
            let limit = max.unwrap_or(DEFAULT_STREAM_LIMIT);
            let bar = self.stream_bar("hashing stdin");
            let mut tick = |n: u64| bar.set_position(n);
            let stdin = std::io::stdin().lock();
            let out = hash_reader(stdin.take(limit.saturating_add(1)), Some(&mut tick))
                .map_err(|e| CliError::store(StoreCode::Io, format!("stdin: {e}")));
            bar.finish_and_clear();
            let (size, digest) = out?;
            if size > limit {
                return Err(too_large("stdin", limit));
            }
            return Ok((size, digest));
        }
        let meta = std::fs::metadata(path).map_err(|e| CliError::io(path, &e))?;
        refuse_non_regular(path, &meta)?;
        let file = std::fs::File::open(path).map_err(|e| CliError::io(path, &e))?;
        // The file opened may not be the one looked at (a rename in between): check it too.
        let meta = file.metadata().map_err(|e| CliError::io(path, &e))?;
        refuse_non_regular(path, &meta)?;
        let len = meta.len();
        if let Some(m) = max.filter(|m| len > *m) {
            return Err(too_large(&path.display().to_string(), m));
        }
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let bar = self.bytes(len, &format!("hashing {name}"));
        let mut tick = |n: u64| bar.set_position(n);
        let limit = max.unwrap_or(u64::MAX);
        let out = hash_reader(file.take(limit.saturating_add(1)), Some(&mut tick))
            .map_err(|e| CliError::io(path, &e));
        bar.finish_and_clear();
        let (size, digest) = out?;
        if size > limit {
            // It grew past the limit while it was read.
            return Err(too_large(&path.display().to_string(), limit));
        }
        Ok((size, digest))
    }

    /// A spinner counting bytes of a stream of unknown length.
    fn stream_bar(&self, message: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, self.target());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec} {elapsed}")
        {
            bar.set_style(style);
        }
        bar.set_message(message.to_owned());
        if self.enabled {
            bar.enable_steady_tick(Duration::from_millis(100));
        }
        bar
    }

    /// Wraps a reader of a file of `len` bytes in a bar.
    pub fn reader<R: Read>(&self, r: R, len: u64, message: &str) -> (ProgressBar, impl Read) {
        let bar = self.bytes(len, message);
        let wrapped = bar.wrap_read(r);
        (bar, wrapped)
    }
}
