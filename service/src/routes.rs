//! The HTTP routes: seed 000's registry API, cairn's objects, and the C2SP tlog-tiles read
//! API. Handlers parse and answer; the registry decides. Registry calls that may take long (a
//! write's fsync, signature verifications, scans) run on tokio's blocking pool; a few short
//! ones on the hot write path run on the request's task (see `authorize` and `register`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_core::encoding::{hex_decode_array, hex_encode, Digest};
use cairn_core::note::NoteVerifier;
use cairn_core::tiles::{Tile, TileKind};
use cairn_core::token::VerifiedToken;
use cairn_core::ErrorCode;
use cairn_store::{view, NodeSpec, Registry, SignedEntry, StoreCode};
use serde_json::{json, Value};

use crate::auth::{self, Policy, Presented};
use crate::error::{ServiceError, ServiceResult};
use crate::{handles, peer, AppState};

/// Capability a token must grant to register (or replace) a node.
pub const CAP_NODE_REGISTER: &str = "node.register";
/// Capability a token must grant to deregister a node.
pub const CAP_NODE_DEREGISTER: &str = "node.deregister";
/// Capability a token must grant to read when `auth.public_reads` is false.
pub const CAP_READ: &str = "read";
/// Capability to issue tokens signed by a registry key (`POST /api/v1/tokens`).
pub const CAP_TOKEN_ISSUE: &str = "token.issue";
/// Capability to revoke tokens (`POST /api/v1/tokens/{id}/revoke`).
pub const CAP_TOKEN_REVOKE: &str = "token.revoke";
/// Capability to sign manifests with a registry key (`POST /api/v1/manifests`).
pub const CAP_MANIFEST_SIGN: &str = "manifest.sign";
/// Capability to revoke manifests (`POST /api/v1/manifests/{digest}/revoke`).
pub const CAP_MANIFEST_REVOKE: &str = "manifest.revoke";

/// Cache-Control of full tiles and entry bundles: they never change.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control of the checkpoint (mutable: tlog-tiles asks for no caching beyond seconds).
pub const CHECKPOINT_CACHE: &str = "no-cache";
/// Cache-Control of partial tiles: their content is fixed, but the log may delete them once
/// the full tile exists.
pub const PARTIAL_TILE_CACHE: &str = "public, max-age=3600";

type St = State<Arc<AppState>>;

tokio::task_local! {
    /// The service's places for blocking work, set around each request ([`bounded_work`]).
    static WORK: Arc<tokio::sync::Semaphore>;
}

/// Middleware: the requests it passes run their blocking work ([`blocking`]) within `work`'s
/// places.
pub(crate) async fn bounded_work(
    State(work): State<Arc<tokio::sync::Semaphore>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    WORK.scope(work, next.run(req)).await
}

/// Runs registry work on the blocking pool, for the request whose handler awaits it: a write
/// it submits is dropped, not applied, if this future is dropped (the request timed out, or its
/// client went away) before the committer reaches the write ([`crate::writer::for_request`]).
///
/// Within a request, the work first takes one of the service's `max_concurrent_requests`
/// places for blocking work, and holds it until the work ends: a request that times out (408)
/// gives back its request slot at once, but its work may run on, and without this bound new
/// requests would pile work up on the blocking pool behind it.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ServiceResult<T> + Send + 'static,
) -> ServiceResult<T> {
    let place = match WORK.try_with(Arc::clone) {
        Ok(work) => Some(
            work.acquire_owned()
                .await
                .map_err(|_| ServiceError::internal("the service is stopping"))?,
        ),
        Err(_) => None, // the service's own tasks, outside any request
    };
    // Lives exactly as long as this future.
    let waited_for = Arc::new(());
    let request = Arc::downgrade(&waited_for);
    let done = tokio::task::spawn_blocking(move || {
        let _place = place;
        crate::writer::for_request(request, f)
    })
    .await;
    drop(waited_for);
    done.map_err(|e| ServiceError::internal(format!("a registry task failed: {e}")))?
}

/// The routes (without the middleware `crate::Server` adds).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(crate::metrics::handler))
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route(&registry_route("signature_info"), get(signature_info))
        .route(&registry_route("validate"), post(validate))
        .route(&registry_route("register"), post(register))
        .route(&registry_route("query"), get(query))
        .route(
            "/api/v1/registry/{registry_id}",
            get(node_get).delete(node_delete),
        )
        .route("/api/v1/keys", get(keys))
        .route("/api/v1/keys/{key_id}", get(key_get))
        .route("/api/v1/trust-root", get(trust_root))
        .route("/api/v1/trust-roots", get(trust_roots))
        .route("/api/v1/tokens", post(token_issue))
        .route("/api/v1/tokens/{id}", get(token_get))
        .route("/api/v1/tokens/{id}/revoke", post(token_revoke))
        .route(
            "/api/v1/manifests",
            get(manifests_for_artifact).post(manifest_sign),
        )
        .route("/api/v1/manifests/{digest}", get(manifest_get))
        .route("/api/v1/manifests/{digest}/revoke", post(manifest_revoke))
        .route("/api/v1/entries/{seq}", get(entry_get))
        .route("/api/v1/proofs/inclusion", get(proof_inclusion))
        .route("/api/v1/proofs/consistency", get(proof_consistency))
        .route("/api/v1/proofs/revocation", get(proof_revocation))
        .route("/api/v1/bundles/token/{id}", get(bundle_token))
        .route("/api/v1/bundles/manifest/{digest}", get(bundle_manifest))
        .route("/api/v1/bundles/token/{id}/refresh", get(refresh_token))
        .route(
            "/api/v1/bundles/manifest/{digest}/refresh",
            get(refresh_manifest),
        )
        .route("/api/v1/peer", get(peer::identity))
        .route("/api/v1/peer/key-request", post(peer::key_request))
        .route("/api/v1/peers", get(peer::list))
        .route(
            "/api/v1/peers/responses",
            get(peer::show_responses).post(peer::receive),
        )
        .route("/api/v1/peers/{id}", get(peer::show))
        .route("/api/v1/peers/{id}/request", post(peer::request))
        .route("/api/v1/peers/{id}/accept", post(peer::accept))
        .route("/api/v1/peers/{id}/remove", post(peer::remove))
        // The handle registry (seed 003's paths).
        .route("/register", post(handles::register))
        .route(RESOLVE_PATH, post(handles::resolve))
        .route("/check_user/{handle}", get(handles::check_user))
        .route("/announce", post(handles::announce))
        .route("/sync", post(handles::sync))
        .route("/handles/reregister", post(handles::reregister))
        .route("/handles/remove", post(handles::remove))
        .route("/nodes", get(handles::nodes_get).post(handles::nodes_post))
        .route("/envelope_pubkey", get(handles::envelope_pubkey))
        .route("/envelope_pubkeys", get(handles::envelope_pubkeys))
        .route("/pow/challenge", get(handles::pow_challenge))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn not_found(uri: Uri) -> ServiceError {
    ServiceError::not_found(format!("no route {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ServiceError {
    ServiceError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// Reads a request body of at most `limit` bytes: `too_large` (413) beyond, `malformed` (400)
/// when the body cannot be read (a client gone mid-body, broken chunked framing). A body whose
/// declared length (`Content-Length`) is over `limit` is refused before any of it is read, so
/// its client is not left sending it (nor invited to, after `Expect: 100-continue`) only to
/// be refused, or timed out waiting for bytes it never sends.
pub(crate) async fn read_body(body: Body, limit: usize) -> ServiceResult<Bytes> {
    use axum::body::HttpBody as _;
    let too_large = || {
        ServiceError::core(
            ErrorCode::TooLarge,
            format!("the request body is larger than {limit} bytes"),
        )
    };
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner.is::<http_body_util::LengthLimitError>() {
            too_large()
        } else {
            ServiceError::bad_request(format!("the request body could not be read: {inner}"))
        }
    })
}

/// A header given more than once where the service reads one value ([`single_header`]).
pub(crate) struct Repeated;

/// The one value of header `name` (`None` when absent), or [`Repeated`] when it is given more
/// than once: which of two values would count is no question to answer quietly. The rule of
/// every single-valued header the service reads (credentials, a proof of work); each caller
/// answers a repeated one with its own status.
pub(crate) fn single_header<'h>(
    h: &'h HeaderMap,
    name: &str,
) -> Result<Option<&'h HeaderValue>, Repeated> {
    let mut values = h.get_all(name).iter();
    match (values.next(), values.next()) {
        (first, None) => Ok(first),
        _ => Err(Repeated),
    }
}

