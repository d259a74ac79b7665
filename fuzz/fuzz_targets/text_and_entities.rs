//! Text handling without the model: word splitting, tokenisation, BIO decoding over arbitrary tags,
//! and the built-in entity grammar. Spans must stay inside the text, in order, and match their text.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use parlance::decode::{decode_bio, word_span};
use parlance::entities::{extract, Context, Lang};
use parlance::text::{char_slice, words};
use tokenizers::Tokenizer;

static TOKENIZER: LazyLock<Tokenizer> = LazyLock::new(|| {
    Tokenizer::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/tiny/tokenizer.json")).unwrap()
});
static CONTEXTS: LazyLock<[Context; 2]> = LazyLock::new(|| {
    [
        Context::from_request(Some("2026-03-29T01:30:00"), Some("Europe/Paris"), Lang::Fr).unwrap(),
        Context::from_request(Some("2026-11-01T01:30:00"), Some("America/New_York"), Lang::En).unwrap(),
    ]
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let n = text.chars().count();
    let ws = words(&text, true);
    let norms: Vec<&str> = ws.iter().map(|w| w.norm.as_str()).collect();
    let enc = TOKENIZER.encode(&norms[..], true).unwrap();
    for w in enc.get_word_ids().iter().flatten() {
        assert!((*w as usize) < ws.len());
    }
    let labels: Vec<String> = ["O", "B-a", "I-a", "B-b", "I-b"].iter().map(|s| s.to_string()).collect();
    let tags: Vec<Option<(usize, f32)>> =
        (0..ws.len()).map(|i| data.get(i).and_then(|b| (b % 7 != 6).then(|| ((*b as usize) % 5, 0.5)))).collect();
    for s in decode_bio(&tags, &labels) {
        let (a, b) = word_span(&ws, s.first_word, s.last_word);
        assert!(a < b && b <= n);
    }
    for ctx in CONTEXTS.iter() {
        let mut at = 0;
        for e in extract(&text, ctx, None) {
            assert!(e.start >= at && e.start < e.end && e.end <= n, "{e:?}");
            assert_eq!(char_slice(&text, e.start, e.end), e.text);
            at = e.end;
        }
    }
});
