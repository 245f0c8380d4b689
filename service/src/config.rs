//! The service's TOML configuration. Names follow seed 003's daemon where they overlap
//! (`address`, `[tls]` with `cert_pem_path`/`key_pem_path`/`client_ca_pem_path`,
//! `[rate_limit]`, `[storage]`). Every table refuses unknown keys; a bad value is a startup
//! error that names its key. docs/SERVICE.md lists every option with its default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{ServiceError, ServiceResult};

/// Largest configuration file read.
pub const MAX_CONFIG_LEN: usize = 256 * 1024;

/// A configuration file's text, at most [`MAX_CONFIG_LEN`] bytes (`cairn serve` and `cairn
/// witness serve` read theirs alike).
///
/// A regular file only, and read no further than the limit, whatever its reported length: a
/// FIFO or a device (`/dev/zero`) would otherwise hang the startup or fill the memory.
pub(crate) fn read_config_text(path: &Path) -> ServiceResult<String> {
    use cairn_store::fsio::{read_regular, RegularRead};
    let refused = |why: &str| ServiceError::config(format!("{}: {why}", path.display()));
    match read_regular(path, MAX_CONFIG_LEN).map_err(|e| refused(&e.to_string()))? {
        RegularRead::Bytes(bytes) => {
            String::from_utf8(bytes).map_err(|_| refused("not UTF-8 text"))
        }
        RegularRead::NotRegular => Err(refused("not a regular file")),
        RegularRead::TooLarge => Err(refused(&format!("larger than {MAX_CONFIG_LEN} bytes"))),
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where to listen (default `127.0.0.1:8080`: loopback only).
    pub address: SocketAddr,
    /// The audience write tokens must name (default: the registry's log origin).
    pub origin: Option<String>,
    /// The registry file.
    pub storage: Storage,
    /// TLS; plain HTTP when absent.
    pub tls: Option<Tls>,
    /// Request limits.
    pub limits: Limits,
    /// Who may read and write.
    pub auth: Auth,
    /// What a node registration must carry to be admitted.
    pub admission: Admission,
    /// Rate limits and bans.
    pub rate_limit: RateLimit,
    /// The peer key exchange (`/api/v1/peer...`).
    pub peer: Peer,
    /// Witnesses asked to cosign the registry's checkpoints.
    pub witnessing: Witnessing,
    /// Seed 003: whether `POST /sync` merges identities from another registry (callers
    /// also need a token granting `handle.sync`).
    pub allow_sync: bool,
    /// Seed 003's `[envelope]`: the handle registry's pepper and envelope keys. Without it the
    /// handle endpoints answer `404 not_found`.
    pub envelope: Option<EnvelopeConfig>,
    /// Seed 003's `[presence]`: device presence TTL and collection.
    pub presence: Presence,
    /// Seed 003's `[pow]`: proof of work on `/resolve` and `/check_user`.
    pub pow: Pow,
    /// The list of known registry nodes (`GET/POST /nodes`).
    pub nodes: KnownNodes,
}

/// `[envelope]`: the handle registry's secrets.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeConfig {
    /// The blind-index pepper, 16 to 64 bytes in hex.
    pub pepper_hex: String,
    /// The envelope keys: one `active` per suite (at least one), the others retired (still
    /// open old envelopes).
    pub keys: Vec<EnvelopeKeyConfig>,
}

