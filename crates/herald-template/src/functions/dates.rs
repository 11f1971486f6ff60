//! Date and time functions (spec §5 "Date and time"). Inputs must be date-time values
//! (from `toDateTime`, `stringToDate`, `getCurrentZonedDateTime`…); anything else gives
//! null, which renders empty.

use super::{Ctx, arg, str_arg};
use crate::datetime::{Dt, Zone, days_in_month, months_between, parse_iso, parse_zone};
use chrono::{
    DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc,
};
use serde_json::Value;

type R = Result<Value, String>;

fn dt(args: &[Value], i: usize) -> Option<Dt> {
    Dt::from_value(arg(args, i))
}

fn int(args: &[Value], i: usize) -> Option<i64> {
    let v = arg(args, i);
    v.as_i64()
        .or_else(|| {
            v.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.trunc() as i64)
        })
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn out(d: Option<Dt>) -> R {
    Ok(d.map_or(Value::Null, Dt::to_value))
}

fn num(n: Option<i64>) -> R {
    Ok(n.map_or(Value::Null, Value::from))
}

// ---- now -----------------------------------------------------------------------------

pub(super) fn current_zoned(ctx: &Ctx, _: &[Value]) -> R {
    out(Some(Dt::utc(ctx.now)))
}

pub(super) fn current_millis(ctx: &Ctx, _: &[Value]) -> R {
    Ok(Value::from(ctx.now.timestamp_millis()))
}

// ---- conversions ---------------------------------------------------------------------

fn epoch() -> Dt {
    Dt::utc(DateTime::<Utc>::UNIX_EPOCH)
}

fn from_millis(ms: i64) -> Option<Dt> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(Dt::utc)
}

/// A string, with an optional Java pattern, or a date-time, or epoch milliseconds.
fn to_dt(args: &[Value]) -> Option<Dt> {
    match arg(args, 0) {
        Value::String(s) => match args.get(1).filter(|p| !p.is_null()) {
            Some(p) => parse_with_pattern(s, &crate::value::to_text(p)),
            None => parse_iso(s),
        },
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .and_then(from_millis),
        other => Dt::from_value(other),
    }
}

/// `stringToDate(s[, pattern])`: null when it does not parse.
pub(super) fn string_to_date(args: &[Value]) -> R {
    if !arg(args, 0).is_string() {
        return out(Dt::from_value(arg(args, 0)));
    }
    out(to_dt(args))
}

/// `toDateTime(s[, pattern])`: the epoch when it does not parse.
pub(super) fn to_date_time(args: &[Value]) -> R {
    out(Some(to_dt(args).unwrap_or_else(epoch)))
}

/// `toDateTimeOnly(v)`: a zone-less date-time (the wall clock of a zoned input).
pub(super) fn to_date_time_only(args: &[Value]) -> R {
    let d = to_dt(&args[..args.len().min(1)]).unwrap_or_else(epoch);
    out(Some(Dt {
        instant: Utc.from_utc_datetime(&d.local()),
        zone: Zone::Local,
    }))
}

