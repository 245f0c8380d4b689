//! `cairn init` and `cairn status`.

use cairn_core::encoding::hex_encode;
use cairn_store::{CreateOptions, PrivatePart, Protection, Registry, StoreCode, SCHEMA_VERSION};
use serde_json::json;

use super::args::InitArgs;
use super::error::{CliError, CliResult};
use super::util::fmt_time;
use super::{Access, Ctx, Output};

pub fn init(ctx: &Ctx, a: &InitArgs) -> CliResult<Output> {
    let path = ctx.store_path()?;
    if path.exists()
        && std::fs::metadata(&path)
            .map(|m| m.len() > 0)
            .unwrap_or(true)
    {
        return Err(CliError::store(
            StoreCode::AlreadyExists,
            format!(
                "{} already exists; `cairn status` shows what it holds (pass --store PATH for another file)",
                path.display()
            ),
        ));
    }
    let protection = ctx.secrets.new_registry_protection()?;
    let insecure = matches!(protection, Protection::Insecure);
    let mut opts = CreateOptions::new(&a.origin, protection);
    opts.log_algorithm = a.log_algorithm;
    let mut warnings: Vec<String> = Vec::new();
    warnings.extend(cairn_core::checkpoint::log_key_shortfall(a.log_algorithm));
    for w in &warnings {
        ctx.warn(w);
    }
    let reg = Registry::create(&path, opts)?;
    let log = reg.key(&reg.log_key_id()?)?;
    let cp = reg.latest_checkpoint()?;
    let mut text = format!(
        "created registry {}\norigin   {}\nlog key  {} ({})\ncheckpoint size {}",
        path.display(),
        reg.origin(),
        log.key_id,
        log.public_key.algorithm(),
        cp.size
    );
    if insecure {
        text.push_str("\nWARNING: the log key is stored WITHOUT passphrase protection (insecure mode: tests and demos only)");
    }
    text.push_str(
        "\nnext: cairn key generate --label ... --role ..., then cairn root create --out root.json",
    );
    Ok(Output::new(
        text,
        json!({
            "path": path.display().to_string(),
            "origin": reg.origin(),
            "log_key": super::view::key_json(&log, Some(&log.key_id)),
            "insecure": insecure,
            "checkpoint": super::view::checkpoint_json(&cp),
            "warnings": warnings,
        }),
    ))
}

/// `cairn check`: the page-by-page check, then the checks of an open.
pub fn check(ctx: &Ctx) -> CliResult<Output> {
    let mut reg = ctx.open(Access::MayWrite)?;
    let head = reg.check()?;
    Ok(Output::new(
        format!(
            "check passed: every page of {} is intact; signed head: {} entries, root {}",
            reg.path().display(),
            head.size,
            hex_encode(&head.root)
        ),
        json!({
            "path": reg.path().display().to_string(),
            "entries": head.size,
            "root": hex_encode(&head.root),
        }),
    ))
}

/// `cairn anchor reset`: records the file's current signed head in its rollback anchor.
pub fn anchor_reset(ctx: &Ctx) -> CliResult<Output> {
    let path = ctx.store_path()?;
    // What the anchor recorded, if it can be read: a damaged anchor is what a reset repairs
    // (its error names this command), so it must not stop it.
    let before = cairn_store::Anchor::read_beside(&path).ok().flatten();
    let head = Registry::reset_anchor(&path)?;
    let anchor = cairn_store::anchor_path(&path);
    Ok(Output::new(
        format!(
            "anchor {} now records {} entries, root {}{}",
            anchor.display(),
            head.size,
            hex_encode(&head.root),
            before
                .as_ref()
                .map(|a| format!(" (it recorded {} entries)", a.size))
                .unwrap_or_default()
        ),
        json!({
            "anchor": anchor.display().to_string(),
            "entries": head.size,
            "root": hex_encode(&head.root),
            "previous_entries": before.map(|a| a.size),
        }),
    ))
}

