//! Audience executions (marketing): fire a campaign at an audience now or
//! at `schedule.executeAt`; their status; scheduled executions.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde_json::{Value, json};

use herald_audience::{StartError, StartRequest};
use herald_domain::audience_execution::{
    AudienceExecutionRequest, AudienceRef, ExecutionStatusResponse, ScheduleStatus,
    ScheduledExecution, ScheduledExecutionResponse,
};
use herald_domain::execution::Execution;
use herald_domain::ids::new_id;
use herald_domain::json::canonical_hash;
use herald_store::{AcceptOutcome, ScheduleDeletion};

use crate::AppState;
use crate::auth::{Caller, SCOPE_EXECUTE, SCOPE_MANAGE};
use crate::json_body::{from_value, parse_value};
use crate::problem::{ApiResult, Problem};

fn start_problem(e: StartError) -> Problem {
    match e {
        StartError::CampaignNotFound(id) => Problem::not_found("campaign", &id).at("/campaignId"),
        StartError::NotLive(_) => {
            Problem::conflict("campaign-not-live", e.to_string()).at("/campaignId")
        }
        StartError::OutsideWindow(_) => {
            Problem::conflict("outside-schedule", e.to_string()).at("/campaignId")
        }
        StartError::NotMarketing => {
            Problem::conflict("wrong-campaign-kind", e.to_string()).at("/campaignId")
        }
        StartError::NoAudience => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no-audience",
            "No audience",
            e.to_string(),
        )
        .at("/audience/id"),
        StartError::AudienceNotFound(id) => Problem::not_found("audience", &id).at("/audience/id"),
        StartError::Store(e) => Problem::from(e),
    }
}

fn replayed(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut()
        .insert("Idempotent-Replayed", HeaderValue::from_static("true"));
    resp
}

fn reused(request_id: &str, what: &str) -> Problem {
    Problem::conflict(
        "request-id-reused",
        format!("requestId '{request_id}' was already used for this campaign with a different body ({what})"),
    )
    .at("/requestId")
}

fn replay_execution(prev: Execution, hash: &str) -> Result<Response, Problem> {
    if prev.request_hash != hash {
        return Err(reused(&prev.request_id, &format!("execution {}", prev.id)));
    }
    Ok(replayed(StatusCode::ACCEPTED, prev.response))
}

async fn schedule_response(
    state: &AppState,
    s: &ScheduledExecution,
) -> Result<ScheduledExecutionResponse, Problem> {
    let details = match &s.execution_id {
        Some(id) => state
            .store
            .get_fanout(&s.sandbox, id)
            .await?
            .map(|f| ExecutionStatusResponse::from(&f)),
        None => None,
    };
    Ok(ScheduledExecutionResponse {
        schedule_id: s.id.clone(),
        audience: AudienceRef {
            id: s.audience_id.clone(),
        },
        campaign_id: s.campaign_id.clone(),
        execute_at: s.execute_at,
        schedule_status: if s.execution_id.is_some() {
            ScheduleStatus::Triggered
        } else {
            ScheduleStatus::Scheduled
        },
        request_id: Some(s.request_id.clone()),
        execution_details: details,
    })
}

/// `POST /ajo/im/executions/audience` (also `/v1/executions/audience`).
#[utoipa::path(post, path = "/ajo/im/executions/audience", tag = "execution", request_body = AudienceExecutionRequest,
    params(("x-sandbox-name" = Option<String>, Header, description = "Sandbox (default prod)")),
    responses(
        (status = 202, description = "imExecutionResponse (now) or ScheduledExecutionResponse (with schedule.executeAt)"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return crate::json_body::body_rejection(e).into_response(),
    };
    match create_inner(&state, &caller, &body).await {
        Ok(r) => r,
        Err(p) => p.into_response(),
    }
}

