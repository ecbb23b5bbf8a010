//! The metadata keywords (text=, dpi=, srgb=, gamma=, icc_profile=, cicp=,
//! mastering_display=, content_light_level=, metadata=) to a core
//! `Metadata`, and a decoded file's `Metadata` to `Frame.info`.
//!
//! `metadata=` takes a mapping with the same keys (a read Frame's `info`),
//! plus `icc_profile_name`; keywords given explicitly replace its entries,
//! except `text`, whose entries are merged (the keyword's win).

use crate::buffer::BufferView;
use crate::convert::{self, float, given, int};
use crate::object::{
    bytes_from, has_attribute, str_to_string, type_name, Failure, Gil, Obj, Owned, PyResult,
};
use bufpng_core::error::{type_error, value_error};
use bufpng_core::metadata::{
    Cicp, ContentLightLevel, IccProfile, MasteringDisplay, CHROMATICITY_SCALE, LUMINANCE_SCALE,
};
use bufpng_core::Metadata;
use pyo3_ffi::*;
use std::ffi::CStr;

/// A signature's parameter list: `$name`s, then the metadata keywords
/// (which each function takes last, so `metadata @ ..` picks them out).
macro_rules! with_metadata {
    ($($name:literal),* $(,)?) => {
        &[
            $($name,)*
            "text",
            "dpi",
            "srgb",
            "gamma",
            "icc_profile",
            "cicp",
            "mastering_display",
            "content_light_level",
            "metadata",
        ]
    };
}
pub(crate) use with_metadata;

/// The metadata keywords, in the order every signature lists them.
pub const KEYWORDS: &[&str] = with_metadata!();

/// `metadata=`'s keys besides the keywords'.
const ICC_PROFILE_NAME: &str = "icc_profile_name";

/// The arguments of the metadata keywords (None when not given).
pub type Args<'py> = [Option<Obj<'py>>; 9];

/// Parses the metadata keywords; the result is validated (keys, the
/// combinations the spec forbids), so errors come before any work.
pub fn parse(args: &Args<'_>) -> PyResult<Metadata> {
    let mut metadata = Metadata::default();
    if args.iter().all(|a| given(*a).is_none()) {
        return Ok(metadata);
    }
    let [text, dpi, srgb, gamma, icc_profile, cicp, display, light, mapping] = *args;
    let mut icc_name = None;
    if let Some(mapping) = given(mapping) {
        for (key, value) in items(mapping, "metadata")? {
            let value = value.get();
            match key.as_str() {
                "text" => metadata.text = parse_text(value, "metadata['text']")?,
                ICC_PROFILE_NAME => {
                    icc_name = convert::optional_str(Some(value), "metadata['icc_profile_name']")?
                }
                _ if KEYWORDS[1..8].contains(&key.as_str()) => {
                    set(&mut metadata, &key, value, &format!("metadata[{key:?}]"))?
                }
                _ => {
                    return Err(value_error(format!(
                        "metadata has an unknown key {key:?}: the keys are {}, {ICC_PROFILE_NAME} (Frame.info's keys)",
                        KEYWORDS[..8].join(", ")
                    ))
                    .into())
                }
            }
        }
    }
    if let Some(text) = given(text) {
        metadata.add_text(parse_text(text, "text")?);
    }
    let values = [dpi, srgb, gamma, icc_profile, cicp, display, light];
    for (name, value) in KEYWORDS[1..8].iter().zip(values) {
        if let Some(value) = given(value) {
            set(&mut metadata, name, value, name)?;
        }
    }
    if let (Some(name), Some(profile)) = (icc_name, &mut metadata.icc_profile) {
        *profile = IccProfile::new(&name, std::mem::take(&mut profile.data))?;
    }
    metadata.validate()?;
    Ok(metadata)
}

