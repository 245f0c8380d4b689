//! Artifact manifests: sign (the artifact hashed as a stream), co-sign, verify with a signer
//! threshold, revoke, and the two indexes: what a key signed, who signed an artifact.

use std::collections::BTreeSet;

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::db::{Registry, Txn};
use crate::kernel::schema::{
    self, ReadTables, MANIFESTS, MANIFESTS_BY_ARTIFACT, MANIFESTS_BY_SIGNER,
};
use crate::objects::keys::{check_reason, KeyStatus};
use crate::objects::seal::Passphrase;
use crate::objects::tokens::Revocation;
use cairn_core::crypto::KeyId;
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{hex_encode, Digest};
use cairn_core::error::ErrorCode;
use cairn_core::ledger::Event;
use cairn_core::manifest::{
    add_cosignature, hash_reader, manifest_digest, sign_manifest, verify_manifest, ArtifactCheck,
    ManifestClaims, VerifiedManifest,
};
use cairn_core::trust::Role;
use cairn_core::UnixTime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ManifestRecord {
    /// Compact envelope with every signature so far.
    #[serde(with = "cairn_core::crypto::bytes_b64")]
    pub envelope: Vec<u8>,
    /// The `manifest_signed` entry.
    pub signed_seq: u64,
    /// The newest `manifest_signed` or `manifest_cosigned` entry (what a bundle carries).
    pub last_seq: u64,
    pub signed_at: UnixTime,
    pub revoked: Option<Revocation>,
}

/// A stored manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInfo {
    /// Its identity ([`manifest_digest`]), unchanged by co-signatures.
    pub digest: Digest,
    /// The envelope with every signature.
    pub envelope: Envelope,
    /// What it says.
    pub claims: ManifestClaims,
    /// Key ids that signed, in signing order.
    pub signers: Vec<KeyId>,
    /// The `manifest_signed` entry.
    pub signed_seq: u64,
    /// The newest entry that added signatures.
    pub last_seq: u64,
    /// When it was first signed.
    pub signed_at: UnixTime,
    /// Set once revoked.
    pub revoked: Option<Revocation>,
}

impl ManifestRecord {
    pub(crate) fn info(&self) -> StoreResult<ManifestInfo> {
        let bad =
            |e: cairn_core::Error| StoreError::corrupt(format!("stored manifest: {}", e.detail()));
        let envelope = Envelope::from_compact(&self.envelope).map_err(bad)?;
        let claims = ManifestClaims::from_payload(&envelope.payload).map_err(bad)?;
        Ok(ManifestInfo {
            digest: manifest_digest(&envelope),
            signers: envelope.signatures.iter().map(|s| s.keyid).collect(),
            envelope,
            claims,
            signed_seq: self.signed_seq,
            last_seq: self.last_seq,
            signed_at: self.signed_at,
            revoked: self.revoked.clone(),
        })
    }
}

pub(crate) fn load_manifest(
    tx: &impl ReadTables,
    digest: &Digest,
) -> StoreResult<Option<ManifestRecord>> {
    tx.get_record(MANIFESTS, digest, "manifest record")
}

fn not_found(d: &Digest) -> StoreError {
    StoreError::not_found(format!("no manifest {}", hex_encode(d)))
}

