//! The ledger's Merkle tree as C2SP `tlog-tiles` (c2sp.org/tlog-tiles): tile coordinates and
//! paths, which tiles a tree size publishes, and a tile client that builds and verifies
//! inclusion and consistency proofs from fetched tiles alone.
//!
//! Tiles have height 8: a tile at level `L` holds up to 256 consecutive Merkle tree hashes of
//! level `8·L` (level 0 tiles hold leaf hashes). A full tile is 256 hashes (8,192 bytes); the
//! rightmost tile of level `L` is partial (`.p/<W>`, 1 ≤ W ≤ 255 hashes) when the tree size
//! gives it `W = ⌊size / 256^L⌋ mod 256` hashes with `W ≠ 0`. Entry bundles (`tile/entries/<N>`) hold the leaves of the
//! level-0 tile of the same index, each prefixed by its length as a big-endian `u16`.
//! Tiles reuse the ledger's RFC 6962 tree exactly: no new signed bytes.
//!
//! The client ([`TileClient`]) starts from a [`VerifiedCheckpoint`] (whose signatures the
//! caller checked) and a caller-supplied [`TileFetcher`]: it does no I/O of its own. Fetched
//! bytes are untrusted: a tile of the wrong length is refused (`malformed`), and every proof
//! it assembles is verified against the checkpoint's root before it is returned, so a wrong
//! hash in any tile is `proof_invalid`.
//!
//! ```
//! use cairn_core::merkle::{leaf_hash, MemoryTree};
//! use cairn_core::tiles::{tile_bytes, Tile, TileClient, TileFetcher};
//! use cairn_core::checkpoint::VerifiedCheckpoint;
//!
//! let mut tree = MemoryTree::new();
//! for i in 0..300u32 { tree.append(&i.to_be_bytes())?; }
//! // A fetcher serving tiles computed from the tree (a web server in real life).
//! struct Local<'a>(&'a MemoryTree);
//! impl TileFetcher for Local<'_> {
//!     fn fetch(&mut self, tile: &Tile) -> cairn_core::Result<Vec<u8>> {
//!         tile_bytes(self.0, tile)
//!     }
//! }
//! let cp = VerifiedCheckpoint {
//!     origin: "example.org/log".into(), size: 300, root: tree.root(),
//!     extensions: vec![], signers: vec![],
//! };
//! let client = TileClient::new(&cp, Local(&tree));
//! client.verify_root()?;
//! let proof = client.inclusion_proof(&leaf_hash(&7u32.to_be_bytes()), 7)?;
//! assert_eq!(proof.tree_size, 300);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt::Write as _;

use crate::checkpoint::VerifiedCheckpoint;
use crate::encoding::Digest;
use crate::error::{Error, ErrorCode, Result};
use crate::merkle::{
    self, leaf_hash, node_hash, ConsistencyProof, InclusionProof, TreeHashes, EMPTY_ROOT,
};

/// Tile height: each tile spans 8 levels of the tree.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u16 = 256;
/// Bytes of one hash in a tile.
pub const HASH_LEN: usize = 32;
/// Bytes of a full hash tile (256 hashes).
pub const FULL_TILE_BYTES: usize = TILE_WIDTH as usize * HASH_LEN;
/// Highest tile level with any hash in a tree of at most 2^64 leaves (levels 0 to 63 of the
/// tree, 8 per tile).
pub const MAX_TILE_LEVEL: u8 = 7;
/// Largest leaf an entry bundle can carry (its length is a big-endian `u16`).
pub const MAX_BUNDLE_ENTRY_LEN: usize = u16::MAX as usize;
/// Largest entry bundle accepted: 256 entries of the largest size and their prefixes.
pub const MAX_BUNDLE_BYTES: usize = TILE_WIDTH as usize * (2 + MAX_BUNDLE_ENTRY_LEN);

/// What a tile holds: Merkle tree hashes of one tile level, or log entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TileKind {
    /// Hashes of tree level `8 · level` (`tile/<level>/...`).
    Hashes(u8),
    /// An entry bundle: the leaves of the level-0 tile of the same index (`tile/entries/...`).
    Entries,
}

/// One tile (or entry bundle): kind, index within its level, and width in hashes or entries
/// (256 for a full tile, 1 to 255 for a partial one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tile {
    /// Hashes of which level, or entries.
    pub kind: TileKind,
    /// Index of the tile within its level.
    pub index: u64,
    /// Number of hashes (or entries) in it: 1 to 256.
    pub width: u16,
}

