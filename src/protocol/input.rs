//! Wire input: what REST bodies, query strings and WebSocket frames carry, and how
//! each becomes a domain value. Both transports share these types, so a field is
//! read the same way whichever way it came.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::json::from_json_value;
use crate::{
    domain::{
        NewTask, Priority, TaskPatch, TaskQuery,
        conversation::{
            Content, ConversationId, ConversationQuery, HistoryQuery, NewMessage, Role,
        },
        task::{TaskTitle, parse_description, parse_due_date},
    },
    error::{Error, Result},
};

/// Reads a request's fields from its frame (the whole JSON object, `type` and `id`
/// included; unknown fields are ignored).
pub trait FromFrame: Sized {
    fn from_frame(frame: &Value) -> Result<Self>;
}

/// Fields read by serde alone.
macro_rules! from_serde {
    ($($fields:ty),* $(,)?) => {
        $(impl FromFrame for $fields {
            fn from_frame(frame: &Value) -> Result<Self> {
                from_json_value(frame)
            }
        })*
    };
}

from_serde!(
    NoFields,
    ResumeFields,
    TokenFields,
    TaskRef,
    CreateTaskBody,
    TaskListFields,
    TaskCompleteFields,
    MessageAppendFields,
    PageFields,
    HistoryFields,
);

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoFields {}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TokenFields {
    pub token: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ResumeFields {
    /// The last `seq` the client saw (0: none).
    #[schemars(range(min = 0))]
    pub after_seq: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TaskRef {
    pub task_id: i64,
}

/// The body of REST `POST …/tasks` and the fields of `task.create`.
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

/// The body of REST `PUT …/tasks/{id}` and the changes of `task.update`: a field
/// that is absent is left alone, `null` clears `description` or `due_date`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UpdateTaskBody {
    #[serde(default, deserialize_with = "present")]
    #[schemars(length(min = 1, max = 255))]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(length(max = 1000))]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub completed: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<Priority>")]
    pub priority: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub due_date: Option<Option<String>>,
}

/// Tells "present with null" (`Some(None)`) from "absent" (`None`).
fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
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

/// `task.update`: `task_id` and any of the create fields; `null` clears
/// `description` or `due_date`.
#[derive(Debug, JsonSchema)]
pub struct TaskUpdateFields {
    #[serde(flatten)]
    pub task: TaskRef,
    #[serde(flatten)]
    pub changes: UpdateTaskBody,
}

/// Read as two views of one frame (not `serde(flatten)`, which would lose the
/// name of a field at fault).
impl FromFrame for TaskUpdateFields {
    fn from_frame(frame: &Value) -> Result<Self> {
        let changes = from_json_value(frame)?;
        Ok(TaskUpdateFields {
            task: from_json_value(frame)?,
            changes,
        })
    }
}

/// The REST list query string, before its numbers are read.
#[derive(Debug, Default, Deserialize)]
pub struct TaskListQuery {
    pub status: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
}

impl TryFrom<TaskListQuery> for TaskQuery {
    type Error = Error;

    fn try_from(q: TaskListQuery) -> Result<Self> {
        // A malformed number is refused by the same range check as a wrong one.
        let number = |raw: Option<String>| raw.map(|n| n.parse::<i64>().unwrap_or(i64::MIN));
        TaskQuery::parse(
            q.status.as_deref(),
            q.sort.as_deref(),
            q.order.as_deref(),
            number(q.limit),
            number(q.offset),
        )
    }
}

/// As the REST query: `status` all|pending|completed, `sort`
/// created|updated|title|priority|due_date, `order` asc|desc, `limit` 1..100, `offset` ≥ 0.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct TaskListFields {
    pub status: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl TryFrom<TaskListFields> for TaskQuery {
    type Error = Error;

    fn try_from(f: TaskListFields) -> Result<Self> {
        TaskQuery::parse(
            f.status.as_deref(),
            f.sort.as_deref(),
            f.order.as_deref(),
            f.limit,
            f.offset,
        )
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TaskCompleteFields {
    pub task_id: i64,
    pub completed: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MessageAppendFields {
    /// Not blank; at most 32,768 characters; stored as sent.
    #[schemars(length(min = 1, max = 32768))]
    pub content: String,
    /// Absent: a new conversation is started.
    pub conversation_id: Option<i64>,
    /// `user` (default) or `assistant`.
    #[schemars(with = "Option<Role>")]
    pub role: Option<String>,
}

impl TryFrom<MessageAppendFields> for NewMessage {
    type Error = Error;

    fn try_from(fields: MessageAppendFields) -> Result<Self> {
        Ok(NewMessage {
            conversation_id: fields
                .conversation_id
                .map(ConversationId::try_from)
                .transpose()?,
            role: fields
                .role
                .as_deref()
                .map(Role::parse)
                .transpose()?
                .unwrap_or_default(),
            content: Content::parse(fields.content)?,
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PageFields {
    /// 1..100, default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl TryFrom<PageFields> for ConversationQuery {
    type Error = Error;

    fn try_from(fields: PageFields) -> Result<Self> {
        ConversationQuery::parse(fields.limit, fields.offset)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HistoryFields {
    pub conversation_id: i64,
    /// 1..200, default 50.
    pub limit: Option<i64>,
    /// Only messages older than this one.
    pub before_id: Option<i64>,
}

impl TryFrom<HistoryFields> for HistoryQuery {
    type Error = Error;

    fn try_from(fields: HistoryFields) -> Result<Self> {
        HistoryQuery::parse(fields.conversation_id, fields.limit, fields.before_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn task_update_names_the_field_at_fault() {
        let frame =
            serde_json::json!({"type": "task.update", "id": "1", "task_id": 3, "completed": "yes"});
        match TaskUpdateFields::from_frame(&frame) {
            Err(Error::Invalid { field, .. }) => assert_eq!(field.as_deref(), Some("completed")),
            other => panic!("expected invalid completed, got {other:?}"),
        }
        let frame = serde_json::json!({"type": "task.update", "id": "1", "title": "x"});
        match TaskUpdateFields::from_frame(&frame) {
            Err(Error::Invalid { field, .. }) => assert_eq!(field.as_deref(), Some("task_id")),
            other => panic!("expected invalid task_id, got {other:?}"),
        }
    }

    #[test]
    fn rest_list_numbers_are_read_from_text() {
        let query = |limit: &str| TaskListQuery {
            limit: Some(limit.into()),
            ..Default::default()
        };
        assert_eq!(TaskQuery::try_from(query("7")).unwrap().limit, 7);
        for bad in ["0", "101", "abc", "99999999999999999999"] {
            assert!(TaskQuery::try_from(query(bad)).is_err(), "{bad}");
        }
    }
}
