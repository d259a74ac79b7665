//! Training over HTTP end to end, on the real server binary: `POST /admin/models/{name}/train`
//! with Rasa YAML, progress at `GET`, the trained model served under its name (and by a second
//! server on the same models folder, as a restart or another replica would), bad data refused with
//! every problem while the served model stays, one run at a time, cancel, and the time limit.
//! The quick runs use the tiny fixture encoder; the runs that must last long enough to be caught
//! in flight use the real encoder `make setup` builds (models/encoders/e5-small).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::server::{self, Server};

use server::{request, ADMIN_KEY as KEY};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn start(models_dir: &Path, encoder: &Path, extra: &[&str]) -> Server {
    server::start_training(&common::fixture_dir(), models_dir, encoder, extra)
}

fn train_yaml(addr: &str, name: &str, yaml: &str) -> (u16, serde_json::Value) {
    request(addr, "POST", &format!("/admin/models/{name}/train"), "application/yaml", yaml.as_bytes(), Some(KEY))
}

/// Polls the run's status until it is no longer running.
fn wait_for(addr: &str, name: &str, limit: Duration) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let (status, body) = request(addr, "GET", &format!("/admin/models/{name}/train"), "application/json", b"", Some(KEY));
        assert_eq!(status, 200, "{body}");
        if body["state"] != "running" {
            return body;
        }
        assert!(started.elapsed() < limit, "still running after {limit:?}: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A bot of `intents` intents with `per_intent` distinct examples each (long enough to embed for
/// seconds on the real encoder).
fn big_yaml(intents: usize, per_intent: usize) -> String {
    let mut y = String::from("version: \"3.1\"\nnlu:\n");
    for i in 0..intents {
        y.push_str(&format!("- intent: topic_{i}\n  examples: |\n"));
        for j in 0..per_intent {
            y.push_str(&format!("    - question number {j} about subject {i} with a few more words to read\n"));
        }
    }
    y
}

#[test]
fn a_bot_trained_over_http_is_served_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let encoder = root().join("tests/fixtures/tiny-encoder");
    let s = start(dir.path(), &encoder, &[]);
    let nlu = std::fs::read_to_string(root().join("tests/data/shop_nlu.yml")).unwrap();

    let (status, body) = train_yaml(&s.addr, "shop", &nlu);
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["model"], "shop");
    let done = wait_for(&s.addr, "shop", Duration::from_secs(120));
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["generation"], 1);
    assert!(done["summary"]["heldout"]["intent_accuracy"].is_number(), "{done}");
    assert!(done["embedded"].as_u64().unwrap() > 0 && done["embedded"] == done["to_embed"], "{done}");
    assert!(dir.path().join("shop/parlance.json").is_file());
    assert!(!dir.path().join(".train-shop").exists(), "the work folder is removed");
    // with no options the encoder's offered layers are adapted, as `parlance train` does (the fixture offers two)
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("shop/parlance.json")).unwrap()).unwrap();
    assert_eq!(m["heads"]["adapted"]["layers"], 2, "{m}");
    assert_eq!(done["summary"]["adapt_layers"], 2, "{done}");

    let (status, parsed) = request(&s.addr, "POST", "/v1/models/shop/parse", "application/json", br#"{"text": "where is my order B77881"}"#, None);
    assert_eq!(status, 200, "{parsed}");
    let intents = ["order_status", "refund", "change_address", "greet", "goodbye", "nlu_fallback"];
    assert!(intents.contains(&parsed["intent"]["name"].as_str().unwrap()), "{parsed}");
    assert_eq!(parsed["model"]["id"], "shop");

    // Bad data: 422 with every problem, and the trained model keeps serving, unchanged.
    let (status, body) = train_yaml(&s.addr, "shop", "nlu:\n- intent: only_one\n  examples: |\n    - hello\n    - [broken(thing)\n");
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_training_data");
    let problems = body["error"]["problems"].as_array().unwrap();
    assert!(!problems.is_empty(), "{body}");
    assert!(problems.iter().all(|p| p["file"] == "nlu.yml"), "{body}");
    let (_, models) = request(&s.addr, "GET", "/v1/models/shop", "application/json", b"", None);
    assert_eq!(models["name"], "shop", "{models}");
    assert!(models["description"].as_str().unwrap().contains("examples (nlu.yml)"), "{models}");
    let (_, status_after) = request(&s.addr, "GET", "/admin/models/shop/train", "application/json", b"", Some(KEY));
    assert_eq!(status_after["state"], "done", "a refused request does not replace the last run: {status_after}");

    // Another server on the same folder (a restart, another replica) serves the trained model.
    let other = start(dir.path(), &encoder, &[]);
    let (status, parsed) = request(&other.addr, "POST", "/v1/models/shop/parse", "application/json", br#"{"text": "bonjour"}"#, None);
    assert_eq!(status, 200, "{parsed}");

    // `"adapt": true, "adapt_layers": 1` (as `parlance train --adapt --adapt-layers 1`): the bot gets
    // its own top layer and is served beside the first one; `parlance train`'s other options reach the run (`--adapt-rank 0`
    // stores the whole layer, in f16: 3.5 MB on e5-small against 0.12 MB at the default rank; `--no-lexical`)
    let body =
        serde_json::to_vec(&serde_json::json!({"nlu": nlu, "adapt": true, "adapt_layers": 1, "adapt_epochs": 1, "adapt_rank": 0, "lexical": false}))
            .unwrap();
    let (status, started) = request(&other.addr, "POST", "/admin/models/shop-adapted/train", "application/json", &body, Some(KEY));
    assert_eq!(status, 202, "{started}");
    let done = wait_for(&other.addr, "shop-adapted", Duration::from_secs(120));
    assert_eq!(done["state"], "done", "{done}");
    let layer = std::fs::metadata(dir.path().join("shop-adapted/adapted-layer.safetensors")).unwrap().len();
    let base = std::fs::metadata(encoder.join("top-layer.safetensors")).unwrap().len();
    assert!(layer * 2 > base * 9 / 10, "adapt_rank 0 stores the whole layer in f16: {layer} bytes, the encoder's f32 one {base}");
    assert!(dir.path().join("shop/lexical.json").is_file() && !dir.path().join("shop-adapted/lexical.json").exists());
    // `"adapt_layers": 2` (as `--adapt-layers`): the bot's own top two layers on the graph below them
    let body = serde_json::to_vec(&serde_json::json!({"nlu": nlu, "adapt": true, "adapt_epochs": 1, "adapt_layers": 2})).unwrap();
    let (status, started) = request(&other.addr, "POST", "/admin/models/shop-two/train", "application/json", &body, Some(KEY));
    assert_eq!(status, 202, "{started}");
    let done = wait_for(&other.addr, "shop-two", Duration::from_secs(120));
    assert_eq!(done["state"], "done", "{done}");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("shop-two/parlance.json")).unwrap()).unwrap();
    assert_eq!((m["heads"]["adapted"]["layers"].as_u64(), m["heads"]["adapted"]["graph"].as_str()), (Some(2), Some("lower-layers.onnx")), "{m}");
    // `"adapt": false` (as `--fast`): the frozen encoder, no layer of its own
    let body = serde_json::to_vec(&serde_json::json!({"nlu": nlu, "adapt": false})).unwrap();
    let (status, started) = request(&other.addr, "POST", "/admin/models/shop-fast/train", "application/json", &body, Some(KEY));
    assert_eq!(status, 202, "{started}");
    let done = wait_for(&other.addr, "shop-fast", Duration::from_secs(120));
    assert_eq!(done["state"], "done", "{done}");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("shop-fast/parlance.json")).unwrap()).unwrap();
    assert!(m["heads"].get("adapted").is_none() && !dir.path().join("shop-fast/adapted-layer.safetensors").exists(), "{m}");
    for model in ["shop", "shop-adapted", "shop-two", "shop-fast"] {
        let (status, parsed) =
            request(&other.addr, "POST", &format!("/v1/models/{model}/parse"), "application/json", br#"{"text": "where is my order"}"#, None);
        assert_eq!((status, parsed["model"]["id"].as_str()), (200, Some(model)), "{parsed}");
    }
}

