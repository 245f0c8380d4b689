//! Where passphrases come from, in order: a file named on the command line, an environment
//! variable, a prompt (only when stdin is a terminal). `--insecure-no-passphrase` stores new
//! keys in the clear instead (tests and demos).
//!
//! Two passphrases can differ: the registry's (it unseals the log key, which every write
//! needs) and the one of the key an operation signs with or creates. The second defaults to
//! the first.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use cairn_store::{KdfParams, KeyInfo, Passphrase, PrivatePart, Protection, StoreCode};

use super::error::{CliError, CliResult};

/// Environment variable holding the registry passphrase.
pub const PASSPHRASE_ENV: &str = "CAIRN_PASSPHRASE";
/// Environment variable holding the passphrase of the key being used or created.
pub const KEY_PASSPHRASE_ENV: &str = "CAIRN_KEY_PASSPHRASE";
/// Largest passphrase file read.
const MAX_PASSPHRASE_FILE: usize = 4096;

/// Passphrase sources and what was already read.
#[derive(Debug, Default)]
pub struct Secrets {
    /// `--passphrase-file`.
    pub passphrase_file: Option<PathBuf>,
    /// `--key-passphrase-file`.
    pub key_passphrase_file: Option<PathBuf>,
    /// `--insecure-no-passphrase`.
    pub insecure: bool,
    /// `--insecure-fast-kdf`.
    pub fast_kdf: bool,
    registry: RefCell<Option<Passphrase>>,
    key: RefCell<Option<Passphrase>>,
}

/// The first line of a passphrase file (a trailing newline is not part of it).
fn read_file(path: &Path) -> CliResult<Passphrase> {
    // Read into a buffer that never grows (so no copy is left behind in freed memory) and is
    // wiped on every path out.
    let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(MAX_PASSPHRASE_FILE + 1));
    let f = std::fs::File::open(path).map_err(|e| CliError::io(path, &e))?;
    std::io::Read::read_to_end(
        &mut std::io::Read::take(f, MAX_PASSPHRASE_FILE as u64 + 1),
        &mut bytes,
    )
    .map_err(|e| CliError::io(path, &e))?;
    if bytes.len() > MAX_PASSPHRASE_FILE {
        return Err(CliError::core(
            cairn_core::ErrorCode::TooLarge,
            format!("passphrase file is larger than {MAX_PASSPHRASE_FILE} bytes"),
        ));
    }
    if let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
        bytes.truncate(nl);
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    if bytes.is_empty() {
        return Err(CliError::usage(format!(
            "{}: the passphrase file is empty",
            path.display()
        )));
    }
    Ok(Passphrase::new(bytes.to_vec()))
}

fn from_env(var: &str) -> Option<Passphrase> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(|v| Passphrase::new(v.into_encoded_bytes()))
}

fn prompt(text: &str, confirm: bool) -> CliResult<Option<Passphrase>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let io = |e: std::io::Error| CliError::store(StoreCode::Io, format!("passphrase prompt: {e}"));
    // Both answers are wiped when dropped, on every path.
    let first =
        zeroize::Zeroizing::new(rpassword::prompt_password(format!("{text}: ")).map_err(io)?);
    if first.is_empty() {
        return Err(CliError::usage("an empty passphrase is not accepted"));
    }
    if confirm {
        let again = zeroize::Zeroizing::new(rpassword::prompt_password("repeat it: ").map_err(io)?);
        if *again != *first {
            return Err(CliError::usage("the passphrases differ"));
        }
    }
    Ok(Some(Passphrase::new(first.as_bytes().to_vec())))
}

fn missing(what: &str) -> CliError {
    CliError::store(
        StoreCode::PassphraseRequired,
        format!(
            "{what} needs a passphrase: pass --passphrase-file FILE (--key-passphrase-file FILE for keys sealed with their own), set {PASSPHRASE_ENV} (or {KEY_PASSPHRASE_ENV}), or run on a terminal to be asked"
        ),
    )
}

impl Secrets {
    /// From the command-line options.
    pub fn new(
        passphrase_file: Option<PathBuf>,
        key_passphrase_file: Option<PathBuf>,
        insecure: bool,
        fast_kdf: bool,
    ) -> Secrets {
        Secrets {
            passphrase_file,
            key_passphrase_file,
            insecure,
            fast_kdf,
            ..Secrets::default()
        }
    }

    fn registry_sources(&self, what: &str, confirm: bool) -> CliResult<Option<Passphrase>> {
        if let Some(p) = self.registry.borrow().clone() {
            return Ok(Some(p));
        }
        let p = match &self.passphrase_file {
            Some(f) => Some(read_file(f)?),
            None => match from_env(PASSPHRASE_ENV) {
                Some(p) => Some(p),
                None => prompt(what, confirm)?,
            },
        };
        if let Some(p) = &p {
            *self.registry.borrow_mut() = Some(p.clone());
        }
        Ok(p)
    }

