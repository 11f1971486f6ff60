use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use serde_json::{Value, json};

use crate::AppState;
use crate::problem::Problem;

/// `GET /ajo/im/health`: up when the store answers.
#[utoipa::path(get, path = "/ajo/im/health", tag = "health", responses((status = 200, description = "Healthy"), (status = 503, description = "The store does not answer")))]
pub async fn health(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    match state.store.api_key_count().await {
        Ok(_) => Ok(Json(json!({"status": "UP", "store": "UP"}))),
        Err(e) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unhealthy",
            "Unhealthy",
            e.to_string(),
        )),
    }
}

/// The benchmark baseline: parse JSON, answer JSON, nothing else.
pub async fn noop(Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::ACCEPTED,
        Json(json!({"ok": true, "fields": body.as_object().map(|o| o.len()).unwrap_or(0)})),
    )
}

pub async fn not_found(uri: Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no-such-route",
        "Not found",
        format!("no route for {}", uri.path()),
    )
}

pub async fn method_not_allowed(method: axum::http::Method, uri: Uri) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
