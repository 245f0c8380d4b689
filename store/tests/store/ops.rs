//! Every registry operation on a real file: success paths and failure paths.

use cairn_core::bundle::{verify_bundle, Bundle, BundlePolicy};
use cairn_core::crypto::{pem, Algorithm, KeyId, SigningKey};
use cairn_core::manifest::ArtifactCheck;
use cairn_core::token::{ConstraintValue, VerifyOptions};
use cairn_core::trust::{Role, RoleSet, Thresholds, VerifiedRoot};
use cairn_store::*;

fn pass() -> Passphrase {
    Passphrase::new("correct horse")
}

fn sealed() -> Protection {
    Protection::Passphrase(pass(), KdfParams::INSECURE_FAST)
}

fn code(e: impl std::borrow::Borrow<StoreError>) -> String {
    e.borrow().code().as_str().to_owned()
}

struct Env {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    reg: Registry,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/registry.redb");
    let reg =
        Registry::create(&path, CreateOptions::new("ops.example.test/log", sealed())).unwrap();
    Env {
        _dir: dir,
        path,
        reg,
    }
}

fn key(reg: &Registry, label: &str, roles: &[Role], alg: Algorithm) -> KeyInfo {
    reg.generate_key(alg, &KeySpec::new(label, RoleSet::of(roles)), &sealed())
        .unwrap()
}

fn node(id: &str, caps: &[&str], sigs: &[&str]) -> NodeSpec {
    NodeSpec {
        id: id.into(),
        name: format!("Node {id}"),
        version: "1.0.0".into(),
        capabilities: caps.iter().map(|s| (*s).to_owned()).collect(),
        signals: sigs.iter().map(|s| (*s).to_owned()).collect(),
        endpoints: vec![Endpoint {
            name: "api".into(),
            url: format!("https://{id}.example.test/"),
        }],
        provenance: Provenance {
            source: "https://example.test/src".into(),
            sha256: None,
            manifest: None,
        },
    }
}

#[test]
fn create_open_and_default_path() {
    let e = env();
    assert_eq!(e.reg.tree_size().unwrap(), 1);
    assert_eq!(e.reg.latest_checkpoint().unwrap().size, 1);
    drop(e.reg);
    // Without the passphrase: readable, not writable.
    let ro = Registry::open(&e.path, None).unwrap();
    assert!(!ro.is_writable());
    assert_eq!(
        code(ro.create_checkpoint().unwrap_err()),
        "passphrase_required"
    );
    assert_eq!(
        code(ro.unlock(&Passphrase::new("wrong")).unwrap_err()),
        "bad_passphrase"
    );
    ro.unlock(&pass()).unwrap();
    ro.create_checkpoint().unwrap();
    drop(ro);
    assert_eq!(
        code(Registry::open(&e.path, Some(&Passphrase::new("x"))).unwrap_err()),
        "bad_passphrase"
    );
    // Already there.
    let again = Registry::create(
        &e.path,
        CreateOptions::new("ops.example.test/log", sealed()),
    );
    assert_eq!(code(again.unwrap_err()), "already_exists");
    // Missing file, bad origin.
    assert_eq!(
        code(Registry::open(e.path.with_file_name("none.redb"), None).unwrap_err()),
        "not_found"
    );
    let bad = Registry::create(
        e.path.with_file_name("b.redb"),
        CreateOptions::new("has space", Protection::Insecure),
    )
    .unwrap_err();
    assert_eq!(bad.field_name(), Some("origin"));
    // Locked while open.
    let reg = Registry::open(&e.path, Some(&pass())).unwrap();
    assert_eq!(code(Registry::open(&e.path, None).unwrap_err()), "locked");
    drop(reg);
    // open_or_create on an existing file opens it.
    let reg = Registry::open_or_create(
        &e.path,
        CreateOptions::new("ops.example.test/log", sealed()),
    )
    .unwrap();
    assert!(reg.is_writable());
    // $CAIRN_HOME decides the default path.
    let home = tempfile::tempdir().unwrap();
    std::env::set_var(CAIRN_HOME, home.path());
    assert_eq!(default_path().unwrap(), home.path().join(REGISTRY_FILE));
    let d = Registry::open_default(CreateOptions::new(
        "default.example.test/log",
        Protection::Insecure,
    ))
    .unwrap();
    assert_eq!(d.path(), home.path().join(REGISTRY_FILE));
    std::env::remove_var(CAIRN_HOME);
}

#[test]
fn registry_is_send_and_sync_and_readers_run_beside_the_writer() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Registry>();
    let e = env();
    let reg = std::sync::Arc::new(e.reg);
    let writer = {
        let reg = reg.clone();
        std::thread::spawn(move || {
            for i in 0..20 {
                reg.register_node(&node(&format!("n{i}"), &["c"], &["s"]))
                    .unwrap();
            }
        })
    };
    // Read at least once, and for as long as the writer writes: what readers see only grows.
    let (mut last, mut seen) = (0, 0);
    loop {
        let n = reg.tree_size().unwrap();
        assert!(n >= last);
        last = n;
        let found = reg.nodes_by_capability("c").unwrap().len();
        assert!(found >= seen && found <= 20, "{seen} then {found}");
        seen = found;
        if writer.is_finished() {
            break;
        }
    }
    writer.join().unwrap();
    assert_eq!(reg.nodes_by_capability("c").unwrap().len(), 20);
}

