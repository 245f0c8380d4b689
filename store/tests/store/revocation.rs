//! The revocation map: every revocation enters it in its own commit, every signed note carries
//! its line, bundles carry proofs against it (version 2), the audit rebuilds it from the
//! ledger, and files written before the map get it built from their ledger.

use std::error::Error;
use std::path::Path;

use cairn_core::bundle::{
    refresh_bundle, verify_bundle, Bundle, BundlePolicy, RefreshPieces, BUNDLE_VERSION_2,
};
use cairn_core::checkpoint::{Checkpoint, RevocationsRef, TrustRootRef};
use cairn_core::crypto::Algorithm;
use cairn_core::note::Note;
use cairn_core::revocation::{empty_root, map_key, MemoryMap, ObjectKind};
use cairn_core::trust::{Role, RoleSet, Thresholds, VerifiedRoot};
use cairn_store::*;
use redb::{Database, ReadableTable, TableDefinition};

const MAP: TableDefinition<&[u8], &[u8]> = TableDefinition::new("revocation_map");

fn line_of(note: &str) -> Option<RevocationsRef> {
    let n = Note::parse(note.as_bytes()).unwrap();
    Checkpoint::parse_text(n.text())
        .unwrap()
        .revocations()
        .unwrap()
}

struct Env {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    reg: Registry,
    issuer: KeyInfo,
    signer: KeyInfo,
    alice: KeyInfo,
    root: KeyInfo,
}

fn key(reg: &Registry, label: &str, roles: &[Role]) -> KeyInfo {
    reg.generate_key(
        Algorithm::Ed25519,
        &KeySpec::new(label, RoleSet::of(roles)),
        &Protection::Insecure,
    )
    .unwrap()
}

/// A trust root over every key of `reg` but the peers' (the log key included), one of each
/// role needed.
fn root_spec(reg: &Registry, expires_at: u64) -> Result<TrustRootSpec, StoreError> {
    Ok(TrustRootSpec {
        keys: reg
            .list_keys()?
            .into_iter()
            .filter(|k| !k.roles.contains(Role::Peer))
            .map(|k| k.key_id)
            .collect(),
        thresholds: Thresholds::default()
            .with(Role::Root, 1)
            .with(Role::Checkpoint, 1)
            .with(Role::TokenIssuer, 1)
            .with(Role::ManifestSigner, 1),
        expires_at,
    })
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.redb");
    let reg = Registry::create(
        &path,
        CreateOptions::new("revocation.example.test/log", Protection::Insecure),
    )
    .unwrap();
    let issuer = key(&reg, "issuer", &[Role::TokenIssuer]);
    let signer = key(&reg, "signer", &[Role::ManifestSigner]);
    let alice = key(&reg, "alice", &[Role::Peer]);
    let root = key(&reg, "root", &[Role::Root]);
    let Ok(spec) = root_spec(&reg, reg.now() + 86_400) else {
        panic!("the registry's keys")
    };
    reg.create_trust_root(&spec, &[(root.key_id, None)])
        .unwrap();
    Env {
        _dir: dir,
        path,
        reg,
        issuer,
        signer,
        alice,
        root,
    }
}

fn pinned(reg: &Registry) -> VerifiedRoot {
    let roots = reg.trust_roots().unwrap();
    VerifiedRoot::from_pinned(&roots[0].envelope).unwrap()
}

fn token(e: &Env, parent: Option<[u8; 32]>) -> TokenInfo {
    let (signer, holder) = match parent {
        None => (&e.issuer, &e.alice),
        Some(_) => (&e.alice, &e.root),
    };
    let mut req = TokenRequest::new(holder.public_key.clone(), "svc.example", &["read"], 3600);
    if parent.is_some() {
        req.audience = None;
        req.ttl = None;
    }
    req.parent = parent;
    e.reg.issue_token(&signer.key_id, None, &req).unwrap()
}

fn code(r: Result<impl Sized, cairn_core::Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.code().as_str().into(),
    }
}

