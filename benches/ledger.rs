//! Ledger append benches: blux-reg's JSONL ledger (the seed baseline, reproduced in Rust)
//! beside cairn's ledger append.
//!
//! blux-reg appends by re-reading and parsing its whole JSONL file for the last hash, without
//! fsync: see `support/jsonl.rs` for the reproduction.
//!
//! cairn appends a postcard ledger entry to a hash chain and a Merkle tree whose stored
//! subtree hashes make an append O(1) amortised, and signs the entry with the log key.
//!
//! This harness times single appends at a given ledger size (the file or tree is pre-built to
//! that size), not a whole fill. `cargo bench --bench ledger` measures; `cargo test --benches`
//! runs every step once at a tiny size. See docs/PERFORMANCE.md.

mod support;

use std::fs;
use std::path::Path;
use std::time::Instant;

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{sha256, Digest};
use cairn_core::ledger::{entry_hash, ChainHead, Event, LEDGER_ENTRY_TYPE};
use cairn_core::merkle::{MemoryTree, TreeHashes};
use support::jsonl::{blux_append, blux_prebuild, T0};
use support::{fmt_rate, fmt_time, latencies, median, percentile, Mode, Table};

// ---------------------------------------------------------------------------------------
// cairn's ledger append, in memory (hash chain + Merkle tree + signed envelope)
// ---------------------------------------------------------------------------------------

/// An in-memory ledger: what a store keeps, without the disk.
struct MemLedger {
    head: ChainHead,
    tree: MemoryTree,
    entries: Vec<Vec<u8>>,
}

/// How much of an append to do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signing {
    /// Encode, chain and add to the tree; no signature.
    None,
    /// Also sign the entry envelope with this algorithm.
    With(Algorithm),
}

fn event(i: u64, signer: &SigningKey) -> Event {
    Event::ManifestSigned {
        manifest_digest: sha256(&[b"manifest", &i.to_le_bytes()]),
        artifact_name: format!("artifact-{i}.tar.gz"),
        artifact_sha256: sha256(&[b"artifact", &i.to_le_bytes()]),
        signers: vec![signer.public_key().key_id()],
    }
}

impl MemLedger {
    fn new() -> MemLedger {
        MemLedger {
            head: ChainHead::GENESIS,
            tree: MemoryTree::new(),
            entries: Vec::new(),
        }
    }

    /// One append: build the entry on the chain head, encode, hash, add the leaf, sign the
    /// envelope (as the store does with its log key) and keep its compact bytes.
    fn append(&mut self, ev: Event, key: Option<&SigningKey>) -> Digest {
        let time = T0 + self.head.next_seq;
        let entry = self.head.next_entry(time, ev);
        let stored = match key {
            Some(k) => {
                let mut env = entry.to_envelope().expect("entry encodes");
                env.sign(k).expect("entry signs");
                env.to_compact()
            }
            None => entry.to_bytes(),
        };
        let bytes = entry.to_bytes();
        let hash = entry_hash(&bytes);
        self.tree.append(&bytes).expect("tree appends");
        self.head = ChainHead {
            next_seq: self.head.next_seq + 1,
            head_hash: hash,
            last_time: time,
        };
        self.entries.push(stored);
        hash
    }

    /// Fills to `n` entries without signatures (set-up, not timed).
    fn prebuild(n: u64, signer: &SigningKey) -> MemLedger {
        let mut l = MemLedger::new();
        for i in 0..n {
            l.append(event(i, signer), None);
        }
        l
    }
}

fn check_envelope(bytes: &[u8]) {
    let env = Envelope::from_compact(bytes).expect("stored envelope decodes");
    assert_eq!(env.payload_type, LEDGER_ENTRY_TYPE);
}

// ---------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------

struct Sizes {
    sizes: Vec<u64>,
}

