//! Holidays that are fixed or computable: Christmas, New Year, Halloween, Toussaint, 14 juillet,
//! Thanksgiving and the other n-th weekdays of a month, Easter and the feasts that follow from
//! it (Western and Orthodox), and the Jewish holidays (the Hebrew calendar is arithmetic: the
//! molad and the postponement rules give Rosh Hashanah, and every holiday follows from it or
//! from Passover). Other lunar-calendar holidays (Eid, Diwali, Chinese New Year…) would need
//! tables and are not covered. With a year, "next", "last", "of next year", "in 2
//! years", "3 months ago"; alone, the next one not before today.

use super::spans::shift;
use super::*;

#[derive(Clone, Copy)]
enum Rule {
    Fixed(u32, u32),
    /// month, weekday (0 = Monday), n-th (negative: from the end)
    NthWeekday(u32, u32, i32),
    /// the day after the n-th weekday (Black Friday)
    DayAfterNth(u32, u32, i32),
    /// days from Easter Sunday
    Easter(i64),
    /// days from Orthodox Easter Sunday
    Orthodox(i64),
    /// a fixed date moved off the weekend: Saturday → Friday, Sunday → Monday (Boss's Day)
    Weekday(u32, u32),
    /// a fixed date moved back one day from Sunday (King's Day)
    NotSunday(u32, u32),
    /// Parsi New Year (Navroz of the Shahenshahi calendar, whose year is always 365 days: it
    /// comes one day earlier in the Gregorian calendar every leap year)
    Shahenshahi,
    /// a Jewish holiday, given as its eve (the day it begins at sundown, as Duckling)
    Hebrew(Heb),
}

#[derive(Clone, Copy)]
enum Heb {
    /// days after Rosh Hashanah (1 Tishrei) of the autumn's Hebrew year
    Tishrei(i64),
    /// days after Passover (15 Nisan) of the spring
    Nisan(i64),
    /// 15 Shevat (Tu BiShvat): 59 days before Passover, 89 in a leap year
    Shevat15,
    /// 27 Nisan, moved off Friday and Sunday
    YomHaShoah,
    /// 5 Iyar, moved off Friday, Saturday and Monday
    YomHaAtzmaut,
    /// 9 Av, moved off Saturday
    TishaBAv,
    /// 25 Kislev (first day of Hanukkah)
    Kislev25,
}

