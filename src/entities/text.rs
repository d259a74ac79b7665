//! Normalisation and tokenisation shared by the grammars.
//!
//! Tokens are whole letter runs, numeric literals (with their thousands and decimal separators
//! already folded in) or single punctuation characters, so no grammar can match inside a word.

use super::Lang;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Word,
    Num,
    Punct,
}

#[derive(Clone, Debug)]
pub(crate) struct Tok {
    /// Lower-cased, accents stripped, typographic apostrophes folded to `'`.
    pub key: String,
    pub kind: Kind,
    /// Char offsets (Unicode scalar values) into the original text, end exclusive.
    pub s: usize,
    pub e: usize,
    /// Whitespace between the previous token and this one.
    pub sp: bool,
    /// Numeric value of a `Num` token.
    pub val: f64,
    /// A `Num` token made of digits only (no separator), e.g. "15", "06".
    pub plain: bool,
    /// The first character is upper-case in the original text ("M" in "3M").
    pub upper: bool,
}

/// A number read at a token, as the number grammar memoises it: (end, value, spelled, ordinal).
pub(crate) type NumMemo = Option<(usize, f64, bool, bool)>;

pub(crate) struct Toks {
    pub t: Vec<Tok>,
    /// Memo of the number grammar per token and `article_one` flag (every grammar asks for the
    /// number at every token).
    pub num_memo: std::cell::RefCell<Vec<[Option<NumMemo>; 2]>>,
}

fn fold_char(c: char) -> char {
    match c {
        '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '\u{00B4}' => '\'',
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}' => '-',
        '\u{00A0}' | '\u{202F}' | '\u{2009}' | '\u{2007}' => ' ',
        _ => c.to_lowercase().next().unwrap_or(c),
    }
}

fn strip_accent(c: char, out: &mut String) {
    let r = match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'î' | 'ï' | 'í' | 'ì' => 'i',
        'ô' | 'ö' | 'ó' | 'ò' | 'õ' => 'o',
        'ù' | 'û' | 'ü' | 'ú' => 'u',
        'ç' => 'c',
        'ÿ' => 'y',
        'ñ' => 'n',
        'œ' => {
            out.push_str("oe");
            return;
        }
        'æ' => {
            out.push_str("ae");
            return;
        }
        _ => c,
    };
    out.push(r);
}

/// Folds a numeric literal starting at `i` (a digit) into (end, value, plain).
/// Thousands separators: space or `'` in both languages, `,` in English, `.` in French;
/// decimal separator: `,` or `.` (either convention), different from the thousands one.
fn scan_number(c: &[char], i: usize, lang: Lang) -> (usize, f64, bool) {
    let digits = |mut j: usize| {
        while j < c.len() && c[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let g0e = digits(i);
    let int0: String = c[i..g0e].iter().collect();
    let mut int_part = int0.clone();
    let mut end = g0e;
    let mut plain = true;
    // thousands groups
    let tsep_ok = |s: char| match s {
        ' ' | '\'' => true,
        ',' => lang == Lang::En,
        '.' => lang == Lang::Fr,
        _ => false,
    };
    let mut tsep: Option<char> = None;
    if g0e - i <= 3 {
        let mut j = g0e;
        while j + 1 < c.len() && tsep_ok(c[j]) && tsep.is_none_or(|t| t == c[j]) && c[j + 1].is_ascii_digit() {
            let ge = digits(j + 1);
            if ge - (j + 1) != 3 {
                break;
            }
            tsep = Some(c[j]);
            int_part.extend(c[j + 1..ge].iter());
            j = ge;
            end = ge;
            plain = false;
        }
    }
    let mut value: f64 = int_part.parse().unwrap_or(0.0);
    // decimal part
    if end + 1 < c.len() && (c[end] == ',' || c[end] == '.') && Some(c[end]) != tsep && c[end + 1].is_ascii_digit() {
        let fe = digits(end + 1);
        // "10.31.1974", "1.2.3": numbers joined by a repeated mark, not a decimal
        let after_mark = i >= 2 && c[i - 1] == c[end] && c[i - 2].is_ascii_digit();
        if after_mark || fe + 1 < c.len() && c[fe] == c[end] && c[fe + 1].is_ascii_digit() {
            return (end, value, plain);
        }
        let frac: String = c[end + 1..fe].iter().collect();
        if let Ok(v) = format!("{int_part}.{frac}").parse::<f64>() {
            value = v;
            end = fe;
            plain = false;
        }
    }
    (end, value, plain)
}

pub(crate) fn tokenize(text: &str, lang: Lang) -> Toks {
    let orig: Vec<char> = text.chars().collect();
    let c: Vec<char> = orig.iter().map(|&ch| fold_char(ch)).collect();
    let mut t = Vec::with_capacity(c.len() / 3 + 1);
    let mut i = 0;
    let mut sp = false;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            sp = true;
            i += 1;
            continue;
        }
        if ch.is_ascii_digit() {
            let (e, val, plain) = scan_number(&c, i, lang);
            t.push(Tok { key: c[i..e].iter().collect(), kind: Kind::Num, s: i, e, sp, val, plain, upper: false });
            i = e;
        } else if ch.is_alphabetic() {
            let mut e = i;
            let mut key = String::new();
            while e < c.len() && c[e].is_alphabetic() {
                strip_accent(c[e], &mut key);
                e += 1;
            }
            t.push(Tok { key, kind: Kind::Word, s: i, e, sp, val: 0.0, plain: false, upper: orig[i].is_uppercase() });
            i = e;
        } else {
            t.push(Tok { key: ch.to_string(), kind: Kind::Punct, s: i, e: i + 1, sp, val: 0.0, plain: false, upper: false });
            i += 1;
        }
        sp = false;
    }
    let n = t.len();
    Toks { t, num_memo: std::cell::RefCell::new(vec![[None, None]; n + 2]) }
}