/// Sets one keyword's value (`what` names it in errors).
fn set(metadata: &mut Metadata, key: &str, value: Obj<'_>, what: &str) -> PyResult<()> {
    match key {
        "dpi" => {
            let (x, y) = match pair(value, what)? {
                Some(pair) => pair,
                None => {
                    let both = float(value, what)?;
                    (both, both)
                }
            };
            metadata.set_dpi(x, y)?;
        }
        "srgb" => {
            // SAFETY: live object, GIL held; identity checks only.
            let (is_true, is_false) = unsafe {
                (
                    Py_IsTrue(value.as_ptr()) != 0,
                    Py_IsFalse(value.as_ptr()) != 0,
                )
            };
            match (is_true, is_false) {
                (true, _) => metadata.set_srgb(0)?,
                (_, true) => metadata.srgb = None,
                _ => metadata.set_srgb(int(value, what)?)?,
            }
        }
        "gamma" => metadata.set_gamma(float(value, what)?)?,
        "icc_profile" => {
            if !crate::file::is_bytes_like(value) {
                return Err(type_error(format!(
                    "{what} must be the profile's bytes (e.g. open('sRGB.icc', 'rb').read()), got {}",
                    type_name(value)
                ))
                .into());
            }
            let data = BufferView::acquire(value)?.copy_bytes()?;
            metadata.icc_profile = Some(IccProfile::new(IccProfile::DEFAULT_NAME, data)?);
        }
        "cicp" => metadata.cicp = Some(parse_cicp(value, what)?),
        "mastering_display" => {
            metadata.mastering_display = Some(parse_mastering_display(value, what)?)
        }
        "content_light_level" => {
            let Some((max_cll, max_fall)) = pair(value, what)? else {
                return Err(type_error(format!(
                    "{what} must be (max_cll, max_fall) in cd/m^2, got {}",
                    type_name(value)
                ))
                .into());
            };
            metadata.content_light_level = Some(ContentLightLevel::new(max_cll, max_fall)?);
        }
        _ => unreachable!("set() is only called with metadata keywords"),
    }
    Ok(())
}

/// `text=`: a mapping of str to str.
pub fn parse_text(object: Obj<'_>, what: &str) -> PyResult<Vec<(String, String)>> {
    let mut text = Vec::new();
    for (key, value) in items(object, what)? {
        let value = value.get();
        let Some(value) = str_to_string(value) else {
            return Err(not_a_str(value, &format!("{what}[{key:?}]")));
        };
        text.push((key, value));
    }
    Ok(text)
}

/// The failure for an object that should have been a str: a lone surrogate's
/// UnicodeEncodeError stays raised; anything else is a TypeError.
fn not_a_str(object: Obj<'_>, what: &str) -> Failure {
    // SAFETY: GIL held (a live Obj); reads the thread's exception state.
    if unsafe { !PyErr_Occurred().is_null() } {
        return Failure::Raised;
    }
    type_error(format!("{what} must be a str, got {}", type_name(object))).into()
}

/// A mapping's (str key, value) pairs; TypeError for anything else. The
/// mapping's own exceptions (from `items()`) propagate unchanged.
fn items(object: Obj<'_>, what: &str) -> PyResult<Vec<(String, Owned)>> {
    // SAFETY: live object, GIL held; a type check.
    let is_str = unsafe { PyUnicode_Check(object.as_ptr()) } != 0;
    let is_mapping = !is_str && has_attribute(object, c"items")?;
    if !is_mapping {
        return Err(type_error(format!(
            "{what} must be a mapping such as a dict, got {}",
            type_name(object)
        ))
        .into());
    }
    // SAFETY: live object, GIL held; PyMapping_Items returns a new list or
    // NULL with an exception set.
    let list = unsafe { Owned::new(PyMapping_Items(object.as_ptr())) }?;
    let mut out = Vec::new();
    for pair in sequence_items(list.get()) {
        let pair = sequence_items(pair?.get()).collect::<PyResult<Vec<_>>>()?;
        let [key, value] = &pair[..] else {
            return Err(type_error(format!("{what}.items() must give (key, value) pairs")).into());
        };
        let Some(name) = str_to_string(key.get()) else {
            return Err(not_a_str(key.get(), &format!("{what}'s keys")));
        };
        out.push((name, value.get().to_owned()));
    }
    Ok(out)
}

/// The items of a list or tuple, each as its own strong reference.
fn sequence_items<'py>(object: Obj<'py>) -> impl Iterator<Item = PyResult<Owned>> + 'py {
    // SAFETY: live object, GIL held; PySequence_Size on a list or tuple.
    let len = unsafe { PySequence_Size(object.as_ptr()) }.max(0);
    (0..len).map(move |i| {
        // SAFETY: live object, GIL held; PySequence_GetItem returns a new
        // reference or NULL with an exception set.
        unsafe { Owned::new(PySequence_GetItem(object.as_ptr(), i)) }
    })
}

/// The items of a tuple or list (not str); None for anything else.
fn sequence(object: Obj<'_>) -> PyResult<Option<Vec<Owned>>> {
    // SAFETY: live object, GIL held; type checks only.
    let is_sequence =
        unsafe { PyTuple_Check(object.as_ptr()) != 0 || PyList_Check(object.as_ptr()) != 0 };
    if !is_sequence {
        return Ok(None);
    }
    sequence_items(object)
        .collect::<PyResult<Vec<_>>>()
        .map(Some)
}

