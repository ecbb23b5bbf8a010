//! PNG metadata: text (tEXt, zTXt, iTXt), physical pixel size (pHYs), and
//! colour space: sRGB, gAMA, iCCP and the Third Edition's cICP, mDCV, cLLI.
//!
//! A `Metadata` holds what the file stores, in the file's own integer units
//! (pixels per metre, gamma x 100000, chromaticities x 50000, luminances x
//! 10000), so a value read from a file is written back bit for bit; the
//! constructors take the everyday units (dots per inch, cd/m^2) and refuse
//! what PNG cannot store with a ValueError naming the rule.
//!
//! Writing: `chunks` gives the ancillary chunks, all of which go between IHDR
//! and IDAT (colour chunks must precede IDAT; the rest may, and placing them
//! first lets a reader stop early). Reading: `read` walks a file's chunks and
//! parses the ones above; a corrupt one (bad CRC, bad contents, out of place,
//! repeated) is skipped, as libpng does, or is an error when `strict`.

use crate::error::value_error;
use anyhow::Result;
use flate2::{Decompress, FlushDecompress, Status};
use std::io::Write;

/// The most bytes of one keyword (text key, ICC profile name).
const MAX_KEYWORD: usize = 79;
/// Text values longer than this are compressed (zTXt, or compressed iTXt):
/// below it the zlib header and the deflate block headers eat the saving.
pub const COMPRESS_TEXT_ABOVE: usize = 1024;
/// PNG's 4-byte unsigned integers stop at 2^31 - 1.
const MAX_PNG_U31: u64 = (1 << 31) - 1;
/// pHYs' unit, metres, in inches.
const METRES_PER_INCH: f64 = 0.0254;
/// gAMA's value for sRGB, the one a file with sRGB may carry.
const SRGB_GAMMA: u32 = 45455;

/// H.273 code points in a cICP chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cicp {
    pub primaries: u8,
    pub transfer: u8,
    pub matrix: u8,
    pub full_range: bool,
}

impl Cicp {
    /// The named presets, each full range with the RGB (identity) matrix PNG
    /// requires: BT.709 primaries / sRGB transfer, Display P3 (SMPTE EG 432
    /// primaries, sRGB transfer), BT.2020 primaries with PQ or HLG.
    pub const PRESETS: [(&'static str, Cicp); 4] = [
        ("srgb", Cicp::full(1, 13)),
        ("display-p3", Cicp::full(12, 13)),
        ("bt2100-pq", Cicp::full(9, 16)),
        ("bt2100-hlg", Cicp::full(9, 18)),
    ];

    const fn full(primaries: u8, transfer: u8) -> Cicp {
        Cicp {
            primaries,
            transfer,
            matrix: 0,
            full_range: true,
        }
    }

    pub fn preset(name: &str) -> Result<Cicp> {
        Cicp::PRESETS
            .iter()
            .find(|(preset, _)| *preset == name)
            .map(|(_, cicp)| *cicp)
            .ok_or_else(|| {
                let names: Vec<_> = Cicp::PRESETS.iter().map(|(n, _)| format!("{n:?}")).collect();
                value_error(format!(
                    "cicp must be one of {} or a tuple (primaries, transfer, matrix, full_range), got {name:?}",
                    names.join(", ")
                ))
            })
    }

    fn bytes(self) -> [u8; 4] {
        [
            self.primaries,
            self.transfer,
            self.matrix,
            u8::from(self.full_range),
        ]
    }
}

/// mDCV: the mastering display's primaries (red, green, blue) and white
/// point as CIE 1931 x, y in units of 0.00002, and its luminance range in
/// units of 0.0001 cd/m^2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasteringDisplay {
    pub primaries: [[u16; 2]; 3],
    pub white_point: [u16; 2],
    pub max_luminance: u32,
    pub min_luminance: u32,
}

/// mDCV's chromaticity unit, inverted.
pub const CHROMATICITY_SCALE: f64 = 50_000.0;
/// mDCV's and cLLI's luminance unit (cd/m^2), inverted.
pub const LUMINANCE_SCALE: f64 = 10_000.0;

impl MasteringDisplay {
    /// From chromaticities (0-1.3107) and luminances in cd/m^2.
    pub fn new(
        primaries: [(f64, f64); 3],
        white_point: (f64, f64),
        max_luminance: f64,
        min_luminance: f64,
    ) -> Result<MasteringDisplay> {
        let xy = |(x, y): (f64, f64), what: &str| -> Result<[u16; 2]> {
            Ok([
                scaled(x, CHROMATICITY_SCALE, u16::MAX.into(), what)? as u16,
                scaled(y, CHROMATICITY_SCALE, u16::MAX.into(), what)? as u16,
            ])
        };
        let names = ["red", "green", "blue"];
        let mut scaled_primaries = [[0; 2]; 3];
        for (i, primary) in primaries.into_iter().enumerate() {
            scaled_primaries[i] = xy(primary, &format!("mastering_display {} primary", names[i]))?;
        }
        let luminance = |value: f64, what: &str| {
            scaled(value, LUMINANCE_SCALE, u32::MAX.into(), what).map(|v| v as u32)
        };
        let max = luminance(max_luminance, "mastering_display max_luminance")?;
        let min = luminance(min_luminance, "mastering_display min_luminance")?;
        if min >= max {
            return Err(value_error(format!(
                "mastering_display min_luminance ({min_luminance} cd/m^2) must be below max_luminance ({max_luminance} cd/m^2)"
            )));
        }
        Ok(MasteringDisplay {
            primaries: scaled_primaries,
            white_point: xy(white_point, "mastering_display white_point")?,
            max_luminance: max,
            min_luminance: min,
        })
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        for [x, y] in self.primaries.iter().chain([&self.white_point]) {
            out.extend_from_slice(&x.to_be_bytes());
            out.extend_from_slice(&y.to_be_bytes());
        }
        out.extend_from_slice(&self.max_luminance.to_be_bytes());
        out.extend_from_slice(&self.min_luminance.to_be_bytes());
        out
    }
}

