//! Campaign management: create, list, read, edit, review, activate, stop,
//! simulate, cURL helper, report.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use herald_domain::FieldError;
use herald_domain::campaign::Content;
use herald_domain::campaign::{
    Campaign, CampaignDefinition, CampaignStatus, CampaignVersion, status_on_activation,
};
use herald_domain::channel::Channel;
use herald_domain::content::{CompileError, CompiledEmail, fragment_ids, render_data};
use herald_domain::error::pointer_token;
use herald_domain::fragment::{self, FragmentSnapshot, Fragments};
use herald_domain::ids::new_id;
use herald_domain::json::merge_patch;
use herald_domain::language::{LanguageSettings, LocaleChooser, is_bcp47};
use herald_domain::message::reasons;
use herald_domain::profile::{Identity, normalize_identity};
use herald_domain::review::{ReviewResult, Severity, review as review_definition};

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::json_body::{JsonBody, from_value};
use crate::problem::{ApiResult, Problem};

/// A campaign as the API shows it: the stored record with the status the
/// clock gives it (scheduled → live → completed).
async fn view(state: &AppState, c: &Campaign) -> ApiResult<Value> {
    let live = state
        .campaigns
        .get(state.store.as_ref(), &c.sandbox, &c.id)
        .await?;
    let version = live.as_ref().and_then(|l| l.version.as_ref());
    let mut v = serde_json::to_value(c).map_err(Problem::internal)?;
    v["status"] = json!(c.effective_status(version, Utc::now()).as_str());
    Ok(v)
}

pub(crate) async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Campaign> {
    state
        .store
        .get_campaign(&caller.sandbox, id)
        .await?
        .ok_or_else(|| Problem::not_found("campaign", id))
}

/// A query string that does not parse, as problem JSON naming the parameter.
pub(crate) fn query_problem(e: QueryRejection) -> Problem {
    let text = e.body_text();
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text)
        .to_string();
    // serde names the field in backticks for duplicate, unknown and
    // missing fields; otherwise the message starts with the parameter.
    let quoted = ["duplicate field", "unknown field", "missing field"]
        .iter()
        .any(|p| detail.starts_with(p))
        .then(|| detail.split('`').nth(1))
        .flatten();
    let param = match quoted {
        Some(q) => q.to_string(),
        None => detail.split(':').next().unwrap_or("").trim().to_string(),
    };
    Problem::bad_request(vec![FieldError::new(
        format!("/{param}"),
        "invalid_query",
        detail,
    )])
}

/// The `status` query parameter of a listing: absent or empty is no
/// filter; anything else must be one of `allowed`.
pub(crate) fn status_param<T>(
    value: Option<&str>,
    parse: fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Option<T>, Problem> {
    match value {
        None | Some("") => Ok(None),
        Some(s) => parse(s).map(Some).ok_or_else(|| {
            Problem::bad_request(vec![FieldError::new(
                "/status",
                "invalid_value",
                format!("unknown status '{s}'; one of {allowed}"),
            )])
        }),
    }
}

/// Rules checked on create and on every edit (review checks the rest).
fn validate_definition(def: &CampaignDefinition) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if def.name.trim().is_empty() {
        errors.push(FieldError::new(
            "/name",
            "required",
            "name must not be empty",
        ));
    }
    if def.action.channel_configuration_id.trim().is_empty() {
        errors.push(FieldError::new(
            "/action/channelConfigurationId",
            "required",
            "channelConfigurationId must not be empty",
        ));
    }
    let has_content = match def.action.channel {
        Channel::Email => def.content.email.is_some(),
        Channel::Sms => def.content.sms.is_some(),
        Channel::Push => def.content.push.is_some(),
    };
    if def.language_settings_id.is_some() {
        if def.content.locales.is_empty() {
            errors.push(FieldError::new(
                "/content/locales",
                "required",
                "the campaign has languageSettingsId: content.locales is required",
            ));
        }
        for tag in def.content.locales.keys() {
            if !is_bcp47(tag) {
                errors.push(FieldError::new(
                    format!("/content/locales/{}", pointer_token(tag)),
                    "invalid_locale",
                    format!("'{tag}' is not a BCP 47 language tag"),
                ));
            }
        }
    } else if !has_content {
        let ch = def.action.channel.as_str();
        errors.push(FieldError::new(
            format!("/content/{ch}"),
            "required",
            format!("the action is {ch}: content.{ch} is required"),
        ));
    }
    if def.audience.identity_namespace.trim().is_empty() {
        errors.push(FieldError::new(
            "/audience/identityNamespace",
            "required",
            "audience.identityNamespace is required",
        ));
    }
    for (i, t) in def.tags.iter().enumerate() {
        if t.trim().is_empty() || t.len() > 128 {
            errors.push(FieldError::new(
                format!("/tags/{i}"),
                "invalid_tag",
                "tags are 1 to 128 characters",
            ));
        }
    }
    errors
}

