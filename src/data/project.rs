//! Labelled data from paths, as `parlance train` (`--data`, `--dev`) and `parlance eval` read it: a
//! Rasa 3.x project folder (every NLU YAML file in it, as `rasa train nlu` reads them), Rasa NLU
//! YAML files, CSV / TSV tables (`text,intent`), or MASSIVE jsonl. One reader for every command
//! that takes labelled data.

use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::data::Example;

/// Largest data file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;
/// One example and the file it came from.
#[derive(Debug, Clone)]
pub struct Sourced {
    pub example: Example,
    pub file: String,
}

/// What a set of `--data` (or `--dev`) paths held.
#[derive(Debug, Default)]
pub struct Dataset {
    pub examples: Vec<Sourced>,
    /// The Rasa files read (synonyms, lookups and regexes are taken from them).
    pub rasa_files: Vec<PathBuf>,
    /// Languages: a Rasa project's `language:` in config.yml, MASSIVE locales ("en-US" → "en").
    pub languages: Vec<String>,
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(), Some("yml" | "yaml"))
}

/// Whether a YAML file holds Rasa NLU data (a top-level `nlu:` key), as `rasa train nlu` decides.
fn has_nlu_key(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    text.lines().any(|l| l.starts_with("nlu:"))
}

/// The files of a folder, recursively, sorted; hidden folders and files skipped.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let hidden = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// The `language:` of a Rasa project's config.yml, if the folder has one.
fn project_language(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("config.yml")).ok()?;
    crate::data::rasa::check_yaml_depth(&text, "").ok()?;
    let doc: Value = serde_norway::from_str(&text).ok()?;
    doc.get("language").and_then(Value::as_str).map(str::to_string)
}

/// "en-US" → "en"; an unknown code is an error naming where it was found.
fn language_code(tag: &str, file: &str) -> Result<String, String> {
    crate::lang::normalize_tag(tag)
        .filter(|c| crate::lang::SUPPORTED.contains(&c.as_str()))
        .ok_or_else(|| format!("{file}: language {tag:?} is not one Parlance serves ({})", crate::lang::SUPPORTED.join(", ")))
}

/// Reads every path: a folder as a Rasa project, a `.yml`/`.yaml` file as Rasa NLU, a `.csv`/`.tsv`
/// file as a table, anything else as MASSIVE jsonl. Every problem found is returned, not just the first.
pub fn read(paths: &[PathBuf]) -> Result<Dataset, Vec<String>> {
    let mut data = Dataset::default();
    let mut problems = Vec::new();
    for path in paths {
        let files = if path.is_dir() {
            if let Some(lang) = project_language(path) {
                match language_code(&lang, &path.join("config.yml").display().to_string()) {
                    Ok(code) => data.languages.push(code),
                    Err(e) => problems.push(e),
                }
            }
            let mut all = Vec::new();
            if let Err(e) = walk(path, &mut all) {
                problems.push(format!("{}: cannot be listed: {e}", path.display()));
            }
            let nlu: Vec<PathBuf> = all.into_iter().filter(|p| is_yaml(p) && has_nlu_key(p)).collect();
            if nlu.is_empty() {
                problems.push(format!("{}: no Rasa NLU file (a .yml with a top-level `nlu:` key) in this folder", path.display()));
            }
            nlu
        } else {
            vec![path.clone()]
        };
        for f in files {
            if let Err(e) = read_file(&f, &mut data) {
                problems.push(e);
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    data.languages.sort();
    data.languages.dedup();
    Ok(data)
}

fn read_file(f: &Path, data: &mut Dataset) -> Result<(), String> {
    let name = f.display().to_string();
    let meta = std::fs::metadata(f).map_err(|e| format!("{name}: cannot be read: {e}"))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{name}: {:.1} MB; the limit is {} MB per file (split it, or leave out what is not training data)",
            meta.len() as f64 / 1e6,
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    if is_yaml(f) {
        let nlu = crate::data::rasa::load_rasa_nlu(f, Some("rasa")).map_err(|e| crate::errors::chain(&e))?;
        data.rasa_files.push(f.to_path_buf());
        data.examples.extend(nlu.examples.into_iter().map(|example| Sourced { example, file: name.clone() }));
    } else {
        let rows = crate::data::read_rows(f).map_err(|e| e.to_string())?;
        for ex in rows {
            if ex.locale != "all" {
                let code = language_code(&ex.locale, &name)?;
                if !data.languages.contains(&code) {
                    data.languages.push(code);
                }
            }
            data.examples.push(Sourced { example: ex, file: name.clone() });
        }
    }
    Ok(())
}
