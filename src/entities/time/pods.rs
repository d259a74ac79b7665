//! Parts of the day: "ce soir", "tonight", "tôt le matin", "pendant le déjeuner", "after lunch",
//! "late last night", "en fin d'après-midi", after a date ("lundi dans l'après-midi", "le 15
//! février le matin", "tomorrow lunch") or before one ("matinée du 15 février").

use super::*;

/// (phrase, from hour, to hour). Hours as Duckling's. English mornings start at midnight.
type PodRow = (&'static str, u32, u32);

/// Phrases that name a part of the day alone (today) as well as after a date.
const FR_ANY: &[PodRow] = &[
    ("tres tot le matin", 7, 9),
    ("tot le matin", 7, 9),
    ("le matin tres tot", 7, 9),
    ("le matin tot", 7, 9),
    ("de bonne heure le matin", 7, 9),
    ("pendant le dejeuner", 12, 14),
    ("a l heure du dejeuner", 12, 14),
    ("au moment du dejeuner", 12, 14),
    ("au moment de dejeuner", 12, 14),
    ("a l heure de dejeuner", 12, 14),
    ("avant le dejeuner", 10, 12),
    ("avant dejeuner", 10, 12),
    ("apres le dejeuner", 13, 17),
    ("apres dejeuner", 13, 17),
    ("apres le travail", 17, 21),
    ("des le matin", 4, 12),
    ("des la matinee", 4, 12),
    ("un peu plus tard dans l apres midi", 12, 19),
    ("plus tard dans l apres midi", 12, 19),
    ("un peu plus tard dans la soiree", 18, 24),
    ("plus tard dans la soiree", 18, 24),
    ("dans l apres midi", 12, 19),
    ("dans la soiree", 18, 24),
    ("dans la matinee", 4, 12),
    ("en soiree", 18, 24),
    ("en matinee", 4, 12),
    ("le matin", 4, 12),
    ("le soir", 18, 24),
    ("l apres midi", 12, 19),
];
/// Only after a date ("demain matin", "lundi soir", "la veille au soir").
const FR_AFTER_DATE: &[PodRow] = &[
    ("au soir", 18, 24),
    ("au matin", 4, 12),
    ("matin", 4, 12),
    ("matinee", 4, 12),
    ("apres midi", 12, 19),
    ("aprem", 12, 19),
    ("soir", 18, 24),
    ("soiree", 18, 24),
];
const FR_ALONE: &[PodRow] = &[("ce matin", 4, 12), ("cet apres midi", 12, 19), ("cet aprem", 12, 19), ("ce soir", 18, 24), ("cette soiree", 18, 24)];
const EN_ANY: &[PodRow] = &[
    ("in the early hours of the morning", 0, 9),
    ("early in the morning", 0, 9),
    ("early morning", 0, 9),
    ("after lunch", 13, 17),
    ("after school", 15, 21),
    ("after work", 17, 21),
    ("at lunch", 12, 14),
    ("for lunch", 12, 14),
    ("in the morning", 0, 12),
    ("in the afternoon", 12, 19),
    ("in afternoon", 12, 19),
    ("in the evening", 18, 24),
];
const EN_AFTER_DATE: &[PodRow] = &[
    ("morning", 0, 12),
    ("afternoonish", 12, 19),
    ("afternoon", 12, 19),
    ("evening", 18, 24),
    ("night", 18, 24),
    ("lunch", 12, 14),
    ("at night", 18, 24),
];
const EN_ALONE: &[PodRow] = &[
    ("late tonight", 21, 24),
    ("late tonite", 21, 24),
    ("tonight", 18, 24),
    ("tonite", 18, 24),
    ("this morning", 0, 12),
    ("this afternoon", 12, 19),
    ("this evening", 18, 24),
];

fn find(t: &Toks, j: usize, rows: &[PodRow]) -> Option<(usize, Pod)> {
    rows.iter().find_map(|(p, a, b)| t.phrase(j, p).map(|e| (e, Pod { from: *a, to: *b })))
}

impl Cx<'_> {
    /// French "[en] début / milieu / fin de matinée, d'après-midi, de journée, de soirée" (hours as
    /// Duckling: début de matinée 7–9, milieu 9–11, fin 10–12; après-midi 12–14, 14–17, 17–19;
    /// journée 6–10, 11–16, 17–21; soirée 18–21, fin 21–24).
    fn fr_boundary_pod(&self, j: usize) -> Option<(usize, Pod)> {
        let t = self.t;
        if !self.fr() {
            return None;
        }
        let j = t.phrases(j, &["en", "au", "a la"]).unwrap_or(j);
        let which = match t.key(j) {
            "debut" => 0,
            "milieu" => 1,
            "fin" => 2,
            _ => return None,
        };
        let k = t.phrases(j + 1, &["de la", "de l", "de", "d"])?;
        let table: [(&str, [(u32, u32); 3]); 4] = [
            ("matinee", [(7, 9), (9, 11), (10, 12)]),
            ("apres midi", [(12, 14), (14, 17), (17, 19)]),
            ("journee", [(6, 10), (11, 16), (17, 21)]),
            ("soiree", [(18, 21), (0, 0), (21, 24)]),
        ];
        table.iter().find_map(|(p, hours)| {
            let e = t.phrase(k, p)?;
            let (a, b) = hours[which];
            (b > a).then_some((e, Pod { from: a, to: b }))
        })
    }

    /// A part of the day after a date: "matin", "dans l'après-midi", "le matin tôt", "tomorrow
    /// lunch", "monday early morning".
    pub(super) fn pod_word_at(&self, j: usize) -> Option<(usize, Pod)> {
        let t = self.t;
        if let Some(r) = self.fr_boundary_pod(j) {
            return Some(r);
        }
        let (any, after) = if self.fr() { (FR_ANY, FR_AFTER_DATE) } else { (EN_ANY, EN_AFTER_DATE) };
        if let Some(r) = find(t, j, any) {
            return Some(r);
        }
        let j = t.phrases(j, &["dans la", "dans l", "in the", "en", "at"]).unwrap_or(j);
        find(t, j, after)
    }

    /// A part of the day alone: "ce soir", "tonight", "this morning", "le soir", "after lunch",
    /// "last night" (yesterday's): (end, pod, date).
    pub(super) fn pod_standalone_at(&self, i: usize) -> Option<(usize, Pod, NaiveDate)> {
        let t = self.t;
        let today = self.today();
        if let Some((e, pod)) = self.fr_boundary_pod(i) {
            return Some((e, pod, today));
        }
        let (alone, any) = if self.fr() { (FR_ALONE, FR_ANY) } else { (EN_ALONE, EN_ANY) };
        if let Some((e, pod)) = find(t, i, alone).or_else(|| find(t, i, any)) {
            return Some((e, pod, today));
        }
        if !self.fr() {
            let yesterday = today - Duration::days(1);
            return find(t, i, &[("late last night", 21, 24), ("last night", 18, 24)]).map(|(e, p)| (e, p, yesterday));
        }
        None
    }

    /// A part of the day before its date: "matinée du 15 février", "morning of the 15th of
    /// february".
    pub(super) fn pod_of_date_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        let rows: &[PodRow] = if self.fr() {
            &[("matinee", 4, 12), ("matin", 4, 12), ("apres midi", 12, 19), ("soiree", 18, 24), ("soir", 18, 24)]
        } else {
            &[("morning", 0, 12), ("afternoon", 12, 19), ("evening", 18, 24), ("night", 18, 24)]
        };
        let j = t.phrases(i, if self.fr() { &["la", "le", "l"] } else { &["the"] }).unwrap_or(i);
        let (e, pod) = find(t, j, rows)?;
        let k = t.phrases(e, if self.fr() { &["du", "de"] } else { &["of"] })?;
        let (e2, d) = self.date_at(k)?;
        Some((e2, TV::Itv(at(d, pod.from, 0), at(d, pod.to, 0), Grain::Hour)))
    }
}
