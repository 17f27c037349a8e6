//! Tasks: the parsed forms of what clients send, and the task they get back. The
//! wire shapes they are parsed from live in `protocol::input`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{storable, time};
use crate::error::{Error, Result};

pub const TITLE_MAX_CHARS: usize = 255;
pub const DESCRIPTION_MAX_CHARS: usize = 1000;
pub const LIST_LIMIT_MAX: u64 = 100;
pub const LIST_LIMIT_DEFAULT: u64 = 100;

/// A task as clients see it (REST body, WebSocket `data`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
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

integer_id! {
    /// A task's id: the old backend's `integer` primary key.
    TaskId, "Task not found"
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub fn parse(raw: &str) -> Result<Self> {
        let title = raw.trim();
        if title.is_empty() {
            return Err(Error::invalid("title", "title must not be blank"));
        }
        storable("title", title)?;
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

pub fn parse_description(raw: Option<String>) -> Result<Option<String>> {
    if let Some(d) = &raw {
        storable("description", d)?;
        if d.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(Error::invalid(
                "description",
                "description must be at most 1000 characters",
            ));
        }
    }
    Ok(raw)
}

pub fn parse_due_date(raw: Option<String>) -> Result<Option<DateTime<Utc>>> {
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

/// A task to create, valid by construction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewTask {
    pub title: TaskTitle,
    pub description: Option<String>,
    pub completed: bool,
    pub priority: Priority,
    pub due_date: Option<DateTime<Utc>>,
}

/// The fields of a task to change; `None` leaves a field as it is, `Some(None)`
/// clears it. Serialized (as the fingerprint of an idempotent request) with the
/// fields left alone omitted, so that "clear" and "leave" never look the same.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TaskPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<TaskTitle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(skip_serializing_if = "Option::is_none")]
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

impl TaskQuery {
    /// Parses the list parameters of REST's query string and of `task.list`.
    pub fn parse(
        status: Option<&str>,
        sort: Option<&str>,
        order: Option<&str>,
        limit: Option<i64>,
        offset: Option<i64>,
    ) -> Result<Self> {
        let mut q = TaskQuery::default();
        if let Some(s) = status {
            q.status = match s {
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
        if let Some(s) = sort {
            q.sort = match s {
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
        if let Some(o) = order {
            q.order = match o {
                "asc" => SortOrder::Asc,
                "desc" => SortOrder::Desc,
                _ => return Err(Error::invalid("order", "order must be asc or desc")),
            };
        }
        if let Some(l) = limit {
            q.limit = u64::try_from(l)
                .ok()
                .filter(|l| (1..=LIST_LIMIT_MAX).contains(l))
                .ok_or_else(|| Error::invalid("limit", "limit must be an integer from 1 to 100"))?;
        }
        if let Some(o) = offset {
            q.offset = u64::try_from(o)
                .map_err(|_| Error::invalid("offset", "offset must be a non-negative integer"))?;
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
    fn text_with_a_nul_is_refused_naming_the_field() {
        let field = |r: Result<_>| match r {
            Err(Error::Invalid { field, .. }) => field.map(|f| f.into_owned()),
            Ok(_) => None,
            Err(other) => panic!("{other:?}"),
        };
        assert_eq!(
            field(TaskTitle::parse("a\0b").map(drop)),
            Some("title".into())
        );
        assert_eq!(
            field(TaskTitle::parse("\0").map(drop)),
            Some("title".into())
        );
        assert_eq!(
            field(parse_description(Some("\0".into())).map(drop)),
            Some("description".into())
        );
        assert_eq!(
            field(Priority::parse("low\0").map(drop)),
            Some("priority".into())
        );
        assert_eq!(
            field(parse_due_date(Some("2026-03-01T09:30:00Z\0".into())).map(drop)),
            Some("due_date".into())
        );
        // Other control characters are text like any other.
        assert!(TaskTitle::parse("a\tb\u{1}").is_ok());
    }

    #[test]
    fn a_patch_that_clears_is_not_a_patch_that_leaves() {
        let leave = TaskPatch::default();
        let clear = TaskPatch {
            description: Some(None),
            ..TaskPatch::default()
        };
        let json = |p: &TaskPatch| serde_json::to_string(p).unwrap();
        assert_ne!(json(&leave), json(&clear));
        assert_eq!(json(&clear), r#"{"description":null}"#);
    }

    #[test]
    fn list_params_are_checked() {
        let ok = |limit, offset| TaskQuery::parse(None, None, None, limit, offset).is_ok();
        assert!(ok(None, None));
        assert!(ok(Some(100), Some(0)));
        assert!(!ok(Some(0), None));
        assert!(!ok(Some(101), None));
        assert!(!ok(None, Some(-1)));
        assert!(TaskQuery::parse(Some("done"), None, None, None, None).is_err());
    }
}