/// cLLI: maximum content and frame-average light levels, 0.0001 cd/m^2 units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentLightLevel {
    pub max_cll: u32,
    pub max_fall: u32,
}

impl ContentLightLevel {
    /// From cd/m^2.
    pub fn new(max_cll: f64, max_fall: f64) -> Result<ContentLightLevel> {
        let max = u32::MAX.into();
        Ok(ContentLightLevel {
            max_cll: scaled(max_cll, LUMINANCE_SCALE, max, "content_light_level max_cll")? as u32,
            max_fall: scaled(
                max_fall,
                LUMINANCE_SCALE,
                max,
                "content_light_level max_fall",
            )? as u32,
        })
    }
}

/// An embedded ICC profile and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IccProfile {
    pub name: String,
    pub data: Vec<u8>,
}

impl IccProfile {
    /// The name Pillow and most tools write.
    pub const DEFAULT_NAME: &'static str = "ICC Profile";

    /// Checks that `data` is plausibly an ICC profile (its header's size
    /// field matches), so a wrong byte string is caught here rather than by
    /// every reader later, and that `name` is a valid keyword.
    pub fn new(name: &str, data: Vec<u8>) -> Result<IccProfile> {
        check_keyword(name, "icc_profile_name")?;
        let declared = data
            .get(..4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
        if data.len() < 128 || declared != Some(data.len() as u32) {
            return Err(value_error(format!(
                "icc_profile must be an ICC profile's bytes (a 128-byte header whose first 4 bytes give the profile's length): got {} bytes{}",
                data.len(),
                declared.map_or(String::new(), |d| format!(" declaring {d}"))
            )));
        }
        Ok(IccProfile {
            name: name.to_string(),
            data,
        })
    }
}

/// Everything bufpng writes and reads besides the pixels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// Key-value pairs in file order (a file may repeat a key).
    pub text: Vec<(String, String)>,
    /// pHYs in pixels per metre (x, y).
    pub pixels_per_metre: Option<(u32, u32)>,
    /// sRGB's rendering intent, 0-3 (0 = perceptual).
    pub srgb: Option<u8>,
    /// gAMA: the file gamma x 100000 (45455 for 1/2.2).
    pub gamma: Option<u32>,
    pub icc_profile: Option<IccProfile>,
    pub cicp: Option<Cicp>,
    pub mastering_display: Option<MasteringDisplay>,
    pub content_light_level: Option<ContentLightLevel>,
}

impl Metadata {
    pub const EMPTY: Metadata = Metadata {
        text: Vec::new(),
        pixels_per_metre: None,
        srgb: None,
        gamma: None,
        icc_profile: None,
        cicp: None,
        mastering_display: None,
        content_light_level: None,
    };

    pub fn is_empty(&self) -> bool {
        *self == Metadata::EMPTY
    }

    /// Adds text entries; each replaces any entry with the same key.
    pub fn add_text(&mut self, text: Vec<(String, String)>) {
        self.text
            .retain(|(key, _)| !text.iter().any(|(k, _)| k == key));
        self.text.extend(text);
    }

    /// pHYs from dots per inch, rounded to whole pixels per metre.
    pub fn set_dpi(&mut self, x: f64, y: f64) -> Result<()> {
        let ppm = |dpi: f64| scaled(dpi, 1.0 / METRES_PER_INCH, MAX_PNG_U31, "dpi");
        let (x, y) = (ppm(x)?, ppm(y)?);
        if x == 0 || y == 0 {
            return Err(value_error(
                "dpi must be positive (at least 0.0127 dots per inch, PNG's 1 pixel per metre)",
            ));
        }
        self.pixels_per_metre = Some((x as u32, y as u32));
        Ok(())
    }

    /// The resolution in dots per inch, as Pillow reports it (unrounded).
    pub fn dpi(&self) -> Option<(f64, f64)> {
        self.pixels_per_metre.map(|(x, y)| {
            (
                f64::from(x) * METRES_PER_INCH,
                f64::from(y) * METRES_PER_INCH,
            )
        })
    }

    pub fn set_srgb(&mut self, intent: i64) -> Result<()> {
        match intent {
            0..=3 => {
                self.srgb = Some(intent as u8);
                Ok(())
            }
            _ => Err(value_error(format!(
                "srgb must be True or a rendering intent 0-3 (0 perceptual, 1 relative colorimetric, 2 saturation, 3 absolute colorimetric), got {intent}"
            ))),
        }
    }

