//! The official SQuAD evaluation, v1.1 (`evaluate-v1.1.py`) and v2.0 (`evaluate-v2.0.py`),
//! reproduced number for number: the same normalisation (Python `str.lower`, ASCII punctuation
//! removed, the articles a/an/the as whole words, Python's whitespace split), the same
//! treatment of missing predictions, thresholds and best-threshold search.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::data::squad::SquadFile;

/// Python's `str.isspace`: Unicode White_Space plus the separators U+001C..U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `\w` in a str regex.
fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Removes the whole words a, an and the, replacing each with a space (`re.sub(r'\b(a|an|the)\b', ' ', text)`).
fn remove_articles(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let boundary_before = i == 0 || !is_word_char(chars[i - 1]);
        if boundary_before {
            let matched = ["a", "an", "the"].iter().find_map(|article| {
                let a: Vec<char> = article.chars().collect();
                let end = i + a.len();
                let fits = end <= chars.len() && chars[i..end] == a[..];
                (fits && (end == chars.len() || !is_word_char(chars[end]))).then_some(a.len())
            });
            if let Some(len) = matched {
                out.push(' ');
                i += len;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The official `normalize_answer`.
pub fn normalize_answer(s: &str) -> String {
    let lower = s.to_lowercase();
    let no_punct: String = lower.chars().filter(|c| !c.is_ascii_punctuation()).collect();
    let no_articles = remove_articles(&no_punct);
    no_articles.split(is_python_space).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ")
}

fn tokens(s: &str) -> Vec<String> {
    normalize_answer(s).split(' ').filter(|t| !t.is_empty()).map(str::to_string).collect()
}

fn overlap(pred: &[String], gold: &[String]) -> usize {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in gold {
        *counts.entry(t).or_default() += 1;
    }
    let mut same = 0;
    for t in pred {
        if let Some(c) = counts.get_mut(t.as_str()).filter(|c| **c > 0) {
            *c -= 1;
            same += 1;
        }
    }
    same
}

fn f1_from(pred: &[String], gold: &[String], same: usize) -> f64 {
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / pred.len() as f64;
    let recall = same as f64 / gold.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// v1.1's `f1_score`: 0 whenever nothing overlaps, even for two empty answers.
pub fn f1_v1(prediction: &str, gold: &str) -> f64 {
    let (p, g) = (tokens(prediction), tokens(gold));
    f1_from(&p, &g, overlap(&p, &g))
}

/// v2.0's `compute_f1`: two empty answers agree (1), one empty answer scores 0.
pub fn f1_v2(prediction: &str, gold: &str) -> f64 {
    let (p, g) = (tokens(prediction), tokens(gold));
    if p.is_empty() || g.is_empty() {
        return f64::from(u8::from(p == g));
    }
    f1_from(&p, &g, overlap(&p, &g))
}

pub fn exact(prediction: &str, gold: &str) -> f64 {
    f64::from(u8::from(normalize_answer(prediction) == normalize_answer(gold)))
}

/// One question's score as the official scripts count it: exact 0 or 1, F1 in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionScore {
    pub id: String,
    pub has_answer: bool,
    pub exact: f64,
    pub f1: f64,
}

/// evaluate-v1.1.py per question, in dataset order: a question without a prediction scores 0.
pub fn per_question_v1(dataset: &SquadFile, predictions: &Map<String, Value>) -> Vec<QuestionScore> {
    dataset
        .questions()
        .map(|(_, qa)| {
            let (exact_score, f1) = match predictions.get(&qa.id) {
                Some(pred) => {
                    let pred = pred.as_str().unwrap_or_default();
                    let golds = qa.answers.iter().map(|a| a.text.as_str());
                    (golds.clone().map(|g| exact(pred, g)).fold(0.0, f64::max), golds.map(|g| f1_v1(pred, g)).fold(0.0, f64::max))
                }
                None => (0.0, 0.0),
            };
            QuestionScore { id: qa.id.clone(), has_answer: !qa.answers.is_empty(), exact: exact_score, f1 }
        })
        .collect()
}

/// evaluate-v1.1.py: questions without a prediction count as 0.
pub fn evaluate_v1(dataset: &SquadFile, predictions: &Map<String, Value>) -> Value {
    let scores = per_question_v1(dataset, predictions);
    let total = scores.len() as f64;
    let (em, f1) = (scores.iter().map(|s| s.exact).sum::<f64>(), scores.iter().map(|s| s.f1).sum::<f64>());
    json!({"exact_match": 100.0 * em / total, "f1": 100.0 * f1 / total})
}

/// Options of evaluate-v2.0.py: `--na-prob-file` and `--na-prob-thresh`.
pub struct V2Options<'a> {
    pub na_probs: Option<&'a Map<String, Value>>,
    pub na_prob_thresh: f64,
}

/// evaluate-v2.0.py's raw scores, before the no-answer threshold: answered questions only, in
/// dataset order; and whether each question of the dataset has an answer.
fn raw_scores_v2<'d>(dataset: &'d SquadFile, predictions: &Map<String, Value>) -> (Vec<QuestionScore>, HashMap<&'d str, bool>) {
    let mut raw = Vec::new();
    let mut has_ans: HashMap<&str, bool> = HashMap::new();
    for (_, qa) in dataset.questions() {
        has_ans.insert(&qa.id, !qa.answers.is_empty());
        let mut golds: Vec<&str> = qa.answers.iter().map(|a| a.text.as_str()).filter(|t| !normalize_answer(t).is_empty()).collect();
        if golds.is_empty() {
            golds.push("");
        }
        let Some(pred) = predictions.get(&qa.id) else { continue };
        let pred = pred.as_str().unwrap_or_default();
        let exact_score = golds.iter().map(|g| exact(pred, g)).fold(0.0, f64::max);
        let f1 = golds.iter().map(|g| f1_v2(pred, g)).fold(0.0, f64::max);
        raw.push(QuestionScore { id: qa.id.clone(), has_answer: !qa.answers.is_empty(), exact: exact_score, f1 });
    }
    (raw, has_ans)
}

/// `apply_no_ans_threshold`: a question whose no-answer probability exceeds the threshold
/// scores 1 if it has no answer, else 0.
fn apply_threshold(raw: &[QuestionScore], options: &V2Options<'_>) -> Vec<QuestionScore> {
    let na_prob = |qid: &str| options.na_probs.map_or(0.0, |m| m.get(qid).and_then(Value::as_f64).unwrap_or(0.0));
    raw.iter()
        .map(|q| {
            if na_prob(&q.id) > options.na_prob_thresh {
                let s = f64::from(u8::from(!q.has_answer));
                QuestionScore { exact: s, f1: s, ..q.clone() }
            } else {
                q.clone()
            }
        })
        .collect()
}

/// evaluate-v2.0.py per question, after the no-answer threshold: the questions its totals count
/// (those with a prediction), in dataset order.
pub fn per_question_v2(dataset: &SquadFile, predictions: &Map<String, Value>, options: &V2Options<'_>) -> Vec<QuestionScore> {
    apply_threshold(&raw_scores_v2(dataset, predictions).0, options)
}

/// evaluate-v2.0.py: questions without a prediction are left out of the totals.
pub fn evaluate_v2(dataset: &SquadFile, predictions: &Map<String, Value>, options: &V2Options<'_>) -> Value {
    let (raw, has_ans) = raw_scores_v2(dataset, predictions);
    let thresholded = apply_threshold(&raw, options);
    let summary = |filter: Option<bool>| {
        let picked: Vec<&QuestionScore> = thresholded.iter().filter(|q| filter.is_none_or(|f| q.has_answer == f)).collect();
        let n = picked.len() as f64;
        (100.0 * picked.iter().map(|q| q.exact).sum::<f64>() / n, 100.0 * picked.iter().map(|q| q.f1).sum::<f64>() / n, picked.len())
    };
    let mut out = Map::new();
    let (e, f, n) = summary(None);
    out.insert("exact".into(), json!(e));
    out.insert("f1".into(), json!(f));
    out.insert("total".into(), json!(n));
    for (name, filter) in [("HasAns", true), ("NoAns", false)] {
        if has_ans.values().any(|h| *h == filter) {
            let (e, f, n) = summary(Some(filter));
            out.insert(format!("{name}_exact"), json!(e));
            out.insert(format!("{name}_f1"), json!(f));
            out.insert(format!("{name}_total"), json!(n));
        }
    }
    if let Some(na_probs) = options.na_probs {
        let num_no_ans = has_ans.values().filter(|h| !**h).count();
        for name in ["exact", "f1"] {
            let scores: HashMap<&str, f64> = raw.iter().map(|q| (q.id.as_str(), if name == "exact" { q.exact } else { q.f1 })).collect();
            let (best, thresh) = best_threshold(na_probs, &scores, predictions, &has_ans, num_no_ans);
            out.insert(format!("best_{name}"), json!(best));
            out.insert(format!("best_{name}_thresh"), json!(thresh));
        }
    }
    Value::Object(out)
}

/// `find_best_thresh`: walk the questions by rising no-answer probability (a stable sort of the
/// probability file, as Python's `sorted`), predicting no answer below each threshold.
fn best_threshold(na_probs: &Map<String, Value>, scores: &HashMap<&str, f64>, predictions: &Map<String, Value>, has_ans: &HashMap<&str, bool>, num_no_ans: usize) -> (f64, f64) {
    let mut order: Vec<(&String, f64)> = na_probs.iter().map(|(k, v)| (k, v.as_f64().unwrap_or(0.0))).collect();
    order.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
    let mut current = num_no_ans as f64;
    let (mut best, mut best_thresh) = (current, 0.0);
    for (qid, prob) in order {
        let Some(score) = scores.get(qid.as_str()) else { continue };
        let diff = if has_ans.get(qid.as_str()).copied().unwrap_or(false) {
            *score
        } else if predictions.get(qid).and_then(Value::as_str).is_some_and(|p| !p.is_empty()) {
            -1.0
        } else {
            0.0
        };
        current += diff;
        if current > best {
            best = current;
            best_thresh = prob;
        }
    }
    (100.0 * best / scores.len() as f64, best_thresh)
}
