//! Business rules: frequency caps on marketing messages, which campaigns
//! name in `businessRuleIds`.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::{SubsecRound, Utc};
use serde_json::{Value, json};

use herald_domain::business_rule::{BusinessRule, NewBusinessRule};
use herald_domain::ids::new_id;

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};

#[utoipa::path(post, path = "/v1/business-rules", tag = "business rules", request_body = NewBusinessRule,
    responses((status = 201, body = BusinessRule), (status = 400, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: JsonBody<NewBusinessRule>,
) -> ApiResult<impl IntoResponse> {
    caller.require(SCOPE_MANAGE)?;
    let errors = body.value.validate();
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let rule = body.value.into_rule(
        new_id(),
        caller.sandbox.clone(),
        Utc::now().trunc_subsecs(3),
    );
    state.store.insert_business_rule(&rule).await?;
    let location = format!("/v1/business-rules/{}", rule.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(rule),
    ))
}

#[utoipa::path(get, path = "/v1/business-rules", tag = "business rules",
    responses((status = 200, description = "{items: [BusinessRule]}")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let items = state.store.list_business_rules(&caller.sandbox).await?;
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(get, path = "/v1/business-rules/{id}", tag = "business rules",
    responses((status = 200, body = BusinessRule), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<BusinessRule>> {
    caller.require(SCOPE_MANAGE)?;
    state
        .store
        .get_business_rule(&caller.sandbox, &id)
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found("business rule", &id))
}

#[utoipa::path(put, path = "/v1/business-rules/{id}", tag = "business rules", request_body = NewBusinessRule,
    responses((status = 200, body = BusinessRule), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn put(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: JsonBody<NewBusinessRule>,
) -> ApiResult<Json<BusinessRule>> {
    caller.require(SCOPE_MANAGE)?;
    let errors = body.value.validate();
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let existing = state
        .store
        .get_business_rule(&caller.sandbox, &id)
        .await?
        .ok_or_else(|| Problem::not_found("business rule", &id))?;
    let rule = body.value.replace(&existing, Utc::now().trunc_subsecs(3));
    if state.store.update_business_rule(&rule).await? {
        Ok(Json(rule))
    } else {
        // Deleted between the read and the write.
        Err(Problem::not_found("business rule", &id))
    }
}

#[utoipa::path(delete, path = "/v1/business-rules/{id}", tag = "business rules",
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(SCOPE_MANAGE)?;
    if state
        .store
        .delete_business_rule(&caller.sandbox, &id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("business rule", &id))
    }
}
