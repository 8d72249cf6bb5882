//! The learned topic classifier: multinomial logistic regression over hashed features of the
//! question's text. Pure: training and prediction take their data as arguments; nothing here
//! reads a file, a clock or the network.
//!
//! Features (all hashed into `DIM` buckets, so a model is a fixed-size weight table):
//! - word unigrams and bigrams after light stemming (plurals, past tense, -ing), so "charged",
//!   "charges" and "charge" are one feature;
//! - negation marking: the three words after "not", "won't", "never"… also count as `NOT_word`;
//! - character 3- to 5-grams inside each word (with word boundaries), so "refnd" and "deliverd"
//!   still share most of their evidence with the words they misspell.
//!
//! Training is plain SGD on the log loss with L2 regularisation, a fixed-seed shuffle and a
//! decaying step, so the same examples always give the same model. Probabilities are calibrated
//! by a softmax temperature fitted on cross-validation folds of the training examples, and the
//! abstention threshold (below it a question counts as unsure) is chosen on the same folds.

use std::collections::HashMap;

/// log2 of the number of feature buckets.
pub const DIM_BITS: u32 = 18;
const DIM: usize = 1 << DIM_BITS;

/// A labelled question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub text: String,
    pub topic: String,
}

/// The choices made by cross-validation on the training examples (see `helphive classify --cv`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub epochs: u32,
    /// L2 regularisation strength.
    pub lambda: f32,
    /// Initial step size.
    pub step: f32,
    /// Weight of each character n-gram relative to a word feature.
    pub char_weight: f32,
    /// Each feature counts once however often it occurs (a word repeated is not more evidence).
    pub binary: bool,
    /// Average the weights at the end of each epoch of the second half of training (smoother
    /// than the last step's weights).
    pub average: bool,
    /// Folds for calibration (temperature and threshold).
    pub folds: usize,
    /// Accuracy wanted on the questions above the abstention threshold (at most `max_abstain`
    /// of them abstain).
    pub target_accuracy: f32,
    pub max_abstain: f32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            epochs: 20,
            lambda: 1e-5,
            step: 1.0,
            char_weight: 0.4,
            binary: true,
            average: true,
            folds: 5,
            target_accuracy: 0.97,
            max_abstain: 0.15,
        }
    }
}

/// A trained model: one weight per (feature bucket, topic), stored feature-major so that
/// prediction reads one short contiguous run per feature.
#[derive(Clone)]
pub struct Model {
    classes: Vec<String>,
    weights: Vec<f32>,
    bias: Vec<f32>,
    params: Params,
    /// Softmax temperature fitted on cross-validation folds (1.0 when there were too few examples).
    pub temperature: f32,
    /// Below this probability of the best topic, the model abstains (the question is unsure).
    pub threshold: f32,
    /// How many examples it was trained on.
    pub examples: usize,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("classes", &self.classes)
            .field("examples", &self.examples)
            .field("temperature", &self.temperature)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

/// One training example as SGD sees it: its features, its class and its weight.
type Row = (Vec<(u32, f32)>, usize, f32);

/// What the model says about one text: every topic with its calibrated probability, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub ranked: Vec<(String, f32)>,
}

impl Prediction {
    pub fn best(&self) -> (&str, f32) {
        self.ranked.first().map(|(t, p)| (t.as_str(), *p)).unwrap_or(("", 0.0))
    }

    pub fn probability(&self, topic: &str) -> f32 {
        self.ranked.iter().find(|(t, _)| t == topic).map(|(_, p)| *p).unwrap_or(0.0)
    }
}

impl Model {
    /// Trains on `examples` with `params`, then fits the temperature and the abstention threshold
    /// on `params.folds` cross-validation folds of the same examples.
    pub fn train(examples: &[Example], params: Params) -> Model {
        Self::train_weighted(examples, &[], params)
    }

