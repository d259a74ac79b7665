//! `parlance train` end to end on the tiny fixture encoder (tests/fixtures/tiny-encoder, random
//! weights: the point is the path, not the accuracy) and tests/data/shop_nlu.yml (a small FR/EN
//! customer-service bot with synonyms, a lookup table and regexes): train → validate → parse →
//! eval → serve, and every bad input exits 1 with a message naming the file, intent and example.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn encoder() -> PathBuf {
    root().join("tests/fixtures/tiny-encoder")
}

fn parlance(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parlance")).current_dir(root()).args(args).output().expect("runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn train(data: &[&Path], out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec!["train".into()];
    for d in data {
        args.push("--data".into());
        args.push(d.display().to_string());
    }
    args.extend(["--out".into(), out.display().to_string(), "--encoder".into(), encoder().display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    parlance(&refs)
}

/// Trains a bot on tests/data/shop_nlu.yml once per test binary, on the frozen encoder (`--fast`):
/// the bot the adapted ones are served beside.
fn trained_bot() -> PathBuf {
    static BOT: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    BOT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("shop-bot");
        let nlu = root().join("tests/data/shop_nlu.yml");
        let o = train(&[&nlu], &out, &["--dev", nlu.to_str().unwrap(), "--c", "100", "--fast"]);
        assert!(o.status.success(), "{}", text(&o));
        (dir, out)
    })
    .1
    .clone()
}

#[test]
fn train_writes_a_heads_bundle_that_validates_parses_and_evals() {
    let bot = trained_bot();
    for f in ["parlance.json", "heads.safetensors", "slot_transitions.json"] {
        assert!(bot.join(f).is_file(), "{f} missing");
    }
    assert!(!bot.join("model.onnx").exists(), "a heads bundle holds no graph of its own");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(bot.join("parlance.json")).unwrap()).unwrap();
    assert_eq!(m["kind"], "heads");
    assert_eq!(m["name"], "shop-bot");
    assert_eq!(m["encoder"]["name"], "parlance-tiny-encoder");
    assert!(m["description"].as_str().unwrap().contains("parlance train"), "{m}");
    assert!(m["intents"].as_array().unwrap().iter().any(|i| i == "refund"));
    assert!(bot.join("rasa.json").is_file(), "synonyms, lookup and regexes kept");

    let v = parlance(&["validate", bot.to_str().unwrap()]);
    assert!(v.status.success(), "{}", text(&v));

    let p = parlance(&["parse", "where is my order A12345", "--model", bot.to_str().unwrap()]);
    assert!(p.status.success(), "{}", text(&p));
    let r: serde_json::Value = serde_json::from_slice(&p.stdout).unwrap();
    assert_eq!(r["model"]["name"], "shop-bot");
    let top = r["intent_ranking"].as_array().unwrap().iter().find(|s| s["name"] != "nlu_fallback").unwrap();
    assert!(m["intents"].as_array().unwrap().contains(&top["name"]), "{r}");

    let e = parlance(&["eval", "--model", bot.to_str().unwrap(), "--data", "tests/data/shop_nlu.yml", "--json", "--latency-samples", "0"]);
    assert!(e.status.success(), "{}", text(&e));
    let report: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    // trained and scored on the same sentences: the heads must at least fit them
    let acc = report["overall"]["intent_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.8, "training-set intent accuracy {acc}: {report}");
}

#[test]
fn train_prints_the_breakdown_threshold_and_eval_report() {
    let dir = tempfile::tempdir().unwrap();
    let nlu = root().join("tests/data/shop_nlu.yml");
    let o = train(&[&nlu], &dir.path().join("b"), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    // with no flags the encoder's offered layers are adapted (the fixture offers two)
    // a small bot without --dev: adapted on four fifths for the threshold, then again on all
    for want in ["embedding", "top 2 layers adapted", "then on all", "intent temperature", "fallback threshold", "held-out split"] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("b/parlance.json")).unwrap()).unwrap();
    assert_eq!(m["heads"]["adapted"]["layers"], 2, "{m}");
    // `--fast`: the frozen encoder, no layer of its own
    let dev = train(&[&nlu], &dir.path().join("c"), &["--dev", nlu.to_str().unwrap(), "--fast"]);
    assert!(text(&dev).contains("parlance eval of c") && text(&dev).contains("s, frozen encoder, intent head"), "{}", text(&dev));
    assert!(!text(&dev).contains("adapted") && !dir.path().join("c/adapted-layer.safetensors").exists(), "{}", text(&dev));
    let both = train(&[&nlu], &dir.path().join("d"), &["--fast", "--adapt-layers", "1"]);
    assert!(both.status.code() == Some(2) && text(&both).contains("--fast") && text(&both).contains("--adapt-layers"), "{}", text(&both));
}

