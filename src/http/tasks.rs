//! The legacy REST task routes, unchanged for existing clients. Each handler is a
//! thin adapter: extract, call the service, shape the answer.

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::IntoResponse,
    routing::{get, patch},
};
use serde::Deserialize;

use super::extract::{JsonBody, PathUser, QueryParams};
use crate::{
    domain::{NewTask, TaskId, TaskPage, TaskPatch, TaskQuery, task::CompletionState},
    error::{Error, Result},
    protocol::input::{CreateTaskBody, TaskListQuery, UpdateTaskBody},
    state::AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{user_id}/tasks", get(list).post(create))
        .route(
            "/{user_id}/tasks/{task_id}",
            get(show).put(update).delete(remove),
        )
        .route("/{user_id}/tasks/{task_id}/complete", patch(complete))
}

/// The `{task_id}` path segment: not an integer is 422, out of range is 404.
fn task_id(path: &PathUser) -> Result<TaskId> {
    let raw = path.task_id.as_deref().unwrap_or_default();
    match raw.trim().parse::<i64>() {
        Ok(n) => TaskId::try_from(n),
        Err(_) => Err(Error::invalid("task_id", "task_id must be an integer")),
    }
}

async fn list(
    State(state): State<AppState>,
    path: PathUser,
    QueryParams(params): QueryParams<TaskListQuery>,
) -> Result<Json<TaskPage>> {
    let query = TaskQuery::try_from(params)?;
    Ok(Json(state.service.list_tasks(&path.user, &query).await?))
}

async fn create(
    State(state): State<AppState>,
    path: PathUser,
    JsonBody(body): JsonBody<CreateTaskBody>,
) -> Result<impl IntoResponse> {
    let task = NewTask::try_from(body)?;
    let created = state.service.create_task(&path.actor(), task).await?;
    Ok((StatusCode::CREATED, Json(created.value()?)))
}

async fn show(State(state): State<AppState>, path: PathUser) -> Result<impl IntoResponse> {
    let id = task_id(&path)?;
    Ok(Json(state.service.get_task(&path.user, id).await?))
}

async fn update(
    State(state): State<AppState>,
    path: PathUser,
    JsonBody(body): JsonBody<UpdateTaskBody>,
) -> Result<impl IntoResponse> {
    let id = task_id(&path)?;
    let patch = TaskPatch::try_from(body)?;
    let updated = state.service.update_task(&path.actor(), id, patch).await?;
    Ok(Json(updated.value()?))
}

async fn remove(State(state): State<AppState>, path: PathUser) -> Result<StatusCode> {
    let id = task_id(&path)?;
    state.service.delete_task(&path.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct CompleteBody {
    completed: Option<bool>,
}

async fn complete(
    State(state): State<AppState>,
    path: PathUser,
    JsonBody(body): JsonBody<CompleteBody>,
) -> Result<Json<CompletionState>> {
    let id = task_id(&path)?;
    let completed = body
        .completed
        .ok_or_else(|| Error::invalid("completed", "completed is required (true or false)"))?;
    let updated = state
        .service
        .complete_task(&path.actor(), id, completed)
        .await?;
    Ok(Json(CompletionState::from(&updated.value()?)))
}
