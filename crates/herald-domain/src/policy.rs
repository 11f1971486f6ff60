//! The exclusion policy's pure parts: consent, the address a profile has
//! for a channel, push tokens. Suppression lists and frequency caps need
//! the store; their reason codes are in [`crate::message::reasons`].

use serde_json::Value;

use crate::campaign::CampaignCategory;
use crate::channel::{Channel, is_plausible_address};
use crate::message::reasons;
use crate::profile::email_from_attributes;

/// Consent values that mean yes: `y`, and `dy` ("default yes", an opt-out
/// regime where no explicit answer counts as consent).
fn is_yes(v: &str) -> bool {
    matches!(v, "y" | "dy")
}

/// Whether the profile opted in to marketing on `channel`, read from the
/// reference's shape `consents.marketing.<channel>.val`, falling back to
/// `consents.marketing.any.val`. Marketing needs opt-in, so no answer is no.
pub fn has_marketing_consent(attributes: &Value, channel: Channel) -> bool {
    let read = |key: &str| {
        attributes
            .pointer(&format!("/consents/marketing/{key}/val"))
            .and_then(Value::as_str)
    };
    match read(channel.as_str()) {
        Some(v) => is_yes(v),
        None => read("any").is_some_and(is_yes),
    }
}

pub fn no_consent_reason(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => reasons::EMAIL_NO_CONSENT,
        Channel::Sms => reasons::SMS_NO_CONSENT,
        Channel::Push => reasons::PUSH_NO_CONSENT,
    }
}

/// The push tokens a profile holds (`pushNotificationDetails[]`), for one
/// app when `app_id` is given; deny-listed ones are left out.
pub fn push_tokens(attributes: &Value, app_id: Option<&str>) -> Vec<String> {
    let Some(details) = attributes
        .get("pushNotificationDetails")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    details
        .iter()
        .filter(|d| {
            !d.get("denylisted")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .filter(|d| match app_id {
            Some(app) => d.get("appID").and_then(Value::as_str) == Some(app),
            None => true,
        })
        .filter_map(|d| d.get("token").and_then(Value::as_str))
        .filter(|t| !t.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// The phone number a profile holds (`mobilePhone.number`).
pub fn phone_from_attributes(attributes: &Value) -> Option<String> {
    attributes
        .pointer("/mobilePhone/number")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The address of a stored profile for `channel`: the identity itself when
/// the campaign identifies recipients in the channel's namespace, else the
/// attributes. `Err` carries the exclusion reason.
pub fn profile_address(
    channel: Channel,
    namespace: &str,
    identity: Option<&str>,
    attributes: &Value,
    push_app: Option<&str>,
) -> Result<String, &'static str> {
    match channel {
        Channel::Email => {
            let a = identity
                .filter(|_| namespace == "email")
                .map(str::to_string)
                .or_else(|| email_from_attributes(attributes))
                .ok_or(reasons::NO_ADDRESS)?;
            if is_plausible_address(&a) {
                Ok(a)
            } else {
                Err(reasons::INVALID_ADDRESS)
            }
        }
        Channel::Sms => identity
            .filter(|_| namespace == "phone")
            .map(str::to_string)
            .or_else(|| phone_from_attributes(attributes))
            .ok_or(reasons::NO_ADDRESS),
        Channel::Push => push_tokens(attributes, push_app)
            .into_iter()
            .next()
            .ok_or(reasons::PUSH_NO_TOKEN),
    }
}

/// Consent and address for one audience recipient: the first reason that
/// excludes it, or its address. Transactional campaigns skip consent.
pub fn check_recipient(
    category: CampaignCategory,
    channel: Channel,
    namespace: &str,
    identity: Option<&str>,
    attributes: &Value,
    push_app: Option<&str>,
) -> Result<String, &'static str> {
    let address = profile_address(channel, namespace, identity, attributes, push_app)?;
    if category == CampaignCategory::Marketing && !has_marketing_consent(attributes, channel) {
        return Err(no_consent_reason(channel));
    }
    Ok(address)
}

/// Whether a suppression with this reason applies to the campaign's
/// category: an unsubscribe stops marketing only; bounces, complaints and
/// manual entries stop everything.
pub fn suppression_applies(category: CampaignCategory, suppression_reason: &str) -> bool {
    category == CampaignCategory::Marketing || suppression_reason != "unsubscribe"
}

/// The exclusion a suppression-list hit means for a campaign of this
/// category, as (reason code, detail), or `None` when it does not apply.
pub fn suppression_exclusion(
    category: CampaignCategory,
    hit: &crate::suppression::SuppressionHit,
) -> Option<(&'static str, String)> {
    suppression_applies(category, &hit.reason).then(|| {
        (
            hit.reason_code,
            format!("suppressed ({}, {})", hit.reason, hit.suppression_id),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn consent_per_channel_with_any_fallback() {
        let p = json!({"consents": {"marketing": {"email": {"val": "y"}, "sms": {"val": "n"}, "any": {"val": "y"}}}});
        assert!(has_marketing_consent(&p, Channel::Email));
        assert!(!has_marketing_consent(&p, Channel::Sms));
        assert!(has_marketing_consent(&p, Channel::Push));
        assert!(!has_marketing_consent(&json!({}), Channel::Email));
        assert!(has_marketing_consent(
            &json!({"consents": {"marketing": {"email": {"val": "dy"}}}}),
            Channel::Email
        ));
    }

    #[test]
    fn reasons_in_order() {
        let m = CampaignCategory::Marketing;
        let t = CampaignCategory::Transactional;
        let none = json!({});
        assert_eq!(
            check_recipient(m, Channel::Email, "crmId", Some("c1"), &none, None),
            Err(reasons::NO_ADDRESS)
        );
        assert_eq!(
            check_recipient(m, Channel::Email, "email", Some("a@x.com"), &none, None),
            Err(reasons::EMAIL_NO_CONSENT)
        );
        assert_eq!(
            check_recipient(t, Channel::Email, "email", Some("a@x.com"), &none, None),
            Ok("a@x.com".into())
        );
        assert_eq!(
            check_recipient(m, Channel::Push, "crmId", Some("c1"), &none, None),
            Err(reasons::PUSH_NO_TOKEN)
        );
        let push = json!({
            "consents": {"marketing": {"push": {"val": "y"}}},
            "pushNotificationDetails": [
                {"appID": "other", "token": "t-other"},
                {"appID": "app", "token": "t-bad", "denylisted": true},
                {"appID": "app", "token": "t-app"}
            ]
        });
        assert_eq!(
            check_recipient(m, Channel::Push, "crmId", Some("c1"), &push, Some("app")),
            Ok("t-app".into())
        );
        let sms = json!({"mobilePhone": {"number": "+33612345678"}});
        assert_eq!(
            check_recipient(m, Channel::Sms, "crmId", Some("c1"), &sms, None),
            Err(reasons::SMS_NO_CONSENT)
        );
    }

    #[test]
    fn unsubscribe_stops_marketing_only() {
        assert!(suppression_applies(
            CampaignCategory::Marketing,
            "unsubscribe"
        ));
        assert!(!suppression_applies(
            CampaignCategory::Transactional,
            "unsubscribe"
        ));
        assert!(suppression_applies(
            CampaignCategory::Transactional,
            "hardBounce"
        ));
    }
}