/// Parses `s` with a Java `DateTimeFormatter` pattern (the common letters).
fn parse_with_pattern(s: &str, pattern: &str) -> Option<Dt> {
    let mut fmt = String::new();
    let (mut has_time, mut has_offset) = (false, false);
    for tok in tokenize(pattern)? {
        match tok {
            Tok::Lit(t) => {
                for c in t.chars() {
                    if c == '%' {
                        fmt.push_str("%%");
                    } else {
                        fmt.push(c);
                    }
                }
            }
            Tok::Field(c, n) => {
                let f = match (c, n) {
                    ('y' | 'u' | 'Y', 2) => "%y",
                    ('y' | 'u' | 'Y', _) => "%Y",
                    ('M' | 'L', 1 | 2) => "%m",
                    ('M' | 'L', 3) => "%b",
                    ('M' | 'L', _) => "%B",
                    ('d', _) => "%d",
                    ('D', _) => "%j",
                    ('E', 1..=3) => "%a",
                    ('E', _) => "%A",
                    ('H' | 'k', _) => "%H",
                    ('h' | 'K', _) => "%I",
                    ('a', _) => "%p",
                    ('m', _) => "%M",
                    ('s', _) => "%S",
                    ('S', _) => "%f",
                    ('X' | 'x', 3) | ('Z', 5) => "%:z",
                    ('X' | 'x' | 'Z', _) => "%z",
                    _ => return None,
                };
                has_time |= "HkhKamsS".contains(c);
                has_offset |= "XxZ".contains(c);
                fmt.push_str(f);
            }
        }
    }
    let s = s.trim();
    if has_offset {
        // `Z` for UTC is ISO's spelling; chrono's %z wants digits.
        let fixed = match s.strip_suffix('Z') {
            Some(head) => format!("{head}+00:00"),
            None => s.to_string(),
        };
        let fmt = fmt.replace("%z", "%:z");
        let d = DateTime::parse_from_str(&fixed, &fmt)
            .or_else(|_| DateTime::parse_from_str(s, &fmt.replace("%:z", "%z")))
            .ok()?;
        let off = d.offset().local_minus_utc();
        return Some(Dt {
            instant: d.with_timezone(&Utc),
            zone: if off == 0 {
                Zone::Utc
            } else {
                Zone::Fixed(*d.offset())
            },
        });
    }
    let local = if has_time {
        NaiveDateTime::parse_from_str(s, &fmt).ok()?
    } else {
        NaiveDate::parse_from_str(s, &fmt)
            .ok()?
            .and_hms_opt(0, 0, 0)?
    };
    Some(Dt::utc(Utc.from_utc_datetime(&local)))
}

// ---- arithmetic ----------------------------------------------------------------------

fn add_local(args: &[Value], f: impl Fn(NaiveDateTime, i64) -> Option<NaiveDateTime>) -> R {
    let (Some(d), Some(n)) = (dt(args, 0), int(args, 1)) else {
        return Ok(Value::Null);
    };
    out(f(d.local(), n).map(|l| d.with_local(l)))
}

fn add_instant(args: &[Value], unit: i64) -> R {
    let (Some(d), Some(n)) = (dt(args, 0), int(args, 1)) else {
        return Ok(Value::Null);
    };
    let secs = n.checked_mul(unit);
    out(secs
        .and_then(Duration::try_seconds)
        .and_then(|dur| d.instant.checked_add_signed(dur))
        .map(|instant| Dt { instant, ..d }))
}

fn add_months(l: NaiveDateTime, n: i64) -> Option<NaiveDateTime> {
    let m = u32::try_from(n.unsigned_abs()).ok()?;
    if n >= 0 {
        l.checked_add_months(Months::new(m))
    } else {
        l.checked_sub_months(Months::new(m))
    }
}

pub(super) fn add_days(args: &[Value]) -> R {
    add_local(args, |l, n| l.checked_add_signed(Duration::try_days(n)?))
}

pub(super) fn add_hours(args: &[Value]) -> R {
    add_instant(args, 3600)
}

pub(super) fn add_minutes(args: &[Value]) -> R {
    add_instant(args, 60)
}

pub(super) fn add_seconds(args: &[Value]) -> R {
    add_instant(args, 1)
}

pub(super) fn add_months_fn(args: &[Value]) -> R {
    add_local(args, add_months)
}

pub(super) fn add_years(args: &[Value]) -> R {
    add_local(args, |l, n| add_months(l, n.checked_mul(12)?))
}

// ---- ages and differences --------------------------------------------------------------

/// Whole days from `a` to `b` on the wall clock (Java `ChronoUnit.DAYS.between`).
fn days_between(a: &Dt, b: &Dt) -> i64 {
    let b_local = b.instant.naive_utc() + Duration::seconds(i64::from(a.offset_secs()));
    (b_local - a.local()).num_days()
}