impl std::fmt::Debug for EnvelopeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeConfig")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// One envelope key (`[envelope] keys = [{ kid_hex, x25519_private_key_hex, active }]`): its
/// private key given in one of three ways, `x25519_private_key_hex` (seed 003's),
/// `xwing_private_key_hex` (the post-quantum X-Wing suite) or `sealed_kid_hex` (a key sealed
/// in the registry by `cairn handle key generate`, opened with the key passphrase: preferred,
/// no secret in the configuration).
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeKeyConfig {
    /// The key id, 8 bytes in hex (derived from the public key when absent; not with
    /// `sealed_kid_hex`, which is the kid).
    pub kid_hex: Option<String>,
    /// An X25519 private key, 32 bytes in hex (suite 1).
    pub x25519_private_key_hex: Option<String>,
    /// An X-Wing private key (its 32-byte seed) in hex (suite 2).
    pub xwing_private_key_hex: Option<String>,
    /// The kid of an envelope key sealed in the registry.
    pub sealed_kid_hex: Option<String>,
    /// Whether new envelopes of this key's suite are sealed to it (one active key per suite;
    /// identities at rest go to the first active key listed).
    #[serde(default)]
    pub active: bool,
}

impl std::fmt::Debug for EnvelopeKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeKeyConfig")
            .field("kid_hex", &self.kid_hex)
            .field("sealed_kid_hex", &self.sealed_kid_hex)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// `[presence]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Presence {
    /// How long an announcement keeps a device present.
    pub ttl_seconds: u64,
    /// How often the collector removes expired entries.
    pub gc_interval_seconds: u64,
    /// Most presence entries held (announcements beyond are refused, `503 unavailable`).
    pub max_entries: usize,
}

impl Default for Presence {
    fn default() -> Self {
        Presence {
            ttl_seconds: 300,
            gc_interval_seconds: 60,
            max_entries: 100_000,
        }
    }
}

/// `[pow]`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Pow {
    /// Whether `/resolve` and `/check_user` need a solved challenge.
    pub enabled: bool,
    /// Leading zero bits a solution needs (0 to 32).
    pub difficulty: u8,
    /// How long a challenge can be solved and used.
    pub ttl_seconds: u64,
    /// The HMAC secret of challenges, 16 to 64 bytes in hex; random per start when absent
    /// (challenges then do not survive a restart).
    pub secret_hex: Option<String>,
}

impl std::fmt::Debug for Pow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pow")
            .field("enabled", &self.enabled)
            .field("difficulty", &self.difficulty)
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

impl Default for Pow {
    fn default() -> Self {
        Pow {
            enabled: false,
            difficulty: 18,
            ttl_seconds: 120,
            secret_hex: None,
        }
    }
}

/// `[nodes]`: the known registry nodes.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct KnownNodes {
    /// Most nodes kept.
    pub max_nodes: usize,
}

impl Default for KnownNodes {
    fn default() -> Self {
        KnownNodes { max_nodes: 256 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            address: SocketAddr::from(([127, 0, 0, 1], 8080)),
            origin: None,
            storage: Storage::default(),
            tls: None,
            limits: Limits::default(),
            auth: Auth::default(),
            admission: Admission::default(),
            rate_limit: RateLimit::default(),
            peer: Peer::default(),
            witnessing: Witnessing::default(),
            allow_sync: false,
            envelope: None,
            presence: Presence::default(),
            pow: Pow::default(),
            nodes: KnownNodes::default(),
        }
    }
}

/// `[storage]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// Storage engine: only `"redb"` (cairn's registry file); seed 003's `memory` and `sled`
    /// are refused.
    pub kind: StorageKind,
    /// The registry file (default: `cairn --store`, else the default store).
    pub path: Option<PathBuf>,
}

/// `storage.kind`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// One redb file: the registry.
    #[default]
    Redb,
}

/// `[tls]`: PEM files.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The server's certificate chain (PEM).
    pub cert_pem_path: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_pem_path: PathBuf,
    /// When set, clients must present a certificate issued by one of these CAs (mutual TLS).
    pub client_ca_pem_path: Option<PathBuf>,
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body in bytes (default 65,536).
    pub max_body_bytes: usize,
    /// Longest a request may take, body included, in seconds (default 10; at most a day).
    pub request_timeout_seconds: u64,
    /// Longest a client may take to finish the TLS handshake, to send a connection's first
    /// byte, and to send each request's headers, in seconds (default 5; at most a day).
    pub header_timeout_seconds: u64,
    /// Most requests handled at once, every route together; more wait (default 256).
    pub max_concurrent_requests: usize,
    /// Most requests one client (an IPv4 address, an IPv6 /64) may have in flight at once;
    /// more are refused at once with `429 rate_limited`, taking none of the places above
    /// (default 64: a quarter of the default `max_concurrent_requests`).
    pub max_requests_per_client: usize,
    /// Most connections open at once (a TLS handshake counts); more are closed at once
    /// (default 4096).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            request_timeout_seconds: 10,
            header_timeout_seconds: 5,
            max_concurrent_requests: 256,
            max_requests_per_client: 64,
            max_connections: 4096,
        }
    }
}

