//! Access tokens: verification (our HS256 tokens and an external identity
//! provider's RS / ES / EdDSA tokens) and issuing.
//!
//! The algorithm in a token's header only selects among the keys we were
//! configured with; each key accepts only its own family, so a token "signed"
//! with an RSA public key as an HMAC secret never verifies, and `alg: none`
//! does not parse.

use std::{sync::Arc, time::Duration};

use anyhow::{Context, bail};
use jsonwebtoken::{
    Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
    errors::ErrorKind,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use super::{
    claims::ClaimMapper,
    jwks::JwksCache,
    principal::{Principal, Role, TokenFacts},
};
use crate::config::AuthConfig;

/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

/// The claims of our own tokens (identity providers' go through `ClaimMapper`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Tenant id; absent for platform admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<Uuid>,
    pub role: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The sign-in (refresh-token family) of a token from `login` or
    /// `refreshToken`; revoked with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

impl Claims {
    /// The principal our own claims describe.
    pub fn principal(&self) -> Result<Principal, String> {
        let role = Role::parse(&self.role).ok_or_else(|| format!("unknown role `{}`", self.role))?;
        let facts = TokenFacts {
            issuer: String::new(),
            issued_at: self.iat,
            session: self.sid,
        };
        Principal::from_token(&self.sub, self.tid, role, "tid", facts)
    }
}

/// Why a token was refused; the message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TokenError(pub String);

/// Public keys of an external identity provider.
enum ExternalKeys {
    None,
    /// One PEM key: its family's algorithms are accepted.
    Pem {
        key: DecodingKey,
        algorithms: Vec<Algorithm>,
    },
    /// A JWKS, selected by `kid`, refreshed in the background.
    Jwks(Arc<JwksCache>),
}

/// Verifies access tokens.
pub struct JwtVerifier {
    secret: Option<DecodingKey>,
    external: ExternalKeys,
    /// Where an identity provider's tokens keep tenant, role and subject.
    claims: ClaimMapper,
    issuer: Option<String>,
    audience: Option<String>,
    /// The longest a platform admin's token may be valid for.
    platform_max_ttl: Duration,
}

impl JwtVerifier {
    /// Loads the configured keys (reads the PEM file, fetches the JWKS).
    pub async fn from_config(config: &AuthConfig) -> anyhow::Result<Self> {
        let idp = &config.idp;
        let external = if let Some(path) = &idp.public_key {
            let pem =
                std::fs::read(path).with_context(|| format!("reading SCREENPLAY_JWT_PUBLIC_KEY {}", path.display()))?;
            let (key, family) = decoding_key_from_pem(&pem).with_context(|| {
                format!(
                    "SCREENPLAY_JWT_PUBLIC_KEY {} is not an RSA, EC or Ed25519 public key",
                    path.display()
                )
            })?;
            ExternalKeys::Pem {
                key,
                algorithms: family.algorithms().to_vec(),
            }
        } else if let Some(source) = &idp.jwks {
            let cache = JwksCache::load(source, idp.jwks_refresh)
                .await
                .context("loading SCREENPLAY_JWT_JWKS")?;
            ExternalKeys::Jwks(cache)
        } else {
            ExternalKeys::None
        };
        Ok(Self {
            secret: config
                .jwt_secret
                .as_ref()
                .map(|s| DecodingKey::from_secret(s.expose().as_bytes())),
            external,
            claims: ClaimMapper::from_config(&idp.claims)?,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            platform_max_ttl: config.platform_token_max_ttl,
        })
    }

    /// The JWKS whose refresher the server runs, if keys come from one.
    pub fn jwks(&self) -> Option<Arc<JwksCache>> {
        match &self.external {
            ExternalKeys::Jwks(cache) => Some(cache.clone()),
            _ => None,
        }
    }

    /// Verifies `token` and turns its claims into a principal. Nothing here
    /// waits: keys are in memory (see [`JwksCache`]).
    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        self.verify_until(token).map(|(principal, _)| principal)
    }

    /// Verifies `token`; returns the caller and until when the token is
    /// accepted (its expiry plus the clock-skew leeway), so that a websocket
    /// connection lasts no longer than its token. Our HS256 tokens carry our
    /// [`Claims`]; an identity provider's are read through [`ClaimMapper`].
    pub fn verify_until(&self, token: &str) -> Result<(Principal, std::time::SystemTime), TokenError> {
        let header = decode_header(token).map_err(|_| TokenError("malformed token".into()))?;
        let (principal, exp) = if header.alg.family() == AlgorithmFamily::Hmac {
            let key = self
                .secret
                .as_ref()
                .ok_or_else(|| TokenError(format!("algorithm {:?} is not accepted", header.alg)))?;
            let claims: Claims = self.decode_with(token, key, &[Algorithm::HS256], &["exp", "sub"])?;
            (claims.principal().map_err(TokenError)?, claims.exp)
        } else {
            let claims = self.decode_external(token, &header)?;
            let exp = claims["exp"].as_u64().unwrap_or_default(); // checked by jsonwebtoken
            (self.claims.principal(&claims).map_err(TokenError)?, exp)
        };
        self.check_platform_lifetime(&principal, exp)?;
        let until = std::time::UNIX_EPOCH + Duration::from_secs(exp.saturating_add(LEEWAY_SECONDS));
        Ok((principal, until))
    }

    /// A platform admin's token may be valid for at most the configured
    /// lifetime (from its `iat`, or from now when it has none).
    fn check_platform_lifetime(&self, principal: &Principal, exp: u64) -> Result<(), TokenError> {
        let Principal::Platform { issued_at, .. } = principal else {
            return Ok(());
        };
        let from = issued_at.unwrap_or_else(jsonwebtoken::get_current_timestamp);
        if exp.saturating_sub(from) > self.platform_max_ttl.as_secs() + LEEWAY_SECONDS {
            return Err(TokenError(platform_ttl_refusal(self.platform_max_ttl)));
        }
        Ok(())
    }

    /// An identity provider's token, verified, as raw claims.
    fn decode_external(&self, token: &str, header: &Header) -> Result<serde_json::Value, TokenError> {
        match &self.external {
            ExternalKeys::None => Err(TokenError(format!("algorithm {:?} is not accepted", header.alg))),
            ExternalKeys::Pem { key, algorithms } => self.decode_with(token, key, algorithms, &["exp"]),
            ExternalKeys::Jwks(cache) => {
                let (key, alg) = cache
                    .key_for(header.kid.as_deref(), header.alg)
                    .ok_or_else(|| TokenError("no key for this token".into()))?;
                self.decode_with(token, &key, &[alg], &["exp"])
            }
        }
    }

    /// Checks signature, algorithm, `exp`/`nbf` (with leeway), `iss` and
    /// `aud` when configured, and the `required` claims.
    fn decode_with<T: DeserializeOwned>(
        &self,
        token: &str,
        key: &DecodingKey,
        algorithms: &[Algorithm],
        required: &[&str],
    ) -> Result<T, TokenError> {
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms.to_vec();
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(required);
        match &self.issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                validation.required_spec_claims.insert("iss".into());
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                validation.required_spec_claims.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        decode::<T>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| TokenError(refusal(e.kind()).to_owned()))
    }
}

