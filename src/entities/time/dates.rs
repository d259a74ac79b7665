//! Calendar dates: day and month names, numeric dates, weekdays.

use super::*;

impl Cx<'_> {
    // ------------------------------------------------------------ dates

    /// A month name or its abbreviation ("oct", "sept", "fév", "juil").
    pub(super) fn month_at(&self, j: usize) -> Option<u32> {
        let (names, abbr): (&[&str; 12], &[(&str, u32)]) = if self.fr() {
            (&FR_MONTHS, &[("janv", 1), ("fev", 2), ("fevr", 2), ("avr", 4), ("juil", 7), ("sept", 9), ("oct", 10), ("nov", 11), ("dec", 12)])
        } else {
            (
                &EN_MONTHS,
                &[
                    ("jan", 1),
                    ("feb", 2),
                    ("mar", 3),
                    ("apr", 4),
                    ("jun", 6),
                    ("jul", 7),
                    ("aug", 8),
                    ("sep", 9),
                    ("sept", 9),
                    ("oct", 10),
                    ("nov", 11),
                    ("dec", 12),
                ],
            )
        };
        let k = self.t.key(j);
        names.iter().position(|m| *m == k).map(|p| p as u32 + 1).or_else(|| abbr.iter().find(|a| a.0 == k).map(|a| a.1))
    }

    /// A weekday name, or its abbreviation: English "mon", "tue(s)", "thu(rs)", "fri" always,
    /// "wed", "sat", "sun" (also words) and French "lun", "mer", "jeu", "ven", "sam", "dim" only
    /// before "." or "," or a day number.
    pub(super) fn weekday_at(&self, j: usize) -> Option<u32> {
        let names = if self.fr() { &FR_DAYS } else { &EN_DAYS };
        let k = self.t.key(j);
        if let Some(p) = names.iter().position(|m| *m == k) {
            return Some(p as u32);
        }
        let marked = self.t.any(j + 1, &[".", ","]) || self.t.is_num(j + 1);
        let (always, marked_only): (&[(&str, u32)], &[(&str, u32)]) = if self.fr() {
            (&[], &[("lun", 0), ("mer", 2), ("jeu", 3), ("ven", 4), ("sam", 5), ("dim", 6)])
        } else {
            (&[("mon", 0), ("tue", 1), ("tues", 1), ("thu", 3), ("thur", 3), ("thurs", 3), ("fri", 4)], &[("wed", 2), ("sat", 5), ("sun", 6)])
        };
        always.iter().chain(marked_only.iter().filter(|_| marked)).find(|a| a.0 == k).map(|a| a.1)
    }

    pub(super) fn year_at(&self, j: usize) -> Option<i32> {
        let (v, n) = self.t.int(j)?;
        if n == 2 {
            // "31 octobre 74": a two-digit year only when nothing follows it but punctuation
            let last = j + 1 >= self.t.len() || self.t.kind(j + 1) == Some(Kind::Punct) && !self.t.any(j + 1, &[":", "h"]);
            return last.then(|| two_digit_year(v));
        }
        (n == 4 && (1900..=2199).contains(&v)).then_some(v as i32)
    }

    /// "le 16", "on the 15th": the next day of the month with that number (this month if not
    /// past), when followed by the end, punctuation or a word that introduces a time.
    pub(super) fn day_of_month_at(&self, i: usize) -> Option<(usize, NaiveDate)> {
        let t = self.t;
        let today = self.today();
        let (j, m) = if self.fr() {
            if !(t.is(i, "le") && t.is_num(i + 1)) {
                return None;
            }
            let (e, d) = self.dayn_at(i + 1)?;
            (e, d as f64)
        } else {
            let j = t.phrase(i, "on the")?;
            let m = number_at(t, j, self.lang, false).filter(|m| m.ordinal && m.value <= 31.0)?;
            (m.end, m.value)
        };
        let follow: &[&str] = if self.fr() {
            &["a", "vers", "des", "avant", "apres", "au", "et", "ou", "matin", "soir", "midi", "dans", "aux"]
        } else {
            &["at", "in", "from", "around", "by", "and", "or", "then", "please"]
        };
        let punct = t.kind(j) == Some(Kind::Punct) && !t.any(j, &["/", "-", ":"]);
        let next_ok = j >= t.len() || punct || t.any(j, follow);
        if self.month_at(j).is_some() || !next_ok || t.is_num(j) {
            return None;
        }
        let d = m as u32;
        let date = (0..12).find_map(|k| {
            let mm = today.month0() as i32 + k;
            NaiveDate::from_ymd_opt(today.year() + mm / 12, (mm % 12) as u32 + 1, d).filter(|x| *x >= today)
        })?;
        Some((j, date))
    }

    /// Day of month at `j`: "3", "1er", "3rd", "premier", "third", "trois".
    pub(super) fn dayn_at(&self, j: usize) -> Option<(usize, u32)> {
        let m = number_at(self.t, j, self.lang, false)?;
        if m.value.fract() != 0.0 || !(1.0..=31.0).contains(&m.value) {
            return None;
        }
        // digits: one plain token or an ordinal ("3/3" is a date, not the fraction 1)
        if self.t.kind(j) == Some(Kind::Num) && (!self.t.t[j].plain || !m.ordinal && m.end != j + 1) {
            return None;
        }
        Some((m.end, m.value as u32))
    }

    /// "3 mars [2027]", "3rd of march", "march 3rd[, 2027]" → (end, day, month, year).
    pub(super) fn daymonth_at(&self, i: usize) -> Option<(usize, u32, u32, Option<i32>)> {
        let t = self.t;
        let year_after = |e: usize| -> (usize, Option<i32>) {
            let j = if !self.fr() && t.is(e, ",") || t.is(e, ".") && t.adj(e) && t.is_num(e + 1) { e + 1 } else { e };
            match self.year_at(j) {
                Some(y) => (j + 1, Some(y)),
                None => (e, None),
            }
        };
        if let Some((e, d)) = self.dayn_at(i) {
            let j = if !self.fr() && t.is(e, "of") { e + 1 } else { e };
            if let Some(m) = self.month_at(j) {
                let (e2, y) = year_after(j + 1);
                return Some((e2, d, m, y));
            }
        }
        if !self.fr() {
            if let Some(m) = self.month_at(i) {
                let j = if t.is(i + 1, "the") { i + 2 } else { i + 1 };
                if let Some((e, d)) = self.dayn_at(j) {
                    let (e2, y) = year_after(e);
                    return Some((e2, d, m, y));
                }
            }
        }
        None
    }

    /// Future-preferring: the date this year if not before today, else next year.
    /// A day and month said with their weekday ("Fri, Jul 18", "Sunday, Feb 10"): without a
    /// year, the year nearest today where they agree (as Duckling), else the usual reading.
    pub(super) fn dm_on_weekday(&self, d: u32, m: u32, y: Option<i32>, wd: u32) -> Option<NaiveDate> {
        let plain = self.resolve_dm(d, m, y)?;
        if y.is_some() || plain.weekday().num_days_from_monday() == wd {
            return Some(plain);
        }
        let today = self.today();
        (-6..=6)
            .filter_map(|k| NaiveDate::from_ymd_opt(today.year() + k, m, d))
            .filter(|x| x.weekday().num_days_from_monday() == wd)
            .min_by_key(|x| (*x - today).num_days().abs())
            .or(Some(plain))
    }

    pub(super) fn resolve_dm(&self, d: u32, m: u32, y: Option<i32>) -> Option<NaiveDate> {
        if let Some(y) = y {
            return NaiveDate::from_ymd_opt(y, m, d);
        }
        let today = self.today();
        (0..=8).find_map(|k| NaiveDate::from_ymd_opt(today.year() + k, m, d).filter(|x| *x >= today))
    }

    pub(super) fn numeric_date_at(&self, i: usize) -> Option<(usize, NaiveDate)> {
        let t = self.t;
        let (a, na) = t.int(i)?;
        // ISO 2026-04-15
        if na == 4 && t.is(i + 1, "-") && t.adj(i + 1) && t.adj(i + 2) && t.is(i + 3, "-") && t.adj(i + 3) && t.adj(i + 4) {
            let (m, _) = t.int(i + 2)?;
            let (d, _) = t.int(i + 4)?;
            return Some((i + 5, NaiveDate::from_ymd_opt(a as i32, m as u32, d as u32)?));
        }
        // "14/07", "14/07/2027", "10-31-74" (a dash needs the year: "3-4" is a range)
        let sep = if t.is(i + 1, "-") { "-" } else { "/" };
        if na > 2 || !(t.is(i + 1, sep) && t.adj(i + 1) && t.adj(i + 2)) {
            return None;
        }
        let (b, nb) = t.int(i + 2)?;
        if nb > 2 || sep == "-" && !(t.is(i + 3, "-") && t.adj(i + 3) && t.adj(i + 4)) {
            return None;
        }
        let (mut d, mut m) = if self.fr() { (a, b) } else { (b, a) };
        if m > 12 && d <= 12 {
            std::mem::swap(&mut d, &mut m);
        }
        let prefixed = i > 0 && self.t.any(i - 1, &["le", "on", "the", "du", "au"]);
        let mut end = i + 3;
        let mut y = None;
        if t.is(i + 3, sep) && t.adj(i + 3) && t.adj(i + 4) {
            if let Some((yv, ny)) = t.int(i + 4) {
                if ny == 4 || ny == 2 {
                    y = Some(if ny == 2 { two_digit_year(yv) } else { yv as i32 });
                    end = i + 5;
                }
            }
        }
        if y.is_none() && !prefixed && !(na == 2 && nb == 2) {
            return None; // "3/4" is more likely a fraction
        }
        Some((end, self.resolve_dm(d as u32, m as u32, y)?))
    }

    /// Weekday, optionally qualified: (end, date).
    /// After a weekday: the week it is in ("mardi de la semaine prochaine", "wednesday of this
    /// week", "mardi suivant" = next week's), "en huit" / "en quinze" (the day on or after today, a
    /// week or two later), "after next".
    fn weekday_modifier(&self, e: usize, wd: u32) -> Option<(usize, NaiveDate)> {
        let t = self.t;
        let today = self.today();
        let weeks: &[(&str, i64)] = if self.fr() {
            &[
                ("de la semaine prochaine", 1),
                ("la semaine prochaine", 1),
                ("de la semaine suivante", 1),
                ("la semaine suivante", 1),
                ("de la semaine d apres", 1),
                ("la semaine d apres", 1),
                ("suivant", 1),
                ("suivante", 1),
                ("d apres", 1),
                ("de cette semaine", 0),
                ("cette semaine", 0),
                ("de la semaine derniere", -1),
                ("la semaine derniere", -1),
                ("de la semaine passee", -1),
                ("la semaine passee", -1),
            ]
        } else {
            &[
                ("of next week", 1),
                ("next week", 1),
                ("of this week", 0),
                ("this week", 0),
                ("of last week", -1),
                ("from last week", -1),
                ("last week", -1),
            ]
        };
        let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
        for (p, k) in weeks {
            if let Some(e2) = t.phrase(e, p) {
                return Some((e2, monday + Duration::days(7 * k + wd as i64)));
            }
        }
        let diff = (wd as i64 - today.weekday().num_days_from_monday() as i64).rem_euclid(7);
        let later: &[(&str, i64)] = if self.fr() {
            &[("en huit", 7), ("en 8", 7), ("en quinze", 14), ("en 15", 14)]
        } else {
            &[("after next", 7 + if diff == 0 { 7 } else { 0 })]
        };
        for (p, k) in later {
            if let Some(e2) = t.phrase(e, p) {
                return Some((e2, today + Duration::days(diff + k)));
            }
        }
        None
    }

    pub(super) fn weekday_date_at(&self, i: usize) -> Option<(usize, NaiveDate)> {
        let t = self.t;
        let today = self.today();
        let wd_today = today.weekday().num_days_from_monday();
        // mode: 0 = strictly after today, 1 = today or after, 2 = strictly before
        let (mut mode, mut j) = (0, i);
        if self.fr() {
            if t.any(i, &["ce", "le"]) {
                mode = if t.is(i, "ce") { 1 } else { 0 };
                j = i + 1;
            }
        } else if t.any(i, &["next", "this", "last", "on", "coming"]) {
            mode = match t.key(i) {
                "this" => 1,
                "last" => 2,
                _ => 0,
            };
            j = i + 1;
            if t.is(i, "on") && t.any(j, &["next", "this", "last"]) {
                mode = match t.key(j) {
                    "this" => 1,
                    "last" => 2,
                    _ => 0,
                };
                j += 1;
            }
        }
        let wd = self.weekday_at(j)?;
        let mut end = j + 1;
        if let Some(r) = self.weekday_modifier(end, wd) {
            return Some(r);
        }
        if self.fr() {
            if t.any(end, &["prochain", "prochaine"]) {
                mode = 0;
                end += 1;
            } else if t.any(end, &["dernier", "derniere", "passe"]) {
                mode = 2;
                end += 1;
            }
        }
        // "samedi 14 mars", "monday, march 16": the explicit date wins
        let k = if t.is(end, ",") { end + 1 } else { end };
        if let Some((e2, d, m, y)) = self.daymonth_at(k) {
            return Some((e2, self.dm_on_weekday(d, m, y, wd)?));
        }
        // "mardi 17", "tuesday the 19th": the next Tuesday the 17th (within a year)
        let k = if !self.fr() && t.is(k, "the") { k + 1 } else { k };
        if let Some((e2, dn)) = self.dayn_at(k) {
            let next_ok = e2 >= t.len()
                || (t.kind(e2) == Some(Kind::Punct) && !t.any(e2, &[":", "/", "%", "€", "$", "°", "-"]))
                || t.any(
                    e2,
                    &["a", "vers", "at", "around", "from", "de", "du", "entre", "between", "et", "and", "ou", "or", "ce", "this", "dans", "in"],
                );
            if self.month_at(e2).is_none() && next_ok {
                let found = (0..400).map(|n| today + Duration::days(n)).find(|d| d.day() == dn && d.weekday().num_days_from_monday() == wd);
                if let Some(d) = found {
                    return Some((e2, d));
                }
            }
        }
        let diff = (wd as i64 - wd_today as i64).rem_euclid(7);
        let date = match mode {
            0 => today + Duration::days(if diff == 0 { 7 } else { diff }),
            1 => today + Duration::days(diff),
            _ => today - Duration::days(if diff == 0 { 7 } else { 7 - diff }),
        };
        Some((end, date))
    }

    /// Any single date (day grain): (end, date). Memoised per token.
    pub(super) fn date_at(&self, i: usize) -> Option<(usize, NaiveDate)> {
        if let Some(Some(r)) = self.date_memo.borrow().get(i) {
            return *r;
        }
        let r = self.date_at_uncached(i);
        if let Some(slot) = self.date_memo.borrow_mut().get_mut(i) {
            *slot = Some(r);
        }
        r
    }

    fn date_at_uncached(&self, i: usize) -> Option<(usize, NaiveDate)> {
        let t = self.t;
        let today = self.today();
        let rel: &[(&str, i64)] = if self.fr() {
            &[
                ("apres demain", 2),
                ("avant hier", -2),
                ("aujourd hui", 0),
                ("demain", 1),
                ("hier", -1),
                ("le lendemain", 1),
                ("la veille", -1),
                ("le jour d apres", 1),
                ("le jour suivant", 1),
                ("jour suivant", 1),
                ("le jour d avant", -1),
                ("le jour precedent", -1),
                ("ce jour", 0),
                ("dans la journee", 0),
            ]
        } else {
            &[
                ("the day after tomorrow", 2),
                ("day after tomorrow", 2),
                ("the day before yesterday", -2),
                ("day before yesterday", -2),
                ("today", 0),
                ("tomorrow", 1),
                ("yesterday", -1),
            ]
        };
        for (p, n) in rel {
            if let Some(e) = t.phrase(i, p) {
                // "le lendemain du 13 février", "la veille de Noël", "the day after Christmas"
                if let Some(k) = t.phrases(e, if self.fr() { &["du", "de la", "de l", "de"] } else { &["of"] }) {
                    if p.contains("lendemain") || p.contains("veille") {
                        if let Some((e2, d)) = self.date_at(k) {
                            return Some((e2, d + Duration::days(*n)));
                        }
                    }
                }
                return Some((e, today + Duration::days(*n)));
            }
        }
        // before the weekdays: "Monday of the Holy Spirit", "lundi de Pâques"
        if let Some(r) = self.holiday_at(i) {
            return Some(r);
        }
        if let Some(r) = self.weekday_date_at(i) {
            return Some(r);
        }
        // prefix: "le" (fr), "on" / "the" / "on the" (en)
        let mut starts = vec![i];
        if self.fr() && t.is(i, "le") {
            starts.push(i + 1);
        }
        if !self.fr() && t.any(i, &["on", "the"]) {
            starts.push(i + 1);
            if t.is(i, "on") && t.is(i + 1, "the") {
                starts.push(i + 2);
            }
        }
        if let Some(r) = self.day_of_month_at(i) {
            return Some(r);
        }
        for &s in starts.iter().rev() {
            if let Some((e, d, m, y)) = self.daymonth_at(s) {
                // English "the 3rd" needs its month; a bare "on the" prefix alone is fine
                // "Jul 18, Fri": the weekday after the date
                if let Some(wd) = t.is(e, ",").then(|| self.weekday_at(e + 1)).flatten() {
                    return Some((e + 2, self.dm_on_weekday(d, m, y, wd)?));
                }
                return Some((e, self.resolve_dm(d, m, y)?));
            }
            if let Some(r) = self.numeric_date_at(s).or_else(|| self.numeric_date_more_at(s)) {
                return Some(r);
            }
        }
        None
    }
}

/// A two-digit year: 00–49 → 2000s, 50–99 → 1900s ("74" is 1974, "14" is 2014).
pub(super) fn two_digit_year(v: i64) -> i32 {
    if v < 50 {
        2000 + v as i32
    } else {
        1900 + v as i32
    }
}
