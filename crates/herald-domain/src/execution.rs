//! Execution requests (the reference's unitary call) and how one becomes
//! messages.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::channel::{Channel, is_plausible_address};
use crate::content::{CompiledContent, render_data};
use crate::error::FieldError;
use crate::identity::{IdentityKind, normalize as normalize_identity_value, standard_kind};
use crate::json::deep_merge;
use crate::language::LocaleChooser;
use crate::message::{MessageStatus, RenderedEmail, reasons};
use crate::profile::{Profile, email_from_attributes, normalize_identity};
use herald_template::RenderError;

pub const MAX_RECIPIENTS: usize = 20;
/// The reference's limit on the context a call may carry.
pub const MAX_CONTEXT_BYTES: usize = 200 * 1024;
pub const MAX_REQUEST_ID_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecipientType {
    /// A profile is looked up (or created when the campaign allows).
    Aep,
    /// No lookup: the `profile` in the call is the profile.
    External,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChannelData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub push_info: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    #[serde(rename = "type")]
    pub kind: RecipientType,
    pub namespace: String,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_policy_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_policy_schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<ChannelData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub profile: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
}

/// `POST /ajo/im/executions/unitary` (the reference's imExecutionRequestUnitary,
/// plus a top-level `context`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnitaryRequest {
    pub request_id: String,
    pub campaign_id: String,
    pub recipients: Vec<Recipient>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
}

impl UnitaryRequest {
    /// Structural rules of the call, all reported at once.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.request_id.trim().is_empty() {
            errors.push(FieldError::new(
                "/requestId",
                "required",
                "requestId must not be empty",
            ));
        } else if self.request_id.len() > MAX_REQUEST_ID_LEN {
            errors.push(FieldError::new(
                "/requestId",
                "too_long",
                format!("requestId is longer than {MAX_REQUEST_ID_LEN} bytes"),
            ));
        }
        if self.campaign_id.trim().is_empty() {
            errors.push(FieldError::new(
                "/campaignId",
                "required",
                "campaignId must not be empty",
            ));
        }
        if self.recipients.is_empty() {
            errors.push(FieldError::new(
                "/recipients",
                "no_recipients",
                "at least one recipient is required",
            ));
        } else if self.recipients.len() > MAX_RECIPIENTS {
            errors.push(FieldError::new(
                "/recipients",
                "too_many_recipients",
                format!(
                    "a unitary call takes at most {MAX_RECIPIENTS} recipients; this one has {}",
                    self.recipients.len()
                ),
            ));
        }
        if let Some(c) = &self.context
            && !c.is_object()
        {
            errors.push(FieldError::new(
                "/context",
                "not_an_object",
                "context must be a JSON object",
            ));
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, r) in self.recipients.iter().enumerate() {
            let at = |field: &str| format!("/recipients/{i}/{field}");
            if r.user_id.trim().is_empty() {
                errors.push(FieldError::new(
                    at("userId"),
                    "required",
                    "userId must not be empty",
                ));
            } else if let Some(kind @ (IdentityKind::Email | IdentityKind::Phone)) =
                standard_kind(&r.namespace)
                && let Err(e) = normalize_identity_value(kind, &r.user_id)
            {
                errors.push(FieldError::new(at("userId"), e.code(), e.to_string()));
            } else {
                let key = normalize_identity(&r.namespace, &r.user_id);
                if let Some(first) = seen.insert(key, i) {
                    errors.push(FieldError::new(
                        at("userId"),
                        "duplicate_user_id",
                        format!(
                            "userId '{}' already appears at /recipients/{first}/userId",
                            r.user_id
                        ),
                    ));
                }
            }
            if r.namespace.trim().is_empty() {
                errors.push(FieldError::new(
                    at("namespace"),
                    "required",
                    "namespace must not be empty",
                ));
            }
            if let Some(p) = &r.profile
                && !p.is_object()
            {
                errors.push(FieldError::new(
                    at("profile"),
                    "not_an_object",
                    "profile must be a JSON object",
                ));
            }
            if let Some(c) = &r.context
                && !c.is_object()
            {
                errors.push(FieldError::new(
                    at("context"),
                    "not_an_object",
                    "context must be a JSON object",
                ));
            }
            if let Some(email) = r
                .channel_data
                .as_ref()
                .and_then(|c| c.email_address.as_deref())
                && !is_plausible_address(email)
            {
                errors.push(FieldError::new(
                    at("channelData/emailAddress"),
                    "invalid_email",
                    format!("'{email}' is not an email address"),
                ));
            }
            if let Some(phone) = r
                .channel_data
                .as_ref()
                .and_then(|c| c.mobile_phone_number.as_deref())
                && let Err(e) = normalize_identity_value(IdentityKind::Phone, phone)
            {
                errors.push(FieldError::new(
                    at("channelData/mobilePhoneNumber"),
                    "invalid_phone",
                    e.to_string(),
                ));
            }
        }
        errors
    }

    /// Serialized size of every context the call carries (the 200 KB rule).
    pub fn context_bytes(&self) -> usize {
        let size = |v: &Option<Value>| v.as_ref().map(|v| v.to_string().len()).unwrap_or(0);
        size(&self.context)
            + self
                .recipients
                .iter()
                .map(|r| size(&r.context))
                .sum::<usize>()
    }
}

