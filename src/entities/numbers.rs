//! Numbers (digits with either decimal convention, spelled out in French and English) and ordinals.

use super::number_words::{glued_tens, lex, ordinal_base, W};
use super::text::{Kind, Toks};
use super::Lang;

#[derive(Clone, Copy, Debug)]
pub(crate) struct NumMatch {
    pub end: usize,
    pub value: f64,
    pub spelled: bool,
    pub ordinal: bool,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Last {
    Start,
    Unit(u8),
    Teen(u8),
    Tens(u8),
    Hundred,
    Scale,
}

struct Acc {
    total: f64,
    cur: f64,
    last: Last,
    last_scale: f64,
}

impl Acc {
    /// Applies word `w` if the grammar allows it after what was read; false otherwise.
    fn push(&mut self, lang: Lang, w: W) -> bool {
        use Last as L;
        let fr = lang == Lang::Fr;
        match w {
            W::Unit(v) => {
                let ok = match self.last {
                    L::Start | L::Hundred | L::Scale => true,
                    L::Tens(_) => v >= 1,
                    L::Teen(10) => fr && (7..=9).contains(&v),
                    _ => false,
                };
                if !ok {
                    return false;
                }
                self.cur += v as f64;
                self.last = L::Unit(v);
            }
            W::Teen(v) => {
                let ok = match self.last {
                    L::Start | L::Hundred | L::Scale => true,
                    L::Tens(t) => fr && (t == 60 || t == 80),
                    _ => false,
                };
                if !ok {
                    return false;
                }
                self.cur += v as f64;
                self.last = L::Teen(v);
            }
            W::Tens(v) => {
                if fr && v == 20 && self.last == L::Unit(4) {
                    self.cur += 76.0;
                    self.last = L::Tens(80);
                    return true;
                }
                if !matches!(self.last, L::Start | L::Hundred | L::Scale) {
                    return false;
                }
                self.cur += v as f64;
                self.last = L::Tens(v);
            }
            W::Hundred => return self.push_hundred(fr),
            W::Scale(s) => return self.push_scale(s, fr),
            W::Dozen => {
                let c = if self.cur == 0.0 { 1.0 } else { self.cur };
                self.cur = c * 12.0;
                self.last = L::Hundred; // closes the number (caller stops)
            }
        }
        true
    }
    /// "cent", "hundred": after nothing, a scale, or a small number it multiplies.
    fn push_hundred(&mut self, fr: bool) -> bool {
        use Last as L;
        let seg = self.cur;
        let ok = match self.last {
            L::Start => true,
            L::Unit(v) => v >= 1 && seg < 10.0,
            L::Teen(_) => !fr && seg < 20.0,
            L::Scale => true,
            _ => false,
        };
        if !ok {
            return false;
        }
        self.cur = if self.last == L::Start || self.last == L::Scale { 100.0 } else { seg * 100.0 };
        self.last = L::Hundred;
        true
    }

    /// "mille", "thousand", "million"…: closes the segment read so far.
    fn push_scale(&mut self, s: f64, fr: bool) -> bool {
        use Last as L;
        // "three thousand millions": a larger scale multiplies what was read
        if s >= self.last_scale && self.last == L::Scale && self.cur == 0.0 {
            self.total *= s;
            self.last_scale = s;
            return true;
        }
        if s >= self.last_scale {
            return false;
        }
        if self.last == L::Start && self.cur == 0.0 && !(fr && s == 1e3) {
            return false;
        }
        let c = if self.cur == 0.0 { 1.0 } else { self.cur };
        self.total += c * s;
        self.cur = 0.0;
        self.last = L::Scale;
        self.last_scale = s;
        true
    }

