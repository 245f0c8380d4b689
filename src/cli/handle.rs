//! `cairn handle register|resolve|check`: the client side of the handle registry a cairn
//! service runs with `[envelope]` (docs/SERVICE.md, "Handle registry"); `cairn handle key
//! generate|list`: envelope keys sealed in the local registry for such a service.
//!
//! The cryptography is cairn-core's: [`normalise`] before anything is sent, [`seal`] of the
//! identity to the service's envelope key (purpose `register`, aad = the normalised handle's
//! bytes), [`open`] of a resolution with a fresh ephemeral key (purpose `resolve`, same aad),
//! [`solve`] of a proof-of-work challenge when the service asks for one (`403 pow_required`).
//! The service's refusals keep their stable code (`{"error":{"code","message","details"}}`).

use std::path::Path;
use std::time::Duration;

use cairn_core::encoding::{b64_decode, b64_encode, hex_decode, hex_encode};
use cairn_core::handle::{
    normalise, open, seal, solve, Challenge, EnvelopePublicKey, EnvelopeSecretKey, Handle, Kid,
    Solution, Suite, SEAL_SEED_LEN,
};
use cairn_core::ErrorCode;
use rand_core::{OsRng, RngCore};
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use super::args::{HandleCmd, HandleKeyCmd, PowOpts, ServerOpts};
use super::error::{CliError, CliResult};
use super::util::{fmt_time, read_limited, read_stream_limited};
use super::{Access, Ctx, Output};

/// Envelope purpose of a registration (client → service).
const PURPOSE_REGISTER: &[u8] = b"register";
/// Envelope purpose of a resolution (service → requester).
const PURPOSE_RESOLVE: &[u8] = b"resolve";
/// Largest identity the service accepts, in bytes.
const MAX_IDENTITY_LEN: usize = 16 * 1024;
/// Largest answer read from the service (a resolution of the largest identity with 16
/// devices is well below).
const MAX_ANSWER_LEN: u64 = 1 << 20;
/// The header carrying a proof-of-work solution.
const POW_HEADER: &str = "X-Pow-Solution";

/// A cairn service's handle endpoints.
struct Client {
    base: String,
    agent: ureq::Agent,
}

/// One answer: its status and its JSON body (`Null` when the body is not JSON).
struct Reply {
    status: u16,
    body: Value,
    what: String,
}

impl Client {
    fn new(opts: &ServerOpts) -> CliResult<Client> {
        let s = opts.server.trim();
        let rest = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("https://"));
        if rest.is_none_or(|r| r.trim_end_matches('/').is_empty()) {
            return Err(CliError::usage(format!(
                "--server {s:?}: give the service's http:// or https:// URL, e.g. http://127.0.0.1:8080"
            )));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(opts.timeout.max(1))))
            .build()
            .into();
        Ok(Client {
            base: s.trim_end_matches('/').to_owned(),
            agent,
        })
    }

    /// `GET path` or `POST path` with a JSON body, with a proof-of-work solution if given.
    fn send(&self, path: &str, body: Option<&Value>, pow: Option<&str>) -> CliResult<Reply> {
        let url = format!("{}{path}", self.base);
        let what = format!("{} {url}", if body.is_some() { "POST" } else { "GET" });
        let net = |e: ureq::Error| {
            let code = match e {
                ureq::Error::BodyExceedsLimit(_) => ErrorCode::TooLarge.as_str(),
                _ => "io",
            };
            CliError::service(code, format!("{what}: {e}"))
        };
        let mut resp = match body {
            Some(b) => {
                let mut req = self
                    .agent
                    .post(&url)
                    .header("content-type", "application/json");
                if let Some(p) = pow {
                    req = req.header(POW_HEADER, p);
                }
                req.send(b.to_string().as_bytes()).map_err(net)?
            }
            None => {
                let mut req = self.agent.get(&url);
                if let Some(p) = pow {
                    req = req.header(POW_HEADER, p);
                }
                req.call().map_err(net)?
            }
        };
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_LEN)
            .read_to_vec()
            .map_err(net)?;
        Ok(Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            what,
        })
    }
}