impl Txn<'_> {
    fn put_manifest(&self, digest: &Digest, rec: &ManifestRecord) -> StoreResult<()> {
        self.tx
            .open_table(MANIFESTS)?
            .insert(digest, schema::encode(rec).as_slice())?;
        Ok(())
    }

    /// Signs `claims` with `signer` (manifest-signer role) and records the manifest.
    pub fn sign_manifest(
        &mut self,
        signer: &KeyId,
        passphrase: Option<&Passphrase>,
        claims: &ManifestClaims,
    ) -> StoreResult<ManifestInfo> {
        let (_, sk) = self.signer(signer, passphrase, Role::ManifestSigner)?;
        let env = sign_manifest(claims, &sk)?;
        let digest = manifest_digest(&env);
        if load_manifest(&self.tx, &digest)?.is_some() {
            return Err(StoreError::new(
                StoreCode::AlreadyExists,
                format!(
                    "manifest {} is already recorded; co-sign it instead",
                    hex_encode(&digest)
                ),
            ));
        }
        let seq = self.append(
            Event::ManifestSigned {
                manifest_digest: digest,
                artifact_name: claims.name.clone(),
                artifact_sha256: claims.sha256,
                signers: vec![*signer],
            },
            &[],
        )?;
        let rec = ManifestRecord {
            envelope: env.to_compact(),
            signed_seq: seq,
            last_seq: seq,
            signed_at: self.now(),
            revoked: None,
        };
        self.put_manifest(&digest, &rec)?;
        self.tx
            .open_multimap_table(MANIFESTS_BY_ARTIFACT)?
            .insert(claims.sha256, digest)?;
        self.tx
            .open_multimap_table(MANIFESTS_BY_SIGNER)?
            .insert(signer.0, digest)?;
        rec.info()
    }

    /// Adds `signer`'s signature to a recorded manifest (same digest, new entry).
    pub fn cosign_manifest(
        &mut self,
        digest: &Digest,
        signer: &KeyId,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<ManifestInfo> {
        let rec = load_manifest(&self.tx, digest)?.ok_or_else(|| not_found(digest))?;
        if rec.revoked.is_some() {
            return Err(StoreError::core(
                ErrorCode::Revoked,
                format!("manifest {} is revoked", hex_encode(digest)),
            ));
        }
        let mut env = rec.info()?.envelope;
        if env.signatures.iter().any(|s| s.keyid == *signer) {
            return Err(StoreError::new(
                StoreCode::AlreadyExists,
                format!("key {signer} already signed this manifest"),
            ));
        }
        let (_, sk) = self.signer(signer, passphrase, Role::ManifestSigner)?;
        add_cosignature(&mut env, &sk)?;
        let seq = self.append(
            Event::ManifestCosigned {
                manifest_digest: *digest,
                signers: vec![*signer],
            },
            &[],
        )?;
        let rec = ManifestRecord {
            envelope: env.to_compact(),
            last_seq: seq,
            ..rec
        };
        self.put_manifest(digest, &rec)?;
        self.tx
            .open_multimap_table(MANIFESTS_BY_SIGNER)?
            .insert(signer.0, *digest)?;
        rec.info()
    }

    /// Revokes a manifest. The revoker is one of its signers or a key holding the root role.
    pub fn revoke_manifest(
        &mut self,
        digest: &Digest,
        reason: &str,
        revoker: &KeyId,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<u64> {
        check_reason(reason)?;
        let rec = load_manifest(&self.tx, digest)?.ok_or_else(|| not_found(digest))?;
        if rec.revoked.is_some() {
            return Err(StoreError::new(
                StoreCode::InvalidState,
                format!("manifest {} is already revoked", hex_encode(digest)),
            ));
        }
        let signed_it = rec.info()?.signers.contains(revoker);
        let sk = self.revoker(revoker, passphrase, signed_it)?;
        let seq = self.append(
            Event::ManifestRevoked {
                manifest_digest: *digest,
                reason: reason.to_owned(),
                revoker: *revoker,
            },
            &[&sk],
        )?;
        let rec = ManifestRecord {
            revoked: Some(Revocation {
                reason: reason.to_owned(),
                revoker: *revoker,
                seq,
                at: self.now(),
            }),
            ..rec
        };
        self.put_manifest(digest, &rec)?;
        Ok(seq)
    }
}

fn verify_in(
    tx: &impl ReadTables,
    digest: &Digest,
    threshold: usize,
    artifact: ArtifactCheck<'_>,
) -> StoreResult<VerifiedManifest> {
    let info = load_manifest(tx, digest)?
        .ok_or_else(|| not_found(digest))?
        .info()?;
    if let Some(r) = &info.revoked {
        return Err(StoreError::core(
            ErrorCode::Revoked,
            format!("manifest {} is revoked: {}", hex_encode(digest), r.reason),
        ));
    }
    // Trusted: the signers that this registry holds as manifest signers and has not revoked.
    let mut keys = Vec::new();
    for id in &info.signers {
        if let Some(k) = crate::objects::keys::load_key(tx, id)? {
            let revoked = matches!(k.status, KeyStatus::Revoked { .. });
            if k.roles.contains(Role::ManifestSigner) && !revoked {
                keys.push(k.public_key);
            }
        }
    }
    Ok(verify_manifest(&info.envelope, &keys, threshold, artifact)?)
}

impl Registry {
    /// Hashes `artifact` as a stream (never held in memory), then signs and records its
    /// manifest in one transaction.
    ///
    /// ```
    /// use cairn_core::crypto::Algorithm;
    /// use cairn_core::manifest::ArtifactCheck;
    /// use cairn_store::{CreateOptions, KeySpec, Protection, Registry};
    /// use cairn_core::trust::{Role, RoleSet};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let spec = KeySpec::new("release", RoleSet::of(&[Role::ManifestSigner]));
    /// let (a, b) = (reg.generate_key(Algorithm::Ed25519, &spec, &Protection::Insecure)?,
    ///               reg.generate_key(Algorithm::MlDsa44, &spec, &Protection::Insecure)?);
    /// let m = reg.sign_artifact(&a.key_id, None, "app.bin", "application/octet-stream", &b"bytes"[..])?;
    /// reg.cosign_manifest(&m.digest, &b.key_id, None)?;
    /// let ok = reg.verify_manifest(&m.digest, 2, ArtifactCheck::Bytes(b"bytes"))?;
    /// assert_eq!(ok.signers.len(), 2);
    /// assert_eq!(reg.manifests_for_artifact(&m.claims.sha256)?[0].signers.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sign_artifact(
        &self,
        signer: &KeyId,
        passphrase: Option<&Passphrase>,
        name: &str,
        media_type: &str,
        artifact: impl std::io::Read,
    ) -> StoreResult<ManifestInfo> {
        let (size, sha256) = hash_reader(artifact, None)?;
        let claims = ManifestClaims::new(name, media_type, size, sha256, self.now());
        self.write(|tx| tx.sign_manifest(signer, passphrase, &claims))
    }

    /// Co-signs a manifest (one transaction). See [`Txn::cosign_manifest`].
    pub fn cosign_manifest(
        &self,
        digest: &Digest,
        signer: &KeyId,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<ManifestInfo> {
        self.write(|tx| tx.cosign_manifest(digest, signer, passphrase))
    }

    /// Revokes a manifest (one transaction). See [`Txn::revoke_manifest`].
    pub fn revoke_manifest(
        &self,
        digest: &Digest,
        reason: &str,
        revoker: &KeyId,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<u64> {
        self.write(|tx| tx.revoke_manifest(digest, reason, revoker, passphrase))
    }

    /// Verifies a recorded manifest: not revoked, at least `threshold` distinct signers that
    /// this registry holds as unrevoked manifest signers, and the artifact (if given).
    pub fn verify_manifest(
        &self,
        digest: &Digest,
        threshold: usize,
        artifact: ArtifactCheck<'_>,
    ) -> StoreResult<VerifiedManifest> {
        self.read(|rtx| {
            // A verified read, as `manifest` makes: the record and its signers' key records
            // (roles, status) against the ledger, before they decide the verdict.
            if let Some(rec) = load_manifest(&rtx, digest)? {
                crate::objects::verified::Proof::new(self, &rtx)?.manifest(&rec.info()?)?;
            }
            verify_in(&rtx, digest, threshold, artifact)
        })
    }

    /// One manifest.
    pub fn manifest(&self, digest: &Digest) -> StoreResult<ManifestInfo> {
        self.read(|rtx| {
            let info = load_manifest(&rtx, digest)?
                .ok_or_else(|| not_found(digest))?
                .info()?;
            crate::objects::verified::Proof::new(self, &rtx)?.manifest(&info)?;
            Ok(info)
        })
    }

    /// Every manifest, in digest order.
    pub fn list_manifests(&self) -> StoreResult<Vec<ManifestInfo>> {
        self.read(|rtx| {
            let proof = crate::objects::verified::Proof::new(self, &rtx)?;
            let t = rtx.open_table(MANIFESTS)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                let rec: ManifestRecord = schema::decode(row?.1.value(), "manifest record")?;
                let info = rec.info()?;
                proof.manifest(&info)?;
                out.push(info);
            }
            Ok(out)
        })
    }

    /// An index lookup, verified like `nodes_by_index`: each manifest against its entries,
    /// and each must belong under `key` (`belongs`).
    fn manifests_by(
        &self,
        def: redb::MultimapTableDefinition<[u8; 32], [u8; 32]>,
        key: [u8; 32],
        belongs: fn(&ManifestInfo, &[u8; 32]) -> bool,
    ) -> StoreResult<Vec<ManifestInfo>> {
        self.read(|rtx| {
            let index = rtx.open_multimap_table(def)?;
            let mut digests = BTreeSet::new();
            for d in index.get(key)? {
                if !digests.insert(d?.value()) {
                    return Err(StoreError::corrupt(
                        "a manifest index names a manifest twice: it is damaged (run `cairn check`)",
                    ));
                }
            }
            let proof = crate::objects::verified::Proof::new(self, &rtx)?;
            digests
                .iter()
                .map(|d| {
                    let info = load_manifest(&rtx, d)?
                        .ok_or_else(|| {
                            StoreError::corrupt(format!(
                                "the index names manifest {}, which has no record",
                                hex_encode(d)
                            ))
                        })?
                        .info()?;
                    proof.manifest(&info)?;
                    if !belongs(&info, &key) {
                        return Err(StoreError::corrupt(format!(
                            "a manifest index names manifest {} wrongly: it is damaged (run `cairn check`)",
                            hex_encode(d)
                        )));
                    }
                    Ok(info)
                })
                .collect()
        })
    }

    /// The manifests `key` signed or co-signed (an index lookup).
    pub fn manifests_signed_by(&self, key: &KeyId) -> StoreResult<Vec<ManifestInfo>> {
        self.manifests_by(MANIFESTS_BY_SIGNER, key.0, |m, k| {
            m.signers.iter().any(|s| s.0 == *k)
        })
    }

    /// The manifests of the artifact with this SHA-256, with who signed each (an index
    /// lookup).
    pub fn manifests_for_artifact(&self, sha256: &Digest) -> StoreResult<Vec<ManifestInfo>> {
        self.manifests_by(MANIFESTS_BY_ARTIFACT, *sha256, |m, k| m.claims.sha256 == *k)
    }
}

impl Txn<'_> {
    /// A node's provenance may name a manifest: the rule is [`provenance_manifest_rule`].
    pub(crate) fn check_provenance_manifest(
        &self,
        digest: &Digest,
        sha256: Option<&Digest>,
    ) -> StoreResult<()> {
        let info = load_manifest(&self.tx, digest)?
            .map(|rec| rec.info())
            .transpose()?;
        provenance_manifest_rule(digest, info.as_ref(), sha256)
    }
}

