//! Peer key registry benches (seed 004's exchange on cairn's store):
//!
//! - **KeyResponse verification, native:** a compact response (ML-DSA-65 signature, FIPS 203
//!   check of the ML-KEM-768 key, addressee, time), and a response in its key-transparency
//!   bundle verified and vouched for against the responder's log (`peer::vouch`: the
//!   checkpoint's Ed25519 + ML-DSA-44 signatures, the inclusion proof, the entry), each beside
//!   the bare ML-DSA-65 verification (fips204) they contain, interleaved.
//! - **Lookups by peer id** with 10^3, 10^4 and 10^5 peers stored (10^5 only in the full run):
//!   `Registry::peer` (the record checked against its ledger entries) and seed 004's "get
//!   signing key", for random stored ids, each size timed interleaved with a registry of 10^3
//!   peers after both were warmed; the bar is flat from 10^3 to 10^5. The registries are
//!   filled through the real exchange: a signed request, a signed response, verified and
//!   stored by trust on first use (two ledger entries per peer), a thousand per commit.
//! - **Exchange round trip over loopback:** Alice's registry makes a key request, `cairn serve`
//!   answers it on 127.0.0.1 (`POST /api/v1/peer/key-request`, a durable commit of the nonce),
//!   and Alice receives, vouches (the pinned key) and commits; p50/p99, with and without the
//!   transparency proof.
//!
//! The same verification in wasm beside @noble/post-quantum is in benches/js/run.mjs (`--only
//! peer`). `cargo bench --bench peer` measures; `cargo test --benches` runs each part once at a
//! tiny size. See docs/PERFORMANCE.md, "Peer keys".

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_core::bundle::example::{MemoryRegistry, NOW};
use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::ledger::Event;
use cairn_core::peer::{
    verify_key_request, verify_key_response, vouch, ExchangeConfig, KemPublicKey, KeyResponse,
    VouchPolicy, VouchRule, PEER_MESSAGE_VERSION,
};
use cairn_core::trust::{Role, RoleSet};
use cairn_service::{Config, Server};
use cairn_store::{CreateOptions, KeySpec, Protection, Registry};
use fips204::traits::{SerDes as _, Verifier as _};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ml_kem::KeyExport;
use support::{fmt_time, median, paired, percentile, Mode, Table};

const SKEW: u64 = 300;

fn kem(n: u8) -> KemPublicKey {
    let mut seed = [n; 64];
    seed[32..].fill(n ^ 0x5a);
    let dk = ml_kem::DecapsulationKey768::from_seed(seed.into());
    let ek = dk.encapsulation_key().to_bytes();
    KemPublicKey::from_bytes(&ek).expect("a generated key is valid")
}

fn response(key: &SigningKey, from: &str, to: &str, request_nonce: u64, at: u64) -> KeyResponse {
    KeyResponse {
        version: PEER_MESSAGE_VERSION,
        responder_id: from.into(),
        requester_id: to.into(),
        signing_key: key.public_key().clone(),
        kem_key: kem(7),
        request_nonce,
        timestamp: at,
        nonce: request_nonce + 1,
    }
}