/// A credential header's value: `malformed` (401) when it is not ASCII, or given more than
/// once ([`single_header`]).
fn header_str<'h>(h: &'h HeaderMap, name: &str) -> ServiceResult<Option<&'h str>> {
    single_header(h, name)
        .map_err(|Repeated| {
            ServiceError::unauthenticated(
                ErrorCode::Malformed,
                format!("the {name} header is given more than once"),
            )
        })?
        .map(|v| {
            v.to_str().map_err(|_| {
                ServiceError::unauthenticated(
                    ErrorCode::Malformed,
                    format!("the {name} header is not ASCII"),
                )
            })
        })
        .transpose()
}

/// A write request as its handler receives it: what the proof of possession signs (method,
/// path and query, the body) and the credentials' headers. [`WriteRequest::authorize`] reads
/// the body and checks the credentials for one capability, the first thing every write does.
pub(crate) struct WriteRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for WriteRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        Ok(WriteRequest {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        })
    }
}

impl WriteRequest {
    /// Verifies the credentials for `capability`, then reads the body (at most `limit`
    /// bytes) and checks the proof of possession over it; returns the body. The token comes
    /// first, so a request without one granting the operation is refused before its body is
    /// read.
    pub(crate) async fn authorize(
        self,
        st: &Arc<AppState>,
        capability: &'static str,
        limit: usize,
    ) -> ServiceResult<Bytes> {
        // No write takes a query parameter: one is refused as the routes that take some refuse
        // the others (decoded the same way, named in `details.field`).
        no_params(&self.uri)?;
        let credentials = Credentials::of(&self.method, &self.uri, &self.headers)?;
        credentials.token_for(st, capability).await?;
        let body = read_body(self.body, limit).await?;
        credentials.check_proof(st, &body, capability).await?;
        Ok(body)
    }
}

/// What a request presents to be authorized, taken from its head.
struct Credentials {
    token: cairn_core::dsse::Envelope,
    proof: Option<String>,
    method: String,
    path_and_query: String,
}

/// The service's policy for a request needing `capability`.
fn policy<'a>(st: &'a AppState, capability: &'a str) -> Policy<'a> {
    Policy {
        audience: &st.origin,
        capability,
        proof_of_possession: st.config.auth.proof_of_possession,
        max_skew: st.config.auth.max_clock_skew_seconds,
        metrics: Some(&st.metrics),
    }
}

impl Credentials {
    fn of(method: &Method, uri: &Uri, headers: &HeaderMap) -> ServiceResult<Credentials> {
        Ok(Credentials {
            token: auth::parse_authorization(header_str(headers, "authorization")?)?,
            proof: header_str(headers, auth::PROOF_HEADER)?.map(str::to_owned),
            method: method.as_str().to_owned(),
            path_and_query: uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| uri.path().to_owned()),
        })
    }

    /// The token's part ([`auth::verify_token`]). A token whose chain the registry has
    /// authenticated before costs a few cached reads: checked on the request's task, where a
    /// handover to the blocking pool and back would cost more. Any other (a first
    /// presentation, a forgery) may cost several signature verifications: on the pool.
    async fn token_for(
        &self,
        st: &Arc<AppState>,
        capability: &'static str,
    ) -> ServiceResult<VerifiedToken> {
        self.verify_token_with(st, capability, None).await
    }

    /// [`auth::verify_token`] for `capability`, at `at` (counted in the metrics when `None`,
    /// then at the registry's clock now): on the request's task when the registry remembers
    /// the token's chain (a few cached reads), else on the blocking pool (a first
    /// presentation, a forgery, or a chain forgotten meanwhile: the memory of chains is
    /// bounded, and cleared when full), as it may cost several signature verifications.
    async fn verify_token_with(
        &self,
        st: &Arc<AppState>,
        capability: &'static str,
        at: Option<cairn_core::UnixTime>,
    ) -> ServiceResult<VerifiedToken> {
        let check = move |st: &AppState, token: &cairn_core::dsse::Envelope| {
            let counted = policy(st, capability);
            match at {
                None => auth::verify_token(&st.reg, token, &counted, st.reg.now()),
                Some(now) => {
                    let uncounted = Policy {
                        metrics: None,
                        ..counted
                    };
                    auth::verify_token(&st.reg, token, &uncounted, now)
                }
            }
        };
        if st.reg.remembers_token(&self.token) {
            return check(st, &self.token);
        }
        let (st, token) = (st.clone(), self.token.clone());
        blocking(move || check(&st, &token)).await
    }

    /// The request's part ([`auth::verify_proof_batched`]) over `body`: one signature check
    /// (tens of microseconds, less in a batch with concurrent requests') and the nonce, on the
    /// request's task. The token is checked once more
    /// first, at the same clock: its body may have taken until the request timeout to arrive,
    /// and a token revoked or expired meanwhile authorizes nothing. (It was authenticated
    /// before the body was read, so this costs a few cached reads, unless the registry's
    /// memory of chains forgot it meanwhile: then on the pool, as a first presentation; its
    /// verification is counted in the metrics once, before the body.)
    async fn check_proof(
        &self,
        st: &Arc<AppState>,
        body: &[u8],
        capability: &'static str,
    ) -> ServiceResult<()> {
        let presented = Presented {
            token: &self.token,
            proof: self.proof.as_deref(),
            method: &self.method,
            path_and_query: &self.path_and_query,
            body,
        };
        let now = st.reg.now();
        let verified = self.verify_token_with(st, capability, Some(now)).await?;
        let policy = policy(st, capability);
        auth::verify_proof_batched(&st.proofs, &st.nonces, &verified, &presented, &policy, now)
            .await?;
        tracing::info!(token = %hex_encode(&verified.id), capability, "authorized");
        Ok(())
    }
}

