//! Parsing of command-line values (durations, times, constraints, key files) and bounded
//! file I/O.

use std::io::Read;
use std::path::Path;

use cairn_core::calendar::{civil_from_days, days_from_civil};
use cairn_core::crypto::{pem, PublicKey};
use cairn_core::token::ConstraintValue;
use cairn_core::{ErrorCode, UnixTime};

use super::error::{CliError, CliResult};

/// The current Unix time.
pub fn now() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Parses a duration: seconds (`3600`) or a number with a unit `s`, `m`, `h`, `d`, `w`.
pub fn parse_duration(s: &str) -> CliResult<u64> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| {
        CliError::usage(format!(
            "{s:?} is not a duration (e.g. 3600, 90m, 12h, 30d)"
        ))
    })?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(CliError::usage(format!(
                "{s:?}: unknown unit {unit:?} (use s, m, h, d or w)"
            )))
        }
    };
    n.checked_mul(mul)
        .ok_or_else(|| CliError::usage(format!("{s:?} is too long a duration")))
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn fmt_time(t: UnixTime) -> String {
    let t = i64::try_from(t).unwrap_or(i64::MAX / 2);
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Parses a time: Unix seconds, or `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn parse_time(s: &str) -> CliResult<UnixTime> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    let bad = || CliError::usage(format!("{s:?}: use Unix seconds or YYYY-MM-DDTHH:MM:SSZ"));
    let b = s.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> CliResult<i64> {
        s.get(r)
            .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|p| p.parse().ok())
            .ok_or_else(bad)
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 59 || y < 1970
    {
        return Err(bad());
    }
    // Checked above: month 1-12 and day 1-31, so the casts are exact.
    let t = days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + se;
    u64::try_from(t).map_err(|_| bad())
}

/// Reads a whole file of at most `max` bytes.
pub fn read_limited(path: &Path, max: usize, what: &str) -> CliResult<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(|e| CliError::io(path, &e))?;
    read_stream_limited(f, max, what).map_err(|e| match e.code.as_str() {
        "io" => e.context(&path.display().to_string()),
        _ => e,
    })
}

/// Where `path` is, as a comparable path: canonical when it exists; else its parent's canonical
/// path joined with its name (an output not written yet); else the path as given.
pub fn resolved(path: &Path) -> std::path::PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            std::fs::canonicalize(parent)
                .map(|p| p.join(name))
                .unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

/// Reads a stream of at most `max` bytes (`too_large` beyond).
pub fn read_stream_limited(r: impl Read, max: usize, what: &str) -> CliResult<Vec<u8>> {
    let mut buf = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    r.take(limit)
        .read_to_end(&mut buf)
        .map_err(|e| CliError::store(cairn_store::StoreCode::Io, e.to_string()))?;
    if buf.len() > max {
        return Err(CliError::core(
            ErrorCode::TooLarge,
            format!("{what} is larger than {max} bytes"),
        ));
    }
    Ok(buf)
}

/// Reads a UTF-8 text file of at most `max` bytes.
pub fn read_text(path: &Path, max: usize, what: &str) -> CliResult<String> {
    String::from_utf8(read_limited(path, max, what)?)
        .map_err(|_| CliError::core(ErrorCode::Malformed, format!("{what} is not UTF-8 text")))
}

/// The files no output may replace: the registry file and its rollback anchor, as this
/// process names them (set once, by [`guard_registry`]).
static GUARDED: std::sync::OnceLock<Vec<(std::path::PathBuf, &'static str)>> =
    std::sync::OnceLock::new();

/// Makes every write of this module refuse the registry file at `store` and its anchor:
/// an output is written by a rename over its path, which would destroy the registry and its
/// sealed keys, or its rollback protection.
pub fn guard_registry(store: &Path) {
    let _ = GUARDED.set(vec![
        (resolved(store), "the registry file"),
        (
            resolved(&cairn_store::anchor_path(store)),
            "the registry's rollback anchor",
        ),
    ]);
}

/// `usage` when `path` is one of the guarded files.
pub fn refuse_guarded(path: &Path) -> CliResult<()> {
    let here = resolved(path);
    match GUARDED
        .get()
        .and_then(|g| g.iter().find(|(p, _)| *p == here))
    {
        Some((_, what)) => Err(CliError::usage(format!(
            "{} is {what}: writing there would replace it; choose another path",
            path.display()
        ))),
        None => Ok(()),
    }
}

/// Writes a file, replacing it atomically and durably (`cairn_store::fsio::write_atomic`:
/// a temporary file in the same directory, fsynced, renamed over `path`, the directory
/// fsynced). A crash or an error leaves the old file (or none), never a half-written one.
pub fn write_file(path: &Path, bytes: &[u8]) -> CliResult<()> {
    refuse_guarded(path)?;
    cairn_store::fsio::write_atomic(path, bytes).map_err(|e| CliError::io(path, &e))
}

/// Writes a file holding a secret, atomically and durably like [`write_file`], readable by
/// its owner only (`cairn_store::fsio::write_private_with`: mode 0600 on Unix).
pub fn write_private_file(path: &Path, bytes: &[u8]) -> CliResult<()> {
    refuse_guarded(path)?;
    cairn_store::fsio::write_private_with(path, |f| std::io::Write::write_all(f, bytes))
        .map_err(|e| CliError::io(path, &e))
}

/// Writes a file as a stream through `fill`, atomically and durably like [`write_file`]
/// (`cairn_store::fsio::write_atomic_with`). `fill` returns the command's own error, which
/// is passed on unchanged; the destination keeps its old content then.
pub fn write_file_with<T>(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> CliResult<T>,
) -> CliResult<T> {
    refuse_guarded(path)?;
    let mut inner: Option<CliResult<T>> = None;
    let res = cairn_store::fsio::write_atomic_with(path, |f| match fill(f) {
        Ok(v) => {
            inner = Some(Ok(v));
            Ok(())
        }
        Err(e) => {
            inner = Some(Err(e));
            Err(std::io::Error::other("the output was not complete"))
        }
    });
    match (inner, res) {
        (Some(Err(e)), _) => Err(e),
        (_, Err(e)) => Err(CliError::io(path, &e)),
        (Some(Ok(v)), Ok(())) => Ok(v),
        (None, Ok(())) => Err(CliError::io(
            path,
            &std::io::Error::other("nothing was written"),
        )),
    }
}

/// Largest key file accepted.
pub const MAX_KEY_FILE: usize = 64 * 1024;

/// Parses a public key file: SubjectPublicKeyInfo PEM, or JSON `{"alg": ..., "key": base64}`.
pub fn parse_public_key(text: &str) -> CliResult<PublicKey> {
    let t = text.trim_start();
    if t.starts_with('{') {
        serde_json::from_str::<PublicKey>(t).map_err(|e| {
            CliError::core(
                ErrorCode::Malformed,
                format!("public key JSON: {e} (expected {{\"alg\": ..., \"key\": base64}})"),
            )
        })
    } else {
        Ok(pem::public_key_from_pem(text)?)
    }
}

/// Reads a public key file (PEM or JSON).
pub fn read_public_key(path: &Path) -> CliResult<PublicKey> {
    parse_public_key(&read_text(path, MAX_KEY_FILE, "key file")?)
        .map_err(|e| e.context(&path.display().to_string()))
}

/// Parses `NAME=KIND:VALUE` (kinds: max, min, range A..B, exact, one-of A,B,C, prefix).
pub fn parse_constraint(s: &str) -> CliResult<(String, ConstraintValue)> {
    let bad = |why: &str| {
        CliError::usage(format!(
            "constraint {s:?}: {why} (use NAME=max:N, min:N, range:A..B, exact:TEXT, one-of:A,B,C or prefix:TEXT)"
        ))
    };
    let (name, rest) = s.split_once('=').ok_or_else(|| bad("no '='"))?;
    let (kind, value) = rest.split_once(':').ok_or_else(|| bad("no KIND:"))?;
    let num = |v: &str| v.trim().parse::<u64>().map_err(|_| bad("not a number"));
    let c = match kind {
        "max" => ConstraintValue::Max(num(value)?),
        "min" => ConstraintValue::Min(num(value)?),
        "range" => {
            let (a, b) = value
                .split_once("..")
                .ok_or_else(|| bad("range needs A..B"))?;
            ConstraintValue::Range {
                min: num(a)?,
                max: num(b)?,
            }
        }
        "exact" => ConstraintValue::Exact(value.to_owned()),
        "one-of" | "one_of" => {
            ConstraintValue::OneOf(value.split(',').map(str::to_owned).collect())
        }
        "prefix" => ConstraintValue::Prefix(value.to_owned()),
        _ => return Err(bad("unknown kind")),
    };
    c.validate()
        .map_err(|e| CliError::from(e).context(&format!("constraint {name:?}")))?;
    Ok((name.to_owned(), c))
}

/// Parses `KEY=VALUE`.
pub fn parse_pair<'a>(s: &'a str, what: &str) -> CliResult<(&'a str, &'a str)> {
    s.split_once('=')
        .ok_or_else(|| CliError::usage(format!("{what} {s:?}: use KEY=VALUE")))
}

/// True when `s` is 64 hex digits.
pub fn is_full_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Picks the one item whose hex id starts with `sel` (at least 4 hex digits).
pub fn pick_by_prefix<T>(
    sel: &str,
    what: &str,
    items: impl IntoIterator<Item = T>,
    hex_of: impl Fn(&T) -> String,
) -> CliResult<T> {
    let sel_l = sel.to_ascii_lowercase();
    if sel_l.len() < 4 || !sel_l.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CliError::usage(format!(
            "{what} {sel:?}: give its id (64 hex digits) or at least 4 leading hex digits"
        )));
    }
    let mut found: Vec<T> = items
        .into_iter()
        .filter(|i| hex_of(i).starts_with(&sel_l))
        .collect();
    match found.len() {
        0 => Err(CliError::store(
            cairn_store::StoreCode::NotFound,
            format!("no {what} starts with {sel}"),
        )),
        1 => Ok(found.remove(0)),
        n => Err(CliError::usage(format!(
            "{n} {what}s start with {sel}: give more digits"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("90m").unwrap(), 5400);
        assert_eq!(parse_duration("2d").unwrap(), 172_800);
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000);
        assert_eq!(parse_time("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000);
        assert_eq!(fmt_time(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(fmt_time(0), "1970-01-01T00:00:00Z");
        assert!(parse_time("2023-13-01T00:00:00Z").is_err());
        assert!(parse_time("yesterday").is_err());
        for t in [0u64, 951_782_400, 4_102_444_800, 1_709_164_800] {
            assert_eq!(parse_time(&fmt_time(t)).unwrap(), t);
        }
    }

    #[test]
    fn a_failing_stream_keeps_the_old_file_and_its_own_error() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("registry.cairnlog");
        write_file(&p, b"old export").unwrap();
        let err = write_file_with(&p, |f| -> CliResult<()> {
            f.write_all(b"half of a new export").unwrap();
            Err(CliError::core(ErrorCode::ChainBroken, "entry 3 is damaged"))
        })
        .unwrap_err();
        assert_eq!(err.code, "chain_broken");
        assert_eq!(std::fs::read(&p).unwrap(), b"old export");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let n = write_file_with(&p, |f| {
            f.write_all(b"new").map_err(|e| CliError::io(&p, &e))?;
            Ok(3)
        })
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
    }

    #[test]
    fn constraints() {
        assert_eq!(
            parse_constraint("n=max:5").unwrap().1,
            ConstraintValue::Max(5)
        );
        assert_eq!(
            parse_constraint("n=range:1..9").unwrap().1,
            ConstraintValue::Range { min: 1, max: 9 }
        );
        assert!(parse_constraint("n=range:9..1").is_err());
        assert!(parse_constraint("n=foo:1").is_err());
        assert!(parse_constraint("nothing").is_err());
        match parse_constraint("p=one-of:a,b").unwrap().1 {
            ConstraintValue::OneOf(s) => assert_eq!(s.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
