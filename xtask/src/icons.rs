//! Draws the app's mark and writes every icon size the bundlers ask for.
//!
//! The source image is computed, not stored: a rounded square with a diagonal gradient and a
//! keyhole, drawn with signed distances so edges are anti-aliased at any size. Every file in
//! `icons/` (and the mark the UI shows) is derived from that one 1024-pixel image.

use image::codecs::ico::{IcoEncoder, IcoFrame};
use image::imageops::{FilterType, resize};
use image::{ExtendedColorType, RgbaImage};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

const SOURCE: u32 = 1024;

/// PNG files Tauri's Linux bundles and window icon read, by file name and edge length.
const PNGS: &[(&str, u32)] = &[
    ("32x32.png", 32),
    ("64x64.png", 64),
    ("128x128.png", 128),
    ("128x128@2x.png", 256),
    ("icon.png", 512),
];
const ICO_SIZES: &[u32] = &[16, 24, 32, 48, 64, 128, 256];
const ICNS_SIZES: &[u32] = &[16, 32, 64, 128, 256, 512, 1024];

/// Writes all icons into `icons_dir` and the UI's mark into `ui_dir`.
pub fn generate(icons_dir: &Path, ui_dir: &Path) -> Result<(), String> {
    let source = draw(SOURCE);
    std::fs::create_dir_all(icons_dir).map_err(|e| format!("{}: {e}", icons_dir.display()))?;

    write_png(&source, &icons_dir.join("icon-source.png"))?;
    for (name, size) in PNGS {
        write_png(&scaled(&source, *size), &icons_dir.join(name))?;
    }
    write_png(&scaled(&source, 144), &ui_dir.join("mark.png"))?;
    write_ico(&source, &icons_dir.join("icon.ico"))?;
    write_icns(&source, &icons_dir.join("icon.icns"))?;
    Ok(())
}

fn scaled(source: &RgbaImage, size: u32) -> RgbaImage {
    if size == source.width() {
        source.clone()
    } else {
        resize(source, size, size, FilterType::Lanczos3)
    }
}

fn write_png(img: &RgbaImage, path: &Path) -> Result<(), String> {
    img.save(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn write_ico(source: &RgbaImage, path: &Path) -> Result<(), String> {
    let frames = ICO_SIZES
        .iter()
        .map(|&size| {
            let img = scaled(source, size);
            IcoFrame::as_png(img.as_raw(), size, size, ExtendedColorType::Rgba8)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    IcoEncoder::new(BufWriter::new(file))
        .encode_images(&frames)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn write_icns(source: &RgbaImage, path: &Path) -> Result<(), String> {
    let mut family = icns::IconFamily::new();
    for &size in ICNS_SIZES {
        let img = scaled(source, size);
        let icon = icns::Image::from_data(icns::PixelFormat::RGBA, size, size, img.into_raw())
            .map_err(|e| format!("icns {size}px: {e}"))?;
        family
            .add_icon(&icon)
            .map_err(|e| format!("icns {size}px: {e}"))?;
    }
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    family
        .write(BufWriter::new(file))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Renders the mark at `size` pixels. Distances are in the 1024-unit design space.
pub fn draw(size: u32) -> RgbaImage {
    let unit = 1024.0 / size as f32;
    RgbaImage::from_fn(size, size, |px, py| {
        let x = (px as f32 + 0.5) * unit;
        let y = (py as f32 + 0.5) * unit;
        // Coverage from a signed distance: one design unit of blur per output pixel.
        let cover = |d: f32| (0.5 - d / unit).clamp(0.0, 1.0);

        let tile = cover(rounded_square(x, y, 512.0, 448.0, 200.0));
        if tile == 0.0 {
            return image::Rgba([0, 0, 0, 0]);
        }
        let t = ((x + y) / 2048.0).clamp(0.0, 1.0);
        let top = [79.0, 70.0, 229.0];
        let bottom = [147.0, 51.0, 234.0];
        let mut rgb = [0.0f32; 3];
        for (i, c) in rgb.iter_mut().enumerate() {
            *c = top[i] + (bottom[i] - top[i]) * t;
        }
        let hole = cover(keyhole(x, y));
        for c in &mut rgb {
            *c += (250.0 - *c) * hole;
        }
        image::Rgba([
            rgb[0].round() as u8,
            rgb[1].round() as u8,
            rgb[2].round() as u8,
            (tile * 255.0).round() as u8,
        ])
    })
}

fn rounded_square(x: f32, y: f32, center: f32, half: f32, radius: f32) -> f32 {
    let qx = (x - center).abs() - (half - radius);
    let qy = (y - center).abs() - (half - radius);
    let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
    outside + qx.max(qy).min(0.0) - radius
}

fn keyhole(x: f32, y: f32) -> f32 {
    let circle = ((x - 512.0).powi(2) + (y - 420.0).powi(2)).sqrt() - 130.0;
    // A trapezoid widening downwards from under the circle's centre.
    let (top, bottom, top_half, bottom_half) = (430.0, 760.0, 58.0, 110.0);
    let slope = (bottom_half - top_half) / (bottom - top);
    let half_width = top_half + (y - top) * slope;
    let side = ((x - 512.0).abs() - half_width) / (1.0 + slope * slope).sqrt();
    let stem = side.max(top - y).max(y - bottom);
    circle.min(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corners_are_transparent_and_the_keyhole_is_light() {
        let img = draw(256);
        assert_eq!(img.get_pixel(0, 0)[3], 0, "outside the tile");
        let centre = img.get_pixel(128, 105);
        assert!(
            centre[0] > 240 && centre[3] == 255,
            "keyhole is opaque white"
        );
        let edge = img.get_pixel(40, 128);
        assert!(edge[2] > edge[1], "tile is the violet gradient");
    }

    #[test]
    fn generates_every_file_the_bundlers_read() {
        let dir = std::env::temp_dir().join(format!("kinvex-icons-{}", std::process::id()));
        let (icons, ui) = (dir.join("icons"), dir.join("ui"));
        std::fs::create_dir_all(&ui).unwrap();
        generate(&icons, &ui).unwrap();
        for name in [
            "32x32.png",
            "128x128.png",
            "128x128@2x.png",
            "icon.png",
            "icon.ico",
        ] {
            assert!(icons.join(name).metadata().unwrap().len() > 0, "{name}");
        }
        let ico = image::open(icons.join("icon.ico")).unwrap();
        assert_eq!(
            ico.width(),
            256,
            "ICO carries the 256px frame Windows wants"
        );
        let family = icns::IconFamily::read(File::open(icons.join("icon.icns")).unwrap()).unwrap();
        assert_eq!(family.available_icons().len(), ICNS_SIZES.len());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
