//! The module object's per-interpreter state and its life cycle (PEP 489
//! multi-phase init, PEP 630 isolation).
//!
//! Each interpreter that imports bufpng gets its own module object, and with
//! it its own `ModuleState` holding its own Frame type: nothing that refers
//! to a Python object is shared between interpreters or kept in a static.

use crate::frame::{self, FrameType};
use crate::object::{c, Gil};
use crate::ForCpython;
use pyo3_ffi::*;
use std::ffi::{c_int, c_void};
use std::ptr;

/// What one interpreter's bufpng module owns (CPython allocates it zeroed,
/// `m_size` bytes, with the module object).
#[repr(C)]
pub struct ModuleState {
    /// This interpreter's bufpng.Frame type (a strong reference).
    frame_type: *mut PyObject,
}

/// The state of `module`, a bufpng module object.
///
/// # Safety
/// `module` must be a live bufpng module (what CPython passes a module-level
/// function as `self`, or `PyType_GetModule` of the Frame type returns).
unsafe fn state<'m>(module: *mut PyObject) -> &'m mut ModuleState {
    // SAFETY: bufpng's module definition has m_size = size_of::<ModuleState>(),
    // so the state exists, zero-initialised, for the module's life.
    unsafe { &mut *PyModule_GetState(module).cast::<ModuleState>() }
}

/// The Frame type of the interpreter that owns `module`.
///
/// # Safety
/// As for `state`: `module` is a live bufpng module (the `self` of a
/// module-level function), alive for `'py`.
pub unsafe fn frame_type<'py>(gil: Gil<'py>, module: *mut PyObject) -> FrameType<'py> {
    // SAFETY: the caller's guarantee; exec filled the field before any
    // function of the module could be called, and the state keeps the type
    // alive as long as the module.
    unsafe { FrameType::new(gil, state(module).frame_type.cast()) }
        .expect("module exec creates the Frame type")
}

/// `Py_mod_exec`: fills in a new module object, once per interpreter.
pub unsafe extern "C" fn exec(module: *mut PyObject) -> c_int {
    // SAFETY: CPython calls exec with the GIL held and a live module created
    // from bufpng's definition; each call checks for failure.
    unsafe {
        let version = concat!(env!("CARGO_PKG_VERSION"), "\0");
        if PyModule_AddStringConstant(module, c(c"__version__"), version.as_ptr().cast()) < 0
            || PyModule_AddIntConstant(
                module,
                c(c"DEFAULT_MAX_BYTES"),
                bufpng_core::DEFAULT_MAX_BYTES as _,
            ) < 0
        {
            return -1;
        }
        let frame_type = frame::create_type(module);
        if frame_type.is_null() {
            return -1;
        }
        // The state owns the reference from create_type; the module's
        // attribute is a second one (a user may delete the attribute).
        state(module).frame_type = frame_type;
        if PyModule_AddObjectRef(module, c(c"Frame"), frame_type) < 0 {
            return -1;
        }
    }
    0
}

/// `m_traverse`: the state's references, for the cycle collector (the Frame
/// type refers back to the module).
pub unsafe extern "C" fn traverse(
    module: *mut PyObject,
    visit: visitproc,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: CPython passes a bufpng module. The state may be absent when
    // traverse runs before exec (PyModule_GetState then returns NULL).
    unsafe {
        let state = PyModule_GetState(module).cast::<ModuleState>();
        if state.is_null() || (*state).frame_type.is_null() {
            return 0;
        }
        visit((*state).frame_type, arg)
    }
}

/// `m_clear`: drops the state's references (breaking the module <-> type cycle).
pub unsafe extern "C" fn clear(module: *mut PyObject) -> c_int {
    // SAFETY: as in traverse; the field is NULLed before the reference is
    // dropped, so a re-entrant clear sees NULL.
    unsafe {
        let state = PyModule_GetState(module).cast::<ModuleState>();
        if !state.is_null() {
            let frame_type = std::mem::replace(&mut (*state).frame_type, ptr::null_mut());
            Py_XDECREF(frame_type);
        }
    }
    0
}

/// `m_free`: the module is going away; the state memory itself is CPython's.
pub unsafe extern "C" fn free(module: *mut c_void) {
    // SAFETY: CPython passes the module object being freed.
    unsafe { clear(module.cast()) };
}

// Slot IDs and values that CPython 3.12 and 3.13 understand. pyo3-ffi only
// defines the values for builds targeting those versions, but the one
// cp311-abi3 binary runs on all of them, so they are spelled out here
// (values from CPython's Include/moduleobject.h).
const MULTIPLE_INTERPRETERS: c_int = Py_mod_multiple_interpreters;
const PER_INTERPRETER_GIL_SUPPORTED: *mut c_void = ptr::without_provenance_mut(2);
const GIL: c_int = Py_mod_gil;
const GIL_USED: *mut c_void = ptr::null_mut();

const fn slot(slot: c_int, value: *mut c_void) -> PyModuleDef_Slot {
    PyModuleDef_Slot { slot, value }
}

const EXEC: PyModuleDef_Slot = slot(Py_mod_exec, exec as *mut c_void);
const END: PyModuleDef_Slot = slot(0, ptr::null_mut());

/// 3.11 refuses a module with a slot it does not know, so each version gets
/// the table it understands; `PyInit__bufpng` picks one by `Py_Version`.
pub static SLOTS_3_11: ForCpython<[PyModuleDef_Slot; 2]> = ForCpython::new([EXEC, END]);
/// 3.12: bufpng keeps no state outside its module object and touches no
/// Python object without its interpreter's GIL, so it runs in subinterpreters
/// with their own GIL (PEP 684).
pub static SLOTS_3_12: ForCpython<[PyModuleDef_Slot; 3]> = ForCpython::new([
    EXEC,
    slot(MULTIPLE_INTERPRETERS, PER_INTERPRETER_GIL_SUPPORTED),
    END,
]);
/// 3.13 adds Py_mod_gil. bufpng relies on the GIL (copies are consistent
/// with respect to other Python code only because the GIL is held), and an
/// abi3 binary cannot load on a free-threaded build anyway, so it says so.
pub static SLOTS_3_13: ForCpython<[PyModuleDef_Slot; 4]> = ForCpython::new([
    EXEC,
    slot(MULTIPLE_INTERPRETERS, PER_INTERPRETER_GIL_SUPPORTED),
    slot(GIL, GIL_USED),
    END,
]);
