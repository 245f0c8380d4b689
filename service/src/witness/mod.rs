//! `cairn witness serve`: a C2SP tlog-witness. It follows the logs its configuration names,
//! keeps the latest checkpoint it cosigned for each in its own redb file ([`state`]), and
//! answers `POST /add-checkpoint` ([`http`]) with cosignatures (C2SP tlog-cosignature, made by
//! `cairn_core::witness::cosign`) of checkpoints consistent with that state.
//!
//! The rules (what parses, what is consistent) are cairn-core's
//! (`cairn_core::witness::add`); [`Witness::add_checkpoint`] runs them in order — parse (400),
//! known origin (404), log signature (403), then, inside the state's write transaction, the
//! old size (400/409) and the consistency proof (422) — and cosigns only after the new state
//! is committed to disk. So a witness never cosigns two roots for one size of a log, across
//! restarts and crashes: a size is only ever cosigned with the root its durable state holds,
//! and that state only moves forward along consistency proofs.

pub mod client;
pub mod config;
pub mod http;
pub mod state;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::encoding::{hex_decode_array, hex_encode};
use cairn_core::note::NoteVerifier;
use cairn_core::witness::add::{AddCheckpoint, Refusal, RefusalKind};
use cairn_core::witness::{cosign, CosignerKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{ServiceError, ServiceResult};
use config::CosignatureKind;
pub use config::WitnessConfig;
use state::{AdvanceError, LogState, State};

/// The witness's secret keys: one Ed25519 and one ML-DSA-44 seed, in a file only its owner may
/// read (mode 0600, checked at startup).
pub struct WitnessKeys {
    /// The Ed25519 key (cosignature type 0x04).
    pub ed25519: SigningKey,
    /// The ML-DSA-44 key (cosignature type 0x06).
    pub mldsa44: SigningKey,
}

impl std::fmt::Debug for WitnessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessKeys").finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    ed25519_seed: String,
    ml_dsa_44_seed: String,
}

const KEY_FILE_FORMAT: &str = "cairn-witness-key-v1";

impl WitnessKeys {
    /// Fresh keys from the operating system's randomness.
    pub fn generate() -> WitnessKeys {
        WitnessKeys {
            ed25519: SigningKey::generate(Algorithm::Ed25519),
            mldsa44: SigningKey::generate(Algorithm::MlDsa44),
        }
    }

    /// Writes the keys to a new file `path` (never over an existing one, checked just before),
    /// readable by its owner only, atomically and durably (`cairn_store::fsio`: a temporary
    /// file synced, then renamed into place): a crash leaves no key file or the whole one,
    /// never a partial file under the name that a new `witness init` would refuse.
    pub fn write_new(&self, path: &Path) -> ServiceResult<()> {
        let text = Zeroizing::new(
            serde_json::to_string_pretty(&KeyFile {
                format: KEY_FILE_FORMAT.into(),
                ed25519_seed: hex_encode(self.ed25519.secret_bytes()),
                ml_dsa_44_seed: hex_encode(self.mldsa44.secret_bytes()),
            })
            .map_err(|e| ServiceError::internal(format!("witness key file: {e}")))?,
        );
        let io = |e: std::io::Error| ServiceError::config(format!("{}: {e}", path.display()));
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(io(std::io::Error::from(std::io::ErrorKind::AlreadyExists)));
        }
        cairn_store::fsio::write_private_with(path, |f| {
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")
        })
        .map_err(io)
    }

    /// Reads a key file. Refused when others than its owner may read or write it (Unix).
    pub fn load(path: &Path) -> ServiceResult<WitnessKeys> {
        let io = |e: std::io::Error| ServiceError::config(format!("{}: {e}", path.display()));
        let meta = std::fs::metadata(path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(ServiceError::config(format!(
                    "{}: the witness key file is open to others (mode {mode:03o}): chmod 600 it",
                    path.display()
                )));
            }
        }
        if meta.len() > 4096 {
            return Err(ServiceError::config(format!(
                "{}: not a witness key file (too large)",
                path.display()
            )));
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        let bad = || ServiceError::config(format!("{}: not a witness key file", path.display()));
        let kf: KeyFile = serde_json::from_str(&text).map_err(|_| bad())?;
        if kf.format != KEY_FILE_FORMAT {
            return Err(bad());
        }
        let ed = Zeroizing::new(hex_decode_array::<32>(&kf.ed25519_seed).map_err(|_| bad())?);
        let pq = Zeroizing::new(hex_decode_array::<32>(&kf.ml_dsa_44_seed).map_err(|_| bad())?);
        Ok(WitnessKeys {
            ed25519: SigningKey::from_seed(Algorithm::Ed25519, &ed),
            mldsa44: SigningKey::from_seed(Algorithm::MlDsa44, &pq),
        })
    }

    /// The cosigner keys (vkeys) of both keys under `name`: Ed25519 then ML-DSA-44.
    pub fn cosigner_keys(&self, name: &str) -> ServiceResult<Vec<CosignerKey>> {
        [&self.ed25519, &self.mldsa44]
            .into_iter()
            .map(|k| {
                CosignerKey::new(name, k.public_key())
                    .map_err(|e| ServiceError::config(format!("witness name: {}", e.detail())))
            })
            .collect()
    }
}

