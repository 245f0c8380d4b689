//! Crash test: a child process writes to a registry in a loop, printing an acknowledgement
//! after each committed write, and is SIGKILLed at random moments. After every kill the
//! registry must open, pass the full audit, and hold every acknowledged write. The child takes
//! every write path in turn: single operations, a batch, key generation and rotation, token
//! issue and revocation, manifest signing, a blux-reg import, and checkpoint signing.
//!
//! The child is this test binary itself, re-run with `CAIRN_CRASH_CHILD=<path>` and the
//! filter `crash::crash_child`. `CAIRN_CRASH_KILLS` sets the number of kills (default 50) and
//! `CAIRN_CRASH_SEED` the random seed; scripts/soak-crash.sh runs many more.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_core::crypto::{Algorithm, KeyId, SigningKey};
use cairn_core::encoding::hex_encode;
use cairn_core::trust::{Role, RoleSet};
use cairn_store::{
    CreateOptions, KeySpec, NodeSpec, Protection, Registry, TokenRequest, WeakerAlgorithm,
};

const ACK: &str = "CAIRN-ACK ";

fn node(id: &str, n: u64) -> NodeSpec {
    NodeSpec::from_json(&format!(
        r#"{{"id": "{id}", "name": "node {n}", "version": "1.0.{n}",
            "capabilities": ["cap.{c}"], "signals": ["sig-{s}"],
            "provenance": {{"source": "https://example.test/{id}"}}}}"#,
        c = n % 7,
        s = n % 3
    ))
    .unwrap()
}

/// A key of the child's own, generated on first use (acknowledged like any key).
fn own_key(reg: &Registry, slot: &mut Option<KeyId>, role: Role, acks: &mut Vec<String>) -> KeyId {
    if let Some(k) = slot {
        return *k;
    }
    let spec = KeySpec::new("crash", RoleSet::of(&[role]));
    let k = reg
        .generate_key(Algorithm::Ed25519, &spec, &Protection::Insecure)
        .unwrap()
        .key_id;
    acks.push(format!("key {k}"));
    *slot = Some(k);
    k
}

