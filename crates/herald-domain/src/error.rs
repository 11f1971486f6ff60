//! Field-level validation errors, rendered by the server as problem JSON.

use serde::{Deserialize, Serialize};

/// One thing wrong with one field of a request, located by a JSON pointer
/// (RFC 6901) into the request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    pub pointer: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        FieldError {
            pointer: pointer.into(),
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// Escapes one reference token of a JSON pointer.
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
