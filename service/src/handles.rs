//! The handle registry (seed 003's Enigma node registry) inside `cairn serve`: registration of
//! a handle with an identity sealed to the service's envelope key, resolution re-sealed to a
//! requester's ephemeral key, existence checks, device presence, known registry nodes, sync
//! from another registry, envelope keys and proof-of-work challenges.
//!
//! Privacy: a handle is looked up and stored only under its peppered blind index
//! ([`cairn_core::handle::blind_index`]); an identity is stored sealed to the active envelope
//! key (purpose `at-rest`, aad = the blind index), so the registry file holds neither in the
//! clear. Registration and removal are ledger entries (`handle_registered`, `handle_removed`)
//! written through the group-commit writer. Presence, the known-node list and the used
//! proof-of-work solutions live in memory only.
//!
//! Anti-enumeration: `/resolve` answers `200 {handle, envelope}` whether or not the handle
//! exists, doing the same work either way (a miss opens a decoy record), with the plaintext
//! padded to a multiple of [`RESOLVE_PAD`] bytes; `/check_user` reads the table the same way
//! for a hit and a miss. Both can require a proof of work and have their own rate limits.
//! docs/SERVICE.md, "Handle registry", documents every endpoint and option.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use cairn_core::encoding::{b64_decode, b64_encode, hex_decode_array, hex_encode, Digest};
use cairn_core::handle::{
    blind_index, normalise, seal, verify, Challenge, EnvelopePublicKey, EnvelopeSecretKey, Handle,
    Keyring, Kid, Pepper, PowSecret, Solution, Suite, POW_NONCE_LEN, SEAL_SEED_LEN,
};
use cairn_core::{ErrorCode, UnixTime};
use cairn_store::{HandleInfo, Registry, StoreCode, StoreError};
use rand_core::{OsRng, RngCore};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Config;
use crate::error::{ServiceError, ServiceResult};
use crate::routes::{blocking, json_body, read_body, WriteRequest};
use crate::AppState;

/// Capability a token must grant to `POST /sync`.
pub const CAP_HANDLE_SYNC: &str = "handle.sync";
/// The request header carrying a proof-of-work solution (`<challenge>.<counter>`).
pub const POW_HEADER: &str = "x-pow-solution";
/// Envelope purpose of a registration (client → service).
pub const PURPOSE_REGISTER: &[u8] = b"register";
/// Envelope purpose of a resolution (service → requester).
pub const PURPOSE_RESOLVE: &[u8] = b"resolve";
/// Envelope purpose of an identity at rest (service → itself).
pub const PURPOSE_AT_REST: &[u8] = b"at-rest";
/// Largest identity (the plaintext of a registration envelope), in bytes.
pub const MAX_IDENTITY_LEN: usize = 16 * 1024;
/// A resolution's plaintext is padded with spaces to a multiple of this many bytes.
pub const RESOLVE_PAD: usize = 1024;
/// Most identities one `POST /sync` carries.
pub const MAX_SYNC_ITEMS: usize = 256;
/// Largest `POST /sync` body, in bytes.
pub const MAX_SYNC_BODY: usize = 8 * 1024 * 1024;
/// Longest device id of an announcement, in bytes.
pub const MAX_DEVICE_ID_LEN: usize = 128;
/// Longest endpoint of an announcement or node URL, in bytes.
pub const MAX_URL_LEN: usize = 256;
/// Most devices present for one handle; a new device beyond evicts the one expiring first.
pub const MAX_DEVICES_PER_HANDLE: usize = 16;
/// Most nodes one `POST /nodes` carries.
pub const MAX_NODES_PER_POST: usize = 64;
/// Most used proof-of-work solutions remembered at once (each until its challenge expires).
pub const MAX_USED_SOLUTIONS: usize = 1 << 20;
/// The aad of the decoy record a resolution of a missing handle opens.
const DECOY_AAD: &[u8] = b"cairn handle decoy";

