//! The witness's TOML configuration (`cairn witness serve --config witness.toml`). Every table
//! refuses unknown keys; a bad value is a startup error naming its key. A relative `key_path`
//! or `state_path` is taken from the configuration file's directory. docs/WITNESS.md lists
//! every option.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{EndpointLimits, Limits, RateLimit, Tls};
use crate::error::{ServiceError, ServiceResult};

/// Default witness key file name (beside the configuration).
pub const DEFAULT_KEY_FILE: &str = "witness.key";
/// Default witness state file name (beside the configuration).
pub const DEFAULT_STATE_FILE: &str = "witness.redb";
/// Default address: loopback, port 7380.
pub const DEFAULT_ADDRESS: ([u8; 4], u16) = ([127, 0, 0, 1], 7380);

/// The whole witness configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// The witness's name: the key name of its cosignature lines (required; for example
    /// `witness.example/w1`).
    pub name: String,
    /// Where to listen (default `127.0.0.1:7380`: loopback only).
    #[serde(default = "default_address")]
    pub address: SocketAddr,
    /// The key file `cairn witness init` wrote (default `witness.key`).
    #[serde(default = "default_key_path")]
    pub key_path: PathBuf,
    /// The witness's state: the latest cosigned checkpoint of each log (default
    /// `witness.redb`).
    #[serde(default = "default_state_path")]
    pub state_path: PathBuf,
    /// Which cosignatures to return: `"ed25519"` (type 0x04) and/or `"ml-dsa-44"` (type
    /// 0x06) (default both).
    #[serde(default = "default_cosignatures")]
    pub cosignatures: Vec<CosignatureKind>,
    /// TLS; plain HTTP when absent.
    pub tls: Option<Tls>,
    /// Request limits (as `cairn serve`'s `[limits]`).
    #[serde(default)]
    pub limits: Limits,
    /// Per-address rate limits and bans (as `cairn serve`'s `[rate_limit]`, without
    /// `[rate_limit.endpoints]`; on by default).
    #[serde(default)]
    pub rate_limit: RateLimit,
    /// The logs this witness follows (`[[logs]]`, at least one).
    #[serde(default)]
    pub logs: Vec<LogConfig>,
}

/// The witness's default `[limits] max_body_bytes`, above `cairn serve`'s: signed-note asks
/// verifiers to accept at least 16 signature lines, and a post-quantum one takes up to about
/// 6.2 KB of base64 (a log that resends its accumulated cosignatures sends more still).
pub const WITNESS_MAX_BODY_BYTES: usize = 256 * 1024;

/// One cosignature type of `cosignatures`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum CosignatureKind {
    /// Type 0x04, Ed25519 `cosignature/v1`.
    #[serde(rename = "ed25519")]
    Ed25519,
    /// Type 0x06, ML-DSA-44 `subtree/v1`.
    #[serde(rename = "ml-dsa-44")]
    MlDsa44,
}

/// `[[logs]]`: a log this witness follows.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// The log's origin line (required).
    pub origin: String,
    /// The log's signed-note verifier keys, `name+hash+base64` (at least one; `cairn
    /// checkpoint latest --json` prints them as `note_verifier_keys`).
    pub keys: Vec<String>,
}

fn default_address() -> SocketAddr {
    SocketAddr::from(DEFAULT_ADDRESS)
}
fn default_key_path() -> PathBuf {
    PathBuf::from(DEFAULT_KEY_FILE)
}
fn default_state_path() -> PathBuf {
    PathBuf::from(DEFAULT_STATE_FILE)
}
fn default_cosignatures() -> Vec<CosignatureKind> {
    vec![CosignatureKind::Ed25519, CosignatureKind::MlDsa44]
}

