//! The compute device: burn's flex CPU backend, unless `DISTILL_DEVICE` names a GPU backend this
//! build has (`vulkan`, `wgpu`, `cuda`; features of the same names).

use std::sync::OnceLock;

use burn::tensor::Device;

/// A backend of this build: the name `DISTILL_DEVICE` asks for it by, and how its device is made.
struct Backend {
    name: &'static str,
    device: fn() -> Device,
}

/// The CPU first; each GPU backend only in a build with its feature. A new backend is one entry.
const BACKENDS: &[Backend] = &[
    Backend { name: "flex", device: Device::flex },
    #[cfg(feature = "vulkan")]
    Backend { name: "vulkan", device: || Device::vulkan(burn::tensor::DeviceKind::DefaultDevice) },
    #[cfg(feature = "wgpu")]
    Backend { name: "wgpu", device: || Device::wgpu(burn::tensor::DeviceKind::DefaultDevice) },
    #[cfg(feature = "cuda")]
    Backend { name: "cuda", device: || Device::cuda(0) },
];

/// The device every model and tensor of a run is made on.
pub fn default_device() -> Device {
    (chosen_backend().device)()
}

/// The backend [`default_device`] runs on, `flex` or a GPU backend's name, for reports.
pub fn device_name() -> &'static str {
    chosen_backend().name
}

/// Chosen once per process: a name this build lacks, or a GPU backend whose device does not start
/// (no driver or loader), is reported once and replaced by the CPU, where cubecl would panic.
fn chosen_backend() -> &'static Backend {
    static CHOSEN: OnceLock<&'static Backend> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        let cpu = &BACKENDS[0];
        let requested = std::env::var("DISTILL_DEVICE").unwrap_or_default();
        match backend_named(&requested) {
            Some(backend) => match start_failure(backend) {
                None => backend,
                Some(reason) => {
                    let name = backend.name;
                    eprintln!("warning: DISTILL_DEVICE={name}: no {name} device could be started (driver or loader missing?); using the CPU (flex)");
                    if std::env::var_os("DISTILL_VERBOSE").is_some_and(|v| !v.is_empty() && v != "0") {
                        eprintln!("  {name} start-up error: {reason}");
                    } else {
                        eprintln!("  set DISTILL_VERBOSE=1 to see the {name} runtime's start-up error");
                    }
                    cpu
                }
            },
            None => {
                eprintln!("warning: DISTILL_DEVICE={requested:?} is not a backend of this build; using the CPU (flex)");
                cpu
            }
        }
    })
}

/// The backend of this build that `name` asks for; empty, `cpu` and `flex` ask for the CPU.
fn backend_named(name: &str) -> Option<&'static Backend> {
    let name = if name.is_empty() || name == "cpu" { "flex" } else { name };
    BACKENDS.iter().find(|backend| backend.name == name)
}

/// Why one value cannot make the round trip to `backend`'s device and back, or `None` when it
/// can. A GPU runtime that cannot start panics on its first operation, in cubecl's threads; the
/// panics are caught and their messages kept for the warning of [`chosen_backend`] (shown under
/// `DISTILL_VERBOSE`), not printed as a crash.
fn start_failure(backend: &Backend) -> Option<String> {
    if backend.name == "flex" {
        return None;
    }
    let round_trip = crate::io::catch_library_panic(|| {
        let device = (backend.device)();
        let one = burn::tensor::Tensor::<1>::from_data(burn::tensor::TensorData::new(vec![1.0f32], [1]), &device);
        one.into_scalar::<f32>()
    });
    match round_trip {
        Ok(1.0) => None,
        Ok(value) => Some(format!("1.0 came back as {value}")),
        Err(messages) => Some(messages),
    }
}

#[cfg(test)]
mod tests {
    use super::{backend_named, start_failure};

    #[test]
    fn names_select_the_cpu_or_a_backend_of_this_build() {
        for cpu in ["", "cpu", "flex"] {
            assert_eq!(backend_named(cpu).map(|b| b.name), Some("flex"));
        }
        assert!(backend_named("tpu").is_none());
        #[cfg(not(feature = "vulkan"))]
        assert!(backend_named("vulkan").is_none(), "a build without the feature has no vulkan");
        #[cfg(feature = "vulkan")]
        assert_eq!(backend_named("vulkan").map(|b| b.name), Some("vulkan"));
        assert_eq!(start_failure(backend_named("flex").unwrap()), None);
    }
}
