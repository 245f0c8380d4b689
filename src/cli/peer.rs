//! `cairn peer ...`: the signed key exchange (request, respond, receive), operator acceptance,
//! listing and removal. Every decision is cairn-core's (messages, replay, vouching) or the
//! store's (records, ledger entries).

use cairn_core::crypto::KeyId;
use cairn_core::encoding::{b64_decode, hex_encode};
use cairn_core::peer::{ExchangeConfig, KemPublicKey, PeerLog, VouchPolicy, MLKEM768_EK_LEN};
use cairn_store::view::peer as peer_json;
use cairn_store::{PeerInfo, Registry};
use serde_json::json;

use super::args::PeerCmd;
use super::error::{CliError, CliResult};
use super::ledger::read_trust_root;
use super::util::{parse_pair, read_limited, write_file};
use super::{resolve_key, Access, Ctx, Output};

/// Largest key-exchange file read (a response with a transparency bundle is at most 1 MiB).
const MAX_MESSAGE_FILE: usize = cairn_core::bundle::MAX_BUNDLE_LEN;

fn peer_line(p: &PeerInfo) -> String {
    let status = match &p.verified {
        Some(v) => format!("verified ({})", v.rule.name()),
        None => "NOT VERIFIED".into(),
    };
    let mut line = format!(
        "{}  {}  {}{}  {status}",
        p.peer_id,
        p.key_id(),
        p.signing_key.algorithm(),
        if p.is_legacy() { " (legacy)" } else { "" }
    );
    if let Some(x) = &p.proposed {
        line.push_str(&format!("  proposed change: {}", x.signing_key.key_id()));
    }
    line
}

fn read_kem_key(path: &std::path::Path) -> CliResult<KemPublicKey> {
    let bytes = read_limited(path, 4 * MLKEM768_EK_LEN, "KEM key file")?;
    let raw = if bytes.len() == MLKEM768_EK_LEN {
        bytes
    } else {
        let text = String::from_utf8(bytes).map_err(|_| {
            CliError::core(
                cairn_core::ErrorCode::Malformed,
                "the KEM key file is neither 1184 raw bytes nor base64",
            )
        })?;
        b64_decode(text.trim()).map_err(|e| CliError::from(e).context("KEM key file"))?
    };
    KemPublicKey::from_bytes(&raw).map_err(|e| CliError::from(e).context("KEM key file"))
}

fn identity_passphrase(ctx: &Ctx, reg: &Registry) -> CliResult<Option<cairn_store::Passphrase>> {
    let me = reg.peer_identity()?.ok_or_else(|| {
        CliError::store(
            cairn_store::StoreCode::InvalidState,
            "this registry has no peer identity: run `cairn peer init` first",
        )
    })?;
    let key = reg.key(&me.key_id)?;
    ctx.secrets.for_key(&key)
}

