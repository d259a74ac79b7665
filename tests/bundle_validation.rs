//! A bad bundle is refused with a message naming the file and the mismatch.

mod common;

use common::*;
use parlance::model::Bundle;
use parlance::model::SessionSettings;

fn problems(dir: &std::path::Path) -> Vec<String> {
    match Bundle::load(dir, &SessionSettings::default()) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
    }
}

#[test]
fn fixture_is_valid() {
    assert!(problems(&fixture_dir()).is_empty());
}

#[test]
fn intent_labels_not_matching_the_graph_are_refused() {
    let dir = fixture_copy();
    edit_manifest(dir.path(), |m| {
        m["intents"].as_array_mut().unwrap().pop();
    });
    let p = problems(dir.path());
    assert!(p.iter().any(|s| s.starts_with("model.onnx:") && s.contains("gives 4 scores but the manifest lists 3 intents")), "{p:?}");
}

#[test]
fn slot_labels_not_matching_the_graph_are_refused() {
    let dir = fixture_copy();
    edit_manifest(dir.path(), |m| {
        m["slot_labels"].as_array_mut().unwrap().push("B-extra".into());
    });
    let p = problems(dir.path());
    assert!(p.iter().any(|s| s.starts_with("model.onnx:") && s.contains("8 slot_labels")), "{p:?}");
}

#[test]
fn wrong_input_name_is_refused() {
    let dir = fixture_copy();
    edit_manifest(dir.path(), |m| m["inputs"]["input_ids"] = "ids".into());
    let p = problems(dir.path());
    assert!(p.iter().any(|s| s.contains("no input \"ids\"")), "{p:?}");
}

#[test]
fn broken_files_are_named() {
    let dir = fixture_copy();
    std::fs::write(dir.path().join("tokenizer.json"), "{not json").unwrap();
    std::fs::write(dir.path().join("model.onnx"), b"\x00\x01garbage").unwrap();
    let p = problems(dir.path());
    assert!(p.iter().any(|s| s.starts_with("tokenizer.json: does not load")), "{p:?}");
    assert!(p.iter().any(|s| s.starts_with("model.onnx: ONNX Runtime cannot load")), "{p:?}");
}

#[test]
fn manifest_errors_name_the_manifest() {
    let dir = fixture_copy();
    std::fs::write(dir.path().join("parlance.json"), r#"{"name": "x"}"#).unwrap();
    let p = problems(dir.path());
    // the schema names each missing field
    for field in ["format_version", "version", "languages", "max_length", "inputs", "outputs", "intents"] {
        assert!(p.iter().any(|s| s.starts_with("parlance.json: schema:") && s.contains(&format!("\"{field}\""))), "{field}: {p:?}");
    }
    std::fs::write(dir.path().join("parlance.json"), "{not json").unwrap();
    assert!(problems(dir.path()).iter().any(|s| s.starts_with("parlance.json: not JSON")));
    let dir = fixture_copy();
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    assert!(problems(dir.path()).iter().any(|s| s == "tokenizer.json: missing"));
}

/// A fixture copy whose manifest names a slot transition file with these counts.
fn with_transitions(counts: serde_json::Value, weight: f64) -> tempfile::TempDir {
    let dir = fixture_copy();
    std::fs::write(dir.path().join("slot_transitions.json"), serde_json::json!({"counts": counts}).to_string()).unwrap();
    edit_manifest(dir.path(), |m| {
        m["slot_transitions"] = serde_json::json!({"file": "slot_transitions.json", "weight": weight, "smoothing": 0.1});
    });
    dir
}

#[test]
fn slot_transition_files_are_checked() {
    let ok = with_transitions(serde_json::json!({"<start>": {"O": 3, "B-time": 1}, "B-time": {"I-time": 1}}), 0.2);
    assert!(problems(ok.path()).is_empty(), "{:?}", problems(ok.path()));

    // labels the manifest does not have, as a "from" and as a "to"
    let dir = with_transitions(serde_json::json!({"B-nope": {"O": 1}, "O": {"I-colour": 2}}), 0.2);
    let p = problems(dir.path());
    assert!(p.iter().any(|s| s.starts_with("slot_transitions.json:") && s.contains("\"B-nope\"")), "{p:?}");
    assert!(p.iter().any(|s| s.starts_with("slot_transitions.json:") && s.contains("\"I-colour\"")), "{p:?}");

    // counts that are not whole non-negative numbers, a missing file, a file outside the folder
    let dir = with_transitions(serde_json::json!({"O": {"O": -1}}), 0.2);
    assert!(problems(dir.path()).iter().any(|s| s.starts_with("slot_transitions.json: not a slot transition file")));
    std::fs::remove_file(dir.path().join("slot_transitions.json")).unwrap();
    assert!(problems(dir.path()).iter().any(|s| s.starts_with("slot_transitions.json: cannot be read")));
    edit_manifest(dir.path(), |m| m["slot_transitions"]["file"] = "../elsewhere.json".into());
    assert!(problems(dir.path()).iter().any(|s| s.contains("must name a file of its own in the bundle folder")));

    // the schema: a negative weight, an unknown key
    let dir = with_transitions(serde_json::json!({}), -1.0);
    edit_manifest(dir.path(), |m| m["slot_transitions"]["wieght"] = 1.into());
    let p = problems(dir.path());
    assert!(p.iter().any(|s| s.contains("schema: at /slot_transitions/weight")), "{p:?}");
    assert!(p.iter().any(|s| s.contains("'wieght' was unexpected")), "{p:?}");
}
