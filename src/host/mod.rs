//! The host imagemk runs on, for `local-buildenv`: which distribution it is and which
//! package manager installs an image's `host:` packages (see [`packages`]).

pub mod packages;
pub mod same;