    /// `train` where example `i` counts `weights[i]` times in the loss (missing weights are 1):
    /// a business's own questions can weigh more than the generic ones. Calibration treats every
    /// example alike.
    pub fn train_weighted(examples: &[Example], weights: &[f32], params: Params) -> Model {
        if params.folds < 2 || examples.len() < params.folds * 6 {
            return Self::fit(examples, weights, params);
        }
        // The final fit and the folds are independent: on a machine with several cores they run
        // side by side (training is what a server or the demo waits for at start).
        let (mut model, oof) = std::thread::scope(|s| {
            let fit = s.spawn(|| Self::fit(examples, weights, params));
            let oof = cross_validate_weighted(examples, weights, params);
            (fit.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), oof)
        });
        model.temperature = fit_temperature(&oof);
        model.threshold = fit_threshold(&oof, model.temperature, params.target_accuracy, params.max_abstain);
        model
    }

    /// Trains without calibration (temperature 1, no threshold); `weights` as in `train_weighted`.
    fn fit(examples: &[Example], weights: &[f32], params: Params) -> Model {
        let mut classes: Vec<String> = examples.iter().map(|e| e.topic.clone()).collect();
        classes.sort();
        classes.dedup();
        let k = classes.len();
        let index: HashMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
        let data: Vec<Row> = examples
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let w = weights.get(i).copied().unwrap_or(1.0);
                (features(&e.text, params.char_weight, params.binary), index[e.topic.as_str()], w)
            })
            .collect();
        let mut v = vec![0f32; DIM * k];
        let mut bias = vec![0f32; k];
        // The weights are `scale * v`: L2 decay multiplies one number instead of every weight.
        let mut scale = 1f32;
        let mut order: Vec<usize> = (0..data.len()).collect();
        let mut rng = SplitMix(0x5eed_0011);
        let mut t = 0f32;
        let mut logits = vec![0f32; k];
        let mut sum: Vec<f32> = Vec::new();
        let mut sum_bias = vec![0f32; k];
        let mut averaged = 0u32;
        for epoch in 0..params.epochs {
            shuffle(&mut order, &mut rng);
            for &i in &order {
                let (x, y, w) = &data[i];
                let step = params.step / (1.0 + params.step * params.lambda * t);
                t += 1.0;
                scale *= 1.0 - step * params.lambda;
                if scale < 1e-4 {
                    v.iter_mut().for_each(|w| *w *= scale);
                    scale = 1.0;
                }
                logits.copy_from_slice(&bias);
                for &(f, val) in x {
                    let row = &v[f as usize * k..f as usize * k + k];
                    for c in 0..k {
                        logits[c] += scale * row[c] * val;
                    }
                }
                softmax_in_place(&mut logits);
                for c in 0..k {
                    let g = (logits[c] - f32::from(u8::from(c == *y))) * w;
                    bias[c] -= step * g;
                    let d = step * g / scale;
                    for &(f, val) in x {
                        v[f as usize * k + c] -= d * val;
                    }
                }
            }
            if params.average && epoch >= params.epochs / 2 {
                if sum.is_empty() {
                    sum = vec![0f32; v.len()];
                }
                sum.iter_mut().zip(&v).for_each(|(s, w)| *s += scale * w);
                sum_bias.iter_mut().zip(&bias).for_each(|(s, b)| *s += b);
                averaged += 1;
            }
        }
        if averaged > 0 {
            let n = averaged as f32;
            v = sum;
            v.iter_mut().for_each(|w| *w /= n);
            bias = sum_bias;
            bias.iter_mut().for_each(|b| *b /= n);
        } else {
            v.iter_mut().for_each(|w| *w *= scale);
        }
        Model { classes, weights: v, bias, params, temperature: 1.0, threshold: 0.0, examples: examples.len() }
    }

    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    pub fn params(&self) -> Params {
        self.params
    }

    /// Raw scores (before temperature and softmax), in the order of `classes()`.
    pub fn logits(&self, text: &str) -> Vec<f32> {
        self.logits_of(&features(text, self.params.char_weight, self.params.binary))
    }

    fn logits_of(&self, x: &[(u32, f32)]) -> Vec<f32> {
        let k = self.classes.len();
        let mut out = self.bias.clone();
        for &(f, val) in x {
            let row = &self.weights[f as usize * k..f as usize * k + k];
            for c in 0..k {
                out[c] += row[c] * val;
            }
        }
        out
    }

    /// Calibrated probabilities of every topic, best first.
    pub fn predict(&self, text: &str) -> Prediction {
        let mut p = self.logits(text);
        p.iter_mut().for_each(|l| *l /= self.temperature);
        softmax_in_place(&mut p);
        let mut ranked: Vec<(String, f32)> = self.classes.iter().cloned().zip(p).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Prediction { ranked }
    }

    /// The words and fragments that pushed `text` towards `topic` most (largest contribution to
    /// its score relative to the average topic), strongest first.
    pub fn explain(&self, text: &str, topic: &str, n: usize) -> Vec<(String, f32)> {
        let Some(c) = self.classes.iter().position(|t| t == topic) else { return Vec::new() };
        let k = self.classes.len();
        let mut by_name: HashMap<String, f32> = HashMap::new();
        for_each_feature(text, self.params.char_weight, &mut |name: &str, f: u32, val: f32| {
            let row = &self.weights[f as usize * k..f as usize * k + k];
            let mean = row.iter().sum::<f32>() / k as f32;
            *by_name.entry(name.to_string()).or_default() += (row[c] - mean) * val;
        });
        // Normalisation scales every feature alike, so it is left out of the ranking.
        let mut out: Vec<(String, f32)> = by_name.into_iter().filter(|(_, w)| *w > 0.0).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(n);
        out
    }

    /// Bytes of the weight table.
    pub fn size_bytes(&self) -> usize {
        self.weights.len() * std::mem::size_of::<f32>()
    }
}

