//! Audiences: who a marketing campaign is sent to. A rule audience is an
//! expression of the personalization dialect over profile attributes
//! (`profile.homeAddress.city = "Paris" and profile.loyalty.tier in
//! ["gold","platinum"]`); a static audience is an uploaded list of
//! identities.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use herald_template::{OutputMode, Template};

use crate::error::FieldError;
use crate::profile::Identity;

/// Longest rule text accepted.
pub const MAX_RULE_LEN: usize = 16 * 1024;
/// Identities one static-audience request may carry (more go in further
/// `POST /v1/audiences/{id}/members` calls).
pub const MAX_STATIC_IDENTITIES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AudienceKind {
    Rule,
    Static,
}

impl AudienceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AudienceKind::Rule => "rule",
            AudienceKind::Static => "static",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rule" => Some(AudienceKind::Rule),
            "static" => Some(AudienceKind::Static),
            _ => None,
        }
    }
}

/// A stored audience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Audience {
    pub id: String,
    #[serde(skip)]
    pub sandbox: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub kind: AudienceKind,
    /// The expression of a rule audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Members of a static audience (filled in by the store on reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /v1/audiences`: `{name, rule}` or `{name, identities}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAudience {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities: Option<Vec<Identity>>,
}

impl NewAudience {
    pub fn kind(&self) -> AudienceKind {
        if self.rule.is_some() {
            AudienceKind::Rule
        } else {
            AudienceKind::Static
        }
    }

    /// Every problem with the body, each at its pointer.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() || self.name.len() > 256 {
            errors.push(FieldError::new(
                "/name",
                "required",
                "name must be 1 to 256 characters",
            ));
        }
        match (&self.rule, &self.identities) {
            (Some(_), Some(_)) => errors.push(FieldError::new(
                "/identities",
                "rule_and_identities",
                "an audience is either a rule or a list of identities, not both",
            )),
            (None, None) => errors.push(FieldError::new(
                "/rule",
                "required",
                "give a rule (an expression over profile attributes) or a list of identities",
            )),
            (Some(rule), None) => {
                if let Err(e) = AudienceRule::compile(rule) {
                    errors.extend(e);
                }
            }
            (None, Some(ids)) => errors.extend(validate_identities(ids, "/identities")),
        }
        errors
    }
}

/// Shape checks of uploaded identities (normalization is the identity
/// module's; the caller applies it).
pub fn validate_identities(ids: &[Identity], at: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if ids.len() > MAX_STATIC_IDENTITIES {
        errors.push(FieldError::new(
            at,
            "too_many_identities",
            format!(
                "one request takes at most {MAX_STATIC_IDENTITIES} identities; add more with POST /v1/audiences/{{id}}/members"
            ),
        ));
        return errors;
    }
    for (i, ident) in ids.iter().enumerate() {
        if ident.namespace.trim().is_empty() {
            errors.push(FieldError::new(
                format!("{at}/{i}/namespace"),
                "required",
                "namespace must not be empty",
            ));
        }
        if ident.id.trim().is_empty() || ident.id.len() > 512 {
            errors.push(FieldError::new(
                format!("{at}/{i}/id"),
                "invalid_identity",
                "an identity must be 1 to 512 characters",
            ));
        }
    }
    errors
}

/// Render data for a rule: `{"profile": attributes}`.
pub fn profile_data(attributes: Value) -> Value {
    Value::Object(serde_json::Map::from_iter([(
        "profile".to_string(),
        attributes,
    )]))
}

/// A compiled rule: evaluates to membership for one profile's attributes.
#[derive(Debug, Clone)]
pub struct AudienceRule {
    template: Template,
}