impl Reply {
    /// The service's error code, if the answer is a cairn error document.
    fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    /// The refusal as a CLI error with the service's code (its exit status by the code, as
    /// the table in docs/CLI.md says).
    fn error(&self) -> CliError {
        let Some(code) = self.code() else {
            return CliError::service(
                ErrorCode::Malformed.as_str(),
                format!(
                    "{}: HTTP {} without a cairn error document (is this a cairn service?)",
                    self.what, self.status
                ),
            );
        };
        let e = &self.body["error"];
        let mut message = format!(
            "{}: {} {}",
            self.what,
            self.status,
            e["message"].as_str().unwrap_or("(no message)")
        );
        if let Some(s) = e["details"]["retry_after_seconds"].as_u64() {
            message.push_str(&format!(" (retry after {s} s)"));
        }
        let mut err = CliError::service(code, message);
        err.field = e["details"]["field"].as_str().map(str::to_owned);
        err
    }

    /// The body of a `200`, or the refusal.
    fn ok(self) -> CliResult<Value> {
        if self.status == 200 {
            Ok(self.body)
        } else {
            Err(self.error())
        }
    }
}

/// A proof of work this client did.
struct PowDone {
    difficulty: u8,
    counter: u64,
}

impl PowDone {
    fn json(p: Option<&PowDone>) -> Value {
        p.map_or(
            Value::Null,
            |p| json!({"difficulty": p.difficulty, "counter": p.counter}),
        )
    }

    fn text(p: Option<&PowDone>) -> String {
        p.map_or(String::new(), |p| {
            format!(
                "\nsolved a proof of work of {} bits ({} hashes)",
                p.difficulty,
                p.counter + 1
            )
        })
    }
}

/// Sends a request; when the service answers `403 pow_required`, fetches a challenge, solves
/// it and sends the request again with the solution.
fn with_pow(
    c: &Client,
    path: &str,
    body: Option<&Value>,
    opts: &PowOpts,
) -> CliResult<(Value, Option<PowDone>)> {
    let first = c.send(path, body, None)?;
    if !(first.status == 403 && first.code() == Some("pow_required")) {
        return Ok((first.ok()?, None));
    }
    let ch = c.send("/pow/challenge", None, None)?.ok()?;
    let text = ch["challenge"].as_str().ok_or_else(|| {
        CliError::core(
            ErrorCode::Malformed,
            "GET /pow/challenge: the answer has no \"challenge\" string",
        )
    })?;
    let challenge = Challenge::decode(text)
        .map_err(|e| CliError::from(e).context("GET /pow/challenge: the challenge"))?;
    let bits = challenge.difficulty();
    if bits > opts.max_pow_difficulty {
        return Err(CliError::service(
            "pow_required",
            format!(
                "the service asks for a proof of work of {bits} bits; --max-pow-difficulty allows {}",
                opts.max_pow_difficulty
            ),
        ));
    }
    // About 2^bits tries are needed; 2^(bits+8) fail to find one with probability e^-256.
    let counter = solve(&challenge, 1u64 << (u32::from(bits) + 8).min(48)).ok_or_else(|| {
        CliError::core(
            ErrorCode::ProofInvalid,
            format!("no solution found for the service's {bits}-bit challenge"),
        )
    })?;
    let solution = Solution { challenge, counter }.encode();
    let answer = c.send(path, body, Some(&solution))?.ok()?;
    Ok((
        answer,
        Some(PowDone {
            difficulty: bits,
            counter,
        }),
    ))
}

/// `N` bytes from the operating system's random source.
fn random<const N: usize>() -> Zeroizing<[u8; N]> {
    let mut b = Zeroizing::new([0u8; N]);
    OsRng.fill_bytes(b.as_mut_slice());
    b
}

fn handle_arg(s: &str) -> CliResult<Handle> {
    normalise(s).map_err(|e| {
        let mut err = CliError::from(e).context(&format!("handle {s:?}"));
        err.field = Some("handle".into());
        err
    })
}

