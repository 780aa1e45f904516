//! Draws a plot in memory and encodes it as PNG: the one renderer behind
//! the trading report's and the model report's plots.
//!
//! Invariant: the same drawing gives the same bytes. Text is rendered with
//! ab_glyph from DejaVu Sans embedded in the binary (the `dejavu` crate),
//! never from a system font, so plots draw the same on a bare CI machine
//! with no fontconfig; pixels go to a buffer, not a file (the caller writes
//! the bytes atomically); nothing here reads a clock.

use std::error::Error;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::register_font;

pub use plotters;

/// The drawing area a plot draws on.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
/// What drawing returns: plotters' errors, boxed.
pub type Drawn = Result<(), Box<dyn Error>>;

/// The font family every plot's text uses (the embedded DejaVu Sans).
pub const FONT: &str = "sans-serif";

/// A plot that could not be drawn or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot draw {plot}: {message}")]
pub struct PlotError {
    /// The plot's file name.
    pub plot: &'static str,
    pub message: String,
}

/// Draws `plot` (its file name, for errors) at `width` x `height` pixels on
/// white with `draw`, and encodes it as an 8-bit RGB PNG.
pub fn render(
    plot: &'static str,
    (width, height): (u32, u32),
    draw: impl FnOnce(Area<'_>) -> Drawn,
) -> Result<Vec<u8>, PlotError> {
    let failed = |message: String| PlotError { plot, message };
    load_font().map_err(|()| failed("the embedded DejaVu Sans font did not load".into()))?;
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(e.to_string()))?;
        draw(root.clone()).map_err(|e| failed(e.to_string()))?;
        root.present().map_err(|e| failed(e.to_string()))?;
    }
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| failed(e.to_string()))?;
    writer.write_image_data(&pixels).map_err(|e| failed(e.to_string()))?;
    writer.finish().map_err(|e| failed(e.to_string()))?;
    Ok(png_bytes)
}

/// Registers the embedded font as plotters' [`FONT`] once per process.
fn load_font() -> Result<(), ()> {
    static LOADED: OnceLock<bool> = OnceLock::new();
    let ok = *LOADED.get_or_init(|| register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok());
    if ok { Ok(()) } else { Err(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_drawing_gives_the_same_png_and_a_failed_drawing_names_its_plot() {
        let draw = |root: Area<'_>| -> Drawn {
            root.draw(&Text::new("pmbot", (10, 10), (FONT, 20)))?;
            Ok(())
        };
        let a = render("a.png", (120, 40), draw).unwrap();
        let b = render("a.png", (120, 40), draw).unwrap();
        assert_eq!(a, b);
        assert_eq!(&a[1..4], b"PNG");
        let err = render("b.png", (10, 10), |_| Err("no data".into())).unwrap_err();
        assert_eq!(err, PlotError { plot: "b.png", message: "no data".into() });
    }
}
