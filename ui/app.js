// The webview talks to Rust only through commands and events; it never holds a token.
const tauri = window.__TAURI__;

async function showVersion() {
  const slot = document.getElementById("app-version");
  if (!tauri) {
    slot.textContent = "Preview outside the desktop app";
    return;
  }
  try {
    const info = await tauri.core.invoke("app_info");
    slot.textContent = `${info.name} ${info.version}`;
  } catch (error) {
    slot.textContent = "";
    console.error("app_info failed", error);
  }
}

showVersion();
