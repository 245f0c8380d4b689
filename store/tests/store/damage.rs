//! The bit-flip sweep behind the flat open: a populated registry file, one flipped bit per
//! copy, every copy classified. The rule: damage anywhere is never returned as valid changed
//! content. The open, a read that touches it (verified reads), or `Registry::check` reports
//! it; or it changed nothing a reader can see (free space, redundant bytes). Never a panic.

use std::path::{Path, PathBuf};

use cairn_core::crypto::Algorithm;
use cairn_core::manifest::ManifestClaims;
use cairn_core::trust::{Role, RoleSet};
use cairn_store::*;

fn populated(dir: &Path) -> PathBuf {
    let p = dir.join("pristine.redb");
    let mut opts = CreateOptions::new("damage.example.test/log", Protection::Insecure);
    opts.log_algorithm = Algorithm::Ed25519;
    let reg = Registry::create(&p, opts).unwrap();
    let key = |label: &str, role| {
        reg.generate_key(
            Algorithm::Ed25519,
            &KeySpec::new(label, RoleSet::of(&[role])),
            &Protection::Insecure,
        )
        .unwrap()
    };
    let issuer = key("issuer", Role::TokenIssuer);
    let signer = key("signer", Role::ManifestSigner);
    let holder = key("holder", Role::Peer);
    for i in 0..5 {
        let spec = NodeSpec::from_json(&format!(
            r#"{{"id": "node-{i}", "name": "Node {i}", "version": "1.{i}", "capabilities": ["cap.{i}"],
                "signals": ["sig"], "provenance": {{"source": "https://example.test/{i}"}}}}"#
        ))
        .unwrap();
        reg.register_node(&spec).unwrap();
    }
    let req = TokenRequest::new(holder.public_key.clone(), "svc", &["read"], 3600);
    let t = reg.issue_token(&issuer.key_id, None, &req).unwrap();
    reg.revoke_token(&t.id, "rotated", &issuer.key_id, None)
        .unwrap();
    reg.issue_token(&issuer.key_id, None, &req).unwrap();
    reg.write(|tx| {
        tx.sign_manifest(
            &signer.key_id,
            None,
            &ManifestClaims::new(
                "a.bin",
                "application/octet-stream",
                3,
                [5; 32],
                1_800_000_000,
            ),
        )
    })
    .unwrap();
    reg.create_checkpoint().unwrap();
    reg.register_node(
        &NodeSpec::from_json(
            r#"{"id": "late", "name": "Late", "version": "1", "provenance": {"source": "https://example.test/late"}}"#,
        )
        .unwrap(),
    )
    .unwrap();
    drop(reg);
    p
}

/// Everything a reader can get out of the registry, as text.
fn everything(reg: &Registry) -> StoreResult<String> {
    let n = reg.tree_size()?;
    Ok(format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        reg.list_keys()?,
        reg.list_nodes()?,
        reg.list_tokens()?,
        reg.list_manifests()?,
        reg.entries(0, n)?,
        reg.checkpoints()?,
        reg.signed_head(),
    ))
}

/// The index lookups, one answer per line. A damaged index key can make a lookup miss what
/// it should find (an omission only a scan could notice): the lookups must then answer with
/// a subset of the truth, and `Registry::check` must report the damage.
fn lookups(reg: &Registry) -> StoreResult<Vec<String>> {
    let mut out: Vec<String> = reg
        .nodes_by_signal("sig")?
        .iter()
        .map(|n| format!("{n:?}"))
        .collect();
    out.extend(
        reg.nodes_by_capability("cap.3")?
            .iter()
            .map(|n| format!("{n:?}")),
    );
    out.extend(
        reg.manifests_for_artifact(&[5; 32])?
            .iter()
            .map(|m| format!("{m:?}")),
    );
    Ok(out)
}

#[derive(Default, Debug)]
struct Tally {
    open: u32,
    read: u32,
    check: u32,
    unseen: u32,
}

#[test]
fn every_flipped_bit_is_reported_or_changes_nothing_visible() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = populated(dir.path());
    let want = everything(&Registry::open_read_only(&pristine).unwrap()).unwrap();
    let want_lookups = lookups(&Registry::open_read_only(&pristine).unwrap()).unwrap();
    let bytes = std::fs::read(&pristine).unwrap();
    let used: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] != 0).collect();
    let trials: usize = std::env::var("CAIRN_FLIP_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut tally = Tally::default();
    for trial in 0..trials {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let at = used[(state % used.len() as u64) as usize];
        let bit = (state >> 32) % 8;
        let p = dir.path().join(format!("flip-{trial}.redb"));
        let mut copy = bytes.clone();
        copy[at] ^= 1 << bit;
        std::fs::write(&p, &copy).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            let reg = match Registry::open_read_only(&p) {
                Ok(r) => r,
                Err(_) => return "open",
            };
            match everything(&reg) {
                Err(_) => return "read",
                Ok(got) if got != want => {
                    let diff = got
                        .lines()
                        .zip(want.lines())
                        .position(|(a, b)| a != b)
                        .unwrap_or(usize::MAX);
                    eprintln!("changed: line {diff} of everything()");
                    if let (Some(a), Some(b)) = (got.lines().nth(diff), want.lines().nth(diff)) {
                        let at = a
                            .bytes()
                            .zip(b.bytes())
                            .position(|(x, y)| x != y)
                            .unwrap_or(0);
                        eprintln!(
                            "got  ...{}\nwant ...{}",
                            &a[at.saturating_sub(80)..(at + 40).min(a.len())],
                            &b[at.saturating_sub(80)..(at + 40).min(b.len())]
                        );
                    }
                    return "CHANGED";
                }
                Ok(_) => {}
            }
            let omitted = match lookups(&reg) {
                Err(_) => return "read",
                Ok(got) if got.iter().any(|l| !want_lookups.contains(l)) => return "CHANGED",
                Ok(got) => got.len() < want_lookups.len(),
            };
            drop(reg);
            match Registry::open(&p, None).and_then(|mut r| r.check().map(|_| ())) {
                Err(_) => "check",
                Ok(()) if omitted => "UNREPORTED",
                Ok(()) => "unseen",
            }
        });
        match outcome {
            Err(_) => panic!("flip of bit {bit} at byte {at}: a panic escaped"),
            Ok("CHANGED") => {
                panic!("flip of bit {bit} at byte {at}: changed content was returned as valid")
            }
            Ok("open") => tally.open += 1,
            Ok("read") => tally.read += 1,
            Ok("check") => tally.check += 1,
            Ok(_) => tally.unseen += 1,
        }
        std::fs::remove_file(&p).unwrap();
    }
    eprintln!(
        "bit-flip sweep over {} used bytes, {trials} copies: {tally:?}",
        used.len()
    );
    assert_eq!(
        (tally.open + tally.read + tally.check + tally.unseen) as usize,
        trials
    );
    assert!(
        tally.open > 0 && tally.read > 0,
        "{tally:?}: the sweep reached both the open and the reads"
    );
}