#[test]
fn keys_generate_import_export_rotate_revoke() {
    let e = env();
    let reg = &e.reg;
    for alg in [
        Algorithm::Ed25519,
        Algorithm::MlDsa44,
        Algorithm::MlDsa65,
        Algorithm::Ed25519MlDsa44,
        Algorithm::Ed25519MlDsa65,
    ] {
        let k = key(reg, alg.name(), &[Role::TokenIssuer], alg);
        assert_eq!(k.public_key.algorithm(), alg);
        assert_eq!(k.private, PrivatePart::Sealed(KdfParams::INSECURE_FAST));
    }
    let bad = reg.generate_key(
        Algorithm::Dilithium2R3,
        &KeySpec::new("x", RoleSet::of(&[Role::Peer])),
        &Protection::Insecure,
    );
    assert_eq!(code(bad.unwrap_err()), "unsupported_algorithm");
    let no_roles = reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("x", RoleSet::EMPTY),
            &Protection::Insecure,
        )
        .unwrap_err();
    assert_eq!(no_roles.field_name(), Some("roles"));
    let long = reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new(&"x".repeat(200), RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )
        .unwrap_err();
    assert_eq!(
        (long.field_name(), code(&long)),
        (Some("label"), "too_large".to_owned())
    );

    // PEM: private in, private and public out.
    let sk = SigningKey::from_seed(Algorithm::Ed25519, &[7; 32]);
    let text = pem::signing_key_to_pem(&sk).unwrap();
    let spec = KeySpec::new("imported", RoleSet::of(&[Role::ManifestSigner]));
    let imported = reg
        .write(|tx| tx.import_private_pem(&text, &spec, &sealed()))
        .unwrap();
    assert_eq!(imported.key_id, sk.public_key().key_id());
    assert_eq!(
        *reg.export_private_pem(&imported.key_id, Some(&pass()))
            .unwrap(),
        *text
    );
    assert_eq!(
        code(reg.export_private_pem(&imported.key_id, None).unwrap_err()),
        "passphrase_required"
    );
    assert_eq!(
        reg.export_public_pem(&imported.key_id).unwrap(),
        pem::public_key_to_pem(sk.public_key()).unwrap()
    );
    let dup = reg
        .write(|tx| tx.import_private_pem(&text, &spec, &sealed()))
        .unwrap_err();
    assert_eq!(code(dup), "already_exists");
    assert_eq!(
        code(
            reg.write(|tx| tx.import_private_pem("junk", &spec, &sealed()))
                .unwrap_err()
        ),
        "malformed"
    );
    // A public key only.
    let pk = SigningKey::from_seed(Algorithm::MlDsa44, &[8; 32]);
    let public = reg
        .write(|tx| tx.import_public_pem(&pem::public_key_to_pem(pk.public_key()).unwrap(), &spec))
        .unwrap();
    assert_eq!(public.private, PrivatePart::None);
    assert_eq!(
        code(reg.export_private_pem(&public.key_id, None).unwrap_err()),
        "invalid_state"
    );
    assert_eq!(code(reg.key(&KeyId([0; 32])).unwrap_err()), "not_found");

    // Rotation: the old key is retired, the new one takes its label and roles.
    let old = key(reg, "issuer", &[Role::TokenIssuer], Algorithm::Ed25519);
    assert_eq!(
        code(
            reg.rotate_key(
                &old.key_id,
                Some(&Passphrase::new("no")),
                Algorithm::MlDsa44,
                WeakerAlgorithm::Refuse,
                &sealed()
            )
            .unwrap_err()
        ),
        "bad_passphrase"
    );
    let new = reg
        .rotate_key(
            &old.key_id,
            Some(&pass()),
            Algorithm::MlDsa44,
            WeakerAlgorithm::Refuse,
            &sealed(),
        )
        .unwrap();
    assert_eq!((new.label.as_str(), new.roles), ("issuer", old.roles));
    assert!(
        matches!(reg.key(&old.key_id).unwrap().status, KeyStatus::Rotated { successor, .. } if successor == new.key_id)
    );
    assert_eq!(
        code(
            reg.rotate_key(
                &old.key_id,
                Some(&pass()),
                Algorithm::MlDsa44,
                WeakerAlgorithm::Refuse,
                &sealed()
            )
            .unwrap_err()
        ),
        "invalid_state"
    );
    let holder = key(reg, "holder", &[Role::Peer], Algorithm::Ed25519);
    let req = TokenRequest::new(holder.public_key.clone(), "svc", &["read"], 60);
    assert_eq!(
        code(
            reg.issue_token(&old.key_id, Some(&pass()), &req)
                .unwrap_err()
        ),
        "invalid_state"
    );

    // Revocation: by the key itself or a root key; never the log key.
    let root = key(reg, "root", &[Role::Root], Algorithm::Ed25519);
    let other = key(reg, "other", &[Role::Peer], Algorithm::Ed25519);
    assert_eq!(
        code(
            reg.revoke_key(&new.key_id, "x", &other.key_id, Some(&pass()))
                .unwrap_err()
        ),
        "unauthorized"
    );
    reg.revoke_key(&new.key_id, "compromised", &root.key_id, Some(&pass()))
        .unwrap();
    assert_eq!(
        code(
            reg.issue_token(&new.key_id, Some(&pass()), &req)
                .unwrap_err()
        ),
        "revoked"
    );
    assert_eq!(
        code(
            reg.revoke_key(&new.key_id, "again", &root.key_id, Some(&pass()))
                .unwrap_err()
        ),
        "invalid_state"
    );
    reg.revoke_key(&other.key_id, "retired", &other.key_id, Some(&pass()))
        .unwrap();
    let log = reg.log_key_id().unwrap();
    assert_eq!(
        code(
            reg.revoke_key(&log, "no", &root.key_id, Some(&pass()))
                .unwrap_err()
        ),
        "invalid_state"
    );
    assert_eq!(
        code(
            reg.revoke_key(&root.key_id, &"r".repeat(2000), &root.key_id, Some(&pass()))
                .unwrap_err()
        ),
        "too_large"
    );

    // The log key rotates too; the new key signs from then on, also after reopening.
    let new_log = reg
        .rotate_key(
            &log,
            Some(&pass()),
            Algorithm::Ed25519MlDsa65,
            WeakerAlgorithm::Refuse,
            &sealed(),
        )
        .unwrap();
    assert_eq!(reg.log_key_id().unwrap(), new_log.key_id);
    assert_eq!(reg.latest_checkpoint().unwrap().key_id, new_log.key_id);
    reg.register_node(&node("after", &[], &[])).unwrap();
    assert_eq!(reg.list_keys().unwrap().len(), 14);
    reg.audit().unwrap();
    drop(e.reg);
    let reg = Registry::open(&e.path, Some(&pass())).unwrap();
    reg.register_node(&node("after2", &[], &[])).unwrap();
    reg.audit().unwrap();
}

