//! `cairn tiles ...`: the ledger as C2SP tlog-tiles static files, and a verifier that reads
//! them back from a directory or a web server with cairn-core's tile client.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_core::checkpoint::{
    verify_checkpoint, Checkpoint, CheckpointPolicy, CheckpointVerifier, VerifiedCheckpoint,
};
use cairn_core::encoding::hex_encode;
use cairn_core::ledger::LedgerEntry;
use cairn_core::note::Note;
use cairn_core::tiles::{self, Tile, TileClient, TileKind};
use cairn_core::{Error, ErrorCode};
use cairn_store::fsio::DurableBatch;
use cairn_store::{Registry, StoreCode};
use serde_json::json;

use super::args::{TileProofArgs, TilesCmd};
use super::error::{CliError, CliResult};
use super::ledger::{read_trust_root, signer_in_root, MAX_NOTE_FILE};
use super::util::{read_public_key, read_text, write_file};
use super::{Access, Ctx, Output};

/// The name of the checkpoint file below a log's prefix (tlog-tiles).
pub const CHECKPOINT_FILE: &str = "checkpoint";

/// How long one HTTP request may take, connection included.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `cairn tiles ...`.
pub fn run(ctx: &Ctx, cmd: TilesCmd) -> CliResult<Output> {
    match cmd {
        TilesCmd::Export { dir, check } => export(ctx, &dir, check),
        TilesCmd::Verify { source, proofs } => Ok(check(&source, &proofs, None, &[])?.report()),
    }
}

/// Where a tiled log is read from: a directory or an http(s) prefix.
pub enum Source {
    /// Files below a directory.
    Dir(PathBuf),
    /// Resources below a URL prefix.
    Http {
        /// The prefix, without its trailing slash.
        base: String,
        /// The HTTP client (timeouts, TLS).
        agent: ureq::Agent,
    },
}

impl Source {
    /// `http://` and `https://` are URLs; anything else is a directory.
    pub fn parse(s: &str) -> Source {
        if s.starts_with("http://") || s.starts_with("https://") {
            let agent = ureq::Agent::config_builder()
                .timeout_global(Some(HTTP_TIMEOUT))
                .build()
                .into();
            Source::Http {
                base: s.trim_end_matches('/').to_owned(),
                agent,
            }
        } else {
            Source::Dir(PathBuf::from(s))
        }
    }

    /// The resource at `rel` (a path below the prefix), at most `max` bytes.
    pub fn get(&self, rel: &str, max: usize) -> CliResult<Vec<u8>> {
        match self {
            Source::Dir(dir) => read_regular(&dir.join(rel), max, rel),
            Source::Http { base, agent } => {
                let url = format!("{base}/{rel}");
                let mut resp = agent.get(&url).call().map_err(|e| http_error(&url, e))?;
                resp.body_mut()
                    .with_config()
                    .limit(max as u64)
                    .read_to_vec()
                    .map_err(|e| http_error(&url, e))
            }
        }
    }
}

/// A regular file of a tile directory, at most `max` bytes: anything else there (a FIFO, which
/// would block the read, a device, a directory) is refused as not a tile, before it is opened.
fn read_regular(path: &Path, max: usize, what: &str) -> CliResult<Vec<u8>> {
    use cairn_store::fsio::RegularRead;
    match cairn_store::fsio::read_regular(path, max).map_err(|e| CliError::io(path, &e))? {
        RegularRead::Bytes(bytes) => Ok(bytes),
        RegularRead::NotRegular => Err(CliError::core(
            ErrorCode::Malformed,
            format!("{}: {what} is not a regular file", path.display()),
        )),
        RegularRead::TooLarge => Err(CliError::core(
            ErrorCode::TooLarge,
            format!("{what} is larger than {max} bytes"),
        )),
    }
}

fn http_error(url: &str, e: ureq::Error) -> CliError {
    match e {
        ureq::Error::StatusCode(404) => {
            CliError::store(StoreCode::NotFound, format!("GET {url}: 404 Not Found"))
        }
        ureq::Error::BodyExceedsLimit(n) => CliError::core(
            ErrorCode::TooLarge,
            format!("GET {url}: the response is larger than {n} bytes"),
        ),
        other => CliError::store(StoreCode::Io, format!("GET {url}: {other}")),
    }
}

/// Largest resource fetched for `tile`.
fn max_len(tile: &Tile) -> usize {
    match tile.kind {
        TileKind::Hashes(_) => tile.hash_bytes_len(),
        TileKind::Entries => tiles::MAX_BUNDLE_BYTES,
    }
}

