//! `cairn serve` under load, on loopback: requests per second and p50/p99 latency for
//! `GET /checkpoint`, a full tile, a node query, and durable `POST` registrations (token and
//! proof of possession, as a real client sends them) at 1, 16 and 64 concurrent clients, beside
//! the store's own batched registration rate measured in the same run.
//!
//! A second table measures the handle registry (`[envelope]` configured, `[pow]` off) at 16
//! concurrent clients: `POST /register` (a new handle each, its identity sealed to the
//! service's envelope key beforehand, so the clients' sealing is not timed; durable, one ledger
//! entry each), `POST /resolve` (half registered handles, half missing ones: the answer is the
//! same work either way), `GET /check_user/{handle}` (same mix) and `POST /announce` (devices
//! of registered handles; memory only). Its columns: `request`; `clients` (concurrent
//! keep-alive connections); `requests` (answered in the cell, all 200); `req/s` (answered
//! requests over the cell's wall time); `p50`, `p99` (latency of one request, as the client
//! sees it); `bar` (the rate the cell should reach on 2 cores, where there is one: resolve
//! >= 5,000 req/s, announce >= 20,000 req/s) with its verdict below the table.
//!
//! The server and the clients share one tokio runtime (and so the machine's cores): each
//! client is one keep-alive HTTP/1.1 connection of hyper's low-level client (no connection
//! pool: a load generator should cost the shared cores as little as it can). Rate limits are
//! off.
//! Every cell is bounded in requests and in time. Nothing is asserted: the bars of
//! docs/PERFORMANCE.md ("Service") are printed with their verdicts.
//!
//! A durable registration carries what a real client sends (the token, and a proof of
//! possession over the method, path, body digest, time and a fresh nonce), but the clients'
//! signing is not timed: each cell's request bodies and proofs are made before its clock
//! starts (all distinct, each with its own nonce, timed within the server's allowed skew), so
//! the two cores the clients share with the server are not spent on the clients' signatures.
//! The server checks each request in full (token, capability, proof, nonce replay).
//!
//! Beside the write cells, the bench measures what a durable write cannot drop and prints
//! their sum with the rate it allows on the machine's cores: an HTTP exchange on both ends
//! (CPU per request of `GET /tile/0/000`, the cheapest answer the server has, in its
//! cheapest cell of the run, usually 1 client, where both ends share a thread), the
//! request's authorization as the server runs it (token, capability, proof of possession
//! with the holder's key prepared, nonce) and its JSON (the spec parsed, the answer
//! written), both in-process on the served registry, and the store's registration with its
//! share of a commit of 64 (its CPU time in batched rounds of 64: with 64 clients no commit
//! can hold more). The same sum is printed with the exchange at 64 clients, the bar's own
//! concurrency. Then the proof of possession's signature alone, over 64 holders of their own
//! (as 64 real clients would be): one at a time (as the server checks a request that comes
//! alone), and in one batch equation (`cairn_core::crypto::batch`, as the server checks those
//! of concurrent requests, in batches as large as the requests waiting); the least any write
//! could cost (the cheapest exchange, the batched signature and none of the rest of the
//! authorization, the JSON, the store); and the bar's budget in CPU per write (the cores over
//! half the batched rate, clients included).
//!
//! The group committer's share of the 64-client write cell is printed under the table: the
//! time it was busy (taking a batch to handing its answers on) over the cell's wall time, the
//! writes per commit, and each commit's time split into the committer thread's own CPU, its
//! time ready to run but waiting for a core, and the rest, blocked (the disk's fsync). It is the one serial stage of every
//! write: near 100% busy, the write rate is its writes per commit over its time per commit.
//! Beside it, the proofs of possession the server checked over the same cell, in signatures per
//! batch (`cairn_service::proofs`).
//!
//! Last, the 64-client write cell runs once more with its clients on a tokio runtime of their
//! own (threads named `bench-client`): every live thread's CPU less those threads' is the
//! server's CPU per write alone, and what it allows on the machine's cores is printed too (the
//! most the service could answer were its clients on other machines).
//!
//! Before the server starts, the group committer alone: the service's writer
//! (`Writer::register_node`, what a registration's handler awaits) on a registry of its own,
//! driven by 64 and then 256 in-process tasks with no HTTP and no credentials. Its rate is the
//! most any server on this writer could answer that many concurrent writers; its committer's
//! share is printed as for the served cell.
//!
//! After the handle cells, a second server over the same registry, with
//! `auth.proof_of_possession = false`, takes the 64-client write cell again, its clients
//! sending the token alone (a bearer credential): the rate, the CPU per write, the
//! committer's share, and the difference in CPU per write from the first cell, what the proof
//! of possession costs a served write.
//!
//! Last of the writes, the stack's own ceiling: the 64-client write cell against a bare axum
//! route (`axum::serve`, one `POST` handler that parses the spec, awaits the service's group
//! committer over the same registry and writes the same answer; no credentials, limits,
//! metrics, tracing or timeouts). Every served registration does this and more, so its rate is
//! the most any server on this stack and this store's durable commits answers 64 clients on
//! the host; the bearer cell less this one is what cairn's own layers cost a write.
//!
//!     cargo bench --bench service                 # full
//!     CAIRN_BENCH_QUICK=1 cargo bench --bench service
//!     CAIRN_SERVICE_BENCH=writes cargo bench --bench service  # parts: reads, writes, handles
//!     CAIRN_SERVICE_BENCH_CLIENTS=64 cargo bench --bench service  # only these client counts
//!     cargo test --benches                        # once each, untimed

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{b64_encode, hex_encode};
use cairn_core::handle::{seal, EnvelopeSecretKey, Suite};
use cairn_core::trust::{Role, RoleSet};
use cairn_service::auth::{
    authorization_value, authorize, parse_authorization, sign_request, NonceCache, Policy,
    Presented,
};
use cairn_service::config::{EnvelopeConfig, EnvelopeKeyConfig};
use cairn_service::routes::{registration_answer, CAP_NODE_REGISTER};
use cairn_service::writer::WriterStats;
use cairn_service::{AppState, Config, Server};
use cairn_store::{CreateOptions, KeySpec, NodeSpec, Protection, Registry, TokenRequest};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use support::{fmt_rate, fmt_time, percentile, Mode, Table};

/// The allocator `cairn serve` runs with (the `cairn` binary's default feature `mimalloc`), so
/// the figures are the binary's.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
/// The allocator's name, for the table's title.
const ALLOCATOR_NAME: &str = if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "the system"
};