impl Tile {
    /// True when the tile holds 256 hashes (or entries): it never changes again.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// Tree level of the hashes in a hash tile (`8 · L`); 0 for an entry bundle (whose
    /// entries hash to level-0 leaves).
    pub fn hash_level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes(l) => l * TILE_HEIGHT,
            TileKind::Entries => 0,
        }
    }

    /// The tile's path below the log's prefix, as tlog-tiles spells it:
    /// `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
    ///
    /// ```
    /// use cairn_core::tiles::{Tile, TileKind};
    /// let t = Tile { kind: TileKind::Hashes(0), index: 1234067, width: 256 };
    /// assert_eq!(t.path(), "tile/0/x001/x234/067");
    /// let t = Tile { kind: TileKind::Entries, index: 5, width: 17 };
    /// assert_eq!(t.path(), "tile/entries/005.p/17");
    /// ```
    pub fn path(&self) -> String {
        let mut s = String::from("tile/");
        match self.kind {
            TileKind::Hashes(l) => {
                let _ = write!(s, "{l}/");
            }
            TileKind::Entries => s.push_str("entries/"),
        }
        s.push_str(&encode_index(self.index));
        if !self.is_full() {
            let _ = write!(s, ".p/{}", self.width);
        }
        s
    }

    /// Parses a tile path (`tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`, no leading
    /// slash) strictly: no leading zeroes in `L` or `W`, 3-digit index groups with `x` on all
    /// but the last, `L` at most [`MAX_TILE_LEVEL`], `W` from 1 to 255. Anything else is
    /// `malformed`.
    ///
    /// ```
    /// use cairn_core::tiles::{Tile, TileKind};
    /// let t = Tile::parse_path("tile/1/x001/002.p/9")?;
    /// assert_eq!(t, Tile { kind: TileKind::Hashes(1), index: 1002, width: 9 });
    /// assert!(Tile::parse_path("tile/01/000").is_err());
    /// assert!(Tile::parse_path("tile/0/1000").is_err());
    /// # Ok::<(), cairn_core::Error>(())
    /// ```
    pub fn parse_path(path: &str) -> Result<Tile> {
        let bad = || Error::malformed(format!("not a tile path: {:?}", truncate(path)));
        if path.len() > 128 {
            return Err(bad());
        }
        let rest = path.strip_prefix("tile/").ok_or_else(bad)?;
        let (kind_part, rest) = rest.split_once('/').ok_or_else(bad)?;
        let kind = if kind_part == "entries" {
            TileKind::Entries
        } else {
            let l = parse_decimal(kind_part).ok_or_else(bad)?;
            if l > u64::from(MAX_TILE_LEVEL) {
                return Err(bad());
            }
            TileKind::Hashes(l as u8)
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                let w = parse_decimal(w).ok_or_else(bad)?;
                if w == 0 || w >= u64::from(TILE_WIDTH) {
                    return Err(bad());
                }
                (i, w as u16)
            }
            None => (rest, TILE_WIDTH),
        };
        let index = decode_index(index_part).ok_or_else(bad)?;
        Ok(Tile { kind, index, width })
    }

    /// Length in bytes of a hash tile of this width (an entry bundle's length depends on its
    /// entries).
    pub fn hash_bytes_len(&self) -> usize {
        usize::from(self.width) * HASH_LEN
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Decimal ASCII with no sign and no leading zeroes (`0` itself is fine).
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// A tile index as tlog-tiles path elements: zero-padded 3-digit groups, every group but the
/// last prefixed with `x` (`1234067` → `x001/x234/067`, `5` → `005`).
pub fn encode_index(index: u64) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut s = String::new();
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            let _ = write!(s, "x{g:03}/");
        } else {
            let _ = write!(s, "{g:03}");
        }
    }
    s
}

/// The inverse of [`encode_index`], strict: exactly the encoding it produces.
fn decode_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    // u64::MAX has 20 digits: at most 7 groups.
    if parts.is_empty() || parts.len() > 7 {
        return None;
    }
    let mut n: u64 = 0;
    for (i, p) in parts.iter().enumerate() {
        let digits = if i + 1 < parts.len() {
            p.strip_prefix('x')?
        } else {
            p
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let g: u64 = digits.parse().ok()?;
        n = n.checked_mul(1000)?.checked_add(g)?;
    }
    // A leading all-zero group would be a second spelling of the same index.
    if parts.len() > 1 && parts[0] == "x000" {
        return None;
    }
    Some(n)
}

/// Number of hashes of tree level `8 · level` in a tree of `size` leaves.
fn hashes_at(level: u8, size: u64) -> u64 {
    let shift = u32::from(level) * u32::from(TILE_HEIGHT);
    if shift >= 64 {
        0
    } else {
        size >> shift
    }
}

/// The tile of `kind` and `index` as it stands for a tree of `size` leaves: full, partial, or
/// `None` when the tree has no hash (or entry) in it yet.
///
/// ```
/// use cairn_core::tiles::{tile_at, TileKind};
/// assert_eq!(tile_at(TileKind::Hashes(1), 0, 70_000).map(|t| t.is_full()), Some(true));
/// assert_eq!(tile_at(TileKind::Hashes(1), 1, 70_000).map(|t| t.width), Some(17));
/// assert_eq!(tile_at(TileKind::Hashes(3), 0, 70_000), None);
/// ```
pub fn tile_at(kind: TileKind, index: u64, size: u64) -> Option<Tile> {
    let level = match kind {
        TileKind::Hashes(l) => l,
        TileKind::Entries => 0,
    };
    let n = hashes_at(level, size);
    let start = index.checked_mul(u64::from(TILE_WIDTH))?;
    if n <= start {
        return None;
    }
    let width = (n - start).min(u64::from(TILE_WIDTH)) as u16;
    Some(Tile { kind, index, width })
}

/// Every tile and entry bundle a tree of `size` leaves publishes, full and partial, lowest
/// level first. A tree of 70,000 leaves has 273 full and one partial level-0 tile (and as many
/// entry bundles), one full and one partial level-1 tile and one partial level-2 tile.
pub fn tiles_for_size(size: u64) -> Vec<Tile> {
    tiles_added(0, size)
}

/// Pushes hash tile `t`, and at level 0 the entry bundle of the same index and width
/// beside it (a level-0 tile and its bundle cover the same leaves).
fn push_with_bundle(out: &mut Vec<Tile>, t: Tile) {
    out.push(t);
    if t.kind == TileKind::Hashes(0) {
        out.push(Tile {
            kind: TileKind::Entries,
            ..t
        });
    }
}

