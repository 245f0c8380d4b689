//! `cairn serve` as a process: killed with SIGKILL in the middle of concurrent authenticated
//! writes, after which every write it acknowledged is in the registry and the registry
//! audits.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::trust::{Role, RoleSet};
use cairn_service::auth::{authorization_value, sign_request};
use cairn_store::{KeySpec, Protection, Registry, TokenRequest};

use super::Env;

const ORIGIN: &str = "serve.example/log";

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Writes a configuration for a loopback port with rate limits off; returns (path, base URL).
pub(crate) fn loopback_config(env: &Env) -> (String, String) {
    let port = free_port();
    let cfg = env.write(
        "serve.toml",
        format!("address = \"127.0.0.1:{port}\"\n[rate_limit]\nenabled = false\n").as_bytes(),
    );
    (cfg, format!("http://127.0.0.1:{port}"))
}

/// Starts `cairn serve --config cfg` and waits until it answers `/health`.
pub(crate) fn start_server(env: &Env, cfg: &str, base: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["serve", "--config", cfg])
        .current_dir(env.dir.path())
        .env("CAIRN_HOME", env.home())
        .env_remove("CAIRN_PASSPHRASE")
        .env("CAIRN_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cairn serve");
    let agent = agent(Duration::from_millis(500));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = agent.get(&format!("{base}/health")).call() {
            if r.status() == 200 {
                return child;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("cairn serve exited early: {status}");
        }
        assert!(Instant::now() < deadline, "cairn serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn spec(id: &str) -> String {
    format!(
        r#"{{"id": "{id}", "name": "Node {id}", "version": "1.0.0", "capabilities": ["memory.store"], "signals": ["memory_stored"], "endpoints": [], "provenance": {{"source": "https://git.example.test/{id}"}}}}"#
    )
}

/// An insecure registry with a token issuer; returns a `node.register` token for `holder`.
fn registry_with_token(env: &Env, holder: &SigningKey) -> Envelope {
    env.ok(&["init", "--origin", ORIGIN, "--insecure-no-passphrase"]);
    let reg = Registry::open(env.home().join("registry.redb"), None).expect("open");
    let issuer = reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("issuer", RoleSet::of(&[Role::TokenIssuer])),
            &Protection::Insecure,
        )
        .expect("issuer key")
        .key_id;
    reg.issue_token(
        &issuer,
        None,
        &TokenRequest::new(
            holder.public_key().clone(),
            ORIGIN,
            &["node.register"],
            3600,
        ),
    )
    .expect("token")
    .envelope
}

/// One registration; `Some(true)` when acknowledged (2xx), `Some(false)` when refused with an
/// HTTP answer, `None` when the connection failed (the server is gone).
fn register(
    a: &ureq::Agent,
    base: &str,
    token: &Envelope,
    holder: &SigningKey,
    id: &str,
    nonce: &str,
) -> Option<bool> {
    let path = "/api/v1/registry/register";
    let body = spec(id);
    let proof = sign_request(
        holder,
        &token.id(),
        "POST",
        path,
        body.as_bytes(),
        now(),
        nonce,
    )
    .expect("sign");
    let r = a
        .post(&format!("{base}{path}"))
        .header("authorization", &authorization_value(token))
        .header("cairn-proof", &proof)
        .content_type("application/json")
        .send(body.as_bytes());
    match r {
        Ok(mut r) => {
            // An answer is an acknowledgement only once its whole body arrived.
            let ok = r.status().is_success();
            r.body_mut().read_to_vec().ok().map(|_| ok)
        }
        Err(_) => None,
    }
}

#[test]
fn kill_9_during_concurrent_writes_loses_no_acknowledged_write() {
    let env = Env::new();
    let holder = Arc::new(SigningKey::generate(Algorithm::Ed25519));
    let token = Arc::new(registry_with_token(&env, &holder));
    let (cfg, base) = loopback_config(&env);
    let path = env.home().join("registry.redb");
    let nonce = Arc::new(AtomicU64::new(0));
    let mut total_acked = 0;
    // Kill delays measured from the first acknowledged write of the round.
    for (round, delay_ms) in [40u64, 250, 700].into_iter().enumerate() {
        let mut child = start_server(&env, &cfg, &base);
        let acked = Arc::new(Mutex::new(Vec::<String>::new()));
        let first = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..8)
            .map(|t| {
                let (base, token, holder) = (base.clone(), token.clone(), holder.clone());
                let (acked, first, nonce) = (acked.clone(), first.clone(), nonce.clone());
                std::thread::spawn(move || {
                    let a = agent(Duration::from_secs(5));
                    let stop = Instant::now() + Duration::from_secs(10);
                    let mut refused = 0;
                    for i in 0.. {
                        if Instant::now() > stop {
                            break;
                        }
                        let id = format!("k{round}-t{t}-{i}");
                        let n = format!("kill-nonce-{:08}", nonce.fetch_add(1, Ordering::Relaxed));
                        match register(&a, &base, &token, &holder, &id, &n) {
                            Some(true) => {
                                acked.lock().unwrap().push(id);
                                first.store(true, Ordering::Release);
                            }
                            Some(false) => refused += 1,
                            None => break,
                        }
                    }
                    refused
                })
            })
            .collect();
        let wait = Instant::now() + Duration::from_secs(10);
        while !first.load(Ordering::Acquire) && Instant::now() < wait {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
        child.wait().expect("reap");
        let refused: u32 = clients.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(refused, 0, "round {round}: writes were refused");
        let acked = acked.lock().unwrap().clone();
        assert!(
            !acked.is_empty(),
            "round {round}: no write was acknowledged"
        );
        total_acked += acked.len();
        check_registry(&path, &acked, round);
    }
    assert!(total_acked >= 3, "{total_acked}");
}

fn check_registry(path: &Path, acked: &[String], round: usize) {
    let reg = Registry::open(path, None).expect("the registry opens after SIGKILL");
    reg.audit()
        .unwrap_or_else(|e| panic!("round {round}: audit: {e}"));
    for id in acked {
        let n = reg
            .node(id)
            .unwrap_or_else(|e| panic!("round {round}: acknowledged node {id} lost: {e}"));
        assert_eq!(&n.spec.id, id);
    }
}