/// Where a node spec is checked without being registered (seed 000's path).
/// axum's `Path`, refusing what does not decode (a segment that is not UTF-8 once
/// percent-decoded, say) with cairn's JSON error (`400 malformed`, `Cache-Control: no-store`)
/// rather than axum's plain-text answer.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = ServiceError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| ServiceError::bad_request(format!("the path: {}", e.body_text())))
    }
}

/// A request's query parameters, decoded strictly: `+` is a space and `%XX` a byte, as in a
/// form; a name or value that is not UTF-8 once decoded, or a name given twice, is
/// `400 malformed` naming it in `details.field` (axum's `Query` would decode the first lossily
/// and keep one of the second silently).
pub(crate) struct Params(pub(crate) HashMap<String, String>);

impl Params {
    /// The query parameters of `uri`.
    pub(crate) fn of(uri: &Uri) -> ServiceResult<Params> {
        let refused = |what: String, field: &str| {
            ServiceError::bad_request(format!("the query string: {what}"))
                .with_details(json!({ "field": field }))
        };
        let decode = |part: &str| {
            percent_encoding::percent_decode_str(&part.replace('+', " "))
                .decode_utf8()
                .map(|d| d.into_owned())
        };
        let mut params = HashMap::new();
        for pair in uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name)
                .map_err(|_| refused(format!("the parameter name {name:?} is not UTF-8"), name))?;
            let value = decode(value)
                .map_err(|_| refused(format!("the value of {name:?} is not UTF-8"), &name))?;
            if params.contains_key(&name) {
                return Err(refused(format!("{name:?} is given more than once"), &name));
            }
            params.insert(name, value);
        }
        Ok(Params(params))
    }
}

/// Refuses any query parameter (`400 malformed` naming it): what every POST does, none taking
/// any.
pub(crate) fn no_params(uri: &Uri) -> ServiceResult<()> {
    only_params(&Params::of(uri)?.0, &[])
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ServiceError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Params::of(&parts.uri)
    }
}

const VALIDATE_PATH: &str = "/api/v1/registry/validate";

/// The handle registry's resolution: a POST that writes nothing but answers a handle's identity.
const RESOLVE_PATH: &str = "/resolve";

/// Whether a request is a read that `auth.public_reads = false` puts behind a `read` token:
/// every GET and HEAD (axum answers HEAD on every GET route) but `/health`, and the POSTs that
/// write nothing but tell what the registry holds: the validation of a node spec and the
/// resolution of a handle.
fn is_guarded_read(method: &Method, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD => path != "/health",
        Method::POST => path == VALIDATE_PATH || path == RESOLVE_PATH,
        _ => false,
    }
}

/// Middleware for `auth.public_reads = false`: reads need a token granting `read`
/// (`is_guarded_read`). The proof of possession covers the request's body as for a write
/// (empty for GET and HEAD), so a guarded POST's body is read here, once its token passed.
pub async fn read_guard(
    State(st): St,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if st.config.auth.public_reads || !is_guarded_read(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let checked = async {
        let credentials = Credentials::of(&parts.method, &parts.uri, &parts.headers)?;
        credentials.token_for(&st, CAP_READ).await?;
        let body = if parts.method == Method::POST {
            read_body(body, st.config.limits.max_body_bytes).await?
        } else {
            Bytes::new()
        };
        credentials.check_proof(&st, &body, CAP_READ).await?;
        Ok::<_, ServiceError>(body)
    }
    .await;
    match checked {
        Ok(body) => {
            next.run(axum::extract::Request::from_parts(parts, Body::from(body)))
                .await
        }
        Err(e) => e.into_response(),
    }
}

fn parse_digest(s: &str, what: &str) -> ServiceResult<Digest> {
    hex_decode_array::<32>(&s.to_ascii_lowercase()).map_err(|_| {
        ServiceError::bad_request(format!("{what} must be 64 hex digits"))
            .with_details(json!({"field": what}))
    })
}

/// A decimal number of a path or query: digits only (`str::parse` would also take a leading
/// `+`), at most `u64::MAX`.
fn parse_u64(s: Option<&String>, what: &str) -> ServiceResult<Option<u64>> {
    s.map(|v| {
        let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        digits
            .then(|| v.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| {
                ServiceError::bad_request(format!("{what} must be a non-negative integer"))
                    .with_details(json!({"field": what}))
            })
    })
    .transpose()
}

/// Refuses query parameters a route does not know (strict input).
pub(crate) fn only_params(q: &HashMap<String, String>, allowed: &[&str]) -> ServiceResult<()> {
    for k in q.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(ServiceError::bad_request(format!(
                "unknown query parameter {k:?} (this route takes {})",
                if allowed.is_empty() {
                    "none".to_owned()
                } else {
                    allowed.join(", ")
                }
            ))
            .with_details(json!({"field": k})));
        }
    }
    Ok(())
}

