//! `cairn checkpoint ...` and `cairn proof ...`.

use cairn_core::checkpoint::{verify_checkpoint, CheckpointPolicy, CheckpointVerifier};
use cairn_core::encoding::hex_encode;
use cairn_store::{Registry, StoreCode, StoredCheckpoint};
use serde_json::{json, Value};

use super::args::{CheckpointCmd, ProofCmd};
use super::error::{CliError, CliResult};
use super::util::{fmt_time, write_file};
use super::view::{checkpoint_json, NoteKeys};
use super::{Access, Ctx, Output};

fn hexes(h: &[[u8; 32]]) -> Vec<String> {
    h.iter().map(|d| hex_encode(d)).collect()
}

/// Verifies a stored checkpoint's note with the key the registry says signed it.
fn verify_stored(reg: &Registry, cp: &StoredCheckpoint) -> CliResult<()> {
    let key = reg.key(&cp.key_id)?.public_key;
    let v = CheckpointVerifier {
        name: reg.origin().to_owned(),
        public_key: key,
    };
    let ok = verify_checkpoint(
        cp.note.as_bytes(),
        &[v],
        &CheckpointPolicy::new(reg.origin()),
    )
    .map_err(|e| CliError::from(e).context(&format!("checkpoint at size {}", cp.size)))?;
    if ok.size != cp.size || ok.root != cp.root {
        return Err(CliError::core(
            cairn_core::ErrorCode::ProofInvalid,
            format!(
                "checkpoint at size {}: its note says size {}",
                cp.size, ok.size
            ),
        ));
    }
    Ok(())
}

fn note_out(
    reg: &Registry,
    cp: &StoredCheckpoint,
    out: Option<&std::path::Path>,
    verb: &str,
) -> CliResult<Output> {
    // The witnesses' cosignatures gathered for this checkpoint (`cairn checkpoint witness`)
    // are appended to its note.
    let witnessed = reg.witnessed_note(&cp.note)?;
    let cosigned = witnessed.matches('\n').count() - cp.note.matches('\n').count();
    let cp = &StoredCheckpoint {
        note: witnessed,
        ..cp.clone()
    };
    // The key Go's sumdb/note needs to check this note: the signer's Ed25519 part, named
    // by the origin.
    let notes = NoteKeys::of(reg.origin(), &reg.key(&cp.key_id)?.public_key);
    let file = match out {
        Some(p) => {
            write_file(p, cp.note.as_bytes())?;
            Some(p.display().to_string())
        }
        None => None,
    };
    let mut text = format!(
        "{verb} checkpoint: size {} root {} ({}), signed by {}",
        cp.size,
        hex_encode(&cp.root),
        fmt_time(cp.created_at),
        cp.key_id
    );
    if cosigned > 0 {
        text.push_str(&format!(
            "\nwith {cosigned} witness cosignature line(s) (cairn checkpoint witness)"
        ));
    }
    let note_text = notes.text();
    if !note_text.is_empty() {
        text.push('\n');
        text.push_str(&note_text);
    }
    match &file {
        Some(f) => text.push_str(&format!("\nwrote the note to {f}")),
        None => text.push_str(&format!("\n\n{}", cp.note.trim_end())),
    }
    let mut doc =
        json!({"checkpoint": checkpoint_json(cp), "file": file, "cosignatures": cosigned});
    if let (Value::Object(d), Value::Object(n)) = (&mut doc, notes.json()) {
        d.extend(n);
    }
    Ok(Output::new(text, doc))
}