#[test]
fn a_rotation_to_a_weaker_algorithm_is_refused_unless_asked_for() {
    let e = env();
    let reg = &e.reg;
    let rotate =
        |k: &KeyInfo, to, weaker| reg.rotate_key(&k.key_id, Some(&pass()), to, weaker, &sealed());
    // A rotation that gives up protection (a lower post-quantum category, none, or a
    // hybrid's Ed25519 half) is refused unless asked for, before anything is written.
    for (from, to) in [
        (Algorithm::Ed25519MlDsa44, Algorithm::Ed25519),
        (Algorithm::Ed25519MlDsa65, Algorithm::Ed25519MlDsa44),
        (Algorithm::Ed25519MlDsa44, Algorithm::MlDsa44),
        (Algorithm::MlDsa65, Algorithm::Ed25519MlDsa44),
    ] {
        let k = key(reg, "downgrade", &[Role::Peer], from);
        let size = reg.tree_size().unwrap();
        let e = rotate(&k, to, WeakerAlgorithm::Refuse).unwrap_err();
        assert_eq!(code(&e), "invalid_state", "{from} -> {to}");
        assert!(e.to_string().contains("must be asked for"), "{e}");
        assert_eq!(
            reg.tree_size().unwrap(),
            size,
            "{from} -> {to}: nothing written"
        );
        assert_eq!(reg.key(&k.key_id).unwrap().status, KeyStatus::Active);
        let new = rotate(&k, to, WeakerAlgorithm::Allow).unwrap();
        assert_eq!(new.public_key.algorithm(), to);
    }
    // Keeping or raising the protection needs no asking.
    for (from, to) in [
        (Algorithm::Ed25519, Algorithm::Ed25519),
        (Algorithm::Ed25519, Algorithm::Ed25519MlDsa44),
        (Algorithm::MlDsa44, Algorithm::Ed25519MlDsa65),
    ] {
        let k = key(reg, "upgrade", &[Role::Peer], from);
        let new = rotate(&k, to, WeakerAlgorithm::Refuse).unwrap();
        assert_eq!(new.public_key.algorithm(), to, "{from} -> {to}");
    }
    reg.audit().unwrap();
}

/// A query's page: at most `limit` nodes, at most four read for each, `next` where the
/// following page starts; both keys intersect; neither is refused.
#[test]
fn node_queries_come_in_bounded_pages() -> Result<(), StoreError> {
    let e = env();
    let reg = &e.reg;
    // n0..n9 all signal "s"; only n5 and n9 declare capability "c".
    reg.write(|tx| {
        for i in 0..10 {
            let caps: &[&str] = if i == 5 || i == 9 { &["c"] } else { &[] };
            tx.register_node(&node(&format!("n{i}"), caps, &["s"]))?;
        }
        Ok(())
    })?;
    let page = |q: NodeQuery<'_>| -> Result<(Vec<String>, Option<String>), StoreError> {
        let p = reg.query_nodes(&q)?;
        Ok((
            p.nodes.into_iter().map(|n| n.spec.id).collect::<Vec<_>>(),
            p.next,
        ))
    };
    let both = NodeQuery::of(Some("s"), Some("c"));
    // Limit 1: four nodes read (n0..n3), none qualifies; the next page starts after n3.
    assert_eq!(page(both.with_limit(1))?, (vec![], Some("n3".to_owned())));
    assert_eq!(
        page(both.with_limit(1).after(Some("n3")))?,
        (vec!["n5".to_owned()], Some("n5".to_owned()))
    );
    // n6, n7 and n8 read and passed over, n9 taken; nothing follows.
    assert_eq!(
        page(both.with_limit(1).after(Some("n5")))?,
        (vec!["n9".to_owned()], None)
    );
    assert_eq!(page(both)?.0, ["n5", "n9"]);
    // A full page says where to go on only when something follows.
    assert_eq!(page(NodeQuery::signal("s").with_limit(10))?.1, None);
    assert_eq!(
        page(NodeQuery::signal("s").with_limit(9))?.1,
        Some("n8".to_owned())
    );
    assert_eq!(
        page(NodeQuery::capability("c").with_limit(2))?,
        (vec!["n5".to_owned(), "n9".to_owned()], None)
    );
    // A limit of 0 is taken as 1.
    assert_eq!(page(NodeQuery::signal("s").with_limit(0))?.0.len(), 1);
    let err = reg.query_nodes(&NodeQuery::of(None, None)).unwrap_err();
    assert_eq!(err.code().as_str(), "malformed");
    Ok(())
}