const ORIGIN: &str = "bench.example/log";
const REGISTER: &str = "/api/v1/registry/register";

type HttpClient = SendRequest<Full<Bytes>>;

/// One client's keep-alive connection to `address`.
async fn connect(address: std::net::SocketAddr) -> HttpClient {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

fn spec_json(id: &str) -> String {
    format!(
        r#"{{"id": "{id}", "name": "Node {id}", "version": "1.0.0", "capabilities": ["cap.{id}"], "signals": ["sig"], "endpoints": [], "provenance": {{"source": "https://git.example.test/{id}"}}}}"#
    )
}

fn create(path: &std::path::Path) -> Registry {
    Registry::create(path, CreateOptions::new(ORIGIN, Protection::Insecure)).expect("create")
}

/// Registers `n` nodes named `{prefix}{i}` in one transaction per `batch`.
fn fill(reg: &Registry, prefix: &str, n: usize, batch: usize) {
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        reg.write(|tx| {
            for k in i..end {
                tx.register_node(&NodeSpec::from_json(&spec_json(&format!("{prefix}{k}")))?)?;
            }
            Ok(())
        })
        .expect("register");
        i = end;
    }
}

/// The store's own rate for registrations committed `batch` at a time (ops/s, median of
/// rounds): the ceiling group commit approaches. Also the CPU time of one registration there
/// (seconds, all rounds together; the wall time also holds the commits' fsyncs), where the
/// platform tells it.
fn store_batched_rate(mode: Mode, dir: &std::path::Path, batch: usize) -> (f64, Option<f64>) {
    let path = dir.join("batched.redb");
    let reg = create(&path);
    // About 1,280 registrations in full mode, whatever the batch.
    let rounds = (mode.pick(1280, 192, 4) / batch).max(1);
    let cpu_start = threads_cpu();
    let mut rates: Vec<f64> = (0..rounds)
        .map(|r| {
            let t = Instant::now();
            fill(&reg, &format!("s{r}-"), batch, batch);
            batch as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    let cpu = cpu_start
        .zip(threads_cpu())
        .map(|(a, b)| (b - a) / (rounds * batch) as f64);
    drop(reg);
    std::fs::remove_file(&path).ok();
    (percentile(&mut rates, 50.0), cpu)
}

/// The group committer alone: `writers` tokio tasks each registering nodes through the
/// service's writer (`Writer::register_node`, the call a registration's handler awaits) on a
/// registry of its own, with no HTTP and no credentials, until `n` are durable. The rate
/// (writes per second) and the committer's share: what the service's serial stage gives
/// `writers` concurrent writers when nothing else costs anything, so no server on this writer
/// answers more at that concurrency.
async fn committer_alone(
    dir: &std::path::Path,
    writers: usize,
    n: usize,
) -> (f64, Option<Committer>) {
    let path = dir.join(format!("committer-{writers}.redb"));
    let reg = Arc::new(create(&path));
    let writer = Arc::new(cairn_service::writer::Writer::start(reg, None).expect("writer"));
    // Parsed before the clock starts, each task's share of its own.
    let mut shares: Vec<Vec<NodeSpec>> = (0..writers).map(|_| Vec::new()).collect();
    for i in 0..n {
        let spec = NodeSpec::from_json(&spec_json(&format!("alone{writers}-{i}"))).expect("spec");
        shares[i % writers].push(spec);
    }
    let before = writer.stats();
    let sched = named_threads_sched(COMMITTER_THREAD);
    let start = Instant::now();
    let tasks: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let writer = writer.clone();
            tokio::spawn(async move {
                for spec in share {
                    writer.register_node(spec).await.expect("register");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer task");
    }
    let secs = start.elapsed().as_secs_f64();
    let after = writer.stats();
    let committer = committer_share(
        &before,
        &after,
        sched.zip(named_threads_sched(COMMITTER_THREAD)),
        secs,
    );
    drop(writer);
    std::fs::remove_file(&path).ok();
    (n as f64 / secs, committer)
}

/// The stack's own ceiling for a durable write: the 64-client write cell against a bare axum
/// route on this runtime (served by `axum::serve`, TCP_NODELAY on), in front of the service's
/// group committer over `reg`. No credentials, no limits, no metrics, no tracing, no timeouts:
/// the body read, the spec parsed, the write awaited, the same answer written. Everything a
/// registration in `cairn serve` does is this and more, so no server built on this stack and
/// this committer answers 64 clients faster than this cell on the same host.
async fn bare_stack_cell(
    reg: Registry,
    max_requests: usize,
    budget: Duration,
    writer: Arc<Writer>,
) -> (Cell, Option<Committer>) {
    use axum::extract::State;
    use axum::response::IntoResponse;
    use axum::serve::ListenerExt;
    type Committing = Arc<cairn_service::writer::Writer>;
    async fn register(
        State(committing): State<Committing>,
        body: Bytes,
    ) -> axum::response::Response {
        let spec = std::str::from_utf8(&body)
            .ok()
            .and_then(|text| NodeSpec::from_json(text).ok())
            .expect("the bench's spec");
        let (info, replaced) = committing.register_node(spec).await.expect("registered");
        (
            axum::http::StatusCode::CREATED,
            axum::Json(registration_answer(&info, replaced)),
        )
            .into_response()
    }
    let committing: Committing =
        Arc::new(cairn_service::writer::Writer::start(Arc::new(reg), None).expect("writer"));
    let app = axum::Router::new()
        .route(REGISTER, axum::routing::post(register))
        .with_state(committing.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .tap_io(|tcp| tcp.set_nodelay(true).expect("nodelay"));
    let address = axum::serve::Listener::local_addr(&listener).expect("address");
    let served = tokio::spawn(std::future::IntoFuture::into_future(axum::serve(
        listener, app,
    )));
    writer.proofs.store(false, Ordering::Relaxed);
    let measured = over_writer(
        &committing,
        cell(
            address,
            Kind::Register,
            64,
            max_requests,
            budget,
            writer,
            "bare".into(),
        ),
    )
    .await;
    served.abort();
    measured
}

/// CPU time the process's live threads have used so far, in seconds, to the nanosecond:
/// Linux only (the first field of /proc/self/task/*/schedstat), `None` elsewhere. Unlike
/// [`process_cpu`] it forgets threads that have exited, so it is only for spans in which
/// none do.
fn threads_cpu() -> Option<f64> {
    let mut ns: u64 = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split(' ').next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 / 1e9)
}

/// CPU time the process's live threads named `name` have used so far, in seconds (Linux
/// only: /proc/self/task/*/comm and schedstat).
fn named_threads_cpu(name: &str) -> Option<f64> {
    named_threads_sched(name).map(|(cpu, _)| cpu)
}

/// CPU time the process's live threads named `name` have used so far, and the time they
/// waited for a core while ready to run, in seconds (Linux only: the first two fields of
/// /proc/self/task/*/schedstat).
fn named_threads_sched(name: &str) -> Option<(f64, f64)> {
    let (mut cpu, mut queued): (u64, u64) = (0, 0);
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        if std::fs::read_to_string(dir.join("comm")).ok()?.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("schedstat")).ok()?;
        let mut fields = stat.split(' ');
        cpu += fields.next()?.parse::<u64>().ok()?;
        queued += fields.next()?.parse::<u64>().ok()?;
    }
    Some((cpu as f64 / 1e9, queued as f64 / 1e9))
}

/// Name of the threads of the runtime the split write cell runs its clients on.
const CLIENT_THREADS: &str = "bench-client";

/// Name of the group-commit writer's committer thread (`cairn_service::writer`).
const COMMITTER_THREAD: &str = "cairn-writer";

/// The committer in the 64-client write cell: the one serial stage of every write.
struct Committer {
    /// Its busy time over the cell's wall time.
    busy_share: f64,
    /// Writes per commit.
    writes: f64,
    /// Busy seconds per commit.
    cycle: f64,
    /// Its thread's CPU seconds per commit, and its seconds per commit ready to run but
    /// waiting for a core, where the platform tells them.
    sched: Option<(f64, f64)>,
    /// Proof-of-possession signatures per batch the server checked over the same cell
    /// (`cairn_service::proofs`), when it checked some.
    proofs_per_batch: Option<f64>,
}

/// The committer's share of `wall` seconds of writes, from the writer's figures and its
/// thread's scheduler figures (CPU, waiting for a core) before and after them; `None` when
/// they committed nothing.
fn committer_share(
    before: &WriterStats,
    after: &WriterStats,
    sched: Option<((f64, f64), (f64, f64))>,
    wall: f64,
) -> Option<Committer> {
    let commits = after.batches - before.batches;
    if commits == 0 || wall <= 0.0 {
        return None;
    }
    let n = commits as f64;
    let busy = (after.busy - before.busy).as_secs_f64();
    Some(Committer {
        busy_share: busy / wall,
        writes: (after.operations - before.operations) as f64 / n,
        cycle: busy / n,
        sched: sched.map(|(a, b)| ((b.0 - a.0) / n, (b.1 - a.1) / n)),
        proofs_per_batch: None,
    })
}

/// The committer's share as printed: busy share, writes per commit, and each commit's time
/// split into the thread's own CPU, waiting for a core, and the rest, blocked (the disk's
/// fsync and the page cache's writes: the one part more cores would not shorten).
fn committer_line(k: &Committer) -> String {
    let split = k.sched.map_or(String::new(), |(cpu, queued)| {
        format!(
            ": {} on its own CPU, {} ready but waiting for a core, {} blocked (the disk's fsync)",
            fmt_time(cpu),
            fmt_time(queued),
            fmt_time((k.cycle - cpu - queued).max(0.0))
        )
    });
    let proofs = k.proofs_per_batch.map_or(String::new(), |p| {
        format!("; the proofs of possession checked in batches of {p:.1} signatures")
    });
    format!(
        "busy {:.0}% of the cell, a commit of {:.1} writes every {}{split}{proofs}",
        k.busy_share * 100.0,
        k.writes,
        fmt_time(k.cycle),
    )
}

/// What one request of a cell is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Checkpoint,
    Tile,
    Query,
    Register,
    HandleRegister,
    Resolve,
    CheckUser,
    Announce,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Checkpoint => "GET /checkpoint",
            Kind::Tile => "GET /tile/0/000",
            Kind::Query => "GET query?capability=",
            Kind::Register => "POST register (durable)",
            Kind::HandleRegister => "POST /register (durable)",
            Kind::Resolve => "POST /resolve",
            Kind::CheckUser => "GET /check_user/{handle}",
            Kind::Announce => "POST /announce",
        }
    }

    /// The bar a cell of this kind should reach on 2 cores (req/s), if any.
    fn bar(self) -> Option<f64> {
        match self {
            Kind::Resolve => Some(5_000.0),
            Kind::Announce => Some(20_000.0),
            _ => None,
        }
    }
}

