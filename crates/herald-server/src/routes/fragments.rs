//! Fragments: reusable named content blocks, versioned. A campaign version
//! records the fragment versions it was activated with.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::Utc;
use serde_json::{Value, json};

use herald_domain::campaign::CampaignStatus;
use herald_domain::fragment::{Fragment, FragmentUpdate, NewFragment};
use herald_domain::ids::new_id;
use herald_store::StoreError;

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};

#[utoipa::path(post, path = "/v1/fragments", tag = "fragments", request_body = NewFragment,
    responses((status = 201, body = Fragment), (status = 400, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: JsonBody<NewFragment>,
) -> ApiResult<impl IntoResponse> {
    caller.require(SCOPE_MANAGE)?;
    let errors = body.value.validate();
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let now = Utc::now();
    let new = body.value;
    let f = Fragment {
        id: new_id(),
        sandbox: caller.sandbox.clone(),
        name: new.name,
        description: new.description,
        version: 1,
        content: new.content,
        created_at: now,
        updated_at: now,
    };
    state.store.insert_fragment_version(&f).await?;
    let location = format!("/v1/fragments/{}", f.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(f)))
}

#[utoipa::path(get, path = "/v1/fragments", tag = "fragments",
    responses((status = 200, description = "{items: [Fragment]} (latest versions)")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let items = state.store.list_fragments(&caller.sandbox).await?;
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(get, path = "/v1/fragments/{id}", tag = "fragments",
    responses((status = 200, body = Fragment, description = "The latest version"), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Fragment>> {
    caller.require(SCOPE_MANAGE)?;
    state
        .store
        .get_fragment(&caller.sandbox, &id, None)
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found("fragment", &id))
}

#[utoipa::path(get, path = "/v1/fragments/{id}/versions/{version}", tag = "fragments",
    responses((status = 200, body = Fragment), (status = 404, body = Problem)))]
pub async fn get_version(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<Json<Fragment>> {
    caller.require(SCOPE_MANAGE)?;
    let not_found = || Problem::not_found("fragment version", &format!("{id}/versions/{version}"));
    let n: i64 = version.parse().map_err(|_| not_found())?;
    state
        .store
        .get_fragment(&caller.sandbox, &id, Some(n))
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

#[utoipa::path(put, path = "/v1/fragments/{id}", tag = "fragments", request_body = FragmentUpdate,
    responses((status = 200, body = Fragment, description = "The new version"), (status = 400, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn put(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: JsonBody<FragmentUpdate>,
) -> ApiResult<Json<Fragment>> {
    caller.require(SCOPE_MANAGE)?;
    let errors = body.value.validate();
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let latest = state
        .store
        .get_fragment(&caller.sandbox, &id, None)
        .await?
        .ok_or_else(|| Problem::not_found("fragment", &id))?;
    let update = body.value;
    let f = Fragment {
        id: id.clone(),
        sandbox: caller.sandbox.clone(),
        name: update.name.unwrap_or(latest.name),
        description: update.description.or(latest.description),
        version: latest.version + 1,
        content: update.content,
        created_at: latest.created_at,
        updated_at: Utc::now(),
    };
    match state.store.insert_fragment_version(&f).await {
        Ok(()) => Ok(Json(f)),
        Err(StoreError::Conflict) => Err(Problem::conflict(
            "fragment-changed",
            format!(
                "fragment {id} got version {} concurrently; read it and try again",
                f.version
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(delete, path = "/v1/fragments/{id}", tag = "fragments",
    responses((status = 204, description = "Deleted, every version"), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "A live campaign uses it")))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(SCOPE_MANAGE)?;
    if state
        .store
        .get_fragment(&caller.sandbox, &id, None)
        .await?
        .is_none()
    {
        return Err(Problem::not_found("fragment", &id));
    }
    let mut users = Vec::new();
    for c in state.store.list_campaigns(&caller.sandbox).await? {
        if !matches!(c.status, CampaignStatus::Live | CampaignStatus::Scheduled) {
            continue;
        }
        let Some(v) = c.live_version else { continue };
        if let Some(version) = state
            .store
            .get_campaign_version(&caller.sandbox, &c.id, v)
            .await?
            && version.fragments.contains_key(&id)
        {
            users.push(c.id.clone());
        }
    }
    if !users.is_empty() {
        return Err(Problem::conflict(
            "fragment-in-use",
            format!(
                "fragment {id} is used by live campaign(s) {}; stop them (or activate versions without it) first",
                users.join(", ")
            ),
        )
        .with_context("fragmentId", &id));
    }
    state.store.delete_fragment(&caller.sandbox, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
