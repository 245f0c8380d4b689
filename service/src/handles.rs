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
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Json;
use cairn_core::encoding::{b64_decode, b64_encode, hex_decode_array, hex_encode, Digest};
use cairn_core::handle::{
    blind_index, normalise, seal, verify_at_least, Challenge, EnvelopePublicKey, EnvelopeSecretKey,
    Handle, Keyring, Kid, Pepper, PowSecret, Solution, Suite, POW_NONCE_LEN, SEAL_SEED_LEN,
};
use cairn_core::{ErrorCode, UnixTime};
use cairn_store::{HandleInfo, Passphrase, Registry, StoreCode, StoreError};
use rand_core::{OsRng, RngCore};
use serde::Deserialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::error::{ServiceError, ServiceResult};
use crate::routes::{
    blocking, json_body, no_params, only_params, read_body, single_header, Params, Path, Repeated,
    WriteRequest,
};
use crate::AppState;

/// Capability a token must grant to `POST /sync`.
pub const CAP_HANDLE_SYNC: &str = "handle.sync";
/// Capability a token must grant to `POST /handles/reregister` and `POST /handles/remove` (an
/// operator's: replacing or removing the identity of a handle someone registered).
pub const CAP_HANDLE_ADMIN: &str = "handle.admin";
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

/// Where an `[envelope] keys` entry's private key comes from.
enum KeySource {
    /// Given in the configuration (`x25519_private_key_hex` / `xwing_private_key_hex`).
    Inline(Suite, Zeroizing<[u8; 32]>, Option<Kid>),
    /// Sealed in the registry under this kid (`sealed_kid_hex`).
    Sealed(Kid),
}

/// Opens the envelope keys sealed in the registry: the registry and the key passphrase.
#[derive(Clone, Copy)]
pub struct SealedKeys<'a> {
    /// The registry holding them.
    pub reg: &'a Registry,
    /// The key passphrase (`None` opens only keys stored without one).
    pub passphrase: Option<&'a Passphrase>,
}

fn config_error(key: &str, e: cairn_core::Error) -> ServiceError {
    ServiceError::config(format!("envelope.{key}: {}", e.detail()))
}

/// Reads each `[envelope] keys` entry: exactly one private-key source, a kid in hex.
fn key_sources(env: &crate::config::EnvelopeConfig) -> ServiceResult<Vec<(KeySource, bool)>> {
    let mut out = Vec::with_capacity(env.keys.len());
    for (i, k) in env.keys.iter().enumerate() {
        let kid = k
            .kid_hex
            .as_deref()
            .map(|h| Kid::from_hex(h.trim()))
            .transpose()
            .map_err(|e| config_error(&format!("keys[{i}].kid_hex"), e))?;
        let inline = |name: &str, hex: &str, suite| -> ServiceResult<KeySource> {
            let secret = hex_decode_array::<32>(hex.trim())
                .map_err(|e| config_error(&format!("keys[{i}].{name}"), e))?;
            Ok(KeySource::Inline(suite, Zeroizing::new(secret), kid))
        };
        let source = match (
            &k.x25519_private_key_hex,
            &k.xwing_private_key_hex,
            &k.sealed_kid_hex,
        ) {
            (Some(h), None, None) => {
                inline("x25519_private_key_hex", h, Suite::X25519ChaCha20Poly1305)?
            }
            (None, Some(h), None) => {
                inline("xwing_private_key_hex", h, Suite::XWingChaCha20Poly1305)?
            }
            (None, None, Some(h)) => {
                if kid.is_some() {
                    return Err(ServiceError::config(format!(
                        "envelope.keys[{i}]: kid_hex does not go with sealed_kid_hex (the sealed key's kid is its own)"
                    )));
                }
                KeySource::Sealed(
                    Kid::from_hex(h.trim())
                        .map_err(|e| config_error(&format!("keys[{i}].sealed_kid_hex"), e))?,
                )
            }
            _ => {
                return Err(ServiceError::config(format!(
                    "envelope.keys[{i}]: give exactly one of x25519_private_key_hex, \
                     xwing_private_key_hex and sealed_kid_hex"
                )))
            }
        };
        out.push((source, k.active));
    }
    if !out.iter().any(|(_, active)| *active) {
        return Err(ServiceError::config(
            "envelope.keys: one key must be active (active = true)",
        ));
    }
    Ok(out)
}

