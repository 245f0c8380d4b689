//! `cairn witness init|serve` (a C2SP tlog-witness, crate cairn-service) and the registry's
//! side, `cairn checkpoint witness`: ask witnesses to cosign the newest checkpoint and store
//! their cosignatures with it.

use std::path::Path;
use std::time::Duration;

use cairn_core::encoding::hex_encode;
use cairn_core::note::is_valid_key_name;
use cairn_core::witness::CosignerKey;
use cairn_service::witness::client::{ask_each, Asked};
use cairn_service::witness::config::{DEFAULT_KEY_FILE, DEFAULT_STATE_FILE};
use cairn_service::witness::{WitnessConfig, WitnessKeys};
use cairn_store::{StoreCode, StoredCosignature};
use serde_json::{json, Value};

use super::args::WitnessCmd;
use super::error::{CliError, CliResult};
use super::{Access, Ctx, Output};

/// The configuration file `witness init` writes.
const CONFIG_FILE: &str = "witness.toml";
/// The public cosigner keys `witness init` writes, one per line.
const VKEYS_FILE: &str = "witness.vkeys";

pub fn run(ctx: &Ctx, cmd: WitnessCmd) -> CliResult<Output> {
    let _ = ctx;
    match cmd {
        WitnessCmd::Init {
            dir,
            name,
            log_origin,
            log_keys,
            address,
        } => init(&dir, &name, log_origin.as_deref(), &log_keys, &address),
        WitnessCmd::Serve { config } => {
            let cfg = WitnessConfig::from_file(&config)?;
            let name = cfg.name.clone();
            cairn_service::witness::http::run(cfg, |banner| eprintln!("{banner}"))?;
            Ok(Output::new(
                "cairn witness serve: stopped",
                json!({"stopped": true, "name": name}),
            ))
        }
    }
}

fn toml_str(s: &str) -> String {
    // A JSON string is a TOML basic string (same escapes).
    serde_json::to_string(s).unwrap_or_default()
}

