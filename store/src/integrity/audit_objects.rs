//! The audit's comparison of the token, manifest and trust-root tables (and the manifest
//! indexes) with what the ledger describes. Each mismatch is reported against the entry that
//! made the object, so the audit can name the first bad entry.

use std::collections::{BTreeMap, BTreeSet};

use redb::{ReadTransaction, ReadableMultimapTable, ReadableTable};

use crate::error::{StoreError, StoreResult};
use crate::integrity::audit::EntryTimes;
use crate::kernel::schema::{
    self, MANIFESTS, MANIFESTS_BY_ARTIFACT, MANIFESTS_BY_SIGNER, TOKENS, TRUST_ROOTS,
};
use crate::objects::manifests::ManifestRecord;
use crate::objects::tokens::{Revocation, TokenRecord};
use crate::objects::trustroots::TrustRootRecord;
use cairn_core::encoding::{hex_encode, Digest};
use cairn_core::error::ErrorCode;
use cairn_core::ledger::LedgerState;
use cairn_core::manifest::MANIFEST_PAYLOAD_TYPE;
use cairn_core::trust::{root_id, verify_rotation_chain};

fn bad(seq: u64, code: ErrorCode, detail: String) -> StoreError {
    StoreError::core(code, detail).at_seq(seq)
}

/// The stored revocation agrees with the ledger's (its time stamp is its entry's).
fn same_revocation(stored: &Option<Revocation>, ledger: &Option<Revocation>) -> bool {
    match (stored, ledger) {
        (None, None) => true,
        (Some(r), Some(l)) => {
            r.seq == l.seq && r.reason == l.reason && r.revoker == l.revoker && r.at == l.at
        }
        _ => false,
    }
}

fn load<T: serde::de::DeserializeOwned>(
    rtx: &ReadTransaction,
    def: redb::TableDefinition<[u8; 32], &'static [u8]>,
    what: &str,
) -> StoreResult<BTreeMap<Digest, T>> {
    let t = rtx.open_table(def)?;
    let mut out = BTreeMap::new();
    for row in t.iter()? {
        let (k, v) = row?;
        out.insert(k.value(), schema::decode(v.value(), what)?);
    }
    Ok(out)
}

fn multimap(
    rtx: &ReadTransaction,
    def: redb::MultimapTableDefinition<[u8; 32], [u8; 32]>,
) -> StoreResult<BTreeSet<(Digest, Digest)>> {
    let t = rtx.open_multimap_table(def)?;
    let mut out = BTreeSet::new();
    for row in t.iter()? {
        let (k, values) = row?;
        for v in values {
            out.insert((k.value(), v?.value()));
        }
    }
    Ok(out)
}

/// [`cairn_core::ledger::check_token_authority`] for a stored token whose record matches its
/// entry: the claims from the record, the issuer's roles and the parent's entry as the
/// replayed ledger gives them, the parent's holder from its record.
fn token_authority(
    rec: &TokenRecord,
    seq: u64,
    replay: &LedgerState,
    tokens: &BTreeMap<Digest, TokenRecord>,
) -> Result<(), cairn_core::Error> {
    let claims = match rec.info() {
        Ok(t) => t.claims,
        Err(e) => return Err(cairn_core::Error::malformed(e.to_string())),
    };
    let Some(issuer) = replay.keys.get(&claims.issuer) else {
        return Err(cairn_core::Error::new(
            ErrorCode::UnknownKey,
            format!("its issuer {} is no key of the ledger", claims.issuer),
        ));
    };
    let parent = claims.parent.and_then(|p| {
        let entry = replay.tokens.get(&p)?;
        let holder = tokens.get(&p)?.info().ok()?.claims.holder.key_id();
        Some((entry.seq, holder))
    });
    cairn_core::ledger::check_token_authority(&claims, issuer.roles, parent, seq)
}

