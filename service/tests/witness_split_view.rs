//! The split-view attack against three witnesses over HTTP on loopback: a registry (holder of
//! the log key) signs two different checkpoints of one size and shows them to different
//! witnesses. With a 2-of-3 witness policy, the branch the witnesses saw first gets the quorum,
//! the other none; when the registry partitions the witnesses, the minority branch still gets
//! no quorum; and a verifier given both signed checkpoints detects the fork (`split_view`) and
//! reports both roots.

use std::time::Duration;

use cairn_core::checkpoint::{Checkpoint, CheckpointPolicy, CheckpointVerifier};
use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::encoding::Digest;
use cairn_core::merkle::{leaf_hash, prove_consistency, root_of, TreeHashes};
use cairn_core::note::{Note, NoteVerifier};
use cairn_core::witness::add::AddCheckpoint;
use cairn_core::witness::{
    detect_split_view, verify_cosignatures, verify_witnessed_checkpoint, Witness, WitnessPolicy,
};
use cairn_core::ErrorCode;
use cairn_service::witness::http::WitnessServer;
use cairn_service::witness::{Witness as WitnessService, WitnessConfig, WitnessKeys};

const LOG: &str = "registry.example/log";

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
    /// `shared` leaves common to every branch, then leaves of `branch`.
    fn new(shared: usize, branch: u8, n: usize) -> Tree {
        Tree(
            (0..n)
                .map(|i| {
                    let tag = if i < shared { 0 } else { branch };
                    leaf_hash(&[tag, i as u8])
                })
                .collect(),
        )
    }
    fn note(&self, n: u64, key: &SigningKey) -> String {
        Checkpoint::new(LOG, n, root_of(&self.0[..n as usize]))
            .sign(&[(LOG, key)])
            .unwrap()
    }
    fn body(&self, old: u64, new: u64, key: &SigningKey) -> String {
        let proof = if old == 0 || old == new {
            Vec::new()
        } else {
            prove_consistency(&Tree(self.0[..new as usize].to_vec()), old, new).unwrap()
        };
        AddCheckpoint::body(old, &proof, &self.note(new, key))
    }
}

struct Client(ureq::Agent);

impl Client {
    /// The log's side of add-checkpoint: old 0 first, then the size a 409 names. Returns the
    /// cosignature lines, or the final status.
    fn cosign(&self, base: &str, tree: &Tree, size: u64, key: &SigningKey) -> Result<String, u16> {
        let mut old = 0;
        for _ in 0..3 {
            let mut r = self
                .0
                .post(&format!("{base}/add-checkpoint"))
                .send(tree.body(old, size, key).as_bytes())
                .expect("witness reachable");
            let status = r.status().as_u16();
            let text = r.body_mut().read_to_string().unwrap();
            match status {
                200 => return Ok(text),
                409 => old = text.trim().parse().unwrap(),
                s => return Err(s),
            }
        }
        Err(409)
    }
}

