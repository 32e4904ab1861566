//! The profile picture: fetched here, in Rust, and handed to the window as a `data:` URL, so the
//! web view never loads anything from the network (its CSP allows `img-src 'self' data:` only).
//!
//! A picture URL comes from the identity provider (Kinde's `picture` claim, or a webhook's
//! `image_url`), so it is treated as untrusted input: the fetch is bounded in scheme, redirects,
//! time and size, and only PNG, JPEG, GIF and WebP of bounded dimensions are kept (SVG can carry
//! script and is refused). Each outcome, a failure included, is kept for the session, so a
//! profile update with the same URL fetches nothing and a broken picture is not fetched again;
//! the window shows initials whenever there is no picture.

use crate::view::ProfileView;
use base64::Engine;
use kinvex_convex::data::Profile;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;
use url::{Host, Url};

/// What a picture fetch may cost.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The most bytes read: a body (or a `Content-Length`) over it is refused.
    pub max_bytes: u64,
    /// The largest width or height, read from the image's header.
    pub max_side: u32,
    /// The whole fetch, redirects and body included.
    pub time: Duration,
    /// Redirects followed, each checked as the first URL is.
    pub max_redirects: u8,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1024 * 1024,
            max_side: 4096,
            time: Duration::from_secs(10),
            max_redirects: 3,
        }
    }
}

/// Why a picture is not shown. Never reaches the window (it shows initials); logged at debug.
#[derive(Clone, Debug, PartialEq)]
pub enum PictureError {
    /// Not `https://` (nor `http://` to a loopback host), or not a URL at all.
    Refused { reason: String },
    /// The server answered something other than the picture.
    Status(u16),
    /// More bytes than [`Limits::max_bytes`], announced or sent.
    TooLarge { limit: u64 },
    /// Not PNG, JPEG, GIF or WebP by its first bytes (SVG included), or an unreadable header.
    NotAnImage,
    /// Wider or taller than [`Limits::max_side`], or empty.
    Dimensions { width: usize, height: usize },
    /// The fetch took longer than [`Limits::time`].
    Timeout { seconds: f64 },
    /// No answer: the host is unreachable, TLS failed, the connection broke.
    Unreachable { detail: String },
}

impl PictureError {
    /// A stable identifier for this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            PictureError::Refused { .. } => "picture_refused",
            PictureError::Status(_) => "picture_status",
            PictureError::TooLarge { .. } => "picture_too_large",
            PictureError::NotAnImage => "picture_not_an_image",
            PictureError::Dimensions { .. } => "picture_dimensions",
            PictureError::Timeout { .. } => "picture_timeout",
            PictureError::Unreachable { .. } => "picture_unreachable",
        }
    }
}

impl fmt::Display for PictureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let initials = "initials are shown instead";
        match self {
            PictureError::Refused { reason } => write!(
                f,
                "The profile picture was not fetched: {reason}. Use an https:// picture URL; {initials}."
            ),
            PictureError::Status(status) => write!(
                f,
                "The profile picture's server answered HTTP {status}; {initials}. Check the picture URL in the identity provider."
            ),
            PictureError::TooLarge { limit } => write!(
                f,
                "The profile picture is larger than {} KiB; {initials}. Use a smaller picture.",
                limit / 1024
            ),
            PictureError::NotAnImage => write!(
                f,
                "The profile picture is not a PNG, JPEG, GIF or WebP image (SVG is not accepted); {initials}."
            ),
            PictureError::Dimensions { width, height } => write!(
                f,
                "The profile picture is {width}×{height} pixels, outside what is shown; {initials}. Use a picture of at most 4096×4096."
            ),
            PictureError::Timeout { seconds } => write!(
                f,
                "The profile picture did not arrive within {seconds} s; {initials}. It is tried again at the next sign-in."
            ),
            PictureError::Unreachable { detail } => write!(
                f,
                "The profile picture could not be fetched ({detail}); {initials}. It is tried again at the next sign-in."
            ),
        }
    }
}

impl std::error::Error for PictureError {}

/// Whether a picture may be fetched from `url`: `https://`, or `http://` to a loopback host
/// (127.0.0.0/8, `::1`, `localhost`), which RFC 8252 §7.3 and §8.3 treat as not leaving the
/// machine; that is what lets the local stack serve pictures over plain HTTP.
pub fn allowed(url: &Url) -> Result<(), PictureError> {
    let refused = |reason: &str| {
        Err(PictureError::Refused {
            reason: reason.into(),
        })
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" => match url.host() {
            Some(Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            Some(Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") => Ok(()),
            _ => refused("http:// is only accepted for this machine (loopback)"),
        },
        _ => refused("only https:// URLs are fetched"),
    }
}

/// `url` without its query, fragment or credentials: what the logs may show (a query can carry
/// a signature or a token).
pub fn redacted(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut url) => {
            url.set_query(None);
            url.set_fragment(None);
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        Err(_) => "(not a URL)".into(),
    }
}

/// Fetches the picture at `url` within `limits` and returns it as a `data:image/…;base64,` URL.
pub async fn fetch(
    http: &reqwest::Client,
    url: &str,
    limits: &Limits,
) -> Result<String, PictureError> {
    let url = Url::parse(url).map_err(|e| PictureError::Refused {
        reason: format!("the URL is not valid ({e})"),
    })?;
    allowed(&url)?;
    let bytes = tokio::time::timeout(limits.time, download(http, url, limits))
        .await
        .map_err(|_| PictureError::Timeout {
            seconds: limits.time.as_secs_f64(),
        })??;
    data_url(&bytes, limits)
}

