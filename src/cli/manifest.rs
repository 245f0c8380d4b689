//! `cairn sign` and `cairn verify`: artifact manifests.

use cairn_core::encoding::hex_encode;
use cairn_core::manifest::{ArtifactCheck, ManifestClaims};
use cairn_core::ErrorCode;
use cairn_store::{ManifestInfo, Registry, StoreCode};
use serde_json::{json, Value};

use super::args::{SignArgs, TileProofArgs, VerifyArgs};
use super::error::{CliError, CliResult};
use super::util::{fmt_time, parse_pair, write_file};
use super::view::manifest_json;
use super::{resolve_key, resolve_manifest, tiles, Access, Ctx, Output};

fn manifest_text(m: &ManifestInfo) -> String {
    let c = &m.claims;
    let mut s = format!(
        "manifest  {}\nartifact  {} ({} bytes, {})\nsha256    {}\nsigners   {}\nentry     {} (signed {})",
        hex_encode(&m.digest),
        c.name,
        c.size,
        c.media_type,
        hex_encode(&c.sha256),
        m.signers.iter().map(|k| k.to_hex()).collect::<Vec<_>>().join(", "),
        m.last_seq,
        fmt_time(m.signed_at)
    );
    for (k, v) in &c.metadata {
        s.push_str(&format!("\nmeta      {k}={v}"));
    }
    if let Some(r) = &m.revoked {
        s.push_str(&format!("\nREVOKED   at entry {}: {}", r.seq, r.reason));
    }
    s
}

fn write_manifest(m: &ManifestInfo, out: Option<&std::path::Path>) -> CliResult<Option<String>> {
    match out {
        Some(p) => {
            write_file(p, format!("{}\n", m.envelope.to_json()).as_bytes())?;
            Ok(Some(p.display().to_string()))
        }
        None => Ok(None),
    }
}

pub fn sign(ctx: &Ctx, a: &SignArgs) -> CliResult<Output> {
    if let Some(out) = &a.out {
        let artifact: Vec<&std::path::Path> = a
            .artifact
            .as_deref()
            .filter(|p| p.as_os_str() != "-")
            .into_iter()
            .collect();
        ctx.check_outputs(&[out], &artifact)?;
    }
    let reg = ctx.open(Access::Write)?;
    let key = resolve_key(&reg, &a.key)?;
    let pass = ctx.secrets.for_key(&key)?;
    let (m, verb) = match (&a.cosign, &a.artifact) {
        (Some(sel), _) => {
            let digest = resolve_manifest(&reg, sel)?.digest;
            (
                reg.cosign_manifest(&digest, &key.key_id, pass.as_ref())?,
                "co-signed",
            )
        }
        (None, Some(path)) => {
            let name = match &a.name {
                Some(n) => n.clone(),
                None if path.as_os_str() == "-" => {
                    return Err(CliError::usage(
                        "the artifact comes from stdin: give its name with --name",
                    ))
                }
                None => path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| {
                        CliError::usage("the artifact path has no file name: give --name")
                    })?,
            };
            let (size, sha256) = ctx.progress.hash_artifact(path, a.max_size)?;
            let mut claims = ManifestClaims::new(&name, &a.media_type, size, sha256, reg.now());
            for m in &a.meta {
                let (k, v) = parse_pair(m, "metadata")?;
                claims.metadata.insert(k.to_owned(), v.to_owned());
            }
            claims.validate()?;
            (
                reg.write(|tx| tx.sign_manifest(&key.key_id, pass.as_ref(), &claims))?,
                "signed",
            )
        }
        (None, None) => {
            return Err(CliError::usage(
                "give an artifact file or --cosign MANIFEST",
            ))
        }
    };
    let file = write_manifest(&m, a.out.as_deref())?;
    let mut text = format!("{verb} at entry {}\n{}", m.last_seq, manifest_text(&m));
    if let Some(f) = &file {
        text.push_str(&format!("\nwrote the manifest to {f}"));
    }
    text.push_str(&format!(
        "\nbundle: cairn bundle export --manifest {} --out {}.bundle",
        super::secrets::short(&hex_encode(&m.digest)),
        m.claims.name
    ));
    Ok(Output::new(
        text,
        json!({"manifest": manifest_json(&m), "file": file}),
    ))
}

