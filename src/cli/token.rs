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
/// Largest request body `cairn token proof` signs (the service's own limit is at most 64 MiB).
const MAX_PROOF_BODY: usize = 64 << 20;
/// Largest private key file read (an ML-DSA-65 PKCS#8 PEM is about 5.5 KB).
const MAX_KEY_FILE: usize = 64 * 1024;

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
            ctx.check_output(out.as_deref())?;
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
        TokenCmd::Proof {
            token,
            file,
            holder,
            key_file,
            method,
            path,
            body,
            time,
            nonce,
        } => proof(
            ctx,
            ProofRequest {
                token,
                file,
                holder,
                key_file,
                method,
                path,
                body,
                time,
                nonce,
            },
        ),
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

/// What `cairn token proof` signs for.
struct ProofRequest {
    token: Option<String>,
    file: Option<std::path::PathBuf>,
    holder: Option<String>,
    key_file: Option<std::path::PathBuf>,
    method: String,
    path: String,
    body: Option<std::path::PathBuf>,
    time: Option<u64>,
    nonce: Option<String>,
}

/// A nonce unique to this run: the SHA-256 of the time in nanoseconds, the process id and
/// what is signed (a nonce must be unique, not secret).
fn fresh_nonce(token_id: &[u8; 32], body: &[u8]) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let d = cairn_core::encoding::sha256(&[
        &nanos.to_le_bytes(),
        &std::process::id().to_le_bytes(),
        token_id,
        body,
    ]);
    hex_encode(&d[..16])
}

fn proof(ctx: &Ctx, req: ProofRequest) -> CliResult<Output> {
    use super::error::CliError;
    let method = req.method.to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(CliError::usage(format!(
            "--method {:?}: give an HTTP method such as POST or DELETE",
            req.method
        )));
    }
    if !req.path.starts_with('/') {
        return Err(CliError::usage(format!(
            "--path {:?}: give the path and query as sent, starting with /",
            req.path
        )));
    }
    if let Some(n) = &req.nonce {
        let ok = cairn_service::auth::NONCE_LEN.contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(CliError::usage(
                "--nonce: 16 to 64 characters of A-Z a-z 0-9 - _",
            ));
        }
    }
    // The registry is opened only when the token or the key comes from it.
    let reg = match (&req.file, &req.key_file) {
        (Some(_), Some(_)) => None,
        _ => Some(ctx.open(Access::Read)?),
    };
    let env = match (&req.token, &req.file, &reg) {
        (_, Some(f), _) => Envelope::parse(&read_limited(f, MAX_TOKEN_FILE, "token file")?)?,
        (Some(t), None, Some(reg)) => resolve_token(reg, t)?.envelope,
        _ => return Err(CliError::usage("give a token id or --file FILE")),
    };
    let claims = cairn_core::token::TokenClaims::from_payload(&env.payload)?;
    let (sk, label) = match (&req.key_file, &reg) {
        (Some(f), _) => {
            let pem = zeroize::Zeroizing::new(read_limited(f, MAX_KEY_FILE, "private key file")?);
            let text = std::str::from_utf8(&pem).map_err(|_| {
                CliError::store(
                    cairn_store::StoreCode::Core(cairn_core::ErrorCode::Malformed),
                    format!("{}: not a PEM file", f.display()),
                )
            })?;
            let sk = cairn_core::crypto::pem::signing_key_from_pem(text)?;
            (sk, f.display().to_string())
        }
        (None, Some(reg)) => {
            let key = match &req.holder {
                Some(h) => resolve_key(reg, h)?,
                None => reg.key(&claims.holder.key_id()).map_err(|e| {
                    CliError::store(
                        e.code(),
                        format!(
                            "the token's holder key {} is not in this registry ({}): give --holder or --key-file",
                            claims.holder.key_id(),
                            e.detail()
                        ),
                    )
                })?,
            };
            let pass = ctx.secrets.for_key(&key)?;
            (reg.signing_key(&key.key_id, pass.as_ref())?, key.label)
        }
        (None, None) => return Err(CliError::usage("give --holder KEY or --key-file FILE")),
    };
    if sk.public_key() != &claims.holder {
        return Err(CliError::store(
            cairn_store::StoreCode::Core(cairn_core::ErrorCode::Unauthorized),
            format!(
                "key {label:?} is not the token's holder ({}): the service would refuse its proof",
                claims.holder.key_id()
            ),
        ));
    }
    let body = match req.body.as_deref() {
        None => Vec::new(),
        Some(p) if p.as_os_str() == "-" => super::util::read_stream_limited(
            std::io::stdin().lock(),
            MAX_PROOF_BODY,
            "request body",
        )?,
        Some(p) => read_limited(p, MAX_PROOF_BODY, "request body")?,
    };
    let id = env.id();
    let time = req.time.unwrap_or_else(now);
    let nonce = req.nonce.unwrap_or_else(|| fresh_nonce(&id, &body));
    let value =
        cairn_service::auth::sign_request(&sk, &id, &method, &req.path, &body, time, &nonce)?;
    Ok(Output::new(
        value.clone(),
        json!({
            "header": "Cairn-Proof",
            "value": value,
            "token": hex_encode(&id),
            "holder": claims.holder.key_id().to_hex(),
            "method": method,
            "path": req.path,
            "body_sha256": hex_encode(&cairn_core::encoding::sha256(&[&body])),
            "time": time,
            "nonce": nonce,
        }),
    ))
}
