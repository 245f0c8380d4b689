//! blux-reg's JSONL ledger append, reproduced in Rust: the seed baseline of the ledger and
//! store benches.
//!
//! blux-reg (`src/blux_reg/ledger.py`, `append_entry`) appends one entry like this: open the
//! ledger file and `json.loads` every line to find the last `entry_hash`, build the new entry
//! with that as `prev_hash`, hash its canonical JSON, and append one canonical JSON line
//! opened in append mode. It never calls `fsync`, so a returned append is not on disk. This
//! reproduction does exactly that (and no fsync either), so every append reads and parses the
//! whole file: O(n) per append, O(n²) to fill a ledger. Rust's serde_json parses several times
//! faster than CPython's json module, so this baseline is faster than blux-reg itself.

#![allow(dead_code)] // each bench uses a different subset

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use cairn_core::calendar::civil_from_days;
use cairn_core::encoding::{hex_encode, sha256};
use serde_json::{json, Value};

/// Base time of the generated entries (2027-01-15).
pub const T0: u64 = 1_800_000_000;

/// `datetime.fromtimestamp(t, timezone.utc).isoformat()` for whole seconds.
pub fn iso8601(t: u64) -> String {
    let (days, secs) = ((t / 86_400) as i64, t % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Python's `json.dumps(sort_keys=True, separators=(",", ":"))` for the ASCII entries used
/// here: serde_json's map is sorted and its compact form has those separators.
pub fn canonical(v: &Value) -> String {
    serde_json::to_string(v).expect("JSON values serialise")
}

/// The fields of a blux-reg `sign` entry (what `manifest.sign_artifact` records).
pub fn blux_entry(i: u64, prev_hash: Option<&str>) -> Value {
    let h = |what: &str| hex_encode(&sha256(&[what.as_bytes(), &i.to_le_bytes()]));
    json!({
        "ts": iso8601(T0 + i),
        "action": "sign",
        "actor": h("actor"),
        "payload_summary": format!("manifest:artifact-{i}.tar.gz.blux-manifest.json"),
        "artifact_hash": h("artifact"),
        "manifest_hash": h("manifest"),
        "prev_hash": prev_hash,
    })
}

/// `_compute_entry_hash` then the line `append_entry` writes.
pub fn blux_line(mut entry: Value) -> (String, String) {
    let entry_hash = hex_encode(&sha256(&[canonical(&entry).as_bytes()]));
    entry["entry_hash"] = Value::String(entry_hash.clone());
    (canonical(&entry) + "\n", entry_hash)
}

/// `append_entry`: re-read and parse the whole file for the last hash, then append a line
/// (no fsync, as blux-reg).
pub fn blux_append(path: &Path, i: u64) -> String {
    // _last_entry_hash(): iterate every line, json.loads it, keep entry.get("entry_hash").
    let mut last: Option<String> = None;
    if path.exists() {
        let reader = BufReader::new(File::open(path).expect("ledger opens"));
        for line in reader.lines() {
            let line = line.expect("ledger reads");
            if !line.trim().is_empty() {
                let v: Value = serde_json::from_str(&line).expect("ledger line parses");
                last = v
                    .get("entry_hash")
                    .and_then(Value::as_str)
                    .map(String::from);
            }
        }
    }
    let (line, hash) = blux_line(blux_entry(i, last.as_deref()));
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("ledger opens for append");
    f.write_all(line.as_bytes()).expect("ledger appends");
    hash
}

/// Writes a valid blux-reg ledger of `n` entries in one pass (the set-up, not timed).
pub fn blux_prebuild(path: &Path, n: u64) {
    let mut w = BufWriter::new(File::create(path).expect("ledger creates"));
    let mut prev: Option<String> = None;
    for i in 0..n {
        let (line, hash) = blux_line(blux_entry(i, prev.as_deref()));
        w.write_all(line.as_bytes()).expect("ledger writes");
        prev = Some(hash);
    }
    w.flush().expect("ledger flushes");
}
