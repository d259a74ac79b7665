//! What a trained bot's heads cost on top of its encoder, and a parse through a trained bot beside
//! one through the default model (issue 15: the heads add ≤ 0.2 ms; a bot's parse costs no more
//! than the default model's).
//!
//!     cargo bench --bench heads
//!
//! The bot: $PARLANCE_BENCH_BOT, else tests/data/shop_nlu.yml trained on the spot with
//! `parlance train` on models/encoders/e5-small-fren (`make setup` builds it; `make build` the binary).
//! `PARLANCE_BENCH_ENCODERS=DIR,DIR…` trains one bot per encoder folder instead and benches them side
//! by side in one run (e.g. two renderings of the encoder: `scripts/build-encoder.py --quant`).
//! Beside each bot, the same data trained with `--adapt` (its own top encoder layer) and with
//! `--adapt --adapt-layers 6` (its own top six, run on the graph below them): what they cost a parse.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use parlance::batcher::BatchSettings;
use parlance::model::heads::encoder::{read_encoder_dir, Encoder};
use parlance::model::heads::lexical::{Lexical, Vocabulary};
use parlance::model::heads::stack::Stack;
use parlance::model::heads::top_layer::TopLayer;
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

/// The encoder folders to bench: $PARLANCE_BENCH_ENCODERS, else models/encoders/e5-small-fren.
fn encoders() -> Vec<PathBuf> {
    match std::env::var("PARLANCE_BENCH_ENCODERS") {
        Ok(list) => list.split(',').map(PathBuf::from).collect(),
        Err(_) => vec![root().join("models/encoders/e5-small-fren")],
    }
}

