//! Revocation map proofs and their byte encoding.

use alloc::vec::Vec;

use super::{bit, empty_hash, leaf_hash, node_hash, DEPTH};
use crate::encoding::{b64_encode, Digest};
use crate::error::{Error, ErrorCode, Result};

/// The encoding version this build reads and writes (first byte of a proof).
pub const PROOF_VERSION: u8 = 1;
/// Largest encoded proof: version, status, seq, bitmap and 256 siblings.
pub const MAX_PROOF_BYTES: usize = 1 + 1 + 8 + 32 + DEPTH * 32;

/// What a proof claims about its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofStatus {
    /// The key's leaf is empty: the object is not revoked.
    Absent,
    /// The key's leaf holds `seq`: the object was revoked by ledger entry `seq`.
    Present {
        /// Sequence number of the revoking ledger entry.
        seq: u64,
    },
}

/// A proof about one key of the revocation map: the claimed leaf ([`ProofStatus`]) and the 256
/// siblings of the key's path, of which only the non-empty ones are carried.
///
/// Encoding (byte-exact, docs/FORMATS.md section 17):
///
/// ```text
/// version   1 byte   0x01
/// status    1 byte   0x00 absent, 0x01 present
/// seq       8 bytes  big-endian; only when present
/// bitmap    32 bytes bit i (MSB of byte 0 first) set when the sibling at depth i + 1 (the
///                    subtree the key's path leaves at bit i) is non-empty
/// siblings  32 bytes each, one per set bit, deepest first (bit 255 ... bit 0)
/// ```
///
/// Decoding is strict: at most [`MAX_PROOF_BYTES`] (`too_large`), version 1
/// (`unsupported_version`), a known status byte, exactly as many siblings as set bits, and no
/// carried sibling equal to the empty subtree hash of its height (`malformed`), so a proof has
/// exactly one encoding.
///
/// ```
/// use cairn_core::revocation::{map_key, MemoryMap, ObjectKind, RevocationProof};
/// let mut map = MemoryMap::new();
/// let revoked = map_key(ObjectKind::Token, &[1; 32]);
/// map.insert(revoked, 7)?;
/// let root = map.root();
///
/// let fine = map_key(ObjectKind::Token, &[2; 32]);
/// let proof = RevocationProof::from_bytes(&map.prove(&fine).to_bytes())?;
/// proof.verify_non_membership(&root, &fine)?;
///
/// let proof = map.prove(&revoked);
/// assert_eq!(proof.verify_membership(&root, &revoked)?, 7);
/// let err = proof.verify_non_membership(&root, &revoked).unwrap_err();
/// assert_eq!(err.code().as_str(), "revoked");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationProof {
    status: ProofStatus,
    bitmap: [u8; 32],
    /// Non-empty siblings, deepest first.
    siblings: Vec<Digest>,
}

impl RevocationProof {
    /// Builds a proof from the claimed status and the sibling of every depth: `siblings[i]` is
    /// the sibling at depth `i + 1` (branching on key bit `i`), root end first. Siblings equal
    /// to the empty subtree hash of their height are left out of the encoding.
    pub fn from_siblings(status: ProofStatus, siblings: &[Digest; DEPTH]) -> RevocationProof {
        let mut bitmap = [0u8; 32];
        let mut carried = Vec::new();
        for i in (0..DEPTH).rev() {
            let s = &siblings[i];
            if *s != empty_hash(DEPTH - 1 - i) {
                bitmap[i / 8] |= 0x80 >> (i % 8);
                carried.push(*s);
            }
        }
        RevocationProof {
            status,
            bitmap,
            siblings: carried,
        }
    }

    /// What the proof claims.
    pub fn status(&self) -> ProofStatus {
        self.status
    }

    /// The bitmap of non-empty siblings.
    pub fn bitmap(&self) -> &[u8; 32] {
        &self.bitmap
    }

    /// The non-empty siblings, deepest first.
    pub fn siblings(&self) -> &[Digest] {
        &self.siblings
    }