fn now_in(ctx: &Ctx, d: &Dt) -> Dt {
    Dt {
        instant: ctx.now,
        zone: d.zone,
    }
}

/// Whole years from the date to now.
pub(super) fn age(ctx: &Ctx, args: &[Value]) -> R {
    num(dt(args, 0).map(|d| months_between(d.local(), now_in(ctx, &d).local()) / 12))
}

pub(super) fn age_in_days(ctx: &Ctx, args: &[Value]) -> R {
    num(dt(args, 0).map(|d| days_between(&d, &now_in(ctx, &d))))
}

pub(super) fn age_in_months(ctx: &Ctx, args: &[Value]) -> R {
    num(dt(args, 0).map(|d| months_between(d.local(), now_in(ctx, &d).local())))
}

pub(super) fn compare_dates(args: &[Value]) -> R {
    let (Some(a), Some(b)) = (dt(args, 0), dt(args, 1)) else {
        return Ok(Value::Null);
    };
    Ok(Value::from(a.instant.cmp(&b.instant) as i64))
}

/// Whole days from the first date to the second (Decision 7: positive when b is later).
pub(super) fn date_diff(args: &[Value]) -> R {
    let (Some(a), Some(b)) = (dt(args, 0), dt(args, 1)) else {
        return Ok(Value::Null);
    };
    Ok(Value::from(days_between(&a, &b)))
}

/// Inclusive on both ends.
pub(super) fn date_between(args: &[Value]) -> R {
    let (Some(d), Some(s), Some(e)) = (dt(args, 0), dt(args, 1), dt(args, 2)) else {
        return Ok(Value::Bool(false));
    };
    Ok(Value::Bool(
        s.instant <= d.instant && d.instant <= e.instant,
    ))
}

fn diff_secs(args: &[Value], unit: i64) -> R {
    let (Some(end), Some(start)) = (dt(args, 0), dt(args, 1)) else {
        return Ok(Value::Null);
    };
    Ok(Value::from(
        (end.instant - start.instant).num_seconds() / unit,
    ))
}

pub(super) fn diff_in_seconds(args: &[Value]) -> R {
    diff_secs(args, 1)
}

pub(super) fn diff_in_minutes(args: &[Value]) -> R {
    diff_secs(args, 60)
}

pub(super) fn diff_in_hours(args: &[Value]) -> R {
    diff_secs(args, 3600)
}

pub(super) fn diff_in_days(args: &[Value]) -> R {
    let (Some(end), Some(start)) = (dt(args, 0), dt(args, 1)) else {
        return Ok(Value::Null);
    };
    Ok(Value::from(days_between(&start, &end)))
}

fn diff_months(args: &[Value]) -> Option<i64> {
    let (end, start) = (dt(args, 0)?, dt(args, 1)?);
    let end_local = end.instant.naive_utc() + Duration::seconds(i64::from(start.offset_secs()));
    Some(months_between(start.local(), end_local))
}

pub(super) fn diff_in_months(args: &[Value]) -> R {
    num(diff_months(args))
}

pub(super) fn diff_in_years(args: &[Value]) -> R {
    num(diff_months(args).map(|m| m / 12))
}

// ---- fields ----------------------------------------------------------------------------

fn field(args: &[Value], f: impl Fn(NaiveDateTime) -> u32) -> R {
    num(dt(args, 0).map(|d| i64::from(f(d.local()))))
}

pub(super) fn day_of_month(args: &[Value]) -> R {
    field(args, |l| l.day())
}

pub(super) fn day_of_week(args: &[Value]) -> R {
    field(args, |l| l.weekday().number_from_monday())
}

pub(super) fn day_of_year(args: &[Value]) -> R {
    field(args, |l| l.ordinal())
}