/// Out-of-fold raw logits for every example, with the index of its true class among the
/// classes of the whole set.
#[derive(Debug, Clone)]
pub struct OutOfFold {
    pub classes: Vec<String>,
    /// (logits in the order of `classes`, true class).
    pub rows: Vec<(Vec<f32>, usize)>,
}

/// Trains on all folds but one and scores the one left out, for each fold. Folds are made by a
/// fixed-seed shuffle, so they are the same on every run.
pub fn cross_validate(examples: &[Example], params: Params) -> OutOfFold {
    cross_validate_weighted(examples, &[], params)
}

/// `cross_validate` with the example weights of `Model::train_weighted`.
fn cross_validate_weighted(examples: &[Example], weights: &[f32], params: Params) -> OutOfFold {
    let mut classes: Vec<String> = examples.iter().map(|e| e.topic.clone()).collect();
    classes.sort();
    classes.dedup();
    let mut order: Vec<usize> = (0..examples.len()).collect();
    shuffle(&mut order, &mut SplitMix(0xf01d));
    let folds = params.folds.max(2);
    let mut rows: Vec<Option<(Vec<f32>, usize)>> = vec![None; examples.len()];
    // Each fold trains on its own, so the folds run on as many threads as there are cores; the
    // results are combined in fold order, so they do not depend on the threads.
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, folds);
    let models: Vec<Model> = std::thread::scope(|s| {
        let order = &order;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..folds)
                        .step_by(threads)
                        .map(|fold| {
                            let kept: Vec<usize> =
                                order.iter().enumerate().filter(|(i, _)| i % folds != fold).map(|(_, &j)| j).collect();
                            let train: Vec<Example> = kept.iter().map(|&j| examples[j].clone()).collect();
                            let fold_weights: Vec<f32> =
                                kept.iter().map(|&j| weights.get(j).copied().unwrap_or(1.0)).collect();
                            (fold, Model::fit(&train, &fold_weights, params))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut fitted: Vec<(usize, Model)> =
            handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect();
        fitted.sort_by_key(|(fold, _)| *fold);
        fitted.into_iter().map(|(_, m)| m).collect()
    });
    for (fold, model) in models.iter().enumerate() {
        for (i, &j) in order.iter().enumerate() {
            if i % folds != fold {
                continue;
            }
            let l = model.logits(&examples[j].text);
            // A class missing from this fold's training set gets no chance at all.
            let full: Vec<f32> = classes
                .iter()
                .map(|c| model.classes.iter().position(|m| m == c).map(|p| l[p]).unwrap_or(-1e9))
                .collect();
            let y = classes.iter().position(|c| *c == examples[j].topic).unwrap_or(0);
            rows[j] = Some((full, y));
        }
    }
    OutOfFold { classes, rows: rows.into_iter().flatten().collect() }
}