/// The body at `url`, following at most [`Limits::max_redirects`] redirects, each to a URL
/// [`allowed`] accepts (the client itself follows none), and reading no more than the limit.
async fn download(
    http: &reqwest::Client,
    mut url: Url,
    limits: &Limits,
) -> Result<Vec<u8>, PictureError> {
    let unreachable = |e: reqwest::Error| {
        if e.is_timeout() {
            PictureError::Timeout {
                seconds: limits.time.as_secs_f64(),
            }
        } else {
            PictureError::Unreachable {
                detail: without_url(e),
            }
        }
    };
    let mut redirects = 0;
    let mut response = loop {
        let response = http
            .get(url.clone())
            .header(
                reqwest::header::ACCEPT,
                "image/png, image/jpeg, image/gif, image/webp",
            )
            .timeout(limits.time)
            .send()
            .await
            .map_err(unreachable)?;
        if !response.status().is_redirection() {
            break response;
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| url.join(l).ok());
        let Some(next) = location else {
            return Err(PictureError::Status(response.status().as_u16()));
        };
        redirects += 1;
        if redirects > limits.max_redirects {
            return Err(PictureError::Refused {
                reason: format!("more than {} redirects", limits.max_redirects),
            });
        }
        allowed(&next).map_err(|_| PictureError::Refused {
            reason: "it redirected to a URL that is not https://".into(),
        })?;
        url = next;
    };
    if !response.status().is_success() {
        return Err(PictureError::Status(response.status().as_u16()));
    }
    let too_large = PictureError::TooLarge {
        limit: limits.max_bytes,
    };
    if response
        .content_length()
        .is_some_and(|n| n > limits.max_bytes)
    {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if (body.len() + chunk.len()) as u64 > limits.max_bytes {
            // Dropping the response closes the connection: the rest is never read.
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// reqwest's message names the URL, query included; the logs get the cause only.
fn without_url(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        detail = format!("{detail}: {cause}");
        source = cause.source();
    }
    detail
}

/// The image's type by its signature, never by what the server said it was.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Checks the bytes are an image of bounded dimensions and makes its `data:` URL.
fn data_url(bytes: &[u8], limits: &Limits) -> Result<String, PictureError> {
    let mime = image_type(bytes).ok_or(PictureError::NotAnImage)?;
    let size = imagesize::blob_size(bytes).map_err(|_| PictureError::NotAnImage)?;
    let side = limits.max_side as usize;
    if size.width == 0 || size.height == 0 || size.width > side || size.height > side {
        return Err(PictureError::Dimensions {
            width: size.width,
            height: size.height,
        });
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(format!("data:{mime};base64,{encoded}"))
}

/// A picture's `data:` URL or why it is not shown, once its one fetch has ended.
type Outcome = OnceCell<Result<String, PictureError>>;

/// Each picture URL's outcome this session, and the profile last shown, for the second emission.
pub struct Pictures {
    limits: Limits,
    outcomes: Mutex<HashMap<String, Arc<Outcome>>>,
    latest: Mutex<Option<Profile>>,
}

impl Default for Pictures {
    fn default() -> Self {
        Pictures::new(Limits::default())
    }
}

impl Pictures {
    pub fn new(limits: Limits) -> Pictures {
        Pictures {
            limits,
            outcomes: Mutex::new(HashMap::new()),
            latest: Mutex::new(None),
        }
    }

    /// The picture at `url`: fetched on the first call, the same outcome on every later one
    /// (calls made while it is being fetched wait for that fetch).
    pub async fn get(&self, http: &reqwest::Client, url: &str) -> Result<String, PictureError> {
        let cell = lock(&self.outcomes)
            .entry(url.to_string())
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let outcome = fetch(http, url, &self.limits).await;
            if let Err(e) = &outcome {
                tracing::debug!(url = %redacted(url), code = e.code(), "profile picture not shown: {e}");
            }
            outcome
        })
        .await
        .clone()
    }

    /// The profile as the window gets it, at once: with its picture if this session already
    /// has it, otherwise with none (initials). A picture not fetched yet is fetched in the
    /// background and, once it arrives, `emit` is called with the profile shown last, if that
    /// still has this picture URL, so a late picture never brings back an older profile.
    pub fn show(
        self: &Arc<Self>,
        http: &reqwest::Client,
        profile: Profile,
        emit: impl FnOnce(ProfileView) + Send + 'static,
    ) -> ProfileView {
        *lock(&self.latest) = Some(profile.clone());
        let Some(url) = profile.picture_url.clone() else {
            return ProfileView::new(profile, None);
        };
        let (cell, first) = {
            let mut outcomes = lock(&self.outcomes);
            let first = !outcomes.contains_key(&url);
            (outcomes.entry(url.clone()).or_default().clone(), first)
        };
        if let Some(outcome) = cell.get() {
            return ProfileView::new(profile, outcome.clone().ok());
        }
        if !first {
            // Being fetched for an earlier call, which emits when it arrives.
            return ProfileView::new(profile, None);
        }
        let (pictures, http) = (self.clone(), http.clone());
        tauri::async_runtime::spawn(async move {
            let Ok(picture) = pictures.get(&http, &url).await else {
                return;
            };
            let latest = lock(&pictures.latest).clone();
            if let Some(latest) = latest.filter(|p| p.picture_url.as_deref() == Some(&url)) {
                emit(ProfileView::new(latest, Some(picture)));
            }
        });
        ProfileView::new(profile, None)
    }

    /// Forgets every picture and profile: the session ended.
    pub fn clear(&self) {
        lock(&self.outcomes).clear();
        *lock(&self.latest) = None;
    }

    /// Whether nothing of anyone's pictures or profile is kept.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        lock(&self.outcomes).is_empty() && lock(&self.latest).is_none()
    }
}

/// A poisoned lock only means a panic elsewhere; the value inside is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
