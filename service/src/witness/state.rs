//! The witness's own redb file: per log, the latest checkpoint it cosigned.
//!
//! One table, `logs`: origin → JSON record `{size, root, note, cosigned_at}`. [`State::advance`]
//! reads the record, lets the caller judge the request against it, writes the new record and
//! commits with immediate durability, all in one write transaction: redb runs one write
//! transaction at a time, so the check and the update are atomic (C2SP tlog-witness's
//! compare-and-swap on `old`), and a cosignature is only made after the commit returned.

use std::path::Path;

use cairn_core::encoding::{b64_decode, b64_encode, Digest};
use cairn_core::witness::add::Refusal;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::{ServiceError, ServiceResult};

const LOGS: TableDefinition<&str, &[u8]> = TableDefinition::new("logs");

/// What the witness holds for one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    /// The size of the latest cosigned checkpoint.
    pub size: u64,
    /// Its root.
    pub root: Digest,
    /// The signed note as the log sent it.
    pub note: String,
    /// When it was cosigned (Unix seconds).
    pub cosigned_at: u64,
}

#[derive(Serialize, Deserialize)]
struct Record {
    size: u64,
    root: String,
    note: String,
    cosigned_at: u64,
}

/// Why [`State::advance`] did not advance.
#[derive(Debug)]
pub enum AdvanceError {
    /// The judge refused the request (nothing written).
    Refused(Refusal),
    /// The file could not be read or written.
    Failed(ServiceError),
}

fn db_err(what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::internal(format!("witness state: {what}: {e}"))
}

/// The open state file.
#[derive(Debug)]
pub struct State {
    db: Database,
}

impl State {
    /// Opens (or creates) the state file.
    pub fn open(path: &Path) -> ServiceResult<State> {
        let db = Database::create(path)
            .map_err(|e| ServiceError::config(format!("witness state {}: {e}", path.display())))?;
        let tx = db.begin_write().map_err(|e| db_err("begin", e))?;
        tx.open_table(LOGS).map_err(|e| db_err("open table", e))?;
        tx.commit().map_err(|e| db_err("commit", e))?;
        Ok(State { db })
    }

    fn decode(origin: &str, bytes: &[u8]) -> ServiceResult<LogState> {
        let damaged = || {
            ServiceError::internal(format!(
                "witness state: the record of {origin:?} is damaged"
            ))
        };
        let r: Record = serde_json::from_slice(bytes).map_err(|_| damaged())?;
        let root = b64_decode(&r.root)
            .ok()
            .and_then(|b| Digest::try_from(b.as_slice()).ok())
            .ok_or_else(damaged)?;
        Ok(LogState {
            size: r.size,
            root,
            note: r.note,
            cosigned_at: r.cosigned_at,
        })
    }

    /// The latest cosigned checkpoint of `origin`, if any.
    pub fn latest(&self, origin: &str) -> ServiceResult<Option<LogState>> {
        let tx = self.db.begin_read().map_err(|e| db_err("begin", e))?;
        let t = tx.open_table(LOGS).map_err(|e| db_err("open table", e))?;
        let v = t.get(origin).map_err(|e| db_err("read", e))?;
        v.map(|v| State::decode(origin, v.value())).transpose()
    }

    /// In one write transaction: reads the latest state of `origin`, asks `judge` whether
    /// `next` may replace it, and if so stores `next` and commits durably. Returns once the
    /// commit is on disk, with the time stored ([`monotonic_time`]): `next.cosigned_at`, or
    /// the latest state's if that is later by at most [`MONOTONIC_WINDOW`].
    pub fn advance(
        &self,
        origin: &str,
        judge: impl FnOnce(Option<(u64, Digest)>) -> Result<(), Refusal>,
        next: &LogState,
    ) -> Result<u64, AdvanceError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| AdvanceError::Failed(db_err(what, e));
        let cosigned_at;
        let mut tx = self.db.begin_write().map_err(|e| fail("begin", &e))?;
        tx.set_durability(Durability::Immediate)
            .map_err(|e| fail("durability", &e))?;
        {
            let mut t = tx.open_table(LOGS).map_err(|e| fail("open table", &e))?;
            let latest = match t.get(origin).map_err(|e| fail("read", &e))? {
                Some(v) => Some(State::decode(origin, v.value()).map_err(AdvanceError::Failed)?),
                None => None,
            };
            let latest_at = latest.as_ref().map_or(0, |l| l.cosigned_at);
            judge(latest.map(|l| (l.size, l.root))).map_err(AdvanceError::Refused)?;
            cosigned_at = monotonic_time(next.cosigned_at, latest_at);
            let rec = serde_json::to_vec(&Record {
                size: next.size,
                root: b64_encode(&next.root),
                note: next.note.clone(),
                cosigned_at,
            })
            .map_err(|e| fail("encode", &e))?;
            t.insert(origin, rec.as_slice())
                .map_err(|e| fail("write", &e))?;
        }
        tx.commit().map_err(|e| fail("commit", &e))?;
        Ok(cosigned_at)
    }
}

/// How far ahead of the clock a log's last cosignature time may be and still be carried on
/// ([`monotonic_time`]): a request that read the clock before waiting for another's commit,
/// or a clock stepped back a little, reuses it; beyond, the last time came from a clock that
/// ran ahead, and carrying it on would stamp every later cosignature with a time verifiers
/// refuse as in the future.
pub const MONOTONIC_WINDOW: u64 = 60;

/// The time a cosignature is stamped with when the clock says `now` and the log's last
/// cosignature was stamped `latest`: `latest` when it is later by at most
/// [`MONOTONIC_WINDOW`] (so a log's times do not go backwards while its sizes go forwards),
/// else `now`.
pub fn monotonic_time(now: u64, latest: u64) -> u64 {
    if latest > now && latest - now <= MONOTONIC_WINDOW {
        latest
    } else {
        now
    }
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    #[test]
    fn a_last_time_a_little_ahead_is_carried_on_and_one_far_ahead_is_not() {
        assert_eq!(monotonic_time(1000, 0), 1000);
        assert_eq!(monotonic_time(1000, 999), 1000);
        assert_eq!(monotonic_time(1000, 1000), 1000);
        assert_eq!(
            monotonic_time(1000, 1000 + MONOTONIC_WINDOW),
            1000 + MONOTONIC_WINDOW
        );
        // A clock a year ahead once, then corrected: the witness signs with its clock again.
        assert_eq!(monotonic_time(1000, 1000 + 365 * 86400), 1000);
        assert_eq!(monotonic_time(1000, 1001 + MONOTONIC_WINDOW), 1000);
    }
}