/// The handle registry's secrets, read from `[envelope]` and `[pow]`.
pub struct HandleSecrets {
    pepper: Pepper,
    keyring: Keyring,
    pow_secret: PowSecret,
}

impl std::fmt::Debug for HandleSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandleSecrets").finish_non_exhaustive()
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    OsRng.fill_bytes(&mut b);
    b
}

impl HandleSecrets {
    /// Reads the secrets of `config` (`None` without `[envelope]`); every bad value is a
    /// configuration error naming its key.
    pub fn load(config: &Config) -> ServiceResult<Option<HandleSecrets>> {
        let Some(env) = &config.envelope else {
            return Ok(None);
        };
        let bad = |key: &str, e: cairn_core::Error| {
            ServiceError::config(format!("envelope.{key}: {}", e.detail()))
        };
        let pepper = Pepper::from_hex(env.pepper_hex.trim()).map_err(|e| bad("pepper_hex", e))?;
        let mut active = None;
        let mut retired = Vec::new();
        for (i, k) in env.keys.iter().enumerate() {
            let secret = hex_decode_array::<32>(k.x25519_private_key_hex.trim())
                .map_err(|e| bad(&format!("keys[{i}].x25519_private_key_hex"), e))?;
            let kid = k
                .kid_hex
                .as_deref()
                .map(|h| Kid::from_hex(h.trim()))
                .transpose()
                .map_err(|e| bad(&format!("keys[{i}].kid_hex"), e))?;
            let key = EnvelopeSecretKey::from_bytes(Suite::X25519ChaCha20Poly1305, kid, &secret)
                .map_err(|e| bad(&format!("keys[{i}]"), e))?;
            if k.active {
                if active.is_some() {
                    return Err(ServiceError::config(
                        "envelope.keys: more than one key is active",
                    ));
                }
                active = Some(key);
            } else {
                retired.push(key);
            }
        }
        let active = active.ok_or_else(|| {
            ServiceError::config("envelope.keys: one key must be active (active = true)")
        })?;
        let keyring = Keyring::new(active, retired).map_err(|e| bad("keys", e))?;
        let pow_secret = match &config.pow.secret_hex {
            Some(h) => {
                let h = h.trim();
                let bytes = (h.len() % 2 == 0 && h.len() <= 128)
                    .then(|| {
                        (0..h.len())
                            .step_by(2)
                            .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
                            .collect::<Option<Vec<u8>>>()
                    })
                    .flatten()
                    .ok_or_else(|| ServiceError::config("pow.secret_hex: 32 to 128 hex digits"))?;
                PowSecret::from_bytes(&bytes)
                    .map_err(|e| ServiceError::config(format!("pow.secret_hex: {}", e.detail())))?
            }
            None => PowSecret::from_bytes(&random::<32>())
                .map_err(|e| ServiceError::internal(e.detail().to_owned()))?,
        };
        Ok(Some(HandleSecrets {
            pepper,
            keyring,
            pow_secret,
        }))
    }
}

/// A device's presence.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PresenceEntry {
    endpoint: Option<String>,
    last_seen: UnixTime,
    expires_at: UnixTime,
}

/// The handle registry's state in a running service.
pub struct HandleRegistry {
    secrets: HandleSecrets,
    /// A record sealed at rest to the active key, opened by resolutions of missing handles.
    decoy: Vec<u8>,
    /// Used proof-of-work solutions: challenge id → its expiry.
    used: Mutex<HashMap<[u8; POW_NONCE_LEN], UnixTime>>,
    /// Presence: (blind index, device id) → entry.
    presence: Mutex<BTreeMap<(Digest, String), PresenceEntry>>,
    /// Known registry nodes, in the order they were added.
    nodes: Mutex<Vec<String>>,
}

