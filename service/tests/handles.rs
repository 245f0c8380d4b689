//! The handle registry over loopback HTTP: register / resolve / conflict / check_user,
//! envelope key rotation, wrong and tampered envelopes, proof of work (required, wrong, forged,
//! expired, replayed), per-endpoint rate limits, presence expiry and collection under a
//! controllable clock, known nodes, sync with and without the capability, re-registration and
//! removal by an operator's token, the X-Wing suite and envelope keys sealed in the registry,
//! a restart, the raw bytes of the registry file, and the timing of existing against missing
//! handles.

mod support;

use support::{done, Resp};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::encoding::{b64_decode, b64_encode, hex_encode, Digest};
use cairn_core::handle::{
    blind_index, normalise, open, seal, solve, Challenge, EnvelopePublicKey, EnvelopeSecretKey,
    Pepper, Solution, Suite,
};
use cairn_core::ledger::Event;
use cairn_core::trust::{Role, RoleSet};
use cairn_service::auth::{authorization_value, sign_request};
use cairn_service::config::{Config, EnvelopeConfig, EnvelopeKeyConfig};
use cairn_service::Server;
use cairn_store::{CreateOptions, KeySpec, Protection, Registry, TokenRequest};
use serde_json::{json, Value};

const ORIGIN: &str = "handles.test/log";
// Seed 003's example secrets.
const PEPPER: &str = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f";
const KID1: &str = "0001020304050607";
const KEY1: &str = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f";
const KID2: &str = "1011121314151617";
const KEY2: &str = "303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f";
const T0: u64 = 1_800_000_000;

fn key_cfg(kid: &str, key: &str, active: bool) -> EnvelopeKeyConfig {
    EnvelopeKeyConfig {
        kid_hex: Some(kid.into()),
        x25519_private_key_hex: Some(key.into()),
        xwing_private_key_hex: None,
        sealed_kid_hex: None,
        active,
    }
}

fn config(keys: Vec<EnvelopeKeyConfig>) -> Config {
    let mut c = Config {
        address: "127.0.0.1:0".parse().unwrap(),
        envelope: Some(EnvelopeConfig {
            pepper_hex: PEPPER.into(),
            keys,
        }),
        ..Config::default()
    };
    c.rate_limit.enabled = false;
    c
}

fn one_key() -> Config {
    config(vec![key_cfg(KID1, KEY1, true)])
}

/// A registry file, its controllable clock, and the server on it.
struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    clock: Arc<AtomicU64>,
    holder: SigningKey,
    issuer: cairn_core::crypto::KeyId,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.redb");
        let reg =
            Registry::create(&path, CreateOptions::new(ORIGIN, Protection::Insecure)).unwrap();
        let issuer = reg
            .generate_key(
                Algorithm::Ed25519,
                &KeySpec::new("issuer", RoleSet::of(&[Role::TokenIssuer])),
                &Protection::Insecure,
            )
            .unwrap()
            .key_id;
        Fixture {
            _dir: dir,
            path,
            clock: Arc::new(AtomicU64::new(T0)),
            holder: SigningKey::generate(Algorithm::Ed25519),
            issuer,
        }
    }

    fn open(&self) -> Registry {
        let mut reg = Registry::open(&self.path, None).unwrap();
        let c = self.clock.clone();
        reg.set_clock(Arc::new(move || c.load(Ordering::SeqCst)));
        reg
    }

    fn start(&self, config: Config) -> Running {
        Running::start(config, self.open())
    }

    /// A token for the holder key granting `caps`, issued by the registry (before it serves).
    fn token(&self, caps: &[&str]) -> cairn_core::dsse::Envelope {
        self.open()
            .issue_token(
                &self.issuer,
                None,
                &TokenRequest::new(self.holder.public_key().clone(), ORIGIN, caps, 3600),
            )
            .unwrap()
            .envelope
    }

    fn advance(&self, secs: u64) {
        self.clock.fetch_add(secs, Ordering::SeqCst);
    }
}

struct Running {
    rt: tokio::runtime::Runtime,
    server: Option<Server>,
    url: String,
    agent: ureq::Agent,
}

impl Running {
    fn start(config: Config, reg: Registry) -> Running {
        Running::try_start(config, reg, None).expect("server starts")
    }