/// The partial tiles and the partial entry bundle of a tree of `size` leaves (its right edge,
/// one tile a level at most): what a log serves for each size it made a checkpoint at
/// (C2SP tlog-tiles), beside the full tiles every larger tree shares. The tiles of
/// [`tiles_for_size`] that are not full, found in O(levels).
///
/// ```
/// use cairn_core::tiles::{partial_tiles, TileKind};
/// let t = partial_tiles(70_000);
/// let widths: Vec<(TileKind, u16)> = t.iter().map(|t| (t.kind, t.width)).collect();
/// assert_eq!(widths, [
///     (TileKind::Hashes(0), 112), (TileKind::Entries, 112),
///     (TileKind::Hashes(1), 17), (TileKind::Hashes(2), 1),
/// ]);
/// // At 256 leaves level 0 is one full tile; only level 1 has a partial one, of one hash.
/// let t = partial_tiles(256);
/// assert_eq!((t.len(), t[0].kind, t[0].width), (1, TileKind::Hashes(1), 1));
/// ```
pub fn partial_tiles(size: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    for level in 0..=MAX_TILE_LEVEL {
        let n = hashes_at(level, size);
        if n == 0 {
            break;
        }
        // None when `n` fills its last tile: that edge is full.
        if let Some(t) = tile_at(TileKind::Hashes(level), n / u64::from(TILE_WIDTH), size) {
            push_with_bundle(&mut out, t);
        }
    }
    out
}

/// The tiles and entry bundles that a tree of `new_size` leaves publishes and one of
/// `old_size` leaves did not (new full tiles, and the partial tiles whose width changed):
/// what an incremental export writes. Empty when `new_size <= old_size`.
///
/// ```
/// use cairn_core::tiles::{tiles_added, TileKind};
/// // From 256 to 300 leaves: a new partial level-0 tile and entry bundle (index 1, 44 wide).
/// let t = tiles_added(256, 300);
/// assert_eq!(t.len(), 2);
/// assert!(t.iter().all(|t| t.index == 1 && t.width == 44));
/// assert!(t.iter().any(|t| t.kind == TileKind::Entries));
/// ```
pub fn tiles_added(old_size: u64, new_size: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    if new_size <= old_size {
        return out;
    }
    for level in 0..=MAX_TILE_LEVEL {
        let n_new = hashes_at(level, new_size);
        if n_new == 0 {
            break;
        }
        let n_old = hashes_at(level, old_size);
        if n_new == n_old {
            continue;
        }
        let w = u64::from(TILE_WIDTH);
        // Tiles from the one holding the first new hash to the last (full or partial).
        let first = n_old / w;
        let last = (n_new - 1) / w;
        for index in first..=last {
            if let Some(t) = tile_at(TileKind::Hashes(level), index, new_size) {
                push_with_bundle(&mut out, t);
            }
        }
    }
    out
}

/// The bytes of a hash tile, read from stored subtree hashes (the tree's `tree_size()` must
/// cover the tile): `width` concatenated 32-byte hashes of level `8 · L`.
pub fn tile_bytes(store: &impl TreeHashes, tile: &Tile) -> Result<Vec<u8>> {
    let level = match tile.kind {
        TileKind::Hashes(l) if l <= MAX_TILE_LEVEL => l,
        TileKind::Hashes(l) => {
            return Err(Error::malformed(format!(
                "tile level {l} is above {MAX_TILE_LEVEL}"
            )))
        }
        TileKind::Entries => {
            return Err(Error::malformed(
                "an entry bundle is built from entries, not hashes",
            ))
        }
    };
    check_width(tile.width)?;
    let have = tile_at(tile.kind, tile.index, store.tree_size());
    if have.map(|t| t.width < tile.width).unwrap_or(true) {
        return Err(Error::malformed(format!(
            "the tree of {} leaves does not hold {}",
            store.tree_size(),
            tile.path()
        )));
    }
    let first = tile.index * u64::from(TILE_WIDTH);
    let mut out = Vec::with_capacity(tile.hash_bytes_len());
    for i in 0..u64::from(tile.width) {
        out.extend_from_slice(&store.subtree_hash(level * TILE_HEIGHT, first + i)?);
    }
    Ok(out)
}

fn check_width(width: u16) -> Result<()> {
    if width == 0 || width > TILE_WIDTH {
        return Err(Error::malformed(format!(
            "tile width {width} is not between 1 and {TILE_WIDTH}"
        )));
    }
    Ok(())
}

/// Encodes an entry bundle: each leaf prefixed by its length as a big-endian `u16`.
/// A leaf longer than [`MAX_BUNDLE_ENTRY_LEN`] is `too_large`; more than 256 leaves is
/// `malformed`.
pub fn encode_entry_bundle<'a>(leaves: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (count, leaf) in leaves.into_iter().enumerate() {
        if count >= usize::from(TILE_WIDTH) {
            return Err(Error::malformed(
                "an entry bundle holds at most 256 entries",
            ));
        }
        let len = u16::try_from(leaf.len()).map_err(|_| {
            Error::new(
                ErrorCode::TooLarge,
                format!(
                    "a {}-byte entry does not fit an entry bundle (at most {MAX_BUNDLE_ENTRY_LEN})",
                    leaf.len()
                ),
            )
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(leaf);
    }
    Ok(out)
}

/// Splits an entry bundle of `width` entries into its leaves. Fewer entries than `width`
/// (a truncated bundle), more, or trailing bytes are `malformed`.
pub fn parse_entry_bundle(bytes: &[u8], width: u16) -> Result<Vec<&[u8]>> {
    check_width(width)?;
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(Error::new(
            ErrorCode::TooLarge,
            format!("entry bundle of {} bytes", bytes.len()),
        ));
    }
    let mut out = Vec::with_capacity(usize::from(width));
    let mut rest = bytes;
    while !rest.is_empty() {
        if out.len() == usize::from(width) {
            return Err(Error::malformed(format!(
                "entry bundle has bytes after its {width} entries"
            )));
        }
        if rest.len() < 2 {
            return Err(Error::malformed("entry bundle ends inside a length prefix"));
        }
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let body = &rest[2..];
        if body.len() < len {
            return Err(Error::malformed(format!(
                "entry bundle ends inside entry {} ({} of {len} bytes)",
                out.len(),
                body.len()
            )));
        }
        out.push(&body[..len]);
        rest = &body[len..];
    }
    if out.len() != usize::from(width) {
        return Err(Error::malformed(format!(
            "entry bundle holds {} entries, not the {width} its width says",
            out.len()
        )));
    }
    Ok(out)
}

