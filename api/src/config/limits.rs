//! What one GraphQL operation may cost, per kind of caller.
//!
//! Defaults are strict for anonymous callers (they can only sign in, read
//! `health` and introspect) and roomy for signed-in ones; every value can be
//! changed per role with `SCREENPLAY_LIMITS`, a JSON object such as
//! `{"signed_in": {"max_fields": 8000}, "agent": {"max_complexity": 20000}}`.

use anyhow::{Context, bail};
use serde::Deserialize;

/// Limits of one operation (document and cost), checked before any resolver runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationLimits {
    /// Length of the document's text.
    pub max_bytes: usize,
    /// Operations defined in one document.
    pub max_operations: usize,
    /// Fragments defined in one document.
    pub max_fragments: usize,
    /// Fields of the operation with every fragment spread in place.
    pub max_fields: usize,
    /// Aliased fields, counted the same way.
    pub max_aliases: usize,
    /// Fields at the root of one operation.
    pub max_root_fields: usize,
    pub max_depth: usize,
    /// Cost: each field 1, a list's children times its page size (`first`,
    /// `last`, `limit`).
    pub max_complexity: usize,
}

impl OperationLimits {
    /// Callers without a valid token.
    pub const ANONYMOUS: Self = Self {
        max_bytes: 8 * 1024,
        max_operations: 5,
        max_fragments: 10,
        max_fields: 200,
        max_aliases: 10,
        max_root_fields: 5,
        max_depth: 6,
        max_complexity: 200,
    };

    /// Every signed-in role unless configured otherwise.
    pub const SIGNED_IN: Self = Self {
        max_bytes: 64 * 1024,
        max_operations: 20,
        max_fragments: 100,
        max_fields: 5_000,
        max_aliases: 200,
        max_root_fields: 50,
        max_depth: 12,
        max_complexity: 50_000,
    };

    fn apply(mut self, patch: &Patch) -> Self {
        let set = |field: &mut usize, value: Option<usize>| {
            if let Some(v) = value {
                *field = v;
            }
        };
        set(&mut self.max_bytes, patch.max_bytes);
        set(&mut self.max_operations, patch.max_operations);
        set(&mut self.max_fragments, patch.max_fragments);
        set(&mut self.max_fields, patch.max_fields);
        set(&mut self.max_aliases, patch.max_aliases);
        set(&mut self.max_root_fields, patch.max_root_fields);
        set(&mut self.max_depth, patch.max_depth);
        set(&mut self.max_complexity, patch.max_complexity);
        self
    }

    fn check(&self, who: &str) -> anyhow::Result<()> {
        let values = [
            ("max_bytes", self.max_bytes),
            ("max_operations", self.max_operations),
            ("max_fragments", self.max_fragments),
            ("max_fields", self.max_fields),
            ("max_aliases", self.max_aliases),
            ("max_root_fields", self.max_root_fields),
            ("max_depth", self.max_depth),
            ("max_complexity", self.max_complexity),
        ];
        for (name, value) in values {
            if value == 0 {
                bail!("SCREENPLAY_LIMITS: {who}.{name} must be positive");
            }
        }
        Ok(())
    }
}

/// One limit set per kind of caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleLimits {
    pub anonymous: OperationLimits,
    pub viewer: OperationLimits,
    pub member: OperationLimits,
    pub agent: OperationLimits,
    pub tenant_admin: OperationLimits,
    pub platform_admin: OperationLimits,
}

impl Default for RoleLimits {
    fn default() -> Self {
        Self::uniform(OperationLimits::ANONYMOUS, OperationLimits::SIGNED_IN)
    }
}

/// `SCREENPLAY_LIMITS`: changes to the defaults, by role.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsPatch {
    #[serde(default)]
    anonymous: Patch,
    /// Applies to every signed-in role, before its own entry.
    #[serde(default)]
    signed_in: Patch,
    #[serde(default)]
    viewer: Patch,
    #[serde(default)]
    member: Patch,
    #[serde(default)]
    agent: Patch,
    #[serde(default)]
    tenant_admin: Patch,
    #[serde(default)]
    platform_admin: Patch,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    max_bytes: Option<usize>,
    max_operations: Option<usize>,
    max_fragments: Option<usize>,
    max_fields: Option<usize>,
    max_aliases: Option<usize>,
    max_root_fields: Option<usize>,
    max_depth: Option<usize>,
    max_complexity: Option<usize>,
}

