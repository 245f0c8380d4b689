//! The witness's state machine without HTTP: cosigns a consistent sequence, refuses what the
//! protocol refuses, keeps its state across reopening, and never cosigns two roots for a size.

use super::*;
use cairn_core::checkpoint::Checkpoint;
use cairn_core::encoding::{b64_encode, Digest};
use cairn_core::merkle::{leaf_hash, root_of, TreeHashes, EMPTY_ROOT};
use cairn_core::note::Note;
use cairn_core::witness::{verify_cosignatures, Witness as PolicyWitness, WitnessPolicy};

pub(crate) const ORIGIN: &str = "example.test/log";

pub(crate) fn log_key() -> SigningKey {
    SigningKey::from_seed(Algorithm::Ed25519, &[1; 32])
}

/// A tree of `leaves` for proofs.
pub(crate) struct Tree(pub Vec<Digest>);

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
    pub(crate) fn new(tag: u8, n: usize) -> Tree {
        Tree((0..n).map(|i| leaf_hash(&[tag, i as u8])).collect())
    }
    pub(crate) fn root(&self, n: u64) -> Digest {
        root_of(&self.0[..n as usize])
    }
    pub(crate) fn note(&self, n: u64, key: &SigningKey) -> String {
        Checkpoint::new(ORIGIN, n, self.root(n))
            .sign(&[(ORIGIN, key)])
            .unwrap()
    }
    pub(crate) fn proof(&self, old: u64, new: u64) -> Vec<Digest> {
        if old == 0 || old == new {
            return Vec::new();
        }
        let t = Tree(self.0[..new as usize].to_vec());
        cairn_core::merkle::prove_consistency(&t, old, new).unwrap()
    }
    pub(crate) fn body(&self, old: u64, new: u64, key: &SigningKey) -> String {
        AddCheckpoint::body(old, &self.proof(old, new), &self.note(new, key))
    }
}

pub(crate) fn config(dir: &Path, name: &str) -> WitnessConfig {
    let vkey = NoteVerifier::new(ORIGIN, log_key().public_key())
        .unwrap()
        .verifier_key();
    let mut c = WitnessConfig::from_toml(&format!(
        "name = \"{name}\"\naddress = \"127.0.0.1:0\"\n[[logs]]\norigin = \"{ORIGIN}\"\nkeys = [\"{vkey}\"]\n"
    ))
    .unwrap();
    c.state_path = dir.join(format!("{}.redb", name.replace('/', "_")));
    c
}

pub(crate) fn keys(seed: u8) -> WitnessKeys {
    WitnessKeys {
        ed25519: SigningKey::from_seed(Algorithm::Ed25519, &[seed; 32]),
        mldsa44: SigningKey::from_seed(Algorithm::MlDsa44, &[seed; 32]),
    }
}

/// A policy that needs both of `w`'s cosignatures (Ed25519 and ML-DSA-44).
fn both_keys(w: &Witness) -> WitnessPolicy {
    WitnessPolicy::new(
        w.cosigner_keys()
            .iter()
            .enumerate()
            .map(|(i, k)| PolicyWitness {
                name: format!("k{i}"),
                key: k.clone(),
            })
            .collect(),
        2,
    )
}