impl OutOfFold {
    /// Share of examples whose best class is the true one.
    pub fn accuracy(&self) -> f32 {
        let right = self.rows.iter().filter(|(l, y)| argmax(l) == *y).count();
        right as f32 / self.rows.len().max(1) as f32
    }

    /// Mean negative log-likelihood at temperature `t`.
    pub fn nll(&self, t: f32) -> f32 {
        let mut sum = 0f64;
        for (l, y) in &self.rows {
            let mut p: Vec<f32> = l.iter().map(|x| x / t).collect();
            softmax_in_place(&mut p);
            sum -= f64::from(p[*y].max(1e-9)).ln();
        }
        (sum / self.rows.len().max(1) as f64) as f32
    }
}

/// The temperature with the least out-of-fold log loss, on a log-spaced grid.
fn fit_temperature(oof: &OutOfFold) -> f32 {
    let mut best = (f32::INFINITY, 1.0);
    for i in 0..=80 {
        let t = 0.1 * 1.05f32.powi(i);
        let nll = oof.nll(t);
        if nll < best.0 {
            best = (nll, t);
        }
    }
    best.1
}

/// The lowest threshold at which the out-of-fold questions above it are `target` accurate, but
/// never one that would abstain on more than `max_abstain` of them.
fn fit_threshold(oof: &OutOfFold, t: f32, target: f32, max_abstain: f32) -> f32 {
    let mut scored: Vec<(f32, bool)> = oof
        .rows
        .iter()
        .map(|(l, y)| {
            let mut p: Vec<f32> = l.iter().map(|x| x / t).collect();
            softmax_in_place(&mut p);
            let best = argmax(&p);
            (p[best], best == *y)
        })
        .collect();
    if scored.is_empty() {
        return 0.0;
    }
    // Most confident first: walk down, keeping the last cut that is accurate enough.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n = scored.len();
    let min_kept = ((1.0 - max_abstain) * n as f32).ceil() as usize;
    let mut right = 0;
    let mut cut = None;
    for (i, (p, ok)) in scored.iter().enumerate() {
        right += usize::from(*ok);
        let kept = i + 1;
        let ties_next = scored.get(i + 1).is_some_and(|(q, _)| q == p);
        if !ties_next && right as f32 >= target * kept as f32 {
            cut = Some(kept);
        }
    }
    // Keep at least `min_kept`: the threshold is the probability of the last question kept.
    let kept = cut.unwrap_or(min_kept).max(min_kept).min(n);
    scored[kept - 1].0
}

pub(crate) fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

pub(crate) fn softmax_in_place(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    if sum > 0.0 {
        v.iter_mut().for_each(|x| *x /= sum);
    }
}

/// The hashed, L2-normalised feature vector of `text`.
pub fn features(text: &str, char_weight: f32, binary: bool) -> Vec<(u32, f32)> {
    let mut out = Vec::with_capacity(text.len() * 4);
    for_each_feature(text, char_weight, &mut |_: &str, f: u32, v: f32| out.push((f, v)));
    if binary {
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        out.dedup_by_key(|(f, _)| *f);
    }
    let norm = out.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        out.iter_mut().for_each(|(_, v)| *v /= norm);
    }
    out
}