/// Where a [`TileClient`] gets tiles: a web server, a directory, an object store, a cache.
///
/// `fetch` returns the bytes served at `tile.path()` below the log's prefix, or an error. The
/// bytes are untrusted: the client checks their length and verifies everything built from
/// them. An implementation that meets an I/O failure returns some [`Error`] and may keep its
/// own richer error aside to report it, as the client returns the fetcher's error unchanged.
pub trait TileFetcher {
    /// The bytes of `tile` (a hash tile or an entry bundle).
    fn fetch(&mut self, tile: &Tile) -> Result<Vec<u8>>;
}

impl<F: FnMut(&Tile) -> Result<Vec<u8>>> TileFetcher for F {
    fn fetch(&mut self, tile: &Tile) -> Result<Vec<u8>> {
        self(tile)
    }
}

/// Builds and verifies proofs for one verified checkpoint from tiles alone.
///
/// Tiles are fetched on demand (each at most once; a proof needs O(log n) of them, at most two
/// per tile level) at the widths the checkpoint's size implies, so a log serving the tiles of
/// that size is all it needs.
pub struct TileClient<F: TileFetcher> {
    size: u64,
    root: Digest,
    fetcher: RefCell<F>,
    cache: RefCell<BTreeMap<Tile, Vec<Digest>>>,
}

impl<F: TileFetcher> core::fmt::Debug for TileClient<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TileClient")
            .field("size", &self.size)
            .field("root", &crate::encoding::hex_encode(&self.root))
            .finish_non_exhaustive()
    }
}

impl<F: TileFetcher> TileClient<F> {
    /// A client for the tree `checkpoint` commits to (verify its signatures first:
    /// [`crate::checkpoint::verify_checkpoint`]).
    pub fn new(checkpoint: &VerifiedCheckpoint, fetcher: F) -> Self {
        TileClient {
            size: checkpoint.size,
            root: checkpoint.root,
            fetcher: RefCell::new(fetcher),
            cache: RefCell::new(BTreeMap::new()),
        }
    }

    /// Tree size of the checkpoint.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Gives the fetcher back.
    pub fn into_fetcher(self) -> F {
        self.fetcher.into_inner()
    }

    /// Recomputes the checkpoint's root from the tiles on the tree's right edge (one tile per
    /// level at most, O(log n) hashes) and compares it: `proof_invalid` when the tiles are not
    /// the tree the checkpoint signs.
    pub fn verify_root(&self) -> Result<()> {
        let got = merkle::tree_root(&Unproven(self), self.size)?;
        if got != self.root {
            return Err(Error::new(
                ErrorCode::ProofInvalid,
                format!(
                    "the tiles give root {} for size {}, not the checkpoint's {}",
                    crate::encoding::hex_encode(&got),
                    self.size,
                    crate::encoding::hex_encode(&self.root)
                ),
            ));
        }
        Ok(())
    }

    /// The leaf hash at `index`, read from its level-0 tile and then proven: its inclusion
    /// proof, built from tiles, must lead to the checkpoint's root (`proof_invalid` if not),
    /// so a server cannot hand out a hash of its choosing.
    pub fn tile_leaf_hash(&self, index: u64) -> Result<Digest> {
        let leaf = self.subtree_hash_checked(0, index)?;
        self.inclusion_proof(&leaf, index)?;
        Ok(leaf)
    }

    /// The inclusion proof of the leaf with hash `leaf` at `index`, built from tiles and
    /// verified against the checkpoint's root (`proof_invalid` if it does not lead there).
    pub fn inclusion_proof(&self, leaf: &Digest, index: u64) -> Result<InclusionProof> {
        let hashes = merkle::prove_inclusion(&Unproven(self), index, self.size)?;
        let proof = InclusionProof {
            leaf_index: index,
            tree_size: self.size,
            hashes,
        };
        proof.verify(leaf, &self.root)?;
        Ok(proof)
    }

    /// Entry `index` from its entry bundle, with its inclusion proof: the entry's leaf hash is
    /// proven to lead to the checkpoint's root, so the bytes are the log's.
    pub fn entry(&self, index: u64) -> Result<(Vec<u8>, InclusionProof)> {
        if index >= self.size {
            return Err(Error::malformed(format!(
                "entry {index} is not below the checkpoint's size {}",
                self.size
            )));
        }
        let w = u64::from(TILE_WIDTH);
        let tile = tile_at(TileKind::Entries, index / w, self.size)
            .ok_or_else(|| Error::malformed("no entry bundle holds that entry"))?;
        let (bytes, served) = self.fetch_or_full(&tile)?;
        let leaves = parse_entry_bundle(&bytes, served.width)
            .map_err(|e| e.context(&format!("entry bundle {}", served.path())))?;
        let leaf = leaves
            .get((index % w) as usize)
            .ok_or_else(|| Error::malformed("entry bundle too short"))?
            .to_vec();
        let proof = self.inclusion_proof(&leaf_hash(&leaf), index)?;
        Ok((leaf, proof))
    }