/// `GET /health`: 200 `"ok"`, or 503 `"failing"` once the writer has stopped (every write
/// would fail; a supervisor should restart the service).
async fn health(State(st): St) -> ServiceResult<Response> {
    let s = st.clone();
    let size = blocking(move || Ok(s.reg.tree_size()?)).await?;
    let writer_running = st.writer.is_running();
    let status = if writer_running {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if writer_running { "ok" } else { "failing" },
        "origin": st.reg.origin(),
        "entries": size,
        "writable": st.reg.is_writable() && writer_running,
        "writer": if writer_running { "running" } else { "stopped" },
        "uptime_seconds": st.started.elapsed().as_secs(),
    });
    Ok((status, Json(body)).into_response())
}

async fn checkpoint(State(st): St) -> ServiceResult<Response> {
    let (_, note) = blocking(move || Ok(st.reg.witnessed_head_note()?)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, CHECKPOINT_CACHE),
        ],
        note,
    )
        .into_response())
}

/// Whether a request's `Accept-Encoding` admits gzip (RFC 9110 §12.5.3): `gzip`, else `*`,
/// with a weight above zero; no header admits only the identity.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    let items = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for item in items {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let weight = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| v.trim().parse::<f32>().ok())?
            })
            .next_back()
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(weight > 0.0);
        } else if name == "*" {
            any = Some(weight > 0.0);
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// `bytes` gzip-compressed (the default level: done once per full bundle).
fn gzip(bytes: &[u8]) -> ServiceResult<Bytes> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len()),
        flate2::Compression::default(),
    );
    e.write_all(bytes)
        .and_then(|()| e.finish())
        .map(Bytes::from)
        .map_err(|err| ServiceError::internal(format!("compressing an entry bundle: {err}")))
}

/// `GET /tile/...`: a hash tile or an entry bundle (C2SP tlog-tiles), full ones from the tile
/// cache once read. A full entry bundle goes gzip-compressed to clients that accept gzip
/// (tlog-tiles: bundles SHOULD be compressed), with `Vary: Accept-Encoding`: compressed once
/// and kept. cairn's entries are mostly keys, hashes and signatures, so a bundle shrinks by
/// about a tenth only: a partial bundle, which the log replaces as it grows, would cost a
/// compression per request for that, and goes as it is; so do hash tiles, which are hashes.
async fn tile(
    State(st): St,
    request_headers: HeaderMap,
    Path(path): Path<String>,
) -> ServiceResult<Response> {
    let t = Tile::parse_path(&format!("tile/{path}"))
        .map_err(|e| ServiceError::not_found(e.detail().to_owned()))?;
    let bytes = match st.tiles.get(&t) {
        Some(b) => b,
        None => {
            let st = st.clone();
            blocking(move || {
                let b = Bytes::from(st.reg.tile(&t)?);
                st.tiles.put(&t, &b);
                Ok(b)
            })
            .await?
        }
    };
    let cache = if t.is_full() {
        IMMUTABLE
    } else {
        PARTIAL_TILE_CACHE
    };
    let headers = [
        (header::CONTENT_TYPE, "application/octet-stream"),
        (header::CACHE_CONTROL, cache),
    ];
    if t.kind != TileKind::Entries || !t.is_full() {
        return Ok((headers, bytes).into_response());
    }
    let vary = (header::VARY, "Accept-Encoding");
    if !accepts_gzip(&request_headers) {
        return Ok((headers, [vary], bytes).into_response());
    }
    let compressed = match st.gzipped_bundles.get(&t) {
        Some(g) => g,
        None => {
            let st = st.clone();
            blocking(move || {
                let g = gzip(&bytes)?;
                st.gzipped_bundles.put(&t, &g);
                Ok(g)
            })
            .await?
        }
    };
    Ok((
        headers,
        [vary, (header::CONTENT_ENCODING, "gzip")],
        compressed,
    )
        .into_response())
}

async fn signature_info(State(st): St) -> ServiceResult<Json<Value>> {
    blocking(move || {
        let reg: &Registry = &st.reg;
        let log = reg.key(&reg.log_key_id()?)?;
        let (head, note) = reg.witnessed_head_note()?;
        let verifiers = NoteVerifier::for_key(reg.origin(), &log.public_key)?;
        let go_key = verifiers
            .iter()
            .find(|v| v.signature_type() == cairn_core::note::SignatureType::Ed25519)
            .map(|v| v.verifier_key());
        Ok(Json(json!({
            "origin": reg.origin(),
            "algorithm": log.public_key.algorithm().name(),
            "log_key_id": log.key_id.to_hex(),
            "public_key": cairn_core::encoding::b64_encode(log.public_key.as_bytes()),
            "note_verifier_key": go_key,
            "note_verifier_keys": verifiers.iter().map(|v| v.verifier_key()).collect::<Vec<_>>(),
            "checkpoint": {"size": head.size, "root": hex_encode(&head.root), "note": note},
            "write_audience": st.origin,
        })))
    })
    .await
}

/// The names under `/api/v1/registry/` that are routes of their own: a node with one of these
/// ids could not be read or deregistered at `/api/v1/registry/{registry_id}`, so none is
/// registered or validated over HTTP. The router builds those routes from this list
/// (`registry_route`), so a new one cannot be left out of it.
pub const ROUTE_NAMES: [&str; 4] = ["register", "validate", "query", "signature_info"];

/// `/api/v1/registry/<name>`, for a name of [`ROUTE_NAMES`] (checked in debug builds, where
/// every test builds the router: another name is a programming error).
fn registry_route(name: &str) -> String {
    debug_assert!(
        ROUTE_NAMES.contains(&name),
        "{name:?} is a route under /api/v1/registry/: add it to ROUTE_NAMES"
    );
    format!("/api/v1/registry/{name}")
}

/// The request's node spec: strict JSON (`NodeSpec::from_json`), with an id that is not one of
/// [`ROUTE_NAMES`].
fn parse_spec(body: &[u8]) -> ServiceResult<NodeSpec> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ServiceError::bad_request("the node spec is not UTF-8"))?;
    let spec = NodeSpec::from_json(text)?;
    if ROUTE_NAMES.contains(&spec.id.as_str()) {
        return Err(ServiceError::core(
            ErrorCode::Malformed,
            format!(
                "the id {:?} names a route under /api/v1/registry/, where the node could not be read or deregistered: choose another",
                spec.id
            ),
        )
        .with_details(json!({"field": "id"})));
    }
    Ok(spec)
}

