//! Feedback webhooks: where a sandbox's `message.feedback` events go.
//! Sending is not done here (see the `herald-webhooks` crate); these
//! routes manage the configurations and show the delivery log. Secrets
//! are never answered back: they read `***`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::{SubsecRound, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use herald_domain::FieldError;
use herald_domain::ids::new_id;
use herald_domain::webhook::{NewWebhook, Webhook, WebhookPatch};

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};
use crate::routes::campaigns::query_problem;

#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = NewWebhook,
    responses((status = 201, body = Webhook, description = "Created; secrets read ***"), (status = 400, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: JsonBody<NewWebhook>,
) -> ApiResult<impl IntoResponse> {
    caller.require(SCOPE_MANAGE)?;
    let w = body.value.into_webhook(
        new_id(),
        caller.sandbox.clone(),
        Utc::now().trunc_subsecs(3),
    );
    let errors = w.validate();
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    state.store.insert_webhook(&w).await?;
    tracing::info!(webhook_id = %w.id, sandbox = %w.sandbox, "webhook created");
    let location = format!("/v1/webhooks/{}", w.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(w.redacted()),
    ))
}

#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "{items: [Webhook]}, secrets read ***")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let items: Vec<Webhook> = state
        .store
        .list_webhooks(&caller.sandbox)
        .await?
        .iter()
        .map(Webhook::redacted)
        .collect();
    Ok(Json(json!({ "items": items })))
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Webhook> {
    state
        .store
        .get_webhook(&caller.sandbox, id)
        .await?
        .ok_or_else(|| Problem::not_found("webhook", id))
}

#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks",
    responses((status = 200, body = Webhook), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Webhook>> {
    caller.require(SCOPE_MANAGE)?;
    Ok(Json(find(&state, &caller, &id).await?.redacted()))
}

#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "webhooks", request_body = WebhookPatch,
    responses((status = 200, body = Webhook), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn patch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: JsonBody<WebhookPatch>,
) -> ApiResult<Json<Webhook>> {
    caller.require(SCOPE_MANAGE)?;
    let existing = find(&state, &caller, &id).await?;
    let w = body.value.apply(&existing, Utc::now().trunc_subsecs(3));
    let errors = w.validate();
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    if state.store.update_webhook(&w).await? {
        Ok(Json(w.redacted()))
    } else {
        // Deleted between the read and the write.
        Err(Problem::not_found("webhook", &id))
    }
}

#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    responses((status = 204, description = "Deleted with its delivery log"), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(SCOPE_MANAGE)?;
    if state.store.delete_webhook(&caller.sandbox, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("webhook", &id))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(rename_all = "camelCase")]
pub struct DeliveriesQuery {
    /// The `next` value of the previous page.
    cursor: Option<String>,
    /// Page size (1–200, default 50).
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", params(DeliveriesQuery),
    responses((status = 200, description = "{items: [WebhookDelivery], next?}, newest first"),
              (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn deliveries(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let Query(q) = q.map_err(query_problem)?;
    let before = match q.cursor.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            Problem::bad_request(vec![FieldError::new(
                "/cursor",
                "invalid_value",
                "cursor is the `next` value of a previous page",
            )])
        })?),
    };
    find(&state, &caller, &id).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let mut items = state
        .store
        .list_webhook_deliveries(&caller.sandbox, &id, before, limit + 1)
        .await?;
    let next = (items.len() > limit).then(|| {
        items.truncate(limit);
        items.last().map(|d| d.id.to_string())
    });
    let mut out = json!({ "items": items });
    if let Some(Some(n)) = next {
        out["next"] = json!(n);
    }
    Ok(Json(out))
}