/// A pair of numbers (a 2-tuple or list); None if `object` is no sequence.
fn pair(object: Obj<'_>, what: &str) -> PyResult<Option<(f64, f64)>> {
    match sequence(object)? {
        None => Ok(None),
        Some(items) if items.len() == 2 => Ok(Some((
            float(items[0].get(), what)?,
            float(items[1].get(), what)?,
        ))),
        Some(items) => Err(value_error(format!(
            "{what} must be a pair of numbers, got {} items",
            items.len()
        ))
        .into()),
    }
}

fn parse_cicp(value: Obj<'_>, what: &str) -> PyResult<Cicp> {
    if let Some(name) = str_to_string(value) {
        return Ok(Cicp::preset(&name)?);
    }
    let items = sequence(value)?.filter(|items| items.len() == 4).ok_or_else(|| {
        type_error(format!(
            "{what} must be a preset name (\"srgb\", \"display-p3\", \"bt2100-pq\", \"bt2100-hlg\") or a tuple (primaries, transfer, matrix, full_range), got {}",
            type_name(value)
        ))
    })?;
    let code = |i: usize, name: &str| -> PyResult<u8> {
        let n = int(items[i].get(), &format!("{what} {name}"))?;
        u8::try_from(n).map_err(|_| {
            value_error(format!(
                "{what} {name} must be an H.273 code point 0-255, got {n}"
            ))
            .into()
        })
    };
    // True/False, or the code point 1/0 as H.273 writes it.
    let flag = items[3].get();
    // SAFETY: live object, GIL held; a type check.
    let full_range = if unsafe { PyBool_Check(flag.as_ptr()) } != 0 {
        convert::optional_bool(Some(flag), &format!("{what} full_range"))?.unwrap_or(false)
    } else {
        match code(3, "full_range")? {
            0 => false,
            1 => true,
            n => {
                return Err(value_error(format!(
                "{what} full_range must be True/1 (full range, usual for PNG) or False/0, got {n}"
            ))
                .into())
            }
        }
    };
    Ok(Cicp {
        primaries: code(0, "primaries")?,
        transfer: code(1, "transfer")?,
        matrix: code(2, "matrix")?,
        full_range,
    })
}

fn parse_mastering_display(value: Obj<'_>, what: &str) -> PyResult<MasteringDisplay> {
    let mut primaries = None;
    let mut white_point = None;
    let mut max_luminance = None;
    let mut min_luminance = None;
    for (key, item) in items(value, what)? {
        let item = item.get();
        let name = format!("{what}[{key:?}]");
        let xy = |object: Obj<'_>| -> PyResult<(f64, f64)> {
            pair(object, &name)?.ok_or_else(|| {
                type_error(format!(
                    "{name} must be an (x, y) pair, got {}",
                    type_name(object)
                ))
                .into()
            })
        };
        match key.as_str() {
            "primaries" => {
                let three = sequence(item)?.filter(|p| p.len() == 3).ok_or_else(|| {
                    type_error(format!(
                        "{name} must be three (x, y) pairs: red, green, blue"
                    ))
                })?;
                primaries = Some([xy(three[0].get())?, xy(three[1].get())?, xy(three[2].get())?]);
            }
            "white_point" => white_point = Some(xy(item)?),
            "max_luminance" => max_luminance = Some(float(item, &name)?),
            "min_luminance" => min_luminance = Some(float(item, &name)?),
            _ => {
                return Err(value_error(format!(
                    "{what} has an unknown key {key:?}: the keys are primaries, white_point, max_luminance, min_luminance"
                ))
                .into())
            }
        }
    }
    match (primaries, white_point, max_luminance, min_luminance) {
        (Some(p), Some(w), Some(max), Some(min)) => Ok(MasteringDisplay::new(p, w, max, min)?),
        _ => Err(value_error(format!(
            "{what} needs all of primaries (three (x, y) pairs: red, green, blue), white_point (x, y), max_luminance and min_luminance (cd/m^2)"
        ))
        .into()),
    }
}