/// The longest a configured timeout or ban may be, in seconds (a day): beyond, deadlines
/// computed from them could overflow the clock's range.
pub const MAX_CONFIGURED_SECONDS: u64 = 86_400;

/// `malformed` naming `key` when `v` is over [`MAX_CONFIGURED_SECONDS`].
fn at_most_a_day(v: u64, key: &str) -> ServiceResult<()> {
    if v > MAX_CONFIGURED_SECONDS {
        Err(ServiceError::config(format!(
            "{key} must be at most {MAX_CONFIGURED_SECONDS} (a day)"
        )))
    } else {
        Ok(())
    }
}

/// The most `limits.max_connections` and `limits.max_concurrent_requests` may be: far above
/// what one process can serve, and far below what would overflow the semaphores built from
/// them.
pub const MAX_COUNT_LIMIT: usize = 1_000_000;

/// `malformed` naming `key` unless `v` is 1 to [`MAX_CONFIGURED_SECONDS`]: a duration in
/// seconds that must not be zero.
fn seconds(v: u64, key: &str) -> ServiceResult<()> {
    at_least_one(v, key)?;
    at_most_a_day(v, key)
}

/// `malformed` naming `key` when `v` is 0.
fn at_least_one(v: u64, key: &str) -> ServiceResult<()> {
    if v == 0 {
        Err(ServiceError::config(format!("{key} must be at least 1")))
    } else {
        Ok(())
    }
}

impl Limits {
    /// Values serde cannot check by type (`cairn serve`'s and the witness's `[limits]`).
    pub(crate) fn check(&self) -> ServiceResult<()> {
        at_least_one(self.max_body_bytes as u64, "limits.max_body_bytes")?;
        seconds(
            self.request_timeout_seconds,
            "limits.request_timeout_seconds",
        )?;
        seconds(self.header_timeout_seconds, "limits.header_timeout_seconds")?;
        at_least_one(
            self.max_concurrent_requests as u64,
            "limits.max_concurrent_requests",
        )?;
        at_least_one(self.max_connections as u64, "limits.max_connections")?;
        at_least_one(
            self.max_requests_per_client as u64,
            "limits.max_requests_per_client",
        )?;
        for (v, key) in [
            (self.max_connections, "limits.max_connections"),
            (
                self.max_requests_per_client,
                "limits.max_requests_per_client",
            ),
            (
                self.max_concurrent_requests,
                "limits.max_concurrent_requests",
            ),
        ] {
            if v > MAX_COUNT_LIMIT {
                return Err(ServiceError::config(format!(
                    "{key} must be at most {MAX_COUNT_LIMIT}"
                )));
            }
        }
        if self.max_body_bytes > 64 * 1024 * 1024 {
            return Err(ServiceError::config(
                "limits.max_body_bytes must be at most 67108864 (64 MiB)",
            ));
        }
        Ok(())
    }
}

/// `[auth]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// Reads need no token (default true). When false, reads need a token granting `read`.
    pub public_reads: bool,
    /// A write must carry a proof of possession by the token's holder key (default true).
    /// Turning it off makes a token a bearer credential: anyone who sees it may use it.
    pub proof_of_possession: bool,
    /// How far a proof's timestamp may be from the server's clock, in seconds (default 300).
    pub max_clock_skew_seconds: u64,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            public_reads: true,
            proof_of_possession: true,
            max_clock_skew_seconds: 300,
        }
    }
}

