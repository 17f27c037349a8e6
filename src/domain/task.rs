//! Tasks: the parsed forms of what clients send, and the task they get back.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use super::time;
use crate::error::{Error, Result};

pub const TITLE_MAX_CHARS: usize = 255;
pub const DESCRIPTION_MAX_CHARS: usize = 1000;
pub const LIST_LIMIT_MAX: u64 = 100;
pub const LIST_LIMIT_DEFAULT: u64 = 100;

/// A task as clients see it (REST body, WebSocket `data`).
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub id: TaskId,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub priority: Priority,
    #[serde(serialize_with = "time::rfc3339_opt")]
    pub due_date: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// Task ids are the old backend's `integer` primary keys.
pub type TaskId = i32;

/// Parses a task id from a path segment or a frame field.
pub fn parse_task_id(raw: &str) -> Result<TaskId> {
    match raw.trim().parse::<i64>() {
        // A well-formed id out of the column's range cannot name an existing task.
        Ok(n) => parse_task_id_number(n),
        Err(_) => Err(Error::invalid("task_id", "task_id must be an integer")),
    }
}

/// Reads a task id sent as a JSON number.
pub fn parse_task_id_number(raw: i64) -> Result<TaskId> {
    TaskId::try_from(raw).map_err(|_| Error::not_found("Task not found"))
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
        }
    }

    pub fn parse(raw: &str) -> Result<Self> {
        match raw {
            "low" => Ok(Priority::Low),
            "normal" => Ok(Priority::Normal),
            "high" => Ok(Priority::High),
            _ => Err(Error::invalid(
                "priority",
                "priority must be one of: low, normal, high",
            )),
        }
    }

    /// Reads a stored value; rows written by hand with another value read as `normal`.
    pub fn from_db(raw: &str) -> Self {
        Self::parse(&raw.to_ascii_lowercase()).unwrap_or_default()
    }
}

