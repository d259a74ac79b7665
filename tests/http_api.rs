//! Every endpoint and every error of the HTTP API, on the fixture bundle, in process.

mod common;

use actix_web::http::StatusCode;
use actix_web::{test, App};
use common::*;
use parlance::http::{self, AppState};
use parlance::pipeline::Limits;
use serde_json::{json, Value};

macro_rules! app {
    () => {
        app!(Limits { max_text_chars: 200, max_batch_texts: 8 }, 4096)
    };
    ($limits:expr, $body:expr) => {
        test::init_service(App::new().configure(http::configure(AppState::new(fixture_parser_with(Default::default(), $limits), $body)))).await
    };
}

fn post_json(path: &str, body: Value) -> test::TestRequest {
    test::TestRequest::post().uri(path).set_json(body)
}

fn post_raw(path: &str, content_type: &str, body: impl Into<actix_web::web::Bytes>) -> test::TestRequest {
    test::TestRequest::post().uri(path).insert_header(("content-type", content_type)).set_payload(body.into())
}

async fn error_of(resp: actix_web::dev::ServiceResponse) -> (StatusCode, String) {
    let status = resp.status();
    let body: Value = test::read_body_json(resp).await;
    let code = body["error"]["code"].as_str().expect("error.code").to_string();
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    (status, code)
}

#[actix_web::test]
async fn parse_returns_intent_ranking_entities_and_model() {
    let app = app!();
    let body = json!({"text": "Réveille-moi à sept heures demain", "reference_time": "2026-03-10T09:00:00", "timezone": "Europe/Paris"});
    let resp = test::call_service(&app, post_json("/v1/parse", body).to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("server-timing").is_some());
    let v: Value = test::read_body_json(resp).await;
    assert_eq!(v["text"], "Réveille-moi à sept heures demain");
    assert_eq!(v["language"]["code"], "fr");
    assert_eq!(v["intent"]["name"], "alarm_set");
    assert!(v["intent"]["confidence"].as_f64().unwrap() > 0.5);
    assert_eq!(v["intent_ranking"].as_array().unwrap().len(), 4);
    assert_eq!(v["model"], json!({"id": "default", "name": "parlance-tiny", "version": "0.0.1"}));
    // the rule entity the slots overlap comes first (it starts at "à"), then the slots
    let r = &v["entities"][0];
    assert_eq!((r["entity"].as_str(), r["text"].as_str(), r["source"].as_str()), (Some("time"), Some("à sept heures demain"), Some("rule")));
    assert_eq!(r["value"], json!({"type": "instant", "value": "2026-03-11T07:00:00+01:00", "grain": "hour"}));
    let e = &v["entities"][1];
    assert_eq!((e["entity"].as_str(), e["start"].as_u64(), e["end"].as_u64()), (Some("time"), Some(15), Some(26)));
    assert_eq!((e["text"].as_str(), e["source"].as_str()), (Some("sept heures"), Some("model")));
    assert!(e["confidence"].as_f64().is_some());
    // the time slot carries the whole expression's value: 7:00 tomorrow, in Paris
    assert_eq!(e["value"], json!({"type": "instant", "value": "2026-03-11T07:00:00+01:00", "grain": "hour"}));
    let d = &v["entities"][2];
    assert_eq!((d["entity"].as_str(), d["text"].as_str()), (Some("date"), Some("demain")));
    assert_eq!(d["value"]["value"], "2026-03-11T00:00:00+01:00");
    assert_eq!(v["entities"].as_array().unwrap().len(), 3, "two slots and the rule expression beside them");
}