impl HandleSecrets {
    /// Checks `[envelope]` and `[pow]` without opening keys sealed in the registry (what
    /// configuration validation can do before the registry is open). Without `[envelope]`,
    /// only a configured `pow.secret_hex`.
    pub fn check(config: &Config) -> ServiceResult<()> {
        let Some(env) = &config.envelope else {
            if config.pow.secret_hex.is_some() {
                pow_secret(config)?;
            }
            return Ok(());
        };
        Pepper::from_hex(env.pepper_hex.trim()).map_err(|e| config_error("pepper_hex", e))?;
        let sources = key_sources(env)?;
        if sources
            .iter()
            .all(|(s, _)| matches!(s, KeySource::Inline(..)))
        {
            keyring(sources, None)?;
        }
        pow_secret(config)?;
        Ok(())
    }

    /// Reads the secrets of `config` (`None` without `[envelope]`), opening the keys sealed in
    /// `sealed.reg`; every bad value is a configuration error naming its key.
    pub fn load(config: &Config, sealed: SealedKeys<'_>) -> ServiceResult<Option<HandleSecrets>> {
        let Some(env) = &config.envelope else {
            return Ok(None);
        };
        let pepper =
            Pepper::from_hex(env.pepper_hex.trim()).map_err(|e| config_error("pepper_hex", e))?;
        let keyring = keyring(key_sources(env)?, Some(sealed))?;
        Ok(Some(HandleSecrets {
            pepper,
            keyring,
            pow_secret: pow_secret(config)?,
        }))
    }
}

/// The keyring of the configured keys: actives in the order listed (one per suite).
fn keyring(
    sources: Vec<(KeySource, bool)>,
    sealed: Option<SealedKeys<'_>>,
) -> ServiceResult<Keyring> {
    let mut actives = Vec::new();
    let mut retired = Vec::new();
    for (i, (source, active)) in sources.into_iter().enumerate() {
        let key = match source {
            KeySource::Inline(suite, secret, kid) => {
                EnvelopeSecretKey::from_bytes(suite, kid, secret.as_slice())
                    .map_err(|e| config_error(&format!("keys[{i}]"), e))?
            }
            KeySource::Sealed(kid) => {
                let Some(s) = sealed else {
                    continue;
                };
                // The store's code stays (`bad_passphrase`, `passphrase_required`, `not_found`,
                // ...): a wrong passphrase is not a bad configuration.
                let (info, secret) =
                    s.reg.open_envelope_key(&kid.0, s.passphrase).map_err(|e| {
                        let mut err = ServiceError::from(e);
                        err.message = format!("envelope.keys[{i}].sealed_kid_hex: {}", err.message);
                        err
                    })?;
                let suite = Suite::from_id(info.suite)
                    .map_err(|e| config_error(&format!("keys[{i}].sealed_kid_hex"), e))?;
                let key = EnvelopeSecretKey::from_bytes(suite, Some(kid), &secret)
                    .map_err(|e| config_error(&format!("keys[{i}].sealed_kid_hex"), e))?;
                if key.public_key().as_bytes() != info.public_key.as_slice() {
                    return Err(ServiceError::config(format!(
                        "envelope.keys[{i}].sealed_kid_hex: the sealed key does not match its stored public key"
                    )));
                }
                key
            }
        };
        if active {
            actives.push(key);
        } else {
            retired.push(key);
        }
    }
    Keyring::with_actives(actives, retired).map_err(|e| config_error("keys", e))
}

/// The proof-of-work secret: `[pow] secret_hex`, or a random one for this run.
fn pow_secret(config: &Config) -> ServiceResult<PowSecret> {
    match &config.pow.secret_hex {
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
                .map_err(|e| ServiceError::config(format!("pow.secret_hex: {}", e.detail())))
        }
        None => PowSecret::from_bytes(&random::<32>())
            .map_err(|e| ServiceError::internal(e.detail().to_owned())),
    }
}

