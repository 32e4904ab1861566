//! The hostile suite: every class of hostile input and fault a desktop sign-in meets, tried
//! against the real `kinvex` binary, the real Secret Service and the local stack over real HTTP
//! on loopback. Each test is one class; it counts attempts and how many were accepted, crashed a
//! process, leaked a token fragment or hung past their bound, writes that row under
//! `target/hostile/` (`cargo xtask hostile` prints the table) and fails unless all but the
//! attempts are 0. For the fault classes, "accepted" counts a wrong end state: a session lost or
//! half-written, or a request served that had to fail.
//!
//! One file: the classes share one way of running the binary and reading what it left (the
//! helpers at the top); split, each file would carry its own copy of them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kinvex_auth::TokenSet;
use kinvex_devstack::{Config, Running, start};
use kinvex_e2e::hostile::private_keyring::PrivateKeyring;
use kinvex_e2e::hostile::provider::{Answer, HostileProvider};
use kinvex_e2e::hostile::{Fragments, Ran, Scratch, Tally, Verdict, run_until_output, run_within};
use kinvex_e2e::{Session, required_env};
use kinvex_test_kit::{backend, oauth};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use url::Url;

/// Far over what any one command takes on a slow runner; past it, the command hung.
const BOUND: Duration = Duration::from_secs(60);

async fn stack_with(adjust: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config {
        any_loopback_port: true,
        ..Config::default()
    };
    adjust(&mut config);
    start(config).await.expect("stack starts")
}

/// The CLI pointed at `issuer` and `stack`'s backend, with `browser` as the system browser.
fn kinvex(issuer: &str, stack: &Running, browser: &str, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(required_env("KINVEX_E2E_CLI"));
    command
        .args(args)
        .env("KINDE_ISSUER_URL", issuer)
        .env("KINDE_CLIENT_ID", &stack.state.config.client_id)
        .env("KINDE_REDIRECT_URL", "http://127.0.0.1:0/callback")
        .env("CONVEX_URL", stack.api_url())
        .env("BROWSER", browser)
        .env_remove("KINVEX_PLAINTEXT_TOKENS");
    command
}

/// A browser that signs in as the stack's demo user.
fn demo_browser(stack: &Running) -> String {
    let demo = &stack.accounts[0];
    format!(
        "{} browse --email {} --password {}",
        required_env("KINVEX_E2E_DEVSTACK"),
        demo.email,
        demo.password
    )
}

/// The library's view of the keychain entry the CLI uses for `issuer`.
fn store(issuer: &str, stack: &Running) -> kinvex_auth::TokenStore {
    let settings = kinvex_auth::config::Sources::from_pairs([
        ("KINDE_ISSUER_URL", issuer),
        ("KINDE_CLIENT_ID", stack.state.config.client_id.as_str()),
        ("CONVEX_URL", stack.api_url()),
    ]);
    let config = kinvex_auth::Config::from_sources(&settings).expect("config");
    kinvex_auth::default_store(&config)
}

async fn stored(issuer: &str, stack: &Running) -> Result<Option<TokenSet>, String> {
    let store = store(issuer, stack);
    tokio::task::spawn_blocking(move || store.load().map_err(|e| e.to_string()))
        .await
        .expect("join")
}

/// Under the index's lock, as the kinvex processes of other tests may be changing it too.
async fn put(issuer: &str, stack: &Running, tokens: TokenSet) {
    let store = store(issuer, stack);
    let _held = kinvex_auth::session::hold_accounts_index()
        .await
        .expect("the accounts lock");
    tokio::task::spawn_blocking(move || store.save(&tokens))
        .await
        .expect("join")
        .expect("the keychain takes the session");
}

/// Under the index's lock, as the kinvex processes of other tests may be changing it too.
async fn clear(issuer: &str, stack: &Running) {
    let store = store(issuer, stack);
    let _held = kinvex_auth::session::hold_accounts_index()
        .await
        .expect("the accounts lock");
    let _ = tokio::task::spawn_blocking(move || store.clear()).await;
}

fn fragments_of(tokens: &TokenSet) -> Fragments {
    let mut fragments = Fragments::of(&[tokens.access_token.expose(), tokens.id_token.expose()]);
    if let Some(refresh) = &tokens.refresh_token {
        fragments.add(refresh.expose());
    }
    fragments
}

/// A `kinvex login --no-browser` under way: the sign-in address it printed, and the process.
struct Login {
    child: tokio::process::Child,
    url: Option<Url>,
    output: std::sync::Arc<std::sync::Mutex<String>>,
    /// The tasks copying the process's output; they end when its pipes close.
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl Login {
    async fn start(mut command: std::process::Command) -> Login {
        command.stdin(std::process::Stdio::null());
        let mut command = tokio::process::Command::from(command);
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("kinvex runs");
        let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut stdout = child.stdout.take().expect("stdout");
        let kept = output.clone();
        let mut readers = vec![tokio::spawn(async move {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text).await;
            kept.lock().expect("output").push_str(&text);
        })];
        let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
        let mut url = None;
        let reading = async {
            while let Ok(Some(line)) = lines.next_line().await {
                output
                    .lock()
                    .expect("output")
                    .push_str(&(line.clone() + "\n"));
                if let Some(at) = line.find("http")
                    && line.contains("/oauth2/auth?")
                {
                    url = Url::parse(line[at..].trim()).ok();
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(BOUND, reading).await;
        let kept = output.clone();
        readers.push(tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().expect("output").push_str(&(line + "\n"));
            }
        }));
        Login {
            child,
            url,
            output,
            readers,
        }
    }

    fn param(&self, key: &str) -> String {
        self.url
            .as_ref()
            .and_then(|url| oauth::param(url, key))
            .unwrap_or_default()
    }

    fn redirect(&self) -> Url {
        Url::parse(&self.param("redirect_uri")).expect("a redirect URI")
    }

