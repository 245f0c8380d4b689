//! `cairn demo`: the whole story against a real registry file in the default location
//! (`$CAIRN_HOME/registry.redb`, else the platform data directory), created if missing and
//! reused (appended to) when it exists: keys, a trust root, a node, a token, a signed
//! artifact, a checkpoint, bundles exported to files, verified offline with only the pinned
//! trust-root file, and tampered copies rejected with their reasons.
//!
//! The demo's own keys are stored without passphrase protection (insecure mode) and the
//! output says so; for that reason it refuses a registry whose log key is sealed (a real
//! one) rather than add unprotected keys to it and to its trust root.

use std::path::{Path, PathBuf};

use cairn::core::bundle::Bundle;
use cairn::core::crypto::{Algorithm, KeyId};
use cairn::core::encoding::hex_encode;
use cairn::core::token::{ConstraintValue, VerifyOptions};
use cairn::core::trust::{Role, RoleSet, Thresholds};
use cairn::store::{
    CreateOptions, KeyInfo, KeySpec, KeyStatus, NodeSpec, Passphrase, PrivatePart, Protection,
    Registry, StoreCode, StoredTrustRoot, TokenRequest, TrustRootSpec,
};
use cairn::ErrorCode;
use serde_json::{json, Value};

use crate::cli::bundle::{read_bundle, verdict_text, verify_files, VerifyRequest};
use crate::cli::error::{CliError, CliResult};
use crate::cli::ledger::read_trust_root;
use crate::cli::util::write_file;
use crate::cli::{Ctx, Output};

/// Origin of a registry the demo creates (the same as `cairn init`'s default).
const DEMO_ORIGIN: &str = "cairn.local/registry";
const AUDIENCE: &str = "demo.cairn.local/publish";
const TOKEN_TTL: u64 = 3600;

struct Report {
    text: String,
    steps: Vec<Value>,
}

impl Report {
    fn say(&mut self, title: &str, body: &str) {
        self.text.push_str(&format!("\n== {title}\n{body}\n"));
        self.steps.push(json!({"step": title, "detail": body}));
    }
}

/// Opens the registry at the default path (or `--store`), creating it with an insecure log
/// key when missing. Returns it and whether it was created.
fn open_or_create(ctx: &Ctx) -> CliResult<(Registry, bool)> {
    let path = ctx.store_path()?;
    if path.exists()
        && std::fs::metadata(&path)
            .map(|m| m.len() > 0)
            .unwrap_or(true)
    {
        let reg = Registry::open(&path, None)?;
        // A registry whose log key is sealed holds keys that matter: the demo's keys are
        // unprotected, and its trust root would have to list them. It stays out.
        if reg.key(&reg.log_key_id()?)?.private != PrivatePart::Insecure {
            return Err(CliError::store(
                StoreCode::InvalidState,
                format!(
                    "the registry at {} protects its keys with a passphrase; the demo, whose keys are stored without protection, will not add them to it. Run it against a throw-away home: CAIRN_HOME=/tmp/cairn-demo cairn demo",
                    path.display()
                ),
            ));
        }
        ctx.unlock(&reg)?;
        Ok((reg, false))
    } else {
        let reg = Registry::create(&path, CreateOptions::new(DEMO_ORIGIN, Protection::Insecure))?;
        Ok((reg, true))
    }
}

/// The active demo key labelled `label`, generated (insecure) if there is none.
fn ensure_key(
    reg: &Registry,
    label: &str,
    role: Role,
    alg: Algorithm,
) -> CliResult<(KeyInfo, bool)> {
    // Only the demo's own (insecure) keys are reused: it signs with them without asking.
    let existing = reg.list_keys()?.into_iter().find(|k| {
        k.label == label
            && k.status == KeyStatus::Active
            && k.roles.contains(role)
            && k.expires_at.is_none()
            && k.private == PrivatePart::Insecure
    });
    match existing {
        Some(k) => Ok((k, false)),
        None => {
            let spec = KeySpec::new(label, RoleSet::of(&[role]));
            Ok((reg.generate_key(alg, &spec, &Protection::Insecure)?, true))
        }
    }
}

