//! `GET /metrics`: the service's figures in the OpenMetrics text format (which Prometheus
//! scrapes), with at least what seed 001 monitors: request counts and latencies by route and
//! status, checkpoint save latency, verification outcomes, and signing and verification
//! latency by algorithm.
//!
//! Each [`crate::Server`] has its own [`Metrics`] (no process-wide registry), so several
//! servers in one process report separately. Label values are bounded: routes are axum's
//! route templates (`/api/v1/registry/{registry_id}`, never the id), methods outside the
//! usual few are `other`, and algorithms are cairn's algorithm names.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cairn_core::crypto::Algorithm;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::error::ServiceError;
use crate::AppState;

/// Content type of the `/metrics` answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of the HTTP request figures.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `GET`, `POST`, `DELETE`, `HEAD`, or `other`.
    pub method: &'static str,
    /// The route template that answered, or `unmatched` (no route, or refused before
    /// routing).
    pub route: String,
    /// The HTTP status answered.
    pub status: u16,
}

/// Labels of the verification outcome counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// What was verified: `token` (a capability token against the registry) or `proof` (a
    /// request's proof of possession).
    pub what: &'static str,
    /// `success` or `failure`.
    pub outcome: &'static str,
}

/// Labels of the verification latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerifyLabels {
    /// `token` or `proof`, as in [`OutcomeLabels`].
    pub what: &'static str,
    /// The algorithm of the key checked (for a token, its issuer's; `unknown` when the token
    /// failed before its issuer was known).
    pub algorithm: &'static str,
}

/// Labels of the signing latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlgorithmLabels {
    /// The signing key's algorithm.
    pub algorithm: &'static str,
}

fn latency_buckets() -> Histogram {
    // 50 µs .. ~3.3 s, doubling.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 17))
}

/// The figures of one server.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RequestLabels, Histogram, fn() -> Histogram>,
    checkpoint_save_seconds: Histogram,
    commit_operations: Histogram,
    write_refusals: Counter,
    aborted_pass_seconds: Histogram,
    writer_busy_seconds: Counter<f64, AtomicU64>,
    verifications: Family<OutcomeLabels, Counter>,
    verify_seconds: Family<VerifyLabels, Histogram, fn() -> Histogram>,
    sign_seconds: Family<AlgorithmLabels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every figure (all start at zero).
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("cairn");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let request_seconds: Family<RequestLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_buckets);
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response headers, by method, route template and status",
            request_seconds.clone(),
        );
        let checkpoint_save_seconds = latency_buckets();
        registry.register(
            "checkpoint_save_duration_seconds",
            "Time of each durable commit of the group-commit writer: the batch's operations, the new tree head signed by the log key, and the fsync",
            checkpoint_save_seconds.clone(),
        );
        // 1 to 1,024 (the writer's largest batch).
        let commit_operations = Histogram::new(exponential_buckets(1.0, 2.0, 11));
        registry.register(
            "commit_operations",
            "Write operations per durable commit (group commit batch size)",
            commit_operations.clone(),
        );
        let write_refusals = Counter::default();
        registry.register(
            "write_refusals",
            "Write operations the group-commit writer answered with an error (one refused after others cost them a pass run again without it; see aborted_pass_duration_seconds)",
            write_refusals.clone(),
        );
        let aborted_pass_seconds = latency_buckets();
        registry.register(
            "aborted_pass_duration_seconds",
            "Time of each pass of the group-commit writer that committed nothing (an operation refused, or the commit failed): work spent on top of the commits",
            aborted_pass_seconds.clone(),
        );
        let writer_busy_seconds = Counter::<f64, AtomicU64>::default();
        registry.register(
            "writer_busy_seconds",
            "Time the group-commit writer spent on batches (running and committing them) rather than waiting for work; its rate is the writer's utilisation: near 1, the write rate is bounded by how fast commits follow each other",
            writer_busy_seconds.clone(),
        );
        let verifications = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "verifications",
            "Credential verifications, by what was verified and outcome",
            verifications.clone(),
        );
        let verify_seconds: Family<VerifyLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_buckets);
        registry.register(
            "verify_duration_seconds",
            "Time to verify a capability token (against the registry) or a proof-of-possession signature, by key algorithm",
            verify_seconds.clone(),
        );
        let sign_seconds: Family<AlgorithmLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_buckets);
        registry.register(
            "sign_duration_seconds",
            "Time of each signature by the log key (a tree head per commit, a checkpoint), by algorithm",
            sign_seconds.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            checkpoint_save_seconds,
            commit_operations,
            write_refusals,
            aborted_pass_seconds,
            writer_busy_seconds,
            verifications,
            verify_seconds,
            sign_seconds,
        }
    }

    /// Records one answered request.
    pub fn request(&self, method: &Method, route: String, status: u16, took: Duration) {
        let method = match *method {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::DELETE => "DELETE",
            Method::HEAD => "HEAD",
            _ => "other",
        };
        let labels = RequestLabels {
            method,
            route,
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.request_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Records one durable commit of `operations` writes.
    pub fn commit(&self, operations: usize, took: Duration) {
        self.checkpoint_save_seconds.observe(took.as_secs_f64());
        self.commit_operations.observe(operations as f64);
    }

    /// Records one pass of the writer that committed nothing, and its time.
    pub fn aborted_pass(&self, took: Duration) {
        self.aborted_pass_seconds.observe(took.as_secs_f64());
    }

    /// Records time the writer spent on one batch, from taking it to handing its answers on.
    pub fn writer_busy(&self, took: Duration) {
        self.writer_busy_seconds.inc_by(took.as_secs_f64());
    }

    /// Records `n` write operations the writer answered with an error.
    pub fn refusals(&self, n: usize) {
        self.write_refusals.inc_by(n as u64);
    }

    /// Records one verification: `what` is `token` or `proof`, `algorithm` the key's (None
    /// when unknown), `ok` its outcome.
    pub fn verification(
        &self,
        what: &'static str,
        algorithm: Option<Algorithm>,
        ok: bool,
        took: Duration,
    ) {
        self.verifications
            .get_or_create(&OutcomeLabels {
                what,
                outcome: if ok { "success" } else { "failure" },
            })
            .inc();
        self.verify_seconds
            .get_or_create(&VerifyLabels {
                what,
                algorithm: algorithm.map_or("unknown", |a| a.name()),
            })
            .observe(took.as_secs_f64());
    }

    /// Records one signature by the log key.
    pub fn signature(&self, algorithm: Algorithm, took: Duration) {
        self.sign_seconds
            .get_or_create(&AlgorithmLabels {
                algorithm: algorithm.name(),
            })
            .observe(took.as_secs_f64());
    }

    /// Every figure in the OpenMetrics text format (ending with `# EOF`).
    pub fn encode(&self) -> Result<String, ServiceError> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(|e| ServiceError::internal(format!("encoding the metrics: {e}")))?;
        Ok(out)
    }
}

/// Middleware recording every request's route, status and latency (outermost, so refusals
/// by the rate limiter and timeouts count too).
pub async fn track(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().clone();
    let started = Instant::now();
    let resp = next.run(req).await;
    st.metrics
        .request(&method, route, resp.status().as_u16(), started.elapsed());
    resp
}

/// `GET /metrics`.
pub async fn handler(State(st): State<Arc<AppState>>) -> Response {
    match st.metrics.encode() {
        Ok(text) => {
            let mut r = text.into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        Err(e) => e.into_response(),
    }
}