impl std::fmt::Debug for HandleRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandleRegistry").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn field(e: ServiceError, name: &str) -> ServiceError {
    let mut details = match e.details {
        Value::Object(ref m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    details.insert("field".into(), name.into());
    e.with_details(Value::Object(details))
}

/// A proof-of-work refusal (403) with a core code.
fn pow_refused(e: cairn_core::Error) -> ServiceError {
    ServiceError::forbidden(e.code(), format!("proof of work: {}", e.detail()))
        .with_details(json!({"field": POW_HEADER, "challenge": "/pow/challenge"}))
}

/// The handle is held by another identity (409).
fn taken() -> ServiceError {
    ServiceError::new(
        StatusCode::CONFLICT,
        StoreCode::AlreadyExists.as_str(),
        "this handle is already registered to another identity",
    )
    .with_details(json!({"field": "handle"}))
}

/// A registration as the service received it: the normalised handle, its blind index and the
/// identity bytes the envelope held.
#[derive(Debug, Clone)]
pub struct Opened {
    handle: Handle,
    index: Digest,
    identity: Vec<u8>,
}

/// What storing an identity did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A new registration (its ledger entry).
    Registered(u64),
    /// The handle already held exactly this identity: nothing written.
    Unchanged,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    handle: String,
    envelope: String,
}

impl HandleRegistry {
    /// The state for `secrets`.
    pub fn new(secrets: HandleSecrets) -> ServiceResult<HandleRegistry> {
        let decoy = seal(
            &secrets.keyring.active().public_key(),
            PURPOSE_AT_REST,
            DECOY_AAD,
            &[b' '; 256],
            &random::<SEAL_SEED_LEN>(),
        )
        .map_err(|e| ServiceError::internal(format!("decoy record: {e}")))?;
        Ok(HandleRegistry {
            secrets,
            decoy,
            used: Mutex::new(HashMap::new()),
            presence: Mutex::new(BTreeMap::new()),
            nodes: Mutex::new(Vec::new()),
        })
    }

    /// The normalised handle and its blind index (`malformed` / `too_large`, field `handle`).
    pub fn index(&self, handle: &str) -> ServiceResult<(Handle, Digest)> {
        let h = normalise(handle).map_err(|e| field(e.into(), "handle"))?;
        let index = blind_index(&self.secrets.pepper, &h).0;
        Ok((h, index))
    }

    /// The keyring (active and retired envelope keys).
    pub fn keyring(&self) -> &Keyring {
        &self.secrets.keyring
    }

    /// Seals an identity at rest: to the active key, purpose `at-rest`, aad = blind index.
    pub fn seal_at_rest(&self, index: &Digest, identity: &[u8]) -> ServiceResult<Vec<u8>> {
        seal(
            &self.secrets.keyring.active().public_key(),
            PURPOSE_AT_REST,
            index,
            identity,
            &random::<SEAL_SEED_LEN>(),
        )
        .map_err(|e| ServiceError::internal(format!("sealing an identity at rest: {e}")))
    }

    /// Opens an identity at rest; a record that does not open (its key was removed from the
    /// configuration, or the file was edited) is an internal error, never another identity.
    pub fn open_at_rest(&self, index: &Digest, sealed: &[u8]) -> ServiceResult<Vec<u8>> {
        self.secrets
            .keyring
            .open(PURPOSE_AT_REST, index, sealed)
            .map_err(|e| {
                ServiceError::internal(format!(
                    "the identity stored under blind index {} does not open: {e}",
                    hex_encode(index)
                ))
            })
    }

    /// Opens a registration envelope (base64) for `handle` and validates the identity in it.
    fn open_registration(&self, handle: &str, envelope_b64: &str) -> ServiceResult<Opened> {
        let (handle, index) = self.index(handle)?;
        if envelope_b64.len() > cairn_core::handle::MAX_ENVELOPE_LEN * 4 / 3 + 4 {
            return Err(field(
                ServiceError::core(ErrorCode::TooLarge, "the envelope is too large"),
                "envelope",
            ));
        }
        let envelope = b64_decode(envelope_b64.trim()).map_err(|e| {
            field(
                ServiceError::from(e).context("envelope (base64)"),
                "envelope",
            )
        })?;
        let identity = self
            .secrets
            .keyring
            .open(PURPOSE_REGISTER, handle.as_bytes(), &envelope)
            .map_err(|e| {
                field(
                    ServiceError::from(e).context(
                        "the envelope does not open with this registry's envelope keys \
                         (sealed to GET /envelope_pubkey, purpose \"register\", aad = the \
                         normalised handle)",
                    ),
                    "envelope",
                )
            })?;
        validate_identity(&identity, &handle)?;
        Ok(Opened {
            handle,
            index,
            identity,
        })
    }

