//! `helphive classify`: one question explained, labelled questions measured or added, and the
//! classifier's benchmark, cross-validation and replay (the work is in `helphive::classify`).

use helphive::classify;
use helphive::config::Config;

use super::db::open_store;
use super::serve::learn_business_questions;
use super::{ClassifyArgs, load_config};

pub async fn classify(args: ClassifyArgs) -> Result<(), String> {
    let ClassifyArgs { config, database, text, eval, train, bench, cv, replay, stream, data, channel } = args;
    let (config, _) = load_config(&config)?;
    let db = database.database.as_deref();
    if let Some(&n) = replay.iter().max() {
        let stream = match stream {
            Some(path) => classify::read_examples(&path, &config)?,
            None => classify::desk_stream(&config)?,
        };
        print!("{}", classify::replay_desk(&config, &stream, &replay));
        let (tr, te) = classify::bench_data(data.as_deref(), &config)?;
        print!("{}", classify::replay(&config, &tr, &te, n));
        return Ok(());
    }
    if bench || cv {
        let (tr, te) = classify::bench_data(data.as_deref(), &config)?;
        print!("{}", if bench { classify::bench(&config, &tr, &te) } else { classify::cross_validation(&config, &tr) });
        return Ok(());
    }
    if let Some(path) = train {
        let examples = classify::read_examples(&path, &config)?;
        let store = open_store(db, &config).await?;
        let added = store
            .add_training_examples(&examples, "import", helphive::clock::now_ms())
            .await
            .map_err(|e| e.to_string())?;
        let total = store.training_examples().await.map_err(|e| e.to_string())?.len();
        println!(
            "added {added} labelled questions ({} already stored); {total} of the business's own in all, \
             learned with the built-in ones when the server starts",
            examples.len() - added
        );
        return Ok(());
    }
    let model = with_business_model(&config, db).await?;
    match (eval, text) {
        (Some(path), _) => {
            print!("{}", classify::eval(&config, &model, &classify::read_examples(&path, &config)?))
        }
        (None, Some(text)) => print!("{}", classify::explain(&config, &model, &channel, &text)),
        (None, None) => return Err("give a question's text, or --eval, --train, --bench or --cv".into()),
    }
    Ok(())
}

/// `learn_business_questions` for the CLI, on the server's database.
async fn with_business_model(config: &Config, cli_db: Option<&str>) -> Result<helphive::routing::ModelSlot, String> {
    let store = open_store(cli_db, config).await?;
    learn_business_questions(&store).await
}
