//! The rules of a run configuration, of a model's config.json and of the data readers, as a
//! library caller meets them: each nonsensical value is refused with its field and flag named,
//! where it used to be taken silently (or panicked inside burn).

use std::path::Path;

use distill_core::data::classification::read_examples;
use distill_core::data::squad::SquadFile;
use distill_core::recipe::RunConfig;
use distill_core::strategy::Strategy;

fn base() -> RunConfig {
    RunConfig { teacher: Some("t".into()), train: Some("x.json".into()), output: Some("out".into()), ..RunConfig::default() }
}

#[test]
fn the_default_configuration_is_valid() {
    base().validate().unwrap();
    RunConfig { strategy: Strategy::Tinybert, ..base() }.validate().unwrap();
}

#[test]
fn each_nonsensical_setting_is_refused_naming_its_field_and_flag() {
    type Edit = fn(&mut RunConfig);
    let cases: Vec<(Edit, &str)> = vec![
        (|c| c.train_config.batch_size = 0, "train_config.batch_size (--batch-size) is 0"),
        (|c| c.train_config.grad_accum = 0, "train_config.grad_accum (--grad-accum) is 0"),
        (|c| c.train_config.epochs = 0, "train_config.epochs (--epochs) is 0"),
        (|c| c.train_config.max_steps = Some(0), "train_config.max_steps (--max-steps) is 0"),
        (|c| c.train_config.eval_every = Some(0), "--eval-every"),
        (|c| c.train_config.patience = Some(0), "--patience"),
        (|c| c.train_config.save_every = 0, "--save-every"),
        (|c| c.train_config.learning_rate = -1e-5, "train_config.learning_rate (--learning-rate) is -0.00001"),
        (|c| c.train_config.learning_rate = f64::NAN, "(--learning-rate) is NaN"),
        (|c| c.train_config.warmup_ratio = 1.5, "(--warmup-ratio) is 1.5: expected a number in [0, 1]"),
        (|c| c.train_config.warmup_ratio = -0.1, "(--warmup-ratio) is -0.1"),
        (|c| c.train_config.optimizer.weight_decay = -0.01, "(--weight-decay) is -0.01"),
        (|c| c.train_config.optimizer.max_grad_norm = Some(-1.0), "train_config.optimizer.max_grad_norm (--max-grad-norm) is -1"),
        (|c| c.train_config.optimizer.max_grad_norm = Some(0.0), "(--max-grad-norm) is 0"),
        (|c| c.train_config.optimizer.beta2 = 1.0, "train_config.optimizer.beta2"),
        (|c| c.train_config.optimizer.epsilon = 0.0, "train_config.optimizer.epsilon"),
        (|c| c.prediction.temperature = f64::INFINITY, "prediction.temperature (--temperature) is inf"),
        (|c| c.prediction.temperature = 0.0, "(--temperature) is 0"),
        (|c| c.prediction.weight = 1.5, "prediction.weight (--distill-weight) is 1.5"),
        (|c| c.intermediate.attention_weight = -1.0, "intermediate.attention_weight (--attention-weight) is -1"),
        (|c| c.intermediate.hidden_weight = f64::NAN, "(--hidden-weight) is NaN"),
        (|c| c.intermediate.embedding_weight = -0.5, "(--embedding-weight) is -0.5"),
        (|c| c.features.doc_stride = 0, "features.doc_stride (--doc-stride) is 0"),
        (|c| c.features.max_query_length = 0, "features.max_query_length (--max-query-length) is 0"),
        (|c| c.features.max_seq_len = 0, "features.max_seq_len (--max-seq-len) is 0"),
        (|c| c.decode.max_answer_length = 0, "--max-answer-length"),
        (|c| c.decode.null_threshold = Some(f64::NAN), "--null-threshold"),
        (|c| c.eval_batch_size = 0, "--eval-batch-size"),
        (|c| c.start_stage = Some(0), "--start-stage"),
        (|c| c.student_layers = Some(0), "--student-layers"),
        (|c| c.labels = Some(vec!["a".into(), "a".into()]), "names \"a\" twice"),
        (|c| c.labels = Some(vec![]), "(--labels)"),
    ];
    for (edit, expected) in cases {
        let mut c = base();
        edit(&mut c);
        let e = c.validate().expect_err(expected).to_string();
        assert!(e.contains(expected), "{e}\n  expected to contain {expected:?}");
    }
}

