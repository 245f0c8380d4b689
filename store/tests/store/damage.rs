//! The damage sweep behind the flat open: a populated registry file, damaged copies of it,
//! every copy classified. Damage: one flipped bit; a range overwritten with random bytes; the
//! file truncated; a page zeroed; a page replaced by another page of the same file; an older
//! copy of the file put back (rolled back), plain or damaged too. The rule: damage anywhere is
//! never returned as valid changed content. The open, a read that touches it (verified reads),
//! or `Registry::check` reports it; or it changed nothing a reader can see (free space,
//! redundant bytes). Never a panic, never a hang (each copy has a deadline).
//!
//! CI runs a sample (a few seconds); `CAIRN_FLIP_TRIALS` (bit flips, default 300) and
//! `CAIRN_DAMAGE_TRIALS` (copies per other kind of damage, default 24) make longer runs.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use cairn_core::crypto::Algorithm;
use cairn_core::manifest::ManifestClaims;
use cairn_core::trust::{Role, RoleSet};
use cairn_store::*;

/// The populated registry, and copies of its file taken (closed) at earlier stages, oldest
/// first: what a rollback would put back.
fn populated_with_history(dir: &Path) -> (PathBuf, Vec<Vec<u8>>) {
    let p = dir.join("pristine.redb");
    let mut older = Vec::new();
    let mut opts = CreateOptions::new("damage.example.test/log", Protection::Insecure);
    opts.log_algorithm = Algorithm::Ed25519;
    let mut reg = Registry::create(&p, opts).unwrap();
    let mut stage = |reg: Registry| {
        drop(reg);
        older.push(std::fs::read(&p).unwrap());
        Registry::open(&p, None).unwrap()
    };
    let key = |reg: &Registry, label: &str, role| {
        reg.generate_key(
            Algorithm::Ed25519,
            &KeySpec::new(label, RoleSet::of(&[role])),
            &Protection::Insecure,
        )
        .unwrap()
    };
    let issuer = key(&reg, "issuer", Role::TokenIssuer);
    let signer = key(&reg, "signer", Role::ManifestSigner);
    let holder = key(&reg, "holder", Role::Peer);
    reg = stage(reg);
    for i in 0..5 {
        let spec = NodeSpec::from_json(&format!(
            r#"{{"id": "node-{i}", "name": "Node {i}", "version": "1.{i}", "capabilities": ["cap.{i}"],
                "signals": ["sig"], "provenance": {{"source": "https://example.test/{i}"}}}}"#
        ))
        .unwrap();
        reg.register_node(&spec).unwrap();
    }
    reg = stage(reg);
    let req = TokenRequest::new(holder.public_key.clone(), "svc", &["read"], 3600);
    let t = reg.issue_token(&issuer.key_id, None, &req).unwrap();
    reg.revoke_token(&t.id, "rotated", &issuer.key_id, None)
        .unwrap();
    reg.issue_token(&issuer.key_id, None, &req).unwrap();
    reg = stage(reg);
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
    reg = stage(reg);
    reg.register_node(
        &NodeSpec::from_json(
            r#"{"id": "late", "name": "Late", "version": "1", "provenance": {"source": "https://example.test/late"}}"#,
        )
        .unwrap(),
    )
    .unwrap();
    drop(reg);
    (p, older)
}

