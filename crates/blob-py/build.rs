//! Outside maturin (`cargo test`, `cargo build`), PyO3 links libpython
//! dynamically; an rpath to the interpreter's library directory lets the unit
//! test binary start without LD_LIBRARY_PATH. maturin sets
//! PYO3_BUILD_EXTENSION_MODULE, libpython is not linked, and this adds nothing.

fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
}