/// Part 1: verification of one response, compact and with its transparency bundle.
fn verification(mode: Mode) {
    let budget = Duration::from_millis(mode.pick(3000, 800, 1));
    let bob = SigningKey::from_seed(Algorithm::MlDsa65, &[2; 32]);
    let env = response(&bob, "bob", "alice", 1, NOW)
        .sign(&bob)
        .expect("signs");
    let compact = env.to_compact();
    let mut log = MemoryRegistry::new(60);
    log.append(Event::AuditNote {
        text: "before".into(),
    })
    .expect("appends");
    let seq = log
        .append(Event::PeerKeyStored {
            peer_id: "bob".into(),
            key_id: bob.public_key().key_id(),
        })
        .expect("appends");
    let bundle = log
        .bundle(seq, env.clone(), Vec::new())
        .expect("bundle")
        .to_bytes();
    let roots = [cairn_core::peer::PeerLog::new("bob", log.pinned())];
    let policy = VouchPolicy {
        transparency: &roots,
        require_hybrid_checkpoint: true,
        ..Default::default()
    };
    // The bare signature check the response carries.
    let pk = fips204::ml_dsa_65::PublicKey::try_from_bytes(
        bob.public_key()
            .as_bytes()
            .try_into()
            .expect("an ML-DSA-65 key"),
    )
    .expect("key decodes");
    let signed = env.signed_bytes();
    let sig: [u8; fips204::ml_dsa_65::SIG_LEN] = env.signatures[0]
        .sig
        .as_slice()
        .try_into()
        .expect("an ML-DSA-65 signature");
    let ctx = env.payload_type.as_bytes().to_vec();
    let bare = || {
        assert!(pk.verify(&signed, &sig, &ctx), "bare ML-DSA-65 verifies");
    };
    let compact_call = || {
        verify_key_response(&compact, "alice", NOW, SKEW).expect("response verifies");
    };
    let bundle_call = || {
        let v = verify_key_response(&bundle, "alice", NOW, SKEW).expect("response verifies");
        let got = vouch(&v, None, &policy, NOW).expect("the log vouches");
        assert_eq!(got.rule, VouchRule::Transparency);
    };
    let c = paired(mode, budget, compact_call, bare);
    let b = paired(mode, budget, bundle_call, bare);
    let mut t = Table::new(
        "KeyResponse verification, native (ML-DSA-65 responder key; log key Ed25519 + ML-DSA-44)",
        &["what", "bytes", "median", "bare ML-DSA-65 verify", "x bare"],
    );
    for (what, len, p) in [
        ("compact response", compact.len(), &c),
        (
            "response in its bundle, vouched by the log",
            bundle.len(),
            &b,
        ),
    ] {
        t.row(vec![
            what.into(),
            len.to_string(),
            fmt_time(p.a),
            fmt_time(p.b),
            if mode.measures() {
                format!("{:.2}x", p.ratio())
            } else {
                "-".into()
            },
        ]);
    }
    t.print();
}

/// A registry that is peer "alice".
fn alice(path: &std::path::Path, clock: &Arc<AtomicU64>) -> Registry {
    let mut reg = Registry::create(
        path,
        CreateOptions::new("alice.bench/log", Protection::Insecure),
    )
    .expect("registry creates");
    let c = clock.clone();
    reg.set_clock(Arc::new(move || c.load(Ordering::SeqCst)));
    let key = reg
        .generate_key(
            Algorithm::MlDsa65,
            &KeySpec::new("alice", RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )
        .expect("key")
        .key_id;
    reg.set_peer_identity("alice", &key, &kem(1))
        .expect("identity");
    reg
}

/// Stores peers `peer-{from}..peer-{to}` through the exchange, `per_commit` per commit.
fn fill_peers(reg: &Registry, peer_key: &SigningKey, from: u64, to: u64, per_commit: u64) {
    let cfg = ExchangeConfig::default();
    let tofu = VouchPolicy {
        trust_on_first_use: true,
        ..Default::default()
    };
    let now = reg.now();
    let mut i = from;
    while i < to {
        let end = (i + per_commit).min(to);
        reg.write(|tx| {
            for n in i..end {
                let id = format!("peer-{n}");
                let req = tx
                    .request_peer_keys(&id, &cfg, None, false)?
                    .expect("a new peer is requested");
                let nonce = verify_key_request(&req, &id, now, SKEW)
                    .expect("own request verifies")
                    .request
                    .nonce;
                let resp = response(peer_key, &id, "alice", nonce, now)
                    .sign(peer_key)
                    .expect("signs")
                    .to_compact();
                tx.receive_key_response(&resp, &cfg, &tofu)?
                    .expect("first use vouches");
            }
            Ok(())
        })
        .expect("fill commits");
        i = end;
    }
}

/// A reproducible stream of stored peer ids (xorshift).
fn random_ids(n: u64, seed: u64) -> impl FnMut() -> String {
    let mut rng = seed | 1;
    move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        format!("peer-{}", rng % n)
    }
}