/// Reads the identity: a JSON object whose `handle` member names `handle` (added when
/// missing); returns its compact serialisation.
fn read_identity(path: &Path, handle: &Handle) -> CliResult<(Vec<u8>, Value)> {
    let bytes = if path == Path::new("-") {
        read_stream_limited(std::io::stdin().lock(), MAX_IDENTITY_LEN, "the identity")?
    } else {
        read_limited(path, MAX_IDENTITY_LEN, "the identity")?
    };
    let bad = |msg: String, field: &str| {
        let mut e = CliError::core(ErrorCode::Malformed, msg);
        e.field = Some(field.into());
        e
    };
    let mut map: Map<String, Value> = match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(bad("the identity must be a JSON object".into(), "identity")),
        Err(e) => return Err(bad(format!("the identity is not JSON: {e}"), "identity")),
    };
    match map.get("handle") {
        None => {
            map.insert("handle".into(), Value::String(handle.as_str().to_owned()));
        }
        Some(Value::String(h)) => match normalise(h) {
            Ok(n) if n == *handle => {}
            _ => {
                return Err(bad(
                    format!(
                        "the identity names the handle {h:?}, not {:?}",
                        handle.as_str()
                    ),
                    "identity.handle",
                ))
            }
        },
        Some(_) => {
            return Err(bad(
                "the identity's \"handle\" member must be a string".into(),
                "identity.handle",
            ))
        }
    }
    let value = Value::Object(map);
    let compact = serde_json::to_vec(&value)
        .map_err(|e| CliError::core(ErrorCode::Malformed, format!("the identity: {e}")))?;
    if compact.len() > MAX_IDENTITY_LEN {
        return Err(CliError::core(
            ErrorCode::TooLarge,
            format!("the identity is larger than {MAX_IDENTITY_LEN} bytes"),
        ));
    }
    Ok((compact, value))
}

/// The service's active envelope key of `suite` (`GET /envelope_pubkey`, with `?suite=xwing`
/// for X-Wing; seed 003's services know only X25519 and the query-less form).
fn envelope_key(c: &Client, suite: Suite) -> CliResult<EnvelopePublicKey> {
    let path = match suite {
        Suite::X25519ChaCha20Poly1305 => "/envelope_pubkey".to_owned(),
        other => format!("/envelope_pubkey?suite={}", other.short_name()),
    };
    let k = c.send(&path, None, None)?.ok()?;
    if k["suite"].as_str() != Some(suite.name()) {
        return Err(CliError::core(
            ErrorCode::UnsupportedAlgorithm,
            format!(
                "GET /envelope_pubkey: the service's key is of suite {}, this client seals with {}",
                k["suite"],
                suite.name()
            ),
        ));
    }
    let parse = || -> cairn_core::Result<EnvelopePublicKey> {
        let kid = Kid::from_hex(k["kid_hex"].as_str().unwrap_or_default())?;
        let hex = k["public_key_hex"]
            .as_str()
            .or_else(|| k["x25519_public_key_hex"].as_str())
            .unwrap_or_default();
        EnvelopePublicKey::from_bytes(suite, Some(kid), &hex_decode(hex)?)
    };
    parse().map_err(|e| CliError::from(e).context("GET /envelope_pubkey"))
}

