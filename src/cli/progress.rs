//! Progress bars on stderr for long work (hashing, audits, exports, imports). They are
//! hidden when stderr is not a terminal or when `--json` is given, so scripts and pipes
//! never see them.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::time::Duration;

use cairn_core::encoding::Digest;
use cairn_core::manifest::hash_reader;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::error::{CliError, CliResult};

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

    /// Hashes a file as a stream (size, SHA-256), with a bar over its length.
    pub fn hash_file(&self, path: &Path) -> CliResult<(u64, Digest)> {
        let file = std::fs::File::open(path).map_err(|e| CliError::io(path, &e))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let bar = self.bytes(len, &format!("hashing {name}"));
        let mut tick = |n: u64| bar.set_position(n);
        let out = hash_reader(file, Some(&mut tick)).map_err(|e| CliError::io(path, &e));
        bar.finish_and_clear();
        out
    }

    /// Wraps a reader of a file of `len` bytes in a bar.
    pub fn reader<R: Read>(&self, r: R, len: u64, message: &str) -> (ProgressBar, impl Read) {
        let bar = self.bytes(len, message);
        let wrapped = bar.wrap_read(r);
        (bar, wrapped)
    }
}
