//! API keys: `Authorization: Bearer <key>`, sandbox selection, scopes.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use rand::RngCore;
use sha2::{Digest, Sha256};

use herald_domain::ids::new_id;
use herald_domain::sandbox::{DEFAULT_SANDBOX, is_valid_sandbox_name};
use herald_store::{ApiKeyRecord, Store, StoreError};

use crate::AppState;
use crate::problem::Problem;

pub const SCOPE_ADMIN: &str = "admin";
pub const SCOPE_MANAGE: &str = "manage";
pub const SCOPE_EXECUTE: &str = "execute";

/// Who is calling, and in which sandbox.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_name: String,
    pub sandbox: String,
    scopes: Arc<Vec<String>>,
}

impl Caller {
    pub fn require(&self, scope: &str) -> Result<(), Problem> {
        if self.scopes.iter().any(|s| s == scope || s == SCOPE_ADMIN) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "the API key '{}' lacks the '{scope}' scope",
                self.key_name
            )))
        }
    }
}

/// Hex SHA-256. Keys are 256 random bits, so a fast hash is enough: there
/// is nothing to brute-force.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("hk_{}", hex::encode(bytes))
}

/// Makes sure an admin key exists. With `explicit`, that key becomes the
/// admin key; otherwise, on an empty store, a key is generated and
/// returned so the caller can print it once.
pub async fn ensure_admin_key(
    store: &dyn Store,
    explicit: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let record = |key: &str| ApiKeyRecord {
        id: new_id(),
        name: "admin".into(),
        key_hash: hash_key(key),
        sandboxes: vec!["*".into()],
        scopes: vec![SCOPE_ADMIN.into()],
        created_at: Utc::now(),
    };
    match explicit {
        Some(key) => {
            if store.find_api_key(&hash_key(key)).await?.is_none() {
                store.put_api_key(&record(key)).await?;
            }
            Ok(None)
        }
        None if store.api_key_count().await? == 0 => {
            let key = generate_key();
            store.put_api_key(&record(&key)).await?;
            Ok(Some(key))
        }
        None => Ok(None),
    }
}

#[derive(Clone)]
struct CachedKey {
    name: String,
    sandboxes: Vec<String>,
    scopes: Arc<Vec<String>>,
}

/// Known keys by hash, so the hot path does not read the store per call.
#[derive(Default)]
pub struct KeyCache(RwLock<HashMap<String, CachedKey>>);

pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    match caller_for(&state, req.headers()).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(p) => p.into_response(),
    }
}

async fn caller_for(state: &AppState, headers: &HeaderMap) -> Result<Caller, Problem> {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            Problem::unauthorized(
                "missing Authorization header; send 'Authorization: Bearer <api key>'",
            )
        })?;
    let token = auth
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Problem::unauthorized("the Authorization header must be 'Bearer <api key>'")
        })?;
    let hash = hash_key(token);
    let cached = state.keys.0.read().ok().and_then(|m| m.get(&hash).cloned());
    let key = match cached {
        Some(k) => k,
        None => {
            let rec = state
                .store
                .find_api_key(&hash)
                .await?
                .ok_or_else(|| Problem::unauthorized("the API key is not valid"))?;
            let k = CachedKey {
                name: rec.name,
                sandboxes: rec.sandboxes,
                scopes: Arc::new(rec.scopes),
            };
            if let Ok(mut m) = state.keys.0.write() {
                m.insert(hash, k.clone());
            }
            k
        }
    };
    let sandbox = match headers.get("x-sandbox-name") {
        None => DEFAULT_SANDBOX.to_string(),
        Some(v) => {
            let name = v.to_str().unwrap_or("").trim().to_string();
            if !is_valid_sandbox_name(&name) {
                return Err(Problem::bad_request(vec![herald_domain::FieldError::new(
                    "",
                    "invalid_sandbox",
                    format!(
                        "x-sandbox-name '{name}' is not a valid sandbox name (a-z, 0-9, '-', '_')"
                    ),
                )]));
            }
            name
        }
    };
    if !key.sandboxes.iter().any(|s| s == "*" || *s == sandbox) {
        return Err(Problem::forbidden(format!(
            "the API key '{}' has no access to sandbox '{sandbox}'",
            key.name
        )));
    }
    Ok(Caller {
        key_name: key.name,
        sandbox,
        scopes: key.scopes,
    })
}