impl WitnessConfig {
    /// Parses TOML text (relative paths stay relative). Unknown keys and bad values are
    /// `malformed` errors naming the key.
    pub fn from_toml(text: &str) -> ServiceResult<WitnessConfig> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            ServiceError::config(format!("witness configuration: {}", e.to_string().trim()))
        })?;
        let body_limit_given = table
            .get("limits")
            .and_then(|l| l.get("max_body_bytes"))
            .is_some();
        let mut cfg: WitnessConfig = table.try_into().map_err(|e: toml::de::Error| {
            ServiceError::config(format!("witness configuration: {}", e.to_string().trim()))
        })?;
        if !body_limit_given {
            cfg.limits.max_body_bytes = WITNESS_MAX_BODY_BYTES;
        }
        cfg.check()?;
        Ok(cfg)
    }

    /// Reads a configuration file; relative `key_path` and `state_path` are taken from the
    /// file's directory.
    pub fn from_file(path: &Path) -> ServiceResult<WitnessConfig> {
        let text = crate::config::read_config_text(path)?;
        let mut cfg =
            WitnessConfig::from_toml(&text).map_err(|e| e.context(&path.display().to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        if cfg.key_path.is_relative() {
            cfg.key_path = base.join(&cfg.key_path);
        }
        if cfg.state_path.is_relative() {
            cfg.state_path = base.join(&cfg.state_path);
        }
        Ok(cfg)
    }

    fn check(&self) -> ServiceResult<()> {
        if !cairn_core::note::is_valid_key_name(&self.name) || self.name.len() > 255 {
            return Err(ServiceError::config(
                "name must be a note key name: 1 to 255 bytes, no spaces or '+'",
            ));
        }
        if self.cosignatures.is_empty() {
            return Err(ServiceError::config(
                "cosignatures must name at least one type",
            ));
        }
        self.limits.check()?;
        self.rate_limit.check()?;
        if self.rate_limit.endpoints != EndpointLimits::default() {
            return Err(ServiceError::config(
                "rate_limit.endpoints: the witness has no endpoint classes (per_ip_rps covers POST /add-checkpoint)",
            ));
        }
        if self.logs.is_empty() {
            return Err(ServiceError::config(
                "logs: a witness follows at least one log ([[logs]] with origin and keys)",
            ));
        }
        for (i, log) in self.logs.iter().enumerate() {
            if log.origin.is_empty() || log.origin.len() > 255 || log.origin.contains('\n') {
                return Err(ServiceError::config(format!(
                    "logs[{i}].origin must be 1 to 255 bytes on one line"
                )));
            }
            if self.logs[..i].iter().any(|o| o.origin == log.origin) {
                return Err(ServiceError::config(format!(
                    "logs[{i}].origin {:?} is listed twice",
                    log.origin
                )));
            }
            if log.keys.is_empty() {
                return Err(ServiceError::config(format!(
                    "logs[{i}].keys must name at least one verifier key"
                )));
            }
            for k in &log.keys {
                cairn_core::note::NoteVerifier::from_verifier_key(k)
                    .map_err(|e| ServiceError::config(format!("logs[{i}].keys: {}", e.detail())))?;
            }
        }
        Ok(())
    }

    /// True when the witness listens on a loopback address only.
    pub fn is_loopback(&self) -> bool {
        self.address.ip().is_loopback()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VKEY: &str = "example.test/log+a7b1e9e8+AQ2Zl6tqzgzHmGHnO9MyHBVWeXxHo0TCPLZVrU3kPH6F";

    #[test]
    fn defaults_and_unknown_keys() {
        let vkey = {
            let k = cairn_core::crypto::SigningKey::from_seed(
                cairn_core::crypto::Algorithm::Ed25519,
                &[1; 32],
            );
            cairn_core::note::NoteVerifier::new("example.test/log", k.public_key())
                .unwrap()
                .verifier_key()
        };
        let base = format!(
            "name = \"w.test/w1\"\n[[logs]]\norigin = \"example.test/log\"\nkeys = [\"{vkey}\"]\n"
        );
        let c = WitnessConfig::from_toml(&base).unwrap();
        assert_eq!(c.address, default_address());
        assert!(c.is_loopback());
        assert_eq!(c.key_path, PathBuf::from("witness.key"));
        assert_eq!(c.cosignatures.len(), 2);
        assert_eq!(
            c.limits,
            Limits {
                max_body_bytes: WITNESS_MAX_BODY_BYTES,
                ..Limits::default()
            }
        );
        // An explicit body limit stands, as every other limit given does.
        let explicit =
            format!("{base}[limits]\nmax_body_bytes = 1000\nheader_timeout_seconds = 7\n");
        let c = WitnessConfig::from_toml(&explicit).unwrap();
        assert_eq!(
            (c.limits.max_body_bytes, c.limits.header_timeout_seconds),
            (1000, 7)
        );
        let other = format!("{base}[limits]\nheader_timeout_seconds = 7\n");
        let c = WitnessConfig::from_toml(&other).unwrap();
        assert_eq!(c.limits.max_body_bytes, WITNESS_MAX_BODY_BYTES);
        assert_eq!(
            c.rate_limit,
            RateLimit::default(),
            "rate limits on by default"
        );
        for (text, key) in [
            (format!("nam = \"x\"\n{base}"), "nam"),
            ("[[logs]]\norigin = \"o\"\nkeys = []".to_owned(), "name"),
            (format!("{base}extra = 1\n"), "extra"),
            ("name = \"w\"\n".to_owned(), "logs"),
            (
                format!("name = \"w\"\n[[logs]]\norigin = \"o\"\nkeys = [\"{VKEY}x\"]"),
                "logs[0].keys",
            ),
            (
                format!("name = \"a b\"\n[[logs]]\norigin = \"o\"\nkeys = [\"{vkey}\"]"),
                "name",
            ),
            (format!("cosignatures = []\n{base}"), "cosignatures"),
            (format!("cosignatures = [\"rsa\"]\n{base}"), "cosignatures"),
            (
                format!("{base}[[logs]]\norigin = \"example.test/log\"\nkeys = [\"{vkey}\"]\n"),
                "twice",
            ),
        ] {
            let e = WitnessConfig::from_toml(&text).unwrap_err();
            assert_eq!(e.code, "malformed", "{text}");
            assert!(e.message.contains(key), "{text}: {}", e.message);
        }
    }
}
