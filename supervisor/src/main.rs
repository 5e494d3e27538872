//! Entry point of `vwmp`; see the library's `cli` module.

fn main() {
    std::process::exit(vwmp_supervisor::cli::main());
}
