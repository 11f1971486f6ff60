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
    Audience, AudienceKind, AudienceRule, NewAudience, profile_data, projection::Paths,
    validate_identities,
};
use herald_domain::campaign::CampaignStatus;
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
                match kind_of(
                    state,
                    sandbox,
                    &ident.namespace,
                    &format!("{at}/{i}/namespace"),
                )
                .await
                {
                    Ok(k) => {
                        kinds.insert(ident.namespace.clone(), k);
                        k
                    }
                    // Reported with the others, not alone.
                    Err(p) if p.status == 400 => {
                        errors.extend(p.errors.clone());
                        continue;
                    }
                    Err(p) => return Err(p),
                }
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
    // A campaign that may still fire at it keeps it.
    let users: Vec<String> = state
        .store
        .list_campaigns(&caller.sandbox)
        .await?
        .into_iter()
        .filter(|c| {
            !matches!(
                c.status,
                CampaignStatus::Stopped | CampaignStatus::Completed | CampaignStatus::Archived
            )
        })
        .filter(|c| c.definition.audience.audience_id.as_deref() == Some(id.as_str()))
        .map(|c| c.id)
        .collect();
    if !users.is_empty() {
        return Err(Problem::conflict(
            "audience-in-use",
            format!(
                "campaigns {} use this audience; stop them or point them at another audience first",
                users.join(", ")
            ),
        ));
    }
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

#[derive(Debug, Deserialize)]
pub struct EstimateQuery {
    /// Count every profile instead of a sample.
    #[serde(default)]
    exact: Option<String>,
    /// Profiles a sampled estimate reads (1,000 to 1,000,000).
    #[serde(default, rename = "sampleSize")]
    sample_size: Option<u64>,
}

#[utoipa::path(get, path = "/v1/audiences/{id}/estimate", tag = "audiences",
    params(("exact" = Option<bool>, Query, description = "count every profile instead of sampling (slower on large sandboxes)"),
           ("sampleSize" = Option<u64>, Query, description = "profiles a sampled estimate reads, 1000 to 1000000 (default 100000)")),
    responses((status = 200, description = "{count, exact, sampled, total, margin?, elapsedMs}: profiles in the audience now. \
        A rule audience over more than 100,000 profiles is estimated from a random sample of 100,000 (200 blocks \
        at random positions) with a 95% margin; smaller ones, static ones and `exact=true` are counted exactly."),
              (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn estimate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<EstimateQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let query = query.map(|q| q.0);
    let sample_size = match query.as_ref().map(|q| q.sample_size) {
        Ok(None) => SAMPLE_SIZE,
        Ok(Some(n)) if (1_000..=1_000_000).contains(&n) => n,
        _ => {
            return Err(Problem::bad_request(vec![herald_domain::FieldError::new(
                "/sampleSize",
                "invalid_query",
                "sampleSize must be a whole number from 1000 to 1000000",
            )]));
        }
    };
    let exact = match query.map(|q| q.exact) {
        Ok(None) => false,
        Ok(Some(v)) if v == "true" || v.is_empty() => true,
        Ok(Some(v)) if v == "false" => false,
        _ => {
            return Err(Problem::bad_request(vec![herald_domain::FieldError::new(
                "/exact",
                "invalid_query",
                "exact must be true or false",
            )]));
        }
    };
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
    let mut out = json!({"audienceId": a.id});
    match rule.as_ref() {
        Some(rule) if !exact => {
            let (total, lo, hi) = state.store.profile_positions(&caller.sandbox).await?;
            if total <= sample_size {
                let (count, scanned) =
                    count_members(&state, &caller.sandbox, &a, Some(rule)).await?;
                out["count"] = json!(count);
                out["exact"] = json!(true);
                out["sampled"] = json!(scanned);
                out["total"] = json!(total);
            } else {
                let (matched, sampled) =
                    sample(&state, &caller.sandbox, &a, rule, lo, hi, sample_size).await?;
                let p = matched as f64 / sampled.max(1) as f64;
                // 95% normal interval of a proportion, finite population.
                let fpc = ((total - sampled.min(total)) as f64 / (total - 1).max(1) as f64).sqrt();
                let margin = 1.96 * (p * (1.0 - p) / sampled.max(1) as f64).sqrt() * fpc;
                out["count"] = json!((p * total as f64).round() as u64);
                out["exact"] = json!(false);
                out["sampled"] = json!(sampled);
                out["matchedInSample"] = json!(matched);
                out["total"] = json!(total);
                out["margin"] = json!((margin * total as f64).ceil() as u64);
            }
        }
        _ => {
            let (count, scanned) =
                count_members(&state, &caller.sandbox, &a, rule.as_ref()).await?;
            out["count"] = json!(count);
            out["exact"] = json!(true);
            out["sampled"] = json!(scanned);
            out["total"] = json!(scanned);
        }
    }
    // Kept for callers of the first version of this endpoint.
    out["scanned"] = out["sampled"].clone();
    out["elapsedMs"] = json!(started.elapsed().as_millis() as u64);
    Ok(Json(out))
}

/// Profiles a sampled estimate evaluates by default.
const SAMPLE_SIZE: u64 = 100_000;
/// Blocks the sample is read in: many short runs at random positions, so
/// that profiles imported together (often alike) do not skew it.
const SAMPLE_BLOCKS: u64 = 200;

async fn sample(
    state: &AppState,
    sandbox: &str,
    a: &Audience,
    rule: &AudienceRule,
    lo: i64,
    hi: i64,
    size: u64,
) -> Result<(u64, u64), StoreError> {
    use rand::Rng;
    let projection = rule.projection();
    let block = (size / SAMPLE_BLOCKS).max(1) as usize;
    let mut starts: Vec<i64> = {
        let mut rng = rand::rng();
        (0..SAMPLE_BLOCKS)
            .map(|_| rng.random_range(lo - 1..hi.max(lo)))
            .collect()
    };
    starts.sort_unstable();
    let mut seen = std::collections::HashSet::new();
    let (mut matched, mut sampled) = (0u64, 0u64);
    for start in starts {
        let page = state
            .store
            .scan_audience(sandbox, a, "", start, block)
            .await?;
        for c in page.candidates {
            if !seen.insert(c.position) {
                continue;
            }
            sampled += 1;
            if in_rule(rule, projection.as_ref(), &c.attributes) {
                matched += 1;
            }
        }
    }
    Ok((matched, sampled))
}

/// Whether stored attributes (JSON text) match the rule, parsing only
/// what the rule reads when a projection is given.
fn in_rule(rule: &AudienceRule, projection: Option<&Paths>, attributes: &str) -> bool {
    let parsed = match projection {
        Some(p) => p.parse(attributes),
        None => serde_json::from_str::<Value>(attributes),
    };
    parsed.is_ok_and(|v| rule.matches(&profile_data(v)))
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
                    .iter()
                    .filter(|c| in_rule(rule, projection.as_ref(), &c.attributes))
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