    fn try_start(
        config: Config,
        reg: Registry,
        pass: Option<cairn_store::Passphrase>,
    ) -> Result<Running, cairn_service::ServiceError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(Server::start_with_keys(config, reg, pass))?;
        let url = server.url();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        Ok(Running {
            rt,
            server: Some(server),
            url,
            agent,
        })
    }

    fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt
                .block_on(s.shutdown(Duration::from_secs(5)))
                .unwrap();
        }
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = self.agent.get(format!("{}{path}", self.url));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        done(req.call())
    }

    fn post(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Resp {
        self.post_bytes(path, body.to_string().as_bytes(), headers)
    }

    fn post_bytes(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Resp {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.url))
            .content_type("application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        done(req.send(body))
    }

    fn pubkey(&self) -> EnvelopePublicKey {
        let r = self.get("/envelope_pubkey", &[]);
        assert_eq!(r.status, 200);
        let j = r.json();
        let bytes = cairn_core::encoding::hex_decode_array::<32>(
            j["x25519_public_key_hex"].as_str().unwrap(),
        )
        .unwrap();
        let kid = cairn_core::handle::Kid::from_hex(j["kid_hex"].as_str().unwrap()).unwrap();
        EnvelopePublicKey::from_bytes(Suite::X25519ChaCha20Poly1305, Some(kid), &bytes).unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn identity(handle: &str, device: &str) -> Vec<u8> {
    json!({"handle": handle, "device_pubkey": device})
        .to_string()
        .into_bytes()
}

fn envelope_for(key: &EnvelopePublicKey, handle: &str, identity: &[u8], n: u8) -> String {
    let aad = normalise(handle).unwrap();
    b64_encode(&seal(key, b"register", aad.as_bytes(), identity, &[n; 32]).unwrap())
}

fn register_body(key: &EnvelopePublicKey, handle: &str, device: &str) -> Value {
    json!({"handle": handle, "envelope": envelope_for(key, handle, &identity(handle, device), 7)})
}

fn requester(n: u8) -> EnvelopeSecretKey {
    EnvelopeSecretKey::derive(Suite::X25519ChaCha20Poly1305, None, &[n; 32]).unwrap()
}

/// Resolves `handle` and opens the answer; returns the plaintext JSON and the envelope size.
fn resolve(s: &Running, handle: &str, headers: &[(&str, &str)]) -> (Value, usize) {
    let (plain, len) = resolve_raw(s, handle, headers);
    (serde_json::from_slice(&plain).unwrap(), len)
}

/// [`resolve`], the plaintext as sealed.
fn resolve_raw(s: &Running, handle: &str, headers: &[(&str, &str)]) -> (Vec<u8>, usize) {
    let me = requester(0x42);
    let r = s.post(
        "/resolve",
        &json!({"handle": handle,
                "requester_ephemeral_pubkey_hex": hex_encode(me.public_key().as_bytes())}),
        headers,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let j = r.json();
    let keys: Vec<&String> = j.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["envelope", "handle"]);
    let env = b64_decode(j["envelope"].as_str().unwrap()).unwrap();
    let h = normalise(handle).unwrap();
    assert_eq!(j["handle"], h.as_str());
    let plain = open(&me, b"resolve", h.as_bytes(), &env).unwrap();
    (plain, env.len())
}

fn index(handle: &str) -> Digest {
    blind_index(
        &Pepper::from_hex(PEPPER).unwrap(),
        &normalise(handle).unwrap(),
    )
    .0
}

fn handle_events(reg: &Registry) -> Vec<Event> {
    reg.entries(0, u64::MAX)
        .unwrap()
        .into_iter()
        .map(|e| e.entry.event)
        .filter(|e| e.kind().starts_with("handle_"))
        .collect()
}

#[test]
fn register_resolve_conflict_check_user_restart_and_raw_bytes() {
    let f = Fixture::new();
    let mut s = f.start(one_key());
    let key = s.pubkey();
    assert_eq!(key.kid().to_hex(), KID1);

    let r = s.post(
        "/register",
        &register_body(&key, "Alice", "dev-AAAA-1111"),
        &[],
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["ok"], true);
    assert_eq!(r.json()["status"], "registered");
    // The same identity again: nothing new. Another identity: 409.
    let r = s.post(
        "/register",
        &register_body(&key, "Alice", "dev-AAAA-1111"),
        &[],
    );
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, json!("unchanged"))
    );
    let r = s.post(
        "/register",
        &register_body(&key, "ALICE", "dev-BBBB-2222"),
        &[],
    );
    assert_eq!((r.status, r.code()), (409, "already_exists".into()));
    // check_user: same shape both ways; a handle the rule refuses is malformed.
    let r = s.get("/check_user/alice", &[]);
    assert_eq!((r.status, r.json()), (200, json!({"exists": true})));
    let r = s.get("/check_user/bob", &[]);
    assert_eq!((r.status, r.json()), (200, json!({"exists": false})));
    let r = s.get("/check_user/a%20b", &[]);
    assert_eq!((r.status, r.code()), (400, "malformed".into()));
    assert_eq!(r.json()["error"]["details"]["field"], "handle");

    // resolve: the identity re-sealed to the requester; a missing handle answers the same
    // shape and size.
    let (found, len_found) = resolve(&s, "alice", &[]);
    assert_eq!(found["found"], true);
    assert_eq!(
        found["identity"],
        json!({"handle": "Alice", "device_pubkey": "dev-AAAA-1111"})
    );
    let (missing, len_missing) = resolve(&s, "bob", &[]);
    assert_eq!(missing["found"], false);
    assert_eq!(len_found, len_missing);
    // A requester key that is not a key, or a small-order point (the all-zero one: its
    // exchange gives the all-zero secret): 422 naming the field, for a handle held or not.
    for (handle, key) in [
        ("alice", "00".to_owned()),
        ("alice", "00".repeat(32)),
        ("bob", "00".repeat(32)),
    ] {
        let r = s.post(
            "/resolve",
            &json!({"handle": handle, "requester_ephemeral_pubkey_hex": key}),
            &[],
        );
        assert_eq!((r.status, r.code()), (422, "invalid_key".into()), "{key}");
        assert_eq!(
            r.json()["error"]["details"]["field"],
            "requester_ephemeral_pubkey_hex",
            "{key}"
        );
    }

    // Wrong and tampered envelopes, each with its code; nothing is stored.
    let good = envelope_for(&key, "carol", &identity("carol", "c"), 9);
    let mut bytes = b64_decode(&good).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let cases = [
        (
            json!({"handle": "carol", "envelope": b64_encode(&bytes)}),
            422,
            "signature_invalid",
        ),
        // Sealed for another handle (the aad binds the normalised handle).
        (
            json!({"handle": "carol", "envelope": envelope_for(&key, "dave", &identity("carol", "c"), 9)}),
            422,
            "signature_invalid",
        ),
        // Sealed to a key this registry does not hold.
        (
            json!({"handle": "carol", "envelope": envelope_for(&requester(1).public_key(), "carol", &identity("carol", "c"), 9)}),
            422,
            "unknown_key",
        ),
        // The identity inside names another handle.
        (
            json!({"handle": "carol", "envelope": envelope_for(&key, "carol", &identity("dave", "c"), 9)}),
            400,
            "malformed",
        ),
        (
            json!({"handle": "carol", "envelope": envelope_for(&key, "carol", b"[1,2]", 9)}),
            400,
            "malformed",
        ),
        (
            json!({"handle": "carol", "envelope": "%%%"}),
            400,
            "malformed",
        ),
        (json!({"handle": "carol", "envelope": ""}), 400, "malformed"),
        (json!({"handle": "carol"}), 400, "malformed"),
        (json!({"handle": "c", "envelope": good}), 400, "malformed"),
    ];
    for (body, status, code) in cases {
        let r = s.post("/register", &body, &[]);
        assert_eq!((r.status, r.code()), (status, code.to_owned()), "{body}");
    }
    let r = s.post_bytes("/register", b"{not json", &[]);
    assert_eq!((r.status, r.code()), (400, "malformed".into()));
    assert_eq!(s.get("/check_user/carol", &[]).json()["exists"], false);

    // The ledger holds the blind index and the digest of the sealed record only.
    let reg = &s.server().state().reg;
    let rec = reg.handle(&index("alice")).unwrap().unwrap();
    assert_eq!(
        handle_events(reg),
        vec![Event::HandleRegistered {
            blind_index: index("alice"),
            identity_digest: cairn_store::identity_digest(&rec.sealed_identity),
            previous: None,
        }]
    );
    reg.audit().unwrap();
    s.stop();

    // The raw file: neither the handle nor the identity in the clear.
    let raw = std::fs::read(&f.path).unwrap();
    let contains = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    for needle in [
        b"alice".as_slice(),
        b"Alice",
        b"dev-AAAA-1111",
        b"device_pubkey",
    ] {
        assert!(
            !contains(needle),
            "{:?} is in the file",
            String::from_utf8_lossy(needle)
        );
    }
    assert!(
        contains(&index("alice")),
        "the blind index is the table key"
    );

    // A restart keeps the registration and the keys.
    let s = f.start(one_key());
    assert_eq!(s.pubkey().kid().to_hex(), KID1);
    assert_eq!(s.get("/check_user/alice", &[]).json()["exists"], true);
    let (found, _) = resolve(&s, "alice", &[]);
    assert_eq!(found["identity"]["device_pubkey"], "dev-AAAA-1111");
}