pub(super) fn week_of_year(args: &[Value]) -> R {
    field(args, |l| l.iso_week().week())
}

pub(super) fn extract_hours(args: &[Value]) -> R {
    field(args, |l| l.hour())
}

pub(super) fn extract_minutes(args: &[Value]) -> R {
    field(args, |l| l.minute())
}

pub(super) fn extract_seconds(args: &[Value]) -> R {
    field(args, |l| l.second())
}

pub(super) fn extract_month(args: &[Value]) -> R {
    field(args, |l| l.month())
}

// ---- setters, zones, truncation -------------------------------------------------------

/// `setDays(dt, day)`: the day of the month; a day the month lacks gives null.
pub(super) fn set_days(args: &[Value]) -> R {
    let (Some(d), Some(n)) = (dt(args, 0), int(args, 1)) else {
        return Ok(Value::Null);
    };
    let l = d.local();
    let day = u32::try_from(n)
        .ok()
        .filter(|x| (1..=days_in_month(l.year(), l.month())).contains(x));
    out(day.and_then(|x| l.with_day(x)).map(|l| d.with_local(l)))
}

pub(super) fn set_hours(args: &[Value]) -> R {
    let (Some(d), Some(n)) = (dt(args, 0), int(args, 1)) else {
        return Ok(Value::Null);
    };
    let l = d.local();
    out(u32::try_from(n)
        .ok()
        .and_then(|h| l.with_hour(h))
        .map(|l| d.with_local(l)))
}

pub(super) fn to_utc(args: &[Value]) -> R {
    out(dt(args, 0).map(|d| Dt::utc(d.instant)))
}

/// `convertZonedDateTime(dt, zone)`: the same instant seen in another zone; an unknown
/// zone gives null.
pub(super) fn convert_zoned(args: &[Value]) -> R {
    let zone = parse_zone(&str_arg(args, 1));
    out(dt(args, 0).zip(zone).map(|(d, zone)| Dt {
        instant: d.instant,
        zone,
    }))
}

fn truncate(args: &[Value], f: impl Fn(NaiveDate) -> Option<NaiveDate>) -> R {
    out(dt(args, 0).and_then(|d| {
        let day = f(d.local().date())?;
        Some(d.with_local(day.and_hms_opt(0, 0, 0)?))
    }))
}

pub(super) fn start_of_day(args: &[Value]) -> R {
    truncate(args, Some)
}

pub(super) fn start_of_week(args: &[Value]) -> R {
    truncate(args, |d| {
        d.checked_sub_signed(Duration::days(i64::from(
            d.weekday().num_days_from_monday(),
        )))
    })
}

pub(super) fn start_of_quarter(args: &[Value]) -> R {
    truncate(args, |d| {
        NaiveDate::from_ymd_opt(d.year(), (d.month() - 1) / 3 * 3 + 1, 1)
    })
}

pub(super) fn start_of_year(args: &[Value]) -> R {
    truncate(args, |d| NaiveDate::from_ymd_opt(d.year(), 1, 1))
}

// ---- formatDate ------------------------------------------------------------------------

enum Tok {
    Lit(String),
    /// A pattern letter and how many times it repeats.
    Field(char, usize),
}

/// Splits a Java `DateTimeFormatter` pattern; None when it is invalid.
fn tokenize(pattern: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut lit = String::new();
            i += 1;
            if chars.get(i) == Some(&'\'') {
                toks.push(Tok::Lit("'".into()));
                i += 1;
                continue;
            }
            loop {
                match chars.get(i) {
                    None => return None, // unterminated quote
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        lit.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        lit.push(*ch);
                        i += 1;
                    }
                }
            }
            toks.push(Tok::Lit(lit));
        } else if c.is_ascii_alphabetic() {
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            if !"GuyYDMLdQqwWEecFaBhKkHmsSAnNVvzOXxZ".contains(c) {
                return None;
            }
            toks.push(Tok::Field(c, n));
            i += n;
        } else if "{}#".contains(c) {
            return None;
        } else if c == '[' || c == ']' {
            i += 1; // optional sections: always printed
        } else {
            toks.push(Tok::Lit(c.to_string()));
            i += 1;
        }
    }
    Some(toks)
}

