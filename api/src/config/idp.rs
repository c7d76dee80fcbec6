//! An external identity provider's settings: its keys, how often its JWKS
//! is refetched, and where its tokens keep tenant, role and subject.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, bail};

use super::{
    duration::parse_duration,
    settings::{ClaimMapping, IdpConfig},
};

/// The identity provider's flags and variables.
#[derive(Debug, Clone, clap::Args)]
pub struct IdpArgs {
    /// PEM public key (RSA, EC or Ed25519) of an external identity provider.
    #[arg(long, env = "SCREENPLAY_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,

    /// JWKS of an external identity provider: a file path or an https URL.
    #[arg(long, env = "SCREENPLAY_JWT_JWKS")]
    pub jwt_jwks: Option<String>,

    /// How often the JWKS is refetched in the background (requests never wait for it).
    #[arg(long, env = "SCREENPLAY_JWT_JWKS_REFRESH", default_value = "10m", value_parser = parse_duration)]
    pub jwt_jwks_refresh: Duration,

    /// Prefix of namespaced claims (Auth0): tenant and role are read from
    /// `<namespace>tid` and `<namespace>role`.
    #[arg(long, env = "SCREENPLAY_JWT_CLAIMS_NAMESPACE")]
    pub jwt_claims_namespace: Option<String>,

    /// JSON pointer (RFC 6901) to the tenant id in the provider's claims (default `/tid`).
    #[arg(long, env = "SCREENPLAY_JWT_TENANT_CLAIM")]
    pub jwt_tenant_claim: Option<String>,

    /// JSON pointer to the role: a string or an array of strings (default `/role`).
    #[arg(long, env = "SCREENPLAY_JWT_ROLE_CLAIM")]
    pub jwt_role_claim: Option<String>,

    /// JSON pointer to the user's subject, matched against `externalSubject` (default `/sub`).
    #[arg(long, env = "SCREENPLAY_JWT_SUBJECT_CLAIM")]
    pub jwt_subject_claim: Option<String>,

    /// Provider role values to our roles, comma separated
    /// `value=role` pairs (e.g. `admins=tenant_admin,writers=member`); when
    /// set, only these values count.
    #[arg(long, env = "SCREENPLAY_JWT_ROLE_MAP", value_delimiter = ',')]
    pub jwt_role_map: Vec<String>,
}

impl IdpArgs {
    /// Checks the settings; errors name the variable.
    pub fn config(&self) -> anyhow::Result<IdpConfig> {
        if self.jwt_public_key.is_some() && self.jwt_jwks.is_some() {
            bail!("set SCREENPLAY_JWT_PUBLIC_KEY or SCREENPLAY_JWT_JWKS, not both");
        }
        if self.jwt_jwks_refresh < Duration::from_secs(1) {
            bail!("SCREENPLAY_JWT_JWKS_REFRESH must be at least 1s");
        }
        let claims = self.claims()?;
        if claims != ClaimMapping::default() && self.jwt_public_key.is_none() && self.jwt_jwks.is_none() {
            bail!(
                "the SCREENPLAY_JWT_*_CLAIM, SCREENPLAY_JWT_CLAIMS_NAMESPACE and SCREENPLAY_JWT_ROLE_MAP settings \
                 apply to an identity provider's tokens: set SCREENPLAY_JWT_JWKS or SCREENPLAY_JWT_PUBLIC_KEY"
            );
        }
        Ok(IdpConfig {
            public_key: self.jwt_public_key.clone(),
            jwks: self.jwt_jwks.clone(),
            jwks_refresh: self.jwt_jwks_refresh,
            claims,
        })
    }

