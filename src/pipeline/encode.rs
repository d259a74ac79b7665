//! Text → token ids, the one way: the service's parses and `parlance train`'s examples go through
//! it.

use tokenizers::Tokenizer;

use crate::text::{self, Word};

/// A text as the model reads it: its words, the token ids (pre-tokenised on the normalised
/// words, with the tokenizer's special tokens), and each word's first token.
pub struct Encoded {
    pub words: Vec<Word>,
    pub ids: Vec<i64>,
    /// Token index of each word's first sub-token; `None` when truncation cut the word.
    pub first_token: Vec<Option<usize>>,
}

/// The tokenizer refused a text: its error, kept (shared, so that a parse error stays cheap to
/// clone; equal when the messages are).
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct TokenizerError(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl From<tokenizers::Error> for TokenizerError {
    fn from(e: tokenizers::Error) -> Self {
        TokenizerError(e.into())
    }
}

impl PartialEq for TokenizerError {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

/// Text → ids: words split and normalised as the model was trained, then tokenised.
pub fn encode(tokenizer: &Tokenizer, text: &str, lowercase: bool) -> Result<Encoded, TokenizerError> {
    let words = text::words(text, lowercase);
    let norms: Vec<&str> = words.iter().map(|w| w.norm.as_str()).collect();
    let enc = tokenizer.encode(&norms[..], true).map_err(TokenizerError::from)?;
    let mut first_token = vec![None; words.len()];
    for (t, w) in enc.get_word_ids().iter().enumerate() {
        if let Some(w) = w {
            let slot = &mut first_token[*w as usize];
            if slot.is_none() {
                *slot = Some(t);
            }
        }
    }
    let ids = enc.get_ids().iter().map(|&i| i as i64).collect();
    Ok(Encoded { words, ids, first_token })
}