    fn key_sources(&self, what: &str, confirm: bool) -> CliResult<Option<Passphrase>> {
        if let Some(p) = self.key.borrow().clone() {
            return Ok(Some(p));
        }
        let own = match &self.key_passphrase_file {
            Some(f) => Some(read_file(f)?),
            None => from_env(KEY_PASSPHRASE_ENV),
        };
        let p = match own {
            Some(p) => Some(p),
            None => self.registry_sources(what, confirm)?,
        };
        if let Some(p) = &p {
            *self.key.borrow_mut() = Some(p.clone());
        }
        Ok(p)
    }

    /// The registry passphrase (it unseals the log key).
    pub fn registry(&self, what: &str) -> CliResult<Passphrase> {
        self.registry_sources(&format!("passphrase of the registry ({what})"), false)?
            .ok_or_else(|| missing("writing to the registry"))
    }

    /// The passphrase that opens the sealed keys among `keys` (the key passphrase, else the
    /// registry's), or `None` when none is sealed.
    pub fn for_keys(&self, keys: &[KeyInfo]) -> CliResult<Option<Passphrase>> {
        match keys
            .iter()
            .find(|k| matches!(k.private, PrivatePart::Sealed(_)))
        {
            Some(k) => self.for_key(k),
            None => Ok(None),
        }
    }

    /// The key passphrase that opens the envelope keys sealed in the registry (`cairn serve`
    /// with `sealed_kid_hex`).
    pub fn for_envelope_keys(&self) -> CliResult<Passphrase> {
        self.key_sources("key passphrase of the sealed envelope keys", false)?
            .ok_or_else(|| missing("opening the sealed envelope keys"))
    }

    /// The passphrase that opens `key`, if its private half is sealed.
    pub fn for_key(&self, key: &KeyInfo) -> CliResult<Option<Passphrase>> {
        match key.private {
            PrivatePart::Sealed(_) => {
                let what = format!(
                    "passphrase of key {:?} ({})",
                    key.label,
                    short(&key.key_id.to_hex())
                );
                self.key_sources(&what, false)?
                    .map(Some)
                    .ok_or_else(|| missing(&format!("key {:?}", key.label)))
            }
            PrivatePart::None | PrivatePart::Insecure => Ok(None),
        }
    }

    /// The passphrase that opens `key`, which is the registry's log key when `is_log`: that
    /// one is sealed with the registry's passphrase (it is what unlocks the registry), not
    /// with the key passphrase the other keys use.
    pub fn for_registry_key(&self, key: &KeyInfo, is_log: bool) -> CliResult<Option<Passphrase>> {
        match (&key.private, is_log) {
            (PrivatePart::Sealed(_), true) => self.registry("to open the log key").map(Some),
            _ => self.for_key(key),
        }
    }

    /// How to seal the key that replaces `old` (a rotation): the log key's successor with the
    /// registry's passphrase, as the log key itself (else the next open could not unlock the
    /// registry), and unsealed when the log key was; any other key as a new key.
    pub fn rotated_key_protection(&self, old: &KeyInfo, is_log: bool) -> CliResult<Protection> {
        match (&old.private, is_log) {
            (PrivatePart::Sealed(_), true) => Ok(Protection::Passphrase(
                self.registry("to seal the new log key")?,
                self.kdf(),
            )),
            (_, true) => Ok(Protection::Insecure),
            _ => self.new_key_protection(&old.label),
        }
    }

    fn kdf(&self) -> KdfParams {
        if self.fast_kdf {
            KdfParams::INSECURE_FAST
        } else {
            KdfParams::DEFAULT
        }
    }

    /// How to seal the log key of a new registry.
    pub fn new_registry_protection(&self) -> CliResult<Protection> {
        if self.insecure {
            return Ok(Protection::Insecure);
        }
        let p = self
            .registry_sources("new passphrase of the registry", true)?
            .ok_or_else(|| missing("creating a registry"))?;
        Ok(Protection::Passphrase(p, self.kdf()))
    }

    /// How to seal a new key's private half.
    pub fn new_key_protection(&self, label: &str) -> CliResult<Protection> {
        if self.insecure {
            return Ok(Protection::Insecure);
        }
        let p = self
            .key_sources(&format!("passphrase for the new key {label:?}"), true)?
            .ok_or_else(|| missing(&format!("sealing the new key {label:?}")))?;
        Ok(Protection::Passphrase(p, self.kdf()))
    }
}

/// The first 12 hex digits of an id, for prompts and text output.
pub fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}
