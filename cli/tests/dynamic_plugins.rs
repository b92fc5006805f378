//! Plugins loaded at run time: the example XLM-RoBERTa plugin (a Rust cdylib in examples/)
//! shows in `plugins` and `pairs` and runs its checkpoint at transformers parity; each kind of
//! broken library gets its own clear warning while the rest of the CLI keeps working.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use distill_tests::{fixture, max_abs_diff, read_tensors, repo_root};

/// Builds the example plugin in a target directory of its own (no lock on the test's).
fn example_plugin() -> PathBuf {
    let target = repo_root().join("target").join("plugin-example");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "distill-plugin-xlm-roberta", "--target-dir"])
        .arg(&target)
        .current_dir(repo_root())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the example plugin");
    let lib = target.join("debug").join(format!("{}distill_plugin_xlm_roberta{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    assert!(lib.is_file(), "{}", lib.display());
    lib
}

/// A C shared library with the given body, compiled with the system C compiler.
fn c_library(dir: &Path, name: &str, body: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, format!("#include <stdint.h>\n{body}\n")).unwrap();
    let lib = dir.join(format!("lib{name}.so"));
    let status = Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).status().expect("a C compiler (cc) is installed");
    assert!(status.success(), "compiling {name}");
    lib
}

fn manifest_literal(json: &str) -> String {
    format!("\"{}\"", json.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', " "))
}

fn distill(args: &[&str], env_path: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_distill"));
    cmd.args(args).env_remove("DISTILL_PLUGIN_PATH");
    if let Some(p) = env_path {
        cmd.env("DISTILL_PLUGIN_PATH", p);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn example_plugin_lists_pairs_and_runs_its_checkpoint_at_parity() {
    let lib = example_plugin();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&lib, dir.path().join(lib.file_name().unwrap())).unwrap();

    // Found through --plugin-dir, --plugin and DISTILL_PLUGIN_PATH alike.
    for (args, env) in [
        (vec!["plugins", "--json", "--plugin-dir", dir.path().to_str().unwrap()], None),
        (vec!["plugins", "--json", "--plugin", lib.to_str().unwrap()], None),
        (vec!["plugins", "--json"], Some(dir.path())),
    ] {
        let out = distill(&args, env);
        assert!(out.status.success(), "{}", text(&out));
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let xlmr = list.as_array().unwrap().iter().find(|p| p["name"] == "xlm-roberta").unwrap_or_else(|| panic!("{list}"));
        assert_eq!(xlmr["origin"]["kind"], "library");
        assert_eq!(xlmr["family"], "roberta");
        assert_eq!(list.as_array().unwrap().len(), 5);
    }
    let out = distill(&["pairs", "--json", "--plugin", lib.to_str().unwrap()], None);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = rows.as_array().unwrap().iter().find(|r| r["teacher"] == "roberta" && r["student"] == "xlm-roberta").unwrap();
    assert!(row["rejected"].to_string().contains("tokenizers differ"), "{row}");
    let row = rows.as_array().unwrap().iter().find(|r| r["teacher"] == "xlm-roberta" && r["student"] == "xlm-roberta").unwrap();
    assert_eq!(row["strategies"], serde_json::json!(["prediction", "intermediate", "tinybert"]));

    // Its checkpoints (model_type xlm-roberta; a QA head, a token-classification head) load
    // through the plugin and match transformers.
    let fx = fixture("xlm-roberta-qa");
    let cases = [(fixture("xlm-roberta-qa"), vec!["--plugin-dir", dir.path().to_str().unwrap()]), (fixture("xlm-roberta-qa"), vec!["--plugin", lib.to_str().unwrap()]), (fixture("xlm-roberta-tok"), vec!["--plugin", lib.to_str().unwrap()])];
    for (fx, plugin_args) in cases {
        let out_file = dir.path().join("out.safetensors");
        let mut args = vec!["forward", "--model", fx.to_str().unwrap(), "--input", fx.join("inputs.json").to_str().unwrap().to_owned().leak(), "--output", out_file.to_str().unwrap().to_owned().leak()];
        args.extend(plugin_args);
        let out = distill(&args, None);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).starts_with("xlm-roberta on "), "{}", text(&out));
        let (worst, diff) = max_abs_diff(&read_tensors(&fx.join("reference.safetensors")), &read_tensors(&out_file));
        assert!(diff < 1e-4, "{worst}: {diff}");
    }
    // Without the plugin the checkpoint's model_type is unknown.
    let out = distill(&["forward", "--model", fx.to_str().unwrap(), "--input", fx.join("inputs.json").to_str().unwrap(), "--output", "/tmp/x.safetensors"], None);
    assert!(!out.status.success() && text(&out).contains("xlm-roberta"), "{}", text(&out));
}

