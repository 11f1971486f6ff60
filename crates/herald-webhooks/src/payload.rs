//! The `message.feedback` body, in the reference product's shape, with
//! Herald's ids in the id fields.

use serde_json::{Value, json};

use herald_domain::webhook::feedback_status;
use herald_store::WebhookEvent;

/// `imsOrg` of every payload: Herald has no organizations above sandboxes.
pub const ORG: &str = "herald";

/// The payload of one event; `None` for a history status that is not
/// feedback (none today, but the log may grow kinds).
pub fn feedback(e: &WebhookEvent) -> Option<Value> {
    let status = feedback_status(&e.status)?;
    let detail = e.detail.clone().unwrap_or_default();
    // An exclusion at delivery time reads "<reason code>: <detail>".
    let exclusion = (status == "exclude").then(|| {
        let code = detail.split(": ").next().unwrap_or_default();
        json!({ "code": code, "reason": detail })
    });
    let failure = matches!(status, "error" | "delay" | "bounce").then(|| {
        json!({
            // Herald hands a message to its transport itself: the outcome
            // is known at once.
            "category": "sync",
            "type": match e.status.as_str() {
                "queued" => "Soft",
                "unknown" => "Unknown",
                _ => "Hard",
            },
            "code": reply_code(&detail).unwrap_or_default(),
            "reason": detail,
        })
    });
    Some(json!({
        "requestId": e.request_id,
        "imsOrg": ORG,
        "sandbox": { "id": e.sandbox, "name": e.sandbox },
        "channel": e.channel.as_str(),
        "eventType": "message.feedback",
        "messageExecution": {
            "messageExecutionID": e.execution_id,
            "messageID": e.message_id,
            "messageType": if e.priority == 0 { "transactional" } else { "marketing" },
            "campaignID": e.campaign_id,
            "campaignVersionID": e.campaign_version.to_string(),
        },
        "messageDeliveryFeedback": {
            "feedbackStatus": { "value": status },
            "offers": null,
            "messageExclusion": exclusion,
            "messageFailure": failure,
            "retryCount": e.retry_count,
        },
        "identityMap": { e.namespace.clone(): [ { "id": e.user_id } ] },
        "timestamp": e.at.timestamp_millis(),
    }))
}

/// The first SMTP-like reply code (4xx/5xx) in an error text.
fn reply_code(detail: &str) -> Option<String> {
    detail
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 3 && (w.starts_with('4') || w.starts_with('5')))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use herald_domain::channel::Channel;

    fn event(status: &str, detail: Option<&str>) -> WebhookEvent {
        WebhookEvent {
            seq: 7,
            message_id: "m1".into(),
            at: Utc::now(),
            status: status.into(),
            detail: detail.map(str::to_string),
            sandbox: "prod".into(),
            execution_id: "x1".into(),
            request_id: Some("r1".into()),
            campaign_id: "c1".into(),
            campaign_version: 3,
            channel: Channel::Email,
            priority: 0,
            namespace: "email".into(),
            user_id: "ann@example.com".into(),
            retry_count: 2,
        }
    }

    #[test]
    fn a_failure_carries_its_reply_code_and_reason() {
        let p = feedback(&event(
            "failed",
            Some("gave up after 3 attempts: 550 5.1.1 no such user"),
        ))
        .unwrap();
        assert_eq!(p["eventType"], "message.feedback");
        assert_eq!(
            p["messageDeliveryFeedback"]["feedbackStatus"]["value"],
            "error"
        );
        let f = &p["messageDeliveryFeedback"]["messageFailure"];
        assert_eq!(f["code"], "550");
        assert_eq!(f["type"], "Hard");
        assert!(f["reason"].as_str().unwrap().contains("no such user"));
        assert_eq!(
            p["messageDeliveryFeedback"]["messageExclusion"],
            Value::Null
        );
        assert_eq!(p["messageDeliveryFeedback"]["retryCount"], 2);
        assert_eq!(p["messageExecution"]["messageExecutionID"], "x1");
        assert_eq!(p["messageExecution"]["campaignVersionID"], "3");
        assert_eq!(p["identityMap"]["email"][0]["id"], "ann@example.com");
        assert_eq!(p["sandbox"]["name"], "prod");
    }

    #[test]
    fn an_exclusion_names_its_reason_and_has_no_failure() {
        let p = feedback(&event("excluded", Some("emailSuppressed"))).unwrap();
        let d = &p["messageDeliveryFeedback"];
        assert_eq!(d["feedbackStatus"]["value"], "exclude");
        assert_eq!(d["messageExclusion"]["reason"], "emailSuppressed");
        assert_eq!(d["messageExclusion"]["code"], "emailSuppressed");
        let late = feedback(&event(
            "excluded",
            Some("pushTokenInvalid: 410 Unregistered"),
        ))
        .unwrap();
        assert_eq!(
            late["messageDeliveryFeedback"]["messageExclusion"]["code"],
            "pushTokenInvalid"
        );
        assert_eq!(d["messageFailure"], Value::Null);
    }

    #[test]
    fn a_retry_is_a_soft_delay() {
        let p = feedback(&event("queued", Some("451 4.3.0 later; retry at x"))).unwrap();
        let d = &p["messageDeliveryFeedback"];
        assert_eq!(d["feedbackStatus"]["value"], "delay");
        assert_eq!(d["messageFailure"]["type"], "Soft");
        assert_eq!(d["messageFailure"]["code"], "451");
        assert!(feedback(&event("sending", None)).is_none());
    }
}