/// The same registration several times at once (a retry racing its original): one registers,
/// the others find the same identity (`unchanged`, never a 409).
#[test]
fn identical_registrations_at_once_all_succeed() {
    let f = Fixture::new();
    let s = f.start(one_key());
    let key = s.pubkey();
    let dave = register_body(&key, "Dave", "dev-DDDD-4444");
    let said: Vec<String> = std::thread::scope(|scope| {
        let sent: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let r = s.post("/register", &dave, &[]);
                    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                    r.json()["status"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        sent.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        said.iter().filter(|s| *s == "registered").count(),
        1,
        "{said:?}"
    );
    assert!(said.iter().all(|s| s == "registered" || s == "unchanged"));
}

#[test]
fn envelope_key_rotation_keeps_old_envelopes_opening() {
    let f = Fixture::new();
    let mut s = f.start(one_key());
    let old = s.pubkey();
    assert_eq!(
        s.post("/register", &register_body(&old, "alice", "a1"), &[])
            .status,
        200
    );
    s.stop();

    // Rotate: key 2 active, key 1 retired.
    let s = f.start(config(vec![
        key_cfg(KID1, KEY1, false),
        key_cfg(KID2, KEY2, true),
    ]));
    let new = s.pubkey();
    assert_eq!(new.kid().to_hex(), KID2);
    let all = s.get("/envelope_pubkeys", &[]).json();
    assert_eq!(all["active_kid_hex"], KID2);
    let kids: Vec<(String, bool)> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid_hex"].as_str().unwrap().to_owned(),
                k["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(kids.contains(&(KID1.into(), false)) && kids.contains(&(KID2.into(), true)));

    // The identity sealed at rest to the retired key still resolves.
    assert_eq!(
        resolve(&s, "alice", &[]).0["identity"]["device_pubkey"],
        "a1"
    );
    // A client still holding the old key can register; new records use the active key.
    assert_eq!(
        s.post("/register", &register_body(&old, "bob", "b1"), &[])
            .status,
        200
    );
    assert_eq!(
        s.post("/register", &register_body(&new, "carol", "c1"), &[])
            .status,
        200
    );
    let reg = &s.server().state().reg;
    let kid_of =
        |h: &str| hex_encode(&reg.handle(&index(h)).unwrap().unwrap().sealed_identity[3..11]);
    assert_eq!(kid_of("alice"), KID1);
    assert_eq!(kid_of("bob"), KID2);
    assert_eq!(kid_of("carol"), KID2);
    assert_eq!(resolve(&s, "bob", &[]).0["identity"]["device_pubkey"], "b1");
}

/// A start that fails (its address taken) leaves nothing running that holds the registry:
/// the caller, its runtime still alive, opens the file again at once.
#[test]
fn a_failed_start_leaves_the_registry_free() {
    let f = Fixture::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = one_key();
    c.address = taken.local_addr().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let e = rt
        .block_on(Server::start(c, f.open()))
        .map(|_| ())
        .unwrap_err();
    assert!(
        e.message.contains(&taken.local_addr().unwrap().to_string()),
        "{e:?}"
    );
    // The runtime lives on, as an embedding program's would.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
    Registry::open(&f.path, None).expect("the registry is not held by the failed start");
    drop(rt);
}

#[test]
fn configuration_errors_name_their_key() {
    let bad = |keys: Vec<EnvelopeKeyConfig>, pepper: &str| {
        let mut c = config(keys);
        c.envelope.as_mut().unwrap().pepper_hex = pepper.into();
        let text = format!(
            "[envelope]\npepper_hex = \"{pepper}\"\nkeys = [{}]\n",
            c.envelope
                .unwrap()
                .keys
                .iter()
                .map(|k| format!(
                    "{{ kid_hex = \"{}\", x25519_private_key_hex = \"{}\", active = {} }}",
                    k.kid_hex.as_deref().unwrap(),
                    k.x25519_private_key_hex.as_deref().unwrap(),
                    k.active
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Config::from_toml(&text).map(|_| ()).map_err(|e| e.message)
    };
    assert!(bad(vec![key_cfg(KID1, KEY1, true)], PEPPER).is_ok());
    assert!(bad(vec![key_cfg(KID1, KEY1, false)], PEPPER)
        .unwrap_err()
        .contains("active"));
    assert!(bad(
        vec![key_cfg(KID1, KEY1, true), key_cfg(KID2, KEY2, true)],
        PEPPER
    )
    .unwrap_err()
    .contains("two active keys of suite x25519"));
    assert!(bad(vec![key_cfg(KID1, KEY1, true)], "0011")
        .unwrap_err()
        .contains("pepper_hex"));
    assert!(bad(vec![key_cfg(KID1, "zz", true)], PEPPER)
        .unwrap_err()
        .contains("x25519_private_key_hex"));
    // Seed 003's names parse as written there.
    let seed = format!(
        "address = \"127.0.0.1:0\"\nallow_sync = true\n[rate_limit]\nenabled = true\nper_ip_rps = 5\nburst = 10\nban_seconds = 300\n[rate_limit.endpoints]\nregister_rps = 1\nresolve_rps = 3\ncheck_user_rps = 10\n[envelope]\npepper_hex = \"{PEPPER}\"\nkeys = [{{ kid_hex = \"{KID1}\", x25519_private_key_hex = \"{KEY1}\", active = true }}]\n[presence]\nttl_seconds = 300\ngc_interval_seconds = 60\n[pow]\nenabled = false\ndifficulty = 18\nttl_seconds = 120\n"
    );
    let c = Config::from_toml(&seed).unwrap();
    assert!(c.allow_sync);
    assert_eq!(c.rate_limit.endpoints.check_user_rps, Some(10));
    // Handle endpoints without [envelope]: not found.
    let f = Fixture::new();
    let mut plain = config(vec![]);
    plain.envelope = None;
    let s = f.start(plain);
    assert_eq!(s.get("/envelope_pubkey", &[]).status, 404);
    assert_eq!(s.get("/check_user/alice", &[]).code(), "not_found");
}

fn solve_challenge(s: &Running) -> (Challenge, String) {
    let r = s.get("/pow/challenge", &[]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let c = Challenge::decode(r.json()["challenge"].as_str().unwrap()).unwrap();
    let counter = solve(&c, 1 << 24).unwrap();
    (
        c,
        Solution {
            challenge: c,
            counter,
        }
        .encode(),
    )
}

#[test]
fn proof_of_work_required_wrong_forged_expired_and_replayed() {
    let f = Fixture::new();
    let mut cfg = one_key();
    cfg.pow.enabled = true;
    cfg.pow.difficulty = 10;
    cfg.pow.ttl_seconds = 60;
    cfg.pow.secret_hex = Some("07".repeat(32));
    let s = f.start(cfg);
    let key = s.pubkey();
    assert_eq!(
        s.post("/register", &register_body(&key, "alice", "a1"), &[])
            .status,
        200
    );

    // Required on check_user and resolve.
    let r = s.get("/check_user/alice", &[]);
    assert_eq!((r.status, r.code()), (403, "pow_required".into()));
    let me = requester(3);
    let body = json!({"handle": "alice",
                      "requester_ephemeral_pubkey_hex": hex_encode(me.public_key().as_bytes())});
    assert_eq!(s.post("/resolve", &body, &[]).code(), "pow_required");

    // Solved: accepted once.
    let (c, sol) = solve_challenge(&s);
    assert_eq!(c.difficulty(), 10);
    let r = s.get("/check_user/alice", &[("x-pow-solution", &sol)]);
    assert_eq!((r.status, r.json()), (200, json!({"exists": true})));
    let r = s.get("/check_user/alice", &[("x-pow-solution", &sol)]);
    assert_eq!((r.status, r.code()), (403, "replayed".into()));
    // A request refused for its own form does not use up its solution.
    let (_, sol) = solve_challenge(&s);
    let bad = json!({"handle": "alice", "requester_ephemeral_pubkey_hex": "zz"});
    let r = s.post("/resolve", &bad, &[("x-pow-solution", &sol)]);
    assert_eq!((r.status, r.code()), (422, "invalid_key".into()));
    // A key of small order, which nothing can be sealed to, is refused for its form too.
    let small = json!({"handle": "alice", "requester_ephemeral_pubkey_hex": "00".repeat(32)});
    let r = s.post("/resolve", &small, &[("x-pow-solution", &sol)]);
    assert_eq!((r.status, r.code()), (422, "invalid_key".into()));
    let r = s.get("/check_user/a%20b", &[("x-pow-solution", &sol)]);
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        resolve(&s, "alice", &[("x-pow-solution", &sol)]).0["found"],
        true
    );

    // Too little work: the first counter that fails.
    let (c, _) = solve_challenge(&s);
    let wrong = (0..)
        .find(|n| {
            cairn_core::handle::leading_zero_bits(&cairn_core::handle::work_hash(&c, *n)) < 10
        })
        .unwrap();
    let text = Solution {
        challenge: c,
        counter: wrong,
    }
    .encode();
    let r = s.get("/check_user/alice", &[("x-pow-solution", &text)]);
    assert_eq!((r.status, r.code()), (403, "proof_invalid".into()));
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("proof of work: the work hash has") && message.ends_with("asks for 10"),
        "{message}"
    );

    // Forged: a challenge this server did not issue (another secret).
    let other = cairn_core::handle::PowSecret::from_bytes(&[9; 32]).unwrap();
    let forged = Challenge::issue(&other, [1; 16], 0, T0 + 100).unwrap();
    let text = Solution {
        challenge: forged,
        counter: 0,
    }
    .encode();
    let r = s.get("/check_user/alice", &[("x-pow-solution", &text)]);
    assert_eq!((r.status, r.code()), (403, "signature_invalid".into()));
    let r = s.get("/check_user/alice", &[("x-pow-solution", "garbage")]);
    assert_eq!((r.status, r.code()), (403, "malformed".into()));
    // Two solutions: which one counts is not guessed.
    let r = s.get(
        "/check_user/alice",
        &[("x-pow-solution", "garbage"), ("x-pow-solution", "garbage")],
    );
    assert_eq!((r.status, r.code()), (403, "malformed".into()));
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("more than once"));

    // Too little asked: a challenge under this service's secret at a lower difficulty than
    // it now asks (as one issued before `[pow] difficulty` was raised, `secret_hex` fixed).
    let secret = cairn_core::handle::PowSecret::from_bytes(&[7; 32]).unwrap();
    let easy = Challenge::issue(&secret, [2; 16], 3, T0 + 50).unwrap();
    let counter = cairn_core::handle::solve(&easy, 1 << 20).unwrap();
    let text = Solution {
        challenge: easy,
        counter,
    }
    .encode();
    let r = s.get("/check_user/alice", &[("x-pow-solution", &text)]);
    assert_eq!((r.status, r.code()), (403, "proof_invalid".into()));
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("asks for 3") && message.contains("10 are asked for now"),
        "{message}"
    );

    // Expired: solved, then the clock passes its expiry.
    let (c, sol) = solve_challenge(&s);
    assert_eq!(c.expires(), T0 + 60);
    f.advance(61);
    let r = s.get("/check_user/alice", &[("x-pow-solution", &sol)]);
    assert_eq!((r.status, r.code()), (403, "expired".into()));
}

#[test]
fn rate_limits_per_endpoint() {
    let f = Fixture::new();
    let mut cfg = one_key();
    cfg.rate_limit.enabled = true;
    cfg.rate_limit.ban_after = 0;
    cfg.rate_limit.endpoints.register_rps = Some(1);
    cfg.rate_limit.endpoints.resolve_rps = Some(1);
    cfg.rate_limit.endpoints.check_user_rps = Some(2);
    let s = f.start(cfg);
    let key = s.pubkey();
    let count_limited = |f: &dyn Fn() -> Resp, n: usize| {
        (0..n)
            .map(|_| f())
            .filter(|r| {
                if r.status == 429 {
                    assert_eq!(r.code(), "rate_limited");
                    true
                } else {
                    false
                }
            })
            .count()
    };
    // check_user: 2 per second → of 6 quick calls at least 3 refused.
    let limited = count_limited(&|| s.get("/check_user/alice", &[]), 6);
    assert!(limited >= 3, "{limited}");
    // Each endpoint has its own limit: resolve and register still answer once.
    let me = hex_encode(requester(1).public_key().as_bytes());
    let body = json!({"handle": "alice", "requester_ephemeral_pubkey_hex": me});
    assert_eq!(s.post("/resolve", &body, &[]).status, 200);
    assert_eq!(s.post("/resolve", &body, &[]).status, 429);
    // The first registration passes the limiter and is refused for its body (no commit: a
    // disk sync could outlast the second's wait for its token); the next one is limited.
    let r = s.post("/register", &json!({}), &[]);
    assert_eq!((r.status, r.code()), (400, "malformed".into()));
    assert_eq!(
        s.post("/register", &register_body(&key, "bob", "b"), &[])
            .status,
        429
    );
    // Reads outside these classes are not held back by them.
    assert_eq!(s.get("/envelope_pubkey", &[]).status, 200);
}

#[test]
fn presence_expires_and_is_collected() {
    let f = Fixture::new();
    let mut cfg = one_key();
    cfg.presence.ttl_seconds = 30;
    cfg.presence.gc_interval_seconds = 1;
    let s = f.start(cfg);
    let key = s.pubkey();
    assert_eq!(
        s.post("/register", &register_body(&key, "alice", "a"), &[])
            .status,
        200
    );
    let announce = |handle: &str, device: &str| {
        s.post(
            "/announce",
            &json!({"handle": handle, "device_id": device, "endpoint": "tcp://10.0.0.1:7000"}),
            &[],
        )
    };
    let r = announce("alice", "laptop");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"ok": true, "ttl_seconds": 30, "expires_at": T0 + 30})
    );
    // An unregistered handle gets the same answer, and takes its place in the table alike
    // (shown to nobody: only a registered handle's answer lists devices).
    let r = announce("nobody", "phone");
    assert_eq!(
        r.json(),
        json!({"ok": true, "ttl_seconds": 30, "expires_at": T0 + 30})
    );
    let h = s.server().state().handles.clone().unwrap();
    assert_eq!(h.presence_len(), 2);
    // The collector's work is seen within a few of its intervals.
    let settles_to = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while h.presence_len() != n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        h.presence_len()
    };
    let (plain, _) = resolve(&s, "alice", &[]);
    assert_eq!(plain["devices"][0]["device_id"], "laptop");
    assert_eq!(plain["devices"][0]["endpoint"], "tcp://10.0.0.1:7000");
    // Bad input.
    let r = s.post(
        "/announce",
        &json!({"handle": "alice", "device_id": ""}),
        &[],
    );
    assert_eq!((r.status, r.code()), (400, "malformed".into()));
    let r = s.post(
        "/announce",
        &json!({"handle": "alice", "device_id": "x y"}),
        &[],
    );
    assert_eq!(r.status, 400);

    // A heartbeat renews; after the TTL the device is gone from answers at once, and the
    // collector removes the entry within its interval.
    f.advance(20);
    assert_eq!(announce("alice", "laptop").json()["expires_at"], T0 + 50);
    f.advance(20);
    assert_eq!(
        resolve(&s, "alice", &[]).0["devices"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        settles_to(1),
        1,
        "the free handle's expired device collected"
    );
    f.advance(11);
    assert!(resolve(&s, "alice", &[]).0["devices"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(settles_to(0), 0, "the collector removed the expired entry");

    // At most 16 devices per handle: a 17th evicts the one expiring first.
    for i in 0..17 {
        f.advance(1);
        assert_eq!(announce("alice", &format!("dev{i:02}")).status, 200);
    }
    assert_eq!(h.presence_len(), 16);
    let devices = resolve(&s, "alice", &[]).0["devices"].clone();
    let ids: Vec<&str> = devices
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 16);
    assert!(!ids.contains(&"dev00") && ids.contains(&"dev16"), "{ids:?}");
}

/// A free handle's announcement takes a place in the presence table as a registered one's does
/// (else an outsider could fill the table to one short and learn from the next `503` whether
/// the handle before was registered), and a full table refuses a new device of either alike,
/// while a present device still renews. A registration starts with no devices shown, whatever
/// was announced while its handle was free, and a re-registration hides the devices announced
/// under the replaced identity; hidden, not dropped, so that how full the table is never
/// changes with a registration (else an outsider keeping it full would learn from a
/// re-announcement refused which watched handle was just registered).
#[test]
fn a_full_presence_table_answers_alike_and_reregistration_hides_devices() {
    let f = Fixture::new();
    let admin = f.token(&["handle.admin"]);
    let mut cfg = one_key();
    cfg.presence.max_entries = 3;
    let s = f.start(cfg);
    let key = s.pubkey();
    for (handle, device) in [("alice", "a1"), ("bob", "b1")] {
        let r = s.post("/register", &register_body(&key, handle, device), &[]);
        assert_eq!(r.status, 200);
    }
    let announce = |handle: &str, device: &str| {
        s.post(
            "/announce",
            &json!({"handle": handle, "device_id": device}),
            &[],
        )
    };
    for device in ["laptop", "phone"] {
        assert_eq!(announce("alice", device).status, 200);
    }
    let h = s.server().state().handles.clone().unwrap();
    assert_eq!(h.presence_len(), 2);
    assert_eq!(announce("nobody", "tablet").status, 200);
    assert_eq!(
        h.presence_len(),
        3,
        "a free handle's device takes its place"
    );
    for handle in ["bob", "nobody-else"] {
        let r = announce(handle, "tablet");
        assert_eq!(
            (r.status, r.code()),
            (503, "unavailable".into()),
            "{handle}"
        );
    }
    assert_eq!(
        announce("alice", "laptop").status,
        200,
        "a present device renews"
    );

    let re = json!({"handle": "alice", "envelope": envelope_for(&key, "alice", &identity("alice", "a2"), 9)});
    let r = signed_post(
        &s,
        "/handles/reregister",
        re.to_string().as_bytes(),
        &admin,
        &f.holder,
        "nonce-presence-rereg-01",
        T0,
    );
    assert_eq!(
        r.json()["status"],
        "reregistered",
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(h.presence_len(), 3, "alice's devices hidden, not dropped");
    let (plain, _) = resolve(&s, "alice", &[]);
    assert_eq!(plain["identity"]["device_pubkey"], "a2");
    assert_eq!(plain["devices"], json!([]));

    // "nobody" announced a device while free: once registered, it shows none, and the table
    // is as full as before (a new device still refused, the watched one still renewed).
    let r = s.post("/register", &register_body(&key, "nobody", "n1"), &[]);
    assert_eq!(r.json()["status"], "registered");
    assert_eq!(h.presence_len(), 3);
    let (plain, _) = resolve(&s, "nobody", &[]);
    assert_eq!(plain["devices"], json!([]));
    assert_eq!(announce("nobody", "phone").status, 503);
    // Announced again after the registration: shown.
    assert_eq!(announce("nobody", "tablet").status, 200);
    assert_eq!(
        resolve(&s, "nobody", &[]).0["devices"][0]["device_id"],
        "tablet"
    );
    assert_eq!(resolve(&s, "alice", &[]).0["devices"], json!([]));
}

/// A registration committed but answered `not_anchored` (its rollback anchor could not be
/// written) hides the devices announced while the handle was free, as an answered one does:
/// the registration stands, and a retry finds it unchanged.
#[test]
fn a_registration_answered_not_anchored_still_hides_devices() {
    let f = Fixture::new();
    let s = f.start(one_key());
    let key = s.pubkey();
    let squat = json!({"handle": "dana", "device_id": "squatter"});
    assert_eq!(s.post("/announce", &squat, &[]).status, 200);
    // The anchor's place taken by a directory: every anchor write now fails.
    let anchor = cairn_store::anchor_path(&f.path);
    std::fs::remove_file(&anchor).unwrap();
    std::fs::create_dir(&anchor).unwrap();
    let r = s.post("/register", &register_body(&key, "dana", "d1"), &[]);
    assert_eq!((r.status, r.code()), (500, "not_anchored".into()));
    assert_eq!(r.json()["error"]["details"]["committed"], true);
    let (plain, _) = resolve(&s, "dana", &[]);
    assert_eq!(plain["identity"]["device_pubkey"], "d1");
    assert_eq!(plain["devices"], json!([]));
    std::fs::remove_dir(&anchor).unwrap();
    let r = s.post("/register", &register_body(&key, "dana", "d1"), &[]);
    assert_eq!(r.json()["status"], "unchanged");
    assert_eq!(resolve(&s, "dana", &[]).0["devices"], json!([]));
}

/// A resolution answers the identity byte for byte as registered: its key order, its number
/// spellings and its spacing, which a client that signed or hashed it checks.
#[test]
fn a_resolved_identity_is_the_bytes_registered() {
    let f = Fixture::new();
    let s = f.start(one_key());
    let key = s.pubkey();
    let registered =
        b" {\"handle\":\"Carol\", \"z\":1e2,\"device_pubkey\":\"d1\",\"a\":[1.50, -0]}\n";
    let body = json!({"handle": "carol", "envelope": envelope_for(&key, "carol", registered, 5)});
    let r = s.post("/register", &body, &[]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let (plain, _) = resolve_raw(&s, "carol", &[]);
    let text = String::from_utf8(plain).unwrap();
    // The answer is padded with spaces; the identity's own spacing, its newline included,
    // is inside it.
    let text = text.trim_end_matches(' ');
    let want = format!(
        r#"{{"found":true,"identity":{},"devices":[]}}"#,
        std::str::from_utf8(registered).unwrap()
    );
    assert_eq!(text, want);
    // A record that is not one JSON value (written past the service's checks, through the
    // store) is never spliced into an answer: 500, not an answer it could rewrite.
    let st = s.server().state();
    let h = st.handles.clone().unwrap();
    let (_, evil) = h.index("evil").unwrap();
    let forged = br#"{"handle":"evil"},"found":false,"devices":[],"z":{"a":1"#;
    st.reg
        .register_handle(&evil, &h.seal_at_rest(&evil, forged).unwrap())
        .unwrap();
    let me = requester(0x42);
    let r = s.post(
        "/resolve",
        &json!({"handle": "evil",
                "requester_ephemeral_pubkey_hex": hex_encode(me.public_key().as_bytes())}),
        &[],
    );
    assert_eq!((r.status, r.code()), (500, "internal".into()));
    // A member named twice: parsers differ on which they keep, so no single handle is
    // named, and the identity is refused.
    for twice in [
        r#"{"handle":"alice","handle":"mallory"}"#,
        r#"{"handle":"mallory","device":{"k":1,"k":2}}"#,
    ] {
        let body = json!({"handle": "mallory", "envelope": envelope_for(&key, "mallory", twice.as_bytes(), 6)});
        let r = s.post("/register", &body, &[]);
        assert_eq!((r.status, r.code()), (400, "malformed".into()), "{twice}");
        assert_eq!(r.json()["error"]["details"]["field"], "identity", "{twice}");
    }
}

/// The open POSTs take no query parameter and `/envelope_pubkey` takes only `suite`: any
/// other is `400 malformed` naming it, as on every other route.
#[test]
fn unknown_query_parameters_are_refused() {
    let f = Fixture::new();
    let s = f.start(one_key());
    let key = s.pubkey();
    let r = s.get("/envelope_pubkey?other=1", &[]);
    assert_eq!((r.status, r.code()), (400, "malformed".into()));
    assert_eq!(r.json()["error"]["details"]["field"], "other");
    assert_eq!(s.get("/envelope_pubkey?suite=x25519", &[]).status, 200);
    let valid = [
        ("/register", register_body(&key, "alice", "a1")),
        (
            "/resolve",
            json!({"handle": "alice", "requester_ephemeral_pubkey_hex": "00".repeat(32)}),
        ),
        ("/announce", json!({"handle": "alice", "device_id": "d1"})),
        ("/nodes", json!({"nodes": ["https://node.example"]})),
    ];
    for (path, body) in valid {
        let r = s.post(&format!("{path}?x=1"), &body, &[]);
        assert_eq!((r.status, r.code()), (400, "malformed".into()), "{path}");
        assert_eq!(r.json()["error"]["details"]["field"], "x", "{path}");
    }
}

#[test]
fn known_nodes_are_deduplicated_and_capped() {
    let f = Fixture::new();
    let mut cfg = one_key();
    cfg.nodes.max_nodes = 2;
    let s = f.start(cfg);
    let r = s.post(
        "/nodes",
        &json!({"nodes": ["https://a.example", "https://a.example/", "http://b.example:8443", "https://c.example"]}),
        &[],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"added": 2, "duplicates": 1, "dropped": 1, "total": 2})
    );
    let r = s.get("/nodes", &[]);
    assert_eq!(
        r.json(),
        json!({"nodes": ["https://a.example", "http://b.example:8443"], "max_nodes": 2})
    );
    for bad in ["ftp://x", "https://", "https://a b", "notaurl"] {
        let r = s.post("/nodes", &json!({"nodes": [bad]}), &[]);
        assert_eq!((r.status, r.code()), (400, "malformed".into()), "{bad}");
    }
}

/// A signed write to `path`: the token and a proof of possession by `key`.
fn signed_post(
    s: &Running,
    path: &str,
    body: &[u8],
    token: &cairn_core::dsse::Envelope,
    key: &SigningKey,
    nonce: &str,
    time: u64,
) -> Resp {
    let id: Digest = token.id();
    let proof = sign_request(key, &id, "POST", path, body, time, nonce).unwrap();
    let auth = authorization_value(token);
    s.post_bytes(
        path,
        body,
        &[("authorization", &auth), ("cairn-proof", &proof)],
    )
}

/// Identical syncs at once (as two registries pushing the same handles would send): every
/// handle is merged once and unchanged for the others, never a conflict, as for `/register`.
#[test]
fn identical_syncs_at_once_never_conflict() {
    let f = Fixture::new();
    let sync_token = f.token(&["handle.sync"]);
    let mut cfg = one_key();
    cfg.allow_sync = true;
    let s = f.start(cfg);
    let key = s.pubkey();
    let handles: Vec<String> = (0..24).map(|i| format!("sync{i:02}")).collect();
    let batch = json!({"identities": handles
        .iter()
        .map(|h| register_body(&key, h, "d1"))
        .collect::<Vec<_>>()})
    .to_string();
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let sent: Vec<_> = (0..6)
            .map(|i| {
                let (s, f, batch, sync_token) = (&s, &f, &batch, &sync_token);
                scope.spawn(move || {
                    let nonce = format!("nonce-sync-race-{i:04}");
                    let r = signed_post(
                        s,
                        "/sync",
                        batch.as_bytes(),
                        sync_token,
                        &f.holder,
                        &nonce,
                        T0,
                    );
                    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                    r.json()
                })
            })
            .collect();
        sent.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let count = |field: &str| -> u64 { answers.iter().map(|a| a[field].as_u64().unwrap()).sum() };
    for a in &answers {
        assert_eq!(a["conflicts"], json!([]), "{a}");
        assert_eq!(a["rejected"], json!([]), "{a}");
    }
    assert_eq!(count("merged"), 24, "{answers:?}");
    assert_eq!(count("unchanged"), 24 * 5, "{answers:?}");
    assert_eq!(handle_events(&s.server().state().reg).len(), 24);
}

#[test]
fn sync_needs_the_capability_and_reports_conflicts() {
    let f = Fixture::new();
    let (sync_token, read_token) = (f.token(&["handle.sync"]), f.token(&["read"]));
    let mut cfg = one_key();
    cfg.allow_sync = true;
    let mut s = f.start(cfg);
    let key = s.pubkey();
    assert_eq!(
        s.post("/register", &register_body(&key, "alice", "a1"), &[])
            .status,
        200
    );
    let batch = json!({"identities": [
        register_body(&key, "alice", "a1"),        // unchanged
        register_body(&key, "alice", "a-other"),   // conflict
        register_body(&key, "bob", "b1"),          // merged
        register_body(&key, "carol", "c1"),        // merged
        {"handle": "dave", "envelope": "AAAA"},    // rejected
    ]})
    .to_string();
    let body = batch.as_bytes();

    // Without credentials, with a token lacking the capability.
    let r = s.post_bytes("/sync", body, &[]);
    assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    let r = signed_post(
        &s,
        "/sync",
        body,
        &read_token,
        &f.holder,
        "nonce-n1-0123456789",
        T0,
    );
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(s.get("/check_user/bob", &[]).json()["exists"], false);

    let r = signed_post(
        &s,
        "/sync",
        body,
        &sync_token,
        &f.holder,
        "nonce-n2-0123456789",
        T0,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let j = r.json();
    assert_eq!(
        (j["merged"].clone(), j["unchanged"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(j["conflicts"].as_array().unwrap().len(), 1);
    assert_eq!(j["conflicts"][0]["handle"], "alice");
    assert_eq!(j["conflicts"][0]["code"], "already_exists");
    assert_eq!(j["rejected"].as_array().unwrap().len(), 1);
    assert_eq!(j["rejected"][0]["handle"], "dave");
    // The conflict did not overwrite alice.
    assert_eq!(
        resolve(&s, "alice", &[]).0["identity"]["device_pubkey"],
        "a1"
    );
    assert_eq!(resolve(&s, "bob", &[]).0["identity"]["device_pubkey"], "b1");
    let reg = &s.server().state().reg;
    assert_eq!(handle_events(reg).len(), 3);
    reg.audit().unwrap();
    s.stop();

    // allow_sync = false refuses even a token with the capability.
    let s = f.start(one_key());
    let r = signed_post(
        &s,
        "/sync",
        body,
        &sync_token,
        &f.holder,
        "nonce-n3-0123456789",
        T0,
    );
    assert_eq!((r.status, r.code()), (403, "unauthorized".into()));
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Times `n` requests for an existing and a missing handle, interleaved; returns the medians
/// in microseconds.
fn time_pair(n: usize, mut call: impl FnMut(bool)) -> (f64, f64) {
    let (mut hit, mut miss) = (Vec::new(), Vec::new());
    for i in 0..n {
        for exists in [i % 2 == 0, i % 2 != 0] {
            let t = Instant::now();
            call(exists);
            let us = t.elapsed().as_secs_f64() * 1e6;
            if exists {
                hit.push(us);
            } else {
                miss.push(us);
            }
        }
    }
    (median(hit), median(miss))
}

#[test]
fn existing_and_missing_handles_answer_alike_in_time_and_shape() {
    let f = Fixture::new();
    let s = f.start(one_key());
    let key = s.pubkey();
    for i in 0..50 {
        let h = format!("user{i}");
        assert_eq!(
            s.post("/register", &register_body(&key, &h, &format!("d{i}")), &[])
                .status,
            200
        );
    }
    let me = hex_encode(requester(5).public_key().as_bytes());
    // Warm up.
    for _ in 0..20 {
        s.get("/check_user/user1", &[]);
        s.get("/check_user/nobody", &[]);
    }
    let n = 300;
    let mut i = 0;
    let (cu_hit, cu_miss) = time_pair(n, |exists| {
        i += 1;
        let h = if exists {
            format!("user{}", i % 50)
        } else {
            format!("ghost{}", i % 50)
        };
        let r = s.get(&format!("/check_user/{h}"), &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["exists"], exists);
    });
    let mut sizes = std::collections::BTreeSet::new();
    let (re_hit, re_miss) = time_pair(n, |exists| {
        i += 1;
        let h = if exists {
            format!("user{}", i % 50)
        } else {
            format!("ghost{}", i % 50)
        };
        let r = s.post(
            "/resolve",
            &json!({"handle": h, "requester_ephemeral_pubkey_hex": me}),
            &[],
        );
        assert_eq!(r.status, 200);
        sizes.insert(r.body.len() - h.len());
    });
    println!(
        "timing over {n} requests each (median, microseconds): check_user existing {cu_hit:.0}, missing {cu_miss:.0} (ratio {:.3}); resolve existing {re_hit:.0}, missing {re_miss:.0} (ratio {:.3})",
        cu_hit / cu_miss,
        re_hit / re_miss
    );
    // Same shape: one response size (less the echoed handle) for hits and misses alike.
    assert_eq!(sizes.len(), 1, "{sizes:?}");
    // A loose sanity bound only (shared machines are noisy): within a factor of 2.
    for (name, r) in [
        ("check_user", cu_hit / cu_miss),
        ("resolve", re_hit / re_miss),
    ] {
        assert!((0.5..2.0).contains(&r), "{name}: ratio {r}");
    }
}

#[test]
fn a_record_moved_to_another_handle_does_not_open_and_entries_are_proven() {
    use redb::ReadableTable;
    const HANDLES: redb::TableDefinition<[u8; 32], &[u8]> = redb::TableDefinition::new("handles");
    let f = Fixture::new();
    let mut s = f.start(one_key());
    let key = s.pubkey();
    for h in ["alice", "bob"] {
        assert_eq!(
            s.post("/register", &register_body(&key, h, h), &[]).status,
            200
        );
    }
    // Each registration is a ledger entry the signed head covers: its inclusion proof.
    let seq = s
        .server()
        .state()
        .reg
        .handle(&index("bob"))
        .unwrap()
        .unwrap()
        .seq;
    let r = s.get(&format!("/api/v1/proofs/inclusion?seq={seq}"), &[]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    s.stop();

    // Behind the registry's back, bob's record replaced: by alice's sealed record, or by a
    // record sealed anew for bob's blind index with another identity (the seal needs only the
    // public envelope key, so whoever can write the file can make one).
    let forged = seal(
        &key,
        cairn_service::handles::PURPOSE_AT_REST,
        &index("bob"),
        &identity("bob", "EVE"),
        &[5; 32],
    )
    .unwrap();
    // A record is postcard of (sealed identity, seq, time): a varint length, the bytes, the rest.
    let with_sealed = |record: &[u8], sealed: &[u8]| -> Vec<u8> {
        let (mut len, mut at) = (0usize, 0usize);
        loop {
            let b = record[at];
            len |= usize::from(b & 0x7f) << (7 * at);
            at += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        let (mut out, mut n) = (Vec::new(), sealed.len());
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend_from_slice(sealed);
        out.extend_from_slice(&record[at + len..]);
        out
    };
    let pristine = f.path.with_extension("pristine");
    std::fs::copy(&f.path, &pristine).unwrap();
    for (case, forge) in [("alice's record", false), ("a record sealed anew", true)] {
        std::fs::copy(&pristine, &f.path).unwrap();
        {
            let db = redb::Database::open(&f.path).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut t = tx.open_table(HANDLES).unwrap();
                let alice = t.get(index("alice")).unwrap().unwrap().value().to_vec();
                let bob = t.get(index("bob")).unwrap().unwrap().value().to_vec();
                let rec = if forge {
                    with_sealed(&bob, &forged)
                } else {
                    alice
                };
                t.insert(index("bob"), rec.as_slice()).unwrap();
            }
            tx.commit().unwrap();
        }
        let s = f.start(one_key());
        // Bob's record no longer matches its ledger entry: resolving and checking bob are
        // refused (`corrupt`), never answered with another identity.
        let me = hex_encode(requester(1).public_key().as_bytes());
        let r = s.post(
            "/resolve",
            &json!({"handle": "bob", "requester_ephemeral_pubkey_hex": me}),
            &[],
        );
        assert_eq!((r.status, r.code()), (500, "corrupt".into()), "{case}");
        assert_eq!(s.get("/check_user/bob", &[]).status, 500, "{case}");
        assert_eq!(
            resolve(&s, "alice", &[]).0["identity"]["device_pubkey"],
            "alice",
            "{case}"
        );
        // The audit names bob's entry.
        let e = s.server().state().reg.audit().unwrap_err();
        assert_eq!(e.seq(), Some(seq), "{case}: {e}");
    }
}

/// The X-Wing suite chosen by clients, with envelope keys sealed in the registry: an X25519
/// key given in the configuration and an X-Wing key named by `sealed_kid_hex`, both active.
#[test]
fn xwing_envelopes_and_keys_sealed_in_the_registry() {
    let f = Fixture::new();
    let pass = cairn_store::Passphrase::new("envelope keys");
    let xwing = EnvelopeSecretKey::derive(Suite::XWingChaCha20Poly1305, None, &[0x58; 32]).unwrap();
    {
        let reg = f.open();
        reg.add_envelope_key(
            xwing.kid().0,
            xwing.suite().id(),
            xwing.public_key().as_bytes(),
            xwing.secret_bytes(),
            &Protection::Passphrase(pass.clone(), cairn_store::KdfParams::INSECURE_FAST),
        )
        .unwrap();
    }
    let sealed_cfg = EnvelopeKeyConfig {
        kid_hex: None,
        x25519_private_key_hex: None,
        xwing_private_key_hex: None,
        sealed_kid_hex: Some(xwing.kid().to_hex()),
        active: true,
    };
    // The X-Wing key listed first: it is the primary key (identities at rest), while the
    // query-less GET /envelope_pubkey still names the X25519 key seed 003's clients expect.
    let cfg = config(vec![sealed_cfg.clone(), key_cfg(KID1, KEY1, true)]);

    // The sealed key needs the key passphrase, the right one (the store's codes, not
    // `malformed`: a passphrase is not configuration); a kid not sealed here is named.
    let e = Running::try_start(cfg.clone(), f.open(), None)
        .err()
        .unwrap();
    assert_eq!(e.code, "passphrase_required", "{}", e.message);
    assert!(e.message.contains("sealed_kid_hex"), "{}", e.message);
    let e = Running::try_start(
        cfg.clone(),
        f.open(),
        Some(cairn_store::Passphrase::new("not the one")),
    )
    .err()
    .unwrap();
    assert_eq!(e.code, "bad_passphrase", "{}", e.message);
    assert!(e.message.contains("sealed_kid_hex"), "{}", e.message);
    let mut missing = sealed_cfg.clone();
    missing.sealed_kid_hex = Some("00000000000000ff".into());
    let e = Running::try_start(
        config(vec![key_cfg(KID1, KEY1, true), missing]),
        f.open(),
        Some(pass.clone()),
    )
    .err()
    .unwrap();
    assert_eq!(e.code, "not_found", "{}", e.message);

    let s = Running::try_start(cfg, f.open(), Some(pass.clone())).unwrap();
    // The primary key stays seed 003's; the X-Wing key is asked for by suite.
    assert_eq!(s.pubkey().kid().to_hex(), KID1);
    let j = s.get("/envelope_pubkey?suite=xwing", &[]).json();
    assert_eq!(j["kid_hex"], xwing.kid().to_hex());
    assert_eq!(j["suite_id"], 2);
    assert_eq!(
        j["xwing_public_key_hex"],
        hex_encode(xwing.public_key().as_bytes())
    );
    assert_eq!(j["public_key_hex"], j["xwing_public_key_hex"]);
    let r = s.get("/envelope_pubkey?suite=kyber", &[]);
    assert_eq!((r.status, r.code()), (400, "unsupported_algorithm".into()));
    let all = s.get("/envelope_pubkeys", &[]).json();
    let actives = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["active"] == true)
        .count();
    assert_eq!(actives, 2);

    // Register with an X-Wing envelope; resolve with an X-Wing requester key and with an
    // X25519 one.
    let pk = xwing.public_key();
    assert_eq!(
        s.post("/register", &register_body(&pk, "alice", "pq-1"), &[])
            .status,
        200
    );
    let me = EnvelopeSecretKey::derive(Suite::XWingChaCha20Poly1305, None, &[0x77; 32]).unwrap();
    let r = s.post(
        "/resolve",
        &json!({"handle": "alice", "requester_ephemeral_pubkey_hex": hex_encode(me.public_key().as_bytes())}),
        &[],
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let env = b64_decode(r.json()["envelope"].as_str().unwrap()).unwrap();
    assert_eq!(&env[1..3], &[0, 2]);
    let plain = open(&me, b"resolve", b"alice", &env).unwrap();
    let v: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(v["identity"]["device_pubkey"], "pq-1");
    assert_eq!(
        resolve(&s, "alice", &[]).0["identity"]["device_pubkey"],
        "pq-1"
    );
    // A requester key of neither length is refused with its field named.
    let r = s.post(
        "/resolve",
        &json!({"handle": "alice", "requester_ephemeral_pubkey_hex": "00".repeat(33)}),
        &[],
    );
    assert_eq!((r.status, r.code()), (422, "invalid_key".into()));
    // The identity is at rest under the primary (X-Wing) key; the file holds no identity.
    let reg = &s.server().state().reg;
    let rec = reg.handle(&index("alice")).unwrap().unwrap();
    assert_eq!(
        hex_encode(&rec.sealed_identity[3..11]),
        xwing.kid().to_hex()
    );
    assert_eq!(all["active_kid_hex"], xwing.kid().to_hex());
    drop(s);
    let raw = std::fs::read(&f.path).unwrap();
    assert!(!raw.windows(4).any(|w| w == b"pq-1"));
    assert!(!raw.windows(32).any(|w| w == xwing.secret_bytes()));
}

/// Re-registration and removal: an operator's token with `handle.admin`, each a ledger entry
/// (the re-registration names the identity it replaces), refused without the capability.
#[test]
fn reregistration_and_removal_need_the_admin_capability() {
    let f = Fixture::new();
    let (admin, read) = (f.token(&["handle.admin"]), f.token(&["handle.sync"]));
    let s = f.start(one_key());
    let key = s.pubkey();
    assert_eq!(
        s.post("/register", &register_body(&key, "alice", "a1"), &[])
            .status,
        200
    );
    let mut n = 0;
    let mut post = |path: &str, body: &Value, token: &cairn_core::dsse::Envelope| {
        n += 1;
        signed_post(
            &s,
            path,
            body.to_string().as_bytes(),
            token,
            &f.holder,
            &format!("nonce-admin-{n:04}-0123456789"),
            T0,
        )
    };
    let re = json!({"handle": "Alice", "envelope": envelope_for(&key, "alice", &identity("alice", "a2"), 9)});
    // No credentials, then the wrong capability.
    let r = s.post("/handles/reregister", &re, &[]);
    assert_eq!(r.status, 401);
    let r = post("/handles/reregister", &re, &read);
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    let r = post("/handles/reregister", &re, &admin);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["status"], "reregistered");
    assert_eq!(
        resolve(&s, "alice", &[]).0["identity"]["device_pubkey"],
        "a2"
    );
    let r = post("/handles/reregister", &re, &admin);
    assert_eq!(r.json()["status"], "unchanged");
    // A free handle is not re-registered; a tampered envelope is refused.
    let free =
        json!({"handle": "bob", "envelope": envelope_for(&key, "bob", &identity("bob", "b"), 9)});
    assert_eq!(
        post("/handles/reregister", &free, &admin).code(),
        "not_found"
    );
    let mut bad = b64_decode(re["envelope"].as_str().unwrap()).unwrap();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let tampered = json!({"handle": "alice", "envelope": b64_encode(&bad)});
    assert_eq!(
        post("/handles/reregister", &tampered, &admin).code(),
        "signature_invalid"
    );

    // Removal.
    let rm = json!({"handle": "ALICE", "reason": "account closed"});
    assert_eq!(post("/handles/remove", &rm, &read).status, 403);
    // A reason over the ledger's limit is refused, and nothing is removed.
    let long = json!({"handle": "alice", "reason": "x".repeat(1025)});
    assert_eq!(post("/handles/remove", &long, &admin).code(), "too_large");
    // An empty one too: left out, the default is written instead.
    let empty = json!({"handle": "alice", "reason": ""});
    let r = post("/handles/remove", &empty, &admin);
    assert_eq!((r.status, r.code()), (400, "malformed".into()));
    assert_eq!(r.json()["error"]["details"]["field"], "reason");
    let r = post("/handles/remove", &rm, &admin);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(s.get("/check_user/alice", &[]).json()["exists"], false);
    let gone = post("/handles/remove", &rm, &admin);
    assert_eq!((gone.status, gone.code()), (404, "not_found".into()));
    assert_eq!(gone.json()["error"]["details"]["field"], "handle");

    let reg = &s.server().state().reg;
    let kinds: Vec<&str> = handle_events(reg).iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        ["handle_registered", "handle_registered", "handle_removed"]
    );
    match &handle_events(reg)[1] {
        Event::HandleRegistered { previous, .. } => assert!(previous.is_some()),
        other => panic!("{other:?}"),
    }
    reg.audit().unwrap();
    // Free again: anyone may register the handle.
    assert_eq!(
        s.post("/register", &register_body(&key, "alice", "a3"), &[])
            .status,
        200
    );
}