impl AudienceRule {
    /// Compiles `rule`; errors point at `/rule` and say where in it.
    pub fn compile(rule: &str) -> Result<AudienceRule, Vec<FieldError>> {
        let fail = |code: &str, msg: String| Err(vec![FieldError::new("/rule", code, msg)]);
        if rule.trim().is_empty() {
            return fail("required", "the rule must not be empty".into());
        }
        if rule.len() > MAX_RULE_LEN {
            return fail(
                "too_long",
                format!("a rule is at most {MAX_RULE_LEN} bytes"),
            );
        }
        // The rule is one expression: tag delimiters would close the
        // `{%#if%}` it is wrapped in and inject template text.
        if ["{%", "%}", "{{", "}}"].iter().any(|d| rule.contains(d)) {
            return fail(
                "invalid_rule",
                "a rule is one expression, without {{ }} or {% %} tags".into(),
            );
        }
        let template =
            Template::compile(&format!("{{%#if {rule} %}}1{{%/if%}}")).map_err(|es| {
                es.into_iter()
                    .map(|e| {
                        FieldError::new(
                            "/rule",
                            "invalid_rule",
                            // The wrapper adds 6 characters before the rule.
                            format!(
                                "{} (line {}, column {})",
                                e.message,
                                e.line,
                                if e.line == 1 {
                                    e.column.saturating_sub(6).max(1)
                                } else {
                                    e.column
                                }
                            ),
                        )
                    })
                    .collect::<Vec<_>>()
            })?;
        let foreign: Vec<String> = template
            .variables()
            .into_iter()
            .filter(|p| !p.starts_with("profile."))
            .collect();
        if !foreign.is_empty() {
            return fail(
                "invalid_rule",
                format!(
                    "a rule reads only profile attributes (profile.…); it reads {}",
                    foreign.join(", ")
                ),
            );
        }
        Ok(AudienceRule { template })
    }

    /// Whether the profile of render data `{"profile": …}` is in the
    /// audience. A rule that cannot be evaluated for this profile (e.g. a
    /// work limit) does not match it.
    pub fn matches(&self, data: &Value) -> bool {
        matches!(
            self.template.render(data, OutputMode::Text).as_deref(),
            Ok("1")
        )
    }

    /// [`Self::matches`] for bare attributes.
    pub fn matches_attributes(&self, attributes: Value) -> bool {
        self.matches(&profile_data(attributes))
    }

    pub fn source(&self) -> &str {
        self.template.source()
    }