fn init(
    dir: &Path,
    name: &str,
    origin: Option<&str>,
    log_keys: &[String],
    address: &str,
) -> CliResult<Output> {
    if !is_valid_key_name(name) || name.len() > 255 {
        return Err(CliError::usage(
            "--name must be a note key name: 1 to 255 bytes, no spaces or '+'",
        ));
    }
    let mut config = format!(
        "# cairn witness configuration (docs/WITNESS.md lists every option and its default).\n\
         name = {}\naddress = {}\nkey_path = {}\nstate_path = {}\n\n\
         # The logs this witness follows: one [[logs]] table each, with the log's origin and\n\
         # its signed-note verifier keys (`cairn checkpoint latest --json`: note_verifier_keys).\n",
        toml_str(name),
        toml_str(address),
        toml_str(DEFAULT_KEY_FILE),
        toml_str(DEFAULT_STATE_FILE),
    );
    if let Some(o) = origin {
        config.push_str(&format!(
            "[[logs]]\norigin = {}\nkeys = [{}]\n",
            toml_str(o),
            log_keys
                .iter()
                .map(|k| toml_str(k))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        WitnessConfig::from_toml(&config).map_err(|e| CliError::usage(e.message))?;
    } else {
        config.push_str("# [[logs]]\n# origin = \"registry.example/log\"\n# keys = [\"registry.example/log+1234abcd+AQ...\"]\n");
    }
    let io = |p: &Path, e: std::io::Error| {
        CliError::store(StoreCode::Io, format!("{}: {e}", p.display()))
    };
    // Durably: the key whose vkeys are printed must not vanish with its directory.
    cairn_store::fsio::create_dir_all_durable(dir).map_err(|e| io(dir, e))?;
    let (key_path, config_path, vkeys_path) = (
        dir.join(DEFAULT_KEY_FILE),
        dir.join(CONFIG_FILE),
        dir.join(VKEYS_FILE),
    );
    for p in [&key_path, &config_path] {
        if p.exists() {
            return Err(CliError::store(
                StoreCode::AlreadyExists,
                format!(
                    "{} exists: a witness is already set up in {}",
                    p.display(),
                    dir.display()
                ),
            ));
        }
    }
    let keys = WitnessKeys::generate();
    let cosigners = keys.cosigner_keys(name)?;
    keys.write_new(&key_path)?;
    let vkeys: Vec<String> = cosigners.iter().map(CosignerKey::vkey).collect();
    super::util::write_file(&vkeys_path, format!("{}\n", vkeys.join("\n")).as_bytes())?;
    super::util::write_file(&config_path, config.as_bytes())?;
    let mut text = format!(
        "created witness {name:?} in {}:\n  {} (secret keys, mode 0600)\n  {} (configuration{})\n  {} (cosigner keys)\n",
        dir.display(),
        key_path.display(),
        config_path.display(),
        if origin.is_some() { "" } else { ": add the logs it follows" },
        vkeys_path.display()
    );
    for (c, v) in cosigners.iter().zip(&vkeys) {
        let shown = if v.len() > 120 {
            format!(
                "{}+... (whole key in {VKEYS_FILE})",
                v.splitn(3, '+').take(2).collect::<Vec<_>>().join("+")
            )
        } else {
            v.clone()
        };
        text.push_str(&format!(
            "cosigner  {} {shown}\n",
            c.cosignature_type().name()
        ));
    }
    text.push_str(&format!(
        "run it: cairn witness serve --config {}",
        config_path.display()
    ));
    Ok(Output::new(
        text,
        json!({
            "name": name,
            "dir": dir.display().to_string(),
            "config": config_path.display().to_string(),
            "key_file": key_path.display().to_string(),
            "vkeys": vkeys,
        }),
    ))
}

/// `cairn checkpoint witness`.
/// A k-of-n witness policy from `--witness-key` vkeys (each witness named by its key's name),
/// `quorum` defaulting to all of them.
pub fn witness_policy(
    vkeys: &[String],
    quorum: Option<usize>,
    max_age: Option<u64>,
) -> CliResult<cairn_core::witness::WitnessPolicy> {
    let witnesses = vkeys
        .iter()
        .map(|v| {
            let key = CosignerKey::from_vkey(v.trim())
                .map_err(|e| CliError::from(e).context("--witness-key"))?;
            Ok(cairn_core::witness::Witness {
                name: key.name().to_owned(),
                key,
            })
        })
        .collect::<CliResult<Vec<_>>>()?;
    let n = witnesses.len();
    let mut policy = cairn_core::witness::WitnessPolicy::new(witnesses, quorum.unwrap_or(n));
    policy.max_age = max_age;
    policy
        .validate()
        .map_err(|e| CliError::from(e).context("witness policy"))?;
    Ok(policy)
}

pub fn checkpoint_witness(
    ctx: &Ctx,
    witnesses: &[String],
    witness_keys: &[String],
    timeout: u64,
) -> CliResult<Output> {
    let keys = witness_keys
        .iter()
        .map(|v| {
            CosignerKey::from_vkey(v.trim()).map_err(|e| CliError::from(e).context("--witness-key"))
        })
        .collect::<CliResult<Vec<_>>>()?;
    for w in witnesses {
        if !(w.starts_with("http://") || w.starts_with("https://")) {
            return Err(CliError::usage(format!(
                "--witness {w:?}: give an http:// or https:// URL"
            )));
        }
    }
    let reg = ctx.open(Access::Write)?;
    let cp = reg.create_checkpoint()?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(timeout.max(1))))
        .build()
        .into();
    let asked: Vec<(&str, &[CosignerKey])> = witnesses
        .iter()
        .map(|w| (w.as_str(), keys.as_slice()))
        .collect();
    let mut answers: Vec<Asked> = ask_each(&agent, &asked, &reg, &cp);
    // A witness counts once, by its keys: a URL whose every line is under a key an earlier
    // URL gave (an alias of it, or another witness's public cosignature served again) adds
    // no witness. And every --witness-key must have cosigned.
    let mut attributed: Vec<(String, u32)> = Vec::new();
    for a in &mut answers {
        if let Ok(lines) = &a.result {
            let new: Vec<(String, u32)> = lines
                .iter()
                .map(|c| (c.key.name().to_owned(), c.key.key_id()))
                .filter(|k| !attributed.contains(k))
                .collect();
            if new.is_empty() {
                a.result = Err(
                    "its cosignatures are all under keys an earlier --witness URL gave: it adds no witness"
                        .to_owned(),
                );
            }
            attributed.extend(new);
        }
    }
    let silent: Vec<&CosignerKey> = keys
        .iter()
        .filter(|k| !attributed.contains(&(k.name().to_owned(), k.key_id())))
        .collect();
    let gathered: Vec<StoredCosignature> = answers
        .iter()
        .filter_map(|a| a.result.as_ref().ok())
        .flatten()
        .cloned()
        .collect();
    let stored = if gathered.is_empty() {
        reg.cosignatures(cp.size)?.len()
    } else {
        reg.add_cosignatures(cp.size, &gathered)?
    };
    let mut text = format!(
        "checkpoint size {} root {}: ",
        cp.size,
        hex_encode(&cp.root)
    );
    let ok = answers.iter().filter(|a| a.result.is_ok()).count();
    text.push_str(&format!(
        "{ok} of {} witnesses cosigned; {stored} cosignature line(s) stored with it",
        answers.len()
    ));
    let mut rows: Vec<Value> = Vec::new();
    for a in &answers {
        let seen = a
            .previous
            .map(|n| format!(" (it had cosigned size {n})"))
            .unwrap_or_default();
        match &a.result {
            Ok(c) => {
                let names: Vec<String> = c
                    .iter()
                    .map(|c| format!("{} {}", c.key.name(), c.key.cosignature_type().name()))
                    .collect();
                text.push_str(&format!(
                    "\n  {}: cosigned{seen}: {}",
                    a.url,
                    names.join(", ")
                ));
                rows.push(json!({"url": a.url, "cosigned": true, "previous_size": a.previous, "cosignatures": c.iter().map(|c| json!({"name": c.key.name(), "type": c.key.cosignature_type().name(), "key_id": format!("{:08x}", c.key.key_id())})).collect::<Vec<_>>()}));
            }
            Err(e) => {
                text.push_str(&format!("\n  {}: refused or failed{seen}: {e}", a.url));
                rows.push(json!({"url": a.url, "cosigned": false, "previous_size": a.previous, "error": e}));
            }
        }
    }
    for k in &silent {
        text.push_str(&format!(
            "\n  --witness-key {} ({:08x}, {}): no witness cosigned with it",
            k.name(),
            k.key_id(),
            k.cosignature_type().name()
        ));
    }
    if ok < answers.len() || !silent.is_empty() {
        return Err(CliError::failed("witness_failed", text));
    }
    Ok(Output::new(
        text,
        json!({
            "checkpoint": {"size": cp.size, "root": hex_encode(&cp.root)},
            "witnesses": rows,
            "stored": stored,
        }),
    ))
}