#[test]
fn revocations_enter_the_map_and_every_signed_note_carries_it() {
    let e = env();
    let reg = &e.reg;
    // Signed before any revocation: the empty map.
    let cp = reg.create_checkpoint().unwrap();
    assert_eq!(
        line_of(&cp.note),
        Some(RevocationsRef {
            count: 0,
            root: empty_root()
        })
    );
    let t = token(&e, None);
    let m = reg
        .sign_artifact(
            &e.signer.key_id,
            None,
            "a.bin",
            "application/octet-stream",
            &b"a"[..],
        )
        .unwrap();
    let spare = key(reg, "spare", &[Role::Peer]);
    let mut want = MemoryMap::new();
    let s1 = reg
        .revoke_token(&t.id, "lost", &e.issuer.key_id, None)
        .unwrap();
    want.insert(map_key(ObjectKind::Token, &t.id), s1).unwrap();
    let s2 = reg
        .revoke_manifest(&m.digest, "bad", &e.root.key_id, None)
        .unwrap();
    want.insert(map_key(ObjectKind::Manifest, &m.digest), s2)
        .unwrap();
    let s3 = reg
        .revoke_key(&spare.key_id, "gone", &e.root.key_id, None)
        .unwrap();
    want.insert(map_key(ObjectKind::Key, &spare.key_id.0), s3)
        .unwrap();
    let cp = reg.create_checkpoint().unwrap();
    assert_eq!(
        line_of(&cp.note),
        Some(RevocationsRef {
            count: 3,
            root: want.root()
        })
    );
    // Every stored checkpoint still verifies through the registry's own reads, and so does
    // the audit, which rebuilds the map from the ledger.
    assert!(reg.checkpoints().unwrap().len() >= 3);
    let report = reg.audit().unwrap();
    assert_eq!(report.entries, reg.tree_size().unwrap());
}

#[test]
fn bundles_are_version_2_and_prove_non_revocation_as_of_their_checkpoint() {
    let e = env();
    let reg = &e.reg;
    let t = token(&e, None);
    let child = token(&e, Some(t.id));
    let m = reg
        .sign_artifact(
            &e.signer.key_id,
            None,
            "a.bin",
            "application/octet-stream",
            &b"a"[..],
        )
        .unwrap();
    let unrelated = token(&e, None);
    reg.revoke_token(&unrelated.id, "unrelated", &e.issuer.key_id, None)
        .unwrap();
    let pinned = pinned(reg);
    let now = reg.now();
    let cb = Bundle::from_bytes(&reg.token_bundle(&child.id).unwrap().to_bytes()).unwrap();
    assert_eq!(cb.version, BUNDLE_VERSION_2);
    let v = verify_bundle(&cb, &pinned, now, &BundlePolicy::default()).unwrap();
    let n = v.not_revoked_as_of.unwrap();
    assert_eq!(n.size, v.checkpoint.size);
    assert_eq!(n.revocations, 1);
    // The child, its parent, the issuer's key and alice's (who delegated).
    assert_eq!(n.objects.len(), 4, "{:?}", n.objects);
    let mb = reg.manifest_bundle(&m.digest).unwrap();
    let v = verify_bundle(&mb, &pinned, now, &BundlePolicy::default()).unwrap();
    assert_eq!(v.not_revoked_as_of.unwrap().objects.len(), 2);
    // A maximum age: the checkpoint is dated by its newest entry.
    let fresh = BundlePolicy {
        max_age: Some(3600),
        ..Default::default()
    };
    verify_bundle(&mb, &pinned, now, &fresh).unwrap();
    assert_eq!(
        code(verify_bundle(&mb, &pinned, now + 3601, &fresh)),
        "stale"
    );

    // Revoking the parent: a new export proves the child's ancestor revoked.
    let seq = reg
        .revoke_token(&t.id, "leaked", &e.issuer.key_id, None)
        .unwrap();
    let cb2 = reg.token_bundle(&child.id).unwrap();
    assert!(cb2.inclusion.tree_size > cb.inclusion.tree_size);
    let err = verify_bundle(&cb2, &pinned, now, &BundlePolicy::default()).unwrap_err();
    assert_eq!(err.code().as_str(), "revoked", "{err}");
    assert!(
        err.detail().contains(&format!("ledger entry {seq}")),
        "{err}"
    );
    // The old bundle still says "not revoked as of" its older checkpoint: that is all it says.
    verify_bundle(&cb, &pinned, now, &BundlePolicy::default()).unwrap();
    // A revoked signer key, and a revoked manifest.
    reg.revoke_key(&e.signer.key_id, "compromised", &e.root.key_id, None)
        .unwrap();
    let err = verify_bundle(
        &reg.manifest_bundle(&m.digest).unwrap(),
        &pinned,
        now,
        &BundlePolicy::default(),
    )
    .unwrap_err();
    assert_eq!(err.code().as_str(), "revoked", "{err}");
    reg.audit().unwrap();
}