/// `[admission]`: what a node registration must carry (seed 000 required a provenance
/// manifest flag; cairn makes that a policy).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Admission {
    /// The node's provenance must name a manifest recorded in the registry (default false).
    pub require_provenance_manifest: bool,
    /// The node's provenance must carry the SHA-256 of its source (default false).
    pub require_provenance_sha256: bool,
    /// When non-empty, every capability the node declares must be in this list.
    pub allowed_capabilities: Vec<String>,
}

/// `[peer]`: the peer key exchange, and who vouches for the keys this registry receives.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Peer {
    /// The registry's current trust root pins bootstrap peers: its keys with role `peer`,
    /// labelled with a peer id (default true).
    pub bootstrap_from_trust_root: bool,
    /// The peers' own registries' trust-root files, each for its peer, whose logs vouch for
    /// that peer's keys through a key-transparency bundle (default none).
    pub log_roots: Vec<LogRoot>,
    /// A transparency checkpoint must carry both an Ed25519 and an ML-DSA signature (default
    /// true).
    pub require_hybrid_checkpoint: bool,
    /// Accept the first key of a peer nothing else vouches for (default false: such a key is
    /// stored unverified until an operator accepts it).
    pub trust_on_first_use: bool,
    /// The oldest transparency checkpoint accepted, in seconds (its time is its newest
    /// entry's): older, or a version 1 bundle (no time), is `stale` (default unset: no limit;
    /// 0 accepts only a checkpoint dated this second, as the CLI's `--max-age 0`).
    pub max_checkpoint_age_seconds: Option<u64>,
    /// How far a message's timestamp may be from the server's clock, in seconds (default 300).
    pub max_clock_skew_seconds: u64,
    /// How long one of this registry's key requests waits for its response, in seconds
    /// (default 30).
    pub pending_seconds: u64,
    /// Most key requests outstanding to one peer (default 4).
    pub max_pending_per_peer: usize,
}

/// One entry of `[peer] log_roots`: `{ peer = "node-b", root = "node-b-root.json" }`, the
/// trust root of `node-b`'s own registry. A bare path (what earlier versions took) names no
/// peer and is refused at startup: a log vouches only for its own registry's peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogRoot {
    /// The trust root of `peer`'s registry.
    Peer {
        /// The peer's id.
        peer: String,
        /// Its registry's trust-root file.
        root: PathBuf,
    },
    /// A path alone (refused: it names no peer).
    Unbound(PathBuf),
}

/// A table entry of `log_roots`: its two keys and no other (an unknown or misspelled one is
/// named in the error, which serde's untagged enums cannot do).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerLogRoot {
    peer: String,
    root: PathBuf,
}

impl<'de> Deserialize<'de> for LogRoot {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<LogRoot, D::Error> {
        use serde::de::Error as _;
        match toml::Value::deserialize(d)? {
            toml::Value::String(path) => Ok(LogRoot::Unbound(path.into())),
            toml::Value::Table(t) => {
                let PeerLogRoot { peer, root } = t.try_into().map_err(D::Error::custom)?;
                Ok(LogRoot::Peer { peer, root })
            }
            other => Err(D::Error::custom(format!(
                "a log root is {{ peer = \"...\", root = \"...\" }}, found: {}",
                other.type_str()
            ))),
        }
    }
}

impl Default for Peer {
    fn default() -> Self {
        let x = cairn_core::peer::ExchangeConfig::default();
        Peer {
            bootstrap_from_trust_root: true,
            log_roots: Vec::new(),
            require_hybrid_checkpoint: true,
            trust_on_first_use: false,
            max_checkpoint_age_seconds: None,
            max_clock_skew_seconds: x.max_skew,
            pending_seconds: x.pending_ttl,
            max_pending_per_peer: x.max_pending,
        }
    }
}

