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

/// A missing subject contains nothing, not even "" (null is false in conditions).
pub(super) fn contains(args: &[Value]) -> Result<Value, String> {
    let (s, p) = cased(args);
    Ok(Value::Bool(!arg(args, 0).is_null() && s.contains(&p)))
}

pub(super) fn does_not_contain(args: &[Value]) -> Result<Value, String> {
    let (s, p) = cased(args);
    Ok(Value::Bool(!s.contains(&p)))
}

pub(super) fn starts_with(args: &[Value]) -> Result<Value, String> {
    let (s, p) = cased(args);
    Ok(Value::Bool(!arg(args, 0).is_null() && s.starts_with(&p)))
}

pub(super) fn does_not_start_with(args: &[Value]) -> Result<Value, String> {
    let (s, p) = cased(args);
    Ok(Value::Bool(!s.starts_with(&p)))
}

pub(super) fn ends_with(args: &[Value]) -> Result<Value, String> {
    let (s, p) = cased(args);
    Ok(Value::Bool(!arg(args, 0).is_null() && s.ends_with(&p)))
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

/// Capitalizes the first letter of each word and leaves the rest as is (the reference
/// documents it as capitalizing each word, unlike `titleCase` which lowercases the rest).
pub(super) fn camel_case(args: &[Value]) -> Result<Value, String> {
    Ok(map_str(arg(args, 0), |s| {
        let mut out = String::with_capacity(s.len());
        let mut start = true;
        for c in s.chars() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            start = c.is_whitespace();
        }
        out
    }))
}

/// The UTF-16 code unit at index i (Java `charAt`); out of range → null.
pub(super) fn char_code_at(args: &[Value]) -> Result<Value, String> {
    if arg(args, 0).is_null() {
        return Ok(Value::Null);
    }
    let s = str_arg(args, 0);
    let i = arg(args, 1).as_i64().and_then(|i| usize::try_from(i).ok());
    Ok(i.and_then(|i| s.encode_utf16().nth(i))
        .map_or(Value::Null, Value::from))
}

pub(super) fn equals_any_ignore_case(args: &[Value]) -> Result<Value, String> {
    if arg(args, 0).is_null() {
        return Ok(Value::Bool(false));
    }
    let s = str_arg(args, 0).to_lowercase();
    Ok(Value::Bool(args[1..].iter().any(|c| {
        !c.is_null() && crate::value::to_text(c).to_lowercase() == s
    })))
}

pub(super) fn not_equal_with_ignore_case(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(
        str_arg(args, 0).to_lowercase() != str_arg(args, 1).to_lowercase(),
    ))
}

pub(super) fn encode64(args: &[Value]) -> Result<Value, String> {
    use base64::Engine as _;
    Ok(map_str(arg(args, 0), |s| {
        base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
    }))
}

/// Input that is not valid Base64 (or not UTF-8 once decoded) is returned unchanged.
pub(super) fn decode64(args: &[Value]) -> Result<Value, String> {
    use base64::Engine as _;
    Ok(map_str(arg(args, 0), |s| {
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| s.to_string())
    }))
}

/// The part after the last `@`; null when there is none.
pub(super) fn extract_email_domain(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0);
    Ok(s.rsplit_once('@')
        .map_or(Value::Null, |(_, d)| Value::String(d.trim().to_string())))
}

fn url_part(args: &[Value], f: impl Fn(&url::Url) -> Option<String>) -> Result<Value, String> {
    let s = str_arg(args, 0);
    Ok(url::Url::parse(s.trim())
        .ok()
        .and_then(|u| f(&u))
        .map_or(Value::Null, Value::String))
}

pub(super) fn get_url_host(args: &[Value]) -> Result<Value, String> {
    url_part(args, |u| u.host_str().map(str::to_string))
}

pub(super) fn get_url_path(args: &[Value]) -> Result<Value, String> {
    url_part(args, |u| Some(u.path().to_string()))
}

