//! Conversions and null tests.

use super::arg;
use crate::value::{float, to_text};
use serde_json::Value;

pub(super) fn is_null(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(arg(args, 0).is_null()))
}

pub(super) fn is_not_null(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(!arg(args, 0).is_null()))
}

pub(super) fn to_string(args: &[Value]) -> Result<Value, String> {
    Ok(Value::String(to_text(arg(args, 0))))
}

/// Truncates numbers, `true` → 1; unparseable input → null (renders empty).
pub(super) fn to_int(args: &[Value]) -> Result<Value, String> {
    let trunc = |f: f64| {
        if f.is_finite() && f.abs() < 9.2e18 {
            Value::from(f.trunc() as i64)
        } else {
            Value::Null
        }
    };
    Ok(match arg(args, 0) {
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| trunc(n.as_f64().unwrap_or(f64::NAN)), Value::from),
        Value::Bool(b) => Value::from(i64::from(*b)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| s.parse::<f64>().map_or(Value::Null, trunc))
        }
        _ => Value::Null,
    })
}

pub(super) fn to_bool(args: &[Value]) -> Result<Value, String> {
    Ok(match arg(args, 0) {
        Value::Bool(b) => Value::Bool(*b),
        Value::String(s) => Value::Bool(s.trim().eq_ignore_ascii_case("true")),
        Value::Number(n) => Value::Bool(n.as_f64().is_some_and(|f| f != 0.0)),
        _ => Value::Bool(false),
    })
}

/// Invalid input returns the same string (spec §5).
pub(super) fn string_to_number(args: &[Value]) -> Result<Value, String> {
    Ok(match arg(args, 0) {
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map_or_else(|| Value::String(s.clone()), float),
        other => other.clone(),
    })
}

pub(super) fn absolute(args: &[Value]) -> Result<Value, String> {
    Ok(match arg(args, 0) {
        Value::Number(n) => match n.as_i64() {
            Some(i) => i
                .checked_abs()
                .map_or_else(|| float((i as f64).abs()), Value::from),
            None => float(n.as_f64().unwrap_or(0.0).abs()),
        },
        _ => Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conversions() {
        assert_eq!(to_int(&[json!(42.6)]).ok(), Some(json!(42)));
        assert_eq!(to_int(&[json!(" 7 ")]).ok(), Some(json!(7)));
        assert_eq!(to_int(&[json!("x")]).ok(), Some(json!(null)));
        assert_eq!(to_string(&[json!(12)]).ok(), Some(json!("12")));
        assert_eq!(string_to_number(&[json!("3.5")]).ok(), Some(json!(3.5)));
        assert_eq!(string_to_number(&[json!("x")]).ok(), Some(json!("x")));
    }
}
