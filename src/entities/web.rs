//! Email addresses, URLs and phone numbers (regular expressions on the raw text).

use regex::Regex;
use std::sync::LazyLock;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[a-z0-9][a-z0-9._%+\-]*@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*\.[a-z]{2,}")
        .expect("email regex")
});

/// A spelled-out address: "alice arobase exemple.fr", "asdf dot k at gmail dot com".
static SPOKEN_EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)([a-z0-9][a-z0-9_%+\-]*(?:(?:\.|\s+(?:dot|point)\s+)[a-z0-9_%+\-]+)*)",
        r"(\s*@\s*|\s+(?:at|arobase)\s+)",
        r"([a-z0-9][a-z0-9\-]*(?:(?:\.|\s+(?:dot|point)\s+)[a-z0-9\-]+)+)"
    ))
    .expect("spoken email regex")
});

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?:(?:https?|ftp)://[^\s<>'\x22]+",
        r"|localhost(?::\d{1,5})?(?:/[^\s<>'\x22]*)?",
        r"|www\.[^\s<>'\x22]+",
        r"|[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*",
        r"\.(?:com|org|net|fr|io|eu|dev|app|ai|co|uk|de|be|ch|ca|us|info|biz|gouv\.fr)",
        r"(?:[/?#][^\s<>'\x22]*)?)"
    ))
    .expect("url regex")
});

static PHONE_FR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\+33[\s.\-]?(?:\(0\)[\s.\-]?)?|0033[\s.\-]?|0)([1-9](?:[\s.\-]?\d{2}){4})").expect("phone fr regex"));

static PHONE_NA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:\(\+1\)\s*|\+?1[\s.\-]?)?(?:\(([2-9]\d{2})\)|([2-9]\d{2}))(?:[.\-]|\s*-\s*|\s+)?([2-9]\d{2})(?:[.\-]|\s*-\s*|\s+)?(\d{4})",
        r"(?:\s*,?\s*(?:ext|x)\.?\s*(\d{1,6}))?"
    ))
    .expect("phone na regex")
});

/// Other national forms: an area code in brackets ("(19) 997424919"), a long run of digits
/// with its trunk 0 ("06354640807").
static PHONE_OTHER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(\d{2,3}\)[\s.\-]?\d{4,5}[\s.\-]?\d{4}|\b0\d{10,12}\b").expect("phone other regex"));

static PHONE_INTL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\+[1-9]\d{0,2}(?:[\s.\-]?\(?\d{1,4}\)?){2,6}").expect("phone intl regex"));

/// Compiles the regular expressions now rather than on the first request (≈ 3 ms).
pub(crate) fn warm_up() {
    for r in [&EMAIL, &SPOKEN_EMAIL, &URL, &PHONE_FR, &PHONE_NA, &PHONE_OTHER, &PHONE_INTL] {
        LazyLock::force(r);
    }
}

/// A match: byte range in the text and normalised value.
pub(crate) struct WebMatch {
    pub dim: super::Dimension,
    pub bs: usize,
    pub be: usize,
    pub value: String,
}

fn prev_char(text: &str, b: usize) -> Option<char> {
    text[..b].chars().next_back()
}
fn next_char(text: &str, b: usize) -> Option<char> {
    text[b..].chars().next()
}

pub(crate) fn find(text: &str, out: &mut Vec<WebMatch>) {
    emails(text, out);
    spoken_emails(text, out);
    urls(text, out);
    phones(text, out);
}

fn emails(text: &str, out: &mut Vec<WebMatch>) {
    use super::Dimension as D;
    if text.contains('@') {
        for m in EMAIL.find_iter(text) {
            if prev_char(text, m.start()).is_some_and(|c| c.is_alphanumeric() || c == '.') {
                continue;
            }
            let s = m.as_str();
            let at = s.find('@').unwrap_or(0);
            let value = format!("{}{}", &s[..at], s[at..].to_lowercase());
            out.push(WebMatch { dim: D::Email, bs: m.start(), be: m.end(), value });
        }
    }
}

fn urls(text: &str, out: &mut Vec<WebMatch>) {
    use super::Dimension as D;
    if text.contains('.') || text.contains("://") || text.contains("localhost") {
        for m in URL.find_iter(text) {
            if prev_char(text, m.start()).is_some_and(|c| c.is_alphanumeric() || c == '@' || c == '.' || c == '/') {
                continue;
            }
            let mut s = m.as_str();
            // trailing punctuation is not part of the URL; a closing bracket only when unbalanced
            while let Some(c) = s.chars().next_back() {
                let strip = match c {
                    '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '"' | '»' => true,
                    ')' => s.matches('(').count() < s.matches(')').count(),
                    ']' => s.matches('[').count() < s.matches(']').count(),
                    _ => false,
                };
                if !strip {
                    break;
                }
                s = &s[..s.len() - c.len_utf8()];
            }
            let be = m.start() + s.len();
            if next_char(text, be).is_some_and(|c| c.is_alphanumeric()) {
                continue;
            }
            // lower-case scheme and host, keep the path as written
            let (scheme, rest) = match s.find("://") {
                Some(p) => (s[..p + 3].to_lowercase(), &s[p + 3..]),
                None => (String::new(), s),
            };
            let hend = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let value = format!("{scheme}{}{}", rest[..hend].to_lowercase(), &rest[hend..]);
            out.push(WebMatch { dim: D::Url, bs: m.start(), be, value });
        }
    }
}