#[test]
fn each_broken_plugin_gets_a_clear_error_and_the_cli_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(repo_root().join("examples/xlm-roberta-plugin/src/manifest.json")).unwrap();
    let duplicate = good.replace("\"name\": \"xlm-roberta\"", "\"name\": \"bert\"");
    let abi = "uint32_t distill_plugin_abi_version(void) { return 1; }";
    c_library(dir.path(), "missing_entry", abi);
    c_library(dir.path(), "wrong_abi", &format!("uint32_t distill_plugin_abi_version(void) {{ return 99; }}\nconst char *distill_plugin_manifest(void) {{ return {}; }}", manifest_literal(&good)));
    c_library(dir.path(), "malformed", &format!("{abi}\nconst char *distill_plugin_manifest(void) {{ return \"{{not json\"; }}"));
    c_library(dir.path(), "incomplete", &format!("{abi}\nconst char *distill_plugin_manifest(void) {{ return {}; }}", manifest_literal(r#"{"plugins": [{"name": "half", "description": "no more"}]}"#)));
    c_library(dir.path(), "duplicate", &format!("{abi}\nconst char *distill_plugin_manifest(void) {{ return {}; }}", manifest_literal(&duplicate)));
    c_library(dir.path(), "null_manifest", &format!("{abi}\nconst char *distill_plugin_manifest(void) {{ return 0; }}"));
    std::fs::write(dir.path().join("libnot_a_library.so"), "this is text, not ELF").unwrap();

    let out = distill(&["plugins", "--plugin-dir", dir.path().to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    for (file, needle) in [
        ("libmissing_entry.so", "missing entry point `distill_plugin_manifest`"),
        ("libwrong_abi.so", "ABI version 99"),
        ("libmalformed.so", "malformed or incomplete manifest"),
        ("libincomplete.so", "missing field"),
        ("libduplicate.so", "duplicate plugin name"),
        ("libnull_manifest.so", "returned no manifest"),
        ("libnot_a_library.so", "not a loadable shared library"),
    ] {
        let line = stderr.lines().find(|l| l.contains(file)).unwrap_or_else(|| panic!("no warning for {file}:\n{stderr}"));
        assert!(line.contains(needle), "{file}: {line}");
    }
    // The built-in plugins still work.
    let stdout = String::from_utf8_lossy(&out.stdout);
    for name in ["bert", "distilbert", "roberta", "tinybert"] {
        assert!(stdout.lines().any(|l| l.starts_with(name)), "{stdout}");
    }
    let out = distill(&["forward", "--plugin-dir", dir.path().to_str().unwrap(), "--model", fixture("bert").to_str().unwrap(), "--input", fixture("bert").join("inputs.json").to_str().unwrap(), "--output", dir.path().join("o.safetensors").to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
}

/// `--plugin libx.so` names a file in the working directory: it is loaded by its absolute path,
/// not looked up by dlopen on LD_LIBRARY_PATH (where a bare name would send it).
#[test]
fn a_plugin_named_relative_to_the_working_directory_loads_that_file() {
    let lib = example_plugin();
    let dir = tempfile::tempdir().unwrap();
    let name = lib.file_name().unwrap().to_str().unwrap().to_string();
    std::fs::copy(&lib, dir.path().join(&name)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_distill"))
        .args(["plugins", "--json", "--plugin", &name])
        .env_remove("DISTILL_PLUGIN_PATH")
        .env_remove("LD_LIBRARY_PATH")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("xlm-roberta"), "{}", text(&out));
    assert!(!text(&out).contains("warning"), "{}", text(&out));
}