#[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns", request_body = CampaignDefinition,
    responses((status = 201, body = Campaign), (status = 400, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: JsonBody<CampaignDefinition>,
) -> ApiResult<impl IntoResponse> {
    caller.require(SCOPE_MANAGE)?;
    let def = body.value;
    let errors = validate_definition(&def);
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let now = Utc::now();
    let c = Campaign {
        id: new_id(),
        sandbox: caller.sandbox.clone(),
        status: CampaignStatus::Draft,
        definition: def,
        live_version: None,
        draft_version: Some(1),
        created_at: now,
        updated_at: now,
        created_by: caller.key_name.clone(),
        revision: 1,
    };
    state.store.insert_campaign(&c).await?;
    let location = format!("/v1/campaigns/{}", c.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view(&state, &c).await?),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only campaigns with this status.
    status: Option<String>,
    /// Only campaigns carrying this tag.
    tag: Option<String>,
    /// Text search in name, description and tags (case-insensitive).
    q: Option<String>,
    /// Page size (1–200, default 50).
    limit: Option<usize>,
    /// The `next` value of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns", params(ListQuery),
    responses((status = 200, description = "{items: [Campaign], next?}")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let Query(q) = q.map_err(query_problem)?;
    let status = status_param(
        q.status.as_deref(),
        CampaignStatus::parse,
        "draft, inReview, scheduled, live, stopped, completed, archived",
    )?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let needle =
        q.q.as_deref()
            .map(str::to_lowercase)
            .filter(|s| !s.is_empty());
    let mut items = Vec::new();
    let mut next = None;
    for c in state.store.list_campaigns(&caller.sandbox).await? {
        if q.cursor.as_deref().is_some_and(|cur| c.id.as_str() <= cur) {
            continue;
        }
        if let Some(tag) = &q.tag
            && !c.definition.tags.iter().any(|t| t == tag)
        {
            continue;
        }
        if let Some(n) = &needle {
            let d = &c.definition;
            let hay = format!("{} {} {}", d.name, d.description, d.tags.join(" ")).to_lowercase();
            if !hay.contains(n) {
                continue;
            }
        }
        let v = view(&state, &c).await?;
        if let Some(s) = status
            && v["status"] != json!(s.as_str())
        {
            continue;
        }
        if items.len() == limit {
            next = items
                .last()
                .and_then(|l: &Value| l["id"].as_str().map(str::to_string));
            break;
        }
        items.push(v);
    }
    let mut out = json!({ "items": items });
    if let Some(n) = next {
        out["next"] = json!(n);
    }
    Ok(Json(out))
}

#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns",
    responses((status = 200, body = Campaign), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let c = load(&state, &caller, &id).await?;
    Ok(Json(view(&state, &c).await?))
}

#[utoipa::path(patch, path = "/v1/campaigns/{id}", tag = "campaigns",
    request_body(content = Object, description = "JSON merge patch (RFC 7396) of the campaign definition"),
    responses((status = 200, body = Campaign), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn patch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    if !body.raw.is_object() {
        return Err(Problem::bad_request(vec![FieldError::new(
            "",
            "not_an_object",
            "a merge patch must be a JSON object",
        )]));
    }
    let mut c = load(&state, &caller, &id).await?;
    if !c.editable_in_place() && !c.accepts_new_version() {
        return Err(Problem::conflict(
            "not-editable",
            format!("campaign is {}: only a draft, or a live or scheduled campaign (as a new version), can change", c.status.as_str()),
        )
        .with_context("campaignId", &id));
    }
    let mut doc = serde_json::to_value(&c.definition).map_err(Problem::internal)?;
    merge_patch(&mut doc, &body.raw);
    let def: CampaignDefinition = from_value(&doc)?;
    let errors = validate_definition(&def);
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    c.definition = def;
    if c.accepts_new_version() {
        // The live version keeps serving; this edit is the next version.
        c.draft_version = Some(c.live_version.unwrap_or(0) + 1);
    }
    c.revision += 1;
    c.updated_at = Utc::now();
    state.store.update_campaign(&c, None).await?;
    state.campaigns.invalidate(&c.sandbox, &c.id);
    Ok(Json(view(&state, &c).await?))
}

#[utoipa::path(delete, path = "/v1/campaigns/{id}", tag = "campaigns",
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(SCOPE_MANAGE)?;
    let c = load(&state, &caller, &id).await?;
    if c.status != CampaignStatus::Draft
        || !state
            .store
            .delete_draft_campaign(&caller.sandbox, &id)
            .await?
    {
        return Err(Problem::conflict(
            "not-deletable",
            format!(
                "campaign is {}; only drafts can be deleted",
                c.status.as_str()
            ),
        )
        .with_context("campaignId", &id));
    }
    state.campaigns.invalidate(&caller.sandbox, &id);
    Ok(StatusCode::NO_CONTENT)
}

/// The language settings the definition names, if they exist.
async fn language_settings_of(
    state: &AppState,
    c: &Campaign,
) -> ApiResult<Option<LanguageSettings>> {
    Ok(match &c.definition.language_settings_id {
        Some(id) => state.store.get_language_settings(&c.sandbox, id).await?,
        None => None,
    })
}

/// The latest version of every fragment the content includes, and of the
/// fragments those include (one level of nesting is allowed; deeper tags
/// are found by review without being loaded). Unknown ids are left out.
pub(crate) async fn load_fragments(
    state: &AppState,
    sandbox: &str,
    content: &Content,
) -> ApiResult<Fragments> {
    let mut out = Fragments::new();
    let mut wanted: Vec<String> = fragment_ids(content).into_iter().collect();
    for _level in 0..2 {
        let mut next = Vec::new();
        for id in wanted {
            if out.contains_key(&id) {
                continue;
            }
            if let Some(f) = state.store.get_fragment(sandbox, &id, None).await? {
                next.extend(fragment::referenced_ids(&f.content));
                out.insert(id, FragmentSnapshot::from(&f));
            }
        }
        wanted = next;
    }
    Ok(out)
}

/// What a review saw, snapshotted into the version on activation.
struct Reviewed {
    result: ReviewResult,
    language: Option<LanguageSettings>,
    fragments: Fragments,
}

async fn run_review(state: &AppState, c: &Campaign) -> ApiResult<Reviewed> {
    let cfg = state
        .store
        .get_channel_configuration(&c.sandbox, &c.definition.action.channel_configuration_id)
        .await?;
    let language = language_settings_of(state, c).await?;
    let fragments = load_fragments(state, &c.sandbox, &c.definition.content).await?;
    let mut result = review_definition(
        &c.definition,
        cfg.as_ref(),
        language.as_ref(),
        &fragments,
        Utc::now(),
    );
    let mut rules = Vec::new();
    for id in &c.definition.business_rule_ids {
        rules.push(
            state
                .store
                .get_business_rule(&c.sandbox, id)
                .await?
                .map(|r| r.channel),
        );
    }
    let audience_exists = match &c.definition.audience.audience_id {
        Some(id) => Some(state.store.get_audience(&c.sandbox, id).await?.is_some()),
        None => None,
    };
    result.add(herald_domain::review::reference_checks(
        &c.definition,
        &rules,
        audience_exists,
    ));
    Ok(Reviewed {
        result,
        language,
        fragments,
    })
}

#[utoipa::path(post, path = "/v1/campaigns/{id}/review", tag = "campaigns",
    responses((status = 200, body = ReviewResult), (status = 404, body = Problem)))]