#[test]
fn an_old_bundle_is_refreshed_with_the_registrys_pieces() {
    let e = env();
    let reg = &e.reg;
    let t = token(&e, None);
    let child = token(&e, Some(t.id));
    let old = reg.token_bundle(&child.id).unwrap();
    // The log grows (and revokes something else); the old bundle's proofs are of its size.
    let unrelated = token(&e, None);
    reg.revoke_token(&unrelated.id, "unrelated", &e.issuer.key_id, None)
        .unwrap();
    let pinned = pinned(reg);
    let now = reg.now();
    let pieces = RefreshPieces::from_bytes(&reg.refresh_pieces(&old).unwrap().to_bytes()).unwrap();
    assert_eq!(pieces.consistency.old_size, old.inclusion.tree_size);
    let fresh = refresh_bundle(&old, &pieces).unwrap();
    assert!(fresh.inclusion.tree_size > old.inclusion.tree_size);
    let v = verify_bundle(&fresh, &pinned, now, &BundlePolicy::default()).unwrap();
    let n = v.not_revoked_as_of.unwrap();
    assert_eq!((n.size, n.revocations), (fresh.inclusion.tree_size, 1));
    // Revoking the parent: the refresh itself reports it.
    let seq = reg
        .revoke_token(&t.id, "leaked", &e.issuer.key_id, None)
        .unwrap();
    let err = refresh_bundle(&fresh, &reg.refresh_pieces(&fresh).unwrap()).unwrap_err();
    assert_eq!(err.code().as_str(), "revoked", "{err}");
    assert!(
        err.detail().contains(&format!("ledger entry {seq}")),
        "{err}"
    );
    // A bundle of another registry (same index, another entry) is not this one's to refresh.
    let other = env();
    let ot = token(&other, None);
    let foreign = other.reg.token_bundle(&ot.id).unwrap();
    let err = reg.refresh_pieces(&foreign).unwrap_err();
    assert_eq!(err.code(), StoreCode::NotFound, "{err}");
}

#[test]
fn a_file_from_before_the_map_gets_it_built_from_its_ledger() {
    let e = env();
    let t = token(&e, None);
    let seq = e
        .reg
        .revoke_token(&t.id, "lost", &e.issuer.key_id, None)
        .unwrap();
    let other = token(&e, None);
    let Env { reg, path, .. } = e;
    drop(reg);
    // As a file written before the table existed: no table, checkpoints and head without line.
    edit(&path, |tx| {
        tx.delete_table(MAP).unwrap();
    });
    let ro = Registry::open_read_only(&path).unwrap();
    ro.audit().unwrap();
    // Read-only, nothing can be built or signed: no checkpoint covers the newest token yet, and
    // none can be made here.
    let e = ro.token_bundle(&other.id).unwrap_err();
    assert_eq!(e.code(), StoreCode::ReadOnly, "{e}");
    drop(ro);
    let reg = Registry::open(&path, None).unwrap();
    let b = reg.token_bundle(&other.id).unwrap();
    assert_eq!(b.version, BUNDLE_VERSION_2);
    let mut want = MemoryMap::new();
    want.insert(map_key(ObjectKind::Token, &t.id), seq).unwrap();
    let line = line_of(&b.checkpoint).unwrap();
    assert_eq!((line.count, line.root), (1, want.root()));
    verify_bundle(&b, &pinned(&reg), reg.now(), &BundlePolicy::default()).unwrap();
    reg.audit().unwrap();
}

/// [`edit`], for a change that may fail.
fn edit_or(
    path: &Path,
    f: impl FnOnce(&redb::WriteTransaction) -> Result<(), Box<dyn Error>>,
) -> Result<(), Box<dyn Error>> {
    let db = Database::open(path)?;
    let tx = db.begin_write()?;
    f(&tx)?;
    tx.commit()?;
    Ok(())
}

fn edit(path: &Path, f: impl FnOnce(&redb::WriteTransaction)) {
    let db = Database::open(path).unwrap();
    let tx = db.begin_write().unwrap();
    f(&tx);
    tx.commit().unwrap();
}

