//! Labelled utterances in a CSV (`.csv`) or TSV (`.tsv`) file, as public intent sets and
//! spreadsheets export them: a header row names a text column and an intent column (BANKING77's
//! `text,category`, HINT3's `sentence,label`), and optionally a locale column. No slots.

use std::path::Path;

use crate::data::{DataError, Example};

/// Header names taken as the text column (any case).
pub const TEXT_COLUMNS: [&str; 7] = ["text", "sentence", "utterance", "utt", "query", "example", "message"];
/// Header names taken as the intent column (any case).
pub const INTENT_COLUMNS: [&str; 4] = ["intent", "label", "category", "class"];
/// Header names taken as the locale column (optional; without it the locale is "all").
pub const LOCALE_COLUMNS: [&str; 3] = ["locale", "language", "lang"];

/// Whether `path` is read as a table (by its extension: `.csv`, `.tsv`).
pub fn is_table(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(), Some("csv" | "tsv"))
}

/// Reads a CSV or TSV file of labelled utterances. Errors name the file and the line: a header
/// without a text or an intent column, a row with another number of fields, an empty text or intent.
pub fn read_table(path: &Path) -> Result<Vec<Example>, DataError> {
    let name = path.display();
    let tsv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    let file = std::fs::File::open(path).map_err(|source| DataError::Read { path: path.to_path_buf(), source })?;
    let mut reader = csv::ReaderBuilder::new().delimiter(if tsv { b'\t' } else { b',' }).from_reader(file);
    let header = reader.headers().map_err(|e| DataError::Invalid(format!("{name}: {e}")))?.clone();
    let find = |names: &[&str]| {
        header.iter().position(|h| {
            let h = h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
            names.contains(&h.as_str())
        })
    };
    let (Some(text_col), Some(intent_col)) = (find(&TEXT_COLUMNS), find(&INTENT_COLUMNS)) else {
        return Err(DataError::Invalid(format!(
            "{name}:1: the header row ({}) must name a text column ({}) and an intent column ({})",
            header.iter().collect::<Vec<_>>().join(if tsv { "\\t" } else { "," }),
            TEXT_COLUMNS.join(", "),
            INTENT_COLUMNS.join(", ")
        )));
    };
    let locale_col = find(&LOCALE_COLUMNS);
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            DataError::Invalid(format!("{name}:{line}: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let (text, intent) = (field(text_col), field(intent_col));
        if text.is_empty() || intent.is_empty() {
            let what = if text.is_empty() { "text" } else { "intent" };
            return Err(DataError::Invalid(format!("{name}:{line}: the {what} is empty")));
        }
        let locale = locale_col.map(field).filter(|l| !l.is_empty()).unwrap_or("all");
        out.push(Example { locale: locale.to_string(), text: text.to_string(), intent: intent.to_string(), spans: Vec::new() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, body: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("parlance-table-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn reads_the_public_sets_headers_quotes_and_tabs() {
        // HINT3's header, a quoted comma, a byte-order mark, an extra column
        let p = write("hint3.csv", "\u{feff}sentence,label,source\n\"EMI, 0%\",EMI,web\nrefund?,Refund,app\n");
        let rows = read_table(&p).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].text.as_str(), rows[0].intent.as_str(), rows[0].locale.as_str()), ("EMI, 0%", "EMI", "all"));
        assert!(rows[1].spans.is_empty());
        // BANKING77's column order (text, category) and a locale column, tab-separated
        let p = write("bank.tsv", "Category\tLocale\tText\ncard_arrival\tfr-FR\toù est ma carte ?\n");
        let rows = read_table(&p).unwrap();
        assert_eq!((rows[0].text.as_str(), rows[0].intent.as_str(), rows[0].locale.as_str()), ("où est ma carte ?", "card_arrival", "fr-FR"));
        assert!(is_table(&p) && is_table(Path::new("a.CSV")) && !is_table(Path::new("a.jsonl")));
    }

    #[test]
    fn a_broken_table_names_its_line() {
        let err = |body: &str| read_table(&write("bad.csv", body)).unwrap_err().to_string();
        let e = err("utterance;intent\nhello;greet\n");
        assert!(e.contains("bad.csv:1:") && e.contains("text column") && e.contains("sentence"), "{e}");
        let e = err("text,intent\nhello,greet\nbye\n");
        assert!(e.contains("bad.csv:3:"), "{e}");
        let e = err("text,intent\nhello,greet\n  ,greet\n");
        assert!(e.contains("bad.csv:3: the text is empty"), "{e}");
        let e = err("text,intent\nhello,\n");
        assert!(e.contains("bad.csv:2: the intent is empty"), "{e}");
    }
}