#[test]
fn the_served_pipeline_runs_a_trained_bundle() {
    let bot = trained_bot();
    let parser = parlance::pipeline::Parser::load(
        &bot,
        &parlance::model::SessionSettings::default(),
        parlance::batcher::BatchSettings::default(),
        2,
        parlance::pipeline::Limits::default(),
    )
    .expect("loads with two workers");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let texts = ["je veux être remboursé", "ship it to New York", "où en est ma commande C99999"];
    let inputs = texts.iter().map(|t| parlance::pipeline::ParseInput::new(*t)).collect();
    let results = rt.block_on(parser.parse_many(inputs)).unwrap();
    assert_eq!(results.len(), 3);
    // lookup match with the synonym's canonical value; regex match
    // the lookup table matches "New York" (unless the tagger found the same span): canonical value
    let city = results[1].entities.iter().find(|e| e.entity == "city" && e.text == "New York").expect("city entity");
    assert_eq!(city.value.as_str(), Some("NYC"), "{:?}", results[1].entities);
    assert!(["lookup", "model"].contains(&city.source));
    // the regex matches "C99999" (listed once: as the tagger's slot when it found the same span)
    let order = results[2].entities.iter().find(|e| e.entity == "order_id" && e.text == "C99999").expect("order_id entity");
    assert!(["regex", "model"].contains(&order.source), "{:?}", results[2].entities);
    assert_eq!(parser.manifest().kind.as_deref(), Some("heads"));
    for r in &results {
        assert!(!r.intent_ranking.is_empty());
        for e in &r.entities {
            assert!(e.end <= r.text.chars().count() && e.start < e.end, "{e:?}");
        }
    }
}