pub async fn review(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<ReviewResult>> {
    caller.require(SCOPE_MANAGE)?;
    let c = load(&state, &caller, &id).await?;
    Ok(Json(run_review(&state, &c).await?.result))
}

#[utoipa::path(post, path = "/v1/campaigns/{id}/activate", tag = "campaigns",
    responses((status = 200, body = Campaign), (status = 409, body = Problem), (status = 422, body = Problem, description = "Review found blocking checks")))]
pub async fn activate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let mut c = load(&state, &caller, &id).await?;
    let pending =
        c.status == CampaignStatus::Draft || (c.accepts_new_version() && c.draft_version.is_some());
    if !pending {
        if c.accepts_new_version() {
            // Already serving and nothing new to activate: idempotent.
            return Ok(Json(view(&state, &c).await?));
        }
        return Err(Problem::conflict(
            "not-activatable",
            format!("campaign is {}; it cannot be activated", c.status.as_str()),
        )
        .with_context("campaignId", &id));
    }
    let Reviewed {
        result,
        language: language_settings,
        fragments,
    } = run_review(&state, &c).await?;
    if !result.ready {
        let errors = result
            .checks
            .iter()
            .filter(|k| k.severity == Severity::Error)
            .map(|k| FieldError::new(k.pointer.clone(), &k.code, k.message.clone()))
            .collect();
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "review-failed",
            "The campaign is not ready",
            "review found blocking checks; see errors",
        )
        .with_errors(errors)
        .with_context("campaignId", &id));
    }
    let now = Utc::now();
    let number = c.live_version.unwrap_or(0) + 1;
    let version = CampaignVersion {
        campaign_id: c.id.clone(),
        sandbox: c.sandbox.clone(),
        version: number,
        definition: c.definition.clone(),
        activated_at: now,
        language_settings,
        fragments,
    };
    c.status = status_on_activation(&c.definition.schedule, now);
    c.live_version = Some(number);
    c.draft_version = None;
    c.revision += 1;
    c.updated_at = now;
    state.store.update_campaign(&c, Some(&version)).await?;
    state.campaigns.invalidate(&c.sandbox, &c.id);
    tracing::info!(campaign_id = %c.id, version = number, status = c.status.as_str(), "campaign activated");
    Ok(Json(view(&state, &c).await?))
}