/// What requests need besides their kind and number.
struct Writer {
    token: Envelope,
    holder: SigningKey,
    /// `POST /register` bodies, one new handle each (`handle{n}`), sealed beforehand.
    handle_bodies: Vec<String>,
    /// The requester's ephemeral public key of every `POST /resolve`, in hex.
    resolve_key_hex: String,
    /// How many handles the register cell registered (`handle0` .. ).
    registered: AtomicUsize,
    /// The current write cell's registrations (body, `Cairn-Proof`), made before it starts.
    registrations: std::sync::RwLock<Arc<Vec<(String, String)>>>,
    /// Whether registrations carry a proof of possession (off for the bearer cell, whose
    /// server runs with `auth.proof_of_possession = false`).
    proofs: std::sync::atomic::AtomicBool,
}

impl Writer {
    /// Makes `n` registrations for the write cell `round`: node `w{round}-{i}`, each signed
    /// by the holder now with its own nonce.
    fn prepare_registrations(&self, round: &str, n: usize) {
        let t = now();
        let proofs = self.proofs.load(Ordering::Relaxed);
        let prepared: Vec<(String, String)> = (0..n)
            .map(|i| {
                let body = spec_json(&format!("w{round}-{i}"));
                if !proofs {
                    return (body, String::new());
                }
                let proof = sign_request(
                    &self.holder,
                    &self.token.id(),
                    "POST",
                    REGISTER,
                    body.as_bytes(),
                    t,
                    &format!("bench-{round}-{i:012}"),
                )
                .expect("sign");
                (body, proof)
            })
            .collect();
        *self.registrations.write().expect("lock") = Arc::new(prepared);
    }
}

/// Whether a part of the bench runs: `CAIRN_SERVICE_BENCH=reads,writes,handles` picks parts
/// (default all).
fn part(name: &str) -> bool {
    std::env::var("CAIRN_SERVICE_BENCH").map_or(true, |v| v.split(',').any(|p| p.trim() == name))
}

