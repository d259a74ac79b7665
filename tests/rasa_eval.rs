//! Rasa NLU YAML as evaluation data, and the full `parlance eval` report on it.
//!
//! tests/data/nlu.yml (our own sentences) and tests/data/nlu.expected.jsonl (the same examples in
//! MASSIVE format) are the contract both readers are held to: src/rasa.rs here, and
//! training/rasa_nlu.py through its `--check` mode.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use parlance::batcher::BatchSettings;
use parlance::model::SessionSettings;
use parlance::pipeline::{Limits, Parser};
use parlance::tools::eval::{self, EvalOptions, Example, Report};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn nlu_yml() -> PathBuf {
    repo().join("tests/data/nlu.yml")
}

fn parser() -> Parser {
    Parser::load(common::default_model_dir(), &SessionSettings::default(), BatchSettings::default(), 1, Limits::default())
        .expect("models/default loads")
}

#[test]
fn rust_reader_gives_the_expected_examples() {
    let got = parlance::data::rasa::read_rasa_nlu(&nlu_yml()).unwrap();
    let want = parlance::data::massive::read_massive(&repo().join("tests/data/nlu.expected.jsonl")).unwrap();
    assert!(want.len() >= 30, "the expected file is too small: {}", want.len());
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    // the extension decides the reader
    assert_eq!(parlance::data::read_examples(&nlu_yml()).unwrap(), want);
    assert_eq!(parlance::data::read_examples(&repo().join("tests/data/nlu.expected.jsonl")).unwrap(), want);
    // the locale is the file stem unless the caller says otherwise
    assert!(got.iter().all(|e| e.locale == "nlu"));
    let fr = parlance::data::rasa::read_rasa_nlu_with_locale(&nlu_yml(), Some("fr-FR")).unwrap();
    assert!(fr.iter().all(|e| e.locale == "fr-FR"));
    // the skipped items are counted
    let loaded = parlance::data::rasa::load_rasa_nlu(&nlu_yml(), None).unwrap();
    for kind in ["synonym", "regex", "lookup"] {
        assert_eq!(loaded.skipped.get(kind), Some(&1), "{kind}: {:?}", loaded.skipped);
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("malformed.yml", "nlu:\n- intent: alarm_set\n  examples: [unclosed\n", vec!["not valid YAML"]),
        ("no_nlu.yml", "version: \"3.1\"\nrules: []\n", vec!["`nlu:`"]),
        (
            "bad_annotation.yml",
            "nlu:\n- intent: alarm_set\n  examples: |\n    - wake me at [seven(time) please\n",
            vec!["alarm_set", "wake me at [seven(time) please"],
        ),
        ("escaped.yaml", "nlu:\n- intent: play_music\n  examples: |\n    - play \\[live\\] by [muse](artist_name)\n", vec!["play_music", "escaped"]),
        (
            "bad_json.yml",
            "nlu:\n- intent: weather_query\n  examples: |\n    - rain in [paris]{\"value\": \"paris\"}\n",
            vec!["weather_query", "entity"],
        ),
        ("not_a_line.yml", "nlu:\n- intent: greet\n  examples: |\n    hello\n", vec!["greet", "hello"]),
    ];
    for (name, text, needles) in cases {
        let path = write(dir.path(), name, text);
        let err = format!("{:#}", parlance::data::read_examples(&path).expect_err(name));
        assert!(err.contains(&path.display().to_string()), "{name}: error does not name the file: {err}");
        for n in needles {
            assert!(err.contains(n), "{name}: error does not say {n:?}: {err}");
        }
    }
    let missing = dir.path().join("absent.yml");
    let err = format!("{:#}", parlance::data::read_examples(&missing).unwrap_err());
    assert!(err.contains("absent.yml"), "{err}");
}