    /// The process's end within the bound, killed past it.
    async fn end(mut self) -> Ran {
        let started = std::time::Instant::now();
        let status = tokio::time::timeout(BOUND, self.child.wait()).await;
        if status.is_err() {
            let _ = self.child.kill().await;
        }
        // The readers finish once the pipes close with the process (and any child it left).
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
        let text = self.output.lock().expect("output").clone();
        let (status, hung) = match status {
            Ok(status) => (Some(status.expect("exit status")), false),
            Err(_) => (None, true),
        };
        Ran {
            status,
            stdout: String::new(),
            stderr: text,
            hung,
            took: started.elapsed(),
        }
    }
}

/// One HTTP/1.1 GET over a fresh connection with the given `Host`: the status, if any came.
async fn raw_get(port: u16, target: &str, host: &str) -> Option<u16> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = vec![0; 64];
        let n = stream.read(&mut head).await.ok()?;
        String::from_utf8_lossy(&head[..n])
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .ok()
        .flatten()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A JWT with `header` and `claims` and `signature`, put together by hand.
fn jwt(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `token` with its payload replaced by `claims`, its signature kept.
fn tampered(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    )
}

/// Claims signed by a key nobody trusts, with the same `kid` as the stack's current one.
fn attackers(stack: &Running, claims: &Value) -> String {
    let attacker = kinvex_devstack::keys::KeySet::open(None).expect("attacker's key");
    let forged = attacker.sign(claims);
    let kid = stack.state.keys().current_kid().to_string();
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
    let parts: Vec<&str> = forged.split('.').collect();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        parts[1],
        parts[2]
    )
}

fn none_alg(claims: &Value) -> String {
    jwt(&json!({ "alg": "none", "typ": "JWT" }), claims, "")
}

/// Hostile ID tokens and token responses for a sign-in expecting `nonce` (none at refresh).
fn hostile_token_responses(
    provider: &HostileProvider,
    stack: &Running,
    nonce: Option<&str>,
) -> Vec<(&'static str, Value)> {
    let good = provider.id_claims("kp_hostile_person", nonce, 3600);
    let with = |key: &str, value: Value| {
        let mut claims = good.clone();
        claims[key] = value;
        claims
    };
    let without = |key: &str| {
        let mut claims = good.clone();
        claims.as_object_mut().expect("claims").remove(key);
        claims
    };
    let signed =
        |claims: Value| provider.token_response(&provider.sign(&claims), "hostile-refresh");
    let mut cases = vec![
        (
            "wrong iss",
            signed(with("iss", json!("http://127.0.0.1:9/evil"))),
        ),
        (
            "iss of the stack",
            signed(with("iss", json!(stack.issuer()))),
        ),
        (
            "other audience",
            signed(with("aud", json!(["someone_else"]))),
        ),
        (
            "several audiences, no azp",
            signed({
                let mut c = without("azp");
                c["aud"] = json!([provider.client_id, "someone_else"]);
                c
            }),
        ),
        (
            "azp of another client",
            signed(with("azp", json!("someone_else"))),
        ),
        ("expired", signed(with("exp", json!(now() - 600)))),
        (
            "issued in the future",
            signed(with("iat", json!(now() + 3600))),
        ),
        ("empty sub", signed(with("sub", json!("")))),
        ("no sub", signed(without("sub"))),
        ("alg none", provider.token_response(&none_alg(&good), "r")),
        (
            "attacker's key",
            provider.token_response(&attackers(stack, &good), "r"),
        ),
        (
            "tampered payload",
            provider.token_response(
                &tampered(
                    &provider.sign(&good),
                    &with("sub", json!(stack.accounts[1].user_id)),
                ),
                "r",
            ),
        ),
        ("not a JWT", provider.token_response("not.a.jwt", "r")),
        (
            "huge token",
            provider.token_response(&"A".repeat(512 * 1024), "r"),
        ),
        (
            "no id_token",
            json!({ "access_token": "a", "token_type": "bearer" }),
        ),
        ("an error with 200", json!({ "error": "invalid_grant" })),
        ("not an object", json!([1, 2, 3])),
    ];
    if nonce.is_some() {
        cases.push(("wrong nonce", signed(with("nonce", json!("not-the-nonce")))));
        cases.push(("no nonce", signed(without("nonce"))));
    }
    cases
}

/// Runs one sign-in of the CLI against `provider` whose token endpoint answers `answer(nonce)`;
/// the callback carries a made-up code. Returns the run.
async fn sign_in_through(
    provider: &HostileProvider,
    stack: &Running,
    answer: impl FnOnce(&str) -> Vec<Answer>,
) -> Ran {
    let login = Login::start(kinvex(
        &provider.issuer,
        stack,
        "",
        &["login", "--no-browser", "--timeout", "30", "--force"],
    ))
    .await;
    if login.url.is_some() {
        provider.token(answer(&login.param("nonce")));
        let redirect = login.redirect();
        let target = format!(
            "{}?code=made-up-code&state={}&iss={}",
            redirect.path(),
            login.param("state"),
            provider.issuer
        );
        let host = format!("127.0.0.1:{}", redirect.port().unwrap_or(80));
        raw_get(redirect.port().unwrap_or(80), &target, &host).await;
    }
    login.end().await
}