/// The configured admission policy.
fn admit(st: &AppState, spec: &NodeSpec) -> ServiceResult<()> {
    let a = &st.config.admission;
    let refuse = |field: &str, msg: String| {
        ServiceError::forbidden(ErrorCode::Unauthorized, msg)
            .with_details(json!({"field": field, "policy": "admission"}))
    };
    if a.require_provenance_sha256 && spec.provenance.sha256.is_none() {
        return Err(refuse(
            "provenance.sha256",
            "this registry admits only nodes whose provenance carries the source's sha256".into(),
        ));
    }
    if a.require_provenance_manifest {
        match &spec.provenance.manifest {
            None => {
                return Err(refuse(
                    "provenance.manifest",
                    "this registry admits only nodes whose provenance names a signed manifest"
                        .into(),
                ))
            }
            // The rule a registration applies (recorded, unrevoked, for the spec's artifact):
            // its refusals are the policy's; the store's own failures keep their codes.
            Some(d) => match st
                .reg
                .check_provenance_manifest(d, spec.provenance.sha256.as_ref())
            {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.code(),
                        StoreCode::NotFound
                            | StoreCode::Core(ErrorCode::Revoked | ErrorCode::DigestMismatch)
                    ) =>
                {
                    return Err(refuse(
                        e.field_name().unwrap_or("provenance.manifest"),
                        format!("the provenance manifest {}: {}", hex_encode(d), e.detail()),
                    ))
                }
                Err(e) => return Err(e.into()),
            },
        }
    }
    if !a.allowed_capabilities.is_empty() {
        if let Some(c) = spec
            .capabilities
            .iter()
            .find(|c| !a.allowed_capabilities.contains(c))
        {
            return Err(refuse(
                "capabilities",
                format!("the capability {c:?} is not admitted by this registry"),
            ));
        }
    }
    Ok(())
}

async fn validate(State(st): St, uri: Uri, body: Body) -> ServiceResult<Json<Value>> {
    no_params(&uri)?;
    let body = read_body(body, st.config.limits.max_body_bytes).await?;
    let spec = parse_spec(&body)?;
    blocking(move || {
        admit(&st, &spec)?;
        Ok(Json(json!({
            "valid": true,
            "registry_id": spec.id,
            "digest": hex_encode(&spec.digest()),
        })))
    })
    .await
}

async fn register(State(st): St, request: WriteRequest) -> ServiceResult<Response> {
    let body = request
        .authorize(&st, CAP_NODE_REGISTER, st.config.limits.max_body_bytes)
        .await?;
    let spec = parse_spec(&body)?;
    // The default admission policy reads nothing; one that checks a manifest reads and
    // verifies it, on the pool.
    let spec = if st.config.admission.require_provenance_manifest {
        let st = st.clone();
        blocking(move || admit(&st, &spec).map(|()| spec)).await?
    } else {
        admit(&st, &spec)?;
        spec
    };
    // Waits for the group commit without holding a thread.
    let (info, replaced) = st.writer.register_node(spec).await?;
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(registration_answer(&info, replaced))).into_response())
}

/// The answer to `POST /api/v1/registry/register` (seed 000's shape, with cairn's node view):
/// the id, whether it was `registered` (new) or `replaced`, and the node as stored.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use cairn_store::{CreateOptions, NodeSpec, Protection, Registry};
/// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.org/log", Protection::Insecure))?;
/// let spec = NodeSpec::from_json(r#"{"id": "n1", "name": "N", "version": "1", "capabilities": [], "signals": [], "endpoints": [], "provenance": {"source": "https://example.org/n1"}}"#)?;
/// let info = reg.register_node(&spec)?;
/// let answer = cairn_service::routes::registration_answer(&info, false);
/// assert_eq!(answer["status"], "registered");
/// assert_eq!(answer["registry_id"], "n1");
/// assert_eq!(answer["node"]["spec"]["id"], "n1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn registration_answer(info: &cairn_store::NodeInfo, replaced: bool) -> Value {
    json!({
        "registry_id": info.spec.id,
        "status": if replaced { "replaced" } else { "registered" },
        "node": view::node(info),
    })
}

async fn node_delete(
    State(st): St,
    Path(id): Path<String>,
    request: WriteRequest,
) -> ServiceResult<Json<Value>> {
    request
        .authorize(&st, CAP_NODE_DEREGISTER, st.config.limits.max_body_bytes)
        .await?;
    let seq = blocking(move || st.writer.deregister_node(id.clone())).await?;
    Ok(Json(json!({"status": "deregistered", "seq": seq})))
}

async fn node_get(State(st): St, Path(id): Path<String>) -> ServiceResult<Json<Value>> {
    blocking(move || Ok(Json(view::node(&st.reg.node(&id)?)))).await
}

/// The most nodes one page of `GET .../query` holds, and its default size.
pub const QUERY_PAGE_MAX: u64 = 1000;

/// `GET /api/v1/registry/query?signal=…&capability=…[&limit=N][&after=ID]`: a page of the
/// nodes declaring both (or the one given), in id order; `next` names the node to give as
/// `after` for the following page, `null` on the last.
async fn query(State(st): St, Params(q): Params) -> ServiceResult<Json<Value>> {
    only_params(&q, &["signal", "capability", "limit", "after"])?;
    let limit = match parse_u64(q.get("limit"), "limit")? {
        None => QUERY_PAGE_MAX,
        Some(n @ 1..=QUERY_PAGE_MAX) => n,
        Some(_) => {
            return Err(ServiceError::bad_request(format!(
                "limit is 1 to {QUERY_PAGE_MAX} nodes a page"
            ))
            .with_details(json!({"field": "limit"})))
        }
    };
    if !q.contains_key("signal") && !q.contains_key("capability") {
        return Err(ServiceError::bad_request(
            "query by signal=..., capability=..., or both",
        ));
    }
    blocking(move || {
        let query = cairn_store::NodeQuery::of(
            q.get("signal").map(String::as_str),
            q.get("capability").map(String::as_str),
        )
        .after(q.get("after").map(String::as_str))
        // invariant: limit <= QUERY_PAGE_MAX, which fits any usize.
        .with_limit(usize::try_from(limit).unwrap_or(usize::MAX));
        let page = st.reg.query_nodes(&query)?;
        Ok(Json(json!({
            "count": page.nodes.len(),
            "nodes": page.nodes.iter().map(view::node).collect::<Vec<_>>(),
            "next": page.next,
        })))
    })
    .await
}

async fn keys(State(st): St) -> ServiceResult<Json<Value>> {
    blocking(move || {
        let log = st.reg.log_key_id()?;
        let keys = st.reg.list_keys()?;
        Ok(Json(json!({
            "keys": keys.iter().map(|k| view::key(k, Some(&log))).collect::<Vec<_>>()
        })))
    })
    .await
}