/// Words that negate the next few words.
const NEGATORS: &[&str] = &[
    "not", "no", "never", "cannot", "cant", "wont", "dont", "doesnt", "didnt", "isnt", "wasnt", "arent", "havent",
    "hasnt", "couldnt", "wouldnt", "nothing", "nobody", "without", "aint", "nor",
];
/// How many words a negation reaches.
const NEGATION_SPAN: usize = 3;

/// Calls `sink(name, bucket, value)` for every feature of `text`. The name is only built for
/// explanations; the hash is computed from the same bytes either way.
fn for_each_feature(text: &str, char_weight: f32, sink: &mut dyn FnMut(&str, u32, f32)) {
    let mut prev = String::from("^");
    let mut negated = 0usize;
    let mut name = String::new();
    let mut grams = String::new();
    let mut bounds: Vec<usize> = Vec::new();
    for token in tokens(text) {
        let word = match token {
            Token::Break => {
                negated = 0;
                prev.clear();
                prev.push('^');
                continue;
            }
            Token::Mention => {
                sink("@mention", hash(b'm', "@"), 1.0);
                continue;
            }
            Token::Symbol(c) => {
                name.clear();
                name.push(c);
                sink(&name, hash(b's', &name), 1.0);
                continue;
            }
            Token::Word(w) => w,
        };
        let number = word.chars().all(|c| c.is_ascii_digit());
        let s = if number { "<num>".to_string() } else { stem(&word) };
        sink(&s, hash(b'w', &s), 1.0);
        name.clear();
        name.push_str(&prev);
        name.push(' ');
        name.push_str(&s);
        sink(&name, hash(b'b', &name), 1.0);
        if negated > 0 {
            name.clear();
            name.push_str("NOT_");
            name.push_str(&s);
            sink(&name, hash(b'n', &name), 1.0);
            negated -= 1;
        }
        if NEGATORS.contains(&word.as_str()) {
            negated = NEGATION_SPAN;
        }
        if !number && char_weight > 0.0 {
            grams.clear();
            grams.push('<');
            grams.push_str(&word);
            grams.push('>');
            bounds.clear();
            bounds.extend(grams.char_indices().map(|(i, _)| i));
            bounds.push(grams.len());
            let chars = bounds.len() - 1;
            for n in 3..=5 {
                if chars < n || (n == 3 && chars == 3) {
                    // "<a>" says nothing the word feature does not.
                    continue;
                }
                for i in 0..=chars - n {
                    let g = &grams[bounds[i]..bounds[i + n]];
                    sink(g, hash(b'c', g), char_weight);
                }
            }
        }
        prev = s;
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    /// An @handle: which one rarely says anything about the topic.
    Mention,
    /// An emoji or other pictograph, kept as itself.
    Symbol(char),
    /// Sentence punctuation: ends a negation and a bigram.
    Break,
}

/// Lowercase words (letters and digits; apostrophes dropped, so "won't" is "wont"), hashtags as
/// their words, mentions, pictographs and sentence breaks.
fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut mention = false;
    let flush = |word: &mut String, mention: &mut bool, out: &mut Vec<Token>| {
        if *mention {
            out.push(Token::Mention);
        } else if !word.is_empty() {
            out.push(Token::Word(std::mem::take(word)));
        }
        word.clear();
        *mention = false;
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if (c == '\'' || c == '\u{2019}') && !word.is_empty() {
            // won't, it's: one word.
        } else if c == '@' && word.is_empty() {
            mention = true;
        } else if c == '_' && mention {
        } else {
            flush(&mut word, &mut mention, &mut out);
            match c {
                '.' | ',' | '!' | '?' | ';' | ':' | '(' | ')' | '"' | '\n' if out.last() != Some(&Token::Break) => {
                    out.push(Token::Break)
                }
                c if !c.is_ascii() && !c.is_whitespace() && !is_joiner(c) => out.push(Token::Symbol(c)),
                _ => {}
            }
        }
    }
    flush(&mut word, &mut mention, &mut out);
    out
}