/// The real scheme (Decision 7): `https` for an https URL.
pub(super) fn get_url_protocol(args: &[Value]) -> Result<Value, String> {
    url_part(args, |u| Some(u.scheme().to_string()))
}

pub(super) fn get_url_fragment(args: &[Value]) -> Result<Value, String> {
    url_part(args, |u| u.fragment().map(str::to_string))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `appendQueryParams(url, key, value)`: sets `key=value` in the query (replacing an
/// existing `key`), keeping any `#fragment` last. Key and value are percent-encoded.
pub(super) fn append_query_params(args: &[Value]) -> Result<Value, String> {
    if arg(args, 0).is_null() {
        return Ok(Value::Null);
    }
    let url = str_arg(args, 0);
    let key = percent_encode(&str_arg(args, 1));
    let value = percent_encode(&str_arg(args, 2));
    let (rest, fragment) = match url.find('#') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url.as_str(), ""),
    };
    let (base, query) = match rest.find('?') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let mut pairs: Vec<String> = Vec::new();
    let mut replaced = false;
    for p in query.split('&').filter(|p| !p.is_empty()) {
        let k = p.split_once('=').map_or(p, |(k, _)| k);
        if k == key {
            if !replaced {
                pairs.push(format!("{key}={value}"));
                replaced = true;
            }
        } else {
            pairs.push(p.to_string());
        }
    }
    if !replaced {
        pairs.push(format!("{key}={value}"));
    }
    Ok(Value::String(format!(
        "{base}?{}{fragment}",
        pairs.join("&")
    )))
}

thread_local! {
    static REGEX_CACHE: std::cell::RefCell<std::collections::HashMap<String, regex::Regex>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Compiles (and caches) a regex; Java's syntax is close to the `regex` crate's for the
/// common cases (no look-around or back-references).
fn regex(pattern: &str) -> Result<regex::Regex, String> {
    if let Some(r) = REGEX_CACHE.with(|c| c.borrow().get(pattern).cloned()) {
        return Ok(r);
    }
    let r = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid regular expression `{pattern}`: {e}"))?;
    REGEX_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 256 {
            c.clear();
        }
        c.insert(pattern.to_string(), r.clone());
    });
    Ok(r)
}

/// `like(s, pattern)`: `%` matches any run of characters, `_` exactly one; the whole
/// string must match, case-sensitively.
pub(super) fn like(args: &[Value]) -> Result<Value, String> {
    if arg(args, 0).is_null() {
        return Ok(Value::Bool(false));
    }
    let mut re = String::from("(?s)^");
    for c in str_arg(args, 1).chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Ok(Value::Bool(regex(&re)?.is_match(&str_arg(args, 0))))
}

/// True when the regex matches somewhere in the string (the reference's
/// `matches("John Doe", "(?i)^john")` is true, so this is a search, not a full match).
pub(super) fn matches(args: &[Value]) -> Result<Value, String> {
    if arg(args, 0).is_null() {
        return Ok(Value::Bool(false));
    }
    Ok(Value::Bool(
        regex(&str_arg(args, 1))?.is_match(&str_arg(args, 0)),
    ))
}

/// Group `n` of the first match; null when there is no match or no such group.
pub(super) fn regex_group(args: &[Value]) -> Result<Value, String> {
    if arg(args, 0).is_null() {
        return Ok(Value::Null);
    }
    let re = regex(&str_arg(args, 1))?;
    let s = str_arg(args, 0);
    let n = arg(args, 2)
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    Ok(re
        .captures(&s)
        .and_then(|c| c.get(n))
        .map_or(Value::Null, |m| Value::String(m.as_str().to_string())))
}