/// Every mismatch between the object tables and the replayed ledger.
pub(crate) fn check_objects(
    rtx: &ReadTransaction,
    replay: &LedgerState,
    times: &EntryTimes,
) -> StoreResult<Vec<StoreError>> {
    let mut problems = Vec::new();

    let tokens: BTreeMap<Digest, TokenRecord> = load(rtx, TOKENS, "token record")?;
    for (id, want) in &replay.tokens {
        let name = hex_encode(id);
        let Some(rec) = tokens.get(id) else {
            problems.push(bad(
                want.seq,
                ErrorCode::ChainBroken,
                format!("token {name} issued here has no record"),
            ));
            continue;
        };
        let matches = rec.info().is_ok_and(|t| {
            t.id == *id
                && t.claims.issuer == want.issuer
                && t.claims.audience == want.audience
                && t.claims.expires_at == want.expires_at
        });
        if !matches || rec.seq != want.seq || times.differs(want.seq, rec.issued_at) {
            problems.push(bad(
                want.seq,
                ErrorCode::DigestMismatch,
                format!("the record of token {name} differs from this entry"),
            ));
        } else {
            if let Err(e) = token_authority(rec, want.seq, replay, &tokens) {
                problems.push(bad(
                    want.seq,
                    e.code(),
                    format!("token {name}: {}", e.detail()),
                ));
            }
            if !same_revocation(&rec.revoked, &want.revoked) {
                let seq = want.revoked.as_ref().map_or(want.seq, |r| r.seq);
                problems.push(bad(
                    seq,
                    ErrorCode::ChainBroken,
                    format!("the revocation status of token {name} differs from the ledger"),
                ));
            }
        }
    }
    for id in tokens.keys().filter(|id| !replay.tokens.contains_key(*id)) {
        problems.push(StoreError::corrupt(format!(
            "token {} has a record but no ledger entry issued it",
            hex_encode(id)
        )));
    }

    let manifests: BTreeMap<Digest, ManifestRecord> = load(rtx, MANIFESTS, "manifest record")?;
    let mut want_artifact = BTreeSet::new();
    let mut want_signer = BTreeSet::new();
    for (digest, want) in &replay.manifests {
        let name = hex_encode(digest);
        want_artifact.insert((want.sha256, *digest));
        want_signer.extend(want.signers.iter().map(|k| (k.0, *digest)));
        let Some(rec) = manifests.get(digest) else {
            problems.push(bad(
                want.signed_seq,
                ErrorCode::ChainBroken,
                format!("manifest {name} signed here has no record"),
            ));
            continue;
        };
        let info = rec.info();
        let matches = info.as_ref().is_ok_and(|m| {
            m.digest == *digest
                && m.claims.name == want.name
                && m.claims.sha256 == want.sha256
                && m.signers == want.signers
        });
        // The signatures are outside the manifest's digest: each must verify by the key the
        // ledger recorded for its signer, as a verified read requires.
        let signed = info.as_ref().is_ok_and(|m| {
            m.signers.iter().all(|k| {
                replay.keys.get(k).is_some_and(|key| {
                    m.envelope
                        .verify(
                            MANIFEST_PAYLOAD_TYPE,
                            std::slice::from_ref(&key.public_key),
                            1,
                        )
                        .is_ok()
                })
            })
        });
        if !matches
            || rec.signed_seq != want.signed_seq
            || times.differs(want.signed_seq, rec.signed_at)
        {
            problems.push(bad(
                want.signed_seq,
                ErrorCode::DigestMismatch,
                format!("the record of manifest {name} differs from this entry"),
            ));
        } else if !signed {
            problems.push(bad(
                want.last_seq,
                ErrorCode::SignatureInvalid,
                format!("a signature on the record of manifest {name} does not verify"),
            ));
        } else if rec.last_seq != want.last_seq {
            problems.push(bad(
                want.last_seq,
                ErrorCode::ChainBroken,
                format!("the record of manifest {name} misses this co-signature"),
            ));
        } else if !same_revocation(&rec.revoked, &want.revoked) {
            let seq = want.revoked.as_ref().map_or(want.signed_seq, |r| r.seq);
            problems.push(bad(
                seq,
                ErrorCode::ChainBroken,
                format!("the revocation status of manifest {name} differs from the ledger"),
            ));
        }
    }
    for id in manifests
        .keys()
        .filter(|id| !replay.manifests.contains_key(*id))
    {
        problems.push(StoreError::corrupt(format!(
            "manifest {} has a record but no ledger entry signed it",
            hex_encode(id)
        )));
    }
    for (def, want, what) in [
        (MANIFESTS_BY_ARTIFACT, &want_artifact, "artifact"),
        (MANIFESTS_BY_SIGNER, &want_signer, "signer"),
    ] {
        let have = multimap(rtx, def)?;
        for (k, m) in want.difference(&have) {
            let seq = replay.manifests.get(m).map_or(u64::MAX, |w| w.last_seq);
            problems.push(bad(
                seq,
                ErrorCode::ChainBroken,
                format!(
                    "the {what} index lacks {} → manifest {}",
                    hex_encode(k),
                    hex_encode(m)
                ),
            ));
        }
        for (k, m) in have.difference(want) {
            problems.push(StoreError::corrupt(format!(
                "the {what} index lists {} → manifest {}, which the ledger does not",
                hex_encode(k),
                hex_encode(m)
            )));
        }
    }

    let t = rtx.open_table(TRUST_ROOTS)?;
    let mut roots = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        let rec: TrustRootRecord = schema::decode(v.value(), "trust root")?;
        roots.push((k.value(), rec));
    }
    for (version, (seq, id)) in &replay.trust_roots {
        match roots.iter().find(|(v, _)| v == version) {
            None => problems.push(bad(
                *seq,
                ErrorCode::ChainBroken,
                format!("trust root version {version} recorded here has no record"),
            )),
            Some((_, rec)) => {
                let ok = cairn_core::dsse::Envelope::from_compact(&rec.envelope)
                    .is_ok_and(|env| root_id(&env.payload) == *id);
                if !ok || rec.seq != *seq {
                    problems.push(bad(
                        *seq,
                        ErrorCode::DigestMismatch,
                        format!(
                            "the record of trust root version {version} differs from this entry"
                        ),
                    ));
                }
            }
        }
    }
    if roots.len() != replay.trust_roots.len() {
        problems.push(StoreError::corrupt(
            "the trust-root table holds versions the ledger does not record",
        ));
    } else if let Some(((_, first), rest)) = roots.split_first() {
        // The recorded versions must form a valid rotation chain.
        let chain: StoreResult<()> = (|| {
            let pinned = first.stored()?.root;
            let rest: Vec<_> = rest
                .iter()
                .map(|(_, r)| r.stored().map(|s| s.envelope))
                .collect::<StoreResult<_>>()?;
            let at = rest.last().map_or(pinned.issued_at, |e| {
                cairn_core::trust::TrustRoot::from_bytes(&e.payload).map_or(0, |r| r.issued_at)
            });
            verify_rotation_chain(&pinned, &rest, at)?;
            Ok(())
        })();
        if let Err(e) = chain {
            let seq = roots.last().map_or(0, |(_, r)| r.seq);
            problems.push(e.context("trust-root chain").at_seq(seq));
        }
    }
    // Peer keys: the identity and the peer records against the stored, verified and removed
    // peer keys of the ledger.
    let have = crate::objects::peers::table_peer_keys(rtx)?;
    for ((peer, key), want) in &replay.peer_keys {
        match have.get(&(peer.clone(), *key)) {
            None => problems.push(bad(
                want.stored_seq,
                ErrorCode::ChainBroken,
                format!("key {key} of peer {peer:?} stored here has no record"),
            )),
            Some((got, _)) if got.stored_seq != want.stored_seq => problems.push(bad(
                want.stored_seq,
                ErrorCode::DigestMismatch,
                format!("the record of peer {peer:?} differs from this entry"),
            )),
            Some((got, _)) if got.verified_seq != want.verified_seq => problems.push(bad(
                want.verified_seq.unwrap_or(want.stored_seq),
                ErrorCode::ChainBroken,
                format!("the verification of peer {peer:?} differs from the ledger"),
            )),
            Some((_, stamps)) => {
                if let Some((seq, _)) = stamps.iter().find(|(seq, at)| times.differs(*seq, *at)) {
                    problems.push(bad(
                        *seq,
                        ErrorCode::DigestMismatch,
                        format!("the record of peer {peer:?} gives this entry another time"),
                    ));
                }
            }
        }
    }
    for (peer, key) in have.keys().filter(|k| !replay.peer_keys.contains_key(*k)) {
        problems.push(StoreError::corrupt(format!(
            "peer {peer:?} has a record of key {key}, which no ledger entry stored"
        )));
    }
    // Handles: the table against the registered handles of the ledger (blind index, entry
    // and identity digest; no secret is needed).
    let have = crate::objects::handles::table_handles(rtx)?;
    for (index, want) in &replay.handles {
        let name = crate::objects::handles::show(index);
        match have.get(index) {
            None => problems.push(bad(
                want.seq,
                ErrorCode::ChainBroken,
                format!("handle {name} registered here has no record"),
            )),
            Some((got, at))
                if got.seq != want.seq
                    || got.identity_digest != want.identity_digest
                    || times.differs(want.seq, *at) =>
            {
                problems.push(bad(
                    want.seq,
                    ErrorCode::DigestMismatch,
                    format!("the record of handle {name} differs from this entry"),
                ))
            }
            Some(_) => {}
        }
    }
    for index in have.keys().filter(|k| !replay.handles.contains_key(*k)) {
        problems.push(StoreError::corrupt(format!(
            "handle {} has a record, which no ledger entry registered",
            crate::objects::handles::show(index)
        )));
    }
    Ok(problems)
}
