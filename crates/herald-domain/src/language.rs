//! Multilingual content: language settings per sandbox, and the choice of a
//! recipient's locale (rules first, then the preference attribute with
//! exact and language-only matching, then the fallback).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use herald_template::{OutputMode, Template, TemplateError};

use crate::error::FieldError;

pub const MAX_LOCALES: usize = 50;
pub const DEFAULT_PREFERENCE_ATTRIBUTE: &str = "profile.preferredLanguage";

/// A rule: when `condition` (a PQL expression over `profile` and `context`)
/// holds, the recipient gets `locale`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LanguageRule {
    pub locale: String,
    pub condition: String,
}

/// `POST /v1/language-settings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewLanguageSettings {
    pub name: String,
    /// BCP 47 tags in priority order (1–50, unique).
    pub locales: Vec<String>,
    /// Where the recipient's preferred locale is read (default
    /// `profile.preferredLanguage`).
    #[serde(default)]
    pub preference_attribute: Option<String>,
    /// Evaluated in order, before the preference attribute.
    #[serde(default)]
    pub rules: Vec<LanguageRule>,
    /// One of `locales`; without it a recipient with no match is excluded.
    #[serde(default)]
    pub fallback_locale: Option<String>,
}

/// Stored language settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LanguageSettings {
    pub id: String,
    #[serde(default, skip_serializing)]
    pub sandbox: String,
    pub name: String,
    pub locales: Vec<String>,
    pub preference_attribute: String,
    #[serde(default)]
    pub rules: Vec<LanguageRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_locale: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether `tag` has the shape of a BCP 47 language tag: a 2–3 (or 4–8)
/// letter language, then subtags of 1–8 letters or digits.
pub fn is_bcp47(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let Some(lang) = parts.next() else {
        return false;
    };
    let lang_ok = (2..=8).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_alphabetic());
    lang_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// `tag` in BCP 47's conventional case (RFC 5646 §2.1.1): language
/// lower-case, a 4-letter script title-case, a 2-letter region upper-case,
/// everything else lower-case (`EN-us` → `en-US`, `zh-hant-tw` → `zh-Hant-TW`).
/// Stored tags are canonical, so tags compare as plain strings afterwards.
pub fn canonical_locale(tag: &str) -> String {
    let mut out = Vec::new();
    for (i, part) in tag.split('-').enumerate() {
        let lower = part.to_ascii_lowercase();
        // After a singleton (`x-…`, `u-…`) subtags keep lower case.
        let after_singleton = out.iter().any(|p: &String| p.len() == 1);
        out.push(if i == 0 || after_singleton {
            lower
        } else if part.len() == 2 && part.chars().all(|c| c.is_ascii_alphabetic()) {
            part.to_ascii_uppercase()
        } else if part.len() == 4 && part.chars().all(|c| c.is_ascii_alphabetic()) {
            let mut c = lower.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        } else {
            lower
        });
    }
    out.join("-")
}

/// A rule condition is one expression: tag delimiters in it would close
/// the `{%#if%}` it is wrapped in and inject template text.
fn has_tag_delimiters(condition: &str) -> bool {
    ["{%", "%}", "{{", "}}"]
        .iter()
        .any(|d| condition.contains(d))
}

fn rule_template(condition: &str) -> Result<Template, Vec<TemplateError>> {
    Template::compile(&format!("{{%#if {condition} %}}1{{%/if%}}"))
}

