//! The `imagemk` binary: everything happens in [`imagemk::run`].

fn main() {
    let code = imagemk::run(
        std::env::args_os().collect(),
        imagemk::config::Env::capture(),
    );
    std::process::exit(code);
}