#[utoipa::path(post, path = "/v1/campaigns/{id}/stop", tag = "campaigns",
    responses((status = 200, body = Campaign), (status = 409, body = Problem)))]
pub async fn stop(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let mut c = load(&state, &caller, &id).await?;
    match c.status {
        CampaignStatus::Stopped => return Ok(Json(view(&state, &c).await?)),
        CampaignStatus::Live | CampaignStatus::Scheduled | CampaignStatus::Completed => {}
        other => {
            return Err(Problem::conflict(
                "not-stoppable",
                format!(
                    "campaign is {}; only an activated campaign can be stopped",
                    other.as_str()
                ),
            )
            .with_context("campaignId", &id));
        }
    }
    c.status = CampaignStatus::Stopped;
    c.revision += 1;
    c.updated_at = Utc::now();
    state.store.update_campaign(&c, None).await?;
    state.campaigns.invalidate(&c.sandbox, &c.id);
    Ok(Json(view(&state, &c).await?))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimulateRequest {
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
}

fn compile_problem(e: CompileError) -> Problem {
    let pointer = e.pointer();
    let errors = match e {
        CompileError::Missing(what) => vec![FieldError::new(
            pointer,
            "content_missing",
            format!("no {what} content"),
        )],
        CompileError::Template { field, errors } => errors
            .into_iter()
            .map(|t| {
                FieldError::new(
                    pointer.clone(),
                    "template_syntax",
                    format!(
                        "{field} line {}, column {}: {}",
                        t.line, t.column, t.message
                    ),
                )
            })
            .collect(),
        CompileError::Fragment { field, errors } => errors
            .into_iter()
            .map(|e| FieldError::new(pointer.clone(), e.code, format!("{field}: {}", e.message)))
            .collect(),
    };
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "template-error",
        "The content does not render",
        "see errors",
    )
    .with_errors(errors)
}

