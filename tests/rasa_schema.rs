//! `POST /model/parse` as an unchanged Rasa bot sees it: answers checked against Rasa's own
//! OpenAPI schema (`../shared/data/rasa/openapi-model-parse.yml`), and button payloads answered as
//! Rasa's RegexMessageHandler answers them.

mod common;

use actix_web::{test, App};
use common::*;
use parlance::http::{self, AppState};
use serde_json::{json, Value};

fn rasa_schema() -> Option<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/rasa/openapi-model-parse.yml");
    let text = std::fs::read_to_string(&path).ok()?;
    let mut doc: Value = serde_norway::from_str(&text).expect("Rasa's OpenAPI excerpt is YAML");
    doc["$ref"] = json!("#/components/schemas/ParseResult");
    Some(doc)
}

async fn rasa_parse(body: Value) -> Value {
    let app = test::init_service(App::new().configure(http::configure(AppState::new(fixture_parser(), 4096)))).await;
    let resp = test::call_service(&app, test::TestRequest::post().uri("/model/parse").set_json(body).to_request()).await;
    assert_eq!(resp.status(), 200);
    test::read_body_json(resp).await
}

/// Schema violations of an answer, except the documented ones, where Rasa's own server does the
/// same: a rule entity's resolved value is typed JSON where Rasa's schema says string (as Rasa's
/// Duckling extractor gives it), and so is a payload's non-string value (as Rasa's
/// RegexMessageHandler gives it).
fn violations(schema: &Value, answer: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("schema compiles");
    validator
        .iter_errors(answer)
        .filter(|e| {
            let at = e.instance_path().to_string();
            let rule_value = at.strip_prefix("/entities/").and_then(|r| r.strip_suffix("/value")).and_then(|i| i.parse::<usize>().ok());
            !rule_value.is_some_and(|i| {
                ["DucklingEntityExtractor", "ParlanceRules", "RegexMessageHandler"]
                    .contains(&answer["entities"][i]["extractor"].as_str().unwrap_or(""))
            })
        })
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[actix_web::test]
async fn answers_match_rasas_schema() {
    let Some(schema) = rasa_schema() else {
        panic!("../shared/data/rasa/openapi-model-parse.yml is missing: CI has ../shared beside the checkout");
    };
    let texts = [
        "wake me up at 7 am tomorrow",
        "réveille-moi demain à sept heures",
        "play some jazz and pay 20 euros",
        "/restart",
        r#"/greet{"name": "Ada"}"#,
        r#"/greet@0.25{"name": ["Ada", "Grace"], "n": 2}"#,
    ];
    for text in texts {
        let answer = rasa_parse(json!({"text": text, "message_id": "user-1", "token": null})).await;
        let found = violations(&schema, &answer);
        assert!(found.is_empty(), "{text}: {found:?}\n{answer}");
        assert_eq!(answer["text"], text);
    }
    // the schema does catch a wrong answer
    assert!(!violations(&schema, &json!({"text": "x", "intent": {"name": 3}})).is_empty());
}

#[actix_web::test]
async fn button_payloads_are_answered_without_the_model() {
    let answer = rasa_parse(json!({"text": "/restart"})).await;
    assert_eq!(answer["intent"], json!({"name": "restart", "confidence": 1.0}));
    assert_eq!(answer["intent_ranking"], json!([{"name": "restart", "confidence": 1.0}]));
    assert_eq!(answer["entities"], json!([]));

    let answer = rasa_parse(json!({"text": r#"/greet@0.25{"name": ["Ada", "Grace"]}"#})).await;
    assert_eq!(answer["intent"]["name"], "greet");
    assert_eq!(answer["intent"]["confidence"], 0.25);
    let entities = answer["entities"].as_array().unwrap();
    assert_eq!(entities.len(), 2);
    assert_eq!(entities[1]["value"], "Grace");
    // entity types in the order the payload gives them, as Rasa (a Python dict) keeps them
    let answer = rasa_parse(json!({"text": r#"/greet{"zeta": 1, "alpha": 2}"#})).await;
    assert_eq!(answer["entities"][0]["entity"], "zeta");
    assert_eq!(entities[1]["extractor"], "RegexMessageHandler");
    assert_eq!((entities[0]["start"].as_u64(), entities[0]["end"].as_u64()), (Some(11), Some(37)));

    // an intent the model does not know is read as words, as Rasa does outside its domain
    let answer = rasa_parse(json!({"text": "/play_some_jazz"})).await;
    assert_ne!(answer["intent"]["name"], "play_some_jazz");
}

#[actix_web::test]
async fn v1_parse_answers_payloads_only_when_asked() {
    let app = test::init_service(App::new().configure(http::configure(AppState::new(fixture_parser(), 4096)))).await;
    let post = |body: Value| test::TestRequest::post().uri("/v1/parse").set_json(body).to_request();
    let on: Value =
        test::read_body_json(test::call_service(&app, post(json!({"text": r#"/greet{"name": "Ada"}"#, "rasa_payloads": true}))).await).await;
    assert_eq!(on["intent"], json!({"name": "greet", "confidence": 1.0}));
    assert_eq!(on["entities"][0]["source"], "payload");
    assert_eq!(on["entities"][0]["text"], r#"{"name": "Ada"}"#);
    let off: Value = test::read_body_json(test::call_service(&app, post(json!({"text": "/restart"}))).await).await;
    assert_ne!(off["intent"]["name"], "restart");
}
