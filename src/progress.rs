//! Everything imagemk shows while it works, on stderr. On a terminal: an indicatif line per
//! running task with its latest output. Elsewhere (CI logs, pipes): plain lines prefixed with
//! the task's name, so interleaved parallel output stays readable. Pure code never prints.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// A live display only when stderr is a terminal and this is not CI.
    pub fn new(is_ci: bool) -> Progress {
        let live = std::io::stderr().is_terminal() && !is_ci;
        Progress {
            multi: live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    pub fn plain() -> Progress {
        Progress { multi: None }
    }

    /// A line that is not tied to a task.
    pub fn println(&self, msg: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(msg);
            }
            None => crate::console::errln!("{msg}"),
        }
    }

    pub fn task(&self, name: &str, action: &str) -> Task {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner:.cyan} {prefix:.bold} {elapsed:>4} {wide_msg:.dim}",
                )
                .unwrap(),
            );
            bar.set_prefix(name.to_string());
            bar.set_message(action.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if bar.is_none() {
            crate::console::errln!("{name} | {action}");
        }
        Task {
            name: name.to_string(),
            bar,
            started: Instant::now(),
            progress: self.clone(),
        }
    }
}

pub struct Task {
    name: String,
    bar: Option<ProgressBar>,
    started: Instant,
    progress: Progress,
}

impl Task {
    /// One line of the task's own output.
    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(text.trim().to_string()),
            None => crate::console::errln!("{} | {text}", self.name),
        }
    }

    /// Ends the task with a one-line outcome such as `built` or `failed (exit status 1)`.
    pub fn finish(self, ok: bool, outcome: &str) {
        let secs = self.started.elapsed().as_secs_f64();
        let mark = if ok { "✓" } else { "✗" };
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            self.progress
                .println(&format!("{mark} {} {outcome} in {secs:.1}s", self.name));
        } else {
            crate::console::errln!("{} | {mark} {outcome} in {secs:.1}s", self.name);
        }
    }
}