/// A sample recipient for simulate and proofs: the stored profile named by
/// `profile_ref` with `profile` merged over it, and the context.
pub(crate) async fn sample_data(
    state: &AppState,
    caller: &Caller,
    profile: Option<&Value>,
    profile_ref: Option<&Identity>,
    context: Option<&Value>,
) -> ApiResult<(Value, Value)> {
    let mut out = json!({});
    if let Some(r) = profile_ref {
        let identity = Identity {
            namespace: r.namespace.clone(),
            id: normalize_identity(&r.namespace, &r.id),
        };
        match state.store.find_profile(&caller.sandbox, &identity).await? {
            Some(p) => out = p.attributes,
            None => {
                return Err(Problem::bad_request(vec![FieldError::new(
                    "/profileRef",
                    "profile_not_found",
                    format!("no profile with {} identity '{}'", r.namespace, r.id),
                )]));
            }
        }
    }
    if let Some(p) = profile {
        herald_domain::json::deep_merge(&mut out, p);
    }
    Ok((out, context.cloned().unwrap_or_else(|| json!({}))))
}

pub(crate) fn render_problem(e: herald_template::RenderError) -> Problem {
    let code = match &e {
        herald_template::RenderError::MissingValue { .. } => "missingValue",
        _ => "render_error",
    };
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "render-error",
        "The content does not render",
        e.to_string(),
    )
    .with_errors(vec![FieldError::new("/content", code, e.to_string())])
}

fn unprocessable(slug: &str, title: &str, errors: Vec<FieldError>) -> Problem {
    let detail = errors
        .first()
        .map(|e| e.message.clone())
        .unwrap_or_default();
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, slug, title, detail).with_errors(errors)
}

