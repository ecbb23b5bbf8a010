//! Argument parsing for METH_FASTCALL | METH_KEYWORDS functions.
//!
//! CPython passes positional arguments as a C array and keyword arguments as
//! the same array's tail, named by the `kwnames` tuple. This fills one slot
//! per parameter with a borrowed reference (NULL when not given), with the
//! same errors CPython's own argument clinic raises.

use crate::errors::set_error;
use crate::object::{str_to_string, Failure, PyResult};
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

impl Signature {
    /// Parses the arguments of one call.
    ///
    /// # Safety
    /// `args`, `nargs` and `kwnames` must be what CPython passed to a
    /// METH_FASTCALL | METH_KEYWORDS function, and the GIL must be held. The
    /// returned pointers are borrowed for the duration of that call.
    pub unsafe fn parse<const N: usize>(
        &self,
        args: *const *mut PyObject,
        nargs: Py_ssize_t,
        kwnames: *mut PyObject,
    ) -> PyResult<[*mut PyObject; N]> {
        debug_assert_eq!(N, self.params.len());
        let mut slots = [ptr::null_mut(); N];
        let nargs = nargs as usize;
        if nargs > self.positional {
            return self.fail(&format!(
                "takes at most {} positional argument{} ({nargs} given)",
                self.positional,
                if self.positional == 1 { "" } else { "s" }
            ));
        }
        for (i, slot) in slots.iter_mut().enumerate().take(nargs) {
            *slot = *args.add(i);
        }
        let nkw = if kwnames.is_null() {
            0
        } else {
            PyTuple_Size(kwnames) as usize
        };
        for k in 0..nkw {
            let key = PyTuple_GetItem(kwnames, k as Py_ssize_t);
            let name = str_to_string(key).unwrap_or_default();
            let Some(index) = self.params.iter().position(|p| *p == name) else {
                return self.fail(&format!("got an unexpected keyword argument '{name}'"));
            };
            if !slots[index].is_null() {
                return self.fail(&format!("got multiple values for argument '{name}'"));
            }
            slots[index] = *args.add(nargs + k);
        }
        if let Some(missing) = (0..self.required).find(|&i| slots[i].is_null()) {
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
    /// them, and the GIL must be held. The returned pointers are borrowed from
    /// `args` and `kwargs` and valid while those live.
    pub unsafe fn parse_tuple<const N: usize>(
        &self,
        args: *mut PyObject,
        kwargs: *mut PyObject,
    ) -> PyResult<[*mut PyObject; N]> {
        let nargs = PyTuple_Size(args);
        let mut items: Vec<*mut PyObject> = (0..nargs).map(|i| PyTuple_GetItem(args, i)).collect();
        let nkw = if kwargs.is_null() {
            0
        } else {
            PyDict_Size(kwargs)
        };
        if nkw == 0 {
            return self.parse(items.as_ptr(), nargs, ptr::null_mut());
        }
        let kwnames = PyTuple_New(nkw);
        if kwnames.is_null() {
            return Err(Failure::Raised);
        }
        let (mut pos, mut i) = (0, 0);
        let (mut key, mut value) = (ptr::null_mut(), ptr::null_mut());
        while i < nkw && PyDict_Next(kwargs, &mut pos, &mut key, &mut value) != 0 {
            // PyTuple_SetItem steals a reference; the dict keeps its own.
            Py_INCREF(key);
            PyTuple_SetItem(kwnames, i, key);
            items.push(value);
            i += 1;
        }
        let result = self.parse(items.as_ptr(), nargs, kwnames);
        Py_DECREF(kwnames);
        result
    }

    fn fail<T>(&self, what: &str) -> PyResult<T> {
        // SAFETY: GIL held by `parse`'s contract.
        unsafe { set_error(PyExc_TypeError, &format!("{}() {what}", self.function)) };
        Err(Failure::Raised)
    }
}