#[tokio::test]
async fn forged_callbacks_end_no_sign_in() {
    let stack = stack_with(|_| {}).await;
    let mut tally = Tally::new("forged_callbacks");
    let login = Login::start(kinvex(
        stack.issuer(),
        &stack,
        "",
        &["login", "--no-browser", "--timeout", "60"],
    ))
    .await;
    let redirect = login.redirect();
    let port = redirect.port().expect("a port");
    let host = format!("127.0.0.1:{port}");
    let path = redirect.path().to_string();
    let state = login.param("state");

    // Slow connections: a request line and never the rest. The listener must drop them.
    let mut slow = tokio::task::JoinSet::new();
    for _ in 0..20 {
        slow.spawn(async move {
            let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                return true;
            };
            let _ = stream
                .write_all(b"GET /callback?code=x HTTP/1.1\r\nHost: ")
                .await;
            let mut byte = [0; 256];
            // Closed (0 bytes or an error) or answered within the bound: not hung.
            tokio::time::timeout(Duration::from_secs(20), async {
                loop {
                    match stream.read(&mut byte).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            })
            .await
            .is_ok()
        });
    }
    // A flood of 200 connections with forged requests at once.
    let mut flood = tokio::task::JoinSet::new();
    for n in 0..200 {
        let (host, path) = (host.clone(), path.clone());
        flood.spawn(async move {
            let target = format!("{path}?code=flood-{n}&state=forged-{n}");
            raw_get(port, &target, &host).await
        });
    }
    while let Some(status) = flood.join_next().await {
        let status = status.expect("join");
        tally.count(
            "flood",
            Verdict {
                accepted: status == Some(200),
                hung: status.is_none(),
                ..Verdict::default()
            },
        );
    }
    let forged: Vec<(String, String, &str)> = (0..10)
        .map(|n| {
            (
                format!("{path}?code=c{n}&state=wrong-{n}"),
                host.clone(),
                "wrong state",
            )
        })
        .chain([
            (format!("{path}?code=c"), host.clone(), "no state"),
            (format!("{path}?code=c&state="), host.clone(), "empty state"),
            (
                format!("{path}x?code=c&state={state}"),
                host.clone(),
                "wrong path",
            ),
            (format!("/?code=c&state={state}"), host.clone(), "root path"),
            (
                format!("{}?code=c&state={state}", path.to_uppercase()),
                host.clone(),
                "path case",
            ),
            (
                format!("{path}/../x?code=c&state={state}"),
                host.clone(),
                "dot segments",
            ),
            (
                format!("{path}?code=c&state={state}&iss=http%3A%2F%2Fevil.example"),
                host.clone(),
                "wrong iss",
            ),
            (
                format!(
                    "{path}?code=c&state={state}&iss={}",
                    stack.issuer().replace("127.0.0.1", "localhost")
                ),
                host.clone(),
                "look-alike iss",
            ),
            (
                format!("{path}?code=c&state={state}"),
                "evil.example".into(),
                "rebinding host",
            ),
            (
                format!("{path}?code=c&state={state}"),
                format!("evil.example:{port}"),
                "rebinding host and port",
            ),
            (
                format!("{path}?code=c&state={state}"),
                format!("127.0.0.1:{}", port.wrapping_add(1)),
                "other port",
            ),
            (format!("{path}?state={state}"), host.clone(), "no code"),
        ])
        .collect();
    for (target, host, what) in &forged {
        let status = raw_get(port, target, host).await;
        tally.count(
            what,
            Verdict {
                accepted: status == Some(200),
                hung: status.is_none(),
                ..Verdict::default()
            },
        );
    }
    while let Some(closed) = slow.join_next().await {
        tally.count(
            "slow connection",
            Verdict {
                hung: !closed.expect("join"),
                ..Verdict::default()
            },
        );
    }

    // Code injection: another person's code, from a sign-in of theirs, with the right state.
    let pkce = oauth::pkce();
    let theirs = oauth::browse(
        &kinvex_devstack::user_agent::UserAgent::new(),
        &oauth::authorize_url(&stack, &pkce, &[]),
        &oauth::other(&stack),
    )
    .await;
    let code = oauth::param(&theirs, "code").expect("their code");
    let target = format!("{path}?code={code}&state={state}&iss={}", stack.issuer());
    raw_get(port, &target, &host).await;
    let ran = login.end().await;
    let signed_in = stored(stack.issuer(), &stack).await.ok().flatten();
    tally.count_run(
        "code injection",
        &ran,
        ran.success() || signed_in.is_some(),
        &Fragments::default(),
    );
    // Every connection was closed with the sign-in: the port is free again at once.
    let free = std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
    tally.count("port kept after the end", Verdict::accepted(!free));
    tally.finish();
}

#[tokio::test]
async fn hostile_tokens_at_sign_in_are_refused() {
    let stack = stack_with(|_| {}).await;
    let provider = HostileProvider::start(&stack).await;
    let mut tally = Tally::new("hostile_tokens_at_sign_in");

    // The control: an honest token through the same path is taken, so a refusal below is the
    // token's doing.
    let ran = sign_in_through(&provider, &stack, |nonce| {
        let claims = provider.id_claims("kp_hostile_person", Some(nonce), 3600);
        vec![Answer::Json(
            provider.token_response(&provider.sign(&claims), "honest-refresh"),
        )]
    })
    .await;
    assert!(ran.success(), "an honest token is accepted: {}", ran.text());
    clear(&provider.issuer, &stack).await;

    let names: Vec<&str> = hostile_token_responses(&provider, &stack, Some("n"))
        .iter()
        .map(|(name, _)| *name)
        .collect();
    for name in names {
        let ran = sign_in_through(&provider, &stack, |nonce| {
            let (_, answer) = hostile_token_responses(&provider, &stack, Some(nonce))
                .into_iter()
                .find(|(n, _)| *n == name)
                .expect("the case");
            vec![Answer::Json(answer)]
        })
        .await;
        let kept = stored(&provider.issuer, &stack).await.ok().flatten();
        tally.count_run(
            name,
            &ran,
            ran.success() || kept.is_some(),
            &Fragments::default(),
        );
        clear(&provider.issuer, &stack).await;
    }
    tally.finish();
}

#[tokio::test]
async fn hostile_tokens_at_refresh_are_refused() {
    let stack = stack_with(|_| {}).await;
    let provider = HostileProvider::start(&stack).await;
    let mut tally = Tally::new("hostile_tokens_at_refresh");
    // An ID token that lives 30 s is inside the renewal margin at once: every command renews.
    let ran = sign_in_through(&provider, &stack, |nonce| {
        let claims = provider.id_claims("kp_hostile_person", Some(nonce), 30);
        vec![Answer::Json(
            provider.token_response(&provider.sign(&claims), "honest-refresh"),
        )]
    })
    .await;
    assert!(ran.success(), "{}", ran.text());
    let session = stored(&provider.issuer, &stack)
        .await
        .expect("readable")
        .expect("signed in");

    for (name, answer) in hostile_token_responses(&provider, &stack, None) {
        put(&provider.issuer, &stack, session.clone()).await;
        provider.token(vec![Answer::Json(answer.clone())]);
        let ran = run_within(kinvex(&provider.issuer, &stack, "", &["whoami"]), BOUND).await;
        let asked = provider.token_requests.load(Ordering::SeqCst) > 0;
        assert!(asked, "{name}: the CLI renewed: {}", ran.text());
        let after = stored(&provider.issuer, &stack).await.ok().flatten();
        let taken = after.is_some_and(|t| {
            answer["id_token"].as_str() == Some(t.id_token.expose()) || t.subject != session.subject
        });
        tally.count_run(name, &ran, taken, &Fragments::default());
    }
    clear(&provider.issuer, &stack).await;
    tally.finish();
}

