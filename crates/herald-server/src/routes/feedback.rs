//! `POST /v1/feedback/bounces`: providers' bounce and complaint webhooks in
//! one generic shape, recorded like the DSNs and ARF reports the inbound
//! SMTP listener receives. Feedback that matches no message is counted and
//! answered, not refused: the provider must not retry it forever.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::{Extension, Json};
use chrono::{SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use herald_domain::FieldError;
use herald_domain::feedback::WebhookFeedback;
use herald_store::FeedbackRecorded;

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::json_body::{body_rejection, from_value, parse_value};
use crate::problem::{ApiResult, Problem};

/// Entries one call may carry.
const MAX_ENTRIES: usize = 500;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackSummary {
    pub recorded: u64,
    /// Reported before: nothing changed.
    pub duplicates: u64,
    /// Matching no message of this sandbox.
    pub unmatched: u64,
    /// One per entry, in order: `{outcome: "recorded", messageId,
    /// suppressed}`, `{outcome: "duplicate", messageId}` or `{outcome:
    /// "unmatched"}`.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<FeedbackRecorded>,
}

#[utoipa::path(post, path = "/v1/feedback/bounces", tag = "feedback",
    request_body(content = Vec<WebhookFeedback>, description = "One entry, or an array of up to 500"),
    responses((status = 200, body = FeedbackSummary), (status = 400, body = Problem)))]
pub async fn bounces(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<FeedbackSummary>> {
    caller.require(SCOPE_MANAGE)?;
    // An object or an array of them: read as a value, each entry checked.
    let raw = parse_value(&body.map_err(body_rejection)?)?;
    // Every entry is checked before any is recorded: a 400 changes nothing.
    let entries: Vec<(String, &Value)> = match &raw {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("/{i}"), v))
            .collect(),
        one => vec![(String::new(), one)],
    };
    if entries.is_empty() || entries.len() > MAX_ENTRIES {
        return Err(Problem::bad_request(vec![FieldError::new(
            "",
            "invalid_length",
            format!("between 1 and {MAX_ENTRIES} entries expected"),
        )]));
    }
    let mut events = Vec::with_capacity(entries.len());
    let mut errors = Vec::new();
    for (at, v) in entries {
        let parsed: WebhookFeedback = match from_value(v) {
            Ok(p) => p,
            Err(p) => {
                errors.extend(p.errors.iter().map(|e| FieldError {
                    pointer: format!("{at}{}", e.pointer),
                    ..e.clone()
                }));
                continue;
            }
        };
        match parsed.into_event(&at) {
            Ok(e) => events.push(e),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let mut summary = FeedbackSummary {
        recorded: 0,
        duplicates: 0,
        unmatched: 0,
        results: Vec::with_capacity(events.len()),
    };
    let now = Utc::now().trunc_subsecs(3);
    for e in &events {
        let r = state
            .store
            .record_feedback(Some(&caller.sandbox), e, now)
            .await?;
        let outcome = match &r {
            FeedbackRecorded::Recorded { message_id, .. } => {
                summary.recorded += 1;
                tracing::info!(message_id, kind = e.event_status(), reason = ?e.reason(), "feedback recorded");
                "recorded"
            }
            FeedbackRecorded::Duplicate { .. } => {
                summary.duplicates += 1;
                "duplicate"
            }
            FeedbackRecorded::Unmatched => {
                summary.unmatched += 1;
                tracing::info!(message_id = ?e.message_id, header_message_id = ?e.header_message_id,
                    "feedback matches no message");
                "unmatched"
            }
        };
        metrics::counter!("herald_feedback_total", "source" => "webhook", "outcome" => outcome)
            .increment(1);
        summary.results.push(r);
    }
    Ok(Json(summary))
}
