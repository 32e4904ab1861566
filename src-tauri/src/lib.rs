//! The desktop shell: the window, its commands and events. Logic belongs in the library crates,
//! where it can be tested without a window; commands here are one-line adapters over them.

mod commands;
mod desktop;

use desktop::{Desktop, SessionView};
use kinvex_auth::Auth;
use std::sync::Arc;
use tauri::{Builder, Emitter, Manager, Runtime};

/// Starts the app and blocks until its last window closes.
pub fn run() -> Result<(), tauri::Error> {
    let builder =
        Builder::default().plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            // A second launch brings the running window forward instead of opening another.
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.set_focus();
            }
        }));
    with_commands(builder.plugin(tauri_plugin_deep_link::init()))
        .manage(Desktop::from_system())
        .setup(|app| {
            let app = app.handle().clone();
            app.state::<Desktop>().prefetch_profile(app.clone());
            tauri::async_runtime::spawn(async move {
                let Ok(auth) = app.state::<Desktop>().auth().await.cloned() else {
                    return;
                };
                forward_session_changes(app.clone(), &auth);
                route_scheme_redirects(&app, auth);
            });
            Ok(())
        })
        .build(tauri::generate_context!())?
        .run(|app, event| {
            // A session renewed moments ago is still being written to the keychain.
            if let tauri::RunEvent::Exit = event
                && let Some(auth) = app.state::<Desktop>().auth_if_ready()
            {
                tauri::async_runtime::block_on(auth.flush());
            }
        });
    Ok(())
}

/// Hands URLs the operating system opens for the app's scheme to the waiting sign-in. On Linux
/// and Windows they arrive as a second launch's argument, which the single-instance plugin
/// forwards here; on macOS as an event. Installers register the scheme (the desktop entry passes
/// the URL with `%u`); a development build or an AppImage, which nothing installed, registers
/// itself, and only when it is configured to use the scheme.
fn route_scheme_redirects<R: Runtime>(app: &tauri::AppHandle<R>, auth: Arc<Auth>) {
    use tauri_plugin_deep_link::DeepLinkExt;
    #[cfg(any(windows, target_os = "linux"))]
    if !auth.config.redirect_is_loopback()
        && (cfg!(debug_assertions) || app.env().appimage.is_some())
    {
        // Runs helper programs (xdg-mime); the window need not wait for them.
        let app = app.clone();
        std::thread::spawn(move || {
            if let Err(e) = app.deep_link().register(kinvex_auth::config::APP_SCHEME) {
                eprintln!(
                    "kinvex: could not register the {} scheme with the desktop ({e}); signing in needs it registered by the installer",
                    kinvex_auth::config::APP_SCHEME
                );
            }
        });
    }
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            // The URL carries an authorization code: it is never printed.
            if let Err(rejected) = auth.deliver_redirect(&url) {
                eprintln!("kinvex: ignored a {}: link: {rejected}", url.scheme());
            }
        }
    });
}

/// Everything the app registers on a builder, shared by `run` and the mock-runtime tests.
fn with_commands<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::app_info,
        commands::session,
        commands::sign_in,
        commands::cancel_sign_in,
        commands::sign_out,
        commands::profile,
        commands::files,
    ])
}

/// Emits `session` whenever the session changes (signed in, out, offline), so the window
/// reacts to events rather than polling.
fn forward_session_changes<R: Runtime>(app: tauri::AppHandle<R>, auth: &Auth) {
    let mut changes = auth.watch();
    tauri::async_runtime::spawn(async move {
        while changes.changed().await.is_ok() {
            let view = SessionView::from(&*changes.borrow_and_update());
            let _ = app.emit("session", view);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder};
    use tauri::webview::InvokeRequest;

    /// The origin the bundled UI is served from: a custom scheme everywhere but Windows.
    fn local_origin() -> &'static str {
        if cfg!(windows) {
            "http://tauri.localhost"
        } else {
            "tauri://localhost"
        }
    }

    #[test]
    fn installers_register_the_scheme_the_sign_in_core_accepts() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).expect("valid JSON");
        let schemes = &config["plugins"]["deep-link"]["desktop"]["schemes"];
        assert_eq!(
            schemes,
            &serde_json::json!([kinvex_auth::config::APP_SCHEME])
        );
        assert_eq!(config["identifier"], kinvex_auth::config::APP_SCHEME);
        // The Linux packages' desktop entry must hand the link to the app (`%u`).
        for package in ["deb", "rpm"] {
            assert_eq!(
                config["bundle"]["linux"][package]["desktopTemplate"],
                "linux/kinvex.desktop"
            );
        }
        let entry = include_str!("../linux/kinvex.desktop");
        assert!(entry.lines().any(|l| l == "Exec={{exec}} %u"), "{entry}");
    }

    #[test]
    fn app_info_reaches_the_window_through_ipc() {
        // The generated context carries the real capability, so this also proves it grants the
        // command to the main window.
        let app = with_commands(mock_builder())
            .manage(Desktop::from_config(Err(
                "not configured in this test".into()
            )))
            .build(tauri::generate_context!())
            .expect("mock app builds");
        let window = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .expect("mock window builds");

        let response = get_ipc_response(
            &window,
            InvokeRequest {
                cmd: "app_info".into(),
                callback: tauri::ipc::CallbackFn(0),
                error: tauri::ipc::CallbackFn(1),
                url: local_origin().parse().expect("static url"),
                body: tauri::ipc::InvokeBody::default(),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .expect("app_info answers");

        let info: serde_json::Value = response.deserialize().expect("json body");
        assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
        assert!(info["name"].as_str().is_some_and(|n| !n.is_empty()));
        assert_eq!(
            info["config_error"], "not configured in this test",
            "the window can say what is missing"
        );
    }
}
