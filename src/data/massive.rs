//! MASSIVE 1.1 jsonl (`utt`, `annot_utt`, `intent`, `locale`) as labelled examples.

use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;

use crate::data::{DataError, Example};

#[derive(Deserialize)]
struct MassiveRow {
    #[serde(default)]
    locale: Option<String>,
    intent: String,
    utt: String,
    annot_utt: String,
}

/// `annot_utt` → (text, spans). Slots are `[type : value]`; removing the brackets gives the text.
pub fn parse_annotation(annot: &str) -> Result<(String, Vec<(String, usize, usize)>), String> {
    let mut text = String::new();
    let mut spans = Vec::new();
    let mut rest = annot;
    while let Some(open) = rest.find('[') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find(']').ok_or_else(|| format!("unclosed '[' in {annot:?}"))?;
        let inner = &after[..close];
        let (typ, value) = inner.split_once(" : ").ok_or_else(|| format!("slot without ' : ' in {annot:?}"))?;
        let start = text.chars().count();
        text.push_str(value);
        spans.push((typ.to_string(), start, text.chars().count()));
        rest = &after[close + 1..];
    }
    text.push_str(rest);
    Ok((text, spans))
}

/// Reads a MASSIVE jsonl file. Every malformed line is an error naming its line number.
pub fn read_massive(path: &Path) -> Result<Vec<Example>, DataError> {
    let read = |source| DataError::Read { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(read)?;
        if line.trim().is_empty() {
            continue;
        }
        let row: MassiveRow = serde_json::from_str(&line).map_err(|source| DataError::Record { path: path.to_path_buf(), line: i + 1, source })?;
        let (text, spans) = parse_annotation(&row.annot_utt).map_err(|e| DataError::Invalid(format!("{}:{}: {e}", path.display(), i + 1)))?;
        if text != row.utt {
            return Err(DataError::Invalid(format!("{}:{}: annot_utt does not give back utt", path.display(), i + 1)));
        }
        out.push(Example { locale: row.locale.unwrap_or_else(|| "all".into()), text, intent: row.intent, spans });
    }
    Ok(out)
}
