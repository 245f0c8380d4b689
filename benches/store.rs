//! Store benches: the redb-backed `Registry` (crate cairn-store).
//!
//! - single durable operations (one `register_node` per `Registry::write`, which commits with
//!   `Durability::Immediate` and two-phase commit), p50/p99, interleaved with a bare redb
//!   durable commit that writes the same bytes (the stored entry envelope and two tree
//!   hashes), with and without two-phase commit (the rollback anchor's confirmation, which
//!   follows an operation in the background, is waited for untimed before the bare commits);
//!   then the same number of operations back to back, their mean time;
//! - batched operations (many `register_node` in one `write`), operations per second;
//! - inclusion and consistency proof generation, `Registry::open` (flat: the signed head
//!   against the stored tree) and a verified read beside an unverified one, at 10^4 to 10^7
//!   entries (10^7 only in the full run);
//! - the full audit, entries per second;
//! - a single durable operation beside blux-reg's JSONL re-read append at 10^5 entries.
//!
//! The log key signs one tree head per commit, not each entry, so every registry here uses
//! the default log key (Ed25519 + ML-DSA-44) except where a row says otherwise; the size
//! sweep is filled in batches of 10^5 operations per commit. `cargo bench --bench store` measures; `cargo test
//! --benches` runs every step once at a tiny size. See docs/PERFORMANCE.md.

mod support;

use std::fs;
use std::path::Path;
use std::time::Instant;

use cairn_core::crypto::Algorithm;
use cairn_store::{CreateOptions, NodeSpec, Protection, Provenance, Registry};
use redb::{Database, Durability, TableDefinition};
use support::jsonl::{blux_append, blux_prebuild};
use support::{fmt_rate, fmt_time, median, percentile, Mode, Table};

const ORIGIN: &str = "bench.example/registry";

/// Node ids cycle through this many names, so re-registration replaces a spec and the state
/// tables stay small while the ledger grows.
const NODE_IDS: u64 = 1000;

fn spec(i: u64) -> NodeSpec {
    NodeSpec {
        id: format!("node-{}", i % NODE_IDS),
        name: format!("Bench node {i}"),
        version: format!("1.{}.0", i % 100),
        capabilities: vec!["verify".into(), "publish".into()],
        signals: vec!["heartbeat".into()],
        endpoints: Vec::new(),
        provenance: Provenance {
            source: "https://example.invalid/bench/node".into(),
            sha256: None,
            manifest: None,
        },
    }
}

fn create(path: &Path, alg: Algorithm) -> Registry {
    let mut opts = CreateOptions::new(ORIGIN, Protection::Insecure);
    opts.log_algorithm = alg;
    Registry::create(path, opts).expect("registry creates")
}

/// Fills `reg` up to `n` entries in batches of `batch` operations per commit.
fn fill(reg: &Registry, n: u64, batch: u64) {
    let mut size = reg.tree_size().expect("size");
    while size < n {
        let k = batch.min(n - size);
        reg.write(|tx| {
            for i in size..size + k {
                tx.register_node(&spec(i))?;
            }
            Ok(())
        })
        .expect("batch commits");
        size += k;
    }
}

// ---------------------------------------------------------------------------------------
// Bare redb: one durable commit of the same bytes
// ---------------------------------------------------------------------------------------

const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
const TREE: TableDefinition<(u8, u64), [u8; 32]> = TableDefinition::new("tree");

struct BareRedb {
    db: Database,
    next: u64,
    value: Vec<u8>,
}

impl BareRedb {
    fn new(path: &Path, value_len: usize) -> BareRedb {
        BareRedb {
            db: Database::create(path).expect("redb creates"),
            next: 0,
            value: vec![0x5a; value_len],
        }
    }

    /// One durable commit: the entry bytes and two tree hashes, as an append stores.
    fn commit(&mut self, two_phase: bool) {
        let mut tx = self.db.begin_write().expect("write transaction");
        tx.set_durability(Durability::Immediate)
            .expect("durability");
        tx.set_two_phase_commit(two_phase);
        {
            let mut e = tx.open_table(ENTRIES).expect("table");
            e.insert(self.next, self.value.as_slice()).expect("insert");
            let mut t = tx.open_table(TREE).expect("table");
            t.insert((0, self.next), [1; 32]).expect("insert");
            t.insert((1, self.next / 2), [2; 32]).expect("insert");
        }
        tx.commit().expect("commit");
        self.next += 1;
    }
}

// ---------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------

/// p50 and p99 of a sample, in seconds.
fn p50_p99(mut v: Vec<f64>) -> (f64, f64) {
    let p99 = percentile(&mut v, 99.0);
    (median(&mut v), p99)
}

fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

