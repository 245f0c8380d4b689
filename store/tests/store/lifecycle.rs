//! Key lifecycle: a rotated key loses its authority over anything the ledger does not record,
//! in the registry (`verify_token`) and for offline verifiers (the trust root's windows).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_core::bundle::{verify_bundle, BundlePolicy};
use cairn_core::crypto::Algorithm;
use cairn_core::encoding::hex_encode;
use cairn_core::token::VerifyOptions;
use cairn_core::trust::{Role, RoleSet, Thresholds, VerifiedRoot};
use cairn_store::*;

fn code(e: &StoreError) -> &'static str {
    e.code().as_str()
}

/// A registry whose clock the test moves.
fn registry(dir: &std::path::Path, name: &str, clock: &Arc<AtomicU64>) -> Registry {
    let mut reg = Registry::create(
        dir.join(name),
        CreateOptions::new("lifecycle.example.test/log", Protection::Insecure),
    )
    .unwrap();
    let c = clock.clone();
    reg.set_clock(Arc::new(move || c.load(Ordering::SeqCst)));
    reg
}

fn issuer_spec() -> KeySpec {
    KeySpec::new("issuer", RoleSet::of(&[Role::TokenIssuer]))
}

fn request(reg: &Registry) -> TokenRequest {
    let holder = reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("holder", RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )
        .unwrap();
    TokenRequest::new(holder.public_key, "svc.example", &["read"], 100_000)
}

struct Setup {
    _dir: tempfile::TempDir,
    a: Registry,
    b: Registry,
    clock_a: Arc<AtomicU64>,
    clock_b: Arc<AtomicU64>,
    base: u64,
    old: KeyInfo,
    new: KeyInfo,
    /// Issued and recorded by `a` before the rotation.
    before: TokenInfo,
}

/// Registry `a` adds an issuer at base+100, issues a token at base+150, rotates the issuer at
/// base+200. Registry `b` holds a copy of the old issuer's private key (exported before the
/// rotation, as a leak would).
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let clock_a = Arc::new(AtomicU64::new(base));
    let clock_b = Arc::new(AtomicU64::new(base));
    let a = registry(dir.path(), "a.redb", &clock_a);
    let b = registry(dir.path(), "b.redb", &clock_b);
    clock_a.store(base + 100, Ordering::SeqCst);
    let old = a
        .generate_key(Algorithm::Ed25519, &issuer_spec(), &Protection::Insecure)
        .unwrap();
    clock_a.store(base + 150, Ordering::SeqCst);
    let before = a.issue_token(&old.key_id, None, &request(&a)).unwrap();
    let pem = a.export_private_pem(&old.key_id, None).unwrap();
    clock_a.store(base + 200, Ordering::SeqCst);
    let new = a
        .rotate_key(
            &old.key_id,
            None,
            Algorithm::Ed25519,
            WeakerAlgorithm::Refuse,
            &Protection::Insecure,
        )
        .unwrap();
    let copy = b
        .write(|tx| tx.import_private_pem(&pem, &issuer_spec(), &Protection::Insecure))
        .unwrap();
    assert_eq!(copy.key_id, old.key_id);
    Setup {
        _dir: dir,
        a,
        b,
        clock_a,
        clock_b,
        base,
        old,
        new,
        before,
    }
}

/// A token signed by the old key in registry `b` with `not_before` = `at`.
fn mint(s: &Setup, at: u64) -> TokenInfo {
    s.clock_b.store(at, Ordering::SeqCst);
    let t =
        s.b.issue_token(&s.old.key_id, None, &request(&s.b))
            .unwrap();
    assert_eq!(t.claims.not_before, at);
    t
}

#[test]
fn a_rotated_key_cannot_mint_tokens_the_registry_accepts() {
    let s = setup();
    let now = s.base + 1000;
    let opts = VerifyOptions::default();
    // (Minted in time order: a registry's clock never goes back.)
    // Issued exactly at the rotation: the window's end is exclusive.
    let at_rotation = mint(&s, s.base + 200);
    // After the rotation, with a not_before after it: refused by default and with the
    // explicit allowance (outside the key's window).
    let after = mint(&s, s.base + 300);
    let e = s.a.verify_token(&after.envelope, now, &opts).unwrap_err();
    assert_eq!(code(&e), "unauthorized", "{e}");
    assert!(e.to_string().contains("not recorded"), "{e}");
    let e =
        s.a.verify_token_with(&after.envelope, now, &opts, Unrecorded::AllowInKeyWindow)
            .unwrap_err();
    assert_eq!(code(&e), "unauthorized", "{e}");
    assert!(e.to_string().contains("validity window"), "{e}");
    let e =
        s.a.verify_token_with(
            &at_rotation.envelope,
            now,
            &opts,
            Unrecorded::AllowInKeyWindow,
        )
        .unwrap_err();
    assert_eq!(code(&e), "unauthorized", "{e}");
    // The registry that holds the copy records its own token; that does not make `a` accept it.
    assert!(s.b.verify_token(&after.envelope, now, &opts).is_ok());
}

