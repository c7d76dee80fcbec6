//! A test identity provider: RSA signing keys made with openssl, and its
//! JWKS endpoint on a real loopback HTTP server that can hang or fail.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

/// An RSA key pair of the provider, with its `kid`.
pub struct IdpKey {
    pub kid: String,
    pub private_pem: Vec<u8>,
    pub public_pem: Vec<u8>,
    /// The public key's PEM file.
    pub public_path: PathBuf,
    modulus: String,
}

impl IdpKey {
    /// A fresh 2048-bit key, its files in `dir`.
    pub fn generate(dir: &Path, kid: &str) -> Self {
        let private = dir.join(format!("{kid}.pem"));
        let public_path = dir.join(format!("{kid}.pub.pem"));
        let ok = openssl(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
            ],
            &private,
        ) && openssl(&["pkey", "-pubout", "-in", path_str(&private), "-out"], &public_path);
        assert!(ok, "openssl failed to make an RSA key");
        Self {
            kid: kid.to_owned(),
            private_pem: std::fs::read(&private).expect("private"),
            public_pem: std::fs::read(&public_path).expect("public"),
            modulus: modulus(&private),
            public_path,
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        json!({ "kty": "RSA", "kid": self.kid, "alg": "RS256", "use": "sig", "n": self.modulus, "e": "AQAB" })
    }

    /// `claims` signed RS256 with this key, its `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// Signed with this key but naming `kid`.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let key = EncodingKey::from_rsa_pem(&self.private_pem).expect("rsa key");
        encode(&header, claims, &key).expect("sign")
    }
}

/// A JWKS holding `keys`.
pub fn jwks(keys: &[&IdpKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
}

/// Runs openssl with `args` and then `out`.
fn openssl(args: &[&str], out: &Path) -> bool {
    Command::new("openssl")
        .args(args)
        .arg(out)
        .output()
        .expect("openssl is needed to make test keys")
        .status
        .success()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The RSA modulus of a private key file, base64url, for a JWK.
fn modulus(private: &Path) -> String {
    let out = Command::new("openssl")
        .args(["rsa", "-noout", "-modulus", "-in"])
        .arg(private)
        .output()
        .expect("openssl");
    let text = String::from_utf8(out.stdout).expect("utf8");
    let hex_modulus = text.trim().trim_start_matches("Modulus=");
    let bytes: Vec<u8> = (0..hex_modulus.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex_modulus[i..i + 2], 16).expect("hex"))
        .collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How the JWKS endpoint behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answers with the current JWKS.
    Up,
    /// Accepts the request and answers nothing until the mode changes.
    Hang,
    /// Answers 503.
    Down,
}

struct Provider {
    mode: Mode,
    jwks: Value,
}

/// The provider's JWKS endpoint on 127.0.0.1, counting what it is asked.
#[derive(Clone)]
pub struct JwksServer {
    pub url: String,
    state: Arc<Mutex<Provider>>,
    fetches: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

impl JwksServer {
    pub async fn start(jwks: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server = Self {
            url: format!("http://{}/.well-known/jwks.json", listener.local_addr().expect("addr")),
            state: Arc::new(Mutex::new(Provider { mode: Mode::Up, jwks })),
            fetches: Arc::default(),
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
        };
        let handler = server.clone();
        let router = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let handler = handler.clone();
                async move { handler.answer().await }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serve jwks") });
        server
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().expect("lock").mode = mode;
    }

    pub fn set_jwks(&self, jwks: Value) {
        self.state.lock().expect("lock").jwks = jwks;
    }

    /// Requests received so far.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// The most requests ever open at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Requests open now (a hanging provider holds them).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    async fn answer(&self) -> axum::response::Response {
        use axum::response::IntoResponse;
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let open = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(open, Ordering::SeqCst);
        let response = loop {
            let (mode, jwks) = {
                let state = self.state.lock().expect("lock");
                (state.mode, state.jwks.clone())
            };
            match mode {
                Mode::Up => break axum::Json(jwks).into_response(),
                Mode::Down => break axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
                Mode::Hang => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        response
    }
}
