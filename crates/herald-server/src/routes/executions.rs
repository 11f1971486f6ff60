//! The execution API (reference-compatible) and execution lookups.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde_json::{Value, json};

use herald_domain::FieldError;
use herald_domain::campaign::{
    CampaignCategory, CampaignStatus, CampaignVersion, MissingValues, WindowPosition,
};
use herald_domain::execution::{
    Execution, ExecutionResponse, MAX_CONTEXT_BYTES, PlannedMessage, RecipientResult,
    RecipientType, UnitaryRequest, assign_locales, exclude_missing_values, plan_unitary,
};
use herald_domain::ids::new_id;
use herald_domain::json::canonical_hash;
use herald_domain::message::MessageStatus;
use herald_domain::policy::suppression_exclusion;
use herald_domain::profile::{Profile, ProfileOrigin, normalize_identity};
use herald_store::{AcceptOutcome, NewExecution};

use crate::AppState;
use crate::auth::{Caller, SCOPE_EXECUTE, SCOPE_MANAGE};
use crate::campaign_cache::LiveCampaign;
use crate::json_body::{from_value, parse_value};
use crate::problem::{ApiResult, Problem};

/// `POST /ajo/im/executions/unitary` (also `/v1/executions/unitary`).
#[utoipa::path(post, path = "/ajo/im/executions/unitary", tag = "execution", request_body = UnitaryRequest,
    params(("x-sandbox-name" = Option<String>, Header, description = "Sandbox (default prod)")),
    responses(
        (status = 202, body = ExecutionResponse, description = "Accepted: the execution and its messages are on disk"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn unitary(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return crate::json_body::body_rejection(e).into_response(),
    };
    match execute(&state, &caller, &body, Mode::Unitary).await {
        Ok(r) => r,
        Err(p) => p.into_response(),
    }
}

/// `POST /ajo/im/executions/highthroughput` (also `/v1/executions/highthroughput`):
/// high-throughput campaigns; `external` recipients only, no profile lookup
/// or creation.
#[utoipa::path(post, path = "/ajo/im/executions/highthroughput", tag = "execution", request_body = UnitaryRequest,
    params(("x-sandbox-name" = Option<String>, Header, description = "Sandbox (default prod)")),
    responses(
        (status = 202, body = ExecutionResponse, description = "Accepted: the execution and its messages are on disk"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 413, body = Problem)))]