#[actix_web::test]
async fn batch_answers_in_order() {
    let app = app!();
    let req = post_json("/v1/parse/batch", json!({"texts": ["hello", "play music", "météo à paris"]}));
    let v: Value = test::read_body_json(test::call_service(&app, req.to_request()).await).await;
    let names: Vec<&str> = v["results"].as_array().unwrap().iter().map(|r| r["intent"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["greet", "play_music", "weather_query"]);
}

#[actix_web::test]
async fn rasa_parse_has_rasa_shape_exactly() {
    let app = app!();
    let req = post_json(
        "/model/parse",
        json!({"text": "wake me up at seven am tomorrow and pay $3.99", "message_id": "abc",
                                               "reference_time": "2026-03-10T09:00:00", "timezone": "America/New_York"}),
    );
    let resp = test::call_service(&app, req.to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = test::read_body_json(resp).await;
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&v), ["entities", "intent", "intent_ranking", "text"]);
    assert_eq!(keys(&v["intent"]), ["confidence", "name"]);
    assert_eq!(keys(&v["intent_ranking"][0]), ["confidence", "name"]);
    assert_eq!(v["intent"]["name"], "alarm_set");
    let ents = v["entities"].as_array().unwrap();
    // the rule expression "at seven am tomorrow" is listed beside the model's time and date slots
    assert_eq!(ents.len(), 4, "{v}");
    // built-in entities as Rasa's DucklingEntityExtractor gives them (the default)
    assert_eq!(keys(&ents[0]), ["additional_info", "confidence", "end", "entity", "extractor", "start", "text", "value"]);
    assert_eq!(
        (&ents[0]["entity"], &ents[0]["value"], &ents[0]["extractor"]),
        (&json!("time"), &json!("2026-03-11T07:00:00-04:00"), &json!("DucklingEntityExtractor"))
    );
    assert_eq!((&ents[0]["additional_info"]["grain"], &ents[0]["text"]), (&json!("hour"), &json!("at seven am tomorrow")));
    assert_eq!(keys(&ents[1]), ["confidence_entity", "end", "entity", "extractor", "start", "value"]);
    // a model slot's date-time instant is its ISO string too
    assert_eq!(
        (&ents[1]["entity"], &ents[1]["value"], &ents[1]["extractor"]),
        (&json!("time"), &json!("2026-03-11T07:00:00-04:00"), &json!("ParlanceModel"))
    );
    assert_eq!(ents[2]["entity"], "date");
    assert_eq!(
        (&ents[3]["entity"], &ents[3]["value"], &ents[3]["additional_info"]["unit"], &ents[3]["extractor"]),
        (&json!("amount-of-money"), &json!(3.99), &json!("USD"), &json!("DucklingEntityExtractor"))
    );

    // `serve --rasa-entities parlance`: Parlance's names and typed values
    let state = AppState::new(fixture_parser_with(Default::default(), Limits::default()), 4096);
    let state = AppState::with_rasa_entities(state, parlance::http::types::RasaEntities::Parlance);
    let app = test::init_service(App::new().configure(http::configure(state))).await;
    let req = post_json("/model/parse", json!({"text": "pay $3.99", "reference_time": "2026-03-10T09:00:00"}));
    let v: Value = test::call_and_read_body_json(&app, req.to_request()).await;
    let money = v["entities"].as_array().unwrap().iter().find(|e| e["extractor"] == "ParlanceRules").expect("a rule entity");
    assert_eq!((&money["entity"], &money["value"]), (&json!("amount_of_money"), &json!({"amount": 3.99, "currency": "USD"})));
    assert!(money.get("additional_info").is_none());
}

