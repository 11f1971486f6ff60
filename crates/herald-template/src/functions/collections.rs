//! Aggregation, array and map functions (spec §5 "Aggregation", "Arrays", "Maps").

use super::{arg, str_arg};
use crate::value::{compare, equals, float, to_text};
use serde_json::Value;

/// Scalars count as a one-item list so `sum(x)` of a single projected value works.
fn items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

pub(super) fn join(args: &[Value]) -> Result<Value, String> {
    let sep = str_arg(args, 1);
    let parts: Vec<String> = items(arg(args, 0)).into_iter().map(to_text).collect();
    Ok(Value::String(parts.join(&sep)))
}

/// Number of non-null elements (as PQL's `count`).
pub(super) fn count(args: &[Value]) -> Result<Value, String> {
    Ok(Value::from(
        items(arg(args, 0))
            .into_iter()
            .filter(|v| !v.is_null())
            .count(),
    ))
}

/// Sum of the numeric elements; stays an integer while every addend is one.
pub(super) fn sum(args: &[Value]) -> Result<Value, String> {
    let mut int: Option<i64> = Some(0);
    let mut f = 0.0;
    for v in items(arg(args, 0)) {
        let Value::Number(n) = v else { continue };
        int = match (int, n.as_i64()) {
            (Some(acc), Some(i)) => acc.checked_add(i),
            _ => None,
        };
        f += n.as_f64().unwrap_or(0.0);
    }
    Ok(int.map_or_else(|| float(f), Value::from))
}

pub(super) fn average(args: &[Value]) -> Result<Value, String> {
    let nums: Vec<f64> = items(arg(args, 0))
        .into_iter()
        .filter_map(Value::as_f64)
        .collect();
    if nums.is_empty() {
        return Ok(Value::Null);
    }
    Ok(float(nums.iter().sum::<f64>() / nums.len() as f64))
}

fn extreme(args: &[Value], want: std::cmp::Ordering) -> Value {
    let mut best: Option<&Value> = None;
    for v in items(arg(args, 0)) {
        if v.is_null() {
            continue;
        }
        best = match best {
            None => Some(v),
            Some(b) if compare(v, b) == Some(want) => Some(v),
            keep => keep,
        };
    }
    best.cloned().unwrap_or(Value::Null)
}

pub(super) fn min(args: &[Value]) -> Result<Value, String> {
    Ok(extreme(args, std::cmp::Ordering::Less))
}

pub(super) fn max(args: &[Value]) -> Result<Value, String> {
    Ok(extreme(args, std::cmp::Ordering::Greater))
}

pub(super) fn head(args: &[Value]) -> Result<Value, String> {
    Ok(items(arg(args, 0))
        .first()
        .map_or(Value::Null, |v| (*v).clone()))
}

pub(super) fn distinct(args: &[Value]) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for v in items(arg(args, 0)) {
        if !out.iter().any(|o| equals(o, v)) {
            out.push(v.clone());
        }
    }
    Ok(Value::Array(out))
}

pub(super) fn in_(args: &[Value]) -> Result<Value, String> {
    let x = arg(args, 0);
    Ok(Value::Bool(
        items(arg(args, 1)).into_iter().any(|v| equals(v, x)),
    ))
}

/// False when either side is null, so it is not simply `!in` (spec §5).
pub(super) fn not_in(args: &[Value]) -> Result<Value, String> {
    let (x, list) = (arg(args, 0), arg(args, 1));
    if x.is_null() || list.is_null() {
        return Ok(Value::Bool(false));
    }
    Ok(Value::Bool(!items(list).into_iter().any(|v| equals(v, x))))
}

pub(super) fn includes(args: &[Value]) -> Result<Value, String> {
    let x = arg(args, 1);
    Ok(Value::Bool(
        items(arg(args, 0)).into_iter().any(|v| equals(v, x)),
    ))
}

/// `get(map, key)`; on an array the key is an index.
pub(super) fn get(args: &[Value]) -> Result<Value, String> {
    let key = arg(args, 1);
    Ok(match arg(args, 0) {
        Value::Object(m) => m.get(&to_text(key)).cloned().unwrap_or(Value::Null),
        Value::Array(a) => key
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| a.get(i))
            .cloned()
            .unwrap_or(Value::Null),
        _ => Value::Null,
    })
}

pub(super) fn keys(args: &[Value]) -> Result<Value, String> {
    Ok(match arg(args, 0) {
        Value::Object(m) => Value::Array(m.keys().map(|k| Value::String(k.clone())).collect()),
        _ => Value::Array(Vec::new()),
    })
}