pub async fn high_throughput(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return crate::json_body::body_rejection(e).into_response(),
    };
    match execute(&state, &caller, &body, Mode::HighThroughput).await {
        Ok(r) => r,
        Err(p) => p.into_response(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Unitary,
    HighThroughput,
}

async fn execute(
    state: &AppState,
    caller: &Caller,
    body: &[u8],
    mode: Mode,
) -> ApiResult<Response> {
    caller.require(SCOPE_EXECUTE)?;
    let raw = parse_value(body)?;
    let req: UnitaryRequest = from_value(&raw)?;
    let ctx = |p: Problem| {
        p.with_context("requestId", &req.request_id)
            .with_context("campaignId", &req.campaign_id)
    };
    if req.context_bytes() > MAX_CONTEXT_BYTES {
        return Err(ctx(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "context-too-large",
            "Context too large",
            format!(
                "the call carries {} bytes of context; the limit is {MAX_CONTEXT_BYTES}",
                req.context_bytes()
            ),
        )
        .at("/context")));
    }
    let mut errors = req.validate();
    if mode == Mode::HighThroughput {
        for (i, r) in req.recipients.iter().enumerate() {
            if r.kind != RecipientType::External {
                errors.push(FieldError::new(
                    format!("/recipients/{i}/type"),
                    "external_only",
                    "high-throughput calls take recipients of type \"external\" only (no profile lookup)",
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(ctx(Problem::bad_request(errors)));
    }
    let live = state
        .campaigns
        .get(state.store.as_ref(), &caller.sandbox, &req.campaign_id)
        .await?
        .ok_or_else(|| ctx(Problem::not_found("campaign", &req.campaign_id).at("/campaignId")))?;
    let now = Utc::now();
    let request_hash = canonical_hash(&raw);
    let version = match executable_version(&live, now) {
        Ok(v) => v,
        Err(problem) => {
            // A retry of a call that was accepted before the campaign
            // stopped (or its window closed) still gets its first answer.
            if let Some(prev) = state
                .store
                .find_execution_by_request(&caller.sandbox, &req.campaign_id, &req.request_id)
                .await?
            {
                return replay(prev, &request_hash).map_err(ctx);
            }
            return Err(ctx(problem));
        }
    };
    let def = &version.definition;
    match (mode, def.high_throughput) {
        (Mode::Unitary, true) => {
            return Err(ctx(Problem::conflict(
                "wrong-campaign-kind",
                "this is a high-throughput campaign: fire it with POST /ajo/im/executions/highthroughput",
            )
            .at("/campaignId")));
        }
        (Mode::HighThroughput, false) => {
            return Err(ctx(Problem::conflict(
                "wrong-campaign-kind",
                "this campaign is not in high-throughput mode: fire it with POST /ajo/im/executions/unitary",
            )
            .at("/campaignId")));
        }
        _ => {}
    }

    // Idempotency fast path before the profile lookups a replay would
    // repeat; the store enforces idempotency again, atomically, on accept.
    let has_lookups = req.recipients.iter().any(|r| r.kind == RecipientType::Aep);
    if has_lookups
        && let Some(prev) = state
            .store
            .find_execution_by_request(&caller.sandbox, &req.campaign_id, &req.request_id)
            .await?
    {
        return replay(prev, &request_hash).map_err(ctx);
    }

    let profiles = lookup_profiles(state, caller, &req).await?;
    let plan = plan_unitary(&req, def.action.channel, def.audience.create_new_profiles, &profiles, new_id).map_err(|u| {
        ctx(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-recipient",
            "Unknown recipient",
            "some recipients have no profile and the campaign does not create profiles; nothing was sent",
        )
        .with_errors(u.0))
    })?;

    let mut plan = plan;
    apply_suppressions(
        state,
        caller,
        def.category,
        def.action.channel,
        &mut plan.messages,
    )
    .await?;
    if let Some(chooser) = live.locale_chooser() {
        let context = req.context.clone().unwrap_or_else(|| json!({}));
        assign_locales(&mut plan.messages, chooser, &context);
    }
    if def.missing_values == MissingValues::Fail
        && let Some(content) = live.compiled()
    {
        let context = req.context.clone().unwrap_or_else(|| json!({}));
        exclude_missing_values(&mut plan.messages, content, &context);
    }

    let execution_id = new_id();
    let response = ExecutionResponse {
        execution_id: execution_id.clone(),
        request_id: req.request_id.clone(),
        created_at: now,
        created_by: caller.key_name.clone(),
        modified_at: now,
        modified_by: caller.key_name.clone(),
        recipients: plan
            .messages
            .iter()
            .map(|m| RecipientResult {
                user_id: m.user_id.clone(),
                message_id: m.message_id.clone(),
                status: m.status,
                reason: m.exclusion_reason.clone(),
            })
            .collect(),
    };
    let response_json = serde_json::to_value(&response).map_err(Problem::internal)?;
    let new = NewExecution {
        execution: Execution {
            id: execution_id.clone(),
            sandbox: caller.sandbox.clone(),
            campaign_id: req.campaign_id.clone(),
            campaign_version: version.version,
            request_id: req.request_id.clone(),
            request_hash: request_hash.clone(),
            kind: match mode {
                Mode::Unitary => "unitary".into(),
                Mode::HighThroughput => "highThroughput".into(),
            },
            context: req.context.clone().unwrap_or_else(|| json!({})),
            created_at: now,
            created_by: caller.key_name.clone(),
            response: response_json.clone(),
        },
        channel: def.action.channel,
        priority: 0,
        messages: plan.messages,
        profiles_to_create: plan.profiles_to_create,
        profile_origin: Some(ProfileOrigin {
            campaign_id: req.campaign_id.clone(),
            request_id: req.request_id.clone(),
        }),
    };
    match state.store.accept_execution(new).await? {
        AcceptOutcome::Created => {
            state.wake_delivery();
            let kind = match mode {
                Mode::Unitary => "unitary",
                Mode::HighThroughput => "highThroughput",
            };
            metrics::counter!("herald_executions_accepted_total", "kind" => kind).increment(1);
            tracing::debug!(execution_id = %execution_id, campaign_id = %req.campaign_id, "execution accepted");
            Ok((StatusCode::ACCEPTED, Json(response_json)).into_response())
        }
        AcceptOutcome::Existing(prev) => replay(*prev, &request_hash).map_err(ctx),
    }
}

/// Excludes the recipients on the sandbox's suppression list (one lookup
/// for the call). Transactional messages ignore unsubscribes only.
async fn apply_suppressions(
    state: &AppState,
    caller: &Caller,
    category: CampaignCategory,
    channel: herald_domain::channel::Channel,
    messages: &mut [PlannedMessage],
) -> ApiResult<()> {
    let addresses: Vec<String> = messages
        .iter()
        .filter(|m| m.status == MessageStatus::Queued)
        .filter_map(|m| m.address.clone())
        .collect();
    if addresses.is_empty() {
        return Ok(());
    }
    let hits = state
        .store
        .suppressed(&caller.sandbox, channel, &addresses)
        .await?;
    for m in messages
        .iter_mut()
        .filter(|m| m.status == MessageStatus::Queued)
    {
        if let Some((reason, detail)) = m
            .address
            .as_ref()
            .and_then(|a| hits.get(a))
            .and_then(|hit| suppression_exclusion(category, hit))
        {
            m.status = MessageStatus::Excluded;
            m.exclusion_reason = Some(reason.to_string());
            m.detail = Some(detail);
        }
    }
    Ok(())
}

/// The version that serves this call, or why none does.
fn executable_version(
    live: &LiveCampaign,
    now: chrono::DateTime<Utc>,
) -> Result<&CampaignVersion, Problem> {
    serving_version(live, now).map_err(|p| p.at("/campaignId"))
}

fn serving_version(
    live: &LiveCampaign,
    now: chrono::DateTime<Utc>,
) -> Result<&CampaignVersion, Problem> {
    let Some(version) = live.version.as_ref().filter(|_| {
        matches!(
            live.campaign.status,
            CampaignStatus::Live | CampaignStatus::Scheduled
        )
    }) else {
        return Err(Problem::conflict(
            "campaign-not-live",
            format!(
                "campaign is {}; only a live campaign can be executed",
                live.campaign.status.as_str()
            ),
        ));
    };
    let def = &version.definition;
    match def.schedule.position(now) {
        WindowPosition::Inside => {}
        WindowPosition::Before => {
            return Err(Problem::conflict(
                "outside-schedule",
                format!(
                    "campaign is scheduled and has not started: its window is {}",
                    def.schedule.describe()
                ),
            ));
        }
        WindowPosition::After => {
            return Err(Problem::conflict(
                "outside-schedule",
                format!(
                    "campaign is completed: its window was {}",
                    def.schedule.describe()
                ),
            ));
        }
    }
    if def.category != CampaignCategory::Transactional {
        return Err(Problem::conflict(
            "wrong-campaign-kind",
            "this is a marketing campaign: fire it at its audience with POST /ajo/im/executions/audience",
        ));
    }
    Ok(version)
}

/// A repeat of (campaign, requestId): the first answer again, or a 409 when
/// the body differs.
fn replay(prev: Execution, request_hash: &str) -> Result<Response, Problem> {
    if prev.request_hash != request_hash {
        return Err(Problem::conflict(
            "request-id-reused",
            format!(
                "requestId '{}' was already used for this campaign with a different body (execution {})",
                prev.request_id, prev.id
            ),
        )
        .at("/requestId"));
    }
    let mut resp = (StatusCode::ACCEPTED, Json(prev.response)).into_response();
    resp.headers_mut()
        .insert("Idempotent-Replayed", HeaderValue::from_static("true"));
    Ok(resp)
}

/// Profiles of the `aep` recipients, by recipient index; one query per
/// namespace used in the call.
async fn lookup_profiles(
    state: &AppState,
    caller: &Caller,
    req: &UnitaryRequest,
) -> ApiResult<HashMap<usize, Profile>> {
    let mut by_ns: HashMap<&str, Vec<(usize, String)>> = HashMap::new();
    for (i, r) in req.recipients.iter().enumerate() {
        if r.kind == RecipientType::Aep {
            by_ns
                .entry(r.namespace.as_str())
                .or_default()
                .push((i, normalize_identity(&r.namespace, &r.user_id)));
        }
    }
    let mut out = HashMap::new();
    for (ns, wanted) in by_ns {
        let ids: Vec<String> = wanted.iter().map(|(_, id)| id.clone()).collect();
        let found = state.store.find_profiles(&caller.sandbox, ns, &ids).await?;
        for (i, id) in wanted {
            if let Some(p) = found.get(&id) {
                out.insert(i, p.clone());
            }
        }
    }
    Ok(out)
}

#[utoipa::path(get, path = "/v1/executions/{id}", tag = "execution",
    responses((status = 200, description = "{executionId, requestId, campaignId, campaignVersion, status, messages}"), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    if caller.require(SCOPE_MANAGE).is_err() {
        caller.require(SCOPE_EXECUTE)?;
    }
    let e = state
        .store
        .get_execution(&caller.sandbox, &id)
        .await?
        .ok_or_else(|| Problem::not_found("execution", &id))?;
    if e.kind == "audience" {
        // Up to millions of messages: the status and a link, not the list.
        let f = state.store.get_fanout(&caller.sandbox, &id).await?;
        return Ok(Json(json!({
            "executionId": e.id,
            "requestId": e.request_id,
            "campaignId": e.campaign_id,
            "campaignVersion": e.campaign_version,
            "kind": e.kind,
            "createdAt": e.created_at,
            "createdBy": e.created_by,
            "status": f.as_ref().map(|f| f.status.as_str()),
            "targetedProfileCount": f.as_ref().map(|f| f.targeted),
            "messages": format!("/v1/messages?executionId={}", e.id),
        })));
    }
    let messages = state
        .store
        .list_execution_messages(&caller.sandbox, &id)
        .await?;
    let done = messages.iter().all(|m| m.status.is_final());
    Ok(Json(json!({
        "executionId": e.id,
        "requestId": e.request_id,
        "campaignId": e.campaign_id,
        "campaignVersion": e.campaign_version,
        "createdAt": e.created_at,
        "createdBy": e.created_by,
        "status": if done { "completed" } else { "inProgress" },
        "messages": messages.iter().map(|m| json!({
            "messageId": m.message_id,
            "userId": m.user_id,
            "address": m.address,
            "status": m.status,
            "attempts": m.attempts,
            "lastError": m.last_error,
            "reason": m.exclusion_reason,
            "locale": m.locale,
            "sentAt": m.sent_at,
        })).collect::<Vec<_>>(),
    })))
}