impl NewLanguageSettings {
    /// Every rule broken, each with a pointer into the request body.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() {
            errors.push(FieldError::new(
                "/name",
                "required",
                "name must not be empty",
            ));
        }
        if self.locales.is_empty() || self.locales.len() > MAX_LOCALES {
            errors.push(FieldError::new(
                "/locales",
                "invalid_locale_count",
                format!(
                    "give 1 to {MAX_LOCALES} locales; there are {}",
                    self.locales.len()
                ),
            ));
        }
        let mut seen = HashSet::new();
        for (i, l) in self.locales.iter().enumerate() {
            if !is_bcp47(l) {
                errors.push(FieldError::new(
                    format!("/locales/{i}"),
                    "invalid_locale",
                    format!("'{l}' is not a BCP 47 language tag (like en-US or fr-FR)"),
                ));
            } else if !seen.insert(l.to_ascii_lowercase()) {
                errors.push(FieldError::new(
                    format!("/locales/{i}"),
                    "duplicate_locale",
                    format!("'{l}' is listed twice"),
                ));
            }
        }
        let known = |l: &str| self.locales.iter().any(|x| x.eq_ignore_ascii_case(l));
        if let Some(attr) = &self.preference_attribute
            && (attr.trim().is_empty() || attr.split('.').any(str::is_empty))
        {
            errors.push(FieldError::new(
                "/preferenceAttribute",
                "invalid_path",
                format!("'{attr}' is not an attribute path like profile.preferredLanguage"),
            ));
        }
        for (i, r) in self.rules.iter().enumerate() {
            if !known(&r.locale) {
                errors.push(FieldError::new(
                    format!("/rules/{i}/locale"),
                    "unknown_locale",
                    format!("'{}' is not one of the locales", r.locale),
                ));
            }
            if r.condition.trim().is_empty() {
                errors.push(FieldError::new(
                    format!("/rules/{i}/condition"),
                    "required",
                    "condition must not be empty",
                ));
            } else if has_tag_delimiters(&r.condition) {
                errors.push(FieldError::new(
                    format!("/rules/{i}/condition"),
                    "invalid_condition",
                    "a condition is one expression, like context.country = \"FR\"; it cannot contain {% %} or {{ }}",
                ));
            } else if let Err(errs) = rule_template(&r.condition) {
                for e in errs {
                    errors.push(FieldError::new(
                        format!("/rules/{i}/condition"),
                        "invalid_condition",
                        format!("the condition does not parse: {}", e.message),
                    ));
                }
            }
        }
        if let Some(f) = &self.fallback_locale
            && !known(f)
        {
            errors.push(FieldError::new(
                "/fallbackLocale",
                "unknown_locale",
                format!("'{f}' is not one of the locales"),
            ));
        }
        errors
    }

    pub fn into_settings(
        self,
        id: String,
        sandbox: String,
        now: DateTime<Utc>,
    ) -> LanguageSettings {
        LanguageSettings {
            id,
            sandbox,
            name: self.name,
            locales: self.locales.iter().map(|l| canonical_locale(l)).collect(),
            preference_attribute: self
                .preference_attribute
                .unwrap_or_else(|| DEFAULT_PREFERENCE_ATTRIBUTE.to_string()),
            rules: self
                .rules
                .into_iter()
                .map(|r| LanguageRule {
                    locale: canonical_locale(&r.locale),
                    ..r
                })
                .collect(),
            fallback_locale: self.fallback_locale.as_deref().map(canonical_locale),
            created_at: now,
            updated_at: now,
        }
    }
}

/// The locale of `locales` that serves a recipient preferring `preferred`:
/// an exact match (case-insensitive, `_` read as `-`), else the first locale
/// in priority order with the same language.
pub fn match_locale<'a>(locales: &'a [String], preferred: &str) -> Option<&'a String> {
    let preferred = preferred.trim().replace('_', "-");
    if preferred.is_empty() {
        return None;
    }
    if let Some(l) = locales.iter().find(|l| l.eq_ignore_ascii_case(&preferred)) {
        return Some(l);
    }
    let language = |t: &str| t.split('-').next().unwrap_or("").to_ascii_lowercase();
    let wanted = language(&preferred);
    locales.iter().find(|l| language(l) == wanted)
}

/// Language settings with their rules compiled, ready to choose locales.
#[derive(Debug, Clone)]
pub struct LocaleChooser {
    settings: LanguageSettings,
    rules: Vec<(String, Template)>,
}

