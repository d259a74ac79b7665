//! Prints the per-language, per-dimension coverage of Duckling's corpora (Markdown, for
//! docs/entities.md): `cargo run --release --example duckling_table [-- --failures]`.
//! `-- --speed` also times `extract` (all dimensions) on the criterion bench's two 10-word
//! sentences (median and p90 of 20 000 calls each, one thread). `-- --massive` lists every entity
//! found in MASSIVE's dev utterances (`../shared/data/massive/{en-US,fr-FR}.dev.jsonl`, all
//! dimensions) and counts them per language and dimension: the false-positive check for rules
//! that could fire on ordinary words.

#[path = "../tests/support/duckling.rs"]
mod duckling;

fn main() {
    let Some(cases) = duckling::load() else {
        eprintln!("{} not found", duckling::data_path().display());
        std::process::exit(2);
    };
    let started = std::time::Instant::now();
    let (table, failures) = duckling::run(&cases);
    let elapsed = started.elapsed();
    print!("{}", duckling::markdown(&table));
    println!(
        "\n{} cases in {:.1} ms ({:.1} µs a case, one thread)",
        cases.len(),
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / cases.len() as f64
    );
    if std::env::args().any(|a| a == "--speed") {
        speed();
    }
    if std::env::args().any(|a| a == "--massive") {
        massive();
    }
    if std::env::args().any(|a| a == "--failures") {
        for f in failures {
            println!("FAIL\t{f}");
        }
    }
}

fn massive() {
    use parlance::entities::{extract, Context, Lang};
    let mut counts: std::collections::BTreeMap<(String, &str), usize> = Default::default();
    for (lang, file) in [(Lang::En, "en-US.dev.jsonl"), (Lang::Fr, "fr-FR.dev.jsonl")] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/massive").join(file);
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("{} not found", path.display());
            continue;
        };
        let ctx = Context::from_request(Some("2013-02-12T04:30:00"), Some("Etc/GMT+2"), lang).unwrap();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            let Some(utt) = v["utt"].as_str() else { continue };
            for e in extract(utt, &ctx, None) {
                *counts.entry((format!("{lang:?}"), e.dim.name())).or_default() += 1;
                println!("MASSIVE\t{lang:?}\t{}\t{:?}\t{}\t{utt}", e.dim.name(), e.text, e.value);
            }
        }
    }
    for ((lang, dim), n) in counts {
        println!("MASSIVE-COUNT\t{lang}\t{dim}\t{n}");
    }
}

fn speed() {
    use parlance::entities::{extract, Context, Lang};
    let texts = [
        (Lang::Fr, "rappelle-moi d'appeler maman demain à quinze heures s'il te plaît"),
        (Lang::En, "please remind me to call my mother tomorrow at three"),
    ];
    for (lang, text) in texts {
        let ctx = Context::from_request(Some("2026-03-10T09:00:00"), Some("Europe/Paris"), lang).unwrap();
        let mut times: Vec<f64> = (0..20_000)
            .map(|_| {
                let t = std::time::Instant::now();
                std::hint::black_box(extract(std::hint::black_box(text), &ctx, None));
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        times.sort_by(|a, b| a.total_cmp(b));
        println!("extract {lang:?} 10 words: median {:.1} µs, p90 {:.1} µs", times[times.len() / 2], times[times.len() * 9 / 10]);
    }
}