pub fn verify(ctx: &Ctx, a: &VerifyArgs) -> CliResult<Output> {
    if a.from_tiles.is_none() && a.tile_proofs.any() {
        return Err(CliError::usage(
            "--log-key, --trust-root, --origin, --entry and --old-checkpoint go with --from-tiles",
        ));
    }
    if let (None, None, Some(source)) = (&a.artifact, &a.manifest, &a.from_tiles) {
        // The log alone, from its tiles: no registry needed.
        return Ok(tiles::check(source, &a.tile_proofs, None, &[])?.report());
    }
    let reg = ctx.open(Access::Read)?;
    let hashed = a
        .artifact
        .as_deref()
        .map(|p| ctx.progress.hash_artifact(p, a.max_size))
        .transpose()?;
    let check = match hashed {
        Some((size, sha256)) => ArtifactCheck::Digest { size, sha256 },
        None => ArtifactCheck::None,
    };
    let candidates: Vec<ManifestInfo> = match (&a.manifest, hashed) {
        (Some(sel), _) => vec![resolve_manifest(&reg, sel)?],
        (None, Some((_, sha256))) => {
            let found = reg.manifests_for_artifact(&sha256)?;
            if found.is_empty() {
                return Err(CliError::store(
                    StoreCode::NotFound,
                    format!(
                        "no manifest of an artifact with SHA-256 {} is recorded",
                        hex_encode(&sha256)
                    ),
                ));
            }
            found
        }
        (None, None) => return Err(CliError::usage("give an artifact file or --manifest")),
    };
    let mut last_err: Option<CliError> = None;
    // The failure of a manifest that verified but is not published yet: it says more than
    // another manifest's failure to verify, whichever came last.
    let mut unpublished: Option<CliError> = None;
    for m in &candidates {
        match reg.verify_manifest(&m.digest, a.threshold, check) {
            Ok(v) => {
                let mut text = format!(
                    "verified: manifest {} ({} of {} signers trusted, threshold {})\n{}",
                    hex_encode(&v.digest),
                    v.signers.len(),
                    m.signers.len(),
                    a.threshold,
                    manifest_text(m)
                );
                if hashed.is_none() {
                    text.push_str("\nthe artifact itself was not checked (give its file)");
                }
                let mut fields = json!({
                    "valid": true,
                    "artifact_checked": hashed.is_some(),
                    "threshold": a.threshold,
                    "manifest": v.to_json(),
                });
                if let Some(source) = &a.from_tiles {
                    // Another recorded manifest of the same bytes may be the published one.
                    match published(&reg, m, source, &a.tile_proofs) {
                        Ok((said, published)) => {
                            text.push('\n');
                            text.push_str(&said);
                            fields["published"] = published;
                        }
                        Err(e) => {
                            unpublished.get_or_insert(e);
                            continue;
                        }
                    }
                }
                return Ok(Output::new(text, fields));
            }
            Err(e) => last_err = Some(e.into()),
        }
    }
    Err(unpublished
        .or(last_err)
        .unwrap_or_else(|| CliError::core(ErrorCode::ThresholdNotMet, "no manifest verified")))
}

/// Proves that the manifest's ledger entries (its signing, and the newest that added
/// signatures) are in the tiled log at `source`, byte for byte as this registry holds them:
/// the artifact's manifest is published. The checkpoint key is the one `proofs` names, else
/// this registry's log key under its origin.
fn published(
    reg: &Registry,
    m: &ManifestInfo,
    source: &str,
    proofs: &TileProofArgs,
) -> CliResult<(String, Value)> {
    let mut seqs = vec![m.signed_seq];
    if m.last_seq != m.signed_seq {
        seqs.push(m.last_seq);
    }
    let log_key = reg.key(&reg.log_key_id()?)?.public_key;
    let log = tiles::check(
        source,
        proofs,
        Some((reg.origin().to_owned(), log_key)),
        &seqs,
    )?;
    for seq in &seqs {
        let held = reg.entry(*seq)?.envelope.payload;
        let served = log
            .entries
            .iter()
            .find(|(s, ..)| s == seq)
            .map(|(_, leaf, ..)| leaf);
        if served != Some(&held) {
            return Err(CliError::core(
                ErrorCode::ProofInvalid,
                format!(
                    "entry {seq} of the log at {source} is not this registry's entry {seq}: the log records another history"
                ),
            ));
        }
    }
    let cp = &log.checkpoint;
    let said = format!(
        "published: entr{} {} of the manifest {} in the log at {source} (checkpoint of {} entries, root {}, signed by {})",
        if seqs.len() == 1 { "y" } else { "ies" },
        seqs.iter().map(u64::to_string).collect::<Vec<_>>().join(" and "),
        if seqs.len() == 1 { "is" } else { "are" },
        cp.size,
        hex_encode(&cp.root),
        log.log_key.key_id()
    );
    let mut fields = log.report().json;
    fields["source"] = source.into();
    fields["manifest_entries"] = json!(seqs);
    Ok((said, fields))
}
