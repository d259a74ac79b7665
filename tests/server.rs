//! The real `parlance serve` binary over TCP: what a bot engine sees, bad clients included.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::server::{get, post, raw, start};

use serde_json::Value;

#[test]
fn malformed_and_oversized_bursts_get_4xx_json_and_service_continues() {
    let server = start(&common::fixture_dir(), &[]);
    let a = server.addr.as_str();
    let huge = vec![b'x'; 200_000];
    let huge_text = format!("{{\"text\": \"{}\"}}", "a".repeat(5000));
    let bad: Vec<(&str, &str, &[u8])> = vec![
        ("/v1/parse", "application/json", b"{\"text\": "),
        ("/v1/parse", "application/json", b"\xff\xfe{}"),
        ("/v1/parse", "application/json", b"{\"text\": \"caf\xe9\"}"),
        ("/v1/parse", "application/json", b"{\"text\": \"\"}"),
        ("/v1/parse", "application/json", b"{}"),
        ("/v1/parse", "application/xml", b"<text>hi</text>"),
        ("/v1/parse", "application/json", &huge),
        ("/v1/parse", "application/json", huge_text.as_bytes()),
        ("/v1/parse/batch", "application/json", b"{\"texts\": \"not a list\"}"),
        ("/model/parse", "application/json", b"null"),
    ];
    for round in 0..5 {
        for (path, ct, body) in &bad {
            let (status, text) = post(a, path, ct, body);
            assert!((400..500).contains(&status), "round {round} {path} {ct}: status {status} body {text}");
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
            assert!(v["error"]["code"].is_string(), "{text}");
        }
    }
    // garbage that is not even HTTP, and a client that disconnects mid-body
    let _ = raw(a, b"\x00\x01\x02 not http\r\n\r\n");
    {
        let mut s = TcpStream::connect(a).unwrap();
        let _ = s.write_all(b"POST /v1/parse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"te");
    }
    let (status, body) = post(a, "/v1/parse", "application/json", "{\"text\": \"réveille-moi à sept heures demain\"}".as_bytes());
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["intent"]["name"], "alarm_set");
    assert_eq!(get(a, "/health/ready").0, 200);
}

/// The default model, as the README's run command serves it.
#[test]
fn default_model_answers_the_french_alarm() {
    let dir = common::default_model_dir();
    let server = start(&dir, &[]);
    let a = server.addr.as_str();
    let (status, body) = post(a, "/v1/parse", "application/json", "{\"text\":\"réveille-moi à sept heures demain\"}".as_bytes());
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["intent"]["name"], "alarm_set", "{body}");
    assert_eq!(v["language"]["code"], "fr");
    let ents: Vec<(&str, &str)> = v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "model")
        .map(|e| (e["entity"].as_str().unwrap(), e["text"].as_str().unwrap()))
        .collect();
    assert!(ents.contains(&("time", "sept heures")), "{body}");
    assert!(ents.contains(&("date", "demain")), "{body}");
    let (status, body) = post(a, "/model/parse", "application/json", b"{\"text\":\"wake me up at seven tomorrow\"}");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["intent"]["name"], "alarm_set", "{body}");
    // model slots carry confidence_entity; built-in entities come as Rasa's Duckling extractor's (confidence 1.0)
    for e in v["entities"].as_array().unwrap() {
        let duckling = e["extractor"] == "DucklingEntityExtractor";
        assert!(e["extractor"].is_string() && (if duckling { e["confidence"] == 1.0 } else { e["confidence_entity"].is_number() }), "{body}");
    }
}

#[test]
fn sigterm_turns_readiness_off_then_drains_and_exits() {
    let mut server = start(&common::fixture_dir(), &["--drain-seconds", "1.5"]);
    let a = server.addr.clone();
    assert_eq!(get(&a, "/health/ready").0, 200);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(400));
    // draining: not ready, still alive and still answering parses
    assert_eq!(get(&a, "/health/ready").0, 503);
    assert_eq!(get(&a, "/health/live").0, 200);
    assert_eq!(post(&a, "/v1/parse", "application/json", b"{\"text\": \"hello\"}").0, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "server did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
}
