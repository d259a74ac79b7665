//! Training data for `parlance train`: read by [`crate::data::project`] (a Rasa 3.x project folder,
//! Rasa NLU YAML, MASSIVE jsonl), then checked before any work, and what real bots' data holds
//! (one-example intents, duplicates, unbalanced intents, one-word messages, emoji) noted.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

pub use crate::data::project::{Dataset, Sourced, MAX_FILE_BYTES};
use crate::train::TrainError;

/// Intents with fewer examples than this train, with a warning (Rasa warns and trains too).
pub const FEW_EXAMPLES_WARNING: usize = 2;
/// The largest intent over the smallest from which the data is noted as unbalanced.
const UNBALANCED_RATIO: usize = 10;
/// Examples quoted in a note, at most.
const QUOTED: usize = 3;

/// Reads `--data` / `--dev` paths; every problem found, not just the first.
pub fn read(paths: &[PathBuf]) -> Result<Dataset, TrainError> {
    crate::data::project::read(paths).map_err(TrainError::Invalid)
}

/// The intents of a training set, sorted, after checking it can train a classifier (examples
/// exist, at least two intents), and the notes on what the data holds: warnings a bot owner
/// should read, none of them an error.
pub fn check_training_set(data: &Dataset, paths: &[PathBuf]) -> Result<(Vec<String>, Vec<String>), TrainError> {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    if data.examples.is_empty() {
        return Err(TrainError::Invalid(vec![format!("{}: no training examples", shown.join(", "))]));
    }
    let mut by_intent: BTreeMap<&str, Vec<&Sourced>> = BTreeMap::new();
    for s in &data.examples {
        by_intent.entry(s.example.intent.as_str()).or_default().push(s);
    }
    if by_intent.len() < 2 {
        let only = by_intent.keys().next().copied().unwrap_or_default();
        return Err(TrainError::Invalid(vec![format!(
            "{}: only one intent ({only:?}, {} examples); an intent classifier needs at least two",
            shown.join(", "),
            data.examples.len()
        )]));
    }
    let notes = notes(data, &by_intent);
    Ok((by_intent.keys().map(|k| k.to_string()).collect(), notes))
}

fn quote<'a>(texts: impl Iterator<Item = &'a str>) -> String {
    texts.take(QUOTED).map(|t| format!("{t:?}")).collect::<Vec<_>>().join(", ")
}

/// What the data holds that a bot owner should know (each line starts "warning:" when it costs
/// accuracy or may be a mistake).
fn notes(data: &Dataset, by_intent: &BTreeMap<&str, Vec<&Sourced>>) -> Vec<String> {
    let mut out = Vec::new();
    for (intent, examples) in by_intent {
        if examples.len() < FEW_EXAMPLES_WARNING {
            let e = examples[0];
            out.push(format!(
                "warning: {}: intent {intent:?} has only {} example ({:?}): it trains, but add more (Rasa warns the same)",
                e.file,
                examples.len(),
                e.example.text
            ));
        }
    }
    let (smallest, largest) = by_intent.values().map(Vec::len).fold((usize::MAX, 0), |(a, b), n| (a.min(n), b.max(n)));
    if largest >= UNBALANCED_RATIO * smallest {
        let big = by_intent.iter().max_by_key(|(_, v)| v.len()).map_or("", |(k, _)| k);
        out.push(format!("unbalanced intents: from {smallest} to {largest} examples ({big:?} the largest); the intent head discounts the larger intents' head start (logit adjustment: {} × the log of each intent's share)", crate::train::intent::BALANCE));
    }
    out.extend(repeated_texts(data));
    let words = |t: &str| t.split_whitespace().count();
    let one_word: Vec<&str> = data.examples.iter().map(|s| s.example.text.as_str()).filter(|t| words(t) == 1).collect();
    if !one_word.is_empty() {
        out.push(format!("{} one-word examples (e.g. {})", one_word.len(), quote(one_word.iter().copied())));
    }
    let emoji: Vec<&str> = data.examples.iter().map(|s| s.example.text.as_str()).filter(|t| t.chars().any(is_emoji)).collect();
    if !emoji.is_empty() {
        out.push(format!("{} examples with emoji or pictographs (e.g. {}): kept as written", emoji.len(), quote(emoji.iter().copied())));
    }
    out
}

/// Duplicates (the same text twice in one intent: kept, it weighs more) and conflicts (the same
/// text under two intents: no model can get both right).
fn repeated_texts(data: &Dataset) -> Vec<String> {
    let mut seen: HashMap<String, Vec<&str>> = HashMap::new();
    for s in &data.examples {
        seen.entry(s.example.text.trim().to_lowercase()).or_default().push(s.example.intent.as_str());
    }
    let mut duplicates = 0;
    let mut conflicts: Vec<String> = Vec::new();
    for (text, intents) in &seen {
        let mut distinct = intents.clone();
        distinct.sort_unstable();
        distinct.dedup();
        duplicates += intents.len() - distinct.len();
        if distinct.len() > 1 {
            conflicts.push(format!("{text:?} ({})", distinct.join(", ")));
        }
    }
    conflicts.sort();
    let mut out = Vec::new();
    if duplicates > 0 {
        out.push(format!("{duplicates} duplicate examples (the same text again in the same intent, case ignored): kept, they weigh more"));
    }
    if !conflicts.is_empty() {
        out.push(format!(
            "warning: {} texts under two or more intents, e.g. {}: one of them is always wrong",
            conflicts.len(),
            conflicts.iter().take(QUOTED).cloned().collect::<Vec<_>>().join("; ")
        ));
    }
    out
}

/// Emoji and other pictographs (the main Unicode emoji blocks with regional indicators, dingbats, the emoji variation selector).
fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0xFE0F)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Example;

    fn set(rows: &[(&str, &str)]) -> Dataset {
        let examples = rows
            .iter()
            .map(|(i, t)| Sourced {
                example: Example { locale: "rasa".into(), text: t.to_string(), intent: i.to_string(), spans: Vec::new() },
                file: "nlu.yml".into(),
            })
            .collect();
        Dataset { examples, ..Default::default() }
    }

    #[test]
    fn real_bots_data_trains_and_is_noted() {
        let mut rows: Vec<(&str, &str)> = vec![("refund", "I want my money back 💸"), ("greet", "hi"), ("greet", "Hi"), ("greet", "hello there")];
        let big: Vec<String> = (0..25).map(|i| format!("where is order {i}")).collect();
        rows.extend(big.iter().map(|t| ("order_status", t.as_str())));
        rows.push(("refund", "hello there"));
        let (intents, notes) = check_training_set(&set(&rows), &[]).unwrap();
        assert_eq!(intents, ["greet", "order_status", "refund"]);
        let all = notes.join("\n");
        assert!(!all.contains("intent \"greet\" has only"), "{all}");
        assert!(all.contains("from 2 to 25 examples (\"order_status\""), "{all}");
        assert!(all.contains("1 duplicate examples"), "{all}");
        assert!(all.contains("\"hello there\" (greet, refund)"), "{all}");
        assert!(all.contains("2 one-word examples"), "{all}");
        assert!(all.contains("1 examples with emoji"), "{all}");
        let (_, notes) = check_training_set(&set(&[("greet", "hi"), ("greet", "hey"), ("bye", "ciao")]), &[]).unwrap();
        assert!(notes[0].starts_with("warning: nlu.yml: intent \"bye\" has only 1 example (\"ciao\")"), "{notes:?}");
        assert!(check_training_set(&set(&[("greet", "hi"), ("greet", "hey")]), &[]).is_err());
    }
}
