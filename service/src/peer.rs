//! The peer key exchange over HTTP (seed 004's registry, on cairn's store).
//!
//! Two sides, one rule book (cairn-core's messages, replay state and vouching; the store's
//! records and ledger entries):
//! - **This registry answers.** `POST /api/v1/peer/key-request` takes a peer's signed key
//!   request (its wire bytes) and answers this registry's signed key response, with
//!   `?proof=true` as a bundle proving the identity's ledger entry (key transparency). It needs
//!   no token: the request is signed by the key it carries, addressed to this peer, and its
//!   nonce is checked against the durable replay state. `GET /api/v1/peer` publishes the
//!   identity; `GET /api/v1/peers[/{id}]` the peers this registry holds.
//! - **An operator asks.** `POST /api/v1/peers/{id}/request` makes a signed key request,
//!   `POST /api/v1/peers/responses` receives the answer (vouched for by `[peer]`'s policy),
//!   `POST /api/v1/peers/{id}/accept` accepts a key nothing vouched for (or a changed one), and
//!   `POST /api/v1/peers/{id}/remove` removes a peer; each needs a token granting its
//!   capability. Every write goes through the group-commit writer.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cairn_core::dsse::Envelope;
use cairn_core::encoding::b64_encode;
use cairn_core::peer::{ExchangeConfig, PeerLog, MAX_KEY_MESSAGE_LEN};
use cairn_core::trust::VerifiedRoot;
use cairn_core::ErrorCode;
use cairn_store::view;
use serde_json::{json, Value};

use crate::config;
use crate::error::{ServiceError, ServiceResult};
use crate::routes::{
    blocking, ensure_checkpoint, json_body, only_params, read_body, Params, Path, WriteRequest,
};
use crate::AppState;

/// Capability to make key requests to peers (`POST /api/v1/peers/{id}/request`).
pub const CAP_PEER_REQUEST: &str = "peer.request";
/// Capability to receive peers' key responses (`POST /api/v1/peers/responses`).
pub const CAP_PEER_RECEIVE: &str = "peer.receive";
/// Capability to accept a peer's key by hand (`POST /api/v1/peers/{id}/accept`).
pub const CAP_PEER_ACCEPT: &str = "peer.accept";
/// Capability to remove a peer (`POST /api/v1/peers/{id}/remove`).
pub const CAP_PEER_REMOVE: &str = "peer.remove";

/// Largest key response body (a response with its transparency bundle).
const MAX_RESPONSE_BODY: usize = cairn_core::bundle::MAX_BUNDLE_LEN;

/// `[peer]` made ready: the exchange limits and the trust roots read at startup.
#[derive(Debug, Clone)]
pub struct PeerSettings {
    /// Clock skew, pending-request lifetime and cap.
    pub exchange: ExchangeConfig,
    /// The peers' own registry logs, each vouching for its peer's keys.
    pub logs: Vec<PeerLog>,
    /// The registry's own trust root pins bootstrap peers.
    pub bootstrap_from_trust_root: bool,
    /// Transparency checkpoints must be signed by both halves of a hybrid key.
    pub require_hybrid_checkpoint: bool,
    /// Trust on first use.
    pub trust_on_first_use: bool,
    /// The oldest transparency checkpoint accepted, in seconds.
    pub max_checkpoint_age: Option<u64>,
}

impl PeerSettings {
    /// Reads `[peer]`'s trust-root files; a file that is not a valid self-signed trust root
    /// is a startup error naming it.
    pub fn load(c: &config::Peer) -> ServiceResult<PeerSettings> {
        let logs = c
            .log_roots
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let (peer, path) = match entry {
                    config::LogRoot::Peer { peer, root } => (peer, root),
                    config::LogRoot::Unbound(path) => {
                        return Err(ServiceError::config(format!(
                            "peer.log_roots[{i}] ({}): name the peer whose registry's log this is, {{ peer = \"<peer id>\", root = \"{}\" }}: a log vouches only for its own registry's peer",
                            path.display(),
                            path.display()
                        )))
                    }
                };
                let what = format!("peer.log_roots[{i}] ({})", path.display());
                let bytes = std::fs::read(path)
                    .map_err(|e| ServiceError::config(format!("{what}: {e}")))?;
                Envelope::parse(&bytes)
                    .and_then(|env| VerifiedRoot::from_pinned(&env))
                    .map(|root| PeerLog::new(peer, root))
                    .map_err(|e| ServiceError::config(format!("{what}: {e}")))
            })
            .collect::<ServiceResult<Vec<_>>>()?;
        Ok(PeerSettings {
            exchange: ExchangeConfig {
                max_skew: c.max_clock_skew_seconds,
                pending_ttl: c.pending_seconds,
                max_pending: c.max_pending_per_peer,
            },
            logs,
            bootstrap_from_trust_root: c.bootstrap_from_trust_root,
            require_hybrid_checkpoint: c.require_hybrid_checkpoint,
            trust_on_first_use: c.trust_on_first_use,
            max_checkpoint_age: c.max_checkpoint_age_seconds,
        })
    }
}

