use axum::extract::{Path, State};
use axum::{Extension, Json};

use herald_domain::message::Message;

use crate::AppState;
use crate::auth::{Caller, SCOPE_MANAGE};
use crate::problem::{ApiResult, Problem};

#[utoipa::path(get, path = "/v1/messages/{id}", tag = "messages",
    responses((status = 200, body = Message), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Message>> {
    caller.require(SCOPE_MANAGE)?;
    state
        .store
        .get_message(&caller.sandbox, &id)
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found("message", &id))
}