struct Single {
    alg: Algorithm,
    anchor: bool,
    op: (f64, f64),
    /// Mean time of one operation when they run back to back (no bare commit between them, the
    /// anchor's confirmations not waited for): what a caller doing nothing else sees.
    back_to_back: f64,
    bare: (f64, f64),
    bare_2pc: (f64, f64),
    entry_len: usize,
}

/// Single durable operations on a registry of about 1000 entries, interleaved with bare
/// redb commits of the same size (one of each in turn, so both see the same disk and load),
/// then as many operations back to back.
fn single_ops(mode: Mode, dir: &Path, alg: Algorithm, anchor: bool) -> Single {
    let path = dir.join(format!("single-{}-{anchor}.redb", alg.id()));
    let mut opts = CreateOptions::new(ORIGIN, Protection::Insecure);
    opts.log_algorithm = alg;
    opts.anchor = anchor;
    let reg = Registry::create(&path, opts).expect("registry creates");
    fill(&reg, mode.pick(1000, 1000, 10), 500);
    let seq = reg.tree_size().expect("size") - 1;
    let entry_len = reg.entry(seq).expect("entry").envelope.to_compact().len();
    let mut bare = BareRedb::new(&dir.join("bare.redb"), entry_len);
    let mut bare2 = BareRedb::new(&dir.join("bare-2pc.redb"), entry_len);
    let k = mode.pick(300, 100, 2);
    let (mut op, mut b1, mut b2) = (Vec::new(), Vec::new(), Vec::new());
    let base = reg.tree_size().expect("size");
    for i in 0..k {
        op.push(time(|| {
            reg.register_node(&spec(base + i))
                .expect("operation commits");
        }));
        // The anchor's confirmation follows the commit in the background; it must not land on
        // the bare commits timed next.
        reg.settle_anchor();
        b1.push(time(|| bare.commit(false)));
        b2.push(time(|| bare2.commit(true)));
    }
    let start = Instant::now();
    for i in k..2 * k {
        reg.register_node(&spec(base + i))
            .expect("operation commits");
    }
    let back_to_back = start.elapsed().as_secs_f64() / k as f64;
    drop(reg);
    for f in ["bare.redb", "bare-2pc.redb"] {
        fs::remove_file(dir.join(f)).ok();
    }
    fs::remove_file(&path).ok();
    fs::remove_file(path.with_extension("redb.anchor")).ok();
    Single {
        alg,
        anchor,
        op: p50_p99(op),
        back_to_back,
        bare: p50_p99(b1),
        bare_2pc: p50_p99(b2),
        entry_len,
    }
}

/// Operations per second when `batch` operations share one commit.
fn batched(mode: Mode, dir: &Path, alg: Algorithm, batch: u64) -> f64 {
    let path = dir.join(format!("batch-{}-{batch}.redb", alg.id()));
    let reg = create(&path, alg);
    let rounds = mode.pick(3, 2, 1);
    let mut rates = Vec::new();
    for _ in 0..rounds {
        let size = reg.tree_size().expect("size");
        let secs = time(|| fill(&reg, size + batch, batch));
        rates.push(batch as f64 / secs);
    }
    drop(reg);
    fs::remove_file(&path).ok();
    median(&mut rates)
}

struct AtSize {
    n: u64,
    file_mb: f64,
    fill_rate: f64,
    inclusion: f64,
    consistency: f64,
    open: f64,
    audit_rate: Option<f64>,
    single_p50: f64,
    read_verified: f64,
    read_unverified: f64,
}

