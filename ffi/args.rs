//! Argument parsing for METH_FASTCALL | METH_KEYWORDS functions.
//!
//! CPython passes positional arguments as a C array and keyword arguments as
//! the same array's tail, named by the `kwnames` tuple. This fills one slot
//! per parameter with a borrowed reference (None when not given), with the
//! same errors CPython's own argument clinic raises.

use crate::object::{str_to_string, Failure, Gil, Obj, Owned, PyResult};
use bufpng_core::error::type_error;
use pyo3_ffi::*;
use std::ptr;

/// A function's parameters: the first `positional` may be passed by
/// position, the first `required` must be given.
pub struct Signature {
    pub function: &'static str,
    pub params: &'static [&'static str],
    pub positional: usize,
    pub required: usize,
}

/// A required argument's slot, which `Signature::parse` has checked is filled.
pub fn required(slot: Option<Obj<'_>>) -> Obj<'_> {
    slot.expect("Signature::parse checks required arguments")
}

impl Signature {
    /// Parses the arguments of one call.
    ///
    /// # Safety
    /// `args`, `nargs` and `kwnames` must be what CPython passed to a
    /// METH_FASTCALL | METH_KEYWORDS function, during that call, `'py` no
    /// longer than the call (the caller holds the arguments until it returns).
    pub unsafe fn parse<'py, const N: usize>(
        &self,
        gil: Gil<'py>,
        args: *const *mut PyObject,
        nargs: Py_ssize_t,
        kwnames: *mut PyObject,
    ) -> PyResult<[Option<Obj<'py>>; N]> {
        debug_assert_eq!(N, self.params.len());
        let mut slots: [Option<Obj<'py>>; N] = [None; N];
        let nargs = nargs as usize;
        if nargs > self.positional {
            return self.fail(&format!(
                "takes at most {} positional argument{} ({nargs} given)",
                self.positional,
                if self.positional == 1 { "" } else { "s" }
            ));
        }
        // SAFETY: per CPython's calling convention `args` holds `nargs`
        // positional and then len(kwnames) keyword values, all live for the
        // call; `kwnames` is NULL or a tuple of str.
        unsafe {
            for (i, slot) in slots.iter_mut().enumerate().take(nargs) {
                *slot = Obj::borrowed(gil, *args.add(i));
            }
            let kwnames = Obj::borrowed(gil, kwnames);
            let nkw = kwnames.map_or(0, |names| PyTuple_Size(names.as_ptr()) as usize);
            for k in 0..nkw {
                let key = kwnames.and_then(|names| {
                    Obj::borrowed(gil, PyTuple_GetItem(names.as_ptr(), k as Py_ssize_t))
                });
                let name = key.and_then(str_to_string).unwrap_or_default();
                let Some(index) = self.params.iter().position(|p| *p == name) else {
                    return self.fail(&format!("got an unexpected keyword argument '{name}'"));
                };
                if slots[index].is_some() {
                    return self.fail(&format!("got multiple values for argument '{name}'"));
                }
                slots[index] = Obj::borrowed(gil, *args.add(nargs + k));
            }
        }
        if let Some(missing) = (0..self.required).find(|&i| slots[i].is_none()) {
            return self.fail(&format!(
                "missing required argument '{}' (pos {})",
                self.params[missing],
                missing + 1
            ));
        }
        Ok(slots)
    }

    /// Parses classic `(args, kwargs)` arguments (what `tp_new` receives) by
    /// laying them out as a fastcall would and calling `parse`.
    ///
    /// # Safety
    /// `args` must be a tuple and `kwargs` NULL or a dict, as CPython passes
    /// them to `tp_new`, with `'py` no longer than that call.
    pub unsafe fn parse_tuple<'py, const N: usize>(
        &self,
        gil: Gil<'py>,
        args: *mut PyObject,
        kwargs: *mut PyObject,
    ) -> PyResult<[Option<Obj<'py>>; N]> {
        // SAFETY: the caller's guarantee: a live tuple and NULL or a live
        // dict, whose items stay referenced by them for the call. The
        // kwnames tuple is ours (`Owned`); PyTuple_SetItem steals the new
        // reference to each key while the dict keeps its own.
        unsafe {
            let nargs = PyTuple_Size(args);
            let mut items: Vec<*mut PyObject> =
                (0..nargs).map(|i| PyTuple_GetItem(args, i)).collect();
            let nkw = if kwargs.is_null() {
                0
            } else {
                PyDict_Size(kwargs)
            };
            if nkw == 0 {
                return self.parse(gil, items.as_ptr(), nargs, ptr::null_mut());
            }
            let kwnames = Owned::new(PyTuple_New(nkw))?;
            let (mut pos, mut i) = (0, 0);
            let (mut key, mut value) = (ptr::null_mut(), ptr::null_mut());
            while i < nkw && PyDict_Next(kwargs, &mut pos, &mut key, &mut value) != 0 {
                Py_INCREF(key);
                PyTuple_SetItem(kwnames.as_ptr(), i, key);
                items.push(value);
                i += 1;
            }
            self.parse(gil, items.as_ptr(), nargs, kwnames.as_ptr())
        }
    }

    fn fail<T>(&self, what: &str) -> PyResult<T> {
        Err(Failure::from(type_error(format!(
            "{}() {what}",
            self.function
        ))))
    }
}
