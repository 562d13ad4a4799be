#![doc = include_str!("../README.md")]

pub mod catalog;
pub mod classify;
pub mod outbound;
pub mod router;
pub mod schema;
mod transport;

pub use outbound::{AddressPolicy, Refused};
pub use transport::Transport;

pub use catalog::{Catalog, ModelInfo};
pub use router::{
    Answer, Budget, CallFailed, Chain, ChainStep, ChatRequest, EmbedFor, Embedded, Health,
    ImageInput, Output, Preview, ProviderConfig, Router, RouterError, RouterSettings, Turn,
    TurnRole, Validator, answer_byte_limit, json_answer, trail,
};
