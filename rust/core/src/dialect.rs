//! The four wire dialects the gateway speaks, on both sides.

use crate::error::{CoreError, CoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// OpenAI Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini generateContent.
    Gemini,
    /// OpenAI Responses.
    Responses,
}

impl Dialect {
    pub fn parse(name: &str) -> CoreResult<Self> {
        match name {
            "openai" => Ok(Dialect::OpenAi),
            "anthropic" | "claude" => Ok(Dialect::Anthropic),
            "gemini" => Ok(Dialect::Gemini),
            "responses" | "openai-responses" => Ok(Dialect::Responses),
            other => Err(CoreError::unsupported(format!("unknown dialect '{other}'"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::OpenAi => "openai",
            Dialect::Anthropic => "anthropic",
            Dialect::Gemini => "gemini",
            Dialect::Responses => "responses",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_names() {
        for d in [
            Dialect::OpenAi,
            Dialect::Anthropic,
            Dialect::Gemini,
            Dialect::Responses,
        ] {
            assert_eq!(Dialect::parse(d.name()), Ok(d));
        }
        assert!(Dialect::parse("cobol").is_err());
    }
}
