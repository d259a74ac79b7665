//! Shared by the integration tests: the tiny fixture bundle and a parser on it.
#![allow(dead_code)]

pub mod server;

use std::path::PathBuf;

use parlance::batcher::BatchSettings;
use parlance::model::SessionSettings;
use parlance::pipeline::{Limits, Parser};

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny")
}

pub fn default_model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/default")
}

pub fn fixture_parser_with(batch: BatchSettings, limits: Limits) -> Parser {
    Parser::load(fixture_dir(), &SessionSettings::default(), batch, 1, limits).expect("fixture bundle loads")
}

pub fn fixture_parser() -> Parser {
    fixture_parser_with(BatchSettings::default(), Limits::default())
}

/// A copy of the fixture in a temporary folder, to break on purpose.
pub fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["parlance.json", "model.onnx", "tokenizer.json"] {
        std::fs::copy(fixture_dir().join(f), dir.path().join(f)).unwrap();
    }
    dir
}

pub fn edit_manifest(dir: &std::path::Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("parlance.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// The Python of the test environment (`make setup-test` makes it): onnx, tokenizers, onnxruntime,
/// PyYAML at pinned versions. `PARLANCE_TEST_PYTHON` overrides it.
pub fn test_python() -> PathBuf {
    let python = std::env::var("PARLANCE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ort/test-venv/bin/python"));
    assert!(python.is_file(), "{} is missing: run `make setup-test` (scripts/setup-testenv.sh) first", python.display());
    python
}

/// A tiny random BERT sequence classifier in the layout optimum exports (model.onnx with output
/// `logits`, config.json with id2label, tokenizer.json trained on the spot) and `expected.json`,
/// the logits ONNX Runtime's Python API gives for a few texts. Built by
/// tests/fixtures/make_hf_export.py into a temporary folder.
pub fn hf_export() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make_hf_export.py");
    let out = std::process::Command::new(test_python()).arg(script).arg(dir.path()).output().expect("python runs");
    assert!(out.status.success(), "make_hf_export.py failed: {}", String::from_utf8_lossy(&out.stderr));
    dir
}
