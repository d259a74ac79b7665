//! The real server as an attacker and as an unchanged Rasa bot would try it: every route under
//! disguised paths with every kind of key, Rasa's token in the body, stalled bodies, and reloads
//! of files that are not regular files.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::server::{raw, start};
use serde_json::Value;

const PARSE_KEY: &str = "pk-123";
const ADMIN_KEY: &str = "ak-456";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Access {
    Open,
    Parse,
    Admin,
}

/// Every route of the API: method, path, the key it needs.
const ROUTES: [(&str, &str, Access); 18] = [
    ("POST", "/v1/parse", Access::Parse),
    ("POST", "/v1/parse/batch", Access::Parse),
    ("POST", "/model/parse", Access::Parse),
    ("GET", "/v1/model", Access::Parse),
    ("GET", "/v1/models", Access::Parse),
    ("GET", "/v1/models/default", Access::Parse),
    ("POST", "/v1/models/default/parse", Access::Parse),
    ("POST", "/v1/models/default/parse/batch", Access::Parse),
    ("POST", "/v1/models/default/model/parse", Access::Parse),
    ("POST", "/admin/models/default/reload", Access::Admin),
    ("POST", "/admin/models/default/train", Access::Admin),
    ("GET", "/admin/models/default/train", Access::Admin),
    ("DELETE", "/admin/models/default/train", Access::Admin),
    ("GET", "/health/live", Access::Open),
    ("GET", "/health/ready", Access::Open),
    ("GET", "/metrics", Access::Open),
    ("GET", "/", Access::Open),
    ("GET", "/openapi.json", Access::Open),
];

/// The same path percent-encoded, with doubled, trailing and dot segments, and in upper case.
fn variants(path: &str) -> Vec<String> {
    let encode_first = |p: &str| {
        // the first letter or digit after the leading slash, as %XX
        let i = p.char_indices().find(|(_, c)| c.is_ascii_alphanumeric()).map(|(i, _)| i);
        match i {
            Some(i) => format!("{}%{:02X}{}", &p[..i], p.as_bytes()[i], &p[i + 1..]),
            None => p.to_string(),
        }
    };
    let encode_all: String = path.bytes().map(|b| if b == b'/' { "/".to_string() } else { format!("%{b:02x}") }).collect();
    vec![
        path.to_string(),
        encode_first(path),
        encode_all,
        format!("/{path}"),
        path.replacen('/', "//", 2),
        format!("{path}/"),
        path.to_ascii_uppercase(),
        format!("/v1/..{path}"),
        format!("/.{path}"),
        format!("/%2e{path}"),
        format!("/v1/%2e%2e{path}"),
        format!("/{}", path.replace('/', "%2F")),
    ]
}

fn request(addr: &str, method: &str, path: &str, key: Option<&str>) -> (u16, String) {
    let auth = key.map(|k| format!("X-API-Key: {k}\r\n")).unwrap_or_default();
    let body = if path.contains("batch") { r#"{"texts": ["hello"]}"# } else { r#"{"text": "hello"}"# };
    let body = if method == "POST" { body } else { "" };
    let head = if method == "POST" { format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()) } else { String::new() };
    raw(addr, format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}{head}Connection: close\r\n\r\n{body}").as_bytes())
}

