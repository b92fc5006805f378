//! Data where users keep it: Parquet files written by pyarrow (scripts/make_parquet_fixtures.py,
//! the Hugging Face layouts) and JSON lines for every task, read into the same examples as the
//! other formats; columns named by flags; bad rows named by file, row and column.

use std::path::PathBuf;
use std::process::Command;

use distill_core::data::classification::read_examples_with;
use distill_core::data::rows::DataColumns;
use distill_core::data::squad::SquadFile;
use distill_core::data::tagged::read_tagged;
use distill_tests::{fixture, shared, tiny_base_bert};

fn parquet(name: &str) -> PathBuf {
    fixture("parquet").join(name)
}

#[test]
fn classification_regression_and_ner_rows_from_parquet() {
    let glue = DataColumns { text: "sentence1".into(), text_pair: "sentence2".into(), ..DataColumns::default() };
    let pairs = read_examples_with(&parquet("pairs.parquet"), &glue).unwrap();
    assert_eq!(pairs.len(), 4);
    assert_eq!((pairs[1].text.as_str(), pairs[1].text_pair.as_deref(), pairs[1].label.as_str(), pairs[1].at.as_str()), ("A man is playing a guitar.", Some("Someone plays music."), "1", "row 2"));
    let scores = read_examples_with(&parquet("scores.parquet"), &DataColumns::default()).unwrap();
    let values: Vec<f64> = scores.iter().map(|e| e.label.parse().unwrap()).collect();
    assert_eq!(values, vec![4.5, 3.0, 0.25]);
    let labels: Vec<String> = distill_core::io::read_json(&parquet("ner-labels.json")).unwrap();
    let ner = read_tagged(&parquet("ner.parquet"), &DataColumns::default(), Some(&labels)).unwrap();
    assert_eq!(ner[0].words, ["Empire", "State", "Building", "is", "tall"]);
    assert_eq!(ner[0].tags, ["B-location", "I-location", "I-location", "O", "O"]);
    assert_eq!(ner[1].tags, ["O", "B-person"]);
}

#[test]
fn squad_rows_in_the_hub_layout_read_as_the_squad_json_they_came_from() {
    let (json, _) = SquadFile::read(&shared().join("data/squad/sample-v2.0.json"), true).unwrap();
    let (rows, _) = SquadFile::read(&parquet("squad.parquet"), true).unwrap();
    // Each question as one comparable string: id, question, context, unanswerable, answers.
    let flat = |f: &SquadFile| -> Vec<String> {
        f.questions().map(|(p, q)| format!("{} {:?} {:?} {} {:?}", q.id, q.question, p.context, q.is_impossible, q.answers.iter().map(|a| (&a.text, a.answer_start)).collect::<Vec<_>>())).collect()
    };
    assert_eq!(flat(&rows), flat(&json));
    assert!(rows.is_v2());
    assert_eq!(rows.data.len(), json.data.len());
    // The same rows as JSON lines, answers as a list of objects this time.
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("squad.jsonl");
    let lines: Vec<String> = json
        .questions()
        .map(|(p, q)| serde_json::json!({"id": q.id, "context": p.context, "question": q.question, "answers": q.answers}).to_string())
        .collect();
    std::fs::write(&jsonl, lines.join("\n")).unwrap();
    let (from_lines, _) = SquadFile::read(&jsonl, true).unwrap();
    assert_eq!(flat(&from_lines), flat(&json));
    // Columns under other names, named by the flags' fields; the default names then miss.
    let renamed = dir.path().join("renamed.jsonl");
    let lines: Vec<String> = json
        .questions()
        .map(|(p, q)| serde_json::json!({"qid": q.id, "passage": p.context, "query": q.question, "gold": q.answers, "context": "decoy"}).to_string())
        .collect();
    std::fs::write(&renamed, lines.join("\n")).unwrap();
    let columns = DataColumns { id: "qid".into(), context: "passage".into(), question: "query".into(), answers: "gold".into(), ..DataColumns::default() };
    let (from_renamed, _) = SquadFile::read_with(&renamed, true, &columns).unwrap();
    assert_eq!(flat(&from_renamed), flat(&json));
    let err = SquadFile::read(&renamed, true).unwrap_err().to_string();
    assert!(err.contains("renamed.jsonl") && err.contains("line 1") && err.contains("no column `id`"), "{err}");
    let wrong = DataColumns { answers: "query".into(), ..columns };
    let err = SquadFile::read_with(&renamed, true, &wrong).unwrap_err().to_string();
    assert!(err.contains("line 1") && err.contains("column `query` must hold `text` and `answer_start` lists"), "{err}");
}