/// `cairn migrate`: upgrades an older schema in place, keeping a copy.
pub fn migrate(ctx: &Ctx) -> CliResult<Output> {
    let path = ctx.store_path()?;
    // Only a migration that signs needs the passphrase; a current file needs nothing.
    let needs = matches!(
        Registry::open_read_only(&path).map_err(|e| e.code()),
        Err(StoreCode::MigrationRequired)
    );
    let pass = if needs {
        Some(ctx.secrets.registry("to migrate")?)
    } else {
        None
    };
    let m = Registry::migrate(&path, pass.as_ref())?;
    let backup = m.backup.as_ref().map(|b| b.display().to_string());
    let text = match &backup {
        None => format!(
            "{} is already at schema {} ({} entries): nothing to do",
            path.display(),
            m.to,
            m.entries
        ),
        Some(b) => format!(
            "migrated {} from schema {} to {}: {} entries verified and rewritten, audit passed\nthe original is kept at {b}",
            path.display(),
            m.from,
            m.to,
            m.entries
        ),
    };
    Ok(Output::new(
        text,
        json!({"path": path.display().to_string(), "from": m.from, "to": m.to, "entries": m.entries, "backup": backup}),
    ))
}

pub fn status(ctx: &Ctx) -> CliResult<Output> {
    let reg = ctx.open(Access::Read)?;
    let log_id = reg.log_key_id()?;
    let log = reg.key(&log_id)?;
    let size = reg.tree_size()?;
    let head = reg.head()?;
    let cp = reg.latest_checkpoint()?;
    let keys = reg.list_keys()?;
    let nodes = reg.list_nodes()?.len();
    let tokens = reg.list_tokens()?;
    let manifests = reg.list_manifests()?;
    let root = match reg.trust_root() {
        Ok(r) => Some(r),
        Err(e) if e.code() == StoreCode::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let active_keys = keys
        .iter()
        .filter(|k| k.status == cairn_store::KeyStatus::Active)
        .count();
    let protection = match log.private {
        PrivatePart::Sealed(_) => "sealed",
        PrivatePart::Insecure => "insecure",
        PrivatePart::None => "none",
    };
    let mut text = format!(
        "registry   {}\norigin     {}\nschema     {}\nlog key    {} ({}, {})\nentries    {} (newest at {})\ncheckpoint size {} root {}\nkeys       {} ({} active)\nnodes      {}\ntokens     {}\nmanifests  {}",
        reg.path().display(),
        reg.origin(),
        SCHEMA_VERSION,
        log_id,
        log.public_key.algorithm(),
        protection,
        size,
        fmt_time(head.last_time),
        cp.size,
        hex_encode(&cp.root),
        keys.len(),
        active_keys,
        nodes,
        tokens.len(),
        manifests.len()
    );
    match &root {
        Some(r) => text.push_str(&format!(
            "\ntrust root v{} (expires {})",
            r.root.root_version,
            fmt_time(r.root.expires_at)
        )),
        None => text.push_str("\ntrust root none yet (cairn root create)"),
    }
    if cp.size < size {
        text.push_str(&format!(
            "\n{} entries are newer than the newest checkpoint (cairn checkpoint create)",
            size - cp.size
        ));
    }
    if let Some(r) = &root {
        if !r.root.keys.iter().any(|k| k.key_id() == log_id) {
            text.push_str(
                "\nthe trust root does not list the current log key: run `cairn root rotate`",
            );
        }
    }
    Ok(Output::new(
        text,
        json!({
            "path": reg.path().display().to_string(),
            "origin": reg.origin(),
            "schema": SCHEMA_VERSION,
            "log_key": {"key_id": log_id.to_hex(), "algorithm": log.public_key.algorithm().name(), "private": protection},
            "entries": size,
            "head": {"next_seq": head.next_seq, "hash": hex_encode(&head.head_hash), "time": head.last_time},
            "checkpoint": super::view::checkpoint_json(&cp),
            "keys": keys.len(),
            "active_keys": active_keys,
            "nodes": nodes,
            "tokens": tokens.len(),
            "manifests": manifests.len(),
            "trust_root": root.as_ref().map(|r| json!({
                "version": r.root.root_version,
                "root_id": hex_encode(&r.root.id()),
                "expires_at": r.root.expires_at,
                "lists_log_key": r.root.keys.iter().any(|k| k.key_id() == log_id),
            })),
        }),
    ))
}