#[test]
fn training_routes_need_the_admin_key_and_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &root().join("tests/fixtures/tiny-encoder"), &[]);
    let (status, _) = request(&s.addr, "POST", "/admin/models/x/train", "application/yaml", b"nlu: []", None);
    assert_eq!(status, 401);
    let (status, _) = request(&s.addr, "GET", "/admin/models/x/train", "application/json", b"", Some("wrong"));
    assert_eq!(status, 401);
    let (status, body) = request(&s.addr, "GET", "/admin/models/x/train", "application/json", b"", Some(KEY));
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("no_training_run")));
    let (status, body) = request(&s.addr, "DELETE", "/admin/models/x/train", "application/json", b"", Some(KEY));
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("no_training_run")));
    let (status, body) = request(&s.addr, "PUT", "/admin/models/x/train", "application/json", b"", Some(KEY));
    assert_eq!((status, body["error"]["code"].as_str()), (405, Some("method_not_allowed")));
    // JSON form, wrong shape; then a name that is not a model name
    let (status, body) = request(&s.addr, "POST", "/admin/models/x/train", "application/json", br#"{"yaml": 1}"#, Some(KEY));
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_request")), "{body}");
    let (status, body) = request(&s.addr, "POST", "/admin/models/x/train", "text/csv", b"a,b", Some(KEY));
    assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_media_type")), "{body}");
    // the default model is served from outside the models folder: not trained over
    let (status, body) = train_yaml(&s.addr, "default", &big_yaml(2, 3));
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("training_conflict")), "{body}");
    // no encoder: training over HTTP is off, said as such
    let s2 = start(dir.path(), &dir.path().join("no-encoder"), &[]);
    let (status, body) = train_yaml(&s2.addr, "bot", &big_yaml(2, 3));
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("training_unavailable")), "{body}");
    // `adapt`'s options without it, or out of their bounds: refused before any work, saying why
    for (options, says) in [
        (serde_json::json!({"adapt": false, "adapt_rank": 4}), "adapt_rank needs adaptation"),
        (serde_json::json!({"adapt": true, "adapt_epochs": 0}), "adapt_epochs 0 is outside 1..=20"),
        (serde_json::json!({"adapt": true, "adapt_rank": 65}), "adapt_rank 65 is outside 0..=64"),
        (serde_json::json!({"adapt": false, "adapt_layers": 2}), "adapt_layers needs adaptation"),
        (serde_json::json!({"adapt": true, "adapt_layers": 3}), "offers 2 layers, not 3"),
    ] {
        let mut body = options.clone();
        body["nlu"] = big_yaml(2, 3).into();
        let (status, body) = request(&s.addr, "POST", "/admin/models/bot/train", "application/json", &serde_json::to_vec(&body).unwrap(), Some(KEY));
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_training_data")), "{options}: {body}");
        assert!(body["error"]["problems"].to_string().contains(says), "{options}: {body}");
    }
    // "adapt" on an encoder without a top layer: refused before any work, saying why
    let enc = dir.path().join("plain-encoder");
    std::fs::create_dir_all(&enc).unwrap();
    for f in ["model.onnx", "tokenizer.json", "encoder.json"] {
        std::fs::copy(root().join("tests/fixtures/tiny-encoder").join(f), enc.join(f)).unwrap();
    }
    let s3 = start(dir.path(), &enc, &[]);
    let body = serde_json::to_vec(&serde_json::json!({"nlu": big_yaml(2, 3), "adapt": true})).unwrap();
    let (status, body) = request(&s3.addr, "POST", "/admin/models/bot/train", "application/json", &body, Some(KEY));
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_training_data")), "{body}");
    assert!(body["error"]["problems"].to_string().contains("top-layer.json"), "{body}");
}