#[tokio::test]
async fn forged_tokens_are_refused_by_the_backend() {
    let stack = stack_with(|_| {}).await;
    let mut tally = Tally::new("forged_backend_tokens");
    let tokens = oauth::sign_in(&stack, &oauth::demo(&stack), &[]).await;
    let real = tokens["id_token"]
        .as_str()
        .expect("an ID token")
        .to_string();
    // The real token is served: the control.
    let (status, body) =
        backend::call(&stack, "query", "users:current", json!({}), Some(&real)).await;
    assert!(status == 200 && body["status"] == "success", "{body}");

    let claims = oauth::claims(&real);
    let with = |key: &str, value: Value| {
        let mut c = claims.clone();
        c[key] = value;
        c
    };
    let stack_signed = |c: Value| stack.state.keys().sign(&c);
    let other = json!(stack.accounts[1].user_id);
    let forged = vec![
        ("attacker's key", attackers(&stack, &claims)),
        (
            "attacker's key, other person",
            attackers(&stack, &with("sub", other.clone())),
        ),
        ("alg none", none_alg(&claims)),
        (
            "alg none, other person",
            none_alg(&with("sub", other.clone())),
        ),
        (
            "tampered payload",
            tampered(&real, &with("sub", other.clone())),
        ),
        ("expired", stack_signed(with("exp", json!(now() - 600)))),
        (
            "wrong issuer",
            stack_signed(with("iss", json!("http://127.0.0.1:9"))),
        ),
        (
            "other audience",
            stack_signed(with("aud", json!(["someone_else"]))),
        ),
        (
            "no signature",
            format!("{}.", real.rsplit_once('.').expect("JWT").0),
        ),
        ("truncated signature", real[..real.len() - 10].to_string()),
        (
            "HS256 header",
            jwt(
                &json!({ "alg": "HS256", "typ": "JWT" }),
                &claims,
                "c2lnbmF0dXJl",
            ),
        ),
        ("garbage", "garbage".into()),
        ("empty", String::new()),
    ];
    for (name, token) in &forged {
        for function in ["users:current", "files:list"] {
            let args = if function == "files:list" {
                json!({ "paginationOpts": { "numItems": 5, "cursor": null } })
            } else {
                json!({})
            };
            let (status, body) = backend::call(&stack, "query", function, args, Some(token)).await;
            let served = status == 200 && body["status"] == "success" && !body["value"].is_null();
            tally.count(&format!("{name} → {function}"), Verdict::accepted(served));
        }
    }
    tally.finish();
}

#[tokio::test]
async fn one_person_cannot_reach_anothers_data() {
    let stack = stack_with(|_| {}).await;
    let mut tally = Tally::new("cross_user_access");
    let demo = oauth::sign_in(&stack, &oauth::demo(&stack), &[]).await;
    let alex = oauth::sign_in(&stack, &oauth::other(&stack), &[]).await;
    let (demo, alex) = (
        demo["id_token"].as_str().expect("token").to_string(),
        alex["id_token"].as_str().expect("token").to_string(),
    );
    let alex_id = stack.accounts[1].user_id.clone();
    let page = |cursor: Value| json!({ "paginationOpts": { "numItems": 2, "cursor": cursor } });
    let (_, theirs) = backend::call(
        &stack,
        "query",
        "files:list",
        page(Value::Null),
        Some(&alex),
    )
    .await;
    let their_cursor = theirs["value"]["continueCursor"].clone();
    let (_, all) = backend::call(
        &stack,
        "query",
        "files:list",
        json!({ "paginationOpts": { "numItems": 100, "cursor": null } }),
        Some(&alex),
    )
    .await;
    let their_ids: Vec<Value> = all["value"]["page"]
        .as_array()
        .expect("their files")
        .iter()
        .map(|f| f["_id"].clone())
        .collect();
    assert!(!their_ids.is_empty(), "the other person has files: {all}");
    let reaches_them = |body: &Value| {
        let text = body["value"].to_string();
        body["status"] == "success"
            && (text.contains(&alex_id)
                || their_ids.iter().any(|id| text.contains(&id.to_string())))
    };

    let mut attempts: Vec<(&str, &str, Value, Option<String>)> = vec![
        (
            "their id as kindeId",
            "users:current",
            json!({ "kindeId": alex_id }),
            Some(demo.clone()),
        ),
        (
            "their id as subject",
            "users:current",
            json!({ "subject": alex_id }),
            Some(demo.clone()),
        ),
        (
            "their id as _id",
            "users:current",
            json!({ "_id": alex_id }),
            Some(demo.clone()),
        ),
        (
            "their id as owner",
            "files:list",
            json!({ "owner": alex_id, "paginationOpts": { "numItems": 5, "cursor": null } }),
            Some(demo.clone()),
        ),
        (
            "their cursor",
            "files:list",
            page(their_cursor.clone()),
            Some(demo.clone()),
        ),
        (
            "their cursor, no token",
            "files:list",
            page(their_cursor.clone()),
            None,
        ),
        (
            "a made-up cursor",
            "files:list",
            page(json!("eyJ0IjowLCJpZCI6IngifQ")),
            Some(demo.clone()),
        ),
    ];
    for id in their_ids.iter().take(3) {
        attempts.push((
            "their file id as cursor",
            "files:list",
            page(id.clone()),
            Some(demo.clone()),
        ));
    }
    for (name, function, args, token) in attempts {
        let (_, body) =
            backend::call(&stack, "query", function, args.clone(), token.as_deref()).await;
        tally.count(
            &format!("{name} (query)"),
            Verdict::accepted(reaches_them(&body)),
        );
        // The same through /api/run, which names the function in the path.
        let mut request = reqwest::Client::new()
            .post(format!(
                "{}/api/run/{}",
                stack.api_url(),
                function.replace(':', "/")
            ))
            .header("content-type", "application/json")
            .json(&json!({ "args": args, "format": "json" }));
        if let Some(token) = &token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the backend answers");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        tally.count(
            &format!("{name} (/api/run)"),
            Verdict::accepted(reaches_them(&body)),
        );
    }
    tally.finish();
}

