//! Times of day, their qualifiers and intervals, parts of the day.

use super::*;

impl Cx<'_> {
    // ------------------------------------------------------------ time of day

    pub(super) fn meridiem_at(&self, j: usize) -> Option<(usize, bool)> {
        let t = self.t;
        match t.key(j) {
            "am" => return Some((j + 1, false)),
            "pm" => return Some((j + 1, true)),
            // glued "3:18a", "at 3p", "3p."
            "a" | "p"
                if t.adj(j)
                    && j >= 2
                    && t.is_num(j - 1)
                    && t.any(j - 2, &[":", "at", "@", "from", "to"])
                    && (!t.is_word(j + 1) || t.any(j + 1, &["to", "till", "until"])) =>
            {
                let e = if t.is(j + 1, ".") && t.adj(j + 1) { j + 2 } else { j + 1 };
                return Some((e, t.is(j, "p")));
            }
            _ => {}
        }
        for (p, pm) in [("a m", false), ("p m", true), ("in the am", false), ("in the pm", true)] {
            if let Some(e) = t.phrase(j, p) {
                return Some((e, pm));
            }
        }
        for (p, pm) in [("a . m", false), ("p . m", true)] {
            if let Some(e) = t.phrase(j, p) {
                let e = if t.is(e, ".") && t.adj(e) { e + 1 } else { e };
                return Some((e, pm));
            }
        }
        None
    }

    pub(super) fn qualifier_at(&self, j: usize) -> Option<(usize, Pod)> {
        let ps: &[(&str, u32, u32)] = if self.fr() {
            &[("du matin", 4, 12), ("du mat", 4, 12), ("de l apres midi", 12, 19), ("de l aprem", 12, 19), ("du soir", 18, 24)]
        } else {
            &[("in the morning", 4, 12), ("in the afternoon", 12, 19), ("in the evening", 18, 24), ("at night", 18, 24)]
        };
        ps.iter().find_map(|(p, a, b)| self.t.phrase(j, p).map(|e| (e, Pod { from: *a, to: *b })))
    }

    /// Time of day without prefix: (end, tod, strong). Weak readings ("quinze heures", "15 h 30",
    /// bare "3") need a prefix ("à", "at") or an interval connector.
    /// French minutes after an hour `h` (12 for "midi", 24 for "minuit"): "et quart", "et demie",
    /// "trois quarts", "moins le quart", "moins cinq", "trente", "trois" → (end, hour, minute).
    pub(super) fn fr_minutes(&self, e: usize, h: u32) -> Option<(usize, u32, u32)> {
        let t = self.t;
        if !self.fr() {
            return None;
        }
        for (p, m) in [("et demie", 30), ("et demi", 30), ("et quart", 15), ("trois quarts", 45)] {
            if let Some(e2) = t.phrase(e, p) {
                return Some((e2, h, m));
            }
        }
        if let Some(e2) = t.phrase(e, "moins le quart") {
            return (h > 0).then_some((e2, h - 1, 45));
        }
        let before = t.is(e, "moins");
        let j = if before { e + 1 } else { e };
        let mm = number_at(t, j, self.lang, false)?;
        if mm.ordinal || mm.value.fract() != 0.0 || !(1.0..60.0).contains(&mm.value) || h == 0 {
            return None;
        }
        // not "midi 3 personnes": nothing but punctuation, "minutes" or a time word after
        if t.is_word(mm.end) && !t.any(mm.end, &["minute", "minutes", "demain", "ce", "du", "de", "le", "aujourd"]) {
            return None;
        }
        let end = if t.any(mm.end, &["minute", "minutes"]) { mm.end + 1 } else { mm.end };
        let m = mm.value as u32;
        Some(if before { (end, h - 1, 60 - m) } else { (end, h, m) })
    }

    /// English "half past seven", "a quarter to noon", "20 past 3pm", "twenty after 3pm", "15
    /// minutes past noon", "15 to noon" (with a bare number of minutes, "to" only before noon or
    /// midnight or after "minutes": "from 5 to 10" is a range).
    fn en_past_to(&self, j: usize) -> Option<(usize, Tod, bool)> {
        let t = self.t;
        // British "half three" (half past three)
        if t.is(j, "half") {
            if let Some(hn) = number_at(t, j + 1, self.lang, false) {
                let end_ok = hn.end >= t.len()
                    || t.kind(hn.end) == Some(Kind::Punct) && !t.any(hn.end, &["%", "/", ":", "-", "."])
                    || t.any(hn.end, &["today", "tomorrow", "tonight", "on", "then"]);
                if !hn.ordinal && hn.value.fract() == 0.0 && (1.0..=12.0).contains(&hn.value) && end_ok {
                    return Some((hn.end, Tod { h: hn.value as u32, m: 30, grain: Grain::Minute, amb: true, s: 0 }, true));
                }
            }
        }
        let (e, m, word) = if let Some(e) = t.phrase(j, "half") {
            (e, 30, true)
        } else if let Some(e) = t.phrases(j, &["a quarter", "quarter"]) {
            (e, 15, true)
        } else {
            let mm = number_at(t, j, self.lang, false)?;
            if mm.ordinal || mm.value.fract() != 0.0 || !(1.0..60.0).contains(&mm.value) {
                return None;
            }
            match t.phrases(mm.end, &["minutes", "minute", "mins", "min"]) {
                Some(e) => (e, mm.value as u32, true),
                None => (mm.end, mm.value as u32, false),
            }
        };
        let (e, fwd) = if let Some(e2) = t.phrases(e, &["past", "after"]) {
            (e2, true)
        } else if let Some(e2) = t.phrases(e, &["to", "till", "before", "of"]) {
            (e2, false)
        } else {
            return None;
        };
        let (hend, h, noonish) = if t.is(e, "noon") {
            (e + 1, 12u32, true)
        } else if t.is(e, "midnight") {
            (e + 1, 24, true)
        } else {
            let hn = number_at(t, e, self.lang, false)?;
            if hn.ordinal || hn.value.fract() != 0.0 || !(1.0..=12.0).contains(&hn.value) {
                return None;
            }
            (hn.end, hn.value as u32, false)
        };
        if !fwd && !word && !noonish {
            return None;
        }
        let (h, m) = if fwd { (h, m) } else { (if h == 1 { 12 } else { h - 1 }, 60 - m) };
        if let Some((e2, pm)) = self.meridiem_at(hend).filter(|_| !noonish) {
            return Some((e2, Tod { h: h % 12 + if pm { 12 } else { 0 }, m, grain: Grain::Minute, amb: false, s: 0 }, true));
        }
        let h = if noonish && h == 24 { 0 } else { h };
        Some((hend, Tod { h, m, grain: Grain::Minute, amb: !noonish, s: 0 }, true))
    }

    pub(super) fn tod_core(&self, j: usize, bare_ok: bool) -> Option<(usize, Tod, bool)> {
        let t = self.t;
        let k = t.key(j);
        let fr = self.fr();
        let hm = |h: u32, m: u32, g: Grain, amb: bool| Tod { h, m, grain: g, amb, s: 0 };
        let midday = if fr { None } else { t.phrases(j, &["the midday", "midday", "mid day", "noon"]) };
        if (fr && k == "midi") || midday.is_some() {
            if let Some((e, h, m)) = self.fr_minutes(j + 1, 12) {
                return Some((e, hm(h, m, Grain::Minute, false), true));
            }
            return Some((midday.unwrap_or(j + 1), hm(12, 0, Grain::Hour, false), true));
        }
        if (fr && k == "minuit") || (!fr && k == "midnight") {
            if let Some((e, h, m)) = self.fr_minutes(j + 1, 24) {
                return Some((e, hm(if h == 23 { 23 } else { 24 }, m, Grain::Minute, false), true));
            }
            return Some((j + 1, hm(24, 0, Grain::Hour, false), true));
        }
        // half past seven, (a) quarter past / to nine, 20 (minutes) past 3pm, 15 to noon
        if !fr {
            if let Some(r) = self.en_past_to(j) {
                return Some(r);
            }
        }
        if let Some(r) = self.hhmm_at(j, bare_ok) {
            return Some(r);
        }
        // the hour: digits or spelled (not "a couple", "a few")
        if t.any(j, &["a", "an", "few"]) {
            return None;
        }
        let num = number_at(t, j, self.lang, false)?;
        if num.ordinal || num.value.fract() != 0.0 || !(0.0..=24.0).contains(&num.value) {
            return None;
        }
        let digits = t.kind(j) == Some(Kind::Num);
        if digits && (!t.t[j].plain || t.t[j].key.len() > 2) {
            return None;
        }
        let h = num.value as u32;
        // "3ish pm", "150ish": the glued "ish" says nothing more
        let e = if t.is(num.end, "ish") && t.adj(num.end) { num.end + 1 } else { num.end };
        if digits {
            if let Some(r) = self.digit_clock(h, e, bare_ok) {
                return Some(r);
            }
        }
        // 3pm, seven pm
        if let Some((e2, pm)) = self.meridiem_at(e) {
            if !(1..=12).contains(&h) {
                return None;
            }
            return Some((e2, hm(h % 12 + if pm { 12 } else { 0 }, 0, Grain::Hour, false), true));
        }
        self.spelled_clock(h, e, digits, bare_ok)
    }

    /// "1030", "730 in the evening", "330 p.m.", "150ish": hours and minutes run together, after
    /// "at" / "around" / "approximately" or before am/pm.
    fn hhmm_at(&self, j: usize, bare_ok: bool) -> Option<(usize, Tod, bool)> {
        let t = self.t;
        let (v, n) = t.int(j)?;
        if self.fr() || !(n == 3 || n == 4) || t.is(j + 1, ":") {
            return None;
        }
        let (h, m) = ((v / 100) as u32, (v % 100) as u32);
        if h > 23 || m > 59 {
            return None;
        }
        let e = if t.is(j + 1, "ish") && t.adj(j + 1) { j + 2 } else { j + 1 };
        if let Some((e2, pm)) = self.meridiem_at(e) {
            return (1..=12).contains(&h).then_some((
                e2,
                Tod { h: h % 12 + if pm { 12 } else { 0 }, m, grain: Grain::Minute, amb: false, s: 0 },
                true,
            ));
        }
        let unitish = duration_unit(t, e, self.lang).is_some() || t.is_num(e) || t.any(e, &["%", "$", "€", "dollars", "euros", "degrees"]);
        (bare_ok && !unitish).then_some((e, Tod { h, m, grain: Grain::Minute, amb: (1..=12).contains(&h), s: 0 }, false))
    }

    /// After an hour in digits: "15h", "15h30", "15 h 30", "17:45", "5:30 pm", "3:18a", "at 3 15".
    fn digit_clock(&self, h: u32, e: usize, bare_ok: bool) -> Option<(usize, Tod, bool)> {
        let t = self.t;
        let fr = self.fr();
        let hm = |h: u32, m: u32, g: Grain, amb: bool| Tod { h, m, grain: g, amb, s: 0 };
        // 15h, 15h30, 15 h 30 (English "15h" is read to the minute, as Duckling)
        if t.is(e, "h") {
            let glued = t.adj(e);
            if let Some((m, n)) = t.int(e + 1) {
                if n == 2 && m < 60 && duration_unit(t, e + 2, self.lang).is_none() && glued == t.adj(e + 1) {
                    return Some((e + 2, hm(h, m as u32, Grain::Minute, false), glued));
                }
            }
            // "15h passé de 15 minutes"
            if fr {
                if let Some(k) = t.phrases(e + 1, &["passe de", "passees de", "passe"]) {
                    if let Some(mm) =
                        number_at(t, k, self.lang, false).filter(|m| !m.ordinal && m.value.fract() == 0.0 && (1.0..60.0).contains(&m.value))
                    {
                        if t.any(mm.end, &["minute", "minutes", "min"]) {
                            return Some((mm.end + 1, hm(h, mm.value as u32, Grain::Minute, false), glued));
                        }
                    }
                }
            }
            return Some((e + 1, hm(h, 0, if fr { Grain::Hour } else { Grain::Minute }, false), glued));
        }
        // 17:45, 5:30 pm
        if t.is(e, ":") && t.adj(e) && t.adj(e + 1) {
            let (m, n) = t.int(e + 1)?;
            if n != 2 || m >= 60 {
                return None;
            }
            // "15:23:24", "9:01:10 AM": seconds
            let secs = (t.is(e + 2, ":") && t.adj(e + 2) && t.adj(e + 3)).then(|| t.int(e + 3)).flatten().filter(|&(s, n)| n == 2 && s < 60);
            let (e, g, s) = match secs {
                Some((s, _)) => (e + 2, Grain::Second, s as u32),
                None => (e, Grain::Minute, 0),
            };
            let sec = |tod: Tod| Tod { s, ..tod };
            if let Some((e2, pm)) = self.meridiem_at(e + 2) {
                if !(1..=12).contains(&h) {
                    return None;
                }
                return Some((e2, sec(hm(h % 12 + if pm { 12 } else { 0 }, m as u32, g, false)), true));
            }
            return Some((e + 2, sec(hm(h, m as u32, g, !fr && (1..=12).contains(&h))), true));
        }
        // at 3 15, at 12 15
        if bare_ok && !fr && (1..=12).contains(&h) && !t.adj(e) {
            let (m, n) = t.int(e)?;
            let unit = duration_unit(t, e + 1, self.lang).is_some() || t.any(e + 1, &["%", "percent", "dollars", "euros", "degrees"]);
            if n == 2 && m < 60 && !unit && !t.is_num(e + 1) {
                return Some((e + 1, hm(h, m as u32, Grain::Minute, true), false));
            }
        }
        None
    }

    /// Spelled clock readings and weak bare hours: "three thirty [pm]", "seven o'clock", "3
    /// oclock am", "quinze heures trente", bare "3" after "at".
    fn spelled_clock(&self, h: u32, e: usize, digits: bool, bare_ok: bool) -> Option<(usize, Tod, bool)> {
        let t = self.t;
        let fr = self.fr();
        let hm = |h: u32, m: u32, g: Grain, amb: bool| Tod { h, m, grain: g, amb, s: 0 };
        // three thirty [pm], nine fifty nine a m
        if !fr && !digits && (1..=12).contains(&h) {
            if let Some(mm) = number_at(t, e, self.lang, false) {
                let ok = mm.spelled && !mm.ordinal && mm.value.fract() == 0.0 && (1.0..60.0).contains(&mm.value);
                if ok && duration_unit(t, mm.end, self.lang).is_none() && !t.any(mm.end, &["%", "percent", "dollars", "euros", "degrees"]) {
                    let m = mm.value as u32;
                    if let Some((e2, pm)) = self.meridiem_at(mm.end) {
                        return Some((e2, hm(h % 12 + if pm { 12 } else { 0 }, m, Grain::Minute, false), true));
                    }
                    if bare_ok {
                        return Some((mm.end, hm(h, m, Grain::Minute, true), false));
                    }
                }
            }
        }
        // seven o'clock, 3 oclock am
        if !fr {
            if let Some(e2) = t.phrases(e, &["o clock", "oclock"]) {
                if !(1..=12).contains(&h) {
                    return None;
                }
                if let Some((e3, pm)) = self.meridiem_at(e2) {
                    return Some((e3, hm(h % 12 + if pm { 12 } else { 0 }, 0, Grain::Hour, false), true));
                }
                return Some((e2, hm(h, 0, Grain::Hour, true), true));
            }
        }
        // quinze heures [trente | et demie | et quart | moins le quart | moins dix]
        if fr && t.any(e, &["heure", "heures"]) {
            return self.fr_heures(h, e + 1);
        }
        if bare_ok && h <= 23 {
            // bare hour after "at" / "between": not before a unit ("at 20 degrees")
            let nk = t.key(e);
            let unitish = duration_unit(t, e, self.lang).is_some()
                || matches!(nk, "%" | "°" | "degrees" | "degree" | "degres" | "degre" | "percent" | "euros" | "dollars" | "$" | "€")
                || t.is_num(e)
                || (t.is(e, ".") || t.is(e, ",") || t.is(e, "/")) && t.is_num(e + 1);
            if !unitish && !fr {
                return Some((e, hm(h, 0, Grain::Hour, (1..=12).contains(&h)), false));
            }
        }
        None
    }

    /// After "quinze heures": "trente", "et demie", "et quart", "moins le quart", "et quinze
    /// minutes", "passé de 15 minutes".
    fn fr_heures(&self, h: u32, e1: usize) -> Option<(usize, Tod, bool)> {
        let t = self.t;
        let hm = |h: u32, m: u32, g: Grain| Tod { h, m, grain: g, amb: false, s: 0 };
        if t.any(e1, &["moins", "et"]) || t.phrase(e1, "trois quarts").is_some() {
            if let Some((e2, hh, m)) = self.fr_minutes(e1, h) {
                return Some((e2, hm(hh, m, Grain::Minute), false));
            }
        }
        let k = t.phrases(e1, &["passe de", "passees de", "et"]).unwrap_or(e1);
        if let Some(mm) = number_at(t, k, self.lang, false) {
            if !mm.ordinal && mm.value < 60.0 && mm.value.fract() == 0.0 && !t.any(mm.end, &["heure", "heures", "%"]) {
                let mut end = mm.end;
                if t.any(end, &["minute", "minutes"]) {
                    end += 1;
                }
                if end > mm.end || (duration_unit(t, end, self.lang).is_none() && k == e1) {
                    return Some((end, hm(h, mm.value as u32, Grain::Minute), false));
                }
            }
        }
        Some((e1, hm(h, 0, Grain::Hour), false))
    }

    /// Time of day with its optional prefix and qualifier: (end, tod).
    pub(super) fn tod_at(&self, i: usize) -> Option<(usize, Tod)> {
        let t = self.t;
        let prefixes: &[&str] = if self.fr() {
            &["a environ", "vers environ", "aux alentours de", "autour de", "a", "vers", "des", "environ"]
        } else {
            &["at about", "at around", "at approximately", "at", "around", "about", "approximately", "approx", "by", "@"]
        };
        let j = t.phrases(i, prefixes).unwrap_or(i);
        let pre = j > i;
        if !pre {
            // "pendant 2h", "ça dure 1h30", "for 15h": durations, not times of day
            let triggers = ["pendant", "durant", "dure", "duree", "for", "during", "lasts", "lasted", "takes", "took", "en", "in"];
            if i > 0 && t.any(i - 1, &triggers) {
                return None;
            }
        }
        // "for 3pm", "for a quarter past noon": "for" before a reading that can only be a clock
        // time (a duration follows "for" too: "for 15h", "for 3 hours")
        let j = if j == i && !self.fr() && t.is(i, "for") { i + 1 } else { j };
        let (mut e, mut tod, strong) = self.tod_core(j, pre && !self.fr())?;
        if t.is(i, "for")
            && !self.fr()
            && !(self.en_past_to(j).is_some() || (j..e).any(|k| t.any(k, &["am", "pm", "a", "p", "noon", "midday", "midnight"])))
        {
            return None;
        }
        let pre = pre || j > i;
        if let Some((e2, pod)) = self.qualifier_at(e) {
            tod = apply_pod(tod, pod);
            e = e2;
        } else if !(pre || strong) {
            return None;
        }
        // "3pm approximately"
        if !self.fr() && t.any(e, &["approximately", "approx", "roughly"]) {
            e += 1;
        }
        Some((e, tod))
    }

    /// "de 9h à 17h", "entre 14h et 16h", "from 10am to 5pm", "between 2 and 4pm".
    pub(super) fn tod_interval_at(&self, i: usize) -> Option<(usize, Tod, Tod)> {
        let t = self.t;
        let (open, closes): (&[&str], &[&str]) = if self.fr() {
            if t.is(i, "de") {
                (&["de"], &["a", "jusqu a"])
            } else {
                (&["entre"], &["et"])
            }
        } else if t.is(i, "between") {
            (&["between"], &["and"])
        } else {
            (&["from"], &["to", "until", "untill", "till", "til", "through", "thru", "-"])
        };
        // "9:30 - 11:00", "3-4pm", "15h30-18h", "8am until 6": no opening word, a dash or an
        // explicit start, an explicit end
        let dashed = !t.any(i, open);
        let i = if dashed && !self.fr() { t.phrases(i, &["around", "about", "approximately"]).unwrap_or(i) } else { i };
        let en_no_open: &[&str] = &["-", "to", "until", "untill", "till", "til"];
        let (first, closes) = if dashed { (i, if self.fr() { &["-"][..] } else { en_no_open }) } else { (i + 1, closes) };
        let (e1, mut a, _) = self.tod_core(first, true).or_else(|| {
            // bare hour before the connector: "de 9 à 17h", "between 2 and 4pm"
            let (h, n) = t.int(first)?;
            (n <= 2 && h <= 23).then_some((first + 1, Tod { h: h as u32, m: 0, grain: Grain::Hour, amb: h <= 12, s: 0 }, false))
        })?;
        // "15:00 GMT - 18:00 GMT": the zone said twice (the caller converts the interval)
        let zone1 = self.zone_at(e1);
        let e1 = zone1.map_or(e1, |z| z.0);
        let j = t.phrases(e1, closes)?;
        let by_dash = t.is(j - 1, "-");
        let (mut e2, mut b, strong) = self.tod_core(j, !by_dash)?;
        if let Some((_, off1)) = zone1 {
            if self.zone_at(e2).map(|z| z.1) != Some(off1) {
                return None;
            }
        }
        // a weak end only after an explicit start ("from 8am to 6", "8am until 6") or before a
        // qualifier; "5 to 10" and "from 5 to 10" stay numbers
        let start_strong = self.tod_core(first, false).is_some_and(|x| x.2);
        let qual = self.qualifier_at(e2);
        let ok = strong
            || qual.is_some()
            || match (dashed, self.fr()) {
                (false, true) => true,
                (false, false) => start_strong,
                (true, _) => !by_dash && start_strong,
            };
        if !ok || dashed && !by_dash && !start_strong {
            return None;
        }
        if let Some((e3, pod)) = qual {
            b = apply_pod(b, pod);
            if a.amb {
                a = apply_pod(a, pod);
            }
            e2 = e3;
        }
        if a.amb && !b.amb && b.h >= 12 && a.h < 12 && a.h + 12 <= b.h {
            a.h += 12;
        }
        // "11:30-1:30", "de 11h30 à 1h30": the end is the afternoon's, not the next night's
        if (1..12).contains(&b.h) && b.h < a.h && b.h + 12 > a.h {
            b.h += 12;
        }
        a.amb = false;
        Some((e2, a, b))
    }

    // ------------------------------------------------------------ resolution

    /// A time of day on a given date. An ambiguous 12-hour reading ("tomorrow at 3") is read as
    /// 13:00–19:00 for 1–7 and as said for 8–12; a part of day ("ce soir à 8h") moves it to the pm.
    pub(super) fn on_date(&self, d: NaiveDate, tod: Tod, pod: Option<Pod>) -> NaiveDateTime {
        let mut h = tod.h;
        if let Some(p) = pod {
            if p.from >= 12 && h < 12 {
                h += 12;
            } else if tod.amb && h == 12 && (p.from >= 18 || p.to <= 12) {
                // "this evening at 12", "tomorrow morning at 12": midnight
                h = if p.from >= 18 { 24 } else { 0 };
            }
        } else if tod.amb && (1..=7).contains(&h) {
            h += 12;
        }
        at(d, h, tod.m) + Duration::seconds(tod.s as i64)
    }

    /// A time of day in a part of today ("this morning at 3", "3 in the morning"): the next
    /// occurrence, as Duckling (at 04:30, tomorrow's 3:00).
    pub(super) fn on_pod_today(&self, d: NaiveDate, tod: Tod, pod: Pod) -> NaiveDateTime {
        let x = self.on_date(d, tod, Some(pod));
        if d == self.today() && x < truncate(self.now, tod.grain) {
            x + Duration::days(1)
        } else {
            x
        }
    }

    /// A time of day alone: the first occurrence not before the reference (today or tomorrow).
    pub(super) fn tod_alone(&self, tod: Tod) -> NaiveDateTime {
        let hours: Vec<u32> = if tod.amb {
            if tod.h == 12 {
                vec![12, 24]
            } else {
                vec![tod.h, tod.h + 12]
            }
        } else {
            vec![tod.h]
        };
        // a time earlier in the current hour is still today's ("at 4:23" at 04:30), as Duckling
        let floor = truncate(self.now, tod.grain.max(Grain::Hour));
        for day in 0..2 {
            let d = self.today() + Duration::days(day);
            for &h in &hours {
                let x = at(d, h, tod.m) + Duration::seconds(tod.s as i64);
                if x >= floor {
                    return x;
                }
            }
        }
        at(self.today() + Duration::days(1), hours[0], tod.m)
    }

    pub(super) fn itv_on(&self, d: NaiveDate, a: Tod, b: Tod) -> TV {
        let from = at(d, a.h, a.m) + Duration::seconds(a.s as i64);
        let mut to = at(d, b.h, b.m) + Duration::seconds(b.s as i64);
        if to <= from {
            to += Duration::days(1);
        }
        TV::Itv(from, to, a.grain.min(b.grain))
    }
}
