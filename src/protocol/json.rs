//! JSON input, REST bodies and WebSocket frames alike: parsed into a typed value, or
//! an `invalid` error that names the field at fault.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;

/// Parses a JSON body into `T`, reporting the path of the offending field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // serde would also read a struct from an array (`["title"]`): only objects are bodies.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::Invalid {
            field: None,
            message: "Request body must be a JSON object".into(),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(invalid_json)?;
    de.end().map_err(|e| Error::Invalid {
        field: None,
        message: format!("Request body is not valid JSON: {e}").into(),
    })?;
    Ok(value)
}

/// Reads already-parsed JSON (a frame) into `T`, with the same errors as `parse_json`.
pub fn from_json_value<T: DeserializeOwned>(value: &Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(invalid_json)
}

/// Turns a serde error into `invalid`, naming the field when serde knows it.
fn invalid_json(err: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let text = inner.to_string();
    let missing = text
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .map(str::to_owned);
    let (field, message) = if inner.is_syntax() || inner.is_eof() {
        (None, format!("Request body is not valid JSON: {inner}"))
    } else if let Some(name) = missing {
        let message = format!("{name} is required");
        (Some(name), message)
    } else if path == "." {
        (None, format!("Request body must be a JSON object: {inner}"))
    } else {
        (
            Some(path.clone()),
            format!("Invalid value for {path}: {inner}"),
        )
    };
    Error::Invalid {
        field: field.map(Into::into),
        message: message.into(),
    }
}
