//! Shared pieces of cairn's benches: how a run was asked for (full, quick or a once-only
//! test run), interleaved A/B timing for ratios, and plain-text tables.
//!
//! Ratios are what the benches report against the performance bar, and this machine is shared:
//! a figure taken a minute after another may have run under a different load. So every ratio
//! comes from [`paired`], which alternates the two routines in short rounds and compares the
//! medians, so both sides see the same noise.

#![allow(dead_code)] // each bench uses a different subset

pub mod jsonl;

use std::hint::black_box;
use std::time::{Duration, Instant};

/// How the bench binary was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `cargo bench`: real measurements at every size.
    Full,
    /// `cargo bench` with `CAIRN_BENCH_QUICK=1`: real measurements, fewer rounds, smaller
    /// sizes. For a fast look; not what docs/PERFORMANCE.md records.
    Quick,
    /// `cargo test --benches` or `cargo bench -- --test`: every routine runs once at a tiny
    /// size so the benches keep compiling and working; nothing is timed.
    Test,
}

impl Mode {
    /// Reads the mode the way criterion does: cargo passes `--bench` to bench binaries run by
    /// `cargo bench` and nothing when `cargo test --benches` runs them.
    pub fn from_env() -> Mode {
        let args: Vec<String> = std::env::args().collect();
        let bench = args.iter().any(|a| a == "--bench");
        let test = args.iter().any(|a| a == "--test");
        if !bench || test {
            Mode::Test
        } else if std::env::var_os("CAIRN_BENCH_QUICK").is_some_and(|v| v != "0") {
            Mode::Quick
        } else {
            Mode::Full
        }
    }

    /// True when figures are real measurements.
    pub fn measures(self) -> bool {
        self != Mode::Test
    }

    /// Picks a value by mode.
    pub fn pick<T>(self, full: T, quick: T, test: T) -> T {
        match self {
            Mode::Full => full,
            Mode::Quick => quick,
            Mode::Test => test,
        }
    }
}

/// Median of a sample (sorted in place).
pub fn median(v: &mut [f64]) -> f64 {
    percentile(v, 50.0)
}

/// Nearest-rank percentile of a sample (sorted in place); 0 for an empty sample.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Result of an interleaved comparison.
#[derive(Debug, Clone, Copy)]
pub struct Paired {
    /// Median seconds per call of the first routine.
    pub a: f64,
    /// Median seconds per call of the second routine.
    pub b: f64,
    /// Median over rounds of (a's time / b's time) within the same round: each round's two
    /// timings are adjacent, so a load change between rounds cancels out.
    pub ratio: f64,
}

impl Paired {
    /// The per-round median ratio a / b.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// Both sides scaled by `1 / n` (per element of a batch); the ratio is unchanged.
    pub fn per(&self, n: usize) -> Paired {
        Paired {
            a: self.a / n as f64,
            b: self.b / n as f64,
            ratio: self.ratio,
        }
    }
}

/// Times `a` and `b` alternately (ABBA order, so neither always runs first) for about `budget`
/// in total and returns the median time per call of each and the median per-round ratio. Each round times a batch of calls
/// sized to last about a millisecond, long enough for the clock and short enough that load
/// changes hit both sides alike.
pub fn paired<A: FnMut(), B: FnMut()>(mode: Mode, budget: Duration, mut a: A, mut b: B) -> Paired {
    if !mode.measures() {
        a();
        b();
        return Paired {
            a: 0.0,
            b: 0.0,
            ratio: 0.0,
        };
    }
    let batch_for = |f: &mut dyn FnMut()| {
        f(); // warm caches and lazy statics
        let t = Instant::now();
        let mut n = 0u64;
        while t.elapsed() < Duration::from_millis(20) {
            f();
            n += 1;
        }
        let per = t.elapsed().as_secs_f64() / n as f64;
        ((1e-3 / per).ceil() as u64).max(1)
    };
    let na = batch_for(&mut a);
    let nb = batch_for(&mut b);
    let time = |f: &mut dyn FnMut(), n: u64| {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        t.elapsed().as_secs_f64() / n as f64
    };
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let mut round = 0u64;
    while start.elapsed() < budget || sa.len() < 5 {
        if round.is_multiple_of(2) {
            sa.push(time(&mut a, na));
            sb.push(time(&mut b, nb));
        } else {
            sb.push(time(&mut b, nb));
            sa.push(time(&mut a, na));
        }
        round += 1;
    }
    let mut ratios: Vec<f64> = sa.iter().zip(&sb).map(|(x, y)| x / y).collect();
    Paired {
        ratio: median(&mut ratios),
        a: median(&mut sa),
        b: median(&mut sb),
    }
}

/// Median seconds per call of one routine, timed the way [`paired`] times each side.
pub fn timed<F: FnMut()>(mode: Mode, budget: Duration, mut f: F) -> f64 {
    paired(mode, budget, &mut f, || {}).a
}

/// Times single calls of `f` (each call timed on its own) and returns the samples in seconds.
/// For latency percentiles of operations long enough (tens of microseconds and up) that one
/// clock reading per call is accurate.
pub fn latencies(n: usize, mut f: impl FnMut(usize)) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i);
        out.push(t.elapsed().as_secs_f64());
    }
    black_box(&out);
    out
}

/// Human-readable duration for seconds-per-operation figures.
pub fn fmt_time(secs: f64) -> String {
    if secs == 0.0 {
        "-".into()
    } else if secs < 1e-6 {
        format!("{:.1} ns", secs * 1e9)
    } else if secs < 1e-3 {
        format!("{:.2} µs", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.2} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}

/// Human-readable rate.
pub fn fmt_rate(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.2} M/s", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k/s", per_sec / 1e3)
    } else {
        format!("{per_sec:.1} /s")
    }
}

/// A plain-text table printed with aligned columns.
pub struct Table {
    title: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with a title and column names.
    pub fn new(title: &str, header: &[&str]) -> Table {
        Table {
            title: title.into(),
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells print empty).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Prints the table as GitHub-flavoured Markdown, which reads as a plain table too.
    pub fn print(&self) {
        let cols = self.header.len();
        let mut width = vec![0usize; cols];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(cols) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let line = |r: &Vec<String>| {
            let cells: Vec<String> = (0..cols)
                .map(|i| {
                    let c = r.get(i).map(String::as_str).unwrap_or("");
                    format!("{c}{}", " ".repeat(width[i] - c.chars().count()))
                })
                .collect();
            format!("| {} |", cells.join(" | "))
        };
        println!("\n### {}\n", self.title);
        println!("{}", line(&self.header));
        let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
        println!("|-{}-|", rule.join("-|-"));
        for r in &self.rows {
            println!("{}", line(r));
        }
        println!();
    }
}

/// A fresh scratch directory for one bench run: under `$CAIRN_BENCH_DIR` if set (to measure on
/// a particular disk), else the system temp directory. The caller removes it.
pub fn bench_dir(name: &str) -> std::path::PathBuf {
    let base = std::env::var_os("CAIRN_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("cairn-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench directory");
    dir
}