#[test]
fn unrecorded_tokens_are_accepted_only_when_allowed_and_inside_the_window() {
    let s = setup();
    let now = s.base + 1000;
    let opts = VerifyOptions::default();
    // Before the key was added: outside the window.
    let early = mint(&s, s.base + 50);
    // Claiming a time inside the window: refused by default, accepted when allowed (the
    // documented limit: a leaked key can backdate).
    let inside = mint(&s, s.base + 180);
    assert_eq!(
        code(&s.a.verify_token(&inside.envelope, now, &opts).unwrap_err()),
        "unauthorized"
    );
    let v =
        s.a.verify_token_with(&inside.envelope, now, &opts, Unrecorded::AllowInKeyWindow)
            .unwrap();
    assert_eq!(v.id, inside.id);
    assert_eq!(
        code(
            &s.a.verify_token_with(&early.envelope, now, &opts, Unrecorded::AllowInKeyWindow)
                .unwrap_err()
        ),
        "unauthorized"
    );
    // The allowance does not bypass the other checks: expiry still applies.
    assert_eq!(
        code(
            &s.a.verify_token_with(
                &inside.envelope,
                s.base + 200_000,
                &opts,
                Unrecorded::AllowInKeyWindow
            )
            .unwrap_err()
        ),
        "expired"
    );
    // A token whose issuer the registry does not know at all.
    let stranger =
        s.b.generate_key(Algorithm::Ed25519, &issuer_spec(), &Protection::Insecure)
            .unwrap();
    s.clock_b.store(s.base + 180, Ordering::SeqCst);
    let foreign =
        s.b.issue_token(&stranger.key_id, None, &request(&s.b))
            .unwrap();
    assert_eq!(
        code(
            &s.a.verify_token_with(&foreign.envelope, now, &opts, Unrecorded::AllowInKeyWindow)
                .unwrap_err()
        ),
        "unknown_key"
    );
}

#[test]
fn recorded_tokens_of_a_rotated_key_stay_valid_until_revoked() {
    let s = setup();
    let now = s.base + 1000;
    let opts = VerifyOptions::default();
    // Recorded before the rotation: still valid (the documented choice).
    let v = s.a.verify_token(&s.before.envelope, now, &opts).unwrap();
    assert_eq!(v.id, s.before.id);
    // The new key issues and its tokens verify.
    s.clock_a.store(s.base + 300, Ordering::SeqCst);
    let fresh =
        s.a.issue_token(&s.new.key_id, None, &request(&s.a))
            .unwrap();
    assert!(s.a.verify_token(&fresh.envelope, now, &opts).is_ok());
    // The rotated key signs nothing new in its own registry.
    assert_eq!(
        s.a.issue_token(&s.old.key_id, None, &request(&s.a))
            .unwrap_err()
            .code()
            .as_str(),
        "invalid_state"
    );
    // Revoking the old key ends even its recorded tokens.
    let root =
        s.a.generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("root", RoleSet::of(&[Role::Root])),
            &Protection::Insecure,
        )
        .unwrap();
    s.a.revoke_key(&s.old.key_id, "leaked", &root.key_id, None)
        .unwrap();
    assert_eq!(
        code(
            &s.a.verify_token(&s.before.envelope, now, &opts)
                .unwrap_err()
        ),
        "revoked"
    );
}

fn root_spec(reg: &Registry, keys: Vec<cairn_core::crypto::KeyId>) -> TrustRootSpec {
    TrustRootSpec {
        keys,
        thresholds: Thresholds::default()
            .with(Role::Root, 1)
            .with(Role::Checkpoint, 1)
            .with(Role::TokenIssuer, 1),
        expires_at: reg.now() + 86_400,
    }
}

