//! Amounts of money, percentages, temperatures and durations.

use super::grain::Grain;
use super::numbers::{quantity_at, NumMatch};
use super::text::{Kind, Toks};
use super::{num_json, Lang};
use serde_json::{json, Value};

// ---------------------------------------------------------------- money

/// Currency named at token `j`: (end, ISO code, is-a-cents-unit).
/// Currency names of several words, by language.
fn multi_word_currencies(lang: Lang) -> &'static [(&'static str, &'static str)] {
    match lang {
        Lang::Fr => &[
            ("dollars canadiens", "CAD"),
            ("dollar canadien", "CAD"),
            ("dollars americains", "USD"),
            ("dollar americain", "USD"),
            ("dollars us", "USD"),
            ("livres sterling", "GBP"),
            ("livre sterling", "GBP"),
            ("francs suisses", "CHF"),
            ("franc suisse", "CHF"),
        ],
        Lang::En => &[
            ("canadian dollars", "CAD"),
            ("canadian dollar", "CAD"),
            ("us dollars", "USD"),
            ("us dollar", "USD"),
            ("american dollars", "USD"),
            ("pounds sterling", "GBP"),
            ("swiss francs", "CHF"),
            ("swiss franc", "CHF"),
            ("egyptian pounds", "EGP"),
            ("egyptian pound", "EGP"),
            ("lebanese pounds", "LBP"),
            ("lebanese pound", "LBP"),
            ("kuwaiti dinars", "KWD"),
            ("kuwaiti dinar", "KWD"),
            ("qatari riyals", "QAR"),
            ("qatari riyal", "QAR"),
            ("saudi riyals", "SAR"),
            ("saudi riyal", "SAR"),
            ("malaysian ringgits", "MYR"),
            ("malaysian ringgit", "MYR"),
            ("malaysia ringgits", "MYR"),
            ("malaysia ringgit", "MYR"),
            ("genihat masriya", "EGP"),
            ("l . e .", "EGP"),
            ("l . e", "EGP"),
        ],
    }
}

fn currency_at(t: &Toks, j: usize, lang: Lang) -> Option<(usize, &'static str, bool)> {
    for (p, c) in multi_word_currencies(lang) {
        if let Some(e) = t.phrase(j, p) {
            return Some((e, c, false));
        }
    }
    let k = t.key(j);
    if let Some(code) = iso_code(k) {
        return Some((j + 1, code, false));
    }
    let code = match k {
        // "3.14US$", "20 €ur"
        "us" if t.is(j + 1, "$") && t.adj(j + 1) => return Some((j + 2, "USD", false)),
        "€" if t.is(j + 1, "ur") && t.adj(j + 1) => return Some((j + 2, "EUR", false)),
        "€" | "euro" | "euros" => "EUR",
        "$" | "dollar" | "dollars" => "USD",
        "£" => "GBP",
        "¥" | "yen" | "yens" => "JPY",
        "yuan" | "yuans" | "renminbi" => "CNY",
        "rupee" | "rupees" | "roupie" | "roupies" | "rs" => "INR",
        "ringgit" | "ringgits" | "rm" => "MYR",
        "egyptianpound" | "egyptianpounds" | "geneh" | "le" if lang == Lang::En => "EGP",
        "saudiriyal" | "saudiriyals" if lang == Lang::En => "SAR",
        "shekel" | "shekels" | "sheqel" | "sheqels" => "ILS",
        "tugrik" | "tugriks" => "MNT",
        "rouble" | "roubles" | "ruble" | "rubles" => "RUB",
        "won" if lang == Lang::Fr => "KRW",
        "zloty" | "zlotys" => "PLN",
        // the name of several currencies: no ISO code
        "dinar" | "dinars" | "riyal" | "riyals" | "rial" | "rials" => "",
        "balle" | "balles" if lang == Lang::Fr => "",
        "buck" | "bucks" if lang == Lang::En => "USD",
        "pound" | "pounds" => "GBP",
        "centime" | "centimes" if lang == Lang::Fr => return Some((j + 1, "EUR", true)),
        "cent" | "cents" | "penny" | "pennies" | "pence" | "¢" | "sen" | "sens" | "kopiyka" | "kopiykas" if lang == Lang::En => {
            return Some((j + 1, "USD", true))
        }
        // "43c", "10c": glued only ("10 c" may be Celsius)
        "c" if lang == Lang::En && t.adj(j) && j > 0 && t.is_num(j - 1) => return Some((j + 1, "USD", true)),
        _ => return None,
    };
    Some((j + 1, code, false))
}

