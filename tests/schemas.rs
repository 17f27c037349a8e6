//! The committed JSON Schemas in `protocol/schemas/` are generated from the Rust frame
//! types. This test fails when they differ; `UPDATE_SCHEMAS=1 cargo test --test schemas`
//! rewrites them.

use std::path::Path;

#[test]
fn committed_schemas_match_the_frame_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol/schemas");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (name, schema) in taskwire::protocol::schemas() {
        let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &generated).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(generated.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "protocol/schemas is out of date for {stale:?}: run UPDATE_SCHEMAS=1 cargo test --test schemas and commit"
    );
}