    /// Stores an opened registration: `Unchanged` when the handle already holds exactly this
    /// identity, `already_exists` (409) when it holds another.
    fn store(&self, st: &AppState, o: &Opened) -> ServiceResult<Stored> {
        if let Some(existing) = st.reg.handle_unverified(&o.index)? {
            return if self.open_at_rest(&o.index, &existing.sealed_identity)? == o.identity {
                Ok(Stored::Unchanged)
            } else {
                Err(taken())
            };
        }
        let sealed = self.seal_at_rest(&o.index, &o.identity)?;
        match st.writer.register_handle(o.index, sealed) {
            Ok(info) => Ok(Stored::Registered(info.seq)),
            Err(e) if e.code == StoreCode::AlreadyExists.as_str() => Err(taken()),
            Err(e) => Err(e),
        }
    }

    /// Checks the proof of work of a request when `[pow] enabled`: present, issued by this
    /// service, unexpired, enough work, and not used before (each solution is accepted once).
    pub fn check_pow(
        &self,
        config: &Config,
        headers: &HeaderMap,
        now: UnixTime,
    ) -> ServiceResult<()> {
        if !config.pow.enabled {
            return Ok(());
        }
        let Some(text) = headers.get(POW_HEADER) else {
            return Err(ServiceError::new(
                StatusCode::FORBIDDEN,
                "pow_required",
                "this endpoint needs a proof of work: GET /pow/challenge, solve it, and send \
                 the solution in the X-Pow-Solution header",
            )
            .with_details(json!({"field": POW_HEADER, "challenge": "/pow/challenge"})));
        };
        let text = text
            .to_str()
            .map_err(|_| pow_refused(cairn_core::Error::malformed("the solution is not ASCII")))?;
        let solution = Solution::decode(text.trim()).map_err(pow_refused)?;
        let id = verify(
            &solution.challenge,
            solution.counter,
            &self.secrets.pow_secret,
            now,
        )
        .map_err(pow_refused)?;
        let mut used = lock(&self.used);
        if used.len() >= MAX_USED_SOLUTIONS / 2 {
            used.retain(|_, expires| *expires >= now);
        }
        if used.contains_key(&id) {
            return Err(pow_refused(cairn_core::Error::new(
                ErrorCode::Replayed,
                "this solution was already used; solve a new challenge",
            )));
        }
        if used.len() >= MAX_USED_SOLUTIONS {
            return Err(ServiceError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "too many proofs of work are outstanding; retry later",
            ));
        }
        used.insert(id, solution.challenge.expires());
        Ok(())
    }

    /// Issues a challenge expiring `ttl` seconds after `now`.
    pub fn challenge(&self, difficulty: u8, now: UnixTime, ttl: u64) -> ServiceResult<Challenge> {
        Ok(Challenge::issue(
            &self.secrets.pow_secret,
            random::<POW_NONCE_LEN>(),
            difficulty,
            now.saturating_add(ttl),
        )?)
    }

    /// The present devices of a blind index at `now`.
    fn devices(&self, index: &Digest, now: UnixTime) -> Vec<Value> {
        lock(&self.presence)
            .range((*index, String::new())..)
            .take_while(|((i, _), _)| i == index)
            .filter(|(_, e)| e.expires_at > now)
            .map(|((_, device), e)| {
                json!({"device_id": device, "endpoint": e.endpoint, "last_seen": e.last_seen,
                       "expires_at": e.expires_at})
            })
            .collect()
    }

    /// Removes the presence entries expired at `now`; returns how many.
    pub fn collect_presence(&self, now: UnixTime) -> usize {
        let mut p = lock(&self.presence);
        let before = p.len();
        p.retain(|_, e| e.expires_at > now);
        before - p.len()
    }

    /// How many presence entries are held (expired ones included until collected).
    pub fn presence_len(&self) -> usize {
        lock(&self.presence).len()
    }

    /// How many proof-of-work solutions are remembered.
    pub fn used_solutions(&self) -> usize {
        lock(&self.used).len()
    }
}