    /// gAMA from the file gamma (e.g. 1/2.2 = 0.45455).
    pub fn set_gamma(&mut self, gamma: f64) -> Result<()> {
        let value = scaled(gamma, 100_000.0, MAX_PNG_U31, "gamma")?;
        if value == 0 {
            return Err(value_error(format!(
                "gamma must be positive (the file gamma, e.g. 1/2.2 = 0.45455), got {gamma}"
            )));
        }
        self.gamma = Some(value as u32);
        Ok(())
    }

    pub fn gamma(&self) -> Option<f64> {
        self.gamma.map(|g| f64::from(g) / 100_000.0)
    }

    /// Checks the text keys and values and the combinations the PNG spec
    /// forbids; `chunks` calls it, and the boundary calls it early so errors
    /// come before any work.
    pub fn validate(&self) -> Result<()> {
        check_text(&self.text)?;
        if self.srgb.is_some() && self.icc_profile.is_some() {
            return Err(value_error(
                "srgb and icc_profile cannot both be given: the PNG spec allows one embedded colour profile (sRGB is a profile), so pass one",
            ));
        }
        if let (Some(_), Some(gamma)) = (self.srgb, self.gamma) {
            if gamma != SRGB_GAMMA {
                return Err(value_error(format!(
                    "gamma {} contradicts srgb: a file with sRGB may only carry gAMA 0.45455 (leave gamma out)",
                    f64::from(gamma) / 100_000.0
                )));
            }
        }
        if let Some(cicp) = self.cicp {
            if cicp.matrix != 0 {
                return Err(value_error(format!(
                    "cicp matrix coefficients must be 0: PNG holds RGB (or gray) samples, never YCbCr; got {}",
                    cicp.matrix
                )));
            }
        }
        Ok(())
    }

    /// The chunks to write between IHDR and IDAT, as (type, data), colour
    /// first (cICP takes precedence over iCCP/sRGB, which precede gAMA).
    pub fn chunks(&self) -> Result<Vec<([u8; 4], Vec<u8>)>> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        self.validate()?;
        let mut chunks = Vec::new();
        if let Some(cicp) = self.cicp {
            chunks.push((*b"cICP", cicp.bytes().to_vec()));
        }
        if let Some(display) = &self.mastering_display {
            chunks.push((*b"mDCV", display.bytes()));
        }
        if let Some(level) = self.content_light_level {
            let mut data = level.max_cll.to_be_bytes().to_vec();
            data.extend_from_slice(&level.max_fall.to_be_bytes());
            chunks.push((*b"cLLI", data));
        }
        if let Some(profile) = &self.icc_profile {
            let mut data = latin1(&profile.name);
            data.extend_from_slice(&[0, 0]);
            data.extend_from_slice(&zlib(profile.data.as_slice()));
            chunks.push((*b"iCCP", data));
        }
        if let Some(intent) = self.srgb {
            chunks.push((*b"sRGB", vec![intent]));
        }
        if let Some(gamma) = self.gamma {
            chunks.push((*b"gAMA", gamma.to_be_bytes().to_vec()));
        }
        if let Some((x, y)) = self.pixels_per_metre {
            let mut data = x.to_be_bytes().to_vec();
            data.extend_from_slice(&y.to_be_bytes());
            data.push(1); // unit: metre
            chunks.push((*b"pHYs", data));
        }
        for (key, value) in &self.text {
            chunks.push(text_chunk(key, value));
        }
        for (kind, data) in &chunks {
            if data.len() as u64 > MAX_PNG_U31 {
                return Err(value_error(format!(
                    "a {} chunk of {} bytes exceeds PNG's chunk limit of {MAX_PNG_U31} bytes",
                    String::from_utf8_lossy(kind),
                    data.len()
                )));
            }
        }
        Ok(chunks)
    }

    /// The chunks back to back as a file holds them (length, type, data,
    /// CRC), with no signature or image: how a pickled Frame carries its
    /// `info`, so nothing is lost (repeated text keys, the profile's name)
    /// and `from_chunk_bytes` reads it with the file reader's own checks.
    pub fn to_chunk_bytes(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        for (kind, data) in self.chunks()? {
            bytes.extend_from_slice(&crate::striped::chunk(&kind, &data));
        }
        Ok(bytes)
    }

    /// Reads what `to_chunk_bytes` wrote. Damage of any kind (a chunk cut
    /// short, a CRC, a value out of range) is an error, never a partial
    /// result; decompressed text and profiles may use at most `max_bytes`.
    pub fn from_chunk_bytes(bytes: &[u8], max_bytes: usize) -> Result<Metadata> {
        let damaged = |why: &str| value_error(format!("its metadata is damaged ({why})"));
        let mut at = 0;
        while at < bytes.len() {
            let length = bytes
                .get(at..at + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
            match length.and_then(|length| (at + 12).checked_add(length)) {
                Some(end) if end <= bytes.len() => at = end,
                _ => return Err(damaged("a chunk is cut short")),
            }
        }
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend_from_slice(bytes);
        match read(&png, true, max_bytes) {
            Ok(found) => Ok(found.metadata),
            Err(e) => Err(damaged(&e.to_string())),
        }
    }
}

/// Checks text entries: keys by the spec's keyword rule, no NUL in values.
pub fn check_text(text: &[(String, String)]) -> Result<()> {
    for (key, value) in text {
        check_keyword(key, "text key")?;
        if value.contains('\0') {
            return Err(value_error(format!(
                "text[{key:?}] contains a NUL character, which PNG text cannot hold"
            )));
        }
    }
    Ok(())
}

