//! UTC calendar dates from unix seconds: the one conversion run ids, allowlist expiry dates and
//! ledger reports share. Nothing here reads the clock; callers pass the time in.

/// A UTC calendar date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcTime {
    /// Year (proleptic Gregorian).
    pub year: i64,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of the month, 1..=31.
    pub day: u32,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub minute: u32,
    /// Second, 0..=59.
    pub second: u32,
}

impl UtcTime {
    /// The UTC date and time of a unix timestamp (Howard Hinnant's days-to-civil).
    pub fn from_unix(secs: u64) -> UtcTime {
        let z = (secs / 86_400) as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        let rem = secs % 86_400;
        UtcTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem / 60 % 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// `YYYYMMDDTHHMMSSZ` (ISO 8601 basic format).
    pub fn stamp(&self) -> String {
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::UtcTime;

    #[test]
    fn known_dates() {
        assert_eq!(UtcTime::from_unix(0).stamp(), "19700101T000000Z");
        assert_eq!(UtcTime::from_unix(951_782_400).date(), "2000-02-29");
        assert_eq!(UtcTime::from_unix(1_798_761_599).stamp(), "20261231T235959Z");
        assert_eq!(UtcTime::from_unix(4_107_542_400).date(), "2100-03-01");
    }
}