/// Part 2: lookups by peer id at growing registry sizes. One registry stays at the smallest
/// size, another grows; at each size both are warmed (every stored id looked up once, as a
/// long-running registry is) and then timed interleaved ([`paired`]), so the ratio compares
/// the sizes under the same load.
fn lookups(mode: Mode, dir: &std::path::Path) {
    let sizes: Vec<u64> = mode.pick(
        vec![1_000, 10_000, 100_000],
        vec![1_000, 10_000],
        vec![10, 30],
    );
    let budget = Duration::from_millis(mode.pick(3000, 1000, 1));
    let clock = Arc::new(AtomicU64::new(NOW));
    let peer_key = SigningKey::from_seed(Algorithm::MlDsa65, &[9; 32]);
    let small_path = dir.join("peers-small.redb");
    let small = alice(&small_path, &clock);
    fill_peers(&small, &peer_key, 0, sizes[0], 1_000);
    let path = dir.join("peers.redb");
    let reg = alice(&path, &clock);
    let warm = |reg: &Registry, n: u64| {
        for i in 0..n {
            reg.peer(&format!("peer-{i}")).expect("stored peer");
        }
    };
    warm(&small, sizes[0]);
    let mut t = Table::new(
        &format!(
            "Lookups by peer id (random stored ids, warmed; two ledger entries per peer), each size interleaved with {} peers",
            sizes[0]
        ),
        &[
            "peers",
            "fill (peers/s)",
            "file MB",
            "peer() p50",
            "at the smallest size",
            "ratio",
            "signing key p50",
            "unchecked record p50",
        ],
    );
    let mut have = 0;
    let mut ratios = Vec::new();
    for &n in &sizes {
        let t0 = Instant::now();
        fill_peers(&reg, &peer_key, have, n, 1_000);
        let fill_rate = (n - have) as f64 / t0.elapsed().as_secs_f64();
        have = n;
        warm(&reg, n);
        let (mut big_id, mut small_id) = (random_ids(n, 7), random_ids(sizes[0], 11));
        let checked = paired(
            mode,
            budget,
            || {
                assert!(reg.peer(&big_id()).expect("stored peer").is_verified());
            },
            || {
                assert!(small.peer(&small_id()).expect("stored peer").is_verified());
            },
        );
        let mut key_id = random_ids(n, 13);
        let key = support::timed(mode, budget / 3, || {
            reg.peer_signing_key(&key_id()).expect("verified peer");
        });
        let mut raw_id = random_ids(n, 17);
        let raw = support::timed(mode, budget / 3, || {
            reg.peer_unverified(&raw_id())
                .expect("reads")
                .expect("stored peer");
        });
        ratios.push(checked.ratio());
        let mb = std::fs::metadata(&path).map_or(0.0, |m| m.len() as f64 / 1e6);
        let shown = |v: String| if mode.measures() { v } else { "-".into() };
        t.row(vec![
            n.to_string(),
            shown(format!("{fill_rate:.0}")),
            format!("{mb:.1}"),
            shown(fmt_time(checked.a)),
            shown(fmt_time(checked.b)),
            shown(format!("{:.2}x", checked.ratio())),
            shown(fmt_time(key)),
            shown(fmt_time(raw)),
        ]);
    }
    t.print();
    if mode.measures() {
        if let Some(last) = ratios.last() {
            println!(
                "peer() at {} peers / at {} peers, interleaved: {last:.2}x (bar: flat)",
                sizes[sizes.len() - 1],
                sizes[0],
            );
        }
    }
    reg.audit().expect("the filled registry audits");
    drop((reg, small));
    std::fs::remove_file(&path).ok();
    std::fs::remove_file(&small_path).ok();
}

