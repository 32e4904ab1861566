//! `cargo xtask fuzz [--seconds N] [--target NAME]`: every fuzz target of `fuzz/` under AFL++
//! (afl.rs, which works on the stable toolchain), N seconds each (60 unless set), seeded from
//! `fuzz/corpus/<target>`. Findings go to `target/fuzz/<target>/default/{crashes,hangs}`; the
//! task fails when there are any, and reports each target's executions.

use std::path::Path;

/// The targets, as `kinvex_fuzz::TARGETS` names them.
const TARGETS: &[&str] = &["callback", "id_token", "webhook", "convex", "config"];

pub fn run(args: &[String]) -> Result<(), String> {
    let mut seconds = 60u64;
    let mut only: Option<String> = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|s| *s > 0)
                    .ok_or("--seconds needs a whole number of seconds, for example --seconds 60")?;
            }
            "--target" => {
                let name = args.next().ok_or("--target needs a target name")?;
                if !TARGETS.contains(&name.as_str()) {
                    return Err(format!(
                        "no fuzz target `{name}`; the targets are {}",
                        TARGETS.join(", ")
                    ));
                }
                only = Some(name.clone());
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}`; use --seconds N and --target NAME"
                ));
            }
        }
    }
    super::system::FUZZ_TOOLS
        .iter()
        .try_for_each(super::system::ensure_cargo_tool)?;

    let mut build = super::cargo();
    build.args([
        "afl",
        "build",
        "--locked",
        "--release",
        "--package",
        "kinvex-fuzz",
        "--features",
        "afl",
    ]);
    super::run(
        build,
        "building the fuzz harness with AFL++ instrumentation",
    )?;
    let harness = super::target_dir().join("release/kinvex-fuzz");

    let mut report = Vec::new();
    for name in TARGETS
        .iter()
        .filter(|t| only.as_deref().is_none_or(|o| o == **t))
    {
        let out = super::target_dir().join("fuzz").join(name);
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out)
            .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
        let log_path = out.with_extension("log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let mut fuzz = super::cargo();
        fuzz.args(["afl", "fuzz", "-V"])
            .arg(seconds.to_string())
            // The first input of each fuzzing process starts the local stack: allow for it.
            .args(["-t", "10000", "-i"])
            .arg(super::root().join("fuzz/corpus").join(name))
            .arg("-o")
            .arg(&out)
            .arg("--")
            .arg(&harness)
            .arg(name)
            .env("AFL_NO_UI", "1")
            .env("AFL_SKIP_CPUFREQ", "1")
            // Crashes are panics caught by the harness, not core dumps; the kernel's
            // core_pattern is the machine's, not ours to change.
            .env("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1")
            // One process takes many inputs, so the stack starts rarely.
            .env("AFL_FUZZER_LOOPCOUNT", "100000")
            .stdout(log);
        super::run(
            fuzz,
            &format!(
                "fuzzing {name} for {seconds} s (AFL++'s log: {})",
                log_path.display()
            ),
        )?;
        report.push(stats(name, &out.join("default"))?);
    }
    for line in &report {
        eprintln!("xtask: {}", line.0);
    }
    let found: Vec<&str> = report
        .iter()
        .filter(|r| r.1 > 0)
        .map(|r| r.0.as_str())
        .collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the fuzzers found crashes or hangs (inputs under target/fuzz/<target>/default):\n  {}",
            found.join("\n  ")
        ))
    }
}

/// A target's summary line from AFL++'s `fuzzer_stats`, and how many findings it saved.
fn stats(name: &str, dir: &Path) -> Result<(String, u64), String> {
    let text = std::fs::read_to_string(dir.join("fuzzer_stats")).map_err(|e| {
        format!(
            "AFL++ left no statistics for {name} in {}: {e}",
            dir.display()
        )
    })?;
    let field = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == key)
            .map_or("?", |(_, v)| v.trim())
            .to_string()
    };
    let count = |key: &str| field(key).parse::<u64>().unwrap_or(0);
    let findings = count("saved_crashes") + count("saved_hangs");
    Ok((
        format!(
            "{name}: {} executions ({}/s), {} paths, {} crashes, {} hangs",
            field("execs_done"),
            field("execs_per_sec"),
            field("corpus_count"),
            field("saved_crashes"),
            field("saved_hangs"),
        ),
        findings,
    ))
}
