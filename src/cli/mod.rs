//! The `cairn` command line: argument parsing, output and exit codes only. Every decision
//! lives in cairn-core (the store and the verifiers).

pub mod args;
mod blux;
pub mod bundle;
mod checkpoint;
pub mod error;
mod handle;
mod import;
mod init;
mod key;
pub mod ledger;
mod manifest;
mod node;
mod peer;
pub mod progress;
pub mod secrets;
pub mod serve;
pub mod tiles;
mod token;
mod trustroot;
pub mod util;
pub mod view;
mod witness;

use std::path::PathBuf;

use cairn_core::crypto::KeyId;
use cairn_core::encoding::hex_encode;
use cairn_store::{KeyInfo, KeyStatus, ManifestInfo, Registry, StoreCode, TokenInfo};
use serde_json::Value;

use args::{Cli, Command};
use error::{CliError, CliResult};
use progress::Progress;
use secrets::Secrets;

/// What a command produced: text for people, a JSON document for `--json`.
#[derive(Debug)]
pub struct Output {
    /// Printed on stdout without `--json`.
    pub text: String,
    /// Printed (with `"ok": true` added) with `--json`.
    pub json: Value,
}

impl Output {
    /// Text and JSON.
    pub fn new(text: impl Into<String>, json: Value) -> Output {
        Output {
            text: text.into(),
            json,
        }
    }
}

/// Everything a command needs besides its own arguments.
#[derive(Debug)]
pub struct Ctx {
    /// `--store`.
    pub store: Option<PathBuf>,
    /// Passphrase sources.
    pub secrets: Secrets,
    /// Progress bars.
    pub progress: Progress,
    /// `--json`: warnings go into the document instead of stderr.
    pub json: bool,
}

/// How a command opens the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read-only: nothing is written to the file (no commit, no fsync); works on a read-only
    /// medium. Every read command opens this way.
    Read,
    /// Read-write with the log key unsealed (asks for the registry passphrase if sealed).
    Write,
    /// Read-write, unsealing the log key only if the command turns out to write (a bundle
    /// export that must sign a checkpoint first).
    MayWrite,
}

impl Ctx {
    /// From the global options.
    pub fn new(g: &args::GlobalOpts) -> Ctx {
        // Every output of this process refuses the registry's own files (`util::write_file`).
        let store = match &g.store {
            Some(p) => Some(p.clone()),
            None => cairn_store::default_path().ok(),
        };
        if let Some(store) = &store {
            util::guard_registry(store);
        }
        Ctx {
            store: g.store.clone(),
            secrets: Secrets::new(
                g.passphrase_file.clone(),
                g.key_passphrase_file.clone(),
                g.insecure_no_passphrase,
                g.insecure_fast_kdf,
            ),
            progress: Progress::new(g.json),
            json: g.json,
        }
    }

    /// The registry file: `--store`, else the store's default path.
    pub fn store_path(&self) -> CliResult<PathBuf> {
        match &self.store {
            Some(p) => Ok(p.clone()),
            None => Ok(cairn_store::default_path()?),
        }
    }

    /// Refuses (`usage`), before any work, an output path that names the registry file or its
    /// anchor (which every write refuses too: [`util::refuse_guarded`]), one of the command's
    /// `inputs` that the command would destroy, or another of its `outputs`: each output is
    /// written by a rename over its path.
    pub fn check_outputs(
        &self,
        outputs: &[&std::path::Path],
        inputs: &[&std::path::Path],
    ) -> CliResult<()> {
        for (i, out) in outputs.iter().enumerate() {
            util::refuse_guarded(out)?;
            let here = util::resolved(out);
            let clash = inputs
                .iter()
                .map(|p| (*p, format!("the input {}", p.display())))
                .chain(
                    outputs[..i]
                        .iter()
                        .map(|p| (*p, format!("another output, {}", p.display()))),
                )
                .find(|(p, _)| util::resolved(p) == here);
            if let Some((_, what)) = clash {
                return Err(CliError::usage(format!(
                    "{} is {what}: writing there would replace it; choose another path",
                    out.display()
                )));
            }
        }
        Ok(())
    }

    /// [`Ctx::check_outputs`] for a command's one optional output.
    pub fn check_output(&self, out: Option<&std::path::Path>) -> CliResult<()> {
        out.map_or(Ok(()), |p| self.check_outputs(&[p], &[]))
    }

    /// Opens the registry as `access` says (see [`Access`]).
    pub fn open(&self, access: Access) -> CliResult<Registry> {
        let path = self.store_path()?;
        if !path.exists() {
            return Err(CliError::store(
                StoreCode::NotFound,
                format!(
                    "no registry at {}: create one with `cairn init` (or pass --store PATH)",
                    path.display()
                ),
            ));
        }
        let reg = match access {
            Access::Read => Registry::open_read_only(&path)?,
            Access::Write | Access::MayWrite => {
                Registry::open(&path, None).map_err(|e| not_writable(&path, e))?
            }
        };
        if access == Access::Write {
            self.unlock(&reg)?;
        }
        Ok(reg)
    }

    /// A warning: on stderr for people; with `--json` the caller puts it in the document's
    /// `warnings` array instead (stderr stays empty).
    pub fn warn(&self, text: &str) {
        if !self.json {
            eprintln!("cairn: warning: {text}");
        }
    }

