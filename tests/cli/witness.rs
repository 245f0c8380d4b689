//! `cairn witness serve` as a process on loopback: the C2SP tlog-witness answers (200 with
//! cosignatures, 409, 422, 404, 403, 400); SIGKILL in the middle of a stream of
//! add-checkpoint requests, several rounds, after which no size was ever cosigned with two
//! roots and the witness's state is at least the newest size it cosigned; and the registry's
//! side, `cairn checkpoint witness`, whose cosignatures travel in the notes cairn hands out.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_core::checkpoint::Checkpoint;
use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::encoding::Digest;
use cairn_core::merkle::{leaf_hash, prove_consistency, root_of, TreeHashes};
use cairn_core::note::{Note, NoteVerifier};
use cairn_core::witness::add::AddCheckpoint;
use cairn_core::witness::{verify_cosignatures, CosignerKey, Witness, WitnessPolicy};

use super::serve::{agent, free_port};
use super::Env;

const LOG: &str = "witness.example/log";

fn log_key() -> SigningKey {
    SigningKey::from_seed(Algorithm::Ed25519, &[3; 32])
}

/// A log's leaves, for roots, notes and consistency proofs.
struct Tree(Vec<Digest>);

impl TreeHashes for Tree {
    fn tree_size(&self) -> u64 {
        self.0.len() as u64
    }
    fn subtree_hash(&self, level: u8, index: u64) -> cairn_core::Result<Digest> {
        let lo = (index << level) as usize;
        Ok(root_of(&self.0[lo..lo + (1usize << level)]))
    }
}

impl Tree {
    fn new(tag: u8, n: usize) -> Tree {
        Tree(
            (0..n)
                .map(|i| leaf_hash(&[tag, (i >> 8) as u8, i as u8]))
                .collect(),
        )
    }
    fn root(&self, n: u64) -> Digest {
        root_of(&self.0[..n as usize])
    }
    fn note(&self, n: u64, key: &SigningKey) -> String {
        Checkpoint::new(LOG, n, self.root(n))
            .sign(&[(LOG, key)])
            .unwrap()
    }
    fn proof(&self, old: u64, new: u64) -> Vec<Digest> {
        if old == 0 || old == new {
            return Vec::new();
        }
        prove_consistency(&Tree(self.0[..new as usize].to_vec()), old, new).unwrap()
    }
    fn body(&self, old: u64, new: u64, key: &SigningKey) -> String {
        AddCheckpoint::body(old, &self.proof(old, new), &self.note(new, key))
    }
}

/// A `cairn witness serve` process, SIGKILLed when dropped.
struct Witnessing(Child);