    /// The attribute paths the rule reads, for [`projection::Paths::parse`];
    /// `None` when the rule reads something a projection could miss.
    pub fn projection(&self) -> Option<projection::Paths> {
        projection::Paths::from_variables(self.template.variables().iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(s: &str) -> AudienceRule {
        AudienceRule::compile(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    #[test]
    fn each_operator() {
        let p = json!({
            "homeAddress": {"city": "Paris"},
            "loyalty": {"tier": "gold", "points": 1200},
            "tags": ["vip"],
            "consents": {"marketing": {"email": {"val": "y"}}}
        });
        let cases = [
            (r#"profile.homeAddress.city = "Paris""#, true),
            (r#"profile.homeAddress.city != "Paris""#, false),
            (r#"profile.loyalty.points > 1000"#, true),
            (r#"profile.loyalty.points >= 1200"#, true),
            (r#"profile.loyalty.points < 1200"#, false),
            (r#"profile.loyalty.points <= 1199"#, false),
            (r#"profile.loyalty.tier in ["gold","platinum"]"#, true),
            (r#"profile.loyalty.tier notIn ["gold","platinum"]"#, false),
            (
                r#"profile.homeAddress.city = "Paris" and profile.loyalty.tier in ["gold","platinum"]"#,
                true,
            ),
            (
                r#"profile.homeAddress.city = "Lyon" or profile.loyalty.points > 5"#,
                true,
            ),
            (r#"not (profile.homeAddress.city = "Paris")"#, false),
            (r#"profile.missing.attribute = "x""#, false),
            (r#"contains(profile.homeAddress.city, "ar")"#, true),
            (r#"startsWith(profile.homeAddress.city, "Pa")"#, true),
            (r#"profile.consents.marketing.email.val = "y""#, true),
        ];
        let text = p.to_string();
        for (src, expected) in cases {
            let r = rule(src);
            assert_eq!(r.matches_attributes(p.clone()), expected, "{src}");
            // The projection the estimate parses with gives the same answer.
            let paths = r
                .projection()
                .unwrap_or_else(|| panic!("{src}: no projection"));
            let projected = paths.parse(&text).unwrap();
            assert_eq!(
                r.matches_attributes(projected),
                expected,
                "{src} (projected)"
            );
        }
    }

    #[test]
    fn bad_rules_point_at_rule() {
        for bad in [
            "",
            "profile.a = ",
            "profile.a = 1 %}{{x}}{%#if true",
            "context.x = 1",
        ] {
            let e = AudienceRule::compile(bad).expect_err(bad);
            assert!(e.iter().all(|e| e.pointer == "/rule"), "{bad}: {e:?}");
        }
    }

    #[test]
    fn body_validation() {
        let both = NewAudience {
            name: "x".into(),
            description: String::new(),
            rule: Some("profile.a = 1".into()),
            identities: Some(vec![]),
        };
        assert_eq!(both.validate()[0].pointer, "/identities");
        let bad_ident = NewAudience {
            name: "".into(),
            description: String::new(),
            rule: None,
            identities: Some(vec![Identity {
                namespace: "email".into(),
                id: " ".into(),
            }]),
        };
        let ptrs: Vec<_> = bad_ident
            .validate()
            .into_iter()
            .map(|e| e.pointer)
            .collect();
        assert_eq!(ptrs, ["/name", "/identities/0/id"]);
    }
}

/// Parses only the parts of a profile's attributes a rule reads: every
/// other member is skipped without being built, which is most of the cost
/// of reading a profile when estimating an audience over millions.
pub mod projection {
    use std::collections::BTreeMap;
    use std::fmt;

    use serde::Deserializer;
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
    use serde_json::{Map, Value};

    /// A trie of attribute paths; a leaf keeps its whole subtree.
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Paths {
        children: BTreeMap<String, Paths>,
        leaf: bool,
    }

    impl Paths {
        /// From `profile.…` paths; `None` when one of them cannot be
        /// projected safely (then the caller parses everything).
        pub fn from_variables<'a>(vars: impl IntoIterator<Item = &'a String>) -> Option<Paths> {
            let mut root = Paths::default();
            for v in vars {
                let rest = v.strip_prefix("profile.")?;
                let mut node = &mut root;
                for seg in rest.split('.') {
                    if seg.is_empty()
                        || !seg
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '$')
                    {
                        return None;
                    }
                    node = node.children.entry(seg.to_string()).or_default();
                }
                node.leaf = true;
            }
            Some(root)
        }

        /// The attributes in `json`, with only the projected members.
        pub fn parse(&self, json: &str) -> Result<Value, serde_json::Error> {
            let mut de = serde_json::Deserializer::from_str(json);
            let v = Seed(self).deserialize(&mut de)?;
            de.end()?;
            Ok(v)
        }
    }

    struct Seed<'a>(&'a Paths);

    impl<'de> DeserializeSeed<'de> for Seed<'_> {
        type Value = Value;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            if self.0.leaf {
                return serde::Deserialize::deserialize(d);
            }
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Seed<'_> {
        type Value = Value;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match self.0.children.get(key.as_ref()) {
                    Some(child) => {
                        let v = map.next_value_seed(Seed(child))?;
                        out.insert(key.into_owned(), v);
                    }
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(Value::Object(out))
        }
        // Anything that is not an object where the rule reads deeper is
        // as good as absent for the paths below it.
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Value::Null)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_str<E>(self, _: &str) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use serde_json::json;

        #[test]
        fn keeps_only_what_the_rule_reads() {
            let vars = [
                "profile.homeAddress.city".to_string(),
                "profile.loyalty".to_string(),
            ];
            let p = Paths::from_variables(vars.iter()).unwrap();
            let v = p
                .parse(r#"{"person":{"name":"x"},"homeAddress":{"city":"Paris","zip":"75001"},"loyalty":{"tier":"gold","pts":[1,2]},"n":1}"#)
                .unwrap();
            assert_eq!(
                v,
                json!({"homeAddress": {"city": "Paris"}, "loyalty": {"tier": "gold", "pts": [1, 2]}})
            );
            assert!(p.parse("{not json").is_err());
            assert!(Paths::from_variables(["context.x".to_string()].iter()).is_none());
        }
    }
}
