//! `cairn import blux <dir>`: a blux-reg configuration directory, through the store's
//! one-transaction import.

use cairn_store::{PrivatePart, Protection};
use serde_json::json;

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

pub fn run(ctx: &Ctx, cmd: ImportCmd) -> CliResult<Output> {
    match cmd {
        ImportCmd::Blux { dir } => {
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
            let res = reg.import_blux_dir(&dir, &protection);
            bar.finish_and_clear();
            let r = res?;
            let log = reg.log_key_id()?;
            let mut text = format!(
                "imported blux-reg from {}: {} keys, ledger of {} entries, {} revocations (entries {})",
                dir.display(),
                r.keys.len(),
                r.ledger_entries,
                r.revocations,
                r.imported_seqs
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for k in &r.keys {
                text.push_str(&format!("\n  key {} {}", k.key_id, k.label));
                if k.private == PrivatePart::Insecure {
                    text.push_str("  (stored WITHOUT passphrase protection)");
                }
            }
            for (file, why) in &r.skipped {
                text.push_str(&format!("\n  skipped {file}: {why}"));
            }
            Ok(Output::new(
                text,
                json!({
                    "dir": dir.display().to_string(),
                    "keys": r.keys.iter().map(|k| key_json(k, Some(&log))).collect::<Vec<_>>(),
                    "skipped": r.skipped.iter().map(|(f, w)| json!({"file": f, "reason": w})).collect::<Vec<_>>(),
                    "ledger_entries": r.ledger_entries,
                    "revocations": r.revocations,
                    "imported_seqs": r.imported_seqs,
                }),
            ))
        }
    }
}
