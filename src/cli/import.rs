//! `cairn import blux <dir>`: a blux-reg configuration directory, through the store's
//! one-transaction import.

use std::path::Path;

use cairn_core::encoding::hex_encode;
use cairn_store::{BluxImport, BluxObject, PrivatePart, Protection, StoreCode, StoreError};
use serde_json::{json, Value};

use super::args::ImportCmd;
use super::error::{CliError, CliResult};
use super::view::key_json;
use super::{Access, Ctx, Output};

/// True when `dir/keys` holds a private key file (`*.pem` that is not `*.pub.pem`): only
/// then is a passphrase needed to seal what is imported.
fn has_private_keys(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir.join("keys"))
        .map(|entries| {
            entries.filter_map(Result::ok).any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.ends_with(".pem") && !n.ends_with(".pub.pem")
            })
        })
        .unwrap_or(false)
}

/// Marks the transaction of an import that refused files and was not asked to keep the
/// rest: returning it from the write closure aborts the transaction.
const ABORT_REFUSED: &str = "blux import refused files";

/// A verified token or manifest; `seq` is `null` when the transaction was rolled back.
fn object_json(o: &BluxObject, kind: &str, written: bool) -> Value {
    json!({
        "path": o.path,
        "kind": kind,
        "sha256": hex_encode(&o.sha256),
        "object_hash": hex_encode(&o.object_hash),
        "signer": hex_encode(&o.signer),
        "seq": written.then_some(o.seq),
    })
}

/// The report of an import: text for people, fields for `--json`. `written` says whether
/// the transaction was committed (the entries exist) or rolled back.
fn report(
    dir: &Path,
    r: &BluxImport,
    log: &cairn_core::crypto::KeyId,
    written: bool,
) -> (String, Value) {
    let mut text = format!(
        "{} blux-reg from {}: {} keys, ledger of {} entries, {} revocations, {} tokens, {} manifests, {} refused",
        if written { "imported" } else { "NOT imported" },
        dir.display(),
        r.keys.len(),
        r.ledger_entries,
        r.revocations,
        r.tokens.len(),
        r.manifests.len(),
        r.rejected.len(),
    );
    if written && !r.imported_seqs.is_empty() {
        text.push_str(&format!(
            " (entries {})",
            r.imported_seqs
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for k in &r.keys {
        text.push_str(&format!("\n  key       {} {}", k.key_id, k.label));
        if k.private == PrivatePart::Insecure {
            text.push_str("  (stored WITHOUT passphrase protection)");
        }
    }
    for (file, why) in &r.skipped {
        text.push_str(&format!("\n  skipped   keys/{file}: {why}"));
    }
    for (kind, list) in [("token", &r.tokens), ("manifest", &r.manifests)] {
        for o in list {
            text.push_str(&format!(
                "\n  {kind:<9} {}  {}",
                o.path,
                if written {
                    format!("entry {}", o.seq)
                } else {
                    "verified".to_owned()
                }
            ));
        }
    }
    for x in &r.rejected {
        text.push_str(&format!(
            "\n  REFUSED   {}: {}: {}",
            x.path, x.code, x.message
        ));
    }
    let fields = json!({
        "dir": dir.display().to_string(),
        "written": written,
        "keys": r.keys.iter().map(|k| key_json(k, Some(log))).collect::<Vec<_>>(),
        "skipped": r.skipped.iter().map(|(f, w)| json!({"file": f, "path": format!("keys/{f}"), "code": "already_exists", "reason": w})).collect::<Vec<_>>(),
        "ledger_entries": r.ledger_entries,
        "revocations": r.revocations,
        "tokens": r.tokens.iter().map(|o| object_json(o, "token", written)).collect::<Vec<_>>(),
        "manifests": r.manifests.iter().map(|o| object_json(o, "manifest", written)).collect::<Vec<_>>(),
        "rejected": r.rejected.iter().map(|x| json!({"path": x.path, "code": x.code.as_str(), "message": x.message})).collect::<Vec<_>>(),
        "imported_seqs": if written { json!(r.imported_seqs) } else { json!([]) },
    });
    (text, fields)
}

pub fn run(ctx: &Ctx, cmd: ImportCmd) -> CliResult<Output> {
    match cmd {
        ImportCmd::Blux { dir, allow_partial } => {
            if !dir.is_dir() {
                return Err(CliError::io(
                    &dir,
                    &std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
                ));
            }
            let reg = ctx.open(Access::Write)?;
            let protection = if has_private_keys(&dir) {
                ctx.secrets.new_key_protection("blux-reg keys")?
            } else {
                // Public keys and trust files only: nothing to seal.
                Protection::Insecure
            };
            let bar = ctx.progress.spinner("verifying and importing");
            // One transaction. When a token or manifest is refused and --allow-partial is
            // not given, the transaction is rolled back: nothing is written, and the report
            // says what would have been imported and what was refused.
            let mut refused: Option<BluxImport> = None;
            let res = reg.write(|tx| {
                let r = tx.import_blux_dir(&dir, &protection)?;
                if !r.rejected.is_empty() && !allow_partial {
                    refused = Some(r);
                    return Err(StoreError::new(StoreCode::InvalidState, ABORT_REFUSED));
                }
                Ok(r)
            });
            bar.finish_and_clear();
            let log = reg.log_key_id()?;
            if let Some(r) = refused {
                let (text, fields) = report(&dir, &r, &log, false);
                let n = r.rejected.len();
                return Err(CliError::failed(
                    "refused",
                    format!(
                        "{n} blux-reg file{} refused (listed in \"rejected\"); nothing was imported: fix or remove {}, or pass --allow-partial to import the rest",
                        if n == 1 { " was" } else { "s were" },
                        if n == 1 { "it" } else { "them" },
                    ),
                )
                .with_report(text, fields));
            }
            let r = res?;
            let (mut text, fields) = report(&dir, &r, &log, true);
            if !r.rejected.is_empty() {
                text.push_str(&format!(
                    "\n{} refused file{} left out (--allow-partial)",
                    r.rejected.len(),
                    if r.rejected.len() == 1 { "" } else { "s" }
                ));
            }
            Ok(Output::new(text, fields))
        }
    }
}
