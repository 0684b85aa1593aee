//! `imagemk schema`: the JSON Schema of `images.yaml`, generated from the serde types that
//! parse it (`config::raw`), so the two cannot drift. Committed as `schema/images.schema.json`.

use crate::config::raw::RawFile;

/// The schema as pretty JSON with a final newline (the committed file's exact text).
pub fn text() -> String {
    let mut schema = schemars::schema_for!(RawFile);
    schema.insert("title".into(), "imagemk images.yaml".into());
    let mut out = serde_json::to_string_pretty(&schema).expect("a schema is JSON");
    out.push('\n');
    out
}

pub fn run() -> anyhow::Result<i32> {
    crate::console::out!("{}", text());
    Ok(0)
}
