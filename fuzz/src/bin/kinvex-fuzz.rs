//! The AFL++ harness: `kinvex-fuzz <target>`, built by `cargo afl build --features afl`.

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = kinvex_fuzz::target(&name) else {
        let names: Vec<&str> = kinvex_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
        eprintln!("usage: kinvex-fuzz <{}>", names.join("|"));
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| target(data));
}
