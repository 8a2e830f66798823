//! `<think>…</think>` extraction for content from OpenAI-compatible upstreams.
//!
//! Several open-weight models (DeepSeek R1 distills, Qwen3, QwQ, MiniMax…) served behind an
//! OpenAI-compatible API put their reasoning inline: the content opens with `<think>`, reasoning
//! follows until `</think>`, then the answer. The splitter turns that into reasoning and text
//! segments. It is fed content in arbitrary pieces (stream deltas split a tag at any byte) and
//! gives the same result for every split, holding back only what could still be the start of a
//! tag: leading whitespace or a prefix of `<think>` before anything else was seen, and a
//! trailing prefix of `</think>` inside the reasoning.
//!
//! Whitespace right after `<think>` and right after `</think>` is dropped (models put newlines
//! there), and so is content that is nothing but whitespace; everything else is kept verbatim.
//! A `<think>` anywhere but at the start of the content is ordinary text.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// A run of content of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Reasoning(String),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Nothing but whitespace seen yet: the content may still open with `<think>`.
    #[default]
    Start,
    /// Just after `<think>`: dropping whitespace.
    ReasoningLead,
    /// Inside the reasoning, looking for `</think>`.
    Reasoning,
    /// Just after `</think>`: dropping whitespace.
    AnswerLead,
    /// Plain text until the end.
    Text,
}

/// Incremental splitter; one per content stream.
#[derive(Debug, Default)]
pub struct ThinkSplitter {
    state: State,
    /// Bytes that may still turn out to be (part of) a tag.
    held: String,
}

impl ThinkSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one piece of content; appends the segments it settles to `out`.
    pub fn push(&mut self, chunk: &str, out: &mut Vec<Segment>) {
        if chunk.is_empty() {
            return;
        }
        if self.state == State::Text {
            emit(out, Segment::Text(chunk.to_owned()));
            return;
        }
        let joined = if self.held.is_empty() {
            chunk.to_owned()
        } else {
            let mut joined = std::mem::take(&mut self.held);
            joined.push_str(chunk);
            joined
        };
        let mut input = joined.as_str();
        loop {
            match self.state {
                State::Text => {
                    emit(out, Segment::Text(input.to_owned()));
                    return;
                }
                State::Start => {
                    let trimmed = input.trim_start();
                    if let Some(after) = trimmed.strip_prefix(OPEN) {
                        self.state = State::ReasoningLead;
                        input = after;
                    } else if OPEN.starts_with(trimmed) {
                        // Only whitespace, or whitespace and a prefix of `<think>`.
                        self.held = input.to_owned();
                        return;
                    } else {
                        self.state = State::Text;
                    }
                }
                State::ReasoningLead | State::AnswerLead => {
                    let trimmed = input.trim_start();
                    if trimmed.is_empty() {
                        return;
                    }
                    self.state = if self.state == State::ReasoningLead { State::Reasoning } else { State::Text };
                    input = trimmed;
                }
                State::Reasoning => {
                    if let Some((reasoning, after)) = input.split_once(CLOSE) {
                        emit(out, Segment::Reasoning(reasoning.to_owned()));
                        self.state = State::AnswerLead;
                        input = after;
                        continue;
                    }
                    let keep = partial_tag_suffix(input, CLOSE);
                    let (settled, held) = input.split_at_checked(input.len() - keep).unwrap_or((input, ""));
                    emit(out, Segment::Reasoning(settled.to_owned()));
                    self.held = held.to_owned();
                    return;
                }
            }
        }
    }

    /// The content ended: releases whatever was held back.
    pub fn finish(&mut self, out: &mut Vec<Segment>) {
        let held = std::mem::take(&mut self.held);
        match self.state {
            // Content that is only whitespace says nothing (models emit "\n\n" before tool
            // calls) and would become a blank text block, which Anthropic rejects in history.
            State::Start if held.trim().is_empty() => {}
            State::Start => emit(out, Segment::Text(held)),
            State::Reasoning => emit(out, Segment::Reasoning(held)),
            _ => {}
        }
    }

    /// Whether the splitter has seen the content open with `<think>`.
    #[cfg(test)]
    fn in_reasoning(&self) -> bool {
        matches!(self.state, State::ReasoningLead | State::Reasoning)
    }
}

