//! Audiences: rule-based (an expression over profile attributes) and
//! static (uploaded identities), with a size estimate.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use herald_domain::FieldError;
use herald_domain::audience::{
    Audience, AudienceKind, AudienceRule, NewAudience, profile_data, validate_identities,
};
use herald_domain::identity;
use herald_domain::ids::new_id;
use herald_domain::profile::Identity;
use herald_store::StoreError;

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};
use crate::routes::identity_namespaces::kind_of;

/// Profiles read per page by the estimate.
const ESTIMATE_PAGE: usize = 5_000;

/// Identities as stored: each value normalized for its namespace, each
/// bad one reported at its place.
async fn normalize_members(
    state: &AppState,
    sandbox: &str,
    ids: &[Identity],
    at: &str,
) -> Result<Vec<Identity>, Problem> {
    let errors = validate_identities(ids, at);
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let mut kinds = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(ids.len());
    let mut errors = Vec::new();
    for (i, ident) in ids.iter().enumerate() {
        let kind = match kinds.get(&ident.namespace) {
            Some(k) => *k,
            None => {
                let k = kind_of(
                    state,
                    sandbox,
                    &ident.namespace,
                    &format!("{at}/{i}/namespace"),
                )
                .await?;
                kinds.insert(ident.namespace.clone(), k);
                k
            }
        };
        match identity::normalize(kind, &ident.id) {
            Ok(id) => out.push(Identity {
                namespace: ident.namespace.clone(),
                id,
            }),
            Err(e) => errors.push(FieldError::new(
                format!("{at}/{i}/id"),
                e.code(),
                e.to_string(),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    Ok(out)
}

#[utoipa::path(post, path = "/v1/audiences", tag = "audiences", request_body = NewAudience,
    responses((status = 201, body = Audience), (status = 400, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: JsonBody<NewAudience>,
) -> ApiResult<impl IntoResponse> {
    caller.require(SCOPE_MANAGE)?;
    let new = body.value;
    let errors = new.validate();
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let members = match &new.identities {
        Some(ids) => normalize_members(&state, &caller.sandbox, ids, "/identities").await?,
        None => Vec::new(),
    };
    let now = Utc::now();
    let mut a = Audience {
        id: new_id(),
        sandbox: caller.sandbox.clone(),
        name: new.name.trim().to_string(),
        description: new.description.clone(),
        kind: new.kind(),
        rule: new.rule.clone(),
        member_count: None,
        created_at: now,
        updated_at: now,
    };
    state.store.insert_audience(&a, &members).await?;
    if a.kind == AudienceKind::Static {
        a.member_count = state
            .store
            .get_audience(&caller.sandbox, &a.id)
            .await?
            .and_then(|s| s.member_count);
    }
    let location = format!("/v1/audiences/{}", a.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(a)))
}

#[utoipa::path(get, path = "/v1/audiences", tag = "audiences",
    responses((status = 200, description = "{items: [Audience]}")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let items = state.store.list_audiences(&caller.sandbox).await?;
    Ok(Json(json!({ "items": items })))
}

async fn load(state: &AppState, sandbox: &str, id: &str) -> Result<Audience, Problem> {
    state
        .store
        .get_audience(sandbox, id)
        .await?
        .ok_or_else(|| Problem::not_found("audience", id))
}

#[utoipa::path(get, path = "/v1/audiences/{id}", tag = "audiences",
    responses((status = 200, body = Audience), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Audience>> {
    caller.require(SCOPE_MANAGE)?;
    Ok(Json(load(&state, &caller.sandbox, &id).await?))
}

#[utoipa::path(delete, path = "/v1/audiences/{id}", tag = "audiences",
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(SCOPE_MANAGE)?;
    if state.store.delete_audience(&caller.sandbox, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("audience", &id))
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MembersBody {
    identities: Vec<Identity>,
}

#[utoipa::path(post, path = "/v1/audiences/{id}/members", tag = "audiences", request_body = MembersBody,
    responses((status = 200, description = "{added, memberCount}"), (status = 400, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn add_members(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: JsonBody<MembersBody>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let a = load(&state, &caller.sandbox, &id).await?;
    if a.kind != AudienceKind::Static {
        return Err(Problem::conflict(
            "not-a-static-audience",
            "members can be added to a static audience only; this one is a rule",
        ));
    }
    let members = normalize_members(
        &state,
        &caller.sandbox,
        &body.value.identities,
        "/identities",
    )
    .await?;
    let added = state
        .store
        .add_audience_members(&caller.sandbox, &id, &members)
        .await?;
    let count = load(&state, &caller.sandbox, &id).await?.member_count;
    Ok(Json(json!({ "added": added, "memberCount": count })))
}

#[utoipa::path(get, path = "/v1/audiences/{id}/estimate", tag = "audiences",
    responses((status = 200, description = "{count, scanned, elapsedMs}: profiles in the audience now"),
              (status = 404, body = Problem)))]
pub async fn estimate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let a = load(&state, &caller.sandbox, &id).await?;
    let started = Instant::now();
    let rule = match &a.rule {
        Some(r) => Some(AudienceRule::compile(r).map_err(|e| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-rule",
                "Invalid rule",
                "the stored rule does not compile",
            )
            .with_errors(e)
        })?),
        None => None,
    };
    let (count, scanned) = count_members(&state, &caller.sandbox, &a, rule.as_ref()).await?;
    Ok(Json(json!({
        "audienceId": a.id,
        "count": count,
        "scanned": scanned,
        "elapsedMs": started.elapsed().as_millis() as u64,
    })))
}

/// Streams the audience page by page; the next page is read while the
/// current one is evaluated.
async fn count_members(
    state: &AppState,
    sandbox: &str,
    a: &Audience,
    rule: Option<&AudienceRule>,
) -> Result<(u64, u64), StoreError> {
    let store = state.store.as_ref();
    // Only the attributes the rule reads are built.
    let projection = rule.and_then(AudienceRule::projection);
    let mut count = 0u64;
    let mut scanned = 0u64;
    let mut page = store
        .scan_audience(sandbox, a, "", 0, ESTIMATE_PAGE)
        .await?;
    loop {
        let next = page.next;
        let candidates = std::mem::take(&mut page.candidates);
        let evaluate = async {
            let n = candidates.len() as u64;
            let matched = match rule {
                None => n,
                Some(rule) => candidates
                    .into_iter()
                    .filter(|c| {
                        let attributes = match &projection {
                            Some(p) => p.parse(&c.attributes),
                            None => serde_json::from_str::<Value>(&c.attributes),
                        };
                        attributes.is_ok_and(|v| rule.matches(&profile_data(v)))
                    })
                    .count() as u64,
            };
            (n, matched)
        };
        match next {
            None => {
                let (n, m) = evaluate.await;
                return Ok((count + m, scanned + n));
            }
            Some(after) => {
                let (r, (n, m)) = tokio::join!(
                    store.scan_audience(sandbox, a, "", after, ESTIMATE_PAGE),
                    evaluate
                );
                scanned += n;
                count += m;
                page = r?;
            }
        }
    }
}
