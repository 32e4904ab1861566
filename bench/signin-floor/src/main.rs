//! The floor of `kinvex login` for `cargo xtask bench`: the least a PKCE sign-in through the
//! system browser can do, as a process of its own. It makes the requests the CLI makes
//! (discovery, the browser's authorization, the token request, the signing keys), starts the
//! browser from `BROWSER` as the CLI does, and stores the token response with one keychain
//! write through the CLI's keychain back end. It validates nothing, caches nothing and takes no
//! lock, so the benchmark's ratio is what the CLI's checks and bookkeeping cost.
//!
//! `kinvex-signin-floor` signs in with the CLI's settings (`KINDE_ISSUER_URL`, `KINDE_CLIENT_ID`,
//! `KINDE_REDIRECT_URL`, `KINDE_SCOPES`, `BROWSER`) and exits 0 once the write returned;
//! `kinvex-signin-floor forget` deletes what it wrote.

use kinvex_auth::token_store::{Keychain, SecretStore};
use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope};
use std::process::{Command, ExitCode, Stdio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

/// A keychain service of the benchmark's own, so the floor never touches a real session.
const SERVICE: &str = "dev.kinvex.bench-floor";
const ACCOUNT: &str = "token-response";
const DEFAULT_SCOPES: &str = "openid profile email offline";
/// The largest request head the listener reads; the browser's redirect is far smaller.
const MAX_HEAD: usize = 16 * 1024;

/// What went wrong, with a stable code first. Never carries a token.
struct Failure {
    code: &'static str,
    message: String,
}

fn failed<E: std::fmt::Display>(code: &'static str, what: &str) -> impl FnOnce(E) -> Failure {
    let what = what.to_string();
    move |e| Failure {
        code,
        message: format!("{what}: {e}"),
    }
}

fn main() -> ExitCode {
    let forget = std::env::args().nth(1).is_some_and(|a| a == "forget");
    let outcome = if forget {
        Keychain::new(SERVICE)
            .delete(ACCOUNT)
            .map_err(|e| failed("keychain", "deleting the benchmark's entry")(format!("{e:?}")))
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(failed("runtime", "starting the async runtime"))
            .and_then(|runtime| runtime.block_on(sign_in()))
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { code, message }) => {
            eprintln!("kinvex-signin-floor: [{code}] {message}");
            ExitCode::FAILURE
        }
    }
}

fn setting(name: &str) -> Result<String, Failure> {
    std::env::var(name).map_err(|_| Failure {
        code: "settings",
        message: format!("{name} is not set: the benchmark passes the CLI's settings"),
    })
}

async fn sign_in() -> Result<(), Failure> {
    let issuer = setting("KINDE_ISSUER_URL")?;
    let client_id = setting("KINDE_CLIENT_ID")?;
    let redirect = Url::parse(&setting("KINDE_REDIRECT_URL")?)
        .map_err(failed("settings", "KINDE_REDIRECT_URL"))?;
    let scopes = std::env::var("KINDE_SCOPES").unwrap_or_else(|_| DEFAULT_SCOPES.into());
    let browser = setting("BROWSER")?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(failed("http", "setting up HTTPS"))?;

    let discovery: serde_json::Value = http
        .get(format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(failed("discovery", "discovery"))?
        .json()
        .await
        .map_err(failed("discovery", "discovery"))?;
    let endpoint = |name: &str| {
        discovery[name].as_str().map(str::to_string).ok_or(Failure {
            code: "discovery",
            message: format!("the provider's configuration has no {name}"),
        })
    };

    let host = redirect.host_str().unwrap_or("127.0.0.1").to_string();
    let listener = TcpListener::bind((host.as_str(), redirect.port().unwrap_or(0)))
        .await
        .map_err(failed("listener", "binding the loopback listener"))?;
    let port = listener
        .local_addr()
        .map_err(failed("listener", "the loopback listener"))?
        .port();
    let redirect_uri = format!("http://{host}:{port}{}", redirect.path());

    let client = BasicClient::new(ClientId::new(client_id.clone()))
        .set_auth_uri(
            AuthUrl::new(endpoint("authorization_endpoint")?)
                .map_err(failed("discovery", "authorization_endpoint"))?,
        )
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.clone()).map_err(failed("settings", "redirect"))?,
        );
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = CsrfToken::new_random();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_extra_param("nonce", nonce.secret())
        .set_pkce_challenge(challenge);
    for scope in scopes.split_whitespace() {
        request = request.add_scope(Scope::new(scope.to_string()));
    }
    let (url, state) = request.url();

    open_browser(&browser, url.as_str())?;
    let code = wait_for_code(&listener, redirect.path(), state.secret()).await?;

    let tokens = http
        .post(endpoint("token_endpoint")?)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("client_id", client_id.as_str()),
            ("code_verifier", verifier.secret().as_str()),
        ])
        .send()
        .await
        .map_err(failed("token", "the token request"))?;
    let status = tokens.status();
    let tokens = tokens
        .text()
        .await
        .map_err(failed("token", "the token response"))?;
    if !status.is_success() {
        return Err(Failure {
            code: "token",
            message: format!("the token endpoint answered HTTP {status}"),
        });
    }

    // Fetched as the CLI does (to check the ID token's signature), and not used.
    http.get(endpoint("jwks_uri")?)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(failed("jwks", "the signing keys"))?
        .bytes()
        .await
        .map_err(failed("jwks", "the signing keys"))?;

    Keychain::new(SERVICE)
        .set(ACCOUNT, &tokens)
        .map_err(|e| failed("keychain", "storing the token response")(format!("{e:?}")))
}

/// Starts `BROWSER` (one command; `%s` stands for the URL, else it is appended) and does not
/// wait for it, as the CLI does.
fn open_browser(browser: &str, url: &str) -> Result<(), Failure> {
    let mut words: Vec<String> = browser.split_whitespace().map(str::to_string).collect();
    if words.iter().any(|w| w.contains("%s")) {
        for word in &mut words {
            *word = word.replace("%s", url);
        }
    } else {
        words.push(url.to_string());
    }
    let Some((program, args)) = words.split_first() else {
        return Err(Failure {
            code: "browser",
            message: "BROWSER is empty".into(),
        });
    };
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(failed("browser", program))
}

/// Answers requests on `listener` until one for `path` carries `state` and a code.
async fn wait_for_code(listener: &TcpListener, path: &str, state: &str) -> Result<String, Failure> {
    loop {
        let (mut stream, _) = listener
            .accept()
            .await
            .map_err(failed("listener", "accepting the redirect"))?;
        let mut head = Vec::new();
        let mut buffer = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buffer[..n]),
            }
        }
        let text = String::from_utf8_lossy(&head);
        let target = text
            .strip_prefix("GET ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|target| Url::parse(&format!("http://127.0.0.1{target}")).ok());
        let code = target.filter(|t| t.path() == path).and_then(|t| {
            let value = |key: &str| {
                t.query_pairs()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.into_owned())
            };
            value("code").filter(|_| value("state").as_deref() == Some(state))
        });
        let answer: &[u8] = if code.is_some() {
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nSigned in."
        } else {
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        };
        // The browser may already be gone; the code is what matters.
        let _ = stream.write_all(answer).await;
        let _ = stream.shutdown().await;
        if let Some(code) = code {
            return Ok(code);
        }
    }
}