impl LocaleChooser {
    /// Rules whose condition does not compile are skipped (creation
    /// validates them, so this only guards stored data).
    pub fn new(settings: &LanguageSettings) -> LocaleChooser {
        let rules = settings
            .rules
            .iter()
            .filter_map(|r| {
                rule_template(&r.condition)
                    .ok()
                    .map(|t| (r.locale.clone(), t))
            })
            .collect();
        LocaleChooser {
            settings: settings.clone(),
            rules,
        }
    }

    pub fn settings(&self) -> &LanguageSettings {
        &self.settings
    }

    /// The locale for render data `{"profile": …, "context": …}`; `None`
    /// means no locale matches and there is no fallback (`noLocale`).
    pub fn choose(&self, data: &Value) -> Option<String> {
        for (locale, t) in &self.rules {
            if t.render(data, OutputMode::Text).is_ok_and(|s| s == "1") {
                return Some(locale.clone());
            }
        }
        let attr = &self.settings.preference_attribute;
        let path = if attr.starts_with("profile.") || attr.starts_with("context.") {
            attr.clone()
        } else {
            format!("profile.{attr}")
        };
        let preferred = path
            .split('.')
            .try_fold(data, |v, k| v.get(k))
            .and_then(Value::as_str);
        if let Some(p) = preferred
            && let Some(l) = match_locale(&self.settings.locales, p)
        {
            return Some(l.clone());
        }
        self.settings.fallback_locale.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_are_stored_in_canonical_case() {
        for (given, canonical) in [
            ("EN-us", "en-US"),
            ("fr-fr", "fr-FR"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("es-419", "es-419"),
            ("de-CH-x-PHONEBK", "de-CH-x-phonebk"),
        ] {
            assert_eq!(canonical_locale(given), canonical);
        }
        let new: NewLanguageSettings = serde_json::from_value(serde_json::json!({
            "name": "Case", "locales": ["EN-us", "fr-fr"], "fallbackLocale": "en-US",
            "rules": [{"locale": "FR-FR", "condition": "context.country = \"FR\""}]
        }))
        .unwrap();
        assert!(new.validate().is_empty(), "{:?}", new.validate());
        let s = new.into_settings("id".into(), "prod".into(), Utc::now());
        assert_eq!(s.locales, ["en-US", "fr-FR"]);
        assert_eq!(s.fallback_locale.as_deref(), Some("en-US"));
        assert_eq!(s.rules[0].locale, "fr-FR");
    }

    #[test]
    fn a_condition_cannot_carry_template_tags() {
        for condition in ["true %}X{%/if%}{%#if true", "{{context.x}} = 1", "a }} b"] {
            let new: NewLanguageSettings = serde_json::from_value(serde_json::json!({
                "name": "Inject", "locales": ["en-US"],
                "rules": [{"locale": "en-US", "condition": condition}]
            }))
            .unwrap();
            let errors = new.validate();
            assert_eq!(errors.len(), 1, "{condition}: {errors:?}");
            assert_eq!(errors[0].pointer, "/rules/0/condition");
        }
    }
    use serde_json::json;

    fn settings(
        locales: &[&str],
        fallback: Option<&str>,
        rules: Vec<LanguageRule>,
    ) -> LocaleChooser {
        let s = NewLanguageSettings {
            name: "l".into(),
            locales: locales.iter().map(|s| s.to_string()).collect(),
            preference_attribute: None,
            rules,
            fallback_locale: fallback.map(str::to_string),
        };
        assert_eq!(s.validate(), vec![]);
        LocaleChooser::new(&s.into_settings("id".into(), "prod".into(), Utc::now()))
    }

    fn pref(p: &str) -> Value {
        json!({"profile": {"preferredLanguage": p}, "context": {}})
    }

    #[test]
    fn bcp47_shapes() {
        for ok in ["en", "en-US", "fr-FR", "zh-Hant-TW", "es-419", "gsw"] {
            assert!(is_bcp47(ok), "{ok}");
        }
        for bad in [
            "",
            "e",
            "en_US",
            "en-",
            "-US",
            "en--US",
            "12-US",
            "en-toolongsubtag",
        ] {
            assert!(!is_bcp47(bad), "{bad}");
        }
    }

    #[test]
    fn exact_match_is_case_insensitive() {
        let c = settings(&["en-US", "fr-FR", "fr-CA"], None, vec![]);
        assert_eq!(c.choose(&pref("en-US")).as_deref(), Some("en-US"));
        assert_eq!(c.choose(&pref("EN-us")).as_deref(), Some("en-US"));
        assert_eq!(c.choose(&pref("fr_ca")).as_deref(), Some("fr-CA"));
    }

    #[test]
    fn language_only_match_takes_the_first_in_priority_order() {
        let c = settings(&["en-US", "fr-FR", "fr-BE"], None, vec![]);
        assert_eq!(c.choose(&pref("fr-CA")).as_deref(), Some("fr-FR"));
        assert_eq!(c.choose(&pref("fr")).as_deref(), Some("fr-FR"));
        let c = settings(&["en-US", "fr-BE", "fr-FR"], None, vec![]);
        assert_eq!(c.choose(&pref("fr-CA")).as_deref(), Some("fr-BE"));
    }

    #[test]
    fn fallback_and_no_locale() {
        let with = settings(&["en-US", "fr-FR"], Some("en-US"), vec![]);
        assert_eq!(with.choose(&pref("de-DE")).as_deref(), Some("en-US"));
        assert_eq!(
            with.choose(&json!({"profile": {}})).as_deref(),
            Some("en-US")
        );
        let without = settings(&["en-US", "fr-FR"], None, vec![]);
        assert_eq!(without.choose(&pref("de-DE")), None);
        assert_eq!(without.choose(&json!({"profile": {}})), None);
    }

    #[test]
    fn rules_come_first_in_order() {
        let c = settings(
            &["en-US", "fr-FR", "de-DE"],
            None,
            vec![
                LanguageRule {
                    locale: "fr-FR".into(),
                    condition: "context.country = \"FR\"".into(),
                },
                LanguageRule {
                    locale: "de-DE".into(),
                    condition: "context.country = \"DE\" or context.country = \"FR\"".into(),
                },
            ],
        );
        let data = json!({"profile": {"preferredLanguage": "en-US"}, "context": {"country": "FR"}});
        assert_eq!(c.choose(&data).as_deref(), Some("fr-FR"));
        let data = json!({"profile": {"preferredLanguage": "en-US"}, "context": {"country": "DE"}});
        assert_eq!(c.choose(&data).as_deref(), Some("de-DE"));
        let data = json!({"profile": {"preferredLanguage": "en-US"}, "context": {"country": "US"}});
        assert_eq!(c.choose(&data).as_deref(), Some("en-US"));
    }

    #[test]
    fn validation_reports_every_problem() {
        let s = NewLanguageSettings {
            name: " ".into(),
            locales: vec!["en-US".into(), "en-us".into(), "bad_tag".into()],
            preference_attribute: Some("profile..x".into()),
            rules: vec![LanguageRule {
                locale: "it-IT".into(),
                condition: "context.x = ".into(),
            }],
            fallback_locale: Some("de-DE".into()),
        };
        let pointers: Vec<String> = s.validate().into_iter().map(|e| e.pointer).collect();
        for p in [
            "/name",
            "/locales/1",
            "/locales/2",
            "/preferenceAttribute",
            "/rules/0/locale",
            "/rules/0/condition",
            "/fallbackLocale",
        ] {
            assert!(pointers.iter().any(|x| x == p), "{p} in {pointers:?}");
        }
    }
}
