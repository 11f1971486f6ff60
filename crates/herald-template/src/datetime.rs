//! Date-time values. The engine's values are `serde_json::Value`, so a date-time is a
//! one-key object under a reserved key (a NUL-prefixed name no JSON payload uses in
//! practice); printing, comparison and the date functions recognise it.
//!
//! A date-time is an instant plus how it is viewed: UTC (`Z`), a fixed offset, an IANA
//! zone, or no zone at all (a "date-time only", Java's `LocalDateTime`).

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use serde_json::{Map, Value};

/// The reserved key under which a date-time value is stored.
const KEY: &str = "\u{0}herald:datetime";

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Zone {
    Utc,
    Fixed(FixedOffset),
    Named(Tz),
    /// No zone: the instant's UTC fields are the wall-clock fields.
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dt {
    pub instant: DateTime<Utc>,
    pub zone: Zone,
}

impl Dt {
    pub fn utc(instant: DateTime<Utc>) -> Dt {
        Dt {
            instant,
            zone: Zone::Utc,
        }
    }

    pub fn from_value(v: &Value) -> Option<Dt> {
        let Value::Object(m) = v else { return None };
        if m.len() != 1 {
            return None;
        }
        let s = m.get(KEY)?.as_str()?;
        let (inst, zone) = s.split_once('|')?;
        let instant = DateTime::parse_from_rfc3339(inst).ok()?.with_timezone(&Utc);
        let zone = match zone {
            "Z" => Zone::Utc,
            "L" => Zone::Local,
            z if z.starts_with('+') || z.starts_with('-') => Zone::Fixed(parse_offset(z)?),
            z => Zone::Named(z.parse().ok()?),
        };
        Some(Dt { instant, zone })
    }

    pub fn to_value(self) -> Value {
        let zone = match self.zone {
            Zone::Utc => "Z".to_string(),
            Zone::Local => "L".to_string(),
            Zone::Fixed(o) => offset_text(o.local_minus_utc(), false),
            Zone::Named(tz) => tz.name().to_string(),
        };
        let inst = self
            .instant
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let mut m = Map::new();
        m.insert(KEY.to_string(), Value::String(format!("{inst}|{zone}")));
        Value::Object(m)
    }

    /// Offset from UTC in seconds at this instant.
    pub fn offset_secs(&self) -> i32 {
        match self.zone {
            Zone::Utc | Zone::Local => 0,
            Zone::Fixed(o) => o.local_minus_utc(),
            Zone::Named(tz) => tz
                .offset_from_utc_datetime(&self.instant.naive_utc())
                .fix()
                .local_minus_utc(),
        }
    }

    /// Wall-clock date-time in this value's zone.
    pub fn local(&self) -> NaiveDateTime {
        self.instant.naive_utc() + chrono::Duration::seconds(i64::from(self.offset_secs()))
    }

    /// The same zone at another wall-clock time (gaps resolve forward, overlaps early).
    pub fn with_local(&self, local: NaiveDateTime) -> Dt {
        let instant = match self.zone {
            Zone::Utc | Zone::Local => Utc.from_utc_datetime(&local),
            Zone::Fixed(o) => Utc.from_utc_datetime(&(local - o)),
            Zone::Named(tz) => match tz.from_local_datetime(&local).earliest() {
                Some(d) => d.with_timezone(&Utc),
                None => {
                    let later = local + chrono::Duration::hours(1);
                    tz.from_local_datetime(&later)
                        .earliest()
                        .map_or_else(|| Utc.from_utc_datetime(&local), |d| d.with_timezone(&Utc))
                }
            },
        };
        Dt {
            instant,
            zone: self.zone,
        }
    }

    /// Java `ZonedDateTime.toString()` (or `LocalDateTime.toString()` without a zone):
    /// seconds omitted when zero, fractions only when non-zero, `Z` for UTC, the zone id
    /// in brackets for region zones.
    pub fn iso(&self) -> String {
        let l = self.local();
        let mut s = format!(
            "{}-{:02}-{:02}T{:02}:{:02}",
            year_text(l.year()),
            l.month(),
            l.day(),
            l.hour(),
            l.minute()
        );
        let nanos = l.nanosecond() % 1_000_000_000;
        if l.second() != 0 || nanos != 0 {
            s.push_str(&format!(":{:02}", l.second()));
        }
        if nanos != 0 {
            if nanos.is_multiple_of(1_000_000) {
                s.push_str(&format!(".{:03}", nanos / 1_000_000));
            } else if nanos.is_multiple_of(1000) {
                s.push_str(&format!(".{:06}", nanos / 1000));
            } else {
                s.push_str(&format!(".{nanos:09}"));
            }
        }
        match self.zone {
            Zone::Local => {}
            Zone::Utc => s.push('Z'),
            Zone::Fixed(o) => s.push_str(&offset_text(o.local_minus_utc(), true)),
            Zone::Named(tz) => {
                s.push_str(&offset_text(self.offset_secs(), true));
                s.push('[');
                s.push_str(tz.name());
                s.push(']');
            }
        }
        s
    }
}

fn year_text(y: i32) -> String {
    if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else if y > 9999 {
        format!("+{y}")
    } else {
        format!("-{:04}", -i64::from(y))
    }
}

/// `+03:30`; with `z_for_zero`, a zero offset is `Z`. Seconds appear only when non-zero.
pub(crate) fn offset_text(secs: i32, z_for_zero: bool) -> String {
    if secs == 0 && z_for_zero {
        return "Z".to_string();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let mut s = format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60);
    if !a.is_multiple_of(60) {
        s.push_str(&format!(":{:02}", a % 60));
    }
    s
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| digits.get(r).and_then(|d| d.parse::<i32>().ok());
    let (h, m, sec) = match digits.len() {
        1 | 2 => (digits.parse().ok()?, 0, 0),
        4 => (n(0..2)?, n(2..4)?, 0),
        6 => (n(0..2)?, n(2..4)?, n(4..6)?),
        _ => return None,
    };
    if h > 18 || m > 59 || sec > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60 + sec))
}

