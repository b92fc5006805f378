//! The compute device: burn's flex CPU backend, unless `DISTILL_DEVICE` names a GPU backend this
//! build has (`vulkan`, `wgpu`, `cuda`; features of the same names).

use std::sync::OnceLock;

use burn::tensor::Device;

/// The device every model and tensor of a run is made on.
pub fn default_device() -> Device {
    device_for(device_name())
}

/// The backend [`default_device`] runs on, `flex` or a GPU backend's name, for reports. Chosen
/// once per process: a name this build lacks, or a GPU backend whose device does not start (no
/// driver or loader), is reported once and replaced by the CPU, where cubecl would panic.
pub fn device_name() -> &'static str {
    static CHOSEN: OnceLock<&'static str> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        let requested = std::env::var("DISTILL_DEVICE").unwrap_or_default();
        match backend_named(&requested) {
            Some("flex") => "flex",
            Some(gpu) if starts(gpu) => gpu,
            Some(gpu) => {
                eprintln!("warning: DISTILL_DEVICE={gpu}: no {gpu} device could be started (driver or loader missing?); using the CPU (flex)");
                "flex"
            }
            None => {
                eprintln!("warning: DISTILL_DEVICE={requested:?} is not a backend of this build; using the CPU (flex)");
                "flex"
            }
        }
    })
}

/// The backend of this build that `name` asks for; empty, `cpu` and `flex` ask for the CPU.
fn backend_named(name: &str) -> Option<&'static str> {
    match name {
        "" | "cpu" | "flex" => Some("flex"),
        #[cfg(feature = "vulkan")]
        "vulkan" => Some("vulkan"),
        #[cfg(feature = "wgpu")]
        "wgpu" => Some("wgpu"),
        #[cfg(feature = "cuda")]
        "cuda" => Some("cuda"),
        _ => None,
    }
}

fn device_for(backend: &str) -> Device {
    match backend {
        #[cfg(feature = "vulkan")]
        "vulkan" => Device::vulkan(burn::tensor::DeviceKind::DefaultDevice),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        #[cfg(feature = "cuda")]
        "cuda" => Device::cuda(0),
        _ => Device::flex(),
    }
}

/// Whether one value makes the round trip to `backend`'s device and back. A GPU runtime that
/// cannot start panics on its first operation, in cubecl's threads; the panic is caught and its
/// message kept quiet, the warning of [`device_name`] says what happened.
fn starts(backend: &str) -> bool {
    if backend == "flex" {
        return true;
    }
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let ok = std::panic::catch_unwind(|| {
        let device = device_for(backend);
        let one = burn::tensor::Tensor::<1>::from_data(burn::tensor::TensorData::new(vec![1.0f32], [1]), &device);
        one.into_scalar::<f32>() == 1.0
    })
    .unwrap_or(false);
    std::panic::set_hook(hook);
    ok
}

#[cfg(test)]
mod tests {
    use super::{backend_named, starts};

    #[test]
    fn names_select_the_cpu_or_a_backend_of_this_build() {
        for cpu in ["", "cpu", "flex"] {
            assert_eq!(backend_named(cpu), Some("flex"));
        }
        assert_eq!(backend_named("tpu"), None);
        #[cfg(not(feature = "vulkan"))]
        assert_eq!(backend_named("vulkan"), None, "a build without the feature has no vulkan");
        assert!(starts("flex"));
    }
}
