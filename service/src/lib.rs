//! `cairn-service`: the registry as an HTTP service (`cairn serve`), and its log as C2SP
//! tlog tiles.
//!
//! A thin shell over one open [`Registry`]: axum on tokio, rustls for TLS (mutual TLS when a
//! client CA is configured), tower middleware for timeouts and concurrency, `tracing` logs.
//! Every error is `{"error": {"code", "message", "details"}}` with cairn's stable codes
//! ([`ServiceError`]). Writes need a cairn capability token and a proof of possession by its
//! holder ([`auth`]); concurrent writes share one durable commit ([`writer`]).
//! docs/SERVICE.md documents the configuration, the endpoints and the auth recipe.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod accept;
pub mod auth;
pub mod config;
pub mod error;
pub mod handles;
pub mod limit;
pub mod metrics;
pub mod peer;
pub mod proofs;
pub mod routes;
pub mod tilecache;
mod tls;
pub mod witness;
pub mod witnessing;
pub mod writer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::error_handling::HandleErrorLayer;
use axum::http::StatusCode;
use axum::BoxError;
use cairn_store::Registry;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;

pub use config::Config;
pub use error::{ServiceError, ServiceResult};

/// What every request handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The registry.
    pub reg: Arc<Registry>,
    /// The audience write tokens must name.
    pub origin: String,
    /// The configuration.
    pub config: Config,
    /// Proof-of-possession nonces seen recently.
    pub nonces: auth::NonceCache,
    /// Proof-of-possession signatures of concurrent requests, checked together.
    pub proofs: proofs::ProofBatcher,
    /// The group-commit writer.
    pub writer: writer::Writer,
    /// When the service started.
    pub started: Instant,
    /// The figures `GET /metrics` reports.
    pub metrics: Arc<metrics::Metrics>,
    /// What opens the registry's sealed keys for the token and manifest endpoints (`None`:
    /// only keys stored without a passphrase can sign there).
    pub key_passphrase: Option<cairn_store::Passphrase>,
    /// The peer key exchange's settings (`[peer]`, its trust roots read at startup).
    pub peer: Arc<peer::PeerSettings>,
    /// Full tiles already read (they never change).
    pub tiles: tilecache::TileCache,
    /// Full entry bundles already gzip-compressed, for clients that accept gzip.
    pub gzipped_bundles: tilecache::TileCache,
    /// The handle registry (`None` without `[envelope]`).
    pub handles: Option<Arc<handles::HandleRegistry>>,
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    tls: bool,
    handle: axum_server::Handle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    state: Arc<AppState>,
    witnessing: Option<witnessing::Witnessing>,
    presence_gc: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

async fn handle_middleware_error(err: BoxError) -> ServiceError {
    if err.is::<tower::timeout::error::Elapsed>() {
        ServiceError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the request took longer than the configured limits.request_timeout_seconds",
        )
    } else {
        ServiceError::internal(format!("middleware: {err}"))
    }
}

/// The answer of a request whose handler panicked.
fn panicked(cause: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    axum::response::IntoResponse::into_response(ServiceError::internal(format!(
        "a request handler panicked: {}",
        cairn_store::panic_message(cause.as_ref())
    )))
}

impl Server {
    /// Binds `config.address` and starts serving `reg` on the current tokio runtime. The TLS
    /// files are read now: a bad certificate or key is a startup error.
    pub async fn start(config: Config, reg: Registry) -> ServiceResult<Server> {
        Server::start_with_keys(config, reg, None).await
    }