/// `[witnessing]`: the witnesses (C2SP tlog-witness) the service asks to cosign its
/// checkpoints, and how often it looks for a new one.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Witnessing {
    /// The witnesses (`[[witnessing.witnesses]]`; default none: nothing is asked).
    pub witnesses: Vec<WitnessPeer>,
    /// How often the service checks whether the log grew past its newest checkpoint, or a
    /// witness has not cosigned that checkpoint yet, in seconds (default 60).
    pub interval_seconds: u64,
    /// How long one witness may take to answer, in seconds (default 10).
    pub timeout_seconds: u64,
}

impl Default for Witnessing {
    fn default() -> Self {
        Witnessing {
            witnesses: Vec::new(),
            interval_seconds: 60,
            timeout_seconds: 10,
        }
    }
}

/// `[[witnessing.witnesses]]`: one witness.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WitnessPeer {
    /// Its base URL (`http://` or `https://`); `add-checkpoint` is posted under it.
    pub url: String,
    /// Its cosigner keys (vkeys, as `cairn witness init` writes them to `witness.vkeys`): only
    /// cosignatures under these are kept.
    pub keys: Vec<String>,
}

impl WitnessPeer {
    /// The parsed keys.
    pub fn cosigner_keys(&self) -> ServiceResult<Vec<cairn_core::witness::CosignerKey>> {
        self.keys
            .iter()
            .map(|v| {
                cairn_core::witness::CosignerKey::from_vkey(v.trim()).map_err(|e| {
                    ServiceError::config(format!(
                        "witnessing.witnesses: {}: key {v:?}: {}",
                        self.url,
                        e.detail()
                    ))
                })
            })
            .collect()
    }
}

/// `[rate_limit]` (seed 003's names).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    /// Apply the limits (default true).
    pub enabled: bool,
    /// Sustained requests per second per client address, every endpoint together (default 100).
    pub per_ip_rps: u32,
    /// Requests a client may send at once: the bucket's size, refilled at `per_ip_rps`
    /// (default 200).
    pub burst: u32,
    /// How long a banned address is refused, in seconds (default 300; at most a day).
    pub ban_seconds: u64,
    /// Refusals in a row that get an address banned (default 50; 0: never ban).
    pub ban_after: u32,
    /// Tighter per-endpoint limits.
    pub endpoints: EndpointLimits,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            enabled: true,
            per_ip_rps: 100,
            burst: 200,
            ban_seconds: 300,
            ban_after: 50,
            endpoints: EndpointLimits::default(),
        }
    }
}

impl RateLimit {
    /// Values serde cannot check by type (`cairn serve`'s and the witness's `[rate_limit]`).
    pub(crate) fn check(&self) -> ServiceResult<()> {
        at_least_one(u64::from(self.per_ip_rps), "rate_limit.per_ip_rps")?;
        at_least_one(u64::from(self.burst), "rate_limit.burst")?;
        seconds(self.ban_seconds, "rate_limit.ban_seconds")?;
        let e = &self.endpoints;
        for (v, key) in [
            (e.register_rps, "rate_limit.endpoints.register_rps"),
            (e.query_rps, "rate_limit.endpoints.query_rps"),
            (e.tiles_rps, "rate_limit.endpoints.tiles_rps"),
            (e.resolve_rps, "rate_limit.endpoints.resolve_rps"),
            (e.check_user_rps, "rate_limit.endpoints.check_user_rps"),
        ] {
            if let Some(v) = v {
                at_least_one(u64::from(v), key)?;
            }
        }
        Ok(())
    }
}

/// `[rate_limit.endpoints]`: requests per second per address for one endpoint (unset: only
/// the per-address limit applies).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointLimits {
    /// `POST /api/v1/registry/register` and `/validate`.
    pub register_rps: Option<u32>,
    /// `GET /api/v1/registry/query`.
    pub query_rps: Option<u32>,
    /// `GET /checkpoint` and `/tile/...`.
    pub tiles_rps: Option<u32>,
    /// Seed 003: `POST /resolve`, per client address.
    pub resolve_rps: Option<u32>,
    /// Seed 003: `GET /check_user/{handle}`, per client address.
    pub check_user_rps: Option<u32>,
}