fn register(opts: &ServerOpts, handle: &str, identity: &Path, suite: Suite) -> CliResult<Output> {
    let c = Client::new(opts)?;
    let handle = handle_arg(handle)?;
    let (plaintext, _) = read_identity(identity, &handle)?;
    let key = envelope_key(&c, suite)?;
    let envelope = seal(
        &key,
        PURPOSE_REGISTER,
        handle.as_bytes(),
        &plaintext,
        &random::<SEAL_SEED_LEN>(),
    )?;
    let body = json!({"handle": handle.as_str(), "envelope": b64_encode(&envelope)});
    let reply = c.send("/register", Some(&body), None)?;
    if reply.status == 409 {
        // The one refusal that is an answer about the handle, not about the request.
        let mut e = reply.error();
        e.exit = super::error::EXIT_FAILED;
        e.message = format!(
            "{:?} is already registered to another identity at {} (409 from POST /register: \
             the service never overwrites a registration)",
            handle.as_str(),
            c.base
        );
        return Err(e);
    }
    let answer = reply.ok()?;
    let status = answer["status"].as_str().unwrap_or_default().to_owned();
    let seq = answer["seq"].as_u64();
    let text = match (status.as_str(), seq) {
        ("registered", Some(s)) => format!(
            "{}: registered at {} (ledger entry {s}; identity sealed to envelope key {})",
            handle,
            c.base,
            key.kid()
        ),
        ("unchanged", _) => format!(
            "{}: unchanged (already registered to this identity at {})",
            handle, c.base
        ),
        _ => {
            return Err(CliError::core(
                ErrorCode::Malformed,
                format!("POST {}/register: unexpected answer {answer}", c.base),
            ))
        }
    };
    Ok(Output::new(
        text,
        json!({
            "handle": handle.as_str(),
            "status": status,
            "seq": seq,
            "server": c.base,
            "kid": key.kid().to_hex(),
            "suite": suite.name(),
            "identity_bytes": plaintext.len(),
        }),
    ))
}

fn resolve(opts: &ServerOpts, pow: &PowOpts, handle: &str, suite: Suite) -> CliResult<Output> {
    let c = Client::new(opts)?;
    let handle = handle_arg(handle)?;
    let eph = EnvelopeSecretKey::from_bytes(suite, None, &*random::<32>())?;
    let body = json!({
        "handle": handle.as_str(),
        "requester_ephemeral_pubkey_hex": hex_encode(eph.public_key().as_bytes()),
    });
    let (answer, done) = with_pow(&c, "/resolve", Some(&body), pow)?;
    let sealed = answer["envelope"].as_str().ok_or_else(|| {
        CliError::core(
            ErrorCode::Malformed,
            "POST /resolve: the answer has no \"envelope\" string",
        )
    })?;
    let sealed =
        b64_decode(sealed).map_err(|e| CliError::from(e).context("POST /resolve: the envelope"))?;
    let plain = open(&eph, PURPOSE_RESOLVE, handle.as_bytes(), &sealed)
        .map_err(|e| CliError::from(e).context("POST /resolve: the answer does not open"))?;
    let opened: Value = std::str::from_utf8(&plain)
        .ok()
        .and_then(|t| serde_json::from_str(t.trim_end_matches(' ')).ok())
        .filter(Value::is_object)
        .ok_or_else(|| {
            CliError::core(
                ErrorCode::Malformed,
                "POST /resolve: the opened answer is not a JSON object",
            )
        })?;
    let found = opened["found"].as_bool() == Some(true);
    let devices = opened["devices"].as_array().cloned().unwrap_or_default();
    let mut text = if found {
        format!(
            "{handle}: found\nidentity: {}\ndevices present: {}",
            opened["identity"],
            devices.len()
        )
    } else {
        format!("{handle}: not found")
    };
    for d in &devices {
        let t = |k: &str| d[k].as_u64().map(fmt_time).unwrap_or_else(|| "?".into());
        text.push_str(&format!(
            "\n  {}  {}  last seen {}, present until {}",
            d["device_id"].as_str().unwrap_or("?"),
            d["endpoint"].as_str().unwrap_or("(no endpoint)"),
            t("last_seen"),
            t("expires_at")
        ));
    }
    text.push_str(&PowDone::text(done.as_ref()));
    Ok(Output::new(
        text,
        json!({
            "handle": handle.as_str(),
            "found": found,
            "identity": opened["identity"],
            "devices": devices,
            "server": c.base,
            "pow": PowDone::json(done.as_ref()),
        }),
    ))
}

