//! The desktop shell: the window, its commands and events. Logic belongs in the library crates,
//! where it can be tested without a window. Each command (commands.rs) is a one-line adapter over
//! a method of the app's state (state.rs), which delegates to those crates; what the web view
//! sees is in view.rs.

mod commands;
mod error;
mod state;
mod view;
mod window;

use kinvex_auth::Auth;
use state::Desktop;
use std::sync::Arc;
use tauri::{Builder, Emitter, Manager, Runtime};

/// Starts the app and blocks until its last window closes.
pub fn run() -> Result<(), tauri::Error> {
    let builder =
        Builder::default().plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            // A second launch brings the running window forward instead of opening another.
            window::bring_to_front(app);
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
            let session = view::SessionView::from(&*changes.borrow_and_update());
            let _ = app.emit(view::SESSION_EVENT, session);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinvex_auth::config::ConfigError;
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

    /// A mock app with the real commands and capability, set up without any tenant settings,
    /// and its main window.
    fn unconfigured_app() -> (
        tauri::App<tauri::test::MockRuntime>,
        tauri::WebviewWindow<tauri::test::MockRuntime>,
    ) {
        let app = with_commands(mock_builder())
            .manage(Desktop::from_config(Err(not_configured())))
            .build(tauri::generate_context!())
            .expect("mock app builds");
        let window = tauri::WebviewWindowBuilder::new(&app, window::MAIN, Default::default())
            .build()
            .expect("mock window builds");
        (app, window)
    }

    fn not_configured() -> ConfigError {
        ConfigError::Missing {
            var: "KINDE_ISSUER_URL",
            example: "https://yourbusiness.kinde.com",
        }
    }

    /// Invokes `cmd` from the bundled UI's origin, as the window's script does.
    fn invoke(
        window: &tauri::WebviewWindow<tauri::test::MockRuntime>,
        cmd: &str,
        args: serde_json::Value,
    ) -> Result<tauri::ipc::InvokeResponseBody, serde_json::Value> {
        get_ipc_response(
            window,
            InvokeRequest {
                cmd: cmd.into(),
                callback: tauri::ipc::CallbackFn(0),
                error: tauri::ipc::CallbackFn(1),
                url: local_origin().parse().expect("static url"),
                body: tauri::ipc::InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
    }

    #[test]
    fn app_info_reaches_the_window_through_ipc() {
        // The generated context carries the real capability, so this also proves it grants the
        // command to the main window.
        let (_app, window) = unconfigured_app();
        let response =
            invoke(&window, "app_info", serde_json::json!({})).expect("app_info answers");

        let info: serde_json::Value = response.deserialize().expect("json body");
        assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
        assert!(info["name"].as_str().is_some_and(|n| !n.is_empty()));
        assert_eq!(
            info["config_error"],
            not_configured().to_string(),
            "the window can say what is missing"
        );
    }

    #[test]
    fn commands_that_need_the_settings_answer_with_a_typed_error() {
        let (_app, window) = unconfigured_app();
        let expected =
            serde_json::json!({ "code": "config", "message": not_configured().to_string() });
        for (cmd, args) in [
            ("session", serde_json::json!({})),
            ("sign_in", serde_json::json!({ "register": false })),
            ("sign_out", serde_json::json!({})),
            ("profile", serde_json::json!({})),
            (
                "files",
                serde_json::json!({ "cursor": null, "pageSize": 10 }),
            ),
        ] {
            let error = invoke(&window, cmd, args).expect_err("fails without settings");
            assert_eq!(error, expected, "{cmd}");
        }
    }

    #[test]
    fn the_main_window_is_the_one_the_config_opens_and_the_capability_names() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).expect("valid JSON");
        assert_eq!(config["app"]["windows"][0]["label"], window::MAIN);
        let capability: serde_json::Value =
            serde_json::from_str(include_str!("../capabilities/main.json")).expect("valid JSON");
        assert_eq!(capability["windows"], serde_json::json!([window::MAIN]));
    }
}
