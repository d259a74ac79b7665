//! An error and its causes as one line, "what failed: why: the root cause", for the wire, the logs
//! and the command line. Errors keep their causes as `source()` instead of copying them into their
//! own message, so a message is read whole only through this.

use std::error::Error;

/// `e`'s message followed by each of its causes, joined by ": ".
pub fn chain(e: &(dyn Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        // a wrapper that already prints its cause would say it twice
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn causes_follow_the_message() {
        let e = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(super::chain(&e), "outer: disk on fire");
    }
}