fn refused(r: Result<String, AddError>) -> RefusalKind {
    match r {
        Err(AddError::Refused(r)) => r.kind,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn consistent_sequence_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "w.test/w1");
    let w = Witness::open(&cfg, keys(7)).unwrap();
    let log = log_key();
    let t = Tree::new(0, 16);
    let policy = both_keys(&w);
    let mut old = 0;
    for size in [0u64, 1, 3, 3, 8, 16] {
        let lines = w
            .add_checkpoint(t.body(old, size, &log).as_bytes())
            .unwrap();
        assert_eq!(lines.matches('\n').count(), 2);
        let note = format!("{}{lines}", t.note(size, &log));
        let v = verify_cosignatures(
            &Note::parse(note.as_bytes()).unwrap(),
            &policy,
            2_000_000_000,
        )
        .unwrap();
        assert!(v.quorum_met, "size {size}");
        old = size;
    }
    assert_eq!(w.latest(ORIGIN).unwrap().unwrap().size, 16);

    // Stale old: 409 with the current size.
    assert_eq!(
        refused(w.add_checkpoint(t.body(8, 16, &log).as_bytes())),
        RefusalKind::Conflict(16)
    );
    // A fork at the same size: 422.
    let fork = Tree::new(1, 16);
    assert_eq!(
        refused(w.add_checkpoint(fork.body(16, 16, &log).as_bytes())),
        RefusalKind::Unprocessable
    );
    // A damaged proof: 422.
    let big = Tree::new(0, 20);
    let mut proof = big.proof(16, 20);
    proof[0][3] ^= 1;
    let body = AddCheckpoint::body(16, &proof, &big.note(20, &log));
    assert_eq!(
        refused(w.add_checkpoint(body.as_bytes())),
        RefusalKind::Unprocessable
    );
    // An unknown log: 404; a checkpoint signed by another key: 403.
    let other = Checkpoint::new("other.test/log", 0, EMPTY_ROOT)
        .sign(&[("other.test/log", &log)])
        .unwrap();
    assert_eq!(
        refused(w.add_checkpoint(AddCheckpoint::body(0, &[], &other).as_bytes())),
        RefusalKind::UnknownLog
    );
    let stranger = SigningKey::from_seed(Algorithm::Ed25519, &[9; 32]);
    assert_eq!(
        refused(w.add_checkpoint(big.body(16, 20, &stranger).as_bytes())),
        RefusalKind::Forbidden
    );
    // A size-0 checkpoint with another root than the empty tree's is 422 only once its log
    // is known (else 404) and its signature good (else 403), the order tlog-witness gives.
    let zero = |origin: &str, key: &SigningKey| {
        // Signed as a note: Checkpoint::sign will not sign such a checkpoint.
        let text = format!("{origin}\n0\n{}\n", b64_encode(&[5; 32]));
        let mut note = Note::new(&text).unwrap();
        note.sign(origin, key).unwrap();
        AddCheckpoint::body(0, &[], &note.encode().unwrap())
    };
    for (body, want) in [
        (zero("other.test/log", &log), RefusalKind::UnknownLog),
        (zero(ORIGIN, &stranger), RefusalKind::Forbidden),
        (zero(ORIGIN, &log), RefusalKind::Unprocessable),
    ] {
        assert_eq!(refused(w.add_checkpoint(body.as_bytes())), want);
    }
    // Garbage: 400.
    assert_eq!(
        refused(w.add_checkpoint(b"old x\n\n")),
        RefusalKind::BadRequest
    );
    // None of that moved the state.
    assert_eq!(w.latest(ORIGIN).unwrap().unwrap().size, 16);
    // The honest next step still works.
    w.add_checkpoint(big.body(16, 20, &log).as_bytes()).unwrap();
    drop(w);

    // Reopened: the state is what was committed.
    let w = Witness::open(&cfg, keys(7)).unwrap();
    let st = w.latest(ORIGIN).unwrap().unwrap();
    assert_eq!((st.size, st.root), (20, big.root(20)));
    assert_eq!(
        refused(w.add_checkpoint(t.body(0, 3, &log).as_bytes())),
        RefusalKind::Conflict(20)
    );
}

/// A log's cosignature times do not go backwards while its sizes go forwards: a request that
/// read the clock before another's commit (or a clock stepped back a little) signs with the
/// time already stored; a stored time far ahead (a clock that ran ahead) is not carried on.
#[test]
fn cosignature_times_hold_over_a_small_step_back_and_follow_a_corrected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "w.test/w1");
    let mut w = Witness::open(&cfg, keys(7)).unwrap();
    let clock = Arc::new(std::sync::atomic::AtomicU64::new(2_000_000_000));
    let c = clock.clone();
    w.set_clock(Arc::new(move || {
        c.load(std::sync::atomic::Ordering::SeqCst)
    }));
    let log = log_key();
    let t = Tree::new(0, 8);
    let policy = both_keys(&w);
    let times = |lines: &str, size: u64| -> Vec<u64> {
        let note = format!("{}{lines}", t.note(size, &log));
        verify_cosignatures(
            &Note::parse(note.as_bytes()).unwrap(),
            &policy,
            2_000_000_100,
        )
        .unwrap()
        .cosigned
        .iter()
        .map(|c| c.timestamp)
        .collect()
    };
    let first = w.add_checkpoint(t.body(0, 3, &log).as_bytes()).unwrap();
    assert_eq!(times(&first, 3), vec![2_000_000_000; 2]);
    // The clock steps back 30 s; the next, larger checkpoint keeps the stored time.
    clock.store(2_000_000_000 - 30, std::sync::atomic::Ordering::SeqCst);
    let second = w.add_checkpoint(t.body(3, 5, &log).as_bytes()).unwrap();
    assert_eq!(times(&second, 5), vec![2_000_000_000; 2]);
    assert_eq!(
        w.latest(ORIGIN).unwrap().unwrap().cosigned_at,
        2_000_000_000
    );
    // The clock had run an hour ahead and is corrected: the stored time is not carried on
    // (every later cosignature would be dated in the future), the clock's is used.
    clock.store(2_000_000_000 - 3_600, std::sync::atomic::Ordering::SeqCst);
    let third = w.add_checkpoint(t.body(5, 8, &log).as_bytes()).unwrap();
    assert_eq!(times(&third, 8), vec![2_000_000_000 - 3_600; 2]);
}