#[test]
fn qa_windows_must_fit_the_sequence_length() {
    use distill_core::task::qa::features::FeatureConfig;
    FeatureConfig::default().validate().unwrap();
    let refused = |f: FeatureConfig, expected: &str| {
        let e = f.validate().unwrap_err().to_string();
        assert!(e.contains(expected), "{e}\n  expected {expected:?}");
    };
    refused(FeatureConfig { doc_stride: 384, ..FeatureConfig::default() }, "--doc-stride (features.doc_stride) is 384: expected at least 1 and fewer than --max-seq-len (384)");
    refused(FeatureConfig { max_seq_len: 128, ..FeatureConfig::default() }, "--doc-stride (features.doc_stride) is 128");
    refused(FeatureConfig { max_query_length: 400, ..FeatureConfig::default() }, "--max-query-length (features.max_query_length) is 400");
    refused(FeatureConfig { doc_stride: 0, ..FeatureConfig::default() }, "is 0");
}

#[test]
fn settings_no_stage_of_the_strategy_reads_are_refused() {
    let refused = |c: RunConfig, expected: &str| {
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(expected), "{e}\n  expected {expected:?}");
    };
    let extra = vec!["u".to_string()];
    refused(RunConfig { strategy: Strategy::Intermediate, extra_teachers: extra.clone(), ..base() }, "--extra-teacher averages the soft targets of a prediction stage; strategy intermediate has none");
    refused(RunConfig { strategy: Strategy::Intermediate, extra_teachers: extra.clone(), intermediate_prediction_weight: 1.0, ..base() }, "joint stages learn from --teacher alone");
    refused(RunConfig { strategy: Strategy::Finetune, extra_teachers: extra.clone(), ..base() }, "strategy finetune has none");
    RunConfig { strategy: Strategy::Tinybert, extra_teachers: extra.clone(), ..base() }.validate().unwrap();
    RunConfig { extra_teachers: extra, ..base() }.validate().unwrap();
    refused(RunConfig { intermediate_prediction_weight: 0.5, ..base() }, "strategy prediction has none");
    refused(RunConfig { general_teacher: Some("g".into()), ..base() }, "--general-teacher");
    refused(RunConfig { teacher: None, ..base() }, "strategy prediction needs --teacher");
    refused(RunConfig { strategy: Strategy::Intermediate, intermediate_epochs: 0, ..base() }, "intermediate_epochs (--intermediate-epochs) is 0");
    // Intermediate epochs are not read by a prediction run.
    RunConfig { intermediate_epochs: 0, ..base() }.validate().unwrap();
}