    fn value(&self) -> f64 {
        self.total + self.cur
    }
}

fn is_article(lang: Lang, w: &str) -> bool {
    match lang {
        Lang::Fr => w == "un" || w == "une",
        Lang::En => w == "a" || w == "an",
    }
}

/// 1 when token `j` is a hyphen between two number words ("vingt-deux", "twenty-two"), else 0.
fn hyphen_between(t: &Toks, j: usize, lang: Lang) -> usize {
    let joins = |nk: &str| lex(lang, nk).is_some() || ordinal_base(lang, nk).is_some() || nk == "et";
    usize::from(t.is(j, "-") && t.adj(j) && t.adj(j + 1) && t.is_word(j + 1) && joins(t.key(j + 1)))
}

/// After a connector ("et", "and") at token `j`: the token the number goes on at, when what follows
/// may join what came before ("vingt et un", "vingt-et-un", "one hundred and five").
fn connector_next(t: &Toks, j: usize, lang: Lang, last: Last) -> Option<usize> {
    // "vingt-et-un": a hyphen may follow the connector
    let hy = usize::from(t.is(j + 1, "-") && t.adj(j + 1) && t.adj(j + 2));
    let nk = t.key(j + 1 + hy);
    let nw = lex(lang, nk).or_else(|| ordinal_base(lang, nk).and_then(|b| lex(lang, &b)));
    let ok = match (lang, last, nw) {
        (Lang::Fr, Last::Tens(tv), Some(W::Unit(1) | W::Teen(11))) => (20..=60).contains(&tv),
        (Lang::En, Last::Hundred | Last::Scale, Some(W::Unit(_) | W::Teen(_) | W::Tens(_))) => true,
        _ => false,
    };
    ok.then_some(j + 1 + hy)
}

/// Spelled-out number from token `i`. `article_one`: a lone article ("un", "une", "a", "an")
/// counts as 1 (used before units: "un euro", "an hour"); otherwise it is not a number.
fn spelled(t: &Toks, i: usize, lang: Lang, article_one: bool) -> Option<NumMatch> {
    let mut acc = Acc { total: 0.0, cur: 0.0, last: Last::Start, last_scale: f64::INFINITY };
    let mut j = i;
    let mut end = None;
    let mut ordinal = false;
    let mut words = 0;
    let mut only_article = false;
    // English "a hundred", "a dozen"; "a"/"an" alone is an article.
    if lang == Lang::En && t.any(i, &["a", "an"]) {
        if !matches!(lex(lang, t.key(i + 1)), Some(W::Hundred | W::Scale(_) | W::Dozen)) {
            return article_one.then_some(NumMatch { end: i + 1, value: 1.0, spelled: true, ordinal: false });
        }
        j = i + 1;
        acc.cur = 1.0; // "a million" = one million
    }
    loop {
        if !t.is_word(j) {
            break;
        }
        let k = t.key(j);
        // connectors: "et" (fr: vingt et un, soixante et onze), "and" (en: one hundred and five)
        if words > 0 && (k == "et" || k == "and") {
            let Some(next) = connector_next(t, j, lang, acc.last) else { break };
            j = next;
            continue;
        }
        if let Some(w) = lex(lang, k) {
            if words > 0 && acc.last == Last::Unit(0) {
                break;
            }
            if !acc.push(lang, w) {
                break;
            }
            words += 1;
            only_article = words == 1 && is_article(lang, k);
            end = Some(j + 1);
            j += 1;
            if w == W::Dozen || acc.last == Last::Unit(0) {
                // "a dozen of"
                if w == W::Dozen && lang == Lang::En && t.is(j, "of") && words == 1 {
                    end = Some(j + 1);
                }
                break;
            }
        } else if let Some((tens, unit, ord)) = glued_tens(lang, k).filter(|_| matches!(acc.last, Last::Start | Last::Hundred | Last::Scale)) {
            // "twentyfifth", "thirtyone": a tens word glued to its unit
            if !(acc.push(lang, W::Tens(tens)) && acc.push(lang, W::Unit(unit))) {
                break;
            }
            words += 2;
            end = Some(j + 1);
            j += 1;
            if ord {
                ordinal = true;
                break;
            }
            continue;
        } else if let Some(b) = ordinal_base(lang, k) {
            if ordinal_word(&mut acc, lang, k, &b, words)? {
                words += 1;
                ordinal = true;
                end = Some(j + 1);
            }
            break;
        } else {
            break;
        }
        j += hyphen_between(t, j, lang);
    }
    let end = end?;
    if only_article && !article_one && !ordinal {
        return None;
    }
    // a lone "douzaine" needs its article/number: "une douzaine"
    if (t.key(end - 1).starts_with("douzaine") || t.key(end - 1).starts_with("dozen")) && words == 1 && end == i + 1 {
        return None;
    }
    Some(spelled_tail(t, lang, &acc, NumMatch { end, value: acc.value(), spelled: true, ordinal }))
}

/// An ordinal word ending a spelled number (its base `b`): whether it fits what was read. The first
/// word alone ("premier", "second", "first") is fine; in compounds the base must fit; "unième" alone
/// is no ordinal. None when the base is no number word.
fn ordinal_word(acc: &mut Acc, lang: Lang, k: &str, b: &str, words: usize) -> Option<bool> {
    let w = lex(lang, b)?;
    if lang == Lang::Fr && b == "un" && words == 0 && !k.starts_with("premi") {
        return Some(false);
    }
    Some(acc.push(lang, w))
}

/// A spelled cardinal's decimal part ("trois virgule cinq") and a scale after it ("two point two
/// million").
fn spelled_tail(t: &Toks, lang: Lang, acc: &Acc, mut m: NumMatch) -> NumMatch {
    if !m.ordinal {
        decimal_tail(t, &mut m, lang);
        if m.value.fract() != 0.0 && acc.last_scale.is_infinite() {
            if let Some(W::Scale(s)) = lex(lang, t.key(m.end)) {
                m.value *= s;
                m.end += 1;
            }
        }
    }
    m
}

/// "trois virgule cinq", "three point five", "3 virgule 5".
fn decimal_tail(t: &Toks, m: &mut NumMatch, lang: Lang) {
    let sep = if lang == Lang::Fr { "virgule" } else { "point" };
    if m.value.fract() != 0.0 || !t.is(m.end, sep) {
        return;
    }
    // (fraction digits as a number, their count, end, scale after them)
    let f = if let Some((v, n)) = t.int(m.end + 1) {
        Some((v as f64, n as i32, m.end + 2, 1.0))
    } else if let Some(fm) = spelled(t, m.end + 1, lang, false) {
        // "two point two million": the scale applies to the whole decimal
        let scale = match lex(lang, t.key(fm.end - 1)) {
            Some(W::Scale(s)) if fm.end - 1 > m.end + 1 && fm.value % s == 0.0 => s,
            _ => 1.0,
        };
        let v = fm.value / scale;
        if fm.ordinal || v.fract() != 0.0 {
            None
        } else {
            let n = if v == 0.0 { 1 } else { (v.log10().floor() as i32) + 1 };
            Some((v, n, fm.end, scale))
        }
    } else {
        None
    };
    if let Some((v, n, end, scale)) = f {
        let x: f64 = format!("{}.{:0width$}", m.value as i64, v as i64, width = n as usize).parse().unwrap_or(m.value);
        m.value = x * scale;
        m.end = end;
    }
}

const FR_ORD_SUFFIX: &[&str] = &["er", "re", "ere", "e", "eme", "emes", "es", "ers", "res", "nd", "nde"];
const EN_ORD_SUFFIX: &[&str] = &["st", "nd", "rd", "th"];

/// Number (cardinal or ordinal) starting at token `i`.
pub(crate) fn number_at(t: &Toks, i: usize, lang: Lang, article_one: bool) -> Option<NumMatch> {
    let slot = usize::from(article_one);
    if let Some(m) = t.num_memo.borrow().get(i).and_then(|x| x[slot]) {
        return m.map(|(end, value, spelled, ordinal)| NumMatch { end, value, spelled, ordinal });
    }
    let m = number_at_uncached(t, i, lang, article_one);
    if let Some(x) = t.num_memo.borrow_mut().get_mut(i) {
        x[slot] = Some(m.map(|m| (m.end, m.value, m.spelled, m.ordinal)));
    }
    m
}

fn number_at_uncached(t: &Toks, i: usize, lang: Lang, article_one: bool) -> Option<NumMatch> {
    let tok = t.t.get(i)?;
    match tok.kind {
        Kind::Num => {
            // digit ordinal: 1er, 2e, 3ème, 1st, 3rd
            if tok.plain && t.is_word(i + 1) && t.adj(i + 1) {
                let sfx = if lang == Lang::Fr { FR_ORD_SUFFIX } else { EN_ORD_SUFFIX };
                if sfx.contains(&t.key(i + 1)) {
                    return Some(NumMatch { end: i + 2, value: tok.val, spelled: false, ordinal: true });
                }
            }
            let mut m = NumMatch { end: i + 1, value: tok.val, spelled: false, ordinal: false };
            if let Some(f) = fraction(t, i) {
                return Some(f);
            }
            decimal_tail(t, &mut m, lang);
            digit_multiplier(t, &mut m, lang);
            Some(m)
        }
        Kind::Punct => {
            // sign: "-5", "+3" (not inside "2026-04-15" or "06-12"); "- 5" after no number
            if let Some(m) = leading_point(t, i, lang) {
                return Some(m);
            }
            let spaced_ok = !t.adj(i + 1) && (i == 0 || !t.is_num(i - 1) && t.is_word(i - 1) && tok.sp);
            let num_next = t.is_num(i + 1) || t.is(i + 1, dec_mark(lang)) && t.adj(i + 1) && t.adj(i + 2) && t.is_num(i + 2);
            if (tok.key == "-" || tok.key == "+") && num_next && (t.adj(i + 1) || spaced_ok) {
                let prev_ok = i == 0 || tok.sp || t.kind(i - 1) == Some(Kind::Punct) && !t.is(i - 1, "-");
                if prev_ok {
                    let m = number_at(t, i + 1, lang, false)?;
                    if m.ordinal {
                        return None;
                    }
                    let sign = if tok.key == "-" { -1.0 } else { 1.0 };
                    return Some(NumMatch { end: m.end, value: sign * m.value, spelled: false, ordinal: false });
                }
            }
            None
        }
        Kind::Word if lang == Lang::En && t.is(i, "point") && t.is_num(i + 1) && t.t[i + 1].plain && !t.is(i + 2, ".") => {
            // "point 77" = 0.77
            let mut m = NumMatch { end: i + 2, value: format!("0.{}", t.key(i + 1)).parse().ok()?, spelled: true, ordinal: false };
            digit_multiplier(t, &mut m, lang);
            Some(m)
        }
        Kind::Word => negative_word(t, i, lang).or_else(|| vague(t, i, lang)).or_else(|| spelled(t, i, lang, article_one)),
    }
}

fn dec_mark(lang: Lang) -> &'static str {
    if lang == Lang::Fr {
        ","
    } else {
        "."
    }
}

