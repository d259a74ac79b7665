//! Labelled data: one [`Example`] per utterance, read from MASSIVE jsonl (`massive`), Rasa NLU
//! YAML (`rasa`) or CSV / TSV tables (`table`); what `eval` scores and `train` learns from.

pub mod massive;
pub mod project;
pub mod rasa;
pub mod table;

use std::path::Path;

/// Labelled data that cannot be read: the message names the file (and line, intent, example).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {}", path.display())]
    Read { path: std::path::PathBuf, source: std::io::Error },
    #[error("{}:{line}: not a MASSIVE record", path.display())]
    Record { path: std::path::PathBuf, line: usize, source: serde_json::Error },
    /// The file reads, but what it says is not labelled data (the message says where and why).
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub locale: String,
    pub text: String,
    pub intent: String,
    /// (slot type, start, end) in chars of `text`.
    pub spans: Vec<(String, usize, usize)>,
}

/// Reads labelled examples: a folder as a Rasa project (as `parlance train --data` reads it,
/// [`project::read`]), a `.yml`/`.yaml` file as Rasa NLU YAML (`rasa`, locale = file stem), a
/// `.csv`/`.tsv` file as a table (`table`), anything else as MASSIVE jsonl.
pub fn read_examples(path: &Path) -> Result<Vec<Example>, DataError> {
    if path.is_dir() {
        let data = project::read(&[path.to_path_buf()]).map_err(|p| DataError::Invalid(p.join("\n")))?;
        return Ok(data.examples.into_iter().map(|s| s.example).collect());
    }
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("yml" | "yaml") => rasa::read_rasa_nlu(path),
        _ => read_rows(path),
    }
}

/// A labelled file that is not Rasa YAML: a `.csv`/`.tsv` table, anything else MASSIVE jsonl.
pub fn read_rows(path: &Path) -> Result<Vec<Example>, DataError> {
    if table::is_table(path) {
        table::read_table(path)
    } else {
        massive::read_massive(path)
    }
}