/// Zero-width joiners and variation selectors inside emoji sequences.
fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200d}' | '\u{fe0e}' | '\u{fe0f}') || ('\u{1f3fb}'..='\u{1f3ff}').contains(&c)
}

/// Light suffix stripping for English: plurals, past tense and -ing, then a final e, so that
/// charge/charges/charged and ship/shipped/shipping meet. Not a full stemmer on purpose: the
/// character n-grams carry what it misses.
pub fn stem(word: &str) -> String {
    let mut s = word.to_string();
    let n = s.chars().count();
    if n <= 3 || !s.is_ascii() {
        return s;
    }
    if s.ends_with("ies") && n > 4 {
        s.truncate(s.len() - 3);
        s.push('y');
    } else if s.ends_with("sses") || s.ends_with("ches") || s.ends_with("shes") || s.ends_with("xes") {
        s.truncate(s.len() - 2);
    } else if s.ends_with('s') && !s.ends_with("ss") && !s.ends_with("us") && !s.ends_with("is") {
        s.truncate(s.len() - 1);
    }
    let suffix = if s.ends_with("ied") && s.len() > 4 {
        s.truncate(s.len() - 3);
        s.push('y');
        false
    } else if s.ends_with("ed") && !s.ends_with("eed") && s.len() > 4 {
        s.truncate(s.len() - 2);
        true
    } else if s.ends_with("ing") && s.len() > 5 {
        s.truncate(s.len() - 3);
        true
    } else {
        false
    };
    let b = s.as_bytes();
    if suffix && b.len() > 3 {
        let (x, y) = (b[b.len() - 2], b[b.len() - 1]);
        if x == y && !matches!(y, b'l' | b's' | b'z' | b'e' | b'o') {
            s.truncate(s.len() - 1);
        }
    }
    if s.len() > 3 && s.ends_with('e') && !s.ends_with("ee") {
        s.truncate(s.len() - 1);
    }
    s
}