    /// The root this proof leads to for `key` with the claimed leaf (the empty leaf for
    /// [`ProofStatus::Absent`]). Hashes only from the first non-empty node up.
    pub fn root(&self, key: &Digest) -> Digest {
        let leaf = match self.status {
            ProofStatus::Absent => None,
            ProofStatus::Present { seq } => Some(leaf_hash(key, seq)),
        };
        self.fold(key, leaf)
    }

    /// Folds `leaf` (None: the empty leaf) up the path of `key`.
    fn fold(&self, key: &Digest, leaf: Option<Digest>) -> Digest {
        // `cur` is None while the node on the path is still an empty subtree.
        let mut cur: Option<Digest> = leaf;
        let mut next = self.siblings.iter();
        for i in (0..DEPTH).rev() {
            let height = DEPTH - 1 - i; // height of the sibling and of the path node
            let set = self.bitmap[i / 8] & (0x80 >> (i % 8)) != 0;
            let sibling = if set { next.next().copied() } else { None };
            cur = match (cur, sibling) {
                (None, None) => None,
                (c, s) => {
                    let c = c.unwrap_or_else(|| empty_hash(height));
                    let s = s.unwrap_or_else(|| empty_hash(height));
                    Some(if bit(key, i) {
                        node_hash(&s, &c)
                    } else {
                        node_hash(&c, &s)
                    })
                }
            };
        }
        cur.unwrap_or_else(|| empty_hash(DEPTH))
    }

    /// Checks that `key` is revoked in the map of root `root` and returns the `seq` of the
    /// entry that revoked it.
    ///
    /// Errors: `proof_invalid` when the proof claims the key absent, or leads to another root.
    pub fn verify_membership(&self, root: &Digest, key: &Digest) -> Result<u64> {
        let ProofStatus::Present { seq } = self.status else {
            return Err(Error::new(
                ErrorCode::ProofInvalid,
                "revocation proof: the proof is of non-membership, not of membership",
            ));
        };
        let got = self.root(key);
        if got != *root {
            return Err(mismatch(&got, root));
        }
        Ok(seq)
    }

    /// Checks that `key` is not revoked in the map of root `root`.
    ///
    /// Errors: `revoked` when the proof is a valid proof that the key *is* in the map (the
    /// detail names the revoking entry); `proof_invalid` when the proof leads to another root.
    pub fn verify_non_membership(&self, root: &Digest, key: &Digest) -> Result<()> {
        let got = self.root(key);
        if got != *root {
            return Err(mismatch(&got, root));
        }
        match self.status {
            ProofStatus::Absent => Ok(()),
            ProofStatus::Present { seq } => Err(Error::new(
                ErrorCode::Revoked,
                alloc::format!("revoked by ledger entry {seq} (proven by the revocation map)"),
            )),
        }
    }

