//! The metadata keywords (text=, dpi=, srgb=, gamma=, icc_profile=, cicp=,
//! mastering_display=, content_light_level=, metadata=) to a core
//! `Metadata`, and a decoded file's `Metadata` to `Frame.info`.
//!
//! `metadata=` takes a mapping with the same keys (a read Frame's `info`),
//! plus `icc_profile_name`; keywords given explicitly replace its entries,
//! except `text`, whose entries are merged (the keyword's win).

use crate::buffer::BufferView;
use crate::convert::{self, float, int, is_absent, str_to_string, type_name, Owned};
use crate::errors::{set_error, Failure, PyResult};
use bufpng_core::error::{type_error, value_error};
use bufpng_core::metadata::{
    Cicp, ContentLightLevel, IccProfile, MasteringDisplay, CHROMATICITY_SCALE, LUMINANCE_SCALE,
};
use bufpng_core::Metadata;
use pyo3_ffi::*;
use std::ffi::CString;

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

/// The arguments of the metadata keywords (borrowed, NULL when not given).
pub type Args = [*mut PyObject; 9];

/// Parses the metadata keywords; the result is validated (keys, the
/// combinations the spec forbids), so errors come before any work.
pub fn parse(args: &Args) -> PyResult<Metadata> {
    let mut metadata = Metadata::default();
    if args.iter().all(|a| is_absent(*a)) {
        return Ok(metadata);
    }
    let [text, dpi, srgb, gamma, icc_profile, cicp, display, light, mapping] = *args;
    let mut icc_name = None;
    if !is_absent(mapping) {
        for (key, value) in items(mapping, "metadata")? {
            let value = value.0;
            match key.as_str() {
                "text" => metadata.text = parse_text(value, "metadata['text']")?,
                ICC_PROFILE_NAME => {
                    icc_name = Some(convert::optional_str(value, "metadata['icc_profile_name']")?)
                }
                _ => match KEYWORDS[..8].iter().position(|k| *k == key) {
                    Some(_) => set(&mut metadata, &key, value, &format!("metadata[{key:?}]"))?,
                    None => {
                        return Err(value_error(format!(
                            "metadata has an unknown key {key:?}: the keys are {}, {ICC_PROFILE_NAME} (Frame.info's keys)",
                            KEYWORDS[..8].join(", ")
                        ))
                        .into())
                    }
                },
            }
        }
    }
    if !is_absent(text) {
        metadata.add_text(parse_text(text, "text")?);
    }
    for (name, value) in
        KEYWORDS[1..8]
            .iter()
            .zip([dpi, srgb, gamma, icc_profile, cicp, display, light])
    {
        set(&mut metadata, name, value, name)?;
    }
    if let (Some(Some(name)), Some(profile)) = (icc_name, &mut metadata.icc_profile) {
        *profile = IccProfile::new(&name, std::mem::take(&mut profile.data))?;
    }
    metadata.validate()?;
    Ok(metadata)
}

