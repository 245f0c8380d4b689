//! Importing a blux-reg configuration directory (`<config>/keys/*.pem`,
//! `<config>/trust/ledger.jsonl`, `<config>/trust/token_revocations.jsonl`), checked through
//! the blux module, in one transaction.
//!
//! Keys become registry keys labelled `blux:<name>` with the token-issuer and manifest-signer
//! roles (what blux-reg keys sign); a private key is sealed as the caller asks. The ledger's
//! hash chain is verified and the ledger file, like the revocations file, is recorded by its
//! SHA-256 in an `imported` entry: the registry's own ledger then commits to exactly the bytes
//! the migration started from.

use std::path::Path;

use super::error::{StoreCode, StoreError, StoreResult};
use super::keys::{KeyInfo, KeySpec};
use super::registry::{Registry, Txn};
use super::seal::Protection;
use crate::blux::{parse_json, verify_ledger, MAX_LEDGER_LEN, MAX_REVOCATIONS_LEN};
use crate::crypto::pem;
use crate::encoding::sha256;
use crate::error::ErrorCode;
use crate::ledger::Event;
use crate::trust::{Role, RoleSet};

/// Largest key file read.
const MAX_PEM_LEN: u64 = 64 * 1024;
/// Most key files read from one directory.
const MAX_KEY_FILES: usize = 1024;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BluxImport {
    /// Keys added.
    pub keys: Vec<KeyInfo>,
    /// Key files not imported, with why (e.g. the key is already in the registry).
    pub skipped: Vec<(String, String)>,
    /// Entries of the verified blux-reg ledger (0 when there is none).
    pub ledger_entries: usize,
    /// Revocation lines recorded (0 when there is no revocations file).
    pub revocations: usize,
    /// The `imported` entries written.
    pub imported_seqs: Vec<u64>,
}

fn read_limited(path: &Path, max: u64) -> StoreResult<Option<String>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if meta.len() > max {
        return Err(StoreError::core(
            ErrorCode::TooLarge,
            format!("{} is larger than {max} bytes", path.display()),
        ));
    }
    let bytes = std::fs::read(path)?;
    String::from_utf8(bytes).map(Some).map_err(|_| {
        StoreError::core(
            ErrorCode::Malformed,
            format!("{} is not UTF-8", path.display()),
        )
    })
}

impl Txn<'_> {
    /// Imports a blux-reg configuration directory (see the module docs). Fails as a whole,
    /// writing nothing, if a file does not verify.
    pub fn import_blux_dir(
        &mut self,
        dir: &Path,
        protection: &Protection,
    ) -> StoreResult<BluxImport> {
        let mut out = BluxImport::default();
        let roles = RoleSet::of(&[Role::TokenIssuer, Role::ManifestSigner]);
        let keys_dir = dir.join("keys");
        let mut names: Vec<String> = Vec::new();
        if keys_dir.is_dir() {
            for entry in std::fs::read_dir(&keys_dir)? {
                let name = entry?.file_name().to_string_lossy().into_owned();
                if name.ends_with(".pem") {
                    names.push(name);
                }
                if names.len() > MAX_KEY_FILES {
                    return Err(StoreError::core(ErrorCode::TooLarge, "too many key files"));
                }
            }
        }
        names.sort();
        for file in &names {
            let (stem, private) = match file.strip_suffix(".pub.pem") {
                Some(stem) => (stem, false),
                None => (file.trim_end_matches(".pem"), true),
            };
            // A public file next to its private key adds nothing once the private key is in.
            if !private && names.contains(&format!("{stem}.pem")) {
                continue;
            }
            let text = read_limited(&keys_dir.join(file), MAX_PEM_LEN)?.unwrap_or_default();
            let spec = KeySpec::new(&format!("blux:{stem}"), roles);
            let added = if private {
                let sk = pem::signing_key_from_pem(&text)
                    .map_err(|e| StoreError::from(e).context(file))?;
                if let Some(public) =
                    read_limited(&keys_dir.join(format!("{stem}.pub.pem")), MAX_PEM_LEN)?
                {
                    let pk = pem::public_key_from_pem(&public)
                        .map_err(|e| StoreError::from(e).context(file))?;
                    if &pk != sk.public_key() {
                        return Err(StoreError::core(
                            ErrorCode::KeyMismatch,
                            format!("{stem}.pub.pem is not the public key of {file}"),
                        ));
                    }
                }
                self.add_key_material(&sk, &spec, Some(protection))
            } else {
                let pk = pem::public_key_from_pem(&text)
                    .map_err(|e| StoreError::from(e).context(file))?;
                self.import_public_key(&pk, &spec)
            };
            match added {
                Ok(info) => out.keys.push(info),
                Err(e) if e.code() == StoreCode::AlreadyExists => {
                    out.skipped.push((file.clone(), e.detail().to_owned()))
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(text) = read_limited(&dir.join("trust/ledger.jsonl"), MAX_LEDGER_LEN as u64)? {
            out.ledger_entries = verify_ledger(&text)
                .map_err(|e| StoreError::from(e).context("trust/ledger.jsonl"))?
                .entries;
            out.imported_seqs.push(self.append(
                Event::Imported {
                    source: "blux-reg:trust/ledger.jsonl".into(),
                    digest: sha256(&[text.as_bytes()]),
                },
                &[],
            )?);
        }
        if let Some(text) = read_limited(
            &dir.join("trust/token_revocations.jsonl"),
            MAX_REVOCATIONS_LEN as u64,
        )? {
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let v = parse_json(line).map_err(|e| {
                    StoreError::from(e)
                        .context(&format!("trust/token_revocations.jsonl line {}", i + 1))
                })?;
                if v.get("token_hash").and_then(|h| h.as_str()).is_none() {
                    return Err(StoreError::core(
                        ErrorCode::Malformed,
                        format!(
                            "trust/token_revocations.jsonl line {}: no token_hash",
                            i + 1
                        ),
                    ));
                }
                out.revocations += 1;
            }
            out.imported_seqs.push(self.append(
                Event::Imported {
                    source: "blux-reg:trust/token_revocations.jsonl".into(),
                    digest: sha256(&[text.as_bytes()]),
                },
                &[],
            )?);
        }
        if names.is_empty() && out.imported_seqs.is_empty() {
            return Err(StoreError::not_found(format!(
                "{} holds no blux-reg keys or trust files",
                dir.display()
            )));
        }
        Ok(out)
    }
}

impl Registry {
    /// Imports a blux-reg configuration directory (one transaction). See
    /// [`Txn::import_blux_dir`].
    pub fn import_blux_dir(
        &self,
        dir: impl AsRef<Path>,
        protection: &Protection,
    ) -> StoreResult<BluxImport> {
        self.write(|tx| tx.import_blux_dir(dir.as_ref(), protection))
    }
}