    /// As [`Server::start`], with the passphrase that opens the registry's sealed keys, so the
    /// token and manifest endpoints can sign with them. Each key is unsealed on its first use
    /// and kept open until [`Server::shutdown`] ([`Registry::keep_keys_open`]): one Argon2
    /// derivation per key, not one per signature on the thread every write waits for.
    pub async fn start_with_keys(
        config: Config,
        reg: Registry,
        key_passphrase: Option<cairn_store::Passphrase>,
    ) -> ServiceResult<Server> {
        // rustls needs one process-wide crypto provider; ring is the one compiled in (pure
        // Rust and assembly, no C toolchain as aws-lc-rs needs). rustls marks it deprecated for
        // lacking post-quantum key exchange: see docs/SERVICE.md, TLS.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Keys seen again (holders' proofs, token issuers) verified with prepared tables.
        cairn_core::crypto::prepared::process::install();
        reg.keep_keys_open(true);
        let origin = config
            .origin
            .clone()
            .unwrap_or_else(|| reg.origin().to_owned());
        let peer = Arc::new(peer::PeerSettings::load(&config.peer)?);
        let sealed = handles::SealedKeys {
            reg: &reg,
            passphrase: key_passphrase.as_ref(),
        };
        let handles = handles::HandleSecrets::load(&config, sealed)?
            .map(handles::HandleRegistry::new)
            .transpose()?
            .map(Arc::new);
        let metrics = Arc::new(metrics::Metrics::new());
        let m = metrics.clone();
        reg.observe_log_signing(Arc::new(move |alg, took| m.signature(alg, took)));
        let reg = Arc::new(reg);
        let nonces = auth::NonceCache::remembering_from(reg.now());
        let writer = writer::Writer::start(reg.clone(), Some(metrics.clone()))?;
        let state = Arc::new(AppState {
            reg,
            origin,
            config: config.clone(),
            nonces,
            proofs: proofs::ProofBatcher::default(),
            writer,
            started: Instant::now(),
            metrics,
            key_passphrase,
            peer,
            tiles: tilecache::TileCache::new(tilecache::DEFAULT_TILE_CACHE_BYTES),
            gzipped_bundles: tilecache::TileCache::new(tilecache::DEFAULT_TILE_CACHE_BYTES / 4),
            handles,
        });
        let limits = &config.limits;
        let app = routes::router(state.clone())
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                routes::read_guard,
            ))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(tokio::sync::Semaphore::new(
                    config.limits.max_concurrent_requests,
                )),
                routes::bounded_work,
            ));
        let app = app
            // A handler that panics (a bug: untrusted input must give typed errors) answers
            // 500 with cairn's error body instead of dropping the connection.
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
            .layer(
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(handle_middleware_error))
                    .timeout(Duration::from_secs(limits.request_timeout_seconds))
                    // One semaphore for every route: `Router::layer` gives each route its own
                    // copy of a layer, and `concurrency_limit` would count per route.
                    .layer(GlobalConcurrencyLimitLayer::new(
                        limits.max_concurrent_requests,
                    )),
            );
        let app = limit::guard(app, limits.max_requests_per_client, &config.rate_limit)
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                metrics::track,
            ));

        let l = tls::listen(config.address, config.tls.as_ref(), limits, app)?;
        let witnessing = match witnessing::spawn(state.clone()) {
            Ok(w) => w,
            Err(e) => {
                // Nothing may go on serving, or holding the registry, after a failed start.
                l.handle.shutdown();
                let _ = l.task.await;
                return Err(e);
            }
        };
        // Spawned once nothing can fail: a task of a failed start would hold the registry
        // (and its file's lock) for as long as the caller's runtime lives.
        let presence_gc = state.handles.clone().map(|h| {
            handles::spawn_collector(h, state.reg.clone(), config.presence.gc_interval_seconds)
        });
        Ok(Server {
            addr: l.addr,
            tls: l.tls,
            handle: l.handle,
            task: l.task,
            state,
            witnessing,
            presence_gc,
        })
    }

    /// The bound address (the real port when the configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr` or `https://addr`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// The shared state (the registry, the writer's counters).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// One line saying where the service listens and how (printed at startup).
    pub fn banner(&self) -> String {
        let c = &self.state.config;
        let mut s = format!(
            "cairn serve: {} for {:?} (registry {}), listening on {}",
            if self.tls { "HTTPS" } else { "plain HTTP" },
            self.state.reg.origin(),
            self.state.reg.path().display(),
            self.url()
        );
        if self.addr.ip().is_loopback() {
            s.push_str(" (loopback only)");
        }
        if !self.tls {
            s.push_str("; no TLS: configure [tls] before exposing it beyond this machine");
        } else if c
            .tls
            .as_ref()
            .is_some_and(|t| t.client_ca_pem_path.is_some())
        {
            s.push_str("; clients must present a certificate (mutual TLS)");
        }
        let w = &c.witnessing;
        if !w.witnesses.is_empty() {
            s.push_str(&format!(
                "; asks {} witness(es) to cosign its checkpoints every {} s",
                w.witnesses.len(),
                w.interval_seconds
            ));
        }
        if !c.auth.proof_of_possession {
            s.push_str(
                "; WARNING: auth.proof_of_possession is off, write tokens are bearer credentials",
            );
        }
        let log_alg = self
            .state
            .reg
            .log_key_id()
            .and_then(|id| self.state.reg.key(&id))
            .map(|k| k.public_key.algorithm());
        if let Some(why) = log_alg
            .ok()
            .and_then(cairn_core::checkpoint::log_key_shortfall)
        {
            s.push_str(&format!("; WARNING: {why}"));
        }
        s
    }

    /// Stops accepting connections and lets in-flight requests finish (up to `grace`), then
    /// returns; the registry is closed when the last reference to it goes.
    pub async fn shutdown(self, grace: Duration) -> ServiceResult<()> {
        // Connections first: a witnessing round in flight (which may wait on a slow witness)
        // must not keep the service answering after it was told to stop.
        self.handle.graceful_shutdown(Some(grace));
        if let Some(w) = self.witnessing {
            w.stop().await;
        }
        if let Some(gc) = self.presence_gc {
            gc.abort();
            // Wait until the task is dropped: it holds the registry, which must be closed when
            // this returns (a caller may open the file again at once).
            let _ = gc.await;
        }
        let r = self
            .task
            .await
            .map_err(|e| ServiceError::internal(format!("server task: {e}")));
        // The keys it kept open are wiped now, even if the caller keeps the registry.
        self.state.reg.keep_keys_open(false);
        r?.map_err(|e| ServiceError::internal(format!("server: {e}")))
    }
}

/// Waits for SIGINT or SIGTERM; from then on, a second one ends the process at once (exit
/// status 130) rather than waiting for the graceful shutdown: every acknowledged write is
/// already durable, so nothing acknowledged is lost.
pub async fn shutdown_signal() {
    one_signal().await;
    tokio::spawn(async {
        one_signal().await;
        tracing::warn!("a second signal: exiting without waiting for requests in flight");
        std::process::exit(130);
    });
}

async fn one_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Runs the service until SIGINT or SIGTERM, then shuts down gracefully: what `cairn serve`
/// does. `announce` receives the startup banner.
pub fn run(
    config: Config,
    reg: Registry,
    key_passphrase: Option<cairn_store::Passphrase>,
    announce: impl FnOnce(&str),
) -> ServiceResult<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServiceError::internal(format!("runtime: {e}")))?;
    rt.block_on(async move {
        let server = Server::start_with_keys(config, reg, key_passphrase).await?;
        announce(&server.banner());
        shutdown_signal().await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        server.shutdown(Duration::from_secs(30)).await
    })
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_an_error_body() {
        let resp = super::panicked(Box::new("index out of bounds"));
        assert_eq!(resp.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "internal");
        // The cause stays in the log, not in the answer.
        assert!(!String::from_utf8_lossy(&body).contains("index out of bounds"));
    }
}