#[test]
fn nodes_register_query_deregister() {
    let e = env();
    let reg = &e.reg;
    reg.register_node(&node("a", &["store", "recall"], &["stored"]))
        .unwrap();
    reg.register_node(&node("b", &["store"], &["stored", "recalled"]))
        .unwrap();
    let ids = |v: Vec<NodeInfo>| v.into_iter().map(|n| n.spec.id).collect::<Vec<_>>();
    assert_eq!(ids(reg.nodes_by_capability("store").unwrap()), ["a", "b"]);
    assert_eq!(ids(reg.nodes_by_signal("recalled").unwrap()), ["b"]);
    assert!(reg.nodes_by_signal("nothing").unwrap().is_empty());
    // Re-registering replaces the spec and its index entries.
    reg.register_node(&node("a", &["other"], &[])).unwrap();
    assert_eq!(ids(reg.nodes_by_capability("store").unwrap()), ["b"]);
    assert_eq!(reg.node("a").unwrap().spec.capabilities, ["other"]);
    // Lists that overlap: the kept pair stays, the dropped one goes, the new one comes.
    reg.register_node(&node("b", &["store", "other"], &["recalled"]))
        .unwrap();
    assert_eq!(ids(reg.nodes_by_capability("store").unwrap()), ["b"]);
    assert_eq!(ids(reg.nodes_by_capability("other").unwrap()), ["a", "b"]);
    assert!(reg.nodes_by_signal("stored").unwrap().is_empty());
    assert_eq!(ids(reg.nodes_by_signal("recalled").unwrap()), ["b"]);
    // The same lists again change no index.
    reg.register_node(&node("b", &["store", "other"], &["recalled"]))
        .unwrap();
    assert_eq!(ids(reg.nodes_by_capability("other").unwrap()), ["a", "b"]);
    reg.audit().unwrap();
    // Validation errors name the field; nothing is written.
    let size = reg.tree_size().unwrap();
    let mut bad = node("c", &["ok"], &[]);
    bad.endpoints[0].url = "nope".into();
    assert_eq!(
        reg.register_node(&bad).unwrap_err().field_name(),
        Some("endpoints[0].url")
    );
    assert_eq!(reg.tree_size().unwrap(), size);
    // Provenance naming an unknown manifest.
    let mut bad = node("c", &[], &[]);
    bad.provenance.manifest = Some([1; 32]);
    let err = reg.register_node(&bad).unwrap_err();
    assert_eq!(
        (code(&err), err.field_name()),
        ("not_found".to_owned(), Some("provenance.manifest"))
    );
    // Deregister.
    reg.deregister_node("b", "gone").unwrap();
    assert_eq!(code(reg.node("b").unwrap_err()), "not_found");
    assert!(reg.nodes_by_capability("store").unwrap().is_empty());
    assert_eq!(ids(reg.nodes_by_capability("other").unwrap()), ["a"]);
    assert!(reg.nodes_by_signal("recalled").unwrap().is_empty());
    assert_eq!(
        code(reg.deregister_node("b", "gone").unwrap_err()),
        "not_found"
    );
    assert_eq!(ids(reg.list_nodes().unwrap()), ["a"]);
    reg.audit().unwrap();
}

fn trust_root(reg: &Registry, root: &KeyInfo) -> StoredTrustRoot {
    let listed: Vec<KeyInfo> = reg
        .list_keys()
        .unwrap()
        .into_iter()
        .filter(|k| k.status == KeyStatus::Active && k.private != PrivatePart::None)
        .collect();
    let mut t = Thresholds::default();
    for role in Role::ALL {
        if listed.iter().any(|k| k.roles.contains(role)) {
            t = t.with(role, 1);
        }
    }
    let keys = listed.iter().map(|k| k.key_id).collect();
    let spec = TrustRootSpec {
        keys,
        thresholds: t,
        expires_at: reg.now() + 86_400,
    };
    reg.create_trust_root(&spec, &[(root.key_id, Some(&pass()))])
        .unwrap()
}

