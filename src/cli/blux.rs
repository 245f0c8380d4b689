//! `cairn blux verify-token|verify-manifest|verify-ledger`: blux-reg v1.0 files verified
//! offline with cairn-core's blux module, no registry opened.
//!
//! Exit status follows blux-reg's own CLI (`verify`, `verify-manifest`,
//! `audit verify-chain`): 0 verified, 1 not verified — whatever is wrong with the file's
//! content (a bad signature, an expired or revoked token, a broken chain, but also a file
//! that does not parse) — and 2 for usage errors and files that cannot be read.

use std::path::{Path, PathBuf};

use cairn_core::blux::{
    canonical_json, verify_manifest, verify_token, Limits, TokenPolicy, Value as BluxValue,
    MAX_REVOCATIONS_LEN,
};
use cairn_core::crypto::PublicKey;
use cairn_core::encoding::hex_encode;
use cairn_core::view;
use cairn_core::ErrorCode;
use cairn_store::BluxImport;
use serde_json::{json, Value};

use super::args::BluxCmd;
use super::error::{CliError, CliResult, EXIT_FAILED};
use super::util::{fmt_time, now, parse_time, read_limited, read_public_key};
use super::{Ctx, Output};

/// Largest token or manifest file read (the blux module's limit for one document).
const MAX_OBJECT_LEN: usize = Limits::DEFAULT.max_len;
/// Most key files read from a --keys-dir.
const MAX_KEY_FILES: usize = 1024;

/// A verdict about the content: exit 1 whatever its code, as blux-reg exits.
fn not_verified(e: impl Into<CliError>) -> CliError {
    let mut e = e.into();
    e.exit = EXIT_FAILED;
    e
}

/// Reads a blux-reg file of at most `max` bytes: unreadable is exit 2; too large or not
/// UTF-8 is a verdict (exit 1), as a bad line inside it is.
fn read_object(path: &Path, max: usize, what: &str) -> CliResult<String> {
    let bytes = read_limited(path, max, what).map_err(|e| {
        if e.code == "too_large" {
            not_verified(e)
        } else {
            e
        }
    })?;
    String::from_utf8(bytes).map_err(|_| {
        not_verified(CliError::core(
            ErrorCode::Malformed,
            format!("{} is not UTF-8", path.display()),
        ))
    })
}

/// The keys of `--key FILE` (PEM or JSON) and `--keys-dir DIR` (its `*.pub.pem` files).
fn read_keys(files: &[PathBuf], dir: Option<&Path>) -> CliResult<Vec<PublicKey>> {
    let mut keys = Vec::new();
    for f in files {
        keys.push(read_public_key(f)?);
    }
    if let Some(dir) = dir {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| CliError::io(dir, &e))? {
            let entry = entry.map_err(|e| CliError::io(dir, &e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".pub.pem") {
                names.push(entry.path());
            }
            if names.len() > MAX_KEY_FILES {
                return Err(CliError::core(
                    ErrorCode::TooLarge,
                    format!(
                        "{} holds more than {MAX_KEY_FILES} key files",
                        dir.display()
                    ),
                ));
            }
        }
        names.sort();
        for p in &names {
            keys.push(read_public_key(p)?);
        }
    }
    Ok(keys)
}

/// A blux JSON value for a line of text: strings as they are, anything else as its canonical
/// JSON text (blux-reg does not constrain these fields' types).
fn show(v: &BluxValue) -> Value {
    match v.as_str() {
        Some(s) => json!(s),
        None => json!(canonical_json(v)),
    }
}

/// cairn-core's view of a verdict (the package's `bluxVerify*` result) with the CLI's own
/// fields beside it (`status`, and what only the CLI knows: files, time, pins).
fn with_fields(mut view: Value, extra: Value) -> Value {
    if let (Value::Object(v), Value::Object(x)) = (&mut view, extra) {
        v.extend(x);
    }
    view
}

