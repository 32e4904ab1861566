//! A headless browser for tests: given an authorize URL it signs in, registers or cancels on the
//! provider's pages as a person would (cookies kept, forms submitted with their hidden fields)
//! and delivers the final redirect to the app exactly as a browser does, with a GET.

use reqwest::header::LOCATION;
use scraper::{Html, Selector};
use url::Url;

/// What the person does on the provider's pages.
#[derive(Clone, Debug)]
pub enum Action {
    SignIn {
        email: String,
        password: String,
    },
    Register {
        given_name: String,
        family_name: String,
        email: String,
        password: String,
    },
    Cancel,
}

#[derive(Debug, thiserror::Error)]
pub enum UserAgentError {
    #[error("request to {url} failed: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("the provider showed an error: {0}")]
    Rejected(String),
    #[error("unexpected page at {url} ({status})")]
    Unexpected { url: String, status: u16 },
    #[error("gave up after too many redirects")]
    TooManySteps,
}

/// Where the browser ended up once it left the provider.
#[derive(Debug)]
pub struct Handoff {
    /// The redirect URI with `code`/`error` and `state`, as the provider sent it.
    pub redirect: Url,
    /// The app's answer to the delivered redirect, when it was delivered over HTTP (a redirect to
    /// a private-use scheme is left for the caller to hand to the operating system).
    pub delivered: Option<(u16, String)>,
}

pub struct UserAgent {
    http: reqwest::Client,
}

impl Default for UserAgent {
    fn default() -> Self {
        Self::new()
    }
}

impl UserAgent {
    /// A fresh browser profile: no cookies yet.
    pub fn new() -> UserAgent {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .expect("a plain HTTP client always builds");
        UserAgent { http }
    }

    /// Follows `authorize_url` through the provider, doing `action` on its pages. With `deliver`,
    /// the final redirect is requested like a browser would; otherwise it is only returned.
    pub async fn authorize(
        &self,
        authorize_url: &str,
        action: &Action,
        deliver: bool,
    ) -> Result<Handoff, UserAgentError> {
        let start = Url::parse(authorize_url)
            .map_err(|_| UserAgentError::Rejected(format!("not a URL: {authorize_url}")))?;
        let provider = start.origin();
        let mut url = start;
        let mut request = self.http.get(url.clone());
        let mut submitted = false;
        for _ in 0..16 {
            let response = request
                .send()
                .await
                .map_err(|source| UserAgentError::Http {
                    url: url.to_string(),
                    source,
                })?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or("");
                let next = url.join(location).map_err(|_| UserAgentError::Unexpected {
                    url: url.to_string(),
                    status: status.as_u16(),
                })?;
                if next.origin() == provider {
                    url = next;
                    request = self.http.get(url.clone());
                    continue;
                }
                return self.hand_off(next, deliver).await;
            }
            let body = response
                .text()
                .await
                .map_err(|source| UserAgentError::Http {
                    url: url.to_string(),
                    source,
                })?;
            let page = Html::parse_document(&body);
            if let Some(message) = text_of(&page, "[role=alert]")
                && (submitted || !status.is_success())
            {
                return Err(UserAgentError::Rejected(message));
            }
            let Some(form) = Form::find(&page, &url) else {
                return Err(UserAgentError::Unexpected {
                    url: url.to_string(),
                    status: status.as_u16(),
                });
            };
            let is_register = form.action.path().ends_with("/register");
            let mut fields = form.hidden;
            match action {
                Action::Cancel => fields.push(("action".into(), "cancel".into())),
                Action::SignIn { email, password } => {
                    fields.extend([
                        ("email".into(), email.clone()),
                        ("password".into(), password.clone()),
                        ("action".into(), "sign-in".into()),
                    ]);
                }
                Action::Register {
                    given_name,
                    family_name,
                    email,
                    password,
                } if is_register => {
                    fields.extend([
                        ("given_name".into(), given_name.clone()),
                        ("family_name".into(), family_name.clone()),
                        ("email".into(), email.clone()),
                        ("password".into(), password.clone()),
                        ("action".into(), "register".into()),
                    ]);
                }
                Action::Register { .. } => {
                    // On the sign-in page: follow its "create one" link to the registration form.
                    let link = link_to(&page, &url, "register").ok_or_else(|| {
                        UserAgentError::Unexpected {
                            url: url.to_string(),
                            status: status.as_u16(),
                        }
                    })?;
                    url = link;
                    request = self.http.get(url.clone());
                    continue;
                }
            }
            submitted = true;
            url = form.action;
            request = self.http.post(url.clone()).form(&fields);
        }
        Err(UserAgentError::TooManySteps)
    }

    async fn hand_off(&self, redirect: Url, deliver: bool) -> Result<Handoff, UserAgentError> {
        // A browser hands any other scheme to the operating system; the caller does that part.
        if !deliver || !matches!(redirect.scheme(), "http" | "https") {
            return Ok(Handoff {
                redirect,
                delivered: None,
            });
        }
        let response = self
            .http
            .get(redirect.clone())
            .send()
            .await
            .map_err(|source| UserAgentError::Http {
                url: redirect.to_string(),
                source,
            })?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        Ok(Handoff {
            redirect,
            delivered: Some((status, body)),
        })
    }
}

struct Form {
    action: Url,
    hidden: Vec<(String, String)>,
}

impl Form {
    fn find(page: &Html, base: &Url) -> Option<Form> {
        let form_selector = Selector::parse("form[method=post]").ok()?;
        let hidden_selector = Selector::parse("input[type=hidden]").ok()?;
        let form = page.select(&form_selector).next()?;
        let action = base.join(form.value().attr("action").unwrap_or("")).ok()?;
        let hidden = form
            .select(&hidden_selector)
            .filter_map(|input| {
                Some((
                    input.value().attr("name")?.to_string(),
                    input.value().attr("value").unwrap_or("").to_string(),
                ))
            })
            .collect();
        Some(Form { action, hidden })
    }
}

fn text_of(page: &Html, css: &str) -> Option<String> {
    let selector = Selector::parse(css).ok()?;
    page.select(&selector)
        .next()
        .map(|e| e.text().collect::<String>().trim().to_string())
}

fn link_to(page: &Html, base: &Url, containing: &str) -> Option<Url> {
    let selector = Selector::parse("a[href]").ok()?;
    page.select(&selector)
        .filter_map(|a| a.value().attr("href"))
        .find(|href| href.contains(containing))
        .and_then(|href| base.join(href).ok())
}
