//! The parse pipeline on the fixture bundle: alignment, offsets, truncation, batching.

mod common;

use common::*;
use parlance::batcher::BatchSettings;
use parlance::pipeline::{Limits, ParseError, ParseInput, ParseResult};

fn input(text: &str) -> ParseInput {
    ParseInput::new(text)
}

/// The model's slots (rule entities are listed beside them; see `rule_spans`).
fn spans(r: &ParseResult) -> Vec<(&str, usize, usize, &str)> {
    r.entities.iter().filter(|e| e.source == "model").map(|e| (e.entity.as_str(), e.start, e.end, e.text.as_str())).collect()
}

fn rule_spans(r: &ParseResult) -> Vec<(&str, usize, usize, &str)> {
    r.entities.iter().filter(|e| e.source == "rule").map(|e| (e.entity.as_str(), e.start, e.end, e.text.as_str())).collect()
}

#[tokio::test]
async fn french_alarm_with_time_and_date() {
    let p = fixture_parser();
    let r = p.parse(input("Réveille-moi à sept heures demain")).await.unwrap();
    assert_eq!(r.intent.name, "alarm_set");
    assert_eq!(r.language.code, "fr");
    // "-moi" is tagged B-date in the fixture: it must be ignored (not the first sub-token).
    assert_eq!(spans(&r), [("time", 15, 26, "sept heures"), ("date", 27, 33, "demain")]);
    // the rule entity that the slots overlap is listed beside them (issue 16: nothing lost)
    assert_eq!(rule_spans(&r), [("time", 13, 33, "à sept heures demain")]);
    assert!(r.entities.iter().all(|e| e.confidence > 0.5 && e.confidence <= 1.0));
    let sum: f32 = r.intent_ranking.iter().map(|s| s.confidence).sum();
    assert!((sum - 1.0).abs() < 1e-4, "fixture has 4 intents, all ranked");
    assert!(r.intent_ranking.windows(2).all(|w| w[0].confidence >= w[1].confidence));
}

#[tokio::test]
async fn the_bundle_slot_transition_prior_is_applied() {
    use parlance::model::SessionSettings;
    use parlance::pipeline::Parser;
    // a prior from training data where every word was O: with a large weight no span survives;
    // with weight 0 the slots are those of the plain fixture
    let parse = |weight: f64| {
        let dir = fixture_copy();
        let counts = serde_json::json!({"counts": {"<start>": {"O": 1000}, "O": {"O": 5000}}});
        std::fs::write(dir.path().join("slot_transitions.json"), counts.to_string()).unwrap();
        edit_manifest(dir.path(), |m| {
            m["slot_transitions"] = serde_json::json!({"file": "slot_transitions.json", "weight": weight});
        });
        let p = Parser::load(dir.path(), &SessionSettings::default(), BatchSettings::default(), 1, Limits::default())
            .expect("the bundle with a prior loads");
        async move { p.parse(input("Réveille-moi à sept heures demain")).await.unwrap() }
    };
    let plain = parse(0.0).await;
    assert_eq!(spans(&plain), [("time", 15, 26, "sept heures"), ("date", 27, 33, "demain")]);
    let all_o = parse(5.0).await;
    assert!(all_o.entities.iter().all(|e| e.source != "model"), "{:?}", all_o.entities);
    assert_eq!(all_o.intent.name, plain.intent.name, "the prior only touches slots");
}

#[tokio::test]
async fn offsets_point_into_the_original_text() {
    let p = fixture_parser();
    let text = "🎉 WEATHER in New York?";
    let r = p.parse(input(text)).await.unwrap();
    assert_eq!(r.intent.name, "weather_query");
    assert_eq!(spans(&r), [("place_name", 13, 21, "New York")]);
    let chars: Vec<char> = text.chars().collect();
    let e = &r.entities[0];
    assert_eq!(chars[e.start..e.end].iter().collect::<String>(), e.text);
    assert_eq!(r.text, text, "the result echoes the text as sent");
}

#[tokio::test]
async fn client_language_wins_and_is_checked() {
    let p = fixture_parser();
    let r = p.parse(ParseInput { lang: Some("en-US".into()), ..ParseInput::new("salut") }).await.unwrap();
    assert_eq!((r.language.code.as_str(), r.language.source), ("en", "request"));
    let e = p.parse(ParseInput { lang: Some("de".into()), ..ParseInput::new("salut") }).await.unwrap_err();
    assert!(matches!(e, ParseError::UnsupportedLanguage(..)));
}

#[tokio::test]
async fn empty_and_oversized_text_are_refused() {
    let p = fixture_parser_with(BatchSettings::default(), Limits { max_text_chars: 50, max_batch_texts: 4 });
    assert_eq!(p.parse(input("  \n ")).await.unwrap_err(), ParseError::EmptyText);
    let long = "é".repeat(51);
    assert_eq!(p.parse(input(&long)).await.unwrap_err(), ParseError::TextTooLong { chars: 51, max: 50 });
    assert!(p.parse(input(&"é".repeat(50))).await.is_ok(), "the limit counts chars, not bytes");
}

