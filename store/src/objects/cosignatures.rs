//! Witness cosignatures of stored checkpoints (C2SP tlog-cosignature), kept beside them and
//! appended to a checkpoint's note wherever the registry hands the note out.
//!
//! Table `cosignatures` (created on first use; absent in older files, read as empty):
//! checkpoint size → the cosignatures gathered for the checkpoint of that size, each its
//! witness's cosigner vkey and its signature line. A cosignature is verified against the
//! stored checkpoint before it is stored, and again against every note it is appended to (an
//! Ed25519 cosignature covers the whole checkpoint text; an ML-DSA-44 one origin, size and
//! root), so a line that would not verify is never handed out. Cosignatures are not ledger
//! entries: they are statements of the witnesses, not of the registry, and the log's own
//! signature stays valid with them appended (signed-note verifiers ignore lines of keys they
//! do not know).

use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::kernel::db::Registry;
use crate::kernel::schema::{self, ReadTables, CHECKPOINTS};
use cairn_core::checkpoint::Checkpoint;
use cairn_core::note::{Note, NoteSignature};
use cairn_core::witness::CosignerKey;

/// `cosignatures`: checkpoint size → [`CosignatureRecord`].
pub(crate) const COSIGNATURES: TableDefinition<u64, &[u8]> = TableDefinition::new("cosignatures");

/// Most cosignatures kept per checkpoint (signed-note allows 100 lines in all).
pub const MAX_COSIGNATURES: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct CosignatureRecord {
    /// (cosigner vkey, signature line without its newline).
    lines: Vec<(String, String)>,
}

/// One witness cosignature of a stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCosignature {
    /// The witness's cosigner key.
    pub key: CosignerKey,
    /// Its signature line.
    pub signature: NoteSignature,
}

fn parse_line(line: &str) -> StoreResult<NoteSignature> {
    // A note with a dummy text parses the line with the note parser's rules.
    let n = Note::parse(format!("x\n\n{line}\n").as_bytes())?;
    n.signatures()
        .first()
        .cloned()
        .ok_or_else(|| StoreError::corrupt("empty cosignature line"))
}

fn decode(bytes: &[u8]) -> StoreResult<Vec<StoredCosignature>> {
    let rec: CosignatureRecord = schema::decode(bytes, "cosignatures")?;
    rec.lines
        .iter()
        .map(|(vkey, line)| {
            Ok(StoredCosignature {
                key: CosignerKey::from_vkey(vkey).map_err(|e| {
                    StoreError::corrupt(format!("stored cosigner key: {}", e.detail()))
                })?,
                signature: parse_line(line)
                    .map_err(|e| StoreError::corrupt(format!("stored cosignature line: {e}")))?,
            })
        })
        .collect()
}

/// The timestamp of `c` when it is a valid cosignature of the note text `text`.
fn verified_time(c: &StoredCosignature, checkpoint: &Checkpoint, text: &str) -> Option<u64> {
    (c.signature.name == c.key.name() && c.signature.key_hash == c.key.key_id())
        .then(|| c.key.verify(checkpoint, text, &c.signature.signature).ok())
        .flatten()
}

