//! Shared by the integration tests: the tiny fixture bundle and a parser on it.
#![allow(dead_code)]

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