/// Runs `f` with a tile client over `source` for `cp`; when it fails on a fetch, the failure
/// is reported as itself (the I/O or HTTP error) rather than as the core error the client
/// passes on.
fn with_client<T>(
    source: &Source,
    cp: &VerifiedCheckpoint,
    f: impl FnOnce(
        &TileClient<&mut dyn FnMut(&Tile) -> cairn_core::Result<Vec<u8>>>,
    ) -> cairn_core::Result<T>,
) -> CliResult<T> {
    // The first failed fetch since the last one that succeeded: the client stops at a fetch
    // it cannot get past, after at most one more try for the same tile (a partial tile's full
    // tile), and the first failure names the tile it wanted and why (the client's own error
    // is that one's too).
    let failure: RefCell<Option<CliError>> = RefCell::new(None);
    let mut fetch = |t: &Tile| -> cairn_core::Result<Vec<u8>> {
        let got = source.get(&t.path(), max_len(t));
        let mut first = failure.borrow_mut();
        match got {
            Ok(bytes) => {
                *first = None;
                Ok(bytes)
            }
            Err(e) => {
                let msg = e.message.clone();
                first.get_or_insert(e);
                Err(Error::malformed(msg))
            }
        }
    };
    let fetcher: &mut dyn FnMut(&Tile) -> cairn_core::Result<Vec<u8>> = &mut fetch;
    let client = TileClient::new(cp, fetcher);
    let out = f(&client);
    drop(client);
    // A failed fetch the client got past (a partial tile gone, read from the full one) is
    // no failure; one it could not is reported as itself.
    out.map_err(|e| failure.into_inner().unwrap_or_else(|| CliError::from(e)))
}

/// The size of the checkpoint an earlier export left in `dir` (0 when there is none), after
/// checking it is this ledger's: same origin, not ahead of the ledger, same root at its size.
fn exported_size(reg: &Registry, head_size: u64, cp_path: &Path) -> CliResult<u64> {
    if !cp_path.exists() {
        return Ok(0);
    }
    let text = String::from_utf8(read_regular(cp_path, MAX_NOTE_FILE, "exported checkpoint")?)
        .map_err(|_| {
            CliError::core(
                ErrorCode::Malformed,
                "exported checkpoint is not UTF-8 text",
            )
        })?;
    let parsed = Note::parse(text.as_bytes())
        .and_then(|n| Checkpoint::parse_text(n.text()))
        .map_err(|e| CliError::from(e).context(&cp_path.display().to_string()))?;
    if parsed.origin != reg.origin() {
        return Err(CliError::core(
            ErrorCode::DomainMismatch,
            format!(
                "{} is a checkpoint of {:?}, not of this registry's log {:?}: export into another directory",
                cp_path.display(),
                parsed.origin,
                reg.origin()
            ),
        ));
    }
    if parsed.size > head_size {
        return Err(CliError::core(
            ErrorCode::ChainBroken,
            format!(
                "{} covers {} entries but the ledger holds {head_size}: the directory is ahead of this registry (was the registry restored from an older copy?)",
                cp_path.display(),
                parsed.size
            ),
        ));
    }
    if parsed.size > 0 && reg.root(parsed.size)? != parsed.root {
        return Err(CliError::core(
            ErrorCode::ProofInvalid,
            format!(
                "{} has another root at size {} than this ledger: the directory holds another tree",
                cp_path.display(),
                parsed.size
            ),
        ));
    }
    Ok(parsed.size)
}

/// The lock file an export holds in its directory, so two exports never interleave (a slower
/// one would otherwise put back an older checkpoint over a newer one).
pub const EXPORT_LOCK_FILE: &str = ".cairn-export.lock";

