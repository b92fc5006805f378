//! A dynamic architecture plugin for distill. The ABI is two C functions: the ABI version, and
//! a static NUL-terminated JSON manifest describing the architecture in distill's terms
//! (`manifest.json`: config keys, tensor names, family, default student shape, layer mapping,
//! projection). No Rust type crosses the library boundary.

use std::ffi::c_char;

/// The manifest, NUL-terminated so the host can read it as a C string.
static MANIFEST: &str = concat!(include_str!("manifest.json"), "\0");

/// The plugin ABI version this library speaks.
#[unsafe(no_mangle)]
pub extern "C" fn distill_plugin_abi_version() -> u32 {
    1
}

/// The manifest; valid for as long as the library is loaded (distill never unloads it).
#[unsafe(no_mangle)]
pub extern "C" fn distill_plugin_manifest() -> *const c_char {
    MANIFEST.as_ptr().cast()
}
