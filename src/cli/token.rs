//! `cairn token ...`.

use cairn_core::dsse::Envelope;
use cairn_core::encoding::hex_encode;
use cairn_core::token::VerifyOptions;
use cairn_store::{TokenInfo, TokenRequest, Unrecorded};
use serde_json::json;

use super::args::TokenCmd;
use super::error::CliResult;
use super::util::{
    fmt_time, now, parse_constraint, parse_duration, parse_time, read_limited, read_public_key,
    write_file,
};
use super::view::{token_json, token_line};
use super::{resolve_key, resolve_token, Access, Ctx, Output};

/// Largest token file read.
const MAX_TOKEN_FILE: usize = 256 * 1024;

fn write_token(t: &TokenInfo, out: Option<&std::path::Path>) -> CliResult<Option<String>> {
    match out {
        Some(p) => {
            write_file(p, format!("{}\n", t.envelope.to_json()).as_bytes())?;
            Ok(Some(p.display().to_string()))
        }
        None => Ok(None),
    }
}

fn token_text(t: &TokenInfo) -> String {
    let c = &t.claims;
    let mut s = format!(
        "token     {}\nissuer    {}\nholder    {}\naudience  {}\ngrants    {}\nvalid     {} .. {}\nentry     {}",
        hex_encode(&t.id),
        c.issuer,
        c.holder.key_id(),
        c.audience,
        c.capabilities.iter().cloned().collect::<Vec<_>>().join(", "),
        fmt_time(c.not_before),
        fmt_time(c.expires_at),
        t.seq
    );
    for (name, v) in &c.constraints {
        s.push_str(&format!("\nconstraint {name} {}", v.to_json()));
    }
    if let Some(p) = &c.parent {
        s.push_str(&format!("\nparent    {}", hex_encode(p)));
    }
    if let Some(r) = &t.revoked {
        s.push_str(&format!(
            "\nREVOKED   at entry {} by {}: {}",
            r.seq, r.revoker, r.reason
        ));
    }
    s
}

pub fn run(ctx: &Ctx, cmd: TokenCmd) -> CliResult<Output> {
    match cmd {
        TokenCmd::Issue {
            issuer,
            holder,
            holder_key,
            audience,
            capabilities,
            constraints,
            ttl,
            parent,
            out,
        } => {
            let reg = ctx.open(Access::Write)?;
            let issuer = resolve_key(&reg, &issuer)?;
            let holder = match (&holder, &holder_key) {
                (_, Some(f)) => read_public_key(f)?,
                (Some(h), None) => resolve_key(&reg, h)?.public_key,
                (None, None) => {
                    return Err(super::error::CliError::usage(
                        "give --holder KEY or --holder-key FILE",
                    ))
                }
            };
            let parent = parent
                .as_deref()
                .map(|p| resolve_token(&reg, p))
                .transpose()?;
            let ttl = match (&ttl, &parent) {
                (Some(t), _) => Some(parse_duration(t)?),
                (None, None) => Some(3600),
                (None, Some(_)) => None,
            };
            let request = TokenRequest {
                holder,
                audience,
                capabilities,
                constraints: constraints
                    .iter()
                    .map(|c| parse_constraint(c))
                    .collect::<CliResult<_>>()?,
                ttl,
                parent: parent.as_ref().map(|p| p.id),
            };
            let pass = ctx.secrets.for_key(&issuer)?;
            let t = reg.issue_token(&issuer.key_id, pass.as_ref(), &request)?;
            let file = write_token(&t, out.as_deref())?;
            let mut text = format!("issued token at entry {}\n{}", t.seq, token_text(&t));
            match &file {
                Some(f) => text.push_str(&format!("\nwrote the token to {f}")),
                None => text.push_str(&format!("\n{}", t.envelope.to_json())),
            }
            Ok(Output::new(
                text,
                json!({"token": token_json(&t), "file": file}),
            ))
        }
        TokenCmd::Verify {
            token,
            file,
            audience,
            capability,
            at,
            allow_unrecorded,
        } => {
            let reg = ctx.open(Access::Read)?;
            let env = match (&token, &file) {
                (_, Some(f)) => Envelope::parse(&read_limited(f, MAX_TOKEN_FILE, "token file")?)?,
                (Some(t), None) => resolve_token(&reg, t)?.envelope,
                (None, None) => {
                    return Err(super::error::CliError::usage(
                        "give a token id or --file FILE",
                    ))
                }
            };
            let at = at
                .as_deref()
                .map(parse_time)
                .transpose()?
                .unwrap_or_else(now);
            let opts = VerifyOptions {
                audience: audience.as_deref(),
                capability: capability.as_deref(),
            };
            let unrecorded = if allow_unrecorded {
                Unrecorded::AllowInKeyWindow
            } else {
                Unrecorded::Refuse
            };
            let v = reg.verify_token_with(&env, at, &opts, unrecorded)?;
            Ok(Output::new(
                format!(
                    "token {} is valid at {}\nissuer {}  audience {}  grants {}  chain depth {}",
                    hex_encode(&v.id),
                    fmt_time(at),
                    v.issuer.key_id(),
                    v.claims.audience,
                    v.claims
                        .capabilities
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    v.chain_ids.len()
                ),
                json!({"valid": true, "at": at, "token": v.to_json()}),
            ))
        }
        TokenCmd::Revoke {
            token,
            reason,
            revoker,
        } => {
            let reg = ctx.open(Access::Write)?;
            let t = resolve_token(&reg, &token)?;
            let by = resolve_key(&reg, &revoker)?;
            let pass = ctx.secrets.for_key(&by)?;
            let seq = reg.revoke_token(&t.id, &reason, &by.key_id, pass.as_ref())?;
            Ok(Output::new(
                format!("revoked token {} at entry {seq}", hex_encode(&t.id)),
                json!({"id": hex_encode(&t.id), "seq": seq, "revoker": by.key_id.to_hex(), "reason": reason}),
            ))
        }
        TokenCmd::List => {
            let reg = ctx.open(Access::Read)?;
            let tokens = reg.list_tokens()?;
            let text = if tokens.is_empty() {
                "no tokens".to_owned()
            } else {
                tokens.iter().map(token_line).collect::<Vec<_>>().join("\n")
            };
            Ok(Output::new(
                text,
                json!({"tokens": tokens.iter().map(token_json).collect::<Vec<_>>()}),
            ))
        }
        TokenCmd::Show { token, out } => {
            let reg = ctx.open(Access::Read)?;
            let t = resolve_token(&reg, &token)?;
            let file = write_token(&t, out.as_deref())?;
            let mut text = token_text(&t);
            match &file {
                Some(f) => text.push_str(&format!("\nwrote the token to {f}")),
                None => text.push_str(&format!("\n{}", t.envelope.to_json())),
            }
            Ok(Output::new(
                text,
                json!({"token": token_json(&t), "file": file}),
            ))
        }
    }
}
