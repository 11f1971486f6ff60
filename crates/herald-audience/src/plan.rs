//! Turning one page of audience candidates into messages: the pure part of
//! a batch (rule, address, consent, locale, missing values).

use serde_json::Value;

use herald_domain::audience::AudienceRule;
use herald_domain::campaign::{CampaignCategory, MissingValues};
use herald_domain::channel::Channel;
use herald_domain::content::CompiledContent;
use herald_domain::ids::new_id;
use herald_domain::language::LocaleChooser;
use herald_domain::message::{MessageStatus, reasons};
use herald_domain::policy::check_recipient;
use herald_store::{AudienceCandidate, FanoutMessage};
use herald_template::RenderError;

/// What every message of one execution shares.
pub struct Plan<'a> {
    pub category: CampaignCategory,
    pub channel: Channel,
    pub namespace: &'a str,
    pub rule: Option<&'a AudienceRule>,
    pub push_app: Option<&'a str>,
    pub chooser: Option<&'a LocaleChooser>,
    pub content: Option<&'a CompiledContent>,
    pub missing_values: MissingValues,
    pub context: &'a Value,
}

impl Plan<'_> {
    /// The messages for the candidates in the audience; the others are
    /// not targeted and leave nothing behind.
    pub fn messages(&self, candidates: Vec<AudienceCandidate>) -> Vec<FanoutMessage> {
        let mut out = Vec::with_capacity(candidates.len());
        for c in candidates {
            let attributes: Value = match serde_json::from_str(&c.attributes) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(profile_id = %c.profile_id, error = %e, "profile attributes are not JSON; skipped");
                    continue;
                }
            };
            let mut data = serde_json::Map::with_capacity(2);
            data.insert("profile".into(), attributes);
            data.insert("context".into(), self.context.clone());
            let data = Value::Object(data);
            if let Some(rule) = self.rule
                && !rule.matches(&data)
            {
                continue;
            }
            let profile = &data["profile"];
            let mut status = MessageStatus::Queued;
            let mut reason = None;
            let mut detail = None;
            let mut locale = None;
            let address = match check_recipient(
                self.category,
                self.channel,
                self.namespace,
                c.identity.as_deref(),
                profile,
                self.push_app,
            ) {
                Ok(a) => Some(a),
                Err(r) => {
                    status = MessageStatus::Excluded;
                    reason = Some(r.to_string());
                    None
                }
            };
            if status == MessageStatus::Queued
                && let Some(chooser) = self.chooser
            {
                match chooser.choose(&data) {
                    Some(l) => locale = Some(l),
                    None => {
                        status = MessageStatus::Excluded;
                        reason = Some(reasons::NO_LOCALE.to_string());
                    }
                }
            }
            if status == MessageStatus::Queued
                && self.missing_values == MissingValues::Fail
                && let Some(email) = self.content.and_then(|c| c.email_for(locale.as_deref()))
                && let Err(RenderError::MissingValue { path }) = email.render(&data)
            {
                status = MessageStatus::Excluded;
                reason = Some(reasons::MISSING_VALUE.to_string());
                detail = Some(format!("missing value: `{path}`"));
            }
            out.push(FanoutMessage {
                message_id: new_id(),
                user_id: c.identity.unwrap_or_else(|| c.profile_id.clone()),
                namespace: self.namespace.to_string(),
                profile_id: c.profile_id,
                address,
                status,
                exclusion_reason: reason,
                profile: c.attributes,
                locale,
                detail,
            });
        }
        out
    }
}
