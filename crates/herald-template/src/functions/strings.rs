//! String functions (spec §5 "String").

use super::{arg, case_sensitive, str_arg};
use serde_json::Value;

pub(super) fn concat(args: &[Value]) -> Result<Value, String> {
    Ok(Value::String(
        args.iter().map(crate::value::to_text).collect(),
    ))
}

pub(super) fn upper_case(args: &[Value]) -> Result<Value, String> {
    Ok(map_str(arg(args, 0), |s| s.to_uppercase()))
}

pub(super) fn lower_case(args: &[Value]) -> Result<Value, String> {
    Ok(map_str(arg(args, 0), |s| s.to_lowercase()))
}

pub(super) fn title_case(args: &[Value]) -> Result<Value, String> {
    Ok(map_str(arg(args, 0), |s| {
        let mut out = String::with_capacity(s.len());
        let mut start = true;
        for c in s.chars() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = c.is_whitespace();
        }
        out
    }))
}

/// Null stays null so a missing value stays "missing" through string functions.
fn map_str(v: &Value, f: impl Fn(&str) -> String) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::String(s) => Value::String(f(s)),
        other => Value::String(f(&crate::value::to_text(other))),
    }
}

/// Characters of a string, or items of an array.
pub(super) fn length(args: &[Value]) -> Result<Value, String> {
    Ok(match arg(args, 0) {
        Value::Null => Value::from(0),
        Value::Array(a) => Value::from(a.len()),
        Value::Object(o) => Value::from(o.len()),
        other => Value::from(crate::value::to_text(other).chars().count()),
    })
}

fn cased(args: &[Value]) -> (String, String) {
    let (s, p) = (str_arg(args, 0), str_arg(args, 1));
    if case_sensitive(args, 2) {
        (s, p)
    } else {
        (s.to_lowercase(), p.to_lowercase())
    }
}

pub(super) fn contains(args: &[Value]) -> Result<Value, String> {
    let (s, p) = cased(args);
    Ok(Value::Bool(s.contains(&p)))
}

pub(super) fn does_not_contain(args: &[Value]) -> Result<Value, String> {
    let (s, p) = cased(args);
    Ok(Value::Bool(!s.contains(&p)))
}

pub(super) fn starts_with(args: &[Value]) -> Result<Value, String> {
    let (s, p) = cased(args);
    Ok(Value::Bool(s.starts_with(&p)))
}

pub(super) fn does_not_start_with(args: &[Value]) -> Result<Value, String> {
    let (s, p) = cased(args);
    Ok(Value::Bool(!s.starts_with(&p)))
}

pub(super) fn ends_with(args: &[Value]) -> Result<Value, String> {
    let (s, p) = cased(args);
    Ok(Value::Bool(s.ends_with(&p)))
}

pub(super) fn does_not_end_with(args: &[Value]) -> Result<Value, String> {
    let (s, p) = cased(args);
    Ok(Value::Bool(!s.ends_with(&p)))
}

pub(super) fn equals(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(crate::value::equals(
        arg(args, 0),
        arg(args, 1),
    )))
}

pub(super) fn not_equal_to(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(!crate::value::equals(
        arg(args, 0),
        arg(args, 1),
    )))
}

pub(super) fn equals_ignore_case(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(
        str_arg(args, 0).to_lowercase() == str_arg(args, 1).to_lowercase(),
    ))
}

pub(super) fn trim(args: &[Value]) -> Result<Value, String> {
    Ok(map_str(arg(args, 0), |s| s.trim().to_string()))
}

pub(super) fn left_trim(args: &[Value]) -> Result<Value, String> {
    Ok(map_str(arg(args, 0), |s| s.trim_start().to_string()))
}

pub(super) fn right_trim(args: &[Value]) -> Result<Value, String> {
    Ok(map_str(arg(args, 0), |s| s.trim_end().to_string()))
}

/// Every literal occurrence (Decision 7).
pub(super) fn replace(args: &[Value]) -> Result<Value, String> {
    let target = str_arg(args, 1);
    let repl = str_arg(args, 2);
    Ok(map_str(arg(args, 0), |s| {
        if target.is_empty() {
            s.to_string()
        } else {
            s.replace(&target, &repl)
        }
    }))
}

