//! The desktop shell: the window, its commands and events. Logic belongs in the library crates,
//! where it can be tested without a window. Each command (commands.rs) is a one-line adapter over
//! a method of the app's state (state.rs), which delegates to those crates; what the web view
//! sees is in view.rs.

mod commands;
mod error;
mod live;
mod os;
mod picture;
mod shown;
mod state;
mod transfers;
mod view;
mod window;

use kinvex_auth::Auth;
use state::Desktop;
use std::sync::Arc;
use tauri::{Builder, DragDropEvent, Emitter, Manager, Runtime, WindowEvent};
use transfers::Transfers;

/// Starts the app and blocks until its last window closes.
pub fn run() -> Result<(), tauri::Error> {
    let builder =
        Builder::default().plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            // A second launch brings the running window forward instead of opening another.
            window::bring_to_front(app);
        }));
    let builder = builder
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init());
    with_commands(builder)
        .manage(Desktop::from_system())
        .setup(|app| {
            app.manage(transfers_of(app.handle())?);
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

/// The app's transfers: reported as `transfer` events, opened files cached privately under the
/// app's cache folder.
fn transfers_of<R: Runtime>(app: &tauri::AppHandle<R>) -> Result<Transfers, tauri::Error> {
    let cache = app.path().app_cache_dir()?.join("opened");
    let (emitter, opener) = (app.clone(), app.clone());
    Ok(Transfers::new(
        Arc::new(move |update| {
            let _ = emitter.emit(view::TRANSFER_EVENT, update);
        }),
        Arc::new(move |path| os::open(&opener, path)),
        kinvex_clock::system(),
        cache,
    ))
}

/// Files dropped onto the window are uploaded, each as its own transfer; a folder among them
/// fails on its own (`not_a_file`). The paths come from the OS to Rust, not through the web view.
fn upload_dropped_files<R: Runtime>(window: &tauri::Window<R>, event: &WindowEvent) {
    let WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event else {
        return;
    };
    let (app, paths) = (window.app_handle().clone(), paths.clone());
    tauri::async_runtime::spawn(async move {
        let (desktop, transfers) = (app.state::<Desktop>(), app.state::<Transfers>());
        if let Err(e) = desktop.upload_dropped(&transfers, paths).await {
            eprintln!("kinvex: could not upload the dropped files: {e}");
        }
    });
}

/// Everything the app registers on a builder, shared by `run` and the mock-runtime tests: the
/// commands and the handler of files dropped onto the window.
fn with_commands<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    builder
        .on_window_event(upload_dropped_files)
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::session,
            commands::sign_in,
            commands::cancel_sign_in,
            commands::sign_out,
            commands::organizations,
            commands::switch_organization,
            commands::create_organization,
            commands::accounts,
            commands::switch_account,
            commands::add_account,
            commands::sign_out_account,
            commands::profile,
            commands::watch_files,
            commands::unwatch_files,
            commands::connection,
            commands::reconnect,
            commands::diagnose,
            commands::upload,
            commands::open_file,
            commands::save_file_as,
            commands::delete_file,
            commands::cancel_transfer,
        ])
}