const EN: &[(&str, Rule)] = &[
    ("christmas eve", Rule::Fixed(12, 24)),
    ("christmas day", Rule::Fixed(12, 25)),
    ("christmas", Rule::Fixed(12, 25)),
    ("xmas", Rule::Fixed(12, 25)),
    ("new year s eve", Rule::Fixed(12, 31)),
    ("new years eve", Rule::Fixed(12, 31)),
    ("new year s day", Rule::Fixed(1, 1)),
    ("new years day", Rule::Fixed(1, 1)),
    ("valentine s day", Rule::Fixed(2, 14)),
    ("valentines day", Rule::Fixed(2, 14)),
    ("valentine day", Rule::Fixed(2, 14)),
    ("halloween", Rule::Fixed(10, 31)),
    ("groundhog day", Rule::Fixed(2, 2)),
    ("groundhogs day", Rule::Fixed(2, 2)),
    ("groundhog s day", Rule::Fixed(2, 2)),
    ("veterans day", Rule::Fixed(11, 11)),
    ("veteran s day", Rule::Fixed(11, 11)),
    ("veteran day", Rule::Fixed(11, 11)),
    ("vimy ridge day", Rule::Fixed(4, 9)),
    ("washington s birthday", Rule::NthWeekday(2, 0, 3)),
    ("presidents day", Rule::NthWeekday(2, 0, 3)),
    ("president s day", Rule::NthWeekday(2, 0, 3)),
    ("presidents s day", Rule::NthWeekday(2, 0, 3)),
    ("world vegan day", Rule::Fixed(11, 1)),
    ("st patrick s day", Rule::Fixed(3, 17)),
    ("st patricks day", Rule::Fixed(3, 17)),
    ("st paddy s day", Rule::Fixed(3, 17)),
    ("saint patrick s day", Rule::Fixed(3, 17)),
    ("saint patricks day", Rule::Fixed(3, 17)),
    ("saint paddy s day", Rule::Fixed(3, 17)),
    ("thanksgiving day", Rule::NthWeekday(11, 3, 4)),
    ("thanksgiving", Rule::NthWeekday(11, 3, 4)),
    ("black friday", Rule::DayAfterNth(11, 3, 4)),
    ("martin luther king s day", Rule::NthWeekday(1, 0, 3)),
    ("martin luther kings day", Rule::NthWeekday(1, 0, 3)),
    ("martin luther king day", Rule::NthWeekday(1, 0, 3)),
    ("mlk jr . day", Rule::NthWeekday(1, 0, 3)),
    ("mlk day", Rule::NthWeekday(1, 0, 3)),
    ("civil rights day", Rule::NthWeekday(1, 0, 3)),
    ("memorial day", Rule::NthWeekday(5, 0, -1)),
    ("labor day", Rule::NthWeekday(9, 0, 1)),
    ("mother s day", Rule::NthWeekday(5, 6, 2)),
    ("mothers day", Rule::NthWeekday(5, 6, 2)),
    ("father s day", Rule::NthWeekday(6, 6, 3)),
    ("fathers day", Rule::NthWeekday(6, 6, 3)),
    ("boss s day", Rule::Weekday(10, 16)),
    ("bosses day", Rule::Weekday(10, 16)),
    ("boss day", Rule::Weekday(10, 16)),
    ("boss s", Rule::Weekday(10, 16)),
    ("king s day", Rule::NotSunday(4, 27)),
    ("koningsdag", Rule::NotSunday(4, 27)),
    ("parsi new year", Rule::Shahenshahi),
    ("jamshedi navroz", Rule::Shahenshahi),
    ("yom kippur", Rule::Hebrew(Heb::Tishrei(9))),
    ("shemini atzeret", Rule::Hebrew(Heb::Tishrei(21))),
    ("simchat torah", Rule::Hebrew(Heb::Tishrei(22))),
    ("simhat torah", Rule::Hebrew(Heb::Tishrei(22))),
    ("tisha b av", Rule::Hebrew(Heb::TishaBAv)),
    ("tisha bav", Rule::Hebrew(Heb::TishaBAv)),
    ("yom haatzmaut", Rule::Hebrew(Heb::YomHaAtzmaut)),
    ("yom ha atzmaut", Rule::Hebrew(Heb::YomHaAtzmaut)),
    ("lag b omer", Rule::Hebrew(Heb::Nisan(33))),
    ("lag baomer", Rule::Hebrew(Heb::Nisan(33))),
    ("yom hashoah", Rule::Hebrew(Heb::YomHaShoah)),
    ("holocaust day", Rule::Hebrew(Heb::YomHaShoah)),
    ("holocaust remembrance day", Rule::Hebrew(Heb::YomHaShoah)),
    ("shushan purim", Rule::Hebrew(Heb::Nisan(-29))),
    ("purim", Rule::Hebrew(Heb::Nisan(-30))),
    ("tu bishvat", Rule::Hebrew(Heb::Shevat15)),
    ("tu b shvat", Rule::Hebrew(Heb::Shevat15)),
    ("easter sunday", Rule::Easter(0)),
    ("easter monday", Rule::Easter(1)),
    ("easter mon", Rule::Easter(1)),
    ("easter", Rule::Easter(0)),
    ("good friday", Rule::Easter(-2)),
    ("maundy thursday", Rule::Easter(-3)),
    ("covenant thu", Rule::Easter(-3)),
    ("thu of mysteries", Rule::Easter(-3)),
    ("palm sunday", Rule::Easter(-7)),
    ("branch sunday", Rule::Easter(-7)),
    ("ash wednesday", Rule::Easter(-46)),
    ("shrove tuesday", Rule::Easter(-47)),
    ("pancake day", Rule::Easter(-47)),
    ("mardi gras", Rule::Easter(-47)),
    ("ascension day", Rule::Easter(39)),
    ("pentecost", Rule::Easter(49)),
    ("white sunday", Rule::Easter(49)),
    ("whit sunday", Rule::Easter(49)),
    ("whitsunday", Rule::Easter(49)),
    ("whit monday", Rule::Easter(50)),
    ("monday of the holy spirit", Rule::Easter(50)),
    ("trinity sunday", Rule::Easter(56)),
    ("corpus christi", Rule::Easter(60)),
    ("orthodox easter sunday", Rule::Orthodox(0)),
    ("orthodox easter", Rule::Orthodox(0)),
    ("orthodox good friday", Rule::Orthodox(-2)),
    ("orthodox great friday", Rule::Orthodox(-2)),
    ("clean monday", Rule::Orthodox(-48)),
    ("orthodox shrove monday", Rule::Orthodox(-48)),
    ("lazarus saturday", Rule::Orthodox(-8)),
];

