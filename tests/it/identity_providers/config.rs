//! The identity-provider settings are checked at start, and a refusal names
//! the variable and says what to write instead.

use screenplay_api::{
    auth::claims::ClaimMapper,
    config::{ClaimMapping, Config, DatabaseArgs, ServeArgs},
};

/// The configuration `flags` give, or the start-up error.
fn config(flags: &[&str]) -> Result<Config, String> {
    let mut args = vec!["--jwt-secret", crate::helpers::JWT_SECRET];
    args.extend_from_slice(flags);
    let serve = ServeArgs::parse_flags(&args).map_err(|e| e.to_string())?;
    Config::from_args(serve, DatabaseArgs::at("postgres://unused", None)).map_err(|e| format!("{e:#}"))
}

fn refusal(flags: &[&str]) -> String {
    match config(flags) {
        Ok(_) => panic!("{flags:?} was accepted"),
        Err(e) => e,
    }
}

#[test]
fn claim_settings_become_json_pointers() {
    let claims = |flags: &[&str]| config(flags).expect("config").auth.idp.claims;
    assert_eq!(claims(&["--jwt-jwks", "jwks.json"]), ClaimMapping::default());
    let auth0 = claims(&[
        "--jwt-jwks",
        "jwks.json",
        "--jwt-claims-namespace",
        "https://screenplay.example/",
    ]);
    assert_eq!(auth0.tenant, "/https:~1~1screenplay.example~1tid");
    assert_eq!(auth0.role, "/https:~1~1screenplay.example~1role");
    assert_eq!(auth0.subject, "/sub");
    // An explicit pointer wins over the namespace for its own claim.
    let mixed = claims(&[
        "--jwt-jwks",
        "jwks.json",
        "--jwt-claims-namespace",
        "https://screenplay.example/",
        "--jwt-role-claim",
        "/permissions",
    ]);
    assert_eq!(mixed.tenant, "/https:~1~1screenplay.example~1tid");
    assert_eq!(mixed.role, "/permissions");
    let mapped = claims(&[
        "--jwt-jwks",
        "jwks.json",
        "--jwt-role-map",
        "admins=tenant_admin, readers = viewer",
    ]);
    assert_eq!(
        mapped.role_map,
        Some(vec![
            ("admins".into(), "tenant_admin".into()),
            ("readers".into(), "viewer".into())
        ])
    );
}

#[test]
fn wrong_claim_settings_are_refused_with_the_variable_named() {
    let why = refusal(&["--jwt-jwks", "jwks.json", "--jwt-role-claim", "realm_access.roles"]);
    assert!(
        why.contains("SCREENPLAY_JWT_ROLE_CLAIM") && why.contains("/realm_access/roles"),
        "{why}"
    );
    let why = refusal(&["--jwt-jwks", "jwks.json", "--jwt-tenant-claim", "/a~2"]);
    assert!(why.contains("SCREENPLAY_JWT_TENANT_CLAIM"), "{why}");
    let why = refusal(&[
        "--jwt-jwks",
        "jwks.json",
        "--jwt-claims-namespace",
        "https://screenplay.example",
    ]);
    assert!(why.contains("must end with a separator"), "{why}");
    let why = refusal(&["--jwt-jwks", "jwks.json", "--jwt-role-map", "admins"]);
    assert!(why.contains("SCREENPLAY_JWT_ROLE_MAP"), "{why}");
    let why = refusal(&["--jwt-role-claim", "/roles"]);
    assert!(
        why.contains("set SCREENPLAY_JWT_JWKS or SCREENPLAY_JWT_PUBLIC_KEY"),
        "{why}"
    );

    let why = refusal(&["--jwt-jwks", "jwks.json", "--jwt-jwks-refresh", "10ms"]);
    assert!(why.contains("SCREENPLAY_JWT_JWKS_REFRESH"), "{why}");

    // Role names are checked where roles live, when the server builds its verifier.
    let unknown = config(&["--jwt-jwks", "jwks.json", "--jwt-role-map", "admins=owner"]).expect("config");
    let why = ClaimMapper::from_config(&unknown.auth.idp.claims)
        .expect_err("unknown role")
        .to_string();
    assert!(why.contains("SCREENPLAY_JWT_ROLE_MAP: `owner` is not a role"), "{why}");
}

/// The `export SCREENPLAY_JWT_…` blocks of docs/security.md, as flags.
fn documented_settings() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(crate::helpers::checkout().join("docs/security.md")).expect("security.md");
    let command = <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"));
    let flag_of = |var: &str| {
        let arg = command.get_arguments().find(|a| a.get_env().is_some_and(|e| e == var));
        format!(
            "--{}",
            arg.and_then(|a| a.get_long())
                .unwrap_or_else(|| panic!("{var} is no setting"))
        )
    };
    text.split("```sh\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block))
        .filter(|block| block.lines().all(|l| l.starts_with("export SCREENPLAY_JWT_")))
        .map(|block| {
            block
                .lines()
                .filter_map(|l| l.trim_start_matches("export ").split_once('='))
                .flat_map(|(var, value)| [flag_of(var), value.to_owned()])
                .collect()
        })
        .collect()
}

#[test]
fn the_documented_provider_settings_are_accepted() {
    let blocks = documented_settings();
    assert_eq!(blocks.len(), 4, "Auth0, Keycloak, Entra ID and Cognito");
    for flags in blocks {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let config = config(&flags).unwrap_or_else(|e| panic!("{flags:?}: {e}"));
        ClaimMapper::from_config(&config.auth.idp.claims).unwrap_or_else(|e| panic!("{flags:?}: {e}"));
    }
}
