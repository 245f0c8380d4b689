//! Tiles (C2SP tlog-tiles): tile paths, entry bundles, and the tile client fed untrusted
//! tiles for a real tree.
//!
//! Records: record 0 is parsed as a tile path and as an entry bundle; the other records are
//! served, in order, as the bytes of whatever tile the client asks for (hash tiles and entry
//! bundles alike), for a tree of 300 known leaves whose checkpoint the client trusts. `now`
//! picks the entry asked for (low 16 bits) and the older size of a consistency proof (above).
//!
//! Invariants: nothing panics; a parsed path prints back to itself; whatever the tiles, an
//! entry the client returns is the tree's own leaf and its proof verifies against the root, and
//! a consistency proof it returns verifies between the real roots (a forged tile can only make
//! it fail).
#![no_main]

use cairn_core::checkpoint::VerifiedCheckpoint;
use cairn_core::merkle::{leaf_hash, MemoryTree};
use cairn_core::tiles::{parse_entry_bundle, Tile, TileClient};
use cairn_fuzz::Input;
use libfuzzer_sys::fuzz_target;

const SIZE: u64 = 300;

fn leaf(i: u64) -> Vec<u8> {
    format!("leaf {i}").into_bytes()
}

fn checkpoint(t: &MemoryTree, size: u64) -> VerifiedCheckpoint {
    VerifiedCheckpoint {
        origin: "fuzz.example/log".into(),
        size,
        root: t.root_at(size).unwrap(),
        extensions: Vec::new(),
        signers: Vec::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    if let Some(first) = input.records.first() {
        if let Ok(text) = std::str::from_utf8(first) {
            if let Ok(tile) = Tile::parse_path(text) {
                assert_eq!(tile.path(), text, "a parsed path prints back to itself");
            }
        }
        for width in [1u16, 7, 256] {
            let _ = parse_entry_bundle(first, width);
        }
    }
    let mut tree = MemoryTree::new();
    for i in 0..SIZE {
        tree.append(&leaf(i)).unwrap();
    }
    let cp = checkpoint(&tree, SIZE);
    let mut served = input.records.iter().skip(1);
    let client = TileClient::new(&cp, |_: &Tile| {
        Ok(served.next().cloned().unwrap_or_default())
    });
    let index = (input.now & 0xffff) % SIZE;
    if let Ok((bytes, proof)) = client.entry(index) {
        assert_eq!(bytes, leaf(index), "an accepted entry is the tree's own");
        proof.verify(&leaf_hash(&bytes), &cp.root).unwrap();
    }
    let old = checkpoint(&tree, ((input.now >> 16) % SIZE).max(1));
    if let Ok(proof) = client.consistency_proof(&old) {
        proof.verify(&old.root, &cp.root).unwrap();
    }
});
