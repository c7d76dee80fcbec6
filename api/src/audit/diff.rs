//! Before/after records of mutations for the audit log.

use serde_json::{Map, Value, json};

/// Keys never written to the audit log, whatever the object.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwordhash",
    "adminpassword",
    "accesstoken",
    "refreshtoken",
    "token",
    "apikey",
    "secret",
    "embedding",
    "embeddings",
    "embeddingbase64",
    "authorization",
];

/// Whether a JSON key names a secret (case and `_` insensitive).
pub fn is_secret_key(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_KEYS.contains(&k.as_str()) || k.ends_with("password") || k.ends_with("token") || k.ends_with("apikey")
}

/// `value` with every secret replaced by `"[REDACTED]"`, recursively, and
/// every NUL character by U+FFFD: `jsonb` refuses `\u0000`, and one such
/// variable must not keep its audit row (or a whole batch) out of the table.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    if is_secret_key(k) {
                        (storable(k), Value::String("[REDACTED]".into()))
                    } else {
                        (storable(k), redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(s) => Value::String(storable(s)),
        other => other.clone(),
    }
}

/// `s` without NUL characters, which PostgreSQL text and jsonb cannot hold.
pub fn storable(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

/// One change record. For an update, only fields whose value differs.
pub fn change<T: serde::Serialize>(
    resource_type: &str,
    id: uuid::Uuid,
    before: Option<&T>,
    after: Option<&T>,
) -> Value {
    let to_json = |v: Option<&T>| v.and_then(|v| serde_json::to_value(v).ok()).map(|v| redact(&v));
    let (before, after) = (to_json(before), to_json(after));
    let (before, after) = match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let mut changed_before = Map::new();
            let mut changed_after = Map::new();
            for (key, new) in &a {
                if key == "updated_at" {
                    continue;
                }
                let old = b.get(key).cloned().unwrap_or(Value::Null);
                if &old != new {
                    changed_before.insert(key.clone(), old);
                    changed_after.insert(key.clone(), new.clone());
                }
            }
            (Value::Object(changed_before), Value::Object(changed_after))
        }
        (b, a) => (b.unwrap_or(Value::Null), a.unwrap_or(Value::Null)),
    };
    json!({ "type": resource_type, "id": id, "before": before, "after": after })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let v = json!({ "input": { "email": "a@b.c", "adminPassword": "hunter2", "docs": [{ "embedding": [1.0] }] },
                        "refresh_token": "rt1", "apiKey": "k" });
        let r = redact(&v);
        let text = r.to_string();
        assert!(!text.contains("hunter2") && !text.contains("rt1") && !text.contains("1.0") && !text.contains("\"k\""));
        assert_eq!(r["input"]["email"], "a@b.c");
    }

    #[test]
    fn nul_characters_become_replacement_characters() {
        let r = redact(&json!({ "a\u{0}b": ["x\u{0}", { "k": "\u{0}" }], "n": 1 }));
        assert_eq!(r, json!({ "a\u{FFFD}b": ["x\u{FFFD}", { "k": "\u{FFFD}" }], "n": 1 }));
    }

    #[test]
    fn updates_keep_only_changed_fields() {
        let before = json!({ "name": "A", "slug": "a", "updated_at": 1 });
        let after = json!({ "name": "B", "slug": "a", "updated_at": 2 });
        let c = change("workspace", uuid::Uuid::nil(), Some(&before), Some(&after));
        assert_eq!(c["before"], json!({ "name": "A" }));
        assert_eq!(c["after"], json!({ "name": "B" }));
    }
}
