//! What a trained bot's heads cost on top of its encoder, and a parse through a trained bot beside
//! one through the default model (issue 15: the heads add ≤ 0.2 ms; a bot's parse costs no more
//! than the default model's).
//!
//!     cargo bench --bench heads
//!
//! The bot: $PARLANCE_BENCH_BOT, else tests/data/shop_nlu.yml trained on the spot with
//! `parlance train` on models/encoders/e5-small (`make setup` builds it; `make build` the binary).

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use parlance::batcher::BatchSettings;
use parlance::model::heads::encoder::{read_encoder_dir, Encoder};
use parlance::model::heads::Heads;
use parlance::model::{Manifest, SessionSettings};
use parlance::pipeline::{encode, Limits, ParseInput, Parser};

const TEN_WORDS_EN: &str = "please remind me to call my mother tomorrow at three";
const TEN_WORDS_FR: &str = "rappelle-moi d'appeler maman demain à quinze heures s'il te plaît";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn one_thread() -> SessionSettings {
    SessionSettings { intra_threads: 1, ..SessionSettings::default() }
}

/// A trained bot: the given one, or one trained now into a temporary folder (kept for the run).
fn bot() -> PathBuf {
    if let Ok(p) = std::env::var("PARLANCE_BENCH_BOT") {
        return PathBuf::from(p);
    }
    let out = std::env::temp_dir().join(format!("parlance-bench-bot-{}", std::process::id()));
    let status = std::process::Command::new(root().join("target/release/parlance"))
        .current_dir(root())
        .args(["train", "--data", "tests/data/shop_nlu.yml", "--out", out.to_str().unwrap(), "--json"])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("target/release/parlance runs (make build)");
    assert!(status.success(), "parlance train failed");
    out
}

fn manifest(dir: &Path) -> Manifest {
    serde_json::from_str(&std::fs::read_to_string(dir.join("parlance.json")).unwrap()).unwrap()
}

/// The encoder run alone, and the heads alone on its output: the heads' own cost.
fn heads(c: &mut Criterion) {
    let dir = bot();
    let m = manifest(&dir);
    let enc_dir = root().join("models/encoders/e5-small");
    let (info, tokenizer) = read_encoder_dir(&enc_dir, None).unwrap();
    let hidden = info.hidden_size;
    let mut encoder = Encoder::load(&enc_dir, info, &tokenizer, &one_thread()).unwrap();
    let heads = Heads::load(&dir.join("heads.safetensors"), hidden, m.intents.len(), m.slot_labels.len()).unwrap();
    let ids = encode(&tokenizer, TEN_WORDS_EN, m.lowercase).unwrap().ids;
    let out = encoder.run(std::slice::from_ref(&ids)).unwrap();
    let mut g = c.benchmark_group("trained_bot_10_words");
    g.bench_function("encoder_run", |b| b.iter(|| encoder.run(std::slice::from_ref(&ids)).unwrap()));
    g.bench_function("heads_apply_row", |b| b.iter(|| heads.apply_row(&out, 0, ids.len())));
    g.finish();
}

/// A whole parse (tokens, queue, model, decode, built-in entities) by the bot and by the default model.
fn parse(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let load = |p: &Path| Parser::load(p, &one_thread(), BatchSettings::default(), 1, Limits::default()).unwrap();
    let (bot, default) = (load(&bot()), load(&root().join("models/default")));
    let mut g = c.benchmark_group("parse_10_words");
    for (lang, t) in [("en", TEN_WORDS_EN), ("fr", TEN_WORDS_FR)] {
        g.bench_function(format!("trained_bot_{lang}"), |b| b.iter(|| rt.block_on(bot.parse(ParseInput::new(t))).unwrap()));
        g.bench_function(format!("default_model_{lang}"), |b| b.iter(|| rt.block_on(default.parse(ParseInput::new(t))).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, heads, parse);
criterion_main!(benches);
