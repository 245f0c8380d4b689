//! Full tiles kept in memory: a full tile (hash tile or entry bundle of 256) never changes once
//! the log has grown past it, so `GET /tile/...` answers it from here after its first read
//! instead of reading the stored tree again. Partial tiles are never kept (the log replaces
//! them as it grows).
//!
//! Bounded by bytes ([`TileCache::new`]); when a new tile would not fit, arbitrary tiles are
//! dropped until it does. Any eviction order is correct (the bytes are immutable), so the
//! simplest one is used.

use std::collections::HashMap;
use std::sync::RwLock;

use axum::body::Bytes;
use cairn_core::tiles::Tile;

/// Default bound: 32 MiB (4,096 full hash tiles of 8 KiB).
pub const DEFAULT_TILE_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Full tiles by tile.
#[derive(Debug)]
pub struct TileCache {
    max_bytes: usize,
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    tiles: HashMap<Tile, Bytes>,
    bytes: usize,
}

impl TileCache {
    /// A cache of at most `max_bytes` of tile bytes (0: keeps nothing).
    pub fn new(max_bytes: usize) -> TileCache {
        TileCache {
            max_bytes,
            inner: RwLock::new(Inner::default()),
        }
    }

    /// The bytes of `tile`, if kept.
    pub fn get(&self, tile: &Tile) -> Option<Bytes> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        inner.tiles.get(tile).cloned()
    }

    /// Keeps a full tile's bytes (a partial tile, or one larger than the bound, is not kept).
    pub fn put(&self, tile: &Tile, bytes: &Bytes) {
        if !tile.is_full() || bytes.len() > self.max_bytes {
            return;
        }
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if inner.tiles.contains_key(tile) {
            return;
        }
        while inner.bytes + bytes.len() > self.max_bytes {
            let Some(k) = inner.tiles.keys().next().copied() else {
                break;
            };
            if let Some(b) = inner.tiles.remove(&k) {
                inner.bytes -= b.len();
            }
        }
        inner.bytes += bytes.len();
        inner.tiles.insert(*tile, bytes.clone());
    }

    /// Number of tiles kept and their bytes.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        (inner.tiles.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(path: &str) -> Tile {
        Tile::parse_path(path).unwrap()
    }

    #[test]
    fn keeps_full_tiles_within_its_bound() {
        let c = TileCache::new(3 * 8192);
        let b = Bytes::from(vec![7u8; 8192]);
        for i in 0..5u64 {
            c.put(&tile(&format!("tile/0/{i:03}")), &b);
        }
        let (n, bytes) = c.usage();
        assert_eq!((n, bytes), (3, 3 * 8192));
        // A partial tile is never kept; a kept tile comes back as it went in.
        c.put(&tile("tile/0/009.p/5"), &Bytes::from(vec![1u8; 160]));
        assert!(c.get(&tile("tile/0/009.p/5")).is_none());
        let kept = (0..5u64)
            .filter_map(|i| c.get(&tile(&format!("tile/0/{i:03}"))))
            .collect::<Vec<_>>();
        assert_eq!(kept.len(), 3);
        assert!(kept.iter().all(|k| k == &b));
        // Larger than the bound: not kept, nothing dropped for it.
        c.put(&tile("tile/1/000"), &Bytes::from(vec![0u8; 4 * 8192]));
        assert_eq!(c.usage().0, 3);
    }
}