/// One recipient turned into a message to store.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedMessage {
    pub message_id: String,
    pub user_id: String,
    pub namespace: String,
    pub profile_id: Option<String>,
    pub address: Option<String>,
    pub status: MessageStatus,
    pub exclusion_reason: Option<String>,
    /// Render data: the stored profile with the call's `profile` merged over it.
    pub profile: Value,
    pub recipient_context: Value,
    /// The locale chosen for a multilingual campaign.
    pub locale: Option<String>,
    /// A proof: what to send, rendered when it was asked for.
    pub proof: Option<RenderedEmail>,
    /// Why it was excluded, in words (stored as the message's last error).
    pub detail: Option<String>,
}

/// A recipient whose profile must be created by the execution.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileToCreate {
    pub profile_id: String,
    pub namespace: String,
    pub user_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionPlan {
    pub messages: Vec<PlannedMessage>,
    pub profiles_to_create: Vec<ProfileToCreate>,
}

/// `aep` recipients that have no profile while creation is off.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownRecipients(pub Vec<FieldError>);

/// Turns a validated call into messages. `profiles` maps the index of each
/// `aep` recipient to its stored profile, when one exists.
pub fn plan_unitary(
    req: &UnitaryRequest,
    channel: Channel,
    create_new_profiles: bool,
    profiles: &HashMap<usize, Profile>,
    mut new_id: impl FnMut() -> String,
) -> Result<ExecutionPlan, UnknownRecipients> {
    let mut unknown = Vec::new();
    let mut messages = Vec::with_capacity(req.recipients.len());
    let mut profiles_to_create = Vec::new();
    let mut created: HashSet<(String, String)> = HashSet::new();
    for (i, r) in req.recipients.iter().enumerate() {
        let user_id = normalize_identity(&r.namespace, &r.user_id);
        let mut profile = Value::Object(Default::default());
        let mut profile_id = None;
        if r.kind == RecipientType::Aep {
            match profiles.get(&i) {
                Some(p) => {
                    profile = p.attributes.clone();
                    profile_id = Some(p.id.clone());
                }
                None if create_new_profiles => {
                    let id = new_id();
                    if created.insert((r.namespace.clone(), user_id.clone())) {
                        profiles_to_create.push(ProfileToCreate {
                            profile_id: id.clone(),
                            namespace: r.namespace.clone(),
                            user_id: user_id.clone(),
                        });
                    }
                    profile_id = Some(id);
                }
                None => unknown.push(FieldError::new(
                    format!("/recipients/{i}/userId"),
                    "profile_not_found",
                    format!(
                        "no profile with {} identity '{}' exists and the campaign does not create new profiles",
                        r.namespace, r.user_id
                    ),
                )),
            }
        }
        if let Some(over) = &r.profile {
            deep_merge(&mut profile, over);
        }
        let address = resolve_address(channel, r, &user_id, &profile);
        let (status, exclusion_reason) = match &address {
            Some(Ok(_)) => (MessageStatus::Queued, None),
            Some(Err(())) => (
                MessageStatus::Excluded,
                Some(reasons::INVALID_ADDRESS.to_string()),
            ),
            None => (
                MessageStatus::Excluded,
                Some(reasons::NO_ADDRESS.to_string()),
            ),
        };
        messages.push(PlannedMessage {
            message_id: new_id(),
            user_id: r.user_id.clone(),
            namespace: r.namespace.clone(),
            profile_id,
            address: address.and_then(Result::ok),
            status,
            exclusion_reason,
            profile,
            recipient_context: r
                .context
                .clone()
                .unwrap_or_else(|| Value::Object(Default::default())),
            locale: None,
            proof: None,
            detail: None,
        });
    }
    if !unknown.is_empty() {
        return Err(UnknownRecipients(unknown));
    }
    Ok(ExecutionPlan {
        messages,
        profiles_to_create,
    })
}