#[test]
fn the_trust_root_closes_a_rotated_keys_window_the_second_after_the_rotation() {
    let s = setup();
    let reg = &s.a;
    let log = reg.log_key_id().unwrap();
    let root = reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("root", RoleSet::of(&[Role::Root])),
            &Protection::Insecure,
        )
        .unwrap();
    let v1 = reg
        .create_trust_root(
            &root_spec(reg, vec![root.key_id, log, s.new.key_id]),
            &[(root.key_id, None)],
        )
        .unwrap();
    let pinned = VerifiedRoot::from_pinned(&v1.envelope).unwrap();
    let now = s.base + 1000;
    // A root that leaves the rotated key out strands what it signed before the rotation.
    let e = verify_bundle(
        &reg.token_bundle(&s.before.id).unwrap(),
        &pinned,
        now,
        &BundlePolicy::default(),
    )
    .unwrap_err();
    assert_eq!(e.code().as_str(), "unknown_key", "{e}");
    // Listing the rotated key keeps it, with its window closed the second after the rotation
    // (what it signed in that second, before the rotation, is logged with that time).
    s.clock_a.store(s.base + 400, Ordering::SeqCst);
    let v2 = reg
        .update_trust_root(
            &root_spec(reg, vec![root.key_id, log, s.new.key_id, s.old.key_id]),
            &[(root.key_id, None)],
        )
        .unwrap();
    let listed = v2
        .root
        .keys
        .iter()
        .find(|k| k.key_id() == s.old.key_id)
        .unwrap();
    assert_eq!(
        (listed.not_before, listed.not_after),
        (s.base + 100, Some(s.base + 201))
    );
    let v = verify_bundle(
        &reg.token_bundle(&s.before.id).unwrap(),
        &pinned,
        now,
        &BundlePolicy::default(),
    )
    .unwrap();
    assert_eq!(v.subject_id, s.before.id);
    // The closed window: the old key is no token issuer after the rotation's second.
    let r = VerifiedRoot::from_pinned(&v2.envelope).unwrap();
    assert!(r
        .keys_for(Role::TokenIssuer, s.base + 200)
        .any(|k| k.key_id() == s.old.key_id));
    assert!(!r
        .keys_for(Role::TokenIssuer, s.base + 201)
        .any(|k| k.key_id() == s.old.key_id));
    // A revoked key is never listed.
    reg.revoke_key(&s.old.key_id, "leaked", &root.key_id, None)
        .unwrap();
    assert_eq!(
        reg.update_trust_root(
            &root_spec(reg, vec![root.key_id, log, s.old.key_id]),
            &[(root.key_id, None)],
        )
        .unwrap_err()
        .code()
        .as_str(),
        "invalid_state"
    );
    reg.audit().unwrap();
}

/// Checkpoints name the trust root current when they are signed; a bundle whose trust chain
/// was stripped (so that a verifier pinned at v1 keeps trusting a key v2 removed) is refused.
#[test]
fn a_stripped_trust_chain_does_not_keep_a_removed_key_trusted() {
    let s = setup();
    let reg = &s.a;
    s.clock_a.store(s.base + 300, Ordering::SeqCst);
    let log = reg.log_key_id().unwrap();
    let root = reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("root", RoleSet::of(&[Role::Root])),
            &Protection::Insecure,
        )
        .unwrap();
    // v1 still lists the old (rotated, leaked) issuer key; the token it issued verifies.
    let v1 = reg
        .create_trust_root(
            &root_spec(reg, vec![root.key_id, log, s.old.key_id, s.new.key_id]),
            &[(root.key_id, None)],
        )
        .unwrap();
    let pinned = VerifiedRoot::from_pinned(&v1.envelope).unwrap();
    let now = s.base + 1000;
    let early = reg.token_bundle(&s.before.id).unwrap();
    let cp = reg.latest_checkpoint().unwrap();
    let line = format!("cairn.trust-root 1 {}", hex_encode(&v1.root.id()));
    assert!(cp.note.contains(&format!("\n{line}\n")), "{}", cp.note);
    let v = verify_bundle(&early, &pinned, now, &BundlePolicy::default()).unwrap();
    assert!(
        v.checks.contains(&"checkpoint_trust_root"),
        "{:?}",
        v.checks
    );

    // v2 removes the old key. Later bundles are under checkpoints naming v2.
    s.clock_a.store(s.base + 400, Ordering::SeqCst);
    let v2 = reg
        .update_trust_root(
            &root_spec(reg, vec![root.key_id, log, s.new.key_id]),
            &[(root.key_id, None)],
        )
        .unwrap();
    reg.create_checkpoint().unwrap();
    let mut bundle = reg.token_bundle(&s.before.id).unwrap();
    assert_eq!(bundle.trust_chain.len(), 2);
    let line = format!("cairn.trust-root 2 {}", hex_encode(&v2.root.id()));
    assert!(bundle.checkpoint.contains(&format!("\n{line}\n")));
    // With the chain: v2 does not know the removed key.
    let e = verify_bundle(&bundle, &pinned, now, &BundlePolicy::default()).unwrap_err();
    assert_eq!(e.code().as_str(), "unknown_key", "{e}");
    // Stripped of v2: the checkpoint names a root the chain does not reach.
    bundle.trust_chain.truncate(1);
    let e = verify_bundle(&bundle, &pinned, now, &BundlePolicy::default()).unwrap_err();
    assert_eq!(e.code().as_str(), "chain_broken", "{e}");
    assert!(e.to_string().contains("reaches only version 1"), "{e}");
    reg.audit().unwrap();
}