/// `value * scale` rounded, checked to be finite, non-negative and at most
/// `max`; `what` names the argument in errors.
fn scaled(value: f64, scale: f64, max: u64, what: &str) -> Result<u64> {
    let stored = (value * scale).round();
    if !value.is_finite() || value < 0.0 || stored > max as f64 {
        return Err(value_error(format!(
            "{what} must be a number from 0 to {}, got {value}",
            max as f64 / scale
        )));
    }
    Ok(stored as u64)
}

/// The PNG spec's keyword rule (tEXt/zTXt/iTXt keys, iCCP profile names).
pub fn check_keyword(key: &str, what: &str) -> Result<()> {
    let rule = if key.is_empty() || key.chars().count() > MAX_KEYWORD {
        Some(format!("1-{MAX_KEYWORD} characters"))
    } else if let Some(c) = key
        .chars()
        .find(|&c| !matches!(c as u32, 32..=126 | 161..=255))
    {
        Some(format!(
            "printable Latin-1 characters and spaces only, not {c:?}"
        ))
    } else if key.starts_with(' ') || key.ends_with(' ') {
        Some("no leading or trailing spaces".to_string())
    } else if key.contains("  ") {
        Some("no consecutive spaces".to_string())
    } else {
        None
    };
    match rule {
        Some(rule) => Err(value_error(format!(
            "{what} {key:?} is not a valid PNG keyword: it must have {rule} (PNG spec, 11.3.3.2)"
        ))),
        None => Ok(()),
    }
}

fn is_latin1(text: &str) -> bool {
    text.chars().all(|c| (c as u32) <= 0xff)
}

/// Latin-1 bytes of a string known to be Latin-1.
fn latin1(text: &str) -> Vec<u8> {
    text.chars().map(|c| c as u8).collect()
}

fn from_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// tEXt for Latin-1, iTXt (UTF-8) otherwise; compressed above
/// COMPRESS_TEXT_ABOVE bytes (zTXt, or iTXt's compressed form).
fn text_chunk(key: &str, value: &str) -> ([u8; 4], Vec<u8>) {
    let mut data = latin1(key);
    data.push(0);
    let compress = value.len() > COMPRESS_TEXT_ABOVE;
    if is_latin1(value) {
        if compress {
            data.push(0); // method: deflate
            data.extend_from_slice(&zlib(&latin1(value)));
            return (*b"zTXt", data);
        }
        data.extend_from_slice(&latin1(value));
        return (*b"tEXt", data);
    }
    // Compression flag and method, then empty language tag and translated key.
    data.extend_from_slice(&[u8::from(compress), 0, 0, 0]);
    if compress {
        data.extend_from_slice(&zlib(value.as_bytes()));
    } else {
        data.extend_from_slice(value.as_bytes());
    }
    (*b"iTXt", data)
}

/// What `read` found.
#[derive(Debug, Default)]
pub struct ReadMetadata {
    pub metadata: Metadata,
    /// The file without the chunks found corrupt (None when there were
    /// none), for the image decoder, which refuses some of them outright.
    pub cleaned: Option<Vec<u8>>,
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Walks the chunks of a PNG file and parses the metadata ones. Structural
/// damage (a truncated chunk, no signature) ends the walk quietly: the image
/// decoder reports it. Decompressed text and profiles together may use at
/// most `max_bytes`.
pub fn read(png: &[u8], strict: bool, max_bytes: usize) -> Result<ReadMetadata> {
    let mut found = ReadMetadata::default();
    if !png.starts_with(&PNG_SIGNATURE) {
        return Ok(found);
    }
    let mut state = ReadState {
        budget: max_bytes,
        ..ReadState::default()
    };
    let mut corrupt = Vec::new();
    let mut previous = [0u8; 4];
    let mut at = PNG_SIGNATURE.len();
    while let Some(header) = png.get(at..at + 8) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind: [u8; 4] = [header[4], header[5], header[6], header[7]];
        let Some(end) = (at + 12)
            .checked_add(length)
            .filter(|&end| end <= png.len())
        else {
            break;
        };
        let data = &png[at + 8..at + 8 + length];
        match &kind {
            b"IEND" => break,
            b"IDAT" => state.after_idat = true,
            b"PLTE" => state.after_plte = true,
            _ => {}
        }
        if is_metadata(&kind) {
            let stored_crc = u32::from_be_bytes(png[end - 4..end].try_into()?);
            let parsed = if crc(&kind, data) != stored_crc {
                Err("its CRC does not match".to_string())
            } else {
                state.parse(&kind, data, &mut found.metadata)
            };
            if let Err(reason) = parsed {
                let name = String::from_utf8_lossy(&kind);
                if strict {
                    return Err(value_error(format!(
                        "cannot decode PNG: its {name} chunk is corrupt ({reason}): pass strict=False to skip corrupt metadata and keep the image"
                    )));
                }
                // Removing a chunk between two IDATs would mend a file the
                // image decoder must refuse (IDATs must be consecutive).
                let next = png.get(end + 4..end + 8);
                if !(previous == *b"IDAT" && next == Some(b"IDAT")) {
                    corrupt.push(at..end);
                }
            }
        }
        previous = kind;
        at = end;
    }
    if !corrupt.is_empty() {
        let mut cleaned = Vec::with_capacity(png.len());
        let mut from = 0;
        for range in corrupt {
            cleaned.extend_from_slice(&png[from..range.start]);
            from = range.end;
        }
        cleaned.extend_from_slice(&png[from..]);
        found.cleaned = Some(cleaned);
    }
    Ok(found)
}

