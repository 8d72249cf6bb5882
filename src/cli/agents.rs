//! `helphive agent` and `helphive token`: employees and their bearer tokens, on the server's
//! database (the server may be running), and the employee table `agent list` prints.

use std::fmt::Write as _;

use helphive::clock::now_ms;
use helphive::model::Agent;
use helphive::store::NewAgent;

use super::db::open_store;
use super::{AgentCommand, ConfigArg, DatabaseArg, TokenCommand, load_config};

pub async fn agent(config: &ConfigArg, database: &DatabaseArg, command: AgentCommand) -> Result<(), String> {
    let (config, _) = load_config(config)?;
    let store = open_store(database.database.as_deref(), &config).await?;
    let functions: Vec<String> = config.functions.iter().map(|f| f.name.clone()).collect();
    match command {
        AgentCommand::Add { handle, name, function, role, skills, capacity, novice, mentor, signature } => {
            for s in &skills {
                if config.topic(&s.topic).is_none() {
                    return Err(format!(
                        "unknown topic '{}' in --skill; configured topics: {}",
                        s.topic,
                        config.topics.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            let new =
                NewAgent { handle, display_name: name, function, role, novice, mentor, capacity, skills, signature };
            let (agent, token) = store.add_agent(new, &functions, now_ms()).await.map_err(|e| e.to_string())?;
            println!("added @{} ({}, {}, {})", agent.handle, agent.display_name, agent.function, agent.role);
            println!("token (shown once; only its hash is stored):");
            println!("{token}");
            Ok(())
        }
        AgentCommand::List { json } => {
            let agents = store.agents().await.map_err(|e| e.to_string())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&agents).map_err(|e| e.to_string())?);
            } else {
                print!("{}", table(&agents));
            }
            Ok(())
        }
        AgentCommand::Disable { handle } => {
            let a = store.disable_agent(&handle, None, now_ms()).await.map_err(|e| e.to_string())?;
            println!("disabled @{}: tokens revoked, held questions returned to the queue", a.handle);
            Ok(())
        }
        AgentCommand::Enable { handle } => {
            let a = store.enable_agent(&handle, None, now_ms()).await.map_err(|e| e.to_string())?;
            println!("enabled @{}; issue a token to sign in: helphive token issue {}", a.handle, a.handle);
            Ok(())
        }
    }
}

pub async fn token(config: &ConfigArg, database: &DatabaseArg, command: TokenCommand) -> Result<(), String> {
    let TokenCommand::Issue { handle, revoke_others } = command;
    let (config, _) = load_config(config)?;
    let store = open_store(database.database.as_deref(), &config).await?;
    let token = store.issue_token(&handle, revoke_others, now_ms()).await.map_err(|e| e.to_string())?;
    println!("token for @{} (shown once; only its hash is stored):", handle.trim_start_matches('@'));
    println!("{token}");
    Ok(())
}

/// The employees as `agent list` prints them: a header, then one line each.
fn table(agents: &[Agent]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:<24} {:<14} {:<7} {:<8} {:>3}  skills",
        "handle", "name", "function", "role", "status", "cap"
    );
    for a in agents {
        let skills: Vec<String> = a.skills.iter().map(|s| format!("{}:{}", s.topic, s.proficiency)).collect();
        let mut flags = String::new();
        if a.novice {
            flags.push_str(&format!(" novice(mentor @{})", a.mentor.as_deref().unwrap_or("?")));
        }
        if a.disabled {
            flags.push_str(" DISABLED");
        }
        let _ = writeln!(
            out,
            "{:<16} {:<24} {:<14} {:<7} {:<8} {:>3}  {}{}",
            format!("@{}", a.handle),
            a.display_name,
            a.function,
            a.role.as_str(),
            a.status.as_str(),
            a.capacity,
            skills.join(" "),
            flags
        );
    }
    out
}