impl Registry {
    /// Stores cosignatures of the stored checkpoint at `size` (one transaction). Each must
    /// verify against that checkpoint (`signature_invalid` otherwise, and nothing is stored);
    /// a witness's newer line replaces its older one (an older or equally old one is not
    /// stored). Returns how many the checkpoint now has.
    ///
    /// Errors: `not_found` (no checkpoint at `size`), `signature_invalid`, `too_large` (more
    /// than [`MAX_COSIGNATURES`]).
    pub fn add_cosignatures(&self, size: u64, new: &[StoredCosignature]) -> StoreResult<usize> {
        self.write(|tx| {
            let rec = tx
                .tx
                .get_bytes(CHECKPOINTS, size)?
                .ok_or_else(|| {
                    StoreError::new(
                        crate::StoreCode::NotFound,
                        format!("no checkpoint at size {size}"),
                    )
                })?;
            let note: crate::kernel::checkpoints::CheckpointRecord =
                schema::decode(&rec, "checkpoint")?;
            let parsed = Note::parse(note.note.as_bytes())?;
            let checkpoint = Checkpoint::parse_text(parsed.text())?;
            let mut table = tx.tx.open_table(COSIGNATURES)?;
            let mut have = match table.get(size)? {
                Some(v) => decode(v.value())?,
                None => Vec::new(),
            };
            for c in new {
                let Some(time) = verified_time(c, &checkpoint, parsed.text()) else {
                    return Err(StoreError::from(cairn_core::Error::new(
                        cairn_core::ErrorCode::SignatureInvalid,
                        format!(
                            "the cosignature of {} does not verify on the checkpoint at size {size}",
                            c.key.vkey().split('+').take(2).collect::<Vec<_>>().join("+")
                        ),
                    )));
                };
                let same_witness = |h: &StoredCosignature| {
                    h.signature.name == c.signature.name
                        && h.signature.key_hash == c.signature.key_hash
                };
                // A witness's line is replaced only by a newer one: a re-ask answered by a
                // clock stepped back keeps the newer line.
                if have.iter().any(|h| {
                    same_witness(h)
                        && verified_time(h, &checkpoint, parsed.text()).is_some_and(|t| t >= time)
                }) {
                    continue;
                }
                have.retain(|h| !same_witness(h));
                have.push(c.clone());
            }
            if have.len() > MAX_COSIGNATURES {
                return Err(StoreError::from(cairn_core::Error::new(
                    cairn_core::ErrorCode::TooLarge,
                    format!("more than {MAX_COSIGNATURES} cosignatures for one checkpoint"),
                )));
            }
            let rec = CosignatureRecord {
                lines: have
                    .iter()
                    .map(|c| {
                        (
                            c.key.vkey(),
                            c.signature.to_line().trim_end_matches('\n').to_owned(),
                        )
                    })
                    .collect(),
            };
            table.insert(size, schema::encode(&rec).as_slice())?;
            Ok(have.len())
        })
    }

    /// The cosignatures stored for the checkpoint at `size` (none for a registry file that
    /// never stored one).
    pub fn cosignatures(&self, size: u64) -> StoreResult<Vec<StoredCosignature>> {
        self.read(|rtx| {
            let t = match rtx.open_table(COSIGNATURES) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            let v = t.get(size)?;
            v.map(|v| decode(v.value()))
                .transpose()
                .map(Option::unwrap_or_default)
        })
    }

    /// What `GET /checkpoint` and a tiles export hand out: the signed head's note
    /// ([`Registry::signed_head_note`]), except when witnesses cosigned the stored checkpoint
    /// of the head's size: then that checkpoint's note (same tree, same log key, with its
    /// extension lines), which every cosignature of that size verifies on; either with its
    /// stored cosignatures appended ([`Registry::witnessed_note`]).
    pub fn witnessed_head_note(&self) -> StoreResult<(crate::VerifiedHead, String)> {
        let (head, note) = self.signed_head_note()?;
        if !self.cosignatures(head.size)?.is_empty() {
            let cp = self.latest_checkpoint()?;
            if cp.size == head.size && cp.root == head.root && cp.key_id == self.log_key_id()? {
                return Ok((head, self.witnessed_note(&cp.note)?));
            }
        }
        let note = self.witnessed_note(&note)?;
        Ok((head, note))
    }