/// An identity is a JSON object of at most [`MAX_IDENTITY_LEN`] bytes whose `handle` member
/// normalises to the handle it is registered under.
fn validate_identity(identity: &[u8], handle: &Handle) -> ServiceResult<()> {
    let bad = |code: ErrorCode, msg: &str, f: &str| {
        Err(field(ServiceError::core(code, msg.to_owned()), f))
    };
    if identity.len() > MAX_IDENTITY_LEN {
        return bad(
            ErrorCode::TooLarge,
            "the identity is larger than 16384 bytes",
            "identity",
        );
    }
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(identity) else {
        return bad(
            ErrorCode::Malformed,
            "the identity inside the envelope is not a JSON object",
            "identity",
        );
    };
    match map.get("handle").and_then(Value::as_str).map(normalise) {
        Some(Ok(h)) if h == *handle => Ok(()),
        Some(_) => bad(
            ErrorCode::Malformed,
            "the identity inside the envelope names another handle",
            "identity.handle",
        ),
        None => bad(
            ErrorCode::Malformed,
            "the identity inside the envelope has no \"handle\" string",
            "identity.handle",
        ),
    }
}

type St = State<Arc<AppState>>;

/// The handle registry of a service, or `404 not_found` when `[envelope]` is not configured.
fn registry(st: &AppState) -> ServiceResult<Arc<HandleRegistry>> {
    st.handles.clone().ok_or_else(|| {
        ServiceError::not_found(
            "this service runs no handle registry (configure [envelope] to enable it)",
        )
    })
}

