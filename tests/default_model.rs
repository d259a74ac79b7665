//! What the shipped model answers, through the same pipeline as the server. These texts are our
//! own, not MASSIVE's.

mod common;

use parlance::batcher::BatchSettings;
use parlance::model::SessionSettings;
use parlance::pipeline::{Limits, ParseInput, Parser};

fn parser() -> Parser {
    Parser::load(common::default_model_dir(), &SessionSettings::default(), BatchSettings::default(), 1, Limits::default())
        .expect("models/default loads")
}

const TEXTS: [&str; 16] = [
    "réveille-moi à sept heures demain",
    "wake me up at six thirty tomorrow morning",
    "quel temps fera-t-il à lyon ce week-end",
    "will it rain in boston on friday",
    "mets de la musique de jazz",
    "play the latest album by adele",
    "allume les lumières du salon",
    "turn off the kitchen lights",
    "quelle heure est-il à tokyo",
    "what is the capital of australia",
    "rappelle-moi d'appeler maman demain à 15h",
    "add milk and eggs to my shopping list",
    "envoie un mail à pierre pour lui dire que je serai en retard",
    "how much is one dollar in euros",
    "commande-moi une pizza",
    "set the volume to fifty percent",
];

#[tokio::test]
async fn french_alarm_and_english_queries() {
    let p = parser();
    let r = p.parse(ParseInput::new("réveille-moi à sept heures demain")).await.unwrap();
    assert_eq!(r.intent.name, "alarm_set");
    assert_eq!(r.language.code, "fr");
    let slots: Vec<(&str, &str)> = r.entities.iter().filter(|e| e.source == "model").map(|e| (e.entity.as_str(), e.text.as_str())).collect();
    assert!(slots.contains(&("time", "sept heures")) && slots.contains(&("date", "demain")), "{slots:?}");
    let r = p.parse(ParseInput::new("will it rain in boston on friday")).await.unwrap();
    assert_eq!(r.intent.name, "weather_query");
    assert!(r.entities.iter().any(|e| e.entity == "place_name" && e.text == "boston"), "{:?}", r.entities);
    assert_eq!(r.language.code, "en");
}

#[tokio::test]
async fn the_reminder_carries_one_date_time() {
    let p = parser();
    let input = ParseInput {
        reference_time: Some("2026-03-10T09:00:00".into()),
        timezone: Some("Europe/Paris".into()),
        ..ParseInput::new("rappelle-moi d'appeler maman demain à 15h")
    };
    let r = p.parse(input).await.unwrap();
    // one slot of the model carries the date-time, and the rule entity is listed beside it
    let mut with_instant: Vec<_> = r.entities.iter().filter(|e| e.value["value"] == "2026-03-11T15:00:00+01:00").map(|e| e.source).collect();
    with_instant.sort();
    assert_eq!(with_instant, ["model", "rule"], "{:?}", r.entities);
}

/// The five losses of issue 16 through the shipped model: each rule entity reaches the response,
/// and a slot that is that entity (up to function words) carries its value.
#[tokio::test]
async fn no_rule_entity_is_lost_to_a_model_slot() {
    use serde_json::json;
    let p = parser();
    let two_hours = json!({"value": 2, "unit": "hour", "seconds": 7200, "iso": "PT2H"});
    let cases = [
        ("set a timer for two hours", "duration", two_hours.clone()),
        ("appelle le 06 12 34 56 78", "phone_number", json!("+33612345678")),
        ("email john.smith@example.com about the report", "email", json!("john.smith@example.com")),
        ("baisse le volume de 15 %", "percentage", json!(15)),
        ("mets un minuteur de deux heures", "duration", two_hours),
    ];
    for (text, dim, value) in cases {
        let r = p.parse(ParseInput::new(text)).await.unwrap();
        let rule = r.entities.iter().find(|e| e.source == "rule" && e.entity == dim);
        assert_eq!(rule.map(|e| &e.value), Some(&value), "{text}: {:?}", r.entities);
        let rule = rule.unwrap();
        for slot in r.entities.iter().filter(|e| e.source == "model" && e.start <= rule.start && rule.end <= e.end) {
            assert_eq!(slot.value, value, "{text}: the slot {:?} carries the rule value", slot.entity);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_requests_equal_one_by_one() {
    let p = parser();
    let mut alone = Vec::new();
    for t in TEXTS {
        alone.push(p.parse(ParseInput::new(t)).await.unwrap());
    }
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let p = p.clone();
            tokio::spawn(async move { p.parse(ParseInput::new(TEXTS[i % TEXTS.len()])).await.unwrap() })
        })
        .collect();
    let mut largest = 0;
    let mut worst = 0.0f32;
    for (i, t) in tasks.into_iter().enumerate() {
        let r = t.await.unwrap();
        let a = &alone[i % TEXTS.len()];
        largest = largest.max(r.timings.batch_size);
        assert_eq!(r.intent.name, a.intent.name, "{}", a.text);
        for (x, y) in r.intent_ranking.iter().zip(&a.intent_ranking) {
            assert_eq!(x.name, y.name, "{}", a.text);
            worst = worst.max((x.confidence - y.confidence).abs());
        }
        let spans = |r: &parlance::pipeline::ParseResult| r.entities.iter().map(|e| (e.entity.clone(), e.start, e.end)).collect::<Vec<_>>();
        assert_eq!(spans(&r), spans(a), "{}", a.text);
    }
    assert!(largest > 1, "the requests were never batched");
    assert!(worst < 1e-4, "a confidence moved by {worst} between batched and alone");
}

/// Several inference workers run one shared ONNX Runtime session at once (issue 25, item 2): 64
/// requests, one text per graph run, spread over four workers, answer as one worker one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_workers_on_one_session_answer_as_one_worker() {
    let one = parser();
    let batch = BatchSettings { max_batch_size: 1, ..Default::default() };
    let four = Parser::load(common::default_model_dir(), &SessionSettings::default(), batch, 4, Limits::default()).expect("loads with four workers");
    let mut alone = Vec::new();
    for t in TEXTS {
        alone.push(one.parse(ParseInput::new(t)).await.unwrap());
    }
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let p = four.clone();
            tokio::spawn(async move { p.parse(ParseInput::new(TEXTS[i % TEXTS.len()])).await.unwrap() })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        let (r, a) = (t.await.unwrap(), &alone[i % TEXTS.len()]);
        assert_eq!(r.intent.name, a.intent.name, "{}", a.text);
        for (x, y) in r.intent_ranking.iter().zip(&a.intent_ranking) {
            assert_eq!(x.name, y.name, "{}", a.text);
            assert!((x.confidence - y.confidence).abs() < 1e-5, "{}: {} vs {}", a.text, x.confidence, y.confidence);
        }
        assert_eq!(r.entities, a.entities, "{}", a.text);
    }
}