type St = State<Arc<AppState>>;

/// A key-exchange message: never cached (each answers one request).
fn octets(bytes: Vec<u8>) -> Response {
    crate::routes::octets(bytes, "no-store")
}

fn flag(q: &HashMap<String, String>, name: &str) -> ServiceResult<bool> {
    match q.get(name).map(String::as_str) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(_) => Err(
            ServiceError::bad_request(format!("{name} must be true or false"))
                .with_details(json!({"field": name})),
        ),
    }
}

/// `GET /api/v1/peer`: this registry's peer identity.
pub(crate) async fn identity(State(st): St) -> ServiceResult<Json<Value>> {
    blocking(move || {
        let me = st.reg.peer_identity()?.ok_or_else(|| {
            ServiceError::not_found("this registry has no peer identity (cairn peer init)")
        })?;
        Ok(Json(json!({"peer": view::peer_identity(&me)})))
    })
    .await
}

/// `POST /api/v1/peer/key-request[?proof=true]`: a peer's key request in, this registry's
/// signed key response out (both as wire bytes).
pub(crate) async fn key_request(
    State(st): St,
    Params(q): Params,
    body: Body,
) -> ServiceResult<Response> {
    only_params(&q, &["proof"])?;
    let proof = flag(&q, "proof")?;
    // Anyone may send one: `limits.max_body_bytes` bounds it too, when it is lower.
    let limit = MAX_KEY_MESSAGE_LEN.min(st.config.limits.max_body_bytes);
    let request = read_body(body, limit).await?.to_vec();
    blocking(move || {
        if proof {
            // What the proof needs (the identity, a trust root, a checkpoint covering the
            // identity's entry) before the request is accepted: it is accepted once, and one
            // spent on an answer that cannot be proven would be lost to its sender.
            ensure_checkpoint(&st, st.reg.key_response_proof_entry()?)?;
        }
        let pass = st.key_passphrase.clone();
        let env = st
            .writer
            .respond_to_key_request(request, st.peer.clone(), pass)?;
        if !proof {
            return Ok(octets(env.to_compact()));
        }
        Ok(octets(st.reg.key_response_bundle(env)?.to_bytes()))
    })
    .await
}

/// `GET /api/v1/peers[?verified=true]`: the peers this registry holds.
pub(crate) async fn list(State(st): St, Params(q): Params) -> ServiceResult<Json<Value>> {
    only_params(&q, &["verified"])?;
    let verified = flag(&q, "verified")?;
    blocking(move || {
        let peers = if verified {
            st.reg.list_verified_peers()?
        } else {
            st.reg.list_peers()?
        };
        Ok(Json(
            json!({"peers": peers.iter().map(view::peer).collect::<Vec<_>>()}),
        ))
    })
    .await
}

/// `GET /api/v1/peers/{id}`: one peer, its record checked against its ledger entries.
pub(crate) async fn show(State(st): St, Path(id): Path<String>) -> ServiceResult<Json<Value>> {
    show_peer(st, id).await
}

/// `GET /api/v1/peers/responses`: the peer named `responses`, whose path is also the route
/// that takes key responses (`POST`); without this, reading it would meet that route.
pub(crate) async fn show_responses(State(st): St) -> ServiceResult<Json<Value>> {
    show_peer(st, "responses".to_owned()).await
}

async fn show_peer(st: Arc<AppState>, id: String) -> ServiceResult<Json<Value>> {
    blocking(move || Ok(Json(json!({"peer": view::peer(&st.reg.peer(&id)?)})))).await
}

/// `POST /api/v1/peers/{id}/request` body.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RequestBody {
    /// Ask even when the peer's keys are verified (to refresh them).
    again: bool,
}