/// `POST /register {handle, envelope}` → `{ok: true, status}`.
pub async fn register(State(st): St, body: Body) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    let body = read_body(body, st.config.limits.max_body_bytes).await?;
    let req: RegisterRequest = json_body(&body, "register request")?;
    blocking(move || {
        let opened = h.open_registration(&req.handle, &req.envelope)?;
        let stored = h.store(&st, &opened)?;
        Ok(Json(match stored {
            Stored::Registered(seq) => json!({"ok": true, "status": "registered", "seq": seq}),
            Stored::Unchanged => json!({"ok": true, "status": "unchanged"}),
        }))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveRequest {
    handle: String,
    requester_ephemeral_pubkey_hex: String,
}

/// `POST /resolve {handle, requester_ephemeral_pubkey_hex}` → `{handle, envelope}`, the same
/// shape and work whether or not the handle exists.
pub async fn resolve(State(st): St, headers: HeaderMap, body: Body) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    let body = read_body(body, st.config.limits.max_body_bytes).await?;
    h.check_pow(&st.config, &headers, st.reg.now())?;
    let req: ResolveRequest = json_body(&body, "resolve request")?;
    let key = hex_decode_array::<32>(req.requester_ephemeral_pubkey_hex.trim())
        .and_then(|b| EnvelopePublicKey::from_bytes(Suite::X25519ChaCha20Poly1305, None, &b))
        .map_err(|e| {
            field(
                ServiceError::core(
                    ErrorCode::InvalidKey,
                    format!("requester_ephemeral_pubkey_hex: {}", e.detail()),
                ),
                "requester_ephemeral_pubkey_hex",
            )
        })?;
    let (handle, index) = h.index(&req.handle)?;
    blocking(move || {
        let now = st.reg.now();
        let record = st.reg.handle_unverified(&index)?;
        let plaintext = match record {
            Some(r) => {
                let identity = h.open_at_rest(&index, &r.sealed_identity)?;
                let identity: Value = serde_json::from_slice(&identity).map_err(|e| {
                    ServiceError::internal(format!("a stored identity is not JSON: {e}"))
                })?;
                json!({"found": true, "identity": identity, "devices": h.devices(&index, now)})
            }
            None => {
                // The same work as a hit: open a record sealed at rest.
                let _ = h
                    .secrets
                    .keyring
                    .open(PURPOSE_AT_REST, DECOY_AAD, &h.decoy)
                    .map_err(|e| ServiceError::internal(format!("decoy record: {e}")))?;
                json!({"found": false, "identity": null, "devices": []})
            }
        };
        let mut text = plaintext.to_string().into_bytes();
        let padded = text.len().div_ceil(RESOLVE_PAD).max(1) * RESOLVE_PAD;
        text.resize(padded, b' ');
        let envelope = seal(
            &key,
            PURPOSE_RESOLVE,
            handle.as_bytes(),
            &text,
            &random::<SEAL_SEED_LEN>(),
        )?;
        Ok(Json(json!({
            "handle": handle.as_str(),
            "envelope": b64_encode(&envelope),
        })))
    })
    .await
}

/// `GET /check_user/{handle}` → `{exists}`.
pub async fn check_user(
    State(st): St,
    headers: HeaderMap,
    Path(handle): Path<String>,
) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    h.check_pow(&st.config, &headers, st.reg.now())?;
    let (_, index) = h.index(&handle)?;
    blocking(move || {
        let exists = st.reg.handle_unverified(&index)?.is_some();
        Ok(Json(json!({ "exists": exists })))
    })
    .await
}

fn key_view(k: &EnvelopePublicKey, active: bool) -> Value {
    json!({
        "kid_hex": k.kid().to_hex(),
        "x25519_public_key_hex": hex_encode(k.as_bytes()),
        "suite": k.suite().name(),
        "active": active,
    })
}

/// `GET /envelope_pubkey` → the active key.
pub async fn envelope_pubkey(State(st): St) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    Ok(Json(key_view(&h.keyring().active().public_key(), true)))
}

/// `GET /envelope_pubkeys` → every key, active first.
pub async fn envelope_pubkeys(State(st): St) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    let active = h.keyring().active().kid();
    let keys: Vec<Value> = h
        .keyring()
        .public_keys()
        .iter()
        .map(|k| key_view(k, k.kid() == active))
        .collect();
    Ok(Json(
        json!({"active_kid_hex": active.to_hex(), "keys": keys}),
    ))
}

/// `GET /pow/challenge` → `{challenge, difficulty, expires_at, header}` (404 when `[pow]` is
/// not enabled).
pub async fn pow_challenge(State(st): St) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    let p = &st.config.pow;
    if !p.enabled {
        return Err(ServiceError::not_found(
            "proof of work is not enabled on this service ([pow] enabled = false)",
        ));
    }
    let c = h.challenge(p.difficulty, st.reg.now(), p.ttl_seconds)?;
    Ok(Json(json!({
        "challenge": c.encode(),
        "difficulty": c.difficulty(),
        "expires_at": c.expires(),
        "header": "X-Pow-Solution",
    })))
}