    /// Makes an open registry writable.
    pub fn unlock(&self, reg: &Registry) -> CliResult<()> {
        if !reg.is_writable() {
            let p = self.secrets.registry("to write")?;
            reg.unlock(&p)?;
        }
        Ok(())
    }
}

/// A read-write open that failed because the file cannot be written (read-only permissions
/// or a read-only file system) says so, and that reads still work; other errors pass.
fn not_writable(path: &std::path::Path, e: cairn_store::StoreError) -> CliError {
    if e.code() != StoreCode::Io {
        return e.into();
    }
    // Opening for writing writes nothing: it only asks whether the file could be written.
    match std::fs::OpenOptions::new().read(true).write(true).open(path) {
        Err(w)
            if matches!(
                w.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            CliError::store(
                StoreCode::Io,
                format!(
                    "{} cannot be opened for writing ({w}): this command writes to the registry; read commands work on a read-only registry",
                    path.display()
                ),
            )
        }
        _ => e.into(),
    }
}

/// Finds a key by id, id prefix (4+ hex digits), label, or `log`. A label shared by several
/// keys names the one active key among them.
pub fn resolve_key(reg: &Registry, sel: &str) -> CliResult<KeyInfo> {
    if sel == "log" {
        return Ok(reg.key(&reg.log_key_id()?)?);
    }
    if util::is_full_hex(sel) {
        return Ok(reg.key(&KeyId::from_hex(&sel.to_ascii_lowercase())?)?);
    }
    let keys = reg.list_keys()?;
    let by_label: Vec<&KeyInfo> = keys.iter().filter(|k| k.label == sel).collect();
    if !by_label.is_empty() {
        let active: Vec<&KeyInfo> = by_label
            .iter()
            .copied()
            .filter(|k| k.status == KeyStatus::Active)
            .collect();
        return match (active.as_slice(), by_label.as_slice()) {
            ([one], _) | ([], [one]) => Ok((*one).clone()),
            ([], _) => Err(CliError::usage(format!(
                "no key labelled {sel:?} is active ({} are rotated or revoked): name it by id",
                by_label.len()
            ))),
            _ => Err(CliError::usage(format!(
                "{} active keys are labelled {sel:?}: name one by id",
                active.len()
            ))),
        };
    }
    let hexish = sel.len() >= 4 && sel.bytes().all(|b| b.is_ascii_hexdigit());
    if !hexish {
        return Err(CliError::store(
            StoreCode::NotFound,
            format!(
                "no key labelled {sel:?} (name a key by its id, an id prefix, its label, or `log`)"
            ),
        ));
    }
    util::pick_by_prefix(sel, "key", keys, |k| k.key_id.to_hex())
}

/// Finds a token by id or id prefix.
pub fn resolve_token(reg: &Registry, sel: &str) -> CliResult<TokenInfo> {
    if util::is_full_hex(sel) {
        let id = cairn_core::encoding::hex_decode_array::<32>(&sel.to_ascii_lowercase())?;
        return Ok(reg.token(&id)?);
    }
    util::pick_by_prefix(sel, "token", reg.list_tokens()?, |t| hex_encode(&t.id))
}

/// Finds a manifest by digest or digest prefix.
pub fn resolve_manifest(reg: &Registry, sel: &str) -> CliResult<ManifestInfo> {
    if util::is_full_hex(sel) {
        let d = cairn_core::encoding::hex_decode_array::<32>(&sel.to_ascii_lowercase())?;
        return Ok(reg.manifest(&d)?);
    }
    util::pick_by_prefix(sel, "manifest", reg.list_manifests()?, |m| {
        hex_encode(&m.digest)
    })
}

/// Runs one command.
pub fn run(cli: Cli) -> CliResult<Output> {
    let ctx = Ctx::new(&cli.global);
    match cli.command {
        Command::Init(a) => init::init(&ctx, &a),
        Command::Status => init::status(&ctx),
        Command::Check => init::check(&ctx),
        Command::Migrate => init::migrate(&ctx),
        Command::Anchor(args::AnchorCmd::Reset) => init::anchor_reset(&ctx),
        Command::Key(c) => key::run(&ctx, c),
        Command::Root(c) => trustroot::run(&ctx, c),
        Command::Node(c) => node::run(&ctx, c),
        Command::Peer(c) => peer::run(&ctx, c),
        Command::Token(c) => token::run(&ctx, c),
        Command::Sign(a) => manifest::sign(&ctx, &a),
        Command::Verify(a) => manifest::verify(&ctx, &a),
        Command::Ledger(c) => ledger::run(&ctx, c),
        Command::Checkpoint(c) => checkpoint::run(&ctx, c),
        Command::Proof(c) => checkpoint::proof(&ctx, c),
        Command::Bundle(c) => bundle::run(&ctx, c),
        Command::Tiles(c) => tiles::run(&ctx, c),
        Command::Serve(a) => serve::run(&ctx, &a),
        Command::Witness(c) => witness::run(&ctx, c),
        Command::Handle(c) => handle::run(&ctx, c),
        Command::Import(c) => import::run(&ctx, c),
        Command::Blux(c) => blux::run(&ctx, c),
        Command::Demo => crate::demo::run(&ctx),
    }
}