#[test]
fn tokens_issue_verify_delegate_revoke_and_bundle() {
    let e = env();
    let reg = &e.reg;
    let issuer = key(
        reg,
        "issuer",
        &[Role::TokenIssuer],
        Algorithm::Ed25519MlDsa44,
    );
    let alice = key(reg, "alice", &[Role::Peer], Algorithm::Ed25519);
    let bob = key(reg, "bob", &[Role::Peer], Algorithm::MlDsa44);
    let root = key(reg, "root", &[Role::Root], Algorithm::Ed25519);
    let mut req = TokenRequest::new(
        alice.public_key.clone(),
        "svc.example",
        &["read", "write"],
        3600,
    );
    req.constraints
        .push(("max_size".into(), ConstraintValue::Max(1000)));
    let t = reg
        .issue_token(&issuer.key_id, Some(&pass()), &req)
        .unwrap();
    let now = reg.now();
    let opts = VerifyOptions {
        audience: Some("svc.example"),
        capability: Some("write"),
    };
    reg.verify_token(&t.envelope, now, &opts).unwrap();
    assert_eq!(
        code(
            reg.verify_token(&t.envelope, now + 3600, &opts)
                .unwrap_err()
        ),
        "expired"
    );
    let wrong = VerifyOptions {
        audience: Some("other"),
        capability: None,
    };
    assert_eq!(
        code(reg.verify_token(&t.envelope, now, &wrong).unwrap_err()),
        "domain_mismatch"
    );
    assert_eq!(reg.token(&t.id).unwrap(), t);
    // Non-issuers cannot issue.
    assert_eq!(
        code(
            reg.issue_token(&alice.key_id, Some(&pass()), &req)
                .unwrap_err()
        ),
        "unauthorized"
    );
    assert_eq!(
        code(reg.issue_token(&issuer.key_id, None, &req).unwrap_err()),
        "passphrase_required"
    );
    let mut empty = req.clone();
    empty.capabilities.clear();
    assert_eq!(
        code(
            reg.issue_token(&issuer.key_id, Some(&pass()), &empty)
                .unwrap_err()
        ),
        "malformed"
    );

    // Delegation by the holder, narrowing; widening is refused.
    let child_req = TokenRequest {
        holder: bob.public_key.clone(),
        audience: None,
        capabilities: vec!["read".into()],
        constraints: vec![("max_size".into(), ConstraintValue::Max(10))],
        ttl: None,
        parent: Some(t.id),
    };
    let child = reg
        .issue_token(&alice.key_id, Some(&pass()), &child_req)
        .unwrap();
    reg.verify_token(&child.envelope, now, &VerifyOptions::default())
        .unwrap();
    assert_eq!(
        reg.token_parents(&child.id).unwrap(),
        vec![t.envelope.clone()]
    );
    let mut wider = child_req.clone();
    wider.capabilities.push("admin".into());
    assert_eq!(
        code(
            reg.issue_token(&alice.key_id, Some(&pass()), &wider)
                .unwrap_err()
        ),
        "delegation_invalid"
    );
    let mut not_holder = child_req.clone();
    not_holder.parent = Some(t.id);
    assert_eq!(
        code(
            reg.issue_token(&bob.key_id, Some(&pass()), &not_holder)
                .unwrap_err()
        ),
        "key_mismatch"
    );

    // A bundle for the child verifies offline against the pinned trust root.
    let pinned = trust_root(reg, &root);
    let bundle = Bundle::from_bytes(&reg.token_bundle(&child.id).unwrap().to_bytes()).unwrap();
    let pinned_root = VerifiedRoot::from_pinned(&pinned.envelope).unwrap();
    let verdict = verify_bundle(&bundle, &pinned_root, now, &BundlePolicy::default()).unwrap();
    assert_eq!(verdict.subject_id, child.id);

    // Revoking the parent revokes the child; only the issuer or a root key may revoke.
    assert_eq!(
        code(
            reg.revoke_token(&t.id, "x", &bob.key_id, Some(&pass()))
                .unwrap_err()
        ),
        "unauthorized"
    );
    reg.revoke_token(&t.id, "leaked", &issuer.key_id, Some(&pass()))
        .unwrap();
    assert_eq!(
        code(
            reg.verify_token(&child.envelope, now, &VerifyOptions::default())
                .unwrap_err()
        ),
        "revoked"
    );
    assert_eq!(
        code(
            reg.revoke_token(&t.id, "x", &root.key_id, Some(&pass()))
                .unwrap_err()
        ),
        "invalid_state"
    );
    assert_eq!(
        code(
            reg.revoke_token(&[9; 32], "x", &root.key_id, Some(&pass()))
                .unwrap_err()
        ),
        "not_found"
    );
    reg.revoke_token(&child.id, "cleanup", &root.key_id, Some(&pass()))
        .unwrap();
    assert_eq!(reg.list_tokens().unwrap().len(), 2);
    let report = reg.audit().unwrap();
    assert_eq!((report.tokens, report.trust_roots), (2, 1));
}

#[test]
fn a_token_verified_before_is_checked_again_for_what_can_change() {
    let e = env();
    let reg = &e.reg;
    let issuer = key(reg, "issuer", &[Role::TokenIssuer], Algorithm::Ed25519);
    let other = key(reg, "other", &[Role::TokenIssuer], Algorithm::Ed25519);
    let alice = key(reg, "alice", &[Role::Peer], Algorithm::Ed25519);
    let req = TokenRequest::new(alice.public_key.clone(), "svc.example", &["write"], 3600);
    let t = reg
        .issue_token(&issuer.key_id, Some(&pass()), &req)
        .unwrap();
    let u = reg.issue_token(&other.key_id, Some(&pass()), &req).unwrap();
    let now = reg.now();
    let opts = VerifyOptions {
        audience: Some("svc.example"),
        capability: Some("write"),
    };
    // Verified once, then again (the second time from what the first authenticated).
    for _ in 0..2 {
        assert_eq!(reg.verify_token(&t.envelope, now, &opts).unwrap().id, t.id);
    }
    // Time, options and the token's own revocation are checked every time.
    assert_eq!(
        code(
            reg.verify_token(&t.envelope, now + 3600, &opts)
                .unwrap_err()
        ),
        "expired"
    );
    let read = VerifyOptions {
        audience: Some("svc.example"),
        capability: Some("read"),
    };
    assert_eq!(
        code(reg.verify_token(&t.envelope, now, &read).unwrap_err()),
        "unauthorized"
    );
    // The same claims under another signature are another token, authenticated on their own.
    let mut forged = t.envelope.clone();
    forged.signatures[0].sig = u.envelope.signatures[0].sig.clone();
    assert_eq!(
        code(reg.verify_token(&forged, now, &opts).unwrap_err()),
        "signature_invalid"
    );
    reg.revoke_token(&t.id, "leaked", &issuer.key_id, Some(&pass()))
        .unwrap();
    assert_eq!(
        code(reg.verify_token(&t.envelope, now, &opts).unwrap_err()),
        "revoked"
    );
    // The issuer key's status is read every time too.
    reg.verify_token(&u.envelope, now, &opts).unwrap();
    reg.revoke_key(&other.key_id, "compromised", &other.key_id, Some(&pass()))
        .unwrap();
    assert_eq!(
        code(reg.verify_token(&u.envelope, now, &opts).unwrap_err()),
        "revoked"
    );
}

