//! Reading and checking the JSON the server answers, the way a client would.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// The fields of a task, as REST and `/ws` send it (sorted, as `keys` returns them).
pub const TASK_KEYS: [&str; 9] = [
    "completed",
    "created_at",
    "description",
    "due_date",
    "id",
    "priority",
    "title",
    "updated_at",
    "user_id",
];
pub const CONVERSATION_KEYS: [&str; 4] = ["created_at", "id", "updated_at", "user_id"];
pub const MESSAGE_KEYS: [&str; 6] = [
    "content",
    "conversation_id",
    "created_at",
    "id",
    "role",
    "user_id",
];

/// The keys of a JSON object, sorted, so a test can pin an object's exact shape.
pub fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// `base` with the fields of the object `extra` added (replacing any of the same name).
pub fn merged(base: Value, extra: Value) -> Value {
    let mut merged = base;
    let Value::Object(extra) = extra else {
        panic!("not an object: {extra}");
    };
    merged
        .as_object_mut()
        .unwrap_or_else(|| panic!("not an object"))
        .extend(extra);
    merged
}

/// The integer `id` of a task, conversation or message.
pub fn id(value: &Value) -> i64 {
    value["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no integer id: {value}"))
}

/// The ids of an array of objects, in order.
pub fn ids(items: &Value) -> Vec<i64> {
    items.as_array().expect("an array").iter().map(id).collect()
}

/// The titles of a task list answer, in order.
pub fn titles(page: &Value) -> Vec<&str> {
    page["tasks"]
        .as_array()
        .expect("tasks is an array")
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect()
}

/// Parses a timestamp the way a client would, insisting on RFC 3339 in UTC with `Z`.
pub fn timestamp(value: &Value) -> DateTime<Utc> {
    let raw = value.as_str().expect("timestamp is a string");
    assert!(raw.ends_with('Z'), "{raw} is not UTC with Z");
    DateTime::parse_from_rfc3339(raw)
        .unwrap_or_else(|e| panic!("{raw} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// The error body every 4xx/5xx carries, REST and refused `/ws` handshakes alike:
/// `success: false`, the `error` code, a `message`, and `detail` repeating it (the old
/// FastAPI clients read `detail`).
pub fn assert_error_body(body: &Value, code: &str) {
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"], code, "{body}");
    let message = body["message"].as_str().expect("message is a string");
    assert!(!message.is_empty(), "no message: {body}");
    assert_eq!(body["detail"], message, "detail repeats message: {body}");
}