#[test]
fn bad_rows_are_named_by_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    // The default columns on the GLUE-style file: it has no `text`.
    let err = read_examples_with(&parquet("pairs.parquet"), &DataColumns::default()).unwrap_err().to_string();
    assert!(err.contains("pairs.parquet") && err.contains("row 1") && err.contains("no column `text`"), "{err}");
    // A column of the wrong type: `idx` holds integers.
    let wrong = DataColumns { text: "idx".into(), ..DataColumns::default() };
    let err = read_examples_with(&parquet("pairs.parquet"), &wrong).unwrap_err().to_string();
    assert!(err.contains("row 1") && err.contains("column `idx` must hold a string"), "{err}");
    // Tag ids without the labels they index.
    let err = read_tagged(&parquet("ner.parquet"), &DataColumns::default(), None).unwrap_err().to_string();
    assert!(err.contains("ner.parquet") && err.contains("row 1") && err.contains("--labels"), "{err}");
    // Not Parquet at all.
    let fake = dir.path().join("fake.parquet");
    std::fs::write(&fake, "text,label\nx,1\n").unwrap();
    let err = read_examples_with(&fake, &DataColumns::default()).unwrap_err().to_string();
    assert!(err.contains("fake.parquet") && err.contains("not a readable Parquet file"), "{err}");
    // A SQuAD row whose answers do not line up.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"id\": \"a\", \"context\": \"c\", \"question\": \"q\", \"answers\": {\"text\": [\"c\"], \"answer_start\": []}}\n").unwrap();
    let err = SquadFile::read(&bad, true).unwrap_err().to_string();
    assert!(err.contains("bad.jsonl") && err.contains("line 1") && err.contains("1 texts and 0 starts"), "{err}");
}

#[test]
fn a_pair_classifier_trains_on_parquet_with_columns_named_by_flags() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    tiny_base_bert(&base, 1, 32, 4, 3);
    let run = |text: &str, pair: &str| {
        Command::new(env!("CARGO_BIN_EXE_distill"))
            .args(["--strategy", "finetune", "--task", "classification", "--student", base.to_str().unwrap(), "--train", parquet("pairs.parquet").to_str().unwrap()])
            .args(["--dev", parquet("pairs.parquet").to_str().unwrap(), "--text-column", text, "--text-pair-column", pair, "--output", dir.path().join("run").to_str().unwrap(), "--epochs", "1"])
            .output()
            .unwrap()
    };
    let out = run("sentence1", "sentence2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let done: serde_json::Value = distill_core::io::read_json(&dir.path().join("run/stage-1-finetune/done.json")).unwrap();
    assert_eq!(done["eval"]["total"], 4, "{done}");
    assert!(done["eval"]["matthews_correlation"].as_f64().is_some(), "{done}");
    let config: serde_json::Value = distill_core::io::read_json(&dir.path().join("run/student/config.json")).unwrap();
    assert_eq!((config["id2label"]["0"].as_str(), config["id2label"]["1"].as_str()), (Some("0"), Some("1")), "labels from the data: {config}");
    // The same bytes read through other columns are other examples: the finished stage is not
    // taken for this run's; the rerun is refused, naming the columns.
    let swapped = run("sentence2", "sentence1");
    let err = String::from_utf8_lossy(&swapped.stderr);
    assert!(!swapped.status.success() && err.contains("was finished with other settings") && err.contains("columns:") && err.contains("sentence2"), "{err}");
}

/// A dataset repository in a hub cache laid out as the hub lays it (`refs/main`, blobs, snapshot
/// symlinks), holding `files` (path in the repository, source file).
fn lay_out_dataset(root: &std::path::Path, repo: &str, files: &[(&str, PathBuf)]) {
    let folder = root.join(format!("datasets--{}", repo.replace('/', "--")));
    let commit = "89abcdef0123456789abcdef0123456789abcdef";
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::create_dir_all(folder.join("blobs")).unwrap();
    std::fs::write(folder.join("refs").join("main"), commit).unwrap();
    for (i, (path, from)) in files.iter().enumerate() {
        let blob = format!("blob{i:040}");
        std::fs::copy(from, folder.join("blobs").join(&blob)).unwrap();
        let link = folder.join("snapshots").join(commit).join(path);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        let depth = path.split('/').count() + 1;
        std::os::unix::fs::symlink(format!("{}blobs/{blob}", "../".repeat(depth)), &link).unwrap();
    }
}

