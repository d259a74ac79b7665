//! Text to words: normalisation and word splitting (docs/bundle.md, "Text to words to tokens").
//!
//! The model was trained on words cut by `training/parlance_text.py`; this is its Rust twin, and both
//! are checked against `tests/data/text_cases.json`. Every word keeps its char span in the original
//! request text, so entity offsets point into what the client sent, accents and emoji included.

use unicode_normalization::UnicodeNormalization;

/// Typographic apostrophes folded to `'` (MASSIVE French uses both `'` and `’`).
const APOSTROPHES: [char; 5] = ['\u{2019}', '\u{2018}', '\u{02bc}', '\u{00b4}', '`'];

/// Punctuation split off the edges of a word; inside a word (`l'été`, `p.m.`) it stays.
fn is_edge_punct(c: char) -> bool {
    matches!(c, '.' | ',' | '!' | '?' | ';' | ':' | '"' | '«' | '»' | '(' | ')' | '[' | ']' | '{' | '}' | '…')
}

/// One word of the request: its normalised form (what the tokenizer sees) and its span in the
/// original text, counted in chars, end exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub norm: String,
    pub start: usize,
    pub end: usize,
}

/// NFC, apostrophes folded, optionally lower-cased.
pub fn normalize_word(word: &str, lowercase: bool) -> String {
    let folded: String = word.nfc().map(|c| if APOSTROPHES.contains(&c) { '\'' } else { c }).collect();
    if lowercase {
        folded.to_lowercase()
    } else {
        folded
    }
}

/// Char spans of the words of `text`: whitespace-separated, edge punctuation split off.
pub fn split_words(text: &str) -> Vec<(usize, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut s = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        let mut e = i;
        let mut trail = Vec::new();
        while s < e && is_edge_punct(chars[s]) {
            spans.push((s, s + 1));
            s += 1;
        }
        while e > s && is_edge_punct(chars[e - 1]) {
            trail.push((e - 1, e));
            e -= 1;
        }
        if s < e {
            spans.push((s, e));
        }
        spans.extend(trail.into_iter().rev());
    }
    spans
}

/// The words of `text`, normalised, with their spans in the original text.
pub fn words(text: &str, lowercase: bool) -> Vec<Word> {
    let spans = split_words(text);
    if spans.is_empty() {
        return Vec::new();
    }
    // char index -> byte index, so that each span can be sliced without rescanning.
    let byte_at: Vec<usize> = text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len())).collect();
    spans.into_iter().map(|(start, end)| Word { norm: normalize_word(&text[byte_at[start]..byte_at[end]], lowercase), start, end }).collect()
}

/// Substring of `text` between two char offsets.
pub fn char_slice(text: &str, start: usize, end: usize) -> &str {
    let mut it = text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len()));
    let b0 = it.nth(start).unwrap_or(text.len());
    let b1 = if end > start { it.nth(end - start - 1).unwrap_or(text.len()) } else { b0 };
    &text[b0..b1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_edge_punctuation_and_keeps_inner() {
        let w = words("Réveille-moi à 7h, l’été? «Oui»", true);
        let norms: Vec<&str> = w.iter().map(|w| w.norm.as_str()).collect();
        assert_eq!(norms, ["réveille-moi", "à", "7h", ",", "l'été", "?", "«", "oui", "»"]);
        assert_eq!((w[4].start, w[4].end), (19, 24));
    }

    #[test]
    fn offsets_count_chars_not_bytes() {
        let text = "🎉 café crème";
        let w = words(text, false);
        assert_eq!((w[1].start, w[1].end), (2, 6));
        assert_eq!(char_slice(text, w[2].start, w[2].end), "crème");
    }

    #[test]
    fn nfc_composes_decomposed_accents() {
        // "e" + combining acute: two chars in the original, one after NFC; the span still covers both.
        let text = "cafe\u{301} noir";
        let w = words(text, true);
        assert_eq!(w[0].norm, "café");
        assert_eq!((w[0].start, w[0].end), (0, 5));
        assert_eq!(w[1].start, 6);
    }

    #[test]
    fn empty_and_blank_give_no_words() {
        assert!(words("", true).is_empty());
        assert!(words(" \t\n ", true).is_empty());
        assert_eq!(words("...", true).len(), 3);
    }
}
