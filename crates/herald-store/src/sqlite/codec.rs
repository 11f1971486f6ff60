//! Conversions between domain values and SQLite columns.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::StoreError;

pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("bad timestamp {ms}")))
}

pub fn opt_time(ms: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(time).transpose()
}

pub fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_string(v)?)
}

pub fn from_json<T: DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    Ok(serde_json::from_str(s)?)
}

/// "(?,?,…),(…)" for `rows` rows of `cols` parameters. Anonymous
/// parameters on purpose: sqlx looks every numbered one up by name
/// (`sqlite3_bind_parameter_name` scans a list), quadratic in a multi-row
/// statement's parameter count.
pub fn placeholders(rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * (cols * 2 + 2));
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            s.push('?');
        }
        s.push(')');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rows_of_anonymous_parameters() {
        assert_eq!(placeholders(2, 3), "(?,?,?),(?,?,?)");
        assert_eq!(placeholders(1, 2), "(?,?)");
    }
}
