//! blux-reg's hash-chained ledger (`trust/ledger.jsonl`).
//!
//! The chain proves only internal consistency: entries are unsigned and nothing anchors the
//! head, so a fully recomputed chain, a correctly chained entry appended at the end, or a
//! file cut short after any entry all verify. cairn's own ledger (module `ledger`) signs
//! checkpoints over a Merkle tree to close that gap.

use alloc::string::String;

use super::json::{parse_json_with, Limits, Value};
use super::lines::{check_len, is_python_space, non_blank_lines};
use super::{canonical_hash, hex};
use crate::encoding::Digest;
use crate::error::{Error, ErrorCode, Result};

/// Largest ledger file accepted (each line is also held to [`Limits::DEFAULT`]).
pub const MAX_LEDGER_LEN: usize = 256 * 1024 * 1024;

/// What a consistent ledger holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSummary {
    /// Number of entries (non-blank lines).
    pub entries: usize,
    /// `entry_hash` of the last entry, `None` for an empty ledger.
    pub head: Option<Digest>,
}

impl LedgerSummary {
    /// `head` as lowercase hex.
    pub fn head_hex(&self) -> Option<String> {
        self.head.as_ref().map(hex)
    }
}

/// Verifies the hash chain of a blux-reg ledger file, as blux-reg's `verify_chain` does but
/// with every failure a verdict.
///
/// Lines end in `\n`, `\r\n` or `\r`; lines blank after Python's `str.strip()` are skipped.
/// Each other line must be one JSON object (`malformed`, naming the line). For entry `n`
/// (0-based, counting entries): `prev_hash` must be JSON `null` or absent for entry 0 and
/// the string `entry_hash` of entry `n-1` after it, and `entry_hash` must be the lowercase
/// hex SHA-256 of the canonical JSON of the entry without `entry_hash` (`chain_broken`,
/// naming the entry). An empty file is a valid, empty ledger.
///
/// ```
/// use cairn_core::blux::verify_ledger;
/// let line = r#"{"action":"keygen","actor":"da88a5104f8602e8c19542bf3d76924e83c312d3f3b4c6cc31a89685f07c91e6","artifact_hash":null,"entry_hash":"8c2d5b64cbef8f0ee699e63935f11be29e1d2147142f44351d8e57408a1d669e","manifest_hash":null,"payload_summary":"key:signer","prev_hash":null,"ts":"2026-01-20T14:00:00+00:00"}"#;
/// let summary = verify_ledger(&format!("{line}\n"))?;
/// assert_eq!(summary.entries, 1);
/// assert_eq!(
///     summary.head_hex().as_deref(),
///     Some("8c2d5b64cbef8f0ee699e63935f11be29e1d2147142f44351d8e57408a1d669e")
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_ledger(jsonl_text: &str) -> Result<LedgerSummary> {
    check_len(jsonl_text, MAX_LEDGER_LEN, "ledger")?;
    let mut chain = LedgerChain::new();
    for line in non_blank_lines(jsonl_text) {
        chain.push_line(line.number, line.text)?;
    }
    Ok(chain.finish())
}

/// [`verify_ledger`] one line at a time, for a reader that streams the file instead of
/// holding it: memory stays at one line (at most [`Limits::DEFAULT`]'s `max_len`) whatever
/// the file's length. The caller splits lines as Python does (`\n`, `\r\n` or a lone `\r`)
/// and numbers every physical line from 1; blank lines may be pushed and are skipped. The
/// caller also bounds the whole file ([`MAX_LEDGER_LEN`]) if it wants [`verify_ledger`]'s
/// limit.
///
/// ```
/// use cairn_core::blux::{verify_ledger, LedgerChain};
/// let line = r#"{"action":"keygen","actor":"da88a5104f8602e8c19542bf3d76924e83c312d3f3b4c6cc31a89685f07c91e6","artifact_hash":null,"entry_hash":"8c2d5b64cbef8f0ee699e63935f11be29e1d2147142f44351d8e57408a1d669e","manifest_hash":null,"payload_summary":"key:signer","prev_hash":null,"ts":"2026-01-20T14:00:00+00:00"}"#;
/// let mut chain = LedgerChain::new();
/// chain.push_line(1, line)?;
/// chain.push_line(2, "   ")?;
/// assert_eq!(chain.finish(), verify_ledger(&format!("{line}\n\n"))?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct LedgerChain {
    prev: Option<Digest>,
    entries: usize,
}

impl LedgerChain {
    /// An empty chain: the next entry must have no `prev_hash` (or `null`).
    pub fn new() -> Self {
        LedgerChain::default()
    }

    /// Entries accepted so far.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Checks one physical line (`number` is 1-based, for error messages) and, unless it is
    /// blank, appends it to the chain. Errors as [`verify_ledger`]'s; after an error the
    /// chain must not be used further.
    pub fn push_line(&mut self, number: usize, text: &str) -> Result<()> {
        if text.chars().all(is_python_space) {
            return Ok(());
        }
        let index = self.entries;
        let broken = |what: String| {
            Error::new(
                ErrorCode::ChainBroken,
                alloc::format!("ledger entry {index} (line {number}): {what}"),
            )
        };
        let value = parse_json_with(text, &Limits::DEFAULT)
            .map_err(|e| e.context(&alloc::format!("line {number}")))
            .map_err(|e| e.context("ledger"))?;
        let mut entry = match value {
            Value::Object(o) => o,
            _ => {
                return Err(Error::malformed(alloc::format!(
                    "ledger: line {number} is not a JSON object"
                )))
            }
        };
        let link_ok = match (entry.get("prev_hash"), &self.prev) {
            (None | Some(Value::Null), None) => true,
            (Some(v), Some(p)) => v.as_str() == Some(hex(p).as_str()),
            _ => false,
        };
        if !link_ok {
            return Err(broken(match &self.prev {
                None => String::from("the first entry's prev_hash is not null"),
                Some(p) => {
                    alloc::format!("prev_hash does not name the previous entry_hash {}", hex(p))
                }
            }));
        }
        let recorded = entry.remove("entry_hash");
        let computed = canonical_hash(&Value::Object(entry));
        if recorded.as_ref().and_then(Value::as_str) != Some(hex(&computed).as_str()) {
            return Err(broken(alloc::format!(
                "entry_hash is not the hash {} of the entry",
                hex(&computed)
            )));
        }
        self.prev = Some(computed);
        self.entries += 1;
        Ok(())
    }

    /// What the chain holds.
    pub fn finish(self) -> LedgerSummary {
        LedgerSummary {
            entries: self.entries,
            head: self.prev,
        }
    }
}
