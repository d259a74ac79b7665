//! A request's text and options, and the checks every input passes before any work is done.

use serde::Serialize;

use crate::entities;
use crate::lang::DetectedLanguage;

/// Input limits (documented in the README; enforced before any work is done).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Limits {
    /// Longest text accepted, in chars.
    pub max_text_chars: usize,
    /// Most texts in one batch request.
    pub max_batch_texts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_text_chars: 2000, max_batch_texts: 64 }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("text is empty")]
    EmptyText,
    #[error("text is {chars} characters long; the limit is {max}")]
    TextTooLong { chars: usize, max: usize },
    #[error("language {0:?} is not one this model serves ({1})")]
    UnsupportedLanguage(String, String),
    #[error("the parse queue is full; retry shortly")]
    Overloaded,
    /// The model's tokenizer refused the text: the client's text, so a 4xx.
    #[error("the model's tokenizer cannot read the text")]
    Tokenizer(#[source] super::encode::TokenizerError),
    /// Preparing the texts (tokenizer, grammar) panicked on the rayon pool: a bug of ours.
    #[error("text preparation panicked")]
    PreparationPanicked,
    /// The model's inference worker is gone, so nothing can run until the model is reloaded.
    #[error("the model's inference worker stopped")]
    WorkerStopped,
    /// ONNX Runtime (or the graph's outputs) failed on the batch this text was in.
    #[error("inference failed")]
    Inference(#[source] crate::model::RunError),
    #[error("{0}")]
    InvalidTimeReference(String),
    #[error("the Rasa payload's JSON holds {values} entity values; at most {max} are answered")]
    PayloadTooLarge { values: usize, max: usize },
    #[error("unknown dimension {0:?}; known: number, ordinal, amount_of_money, percentage, duration, temperature, time, email, url, phone_number")]
    UnknownDimension(String),
}

/// One request's text and options.
#[derive(Debug, Clone, Default)]
pub struct ParseInput {
    pub text: String,
    /// "fr"/"en" (or a tag such as "fr-FR"); detected when absent.
    pub lang: Option<String>,
    /// What relative dates resolve against: "2026-03-10T09:00:00" (local to `timezone`) or RFC 3339;
    /// default now.
    pub reference_time: Option<String>,
    /// IANA time zone, default UTC.
    pub timezone: Option<String>,
    /// Built-in dimensions wanted (names as `entities::Dimension::name`); `None` = all, empty = none.
    pub dimensions: Option<Vec<String>>,
    /// The language as already detected upstream (by language routing), so it is not done twice.
    pub detected: Option<DetectedLanguage>,
}

impl ParseInput {
    pub fn new(text: impl Into<String>) -> ParseInput {
        ParseInput { text: text.into(), ..Default::default() }
    }

    /// The request's language, the one way it is decided: the one the request gives (`lang`), else
    /// the one already detected (by language routing), else detected now, and kept for later.
    pub fn language(&mut self) -> DetectedLanguage {
        if let Some(code) = self.lang.as_deref().and_then(crate::lang::normalize_tag) {
            return DetectedLanguage { code, confidence: 1.0, source: "request" };
        }
        self.detected.get_or_insert_with(|| crate::lang::detect(&self.text)).clone()
    }
}

/// An input that passed every check, with what the checks computed: the built-in dimensions
/// wanted and the time context (its language is set once the text's language is known).
#[derive(Debug, Clone)]
pub struct Checked {
    pub input: ParseInput,
    pub dimensions: Option<Vec<entities::Dimension>>,
    pub context: entities::Context,
}

/// The wanted built-in dimensions of a request, checked.
pub fn dimensions(input: &ParseInput) -> Result<Option<Vec<entities::Dimension>>, ParseError> {
    input
        .dimensions
        .as_ref()
        .map(|names| names.iter().map(|n| entities::Dimension::parse(n).ok_or_else(|| ParseError::UnknownDimension(n.clone()))).collect())
        .transpose()
}

/// The reference time and zone of a request, checked.
pub fn time_context(input: &ParseInput, lang: entities::Lang) -> Result<entities::Context, ParseError> {
    for (name, v) in [("reference_time", &input.reference_time), ("timezone", &input.timezone)] {
        if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(ParseError::InvalidTimeReference(format!("{name} is empty; leave it out for the default")));
        }
    }
    entities::Context::from_request(input.reference_time.as_deref(), input.timezone.as_deref(), lang).map_err(ParseError::InvalidTimeReference)
}