/// `Frame.info`: a read-only mapping (types.MappingProxyType) of what the
/// file had; keys only for what is present.
pub fn info(gil: Gil<'_>, metadata: &Metadata) -> PyResult<Owned> {
    let dict = new_dict(gil)?;
    if !metadata.text.is_empty() {
        let text = new_dict(gil)?;
        for (key, value) in &metadata.text {
            let (key, value) = (string(gil, key)?, string(gil, value)?);
            // SAFETY: GIL held; live dict, key and value (not stolen).
            if unsafe { PyDict_SetItem(text.as_ptr(), key.as_ptr(), value.as_ptr()) } < 0 {
                return Err(Failure::Raised);
            }
        }
        put(&dict, c"text", text)?;
    }
    if let Some((x, y)) = metadata.dpi() {
        put(
            &dict,
            c"dpi",
            tuple(gil, [number(gil, x)?, number(gil, y)?])?,
        )?;
    }
    if let Some(intent) = metadata.srgb {
        put(&dict, c"srgb", integer(gil, intent.into())?)?;
    }
    if let Some(gamma) = metadata.gamma() {
        put(&dict, c"gamma", number(gil, gamma)?)?;
    }
    if let Some(profile) = &metadata.icc_profile {
        put(&dict, c"icc_profile", bytes_from(gil, &profile.data)?)?;
        put(&dict, c"icc_profile_name", string(gil, &profile.name)?)?;
    }
    if let Some(cicp) = metadata.cicp {
        // SAFETY: GIL held (the token); a new reference or NULL comes back.
        let full_range = unsafe { Owned::new(PyBool_FromLong(cicp.full_range.into())) }?;
        let codes = [cicp.primaries, cicp.transfer, cicp.matrix].map(|c| integer(gil, c.into()));
        let [p, t, m] = codes;
        put(&dict, c"cicp", tuple(gil, [p?, t?, m?, full_range])?)?;
    }
    if let Some(display) = &metadata.mastering_display {
        let xy = |[x, y]: [u16; 2]| -> PyResult<Owned> {
            let scale = |v: u16| number(gil, f64::from(v) / CHROMATICITY_SCALE);
            tuple(gil, [scale(x)?, scale(y)?])
        };
        let [r, g, b] = display.primaries;
        let luminance = |v: u32| number(gil, f64::from(v) / LUMINANCE_SCALE);
        let entries = new_dict(gil)?;
        put(
            &entries,
            c"primaries",
            tuple(gil, [xy(r)?, xy(g)?, xy(b)?])?,
        )?;
        put(&entries, c"white_point", xy(display.white_point)?)?;
        put(
            &entries,
            c"max_luminance",
            luminance(display.max_luminance)?,
        )?;
        put(
            &entries,
            c"min_luminance",
            luminance(display.min_luminance)?,
        )?;
        put(&dict, c"mastering_display", entries)?;
    }
    if let Some(level) = metadata.content_light_level {
        let luminance = |v: u32| number(gil, f64::from(v) / LUMINANCE_SCALE);
        let pair = tuple(gil, [luminance(level.max_cll)?, luminance(level.max_fall)?])?;
        put(&dict, c"content_light_level", pair)?;
    }
    // SAFETY: GIL held; a live dict; a new reference or NULL comes back.
    unsafe { Owned::new(PyDictProxy_New(dict.as_ptr())) }
}

fn new_dict(_: Gil<'_>) -> PyResult<Owned> {
    // SAFETY: GIL held (the token); a new reference or NULL comes back.
    unsafe { Owned::new(PyDict_New()) }
}

/// dict[key] = value (the dict takes its own reference).
fn put(dict: &Owned, key: &CStr, value: Owned) -> PyResult<()> {
    // SAFETY: GIL held (an Owned exists); live dict and value, a C string key.
    if unsafe { PyDict_SetItemString(dict.as_ptr(), key.as_ptr(), value.as_ptr()) } < 0 {
        return Err(Failure::Raised);
    }
    Ok(())
}

fn string(_: Gil<'_>, text: &str) -> PyResult<Owned> {
    // SAFETY: GIL held (the token); pointer and length describe `text`,
    // which CPython copies; a new reference or NULL comes back.
    unsafe {
        Owned::new(PyUnicode_FromStringAndSize(
            text.as_ptr().cast(),
            text.len() as Py_ssize_t,
        ))
    }
}

fn number(_: Gil<'_>, value: f64) -> PyResult<Owned> {
    // SAFETY: GIL held (the token); a new reference or NULL comes back.
    unsafe { Owned::new(PyFloat_FromDouble(value)) }
}

fn integer(_: Gil<'_>, value: i64) -> PyResult<Owned> {
    // SAFETY: GIL held (the token); a new reference or NULL comes back.
    unsafe { Owned::new(PyLong_FromLongLong(value)) }
}

/// A tuple of `items` (whose references it takes over).
fn tuple<const N: usize>(_: Gil<'_>, items: [Owned; N]) -> PyResult<Owned> {
    // SAFETY: GIL held (the token); PyTuple_SetItem steals each item's
    // reference into the new tuple's in-range slots.
    unsafe {
        let result = Owned::new(PyTuple_New(N as Py_ssize_t))?;
        for (i, item) in items.into_iter().enumerate() {
            PyTuple_SetItem(result.as_ptr(), i as Py_ssize_t, item.into_raw());
        }
        Ok(result)
    }
}