/// What a client is told about a token jsonwebtoken refused.
fn refusal(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "token expired",
        ErrorKind::ImmatureSignature => "token not yet valid",
        ErrorKind::InvalidSignature => "invalid token signature",
        ErrorKind::InvalidIssuer => "token issuer not accepted",
        ErrorKind::InvalidAudience => "token audience not accepted",
        ErrorKind::InvalidAlgorithm => "token algorithm not accepted",
        ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim",
        _ => "malformed token",
    }
}

fn decoding_key_from_pem(pem: &[u8]) -> anyhow::Result<(DecodingKey, AlgorithmFamily)> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok((key, AlgorithmFamily::Rsa));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        return Ok((key, AlgorithmFamily::Ec));
    }
    if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        return Ok((key, AlgorithmFamily::Ed));
    }
    bail!("unrecognised public key")
}

/// Issues our own HS256 access tokens.
#[derive(Clone)]
pub struct JwtIssuer {
    key: Option<EncodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
    pub access_ttl: Duration,
    /// The longest a platform admin's token may be valid for.
    platform_max_ttl: Duration,
}

impl JwtIssuer {
    pub fn from_config(config: &AuthConfig) -> Self {
        Self {
            key: config
                .jwt_secret
                .as_ref()
                .map(|s| EncodingKey::from_secret(s.expose().as_bytes())),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            access_ttl: config.access_token_ttl,
            platform_max_ttl: config.platform_token_max_ttl,
        }
    }

    /// Signs a token for `sub` in `tenant` with `role`, valid for `ttl`.
    pub fn issue(&self, sub: &str, tenant: Option<Uuid>, role: Role, ttl: Duration) -> anyhow::Result<(String, u64)> {
        self.issue_in_session(sub, tenant, role, ttl, None)
    }

    /// [`Self::issue`] for a sign-in: the token carries `session` (`sid`)
    /// and stops working when the sign-in is revoked.
    pub fn issue_in_session(
        &self,
        sub: &str,
        tenant: Option<Uuid>,
        role: Role,
        ttl: Duration,
        session: Option<Uuid>,
    ) -> anyhow::Result<(String, u64)> {
        if role == Role::PlatformAdmin && ttl > self.platform_max_ttl {
            anyhow::bail!(platform_ttl_refusal(self.platform_max_ttl));
        }
        let key = self
            .key
            .as_ref()
            .context("no SCREENPLAY_JWT_SECRET configured: this server cannot issue tokens")?;
        let now = jsonwebtoken::get_current_timestamp();
        let exp = now + ttl.as_secs();
        let claims = Claims {
            sub: sub.to_owned(),
            tid: tenant,
            role: role.as_str().to_owned(),
            exp,
            nbf: Some(now),
            iat: Some(now),
            iss: self.issuer.clone(),
            aud: self.audience.clone().map(serde_json::Value::String),
            jti: Some(Uuid::now_v7().to_string()),
            sid: session,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, key)?;
        Ok((token, exp))
    }
}

/// Why a platform admin's token is refused for living too long: issuing and
/// verifying say the same.
fn platform_ttl_refusal(max: Duration) -> String {
    format!(
        "a platform_admin token may be valid for at most {} (SCREENPLAY_PLATFORM_TOKEN_MAX_TTL)",
        humantime::format_duration(max)
    )
}