/// Emits `session` whenever the session changes (signed in, out, offline), so the window
/// reacts to events rather than polling, and starts or closes the live socket to match.
fn forward_session_changes<R: Runtime>(app: tauri::AppHandle<R>, auth: &Auth) {
    let mut changes = auth.watch();
    tauri::async_runtime::spawn(async move {
        // The session may have been restored before this task started watching.
        let current = changes.borrow_and_update().clone();
        app.state::<Desktop>().follow_session(&app, &current).await;
        while changes.changed().await.is_ok() {
            let state = changes.borrow_and_update().clone();
            let _ = app.emit(view::SESSION_EVENT, view::SessionView::from(&state));
            app.state::<Desktop>().follow_session(&app, &state).await;
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
            ("accounts", serde_json::json!({})),
            ("switch_account", serde_json::json!({ "id": "kp_x" })),
            ("add_account", serde_json::json!({})),
            ("sign_out_account", serde_json::json!({ "id": "kp_x" })),
            ("profile", serde_json::json!({})),
            (
                "watch_files",
                serde_json::json!({ "page": 0, "cursor": null, "pageSize": 10 }),
            ),
            ("reconnect", serde_json::json!({})),
            ("diagnose", serde_json::json!({})),
        ] {
            let error = invoke(&window, cmd, args).expect_err("fails without settings");
            assert_eq!(error, expected, "{cmd}");
        }
    }

    /// Dropped files reach the local stack through the handler `with_commands` registers. The
    /// mock runtime never delivers a window event (its windows keep no listeners; a native GTK
    /// drop cannot be synthesized either), so the test hands the drop to that handler as the
    /// runtime would, and watches the `transfer` events the window would get.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn files_dropped_onto_the_window_are_uploaded_and_a_dropped_folder_is_refused() {
        use kinvex_auth::SignInOptions;
        use kinvex_auth::token_store::PlaintextFile;
        use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
        use kinvex_test_kit::env::Settings;
        use kinvex_test_kit::stack::{self, TokenFile};
        use tauri::Listener;

        let stack = stack::start(None).await;
        let tokens = TokenFile::new("dropped");
        let auth = stack::auth(
            Settings::for_stack(&stack).config(),
            Box::new(PlaintextFile::new(tokens.to_path_buf())),
            Arc::new(HeadlessBrowser::new(sign_in_as(&stack.accounts[0]))),
        );
        stack::sign_in(&auth, &SignInOptions::default()).await;
        let auth = Arc::new(auth);
        let app = with_commands(mock_builder())
            .manage(Desktop::with_auth(auth.clone()))
            .build(tauri::generate_context!())
            .expect("mock app builds");
        // `run`'s setup does this; a mock app is never run.
        app.manage(transfers_of(app.handle()).expect("a cache folder"));
        let window = tauri::WebviewWindowBuilder::new(&app, window::MAIN, Default::default())
            .build()
            .expect("mock window builds");
        let (send, mut updates) = tokio::sync::mpsc::unbounded_channel();
        app.listen(view::TRANSFER_EVENT, move |event| {
            let update: serde_json::Value =
                serde_json::from_str(event.payload()).expect("a JSON update");
            let _ = send.send(update);
        });
        let dropped = tempfile::tempdir().expect("temp dir");
        let file = dropped.path().join("Dropped notes.txt");
        std::fs::write(&file, "from the desktop\n").expect("write");
        let folder = dropped.path().join("Photos");
        std::fs::create_dir(&folder).expect("folder");
        let blobs = stack.state.store.storage().count().expect("count");

        upload_dropped_files(
            &window.as_ref().window(),
            &WindowEvent::DragDrop(DragDropEvent::Drop {
                paths: vec![file, folder],
                position: Default::default(),
            }),
        );
        let mut ended = std::collections::HashMap::new();
        tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while ended.len() < 2 {
                let update = updates.recv().await.expect("the app is listening");
                if update["state"] != "running" {
                    ended.insert(update["name"].as_str().expect("a name").to_string(), update);
                }
            }
        })
        .await
        .expect("both transfers ended in time");

        let uploaded = &ended["Dropped notes.txt"];
        assert_eq!(
            (&uploaded["kind"], &uploaded["state"], &uploaded["done"]),
            (&"upload".into(), &"done".into(), &17.into()),
            "{uploaded}"
        );
        let refused = &ended["Photos"];
        assert_eq!(refused["state"], "failed", "{refused}");
        assert_eq!(refused["error"]["code"], "not_a_file", "{refused}");
        assert_eq!(
            stack.state.store.storage().count().expect("count"),
            blobs + 1,
            "the file's bytes, and only its, are stored"
        );
        let client = kinvex_convex::Client::for_auth(&auth).expect("client");
        let listed = kinvex_convex::data::files(&client, &auth, None, 100)
            .await
            .expect("files")
            .files;
        let names: Vec<&str> = listed.iter().map(|f| f.name.as_str()).collect();
        assert!(names.contains(&"Dropped notes.txt"), "{names:?}");
        assert!(!names.contains(&"Photos"), "{names:?}");
    }

    /// A switch from the window's side, against the local stack: the organisations listed, the
    /// profile's Organization after a switch, and a switch to one the person is not in refused
    /// as such (the session unchanged).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_switch_shows_in_the_profile_and_one_to_a_strangers_organisation_is_refused() {
        use kinvex_auth::SignInOptions;
        use kinvex_auth::token_store::PlaintextFile;
        use kinvex_test_kit::browser::{HeadlessBrowser, sign_in_as};
        use kinvex_test_kit::env::Settings;
        use kinvex_test_kit::stack::{self, TokenFile};

        let stack = stack::start(None).await;
        let tokens = TokenFile::new("organizations");
        let auth = stack::auth(
            Settings::for_stack(&stack).config(),
            Box::new(PlaintextFile::new(tokens.to_path_buf())),
            Arc::new(HeadlessBrowser::new(sign_in_as(&stack.accounts[0]))),
        );
        stack::sign_in(&auth, &SignInOptions::default()).await;
        let app = with_commands(mock_builder())
            .manage(Desktop::with_auth(Arc::new(auth)))
            .build(tauri::generate_context!())
            .expect("mock app builds");
        let desktop = app.state::<Desktop>();
        let current = |listed: &[view::Organization]| {
            listed.iter().find(|o| o.current).map(|o| o.code.clone())
        };
        let listed = desktop.organizations().await.expect("listed");
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert_eq!(current(&listed).as_deref(), Some("org_kinvex_demo"));

        let now = desktop
            .switch_organization(app.handle(), "org_kinvex_default".into())
            .await
            .expect("switched");
        assert_eq!(
            (now.code.as_str(), now.name.as_deref(), now.current),
            ("org_kinvex_default", Some("Kinvex"), true)
        );
        let profile = desktop.profile(app.handle()).await.expect("profile");
        assert_eq!(profile.organization.as_deref(), Some("org_kinvex_default"));

        let refused = desktop
            .switch_organization(app.handle(), "org_not_hers".into())
            .await
            .expect_err("not a member");
        assert_eq!(refused.code(), "not_a_member");
        assert_eq!(
            refused.to_string(),
            "You are not a member of the organization org_not_hers, so you cannot switch to it. You are still signed in to Kinvex."
        );
        let listed = desktop.organizations().await.expect("listed");
        assert_eq!(current(&listed).as_deref(), Some("org_kinvex_default"));
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