    /// The byte encoding (see the type's documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 1 + 8 + 32 + 32 * self.siblings.len());
        out.push(PROOF_VERSION);
        match self.status {
            ProofStatus::Absent => out.push(0x00),
            ProofStatus::Present { seq } => {
                out.push(0x01);
                out.extend_from_slice(&seq.to_be_bytes());
            }
        }
        out.extend_from_slice(&self.bitmap);
        for s in &self.siblings {
            out.extend_from_slice(s);
        }
        out
    }

    /// Decodes a proof strictly (see the type's documentation). Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<RevocationProof> {
        if bytes.len() > MAX_PROOF_BYTES {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!(
                    "revocation proof: {} bytes exceeds the limit of {MAX_PROOF_BYTES}",
                    bytes.len()
                ),
            ));
        }
        let (&version, rest) = bytes
            .split_first()
            .ok_or_else(|| Error::malformed("revocation proof: empty"))?;
        if version != PROOF_VERSION {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                alloc::format!("revocation proof: unknown version {version}"),
            ));
        }
        let truncated = || Error::malformed("revocation proof: truncated");
        let (&status, rest) = rest.split_first().ok_or_else(truncated)?;
        let (status, rest) = match status {
            0x00 => (ProofStatus::Absent, rest),
            0x01 => {
                let (seq, rest) = rest.split_at_checked(8).ok_or_else(truncated)?;
                let mut b = [0u8; 8];
                b.copy_from_slice(seq);
                let seq = u64::from_be_bytes(b);
                (ProofStatus::Present { seq }, rest)
            }
            other => {
                return Err(Error::malformed(alloc::format!(
                    "revocation proof: unknown status byte 0x{other:02x}"
                )))
            }
        };
        let (bitmap_bytes, rest) = rest.split_at_checked(32).ok_or_else(truncated)?;
        let mut bitmap = [0u8; 32];
        bitmap.copy_from_slice(bitmap_bytes);
        let count: usize = bitmap.iter().map(|b| b.count_ones() as usize).sum();
        if rest.len() != count * 32 {
            return Err(Error::malformed(alloc::format!(
                "revocation proof: the bitmap announces {count} siblings ({} bytes), {} bytes follow",
                count * 32,
                rest.len()
            )));
        }
        let mut siblings = Vec::with_capacity(count);
        let mut chunks = rest.chunks_exact(32);
        for i in (0..DEPTH).rev() {
            if bitmap[i / 8] & (0x80 >> (i % 8)) == 0 {
                continue;
            }
            let mut s = [0u8; 32];
            s.copy_from_slice(chunks.next().ok_or_else(truncated)?);
            if s == empty_hash(DEPTH - 1 - i) {
                return Err(Error::malformed(alloc::format!(
                    "revocation proof: the sibling at depth {} is the empty subtree hash, which the bitmap must leave out",
                    i + 1
                )));
            }
            siblings.push(s);
        }
        Ok(RevocationProof {
            status,
            bitmap,
            siblings,
        })
    }
}

fn mismatch(got: &Digest, want: &Digest) -> Error {
    Error::new(
        ErrorCode::ProofInvalid,
        alloc::format!(
            "revocation proof leads to root {}, not the checkpoint's {}",
            b64_encode(got),
            b64_encode(want)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_proof_of_the_empty_map() {
        let p = RevocationProof::from_bytes(&[&[1u8, 0][..], &[0u8; 32]].concat()).unwrap();
        assert_eq!(p.root(&[9; 32]), empty_hash(DEPTH));
        assert!(p
            .verify_non_membership(&empty_hash(DEPTH), &[9; 32])
            .is_ok());
        assert_eq!(
            p.verify_membership(&empty_hash(DEPTH), &[9; 32])
                .unwrap_err()
                .code(),
            ErrorCode::ProofInvalid
        );
    }

    #[test]
    fn decode_rejections() {
        let good = [&[1u8, 0][..], &[0u8; 32]].concat();
        assert!(RevocationProof::from_bytes(&good).is_ok());
        let code = |b: &[u8]| RevocationProof::from_bytes(b).unwrap_err().code();
        assert_eq!(code(&[]), ErrorCode::Malformed);
        assert_eq!(code(&[1]), ErrorCode::Malformed);
        assert_eq!(code(&good[..33]), ErrorCode::Malformed);
        assert_eq!(code(&[&good[..], &[0]].concat()), ErrorCode::Malformed);
        assert_eq!(code(&[2, 0]), ErrorCode::UnsupportedVersion);
        assert_eq!(code(&[1, 2]), ErrorCode::Malformed);
        assert_eq!(code(&[1, 1, 0, 0]), ErrorCode::Malformed);
        assert_eq!(code(&[0u8; MAX_PROOF_BYTES + 1]), ErrorCode::TooLarge);
        // A bit set without its sibling, and a carried sibling that is the empty hash.
        let mut b = good.clone();
        b[2 + 31] = 0x01;
        assert_eq!(code(&b), ErrorCode::Malformed);
        b.extend_from_slice(&empty_hash(0));
        assert_eq!(code(&b), ErrorCode::Malformed);
        let mut b2 = b.clone();
        b2.truncate(b2.len() - 32);
        b2.extend_from_slice(&[5; 32]);
        assert!(RevocationProof::from_bytes(&b2).is_ok());
    }
}
