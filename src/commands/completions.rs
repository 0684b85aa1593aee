//! `imagemk completions SHELL` (clap_complete) and `imagemk man` (clap_mangen): generated from
//! the same clap definition as the parser, printed on stdout.

use clap::CommandFactory;

use crate::cli::Cli;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<i32> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "imagemk", &mut out);
    crate::console::out!("{}", String::from_utf8_lossy(&out));
    Ok(0)
}

pub fn man() -> anyhow::Result<i32> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    crate::console::out!("{}", String::from_utf8_lossy(&out));
    Ok(0)
}
