//! Fragments: reusable named content blocks, included in any content field
//! with `{{fragment id='ajo:<id>'}}` (or `id='<id>'`; single or double
//! quotes; `mode='inline'` accepted and ignored).
//!
//! Fragments are expanded textually before the field is compiled, so `let`
//! variables flow between a field and its fragments naturally. One level
//! of nesting is allowed (a fragment may include another fragment, which
//! may not include a third), and at most 30 inclusions per field.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;

pub const MAX_INCLUSIONS_PER_FIELD: usize = 30;
pub const MAX_CONTENT_BYTES: usize = 256 * 1024;

/// One version of a fragment as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fragment {
    pub id: String,
    #[serde(skip)]
    pub sandbox: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub version: i64,
    pub content: String,
    /// When version 1 was created.
    pub created_at: DateTime<Utc>,
    /// When this version was created.
    pub updated_at: DateTime<Utc>,
}

/// `POST /v1/fragments`.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewFragment {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub content: String,
}

/// `PUT /v1/fragments/{id}`: a new version.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FragmentUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub content: String,
}

/// The content's template is not checked here: a fragment may be a piece
/// that only parses where it is included. Review checks it in place.
fn validate_fields(name: Option<&str>, content: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(n) = name
        && (n.trim().is_empty() || n.len() > 256)
    {
        errors.push(FieldError::new(
            "/name",
            "invalid_name",
            "name is 1 to 256 characters",
        ));
    }
    if content.len() > MAX_CONTENT_BYTES {
        errors.push(FieldError::new(
            "/content",
            "too_long",
            format!("content is longer than {MAX_CONTENT_BYTES} bytes"),
        ));
    }
    errors
}

impl NewFragment {
    pub fn validate(&self) -> Vec<FieldError> {
        validate_fields(Some(&self.name), &self.content)
    }
}

impl FragmentUpdate {
    pub fn validate(&self) -> Vec<FieldError> {
        validate_fields(self.name.as_deref(), &self.content)
    }
}

/// What a campaign version records of each fragment it uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FragmentSnapshot {
    pub version: i64,
    pub name: String,
    pub content: String,
}

impl From<&Fragment> for FragmentSnapshot {
    fn from(f: &Fragment) -> Self {
        FragmentSnapshot {
            version: f.version,
            name: f.name.clone(),
            content: f.content.clone(),
        }
    }
}

/// Fragments by id.
pub type Fragments = BTreeMap<String, FragmentSnapshot>;

/// A `{{fragment …}}` tag found in a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentTag {
    /// Byte range of the whole tag.
    pub start: usize,
    pub end: usize,
    pub id: String,
}

/// Something wrong with the fragments of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentError {
    pub code: &'static str,
    pub message: String,
    /// Byte offset of the offending tag in the field's source.
    pub offset: usize,
}

/// The `{{fragment …}}` tags of `source`, in order; a tag that does not
/// parse is an error at its offset.
pub fn scan(source: &str) -> Vec<Result<FragmentTag, FragmentError>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = source[from..].find("{{") {
        let start = from + rel;
        let mut i = start + 2;
        let rest = &source[i..];
        let trimmed = rest.trim_start_matches('~').trim_start();
        i += rest.len() - trimmed.len();
        let is_fragment = trimmed.starts_with("fragment")
            && trimmed["fragment".len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_whitespace() || c == '}' || c == '~');
        if !is_fragment {
            from = start + 2;
            continue;
        }
        let Some(close_rel) = source[i..].find("}}") else {
            out.push(Err(FragmentError {
                code: "fragment_syntax",
                message: "`{{fragment` is not closed with `}}`".into(),
                offset: start,
            }));
            break;
        };
        let end = i + close_rel + 2;
        let body = source[i + "fragment".len()..i + close_rel].trim_end_matches('~');
        out.push(parse_attributes(body, start).map(|id| FragmentTag { start, end, id }));
        from = end;
    }
    out
}

/// `id='ajo:…' mode='inline'` → the fragment id.
fn parse_attributes(body: &str, offset: usize) -> Result<String, FragmentError> {
    let err = |message: String| FragmentError {
        code: "fragment_syntax",
        message,
        offset,
    };
    let mut id = None;
    let mut rest = body.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else {
            return Err(err(format!(
                "`{rest}` in a fragment tag is not a name='value' attribute"
            )));
        };
        let name = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next().filter(|c| *c == '\'' || *c == '"');
        let Some(q) = quote else {
            return Err(err(format!(
                "the value of fragment attribute `{name}` must be quoted"
            )));
        };
        let Some(close) = after[1..].find(q) else {
            return Err(err(format!(
                "the value of fragment attribute `{name}` is not closed"
            )));
        };
        let value = &after[1..1 + close];
        rest = after[close + 2..].trim_start();
        match name {
            "id" => {
                let v = value.strip_prefix("ajo:").unwrap_or(value);
                // The reference's `<fragmentId>/<variantId>`: one variant here.
                let v = v.split('/').next().unwrap_or("").trim();
                if v.is_empty() {
                    return Err(err("the fragment id is empty".into()));
                }
                id = Some(v.to_string());
            }
            "mode" => {}
            other => {
                return Err(err(format!(
                    "fragment attribute `{other}` is not supported (only id and mode)"
                )));
            }
        }
    }
    id.ok_or_else(|| err("`{{fragment}}` needs an id='ajo:<fragmentId>' attribute".into()))
}

/// The ids `source` includes directly (tags that parse).
pub fn referenced_ids(source: &str) -> Vec<String> {
    scan(source)
        .into_iter()
        .filter_map(Result::ok)
        .map(|t| t.id)
        .collect()
}

