//! `cairn root ...`: the trust root verifiers pin.

use cairn_core::crypto::KeyId;
use cairn_core::trust::{Role, Thresholds, MAX_KEYS};
use cairn_store::{
    KeyInfo, KeyStatus, Passphrase, PrivatePart, Registry, StoredTrustRoot, TrustRootSpec,
};
use serde_json::json;

use super::args::{RootCmd, RootSpecArgs};
use super::error::{CliError, CliResult};
use super::util::{parse_duration, parse_pair, write_file};
use super::view::{trust_root_json, trust_root_text};
use super::{resolve_key, Access, Ctx, Output};

/// Roles that make a key worth listing by default (peers are authorised by tokens).
const LISTED_ROLES: [Role; 4] = [
    Role::Root,
    Role::Checkpoint,
    Role::TokenIssuer,
    Role::ManifestSigner,
];

fn listed_keys(reg: &Registry, a: &RootSpecArgs) -> CliResult<Vec<KeyInfo>> {
    let log = reg.log_key_id()?;
    let mut keys: Vec<KeyInfo> = if a.keys.is_empty() {
        reg.list_keys()?
            .into_iter()
            .filter(|k| {
                k.status == KeyStatus::Active && LISTED_ROLES.iter().any(|r| k.roles.contains(*r))
            })
            .collect()
    } else {
        a.keys
            .iter()
            .map(|s| resolve_key(reg, s))
            .collect::<CliResult<_>>()?
    };
    if !keys.iter().any(|k| k.key_id == log) {
        keys.push(reg.key(&log)?);
    }
    let mut seen: Vec<KeyId> = Vec::new();
    keys.retain(|k| {
        let fresh = !seen.contains(&k.key_id);
        seen.push(k.key_id);
        fresh
    });
    if keys.len() > MAX_KEYS {
        return Err(CliError::usage(format!(
            "{} keys qualify; a trust root lists at most {MAX_KEYS}: choose them with --key",
            keys.len()
        )));
    }
    if !keys.iter().any(|k| k.roles.contains(Role::Root)) {
        return Err(CliError::usage(
            "no listed key holds the root role: generate one (cairn key generate --label root --role root) or name one with --key",
        ));
    }
    Ok(keys)
}

fn thresholds(keys: &[KeyInfo], overrides: &[String]) -> CliResult<Thresholds> {
    let mut t = Thresholds::default();
    for role in Role::ALL {
        if keys.iter().any(|k| k.roles.contains(role)) {
            t = t.with(role, 1);
        }
    }
    for o in overrides {
        let (name, n) = parse_pair(o, "threshold")?;
        let role = Role::parse(name).map_err(|_| {
            CliError::usage(format!(
                "threshold {o:?}: unknown role (root, checkpoint, token-issuer, manifest-signer, peer)"
            ))
        })?;
        let n: u8 = n
            .parse()
            .map_err(|_| CliError::usage(format!("threshold {o:?}: not a number 0-255")))?;
        t = t.with(role, n);
    }
    Ok(t)
}

fn signers(
    ctx: &Ctx,
    reg: &Registry,
    a: &RootSpecArgs,
    listed: &[KeyInfo],
    current: Option<&StoredTrustRoot>,
) -> CliResult<Vec<(KeyId, Option<Passphrase>)>> {
    let chosen: Vec<KeyInfo> = if a.signers.is_empty() {
        let mut ids: Vec<KeyId> = listed
            .iter()
            .filter(|k| k.roles.contains(Role::Root))
            .map(|k| k.key_id)
            .collect();
        if let Some(cur) = current {
            for k in cur
                .root
                .keys
                .iter()
                .filter(|k| k.roles.contains(Role::Root))
            {
                if !ids.contains(&k.key_id()) {
                    ids.push(k.key_id());
                }
            }
        }
        // The keys that may sign the move (`signs_next_trust_root`: active root keys, and the
        // current version's root keys rotated since).
        let mut out = Vec::new();
        for id in ids {
            if let Ok(k) = reg.key(&id) {
                let usable = cairn_store::signs_next_trust_root(
                    current.map(|c| c.root.root()),
                    &id,
                    &k.status,
                );
                if usable && k.private != PrivatePart::None {
                    out.push(k);
                }
            }
        }
        out
    } else {
        a.signers
            .iter()
            .map(|s| resolve_key(reg, s))
            .collect::<CliResult<_>>()?
    };
    if chosen.is_empty() {
        return Err(CliError::usage(
            "no root key whose private half is in this registry can sign: name signers with --signer",
        ));
    }
    chosen
        .into_iter()
        .map(|k| Ok((k.key_id, ctx.secrets.for_key(&k)?)))
        .collect()
}

