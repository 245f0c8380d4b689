//! The revocation map (cairn-core `revocation`): proof size and verification time against the
//! map's root at 10^3, 10^5 and 10^6 revoked objects (10^6 only in the full run), native, for
//! a revoked object (membership) and for one that is not (non-membership, what a version 2
//! bundle carries for its subject, its signers' keys and its delegation ancestors). Each
//! verification is timed beside one SHA-256 of 65 bytes (a map node hash), interleaved.
//!
//! A second table gives the size of a bundle with its proofs at each map size, against the
//! same bundle without them (version 1): a manifest bundle (two objects proven: the manifest
//! and its signer's key) and a token bundle (the token and its issuer's key), both under the
//! example registry's hybrid checkpoint.
//!
//! Issue bars: non-membership verification in wasm ≤ 0.2 ms at 10^6 revocations (the native
//! figure here is the floor); a bundle with its proofs ≤ 2x a bundle without. `cargo bench --bench revocation` measures; `cargo test --benches`
//! runs it once at a tiny size.

mod support;

use std::time::Duration;

use cairn_core::bundle::example::MemoryRegistry;
use cairn_core::bundle::{revocation_objects, Bundle};
use cairn_core::crypto::{Algorithm, SigningKey};
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
    // The bundles whose size is measured (version 1, and version 2 from the small registry).
    let mut reg = MemoryRegistry::new(1);
    let (manifest, mseq) = reg.sign_artifact("app.tar", b"artifact").expect("signs");
    let holder = SigningKey::from_seed(Algorithm::Ed25519, &[5; 32]);
    let (token, tseq) = reg.issue_token(&holder, "read", 3600).expect("issues");
    let bundles: Vec<(&str, Bundle, Bundle)> =
        [("manifest", manifest, mseq), ("token", token, tseq)]
            .into_iter()
            .map(|(what, env, seq)| {
                let v1 = reg.bundle(seq, env.clone(), vec![]).expect("bundle");
                let v2 = reg.bundle_v2(seq, env, vec![]).expect("bundle v2");
                (what, v1, v2)
            })
            .collect();
    let mut sizes_table = Table::new(
        "Bundle size with its non-revocation proofs (version 2) against the same bundle without (version 1)",
        &["revoked", "bundle", "objects", "v1 bytes", "v2 bytes", "v2 / v1"],
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
        for (what, v1, v2) in &bundles {
            // The registry's own proofs, replaced by proofs from a map of n revocations (an
            // absent object's proof in a map of n, as a registry of that size would carry).
            let mut b = v2.clone();
            let objects = revocation_objects(&b.subject, &b.parents).expect("objects");
            let section = b.revocation.as_mut().expect("a version 2 bundle");
            for (p, (kind, oid)) in section.proofs.iter_mut().zip(&objects) {
                p.proof = map.prove(&map_key(*kind, oid)).to_bytes();
            }
            let (a, c) = (v1.to_bytes().len(), b.to_bytes().len());
            sizes_table.row(vec![
                n.to_string(),
                (*what).into(),
                objects.len().to_string(),
                a.to_string(),
                c.to_string(),
                format!("{:.2}x", c as f64 / a as f64),
            ]);
        }
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
    sizes_table.print();
}
