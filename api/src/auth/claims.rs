//! An identity provider's claims → a principal. Providers put tenant and
//! role in different places (Auth0: namespaced claims; Keycloak:
//! `realm_access.roles`; Entra ID: `roles`; Cognito: `cognito:groups`), so
//! where to read them is configuration (`config::ClaimMapping`): JSON
//! pointers, and a map from the provider's role values to ours.
//!
//! A role claim may hold several values. Unknown values are ignored (Keycloak
//! adds `offline_access`, Entra ID unrelated app roles). Of the recognised
//! ones the most privileged tenant role wins (`tenant_admin` > `member` >
//! `viewer`): a user in the writers and readers groups is a writer. This
//! cannot raise anyone above their user row, since every request checks
//! the claimed role against the database (`request::tenancy`). What does not
//! order is refused as ambiguous: `agent` (a service account) or
//! `platform_admin` (no tenant at all) next to any other role.

use std::collections::{HashMap, HashSet};

use anyhow::bail;
use serde_json::Value;
use uuid::Uuid;

use super::principal::{Principal, Role, TokenFacts};
use crate::config::ClaimMapping;

/// Reads tenant, role and subject from a provider's verified claims.
#[derive(Debug, Clone)]
pub struct ClaimMapper {
    tenant: String,
    role: String,
    subject: String,
    /// `None`: our role names as they are.
    role_map: Option<HashMap<String, Role>>,
}

impl ClaimMapper {
    /// The mapper for `mapping`; refuses a map to a role we do not have.
    pub fn from_config(mapping: &ClaimMapping) -> anyhow::Result<Self> {
        let role_map = match &mapping.role_map {
            None => None,
            Some(pairs) => Some(
                pairs
                    .iter()
                    .map(|(value, name)| Ok((value.clone(), role_named(name)?)))
                    .collect::<anyhow::Result<_>>()?,
            ),
        };
        Ok(Self {
            tenant: mapping.tenant.clone(),
            role: mapping.role.clone(),
            subject: mapping.subject.clone(),
            role_map,
        })
    }

    /// The principal the claims describe; the error is safe to show.
    pub fn principal(&self, claims: &Value) -> Result<Principal, String> {
        let subject = match claims.pointer(&self.subject) {
            Some(Value::String(s)) => s,
            Some(_) => return Err(format!("the subject claim {} is not a string", self.subject)),
            None => return Err(format!("token lacks the subject claim {}", self.subject)),
        };
        let role = self.role(claims)?;
        let issuer = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
        if role == Role::PlatformAdmin && issuer.is_empty() {
            // The issuer is half of the platform admin's name in the database.
            return Err("an identity provider's platform_admin token must carry `iss`".into());
        }
        let facts = TokenFacts {
            issuer: issuer.to_owned(),
            issued_at: claims.get("iat").and_then(Value::as_u64),
            session: None,
        };
        Principal::from_token(subject, self.tenant(claims)?, role, &self.tenant, facts)
    }

    /// The tenant id, if the token names one.
    fn tenant(&self, claims: &Value) -> Result<Option<Uuid>, String> {
        match claims.pointer(&self.tenant) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.parse::<Uuid>().is_ok() => Ok(s.parse().ok()),
            Some(_) => Err(format!("the tenant claim {} is not a tenant id (a UUID)", self.tenant)),
        }
    }

    /// The one role the claim resolves to (see the module comment).
    fn role(&self, claims: &Value) -> Result<Role, String> {
        let values: Vec<&str> = match claims.pointer(&self.role) {
            None | Some(Value::Null) => return Err(format!("token lacks the role claim {}", self.role)),
            Some(Value::String(s)) => vec![s],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().ok_or(()))
                .collect::<Result<_, ()>>()
                .map_err(|()| format!("the role claim {} must hold strings", self.role))?,
            Some(_) => return Err(format!("the role claim {} must be a string or an array", self.role)),
        };
        let roles: HashSet<Role> = values.into_iter().filter_map(|v| self.known(v)).collect();
        resolve(&roles).map_err(|why| format!("{why} in the role claim {}", self.role))
    }

    /// Our role for a provider's value, if it is one we recognise.
    fn known(&self, value: &str) -> Option<Role> {
        match &self.role_map {
            Some(map) => map.get(value).copied(),
            None => Role::parse(value),
        }
    }
}

/// The most privileged of `roles`, unless they do not compare.
fn resolve(roles: &HashSet<Role>) -> Result<Role, &'static str> {
    let several = roles.len() > 1;
    if several && (roles.contains(&Role::PlatformAdmin) || roles.contains(&Role::Agent)) {
        return Err("platform_admin or agent together with another role");
    }
    roles
        .iter()
        .copied()
        .max_by_key(|r| privilege(*r))
        .ok_or("no recognised role")
}

/// Order of the human tenant roles.
fn privilege(role: Role) -> u8 {
    match role {
        Role::TenantAdmin => 3,
        Role::Member => 2,
        Role::Viewer => 1,
        Role::Agent | Role::PlatformAdmin => 0,
    }
}

fn role_named(name: &str) -> anyhow::Result<Role> {
    match Role::parse(name) {
        Some(role) => Ok(role),
        None => bail!(
            "SCREENPLAY_JWT_ROLE_MAP: `{name}` is not a role (tenant_admin, member, viewer, agent, platform_admin)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(roles: &[Role]) -> HashSet<Role> {
        roles.iter().copied().collect()
    }

    #[test]
    fn several_roles_resolve_to_the_most_privileged_or_are_refused() {
        assert_eq!(resolve(&set(&[Role::Viewer, Role::Member])), Ok(Role::Member));
        assert_eq!(
            resolve(&set(&[Role::Viewer, Role::TenantAdmin, Role::Member])),
            Ok(Role::TenantAdmin)
        );
        assert_eq!(resolve(&set(&[Role::Agent])), Ok(Role::Agent));
        assert!(resolve(&set(&[Role::Agent, Role::Viewer])).is_err());
        assert!(resolve(&set(&[Role::PlatformAdmin, Role::TenantAdmin])).is_err());
        assert!(resolve(&set(&[])).is_err());
    }
}
