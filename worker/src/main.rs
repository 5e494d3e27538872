//! Entry point of `vwmp-worker`; see the library documentation.

fn main() {
    std::process::exit(vwmp_worker::main_entry());
}
