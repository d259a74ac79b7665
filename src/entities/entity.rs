//! The entity of a parse result, whatever found it: the model's slots, the built-in grammar, a
//! bundle's Rasa lookups and regexes, or a Rasa button payload.

use serde::Serialize;

/// One entity in a result. `source` is "model" for slots the model tagged, "rule" for built-ins,
/// "payload" for the entities of a Rasa button payload.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Entity {
    pub entity: String,
    /// The resolved value: the text itself for a model slot without a resolver, else typed JSON.
    pub value: serde_json::Value,
    pub text: String,
    /// First char (Unicode scalar value) of the entity in the request text.
    pub start: usize,
    /// One past its last char.
    pub end: usize,
    pub confidence: f32,
    /// "model", "rule" or "payload".
    #[schema(value_type = String)]
    pub source: &'static str,
    /// A Rasa role (`{"entity": "city", "role": "departure"}`), for slots of a bot trained on roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A Rasa group (`{"entity": "size", "group": "1"}`), for slots of a bot trained on groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// What separates a Rasa role and group from the entity in a slot type: a bot trained on
/// `[Paris]{"entity": "city", "role": "to"}` tags the slot type `city#role=to` (and
/// `size#group=1`, `city#role=to#group=2`), and its parse splits the type back into `entity`,
/// `role` and `group`. Entity names, roles and groups may not hold `#`.
pub const ROLE_MARK: &str = "#role=";
pub const GROUP_MARK: &str = "#group=";

/// The slot type of an entity with an optional role and group.
pub fn slot_type(entity: &str, role: Option<&str>, group: Option<&str>) -> String {
    let mut out = entity.to_string();
    if let Some(r) = role {
        out.push_str(ROLE_MARK);
        out.push_str(r);
    }
    if let Some(g) = group {
        out.push_str(GROUP_MARK);
        out.push_str(g);
    }
    out
}

/// A slot type split into (entity, role, group): the inverse of [`slot_type`].
pub fn split_slot_type(typ: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, group) = match typ.split_once(GROUP_MARK) {
        Some((a, g)) => (a, Some(g)),
        None => (typ, None),
    };
    match rest.split_once(ROLE_MARK) {
        Some((e, r)) => (e, Some(r), group),
        None => (rest, None, group),
    }
}

impl Entity {
    /// The entity's slot type, role and group included (what `parlance eval` compares).
    pub fn slot_type(&self) -> String {
        slot_type(&self.entity, self.role.as_deref(), self.group.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_types_carry_roles_and_groups_both_ways() {
        for (e, r, g) in [("city", Some("to"), None), ("size", None, Some("1")), ("city", Some("from"), Some("2")), ("date", None, None)] {
            let t = slot_type(e, r, g);
            assert_eq!(split_slot_type(&t), (e, r, g), "{t}");
        }
        assert_eq!(slot_type("city", Some("to"), Some("2")), "city#role=to#group=2");
    }
}
