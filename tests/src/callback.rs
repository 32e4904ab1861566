//! A stand-in for the app's loopback redirect listener, for tests that play the client.

use crate::UI_TIMEOUT;
use std::net::Ipv4Addr;

/// A stand-in for the app's loopback redirect listener: records each callback's query.
pub struct Callback {
    pub url: String,
    received: tokio::sync::mpsc::UnboundedReceiver<std::collections::HashMap<String, String>>,
}

impl Callback {
    pub async fn listen() -> Callback {
        use axum::extract::Query;
        use std::collections::HashMap;
        let (sender, received) = tokio::sync::mpsc::unbounded_channel();
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind a callback port");
        let port = listener.local_addr().expect("bound address").port();
        let app = axum::Router::new().route(
            "/callback",
            axum::routing::get(move |Query(query): Query<HashMap<String, String>>| {
                let _ = sender.send(query);
                async { "Signed in. You can return to the app." }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Callback {
            url: format!("http://127.0.0.1:{port}/callback"),
            received,
        }
    }

    /// The next callback's query parameters.
    pub async fn next(&mut self) -> std::collections::HashMap<String, String> {
        tokio::time::timeout(UI_TIMEOUT, self.received.recv())
            .await
            .expect("the browser reached the callback in time")
            .expect("callback listener alive")
    }
}
