//! imagemk: the backend of a repository's container-image make targets. `run` parses the
//! command line, loads the workspace, dispatches to `commands`, and turns any error into one
//! `error:` message and an exit status. See ARCHITECTURE.md for the code map.

mod builder;
mod clean;
mod cli;
pub mod commands;
pub mod config;
mod console;
mod container;
mod context;
pub mod dockerfile;
mod dockerignore;
mod duration;
mod durations;
mod engine;
pub mod exec;
mod fsx;
mod git;
mod graph;
mod host;
pub mod inputs;
pub mod job;
pub mod lock;
mod plan;
pub mod progress;
pub mod reference;
pub mod refs;
pub mod registry;
pub mod runner;
pub mod scheduler;
pub mod shard;
pub mod signal;
pub mod words;

use std::ffi::OsString;

use clap::Parser;

/// An error that carries the exit status to return (a container's own status, for example),
/// printed only when it has a message.
#[derive(Debug)]
pub struct ExitStatus {
    pub code: i32,
    pub message: Option<String>,
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(m) => f.write_str(m),
            None => write!(f, "exit status {}", self.code),
        }
    }
}

impl std::error::Error for ExitStatus {}

/// Runs imagemk with `args` (argv, program name first) and the captured environment; returns
/// the process exit status.
pub fn run(args: Vec<OsString>, env: config::Env) -> i32 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    match execute(cli, env) {
        Ok(code) => code,
        Err(err) => {
            let (code, message) = outcome(&err);
            if let Some(m) = message {
                crate::console::errln!("{m}");
            }
            code
        }
    }
}

/// What [`run`] returns and prints, with the `error:` text returned instead of printed (the
/// in-process tests of `runner::Recorder`).
#[cfg(test)]
pub(crate) fn run_outcome(args: Vec<OsString>, env: config::Env) -> (i32, String) {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return (e.exit_code(), e.to_string()),
    };
    match execute(cli, env) {
        Ok(code) => (code, String::new()),
        Err(err) => {
            let (code, message) = outcome(&err);
            (code, message.unwrap_or_default())
        }
    }
}

fn execute(cli: cli::Cli, env: config::Env) -> anyhow::Result<i32> {
    env.check()?;
    let cli = command_lines(cli)?;
    signal::install();
    commands::dispatch(cli, env)
}

/// `--command-line LINE` (run, withdocker) becomes the command's words.
fn command_lines(mut cli: cli::Cli) -> anyhow::Result<cli::Cli> {
    let (line, command) = match &mut cli.command {
        cli::Command::Run(a) => (a.command_line.take(), &mut a.command),
        cli::Command::Withdocker(a) => (a.command_line.take(), &mut a.command),
        _ => return Ok(cli),
    };
    if let Some(line) = line {
        *command = words::split(&line).map_err(anyhow::Error::msg)?;
        if command.is_empty() {
            anyhow::bail!("`--command-line` is empty; give the command to run");
        }
    }
    Ok(cli)
}

/// The exit status for `err` and the `error:` text to print, if any.
fn outcome(err: &anyhow::Error) -> (i32, Option<String>) {
    if let Some(status) = err.downcast_ref::<ExitStatus>() {
        return (
            status.code,
            status.message.as_ref().map(|m| format!("error: {m}")),
        );
    }
    let mut msg = format!("error: {err}");
    for cause in err.chain().skip(1) {
        msg.push_str(&format!("\n  caused by: {cause}"));
    }
    let code = if err.downcast_ref::<signal::Interrupted>().is_some() {
        130
    } else {
        1
    };
    (code, Some(msg))
}
