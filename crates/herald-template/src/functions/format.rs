//! Locale-aware formatting. Locales follow Java's CLDR output for the common ones listed;
//! anything else formats as en_US.

use super::{arg, str_arg};
use serde_json::Value;

struct Locale {
    /// The symbol with the no-break space CLDR puts between it and the number.
    symbol: &'static str,
    prefix: bool,
    group: &'static str,
    decimal: &'static str,
    /// Fraction digits of the currency (0 for the yen).
    decimals: usize,
    /// CLDR's minimumGroupingDigits: 2 means `1234,50 €` but `12.345,50 €` (es, pt, pl).
    min_grouping: usize,
    /// Indian grouping: the last three digits, then by two (`12,34,567.00`).
    indian: bool,
}

const fn loc(
    symbol: &'static str,
    prefix: bool,
    group: &'static str,
    decimal: &'static str,
) -> Locale {
    Locale {
        symbol,
        prefix,
        group,
        decimal,
        decimals: 2,
        min_grouping: 1,
        indian: false,
    }
}

/// Java (CLDR) currency formats of common locales.
fn locale(tag: &str) -> Locale {
    const NB: &str = "\u{a0}";
    match tag.replace('-', "_").as_str() {
        "en_GB" => loc("£", true, ",", "."),
        "en_IE" => loc("€", true, ",", "."),
        "en_IN" => Locale {
            indian: true,
            ..loc("₹", true, ",", ".")
        },
        "de_DE" | "de" => loc("\u{a0}€", false, ".", ","),
        "de_CH" => loc("CHF\u{a0}", true, "’", "."),
        "fr_FR" | "fr" => loc("\u{a0}€", false, "\u{202f}", ","),
        "fr_CA" => loc("\u{a0}$", false, NB, ","),
        "es_ES" | "es" => Locale {
            min_grouping: 2,
            ..loc("\u{a0}€", false, ".", ",")
        },
        "it_IT" | "it" => loc("\u{a0}€", false, ".", ","),
        "nl_NL" | "nl" => loc("€\u{a0}", true, ".", ","),
        "pt_BR" => loc("R$\u{a0}", true, ".", ","),
        "pt_PT" | "pt" => Locale {
            min_grouping: 2,
            ..loc("\u{a0}€", false, NB, ",")
        },
        "ja_JP" => Locale {
            decimals: 0,
            ..loc("￥", true, ",", ".")
        },
        "zh_CN" => loc("¥", true, ",", "."),
        "sv_SE" => loc("\u{a0}kr", false, NB, ","),
        "pl_PL" => Locale {
            min_grouping: 2,
            ..loc("\u{a0}zł", false, NB, ",")
        },
        // en_US, en_CA, en_AU, es_MX… and any locale not listed: `$1,234.50`.
        _ => loc("$", true, ",", "."),
    }
}

/// Inserts the group separator into the integer digits.
fn group_digits(digits: &str, loc: &Locale) -> String {
    let d: Vec<char> = digits.chars().collect();
    if d.len() < 4 || (loc.min_grouping == 2 && d.len() < 5) {
        return digits.to_string();
    }
    let mut out = String::new();
    for (i, c) in d.iter().enumerate() {
        let left = d.len() - i;
        let cut = if loc.indian {
            left == 3 || (left > 3 && (left - 3).is_multiple_of(2))
        } else {
            left.is_multiple_of(3)
        };
        if i > 0 && cut {
            out.push_str(loc.group);
        }
        out.push(*c);
    }
    out
}

/// `formatCurrency(56L, "en_GB")` → `£56.00`. Non-numbers → null (renders empty). The
/// minus sign always comes first (CLDR puts it after the symbol for a few locales).
pub(super) fn format_currency(args: &[Value]) -> Result<Value, String> {
    let Some(n) = arg(args, 0).as_f64().filter(|f| f.is_finite()) else {
        return Ok(Value::Null);
    };
    let loc = locale(&str_arg(args, 1));
    let fixed = format!("{:.*}", loc.decimals, n.abs());
    let (int_part, frac) = fixed.split_once('.').unwrap_or((fixed.as_str(), ""));
    let mut number = group_digits(int_part, &loc);
    if !frac.is_empty() {
        number.push_str(loc.decimal);
        number.push_str(frac);
    }
    let sign = if n < 0.0 && fixed.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    Ok(Value::String(if loc.prefix {
        format!("{sign}{}{number}", loc.symbol)
    } else {
        format!("{sign}{number}{}", loc.symbol)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fc(n: Value, l: &str) -> Value {
        format_currency(&[n, json!(l)]).unwrap_or(Value::Null)
    }

    #[test]
    fn currencies() {
        assert_eq!(fc(json!(56), "en_GB"), json!("£56.00"));
        assert_eq!(fc(json!(1234.5), "en_US"), json!("$1,234.50"));
        assert_eq!(fc(json!(-1234567.891), "en_US"), json!("-$1,234,567.89"));
        assert_eq!(fc(json!(1234.5), "de_DE"), json!("1.234,50\u{a0}€"));
        assert_eq!(fc(json!(1234.5), "fr_FR"), json!("1\u{202f}234,50\u{a0}€"));
        assert_eq!(fc(json!("x"), "en_US"), json!(null));
        assert_eq!(fc(json!(1234.5), "es_ES"), json!("1234,50\u{a0}€"));
        assert_eq!(fc(json!(12345.5), "es_ES"), json!("12.345,50\u{a0}€"));
        assert_eq!(fc(json!(1234.5), "nl_NL"), json!("€\u{a0}1.234,50"));
        assert_eq!(fc(json!(1234.5), "pt_BR"), json!("R$\u{a0}1.234,50"));
        assert_eq!(fc(json!(1234.5), "ja_JP"), json!("￥1,234"));
        assert_eq!(fc(json!(1234567), "en_IN"), json!("₹12,34,567.00"));
        assert_eq!(fc(json!(999), "en_IN"), json!("₹999.00"));
        assert_eq!(fc(json!(1234.5), "de_CH"), json!("CHF\u{a0}1’234.50"));
        assert_eq!(fc(json!(1234.5), "sv_SE"), json!("1\u{a0}234,50\u{a0}kr"));
        assert_eq!(fc(json!(-0.001), "en_GB"), json!("£0.00"));
    }
}
