//! In-process costs of a parse, without HTTP: tokenisation, the graph by batch size, and the
//! whole pipeline. Model: $PARLANCE_BENCH_MODEL, default models/default.
//!
//!     cargo bench --bench pipeline
//!
//! Results and the machine they were taken on: docs/performance.md.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use parlance::batcher::BatchSettings;
use parlance::model::Bundle;
use parlance::model::SessionSettings;
use parlance::pipeline::{Limits, ParseInput, Parser};
use parlance::text;

/// A 10-word utterance of each language, as a bot would send them.
const TEN_WORDS_FR: &str = "rappelle-moi d'appeler maman demain à quinze heures s'il te plaît";
const TEN_WORDS_EN: &str = "please remind me to call my mother tomorrow at three";

fn model_dir() -> PathBuf {
    std::env::var("PARLANCE_BENCH_MODEL").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/default"))
}

fn one_thread() -> SessionSettings {
    SessionSettings { intra_threads: 1, ..SessionSettings::default() }
}

fn ids_of(bundle: &Bundle, t: &str) -> Vec<i64> {
    let words = text::words(t, bundle.manifest.lowercase);
    let norms: Vec<&str> = words.iter().map(|w| w.norm.as_str()).collect();
    bundle.tokenizer.encode(&norms[..], true).unwrap().get_ids().iter().map(|&i| i as i64).collect()
}

fn tokenize(c: &mut Criterion) {
    let bundle = Bundle::load(model_dir(), &one_thread()).expect("bundle loads");
    let mut g = c.benchmark_group("tokenize");
    g.bench_function("one_text", |b| b.iter(|| ids_of(&bundle, TEN_WORDS_FR)));
    let texts: Vec<&str> = (0..32).map(|i| if i % 2 == 0 { TEN_WORDS_FR } else { TEN_WORDS_EN }).collect();
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function("batch_32_rayon", |b| {
        use rayon::prelude::*;
        b.iter(|| texts.par_iter().map(|t| ids_of(&bundle, t)).collect::<Vec<_>>())
    });
    g.finish();
}

fn model_run(c: &mut Criterion) {
    let mut bundle = Bundle::load(model_dir(), &one_thread()).expect("bundle loads");
    let ids = ids_of(&bundle, TEN_WORDS_FR);
    let mut g = c.benchmark_group("model_run_1_thread");
    for batch in [1usize, 4, 16, 64] {
        let items = vec![ids.clone(); batch];
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(BenchmarkId::from_parameter(batch), &items, |b, items| b.iter(|| bundle.model.run(items).unwrap()));
    }
    g.finish();
}

fn parse(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let parser = Parser::load(model_dir(), &one_thread(), BatchSettings::default(), 1, Limits::default()).unwrap();
    let mut g = c.benchmark_group("parse");
    for (name, t) in [("fr_10_words", TEN_WORDS_FR), ("en_10_words", TEN_WORDS_EN)] {
        g.bench_function(name, |b| b.iter(|| rt.block_on(parser.parse(ParseInput::new(t))).unwrap()));
        // the same parse without built-in entities: the difference is what the rules cost
        g.bench_function(format!("{name}_no_builtins"), |b| {
            b.iter(|| rt.block_on(parser.parse(ParseInput { dimensions: Some(vec![]), ..ParseInput::new(t) })).unwrap())
        });
    }
    // the default skips ONNX Runtime's SkipLayerNormFusion; this is the same parse with every fusion on
    let all_fusions = SessionSettings { disabled_optimizers: vec![], ..one_thread() };
    let fused = Parser::load(model_dir(), &all_fusions, BatchSettings::default(), 1, Limits::default()).unwrap();
    for (name, t) in [("fr_10_words", TEN_WORDS_FR), ("en_10_words", TEN_WORDS_EN)] {
        g.bench_function(format!("{name}_all_fusions"), |b| b.iter(|| rt.block_on(fused.parse(ParseInput::new(t))).unwrap()));
    }
    g.finish();
}

fn builtin_entities(c: &mut Criterion) {
    use parlance::entities::{extract, Context, Lang};
    let fr = Context::from_request(Some("2026-03-10T09:00:00"), Some("Europe/Paris"), Lang::Fr).unwrap();
    let en = Context::from_request(Some("2026-03-10T09:00:00"), Some("America/New_York"), Lang::En).unwrap();
    let mut g = c.benchmark_group("builtin_entities");
    g.bench_function("extract_fr_10_words", |b| b.iter(|| extract(TEN_WORDS_FR, &fr, None)));
    g.bench_function("extract_en_10_words", |b| b.iter(|| extract(TEN_WORDS_EN, &en, None)));
    g.finish();
}

/// Slot decoding of 10 words over the bundle's labels: valid BIO alone, and with the bundle's
/// tag-bigram prior (O(words × labels²)). Log-probabilities are fixed pseudo-random rows.
fn slot_decoding(c: &mut Criterion) {
    let bundle = Bundle::load(model_dir(), &one_thread()).expect("bundle loads");
    let k = bundle.manifest.slot_labels.len();
    let mut x: u32 = 12345;
    let rows: Vec<Vec<f32>> = (0..10)
        .map(|_| {
            let logits: Vec<f32> = (0..k)
                .map(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (x >> 8) as f32 / (1 << 24) as f32 * 8.0
                })
                .collect();
            parlance::decode::log_softmax(&logits)
        })
        .collect();
    let plain = parlance::decode::BioDecoder::new(&bundle.manifest.slot_labels);
    let mut g = c.benchmark_group("slot_decoding_10_words");
    g.bench_function("valid_bio", |b| b.iter(|| plain.best_path(&rows)));
    g.bench_function("with_bundle_prior", |b| b.iter(|| bundle.decoder.best_path(&rows)));
    g.finish();
}

criterion_group!(benches, tokenize, model_run, parse, builtin_entities, slot_decoding);
criterion_main!(benches);