fn phones(text: &str, out: &mut Vec<WebMatch>) {
    use super::Dimension as D;
    let digits = text.bytes().filter(|b| b.is_ascii_digit()).count();
    if digits < 8 {
        return;
    }
    let ok_bounds = |s: usize, e: usize| {
        let glued_before = prev_char(text, s).is_some_and(|c| c.is_alphanumeric() || matches!(c, '+' | '/' | ',' | '.'));
        let glued_after = next_char(text, e).is_some_and(|c| c.is_alphanumeric());
        let continues = text[e..].starts_with(['.', ',', '/']) && text[e + 1..].starts_with(|c: char| c.is_ascii_digit());
        !(glued_before || glued_after || continues)
    };
    let only_digits = |s: &str| s.chars().filter(|c| c.is_ascii_digit()).collect::<String>();
    for c in PHONE_FR.captures_iter(text) {
        let m = c.get(0).unwrap();
        if ok_bounds(m.start(), m.end()) {
            let value = format!("+33{}", only_digits(c.get(1).unwrap().as_str()));
            out.push(WebMatch { dim: D::PhoneNumber, bs: m.start(), be: m.end(), value });
        }
    }
    for c in PHONE_NA.captures_iter(text) {
        let m = c.get(0).unwrap();
        if ok_bounds(m.start(), m.end()) {
            let area = c.get(1).or(c.get(2)).unwrap().as_str();
            let mut value = format!("+1{}{}{}", area, &c[3], &c[4]);
            if let Some(ext) = c.get(5) {
                value += &format!(" ext {}", ext.as_str());
            }
            out.push(WebMatch { dim: D::PhoneNumber, bs: m.start(), be: m.end(), value });
        }
    }
    for m in PHONE_OTHER.find_iter(text) {
        if ok_bounds(m.start(), m.end()) {
            out.push(WebMatch { dim: D::PhoneNumber, bs: m.start(), be: m.end(), value: only_digits(m.as_str()) });
        }
    }
    for m in PHONE_INTL.find_iter(text) {
        let d = only_digits(m.as_str());
        if (8..=15).contains(&d.len()) && ok_bounds(m.start(), m.end()) {
            out.push(WebMatch { dim: D::PhoneNumber, bs: m.start(), be: m.end(), value: format!("+{d}") });
        }
    }
}

/// Emails said aloud: "arobase" always; "at" (also a preposition: "look at example.com") only
/// when "dot" is said or the local part has a digit or one of `+ . _ -`.
fn spoken_emails(text: &str, out: &mut Vec<WebMatch>) {
    let lower = text.to_ascii_lowercase();
    if !(lower.contains(" at ") || lower.contains("arobase") || lower.contains(" dot ") || lower.contains(" point ")) {
        return;
    }
    let spoken_dot = |s: &str| {
        let w: Vec<&str> = s.split_whitespace().collect();
        w.join(" ").replace(" dot ", ".").replace(" point ", ".")
    };
    for c in SPOKEN_EMAIL.captures_iter(text) {
        let m = c.get(0).unwrap();
        if prev_char(text, m.start()).is_some_and(|ch| ch.is_alphanumeric() || ch == '.')
            || next_char(text, m.end()).is_some_and(|ch| ch.is_alphanumeric())
        {
            continue;
        }
        let (local, sep, domain) = (&c[1], c[2].trim().to_ascii_lowercase(), &c[3]);
        let said_dot = [local, domain].iter().any(|p| {
            let l = p.to_ascii_lowercase();
            l.contains(" dot ") || l.contains(" point ")
        });
        let marked_local = local.chars().any(|ch| ch.is_ascii_digit() || "+._-".contains(ch));
        let ok = match sep.as_str() {
            "arobase" => true,
            "at" => said_dot || marked_local,
            _ => said_dot, // a written "@" with a spoken dot; the plain form is EMAIL's
        };
        let (local, domain) = (spoken_dot(local), spoken_dot(domain).to_lowercase());
        let tld_ok = domain.rsplit('.').next().is_some_and(|t| t.len() >= 2 && t.chars().all(|ch| ch.is_ascii_alphabetic()));
        if ok && tld_ok && !local.contains(' ') && !domain.contains(' ') {
            out.push(WebMatch { dim: super::Dimension::Email, bs: m.start(), be: m.end(), value: format!("{local}@{domain}") });
        }
    }
}