fn text_of(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

pub fn run(ctx: &Ctx, cmd: BluxCmd) -> CliResult<Output> {
    match cmd {
        BluxCmd::Token {
            file,
            keys,
            keys_dir,
            any_issuer,
            revocations,
            at,
        } => {
            let trusted = read_keys(&keys, keys_dir.as_deref())?;
            if trusted.is_empty() && !any_issuer {
                return Err(CliError::usage(
                    "name the trusted issuers with --key FILE or --keys-dir DIR, or pass \
                     --any-issuer to accept any key embedded in the token (what blux-reg does)",
                ));
            }
            let policy = if any_issuer && trusted.is_empty() {
                TokenPolicy::any_issuer()
            } else {
                TokenPolicy::trusted_keys(&trusted)
            };
            let at = at
                .as_deref()
                .map(parse_time)
                .transpose()?
                .unwrap_or_else(now);
            let text = read_object(&file, MAX_OBJECT_LEN, "token file")?;
            let revoked = revocations
                .as_deref()
                .map(|p| read_object(p, MAX_REVOCATIONS_LEN, "revocations file"))
                .transpose()?;
            let v = verify_token(&text, at, revoked.as_deref(), &policy).map_err(not_verified)?;
            let (capability, audience) = (show(&v.capability), show(&v.audience));
            let pinned = !trusted.is_empty();
            let mut out = format!(
                "verified: blux-reg token {}\ncapability {}\naudience   {}\nexpires    {}\nissuer     {} ({})\nat         {}",
                v.token_hash_hex(),
                text_of(&capability),
                text_of(&audience),
                v.expires_at,
                v.issuer_fingerprint_hex(),
                if pinned {
                    "trusted"
                } else {
                    "NOT pinned: --any-issuer accepts any key embedded in the token"
                },
                fmt_time(at)
            );
            out.push_str(if revoked.is_some() {
                "\nnot revoked in the revocations file"
            } else {
                "\nrevocation not checked (give --revocations FILE)"
            });
            Ok(Output::new(
                out,
                with_fields(
                    view::blux_token_verdict(&v),
                    json!({
                        "status": "verified",
                        "issuer_pinned": pinned,
                        "revocations_checked": revoked.is_some(),
                        "at": at,
                    }),
                ),
            ))
        }
        BluxCmd::Manifest {
            manifest,
            artifact,
            keys,
            keys_dir,
            max_size,
        } => {
            let trusted = read_keys(&keys, keys_dir.as_deref())?;
            if trusted.is_empty() {
                return Err(CliError::usage(
                    "name the signer's public key with --key FILE or --keys-dir DIR",
                ));
            }
            let text = read_object(&manifest, MAX_OBJECT_LEN, "manifest file")?;
            let artifact = match artifact {
                Some(a) => a,
                None => {
                    // blux-reg's own lookup: artifact_path beside the manifest, but only as a
                    // plain file name (blux-reg joins it unchecked).
                    let name = cairn_core::blux::parse_json(&text)
                        .ok()
                        .and_then(|v| {
                            v.get("artifact_path")
                                .and_then(BluxValue::as_str)
                                .map(String::from)
                        })
                        .ok_or_else(|| {
                            not_verified(CliError::core(
                                ErrorCode::Malformed,
                                "manifest: no artifact_path (or give --artifact FILE)",
                            ))
                        })?;
                    let plain = !name.is_empty()
                        && !name.contains(['/', '\\', '\0'])
                        && name != "."
                        && name != "..";
                    if !plain {
                        return Err(not_verified(CliError::core(
                            ErrorCode::Malformed,
                            format!(
                                "manifest: artifact_path {name:?} is not a plain file name (give --artifact FILE)"
                            ),
                        )));
                    }
                    manifest
                        .parent()
                        .map_or_else(|| PathBuf::from(&name), |d| d.join(&name))
                }
            };
            let (_, digest) = ctx.progress.hash_artifact(&artifact, max_size)?;
            let v = verify_manifest(&text, &digest, &trusted).map_err(not_verified)?;
            Ok(Output::new(
                format!(
                    "verified: blux-reg manifest {}\nartifact  {} ({})\nsha256    {}\nsigner    {}",
                    hex_encode(&v.manifest_hash),
                    v.artifact_path,
                    artifact.display(),
                    hex_encode(&v.artifact_sha256),
                    hex_encode(&v.key_fingerprint),
                ),
                with_fields(
                    view::blux_manifest_verdict(&v),
                    json!({"status": "verified", "artifact_file": artifact.display().to_string()}),
                ),
            ))
        }
        BluxCmd::Ledger { file } => {
            let bar = ctx.progress.spinner("verifying the ledger chain");
            let res = BluxImport::verify_ledger_file(&file);
            bar.finish_and_clear();
            let (summary, digest) = match res {
                Ok(Some(found)) => found,
                Ok(None) => {
                    return Err(CliError::io(
                        &file,
                        &std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
                    ))
                }
                Err(e) if matches!(e.code().as_str(), "io" | "not_found") => return Err(e.into()),
                Err(e) => return Err(not_verified(e)),
            };
            Ok(Output::new(
                format!(
                    "ledger ok: {} entries, head {}\nsha256 {}\nthe chain proves only that the file is consistent with itself: entries are \
                     unsigned and nothing anchors the head (a recomputed or truncated chain also verifies)",
                    summary.entries,
                    summary.head_hex().unwrap_or_else(|| "none (empty ledger)".to_owned()),
                    hex_encode(&digest)
                ),
                with_fields(
                    view::blux_ledger(&summary),
                    json!({"status": "verified", "sha256": hex_encode(&digest)}),
                ),
            ))
        }
    }
}