/// RFC 3339 in UTC for Unix `seconds` (the civil-from-days conversion of the proleptic calendar).
fn rfc3339(seconds: i64) -> String {
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[tokio::test]
async fn forged_replayed_and_stale_webhooks_change_nothing() {
    let stack = stack_with(|_| {}).await;
    let mut tally = Tally::new("webhooks");
    let demo = &stack.accounts[0];
    let token = oauth::sign_in(&stack, &oauth::demo(&stack), &[]).await;
    let token = token["id_token"].as_str().expect("token").to_string();
    let event = |id: &str, first_name: &str, at: i64| {
        json!({
            "event_id": id,
            "type": "user.updated",
            "timestamp": rfc3339(at),
            "source": "admin",
            "data": { "user": { "id": demo.user_id, "email": demo.email, "first_name": first_name, "last_name": "Demo" } },
        })
    };
    let deliver = |body: String| {
        let url = format!("{}/kinde", stack.site_url());
        async move {
            reqwest::Client::new()
                .post(url)
                .header("content-type", "application/jwt")
                .body(body)
                .send()
                .await
                .expect("the site answers")
                .status()
                .as_u16()
        }
    };
    let shown = || {
        let token = token.clone();
        let stack = &stack;
        async move {
            backend::call(stack, "query", "users:current", json!({}), Some(&token))
                .await
                .1["value"]
                .to_string()
        }
    };

    // Controls: an honest event is applied, and so is a second one after it.
    let one = stack
        .state
        .keys()
        .sign(&event("evt_one", "Honestone", now()));
    assert_eq!(deliver(one.clone()).await, 200);
    assert!(shown().await.contains("Honestone"), "{}", shown().await);
    let two = stack
        .state
        .keys()
        .sign(&event("evt_two", "Honesttwo", now()));
    assert_eq!(deliver(two).await, 200);
    assert!(shown().await.contains("Honesttwo"));

    for n in 0..10 {
        let forged = event(&format!("evt_forged_{n}"), "Forged", now());
        for (name, body) in [
            ("attacker's key", attackers(&stack, &forged)),
            ("alg none", none_alg(&forged)),
            ("tampered payload", tampered(&one, &forged)),
        ] {
            let status = deliver(body).await;
            let applied = shown().await.contains("Forged");
            tally.count(
                name,
                Verdict::accepted((200..300).contains(&status) || applied),
            );
        }
    }
    for n in 0..10 {
        let status = deliver(one.clone()).await;
        tally.count(
            &format!("replay {n}"),
            Verdict::accepted(shown().await.contains("Honestone") || status >= 500),
        );
    }
    for (name, at) in [
        ("stale by ten minutes", now() - 600),
        ("a day old", now() - 86_400),
        ("ten minutes ahead", now() + 600),
    ] {
        let stale = stack
            .state
            .keys()
            .sign(&event(&format!("evt_{at}"), "Stale", at));
        let status = deliver(stale).await;
        tally.count(
            name,
            Verdict::accepted(status == 200 || shown().await.contains("Stale")),
        );
    }
    tally.finish();
}

/// The CLI with every directory it could write to (XDG, runtime, temp) in `scratch`, logging at
/// its most verbose.
fn confined(mut command: std::process::Command, scratch: &Scratch) -> std::process::Command {
    for (key, dir) in [
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_RUNTIME_DIR", "run"),
        ("TMPDIR", "tmp"),
    ] {
        command.env(key, scratch.dir(dir));
    }
    command
        .env("KINVEX_LOG", "trace")
        .current_dir(scratch.dir("home"));
    command
}

#[tokio::test]
async fn no_token_fragment_in_files_or_output_at_the_most_verbose_level() {
    let scratch = Scratch::new("secrets");
    let data_dir = scratch.dir("stack");
    let stack = stack_with(|config| {
        config.data_dir = Some(data_dir.clone());
        // Inside the renewal margin at once, so `whoami` renews and the new tokens are scanned too.
        config.lifetimes.id = Duration::from_secs(30);
    })
    .await;
    let mut tally = Tally::new("secrets_scan");
    let browser = demo_browser(&stack);
    let cli = |args: &[&str]| confined(kinvex(stack.issuer(), &stack, &browser, args), &scratch);
    let mut outputs = vec![("login", run_within(cli(&["login"]), BOUND).await)];
    assert!(outputs[0].1.success(), "{}", outputs[0].1.text());
    let first = stored(stack.issuer(), &stack)
        .await
        .expect("readable")
        .expect("signed in");
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["whoami"],
        &["whoami", "--json"],
        &["files", "--json"],
        &["login", "--json", "--force"],
    ] {
        outputs.push((args[0], run_within(cli(args), BOUND).await));
    }
    // The live commands: the `convex` crate under them prints every message it sends at debug.
    let mut renewed = Vec::new();
    for name in ["whoami --watch", "files --watch"] {
        let args: Vec<&str> = name.split(' ').collect();
        let ran = run_until_output(cli(&args), BOUND).await;
        assert!(!ran.stdout.is_empty(), "{name} printed: {}", ran.text());
        outputs.push((name, ran));
        renewed.extend(stored(stack.issuer(), &stack).await.expect("readable"));
    }
    let last = stored(stack.issuer(), &stack)
        .await
        .expect("readable")
        .expect("signed in");
    assert_ne!(first.id_token, last.id_token, "the session was renewed");
    let mut secrets = fragments_of(&first);
    for tokens in renewed.iter().chain([&last]) {
        for token in [&tokens.access_token, &tokens.id_token] {
            secrets.add(token.expose());
        }
        if let Some(refresh) = &tokens.refresh_token {
            secrets.add(refresh.expose());
        }
    }
    outputs.push((
        "logout",
        run_within(cli(&["logout", "--no-browser"]), BOUND).await,
    ));
    for (name, ran) in &outputs {
        tally.count_run(name, ran, false, &secrets);
    }
    let mut files = Vec::new();
    let mut pending = vec![scratch.0.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(entry.path()),
                Ok(kind) if kind.is_file() => files.push(entry.path()),
                _ => {}
            }
        }
    }
    assert!(
        !files.is_empty(),
        "the stack's data directory has files to scan"
    );
    let leaking = secrets.files_under(&scratch.0);
    for file in &files {
        tally.count(
            &file.display().to_string(),
            Verdict {
                leaked: leaking.contains(file),
                ..Verdict::default()
            },
        );
    }
    tally.finish();
}