#[test]
fn the_audit_rebuilds_the_map_and_reports_a_stored_map_out_of_step() -> Result<(), Box<dyn Error>> {
    let e = env();
    let t = token(&e, None);
    e.reg.revoke_token(&t.id, "lost", &e.issuer.key_id, None)?;
    let t2 = token(&e, None);
    e.reg.revoke_token(&t2.id, "lost", &e.issuer.key_id, None)?;
    e.reg.create_checkpoint()?;
    e.reg.audit()?;
    let Env { reg, path, .. } = e;
    drop(reg);
    // The map's top record replaced by `f` of it, in a fresh copy of the file.
    let copy = path.with_extension("copy.redb");
    let top = |f: &dyn Fn(Vec<u8>) -> Vec<u8>| -> Result<(), Box<dyn Error>> {
        std::fs::copy(&path, &copy)?;
        edit_or(&copy, |tx| {
            let mut t = tx.open_table(MAP)?;
            let old = t
                .get(b"top".as_slice())?
                .ok_or("the top record")?
                .value()
                .to_vec();
            t.insert(b"top".as_slice(), f(old).as_slice())?;
            Ok(())
        })
    };
    // The stored map loses a revocation (its top record says one fewer).
    top(&|mut v| {
        v[7] -= 1;
        v
    })?;
    // The registry refuses to open it for writing (the next head would sign the edited map);
    // read-only, it opens, and the audit reports the difference.
    let e = Registry::open(&copy, None).unwrap_err();
    assert_eq!(e.code(), StoreCode::Corrupt, "{e}");
    assert!(e.detail().contains("revocation map"), "{e}");
    let err = Registry::open_read_only(&copy)?.audit().unwrap_err();
    assert_eq!(err.code().as_str(), "proof_invalid", "{err}");
    assert!(err.detail().contains("revocation map"), "{err}");
    // Nor a map emptied (a count of 0, no node), which would prove every revocation absent.
    top(&|v| vec![0u8; v.len().min(8)])?;
    let e = Registry::open(&copy, None).unwrap_err();
    assert!(
        e.code() == StoreCode::Corrupt && e.detail().contains("revocation map"),
        "{e}"
    );
    // A branch record edited: the root differs, and the registry refuses to open.
    std::fs::copy(&path, &copy)?;
    edit_or(&copy, |tx| {
        let mut t = tx.open_table(MAP)?;
        let mut branch = None;
        for row in t.iter()? {
            let (k, v) = row?;
            if k.value().len() == 34 {
                branch = Some((k.value().to_vec(), v.value().to_vec()));
                break;
            }
        }
        let (k, mut v) = branch.ok_or("a branch record")?;
        v[0] ^= 1;
        t.insert(k.as_slice(), v.as_slice())?;
        Ok(())
    })?;
    let e = Registry::open(&copy, None).unwrap_err();
    assert_eq!(e.code(), StoreCode::Corrupt, "{e}");
    // The table removed entirely is a file from before the map: the audit accepts it (its
    // signed lines are checked against the ledger).
    std::fs::copy(&path, &copy)?;
    edit_or(&copy, |tx| {
        tx.delete_table(MAP)?;
        Ok(())
    })?;
    Registry::open(&copy, None)?.audit()?;
    Ok(())
}

