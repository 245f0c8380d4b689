//! `cairn serve`: the registry as an HTTP service (crate cairn-service).

use cairn_service::Config;
use cairn_store::{Registry, StoreCode};
use serde_json::json;

use super::args::ServeArgs;
use super::error::{CliError, CliResult};
use super::{Ctx, Output};

/// Whether `[envelope] keys` name a key sealed in `reg` under a passphrase.
fn names_sealed_envelope_keys(config: &Config, reg: &Registry) -> CliResult<bool> {
    let Some(env) = &config.envelope else {
        return Ok(false);
    };
    let named: Vec<&str> = env
        .keys
        .iter()
        .filter_map(|k| k.sealed_kid_hex.as_deref())
        .map(str::trim)
        .collect();
    if named.is_empty() {
        return Ok(false);
    }
    Ok(reg.envelope_keys()?.iter().any(|k| {
        !k.insecure
            && named
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&cairn_core::encoding::hex_encode(&k.kid)))
    }))
}

/// Runs the service until SIGINT or SIGTERM.
pub fn run(ctx: &Ctx, args: &ServeArgs) -> CliResult<Output> {
    let config = match &args.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    let path = match &config.storage.path {
        Some(p) => p.clone(),
        None => ctx.store_path()?,
    };
    if !path.exists() {
        return Err(CliError::store(
            StoreCode::NotFound,
            format!(
                "no registry at {}: create one with `cairn init` (or set storage.path / --store)",
                path.display()
            ),
        ));
    }
    let reg = Registry::open(&path, None)?;
    ctx.unlock(&reg)?;
    let origin = reg.origin().to_owned();
    // The token and manifest endpoints sign with the registry's keys: sealed ones need their
    // passphrase, asked for once here (the key passphrase, else the registry's).
    let keys = reg.list_keys()?;
    let mut key_passphrase = ctx.secrets.for_keys(&keys)?;
    // Envelope keys named by `sealed_kid_hex` open with the key passphrase too.
    if key_passphrase.is_none() && names_sealed_envelope_keys(&config, &reg)? {
        key_passphrase = Some(ctx.secrets.for_envelope_keys()?);
    }
    cairn_service::run(config, reg, key_passphrase, |banner| eprintln!("{banner}"))?;
    Ok(Output::new(
        "cairn serve: stopped (in-flight requests finished, registry closed)",
        json!({"stopped": true, "origin": origin}),
    ))
}
