//! `imagemk refs [--check | --write]`: the references to workspace images in the files of
//! `workspace.references`, compared with (or rewritten to) the digests of `images.lock`.
//! `--check` is the CI lint: it writes nothing and exits 1 when a reference drifts.

use serde::Serialize;

use super::Ctx;
use crate::cli::RefsArgs;
use crate::lock::{self, Lock};
use crate::refs::{self, diff, Report};

/// The version of `refs --json`; bumped when a field changes meaning or goes away.
const SCHEMA: u32 = 1;

#[derive(Serialize)]
struct Json<'a> {
    schema: u32,
    drift: Vec<Drift<'a>>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct Drift<'a> {
    file: &'a str,
    line: usize,
    found: &'a str,
    locked: &'a str,
}

pub fn run(ctx: &Ctx, args: &RefsArgs) -> anyhow::Result<i32> {
    let report = scan(ctx)?;
    if !args.json {
        for w in &report.warnings {
            crate::console::errln!("warning: {w}");
        }
    }
    match (args.write, ctx.dry_run) {
        (true, true) => Ok(print_diff(&report)),
        (true, false) => write(&report, args.json),
        (false, _) => Ok(check(&report, args.json)),
    }
}

/// The lock (its images checked against the workspace) and the scanned reference files.
fn scan(ctx: &Ctx) -> anyhow::Result<Report> {
    let root = &ctx.ws.root;
    if ctx.ws.references.is_empty() {
        anyhow::bail!(
            "`workspace.references` in `{}` lists no files; add globs of the files that refer to images (e.g. `references: [\"docker/*.dockerfile\", \".github/workflows/*.yml\"]`)",
            root.join("images.yaml").display()
        );
    }
    let lock = Lock::load(root)?;
    if lock.entries.is_empty() {
        anyhow::bail!(
            "`{}` is missing or empty; run `imagemk pin` (or `imagemk push --lock`) first",
            lock::path(root).display()
        );
    }
    lock.check_images(&ctx.ws)?;
    refs::scan(root, &ctx.ws.references, &refs::pins(&lock))
}

fn print_diff(report: &Report) -> i32 {
    for f in &report.files {
        crate::console::out!("{}", diff::unified(&f.shown, &f.text, &f.rewritten()));
    }
    0
}

fn write(report: &Report, json: bool) -> anyhow::Result<i32> {
    let count = report.drifting().count();
    let files = refs::write(report)?;
    if json {
        print_json(report);
    } else {
        for (f, d) in report.drifting() {
            crate::console::outln!("{}:{}: {} → {}", f.shown, d.line, d.text, d.locked);
        }
        crate::console::errln!("refs: {count} reference(s) rewritten in {files} file(s)");
    }
    Ok(0)
}

fn check(report: &Report, json: bool) -> i32 {
    let count = report.drifting().count();
    if json {
        print_json(report);
    } else {
        for (f, d) in report.drifting() {
            crate::console::outln!("{}:{}: {} → {}", f.shown, d.line, d.text, d.locked);
        }
        if count > 0 {
            crate::console::errln!(
                "error: {count} reference(s) differ from images.lock; run `imagemk refs --write` to rewrite them"
            );
        } else {
            let found: usize = report.files.iter().map(|f| f.scan.found.len()).sum();
            crate::console::errln!(
                "refs: {found} reference(s) in {} file(s) match images.lock",
                report.files.len()
            );
        }
    }
    i32::from(count > 0)
}

fn print_json(report: &Report) {
    let drift = report
        .drifting()
        .map(|(f, d)| Drift {
            file: &f.shown,
            line: d.line,
            found: &d.text,
            locked: &d.locked,
        })
        .collect();
    let out = Json {
        schema: SCHEMA,
        drift,
        warnings: &report.warnings,
    };
    crate::console::outln!(
        "{}",
        serde_json::to_string_pretty(&out).expect("JSON of strings")
    );
}
