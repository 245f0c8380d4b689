//! The witness's HTTP interface: `POST /add-checkpoint` (C2SP tlog-witness) and
//! `GET /health`. Plain text bodies, as the protocol has them; TLS as `cairn serve` does it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{BoxError, Router};
use cairn_core::witness::add::RefusalKind;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;

use super::{AddError, Witness, WitnessConfig};
use crate::error::{ServiceError, ServiceResult};

/// `Content-Type` of a 409 answer (C2SP tlog-witness).
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
const TEXT: &str = "text/plain; charset=utf-8";

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The witness and a bound on its blocking work.
#[derive(Clone)]
struct Served {
    witness: Arc<Witness>,
    /// `limits.max_concurrent_requests` permits, one held by each `add-checkpoint`'s blocking
    /// work for as long as it runs: a request that times out stops waiting for its answer,
    /// not the work, so without it the work of timed-out requests would pile up unbounded.
    work: Arc<tokio::sync::Semaphore>,
}

async fn add_checkpoint(State(s): State<Served>, body: Bytes) -> Response {
    let Ok(permit) = s.work.clone().acquire_owned().await else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            TEXT,
            "the witness is stopping; nothing was cosigned\n".into(),
        );
    };
    let w = s.witness.clone();
    let r = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        w.add_checkpoint(&body)
    })
    .await;
    match r {
        Ok(Ok(lines)) => text(StatusCode::OK, TEXT, lines),
        Ok(Err(AddError::Refused(r))) => {
            let status = StatusCode::from_u16(r.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let ct = match r.kind {
                RefusalKind::Conflict(_) => SIZE_CONTENT_TYPE,
                _ => TEXT,
            };
            text(status, ct, r.body())
        }
        Ok(Err(AddError::Failed(e))) => {
            tracing::error!("add-checkpoint: {}", e.message);
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                TEXT,
                "the witness failed; nothing was cosigned\n".into(),
            )
        }
        Err(e) => {
            tracing::error!("add-checkpoint task: {e}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                TEXT,
                "the witness failed; nothing was cosigned\n".into(),
            )
        }
    }
}

async fn health() -> Response {
    text(StatusCode::OK, TEXT, "ok\n".into())
}

async fn middleware_error(err: BoxError) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        text(
            StatusCode::REQUEST_TIMEOUT,
            TEXT,
            "the request took longer than limits.request_timeout_seconds\n".into(),
        )
    } else {
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            TEXT,
            format!("middleware: {err}\n"),
        )
    }
}

/// The routes with their limits: `[limits]`, and `[rate_limit]` per client address.
pub fn router(witness: Arc<Witness>, config: &WitnessConfig) -> Router {
    let l = &config.limits;
    let routes = Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/health", get(health))
        .with_state(Served {
            witness,
            work: Arc::new(tokio::sync::Semaphore::new(l.max_concurrent_requests)),
        })
        .layer(DefaultBodyLimit::max(l.max_body_bytes));
    let limited = routes.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(middleware_error))
            .timeout(Duration::from_secs(l.request_timeout_seconds))
            .layer(GlobalConcurrencyLimitLayer::new(l.max_concurrent_requests)),
    );
    crate::limit::guard(limited, l.max_requests_per_client, &config.rate_limit)
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// A running witness server.
pub struct WitnessServer {
    addr: SocketAddr,
    tls: bool,
    handle: axum_server::Handle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    witness: Arc<Witness>,
}

impl std::fmt::Debug for WitnessServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl WitnessServer {
    /// Binds `config.address` and serves `witness` on the current tokio runtime.
    pub async fn start(config: &WitnessConfig, witness: Witness) -> ServiceResult<WitnessServer> {
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let witness = Arc::new(witness);
        let app = router(witness.clone(), config);
        let l = crate::tls::listen(config.address, config.tls.as_ref(), &config.limits, app)?;
        Ok(WitnessServer {
            addr: l.addr,
            tls: l.tls,
            handle: l.handle,
            task: l.task,
            witness,
        })
    }

    /// The bound address.
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

    /// The witness.
    pub fn witness(&self) -> &Arc<Witness> {
        &self.witness
    }

    /// One line for people: where it listens, its name and the logs it follows.
    pub fn banner(&self) -> String {
        let logs: Vec<&str> = self.witness.origins().collect();
        let mut s = format!(
            "cairn witness serve: {} as {:?} for {} log(s) ({}), listening on {}",
            if self.tls { "HTTPS" } else { "plain HTTP" },
            self.witness.name(),
            logs.len(),
            logs.join(", "),
            self.url()
        );
        if self.addr.ip().is_loopback() {
            s.push_str(" (loopback only)");
        }
        s
    }

    /// Stops accepting connections and lets requests in flight finish (up to `grace`).
    pub async fn shutdown(self, grace: Duration) -> ServiceResult<()> {
        self.handle.graceful_shutdown(Some(grace));
        let r = self
            .task
            .await
            .map_err(|e| ServiceError::internal(format!("server task: {e}")))?;
        r.map_err(|e| ServiceError::internal(format!("server: {e}")))
    }
}

/// Runs the witness until SIGINT or SIGTERM: what `cairn witness serve` does.
pub fn run(config: WitnessConfig, announce: impl FnOnce(&str)) -> ServiceResult<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let keys = super::WitnessKeys::load(&config.key_path)?;
    let witness = Witness::open(&config, keys)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServiceError::internal(format!("runtime: {e}")))?;
    rt.block_on(async move {
        let server = WitnessServer::start(&config, witness).await?;
        announce(&server.banner());
        crate::shutdown_signal().await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        server.shutdown(Duration::from_secs(10)).await
    })
}