/// Everything a reader can get out of the registry that it vouches for, as text. (Not a
/// checkpoint's `created_at`: the registry's own note of when it signed, which nothing signs,
/// documented so in `StoredCheckpoint`.)
fn everything(reg: &Registry) -> StoreResult<String> {
    let n = reg.tree_size()?;
    let checkpoints: Vec<_> = reg
        .checkpoints()?
        .into_iter()
        .map(|c| (c.size, c.root, c.note, c.key_id))
        .collect();
    Ok(format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        reg.list_keys()?,
        reg.list_nodes()?,
        reg.list_tokens()?,
        reg.list_manifests()?,
        reg.entries(0, n)?,
        checkpoints,
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

impl Tally {
    fn total(&self) -> u32 {
        self.open + self.read + self.check + self.unseen
    }
}

/// What a reader gets from the pristine registry.
struct Truth {
    everything: String,
    lookups: Vec<String>,
    anchor: Vec<u8>,
}

impl Truth {
    fn of(pristine: &Path) -> Truth {
        let reg = Registry::open_read_only(pristine).unwrap();
        Truth {
            everything: everything(&reg).unwrap(),
            lookups: lookups(&reg).unwrap(),
            anchor: std::fs::read(anchor_path(pristine)).unwrap(),
        }
    }
}

/// Classifies one damaged copy at `p`: refused at `open`, by a `read`, by `check`, or
/// `unseen` (nothing a reader sees changed); `CHANGED` (changed content returned as valid)
/// and `UNREPORTED` (a lookup lost an answer and `check` passed) break the rule.
fn classify(p: &Path, want: &Truth) -> &'static str {
    let reg = match Registry::open_read_only(p) {
        Ok(r) => r,
        Err(_) => return "open",
    };
    match everything(&reg) {
        Err(_) => return "read",
        Ok(got) if got != want.everything => {
            let diff = got
                .lines()
                .zip(want.everything.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(usize::MAX);
            eprintln!("changed: line {diff} of everything()");
            if let (Some(a), Some(b)) = (got.lines().nth(diff), want.everything.lines().nth(diff)) {
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
        Ok(got) if got.iter().any(|l| !want.lookups.contains(l)) => return "CHANGED",
        Ok(got) => got.len() < want.lookups.len(),
    };
    drop(reg);
    match Registry::open(p, None).and_then(|mut r| r.check().map(|_| ())) {
        Err(_) => "check",
        Ok(()) if omitted => "UNREPORTED",
        Ok(()) => "unseen",
    }
}

/// How long one damaged copy may take to classify before it counts as a hang.
const DEADLINE: Duration = Duration::from_secs(120);

/// Writes `bytes` as a registry file beside the pristine one's anchor (so that the copy is
/// judged against the head the registry last recorded), classifies it on a thread with a
/// deadline, and adds the outcome to `tally`. A panic, a hang, changed content returned as
/// valid or an unreported omission fails the test, naming `what`.
fn damaged_copy(dir: &Path, truth: &Truth, bytes: &[u8], what: &str, tally: &mut Tally) {
    let p = dir.join(format!("damaged-{}.redb", tally.total()));
    std::fs::write(&p, bytes).unwrap();
    std::fs::write(anchor_path(&p), &truth.anchor).unwrap();
    let (tx, rx) = mpsc::channel();
    let (path, want) = (
        p.clone(),
        Truth {
            everything: truth.everything.clone(),
            lookups: truth.lookups.clone(),
            anchor: Vec::new(),
        },
    );
    let worker = std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(|| classify(&path, &want)).unwrap_or("PANIC");
        let _ = tx.send(outcome);
    });
    let outcome = match rx.recv_timeout(DEADLINE) {
        Ok(o) => o,
        Err(_) => panic!("{what}: no verdict within {DEADLINE:?} (a hang)"),
    };
    worker.join().unwrap();
    match outcome {
        "open" => tally.open += 1,
        "read" => tally.read += 1,
        "check" => tally.check += 1,
        "unseen" => tally.unseen += 1,
        "CHANGED" => panic!("{what}: changed content was returned as valid"),
        other => panic!("{what}: {other}"),
    }
    std::fs::remove_file(&p).unwrap();
    let _ = std::fs::remove_file(anchor_path(&p));
}

/// A deterministic generator (xorshift64) for positions, lengths and bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn trials(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The pristine file and what it holds.
fn setup() -> (tempfile::TempDir, Vec<u8>, Truth, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let (pristine, older) = populated_with_history(dir.path());
    let truth = Truth::of(&pristine);
    let bytes = std::fs::read(&pristine).unwrap();
    (dir, bytes, truth, older)
}

/// redb's page size: the unit of the page-level damage.
const PAGE: usize = 4096;

#[test]
fn every_flipped_bit_is_reported_or_changes_nothing_visible() {
    let (dir, bytes, truth, _) = setup();
    let used: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] != 0).collect();
    let n = trials("CAIRN_FLIP_TRIALS", 300);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut tally = Tally::default();
    // The file's bytes differ from run to run (fresh keys, times), so where the flips land
    // does too: past the first `n` copies the sweep goes on, up to ten times as far, until it
    // has reached both the open and the reads.
    let mut copies = 0;
    while copies < n || (tally.open == 0 || tally.read == 0) && copies < 10 * n {
        copies += 1;
        let state = rng.next();
        let at = used[(state % used.len() as u64) as usize];
        let bit = (state >> 32) % 8;
        let mut copy = bytes.clone();
        copy[at] ^= 1 << bit;
        let what = format!("flip of bit {bit} at byte {at}");
        damaged_copy(dir.path(), &truth, &copy, &what, &mut tally);
    }
    eprintln!(
        "bit-flip sweep over {} used bytes, {copies} copies: {tally:?}",
        used.len()
    );
    assert_eq!(tally.total() as usize, copies);
    assert!(
        tally.open > 0 && tally.read > 0,
        "{tally:?}: the sweep reached both the open and the reads"
    );
}