fn check(opts: &ServerOpts, pow: &PowOpts, handle: &str) -> CliResult<Output> {
    let c = Client::new(opts)?;
    let handle = handle_arg(handle)?;
    // The normalised alphabet (a-z 0-9 . _ -) needs no escaping in a path.
    let (answer, done) = with_pow(&c, &format!("/check_user/{handle}"), None, pow)?;
    let exists = answer["exists"].as_bool().ok_or_else(|| {
        CliError::core(
            ErrorCode::Malformed,
            format!("GET /check_user: unexpected answer {answer}"),
        )
    })?;
    let mut text = format!(
        "{handle}: {}",
        if exists { "exists" } else { "does not exist" }
    );
    text.push_str(&PowDone::text(done.as_ref()));
    Ok(Output::new(
        text,
        json!({
            "handle": handle.as_str(),
            "exists": exists,
            "server": c.base,
            "pow": PowDone::json(done.as_ref()),
        }),
    ))
}

/// `cairn handle key generate`: a fresh key (32 bytes from the operating system, through
/// `DeriveKeyPair`) sealed in the registry.
fn key_generate(ctx: &Ctx, suite: Suite) -> CliResult<Output> {
    let reg = ctx.open(Access::Write)?;
    let key = EnvelopeSecretKey::derive(suite, None, &*random::<32>())?;
    let protection = ctx
        .secrets
        .new_key_protection(&format!("envelope key {}", key.kid()))?;
    let info = reg.add_envelope_key(
        key.kid().0,
        suite.id(),
        key.public_key().as_bytes(),
        key.secret_bytes(),
        &protection,
    )?;
    let view = envelope_key_json(&info);
    Ok(Output::new(
        format!(
            "generated {} envelope key {}{}\nin cairn serve's configuration:\n  [envelope]\n  keys = [{{ sealed_kid_hex = \"{}\", active = true }}]",
            suite.short_name(),
            key.kid(),
            if info.insecure { " (stored WITHOUT passphrase protection)" } else { "" },
            key.kid()
        ),
        json!({"envelope_key": view}),
    ))
}

fn envelope_key_json(k: &cairn_store::EnvelopeKeyInfo) -> Value {
    let suite = Suite::from_id(k.suite)
        .map(|s| s.name())
        .unwrap_or("unknown");
    json!({
        "kid_hex": hex_encode(&k.kid),
        "suite": suite,
        "suite_id": k.suite,
        "public_key_hex": hex_encode(&k.public_key),
        "created_at": k.created_at,
        "sealed": !k.insecure,
    })
}

/// `cairn handle key list`.
fn key_list(ctx: &Ctx) -> CliResult<Output> {
    let reg = ctx.open(Access::Read)?;
    let keys = reg.envelope_keys()?;
    let text = if keys.is_empty() {
        "no envelope keys are sealed in this registry (cairn handle key generate)".to_owned()
    } else {
        keys.iter()
            .map(|k| {
                format!(
                    "{}  {}  created {}{}",
                    hex_encode(&k.kid),
                    Suite::from_id(k.suite)
                        .map(|s| s.short_name())
                        .unwrap_or("unknown"),
                    fmt_time(k.created_at),
                    if k.insecure { "  (not sealed)" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let views: Vec<Value> = keys.iter().map(envelope_key_json).collect();
    Ok(Output::new(text, json!({ "envelope_keys": views })))
}

pub fn run(ctx: &Ctx, cmd: HandleCmd) -> CliResult<Output> {
    match cmd {
        HandleCmd::Register {
            handle,
            identity,
            suite,
            server,
        } => register(&server, &handle, &identity, suite.suite()),
        HandleCmd::Resolve {
            handle,
            suite,
            server,
            pow,
        } => resolve(&server, &pow, &handle, suite.suite()),
        HandleCmd::Key(HandleKeyCmd::Generate { suite }) => key_generate(ctx, suite.suite()),
        HandleCmd::Key(HandleKeyCmd::List) => key_list(ctx),
        HandleCmd::Check {
            handle,
            server,
            pow,
        } => check(&server, &pow, &handle),
    }
}
