use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::Utc;
use serde_json::{Value, json};

use herald_domain::channel::{ChannelConfiguration, NewChannelConfiguration};
use herald_domain::ids::new_id;

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};

#[utoipa::path(post, path = "/v1/channel-configurations", tag = "channel configurations",
    request_body = NewChannelConfiguration,
    responses((status = 201, body = ChannelConfiguration), (status = 400, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: JsonBody<NewChannelConfiguration>,
) -> ApiResult<(StatusCode, Json<ChannelConfiguration>)> {
    caller.require(SCOPE_MANAGE)?;
    let errors = body.value.validate();
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let cfg = body
        .value
        .into_configuration(new_id(), caller.sandbox.clone(), Utc::now());
    state.store.insert_channel_configuration(&cfg).await?;
    Ok((StatusCode::CREATED, Json(cfg)))
}

#[utoipa::path(get, path = "/v1/channel-configurations", tag = "channel configurations",
    responses((status = 200, description = "{items: [ChannelConfiguration]}")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let items = state
        .store
        .list_channel_configurations(&caller.sandbox)
        .await?;
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(get, path = "/v1/channel-configurations/{id}", tag = "channel configurations",
    responses((status = 200, body = ChannelConfiguration), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<ChannelConfiguration>> {
    caller.require(SCOPE_MANAGE)?;
    state
        .store
        .get_channel_configuration(&caller.sandbox, &id)
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found("channel configuration", &id))
}
