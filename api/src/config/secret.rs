//! Values that must never be printed.

use std::{fmt, str::FromStr};

/// A value that must not be printed (passwords, keys, URLs with passwords).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret<String> {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// How to make a signing secret, for error messages.
const MAKE_ONE: &str = "make one with `openssl rand -base64 32` (or `openssl rand -hex 32`)";

/// Words of example and placeholder values: a secret containing one was
/// copied from documentation, not generated.
const PLACEHOLDERS: [&str; 12] = [
    "change-me",
    "changeme",
    "change_me",
    "replace",
    "example",
    "placeholder",
    "your-",
    "your_",
    "secret",
    "password",
    "xxxxxx",
    "123456",
];

/// Entropy a token-signing secret needs, in bits.
const MIN_SECRET_BITS: f64 = 128.0;

/// Refuses a token-signing secret someone could guess: shorter than 32
/// bytes, a placeholder, or under 128 bits by a generous estimate (the
/// characters' spread, at most what their alphabet allows, times the length).
pub fn check_signing_secret(name: &str, secret: &str) -> anyhow::Result<()> {
    if secret.len() < 32 {
        anyhow::bail!("{name} must be at least 32 bytes; {MAKE_ONE}");
    }
    let lower = secret.to_lowercase();
    if let Some(word) = PLACEHOLDERS.iter().find(|w| lower.contains(*w)) {
        anyhow::bail!("{name} looks like a placeholder (it contains `{word}`); {MAKE_ONE}");
    }
    let bits = estimated_bits(secret);
    if bits < MIN_SECRET_BITS {
        anyhow::bail!("{name} has about {bits:.0} bits of entropy, fewer than {MIN_SECRET_BITS}; {MAKE_ONE}");
    }
    Ok(())
}

/// Length times the per-character entropy: the Shannon entropy of the
/// characters' frequencies, capped by the size of the alphabet they come
/// from (lower case, upper case, digits, other).
fn estimated_bits(secret: &str) -> f64 {
    let chars: Vec<char> = secret.chars().collect();
    let n = chars.len() as f64;
    let mut counts = std::collections::HashMap::<char, usize>::new();
    for c in &chars {
        *counts.entry(*c).or_default() += 1;
    }
    let shannon: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum();
    type Class = (fn(&char) -> bool, f64);
    let classes: [Class; 4] = [
        (char::is_ascii_lowercase, 26.0),
        (char::is_ascii_uppercase, 26.0),
        (char::is_ascii_digit, 10.0),
        (|c| !c.is_ascii_alphanumeric(), 33.0),
    ];
    let alphabet: f64 = classes
        .iter()
        .filter(|(is, _)| chars.iter().any(is))
        .map(|(_, size)| size)
        .sum();
    n * shannon.min(alphabet.log2())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_pass_and_guessable_ones_do_not() {
        let base64 = "q0Zr8kT1u3VbYx2LwP9sN4mC7aHdEf6GjK5oRiUtSg0=";
        let hex = "3f9a1c27b4e85d06f2a9c3e17b5d8046a1f2e3d4c5b6a79880f1e2d3c4b5a697";
        check_signing_secret("S", base64).expect("openssl rand -base64 32");
        check_signing_secret("S", hex).expect("openssl rand -hex 32");
        let example = check_signing_secret("S", "change-me-at-least-32-bytes-of-randomness").unwrap_err();
        assert!(example.to_string().contains("placeholder"), "{example}");
        let repeated = check_signing_secret("S", &"ab".repeat(24)).unwrap_err();
        assert!(repeated.to_string().contains("bits of entropy"), "{repeated}");
        assert!(check_signing_secret("S", "short").is_err());
    }
}