/// `source` with every fragment tag replaced by the fragment's content (one
/// level of nesting), or every problem found.
pub fn expand(source: &str, fragments: &Fragments) -> Result<String, Vec<FragmentError>> {
    let mut errors = Vec::new();
    let mut out = String::with_capacity(source.len());
    let mut last = 0;
    let mut inclusions = 0;
    for tag in scan(source) {
        let tag = match tag {
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        out.push_str(&source[last..tag.start]);
        last = tag.end;
        inclusions += 1;
        let Some(f) = fragments.get(&tag.id) else {
            errors.push(FragmentError {
                code: "unknown_fragment",
                message: format!("no fragment '{}' exists in this sandbox", tag.id),
                offset: tag.start,
            });
            continue;
        };
        // The fragment's own inclusions: one level, no deeper.
        let mut inner_last = 0;
        for inner in scan(&f.content) {
            let inner = match inner {
                Ok(t) => t,
                Err(e) => {
                    errors.push(FragmentError {
                        message: format!("in fragment '{}' ({}): {}", f.name, tag.id, e.message),
                        offset: tag.start,
                        ..e
                    });
                    continue;
                }
            };
            out.push_str(&f.content[inner_last..inner.start]);
            inner_last = inner.end;
            inclusions += 1;
            let Some(g) = fragments.get(&inner.id) else {
                errors.push(FragmentError {
                    code: "unknown_fragment",
                    message: format!(
                        "fragment '{}' ({}) includes '{}', which does not exist in this sandbox",
                        f.name, tag.id, inner.id
                    ),
                    offset: tag.start,
                });
                continue;
            };
            if !scan(&g.content).is_empty() {
                errors.push(FragmentError {
                    code: "fragment_nesting_too_deep",
                    message: format!(
                        "fragment '{}' ({}) includes '{}' ({}), which includes another fragment: only one level of nesting is allowed",
                        f.name, tag.id, g.name, inner.id
                    ),
                    offset: tag.start,
                });
                continue;
            }
            out.push_str(&g.content);
        }
        out.push_str(&f.content[inner_last..]);
    }
    out.push_str(&source[last..]);
    if inclusions > MAX_INCLUSIONS_PER_FIELD {
        errors.push(FragmentError {
            code: "too_many_fragments",
            message: format!(
                "the field includes {inclusions} fragments (nested ones counted); the limit is {MAX_INCLUSIONS_PER_FIELD}"
            ),
            offset: 0,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frags(list: &[(&str, &str)]) -> Fragments {
        list.iter()
            .map(|(id, c)| {
                (
                    id.to_string(),
                    FragmentSnapshot {
                        version: 1,
                        name: format!("{id}-name"),
                        content: c.to_string(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn scans_both_id_forms_quotes_and_mode() {
        let src = "a {{fragment id='ajo:f1'}} b {{ fragment id=\"f2\" mode='inline' }} {{other}} {{fragmentx}}";
        let ids = referenced_ids(src);
        assert_eq!(ids, vec!["f1", "f2"]);
        let tags: Vec<_> = scan(src).into_iter().map(Result::unwrap).collect();
        assert_eq!(&src[tags[0].start..tags[0].end], "{{fragment id='ajo:f1'}}");
    }

    #[test]
    fn malformed_tags_are_errors() {
        for bad in [
            "{{fragment}}",
            "{{fragment id=f1}}",
            "{{fragment id='f1}}",
            "{{fragment id='f1' render='false'}}",
            "{{fragment id='f1'",
        ] {
            let r = scan(bad);
            assert!(r.iter().any(|t| t.is_err()), "{bad}: {r:?}");
        }
    }

    #[test]
    fn expands_with_one_level_of_nesting_and_let_flows() {
        let f = frags(&[
            (
                "header",
                "{% let greeting = \"Hi\" %}[{{fragment id='ajo:logo'}}]",
            ),
            ("logo", "LOGO"),
        ]);
        let out = expand("{{fragment id='ajo:header'}} {{greeting}}", &f).unwrap();
        assert_eq!(out, "{% let greeting = \"Hi\" %}[LOGO] {{greeting}}");
        let t = herald_template::Template::compile(&out).unwrap();
        let r = t
            .render(&serde_json::json!({}), herald_template::OutputMode::Text)
            .unwrap();
        assert_eq!(r, "[LOGO] Hi");
    }

    #[test]
    fn unknown_too_deep_and_too_many() {
        let f = frags(&[
            ("a", "A {{fragment id='b'}}"),
            ("b", "B {{fragment id='c'}}"),
            ("c", "C"),
            ("x", "X"),
        ]);
        let e = expand("{{fragment id='nope'}}", &f).unwrap_err();
        assert_eq!(e[0].code, "unknown_fragment");
        let e = expand("text {{fragment id='a'}}", &f).unwrap_err();
        assert_eq!(e[0].code, "fragment_nesting_too_deep");
        assert_eq!(e[0].offset, 5);
        assert_eq!(expand("{{fragment id='b'}}", &f).unwrap(), "B C");
        let many = "{{fragment id='x'}}".repeat(30);
        assert_eq!(expand(&many, &f).unwrap(), "X".repeat(30));
        let too_many = "{{fragment id='x'}}".repeat(31);
        let e = expand(&too_many, &f).unwrap_err();
        assert_eq!(e[0].code, "too_many_fragments");
        // Nested inclusions count too: 15 × (b + c) = 30 is fine, 16 is not.
        assert!(expand(&"{{fragment id='b'}}".repeat(15), &f).is_ok());
        assert!(expand(&"{{fragment id='b'}}".repeat(16), &f).is_err());
    }
}
