//! The process allocator. Training allocates and frees the same activation-sized buffers every
//! step. glibc's malloc hands large ones back to the kernel and page-faults them in again
//! (measured: ~18 % of a distillation step at batch 8 x 128); mimalloc with its default purge
//! delay (1 s in the v3 the crate builds) still does so between the phases of a step (at batch
//! 16 x 256: 24 % of the CPU time in the kernel, and a prediction-layer step of 1.95 s against
//! 1.35 s without purging).
//! So freed memory stays with the process: resident memory stays at the step's peak instead of
//! swinging around it.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (v2 and v3 alike); the Rust bindings
/// do not name it.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Never return freed memory to the operating system (mimalloc's purge delay -1), unless the
/// user chose a delay through `MIMALLOC_PURGE_DELAY`.
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a process-wide option before any other thread exists.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn purge_delay_is_the_option_we_set() {
        // 1,000 ms is the purge delay's default in mimalloc v3 (options.c) and no neighbouring
        // option's, so this catches a renumbered enum.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) }, 1000);
        }
        super::keep_freed_memory();
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) }, -1);
    }
}
