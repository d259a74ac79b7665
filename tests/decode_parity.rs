//! Slot decoding in Rust (`BioDecoder`) and in Python (`training/metrics.py`, which scores every
//! exported model) pick the same tag sequences: the default bundle's labels and transition prior,
//! pseudo-random slot logits, with and without the prior. The Python side runs live in the test
//! environment, so a change to either twin that the other lacks fails here.

mod common;

use common::*;
use parlance::decode::{log_softmax, BioDecoder, TransitionCounts};

#[test]
fn rust_and_python_decoders_agree() {
    let dir = default_model_dir();
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("parlance.json")).unwrap()).unwrap();
    let labels: Vec<String> = serde_json::from_value(manifest["slot_labels"].clone()).unwrap();
    let t = &manifest["slot_transitions"];
    let (weight, smoothing) = (t["weight"].as_f64().unwrap(), t["smoothing"].as_f64().unwrap());
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join(t["file"].as_str().unwrap())).unwrap()).unwrap();
    let counts: TransitionCounts = serde_json::from_value(file["counts"].clone()).unwrap();

    // 300 utterances of 1..=14 words; logits peaked on a few labels, as a trained head's are
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let k = labels.len();
    let cases: Vec<Vec<Vec<f32>>> = (0..300)
        .map(|_| {
            let words = 1 + (next() % 14) as usize;
            (0..words)
                .map(|_| {
                    let mut row: Vec<f32> = (0..k).map(|_| (next() % 1000) as f32 / 250.0).collect();
                    for _ in 0..3 {
                        row[(next() % k as u64) as usize] += 6.0 + (next() % 1000) as f32 / 200.0;
                    }
                    row
                })
                .collect()
        })
        .collect();

    let with_prior = BioDecoder::with_prior(&labels, &counts, weight as f32, smoothing as f32).unwrap();
    let plain = BioDecoder::new(&labels);
    let decode =
        |d: &BioDecoder| -> Vec<Vec<usize>> { cases.iter().map(|c| d.best_path(&c.iter().map(|r| log_softmax(r)).collect::<Vec<_>>())).collect() };
    let (rust_prior, rust_plain) = (decode(&with_prior), decode(&plain));
    assert_ne!(rust_prior, rust_plain, "the prior changes some sequences");

    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("cases.json");
    let body = serde_json::json!({"labels": labels, "counts": counts, "weight": weight,
                                  "smoothing": smoothing, "cases": cases});
    std::fs::write(&input, body.to_string()).unwrap();
    let script = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
from metrics import bio_path, transitions
d = json.load(open(sys.argv[2]))
t = transitions(d["labels"], d["counts"], d["weight"], d["smoothing"])
print(json.dumps({"prior": [bio_path(c, d["labels"], t) for c in d["cases"]],
                  "plain": [bio_path(c, d["labels"]) for c in d["cases"]]}))
"#;
    let training = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("training");
    let out = std::process::Command::new(test_python()).args(["-c", script]).arg(&training).arg(&input).output().expect("python runs");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    let py: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let py_prior: Vec<Vec<usize>> = serde_json::from_value(py["prior"].clone()).unwrap();
    let py_plain: Vec<Vec<usize>> = serde_json::from_value(py["plain"].clone()).unwrap();
    for (i, (r, p)) in rust_prior.iter().zip(&py_prior).enumerate() {
        assert_eq!(r, p, "case {i}, with the prior");
    }
    for (i, (r, p)) in rust_plain.iter().zip(&py_plain).enumerate() {
        assert_eq!(r, p, "case {i}, valid BIO only");
    }
}
