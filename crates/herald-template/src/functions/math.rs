//! Math functions (spec §5 "Math") other than the conversions.

use super::{arg, str_arg};
use crate::value::float;
use serde_json::Value;

type R = Result<Value, String>;

fn number(args: &[Value], i: usize) -> Option<f64> {
    arg(args, i).as_f64().filter(|f| f.is_finite())
}

/// `random()`: a double in [0, 1).
pub(super) fn random(_: &[Value]) -> R {
    Ok(float(rand::random::<f64>()))
}

/// Always a double: `roundDown(4.7)` → `4.0`.
pub(super) fn round_down(args: &[Value]) -> R {
    Ok(number(args, 0).map_or(Value::Null, |f| float(f.floor())))
}

pub(super) fn round_up(args: &[Value]) -> R {
    Ok(number(args, 0).map_or(Value::Null, |f| float(f.ceil())))
}

/// Java `Long.toHexString`: negative numbers in two's complement.
pub(super) fn to_hex_string(args: &[Value]) -> R {
    let v = arg(args, 0);
    let i = v
        .as_i64()
        .or_else(|| number(args, 0).map(|f| f.trunc() as i64));
    Ok(i.map_or(Value::Null, |i| Value::String(format!("{:x}", i as u64))))
}

/// `toPercentage(0.25)` → `25%`: the value × 100 with up to two decimals (trailing
/// zeros dropped).
pub(super) fn to_percentage(args: &[Value]) -> R {
    Ok(number(args, 0).map_or(Value::Null, |f| {
        Value::String(format!("{}%", trim_zeros(&format!("{:.2}", f * 100.0))))
    }))
}

/// `toPrecision(3.14159, 2)` → `"3.14"`: rounded (half away from zero) to that many
/// decimals, always printing them.
pub(super) fn to_precision(args: &[Value]) -> R {
    let Some(f) = number(args, 0) else {
        return Ok(Value::Null);
    };
    let digits = arg(args, 1).as_u64().unwrap_or(0).min(15) as usize;
    let scale = 10f64.powi(digits as i32);
    let rounded = (f * scale).round() / scale;
    Ok(Value::String(format!("{rounded:.digits$}")))
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

struct NumLocale {
    group: &'static str,
    decimal: &'static str,
    /// The zero digit; others follow it in Unicode order.
    zero: char,
}

fn num_locale(tag: &str) -> NumLocale {
    let tag = tag.replace('-', "_");
    let lang = tag.split('_').next().unwrap_or("").to_ascii_lowercase();
    let latin = |group, decimal| NumLocale {
        group,
        decimal,
        zero: '0',
    };
    match (lang.as_str(), tag.as_str()) {
        (_, "de_CH") => latin("’", "."),
        ("de" | "es" | "it" | "nl" | "pt" | "id" | "da" | "tr", _) => latin(".", ","),
        ("fr", _) => latin("\u{202f}", ","),
        ("ru" | "pl" | "cs" | "sv" | "fi" | "nb" | "uk", _) => latin("\u{a0}", ","),
        ("ar", _) if !matches!(tag.as_str(), "ar_MA" | "ar_DZ" | "ar_TN" | "ar_LY") => NumLocale {
            group: "\u{66c}",
            decimal: "\u{66b}",
            zero: '\u{660}',
        },
        ("fa", _) => NumLocale {
            group: "\u{66c}",
            decimal: "\u{66b}",
            zero: '\u{6f0}',
        },
        ("hi" | "bn" | "mr", _) => latin(",", "."),
        _ => latin(",", "."),
    }
}

/// `formatNumber(num, locale)`: Java `NumberFormat.getInstance(locale)`: grouping, at
/// most three decimals, the locale's separators and digits (`ar_EG` → Arabic-Indic).
pub(super) fn format_number(args: &[Value]) -> R {
    let Some(f) = number(args, 0) else {
        return Ok(Value::Null);
    };
    let loc = num_locale(&str_arg(args, 1));
    let fixed = match arg(args, 0).as_i64() {
        Some(i) => i.unsigned_abs().to_string(),
        None => trim_zeros(&format!("{:.3}", f.abs())),
    };
    let (int_part, frac) = fixed.split_once('.').unwrap_or((fixed.as_str(), ""));
    let digits: Vec<char> = int_part.chars().collect();
    let mut s = String::new();
    if f < 0.0 && fixed.chars().any(|c| c.is_ascii_digit() && c != '0') {
        s.push('-');
    }
    for (i, d) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            s.push_str(loc.group);
        }
        s.push(*d);
    }
    if !frac.is_empty() {
        s.push_str(loc.decimal);
        s.push_str(frac);
    }
    let s: String = s
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) if c.is_ascii_digit() => char::from_u32(loc.zero as u32 + d).unwrap_or(c),
            _ => c,
        })
        .collect();
    Ok(Value::String(s))
}