#[test]
fn manifests_sign_cosign_threshold_index_revoke_and_bundle() {
    let e = env();
    let reg = &e.reg;
    let a = key(reg, "a", &[Role::ManifestSigner], Algorithm::Ed25519MlDsa65);
    let b = key(reg, "b", &[Role::ManifestSigner], Algorithm::Ed25519);
    let peer = key(reg, "peer", &[Role::Peer], Algorithm::Ed25519);
    let root = key(reg, "root", &[Role::Root], Algorithm::Ed25519);
    let artifact = vec![42u8; 300_000];
    let m = reg
        .sign_artifact(
            &a.key_id,
            Some(&pass()),
            "app.bin",
            "application/octet-stream",
            &artifact[..],
        )
        .unwrap();
    assert_eq!(m.claims.size, 300_000);
    assert_eq!(
        code(
            reg.sign_artifact(
                &peer.key_id,
                Some(&pass()),
                "x.bin",
                "application/octet-stream",
                &b""[..]
            )
            .unwrap_err()
        ),
        "unauthorized"
    );
    assert_eq!(
        code(
            reg.sign_artifact(
                &a.key_id,
                Some(&pass()),
                "../x",
                "application/octet-stream",
                &b""[..]
            )
            .unwrap_err()
        ),
        "malformed"
    );
    assert_eq!(
        code(
            reg.verify_manifest(&m.digest, 2, ArtifactCheck::None)
                .unwrap_err()
        ),
        "threshold_not_met"
    );
    let m2 = reg
        .cosign_manifest(&m.digest, &b.key_id, Some(&pass()))
        .unwrap();
    assert_eq!((m2.digest, m2.signers.len()), (m.digest, 2));
    assert_eq!(
        code(
            reg.cosign_manifest(&m.digest, &b.key_id, Some(&pass()))
                .unwrap_err()
        ),
        "already_exists"
    );
    reg.verify_manifest(&m.digest, 2, ArtifactCheck::Bytes(&artifact))
        .unwrap();
    assert_eq!(
        code(
            reg.verify_manifest(&m.digest, 1, ArtifactCheck::Bytes(b"other"))
                .unwrap_err()
        ),
        "digest_mismatch"
    );
    assert_eq!(
        code(
            reg.verify_manifest(&[0; 32], 1, ArtifactCheck::None)
                .unwrap_err()
        ),
        "not_found"
    );
    // Indexes: who signed the artifact, what a key signed.
    assert_eq!(
        reg.manifests_for_artifact(&m.claims.sha256).unwrap()[0].signers,
        vec![a.key_id, b.key_id]
    );
    assert_eq!(
        reg.manifests_signed_by(&b.key_id).unwrap()[0].digest,
        m.digest
    );
    assert!(reg.manifests_signed_by(&peer.key_id).unwrap().is_empty());
    // A node may name the manifest as provenance.
    let mut n = node("built", &[], &[]);
    n.provenance.manifest = Some(m.digest);
    n.provenance.sha256 = Some([0; 32]);
    assert_eq!(
        reg.register_node(&n).unwrap_err().field_name(),
        Some("provenance.sha256")
    );
    n.provenance.sha256 = Some(m.claims.sha256);
    reg.register_node(&n).unwrap();
    // Bundle with both signatures.
    let pinned = trust_root(reg, &root);
    let pinned_root = VerifiedRoot::from_pinned(&pinned.envelope).unwrap();
    let bundle = reg.manifest_bundle(&m.digest).unwrap();
    let policy = BundlePolicy {
        artifact: ArtifactCheck::Bytes(&artifact),
        ..Default::default()
    };
    let verdict = verify_bundle(&bundle, &pinned_root, reg.now(), &policy).unwrap();
    assert_eq!(verdict.signers.len(), 2);
    // Revocation by a signer.
    reg.revoke_manifest(&m.digest, "bad build", &b.key_id, Some(&pass()))
        .unwrap();
    assert_eq!(
        code(
            reg.verify_manifest(&m.digest, 1, ArtifactCheck::None)
                .unwrap_err()
        ),
        "revoked"
    );
    assert_eq!(
        code(
            reg.cosign_manifest(&m.digest, &a.key_id, Some(&pass()))
                .unwrap_err()
        ),
        "revoked"
    );
    assert_eq!(code(reg.register_node(&n).unwrap_err()), "revoked");
    assert_eq!(reg.list_manifests().unwrap().len(), 1);
    reg.audit().unwrap();
}

