//! Copies the app's stylesheet next to `dist/rows.html`, so the rows page of the 10,000-files
//! benchmark is styled exactly as the app's list (the copy is not committed).

fn main() {
    let from = "../../ui/app.css";
    println!("cargo:rerun-if-changed={from}");
    if let Err(e) = std::fs::copy(from, "dist/app.css") {
        println!("cargo:warning=could not copy {from} to dist/app.css: {e}");
        std::process::exit(1);
    }
    tauri_build::build();
}