#[test]
fn a_hub_dataset_split_trains_and_evaluates_from_the_cache_offline() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("hf");
    let ner = parquet("ner.parquet");
    lay_out_dataset(&home.join("hub"), "distill-test/tiny-ner", &[("data/train-00000-of-00001.parquet", ner.clone()), ("data/validation-00000-of-00001.parquet", ner), ("README.md", parquet("ner-labels.json"))]);
    let base = dir.path().join("base");
    tiny_base_bert(&base, 1, 32, 4, 5);
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_distill")).args(args).env("HF_HOME", &home).env_remove("HF_HUB_CACHE").env("HF_HUB_OFFLINE", "1").output().unwrap();
    let labels = "O,B-location,I-location,B-person";
    let output = dir.path().join("run");
    let out = run(&["--strategy", "finetune", "--task", "token-classification", "--student", base.to_str().unwrap(), "--train", "hub:distill-test/tiny-ner:train", "--dev", "hub:distill-test/tiny-ner:validation", "--labels", labels, "--output", output.to_str().unwrap(), "--epochs", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let done: serde_json::Value = distill_core::io::read_json(&output.join("stage-1-finetune/done.json")).unwrap();
    assert_eq!(done["eval"]["entities"], 2, "{done}");
    let recorded: serde_json::Value = distill_core::io::read_json(&output.join("run-config.json")).unwrap();
    assert!(recorded["train"].as_str().unwrap().ends_with("data/train-00000-of-00001.parquet"), "{recorded}");
    let out = run(&["eval", "--model", output.join("student").to_str().unwrap(), "--data", "hub:distill-test/tiny-ner:validation"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A split the repository does not hold, and a dataset the cache does not hold.
    let out = run(&["eval", "--model", output.join("student").to_str().unwrap(), "--data", "hub:distill-test/tiny-ner:test"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no data file for split `test`"), "{err}");
    let out = run(&["eval", "--model", output.join("student").to_str().unwrap(), "--data", "hub:distill-test/absent:train"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("not in the hub cache") && err.contains("HF_HUB_OFFLINE"), "{err}");
}

/// The `epoch_tokens` a finished stage logged (the tokens of its training set).
fn epoch_tokens(stage: &std::path::Path) -> u64 {
    let log = std::fs::read_to_string(stage.join("metrics.jsonl")).unwrap();
    log.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["epoch_tokens"].as_u64()).next().unwrap()
}

#[test]
fn a_sharded_hub_split_trains_on_every_shard_and_a_missing_shard_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("hf");
    let ner = parquet("ner.parquet");
    let (first, second) = ("data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet");
    lay_out_dataset(&home.join("hub"), "distill-test/sharded-ner", &[(first, ner.clone()), (second, ner.clone()), ("data/validation-00000-of-00001.parquet", ner.clone())]);
    lay_out_dataset(&home.join("hub"), "distill-test/partial-ner", &[(second, ner.clone()), ("data/validation-00000-of-00001.parquet", ner.clone())]);
    let base = dir.path().join("base");
    tiny_base_bert(&base, 1, 32, 4, 5);
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_distill")).args(args).env("HF_HOME", &home).env_remove("HF_HUB_CACHE").env("HF_HUB_OFFLINE", "1").output().unwrap();
    let train = |data: &str, output: &std::path::Path| {
        run(&["--strategy", "finetune", "--task", "token-classification", "--student", base.to_str().unwrap(), "--train", data, "--dev", "hub:distill-test/sharded-ner:validation", "--labels", "O,B-location,I-location,B-person", "--output", output.to_str().unwrap(), "--epochs", "1"])
    };
    let sharded = dir.path().join("sharded");
    let out = train("hub:distill-test/sharded-ner:train", &sharded);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let recorded: serde_json::Value = distill_core::io::read_json(&sharded.join("run-config.json")).unwrap();
    assert!(recorded["train"].as_str().unwrap().ends_with("data/train-[0-9][0-9][0-9][0-9][0-9]-of-00002.parquet"), "{recorded}");
    // Both shards were read: twice the tokens of one.
    let single = dir.path().join("single");
    assert!(train(ner.to_str().unwrap(), &single).status.success());
    assert_eq!(epoch_tokens(&sharded.join("stage-1-finetune")), 2 * epoch_tokens(&single.join("stage-1-finetune")));
    // A cache holding one of two shards is refused, naming what is missing.
    let out = train("hub:distill-test/partial-ner:train", &dir.path().join("partial"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("split `train` only in part, without shard 0") && err.contains("HF_HUB_OFFLINE"), "{err}");
    // A pattern given by hand reads the same way; a CoNLL pattern is refused by name.
    let snapshot = home.join("hub/datasets--distill-test--sharded-ner/snapshots/89abcdef0123456789abcdef0123456789abcdef");
    let by_hand = dir.path().join("by-hand");
    let out = train(snapshot.join("data/train-*.parquet").to_str().unwrap(), &by_hand);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(epoch_tokens(&by_hand.join("stage-1-finetune")), epoch_tokens(&sharded.join("stage-1-finetune")));
    let out = train(dir.path().join("*.conll").to_str().unwrap(), &dir.path().join("conll"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("give one CoNLL file"), "{err}");
}

#[test]
fn the_online_path_downloads_a_sharded_split_and_a_model_once_then_serves_them_offline() {
    use distill_tests::fake_hub::{COMMIT, FakeHub, RepoFiles};
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("hf");
    let ner = std::fs::read(parquet("ner.parquet")).unwrap();
    let base = dir.path().join("base");
    tiny_base_bert(&base, 1, 32, 4, 5);
    let model: RepoFiles = std::fs::read_dir(&base).unwrap().flatten().map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())).collect();
    assert!(model.contains_key("model.safetensors") && model.contains_key("config.json"), "{:?}", model.keys());
    let dataset: RepoFiles = [("data/train-00000-of-00002.parquet", &ner), ("data/train-00001-of-00002.parquet", &ner), ("data/validation-00000-of-00001.parquet", &ner)]
        .into_iter()
        .map(|(f, b)| (f.to_string(), b.clone()))
        .chain([("README.md".to_string(), b"# a tiny NER set".to_vec())])
        .collect();
    let hub = FakeHub::start([("datasets/distill-test/online-ner".to_string(), dataset), ("distill-test/tiny-base".to_string(), model)].into());
    let run = |args: &[&str], offline: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_distill"));
        command.args(args).current_dir(dir.path()).env("HF_HOME", &home).env("HF_ENDPOINT", &hub.endpoint).env_remove("HF_HUB_CACHE").env_remove("HF_HUB_OFFLINE");
        for proxy in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
            command.env_remove(proxy);
        }
        if offline {
            command.env("HF_HUB_OFFLINE", "1");
        }
        command.output().unwrap()
    };
    let train = |output: &str, offline: bool| {
        let args = ["--strategy", "finetune", "--task", "token-classification", "--student", "distill-test/tiny-base", "--train", "hub:distill-test/online-ner:train", "--dev", "hub:distill-test/online-ner:validation"];
        run(&[&args[..], &["--labels", "O,B-location,I-location,B-person", "--output", output, "--epochs", "1"]].concat(), offline)
    };
    let out = train("online", false);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let snapshot = home.join("hub/datasets--distill-test--online-ner/snapshots").join(COMMIT);
    for shard in ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet", "data/validation-00000-of-00001.parquet"] {
        assert_eq!(std::fs::read(snapshot.join(shard)).unwrap(), ner, "{shard}");
    }
    assert!(home.join("hub/models--distill-test--tiny-base/snapshots").join(COMMIT).join("model.safetensors").is_file());
    let requests = hub.requests();
    assert!(requests.iter().any(|r| r == "/api/datasets/distill-test/online-ner/revision/main"), "{requests:?}");
    assert!(requests.iter().any(|r| r == "/datasets/distill-test/online-ner/resolve/main/data/train-00001-of-00002.parquet"), "{requests:?}");
    assert!(!requests.iter().any(|r| r.contains("README")), "only the split's files are fetched: {requests:?}");
    // Both shards were trained on: as many tokens as the cached sharded split of the test above.
    let single = dir.path().join("single");
    let out = run(&["--strategy", "finetune", "--task", "token-classification", "--student", base.to_str().unwrap(), "--train", parquet("ner.parquet").to_str().unwrap(), "--dev", parquet("ner.parquet").to_str().unwrap(), "--labels", "O,B-location,I-location,B-person", "--output", single.to_str().unwrap(), "--epochs", "1"], true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(epoch_tokens(&dir.path().join("online/stage-1-finetune")), 2 * epoch_tokens(&single.join("stage-1-finetune")));
    // Offline, the same names resolve from the cache the first run filled, asking the hub nothing.
    let asked = hub.requests().len();
    let out = train("offline", true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(hub.requests().len(), asked);
    // A dataset neither cached nor on the hub: both places are reported.
    let out = run(&["eval", "--model", "online/student", "--data", "hub:distill-test/absent:train"], false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("not in the hub cache") && err.contains("listing the dataset's files"), "{err}");
}