/// The proof-of-work solutions used, each until its challenge expires (a challenge is
/// refused once expired, so its id need not be remembered after). Filed by expiry as well, so
/// that forgetting the expired costs what they are, not a scan of every id still held.
#[derive(Debug, Default)]
struct UsedSolutions {
    /// Challenge id → its expiry.
    ids: HashMap<[u8; POW_NONCE_LEN], UnixTime>,
    /// (expiry, challenge id), for [`UsedSolutions::forget_expired`].
    by_expiry: std::collections::BTreeSet<(UnixTime, [u8; POW_NONCE_LEN])>,
    /// The time the last check ran at (`crate::auth::check_time`).
    latest: UnixTime,
}

impl UsedSolutions {
    /// Forgets the solutions whose challenges expired before `now`.
    fn forget_expired(&mut self, now: UnixTime) {
        while let Some(&(expires, id)) = self.by_expiry.first() {
            if expires >= now {
                break;
            }
            self.by_expiry.pop_first();
            self.ids.remove(&id);
        }
    }

    fn insert(&mut self, id: [u8; POW_NONCE_LEN], expires: UnixTime) {
        if let Some(old) = self.ids.insert(id, expires) {
            self.by_expiry.remove(&(old, id));
        }
        self.by_expiry.insert((expires, id));
    }
}

/// A device's presence.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PresenceEntry {
    endpoint: Option<String>,
    last_seen: UnixTime,
    expires_at: UnixTime,
    /// Announced before its handle's latest registration, re-registration or removal: kept
    /// (its place in the table, until it expires, as before) but shown to no one, until the
    /// device announces itself again.
    hidden: bool,
}

/// The handle registry's state in a running service.
pub struct HandleRegistry {
    secrets: HandleSecrets,
    /// A record sealed at rest to the active key, opened by resolutions of missing handles.
    decoy: Vec<u8>,
    /// Used proof-of-work solutions, until their challenges expire.
    used: Mutex<UsedSolutions>,
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
            used: Mutex::new(UsedSolutions::default()),
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

    /// Hides the devices of `index` when the write answered `e` was committed nonetheless
    /// ([`crate::writer::committed_anyway`]): the change stands, so must what goes with it.
    fn hide_if_committed(&self, e: &ServiceError, index: &Digest) {
        if crate::writer::committed_anyway(e) {
            self.hide_presence(index);
        }
    }

    /// Stores an opened registration: `Unchanged` when the handle already holds exactly this
    /// identity, `already_exists` (409) when it holds another.
    fn store(&self, st: &AppState, o: &Opened) -> ServiceResult<Stored> {
        if let Some(stored) = self.held(st, o)? {
            return Ok(stored);
        }
        let sealed = self.seal_at_rest(&o.index, &o.identity)?;
        match st.writer.register_handle(o.index, sealed) {
            Ok(info) => {
                self.hide_presence(&o.index);
                Ok(Stored::Registered(info.seq))
            }
            // Registered meanwhile (a concurrent request, a retry after a timeout): the same
            // identity is `Unchanged` then too.
            Err(e) if e.code == StoreCode::AlreadyExists.as_str() => {
                self.held(st, o)?.ok_or_else(taken)
            }
            Err(e) => {
                self.hide_if_committed(&e, &o.index);
                Err(e)
            }
        }
    }

    /// The record of the handle `index`, checked against its ledger entry under the signed
    /// head: the at-rest seal binds a record to its handle but, needing only the public
    /// envelope key, does not say who wrote it; the ledger does. A record edited in the file
    /// is `corrupt`.
    fn record(st: &AppState, index: &Digest) -> ServiceResult<Option<HandleInfo>> {
        Ok(st.reg.handle(index)?)
    }

    /// [`Self::record`], doing the same work whether or not the handle is registered (what
    /// the anti-enumeration answers need): a miss proves an entry under the signed head too.
    fn record_alike(st: &AppState, index: &Digest) -> ServiceResult<Option<HandleInfo>> {
        let record = Self::record(st, index)?;
        if record.is_none() {
            std::hint::black_box(st.reg.entry(0)?);
        }
        Ok(record)
    }