const FR: &[(&str, Rule)] = &[
    ("la veille de noel", Rule::Fixed(12, 24)),
    ("jour de noel", Rule::Fixed(12, 25)),
    ("noel", Rule::Fixed(12, 25)),
    ("la saint sylvestre", Rule::Fixed(12, 31)),
    ("saint sylvestre", Rule::Fixed(12, 31)),
    ("jour de l an", Rule::Fixed(1, 1)),
    ("nouvel an", Rule::Fixed(1, 1)),
    ("premier de l an", Rule::Fixed(1, 1)),
    ("saint valentin", Rule::Fixed(2, 14)),
    ("fete du travail", Rule::Fixed(5, 1)),
    ("fete nationale", Rule::Fixed(7, 14)),
    ("assomption", Rule::Fixed(8, 15)),
    ("toussaint", Rule::Fixed(11, 1)),
    ("jour des morts", Rule::Fixed(11, 1)),
    ("armistice", Rule::Fixed(11, 11)),
    ("halloween", Rule::Fixed(10, 31)),
    ("lundi de paques", Rule::Easter(1)),
    ("vendredi saint", Rule::Easter(-2)),
    ("paques", Rule::Easter(0)),
    ("mardi gras", Rule::Easter(-47)),
    ("ascension", Rule::Easter(39)),
    ("lundi de pentecote", Rule::Easter(50)),
    ("pentecote", Rule::Easter(49)),
];

/// Western Easter Sunday (anonymous Gregorian computus).
fn easter(y: i32) -> Option<NaiveDate> {
    let (a, b, c) = (y % 19, y / 100, y % 100);
    let (d, e) = (b / 4, b % 4);
    let g = (8 * b + 13) / 25;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 19 * l) / 433;
    let month = (h + l - 7 * m + 90) / 25;
    let day = (h + l - 7 * m + 33 * month + 19) % 32;
    NaiveDate::from_ymd_opt(y, month as u32, day as u32)
}

/// Orthodox Easter Sunday (Julian computus, in the Gregorian calendar; 1900–2099).
fn orthodox_easter(y: i32) -> Option<NaiveDate> {
    let (a, b, c) = (y % 4, y % 7, y % 19);
    let d = (19 * c + 15) % 30;
    let e = (2 * a + 4 * b - d + 34) % 7;
    let month = (d + e + 114) / 31;
    let day = (d + e + 114) % 31 + 1;
    Some(NaiveDate::from_ymd_opt(y, month as u32, day as u32)? + Duration::days(13))
}

/// Days from the Hebrew epoch to Rosh Hashanah of Hebrew year `y`, before the postponements
/// that depend on the year's length (Reingold & Dershowitz, Calendrical Calculations).
fn hebrew_elapsed(y: i64) -> i64 {
    let months = (235 * y - 234).div_euclid(19);
    let parts = 12084 + 13753 * months;
    let days = 29 * months + parts.div_euclid(25920);
    if (3 * (days + 1)).rem_euclid(7) < 3 {
        days + 1
    } else {
        days
    }
}

/// Rosh Hashanah (1 Tishrei) of Hebrew year `y`.
fn rosh_hashanah(y: i64) -> Option<NaiveDate> {
    let (a, b, c) = (hebrew_elapsed(y - 1), hebrew_elapsed(y), hebrew_elapsed(y + 1));
    let correction = if c - b == 356 {
        2
    } else if b - a == 382 {
        1
    } else {
        0
    };
    const EPOCH: i64 = -1_373_427; // 1 Tishrei AM 1, as a day count from 0001-01-01 (day 1)
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(EPOCH + b + correction).ok()?)
}