/// The email content to render for a simulation (or a proof) of the
/// definition being edited, with the locale it is in: `locale` when given,
/// otherwise chosen exactly as an execution chooses it.
pub(crate) async fn content_for(
    state: &AppState,
    c: &Campaign,
    data: &Value,
    locale: Option<&str>,
) -> ApiResult<(CompiledEmail, Option<String>, Vec<String>)> {
    let def = &c.definition;
    let mut warnings = Vec::new();
    let mv = def.missing_values;
    let fragments = load_fragments(state, &c.sandbox, &def.content).await?;
    let Some(id) = &def.language_settings_id else {
        if locale.is_some() {
            warnings
                .push("this campaign has no language settings; the locale is ignored".to_string());
        }
        let Some(email) = &def.content.email else {
            return Err(compile_problem(CompileError::Missing("email".into())));
        };
        let compiled = compile_email(email, "content", mv, &fragments)?;
        return Ok((compiled, None, warnings));
    };
    let Some(settings) = state.store.get_language_settings(&c.sandbox, id).await? else {
        return Err(unprocessable(
            "unknown-language-settings",
            "Unknown language settings",
            vec![FieldError::new(
                "/languageSettingsId",
                "unknown_language_settings",
                format!("no language settings '{id}' exist in this sandbox"),
            )],
        ));
    };
    let chosen = match locale {
        Some(l) => settings
            .locales
            .iter()
            .find(|x| x.eq_ignore_ascii_case(l))
            .cloned()
            .ok_or_else(|| {
                unprocessable(
                    "unknown-locale",
                    "Unknown locale",
                    vec![FieldError::new(
                        "/locale",
                        "unknown_locale",
                        format!(
                            "'{l}' is not a locale of the language settings '{}' ({})",
                            settings.name,
                            settings.locales.join(", ")
                        ),
                    )],
                )
            })?,
        None => LocaleChooser::new(&settings).choose(data).ok_or_else(|| {
            unprocessable(
                "no-locale",
                "No locale for this recipient",
                vec![FieldError::new(
                    "/profile",
                    reasons::NO_LOCALE,
                    format!(
                        "no locale of '{}' ({}) matches this recipient and there is no fallback locale: an execution would exclude it with reason noLocale",
                        settings.name,
                        settings.locales.join(", ")
                    ),
                )],
            )
        })?,
    };
    let Some(email) = def
        .content
        .locales
        .get(&chosen)
        .and_then(|l| l.email.as_ref())
    else {
        return Err(compile_problem(CompileError::Missing(format!(
            "locales/{chosen}/email"
        ))));
    };
    let compiled = compile_email(email, &format!("content.locales.{chosen}"), mv, &fragments)?;
    Ok((compiled, Some(chosen), warnings))
}

fn compile_email(
    email: &herald_domain::campaign::EmailContent,
    prefix: &str,
    mv: herald_domain::campaign::MissingValues,
    fragments: &Fragments,
) -> ApiResult<CompiledEmail> {
    let mv = match mv {
        herald_domain::campaign::MissingValues::Empty => herald_template::MissingValues::Empty,
        herald_domain::campaign::MissingValues::Fail => herald_template::MissingValues::Fail,
    };
    CompiledEmail::compile_named(email, prefix, mv, fragments).map_err(compile_problem)
}

#[utoipa::path(post, path = "/v1/campaigns/{id}/simulate", tag = "campaigns", request_body = SimulateRequest,
    responses((status = 200, description = "{locale, content: {email: {subject, preheader?, html, text}}, warnings}"), (status = 422, body = Problem)))]
pub async fn simulate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: JsonBody<SimulateRequest>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let c = load(&state, &caller, &id).await?;
    let req = body.value;
    let (profile, context) = sample_data(
        &state,
        &caller,
        req.profile.as_ref(),
        req.profile_ref.as_ref(),
        req.context.as_ref(),
    )
    .await?;
    let data = render_data(&profile, &context, &json!({}));
    let (compiled, locale, warnings) =
        content_for(&state, &c, &data, req.locale.as_deref()).await?;
    let mut rendered = compiled.render(&data).map_err(render_problem)?;
    if rendered.text.is_empty()
        && let Some(html) = &rendered.html
    {
        rendered.text = herald_mail::html_to_text(html);
    }
    Ok(Json(
        json!({"locale": locale, "content": {"email": rendered}, "warnings": warnings}),
    ))
}

#[utoipa::path(get, path = "/v1/campaigns/{id}/curl", tag = "campaigns",
    responses((status = 200, content_type = "text/plain", description = "A ready cURL request")))]
pub async fn curl(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> ApiResult<impl IntoResponse> {
    caller.require(SCOPE_MANAGE)?;
    let c = load(&state, &caller, &id).await?;
    let base = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("http://{h}"))
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let fragments = load_fragments(&state, &c.sandbox, &c.definition.content).await?;
    let text =
        crate::curl::build(&c, &base, &caller.sandbox, &fragments).map_err(compile_problem)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text))
}