/// Sets one keyword's value (`what` names it in errors); None leaves it out.
fn set(metadata: &mut Metadata, key: &str, value: *mut PyObject, what: &str) -> PyResult<()> {
    if is_absent(value) {
        return Ok(());
    }
    match key {
        "dpi" => {
            let (x, y) = match pair(value, what)? {
                Some((x, y)) => (x, y),
                None => {
                    let both = float(value, what)?;
                    (both, both)
                }
            };
            metadata.set_dpi(x, y)?;
        }
        "srgb" => {
            // SAFETY: GIL held, `value` live; identity checks only.
            let (is_true, is_false) = unsafe { (Py_IsTrue(value) != 0, Py_IsFalse(value) != 0) };
            match (is_true, is_false) {
                (true, _) => metadata.set_srgb(0)?,
                (_, true) => metadata.srgb = None,
                _ => metadata.set_srgb(int(value, what)?)?,
            }
        }
        "gamma" => metadata.set_gamma(float(value, what)?)?,
        "icc_profile" => {
            // SAFETY: GIL held; a type check.
            if unsafe { PyObject_CheckBuffer(value) } == 0 || unsafe { PyUnicode_Check(value) } != 0
            {
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
pub fn parse_text(object: *mut PyObject, what: &str) -> PyResult<Vec<(String, String)>> {
    let mut text = Vec::new();
    for (key, value) in items(object, what)? {
        let Some(value) = str_to_string(value.0) else {
            return raise_type(&format!(
                "{what}[{key:?}] must be a str, got {}",
                type_name(value.0)
            ));
        };
        text.push((key, value));
    }
    Ok(text)
}

/// A mapping's (str key, value) pairs; TypeError for anything else.
fn items(object: *mut PyObject, what: &str) -> PyResult<Vec<(String, Owned)>> {
    // SAFETY: GIL held, `object` live. PyMapping_Items returns a new list of
    // new 2-tuples (owned by `Owned`); the tuple items are borrowed and then
    // given their own references.
    unsafe {
        if PyObject_HasAttrString(object, c"items".as_ptr()) == 0 || PyUnicode_Check(object) != 0 {
            return Err(type_error(format!(
                "{what} must be a mapping such as a dict, got {}",
                type_name(object)
            ))
            .into());
        }
        let list = Owned::new(PyMapping_Items(object))?;
        let mut out = Vec::new();
        for i in 0..PyList_Size(list.0) {
            let pair = PyList_GetItem(list.0, i);
            let (key, value) = (PyTuple_GetItem(pair, 0), PyTuple_GetItem(pair, 1));
            if key.is_null() || value.is_null() {
                return Err(Failure::Raised);
            }
            let Some(name) = str_to_string(key) else {
                return raise_type(&format!(
                    "{what}'s keys must be str, got {}",
                    type_name(key)
                ));
            };
            Py_INCREF(value);
            out.push((name, Owned(value)));
        }
        Ok(out)
    }
}

/// Raises TypeError(message) unless an exception (e.g. from a str's
/// encoding) is already set.
fn raise_type<T>(message: &str) -> PyResult<T> {
    // SAFETY: GIL held.
    unsafe {
        if PyErr_Occurred().is_null() {
            set_error(PyExc_TypeError, message);
        }
    }
    Err(Failure::Raised)
}

/// The items of a tuple or list (not str); None for anything else.
fn sequence(object: *mut PyObject) -> PyResult<Option<Vec<Owned>>> {
    // SAFETY: GIL held, `object` live; PySequence_Tuple gives a new tuple
    // whose borrowed items get their own references.
    unsafe {
        if PyTuple_Check(object) == 0 && PyList_Check(object) == 0 {
            return Ok(None);
        }
        let tuple = Owned::new(PySequence_Tuple(object))?;
        let mut out = Vec::new();
        for i in 0..PyTuple_Size(tuple.0) {
            let item = PyTuple_GetItem(tuple.0, i);
            Py_INCREF(item);
            out.push(Owned(item));
        }
        Ok(Some(out))
    }
}

/// A pair of numbers (a 2-tuple or list); None if `object` is no sequence.
fn pair(object: *mut PyObject, what: &str) -> PyResult<Option<(f64, f64)>> {
    match sequence(object)? {
        None => Ok(None),
        Some(items) if items.len() == 2 => {
            Ok(Some((float(items[0].0, what)?, float(items[1].0, what)?)))
        }
        Some(items) => Err(value_error(format!(
            "{what} must be a pair of numbers, got {} items",
            items.len()
        ))
        .into()),
    }
}

fn parse_cicp(value: *mut PyObject, what: &str) -> PyResult<Cicp> {
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
        let n = int(items[i].0, &format!("{what} {name}"))?;
        u8::try_from(n).map_err(|_| {
            value_error(format!(
                "{what} {name} must be an H.273 code point 0-255, got {n}"
            ))
            .into()
        })
    };
    let full_range = match code(3, "full_range")? {
        0 => false,
        1 => true,
        n => {
            return Err(value_error(format!(
                "{what} full_range must be True/1 (full range, usual for PNG) or False/0, got {n}"
            ))
            .into())
        }
    };
    Ok(Cicp {
        primaries: code(0, "primaries")?,
        transfer: code(1, "transfer")?,
        matrix: code(2, "matrix")?,
        full_range,
    })
}

fn parse_mastering_display(value: *mut PyObject, what: &str) -> PyResult<MasteringDisplay> {
    let mut primaries = None;
    let mut white_point = None;
    let mut max_luminance = None;
    let mut min_luminance = None;
    for (key, item) in items(value, what)? {
        let item = item.0;
        let name = format!("{what}[{key:?}]");
        let xy = |object: *mut PyObject| -> PyResult<(f64, f64)> {
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
                primaries = Some([xy(three[0].0)?, xy(three[1].0)?, xy(three[2].0)?]);
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
/// file had; keys only for what is present. New reference.
pub fn info(metadata: &Metadata) -> PyResult<*mut PyObject> {
    // SAFETY: GIL held by callers. Every new reference is owned by `Owned`
    // (released on error paths); PyDict_SetItemString does not steal.
    unsafe {
        let dict = Owned::new(PyDict_New())?;
        let put = |key: &str, value: PyResult<*mut PyObject>| -> PyResult<()> {
            let value = Owned::new(value?)?;
            let key = CString::new(key).unwrap_or_default();
            if PyDict_SetItemString(dict.0, key.as_ptr(), value.0) < 0 {
                return Err(Failure::Raised);
            }
            Ok(())
        };
        if !metadata.text.is_empty() {
            let text = Owned::new(PyDict_New())?;
            for (key, value) in &metadata.text {
                let (key, value) = (Owned::new(string(key))?, Owned::new(string(value))?);
                if PyDict_SetItem(text.0, key.0, value.0) < 0 {
                    return Err(Failure::Raised);
                }
            }
            put("text", Ok(text.into_raw()))?;
        }
        if let Some((x, y)) = metadata.dpi() {
            put(
                "dpi",
                tuple(&[PyFloat_FromDouble(x), PyFloat_FromDouble(y)]),
            )?;
        }
        if let Some(intent) = metadata.srgb {
            put("srgb", Ok(PyLong_FromLong(intent.into())))?;
        }
        if let Some(gamma) = metadata.gamma() {
            put("gamma", Ok(PyFloat_FromDouble(gamma)))?;
        }
        if let Some(profile) = &metadata.icc_profile {
            put("icc_profile", convert::bytes_from(&profile.data))?;
            put(ICC_PROFILE_NAME, Ok(string(&profile.name)))?;
        }
        if let Some(cicp) = metadata.cicp {
            put(
                "cicp",
                tuple(&[
                    PyLong_FromLong(cicp.primaries.into()),
                    PyLong_FromLong(cicp.transfer.into()),
                    PyLong_FromLong(cicp.matrix.into()),
                    PyBool_FromLong(cicp.full_range.into()),
                ]),
            )?;
        }
        if let Some(display) = &metadata.mastering_display {
            // NULL on failure, which `tuple` turns into an error.
            let xy = |[x, y]: [u16; 2]| {
                tuple(&[
                    PyFloat_FromDouble(f64::from(x) / CHROMATICITY_SCALE),
                    PyFloat_FromDouble(f64::from(y) / CHROMATICITY_SCALE),
                ])
                .unwrap_or(std::ptr::null_mut())
            };
            let [r, g, b] = display.primaries;
            let primaries = [xy(r), xy(g), xy(b)];
            let dict = Owned::new(PyDict_New())?;
            // Each owned as soon as made: an early return releases the rest.
            let entries = [
                (c"primaries", tuple(&primaries).and_then(Owned::new)),
                (c"white_point", Owned::new(xy(display.white_point))),
                (
                    c"max_luminance",
                    Owned::new(PyFloat_FromDouble(
                        f64::from(display.max_luminance) / LUMINANCE_SCALE,
                    )),
                ),
                (
                    c"min_luminance",
                    Owned::new(PyFloat_FromDouble(
                        f64::from(display.min_luminance) / LUMINANCE_SCALE,
                    )),
                ),
            ];
            for (key, value) in entries {
                if PyDict_SetItemString(dict.0, key.as_ptr(), value?.0) < 0 {
                    return Err(Failure::Raised);
                }
            }
            put("mastering_display", Ok(dict.into_raw()))?;
        }
        if let Some(level) = metadata.content_light_level {
            put(
                "content_light_level",
                tuple(&[
                    PyFloat_FromDouble(f64::from(level.max_cll) / LUMINANCE_SCALE),
                    PyFloat_FromDouble(f64::from(level.max_fall) / LUMINANCE_SCALE),
                ]),
            )?;
        }
        Owned::new(PyDictProxy_New(dict.0)).map(Owned::into_raw)
    }
}

fn string(text: &str) -> *mut PyObject {
    // SAFETY: GIL held; pointer and length describe `text`, which CPython copies.
    unsafe { PyUnicode_FromStringAndSize(text.as_ptr().cast(), text.len() as Py_ssize_t) }
}

/// A tuple that takes over `items` (new references, any of them NULL
/// meaning an exception is set: then all are released).
fn tuple(items: &[*mut PyObject]) -> PyResult<*mut PyObject> {
    // SAFETY: GIL held; PyTuple_SetItem steals each item's reference.
    unsafe {
        let result = PyTuple_New(items.len() as Py_ssize_t);
        if result.is_null() || items.iter().any(|item| item.is_null()) {
            Py_XDECREF(result);
            items.iter().for_each(|&item| Py_XDECREF(item));
            return Err(Failure::Raised);
        }
        for (i, &item) in items.iter().enumerate() {
            PyTuple_SetItem(result, i as Py_ssize_t, item);
        }
        Ok(result)
    }
}
