//! `helphive completions` and `helphive man`: generated from the same clap definition as `--help`.

use std::path::PathBuf;

use clap::CommandFactory;

use super::Cli;

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Result<(), String> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "helphive", &mut script);
    print_bytes(&script)
}

/// Prints the man page, or writes a page per command into `dir`.
pub fn man(dir: Option<PathBuf>) -> Result<(), String> {
    let command = Cli::command();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            clap_mangen::generate_to(command, &dir)
                .map_err(|e| format!("cannot write the man pages to {}: {e}", dir.display()))?;
            println!("man pages written to {}", dir.display());
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page).map_err(|e| format!("cannot render: {e}"))?;
            print_bytes(&page)?;
        }
    }
    Ok(())
}

/// Writes generated output to stdout; a reader that stops early (`| head`) is not an error.
fn print_bytes(bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("cannot print: {e}")),
        _ => Ok(()),
    }
}
