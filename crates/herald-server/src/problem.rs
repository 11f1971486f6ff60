//! Errors as problem JSON: the reference's error shape extended with
//! RFC 9457 fields and per-field pointers.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use herald_domain::FieldError;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemReport {
    #[serde(rename = "additionalContext")]
    pub additional_context: BTreeMap<String, String>,
}

/// `application/problem+json`. Boxed so that `Result<T, Problem>` stays
/// small on the happy path.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(transparent)]
pub struct Problem(Box<ProblemBody>);

impl std::ops::Deref for Problem {
    type Target = ProblemBody;
    fn deref(&self) -> &ProblemBody {
        &self.0
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub report: ProblemReport,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem(Box::new(ProblemBody {
            kind: format!("https://herald.dev/problems/{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            report: ProblemReport {
                additional_context: BTreeMap::new(),
            },
            errors: Vec::new(),
        }))
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Problem {
        self.0.errors = errors;
        self
    }

    /// Names the field at fault for a problem that is about one field as a
    /// whole (an unknown campaign id, a reused request id): one `errors[]`
    /// entry with the problem's slug as code and its detail as message.
    pub fn at(mut self, pointer: &str) -> Problem {
        let code = self
            .0
            .kind
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .replace('-', "_");
        let message = self.0.detail.clone();
        self.0.errors.push(FieldError::new(pointer, &code, message));
        self
    }

    pub fn with_context(mut self, key: &str, value: impl Into<String>) -> Problem {
        self.0
            .report
            .additional_context
            .insert(key.to_string(), value.into());
        self
    }

    pub fn bad_request(errors: Vec<FieldError>) -> Problem {
        let detail = match errors.as_slice() {
            [one] if one.pointer.is_empty() => one.message.clone(),
            [one] => format!("{}: {}", one.pointer, one.message),
            many => format!("{} fields are invalid; see errors", many.len()),
        };
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "The request is invalid",
            detail,
        )
        .with_errors(errors)
    }

    pub fn not_found(what: &str, id: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no {what} '{id}' in this sandbox"),
        )
    }

    pub fn conflict(slug: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, slug, "Conflict", detail)
    }

    pub fn unauthorized(detail: &str) -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn internal(err: impl std::fmt::Display) -> Problem {
        tracing::error!(error = %err, "internal error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server could not complete the request; it has been logged",
        )
    }
}

impl From<herald_store::StoreError> for Problem {
    fn from(e: herald_store::StoreError) -> Self {
        match e {
            herald_store::StoreError::Conflict => Problem::conflict(
                "concurrent-change",
                "the record changed while this request ran; retry",
            ),
            other => Problem::internal(other),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        resp
    }
}

pub type ApiResult<T> = Result<T, Problem>;