/// A checkpoint whose claim lines the ledger does not bear out (the revocation map it commits
/// to, the trust root it names) — even one signed by the real log key, of the right tree — is
/// reported by the audit, naming its size.
#[test]
fn the_audit_checks_each_checkpoints_claim_lines_against_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.redb");
    let mut opts = CreateOptions::new("revocation.example.test/log", Protection::Insecure);
    opts.log_algorithm = Algorithm::Ed25519;
    let reg = Registry::create(&path, opts).unwrap();
    let issuer = key(&reg, "issuer", &[Role::TokenIssuer]);
    let alice = key(&reg, "alice", &[Role::Peer]);
    let root = key(&reg, "root", &[Role::Root]);
    let spec = TrustRootSpec {
        keys: vec![root.key_id, reg.log_key_id().unwrap()],
        thresholds: Thresholds::default()
            .with(Role::Root, 1)
            .with(Role::Checkpoint, 1),
        expires_at: reg.now() + 86_400,
    };
    let v1 = reg
        .create_trust_root(&spec, &[(root.key_id, None)])
        .unwrap();
    let req = TokenRequest::new(alice.public_key.clone(), "svc.example", &["read"], 3600);
    let t = reg.issue_token(&issuer.key_id, None, &req).unwrap();
    reg.revoke_token(&t.id, "lost", &issuer.key_id, None)
        .unwrap();
    let cp = reg.create_checkpoint().unwrap();
    assert_eq!(line_of(&cp.note).unwrap().count, 1);
    let named = TrustRootRef {
        version: 1,
        id: v1.root.id(),
    };
    let body = Checkpoint::parse_text(Note::parse(cp.note.as_bytes()).unwrap().text()).unwrap();
    assert_eq!(body.trust_root().unwrap(), Some(named));
    reg.issue_token(&issuer.key_id, None, &req).unwrap();
    reg.create_checkpoint().unwrap();
    reg.audit().unwrap();
    let log = cairn_core::crypto::pem::signing_key_from_pem(
        &reg.export_private_pem(&reg.log_key_id().unwrap(), None)
            .unwrap(),
    )
    .unwrap();
    let origin = reg.origin().to_owned();
    drop(reg);
    // The older checkpoint re-signed with one line rewritten.
    let cases: [(&str, String, &str); 3] = [
        (
            "claims the empty map",
            RevocationsRef {
                count: 0,
                root: empty_root(),
            }
            .to_line(),
            "commits to 0 revocations",
        ),
        (
            "names another root",
            TrustRootRef {
                id: [0x5a; 32],
                ..named
            }
            .to_line(),
            "names trust root version 1 (5a5a",
        ),
        (
            "names a later root",
            TrustRootRef {
                version: 2,
                ..named
            }
            .to_line(),
            "names trust root version 2",
        ),
    ];
    for (name, line, says) in cases {
        let copy = dir.path().join("case.redb");
        std::fs::copy(&path, &copy).unwrap();
        let mut body = body.clone();
        let prefix = &line[..line.find(' ').unwrap() + 1];
        body.extensions.retain(|l| !l.starts_with(prefix));
        body.extensions.push(line.clone());
        let forged = body.sign(&[(origin.as_str(), &log)]).unwrap();
        const CHECKPOINTS: TableDefinition<u64, &[u8]> = TableDefinition::new("checkpoints");
        edit(&copy, |tx| {
            let mut t = tx.open_table(CHECKPOINTS).unwrap();
            let old = t.get(cp.size).unwrap().unwrap().value().to_vec();
            // postcard: varint length of the note, the note, then the rest of the record.
            let (len, at) = crate::read_varint(&old);
            let rest = &old[at + len..];
            let mut rec = crate::varint(forged.len() as u64);
            rec.extend_from_slice(forged.as_bytes());
            rec.extend_from_slice(rest);
            t.insert(cp.size, rec.as_slice()).unwrap();
        });
        let reg = Registry::open(&copy, None).unwrap();
        let err = reg.audit().unwrap_err();
        assert_eq!(err.code().as_str(), "proof_invalid", "{name}: {err}");
        let at = format!("checkpoint at size {}", cp.size);
        assert!(err.detail().contains(&at), "{name}: {err}");
        assert!(err.detail().contains(says), "{name}: {err}");
    }
}

/// The map changes with its revocations' commit or not at all: revocations in one batch enter
/// together, a batch that fails leaves the map as it was, and a refused revocation adds nothing.
#[test]
fn map_updates_commit_or_roll_back_with_their_revocations() {
    let e = env();
    let reg = &e.reg;
    let tokens: Vec<TokenInfo> = (0..3).map(|_| token(&e, None)).collect();
    let line = |reg: &Registry| line_of(&reg.create_checkpoint().unwrap().note).unwrap();
    let before = line(reg);
    // A batch that fails after two revocations writes nothing.
    let err = reg
        .write(|tx| {
            tx.revoke_token(&tokens[0].id, "a", &e.issuer.key_id, None)?;
            tx.revoke_token(&tokens[1].id, "b", &e.issuer.key_id, None)?;
            tx.revoke_token(&tokens[1].id, "again", &e.issuer.key_id, None)
        })
        .unwrap_err();
    assert_eq!(err.code().as_str(), "invalid_state", "{err}");
    assert_eq!(line(reg), before);
    // A refused revocation (not the issuer's to revoke) adds nothing.
    assert!(reg
        .revoke_token(&tokens[2].id, "x", &e.alice.key_id, None)
        .is_err());
    assert_eq!(line(reg), before);
    // Both in one commit.
    let seqs = reg
        .write(|tx| {
            Ok((
                tx.revoke_token(&tokens[0].id, "a", &e.issuer.key_id, None)?,
                tx.revoke_token(&tokens[1].id, "b", &e.issuer.key_id, None)?,
            ))
        })
        .unwrap();
    let mut want = MemoryMap::new();
    want.insert(map_key(ObjectKind::Token, &tokens[0].id), seqs.0)
        .unwrap();
    want.insert(map_key(ObjectKind::Token, &tokens[1].id), seqs.1)
        .unwrap();
    assert_eq!(
        line(reg),
        RevocationsRef {
            count: 2,
            root: want.root()
        }
    );
    reg.audit().unwrap();
}