pub fn run(ctx: &Ctx, cmd: PeerCmd) -> CliResult<Output> {
    let cfg = ExchangeConfig::default();
    match cmd {
        PeerCmd::Init { id, key, kem_key } => {
            let kem = read_kem_key(&kem_key)?;
            let reg = ctx.open(Access::Write)?;
            let k = resolve_key(&reg, &key)?;
            let before = reg.peer_identity()?;
            let me = reg.set_peer_identity(&id, &k.key_id, &kem)?;
            // Re-keyed: the old key keeps vouching through this log's bundles until revoked.
            let mut warnings = Vec::new();
            if let Some(old) = before.filter(|b| b.key_id != me.key_id) {
                if !matches!(
                    reg.key(&old.key_id)?.status,
                    cairn_store::KeyStatus::Revoked { .. }
                ) {
                    warnings.push(format!(
                        "the old identity key {} is not revoked: proofs of this registry's log still vouch for it to peers that pinned nothing; if it may have leaked, revoke it (`cairn key revoke {} --reason ...`)",
                        old.key_id, old.key_id
                    ));
                }
            }
            for w in &warnings {
                ctx.warn(w);
            }
            let mut doc = cairn_store::view::peer_identity(&me);
            if let serde_json::Value::Object(m) = &mut doc {
                m.insert("warnings".into(), json!(warnings));
            }
            Ok(Output::new(
                format!(
                    "this registry is peer {} (key {}) at entry {}",
                    me.peer_id, me.key_id, me.stored_seq
                ),
                doc,
            ))
        }
        PeerCmd::Request { peer, out, again } => {
            ctx.check_output(Some(&out))?;
            let reg = ctx.open(Access::Write)?;
            let pass = identity_passphrase(ctx, &reg)?;
            let bytes = if again {
                Some(reg.request_peer_keys_again(&peer, &cfg, pass.as_ref())?)
            } else {
                reg.request_peer_keys(&peer, &cfg, pass.as_ref())?
            };
            match bytes {
                None => Ok(Output::new(
                    format!(
                        "the keys of {peer} are verified; no request needed (--again to refresh)"
                    ),
                    json!({"peer_id": peer, "requested": false}),
                )),
                Some(b) => {
                    write_file(&out, &b)?;
                    Ok(Output::new(
                        format!(
                            "key request to {peer} written to {} ({} bytes); it expires in {} s",
                            out.display(),
                            b.len(),
                            cfg.pending_ttl
                        ),
                        json!({"peer_id": peer, "requested": true, "out": out.display().to_string(), "bytes": b.len()}),
                    ))
                }
            }
        }
        PeerCmd::Respond {
            request,
            out,
            with_proof,
        } => {
            ctx.check_output(Some(&out))?;
            let bytes = read_limited(&request, MAX_MESSAGE_FILE, "key request file")?;
            let reg = ctx.open(Access::Write)?;
            let pass = identity_passphrase(ctx, &reg)?;
            let resp = reg.respond_to_key_request(&bytes, &cfg, pass.as_ref(), with_proof)?;
            write_file(&out, &resp)?;
            Ok(Output::new(
                format!(
                    "key response written to {} ({} bytes{})",
                    out.display(),
                    resp.len(),
                    if with_proof {
                        ", with its transparency proof"
                    } else {
                        ""
                    }
                ),
                json!({"out": out.display().to_string(), "bytes": resp.len(), "with_proof": with_proof}),
            ))
        }
        PeerCmd::Receive {
            response,
            bootstrap_root,
            log_root,
            trust_on_first_use,
            allow_classical_checkpoint,
            max_age,
        } => {
            let bytes = read_limited(&response, MAX_MESSAGE_FILE, "key response file")?;
            let bootstrap = bootstrap_root.as_deref().map(read_trust_root).transpose()?;
            let logs = log_root
                .iter()
                .map(|arg| {
                    let (peer, file) = parse_pair(arg, "--log-root")?;
                    Ok(PeerLog::new(
                        peer,
                        read_trust_root(std::path::Path::new(file))?,
                    ))
                })
                .collect::<CliResult<Vec<_>>>()?;
            let reg = ctx.open(Access::Write)?;
            // One transaction, whatever the verdict (the replay state is kept), whose own trust
            // root pins the bootstrap peers unless a root was given, as `cairn serve` does (an
            // own root past its validity pins nothing, and turns first use off:
            // `OwnBootstrapPins`; a root given on purpose is held to its validity, and refuses).
            let mut own_expired = false;
            let got = reg.write(|tx| {
                let own = match &bootstrap {
                    Some(_) => cairn_store::OwnBootstrapPins::default(),
                    None => tx.own_bootstrap_pins()?,
                };
                own_expired = own.expired();
                let policy = VouchPolicy {
                    bootstrap: bootstrap.as_ref().or(own.root()),
                    transparency: &logs,
                    require_hybrid_checkpoint: !allow_classical_checkpoint,
                    trust_on_first_use: own.trust_on_first_use(trust_on_first_use),
                    max_age,
                };
                tx.receive_key_response(&bytes, &cfg, &policy)
            })?;
            let warnings: Vec<String> = if own_expired {
                vec![format!(
                    "{} (renew it with `cairn root rotate`, or give --bootstrap-root)",
                    cairn_store::OwnBootstrapPins::EXPIRED
                )]
            } else {
                vec![]
            };
            for w in &warnings {
                ctx.warn(w);
            }
            // The verdict on the key, once the warning is out.
            let got = got?;
            let text = match &got.vouch {
                Some(v) => format!("verified by rule {}\n{}", v.rule.name(), peer_line(&got.peer)),
                None => format!(
                    "stored, NOT VERIFIED: nothing vouches for this key (`cairn peer accept {} {}` to accept it)\n{}",
                    got.peer.peer_id, got.peer.key_id(), peer_line(&got.peer)
                ),
            };
            Ok(Output::new(
                text,
                json!({"peer": peer_json(&got.peer), "verified": got.vouch.is_some(),
                       "rule": got.vouch.as_ref().map(|v| v.rule.name()),
                       "vouch": got.vouch.as_ref().map(cairn_core::view::vouch),
                       "warnings": warnings}),
            ))
        }
        PeerCmd::Accept {
            peer,
            key_id,
            allow_weaker,
        } => {
            // Any case, as the service takes it.
            let id = KeyId::from_hex(&key_id.to_ascii_lowercase()).map_err(CliError::from)?;
            let reg = ctx.open(Access::Write)?;
            let weaker = cairn_store::WeakerAlgorithm::allowed_if(allow_weaker);
            let p = reg.accept_peer_key(&peer, &id, weaker)?;
            Ok(Output::new(
                format!(
                    "accepted by an operator (recorded at entry {})\n{}",
                    p.verified.map_or(p.stored_seq, |v| v.seq),
                    peer_line(&p)
                ),
                json!({"peer": peer_json(&p)}),
            ))
        }
        PeerCmd::List { verified } => {
            let reg = ctx.open(Access::Read)?;
            let peers = if verified {
                reg.list_verified_peers()?
            } else {
                reg.list_peers()?
            };
            let text = if peers.is_empty() {
                "no peers".to_owned()
            } else {
                peers.iter().map(peer_line).collect::<Vec<_>>().join("\n")
            };
            Ok(Output::new(
                text,
                json!({"peers": peers.iter().map(peer_json).collect::<Vec<_>>()}),
            ))
        }
        PeerCmd::Show { peer } => {
            let reg = ctx.open(Access::Read)?;
            let p = reg.peer(&peer)?;
            Ok(Output::new(
                format!(
                    "{}\nKEM key (ML-KEM-768) SHA-256 {}",
                    peer_line(&p),
                    hex_encode(&p.kem_key.digest())
                ),
                json!({"peer": peer_json(&p)}),
            ))
        }
        PeerCmd::Remove { peer, reason } => {
            let reg = ctx.open(Access::Write)?;
            let seq = reg.remove_peer(&peer, &reason)?;
            Ok(Output::new(
                format!("removed peer {peer} at entry {seq}"),
                json!({"peer_id": peer, "seq": seq}),
            ))
        }
    }
}