/// Fills a registry (default log key) to each size in turn and measures proofs, open, the
/// audit, reads and a single durable operation there.
fn sweep(mode: Mode, dir: &Path, sizes: &[u64], audit_max: u64) -> Vec<AtSize> {
    let path = dir.join("sweep.redb");
    let mut out = Vec::new();
    let mut reg = Some(create(&path, Algorithm::Ed25519MlDsa44));
    for &n in sizes {
        let r = reg.take().expect("registry is open");
        let before = r.tree_size().expect("size");
        let fill_secs = time(|| fill(&r, n, mode.pick(100_000, 100_000, 100)));
        let fill_rate = (n - before) as f64 / fill_secs;
        r.create_checkpoint().expect("checkpoint");
        let size = r.tree_size().expect("size");

        // Proofs for spread-out leaves (a cheap LCG, so the reads are not all cached paths).
        let calls = mode.pick(2000, 500, 3);
        let mut x = 12345u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) % size
        };
        let mut inc = Vec::new();
        let mut con = Vec::new();
        for _ in 0..calls {
            let leaf = next();
            inc.push(time(|| {
                r.inclusion_proof(leaf, size).expect("inclusion proof");
            }));
            let old = next().max(1);
            con.push(time(|| {
                r.consistency_proof(old, size).expect("consistency proof");
            }));
        }

        // A node record read with and without its check against the ledger (interleaved).
        let (mut ver, mut unver) = (Vec::new(), Vec::new());
        for _ in 0..mode.pick(2000, 500, 3) {
            let id = format!("node-{}", next() % NODE_IDS.min(size - 1).max(1));
            ver.push(time(|| {
                r.node(&id).expect("verified read");
            }));
            unver.push(time(|| {
                r.node_unverified(&id).expect("unverified read");
            }));
        }

        let single_p50 = {
            let k = mode.pick(100, 30, 1);
            let samples: Vec<f64> = (0..k)
                .map(|i| {
                    time(|| {
                        r.register_node(&spec(size + i)).expect("operation commits");
                    })
                })
                .collect();
            p50_p99(samples).0
        };

        let audit_rate = if n <= audit_max {
            let mut entries = 0;
            let secs = time(|| entries = r.audit().expect("audit passes").entries);
            Some(entries as f64 / secs)
        } else {
            None
        };

        drop(r);
        let file_mb = fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
        let mut opens = Vec::new();
        let mut last = None;
        for _ in 0..mode.pick(3, 2, 1) {
            drop(last.take());
            opens.push(time(|| {
                last = Some(Registry::open(&path, None).expect("registry opens"));
            }));
        }
        reg = last;
        out.push(AtSize {
            n,
            file_mb,
            fill_rate,
            inclusion: p50_p99(inc).0,
            consistency: p50_p99(con).0,
            open: median(&mut opens),
            audit_rate,
            single_p50,
            read_verified: p50_p99(ver).0,
            read_unverified: p50_p99(unver).0,
        });
    }
    drop(reg);
    fs::remove_file(&path).ok();
    out
}

/// The audit of a registry filled with the default (hybrid) log key, entries per second.
fn hybrid_audit(mode: Mode, dir: &Path) -> (u64, f64) {
    let path = dir.join("audit-hybrid.redb");
    let reg = create(&path, Algorithm::Ed25519MlDsa44);
    fill(&reg, mode.pick(10_000, 2_000, 20), 1000);
    let mut entries = 0;
    let secs = time(|| entries = reg.audit().expect("audit passes").entries);
    drop(reg);
    fs::remove_file(&path).ok();
    (entries, entries as f64 / secs)
}

/// blux-reg's re-read append at `n` entries beside a single durable store operation on a
/// registry of `n` entries (default hybrid log key is not needed: the fill is Ed25519, the
/// operations measured are too; the hybrid single-op figure is in the first table).
fn jsonl_vs_store(mode: Mode, dir: &Path, n: u64) -> (f64, f64) {
    let jpath = dir.join("ledger.jsonl");
    blux_prebuild(&jpath, n);
    let rpath = dir.join("jsonl-peer.redb");
    let reg = create(&rpath, Algorithm::Ed25519MlDsa44);
    // Filling a hybrid registry to 10^5 one signature at a time takes about half a minute.
    fill(&reg, n, 5000);
    let k = mode.pick(10, 5, 1);
    let (mut j, mut s) = (Vec::new(), Vec::new());
    for i in 0..k {
        j.push(time(|| {
            blux_append(&jpath, n + i);
        }));
        s.push(time(|| {
            reg.register_node(&spec(n + i)).expect("operation commits");
        }));
    }
    drop(reg);
    fs::remove_file(&jpath).ok();
    fs::remove_file(&rpath).ok();
    (p50_p99(j).0, p50_p99(s).0)
}

/// Whether a part runs: `CAIRN_STORE_BENCH=single,batched,sweep,audit,jsonl` picks parts
/// (default all).
fn part(name: &str) -> bool {
    std::env::var("CAIRN_STORE_BENCH").map_or(true, |v| v.split(',').any(|p| p.trim() == name))
}