/// Median per-append seconds of blux-reg's re-read append at each size.
fn jsonl(mode: Mode, dir: &Path, sizes: &Sizes) -> Vec<(u64, f64, f64, u64)> {
    let mut out = Vec::new();
    for &n in &sizes.sizes {
        let path = dir.join(format!("ledger-{n}.jsonl"));
        blux_prebuild(&path, n);
        let bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        // Enough appends for a stable median without filling the file much further.
        let k = match mode {
            Mode::Test => 2,
            _ => (2_000_000 / n.max(1)).clamp(5, 200) as usize,
        };
        let mut s = latencies(k, |j| {
            blux_append(&path, n + j as u64);
        });
        if mode == Mode::Test {
            // The reproduction writes a ledger blux-reg's own rules accept.
            let text = fs::read_to_string(&path).expect("ledger reads");
            let summary = cairn_core::blux::verify_ledger(&text).expect("valid blux-reg ledger");
            assert_eq!(summary.entries as u64, n + k as u64);
        }
        let p50 = median(&mut s);
        let p99 = percentile(&mut s, 99.0);
        out.push((n, p50, p99, bytes));
        fs::remove_file(&path).ok();
    }
    out
}

/// Median per-append seconds of cairn's in-memory append at each size, per signing mode.
fn memory(mode: Mode, sizes: &Sizes, signing: Signing) -> Vec<(u64, f64, f64)> {
    let signer = SigningKey::from_seed(Algorithm::Ed25519, &[3; 32]);
    let log_key = match signing {
        Signing::With(alg) => Some(SigningKey::from_seed(alg, &[4; 32])),
        Signing::None => None,
    };
    let mut out = Vec::new();
    for &n in &sizes.sizes {
        let mut l = MemLedger::prebuild(n, &signer);
        let k = mode.pick(2000, 500, 2);
        let k = if signing == Signing::None { k * 10 } else { k };
        let mut s = latencies(k, |j| {
            l.append(event(n + j as u64, &signer), log_key.as_ref());
        });
        if let (Some(_), Some(last)) = (&log_key, l.entries.last()) {
            check_envelope(last);
        }
        assert_eq!(l.tree.tree_size(), n + k as u64);
        out.push((n, median(&mut s), percentile(&mut s, 99.0)));
    }
    out
}

fn main() {
    let mode = Mode::from_env();
    let sizes = Sizes {
        sizes: mode.pick(vec![1_000, 10_000, 100_000], vec![1_000, 10_000], vec![100]),
    };
    let dir = support::bench_dir("ledger");
    let started = Instant::now();

    let blux = jsonl(mode, &dir, &sizes);
    let plain = memory(mode, &sizes, Signing::None);
    let ed = memory(mode, &sizes, Signing::With(Algorithm::Ed25519));
    let hybrid = memory(mode, &sizes, Signing::With(Algorithm::Ed25519MlDsa44));

    let mut t = Table::new(
        "Ledger append at size n: blux-reg JSONL re-read (reproduced) vs cairn in memory (per append)",
        &[
            "n",
            "JSONL file",
            "JSONL p50",
            "JSONL p99",
            "cairn, no signature",
            "cairn + Ed25519",
            "cairn + Ed25519/ML-DSA-44",
            "JSONL / cairn hybrid",
        ],
    );
    let tm = |secs: f64| {
        if mode.measures() {
            fmt_time(secs)
        } else {
            "-".to_string()
        }
    };
    for (((b, p), e), h) in blux.iter().zip(&plain).zip(&ed).zip(&hybrid) {
        t.row(vec![
            b.0.to_string(),
            format!("{:.1} MB", b.3 as f64 / 1e6),
            tm(b.1),
            tm(b.2),
            tm(p.1),
            tm(e.1),
            tm(h.1),
            if mode.measures() {
                format!("{:.0}x", b.1 / h.1)
            } else {
                "-".into()
            },
        ]);
    }
    t.print();
    if mode.measures() {
        let mut t = Table::new(
            "cairn in-memory append rate (one append at a time, from the p50 latency)",
            &["n", "no signature", "+ Ed25519", "+ Ed25519/ML-DSA-44"],
        );
        for ((p, e), h) in plain.iter().zip(&ed).zip(&hybrid) {
            t.row(vec![
                p.0.to_string(),
                fmt_rate(1.0 / p.1),
                fmt_rate(1.0 / e.1),
                fmt_rate(1.0 / h.1),
            ]);
        }
        t.print();
    }
    println!(
        "The redb store's durable and batched appends, proofs, open and audit: \
         cargo bench --bench store."
    );

    fs::remove_dir_all(&dir).ok();
    if !mode.measures() {
        println!("ledger benches: every step ran once (test mode, nothing timed)");
    } else {
        println!(
            "ledger benches took {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
}