/// FNV-1a over a namespace byte and the token, folded into `DIM` buckets.
fn hash(namespace: u8, s: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in std::iter::once(namespace).chain(s.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ((h ^ (h >> 29)) as u32) & (DIM as u32 - 1)
}

/// A small deterministic generator for shuffling (the same sequence on every platform).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn shuffle(v: &mut [usize], rng: &mut SplitMix) {
    for i in (1..v.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// Reads labelled questions in the JSONL format of `data/` (`{"text", "topic", "function"}` per
/// line; blank lines skipped). `topic_of_function` maps a line that gives only a function to its
/// topic. Errors name the line.
pub fn parse_jsonl(
    text: &str,
    topic_of_function: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(Example, Option<String>)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let Some(text) = field("text") else { return Err(format!("line {}: no \"text\"", i + 1)) };
        let function = field("function");
        let topic = match (field("topic"), &function) {
            (Some(t), _) => t,
            (None, Some(f)) => topic_of_function(f)
                .ok_or_else(|| format!("line {}: function '{f}' has no topic; give \"topic\"", i + 1))?,
            (None, None) => return Err(format!("line {}: no \"topic\" or \"function\"", i + 1)),
        };
        out.push((Example { text, topic }, function));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stemming_joins_word_forms() {
        for (a, b) in [
            ("charged", "charge"),
            ("charges", "charge"),
            ("shipped", "ship"),
            ("shipping", "ship"),
            ("refunds", "refund"),
            ("deliveries", "delivery"),
            ("boxes", "box"),
            ("arrived", "arrive"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} / {b}");
        }
        assert_eq!(stem("glass"), "glass");
        assert_eq!(stem("install"), "install");
        assert_eq!(stem("installed"), "install");
    }

    #[test]
    fn tokens_keep_words_mentions_emoji_and_breaks() {
        let t = tokens("@Shop_Help won't pair!! 😡 #BlackFriday");
        assert_eq!(
            t,
            vec![
                Token::Mention,
                Token::Word("wont".into()),
                Token::Word("pair".into()),
                Token::Break,
                Token::Symbol('😡'),
                Token::Word("blackfriday".into()),
            ]
        );
    }

    #[test]
    fn negation_marks_the_next_words() {
        let mut names = Vec::new();
        for_each_feature("it does not charge. charge", 0.0, &mut |n: &str, _, _| names.push(n.to_string()));
        assert_eq!(names.iter().filter(|n| *n == "NOT_charg").count(), 1, "{names:?}");
        assert_eq!(names.iter().filter(|n| *n == "charg").count(), 2, "{names:?}");
    }

    fn toy() -> Vec<Example> {
        let mut v = Vec::new();
        for (topic, words) in [
            ("billing", ["refund my money", "charged twice on my card", "invoice is wrong", "payment failed"]),
            ("delivery", ["where is my parcel", "tracking not updated", "courier was late", "package never arrived"]),
        ] {
            for _ in 0..5 {
                for w in words {
                    v.push(Example { text: w.into(), topic: topic.into() });
                }
            }
        }
        v
    }

    #[test]
    fn learns_and_ranks_and_explains() {
        let m = Model::train(&toy(), Params::default());
        let p = m.predict("I was chargd twice, want a refnd");
        assert_eq!(p.best().0, "billing", "typos still reach the topic: {p:?}");
        assert!(p.best().1 > 0.5);
        let sum: f32 = p.ranked.iter().map(|(_, x)| x).sum();
        assert!((sum - 1.0).abs() < 1e-4);
        assert_eq!(m.predict("my parcels never arrive").best().0, "delivery");
        let why = m.explain("charged twice", "billing", 3);
        assert!(!why.is_empty() && why.iter().all(|(_, w)| *w > 0.0), "{why:?}");
    }

    #[test]
    fn training_is_deterministic() {
        let a = Model::train(&toy(), Params::default());
        let b = Model::train(&toy(), Params::default());
        assert_eq!(a.logits("refund please"), b.logits("refund please"));
        assert_eq!(a.temperature, b.temperature);
    }

    #[test]
    fn a_weighted_example_counts_more_and_weights_of_one_change_nothing() {
        let mut v = toy();
        let plain = Model::train(&v, Params::default());
        let ones = Model::train_weighted(&v, &vec![1.0; v.len()], Params::default());
        assert_eq!(plain.logits("refund please"), ones.logits("refund please"));
        v.push(Example { text: "zorbix".into(), topic: "delivery".into() });
        let mut weights = vec![1.0; v.len()];
        let once = Model::train_weighted(&v, &weights, Params::default());
        *weights.last_mut().unwrap() = 5.0;
        let five = Model::train_weighted(&v, &weights, Params::default());
        // Raw scores: the calibrated probabilities of both are 1.0 in f32.
        let margin = |m: &Model| {
            let l = m.logits("zorbix");
            let at = |t: &str| l[m.classes().iter().position(|c| c == t).unwrap()];
            at("delivery") - at("billing")
        };
        assert!(margin(&five) > margin(&once), "{} > {}", margin(&five), margin(&once));
    }

    #[test]
    fn jsonl_names_the_bad_line() {
        let f = |_: &str| None;
        let ok = parse_jsonl("{\"text\": \"a\", \"topic\": \"billing\"}\n\n", &f).unwrap();
        assert_eq!(ok.len(), 1);
        let err = parse_jsonl("{\"text\": \"a\", \"topic\": \"billing\"}\n{oops", &f).unwrap_err();
        assert!(err.starts_with("line 2"), "{err}");
        let err = parse_jsonl("{\"text\": \"a\", \"function\": \"nope\"}", &f).unwrap_err();
        assert!(err.contains("nope"), "{err}");
    }
}