#[test]
fn a_forked_registry_gets_a_quorum_on_one_branch_only() {
    let dir = tempfile::tempdir().unwrap();
    let log_key = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
    let vkey = NoteVerifier::new(LOG, log_key.public_key())
        .unwrap()
        .verifier_key();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut servers = Vec::new();
    let mut policy_witnesses = Vec::new();
    for i in 0..3u8 {
        let name = format!("witness.example/w{i}");
        let mut cfg = WitnessConfig::from_toml(&format!(
            "name = \"{name}\"\naddress = \"127.0.0.1:0\"\n[[logs]]\norigin = \"{LOG}\"\nkeys = [\"{vkey}\"]\n"
        ))
        .unwrap();
        cfg.state_path = dir.path().join(format!("w{i}.redb"));
        let keys = WitnessKeys {
            ed25519: SigningKey::from_seed(Algorithm::Ed25519, &[20 + i; 32]),
            mldsa44: SigningKey::from_seed(Algorithm::MlDsa44, &[20 + i; 32]),
        };
        let w = WitnessService::open(&cfg, keys).unwrap();
        // The policy names each witness by one of its keys: Ed25519 for w0 and w2, ML-DSA-44
        // for w1 (a verifier picks what it trusts).
        let key = w.cosigner_keys()[usize::from(i == 1)].clone();
        policy_witnesses.push(Witness {
            name: format!("w{i}"),
            key,
        });
        servers.push(rt.block_on(WitnessServer::start(&cfg, w)).unwrap());
    }
    let urls: Vec<String> = servers.iter().map(WitnessServer::url).collect();
    let policy = WitnessPolicy::new(policy_witnesses, 2);
    let client = Client(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into(),
    );
    let log = [CheckpointVerifier {
        name: LOG.into(),
        public_key: log_key.public_key().clone(),
    }];
    let log_policy = CheckpointPolicy::new(LOG);
    // After the witnesses' clocks (they stamp with the system's); the policy sets no max age.
    let now = 2_000_000_000;
    let witnessed = |note: &str, lines: &[String]| format!("{note}{}", lines.concat());

    // Common history: every witness cosigns the first 8 entries.
    let a = Tree::new(8, 1, 32);
    let b = Tree::new(8, 2, 32);
    for u in &urls {
        client.cosign(u, &a, 8, &log_key).unwrap();
    }

    // The registry forks at 16: branch A is shown to every witness first, then branch B.
    let a16: Vec<String> = urls
        .iter()
        .map(|u| client.cosign(u, &a, 16, &log_key).unwrap())
        .collect();
    let b16: Vec<String> = urls
        .iter()
        .filter_map(|u| match client.cosign(u, &b, 16, &log_key) {
            Ok(lines) => Some(lines),
            Err(status) => {
                assert_eq!(status, 422, "the fork is refused as inconsistent");
                None
            }
        })
        .collect();
    assert!(b16.is_empty(), "no witness cosigns the second branch");
    let note_a = witnessed(&a.note(16, &log_key), &a16);
    let note_b = witnessed(&b.note(16, &log_key), &b16);
    let ok =
        verify_witnessed_checkpoint(note_a.as_bytes(), &log, &log_policy, &policy, now).unwrap();
    assert_eq!(ok.witnesses.counted(), 3);
    let e = verify_witnessed_checkpoint(note_b.as_bytes(), &log, &log_policy, &policy, now)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ThresholdNotMet);

    // A verifier holding both signed checkpoints sees the fork, with both roots.
    let split = detect_split_view(note_a.as_bytes(), note_b.as_bytes(), &log, &log_policy)
        .unwrap()
        .expect("a split view");
    assert_eq!(split.size, 16);
    assert_eq!(split.first_root, root_of(&a.0[..16]));
    assert_eq!(split.second_root, root_of(&b.0[..16]));
    let e = split.to_error();
    assert_eq!(e.code(), ErrorCode::SplitView);

    // Partition: at 24 the registry shows branch A to w0 and w1 and a fork C (consistent with
    // A at 16) to w2 first. C gets w2's cosignature only: no quorum; A gets its quorum.
    let c = Tree(
        a.0[..16]
            .iter()
            .copied()
            .chain(Tree::new(0, 3, 32).0[16..].iter().copied())
            .collect(),
    );
    let c24 = vec![client.cosign(&urls[2], &c, 24, &log_key).unwrap()];
    let a24: Vec<String> = urls[..2]
        .iter()
        .map(|u| client.cosign(u, &a, 24, &log_key).unwrap())
        .collect();
    assert_eq!(client.cosign(&urls[2], &a, 24, &log_key), Err(422));
    for u in &urls[..2] {
        assert_eq!(client.cosign(u, &c, 24, &log_key), Err(422));
    }
    let note_a24 = witnessed(&a.note(24, &log_key), &a24);
    let note_c24 = witnessed(&c.note(24, &log_key), &c24);
    assert!(
        verify_witnessed_checkpoint(note_a24.as_bytes(), &log, &log_policy, &policy, now).is_ok()
    );
    let v = verify_cosignatures(&Note::parse(note_c24.as_bytes()).unwrap(), &policy, now).unwrap();
    assert_eq!((v.counted(), v.quorum_met), (1, false));
    assert!(
        detect_split_view(note_a24.as_bytes(), note_c24.as_bytes(), &log, &log_policy)
            .unwrap()
            .is_some()
    );

    for s in servers {
        rt.block_on(s.shutdown(Duration::from_secs(1))).unwrap();
    }
}
