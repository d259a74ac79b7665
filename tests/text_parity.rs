//! The Rust word splitter must cut text exactly as training/parlance_text.py did when the model
//! was trained. tests/data/text_cases.json is written by the Python side (training/make_fixture.py).

use parlance::text::words;

#[test]
fn rust_words_match_python_words() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/text_cases.json");
    let cases: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let lower = case["lowercase"].as_bool().unwrap();
        let got: Vec<(String, usize, usize)> = words(text, lower).into_iter().map(|w| (w.norm, w.start, w.end)).collect();
        let want: Vec<(String, usize, usize)> = case["words"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| (w[0].as_str().unwrap().to_string(), w[1].as_u64().unwrap() as usize, w[2].as_u64().unwrap() as usize))
            .collect();
        assert_eq!(got, want, "text {text:?} lowercase={lower}");
    }
}
