//! The revocation map (cairn-core `revocation`): proof size and verification time against the
//! map's root at 10^3, 10^5 and 10^6 revoked objects (10^6 only in the full run), native, for
//! a revoked object (membership) and for one that is not (non-membership, what a version 2
//! bundle carries for its subject, its signers' keys and its delegation ancestors). Each
//! verification is timed beside one SHA-256 of 65 bytes (a map node hash), interleaved.
//!
//! Issue bar (for wasm): non-membership verification ≤ 0.2 ms at 10^6 revocations; the native
//! figure here is the floor. `cargo bench --bench revocation` measures; `cargo test --benches`
//! runs it once at a tiny size.

mod support;

use std::time::Duration;

use cairn_core::encoding::sha256;
use cairn_core::revocation::{map_key, MemoryMap, ObjectKind};
use support::{fmt_time, paired, Mode, Table};

fn main() {
    let mode = Mode::from_env();
    let sizes: Vec<u64> = mode.pick(
        vec![1_000, 100_000, 1_000_000],
        vec![1_000, 100_000],
        vec![10, 100],
    );
    let budget = Duration::from_millis(mode.pick(2000, 500, 1));
    let mut t = Table::new(
        "Revocation map proofs (native): size and verification against the root",
        &[
            "revoked",
            "proof",
            "bytes",
            "verify",
            "one node hash",
            "x node hash",
        ],
    );
    let mut map = MemoryMap::new();
    let id = |i: u64| map_key(ObjectKind::Token, &sha256(&[&i.to_be_bytes()]));
    let mut have = 0;
    for &n in &sizes {
        for i in have..n {
            map.insert(id(i), i).expect("distinct keys");
        }
        have = n;
        let root = map.root();
        let present = id(n / 2);
        let absent = id(u64::MAX - n);
        for (what, key) in [("membership", present), ("non-membership", absent)] {
            let proof = map.prove(&key);
            let bytes = proof.to_bytes().len();
            let node = [7u8; 65];
            let p = paired(
                mode,
                budget,
                || {
                    let decoded =
                        cairn_core::revocation::RevocationProof::from_bytes(&proof.to_bytes())
                            .expect("decodes");
                    if what == "membership" {
                        decoded.verify_membership(&root, &key).expect("revoked");
                    } else {
                        decoded
                            .verify_non_membership(&root, &key)
                            .expect("not revoked");
                    }
                },
                || {
                    std::hint::black_box(sha256(&[&node]));
                },
            );
            let shown = |v: String| if mode.measures() { v } else { "-".into() };
            t.row(vec![
                n.to_string(),
                what.into(),
                bytes.to_string(),
                shown(fmt_time(p.a)),
                shown(fmt_time(p.b)),
                shown(format!("{:.0}x", p.ratio())),
            ]);
        }
    }
    t.print();
}
