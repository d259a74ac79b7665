//! Duckling's FR and EN corpora (`../shared/data/duckling/`, read its README) as a test suite of
//! the rule extractor: every example parsed whole to its expected value, per language, bucket
//! (main; holidays, open intervals and ranges apart; regional EN; latent) and dimension, and no
//! entity on the negative cases. Scoring rules: `tests/support/duckling.rs`.
//!
//! `cargo test --release --test duckling_corpus -- --nocapture` prints the table and the failures
//! (`DUCKLING_FAILURES=all` lists all of them). The floors are what the grammar reaches today: a
//! change that loses cases fails; raise them when the grammar gains.

#[path = "support/duckling.rs"]
mod duckling;

/// (language, bucket, minimum passing cases): what the grammar reaches (2026-11-30; see
/// docs/entities.md). Negative cases must all pass.
const FLOORS: [(&str, &str, usize); 10] = [
    ("fr", "main", 591),
    ("en", "main", 1060),
    ("fr", "negative", 17),
    ("en", "negative", 62),
    ("en", "regional", 336),
    ("en", "holiday", 120), // computable holidays (and the Hebrew calendar) only
    ("fr", "open_interval", 12),
    ("en", "open_interval", 13),
    ("fr", "range", 10),
    ("en", "range", 33),
];

#[test]
fn duckling_corpus_floors() {
    let Some(cases) = duckling::load() else {
        eprintln!("\n\n!!!!! SKIPPED: {} not found; Duckling's corpora are not checked !!!!!\n", duckling::data_path().display());
        return;
    };
    let (table, failures) = duckling::run(&cases);
    println!("{}", duckling::markdown(&table));
    let show = if std::env::var("DUCKLING_FAILURES").as_deref() == Ok("all") { usize::MAX } else { 40 };
    for f in failures.iter().take(show) {
        println!("FAIL {f}");
    }
    for (lang, bucket, floor) in FLOORS {
        let (pass, total) = duckling::total(&table, lang, bucket);
        assert!(total > 0, "no {lang} {bucket} cases: is cases.jsonl the README's?");
        assert!(pass >= floor, "{lang} {bucket}: {pass}/{total} passing, floor {floor}");
    }
}
