//! Every GraphQL example of README.md and docs/*.md runs against a real
//! server and gives the answer shown beside it.
//!
//! The format (docs/architecture.md, "Runnable examples"): a ```` ```graphql ````
//! block is an operation, run in document order on one fresh database per
//! file that holds the local demo tenant, as its admin unless the info
//! string says `as=platform`, `as=anonymous`, `as=member`, `as=viewer` or
//! `as=agent` (the newest active user of that role), or `norun`. A
//! ```` ```json ```` block after it is its variables, or (an object of only
//! `data` / `errors`; for a subscription, an array of payloads) its answer.
//! Answers match when they are equal, except: a UUID shown is bound to the
//! real one at its first appearance and stands for it from then on (in
//! later operations too), any timestamp matches a timestamp, `…` in a
//! string matches anything, a number matches to the decimals shown, and
//! error objects need only the keys shown. A ```` ```sh run ```` block's
//! `screenplay …` lines run the real binary on the same database, from the
//! repository's root (the UUIDs bound so far substituted).

use std::{collections::HashMap, time::Duration};

use screenplay_api::{auth::Role, service::demo};
use serde_json::Value;

use crate::helpers::{TestApp, ws::WsClient};

/// A fenced block: its info string, text and first line.
struct Block {
    info: String,
    text: String,
    line: usize,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = markdown.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            continue;
        };
        let indent = line.len() - trimmed.len();
        let mut text = Vec::new();
        for (_, body) in lines.by_ref() {
            if body.trim() == "```" {
                break;
            }
            text.push(body.get(indent..).unwrap_or(body.trim_start()));
        }
        out.push(Block {
            info: info.trim().to_owned(),
            text: text.join("\n"),
            line: n + 1,
        });
    }
    out
}

/// What a file asks to run, in order.
enum Step {
    Operation(Example),
    /// `screenplay …` command lines of a ```` ```sh run ```` block.
    Commands {
        line: usize,
        commands: Vec<String>,
    },
}

/// One runnable example.
struct Example {
    line: usize,
    query: String,
    run_as: String,
    variables: Option<String>,
    answer: Option<Value>,
}

impl Example {
    fn is_subscription(&self) -> bool {
        self.query.trim_start().starts_with("subscription")
    }
}

fn examples(markdown: &str) -> Vec<Step> {
    let blocks = blocks(markdown);
    let mut out = Vec::new();
    let mut i = 0;
    while i < blocks.len() {
        let block = &blocks[i];
        i += 1;
        let mut words = block.info.split_whitespace();
        match words.next() {
            Some("graphql") => {}
            Some("sh") if block.info.split_whitespace().any(|w| w == "run") => {
                let commands = block
                    .text
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with("screenplay "))
                    .map(str::to_owned)
                    .collect();
                out.push(Step::Commands {
                    line: block.line,
                    commands,
                });
                continue;
            }
            _ => continue,
        }
        let options: Vec<&str> = words.collect();
        let mut example = Example {
            line: block.line,
            query: block.text.clone(),
            run_as: options
                .iter()
                .find_map(|o| o.strip_prefix("as="))
                .unwrap_or("admin")
                .to_owned(),
            variables: None,
            answer: None,
        };
        while i < blocks.len() && blocks[i].info.split_whitespace().next() == Some("json") && example.answer.is_none() {
            let value: Value = serde_json::from_str(&blocks[i].text)
                .unwrap_or_else(|e| panic!("line {}: not JSON: {e}", blocks[i].line));
            let is_answer = value.is_array()
                || value
                    .as_object()
                    .is_some_and(|o| !o.is_empty() && o.keys().all(|k| k == "data" || k == "errors"));
            if is_answer {
                example.answer = Some(value);
            } else {
                example.variables = Some(blocks[i].text.clone());
            }
            i += 1;
        }
        if !options.contains(&"norun") {
            out.push(Step::Operation(example));
        }
    }
    out
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok_and(|_| s.len() == 36)
}

fn is_timestamp(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// Runs one file's examples; returns what differed.
struct Run<'a> {
    app: &'a TestApp,
    /// Shown UUID → real UUID.
    bound: HashMap<String, String>,
    admin_token: String,
    platform_token: String,
}