async fn key_get(State(st): St, Path(id): Path<String>) -> ServiceResult<Json<Value>> {
    let id = cairn_core::crypto::KeyId::from_hex(&id.to_ascii_lowercase()).map_err(|_| {
        ServiceError::bad_request("a key id is 64 hex digits")
            .with_details(json!({"field": "key_id"}))
    })?;
    blocking(move || {
        let log = st.reg.log_key_id()?;
        Ok(Json(view::key(&st.reg.key(&id)?, Some(&log))))
    })
    .await
}

async fn trust_root(State(st): St) -> ServiceResult<Json<Value>> {
    blocking(move || Ok(Json(view::trust_root(&st.reg.trust_root()?)))).await
}

async fn trust_roots(State(st): St) -> ServiceResult<Json<Value>> {
    blocking(move || {
        let chain = st.reg.trust_roots()?;
        Ok(Json(json!({
            "trust_roots": chain.iter().map(view::trust_root).collect::<Vec<_>>()
        })))
    })
    .await
}

async fn token_get(State(st): St, Path(id): Path<String>) -> ServiceResult<Json<Value>> {
    let id = parse_digest(&id, "id")?;
    blocking(move || {
        let mut v = view::token(&st.reg.token(&id)?);
        if bearer_tokens(&st) {
            v["envelope"] = Value::Null;
        }
        Ok(Json(v))
    })
    .await
}

/// Whether tokens are bearer credentials here (`auth.proof_of_possession = false`): a token's
/// envelope then authorises whoever sends it, so the service never hands one out (a token's
/// view has a null `envelope`, its bundle is refused). With proofs of possession, an envelope
/// is useless without its holder's private key.
fn bearer_tokens(st: &AppState) -> bool {
    !st.config.auth.proof_of_possession
}

async fn manifest_get(State(st): St, Path(d): Path<String>) -> ServiceResult<Json<Value>> {
    let d = parse_digest(&d, "digest")?;
    blocking(move || Ok(Json(view::manifest(&st.reg.manifest(&d)?)))).await
}

async fn manifests_for_artifact(State(st): St, Params(q): Params) -> ServiceResult<Json<Value>> {
    only_params(&q, &["artifact_sha256"])?;
    let a = q
        .get("artifact_sha256")
        .ok_or_else(|| ServiceError::bad_request("give artifact_sha256=<64 hex digits>"))?;
    let a = parse_digest(a, "artifact_sha256")?;
    blocking(move || {
        let ms = st.reg.manifests_for_artifact(&a)?;
        Ok(Json(json!({
            "manifests": ms.iter().map(view::manifest).collect::<Vec<_>>()
        })))
    })
    .await
}

async fn entry_get(State(st): St, Path(seq): Path<String>) -> ServiceResult<Json<Value>> {
    let seq = parse_u64(Some(&seq), "seq")?.unwrap_or(0);
    blocking(move || Ok(Json(entry_view(&st.reg.entry(seq)?)))).await
}

async fn proof_inclusion(State(st): St, Params(q): Params) -> ServiceResult<Json<Value>> {
    only_params(&q, &["seq", "size"])?;
    let seq = parse_u64(q.get("seq"), "seq")?
        .ok_or_else(|| ServiceError::bad_request("give seq=<entry number>"))?;
    let size = parse_u64(q.get("size"), "size")?;
    blocking(move || {
        let (head, note) = st.reg.witnessed_head_note()?;
        let size = size.unwrap_or(head.size);
        let p = st.reg.inclusion_proof(seq, size)?;
        let entry = st.reg.entry(seq)?;
        let root = st.reg.root(size)?;
        p.verify(&entry.leaf_hash(), &root)?;
        Ok(Json(json!({
            "seq": seq,
            "tree_size": size,
            "leaf_hash": hex_encode(&entry.leaf_hash()),
            "root": hex_encode(&root),
            "hashes": p.hashes.iter().map(|h| hex_encode(h)).collect::<Vec<_>>(),
            "checkpoint": if size == head.size { Value::String(note) } else { Value::Null },
        })))
    })
    .await
}

/// `GET /api/v1/proofs/revocation?kind=key|token|manifest&id=HEX`: whether the object is
/// revoked as of the signed head, with the revocation map's proof and the head's note, whose
/// `cairn.revocations` line the proof checks against (checked by the store before it is sent).
async fn proof_revocation(State(st): St, Params(q): Params) -> ServiceResult<Json<Value>> {
    only_params(&q, &["kind", "id"])?;
    let kind = q
        .get("kind")
        .ok_or_else(|| ServiceError::bad_request("give kind=key|token|manifest"))?;
    let kind = cairn_core::revocation::ObjectKind::parse(kind)
        .map_err(|e| ServiceError::from(e).with_details(json!({"field": "kind"})))?;
    let id = parse_digest(
        q.get("id")
            .ok_or_else(|| ServiceError::bad_request("give id=<64 hex digits>"))?,
        "id",
    )?;
    blocking(move || {
        Ok(Json(view::revocation_status(
            &st.reg.revocation_proof(kind, &id)?,
        )))
    })
    .await
}

async fn proof_consistency(State(st): St, Params(q): Params) -> ServiceResult<Json<Value>> {
    only_params(&q, &["old", "new"])?;
    let old = parse_u64(q.get("old"), "old")?
        .ok_or_else(|| ServiceError::bad_request("give old=<tree size>"))?;
    let new = parse_u64(q.get("new"), "new")?;
    blocking(move || {
        let new = match new {
            Some(n) => n,
            None => st.reg.signed_head_note()?.0.size,
        };
        let p = st.reg.consistency_proof(old, new)?;
        let (r_old, r_new) = (st.reg.root(old)?, st.reg.root(new)?);
        p.verify(&r_old, &r_new)?;
        Ok(Json(json!({
            "old_size": old,
            "new_size": new,
            "old_root": hex_encode(&r_old),
            "new_root": hex_encode(&r_new),
            "hashes": p.hashes.iter().map(|h| hex_encode(h)).collect::<Vec<_>>(),
        })))
    })
    .await
}

/// A bundle in its binary form (what `cairn bundle verify` and the npm package read).
fn bundle_response(b: cairn_core::bundle::Bundle) -> Response {
    octets(b.to_bytes(), "no-cache")
}

/// Binary bytes (`application/octet-stream`) with the given `Cache-Control`.
pub(crate) fn octets(bytes: Vec<u8>, cache_control: &'static str) -> Response {
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    resp
}