    /// `note` (a checkpoint note of this registry) with the stored cosignatures of its size
    /// that verify on its text appended, after its own lines; lines it already has are not
    /// repeated. A note without stored cosignatures comes back unchanged.
    pub fn witnessed_note(&self, note: &str) -> StoreResult<String> {
        let mut parsed = Note::parse(note.as_bytes())?;
        let checkpoint = Checkpoint::parse_text(parsed.text())?;
        let cosigs = self.cosignatures(checkpoint.size)?;
        let mut added = false;
        for c in &cosigs {
            let present = parsed
                .signatures()
                .iter()
                .any(|s| s.name == c.signature.name && s.key_hash == c.signature.key_hash);
            if !present && verified_time(c, &checkpoint, parsed.text()).is_some() {
                parsed.push_signature(c.signature.clone())?;
                added = true;
            }
        }
        if !added {
            return Ok(note.to_owned());
        }
        Ok(parsed.encode()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateOptions, Protection};
    use cairn_core::checkpoint::{verify_checkpoint, CheckpointPolicy, CheckpointVerifier};
    use cairn_core::crypto::{Algorithm, SigningKey};
    use cairn_core::witness::{cosign, verify_cosignatures, Witness, WitnessPolicy};

    const ORIGIN: &str = "example.test/log";

    fn cosig(seed: u8, alg: Algorithm, name: &str, text: &str, t: u64) -> StoredCosignature {
        let k = SigningKey::from_seed(alg, &[seed; 32]);
        StoredCosignature {
            key: CosignerKey::new(name, k.public_key()).unwrap(),
            signature: cosign(text, name, &k, t).unwrap(),
        }
    }

    #[test]
    fn stored_cosignatures_travel_with_the_note() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::create(
            dir.path().join("r.redb"),
            CreateOptions::new(ORIGIN, Protection::Insecure),
        )
        .unwrap();
        let cp = reg.create_checkpoint().unwrap();
        // A file that never stored a cosignature: nothing to add, the note unchanged.
        assert!(reg.cosignatures(cp.size).unwrap().is_empty());
        assert_eq!(reg.witnessed_note(&cp.note).unwrap(), cp.note);

        let text = Note::parse(cp.note.as_bytes()).unwrap().text().to_owned();
        let w1 = cosig(11, Algorithm::Ed25519, "w.test/w1", &text, 100);
        let w2 = cosig(12, Algorithm::MlDsa44, "w.test/w2", &text, 100);
        assert_eq!(
            reg.add_cosignatures(cp.size, &[w1.clone(), w2.clone()])
                .unwrap(),
            2
        );
        // A newer line of w1 replaces the older one.
        let w1b = cosig(11, Algorithm::Ed25519, "w.test/w1", &text, 200);
        assert_eq!(
            reg.add_cosignatures(cp.size, std::slice::from_ref(&w1b))
                .unwrap(),
            2
        );
        assert_eq!(
            reg.cosignatures(cp.size).unwrap(),
            vec![w2.clone(), w1b.clone()]
        );

        // One that does not verify on this checkpoint: refused, nothing stored.
        let other = Checkpoint::new(ORIGIN, cp.size + 1, [7; 32])
            .to_text()
            .unwrap();
        let bad = cosig(13, Algorithm::Ed25519, "w.test/w3", &other, 100);
        let e = reg.add_cosignatures(cp.size, &[bad]).unwrap_err();
        assert_eq!(e.code().as_str(), "signature_invalid");
        assert_eq!(reg.cosignatures(cp.size).unwrap().len(), 2);
        assert_eq!(
            reg.add_cosignatures(cp.size + 5, std::slice::from_ref(&w1b))
                .unwrap_err()
                .code()
                .as_str(),
            "not_found"
        );

        // The witnessed note: the log's signature still verifies, and so do the cosignatures.
        let witnessed = reg.witnessed_note(&cp.note).unwrap();
        assert!(witnessed.starts_with(&cp.note));
        let log = CheckpointVerifier {
            name: ORIGIN.into(),
            public_key: reg.key(&cp.key_id).unwrap().public_key,
        };
        verify_checkpoint(witnessed.as_bytes(), &[log], &CheckpointPolicy::new(ORIGIN)).unwrap();
        let policy = WitnessPolicy::new(
            vec![
                Witness {
                    name: "w1".into(),
                    key: w1.key.clone(),
                },
                Witness {
                    name: "w2".into(),
                    key: w2.key.clone(),
                },
            ],
            2,
        );
        let v =
            verify_cosignatures(&Note::parse(witnessed.as_bytes()).unwrap(), &policy, 300).unwrap();
        assert!(v.quorum_met);
        // Appending again adds nothing.
        assert_eq!(reg.witnessed_note(&witnessed).unwrap(), witnessed);
        // The head's note, as GET /checkpoint and tiles hand it out: the cosigned checkpoint.
        let (head, served) = reg.witnessed_head_note().unwrap();
        assert_eq!((head.size, served), (cp.size, witnessed.clone()));
        // Another note of the same tree with another text: the ML-DSA-44 line (origin, size,
        // root) still applies; the Ed25519 line (whole text) does not and is left out.
        let mut bare = Checkpoint::new(ORIGIN, cp.size, cp.root);
        bare.extensions.push("example.extension 1".into());
        let stranger = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
        let bare_note = bare.sign(&[(ORIGIN, &stranger)]).unwrap();
        let w = reg.witnessed_note(&bare_note).unwrap();
        let n = Note::parse(w.as_bytes()).unwrap();
        assert_eq!(n.signatures().len(), 2);
        assert_eq!(n.signatures()[1].name, "w.test/w2");
    }
}
