//! `cairn key ...`.

use cairn_core::trust::RoleSet;
use cairn_store::{KeySpec, PrivatePart, WeakerAlgorithm};
use serde_json::{json, Value};

use super::args::{KeyCmd, KeyFormat, RoleArg};
use super::error::{CliError, CliResult};
use super::util::{
    parse_duration, read_public_key, read_text, write_file, write_private_file, MAX_KEY_FILE,
};
use super::view::{key_json, key_line, key_text, NoteKeys};
use super::{resolve_key, Access, Ctx, Output};

fn spec(
    reg: &cairn_store::Registry,
    label: &str,
    roles: &[RoleArg],
    expires_in: Option<&str>,
) -> CliResult<KeySpec> {
    let mut s = KeySpec::new(
        label,
        RoleSet::of(&roles.iter().map(|r| r.role()).collect::<Vec<_>>()),
    );
    if let Some(d) = expires_in {
        s.expires_at = Some(reg.now().saturating_add(parse_duration(d)?));
    }
    Ok(s)
}

fn insecure_note(ctx: &Ctx, private: PrivatePart) -> &'static str {
    if private == PrivatePart::Insecure && ctx.secrets.insecure {
        "\nWARNING: stored WITHOUT passphrase protection (--insecure-no-passphrase)"
    } else {
        ""
    }
}

