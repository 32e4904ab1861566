//! The provider's HTML: sign-in, registration, errors. Plain forms that work without scripts,
//! labelled inputs with `autocomplete`, every interpolated value escaped.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
:root{color-scheme:light dark;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Ubuntu,sans-serif;
--bg:#f6f7fb;--card:#fff;--text:#161821;--muted:#5b6072;--border:#d9dcea;--accent:#4f46e5;--danger:#b42318}
@media (prefers-color-scheme:dark){:root{--bg:#111218;--card:#1a1c24;--text:#eceef4;--muted:#a0a5b8;
--border:#343847;--accent:#8b85ff;--danger:#ff8a80}}
body{margin:0;min-height:100vh;display:grid;place-items:center;background:var(--bg);color:var(--text)}
main{width:min(380px,92vw);background:var(--card);border:1px solid var(--border);border-radius:14px;padding:28px}
h1{font-size:22px;margin:0 0 4px}p{color:var(--muted);margin:0 0 18px}
label{display:block;font-size:14px;font-weight:600;margin:14px 0 6px}
input{width:100%;box-sizing:border-box;padding:10px 12px;font:inherit;border:1px solid var(--border);
border-radius:8px;background:transparent;color:inherit}
.actions{display:flex;gap:10px;margin-top:22px}
button{flex:1;padding:10px 12px;font:inherit;font-weight:600;border-radius:8px;border:1px solid var(--border);
background:transparent;color:inherit;cursor:pointer}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
.error{color:var(--danger);font-weight:600}
.switch{margin:18px 0 0;font-size:14px}a{color:var(--accent)}
:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
";

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · Kinvex local identity</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        title = escape(title),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // No `form-action`: browsers apply it to the redirect after a POST, and that redirect must
    // reach the app's callback on another origin (a loopback port or a custom scheme).
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Cancel lives in a form of its own so that pressing Enter in the main form signs in rather
/// than cancelling (Enter submits a form's first submit button).
fn cancel_form(action: &str, request: &str) -> String {
    format!(
        "<form id=\"cancel\" method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"request\" value=\"{}\"></form>",
        escape(request)
    )
}

pub fn sign_in(request: &str, email: &str, error: Option<&str>) -> Response {
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))
    });
    let body = format!(
        "<h1>Sign in</h1><p>to continue to Kinvex</p>{error}\
         <form method=\"post\" action=\"/oauth2/auth/sign-in\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"{email}\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <div class=\"actions\">\
         <button type=\"submit\" form=\"cancel\" name=\"action\" value=\"cancel\">Cancel</button>\
         <button class=\"primary\" type=\"submit\" name=\"action\" value=\"sign-in\">Sign in</button>\
         </div></form>{cancel}\
         <p class=\"switch\">No account? <a href=\"/oauth2/auth/register?request={request}\">Create one</a></p>",
        request = escape(request),
        email = escape(email),
        cancel = cancel_form("/oauth2/auth/sign-in", request),
    );
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    page(status, "Sign in", &body)
}

pub fn register(request: &str, email: &str, error: Option<&str>) -> Response {
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))
    });
    let body = format!(
        "<h1>Create your account</h1><p>for Kinvex</p>{error}\
         <form method=\"post\" action=\"/oauth2/auth/register\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <label for=\"given_name\">First name</label>\
         <input id=\"given_name\" name=\"given_name\" autocomplete=\"given-name\" required>\
         <label for=\"family_name\">Last name</label>\
         <input id=\"family_name\" name=\"family_name\" autocomplete=\"family-name\">\
         <label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required value=\"{email}\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"8\" required>\
         <div class=\"actions\">\
         <button type=\"submit\" form=\"cancel\" name=\"action\" value=\"cancel\">Cancel</button>\
         <button class=\"primary\" type=\"submit\" name=\"action\" value=\"register\">Create account</button>\
         </div></form>{cancel}\
         <p class=\"switch\">Have an account? <a href=\"/oauth2/auth/sign-in?request={request}\">Sign in</a></p>",
        request = escape(request),
        email = escape(email),
        cancel = cancel_form("/oauth2/auth/register", request),
    );
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page(status, "Create account", &body)
}

/// An error the provider must show itself rather than redirect (unknown client, bad redirect).
pub fn error(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p>",
        escape(title),
        escape(message)
    );
    page(status, title, &body)
}

pub fn signed_out() -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        "<h1>You are signed out</h1><p>You can close this tab.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