impl Witnessing {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Witnessing {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `cairn witness init` in `env`'s `dir` for the logs given; returns (config path, base URL,
/// cosigner keys).
fn init_witness(
    env: &Env,
    dir: &str,
    name: &str,
    log: &str,
    vkeys: &[String],
) -> (String, String, Vec<CosignerKey>) {
    let port = free_port();
    let mut args = vec![
        "witness".to_owned(),
        "init".to_owned(),
        env.p(dir),
        "--name".to_owned(),
        name.to_owned(),
        "--address".to_owned(),
        format!("127.0.0.1:{port}"),
        "--log-origin".to_owned(),
        log.to_owned(),
    ];
    for v in vkeys {
        args.push("--log-key".to_owned());
        args.push(v.clone());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = env.ok(&a);
    let keys = v["vkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| CosignerKey::from_vkey(k.as_str().unwrap()).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(keys.len(), 2, "an Ed25519 and an ML-DSA-44 cosigner key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.path(dir).join("witness.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    (
        v["config"].as_str().unwrap().to_owned(),
        format!("http://127.0.0.1:{port}"),
        keys,
    )
}

fn start_witness(env: &Env, cfg: &str, base: &str) -> Witnessing {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["witness", "serve", "--config", cfg])
        .current_dir(env.dir.path())
        .env("CAIRN_HOME", env.home())
        .env("CAIRN_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cairn witness serve");
    // A probe answered late is not asked again: each one counts against a rate limit.
    let a = agent(Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = a.get(&format!("{base}/health")).call() {
            if r.status() == 200 {
                return Witnessing(child);
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("cairn witness serve exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "cairn witness serve did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// POSTs an add-checkpoint body; returns (status, content type, body).
fn post(a: &ureq::Agent, base: &str, body: &str) -> Result<(u16, String, String), ureq::Error> {
    let mut r = a
        .post(&format!("{base}/add-checkpoint"))
        .send(body.as_bytes())?;
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = r.body_mut().read_to_string()?;
    Ok((r.status().as_u16(), ct, text))
}

fn policy(keys: &[CosignerKey], quorum: usize) -> WitnessPolicy {
    WitnessPolicy::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| Witness {
                name: format!("w{i}"),
                key: k.clone(),
            })
            .collect(),
        quorum,
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The cosignature lines verify on the checkpoint of `tree` at `size`, both keys.
fn assert_cosigned(tree: &Tree, size: u64, lines: &str, keys: &[CosignerKey]) {
    let note = format!("{}{lines}", tree.note(size, &log_key()));
    let v = verify_cosignatures(
        &Note::parse(note.as_bytes()).unwrap(),
        &policy(keys, 2),
        now(),
    )
    .unwrap();
    assert!(v.quorum_met, "size {size}: {v:?}");
}

fn log_vkey() -> String {
    NoteVerifier::new(LOG, log_key().public_key())
        .unwrap()
        .verifier_key()
}

#[test]
fn witness_answers_as_tlog_witness_says() {
    let env = Env::new();
    let (cfg, base, keys) = init_witness(&env, "w1", "witness.example/w1", LOG, &[log_vkey()]);
    // A second init into the same directory never replaces its key.
    env.fails(
        &[
            "witness",
            "init",
            &env.p("w1"),
            "--name",
            "witness.example/w1",
        ],
        2,
        "already_exists",
    );
    // An unknown configuration key, and a key file others may read: refused at startup.
    let text = std::fs::read_to_string(&cfg).unwrap();
    let bad = env.write("w1/bad.toml", format!("adress = \"x\"\n{text}").as_bytes());
    let e = env.fails(&["witness", "serve", "--config", &bad], 2, "malformed");
    assert!(e["message"].as_str().unwrap().contains("adress"), "{e}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key_file = env.path("w1").join("witness.key");
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = env.fails(&["witness", "serve", "--config", &cfg], 2, "malformed");
        assert!(e["message"].as_str().unwrap().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let _w = start_witness(&env, &cfg, &base);
    let a = agent(Duration::from_secs(10));
    let key = log_key();
    let t = Tree::new(0, 40);

    // A consistent sequence, from nothing: each answer is two cosignature lines that verify.
    let mut old = 0;
    for size in [0u64, 1, 5, 5, 17, 32] {
        let (status, _, body) = post(&a, &base, &t.body(old, size, &key)).unwrap();
        assert_eq!(status, 200, "size {size}: {body}");
        assert_eq!(body.lines().count(), 2);
        assert!(body
            .lines()
            .all(|l| l.starts_with("\u{2014} witness.example/w1 ")));
        assert_cosigned(&t, size, &body, &keys);
        old = size;
    }
    // Stale old size: 409 with the size, as text/x.tlog.size.
    let (status, ct, body) = post(&a, &base, &t.body(17, 40, &key)).unwrap();
    assert_eq!(
        (status, ct.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "32\n")
    );
    let (status, _, body) = post(&a, &base, &t.body(0, 40, &key)).unwrap();
    assert_eq!((status, body.as_str()), (409, "32\n"));
    // A fork: the same size with another root.
    let fork = Tree::new(1, 40);
    let (status, _, _) = post(&a, &base, &fork.body(32, 32, &key)).unwrap();
    assert_eq!(status, 422);
    // A bad consistency proof (damaged), and an honest-looking proof to a forked root.
    let mut proof = t.proof(32, 40);
    proof[0][0] ^= 1;
    let (status, _, _) = post(
        &a,
        &base,
        &AddCheckpoint::body(32, &proof, &t.note(40, &key)),
    )
    .unwrap();
    assert_eq!(status, 422);
    let (status, _, _) = post(
        &a,
        &base,
        &AddCheckpoint::body(32, &t.proof(32, 40), &fork.note(40, &key)),
    )
    .unwrap();
    assert_eq!(status, 422);
    // old above the size: 400.
    let (status, _, _) = post(&a, &base, &AddCheckpoint::body(33, &[], &t.note(20, &key))).unwrap();
    assert_eq!(status, 400);
    // An unknown log: 404.
    let other = Checkpoint::new("other.example/log", 0, root_of(&[]))
        .sign(&[("other.example/log", &key)])
        .unwrap();
    let (status, _, _) = post(&a, &base, &AddCheckpoint::body(0, &[], &other)).unwrap();
    assert_eq!(status, 404);
    // Signed by a key the witness does not trust for the log: 403; a damaged signature of
    // the trusted key: 403.
    let stranger = SigningKey::from_seed(Algorithm::Ed25519, &[4; 32]);
    let (status, _, _) = post(&a, &base, &t.body(32, 40, &stranger)).unwrap();
    assert_eq!(status, 403);
    let mut n = Note::parse(t.note(40, &key).as_bytes()).unwrap();
    let mut line = n.signatures()[0].clone();
    line.signature[5] ^= 1;
    n.push_signature(line).unwrap();
    let body = AddCheckpoint::body(32, &t.proof(32, 40), &n.encode().unwrap());
    let (status, _, _) = post(&a, &base, &body).unwrap();
    assert_eq!(status, 403);
    // A good line of the trusted key followed by a bad one of the same key: every line of a
    // trusted key must verify (tlog-witness), not only the first as Go's note.Open checks.
    let good = t.note(40, &key);
    let twice = format!("{good}{}", n.signatures()[0].to_line());
    let body = AddCheckpoint::body(32, &t.proof(32, 40), &twice);
    let (status, _, _) = post(&a, &base, &body).unwrap();
    assert_eq!(status, 403);
    // Not a request at all: 400.
    let (status, _, _) = post(&a, &base, "hello\n").unwrap();
    assert_eq!(status, 400);
    // None of that moved it: the honest next step is cosigned.
    let (status, _, body) = post(&a, &base, &t.body(32, 40, &key)).unwrap();
    assert_eq!(status, 200);
    assert_cosigned(&t, 40, &body, &keys);
}

/// Every request counts against its address's `[rate_limit]` (on by default, as for `cairn
/// serve`): past the burst, `429` with `Retry-After`; refused `ban_after` times in a row, the
/// address is banned, and its checkpoints are refused too. `[rate_limit.endpoints]` is refused
/// at startup: the witness has no endpoint classes.
#[test]
fn witness_rate_limits_and_bans_each_address() {
    let env = Env::new();
    let (cfg, base, _) = init_witness(&env, "w1", "witness.example/w1", LOG, &[log_vkey()]);
    let text = std::fs::read_to_string(&cfg).unwrap();
    let bad = env.write(
        "w1/endpoints.toml",
        format!("{text}\n[rate_limit.endpoints]\nregister_rps = 1\n").as_bytes(),
    );
    let e = env.fails(&["witness", "serve", "--config", &bad], 2, "malformed");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("rate_limit.endpoints"),
        "{e}"
    );
    let limited = env.write(
        "w1/limited.toml",
        format!(
            "{text}\n[rate_limit]\nper_ip_rps = 1\nburst = 3\nban_after = 3\nban_seconds = 60\n"
        )
        .as_bytes(),
    );
    let _w = start_witness(&env, &limited, &base);
    let a = agent(Duration::from_secs(10));
    let health = |a: &ureq::Agent| a.get(&format!("{base}/health")).call().unwrap();
    // The burst (less what the start-up probe used, plus what a second refills) passes.
    let mut passed = 0;
    let refused = loop {
        let r = health(&a);
        if r.status() != 200 {
            break r;
        }
        passed += 1;
        assert!(
            passed <= 4,
            "a burst of 3 at 1 per second let {passed} through"
        );
    };
    assert!(passed >= 1, "the burst let nothing through");
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Refused three times in a row: banned, for every endpoint. (A request let through by a
    // token refilled meanwhile starts the count again: asked until banned, at most 20 times.)
    let mut body = serde_json::Value::Null;
    for _ in 0..20 {
        let mut r = health(&a);
        if r.status() == 200 {
            continue;
        }
        assert_eq!(r.status(), 429);
        body = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        if body["error"]["details"]["banned"] == true {
            break;
        }
    }
    assert_eq!(body["error"]["details"]["banned"], true, "{body}");
    std::thread::sleep(Duration::from_millis(1_100));
    let key = log_key();
    let (status, _, body) = post(&a, &base, &Tree::new(0, 4).body(0, 4, &key)).unwrap();
    assert_eq!(status, 429, "a banned address's checkpoint: {body}");
}

/// What the client saw cosigned: size → roots.
type Seen = Arc<Mutex<BTreeMap<u64, Vec<Digest>>>>;

#[test]
fn kill_9_during_a_stream_never_cosigns_two_roots_for_a_size() {
    let env = Env::new();
    let (cfg, base, keys) = init_witness(&env, "w", "witness.example/crash", LOG, &[log_vkey()]);
    // The stream runs as fast as the witness answers: its rate limit would refuse an honest
    // step on a fast machine.
    let mut config = std::fs::read_to_string(&cfg).unwrap();
    assert!(!config.contains("[rate_limit]"), "{config}");
    config.push_str("\n[rate_limit]\nenabled = false\n");
    std::fs::write(&cfg, config).unwrap();
    let honest = Arc::new(Tree::new(0, 1200));
    let fork = Arc::new(Tree::new(9, 1200));
    let seen: Seen = Arc::new(Mutex::new(BTreeMap::new()));
    let mut last_known = 0u64;
    for round in 0..5u64 {
        let mut w = start_witness(&env, &cfg, &base);
        // After each SIGKILL: the state holds at least every size the witness answered with
        // a cosignature (it commits before it answers), so `old 0` gets a 409 naming it.
        let newest = seen.lock().unwrap().keys().last().copied();
        if let Some(newest) = newest {
            let probe = post(
                &agent(Duration::from_secs(5)),
                &base,
                &honest.body(0, 1, &log_key()),
            );
            let (status, _, body) = probe.unwrap();
            assert_eq!(
                status, 409,
                "round {round}: the witness forgot its state: {body}"
            );
            let state: u64 = body.trim().parse().unwrap();
            assert!(
                state >= newest,
                "round {round}: state {state} < cosigned {newest}"
            );
            last_known = state;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let client = {
            let (honest, fork, seen, stop, base) = (
                honest.clone(),
                fork.clone(),
                seen.clone(),
                stop.clone(),
                base.clone(),
            );
            let keys = keys.clone();
            std::thread::spawn(move || -> u64 {
                let a = agent(Duration::from_secs(5));
                let key = log_key();
                let mut known = last_known;
                let mut i = 0u64;
                let record = |tree: &Tree, size: u64, body: &str| {
                    assert_cosigned(tree, size, body, &keys);
                    let root = tree.root(size);
                    let mut s = seen.lock().unwrap();
                    let roots = s.entry(size).or_default();
                    if !roots.contains(&root) {
                        roots.push(root);
                    }
                };
                while !stop.load(Ordering::SeqCst) && known + 4 < 1200 {
                    i += 1;
                    // A fork of the size the client believes cosigned, as from a client that
                    // knows nothing (old 0) and as a same-size update.
                    if known > 0 {
                        for body in [fork.body(0, known, &key), fork.body(known, known, &key)] {
                            match post(&a, &base, &body) {
                                Ok((200, _, b)) => record(&fork, known, &b),
                                Ok(_) => {}
                                Err(_) => return known,
                            }
                        }
                    }
                    let next = known + 1 + i % 3;
                    match post(&a, &base, &honest.body(known, next, &key)) {
                        Ok((200, _, b)) => {
                            record(&honest, next, &b);
                            known = next;
                        }
                        Ok((409, _, b)) => known = b.trim().parse().unwrap(),
                        Ok((s, _, b)) => panic!("honest step {known} -> {next}: {s} {b}"),
                        Err(_) => return known,
                    }
                }
                known
            })
        };
        // Killed once this round has cosigned two more sizes (however slow the disk's syncs
        // are), then a little later each round, so the kills land at different points.
        let before = seen.lock().unwrap().len();
        let deadline = Instant::now() + Duration::from_secs(30);
        while seen.lock().unwrap().len() < before + 2
            && Instant::now() < deadline
            && !client.is_finished()
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(20 + 40 * round));
        w.kill(); // SIGKILL, mid-stream
        stop.store(true, Ordering::SeqCst);
        let known = client.join().expect("client thread");
        last_known = known;
    }
    // Never two roots for one size, whatever was in flight at each SIGKILL.
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    for (size, roots) in seen.iter() {
        assert_eq!(
            roots.len(),
            1,
            "size {size} cosigned with {} roots",
            roots.len()
        );
        assert_eq!(
            roots[0],
            honest.root(*size),
            "size {size}: the fork was cosigned"
        );
    }
    // After the last restart, the witness's state is at least the newest size it cosigned.
    let newest = *seen.keys().last().unwrap();
    let _w = start_witness(&env, &cfg, &base);
    let (status, _, body) = post(
        &agent(Duration::from_secs(5)),
        &base,
        &honest.body(0, 1, &log_key()),
    )
    .unwrap();
    assert_eq!(status, 409);
    let state: u64 = body.trim().parse().unwrap();
    assert!(
        state >= newest,
        "state {state} < newest cosigned size {newest}"
    );
    assert!(
        seen.len() > 5,
        "the stream made progress: {} sizes",
        seen.len()
    );
}

#[test]
fn checkpoint_witness_stores_cosignatures_that_travel_in_the_note() {
    let env = Env::new();
    env.insecure_registry();
    let latest = env.ok(&["checkpoint", "latest"]);
    let origin = latest["checkpoint"]["origin"].as_str().unwrap().to_owned();
    let log_vkeys: Vec<String> = latest["note_verifier_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let (cfg1, base1, keys1) = init_witness(&env, "w1", "witness.example/w1", &origin, &log_vkeys);
    let (cfg2, base2, keys2) = init_witness(&env, "w2", "witness.example/w2", &origin, &log_vkeys);
    let _w1 = start_witness(&env, &cfg1, &base1);
    let _w2 = start_witness(&env, &cfg2, &base2);
    let all_keys: Vec<CosignerKey> = keys1.iter().chain(&keys2).cloned().collect();
    // `checkpoint witness` with these witness URLs and keys.
    let witness_args = |urls: &[&str], keys: &[CosignerKey]| -> Vec<String> {
        let mut args: Vec<String> = vec!["checkpoint".into(), "witness".into()];
        for u in urls {
            args.extend(["--witness".into(), u.to_string()]);
        }
        for k in keys {
            args.extend(["--witness-key".into(), k.vkey()]);
        }
        args
    };
    let args = witness_args(&[&base1, &base2], &all_keys);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = env.ok(&a);
    assert_eq!(v["stored"], 4, "{v}");
    // A witness counts once: the same witness under a second URL adds none, and a key no
    // witness cosigned with fails the run (what was gathered is stored all the same).
    let fails_saying = |urls: &[&str], keys: &[CosignerKey], words: &str| {
        let args = witness_args(urls, keys);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e = env.fails(&a, 1, "witness_failed");
        assert!(e["message"].as_str().unwrap().contains(words), "{e}");
    };
    fails_saying(&[&base1, &base1], &keys1, "adds no witness");
    fails_saying(&[&base1], &all_keys, "no witness cosigned with it");
    // More entries, and again: each witness answers 409 with its size, then gets the
    // consistency proof from there.
    env.ok(&[
        "key",
        "generate",
        "--label",
        "more",
        "--role",
        "token-issuer",
        "--algorithm",
        "ed25519",
        "--insecure-no-passphrase",
    ]);
    let art = env.write("app.bin", b"an artifact to bundle");
    let m = env.ok(&["sign", &art, "--key", "release"]);
    let digest = m["manifest"]["digest"].as_str().unwrap().to_owned();
    let v = env.ok(&a);
    assert_eq!(v["stored"], 4, "{v}");
    let size = v["checkpoint"]["size"].as_u64().unwrap();
    assert!(
        v["witnesses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["previous_size"].as_u64().is_some_and(|p| p < size)),
        "{v}"
    );

    // The note cairn hands out carries the cosignatures, and the log's signature still holds.
    let latest = env.ok(&["checkpoint", "latest"]);
    assert_eq!(latest["cosignatures"], 4, "{latest}");
    let note = latest["checkpoint"]["note"].as_str().unwrap().to_owned();
    let parsed = Note::parse(note.as_bytes()).unwrap();
    let witnesses = WitnessPolicy::new(
        vec![
            Witness {
                name: "w1".into(),
                key: keys1[0].clone(),
            },
            Witness {
                name: "w2".into(),
                key: keys2[1].clone(),
            },
        ],
        2,
    );
    let verdict = verify_cosignatures(&parsed, &witnesses, now()).unwrap();
    assert!(verdict.quorum_met, "{verdict:?}");
    // Every note verifier key of the log still verifies its lines with the cosignatures
    // appended (signed-note: lines of unknown keys are ignored).
    let vs: Vec<NoteVerifier> = log_vkeys
        .iter()
        .map(|k| NoteVerifier::from_verifier_key(k).unwrap())
        .collect();
    assert_eq!(parsed.verify(&vs).unwrap().len(), vs.len());

    // The tiles' checkpoint file carries them too: the checkpoint of the head's size, the
    // one the witnesses cosigned, with every line.
    env.ok(&["tiles", "export", &env.p("tiles")]);
    let exported = std::fs::read_to_string(env.path("tiles").join("checkpoint")).unwrap();
    assert_eq!(exported, note);
    env.ok(&[
        "tiles",
        "verify",
        &env.p("tiles"),
        "--trust-root",
        &env.p("root.json"),
    ]);

    // A bundle's checkpoint carries them, and the bundle still verifies offline.
    env.ok(&[
        "bundle",
        "export",
        "--manifest",
        &digest,
        "--out",
        &env.p("app.bundle"),
    ]);
    let bundle =
        cairn_core::bundle::Bundle::from_bytes(&std::fs::read(env.path("app.bundle")).unwrap())
            .unwrap();
    assert_eq!(bundle.checkpoint, note);
    let v = env.ok(&[
        "bundle",
        "verify",
        &env.p("app.bundle"),
        "--trust-root",
        &env.p("root.json"),
        "--artifact",
        &art,
    ]);
    assert_eq!(v["valid"], true);
    assert_eq!(v["witnessed"], serde_json::Value::Null);

    // A witness key that no witness uses: nothing of theirs is kept, and the command fails.
    let stray = SigningKey::from_seed(Algorithm::Ed25519, &[5; 32]);
    let stray = CosignerKey::new("witness.example/stray", stray.public_key())
        .unwrap()
        .vkey();

    // A verifier's k of n over the bundle's checkpoint (bundle verify --witness-key).
    let verify = |keys: &[&str], extra: &[&str]| {
        let mut args: Vec<String> = [
            "bundle",
            "verify",
            &env.p("app.bundle"),
            "--trust-root",
            &env.p("root.json"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for k in keys {
            args.extend(["--witness-key".to_owned(), k.to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let (w1, w2) = (keys1[0].vkey(), keys2[1].vkey());
    let a = verify(&[&w1, &w2], &[]);
    let v = env.ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(v["witnessed"]["quorum"], 2, "{v}");
    assert_eq!(v["witnessed"]["counted"], 2, "{v}");
    assert_eq!(v["witnessed"]["quorum_met"], true, "{v}");
    // Two of a witness that cosigned and one that did not: refused, or 1 of 2 when asked.
    let a = verify(&[&w1, &stray], &["--witness-quorum", "2"]);
    env.fails(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        1,
        "threshold_not_met",
    );
    let a = verify(&[&w1, &stray], &["--witness-quorum", "1"]);
    let v = env.ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(v["witnessed"]["counted"], 1, "{v}");
    // Cosigned too long before the verification time for the policy: stale.
    let later = (now() + 7200).to_string();
    let a = verify(&[&w1], &["--witness-max-age", "60", "--at", &later]);
    env.fails(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        1,
        "stale",
    );
    env.fails(
        &[
            "checkpoint",
            "witness",
            "--witness",
            &base1,
            "--witness-key",
            &stray,
        ],
        1,
        "witness_failed",
    );

    // cairn serve's GET /checkpoint hands out the signed head with them.
    let (scfg, sbase) = super::serve::loopback_config(&env);
    let _serving = super::serve::start_server(&env, &scfg, &sbase);
    let mut r = agent(Duration::from_secs(5))
        .get(&format!("{sbase}/checkpoint"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let served = r.body_mut().read_to_string().unwrap();
    assert_eq!(served, exported);
}
