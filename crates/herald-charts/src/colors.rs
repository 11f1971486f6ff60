//! Series colors: distinct from each other and from the chart's greys, because the SVG
//! tagging (`tag.rs`) finds a series' elements by their color.

use plotters::style::RGBColor;

/// Okabe–Ito's colorblind-safe palette without its black and yellow (too pale on white),
/// then Tableau's.
const PALETTE: [RGBColor; 12] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x8C, 0x56, 0x4B), // brown
    RGBColor(0x94, 0x67, 0xBD), // purple
    RGBColor(0x2C, 0xA0, 0x2C), // green
    RGBColor(0xD6, 0x27, 0x28), // red
    RGBColor(0x17, 0xBE, 0xCF), // cyan
    RGBColor(0xBC, 0xBD, 0x22), // olive
];

/// The bars' color: not in the palette, so bars are never confused with a series.
pub(crate) const BAR: RGBColor = RGBColor(0x3A, 0x6E, 0xA5);
/// Axis, tick and label text.
pub(crate) const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
/// Grid lines and secondary text.
pub(crate) const GRID: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
pub(crate) const MUTED: RGBColor = RGBColor(0x77, 0x77, 0x77);

/// The color of series `i` (`i < PALETTE.len()`, which `MAX_SERIES` guarantees).
pub(crate) fn series(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// `#RRGGBB` as plotters' SVG backend writes it.
pub(crate) fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_colors_are_distinct_and_not_chrome() {
        let mut all: Vec<String> = PALETTE.iter().map(|c| hex(*c)).collect();
        all.extend([BAR, INK, GRID, MUTED].map(hex));
        all.push("#FFFFFF".into());
        all.push("#000000".into());
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
        assert!(crate::MAX_SERIES <= PALETTE.len());
    }
}