/// ISO 4217 codes of the world's common currencies, written as codes ("EUR", "usd"). Codes that
/// are also common words ("try", "mad", "all") are left out.
fn iso_code(k: &str) -> Option<&'static str> {
    const CODES: [&str; 48] = [
        "EUR", "USD", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "CNY", "INR", "KRW", "SGD", "HKD", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RUB",
        "BRL", "MXN", "ZAR", "AED", "SAR", "QAR", "KWD", "EGP", "LBP", "ILS", "MYR", "THB", "IDR", "PHP", "VND", "UAH", "BGN", "RON", "TND", "DZD",
        "XOF", "XAF", "MNT", "JOD", "BHD", "OMR", "NGN", "KES",
    ];
    if k.len() != 3 || !k.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    CODES.iter().copied().find(|c| c.eq_ignore_ascii_case(k))
}

fn is_unit_word(t: &Toks, j: usize, lang: Lang) -> bool {
    currency_at(t, j, lang).is_some()
        || duration_unit(t, j, lang).is_some()
        || t.any(j, &["%", "°", "degre", "degres", "degree", "degrees", "pour", "percent", "per", "fois", "times"])
}

/// An amount; an empty code (dinars, riyals, "balles") has no currency.
fn money(amount: f64, code: &str) -> Value {
    let currency = if code.is_empty() { Value::Null } else { Value::from(code) };
    json!({"amount": num_json(amount), "currency": currency})
}

/// A currency written before its amount as a code or short name: "EUR 20", "USD3.14", "Rs. 20",
/// "RM42", "US$ 3.14". Returns (end of the currency, code).
fn code_before(t: &Toks, i: usize) -> Option<(usize, &'static str)> {
    if t.is(i, "us") && t.is(i + 1, "$") && t.adj(i + 1) {
        return Some((i + 2, "USD"));
    }
    let code = iso_code(t.key(i)).or(match t.key(i) {
        "rs" => Some("INR"),
        "rm" => Some("MYR"),
        "ringgit" => Some("MYR"),
        _ => None,
    })?;
    let e = if t.is(i + 1, ".") && t.adj(i + 1) { i + 2 } else { i + 1 };
    Some((e, code))
}

/// Money at token `i`, with a leading "around", "exactly", "environ", "à peu près"… (part of
/// the span, as in Duckling): (end, value).
pub(crate) fn money_at(t: &Toks, i: usize, lang: Lang) -> Option<(usize, Value)> {
    let hedges: &[&str] = match lang {
        Lang::En => &["approximately", "roughly", "around", "about", "exactly", "precisely", "nearly", "almost"],
        Lang::Fr => &["a peu pres", "environ", "exactement", "precisement", "quasi", "presque", "pres de"],
    };
    if let Some(j) = t.phrases(i, hedges) {
        if let Some(r) = money_core(t, j, lang) {
            return Some(r);
        }
    }
    money_core(t, i, lang)
}