#[test]
fn trust_root_create_and_dual_signed_rotation() -> Result<(), Box<dyn std::error::Error>> {
    let e = env();
    let reg = &e.reg;
    assert_eq!(code(reg.trust_root().unwrap_err()), "not_found");
    let r1 = key(reg, "root-1", &[Role::Root], Algorithm::Ed25519);
    let spec = |keys: Vec<KeyId>| TrustRootSpec {
        keys,
        thresholds: Thresholds::default()
            .with(Role::Root, 1)
            .with(Role::Checkpoint, 1),
        expires_at: reg.now() + 1000,
    };
    let log = reg.log_key_id()?;
    // The log key must be listed.
    let e1 = reg
        .create_trust_root(&spec(vec![r1.key_id]), &[(r1.key_id, Some(&pass()))])
        .unwrap_err();
    assert_eq!(e1.field_name(), Some("keys"));
    let v1 = reg.create_trust_root(&spec(vec![r1.key_id, log]), &[(r1.key_id, Some(&pass()))])?;
    assert_eq!(v1.root.root_version, 1);
    assert_eq!(
        code(
            reg.create_trust_root(&spec(vec![r1.key_id, log]), &[(r1.key_id, Some(&pass()))])
                .unwrap_err()
        ),
        "already_exists"
    );
    // Rotation to a new root key: signed by the new key alone is refused, by both accepted.
    let r2 = key(reg, "root-2", &[Role::Root], Algorithm::MlDsa44);
    let only_new = reg
        .update_trust_root(&spec(vec![r2.key_id, log]), &[(r2.key_id, Some(&pass()))])
        .unwrap_err();
    assert!(only_new.code().core().is_some(), "{only_new}");
    let v2 = reg.update_trust_root(
        &spec(vec![r2.key_id, log]),
        &[(r1.key_id, Some(&pass())), (r2.key_id, Some(&pass()))],
    )?;
    assert_eq!(v2.root.root_version, 2);
    assert_eq!(reg.trust_roots()?.len(), 2);
    let chain = reg.trust_roots()?;
    let pinned = VerifiedRoot::from_pinned(&chain[0].envelope)?;
    cairn_core::trust::verify_rotation_chain(&pinned, &[chain[1].envelope.clone()], reg.now())?;
    // The root key rotated in place (`rotate_key`): the rotated key, a root key of the current
    // version, still signs the move to the next version with its successor, so the chain
    // reaches the new key; a root key the current version does not list does not count.
    let r3 = reg.rotate_key(
        &r2.key_id,
        Some(&pass()),
        Algorithm::MlDsa44,
        WeakerAlgorithm::Refuse,
        &Protection::Insecure,
    )?;
    let e3 = reg
        .update_trust_root(
            &spec(vec![r3.key_id, log]),
            &[(r1.key_id, Some(&pass())), (r3.key_id, None)],
        )
        .unwrap_err();
    assert_eq!(code(e3), "threshold_not_met");
    let v3 = reg.update_trust_root(
        &spec(vec![r3.key_id, log]),
        &[(r2.key_id, Some(&pass())), (r3.key_id, None)],
    )?;
    assert_eq!(v3.root.root_version, 3);
    cairn_core::trust::verify_rotation_chain(
        &pinned,
        &[chain[1].envelope.clone(), v3.envelope.clone()],
        reg.now(),
    )?;
    // A token-issuer threshold above 1 promises what no token can carry.
    let mut wide = spec(vec![r3.key_id, log]);
    wide.thresholds = wide.thresholds.with(Role::TokenIssuer, 2);
    let e4 = reg
        .update_trust_root(&wide, &[(r3.key_id, None)])
        .unwrap_err();
    assert_eq!(e4.field_name(), Some("thresholds"));
    reg.audit()?;
    Ok(())
}

#[test]
fn ledger_tail_get_proofs_and_checkpoints() {
    let e = env();
    let reg = &e.reg;
    for i in 0..12 {
        reg.register_node(&node(&format!("n{i}"), &[], &[]))
            .unwrap();
        if i % 4 == 3 {
            reg.create_checkpoint().unwrap();
        }
    }
    let n = reg.tree_size().unwrap();
    assert_eq!(n, 13);
    let tail = reg.tail(3).unwrap();
    assert_eq!(
        tail.iter().map(|s| s.entry.seq).collect::<Vec<_>>(),
        [10, 11, 12]
    );
    assert_eq!(reg.entry(5).unwrap().entry.seq, 5);
    assert_eq!(code(reg.entry(99).unwrap_err()), "not_found");
    assert_eq!(reg.entries(2, 5).unwrap().len(), 3);
    let head = reg.head().unwrap();
    assert_eq!((head.next_seq, head.head_hash), (n, tail[2].hash()));
    // Inclusion of every entry at every checkpoint size; consistency between every pair.
    let cps = reg.checkpoints().unwrap();
    assert_eq!(
        cps.iter().map(|c| c.size).collect::<Vec<_>>(),
        [1, 5, 9, 13]
    );
    assert_eq!(reg.latest_checkpoint().unwrap(), cps[3]);
    for c in &cps {
        for seq in 0..c.size {
            let p = reg.inclusion_proof(seq, c.size).unwrap();
            p.verify(&reg.entry(seq).unwrap().leaf_hash(), &c.root)
                .unwrap();
        }
        for d in &cps {
            if c.size <= d.size {
                reg.checkpoint_consistency(c.size, d.size)
                    .unwrap()
                    .verify(&c.root, &d.root)
                    .unwrap();
            }
        }
    }
    assert!(reg.inclusion_proof(13, 13).is_err());
    assert!(reg.consistency_proof(5, 14).is_err());
    // A checkpoint at an unchanged size is the same checkpoint.
    let again = reg.create_checkpoint().unwrap();
    assert_eq!(again, cps[3]);
    assert_eq!(reg.root(13).unwrap(), cps[3].root);
}

#[test]
fn batch_is_one_commit_and_failure_writes_nothing() {
    let e = env();
    let reg = &e.reg;
    let before = reg.tree_size().unwrap();
    let err = reg
        .write(|tx| {
            tx.register_node(&node("x1", &["c"], &[]))?;
            tx.register_node(&node("x2", &["c"], &[]))?;
            tx.deregister_node("missing", "")
        })
        .unwrap_err();
    assert_eq!(code(err), "not_found");
    assert_eq!(reg.tree_size().unwrap(), before);
    assert!(reg.nodes_by_capability("c").unwrap().is_empty());
    reg.write(|tx| {
        for i in 0..50 {
            tx.register_node(&node(&format!("b{i}"), &["c"], &[]))?;
        }
        tx.create_checkpoint()
    })
    .unwrap();
    assert_eq!(reg.tree_size().unwrap(), before + 50);
    assert_eq!(reg.latest_checkpoint().unwrap().size, before + 50);
    reg.audit().unwrap();
}

