//! Crash test: a child process writes to a registry in a loop, printing an acknowledgement
//! after each committed write, and is SIGKILLed at random moments. After every kill the
//! registry must open, pass the full audit, and hold every acknowledged write.
//!
//! The child is this test binary itself, re-run with `CAIRN_CRASH_CHILD=<path>` and the
//! filter `crash::crash_child`. `CAIRN_CRASH_KILLS` sets the number of kills (default 50) and
//! `CAIRN_CRASH_SEED` the random seed; scripts/soak-crash.sh runs many more.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_core::crypto::Algorithm;
use cairn_core::trust::{Role, RoleSet};
use cairn_store::{CreateOptions, KeySpec, NodeSpec, Protection, Registry};

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

/// The child: writes forever, acknowledging each commit on stdout.
fn run_child(path: &str) -> ! {
    let reg = Registry::open(path, None).expect("child opens the registry");
    let pid = std::process::id();
    let mut i: u64 = 0;
    loop {
        i += 1;
        let ack = match i % 5 {
            // One node per transaction.
            0 | 1 => {
                let id = format!("p{pid}-n{i}");
                reg.register_node(&node(&id, i)).unwrap();
                format!("node {id}")
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
                ids.iter()
                    .map(|id| format!("node {id}"))
                    .collect::<Vec<_>>()
                    .join(";")
            }
            3 => {
                let spec = KeySpec::new("crash", RoleSet::of(&[Role::TokenIssuer]));
                let k = reg
                    .generate_key(Algorithm::Ed25519, &spec, &Protection::Insecure)
                    .unwrap();
                format!("key {}", k.key_id)
            }
            _ => {
                let c = reg.create_checkpoint().unwrap();
                format!("checkpoint {}", c.size)
            }
        };
        println!("{ACK}{ack}");
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
    let mut max_checkpoint = 0u64;
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
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        lines.extend(rest.lines().map(str::to_owned));
        for line in lines {
            let Some(ack) = line.trim_end().strip_prefix(ACK) else {
                continue;
            };
            for item in ack.split(';') {
                match item.split_once(' ') {
                    Some(("node", id)) => acked_nodes.push(id.to_owned()),
                    Some(("key", id)) => acked_keys.push(id.to_owned()),
                    Some(("checkpoint", size)) => {
                        max_checkpoint = max_checkpoint.max(size.parse().unwrap())
                    }
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
        "crash test: {kills} kills, {} nodes and {} keys acknowledged, {:?}",
        acked_nodes.len(),
        acked_keys.len(),
        started.elapsed()
    );
    assert!(!acked_nodes.is_empty());
}