/// Splits a whole content string at once.
pub fn split_all(content: &str) -> Vec<Segment> {
    let mut splitter = ThinkSplitter::new();
    let mut out = Vec::new();
    splitter.push(content, &mut out);
    splitter.finish(&mut out);
    out
}

fn emit(out: &mut Vec<Segment>, segment: Segment) {
    match (&segment, out.last_mut()) {
        (Segment::Text(s) | Segment::Reasoning(s), _) if s.is_empty() => {}
        (Segment::Text(s), Some(Segment::Text(last))) => last.push_str(s),
        (Segment::Reasoning(s), Some(Segment::Reasoning(last))) => last.push_str(s),
        _ => out.push(segment),
    }
}

/// Length of the longest proper prefix of `tag` that `text` ends with (tags are ASCII, so the
/// cut is always a character boundary).
fn partial_tag_suffix(text: &str, tag: &str) -> usize {
    (1..tag.len()).rev().find(|&k| tag.get(..k).is_some_and(|prefix| text.ends_with(prefix))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(chunks: &[&str]) -> Vec<Segment> {
        let mut splitter = ThinkSplitter::new();
        let mut out = Vec::new();
        for chunk in chunks {
            let mut part = Vec::new();
            splitter.push(chunk, &mut part);
            for segment in part {
                emit(&mut out, segment);
            }
        }
        let mut rest = Vec::new();
        splitter.finish(&mut rest);
        for segment in rest {
            emit(&mut out, segment);
        }
        out
    }

    fn r(s: &str) -> Segment {
        Segment::Reasoning(s.to_owned())
    }

    fn t(s: &str) -> Segment {
        Segment::Text(s.to_owned())
    }

    /// Every way of cutting `sample` into two and three pieces (at character boundaries, as
    /// JSON strings arrive) and into single characters gives the unsplit result.
    fn assert_split_invariant(sample: &str, expected: &[Segment]) {
        assert_eq!(split_all(sample), expected, "unsplit {sample:?}");
        let cuts: Vec<usize> = sample.char_indices().map(|(i, _)| i).chain([sample.len()]).collect();
        for &a in &cuts {
            for &b in cuts.iter().filter(|&&b| b >= a) {
                let pieces = [&sample[..a], &sample[a..b], &sample[b..]];
                assert_eq!(feed(&pieces), expected, "split {pieces:?}");
            }
        }
        let chars: Vec<String> = sample.chars().map(String::from).collect();
        let singles: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(feed(&singles), expected, "one character at a time");
    }

    #[test]
    fn every_split_of_a_reasoning_sample_gives_the_same_segments() {
        assert_split_invariant(
            " \n<think>\nLet me see: é < 2 and </thin is not a tag.\n</think>\n\nAnswer: <think>x</think> ✓",
            &[r("Let me see: é < 2 and </thin is not a tag.\n"), t("Answer: <think>x</think> ✓")],
        );
    }

    #[test]
    fn every_split_of_plain_text_passes_it_through() {
        assert_split_invariant("  <thin air> stays text", &[t("  <thin air> stays text")]);
        assert_split_invariant("Hello <think>no</think>", &[t("Hello <think>no</think>")]);
    }

    #[test]
    fn every_split_of_unterminated_reasoning_keeps_it_all() {
        assert_split_invariant("<think>cut off </thi", &[r("cut off </thi")]);
    }

    #[test]
    fn held_prefix_is_released_as_text_at_the_end() {
        assert_eq!(feed(&["  <thi"]), vec![t("  <thi")]);
        assert_eq!(feed(&["\n", "\n "]), vec![]);
        assert_eq!(feed(&[]), vec![]);
    }

    #[test]
    fn only_the_minimal_tag_prefix_is_held_back() {
        let mut splitter = ThinkSplitter::new();
        let mut out = Vec::new();
        splitter.push("<th", &mut out);
        assert!(out.is_empty());
        splitter.push("ink>abc</", &mut out);
        assert!(splitter.in_reasoning());
        assert_eq!(out, vec![r("abc")]);
        out.clear();
        splitter.push("b>", &mut out);
        assert_eq!(out, vec![r("</b>")]);
    }

    #[test]
    fn empty_reasoning_and_empty_answer_produce_nothing_for_them() {
        assert_eq!(split_all("<think></think>Hi"), vec![t("Hi")]);
        assert_eq!(split_all("<think>why</think>\n\n"), vec![r("why")]);
    }
}
