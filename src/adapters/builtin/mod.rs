//! Built-in identity providers.

mod tmi;

pub use tmi::TmiProvider;