fn printable(s: &str) -> bool {
    s.chars().all(|c| !c.is_control() && !c.is_whitespace())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnnounceRequest {
    handle: String,
    device_id: String,
    #[serde(default)]
    endpoint: Option<String>,
}

/// `POST /announce {handle, device_id, endpoint?}` → `{ok, ttl_seconds, expires_at}`, the same
/// answer whether or not the handle is registered (presence is only kept for registered
/// handles).
pub async fn announce(State(st): St, body: Body) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    let body = read_body(body, st.config.limits.max_body_bytes).await?;
    let req: AnnounceRequest = json_body(&body, "announce request")?;
    if req.device_id.is_empty()
        || req.device_id.len() > MAX_DEVICE_ID_LEN
        || !printable(&req.device_id)
    {
        return Err(field(
            ServiceError::bad_request(
                "device_id is 1 to 128 bytes with no whitespace or control characters",
            ),
            "device_id",
        ));
    }
    if let Some(e) = &req.endpoint {
        if e.is_empty() || e.len() > MAX_URL_LEN || !printable(e) {
            return Err(field(
                ServiceError::bad_request(
                    "endpoint is 1 to 256 bytes with no whitespace or control characters",
                ),
                "endpoint",
            ));
        }
    }
    let (_, index) = h.index(&req.handle)?;
    let ttl = st.config.presence.ttl_seconds;
    let max = st.config.presence.max_entries;
    blocking(move || {
        let now = st.reg.now();
        let expires_at = now.saturating_add(ttl);
        if st.reg.handle_unverified(&index)?.is_some() {
            let mut p = lock(&h.presence);
            let key = (index, req.device_id);
            if !p.contains_key(&key) {
                let mine: Vec<(String, UnixTime)> = p
                    .range((index, String::new())..)
                    .take_while(|((i, _), _)| *i == index)
                    .map(|((_, d), e)| (d.clone(), e.expires_at))
                    .collect();
                if mine.len() >= MAX_DEVICES_PER_HANDLE {
                    if let Some((d, _)) = mine.into_iter().min_by_key(|(_, t)| *t) {
                        p.remove(&(index, d));
                    }
                }
            }
            if !p.contains_key(&key) && p.len() >= max {
                return Err(ServiceError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the presence table is full; retry later",
                ));
            }
            p.insert(
                key,
                PresenceEntry {
                    endpoint: req.endpoint,
                    last_seen: now,
                    expires_at,
                },
            );
        }
        Ok(Json(
            json!({"ok": true, "ttl_seconds": ttl, "expires_at": expires_at}),
        ))
    })
    .await
}

/// A node URL as kept: `http(s)://` and a host, printable, at most 256 bytes, without a
/// trailing `/` (so `https://a/` and `https://a` are one node).
fn node_url(u: &str) -> ServiceResult<String> {
    let u = u.trim();
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    match rest {
        Some(r)
            if !r.is_empty() && !r.starts_with('/') && u.len() <= MAX_URL_LEN && printable(u) =>
        {
            Ok(u.trim_end_matches('/').to_owned())
        }
        _ => Err(field(
            ServiceError::bad_request(format!(
                "node {u:?} is not an http:// or https:// URL of at most 256 bytes"
            )),
            "nodes",
        )),
    }
}

