//! Model lifecycle: Hugging Face exports without a manifest, the manifest schema, several named
//! models with language routing, the fallback intent, and reloads (in process, then on the real
//! binary under load).

mod common;

use std::path::Path;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{test as at, App};
use common::*;
use parlance::batcher::BatchSettings;
use parlance::http::{self, auth::Keys, AppState};
use parlance::model::SessionSettings;
use parlance::model::{self, Bundle, BundleFormat};
use parlance::pipeline::{Fallback, Limits, ParseInput, Parser, FALLBACK_INTENT};
use parlance::service::{LoadSettings, ModelsConfig, Registry};
use serde_json::{json, Value};

fn settings() -> LoadSettings {
    LoadSettings { session: SessionSettings::default(), batch: BatchSettings::default(), workers: 1, limits: Limits::default() }
}

fn expected(dir: &Path) -> Vec<Value> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

#[test]
fn hugging_face_export_is_served_without_a_manifest() {
    let dir = hf_export();
    assert!(!dir.path().join(model::MANIFEST_FILE).exists());
    assert_eq!(model::detect_format(dir.path()), BundleFormat::HuggingFace);
    assert_eq!(Bundle::validate(dir.path()), vec![]);
    let parser = Parser::load(dir.path(), &SessionSettings::default(), BatchSettings::default(), 1, Limits::default()).unwrap();
    let m = parser.manifest();
    assert_eq!(m.format, BundleFormat::HuggingFace);
    assert_eq!(m.intents, ["greet", "goodbye", "weather_query", "alarm_set", "play_music"], "labels in id2label order");
    assert!(!m.has_slots());
    // Every text alone and all of them in one padded batch give what ONNX Runtime's Python API gave
    // for the same graph and tokenizer.
    let cases = expected(dir.path());
    let inputs: Vec<ParseInput> = cases.iter().map(|c| ParseInput::new(c["text"].as_str().unwrap())).collect();
    let batched = block_on(parser.parse_many(inputs)).unwrap();
    for (case, together) in cases.iter().zip(&batched) {
        let alone = block_on(parser.parse(ParseInput::new(case["text"].as_str().unwrap()))).unwrap();
        for r in [&alone, together] {
            assert_eq!(r.intent.name, case["top"].as_str().unwrap(), "{}", case["text"]);
            for score in &r.intent_ranking {
                let i = m.intents.iter().position(|n| *n == score.name).unwrap();
                let want = case["probabilities"][i].as_f64().unwrap();
                assert!((score.confidence as f64 - want).abs() < 1e-4, "{}: {} {} vs {want}", case["text"], score.name, score.confidence);
            }
            assert!(r.entities.iter().all(|e| e.source == "rule"), "an intent-only model tags no slots");
        }
    }
}

#[actix_web::test]
async fn hugging_face_export_over_http() {
    let dir = hf_export();
    let parser = Parser::load(dir.path(), &SessionSettings::default(), BatchSettings::default(), 1, Limits::default()).unwrap();
    let app = at::init_service(App::new().configure(http::configure(AppState::new(parser, 4096)))).await;
    let req = at::TestRequest::post().uri("/v1/parse").set_json(json!({"text": "bonjour à tous"})).to_request();
    let v: Value = at::call_and_read_body_json(&app, req).await;
    assert_eq!(v["intent"]["name"], expected(dir.path())[1]["top"]);
    assert_eq!(v["model"]["id"], "default");
    let v: Value = at::call_and_read_body_json(&app, at::TestRequest::get().uri("/v1/model").to_request()).await;
    assert_eq!(v["format"], "hugging_face");
    assert_eq!(v["outputs"]["intent_logits"], "logits");
    assert_eq!(v["slot_types"], json!([]));
}

#[test]
fn hugging_face_export_problems_are_named() {
    let dir = hf_export();
    let config_path = dir.path().join(model::HF_CONFIG_FILE);
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    // three labels for a graph that gives five scores
    config["id2label"] = json!({"0": "a", "1": "b", "2": "c"});
    std::fs::write(&config_path, config.to_string()).unwrap();
    let p = Bundle::validate(dir.path());
    assert!(p.iter().any(|p| p.file == "model.onnx" && p.message.contains("gives 5 scores") && p.message.contains("lists 3")), "{p:?}");
    config.as_object_mut().unwrap().remove("id2label");
    std::fs::write(&config_path, config.to_string()).unwrap();
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    let p = Bundle::validate(dir.path());
    assert!(p.iter().any(|p| p.file == "config.json" && p.message.contains("id2label")), "{p:?}");
    assert!(p.iter().any(|p| p.file == "tokenizer.json" && p.message.contains("missing")), "{p:?}");
}

