//! The whole parse path on the tiny fixture bundle (ONNX Runtime included): any text either parses
//! with entities inside the text, or is refused as empty or too long. Never a panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use parlance::batcher::BatchSettings;
use parlance::model::SessionSettings;
use parlance::pipeline::{Limits, ParseError, ParseInput, Parser};
use parlance::text::char_slice;

static PARSER: LazyLock<(tokio::runtime::Runtime, Parser)> = LazyLock::new(|| {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/tiny");
    let parser = Parser::load(dir, &SessionSettings::default(), BatchSettings::default(), 1, Limits::default()).unwrap();
    (tokio::runtime::Builder::new_current_thread().build().unwrap(), parser)
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).to_string();
    let (rt, parser) = &*PARSER;
    match rt.block_on(parser.parse(ParseInput::new(text.clone()))) {
        Ok(r) => {
            for e in &r.entities {
                assert_eq!(char_slice(&text, e.start, e.end), e.text);
            }
            assert!(!r.intent_ranking.is_empty());
        }
        Err(ParseError::EmptyText) | Err(ParseError::TextTooLong { .. }) => {}
        Err(e) => panic!("unexpected error {e:?} for {text:?}"),
    }
});
