//! The real server on a loopback port, over HTTP and HTTPS (certificates made here with
//! rcgen): every endpoint, every auth failure, mutual TLS accepted and refused, malformed and
//! oversized bodies, group commit under concurrent writes, graceful shutdown.

mod support;

use support::{done, Resp};

use std::sync::Arc;
use std::time::Duration;

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::encoding::{hex_encode, Digest};
use cairn_core::tiles::{Tile, TileClient};
use cairn_core::token::{TokenBuilder, TokenClaims};
use cairn_core::trust::{Role, RoleSet};
use cairn_service::auth::{authorization_value, sign_request};
use cairn_service::config::{Config, Tls};
use cairn_service::Server;
use cairn_store::{CreateOptions, KeySpec, Protection, Registry, TokenRequest};
use serde_json::Value;

const ORIGIN: &str = "svc.test/log";

/// A registry with a token issuer, and tokens for a holder key.
struct Fixture {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    reg: Option<Registry>,
    holder: SigningKey,
    issuer: cairn_core::crypto::KeyId,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let reg = Registry::create(
            dir.join("r.redb"),
            CreateOptions::new(ORIGIN, Protection::Insecure),
        )
        .unwrap();
        let issuer = reg
            .generate_key(
                Algorithm::Ed25519,
                &KeySpec::new("issuer", RoleSet::of(&[Role::TokenIssuer])),
                &Protection::Insecure,
            )
            .unwrap()
            .key_id;
        Fixture {
            _dir: tmp,
            dir,
            reg: Some(reg),
            holder: SigningKey::generate(Algorithm::Ed25519),
            issuer,
        }
    }

    /// A root key, and a trust root (version 1) listing every key of the registry with a
    /// private half, a threshold of 1 for each role they hold: what bundles need.
    fn trust_root(&mut self) -> cairn_core::trust::VerifiedRoot {
        use cairn_store::{KeyStatus, PrivatePart, TrustRootSpec};
        let root_key = self
            .reg()
            .generate_key(
                Algorithm::Ed25519,
                &KeySpec::new("root", RoleSet::of(&[Role::Root])),
                &Protection::Insecure,
            )
            .unwrap();
        let listed: Vec<_> = self
            .reg()
            .list_keys()
            .unwrap()
            .into_iter()
            .filter(|k| k.status == KeyStatus::Active && k.private != PrivatePart::None)
            .collect();
        let mut t = cairn_core::trust::Thresholds::default();
        for role in Role::ALL {
            if listed.iter().any(|k| k.roles.contains(role)) {
                t = t.with(role, 1);
            }
        }
        self.reg()
            .create_trust_root(
                &TrustRootSpec {
                    keys: listed.iter().map(|k| k.key_id).collect(),
                    thresholds: t,
                    expires_at: self.reg().now() + 86_400,
                },
                &[(root_key.key_id, None)],
            )
            .unwrap()
            .root
    }

    /// [`Fixture::new`], with nodes `n0` .. `n{count - 1}` registered in one commit.
    fn with_nodes(count: usize) -> Fixture {
        let fx = Fixture::new();
        fx.reg()
            .write(|tx| {
                for i in 0..count {
                    tx.register_node(&cairn_store::NodeSpec::from_json(&spec(&format!("n{i}")))?)?;
                }
                Ok(())
            })
            .unwrap();
        fx
    }

    fn reg(&self) -> &Registry {
        self.reg.as_ref().unwrap()
    }

    fn token(&self, audience: &str, caps: &[&str], ttl: u64) -> cairn_store::TokenInfo {
        self.reg()
            .issue_token(
                &self.issuer,
                None,
                &TokenRequest::new(self.holder.public_key().clone(), audience, caps, ttl),
            )
            .unwrap()
    }
}

/// A tokio runtime with the server on it.
struct Running {
    rt: tokio::runtime::Runtime,
    server: Option<Server>,
    url: String,
}

impl Running {
    fn start(config: Config, reg: Registry) -> Running {
        Running::start_with_keys(config, reg, None)
    }

    fn start_with_keys(
        config: Config,
        reg: Registry,
        pass: Option<cairn_store::Passphrase>,
    ) -> Running {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt
            .block_on(Server::start_with_keys(config, reg, pass))
            .expect("server starts");
        let url = server.url();
        Running {
            rt,
            server: Some(server),
            url,
        }
    }

    fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt
                .block_on(s.shutdown(Duration::from_secs(5)))
                .unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn loopback() -> Config {
    Config {
        address: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

fn get(a: &ureq::Agent, url: &str) -> Resp {
    done(a.get(url).call())
}

/// A signed write: Authorization with `token`, Cairn-Proof by `key` (when given). Every
/// argument is one part of what the proof signs, so they stay separate.
#[allow(clippy::too_many_arguments)]
fn write(
    a: &ureq::Agent,
    base: &str,
    method: &str,
    path: &str,
    body: &[u8],
    token: Option<&cairn_core::dsse::Envelope>,
    key: Option<&SigningKey>,
    nonce: &str,
    time: u64,
) -> Resp {
    let url = format!("{base}{path}");
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(t) = token {
        headers.push(("authorization".into(), authorization_value(t)));
        if let Some(k) = key {
            let id: Digest = t.id();
            headers.push((
                "cairn-proof".into(),
                sign_request(k, &id, method, path, body, time, nonce).unwrap(),
            ));
        }
    }
    match method {
        "POST" => {
            let mut req = a.post(&url).content_type("application/json");
            for (k, v) in &headers {
                req = req.header(k, v);
            }
            done(req.send(body))
        }
        "DELETE" => {
            let mut req = a.delete(&url);
            for (k, v) in &headers {
                req = req.header(k, v);
            }
            done(req.call())
        }
        m => panic!("{m}"),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn spec(id: &str) -> String {
    format!(
        r#"{{"id": "{id}", "name": "Node {id}", "version": "1.0.0", "capabilities": ["memory.store"], "signals": ["memory_stored"], "endpoints": [{{"name": "api", "url": "https://{id}.example.test/v1"}}], "provenance": {{"source": "https://git.example.test/{id}"}}}}"#
    )
}

#[test]
fn endpoints_auth_and_errors_over_http() {
    let mut fx = Fixture::new();
    let good = fx.token(ORIGIN, &["node.register", "node.deregister"], 3600);
    let only_delete = fx.token(ORIGIN, &["node.deregister"], 3600);
    let other_audience = fx.token("elsewhere.test/log", &["node.register"], 3600);
    let revoked = fx.token(ORIGIN, &["node.register"], 3600);
    let constrained = {
        let mut request = TokenRequest::new(
            fx.holder.public_key().clone(),
            ORIGIN,
            &["node.register"],
            3600,
        );
        request.constraints.push((
            "node_id".into(),
            cairn_core::token::ConstraintValue::Exact("mem-01".into()),
        ));
        fx.reg().issue_token(&fx.issuer, None, &request).unwrap()
    };
    fx.reg()
        .revoke_token(&revoked.id, "leaked", &fx.issuer, None)
        .unwrap();
    // An expired token: valid for one second (the wait below outlasts it).
    let expired = fx.token(ORIGIN, &["node.register"], 1);
    // A delegation that widens its parent (adds a capability): refused as a credential.
    // (TokenBuilder refuses to make one, so the claims are edited and signed by hand.)
    let widened = {
        let narrow = TokenBuilder::new(fx.holder.public_key().clone())
            .capability("node.deregister")
            .delegate(&only_delete.envelope, &fx.holder)
            .unwrap();
        let mut claims = TokenClaims::from_payload(&narrow.payload).unwrap();
        claims.capabilities.insert("node.register".into());
        let mut env = claims.to_envelope().unwrap();
        env.sign(&fx.holder).unwrap();
        env
    };

    // A node named like a route, registered in-process (HTTP refuses the name, below).
    let routed = spec("query")
        .replace("memory.store", "route.name")
        .replace("memory_stored", "route_named");
    fx.reg()
        .register_node(&cairn_store::NodeSpec::from_json(&routed).unwrap())
        .unwrap();

    let log_key = fx
        .reg()
        .key(&fx.reg().log_key_id().unwrap())
        .unwrap()
        .public_key;

    std::thread::sleep(Duration::from_millis(2100));
    let mut srv = Running::start(loopback(), fx.reg.take().unwrap());
    let base = srv.url.clone();
    let a = agent();

    // Health, checkpoint, tiles, signature info.
    let h = get(&a, &format!("{base}/health"));
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["origin"], ORIGIN);
    let cp = get(&a, &format!("{base}/checkpoint"));
    assert_eq!(cp.status, 200);
    assert_eq!(cp.headers["content-type"], "text/plain; charset=utf-8");
    let note = String::from_utf8(cp.body.clone()).unwrap();
    assert!(note.starts_with(&format!("{ORIGIN}\n")), "{note}");
    let info = get(&a, &format!("{base}/api/v1/registry/signature_info")).json();
    assert_eq!(info["origin"], ORIGIN);
    assert!(info["note_verifier_key"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{ORIGIN}+")));
    assert_eq!(info["checkpoint"]["note"], note.as_str());

    // Validate: good, malformed, unknown field, oversized.
    let v = done(
        a.post(&format!("{base}/api/v1/registry/validate"))
            .send(spec("mem-01").as_bytes()),
    );
    assert_eq!(v.status, 200, "{}", String::from_utf8_lossy(&v.body));
    assert_eq!(v.json()["valid"], true);
    let bad = done(
        a.post(&format!("{base}/api/v1/registry/validate"))
            .send(&b"{not json"[..]),
    );
    assert_eq!((bad.status, bad.code().as_str()), (400, "malformed"));
    let unknown = spec("x").replacen("{", "{\"extra\": 1, ", 1);
    let bad = done(
        a.post(&format!("{base}/api/v1/registry/validate"))
            .send(unknown.as_bytes()),
    );
    assert_eq!((bad.status, bad.code().as_str()), (400, "malformed"));
    // An id that names a route under /api/v1/registry/ could not be read or deleted there
    // (a node so named is reached with its id percent-encoded).
    let q = get(&a, &format!("{base}/api/v1/registry/%71uery"));
    assert_eq!(
        (q.status, &q.json()["spec"]["id"]),
        (200, &Value::from("query"))
    );
    for id in cairn_service::routes::ROUTE_NAMES {
        let bad = done(
            a.post(&format!("{base}/api/v1/registry/validate"))
                .send(spec(id).as_bytes()),
        );
        assert_eq!(
            (bad.status, bad.code().as_str()),
            (400, "malformed"),
            "{id}"
        );
        assert_eq!(bad.json()["error"]["details"]["field"], "id", "{id}");
    }
    // A declared length over the limit is refused before the body is read: at once, though
    // the body never comes, and without inviting it after `Expect: 100-continue`. Its body
    // left unread, the connection carries no other request: the client is told.
    for expect in ["", "Expect: 100-continue\r\n"] {
        let answer = answer_before_body(
            &base,
            &format!("POST /api/v1/registry/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 71680\r\n{expect}\r\n"),
        );
        assert!(answer.starts_with("HTTP/1.1 413"), "{expect:?}: {answer}");
        assert!(answer.contains("too_large"), "{answer}");
        assert!(answer.contains("65536"), "{answer}");
        assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    }

    // Writes: every way to fail auth, then success.
    let body = spec("mem-01");
    let reg_path = "/api/v1/registry/register";
    let t = now();
    let w = |token: Option<&cairn_core::dsse::Envelope>,
             key: Option<&SigningKey>,
             nonce: &str,
             time: u64| {
        write(
            &a,
            &base,
            "POST",
            reg_path,
            body.as_bytes(),
            token,
            key,
            nonce,
            time,
        )
    };
    let r = w(None, None, "nonce-000000000001", t);
    assert_eq!((r.status, r.code().as_str()), (401, "unauthorized"));
    // The token is checked before the body is read: without one, even a body over the limit
    // costs the server nothing but the refusal, answered though the body never comes.
    for (token, status, code) in [
        (None, 401, "unauthorized"),
        (Some(&only_delete.envelope), 403, "unauthorized"),
        (Some(&good.envelope), 413, "too_large"),
    ] {
        let authorization = token
            .map(|t| format!("Authorization: {}\r\n", authorization_value(t)))
            .unwrap_or_default();
        let answer = answer_before_body(
            &base,
            &format!("POST {reg_path} HTTP/1.1\r\nHost: x\r\n{authorization}Content-Length: 71680\r\n\r\n"),
        );
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{status}: {answer}"
        );
        assert!(answer.contains(&format!("\"code\":\"{code}\"")), "{answer}");
    }
    // Two tokens: which one counts is not guessed.
    let r = done(
        a.post(&format!("{base}{reg_path}"))
            .header("authorization", &authorization_value(&good.envelope))
            .header("authorization", &authorization_value(&only_delete.envelope))
            .send(body.as_bytes()),
    );
    refused_saying(&r, (401, "malformed"), "more than once");
    let r = w(Some(&good.envelope), None, "nonce-000000000002", t);
    assert_eq!(
        (r.status, r.code().as_str()),
        (401, "unauthorized"),
        "no proof"
    );
    // A proof dated before the service started (within the skew, but its nonce could have been
    // used before a restart): refused.
    let r = w(
        Some(&good.envelope),
        Some(&fx.holder),
        "nonce-000000000102",
        t - 30,
    );
    refused_saying(&r, (401, "expired"), "began remembering nonces");
    let r = w(
        Some(&other_audience.envelope),
        Some(&fx.holder),
        "nonce-000000000003",
        t,
    );
    assert_eq!((r.status, r.code().as_str()), (401, "domain_mismatch"));
    let r = w(
        Some(&expired.envelope),
        Some(&fx.holder),
        "nonce-000000000004",
        t,
    );
    assert_eq!((r.status, r.code().as_str()), (401, "expired"));
    let r = w(
        Some(&revoked.envelope),
        Some(&fx.holder),
        "nonce-000000000005",
        t,
    );
    assert_eq!((r.status, r.code().as_str()), (401, "revoked"));
    let r = w(Some(&widened), Some(&fx.holder), "nonce-000000000006", t);
    assert_eq!((r.status, r.code().as_str()), (401, "delegation_invalid"));
    let r = w(
        Some(&only_delete.envelope),
        Some(&fx.holder),
        "nonce-000000000007",
        t,
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "unauthorized"),
        "capability"
    );
    // No write takes a query parameter (the proof would cover one, but it means nothing);
    // the refusal names it decoded, as every route does.
    let r = write(
        &a,
        &base,
        "POST",
        &format!("{reg_path}?%62ogus=1"),
        spec("mem-02").as_bytes(),
        Some(&good.envelope),
        Some(&fx.holder),
        "nonce-000000000105",
        t,
    );
    assert_eq!((r.status, r.code().as_str()), (400, "malformed"));
    assert_eq!(r.json()["error"]["details"]["field"], "bogus");
    // A registration under a route's name is refused as its validation is.
    let r = write(
        &a,
        &base,
        "POST",
        reg_path,
        spec("query").as_bytes(),
        Some(&good.envelope),
        Some(&fx.holder),
        "nonce-000000000106",
        t,
    );
    assert_eq!((r.status, r.code().as_str()), (400, "malformed"));
    // The service evaluates no constraint, so a token with one is refused, not taken as wider.
    let r = w(
        Some(&constrained.envelope),
        Some(&fx.holder),
        "nonce-000000000107",
        t,
    );
    assert_eq!((r.status, r.code().as_str()), (403, "unauthorized"));
    assert_eq!(
        r.json()["error"]["details"]["constraints"],
        serde_json::json!(["node_id"])
    );
    let stranger = SigningKey::generate(Algorithm::Ed25519);
    let r = w(
        Some(&good.envelope),
        Some(&stranger),
        "nonce-000000000008",
        t,
    );
    assert_eq!((r.status, r.code().as_str()), (401, "signature_invalid"));
    let r = w(
        Some(&good.envelope),
        Some(&fx.holder),
        "nonce-000000000009",
        t - 3600,
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (401, "expired"),
        "stale proof"
    );
    let r = w(
        Some(&good.envelope),
        Some(&fx.holder),
        "nonce-000000000109",
        t + 3600,
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (401, "not_yet_valid"),
        "a proof from a clock an hour fast"
    );
    // A proof for another body does not carry over.
    let proof = sign_request(
        &fx.holder,
        &good.envelope.id(),
        "POST",
        reg_path,
        b"{}",
        t,
        "nonce-000000000010",
    )
    .unwrap();
    let r = done(
        a.post(&format!("{base}{reg_path}"))
            .header("authorization", &authorization_value(&good.envelope))
            .header("cairn-proof", &proof)
            .send(body.as_bytes()),
    );
    assert_eq!((r.status, r.code().as_str()), (401, "signature_invalid"));
    let r = done(
        a.post(&format!("{base}{reg_path}"))
            .header("authorization", "Cairn !!!")
            .send(body.as_bytes()),
    );
    assert_eq!((r.status, r.code().as_str()), (401, "malformed"));

    let ok = w(
        Some(&good.envelope),
        Some(&fx.holder),
        "nonce-000000000011",
        t,
    );
    assert_eq!(ok.status, 201, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(ok.json()["registry_id"], "mem-01");
    let replay = w(
        Some(&good.envelope),
        Some(&fx.holder),
        "nonce-000000000011",
        t,
    );
    assert_eq!((replay.status, replay.code().as_str()), (401, "replayed"));
    let again = w(
        Some(&good.envelope),
        Some(&fx.holder),
        "nonce-000000000012",
        t,
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["status"], "replaced");

    // Reads.
    let q = get(
        &a,
        &format!("{base}/api/v1/registry/query?signal=memory_stored"),
    )
    .json();
    assert_eq!(q["count"], 1);
    assert_eq!(q["nodes"][0]["spec"]["id"], "mem-01");
    let q = get(
        &a,
        &format!("{base}/api/v1/registry/query?signal=memory_stored&capability=nope"),
    )
    .json();
    assert_eq!(q["count"], 0);
    assert_eq!(
        get(&a, &format!("{base}/api/v1/registry/query")).status,
        400
    );
    // Query strings are decoded strictly: the parameter at fault is named.
    let q = get(
        &a,
        &format!("{base}/api/v1/registry/query?signal=memory%5Fstored+x"),
    );
    assert_eq!((q.status, q.json()["count"].as_u64()), (200, Some(0)));
    for (query, field) in [
        ("signal=%ff%fe", "signal"),
        ("%ff=1", "%ff"),
        ("signal=a&signal=b", "signal"),
    ] {
        let r = get(&a, &format!("{base}/api/v1/registry/query?{query}"));
        assert_eq!((r.status, r.code().as_str()), (400, "malformed"), "{query}");
        assert_eq!(r.json()["error"]["details"]["field"], field, "{query}");
    }
    // Validation is a POST: like a write, it takes no query parameter.
    let r = done(
        a.post(&format!("{base}/api/v1/registry/validate?x=1"))
            .send(spec("v-1").as_bytes()),
    );
    assert_eq!((r.status, r.code().as_str()), (400, "malformed"));
    assert_eq!(r.json()["error"]["details"]["field"], "x");
    assert_eq!(
        get(&a, &format!("{base}/api/v1/registry/mem-01")).json()["spec"]["name"],
        "Node mem-01"
    );
    let keys = get(&a, &format!("{base}/api/v1/keys")).json();
    assert!(keys["keys"].as_array().unwrap().len() >= 2);
    let kid = keys["keys"][0]["key_id"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&a, &format!("{base}/api/v1/keys/{kid}")).json()["key_id"],
        kid.as_str()
    );
    assert_eq!(get(&a, &format!("{base}/api/v1/keys/zz")).status, 400);
    let tok = get(
        &a,
        &format!("{base}/api/v1/tokens/{}", hex_encode(&revoked.id)),
    )
    .json();
    assert_eq!(tok["revoked"]["reason"], "leaked");
    let tok = get(
        &a,
        &format!("{base}/api/v1/tokens/{}", hex_encode(&good.id)),
    )
    .json();
    assert!(tok["revoked"].is_null());
    let missing = get(&a, &format!("{base}/api/v1/tokens/{}", "00".repeat(32)));
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (404, "not_found")
    );
    assert_eq!(get(&a, &format!("{base}/api/v1/trust-root")).status, 404);
    let e0 = get(&a, &format!("{base}/api/v1/entries/0")).json();
    assert_eq!(e0["seq"], 0);
    let size = get(&a, &format!("{base}/health")).json()["entries"]
        .as_u64()
        .unwrap();
    let p = get(&a, &format!("{base}/api/v1/proofs/inclusion?seq=1")).json();
    assert_eq!(p["tree_size"], size);
    assert!(p["checkpoint"].is_string());
    let c = get(&a, &format!("{base}/api/v1/proofs/consistency?old=2")).json();
    assert_eq!(c["new_size"], size);
    assert_eq!(
        get(&a, &format!("{base}/api/v1/proofs/consistency?old=2&new=1")).status,
        400
    );
    // Numbers are decimal digits only, in the path and in queries.
    for bad in [
        "/api/v1/entries/+1",
        "/api/v1/entries/%2B1",
        "/api/v1/entries/18446744073709551616",
        "/api/v1/proofs/inclusion?seq=x",
        "/api/v1/proofs/inclusion?seq=%2B1",
        "/api/v1/proofs/inclusion?seq=",
        "/api/v1/proofs/consistency?old=2&new=-1",
    ] {
        let r = get(&a, &format!("{base}{bad}"));
        assert_eq!((r.status, r.code().as_str()), (400, "malformed"), "{bad}");
    }
    // Revocation proofs: the revoked token present (by its entry), a good one absent, each
    // checked offline against the signed head's cairn.revocations line.
    {
        use cairn_core::checkpoint::{CheckpointPolicy, CheckpointVerifier, RevocationsRef};
        use cairn_core::revocation::{map_key, ObjectKind, RevocationProof};
        let verifier = [CheckpointVerifier {
            name: ORIGIN.into(),
            public_key: log_key.clone(),
        }];
        let mut proofs = Vec::new();
        for (id, revoked_now) in [(revoked.id, true), (good.id, false)] {
            let url = format!(
                "{base}/api/v1/proofs/revocation?kind=token&id={}",
                hex_encode(&id)
            );
            let r = get(&a, &url).json();
            assert_eq!(r["revoked"], revoked_now, "{r}");
            let cp = cairn_core::checkpoint::verify_checkpoint(
                r["checkpoint"].as_str().unwrap().as_bytes(),
                &verifier,
                &CheckpointPolicy::new(ORIGIN),
            )
            .unwrap();
            let map = RevocationsRef::from_extensions(&cp.extensions)
                .unwrap()
                .unwrap();
            assert_eq!(r["revocations"]["root"], hex_encode(&map.root));
            let proof = RevocationProof::from_bytes(
                &cairn_core::encoding::b64_decode(r["proof"].as_str().unwrap()).unwrap(),
            )
            .unwrap();
            let key = map_key(ObjectKind::Token, &id);
            if revoked_now {
                assert_eq!(proof.verify_membership(&map.root, &key).unwrap(), r["seq"]);
            } else {
                proof.verify_non_membership(&map.root, &key).unwrap();
                assert!(r["seq"].is_null());
            }
            proofs.push((proof, map.root));
        }
        // Not interchangeable: the good token's proof of absence says nothing of the
        // revoked one, and the other way round.
        let (present, root) = &proofs[0];
        let (absent, _) = &proofs[1];
        assert!(absent
            .verify_non_membership(root, &map_key(ObjectKind::Token, &revoked.id))
            .is_err());
        assert!(present
            .verify_membership(root, &map_key(ObjectKind::Token, &good.id))
            .is_err());
        for (query, field) in [
            ("kind=bogus&id=00", "kind"),
            (&*format!("kind=token&id={}", "zz".repeat(32)), "id"),
            ("kind=token", ""),
            ("kind=token&id=00&extra=1", "extra"),
        ] {
            let r = get(&a, &format!("{base}/api/v1/proofs/revocation?{query}"));
            assert_eq!((r.status, r.code().as_str()), (400, "malformed"), "{query}");
            if !field.is_empty() {
                assert_eq!(r.json()["error"]["details"]["field"], field, "{query}");
            }
        }
    }
    let b = get(
        &a,
        &format!("{base}/api/v1/bundles/token/{}", hex_encode(&good.id)),
    );
    // A bundle needs the trust root its verifier pins; this registry has none yet.
    assert_eq!(b.status, 409, "{}", String::from_utf8_lossy(&b.body));
    assert!(b.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("trust root"));
    assert_eq!(
        get(&a, &format!("{base}/api/v1/manifests/{}", "ab".repeat(32))).status,
        404
    );
    assert_eq!(
        get(
            &a,
            &format!(
                "{base}/api/v1/manifests?artifact_sha256={}",
                "ab".repeat(32)
            )
        )
        .json()["manifests"],
        serde_json::json!([])
    );

    // Tiles over HTTP, verified with cairn-core's tile client against the served checkpoint.
    let size = get(&a, &format!("{base}/health")).json()["entries"]
        .as_u64()
        .unwrap();
    let cpv = cairn_core::checkpoint::VerifiedCheckpoint {
        origin: ORIGIN.into(),
        size,
        root: {
            let n = cairn_core::note::Note::parse(
                get(&a, &format!("{base}/checkpoint")).body.as_slice(),
            )
            .unwrap();
            cairn_core::checkpoint::Checkpoint::parse_text(n.text())
                .unwrap()
                .root
        },
        extensions: vec![],
        signers: vec![],
    };
    let client = TileClient::new(&cpv, |t: &Tile| {
        let r = get(&a, &format!("{base}/{}", t.path()));
        assert_eq!(r.status, 200, "{}", t.path());
        Ok(r.body)
    });
    client.verify_root().unwrap();
    client.entry(size - 1).unwrap();
    let partial = format!("{base}/tile/0/000.p/{size}");
    let r = get(&a, &partial);
    assert_eq!(r.headers["cache-control"], "public, max-age=3600");
    assert_eq!(r.headers["content-type"], "application/octet-stream");
    // Partial bundles and hash tiles go as they are, even to a client that accepts gzip
    // (full bundles: `full_entry_bundles_are_compressed_once`).
    let host = base.trim_start_matches("http://");
    for path in [
        format!("/tile/entries/000.p/{size}"),
        format!("/tile/0/000.p/{size}"),
    ] {
        let (head, _) = raw_get(host, &path, Some("gzip"));
        assert!(!head.contains("content-encoding"), "{head}");
    }
    // A tile not there yet: 404, and no cache may keep that answer.
    let missing = get(&a, &format!("{base}/tile/0/000.p/{}", size + 1));
    assert_eq!(missing.status, 404);
    assert_eq!(missing.headers["cache-control"], "no-store");
    assert_eq!(get(&a, &format!("{base}/tile/0/0001")).status, 404);
    assert_eq!(get(&a, &format!("{base}/tile/9/000")).status, 404);
    // A path segment that does not decode (not UTF-8): cairn's JSON error, never cached.
    for path in ["/api/v1/registry/%FF", "/tile/%FF", "/api/v1/tokens/%C0"] {
        let r = get(&a, &format!("{base}{path}"));
        assert_eq!((r.status, r.code().as_str()), (400, "malformed"), "{path}");
        assert_eq!(r.headers["cache-control"], "no-store", "{path}");
    }

    // Delete: with the right capability and a fresh proof.
    let d = write(
        &a,
        &base,
        "DELETE",
        "/api/v1/registry/mem-01",
        b"",
        Some(&good.envelope),
        Some(&fx.holder),
        "nonce-000000000013",
        now(),
    );
    assert_eq!(d.status, 200, "{}", String::from_utf8_lossy(&d.body));
    assert_eq!(
        get(&a, &format!("{base}/api/v1/registry/mem-01")).status,
        404
    );
    let d = write(
        &a,
        &base,
        "DELETE",
        "/api/v1/registry/mem-01",
        b"",
        Some(&good.envelope),
        Some(&fx.holder),
        "nonce-000000000014",
        now(),
    );
    assert_eq!((d.status, d.code().as_str()), (404, "not_found"));

    // Unknown routes and methods answer in the error shape.
    let r = get(&a, &format!("{base}/nope"));
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    let r = done(a.put(&format!("{base}/health")).send(&b""[..]));
    assert_eq!((r.status, r.code().as_str()), (405, "method_not_allowed"));
    srv.stop();
    // After a graceful shutdown, nothing listens.
    assert!(a.get(&format!("{base}/health")).call().is_err());
}

#[test]
fn concurrent_writes_share_commits_and_all_land() {
    let mut fx = Fixture::new();
    let good = fx.token(ORIGIN, &["node.register"], 3600);
    let holder = Arc::new(std::mem::replace(
        &mut fx.holder,
        SigningKey::generate(Algorithm::Ed25519),
    ));
    let path = fx.dir.join("r.redb");
    let srv = Running::start(loopback(), fx.reg.take().unwrap());
    let base = srv.url.clone();
    // 24 new nodes, and 8 registrations of one more, all at once.
    let threads: Vec<_> = (0..32)
        .map(|i| {
            let (base, env, holder) = (base.clone(), good.envelope.clone(), holder.clone());
            let id = if i < 24 {
                format!("n-{i}")
            } else {
                "shared".to_owned()
            };
            std::thread::spawn(move || {
                let a = agent();
                let r = write(
                    &a,
                    &base,
                    "POST",
                    "/api/v1/registry/register",
                    spec(&id).as_bytes(),
                    Some(&env),
                    Some(&holder),
                    &format!("concurrent-nonce-{i:04}"),
                    now(),
                );
                assert!(
                    r.status == 201 || r.status == 200,
                    "{}",
                    String::from_utf8_lossy(&r.body)
                );
                (
                    id,
                    r.status,
                    r.json()["status"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect();
    let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    // Each new node is registered once; the shared one exactly once, then replaced seven
    // times (the answer is the commit's, not a lookup made before it).
    for (id, status, said) in &answers {
        assert_eq!(
            *status == 201,
            said == "registered",
            "{id}: {status} {said}"
        );
        if id.starts_with("n-") {
            assert_eq!(*status, 201, "{id}");
        }
    }
    let shared: Vec<_> = answers.iter().filter(|a| a.0 == "shared").collect();
    assert_eq!(shared.iter().filter(|a| a.1 == 201).count(), 1);
    assert_eq!(shared.iter().filter(|a| a.2 == "replaced").count(), 7);
    let stats = srv.server.as_ref().unwrap().state().writer.stats();
    assert_eq!(stats.operations, 32);
    assert!(stats.batches <= stats.operations);
    // The server installed prepared keys: the holder, seen 24 times, has a table.
    let holder_key: [u8; 32] = holder.public_key().as_bytes().try_into().unwrap();
    assert!(cairn_core::crypto::prepared::process::is_prepared(
        &holder_key
    ));
    // Its token was remembered after its first check: later ones ran on the request's task.
    assert!(srv
        .server
        .as_ref()
        .unwrap()
        .state()
        .reg
        .remembers_token(&good.envelope));
    let q = get(
        &agent(),
        &format!("{base}/api/v1/registry/query?capability=memory.store"),
    )
    .json();
    assert_eq!(q["count"], 25);
    drop(srv);
    // Every acknowledged write is in the file, and the file audits.
    let reg = Registry::open(&path, None).unwrap();
    assert_eq!(reg.list_nodes().unwrap().len(), 25);
    reg.audit().unwrap();
}

/// A service (`cfg`) over a registry holding the node `victim`, and a token for registering and
/// deregistering nodes, already used once: its request's body did not parse, so nothing was
/// written (no disk sync had to fit in a short timeout), and from then on the token is checked
/// from memory, so a timed write reaches the committer at once.
fn start_with_a_warm_token(cfg: Config) -> (Fixture, cairn_store::TokenInfo, Running) {
    let mut fx = Fixture::new();
    let tok = fx.token(ORIGIN, &["node.register", "node.deregister"], 3600);
    fx.reg()
        .register_node(&cairn_store::NodeSpec::from_json(&spec("victim")).unwrap())
        .unwrap();
    let srv = Running::start(cfg, fx.reg.take().unwrap());
    let warm = write(
        &agent(),
        &srv.url,
        "POST",
        "/api/v1/registry/register",
        b"{not json",
        Some(&tok.envelope),
        Some(&fx.holder),
        "warm-token-00000001",
        now(),
    );
    assert_eq!((warm.status, warm.code().as_str()), (400, "malformed"));
    (fx, tok, srv)
}

/// A write whose request timed out while it was queued is dropped, not applied, whichever
/// way its handler waits: a registration (a future) and a deregistration (a thread of the
/// blocking pool, which still holds the answer's receiver). The write the committer had
/// already taken is applied, though its request timed out too.
#[test]
fn writes_queued_past_their_timeout_are_not_applied() {
    let mut cfg = loopback();
    cfg.limits.request_timeout_seconds = 1;
    let (fx, tok, srv) = start_with_a_warm_token(cfg);
    let release = hold_write_lock(srv.server.as_ref().unwrap().state().reg.clone());
    let t = now();
    let statuses = std::thread::scope(|s| {
        let send = |method: &'static str, path: &'static str, body: String, nonce: &'static str| {
            let (url, token, key) = (&srv.url, &tok.envelope, &fx.holder);
            s.spawn(move || {
                write(
                    &agent(),
                    url,
                    method,
                    path,
                    body.as_bytes(),
                    Some(token),
                    Some(key),
                    nonce,
                    t,
                )
                .status
            })
        };
        // The committer takes the first write and blocks on the held lock; the others queue
        // (each request's timeout runs from its own start, so all three still time out).
        let first = send(
            "POST",
            "/api/v1/registry/register",
            spec("first"),
            "timeout-first-00001",
        );
        std::thread::sleep(Duration::from_millis(2000));
        let second = send(
            "POST",
            "/api/v1/registry/register",
            spec("second"),
            "timeout-second-0001",
        );
        let delete = send(
            "DELETE",
            "/api/v1/registry/victim",
            String::new(),
            "timeout-delete-0001",
        );
        [first, second, delete].map(|h| h.join().unwrap())
    });
    assert_eq!(statuses, [408; 3]);
    release();
    // The committer goes on: the first write lands; the two queued ones were dropped.
    let a = agent();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while get(&a, &format!("{}/api/v1/registry/first", srv.url)).status != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first write never landed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        get(&a, &format!("{}/api/v1/registry/second", srv.url)).status,
        404
    );
    assert_eq!(
        get(&a, &format!("{}/api/v1/registry/victim", srv.url)).status,
        200
    );
}

/// Holds the registry's write lock on a thread of its own (a write transaction that waits)
/// until the returned function is called, which also waits for that transaction to end.
fn hold_write_lock(reg: std::sync::Arc<Registry>) -> impl FnOnce() {
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (holding, held) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        reg.write(|_| {
            holding.send(()).unwrap();
            released.recv().unwrap();
            Ok(())
        })
        .unwrap();
    });
    held.recv().unwrap();
    move || {
        release.send(()).unwrap();
        holder.join().unwrap();
    }
}

/// Blocking work outlives its request: a deregistration timed out (408) while the committer
/// was held still has its work waiting for it. With `max_concurrent_requests = 1` that work
/// keeps the service's one place for blocking work, so a read that needs one waits (and here
/// times out too) rather than piling more work on the blocking pool; once the work ends, the
/// read is served (and shows the write, which the committer had already taken, applied).
#[test]
fn blocking_work_after_a_timeout_keeps_its_place() {
    let mut cfg = loopback();
    cfg.limits.request_timeout_seconds = 1;
    cfg.limits.max_concurrent_requests = 1;
    let (fx, tok, srv) = start_with_a_warm_token(cfg);
    let release = hold_write_lock(srv.server.as_ref().unwrap().state().reg.clone());
    let node = format!("{}/api/v1/registry/victim", srv.url);
    let r = write(
        &agent(),
        &srv.url,
        "DELETE",
        "/api/v1/registry/victim",
        b"",
        Some(&tok.envelope),
        Some(&fx.holder),
        "work-place-delete-01",
        now(),
    );
    assert_eq!(r.status, 408, "{}", String::from_utf8_lossy(&r.body));
    let r = get(&agent(), &node);
    assert_eq!(
        r.status, 408,
        "a read started work beside the timed-out write's"
    );
    release();
    let a = agent();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = get(&a, &node);
        if r.status != 408 {
            assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the read never got a place"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A full entry bundle is compressed once, kept, and served immutable.
#[test]
fn full_entry_bundles_are_compressed_once() {
    let mut fx = Fixture::with_nodes(300);
    let srv = Running::start(loopback(), fx.reg.take().unwrap());
    let host = srv.url.trim_start_matches("http://");
    let (head, first) = raw_get(host, "/tile/entries/000", Some("gzip"));
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("immutable"), "{head}");
    let (_, again) = raw_get(host, "/tile/entries/000", Some("gzip"));
    assert_eq!(first, again);
    let state = srv.server.as_ref().unwrap().state();
    assert_eq!(state.gzipped_bundles.usage().0, 1);
    let (head, plain) = raw_get(host, "/tile/entries/000", None);
    assert!(head.contains("vary: accept-encoding"), "{head}");
    assert!(!head.contains("content-encoding"), "{head}");
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&first[..]), &mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain);
    assert!(
        first.len() < plain.len(),
        "{} of {}",
        first.len(),
        plain.len()
    );
    // Refused by weight, or not asked for: as it is.
    for accept in ["gzip;q=0, *", "br"] {
        let (head, body) = raw_get(host, "/tile/entries/000", Some(accept));
        assert!(!head.contains("content-encoding"), "{head}");
        assert_eq!(body, plain);
    }
    let (head, _) = raw_get(host, "/tile/entries/000", Some("br;q=1, gzip;q=0.5"));
    assert!(head.contains("content-encoding: gzip"), "{head}");
}

/// The admission policy: each rule refuses with 403 naming its field, `/validate` and
/// `/register` alike, and a manifest is held to the rule a registration applies (recorded,
/// unrevoked, for the spec's artifact).
#[test]
fn the_admission_policy_refuses_what_it_names() {
    use cairn_core::manifest::ManifestClaims;
    let mut fx = Fixture::new();
    let signer = fx
        .reg()
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("signer", RoleSet::of(&[Role::ManifestSigner])),
            &Protection::Insecure,
        )
        .unwrap()
        .key_id;
    let manifest = |name: &str| {
        let claims = ManifestClaims::new(name, "text/plain", 1, [7; 32], now());
        fx.reg()
            .write(|tx| tx.sign_manifest(&signer, None, &claims))
            .unwrap()
            .digest
    };
    let (good, revoked) = (manifest("a"), manifest("b"));
    fx.reg()
        .revoke_manifest(&revoked, "withdrawn", &signer, None)
        .unwrap();
    let token = fx.token(ORIGIN, &["node.register"], 3600);
    let mut cfg = loopback();
    cfg.admission.require_provenance_manifest = true;
    cfg.admission.allowed_capabilities = vec!["memory.store".into()];
    let srv = Running::start(cfg, fx.reg.take().unwrap());
    let (a, base) = (agent(), &srv.url);
    let node = |id: &str, caps: &str, provenance: &str| {
        format!(
            r#"{{"id": "{id}", "name": "N", "version": "1", "capabilities": {caps}, "provenance": {{"source": "https://example.test/{id}"{provenance}}}}}"#
        )
    };
    let hex = |d: &[u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let with = |m: &[u8; 32]| format!(r#", "manifest": "{}""#, hex(m));
    let other_artifact = format!(
        r#", "manifest": "{}", "sha256": "{}""#,
        hex(&good),
        hex(&[8; 32])
    );
    let cases: Vec<(String, Option<&str>)> = vec![
        (node("ok", r#"["memory.store"]"#, &with(&good)), None),
        (
            node("no-manifest", r#"["memory.store"]"#, ""),
            Some("provenance.manifest"),
        ),
        (
            node("unknown", r#"["memory.store"]"#, &with(&[9; 32])),
            Some("provenance.manifest"),
        ),
        (
            node("revoked", r#"["memory.store"]"#, &with(&revoked)),
            Some("provenance.manifest"),
        ),
        (
            node("other-artifact", r#"["memory.store"]"#, &other_artifact),
            Some("provenance.sha256"),
        ),
        (
            node("cap", r#"["memory.erase"]"#, &with(&good)),
            Some("capabilities"),
        ),
    ];
    for (i, (body, refused)) in cases.iter().enumerate() {
        let v = done(
            a.post(&format!("{base}/api/v1/registry/validate"))
                .send(body.as_bytes()),
        );
        let r = write(
            &a,
            base,
            "POST",
            "/api/v1/registry/register",
            body.as_bytes(),
            Some(&token.envelope),
            Some(&fx.holder),
            &format!("admission-{i:08}"),
            now(),
        );
        match refused {
            None => {
                assert_eq!(
                    v.status,
                    200,
                    "{body}: {}",
                    String::from_utf8_lossy(&v.body)
                );
                assert_eq!(
                    r.status,
                    201,
                    "{body}: {}",
                    String::from_utf8_lossy(&r.body)
                );
            }
            Some(field) => {
                for (what, resp) in [("validate", &v), ("register", &r)] {
                    assert_eq!(
                        (resp.status, resp.code().as_str()),
                        (403, "unauthorized"),
                        "{what} {body}"
                    );
                    let details = &resp.json()["error"]["details"];
                    assert_eq!(details["field"], *field, "{what} {body}");
                    assert_eq!(details["policy"], "admission", "{what} {body}");
                }
            }
        }
    }
}

/// The start-up line warns of a log key whose checkpoints carry no Ed25519 signature, and of
/// nothing for the default (hybrid) key.
#[test]
fn the_banner_warns_of_a_log_key_without_ed25519() {
    let tmp = tempfile::tempdir().unwrap();
    for (alg, warned) in [(None, false), (Some(Algorithm::MlDsa44), true)] {
        let mut opts = CreateOptions::new(ORIGIN, Protection::Insecure);
        if let Some(a) = alg {
            opts.log_algorithm = a;
        }
        let path = tmp.path().join(format!("{alg:?}.redb"));
        let reg = Registry::create(&path, opts).unwrap();
        let srv = Running::start(loopback(), reg);
        let banner = srv.server.as_ref().unwrap().banner();
        assert_eq!(banner.contains("no Ed25519 signature"), warned, "{banner}");
    }
}

/// `GET .../query` answers a page at a time: `next` leads through every node once, in id
/// order, whatever the page size; a combined query's page reads a bounded number of nodes.
#[test]
fn queries_answer_in_pages() {
    let mut fx = Fixture::new();
    let spec_of = |i: usize| {
        // Every node declares the signal; only every seventh (n06, n13, n20) the capability.
        let caps = if i % 7 == 6 {
            r#"["memory.store"]"#
        } else {
            "[]"
        };
        format!(
            r#"{{"id": "n{i:02}", "name": "N", "version": "1", "capabilities": {caps}, "signals": ["memory_stored"], "provenance": {{"source": "https://example.test/{i}"}}}}"#
        )
    };
    fx.reg()
        .write(|tx| {
            for i in 0..25 {
                tx.register_node(&cairn_store::NodeSpec::from_json(&spec_of(i))?)?;
            }
            Ok(())
        })
        .unwrap();
    let srv = Running::start(loopback(), fx.reg.take().unwrap());
    let (a, base) = (agent(), &srv.url);
    let walk = |query: &str, limit: usize| {
        let (mut ids, mut after, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let mut url = format!("{base}/api/v1/registry/query?{query}&limit={limit}");
            if let Some(a) = &after {
                url += &format!("&after={a}");
            }
            let page = get(&a, &url).json();
            let nodes = page["nodes"].as_array().unwrap();
            assert!(nodes.len() <= limit, "{page}");
            assert_eq!(page["count"], nodes.len());
            ids.extend(
                nodes
                    .iter()
                    .map(|n| n["spec"]["id"].as_str().unwrap().to_owned()),
            );
            pages += 1;
            match page["next"].as_str() {
                Some(n) => after = Some(n.to_owned()),
                None => return (ids, pages),
            }
        }
    };
    let all: Vec<String> = (0..25).map(|i| format!("n{i:02}")).collect();
    let sparse: Vec<String> = all.iter().skip(6).step_by(7).cloned().collect();
    for limit in [1, 7, 25, 1000] {
        assert_eq!(walk("signal=memory_stored", limit).0, all, "limit {limit}");
        assert_eq!(
            walk("capability=memory.store", limit).0,
            sparse,
            "limit {limit}"
        );
        let (both, pages) = walk("signal=memory_stored&capability=memory.store", limit);
        assert_eq!(both, sparse, "limit {limit}");
        // A page of the combined query reads at most four of the signal's nodes for each it
        // may hold: at limit 1, seven pages for 25 nodes.
        assert!(
            pages >= 25usize.div_ceil(4 * limit),
            "limit {limit}: {pages} pages"
        );
    }
    // The first of them reads n00..n03, none of which qualifies: empty, and it goes on
    // after n03.
    let q = get(
        &a,
        &format!(
            "{base}/api/v1/registry/query?signal=memory_stored&capability=memory.store&limit=1"
        ),
    )
    .json();
    assert_eq!(
        (q["count"].as_u64(), q["next"].as_str()),
        (Some(0), Some("n03"))
    );
    // The default page holds them all, and says it is the last.
    let q = get(
        &a,
        &format!("{base}/api/v1/registry/query?signal=memory_stored"),
    )
    .json();
    assert_eq!((q["count"].as_u64(), q["next"].is_null()), (Some(25), true));
    // From after the last node, or after an id between two: what follows.
    let q = get(
        &a,
        &format!("{base}/api/v1/registry/query?signal=memory_stored&after=n24"),
    )
    .json();
    assert_eq!((q["count"].as_u64(), q["next"].is_null()), (Some(0), true));
    let q = get(
        &a,
        &format!("{base}/api/v1/registry/query?signal=memory_stored&after=n10x"),
    )
    .json();
    assert_eq!(q["nodes"][0]["spec"]["id"], "n11");
    for bad in ["0", "1001", "-1", "x", ""] {
        let r = get(
            &a,
            &format!("{base}/api/v1/registry/query?signal=memory_stored&limit={bad}"),
        );
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "malformed"),
            "limit={bad}"
        );
        assert_eq!(
            r.json()["error"]["details"]["field"],
            "limit",
            "limit={bad}"
        );
    }
}

/// `GET path` on a connection of its own, with `Accept-Encoding` when given: the head
/// (lowercased) and the body as sent, whatever HTTP client features the build enables.
fn raw_get(host: &str, path: &str, accept_encoding: Option<&str>) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(host).unwrap();
    let accept = accept_encoding.map_or(String::new(), |a| format!("accept-encoding: {a}\r\n"));
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nhost: {host}\r\n{accept}connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    (head, answer[split + 4..].to_vec())
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files.
struct Pki {
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
    other_client_cert_pem: String,
    other_client_key_pem: String,
}

fn make_pki(dir: &std::path::Path) -> (Pki, Tls) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // A name of its own, as a CA has (rcgen names every certificate alike by default).
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "cairn test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["client.test".into()])
        .unwrap()
        .signed_by(&client_key, &ca, &ca_key)
        .unwrap();
    // A client certificate from a CA the server does not trust.
    let other_ca_key = KeyPair::generate().unwrap();
    let mut other_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other_ca = other_params.self_signed(&other_ca_key).unwrap();
    let other_key = KeyPair::generate().unwrap();
    let other = CertificateParams::new(vec!["other.test".into()])
        .unwrap()
        .signed_by(&other_key, &other_ca, &other_ca_key)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    (
        Pki {
            ca_pem: ca.pem(),
            client_cert_pem: client.pem(),
            client_key_pem: client_key.serialize_pem(),
            other_client_cert_pem: other.pem(),
            other_client_key_pem: other_key.serialize_pem(),
        },
        Tls {
            cert_pem_path: dir.join("server.pem"),
            key_pem_path: dir.join("server.key"),
            client_ca_pem_path: None,
        },
    )
}

fn tls_agent(pki: &Pki, client: Option<(&str, &str)>) -> ureq::Agent {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
    let ca = Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap();
    let mut tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&[ca]));
    if let Some((cert, key)) = client {
        let cert = Certificate::from_pem(cert.as_bytes()).unwrap();
        let key = PrivateKey::from_pem(key.as_bytes()).unwrap();
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
    }
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .tls_config(tls.build())
        .build()
        .into()
}

#[test]
fn https_and_mutual_tls() {
    let mut fx = Fixture::new();
    let (pki, tls) = make_pki(&fx.dir);

    // HTTPS, no client certificate needed.
    let mut cfg = loopback();
    cfg.tls = Some(tls.clone());
    let mut srv = Running::start(cfg, fx.reg.take().unwrap());
    assert!(srv.url.starts_with("https://"));
    let r = get(&tls_agent(&pki, None), &format!("{}/health", srv.url));
    assert_eq!(r.status, 200);
    // Plain HTTP to the TLS port fails; a client that does not trust the CA is refused.
    assert!(agent()
        .get(&format!("http://{}/health", &srv.url[8..]))
        .call()
        .is_err());
    assert!(agent().get(&format!("{}/health", srv.url)).call().is_err());
    srv.stop();
    drop(srv);

    // Mutual TLS: a client certificate from the configured CA is required.
    let reg = Registry::open(fx.dir.join("r.redb"), None).unwrap();
    let mut cfg = loopback();
    cfg.tls = Some(Tls {
        client_ca_pem_path: Some(fx.dir.join("ca.pem")),
        ..tls
    });
    let srv = Running::start(cfg, reg);
    let with_cert = tls_agent(&pki, Some((&pki.client_cert_pem, &pki.client_key_pem)));
    let r = get(&with_cert, &format!("{}/checkpoint", srv.url));
    assert_eq!(r.status, 200);
    assert!(tls_agent(&pki, None)
        .get(&format!("{}/health", srv.url))
        .call()
        .is_err());
    let foreign = tls_agent(
        &pki,
        Some((&pki.other_client_cert_pem, &pki.other_client_key_pem)),
    );
    assert!(foreign.get(&format!("{}/health", srv.url)).call().is_err());
}

/// How a connection that the server should drop ends, as its client sees it: the server
/// closed it (`Ok(0)` or a reset) within `within`, or it was still open then (`None`).
fn closed_within(stream: &mut impl std::io::Read, within: Duration) -> Option<Duration> {
    let start = std::time::Instant::now();
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if start.elapsed() >= within {
                    return None;
                }
            }
            Err(_) => return Some(start.elapsed()),
        }
    }
}

/// What a connection must do to keep its place: begin a request within the header timeout
/// (a client that connects and stays silent used to be held forever; enough of them took
/// every file descriptor), over TLS once its handshake is done too; and fit under
/// `max_connections` (one more is closed at once). And `max_concurrent_requests` counts every
/// route together: a slow request on one route holds a request to another.
/// Pipelines `n` requests for a full entry bundle on `conn` without reading an answer, waits
/// well past the stall deadline, then reads what came: the bytes, and how long until the
/// connection ended (`None`: still open after 20 s).
fn stall_then_read(
    conn: &mut (impl std::io::Read + std::io::Write),
    host: &str,
    n: usize,
) -> (usize, Option<Duration>) {
    let req = format!("GET /tile/entries/000 HTTP/1.1\r\nHost: {host}\r\n\r\n");
    // Few enough bytes to sit in the socket buffers: the server reads no request while its
    // answer to the one before cannot leave.
    conn.write_all(req.repeat(n).as_bytes()).unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let started = std::time::Instant::now();
    let (mut got, mut buf) = (0usize, vec![0u8; 1 << 16]);
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return (got, Some(started.elapsed())),
            Ok(k) => got += k,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (got, None)
            }
            // Reset, or TLS's end without close_notify: the server closed it.
            Err(_) => return (got, Some(started.elapsed())),
        }
    }
}

/// A client that sends requests but takes none of the answers loses its connection once the
/// server's writes have made no progress for `request_timeout_seconds`, rather than holding it
/// (and its place among `max_connections`) for as long as it likes: over plain HTTP, and
/// over TLS, where the deadline is the socket's (TLS's own buffering above it is not
/// progress the client made).
#[test]
fn a_client_that_stops_reading_loses_its_connection() {
    let mut fx = Fixture::with_nodes(256);
    let (pki, tls) = make_pki(&fx.dir);
    let reg = fx.reg.take().unwrap();
    let bundle = {
        let t = cairn_core::tiles::Tile::parse_path("tile/entries/000").unwrap();
        reg.tile(&t).unwrap().len()
    };
    // Far more answer bytes than the socket buffers on both ends hold (a few MiB each).
    const REQUESTS: usize = 1500;
    assert!(REQUESTS * bundle > 24 << 20, "{bundle}-byte bundles");
    let mut cfg = loopback();
    cfg.limits.request_timeout_seconds = 1;
    // Far longer than the test: a connection closed is the stall's doing, not idleness's.
    cfg.limits.header_timeout_seconds = 60;
    // Every request answered with its bundle, none refused for the rate.
    cfg.rate_limit.enabled = false;
    cfg.tls = Some(tls);
    let srv = Running::start(cfg, reg);
    let addr = srv.url.trim_start_matches("https://").to_owned();
    let tcp = || {
        let c = std::net::TcpStream::connect(&addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c
    };
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(
            <rustls_pki_types::CertificateDer as rustls_pki_types::pem::PemObject>::from_pem_slice(
                pki.ca_pem.as_bytes(),
            )
            .unwrap(),
        )
        .unwrap();
    let client = std::sync::Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn =
        rustls::StreamOwned::new(rustls::ClientConnection::new(client, name).unwrap(), tcp());
    let (got, ended) = stall_then_read(&mut conn, &addr, REQUESTS);
    // What had left before the server gave up: less than every answer, and then the end,
    // at once rather than after the 60 s header timeout.
    assert!(
        got < REQUESTS * bundle,
        "{got} bytes: every answer was sent"
    );
    let ended = ended.expect("the connection is still open");
    assert!(ended < Duration::from_secs(10), "ended after {ended:?}");
    // The server goes on serving others.
    let ok = tls_agent(&pki, None)
        .get(&format!("{}/health", srv.url))
        .call();
    assert_eq!(ok.map(|r| r.status().as_u16()).ok(), Some(200));
    drop(srv);

    // Plain HTTP, the same.
    let mut fx = Fixture::with_nodes(256);
    let mut cfg = loopback();
    cfg.limits.request_timeout_seconds = 1;
    cfg.limits.header_timeout_seconds = 60;
    cfg.rate_limit.enabled = false;
    let srv = Running::start(cfg, fx.reg.take().unwrap());
    let addr = srv.url.trim_start_matches("http://").to_owned();
    let mut plain = std::net::TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (got, ended) = stall_then_read(&mut plain, &addr, REQUESTS);
    assert!(
        got < REQUESTS * bundle,
        "{got} bytes: every answer was sent"
    );
    let ended = ended.expect("the connection is still open");
    assert!(ended < Duration::from_secs(10), "ended after {ended:?}");
    assert_eq!(get(&agent(), &format!("{}/health", srv.url)).status, 200);
}

#[test]
fn silent_connections_are_dropped_and_limits_are_per_service() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let mut fx = Fixture::new();
    let mut cfg = loopback();
    cfg.limits.header_timeout_seconds = 1;
    cfg.limits.max_connections = 3;
    cfg.limits.max_concurrent_requests = 1;
    let mut srv = Running::start(cfg, fx.reg.take().unwrap());
    let addr = srv.url.trim_start_matches("http://").to_owned();
    let connect = || {
        let c = TcpStream::connect(&addr).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        c
    };

    // Silent: closed after the header timeout (1 s), not held. (The lower bounds leave room
    // for this thread to start its clock late.)
    let mut silent = connect();
    let took =
        closed_within(&mut silent, Duration::from_secs(6)).expect("a silent connection is closed");
    assert!(took >= Duration::from_millis(500), "closed after {took:?}");

    // Bytes that could still open the HTTP/2 preface, then silence: the server waits for
    // more of them before it reads a request, so the first byte's deadline stands.
    for opening in [&b"P"[..], &H2_OPENING[..15]] {
        let mut c = connect();
        c.write_all(opening).unwrap();
        let took = closed_within(&mut c, Duration::from_secs(6))
            .unwrap_or_else(|| panic!("{opening:?} then silence: the connection is held"));
        assert!(took >= Duration::from_millis(500), "closed after {took:?}");
    }

    // Three silent connections hold every place: a fourth is closed at once.
    let held: Vec<TcpStream> = (0..3).map(|_| connect()).collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut fourth = connect();
    let took = closed_within(&mut fourth, Duration::from_millis(700));
    assert!(
        took.is_some(),
        "a connection over max_connections is closed at once"
    );
    // Their places come back once the server sees them closed.
    drop(held);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while agent()
        .get(&format!("{}/health", srv.url))
        .call()
        .map_or(true, |r| r.status() != 200)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the places of closed connections never came back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // HTTP/2 with prior knowledge is not served: no answer, and the connection closed at once
    // rather than held past the header timeout (which is HTTP/1's).
    let mut h2 = connect();
    h2.write_all(H2_OPENING).unwrap();
    let (answer, took) = answer_until_closed(&mut h2, Duration::from_secs(3));
    assert!(answer.is_empty(), "answered HTTP/2: {answer:?}");
    assert!(took < Duration::from_millis(800), "closed after {took:?}");
    // An HTTP/1 request is served as before, whatever its method.
    let mut pri = connect();
    pri.write_all(b"PRI /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (answer, _) = answer_until_closed(&mut pri, Duration::from_secs(3));
    assert!(
        answer.starts_with(b"HTTP/1.1 405"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // One request whose body is still coming holds the only request slot (its `100 Continue`
    // says the handler has it); a request to another route waits for it.
    let mut slow = connect();
    slow.write_all(
        b"POST /api/v1/registry/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let (continued, _) = answer_until(&mut slow, b"\r\n\r\n", Duration::from_secs(5));
    assert!(
        continued.starts_with(b"HTTP/1.1 100 "),
        "{}",
        String::from_utf8_lossy(&continued)
    );
    slow.write_all(b"{").unwrap();
    let mut health = connect();
    health
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let waited = health.read_to_end(&mut answer);
    assert!(
        waited.is_err() && answer.is_empty(),
        "answered while the slot was held"
    );
    drop(slow);
    health
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    health.read_to_end(&mut answer).unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    srv.stop();
    drop(srv);

    // Over TLS: a client that completes the handshake and then stays silent is dropped too.
    let (pki, tls) = make_pki(&fx.dir);
    let reg = Registry::open(fx.dir.join("r.redb"), None).unwrap();
    let mut cfg = loopback();
    cfg.tls = Some(tls);
    cfg.limits.header_timeout_seconds = 1;
    let srv = Running::start(cfg, reg);
    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    let ca = rustls_pki_types::CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap();
    roots.add(ca).unwrap();
    let client = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn_config = std::sync::Arc::new(client);
    // A TLS client connection to the server and its socket (reads wait 200 ms at most).
    let tls_connect = || {
        let conn =
            rustls::ClientConnection::new(conn_config.clone(), "localhost".try_into().unwrap())
                .unwrap();
        let tcp = TcpStream::connect(srv.url.trim_start_matches("https://")).unwrap();
        tcp.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        (conn, tcp)
    };
    let (mut conn, mut tcp) = tls_connect();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).unwrap();
    }
    let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
    let took = closed_within(&mut stream, Duration::from_secs(6))
        .expect("a silent connection after its handshake is closed");
    assert!(took >= Duration::from_millis(800), "closed after {took:?}");

    // Nor HTTP/2 over TLS from a client that offered no ALPN.
    let (mut conn, mut tcp) = tls_connect();
    let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
    stream.write_all(H2_OPENING).unwrap();
    let (answer, took) = answer_until_closed(&mut stream, Duration::from_secs(3));
    assert!(answer.is_empty(), "answered HTTP/2 over TLS: {answer:?}");
    assert!(took < Duration::from_millis(800), "closed after {took:?}");
}

/// Asserts `r` is the error `(status, code)` and its message says `words`.
fn refused_saying(r: &Resp, (status, code): (u16, &str), words: &str) {
    assert_eq!(
        (r.status, r.code().as_str()),
        (status, code),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let message = r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains(words), "{message}");
}

/// What an HTTP/2 client with prior knowledge sends first: the preface and an empty SETTINGS
/// frame.
const H2_OPENING: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// One client has at most `limits.max_requests_per_client` requests in flight: with 1, a
/// request whose body is still coming holds its share, so the same client's next request is
/// refused at once (429, `Retry-After: 1`), whatever the global limit; once the first is
/// answered, the next is served.
#[test]
fn a_client_has_its_share_of_requests_in_flight() {
    use std::io::Write;
    let mut fx = Fixture::new();
    let mut cfg = loopback();
    cfg.limits.max_requests_per_client = 1;
    let srv = Running::start(cfg, fx.reg.take().unwrap());
    let mut slow = std::net::TcpStream::connect(srv.url.trim_start_matches("http://")).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    slow.write_all(
        b"POST /api/v1/registry/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let (continued, _) = answer_until(&mut slow, b"\r\n\r\n", Duration::from_secs(5));
    assert!(
        continued.starts_with(b"HTTP/1.1 100 "),
        "{}",
        String::from_utf8_lossy(&continued)
    );
    let health = format!("{}/health", srv.url);
    let r = get(&agent(), &health);
    assert_eq!((r.status, r.code().as_str()), (429, "rate_limited"));
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(r.json()["error"]["details"]["in_flight_limit"], 1);
    // The first request's body arrives: it is answered (a body of spaces is no node spec),
    // and its share comes back.
    slow.write_all(&[b' '; 100]).unwrap();
    let (answer, _) = answer_until(&mut slow, b"}}", Duration::from_secs(5));
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 400 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(get(&agent(), &health).status, 200);
}

/// Sends a request's head only (its body never follows) and returns what the server answers
/// before it closes the connection, which it must do within 3 s: a request refused before its
/// body is read. (A client that sent the body too could meet a reset instead of the answer,
/// writing into a connection the server has closed.)
fn answer_before_body(base: &str, head: &str) -> String {
    use std::io::Write;
    let mut tcp = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    tcp.write_all(head.as_bytes()).unwrap();
    let (answer, took) = answer_until_closed(&mut tcp, Duration::from_secs(5));
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(
        took < Duration::from_secs(3),
        "answered after {took:?}: {answer}"
    );
    answer
}

/// What a stream sends until `end` appears in it (or it closes, or `within` passes).
fn answer_until(
    stream: &mut impl std::io::Read,
    end: &[u8],
    within: Duration,
) -> (Vec<u8>, Duration) {
    let start = std::time::Instant::now();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while start.elapsed() < within && !answer.ends_with(end) {
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => answer.push(byte[0]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    (answer, start.elapsed())
}

/// Reads `stream` until it is closed (or `within` passes): what it answered, and when it
/// closed (`within` if it did not).
fn answer_until_closed(stream: &mut impl std::io::Read, within: Duration) -> (Vec<u8>, Duration) {
    let start = std::time::Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 256];
    while start.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) => return (answer, start.elapsed()),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (answer, start.elapsed()),
        }
    }
    (answer, within)
}

/// A token is checked when a write's head arrives and again once its body has: a token
/// revoked while the body is on the way (up to the request timeout) authorizes nothing, though
/// the request's proof, signed before, is good.
#[test]
fn a_token_revoked_while_the_body_is_on_the_way_authorizes_nothing() {
    use std::io::Write;
    let mut fx = Fixture::new();
    let victim = fx.token(ORIGIN, &["node.register"], 3600);
    let srv = Running::start(loopback(), fx.reg.take().unwrap());
    let served = srv.server.as_ref().unwrap().state().reg.clone();
    let path = "/api/v1/registry/register";
    let send_slowly = |nonce: &str, revoke: bool| {
        let body = spec(nonce);
        let proof = sign_request(
            &fx.holder,
            &victim.envelope.id(),
            "POST",
            path,
            body.as_bytes(),
            now(),
            nonce,
        )
        .unwrap();
        let mut tcp = std::net::TcpStream::connect(srv.url.trim_start_matches("http://")).unwrap();
        tcp.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        write!(
            tcp,
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nCairn-Proof: {proof}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            authorization_value(&victim.envelope),
            body.len()
        )
        .unwrap();
        // The head is read and its token checked while the body has not come.
        std::thread::sleep(Duration::from_millis(300));
        if revoke {
            served
                .revoke_token(&victim.id, "leaked", &fx.issuer, None)
                .unwrap();
        }
        tcp.write_all(body.as_bytes()).unwrap();
        let (answer, _) = answer_until_closed(&mut tcp, Duration::from_secs(10));
        String::from_utf8_lossy(&answer).into_owned()
    };
    let answer = send_slowly("slow-body-nonce-0001", false);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let answer = send_slowly("slow-body-nonce-0002", true);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("\"revoked\""), "{answer}");
    assert!(
        served.node("slow-body-nonce-0002").is_err(),
        "nothing written"
    );
}

/// A shutdown stops accepting connections at once, even while a witnessing round waits on a
/// witness that never answers (it used to keep serving until that round timed out).
/// A shutdown during a witnessing round waits for the group of witnesses being asked, not
/// for every group after it: with one more witness than a group holds, all mute, the last
/// one is never asked.
#[test]
fn shutdown_asks_no_further_group_of_witnesses() {
    use cairn_service::config::{WitnessPeer, Witnessing};
    use cairn_service::witness::client::MAX_ASKED_AT_ONCE;
    let mut fx = Fixture::new();
    let listeners: Vec<std::net::TcpListener> = (0..=MAX_ASKED_AT_ONCE)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let witnesses = listeners
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let key = SigningKey::from_seed(Algorithm::Ed25519, &[i as u8 + 1; 32]);
            WitnessPeer {
                url: format!("http://{}", l.local_addr().unwrap()),
                keys: vec![cairn_core::witness::CosignerKey::new(
                    &format!("witness.example/mute{i}"),
                    key.public_key(),
                )
                .unwrap()
                .vkey()],
            }
        })
        .collect();
    // The first group's witnesses take the request and say nothing, until their timeout.
    let (asked, was_asked) = std::sync::mpsc::channel();
    let mut listeners = listeners;
    let last = listeners.pop().unwrap();
    let mute: Vec<_> = listeners
        .into_iter()
        .map(|l| {
            let asked = asked.clone();
            std::thread::spawn(move || {
                let (conn, _) = l.accept().unwrap();
                asked.send(()).unwrap();
                std::thread::sleep(Duration::from_secs(5));
                drop(conn);
            })
        })
        .collect();
    let mut cfg = loopback();
    cfg.witnessing = Witnessing {
        witnesses,
        interval_seconds: 3600,
        timeout_seconds: 2,
    };
    let mut srv = Running::start(cfg, fx.reg.take().unwrap());
    for _ in 0..MAX_ASKED_AT_ONCE {
        was_asked
            .recv_timeout(Duration::from_secs(10))
            .expect("the round asked the first group");
    }
    let server = srv.server.take().unwrap();
    srv.rt
        .block_on(server.shutdown(Duration::from_secs(5)))
        .unwrap();
    // The round ended after the first group's timeout, and never reached the last witness.
    last.set_nonblocking(true).unwrap();
    assert_eq!(
        last.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "the witness of the second group was asked after the shutdown began"
    );
    for m in mute {
        m.join().unwrap();
    }
}