fn write_out(r: &StoredTrustRoot, out: Option<&std::path::Path>) -> CliResult<Option<String>> {
    match out {
        Some(path) => {
            write_file(path, format!("{}\n", r.envelope.to_json()).as_bytes())?;
            Ok(Some(path.display().to_string()))
        }
        None => Ok(None),
    }
}

fn made(r: &StoredTrustRoot, verb: &str, file: Option<String>) -> Output {
    let mut text = format!("{verb}\n{}", trust_root_text(r));
    match &file {
        Some(f) => text.push_str(&format!(
            "\nwrote the signed root to {f}: give it to verifiers to pin"
        )),
        None => text.push_str("\n(cairn root show --out root.json writes the file verifiers pin)"),
    }
    Output::new(
        text,
        json!({"trust_root": trust_root_json(r), "file": file}),
    )
}

pub fn run(ctx: &Ctx, cmd: RootCmd) -> CliResult<Output> {
    match cmd {
        RootCmd::Create(a) => {
            ctx.check_output(a.out.as_deref())?;
            let reg = ctx.open(Access::Write)?;
            let keys = listed_keys(&reg, &a)?;
            let spec = TrustRootSpec {
                keys: keys.iter().map(|k| k.key_id).collect(),
                thresholds: thresholds(&keys, &a.thresholds)?,
                expires_at: reg.now().saturating_add(parse_duration(&a.expires_in)?),
            };
            let signers = signers(ctx, &reg, &a, &keys, None)?;
            let refs: Vec<(KeyId, Option<&Passphrase>)> =
                signers.iter().map(|(id, p)| (*id, p.as_ref())).collect();
            let r = reg.create_trust_root(&spec, &refs)?;
            let file = write_out(&r, a.out.as_deref())?;
            Ok(made(&r, "created trust root version 1", file))
        }
        RootCmd::Rotate(a) => {
            ctx.check_output(a.out.as_deref())?;
            let reg = ctx.open(Access::Write)?;
            let current = reg.trust_root()?;
            let keys = listed_keys(&reg, &a)?;
            let spec = TrustRootSpec {
                keys: keys.iter().map(|k| k.key_id).collect(),
                thresholds: thresholds(&keys, &a.thresholds)?,
                expires_at: reg.now().saturating_add(parse_duration(&a.expires_in)?),
            };
            let signers = signers(ctx, &reg, &a, &keys, Some(&current))?;
            let refs: Vec<(KeyId, Option<&Passphrase>)> =
                signers.iter().map(|(id, p)| (*id, p.as_ref())).collect();
            let r = reg.update_trust_root(&spec, &refs)?;
            let file = write_out(&r, a.out.as_deref())?;
            Ok(made(
                &r,
                &format!(
                    "rotated the trust root: version {} -> {}",
                    current.root.root_version, r.root.root_version
                ),
                file,
            ))
        }
        RootCmd::Show { version, out } => {
            let reg = ctx.open(Access::Read)?;
            let r = match version {
                None => reg.trust_root()?,
                Some(v) => reg
                    .trust_roots()?
                    .into_iter()
                    .find(|r| r.root.root_version == v)
                    .ok_or_else(|| {
                        CliError::store(
                            cairn_store::StoreCode::NotFound,
                            format!("no trust-root version {v}"),
                        )
                    })?,
            };
            let file = write_out(&r, out.as_deref())?;
            let mut text = trust_root_text(&r);
            if let Some(f) = &file {
                text.push_str(&format!("\nwrote the signed root to {f}"));
            }
            Ok(Output::new(
                text,
                json!({"trust_root": trust_root_json(&r), "file": file}),
            ))
        }
    }
}
