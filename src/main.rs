//! The `wheelhouse` executable: the command line, which also starts the server.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    wheelhouse::cli::main()
}
