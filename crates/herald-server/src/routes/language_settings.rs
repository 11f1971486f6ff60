//! Language settings: the locales of multilingual campaigns, per sandbox.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::Utc;
use serde_json::{Value, json};

use herald_domain::ids::new_id;
use herald_domain::language::{LanguageSettings, NewLanguageSettings};

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};

#[utoipa::path(post, path = "/v1/language-settings", tag = "language settings",
    request_body = NewLanguageSettings,
    responses((status = 201, body = LanguageSettings), (status = 400, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: JsonBody<NewLanguageSettings>,
) -> ApiResult<impl IntoResponse> {
    caller.require(SCOPE_MANAGE)?;
    let errors = body.value.validate();
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let settings = body
        .value
        .into_settings(new_id(), caller.sandbox.clone(), Utc::now());
    state.store.insert_language_settings(&settings).await?;
    let location = format!("/v1/language-settings/{}", settings.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(settings),
    ))
}

#[utoipa::path(get, path = "/v1/language-settings", tag = "language settings",
    responses((status = 200, description = "{items: [LanguageSettings]}")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let items = state.store.list_language_settings(&caller.sandbox).await?;
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(get, path = "/v1/language-settings/{id}", tag = "language settings",
    responses((status = 200, body = LanguageSettings), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<LanguageSettings>> {
    caller.require(SCOPE_MANAGE)?;
    state
        .store
        .get_language_settings(&caller.sandbox, &id)
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found("language settings", &id))
}