impl RoleLimits {
    fn uniform(anonymous: OperationLimits, signed_in: OperationLimits) -> Self {
        Self {
            anonymous,
            viewer: signed_in,
            member: signed_in,
            agent: signed_in,
            tenant_admin: signed_in,
            platform_admin: signed_in,
        }
    }

    /// The defaults, with the depth and complexity shorthands
    /// (`SCREENPLAY_MAX_DEPTH` …) and then `SCREENPLAY_LIMITS` applied.
    pub fn configure(shorthands: Shorthands, json: Option<&str>) -> anyhow::Result<Self> {
        let patch: LimitsPatch = match json.map(str::trim).filter(|j| !j.is_empty()) {
            Some(json) => serde_json::from_str(json).context(
                "SCREENPLAY_LIMITS must be a JSON object such as {\"anonymous\": {\"max_depth\": 5}}; \
                 keys: anonymous, signed_in, viewer, member, agent, tenant_admin, platform_admin; \
                 fields: max_bytes, max_operations, max_fragments, max_fields, max_aliases, \
                 max_root_fields, max_depth, max_complexity",
            )?,
            None => LimitsPatch::default(),
        };
        let anonymous = OperationLimits {
            max_depth: shorthands.anon_max_depth,
            max_complexity: shorthands.anon_max_complexity,
            ..OperationLimits::ANONYMOUS
        }
        .apply(&patch.anonymous);
        let signed_in = OperationLimits {
            max_depth: shorthands.max_depth,
            max_complexity: shorthands.max_complexity,
            ..OperationLimits::SIGNED_IN
        }
        .apply(&patch.signed_in);
        let limits = Self {
            anonymous,
            viewer: signed_in.apply(&patch.viewer),
            member: signed_in.apply(&patch.member),
            agent: signed_in.apply(&patch.agent),
            tenant_admin: signed_in.apply(&patch.tenant_admin),
            platform_admin: signed_in.apply(&patch.platform_admin),
        };
        for (who, set) in limits.all() {
            set.check(who)?;
        }
        Ok(limits)
    }

    /// Every set with its key in `SCREENPLAY_LIMITS`.
    pub fn all(&self) -> [(&'static str, &OperationLimits); 6] {
        [
            ("anonymous", &self.anonymous),
            ("viewer", &self.viewer),
            ("member", &self.member),
            ("agent", &self.agent),
            ("tenant_admin", &self.tenant_admin),
            ("platform_admin", &self.platform_admin),
        ]
    }
}

/// The older single-value settings, still honoured.
#[derive(Debug, Clone, Copy)]
pub struct Shorthands {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub anon_max_depth: usize,
    pub anon_max_complexity: usize,
}

impl Default for Shorthands {
    fn default() -> Self {
        Self {
            max_depth: OperationLimits::SIGNED_IN.max_depth,
            max_complexity: OperationLimits::SIGNED_IN.max_complexity,
            anon_max_depth: OperationLimits::ANONYMOUS.max_depth,
            anon_max_complexity: OperationLimits::ANONYMOUS.max_complexity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_entries_override_signed_in_which_overrides_the_shorthands() {
        let limits = RoleLimits::configure(
            Shorthands {
                max_depth: 9,
                ..Shorthands::default()
            },
            Some(r#"{"signed_in": {"max_fields": 7000}, "agent": {"max_fields": 9000, "max_depth": 4}}"#),
        )
        .expect("valid");
        assert_eq!(limits.viewer.max_depth, 9);
        assert_eq!(limits.viewer.max_fields, 7000);
        assert_eq!(limits.agent.max_fields, 9000);
        assert_eq!(limits.agent.max_depth, 4);
        assert_eq!(limits.anonymous, OperationLimits::ANONYMOUS);
    }

    #[test]
    fn unknown_keys_and_zeros_are_refused() {
        let unknown = RoleLimits::configure(Shorthands::default(), Some(r#"{"agents": {}}"#)).unwrap_err();
        assert!(format!("{unknown:#}").contains("unknown field `agents`"), "{unknown:#}");
        let zero = RoleLimits::configure(Shorthands::default(), Some(r#"{"member": {"max_bytes": 0}}"#)).unwrap_err();
        assert!(zero.to_string().contains("member.max_bytes must be positive"), "{zero}");
    }
}