    /// The claim pointers: an explicit pointer, else the namespace's
    /// claim, else the default.
    fn claims(&self) -> anyhow::Result<ClaimMapping> {
        let defaults = ClaimMapping::default();
        let namespace = self.jwt_claims_namespace.as_deref().map(namespace).transpose()?;
        let namespaced = |name: &str| namespace.as_ref().map(|ns| pointer_to(&format!("{ns}{name}")));
        let pick = |var: &str, set: &Option<String>, name: &str, default: String| -> anyhow::Result<String> {
            match set {
                Some(p) => checked_pointer(var, p),
                None => Ok(namespaced(name).unwrap_or(default)),
            }
        };
        Ok(ClaimMapping {
            tenant: pick(
                "SCREENPLAY_JWT_TENANT_CLAIM",
                &self.jwt_tenant_claim,
                "tid",
                defaults.tenant,
            )?,
            role: pick("SCREENPLAY_JWT_ROLE_CLAIM", &self.jwt_role_claim, "role", defaults.role)?,
            subject: match &self.jwt_subject_claim {
                Some(p) => checked_pointer("SCREENPLAY_JWT_SUBJECT_CLAIM", p)?,
                None => defaults.subject,
            },
            role_map: role_map(&self.jwt_role_map)?,
        })
    }
}

/// A namespace must end in a separator, so that `https://x.example`
/// (claims read as `https://x.exampletid`) is caught at start.
fn namespace(ns: &str) -> anyhow::Result<String> {
    let ns = ns.trim();
    match ns.chars().last() {
        Some(c) if !c.is_alphanumeric() => Ok(ns.to_owned()),
        _ => bail!(
            "SCREENPLAY_JWT_CLAIMS_NAMESPACE `{ns}` must end with a separator such as `/` or `:` \
             (the claims read are `<namespace>tid` and `<namespace>role`)"
        ),
    }
}

/// The JSON pointer to the top-level claim `name` (`/` and `~` escaped).
fn pointer_to(name: &str) -> String {
    format!("/{}", name.replace('~', "~0").replace('/', "~1"))
}

/// `pointer` if it is an RFC 6901 pointer to something inside the claims.
fn checked_pointer(var: &str, pointer: &str) -> anyhow::Result<String> {
    let pointer = pointer.trim();
    if !pointer.starts_with('/') || pointer.len() < 2 {
        bail!(
            "{var} `{pointer}` is not a JSON pointer: write it as `/{}` (RFC 6901: `/` between levels, \
             `~1` for a `/` inside a name, e.g. /realm_access/roles, /https:~1~1screenplay.example~1tid)",
            pointer.trim_start_matches('/').replace('.', "/")
        );
    }
    let mut escapes = pointer.split('~').skip(1);
    if escapes.any(|rest| !rest.starts_with(['0', '1'])) {
        bail!("{var} `{pointer}`: `~` must be followed by 0 (for `~`) or 1 (for `/`)");
    }
    Ok(pointer.to_owned())
}

/// `value=role` pairs; a provider value may appear once.
fn role_map(entries: &[String]) -> anyhow::Result<Option<Vec<(String, String)>>> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        let (value, role) = entry
            .rsplit_once('=')
            .map(|(v, r)| (v.trim(), r.trim()))
            .filter(|(v, r)| !v.is_empty() && !r.is_empty())
            .with_context(|| format!("SCREENPLAY_JWT_ROLE_MAP: `{entry}` is not `provider-value=role`"))?;
        if pairs.iter().any(|(v, _)| v == value) {
            bail!("SCREENPLAY_JWT_ROLE_MAP maps `{value}` twice");
        }
        pairs.push((value.to_owned(), role.to_owned()));
    }
    Ok((!pairs.is_empty()).then_some(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_become_escaped_pointers() {
        assert_eq!(
            pointer_to("https://screenplay.example/tid"),
            "/https:~1~1screenplay.example~1tid"
        );
        assert_eq!(pointer_to("a~b"), "/a~0b");
        assert!(namespace("https://screenplay.example").is_err());
        assert!(namespace("custom:").is_ok());
    }

    #[test]
    fn pointers_and_maps_are_checked() {
        assert!(checked_pointer("V", "realm_access.roles").is_err());
        assert!(checked_pointer("V", "/").is_err());
        assert!(checked_pointer("V", "/a~2b").is_err());
        assert!(checked_pointer("V", "/cognito:groups").is_ok());
        assert!(role_map(&["admins".into()]).is_err());
        assert!(role_map(&["a=member".into(), "a=viewer".into()]).is_err());
        assert_eq!(
            role_map(&["a=b=member".into(), " ".into()]).expect("map"),
            Some(vec![("a=b".into(), "member".into())])
        );
        assert_eq!(role_map(&[]).expect("empty"), None);
    }
}
