//! Classification errors in the simulator: a question whose topic the classifier gets wrong is
//! routed as what it seemed to be, while the customer's real need decides who fits and how long
//! the answer takes. Drawn once per workload, after the arrivals and with a seed of their own,
//! so every policy and the perfect-topic run see the same sample path.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::workload::{Workload, uniform};
use crate::routing::hive::TopicId;

/// How topics go wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum Misrouting {
    /// Each question goes to another function with this probability (drawn uniformly among the
    /// others), to one of that function's topics in proportion to their traffic.
    Rate(f64),
    /// Measured errors: for each true function, how often each function was predicted.
    Confusion(Confusion),
}

/// A confusion matrix between named functions: `counts[true][predicted]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Confusion {
    pub functions: Vec<String>,
    pub counts: Vec<Vec<u64>>,
}

impl Confusion {
    /// Share of questions whose predicted function is not the true one.
    pub fn error_rate(&self) -> f64 {
        let total: u64 = self.counts.iter().flatten().sum();
        let right: u64 = (0..self.counts.len()).map(|i| self.counts[i].get(i).copied().unwrap_or(0)).sum();
        if total == 0 { 0.0 } else { 1.0 - right as f64 / total as f64 }
    }
}

impl Misrouting {
    /// A line for the report.
    pub fn describe(&self) -> String {
        match self {
            Misrouting::Rate(r) => format!("{:.1} % of questions routed to a wrong function (--misroute)", 100.0 * r),
            Misrouting::Confusion(c) => format!(
                "errors drawn from the topic classifier's confusion matrix on its held-out questions ({:.1} % to a wrong function)",
                100.0 * c.error_rate()
            ),
        }
    }

    /// For each function of the workload, by id: P(predicted function id | true function id).
    fn rows(&self, work: &Workload) -> Vec<Vec<f64>> {
        let names = work.functions();
        let n = names.len();
        (0..n)
            .map(|f| {
                let mut row = vec![0.0; n];
                match self {
                    Misrouting::Rate(r) if n > 1 => {
                        for (g, p) in row.iter_mut().enumerate() {
                            *p = if g == f { 1.0 - r } else { r / (n - 1) as f64 };
                        }
                    }
                    Misrouting::Rate(_) => row[f] = 1.0,
                    Misrouting::Confusion(c) => {
                        // Functions the matrix does not know are routed right.
                        let Some(i) = c.functions.iter().position(|x| *x == names[f]) else {
                            row[f] = 1.0;
                            return row;
                        };
                        for (j, count) in c.counts[i].iter().enumerate() {
                            match names.iter().position(|x| *x == c.functions[j]) {
                                Some(g) => row[g] += *count as f64,
                                None => row[f] += *count as f64,
                            }
                        }
                        let sum: f64 = row.iter().sum();
                        if sum == 0.0 {
                            row[f] = 1.0;
                        } else {
                            row.iter_mut().for_each(|p| *p /= sum);
                        }
                    }
                }
                row
            })
            .collect()
    }
}

/// The same workload with each arrival's `seen_topic` drawn from `m`.
pub fn apply(work: &Workload, m: &Misrouting, seed: u64) -> Workload {
    let rows = m.rows(work);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6d69_7372_6f75_7465);
    let mut out = work.clone();
    for a in &mut out.arrivals {
        let f = work.topics[a.topic as usize].function as usize;
        let mut pick = uniform(&mut rng);
        let mut predicted = f;
        for (g, p) in rows[f].iter().enumerate() {
            if pick < *p {
                predicted = g;
                break;
            }
            pick -= p;
        }
        a.seen_topic = if predicted == f { a.topic } else { topic_in(work, predicted, &mut rng) };
    }
    out
}

/// One of function `f`'s topics, in proportion to their traffic.
fn topic_in(work: &Workload, f: usize, rng: &mut StdRng) -> TopicId {
    let topics: Vec<(usize, f64)> =
        work.topics.iter().enumerate().filter(|(_, t)| t.function as usize == f).map(|(i, t)| (i, t.share)).collect();
    let total: f64 = topics.iter().map(|(_, s)| s).sum();
    let mut pick = uniform(rng) * total;
    for (i, s) in &topics {
        if pick < *s {
            return *i as TopicId;
        }
        pick -= s;
    }
    topics.last().map_or(0, |(i, _)| *i as TopicId)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::workload::Scenario;

    fn small() -> Workload {
        Workload::generate(&Scenario::preset("peak").unwrap(), 3, 0.05).unwrap()
    }

    #[test]
    fn no_errors_keep_every_topic_and_a_rate_misroutes_about_that_share() {
        let work = small();
        let same = apply(&work, &Misrouting::Rate(0.0), 1);
        assert!(same.arrivals.iter().all(|a| a.seen_topic == a.topic));
        let wrong = apply(&work, &Misrouting::Rate(0.3), 1);
        let f = |t: TopicId| work.topics[t as usize].function;
        let share = wrong.arrivals.iter().filter(|a| f(a.seen_topic) != f(a.topic)).count() as f64
            / wrong.arrivals.len() as f64;
        assert!((share - 0.3).abs() < 0.05, "{share}");
        // The customers' needs and times are untouched: the same sample path.
        assert!(wrong.arrivals.iter().zip(&work.arrivals).all(|(a, b)| a.topic == b.topic && a.at == b.at));
    }

    #[test]
    fn a_confusion_matrix_sends_each_function_where_it_was_predicted() {
        let work = small();
        let names = work.functions();
        // Billing is always taken for delivery; everything else is right.
        let n = names.len();
        let billing = names.iter().position(|x| x == "billing").unwrap();
        let delivery = names.iter().position(|x| x == "delivery").unwrap();
        let mut counts = vec![vec![0u64; n]; n];
        for (i, row) in counts.iter_mut().enumerate() {
            row[if i == billing { delivery } else { i }] = 10;
        }
        let c = Confusion { functions: names.to_vec(), counts };
        let out = apply(&work, &Misrouting::Confusion(c), 1);
        let f = |t: TopicId| work.topics[t as usize].function as usize;
        for a in &out.arrivals {
            let expected = if f(a.topic) == billing { delivery } else { f(a.topic) };
            assert_eq!(f(a.seen_topic), expected);
        }
    }
}
