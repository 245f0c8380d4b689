//! The handle registry's client work (cairn-core feature `handle`), natively: what a client
//! pays to solve a proof-of-work challenge at the difficulties a server may set (18 bits is
//! the calibration point docs/SERVICE.md quotes), and to seal and open an identity envelope.
//!
//! A solve costs a random number of work hashes (geometric, mean 2^difficulty), so the table
//! gives the mean, the median and the 90th percentile over many distinct challenges, and the
//! cost of one work hash beside them. The same figures for the wasm build come from
//! `node benches/js/run.mjs --only pow`. `cargo test --benches` runs it once at difficulty 4.

mod support;

use std::time::{Duration, Instant};

use cairn_core::handle::{
    seal, solve, work_hash, Challenge, EnvelopeSecretKey, Keyring, PowSecret, Suite,
};
use support::{fmt_time, median, percentile, timed, Mode, Table};

fn main() {
    let mode = Mode::from_env();
    let secret = PowSecret::from_bytes(&[0x44; 32]).expect("a fixed secret");
    let difficulties: Vec<u8> = mode.pick(vec![12, 16, 18, 20], vec![12, 16, 18], vec![4]);
    let challenges = mode.pick(64u32, 16, 2);
    let mut t = Table::new(
        "Proof of work (native): solve time over distinct challenges",
        &[
            "difficulty",
            "challenges",
            "mean",
            "median",
            "p90",
            "mean hashes",
            "one hash",
        ],
    );
    for &d in &difficulties {
        let mut times = Vec::new();
        let mut hashes = 0u64;
        for i in 0..challenges {
            let mut nonce = [0u8; 16];
            nonce[..4].copy_from_slice(&i.to_le_bytes());
            nonce[4] = d;
            let c = Challenge::issue(&secret, nonce, d, u64::MAX).expect("issues");
            let start = Instant::now();
            let counter = solve(&c, u64::MAX).expect("solvable");
            times.push(start.elapsed().as_secs_f64());
            hashes += counter + 1;
        }
        let one = {
            let c = Challenge::issue(&secret, [9; 16], d, u64::MAX).expect("issues");
            let mut k = 0u64;
            timed(mode, Duration::from_millis(mode.pick(300, 100, 1)), || {
                std::hint::black_box(work_hash(&c, k));
                k += 1;
            })
        };
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let shown = |v: String| if mode.measures() { v } else { "-".into() };
        t.row(vec![
            d.to_string(),
            challenges.to_string(),
            shown(fmt_time(mean)),
            shown(fmt_time(median(&mut times.clone()))),
            shown(fmt_time(percentile(&mut times, 90.0))),
            format!("{:.0}", hashes as f64 / f64::from(challenges)),
            shown(fmt_time(one)),
        ]);
    }
    t.print();

    // Envelopes: seal (a client registering or a server answering a resolve) and open, in
    // each suite.
    let identity = br#"{"handle":"alice","device_pubkey":"0123456789abcdef0123456789abcdef"}"#;
    let budget = Duration::from_millis(mode.pick(1000, 300, 1));
    let mut e = Table::new(
        "Identity envelopes (native, HPKE + ChaCha20-Poly1305, 72-byte identity)",
        &["suite", "seal", "open", "envelope bytes"],
    );
    let shown = |v: f64| {
        if mode.measures() {
            fmt_time(v)
        } else {
            "-".into()
        }
    };
    for suite in [Suite::X25519ChaCha20Poly1305, Suite::XWingChaCha20Poly1305] {
        let key = EnvelopeSecretKey::from_bytes(suite, None, &[0x10; 32]).expect("a fixed key");
        let ring = Keyring::new(key.clone(), Vec::new()).expect("one key");
        let mut n = 0u8;
        let seal_time = timed(mode, budget, || {
            n = n.wrapping_add(1);
            std::hint::black_box(
                seal(&key.public_key(), b"register", b"", identity, &[n; 32]).expect("seals"),
            );
        });
        let sealed = seal(&key.public_key(), b"register", b"", identity, &[1; 32]).expect("seals");
        let open_time = timed(mode, budget, || {
            std::hint::black_box(ring.open(b"register", b"", &sealed).expect("opens"));
        });
        e.row(vec![
            suite.short_name().into(),
            shown(seal_time),
            shown(open_time),
            sealed.len().to_string(),
        ]);
    }
    e.print();
}
