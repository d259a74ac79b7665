//! The real `parlance serve` binary on a free loopback port, and raw HTTP/1.1 to talk to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on a free port of the loopback and waits for its "listening on" line.
pub fn start(bundle: &std::path::Path, extra: &[&str]) -> Server {
    let model = ["--model", bundle.to_str().expect("UTF-8 path")];
    start_with(&[&model[..], extra].concat())
}

/// Starts `parlance serve` with these arguments (they must name the model or models).
pub fn start_with(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parlance"))
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--max-body-bytes", "65536"])
        .args(args)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("parlance binary starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if let Some(i) = line.find("listening on http://") {
            break line[i + "listening on http://".len()..].trim().to_string();
        }
    };
    // keep draining the log so the server never blocks on a full pipe
    std::thread::spawn(move || for _ in lines {});
    Server { child, addr }
}

/// Sends raw bytes as one HTTP/1.1 request and returns (status, body).
pub fn raw(addr: &str, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // a server refusing a large body (413) answers and closes before reading all of it: the rest
    // of the write then fails, and the answer is still there to read
    if let Err(e) = s.write_all(request) {
        assert!(matches!(e.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset), "{e}");
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf); // server closes (Connection: close) or resets after an error
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

pub fn post(addr: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw(addr, &req)
}

pub fn get(addr: &str, path: &str) -> (u16, String) {
    raw(addr, format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
}

/// POST with extra headers (e.g. the admin key); JSON body.
pub fn post_with(addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw(addr, &req)
}

/// The admin key of [`start_training`]'s servers.
pub const ADMIN_KEY: &str = "admin-secret";

/// A server of `model` that trains over HTTP: admin key [`ADMIN_KEY`], bots in `models_dir`,
/// embedded with `encoder`.
pub fn start_training(model: &std::path::Path, models_dir: &std::path::Path, encoder: &std::path::Path, extra: &[&str]) -> Server {
    let utf8 = |p: &std::path::Path| p.to_str().expect("UTF-8 path").to_string();
    let (model, models_dir, encoder) = (utf8(model), utf8(models_dir), utf8(encoder));
    let args = ["--model", &model, "--admin-key", ADMIN_KEY, "--models-dir", &models_dir, "--encoder", &encoder];
    start_with(&[&args[..], extra].concat())
}

/// One request with any method, an optional bearer key, and the answer's JSON (null when it is not).
pub fn request(addr: &str, method: &str, path: &str, content_type: &str, body: &[u8], key: Option<&str>) -> (u16, serde_json::Value) {
    let auth = key.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    let (status, text) = raw(addr, &req);
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}