/// shop_nlu.yml's lookup table and regexes are lexical pattern columns of the trained bundle
/// (listed in `lexical.json`), and a message holding a lookup element has its column at parse time.
#[test]
fn lookup_tables_and_regexes_are_lexical_pattern_columns() {
    let bot = trained_bot();
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(bot.join("parlance.json")).unwrap()).unwrap();
    let intents = m["intents"].as_array().unwrap().len();
    let lex = parlance::model::heads::lexical::Lexical::load(&bot, intents).unwrap().expect("lexical features by default");
    let names: Vec<(&str, &str)> = lex.vocab.patterns.iter().map(|p| (p.kind.as_str(), p.name.as_str())).collect();
    assert_eq!(names, [("lookup", "city"), ("regex", "order_id"), ("regex", "zipcode")]);
    assert_eq!(lex.weight.nrows(), lex.vocab.terms.len() + 3);
    let json = std::fs::read_to_string(bot.join("lexical.json")).unwrap();
    assert!(json.contains(r#""patterns":[{"kind":"lookup","name":"city","items":["Paris","#), "{}", json.chars().take(300).collect::<String>());
    let city = lex.vocab.terms.len();
    let scale = lex.vocab.settings.scale;
    assert!(lex.vocab.features("ship it to marseille please").contains(&(city, scale)));
    assert!(!lex.vocab.features("ship it to marseilles please").iter().any(|f| f.0 == city), "word-bounded");
    let order = lex.vocab.features("where is B12345");
    assert!(order.contains(&(city + 1, scale)) && !order.iter().any(|f| f.0 == city), "{order:?}");
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn assert_fails(o: &Output, wants: &[&str]) {
    assert_eq!(o.status.code(), Some(1), "{}", text(o));
    let t = text(o);
    for w in wants {
        assert!(t.contains(w), "{w:?} not in: {t}");
    }
}

#[test]
fn bad_training_data_exits_1_naming_file_intent_and_example() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let one = write(d.path(), "one.yml", "nlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello\n");
    assert_fails(&train(&[&one], &out, &[]), &["one.yml", "only one intent", "greet"]);
    let broken = write(d.path(), "broken.yml", "nlu:\n- intent: alarm_set\n  examples: |\n    - wake me at [7am(time)\n");
    assert_fails(&train(&[&broken], &out, &[]), &["broken.yml", "alarm_set", "wake me at"]);
    let empty = d.path().join("empty-project");
    std::fs::create_dir_all(&empty).unwrap();
    write(&empty, "domain.yml", "intents: []\n");
    assert_fails(&train(&[&empty], &out, &[]), &["empty-project", "no Rasa NLU file"]);
    let german = d.path().join("german");
    std::fs::create_dir_all(german.join("data")).unwrap();
    write(&german, "config.yml", "language: de\npipeline: []\n");
    std::fs::copy(root().join("tests/data/shop_nlu.yml"), german.join("data/nlu.yml")).unwrap();
    let badre = write(d.path(), "badre.yml", "nlu:\n- intent: a\n  examples: |\n    - x [A1](code)\n    - y\n- intent: b\n  examples: |\n    - z\n    - w\n- regex: code\n  examples: |\n    - [A-(\n");
    assert_fails(&train(&[&badre], &out, &[]), &["badre.yml", "regex \"code\"", "does not compile"]);
    let nolookup = write(d.path(), "nolookup.yml", "nlu:\n- intent: a\n  examples: |\n    - x [Paris](city)\n    - y\n- intent: b\n  examples: |\n    - z\n    - w\n- lookup: city\n  examples: |\n    - cities.txt\n");
    assert_fails(&train(&[&nolookup], &out, &[]), &["nolookup.yml", "lookup \"city\"", "cities.txt"]);
    assert_fails(&train(&[&german], &out, &[]), &["config.yml", "\"de\""]);
    let big = d.path().join("big.yml");
    let line = format!("# {}\n", "x".repeat(1000));
    std::fs::write(&big, line.repeat(50_000)).unwrap();
    assert_fails(&train(&[&big], &out, &[]), &["big.yml", "MB", "limit"]);
    assert!(!out.exists(), "nothing written after bad input");
}

/// Real bots' data: an intent with one example trains with a warning (as Rasa), and the report
/// says what it noticed; `--dev` takes a Rasa project folder as `--data` does; an intent named
/// `out_of_scope` (or set with `--out-of-scope-intent`) keeps its name and counts as a rejection.
#[test]
fn one_example_intents_train_with_a_warning_and_dev_takes_a_project_folder() {
    let d = tempfile::tempdir().unwrap();
    let project = d.path().join("bot");
    std::fs::create_dir_all(project.join("data")).unwrap();
    write(&project, "config.yml", "language: en\npipeline: []\n");
    let nlu = "nlu:\n- intent: greet\n  examples: |\n    - hi\n    - Hi\n    - hello there 👋\n    - good morning\n- intent: bye\n  examples: |\n    - ciao\n- intent: out_of_scope\n  examples: |\n    - what is the meaning of life\n    - tell me a joke\n- intent: chitchat\n  examples: |\n    - how are you\n    - are you a bot\n";
    write(&project.join("data"), "nlu.yml", nlu);
    let out = d.path().join("out");
    let o = train(&[&project], &out, &["--dev", project.to_str().unwrap(), "--out-of-scope-intent", "chitchat"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("warning:") && t.contains("intent \"bye\" has only 1 example (\"ciao\")"), "{t}");
    assert!(t.contains("1 duplicate examples"), "{t}");
    assert!(t.contains("one-word examples") && t.contains("examples with emoji"), "{t}");
    assert!(t.contains("MCC") && t.contains("Matthews correlation"), "{t}");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("parlance.json")).unwrap()).unwrap();
    assert!(m["intents"].as_array().unwrap().iter().any(|i| i == "bye"));
    assert_eq!(m["metrics"]["out_of_scope_intents"], serde_json::json!(["chitchat", "out_of_scope"]));
    // eval reads the project folder too, and counts both out-of-scope intents as off-topic
    let o = parlance(&["eval", "--model", out.to_str().unwrap(), "--data", project.to_str().unwrap(), "--json", "--latency-samples", "0"]);
    assert!(o.status.success(), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["off_topic"]["off_topic"], 4, "{}", r["off_topic"]);
    assert_eq!(r["off_topic"]["in_scope"], 5, "{}", r["off_topic"]);
    let o = train(&[&project], &d.path().join("fixed"), &["--fallback-threshold", "0.42"]);
    assert!(o.status.success(), "{}", text(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.path().join("fixed/parlance.json")).unwrap()).unwrap();
    assert!((m["fallback_threshold"].as_f64().unwrap() - 0.42).abs() < 1e-6);
    let o = train(&[&project], &d.path().join("bad"), &["--fallback-threshold", "1.5"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn a_missing_or_mismatched_encoder_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let nlu = root().join("tests/data/shop_nlu.yml");
    let o = parlance(&["train", "--data", nlu.to_str().unwrap(), "--out", d.path().join("x").to_str().unwrap(), "--encoder", "no/such/encoder"]);
    assert_fails(&o, &["no/such/encoder", "encoder.json"]);
    // a trained bundle whose encoder changed under it
    let enc = d.path().join("enc");
    std::fs::create_dir_all(&enc).unwrap();
    for f in ["model.onnx", "tokenizer.json", "encoder.json"] {
        std::fs::copy(encoder().join(f), enc.join(f)).unwrap();
    }
    let out = d.path().join("bot");
    let o = parlance(&["train", "--data", nlu.to_str().unwrap(), "--out", out.to_str().unwrap(), "--encoder", enc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    // with no flags it trains on the frozen encoder and says why
    assert!(text(&o).contains("offers no top layers to adapt") && text(&o).contains("frozen encoder"), "{}", text(&o));
    // `--adapt` on an encoder that offers no top layer says so
    let adapt = d.path().join("adapted");
    let o = parlance(&["train", "--data", nlu.to_str().unwrap(), "--out", adapt.to_str().unwrap(), "--encoder", enc.to_str().unwrap(), "--adapt"]);
    assert_fails(&o, &["offers no top layer", "top-layer.json"]);
    let mut bytes = std::fs::read(enc.join("model.onnx")).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    std::fs::write(enc.join("model.onnx"), bytes).unwrap();
    let v = parlance(&["validate", out.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    assert!(text(&v).contains("sha256"), "{}", text(&v));
}

/// Two bots on one encoder share one queue: their requests, sent together, may run in the same
/// encoder batch, and each bot's answers are what it answers alone (its own heads on its own rows).
#[test]
fn bots_on_one_encoder_share_a_queue_and_answer_as_alone() {
    let bot = trained_bot();
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("shop-bot-c1");
    let nlu = root().join("tests/data/shop_nlu.yml");
    let o = train(&[&nlu], &other, &["--c", "1", "--fast"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_shared_batches_answer_as_alone(&bot, &other);
}

/// `parlance train --adapt`: the bot stores its own copy of the encoder's top layer (f16) and names
/// it in its manifest. Served beside a frozen bot on the same encoder, both share one queue and
/// one encoder batch, and each answers as it does alone; the adapted layer changes the answers of
/// a bot trained on the same data with the same options. A layer that does not match its spec is
/// refused at load, naming its file.
#[test]
fn an_adapted_bot_is_served_beside_a_frozen_one_in_one_batch() {
    let frozen = trained_bot();
    let dir = tempfile::tempdir().unwrap();
    let adapted = dir.path().join("shop-bot-adapted");
    let nlu = root().join("tests/data/shop_nlu.yml");
    let o =
        train(&[&nlu], &adapted, &["--dev", nlu.to_str().unwrap(), "--c", "100", "--adapt", "--adapt-layers", "1", "--adapt-epochs", "2", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(summary["summary"]["seconds"]["adapt"].as_f64().unwrap() > 0.0, "{summary}");
    assert_eq!(summary["summary"]["adapt_epochs"], 2, "{summary}");
    // with --dev the threshold is chosen there: the layers are adapted once, on every example
    assert!(summary["summary"].get("adapted_again").is_none(), "{summary}");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(adapted.join("parlance.json")).unwrap()).unwrap();
    let spec = &m["heads"]["adapted"];
    assert_eq!(
        (spec["file"].as_str(), spec["input"].as_str(), spec["hidden"].as_u64()),
        (Some("adapted-layer.safetensors"), Some("last_hidden_state"), Some(32))
    );
    // stored as its change from the encoder's layer (rank 8, f16): 3,584 factor values for the six
    // matrices and 352 for the vectors, 2 bytes each, plus the safetensors header; the manifest
    // names the weights the change is added to
    let size = std::fs::metadata(adapted.join("adapted-layer.safetensors")).unwrap().len();
    assert!((7_872..7_872 + 3_072).contains(&size), "{size} bytes");
    let base = parlance::model::heads::encoder::file_sha256(&encoder().join("top-layer.safetensors")).unwrap();
    assert_eq!(spec["base_sha256"].as_str(), Some(base.as_str()));
    let v = parlance(&["validate", adapted.to_str().unwrap()]);
    assert!(v.status.success(), "{}", text(&v));
    assert_shared_batches_answer_as_alone(&frozen, &adapted);
    // one encoder batch holding both bots' rows: each row gets what it gets alone, and the adapted
    // bot's rows what its own model gives for the whole batch
    let settings = parlance::model::SessionSettings::default();
    let (mut f, mut a) = (parlance::model::Bundle::load(&frozen, &settings).unwrap(), parlance::model::Bundle::load(&adapted, &settings).unwrap());
    let (fh, ah) = (f.model.heads(), a.model.heads());
    let (_, mut shared) = f.model.encoder_only().unwrap();
    let items: Vec<Vec<i64>> = vec![vec![2, 10, 11, 3], vec![2, 12, 3], vec![2, 10, 13, 14, 3], vec![2, 15, 3]];
    let heads = [fh.clone(), ah.clone(), ah.clone(), fh.clone()];
    let mixed = shared.run_rows(&items, &heads).unwrap();
    let own = a.model.run(&items).unwrap();
    let frozen_own = f.model.run(&items).unwrap();
    for (r, item) in items.iter().enumerate() {
        let alone = shared.run_rows(std::slice::from_ref(item), &heads[r..r + 1]).unwrap();
        let whole = if r == 1 || r == 2 { &own } else { &frozen_own };
        for (j, x) in mixed[r].intent_logits.iter().enumerate() {
            assert!((x - alone[0].intent_logits[j]).abs() < 1e-4 && (x - whole.intent_logits[[r, j]]).abs() < 1e-4, "row {r} intent {j}");
        }
    }
    // its own layer is what it is served with: the same heads without it answer otherwise
    let mut without = (*ah.clone().unwrap()).clone();
    without.top = None;
    let plain = shared.run_rows(&items[1..2], &[Some(std::sync::Arc::new(without))]).unwrap();
    assert!(plain[0].intent_logits.iter().zip(&mixed[1].intent_logits).any(|(x, y)| (x - y).abs() > 1e-3), "the adapted layer changes the logits");
    // the layer's spec changed under it: refused, naming the file
    let mut broken = m.clone();
    broken["heads"]["adapted"]["ffn"] = serde_json::json!(48);
    std::fs::write(adapted.join("parlance.json"), serde_json::to_string_pretty(&broken).unwrap()).unwrap();
    let v = parlance(&["validate", adapted.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    assert!(text(&v).contains("adapted-layer.safetensors") && text(&v).contains("ffn 48"), "{}", text(&v));
    // a change from other weights than the encoder's layer: refused, naming both hashes
    let mut other = m.clone();
    other["heads"]["adapted"]["base_sha256"] = serde_json::json!("0".repeat(64));
    std::fs::write(adapted.join("parlance.json"), serde_json::to_string_pretty(&other).unwrap()).unwrap();
    let v = parlance(&["validate", adapted.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    assert!(text(&v).contains(&"0".repeat(64)) && text(&v).contains(&base), "{}", text(&v));
    // or its file gone: refused, naming it
    std::fs::write(adapted.join("parlance.json"), serde_json::to_string_pretty(&m).unwrap()).unwrap();
    std::fs::remove_file(adapted.join("adapted-layer.safetensors")).unwrap();
    let v = parlance(&["validate", adapted.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    assert!(text(&v).contains("adapted-layer.safetensors"), "{}", text(&v));
    // `--adapt-rank 0` stores the whole layer (f16: 2 bytes for each of the block's 8,544 weights,
    // plus the header), named without a base, and it is served as well
    let whole = dir.path().join("shop-bot-whole-layer");
    let o = train(&[&nlu], &whole, &["--dev", nlu.to_str().unwrap(), "--adapt-layers", "1", "--adapt-epochs", "1", "--adapt-rank", "0"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("s (1 epoch), intent head"), "{}", text(&o));
    let size = std::fs::metadata(whole.join("adapted-layer.safetensors")).unwrap().len();
    assert!((17_088..17_088 + 2_048).contains(&size), "{size} bytes");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(whole.join("parlance.json")).unwrap()).unwrap();
    assert!(m["heads"]["adapted"].get("base_sha256").is_none(), "{m}");
    assert_shared_batches_answer_as_alone(&frozen, &whole);
}

/// `parlance train --adapt --adapt-layers 2` on an encoder that offers its top two layers on the
/// graph below them (the fixture's stand-in for e5-small's six on lower-layers.onnx): the bot
/// stores both layers' changes ("0.*", "1.*") and names that graph and its hash; served beside a
/// frozen bot, its rows run on that graph in a queue of their own (the frozen bot's on the whole
/// encoder), each answers as alone, and its slot head reads its own top layer's token states. A
/// graph with another hash, a layer count the encoder does not offer, are refused.
#[test]
fn a_bot_with_its_own_top_layers_runs_on_the_graph_below_them() {
    let frozen = trained_bot();
    let dir = tempfile::tempdir().unwrap();
    let stacked = dir.path().join("shop-bot-two-layers");
    let nlu = root().join("tests/data/shop_nlu.yml");
    let o = train(&[&nlu], &stacked, &["--dev", nlu.to_str().unwrap(), "--c", "100", "--adapt", "--adapt-layers", "2", "--adapt-epochs", "2"]);
    assert!(o.status.success(), "{}", text(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(stacked.join("parlance.json")).unwrap()).unwrap();
    let spec = &m["heads"]["adapted"];
    let graph_sha = parlance::model::heads::encoder::file_sha256(&encoder().join("lower-layers.onnx")).unwrap();
    let base = parlance::model::heads::encoder::file_sha256(&encoder().join("upper-layers.safetensors")).unwrap();
    assert_eq!(
        (spec["layers"].as_u64(), spec["graph"].as_str(), spec["graph_sha256"].as_str(), spec["base_sha256"].as_str(), spec["input"].as_str()),
        (Some(2), Some("lower-layers.onnx"), Some(graph_sha.as_str()), Some(base.as_str()), Some("hidden_states_1"))
    );
    let stored = candle_core::safetensors::load(stacked.join("adapted-layer.safetensors"), &candle_core::Device::Cpu).unwrap();
    assert!(stored.contains_key("0.q.weight.up") && stored.contains_key("1.fo.weight.down") && stored.len() == 2 * 22, "{:?}", stored.keys());
    let v = parlance(&["validate", stacked.to_str().unwrap()]);
    assert!(v.status.success(), "{}", text(&v));
    assert_batches_answer_as_alone(&frozen, &stacked, false);
    // the bot's whole model on a batch: what its rows get from the graph below and its layers
    let settings = parlance::model::SessionSettings::default();
    let mut a = parlance::model::Bundle::load(&stacked, &settings).unwrap();
    let items: Vec<Vec<i64>> = vec![vec![2, 10, 11, 3], vec![2, 12, 3], vec![2, 10, 13, 14, 3]];
    let own = a.model.run(&items).unwrap();
    let (_, mut queue) = a.model.encoder_only().unwrap();
    let heads = vec![a.model.heads(); items.len()];
    let rows = queue.run_rows(&items, &heads).unwrap();
    for (r, item) in items.iter().enumerate() {
        let alone = queue.run_rows(std::slice::from_ref(item), &heads[r..r + 1]).unwrap();
        assert_eq!(rows[r].slot_logits.dim(), (item.len(), m["slot_labels"].as_array().unwrap().len()));
        for (j, x) in rows[r].intent_logits.iter().enumerate() {
            assert!((x - alone[0].intent_logits[j]).abs() < 1e-4 && (x - own.intent_logits[[r, j]]).abs() < 1e-4, "row {r} intent {j}");
        }
        for t in 0..item.len() {
            for (l, x) in rows[r].slot_logits.row(t).iter().enumerate() {
                assert!((x - own.slot_logits[[r, t, l]]).abs() < 1e-4 && (x - alone[0].slot_logits[[t, l]]).abs() < 1e-4, "row {r} token {t}");
            }
        }
    }
    // the graph changed under it: refused, naming both hashes
    let mut other = m.clone();
    other["heads"]["adapted"]["graph_sha256"] = serde_json::json!("0".repeat(64));
    std::fs::write(stacked.join("parlance.json"), serde_json::to_string_pretty(&other).unwrap()).unwrap();
    let v = parlance(&["validate", stacked.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    assert!(text(&v).contains(&"0".repeat(64)) && text(&v).contains(&graph_sha), "{}", text(&v));
    // a layer count the encoder does not offer: a clear error, no bundle
    let three = dir.path().join("three");
    let o = train(&[&nlu], &three, &["--adapt", "--adapt-layers", "3"]);
    assert!(!o.status.success() && text(&o).contains("offers 2 layers, not 3"), "{}", text(&o));
    assert!(!three.join("parlance.json").exists());
}

/// Loads two bots on one encoder; their texts parsed alone, then both at once (one encoder batch
/// where they meet), give the same answers; the two bots answer differently.
fn assert_shared_batches_answer_as_alone(bot: &Path, other: &Path) {
    assert_batches_answer_as_alone(bot, other, true)
}

/// Two bots' texts parsed alone, then both at once, give the same answers, and the two bots answer
/// differently; `one_queue`: whether they share one encoder queue (bots whose own layers run on
/// the graph below them have a queue of their own).
fn assert_batches_answer_as_alone(bot: &Path, other: &Path, one_queue: bool) {
    let load = |path: &Path, batch: parlance::batcher::BatchSettings| {
        parlance::pipeline::Parser::load(path, &parlance::model::SessionSettings::default(), batch, 1, parlance::pipeline::Limits::default())
            .expect("loads")
    };
    let batch = parlance::batcher::BatchSettings { max_batch_size: 16, ..Default::default() };
    let (a, b) = (load(bot, batch.clone()), load(other, batch));
    assert_eq!(a.batcher().same_queue(b.batcher()), one_queue, "bots on one encoder session share one queue");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let texts = ["je veux être remboursé", "ship it to New York", "où en est ma commande C99999", "bonjour", "track my order"];
    let inputs = || texts.iter().map(|t| parlance::pipeline::ParseInput::new(*t)).collect::<Vec<_>>();
    // alone, one text at a time, then both bots at once, interleaved
    let alone: Vec<_> = [&a, &b].iter().map(|p| inputs().into_iter().map(|i| rt.block_on(p.parse(i)).unwrap()).collect::<Vec<_>>()).collect();
    let together = rt.block_on(async { futures_util::future::join(a.parse_many(inputs()), b.parse_many(inputs())).await });
    let together = [together.0.unwrap(), together.1.unwrap()];
    for (bot, (one, both)) in alone.iter().zip(&together).enumerate() {
        for (x, y) in one.iter().zip(both) {
            assert_eq!(x.intent.name, y.intent.name, "bot {bot}: {}", x.text);
            assert!(
                (x.intent.confidence - y.intent.confidence).abs() < 1e-4,
                "bot {bot}: {} {} vs {}",
                x.text,
                x.intent.confidence,
                y.intent.confidence
            );
            assert_eq!(x.entities, y.entities, "bot {bot}: {}", x.text);
        }
    }
    assert_ne!(
        alone[0].iter().map(|r| r.intent.confidence).collect::<Vec<_>>(),
        alone[1].iter().map(|r| r.intent.confidence).collect::<Vec<_>>(),
        "the two bots have heads of their own"
    );
}

/// Rasa roles and groups are trained into the slot types (`city#role=from`, `size#group=1`) and
/// come back split into `entity`, `role` and `group`, in Parlance's answer and Rasa's; `parlance
/// eval` scores them as part of the slot type.
#[test]
fn roles_and_groups_are_trained_and_returned() {
    let d = tempfile::tempdir().unwrap();
    let nlu = write(
        d.path(),
        "roles.yml",
        r#"nlu:
- intent: book_flight
  examples: |
    - a flight from [Paris]{"entity": "city", "role": "from"} to [Rome]{"entity": "city", "role": "to"}
    - fly from [Oslo]{"entity": "city", "role": "from"} to [Lima]{"entity": "city", "role": "to"} please
    - from [Berlin]{"entity": "city", "role": "from"} to [Madrid]{"entity": "city", "role": "to"}
    - book me a flight to [Tokyo]{"entity": "city", "role": "to"}
- intent: order_pizza
  examples: |
    - a [large]{"entity": "size", "group": "1"} pizza and a [small]{"entity": "size", "group": "2"} one
    - one [medium]{"entity": "size", "group": 1} pizza please
    - i want a [small]{"entity": "size", "group": "1"} pizza
"#,
    );
    let out = d.path().join("roles-bot");
    let o = train(&[&nlu], &out, &["--c", "100"]);
    assert!(o.status.success(), "{}", text(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("parlance.json")).unwrap()).unwrap();
    let labels: Vec<&str> = m["slot_labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    for want in ["B-city#role=from", "B-city#role=to", "B-size#group=1", "B-size#group=2"] {
        assert!(labels.contains(&want), "{want} not in {labels:?}");
    }
    // the heads fit their own training sentences: the roles come back split from the entity
    let e = parlance(&["eval", "--model", out.to_str().unwrap(), "--data", nlu.to_str().unwrap(), "--json", "--latency-samples", "0"]);
    assert!(e.status.success(), "{}", text(&e));
    let report: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    let f1 = report["overall"]["slot_f1"].as_f64().unwrap();
    assert!(f1 >= 0.8, "training-set slot F1 with roles and groups {f1}: {report}");
    let p = parlance(&["parse", "a flight from Paris to Rome", "--model", out.to_str().unwrap()]);
    let r: serde_json::Value = serde_json::from_slice(&p.stdout).unwrap();
    let model: Vec<&serde_json::Value> = r["entities"].as_array().unwrap().iter().filter(|e| e["source"] == "model").collect();
    assert!(!model.is_empty(), "{r}");
    for e in model {
        assert_eq!(e["entity"], "city", "{r}");
        assert!(["from", "to"].contains(&e["role"].as_str().unwrap_or("")), "{r}");
        assert!(e.get("group").is_none(), "{r}");
    }
}

/// The off-topic gate of a trained bot (`fallback_similarity` with the heads' `intent.means`): a
/// message below the floor is `nlu_fallback` with reason "far_from_intents", above it is answered;
/// a manifest naming a floor without the means is refused at load, saying why.
#[test]
fn the_off_topic_gate_is_served_from_the_bundle_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let bot = dir.path().join("gated");
    std::fs::create_dir(&bot).unwrap();
    for f in std::fs::read_dir(trained_bot()).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, bot.join(f.file_name().unwrap())).unwrap();
    }
    let loaded = parlance::model::Bundle::load(&bot, &parlance::model::SessionSettings::default()).unwrap();
    let mut heads = (*loaded.model.heads().unwrap()).clone();
    let (pooled, intents) = heads.intent.weight.dim();
    // each intent's mean: a unit vector (what training stores; the values do not matter here)
    heads.means = Some(ndarray::Array2::from_shape_fn((intents, pooled), |(i, j)| if j == i % pooled { 1.0 } else { 0.0 }));
    heads.save(&bot.join("heads.safetensors")).unwrap();
    let manifest = bot.join("parlance.json");
    let mut m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let mut parse = |floor: f64| {
        m["fallback_similarity"] = serde_json::json!(floor);
        std::fs::write(&manifest, serde_json::to_string_pretty(&m).unwrap()).unwrap();
        let p = parlance(&["parse", "where is my order A12345", "--model", bot.to_str().unwrap()]);
        assert!(p.status.success(), "{}", text(&p));
        serde_json::from_slice::<serde_json::Value>(&p.stdout).unwrap()
    };
    // no sentence vector has a cosine above 1: everything is far
    let far = parse(1.0);
    assert_eq!((far["intent"]["name"].as_str(), far["fallback_reason"].as_str()), (Some("nlu_fallback"), Some("far_from_intents")), "{far}");
    assert_ne!(far["intent_ranking"][1]["name"], "nlu_fallback", "the model's own ranking follows: {far}");
    // `parlance eval` counts the fallbacks by reason
    let e = parlance(&["eval", "--model", bot.to_str().unwrap(), "--data", "tests/data/shop_nlu.yml", "--json", "--latency-samples", "0"]);
    let report: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap_or_else(|_| panic!("{}", text(&e)));
    let o = &report["off_topic"];
    assert_eq!(o["fallback_reasons"]["far_from_intents"].as_u64(), o["in_scope"].as_u64(), "every message is far: {o}");
    // none below −1: the gate never fires
    let near = parse(-1.0);
    assert_ne!(near["fallback_reason"], "far_from_intents", "{near}");
    // a floor without the means: refused at load, naming the tensor
    heads.means = None;
    heads.save(&bot.join("heads.safetensors")).unwrap();
    let v = parlance(&["validate", bot.to_str().unwrap()]);
    assert!(!v.status.success() && text(&v).contains("intent.means"), "{}", text(&v));
}

/// A CSV table as the public intent sets ship them (`sentence,label`, quoted commas) trains and
/// evals; a test label the bot does not know (HINT3's `NO_NODES_DETECTED`) counts as off-topic; a
/// broken table exits 1 naming its line.
#[test]
fn a_csv_table_trains_and_evals() {
    let d = tempfile::tempdir().unwrap();
    let mut csv = String::from("sentence,label\n");
    for (label, texts) in [
        ("refund", ["i want my money back", "refund please", "\"refund, now\"", "can i get a refund"]),
        ("track_order", ["where is my order", "track my parcel", "order status", "\"my order, where is it\""]),
        ("greet", ["hi", "hello", "good morning", "hey there"]),
    ] {
        for t in texts {
            csv.push_str(&format!("{t},{label}\n"));
        }
    }
    let data = write(d.path(), "train.csv", &csv);
    let out = d.path().join("bot");
    let o = train(&[&data], &out, &["--fast"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("synonym(s)"), "no Rasa file, no note on Rasa's synonyms: {}", text(&o));
    assert!(text(&o).contains("no off-topic example was held out") && text(&o).contains("pass it as --dev"), "{}", text(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("parlance.json")).unwrap()).unwrap();
    assert_eq!(m["intents"], serde_json::json!(["greet", "refund", "track_order"]), "{m}");
    let test = write(d.path(), "test.tsv", "label\tsentence\nrefund\trefund, please\nNO_NODES_DETECTED\twhat is the weather\n");
    let o = parlance(&["eval", "--model", out.to_str().unwrap(), "--data", test.to_str().unwrap(), "--json", "--latency-samples", "0"]);
    assert!(o.status.success(), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((r["off_topic"]["in_scope"].as_u64(), r["off_topic"]["off_topic"].as_u64()), (Some(1), Some(1)), "{}", r["off_topic"]);
    // the trade-off at each threshold: the served row is what the answers gave
    let t = &r["threshold_tradeoff"];
    assert_eq!(t["rows"].as_array().map(Vec::len), Some(100), "{t}");
    assert!((t["served"]["threshold"].as_f64().unwrap() - m["fallback_threshold"].as_f64().unwrap()).abs() < 1e-6, "{t}");
    assert!((t["served"]["mcc"].as_f64().unwrap() - r["off_topic"]["mcc"].as_f64().unwrap()).abs() < 1e-9, "{t}");
    assert!(t["best"]["mcc"].as_f64().unwrap() >= t["served"]["mcc"].as_f64().unwrap(), "{t}");
    let broken = write(d.path(), "broken.csv", "sentence,label\nhi,greet\n\"unclosed,greet\nbye\n");
    assert_fails(&train(&[&broken], &d.path().join("no"), &[]), &["broken.csv:3:"]);
    let headless = write(d.path(), "headless.csv", "hi,greet\nhello,greet\n");
    assert_fails(&train(&[&headless], &d.path().join("no"), &[]), &["headless.csv:1:", "header row"]);
}