async fn create_inner(state: &AppState, caller: &Caller, body: &[u8]) -> ApiResult<Response> {
    caller.require(SCOPE_EXECUTE)?;
    let raw = parse_value(body)?;
    let req: AudienceExecutionRequest = from_value(&raw)?;
    let errors = req.validate_at(Utc::now());
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let hash = canonical_hash(&raw);
    let request_id = req.request_id.clone().unwrap_or_else(new_id);
    let ctx = |p: Problem| {
        p.with_context("requestId", &request_id)
            .with_context("campaignId", &req.campaign_id)
    };
    let sandbox = &caller.sandbox;
    // A repeat of (campaign, requestId) answers what the first call did.
    if req.request_id.is_some() {
        if let Some(s) = state
            .store
            .find_schedule_by_request(sandbox, &req.campaign_id, &request_id)
            .await?
        {
            if s.request_hash != hash {
                return Err(ctx(reused(&request_id, &format!("schedule {}", s.id))));
            }
            let r = schedule_response(state, &s).await?;
            return Ok(replayed(
                StatusCode::ACCEPTED,
                serde_json::to_value(r).map_err(Problem::internal)?,
            ));
        }
        if let Some(prev) = state
            .store
            .find_execution_by_request(sandbox, &req.campaign_id, &request_id)
            .await?
        {
            return replay_execution(prev, &hash).map_err(ctx);
        }
    }
    let now = Utc::now();
    let context = req.context.clone().unwrap_or_else(|| json!({}));
    if let Some(schedule) = &req.schedule {
        // Checked now against the moment it will fire, so a mistake is a
        // 4xx today rather than a failed execution later.
        let at = schedule.execute_at.max(now);
        let (_, audience_id) = herald_audience::check(
            state.store.as_ref(),
            sandbox,
            &req.campaign_id,
            req.audience.as_ref().map(|a| a.id.as_str()),
            at,
        )
        .await
        .map_err(|e| ctx(start_problem(e)))?;
        let s = ScheduledExecution {
            id: new_id(),
            sandbox: sandbox.clone(),
            campaign_id: req.campaign_id.clone(),
            request_id: request_id.clone(),
            request_hash: hash.clone(),
            audience_id,
            execute_at: schedule.execute_at,
            context,
            created_by: caller.key_name.clone(),
            created_at: now,
            execution_id: None,
        };
        let stored = match state.store.insert_schedule(&s).await? {
            None => s,
            Some(prev) => {
                if prev.request_hash != hash {
                    return Err(ctx(reused(&request_id, &format!("schedule {}", prev.id))));
                }
                prev
            }
        };
        state.wake_scheduler();
        let r = schedule_response(state, &stored).await?;
        return Ok((StatusCode::ACCEPTED, Json(r)).into_response());
    }
    let start = StartRequest {
        sandbox: sandbox.clone(),
        campaign_id: req.campaign_id.clone(),
        request_id: request_id.clone(),
        request_hash: hash.clone(),
        audience_id: req.audience.as_ref().map(|a| a.id.clone()),
        context,
        created_by: caller.key_name.clone(),
        now,
        execution_id: new_id(),
        schedule_id: None,
    };
    let (outcome, fanout) = herald_audience::start(state.store.as_ref(), start)
        .await
        .map_err(|e| ctx(start_problem(e)))?;
    match outcome {
        AcceptOutcome::Existing(prev) => replay_execution(*prev, &hash).map_err(ctx),
        AcceptOutcome::Created => {
            let fanout = fanout.ok_or_else(|| Problem::internal("the execution vanished"))?;
            metrics::counter!("herald_executions_accepted_total", "kind" => "audience")
                .increment(1);
            let body =
                herald_audience::response(&fanout.execution_id, &request_id, &caller.key_name, now);
            state.run_fanout(fanout);
            Ok((StatusCode::ACCEPTED, Json(body)).into_response())
        }
    }
}

fn may_read(caller: &Caller) -> Result<(), Problem> {
    if caller.require(SCOPE_MANAGE).is_err() {
        caller.require(SCOPE_EXECUTE)?;
    }
    Ok(())
}

#[utoipa::path(get, path = "/ajo/im/executions/audience/{executionId}", tag = "execution",
    responses((status = 200, body = ExecutionStatusResponse), (status = 404, body = Problem)))]
pub async fn status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<ExecutionStatusResponse>> {
    may_read(&caller)?;
    let f = state
        .store
        .get_fanout(&caller.sandbox, &id)
        .await?
        .ok_or_else(|| Problem::not_found("audience execution", &id))?;
    let mut r = ExecutionStatusResponse::from(&f);
    if let Some(e) = state.store.get_execution(&caller.sandbox, &id).await? {
        r.request_id = Some(e.request_id);
    }
    Ok(Json(r))
}

#[utoipa::path(get, path = "/ajo/im/executions/schedules/{scheduleId}", tag = "execution",
    responses((status = 200, body = ScheduledExecutionResponse), (status = 404, body = Problem)))]
pub async fn get_schedule(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduledExecutionResponse>> {
    may_read(&caller)?;
    let s = state
        .store
        .get_schedule(&caller.sandbox, &id)
        .await?
        .ok_or_else(|| Problem::not_found("schedule", &id))?;
    Ok(Json(schedule_response(&state, &s).await?))
}

#[utoipa::path(delete, path = "/ajo/im/executions/schedules/{scheduleId}", tag = "execution",
    responses((status = 200, description = "{} — deleted before it fired"), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "It fired already")))]
pub async fn delete_schedule(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_EXECUTE)?;
    match state.store.delete_schedule(&caller.sandbox, &id).await? {
        ScheduleDeletion::Deleted => Ok(Json(json!({}))),
        ScheduleDeletion::NotFound => Err(Problem::not_found("schedule", &id)),
        ScheduleDeletion::AlreadyFired(execution) => Err(Problem::conflict(
            "schedule-fired",
            format!("the schedule fired already; its execution is {execution}"),
        )),
    }
}
