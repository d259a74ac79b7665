//! Relative times, periods, weekends, months, date intervals, "now".

use super::*;

impl Cx<'_> {
    pub(super) fn relative_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        let (dur_start, sign) = if self.fr() {
            if t.is(i, "dans") {
                (t.phrases(i + 1, &["environ", "a peu pres"]).unwrap_or(i + 1), 1)
            } else if let Some(e) = t.phrase(i, "il y a") {
                (e, -1)
            } else {
                (i, 0) // "<durée> plus tard", "<durée> après"
            }
        } else if t.is(i, "in") {
            (t.phrases(i + 1, &["about", "around", "approximately", "approx", "roughly"]).unwrap_or(i + 1), 1)
        } else {
            (i, 0) // "<duration> ago", "<duration> from now"
        };
        let (mut e, d) = duration_at(t, dur_start, self.lang)?;
        let mut sign = sign;
        // counted from a day ("deux jours plus tard", "3 years from today"): a date
        let from_day = sign == 0 && (self.fr() || t.phrase(e, "from today").is_some());
        if self.fr() && sign == 0 {
            e = t.phrases(e, &["plus tard", "apres"])?;
            sign = 1;
        }
        // "a day from right now": counted from this very second
        let exact = !self.fr() && sign == 0 && t.phrase(e, "from right now").is_some();
        if !self.fr() && sign == 0 {
            if let Some(e2) = t.phrases(e, &["ago", "back"]) {
                sign = -1;
                e = e2;
            } else if let Some(e2) = t.phrases(e, &["from right now", "from now", "from today", "hence", "later"]) {
                sign = 1;
                e = e2;
            } else {
                return None;
            }
        }
        // "in 777777777777 hours" is past any calendar: no date-time (checked arithmetic throughout,
        // found by fuzzing: chrono panics on out-of-range deltas).
        if !(d.value.is_finite() && d.value.abs() <= MAX_RELATIVE) {
            return None;
        }
        let tv = match d.unit {
            Grain::Second | Grain::Minute | Grain::Hour => {
                let secs = (d.seconds() * sign as f64).round() as i64;
                // whole hours: grain minute; minutes, seconds, "1/2 hour", "2.5 hours": second
                let g = if d.unit == Grain::Hour && d.value.fract() == 0.0 { Grain::Minute } else { Grain::Second };
                TV::Abs(self.abs.checked_add_signed(Duration::try_seconds(secs)?)?, g)
            }
            _ => {
                if d.value.fract() != 0.0 {
                    return None;
                }
                let n = d.value as i64 * sign;
                let today = self.today();
                if exact {
                    return Some((e, TV::Abs(self.counted_from_this_second(d, sign, n)?, Grain::Second)));
                }
                if !from_day && matches!(d.unit, Grain::Day | Grain::Year) {
                    return Some((e, self.duckling_relative(d.unit, n)?));
                }
                let date = match d.unit {
                    Grain::Day => today.checked_add_signed(Duration::try_days(n)?)?,
                    Grain::Week => today.checked_add_signed(Duration::try_days(7 * n)?)?,
                    Grain::Month | Grain::Quarter | Grain::Year => {
                        let months = months_in(d.unit) * n;
                        let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
                        if months >= 0 {
                            today.checked_add_months(m)?
                        } else {
                            today.checked_sub_months(m)?
                        }
                    }
                    _ => unreachable!(),
                };
                TV::Inst(at(date, 0, 0), Grain::Day)
            }
        };
        Some((e, tv))
    }

    /// Now plus `d` (days and weeks as seconds, longer units as calendar months), `sign` its
    /// direction and `n` its signed count: "a day from right now".
    fn counted_from_this_second(&self, d: super::super::measures::Dur, sign: i64, n: i64) -> Option<DateTime<Tz>> {
        Some(match d.unit {
            Grain::Day | Grain::Week => self.abs.checked_add_signed(Duration::try_seconds((d.seconds() * sign as f64) as i64)?)?,
            _ => {
                let months = Months::new(u32::try_from((months_in(d.unit) * n).unsigned_abs()).ok()?);
                if n >= 0 {
                    self.abs.checked_add_months(months)?
                } else {
                    self.abs.checked_sub_months(months)?
                }
            }
        })
    }

    /// As Duckling, "in 7 days" is read to the hour (at 04:30, 04:00 that day) and "in 2 years"
    /// to the month.
    fn duckling_relative(&self, unit: Grain, n: i64) -> Option<TV> {
        if unit == Grain::Day {
            let x = self.now.checked_add_signed(Duration::try_days(n)?)?;
            return Some(TV::Inst(truncate(x, Grain::Hour), Grain::Hour));
        }
        let x = super::spans::shift(at(self.today().with_day(1)?, 0, 0), Grain::Year, n)?;
        Some(TV::Inst(x, Grain::Month))
    }

    /// English "this/current/next/coming/upcoming/following/last/past/previous week|month|quarter|
    /// year", optionally after "the" (and "around").
    fn en_period(&self, i: usize) -> Option<(usize, i64, Grain)> {
        let t = self.t;
        let i = if t.is(i, "around") { i + 1 } else { i };
        let j = if t.is(i, "the") { i + 1 } else { i };
        let n = match t.key(j) {
            "this" | "current" => 0,
            "next" | "coming" | "upcoming" | "following" => 1,
            "last" | "past" | "previous" => -1,
            _ => return None,
        };
        let g = match t.key(j + 1) {
            "week" => Grain::Week,
            "month" => Grain::Month,
            "quarter" | "qtr" => Grain::Quarter,
            "year" | "yr" => Grain::Year,
            _ => return None,
        };
        Some((j + 2, n, g))
    }

    /// A whole period relative to today: "this week", "next month", "la semaine prochaine", "le
    /// mois suivant", "ce trimestre" → (end, first day, grain).
    pub(super) fn period_rel(&self, i: usize) -> Option<(usize, NaiveDate, Grain)> {
        let ps: &[(&str, i64, Grain)] = if self.fr() {
            &[
                ("cette semaine", 0, Grain::Week),
                ("dans la semaine", 0, Grain::Week),
                ("la semaine prochaine", 1, Grain::Week),
                ("la semaine suivante", 1, Grain::Week),
                ("la semaine qui suit", 1, Grain::Week),
                ("la semaine derniere", -1, Grain::Week),
                ("la semaine passee", -1, Grain::Week),
                ("la semaine precedente", -1, Grain::Week),
                ("ce mois ci", 0, Grain::Month),
                ("ce mois", 0, Grain::Month),
                ("le mois prochain", 1, Grain::Month),
                ("le mois suivant", 1, Grain::Month),
                ("le mois dernier", -1, Grain::Month),
                ("le mois precedent", -1, Grain::Month),
                ("ce trimestre", 0, Grain::Quarter),
                ("le trimestre prochain", 1, Grain::Quarter),
                ("le trimestre dernier", -1, Grain::Quarter),
                ("cette annee", 0, Grain::Year),
                ("l annee prochaine", 1, Grain::Year),
                ("l an prochain", 1, Grain::Year),
                ("l annee suivante", 1, Grain::Year),
                ("l annee derniere", -1, Grain::Year),
                ("l an dernier", -1, Grain::Year),
                ("l an passe", -1, Grain::Year),
            ]
        } else {
            &[]
        };
        let en = if self.fr() { None } else { self.en_period(i) };
        let (e, n, g) = en.or_else(|| ps.iter().find_map(|(p, n, g)| Some((self.t.phrase(i, p)?, *n, *g))))?;
        let start = super::spans::shift(super::spans::period_start(self.now, g), g, n)?;
        Some((e, start.date(), g))
    }

    pub(super) fn period_at(&self, i: usize) -> Option<(usize, TV)> {
        let (e, d, g) = self.period_rel(i)?;
        Some((e, TV::Inst(at(d, 0, 0), g)))
    }

    pub(super) fn weekend_at(&self, i: usize) -> Option<(usize, TV)> {
        let ps: &[(&str, i64)] = if self.fr() {
            &[
                ("le week end prochain", 1),
                ("le weekend prochain", 1),
                ("le prochain week end", 1),
                ("le prochain weekend", 1),
                ("ce week end", 0),
                ("ce weekend", 0),
                ("le week end", 0),
                ("le weekend", 0),
            ]
        } else {
            &[
                ("next weekend", 1),
                ("next week end", 1),
                ("this past weekend", -1),
                ("this past week end", -1),
                ("this weekend", 0),
                ("this week end", 0),
                ("the weekend", 0),
            ]
        };
        let (e, n) = ps.iter().find_map(|(p, n)| self.t.phrase(i, p).map(|e| (e, *n)))?;
        let today = self.today();
        let wd = today.weekday().num_days_from_monday() as i64;
        let fri = if wd <= 4 { today + Duration::days(4 - wd) } else { today - Duration::days(wd - 4) } + Duration::days(7 * n);
        Some((e, TV::Itv(at(fri, 18, 0), at(fri + Duration::days(3), 0, 0), Grain::Hour)))
    }

    fn full_month_at(&self, i: usize) -> bool {
        let k = self.t.key(i);
        if self.fr() {
            FR_MONTHS.contains(&k)
        } else {
            k != "may" && EN_MONTHS.contains(&k)
        }
    }

    pub(super) fn month_in_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        let j = if self.fr() { t.phrases(i, &["au mois de", "au mois d", "en"]) } else { t.phrases(i, &["in"]) };
        let j = match j {
            Some(j) => j,
            // "mars 2027" needs its year
            None if self.month_at(i).is_some() && self.year_at(i + 1).is_some() => i,
            // a month's full name before "after next" or "in 2 years" ("March after next")
            None if self.full_month_at(i) => i,
            None => return None,
        };
        let m = self.month_at(j)?;
        let today = self.today();
        let (e, y) = match self.year_at(j + 1) {
            Some(y) => (j + 2, y),
            None => (j + 1, if m < today.month() { today.year() + 1 } else { today.year() }),
        };
        // "March after next", "March in 1 year", "mars dans 2 ans"
        let (e, y) = if let Some(e2) = t.phrase(e, if self.fr() { "d apres" } else { "after next" }) {
            (e2, y + 1)
        } else if let Some((e2, d)) = t
            .phrase(e, if self.fr() { "dans" } else { "in" })
            .and_then(|k| duration_at(t, k, self.lang))
            .filter(|(_, d)| d.unit == Grain::Year && d.value.fract() == 0.0 && d.value <= 1000.0)
        {
            (e2, y + d.value as i32)
        } else if j == i && self.year_at(i + 1).is_none() {
            return None; // a month name alone is also a name ("april the giraffe", "bruno mars")
        } else {
            (e, y)
        };
        Some((e, TV::Inst(at(NaiveDate::from_ymd_opt(y, m, 1)?, 0, 0), Grain::Month)))
    }

    /// "du 3 au 5 mars", "du lundi au mercredi", "from march 13 to march 15", "from monday to wednesday".
    pub(super) fn date_interval_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        let (j, closes): (usize, &[&str]) = if self.fr() {
            if t.is(i, "du") {
                (i + 1, &["au", "jusqu au"])
            } else if t.is(i, "de") && self.weekday_at(i + 1).is_some() {
                (i + 1, &["a", "jusqu a"])
            } else if t.is(i, "entre") {
                (if t.is(i + 1, "le") { i + 2 } else { i + 1 }, &["et le", "et"])
            } else if t.is_num(i) || self.weekday_at(i).is_some() && t.is_num(i + 1) {
                (i, &["au", "jusqu au", "-"]) // "13 au 15 juillet", "samedi 13 au dimanche 15 juillet"
            } else {
                return None;
            }
        } else if t.is(i, "from") {
            (if t.is(i + 1, "the") { i + 2 } else { i + 1 }, &["to the", "to", "until", "till", "through", "thru", "-"])
        } else if t.is(i, "between") {
            (if t.is(i + 1, "the") { i + 2 } else { i + 1 }, &["and the", "and"])
        } else if self.month_at(i).is_some() || t.is_num(i) {
            (i, &["-", "to", "through", "thru", "till", "until"]) // "July 13-15", "Aug 8 - Aug 12", "12 to 16 september"
        } else {
            return None;
        };
        let opener = j != i;
        // weekdays
        if let Some(w1) = self.weekday_at(j).filter(|_| opener && !t.is_num(j + 1)) {
            let k = t.phrases(j + 1, closes)?;
            let w2 = self.weekday_at(k)?;
            let (_, d1) = self.weekday_date_at(j)?;
            let diff = (w2 as i64 - w1 as i64).rem_euclid(7);
            let d2 = d1 + Duration::days(diff);
            return Some((k + 1, TV::Itv(at(d1, 0, 0), at(d2 + Duration::days(1), 0, 0), Grain::Day)));
        }
        // first date: full day-month, or a bare day number (month from the second date); a
        // weekday before a day number is redundant ("du samedi 13 au dimanche 15 juillet")
        let skip_wd = |k: usize| if self.weekday_at(k).is_some() && t.is_num(k + 1) { k + 1 } else { k };
        let j = skip_wd(j);
        let full1 = self.daymonth_at(j);
        let (e1, d1, m1, y1) = match full1 {
            Some(x) => (x.0, x.1, Some(x.2), x.3),
            None => {
                let (e, d) = self.dayn_at(j)?;
                (e, d, None, None)
            }
        };
        let k = t.phrases(e1, closes)?;
        let k = skip_wd(if self.fr() && t.is(k, "le") { k + 1 } else { k });
        let (e2, d2, m2, y2) = match self.daymonth_at(k) {
            Some(x) => x,
            None => {
                // "du 13 au 18", "entre le 13 et le dix-huit": this month, or the next if over
                let m1 = m1.or_else(|| opener.then(|| self.today().month() + u32::from(d1 < self.today().day())))?;
                let (e, d) = self.dayn_at(k)?;
                (e, d, m1, y1)
            }
        };
        let m1 = m1.unwrap_or(m2);
        let y = y1.or(y2);
        let start = self.resolve_dm(d1, m1, y)?;
        let mut end = NaiveDate::from_ymd_opt(start.year(), m2, d2)?;
        if end < start {
            end = NaiveDate::from_ymd_opt(start.year() + 1, m2, d2)?;
        }
        Some((e2, TV::Itv(at(start, 0, 0), at(end + Duration::days(1), 0, 0), Grain::Day)))
    }

    pub(super) fn now_at(&self, i: usize) -> Option<(usize, TV)> {
        let ps: &[&str] = if self.fr() {
            &["maintenant", "tout de suite", "immediatement", "en ce moment"]
        } else {
            &["right now", "just now", "at the moment", "now", "right away"]
        };
        let e = self.t.phrases(i, ps)?;
        Some((e, TV::Abs(self.abs, Grain::Second)))
    }
}