/// Passover (15 Nisan) in Gregorian year `g`: 163 days before the next Rosh Hashanah.
fn passover(g: i32) -> Option<NaiveDate> {
    Some(rosh_hashanah(g as i64 + 3761)? - Duration::days(163))
}

/// The day a Jewish holiday is observed in Gregorian year `g`.
fn hebrew_day(h: Heb, g: i32) -> Option<NaiveDate> {
    let wd = |d: NaiveDate| d.weekday().num_days_from_monday();
    Some(match h {
        Heb::Tishrei(k) => rosh_hashanah(g as i64 + 3761)? + Duration::days(k),
        Heb::Nisan(k) => passover(g)? + Duration::days(k),
        Heb::Shevat15 => {
            let leap = (7 * (g as i64 + 3760) + 1).rem_euclid(19) < 7;
            passover(g)? - Duration::days(if leap { 89 } else { 59 })
        }
        Heb::YomHaShoah => {
            let d = passover(g)? + Duration::days(12);
            match wd(d) {
                4 => d - Duration::days(1),
                6 => d + Duration::days(1),
                _ => d,
            }
        }
        Heb::YomHaAtzmaut => {
            let d = passover(g)? + Duration::days(20);
            match wd(d) {
                4 => d - Duration::days(1),
                5 => d - Duration::days(2),
                0 => d + Duration::days(1),
                _ => d,
            }
        }
        Heb::TishaBAv => {
            let d = passover(g)? + Duration::days(112);
            if wd(d) == 5 {
                d + Duration::days(1)
            } else {
                d
            }
        }
        Heb::Kislev25 => {
            let y = g as i64 + 3761;
            let rh = rosh_hashanah(y)?;
            let long_cheshvan = (rosh_hashanah(y + 1)? - rh).num_days() % 10 == 5;
            rh + Duration::days(30 + if long_cheshvan { 30 } else { 29 } + 24)
        }
    })
}

fn nth_weekday(y: i32, m: u32, wd: u32, n: i32) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(y, m, 1)?;
    let days: Vec<NaiveDate> = first.iter_days().take_while(|d| d.month() == m).filter(|d| d.weekday().num_days_from_monday() == wd).collect();
    if n > 0 {
        days.get(n as usize - 1).copied()
    } else {
        days.len().checked_sub((-n) as usize).and_then(|k| days.get(k).copied())
    }
}

fn on(rule: Rule, y: i32) -> Option<NaiveDate> {
    match rule {
        Rule::Fixed(m, d) => NaiveDate::from_ymd_opt(y, m, d),
        Rule::NthWeekday(m, wd, n) => nth_weekday(y, m, wd, n),
        Rule::DayAfterNth(m, wd, n) => Some(nth_weekday(y, m, wd, n)? + Duration::days(1)),
        Rule::Easter(k) => Some(easter(y)? + Duration::days(k)),
        Rule::Orthodox(k) => Some(orthodox_easter(y)? + Duration::days(k)),
        Rule::Weekday(m, d) => {
            let x = NaiveDate::from_ymd_opt(y, m, d)?;
            Some(match x.weekday().num_days_from_monday() {
                5 => x - Duration::days(1),
                6 => x + Duration::days(1),
                _ => x,
            })
        }
        Rule::NotSunday(m, d) => {
            let x = NaiveDate::from_ymd_opt(y, m, d)?;
            Some(if x.weekday().num_days_from_monday() == 6 { x - Duration::days(1) } else { x })
        }
        Rule::Hebrew(h) => Some(hebrew_day(h, y)? - Duration::days(1)),
        // 1 Farvardin of the Shahenshahi year was 17 August 2018
        Rule::Shahenshahi => NaiveDate::from_ymd_opt(2018, 8, 17)?.checked_add_signed(Duration::try_days(365 * (y as i64 - 2018))?),
    }
}