/// `GET /nodes` → `{nodes, max_nodes}`.
pub async fn nodes_get(State(st): St) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    let nodes = lock(&h.nodes).clone();
    Ok(Json(
        json!({"nodes": nodes, "max_nodes": st.config.nodes.max_nodes}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodesRequest {
    nodes: Vec<String>,
}

/// `POST /nodes {nodes: [url]}` → `{added, duplicates, dropped, total}`: deduplicated, and
/// capped at `[nodes] max_nodes` (what does not fit is dropped and counted).
pub async fn nodes_post(State(st): St, body: Body) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    let body = read_body(body, st.config.limits.max_body_bytes).await?;
    let req: NodesRequest = json_body(&body, "nodes request")?;
    if req.nodes.len() > MAX_NODES_PER_POST {
        return Err(field(
            ServiceError::core(
                ErrorCode::TooLarge,
                format!("at most {MAX_NODES_PER_POST} nodes per request"),
            ),
            "nodes",
        ));
    }
    let urls = req
        .nodes
        .iter()
        .map(|u| node_url(u))
        .collect::<ServiceResult<Vec<_>>>()?;
    let max = st.config.nodes.max_nodes;
    let mut nodes = lock(&h.nodes);
    let (mut added, mut duplicates, mut dropped) = (0, 0, 0);
    for u in urls {
        if nodes.contains(&u) {
            duplicates += 1;
        } else if nodes.len() >= max {
            dropped += 1;
        } else {
            nodes.push(u);
            added += 1;
        }
    }
    Ok(Json(json!({
        "added": added, "duplicates": duplicates, "dropped": dropped, "total": nodes.len(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncRequest {
    identities: Vec<RegisterRequest>,
}

/// `POST /sync {identities: [{handle, envelope}]}` (token with `handle.sync`, `allow_sync =
/// true`) → `{merged, unchanged, conflicts, rejected}`. A handle held by another identity is a
/// conflict, reported and left as it is.
pub(crate) async fn sync(State(st): St, request: WriteRequest) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    if !st.config.allow_sync {
        return Err(ServiceError::forbidden(
            ErrorCode::Unauthorized,
            "this service does not accept sync (allow_sync = false)",
        ));
    }
    let body = request
        .authorize(&st, CAP_HANDLE_SYNC, MAX_SYNC_BODY)
        .await?;
    let req: SyncRequest = json_body(&body, "sync request")?;
    if req.identities.len() > MAX_SYNC_ITEMS {
        return Err(field(
            ServiceError::core(
                ErrorCode::TooLarge,
                format!("at most {MAX_SYNC_ITEMS} identities per sync"),
            ),
            "identities",
        ));
    }
    blocking(move || {
        let mut rejected = Vec::new();
        let mut conflicts = Vec::new();
        let mut unchanged = 0u64;
        let mut fresh: Vec<Opened> = Vec::new();
        let item_error = |handle: &str, e: &ServiceError| {
            json!({"handle": handle, "code": e.code, "message": e.message})
        };
        for item in &req.identities {
            let opened = match h.open_registration(&item.handle, &item.envelope) {
                Ok(o) => o,
                Err(e) => {
                    rejected.push(item_error(&item.handle, &e));
                    continue;
                }
            };
            if let Some(prev) = fresh.iter().find(|f| f.index == opened.index) {
                if prev.identity == opened.identity {
                    unchanged += 1;
                } else {
                    conflicts.push(item_error(opened.handle.as_str(), &taken()));
                }
                continue;
            }
            match st.reg.handle_unverified(&opened.index)? {
                Some(existing) => {
                    if h.open_at_rest(&opened.index, &existing.sealed_identity)? == opened.identity
                    {
                        unchanged += 1;
                    } else {
                        conflicts.push(item_error(opened.handle.as_str(), &taken()));
                    }
                }
                None => fresh.push(opened),
            }
        }
        let sealed = fresh
            .iter()
            .map(|o| Ok((o.index, h.seal_at_rest(&o.index, &o.identity)?)))
            .collect::<ServiceResult<Vec<_>>>()?;
        let results = if sealed.is_empty() {
            Vec::new()
        } else {
            st.writer.register_handles(sealed)?
        };
        let mut merged = 0u64;
        for (o, r) in fresh.iter().zip(results) {
            match r {
                Ok(_) => merged += 1,
                // Registered by someone else between the check and the commit.
                Err(_) => conflicts.push(item_error(o.handle.as_str(), &taken())),
            }
        }
        Ok(Json(json!({
            "merged": merged, "unchanged": unchanged,
            "conflicts": conflicts, "rejected": rejected,
        })))
    })
    .await
}

/// Spawns the presence collector: every `gc_interval_seconds`, removes the entries expired at
/// the registry's clock.
pub fn spawn_collector(
    handles: Arc<HandleRegistry>,
    reg: Arc<Registry>,
    interval_seconds: u64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(interval_seconds));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let removed = handles.collect_presence(reg.now());
            if removed > 0 {
                tracing::debug!(removed, "presence entries expired");
            }
        }
    })
}

/// One registration of a sync batch as the writer returns it.
pub type Registered = Result<HandleInfo, StoreError>;