/// A trust root listing the log key and the demo's keys, unexpired for at least a day:
/// the current one if it qualifies, else version 1 or a rotation to the next version.
fn ensure_root(
    ctx: &Ctx,
    reg: &Registry,
    needed: &[KeyId],
    root_key: &KeyId,
) -> CliResult<(StoredTrustRoot, &'static str)> {
    let current = match reg.trust_root() {
        Ok(r) => Some(r),
        Err(e) if e.code() == StoreCode::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let log = reg.log_key_id()?;
    let now = reg.now();
    let mut want: Vec<KeyId> = vec![log];
    want.extend(needed.iter().copied().filter(|k| *k != log));
    if let Some(cur) = &current {
        let lists_all = want
            .iter()
            .all(|id| cur.root.keys.iter().any(|k| k.key_id() == *id));
        if lists_all && cur.root.expires_at > now + 86_400 {
            return Ok((cur.clone(), "reused"));
        }
        // Keep what the current root lists (while still active here), add the demo's keys.
        for k in &cur.root.keys {
            let id = k.key_id();
            let active = reg
                .key(&id)
                .map(|i| i.status == KeyStatus::Active)
                .unwrap_or(false);
            if active && !want.contains(&id) {
                want.push(id);
            }
        }
    }
    let infos: Vec<KeyInfo> = want
        .iter()
        .map(|id| reg.key(id))
        .collect::<Result<_, _>>()?;
    let mut thresholds = Thresholds::default();
    for role in Role::ALL {
        if infos.iter().any(|k| k.roles.contains(role)) {
            thresholds = thresholds.with(role, 1);
        }
    }
    let spec = TrustRootSpec {
        keys: want,
        thresholds,
        expires_at: now + 365 * 86_400,
    };
    let mut signer_ids = vec![*root_key];
    if let Some(cur) = &current {
        for k in cur
            .root
            .keys
            .iter()
            .filter(|k| k.roles.contains(Role::Root))
        {
            if !signer_ids.contains(&k.key_id()) {
                signer_ids.push(k.key_id());
            }
        }
    }
    let mut signers: Vec<(KeyId, Option<Passphrase>)> = Vec::new();
    for id in signer_ids {
        if let Ok(k) = reg.key(&id) {
            if k.status == KeyStatus::Active && k.private != PrivatePart::None {
                signers.push((id, ctx.secrets.for_key(&k)?));
            }
        }
    }
    let refs: Vec<(KeyId, Option<&Passphrase>)> =
        signers.iter().map(|(id, p)| (*id, p.as_ref())).collect();
    match current {
        None => Ok((reg.create_trust_root(&spec, &refs)?, "created")),
        Some(_) => Ok((
            reg.update_trust_root(&spec, &refs).map_err(|e| {
                CliError::from(e)
                    .context("rotating the existing trust root to list the demo's keys")
            })?,
            "rotated",
        )),
    }
}

fn expect_failure(
    r: &mut Report,
    what: &str,
    res: CliResult<cairn::core::bundle::BundleVerdict>,
    want: ErrorCode,
) -> CliResult<()> {
    match res {
        Err(e) if e.code == want.as_str() => {
            r.say(
                &format!("tampered: {what}"),
                &format!("rejected as expected: {}: {}", e.code, e.message),
            );
            Ok(())
        }
        Err(e) => Err(e.context(&format!("{what}: rejected for an unexpected reason"))),
        Ok(_) => Err(CliError::core(
            ErrorCode::SignatureInvalid,
            format!("{what} was accepted"),
        )),
    }
}

/// The note with its long (ML-DSA) signature lines cut for the screen.
fn abbreviate(note: &str) -> String {
    note.lines()
        .map(|l| match l.char_indices().nth(128) {
            Some((i, _)) => format!("{}… ({} characters)", &l[..i], l.chars().count()),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn short(id: &KeyId) -> String {
    crate::cli::secrets::short(&id.to_hex()).to_owned()
}

fn dir_of(path: &Path) -> PathBuf {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        .join("demo")
}

/// Runs the demo; an unexpected outcome (a valid object rejected, or a tampered one
/// accepted) is an error.
pub fn run(ctx: &Ctx) -> CliResult<Output> {
    let mut r = Report {
        text: String::new(),
        steps: Vec::new(),
    };
    let (reg, created) = open_or_create(ctx)?;
    let path = reg.path().to_path_buf();
    let dir = dir_of(&path);
    cairn_store::fsio::create_dir_all_durable(&dir).map_err(|e| CliError::io(&dir, &e))?;
    let size_before = reg.tree_size()?;
    r.say(
        "registry",
        &if created {
            format!(
                "created {} (origin {})\nits log key and the demo's keys are stored WITHOUT passphrase protection (insecure mode, for demos only)",
                path.display(),
                reg.origin()
            )
        } else {
            format!(
                "reusing {} (origin {}, {size_before} entries); the demo appends to it\nthe demo's own keys are stored WITHOUT passphrase protection (insecure mode, for demos only)",
                path.display(),
                reg.origin()
            )
        },
    );

    let (root, nr) = ensure_key(&reg, "demo root", Role::Root, Algorithm::Ed25519MlDsa65)?;
    let (issuer, ni) = ensure_key(&reg, "demo issuer", Role::TokenIssuer, Algorithm::Ed25519)?;
    let (signer, ns) = ensure_key(
        &reg,
        "demo signer",
        Role::ManifestSigner,
        Algorithm::Ed25519MlDsa44,
    )?;
    let (agent, na) = ensure_key(&reg, "demo agent", Role::Peer, Algorithm::Ed25519)?;
    let log = reg.key(&reg.log_key_id()?)?;
    let tag = |fresh: bool| if fresh { "new" } else { "reused" };
    r.say(
        "keys",
        &format!(
            "log      {} {:<18} (signs checkpoints and each commit's tree head)\nroot     {} {:<18} {}\nissuer   {} {:<18} {}\nsigner   {} {:<18} {}\nagent    {} {:<18} {}",
            short(&log.key_id), log.public_key.algorithm().name(),
            short(&root.key_id), root.public_key.algorithm().name(), tag(nr),
            short(&issuer.key_id), issuer.public_key.algorithm().name(), tag(ni),
            short(&signer.key_id), signer.public_key.algorithm().name(), tag(ns),
            short(&agent.key_id), agent.public_key.algorithm().name(), tag(na),
        ),
    );

    let (trust, how) = ensure_root(
        ctx,
        &reg,
        &[root.key_id, issuer.key_id, signer.key_id],
        &root.key_id,
    )?;
    let root_file = dir.join("trust-root.json");
    write_file(
        &root_file,
        format!("{}\n", trust.envelope.to_json()).as_bytes(),
    )?;
    r.say(
        &format!("trust root v{} {how}", trust.root.root_version),
        &format!(
            "id     {}\nlists  {} keys; pinned copy written to {}",
            hex_encode(&trust.root.id()),
            trust.root.keys.len(),
            root_file.display()
        ),
    );

    let spec = NodeSpec::from_json(
        r#"{"id": "demo-agent", "name": "Demo publishing agent", "version": "1.0.0",
            "capabilities": ["artifact.publish"], "signals": ["artifact_published"],
            "endpoints": [{"name": "api", "url": "https://agent.demo.cairn.local/v1"}],
            "provenance": {"source": "https://git.demo.cairn.local/agent"}}"#,
    )?;
    let node = reg.register_node(&spec)?;
    let found = reg.nodes_by_capability("artifact.publish")?;
    r.say(
        "node registered",
        &format!(
            "{} at entry {}; nodes with capability artifact.publish: {}",
            node.spec.id,
            node.seq,
            found
                .iter()
                .map(|n| n.spec.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );

    let mut request =
        TokenRequest::new(agent.public_key.clone(), AUDIENCE, &["publish"], TOKEN_TTL);
    request
        .constraints
        .push(("max_bytes".to_owned(), ConstraintValue::Max(1 << 20)));
    let token = reg.issue_token(&issuer.key_id, None, &request)?;
    reg.verify_token(
        &token.envelope,
        reg.now(),
        &VerifyOptions {
            audience: Some(AUDIENCE),
            capability: Some("publish"),
        },
    )?;
    r.say(
        "capability token issued",
        &format!(
            "id {} at entry {}\nholder agent, audience {AUDIENCE}, grants publish (max_bytes <= 1048576), valid 1h",
            hex_encode(&token.id),
            token.seq
        ),
    );

    let artifact = dir.join("hello.sh");
    let body = format!(
        "#!/bin/sh\necho 'hello from a release signed by cairn (run at ledger size {size_before})'\n"
    );
    write_file(&artifact, body.as_bytes())?;
    let (size, sha256) = ctx.progress.hash_file(&artifact)?;
    let claims = cairn::core::manifest::ManifestClaims::new(
        "hello.sh",
        "text/x-shellscript",
        size,
        sha256,
        reg.now(),
    );
    let manifest = reg.write(|tx| tx.sign_manifest(&signer.key_id, None, &claims))?;
    r.say(
        "artifact manifest signed",
        &format!(
            "{} ({size} bytes, sha256 {})\nmanifest {} at entry {}",
            artifact.display(),
            hex_encode(&sha256),
            hex_encode(&manifest.digest),
            manifest.last_seq
        ),
    );

    let cp = reg.create_checkpoint()?;
    r.say(
        "checkpoint signed (Ed25519 + ML-DSA lines)",
        &abbreviate(cp.note.trim_end()),
    );

    let token_file = dir.join("token.bundle");
    let manifest_file = dir.join("hello.sh.bundle");
    write_file(&token_file, &reg.token_bundle(&token.id)?.to_bytes())?;
    write_file(
        &manifest_file,
        &reg.manifest_bundle(&manifest.digest)?.to_bytes(),
    )?;
    let now = reg.now();
    r.say(
        "bundles exported",
        &format!("{}\n{}", token_file.display(), manifest_file.display()),
    );
    // Offline from here on: the registry is closed; only files are read.
    drop(reg);

    let pinned = read_trust_root(&root_file)?;
    let tb = read_bundle(&token_file)?;
    let mb = read_bundle(&manifest_file)?;
    let token_req = VerifyRequest {
        audience: Some(AUDIENCE),
        capability: Some("publish"),
        at: now,
        ..Default::default()
    };
    let v = verify_files(ctx, &tb, &pinned, &token_req)?;
    r.say("token bundle verified offline", &verdict_text(&v.to_json()));
    let with_artifact = VerifyRequest {
        artifact: Some(&artifact),
        at: now,
        ..Default::default()
    };
    let v = verify_files(ctx, &mb, &pinned, &with_artifact)?;
    r.say(
        "manifest bundle verified offline with the artifact",
        &verdict_text(&v.to_json()),
    );

    let tampered = dir.join("hello.sh.tampered");
    let mut bytes = body.into_bytes();
    if let Some(b) = bytes.get_mut(12) {
        *b ^= 0x20;
    }
    write_file(&tampered, &bytes)?;
    let res = verify_files(
        ctx,
        &mb,
        &pinned,
        &VerifyRequest {
            artifact: Some(&tampered),
            at: now,
            ..Default::default()
        },
    );
    expect_failure(&mut r, "modified artifact", res, ErrorCode::DigestMismatch)?;

    let mut forged: Bundle = tb.clone();
    if let Some(last) = forged.subject.payload.last_mut() {
        *last ^= 1;
    }
    let res = verify_files(ctx, &forged, &pinned, &token_req);
    expect_failure(
        &mut r,
        "token with one bit flipped",
        res,
        ErrorCode::ProofInvalid,
    )?;

    let mut bad_cp = mb.clone();
    bad_cp.checkpoint = bad_cp.checkpoint.replacen('\n', "\n1", 1);
    let res = verify_files(ctx, &bad_cp, &pinned, &with_artifact);
    expect_failure(
        &mut r,
        "checkpoint with an altered tree size",
        res,
        ErrorCode::SignatureInvalid,
    )?;

    let later = VerifyRequest {
        at: now + 2 * TOKEN_TTL,
        ..Default::default()
    };
    let res = verify_files(ctx, &tb, &pinned, &later);
    expect_failure(&mut r, "token two hours later", res, ErrorCode::Expired)?;

    let exe = "cairn";
    r.say(
        "try it yourself",
        &format!(
            "{exe} bundle verify {} --trust-root {} --artifact {}\n{exe} bundle verify {} --trust-root {} --artifact {}   (exit 1: digest_mismatch)\n{exe} ledger audit",
            manifest_file.display(),
            root_file.display(),
            artifact.display(),
            manifest_file.display(),
            root_file.display(),
            tampered.display()
        ),
    );
    let mut text = r.text;
    text.push_str("\nall checks behaved as expected.");
    Ok(Output::new(
        text.trim_start().to_owned(),
        json!({
            "store": path.display().to_string(),
            "created": created,
            "insecure_keys": true,
            "checkpoint": cp.note,
            "files": {
                "trust_root": root_file.display().to_string(),
                "artifact": artifact.display().to_string(),
                "tampered_artifact": tampered.display().to_string(),
                "token_bundle": token_file.display().to_string(),
                "manifest_bundle": manifest_file.display().to_string(),
            },
            "steps": r.steps,
        }),
    ))
}
