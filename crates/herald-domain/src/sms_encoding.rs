//! SMS encoding and segmentation: GSM-7 (GSM 03.38 basic set, extension
//! table characters take 2 septets) when every character has a GSM-7 form,
//! else UCS-2 counted in UTF-16 code units.
//!
//! A single message holds 160 septets or 70 UCS-2 units; a concatenated one
//! loses room to the UDH: 153 septets or 67 units per part. A part never
//! splits an escape sequence (extension character) or a surrogate pair, so
//! the segment count comes from the splitting itself, not a division.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

impl SmsEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsEncoding::Gsm7 => "gsm7",
            SmsEncoding::Ucs2 => "ucs2",
        }
    }
    /// Units in a message sent as one part.
    pub fn single_limit(self) -> usize {
        match self {
            SmsEncoding::Gsm7 => 160,
            SmsEncoding::Ucs2 => 70,
        }
    }
    /// Units per part of a concatenated message.
    pub fn part_limit(self) -> usize {
        match self {
            SmsEncoding::Gsm7 => 153,
            SmsEncoding::Ucs2 => 67,
        }
    }
    /// The units `c` takes in this encoding (septets or UTF-16 code units).
    fn units(self, c: char) -> usize {
        match self {
            SmsEncoding::Gsm7 => {
                if is_gsm7_extension(c) {
                    2
                } else {
                    1
                }
            }
            SmsEncoding::Ucs2 => c.len_utf16(),
        }
    }
}

/// What a text costs to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsSize {
    pub encoding: SmsEncoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub segments: usize,
}

/// GSM 03.38 default alphabet (one septet each).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// GSM 03.38 extension table (ESC + one septet).
const GSM7_EXTENSION: &str = "\x0c^{}\\[~]|€";

pub fn is_gsm7_basic(c: char) -> bool {
    GSM7_BASIC.contains(c)
}

pub fn is_gsm7_extension(c: char) -> bool {
    GSM7_EXTENSION.contains(c)
}

/// GSM-7 when every character is in the basic or extension table.
pub fn encoding_of(text: &str) -> SmsEncoding {
    if text
        .chars()
        .all(|c| is_gsm7_basic(c) || is_gsm7_extension(c))
    {
        SmsEncoding::Gsm7
    } else {
        SmsEncoding::Ucs2
    }
}

/// Encoding, length in units and number of segments of `text`.
pub fn size(text: &str) -> SmsSize {
    let encoding = encoding_of(text);
    let units = text.chars().map(|c| encoding.units(c)).sum();
    SmsSize {
        encoding,
        units,
        segments: split(text).len(),
    }
}

