//! Access tokens: verification (our HS256 tokens and an external identity
//! provider's RS / ES / EdDSA tokens) and issuing.
//!
//! The algorithm in a token's header only selects among the keys we were
//! configured with; each key accepts only its own family, so a token "signed"
//! with an RSA public key as an HMAC secret never verifies, and `alg: none`
//! does not parse.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use jsonwebtoken::{
    Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
    errors::ErrorKind, jwk::JwkSet,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tokio::sync::RwLock;
use uuid::Uuid;

use super::{
    claims::ClaimMapper,
    principal::{Principal, Role},
};
use crate::config::AuthConfig;

/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;
/// An unknown `kid` refetches the JWKS at most this often.
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(60);
/// A JWKS from a URL is refetched at least this often.
const JWKS_MAX_AGE: Duration = Duration::from_secs(600);

/// The claims we read and write.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id (or the identity provider's subject).
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
}

impl Claims {
    /// The principal our own claims describe.
    pub fn principal(&self) -> Result<Principal, String> {
        let role = Role::parse(&self.role).ok_or_else(|| format!("unknown role `{}`", self.role))?;
        Principal::from_token(&self.sub, self.tid, role, "tid")
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
    /// A JWKS, selected by `kid`.
    Jwks(Arc<JwksCache>),
}

struct JwksCache {
    source: String,
    http: reqwest::Client,
    state: RwLock<JwksState>,
}

struct JwksState {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    /// Keys without a `kid`, tried in order.
    anonymous: Vec<(DecodingKey, Algorithm)>,
    fetched_at: Instant,
}

/// Verifies access tokens.
pub struct JwtVerifier {
    secret: Option<DecodingKey>,
    external: ExternalKeys,
    /// Where an identity provider's tokens keep tenant, role and subject.
    claims: ClaimMapper,
    issuer: Option<String>,
    audience: Option<String>,
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
            let cache = Arc::new(JwksCache {
                source: source.clone(),
                http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?,
                state: RwLock::new(JwksState {
                    keys: HashMap::new(),
                    anonymous: Vec::new(),
                    fetched_at: Instant::now(),
                }),
            });
            cache.refresh().await.context("loading SCREENPLAY_JWT_JWKS")?;
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
        })
    }

    /// Verifies `token` and turns its claims into a principal.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        self.verify_until(token).await.map(|(principal, _)| principal)
    }

    /// Verifies `token`; returns the caller and until when the token is
    /// accepted (its expiry plus the clock-skew leeway), so that a websocket
    /// connection lasts no longer than its token. Our HS256 tokens carry our
    /// [`Claims`]; an identity provider's are read through [`ClaimMapper`].
    pub async fn verify_until(&self, token: &str) -> Result<(Principal, std::time::SystemTime), TokenError> {
        let header = decode_header(token).map_err(|_| TokenError("malformed token".into()))?;
        let (principal, exp) = if family_of(header.alg) == AlgorithmFamily::Hmac {
            let key = self
                .secret
                .as_ref()
                .ok_or_else(|| TokenError(format!("algorithm {:?} is not accepted", header.alg)))?;
            let claims: Claims = self.decode_with(token, key, &[Algorithm::HS256], &["exp", "sub"])?;
            (claims.principal().map_err(TokenError)?, claims.exp)
        } else {
            let claims = self.decode_external(token, &header).await?;
            let exp = claims["exp"].as_u64().unwrap_or_default(); // checked by jsonwebtoken
            (self.claims.principal(&claims).map_err(TokenError)?, exp)
        };
        let until = std::time::UNIX_EPOCH + Duration::from_secs(exp.saturating_add(LEEWAY_SECONDS));
        Ok((principal, until))
    }

    /// An identity provider's token, verified, as raw claims.
    async fn decode_external(&self, token: &str, header: &Header) -> Result<serde_json::Value, TokenError> {
        match &self.external {
            ExternalKeys::None => Err(TokenError(format!("algorithm {:?} is not accepted", header.alg))),
            ExternalKeys::Pem { key, algorithms } => self.decode_with(token, key, algorithms, &["exp"]),
            ExternalKeys::Jwks(cache) => {
                let (key, alg) = cache
                    .key_for(header.kid.as_deref(), header.alg)
                    .await
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

impl JwksCache {
    async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Option<(DecodingKey, Algorithm)> {
        if let Some(found) = self.lookup(kid, alg).await {
            let stale = self.state.read().await.fetched_at.elapsed() > JWKS_MAX_AGE;
            if stale {
                let _ = self.refresh().await;
            }
            return Some(found);
        }
        // Unknown key: the provider may have rotated; refetch, not too often.
        let recently = self.state.read().await.fetched_at.elapsed() < JWKS_MIN_REFRESH;
        if recently {
            return None;
        }
        if let Err(e) = self.refresh().await {
            tracing::warn!(error = %e, "refreshing the JWKS failed");
        }
        self.lookup(kid, alg).await
    }

    async fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Option<(DecodingKey, Algorithm)> {
        let state = self.state.read().await;
        let accept = |(key, key_alg): &(DecodingKey, Algorithm)| {
            (family_of(*key_alg) == family_of(alg)).then(|| (key.clone(), alg))
        };
        match kid {
            Some(kid) => state.keys.get(kid).and_then(accept),
            None => state.anonymous.iter().find_map(accept),
        }
    }

    async fn refresh(&self) -> anyhow::Result<()> {
        let text = if self.source.starts_with("https://") || self.source.starts_with("http://") {
            self.http
                .get(&self.source)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await?
        } else {
            tokio::fs::read_to_string(&self.source)
                .await
                .with_context(|| format!("reading {}", self.source))?
        };
        let set: JwkSet = serde_json::from_str(&text).context("parsing the JWKS")?;
        let mut keys = HashMap::new();
        let mut anonymous = Vec::new();
        for jwk in &set.keys {
            let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok())
                .unwrap_or(match key.family() {
                    AlgorithmFamily::Rsa => Algorithm::RS256,
                    AlgorithmFamily::Ec => Algorithm::ES256,
                    AlgorithmFamily::Ed => Algorithm::EdDSA,
                    AlgorithmFamily::Hmac => continue, // symmetric keys do not belong in a JWKS
                });
            if family_of(alg) == AlgorithmFamily::Hmac {
                continue;
            }
            match &jwk.common.key_id {
                Some(kid) => {
                    keys.insert(kid.clone(), (key, alg));
                }
                None => anonymous.push((key, alg)),
            }
        }
        if keys.is_empty() && anonymous.is_empty() {
            bail!("the JWKS holds no usable public key");
        }
        *self.state.write().await = JwksState {
            keys,
            anonymous,
            fetched_at: Instant::now(),
        };
        Ok(())
    }
}

fn family_of(alg: Algorithm) -> AlgorithmFamily {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => AlgorithmFamily::Hmac,
        Algorithm::ES256 | Algorithm::ES384 => AlgorithmFamily::Ec,
        Algorithm::EdDSA => AlgorithmFamily::Ed,
        _ => AlgorithmFamily::Rsa,
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
        }
    }

    /// Signs a token for `sub` in `tenant` with `role`, valid for `ttl`.
    pub fn issue(&self, sub: &str, tenant: Option<Uuid>, role: Role, ttl: Duration) -> anyhow::Result<(String, u64)> {
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
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, key)?;
        Ok((token, exp))
    }
}