#[actix_web::test]
async fn model_and_health_endpoints() {
    let app = app!();
    let v: Value = test::read_body_json(test::call_service(&app, test::TestRequest::get().uri("/v1/model").to_request()).await).await;
    assert_eq!(v["name"], "parlance-tiny");
    assert_eq!(v["intents"].as_array().unwrap().len(), 4);
    assert_eq!(v["slot_types"], json!(["date", "place_name", "time"]));
    assert_eq!(v["limits"]["max_batch_texts"], 8);
    for path in ["/health/live", "/health/ready"] {
        let resp = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
}

#[actix_web::test]
async fn every_bad_request_gets_a_json_error_and_the_server_keeps_serving() {
    let app = app!(Limits { max_text_chars: 200, max_batch_texts: 8 }, 4096);
    let big_text = "a".repeat(201);
    let many: Vec<String> = (0..9).map(|i| format!("hello {i}")).collect();
    let cases: Vec<(test::TestRequest, StatusCode, &str)> = vec![
        (post_raw("/v1/parse", "application/json", "{\"text\": "), StatusCode::BAD_REQUEST, "malformed_json"),
        (post_raw("/v1/parse", "application/json", "[1,2]"), StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (post_raw("/v1/parse", "text/plain", "{\"text\": \"hi\"}"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (test::TestRequest::post().uri("/v1/parse").set_payload("{\"text\":\"hi\"}"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (post_json("/v1/parse", json!({})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (post_json("/v1/parse", json!({"text": 42})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (post_json("/v1/parse", json!({"text": ""})), StatusCode::BAD_REQUEST, "empty_text"),
        (post_json("/v1/parse", json!({"text": "   "})), StatusCode::BAD_REQUEST, "empty_text"),
        (post_json("/v1/parse", json!({"text": big_text})), StatusCode::UNPROCESSABLE_ENTITY, "text_too_long"),
        (post_json("/v1/parse", json!({"text": "hi", "reference_time": ""})), StatusCode::BAD_REQUEST, "invalid_time_reference"),
        (post_json("/v1/parse", json!({"text": "hi", "lang": "de"})), StatusCode::BAD_REQUEST, "unsupported_language"),
        (post_raw("/v1/parse", "application/json", b"{\"text\": \"caf\xe9\"}".to_vec()), StatusCode::BAD_REQUEST, "invalid_utf8"),
        (post_raw("/v1/parse", "application/json", vec![b' '; 5000]), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        (post_json("/v1/parse/batch", json!({"texts": many})), StatusCode::UNPROCESSABLE_ENTITY, "batch_too_large"),
        (post_json("/v1/parse/batch", json!({"texts": []})), StatusCode::BAD_REQUEST, "empty_batch"),
        (post_json("/v1/parse/batch", json!({"texts": ["ok", ""]})), StatusCode::BAD_REQUEST, "empty_text"),
        (post_json("/model/parse", json!({"txt": "hi"})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (post_json("/v1/parse", json!({"text": "hi", "timezone": "Mars/Olympus"})), StatusCode::BAD_REQUEST, "invalid_time_reference"),
        (post_json("/v1/parse", json!({"text": "hi", "reference_time": "yesterday"})), StatusCode::BAD_REQUEST, "invalid_time_reference"),
        (post_json("/v1/parse", json!({"text": "hi", "dimensions": ["number", "colour"]})), StatusCode::BAD_REQUEST, "unknown_dimension"),
        (test::TestRequest::get().uri("/v1/parse"), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        (test::TestRequest::get().uri("/nope"), StatusCode::NOT_FOUND, "not_found"),
    ];
    for (req, status, code) in cases {
        let resp = test::call_service(&app, req.to_request()).await;
        assert_eq!(error_of(resp).await, (status, code.to_string()));
    }
    // right after the burst, a normal request is answered normally
    let resp = test::call_service(&app, post_json("/v1/parse", json!({"text": "hello"})).to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[actix_web::test]
async fn not_ready_answers_503_with_retry_after() {
    let parser = fixture_parser();
    let state = AppState::new(parser, 4096);
    state.ready.store(false, std::sync::atomic::Ordering::Relaxed);
    let app = test::init_service(App::new().configure(http::configure(state))).await;
    let resp = test::call_service(&app, test::TestRequest::get().uri("/health/ready").to_request()).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers().get("retry-after").unwrap(), "1");
    let resp = test::call_service(&app, test::TestRequest::get().uri("/health/live").to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

fn counter(metrics: &str, prefix: &str) -> f64 {
    metrics.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

#[actix_web::test]
async fn metrics_are_prometheus_text_and_move() {
    let app = app!();
    macro_rules! scrape {
        () => {{
            let resp = test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
            assert_eq!(resp.status(), StatusCode::OK);
            assert!(resp.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/plain"));
            String::from_utf8(test::read_body(resp).await.to_vec()).unwrap()
        }};
    }
    let before = scrape!();
    for _ in 0..3 {
        test::call_service(&app, post_json("/v1/parse", json!({"text": "hello"})).to_request()).await;
    }
    test::call_service(&app, post_json("/v1/parse", json!({"text": ""})).to_request()).await;
    let after = scrape!();
    let ok = r#"parlance_http_requests_total{route="/v1/parse",status="200"}"#;
    let bad = r#"parlance_http_requests_total{route="/v1/parse",status="400"}"#;
    assert!(counter(&after, ok) >= counter(&before, ok) + 3.0, "{after}");
    assert!(counter(&after, bad) >= counter(&before, bad) + 1.0);
    for family in [
        "parlance_batch_size_bucket",
        "parlance_inference_seconds_count",
        "parlance_tokenize_seconds_count",
        "parlance_queue_seconds_count",
        "parlance_http_request_duration_seconds_bucket",
        "parlance_queue_depth",
    ] {
        assert!(after.lines().any(|l| l.starts_with(family)), "{family} missing");
    }
    // every sample line is `name{labels} value`
    for l in after.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        assert!(l.rsplit(' ').next().unwrap().parse::<f64>().is_ok(), "bad sample line {l}");
    }
}

#[actix_web::test]
async fn request_id_is_echoed_or_made() {
    let app = app!();
    let req = post_json("/v1/parse", json!({"text": "hello"})).insert_header(("x-request-id", "bot-42"));
    let resp = test::call_service(&app, req.to_request()).await;
    assert_eq!(resp.headers().get("x-request-id").unwrap(), "bot-42");
    let resp = test::call_service(&app, test::TestRequest::get().uri("/nope").to_request()).await;
    let made = resp.headers().get("x-request-id").unwrap().to_str().unwrap().to_string();
    assert!(made.len() >= 8);
    let resp = test::call_service(&app, test::TestRequest::get().uri("/health/live").to_request()).await;
    assert_ne!(resp.headers().get("x-request-id").unwrap().to_str().unwrap(), made, "ids are unique");
}

#[actix_web::test]
async fn api_keys_guard_parse_routes_only() {
    use parlance::http::auth::Keys;
    let keys = Keys::load(Some("secret-1,secret-2"), None, Some("admin-key"), None).unwrap();
    let state = AppState::with_security(fixture_parser(), 4096, keys, Vec::new());
    let app = test::init_service(App::new().configure(http::configure(state))).await;
    for path in ["/v1/parse", "/model/parse"] {
        let resp = test::call_service(&app, post_json(path, json!({"text": "hello"})).to_request()).await;
        assert_eq!(resp.headers().get("www-authenticate").unwrap(), "Bearer");
        assert_eq!(error_of(resp).await, (StatusCode::UNAUTHORIZED, "unauthorized".to_string()));
    }
    let wrong = post_json("/v1/parse", json!({"text": "hello"})).insert_header(("x-api-key", "secret-3"));
    assert_eq!(test::call_service(&app, wrong.to_request()).await.status(), StatusCode::UNAUTHORIZED);
    let ok = post_json("/v1/parse", json!({"text": "hello"})).insert_header(("authorization", "Bearer secret-2"));
    assert_eq!(test::call_service(&app, ok.to_request()).await.status(), StatusCode::OK);
    let rasa = post_json("/model/parse?token=secret-1", json!({"text": "hello"}));
    assert_eq!(test::call_service(&app, rasa.to_request()).await.status(), StatusCode::OK);
    // admin routes never take a parse key
    let admin = test::TestRequest::post().uri("/admin/models/x/reload").insert_header(("x-api-key", "secret-1"));
    assert_eq!(test::call_service(&app, admin.to_request()).await.status(), StatusCode::UNAUTHORIZED);
    // probes and metrics stay open for the orchestrator
    for path in ["/health/live", "/health/ready", "/metrics"] {
        let resp = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
}

#[actix_web::test]
async fn cors_is_off_by_default_and_configurable() {
    let app = app!();
    let req = post_json("/v1/parse", json!({"text": "hello"})).insert_header(("origin", "https://bot.example"));
    let resp = test::call_service(&app, req.to_request()).await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    let state = AppState::with_security(fixture_parser(), 4096, Default::default(), vec!["https://bot.example".into()]);
    let app = test::init_service(App::new().configure(http::configure(state))).await;
    let preflight = test::TestRequest::default()
        .method(actix_web::http::Method::OPTIONS)
        .uri("/v1/parse")
        .insert_header(("origin", "https://bot.example"))
        .insert_header(("access-control-request-method", "POST"))
        .insert_header(("access-control-request-headers", "content-type"));
    let resp = test::call_service(&app, preflight.to_request()).await;
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(resp.headers().get("access-control-allow-origin").unwrap(), "https://bot.example");
    let other = post_json("/v1/parse", json!({"text": "hello"})).insert_header(("origin", "https://evil.example"));
    let resp = test::call_service(&app, other.to_request()).await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn playground_page_is_self_contained() {
    let app = app!();
    let resp = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/html"));
    assert!(resp.headers().get("content-security-policy").unwrap().to_str().unwrap().contains("default-src 'self'"));
    let html = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    assert!(html.contains("/v1/parse"));
    for external in ["http://", "https://", "src=\"//"] {
        assert!(!html.contains(external), "page references an external asset: {external}");
    }
}

#[actix_web::test]
async fn openapi_describes_every_route() {
    let app = app!();
    let resp = test::call_service(&app, test::TestRequest::get().uri("/openapi.json").to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = test::read_body_json(resp).await;
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/v1/parse", "post"),
        ("/v1/parse/batch", "post"),
        ("/model/parse", "post"),
        ("/v1/model", "get"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/metrics", "get"),
        ("/", "get"),
    ] {
        assert!(v["paths"][path][method].is_object(), "{method} {path} missing");
    }
    for code in ["200", "400", "401", "413", "415", "422", "503"] {
        assert!(v["paths"]["/v1/parse"]["post"]["responses"][code].is_object(), "{code}");
    }
    assert!(v["components"]["schemas"]["ParseResult"].is_object());
}

#[actix_web::test]
async fn dimensions_filter_rule_entities() {
    let app = app!();
    let text = "hello, 3 cafés à 12,50 € demain";
    let all: Value = test::read_body_json(test::call_service(&app, post_json("/v1/parse", json!({"text": text})).to_request()).await).await;
    let names = |v: &Value| v["entities"].as_array().unwrap().iter().map(|e| e["entity"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert!(names(&all).contains(&"amount_of_money".to_string()), "{all}");
    assert!(names(&all).contains(&"number".to_string()), "{all}");
    let req = post_json("/v1/parse", json!({"text": text, "dimensions": ["amount_of_money"]}));
    let some: Value = test::read_body_json(test::call_service(&app, req.to_request()).await).await;
    assert!(!names(&some).contains(&"number".to_string()), "{some}");
    assert!(names(&some).contains(&"amount_of_money".to_string()));
    let req = post_json("/v1/parse", json!({"text": text, "dimensions": []}));
    let none: Value = test::read_body_json(test::call_service(&app, req.to_request()).await).await;
    assert!(none["entities"].as_array().unwrap().iter().all(|e| e["source"] == "model"), "{none}");
}