/// The parts `text` is sent as; one part (possibly empty) when it fits.
pub fn split(text: &str) -> Vec<&str> {
    let encoding = encoding_of(text);
    let total: usize = text.chars().map(|c| encoding.units(c)).sum();
    if total <= encoding.single_limit() {
        return vec![text];
    }
    let limit = encoding.part_limit();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (i, c) in text.char_indices() {
        let u = encoding.units(c);
        // A character never straddles two parts: an escape pair or a
        // surrogate pair that does not fit starts the next part.
        if used + u > limit {
            parts.push(&text[start..i]);
            start = i;
            used = 0;
        }
        used += u;
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_ascii_160_is_one_segment_161_is_two() {
        let s160 = "a".repeat(160);
        assert_eq!(
            size(&s160),
            SmsSize {
                encoding: SmsEncoding::Gsm7,
                units: 160,
                segments: 1
            }
        );
        let s161 = "a".repeat(161);
        let sz = size(&s161);
        assert_eq!((sz.units, sz.segments), (161, 2));
        assert_eq!(split(&s161)[0].len(), 153);
        assert_eq!(size(&"a".repeat(306)).segments, 2);
        assert_eq!(size(&"a".repeat(307)).segments, 3);
    }

    #[test]
    fn extension_characters_count_twice() {
        let sz = size("Price: 5€ [promo]");
        assert_eq!(sz.encoding, SmsEncoding::Gsm7);
        assert_eq!(sz.units, 17 + 3);
        // 80 euro signs are 160 septets: one segment; 81 are two.
        assert_eq!(size(&"€".repeat(80)).segments, 1);
        assert_eq!(size(&"€".repeat(81)).segments, 2);
        // 152 'a' then '[': the escape pair does not fit the first part's
        // last septet and moves whole to the second part.
        let t = format!("{}[{}", "a".repeat(152), "b".repeat(10));
        let parts = split(&t);
        assert_eq!(parts[0], "a".repeat(152));
        assert!(parts[1].starts_with('['));
    }

    #[test]
    fn accents_in_the_basic_set_stay_gsm7() {
        assert_eq!(encoding_of("Ça coûte"), SmsEncoding::Ucs2); // û is not GSM
        assert_eq!(encoding_of("Ça va, élève? ¡Sí! ñ ü"), SmsEncoding::Ucs2); // í
        assert_eq!(encoding_of("Ça va, élève? ¿Qué? ñ ü Ø"), SmsEncoding::Gsm7);
    }

    #[test]
    fn emoji_forces_ucs2_and_counts_two_units() {
        let sz = size("Hi 👋");
        assert_eq!(sz.encoding, SmsEncoding::Ucs2);
        assert_eq!(sz.units, 5);
        assert_eq!(sz.segments, 1);
        // 35 emoji = 70 units: one segment; 36 = 72 units: two, and the
        // first part holds 33 emoji (66 units), never half of one.
        assert_eq!(size(&"😀".repeat(35)).segments, 1);
        let text = "😀".repeat(36);
        let parts = split(&text);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].chars().count(), 33);
    }

    #[test]
    fn chinese_text_is_ucs2() {
        let text = "您好，您的验证码是123456，请在五分钟内使用。";
        let sz = size(text);
        assert_eq!(sz.encoding, SmsEncoding::Ucs2);
        assert_eq!(sz.units, text.chars().count());
        assert_eq!(sz.segments, 1);
        assert_eq!(size(&"中".repeat(70)).segments, 1);
        assert_eq!(size(&"中".repeat(71)).segments, 2);
        assert_eq!(size(&"中".repeat(134)).segments, 2);
        assert_eq!(size(&"中".repeat(135)).segments, 3);
    }

    fn sms_text() -> impl Strategy<Value = String> {
        let chars = prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => proptest::sample::select(vec!['€', '[', ']', '{', '^', '\\']),
            1 => proptest::sample::select(vec!['é', 'Ø', 'Δ', '\n', '@']),
            1 => proptest::sample::select(vec!['😀', '中', 'ž', '🇫']),
        ];
        proptest::collection::vec(chars, 0..500).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn segment_count_is_consistent_with_splitting(text in sms_text()) {
            let sz = size(&text);
            let parts = split(&text);
            prop_assert_eq!(sz.segments, parts.len());
            prop_assert_eq!(parts.concat(), text.clone());
            let units = |s: &str| s.chars().map(|c| sz.encoding.units(c)).sum::<usize>();
            prop_assert_eq!(parts.iter().map(|p| units(p)).sum::<usize>(), sz.units);
            if sz.units <= sz.encoding.single_limit() {
                prop_assert_eq!(sz.segments, 1);
            } else {
                let per = sz.encoding.part_limit();
                for p in &parts {
                    prop_assert!(units(p) <= per);
                    prop_assert!(!p.is_empty());
                }
                // A part wastes at most one unit (a 2-unit character moved on).
                prop_assert!(sz.segments >= sz.units.div_ceil(per));
                prop_assert!(sz.segments <= sz.units.div_ceil(per - 1));
                // Every UCS-2 part is valid UTF-16 on its own: no split pairs.
                if sz.encoding == SmsEncoding::Ucs2 {
                    for p in &parts {
                        let utf16: Vec<u16> = p.encode_utf16().collect();
                        prop_assert!(String::from_utf16(&utf16).is_ok());
                    }
                }
            }
        }
    }
}
