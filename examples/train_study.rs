//! Issue 24's measurements of `parlance train`'s intent head (docs/training-choices.md, "Issue 24").
//!
//!     cargo run --release --example train_study -- embed /tmp/study ../shared/data/massive/en-US.train.jsonl ...
//!     cargo run --release --example train_study -- sweep /tmp/study en-US [--shots 10,30] [--draws 3] [--configs NAME,...] [--oos-train N] [--background STEM]
//!         [--holdout 0] [--far STEM [--far-rows A..B]]   # another cache's rows (chit-chat) as off-topic messages too
//!     cargo run --release --example train_study -- rasa /tmp/study ../shared/data/rasa/formbot_nlu.yml ...
//!     cargo run --release --example train_study -- lexbench BUNDLE DATA   # lexical features' parse-time cost
//!
//! `embed` runs the frozen encoder (models/encoders/e5-small-fren, or $PARLANCE_ENCODER) once over a
//! data file and caches each example's pooled vector in DIR (`STEM.f32` + `STEM.json`); for a
//! MASSIVE train file only a seeded random pool of `POOL` examples per intent is embedded (the
//! draws are taken from it). `sweep` then fits heads on the cached vectors with `parlance train`'s
//! own code (`parlance::train::intent`, `::lexical`) under each configuration and prints the
//! protocol's table: per draw a quarter of the intents is held out of training and its dev rows
//! are off-topic messages; dev is cut in two halves by id: one chooses the temperature and
//! threshold (as `--dev` does), the other is scored.

#[path = "train_study/ood.rs"]
mod ood;
#[path = "train_study/sweep.rs"]
mod sweep;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parlance::data::Example;
use parlance::model::heads::encoder::{read_encoder_dir, Encoder};

/// Examples per intent embedded from a MASSIVE train file.
pub const POOL: usize = 50;

/// splitmix64: a small seeded generator, so draws are the same everywhere.
pub use parlance::train::adapt::Rng;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("embed") => embed(Path::new(&args[1]), &args[2..]),
        Some("sweep") => sweep::run(Path::new(&args[1]), &args[2], &args[3..]),
        Some("rasa") => sweep::rasa(Path::new(&args[1]), &args[2..]),
        Some("lexbench") => lexbench(Path::new(&args[1]), Path::new(&args[2])),
        _ => anyhow::bail!("usage: train_study embed DIR FILE... | sweep DIR LOCALE [opts] | rasa DIR FILE..."),
    }
}

/// The examples of a file that get embedded: all of them, or a pool per intent for a train file.
fn chosen(path: &Path) -> anyhow::Result<Vec<Example>> {
    let all = parlance::data::read_examples(path)?;
    if !path.to_string_lossy().contains(".train.") {
        return Ok(all);
    }
    let mut by_intent: BTreeMap<String, Vec<Example>> = BTreeMap::new();
    for e in all {
        by_intent.entry(e.intent.clone()).or_default().push(e);
    }
    let mut rng = Rng(24);
    let pool = std::env::var("STUDY_POOL").ok().and_then(|v| v.parse().ok()).unwrap_or(POOL);
    let mut out = Vec::new();
    for (_, mut v) in by_intent {
        rng.shuffle(&mut v);
        out.extend(v.into_iter().take(if pool == 0 { usize::MAX } else { pool }));
    }
    Ok(out)
}

fn embed(dir: &Path, files: &[String]) -> anyhow::Result<()> {
    parlance::model::runtime::init()?;
    std::fs::create_dir_all(dir)?;
    let enc_dir = PathBuf::from(std::env::var("PARLANCE_ENCODER").unwrap_or_else(|_| "models/encoders/e5-small-fren".into()));
    let (info, mut tokenizer) = read_encoder_dir(&enc_dir, None)?;
    let threads = parlance::config::available_cores();
    let settings = parlance::model::SessionSettings { intra_threads: threads, spinning: false, ..Default::default() };
    let mut encoder = Encoder::load(&enc_dir, info.clone(), &tokenizer, &settings)?;
    let max_length = info.max_length.min(parlance::train::MAX_TOKENS) - encoder.prefix_len();
    tokenizer.with_truncation(Some(tokenizers::TruncationParams { max_length, ..Default::default() })).map_err(anyhow::Error::msg)?;
    for f in files {
        let path = Path::new(f);
        let mut examples = chosen(path)?;
        // each intent's name as `parlance train` embeds it, after the examples (intent "=NAME")
        let mut intents: Vec<String> = examples.iter().map(|e| e.intent.clone()).collect();
        intents.sort();
        intents.dedup();
        for i in intents {
            if let Some(text) = parlance::train::intent::intent_name_text(&i) {
                examples.push(Example { locale: String::new(), text, intent: format!("={i}"), spans: Vec::new() });
            }
        }
        let t = std::time::Instant::now();
        let mut items = Vec::with_capacity(examples.len());
        for e in &examples {
            let mut p = parlance::train::features::prepare(e, &tokenizer, info.lowercase, &["O".to_string()])?;
            p.first_token.iter_mut().for_each(|t| *t = None);
            items.push(p);
        }
        let bar = indicatif::ProgressBar::hidden();
        let feats = parlance::train::features::embed(&mut encoder, &items, 64, &bar, None, false, None)?;
        let mut stem = path.file_name().unwrap().to_string_lossy().replace(".jsonl", "").replace(".yml", "");
        if std::env::var("STUDY_POOL").is_ok_and(|v| v == "0") {
            stem.push_str(".full");
        }
        let bytes: Vec<u8> = feats.pooled.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(dir.join(format!("{stem}.f32")), bytes)?;
        let rows: Vec<_> = examples.iter().map(|e| serde_json::json!([e.intent, e.text])).collect();
        let meta = serde_json::json!({"file": f, "dim": feats.pooled.ncols(), "seconds": t.elapsed().as_secs_f64(), "rows": rows});
        std::fs::write(dir.join(format!("{stem}.json")), serde_json::to_string(&meta)?)?;
        eprintln!("{f}: {} examples in {:.1} s", examples.len(), t.elapsed().as_secs_f64());
    }
    Ok(())
}

/// Time of a trained bundle's lexical features on every text of a data file, one at a time.
fn lexbench(bundle: &Path, data: &Path) -> anyhow::Result<()> {
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(bundle.join("parlance.json"))?)?;
    let intents = manifest["intents"].as_array().map_or(0, Vec::len);
    let lex = parlance::model::heads::lexical::Lexical::load(bundle, intents).map_err(anyhow::Error::msg)?.expect("a bundle with lexical features");
    let texts: Vec<String> = parlance::data::read_examples(data)?.into_iter().map(|e| e.text).collect();
    let mut times: Vec<f64> = Vec::with_capacity(texts.len());
    let mut sink = 0.0f32;
    for _ in 0..3 {
        times.clear();
        for t in &texts {
            let start = std::time::Instant::now();
            sink += lex.logits(t)[0];
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(f64::total_cmp);
    let q = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!(
        "{} texts, {} terms × {intents} intents: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs (checksum {sink:.1})",
        texts.len(),
        lex.vocab.terms.len(),
        q(0.5),
        q(0.9),
        q(0.99)
    );
    Ok(())
}