/// Makes sure a stored checkpoint covers ledger entry `seq` before a bundle is built.
///
/// A bundle's inclusion proof needs a checkpoint newer than its entry, and the store's bundle
/// functions write one themselves when none covers it: a write transaction of its own, outside
/// the group-commit writer. That would be safe (the store serialises every write transaction
/// on its own lock, and checkpoints only ever grow) but it would take the write lock and an
/// fsync past the writer's queue, uncounted. So the service asks its writer for the
/// checkpoint first (it joins the current batch like any write); the store then finds the
/// entry covered and only reads. Checkpoints are never removed, so the one made here still
/// covers `seq` when the bundle is read.
pub(crate) fn ensure_checkpoint(st: &AppState, seq: u64) -> ServiceResult<()> {
    // The store's own test (the newest checkpoint covers the entry and the current revocation
    // map), so the bundle never signs one itself, outside the group commit. An error here only
    // means "not known to be covered"; the bundle surfaces real ones.
    if st.reg.bundle_needs_checkpoint(seq).unwrap_or(true) {
        st.writer.checkpoint()?;
    }
    Ok(())
}

async fn bundle_token(State(st): St, Path(id): Path<String>) -> ServiceResult<Response> {
    let id = parse_digest(&id, "id")?;
    if bearer_tokens(&st) {
        return Err(ServiceError::new(
            StatusCode::FORBIDDEN,
            "unauthorized",
            "tokens are bearer credentials on this service (auth.proof_of_possession = false): \
             a token's bundle carries it, so it is not served; export it on the registry's host \
             (cairn bundle export --token)",
        ));
    }
    blocking(move || {
        ensure_checkpoint(&st, st.reg.token(&id)?.seq)?;
        Ok(bundle_response(st.reg.token_bundle(&id)?))
    })
    .await
}

async fn bundle_manifest(State(st): St, Path(d): Path<String>) -> ServiceResult<Response> {
    let d = parse_digest(&d, "digest")?;
    blocking(move || {
        ensure_checkpoint(&st, st.reg.manifest(&d)?.last_seq)?;
        Ok(bundle_response(st.reg.manifest_bundle(&d)?))
    })
    .await
}

/// Asks the writer for a checkpoint of the whole log unless the newest one is (a refresh moves
/// a bundle to the newest state; the writer batches concurrent asks into one signature).
fn ensure_head_checkpoint(st: &AppState) -> ServiceResult<()> {
    let size = st.reg.tree_size()?;
    match size.checked_sub(1) {
        Some(last) => ensure_checkpoint(st, last),
        None => Ok(()),
    }
}

/// The `from` (the old bundle's checkpoint size) and `leaf` (its entry) of a refresh request.
fn refresh_params(q: &HashMap<String, String>) -> ServiceResult<(u64, Option<u64>)> {
    only_params(q, &["from", "leaf"])?;
    let from = parse_u64(q.get("from"), "from")?.ok_or_else(|| {
        ServiceError::bad_request("give from=<the bundle's checkpoint size>")
            .with_details(json!({"field": "from"}))
    })?;
    Ok((from, parse_u64(q.get("leaf"), "leaf")?))
}

/// `GET /api/v1/bundles/token/{id}/refresh?from=N[&leaf=S]`: the refresh pieces (`CRFP`) that
/// move a bundle of this token, whose checkpoint is of size N, to the newest checkpoint.
async fn refresh_token(
    State(st): St,
    Path(id): Path<String>,
    Params(q): Params,
) -> ServiceResult<Response> {
    let id = parse_digest(&id, "id")?;
    let (from, leaf) = refresh_params(&q)?;
    blocking(move || {
        let t = st.reg.token(&id)?;
        let parents = st.reg.token_parents(&id)?;
        ensure_head_checkpoint(&st)?;
        let pieces = st
            .reg
            .refresh_pieces_at(leaf.unwrap_or(t.seq), from, t.envelope, parents)?;
        Ok(octets(pieces.to_bytes(), "no-cache"))
    })
    .await
}

/// `GET /api/v1/bundles/manifest/{digest}/refresh?from=N[&leaf=S]`: as for a token; `leaf`
/// (default: the manifest's newest entry) names the entry the old bundle proves.
async fn refresh_manifest(
    State(st): St,
    Path(d): Path<String>,
    Params(q): Params,
) -> ServiceResult<Response> {
    let d = parse_digest(&d, "digest")?;
    let (from, leaf) = refresh_params(&q)?;
    blocking(move || {
        let m = st.reg.manifest(&d)?;
        ensure_head_checkpoint(&st)?;
        let pieces =
            st.reg
                .refresh_pieces_at(leaf.unwrap_or(m.last_seq), from, m.envelope, Vec::new())?;
        Ok(octets(pieces.to_bytes(), "no-cache"))
    })
    .await
}

/// A ledger entry as `GET /api/v1/entries/{seq}` answers it: the store's view (as `cairn ledger
/// get --json` prints it) with its envelope.
fn entry_view(e: &SignedEntry) -> Value {
    let mut v = view::entry(e);
    v["envelope"] = view::envelope_json(&e.envelope);
    v
}

/// A JSON body of one of cairn's own shapes: unknown fields are refused.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> ServiceResult<T> {
    serde_json::from_slice(body).map_err(|e| ServiceError::bad_request(format!("{what}: {e}")))
}

/// A registry key named by its id (64 hex digits).
fn parse_key_id(s: &str, what: &str) -> ServiceResult<cairn_core::crypto::KeyId> {
    parse_digest(s, what).map(cairn_core::crypto::KeyId)
}

/// A holder key as `cairn key export --format json` writes it: the key (`alg`, `key`), and the
/// `key_id` and `label` written beside it. A `key_id` given must be the key's: one that is not
/// means the file was edited or mixed up, and the token would go to another holder than meant.
///
/// Strict as every body is: a member other than these four is refused (serde's `flatten`,
/// which would carry the key's two, cannot refuse unknown members, so the object is taken
/// apart by hand).
#[derive(serde::Deserialize)]
#[serde(try_from = "serde_json::Map<String, Value>")]
struct HolderKey {
    key: cairn_core::crypto::PublicKey,
    key_id: Option<String>,
}

impl TryFrom<serde_json::Map<String, Value>> for HolderKey {
    type Error = String;

