//! The CLI's diagnostics on standard error, at the level `KINVEX_LOG` names (`warn` unless set).
//!
//! The `convex` crate's own events never pass, whatever the level: at debug it prints every
//! message it sends, the token of each `Authenticate` among them, and at error it reports each
//! reconnect, which the live connection's state already tells in the CLI's words.

use std::io::Write;
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;

/// Whether an event of `target` may be written: none of the `convex` crate's (its modules'
/// targets and `convex_logs`, the functions' console lines), the app's own `kinvex_convex` kept.
fn allowed(target: &str) -> bool {
    let crate_name = target.split("::").next().unwrap_or(target);
    !matches!(crate_name, "convex" | "convex_logs")
}

/// The subscriber writing to `writer` with `filter`'s directives.
fn subscriber<W>(filter: EnvFilter, writer: W, ansi: bool) -> impl tracing::Subscriber
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .without_time()
        .with_filter(filter.and(filter_fn(|meta| allowed(meta.target()))));
    Registry::default().with(layer)
}

/// Installs the process's subscriber on standard error.
pub fn init(ansi: bool) {
    let filter = EnvFilter::try_from_env("KINVEX_LOG").unwrap_or_else(|_| "warn".into());
    let installed =
        tracing::subscriber::set_global_default(subscriber(filter, std::io::stderr, ansi));
    if installed.is_err() {
        let _ = writeln!(std::io::stderr(), "kinvex: logging was already set up");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_or(Ok(0), |mut b| {
                b.extend_from_slice(bytes);
                Ok(bytes.len())
            })
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    #[test]
    fn the_convex_crates_events_are_never_written_even_when_asked_for_by_name() {
        let buffer = Buffer::default();
        let filter = EnvFilter::new("trace,convex=trace,convex::sync::web_socket_manager=trace");
        let written = subscriber(filter, buffer.clone(), false);
        tracing::subscriber::with_default(written, || {
            tracing::debug!(
                target: "convex::sync::web_socket_manager",
                "Sending Authenticate {{ token: User(\"eyJhbGciOi.secret-payload.sig\") }}"
            );
            tracing::error!(target: "convex::client::worker", "Convex Client Worker failed");
            tracing::debug!(target: "convex_logs", "a function's console line");
            tracing::debug!(target: "kinvex_convex::live", "the app's own line");
            tracing::warn!(target: "convexity", "a crate that only starts alike");
        });
        let text = String::from_utf8(buffer.0.lock().map(|b| b.clone()).unwrap_or_default())
            .unwrap_or_default();
        assert!(!text.contains("secret-payload"), "{text}");
        assert!(!text.contains("Worker failed"), "{text}");
        assert!(!text.contains("console line"), "{text}");
        assert!(text.contains("the app's own line"), "{text}");
        assert!(text.contains("only starts alike"), "{text}");
    }
}
