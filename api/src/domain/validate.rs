//! Input checks shared by services. Errors name the GraphQL input field.

use crate::error::{AppError, AppResult};

/// A slug: lowercase letters, digits and inner hyphens, 1 to 63 characters.
pub fn slug(field: &str, value: &str) -> AppResult<String> {
    let value = value.trim();
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(AppError::bad_input(
            field,
            format!("`{field}` must be 1-63 lowercase letters, digits or inner hyphens"),
        ))
    }
}

/// A slug made from a name in any script, transliterated to ASCII:
/// `My Great Film!` → `my-great-film`, `剧本工作室` → `ju-ben-gong-zuo-shi`.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in deunicode::deunicode(name).chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
            dash = false;
        } else if !dash && !out.is_empty() {
            out.push('-');
            dash = true;
        }
    }
    let out = out.trim_end_matches('-');
    let mut out: String = out.chars().take(63).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() { "workspace".into() } else { out }
}

/// A required display text: trimmed, 1 to `max` characters.
pub fn name(field: &str, value: &str, max: usize) -> AppResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::bad_input(field, format!("`{field}` must not be empty")));
    }
    if value.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must be at most {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Optional text: trimmed; empty becomes `None`.
pub fn optional_text(field: &str, value: Option<String>, max: usize) -> AppResult<Option<String>> {
    match value.map(|v| v.trim().to_owned()) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if v.chars().count() > max => Err(AppError::bad_input(
            field,
            format!("`{field}` must be at most {max} characters"),
        )),
        Some(v) => Ok(Some(v)),
    }
}

/// An email address (shape only; delivery is not our business).
pub fn email(field: &str, value: &str) -> AppResult<String> {
    let value = value.trim();
    let ok = value.len() <= 320
        && value
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'))
        && !value.chars().any(char::is_whitespace)
        && value.matches('@').count() == 1;
    if ok {
        Ok(value.to_owned())
    } else {
        Err(AppError::bad_input(field, format!("`{field}` is not an email address")))
    }
}

/// A JSON object (settings, config, metadata).
pub fn json_object(field: &str, value: serde_json::Value) -> AppResult<serde_json::Value> {
    if value.is_object() {
        Ok(value)
    } else {
        Err(AppError::bad_input(field, format!("`{field}` must be a JSON object")))
    }
}

/// A positive limit, or none.
pub fn positive<T: PartialOrd + Default + Copy>(field: &str, value: Option<T>) -> AppResult<Option<T>> {
    match value {
        Some(v) if v <= T::default() => Err(AppError::bad_input(field, format!("`{field}` must be positive"))),
        other => Ok(other),
    }
}

/// A BCP 47 language tag such as `en`, `zh-Hans` or `pt-BR` (`_` is taken
/// for `-`), in its canonical case: language lower case, script title case,
/// region upper case. The one rule for sessions, documents and filters.
pub fn language(field: &str, value: &str) -> AppResult<String> {
    let value = value.trim();
    let mut subtags = value.split(['-', '_']);
    let primary = subtags.next().unwrap_or_default();
    let rest: Vec<&str> = subtags.collect();
    let ok = (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && rest
            .iter()
            .all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        && value.len() <= 35;
    if !ok {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must be a language tag such as `en`, `zh-Hans` or `pt-BR`"),
        ));
    }
    let canonical = rest.iter().map(|subtag| match subtag.len() {
        4 if subtag.bytes().all(|b| b.is_ascii_alphabetic()) => {
            let lower = subtag.to_ascii_lowercase();
            lower[..1].to_ascii_uppercase() + &lower[1..]
        }
        2 if subtag.bytes().all(|b| b.is_ascii_alphabetic()) => subtag.to_ascii_uppercase(),
        _ => subtag.to_ascii_lowercase(),
    });
    Ok(std::iter::once(primary.to_ascii_lowercase())
        .chain(canonical)
        .collect::<Vec<_>>()
        .join("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_are_checked_and_put_in_canonical_case() {
        assert_eq!(language("l", "zh-hans").unwrap(), "zh-Hans");
        assert_eq!(language("l", "pt_br").unwrap(), "pt-BR");
        assert_eq!(language("l", " EN ").unwrap(), "en");
        assert_eq!(language("l", "sr-Latn-RS").unwrap(), "sr-Latn-RS");
        for bad in ["english", "xx-", "e", "zh-Hans!", ""] {
            assert!(language("l", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs() {
        assert!(slug("slug", "acme-films").is_ok());
        assert!(slug("slug", "Acme").is_err());
        assert!(slug("slug", "-acme").is_err());
        assert!(slug("slug", "").is_err());
        assert_eq!(slugify("My Great Film!"), "my-great-film");
        assert_eq!(slugify("剧本工作室"), "ju-ben-gong-zuo-shi");
        assert_eq!(slugify("Écran noir"), "ecran-noir");
        assert_eq!(slugify("!!!"), "workspace");
    }

    #[test]
    fn emails() {
        assert!(email("email", "a@acme.test").is_ok());
        assert!(email("email", "nobody").is_err());
        assert!(email("email", "a@b@c.d").is_err());
        assert!(email("email", "a b@c.d").is_err());
    }
}
