use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use herald_domain::FieldError;
use herald_domain::ids::new_id;
use herald_domain::profile::{Identity, Profile};
use herald_store::{ProfileFilter, ProfilePut, ProfileUpsert};

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};
use crate::routes::campaigns::query_problem;
use crate::routes::identity_namespaces::{kind_of, normalized};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileBody {
    /// Merge-patched (RFC 7396) over the stored attributes.
    #[serde(default)]
    #[schema(value_type = Object)]
    attributes: Value,
    /// More identities of the same person.
    #[serde(default)]
    identities: Vec<Identity>,
}

fn check_identity(namespace: &str, id: &str) -> Result<(), Problem> {
    let mut errors = Vec::new();
    if namespace.trim().is_empty() || namespace.len() > 64 {
        errors.push(FieldError::new(
            "/namespace",
            "invalid_namespace",
            "the namespace must be 1 to 64 characters",
        ));
    }
    if id.trim().is_empty() || id.len() > 512 {
        errors.push(FieldError::new(
            "/id",
            "invalid_identity",
            "the identity must be 1 to 512 characters",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::bad_request(errors))
    }
}

/// The path's identity, checked against its namespace and normalized.
async fn path_identity(
    state: &AppState,
    sandbox: &str,
    namespace: String,
    id: &str,
) -> Result<Identity, Problem> {
    check_identity(&namespace, id)?;
    let kind = kind_of(state, sandbox, &namespace, "/namespace").await?;
    Ok(Identity {
        id: normalized(kind, id, "/id")?,
        namespace,
    })
}

#[utoipa::path(put, path = "/v1/profiles/{namespace}/{id}", tag = "profiles", request_body = ProfileBody,
    responses((status = 200, body = Profile), (status = 201, body = Profile), (status = 400, body = Problem),
              (status = 409, description = "an identity of the body belongs to another profile", body = Problem)))]
pub async fn put(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((namespace, id)): Path<(String, String)>,
    body: JsonBody<ProfileBody>,
) -> ApiResult<(StatusCode, Json<Profile>)> {
    caller.require(SCOPE_MANAGE)?;
    let identity = path_identity(&state, &caller.sandbox, namespace, &id).await?;
    let body = body.value;
    if !(body.attributes.is_object() || body.attributes.is_null()) {
        return Err(Problem::bad_request(vec![FieldError::new(
            "/attributes",
            "not_an_object",
            "attributes must be a JSON object",
        )]));
    }
    let mut extra: Vec<Identity> = Vec::new();
    for (i, ident) in body.identities.iter().enumerate() {
        let kind = kind_of(
            &state,
            &caller.sandbox,
            &ident.namespace,
            &format!("/identities/{i}/namespace"),
        )
        .await?;
        let value = normalized(kind, &ident.id, &format!("/identities/{i}/id"))?;
        extra.push(Identity {
            namespace: ident.namespace.clone(),
            id: value,
        });
    }
    let upsert = ProfileUpsert {
        identity,
        attributes_patch: if body.attributes.is_null() {
            Value::Object(Default::default())
        } else {
            body.attributes
        },
        extra_identities: extra.clone(),
        origin: None,
        now: Utc::now(),
        new_id: new_id(),
    };
    match state.store.put_profile(&caller.sandbox, upsert).await? {
        ProfilePut::Written { profile, created } => Ok((
            if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            Json(profile),
        )),
        ProfilePut::IdentityTaken { index, .. } => {
            let taken = &extra[index.min(extra.len().saturating_sub(1))];
            Err(Problem::conflict(
                "identity-taken",
                format!(
                    "the identity {}/{} belongs to another profile; merging profiles is not done by an upsert",
                    taken.namespace, taken.id
                ),
            )
            .at(&format!("/identities/{index}")))
        }
    }
}

#[utoipa::path(get, path = "/v1/profiles/{namespace}/{id}", tag = "profiles",
    responses((status = 200, body = Profile), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((namespace, id)): Path<(String, String)>,
) -> ApiResult<Json<Profile>> {
    caller.require(SCOPE_MANAGE)?;
    let identity = path_identity(&state, &caller.sandbox, namespace, &id).await?;
    state
        .store
        .find_profile(&caller.sandbox, &identity)
        .await?
        .map(Json)
        .ok_or_else(|| {
            Problem::not_found(
                "profile",
                &format!("{}/{}", identity.namespace, identity.id),
            )
        })
}

#[utoipa::path(delete, path = "/v1/profiles/{namespace}/{id}", tag = "profiles",
    responses((status = 204, description = "deleted, with its identities; its messages keep their status but lose address, user id, profile, context and content"),
              (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((namespace, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(SCOPE_MANAGE)?;
    let identity = path_identity(&state, &caller.sandbox, namespace, &id).await?;
    if state
        .store
        .delete_profile(&caller.sandbox, &identity)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found(
            "profile",
            &format!("{}/{}", identity.namespace, identity.id),
        ))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(rename_all = "camelCase")]
pub struct ListQuery {
    /// Walk this namespace's identities in value order (otherwise profiles
    /// in id order).
    namespace: Option<String>,
    /// Only profiles with an identity value starting with this.
    q: Option<String>,
    /// The `next` value of the previous page.
    cursor: Option<String>,
    /// Page size (1–200, default 50).
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/profiles", tag = "profiles", params(ListQuery),
    responses((status = 200, description = "{items: [Profile], next?}"), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let Query(q) = q.map_err(query_problem)?;
    let namespace = match q.namespace.filter(|n| !n.is_empty()) {
        Some(n) => {
            kind_of(&state, &caller.sandbox, &n, "/namespace").await?;
            Some(n)
        }
        None => None,
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let filter = ProfileFilter {
        namespace,
        prefix: q.q.filter(|p| !p.is_empty()),
        after: q.cursor.filter(|c| !c.is_empty()),
        limit: limit + 1,
    };
    let mut page = state.store.list_profiles(&caller.sandbox, &filter).await?;
    let next = if page.items.len() > limit {
        page.items.truncate(limit);
        page.items.last().map(|(c, _)| c.clone())
    } else {
        None
    };
    let items: Vec<Profile> = page.items.into_iter().map(|(_, p)| p).collect();
    let mut out = json!({ "items": items });
    if let Some(n) = next {
        out["next"] = json!(n);
    }
    Ok(Json(out))
}
