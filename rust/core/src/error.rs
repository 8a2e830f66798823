//! The core's error enum: cheap to build, mapped to one Python exception tree by the binding.

use std::fmt;

/// Every failure the core can report. The binding maps each variant to a Python exception
/// class; the gateway maps those classes to HTTP statuses in one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// The client sent something we cannot accept (bad JSON, wrong field types...).
    InvalidRequest { message: String, param: Option<String> },
    /// The upstream sent something that does not follow its own protocol.
    UpstreamProtocol { message: String },
    /// A pairing or feature the core does not implement.
    Unsupported { message: String },
}

impl CoreError {
    pub fn invalid(message: impl Into<String>) -> Self {
        CoreError::InvalidRequest { message: message.into(), param: None }
    }

    pub fn invalid_param(message: impl Into<String>, param: &str) -> Self {
        CoreError::InvalidRequest { message: message.into(), param: Some(param.to_owned()) }
    }

    pub fn upstream(message: impl Into<String>) -> Self {
        CoreError::UpstreamProtocol { message: message.into() }
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        CoreError::Unsupported { message: message.into() }
    }

    pub fn message(&self) -> &str {
        match self {
            CoreError::InvalidRequest { message, .. }
            | CoreError::UpstreamProtocol { message }
            | CoreError::Unsupported { message } => message,
        }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for CoreError {}

pub type CoreResult<T> = Result<T, CoreError>;
