//! The example apps' HTTP contract, run against this app's binary: see the `contract-tests` crate.

contract_tests::contract_suite!(env!("CARGO_BIN_EXE_example-actix"));