pub(super) fn values(args: &[Value]) -> Result<Value, String> {
    Ok(match arg(args, 0) {
        Value::Object(m) => Value::Array(m.values().cloned().collect()),
        _ => Value::Array(Vec::new()),
    })
}

/// Number of null elements (Decision 7).
pub(super) fn count_only_null(args: &[Value]) -> Result<Value, String> {
    Ok(Value::from(match arg(args, 0) {
        Value::Array(a) => a.iter().filter(|v| v.is_null()).count(),
        _ => 0,
    }))
}

/// Number of elements, nulls included.
pub(super) fn count_with_null(args: &[Value]) -> Result<Value, String> {
    Ok(Value::from(match arg(args, 0) {
        Value::Array(a) => a.len(),
        Value::Null => 0,
        _ => 1,
    }))
}

/// Number of distinct elements, null counting as one value.
pub(super) fn distinct_count_with_null(args: &[Value]) -> Result<Value, String> {
    let list = match arg(args, 0) {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let mut seen: Vec<&Value> = Vec::new();
    for v in list {
        if !seen.iter().any(|o| equals(o, v)) {
            seen.push(v);
        }
    }
    Ok(Value::from(seen.len()))
}

/// `topN`/`bottomN`: the renderer passes `(list, keys, n)` where `keys[i]` is the field
/// evaluated on `list[i]`. Items whose key is null or not comparable go last; ties keep
/// their order.
fn ranked(args: &[Value], descending: bool) -> Result<Value, String> {
    let Value::Array(list) = arg(args, 0) else {
        return Ok(Value::Array(Vec::new()));
    };
    let keys: &[Value] = match arg(args, 1) {
        Value::Array(k) => k,
        _ => &[],
    };
    let n = arg(args, 2)
        .as_f64()
        .map_or(0, |f| f.max(0.0).min(list.len() as f64) as usize);
    let mut idx: Vec<usize> = (0..list.len()).collect();
    let key = |i: usize| keys.get(i).filter(|k| !k.is_null());
    idx.sort_by(|&a, &b| match (key(a), key(b)) {
        (Some(x), Some(y)) => {
            let o = compare(x, y).unwrap_or(std::cmp::Ordering::Equal);
            if descending { o.reverse() } else { o }
        }
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    Ok(Value::Array(
        idx.into_iter().take(n).map(|i| list[i].clone()).collect(),
    ))
}

/// The n highest by the field, descending (Decision 7).
pub(super) fn top_n(args: &[Value]) -> Result<Value, String> {
    ranked(args, true)
}

/// The n lowest by the field, ascending (Decision 7).
pub(super) fn bottom_n(args: &[Value]) -> Result<Value, String> {
    ranked(args, false)
}

fn contains_all(big: &Value, small: &Value) -> bool {
    let big = items(big);
    items(small)
        .into_iter()
        .all(|v| big.iter().any(|b| equals(b, v)))
}

/// True when the two lists share at least one element.
pub(super) fn intersects(args: &[Value]) -> Result<Value, String> {
    let b = items(arg(args, 1));
    Ok(Value::Bool(
        items(arg(args, 0))
            .into_iter()
            .any(|v| b.iter().any(|x| equals(x, v))),
    ))
}

/// Every element of the first list is in the second (the empty list is a subset).
pub(super) fn subset_of(args: &[Value]) -> Result<Value, String> {
    if arg(args, 0).is_null() || arg(args, 1).is_null() {
        return Ok(Value::Bool(false));
    }
    Ok(Value::Bool(contains_all(arg(args, 1), arg(args, 0))))
}

pub(super) fn superset_of(args: &[Value]) -> Result<Value, String> {
    if arg(args, 0).is_null() || arg(args, 1).is_null() {
        return Ok(Value::Bool(false));
    }
    Ok(Value::Bool(contains_all(arg(args, 0), arg(args, 1))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aggregates() {
        assert_eq!(sum(&[json!([1, 2, 3])]).ok(), Some(json!(6)));
        assert_eq!(sum(&[json!([1, 2.5])]).ok(), Some(json!(3.5)));
        assert_eq!(average(&[json!([1, 2])]).ok(), Some(json!(1.5)));
        assert_eq!(min(&[json!([3, null, 1, 2])]).ok(), Some(json!(1)));
        assert_eq!(max(&[json!(["b", "c", "a"])]).ok(), Some(json!("c")));
        assert_eq!(count(&[json!([1, null, 2])]).ok(), Some(json!(2)));
        assert_eq!(head(&[json!([5, 6])]).ok(), Some(json!(5)));
        assert_eq!(
            join(&[json!(["red", "green"]), json!(",")]).ok(),
            Some(json!("red,green"))
        );
        assert_eq!(not_in(&[json!(null), json!([1])]).ok(), Some(json!(false)));
    }
}