#[test]
fn manifest_schema_reports_every_violation_with_its_path() {
    for dir in [fixture_dir(), default_model_dir()] {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("parlance.json")).unwrap()).unwrap();
        assert_eq!(model::schema_problems(&v), Vec::<String>::new(), "{}", dir.display());
    }
    let copy = fixture_copy();
    edit_manifest(copy.path(), |m| {
        m["max_length"] = json!("long");
        m["intents"] = json!([]);
        m["languages"] = json!(["english"]);
        m["colour"] = json!("blue");
        m["outputs"].as_object_mut().unwrap().remove("intent_logits");
    });
    let p = Bundle::validate(copy.path());
    let text: Vec<String> = p.iter().map(|p| p.to_string()).collect();
    for at in ["/max_length", "/intents", "/languages/0", "colour", "/outputs"] {
        assert!(text.iter().any(|t| t.starts_with("parlance.json: schema: at") && t.contains(at)), "{at} not in {text:#?}");
    }
    // The CLI prints the same problems, as JSON on request, and exits 1.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parlance")).args(["validate", "--json"]).arg(copy.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["problems"].as_array().unwrap().len(), p.len());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parlance")).args(["validate", "--schema"]).output().unwrap();
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["properties"]["format_version"]["const"], 1);
}

/// The fixture as "tiny" (default, English) and a Hugging Face export as "hf" (French), from a
/// config file.
fn two_models(hf: &Path, extra: &str) -> (tempfile::TempDir, ModelsConfig) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("models.toml");
    let text = format!(
        "default = \"tiny\"\n[routes]\nfr = \"hf\"\n\n[[models]]\nname = \"tiny\"\npath = {:?}\n{extra}\n[[models]]\nname = \"hf\"\npath = {:?}\n",
        fixture_dir().display().to_string(),
        hf.display().to_string()
    );
    std::fs::write(&file, text).unwrap();
    let config = ModelsConfig::read(&file).unwrap();
    (dir, config)
}

