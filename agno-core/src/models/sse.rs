//! A server-sent events parser that accepts the body in pieces of any size (what the OpenAI and
//! Anthropic streams are read with).
//!
//! Frames end with an empty line; lines end with `\n`, `\r\n` or `\r`. `data:` lines of one frame
//! are joined with `\n`, `event:` names the frame, lines starting with `:` are comments, other
//! fields (`id:`, `retry:`) are ignored. A piece may end anywhere, even inside a UTF-8 character:
//! bytes are kept until their line is complete.

/// One complete frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if the frame had one.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// Feeds bytes in, takes complete frames out.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the line not finished yet.
    line: Vec<u8>,
    /// The last byte seen was `\r`: a following `\n` belongs to the same line end.
    after_cr: bool,
    /// The frame being read.
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `bytes` and appends every frame they complete to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) {
        for &byte in bytes {
            match byte {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    self.line_done(&line, out);
                    self.line = line;
                    self.line.clear();
                }
                _ => {
                    self.after_cr = false;
                    self.line.push(byte);
                }
            }
        }
    }

    /// Whether a frame (or a line) was started and not finished: the stream was cut mid-frame.
    pub fn has_partial_frame(&self) -> bool {
        !self.line.is_empty() || self.data.is_some() || self.event.is_some()
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                out.push(SseEvent { event: self.event.take(), data });
            }
            self.event = None;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (&*text, ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &[u8], piece: usize) -> (Vec<SseEvent>, bool) {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for chunk in input.chunks(piece.max(1)) {
            parser.feed(chunk, &mut out);
        }
        (out, parser.has_partial_frame())
    }

    const STREAM: &str = "event: response.output_text.delta\ndata: {\"delta\":\"héllo\"}\n\n\
                          : a comment\n\
                          data: {\"a\":1}\r\n\r\n\
                          data: line one\ndata: line two\n\n\
                          id: 7\nretry: 10\ndata: [DONE]\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            SseEvent { event: Some("response.output_text.delta".into()), data: "{\"delta\":\"héllo\"}".into() },
            SseEvent { event: None, data: "{\"a\":1}".into() },
            SseEvent { event: None, data: "line one\nline two".into() },
            SseEvent { event: None, data: "[DONE]".into() },
        ]
    }

    #[test]
    fn whole_stream() {
        let (events, partial) = parse_in_pieces(STREAM.as_bytes(), usize::MAX);
        assert_eq!(events, expected());
        assert!(!partial);
    }

    #[test]
    fn frames_split_at_every_byte_boundary() {
        // Every piece size, so every frame, line end and UTF-8 character is split somewhere.
        for piece in 1..STREAM.len() {
            let (events, partial) = parse_in_pieces(STREAM.as_bytes(), piece);
            assert_eq!(events, expected(), "piece size {piece}");
            assert!(!partial, "piece size {piece}");
        }
    }

    #[test]
    fn crlf_split_between_cr_and_lf_is_one_line_end() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.feed(b"data: x\r", &mut out);
        parser.feed(b"\n\r", &mut out);
        parser.feed(b"\n", &mut out);
        assert_eq!(out, [SseEvent { event: None, data: "x".into() }]);
        assert!(!parser.has_partial_frame());
        // Bare CR line ends work too.
        parser.feed(b"data: y\r\r", &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].data, "y");
    }

    #[test]
    fn a_cut_frame_is_reported_and_not_emitted() {
        let (events, partial) = parse_in_pieces(b"data: {\"a\":1}\n\ndata: {\"delta\":\"hal", 5);
        assert_eq!(events.len(), 1);
        assert!(partial);
        let (events, partial) = parse_in_pieces(b"data: {\"a\":1}\n\ndata: {\"b\":2}\n", 3);
        assert_eq!(events.len(), 1, "a frame without its blank line is not complete");
        assert!(partial);
    }

    #[test]
    fn data_without_space_and_empty_data() {
        let (events, _) = parse_in_pieces(b"data:{}\n\ndata\n\n", 2);
        assert_eq!(
            events,
            [SseEvent { event: None, data: "{}".into() }, SseEvent { event: None, data: String::new() }]
        );
    }
}