#[test]
fn sequence_lengths_beyond_the_position_table_are_refused_and_defaults_fit_it() {
    let config = distill_tests::tiny_config(100, 1, 8, 2);
    assert_eq!(config.sequence_length(None, 1024, "--max-seq-len", "m").unwrap(), 512);
    assert_eq!(config.sequence_length(Some(384), 1024, "--max-seq-len", "m").unwrap(), 384);
    let e = config.sequence_length(Some(1024), 384, "--max-seq-len", "runs/t").unwrap_err().to_string();
    assert_eq!(e, "--max-seq-len is 1024, longer than the 512 positions of model runs/t: give --max-seq-len 512 or less");
    assert!(config.sequence_length(Some(0), 384, "--max-seq-len", "m").is_err());
    let e = distill_core::bench::random_batch(&config, 0, 16, 1).unwrap_err().to_string();
    assert!(e.contains("--batch is 0"), "{e}");
    let e = distill_core::bench::random_batch(&config, 2, 600, 1).unwrap_err().to_string();
    assert!(e.contains("--seq is 600"), "{e}");
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn delimited_files_keep_their_columns_or_are_refused_by_line() {
    let dir = tempfile::tempdir().unwrap();
    // CSV quoting: commas, quotes and a line break inside a text.
    let csv = write(dir.path(), "a.csv", "label,text,text_pair\npos,\"good, \"\"very\"\" good\",\"b\nc\"\nneg,bad,worse\n");
    let examples = read_examples(&csv).unwrap();
    assert_eq!(examples.len(), 2);
    assert_eq!(examples[0].text, "good, \"very\" good");
    assert_eq!(examples[0].text_pair.as_deref(), Some("b\nc"));
    assert_eq!((examples[1].label.as_str(), examples[1].at.as_str()), ("neg", "line 4"));
    // A tab inside a TSV text shifts the columns: refused with its line.
    let tsv = write(dir.path(), "a.tsv", "text\tlabel\nfine text\tpos\na text\twith a tab\tneg\n");
    let e = read_examples(&tsv).unwrap_err().to_string();
    assert!(e.contains("a.tsv") && e.contains("line 3") && e.contains("has 3 fields where the header has 2"), "{e}");
    // TSV has no quoting: a quote is an ordinary character.
    let tsv = write(dir.path(), "q.tsv", "text\tlabel\n\"quoted\" start\tpos\n");
    assert_eq!(read_examples(&tsv).unwrap()[0].text, "\"quoted\" start");
    // Too few fields.
    let short = write(dir.path(), "s.csv", "text,label\nonly text\n");
    let e = read_examples(&short).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("has 1 fields"), "{e}");
    let e = read_examples(&write(dir.path(), "h.csv", "text,other\nx,y\n")).unwrap_err().to_string();
    assert!(e.contains("needs a `label` column"), "{e}");
    let e = read_examples(&write(dir.path(), "e.csv", "")).unwrap_err().to_string();
    assert!(e.contains("e.csv") && e.contains("empty"), "{e}");
    let e = read_examples(&write(dir.path(), "n.csv", "text,label\n")).unwrap_err().to_string();
    assert!(e.contains("holds no examples"), "{e}");
}

#[test]
fn json_lines_take_numeric_labels_and_refuse_mixed_pairs_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let ok = write(dir.path(), "a.jsonl", "{\"text\": \"a\", \"label\": 1}\n\n{\"text\": \"b\", \"label\": \"neg\"}\n");
    let examples = read_examples(&ok).unwrap();
    assert_eq!((examples[0].label.as_str(), examples[1].label.as_str(), examples[1].at.as_str()), ("1", "neg", "line 3"));
    let mixed = write(dir.path(), "m.jsonl", "{\"text\": \"a\", \"text_pair\": \"b\", \"label\": \"x\"}\n{\"text\": \"c\", \"label\": \"y\"}\n");
    let e = read_examples(&mixed).unwrap_err().to_string();
    assert!(e.contains("m.jsonl") && e.contains("line 2") && e.contains("has no text_pair, while line 1 has one"), "{e}");
    let bad = write(dir.path(), "b.jsonl", "{\"text\": \"a\", \"label\": [1]}\n");
    let e = read_examples(&bad).unwrap_err().to_string();
    assert!(e.contains("line 1") && e.contains("column `label` must hold a string or a number"), "{e}");
}

#[test]
fn a_question_whose_every_answer_was_skipped_is_reported_for_removal_not_kept_as_unanswerable() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "v1.json",
        r#"{"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "Alpha beta gamma.", "qas": [
            {"id": "good", "question": "Which?", "answers": [{"text": "beta", "answer_start": 6}]},
            {"id": "bad", "question": "Which?", "answers": [{"text": "beta", "answer_start": 0}]},
            {"id": "half", "question": "Which?", "answers": [{"text": "beta", "answer_start": 1}, {"text": "gamma", "answer_start": 11}]}]}]}]}"#,
    );
    let (mut squad, report) = SquadFile::read(&path, false).unwrap();
    assert_eq!(report.emptied_questions, ["bad"]);
    assert_eq!(report.skipped_answers.len(), 2);
    squad.remove_questions(&report.emptied_questions);
    let ids: Vec<&str> = squad.questions().map(|(_, q)| q.id.as_str()).collect();
    assert_eq!(ids, ["good", "half"]);
    assert!(SquadFile::read(&path, true).unwrap_err().to_string().contains("question bad"));
}