/// The real encoder: a run of a few thousand examples lasts long enough to be seen in flight.
fn real_encoder() -> PathBuf {
    let e = root().join("models/encoders/e5-small");
    assert!(e.join("model.onnx").is_file(), "{} is missing: run `make setup`", e.display());
    e
}

#[test]
fn one_run_at_a_time_cancel_and_the_time_limit_leave_nothing_served() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &real_encoder(), &[]);
    let yaml = big_yaml(10, 300);
    let (status, body) = train_yaml(&s.addr, "big", &yaml);
    assert_eq!(status, 202, "{body}");
    let (status, body) = train_yaml(&s.addr, "other", &big_yaml(2, 3));
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("training_busy")), "{body}");
    let (status, body) = request(&s.addr, "DELETE", "/admin/models/big/train", "application/json", b"", Some(KEY));
    assert_eq!(status, 200, "{body}");
    let end = wait_for(&s.addr, "big", Duration::from_secs(60));
    assert_eq!(end["state"], "cancelled", "{end}");
    let (status, _) = request(&s.addr, "GET", "/v1/models/big", "application/json", b"", None);
    assert_eq!(status, 404, "a cancelled run serves nothing");
    assert!(!dir.path().join("big").exists() && !dir.path().join(".train-big").exists());

    // the time limit: the run stops by itself, says why, and serves nothing
    let limited = start(dir.path(), &real_encoder(), &["--train-timeout", "1"]);
    let (status, body) = train_yaml(&limited.addr, "slow", &yaml);
    assert_eq!(status, 202, "{body}");
    let end = wait_for(&limited.addr, "slow", Duration::from_secs(60));
    assert_eq!(end["state"], "failed", "{end}");
    assert!(end["error"].as_str().unwrap().contains("time limit") && end["error"].as_str().unwrap().contains("\"adapt\": false"), "{end}");
    let (status, _) = request(&limited.addr, "GET", "/v1/models/slow", "application/json", b"", None);
    assert_eq!(status, 404);
}
