//! Value semantics shared by the renderer and the functions: truthiness, printing,
//! comparison and arithmetic.

use serde_json::{Number, Value};
use std::cmp::Ordering;

/// False for null/missing, `false`, `""`, `0` and `[]` (Handlebars' `#if`; objects,
/// even empty ones, are true as in JavaScript).
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

/// How a value prints: null → "", numbers as JSON prints them (`3`, `1.5`), arrays as
/// their items joined with "," (JavaScript's `Array.toString`, what Handlebars prints),
/// objects as compact JSON.
pub(crate) fn to_text(v: &Value) -> String {
    let mut s = String::new();
    write_text(v, &mut s);
    s
}

pub(crate) fn write_text(v: &Value, out: &mut String) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            use std::fmt::Write as _;
            // Writing into a String cannot fail.
            let _ = write!(out, "{n}");
        }
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_text(item, out);
            }
        }
        Value::Object(_) => match crate::datetime::Dt::from_value(v) {
            Some(d) => out.push_str(&d.iso()),
            None => out.push_str(&v.to_string()),
        },
    }
}

pub(crate) fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// Equality with numbers compared by value (`1 = 1.0`).
pub(crate) fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equals(a, b))
        }
        // Two date-times are equal when they are the same instant, whatever their zones
        // (as `compareDates` and `<`/`>` already compare them).
        (Value::Object(_), Value::Object(_)) => {
            match (
                crate::datetime::Dt::from_value(a),
                crate::datetime::Dt::from_value(b),
            ) {
                (Some(x), Some(y)) => x.instant == y.instant,
                _ => a == b,
            }
        }
        _ => a == b,
    }
}

/// Ordering for `< <= > >=`, min/max: numbers with numbers, strings with strings.
/// Anything else (including null) is unordered, so the comparison is false.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => Some(i.cmp(&j)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Object(_), Value::Object(_)) => {
            let (x, y) = (
                crate::datetime::Dt::from_value(a)?,
                crate::datetime::Dt::from_value(b)?,
            );
            Some(x.instant.cmp(&y.instant))
        }
        _ => None,
    }
}

pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// Numeric arithmetic: integers stay integers while exact (division of integers gives
/// an integer only when it divides evenly), otherwise doubles. Null operands → null.
pub(crate) fn arith(op: Arith, a: &Value, b: &Value) -> Result<Value, String> {
    if let (Value::Number(x), Value::Number(y)) = (a, b) {
        if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
            let r = match op {
                Arith::Add => i.checked_add(j),
                Arith::Sub => i.checked_sub(j),
                Arith::Mul => i.checked_mul(j),
                Arith::Div => {
                    if j == 0 {
                        return Err("division by zero".into());
                    }
                    if i % j == 0 { i.checked_div(j) } else { None }
                }
                Arith::Rem => {
                    if j == 0 {
                        return Err("remainder by zero".into());
                    }
                    i.checked_rem(j)
                }
            };
            if let Some(r) = r {
                return Ok(Value::from(r));
            }
        }
        let (Some(f), Some(g)) = (x.as_f64(), y.as_f64()) else {
            return Ok(Value::Null);
        };
        let r = match op {
            Arith::Add => f + g,
            Arith::Sub => f - g,
            Arith::Mul => f * g,
            Arith::Div if g == 0.0 => return Err("division by zero".into()),
            Arith::Div => f / g,
            Arith::Rem if g == 0.0 => return Err("remainder by zero".into()),
            Arith::Rem => f % g,
        };
        return Ok(float(r));
    }
    Ok(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn printing() {
        assert_eq!(to_text(&json!(3)), "3");
        assert_eq!(to_text(&json!(1.5)), "1.5");
        assert_eq!(to_text(&json!(null)), "");
        assert_eq!(to_text(&json!([1, "a", null])), "1,a,");
        assert_eq!(to_text(&json!({"a": 1})), r#"{"a":1}"#);
    }

    #[test]
    fn arithmetic() {
        assert_eq!(arith(Arith::Div, &json!(6), &json!(3)), Ok(json!(2)));
        assert_eq!(arith(Arith::Div, &json!(7), &json!(2)), Ok(json!(3.5)));
        assert!(arith(Arith::Div, &json!(7), &json!(0)).is_err());
        assert_eq!(
            arith(Arith::Add, &json!(i64::MAX), &json!(1)),
            Ok(json!(9.223372036854776e18))
        );
    }
}
