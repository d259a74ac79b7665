//! One labelled utterance: what the data readers (MASSIVE jsonl in `eval`, Rasa YAML in `rasa`)
//! give, and what `eval` scores and `train` learns from. Its own module, so that the readers and
//! their users do not import each other.

#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub locale: String,
    pub text: String,
    pub intent: String,
    /// (slot type, start, end) in chars of `text`.
    pub spans: Vec<(String, usize, usize)>,
}