/// A short name for an encoder folder in the bench ids.
fn label(enc: &Path) -> String {
    enc.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A trained bot on `enc`: $PARLANCE_BENCH_BOT (one encoder only, not adapted), or one trained
/// now into a temporary folder (kept for the run), with `--adapt` and `--adapt-layers N` when
/// `layers` is N > 0, else frozen (`--fast`).
fn bot(enc: &Path, layers: usize) -> PathBuf {
    if let (Ok(p), 0) = (std::env::var("PARLANCE_BENCH_BOT"), layers) {
        return PathBuf::from(p);
    }
    let tag = match layers {
        0 => String::new(),
        1 => "-adapted".into(),
        n => format!("-adapted{n}"),
    };
    let out = std::env::temp_dir().join(format!("parlance-bench-bot-{}-{}{tag}", std::process::id(), label(enc)));
    if out.join("parlance.json").is_file() {
        return out;
    }
    let n = layers.to_string();
    let mut args = vec!["train", "--data", "tests/data/shop_nlu.yml", "--out", out.to_str().unwrap(), "--json", "--encoder", enc.to_str().unwrap()];
    if layers > 0 {
        args.extend(["--adapt", "--adapt-layers", n.as_str()]);
    } else {
        args.push("--fast");
    }
    let status = std::process::Command::new(root().join("target/release/parlance"))
        .current_dir(root())
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("target/release/parlance runs (make build)");
    assert!(status.success(), "parlance train failed");
    // trained with the defaults: lexical features on (with shop_nlu.yml's lookup and regex columns)
    assert!(out.join("lexical.json").is_file(), "the bot has lexical features");
    out
}

fn manifest(dir: &Path) -> Manifest {
    serde_json::from_str(&std::fs::read_to_string(dir.join("parlance.json")).unwrap()).unwrap()
}

/// The encoder run alone, the heads alone on its output, and the lexical features (terms and
/// pattern columns, their rows added to the intent logits): the heads' own cost.
fn heads(c: &mut Criterion) {
    let mut g = c.benchmark_group("trained_bot_10_words");
    for enc_dir in encoders() {
        let dir = bot(&enc_dir, 0);
        let m = manifest(&dir);
        let (info, tokenizer) = read_encoder_dir(&enc_dir, None).unwrap();
        let hidden = info.hidden_size;
        let encoder = Encoder::load(&enc_dir, info.clone(), &tokenizer, &one_thread()).unwrap();
        let heads = Heads::load(&dir.join("heads.safetensors"), hidden, info.pooled_size(), m.intents.len(), m.slot_labels.len()).unwrap();
        let ids = encode(&tokenizer, TEN_WORDS_EN, m.lowercase).unwrap().ids;
        let out = encoder.run(std::slice::from_ref(&ids)).unwrap();
        let lexical = Lexical::load(&dir, m.intents.len()).unwrap();
        let name = label(&enc_dir);
        g.bench_function(format!("encoder_run_{name}"), |b| b.iter(|| encoder.run(std::slice::from_ref(&ids)).unwrap()));
        g.bench_function(format!("heads_apply_row_{name}"), |b| b.iter(|| heads.apply_row(&out, 0, ids.len())));
        // an adapted bot's own top layer on the same row (the encoder keeping the layer's input)
        let adapted = bot(&enc_dir, 1);
        let spec = manifest(&adapted).heads.and_then(|h| h.adapted).expect("an adapted bot");
        let base = parlance::model::heads::stack::encoder_layer(&enc_dir).unwrap().map(|(l, _)| l);
        let top = TopLayer::load(&adapted.join(&spec.file), &spec, base.as_ref()).unwrap();
        let kept = encoder.run_keeping(std::slice::from_ref(&ids), Some(&spec.input)).unwrap();
        let x = kept.kept_row(&spec.input, 0, ids.len()).unwrap().to_owned();
        g.bench_function(format!("adapted_top_layer_{name}"), |b| b.iter(|| top.states(x.view()).unwrap()));
        // a bot's own six top layers: the graph below them, then the six
        let six = bot(&enc_dir, 6);
        let spec = manifest(&six).heads.and_then(|h| h.adapted).expect("an adapted bot");
        let graph = spec.graph.as_deref().expect("six layers run on the graph below them");
        let lower = Encoder::load_graph(&enc_dir, Some((graph, &spec.input)), info.clone(), &tokenizer, &one_thread()).unwrap();
        let base = parlance::model::heads::stack::encoder_stack(&enc_dir, spec.layers).unwrap().map(|(l, _)| l);
        let stack = Stack::load(&six.join(&spec.file), &spec, base.as_ref()).unwrap();
        let kept = lower.run_keeping(std::slice::from_ref(&ids), Some(&spec.input)).unwrap();
        let x = kept.kept_row(&spec.input, 0, ids.len()).unwrap().to_owned();
        g.bench_function(format!("lower_graph_run_{name}"), |b| b.iter(|| lower.run(std::slice::from_ref(&ids)).unwrap()));
        g.bench_function(format!("adapted_six_layers_{name}"), |b| b.iter(|| stack.states(x.view()).unwrap()));
        // both, one after the other, as a parse runs them (their weights then share the caches)
        let both = || {
            let kept = lower.run_keeping(std::slice::from_ref(&ids), Some(&spec.input)).unwrap();
            stack.states(kept.kept_row(&spec.input, 0, ids.len()).unwrap()).unwrap()
        };
        g.bench_function(format!("lower_graph_then_six_layers_{name}"), |b| b.iter(both));
        if let Some(lex) = &lexical {
            g.bench_function(format!("lexical_logits_{name}"), |b| b.iter(|| lex.logits(TEN_WORDS_EN)));
            // the same without its pattern columns: what the lookup and regex columns cost
            let v = &lex.vocab;
            let terms = Vocabulary::new(v.settings.clone(), v.terms.clone(), v.idf.clone());
            let no_patterns = Lexical { weight: lex.weight.slice(ndarray::s![..v.terms.len(), ..]).to_owned(), vocab: terms };
            g.bench_function(format!("lexical_logits_terms_only_{name}"), |b| b.iter(|| no_patterns.logits(TEN_WORDS_EN)));
        }
    }
    g.finish();
}

/// A whole parse (tokens, queue, model, lexical features, decode, built-in entities) by each bot and
/// by the default model, alternated.
fn parse(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let load = |p: &Path| Parser::load(p, &one_thread(), BatchSettings::default(), 1, Limits::default()).unwrap();
    let bots: Vec<(String, Parser)> = encoders()
        .iter()
        .flat_map(|e| {
            [(label(e), load(&bot(e, 0))), (format!("{}_adapted", label(e)), load(&bot(e, 1))), (format!("{}_adapted6", label(e)), load(&bot(e, 6)))]
        })
        .collect();
    let default = load(&root().join("models/default"));
    let mut g = c.benchmark_group("parse_10_words");
    for (lang, t) in [("en", TEN_WORDS_EN), ("fr", TEN_WORDS_FR)] {
        for (name, bot) in &bots {
            g.bench_function(format!("trained_bot_{lang}_{name}"), |b| b.iter(|| rt.block_on(bot.parse(ParseInput::new(t))).unwrap()));
        }
        g.bench_function(format!("default_model_{lang}"), |b| b.iter(|| rt.block_on(default.parse(ParseInput::new(t))).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, heads, parse);
criterion_main!(benches);