    /// What the registry holds for `o`'s handle: nothing (`None`), exactly `o`'s identity
    /// (`Unchanged`), or another (`already_exists`, 409).
    fn held(&self, st: &AppState, o: &Opened) -> ServiceResult<Option<Stored>> {
        let Some(existing) = Self::record(st, &o.index)? else {
            return Ok(None);
        };
        if self.open_at_rest(&o.index, &existing.sealed_identity)? == o.identity {
            Ok(Some(Stored::Unchanged))
        } else {
            Err(taken())
        }
    }

    /// Checks the proof of work of a request when `[pow] enabled`: present, issued by this
    /// service, unexpired, enough work, a challenge asking at least today's `[pow] difficulty`
    /// (with a fixed `secret_hex`, a challenge issued before the difficulty was raised would
    /// otherwise stay good at the old one until it expires), and not used before (each
    /// solution is accepted once).
    pub fn check_pow(
        &self,
        config: &Config,
        headers: &HeaderMap,
        now: UnixTime,
    ) -> ServiceResult<()> {
        if !config.pow.enabled {
            return Ok(());
        }
        let given = single_header(headers, POW_HEADER).map_err(|Repeated| {
            pow_refused(cairn_core::Error::malformed(
                "the X-Pow-Solution header is given more than once",
            ))
        })?;
        let Some(text) = given else {
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
        let id = verify_at_least(
            &solution.challenge,
            solution.counter,
            &self.secrets.pow_secret,
            now,
            config.pow.difficulty,
        )
        .map_err(pow_refused)?;
        let mut used = lock(&self.used);
        // Judged again at the time the memory runs at: a check that read its clock before
        // another forgot this solution (its challenge expired) must not find it absent and
        // take it a second time.
        let now = crate::auth::check_time(&mut used.latest, now);
        used.forget_expired(now);
        if solution.challenge.expires() < now {
            return Err(pow_refused(cairn_core::Error::new(
                ErrorCode::Expired,
                "the challenge expired; solve a new one",
            )));
        }
        if used.ids.contains_key(&id) {
            return Err(pow_refused(cairn_core::Error::new(
                ErrorCode::Replayed,
                "this solution was already used; solve a new challenge",
            )));
        }
        if used.ids.len() >= MAX_USED_SOLUTIONS {
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
            .filter(|(_, e)| e.expires_at > now && !e.hidden)
            .map(|((_, device), e)| {
                json!({"device_id": device, "endpoint": e.endpoint, "last_seen": e.last_seen,
                       "expires_at": e.expires_at})
            })
            .collect()
    }

    /// Hides every device of the handle `index`: after its removal or re-registration, and
    /// after its registration, so that devices announced while it was free (which
    /// `/announce` keeps, to treat every handle alike) never show for its new holder. Called
    /// after the write's commit: a device announced after that is announced for the holder.
    ///
    /// Hidden, not removed: a removal would free places in the table when a handle is
    /// registered, and an outsider who keeps the table full, with devices announced for the
    /// handles it watches, would learn from which of them a re-announcement finds gone (and
    /// then refused) that those handles were just registered.
    fn hide_presence(&self, index: &Digest) {
        // Only this handle's range (at most 16 devices), not a scan of every entry under the
        // lock `/announce` takes.
        let mut p = lock(&self.presence);
        for (_, e) in p
            .range_mut((*index, String::new())..)
            .take_while(|((i, _), _)| i == index)
        {
            e.hidden = true;
        }
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
        lock(&self.used).ids.len()
    }
}

/// An identity is a JSON object of at most [`MAX_IDENTITY_LEN`] bytes whose `handle` member
/// normalises to the handle it is registered under.
/// Whether JSON text `json` holds an object that names a member twice, at any depth (false
/// for text that is not JSON: the caller's parse says so).
fn names_a_member_twice(json: &[u8]) -> bool {
    use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
    /// A JSON value, read only to refuse a member named twice.
    struct Distinct;
    impl<'de> Deserialize<'de> for Distinct {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Distinct, D::Error> {
            d.deserialize_any(DistinctVisitor)
        }
    }
    struct DistinctVisitor;
    impl<'de> Visitor<'de> for DistinctVisitor {
        type Value = Distinct;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Distinct, A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(k) = m.next_key::<String>()? {
                if !seen.insert(k) {
                    return Err(A::Error::custom("a member named twice"));
                }
                m.next_value::<Distinct>()?;
            }
            Ok(Distinct)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Distinct, A::Error> {
            while s.next_element::<Distinct>()?.is_some() {}
            Ok(Distinct)
        }
        fn visit_bool<E: Error>(self, _: bool) -> Result<Distinct, E> {
            Ok(Distinct)
        }
        fn visit_i64<E: Error>(self, _: i64) -> Result<Distinct, E> {
            Ok(Distinct)
        }
        fn visit_u64<E: Error>(self, _: u64) -> Result<Distinct, E> {
            Ok(Distinct)
        }
        fn visit_f64<E: Error>(self, _: f64) -> Result<Distinct, E> {
            Ok(Distinct)
        }
        fn visit_str<E: Error>(self, _: &str) -> Result<Distinct, E> {
            Ok(Distinct)
        }
        fn visit_unit<E: Error>(self) -> Result<Distinct, E> {
            Ok(Distinct)
        }
    }
    serde_json::from_slice::<Distinct>(json).is_err_and(|e| e.is_data())
}

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
    // Parsers differ on which of two same-named members they keep (serde_json the last):
    // an identity whose "handle" one client reads as this handle and another as a different
    // one names no single handle.
    if names_a_member_twice(identity) {
        return bad(
            ErrorCode::Malformed,
            "the identity inside the envelope names a member twice",
            "identity",
        );
    }
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
pub async fn register(State(st): St, uri: Uri, body: Body) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    no_params(&uri)?;
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
pub async fn resolve(
    State(st): St,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    no_params(&uri)?;
    let body = read_body(body, st.config.limits.max_body_bytes).await?;
    let req: ResolveRequest = json_body(&body, "resolve request")?;
    // The key's length names the suite the answer is sealed with: 32 bytes X25519, 1216
    // bytes X-Wing (the requester's choice).
    let key = cairn_core::encoding::hex_decode(req.requester_ephemeral_pubkey_hex.trim())
        .and_then(|b| {
            let suite = EnvelopePublicKey::suite_of_len(b.len())?;
            EnvelopePublicKey::from_bytes(suite, None, &b)
        })
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
    // The proof of work last: a request refused for its own form does not use up a solution.
    h.check_pow(&st.config, &headers, st.reg.now())?;
    blocking(move || {
        let now = st.reg.now();
        let record = HandleRegistry::record_alike(&st, &index)?;
        // `{"found","identity","devices"}`, in that order.
        let mut text = Vec::with_capacity(RESOLVE_PAD);
        match record {
            Some(r) => {
                // The identity's bytes as registered (key order, numbers, spacing and all),
                // so that a client that signed or hashed them can check what it gets back.
                // Checked to be one JSON value first: spliced into the answer, anything else
                // could change its meaning. (Registration refuses members named twice; a
                // record stored before it did is answered as stored, as it was then.)
                let identity = h.open_at_rest(&index, &r.sealed_identity)?;
                serde_json::from_slice::<serde::de::IgnoredAny>(&identity).map_err(|e| {
                    ServiceError::internal(format!("a stored identity is not JSON: {e}"))
                })?;
                text.extend_from_slice(br#"{"found":true,"identity":"#);
                text.extend_from_slice(&identity);
                text.extend_from_slice(br#","devices":"#);
                text.extend_from_slice(Value::from(h.devices(&index, now)).to_string().as_bytes());
                text.push(b'}');
            }
            None => {
                // The same work as a hit: open a record sealed at rest.
                let _ = h
                    .secrets
                    .keyring
                    .open(PURPOSE_AT_REST, DECOY_AAD, &h.decoy)
                    .map_err(|e| ServiceError::internal(format!("decoy record: {e}")))?;
                text.extend_from_slice(br#"{"found":false,"identity":null,"devices":[]}"#);
            }
        }
        let padded = text.len().div_ceil(RESOLVE_PAD).max(1) * RESOLVE_PAD;
        text.resize(padded, b' ');
        // A key that parses but cannot be sealed to (an all-zero X25519 exchange: a
        // small-order point) is the requester's key's fault.
        let envelope = seal(
            &key,
            PURPOSE_RESOLVE,
            handle.as_bytes(),
            &text,
            &random::<SEAL_SEED_LEN>(),
        )
        .map_err(|e| field(e.into(), "requester_ephemeral_pubkey_hex"))?;
        Ok(Json(json!({
            "handle": handle.as_str(),
            "envelope": b64_encode(&envelope),
        })))
    })
    .await
}

/// `POST /handles/reregister {handle, envelope}` (capability `handle.admin`) → `{ok, status:
/// "reregistered", seq}` or `{ok, status: "unchanged"}`; `404 not_found` for a free handle.
/// The envelope is sealed as for `/register`; the identity replaces the one the handle holds,
/// as a `handle_registered` entry naming the identity digest it replaces.
pub(crate) async fn reregister(State(st): St, request: WriteRequest) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    let body = request
        .authorize(&st, CAP_HANDLE_ADMIN, st.config.limits.max_body_bytes)
        .await?;
    let req: RegisterRequest = json_body(&body, "re-registration request")?;
    blocking(move || {
        let opened = h.open_registration(&req.handle, &req.envelope)?;
        let existing = HandleRegistry::record(&st, &opened.index)?.ok_or_else(|| {
            field(
                ServiceError::not_found("this handle is not registered (POST /register)"),
                "handle",
            )
        })?;
        if h.open_at_rest(&opened.index, &existing.sealed_identity)? == opened.identity {
            return Ok(Json(json!({"ok": true, "status": "unchanged"})));
        }
        let sealed = h.seal_at_rest(&opened.index, &opened.identity)?;
        let info = st
            .writer
            .reregister_handle(opened.index, existing.identity_digest(), sealed)
            .inspect_err(|e| h.hide_if_committed(e, &opened.index))?;
        // Devices announced under the replaced identity are not the new one's.
        h.hide_presence(&opened.index);
        Ok(Json(
            json!({"ok": true, "status": "reregistered", "seq": info.seq}),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveRequest {
    handle: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /handles/remove {handle, reason?}` (capability `handle.admin`) → `{ok, status:
/// "removed", seq}`; `404 not_found` for a free handle. The `handle_removed` entry holds the
/// blind index, the identity digest and the reason (the ledger's limit on reasons applies:
/// `too_large`); the handle's presence goes with it.
pub(crate) async fn remove(State(st): St, request: WriteRequest) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    let body = request
        .authorize(&st, CAP_HANDLE_ADMIN, st.config.limits.max_body_bytes)
        .await?;
    let req: RemoveRequest = json_body(&body, "removal request")?;
    // Left out, the reason is the default; given, it says something (as a peer's removal).
    if req.reason.as_deref().is_some_and(str::is_empty) {
        return Err(field(
            ServiceError::bad_request("reason is empty (leave it out for the default)"),
            "reason",
        ));
    }
    let reason = req.reason.unwrap_or_else(|| "removed over HTTP".to_owned());
    let (_, index) = h.index(&req.handle)?;
    blocking(move || {
        // The store refuses a free handle (`not_found`): one rule, one read, inside the commit.
        let seq = st
            .writer
            .remove_handle(index, reason)
            .inspect_err(|e| h.hide_if_committed(e, &index))
            .map_err(|e| match e.code {
                "not_found" => field(e, "handle"),
                _ => e,
            })?;
        h.hide_presence(&index);
        Ok(Json(json!({"ok": true, "status": "removed", "seq": seq})))
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
    let (_, index) = h.index(&handle)?;
    h.check_pow(&st.config, &headers, st.reg.now())?;
    blocking(move || {
        let exists = HandleRegistry::record_alike(&st, &index)?.is_some();
        Ok(Json(json!({ "exists": exists })))
    })
    .await
}

/// One envelope key: seed 003's `kid_hex` and `x25519_public_key_hex` (for X25519 keys), the
/// suite, and `public_key_hex` for every suite (`xwing_public_key_hex` too for X-Wing keys).
fn key_view(k: &EnvelopePublicKey, active: bool) -> Value {
    let mut v = json!({
        "kid_hex": k.kid().to_hex(),
        "suite": k.suite().name(),
        "suite_id": k.suite().id(),
        "public_key_hex": hex_encode(k.as_bytes()),
        "active": active,
    });
    let named = format!("{}_public_key_hex", k.suite().short_name());
    v[named] = json!(hex_encode(k.as_bytes()));
    v
}

/// `GET /envelope_pubkey[?suite=x25519|xwing]` → the active key of that suite; without a
/// suite, the active X25519 key (what seed 003's clients expect), else the primary one.
pub(crate) async fn envelope_pubkey(
    State(st): St,
    Params(q): Params,
) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    only_params(&q, &["suite"])?;
    let key = match q.get("suite") {
        None => h
            .keyring()
            .active_for(Suite::X25519ChaCha20Poly1305)
            .unwrap_or_else(|| h.keyring().active()),
        Some(name) => {
            let suite =
                Suite::from_name(name).map_err(|e| field(ServiceError::from(e), "suite"))?;
            h.keyring().active_for(suite).ok_or_else(|| {
                ServiceError::not_found(format!(
                    "this registry has no active {} envelope key",
                    suite.short_name()
                ))
            })?
        }
    };
    Ok(Json(key_view(&key.public_key(), true)))
}

/// `GET /envelope_pubkeys` → every key, the active ones first.
pub async fn envelope_pubkeys(State(st): St) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    let ring = h.keyring();
    let keys: Vec<Value> = ring
        .public_keys()
        .iter()
        .map(|k| key_view(k, ring.is_active(&k.kid())))
        .collect();
    Ok(Json(
        json!({"active_kid_hex": ring.active().kid().to_hex(), "keys": keys}),
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

/// `POST /announce {handle, device_id, endpoint?}` → `{ok, ttl_seconds, expires_at}`.
///
/// Whether the handle is registered changes nothing here, not the answer, its time, nor how
/// full the table gets: an announcement for a free handle takes its place as one for a
/// registered handle does (were only the latter kept, an outsider could fill the table to one
/// place short and learn from the next `503` whether the handle before was registered).
/// Devices are shown only in the answer of a registered handle (`/resolve`), and a new
/// registration starts with none shown (`HandleRegistry::hide_presence`).
pub async fn announce(State(st): St, uri: Uri, body: Body) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    no_params(&uri)?;
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
    let now = st.reg.now();
    let expires_at = now.saturating_add(ttl);
    let mut p = lock(&h.presence);
    let key = (index, req.device_id);
    if !p.contains_key(&key) {
        if p.len() >= max {
            return Err(ServiceError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the presence table is full; retry later",
            ));
        }
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
    p.insert(
        key,
        PresenceEntry {
            endpoint: req.endpoint,
            last_seen: now,
            expires_at,
            hidden: false,
        },
    );
    Ok(Json(
        json!({"ok": true, "ttl_seconds": ttl, "expires_at": expires_at}),
    ))
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
pub async fn nodes_post(State(st): St, uri: Uri, body: Body) -> ServiceResult<Json<Value>> {
    let h = registry(&st)?;
    no_params(&uri)?;
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
            match h.held(&st, &opened) {
                Ok(None) => fresh.push(opened),
                Ok(Some(_)) => unchanged += 1,
                Err(e) if e.code == StoreCode::AlreadyExists.as_str() => {
                    conflicts.push(item_error(opened.handle.as_str(), &e))
                }
                Err(e) => return Err(e),
            }
        }
        let sealed = fresh
            .iter()
            .map(|o| Ok((o.index, h.seal_at_rest(&o.index, &o.identity)?)))
            .collect::<ServiceResult<Vec<_>>>()?;
        let results = if sealed.is_empty() {
            Vec::new()
        } else {
            st.writer.register_handles(sealed).inspect_err(|e| {
                // Committed nonetheless: those the registry now holds as sent are registered.
                let committed = fresh.iter().filter(|_| crate::writer::committed_anyway(e));
                for o in committed {
                    if matches!(h.held(&st, o), Ok(Some(_))) {
                        h.hide_presence(&o.index);
                    }
                }
            })?
        };
        let mut merged = 0u64;
        for (o, r) in fresh.iter().zip(results) {
            match r {
                Ok(_) => {
                    h.hide_presence(&o.index);
                    merged += 1;
                }
                // Registered meanwhile (a concurrent registration or sync): the same identity
                // is unchanged, as for `/register`; another is a conflict.
                Err(e) if e.code() == StoreCode::AlreadyExists => match h.held(&st, o) {
                    Ok(Some(_)) => unchanged += 1,
                    Ok(None) | Err(_) => conflicts.push(item_error(o.handle.as_str(), &taken())),
                },
                Err(e) => rejected.push(item_error(o.handle.as_str(), &ServiceError::from(e))),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Used solutions are forgotten once their challenges expire, the earliest first, and
    /// only those: what is still valid stays refused as replayed.
    #[test]
    fn used_solutions_are_forgotten_at_their_expiry_only() {
        let mut u = UsedSolutions::default();
        for (n, expires) in [(1u8, 30), (2, 10), (3, 20), (4, 20)] {
            u.insert([n; POW_NONCE_LEN], expires);
        }
        u.forget_expired(10);
        assert_eq!(u.ids.len(), 4, "expiring at 10: still valid at 10");
        u.forget_expired(21);
        let mut left: Vec<u8> = u.ids.keys().map(|k| k[0]).collect();
        left.sort_unstable();
        assert_eq!(left, [1]);
        assert_eq!(u.by_expiry.len(), 1);
        // The same id again (a longer-lived challenge cannot reuse it, but the index must
        // stay one entry per id whatever happens).
        u.insert([1; POW_NONCE_LEN], 40);
        u.forget_expired(35);
        assert_eq!((u.ids.len(), u.by_expiry.len()), (1, 1));
        u.forget_expired(41);
        assert!(u.ids.is_empty() && u.by_expiry.is_empty());
    }

    /// A solution used once, then forgotten by a check one second past its challenge's expiry,
    /// is not taken again by a check whose clock was read a moment earlier: the memory's time
    /// does not go back (as the nonce memory's), and the solution is expired at it.
    #[test]
    fn a_forgotten_solution_is_not_taken_again_by_a_late_clock() {
        let config = Config::from_toml(&format!(
            "[envelope]\npepper_hex = \"{}\"\nkeys = [{{ kid_hex = \"0001020304050607\", \
             x25519_private_key_hex = \"{}\", active = true }}]\n\
             [pow]\nenabled = true\ndifficulty = 1\nttl_seconds = 60\nsecret_hex = \"{}\"\n",
            "0f".repeat(32),
            "1e".repeat(32),
            "07".repeat(32)
        ))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::create(
            dir.path().join("r.redb"),
            cairn_store::CreateOptions::new("pow.test/log", cairn_store::Protection::Insecure),
        )
        .unwrap();
        let secrets = HandleSecrets::load(
            &config,
            SealedKeys {
                reg: &reg,
                passphrase: None,
            },
        )
        .unwrap()
        .unwrap();
        let h = HandleRegistry::new(secrets).unwrap();
        let solved = |issued: UnixTime| {
            let challenge = h.challenge(1, issued, 60).unwrap();
            let counter = cairn_core::handle::solve(&challenge, 1 << 20).unwrap();
            let mut headers = HeaderMap::new();
            let text = cairn_core::handle::Solution { challenge, counter }.encode();
            headers.insert(POW_HEADER, text.parse().unwrap());
            headers
        };
        let first = solved(1_000); // expires at 1060
        h.check_pow(&config, &first, 1_060).unwrap();
        // Another request, its clock at 1061, forgets the first solution.
        h.check_pow(&config, &solved(1_050), 1_061).unwrap();
        // The first again, its clock read at 1060 before it waited for the memory.
        let e = h.check_pow(&config, &first, 1_060).unwrap_err();
        assert_eq!(e.code, "expired", "{}", e.message);
        // Within its time it stays refused as used.
        let second = solved(1_070);
        h.check_pow(&config, &second, 1_071).unwrap();
        let e = h.check_pow(&config, &second, 1_072).unwrap_err();
        assert_eq!(e.code, "replayed", "{}", e.message);
    }
}
