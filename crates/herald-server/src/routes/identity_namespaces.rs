//! Identity namespaces: the standard ones every sandbox has, and custom ones.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use herald_domain::FieldError;
use herald_domain::identity::{
    self, IdentityError, IdentityKind, IdentityNamespace, is_valid_code, standard_kind,
    standard_namespaces,
};
use herald_domain::import::Namespaces;

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewIdentityNamespace {
    /// `^[A-Za-z][A-Za-z0-9_.-]{0,63}$`
    code: String,
    name: String,
    /// How values are checked and normalized (default `string`).
    #[serde(default)]
    kind: IdentityKind,
}

#[utoipa::path(post, path = "/v1/identity-namespaces", tag = "profiles",
    request_body = NewIdentityNamespace,
    responses((status = 201, body = IdentityNamespace), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: JsonBody<NewIdentityNamespace>,
) -> ApiResult<impl IntoResponse> {
    caller.require(SCOPE_MANAGE)?;
    let b = body.value;
    let mut errors = Vec::new();
    if !is_valid_code(&b.code) {
        errors.push(FieldError::new(
            "/code",
            "invalid_code",
            "the code must match ^[A-Za-z][A-Za-z0-9_.-]{0,63}$",
        ));
    }
    if b.name.trim().is_empty() || b.name.len() > 256 {
        errors.push(FieldError::new(
            "/name",
            "invalid_name",
            "the name must be 1 to 256 characters",
        ));
    }
    if !errors.is_empty() {
        return Err(Problem::bad_request(errors));
    }
    let taken = || {
        Problem::conflict(
            "namespace-exists",
            format!("the identity namespace '{}' already exists", b.code),
        )
        .at("/code")
    };
    if standard_kind(&b.code).is_some() {
        return Err(taken());
    }
    let ns = IdentityNamespace {
        code: b.code.clone(),
        name: b.name.trim().to_string(),
        kind: b.kind,
        standard: false,
        sandbox: caller.sandbox.clone(),
        created_at: Some(Utc::now()),
    };
    if !state.store.insert_identity_namespace(&ns).await? {
        return Err(taken());
    }
    let location = format!("/v1/identity-namespaces/{}", ns.code);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ns),
    ))
}

#[utoipa::path(get, path = "/v1/identity-namespaces", tag = "profiles",
    responses((status = 200, description = "{items: [IdentityNamespace]}: the standard ones, then the custom ones")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    caller.require(SCOPE_MANAGE)?;
    let mut items = standard_namespaces(&caller.sandbox);
    items.extend(
        state
            .store
            .list_identity_namespaces(&caller.sandbox)
            .await?,
    );
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(get, path = "/v1/identity-namespaces/{code}", tag = "profiles",
    responses((status = 200, body = IdentityNamespace), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
) -> ApiResult<Json<IdentityNamespace>> {
    caller.require(SCOPE_MANAGE)?;
    if let Some(ns) = standard_namespaces(&caller.sandbox)
        .into_iter()
        .find(|n| n.code == code)
    {
        return Ok(Json(ns));
    }
    state
        .store
        .get_identity_namespace(&caller.sandbox, &code)
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found("identity namespace", &code))
}

/// Every namespace of the sandbox with its kind.
pub async fn namespaces(state: &AppState, sandbox: &str) -> Result<Namespaces, Problem> {
    let mut out: Namespaces = identity::STANDARD
        .iter()
        .map(|(c, _, k)| (c.to_string(), *k))
        .collect();
    for ns in state.store.list_identity_namespaces(sandbox).await? {
        out.insert(ns.code, ns.kind);
    }
    Ok(out)
}

/// The kind of `code` in the sandbox, or a 400 `unknown_namespace` at
/// `pointer`.
pub async fn kind_of(
    state: &AppState,
    sandbox: &str,
    code: &str,
    pointer: &str,
) -> Result<IdentityKind, Problem> {
    if let Some(k) = standard_kind(code) {
        return Ok(k);
    }
    match state.store.get_identity_namespace(sandbox, code).await? {
        Some(ns) => Ok(ns.kind),
        None => Err(Problem::bad_request(vec![FieldError::new(
            pointer,
            "unknown_namespace",
            format!(
                "'{code}' is not an identity namespace of this sandbox (see /v1/identity-namespaces)"
            ),
        )])),
    }
}

/// `value` normalized for `kind`, or a 400 naming `pointer`.
pub fn normalized(kind: IdentityKind, value: &str, pointer: &str) -> Result<String, Problem> {
    identity::normalize(kind, value).map_err(|e: IdentityError| {
        Problem::bad_request(vec![FieldError::new(pointer, e.code(), e.to_string())])
    })
}
