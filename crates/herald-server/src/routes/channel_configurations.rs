use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::Utc;
use serde_json::{Value, json};

use herald_domain::FieldError;
use herald_domain::channel::{ChannelConfiguration, DkimKeyAlgorithm, NewChannelConfiguration};
use herald_domain::ids::new_id;
use herald_mail::{DkimAlgorithm, DkimSigner};

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
    let mut errors = body.value.validate();
    if errors.is_empty() {
        errors = check_dkim_keys(&body.value);
    }
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let cfg = body
        .value
        .into_configuration(new_id(), caller.sandbox.clone(), Utc::now());
    state.store.insert_channel_configuration(&cfg).await?;
    Ok((StatusCode::CREATED, Json(cfg.redacted())))
}

/// Parses every DKIM key now, so a bad key is a 400 here rather than a
/// failed send later. The domain model only checks the shape.
fn check_dkim_keys(new: &NewChannelConfiguration) -> Vec<FieldError> {
    let keys = new.email.iter().flat_map(|e| e.dkim.iter().flatten());
    keys.enumerate()
        .filter_map(|(i, key)| {
            let algorithm = match key.algorithm {
                DkimKeyAlgorithm::RsaSha256 => DkimAlgorithm::RsaSha256,
                DkimKeyAlgorithm::Ed25519Sha256 => DkimAlgorithm::Ed25519Sha256,
            };
            DkimSigner::from_pem(&key.domain, &key.selector, algorithm, &key.private_key)
                .err()
                .map(|e| {
                    FieldError::new(
                        format!("/email/dkim/{i}/privateKey"),
                        "invalid_key",
                        e.to_string(),
                    )
                })
        })
        .collect()
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
    let items: Vec<ChannelConfiguration> =
        items.iter().map(ChannelConfiguration::redacted).collect();
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
        .map(|cfg| Json(cfg.redacted()))
        .ok_or_else(|| Problem::not_found("channel configuration", &id))
}