impl Cx<'_> {
    /// The year a holiday is asked for, after its name: "2013", "two thousand ten", "of next
    /// year", "in 3 years", "9 months from now", "3 months ago".
    fn holiday_year_at(&self, e: usize) -> Option<(usize, i32)> {
        let t = self.t;
        if let Some(y) = self.year_at(e) {
            return Some((e + 1, y));
        }
        if let Some(m) = number_at(t, e, self.lang, false).filter(|m| m.spelled && (1900.0..=2199.0).contains(&m.value)) {
            return Some((m.end, m.value as i32));
        }
        let this = self.today().year();
        let rel: &[(&str, i32)] = if self.fr() {
            &[("de l annee prochaine", 1), ("de l annee derniere", -1), ("de cette annee", 0)]
        } else {
            &[("of next year", 1), ("of last year", -1), ("of this year", 0)]
        };
        if let Some((e2, k)) = rel.iter().find_map(|(p, k)| Some((t.phrase(e, p)?, *k))) {
            return Some((e2, this + k));
        }
        let (e2, sign, j) = if t.is(e, if self.fr() { "dans" } else { "in" }) {
            let (e2, _) = duration_at(t, e + 1, self.lang)?;
            (e2, 1, e + 1)
        } else {
            let (e2, _) = duration_at(t, e, self.lang)?;
            let ps: &[(&str, i64)] = if self.fr() { &[("plus tard", 1)] } else { &[("from now", 1), ("hence", 1), ("ago", -1)] };
            let (e3, s) = ps.iter().find_map(|(p, s)| Some((t.phrase(e2, p)?, *s)))?;
            return self.shifted_year(e, s).map(|y| (e3, y));
        };
        self.shifted_year(j, sign).map(|y| (e2, y))
    }

    /// The year of today moved by the duration at `j`.
    fn shifted_year(&self, j: usize, sign: i64) -> Option<i32> {
        let (_, d) = duration_at(self.t, j, self.lang)?;
        if d.value.fract() != 0.0 || d.value.abs() > 1000.0 {
            return None;
        }
        let n = d.value as i64 * sign;
        let g = match d.unit {
            Grain::Year | Grain::Month | Grain::Quarter | Grain::Week => d.unit,
            _ => Grain::Day,
        };
        Some(shift(self.now, g, n)?.year())
    }

    /// A holiday as a date: "christmas", "thanksgiving 2014", "last easter", "next MLK day", "MLK
    /// day of last year", "la toussaint", "le jour de noël", "fête du travail".
    pub(super) fn holiday_at(&self, i: usize) -> Option<(usize, NaiveDate)> {
        let t = self.t;
        let (j, mode) = if self.fr() {
            let pre = ["le jour de la", "la journee de la", "le jour de", "la journee de", "le jour des", "le", "la", "l"];
            (pre.iter().filter_map(|p| t.phrase(i, p)).find(|&j| FR.iter().any(|(p, _)| t.phrase(j, p).is_some())).unwrap_or(i), 0)
        } else {
            let j = if t.is(i, "the") { i + 1 } else { i };
            match t.key(j) {
                "this" | "next" | "coming" | "upcoming" => (j + 1, 0),
                "last" | "past" | "previous" => (j + 1, -1),
                _ => (j, 0),
            }
        };
        // not the Western holiday inside another calendar's name ("chinese new year's day")
        if j > 0 && t.any(j - 1, &["chinese", "lunar", "islamic", "parsi", "jewish", "hindu", "orthodox", "persian", "chinois", "lunaire"]) {
            return None;
        }
        let table = if self.fr() { FR } else { EN };
        let (e, rule) = table.iter().find_map(|(p, r)| Some((t.phrase(j, p)?, *r)))?;
        // an apostrophe only before the possessive "s": not "Martin Luther King' day"
        if !self.fr() && !matches!(rule, Rule::Hebrew(_)) && (j..e).any(|k| t.is(k, "'") && !t.is(k + 1, "s")) {
            return None;
        }
        let today = self.today();
        if let Some((e2, y)) = self.holiday_year_at(e).filter(|_| mode == 0) {
            return Some((e2, on(rule, y)?));
        }
        let y = today.year();
        let d = if mode < 0 {
            (0..3).filter_map(|k| on(rule, y - k)).find(|d| *d < today)?
        } else {
            (0..3).filter_map(|k| on(rule, y + k)).find(|d| *d >= today)?
        };
        Some((e, d))
    }

    /// "the closest Monday to Oct 5th", "the second closest Mon to October fifth", "the 3rd closest
    /// xmas to today": the n-th occurrence of a weekday or a holiday nearest a date.
    pub(super) fn closest_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        if self.fr() || !t.is(i, "the") {
            return None;
        }
        let (j, n) = match number_at(t, i + 1, self.lang, false) {
            Some(m) if m.ordinal && (1.0..=10.0).contains(&m.value) => (m.end, m.value as usize),
            _ => (i + 1, 1),
        };
        let k = t.phrase(j, "closest")?;
        enum What {
            Day(u32),
            Holiday(Rule),
        }
        let (e, what) = match self.weekday_at(k) {
            Some(wd) => (k + 1, What::Day(wd)),
            None => {
                let (e, rule) = EN.iter().find_map(|(p, r)| Some((t.phrase(k, p)?, *r)))?;
                (e, What::Holiday(rule))
            }
        };
        let e = t.phrase(e, "to")?;
        let (e2, anchor) = match t.phrase(e, "today") {
            Some(e2) => (e2, self.today()),
            None => self.date_at(e)?,
        };
        let mut found: Vec<NaiveDate> = match what {
            What::Day(wd) => (-40..=40).map(|k| anchor + Duration::days(k)).filter(|d| d.weekday().num_days_from_monday() == wd).collect(),
            What::Holiday(rule) => (-12..=12).filter_map(|k| on(rule, anchor.year() + k)).collect(),
        };
        found.sort_by_key(|d| ((*d - anchor).num_days().abs(), *d));
        let d = *found.get(n - 1)?;
        Some((e2, TV::Inst(at(d, 0, 0), Grain::Day)))
    }

    /// Holidays that last: "lent 2018" (Ash Wednesday to Easter), "great fast 2018" (Clean Monday
    /// to Lazarus Saturday).
    pub(super) fn holiday_span_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        if self.fr() {
            return None;
        }
        // Jewish holidays of several days, from their eve: (name, first day, days)
        let hebrew: &[(&str, Heb, i64)] = &[
            ("rosh hashanah", Heb::Tishrei(0), 2),
            ("rosh hashana", Heb::Tishrei(0), 2),
            ("rosh hashanna", Heb::Tishrei(0), 2),
            ("passover", Heb::Nisan(0), 8),
            ("pesach", Heb::Nisan(0), 8),
            ("sukkot", Heb::Tishrei(14), 8),
            ("succot", Heb::Tishrei(14), 8),
            ("sukkos", Heb::Tishrei(14), 8),
            ("succos", Heb::Tishrei(14), 8),
            ("feast of the ingathering", Heb::Tishrei(14), 8),
            ("feast of tabernacles", Heb::Tishrei(14), 8),
            ("shavuot", Heb::Nisan(50), 2),
            ("shavuos", Heb::Nisan(50), 2),
            ("hanukkah", Heb::Kislev25, 7),
            ("hanukah", Heb::Kislev25, 7),
            ("hannukkah", Heb::Kislev25, 7),
            ("hannukah", Heb::Kislev25, 7),
            ("chanukah", Heb::Kislev25, 7),
            ("chanukkah", Heb::Kislev25, 7),
        ];
        if let Some((e, h, n)) = hebrew.iter().find_map(|(p, h, n)| Some((t.phrase(i, p)?, *h, *n))) {
            let today = self.today();
            let (e, d) = match self.holiday_year_at(e) {
                Some((e2, y)) => (e2, hebrew_day(h, y)?),
                None => (e, (0..2).filter_map(|k| hebrew_day(h, today.year() + k)).find(|d| *d + Duration::days(n) > today)?),
            };
            return Some((e, TV::Itv(at(d - Duration::days(1), 0, 0), at(d + Duration::days(n), 0, 0), Grain::Day)));
        }
        let rows: &[(&str, u8)] = &[("lent", 0), ("great lent", 1), ("great fast", 1)];
        let (e, kind) = rows.iter().rev().find_map(|(p, k)| Some((t.phrase(i, p)?, *k)))?;
        let (e, y) = self.holiday_year_at(e).unwrap_or((e, self.today().year()));
        Some((
            e,
            match kind {
                0 => TV::Itv(at(easter(y)? - Duration::days(46), 0, 0), at(easter(y)?, 0, 0), Grain::Day),
                _ => TV::Itv(at(orthodox_easter(y)? - Duration::days(48), 0, 0), at(orthodox_easter(y)? - Duration::days(8), 0, 0), Grain::Day),
            },
        ))
    }
}