#[test]
fn ranges_overwritten_with_random_bytes_are_reported_or_change_nothing_visible() {
    let (dir, bytes, truth, _) = setup();
    let n = trials("CAIRN_DAMAGE_TRIALS", 24);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut tally = Tally::default();
    for i in 0..n {
        // Short, medium and page-sized runs, anywhere in the file.
        let len = match i % 3 {
            0 => 1 + rng.below(16),
            1 => 17 + rng.below(496),
            _ => 513 + rng.below(2 * PAGE),
        }
        .min(bytes.len());
        let at = rng.below(bytes.len() - len + 1);
        let mut copy = bytes.clone();
        for b in &mut copy[at..at + len] {
            *b = rng.next() as u8;
        }
        if copy == bytes {
            continue;
        }
        let what = format!("{len} random bytes at {at}");
        damaged_copy(dir.path(), &truth, &copy, &what, &mut tally);
    }
    eprintln!("random-range sweep, {} copies: {tally:?}", tally.total());
    assert!(tally.open + tally.read + tally.check > 0, "{tally:?}");
}

#[test]
fn truncated_copies_are_reported_or_change_nothing_visible() {
    let (dir, bytes, truth, _) = setup();
    let len = bytes.len();
    let mut cuts = vec![0, 1, 63, 64, 512, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE];
    cuts.extend([len / 4, len / 2, 3 * len / 4, len - PAGE, len - 1]);
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    cuts.extend((0..trials("CAIRN_DAMAGE_TRIALS", 24) / 2).map(|_| rng.below(len)));
    cuts.retain(|&c| c < len);
    let mut tally = Tally::default();
    for &cut in &cuts {
        let what = format!("truncated to {cut} of {len} bytes");
        damaged_copy(dir.path(), &truth, &bytes[..cut], &what, &mut tally);
    }
    eprintln!("truncation sweep, {} copies: {tally:?}", tally.total());
    assert_eq!(tally.total() as usize, cuts.len());
    // A file cut inside its header or its first pages does not open.
    assert!(tally.open as usize >= 9.min(cuts.len()), "{tally:?}");
}

/// The indexes of the file's pages that hold anything.
fn used_pages(bytes: &[u8]) -> Vec<usize> {
    bytes
        .chunks(PAGE)
        .enumerate()
        .filter(|(_, p)| p.iter().any(|b| *b != 0))
        .map(|(i, _)| i)
        .collect()
}