/// Why an `add-checkpoint` was not answered with cosignatures.
#[derive(Debug)]
pub enum AddError {
    /// Refused as C2SP tlog-witness says (400, 403, 404, 409, 422).
    Refused(Refusal),
    /// The witness failed (500): its state could not be read or written, or signing failed.
    Failed(ServiceError),
}

/// A witness: its name, keys, the logs it follows and its state.
pub struct Witness {
    name: String,
    signers: Vec<SigningKey>,
    cosigners: Vec<CosignerKey>,
    logs: BTreeMap<String, Vec<NoteVerifier>>,
    state: State,
    clock: Arc<dyn Fn() -> u64 + Send + Sync>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("name", &self.name)
            .field("logs", &self.logs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn system_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Witness {
    /// A witness from its configuration and keys, with its state file opened (created if
    /// missing).
    pub fn open(config: &WitnessConfig, keys: WitnessKeys) -> ServiceResult<Witness> {
        let mut logs = BTreeMap::new();
        for log in &config.logs {
            let vs = log
                .keys
                .iter()
                .map(|k| NoteVerifier::from_verifier_key(k))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ServiceError::config(format!("logs.keys: {}", e.detail())))?;
            logs.insert(log.origin.clone(), vs);
        }
        let mut signers = Vec::new();
        if config.cosignatures.contains(&CosignatureKind::Ed25519) {
            signers.push(keys.ed25519);
        }
        if config.cosignatures.contains(&CosignatureKind::MlDsa44) {
            signers.push(keys.mldsa44);
        }
        let cosigners = signers
            .iter()
            .map(|k| CosignerKey::new(&config.name, k.public_key()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ServiceError::config(format!("name: {}", e.detail())))?;
        Ok(Witness {
            name: config.name.clone(),
            signers,
            cosigners,
            logs,
            state: State::open(&config.state_path)?,
            clock: Arc::new(system_clock),
        })
    }

    /// Replaces the clock (Unix seconds) that stamps cosignatures (tests).
    pub fn set_clock(&mut self, clock: Arc<dyn Fn() -> u64 + Send + Sync>) {
        self.clock = clock;
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cosigner keys whose lines it returns (their vkeys go into verifiers' policies).
    pub fn cosigner_keys(&self) -> &[CosignerKey] {
        &self.cosigners
    }

    /// The origins it follows.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    /// The latest checkpoint it cosigned for `origin`.
    pub fn latest(&self, origin: &str) -> ServiceResult<Option<LogState>> {
        self.state.latest(origin)
    }

    /// Handles one `add-checkpoint` body: on success, the cosignature lines (one per
    /// configured type, each ending in a newline), made after the new state was committed.
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String, AddError> {
        let req = AddCheckpoint::parse(body).map_err(AddError::Refused)?;
        let origin = req.checkpoint.origin.clone();
        let keys = self.logs.get(&origin).ok_or_else(|| {
            AddError::Refused(Refusal {
                kind: RefusalKind::UnknownLog,
                detail: format!("this witness does not follow the log {origin:?}"),
            })
        })?;
        req.check_signature(keys).map_err(AddError::Refused)?;
        let now = (self.clock)().max(1);
        let next = LogState {
            size: req.checkpoint.size,
            root: req.checkpoint.root,
            note: req
                .note
                .encode()
                .map_err(|e| AddError::Failed(ServiceError::internal(e.detail().to_owned())))?,
            cosigned_at: now,
        };
        // Another root for the size cosigned last: two signed trees of one size, evidence of a
        // fork. (Other refusals, a bad consistency proof among them, anyone can cause.)
        let fork = std::cell::Cell::new(false);
        let cosigned_at = match self.state.advance(
            &origin,
            |latest| {
                fork.set(latest.is_some_and(|(size, root)| {
                    size == req.checkpoint.size && root != req.checkpoint.root
                }));
                req.check_against(latest)
            },
            &next,
        ) {
            Ok(at) => at,
            Err(AdvanceError::Refused(r)) => {
                if fork.get() {
                    tracing::warn!(origin = %origin, size = req.checkpoint.size, "refused a signed checkpoint with another root than the one cosigned at its size, a fork of the log: {}", r.detail);
                } else {
                    tracing::debug!(origin = %origin, size = req.checkpoint.size, "refused a checkpoint: {}", r.detail);
                }
                return Err(AddError::Refused(r));
            }
            Err(AdvanceError::Failed(e)) => return Err(AddError::Failed(e)),
        };
        let text = req.note.text();
        let mut out = String::new();
        for key in &self.signers {
            let line = cosign(text, &self.name, key, cosigned_at)
                .map_err(|e| AddError::Failed(ServiceError::internal(e.detail().to_owned())))?;
            out.push_str(&line.to_line());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