#[tokio::test]
async fn long_text_is_truncated_not_refused() {
    let p = fixture_parser(); // max_length 16 tokens
    let text = format!("{} demain", "wake ".repeat(40));
    let r = p.parse(input(&text)).await.unwrap();
    assert_eq!(r.intent.name, "alarm_set");
    assert!(r.entities.is_empty(), "the date was past the truncation point");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_results_equal_single_results() {
    let p = fixture_parser();
    let texts = [
        "réveille-moi à sept heures demain",
        "play some jazz",
        "météo à paris lundi",
        "hello",
        "wake me up at eight am tomorrow",
        "what is the weather in new york today?",
        "joue de la musique",
        "bonjour 🎉 café crème",
    ];
    let mut alone = Vec::new();
    for t in texts {
        alone.push(p.parse(input(t)).await.unwrap());
    }
    // 64 concurrent requests of mixed lengths: they get batched and padded together.
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let p = p.clone();
            let t = texts[i % texts.len()];
            tokio::spawn(async move { p.parse(input(t)).await.unwrap() })
        })
        .collect();
    let mut max_batch = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        let r = task.await.unwrap();
        let a = &alone[i % texts.len()];
        max_batch = max_batch.max(r.timings.batch_size);
        assert_eq!(r.intent.name, a.intent.name);
        assert_eq!(spans(&r), spans(a));
        for (x, y) in r.intent_ranking.iter().zip(&a.intent_ranking) {
            assert_eq!(x.name, y.name);
            assert!((x.confidence - y.confidence).abs() < 1e-6, "{} vs {}", x.confidence, y.confidence);
        }
    }
    assert!(max_batch > 1, "concurrent requests were never batched");
    // the batch endpoint path gives the same answers in order
    let many = p.parse_many(texts.iter().map(|t| input(t)).collect()).await.unwrap();
    for (m, a) in many.iter().zip(&alone) {
        assert_eq!((m.text.as_str(), m.intent.name.as_str()), (a.text.as_str(), a.intent.name.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_is_refused_not_grown() {
    let p =
        fixture_parser_with(BatchSettings { max_batch_size: 1, max_batch_tokens: 64, queue_capacity: 2, ..Default::default() }, Limits::default());
    // Submitting in a tight loop outpaces the worker: the queue must refuse, not grow.
    let mut accepted = Vec::new();
    let mut overloaded = 0;
    for _ in 0..500 {
        match p.batcher().submit(vec![2, 5, 6, 3]) {
            Ok(rx) => accepted.push(rx),
            Err(_) => overloaded += 1,
        }
        assert!(p.batcher().queue_depth() <= 3, "depth counts at most the capacity plus the batch being taken");
    }
    assert!(overloaded > 0, "500 instant submissions never found the queue full");
    for rx in accepted {
        assert!(rx.await.unwrap().is_ok(), "accepted work is still done");
    }
    // and it still serves afterwards
    assert!(p.parse(input("hello")).await.is_ok());
}

/// issue 25: with a latency lane (worker 0's wider session, run while the other workers idle)
/// and shared weights, lone and concurrent parses give the answers of a plain single worker.
/// On two cores this also compares the two orders of a lone parse: the plain parser's one-thread
/// run leaves a core free, so it finds the language and rule entities while the graph runs; the
/// lane's run takes both cores, so the laned parser finds them before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latency_lane_gives_the_same_answers() {
    use parlance::model::SessionSettings;
    use parlance::pipeline::Parser;
    let plain = fixture_parser();
    let lane = SessionSettings { intra_threads: 1, lane_threads: 2, ..SessionSettings::default() };
    let laned = Parser::load(fixture_dir(), &lane, BatchSettings::default(), 2, Limits::default()).expect("loads with a lane");
    let texts = ["réveille-moi à sept heures demain", "play some jazz", "météo à paris lundi", "wake me up at eight am"];
    for t in texts {
        let (a, b) = (plain.parse(input(t)).await.unwrap(), laned.parse(input(t)).await.unwrap());
        assert_eq!((a.intent.name.as_str(), spans(&a)), (b.intent.name.as_str(), spans(&b)));
        assert_eq!((a.language.code.as_str(), rule_spans(&a)), (b.language.code.as_str(), rule_spans(&b)));
        assert!((a.intent.confidence - b.intent.confidence).abs() < 1e-5);
    }
    let timed = plain.parse(input(texts[0])).await.unwrap();
    assert_eq!(timed.language.code, "fr");
    assert!(!rule_spans(&timed).is_empty(), "the rules found no time in {:?}", texts[0]);
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let p = laned.clone();
            tokio::spawn(async move { p.parse(input(texts[i % texts.len()])).await.unwrap() })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let r = task.await.unwrap();
        let a = plain.parse(input(texts[i % texts.len()])).await.unwrap();
        assert_eq!((r.intent.name.as_str(), spans(&r)), (a.intent.name.as_str(), spans(&a)));
    }
}