#[tokio::test]
async fn no_token_fragment_in_the_web_views_dom_or_ipc_payloads() {
    let stack = stack_with(|_| {}).await;
    let mut tally = Tally::new("secrets_web_view");
    let scratch = Scratch::new("secrets-web-view");
    let upload = scratch.dir("files").join("Notes.txt");
    std::fs::write(&upload, "notes\n").expect("write");
    let saved = scratch.0.join("Notes copy.txt");
    let settings: Vec<(String, String)> = [
        ("KINDE_ISSUER_URL", stack.issuer().to_string()),
        ("KINDE_CLIENT_ID", stack.state.config.client_id.clone()),
        ("KINDE_REDIRECT_URL", "http://127.0.0.1:0/callback".into()),
        ("CONVEX_URL", stack.api_url().to_string()),
        ("BROWSER", demo_browser(&stack)),
        ("KINVEX_E2E_PICK", upload.to_string_lossy().into_owned()),
        ("KINVEX_E2E_SAVE_AS", saved.to_string_lossy().into_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let app = Session::desktop_with(&settings).await;
    app.click("[data-testid=sign-in]").await;
    app.wait_for_text("profile-name", "Dana Demo").await;
    app.wait_for_text("files-count", "14 files").await;
    let tokens = stored(stack.issuer(), &stack)
        .await
        .expect("readable")
        .expect("signed in");
    let secrets = fragments_of(&tokens);
    assert!(!secrets.is_empty());
    let client = app.client();
    // Every `transfer` event of an upload and a Save as…, collected in the page as the window's
    // own script receives them; the DOM scanned below then has their rows too.
    let listening = client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             window.__transferEvents = [];\
             window.__TAURI__.event.listen('transfer', e => {\
               window.__transferEvents.push(e.payload);\
               window.__transferEventSeen?.();\
             })\
               .then(() => done('listening'), e => done(String(e)));",
            vec![],
        )
        .await
        .expect("a listener");
    assert_eq!(listening, json!("listening"));
    app.click("[data-testid=upload]").await;
    app.wait_for(
        "//*[@data-testid='transfer'][@data-state='done']/progress[@aria-label='Uploading Notes.txt']",
    )
    .await;
    app.click("[data-testid=file-save-as][aria-label='Save Notes.txt as…']")
        .await;
    app.wait_for(
        "//*[@data-testid='transfer'][@data-state='done']/progress[@aria-label='Downloading Notes.txt']",
    )
    .await;
    assert_eq!(std::fs::read(&saved).expect("saved"), b"notes\n");
    // Resolves once this listener has heard from both transfers.
    let events = client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             const heard = kind => window.__transferEvents.some(e => e.kind === kind && e.name === 'Notes.txt');\
             window.__transferEventSeen = () => heard('upload') && heard('download') && done(JSON.stringify(window.__transferEvents));\
             window.__transferEventSeen();",
            vec![],
        )
        .await
        .expect("the transfer events of both transfers");
    let events = events.as_str().expect("JSON text").to_string();
    let dom = client
        .execute("return document.documentElement.outerHTML", vec![])
        .await
        .expect("the DOM");
    tally.count(
        "DOM",
        Verdict {
            leaked: secrets.found_in(&dom.to_string()),
            ..Verdict::default()
        },
    );
    let storage = client
        .execute(
            "return JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])",
            vec![],
        )
        .await
        .expect("storage");
    tally.count(
        "storage",
        Verdict {
            leaked: secrets.found_in(&storage.to_string()),
            ..Verdict::default()
        },
    );
    for (command, args) in [
        ("app_info", json!({})),
        ("session", json!({})),
        ("profile", json!({})),
        (
            "watch_files",
            json!({ "page": 1_000_000, "cursor": null, "pageSize": 20 }),
        ),
        ("connection", json!({})),
        ("diagnose", json!({})),
    ] {
        let result = client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 window.__TAURI__.core.invoke(arguments[0], arguments[1])\
                   .then(r => done(JSON.stringify({ ok: r })), e => done(JSON.stringify({ err: e })));",
                vec![json!(command), args],
            )
            .await
            .expect("the command's result");
        let text = result.to_string();
        assert!(text.contains("ok"), "{command} answered: {text}");
        tally.count(
            command,
            Verdict {
                leaked: secrets.found_in(&text),
                ..Verdict::default()
            },
        );
    }
    tally.count(
        "transfer events",
        Verdict {
            leaked: secrets.found_in(&events),
            ..Verdict::default()
        },
    );
    app.click("[data-testid=sign-out]").await;
    app.wait_shown("screen-signed-out").await;
    app.close().await;
    tally.finish();
}

/// A fault put into a hostile provider before a sign-in.
type Setup = fn(&HostileProvider);