/// The handle of request `n` of the resolve, check_user and announce cells: every other one
/// is registered (the register cell registers `handle0`, `handle1`, ...), the rest are not.
fn handle_of(n: usize, registered: usize) -> String {
    if n.is_multiple_of(2) {
        format!("handle{}", (n / 2) % registered.max(1))
    } else {
        format!("missing{n}")
    }
}

/// The `[envelope]` of the bench (fixed secrets: nothing here is kept).
fn envelope_config() -> EnvelopeConfig {
    EnvelopeConfig {
        pepper_hex: "5a".repeat(32),
        keys: vec![EnvelopeKeyConfig {
            kid_hex: None,
            x25519_private_key_hex: Some("c3".repeat(32)),
            xwing_private_key_hex: None,
            sealed_kid_hex: None,
            active: true,
        }],
    }
}

/// `n` registration bodies for the service's envelope key, sealed now (not timed).
fn handle_bodies(n: usize) -> Vec<String> {
    let secret = [0xc3u8; 32];
    let key = EnvelopeSecretKey::from_bytes(Suite::X25519ChaCha20Poly1305, None, &secret)
        .expect("envelope key")
        .public_key();
    (0..n)
        .map(|i| {
            let handle = format!("handle{i}");
            let identity = format!(
                r#"{{"handle":"{handle}","device_pubkey":"{}"}}"#,
                "ab".repeat(32)
            );
            let mut seed = [7u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let env = seal(
                &key,
                b"register",
                handle.as_bytes(),
                identity.as_bytes(),
                &seed,
            )
            .expect("seal");
            format!(
                r#"{{"handle":"{handle}","envelope":"{}"}}"#,
                b64_encode(&env)
            )
        })
        .collect()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One request; returns its latency in seconds. Panics on a non-2xx answer (a bench that
/// measures refusals measures nothing).
async fn one(
    client: &mut HttpClient,
    host: &hyper::header::HeaderValue,
    kind: Kind,
    n: usize,
    writer: &Writer,
    prepared: &[(String, String)],
    authorization: &str,
) -> f64 {
    let registered = writer.registered.load(Ordering::Relaxed);
    let post_json = |path: &str, body: String| {
        hyper::Request::post(path)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("request")
    };
    let req = match kind {
        Kind::HandleRegister => post_json("/register", writer.handle_bodies[n].clone()),
        Kind::Resolve => post_json(
            "/resolve",
            format!(
                r#"{{"handle":"{}","requester_ephemeral_pubkey_hex":"{}"}}"#,
                handle_of(n, registered),
                writer.resolve_key_hex
            ),
        ),
        Kind::Announce => post_json(
            "/announce",
            format!(
                r#"{{"handle":"{}","device_id":"device-{}","endpoint":"https://device.example/{n}"}}"#,
                handle_of(n, registered),
                n % 8
            ),
        ),
        Kind::CheckUser => hyper::Request::get(format!("/check_user/{}", handle_of(n, registered)))
            .body(Full::new(Bytes::new()))
            .expect("request"),
        Kind::Checkpoint | Kind::Tile | Kind::Query => {
            let path = match kind {
                Kind::Checkpoint => "/checkpoint".to_owned(),
                Kind::Tile => "/tile/0/000".to_owned(),
                _ => format!("/api/v1/registry/query?capability=cap.n{}", n % 256),
            };
            hyper::Request::get(path)
                .body(Full::new(Bytes::new()))
                .expect("request")
        }
        Kind::Register => {
            let (body, proof) = prepared
                .get(n)
                .cloned()
                .expect("a registration prepared for every request of the cell");
            let mut req = hyper::Request::post(REGISTER)
                .header("authorization", authorization)
                .header("content-type", "application/json");
            if !proof.is_empty() {
                req = req.header("cairn-proof", proof);
            }
            req.body(Full::new(Bytes::from(body))).expect("request")
        }
    };
    let mut req = req;
    req.headers_mut().insert(hyper::header::HOST, host.clone());
    let t = Instant::now();
    client.ready().await.expect("connection");
    let resp = client.send_request(req).await.expect("response");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let took = t.elapsed().as_secs_f64();
    assert!(
        status.is_success(),
        "{} answered {status}: {}",
        kind.name(),
        String::from_utf8_lossy(&body)
    );
    took
}

/// The request's authorization alone (seconds per request), as the server runs it for a
/// registration: the `Authorization` header parsed, then `auth::authorize` (the token against
/// the registry: issuer, revocations, expiry, audience; the capability; the proof of
/// possession, the holder's key prepared as the server has it; the nonce, into a cache of its
/// own since the server's remembers these nonces). In-process, on the served registry, with
/// the server's metrics.
fn authorization_seconds(st: &AppState, writer: &Writer) -> f64 {
    let prepared = writer.registrations.read().expect("lock").clone();
    let header = authorization_value(&writer.token);
    let nonces = NonceCache::default();
    let policy = Policy {
        audience: &st.origin,
        capability: CAP_NODE_REGISTER,
        proof_of_possession: st.config.auth.proof_of_possession,
        max_skew: st.config.auth.max_clock_skew_seconds,
        metrics: Some(&st.metrics),
    };
    let t = Instant::now();
    for (body, proof) in prepared.iter() {
        let token = parse_authorization(Some(&header)).expect("a token");
        let presented = Presented {
            token: &token,
            proof: Some(proof),
            method: "POST",
            path_and_query: REGISTER,
            body: body.as_bytes(),
        };
        authorize(&st.reg, &nonces, &presented, &policy, st.reg.now()).expect("authorized");
    }
    t.elapsed().as_secs_f64() / prepared.len().max(1) as f64
}

/// The proof of possession's signature alone (seconds per signature), over 64 registrations
/// each by a holder of its own, as 64 clients' would be: checked one at a time
/// (`verify_request_proof`, as the server checks a request that comes alone), and all 64 in
/// one batch equation (`cairn_core::crypto::batch::verify_batch`, the cheapest way to check
/// Ed25519 signatures cairn has; the server's batches hold the proofs of the requests waiting,
/// `cairn_service::proofs`).
fn proof_seconds() -> (f64, f64) {
    use cairn_core::crypto::batch::{verify_batch, BatchItem};
    use cairn_core::crypto::Signature;
    use cairn_core::http::{pop_message, verify_request_proof, RequestProof, POP_CONTEXT};
    const N: usize = 64;
    const ROUNDS: usize = 50;
    let token_id = [7u8; 32];
    let items: Vec<(SigningKey, String, Vec<u8>, RequestProof)> = (0..N)
        .map(|i| {
            let holder = SigningKey::generate(Algorithm::Ed25519);
            let body = spec_json(&format!("pop-{i}"));
            let nonce = format!("proof-bench-{i:08}");
            let header = sign_request(
                &holder,
                &token_id,
                "POST",
                REGISTER,
                body.as_bytes(),
                1,
                &nonce,
            )
            .expect("sign");
            let proof = RequestProof::parse(&header).expect("proof");
            let message = pop_message(&token_id, "POST", REGISTER, body.as_bytes(), 1, &nonce);
            (holder, body, message, proof)
        })
        .collect();
    let t = Instant::now();
    for _ in 0..ROUNDS {
        for (holder, body, _, proof) in &items {
            verify_request_proof(
                holder.public_key(),
                &token_id,
                "POST",
                REGISTER,
                body.as_bytes(),
                proof,
                1,
                60,
            )
            .expect("proof verifies");
        }
    }
    let single = t.elapsed().as_secs_f64() / (ROUNDS * N) as f64;
    let t = Instant::now();
    for _ in 0..ROUNDS {
        // What a batching server would do per request besides the equation: the body's
        // digest and the message, the signature decoded.
        let prepared: Vec<(Vec<u8>, Signature)> = items
            .iter()
            .map(|(holder, body, _, proof)| {
                let message = pop_message(
                    &token_id,
                    "POST",
                    REGISTER,
                    body.as_bytes(),
                    1,
                    &proof.nonce,
                );
                let sig = Signature::from_bytes(holder.public_key().algorithm(), &proof.signature)
                    .expect("signature");
                (message, sig)
            })
            .collect();
        let batch: Vec<BatchItem<'_>> = items
            .iter()
            .zip(&prepared)
            .map(|((holder, ..), (message, signature))| BatchItem {
                key: holder.public_key(),
                message,
                context: POP_CONTEXT,
                signature,
            })
            .collect();
        verify_batch(&batch).expect("batch verifies");
    }
    let batched = t.elapsed().as_secs_f64() / (ROUNDS * N) as f64;
    std::hint::black_box(items.iter().map(|i| i.2.len()).sum::<usize>());
    (single, batched)
}

/// The request's JSON alone (seconds per request): the node spec parsed from the body as the
/// server parses it, and the answer written as the server writes it (for a stored node of
/// the same shape).
fn request_json_seconds(st: &AppState, writer: &Writer) -> f64 {
    let prepared = writer.registrations.read().expect("lock").clone();
    let info = st.reg.node("n0").expect("a stored node");
    let t = Instant::now();
    for (body, _) in prepared.iter() {
        std::hint::black_box(NodeSpec::from_json(body).expect("a spec"));
        let answer = serde_json::to_vec(&registration_answer(&info, false)).expect("json");
        std::hint::black_box(answer);
    }
    t.elapsed().as_secs_f64() / prepared.len().max(1) as f64
}

struct Cell {
    requests: usize,
    rate: f64,
    p50: f64,
    p99: f64,
    /// CPU time of the whole process (server and clients) per answered request, in seconds,
    /// where the platform tells it.
    cpu_per_request: Option<f64>,
}

/// CPU time (user + system) this process has used so far, in seconds: Linux only
/// (/proc/self/stat, in clock ticks of 1/100 s), `None` elsewhere.
fn process_cpu() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let (utime, stime): (f64, f64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    Some((utime + stime) / 100.0)
}

/// `clients` concurrent clients, each on its own keep-alive connection, until `max_requests`
/// are answered or `budget` has passed.
async fn cell(
    address: std::net::SocketAddr,
    kind: Kind,
    clients: usize,
    max_requests: usize,
    budget: Duration,
    writer: Arc<Writer>,
    round: String,
) -> Cell {
    if kind == Kind::Register {
        writer.prepare_registrations(&round, max_requests);
    }
    let prepared = writer.registrations.read().expect("lock").clone();
    let authorization = authorization_value(&writer.token);
    let next = Arc::new(AtomicUsize::new(0));
    let host = hyper::header::HeaderValue::from_str(&address.to_string()).expect("host");
    // Connected before the clock starts.
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(connect(address).await);
    }
    let deadline = Instant::now() + budget;
    let cpu_start = process_cpu();
    let start = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|mut client| {
            let (host, next, writer, prepared, authorization) = (
                host.clone(),
                next.clone(),
                writer.clone(),
                prepared.clone(),
                authorization.clone(),
            );
            tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= max_requests || Instant::now() > deadline {
                        break;
                    }
                    lat.push(
                        one(
                            &mut client,
                            &host,
                            kind,
                            n,
                            &writer,
                            &prepared,
                            &authorization,
                        )
                        .await,
                    );
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("client task"));
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_start.zip(process_cpu()).map(|(a, b)| b - a);
    Cell {
        cpu_per_request: cpu
            .filter(|_| !lat.is_empty())
            .map(|c| c / lat.len() as f64),
        requests: lat.len(),
        rate: lat.len() as f64 / secs,
        p50: percentile(&mut lat, 50.0),
        p99: percentile(&mut lat, 99.0),
    }
}

/// A cell (`run`, not started yet) against `server`, with its committer's share over it.
async fn with_committer(
    server: &Server,
    run: impl std::future::Future<Output = Cell>,
) -> (Cell, Option<Committer>) {
    let state = server.state();
    let proofs_before = state.proofs.stats();
    let (r, committer) = over_writer(&state.writer, run).await;
    let proofs = state.proofs.stats();
    let committer = committer.map(|k| Committer {
        proofs_per_batch: (proofs.batches > proofs_before.batches).then(|| {
            (proofs.signatures - proofs_before.signatures) as f64
                / (proofs.batches - proofs_before.batches) as f64
        }),
        ..k
    });
    (r, committer)
}

/// A cell (`run`, not started yet) with the share of `writer`'s committer over it.
async fn over_writer(
    writer: &cairn_service::writer::Writer,
    run: impl std::future::Future<Output = Cell>,
) -> (Cell, Option<Committer>) {
    let before = writer.stats();
    let sched = named_threads_sched(COMMITTER_THREAD);
    let r = run.await;
    // The cell's own clock: its requests over its rate (connecting and preparing excluded).
    let wall = if r.rate > 0.0 {
        r.requests as f64 / r.rate
    } else {
        0.0
    };
    let committer = committer_share(
        &before,
        &writer.stats(),
        sched.zip(named_threads_sched(COMMITTER_THREAD)),
        wall,
    );
    (r, committer)
}

fn main() {
    let mode = Mode::from_env();
    let dir = support::bench_dir("service");
    std::fs::create_dir_all(&dir).expect("bench dir");

    // The store's batched rate, measured first (nothing else running).
    let batch = mode.pick(256, 64, 4);
    let (batched, _) = store_batched_rate(mode, &dir, batch);
    // The store's CPU per registration at 64 per commit: with 64 clients, no commit can hold
    // more, so a durable write at 64 clients costs the store at least this.
    // Its rate there too: the most lenient reading of the write bar's reference.
    let (batched64, store_cpu) = store_batched_rate(mode, &dir, 64.min(batch));

    // The served registry: a token for writes, and 300 nodes (one full tile, queries to hit).
    let reg = create(&dir.join("served.redb"));
    let issuer = reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("issuer", RoleSet::of(&[Role::TokenIssuer])),
            &Protection::Insecure,
        )
        .expect("issuer")
        .key_id;
    let holder = SigningKey::generate(Algorithm::Ed25519);
    let token = reg
        .issue_token(
            &issuer,
            None,
            &TokenRequest::new(
                holder.public_key().clone(),
                ORIGIN,
                &["node.register"],
                86_400,
            ),
        )
        .expect("token")
        .envelope;
    fill(&reg, "n", 300, 300);
    let (handle_max, handle_write_max, handle_budget, handle_clients) = mode.pick(
        (20_000, 3_000, Duration::from_secs(5), 16),
        (3_000, 500, Duration::from_secs(1), 16),
        (3, 3, Duration::from_secs(5), 2),
    );
    let resolve_key_hex = hex_encode(
        EnvelopeSecretKey::from_bytes(Suite::X25519ChaCha20Poly1305, None, &[0x11; 32])
            .expect("ephemeral key")
            .public_key()
            .as_bytes(),
    );
    let writer = Arc::new(Writer {
        token,
        holder,
        handle_bodies: handle_bodies(handle_write_max),
        resolve_key_hex,
        registered: AtomicUsize::new(0),
        registrations: std::sync::RwLock::new(Arc::new(Vec::new())),
        proofs: true.into(),
    });

    let mut config = Config {
        address: "127.0.0.1:0".parse().expect("address"),
        ..Config::default()
    };
    config.rate_limit.enabled = false;
    config.limits.max_concurrent_requests = 1024;
    // Every client of the bench is one address (loopback): the per-client share would cap a
    // cell's clients, which stand for clients on many machines.
    config.limits.max_requests_per_client = 1024;
    config.envelope = Some(envelope_config());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The clients of the split write cell, on threads of their own (see `split` below).
    let clients_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(CLIENT_THREADS)
        .enable_all()
        .build()
        .expect("client runtime");
    let (read_max, read_budget) = mode.pick(
        (20_000, Duration::from_secs(5)),
        (3_000, Duration::from_secs(1)),
        (3, Duration::from_secs(5)),
    );
    let (write_max, write_budget) = mode.pick(
        (20_000, Duration::from_secs(8)),
        (500, Duration::from_secs(2)),
        (3, Duration::from_secs(5)),
    );
    // `CAIRN_SERVICE_BENCH_CLIENTS=64` (a comma-separated list) runs only those cells, to
    // profile one.
    let concurrency: Vec<usize> = match std::env::var("CAIRN_SERVICE_BENCH_CLIENTS") {
        Ok(list) => list
            .split(',')
            .map(|c| {
                c.trim()
                    .parse()
                    .expect("CAIRN_SERVICE_BENCH_CLIENTS: numbers")
            })
            .collect(),
        Err(_) if mode.measures() => vec![1, 16, 64],
        Err(_) => vec![1, 4],
    };

    // The group committer alone, before the server starts: at the bar's 64 writers, and at
    // 256 to show how its commits grow with the writers waiting.
    let alone: Vec<(usize, f64, Option<Committer>)> = if part("writes") {
        rt.block_on(async {
            let mut out = Vec::new();
            for writers in [64, 256] {
                let (rate, committer) = committer_alone(&dir, writers, write_max).await;
                out.push((writers, rate, committer));
            }
            out
        })
    } else {
        Vec::new()
    };

    let mut rows = Vec::new();
    let mut handle_rows = Vec::new();
    let mut committer64 = None;
    let (write_stats, reads16_p99, best_read, floor, split, bearer, bare) = rt.block_on(async {
        let server = Server::start(config.clone(), reg).await.expect("server");
        let address = server.local_addr();
        let mut reads16_p99 = Vec::new();
        let mut best_read: f64 = 0.0;
        let kinds = [Kind::Checkpoint, Kind::Tile, Kind::Query, Kind::Register]
            .into_iter()
            .filter(|k| {
                part(if *k == Kind::Register {
                    "writes"
                } else {
                    "reads"
                })
            });
        for kind in kinds {
            for &c in &concurrency {
                let (max, budget) = if kind == Kind::Register {
                    (write_max, write_budget)
                } else {
                    (read_max, read_budget)
                };
                let (r, committer) = with_committer(
                    &server,
                    cell(
                        address,
                        kind,
                        c,
                        max,
                        budget,
                        writer.clone(),
                        format!("c{c}"),
                    ),
                )
                .await;
                let per_commit = match &committer {
                    Some(k) if kind == Kind::Register => k.writes,
                    _ => 0.0,
                };
                if kind == Kind::Register && c == 64 {
                    committer64 = committer;
                }
                if kind != Kind::Register {
                    best_read = best_read.max(r.rate);
                    if c == 16 {
                        reads16_p99.push((kind.name(), r.p99));
                    }
                }
                rows.push((kind, c, r, per_commit));
            }
        }
        // What a durable write cannot drop, measured beside it: an HTTP exchange (the
        // cheapest answer the server has, a full tile from memory, in its cheapest cell of the
        // run: at 1 client, the two ends of a connection usually share a thread), the request's
        // authorization and its JSON.
        // The 64-client write cell once more, its clients on a runtime of their own: the
        // server's CPU per write alone (every live thread's CPU, less the client threads'),
        // what the cores would give per write were the clients on other machines.
        let split = if part("writes") && mode.measures() {
            let (all, clients) = (threads_cpu(), named_threads_cpu(CLIENT_THREADS));
            let r = clients_rt
                .spawn(cell(
                    address,
                    Kind::Register,
                    64,
                    write_max,
                    write_budget,
                    writer.clone(),
                    "split".into(),
                ))
                .await
                .expect("split cell");
            let server_cpu = all
                .zip(threads_cpu())
                .zip(clients.zip(named_threads_cpu(CLIENT_THREADS)))
                .map(|((a0, a1), (c0, c1))| ((a1 - a0) - (c1 - c0)) / r.requests.max(1) as f64);
            Some((r.rate, server_cpu))
        } else {
            None
        };
        let floor = if part("writes") && mode.measures() {
            let mut exchanges: Vec<(usize, f64)> = rows
                .iter()
                .filter(|(kind, ..)| *kind == Kind::Tile)
                .filter_map(|(_, c, r, _)| Some((*c, r.cpu_per_request?)))
                .collect();
            for c in [1, 64] {
                let r = cell(
                    address,
                    Kind::Tile,
                    c,
                    read_max,
                    read_budget,
                    writer.clone(),
                    String::new(),
                )
                .await;
                exchanges.extend(r.cpu_per_request.map(|cpu| (c, cpu)));
            }
            let st = server.state();
            // The exchange at the bar's own concurrency: the cheapest 64-client tile cell.
            let at_64 = exchanges
                .iter()
                .filter(|(c, _)| *c == 64)
                .map(|(_, cpu)| *cpu)
                .min_by(f64::total_cmp);
            exchanges
                .into_iter()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|http| {
                    (
                        http,
                        at_64,
                        authorization_seconds(st, &writer),
                        proof_seconds(),
                        request_json_seconds(st, &writer),
                    )
                })
        } else {
            None
        };
        // The handle registry: registrations first, so the other cells find half their
        // handles registered.
        let handle_kinds = [
            Kind::HandleRegister,
            Kind::Resolve,
            Kind::CheckUser,
            Kind::Announce,
        ]
        .into_iter()
        .filter(|_| part("handles"));
        for kind in handle_kinds {
            let max = if kind == Kind::HandleRegister {
                handle_write_max
            } else {
                handle_max
            };
            let r = cell(
                address,
                kind,
                handle_clients,
                max,
                handle_budget,
                writer.clone(),
                String::new(),
            )
            .await;
            if kind == Kind::HandleRegister {
                writer.registered.store(r.requests, Ordering::Relaxed);
            }
            handle_rows.push((kind, handle_clients, r));
        }
        let stats = server.state().writer.stats();
        server
            .shutdown(Duration::from_secs(10))
            .await
            .expect("shutdown");
        // The 64-client write cell once more, over the same registry, on a server that takes
        // tokens as bearer credentials (`auth.proof_of_possession = false`) and clients that
        // send no proof: what the proof of possession costs a served write.
        let bearer = if part("writes") {
            let mut config = config;
            config.auth.proof_of_possession = false;
            let reg = Registry::open(dir.join("served.redb"), None).expect("reopen");
            let server = Server::start(config, reg).await.expect("bearer server");
            writer.proofs.store(false, Ordering::Relaxed);
            let (r, committer) = with_committer(
                &server,
                cell(
                    server.local_addr(),
                    Kind::Register,
                    64,
                    write_max,
                    write_budget,
                    writer.clone(),
                    "bearer".into(),
                ),
            )
            .await;
            server
                .shutdown(Duration::from_secs(10))
                .await
                .expect("shutdown");
            Some((r, committer))
        } else {
            None
        };
        // The same cell once more, against a bare axum route over the same registry: the
        // stack's own ceiling (`bare_stack_cell`).
        let bare = if part("writes") {
            let reg = Registry::open(dir.join("served.redb"), None).expect("reopen");
            Some(bare_stack_cell(reg, write_max, write_budget, writer.clone()).await)
        } else {
            None
        };
        (stats, reads16_p99, best_read, floor, split, bearer, bare)
    });
    std::fs::remove_dir_all(&dir).ok();

    if !mode.measures() {
        println!(
            "service bench: test mode, {} cells of 3 requests each ({} writes in {} commits), nothing timed",
            rows.len() + handle_rows.len(),
            write_stats.operations,
            write_stats.batches
        );
        return;
    }

    let mut t = Table::new(
        &format!(
            "cairn serve on loopback ({threads} cores shared by server and clients; Ed25519 + ML-DSA-44 log key, proof of possession on; {ALLOCATOR_NAME} allocator)"
        ),
        &[
            "request",
            "clients",
            "requests",
            "req/s",
            "p50",
            "p99",
            "writes/commit",
            "CPU/request",
        ],
    );
    for (kind, c, r, per_commit) in &rows {
        t.row(vec![
            kind.name().to_owned(),
            c.to_string(),
            r.requests.to_string(),
            fmt_rate(r.rate),
            fmt_time(r.p50),
            fmt_time(r.p99),
            if *kind == Kind::Register {
                format!("{per_commit:.1}")
            } else {
                String::new()
            },
            r.cpu_per_request.map_or(String::new(), fmt_time),
        ]);
    }
    if !rows.is_empty() {
        t.print();
    }

    let mut h = Table::new(
        &format!(
            "the handle registry in cairn serve ({threads} cores shared by server and clients; [pow] off, rate limits off)"
        ),
        &["request", "clients", "requests", "req/s", "p50", "p99", "bar"],
    );
    for (kind, c, r) in &handle_rows {
        h.row(vec![
            kind.name().to_owned(),
            c.to_string(),
            r.requests.to_string(),
            fmt_rate(r.rate),
            fmt_time(r.p50),
            fmt_time(r.p99),
            kind.bar()
                .map_or(String::new(), |b| format!(">= {}", fmt_rate(b))),
        ]);
    }
    if !handle_rows.is_empty() {
        h.print();
    }

    let writes64 = rows
        .iter()
        .find(|(k, c, _, _)| *k == Kind::Register && *c == 64)
        .map_or(0.0, |(_, _, r, _)| r.rate);
    let ratio = writes64 / batched;
    println!(
        "store batched rate ({batch} registrations per commit): {}",
        fmt_rate(batched)
    );
    println!(
        "durable writes at 64 clients / store batched rate: {:.0}%",
        ratio * 100.0
    );
    println!(
        "store rate at 64 registrations per commit (the largest commit 64 clients can fill): {}; durable writes at 64 clients / that rate: {:.0}%",
        fmt_rate(batched64),
        writes64 / batched64 * 100.0
    );
    if let Some(k) = &committer64 {
        // The committer takes the next batch only once the last is committed: near 100%
        // busy, the write rate is its writes per commit over its time per commit.
        println!(
            "the group committer at 64 clients (every write's one serial stage): {}",
            committer_line(k)
        );
    }
    for (writers, rate, committer) in &alone {
        println!(
            "the group committer alone, {writers} in-process writers (Writer::register_node, \
             no HTTP, no credentials: the most a server on this writer answers {writers} \
             clients): {} ({:.0}% of the batched rate){}",
            fmt_rate(*rate),
            rate / batched * 100.0,
            committer
                .as_ref()
                .map_or(String::new(), |k| format!(", {}", committer_line(k)))
        );
    }
    if let Some((((http_clients, http), http_64, auth, (pop_single, pop_batched), json), store)) =
        floor.zip(store_cpu)
    {
        let sum = http + auth + json + store;
        let most = threads as f64 / sum;
        // The bar in CPU: half the batched rate on every core, clients included.
        let budget = threads as f64 / (0.5 * batched);
        println!("\nwhat a durable write cannot drop, measured in this run (CPU per write):");
        println!(
            "  an HTTP/1.1 exchange, both ends (GET /tile/0/000, its cheapest cell: {http_clients} client(s)): {}",
            fmt_time(http)
        );
        println!(
            "  the request's authorization (token, capability, proof, nonce):  {}",
            fmt_time(auth)
        );
        println!(
            "  the request's JSON (the spec parsed, the answer written):       {}",
            fmt_time(json)
        );
        println!(
            "  the store's registration and commit, 64 per commit (its CPU):   {}",
            fmt_time(store)
        );
        println!(
            "  together {}: {threads} cores fully used would answer at most {}, {:.0}% of the batched rate",
            fmt_time(sum),
            fmt_rate(most),
            most / batched * 100.0
        );
        if let Some(http_64) = http_64 {
            println!(
                "  the same with the exchange at 64 clients ({}): {}, at most {:.0}%",
                fmt_time(http_64),
                fmt_time(sum - http + http_64),
                threads as f64 / (sum - http + http_64) / batched * 100.0
            );
        }
        println!(
            "  the proof of possession's signature alone, 64 holders: {} one at a time, {} each in one batch of 64",
            fmt_time(pop_single),
            fmt_time(pop_batched)
        );
        let ideal = http + pop_batched + json + store;
        println!(
            "  the least any write could cost (the cheapest exchange, the batched signature and nothing else of the authorization, the JSON, the store): {}, at most {:.0}%",
            fmt_time(ideal),
            threads as f64 / ideal / batched * 100.0
        );
        println!(
            "  the bar's budget: {threads} cores at 50% of the batched rate leave {} of CPU per write, clients included; the store's part above leaves the rest of the write {}",
            fmt_time(budget),
            fmt_time(budget - store)
        );
    }
    if let Some((rate, Some(server_cpu))) = split {
        let most = threads as f64 / server_cpu;
        println!(
            "\nthe 64-client write cell with its clients on threads of their own: {} ({:.0}% of the batched rate); the server's CPU per write alone {}: were the clients elsewhere, {threads} cores fully used would answer at most {}, {:.0}% of the batched rate",
            fmt_rate(rate),
            rate / batched * 100.0,
            fmt_time(server_cpu),
            fmt_rate(most),
            most / batched * 100.0
        );
    }
    if let Some((r, committer)) = &bearer {
        let with_proof = rows
            .iter()
            .find(|(k, c, _, _)| *k == Kind::Register && *c == 64)
            .and_then(|(_, _, r, _)| r.cpu_per_request);
        let cost = with_proof
            .zip(r.cpu_per_request)
            .map_or(String::new(), |(with, without)| {
                format!(
                    ": the proof of possession costs a served write {}",
                    fmt_time(with - without)
                )
            });
        println!(
            "\nthe 64-client write cell with proof of possession off \
             (auth.proof_of_possession = false, the token a bearer credential): {} ({:.0}% of \
             the batched rate), {} of CPU per write{cost}",
            fmt_rate(r.rate),
            r.rate / batched * 100.0,
            r.cpu_per_request.map_or("-".into(), fmt_time),
        );
        if let Some(k) = committer {
            println!("  its group committer: {}", committer_line(k));
        }
    }
    if let Some((r, committer)) = &bare {
        // What cairn's own layers add to a bearer write: the bearer cell less this one.
        let layers = bearer
            .as_ref()
            .and_then(|(b, _)| b.cpu_per_request)
            .zip(r.cpu_per_request)
            .map_or(String::new(), |(with, without)| {
                format!(
                    "; cairn's layers (the token, limits, metrics, timeouts) cost a bearer write {}",
                    fmt_time(with - without)
                )
            });
        println!(
            "\nthe 64-client write cell against a bare axum route in front of the same group \
             committer (no credentials, limits, metrics, tracing or timeouts: the stack's own \
             ceiling for a served write on this host): {} ({:.0}% of the batched rate, {:.0}% \
             of the store's rate at 64 a commit), {} of CPU per write{layers}",
            fmt_rate(r.rate),
            r.rate / batched * 100.0,
            r.rate / batched64 * 100.0,
            r.cpu_per_request.map_or("-".into(), fmt_time),
        );
        if let Some(k) = committer {
            println!("  its group committer: {}", committer_line(k));
        }
    }
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!("\nbars (reported, not asserted):");
    if part("reads") {
        println!(
            "  reads >= 20,000 req/s on 2 cores: best read cell {} -> {}",
            fmt_rate(best_read),
            verdict(best_read >= 20_000.0)
        );
    }
    if part("writes") {
        println!(
            "  durable writes at 64 clients >= 50% of the store's batched rate: {:.0}% -> {}",
            ratio * 100.0,
            verdict(ratio >= 0.5)
        );
    }
    for (kind, c, r) in &handle_rows {
        if let Some(bar) = kind.bar() {
            println!(
                "  {} >= {} on 2 cores at {c} clients: {} -> {}",
                kind.name(),
                fmt_rate(bar),
                fmt_rate(r.rate),
                verdict(r.rate >= bar)
            );
        }
    }
    for (name, p99) in reads16_p99 {
        println!(
            "  p99 read < 5 ms at 16 clients, {name}: {} -> {}",
            fmt_time(p99),
            verdict(p99 < 0.005)
        );
    }
}