/// `POST /api/v1/peers/{id}/request`: a signed key request to peer `id`, base64 in JSON
/// (`request` is null when the keys are verified and `again` is false).
pub(crate) async fn request(
    State(st): St,
    Path(id): Path<String>,
    request: WriteRequest,
) -> ServiceResult<Json<Value>> {
    let body = request
        .authorize(&st, CAP_PEER_REQUEST, st.config.limits.max_body_bytes)
        .await?;
    let b: RequestBody = if body.is_empty() {
        RequestBody::default()
    } else {
        json_body(&body, "key request")?
    };
    let ttl = st.peer.exchange.pending_ttl;
    blocking(move || {
        let pass = st.key_passphrase.clone();
        let m = st
            .writer
            .request_peer_keys(id.clone(), b.again, st.peer.clone(), pass)
            .map_err(|e| {
                // Too many requests to this peer already pending: the request is fine, it is
                // too early for another (429 with the pending lifetime), not too large.
                if e.code == ErrorCode::TooLarge.as_str() {
                    ServiceError::new(StatusCode::TOO_MANY_REQUESTS, e.code, e.message)
                        .with_details(json!({"retry_after_seconds": ttl}))
                } else {
                    e
                }
            })?;
        Ok(Json(json!({
            "peer_id": id,
            "requested": m.is_some(),
            "request": m.map(|b| b64_encode(&b)),
            "expires_in_seconds": ttl,
        })))
    })
    .await
}

/// `POST /api/v1/peers/responses`: a peer's key response (wire bytes), vouched for by
/// `[peer]`'s policy. A key nothing vouches for is stored unverified (`verified: false`);
/// a changed key is refused with `key_changed` (409) and kept for an operator.
pub(crate) async fn receive(State(st): St, request: WriteRequest) -> ServiceResult<Json<Value>> {
    let body = request
        .authorize(&st, CAP_PEER_RECEIVE, MAX_RESPONSE_BODY)
        .await?;
    blocking(move || {
        let got = st
            .writer
            .receive_key_response(body.to_vec(), st.peer.clone())?;
        let warnings: Vec<String> = if got.own_root_expired {
            let w = format!(
                "{} (renew it with `cairn root rotate`)",
                cairn_store::OwnBootstrapPins::EXPIRED
            );
            tracing::warn!("{w}");
            vec![w]
        } else {
            vec![]
        };
        let got = got.verdict.map_err(|e| {
            // A refusal says what the policy lacked, too.
            let e = ServiceError::from(e);
            match warnings.is_empty() {
                true => e,
                false => e.with_detail("warnings", json!(warnings)),
            }
        })?;
        Ok(Json(json!({
            "peer": view::peer(&got.peer),
            "verified": got.vouch.is_some(),
            "vouch": got.vouch.as_ref().map(cairn_core::view::vouch),
            "warnings": warnings,
        })))
    })
    .await
}

/// `POST /api/v1/peers/{id}/accept` body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptBody {
    /// The key the operator accepts (the peer's stored or proposed key).
    key_id: String,
    /// Accept a proposed key of a weaker algorithm than the pinned one (default false).
    #[serde(default)]
    allow_weaker: bool,
}

/// `POST /api/v1/peers/{id}/accept`: an operator accepts a peer's key (a ledger entry).
pub(crate) async fn accept(
    State(st): St,
    Path(id): Path<String>,
    request: WriteRequest,
) -> ServiceResult<Json<Value>> {
    let body = request
        .authorize(&st, CAP_PEER_ACCEPT, st.config.limits.max_body_bytes)
        .await?;
    let b: AcceptBody = json_body(&body, "acceptance")?;
    let key =
        cairn_core::crypto::KeyId::from_hex(&b.key_id.to_ascii_lowercase()).map_err(|_| {
            ServiceError::bad_request("key_id must be 64 hex digits")
                .with_details(json!({"field": "key_id"}))
        })?;
    blocking(move || {
        let weaker = cairn_store::WeakerAlgorithm::allowed_if(b.allow_weaker);
        let p = st.writer.accept_peer_key(id, key, weaker)?;
        Ok(Json(json!({"peer": view::peer(&p)})))
    })
    .await
}

/// `POST /api/v1/peers/{id}/remove` body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveBody {
    reason: String,
}

/// `POST /api/v1/peers/{id}/remove`: removes a peer (a ledger entry).
pub(crate) async fn remove(
    State(st): St,
    Path(id): Path<String>,
    request: WriteRequest,
) -> ServiceResult<Response> {
    let body = request
        .authorize(&st, CAP_PEER_REMOVE, st.config.limits.max_body_bytes)
        .await?;
    let b: RemoveBody = json_body(&body, "removal")?;
    if b.reason.is_empty() {
        return Err(ServiceError::core(ErrorCode::Malformed, "reason is empty")
            .with_details(json!({"field": "reason"})));
    }
    blocking(move || {
        let seq = st.writer.remove_peer(id.clone(), b.reason)?;
        Ok((
            StatusCode::OK,
            Json(json!({"status": "removed", "peer_id": id, "seq": seq})),
        )
            .into_response())
    })
    .await
}