/// A decimal without its leading zero: ".77", ",5", ".0012G" (the mark not glued to a word or a
/// number before it: "v.77", "1.2.77" are not).
fn leading_point(t: &Toks, i: usize, lang: Lang) -> Option<NumMatch> {
    let tok = t.t.get(i)?;
    if tok.key != dec_mark(lang) || !t.adj(i + 1) || !t.is_num(i + 1) || !t.t[i + 1].plain {
        return None;
    }
    if i > 0 && !tok.sp && !t.any(i - 1, &["-", "+"]) {
        return None;
    }
    if t.any(i + 2, &[".", ","]) && t.adj(i + 2) && t.is_num(i + 3) {
        return None;
    }
    let mut m = NumMatch { end: i + 2, value: format!("0.{}", t.key(i + 1)).parse().ok()?, spelled: false, ordinal: false };
    digit_multiplier(t, &mut m, lang);
    Some(m)
}

/// English "a couple (of)", "a pair (of)" → 2, "a few", "few" → 3 (as Duckling).
fn vague(t: &Toks, i: usize, lang: Lang) -> Option<NumMatch> {
    if lang != Lang::En {
        return None;
    }
    let (e, v) = [("a couple of", 2.0), ("a couple", 2.0), ("a pair of", 2.0), ("a pair", 2.0), ("a few", 3.0), ("few", 3.0)]
        .iter()
        .find_map(|(p, v)| Some((t.phrase(i, p)?, *v)))?;
    Some(NumMatch { end: e, value: v, spelled: true, ordinal: false })
}