/// Chooses each queued message's locale for a multilingual campaign; a
/// message with no matching locale (and no fallback) is excluded with
/// reason `noLocale`, without failing the others.
pub fn assign_locales(
    messages: &mut [PlannedMessage],
    chooser: &LocaleChooser,
    execution_context: &Value,
) {
    for m in messages
        .iter_mut()
        .filter(|m| m.status == MessageStatus::Queued)
    {
        let data = render_data(&m.profile, execution_context, &m.recipient_context);
        match chooser.choose(&data) {
            Some(l) => m.locale = Some(l),
            None => {
                m.status = MessageStatus::Excluded;
                m.exclusion_reason = Some(reasons::NO_LOCALE.to_string());
            }
        }
    }
}

/// `missingValues: "fail"`: renders each queued message's content now
/// (the data it will be rendered with does not change until delivery) and
/// excludes, with reason `missingValue` and the path, each one that reads a
/// value its recipient does not have. The others are untouched.
pub fn exclude_missing_values(
    messages: &mut [PlannedMessage],
    content: &CompiledContent,
    execution_context: &Value,
) {
    for m in messages
        .iter_mut()
        .filter(|m| m.status == MessageStatus::Queued)
    {
        let Some(email) = content.email_for(m.locale.as_deref()) else {
            continue;
        };
        let data = render_data(&m.profile, execution_context, &m.recipient_context);
        if let Err(RenderError::MissingValue { path }) = email.render(&data) {
            m.status = MessageStatus::Excluded;
            m.exclusion_reason = Some(reasons::MISSING_VALUE.to_string());
            m.detail = Some(format!("missing value: `{path}`"));
        }
    }
}