#[actix_web::test]
async fn several_models_by_name_and_by_language() {
    let hf = hf_export();
    let (_keep, config) = two_models(hf.path(), "");
    let models = std::sync::Arc::new(Registry::load(config, settings()).unwrap());
    let app = at::init_service(App::new().configure(http::configure(AppState::with_models(models, 4096, Keys::default(), vec![])))).await;
    let get = |uri: &str| at::TestRequest::get().uri(uri).to_request();
    let post = |uri: &str, body: Value| at::TestRequest::post().uri(uri).set_json(body).to_request();

    let list: Value = at::call_and_read_body_json(&app, get("/v1/models")).await;
    assert_eq!(list["default"], "tiny");
    let ids: Vec<&str> = list["models"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["hf", "tiny"]);
    let hf_entry = &list["models"][0];
    assert_eq!(
        (hf_entry["format"].as_str(), hf_entry["routes"].clone(), hf_entry["generation"].as_u64()),
        (Some("hugging_face"), json!(["fr"]), Some(1))
    );

    // Routing: French goes to hf (detected or stated), English to the default.
    let fr: Value = at::call_and_read_body_json(&app, post("/v1/parse", json!({"text": "réveille-moi à sept heures demain matin"}))).await;
    assert_eq!((fr["model"]["id"].as_str(), fr["language"]["code"].as_str()), (Some("hf"), Some("fr")), "{fr}");
    assert_eq!(fr["language"]["source"], "detected");
    let en: Value = at::call_and_read_body_json(&app, post("/v1/parse", json!({"text": "wake me up at seven tomorrow morning"}))).await;
    assert_eq!(en["model"]["id"], "tiny", "{en}");
    let stated: Value = at::call_and_read_body_json(&app, post("/v1/parse", json!({"text": "hello", "lang": "fr"}))).await;
    assert_eq!(stated["model"]["id"], "hf");
    let batch: Value = at::call_and_read_body_json(
        &app,
        post("/v1/parse/batch", json!({"texts": ["play some jazz music please", "quel temps fait-il à paris aujourd'hui", "set an alarm for six"]})),
    )
    .await;
    let routed: Vec<&str> = batch["results"].as_array().unwrap().iter().map(|r| r["model"]["id"].as_str().unwrap()).collect();
    assert_eq!(routed, ["tiny", "hf", "tiny"]);
    assert_eq!(batch["results"][1]["text"], "quel temps fait-il à paris aujourd'hui");

    // By name, whatever the language.
    let named: Value = at::call_and_read_body_json(&app, post("/v1/models/hf/parse", json!({"text": "play some jazz"}))).await;
    assert_eq!(named["model"]["id"], "hf");
    let named: Value = at::call_and_read_body_json(&app, post("/v1/models/tiny/parse/batch", json!({"texts": ["bonjour", "salut"]}))).await;
    assert!(named["results"].as_array().unwrap().iter().all(|r| r["model"]["id"] == "tiny"));
    let info: Value = at::call_and_read_body_json(&app, get("/v1/models/hf")).await;
    assert_eq!(info["intents"].as_array().unwrap().len(), 5);
    // Rasa's shape for one model: a Rasa bot whose NLU endpoint url is http://HOST/v1/models/hf
    let rasa: Value =
        at::call_and_read_body_json(&app, post("/v1/models/hf/model/parse", json!({"text": "play some jazz", "message_id": "m1"}))).await;
    assert!(rasa.get("model").is_none() && rasa["intent"]["name"].is_string(), "{rasa}");
    let hf_intents = info["intents"].as_array().unwrap();
    for r in rasa["intent_ranking"].as_array().unwrap() {
        assert!(hf_intents.contains(&r["name"]) || r["name"] == "nlu_fallback", "{rasa}");
    }
    for uri in ["/v1/models/nope/parse", "/v1/models/nope/parse/batch", "/v1/models/nope/model/parse"] {
        let resp = at::call_service(&app, post(uri, json!({"text": "hi", "texts": ["hi"]}))).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let v: Value = at::read_body_json(resp).await;
        assert_eq!(v["error"]["code"], "unknown_model");
    }
    let resp = at::call_service(&app, get("/v1/models/nope")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[test]
fn config_routes_must_go_to_a_model_serving_that_language() {
    let hf = hf_export();
    let copy = fixture_copy();
    edit_manifest(copy.path(), |m| m["languages"] = json!(["en"]));
    let (_keep, mut config) = two_models(hf.path(), "");
    config.routes.insert("fr".into(), "tiny".into());
    config.models[0].path = copy.path().to_path_buf();
    let err = Registry::load(config, settings()).err().expect("refused").to_string();
    assert!(err.contains("route \"fr\" goes to \"tiny\", whose bundle serves en"), "{err}");
}

#[actix_web::test]
async fn fallback_keeps_the_real_ranking_visible() {
    let plain = fixture_parser();
    let text = "wake me up at seven";
    let base = plain.parse(ParseInput::new(text)).await.unwrap();
    assert!(base.fallback_reason.is_none() && base.intent.name != FALLBACK_INTENT);

    let strict = fixture_parser().with_fallback(Fallback { threshold: 0.999, ambiguity_margin: 0.0, similarity: None });
    let r = strict.parse(ParseInput::new(text)).await.unwrap();
    assert_eq!((r.intent.name.as_str(), r.intent.confidence), (FALLBACK_INTENT, 0.999));
    assert_eq!(r.fallback_reason, Some("low_confidence"));
    assert_eq!(r.intent_ranking[0].name, FALLBACK_INTENT);
    assert_eq!(r.intent_ranking[1..], base.intent_ranking[..], "the model's own ranking follows");

    let picky = fixture_parser().with_fallback(Fallback { threshold: 0.0, ambiguity_margin: 1.0, similarity: None });
    let r = picky.parse(ParseInput::new(text)).await.unwrap();
    assert_eq!((r.intent.name.as_str(), r.fallback_reason), (FALLBACK_INTENT, Some("ambiguous")));

    // In Rasa's shape too.
    let app = at::init_service(App::new().configure(http::configure(AppState::new(strict, 4096)))).await;
    let req = at::TestRequest::post().uri("/model/parse").set_json(json!({"text": text})).to_request();
    let v: Value = at::call_and_read_body_json(&app, req).await;
    assert_eq!(v["intent"]["name"], FALLBACK_INTENT);
    assert_eq!(v["intent_ranking"][1]["name"], base.intent.name.as_str());

    assert!(Fallback { threshold: 1.5, ambiguity_margin: 0.0, similarity: None }.check().is_err());
    let bad = "[[models]]\nname = \"m\"\npath = \"x\"\nthreshold = -0.1\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), bad).unwrap();
    assert!(ModelsConfig::read(&dir.path().join("m.toml")).unwrap_err().to_string().contains("outside 0..=1"));
}

#[actix_web::test]
async fn reload_swaps_the_model_and_refuses_a_broken_bundle() {
    let copy = fixture_copy();
    let models = std::sync::Arc::new(Registry::load(ModelsConfig::single(copy.path().to_path_buf(), Fallback::default()), settings()).unwrap());
    let keys = Keys::load(None, None, Some("admin-secret"), None).unwrap();
    let app = at::init_service(App::new().configure(http::configure(AppState::with_models(models.clone(), 4096, keys, vec![])))).await;
    let reload = |name: &str, key: Option<&str>, body: Option<Value>| {
        let mut r = at::TestRequest::post().uri(&format!("/admin/models/{name}/reload"));
        if let Some(k) = key {
            r = r.insert_header(("x-api-key", k));
        }
        match body {
            Some(b) => r.set_json(b).to_request(),
            None => r.to_request(),
        }
    };
    let parse = || at::TestRequest::post().uri("/v1/parse").set_json(json!({"text": "wake me up at seven"})).to_request();

    assert_eq!(at::call_service(&app, reload("default", None, None)).await.status(), StatusCode::UNAUTHORIZED);
    let v: Value = at::call_and_read_body_json(&app, reload("default", Some("admin-secret"), None)).await;
    assert_eq!(v["model"]["generation"], 2, "{v}");
    assert!(v["took_ms"].as_f64().unwrap() > 0.0);

    // Break the bundle on disk: the reload is refused with every problem, the old model serves on.
    edit_manifest(copy.path(), |m| {
        m["intents"] = json!(["only_one"]);
        m["max_length"] = json!(1);
    });
    let resp = at::call_service(&app, reload("default", Some("admin-secret"), None)).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = at::read_body_json(resp).await;
    assert_eq!(v["error"]["code"], "invalid_bundle");
    let problems = v["error"]["problems"].as_array().unwrap();
    assert!(!problems.is_empty() && problems.iter().all(|p| p["file"].is_string() && p["message"].is_string()), "{v}");
    let r: Value = at::call_and_read_body_json(&app, parse()).await;
    assert_eq!(r["intent"]["name"], "alarm_set", "the old model still answers");
    assert_eq!(models.get("default").unwrap().generation, 2);

    // Onto another folder (a Hugging Face export), which becomes the model's path.
    let hf = hf_export();
    let v: Value = at::call_and_read_body_json(&app, reload("default", Some("admin-secret"), Some(json!({"path": hf.path()})))).await;
    assert_eq!((v["model"]["format"].as_str(), v["model"]["generation"].as_u64()), (Some("hugging_face"), Some(3)), "{v}");
    let r: Value = at::call_and_read_body_json(&app, parse()).await;
    assert_eq!(r["model"]["name"], models.get("default").unwrap().parser.manifest().name.as_str());
    assert!(r["intent_ranking"].as_array().unwrap().len() == 5);

    assert_eq!(at::call_service(&app, reload("nope", Some("admin-secret"), None)).await.status(), StatusCode::NOT_FOUND);
    let resp = at::call_service(&app, reload("default", Some("admin-secret"), Some(json!({"path": 5})))).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = at::call_service(&app, reload("default", Some("admin-secret"), Some(json!({"path": "/nonexistent/bundle"})))).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(models.get("default").unwrap().generation, 3);
}

/// What a data scientist does in production: `parlance bench` keeps the server busy while the
/// model is reloaded 20 times; not one request fails. Then a broken bundle is refused while the old
/// model keeps answering, and SIGHUP reloads every model.
#[test]
fn twenty_reloads_under_load_fail_no_request() {
    use common::server::{get, post, post_with, start_with};
    let copy = fixture_copy();
    let bundle = copy.path().to_str().unwrap();
    let server = start_with(&["--model", bundle, "--admin-key", "admin-secret"]);
    let a = server.addr.clone();
    let bench = std::process::Command::new(env!("CARGO_BIN_EXE_parlance"))
        .args(["bench", "--url", &format!("http://{a}/v1/parse"), "--concurrency", "4", "--duration", "8", "--json"])
        .args(["--text", "réveille-moi à sept heures demain"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let admin = [("x-api-key", "admin-secret")];
    for i in 0..20 {
        let (status, body) = post_with(&a, "/admin/models/default/reload", &admin, b"");
        assert_eq!(status, 200, "reload {i}: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = bench.wait_with_output().unwrap();
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["requests"].as_u64().unwrap() > 100, "{report}");
    assert_eq!(report["ok"], report["requests"], "failed requests during reloads: {report}");
    assert_eq!(report["errors"], json!({}), "{report}");
    let (_, list) = get(&a, "/v1/models");
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["models"][0]["generation"], 21);

    edit_manifest(copy.path(), |m| m["slot_labels"] = json!(["O", "B-time"]));
    let (status, body) = post_with(&a, "/admin/models/default/reload", &admin, b"");
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("slot_labels"), "{body}");
    let (status, body) = post(&a, "/v1/parse", "application/json", "{\"text\": \"réveille-moi à sept heures\"}".as_bytes());
    assert_eq!(status, 200, "{body}");

    // Repair it, then SIGHUP: every model reloads.
    std::fs::copy(fixture_dir().join("parlance.json"), copy.path().join("parlance.json")).unwrap();
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, list) = get(&a, "/v1/models");
        let list: Value = serde_json::from_str(&list).unwrap();
        if list["models"][0]["generation"] == 22 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "SIGHUP did not reload: {list}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(&a, "/health/ready").0, 200);
}

/// The example config in deploy/ is valid and loads: what the README shows works.
#[test]
fn the_example_models_config_loads() {
    let file = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/models.example.toml");
    let config = ModelsConfig::read(&file).unwrap();
    let models = Registry::load(config, settings()).unwrap();
    assert_eq!(models.default_name(), "general");
    let general = models.summary("general").unwrap();
    assert_eq!((general.routes.len(), general.fallback.threshold), (2, 0.35));
    let mut input = ParseInput::new("réveille-moi à sept heures demain");
    let served = models.route(&mut input);
    let r = block_on(served.parser.parse(input)).unwrap();
    assert_eq!((r.model.id.as_str(), r.intent.name.as_str()), ("general", "alarm_set"));
}

/// A reload that outlasts its time limit is abandoned with a clear error; the model in service
/// keeps serving, and the next reload of the same name is not blocked by the abandoned one.
#[test]
fn a_reload_past_its_time_limit_is_abandoned() {
    block_on(async {
        let copy = fixture_copy();
        let config = ModelsConfig::single(copy.path().to_path_buf(), Fallback::default());
        // a zero limit: the deadline has passed at the first poll, while the load has only just started
        let models = Registry::load(config, settings()).unwrap().with_reload_timeout(Duration::ZERO);
        let before = models.get("default").unwrap().generation;
        // the graph file written anew: the reload builds its session (an unchanged file would reuse
        // the one in service, src/model/shared_session.rs, and could finish before the first poll)
        std::fs::remove_file(copy.path().join("model.onnx")).unwrap();
        std::fs::copy(fixture_dir().join("model.onnx"), copy.path().join("model.onnx")).unwrap();
        let err = models.reload("default", None).await.err().expect("abandoned").to_string();
        assert!(err.contains("abandoned") && err.contains("unchanged"), "{err}");
        let served = models.get("default").unwrap();
        assert_eq!(served.generation, before);
        let r = served.parser.parse(ParseInput::new("play some jazz")).await.unwrap();
        assert!(!r.intent.name.is_empty());
        // a later reload with time to finish goes through (the abandoned one held no lock)
        let models = models.with_reload_timeout(Duration::from_secs(60));
        assert_eq!(models.reload("default", None).await.unwrap().generation, before + 1);
    });
}
