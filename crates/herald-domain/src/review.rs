//! Review: every check that blocks (or should worry) activation, each with a
//! JSON pointer to the field.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::campaign::{
    CampaignCategory, CampaignDefinition, EmailContent, PushContent, SmsContent,
};
use crate::channel::{Channel, ChannelConfiguration, ConfigurationCategory};
use crate::content::{self, TemplateField};
use crate::error::pointer_token;
use crate::fragment::{self, Fragments};
use crate::language::LanguageSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub pointer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl Check {
    pub fn error(code: &str, pointer: &str, message: impl Into<String>) -> Check {
        Check {
            code: code.into(),
            severity: Severity::Error,
            message: message.into(),
            pointer: pointer.into(),
            line: None,
            column: None,
        }
    }
    fn warning(code: &str, pointer: &str, message: impl Into<String>) -> Check {
        Check {
            severity: Severity::Warning,
            ..Check::error(code, pointer, message)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewResult {
    pub ready: bool,
    pub checks: Vec<Check>,
}

impl ReviewResult {
    /// Adds checks made outside [`review`] (those that need the store).
    pub fn add(&mut self, checks: impl IntoIterator<Item = Check>) {
        self.checks.extend(checks);
        self.ready = !self.checks.iter().any(|c| c.severity == Severity::Error);
    }
}

/// Checks of the business rules and audience a campaign names, given what
/// exists: `rules` has, per id of `businessRuleIds`, the rule's channel
/// when it exists; `audience_exists` whether `audience.audienceId` does.
pub fn reference_checks(
    def: &CampaignDefinition,
    rules: &[Option<crate::channel::Channel>],
    audience_exists: Option<bool>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    if !def.business_rule_ids.is_empty() && def.category != CampaignCategory::Marketing {
        checks.push(Check::error(
            "business_rules_not_allowed",
            "/businessRuleIds",
            "frequency caps apply to marketing campaigns only",
        ));
    }
    for (i, (id, found)) in def.business_rule_ids.iter().zip(rules).enumerate() {
        let pointer = format!("/businessRuleIds/{i}");
        match found {
            None => checks.push(Check::error(
                "unknown_business_rule",
                &pointer,
                format!("no business rule '{id}' exists in this sandbox"),
            )),
            Some(ch) if *ch != def.action.channel => checks.push(Check::error(
                "business_rule_channel",
                &pointer,
                format!(
                    "business rule '{id}' caps {} messages; the action is {}",
                    ch.as_str(),
                    def.action.channel.as_str()
                ),
            )),
            Some(_) => {}
        }
    }
    if audience_exists == Some(false) {
        checks.push(Check::error(
            "unknown_audience",
            "/audience/audienceId",
            format!(
                "no audience '{}' exists in this sandbox",
                def.audience.audience_id.as_deref().unwrap_or("")
            ),
        ));
    }
    checks
}

/// Reviews a definition. `configuration` is the channel configuration the
/// action names, and `language` the language settings named by
/// `languageSettingsId`, when they exist in the campaign's sandbox;
/// `fragments` the fragments the content includes (those that exist).
pub fn review(
    def: &CampaignDefinition,
    configuration: Option<&ChannelConfiguration>,
    language: Option<&LanguageSettings>,
    fragments: &Fragments,
    now: DateTime<Utc>,
) -> ReviewResult {
    let mut checks = Vec::new();
    if def.name.trim().is_empty() {
        checks.push(Check::error(
            "name_missing",
            "/name",
            "the campaign needs a name",
        ));
    }

    match configuration {
        None => checks.push(Check::error(
            "unknown_channel_configuration",
            "/action/channelConfigurationId",
            format!(
                "no channel configuration '{}' exists in this sandbox",
                def.action.channel_configuration_id
            ),
        )),
        Some(cfg) => {
            if cfg.channel != def.action.channel {
                checks.push(Check::error(
                    "channel_mismatch",
                    "/action/channelConfigurationId",
                    format!(
                        "configuration '{}' is for {}, the action is {}",
                        cfg.name,
                        cfg.channel.as_str(),
                        def.action.channel.as_str()
                    ),
                ));
            }
            let fits = matches!(
                (cfg.category, def.category),
                (ConfigurationCategory::Any, _)
                    | (
                        ConfigurationCategory::Marketing,
                        CampaignCategory::Marketing
                    )
                    | (
                        ConfigurationCategory::Transactional,
                        CampaignCategory::Transactional
                    )
            );
            if !fits {
                checks.push(Check::error(
                    "category_mismatch",
                    "/action/channelConfigurationId",
                    format!(
                        "configuration '{}' may only be used by {:?} campaigns; this campaign is {:?}",
                        cfg.name, cfg.category, def.category
                    )
                    .to_lowercase(),
                ));
            }
        }
    }

    content_checks(def, language, fragments, &mut checks);

    if def.audience.identity_namespace.trim().is_empty() {
        checks.push(Check::error(
            "identity_namespace_missing",
            "/audience/identityNamespace",
            "choose the identity namespace (email, phone, ecid, crmId, …) that identifies recipients",
        ));
    }
    if def.category == CampaignCategory::Marketing && def.audience.audience_id.is_none() {
        checks.push(Check::error(
            "audience_missing",
            "/audience/audienceId",
            "a marketing campaign needs an audience",
        ));
    }
    if def.high_throughput
        && (def.category != CampaignCategory::Transactional || def.action.channel != Channel::Email)
    {
        checks.push(Check::error(
            "high_throughput_not_allowed",
            "/highThroughput",
            "high-throughput mode is for transactional email campaigns only",
        ));
    }

    if let (Some(start), Some(end)) = (def.schedule.start_at, def.schedule.end_at)
        && end <= start
    {
        checks.push(Check::error(
            "end_before_start",
            "/schedule/endAt",
            "the end must come after the start",
        ));
    }
    if let Some(end) = def.schedule.end_at
        && end <= now
    {
        checks.push(Check::error(
            "end_in_past",
            "/schedule/endAt",
            "the end of the schedule has already passed",
        ));
    }
    if let Some(t) = def.schedule.throttle {
        if !(1..=2000).contains(&t) {
            checks.push(Check::error(
                "throttle_out_of_range",
                "/schedule/throttle",
                "throttling must be between 1 and 2,000 messages per second",
            ));
        } else if def.category == CampaignCategory::Transactional {
            checks.push(Check::warning(
                "throttle_ignored",
                "/schedule/throttle",
                "throttling applies to audience (marketing) sends only",
            ));
        }
    }
    if def.action.tracking.opens && def.action.channel != Channel::Email {
        checks.push(Check::warning(
            "open_tracking_ignored",
            "/action/tracking/opens",
            "open tracking applies to email only",
        ));
    }

    let ready = !checks.iter().any(|c| c.severity == Severity::Error);
    ReviewResult { ready, checks }
}

fn content_checks(
    def: &CampaignDefinition,
    language: Option<&LanguageSettings>,
    fragments: &Fragments,
    checks: &mut Vec<Check>,
) {
    let channel = def.action.channel;
    let c = &def.content;
    match &def.language_settings_id {
        None => {
            channel_checks(
                "/content",
                c.email.as_ref(),
                c.sms.as_ref(),
                c.push.as_ref(),
                channel,
                checks,
            );
            if !c.locales.is_empty() {
                checks.push(Check::error(
                    "locales_without_language_settings",
                    "/content/locales",
                    "content.locales needs languageSettingsId: choose the language settings the locales belong to",
                ));
            }
        }
        Some(id) => {
            match language {
                None => checks.push(Check::error(
                    "unknown_language_settings",
                    "/languageSettingsId",
                    format!("no language settings '{id}' exist in this sandbox"),
                )),
                Some(settings) => {
                    for tag in &settings.locales {
                        match c.locales.get(tag) {
                        None => checks.push(Check::error(
                            "locale_content_missing",
                            &format!("/content/locales/{}", pointer_token(tag)),
                            format!("the language settings list {tag}, but there is no content for it"),
                        )),
                        Some(l) => channel_checks(
                            &format!("/content/locales/{}", pointer_token(tag)),
                            l.email.as_ref(),
                            l.sms.as_ref(),
                            l.push.as_ref(),
                            channel,
                            checks,
                        ),
                    }
                    }
                    for tag in c.locales.keys() {
                        if !settings.locales.contains(tag) {
                            checks.push(Check::error(
                                "unknown_locale",
                                &format!("/content/locales/{}", pointer_token(tag)),
                                format!(
                                    "{tag} is not a locale of the language settings '{}' ({})",
                                    settings.name,
                                    settings.locales.join(", ")
                                ),
                            ));
                        }
                    }
                    if settings.fallback_locale.is_none() {
                        checks.push(Check::warning(
                        "no_fallback_locale",
                        "/languageSettingsId",
                        format!(
                            "the language settings '{}' have no fallback locale: recipients whose locale matches none are not sent to (excluded with reason noLocale)",
                            settings.name
                        ),
                    ));
                    }
                    if c.email.is_some() || c.sms.is_some() || c.push.is_some() {
                        checks.push(Check::warning(
                            "content_ignored",
                            "/content",
                            "the campaign has language settings: only content.locales is sent",
                        ));
                    }
                }
            }
        }
    }
    for field in content::template_fields(c, channel) {
        check_template(field, def.high_throughput, fragments, checks);
    }
}

/// Checks of one content block (plain, or one locale's).
fn channel_checks(
    at: &str,
    email: Option<&EmailContent>,
    sms: Option<&SmsContent>,
    push: Option<&PushContent>,
    channel: Channel,
    checks: &mut Vec<Check>,
) {
    match channel {
        Channel::Email => match email {
            None => checks.push(Check::error(
                "content_missing",
                &format!("{at}/email"),
                "the action is email but there is no email content",
            )),
            Some(email) => {
                if email.subject.trim().is_empty() {
                    checks.push(Check::error(
                        "subject_missing",
                        &format!("{at}/email/subject"),
                        "the email needs a subject",
                    ));
                }
                let html_empty = email.html.as_deref().is_none_or(|h| h.trim().is_empty());
                let text_empty = email.text.as_deref().is_none_or(|t| t.trim().is_empty());
                if html_empty && text_empty {
                    checks.push(Check::error(
                        "body_missing",
                        &format!("{at}/email/html"),
                        "the email needs an HTML or a text body",
                    ));
                }
            }
        },
        Channel::Sms => match sms {
            Some(sms) if !sms.text.trim().is_empty() => {}
            _ => checks.push(Check::error(
                "content_missing",
                &format!("{at}/sms/text"),
                "the SMS needs a text",
            )),
        },
        Channel::Push => match push {
            Some(p) if !p.title.trim().is_empty() || !p.body.trim().is_empty() => {}
            _ => checks.push(Check::error(
                "content_missing",
                &format!("{at}/push"),
                "the push needs a title or a body",
            )),
        },
    }
    for other in [Channel::Email, Channel::Sms, Channel::Push] {
        let present = match other {
            Channel::Email => email.is_some(),
            Channel::Sms => sms.is_some(),
            Channel::Push => push.is_some(),
        };
        if other != channel && present {
            checks.push(Check::warning(
                "content_ignored",
                &format!("{at}/{}", other.as_str()),
                format!(
                    "the action is {}; this content is never sent",
                    channel.as_str()
                ),
            ));
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(source: &str, offset: usize) -> (u32, u32) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() as u32 + 1;
    (line, col)
}

fn check_template(
    field: TemplateField<'_>,
    high_throughput: bool,
    fragments: &Fragments,
    checks: &mut Vec<Check>,
) {
    let mut broken = false;
    // The field as written (fragment tags parse as tags): positions are the
    // user's own.
    if let Err(errors) = herald_template::Template::compile(field.source) {
        broken = true;
        for e in errors {
            checks.push(Check {
                code: "template_syntax".into(),
                severity: Severity::Error,
                message: format!(
                    "{} (line {}, column {}): {}",
                    field.name, e.line, e.column, e.message
                ),
                pointer: field.pointer.clone(),
                line: Some(e.line),
                column: Some(e.column),
            });
        }
    }
    let sources = match fragment::resolve(field.source, fragments) {
        Ok(x) => x,
        Err(errors) => {
            for e in errors {
                let (line, column) = line_col(field.source, e.offset);
                checks.push(Check {
                    code: e.code.into(),
                    severity: Severity::Error,
                    message: format!(
                        "{} (line {line}, column {column}): {}",
                        field.name, e.message
                    ),
                    pointer: field.pointer.clone(),
                    line: Some(line),
                    column: Some(column),
                });
            }
            return;
        }
    };
    // Each fragment it includes (nested ones too), on its own.
    let mut ids = fragment::referenced_ids(field.source);
    let nested: Vec<String> = ids
        .iter()
        .filter_map(|id| fragments.get(id))
        .flat_map(|f| fragment::referenced_ids(&f.content))
        .collect();
    ids.extend(nested);
    ids.sort();
    ids.dedup();
    for id in &ids {
        let Some(f) = fragments.get(id) else { continue };
        if let Err(errors) = herald_template::Template::compile(&f.content) {
            broken = true;
            for e in errors {
                checks.push(Check::error(
                    "fragment_template",
                    &field.pointer,
                    format!(
                        "{}: fragment '{}' ({id}, version {}) line {}, column {}: {}",
                        field.name, f.name, f.version, e.line, e.column, e.message
                    ),
                ));
            }
        }
    }
    if broken {
        return;
    }
    match herald_template::Template::compile_with_fragments(
        field.source,
        &std::collections::HashMap::new(),
        &sources,
    ) {
        Err(errors) => {
            for e in errors {
                checks.push(Check::error(
                    "template_syntax",
                    &field.pointer,
                    format!(
                        "{} with its fragments ({}): {}",
                        field.name,
                        ids.join(", "),
                        e.message
                    ),
                ));
            }
        }
        Ok(t) => {
            if high_throughput
                && let Some(path) = t
                    .variables()
                    .into_iter()
                    .find(|v| v == "profile" || v.starts_with("profile."))
            {
                checks.push(Check::error(
                    "high_throughput_profile",
                    &field.pointer,
                    format!(
                        "high-throughput campaigns have no profiles, but {} reads '{path}'",
                        field.name
                    ),
                ));
            }
        }
    }
}
