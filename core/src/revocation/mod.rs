//! The revocation map: an authenticated map of every object a registry has revoked, with
//! O(log n) proofs that an object is in it (revoked) or is not (not revoked as of a checkpoint).
//!
//! # Structure
//!
//! A sparse Merkle tree of depth 256 over SHA-256 keys. Every possible key has a leaf; almost
//! all leaves are empty, and an empty subtree of height `h` has a fixed hash
//! [`empty_hash`]`(h)`, so only the paths of the revoked keys are ever hashed. Bit `i` of a key
//! (most significant bit of byte 0 first) chooses the child at depth `i` (0: left, 1: right).
//!
//! | what | bytes hashed (SHA-256) |
//! |---|---|
//! | map key ([`map_key`]) | `0x10 ‖ kind ‖ 32-byte object id` |
//! | leaf of a revoked key ([`leaf_hash`]) | `0x11 ‖ key ‖ seq as 8 bytes big-endian` |
//! | interior node ([`node_hash`]) | `0x12 ‖ left ‖ right` |
//! | empty leaf ([`EMPTY_LEAF`]) | none: 32 zero bytes |
//!
//! The prefixes `0x10`–`0x12` differ from RFC 6962's `0x00` (leaf) and `0x01` (node) and from
//! every algorithm id byte of [`crate::crypto::KeyId`], so no map hash can be read as a log
//! hash or a key id. The kind byte ([`ObjectKind`]) keeps a token id and a key id with equal
//! bytes on different keys.
//!
//! **Leaf value.** A revoked key's leaf commits to `seq`, the ledger sequence number (and so
//! the Merkle leaf index in the log) of the entry that revoked the object. Revocation is
//! final in cairn (a second revocation of an object is refused), so the value never changes
//! once written. A plain "revoked" marker would prove as much for non-revocation, but with
//! `seq` every leaf can be checked on its own against the log (one inclusion proof of entry
//! `seq`, which must revoke that object), a membership proof tells its reader which entry to
//! show, and a monitor that rebuilds the map from the log compares leaf by leaf.
//!
//! **Why a depth-256 sparse Merkle tree.** Its root depends only on the set of (key, seq)
//! pairs, not on insertion order (a store, an import and a monitor replaying the log agree);
//! membership and non-membership proofs have the same shape and are checked by the same fold;
//! keys are uniformly distributed hashes, so with `n` revocations a path has about `log2 n`
//! non-empty siblings, which is all a proof carries ([`RevocationProof`]: a 256-bit bitmap
//! and those siblings, about 32·log2 n bytes: ~670 bytes at 10^6). Checking non-membership
//! hashes only from the first non-empty sibling up (the empty part of the path is the
//! precomputed table), about log2 n + 1 hashes.
//!
//! # Builders
//!
//! [`MemoryMap`] is the reference builder: it recomputes roots and proofs from its sorted keys
//! (about 256 hashes per key), for tests, vectors and small maps. [`nodes`] keeps the same tree
//! as stored branch records, as a store does: an insert reads and writes about log2 n records
//! in the revocation's own write transaction, and a root or proof reads the O(log n) records on
//! one path; [`NodeMap`] is its in-memory table. Both give identical roots and proofs.

mod memory;
pub mod nodes;
mod proof;

pub use memory::MemoryMap;
pub use nodes::NodeMap;
pub use proof::{ProofStatus, RevocationProof, MAX_PROOF_BYTES, PROOF_VERSION};

use alloc::boxed::Box;
use once_cell::race::OnceBox;

use crate::encoding::{sha256, Digest};

/// Depth of the tree: one level per key bit.
pub const DEPTH: usize = 256;
/// First byte of the hash that derives a map key ([`map_key`]).
pub const KEY_PREFIX: u8 = 0x10;
/// First byte of a leaf hash ([`leaf_hash`]).
pub const LEAF_PREFIX: u8 = 0x11;
/// First byte of an interior node hash ([`node_hash`]).
pub const NODE_PREFIX: u8 = 0x12;
/// The hash of an empty leaf: 32 zero bytes (no SHA-256 output is known to be zero).
pub const EMPTY_LEAF: Digest = [0u8; 32];

