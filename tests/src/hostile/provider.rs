//! A hostile provider: an issuer of its own on loopback whose discovery, keys and token endpoint
//! answer whatever the test scripts (a forged ID token, a 503, a body that is not JSON, no answer
//! at all). It signs with the local stack's real key, so a token it issues fails only for what the
//! test put in it. Only the provider's side is scripted; the browser's part is the test's.

use kinvex_devstack::{Running, State};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How one endpoint answers.
#[derive(Clone, Debug)]
pub enum Answer {
    /// What an honest provider would say (discovery and keys; a token request gets a 400).
    Honest,
    /// This status with an OAuth error body.
    Status(u16),
    /// A 200 with this JSON.
    Json(Value),
    /// A 200 with this body as HTML.
    Text(String),
    /// The honest answer after this delay.
    Slow(Duration),
    /// Nothing, ever: the client's own bound must end the wait.
    Silent,
}

#[derive(Clone)]
struct Plan {
    discovery: Answer,
    jwks: Answer,
    /// Answers for token requests in turn; the last one repeats.
    token: Vec<Answer>,
    /// A faulty answer to put before the honest one of the next sign-in.
    first_token: Option<Answer>,
}

pub struct HostileProvider {
    pub issuer: String,
    pub client_id: String,
    stack: Arc<State>,
    plan: Arc<Mutex<Plan>>,
    pub token_requests: Arc<AtomicU64>,
    _server: tokio::task::JoinHandle<()>,
}

impl HostileProvider {
    /// Starts on a free loopback port, in front of `stack`'s keys and discovery document.
    pub async fn start(stack: &Running) -> HostileProvider {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind the hostile provider");
        let issuer = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("bound").port()
        );
        let honest: Value = reqwest::get(format!(
            "{}/.well-known/openid-configuration",
            stack.issuer()
        ))
        .await
        .expect("the stack's discovery")
        .json()
        .await
        .expect("discovery JSON");
        let discovery: Value =
            serde_json::from_str(&honest.to_string().replace(stack.issuer(), &issuer))
                .expect("rewritten discovery");
        let plan = Arc::new(Mutex::new(Plan {
            discovery: Answer::Honest,
            jwks: Answer::Honest,
            token: vec![Answer::Status(400)],
            first_token: None,
        }));
        let token_requests = Arc::new(AtomicU64::new(0));
        let app = {
            use axum::routing::{get, post};
            let state = stack.state.clone();
            let (plan_d, plan_j, plan_t) = (plan.clone(), plan.clone(), plan.clone());
            let counted = token_requests.clone();
            let jwks = move || {
                let answer = lock(&plan_j).jwks.clone();
                let keys = state.keys().jwks();
                respond(answer, Some(keys))
            };
            axum::Router::new()
                .route(
                    "/.well-known/openid-configuration",
                    get(move || {
                        let answer = lock(&plan_d).discovery.clone();
                        respond(answer, Some(discovery.clone()))
                    }),
                )
                .route("/.well-known/jwks.json", get(jwks.clone()))
                .route("/.well-known/jwks", get(jwks))
                .route(
                    "/oauth2/token",
                    post(move || {
                        let n = counted.fetch_add(1, Ordering::SeqCst) as usize;
                        let answers = lock(&plan_t).token.clone();
                        let answer = answers
                            .get(n)
                            .or(answers.last())
                            .cloned()
                            .unwrap_or(Answer::Status(400));
                        respond(answer, None)
                    }),
                )
        };
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HostileProvider {
            issuer,
            client_id: stack.state.config.client_id.clone(),
            stack: stack.state.clone(),
            plan,
            token_requests,
            _server: server,
        }
    }

    pub fn discovery(&self, answer: Answer) {
        lock(&self.plan).discovery = answer;
    }

    pub fn jwks(&self, answer: Answer) {
        lock(&self.plan).jwks = answer;
    }

    /// Token requests from now on get `answers` in turn, the last one repeated.
    pub fn token(&self, answers: Vec<Answer>) {
        self.token_requests.store(0, Ordering::SeqCst);
        lock(&self.plan).token = answers;
    }

    /// The next sign-in's first token request gets `answer`, the ones after it the honest
    /// response [`HostileProvider::with_honest_token`] is given.
    pub fn first_token(&self, answer: Answer) {
        lock(&self.plan).first_token = Some(answer);
    }

    /// The answers for a sign-in whose honest token response is `honest`: that alone, or after
    /// the faulty first answer set with [`HostileProvider::first_token`].
    pub fn with_honest_token(&self, honest: Value) -> Vec<Answer> {
        let first = lock(&self.plan).first_token.clone();
        first.into_iter().chain([Answer::Json(honest)]).collect()
    }

    /// Signs `claims` with the stack's current key, as this issuer's.
    pub fn sign(&self, claims: &Value) -> String {
        self.stack.keys().sign(claims)
    }

    /// ID token claims an honest provider would issue to `sub`, valid for `lifetime` seconds.
    pub fn id_claims(&self, sub: &str, nonce: Option<&str>, lifetime: i64) -> Value {
        // The stack in these tests runs on the system clock, like the binaries under test.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut claims = json!({
            "aud": [self.client_id],
            "azp": self.client_id,
            "iss": self.issuer,
            "sub": sub,
            "iat": now,
            "exp": now + lifetime,
            "auth_time": now,
            "email": "hostile@example.com",
            "email_verified": true,
            "name": "Hostile Provider",
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = Value::String(nonce.into());
        }
        claims
    }

    /// A token response carrying `id_token` and a refresh token.
    pub fn token_response(&self, id_token: &str, refresh_token: &str) -> Value {
        json!({
            "access_token": format!("hostile-access-{refresh_token}"),
            "expires_in": 3600,
            "id_token": id_token,
            "refresh_token": refresh_token,
            "scope": "openid profile email offline",
            "token_type": "bearer",
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

async fn respond(answer: Answer, honest: Option<Value>) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let truthful = |honest: Option<Value>| match honest {
        Some(body) => axum::Json(body).into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "invalid_grant" })),
        )
            .into_response(),
    };
    match answer {
        Answer::Honest => truthful(honest),
        Answer::Status(code) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            axum::Json(json!({ "error": "temporarily_unavailable" })),
        )
            .into_response(),
        Answer::Json(body) => axum::Json(body).into_response(),
        Answer::Text(body) => axum::response::Html(body).into_response(),
        Answer::Slow(delay) => {
            // The fault under test: a provider that takes this long to answer.
            tokio::time::sleep(delay).await;
            truthful(honest)
        }
        Answer::Silent => {
            std::future::pending::<()>().await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}