/// The address to send to: `channelData` first, then the identity itself when
/// its namespace is the channel's, then the profile. `Err` for an address
/// that is present but unusable.
fn resolve_address(
    channel: Channel,
    r: &Recipient,
    user_id: &str,
    profile: &Value,
) -> Option<Result<String, ()>> {
    match channel {
        Channel::Email => {
            let candidate = r
                .channel_data
                .as_ref()
                .and_then(|c| c.email_address.clone())
                .or_else(|| (r.namespace == "email").then(|| user_id.to_string()))
                .or_else(|| email_from_attributes(profile))?;
            Some(if is_plausible_address(&candidate) {
                Ok(candidate)
            } else {
                Err(())
            })
        }
        Channel::Sms => r
            .channel_data
            .as_ref()
            .and_then(|c| c.mobile_phone_number.clone())
            .or_else(|| (r.namespace == "phone").then(|| user_id.to_string()))
            .or_else(|| {
                profile
                    .pointer("/mobilePhone/number")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .map(Ok),
        Channel::Push => r
            .channel_data
            .as_ref()
            .and_then(|c| c.push_info.as_ref())
            .and_then(|p| p.get("token"))
            .and_then(Value::as_str)
            .map(str::to_string)
            // Else the profile's first registered token.
            .or_else(|| crate::policy::push_tokens(profile, None).into_iter().next())
            .map(Ok),
    }
}

/// The 202 body of an accepted execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionResponse {
    pub execution_id: String,
    pub request_id: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub modified_at: DateTime<Utc>,
    pub modified_by: String,
    pub recipients: Vec<RecipientResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecipientResult {
    pub user_id: String,
    pub message_id: String,
    pub status: MessageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A stored execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub id: String,
    pub sandbox: String,
    pub campaign_id: String,
    pub campaign_version: i64,
    pub request_id: String,
    /// [`crate::json::canonical_hash`] of the request body, for idempotency.
    pub request_hash: String,
    pub kind: String,
    pub context: Value,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// The exact 202 body, replayed on an idempotent repeat.
    pub response: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> UnitaryRequest {
        serde_json::from_value(v).unwrap()
    }

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("id{n}")
        }
    }

    #[test]
    fn duplicate_and_too_many_recipients() {
        let r = req(json!({"requestId": "r", "campaignId": "c", "recipients": [
            {"type": "aep", "namespace": "email", "userId": "a@example.com"},
            {"type": "aep", "namespace": "email", "userId": "a@EXAMPLE.com"}]}));
        let errs = r.validate();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].pointer, "/recipients/1/userId");
        assert_eq!(errs[0].code, "duplicate_user_id");

        let many: Vec<Value> = (0..21)
            .map(|i| json!({"type": "external", "namespace": "email", "userId": format!("u{i}@example.com")}))
            .collect();
        let r = req(json!({"requestId": "r", "campaignId": "c", "recipients": many}));
        assert_eq!(r.validate()[0].code, "too_many_recipients");
    }

    #[test]
    fn unknown_profile_without_creation_fails_whole_call() {
        let r = req(json!({"requestId": "r", "campaignId": "c", "recipients": [
            {"type": "aep", "namespace": "email", "userId": "a@example.com"},
            {"type": "external", "namespace": "email", "userId": "b@example.com"}]}));
        let err = plan_unitary(&r, Channel::Email, false, &HashMap::new(), ids()).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].pointer, "/recipients/0/userId");
        let plan = plan_unitary(&r, Channel::Email, true, &HashMap::new(), ids()).unwrap();
        assert_eq!(plan.profiles_to_create.len(), 1);
        assert_eq!(plan.messages.len(), 2);
        assert!(
            plan.messages
                .iter()
                .all(|m| m.status == MessageStatus::Queued)
        );
    }

    #[test]
    fn channel_data_overrides_address_and_missing_address_is_excluded() {
        let r = req(json!({"requestId": "r", "campaignId": "c", "recipients": [
            {"type": "external", "namespace": "crmId", "userId": "CRM-1",
             "channelData": {"emailAddress": "work@example.com"}},
            {"type": "external", "namespace": "crmId", "userId": "CRM-2"},
            {"type": "external", "namespace": "crmId", "userId": "CRM-3",
             "profile": {"personalEmail": {"address": "p@example.com"}}}]}));
        let plan = plan_unitary(&r, Channel::Email, false, &HashMap::new(), ids()).unwrap();
        assert_eq!(
            plan.messages[0].address.as_deref(),
            Some("work@example.com")
        );
        assert_eq!(plan.messages[1].status, MessageStatus::Excluded);
        assert_eq!(
            plan.messages[1].exclusion_reason.as_deref(),
            Some("noAddress")
        );
        assert_eq!(plan.messages[2].address.as_deref(), Some("p@example.com"));
    }

    #[test]
    fn call_profile_merges_over_stored_profile() {
        let r = req(json!({"requestId": "r", "campaignId": "c", "recipients": [
            {"type": "aep", "namespace": "email", "userId": "a@example.com",
             "profile": {"person": {"name": {"firstName": "Override"}}}}]}));
        let stored = Profile {
            id: "p1".into(),
            sandbox: "prod".into(),
            identities: vec![],
            attributes: json!({"person": {"name": {"firstName": "Stored", "lastName": "Kept"}}}),
            created_by: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let profiles = HashMap::from([(0usize, stored)]);
        let plan = plan_unitary(&r, Channel::Email, false, &profiles, ids()).unwrap();
        assert_eq!(
            plan.messages[0].profile,
            json!({"person": {"name": {"firstName": "Override", "lastName": "Kept"}}})
        );
        assert_eq!(plan.messages[0].profile_id.as_deref(), Some("p1"));
    }

    #[test]
    fn locales_are_assigned_and_no_locale_is_excluded_alone() {
        use crate::language::{LocaleChooser, NewLanguageSettings};
        let r = req(json!({"requestId": "r", "campaignId": "c", "recipients": [
            {"type": "external", "namespace": "email", "userId": "a@example.com",
             "profile": {"preferredLanguage": "fr-CA"}},
            {"type": "external", "namespace": "email", "userId": "b@example.com",
             "profile": {"preferredLanguage": "ja"}},
            {"type": "external", "namespace": "crmId", "userId": "C-1"}]}));
        let mut plan = plan_unitary(&r, Channel::Email, false, &HashMap::new(), ids()).unwrap();
        let settings = NewLanguageSettings {
            name: "eu".into(),
            locales: vec!["en-US".into(), "fr-FR".into()],
            preference_attribute: None,
            rules: vec![],
            fallback_locale: None,
        }
        .into_settings("l".into(), "prod".into(), Utc::now());
        assign_locales(
            &mut plan.messages,
            &LocaleChooser::new(&settings),
            &json!({}),
        );
        assert_eq!(plan.messages[0].locale.as_deref(), Some("fr-FR"));
        assert_eq!(plan.messages[0].status, MessageStatus::Queued);
        assert_eq!(plan.messages[1].status, MessageStatus::Excluded);
        assert_eq!(
            plan.messages[1].exclusion_reason.as_deref(),
            Some("noLocale")
        );
        // Already excluded (no address) keeps its first reason.
        assert_eq!(
            plan.messages[2].exclusion_reason.as_deref(),
            Some("noAddress")
        );
    }

    #[test]
    fn missing_values_exclude_only_the_recipient_missing_one() {
        use crate::campaign::EmailContent;
        let r = req(json!({"requestId": "r", "campaignId": "c", "recipients": [
            {"type": "external", "namespace": "email", "userId": "a@example.com",
             "profile": {"name": "Ann"}},
            {"type": "external", "namespace": "email", "userId": "b@example.com"}]}));
        let mut plan = plan_unitary(&r, Channel::Email, false, &HashMap::new(), ids()).unwrap();
        let email = EmailContent {
            subject: "Hi {{profile.name}}".into(),
            text: Some("x".into()),
            ..EmailContent::default()
        };
        let content = CompiledContent {
            email: Some(
                crate::content::CompiledEmail::compile_named(
                    &email,
                    "content",
                    herald_template::MissingValues::Fail,
                    &Default::default(),
                )
                .unwrap(),
            ),
            locales: Default::default(),
        };
        exclude_missing_values(&mut plan.messages, &content, &json!({}));
        assert_eq!(plan.messages[0].status, MessageStatus::Queued);
        assert_eq!(plan.messages[1].status, MessageStatus::Excluded);
        assert_eq!(
            plan.messages[1].exclusion_reason.as_deref(),
            Some("missingValue")
        );
        assert!(
            plan.messages[1]
                .detail
                .as_deref()
                .unwrap()
                .contains("profile.name")
        );
    }

    #[test]
    fn context_size_counts_every_context() {
        let r = req(
            json!({"requestId": "r", "campaignId": "c", "context": {"a": "xx"},
            "recipients": [{"type": "external", "namespace": "email", "userId": "a@example.com", "context": {"b": 1}}]}),
        );
        assert_eq!(
            r.context_bytes(),
            r#"{"a":"xx"}"#.len() + r#"{"b":1}"#.len()
        );
    }
}