/// Revoking a key refuses every token it signed, a delegation included: the delegating key
/// (alice, holder of the parent) is revoked, so the child is refused, in the registry as by an
/// offline verifier of its bundle. The parent, bound to alice's key, is refused by the
/// registry too (its proofs of possession would be signed by the revoked key); its bundle,
/// which proves its signers' keys only, still verifies offline.
#[test]
fn revoking_a_delegating_key_refuses_what_it_delegated() -> Result<(), Box<dyn Error>> {
    let e = env();
    let reg = &e.reg;
    let t = token(&e, None);
    let child = token(&e, Some(t.id));
    let bundle = reg.token_bundle(&child.id)?;
    let now = reg.now();
    let opts = cairn_core::token::VerifyOptions::default();
    reg.verify_token(&child.envelope, now, &opts)?;
    reg.revoke_key(&e.alice.key_id, "leaked", &e.root.key_id, None)?;
    let err = reg.verify_token(&child.envelope, now, &opts).unwrap_err();
    assert_eq!(err.code().as_str(), "revoked", "{err}");
    let err = reg.verify_token(&t.envelope, now, &opts).unwrap_err();
    assert_eq!(err.code().as_str(), "revoked", "{err}");
    assert!(err.detail().contains("holder"), "{err}");
    let pinned = pinned(reg);
    verify_bundle(
        &reg.token_bundle(&t.id)?,
        &pinned,
        now,
        &BundlePolicy::default(),
    )?;
    let fresh = reg.token_bundle(&child.id)?;
    let err = verify_bundle(&fresh, &pinned, now, &BundlePolicy::default()).unwrap_err();
    assert_eq!(err.code().as_str(), "revoked", "{err}");
    verify_bundle(&bundle, &pinned, now, &BundlePolicy::default())?;
    Ok(())
}

/// A key past its expiry delegates nothing: a delegation is something new it signs, refused
/// (`expired`) as a root token from an expired issuer is.
#[test]
fn an_expired_key_delegates_nothing() -> Result<(), Box<dyn Error>> {
    let mut e = env();
    let now = e.reg.now();
    let clock = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(now));
    let c = clock.clone();
    e.reg.set_clock(std::sync::Arc::new(move || {
        c.load(std::sync::atomic::Ordering::SeqCst)
    }));
    let mut spec = KeySpec::new("dave", RoleSet::of(&[Role::Peer]));
    spec.expires_at = Some(now + 10);
    let dave = e
        .reg
        .generate_key(Algorithm::Ed25519, &spec, &Protection::Insecure)?;
    let req = TokenRequest::new(dave.public_key.clone(), "svc.example", &["read"], 3600);
    let parent = e.reg.issue_token(&e.issuer.key_id, None, &req)?;
    let mut child = TokenRequest::new(e.alice.public_key.clone(), "svc.example", &["read"], 60);
    (child.audience, child.ttl, child.parent) = (None, None, Some(parent.id));
    e.reg.issue_token(&dave.key_id, None, &child)?;
    clock.store(now + 10, std::sync::atomic::Ordering::SeqCst);
    let err = e.reg.issue_token(&dave.key_id, None, &child).unwrap_err();
    assert_eq!(err.code().as_str(), "expired", "{err}");
    Ok(())
}

/// A token issued in the same second as its issuer key is then rotated verifies offline under
/// the trust root that lists the rotated key: the key's window ends the second after its
/// rotation (entry times have one-second resolution), not at it.
#[test]
fn a_token_issued_in_the_second_its_key_is_rotated_verifies_offline() -> Result<(), Box<dyn Error>>
{
    let mut e = env();
    let now = e.reg.now();
    e.reg.set_clock(std::sync::Arc::new(move || now));
    let t = token(&e, None);
    e.reg.rotate_key(
        &e.issuer.key_id,
        None,
        Algorithm::Ed25519,
        WeakerAlgorithm::Refuse,
        &Protection::Insecure,
    )?;
    let spec = root_spec(&e.reg, now + 86_400)?;
    e.reg.update_trust_root(&spec, &[(e.root.key_id, None)])?;
    let bundle = e.reg.token_bundle(&t.id)?;
    verify_bundle(&bundle, &pinned(&e.reg), now, &BundlePolicy::default())?;
    Ok(())
}
