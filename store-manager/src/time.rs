//! Times as text: RFC 3339 in UTC, for every time the manager shows (the stored object's
//! `created` and `expires`, in JSON and for people).
//!
//! Invariant: formatting never fails and never panics, whatever the time. A header read from
//! storage may hold any number of milliseconds (a damaged or hand-written object, an expiry
//! thousands of years ahead), and one such object must not break a listing of the whole store.
//! Years 0 to 9999 are written as RFC 3339 has them (`2025-01-15T09:30:00Z`); later years with a
//! `+` and as many digits as they need (`+100000-01-01T00:00:00Z`, ISO 8601's expanded form),
//! earlier ones with a `-`. Times before 1970 are exact too.

use std::time::{SystemTime, UNIX_EPOCH};

/// `2025-01-15T09:30:00.325Z` (milliseconds).
pub fn rfc3339_millis(t: SystemTime) -> String {
    let (seconds, nanos) = since_epoch(t);
    format!("{}.{:03}Z", date_time(seconds), nanos / 1_000_000)
}

/// `2025-01-15T09:30:00Z` (whole seconds).
pub fn rfc3339_seconds(t: SystemTime) -> String {
    format!("{}Z", date_time(since_epoch(t).0))
}

/// Whole seconds since the epoch (negative before it, rounded down) and the nanoseconds after.
fn since_epoch(t: SystemTime) -> (i128, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (i128::from(d.as_secs()), d.subsec_nanos()),
        Err(before) => {
            let d = before.duration();
            let (secs, nanos) = (i128::from(d.as_secs()), d.subsec_nanos());
            if nanos == 0 { (-secs, 0) } else { (-secs - 1, 1_000_000_000 - nanos) }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS` for `seconds` since the epoch.
fn date_time(seconds: i128) -> String {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let year = match year {
        0..=9999 => format!("{year:04}"),
        10_000.. => format!("+{year}"),
        _ => format!("-{:04}", year.unsigned_abs()),
    };
    format!("{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}", of_day / 3600, of_day % 3600 / 60, of_day % 60)
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i128) -> (i128, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn ordinary_times_read_as_rfc_3339() {
        assert_eq!(rfc3339_seconds(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_millis(at(1_736_933_400_325)), "2025-01-15T09:30:00.325Z");
        assert_eq!(rfc3339_seconds(at(951_782_400_000)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_seconds(at(253_402_300_799_000)), "9999-12-31T23:59:59Z");
        // The same as humantime where humantime can say it.
        for ms in [0, 1, 86_399_999, 1_700_000_000_123, 4_102_444_800_000, 253_402_300_799_999] {
            assert_eq!(rfc3339_millis(at(ms)), humantime::format_rfc3339_millis(at(ms)).to_string(), "{ms}");
        }
    }

    #[test]
    fn any_time_is_written_without_failing() {
        assert_eq!(rfc3339_seconds(at(253_402_300_800_000)), "+10000-01-01T00:00:00Z");
        assert_eq!(rfc3339_millis(at(3_093_527_980_800_000)), "+100000-01-01T00:00:00.000Z");
        let max = rfc3339_millis(at(u64::MAX));
        assert_eq!(max, "+584556019-04-03T14:25:51.615Z");
        assert_eq!(rfc3339_millis(UNIX_EPOCH - Duration::from_millis(1)), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_seconds(UNIX_EPOCH - Duration::from_secs(62_167_219_200 + 86_400)), "-0001-12-31T00:00:00Z");
    }
}