/// Up to `n` of `items`, spread over the whole list (all of them when there are fewer).
fn spread<T: Copy>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|i| items[i * items.len() / n]).collect()
}

#[test]
fn zeroed_pages_are_reported_or_change_nothing_visible() {
    let (dir, bytes, truth, _) = setup();
    let pages = used_pages(&bytes);
    let chosen = spread(&pages, trials("CAIRN_DAMAGE_TRIALS", 24));
    let mut tally = Tally::default();
    for &page in &chosen {
        let mut copy = bytes.clone();
        let end = ((page + 1) * PAGE).min(copy.len());
        copy[page * PAGE..end].fill(0);
        let what = format!("page {page} of {} zeroed", pages.len());
        damaged_copy(dir.path(), &truth, &copy, &what, &mut tally);
    }
    eprintln!(
        "zeroed-page sweep, {} of {} used pages: {tally:?}",
        chosen.len(),
        pages.len()
    );
    assert_eq!(tally.total() as usize, chosen.len());
    assert!(
        tally.open > 0,
        "zeroing the header page is refused at open: {tally:?}"
    );
}

#[test]
fn pages_replaced_by_other_pages_are_reported_or_change_nothing_visible() {
    let (dir, bytes, truth, _) = setup();
    let pages = used_pages(&bytes);
    let full: Vec<usize> = pages
        .iter()
        .copied()
        .filter(|p| (p + 1) * PAGE <= bytes.len())
        .collect();
    let n = trials("CAIRN_DAMAGE_TRIALS", 24);
    let mut rng = Rng(0xfeed_f00d_dead_beef);
    let mut tally = Tally::default();
    for _ in 0..n {
        let (dst, src) = (full[rng.below(full.len())], full[rng.below(full.len())]);
        let (d, s) = (dst * PAGE, src * PAGE);
        if bytes[d..d + PAGE] == bytes[s..s + PAGE] {
            continue;
        }
        let mut copy = bytes.clone();
        copy.copy_within(s..s + PAGE, d);
        let what = format!("page {dst} replaced by page {src}");
        damaged_copy(dir.path(), &truth, &copy, &what, &mut tally);
    }
    eprintln!(
        "page-swap sweep over {} pages, {} copies: {tally:?}",
        full.len(),
        tally.total()
    );
    assert!(tally.total() > 0);
}

#[test]
fn older_copies_put_back_are_refused_at_open_plain_or_damaged() {
    let (dir, bytes, truth, older) = setup();
    assert!(older.len() >= 4, "copies from several stages");
    let mut tally = Tally::default();
    let mut rng = Rng(0x5151_5151_5151_5151);
    for (i, copy) in older.iter().enumerate() {
        assert_ne!(copy, &bytes);
        // Plain: the anchor names a larger head; every open refuses with `rolled_back`.
        let p = dir.path().join(format!("older-{i}.redb"));
        std::fs::write(&p, copy).unwrap();
        std::fs::write(anchor_path(&p), &truth.anchor).unwrap();
        for e in [
            Registry::open_read_only(&p).unwrap_err(),
            Registry::open(&p, None).unwrap_err(),
        ] {
            assert_eq!(e.code(), StoreCode::RolledBack, "stage {i}: {e}");
        }
        damaged_copy(
            dir.path(),
            &truth,
            copy,
            &format!("stage {i} copy"),
            &mut tally,
        );
        // Damaged as well: still never accepted.
        let mut damaged = copy.clone();
        let at = rng.below(damaged.len());
        damaged[at] ^= 1 << (rng.next() % 8);
        let what = format!("stage {i} copy with byte {at} flipped");
        damaged_copy(dir.path(), &truth, &damaged, &what, &mut tally);
    }
    eprintln!("rollback sweep, {} copies: {tally:?}", tally.total());
    assert_eq!(
        tally.open,
        tally.total(),
        "every older copy is refused at open"
    );
}
