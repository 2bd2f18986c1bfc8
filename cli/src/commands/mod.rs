//! One module per command (or command group) of `dyad`: its clap arguments, its
//! examples, and the function `main` calls with them.

pub mod append;
pub mod audit;
pub mod demo;
pub mod init;
pub mod keys;
pub mod node;
pub mod prove;
pub mod read;
pub mod sync;
pub mod verify;
pub mod verify_store;
