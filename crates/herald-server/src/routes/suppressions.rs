//! Suppressions: addresses (or email domains) a sandbox never sends to.
//! Adding is idempotent: the same address (or domain) again answers 200
//! with the entry already there.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::{SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use herald_domain::FieldError;
use herald_domain::channel::Channel;
use herald_domain::ids::new_id;
use herald_domain::suppression::{
    NewSuppression, Suppression, SuppressionFilter, check_address, is_domain,
};

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};
use crate::routes::campaigns::query_problem;

#[utoipa::path(post, path = "/v1/suppressions", tag = "suppressions", request_body = NewSuppression,
    responses((status = 201, body = Suppression), (status = 200, body = Suppression, description = "Already suppressed: the existing entry"),
              (status = 400, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: JsonBody<NewSuppression>,
) -> ApiResult<impl IntoResponse> {
    caller.require(SCOPE_MANAGE)?;
    let errors = body.value.validate();
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let s = body.value.into_suppression(
        new_id(),
        caller.sandbox.clone(),
        Utc::now().trunc_subsecs(3),
    );
    let (entry, created) = state.store.add_suppression(&s).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("/v1/suppressions/{}", entry.id);
    Ok((status, [(header::LOCATION, location)], Json(entry)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(rename_all = "camelCase")]
pub struct ListQuery {
    /// email, sms or push.
    channel: Option<String>,
    /// Entries for this address (compared case-insensitively for email).
    address: Option<String>,
    /// Domain entries for this domain.
    domain: Option<String>,
    /// The `next` value of the previous page.
    cursor: Option<String>,
    /// Page size (1–200, default 50).
    limit: Option<usize>,
}

fn channel_param(value: Option<&str>) -> Result<Option<Channel>, Problem> {
    match value {
        None | Some("") => Ok(None),
        Some(s) => Channel::parse(s).map(Some).ok_or_else(|| {
            Problem::bad_request(vec![FieldError::new(
                "/channel",
                "invalid_value",
                format!("unknown channel '{s}'; one of email, sms, push"),
            )])
        }),
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

#[utoipa::path(get, path = "/v1/suppressions", tag = "suppressions", params(ListQuery),
    responses((status = 200, description = "{items: [Suppression], next?}"), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let Query(q) = q.map_err(query_problem)?;
    let channel = channel_param(q.channel.as_deref())?;
    let domain = non_empty(q.domain);
    if let Some(d) = &domain
        && !is_domain(d)
    {
        return Err(Problem::bad_request(vec![FieldError::new(
            "/domain",
            "invalid_domain",
            format!("'{d}' is not a domain name (example.com)"),
        )]));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let filter = SuppressionFilter {
        channel,
        address: non_empty(q.address),
        domain,
        after: non_empty(q.cursor),
        limit: limit + 1,
    };
    let mut items = state
        .store
        .list_suppressions(&caller.sandbox, &filter)
        .await?;
    let next = (items.len() > limit).then(|| {
        items.truncate(limit);
        items.last().map(|s| s.id.clone())
    });
    let mut out = json!({ "items": items });
    if let Some(Some(n)) = next {
        out["next"] = json!(n);
    }
    Ok(Json(out))
}

#[utoipa::path(get, path = "/v1/suppressions/{id}", tag = "suppressions",
    responses((status = 200, body = Suppression), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Suppression>> {
    caller.require(SCOPE_MANAGE)?;
    state
        .store
        .get_suppression(&caller.sandbox, &id)
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found("suppression", &id))
}

#[utoipa::path(delete, path = "/v1/suppressions/{id}", tag = "suppressions",
    responses((status = 204, description = "Deleted: the address may receive messages again"), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(SCOPE_MANAGE)?;
    if state.store.delete_suppression(&caller.sandbox, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("suppression", &id))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(rename_all = "camelCase")]
pub struct CheckQuery {
    /// email, sms or push.
    channel: Option<String>,
    /// The address (email address, E.164 phone number or push token).
    address: Option<String>,
}

/// Whether one address would be excluded as suppressed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuppressionCheck {
    pub suppressed: bool,
    /// The exclusion reason: emailSuppressed, domainSuppressed, smsSuppressed or pushSuppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The entry that suppresses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/suppressions:check", tag = "suppressions", params(CheckQuery),
    responses((status = 200, body = SuppressionCheck), (status = 400, body = Problem)))]
pub async fn check(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<CheckQuery>, QueryRejection>,
) -> ApiResult<Json<SuppressionCheck>> {
    caller.require(SCOPE_MANAGE)?;
    let Query(q) = q.map_err(query_problem)?;
    let mut errors = Vec::new();
    let channel = match channel_param(q.channel.as_deref()) {
        Ok(Some(c)) => Some(c),
        Ok(None) => {
            errors.push(FieldError::new(
                "/channel",
                "required",
                "channel is required (email, sms or push)",
            ));
            None
        }
        Err(p) => {
            errors.extend(p.errors.iter().cloned());
            None
        }
    };
    let address = non_empty(q.address);
    match (&address, channel) {
        (None, _) => errors.push(FieldError::new(
            "/address",
            "required",
            "address is required",
        )),
        (Some(a), Some(c)) => {
            if let Err(e) = check_address(c, a, "/address") {
                errors.push(e);
            }
        }
        (Some(_), None) => {}
    }
    let (Some(channel), Some(address), true) = (channel, address, errors.is_empty()) else {
        return Err(Problem::bad_request(errors));
    };
    let mut hits = state
        .store
        .suppressed(&caller.sandbox, channel, std::slice::from_ref(&address))
        .await?;
    Ok(Json(match hits.remove(&address) {
        Some(hit) => SuppressionCheck {
            suppressed: true,
            reason: Some(hit.reason_code.to_string()),
            suppression_id: Some(hit.suppression_id),
        },
        None => SuppressionCheck {
            suppressed: false,
            reason: None,
            suppression_id: None,
        },
    }))
}