/// Character index (not byte), −1 when absent.
pub(super) fn index_of(args: &[Value]) -> Result<Value, String> {
    let (s, p) = (str_arg(args, 0), str_arg(args, 1));
    Ok(Value::from(
        s.find(&p).map_or(-1, |b| s[..b].chars().count() as i64),
    ))
}

pub(super) fn last_index_of(args: &[Value]) -> Result<Value, String> {
    let (s, p) = (str_arg(args, 0), str_arg(args, 1));
    Ok(Value::from(
        s.rfind(&p).map_or(-1, |b| s[..b].chars().count() as i64),
    ))
}

/// `substr(s, begin[, end])`, end exclusive (Decision 7), clamped to the string.
pub(super) fn substr(args: &[Value]) -> Result<Value, String> {
    let s: Vec<char> = str_arg(args, 0).chars().collect();
    let clamp = |v: &Value, dflt: usize| {
        v.as_f64()
            .map_or(dflt, |f| f.max(0.0).min(s.len() as f64) as usize)
    };
    let begin = clamp(arg(args, 1), 0);
    let end = if args.len() > 2 {
        clamp(arg(args, 2), s.len())
    } else {
        s.len()
    };
    Ok(Value::String(if begin < end {
        s[begin..end].iter().collect()
    } else {
        String::new()
    }))
}

pub(super) fn split(args: &[Value]) -> Result<Value, String> {
    let (s, sep) = (str_arg(args, 0), str_arg(args, 1));
    if arg(args, 0).is_null() {
        return Ok(Value::Null);
    }
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep.as_str())
            .map(|p| Value::String(p.to_string()))
            .collect()
    };
    Ok(Value::Array(parts))
}

/// RFC 3986 percent-encoding: only unreserved characters pass (Decision 7).
pub(super) fn url_encode(args: &[Value]) -> Result<Value, String> {
    Ok(map_str(arg(args, 0), |s| {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }))
}

/// Decodes `%XX` (and `+` as space, as form encoding does); invalid input is returned as is.
pub(super) fn url_decode(args: &[Value]) -> Result<Value, String> {
    Ok(map_str(arg(args, 0), |s| {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(v) => {
                            out.push(v);
                            i += 3;
                        }
                        None => {
                            out.push(b'%');
                            i += 1;
                        }
                    }
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap_or_else(|_| s.to_string())
    }))
}

/// Null, "", [] and {} are empty.
pub(super) fn is_empty(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(empty(arg(args, 0))))
}

pub(super) fn is_not_empty(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(!empty(arg(args, 0))))
}

fn empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_encoding() {
        assert_eq!(
            url_encode(&[json!("a b&c/é")]).ok(),
            Some(json!("a%20b%26c%2F%C3%A9"))
        );
        assert_eq!(
            url_decode(&[json!("a%20b%26c%2F%C3%A9")]).ok(),
            Some(json!("a b&c/é"))
        );
        assert_eq!(url_decode(&[json!("100%")]).ok(), Some(json!("100%")));
        assert_eq!(url_decode(&[json!("%zz%4")]).ok(), Some(json!("%zz%4")));
    }

    #[test]
    fn substr_and_index() {
        assert_eq!(
            substr(&[json!("Hello"), json!(0), json!(2)]).ok(),
            Some(json!("He"))
        );
        assert_eq!(
            substr(&[json!("Hello"), json!(3), json!(99)]).ok(),
            Some(json!("lo"))
        );
        assert_eq!(
            index_of(&[json!("hello world"), json!("world")]).ok(),
            Some(json!(6))
        );
        assert_eq!(
            last_index_of(&[json!("hello world"), json!("o")]).ok(),
            Some(json!(7))
        );
    }

    #[test]
    fn case_flags() {
        assert_eq!(
            contains(&[json!("John"), json!("j"), json!(false)]).ok(),
            Some(json!(true))
        );
        assert_eq!(
            contains(&[json!("John"), json!("j")]).ok(),
            Some(json!(false))
        );
        assert_eq!(
            replace(&[json!("a-b-c"), json!("-"), json!("+")]).ok(),
            Some(json!("a+b+c"))
        );
    }
}
