use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use herald_domain::message::{Message, MessageStatus};
use herald_store::MessageFilter;

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
    /// queued, sending, sent, delivered, failed, bounced or excluded.
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
        "queued, sending, sent, delivered, failed, bounced, excluded",
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
