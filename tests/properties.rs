//! Properties that must hold for any input: word and entity spans always lie on char boundaries,
//! inside the text, in order; the parse path never panics.

mod common;

use parlance::decode::{decode_bio, word_span};
use parlance::pipeline::{ParseError, ParseInput};
use parlance::text::{char_slice, words};
use proptest::prelude::*;

/// Text with the awkward parts of real chat: accents (composed and combining), emoji and ZWJ
/// sequences, typographic apostrophes, punctuation, odd whitespace, other scripts.
fn chat_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Zéèàçôœ]{1,8}",
        Just("e\u{301}".to_string()),
        Just("👩‍👩‍👧".to_string()),
        Just("🎉".to_string()),
        Just("l’été".to_string()),
        Just("«".to_string()),
        Just("»".to_string()),
        Just("...".to_string()),
        Just("?!".to_string()),
        Just("\u{a0}".to_string()),
        Just("\t\n".to_string()),
        Just("日本語".to_string()),
        "[0-9]{1,4}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(prop_oneof![piece, Just(" ".to_string())], 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn word_spans_are_ordered_inside_and_non_blank(text in chat_text(), lower in any::<bool>()) {
        let n = text.chars().count();
        let ws = words(&text, lower);
        let mut at = 0;
        for w in &ws {
            prop_assert!(w.start >= at && w.start < w.end && w.end <= n, "{:?} in {:?}", w, text);
            let surface = char_slice(&text, w.start, w.end);
            prop_assert!(!surface.is_empty() && !surface.chars().any(char::is_whitespace));
            prop_assert!(!w.norm.is_empty());
            at = w.end;
        }
    }

    #[test]
    fn decoded_entities_lie_on_word_boundaries(
        text in chat_text(),
        tags in prop::collection::vec((0usize..5, 0.0f32..=1.0, any::<bool>()), 0..30),
    ) {
        let labels: Vec<String> = ["O", "B-a", "I-a", "B-b", "I-b"].iter().map(|s| s.to_string()).collect();
        let ws = words(&text, true);
        let tags: Vec<Option<(usize, f32)>> = ws
            .iter()
            .enumerate()
            .map(|(i, _)| tags.get(i).and_then(|&(l, p, keep)| keep.then_some((l, p))))
            .collect();
        let spans = decode_bio(&tags, &labels);
        let n = text.chars().count();
        let mut at = 0;
        for s in spans {
            prop_assert!(s.first_word <= s.last_word && s.last_word < ws.len());
            prop_assert!((0.0..=1.0).contains(&s.confidence));
            let (start, end) = word_span(&ws, s.first_word, s.last_word);
            prop_assert!(start >= at && start < end && end <= n);
            // the span starts and ends with a word, never with a space
            let surface = char_slice(&text, start, end);
            prop_assert!(!surface.starts_with(char::is_whitespace) && !surface.ends_with(char::is_whitespace));
            at = end;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_parse_path_never_panics_and_offsets_hold(text in chat_text()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let parser = PARSER.with(|p| p.clone());
        match rt.block_on(parser.parse(ParseInput::new(text.clone()))) {
            Ok(r) => {
                prop_assert_eq!(&r.text, &text);
                for e in &r.entities {
                    prop_assert_eq!(char_slice(&text, e.start, e.end), e.text.as_str());
                }
                prop_assert!(!r.intent_ranking.is_empty());
            }
            Err(e) => prop_assert_eq!(e, ParseError::EmptyText, "only blank text may fail: {:?}", text),
        }
    }
}

thread_local! {
    static PARSER: parlance::pipeline::Parser = common::fixture_parser();
}
