//! Loading by hub id from a cache laid out as the Hugging Face hub lays it:
//! `models--org--name/{refs/main, blobs/<hash>, snapshots/<commit>/<file> -> ../../blobs/<hash>}`.
//! One test function: it sets process-wide environment variables.

use distill_core::forward::forward_tensors;
use distill_core::inputs::TokenBatch;
use distill_core::pretrained::Pretrained;
use distill_core::registry::Registry;
use distill_tests::{fixture, max_abs_diff, read_tensors};

fn lay_out_cache(root: &std::path::Path, repo: &str, from: &std::path::Path) {
    let folder = root.join(format!("models--{}", repo.replace('/', "--")));
    let commit = "0123456789abcdef0123456789abcdef01234567";
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::create_dir_all(folder.join("blobs")).unwrap();
    std::fs::create_dir_all(folder.join("snapshots").join(commit)).unwrap();
    std::fs::write(folder.join("refs").join("main"), commit).unwrap();
    for (i, file) in ["config.json", "model.safetensors"].iter().enumerate() {
        let blob = format!("blob{i:040}");
        std::fs::copy(from.join(file), folder.join("blobs").join(&blob)).unwrap();
        std::os::unix::fs::symlink(format!("../../blobs/{blob}"), folder.join("snapshots").join(commit).join(file)).unwrap();
    }
}

#[test]
fn hub_id_resolves_through_the_cache_offline() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("hub");
    lay_out_cache(&cache, "distill-test/tiny-bert-qa", &fixture("bert-qa"));
    // SAFETY: this test binary runs this single test, so no other thread reads the environment.
    unsafe {
        std::env::remove_var("HF_HUB_CACHE");
        std::env::set_var("HF_HOME", home.path());
        std::env::set_var("HF_HUB_OFFLINE", "1");
    }
    let registry = Registry::builtin().unwrap();
    let device = distill_core::default_device();
    let model = Pretrained::load("distill-test/tiny-bert-qa", None, &registry, &device).unwrap_or_else(|e| panic!("{e}"));
    let files = model.files.as_ref().unwrap();
    assert!(files.dir.ends_with("snapshots/0123456789abcdef0123456789abcdef01234567"), "{}", files.dir.display());
    let input: serde_json::Value = distill_core::io::read_json(&fixture("bert-qa").join("inputs.json")).unwrap();
    let batch = TokenBatch::from_json(&input, None, 512, "inputs.json").unwrap();
    let (_, diff) = max_abs_diff(&read_tensors(&fixture("bert-qa").join("reference.safetensors")), &forward_tensors(&model.model, &batch));
    assert!(diff < 1e-4);

    // HF_HUB_CACHE wins over HF_HOME.
    let other = tempfile::tempdir().unwrap();
    lay_out_cache(other.path(), "distill-test/tiny-roberta", &fixture("roberta-cls"));
    unsafe { std::env::set_var("HF_HUB_CACHE", other.path()) };
    let model = Pretrained::load("distill-test/tiny-roberta", None, &registry, &device).unwrap();
    assert_eq!(model.spec.name, "roberta");

    // Offline and not cached: a clear error, no network.
    let err = Pretrained::load("distill-test/not-cached", None, &registry, &device).err().unwrap().to_string();
    assert!(err.contains("distill-test/not-cached") && err.contains("HF_HUB_OFFLINE"), "{err}");
}
