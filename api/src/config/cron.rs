//! Five-field cron expressions (`minute hour day-of-month month day-of-week`,
//! UTC), as in the seed's crontab: numbers, `*`, lists `1,15`, ranges
//! `1-5` and steps `*/10`. Day-of-week 0 and 7 are Sunday. As in cron, when
//! both day fields are restricted a day matching either one matches.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};

/// A parsed cron schedule.
#[derive(Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_field(field: &str, min: u32, max: u32, name: &str) -> Result<u64, String> {
    let mut bits = 0u64;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| format!("bad step `{s}` in the {name} field"))?;
                if step == 0 {
                    return Err(format!("step 0 in the {name} field"));
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a: u32 = a.parse().map_err(|_| format!("bad value `{a}` in the {name} field"))?;
            let b: u32 = b.parse().map_err(|_| format!("bad value `{b}` in the {name} field"))?;
            (a, b)
        } else {
            let v: u32 = range
                .parse()
                .map_err(|_| format!("bad value `{range}` in the {name} field"))?;
            // `5/15` means from 5 to the end, every 15.
            (v, if part.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("{name} must be within {min}-{max}, got `{part}`"));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(format!(
                "`{text}` is not a cron expression: five fields `minute hour day month weekday` (UTC), e.g. `0 2 * * *`"
            ));
        };
        let mut weekdays = parse_field(weekday, 0, 7, "weekday")?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Self {
            text: fields.join(" "),
            minutes: parse_field(minute, 0, 59, "minute")?,
            hours: parse_field(hour, 0, 23, "hour")?,
            days: parse_field(day, 1, 31, "day-of-month")?,
            months: parse_field(month, 1, 12, "month")?,
            weekdays,
            days_restricted: day != "*",
            weekdays_restricted: weekday != "*",
        })
    }
}

impl Schedule {
    /// Whether the schedule fires in the minute of `at`.
    pub fn matches(&self, at: DateTime<Utc>) -> bool {
        let bit = |set: u64, v: u32| set & (1 << v) != 0;
        let day = bit(self.days, at.day());
        let weekday = bit(self.weekdays, at.weekday().num_days_from_sunday());
        let day_ok = match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day || weekday,
            (true, false) => day,
            (false, true) => weekday,
            (false, false) => true,
        };
        bit(self.minutes, at.minute()) && bit(self.hours, at.hour()) && bit(self.months, at.month()) && day_ok
    }

    /// The first minute strictly after `after` when the schedule fires
    /// (`None` for schedules that never fire, such as 31 February).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = after.duration_trunc(Duration::minutes(1)).ok()? + Duration::minutes(1);
        // Eight years cover every leap-day schedule; checked minute by
        // minute only within matching days.
        let limit = t + Duration::days(8 * 366);
        while t < limit {
            let day_start = t.duration_trunc(Duration::days(1)).ok()?;
            let probe = day_start + Duration::hours(12);
            let day_matches = {
                let bit = |set: u64, v: u32| set & (1 << v) != 0;
                let day = bit(self.days, probe.day());
                let weekday = bit(self.weekdays, probe.weekday().num_days_from_sunday());
                let day_ok = match (self.days_restricted, self.weekdays_restricted) {
                    (true, true) => day || weekday,
                    (true, false) => day,
                    (false, true) => weekday,
                    (false, false) => true,
                };
                day_ok && bit(self.months, probe.month())
            };
            if !day_matches {
                t = day_start + Duration::days(1);
                continue;
            }
            while t < day_start + Duration::days(1) {
                if self.matches(t) {
                    return Some(t);
                }
                t += Duration::minutes(1);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("valid time")
    }

    #[test]
    fn seed_crontab_lines() {
        let daily: Schedule = "0 2 * * *".parse().expect("daily");
        assert_eq!(daily.next_after(at(2026, 11, 29, 1, 30)), Some(at(2026, 11, 29, 2, 0)));
        assert_eq!(daily.next_after(at(2026, 11, 29, 2, 0)), Some(at(2026, 11, 30, 2, 0)));

        // Sunday 03:00; 2026-11-29 is a Sunday.
        let weekly: Schedule = "0 3 * * 0".parse().expect("weekly");
        assert_eq!(weekly.next_after(at(2026, 11, 25, 0, 0)), Some(at(2026, 11, 29, 3, 0)));
        let sunday_as_7: Schedule = "0 3 * * 7".parse().expect("weekly");
        assert_eq!(
            sunday_as_7.next_after(at(2026, 11, 25, 0, 0)),
            Some(at(2026, 11, 29, 3, 0))
        );

        let monthly: Schedule = "0 4 1 * *".parse().expect("monthly");
        assert_eq!(monthly.next_after(at(2026, 11, 29, 0, 0)), Some(at(2026, 12, 1, 4, 0)));
        assert_eq!(monthly.next_after(at(2026, 12, 31, 23, 59)), Some(at(2027, 1, 1, 4, 0)));
    }

    #[test]
    fn lists_ranges_steps_and_either_day_field() {
        let s: Schedule = "*/15 9-17 * * 1-5".parse().expect("parse");
        assert!(s.matches(at(2026, 11, 30, 9, 45)));
        assert!(!s.matches(at(2026, 11, 30, 9, 50)));
        assert!(!s.matches(at(2026, 11, 29, 9, 45)), "Sunday");
        let either: Schedule = "0 0 13 * 5".parse().expect("parse");
        assert!(either.matches(at(2026, 11, 13, 0, 0)));
        assert!(either.matches(at(2026, 11, 20, 0, 0)), "a Friday");
        assert!(!either.matches(at(2026, 11, 19, 0, 0)));
        let leap: Schedule = "30 6 29 2 *".parse().expect("parse");
        assert_eq!(leap.next_after(at(2026, 1, 1, 0, 0)), Some(at(2028, 2, 29, 6, 30)));
        let never: Schedule = "0 0 31 2 *".parse().expect("parse");
        assert_eq!(never.next_after(at(2026, 1, 1, 0, 0)), None);
    }

    #[test]
    fn refuses_malformed_expressions() {
        for bad in [
            "",
            "0 2 * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "*/0 * * * *",
            "a * * * *",
            "5-1 * * * *",
        ] {
            assert!(bad.parse::<Schedule>().is_err(), "accepted `{bad}`");
        }
    }
}
