//! The emulated AWS world for tests and the sandbox: a launcher for moto in server mode on a free
//! loopback port ([`moto`]), and a proxy in front of it ([`emulator`]) that adds what moto does
//! not emulate (DynamoDB global-table replica metadata, RDS read-replica promotion state,
//! Route 53 health-check status) and injects faults (throttling, 5xx, latency, regional
//! outages). Nothing here is on the production code path.

#![warn(missing_docs)]

pub mod emulator;
pub mod moto;

pub use emulator::{
    Emulator, EmulatorControl, EmulatorError, EmulatorOptions, EmulatorSettings, FaultAction,
    FaultController, FaultRule, Promotion, ProxyStats,
};
pub use moto::{Moto, MotoError};