fn is_metadata(kind: &[u8; 4]) -> bool {
    matches!(
        kind,
        b"tEXt"
            | b"zTXt"
            | b"iTXt"
            | b"pHYs"
            | b"sRGB"
            | b"gAMA"
            | b"iCCP"
            | b"cICP"
            | b"mDCV"
            | b"cLLI"
    )
}

fn crc(kind: &[u8; 4], data: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(kind);
    hasher.update(data);
    hasher.finalize()
}

#[derive(Default)]
struct ReadState {
    after_idat: bool,
    after_plte: bool,
    /// Bytes decompressed text and profiles may still use.
    budget: usize,
}

type Parsed = std::result::Result<(), String>;

impl ReadState {
    fn parse(&mut self, kind: &[u8; 4], data: &[u8], into: &mut Metadata) -> Parsed {
        let exact = |n: usize| -> Parsed {
            if data.len() == n {
                Ok(())
            } else {
                Err(format!("{} bytes where {n} belong", data.len()))
            }
        };
        let once = |present: bool| -> Parsed {
            if present {
                Err("it repeats an earlier one".into())
            } else {
                Ok(())
            }
        };
        let u32_at =
            |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        // Colour chunks and pHYs must come before the image data; colour
        // chunks before PLTE too.
        let before = |plte: bool| -> Parsed {
            if self.after_idat || (plte && self.after_plte) {
                Err(format!(
                    "it comes after {}, where the spec does not allow it",
                    if self.after_idat { "IDAT" } else { "PLTE" }
                ))
            } else {
                Ok(())
            }
        };
        match kind {
            b"tEXt" => {
                let (key, value) = keyword(data)?;
                into.text.push((key, from_latin1(value)));
            }
            b"zTXt" => {
                let (key, rest) = keyword(data)?;
                let (&method, compressed) = rest.split_first().ok_or("no compression method")?;
                if method != 0 {
                    return Err(format!("unknown compression method {method}"));
                }
                let value = self.inflate(compressed)?;
                into.text.push((key, from_latin1(&value)));
            }
            b"iTXt" => {
                let (key, rest) = keyword(data)?;
                let [flag, method, rest @ ..] = rest else {
                    return Err("it ends before its compression flag".into());
                };
                let (_language, rest) = split_nul(rest).ok_or("no language tag")?;
                let (_translated, text) = split_nul(rest).ok_or("no translated keyword")?;
                let value = match (flag, method) {
                    (0, _) => text.to_vec(),
                    (1, 0) => self.inflate(text)?,
                    _ => {
                        return Err(format!(
                            "unknown compression flag {flag} or method {method}"
                        ))
                    }
                };
                let value = String::from_utf8(value).map_err(|_| "its text is not UTF-8")?;
                into.text.push((key, value));
            }
            b"pHYs" => {
                exact(9)?;
                before(false)?;
                once(into.pixels_per_metre.is_some())?;
                // Unit 0 gives only the aspect ratio: no resolution to report.
                match data[8] {
                    1 => into.pixels_per_metre = Some((u32_at(0), u32_at(4))),
                    0 => {}
                    unit => return Err(format!("unknown unit {unit}")),
                }
            }
            b"sRGB" => {
                exact(1)?;
                before(true)?;
                once(into.srgb.is_some())?;
                if data[0] > 3 {
                    return Err(format!("unknown rendering intent {}", data[0]));
                }
                into.srgb = Some(data[0]);
            }
            b"gAMA" => {
                exact(4)?;
                before(true)?;
                once(into.gamma.is_some())?;
                match u32_at(0) {
                    0 => return Err("a gamma of 0".into()),
                    gamma => into.gamma = Some(gamma),
                }
            }
            b"iCCP" => {
                before(true)?;
                once(into.icc_profile.is_some())?;
                let (name, rest) = keyword(data)?;
                let (&method, compressed) = rest.split_first().ok_or("no compression method")?;
                if method != 0 {
                    return Err(format!("unknown compression method {method}"));
                }
                let profile = self.inflate(compressed)?;
                into.icc_profile = Some(IccProfile {
                    name,
                    data: profile,
                });
            }
            b"cICP" => {
                exact(4)?;
                before(true)?;
                once(into.cicp.is_some())?;
                if data[2] != 0 || data[3] > 1 {
                    return Err(format!(
                        "matrix coefficients {} (PNG requires 0) or full-range flag {} (0 or 1)",
                        data[2], data[3]
                    ));
                }
                into.cicp = Some(Cicp {
                    primaries: data[0],
                    transfer: data[1],
                    matrix: 0,
                    full_range: data[3] == 1,
                });
            }
            b"mDCV" => {
                exact(24)?;
                before(true)?;
                once(into.mastering_display.is_some())?;
                let u16_at = |i: usize| u16::from_be_bytes([data[i], data[i + 1]]);
                let xy = |i: usize| [u16_at(i), u16_at(i + 2)];
                into.mastering_display = Some(MasteringDisplay {
                    primaries: [xy(0), xy(4), xy(8)],
                    white_point: xy(12),
                    max_luminance: u32_at(16),
                    min_luminance: u32_at(20),
                });
            }
            b"cLLI" => {
                exact(8)?;
                before(true)?;
                once(into.content_light_level.is_some())?;
                into.content_light_level = Some(ContentLightLevel {
                    max_cll: u32_at(0),
                    max_fall: u32_at(4),
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// Inflates a zlib stream within the remaining budget.
    fn inflate(&mut self, compressed: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let mut inflater = Decompress::new(true);
        let mut out = Vec::new();
        let mut piece = vec![0u8; 32 << 10];
        loop {
            let (read, written) = (inflater.total_in(), inflater.total_out());
            let status = inflater
                .decompress(
                    &compressed[read as usize..],
                    &mut piece,
                    FlushDecompress::None,
                )
                .map_err(|e| format!("its compressed data is invalid: {e}"))?;
            let produced = (inflater.total_out() - written) as usize;
            if out.len() + produced > self.budget {
                return Err(format!(
                    "it decompresses to more than the max_bytes={} left for metadata",
                    self.budget
                ));
            }
            out.extend_from_slice(&piece[..produced]);
            if status == Status::StreamEnd {
                break;
            }
            if produced == 0 && inflater.total_in() == read {
                return Err("its compressed data ends early".into());
            }
        }
        self.budget -= out.len();
        Ok(out)
    }
}

fn split_nul(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = bytes.iter().position(|&b| b == 0)?;
    Some((&bytes[..nul], &bytes[nul + 1..]))
}

/// A chunk's leading keyword (checked by the spec's rule) and the rest.
fn keyword(data: &[u8]) -> std::result::Result<(String, &[u8]), String> {
    let (key, rest) = split_nul(data).ok_or("no NUL after its keyword")?;
    let key = from_latin1(key);
    check_keyword(&key, "keyword").map_err(|e| e.to_string())?;
    Ok((key, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(edit: impl FnOnce(&mut Metadata)) -> Metadata {
        let mut metadata = Metadata::default();
        edit(&mut metadata);
        metadata
    }

    /// A minimal ICC profile: a header whose size field is right.
    pub(crate) fn profile(len: usize) -> Vec<u8> {
        let mut data = vec![7u8; len];
        data[..4].copy_from_slice(&(len as u32).to_be_bytes());
        data
    }

    /// A PNG holding `chunks` between IHDR and IDAT, built by the png crate.
    fn png_with(chunks: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut writer = png::Encoder::new(&mut out, 1, 1).write_header().unwrap();
        for (kind, data) in chunks {
            writer
                .write_chunk(png::chunk::ChunkType(*kind), data)
                .unwrap();
        }
        writer.write_image_data(&[0]).unwrap();
        writer.finish().unwrap();
        out
    }

    fn everything() -> Metadata {
        let mut metadata = with(|m| {
            m.text = vec![
                ("Title".into(), "plain Latin-1: café".into()),
                ("Comment".into(), "UTF-8: 映像".into()),
                ("Long".into(), "x".repeat(5000)),
                ("Long UTF-8".into(), "é映".repeat(1000)),
            ];
            m.gamma = Some(SRGB_GAMMA);
            m.icc_profile = Some(IccProfile::new("ICC Profile", profile(300)).unwrap());
            m.cicp = Some(Cicp::preset("bt2100-pq").unwrap());
            m.content_light_level = Some(ContentLightLevel::new(1000.0, 400.0).unwrap());
        });
        metadata.set_dpi(300.0, 150.0).unwrap();
        metadata.mastering_display = Some(
            MasteringDisplay::new(
                [(0.708, 0.292), (0.170, 0.797), (0.131, 0.046)],
                (0.3127, 0.3290),
                1000.0,
                0.0001,
            )
            .unwrap(),
        );
        metadata
    }

    #[test]
    fn chunk_bytes_round_trip_and_refuse_damage() {
        let mut metadata = everything();
        metadata
            .text
            .push(("Comment".into(), "a key may repeat".into()));
        metadata
            .text
            .push(("Comment".into(), "and both stay".into()));
        let bytes = metadata.to_chunk_bytes().unwrap();
        assert_eq!(
            Metadata::from_chunk_bytes(&bytes, 1 << 20).unwrap(),
            metadata
        );
        assert!(Metadata::from_chunk_bytes(&[], 1 << 20).unwrap().is_empty());
        let cut = Metadata::from_chunk_bytes(&bytes[..bytes.len() - 1], 1 << 20);
        assert!(cut.unwrap_err().to_string().contains("cut short"));
        let mut flipped = bytes.clone();
        flipped[10] ^= 1; // inside the first chunk's data: its CRC fails
        let error = Metadata::from_chunk_bytes(&flipped, 1 << 20).unwrap_err();
        assert!(error.to_string().contains("CRC"), "{error}");
    }

    #[test]
    fn every_kind_round_trips_and_the_png_crate_reads_it() {
        let metadata = everything();
        let chunks = metadata.chunks().unwrap();
        let kinds: Vec<&[u8; 4]> = chunks.iter().map(|(k, _)| k).collect();
        assert_eq!(
            kinds,
            [
                b"cICP", b"mDCV", b"cLLI", b"iCCP", b"gAMA", b"pHYs", b"tEXt", b"iTXt", b"zTXt",
                b"iTXt"
            ]
        );
        let png = png_with(&chunks);
        let read = read(&png, true, 1 << 20).unwrap();
        assert!(read.cleaned.is_none());
        assert_eq!(read.metadata, metadata);
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        let cicp = info.coding_independent_code_points.unwrap();
        assert_eq!(
            (
                cicp.color_primaries,
                cicp.transfer_function,
                cicp.matrix_coefficients
            ),
            (9, 16, 0)
        );
        assert!(cicp.is_video_full_range_image);
        assert_eq!(
            info.content_light_level.unwrap().max_content_light_level,
            10_000_000
        );
        assert_eq!(
            info.mastering_display_color_volume.unwrap().min_luminance,
            1
        );
        assert_eq!(info.icc_profile.as_deref(), Some(&profile(300)[..]));
        let dims = info.pixel_dims.unwrap();
        assert_eq!((dims.xppu, dims.yppu), (11811, 5906));
        assert_eq!(info.uncompressed_latin1_text[0].text, "plain Latin-1: café");
        assert_eq!(info.compressed_latin1_text.len(), 1);
        assert_eq!(info.utf8_text.len(), 2);
    }

    #[test]
    fn cicp_is_the_spec_layout_byte_for_byte() {
        let chunks = with(|m| m.cicp = Some(Cicp::preset("bt2100-pq").unwrap()))
            .chunks()
            .unwrap();
        let png = png_with(&chunks);
        // Signature (8) and IHDR (25), then length 4, "cICP", primaries 9
        // (BT.2020), transfer 16 (PQ), matrix 0 (RGB), full range 1, CRC.
        let mut expected = vec![0, 0, 0, 4];
        expected.extend_from_slice(b"cICP");
        expected.extend_from_slice(&[9, 16, 0, 1]);
        expected.extend_from_slice(&crc(b"cICP", &[9, 16, 0, 1]).to_be_bytes());
        assert_eq!(&png[33..33 + 16], &expected[..]);
        // The CRC as the spec defines it, from the bitwise reference.
        assert_eq!(
            &expected[12..],
            crate::decode::tests::crc32(b"cICP\x09\x10\x00\x01").to_be_bytes()
        );
        assert_eq!(&png[33 + 16 + 4..33 + 16 + 8], b"IDAT");
    }

    #[test]
    fn values_in_everyday_units_are_stored_in_the_files_units() {
        let mut m = Metadata::default();
        m.set_dpi(72.0, 72.0).unwrap();
        assert_eq!(m.pixels_per_metre, Some((2835, 2835)));
        let (x, _) = m.dpi().unwrap();
        assert!((x - 72.009).abs() < 1e-9, "{x}");
        // What is read back is written back unchanged.
        m.set_dpi(x, x).unwrap();
        assert_eq!(m.pixels_per_metre, Some((2835, 2835)));
        m.set_gamma(1.0 / 2.2).unwrap();
        assert_eq!(m.gamma, Some(45455));
        let display = MasteringDisplay::new(
            [(0.708, 0.292), (0.170, 0.797), (0.131, 0.046)],
            (0.3127, 0.3290),
            1000.0,
            0.0001,
        )
        .unwrap();
        assert_eq!(display.primaries[0], [35400, 14600]);
        assert_eq!(display.white_point, [15635, 16450]);
        assert_eq!(
            (display.max_luminance, display.min_luminance),
            (10_000_000, 1)
        );
        for bad in [-1.0, f64::NAN, f64::INFINITY, 0.0] {
            assert!(m.set_dpi(bad, 72.0).is_err(), "{bad}");
            assert!(m.set_gamma(bad).is_err(), "{bad}");
        }
        assert!(m.set_srgb(4).is_err());
        assert!(MasteringDisplay::new([(0.7, 0.3); 3], (0.3, 0.3), 1.0, 2.0).is_err());
        assert!(MasteringDisplay::new([(1.4, 0.3); 3], (0.3, 0.3), 2.0, 1.0).is_err());
    }

    #[test]
    fn keys_follow_the_spec_and_errors_name_the_rule() {
        for (key, rule) in [
            ("", "1-79 characters"),
            (&"k".repeat(80), "1-79 characters"),
            (" lead", "leading or trailing"),
            ("trail ", "leading or trailing"),
            ("two  spaces", "consecutive"),
            ("tab\there", "printable Latin-1"),
            ("映像", "printable Latin-1"),
        ] {
            let err = with(|m| m.text = vec![(key.into(), "v".into())])
                .chunks()
                .unwrap_err();
            assert!(err.to_string().contains(rule), "{key:?}: {err}");
        }
        for key in ["k", &"k".repeat(79), "Créé le", "a b c"] {
            with(|m| m.text = vec![(key.into(), "v".into())])
                .chunks()
                .unwrap();
        }
        let err = with(|m| m.text = vec![("k".into(), "a\0b".into())])
            .chunks()
            .unwrap_err();
        assert!(err.to_string().contains("NUL"), "{err}");
    }

    #[test]
    fn combinations_the_spec_forbids_are_errors() {
        let srgb_and_icc = with(|m| {
            m.srgb = Some(0);
            m.icc_profile = Some(IccProfile::new("p", profile(128)).unwrap());
        });
        assert!(srgb_and_icc
            .chunks()
            .unwrap_err()
            .to_string()
            .contains("one embedded"));
        let srgb_with_gamma = |gamma| {
            with(|m| {
                m.srgb = Some(0);
                m.gamma = Some(gamma);
            })
            .chunks()
        };
        assert!(srgb_with_gamma(SRGB_GAMMA).is_ok());
        assert!(srgb_with_gamma(100_000).is_err());
        let ycbcr = with(|m| {
            m.cicp = Some(Cicp {
                matrix: 1,
                ..Cicp::preset("srgb").unwrap()
            })
        });
        assert!(ycbcr.chunks().unwrap_err().to_string().contains("matrix"));
        assert!(Cicp::preset("rec709").is_err());
        assert!(IccProfile::new("p", profile(127)).is_err());
        let mut wrong_size = profile(200);
        wrong_size[3] = 1;
        assert!(IccProfile::new("p", wrong_size).is_err());
        assert!(IccProfile::new(" p", profile(200)).is_err());
    }

    #[test]
    fn corrupt_chunks_are_skipped_unless_strict() {
        let good = with(|m| m.text = vec![("Title".into(), "kept".into())]);
        let mut chunks = good.chunks().unwrap();
        chunks.push((*b"cICP", vec![1, 13, 1, 1])); // YCbCr: not allowed in PNG
        chunks.push((*b"cLLI", vec![0; 7])); // wrong length
        chunks.push((*b"zTXt", b"k\0\0not zlib".to_vec()));
        chunks.push((*b"tEXt", b"no separator".to_vec()));
        chunks.push((*b"pHYs", vec![0, 0, 1, 0, 0, 0, 1, 0, 1]));
        chunks.push((*b"pHYs", vec![0, 0, 1, 0, 0, 0, 1, 0, 1])); // repeated
        let png = png_with(&chunks);
        let lenient = read(&png, false, 1 << 20).unwrap();
        assert_eq!(lenient.metadata.text, good.text);
        assert_eq!(lenient.metadata.pixels_per_metre, Some((256, 256)));
        assert!(lenient.metadata.cicp.is_none() && lenient.metadata.content_light_level.is_none());
        // The png crate refuses a 7-byte cLLI outright; the cleaned copy decodes.
        let decodes = |png: &[u8]| {
            let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info()?;
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            reader.next_frame(&mut buf).map(|_| ())
        };
        assert!(decodes(&png).is_err());
        decodes(lenient.cleaned.as_deref().unwrap()).unwrap();
        let err = read(&png, true, 1 << 20).unwrap_err().to_string();
        assert!(
            err.contains("cICP chunk is corrupt") && err.contains("strict=False"),
            "{err}"
        );
        // A bad CRC is corruption too.
        let mut bad_crc = png_with(&good.chunks().unwrap());
        let end = 33 + 12 + 5 + 5;
        bad_crc[end - 1] ^= 1;
        assert!(read(&bad_crc, false, 1 << 20)
            .unwrap()
            .metadata
            .text
            .is_empty());
        assert!(read(&bad_crc, true, 1 << 20).is_err());
    }

    #[test]
    fn colour_chunks_after_idat_are_out_of_place() {
        let png = png_with(&[]);
        // Splice a gAMA and a tEXt between IDAT and IEND.
        let iend = png.len() - 12;
        let mut late = png[..iend].to_vec();
        for (kind, data) in [
            (*b"gAMA", 45455u32.to_be_bytes().to_vec()),
            (*b"tEXt", b"k\0v".to_vec()),
        ] {
            late.extend_from_slice(&(data.len() as u32).to_be_bytes());
            late.extend_from_slice(&kind);
            late.extend_from_slice(&data);
            late.extend_from_slice(&crc(&kind, &data).to_be_bytes());
        }
        late.extend_from_slice(&png[iend..]);
        let found = read(&late, false, 1 << 20).unwrap().metadata;
        assert_eq!(found.gamma, None);
        assert_eq!(found.text, [("k".to_string(), "v".to_string())]);
        assert!(read(&late, true, 1 << 20)
            .unwrap_err()
            .to_string()
            .contains("after IDAT"));
    }

    fn chunk_bytes(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc(kind, data).to_be_bytes());
        out
    }

    #[test]
    fn a_chunk_between_idats_is_not_removed_to_mend_the_file() {
        let png = png_with(&[]);
        // IHDR ends at 33; one IDAT follows, then IEND (12 bytes).
        let length = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        let stream = &png[41..41 + length];
        let (a, b) = stream.split_at(length / 2);
        let mut split = png[..33].to_vec();
        split.extend(chunk_bytes(b"IDAT", a));
        split.extend(chunk_bytes(b"gAMA", &[0, 0, 0, 0]));
        split.extend(chunk_bytes(b"IDAT", b));
        split.extend_from_slice(&png[png.len() - 12..]);
        let found = read(&split, false, 1 << 20).unwrap();
        assert!(found.cleaned.is_none());
        assert!(read(&split, true, 1 << 20).is_err());
    }

    #[test]
    fn decompression_is_bounded() {
        let big = with(|m| m.text = vec![("k".into(), "a".repeat(100_000))]);
        let png = png_with(&big.chunks().unwrap());
        assert_eq!(read(&png, true, 100_000).unwrap().metadata, big);
        let err = read(&png, true, 99_999).unwrap_err().to_string();
        assert!(err.contains("max_bytes"), "{err}");
        assert!(read(&png, false, 99_999).unwrap().metadata.text.is_empty());
    }
}