impl Toks {
    pub fn len(&self) -> usize {
        self.t.len()
    }
    pub fn key(&self, i: usize) -> &str {
        self.t.get(i).map(|t| t.key.as_str()).unwrap_or("")
    }
    pub fn is(&self, i: usize, k: &str) -> bool {
        self.t.get(i).is_some_and(|t| t.key == k)
    }
    pub fn any(&self, i: usize, ks: &[&str]) -> bool {
        self.t.get(i).is_some_and(|t| ks.contains(&t.key.as_str()))
    }
    pub fn kind(&self, i: usize) -> Option<Kind> {
        self.t.get(i).map(|t| t.kind)
    }
    pub fn is_word(&self, i: usize) -> bool {
        self.kind(i) == Some(Kind::Word)
    }
    pub fn is_num(&self, i: usize) -> bool {
        self.kind(i) == Some(Kind::Num)
    }
    /// Token `i` follows token `i-1` with no whitespace.
    pub fn adj(&self, i: usize) -> bool {
        self.t.get(i).is_some_and(|t| !t.sp)
    }
    /// Token `i` starts with an upper-case letter in the original text.
    pub fn upper(&self, i: usize) -> bool {
        self.t.get(i).is_some_and(|t| t.upper)
    }
    /// Plain integer token (digits only) at `i`, with its digit count.
    pub fn int(&self, i: usize) -> Option<(i64, usize)> {
        let t = self.t.get(i)?;
        if t.kind == Kind::Num && t.plain && t.key.len() <= 9 {
            Some((t.val as i64, t.key.len()))
        } else {
            None
        }
    }
    /// Matches the words of `p` (space separated) from `i`; between two words an optional `-` or
    /// `'` connector token is skipped. `.` in `p` matches a dot token. Returns the end index.
    pub fn phrase(&self, i: usize, p: &str) -> Option<usize> {
        // fast reject on the first word, without splitting (the phrase tables are long)
        let k = self.key(i);
        let (kb, pb) = (k.as_bytes(), p.as_bytes());
        if kb.is_empty() || pb.len() < kb.len() || pb[0] != kb[0] || !p.starts_with(k) || pb.len() > kb.len() && pb[kb.len()] != b' ' {
            return None;
        }
        let mut j = i;
        for (n, w) in p.split(' ').enumerate() {
            if n > 0 && self.any(j, &["-", "'"]) && !self.is(j, w) {
                j += 1;
            }
            if !self.is(j, w) {
                return None;
            }
            j += 1;
        }
        // an elided last word takes its apostrophe: "d'" in "fin d'après-midi", "l'" in "de l'année"
        if matches!(p.rsplit(' ').next(), Some("d" | "l" | "jusqu" | "qu")) && self.is(j, "'") {
            j += 1;
        }
        Some(j)
    }
    /// First matching phrase among `ps` (longest listed first by the caller).
    pub fn phrases(&self, i: usize, ps: &[&str]) -> Option<usize> {
        ps.iter().find_map(|p| self.phrase(i, p))
    }
}
