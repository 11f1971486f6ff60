//! Locale-aware formatting. Locales follow Java's CLDR output for the few supported;
//! anything else formats as en_US.

use super::{arg, str_arg};
use serde_json::Value;

struct Locale {
    symbol: &'static str,
    prefix: bool,
    group: &'static str,
    decimal: &'static str,
}

fn locale(tag: &str) -> Locale {
    match tag.replace('-', "_").as_str() {
        "en_GB" => Locale {
            symbol: "£",
            prefix: true,
            group: ",",
            decimal: ".",
        },
        // Java/CLDR: `1.234,56 €` with a no-break space before the symbol.
        "de_DE" => Locale {
            symbol: "\u{a0}€",
            prefix: false,
            group: ".",
            decimal: ",",
        },
        // Java/CLDR: narrow no-break space groups thousands, no-break space before €.
        "fr_FR" => Locale {
            symbol: "\u{a0}€",
            prefix: false,
            group: "\u{202f}",
            decimal: ",",
        },
        _ => Locale {
            symbol: "$",
            prefix: true,
            group: ",",
            decimal: ".",
        },
    }
}

/// `formatCurrency(56L, "en_GB")` → `£56.00`. Non-numbers → null (renders empty).
pub(super) fn format_currency(args: &[Value]) -> Result<Value, String> {
    let Some(n) = arg(args, 0).as_f64().filter(|f| f.is_finite()) else {
        return Ok(Value::Null);
    };
    let loc = locale(&str_arg(args, 1));
    let fixed = format!("{:.2}", n.abs());
    let (int_part, frac) = fixed.split_once('.').unwrap_or((fixed.as_str(), "00"));
    let mut grouped = String::new();
    let digits: Vec<char> = int_part.chars().collect();
    for (i, d) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push_str(loc.group);
        }
        grouped.push(*d);
    }
    let number = format!("{grouped}{}{frac}", loc.decimal);
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
    }
}