#[test]
fn keys_kept_open_still_refuse_what_the_ledger_refuses() {
    let e = env();
    let reg = &e.reg;
    let sealed = Protection::Passphrase(pass(), KdfParams::INSECURE_FAST);
    let spec = KeySpec::new("release", RoleSet::of(&[Role::ManifestSigner]));
    let a = reg
        .generate_key(Algorithm::Ed25519, &spec, &sealed)
        .unwrap();
    let b = reg
        .generate_key(Algorithm::Ed25519, &spec, &sealed)
        .unwrap();
    let sign = |key: &KeyId, p: Option<&Passphrase>, bytes: &'static [u8]| {
        reg.sign_artifact(key, p, "app.bin", "application/octet-stream", bytes)
    };
    // The error a wrong or missing passphrase meets, before anything is kept open.
    let wrong = Passphrase::new("not it");
    let refused = |key: &KeyId| {
        [Some(&wrong), None].map(|p| code(sign(key, p, b"x").map(|_| ()).unwrap_err()))
    };
    let before = refused(&a.key_id);
    reg.keep_keys_open(true);
    sign(&a.key_id, Some(&pass()), b"a1").unwrap();
    sign(&b.key_id, Some(&pass()), b"b1").unwrap();
    assert_eq!(reg.keys_kept_open(), 2);
    // Kept open: the same refusals for another passphrase or none.
    assert_eq!(refused(&a.key_id), before);
    // Revoked: refused, and forgotten.
    reg.revoke_key(&a.key_id, "leaked", &a.key_id, Some(&pass()))
        .unwrap();
    assert_eq!(
        code(
            sign(&a.key_id, Some(&pass()), b"a2")
                .map(|_| ())
                .unwrap_err()
        ),
        "revoked"
    );
    assert_eq!(reg.keys_kept_open(), 1);
    // Rotated away: the old key is forgotten and signs no more; the new one opens.
    let new = reg
        .rotate_key(
            &b.key_id,
            Some(&pass()),
            Algorithm::Ed25519,
            WeakerAlgorithm::Refuse,
            &sealed,
        )
        .unwrap();
    assert_eq!(reg.keys_kept_open(), 0);
    assert!(sign(&b.key_id, Some(&pass()), b"b2").is_err());
    sign(&new.key_id, Some(&pass()), b"n1").unwrap();
    assert_eq!(reg.keys_kept_open(), 1);
    reg.keep_keys_open(false);
    assert_eq!(reg.keys_kept_open(), 0);
}

/// Two creations of one path at once (two first runs): one registry is created, the other
/// caller is told it exists, and the file left is the one the first caller holds, with its
/// anchor: nothing it writes is lost to a file replaced under it.
#[test]
fn concurrent_creations_of_one_path_make_one_registry() {
    for round in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.redb");
        let start = std::sync::Barrier::new(2);
        let results: Vec<Result<Registry, StoreError>> = std::thread::scope(|s| {
            let handles: Vec<_> = ["a", "b"]
                .map(|name| {
                    let (path, start) = (&path, &start);
                    s.spawn(move || {
                        start.wait();
                        Registry::create(
                            path,
                            CreateOptions::new(
                                &format!("{name}.example.test/log"),
                                Protection::Insecure,
                            ),
                        )
                    })
                })
                .into_iter()
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let (made, refused): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        assert_eq!((made.len(), refused.len()), (1, 1), "round {round}");
        let refused = refused.into_iter().next().unwrap().unwrap_err();
        assert!(
            ["already_exists", "locked"].contains(&code(&refused).as_str()),
            "round {round}: {refused}"
        );
        let reg = made.into_iter().next().unwrap().unwrap();
        let origin = reg.origin().to_owned();
        reg.create_checkpoint().unwrap();
        drop(reg);
        let reopened = Registry::open(&path, None).unwrap();
        assert_eq!(reopened.origin(), origin, "round {round}");
        reopened.audit().unwrap();
    }
}

/// A witness's stored cosignature of a checkpoint is replaced only by a newer one of the same
/// witness: a line dated earlier (a re-ask answered by a clock stepped back) leaves the newer
/// line in place; a line that does not verify stores nothing.
#[test]
fn a_stored_cosignature_is_replaced_only_by_a_newer_one() -> Result<(), Box<dyn std::error::Error>>
{
    use cairn_core::witness::{cosign, CosignerKey};
    let e = env();
    let reg = &e.reg;
    let cp = reg.create_checkpoint()?;
    let text = cairn_core::note::Note::parse(cp.note.as_bytes())?
        .text()
        .to_owned();
    let w = SigningKey::from_seed(Algorithm::Ed25519, &[9; 32]);
    let key = CosignerKey::new("witness.example/w1", w.public_key())?;
    let line = |t: u64| -> Result<StoredCosignature, Box<dyn std::error::Error>> {
        Ok(StoredCosignature {
            key: key.clone(),
            signature: cosign(&text, "witness.example/w1", &w, t)?,
        })
    };
    let stored = |reg: &Registry| -> Result<Vec<_>, Box<dyn std::error::Error>> {
        Ok(reg
            .cosignatures(cp.size)?
            .iter()
            .map(|c| c.signature.clone())
            .collect())
    };
    assert_eq!(reg.add_cosignatures(cp.size, &[line(100)?])?, 1);
    assert_eq!(reg.add_cosignatures(cp.size, &[line(50)?])?, 1);
    assert_eq!(stored(reg)?, [line(100)?.signature]);
    assert_eq!(reg.add_cosignatures(cp.size, &[line(200)?])?, 1);
    assert_eq!(stored(reg)?, [line(200)?.signature]);
    let mut bad = line(300)?;
    bad.signature.signature[20] ^= 1;
    let err = reg.add_cosignatures(cp.size, &[bad]).unwrap_err();
    assert_eq!(code(err), "signature_invalid");
    assert_eq!(stored(reg)?, [line(200)?.signature]);
    Ok(())
}