/// Part 3: the exchange round trip against `cairn serve` on loopback.
fn round_trip(mode: Mode, dir: &std::path::Path) {
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
    };
    let clock = Arc::new(AtomicU64::new(unix_now()));
    let requester = alice(&dir.join("alice.redb"), &clock);
    // The served registry: peer "bob", with a trust root so it can prove its identity.
    let bob = Registry::create(
        dir.join("bob.redb"),
        CreateOptions::new("bob.bench/log", Protection::Insecure),
    )
    .expect("registry creates");
    let key = bob
        .generate_key(
            Algorithm::MlDsa65,
            &KeySpec::new("bob", RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )
        .expect("key")
        .key_id;
    bob.set_peer_identity("bob", &key, &kem(2))
        .expect("identity");
    let root_key = bob
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("root", RoleSet::of(&[Role::Root])),
            &Protection::Insecure,
        )
        .expect("root key")
        .key_id;
    let spec = cairn_store::TrustRootSpec {
        keys: vec![root_key, bob.log_key_id().expect("log key")],
        thresholds: cairn_core::trust::Thresholds::default()
            .with(Role::Root, 1)
            .with(Role::Checkpoint, 1),
        expires_at: clock.load(Ordering::SeqCst) + 86_400,
    };
    let root = bob
        .create_trust_root(&spec, &[(root_key, None)])
        .expect("trust root");
    let logs = [cairn_core::peer::PeerLog::new(
        "bob",
        cairn_core::trust::VerifiedRoot::from_pinned(&root.envelope).expect("root"),
    )];
    let mut config = Config {
        address: "127.0.0.1:0".parse().expect("address"),
        ..Config::default()
    };
    config.rate_limit.enabled = false;
    let rounds = mode.pick(200, 40, 2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cfg = ExchangeConfig::default();
    let rows = rt.block_on(async {
        let server = Server::start(config, bob).await.expect("server");
        let base = server.url();
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let mut rows = Vec::new();
        for proof in [true, false] {
            let url = format!(
                "{base}/api/v1/peer/key-request{}",
                if proof { "?proof=true" } else { "" }
            );
            let policy = VouchPolicy {
                transparency: &logs,
                require_hybrid_checkpoint: true,
                ..Default::default()
            };
            let mut times = Vec::new();
            let mut bytes = 0;
            for _ in 0..rounds {
                let t = Instant::now();
                let req = requester
                    .request_peer_keys_again("bob", &cfg, None)
                    .expect("request");
                let resp = client
                    .request(
                        hyper::Request::post(url.as_str())
                            .header("content-type", "application/octet-stream")
                            .body(Full::new(Bytes::from(req)))
                            .expect("request"),
                    )
                    .await
                    .expect("response");
                assert!(resp.status().is_success(), "answered {}", resp.status());
                let body = resp.into_body().collect().await.expect("body").to_bytes();
                bytes = body.len();
                // The requester's clock follows the real one that `bob` uses: a key `bob` made
                // after the requester's clock was read must not look not yet valid to it.
                clock.store(unix_now(), Ordering::SeqCst);
                let got = requester
                    .receive_key_response(&body, &cfg, &policy)
                    .expect("received");
                assert!(got.vouch.is_some(), "vouched");
                times.push(t.elapsed().as_secs_f64());
            }
            rows.push((proof, bytes, times));
        }
        server
            .shutdown(Duration::from_secs(10))
            .await
            .expect("shutdown");
        rows
    });
    let mut t = Table::new(
        "Exchange round trip over loopback (request, cairn serve answers, receive: three durable commits)",
        &["response", "bytes", "rounds", "p50", "p99"],
    );
    for (proof, bytes, mut times) in rows {
        t.row(vec![
            if proof {
                "with transparency bundle (first round verified by the log, then pinned)"
            } else {
                "compact (pinned key)"
            }
            .into(),
            bytes.to_string(),
            times.len().to_string(),
            if mode.measures() {
                fmt_time(median(&mut times))
            } else {
                "-".into()
            },
            if mode.measures() {
                fmt_time(percentile(&mut times, 99.0))
            } else {
                "-".into()
            },
        ]);
    }
    t.print();
}

/// Whether a part runs: `CAIRN_PEER_BENCH=verify,lookups,roundtrip` picks parts (default all).
fn part(name: &str) -> bool {
    std::env::var("CAIRN_PEER_BENCH").map_or(true, |v| v.split(',').any(|p| p.trim() == name))
}

fn main() {
    let mode = Mode::from_env();
    let dir = support::bench_dir("peer");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let started = Instant::now();
    if part("verify") {
        verification(mode);
    }
    if part("lookups") {
        lookups(mode, &dir);
    }
    if part("roundtrip") {
        round_trip(mode, &dir);
    }
    std::fs::remove_dir_all(&dir).ok();
    println!(
        "peer bench ({mode:?}) finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
