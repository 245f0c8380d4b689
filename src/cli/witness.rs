//! `cairn witness init|serve` (a C2SP tlog-witness, crate cairn-service) and the registry's
//! side, `cairn checkpoint witness`: ask witnesses to cosign the newest checkpoint and store
//! their cosignatures with it.

use std::path::Path;
use std::time::Duration;

use cairn_core::checkpoint::Checkpoint;
use cairn_core::encoding::hex_encode;
use cairn_core::note::{is_valid_key_name, Note};
use cairn_core::witness::add::AddCheckpoint;
use cairn_core::witness::CosignerKey;
use cairn_service::witness::config::{DEFAULT_KEY_FILE, DEFAULT_STATE_FILE};
use cairn_service::witness::{WitnessConfig, WitnessKeys};
use cairn_service::ServiceError;
use cairn_store::{Registry, StoreCode, StoredCheckpoint, StoredCosignature};
use serde_json::{json, Value};

use super::args::WitnessCmd;
use super::error::{CliError, CliResult};
use super::{Access, Ctx, Output};

/// The configuration file `witness init` writes.
const CONFIG_FILE: &str = "witness.toml";
/// The public cosigner keys `witness init` writes, one per line.
const VKEYS_FILE: &str = "witness.vkeys";
/// Largest add-checkpoint answer read.
const MAX_ANSWER: u64 = 64 * 1024;

fn service_error(e: ServiceError) -> CliError {
    match StoreCode::parse(e.code) {
        Some(c) => CliError::store(c, e.message),
        None => CliError::failed(e.code, e.message),
    }
}

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
            let cfg = WitnessConfig::from_file(&config).map_err(service_error)?;
            let name = cfg.name.clone();
            cairn_service::witness::http::run(cfg, |banner| eprintln!("{banner}"))
                .map_err(service_error)?;
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
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
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
    let cosigners = keys.cosigner_keys(name).map_err(service_error)?;
    keys.write_new(&key_path).map_err(service_error)?;
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

/// One witness's answer.
struct Asked {
    url: String,
    /// The size the witness had cosigned before (from its 409), if it said.
    previous: Option<u64>,
    result: Result<Vec<StoredCosignature>, String>,
}

fn answer_text(resp: &mut ureq::http::Response<ureq::Body>) -> String {
    resp.body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_string()
        .unwrap_or_default()
}

/// The cosignatures in a 200 answer that verify under `keys`; lines of other keys are
/// ignored, and a line of a given key that does not verify is an error.
fn cosignatures_in(
    answer: &str,
    cp: &StoredCheckpoint,
    keys: &[CosignerKey],
) -> Result<Vec<StoredCosignature>, String> {
    let note = Note::parse(cp.note.as_bytes()).map_err(|e| e.to_string())?;
    let text = note.text();
    let checkpoint = Checkpoint::parse_text(text).map_err(|e| e.to_string())?;
    let lines = Note::parse(format!("{text}\n{answer}").as_bytes())
        .map_err(|e| format!("the answer is not signature lines: {}", e.detail()))?;
    let mut out = Vec::new();
    for line in lines.signatures() {
        let Some(key) = keys
            .iter()
            .find(|k| k.name() == line.name && k.key_id() == line.key_hash)
        else {
            continue;
        };
        key.verify(&checkpoint, text, &line.signature)
            .map_err(|e| format!("its cosignature does not verify: {}", e.detail()))?;
        out.push(StoredCosignature {
            key: key.clone(),
            signature: line.clone(),
        });
    }
    if out.is_empty() {
        return Err("none of its cosignature lines is under a --witness-key".into());
    }
    Ok(out)
}

fn ask(
    agent: &ureq::Agent,
    base: &str,
    reg: &Registry,
    cp: &StoredCheckpoint,
    keys: &[CosignerKey],
) -> Asked {
    let url = format!("{}/add-checkpoint", base.trim_end_matches('/'));
    let mut old = 0u64;
    let mut previous = None;
    // First with old 0 (C2SP: a client that does not know the witness's size may), then with
    // the size its 409 names.
    for _ in 0..3 {
        let result = (|| -> Result<Option<Vec<StoredCosignature>>, String> {
            if old > cp.size {
                return Err(format!(
                    "the witness has cosigned size {old} of this log, beyond the newest checkpoint {}: it was shown another tree or a newer checkpoint",
                    cp.size
                ));
            }
            let proof = if old == 0 || old == cp.size {
                Vec::new()
            } else {
                reg.checkpoint_consistency(old, cp.size)
                    .map_err(|e| format!("consistency proof from {old}: {e}"))?
                    .hashes
            };
            let body = AddCheckpoint::body(old, &proof, &cp.note);
            let mut resp = agent
                .post(&url)
                .header("Content-Type", "text/plain; charset=utf-8")
                .send(body.as_bytes())
                .map_err(|e| format!("POST {url}: {e}"))?;
            let status = resp.status().as_u16();
            let answer = answer_text(&mut resp);
            match status {
                200 => cosignatures_in(&answer, cp, keys).map(Some),
                409 => {
                    let n = answer
                        .trim_end_matches('\n')
                        .parse::<u64>()
                        .map_err(|_| format!("409 without a size: {answer:?}"))?;
                    if n == old {
                        return Err(format!("409 naming the size {n} that was sent"));
                    }
                    previous = Some(n);
                    old = n;
                    Ok(None)
                }
                s => Err(format!("{s}: {}", answer.trim())),
            }
        })();
        match result {
            Ok(None) => continue,
            Ok(Some(c)) => {
                return Asked {
                    url: base.to_owned(),
                    previous,
                    result: Ok(c),
                }
            }
            Err(e) => {
                return Asked {
                    url: base.to_owned(),
                    previous,
                    result: Err(e),
                }
            }
        }
    }
    Asked {
        url: base.to_owned(),
        previous,
        result: Err("the witness's size kept changing (3 conflicts in a row)".into()),
    }
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
    let answers: Vec<Asked> = witnesses
        .iter()
        .map(|w| ask(&agent, w, &reg, &cp, &keys))
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
    if ok < answers.len() {
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