#[test]
fn python_reader_agrees() {
    let python = common::test_python();
    let out = Command::new(&python)
        .current_dir(repo())
        .args(["training/rasa_nlu.py", "--check", "tests/data/nlu.yml", "tests/data/nlu.expected.jsonl"])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "training/rasa_nlu.py disagrees with tests/data/nlu.expected.jsonl:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // and it notices a difference: the same file with one entity type changed must fail the check
    let dir = tempfile::tempdir().unwrap();
    let yml = std::fs::read_to_string(nlu_yml()).unwrap();
    assert!(yml.contains("[sept heures](time)"));
    let changed = write(dir.path(), "nlu.yml", &yml.replace("[sept heures](time)", "[sept heures](date)"));
    let out = Command::new(&python)
        .current_dir(repo())
        .args(["training/rasa_nlu.py", "--check"])
        .arg(&changed)
        .arg("tests/data/nlu.expected.jsonl")
        .output()
        .expect("python runs");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Every count of a report agrees with the others and with the data.
fn check_report_counts(report: &Report, examples: &[Example]) {
    let n = examples.len();
    assert_eq!(report.overall.examples, n);
    assert_eq!(report.per_locale.values().map(|s| s.examples).sum::<usize>(), n);
    assert_eq!(report.per_intent.values().map(|s| s.support).sum::<usize>(), n);
    for (name, s) in &report.per_intent {
        assert_eq!(s.support, examples.iter().filter(|e| &e.intent == name).count(), "{name}");
    }
    assert_eq!(report.reliability.len(), eval::RELIABILITY_BINS);
    assert_eq!(report.reliability.iter().map(|b| b.count).sum::<usize>(), n);
    for b in &report.reliability {
        assert_eq!(b.mean_confidence.is_some(), b.count > 0);
        if let (Some(c), Some(a), Some(g)) = (b.mean_confidence, b.accuracy, b.gap) {
            assert!(c >= b.lower - 1e-6 && c <= b.upper + 1e-6, "{b:?}");
            assert!((g - (c - a)).abs() < 1e-9);
        }
    }
    // reliability accuracies weighted by count = intent accuracy
    let right_in_bins: f64 = report.reliability.iter().filter_map(|b| b.accuracy.map(|a| a * b.count as f64)).sum();
    let right = (report.overall.intent_accuracy * n as f64).round() as usize;
    assert!((right_in_bins - right as f64).abs() < 1e-6);
    // the confusion table: every example once, the diagonal is what was right
    let total: usize = report.confusion.values().flat_map(|r| r.values()).sum();
    assert_eq!(total, n);
    let diagonal: usize = report.confusion.iter().map(|(g, r)| r.get(g).copied().unwrap_or(0)).sum();
    assert_eq!(diagonal, right);
    for (gold, row) in &report.confusion {
        assert_eq!(row.values().sum::<usize>(), report.per_intent[gold].support, "{gold}");
    }
    let off: usize = report.confusion.iter().flat_map(|(g, r)| r.iter().filter(move |(p, _)| *p != g).map(|(_, c)| *c)).sum();
    assert_eq!(off, n - right);
    assert!(report.confused_pairs.len() <= eval::TOP_CONFUSED);
    assert_eq!(report.confused_pairs.is_empty(), off == 0);
    for w in report.confused_pairs.windows(2) {
        assert!(w[0].count >= w[1].count);
    }
    for p in &report.confused_pairs {
        assert_ne!(p.gold, p.predicted);
        assert_eq!(report.confusion[&p.gold][&p.predicted], p.count);
        assert!((p.share_of_gold - p.count as f64 / report.per_intent[&p.gold].support as f64).abs() < 1e-9);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_report_on_rasa_data() {
    let p = parser();
    let examples = parlance::data::read_examples(&nlu_yml()).unwrap();
    let opts = EvalOptions { chunk: 16, latency_samples: 25 };
    let mut report = eval::evaluate_with(&p, &examples, &opts, |_| {}).await.unwrap();
    check_report_counts(&report, &examples);
    // every intent and slot type of nlu.yml is one the model knows
    assert_eq!(report.unknown_intents.count, 0, "{:?}", report.unknown_intents);
    assert_eq!(report.unknown_slot_types.count, 0, "{:?}", report.unknown_slot_types);
    assert!(report.per_intent.values().all(|s| s.known));
    // a Rasa file's locale ("nlu") names no language: language accuracy is not measured
    assert_eq!(report.overall.language_examples, 0);
    // the shipped model gets most of these easy sentences right
    assert!(report.overall.intent_accuracy > 0.6, "{}", report.to_text());
    assert!(report.overall.slot_f1 > 0.3, "{}", report.to_text());
    let l = report.latency.as_ref().expect("latency measured");
    assert_eq!(l.samples, 25);
    assert!(l.p50_ms > 0.0 && l.p50_ms <= l.p90_ms && l.p90_ms <= l.p99_ms && l.p99_ms <= l.max_ms, "{l:?}");

    let text = report.to_text();
    for needle in ["most confused", "reliability", "latency", "p50"] {
        assert!(text.contains(needle), "text report lacks {needle:?}:\n{text}");
    }
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    for key in ["overall", "per_locale", "per_intent", "confusion", "confused_pairs", "reliability", "unknown_intents", "latency", "model"] {
        assert!(json.get(key).is_some(), "JSON lacks {key}");
    }
    assert_eq!(json["reliability"].as_array().unwrap().len(), eval::RELIABILITY_BINS);

    report.data = vec!["tests/data/nlu.yml".into()];
    let dir = tempfile::tempdir().unwrap();
    let files = report.write_report(dir.path()).unwrap();
    assert_eq!(files.len(), 3);
    check_report_dir(dir.path(), &report.model.name);
}

fn check_report_dir(dir: &Path, model_name: &str) {
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md written");
    assert!(md.contains(model_name), "{md}");
    assert!(md.contains("tests/data/nlu.yml"), "{md}");
    for svg in ["reliability.svg", "confusion.svg"] {
        assert!(md.contains(&format!("]({svg})")), "report.md does not embed {svg}");
        let body = std::fs::read_to_string(dir.join(svg)).unwrap_or_else(|e| panic!("{svg}: {e}"));
        assert!(body.contains("<svg") && body.trim_end().ends_with("</svg>"), "{svg} is not an SVG");
        assert!(body.len() > 1000, "{svg} is nearly empty ({} bytes)", body.len());
    }
    for section in ["## Scores", "## Latency", "## Calibration", "## Confusions", "## Per intent"] {
        assert!(md.contains(section), "report.md lacks {section}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gold_intents_the_model_does_not_know_count_as_misses() {
    let p = parser();
    let ex = |text: &str, intent: &str, spans: Vec<(String, usize, usize)>| Example {
        locale: "en-US".into(),
        text: text.into(),
        intent: intent.into(),
        spans,
    };
    let examples = vec![
        ex("wake me up at seven tomorrow", "alarm_set", vec![]),
        ex("are you a bot", "bot_challenge", vec![]),
        ex("am i talking to a human", "bot_challenge", vec![]),
        ex("my order number is 12345", "inform", vec![("order_number".into(), 19, 24)]),
    ];
    let report = eval::evaluate_with(&p, &examples, &EvalOptions { chunk: 4, latency_samples: 0 }, |_| {}).await.unwrap();
    check_report_counts(&report, &examples);
    assert_eq!(report.unknown_intents.count, 3);
    assert_eq!(report.unknown_intents.names.keys().collect::<Vec<_>>(), ["bot_challenge", "inform"]);
    assert_eq!(report.unknown_slot_types.names.keys().collect::<Vec<_>>(), ["order_number"]);
    assert!(!report.per_intent["bot_challenge"].known && report.per_intent["bot_challenge"].recall == 0.0);
    assert!(report.per_intent["alarm_set"].known);
    assert!(report.overall.intent_accuracy <= 0.25);
    assert!(report.latency.is_none());
    // en-US names a language of the model, so language accuracy is measured here
    assert_eq!(report.overall.language_examples, 4);
    let text = report.to_text();
    assert!(text.contains("does not know") && text.contains("bot_challenge"), "{text}");
    assert!(report.to_markdown().contains("bot_challenge (unknown to the model)"));
}

#[test]
fn the_binary_writes_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("eval-report");
    let out = Command::new(env!("CARGO_BIN_EXE_parlance"))
        .current_dir(repo())
        .args(["eval", "--data", "tests/data/nlu.yml", "--latency-samples", "20", "--report"])
        .arg(&out_dir)
        .output()
        .expect("parlance runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("tests/data/nlu.yml") && stdout.contains("p50"), "{stdout}");
    let model = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(common::default_model_dir().join("parlance.json")).unwrap())
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    check_report_dir(&out_dir, &model);

    // --json: one JSON document on stdout with the same counts
    let out = Command::new(env!("CARGO_BIN_EXE_parlance"))
        .current_dir(repo())
        .args(["eval", "--data", "tests/data/nlu.yml", "--latency-samples", "0", "--json"])
        .output()
        .expect("parlance runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let n = parlance::data::read_examples(&nlu_yml()).unwrap().len() as u64;
    assert_eq!(v["overall"]["examples"].as_u64(), Some(n));
    assert!(v["latency"].is_null());
    assert_eq!(v["reliability"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum::<u64>(), n);

    // a bad file: exit non-zero, the error names it
    let bad = write(dir.path(), "broken.yml", "nlu:\n- intent: x\n  examples: |\n    - [oops(time)\n");
    let out = Command::new(env!("CARGO_BIN_EXE_parlance")).current_dir(repo()).args(["eval", "--data"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.yml"));
}

/// Intents named like YAML 1.1 booleans (`yes`, `no`, `on`, `off`) are names, in both readers, as
/// Rasa (YAML 1.2) reads them.
#[test]
fn yes_and_no_are_intent_names_in_both_readers() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("version: \"3.1\"\nnlu:\n");
    for intent in ["yes", "no", "on", "off", "y", "n"] {
        text.push_str(&format!("- intent: {intent}\n  examples: |\n    - say {intent}\n"));
    }
    let yml = write(dir.path(), "yn.yml", &text);
    let rust: Vec<String> = parlance::data::rasa::read_rasa_nlu(&yml).unwrap().into_iter().map(|e| e.intent).collect();
    let out = Command::new(common::test_python()).current_dir(repo()).arg("training/rasa_nlu.py").arg(&yml).output().expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let python: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["intent"].as_str().unwrap_or("(not a string)").to_string())
        .collect();
    assert_eq!(rust, ["yes", "no", "on", "off", "y", "n"]);
    assert_eq!(python, rust);
    // data without a single entity: slot recall and F1 are n/a, not 0.00
    let out = Command::new(env!("CARGO_BIN_EXE_parlance"))
        .current_dir(repo())
        .args(["eval", "--latency-samples", "0", "--model", "tests/fixtures/tiny", "--data"])
        .arg(&yml)
        .output()
        .expect("parlance eval runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text.lines().find(|l| l.starts_with("yn ")).unwrap_or_else(|| panic!("no yn row in:\n{text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!((cells[4], cells[5]), ("n/a", "n/a"), "slot R and F1 in {row}");
}