/// The child: writes forever, acknowledging each commit on stdout with what it wrote and the
/// ledger size after it.
fn run_child(path: &str) -> ! {
    let reg = Registry::open(path, None).expect("child opens the registry");
    let pid = std::process::id();
    let blux = std::env::temp_dir().join(format!("cairn-crash-blux-{pid}"));
    super::blux::config_dir(&blux);
    let (mut issuer, mut signer, mut rotating) = (None, None, None);
    let mut last_token = None;
    let holder = SigningKey::from_seed(Algorithm::Ed25519, &[5; 32]);
    // Each child starts at another write path, so short-lived children still reach them all.
    let mut i: u64 = u64::from(pid) % 10;
    loop {
        i += 1;
        let mut acks = Vec::new();
        match i % 10 {
            // One node per transaction.
            0 | 1 => {
                let id = format!("p{pid}-n{i}");
                reg.register_node(&node(&id, i)).unwrap();
                acks.push(format!("node {id}"));
            }
            // A batch: three nodes in one commit.
            2 => {
                let ids: Vec<String> = (0..3).map(|j| format!("p{pid}-b{i}-{j}")).collect();
                reg.write(|tx| {
                    for id in &ids {
                        tx.register_node(&node(id, i))?;
                    }
                    Ok(())
                })
                .unwrap();
                acks.extend(ids.iter().map(|id| format!("node {id}")));
            }
            3 => {
                let spec = KeySpec::new("crash", RoleSet::of(&[Role::TokenIssuer]));
                let k = reg
                    .generate_key(Algorithm::Ed25519, &spec, &Protection::Insecure)
                    .unwrap();
                acks.push(format!("key {}", k.key_id));
            }
            // Key rotation: the old key's status and the new key, in one commit.
            4 => {
                let old = own_key(&reg, &mut rotating, Role::TokenIssuer, &mut acks);
                let new = reg
                    .rotate_key(
                        &old,
                        None,
                        Algorithm::Ed25519,
                        WeakerAlgorithm::Refuse,
                        &Protection::Insecure,
                    )
                    .unwrap();
                acks.push(format!("rotated {old}>{}", new.key_id));
                rotating = Some(new.key_id);
            }
            5 => {
                let k = own_key(&reg, &mut issuer, Role::TokenIssuer, &mut acks);
                let req =
                    TokenRequest::new(holder.public_key().clone(), "crash.example", &["x"], 3600);
                let t = reg.issue_token(&k, None, &req).unwrap();
                acks.push(format!("token {}", hex_encode(&t.id)));
                last_token = Some((t.id, k));
            }
            6 => {
                if let Some((id, k)) = last_token.take() {
                    reg.revoke_token(&id, "crash test", &k, None).unwrap();
                    acks.push(format!("revoked {}", hex_encode(&id)));
                }
            }
            7 => {
                let k = own_key(&reg, &mut signer, Role::ManifestSigner, &mut acks);
                let name = format!("a{i}.bin");
                let m = reg
                    .sign_artifact(
                        &k,
                        None,
                        &name,
                        "application/octet-stream",
                        &i.to_le_bytes()[..],
                    )
                    .unwrap();
                acks.push(format!("manifest {}", hex_encode(&m.digest)));
            }
            // A blux-reg import: keys (skipped after the first time), ledger and revocations.
            8 => {
                let report = reg.import_blux_dir(&blux, &Protection::Insecure).unwrap();
                acks.push(format!("import {}", report.ledger_entries));
            }
            _ => {
                let c = reg.create_checkpoint().unwrap();
                acks.push(format!("checkpoint {}", c.size));
            }
        };
        acks.push(format!("size {}", reg.tree_size().unwrap()));
        println!("{ACK}{}", acks.join(";"));
    }
}