pub fn run(ctx: &Ctx, cmd: CheckpointCmd) -> CliResult<Output> {
    match cmd {
        CheckpointCmd::Create { out } => {
            ctx.check_output(out.as_deref())?;
            let reg = ctx.open(Access::Write)?;
            let cp = reg.create_checkpoint()?;
            note_out(&reg, &cp, out.as_deref(), "signed")
        }
        CheckpointCmd::Latest { out } => {
            let reg = ctx.open(Access::Read)?;
            let cp = reg.latest_checkpoint()?;
            note_out(&reg, &cp, out.as_deref(), "newest")
        }
        CheckpointCmd::Witness {
            witnesses,
            witness_keys,
            timeout,
        } => super::witness::checkpoint_witness(ctx, &witnesses, &witness_keys, timeout),
        CheckpointCmd::History => {
            let reg = ctx.open(Access::Read)?;
            let cps = reg.checkpoints()?;
            let text = cps
                .iter()
                .map(|c| {
                    format!(
                        "size {:>6}  root {}  {}  key {}",
                        c.size,
                        hex_encode(&c.root),
                        fmt_time(c.created_at),
                        super::secrets::short(&c.key_id.to_hex())
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Output::new(
                text,
                json!({"checkpoints": cps.iter().map(checkpoint_json).collect::<Vec<_>>()}),
            ))
        }
        CheckpointCmd::Consistency { from, to } => {
            let reg = ctx.open(Access::Read)?;
            let cps = reg.checkpoints()?;
            let at = |size: u64| -> CliResult<StoredCheckpoint> {
                cps.iter().find(|c| c.size == size).cloned().ok_or_else(|| {
                    CliError::store(
                        StoreCode::NotFound,
                        format!(
                            "no checkpoint at size {size} (cairn checkpoint history lists them)"
                        ),
                    )
                })
            };
            let newest = cps.last().cloned().ok_or_else(|| {
                CliError::store(StoreCode::Corrupt, "the registry has no checkpoint")
            })?;
            let new = match to {
                Some(s) => at(s)?,
                None => newest,
            };
            let old = match from {
                Some(s) => at(s)?,
                None => cps
                    .iter()
                    .rev()
                    .find(|c| c.size < new.size)
                    .cloned()
                    .unwrap_or_else(|| new.clone()),
            };
            if old.size > new.size {
                return Err(CliError::usage(format!(
                    "--from {} is after --to {}",
                    old.size, new.size
                )));
            }
            verify_stored(&reg, &old)?;
            verify_stored(&reg, &new)?;
            let proof = reg.checkpoint_consistency(old.size, new.size)?;
            proof.verify(&old.root, &new.root)?;
            Ok(Output::new(
                format!(
                    "consistent: the checkpoint at size {} extends the one at size {} (both notes verified; a proof of {} hash{})",
                    new.size,
                    old.size,
                    proof.hashes.len(),
                    if proof.hashes.len() == 1 { "" } else { "es" }
                ),
                json!({
                    "valid": true,
                    "from": checkpoint_json(&old),
                    "to": checkpoint_json(&new),
                    "proof": hexes(&proof.hashes),
                }),
            ))
        }
    }
}

pub fn proof(ctx: &Ctx, cmd: ProofCmd) -> CliResult<Output> {
    let reg = ctx.open(Access::Read)?;
    match cmd {
        ProofCmd::Inclusion { seq, size } => {
            let entry = reg.entry(seq)?;
            let cp = reg.latest_checkpoint()?;
            let (head, head_note) = reg.signed_head_note()?;
            // By default: the newest checkpoint that covers the entry, else the signed head
            // (the log key's checkpoint of the whole tree at its last commit).
            let size = match size {
                Some(s) => s,
                None if cp.size > seq => cp.size,
                None => head.size,
            };
            let root = reg.root(size)?;
            let leaf = entry.leaf_hash();
            let proof = reg.inclusion_proof(seq, size)?;
            proof.verify(&leaf, &root)?;
            // The root is signed when a checkpoint, or the signed head, covers exactly this size.
            let signed_by = reg.checkpoints()?.into_iter().find(|c| c.size == size);
            let by_head = signed_by.is_none() && size == head.size;
            let under = match &signed_by {
                Some(c) => Some(c.note.clone()),
                None if by_head => Some(head_note),
                None => None,
            };
            let mut text = format!(
                "entry {seq} ({}) is in the tree of size {size}\nleaf {}\nroot {}\nproof ({} hashes):",
                entry.entry.event.kind(),
                hex_encode(&leaf),
                hex_encode(&root),
                proof.hashes.len()
            );
            for h in &proof.hashes {
                text.push_str(&format!("\n  {}", hex_encode(h)));
            }
            match &signed_by {
                Some(c) if c.size == cp.size => text
                    .push_str("\nthe root is the newest checkpoint's (cairn checkpoint latest)"),
                Some(c) => text.push_str(&format!(
                    "\nthe root is signed by the checkpoint at size {} (cairn checkpoint history)",
                    c.size
                )),
                None if by_head => text.push_str(
                    "\nthe root is the registry's signed head: the log key signed this tree at its last commit (the note is in --json as `checkpoint`; `cairn checkpoint create` publishes it)",
                ),
                None => text.push_str(&format!(
                    "\nWARNING: this root is NOT SIGNED: no checkpoint covers the tree of size {size} \
                     (the newest signed checkpoint is at size {}); nobody outside this registry \
                     can hold it to this root. Run `cairn checkpoint create`, then prove again.",
                    cp.size
                )),
            }
            Ok(Output::new(
                text,
                json!({
                    "valid": true,
                    "seq": seq,
                    "size": size,
                    "leaf_hash": hex_encode(&leaf),
                    "root": hex_encode(&root),
                    "proof": hexes(&proof.hashes),
                    "signed": under.is_some(),
                    "signed_by": if signed_by.is_some() { "checkpoint" } else if by_head { "head" } else { "none" },
                    "checkpoint": under,
                    "newest_checkpoint_size": cp.size,
                }),
            ))
        }
        ProofCmd::Revocation { kind, id } => {
            let kind = cairn_core::revocation::ObjectKind::parse(&kind)
                .map_err(|e| CliError::from(e).context("kind (key, token or manifest)"))?;
            let id = cairn_core::encoding::hex_decode_array::<32>(&id.to_ascii_lowercase())
                .map_err(|_| CliError::usage("the id is 64 hex digits"))?;
            let s = reg.revocation_proof(kind, &id)?;
            let text = format!(
                "{} {} is {} as of the signed head (tree size {})\nrevocation map: {} revocations, root {}\nproof ({} bytes, base64): {}\nthe note to verify first (--json: checkpoint):\n{}",
                kind.name(),
                hex_encode(&id),
                match s.revoked_by {
                    Some(seq) => format!("REVOKED by entry {seq}"),
                    None => "not revoked".to_owned(),
                },
                s.head.size,
                s.revocations.count,
                hex_encode(&s.revocations.root),
                s.proof.to_bytes().len(),
                cairn_core::encoding::b64_encode(&s.proof.to_bytes()),
                s.note.trim_end()
            );
            Ok(Output::new(text, cairn_store::view::revocation_status(&s)))
        }
        ProofCmd::Consistency { old, new } => {
            let new = match new {
                Some(n) => n,
                None => reg.tree_size()?,
            };
            let (old_root, new_root) = (reg.root(old)?, reg.root(new)?);
            let proof = reg.consistency_proof(old, new)?;
            proof.verify(&old_root, &new_root)?;
            let mut text = format!(
                "the tree of size {new} extends the tree of size {old}\nold root {}\nnew root {}\nproof ({} hashes):",
                hex_encode(&old_root),
                hex_encode(&new_root),
                proof.hashes.len()
            );
            for h in &proof.hashes {
                text.push_str(&format!("\n  {}", hex_encode(h)));
            }
            Ok(Output::new(
                text,
                json!({
                    "valid": true,
                    "old_size": old,
                    "new_size": new,
                    "old_root": hex_encode(&old_root),
                    "new_root": hex_encode(&new_root),
                    "proof": hexes(&proof.hashes),
                }),
            ))
        }
    }
}
