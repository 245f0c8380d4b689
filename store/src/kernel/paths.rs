//! Where the registry file lives when the caller names no path.

use std::path::PathBuf;

use crate::error::{StoreCode, StoreError, StoreResult};

/// File name of the registry inside its directory.
pub const REGISTRY_FILE: &str = "registry.redb";

/// Environment variable naming cairn's home directory.
pub const CAIRN_HOME: &str = "CAIRN_HOME";

/// The default registry path: `$CAIRN_HOME/registry.redb` when `CAIRN_HOME` is set and not
/// empty, else `cairn/registry.redb` in the platform's data directory
/// (`$XDG_DATA_HOME` or `~/.local/share` on Linux, `~/Library/Application Support` on macOS,
/// `%APPDATA%` on Windows).
///
/// ```
/// let p = cairn_store::default_path()?;
/// assert!(p.ends_with("registry.redb"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn default_path() -> StoreResult<PathBuf> {
    if let Some(home) = std::env::var_os(CAIRN_HOME).filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home).join(REGISTRY_FILE));
    }
    dirs::data_dir()
        .map(|d| d.join("cairn").join(REGISTRY_FILE))
        .ok_or_else(|| {
            StoreError::new(
                StoreCode::Io,
                "no platform data directory is known here: set CAIRN_HOME or pass a path",
            )
        })
}
