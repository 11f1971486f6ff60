use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use herald_domain::FieldError;
use herald_domain::ids::new_id;
use herald_domain::message::{Message, MessageStatus};
use herald_store::{MessageFilter, ResendRequest};

use crate::json_body::JsonBody;

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::problem::{ApiResult, Problem};
use crate::routes::campaigns::{query_problem, status_param};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(rename_all = "camelCase")]
pub struct ListQuery {
    campaign_id: Option<String>,
    execution_id: Option<String>,
    /// queued, sending, sent, delivered, failed, bounced, excluded or unknown.
    status: Option<String>,
    /// The `next` value of the previous page.
    cursor: Option<String>,
    /// Page size (1–200, default 50).
    limit: Option<usize>,
    /// Proofs are left out unless this is true.
    include_proofs: Option<bool>,
}

#[utoipa::path(get, path = "/v1/messages", tag = "messages", params(ListQuery),
    responses((status = 200, description = "{items: [Message], next?}"), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let Query(q) = q.map_err(query_problem)?;
    let status = status_param(
        q.status.as_deref(),
        MessageStatus::parse,
        "queued, sending, sent, delivered, failed, bounced, excluded, unknown",
    )?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let filter = MessageFilter {
        campaign_id: q.campaign_id,
        execution_id: q.execution_id,
        status,
        include_proofs: q.include_proofs.unwrap_or(false),
        after: q.cursor,
        limit: limit + 1,
    };
    let mut items = state.store.list_messages(&caller.sandbox, &filter).await?;
    let next = (items.len() > limit).then(|| {
        items.truncate(limit);
        items.last().map(|m| m.message_id.clone())
    });
    let mut out = json!({ "items": items });
    if let Some(Some(n)) = next {
        out["next"] = json!(n);
    }
    Ok(Json(out))
}

#[utoipa::path(get, path = "/v1/messages/{id}", tag = "messages",
    responses((status = 200, body = Message), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Message>> {
    caller.require(SCOPE_MANAGE)?;
    state
        .store
        .get_message(&caller.sandbox, &id)
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found("message", &id))
}

#[utoipa::path(get, path = "/v1/messages/{id}/events", tag = "messages",
    responses((status = 200, description = "The message's timeline: every status it went through and every open, click, unsubscribe, bounce or complaint, oldest first"), (status = 404, body = Problem)))]
pub async fn events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(SCOPE_MANAGE)?;
    let m = state
        .store
        .get_message(&caller.sandbox, &id)
        .await?
        .ok_or_else(|| Problem::not_found("message", &id))?;
    Ok(Json(serde_json::json!({
        "messageId": m.message_id,
        "status": m.status,
        "events": m.history,
    })))
}

/// The most messages one resend call takes.
const MAX_RESEND: usize = 10_000;

/// `POST /v1/messages:resend`: either `messageIds`, or a selection of a
/// campaign's (or execution's) failed or unknown messages.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResendBody {
    #[serde(default)]
    message_ids: Option<Vec<String>>,
    #[serde(default)]
    campaign_id: Option<String>,
    #[serde(default)]
    execution_id: Option<String>,
    /// `failed` (default) or `unknown`.
    #[serde(default)]
    status: Option<String>,
    /// At most this many of the selection (default and maximum 10,000).
    #[serde(default)]
    limit: Option<usize>,
}

#[utoipa::path(post, path = "/v1/messages:resend", tag = "messages", request_body = ResendBody,
    responses((status = 202, description = "{resent: n, skipped: n, items: [{messageId, newMessageId?, resendOf?, skipped?}]}"),
              (status = 400, body = Problem)))]
pub async fn resend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: JsonBody<ResendBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(SCOPE_MANAGE)?;
    let b = body.value;
    let ids: Vec<String> = match (&b.message_ids, &b.campaign_id, &b.execution_id) {
        (Some(ids), None, None) => {
            if ids.is_empty() || ids.len() > MAX_RESEND {
                return Err(Problem::bad_request(vec![FieldError::new(
                    "/messageIds",
                    "out_of_range",
                    format!("between 1 and {MAX_RESEND} message ids"),
                )]));
            }
            let mut seen = std::collections::HashSet::new();
            ids.iter().filter(|i| seen.insert(*i)).cloned().collect()
        }
        (None, campaign_id, execution_id) if campaign_id.is_some() || execution_id.is_some() => {
            let status = match b.status.as_deref() {
                None | Some("failed") => MessageStatus::Failed,
                Some("unknown") => MessageStatus::Unknown,
                Some(other) => {
                    return Err(Problem::bad_request(vec![FieldError::new(
                        "/status",
                        "invalid_value",
                        format!("'{other}' cannot be resent: failed or unknown"),
                    )]));
                }
            };
            let limit = b.limit.unwrap_or(MAX_RESEND);
            if !(1..=MAX_RESEND).contains(&limit) {
                return Err(Problem::bad_request(vec![FieldError::new(
                    "/limit",
                    "out_of_range",
                    format!("limit must be between 1 and {MAX_RESEND}"),
                )]));
            }
            let mut ids = Vec::new();
            let mut after = None;
            while ids.len() < limit {
                let page = state
                    .store
                    .list_messages(
                        &caller.sandbox,
                        &MessageFilter {
                            campaign_id: campaign_id.clone(),
                            execution_id: execution_id.clone(),
                            status: Some(status),
                            include_proofs: false,
                            after: after.clone(),
                            limit: 500.min(limit - ids.len()),
                        },
                    )
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.message_id.clone());
                ids.extend(page.into_iter().map(|m| m.message_id));
            }
            ids
        }
        _ => {
            return Err(Problem::bad_request(vec![FieldError::new(
                "/messageIds",
                "required",
                "give either messageIds, or campaignId / executionId (with an optional status)",
            )]));
        }
    };
    let new_ids = ids.iter().map(|_| new_id()).collect();
    let items = state
        .store
        .resend_messages(
            &caller.sandbox,
            ResendRequest {
                message_ids: ids,
                new_ids,
            },
            Utc::now().trunc_subsecs(3),
        )
        .await?;
    let resent = items.iter().filter(|r| r.new_message_id.is_some()).count();
    if resent > 0 {
        state.wake_delivery();
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "resent": resent, "skipped": items.len() - resent, "items": items })),
    ))
}
