//! Profile pictures for the stack's people, as Kinde hands out a URL to one: `GET
//! /_devstack/pictures/{id}.png` draws a small PNG for any id, in code (no image files are
//! kept), the same one each time and a different colour per id, so an app can show and cache
//! a picture without the network. Loopback only, like everything here.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The side of every picture, in pixels: an avatar's size at 1.5× scaling.
pub const SIDE: u32 = 96;

/// Where the picture of the person `id` is served by the provider at `issuer`.
pub fn url(issuer: &str, id: &str) -> String {
    format!("{issuer}/_devstack/pictures/{id}.png")
}

/// `GET /_devstack/pictures/{id}.png`; anything but a plain id with `.png` is 404.
pub async fn serve(Path(file): Path<String>) -> Response {
    let id = file.strip_suffix(".png").filter(|id| {
        !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    let Some(id) = id else {
        return (StatusCode::NOT_FOUND, "no such picture").into_response();
    };
    match draw(id) {
        Ok(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            png,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A disc in a colour taken from the id's hash, lighter towards the top left, on transparency.
pub fn draw(id: &str) -> Result<Vec<u8>, png::EncodingError> {
    let hash = Sha256::digest(id.as_bytes());
    let base = [hash[0], hash[1], hash[2]].map(|c| 64 + c / 2);
    let center = SIDE as f32 / 2.0;
    let mut pixels = Vec::with_capacity((SIDE * SIDE * 4) as usize);
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (dx, dy) = (x as f32 + 0.5 - center, y as f32 + 0.5 - center);
            let inside = (dx * dx + dy * dy).sqrt() <= center;
            let light = 1.0 - (x + y) as f32 / (2 * SIDE) as f32 * 0.5;
            let [r, g, b] = base.map(|c| (c as f32 * light + (1.0 - light) * 40.0) as u8);
            pixels.extend_from_slice(&[r, g, b, if inside { 255 } else { 0 }]);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, SIDE, SIDE);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}
