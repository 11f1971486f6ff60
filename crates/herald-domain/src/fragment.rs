//! Fragments: reusable named content blocks, included in any content field
//! with `{{fragment id='ajo:<id>'}}` (or `id='<id>'`; single or double
//! quotes; `mode`, `render=false` and field overrides as the reference has
//! them).
//!
//! This module finds the ids a field includes, so activation can pin their
//! versions and review can check them; the template engine renders them in
//! place (`Template::compile_with_fragments`: shared `let` variables, the
//! root scope, `render=false`). One level of nesting is allowed (a fragment
//! may include another fragment, which may not include a third), and at
//! most 30 inclusions per field.

use std::collections::{BTreeMap, HashMap};

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewFragment {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub content: String,
}

/// `PUT /v1/fragments/{id}`: a new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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
    /// The stored fragment's id (`ajo:` and any `/<variant>` removed).
    pub id: String,
    /// The id as written in the tag: the template engine looks it up so.
    pub raw_id: String,
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
        out.push(
            parse_attributes(body, start).map(|(id, raw_id)| FragmentTag {
                start,
                end,
                id,
                raw_id,
            }),
        );
        from = end;
    }
    out
}

/// `id='ajo:…' mode='inline' render=false name=value …` → (stored id, id as
/// written). Only `id` matters here; the other attributes (`mode`,
/// `render`, field overrides) are the template engine's to parse.
fn parse_attributes(body: &str, offset: usize) -> Result<(String, String), FragmentError> {
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
                "`{rest}` in a fragment tag is not a name=value attribute"
            )));
        };
        let name = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let (value, quoted, next) = match after.chars().next() {
            Some(q @ ('\'' | '"')) => {
                let Some(close) = after[1..].find(q) else {
                    return Err(err(format!(
                        "the value of fragment attribute `{name}` is not closed"
                    )));
                };
                (&after[1..1 + close], true, &after[close + 2..])
            }
            _ => {
                let len = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..len], false, &after[len..])
            }
        };
        rest = next.trim_start();
        if name == "id" {
            if !quoted {
                return Err(err(
                    "the fragment id must be quoted: id='ajo:<fragmentId>'".into()
                ));
            }
            let v = value.strip_prefix("ajo:").unwrap_or(value);
            // The reference's `<fragmentId>/<variantId>`: one variant here.
            let v = v.split('/').next().unwrap_or("").trim();
            if v.is_empty() {
                return Err(err("the fragment id is empty".into()));
            }
            id = Some((v.to_string(), value.to_string()));
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

/// The fragment sources `source` needs, keyed as its tags write their ids
/// (one level of nesting included), for
/// [`herald_template::Template::compile_with_fragments`], which renders them
/// in place. Checks what the engine can only find while rendering: unknown
/// ids, nesting deeper than one level, more than 30 inclusions.
pub fn resolve(
    source: &str,
    fragments: &Fragments,
) -> Result<HashMap<String, String>, Vec<FragmentError>> {
    let mut errors = Vec::new();
    let mut sources = HashMap::new();
    let mut inclusions = 0;
    for tag in scan(source) {
        let tag = match tag {
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        inclusions += 1;
        let Some(f) = fragments.get(&tag.id) else {
            errors.push(FragmentError {
                code: "unknown_fragment",
                message: format!("no fragment '{}' exists in this sandbox", tag.id),
                offset: tag.start,
            });
            continue;
        };
        sources.insert(tag.raw_id.clone(), f.content.clone());
        // The fragment's own inclusions: one level, no deeper.
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
            sources.insert(inner.raw_id, g.content.clone());
        }
    }
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
        Ok(sources)
    } else {
        Err(errors)
    }
}

/// Compiles `source` with the fragments it includes.
pub fn compile(
    source: &str,
    fragments: &Fragments,
) -> Result<
    Result<herald_template::Template, Vec<herald_template::TemplateError>>,
    Vec<FragmentError>,
> {
    let sources = resolve(source, fragments)?;
    Ok(herald_template::Template::compile_with_fragments(
        source,
        &HashMap::new(),
        &sources,
    ))
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
            "{{fragment id='f1'",
        ] {
            let r = scan(bad);
            assert!(r.iter().any(|t| t.is_err()), "{bad}: {r:?}");
        }
    }

    #[test]
    fn engine_attributes_are_left_to_the_engine() {
        let src = "{{fragment id='ajo:f1/v2' render=false mode='inline' title=\"Hi\"}}";
        let tags: Vec<_> = scan(src).into_iter().map(Result::unwrap).collect();
        assert_eq!(tags[0].id, "f1");
        assert_eq!(tags[0].raw_id, "ajo:f1/v2");
        assert!(scan("{{fragment id=f1}}")[0].is_err(), "an unquoted id");
    }

    fn render(src: &str, f: &Fragments) -> String {
        compile(src, f)
            .unwrap()
            .unwrap()
            .render(&serde_json::json!({}), herald_template::OutputMode::Text)
            .unwrap()
    }

    #[test]
    fn renders_with_one_level_of_nesting_and_let_flows() {
        let f = frags(&[
            (
                "header",
                "{% let greeting = \"Hi\" %}[{{fragment id='ajo:logo'}}]",
            ),
            ("logo", "LOGO"),
        ]);
        assert_eq!(
            render("{{fragment id='ajo:header'}} {{greeting}}", &f),
            "[LOGO] Hi"
        );
        // render=false keeps only the variables it sets.
        assert_eq!(
            render("{{fragment id='header' render=false}}{{greeting}}", &f),
            "Hi"
        );
    }

    #[test]
    fn unknown_too_deep_and_too_many() {
        let f = frags(&[
            ("a", "A {{fragment id='b'}}"),
            ("b", "B {{fragment id='c'}}"),
            ("c", "C"),
            ("x", "X"),
        ]);
        let e = resolve("{{fragment id='nope'}}", &f).unwrap_err();
        assert_eq!(e[0].code, "unknown_fragment");
        let e = resolve("text {{fragment id='a'}}", &f).unwrap_err();
        assert_eq!(e[0].code, "fragment_nesting_too_deep");
        assert_eq!(e[0].offset, 5);
        assert_eq!(render("{{fragment id='b'}}", &f), "B C");
        let many = "{{fragment id='x'}}".repeat(30);
        assert_eq!(render(&many, &f), "X".repeat(30));
        let too_many = "{{fragment id='x'}}".repeat(31);
        let e = resolve(&too_many, &f).unwrap_err();
        assert_eq!(e[0].code, "too_many_fragments");
        // Nested inclusions count too: 15 × (b + c) = 30 is fine, 16 is not.
        assert!(resolve(&"{{fragment id='b'}}".repeat(15), &f).is_ok());
        assert!(resolve(&"{{fragment id='b'}}".repeat(16), &f).is_err());
    }
}