fn money_core(t: &Toks, i: usize, lang: Lang) -> Option<(usize, Value)> {
    // a currency's full name first: "malaysian ringgit 42", "dollars canadiens 20"
    if t.is_word(i) && t.is_word(i + 1) && (t.is_num(i + 2) || t.is_num(i + 3)) {
        if let Some((e, code, false)) = currency_at(t, i, lang).filter(|c| c.0 >= i + 2) {
            if t.is_num(e) {
                let q = quantity_at(t, e, lang, false)?;
                return Some(cents_tail(t, q.end, lang, q.value, code));
            }
        }
    }
    // code first: "EUR 20", "USD3.14", "Rs. 20"
    if let Some((e, code)) = code_before(t, i) {
        if t.is_num(e) {
            let q = quantity_at(t, e, lang, false)?;
            return Some(cents_tail(t, q.end, lang, q.value, code));
        }
    }
    // symbol first: "$3.99", "€15", "£5", "$20 and 43c"
    if t.kind(i) == Some(Kind::Punct) {
        if let Some((e, code, false)) = currency_at(t, i, lang) {
            if t.is_num(e) {
                let q = quantity_at(t, e, lang, false)?;
                return Some(cents_tail(t, q.end, lang, q.value, code));
            }
        }
        return None;
    }
    let q = quantity_at(t, i, lang, true)?;
    let big = q.end > 0 && matches!(t.key(q.end - 1), "million" | "millions" | "milliard" | "milliards" | "billion" | "billions");
    let (e, code, cents_unit) = match currency_at(t, q.end, lang) {
        Some(c) => c,
        // "1,5 million d'euros", "a million of dollars"
        None if big => currency_at(t, t.phrases(q.end, &["d '", "de", "of"])?, lang)?,
        None => return None,
    };
    if cents_unit {
        return Some((e, money(q.value / 100.0, code)));
    }
    Some(cents_tail(t, e, lang, q.value, code))
}

/// Cents after the main unit ending at `e`: "23 euros 50", "vingt-trois euros cinquante", "2
/// euros et 30 centimes", "$20 and 43c", "3 GBP 1 pence", "twenty dollar and 43" (a bare number
/// after "and" only at the end of the text).
fn cents_tail(t: &Toks, e: usize, lang: Lang, amount: f64, code: &'static str) -> (usize, Value) {
    let mut j = e;
    let and = t.any(j, &["et", "and"]);
    if and {
        j += 1;
    }
    if let Some(c) = quantity_at(t, j, lang, false) {
        let small = c.value.fract() == 0.0 && c.value < 100.0;
        if small {
            if let Some((ce, _, true)) = currency_at(t, c.end, lang) {
                return (ce, money(amount + c.value / 100.0, code));
            }
            // "1 USD 23 cents" in French too (there "cents" also means hundreds)
            if t.any(c.end, &["cent", "cents"]) {
                return (c.end + 1, money(amount + c.value / 100.0, code));
            }
            let digits_ok = !c.spelled && t.key(j).len() == 2 && t.int(j).is_some();
            let at_end = and && lang == Lang::En && c.end >= t.len();
            if (!and && (digits_ok || c.spelled) || at_end) && !is_unit_word(t, c.end, lang) {
                return (c.end, money(amount + c.value / 100.0, code));
            }
        }
    }
    (e, money(amount, code))
}

// ---------------------------------------------------------------- percentage

pub(crate) fn percentage_at(t: &Toks, i: usize, lang: Lang) -> Option<(usize, Value)> {
    let q = quantity_at(t, i, lang, false)?;
    let e = if t.is(q.end, "%") { q.end + 1 } else { t.phrases(q.end, &["pour cent", "pourcent", "pourcents", "percent", "per cent", "pct"])? };
    Some((e, num_json(q.value)))
}

// ---------------------------------------------------------------- temperature

pub(crate) fn temperature_at(t: &Toks, i: usize, lang: Lang) -> Option<(usize, Value)> {
    let (neg, start) = if t.any(i, &["moins", "minus"]) { (true, i + 1) } else { (false, i) };
    let q = quantity_at(t, start, lang, false)?;
    let mut v = if neg { -q.value } else { q.value };
    if neg && q.value < 0.0 {
        v = q.value;
    }
    let j = q.end;
    let (e, unit) = if t.is(j, "°") || t.is(j, "º") {
        scale_at(t, j + 1, true)
    } else if t.any(j, &["degre", "degres", "degree", "degrees", "deg"]) {
        scale_at(t, j + 1, false)
    } else if t.any(j, &["celsius", "centigrade", "centigrades", "fahrenheit"]) {
        // "thirty seven celsius": the scale alone
        scale_at(t, j, false)
    } else if below_zero(t, j).is_some() {
        (j, Value::Null)
    } else {
        return None;
    };
    // "2 degrees below zero", "10 degrés en dessous de zéro", "2 below zero"
    let (e, v) = match below_zero(t, e) {
        Some(end) if v > 0.0 => (end, -v),
        _ => (e, v),
    };
    Some((e, json!({"value": num_json(v), "unit": unit})))
}

