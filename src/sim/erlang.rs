//! Erlang C (the M/M/c queue): the waiting time a perfectly pooled workforce would give at a given
//! load. The simulator prints it next to its policies as the theoretical limit, and a test checks
//! the simulated pooled oracle against it.

/// An M/M/c queue: Poisson arrivals at `arrival_rate`, `servers` identical servers each finishing
/// work at `service_rate` (same time unit for both rates; waits come out in that unit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangC {
    pub servers: u32,
    pub arrival_rate: f64,
    pub service_rate: f64,
}

impl ErlangC {
    pub fn new(servers: u32, arrival_rate: f64, service_rate: f64) -> ErlangC {
        ErlangC { servers, arrival_rate, service_rate }
    }

    /// Offered load in Erlangs (λ/μ).
    pub fn offered(&self) -> f64 {
        self.arrival_rate / self.service_rate
    }

    /// Server occupancy (λ/cμ).
    pub fn occupancy(&self) -> f64 {
        self.offered() / self.servers as f64
    }

    /// Whether the queue has a steady state at all (λ < cμ); without one every wait is infinite.
    pub fn stable(&self) -> bool {
        self.servers > 0 && self.service_rate > 0.0 && self.offered() < self.servers as f64
    }

    /// P(W > 0): the probability that an arrival finds every server busy.
    pub fn prob_wait(&self) -> f64 {
        if !self.stable() {
            return 1.0;
        }
        let a = self.offered();
        if a <= 0.0 {
            return 0.0;
        }
        // Erlang B by its recurrence, then B → C. The textbook form a^c/c! overflows long before
        // the 6,000 servers of a large workforce; the recurrence stays within [0, 1].
        let mut b = 1.0;
        for k in 1..=self.servers {
            b = a * b / (k as f64 + a * b);
        }
        let c = self.servers as f64;
        c * b / (c - a * (1.0 - b))
    }

    /// The rate at which the queue drains when every server is busy (cμ − λ): the exponential
    /// rate of the conditional wait.
    fn drain_rate(&self) -> f64 {
        self.servers as f64 * self.service_rate - self.arrival_rate
    }

    /// E[W], the mean wait in the queue over all arrivals (those served at once count as 0).
    pub fn mean_wait(&self) -> f64 {
        if !self.stable() {
            return f64::INFINITY;
        }
        self.prob_wait() / self.drain_rate()
    }

    /// P(W > t) = C·e^{−(cμ−λ)t}.
    pub fn prob_wait_longer(&self, t: f64) -> f64 {
        if !self.stable() {
            return 1.0;
        }
        if t < 0.0 {
            return 1.0;
        }
        self.prob_wait() * (-self.drain_rate() * t).exp()
    }

    /// The wait that a fraction `p` of arrivals do not exceed (0 when more than `p` are served at
    /// once).
    pub fn wait_percentile(&self, p: f64) -> f64 {
        if !self.stable() {
            return f64::INFINITY;
        }
        let c = self.prob_wait();
        if 1.0 - p >= c {
            return 0.0;
        }
        (c / (1.0 - p)).ln() / self.drain_rate()
    }

    /// P(W + S ≤ t): the time to first response when an answer takes `service` once an agent
    /// starts. The wait is 0 with probability 1−C and exponential otherwise, so this is
    /// (1−C)·F(t) + C·∫₀ᵗ θe^{−θw}·F(t−w) dw, integrated numerically (Simpson's rule).
    pub fn response_cdf(&self, t: f64, service: &dyn Fn(f64) -> f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        if !self.stable() {
            return 0.0;
        }
        let c = self.prob_wait();
        let theta = self.drain_rate();
        // Past 40/θ the exponential weight is below e^-40: integrate only where it matters, so a
        // fast-draining queue (large θ) still gets a fine grid.
        let upper = t.min(40.0 / theta);
        let n = 2000; // even
        let h = upper / n as f64;
        let f = |w: f64| theta * (-theta * w).exp() * service(t - w);
        let mut sum = f(0.0) + f(upper);
        for i in 1..n {
            sum += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        ((1.0 - c) * service(t) + c * sum * h / 3.0).clamp(0.0, 1.0)
    }

    /// The first-response time that a fraction `p` of arrivals do not exceed, by bisection on
    /// `response_cdf`.
    pub fn response_percentile(&self, p: f64, service: &dyn Fn(f64) -> f64) -> f64 {
        if !self.stable() {
            return f64::INFINITY;
        }
        let mut hi = 1.0;
        while self.response_cdf(hi, service) < p {
            hi *= 2.0;
            if hi > 1e9 {
                return f64::INFINITY;
            }
        }
        let mut lo = 0.0;
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if self.response_cdf(mid, service) < p {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }
}

/// The standard normal CDF, through erfc (Numerical Recipes' Chebyshev fit, relative error below
/// 1.2e-7): precise enough for a lognormal handling time's percentiles.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn one_server_is_the_m_m_1_queue() {
        // M/M/1: P(W>0) = ρ and E[W] = ρ/(μ−λ). λ = 3, μ = 4: ρ = 0.75, E[W] = 0.75.
        let q = ErlangC::new(1, 3.0, 4.0);
        assert!(close(q.prob_wait(), 0.75, 1e-12));
        assert!(close(q.mean_wait(), 0.75, 1e-12));
        // P(W > t) = ρ·e^{−(μ−λ)t}: at t = 1, 0.75·e^{−1}.
        assert!(close(q.prob_wait_longer(1.0), 0.75 * (-1.0f64).exp(), 1e-12));
    }