#[tokio::test]
async fn faults_end_in_a_clear_failure_or_a_whole_session() {
    let mut tally = Tally::new("faults");
    let stack = stack_with(|_| {}).await;

    // The provider down: nothing listens at the issuer.
    let nowhere = format!("http://127.0.0.1:{}", kinvex_e2e::free_port());
    let ran = run_within(
        kinvex(
            &nowhere,
            &stack,
            "",
            &["login", "--no-browser", "--timeout", "5"],
        ),
        BOUND,
    )
    .await;
    tally.count_run("provider down", &ran, ran.success(), &Fragments::default());

    // 503, slow or silent at each step of a sign-in, each with a hostile provider of its own,
    // all at once: the silent ones wait out the client's whole bound.
    let steps: Vec<(&'static str, Setup, bool)> = vec![
        ("no fault (the control)", |_| {}, true),
        ("discovery 503", |p| p.discovery(Answer::Status(503)), false),
        (
            "discovery slow",
            |p| p.discovery(Answer::Slow(Duration::from_secs(3))),
            true,
        ),
        ("discovery silent", |p| p.discovery(Answer::Silent), false),
        (
            "discovery not JSON",
            |p| p.discovery(Answer::Text("<html>".into())),
            false,
        ),
        // Keys that cannot be fetched cannot vouch for a token: a sign-in then must fail.
        ("keys 503", |p| p.jwks(Answer::Status(503)), false),
        ("keys silent", |p| p.jwks(Answer::Silent), false),
        (
            "keys slow",
            |p| p.jwks(Answer::Slow(Duration::from_secs(3))),
            true,
        ),
        // The first token answer faulty, an honest one after it: only a retried 503 may sign in.
        ("token 503", |p| p.first_token(Answer::Status(503)), true),
        (
            "token slow",
            |p| p.first_token(Answer::Slow(Duration::from_secs(3))),
            false,
        ),
        ("token silent", |p| p.first_token(Answer::Silent), false),
        (
            "token not JSON",
            |p| p.first_token(Answer::Text("<html>busy</html>".into())),
            false,
        ),
    ];
    let mut running = tokio::task::JoinSet::new();
    for (name, setup, may_succeed) in steps {
        running.spawn(async move {
            let stack = stack_with(|_| {}).await;
            let provider = HostileProvider::start(&stack).await;
            setup(&provider);
            let ran = sign_in_through(&provider, &stack, |nonce| {
                let claims = provider.id_claims("kp_fault_person", Some(nonce), 3600);
                provider.with_honest_token(
                    provider.token_response(&provider.sign(&claims), "fault-refresh"),
                )
            })
            .await;
            let kept = stored(&provider.issuer, &stack).await;
            clear(&provider.issuer, &stack).await;
            (name, may_succeed, ran, kept)
        });
    }
    while let Some(step) = running.join_next().await {
        let (name, may_succeed, ran, kept) = step.expect("join");
        if name.starts_with("no fault") {
            assert!(ran.success(), "an honest sign-in works: {}", ran.text());
        }
        // A sign-in that ends leaves a whole session or none, and says which.
        let wrong = kept.is_err()
            || (ran.success() && !may_succeed)
            || (ran.success() != kept.as_ref().is_ok_and(Option::is_some));
        tally.count_run(name, &ran, wrong, &Fragments::default());
    }

    // Refresh revoked, then keys rotated, on the real stack.
    let renewing = stack_with(|config| config.lifetimes.id = Duration::from_secs(30)).await;
    let browser = demo_browser(&renewing);
    let ran = run_within(
        kinvex(renewing.issuer(), &renewing, &browser, &["login"]),
        BOUND,
    )
    .await;
    assert!(ran.success(), "{}", ran.text());
    let revoke = reqwest::Client::new()
        .post(format!(
            "{}/_devstack/users/{}/revoke",
            renewing.issuer(),
            renewing.accounts[0].user_id
        ))
        .send()
        .await
        .expect("revoke");
    assert!(revoke.status().is_success());
    let ran = run_within(
        kinvex(renewing.issuer(), &renewing, &browser, &["whoami"]),
        BOUND,
    )
    .await;
    tally.count_run(
        "refresh revoked",
        &ran,
        ran.success(),
        &Fragments::default(),
    );
    let ran = run_within(
        kinvex(
            renewing.issuer(),
            &renewing,
            &browser,
            &["login", "--force"],
        ),
        BOUND,
    )
    .await;
    assert!(ran.success(), "{}", ran.text());
    renewing.state.keys_mut().rotate(false).expect("rotate");
    let ran = run_within(
        kinvex(renewing.issuer(), &renewing, &browser, &["whoami"]),
        BOUND,
    )
    .await;
    let session = stored(renewing.issuer(), &renewing).await;
    tally.count_run(
        "keys rotated",
        &ran,
        session.is_err(),
        &Fragments::default(),
    );
    clear(renewing.issuer(), &renewing).await;

    // Two processes renewing at once, with no overlap for a rotated refresh token.
    let racing = stack_with(|config| {
        config.lifetimes.id = Duration::from_secs(30);
        config.lifetimes.rotation_overlap = Duration::ZERO;
    })
    .await;
    let browser = demo_browser(&racing);
    let ran = run_within(
        kinvex(racing.issuer(), &racing, &browser, &["login"]),
        BOUND,
    )
    .await;
    assert!(ran.success(), "{}", ran.text());
    racing.state.lifetimes.lock().expect("lifetimes").id = Duration::from_secs(3600);
    let (one, two) = tokio::join!(
        run_within(
            kinvex(racing.issuer(), &racing, &browser, &["whoami"]),
            BOUND
        ),
        run_within(
            kinvex(racing.issuer(), &racing, &browser, &["whoami"]),
            BOUND
        )
    );
    for ran in [&one, &two] {
        tally.count_run(
            "two processes renewing",
            ran,
            !ran.success(),
            &Fragments::default(),
        );
    }
    let after = run_within(
        kinvex(racing.issuer(), &racing, &browser, &["whoami"]),
        BOUND,
    )
    .await;
    tally.count_run(
        "signed in after the race",
        &after,
        !after.success(),
        &Fragments::default(),
    );
    clear(racing.issuer(), &racing).await;

    // The callback port busy: refused with a clear error, never shared.
    let busy = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("a port to occupy");
    let port = busy.local_addr().expect("bound").port();
    let mut command = kinvex(
        stack.issuer(),
        &stack,
        "",
        &["login", "--no-browser", "--timeout", "3"],
    );
    command.env(
        "KINDE_REDIRECT_URL",
        format!("http://127.0.0.1:{port}/callback"),
    );
    let ran = run_within(command, BOUND).await;
    let shared = ran.text().contains(&format!("127.0.0.1%3A{port}"));
    tally.count_run(
        "port busy",
        &ran,
        ran.success() || shared,
        &Fragments::default(),
    );
    drop(busy);

    // No D-Bus session: the keychain is absent; a clear failure at once.
    let runtime = Scratch::new("faults-no-bus");
    for args in [
        &["status"][..],
        &["login", "--no-browser", "--timeout", "30"],
    ] {
        let mut command = kinvex(stack.issuer(), &stack, "", args);
        command
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env("XDG_RUNTIME_DIR", &runtime.0);
        let ran = run_within(command, Duration::from_secs(15)).await;
        let clear_failure = ran.code() == Some(1) && ran.text().contains("[keychain_unavailable]");
        tally.count_run(
            &format!("no D-Bus: {}", args[0]),
            &ran,
            !clear_failure,
            &Fragments::default(),
        );
    }
    tally.finish();
}