#[test]
fn racing_requests_never_cosign_two_roots_for_a_size() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "w.test/race");
    let w = Arc::new(Witness::open(&cfg, keys(8)).unwrap());
    let log = log_key();
    let a = Tree::new(0, 8);
    let b = Tree::new(1, 8);
    w.add_checkpoint(a.body(0, 2, &log).as_bytes()).unwrap();
    // Two forks race from the same old size: exactly one of them may win per size.
    let bodies: Vec<String> = (0..8)
        .map(|i| {
            let t = if i % 2 == 0 { &a } else { &b };
            // Fork b shares no leaves with a, so its proof from a's 2 is invalid; also send a
            // body with a's prefix (same old root) but b's root at 8.
            t.body(2, 8, &log)
        })
        .collect();
    let handles: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let w = w.clone();
            std::thread::spawn(move || w.add_checkpoint(body.as_bytes()).is_ok())
        })
        .collect();
    let wins = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&ok| ok)
        .count();
    assert_eq!(
        wins, 1,
        "only the first consistent request moves old from 2"
    );
    assert_eq!(w.latest(ORIGIN).unwrap().unwrap().root, a.root(8));
}

#[test]
fn key_file_round_trip_and_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("witness.key");
    let k = WitnessKeys::generate();
    k.write_new(&p).unwrap();
    assert!(k.write_new(&p).is_err(), "never overwrites a key file");
    let back = WitnessKeys::load(&p).unwrap();
    assert_eq!(back.ed25519.public_key(), k.ed25519.public_key());
    assert_eq!(back.mldsa44.public_key(), k.mldsa44.public_key());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = WitnessKeys::load(&p).unwrap_err();
        assert!(e.message.contains("chmod 600"), "{}", e.message);
    }
}

/// A request that times out stops waiting for its answer, not its work: the work of timed-out
/// requests never runs more than `max_concurrent_requests` at once (here one, each work held
/// 1.5 s by a slow clock, requests 1.1 s apart, each given up after 1 s).
#[test]
fn the_work_of_timed_out_requests_is_bounded() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "w.example/slow");
    cfg.limits.request_timeout_seconds = 1;
    cfg.limits.max_concurrent_requests = 1;
    cfg.rate_limit.enabled = false;
    let mut w = Witness::open(&cfg, keys(9)).unwrap();
    let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (r, m) = (running.clone(), most.clone());
    w.set_clock(Arc::new(move || {
        m.fetch_max(r.fetch_add(1, SeqCst) + 1, SeqCst);
        std::thread::sleep(Duration::from_millis(1500));
        r.fetch_sub(1, SeqCst);
        2_000_000_000
    }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(crate::witness::http::WitnessServer::start(&cfg, w))
        .unwrap();
    let url = format!("{}/add-checkpoint", server.url());
    let body = Tree::new(0, 8).body(0, 3, &log_key());
    let clients: Vec<_> = (0..3u64)
        .map(|i| {
            let (url, body) = (url.clone(), body.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(1100 * i));
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                agent
                    .post(&url)
                    .send(body.as_bytes())
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let statuses: Vec<u16> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(statuses.contains(&408), "{statuses:?}");
    for _ in 0..100 {
        if running.load(SeqCst) == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(most.load(SeqCst), 1, "works ran at once: {statuses:?}");
    rt.block_on(server.shutdown(Duration::from_secs(5)))
        .unwrap();
}