    #[test]
    fn two_servers_match_the_closed_form() {
        // M/M/2: C = 2ρ²/(1+ρ). λ = 1, μ = 1, c = 2: ρ = 0.5, C = 1/3, E[W] = C/(2−1) = 1/3.
        let q = ErlangC::new(2, 1.0, 1.0);
        assert!(close(q.prob_wait(), 1.0 / 3.0, 1e-12));
        assert!(close(q.mean_wait(), 1.0 / 3.0, 1e-12));
    }

    #[test]
    fn textbook_values() {
        // c = 3, a = 2 Erlangs (the usual first example, e.g. Mathematica's ErlangC[3, 2]):
        // C = 4/9 by hand from B(3, 2) = 4/19.
        assert!(close(ErlangC::new(3, 2.0, 1.0).prob_wait(), 4.0 / 9.0, 1e-12));
        // 120 customers an hour, 3 minutes each, 10 assistants (a = 6 Erlangs): "from the Erlang
        // C curve, the probability of waiting is about 0.10"; the exact value is 0.1013.
        let shop = ErlangC::new(10, 2.0, 1.0 / 3.0);
        assert!(close(shop.prob_wait(), 0.1013, 5e-4), "{}", shop.prob_wait());
        // The classic call-centre walk-through: 360 calls per half hour, 4-minute calls (a = 48
        // Erlangs), 55 agents, 15-second target. Published (rounded): 24 % of calls wait, average
        // speed of answer 8.2 s, service level 84.6 %. (Exact: C = 0.23870.)
        let calls = ErlangC::new(55, 360.0 / 1800.0, 1.0 / 240.0);
        assert!(close(calls.prob_wait(), 0.2387, 1e-4), "{}", calls.prob_wait());
        assert!(close(calls.mean_wait(), 8.2, 0.05), "{}", calls.mean_wait());
        assert!(close(1.0 - calls.prob_wait_longer(15.0), 0.846, 1e-3));
        // a = 10 Erlangs on 11 agents, 180-second calls: 68.21 % wait, ASA 122.8 s.
        let small = ErlangC::new(11, 10.0 / 180.0, 1.0 / 180.0);
        assert!(close(small.prob_wait(), 0.6821, 5e-4), "{}", small.prob_wait());
        assert!(close(small.mean_wait(), 122.8, 0.2), "{}", small.mean_wait());
    }

    #[test]
    fn percentiles_invert_the_tail() {
        let q = ErlangC::new(11, 10.0 / 180.0, 1.0 / 180.0);
        let t = q.wait_percentile(0.9);
        assert!(close(q.prob_wait_longer(t), 0.1, 1e-9));
        // Fewer than 10 % wait at all on a lightly loaded queue: the 90th percentile is 0.
        assert_eq!(ErlangC::new(20, 5.0, 1.0).wait_percentile(0.9), 0.0);
    }

    #[test]
    fn huge_workforces_do_not_overflow() {
        let q = ErlangC::new(6000, 0.95 * 6000.0 / 4.0, 0.25);
        let c = q.prob_wait();
        assert!(c.is_finite() && c > 0.0 && c < 0.01, "{c}");
        assert!(!ErlangC::new(10, 10.0, 1.0).stable());
        assert_eq!(ErlangC::new(10, 10.0, 1.0).mean_wait(), f64::INFINITY);
    }

    #[test]
    fn response_time_adds_the_service() {
        // With exponential service and no waiting (huge c), the response CDF is the service CDF.
        let exp = |t: f64| 1.0 - (-t).exp();
        let idle = ErlangC::new(200, 1.0, 1.0);
        assert!(close(idle.response_cdf(1.0, &exp), exp(1.0), 1e-6));
        // M/M/1 sojourn time is exponential with rate μ−λ: P(T ≤ t) = 1 − e^{−(μ−λ)t}.
        let q = ErlangC::new(1, 0.5, 1.0);
        assert!(close(q.response_cdf(2.0, &exp), 1.0 - (-1.0f64).exp(), 1e-6));
        assert!(close(q.response_percentile(0.5, &exp), 2.0 * 2f64.ln(), 1e-6));
        // A fast-draining queue (θ = 20) must not overshoot 1 far out.
        let fast = ErlangC::new(100, 80.0, 1.0);
        assert!(fast.response_cdf(60.0, &exp) <= 1.0 && fast.response_cdf(60.0, &exp) > 0.999_999);
    }

    #[test]
    fn the_normal_cdf_is_accurate() {
        assert!(close(normal_cdf(0.0), 0.5, 1e-7));
        assert!(close(normal_cdf(1.281_551_6), 0.9, 1e-6));
        assert!(close(normal_cdf(-2.326_347_9), 0.01, 1e-6));
    }
}