impl Registry {
    /// Whether a node whose provenance names manifest `digest` (and, when given, the artifact
    /// digest `sha256`) would be registered: the rule a registration applies
    /// (recorded here, unrevoked, and for the artifact `sha256` names when given: `not_found`,
    /// `revoked`, `digest_mismatch`), on the manifest as read and verified now. A server's
    /// admission policy asks it before taking a registration.
    ///
    /// ```
    /// use cairn_store::{CreateOptions, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let err = reg.check_provenance_manifest(&[7; 32], None).unwrap_err();
    /// assert_eq!(err.code().as_str(), "not_found");
    /// assert_eq!(err.field_name(), Some("provenance.manifest"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_provenance_manifest(
        &self,
        digest: &Digest,
        sha256: Option<&Digest>,
    ) -> StoreResult<()> {
        self.read(|rtx| {
            // Only a missing record is "not recorded": a record whose entry does not check out
            // is damage, and keeps its code.
            let info = match load_manifest(&rtx, digest)? {
                None => None,
                Some(rec) => {
                    let info = rec.info()?;
                    crate::objects::verified::Proof::new(self, &rtx)?.manifest(&info)?;
                    Some(info)
                }
            };
            provenance_manifest_rule(digest, info.as_ref(), sha256)
        })
    }
}

/// The rule for the manifest a node's provenance names (`info`, as recorded, if it is): it
/// must be recorded here (`not_found`), unrevoked (`revoked`), and, when the spec also gives
/// the artifact's digest `sha256`, for that artifact (`digest_mismatch`).
fn provenance_manifest_rule(
    digest: &Digest,
    info: Option<&ManifestInfo>,
    sha256: Option<&Digest>,
) -> StoreResult<()> {
    let field = "provenance.manifest";
    let info = info.ok_or_else(|| not_found(digest).in_field(field))?;
    if info.revoked.is_some() {
        return Err(StoreError::field(
            ErrorCode::Revoked,
            field,
            "the manifest is revoked",
        ));
    }
    if sha256.is_some_and(|want| info.claims.sha256 != *want) {
        return Err(StoreError::field(
            ErrorCode::DigestMismatch,
            "provenance.sha256",
            "differs from the manifest's artifact digest",
        ));
    }
    Ok(())
}