#[test]
fn crash_child() {
    if let Ok(path) = std::env::var("CAIRN_CRASH_CHILD") {
        run_child(&path);
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn crash_kill_loop_keeps_every_acknowledged_write() {
    let kills: u64 = std::env::var("CAIRN_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("CAIRN_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test: {kills} kills, CAIRN_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.redb");
    let mut opts = CreateOptions::new("crash.example.test/log", Protection::Insecure);
    // Ed25519 keeps the audit after every kill fast; the commit path is the same for all.
    opts.log_algorithm = Algorithm::Ed25519;
    drop(Registry::create(&path, opts).unwrap());

    let exe = std::env::current_exe().unwrap();
    let mut acked_nodes: Vec<String> = Vec::new();
    let mut acked_keys: Vec<String> = Vec::new();
    let mut acked_rotations: Vec<(String, String)> = Vec::new();
    let mut acked_tokens: Vec<String> = Vec::new();
    let mut acked_revoked: Vec<String> = Vec::new();
    let mut acked_manifests: Vec<String> = Vec::new();
    let mut max_checkpoint = 0u64;
    let mut max_size = 0u64;
    let mut kinds: std::collections::BTreeMap<String, u64> = Default::default();
    let started = Instant::now();
    for round in 0..kills {
        let mut child = Command::new(&exe)
            .args([
                "crash::crash_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("CAIRN_CRASH_CHILD", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the first acknowledgement (the child has opened and written), then let
        // it run a random while longer before the kill.
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 || line.starts_with(ACK) {
                lines.push(line);
                break;
            }
        }
        std::thread::sleep(Duration::from_micros(rng.next() % 40_000));
        child.kill().unwrap();
        child.wait().unwrap();
        let _ = std::fs::remove_dir_all(
            std::env::temp_dir().join(format!("cairn-crash-blux-{}", child.id())),
        );
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        lines.extend(rest.lines().map(str::to_owned));
        for line in lines {
            let Some(ack) = line.trim_end().strip_prefix(ACK) else {
                continue;
            };
            for item in ack.split(';') {
                if let Some((kind, _)) = item.split_once(' ') {
                    *kinds.entry(kind.to_owned()).or_default() += 1;
                }
                match item.split_once(' ') {
                    Some(("node", id)) => acked_nodes.push(id.to_owned()),
                    Some(("key", id)) => acked_keys.push(id.to_owned()),
                    Some(("checkpoint", size)) => {
                        max_checkpoint = max_checkpoint.max(size.parse().unwrap())
                    }
                    Some(("size", size)) => max_size = max_size.max(size.parse().unwrap()),
                    Some(("rotated", pair)) => {
                        let (old, new) = pair.split_once('>').unwrap();
                        acked_rotations.push((old.to_owned(), new.to_owned()));
                    }
                    Some(("token", id)) => acked_tokens.push(id.to_owned()),
                    Some(("revoked", id)) => acked_revoked.push(id.to_owned()),
                    Some(("manifest", id)) => acked_manifests.push(id.to_owned()),
                    // Its entries are covered by the size that follows it.
                    Some(("import", _)) => {}
                    _ => panic!("unexpected acknowledgement {item:?}"),
                }
            }
        }

        let reg = Registry::open(&path, None).unwrap_or_else(|e| {
            panic!("round {round}: the registry does not open after a kill: {e}")
        });
        let report = reg
            .audit()
            .unwrap_or_else(|e| panic!("round {round}: audit fails after a kill: {e}"));
        assert!(
            report.newest_checkpoint >= max_checkpoint,
            "round {round}: acknowledged checkpoint lost"
        );
        assert!(
            reg.tree_size().unwrap() >= max_size,
            "round {round}: the ledger is shorter than an acknowledged write left it"
        );
        let digest = |h: &str| cairn_core::encoding::hex_decode_array::<32>(h).unwrap();
        let key_id = |h: &str| KeyId(digest(h));
        for (old, new) in &acked_rotations {
            let old_key = reg.key(&key_id(old)).unwrap();
            assert_ne!(
                old_key.status,
                cairn_store::KeyStatus::Active,
                "round {round}: rotation of {old} lost"
            );
            reg.key(&key_id(new))
                .unwrap_or_else(|e| panic!("round {round}: rotated-to key {new}: {e}"));
        }
        for id in &acked_tokens {
            reg.token(&digest(id))
                .unwrap_or_else(|e| panic!("round {round}: token {id}: {e}"));
        }
        for id in &acked_revoked {
            let t = reg.token(&digest(id)).unwrap();
            assert!(
                t.revoked.is_some(),
                "round {round}: revocation of {id} lost"
            );
        }
        for id in &acked_manifests {
            reg.manifest(&digest(id))
                .unwrap_or_else(|e| panic!("round {round}: manifest {id}: {e}"));
        }
        let nodes: std::collections::BTreeSet<String> = reg
            .list_nodes()
            .unwrap()
            .into_iter()
            .map(|n| n.spec.id)
            .collect();
        for id in &acked_nodes {
            assert!(
                nodes.contains(id),
                "round {round}: acknowledged node {id} is missing"
            );
        }
        let keys: std::collections::BTreeSet<String> = reg
            .list_keys()
            .unwrap()
            .into_iter()
            .map(|k| k.key_id.to_hex())
            .collect();
        for id in &acked_keys {
            assert!(
                keys.contains(id),
                "round {round}: acknowledged key {id} is missing"
            );
        }
    }
    eprintln!(
        "crash test: {kills} kills in {:?}; acknowledged writes by kind: {kinds:?}",
        started.elapsed()
    );
    assert!(!acked_nodes.is_empty());
    // A soak must have killed the writer around every write path.
    if kills >= 200 {
        for kind in [
            "node",
            "key",
            "rotated",
            "token",
            "revoked",
            "manifest",
            "import",
            "checkpoint",
        ] {
            assert!(
                kinds.contains_key(kind),
                "no {kind} write was acknowledged in {kills} kills"
            );
        }
    }
}