impl Run<'_> {
    fn substitute(&self, text: &str) -> String {
        self.bound
            .iter()
            .fold(text.to_owned(), |text, (shown, real)| text.replace(shown, real))
    }

    async fn token(&self, run_as: &str) -> Option<String> {
        let role = match run_as {
            "admin" => return Some(self.admin_token.clone()),
            "platform" => return Some(self.platform_token.clone()),
            "anonymous" => return None,
            "member" => Role::Member,
            "viewer" => Role::Viewer,
            "agent" => Role::Agent,
            other => panic!("unknown as={other}"),
        };
        let owner = self.app.owner().await;
        let row = sea_orm::ConnectionTrait::query_one_raw(
            &owner,
            sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT u.tenant_id, u.id FROM screenplay.users u JOIN screenplay.tenants t ON t.id = u.tenant_id \
                 WHERE t.slug = 'demo' AND u.role = $1 AND u.status = 'active' ORDER BY u.created_at DESC LIMIT 1",
                [role.as_str().into()],
            ),
        )
        .await
        .expect("query")
        .unwrap_or_else(|| panic!("no active {run_as} in the demo tenant: create one in an earlier example"));
        let tenant: uuid::Uuid = row.try_get("", "tenant_id").expect("tenant");
        let user: uuid::Uuid = row.try_get("", "id").expect("user");
        Some(self.app.token_for(tenant, user, role))
    }

    async fn post(&self, example: &Example) -> Value {
        let query = self.substitute(&example.query);
        let variables: Value = match &example.variables {
            Some(text) => serde_json::from_str(&self.substitute(text)).expect("variables"),
            None => Value::Null,
        };
        let token = self.token(&example.run_as).await;
        self.app.post(token.as_deref(), &query, variables).await.1
    }

    /// Where `actual` differs from `expected` (binding UUIDs on the way).
    fn compare(&mut self, expected: &Value, actual: &Value, path: &str, loose: bool, out: &mut Vec<String>) {
        match (expected, actual) {
            (Value::Object(e), Value::Object(a)) => {
                if !loose && e.len() != a.len() {
                    out.push(format!(
                        "{path}: keys {:?} but got {:?}",
                        e.keys().collect::<Vec<_>>(),
                        a.keys().collect::<Vec<_>>()
                    ));
                }
                let under_errors = path.ends_with("errors") || loose;
                for (k, v) in e {
                    match a.get(k) {
                        Some(av) => self.compare(v, av, &format!("{path}.{k}"), under_errors && k != "data", out),
                        None => out.push(format!("{path}.{k}: missing")),
                    }
                }
            }
            (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
                let errors = path.ends_with("errors");
                for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                    self.compare(ev, av, &format!("{path}[{i}]"), errors, out);
                }
            }
            (Value::String(e), Value::String(a)) => self.compare_strings(e, a, path, out),
            (Value::Number(e), Value::Number(a)) => {
                let (ef, af) = (e.as_f64().unwrap_or(f64::NAN), a.as_f64().unwrap_or(f64::NAN));
                let shown = e.to_string();
                let decimals = shown.split_once('.').map_or(0, |(_, d)| d.len() as i32);
                let scale = 10f64.powi(decimals);
                if (af * scale).round() != (ef * scale).round() {
                    out.push(format!("{path}: {shown} shown, {a} answered"));
                }
            }
            (e, a) if e == a => {}
            (e, a) => out.push(format!("{path}: {e} shown, {a} answered")),
        }
    }

    fn compare_strings(&mut self, shown: &str, actual: &str, path: &str, out: &mut Vec<String>) {
        if is_uuid(shown) {
            match self.bound.get(shown) {
                Some(real) if real == actual => {}
                Some(real) => out.push(format!("{path}: {shown} stands for {real}, answered {actual}")),
                None if is_uuid(actual) => {
                    self.bound.insert(shown.to_owned(), actual.to_owned());
                }
                None => out.push(format!("{path}: a UUID shown, {actual:?} answered")),
            }
        } else if is_timestamp(shown) {
            if !is_timestamp(actual) {
                out.push(format!("{path}: a timestamp shown, {actual:?} answered"));
            }
        } else if let Some((before, after)) = shown.split_once('…') {
            let (before, after) = (self.substitute(before), self.substitute(after));
            if !(actual.starts_with(&before) && actual.ends_with(&after) && actual.len() >= before.len() + after.len())
            {
                out.push(format!("{path}: {shown:?} shown, {actual:?} answered"));
            }
        } else if self.substitute(shown) != actual {
            out.push(format!("{path}: {shown:?} shown, {actual:?} answered"));
        }
    }

    /// Runs a subscription example around the example after it.
    async fn subscribe_around(&mut self, subscription: &Example, next: &Example, file: &str, out: &mut Vec<String>) {
        let token = self
            .token(&subscription.run_as)
            .await
            .expect("a subscription needs a token");
        let mut client = WsClient::connect(self.app.addr, &token).await;
        let variables: Value = match &subscription.variables {
            Some(text) => serde_json::from_str(&self.substitute(text)).expect("variables"),
            None => Value::Null,
        };
        client
            .subscribe("1", &self.substitute(&subscription.query), variables)
            .await;
        // The subscription checks access, then listens: give it that moment.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.run_one(next, file, out).await;
        let expected = subscription.answer.clone().unwrap_or(Value::Array(Vec::new()));
        let mut payloads = Vec::new();
        for _ in 0..expected.as_array().map_or(0, Vec::len) {
            match client.next(Duration::from_secs(10)).await {
                Some(frame) if frame["type"] == "next" => payloads.push(frame["payload"].clone()),
                other => {
                    out.push(format!(
                        "{file}:{}: expected an event, got {other:?}",
                        subscription.line
                    ));
                    return;
                }
            }
        }
        let mut found = Vec::new();
        self.compare(&expected, &Value::Array(payloads), "events", false, &mut found);
        out.extend(found.into_iter().map(|d| format!("{file}:{}: {d}", subscription.line)));
    }

    /// Runs a `screenplay …` line on the example database.
    fn command(&self, command: &str, file: &str, line: usize, out: &mut Vec<String>) {
        let command = self.substitute(command);
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        let result = std::process::Command::new(env!("CARGO_BIN_EXE_screenplay"))
            .args(&args)
            .current_dir(crate::helpers::checkout())
            .env("DATABASE_URL", &self.app.db.app_url)
            .env("SCREENPLAY_MIGRATION_DATABASE_URL", &self.app.db.owner_url)
            .env("RUST_LOG", "warn")
            .env_remove("SCREENPLAY_EMBEDDING_URL")
            .output()
            .expect("run screenplay");
        if !result.status.success() {
            out.push(format!(
                "{file}:{line}: `{command}` failed: {}{}",
                String::from_utf8_lossy(&result.stdout),
                String::from_utf8_lossy(&result.stderr)
            ));
        }
    }

    async fn run_one(&mut self, example: &Example, file: &str, out: &mut Vec<String>) {
        let actual = self.post(example).await;
        if let Some(expected) = &example.answer {
            let mut found = Vec::new();
            self.compare(expected, &actual, "", false, &mut found);
            out.extend(
                found
                    .into_iter()
                    .map(|d| format!("{file}:{}: {d}\n  answered: {actual}", example.line)),
            );
        } else if actual.get("errors").is_some() {
            out.push(format!(
                "{file}:{}: no answer shown, but it failed: {actual}",
                example.line
            ));
        }
    }
}

