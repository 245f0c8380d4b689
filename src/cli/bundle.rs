//! `cairn bundle export|refresh|verify`. Verification opens no registry: it needs only the
//! bundle, a pinned trust-root file and, for a manifest, the artifact. A refresh takes its
//! pieces from the registry, a service or a file, and checks they fit the bundle.

use std::path::Path;

use cairn_core::bundle::{
    refresh_bundle, verify_bundle, Bundle, BundleKind, BundlePolicy, BundleVerdict, RefreshPieces,
    MAX_BUNDLE_LEN,
};
use cairn_core::checkpoint::LastSeen;
use cairn_core::encoding::{hex_decode_array, hex_encode, Digest};
use cairn_core::manifest::ArtifactCheck;
use cairn_core::token::VerifyOptions;
use cairn_core::trust::VerifiedRoot;
use cairn_store::{Registry, StoreCode};
use serde_json::{json, Value};

use super::args::BundleCmd;
use super::error::{CliError, CliResult};
use super::ledger::read_trust_root;
use super::util::{fmt_time, now, parse_time, read_limited, write_file};
use super::{resolve_manifest, resolve_token, Access, Ctx, Output};

/// What `bundle verify` checks beyond the bundle and the pinned root.
#[derive(Debug, Default)]
pub struct VerifyRequest<'a> {
    /// The artifact file of a manifest bundle (`-`: stdin).
    pub artifact: Option<&'a Path>,
    /// Largest artifact accepted (stdin's default limit when `None`).
    pub max_size: Option<u64>,
    /// Required token audience.
    pub audience: Option<&'a str>,
    /// Required token capability.
    pub capability: Option<&'a str>,
    /// Revoked token ids.
    pub revoked: Vec<Digest>,
    /// Verification time.
    pub at: u64,
    /// Accept Ed25519-only checkpoints.
    pub allow_classical: bool,
    /// The newest checkpoint (or size) this verifier accepted before.
    pub last_seen: Option<LastSeen>,
    /// The oldest checkpoint accepted, in seconds (`stale` beyond it).
    pub max_age: Option<u64>,
}

/// Reads a bundle file.
pub fn read_bundle(path: &Path) -> CliResult<Bundle> {
    let bytes = read_limited(path, MAX_BUNDLE_LEN, "bundle")?;
    Ok(Bundle::from_bytes(&bytes)?)
}

/// Reads a remembered checkpoint (`--last-seen`); a missing file is `None` when `may_be_missing`.
pub fn read_last_seen(path: &Path, may_be_missing: bool) -> CliResult<Option<LastSeen>> {
    if may_be_missing && !path.exists() {
        return Ok(None);
    }
    let bytes = read_limited(path, cairn_core::note::MAX_NOTE_LEN, "last seen checkpoint")?;
    Ok(Some(LastSeen::parse_note(&bytes).map_err(|e| {
        CliError::from(e).context(&path.display().to_string())
    })?))
}

/// Verifies a bundle against a pinned root (the artifact hashed as a stream).
pub fn verify_files(
    ctx: &Ctx,
    bundle: &Bundle,
    pinned: &VerifiedRoot,
    req: &VerifyRequest<'_>,
) -> CliResult<BundleVerdict> {
    let artifact = match req.artifact {
        Some(p) => {
            let (size, sha256) = ctx.progress.hash_artifact(p, req.max_size)?;
            ArtifactCheck::Digest { size, sha256 }
        }
        None => ArtifactCheck::None,
    };
    let policy = BundlePolicy {
        require_hybrid_checkpoint: !req.allow_classical,
        artifact,
        token: VerifyOptions {
            audience: req.audience,
            capability: req.capability,
        },
        revoked_tokens: &req.revoked,
        last_seen: req.last_seen.as_ref(),
        max_age: req.max_age,
    };
    Ok(verify_bundle(bundle, pinned, req.at, &policy)?)
}