struct Names {
    months: [&'static str; 12],
    months_short: [&'static str; 12],
    days: [&'static str; 7],
    days_short: [&'static str; 7],
    am_pm: [&'static str; 2],
}

const EN: Names = Names {
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    months_short: [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ],
    days: [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    days_short: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    am_pm: ["AM", "PM"],
};

const FR: Names = Names {
    months: [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    months_short: [
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
        "déc.",
    ],
    days: [
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    ],
    days_short: ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."],
    am_pm: ["AM", "PM"],
};

const DE: Names = Names {
    months: [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    months_short: [
        "Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.",
        "Dez.",
    ],
    days: [
        "Montag",
        "Dienstag",
        "Mittwoch",
        "Donnerstag",
        "Freitag",
        "Samstag",
        "Sonntag",
    ],
    days_short: ["Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."],
    am_pm: ["AM", "PM"],
};

const ES: Names = Names {
    months: [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    months_short: [
        "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic",
    ],
    days: [
        "lunes",
        "martes",
        "miércoles",
        "jueves",
        "viernes",
        "sábado",
        "domingo",
    ],
    days_short: ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"],
    am_pm: ["a.\u{a0}m.", "p.\u{a0}m."],
};

const IT: Names = Names {
    months: [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ],
    months_short: [
        "gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic",
    ],
    days: [
        "lunedì",
        "martedì",
        "mercoledì",
        "giovedì",
        "venerdì",
        "sabato",
        "domenica",
    ],
    days_short: ["lun", "mar", "mer", "gio", "ven", "sab", "dom"],
    am_pm: ["AM", "PM"],
};

const NL: Names = Names {
    months: [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ],
    months_short: [
        "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
    ],
    days: [
        "maandag",
        "dinsdag",
        "woensdag",
        "donderdag",
        "vrijdag",
        "zaterdag",
        "zondag",
    ],
    days_short: ["ma", "di", "wo", "do", "vr", "za", "zo"],
    am_pm: ["a.m.", "p.m."],
};

const PT: Names = Names {
    months: [
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ],
    months_short: [
        "jan.", "fev.", "mar.", "abr.", "mai.", "jun.", "jul.", "ago.", "set.", "out.", "nov.",
        "dez.",
    ],
    days: [
        "segunda-feira",
        "terça-feira",
        "quarta-feira",
        "quinta-feira",
        "sexta-feira",
        "sábado",
        "domingo",
    ],
    days_short: ["seg.", "ter.", "qua.", "qui.", "sex.", "sáb.", "dom."],
    am_pm: ["AM", "PM"],
};

fn names(locale: &str) -> &'static Names {
    let lang = locale
        .split(['_', '-'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match lang.as_str() {
        "fr" => &FR,
        "de" => &DE,
        "es" => &ES,
        "it" => &IT,
        "nl" => &NL,
        "pt" => &PT,
        _ => &EN,
    }
}

fn pad(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        out.push_str(&format!("-{:0width$}", -v));
    } else {
        out.push_str(&format!("{v:0width$}"));
    }
}

/// `formatDate(dt, pattern[, locale])`: Java `DateTimeFormatter` letters; an invalid
/// pattern falls back to ISO. Non-dates give null.
pub(super) fn format_date(args: &[Value]) -> R {
    let Some(d) = dt(args, 0) else {
        return Ok(Value::Null);
    };
    let names = names(&str_arg(args, 2));
    let Some(toks) = tokenize(&str_arg(args, 1)) else {
        return Ok(Value::String(d.iso()));
    };
    match render_pattern(&d, &toks, names) {
        Some(s) => Ok(Value::String(s)),
        None => Ok(Value::String(d.iso())),
    }
}

fn render_pattern(d: &Dt, toks: &[Tok], names: &Names) -> Option<String> {
    let l = d.local();
    let off = d.offset_secs();
    let mut s = String::new();
    for t in toks {
        let (c, n) = match t {
            Tok::Lit(x) => {
                s.push_str(x);
                continue;
            }
            Tok::Field(c, n) => (*c, *n),
        };
        match c {
            'y' | 'u' | 'Y' => {
                let y = if c == 'Y' {
                    l.iso_week().year()
                } else {
                    l.year()
                };
                if n == 2 {
                    pad(&mut s, i64::from(y.rem_euclid(100)), 2);
                } else {
                    pad(&mut s, i64::from(y), n);
                }
            }
            'M' | 'L' => {
                let m = l.month0() as usize;
                match n {
                    1 | 2 => pad(&mut s, m as i64 + 1, n),
                    3 => s.push_str(names.months_short[m]),
                    4 => s.push_str(names.months[m]),
                    _ => s.extend(names.months[m].chars().next()),
                }
            }
            'd' => pad(&mut s, i64::from(l.day()), n),
            'D' => pad(&mut s, i64::from(l.ordinal()), n),
            'Q' | 'q' => {
                let q = i64::from(l.month0() / 3 + 1);
                match n {
                    1 | 2 => pad(&mut s, q, n),
                    3 => s.push_str(&format!("Q{q}")),
                    _ => s.push_str(
                        ["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"]
                            [(q - 1) as usize],
                    ),
                }
            }
            'w' => pad(&mut s, i64::from(l.iso_week().week()), n),
            'E' => {
                let w = l.weekday().num_days_from_monday() as usize;
                match n {
                    1..=3 => s.push_str(names.days_short[w]),
                    4 => s.push_str(names.days[w]),
                    _ => s.extend(names.days[w].chars().next()),
                }
            }
            'e' | 'c' => pad(
                &mut s,
                i64::from(l.weekday().number_from_monday()),
                n.min(2),
            ),
            'a' => s.push_str(names.am_pm[usize::from(l.hour() >= 12)]),
            'H' => pad(&mut s, i64::from(l.hour()), n),
            'k' => pad(
                &mut s,
                i64::from(if l.hour() == 0 { 24 } else { l.hour() }),
                n,
            ),
            'h' => pad(&mut s, i64::from((l.hour() + 11) % 12 + 1), n),
            'K' => pad(&mut s, i64::from(l.hour() % 12), n),
            'm' => pad(&mut s, i64::from(l.minute()), n),
            's' => pad(&mut s, i64::from(l.second()), n),
            'S' => {
                let frac = format!("{:09}", l.nanosecond() % 1_000_000_000);
                let mut f: String = frac.chars().take(n).collect();
                while f.len() < n {
                    f.push('0');
                }
                s.push_str(&f);
            }
            'n' => s.push_str(&(l.nanosecond() % 1_000_000_000).to_string()),
            'A' => s.push_str(
                &(i64::from(l.num_seconds_from_midnight()) * 1000
                    + i64::from(l.nanosecond() / 1_000_000))
                .to_string(),
            ),
            'N' => s.push_str(
                &(i64::from(l.num_seconds_from_midnight()) * 1_000_000_000
                    + i64::from(l.nanosecond() % 1_000_000_000))
                .to_string(),
            ),
            'G' => s.push_str(if l.year() > 0 { "AD" } else { "BC" }),
            'V' => s.push_str(&zone_id(d)),
            'z' | 'v' => s.push_str(&zone_name(d)),
            'O' => s.push_str(&gmt(off)),
            'X' | 'x' => {
                if off == 0 && c == 'X' {
                    s.push('Z');
                } else {
                    s.push_str(&offset_pattern(off, n));
                }
            }
            'Z' => match n {
                1..=3 => s.push_str(&offset_pattern(off, 2)),
                4 => s.push_str(&gmt(off)),
                _ if off == 0 => s.push('Z'),
                _ => s.push_str(&offset_pattern(off, 3)),
            },
            _ => return None,
        }
    }
    Some(s)
}

/// `X`/`x` widths: 1 → `+03` (`+0330` with minutes), 2 → `+0330`, 3 → `+03:30`.
fn offset_pattern(off: i32, n: usize) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    let (h, m) = (a / 3600, a / 60 % 60);
    match n {
        1 if m == 0 => format!("{sign}{h:02}"),
        1 | 2 | 4 => format!("{sign}{h:02}{m:02}"),
        _ => format!("{sign}{h:02}:{m:02}"),
    }
}

fn gmt(off: i32) -> String {
    if off == 0 {
        "GMT".into()
    } else {
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.unsigned_abs();
        format!("GMT{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
    }
}

fn zone_id(d: &Dt) -> String {
    match d.zone {
        Zone::Utc => "Z".into(),
        Zone::Local => String::new(),
        Zone::Fixed(o) => crate::datetime::offset_text(o.local_minus_utc(), true),
        Zone::Named(tz) => tz.name().into(),
    }
}

fn zone_name(d: &Dt) -> String {
    use chrono::offset::TimeZone as _;
    match d.zone {
        Zone::Utc => "Z".into(),
        Zone::Local => String::new(),
        Zone::Fixed(o) => crate::datetime::offset_text(o.local_minus_utc(), true),
        Zone::Named(tz) => {
            let o = tz.offset_from_utc_datetime(&d.instant.naive_utc());
            chrono_tz::OffsetName::abbreviation(&o)
                .map_or_else(|| tz.name().to_string(), str::to_string)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(s: &str) -> Value {
        parse_iso(s).map_or(Value::Null, Dt::to_value)
    }

    fn text(v: R) -> String {
        crate::value::to_text(&v.unwrap_or(Value::Null))
    }

    #[test]
    fn patterns() {
        let v = d("2020-01-01T09:05:03Z");
        let f = |p: &str, l: &str| text(format_date(&[v.clone(), json!(p), json!(l)]));
        assert_eq!(f("EEEE MMMM dd yyyy", ""), "Wednesday January 01 2020");
        assert_eq!(f("EEEE d MMMM yyyy", "fr_FR"), "mercredi 1 janvier 2020");
        assert_eq!(f("EEE, d. MMM yy", "de_DE"), "Mi., 1. Jan. 20");
        assert_eq!(f("h:mm a 'o''clock'", "en"), "9:05 AM o'clock");
        assert_eq!(
            f("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", ""),
            "2020-01-01T09:05:03.000Z"
        );
        assert_eq!(f("{bad}", ""), "2020-01-01T09:05:03Z");
        assert_eq!(f("'unterminated", ""), "2020-01-01T09:05:03Z");
        // Week-based year: 2024-12-30 is in week 1 of 2025.
        let w = d("2024-12-30T00:00Z");
        assert_eq!(text(format_date(&[w, json!("Y-ww y")])), "2025-01 2024");
    }

    #[test]
    fn pattern_parsing() {
        let p = |s: &str, f: &str| parse_with_pattern(s, f).map(|d| d.iso());
        assert_eq!(
            p("2023-01-10 23:13:26", "yyyy-MM-dd HH:mm:ss"),
            Some("2023-01-10T23:13:26Z".into())
        );
        assert_eq!(
            p("10/01/2023", "dd/MM/yyyy"),
            Some("2023-01-10T00:00Z".into())
        );
        assert_eq!(
            p("2023-01-10T23:13:26+0200", "yyyy-MM-dd'T'HH:mm:ssZ"),
            Some("2023-01-10T23:13:26+02:00".into())
        );
        assert_eq!(p("nope", "yyyy"), None);
    }
}