/// A zone argument: `Z`/`UTC`/`GMT`, an offset (`+03:30`), or an IANA id.
pub(crate) fn parse_zone(s: &str) -> Option<Zone> {
    let s = s.trim();
    match s {
        "Z" | "UTC" | "GMT" | "UT" => return Some(Zone::Utc),
        _ => {}
    }
    if s.starts_with('+') || s.starts_with('-') {
        return parse_offset(s).map(Zone::Fixed);
    }
    for p in ["UTC", "GMT", "UT"] {
        if let Some(rest) = s.strip_prefix(p)
            && (rest.starts_with('+') || rest.starts_with('-'))
        {
            return parse_offset(rest).map(Zone::Fixed);
        }
    }
    s.parse::<Tz>().ok().map(Zone::Named)
}

/// ISO-8601 text as Java's parsers accept it: `2024-11-01T17:19:51Z`,
/// `2019-02-19T11:39+03:30[Asia/Tehran]`, `2024-11-01T17:19:51.5+01:00`,
/// `2024-11-01T17:19:51` (no zone → UTC), `2024-11-01` (midnight UTC).
/// A space may stand in for the `T`.
pub(crate) fn parse_iso(s: &str) -> Option<Dt> {
    let s = s.trim();
    let (main, bracket) = match s.find('[') {
        Some(i) if s.ends_with(']') => (&s[..i], Some(&s[i + 1..s.len() - 1])),
        _ => (s, None),
    };
    if let Ok(d) = NaiveDate::parse_from_str(main, "%Y-%m-%d") {
        let dt = Dt::utc(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
        return match bracket {
            Some(z) => {
                let zone = parse_zone(z)?;
                Some(
                    Dt {
                        instant: dt.instant,
                        zone,
                    }
                    .with_local(dt.local()),
                )
            }
            None => Some(dt),
        };
    }
    let main = main.replacen(' ', "T", 1);
    // Split the wall-clock part from the offset.
    let t = main.find('T')?;
    let (wall, offset) = match main[t..].find(['Z', 'z', '+', '-']) {
        Some(i) => (&main[..t + i], Some(&main[t + i..])),
        None => (main.as_str(), None),
    };
    let local = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(wall, f).ok())?;
    let zone_from_offset = match offset {
        None => None,
        Some("Z" | "z") => Some(Zone::Utc),
        Some(o) => Some(Zone::Fixed(parse_offset(o)?)),
    };
    let zone = match bracket {
        Some(z) => parse_zone(z)?,
        None => zone_from_offset.unwrap_or(Zone::Utc),
    };
    // The explicit offset fixes the instant; the bracketed zone only changes the view.
    let instant = match zone_from_offset {
        Some(Zone::Fixed(o)) => Utc.from_utc_datetime(&(local - o)),
        Some(_) => Utc.from_utc_datetime(&local),
        None => {
            return Some(
                Dt {
                    instant: Utc.from_utc_datetime(&local),
                    zone,
                }
                .with_local(local),
            );
        }
    };
    Some(Dt { instant, zone })
}

/// Day count of (year, month): used by month arithmetic and `setDays`.
pub(crate) fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day())
}

/// Java `ChronoUnit.MONTHS.between(a, b)` on wall-clock date-times.
pub(crate) fn months_between(a: NaiveDateTime, b: NaiveDateTime) -> i64 {
    let total = (i64::from(b.year()) - i64::from(a.year())) * 12 + i64::from(b.month())
        - i64::from(a.month());
    let key = |d: NaiveDateTime| (d.day(), d.time());
    if total > 0 && key(b) < key(a) {
        total - 1
    } else if total < 0 && key(b) > key(a) {
        total + 1
    } else {
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        for s in [
            "2024-11-01T17:19:51Z",
            "2024-11-01T00:00Z",
            "2019-02-19T11:39+03:30[Asia/Tehran]",
            "2024-12-06T17:22:02.281067+05:30[Asia/Kolkata]",
            "2024-11-01T17:19:51.500-04:00",
        ] {
            let d = parse_iso(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(d.iso(), s);
            assert_eq!(Dt::from_value(&d.to_value()), Some(d));
        }
        assert_eq!(
            parse_iso("2024-11-01").map(|d| d.iso()),
            Some("2024-11-01T00:00Z".into())
        );
        assert!(parse_iso("yesterday").is_none());
    }
}
