//! More numeric dates: "2/15" and "17/2" (the day past 12 makes it a date), "2 / 15", spaced
//! French dates ("le 17 02", "20 02 2014", "24 12 14"), spaced English dates with a four-digit
//! year ("10 31 1974", "31 10 1974"), dotted "10.31.1974", month names between
//! numbers ("31/Oct/1974", "31-Oct-74"), and month-year "2/2013", "2014-10", "2014/10".

use super::dates::two_digit_year;
use super::*;

impl Cx<'_> {
    /// (day, month) from two numbers in the language's order, swapped when only that fits.
    fn dm(&self, a: i64, b: i64) -> Option<(u32, u32)> {
        let (mut d, mut m) = if self.fr() { (a, b) } else { (b, a) };
        if m > 12 && d <= 12 {
            std::mem::swap(&mut d, &mut m);
        }
        ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some((d as u32, m as u32))
    }

    /// Dates the stricter `numeric_date_at` leaves: "2/15" and "2 / 15" (one number past 12),
    /// "10.31.1974", "31/Oct/1974", "31-Oct-74", French "le 17 02", "20 02 2014", "31 10".
    pub(super) fn numeric_date_more_at(&self, i: usize) -> Option<(usize, NaiveDate)> {
        let t = self.t;
        let (a, na) = t.int(i)?;
        if na > 2 {
            return None;
        }
        // 31/Oct/1974, 31-Oct-74
        if t.any(i + 1, &["/", "-"]) && t.adj(i + 1) && t.adj(i + 2) {
            if let Some(m) = self.month_at(i + 2) {
                let sep = t.key(i + 1).to_string();
                if t.is(i + 3, &sep) && t.adj(i + 3) && t.adj(i + 4) {
                    let (y, ny) = t.int(i + 4)?;
                    let y = if ny == 2 { two_digit_year(y) } else { y as i32 };
                    return Some((i + 5, NaiveDate::from_ymd_opt(y, m, a as u32)?));
                }
            }
        }
        // 2/15, 2 / 15: a date when one of the two is past 12 (else "3/4" stays a fraction)
        if t.is(i + 1, "/") && t.adj(i + 1) == t.adj(i + 2) && !t.any(i + 3, &["/", "-"]) {
            let (b, nb) = t.int(i + 2)?;
            if nb <= 2 && (a > 12) != (b > 12) {
                let (d, m) = self.dm(a, b)?;
                return Some((i + 3, self.resolve_dm(d, m, None)?));
            }
        }
        // 10.31.1974 (a four-digit year)
        if t.is(i + 1, ".") && t.adj(i + 1) && t.adj(i + 2) && t.is(i + 3, ".") && t.adj(i + 3) && t.adj(i + 4) {
            let (b, nb) = t.int(i + 2)?;
            let (y, ny) = t.int(i + 4)?;
            if nb <= 2 && ny == 4 {
                let (d, m) = self.dm(a, b)?;
                return Some((i + 5, NaiveDate::from_ymd_opt(y as i32, m, d)?));
            }
        }
        self.spaced_date_at(i)
    }

    /// French "17 02", "le 17 2", "20 02 2014", "24 12 14": day and month apart, with "le", a
    /// year, or a month of two digits.
    fn spaced_date_at(&self, i: usize) -> Option<(usize, NaiveDate)> {
        let t = self.t;
        if t.adj(i + 1) || !t.is_num(i + 1) {
            return None;
        }
        // English "31 10 1974", "10 31 1974": only with a four-digit year, either order
        if !self.fr() {
            let (a, na) = t.int(i)?;
            let (b, nb) = t.int(i + 1)?;
            let (y, ny) = t.int(i + 2).filter(|_| t.is_num(i + 2) && !t.adj(i + 2))?;
            if na > 2 || nb > 2 || ny != 4 || !(1900..=2199).contains(&y) || t.is_num(i + 3) {
                return None;
            }
            let (d, m) = self.dm(a, b)?;
            return Some((i + 3, NaiveDate::from_ymd_opt(y as i32, m, d)?));
        }
        let (d, _) = t.int(i)?;
        let (m, nm) = t.int(i + 1)?;
        if nm > 2 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        let year = if t.is_num(i + 2) && !t.adj(i + 2) { t.int(i + 2).filter(|(_, n)| *n == 2 || *n == 4) } else { None };
        if t.is_num(i + 2) && year.is_none() || t.is_num(i + 3) {
            return None; // a longer run of numbers (a phone number, a list)
        }
        let prefixed = i > 0 && t.is(i - 1, "le");
        if let Some((y, ny)) = year {
            let y = if ny == 2 { two_digit_year(y) } else { y as i32 };
            return Some((i + 3, NaiveDate::from_ymd_opt(y, m as u32, d as u32)?));
        }
        (prefixed || nm == 2).then(|| Some((i + 2, self.resolve_dm(d as u32, m as u32, None)?)))?
    }

    /// Month and year in digits: "2/2013", "2014-10", "2014/10" (grain month).
    pub(super) fn month_year_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        let (a, na) = t.int(i)?;
        if !(t.any(i + 1, &["/", "-"]) && t.adj(i + 1) && t.adj(i + 2)) || t.any(i + 3, &["/", "-", ":"]) {
            return None;
        }
        let (b, nb) = t.int(i + 2)?;
        let (y, m) = match (na, nb) {
            (1 | 2, 4) => (b, a),
            (4, 1 | 2) => (a, b),
            _ => return None,
        };
        if !(1..=12).contains(&m) || !(1900..=2199).contains(&y) {
            return None;
        }
        Some((i + 3, TV::Inst(at(NaiveDate::from_ymd_opt(y as i32, m as u32, 1)?, 0, 0), Grain::Month)))
    }
}