pub fn run(ctx: &Ctx, cmd: KeyCmd) -> CliResult<Output> {
    match cmd {
        KeyCmd::Generate {
            label,
            roles,
            algorithm,
            expires_in,
        } => {
            let reg = ctx.open(Access::Write)?;
            let spec = spec(&reg, &label, &roles, expires_in.as_deref())?;
            let protection = ctx.secrets.new_key_protection(&label)?;
            let info = reg.generate_key(algorithm, &spec, &protection)?;
            let log = reg.log_key_id()?;
            Ok(Output::new(
                format!(
                    "generated {} key {}\nlabel {}  roles {}  entry {}{}",
                    algorithm,
                    info.key_id,
                    info.label,
                    super::view::roles(info.roles).join(","),
                    info.added_seq,
                    insecure_note(ctx, info.private)
                ),
                json!({"key": key_json(&info, Some(&log))}),
            ))
        }
        KeyCmd::Import {
            public,
            private,
            label,
            roles,
            expires_in,
        } => {
            let reg = ctx.open(Access::Write)?;
            let spec = spec(&reg, &label, &roles, expires_in.as_deref())?;
            let info = match (public, private) {
                (Some(p), _) => {
                    let pk = read_public_key(&p)?;
                    reg.write(|tx| tx.import_public_key(&pk, &spec))?
                }
                (None, Some(p)) => {
                    let pem = zeroize_string(read_text(&p, MAX_KEY_FILE, "private key file")?);
                    let protection = ctx.secrets.new_key_protection(&label)?;
                    reg.write(|tx| tx.import_private_pem(&pem, &spec, &protection))?
                }
                (None, None) => {
                    return Err(CliError::usage("give --public FILE or --private FILE"))
                }
            };
            let log = reg.log_key_id()?;
            Ok(Output::new(
                format!(
                    "imported {} key {}\nlabel {}  roles {}  private {}  entry {}{}",
                    info.public_key.algorithm(),
                    info.key_id,
                    info.label,
                    super::view::roles(info.roles).join(","),
                    if info.private == PrivatePart::None {
                        "no"
                    } else {
                        "yes"
                    },
                    info.added_seq,
                    insecure_note(ctx, info.private)
                ),
                json!({"key": key_json(&info, Some(&log))}),
            ))
        }
        KeyCmd::Export {
            key,
            private,
            format,
            out,
        } => {
            let reg = ctx.open(Access::Read)?;
            let info = resolve_key(&reg, &key)?;
            let (body, kind) = if private {
                // A log key, current or rotated out, is sealed with the registry passphrase:
                // only log keys hold the checkpoint role.
                let is_log = info.roles.contains(cairn_core::trust::Role::Checkpoint);
                let pass = ctx.secrets.for_registry_key(&info, is_log)?;
                let pem = reg.export_private_pem(&info.key_id, pass.as_ref())?;
                (zeroize_string(pem.to_string()), "private-pem")
            } else {
                match format {
                    KeyFormat::Pem => (
                        zeroize_string(reg.export_public_pem(&info.key_id).map_err(|e| {
                            let hint = if e.code().as_str() == "unsupported_algorithm" {
                                " (hybrid keys: use --format json)"
                            } else {
                                ""
                            };
                            CliError::from(e).context(&format!("export{hint}"))
                        })?),
                        "public-pem",
                    ),
                    KeyFormat::Json => {
                        let mut v = serde_json::to_value(&info.public_key).unwrap_or_default();
                        v["key_id"] = json!(info.key_id.to_hex());
                        v["label"] = json!(info.label);
                        (zeroize_string(format!("{v:#}\n")), "public-json")
                    }
                }
            };
            match &out {
                Some(path) => {
                    if private {
                        write_private_file(path, body.as_bytes())?;
                    } else {
                        write_file(path, body.as_bytes())?;
                    }
                    let mut text = format!(
                        "wrote {} of key {} to {}",
                        kind,
                        info.key_id,
                        path.display()
                    );
                    if private {
                        text.push_str("\nWARNING: the private key file is NOT encrypted: protect or delete it");
                    }
                    Ok(Output::new(
                        text,
                        json!({"key_id": info.key_id.to_hex(), "format": kind, "file": path.display().to_string()}),
                    ))
                }
                None => Ok(Output::new(
                    body.trim_end().to_owned(),
                    json!({"key_id": info.key_id.to_hex(), "format": kind, "data": body.as_str()}),
                )),
            }
        }
        KeyCmd::List => {
            let reg = ctx.open(Access::Read)?;
            let log = reg.log_key_id()?;
            let keys = reg.list_keys()?;
            let mut text = format!(
                "{:<12}  {:<18} {:<8} {:<9} {:<20} roles",
                "key", "algorithm", "status", "private", "label"
            );
            for k in &keys {
                text.push('\n');
                text.push_str(&key_line(k, Some(&log)));
            }
            Ok(Output::new(
                text,
                json!({"keys": keys.iter().map(|k| key_json(k, Some(&log))).collect::<Vec<_>>()}),
            ))
        }
        KeyCmd::Show { key } => {
            let reg = ctx.open(Access::Read)?;
            let log = reg.log_key_id()?;
            let info = resolve_key(&reg, &key)?;
            let notes = NoteKeys::of(NoteKeys::name_for(&info, reg.origin()), &info.public_key);
            let mut text = key_text(&info, Some(&log));
            let note_text = notes.text();
            if !note_text.is_empty() {
                text.push('\n');
                text.push_str(&note_text);
            }
            let mut doc = json!({"key": key_json(&info, Some(&log))});
            if let (Value::Object(d), Value::Object(n)) = (&mut doc, notes.json()) {
                d.extend(n);
            }
            Ok(Output::new(text, doc))
        }
        KeyCmd::Rotate {
            key,
            algorithm,
            allow_weaker_algorithm,
        } => {
            // Unlocked only once the rotation is known to be allowed: a refused one asks for
            // no passphrase.
            let reg = ctx.open(Access::MayWrite)?;
            let old = resolve_key(&reg, &key)?;
            let was_log = old.key_id == reg.log_key_id()?;
            let old_alg = old.public_key.algorithm();
            let alg = algorithm.unwrap_or(old_alg);
            // The store refuses a weaker algorithm unless asked (`WeakerAlgorithm`); asking
            // here first makes it a usage error that names the flag, before any passphrase
            // prompt.
            if let Some(lost) = old_alg.weakened_by(alg).filter(|_| !allow_weaker_algorithm) {
                return Err(CliError::usage(format!(
                    "key {} is {old_alg}: a new {alg} key would give up {lost}; \
                     pass --allow-weaker-algorithm to rotate to it anyway",
                    old.key_id
                )));
            }
            ctx.unlock(&reg)?;
            let pass = ctx.secrets.for_registry_key(&old, was_log)?;
            let protection = ctx.secrets.rotated_key_protection(&old, was_log)?;
            let weaker = WeakerAlgorithm::allowed_if(allow_weaker_algorithm);
            let new = reg.rotate_key(&old.key_id, pass.as_ref(), alg, weaker, &protection)?;
            let log = reg.log_key_id()?;
            let listed = reg
                .trust_root()
                .map(|r| r.root.keys.iter().any(|k| k.key_id() == old.key_id))
                .unwrap_or(false);
            let mut text = format!(
                "rotated {} -> {} ({})\nlabel {}  roles {}",
                old.key_id,
                new.key_id,
                alg,
                new.label,
                super::view::roles(new.roles).join(",")
            );
            if was_log {
                text.push_str(
                    "\nthe log now signs with the new key (a checkpoint signed by it was written)",
                );
            }
            if listed {
                text.push_str("\nthe trust root lists the old key: run `cairn root rotate` so verifiers learn the new one");
            }
            text.push_str(insecure_note(ctx, new.private));
            Ok(Output::new(
                text,
                json!({
                    "old": old.key_id.to_hex(),
                    "key": key_json(&new, Some(&log)),
                    "log_key_rotated": was_log,
                    "trust_root_needs_rotation": listed,
                }),
            ))
        }
        KeyCmd::Revoke {
            key,
            reason,
            revoker,
        } => {
            let reg = ctx.open(Access::Write)?;
            let target = resolve_key(&reg, &key)?;
            let by = match &revoker {
                Some(r) => resolve_key(&reg, r)?,
                None => target.clone(),
            };
            let pass = ctx.secrets.for_key(&by)?;
            let seq = reg.revoke_key(&target.key_id, &reason, &by.key_id, pass.as_ref())?;
            Ok(Output::new(
                format!(
                    "revoked key {} ({}) at entry {seq}, by {}",
                    target.key_id, target.label, by.key_id
                ),
                json!({"key_id": target.key_id.to_hex(), "revoker": by.key_id.to_hex(), "seq": seq, "reason": reason}),
            ))
        }
    }
}

/// Private key text lives in zeroizing memory.
fn zeroize_string(s: String) -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(s)
}