/// The kind of a revoked object; its byte is part of the map key.
///
/// ```
/// use cairn_core::revocation::ObjectKind;
/// assert_eq!(ObjectKind::Token.byte(), 2);
/// assert_eq!(ObjectKind::from_byte(3)?, ObjectKind::Manifest);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    /// A key, by its [`crate::crypto::KeyId`]. Byte `0x01`.
    Key,
    /// A capability token, by its token id (and with it, every token delegated from it).
    /// Byte `0x02`.
    Token,
    /// An artifact manifest, by its manifest digest. Byte `0x03`.
    Manifest,
}

impl ObjectKind {
    /// Every kind, in byte order.
    pub const ALL: [ObjectKind; 3] = [ObjectKind::Key, ObjectKind::Token, ObjectKind::Manifest];

    /// The kind byte hashed into the map key (frozen).
    pub const fn byte(self) -> u8 {
        match self {
            ObjectKind::Key => 0x01,
            ObjectKind::Token => 0x02,
            ObjectKind::Manifest => 0x03,
        }
    }

    /// The kind's name (frozen): `key`, `token`, `manifest`.
    pub const fn name(self) -> &'static str {
        match self {
            ObjectKind::Key => "key",
            ObjectKind::Token => "token",
            ObjectKind::Manifest => "manifest",
        }
    }

    /// Looks a kind up by its byte (`malformed` for any other byte).
    pub fn from_byte(b: u8) -> crate::Result<ObjectKind> {
        ObjectKind::ALL
            .into_iter()
            .find(|k| k.byte() == b)
            .ok_or_else(|| {
                crate::Error::malformed(alloc::format!("unknown revoked object kind 0x{b:02x}"))
            })
    }

    /// Looks a kind up by its name (`malformed` for any other name).
    pub fn parse(name: &str) -> crate::Result<ObjectKind> {
        ObjectKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                crate::Error::malformed(alloc::format!("unknown revoked object kind {name:?}"))
            })
    }
}

/// The object a ledger event revokes, if it is a revocation (`key_revoked`, `token_revoked`,
/// `manifest_revoked`): its kind and id. A store inserts its [`map_key`] with the entry's `seq`
/// in the revocation's own commit; a monitor replaying the log does the same to rebuild the map.
///
/// ```
/// use cairn_core::crypto::KeyId;
/// use cairn_core::ledger::Event;
/// use cairn_core::revocation::{revoked_object, ObjectKind};
/// let e = Event::TokenRevoked { token_id: [5; 32], reason: "lost".into(), revoker: KeyId([1; 32]) };
/// assert_eq!(revoked_object(&e), Some((ObjectKind::Token, [5; 32])));
/// ```
pub fn revoked_object(event: &crate::ledger::Event) -> Option<(ObjectKind, Digest)> {
    use crate::ledger::Event;
    match event {
        Event::KeyRevoked { key_id, .. } => Some((ObjectKind::Key, key_id.0)),
        Event::TokenRevoked { token_id, .. } => Some((ObjectKind::Token, *token_id)),
        Event::ManifestRevoked {
            manifest_digest, ..
        } => Some((ObjectKind::Manifest, *manifest_digest)),
        _ => None,
    }
}

/// The map key of a revoked object: SHA-256(`0x10` ‖ kind byte ‖ 32-byte id).
///
/// ```
/// use cairn_core::revocation::{map_key, ObjectKind};
/// let id = [7u8; 32];
/// assert_ne!(map_key(ObjectKind::Key, &id), map_key(ObjectKind::Token, &id));
/// assert_eq!(map_key(ObjectKind::Key, &id), cairn_core::encoding::sha256(&[&[0x10, 0x01], &id]));
/// ```
pub fn map_key(kind: ObjectKind, id: &Digest) -> Digest {
    sha256(&[&[KEY_PREFIX, kind.byte()], id])
}