/// Java replacement syntax (`$1`, `${name}`, `\$` for a literal dollar) → the regex
/// crate's (`${1}`, `${name}`, `$$`).
fn java_replacement(r: &str) -> String {
    let chars: Vec<char> = r.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                if chars[i + 1] == '$' {
                    out.push_str("$$");
                } else {
                    out.push(chars[i + 1]);
                }
                i += 2;
            }
            '$' if chars.get(i + 1).is_some_and(char::is_ascii_digit) => {
                let mut j = i + 1;
                while chars.get(j).is_some_and(char::is_ascii_digit) {
                    j += 1;
                }
                out.push_str("${");
                out.extend(&chars[i + 1..j]);
                out.push('}');
                i = j;
            }
            '$' if chars.get(i + 1) == Some(&'{') => {
                let end = chars[i..].iter().position(|c| *c == '}').map(|p| i + p);
                match end {
                    Some(e) => {
                        out.extend(&chars[i..=e]);
                        i = e + 1;
                    }
                    None => {
                        out.push_str("$$");
                        i += 1;
                    }
                }
            }
            '$' => {
                out.push_str("$$");
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Every non-overlapping match, left to right (`("aaa","aa","b")` → `ba`).
pub(super) fn replace_all(args: &[Value]) -> Result<Value, String> {
    if arg(args, 0).is_null() {
        return Ok(Value::Null);
    }
    let re = regex(&str_arg(args, 1))?;
    let repl = java_replacement(&str_arg(args, 2));
    Ok(Value::String(
        re.replace_all(&str_arg(args, 0), repl.as_str())
            .into_owned(),
    ))
}

/// `mask(s, keepStart, keepEnd)`: every other character becomes `X`.
pub(super) fn mask(args: &[Value]) -> Result<Value, String> {
    let n = |i: usize| {
        arg(args, i)
            .as_f64()
            .map_or(0, |f| f.max(0.0).min(usize::MAX as f64) as usize)
    };
    let (start, end) = (n(1), n(2));
    Ok(map_str(arg(args, 0), |s| {
        let chars: Vec<char> = s.chars().collect();
        let len = chars.len();
        chars
            .iter()
            .enumerate()
            .map(|(i, c)| if i < start || i + end >= len { *c } else { 'X' })
            .collect()
    }))
}

pub(super) fn md5(args: &[Value]) -> Result<Value, String> {
    use md5::Digest as _;
    Ok(map_str(arg(args, 0), |s| {
        hex::encode(md5::Md5::digest(s.as_bytes()))
    }))
}

pub(super) fn sha256(args: &[Value]) -> Result<Value, String> {
    use sha2::Digest as _;
    Ok(map_str(arg(args, 0), |s| {
        hex::encode(sha2::Sha256::digest(s.as_bytes()))
    }))
}

/// `ampSubstr(s, start, length)`: AMPscript-style, by length (0-based start).
pub(super) fn amp_substr(args: &[Value]) -> Result<Value, String> {
    if arg(args, 0).is_null() {
        return Ok(Value::Null);
    }
    let s: Vec<char> = str_arg(args, 0).chars().collect();
    let begin = arg(args, 1)
        .as_f64()
        .map_or(0, |f| f.max(0.0).min(s.len() as f64) as usize);
    let len = arg(args, 2)
        .as_f64()
        .map_or(s.len(), |f| f.max(0.0).min(s.len() as f64) as usize);
    let end = (begin + len).min(s.len());
    Ok(Value::String(s[begin..end].iter().collect()))
}

/// Java `String.compareTo`: the difference of the first differing UTF-16 units, else of
/// the lengths.
pub(super) fn compare_to(args: &[Value]) -> Result<Value, String> {
    let (a, b) = (str_arg(args, 0), str_arg(args, 1));
    let (a, b): (Vec<u16>, Vec<u16>) = (a.encode_utf16().collect(), b.encode_utf16().collect());
    let d = a
        .iter()
        .zip(&b)
        .find(|(x, y)| x != y)
        .map_or(a.len() as i64 - b.len() as i64, |(x, y)| {
            i64::from(*x) - i64::from(*y)
        });
    Ok(Value::from(d))
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
