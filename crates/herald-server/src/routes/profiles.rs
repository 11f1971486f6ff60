use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use herald_domain::FieldError;
use herald_domain::ids::new_id;
use herald_domain::profile::{Identity, Profile, normalize_identity};
use herald_store::ProfileUpsert;

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};

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

#[utoipa::path(put, path = "/v1/profiles/{namespace}/{id}", tag = "profiles", request_body = ProfileBody,
    responses((status = 200, body = Profile), (status = 201, body = Profile), (status = 400, body = Problem)))]
pub async fn put(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((namespace, id)): Path<(String, String)>,
    body: JsonBody<ProfileBody>,
) -> ApiResult<(StatusCode, Json<Profile>)> {
    caller.require(SCOPE_MANAGE)?;
    check_identity(&namespace, &id)?;
    let body = body.value;
    if !(body.attributes.is_object() || body.attributes.is_null()) {
        return Err(Problem::bad_request(vec![FieldError::new(
            "/attributes",
            "not_an_object",
            "attributes must be a JSON object",
        )]));
    }
    let mut extra = Vec::new();
    for (i, ident) in body.identities.iter().enumerate() {
        if ident.namespace.trim().is_empty() || ident.id.trim().is_empty() {
            return Err(Problem::bad_request(vec![FieldError::new(
                format!("/identities/{i}"),
                "invalid_identity",
                "an identity needs a namespace and an id",
            )]));
        }
        extra.push(Identity {
            namespace: ident.namespace.clone(),
            id: normalize_identity(&ident.namespace, &ident.id),
        });
    }
    let upsert = ProfileUpsert {
        identity: Identity {
            id: normalize_identity(&namespace, &id),
            namespace,
        },
        attributes_patch: if body.attributes.is_null() {
            Value::Object(Default::default())
        } else {
            body.attributes
        },
        extra_identities: extra,
        origin: None,
        now: Utc::now(),
        new_id: new_id(),
    };
    let (profile, created) = state.store.upsert_profile(&caller.sandbox, upsert).await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(profile),
    ))
}

#[utoipa::path(get, path = "/v1/profiles/{namespace}/{id}", tag = "profiles",
    responses((status = 200, body = Profile), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((namespace, id)): Path<(String, String)>,
) -> ApiResult<Json<Profile>> {
    caller.require(SCOPE_MANAGE)?;
    check_identity(&namespace, &id)?;
    let identity = Identity {
        id: normalize_identity(&namespace, &id),
        namespace,
    };
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