/// The hash of the leaf of a revoked key: SHA-256(`0x11` ‖ key ‖ `seq` as 8 bytes big-endian),
/// `seq` being the ledger sequence number of the revoking entry.
pub fn leaf_hash(key: &Digest, seq: u64) -> Digest {
    sha256(&[&[LEAF_PREFIX], key, &seq.to_be_bytes()])
}

/// The hash of an interior node: SHA-256(`0x12` ‖ left ‖ right).
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    sha256(&[&[NODE_PREFIX], left, right])
}

/// The hash of an empty subtree of height `height` (0 = a leaf, 256 = the whole map):
/// `empty_hash(0)` = [`EMPTY_LEAF`], `empty_hash(h + 1)` = [`node_hash`]`(e, e)` with
/// `e = empty_hash(h)`. Heights above 256 are clamped to 256. The table is computed once per
/// process (256 hashes).
///
/// ```
/// use cairn_core::revocation::{empty_hash, node_hash, EMPTY_LEAF};
/// assert_eq!(empty_hash(0), EMPTY_LEAF);
/// assert_eq!(empty_hash(1), node_hash(&EMPTY_LEAF, &EMPTY_LEAF));
/// ```
pub fn empty_hash(height: usize) -> Digest {
    empty_table()[height.min(DEPTH)]
}

/// The root of the empty map: [`empty_hash`]`(256)`.
///
/// ```
/// use cairn_core::encoding::b64_encode;
/// assert_eq!(b64_encode(&cairn_core::revocation::empty_root()),
///            "voHwm+TaFV7P/CM7Ok+meFKxI34x/p04dtDtt6XgeXo=");
/// ```
pub fn empty_root() -> Digest {
    empty_hash(DEPTH)
}

fn empty_table() -> &'static [Digest; DEPTH + 1] {
    static TABLE: OnceBox<[Digest; DEPTH + 1]> = OnceBox::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([EMPTY_LEAF; DEPTH + 1]);
        for h in 1..=DEPTH {
            t[h] = node_hash(&t[h - 1], &t[h - 1]);
        }
        t
    })
}

/// Bit `i` (0 = most significant bit of byte 0) of a key: the branch taken at depth `i`.
pub(crate) fn bit(key: &Digest, i: usize) -> bool {
    (key[i / 8] >> (7 - i % 8)) & 1 == 1
}

/// Verifies that `key` is in the map with root `root` and returns the `seq` of the entry that
/// revoked it (see [`RevocationProof::verify_membership`]).
pub fn verify_membership(
    root: &Digest,
    key: &Digest,
    proof: &RevocationProof,
) -> crate::Result<u64> {
    proof.verify_membership(root, key)
}

/// Verifies that `key` is not in the map with root `root`: not revoked as of the checkpoint
/// that carries the root (see [`RevocationProof::verify_non_membership`]).
pub fn verify_non_membership(
    root: &Digest,
    key: &Digest,
    proof: &RevocationProof,
) -> crate::Result<()> {
    proof.verify_non_membership(root, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_is_the_recurrence() {
        let mut e = EMPTY_LEAF;
        for h in 0..=DEPTH {
            assert_eq!(empty_hash(h), e, "height {h}");
            e = node_hash(&e, &e);
        }
        assert_eq!(empty_hash(1000), empty_root());
    }

    #[test]
    fn bits_are_msb_first() {
        let mut k = [0u8; 32];
        k[0] = 0x80;
        k[31] = 0x01;
        assert!(bit(&k, 0) && !bit(&k, 1) && bit(&k, 255) && !bit(&k, 254));
    }

    #[test]
    fn kinds_round_trip() {
        for k in ObjectKind::ALL {
            assert_eq!(ObjectKind::from_byte(k.byte()).unwrap(), k);
            assert_eq!(ObjectKind::parse(k.name()).unwrap(), k);
        }
        assert!(ObjectKind::from_byte(0).is_err() && ObjectKind::parse("peer").is_err());
    }
}
