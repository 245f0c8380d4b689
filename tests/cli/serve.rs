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

/// A free loopback port for a server this test binary starts (cairn serve, a witness, nginx):
/// below the kernel's ephemeral range (32768 and up on Linux), so that no client connection
/// of another test can take it between this check and the server's bind, and a different one
/// for each call (the tests run on parallel threads). A port something else holds is skipped.
pub(crate) fn free_port() -> u16 {
    use std::sync::atomic::AtomicU16;
    const FIRST: u16 = 21000;
    const COUNT: u16 = 6000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    for _ in 0..COUNT {
        let port = FIRST + NEXT.fetch_add(1, Ordering::SeqCst) % COUNT;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + COUNT);
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

/// A `cairn serve` process, SIGKILLed when dropped (so a failing test leaves none behind).
pub(crate) struct Serving(Child);

impl Serving {
    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    pub(crate) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `cairn serve --config cfg` and waits until it answers `/health`.
pub(crate) fn start_server(env: &Env, cfg: &str, base: &str) -> Serving {
    start_server_with(env, cfg, base, &[])
}

/// As [`start_server`], with more arguments for `cairn serve` (say a passphrase file).
pub(crate) fn start_server_with(env: &Env, cfg: &str, base: &str, extra: &[&str]) -> Serving {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["serve", "--config", cfg])
        .args(extra)
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
                return Serving(child);
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

/// SIGTERM stops accepting connections and waits for the requests in flight; a second
/// signal ends the process at once (status 130) rather than after the grace period, and the
/// registry it leaves audits clean.
#[cfg(unix)]
#[test]
fn sigterm_waits_for_requests_in_flight_and_a_second_one_exits_at_once() {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    let env = Env::new();
    registry_with_token(&env, &SigningKey::generate(Algorithm::Ed25519));
    let (cfg, base) = loopback_config(&env);
    let mut child = start_server(&env, &cfg, &base);
    let signal = |child: &Serving| {
        let pid = child.0.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(ok.success(), "kill -TERM {pid}");
    };
    // A request in flight: its body is still coming (the request timeout is 10 s). The
    // server's `100 Continue` says its handler is reading the body: the request is in flight
    // by then, not still being accepted.
    let mut slow = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    slow.write_all(
        b"POST /api/v1/registry/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut continued = Vec::new();
    while !String::from_utf8_lossy(&continued).contains("\r\n\r\n") {
        let mut byte = [0u8; 1];
        match std::io::Read::read(&mut slow, &mut byte) {
            Ok(1) => continued.push(byte[0]),
            other => panic!("no 100 Continue ({other:?}): {continued:?}"),
        }
    }
    assert!(
        continued.starts_with(b"HTTP/1.1 100 "),
        "{}",
        String::from_utf8_lossy(&continued)
    );
    slow.write_all(b"{").unwrap();
    signal(&child);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );
    assert!(
        agent(Duration::from_secs(2))
            .get(&format!("{base}/health"))
            .call()
            .is_err(),
        "accepting connections after SIGTERM"
    );
    let sent = Instant::now();
    signal(&child);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "a second SIGTERM did not end the process"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        status.code(),
        Some(130),
        "{status:?} (signal {:?})",
        status.signal()
    );
    drop(slow);
    let reg = Registry::open(env.home().join("registry.redb"), None).unwrap();
    reg.audit().unwrap();
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
        child.kill();
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

/// One request with the token file in `Authorization` and `proof` in `Cairn-Proof`; returns
/// (status, error code).
fn send(
    base: &str,
    method: &str,
    path: &str,
    token_file: &[u8],
    proof: &str,
    body: &[u8],
) -> (u16, String) {
    let a = agent(Duration::from_secs(10));
    let url = format!("{base}{path}");
    let auth = format!("Cairn {}", cairn_core::encoding::b64_encode(token_file));
    let r = match method {
        "POST" => a
            .post(&url)
            .header("authorization", &auth)
            .header("cairn-proof", proof)
            .content_type("application/json")
            .send(body),
        "DELETE" => a
            .delete(&url)
            .header("authorization", &auth)
            .header("cairn-proof", proof)
            .call(),
        m => panic!("{m}"),
    };
    let mut r = r.expect("request");
    let status = r.status().as_u16();
    let v: serde_json::Value =
        serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap_or_default();
    (status, v["error"]["code"].as_str().unwrap_or("").to_owned())
}

#[test]
fn token_proof_makes_the_header_the_real_server_accepts() {
    let env = Env::new();
    env.insecure_registry();
    let origin = "test.example/log";
    let tok = env.p("ops.token.json");
    env.ok(&[
        "token",
        "issue",
        "--issuer",
        "issuer",
        "--holder",
        "agent",
        "--audience",
        origin,
        "--capability",
        "node.register",
        "--capability",
        "node.deregister",
        "--ttl",
        "1h",
        "--out",
        &tok,
    ]);
    let token_bytes = std::fs::read(&tok).unwrap();
    let token_id = env.ok(&["token", "list"])["tokens"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let node = spec("proof-01");
    let node_file = env.write("node.json", node.as_bytes());
    let reg_path = "/api/v1/registry/register";
    let (cfg, base) = loopback_config(&env);

    // Proofs are made before the server holds the registry (it is opened for writing), dated
    // a little ahead: the server refuses a proof dated before its start (its nonce memory
    // begins then), and starting it may take us into a later second.
    let ahead = (now() + 30).to_string();
    let text = env.run(&[
        "token", "proof", "--file", &tok, "--method", "POST", "--path", reg_path, "--body",
        &node_file, "--time", &ahead,
    ]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let proof = text.stdout.trim().to_owned();
    assert!(
        proof.starts_with("t=") && proof.contains(";n=") && proof.contains(";s="),
        "{proof}"
    );
    let j = env.ok(&[
        "token",
        "proof",
        &token_id,
        "--method",
        "post",
        "--path",
        reg_path,
        "--body",
        &node_file,
        "--nonce",
        "fixed-nonce-0000001",
        "--time",
        &ahead,
    ]);
    assert_eq!(j["header"], "Cairn-Proof");
    assert_eq!(j["method"], "POST");
    assert_eq!(j["nonce"], "fixed-nonce-0000001");
    assert_eq!(j["token"], token_id.as_str());
    let same_nonce = j["value"].as_str().unwrap().to_owned();
    let other_body = env.write("other.json", spec("proof-02").as_bytes());
    let wrong_body = env.ok(&[
        "token",
        "proof",
        "--file",
        &tok,
        "--method",
        "POST",
        "--path",
        reg_path,
        "--body",
        &other_body,
        "--time",
        &ahead,
    ])["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let del_path = "/api/v1/registry/proof-01";
    let delete = env.ok(&[
        "token", "proof", &token_id, "--method", "DELETE", "--path", del_path, "--time", &ahead,
    ])["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let stale = env.ok(&[
        "token",
        "proof",
        &token_id,
        "--method",
        "POST",
        "--path",
        reg_path,
        "--body",
        &node_file,
        "--time",
        "1000000000",
    ])["value"]
        .as_str()
        .unwrap()
        .to_owned();

    // Refusals by the command itself.
    env.fails(
        &[
            "token", "proof", &token_id, "--holder", "issuer", "--method", "POST", "--path",
            reg_path,
        ],
        1,
        "unauthorized",
    );
    env.fails(
        &[
            "token", "proof", &token_id, "--method", "POST", "--path", reg_path, "--nonce", "short",
        ],
        2,
        "usage",
    );
    env.fails(
        &[
            "token", "proof", &token_id, "--method", "POST", "--path", "api/v1",
        ],
        2,
        "usage",
    );

    let agent_pem = env.p("agent.pem");
    env.ok(&["key", "export", "agent", "--private", "--out", &agent_pem]);
    let issuer_pem = env.p("issuer.pem");
    env.ok(&["key", "export", "issuer", "--private", "--out", &issuer_pem]);

    let mut child = start_server(&env, &cfg, &base);
    // Beside the running server (which holds the registry file): token and key from files.
    let node3 = spec("proof-03");
    let node3_file = env.write("node3.json", node3.as_bytes());
    let beside = env.run(&[
        "token",
        "proof",
        "--file",
        &tok,
        "--key-file",
        &agent_pem,
        "--method",
        "POST",
        "--path",
        reg_path,
        "--body",
        &node3_file,
    ]);
    assert_eq!(beside.code, 0, "{}", beside.stderr);
    assert_eq!(
        send(
            &base,
            "POST",
            reg_path,
            &token_bytes,
            beside.stdout.trim(),
            node3.as_bytes()
        ),
        (201, String::new())
    );
    env.fails(
        &[
            "token",
            "proof",
            "--file",
            &tok,
            "--key-file",
            &issuer_pem,
            "--method",
            "POST",
            "--path",
            reg_path,
        ],
        1,
        "unauthorized",
    );
    env.fails(
        &[
            "token",
            "proof",
            "--file",
            &tok,
            "--key-file",
            &node3_file,
            "--method",
            "POST",
            "--path",
            reg_path,
        ],
        2,
        "malformed",
    );
    let b = node.as_bytes();
    assert_eq!(
        send(&base, "POST", reg_path, &token_bytes, &proof, b),
        (201, String::new())
    );
    // The same proof again is a replay; one with the same nonce too.
    assert_eq!(
        send(&base, "POST", reg_path, &token_bytes, &proof, b),
        (401, "replayed".into())
    );
    assert_eq!(
        send(&base, "POST", reg_path, &token_bytes, &same_nonce, b).0,
        200,
        "a fresh nonce of its own: the node is replaced"
    );
    assert_eq!(
        send(&base, "POST", reg_path, &token_bytes, &same_nonce, b),
        (401, "replayed".into())
    );
    // A proof over another body, or from long ago, is refused.
    assert_eq!(
        send(&base, "POST", reg_path, &token_bytes, &wrong_body, b),
        (401, "signature_invalid".into())
    );
    assert_eq!(
        send(&base, "POST", reg_path, &token_bytes, &stale, b),
        (401, "expired".into())
    );
    // A proof for DELETE is not one for POST, and works for its own request.
    assert_eq!(
        send(&base, "POST", reg_path, &token_bytes, &delete, b),
        (401, "signature_invalid".into())
    );
    assert_eq!(
        send(&base, "DELETE", del_path, &token_bytes, &delete, b""),
        (200, String::new())
    );
    child.kill();
}
