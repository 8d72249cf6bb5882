//! How well a classifier sorts labelled questions into functions: accuracy, per-function
//! precision and recall, the confusion matrix, abstention and calibration. Pure: the caller
//! classifies, this counts.

use std::fmt;

/// One labelled question as a classifier saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The function the question belongs to.
    pub truth: String,
    /// The function of the classifier's best guess (before any abstention).
    pub guess: String,
    /// The classifier's probability for its best guess.
    pub confidence: f32,
    /// The classifier abstained (the question would be routed as unsure).
    pub unsure: bool,
}

/// Per-function figures.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionFigures {
    pub function: String,
    /// Questions of this function.
    pub support: usize,
    pub precision: f32,
    pub recall: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub questions: usize,
    /// Share of best guesses that are right.
    pub accuracy: f32,
    /// Mean over functions of the share of their questions guessed right (recall).
    pub macro_accuracy: f32,
    pub functions: Vec<FunctionFigures>,
    /// `confusion[truth][guess]`, in the order of `functions`.
    pub confusion: Vec<Vec<usize>>,
    /// Share of questions the classifier abstained on.
    pub abstained: f32,
    /// Accuracy on the questions it did not abstain on.
    pub accuracy_above: f32,
    /// Expected calibration error over 10 equal-width confidence bins.
    pub ece: f32,
}

/// Counts `rows` over `functions` (functions that occur in `rows` but not in the list are
/// appended, so nothing is dropped).
pub fn report(functions: &[String], rows: &[Scored]) -> Report {
    let mut names: Vec<String> = functions.to_vec();
    for r in rows {
        for f in [&r.truth, &r.guess] {
            if !names.contains(f) {
                names.push(f.clone());
            }
        }
    }
    let idx = |f: &str| names.iter().position(|n| n == f).unwrap_or(0);
    let k = names.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for r in rows {
        confusion[idx(&r.truth)][idx(&r.guess)] += 1;
    }
    let n = rows.len();
    let right = (0..k).map(|i| confusion[i][i]).sum::<usize>();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f32 / b as f32 };
    let figures: Vec<FunctionFigures> = (0..k)
        .map(|i| {
            let support = confusion[i].iter().sum::<usize>();
            let guessed = (0..k).map(|t| confusion[t][i]).sum::<usize>();
            FunctionFigures {
                function: names[i].clone(),
                support,
                precision: ratio(confusion[i][i], guessed),
                recall: ratio(confusion[i][i], support),
            }
        })
        .collect();
    let with_support: Vec<&FunctionFigures> = figures.iter().filter(|f| f.support > 0).collect();
    let macro_accuracy = with_support.iter().map(|f| f.recall).sum::<f32>() / with_support.len().max(1) as f32;
    let kept: Vec<&Scored> = rows.iter().filter(|r| !r.unsure).collect();
    let kept_right = kept.iter().filter(|r| r.truth == r.guess).count();
    // Ten equal-width bins; a confidence of exactly 1.0 belongs to the last.
    let mut bins = [(0usize, 0usize, 0f32); 10];
    for r in rows {
        let b = ((r.confidence * 10.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += usize::from(r.truth == r.guess);
        bins[b].2 += r.confidence;
    }
    let ece = bins
        .iter()
        .filter(|(count, _, _)| *count > 0)
        .map(|(count, right, conf)| (*right as f32 / *count as f32 - conf / *count as f32).abs() * *count as f32)
        .sum::<f32>()
        / n.max(1) as f32;
    Report {
        questions: n,
        accuracy: ratio(right, n),
        macro_accuracy,
        functions: figures,
        confusion,
        abstained: ratio(n - kept.len(), n),
        accuracy_above: ratio(kept_right, kept.len()),
        ece,
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "questions            {}", self.questions)?;
        writeln!(f, "accuracy             {:.1}%", self.accuracy * 100.0)?;
        writeln!(f, "macro accuracy       {:.1}%  (mean over functions)", self.macro_accuracy * 100.0)?;
        writeln!(
            f,
            "above the threshold  {:.1}% accurate, {:.1}% abstained",
            self.accuracy_above * 100.0,
            self.abstained * 100.0
        )?;
        writeln!(f, "calibration error    {:.3}  (ECE, 10 bins)", self.ece)?;
        writeln!(f)?;
        writeln!(f, "{:<14} {:>7} {:>9} {:>7}", "function", "support", "precision", "recall")?;
        for x in &self.functions {
            writeln!(
                f,
                "{:<14} {:>7} {:>8.1}% {:>6.1}%",
                x.function,
                x.support,
                x.precision * 100.0,
                x.recall * 100.0
            )?;
        }
        writeln!(f)?;
        writeln!(f, "confusion (rows: truth, columns: guess)")?;
        let short: Vec<String> = self.functions.iter().map(|x| x.function.chars().take(8).collect()).collect();
        write!(f, "{:<14}", "")?;
        for s in &short {
            write!(f, " {s:>8}")?;
        }
        writeln!(f)?;
        for (i, row) in self.confusion.iter().enumerate() {
            write!(f, "{:<14}", self.functions[i].function)?;
            for c in row {
                write!(f, " {c:>8}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(truth: &str, guess: &str, confidence: f32, unsure: bool) -> Scored {
        Scored { truth: truth.into(), guess: guess.into(), confidence, unsure }
    }

    #[test]
    fn counts_accuracy_precision_recall_and_abstention() {
        let rows = vec![
            s("billing", "billing", 0.95, false),
            s("billing", "delivery", 0.4, true),
            s("delivery", "delivery", 0.9, false),
            s("delivery", "delivery", 0.85, false),
        ];
        let r = report(&["billing".into(), "delivery".into()], &rows);
        assert_eq!(r.accuracy, 0.75);
        assert_eq!(r.macro_accuracy, 0.75, "billing 1/2, delivery 2/2");
        assert_eq!(r.functions[1].precision, 2.0 / 3.0);
        assert_eq!(r.confusion, vec![vec![1, 1], vec![0, 2]]);
        assert_eq!(r.abstained, 0.25);
        assert_eq!(r.accuracy_above, 1.0);
        // Bins: 0.4 (wrong), 0.85 (right), 0.9 and 0.95 (right): (0.4 + 0.15 + 0.05 + 0.1) / 4.
        assert!((r.ece - 0.175).abs() < 1e-4, "{}", r.ece);
        assert!(r.to_string().contains("macro accuracy"));
    }
}
