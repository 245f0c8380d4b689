//! Proleptic Gregorian calendar arithmetic (Howard Hinnant's `days_from_civil` and
//! `civil_from_days`), the one place cairn turns dates into day counts and back: blux-reg's
//! ISO 8601 timestamps, the CLI's `YYYY-MM-DDTHH:MM:SSZ` times, and the benches' JSONL lines.
//!
//! Pure integer arithmetic, exact for every year of magnitude below 10^15 (well beyond any
//! time a `u64` of seconds can name); callers check month and day ranges themselves.

/// Days since 1970-01-01 of the date `year`-`month`-`day` (month 1–12, day 1–31; day 0 or a
/// day past the month's end counts on from the neighbouring month).
///
/// ```
/// use cairn_core::calendar::days_from_civil;
/// assert_eq!(days_from_civil(1970, 1, 1), 0);
/// assert_eq!(days_from_civil(2000, 3, 1), 11_017);
/// assert_eq!(days_from_civil(1969, 12, 31), -1);
/// ```
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1–12, day 1–31) of a day count since 1970-01-01; the inverse of
/// [`days_from_civil`].
///
/// ```
/// use cairn_core::calendar::civil_from_days;
/// assert_eq!(civil_from_days(0), (1970, 1, 1));
/// assert_eq!(civil_from_days(11_016), (2000, 2, 29));
/// assert_eq!(civil_from_days(-1), (1969, 12, 31));
/// ```
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both fit in u32: 1 ≤ d ≤ 31 and 1 ≤ m ≤ 12 by construction.
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_over_eight_centuries() {
        // Every day from 1600-01-01 to 2400-12-31, both directions, consecutive.
        let first = days_from_civil(1600, 1, 1);
        let last = days_from_civil(2400, 12, 31);
        let mut prev = civil_from_days(first - 1);
        for n in first..=last {
            let (y, m, d) = civil_from_days(n);
            assert_eq!(days_from_civil(y, m, d), n);
            assert!((y, m, d) > prev);
            prev = (y, m, d);
        }
        assert_eq!(prev, (2400, 12, 31));
    }

    #[test]
    fn leap_years() {
        for (y, leap) in [
            (1900, false),
            (2000, true),
            (2023, false),
            (2024, true),
            (2100, false),
        ] {
            let feb = days_from_civil(y, 3, 1) - days_from_civil(y, 2, 1);
            assert_eq!(feb, if leap { 29 } else { 28 }, "{y}");
        }
    }

    #[test]
    fn extremes_do_not_overflow() {
        let days = i64::MAX / 2 / 86_400 * 86_400 / 86_400;
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days);
        let (y, m, d) = civil_from_days(-days);
        assert_eq!(days_from_civil(y, m, d), -days);
    }
}
