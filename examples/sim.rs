//! Runs `helphive sim` without the CLI: `cargo run --release --example sim -- [preset] [seed]
//! [scale] [policies,comma,separated] [scenario.toml]`. For figures while the subcommand is wired.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).filter(|a| !a.is_empty() && *a != "-");
    let opts = helphive::sim::SimOptions {
        preset: arg(0).cloned().unwrap_or_else(|| "peak".into()),
        seed: arg(1).and_then(|s| s.parse().ok()).unwrap_or(1),
        scale: arg(2).and_then(|s| s.parse().ok()).unwrap_or(1.0),
        policies: arg(3).map(|p| vec![p.clone()]),
        scenario: arg(4).map(std::path::PathBuf::from),
    };
    match helphive::sim::run(&opts) {
        Ok(report) => print!("{report}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
