//! Proofs: the definition being edited, rendered now and sent to test
//! addresses through the normal delivery engine, marked so that no report
//! counts it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use herald_domain::FieldError;
use herald_domain::channel::{Channel, is_plausible_address};
use herald_domain::execution::{Execution, PlannedMessage};
use herald_domain::ids::new_id;
use herald_domain::message::MessageStatus;
use herald_domain::profile::Identity;
use herald_store::{AcceptOutcome, NewExecution};

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};
use crate::routes::campaigns::{content_for, load, render_problem, sample_data};

pub const MAX_PROOF_ADDRESSES: usize = 10;
pub const DEFAULT_SUBJECT_PREFIX: &str = "[Proof] ";

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProofRequest {
    /// 1–10 email addresses.
    addresses: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    profile: Option<Value>,
    #[serde(default)]
    profile_ref: Option<Identity>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    context: Option<Value>,
    #[serde(default)]
    locale: Option<String>,
    /// Put before the subject (default `[Proof] `).
    #[serde(default)]
    subject_prefix: Option<String>,
}

#[utoipa::path(post, path = "/v1/campaigns/{id}/proofs", tag = "campaigns", request_body = ProofRequest,
    responses((status = 202, description = "{proofs: [{address, messageId}]}"), (status = 400, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: JsonBody<ProofRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(SCOPE_MANAGE)?;
    let req = body.value;
    let mut errors = Vec::new();
    if req.addresses.is_empty() || req.addresses.len() > MAX_PROOF_ADDRESSES {
        errors.push(FieldError::new(
            "/addresses",
            "invalid_address_count",
            format!(
                "give 1 to {MAX_PROOF_ADDRESSES} addresses; there are {}",
                req.addresses.len()
            ),
        ));
    }
    for (i, a) in req.addresses.iter().enumerate() {
        if !is_plausible_address(a) {
            errors.push(FieldError::new(
                format!("/addresses/{i}"),
                "invalid_email",
                format!("'{a}' is not an email address"),
            ));
        }
    }
    if let Some(p) = &req.subject_prefix
        && (p.contains('\r') || p.contains('\n') || p.len() > 100)
    {
        errors.push(FieldError::new(
            "/subjectPrefix",
            "invalid_prefix",
            "subjectPrefix is one line of at most 100 bytes",
        ));
    }
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let c = load(&state, &caller, &id).await?;
    if c.definition.action.channel != Channel::Email {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "proof-not-supported",
            "Proofs are email only",
            format!(
                "the campaign's channel is {}; proofs are sent for email campaigns",
                c.definition.action.channel.as_str()
            ),
        ));
    }
    let cfg_id = &c.definition.action.channel_configuration_id;
    if state
        .store
        .get_channel_configuration(&c.sandbox, cfg_id)
        .await?
        .and_then(|cfg| cfg.email)
        .is_none()
    {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-channel-configuration",
            "No email channel configuration",
            format!("the campaign's channel configuration '{cfg_id}' does not exist in this sandbox or has no email settings"),
        )
        .with_errors(vec![FieldError::new(
            "/action/channelConfigurationId",
            "unknown_channel_configuration",
            format!("no email channel configuration '{cfg_id}' exists in this sandbox"),
        )]));
    }
    let (profile, context) = sample_data(
        &state,
        &caller,
        req.profile.as_ref(),
        req.profile_ref.as_ref(),
        req.context.as_ref(),
    )
    .await?;
    let data = herald_domain::content::render_data(&profile, &context, &json!({}));
    let (compiled, locale, _warnings) =
        content_for(&state, &c, &data, req.locale.as_deref()).await?;
    let mut rendered = compiled.render(&data).map_err(render_problem)?;
    if rendered.text.is_empty()
        && let Some(html) = &rendered.html
    {
        rendered.text = herald_mail::html_to_text(html);
    }
    let prefix = req
        .subject_prefix
        .as_deref()
        .unwrap_or(DEFAULT_SUBJECT_PREFIX);
    rendered.subject = format!("{prefix}{}", rendered.subject);

    let now = Utc::now();
    let execution_id = new_id();
    let messages: Vec<PlannedMessage> = req
        .addresses
        .iter()
        .map(|a| PlannedMessage {
            message_id: new_id(),
            user_id: a.clone(),
            namespace: "email".into(),
            profile_id: None,
            address: Some(a.clone()),
            status: MessageStatus::Queued,
            exclusion_reason: None,
            profile: profile.clone(),
            recipient_context: json!({}),
            locale: locale.clone(),
            proof: Some(rendered.clone()),
            detail: None,
        })
        .collect();
    let proofs: Vec<Value> = messages
        .iter()
        .map(|m| json!({"address": m.address, "messageId": m.message_id}))
        .collect();
    let response = json!({ "proofs": proofs });
    let new = NewExecution {
        execution: Execution {
            id: execution_id.clone(),
            sandbox: caller.sandbox.clone(),
            campaign_id: c.id.clone(),
            campaign_version: c.draft_version.or(c.live_version).unwrap_or(0),
            request_id: format!("proof:{execution_id}"),
            request_hash: String::new(),
            kind: "proof".into(),
            context,
            created_at: now,
            created_by: caller.key_name.clone(),
            response: response.clone(),
        },
        channel: Channel::Email,
        priority: 0,
        messages,
        profiles_to_create: vec![],
        profile_origin: None,
    };
    match state.store.accept_execution(new).await? {
        AcceptOutcome::Created => {}
        AcceptOutcome::Existing(_) => {
            return Err(Problem::internal("proof execution id collided"));
        }
    }
    state.wake_delivery();
    tracing::info!(campaign_id = %c.id, execution_id = %execution_id, count = proofs.len(), "proofs queued");
    Ok((StatusCode::ACCEPTED, Json(response)))
}