    /// The consistency proof from the tree of `old` (an earlier verified checkpoint of the
    /// same log) to this checkpoint's tree, built from tiles and verified against both roots.
    /// An `old` of size 0 must have the empty root and needs no proof (an empty proof is
    /// returned); a larger `old` than this checkpoint is `proof_invalid` (the log rolled back).
    pub fn consistency_proof(&self, old: &VerifiedCheckpoint) -> Result<ConsistencyProof> {
        if old.size > self.size {
            // Both checkpoints verified: the log signed a larger tree before than it serves
            // now. No proof can join them; the log rolled back, or shows another history.
            return Err(Error::new(
                ErrorCode::ProofInvalid,
                format!(
                    "the log's checkpoint of {} entries is smaller than the older one of {}: a log never shrinks, so it rolled back or shows another history",
                    self.size, old.size
                ),
            ));
        }
        if old.size == 0 {
            if old.root != EMPTY_ROOT {
                return Err(Error::new(
                    ErrorCode::ProofInvalid,
                    "a checkpoint of size 0 must have the empty tree's root",
                ));
            }
            return Ok(ConsistencyProof {
                old_size: 0,
                new_size: self.size,
                hashes: Vec::new(),
            });
        }
        let hashes = merkle::prove_consistency(&Unproven(self), old.size, self.size)?;
        let proof = ConsistencyProof {
            old_size: old.size,
            new_size: self.size,
            hashes,
        };
        proof.verify(&old.root, &self.root)?;
        Ok(proof)
    }

    /// The bytes of `tile`, and the tile they are: `tile` itself, or, when a partial tile
    /// cannot be fetched, the full tile of the same index (tlog-tiles lets a log delete a
    /// partial tile once the full one exists, and lets clients fetch the full one instead;
    /// its first `width` hashes or entries are the partial tile's). The first error is
    /// returned when neither can be fetched.
    fn fetch_or_full(&self, tile: &Tile) -> Result<(Vec<u8>, Tile)> {
        let mut fetcher = self.fetcher.borrow_mut();
        match fetcher.fetch(tile) {
            Ok(bytes) => Ok((bytes, *tile)),
            Err(e) if tile.is_full() => Err(e),
            Err(e) => {
                let full = Tile {
                    width: TILE_WIDTH,
                    ..*tile
                };
                fetcher.fetch(&full).map(|b| (b, full)).map_err(|_| e)
            }
        }
    }

    /// The hashes of `tile`, fetched once and length-checked (from the full tile of its index
    /// when the partial one is gone: [`Self::fetch_or_full`]).
    fn tile_hashes(&self, tile: Tile) -> Result<Vec<Digest>> {
        if let Some(h) = self.cache.borrow().get(&tile) {
            return Ok(h.clone());
        }
        let (bytes, served) = self.fetch_or_full(&tile)?;
        if bytes.len() != served.hash_bytes_len() {
            return Err(Error::malformed(format!(
                "tile {} is {} bytes; a tile of {} hashes is {}",
                served.path(),
                bytes.len(),
                served.width,
                served.hash_bytes_len()
            )));
        }
        // A full tile standing in for a partial one: its first hashes are the partial's.
        let hashes: Vec<Digest> = bytes
            .chunks_exact(HASH_LEN)
            .take(usize::from(tile.width))
            .map(|c| {
                let mut d = [0u8; 32];
                d.copy_from_slice(c);
                d
            })
            .collect();
        self.cache.borrow_mut().insert(tile, hashes.clone());
        Ok(hashes)
    }

    /// The complete subtree at (`level`, `index`) from the one tile holding its hashes.
    fn subtree_hash_checked(&self, level: u8, index: u64) -> Result<Digest> {
        if level >= 64 {
            return Err(Error::malformed("subtree level above 63"));
        }
        let complete = index
            .checked_add(1)
            .and_then(|n| n.checked_mul(1u64 << level))
            .map(|end| end <= self.size)
            .unwrap_or(false);
        if !complete {
            return Err(Error::malformed(format!(
                "subtree ({level}, {index}) is not complete in a tree of {} leaves",
                self.size
            )));
        }
        let tile_level = level / TILE_HEIGHT;
        let sub = level % TILE_HEIGHT;
        // The subtree is 2^sub consecutive hashes of level 8·tile_level, in one tile.
        let first = index << sub;
        let count = 1u64 << sub;
        let w = u64::from(TILE_WIDTH);
        let tile = tile_at(TileKind::Hashes(tile_level), first / w, self.size)
            .ok_or_else(|| Error::malformed("no tile holds that subtree"))?;
        let hashes = self.tile_hashes(tile)?;
        let at = (first % w) as usize;
        let span = hashes
            .get(at..at + count as usize)
            .ok_or_else(|| Error::malformed("tile too short for the subtree"))?;
        Ok(fold_complete(span))
    }
}

/// Root of a complete subtree (power-of-two count) over already-hashed nodes.
fn fold_complete(nodes: &[Digest]) -> Digest {
    let mut layer: Vec<Digest> = nodes.to_vec();
    while layer.len() > 1 {
        layer = layer
            .chunks(2)
            .map(|p| {
                if p.len() == 2 {
                    node_hash(&p[0], &p[1])
                } else {
                    p[0]
                }
            })
            .collect();
    }
    layer.first().copied().unwrap_or(EMPTY_ROOT)
}

/// The client's tree as the proof builders read it: hashes straight from the tiles, checked
/// for form but not yet against the root. Private, so that nothing outside this module can
/// take such a hash for a proven one: every proof built over it is verified against the
/// checkpoint before the client hands it out.
struct Unproven<'a, F: TileFetcher>(&'a TileClient<F>);