/// One paragraph about a verdict.
pub fn verdict_text(v: &Value) -> String {
    let signers = v["signers"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|k| {
                    format!(
                        "{} ({})",
                        k["label"].as_str().unwrap_or(""),
                        super::secrets::short(k["key_id"].as_str().unwrap_or(""))
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let checks = v["checks"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let revocation = match &v["not_revoked_as_of"] {
        Value::Null => "not proven by this bundle (version 1)".to_owned(),
        n => format!(
            "not revoked as of checkpoint {} ({} revocations), dated {}",
            n["size"],
            n["revocations"],
            n["time"].as_u64().map(fmt_time).unwrap_or_default()
        ),
    };
    format!(
        "VERIFIED {} {}\nsigned by  {}\ncheckpoint {} size {} (entry {})\nrevocation {}\ntrust root v{} {}\nchecks     {}",
        v["kind"].as_str().unwrap_or("?"),
        v["subject_id"].as_str().unwrap_or(""),
        signers,
        v["checkpoint"]["origin"].as_str().unwrap_or(""),
        v["checkpoint"]["size"],
        v["entry"]["seq"],
        revocation,
        v["trust_root"]["version"],
        v["trust_root"]["id"].as_str().map(super::secrets::short).unwrap_or(""),
        checks
    )
}

fn export(
    ctx: &Ctx,
    reg: &Registry,
    token: Option<&str>,
    manifest: Option<&str>,
) -> CliResult<(Bundle, &'static str, Value)> {
    let (seq, kind, id) = match (token, manifest) {
        (Some(t), _) => {
            let t = resolve_token(reg, t)?;
            (t.seq, "token", t.id)
        }
        (None, Some(m)) => {
            let m = resolve_manifest(reg, m)?;
            (m.last_seq, "manifest", m.digest)
        }
        (None, None) => return Err(CliError::usage("give --token or --manifest")),
    };
    // A checkpoint is signed first when none covers the entry, or when the newest does not
    // commit to the revocation map as it stands: that is a write.
    if reg.bundle_needs_checkpoint(seq)? {
        ctx.unlock(reg)?;
    }
    let b = match kind {
        "token" => reg.token_bundle(&id)?,
        _ => reg.manifest_bundle(&id)?,
    };
    Ok((b, kind, json!(hex_encode(&id))))
}

/// Where `bundle refresh` takes its pieces from.
enum PiecesSource<'a> {
    Registry,
    Service { base: &'a str, timeout: u64 },
    File(&'a Path),
}

/// The refresh pieces for `b` from `source`.
fn refresh_pieces(ctx: &Ctx, b: &Bundle, source: PiecesSource<'_>) -> CliResult<RefreshPieces> {
    match source {
        PiecesSource::File(path) => {
            let bytes = read_limited(path, MAX_BUNDLE_LEN, "refresh pieces")?;
            Ok(RefreshPieces::from_bytes(&bytes)
                .map_err(|e| CliError::from(e).context(&path.display().to_string()))?)
        }
        PiecesSource::Registry => {
            let reg = ctx.open(Access::MayWrite)?;
            // A checkpoint of the whole log is signed first when the newest is older: a write.
            let size = reg.tree_size()?;
            let behind = reg.latest_checkpoint().ok().is_none_or(|c| c.size < size);
            if behind || reg.bundle_needs_checkpoint(b.inclusion.leaf_index)? {
                ctx.unlock(&reg)?;
            }
            Ok(reg.refresh_pieces(b)?)
        }
        PiecesSource::Service { base, timeout } => {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(CliError::usage(format!(
                    "--from {base:?}: give an http:// or https:// URL"
                )));
            }
            let (kind, id) = match b.kind()? {
                BundleKind::Token => ("token", b.subject.id()),
                BundleKind::Manifest => (
                    "manifest",
                    cairn_core::manifest::manifest_digest(&b.subject),
                ),
            };
            let url = format!(
                "{}/api/v1/bundles/{kind}/{}/refresh?from={}&leaf={}",
                base.trim_end_matches('/'),
                hex_encode(&id),
                b.inclusion.tree_size,
                b.inclusion.leaf_index
            );
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(std::time::Duration::from_secs(timeout.max(1))))
                .build()
                .into();
            let mut resp = agent
                .get(&url)
                .call()
                .map_err(|e| CliError::store(StoreCode::Io, format!("GET {url}: {e}")))?;
            let status = resp.status().as_u16();
            let body = resp
                .body_mut()
                .with_config()
                .limit(MAX_BUNDLE_LEN as u64)
                .read_to_vec()
                .map_err(|e| CliError::store(StoreCode::Io, format!("GET {url}: {e}")))?;
            if status != 200 {
                let detail: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let code = detail["error"]["code"].as_str().unwrap_or("http_error");
                let message = detail["error"]["message"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
                // The service's own code (its exit class as the CLI's), else an I/O failure:
                // an answer that is not the service's says nothing about the bundle.
                return Err(CliError::service(
                    if detail["error"]["code"].is_string() {
                        code
                    } else {
                        "io"
                    },
                    format!("GET {url}: {status} {code}: {message}"),
                ));
            }
            Ok(RefreshPieces::from_bytes(&body)
                .map_err(|e| CliError::from(e).context(&format!("GET {url}")))?)
        }
    }
}

fn refresh(
    ctx: &Ctx,
    bundle: &Path,
    out: &Path,
    source: PiecesSource<'_>,
    pieces_out: Option<&Path>,
) -> CliResult<Output> {
    // (Replacing the old bundle is the point of a refresh: it is read whole first.)
    let outputs: Vec<&Path> = std::iter::once(out).chain(pieces_out).collect();
    ctx.check_outputs(&outputs, &[])?;
    let old = read_bundle(bundle)?;
    let pieces = refresh_pieces(ctx, &old, source)?;
    let fresh = refresh_bundle(&old, &pieces)?;
    let bytes = fresh.to_bytes();
    write_file(out, &bytes)?;
    if let Some(p) = pieces_out {
        write_file(p, &pieces.to_bytes())?;
    }
    let (from, to) = (old.inclusion.tree_size, fresh.inclusion.tree_size);
    let kind = match fresh.kind()? {
        BundleKind::Token => "token",
        BundleKind::Manifest => "manifest",
    };
    let mut text = format!(
        "refreshed the {kind} bundle: checkpoint size {from} -> {to} (the newer tree extends the bundle's), not revoked as of checkpoint {to}\nwrote {} ({} bytes)",
        out.display(),
        bytes.len()
    );
    if let Some(p) = pieces_out {
        text.push_str(&format!("\nwrote the refresh pieces to {}", p.display()));
    }
    text.push_str(&format!(
        "\nverify offline: cairn bundle verify {} --trust-root root.json --max-age SECONDS",
        out.display()
    ));
    Ok(Output::new(
        text,
        json!({
            "file": out.display().to_string(),
            "kind": kind,
            "bytes": bytes.len(),
            "entry": fresh.inclusion.leaf_index,
            "from_size": from,
            "checkpoint_size": to,
            "pieces_file": pieces_out.map(|p| p.display().to_string()),
        }),
    ))
}

pub fn run(ctx: &Ctx, cmd: BundleCmd) -> CliResult<Output> {
    match cmd {
        BundleCmd::Export {
            token,
            manifest,
            out,
            trust_root_out,
        } => {
            let outputs: Vec<&Path> = std::iter::once(out.as_path())
                .chain(trust_root_out.as_deref())
                .collect();
            ctx.check_outputs(&outputs, &[])?;
            let reg = ctx.open(Access::MayWrite)?;
            let (b, kind, id) = export(ctx, &reg, token.as_deref(), manifest.as_deref())?;
            let bytes = b.to_bytes();
            write_file(&out, &bytes)?;
            let root_file = match &trust_root_out {
                Some(p) => {
                    let r = reg.trust_root()?;
                    write_file(p, format!("{}\n", r.envelope.to_json()).as_bytes())?;
                    Some(p.display().to_string())
                }
                None => None,
            };
            let mut text = format!(
                "wrote the {kind} bundle ({} bytes) to {}\nentry {} under the checkpoint of size {}",
                bytes.len(),
                out.display(),
                b.inclusion.leaf_index,
                b.inclusion.tree_size
            );
            if let Some(f) = &root_file {
                text.push_str(&format!("\nwrote the trust root to {f}"));
            }
            text.push_str(&format!(
                "\nverify offline: cairn bundle verify {} --trust-root {}{}",
                out.display(),
                root_file.as_deref().unwrap_or("root.json"),
                if kind == "manifest" {
                    " --artifact FILE"
                } else {
                    ""
                }
            ));
            Ok(Output::new(
                text,
                json!({
                    "file": out.display().to_string(),
                    "kind": kind,
                    "subject_id": id,
                    "bytes": bytes.len(),
                    "entry": b.inclusion.leaf_index,
                    "checkpoint_size": b.inclusion.tree_size,
                    "trust_root_file": root_file,
                }),
            ))
        }
        BundleCmd::Refresh {
            bundle,
            out,
            from,
            pieces,
            pieces_out,
            timeout,
        } => {
            let source = match (&from, &pieces) {
                (Some(base), _) => PiecesSource::Service { base, timeout },
                (None, Some(p)) => PiecesSource::File(p),
                (None, None) => PiecesSource::Registry,
            };
            refresh(ctx, &bundle, &out, source, pieces_out.as_deref())
        }
        BundleCmd::Verify {
            bundle,
            trust_root,
            artifact,
            max_size,
            audience,
            capability,
            revoked,
            at,
            allow_classical_checkpoint,
            last_seen,
            min_size,
            update_last_seen,
            max_age,
            witness_keys,
            witness_quorum,
            witness_max_age,
        } => {
            let revoked = revoked
                .iter()
                .map(|r| {
                    hex_decode_array::<32>(&r.to_ascii_lowercase()).map_err(|_| {
                        CliError::usage(format!("--revoked {r:?}: give a token id (64 hex digits)"))
                    })
                })
                .collect::<CliResult<Vec<_>>>()?;
            let b = read_bundle(&bundle)?;
            // Like the checks core refuses for the other kind: a list of revoked tokens says
            // nothing of a manifest, and dropping it would pass what the caller meant to stop.
            if !revoked.is_empty() && matches!(b.kind(), Ok(BundleKind::Manifest)) {
                return Err(CliError::from(cairn_core::Error::new(
                    cairn_core::ErrorCode::DomainMismatch,
                    "this is a manifest bundle: --revoked lists token ids, and it holds no token \
                     (its signers' revocations are proven by the bundle itself)",
                )));
            }
            let pinned = read_trust_root(&trust_root)?;
            let at = at
                .as_deref()
                .map(parse_time)
                .transpose()?
                .unwrap_or_else(now);
            let remembered = match (&last_seen, min_size) {
                (Some(p), _) => read_last_seen(p, update_last_seen)?,
                (None, Some(n)) => Some(LastSeen::MinSize(n)),
                (None, None) => None,
            };
            let req = VerifyRequest {
                artifact: artifact.as_deref(),
                max_size,
                audience: audience.as_deref(),
                capability: capability.as_deref(),
                revoked,
                at,
                allow_classical: allow_classical_checkpoint,
                last_seen: remembered,
                max_age,
            };
            let witness_policy = (!witness_keys.is_empty())
                .then(|| {
                    super::witness::witness_policy(&witness_keys, witness_quorum, witness_max_age)
                })
                .transpose()?;
            let v = verify_files(ctx, &b, &pinned, &req)?.to_json();
            // The checkpoint's log signature was verified above; its cosignatures by the
            // witnesses named here decide k of n.
            let witnessed = match &witness_policy {
                None => None,
                Some(policy) => {
                    let note = cairn_core::note::Note::parse(b.checkpoint.as_bytes())
                        .map_err(|e| CliError::from(e).context("checkpoint"))?;
                    let verdict = cairn_core::witness::verify_cosignatures(&note, policy, at)
                        .map_err(|e| CliError::from(e).context("witnesses"))?;
                    verdict
                        .check()
                        .map_err(|e| CliError::from(e).context("witnesses"))?;
                    Some(verdict)
                }
            };
            let mut text = verdict_text(&v);
            if let Some(w) = &witnessed {
                let names: Vec<&str> = w
                    .cosigned
                    .iter()
                    .filter(|c| c.standing == cairn_core::witness::CosignatureStanding::Counted)
                    .map(|c| c.witness.as_str())
                    .collect();
                text.push_str(&format!(
                    "\nwitnessed  {} of the {} required: {}",
                    w.counted(),
                    w.quorum,
                    names.join(", ")
                ));
            }
            text.push_str(&format!("\nat         {}", fmt_time(at)));
            let seen_size = req.last_seen.as_ref().map(LastSeen::size);
            let size = b.inclusion.tree_size;
            if let Some(n) = seen_size {
                text.push_str(&format!(
                    "\nfreshness  checkpoint size {size}, last seen {n}: not older"
                ));
            }
            let mut updated = false;
            if let (true, Some(path)) = (update_last_seen, &last_seen) {
                if req.last_seen.is_none() || seen_size.is_some_and(|n| size > n) {
                    write_file(path, b.checkpoint.as_bytes())?;
                    updated = true;
                    text.push_str(&format!(
                        "\nremembered checkpoint size {size} in {}",
                        path.display()
                    ));
                }
            }
            if v["kind"] == "manifest" && artifact.is_none() {
                text.push_str("\nthe artifact itself was not checked (give --artifact FILE)");
            }
            let mut doc = json!({
                "verdict": v,
                "at": at,
                "artifact_checked": artifact.is_some(),
                "last_seen_size": seen_size,
                "last_seen_updated": updated,
                "witnessed": witnessed.as_ref().map(cairn_core::view::witness_verdict),
            });
            doc["valid"] = json!(true);
            Ok(Output::new(text, doc))
        }
    }
}
