//! imagemk's own output: every line it prints goes through [`write`] to the run's
//! [`Runner`](crate::runner::Runner), which writes it to the terminal (or, for a recording
//! runner, keeps it for the test to read). Use [`outln!`] and [`errln!`] in place of `println!`
//! and `eprintln!`: they never panic, also when the reader of stdout has gone away.

/// Which of imagemk's streams a text goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// Writes `text` to `stream` of the current run.
pub fn write(stream: Stream, text: &str) {
    crate::runner::current().print(stream, text);
}

/// `println!` to the run's stdout.
macro_rules! outln {
    () => {
        $crate::console::write($crate::console::Stream::Out, "\n")
    };
    ($($arg:tt)*) => {
        $crate::console::write($crate::console::Stream::Out, &format!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` to the run's stdout.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::console::write($crate::console::Stream::Out, &format!($($arg)*))
    };
}

/// `eprintln!` to the run's stderr.
macro_rules! errln {
    () => {
        $crate::console::write($crate::console::Stream::Err, "\n")
    };
    ($($arg:tt)*) => {
        $crate::console::write($crate::console::Stream::Err, &format!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, out, outln};