    fn try_from(mut m: serde_json::Map<String, Value>) -> Result<HolderKey, String> {
        const MEMBERS: [&str; 4] = ["alg", "key", "key_id", "label"];
        if let Some(k) = m.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
            return Err(format!(
                "holder: unknown field `{k}`, expected one of `alg`, `key`, `key_id`, `label`"
            ));
        }
        let mut text = |name: &str| match m.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("holder.{name}: a string")),
        };
        let key_id = text("key_id")?;
        // Accepted, as key export writes it; names nothing the token keeps.
        text("label")?;
        let key = serde_json::from_value(Value::Object(m)).map_err(|e| format!("holder: {e}"))?;
        Ok(HolderKey { key, key_id })
    }
}

impl HolderKey {
    /// The key, once a `key_id` given with it is checked to be its own (`key_mismatch`).
    fn checked(self) -> ServiceResult<cairn_core::crypto::PublicKey> {
        if let Some(id) = &self.key_id {
            if !id.eq_ignore_ascii_case(&self.key.key_id().to_hex()) {
                return Err(ServiceError::core(
                    ErrorCode::KeyMismatch,
                    format!(
                        "holder.key_id {id} is not the id of the holder key given ({})",
                        self.key.key_id()
                    ),
                )
                .with_details(json!({"field": "holder.key_id"})));
            }
        }
        Ok(self.key)
    }
}

/// `POST /api/v1/tokens`: a token signed by a registry key.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    /// The issuing registry key (token-issuer role; for a delegation, the parent's holder).
    issuer: String,
    /// The holder's public key, as `cairn key export --format json` writes it.
    holder: HolderKey,
    audience: Option<String>,
    capabilities: Vec<String>,
    /// Lifetime in seconds.
    ttl: Option<u64>,
    /// Parent token id, for a delegation.
    parent: Option<String>,
}

async fn token_issue(State(st): St, request: WriteRequest) -> ServiceResult<Response> {
    let body = request
        .authorize(&st, CAP_TOKEN_ISSUE, st.config.limits.max_body_bytes)
        .await?;
    let b: IssueBody = json_body(&body, "token request")?;
    let issuer = parse_key_id(&b.issuer, "issuer")?;
    let request = cairn_store::TokenRequest {
        holder: b.holder.checked()?,
        audience: b.audience,
        capabilities: b.capabilities,
        constraints: Vec::new(),
        ttl: b.ttl,
        parent: b
            .parent
            .as_deref()
            .map(|p| parse_digest(p, "parent"))
            .transpose()?,
    };
    let t = blocking(move || {
        let pass = st.key_passphrase.clone();
        st.writer.issue_token(issuer, request, pass)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"token": view::token(&t)}))).into_response())
}

/// `POST .../revoke`: a revocation by a registry key.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: String,
    /// The revoking registry key (the issuer or signer, or a key with the root role).
    revoker: String,
}

async fn token_revoke(
    State(st): St,
    Path(id): Path<String>,
    request: WriteRequest,
) -> ServiceResult<Json<Value>> {
    let body = request
        .authorize(&st, CAP_TOKEN_REVOKE, st.config.limits.max_body_bytes)
        .await?;
    let id = parse_digest(&id, "id")?;
    let b: RevokeBody = json_body(&body, "revocation")?;
    let revoker = parse_key_id(&b.revoker, "revoker")?;
    let seq = blocking(move || {
        let pass = st.key_passphrase.clone();
        st.writer.revoke_token(id, b.reason, revoker, pass)
    })
    .await?;
    Ok(Json(
        json!({"status": "revoked", "id": hex_encode(&id), "seq": seq}),
    ))
}

/// `POST /api/v1/manifests`: an artifact's manifest signed by a registry key (the caller
/// hashes the artifact; the registry never sees it).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignBody {
    /// The signing registry key (manifest-signer role).
    signer: String,
    name: String,
    size: u64,
    /// SHA-256 of the artifact, 64 hex digits.
    sha256: String,
    media_type: Option<String>,
    #[serde(default)]
    metadata: std::collections::BTreeMap<String, String>,
}

async fn manifest_sign(State(st): St, request: WriteRequest) -> ServiceResult<Response> {
    let body = request
        .authorize(&st, CAP_MANIFEST_SIGN, st.config.limits.max_body_bytes)
        .await?;
    let b: SignBody = json_body(&body, "manifest request")?;
    let signer = parse_key_id(&b.signer, "signer")?;
    let sha256 = parse_digest(&b.sha256, "sha256")?;
    let media = b
        .media_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    let mut claims =
        cairn_core::manifest::ManifestClaims::new(&b.name, media, b.size, sha256, st.reg.now());
    claims.metadata = b.metadata;
    claims.validate()?;
    let m = blocking(move || {
        let pass = st.key_passphrase.clone();
        st.writer.sign_manifest(signer, claims, pass)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"manifest": view::manifest(&m)})),
    )
        .into_response())
}

async fn manifest_revoke(
    State(st): St,
    Path(digest): Path<String>,
    request: WriteRequest,
) -> ServiceResult<Json<Value>> {
    let body = request
        .authorize(&st, CAP_MANIFEST_REVOKE, st.config.limits.max_body_bytes)
        .await?;
    let digest = parse_digest(&digest, "digest")?;
    let b: RevokeBody = json_body(&body, "revocation")?;
    let revoker = parse_key_id(&b.revoker, "revoker")?;
    let seq = blocking(move || {
        let pass = st.key_passphrase.clone();
        st.writer.revoke_manifest(digest, b.reason, revoker, pass)
    })
    .await?;
    Ok(Json(
        json!({"status": "revoked", "digest": hex_encode(&digest), "seq": seq}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_routes_are_the_route_names() {
        assert_eq!(registry_route("validate"), VALIDATE_PATH);
        if cfg!(debug_assertions) {
            let built = std::panic::catch_unwind(|| registry_route("resolve"));
            assert!(built.is_err(), "a name outside ROUTE_NAMES is refused");
        }
    }

    #[test]
    fn gzip_is_sent_when_accept_encoding_admits_it() {
        for (accept, admitted) in [
            (None, false),
            (Some("gzip"), true),
            (Some("GZip"), true),
            (Some("x-gzip"), true),
            (Some("deflate, gzip;q=0.5"), true),
            (Some("br, *"), true),
            (Some("gzip;q=0"), false),
            (Some("gzip; q=0.0, *"), false),
            (Some("*;q=0"), false),
            (Some("br, deflate"), false),
            (Some("identity"), false),
            (Some(""), false),
            (Some("gzip;q=bad"), true),
        ] {
            let mut h = HeaderMap::new();
            if let Some(a) = accept {
                h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(a));
            }
            assert_eq!(accepts_gzip(&h), admitted, "{accept:?}");
        }
    }
}