#[tokio::test]
async fn a_login_killed_while_writing_leaves_a_whole_session() {
    let stack = stack_with(|_| {}).await;
    let mut tally = Tally::new("killed_mid_write");
    let browser = demo_browser(&stack);
    let ran = run_within(kinvex(stack.issuer(), &stack, &browser, &["login"]), BOUND).await;
    assert!(ran.success(), "{}", ran.text());
    // How long a whole `login --force` takes: the kills are spread across it.
    let ran = run_within(
        kinvex(stack.issuer(), &stack, &browser, &["login", "--force"]),
        BOUND,
    )
    .await;
    assert!(ran.success(), "{}", ran.text());
    let span = ran.took.as_millis() as u64;
    let tries = 12;
    for n in 0..tries {
        let before = stored(stack.issuer(), &stack)
            .await
            .expect("readable")
            .expect("signed in");
        let mut command = tokio::process::Command::from(kinvex(
            stack.issuer(),
            &stack,
            &browser,
            &["login", "--force"],
        ));
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("kinvex runs");
        // From a third of the way in to just past the end, where the keychain writes happen.
        let at = span / 3 + span * n / tries;
        let finished = tokio::time::timeout(Duration::from_millis(at), child.wait()).await;
        if finished.is_err() {
            let _ = child.start_kill();
        }
        let _ = tokio::time::timeout(BOUND, child.wait()).await;
        let after = stored(stack.issuer(), &stack).await;
        // Whole: readable, signed in, the old session or a complete new one of the same person.
        let whole = match &after {
            Ok(Some(tokens)) => {
                tokens.subject == before.subject
                    && (tokens == &before
                        || backend::call(
                            &stack,
                            "query",
                            "users:current",
                            json!({}),
                            Some(tokens.id_token.expose()),
                        )
                        .await
                        .1["status"]
                            == "success")
            }
            _ => false,
        };
        tally.count(&format!("killed at {at} ms"), Verdict::accepted(!whole));
    }
    let status = run_within(kinvex(stack.issuer(), &stack, &browser, &["status"]), BOUND).await;
    tally.count_run(
        "status afterwards",
        &status,
        !status.success(),
        &Fragments::default(),
    );
    clear(stack.issuer(), &stack).await;
    tally.finish();
}

/// How long the CLI waits for the keychain before it gives up (a notice comes at 3 s).
const KEYCHAIN_BOUND: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_locked_keychain_ends_in_a_clear_failure_and_keeps_the_session() {
    let mut tally = Tally::new("keychain_locked");
    let stack = stack_with(|_| {}).await;
    let browser = demo_browser(&stack);
    // With a display, the keyring shows an unlock prompt that nobody under Xvfb answers; without
    // one, it refuses at once. Each case has a keyring of its own, locked on its own bus.
    let display = std::env::var_os("DISPLAY");
    assert!(display.is_some(), "the suite runs under a display");
    for (case, display) in [("unanswered prompt", display), ("no display", None)] {
        let keyring = PrivateKeyring::start(&case.replace(' ', "-"), display.clone());
        let cli = |args: &[&str]| {
            let mut command = kinvex(stack.issuer(), &stack, &browser, args);
            command.envs(keyring.env());
            if display.is_none() {
                command.env_remove("DISPLAY");
            }
            command
        };
        let ran = run_within(cli(&["login"]), BOUND).await;
        assert!(
            ran.success(),
            "a sign-in in the private keyring: {}",
            ran.text()
        );
        keyring.lock();
        let exchanges = stack.state.stats.code_exchanges.load(Ordering::SeqCst);
        let limit = KEYCHAIN_BOUND + Duration::from_secs(10);
        let (status, whoami, login) = tokio::join!(
            run_within(cli(&["status"]), limit),
            run_within(cli(&["whoami"]), limit),
            run_within(
                cli(&["login", "--no-browser", "--force", "--timeout", "30"]),
                limit
            ),
        );
        let spent = stack.state.stats.code_exchanges.load(Ordering::SeqCst) != exchanges;
        for (name, ran) in [("status", &status), ("whoami", &whoami), ("login", &login)] {
            let text = ran.text();
            let clear_failure = ran.code() == Some(1)
                && (text.contains("[keychain]") || text.contains("[keychain_unavailable]"))
                && text.to_lowercase().contains("unlock");
            let signed_in_anyway = text.contains("/oauth2/auth?") || (name == "login" && spent);
            tally.count_run(
                &format!("{case}: {name} ({:.1} s)", ran.took.as_secs_f64()),
                ran,
                !clear_failure || signed_in_anyway,
                &Fragments::default(),
            );
        }
        // Nothing lost: once unlocked, the session stored before is there and works.
        keyring.unlock();
        let status = run_within(cli(&["status"]), BOUND).await;
        let whoami = run_within(cli(&["whoami"]), BOUND).await;
        for (name, ran) in [("status", &status), ("whoami", &whoami)] {
            let kept = ran.success() && (name != "status" || ran.text().contains("Signed in to"));
            tally.count_run(
                &format!("{case}: {name} after unlocking"),
                ran,
                !kept,
                &Fragments::default(),
            );
        }
    }
    tally.finish();
}
