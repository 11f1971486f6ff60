//! The font plotters measures text with. The SVG names the generic `sans-serif` family
//! (the viewer draws it with its own font); plotters only needs glyph advances to size
//! label areas and the legend, which a Latin subset of DejaVu Sans gives without system
//! fonts, fontconfig or freetype.

use std::sync::Once;

use plotters::style::{FontStyle, register_font};

/// The family the charts use: registered under the generic name so the SVG says it.
pub(crate) const FAMILY: &str = "sans-serif";

static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans-LatinSubset.ttf");
static REGISTER: Once = Once::new();

/// Registers the embedded font once per process; a font that did not parse would show as
/// a drawing error on the first chart, which the crate's tests would catch.
pub(crate) fn ensure_registered() {
    REGISTER.call_once(|| {
        let _ = register_font(FAMILY, FontStyle::Normal, FONT);
    });
}
