//! `helphive demo` and `helphive sim`: the commands that need nothing set up, no server and no
//! database of the user's.

use helphive::config::Config;
use helphive::model::Role;
use helphive::tui::app::View;

use super::terminal::init_file_logging;
use super::{DemoArgs, SimArgs, load_config};

/// The scripted hive, in the terminal or (`--headless`) as a printed summary.
pub async fn demo(args: DemoArgs) -> Result<(), String> {
    let DemoArgs { config, scenario, speed, role, headless, duration } = args;
    let opts = helphive::demo::DemoOptions { scenario, speed, role };
    if headless {
        let duration = match duration {
            Some(d) => d,
            None => helphive::demo::Scenario::load(opts.scenario.as_deref())?.duration(),
        };
        let summary = helphive::demo::run_headless(&opts, duration).await?;
        print!("{summary}");
        return Ok(());
    }
    if duration.is_some() {
        return Err("--duration goes with --headless; the interactive demo runs until you quit".into());
    }
    let (config, _) = load_config(&config)?;
    init_file_logging();
    let world = helphive::demo::start(&opts).await?;
    let client = helphive::client::Client::new(&world.base_url, &world.user_token).map_err(|e| e.to_string())?;
    let view = match role {
        Role::Lead | Role::Admin => View::Dashboard,
        Role::Mentor => View::Approvals,
        Role::Agent => View::Queue,
    };
    let result = helphive::tui::run(client, &config, helphive::tui::TuiOptions { view, clock: world.clock() }).await;
    let summary = world.summary().await;
    world.shutdown().await;
    result?;
    if let Ok(s) = summary {
        print!("{s}");
    }
    Ok(())
}

/// The routing policies compared in virtual time; prints the report.
pub async fn sim(args: SimArgs) -> Result<(), String> {
    let SimArgs { preset, scenario, seed, policies, scale, misroute, perfect_topics } = args;
    let misrouting = match (misroute, perfect_topics) {
        (_, true) => None,
        (Some(rate), false) => Some(helphive::sim::Misrouting::Rate(rate)),
        // The built-in topic model's measured errors (its held-out questions).
        (None, false) => {
            Some(helphive::sim::Misrouting::Confusion(helphive::classify::held_out_confusion(&Config::builtin())?))
        }
    };
    let opts = helphive::sim::SimOptions { preset, scenario, seed, policies, scale, misrouting };
    // CPU-bound for seconds to minutes: off the async runtime's threads.
    let report = tokio::task::spawn_blocking(move || helphive::sim::run(&opts))
        .await
        .map_err(|e| format!("the simulation stopped: {e}"))??;
    print!("{report}");
    Ok(())
}