/// A title: trimmed, 1..=255 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub fn parse(raw: &str) -> Result<Self> {
        let title = raw.trim();
        if title.is_empty() {
            return Err(Error::invalid("title", "title must not be blank"));
        }
        if title.chars().count() > TITLE_MAX_CHARS {
            return Err(Error::invalid(
                "title",
                "title must be at most 255 characters",
            ));
        }
        Ok(TaskTitle(title.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

fn parse_description(raw: Option<String>) -> Result<Option<String>> {
    match raw {
        Some(d) if d.chars().count() > DESCRIPTION_MAX_CHARS => Err(Error::invalid(
            "description",
            "description must be at most 1000 characters",
        )),
        other => Ok(other),
    }
}

fn parse_due_date(raw: Option<String>) -> Result<Option<DateTime<Utc>>> {
    raw.map(|d| {
        time::parse(&d).ok_or_else(|| {
            Error::invalid(
                "due_date",
                "due_date must be an RFC 3339 timestamp or YYYY-MM-DDTHH:MM:SS",
            )
        })
    })
    .transpose()
}

/// The JSON body of a create request (REST `POST` and `task.create`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct CreateTaskBody {
    /// 1 to 255 characters, trimmed.
    #[schemars(required, length(min = 1, max = 255))]
    pub title: Option<String>,
    /// At most 1000 characters.
    #[schemars(length(max = 1000))]
    pub description: Option<String>,
    /// Default `false`.
    pub completed: Option<bool>,
    /// Default `normal`.
    #[schemars(with = "Option<Priority>")]
    pub priority: Option<String>,
    /// RFC 3339, or `YYYY-MM-DDTHH:MM:SS` read as UTC.
    pub due_date: Option<String>,
}

/// A task to create, valid by construction.
#[derive(Clone, Debug, PartialEq)]
pub struct NewTask {
    pub title: TaskTitle,
    pub description: Option<String>,
    pub completed: bool,
    pub priority: Priority,
    pub due_date: Option<DateTime<Utc>>,
}

impl TryFrom<CreateTaskBody> for NewTask {
    type Error = Error;

    fn try_from(body: CreateTaskBody) -> Result<Self> {
        let title = body
            .title
            .ok_or_else(|| Error::invalid("title", "title is required"))?;
        Ok(NewTask {
            title: TaskTitle::parse(&title)?,
            description: parse_description(body.description)?,
            completed: body.completed.unwrap_or(false),
            priority: body
                .priority
                .as_deref()
                .map(Priority::parse)
                .transpose()?
                .unwrap_or_default(),
            due_date: parse_due_date(body.due_date)?,
        })
    }
}

/// The JSON body of a partial update: a field that is absent is left alone,
/// `null` clears the nullable ones (`description`, `due_date`).
#[derive(Debug, Default, Deserialize)]
pub struct UpdateTaskBody {
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub completed: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    pub priority: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub due_date: Option<Option<String>>,
}

/// Tells "field present with null" (`Some(None)`) from "field absent" (`None`).
fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The fields of a task to change; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskPatch {
    pub title: Option<TaskTitle>,
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
    pub priority: Option<Priority>,
    pub due_date: Option<Option<DateTime<Utc>>>,
}

impl TaskPatch {
    pub fn completed(completed: bool) -> Self {
        TaskPatch {
            completed: Some(completed),
            ..Self::default()
        }
    }
}

fn not_null<T>(field: &'static str, value: Option<Option<T>>) -> Result<Option<T>> {
    match value {
        Some(None) => Err(Error::invalid(field, format!("{field} must not be null"))),
        Some(Some(v)) => Ok(Some(v)),
        None => Ok(None),
    }
}

impl TryFrom<UpdateTaskBody> for TaskPatch {
    type Error = Error;

    fn try_from(body: UpdateTaskBody) -> Result<Self> {
        Ok(TaskPatch {
            title: not_null("title", body.title)?
                .map(|t| TaskTitle::parse(&t))
                .transpose()?,
            description: body.description.map(parse_description).transpose()?,
            completed: not_null("completed", body.completed)?,
            priority: not_null("priority", body.priority)?
                .map(|p| Priority::parse(&p))
                .transpose()?,
            due_date: body.due_date.map(parse_due_date).transpose()?,
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StatusFilter {
    #[default]
    All,
    Pending,
    Completed,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    #[default]
    Created,
    Updated,
    Title,
    Priority,
    DueDate,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}

/// The list parameters as they arrive, before parsing (query string or frame).
#[derive(Debug, Default, Deserialize)]
pub struct ListTasksParams {
    pub status: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
}

/// What to list: filter, order and page. Defaults: all tasks, newest first, 100 per page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskQuery {
    pub status: StatusFilter,
    pub sort: SortKey,
    pub order: SortOrder,
    pub limit: u64,
    pub offset: u64,
}

impl Default for TaskQuery {
    fn default() -> Self {
        TaskQuery {
            status: StatusFilter::All,
            sort: SortKey::Created,
            order: SortOrder::Desc,
            limit: LIST_LIMIT_DEFAULT,
            offset: 0,
        }
    }
}

impl TryFrom<ListTasksParams> for TaskQuery {
    type Error = Error;

    fn try_from(p: ListTasksParams) -> Result<Self> {
        let mut q = TaskQuery::default();
        if let Some(s) = p.status {
            q.status = match s.as_str() {
                "all" => StatusFilter::All,
                "pending" => StatusFilter::Pending,
                "completed" => StatusFilter::Completed,
                _ => {
                    return Err(Error::invalid(
                        "status",
                        "status must be one of: all, pending, completed",
                    ));
                }
            };
        }
        if let Some(s) = p.sort {
            q.sort = match s.as_str() {
                "created" => SortKey::Created,
                "updated" => SortKey::Updated,
                "title" => SortKey::Title,
                "priority" => SortKey::Priority,
                "due_date" => SortKey::DueDate,
                _ => {
                    return Err(Error::invalid(
                        "sort",
                        "sort must be one of: created, updated, title, priority, due_date",
                    ));
                }
            };
        }
        if let Some(o) = p.order {
            q.order = match o.as_str() {
                "asc" => SortOrder::Asc,
                "desc" => SortOrder::Desc,
                _ => return Err(Error::invalid("order", "order must be asc or desc")),
            };
        }
        if let Some(l) = p.limit {
            q.limit = l
                .parse()
                .ok()
                .filter(|l| (1..=LIST_LIMIT_MAX).contains(l))
                .ok_or_else(|| Error::invalid("limit", "limit must be an integer from 1 to 100"))?;
        }
        if let Some(o) = p.offset {
            q.offset = o
                .parse()
                .ok()
                .filter(|o| *o <= i64::MAX as u64)
                .ok_or_else(|| Error::invalid("offset", "offset must be a non-negative integer"))?;
        }
        Ok(q)
    }
}

/// One page of a user's tasks.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPage {
    pub tasks: Vec<Task>,
    /// All of the user's tasks.
    pub total_count: i64,
    /// The user's tasks that match the status filter, before `limit`/`offset`.
    pub filtered_count: i64,
}

/// The REST `PATCH …/complete` answer, kept in the old backend's shape.
#[derive(Clone, Debug, Serialize)]
pub struct CompletionState {
    pub id: TaskId,
    pub completed: bool,
    #[serde(serialize_with = "time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<&Task> for CompletionState {
    fn from(task: &Task) -> Self {
        CompletionState {
            id: task.id,
            completed: task.completed,
            updated_at: task.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_is_trimmed_and_bounded() {
        assert_eq!(TaskTitle::parse("  milk ").unwrap().into_inner(), "milk");
        assert!(TaskTitle::parse("   ").is_err());
        assert!(TaskTitle::parse(&"é".repeat(255)).is_ok());
        assert!(TaskTitle::parse(&"é".repeat(256)).is_err());
    }

    #[test]
    fn update_tells_null_from_absent() {
        let body: UpdateTaskBody = serde_json::from_str(r#"{"description": null}"#).unwrap();
        let patch = TaskPatch::try_from(body).unwrap();
        assert_eq!(patch.description, Some(None));
        assert_eq!(patch.due_date, None);

        let body: UpdateTaskBody = serde_json::from_str(r#"{"title": null}"#).unwrap();
        assert!(TaskPatch::try_from(body).is_err());
    }

    #[test]
    fn list_params_are_checked() {
        let ok = |p: ListTasksParams| TaskQuery::try_from(p).is_ok();
        assert!(ok(ListTasksParams::default()));
        assert!(!ok(ListTasksParams {
            limit: Some("0".into()),
            ..Default::default()
        }));
        assert!(!ok(ListTasksParams {
            limit: Some("101".into()),
            ..Default::default()
        }));
        assert!(!ok(ListTasksParams {
            offset: Some("-1".into()),
            ..Default::default()
        }));
        assert!(!ok(ListTasksParams {
            status: Some("done".into()),
            ..Default::default()
        }));
    }
}