fn main() {
    let mode = Mode::from_env();
    let dir = support::bench_dir("store");
    let started = Instant::now();
    let tm = |secs: f64| {
        if mode.measures() {
            fmt_time(secs)
        } else {
            "-".to_string()
        }
    };
    let ratio = |a: f64, b: f64| {
        if mode.measures() {
            format!("{:.2}x", a / b)
        } else {
            "-".to_string()
        }
    };

    // 1. Single durable operations.
    if part("single") {
        let mut t = Table::new(
        "Single durable operation (register_node, one write each) vs bare redb durable commit of the same bytes",
        &[
            "log key",
            "rollback anchor",
            "entry bytes",
            "store p50",
            "store p99",
            "bare redb p50",
            "bare redb p99",
            "bare redb 2PC p50",
            "store / bare (p50)",
            "store / bare 2PC (p50)",
            "store back to back (mean)",
        ],
    );
        for (alg, anchor) in [
            (Algorithm::Ed25519MlDsa44, true),
            (Algorithm::Ed25519MlDsa44, false),
            (Algorithm::Ed25519, true),
            (Algorithm::Ed25519, false),
        ] {
            let s = single_ops(mode, &dir, alg, anchor);
            t.row(vec![
                s.alg.name().into(),
                if s.anchor { "on" } else { "off" }.into(),
                s.entry_len.to_string(),
                tm(s.op.0),
                tm(s.op.1),
                tm(s.bare.0),
                tm(s.bare.1),
                tm(s.bare_2pc.0),
                ratio(s.op.0, s.bare.0),
                ratio(s.op.0, s.bare_2pc.0),
                tm(s.back_to_back),
            ]);
        }
        t.print();
    }

    // 2. Batched operations.
    if part("batched") {
        let mut t = Table::new(
            "Batched operations (register_node, many per write)",
            &["log key", "batch", "operations/s"],
        );
        for alg in [Algorithm::Ed25519MlDsa44, Algorithm::Ed25519] {
            for batch in mode.pick(vec![100, 1000, 10_000, 100_000], vec![1000], vec![5]) {
                let rate = batched(mode, &dir, alg, batch);
                t.row(vec![
                    alg.name().into(),
                    batch.to_string(),
                    if mode.measures() {
                        fmt_rate(rate)
                    } else {
                        "-".into()
                    },
                ]);
            }
        }
        t.print();
    }

    // 3. Proofs, open and audit by size.
    if part("sweep") {
        let sizes = mode.pick(
            vec![10_000, 100_000, 1_000_000, 10_000_000],
            vec![10_000, 100_000],
            vec![50, 120],
        );
        // CAIRN_STORE_SWEEP_MAX caps the sweep (filling 10^7 entries takes a while on 2 cores).
        let cap: u64 = std::env::var("CAIRN_STORE_SWEEP_MAX")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX);
        let sizes: Vec<u64> = sizes.into_iter().filter(|&n| n <= cap).collect();
        let audit_max = mode.pick(1_000_000, 100_000, 1_000);
        let rows = sweep(mode, &dir, &sizes, audit_max);
        let mut t = Table::new(
        "By ledger size (default log key; p50 over random leaves/nodes; open = Registry::open, flat)",
        &[
            "entries",
            "file",
            "fill (batches of 10^5)",
            "inclusion proof",
            "consistency proof",
            "open",
            "read (verified)",
            "read (unverified)",
            "verified / unverified",
            "single op p50",
            "audit",
        ],
    );
        for r in &rows {
            t.row(vec![
                r.n.to_string(),
                format!("{:.0} MB", r.file_mb),
                if mode.measures() {
                    fmt_rate(r.fill_rate)
                } else {
                    "-".into()
                },
                tm(r.inclusion),
                tm(r.consistency),
                tm(r.open),
                tm(r.read_verified),
                tm(r.read_unverified),
                ratio(r.read_verified, r.read_unverified),
                tm(r.single_p50),
                match (r.audit_rate, mode.measures()) {
                    (Some(a), true) => format!("{} entries", fmt_rate(a)),
                    (Some(_), false) => "-".into(),
                    (None, _) => "not run".into(),
                },
            ]);
        }
        t.print();
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            if mode.measures() && first.n != last.n {
                println!(
                "From {} to {} entries: inclusion proof x{:.2}, consistency proof x{:.2}, open x{:.2}.\n",
                first.n,
                last.n,
                last.inclusion / first.inclusion,
                last.consistency / first.consistency,
                last.open / first.open
            );
            }
        }
    }

    // 4. Audit with the default hybrid log key.
    if part("audit") {
        let (n, rate) = hybrid_audit(mode, &dir);
        let mut t = Table::new(
            "Full audit, default log key",
            &["log key", "entries", "audit"],
        );
        t.row(vec![
            Algorithm::Ed25519MlDsa44.name().into(),
            n.to_string(),
            if mode.measures() {
                format!("{} entries", fmt_rate(rate))
            } else {
                "-".into()
            },
        ]);
        t.print();
    }

    // 5. Beside blux-reg's JSONL ledger.
    if part("jsonl") {
        let n = mode.pick(100_000, 10_000, 50);
        let (jsonl, store) = jsonl_vs_store(mode, &dir, n);
        let mut t = Table::new(
        "blux-reg JSONL re-read append (reproduced, no fsync) vs one durable store operation (hybrid log key), interleaved",
        &["entries", "JSONL append p50", "store operation p50", "JSONL / store"],
    );
        t.row(vec![
            n.to_string(),
            tm(jsonl),
            tm(store),
            ratio(jsonl, store),
        ]);
        t.print();
    }

    fs::remove_dir_all(&dir).ok();
    if !mode.measures() {
        println!("store benches: every step ran once (test mode, nothing timed)");
    } else {
        println!(
            "store benches took {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
}
