//! `cargo xtask bench [--quick]`: builds Kinvex and the bare window with one profile, then runs
//! `kinvex-bench` in a throwaway desktop session. The full run (release profile, 7 rounds)
//! writes `BENCHMARKS.md`; `--quick` (debug binaries, one round) writes under `target/bench/`
//! and only proves the benchmarks still run, which is what CI does. `--only NAME` runs one
//! scenario and also writes under `target/bench/`.

use crate::{build, bundle, root, run, session, system, target_dir};
use std::path::PathBuf;
use std::process::Command;

pub fn bench(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    system::setup(system::Purpose::Test)?;

    let (profile, app_deb, bare_deb) = if quick {
        build(
            &[
                "kinvex-desktop",
                "kinvex-bare-window",
                "kinvex-cli",
                "kinvex-devstack",
                "kinvex-signin-floor",
                "kinvex-bench",
            ],
            false,
            "building the benchmarks and what they measure (debug)",
        )?;
        let deb = target_dir().join("release/bundle/deb");
        (
            "debug",
            find_deb(&deb, "Kinvex_"),
            find_deb(&deb, "Bare Window_"),
        )
    } else {
        let installers = bundle::build(&bundle::installer_check_tenant())?;
        let app_deb = installers
            .into_iter()
            .find(|p| p.extension().is_some_and(|e| e == "deb"));
        let mut bare = Command::new(bundle::npx());
        bare.args(["--no-install", "tauri", "build", "--ci", "--bundles", "deb"])
            .current_dir(root().join("bench/bare-window"))
            .env_remove("CI");
        run(bare, "building the bare window and its .deb (release)")?;
        build(
            &[
                "kinvex-cli",
                "kinvex-devstack",
                "kinvex-signin-floor",
                "kinvex-bench",
            ],
            true,
            "building the CLI, the local stack, the sign-in floor and the benchmarks (release)",
        )?;
        let bare_deb = find_deb(&target_dir().join("release/bundle/deb"), "Bare Window_");
        ("release", app_deb, bare_deb)
    };

    let bin = target_dir().join(profile);
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    let out = if quick || only.is_some() {
        let dir = target_dir().join("bench");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        dir.join("BENCHMARKS.quick.md")
    } else {
        root().join("BENCHMARKS.md")
    };
    let mut bench = Command::new(bin.join("kinvex-bench"));
    if quick {
        bench.arg("--quick");
    }
    if let Some(only) = only {
        bench.args(["--only", only]);
    }
    bench
        .arg("--out")
        .arg(&out)
        .current_dir(root())
        .env("KINVEX_BENCH_APP", bin.join("kinvex-desktop"))
        .env("KINVEX_BENCH_BARE", bin.join("bare-window"))
        .env("KINVEX_BENCH_CLI", bin.join("kinvex"))
        .env("KINVEX_BENCH_FLOOR", bin.join("kinvex-signin-floor"))
        .env("KINVEX_BENCH_DEVSTACK", bin.join("devstack"))
        .env("KINVEX_BENCH_PROFILE", profile)
        .env("KINVEX_E2E_ARTIFACTS", target_dir().join("bench/artifacts"));
    for (name, deb) in [
        ("KINVEX_BENCH_APP_DEB", app_deb),
        ("KINVEX_BENCH_BARE_DEB", bare_deb),
    ] {
        if let Some(deb) = deb {
            bench.env(name, deb);
        }
    }
    run(session::wrap(bench)?, "measuring in a desktop session")?;
    eprintln!("xtask: the report is {}", out.display());
    Ok(())
}

fn find_deb(dir: &std::path::Path, prefix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "deb")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
}