impl Config {
    /// Parses TOML text. Unknown keys and bad values are `malformed` errors naming the key.
    pub fn from_toml(text: &str) -> ServiceResult<Config> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            ServiceError::config(format!("configuration: {}", e.to_string().trim()))
        })?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Reads and parses a configuration file.
    pub fn from_file(path: &Path) -> ServiceResult<Config> {
        let text = read_config_text(path)?;
        Config::from_toml(&text).map_err(|e| e.context(&path.display().to_string()))
    }

    /// Values serde cannot check by type.
    fn check(&self) -> ServiceResult<()> {
        self.limits.check()?;
        self.rate_limit.check()?;
        for (v, key) in [
            (
                self.auth.max_clock_skew_seconds,
                "auth.max_clock_skew_seconds",
            ),
            (
                self.peer.max_clock_skew_seconds,
                "peer.max_clock_skew_seconds",
            ),
        ] {
            if !(1..=crate::auth::MAX_CLOCK_SKEW).contains(&v) {
                return Err(ServiceError::config(format!(
                    "{key} must be between 1 and {} (seconds)",
                    crate::auth::MAX_CLOCK_SKEW
                )));
            }
        }
        seconds(self.peer.pending_seconds, "peer.pending_seconds")?;
        at_least_one(
            self.peer.max_pending_per_peer as u64,
            "peer.max_pending_per_peer",
        )?;
        seconds(
            self.witnessing.interval_seconds,
            "witnessing.interval_seconds",
        )?;
        seconds(
            self.witnessing.timeout_seconds,
            "witnessing.timeout_seconds",
        )?;
        for w in &self.witnessing.witnesses {
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err(ServiceError::config(format!(
                    "witnessing.witnesses: url {:?} must start with http:// or https://",
                    w.url
                )));
            }
            if w.keys.is_empty() {
                return Err(ServiceError::config(format!(
                    "witnessing.witnesses: {} names no keys (its vkeys, from witness.vkeys)",
                    w.url
                )));
            }
            w.cosigner_keys()?;
        }
        seconds(self.presence.ttl_seconds, "presence.ttl_seconds")?;
        seconds(
            self.presence.gc_interval_seconds,
            "presence.gc_interval_seconds",
        )?;
        at_least_one(self.presence.max_entries as u64, "presence.max_entries")?;
        seconds(self.pow.ttl_seconds, "pow.ttl_seconds")?;
        at_least_one(self.nodes.max_nodes as u64, "nodes.max_nodes")?;
        if self.pow.difficulty > cairn_core::handle::MAX_DIFFICULTY {
            return Err(ServiceError::config(format!(
                "pow.difficulty must be at most {}",
                cairn_core::handle::MAX_DIFFICULTY
            )));
        }
        if self.pow.enabled && self.envelope.is_none() {
            return Err(ServiceError::config(
                "pow.enabled needs the handle registry: configure [envelope]",
            ));
        }
        if self.allow_sync && self.envelope.is_none() {
            return Err(ServiceError::config(
                "allow_sync needs the handle registry: configure [envelope]",
            ));
        }
        // With [envelope], every handle secret; without, a [pow] secret is still checked, so a
        // bad one is found now rather than once the handle registry is configured.
        crate::handles::HandleSecrets::check(self)?;
        if let Some(o) = &self.origin {
            if o.is_empty() || o.len() > cairn_core::token::MAX_AUDIENCE_LEN {
                return Err(ServiceError::config("origin must be 1 to 255 bytes"));
            }
        }
        Ok(())
    }

    /// True when the service listens on a loopback address only.
    pub fn is_loopback(&self) -> bool {
        self.address.ip().is_loopback()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_loopback_plain_http() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c, Config::default());
        assert!(c.is_loopback());
        assert!(c.tls.is_none());
        assert!(c.auth.proof_of_possession);
    }

    /// A log root names the peer it vouches for; a bare path parses but is refused when the
    /// peer settings are loaded, saying what to write instead.
    #[test]
    fn log_roots_name_their_peer() {
        let c = Config::from_toml(
            "[peer]\nlog_roots = [{ peer = \"node-b\", root = \"b.json\" }, \"c.json\"]",
        )
        .unwrap();
        assert_eq!(
            c.peer.log_roots,
            vec![
                LogRoot::Peer {
                    peer: "node-b".into(),
                    root: "b.json".into()
                },
                LogRoot::Unbound("c.json".into()),
            ]
        );
        let e = crate::peer::PeerSettings::load(&c.peer).unwrap_err();
        assert!(
            e.message.contains("peer.log_roots[0] (b.json)"),
            "{}",
            e.message
        );
        let unbound = Config::from_toml("[peer]\nlog_roots = [\"c.json\"]").unwrap();
        let e = crate::peer::PeerSettings::load(&unbound.peer).unwrap_err();
        assert!(e.message.contains("name the peer"), "{}", e.message);
        assert!(
            e.message.contains("peer.log_roots[0] (c.json)"),
            "{}",
            e.message
        );
    }

    /// A configuration is a regular file read no further than its limit: a device or a FIFO
    /// is refused before it is opened (where it would never end, or never start).
    #[test]
    fn config_files_are_regular_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("serve.toml");
        std::fs::write(&ok, "[limits]\nmax_body_bytes = 1024\n").unwrap();
        assert!(read_config_text(&ok).unwrap().contains("1024"));
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_CONFIG_LEN + 1]).unwrap();
        assert!(read_config_text(&big)
            .unwrap_err()
            .message
            .contains("larger than"));
        let e = read_config_text(Path::new("/dev/zero")).unwrap_err();
        assert!(e.message.contains("not a regular file"), "{}", e.message);
        let e = read_config_text(dir.path()).unwrap_err();
        assert!(e.message.contains("not a regular file"), "{}", e.message);
    }

    #[test]
    fn seed_003_names_parse() {
        let c = Config::from_toml(
            r#"
address = "0.0.0.0:8443"
[storage]
kind = "redb"
path = "./registry.redb"
[tls]
cert_pem_path = "/etc/cairn/cert.pem"
key_pem_path = "/etc/cairn/key.pem"
client_ca_pem_path = "/etc/cairn/ca.pem"
"#,
        )
        .unwrap();
        assert_eq!(c.address.port(), 8443);
        assert!(!c.is_loopback());
        assert!(c.tls.unwrap().client_ca_pem_path.is_some());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        for (text, key) in [
            ("adress = \"127.0.0.1:1\"", "adress"),
            ("[limits]\nmax_body = 1", "max_body"),
            ("[tls]\ncert_pem_path = \"a\"", "key_pem_path"),
            ("address = \"nowhere\"", "address"),
            ("[storage]\nkind = \"sled\"", "kind"),
            ("[limits]\nmax_body_bytes = 0", "limits.max_body_bytes"),
            (
                "[limits]\nrequest_timeout_seconds = -1",
                "request_timeout_seconds",
            ),
            ("[auth]\npublic_reads = \"yes\"", "public_reads"),
            ("[admission]\nallowed = []", "allowed"),
            ("[rate_limit]\nper_ip_rps = 0", "rate_limit.per_ip_rps"),
            (
                "[rate_limit]\nban_seconds = 86401",
                "rate_limit.ban_seconds",
            ),
            (
                "[limits]\nheader_timeout_seconds = 9223372036854775807",
                "limits.header_timeout_seconds",
            ),
            (
                "[limits]\nrequest_timeout_seconds = 86401",
                "limits.request_timeout_seconds",
            ),
            ("[limits]\nmax_connections = 0", "limits.max_connections"),
            (
                "[limits]\nmax_connections = 1000001",
                "limits.max_connections",
            ),
            ("[rate_limit.endpoints]\nannounce_rps = 3", "announce_rps"),
            ("[rate_limit.endpoints]\nresolve_rps = 0", "resolve_rps"),
            ("[presence]\nttl_seconds = 0", "presence.ttl_seconds"),
            ("[presence]\ngc_interval_seconds = 0", "gc_interval_seconds"),
            ("[pow]\ndifficulty = 33", "pow.difficulty"),
            ("[pow]\nenabled = true", "[envelope]"),
            ("allow_sync = true", "[envelope]"),
            ("[nodes]\nmax_nodes = 0", "nodes.max_nodes"),
            ("[envelope]\npepper_hex = \"00\"\nkeys = []", "envelope"),
            ("[peer]\npending_seconds = 0", "peer.pending_seconds"),
            (
                "[auth]\nmax_clock_skew_seconds = 0",
                "auth.max_clock_skew_seconds",
            ),
            (
                "[auth]\nmax_clock_skew_seconds = 18446744073709551615",
                "auth.max_clock_skew_seconds",
            ),
            (
                "[peer]\nmax_clock_skew_seconds = 3601",
                "peer.max_clock_skew_seconds",
            ),
            ("[peer]\nlog_root = \"a\"", "log_root"),
            (
                "[peer]\nlog_roots = [{ peer = \"b\", root = \"b.json\", verify_log = true }]",
                "verify_log",
            ),
            (
                "[peer]\nlog_roots = [{ peer = \"b\", rot = \"b.json\" }]",
                "rot",
            ),
            ("[peer]\nlog_roots = [{ peer = \"b\" }]", "root"),
            ("[peer]\nlog_roots = [7]", "log root"),
            ("[peer]\npending_seconds = 86401", "peer.pending_seconds"),
            (
                "[limits]\nmax_concurrent_requests = 2305843009213693952",
                "limits.max_concurrent_requests",
            ),
            (
                "[limits]\nmax_requests_per_client = 0",
                "limits.max_requests_per_client",
            ),
            (
                "[limits]\nmax_requests_per_client = 1000001",
                "limits.max_requests_per_client",
            ),
            (
                "[limits]\nmax_concurrent_requests = 1000001",
                "limits.max_concurrent_requests",
            ),
            ("[rate_limit]\nban_seconds = 0", "rate_limit.ban_seconds"),
            (
                "[witnessing]\ntimeout_seconds = 9223372036854775807",
                "witnessing.timeout_seconds",
            ),
            (
                "[witnessing]\ninterval_seconds = 86401",
                "witnessing.interval_seconds",
            ),
            ("[presence]\nttl_seconds = 86401", "presence.ttl_seconds"),
            (
                "[presence]\ngc_interval_seconds = 86401",
                "presence.gc_interval_seconds",
            ),
            ("[pow]\nttl_seconds = 86401", "pow.ttl_seconds"),
            ("[pow]\nsecret_hex = \"00\"", "pow.secret_hex"),
            (
                "[witnessing]\ninterval_seconds = 0",
                "witnessing.interval_seconds",
            ),
            ("[witnessing]\nwitness = []", "witness"),
            (
                "[[witnessing.witnesses]]\nurl = \"ftp://w\"\nkeys = [\"x\"]",
                "http://",
            ),
            (
                "[[witnessing.witnesses]]\nurl = \"http://w\"\nkeys = []",
                "names no keys",
            ),
            (
                "[[witnessing.witnesses]]\nurl = \"http://w\"\nkeys = [\"w+1234abcd+AAAA\"]",
                "witnessing.witnesses",
            ),
            ("[[witnessing.witnesses]]\nurl = \"http://w\"", "keys"),
        ] {
            let e = Config::from_toml(text).unwrap_err();
            assert_eq!(e.code, "malformed", "{text}");
            assert!(e.message.contains(key), "{text}: {}", e.message);
        }
    }
}