fn below_zero(t: &Toks, j: usize) -> Option<usize> {
    t.phrases(j, &["below zero", "en dessous de zero", "au dessous de zero", "sous zero"])
}

fn scale_at(t: &Toks, j: usize, after_sign: bool) -> (usize, Value) {
    let k = t.key(j);
    let adj_ok = !after_sign || t.adj(j) || k.len() > 1;
    match k {
        "celsius" | "centigrade" | "centigrades" => (j + 1, json!("celsius")),
        "fahrenheit" => (j + 1, json!("fahrenheit")),
        "c" if adj_ok => (j + 1, json!("celsius")),
        "f" if adj_ok => (j + 1, json!("fahrenheit")),
        _ => (j, Value::Null),
    }
}

// ---------------------------------------------------------------- duration

pub(crate) fn duration_unit(t: &Toks, j: usize, lang: Lang) -> Option<Grain> {
    let k = t.key(j);
    Some(match (lang, k) {
        (_, "h") => Grain::Hour,
        // 2' (minutes), 1" (seconds), glued to digits; English "2m", "2 m" (lower-case: "3M" is millions)
        (_, "'" | "\"") if !(t.adj(j) && t.is_num(j.wrapping_sub(1))) || t.adj(j + 1) && t.is_word(j + 1) => return None,
        (_, "'") => Grain::Minute,
        (_, "\"") => Grain::Second,
        (Lang::En, "m") if !t.upper(j) && t.is_num(j.wrapping_sub(1)) => Grain::Minute,
        (_, "min" | "mins" | "mn") => Grain::Minute,
        (_, "sec" | "secs") => Grain::Second,
        (Lang::Fr, "seconde" | "secondes") => Grain::Second,
        (Lang::Fr, "minute" | "minutes") => Grain::Minute,
        (Lang::Fr, "heure" | "heures") => Grain::Hour,
        (Lang::Fr, "jour" | "jours" | "journee" | "journees") => Grain::Day,
        (Lang::Fr, "semaine" | "semaines") => Grain::Week,
        (Lang::Fr, "mois") => Grain::Month,
        (Lang::Fr, "trimestre" | "trimestres") => Grain::Quarter,
        (Lang::Fr, "an" | "ans" | "annee" | "annees") => Grain::Year,
        (Lang::En, "second" | "seconds") => Grain::Second,
        (Lang::En, "minute" | "minutes") => Grain::Minute,
        (Lang::En, "hour" | "hours" | "hr" | "hrs") => Grain::Hour,
        (Lang::En, "day" | "days") => Grain::Day,
        (Lang::En, "week" | "weeks") => Grain::Week,
        (Lang::En, "month" | "months") => Grain::Month,
        // plural only: "a quarter" is a fraction, "quarter past" a time
        (Lang::En, "quarters") => Grain::Quarter,
        (Lang::En, "year" | "years") => Grain::Year,
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Dur {
    pub value: f64,
    pub unit: Grain,
}

impl Dur {
    pub fn seconds(&self) -> f64 {
        self.value * self.unit.seconds()
    }
    pub fn to_json(self) -> Value {
        let secs = self.seconds();
        let iso = match self.unit {
            Grain::Second | Grain::Minute | Grain::Hour => {
                let s = secs.round() as i64;
                let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
                let mut o = String::from("PT");
                if h != 0 {
                    o += &format!("{h}H");
                }
                if m != 0 {
                    o += &format!("{m}M");
                }
                if sec != 0 || o == "PT" {
                    o += &format!("{sec}S");
                }
                o
            }
            Grain::Day => format!("P{}D", fmt_num(self.value)),
            Grain::Week => format!("P{}W", fmt_num(self.value)),
            Grain::Month => format!("P{}M", fmt_num(self.value)),
            Grain::Quarter => format!("P{}M", fmt_num(self.value * 3.0)),
            Grain::Year => format!("P{}Y", fmt_num(self.value)),
        };
        json!({"value": num_json(self.value), "unit": self.unit.name(), "seconds": num_json(secs), "iso": iso})
    }
}

fn fmt_num(v: f64) -> String {
    match num_json(v) {
        Value::Number(n) => n.to_string(),
        _ => v.to_string(),
    }
}

/// Duration at token `i`: (end, duration).
/// A duration at token `i`, compound ones summed and given in their smallest unit: "2 years and
/// 3 months", "1 year, 2 days, 3 hours and 4 seconds", "1 hour thirty", "2 hours ten".
/// The next smaller unit, for "a month and a half" (45 days) and "one hour and half" (90 min).
fn finer(u: Grain) -> Grain {
    match u {
        Grain::Year => Grain::Month,
        Grain::Quarter => Grain::Month,
        Grain::Month | Grain::Week => Grain::Day,
        Grain::Day => Grain::Hour,
        Grain::Hour => Grain::Minute,
        _ => Grain::Second,
    }
}

/// English "2 more minutes", "two extra / additional / less / fewer minutes", "one and a quarter
/// hour", "two and three quarters of hours" (in minutes).
fn duration_en_extra(t: &Toks, i: usize, lang: Lang) -> Option<(usize, Dur)> {
    if lang != Lang::En {
        return None;
    }
    let q = quantity_at(t, i, lang, true)?;
    if t.any(q.end, &["more", "extra", "additional", "less", "fewer"]) {
        let u = duration_unit(t, q.end + 1, lang)?;
        return Some((q.end + 2, Dur { value: q.value, unit: u }));
    }
    let j = t.phrase(q.end, "and")?;
    let (k, quarters) = match t.key(j) {
        "quarter" | "quarters" => (j + 1, 1.0),
        "a" | "one" if t.any(j + 1, &["quarter", "quarters"]) => (j + 2, 1.0),
        "two" if t.any(j + 1, &["quarter", "quarters"]) => (j + 2, 2.0),
        "three" if t.any(j + 1, &["quarter", "quarters"]) => (j + 2, 3.0),
        _ => return None,
    };
    let k = if t.is(k, "of") { k + 1 } else { k };
    if !matches!(t.key(k), "hour" | "hours") {
        return None;
    }
    Some((k + 1, Dur { value: (q.value + quarters / 4.0) * 60.0, unit: Grain::Minute }))
}

pub(crate) fn duration_at(t: &Toks, i: usize, lang: Lang) -> Option<(usize, Dur)> {
    if let Some(r) = duration_en_extra(t, i, lang) {
        return Some(r);
    }
    let (mut e, mut d) = duration_one(t, i, lang)?;
    // "a month and a half", "one hour and half", "un mois et demi"
    if let Some(e2) = t.phrases(e, &["and a half", "and half", "et demi", "et demie"]).filter(|_| d.value.fract() == 0.0) {
        let f = finer(d.unit);
        return Some((e2, Dur { value: (d.value + 0.5) * d.unit.seconds() / f.seconds(), unit: f }));
    }
    loop {
        let mut j = if t.is(e, ",") { e + 1 } else { e };
        if t.any(j, &["and", "et"]) {
            j += 1;
        }
        if let Some((e2, next)) = duration_one(t, j, lang).filter(|(_, n)| n.unit.seconds() < d.unit.seconds() && n.value >= 0.0) {
            d = if d.unit == Grain::Year && next.unit == Grain::Month {
                Dur { value: d.value * 12.0 + next.value, unit: Grain::Month } // "2 years 3 months" = 27 months
            } else {
                Dur { value: (d.seconds() + next.seconds()) / next.unit.seconds(), unit: next.unit }
            };
            e = e2;
            continue;
        }
        // "1 hour thirty", "2 hours and 10": minutes without their unit, at the end
        if d.unit == Grain::Hour && d.value.fract() == 0.0 {
            if let Some(m) = quantity_at(t, j, lang, false) {
                if m.value.fract() == 0.0 && (1.0..60.0).contains(&m.value) && !t.is_word(m.end) && !t.any(m.end, &["%", "°", "€", "$", ":", "/"])
                {
                    d = Dur { value: d.value * 60.0 + m.value, unit: Grain::Minute };
                    e = m.end;
                }
            }
        }
        break;
    }
    Some((e, d))
}

/// Durations said as fixed phrases ("une demi heure", "half an hour"), by language.
fn fixed_durations(lang: Lang) -> &'static [(&'static str, f64, Grain)] {
    match lang {
        Lang::Fr => &[
            ("une demi heure", 30.0, Grain::Minute),
            ("une demie heure", 30.0, Grain::Minute),
            ("une demi journee", 12.0, Grain::Hour),
            ("un quart d heure", 15.0, Grain::Minute),
            ("trois quarts d heure", 45.0, Grain::Minute),
            ("une heure et demie", 90.0, Grain::Minute),
            ("une minute et demie", 90.0, Grain::Second),
        ],
        Lang::En => &[
            ("an hour and a half", 90.0, Grain::Minute),
            ("a minute and a half", 90.0, Grain::Second),
            ("half an hour", 30.0, Grain::Minute),
            ("a half hour", 30.0, Grain::Minute),
            ("half a day", 12.0, Grain::Hour),
            ("a quarter of an hour", 15.0, Grain::Minute),
            ("three quarters of an hour", 45.0, Grain::Minute),
            ("a quarter hour", 15.0, Grain::Minute),
            ("half hour", 30.0, Grain::Minute),
            ("half day", 12.0, Grain::Hour),
        ],
    }
}

fn duration_one(t: &Toks, i: usize, lang: Lang) -> Option<(usize, Dur)> {
    for (p, v, u) in fixed_durations(lang) {
        if let Some(e) = t.phrase(i, p) {
            return Some((e, Dur { value: *v, unit: *u }));
        }
    }
    let q: NumMatch = quantity_at(t, i, lang, true)?;
    if q.value < 0.0 {
        return None;
    }
    // "5 and a half minutes", "deux et demi jours"
    if let Some(e2) = t.phrases(q.end, &["and a half", "and an half", "and half", "et demi", "et demie"]) {
        let unit = duration_unit(t, e2, lang)?;
        let v = q.value + 0.5;
        return Some(match unit.smaller() {
            Some(s) => (e2 + 1, Dur { value: v * unit.seconds() / s.seconds(), unit: s }),
            None => (e2 + 1, Dur { value: v, unit }),
        });
    }
    // "a fortnight", "two fortnights": 14 days each
    if lang == Lang::En && t.any(q.end, &["fortnight", "fortnights"]) {
        return Some((q.end + 1, Dur { value: q.value * 14.0, unit: Grain::Day }));
    }
    let unit = duration_unit(t, q.end, lang)?;
    // "h" and "min" glued to digits or separated by a space only
    let mut e = q.end + 1;
    let mut d = Dur { value: q.value, unit };
    // "et demie" / "and a half"
    if let Some(e2) = t.phrases(e, &["et demie", "et demi", "and a half"]) {
        if let Some(s) = unit.smaller() {
            let f = (unit.seconds() / s.seconds()) * (q.value + 0.5);
            return Some((e2, Dur { value: f, unit: s }));
        }
    }
    // compound: "2 h 30", "1 heure 30 minutes", "2 hours and 30 minutes", "1h30"
    if let Some(s) = unit.smaller() {
        if unit != Grain::Day && q.value.fract() == 0.0 {
            let mut j = e;
            if t.any(j, &["et", "and"]) {
                j += 1;
            }
            if let Some((m, _)) = t.int(j) {
                let has_unit = duration_unit(t, j + 1, lang) == Some(s);
                let glued = j == e && t.adj(j) && unit == Grain::Hour && t.key(q.end) == "h";
                let spaced_bare = j == e && t.key(q.end) == "h" && !is_unit_word(t, j + 1, lang);
                if m < 60 && (has_unit || glued || spaced_bare) && (j == e || has_unit) {
                    let per = unit.seconds() / s.seconds();
                    let v = q.value * per + m as f64;
                    let end = if has_unit { j + 2 } else { j + 1 };
                    e = end;
                    d = Dur { value: v, unit: s };
                }
            }
        }
    }
    Some((e, d))
}