#[test]
fn shutdown_stops_accepting_while_a_witness_round_hangs() {
    use cairn_service::config::{WitnessPeer, Witnessing};
    let mut fx = Fixture::new();
    // A witness that accepts connections and never answers.
    let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mute_url = format!("http://{}", mute.local_addr().unwrap());
    let (asked, was_asked) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let held = std::thread::spawn(move || {
        let (conn, _) = mute.accept().unwrap();
        asked.send(()).unwrap();
        let _ = released.recv_timeout(Duration::from_secs(15));
        drop(conn);
    });
    let key = SigningKey::from_seed(Algorithm::Ed25519, &[77; 32]);
    let vkey = cairn_core::witness::CosignerKey::new("witness.example/mute", key.public_key())
        .unwrap()
        .vkey();
    let mut cfg = loopback();
    cfg.witnessing = Witnessing {
        witnesses: vec![WitnessPeer {
            url: mute_url,
            keys: vec![vkey],
        }],
        interval_seconds: 1,
        timeout_seconds: 10,
    };
    let mut srv = Running::start(cfg, fx.reg.take().unwrap());
    let health = format!("{}/health", srv.url);
    was_asked
        .recv_timeout(Duration::from_secs(10))
        .expect("the round asked the witness");
    assert_eq!(get(&agent(), &health).status, 200);
    let server = srv.server.take().unwrap();
    let stopping = srv.rt.spawn(server.shutdown(Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(500));
    let quick: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    assert!(
        quick.get(&health).call().is_err(),
        "still answering half a second into the shutdown"
    );
    release.send(()).unwrap();
    srv.rt.block_on(stopping).unwrap().unwrap();
    held.join().unwrap();
}

#[test]
fn bad_tls_files_and_ports_are_startup_errors() {
    let mut fx = Fixture::new();
    let (_pki, tls) = make_pki(&fx.dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut cfg = loopback();
    cfg.tls = Some(Tls {
        cert_pem_path: fx.dir.join("missing.pem"),
        ..tls.clone()
    });
    let e = rt
        .block_on(Server::start(cfg, fx.reg.take().unwrap()))
        .unwrap_err();
    assert_eq!(e.code, "malformed");
    assert!(e.message.contains("tls.cert_pem_path"), "{}", e.message);
    // The key of another certificate.
    let reg = Registry::open(fx.dir.join("r.redb"), None).unwrap();
    std::fs::write(
        fx.dir.join("other.key"),
        rcgen::KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    let mut cfg = loopback();
    cfg.tls = Some(Tls {
        key_pem_path: fx.dir.join("other.key"),
        ..tls.clone()
    });
    let e = rt.block_on(Server::start(cfg, reg)).unwrap_err();
    assert!(e.message.contains("do not go together"), "{}", e.message);
    assert!(e.message.contains("tls.key_pem_path"), "{}", e.message);
    assert!(e.message.contains("other.key"), "{}", e.message);

    // Key files rustls cannot read say why: an encrypted key (PKCS#8 or OpenSSL's legacy
    // form), a file holding no key at all.
    let pkcs8_encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let legacy_encrypted = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    let server_cert = std::fs::read_to_string(&tls.cert_pem_path).unwrap();
    for (text, says) in [
        (pkcs8_encrypted, "the key is encrypted"),
        (legacy_encrypted, "the key is encrypted"),
        (server_cert.as_str(), "no PEM private key"),
    ] {
        std::fs::write(fx.dir.join("bad.key"), text).unwrap();
        let mut cfg = loopback();
        cfg.tls = Some(Tls {
            key_pem_path: fx.dir.join("bad.key"),
            ..tls.clone()
        });
        let reg = Registry::open(fx.dir.join("r.redb"), None).unwrap();
        let e = rt.block_on(Server::start(cfg, reg)).unwrap_err();
        assert_eq!(e.code, "malformed");
        assert!(
            e.message.contains("tls.key_pem_path") && e.message.contains(says),
            "{says}: {}",
            e.message
        );
    }

    // A client CA file must name CAs: the server's own (leaf) certificate is refused, with
    // its place in the file and its subject; the CA itself is accepted.
    std::fs::write(
        fx.dir.join("leaf-and-ca.pem"),
        format!(
            "{}{server_cert}",
            std::fs::read_to_string(fx.dir.join("ca.pem")).unwrap()
        ),
    )
    .unwrap();
    let mut cfg = loopback();
    cfg.tls = Some(Tls {
        client_ca_pem_path: Some(fx.dir.join("leaf-and-ca.pem")),
        ..tls.clone()
    });
    let reg = Registry::open(fx.dir.join("r.redb"), None).unwrap();
    let e = rt.block_on(Server::start(cfg, reg)).unwrap_err();
    assert!(
        e.message.contains("tls.client_ca_pem_path")
            && e.message.contains("certificate 2")
            && e.message.contains("not a CA certificate")
            && e.message.contains("CN="),
        "{}",
        e.message
    );
    // A self-signed client certificate, pinned as its own anchor, is kept.
    let pinned_key = rcgen::KeyPair::generate().unwrap();
    let pinned = rcgen::CertificateParams::new(vec!["pinned.test".into()])
        .unwrap()
        .self_signed(&pinned_key)
        .unwrap();
    std::fs::write(fx.dir.join("pinned.pem"), pinned.pem()).unwrap();
    let mut cfg = loopback();
    cfg.tls = Some(Tls {
        client_ca_pem_path: Some(fx.dir.join("pinned.pem")),
        ..tls
    });
    let reg = Registry::open(fx.dir.join("r.redb"), None).unwrap();
    let srv = rt.block_on(Server::start(cfg, reg)).unwrap();
    rt.block_on(srv.shutdown(Duration::from_secs(5))).unwrap();
}

#[test]
fn private_reads_need_a_read_token() {
    let mut fx = Fixture::new();
    let reader = fx.token(ORIGIN, &["read"], 3600);
    let mut cfg = loopback();
    cfg.auth.public_reads = false;
    let srv = Running::start(cfg, fx.reg.take().unwrap());
    let a = agent();
    let base = &srv.url;
    assert_eq!(get(&a, &format!("{base}/health")).status, 200);
    let r = get(&a, &format!("{base}/checkpoint"));
    assert_eq!((r.status, r.code().as_str()), (401, "unauthorized"));
    // HEAD (which every GET route answers) and validation are reads too.
    for path in [
        "/checkpoint",
        "/metrics",
        "/api/v1/registry/none",
        "/tile/0/000",
    ] {
        let r = done(a.head(&format!("{base}{path}")).call());
        assert_eq!(r.status, 401, "HEAD {path}");
    }
    // So are the POSTs that only tell what the registry holds: validation, and a handle's
    // resolution (which answers its identity).
    for (path, body) in [
        ("/api/v1/registry/validate", r#"{"id":"x"}"#),
        (
            "/resolve",
            r#"{"handle":"bob","requester_ephemeral_pubkey_hex":"00"}"#,
        ),
    ] {
        let r = done(a.post(&format!("{base}{path}")).send(body.as_bytes()));
        assert_eq!(
            (r.status, r.code().as_str()),
            (401, "unauthorized"),
            "{path}"
        );
    }
    assert_eq!(done(a.head(&format!("{base}/health")).call()).status, 200);
    let proof = sign_request(
        &fx.holder,
        &reader.envelope.id(),
        "GET",
        "/checkpoint",
        b"",
        now(),
        "read-nonce-00000001",
    )
    .unwrap();
    let r = done(
        a.get(&format!("{base}/checkpoint"))
            .header("authorization", &authorization_value(&reader.envelope))
            .header("cairn-proof", &proof)
            .call(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// With `auth.proof_of_possession = false` a token alone authorises a write (a bearer
/// credential), so the service never hands a token's envelope out: its view's `envelope` is
/// null and its bundle refused. Its refresh pieces (no envelope in them) are still served; with
/// proofs of possession on, the same reads give the envelope.
#[test]
fn bearer_tokens_authorize_alone_and_are_never_handed_out() {
    let mut fx = Fixture::new();
    let writer = fx.token(ORIGIN, &["node.register"], 3600);
    fx.trust_root();
    let path = fx.dir.join("r.redb");
    let mut cfg = loopback();
    cfg.auth.proof_of_possession = false;
    let srv = Running::start(cfg, fx.reg.take().unwrap());
    let (a, base) = (agent(), &srv.url);
    let r = write(
        &a,
        base,
        "POST",
        "/api/v1/registry/register",
        spec("bearer-1").as_bytes(),
        Some(&writer.envelope),
        None,
        "",
        now(),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let tid = hex_encode(&writer.id);
    let r = get(&a, &format!("{base}/api/v1/tokens/{tid}"));
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["id"], tid.as_str(), "{v}");
    assert!(v["envelope"].is_null(), "{v}");
    let r = get(&a, &format!("{base}/api/v1/bundles/token/{tid}"));
    assert_eq!((r.status, r.code().as_str()), (403, "unauthorized"));
    let r = get(
        &a,
        &format!("{base}/api/v1/bundles/token/{tid}/refresh?from=1&leaf=0"),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    drop(srv);

    // The same registry with proofs of possession: the envelope is served.
    let srv = Running::start(loopback(), Registry::open(&path, None).unwrap());
    let base = &srv.url;
    let v: Value =
        serde_json::from_slice(&get(&a, &format!("{base}/api/v1/tokens/{tid}")).body).unwrap();
    let served = cairn_core::dsse::Envelope::from_json(&v["envelope"].to_string()).unwrap();
    assert_eq!(served.id(), writer.id);
    assert_eq!(
        get(&a, &format!("{base}/api/v1/bundles/token/{tid}")).status,
        200
    );
}

/// `limits.max_body_bytes` bounds the one body anyone may send a peer route, a key request,
/// when it is below the request's own 16 KiB.
#[test]
fn a_key_request_is_bounded_by_the_body_limit_too() {
    let mut fx = Fixture::new();
    let mut cfg = loopback();
    cfg.limits.max_body_bytes = 1024;
    let srv = Running::start(cfg, fx.reg.take().unwrap());
    let (a, url) = (agent(), format!("{}/api/v1/peer/key-request", srv.url));
    let r = done(a.post(&url).send(&[0u8; 2048][..]));
    assert_eq!((r.status, r.code().as_str()), (413, "too_large"));
    // Under the limit, the bytes are read and the request is judged: this registry has no
    // peer identity to answer with.
    let r = done(a.post(&url).send(&[0u8; 512][..]));
    assert_eq!((r.status, r.code().as_str()), (409, "invalid_state"));
}

#[test]
fn rate_limits_answer_429_with_retry_after_and_ban() {
    let mut fx = Fixture::new();
    let mut cfg = loopback();
    cfg.rate_limit.per_ip_rps = 1;
    cfg.rate_limit.burst = 3;
    cfg.rate_limit.ban_after = 3;
    cfg.rate_limit.ban_seconds = 120;
    cfg.rate_limit.endpoints.query_rps = Some(1);
    let srv = Running::start(cfg, fx.reg.take().unwrap());
    let a = agent();
    let base = &srv.url;
    // The endpoint limit (1/s, burst 1) bites before the per-address one (burst 3).
    let q = format!("{base}/api/v1/registry/query?signal=s");
    assert_eq!(get(&a, &q).status, 200);
    let r = get(&a, &q);
    assert_eq!((r.status, r.code().as_str()), (429, "rate_limited"));
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(r.json()["error"]["details"]["banned"], false);
    // Past the burst, every address-wide request is refused; the third refusal in a row bans
    // (a request let through by a token refilled meanwhile starts the count again).
    let mut last = None;
    for _ in 0..20 {
        last = Some(get(&a, &format!("{base}/health")));
        if last.as_ref().unwrap().json()["error"]["details"]["banned"] == true {
            break;
        }
    }
    let r = last.unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["details"]["banned"], true, "{}", r.json());
    assert_eq!(r.headers["retry-after"], "120");
    // A banned address stays refused even after its rate would allow it again.
    std::thread::sleep(Duration::from_millis(1100));
    let r = get(&a, &format!("{base}/health"));
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["details"]["banned"], true);
}

/// Parses an OpenMetrics text exposition strictly enough to catch a malformed one: every line
/// is a `# HELP`/`# TYPE`/`# UNIT` comment, a sample `name{labels} value`, or the final
/// `# EOF`. Returns the samples as (name with labels, value).
fn parse_openmetrics(text: &str) -> Vec<(String, f64)> {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "no # EOF at the end");
    let mut samples = Vec::new();
    for line in &lines[..lines.len() - 1] {
        if let Some(c) = line.strip_prefix("# ") {
            let kind = c.split(' ').next().unwrap();
            assert!(["HELP", "TYPE", "UNIT"].contains(&kind), "{line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        if name_end < series.len() {
            let labels = &series[name_end..];
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            for pair in labels[1..labels.len() - 1].split(',') {
                let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("{line}"));
                assert!(
                    k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                assert!(
                    v.starts_with('"') && v.ends_with('"') && v.len() >= 2,
                    "{line}"
                );
            }
        }
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        samples.push((series.to_owned(), v));
    }
    samples
}

fn sample(samples: &[(String, f64)], series: &str) -> f64 {
    samples
        .iter()
        .find(|(s, _)| s == series)
        .map_or(0.0, |(_, v)| *v)
}

#[test]
fn metrics_count_requests_verifications_and_signatures() {
    let mut fx = Fixture::new();
    let good = fx.token(ORIGIN, &["node.register"], 3600);
    let srv = Running::start(loopback(), fx.reg.take().unwrap());
    let base = srv.url.clone();
    let a = agent();

    let first = get(&a, &format!("{base}/metrics"));
    assert_eq!(first.status, 200);
    assert!(first.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let before = parse_openmetrics(&String::from_utf8(first.body).unwrap());
    let health = r#"cairn_http_requests_total{method="GET",route="/health",status="200"}"#;
    assert_eq!(sample(&before, health), 0.0);

    for _ in 0..3 {
        assert_eq!(get(&a, &format!("{base}/health")).status, 200);
    }
    assert_eq!(get(&a, &format!("{base}/no/such/route")).status, 404);
    assert_eq!(get(&a, &format!("{base}/api/v1/registry/nope")).status, 404);
    let path = "/api/v1/registry/register";
    let ok = write(
        &a,
        &base,
        "POST",
        path,
        spec("m-1").as_bytes(),
        Some(&good.envelope),
        Some(&fx.holder),
        "metrics-nonce-0001",
        now(),
    );
    assert_eq!(ok.status, 201);
    // Signed by another key: the token verifies, the proof does not.
    let stranger = SigningKey::generate(Algorithm::Ed25519);
    let bad = write(
        &a,
        &base,
        "POST",
        path,
        spec("m-2").as_bytes(),
        Some(&good.envelope),
        Some(&stranger),
        "metrics-nonce-0002",
        now(),
    );
    assert_eq!(
        (bad.status, bad.code().as_str()),
        (401, "signature_invalid")
    );
    // Authorized, but refused by the store inside the group commit: its provenance names a
    // manifest the registry does not hold.
    let orphan = spec("m-3").replace(
        r#""source": "https://git.example.test/m-3""#,
        &format!(
            r#""source": "https://git.example.test/m-3", "manifest": "{}""#,
            "ab".repeat(32)
        ),
    );
    let refused = write(
        &a,
        &base,
        "POST",
        path,
        orphan.as_bytes(),
        Some(&good.envelope),
        Some(&fx.holder),
        "metrics-nonce-0003",
        now(),
    );
    assert!(
        refused.status >= 400 && refused.status < 500,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );

    let text = String::from_utf8(get(&a, &format!("{base}/metrics")).body).unwrap();
    let after = parse_openmetrics(&text);
    assert_eq!(sample(&after, health), 3.0, "{text}");
    let h_count =
        r#"cairn_http_request_duration_seconds_count{method="GET",route="/health",status="200"}"#;
    assert_eq!(sample(&after, h_count), 3.0, "{text}");
    // Route templates, never the path's values.
    assert_eq!(
        sample(
            &after,
            r#"cairn_http_requests_total{method="GET",route="/api/v1/registry/{registry_id}",status="404"}"#
        ),
        1.0,
        "{text}"
    );
    assert!(!text.contains("route=\"/api/v1/registry/nope\""), "{text}");
    assert_eq!(
        sample(
            &after,
            r#"cairn_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        1.0,
        "{text}"
    );
    for (status, n) in [("201", 1.0), ("401", 1.0)] {
        let s = format!(
            r#"cairn_http_requests_total{{method="POST",route="/api/v1/registry/register",status="{status}"}}"#
        );
        assert_eq!(sample(&after, &s), n, "{s}\n{text}");
    }
    assert_eq!(
        sample(
            &after,
            r#"cairn_verifications_total{what="token",outcome="success"}"#
        ),
        3.0
    );
    assert_eq!(
        sample(
            &after,
            r#"cairn_verifications_total{what="proof",outcome="success"}"#
        ),
        2.0
    );
    assert_eq!(
        sample(
            &after,
            r#"cairn_verifications_total{what="proof",outcome="failure"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            r#"cairn_verify_duration_seconds_count{what="proof",algorithm="ed25519"}"#
        ),
        3.0,
        "{text}"
    );
    // One durable commit, one head signature by the log key.
    assert_eq!(
        sample(&after, "cairn_checkpoint_save_duration_seconds_count"),
        1.0,
        "{text}"
    );
    assert_eq!(sample(&after, "cairn_commit_operations_sum"), 1.0);
    assert_eq!(sample(&after, "cairn_write_refusals_total"), 1.0, "{text}");
    // The refused write's pass committed nothing: counted apart from the commits.
    assert_eq!(
        sample(&after, "cairn_aborted_pass_duration_seconds_count"),
        1.0,
        "{text}"
    );
    // The writer was busy at least as long as its passes took (each timed within its batch).
    let passes = sample(&after, "cairn_checkpoint_save_duration_seconds_sum")
        + sample(&after, "cairn_aborted_pass_duration_seconds_sum");
    let busy = sample(&after, "cairn_writer_busy_seconds_total");
    assert!(passes > 0.0 && busy >= passes, "{text}");
    let signed: f64 = after
        .iter()
        .filter(|(s, _)| s.starts_with("cairn_sign_duration_seconds_count{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(signed, 1.0, "{text}");
}

#[test]
fn bundles_under_concurrent_writes_take_their_checkpoints_through_the_writer() {
    use cairn_core::bundle::{verify_bundle, Bundle, BundlePolicy};
    let mut fx = Fixture::new();
    let root = fx.trust_root();
    // A bundle made now, refreshed over HTTP once the writes below have grown the log.
    let refreshed = fx.token(ORIGIN, &["node.register"], 3600);
    let old = fx.reg().token_bundle(&refreshed.id).unwrap();
    // Tokens issued after the newest checkpoint: their bundles need a new one.
    let tokens: Vec<_> = (0..4)
        .map(|_| fx.token(ORIGIN, &["node.register"], 3600))
        .collect();
    let writer_token = tokens[0].envelope.clone();
    let checkpoints_before = fx.reg().checkpoints().unwrap().len();
    let holder = Arc::new(std::mem::replace(
        &mut fx.holder,
        SigningKey::generate(Algorithm::Ed25519),
    ));
    let path = fx.dir.join("r.redb");
    let srv = Running::start(loopback(), fx.reg.take().unwrap());
    let base = srv.url.clone();

    let writers: Vec<_> = (0..6)
        .map(|i| {
            let (base, env, holder) = (base.clone(), writer_token.clone(), holder.clone());
            std::thread::spawn(move || {
                let a = agent();
                for j in 0..4 {
                    let r = write(
                        &a,
                        &base,
                        "POST",
                        "/api/v1/registry/register",
                        spec(&format!("b-{i}-{j}")).as_bytes(),
                        Some(&env),
                        Some(&holder),
                        &format!("bundle-nonce-{i:04}-{j:04}"),
                        now(),
                    );
                    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
                }
            })
        })
        .collect();
    let readers: Vec<_> = tokens
        .iter()
        .map(|tok| {
            let (base, id, root) = (base.clone(), tok.id, root.clone());
            std::thread::spawn(move || {
                let a = agent();
                for _ in 0..3 {
                    let r = get(
                        &a,
                        &format!("{base}/api/v1/bundles/token/{}", hex_encode(&id)),
                    );
                    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                    let b = Bundle::from_bytes(&r.body).expect("a bundle");
                    let policy = BundlePolicy {
                        require_hybrid_checkpoint: false,
                        token: cairn_core::token::VerifyOptions {
                            audience: Some(ORIGIN),
                            capability: Some("node.register"),
                        },
                        ..BundlePolicy::default()
                    };
                    verify_bundle(&b, &root, now(), &policy).expect("the bundle verifies");
                }
            })
        })
        .collect();
    for t in writers.into_iter().chain(readers) {
        t.join().unwrap();
    }
    let ops = srv
        .server
        .as_ref()
        .unwrap()
        .state()
        .writer
        .stats()
        .operations;
    let made = srv
        .server
        .as_ref()
        .unwrap()
        .state()
        .reg
        .checkpoints()
        .unwrap()
        .len()
        - checkpoints_before;

    // Refresh pieces for the old bundle: it moves to the newest checkpoint and verifies.
    let a = agent();
    let tid = hex_encode(&refreshed.id);
    let from = old.inclusion.tree_size;
    let r = get(
        &a,
        &format!("{base}/api/v1/bundles/token/{tid}/refresh?from={from}"),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let pieces = cairn_core::bundle::RefreshPieces::from_bytes(&r.body).unwrap();
    let fresh = cairn_core::bundle::refresh_bundle(&old, &pieces).unwrap();
    assert!(fresh.inclusion.tree_size >= from + 24);
    let policy = BundlePolicy {
        require_hybrid_checkpoint: false,
        ..BundlePolicy::default()
    };
    let v = verify_bundle(&fresh, &root, now(), &policy).unwrap();
    assert_eq!(v.checkpoint.size, fresh.inclusion.tree_size);
    // Refused: no `from`, a `from` past the log (with a `leaf` past it too: not a damaged
    // registry's 500), a `leaf` not below `from`, an unknown token, an unknown parameter.
    for (query, status) in [
        (String::new(), 400),
        (format!("?from={}", u64::MAX), 400),
        (format!("?from={}&leaf={}", u64::MAX, u64::MAX - 1), 400),
        (
            format!("?from={}&leaf={}", from + 10_000, from + 9_000),
            400,
        ),
        (format!("?from={from}&leaf={from}"), 422),
        (format!("?from={from}&x=1"), 400),
    ] {
        let r = get(
            &a,
            &format!("{base}/api/v1/bundles/token/{tid}/refresh{query}"),
        );
        assert_eq!(
            r.status,
            status,
            "{query}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let r = get(
        &a,
        &format!(
            "{base}/api/v1/bundles/token/{}/refresh?from={from}",
            "00".repeat(32)
        ),
    );
    assert_eq!(r.status, 404);
    drop(srv);
    let reg = Registry::open(&path, None).unwrap();
    reg.audit().unwrap();
    assert_eq!(reg.list_nodes().unwrap().len(), 24);
    // The checkpoints the bundles needed were asked of the writer: beyond the 24 registrations
    // it ran at least one checkpoint operation per checkpoint that appeared (two requests that
    // ask in the same batch share one), and at most one per bundle request.
    assert!(made >= 1, "the tokens needed a checkpoint");
    let asked = ops - 24;
    assert!(made as u64 <= asked && asked <= 12, "{made} {asked}");
}

/// Tokens, manifests and their revocations written over HTTP with registry keys: each needs
/// its own capability, lands in the ledger (the audit passes), reads back as the store's view,
/// and a revoked token or manifest reads back revoked; bad bodies and unknown keys are refused.
#[test]
fn tokens_manifests_and_revocations_over_http() {
    let mut fx = Fixture::new();
    // The manifest signer is sealed; the server holds its passphrase.
    let pass = cairn_store::Passphrase::new("release key");
    let signer = fx
        .reg()
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("release", RoleSet::of(&[Role::ManifestSigner])),
            &Protection::Passphrase(pass.clone(), cairn_store::KdfParams::INSECURE_FAST),
        )
        .unwrap()
        .key_id;
    let writer = fx.token(
        ORIGIN,
        &[
            "token.issue",
            "token.revoke",
            "manifest.sign",
            "manifest.revoke",
        ],
        3600,
    );
    let narrow = fx.token(ORIGIN, &["node.register"], 3600);
    let srv = Running::start_with_keys(loopback(), fx.reg.take().unwrap(), Some(pass));
    let a = agent();
    let base = &srv.url;
    let t = now();
    let mut n = 0;
    let mut post = |path: &str, body: &str, tok: &cairn_store::TokenInfo| {
        n += 1;
        write(
            &a,
            base,
            "POST",
            path,
            body.as_bytes(),
            Some(&tok.envelope),
            Some(&fx.holder),
            &format!("write-nonce-{n:08}"),
            t,
        )
    };
    let holder = SigningKey::generate(Algorithm::Ed25519);
    let holder_json = serde_json::to_string(holder.public_key()).unwrap();
    let issue = format!(
        r#"{{"issuer": "{}", "holder": {holder_json}, "audience": "app.example", "capabilities": ["publish"], "ttl": 600}}"#,
        fx.issuer.to_hex()
    );

    // Each operation needs its own capability.
    let r = post("/api/v1/tokens", &issue, &narrow);
    assert_eq!((r.status, r.code().as_str()), (403, "unauthorized"));

    let r = post("/api/v1/tokens", &issue, &writer);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let token = r.json()["token"].clone();
    assert_eq!(token["claims"]["audience"], "app.example");
    assert!(token["revoked"].is_null());
    let id = token["id"].as_str().unwrap().to_owned();
    assert_eq!(get(&a, &format!("{base}/api/v1/tokens/{id}")).json(), token);

    let sha = "ab".repeat(32);
    let sign = format!(
        r#"{{"signer": "{}", "name": "app.tar.gz", "size": 1234, "sha256": "{sha}"}}"#,
        signer.to_hex()
    );
    let r = post("/api/v1/manifests", &sign, &writer);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let manifest = r.json()["manifest"].clone();
    assert_eq!(manifest["claims"]["sha256"], sha);
    let digest = manifest["digest"].as_str().unwrap().to_owned();
    // Unsealed once, and kept open for the next signature (the issuer, in the clear, is not).
    let served = srv.server.as_ref().unwrap().state().reg.clone();
    assert_eq!(served.keys_kept_open(), 1);

    // Revocations by the issuer and the signer.
    let revoke = |who: &cairn_core::crypto::KeyId| {
        format!(
            r#"{{"reason": "key leaked", "revoker": "{}"}}"#,
            who.to_hex()
        )
    };
    let r = post(
        &format!("/api/v1/tokens/{id}/revoke"),
        &revoke(&fx.issuer),
        &writer,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let again = post(
        &format!("/api/v1/tokens/{id}/revoke"),
        &revoke(&fx.issuer),
        &writer,
    );
    assert!(again.status >= 400, "a second revocation is refused");
    let shown = get(&a, &format!("{base}/api/v1/tokens/{id}")).json();
    assert_eq!(shown["revoked"]["reason"], "key leaked");
    let r = post(
        &format!("/api/v1/manifests/{digest}/revoke"),
        &revoke(&signer),
        &writer,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let shown = get(&a, &format!("{base}/api/v1/manifests/{digest}")).json();
    assert_eq!(shown["revoked"]["revoker"], signer.to_hex());

    // Refused: an unknown field, a key that is not the registry's, a key without the role,
    // a bad digest, a manifest name that could escape a directory.
    let r = post(
        "/api/v1/tokens",
        &issue.replace("\"ttl\"", "\"extra\": 1, \"ttl\""),
        &writer,
    );
    assert_eq!((r.status, r.code().as_str()), (400, "malformed"));
    let r = post(
        "/api/v1/tokens",
        &issue.replace(&fx.issuer.to_hex(), &"cd".repeat(32)),
        &writer,
    );
    assert!(r.status >= 400 && r.status < 500, "{}", r.status);
    // The holder key as `key export --format json` writes it: its own key_id and a label are
    // taken; another key's id is `key_mismatch` (an edited or mixed-up file).
    let exported = |key_id: &str| {
        let mut k = serde_json::to_value(holder.public_key()).unwrap();
        k["key_id"] = key_id.into();
        k["label"] = "app".into();
        issue.replace(&holder_json, &k.to_string())
    };
    let own = holder.public_key().key_id().to_hex();
    let r = post("/api/v1/tokens", &exported(&own), &writer);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = post("/api/v1/tokens", &exported(&"ee".repeat(32)), &writer);
    assert_eq!((r.status, r.code().as_str()), (422, "key_mismatch"));
    assert_eq!(r.json()["error"]["details"]["field"], "holder.key_id");
    // The holder object is as strict as the body: a member it does not know, or a member of
    // the wrong type, is refused.
    for (member, value) in [
        ("bogus", Value::from(1)),
        ("label", Value::from(7)),
        ("key_id", Value::from(false)),
    ] {
        let mut k = serde_json::to_value(holder.public_key()).unwrap();
        k[member] = value;
        let r = post(
            "/api/v1/tokens",
            &issue.replace(&holder_json, &k.to_string()),
            &writer,
        );
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "malformed"),
            "{member}"
        );
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains(member),
            "{member}"
        );
    }
    let r = post(
        "/api/v1/manifests",
        &sign.replace(&signer.to_hex(), &fx.issuer.to_hex()),
        &writer,
    );
    assert!(r.status >= 400 && r.status < 500, "{}", r.status);
    let r = post("/api/v1/manifests", &sign.replace(&sha, "zz"), &writer);
    assert_eq!(r.code(), "malformed");
    let r = post(
        "/api/v1/manifests",
        &sign.replace("app.tar.gz", "../app"),
        &writer,
    );
    assert_eq!(r.code(), "malformed");

    drop(srv);
    // Shut down: the keys it kept open are wiped, even though a registry handle outlives it.
    assert_eq!(served.keys_kept_open(), 0);
    drop(served);
    let reg = Registry::open(fx.dir.join("r.redb"), None).unwrap();
    let report = reg.audit().unwrap();
    assert!(report.entries > 0);
    assert!(reg
        .token(&cairn_core::encoding::hex_decode_array::<32>(&id).unwrap())
        .unwrap()
        .revoked
        .is_some());
}

/// An ML-KEM-768 encapsulation key from fixed seeds.
fn kem(n: u8) -> cairn_core::peer::KemPublicKey {
    use ml_kem::KeyExport;
    let mut seed = [n; 64];
    seed[32..].fill(n ^ 0x5a);
    let dk = ml_kem::DecapsulationKey768::from_seed(seed.into());
    let ek = dk.encapsulation_key().to_bytes();
    cairn_core::peer::KemPublicKey::from_bytes(&ek).unwrap()
}

/// A registry in `dir` that is peer `id` (an ML-DSA-65 key with the peer role).
fn peer_registry(
    dir: &std::path::Path,
    id: &str,
    kem_n: u8,
) -> (Registry, cairn_core::crypto::KeyId) {
    let reg = Registry::create(
        dir.join(format!("{id}.redb")),
        CreateOptions::new(&format!("{id}.test/log"), Protection::Insecure),
    )
    .unwrap();
    let key = reg
        .generate_key(
            Algorithm::MlDsa65,
            &KeySpec::new(id, RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )
        .unwrap()
        .key_id;
    reg.set_peer_identity(id, &key, &kem(kem_n)).unwrap();
    (reg, key)
}

/// A response to `request` claiming to come from peer `as_id`, signed by a key of the sender's
/// own (seeded by `seed`): what a man in the middle sends.
fn forge_key_response(request: &[u8], as_id: &str, seed: u8) -> Vec<u8> {
    let req = cairn_core::peer::verify_key_request(request, as_id, now(), 300)
        .unwrap()
        .request;
    let m = cairn_core::crypto::SigningKey::from_seed(Algorithm::MlDsa65, &[seed; 32]);
    cairn_core::peer::KeyResponse {
        version: cairn_core::peer::PEER_MESSAGE_VERSION,
        responder_id: as_id.into(),
        requester_id: req.requester_id,
        signing_key: m.public_key().clone(),
        kem_key: kem(4),
        request_nonce: req.nonce,
        timestamp: now(),
        nonce: 1,
    }
    .sign(&m)
    .unwrap()
    .to_compact()
}

/// The fixture's registry made peer "bob", with a trust root (living `lifetime` seconds) that
/// lists its log key and pins peer "carol"; returns Carol's registry and key, bob's key and
/// the stored trust root.
fn bob_pinning_carol(
    fx: &mut Fixture,
    lifetime: u64,
) -> (
    Registry,
    cairn_core::crypto::KeyId,
    cairn_core::crypto::KeyId,
    cairn_store::StoredTrustRoot,
) {
    use cairn_core::trust::Thresholds;
    let bob_key = fx
        .reg()
        .generate_key(
            Algorithm::MlDsa65,
            &KeySpec::new("bob", RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )
        .unwrap()
        .key_id;
    fx.reg()
        .set_peer_identity("bob", &bob_key, &kem(2))
        .unwrap();
    let (carol, carol_key) = peer_registry(&fx.dir, "carol", 3);
    let carol_public = carol.key(&carol_key).unwrap().public_key;
    let carol_pin = fx
        .reg()
        .write(|tx| {
            tx.import_public_key(
                &carol_public,
                &KeySpec::new("carol", RoleSet::of(&[Role::Peer])),
            )
        })
        .unwrap()
        .key_id;
    let root_key = fx
        .reg()
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("root", RoleSet::of(&[Role::Root])),
            &Protection::Insecure,
        )
        .unwrap()
        .key_id;
    let spec = cairn_store::TrustRootSpec {
        keys: vec![root_key, fx.reg().log_key_id().unwrap(), carol_pin],
        thresholds: Thresholds::default()
            .with(Role::Root, 1)
            .with(Role::Checkpoint, 1)
            .with(Role::Peer, 1),
        // From now, once the setup above is done (it may take a while on a loaded machine).
        expires_at: now() + lifetime,
    };
    let root = fx
        .reg()
        .create_trust_root(&spec, &[(root_key, None)])
        .unwrap();
    (carol, carol_key, bob_key, root)
}

/// Seed 004's exchange with `cairn serve` on both sides of it: the service answers a peer's
/// request (with and without its key-transparency proof), and an operator drives the service's
/// own requests, receipts (bootstrap pin from the registry's trust root, nothing vouching),
/// acceptance and removal over HTTP. Replays, a man in the middle, misaddressed messages and
/// missing credentials are refused; every change is a ledger entry the audit accepts.
#[test]
fn peer_key_exchange_over_http() {
    use cairn_core::peer::{ExchangeConfig, VouchPolicy, VouchRule};
    use cairn_core::trust::VerifiedRoot;

    let mut fx = Fixture::new();
    let cfg = ExchangeConfig::default();
    // The service is peer "bob"; its trust root lists its log key and pins peer "carol".
    let (carol, carol_key, bob_key, root) = bob_pinning_carol(&mut fx, 86_400);
    let bob_root = [cairn_core::peer::PeerLog::new(
        "bob",
        VerifiedRoot::from_pinned(&root.envelope).unwrap(),
    )];
    let operator = fx.token(
        ORIGIN,
        &["peer.request", "peer.receive", "peer.accept", "peer.remove"],
        3600,
    );
    let narrow = fx.token(ORIGIN, &["token.issue"], 3600);
    let (alice, alice_key) = peer_registry(&fx.dir, "alice", 1);

    let srv = Running::start(loopback(), fx.reg.take().unwrap());
    let a = agent();
    let base = &srv.url;
    let t = now();
    let mut n = 0;
    let mut op = |path: &str, body: &[u8], tok: &cairn_store::TokenInfo| {
        n += 1;
        write(
            &a,
            base,
            "POST",
            path,
            body,
            Some(&tok.envelope),
            Some(&fx.holder),
            &format!("peer-exchange-nonce-{n:04}"),
            t,
        )
    };
    let post_bytes = |path: &str, body: &[u8]| {
        done(
            a.post(&format!("{base}{path}"))
                .content_type("application/octet-stream")
                .send(body),
        )
    };

    // The identity is published.
    let r = get(&a, &format!("{base}/api/v1/peer"));
    assert_eq!(r.status, 200);
    let me = &r.json()["peer"];
    assert_eq!(me["peer_id"], "bob");
    assert_eq!(me["key_id"], bob_key.to_hex());
    assert_eq!(
        me["kem_key_sha256"],
        cairn_core::encoding::hex_encode(&kem(2).digest())
    );

    // Alice asks; the service answers with its key-transparency proof, which Alice checks
    // against the service's trust root.
    let req = alice.request_peer_keys_again("bob", &cfg, None).unwrap();
    let r = post_bytes("/api/v1/peer/key-request?proof=true", &req);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.headers["content-type"], "application/octet-stream");
    assert!(r.body.starts_with(b"CBDL"));
    let transparency = VouchPolicy {
        transparency: &bob_root,
        require_hybrid_checkpoint: true,
        ..Default::default()
    };
    let got = alice
        .receive_key_response(&r.body, &cfg, &transparency)
        .unwrap();
    let v = got.vouch.unwrap();
    assert_eq!((v.rule, v.key_id), (VouchRule::Transparency, bob_key));
    // The same request again is a replay; a tampered one fails its signature; one addressed
    // to another peer is refused; none of them is answered.
    let r = post_bytes("/api/v1/peer/key-request", &req);
    assert_eq!((r.status, r.code().as_str()), (422, "replayed"));
    let mut tampered = alice.request_peer_keys_again("bob", &cfg, None).unwrap();
    let last = tampered.len() - 40;
    tampered[last] ^= 1;
    let r = post_bytes("/api/v1/peer/key-request", &tampered);
    assert!(r.status >= 400 && r.status < 500, "{}", r.status);
    assert!(
        ["signature_invalid", "malformed"].contains(&r.code().as_str()),
        "{}",
        r.code()
    );
    let to_carol = alice.request_peer_keys_again("carol", &cfg, None).unwrap();
    let r = post_bytes("/api/v1/peer/key-request", &to_carol);
    assert_eq!(r.code(), "domain_mismatch");
    let r = post_bytes("/api/v1/peer/key-request?proof=maybe", &req);
    assert_eq!((r.status, r.code().as_str()), (400, "malformed"));
    let answer = answer_before_body(
        base,
        "POST /api/v1/peer/key-request HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    // Without the proof: a compact response; Alice's pin (from the proof) vouches now.
    let req = alice.request_peer_keys_again("bob", &cfg, None).unwrap();
    let r = post_bytes("/api/v1/peer/key-request", &req);
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with(b"CDSE"));
    let got = alice
        .receive_key_response(&r.body, &cfg, &VouchPolicy::default())
        .unwrap();
    assert_eq!(got.vouch.unwrap().rule, VouchRule::Pinned);

    // The operator's side needs a token with the capability.
    let r = done(
        a.post(&format!("{base}/api/v1/peers/alice/request"))
            .send(&[][..]),
    );
    assert_eq!(r.status, 401);
    let r = op("/api/v1/peers/alice/request", b"{}", &narrow);
    assert_eq!(r.status, 403);

    // The service asks Alice; nothing vouches for her key: stored unverified.
    let r = op("/api/v1/peers/alice/request", b"{}", &operator);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["requested"], true);
    let request = cairn_core::encoding::b64_decode(r.json()["request"].as_str().unwrap()).unwrap();
    let answer = alice
        .respond_to_key_request(&request, &cfg, None, false)
        .unwrap();
    let r = op("/api/v1/peers/responses", &answer, &operator);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["verified"], false);
    assert_eq!(r.json()["peer"]["verified"], Value::Null);
    // The same response again is a replay and changes nothing.
    let r = op("/api/v1/peers/responses", &answer, &operator);
    assert_eq!(r.code(), "replayed");
    let r = get(&a, &format!("{base}/api/v1/peers?verified=true"));
    assert_eq!(r.json()["peers"], serde_json::json!([]));
    // An operator accepts it.
    let body = format!(r#"{{"key_id": "{}"}}"#, alice_key.to_hex());
    let r = op("/api/v1/peers/alice/accept", body.as_bytes(), &operator);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["peer"]["verified"]["rule"], "operator_accepted");
    // Accepting it again writes nothing; a key the peer does not hold, or an unknown peer, is
    // not found.
    let checkpoint = get(&a, &format!("{base}/checkpoint")).body;
    let r = op("/api/v1/peers/alice/accept", body.as_bytes(), &operator);
    assert_eq!((r.status, r.code().as_str()), (422, "replayed"));
    let other = format!(r#"{{"key_id": "{}"}}"#, bob_key.to_hex());
    let r = op("/api/v1/peers/alice/accept", other.as_bytes(), &operator);
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    let r = op("/api/v1/peers/nobody/accept", body.as_bytes(), &operator);
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    assert_eq!(get(&a, &format!("{base}/checkpoint")).body, checkpoint);
    let r = get(&a, &format!("{base}/api/v1/peers?verified=true"));
    assert_eq!(r.json()["peers"][0]["peer_id"], "alice");
    assert_eq!(
        get(&a, &format!("{base}/api/v1/peers/alice")).json()["peer"]["peer_id"],
        "alice"
    );
    // A peer named like the responses route is read there too (none here: not found, not
    // the route's 405).
    let r = get(&a, &format!("{base}/api/v1/peers/responses"));
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));

    // Carol is pinned by the registry's trust root: verified at once. Mallory answering as
    // Carol with his own key is refused by the pin and stores nothing.
    let r = op("/api/v1/peers/carol/request", b"", &operator);
    let request = cairn_core::encoding::b64_decode(r.json()["request"].as_str().unwrap()).unwrap();
    // A man in the middle answers Carol's request with a response claiming Carol's id, signed
    // by his own key.
    let forged = forge_key_response(&request, "carol", 44);
    let r = op("/api/v1/peers/responses", &forged, &operator);
    assert_eq!((r.status, r.code().as_str()), (422, "key_mismatch"));
    let r = get(&a, &format!("{base}/api/v1/peers/carol"));
    assert_eq!(r.status, 404);
    let r = op(
        "/api/v1/peers/carol/request",
        br#"{"again": true}"#,
        &operator,
    );
    let request = cairn_core::encoding::b64_decode(r.json()["request"].as_str().unwrap()).unwrap();
    let answer = carol
        .respond_to_key_request(&request, &cfg, None, false)
        .unwrap();
    let r = op("/api/v1/peers/responses", &answer, &operator);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["vouch"]["rule"], "bootstrap");
    assert_eq!(r.json()["vouch"]["key_id"], carol_key.to_hex());

    // Requests to one peer are capped while pending (4 by default): the next is too early,
    // 429 with the pending lifetime as its Retry-After.
    for _ in 0..4 {
        assert_eq!(op("/api/v1/peers/dave/request", b"", &operator).status, 200);
    }
    let r = op("/api/v1/peers/dave/request", b"", &operator);
    assert_eq!((r.status, r.code().as_str()), (429, "too_large"));
    assert_eq!(r.headers["retry-after"], "30");

    // Removal.
    let r = op(
        "/api/v1/peers/alice/remove",
        br#"{"reason": "left"}"#,
        &operator,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(get(&a, &format!("{base}/api/v1/peers/alice")).status, 404);
    let r = op(
        "/api/v1/peers/alice/remove",
        br#"{"reason": ""}"#,
        &operator,
    );
    assert_eq!(r.code(), "malformed");

    drop(srv);
    let reg = Registry::open(fx.dir.join("r.redb"), None).unwrap();
    reg.audit().unwrap();
    let kinds: Vec<String> = reg
        .entries(0, u64::MAX)
        .unwrap()
        .iter()
        .map(|e| format!("{:?}", e.entry.event))
        .filter(|k| k.starts_with("Peer"))
        .collect();
    assert!(
        kinds.iter().any(|k| k.starts_with("PeerKeyVerified")),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k.starts_with("PeerKeyRemoved")),
        "{kinds:?}"
    );
}

/// The registry's own trust root, once expired, pins nothing for the key responses the service
/// receives (and the answer says so in `warnings`) rather than refusing every one as expired,
/// and it turns first use off, even where `[peer]` enables it: a man in the middle answering
/// for the peer it pinned is stored unverified, never verified; the peer's own answer is then
/// a changed key for an operator, with the same warning in the error's details.
#[test]
fn an_expired_own_root_pins_nothing_over_http() {
    let mut fx = Fixture::new();
    // The root that pins Carol lives two seconds.
    let (carol, _, _, _) = bob_pinning_carol(&mut fx, 2);
    let operator = fx.token(ORIGIN, &["peer.request", "peer.receive"], 3600);
    let mut config = loopback();
    config.peer.trust_on_first_use = true;
    let srv = Running::start(config, fx.reg.take().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(3100));
    let a = agent();
    let base = &srv.url;
    let t = now();
    let mut n = 0;
    let mut op = |path: &str, body: &[u8]| {
        n += 1;
        write(
            &a,
            base,
            "POST",
            path,
            body,
            Some(&operator.envelope),
            Some(&fx.holder),
            &format!("expired-root-nonce-{n:04}"),
            t,
        )
    };
    let mut request = || {
        let r = op("/api/v1/peers/carol/request", br#"{"again": true}"#);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        cairn_core::encoding::b64_decode(r.json()["request"].as_str().unwrap()).unwrap()
    };
    let (first, second) = (request(), request());

    // Mallory answers as Carol: not refused as expired, not taken on first use either.
    let r = op(
        "/api/v1/peers/responses",
        &forge_key_response(&first, "carol", 45),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["verified"], false);
    let warnings = r.json()["warnings"].clone();
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("trust root has expired"),
        "{warnings}"
    );
    // Carol's own answer is a changed key against Mallory's unverified one: for an operator.
    let answer = carol
        .respond_to_key_request(
            &second,
            &cairn_core::peer::ExchangeConfig::default(),
            None,
            false,
        )
        .unwrap();
    let r = op("/api/v1/peers/responses", &answer);
    assert_eq!((r.status, r.code().as_str()), (409, "key_changed"));
    assert_eq!(r.json()["error"]["details"]["warnings"], warnings);
    assert_eq!(
        get(&a, &format!("{base}/api/v1/peers/carol")).json()["peer"]["verified"],
        Value::Null
    );
}

/// `[witnessing]`: the service asks its witnesses to cosign each new checkpoint of the whole
/// log, stores what verifies, and serves it with the checkpoint; a witness that is down holds
/// nothing up, and the log growing gets the new size cosigned at the next round.
#[test]
fn configured_witnesses_cosign_the_registrys_checkpoints() {
    use cairn_core::note::{Note, NoteVerifier};
    use cairn_core::witness::{verify_cosignatures, Witness, WitnessPolicy};
    use cairn_service::config::{WitnessPeer, Witnessing};
    use cairn_service::witness::http::WitnessServer;
    use cairn_service::witness::{Witness as WitnessService, WitnessConfig, WitnessKeys};

    let mut fx = Fixture::new();
    let writer = fx.token(ORIGIN, &["node.register"], 3600);
    let log = fx.reg().key(&fx.reg().log_key_id().unwrap()).unwrap();
    let log_vkeys: Vec<String> = NoteVerifier::for_key(ORIGIN, &log.public_key)
        .unwrap()
        .iter()
        .map(|v| format!("\"{}\"", v.verifier_key()))
        .collect();
    let wrt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut witnesses = Vec::new();
    let mut peers = Vec::new();
    let mut policy = Vec::new();
    for i in 0..2u8 {
        let name = format!("witness.example/w{i}");
        let mut cfg = WitnessConfig::from_toml(&format!(
            "name = \"{name}\"\naddress = \"127.0.0.1:0\"\n[[logs]]\norigin = \"{ORIGIN}\"\nkeys = [{}]\n",
            log_vkeys.join(", ")
        ))
        .unwrap();
        cfg.state_path = fx.dir.join(format!("w{i}.redb"));
        let keys = WitnessKeys {
            ed25519: SigningKey::from_seed(Algorithm::Ed25519, &[40 + i; 32]),
            mldsa44: SigningKey::from_seed(Algorithm::MlDsa44, &[40 + i; 32]),
        };
        let w = WitnessService::open(&cfg, keys).unwrap();
        let vkeys: Vec<String> = w.cosigner_keys().iter().map(|k| k.vkey()).collect();
        policy.push(Witness {
            name: name.clone(),
            key: w.cosigner_keys()[0].clone(),
        });
        let server = wrt.block_on(WitnessServer::start(&cfg, w)).unwrap();
        peers.push(WitnessPeer {
            url: server.url(),
            keys: vkeys,
        });
        witnesses.push(server);
    }
    // A third witness that is down: asked every round, never holds the others up.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down_url = format!("http://{}", down.local_addr().unwrap());
    drop(down);
    peers.push(WitnessPeer {
        url: down_url,
        keys: peers[0].keys.clone(),
    });
    let mut config = loopback();
    config.witnessing = Witnessing {
        witnesses: peers,
        interval_seconds: 1,
        timeout_seconds: 2,
    };
    let srv = Running::start(config, fx.reg.take().unwrap());
    let a = agent();
    let base = srv.url.clone();
    let policy = WitnessPolicy::new(policy, 2);
    // Waits until the served checkpoint is of at least `size` and cosigned by both witnesses.
    let cosigned = |size: u64| -> (u64, String) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let note = String::from_utf8(get(&a, &format!("{base}/checkpoint")).body).unwrap();
            let parsed = Note::parse(note.as_bytes()).unwrap();
            let cp = cairn_core::checkpoint::Checkpoint::parse_text(parsed.text()).unwrap();
            if cp.size >= size {
                if let Ok(v) = verify_cosignatures(&parsed, &policy, now()) {
                    if v.check().is_ok() {
                        return (cp.size, note);
                    }
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no 2-of-2 cosigned checkpoint of size {size}: {note}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let size = get(&a, &format!("{base}/health")).json()["entries"]
        .as_u64()
        .unwrap();
    let (first, _) = cosigned(size);
    assert_eq!(first, size);

    // The log grows; the next round signs a checkpoint of it and has it cosigned.
    let r = write(
        &a,
        &base,
        "POST",
        "/api/v1/registry/register",
        spec("witnessed-1").as_bytes(),
        Some(&writer.envelope),
        Some(&fx.holder),
        "witnessing-nonce-0001",
        now(),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let (second, note) = cosigned(first + 1);
    assert!(second > first);
    // Both witnesses' lines travel with the note (each cosigns with its two keys).
    let lines = note
        .lines()
        .filter(|l| l.starts_with("— witness.example/"))
        .count();
    assert_eq!(lines, 4, "{note}");
    drop(srv);
    drop(witnesses);
}
