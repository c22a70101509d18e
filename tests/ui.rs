//! Compile-time tests of `#[hook]`, `#[task]` and `#[agent_task]`: programs that must compile
//! (`ui/pass`) and programs that must fail with the errors in their `.stderr` (`ui/fail`).
//!
//! Compiler messages change between releases, so this only runs on the stable toolchain.
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test --test ui`.

#[rustversion::attr(not(stable), ignore)]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