/// Runs `file`'s examples on a fresh server; returns the differences.
async fn check_file(file: &str) -> Vec<String> {
    let path = crate::helpers::checkout().join(file);
    let markdown = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let examples = examples(&markdown);
    if examples.is_empty() {
        return Vec::new();
    }
    let app = TestApp::spawn().await;
    let access = demo::ensure(&app.state.db, &app.state.issuer, Duration::from_secs(3600))
        .await
        .expect("demo tenant");
    let mut run = Run {
        app: &app,
        bound: HashMap::new(),
        admin_token: access.admin_token.expect("a new demo tenant has an admin"),
        platform_token: access.platform_token,
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < examples.len() {
        match (&examples[i], examples.get(i + 1)) {
            (Step::Operation(sub), Some(Step::Operation(next))) if sub.is_subscription() => {
                run.subscribe_around(sub, next, file, &mut out).await;
                i += 2;
            }
            (Step::Operation(example), _) => {
                run.run_one(example, file, &mut out).await;
                i += 1;
            }
            (Step::Commands { line, commands }, _) => {
                for command in commands {
                    run.command(command, file, *line, &mut out);
                }
                i += 1;
            }
        }
    }
    out
}

async fn assert_examples_hold(file: &str) {
    let differences = check_file(file).await;
    assert!(
        differences.is_empty(),
        "{} example(s) differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[tokio::test]
async fn readme_examples_hold() {
    assert_examples_hold("README.md").await;
}

#[tokio::test]
async fn api_guide_examples_hold() {
    assert_examples_hold("docs/api.md").await;
}

#[tokio::test]
async fn search_examples_hold() {
    assert_examples_hold("docs/search.md").await;
}

#[tokio::test]
async fn security_examples_hold() {
    assert_examples_hold("docs/security.md").await;
}

#[tokio::test]
async fn operations_examples_hold() {
    assert_examples_hold("docs/operations.md").await;
}

#[tokio::test]
async fn configuration_and_architecture_examples_hold() {
    assert_examples_hold("docs/configuration.md").await;
    assert_examples_hold("docs/architecture.md").await;
}

/// A wrong answer is reported: the check can fail.
#[tokio::test]
async fn a_wrong_answer_is_reported() {
    let app = TestApp::spawn().await;
    let access = demo::ensure(&app.state.db, &app.state.issuer, Duration::from_secs(3600))
        .await
        .expect("demo tenant");
    let mut run = Run {
        app: &app,
        bound: HashMap::new(),
        admin_token: access.admin_token.expect("admin"),
        platform_token: access.platform_token,
    };
    let markdown = "```graphql\n{ me { role } }\n```\n```json\n{\"data\": {\"me\": {\"role\": \"VIEWER\"}}}\n```\n";
    let examples = examples(markdown);
    let Step::Operation(example) = &examples[0] else {
        panic!("an operation")
    };
    let mut out = Vec::new();
    run.run_one(example, "test.md", &mut out).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].contains("\"VIEWER\" shown, \"TENANT_ADMIN\" answered"),
        "{out:?}"
    );
}
