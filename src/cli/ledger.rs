//! `cairn ledger ...`.

use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use cairn_core::checkpoint::{verify_checkpoint, CheckpointPolicy, CheckpointVerifier};
use cairn_core::crypto::PublicKey;
use cairn_core::dsse::Envelope;
use cairn_core::encoding::hex_encode;
use cairn_core::trust::{Role, VerifiedRoot};
use cairn_core::ErrorCode;
use cairn_store::{verify_export, ExportExpectation};
use serde_json::json;

use super::args::LedgerCmd;
use super::error::{CliError, CliResult};
use super::util::{read_limited, read_public_key, read_text, write_file_with};
use super::view::{entry_json, entry_line, envelope_json};
use super::{Access, Ctx, Output};

/// Largest checkpoint note file read: the largest note cairn-core accepts, which a registry's
/// checkpoint with its witnesses' cosignatures may reach.
pub const MAX_NOTE_FILE: usize = cairn_core::note::MAX_NOTE_LEN;
/// Largest trust-root file read.
pub const MAX_ROOT_FILE: usize = 256 * 1024;

/// Reads a pinned trust root (DSSE JSON or compact) and checks its own signatures.
pub fn read_trust_root(path: &Path) -> CliResult<VerifiedRoot> {
    let bytes = read_limited(path, MAX_ROOT_FILE, "trust-root file")?;
    let env = Envelope::parse(&bytes).map_err(|e| CliError::from(e).context("trust-root file"))?;
    VerifiedRoot::from_pinned(&env).map_err(|e| CliError::from(e).context("trust-root file"))
}

/// The key among the root's checkpoint keys that signed `note` for `origin`.
pub fn signer_in_root(note: &str, origin: &str, root: &VerifiedRoot) -> CliResult<PublicKey> {
    let mut last = None;
    for k in root
        .keys
        .iter()
        .filter(|k| k.roles.contains(Role::Checkpoint))
    {
        let v = CheckpointVerifier {
            name: origin.to_owned(),
            public_key: k.public_key.clone(),
        };
        match verify_checkpoint(note.as_bytes(), &[v], &CheckpointPolicy::new(origin)) {
            Ok(_) => return Ok(k.public_key.clone()),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => {
            CliError::from(e).context("no checkpoint key of the trust root signed the checkpoint")
        }
        None => CliError::core(
            ErrorCode::UnknownKey,
            "the trust root lists no checkpoint key",
        ),
    })
}

/// A writer counting bytes into a progress bar.
struct Counting<W: Write> {
    inner: W,
    bar: indicatif::ProgressBar,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bar.inc(n as u64);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub fn run(ctx: &Ctx, cmd: LedgerCmd) -> CliResult<Output> {
    match cmd {
        LedgerCmd::Tail { count } => {
            let reg = ctx.open(Access::Read)?;
            let entries = reg.tail(count)?;
            Ok(Output::new(
                entries
                    .iter()
                    .map(entry_line)
                    .collect::<Vec<_>>()
                    .join("\n"),
                json!({"entries": entries.iter().map(entry_json).collect::<Vec<_>>()}),
            ))
        }
        LedgerCmd::Get { seq } => {
            let reg = ctx.open(Access::Read)?;
            let e = reg.entry(seq)?;
            let mut j = entry_json(&e);
            let text = format!("{j:#}");
            j["envelope"] = envelope_json(&e.envelope);
            Ok(Output::new(text, json!({"entry": j})))
        }
        LedgerCmd::Audit => {
            let reg = ctx.open(Access::Read)?;
            let size = reg.tree_size()?;
            let bar = ctx.progress.spinner(&format!(
                "auditing {size} entries, the tree, checkpoints and records"
            ));
            let res = reg.audit();
            bar.finish_and_clear();
            let r = res?;
            Ok(Output::new(
                format!(
                    "audit passed: {} entries (root {}), {} checkpoints (newest at size {}), {} keys, {} nodes, {} tokens, {} manifests, {} trust-root versions",
                    r.entries,
                    hex_encode(&r.root),
                    r.checkpoints,
                    r.newest_checkpoint,
                    r.keys,
                    r.nodes,
                    r.tokens,
                    r.manifests,
                    r.trust_roots
                ),
                json!({
                    "valid": true,
                    "entries": r.entries,
                    "root": hex_encode(&r.root),
                    "checkpoints": r.checkpoints,
                    "newest_checkpoint": r.newest_checkpoint,
                    "keys": r.keys,
                    "nodes": r.nodes,
                    "tokens": r.tokens,
                    "manifests": r.manifests,
                    "trust_roots": r.trust_roots,
                }),
            ))
        }
        LedgerCmd::Export { out } => {
            ctx.check_outputs(&[&out], &[])?;
            let reg = ctx.open(Access::Read)?;
            let bar = ctx.progress.spinner("exporting the ledger");
            // Streamed into a temporary file beside `out` and renamed over it only when
            // complete: an interrupted export never leaves a truncated file under its name.
            let res = write_file_with(&out, |file| {
                let mut w = Counting {
                    inner: BufWriter::new(file),
                    bar: bar.clone(),
                    bytes: 0,
                };
                let n = reg.export_ledger(&mut w)?;
                w.flush().map_err(|e| CliError::io(&out, &e))?;
                Ok((n, w.bytes))
            });
            bar.finish_and_clear();
            let (n, bytes) = res?;
            let text = format!("exported {n} entries ({bytes} bytes) to {}", out.display());
            Ok(Output::new(
                text,
                json!({"file": out.display().to_string(), "entries": n, "bytes": bytes, "origin": reg.origin()}),
            ))
        }
        LedgerCmd::ImportVerify {
            file,
            origin,
            checkpoint,
            log_key,
            trust_root,
        } => {
            let note = checkpoint
                .as_deref()
                .map(|p| read_text(p, MAX_NOTE_FILE, "checkpoint file"))
                .transpose()?;
            let key = match (&note, &log_key, &trust_root) {
                (Some(_), Some(k), _) => Some(read_public_key(k)?),
                (Some(n), None, Some(r)) => {
                    let root = read_trust_root(r)?;
                    let o = origin.clone().unwrap_or_else(|| root.origin.clone());
                    Some(signer_in_root(n, &o, &root)?)
                }
                (Some(_), None, None) => {
                    return Err(CliError::usage(
                        "--checkpoint needs the key that signed it: --log-key FILE or --trust-root FILE",
                    ))
                }
                (None, _, _) => None,
            };
            let expect = ExportExpectation {
                origin: origin.clone(),
                checkpoint: note.clone().zip(key),
            };
            let f = std::fs::File::open(&file).map_err(|e| CliError::io(&file, &e))?;
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let (bar, reader) = ctx.progress.reader(BufReader::new(f), len, "verifying");
            let res = verify_export(reader, &expect);
            bar.finish_and_clear();
            let r = res?;
            let anchored = expect.checkpoint.is_some();
            let mut text = format!(
                "export verified: {} entries of {:?}, {} checkpoints, root {}, log key {}",
                r.entries,
                r.origin,
                r.checkpoints,
                hex_encode(&r.root),
                r.log_key
            );
            if !anchored {
                text.push_str("\nnot anchored: the stream was checked only against itself (give --checkpoint with --trust-root or --log-key)");
            }
            Ok(Output::new(
                text,
                json!({
                    "valid": true,
                    "origin": r.origin,
                    "entries": r.entries,
                    "checkpoints": r.checkpoints,
                    "root": hex_encode(&r.root),
                    "log_key": r.log_key.to_hex(),
                    "anchored": anchored,
                }),
            ))
        }
    }
}
