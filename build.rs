//! Link settings for the extension crate.
//!
//! setup.py builds the shipped module with PYO3_BUILD_EXTENSION_MODULE=1, so
//! the .so never links libpython (the interpreter that imports it provides the
//! symbols). A plain `cargo test` does link libpython, and needs an rpath to
//! find it at run time without LD_LIBRARY_PATH.
fn main() {
    pyo3_build_config::add_extension_module_link_args();
    pyo3_build_config::add_libpython_rpath_link_args();
    println!("cargo:rerun-if-env-changed=PYO3_BUILD_EXTENSION_MODULE");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
