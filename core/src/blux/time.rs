//! ISO 8601 timestamps as blux-reg writes them and Python's `datetime.fromisoformat` reads
//! them, reduced to one instant.
//!
//! Accepted: `YYYY-MM-DD` `T` or space `HH:MM[:SS[(.|,)f+]]` then `Z` or
//! `±HH:MM[:SS[.f+]]`. Fractions are cut to microseconds, as Python does. Values are range
//! checked as Python's `datetime` does (year 1–9999, real calendar days, hour 0–23, minute
//! and second 0–59, offset strictly within ±24 h). A timestamp without an offset is refused:
//! Python cannot compare it with the aware `now` and blux-reg fails with `TypeError`.
//! Python accepts more spellings (basic format, week dates, `+HH`, any separator
//! character); blux-reg never writes them and cairn refuses them as malformed.

use crate::calendar;
use crate::error::{Error, Result};

/// Microseconds per second.
const MICROS: i128 = 1_000_000;

/// Longest timestamp text accepted (keeps fraction parsing bounded).
const MAX_LEN: usize = 64;

/// Parses `text` to microseconds since the Unix epoch (negative before 1970).
///
/// ```
/// # use cairn_core::blux::parse_iso8601_micros;
/// assert_eq!(parse_iso8601_micros("1970-01-01T00:00:01+00:00")?, 1_000_000);
/// assert_eq!(parse_iso8601_micros("1970-01-01T01:00:00+01:00")?, 0);
/// assert_eq!(parse_iso8601_micros("1970-01-01T00:00:00.5Z")?, 500_000);
/// assert!(parse_iso8601_micros("1970-01-01T00:00:00").is_err()); // no offset
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_iso8601_micros(text: &str) -> Result<i128> {
    let bad = || {
        Error::malformed(alloc::format!(
            "not an ISO 8601 timestamp with an offset: {text:?}"
        ))
    };
    if text.len() > MAX_LEN || !text.is_ascii() {
        return Err(bad());
    }
    let mut c = Cursor {
        s: text.as_bytes(),
        pos: 0,
    };
    let year = c.digits(4).ok_or_else(bad)?;
    c.eat(b'-').ok_or_else(bad)?;
    let month = c.digits(2).ok_or_else(bad)?;
    c.eat(b'-').ok_or_else(bad)?;
    let day = c.digits(2).ok_or_else(bad)?;
    match c.next() {
        Some(b'T' | b' ') => {}
        _ => return Err(bad()),
    }
    let (hour, minute, second, micros) = c.time().ok_or_else(bad)?;
    let offset_micros: i128 = match c.next() {
        Some(b'Z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let (h, m, s, us) = c.time().ok_or_else(bad)?;
            let v = ((h * 60 + m) * 60 + s) * MICROS + us;
            if v >= 24 * 3600 * MICROS {
                return Err(Error::malformed(alloc::format!(
                    "UTC offset must be within ±24 hours: {text:?}"
                )));
            }
            if sign == b'-' {
                -v
            } else {
                v
            }
        }
        None => {
            return Err(Error::malformed(alloc::format!(
                "timestamp has no UTC offset: {text:?}"
            )))
        }
        Some(_) => return Err(bad()),
    };
    if c.pos != c.s.len() {
        return Err(bad());
    }
    if !(1..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(Error::malformed(alloc::format!(
            "timestamp out of range: {text:?}"
        )));
    }
    // Checked above: four-digit year, month 1-12, day within the month; the casts are exact.
    let days = i128::from(calendar::days_from_civil(
        year as i64,
        month as u32,
        day as u32,
    ));
    let local = ((days * 24 + hour) * 60 + minute) * 60 + second;
    Ok(local * MICROS + micros - offset_micros)
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<u8> {
        let b = *self.s.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn digits(&mut self, n: usize) -> Option<i128> {
        let mut v = 0i128;
        for _ in 0..n {
            let b = self.next()?;
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i128::from(b - b'0');
        }
        Some(v)
    }

    /// `HH:MM[:SS[(.|,)f+]]` → (hour, minute, second, microseconds).
    fn time(&mut self) -> Option<(i128, i128, i128, i128)> {
        let h = self.digits(2)?;
        self.eat(b':')?;
        let m = self.digits(2)?;
        let (mut s, mut us) = (0, 0);
        if self.peek() == Some(b':') {
            self.pos += 1;
            s = self.digits(2)?;
            if let Some(b'.' | b',') = self.peek() {
                self.pos += 1;
                let mut n = 0;
                while let Some(b @ b'0'..=b'9') = self.peek() {
                    if n < 6 {
                        us = us * 10 + i128::from(b - b'0');
                    }
                    n += 1;
                    self.pos += 1;
                }
                if n == 0 {
                    return None;
                }
                for _ in n..6 {
                    us *= 10;
                }
            }
        }
        Some((h, m, s, us))
    }
}

fn is_leap(y: i128) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i128, m: i128) -> i128 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_agrees() {
        // Values from Python 3.11: datetime.fromisoformat(s).timestamp().
        let cases: &[(&str, i128)] = &[
            ("2036-01-18T15:00:00+00:00", 2_084_281_200_000_000),
            ("2036-01-18T15:00:00Z", 2_084_281_200_000_000),
            ("2036-01-18 15:00:00+00:00", 2_084_281_200_000_000),
            ("2036-01-18T15:00+00:00", 2_084_281_200_000_000),
            ("2036-01-18T15:00:00.5+00:00", 2_084_281_200_500_000),
            ("2036-01-18T15:00:00.1234567+00:00", 2_084_281_200_123_456),
            ("2036-01-18T15:00:00,5+00:00", 2_084_281_200_500_000),
            ("2036-01-18T15:00:00+01:00:30", 2_084_277_570_000_000),
            ("2036-01-18T15:00:00+01:00:30.5", 2_084_277_569_500_000),
            ("2036-01-18T15:00:00+23:59", 2_084_194_860_000_000),
            ("2036-01-18T15:00:00-05:00", 2_084_299_200_000_000),
            ("2036-01-18T15:00:00-00:00", 2_084_281_200_000_000),
            ("0001-01-01T00:00:00+01:00", -62_135_600_400_000_000),
            ("2000-02-29T00:00:00Z", 951_782_400_000_000),
        ];
        for (s, want) in cases {
            assert_eq!(parse_iso8601_micros(s).unwrap(), *want, "{s}");
        }
    }

    #[test]
    fn refused() {
        for s in [
            "2036-01-18T15:00:00z",
            "2036-01-18T15:00:00+24:00",
            "2036-01-18T24:00:00+00:00",
            "2036-01-18T15:00:60+00:00",
            "2036-02-30T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "2036-01-18T15:00:00Z ",
            " 2036-01-18T15:00:00Z",
            "2036-01-18T15:00:00+00:00Z",
            "2036-01-18T15:00:00+1:00",
            "2036-1-18T15:00:00Z",
            "2036-01-18T15:00:00.+00:00",
            "2036-01-18T15:00:00",
            "2036-01-18",
            "",
            "２０36-01-18T15:00:00Z",
        ] {
            assert!(parse_iso8601_micros(s).is_err(), "{s}");
        }
    }
}