/// Takes the export lock of `dir` (created with its parents when missing); held until the
/// returned file is dropped. A second export into the same directory meanwhile is refused.
fn lock_export(dir: &Path) -> CliResult<std::fs::File> {
    cairn_store::fsio::create_dir_all_durable(dir).map_err(|e| CliError::io(dir, &e))?;
    let path = dir.join(EXPORT_LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| CliError::io(&path, &e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(CliError::store(
            StoreCode::Locked,
            format!(
                "another export into {} is running: wait for it to end",
                dir.display()
            ),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(CliError::io(&path, &e)),
    }
}

/// The tiles of a tree of `size` that `dir` lacks: a hash tile missing or not of its exact
/// length, an entry bundle missing or not `width` entries (cut short, or with bytes after
/// them). An earlier export's checkpoint promises them all; a directory restored, pruned or
/// seeded with a checkpoint alone may break that promise. A bundle's length depends on its
/// entries, so each is read (about the size of the ledger's entries in all); a hash tile's
/// follows from its width, so only its metadata is.
fn missing_tiles(dir: &Path, size: u64) -> Vec<Tile> {
    tiles::tiles_for_size(size)
        .into_iter()
        .filter(|t| {
            let path = dir.join(t.path());
            match t.kind {
                TileKind::Hashes(_) => {
                    std::fs::metadata(&path).map_or(true, |m| m.len() != t.hash_bytes_len() as u64)
                }
                // A regular file, read up to the largest bundle (a FIFO, or a link to one,
                // is not a tile, and must not hang or exhaust the export).
                TileKind::Entries => read_regular(&path, tiles::MAX_BUNDLE_BYTES, "entry bundle")
                    .map_or(true, |b| tiles::parse_entry_bundle(&b, t.width).is_err()),
            }
        })
        .collect()
}

/// The tiles of a tree of `size`, and the partial tiles of every stored checkpoint up to it,
/// whose bytes in `dir` are not the registry's (`--check`, and an export whose tiles did not
/// give its root): a copy damaged in place, at the right length, or missing.
fn differing_tiles(reg: &Registry, dir: &Path, size: u64) -> CliResult<Vec<Tile>> {
    let mut wanted: std::collections::BTreeSet<Tile> =
        tiles::tiles_for_size(size).into_iter().collect();
    for s in reg.checkpoint_sizes(..size)? {
        wanted.extend(tiles::partial_tiles(s));
    }
    let mut out = Vec::new();
    for t in wanted {
        let path = dir.join(t.path());
        let limit = tiles::MAX_BUNDLE_BYTES.max(t.hash_bytes_len());
        let held = read_regular(&path, limit, "tile").ok();
        if held.as_deref() != Some(reg.tile(&t)?.as_slice()) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Writes `tiles` into `dir`, each whole and durable before it appears, their directories
/// synced once; returns (hash tiles, entry bundles, bytes) written.
fn write_tiles(
    reg: &Registry,
    dir: &Path,
    tiles: &[Tile],
    bar: &indicatif::ProgressBar,
) -> CliResult<(u64, u64, u64)> {
    let (mut hash_tiles, mut bundles, mut bytes) = (0u64, 0u64, 0u64);
    let mut batch = DurableBatch::new();
    for t in tiles {
        let data = reg.tile(t)?;
        let path = dir.join(t.path());
        batch
            .write(&path, &data)
            .map_err(|e| CliError::io(&path, &e))?;
        match t.kind {
            TileKind::Hashes(_) => hash_tiles += 1,
            TileKind::Entries => bundles += 1,
        }
        bytes += data.len() as u64;
        bar.inc(1);
    }
    batch
        .finish()
        .map_err(|(failed, e)| CliError::io(&failed, &e))?;
    Ok((hash_tiles, bundles, bytes))
}

fn export(ctx: &Ctx, dir: &Path, check: bool) -> CliResult<Output> {
    let _lock = lock_export(dir)?;
    let reg = ctx.open(Access::Read)?;
    let (head, note) = reg.witnessed_head_note()?;
    let log_alg = reg.key(&reg.log_key_id()?)?.public_key.algorithm();
    let warnings: Vec<String> = cairn_core::checkpoint::log_key_shortfall(log_alg)
        .into_iter()
        .collect();
    for w in &warnings {
        ctx.warn(w);
    }
    let cp_path = dir.join(CHECKPOINT_FILE);
    let old_size = exported_size(&reg, head.size, &cp_path)?;
    // What the checkpoint in DIR promises and DIR lacks is written again, with what is new
    // (with --check, also what it holds with other bytes than the registry's).
    let mut repaired = if check {
        differing_tiles(&reg, dir, old_size)?
    } else {
        missing_tiles(dir, old_size)
    };
    // tlog-tiles: a log serves the partial tiles of every size it made a checkpoint at (one a
    // bundle carries, say), not only of the sizes exported: what each such tree adds to the
    // one before it, up to the head.
    let mut added = Vec::new();
    let mut from = old_size;
    for size in reg.checkpoint_sizes(old_size.saturating_add(1)..head.size)? {
        added.extend(tiles::tiles_added(from, size));
        from = size;
    }
    added.extend(tiles::tiles_added(from, head.size));
    let at_checkpoints = added.len() - tiles::tiles_added(old_size, head.size).len();
    added.extend(repaired.iter().copied());
    let bar = ctx.progress.count(added.len() as u64, "writing tiles");
    // Each tile whole and durable before it appears; their directories synced once, before
    // anything (the checkpoint) needs them.
    let (mut hash_tiles, mut bundles, mut bytes) = write_tiles(&reg, dir, &added, &bar)?;
    bar.finish_and_clear();
    // Before the checkpoint goes out: the tiles now in the directory give its root.
    let cp = VerifiedCheckpoint {
        origin: reg.origin().to_owned(),
        size: head.size,
        root: head.root,
        extensions: Vec::new(),
        signers: Vec::new(),
    };
    let gives_root = || with_client(&Source::Dir(dir.to_path_buf()), &cp, |c| c.verify_root());
    if gives_root().is_err() {
        // A tile in DIR at its right length but with other bytes (a copy damaged in place):
        // every tile of the head compared with the registry's, what differs written again.
        let damaged = differing_tiles(&reg, dir, head.size)?;
        let (h, b, n) = write_tiles(&reg, dir, &damaged, &indicatif::ProgressBar::hidden())?;
        (hash_tiles, bundles, bytes) = (hash_tiles + h, bundles + b, bytes + n);
        repaired.extend(damaged);
        gives_root()
            .map_err(|e| e.context("the exported tiles do not give the signed head's root"))?;
    }
    // The same note again is not written: its file (and what a web server derives from it,
    // its modification time and ETag) stays as it was.
    let unchanged =
        read_regular(&cp_path, MAX_NOTE_FILE, "checkpoint").is_ok_and(|old| old == note.as_bytes());
    if !unchanged {
        write_file(&cp_path, note.as_bytes())?;
    }
    let mut text = format!(
        "exported the tiles of {} entries to {} (root {}): {hash_tiles} tiles and {bundles} entry bundles written ({bytes} bytes), {} since the previous export at size {old_size}; {}",
        head.size,
        dir.display(),
        hex_encode(&head.root),
        if old_size == 0 { "everything" } else { "only what changed" },
        if unchanged {
            "the checkpoint was already current"
        } else {
            "checkpoint written last"
        },
    );
    if at_checkpoints > 0 {
        text.push_str(&format!(
            "\n{at_checkpoints} of them partial, for the sizes of checkpoints the registry made since the previous export"
        ));
    }
    if !repaired.is_empty() {
        text.push_str(&format!(
            "\n{} tiles the previous checkpoint needed were missing or cut short, and were written again",
            repaired.len()
        ));
    }
    Ok(Output::new(
        text,
        json!({
            "dir": dir.display().to_string(),
            "origin": reg.origin(),
            "size": head.size,
            "root": hex_encode(&head.root),
            "previous_size": old_size,
            "checkpoint_written": !unchanged,
            "tiles_repaired": repaired.len(),
            "checkpoint_tiles": at_checkpoints,
            "warnings": warnings,
            "tiles_written": hash_tiles,
            "entry_bundles_written": bundles,
            "bytes_written": bytes,
        }),
    ))
}

/// Verifies `note` as a checkpoint of `origin` signed by `key`.
fn open_checkpoint(
    note: &str,
    origin: &str,
    key: &cairn_core::crypto::PublicKey,
) -> CliResult<VerifiedCheckpoint> {
    let v = CheckpointVerifier {
        name: origin.to_owned(),
        public_key: key.clone(),
    };
    Ok(verify_checkpoint(
        note.as_bytes(),
        &[v],
        &CheckpointPolicy::new(origin),
    )?)
}

/// A tiled log verified from its files alone: its checkpoint (signature, and the root the
/// tiles give), entries proven included, and consistency with an older checkpoint.
pub struct FromTiles {
    /// The checkpoint, verified.
    pub checkpoint: VerifiedCheckpoint,
    /// The key that signed it.
    pub log_key: cairn_core::crypto::PublicKey,
    /// Each entry asked for: its number, its bytes (the Merkle leaf), the entry they decode
    /// to, and the length of its inclusion proof.
    pub entries: Vec<(u64, Vec<u8>, LedgerEntry, usize)>,
    /// The proof that the checkpoint extends the older one given.
    pub consistency: Option<cairn_core::merkle::ConsistencyProof>,
}

/// Verifies the tiled log at `source` from its files: the checkpoint under `proofs.log_key`
/// or a checkpoint key of `proofs.trust_root` (else `default_key`, an origin and its key),
/// the root recomputed from the tiles, `proofs.entries` and then `published` proven included,
/// and consistency with `proofs.old_checkpoint`. An entry of `proofs.entries` beyond the
/// checkpoint is a usage error; one of `published` (entries the caller needs the log to hold)
/// is a failed verification, `not_published`.
pub fn check(
    source: &str,
    proofs: &TileProofArgs,
    default_key: Option<(String, cairn_core::crypto::PublicKey)>,
    published: &[u64],
) -> CliResult<FromTiles> {
    let src = Source::parse(source);
    let note = String::from_utf8(src.get(CHECKPOINT_FILE, MAX_NOTE_FILE)?)
        .map_err(|_| CliError::core(ErrorCode::Malformed, "the checkpoint is not UTF-8 text"))?;
    let own_origin = Note::parse(note.as_bytes())
        .and_then(|n| Checkpoint::parse_text(n.text()))
        .map_err(|e| CliError::from(e).context("the log's checkpoint"))?
        .origin;
    let origin = proofs.origin.clone();
    let (origin, key) = match (&proofs.log_key, &proofs.trust_root, default_key) {
        (Some(k), _, _) => (origin.unwrap_or(own_origin), read_public_key(k)?),
        (None, Some(r), _) => {
            let root = read_trust_root(r)?;
            let o = origin.unwrap_or_else(|| root.origin.clone());
            let key = signer_in_root(&note, &o, &root)?;
            (o, key)
        }
        (None, None, Some((o, key))) => (origin.unwrap_or(o), key),
        (None, None, None) => return Err(CliError::usage(
            "name the key that signs the log's checkpoints: --log-key FILE or --trust-root FILE",
        )),
    };
    let cp =
        open_checkpoint(&note, &origin, &key).map_err(|e| e.context("the log's checkpoint"))?;
    let old = match &proofs.old_checkpoint {
        Some(p) => {
            let text = read_text(p, MAX_NOTE_FILE, "old checkpoint")?;
            Some(open_checkpoint(&text, &origin, &key).map_err(|e| e.context("--old-checkpoint"))?)
        }
        None => None,
    };
    for &seq in &proofs.entries {
        if seq >= cp.size {
            return Err(CliError::core(
                ErrorCode::Malformed,
                format!(
                    "entry {seq} is not in the log's tree of {} entries",
                    cp.size
                ),
            ));
        }
    }
    if let Some(seq) = published.iter().find(|s| **s >= cp.size) {
        return Err(CliError::failed(
            "not_published",
            format!(
                "entry {seq} is not in the log at {source} yet: its checkpoint covers {} entries (export the tiles again, or wait for the log to publish it)",
                cp.size
            ),
        ));
    }
    let (entries, consistency) = with_client(&src, &cp, |c| {
        c.verify_root()?;
        let mut proven = Vec::new();
        for &seq in proofs.entries.iter().chain(published) {
            let (leaf, proof) = c.entry(seq)?;
            let entry = LedgerEntry::from_bytes(&leaf)?;
            proven.push((seq, leaf, entry, proof.hashes.len()));
        }
        let consistency = match &old {
            Some(o) => Some(c.consistency_proof(o)?),
            None => None,
        };
        Ok((proven, consistency))
    })?;
    Ok(FromTiles {
        checkpoint: cp,
        log_key: key,
        entries,
        consistency,
    })
}

impl FromTiles {
    /// What `cairn tiles verify` prints: text lines, and the JSON document's fields.
    pub fn report(&self) -> Output {
        let cp = &self.checkpoint;
        let mut text = format!(
            "verified from tiles: {:?} checkpoint of {} entries, root {}, signed by {}; the tiles give that root",
            cp.origin,
            cp.size,
            hex_encode(&cp.root),
            self.log_key.key_id()
        );
        let mut entries_json = Vec::new();
        for (seq, leaf, entry, len) in &self.entries {
            let leaf = tiles_leaf(leaf);
            text.push_str(&format!(
                "\nentry {seq} ({}) is included: leaf {leaf}, a proof of {len} hashes",
                entry.event.kind()
            ));
            entries_json.push(
                json!({"seq": seq, "kind": entry.event.kind(), "leaf_hash": leaf, "proof_hashes": len}),
            );
        }
        if let Some(p) = &self.consistency {
            text.push_str(&format!(
                "\nconsistent: the checkpoint at size {} extends the one at size {} (a proof of {} hashes)",
                p.new_size,
                p.old_size,
                p.hashes.len()
            ));
        }
        Output::new(
            text,
            json!({
                "valid": true,
                "origin": cp.origin,
                "size": cp.size,
                "root": hex_encode(&cp.root),
                "log_key": self.log_key.key_id().to_hex(),
                "entries": entries_json,
                "consistency": self.consistency.as_ref().map(|p| json!({"old_size": p.old_size, "new_size": p.new_size, "proof_hashes": p.hashes.len()})),
            }),
        )
    }
}

fn tiles_leaf(leaf: &[u8]) -> String {
    hex_encode(&cairn_core::merkle::leaf_hash(leaf))
}
