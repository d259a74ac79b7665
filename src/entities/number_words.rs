//! The words of spelled-out numbers in French and English: each word's role (unit, teen, tens,
//! hundred, scale, dozen), the base of an ordinal ("vingt-et-unième", "twenty-first") and tens
//! glued to their unit ("twentyfifth"); `numbers` reads sequences of them.

use super::Lang;

#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum W {
    Unit(u8),
    Teen(u8),
    Tens(u8),
    Hundred,
    Scale(f64),
    Dozen,
}

pub(crate) fn lex(lang: Lang, w: &str) -> Option<W> {
    use W::*;
    Some(match lang {
        Lang::Fr => match w {
            "zero" => Unit(0),
            "un" | "une" => Unit(1),
            "deux" => Unit(2),
            "trois" => Unit(3),
            "quatre" => Unit(4),
            "cinq" => Unit(5),
            "six" => Unit(6),
            "sept" => Unit(7),
            "huit" => Unit(8),
            "neuf" => Unit(9),
            "dix" => Teen(10),
            "onze" => Teen(11),
            "douze" => Teen(12),
            "treize" => Teen(13),
            "quatorze" => Teen(14),
            "quinze" => Teen(15),
            "seize" => Teen(16),
            "vingt" | "vingts" => Tens(20),
            "trente" => Tens(30),
            "quarante" => Tens(40),
            "cinquante" => Tens(50),
            "soixante" => Tens(60),
            "septante" => Tens(70),
            "huitante" | "octante" => Tens(80),
            "nonante" => Tens(90),
            "cent" | "cents" => Hundred,
            "mille" | "mil" => Scale(1e3),
            "million" | "millions" => Scale(1e6),
            "milliard" | "milliards" => Scale(1e9),
            "douzaine" | "douzaines" => Dozen,
            _ => return None,
        },
        Lang::En => match w {
            "zero" | "naught" | "nought" => Unit(0),
            "one" => Unit(1),
            "two" => Unit(2),
            "three" => Unit(3),
            "four" => Unit(4),
            "five" => Unit(5),
            "six" => Unit(6),
            "seven" => Unit(7),
            "eight" => Unit(8),
            "nine" => Unit(9),
            "ten" => Teen(10),
            "eleven" => Teen(11),
            "twelve" => Teen(12),
            "thirteen" => Teen(13),
            "fourteen" => Teen(14),
            "fifteen" => Teen(15),
            "sixteen" => Teen(16),
            "seventeen" => Teen(17),
            "eighteen" => Teen(18),
            "nineteen" => Teen(19),
            "twenty" => Tens(20),
            "thirty" => Tens(30),
            "forty" => Tens(40),
            "fifty" => Tens(50),
            "sixty" => Tens(60),
            "seventy" => Tens(70),
            "eighty" => Tens(80),
            "ninety" => Tens(90),
            "hundred" | "hundreds" => Hundred,
            "thousand" | "thousands" => Scale(1e3),
            "million" | "millions" => Scale(1e6),
            "billion" | "billions" => Scale(1e9),
            // Indian English: "5 lakh rupees", "three crore twelve lakh ..."
            "lakh" | "lakhs" | "lac" | "lacs" | "lkh" | "lkhs" => Scale(1e5),
            "crore" | "crores" | "krore" | "krores" | "koti" | "cr" | "kr" => Scale(1e7),
            "dozen" | "dozens" => Dozen,
            _ => return None,
        },
    })
}

/// Base cardinal word of an ordinal word ("troisième" → "trois", "twentieth" → "twenty").
pub(crate) fn ordinal_base(lang: Lang, w: &str) -> Option<String> {
    match lang {
        Lang::Fr => {
            match w {
                "premier" | "premiere" | "premiers" | "premieres" => return Some("un".into()),
                "second" | "seconde" => return Some("deux".into()),
                _ => {}
            }
            let stem = w.strip_suffix("iemes").or_else(|| w.strip_suffix("ieme"))?;
            match stem {
                "cinqu" => return Some("cinq".into()),
                "neuv" => return Some("neuf".into()),
                "un" => return Some("un".into()),
                _ => {}
            }
            if lex(lang, stem).is_some() {
                return Some(stem.into());
            }
            let e = format!("{stem}e");
            lex(lang, &e).map(|_| e)
        }
        Lang::En => {
            let base = match w {
                "first" => "one",
                "second" => "two",
                "third" => "three",
                "fifth" => "five",
                "eighth" => "eight",
                "ninth" => "nine",
                "twelfth" => "twelve",
                _ => {
                    if let Some(s) = w.strip_suffix("ieth") {
                        let b = format!("{s}y");
                        return lex(lang, &b).map(|_| b);
                    }
                    let s = w.strip_suffix("th")?;
                    return lex(lang, s).map(|_| s.to_string());
                }
            };
            Some(base.into())
        }
    }
}

/// An English tens word glued to a unit, cardinal or ordinal ("twentyfive", "thirtyfirst"):
/// (tens, unit, ordinal).
pub(crate) fn glued_tens(lang: Lang, w: &str) -> Option<(u8, u8, bool)> {
    if lang != Lang::En || w.len() < 8 {
        return None;
    }
    const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    let (n, rest) = TENS.iter().enumerate().find_map(|(n, p)| w.strip_prefix(p).map(|r| (n, r)))?;
    let tens = 20 + 10 * n as u8;
    if let Some(W::Unit(u @ 1..=9)) = lex(lang, rest) {
        return Some((tens, u, false));
    }
    match ordinal_base(lang, rest).and_then(|b| lex(lang, &b)) {
        Some(W::Unit(u @ 1..=9)) => Some((tens, u, true)),
        _ => None,
    }
}