#[test]
fn every_route_under_every_disguise_needs_its_key() {
    // training on (a models folder), so its routes answer for themselves once the key is right
    let models = tempfile::tempdir().unwrap();
    let dir = models.path().to_str().unwrap();
    let server = start(&common::fixture_dir(), &["--api-keys", PARSE_KEY, "--admin-key", ADMIN_KEY, "--models-dir", dir]);
    let a = server.addr.as_str();
    let keys: [(Option<&str>, &str); 4] = [(None, "none"), (Some("wrong"), "wrong"), (Some(PARSE_KEY), "parse"), (Some(ADMIN_KEY), "admin")];
    let mut checked = 0;
    for (method, path, access) in ROUTES {
        for variant in variants(path) {
            for (key, key_name) in keys {
                let (status, body) = request(a, method, &variant, key);
                let opens = match access {
                    Access::Open => true,
                    Access::Parse => key_name == "parse",
                    Access::Admin => key_name == "admin",
                };
                let what = format!("{method} {variant} with {key_name} key: {status} {body}");
                assert!(status != 0 && status < 500, "{what}");
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                if !opens {
                    assert!(status == 401 || status == 404, "{what}");
                    if status == 404 {
                        assert_eq!(v["error"]["code"], "not_found", "{what}");
                    }
                } else if variant == path {
                    // reached: any answer but 401 and the router's 404 (no_training_run is the route's own)
                    assert!(status != 401 && !(status == 404 && v["error"]["code"] == "not_found"), "{what}");
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, ROUTES.len() * 12 * 4);
    // the findings that started this: decoded by the router, so checked as the route they reach
    for (method, path) in [("POST", "/%61dmin/models/default/reload"), ("POST", "/model/%70arse"), ("POST", "/v%31/parse"), ("GET", "/v%31/models")] {
        assert_eq!(request(a, method, path, None).0, 401, "{method} {path}");
    }
    assert_eq!(request(a, "GET", "/v%31/models", Some(PARSE_KEY)).0, 200);
}

#[test]
fn rasa_token_in_the_body_or_encoded_in_the_query() {
    let server = start(&common::fixture_dir(), &["--api-keys", "k+1/=", "--admin-key", ADMIN_KEY]);
    let a = server.addr.as_str();
    let post = |path: &str, body: &str| {
        raw(
            a,
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    };
    // exactly what Rasa's RasaNLUHttpInterpreter sends
    let (status, body) = post("/model/parse", r#"{"text": "hello", "token": "k+1/=", "message_id": "user-7"}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(post("/model/parse", r#"{"text": "hello", "token": "nope", "message_id": "user-7"}"#).0, 401);
    assert_eq!(post("/model/parse", r#"{"text": "hello", "token": null, "message_id": null}"#).0, 401);
    // a body that is not JSON, without a key: 401, not a hint about the body
    assert_eq!(post("/model/parse", "{not json").0, 401);
    // the body token is Rasa's; other routes take keys in headers or the query only
    assert_eq!(post("/v1/parse", r#"{"text": "hello", "token": "k+1/="}"#).0, 401);
    assert_eq!(post("/model/parse?token=k%2B1%2F%3D", r#"{"text": "hello"}"#).0, 200);
    assert_eq!(post("/model/parse?token=k+1/=", r#"{"text": "hello"}"#).0, 401, "+ in a query is a space");
}

/// Reads the whole answer of a request whose body never comes (or comes too slowly).
fn stalled(addr: &str, pieces: &[&[u8]], pause: Duration) -> (u16, String, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    for p in pieces {
        if s.write_all(p).is_err() {
            break;
        }
        std::thread::sleep(pause);
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body, started.elapsed())
}

#[test]
fn stalled_and_slow_bodies_get_408_json_within_the_deadline() {
    let server = start(&common::fixture_dir(), &["--body-timeout", "1"]);
    let a = server.addr.as_str();
    let head = b"POST /v1/parse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    // a body shorter than its Content-Length, then nothing
    let (status, body, took) = stalled(a, &[head, b"{\"te"], Duration::from_millis(10));
    assert_eq!(status, 408, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "request_timeout");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // a body that trickles in, a byte every 300 ms: the deadline is for the whole body
    let trickle: Vec<&[u8]> = std::iter::once(&head[..]).chain(std::iter::repeat_n(&b" "[..], 10)).collect();
    let (status, _, took) = stalled(a, &trickle, Duration::from_millis(300));
    assert_eq!(status, 408);
    assert!(took < Duration::from_secs(10), "{took:?}");
    // the server still answers
    let (status, _) = common::server::post(a, "/v1/parse", "application/json", br#"{"text": "hello"}"#);
    assert_eq!(status, 200);
}

#[test]
fn head_works_where_get_does() {
    let server = start(&common::fixture_dir(), &[]);
    let a = server.addr.as_str();
    for path in ["/health/live", "/health/ready", "/v1/model", "/v1/models", "/openapi.json", "/", "/metrics"] {
        let (status, body) = raw(a, format!("HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
        assert_eq!(status, 200, "HEAD {path}");
        assert!(body.is_empty(), "HEAD {path} sent a body");
    }
    let (status, body) = raw(a, b"DELETE /v1/model HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 405);
    assert!(body.contains("method_not_allowed"));
}

#[cfg(unix)]
#[test]
fn reload_of_a_named_pipe_is_refused_at_once_and_the_model_keeps_serving() {
    let server = start(&common::fixture_dir(), &["--admin-key", ADMIN_KEY]);
    let a = server.addr.as_str();
    let dir = common::fixture_copy();
    for name in ["parlance.json", "tokenizer.json", "model.onnx"] {
        let copy = tempfile::tempdir().unwrap();
        for f in ["parlance.json", "model.onnx", "tokenizer.json"] {
            std::fs::copy(dir.path().join(f), copy.path().join(f)).unwrap();
        }
        std::fs::remove_file(copy.path().join(name)).unwrap();
        let fifo = copy.path().join(name);
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let body = format!(r#"{{"path": "{}"}}"#, copy.path().display());
        let started = Instant::now();
        let (status, text) = common::server::post_with(a, "/admin/models/default/reload", &[("X-API-Key", ADMIN_KEY)], body.as_bytes());
        assert_eq!(status, 422, "{name}: {text}");
        assert!(text.contains("not a regular file"), "{name}: {text}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    // a later reload of the same model is not blocked, and the model serves throughout
    let (status, text) = common::server::post_with(a, "/admin/models/default/reload", &[("X-API-Key", ADMIN_KEY)], b"");
    assert_eq!(status, 200, "{text}");
    let (status, _) = common::server::post(a, "/v1/parse", "application/json", br#"{"text": "hello"}"#);
    assert_eq!(status, 200);
}

#[test]
fn the_codecs_own_errors_are_json_too() {
    let server = start(&common::fixture_dir(), &["--client-timeout", "1"]);
    let a = server.addr.as_str();
    let json_code = |body: &str| serde_json::from_str::<Value>(body).map(|v| v["error"]["code"].clone()).unwrap_or(Value::Null);
    // not HTTP at all
    let (status, body) = raw(a, b"\x00\x01\x02 not http\r\n\r\n");
    assert_eq!((status, json_code(&body)), (400, Value::from("bad_request")), "{body}");
    // a head too large
    let big = format!("GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(200 * 1024));
    let (status, body) = raw(a, big.as_bytes());
    assert_eq!((status, json_code(&body)), (431, Value::from("headers_too_large")), "{body}");
    // a head that never ends
    let (status, body, took) = stalled(a, &[b"POST /v1/parse HTTP/1.1\r\nHost: x\r\n"], Duration::from_millis(10));
    assert_eq!((status, json_code(&body)), (408, Value::from("request_timeout")), "{body}");
    assert!(took < Duration::from_secs(10));
    // an extractor's error inside a route (a path segment that is not UTF-8) is JSON as well
    let (status, body) = raw(a, b"GET /v1/models/%FF HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(json_code(&body).is_string(), "{body}");
    assert_eq!(common::server::get(a, "/health/ready").0, 200);
}