/// "minus 5", "negative five hundred", "moins 1200" (French "moins" only before digits: "midi
/// moins cinq" is a time).
fn negative_word(t: &Toks, i: usize, lang: Lang) -> Option<NumMatch> {
    let ok = match lang {
        Lang::En => t.any(i, &["minus", "negative"]),
        Lang::Fr => t.is(i, "moins") && t.is_num(i + 1),
    };
    // one sign only: no recursion on "minus minus minus …"
    if !ok || !(t.is_num(i + 1) || t.is_word(i + 1)) || t.any(i + 1, &["minus", "negative", "moins"]) {
        return None;
    }
    let m = number_at(t, i + 1, lang, false).filter(|m| !m.ordinal && m.value > 0.0)?;
    Some(NumMatch { end: m.end, value: -m.value, spelled: m.spelled, ordinal: false })
}

/// A fraction of two plain integers written with a slash and no spaces: "1/5", "3/4", "1/2".
fn fraction(t: &Toks, i: usize) -> Option<NumMatch> {
    let (a, _) = t.int(i)?;
    if !(t.is(i + 1, "/") && t.adj(i + 1) && t.adj(i + 2)) {
        return None;
    }
    let (b, _) = t.int(i + 2)?;
    // "1/5/2027" is a date, not a fraction
    if b == 0 || t.is(i + 3, "/") || t.is(i + 3, "-") {
        return None;
    }
    Some(NumMatch { end: i + 3, value: a as f64 / b as f64, spelled: false, ordinal: false })
}

/// After digits: "1.5 million", "3 milliards", "2 dozens", and glued suffixes "100k", "10K",
/// "3M", "1.2M", "5G" (upper-case M and G only: "3m" is three metres or minutes).
fn digit_multiplier(t: &Toks, m: &mut NumMatch, lang: Lang) {
    let j = m.end;
    if !t.is_word(j) {
        return;
    }
    let glued = t.adj(j);
    let f = match lex(lang, t.key(j)) {
        // "cr", "kr" only after spelled numbers: "50 kr" is kroner
        Some(W::Scale(s)) if !t.any(j, &["cr", "kr"]) => s,
        Some(W::Dozen) => 12.0,
        _ if glued && t.is(j, "k") => 1e3,
        _ if glued && t.upper(j) && t.is(j, "m") => 1e6,
        _ if glued && t.upper(j) && t.is(j, "g") => 1e9,
        _ => return,
    };
    m.value *= f;
    m.end += 1;
}

/// Cardinal quantity (no ordinal) at `i`, articles counting as one when `article_one`.
pub(crate) fn quantity_at(t: &Toks, i: usize, lang: Lang, article_one: bool) -> Option<NumMatch> {
    number_at(t, i, lang, article_one).filter(|m| !m.ordinal)
}