impl<F: TileFetcher> TreeHashes for Unproven<'_, F> {
    fn tree_size(&self) -> u64 {
        self.0.size
    }

    fn subtree_hash(&self, level: u8, index: u64) -> Result<Digest> {
        self.0.subtree_hash_checked(level, index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{root_of, MemoryTree};
    use alloc::vec;

    /// The partial tiles are the tree's tiles that are not full, at edges of every kind: an
    /// empty tree, one below a tile, tile and level multiples and one past them.
    #[test]
    fn partial_tiles_are_the_tiles_not_full() {
        for size in [
            0u64,
            1,
            255,
            256,
            257,
            65_535,
            65_536,
            65_537,
            70_000,
            (1 << 24) + 5,
        ] {
            let want: Vec<Tile> = tiles_for_size(size)
                .into_iter()
                .filter(|t| !t.is_full())
                .collect();
            assert_eq!(partial_tiles(size), want, "{size}");
        }
    }

    fn tree(n: u64) -> (MemoryTree, Vec<Vec<u8>>) {
        let mut t = MemoryTree::new();
        let mut leaves = Vec::new();
        for i in 0..n {
            let leaf = format!("entry-{i}").into_bytes();
            t.append(&leaf).unwrap();
            leaves.push(leaf);
        }
        (t, leaves)
    }

    fn cp(t: &MemoryTree, size: u64) -> VerifiedCheckpoint {
        VerifiedCheckpoint {
            origin: "example.org/log".into(),
            size,
            root: t.root_at(size).unwrap(),
            extensions: vec![],
            signers: vec![],
        }
    }

    /// Serves a tree's tiles at one size, with a hook to damage them; counts fetches.
    struct Server<'a> {
        sized: MemoryTree,
        leaves: &'a [Vec<u8>],
        size: u64,
        damage: fn(&Tile, &mut Vec<u8>),
        fetched: Vec<Tile>,
    }

    impl<'a> Server<'a> {
        fn new(_tree: &MemoryTree, leaves: &'a [Vec<u8>], size: u64) -> Self {
            let mut sized = MemoryTree::new();
            for l in &leaves[..size as usize] {
                sized.append(l).unwrap();
            }
            Server {
                sized,
                leaves,
                size,
                damage: |_, _| {},
                fetched: Vec::new(),
            }
        }
    }

    impl TileFetcher for Server<'_> {
        fn fetch(&mut self, tile: &Tile) -> Result<Vec<u8>> {
            self.fetched.push(*tile);
            // Serve only what a log at `size` publishes.
            if tile_at(tile.kind, tile.index, self.size) != Some(*tile) {
                return Err(Error::malformed(format!("404 {}", tile.path())));
            }
            let mut bytes = match tile.kind {
                TileKind::Entries => {
                    let start = (tile.index * 256) as usize;
                    let end = start + usize::from(tile.width);
                    encode_entry_bundle(self.leaves[start..end].iter().map(|l| l.as_slice()))?
                }
                TileKind::Hashes(_) => tile_bytes(&self.sized, tile)?,
            };
            (self.damage)(tile, &mut bytes);
            Ok(bytes)
        }
    }

    #[test]
    fn index_paths_round_trip() {
        for (n, s) in [
            (0u64, "000"),
            (5, "005"),
            (999, "999"),
            (1000, "x001/000"),
            (1234067, "x001/x234/067"),
            (u64::MAX, "x018/x446/x744/x073/x709/x551/615"),
        ] {
            assert_eq!(encode_index(n), s);
            assert_eq!(decode_index(s), Some(n));
        }
        for bad in [
            "",
            "5",
            "0005",
            "x005",
            "1/000",
            "x001/x000",
            "001/000",
            "x000/001",
            "x01a/000",
            "x018/x446/x744/x073/x709/x551/616",
            "x001/x001/x001/x001/x001/x001/x001/000",
        ] {
            assert_eq!(decode_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn tile_paths_parse_strictly() {
        for p in [
            "tile/0/000",
            "tile/7/x001/234",
            "tile/entries/x001/234.p/255",
            "tile/3/000.p/1",
        ] {
            assert_eq!(Tile::parse_path(p).unwrap().path(), p);
        }
        for bad in [
            "tile/8/000",
            "tile/00/000",
            "tile/-1/000",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/01",
            "tile/0/000.p/",
            "tile/0/",
            "tile/entry/000",
            "/tile/0/000",
            "tile/0/000/",
            "checkpoint",
        ] {
            let e = Tile::parse_path(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::Malformed, "{bad}");
        }
    }

    #[test]
    fn tiles_of_70000_leaves_match_the_spec_example() {
        let tiles = tiles_for_size(70_000);
        let count = |kind, full: bool| {
            tiles
                .iter()
                .filter(|t| t.kind == kind && t.is_full() == full)
                .count()
        };
        assert_eq!(count(TileKind::Hashes(0), true), 273);
        assert_eq!(count(TileKind::Entries, true), 273);
        let partial0: Vec<_> = tiles
            .iter()
            .filter(|t| t.kind == TileKind::Hashes(0) && !t.is_full())
            .collect();
        assert_eq!(partial0.len(), 1);
        assert_eq!(partial0[0].width, 112);
        assert_eq!(count(TileKind::Hashes(1), true), 1);
        assert_eq!(tile_at(TileKind::Hashes(1), 1, 70_000).unwrap().width, 17);
        assert_eq!(tile_at(TileKind::Hashes(2), 0, 70_000).unwrap().width, 1);
        assert_eq!(count(TileKind::Hashes(3), false), 0);
        // 256 leaves: a full level-0 tile and a level-1 tile of width 1.
        let t = tiles_for_size(256);
        assert_eq!(t.len(), 3);
        assert_eq!(tile_at(TileKind::Hashes(1), 0, 256).unwrap().width, 1);
        assert!(tiles_for_size(0).is_empty());
    }

    #[test]
    fn incremental_tiles_cover_the_difference() {
        // Every tile of the new size is either added or was already published unchanged.
        for (old, new) in [
            (1u64, 2u64),
            (255, 256),
            (256, 257),
            (300, 70_000),
            (65_535, 65_536),
        ] {
            let before = tiles_for_size(old);
            let added = tiles_added(old, new);
            for t in tiles_for_size(new) {
                assert!(
                    added.contains(&t) || before.contains(&t),
                    "{old}->{new}: {} missing",
                    t.path()
                );
                assert!(!(added.contains(&t) && before.contains(&t)));
            }
        }
        assert!(tiles_added(10, 10).is_empty());
        assert!(tiles_added(10, 5).is_empty());
    }

    #[test]
    fn proofs_from_tiles_match_the_tree() {
        let (t, leaves) = tree(70_000 / 50);
        for size in [1u64, 2, 255, 256, 257, 511, 512, 1000, 1400] {
            let c = cp(&t, size);
            let client = TileClient::new(&c, Server::new(&t, &leaves, size));
            client.verify_root().unwrap();
            for index in [0, size / 2, size - 1] {
                let p = client
                    .inclusion_proof(&leaf_hash(&leaves[index as usize]), index)
                    .unwrap();
                assert_eq!(p.hashes, t.prove_inclusion(index, size).unwrap());
                let (leaf, _) = client.entry(index).unwrap();
                assert_eq!(leaf, leaves[index as usize]);
            }
            for old in [1u64, size / 3 + 1, size] {
                let p = client.consistency_proof(&cp(&t, old)).unwrap();
                assert_eq!(p.hashes, t.prove_consistency(old, size).unwrap());
            }
        }
    }

    #[test]
    fn a_proof_fetches_few_tiles() {
        let (t, leaves) = tree(1400);
        let c = cp(&t, 1400);
        let client = TileClient::new(&c, Server::new(&t, &leaves, 1400));
        client.inclusion_proof(&leaf_hash(&leaves[3]), 3).unwrap();
        let server = client.into_fetcher();
        // One level-0 tile, the partial level-0 tile at the edge, one level-1 tile.
        assert!(server.fetched.len() <= 3, "{:?}", server.fetched);
    }

    #[test]
    fn a_wrong_hash_in_a_tile_is_proof_invalid() {
        let (t, leaves) = tree(600);
        let c = cp(&t, 600);
        for level in [0u8, 1] {
            let mut server = Server::new(&t, &leaves, 600);
            server.damage = if level == 0 {
                |t, b| {
                    if t.kind == TileKind::Hashes(0) {
                        b[40] ^= 1;
                    }
                }
            } else {
                |t, b| {
                    if t.kind == TileKind::Hashes(1) {
                        b[32] ^= 1;
                    }
                }
            };
            let client = TileClient::new(&c, server);
            assert_eq!(
                client.verify_root().unwrap_err().code(),
                ErrorCode::ProofInvalid
            );
            // Leaf 1's sibling is hash 1 of the level-0 tile (bytes 32..64); its path also
            // needs the subtree [256, 512), hash 1 of the level-1 tile.
            let e = client
                .inclusion_proof(&leaf_hash(&leaves[1]), 1)
                .unwrap_err();
            assert_eq!(e.code(), ErrorCode::ProofInvalid);
        }
    }

    #[test]
    fn a_wrong_entry_is_proof_invalid() {
        let (t, leaves) = tree(300);
        let c = cp(&t, 300);
        let mut server = Server::new(&t, &leaves, 300);
        server.damage = |t, b| {
            if t.kind == TileKind::Entries {
                let last = b.len() - 1;
                b[last] ^= 1;
            }
        };
        let client = TileClient::new(&c, server);
        assert_eq!(
            client.entry(299).unwrap_err().code(),
            ErrorCode::ProofInvalid
        );
    }

    #[test]
    fn truncated_tiles_and_bundles_are_malformed() {
        let (t, leaves) = tree(300);
        let c = cp(&t, 300);
        let mut server = Server::new(&t, &leaves, 300);
        server.damage = |_, b| {
            b.pop();
        };
        let client = TileClient::new(&c, server);
        assert_eq!(
            client.verify_root().unwrap_err().code(),
            ErrorCode::Malformed
        );
        assert_eq!(client.entry(5).unwrap_err().code(), ErrorCode::Malformed);
        // A tile padded to a different width.
        let mut server = Server::new(&t, &leaves, 300);
        server.damage = |_, b| b.extend_from_slice(&[0u8; 32]);
        let client = TileClient::new(&c, server);
        assert_eq!(
            client.verify_root().unwrap_err().code(),
            ErrorCode::Malformed
        );
    }

    #[test]
    fn tiles_of_another_width_are_not_served_for_this_checkpoint() {
        // A log that only has the tiles of a smaller tree cannot prove the larger checkpoint:
        // the partial tile of the right width is missing and the fetch error comes back.
        let (t, leaves) = tree(300);
        let c = cp(&t, 300);
        let client = TileClient::new(&c, Server::new(&t, &leaves, 290));
        let e = client.verify_root().unwrap_err();
        assert!(e.detail().contains("404"), "{e}");
    }

    #[test]
    fn a_wrong_checkpoint_is_refused() {
        let (t, leaves) = tree(300);
        // The tiles of 300 leaves against a checkpoint claiming another root.
        let mut c = cp(&t, 300);
        c.root = root_of(&[leaf_hash(b"other")]);
        let client = TileClient::new(&c, Server::new(&t, &leaves, 300));
        assert_eq!(
            client.verify_root().unwrap_err().code(),
            ErrorCode::ProofInvalid
        );
        assert_eq!(
            client
                .inclusion_proof(&leaf_hash(&leaves[0]), 0)
                .unwrap_err()
                .code(),
            ErrorCode::ProofInvalid
        );
        // A leaf hash is handed out only once proven.
        assert_eq!(
            client.tile_leaf_hash(0).unwrap_err().code(),
            ErrorCode::ProofInvalid
        );
        // A consistency proof to an old checkpoint of another tree.
        let good = TileClient::new(&cp(&t, 300), Server::new(&t, &leaves, 300));
        let mut old = cp(&t, 100);
        old.root = [7u8; 32];
        assert_eq!(
            good.consistency_proof(&old).unwrap_err().code(),
            ErrorCode::ProofInvalid
        );
        let bigger = VerifiedCheckpoint {
            size: 301,
            ..cp(&t, 300)
        };
        // An older checkpoint larger than the log's: the log rolled back (a verification
        // failure, not bad input).
        assert_eq!(
            good.consistency_proof(&bigger).unwrap_err().code(),
            ErrorCode::ProofInvalid
        );
        let mut empty = cp(&t, 1);
        empty.size = 0;
        assert_eq!(
            good.consistency_proof(&empty).unwrap_err().code(),
            ErrorCode::ProofInvalid
        );
        assert_eq!(good.tile_leaf_hash(299).unwrap(), leaf_hash(&leaves[299]));
        // Out-of-range entries.
        assert_eq!(good.entry(300).unwrap_err().code(), ErrorCode::Malformed);
        assert_eq!(
            good.inclusion_proof(&leaf_hash(&leaves[0]), 300)
                .unwrap_err()
                .code(),
            ErrorCode::Malformed
        );
    }

    /// A log that deleted its partial tiles once the full ones existed (tlog-tiles allows it):
    /// the client takes the full tile's first hashes (or entries) instead, still verified.
    #[test]
    fn a_deleted_partial_tile_is_read_from_the_full_one() {
        let (t, leaves) = tree(512);
        let serve = |damage: fn(&mut Vec<u8>)| {
            let (t, leaves) = (&t, &leaves);
            move |tile: &Tile| -> Result<Vec<u8>> {
                let full_now = tile_at(tile.kind, tile.index, 512).is_some_and(|f| f.is_full());
                if !tile.is_full() && full_now {
                    return Err(Error::malformed(format!("404 {}", tile.path())));
                }
                let mut bytes = match tile.kind {
                    TileKind::Entries => {
                        let start = (tile.index * 256) as usize;
                        let end = start + usize::from(tile.width);
                        encode_entry_bundle(leaves[start..end].iter().map(|l| l.as_slice()))?
                    }
                    TileKind::Hashes(_) => tile_bytes(t, tile)?,
                };
                if tile.is_full() {
                    damage(&mut bytes);
                }
                Ok(bytes)
            }
        };
        // A checkpoint at 300 needs tile/0/001.p/44 and tile/entries/001.p/44: both gone.
        let at300 = cp(&t, 300);
        let client = TileClient::new(&at300, serve(|_| {}));
        client.verify_root().unwrap();
        let (entry, proof) = client.entry(299).unwrap();
        assert_eq!(entry, leaves[299]);
        assert_eq!(proof.tree_size, 300);
        let newer = TileClient::new(&cp(&t, 512), serve(|_| {}));
        newer.consistency_proof(&at300).unwrap();
        // The full tile standing in is still checked: damaged, or cut short.
        let client = TileClient::new(&at300, serve(|b| b[40] ^= 1));
        assert!(client.verify_root().is_err());
        let client = TileClient::new(&at300, serve(|b| b.truncate(100)));
        assert_eq!(
            client.verify_root().unwrap_err().code(),
            ErrorCode::Malformed
        );
        // Neither partial nor full: the partial tile's own error.
        let client = TileClient::new(&at300, |tile: &Tile| -> Result<Vec<u8>> {
            Err(Error::malformed(format!("404 {}", tile.path())))
        });
        let e = client.verify_root().unwrap_err();
        assert!(e.detail().contains(".p/"), "{e}");
    }

    #[test]
    fn entry_bundles_round_trip_and_refuse_damage() {
        let leaves: Vec<&[u8]> = vec![b"a", b"", b"ccc"];
        let b = encode_entry_bundle(leaves.iter().copied()).unwrap();
        assert_eq!(parse_entry_bundle(&b, 3).unwrap(), leaves);
        assert_eq!(
            parse_entry_bundle(&b, 4).unwrap_err().code(),
            ErrorCode::Malformed
        );
        assert_eq!(
            parse_entry_bundle(&b, 2).unwrap_err().code(),
            ErrorCode::Malformed
        );
        assert_eq!(
            parse_entry_bundle(&b[..b.len() - 1], 3).unwrap_err().code(),
            ErrorCode::Malformed
        );
        assert_eq!(
            parse_entry_bundle(&b[..1], 1).unwrap_err().code(),
            ErrorCode::Malformed
        );
        assert_eq!(
            parse_entry_bundle(&b, 0).unwrap_err().code(),
            ErrorCode::Malformed
        );
        let big = vec![0u8; 70_000];
        assert_eq!(
            encode_entry_bundle([big.as_slice()]).unwrap_err().code(),
            ErrorCode::TooLarge
        );
    }

    #[test]
    fn tile_bytes_refuses_tiles_the_tree_lacks() {
        let (t, _) = tree(300);
        let full = Tile {
            kind: TileKind::Hashes(0),
            index: 0,
            width: 256,
        };
        assert_eq!(tile_bytes(&t, &full).unwrap().len(), FULL_TILE_BYTES);
        let too_wide = Tile {
            kind: TileKind::Hashes(0),
            index: 1,
            width: 45,
        };
        assert!(tile_bytes(&t, &too_wide).is_err());
        let narrower = Tile {
            kind: TileKind::Hashes(0),
            index: 1,
            width: 40,
        };
        assert_eq!(tile_bytes(&t, &narrower).unwrap().len(), 40 * 32);
        let none = Tile {
            kind: TileKind::Hashes(2),
            index: 0,
            width: 1,
        };
        assert!(tile_bytes(&t, &none).is_err());
        let ent = Tile {
            kind: TileKind::Entries,
            index: 0,
            width: 1,
        };
        assert!(tile_bytes(&t, &ent).is_err());
    }
}
