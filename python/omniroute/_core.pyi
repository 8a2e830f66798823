"""Hand-written stub of the Rust extension `omniroute._core` (checked by mypy.stubtest)."""

from typing import Final, final

#: The package version.
__version__: Final[str]

class OmnirouteError(Exception): ...
class InvalidRequestError(OmnirouteError): ...
class UpstreamProtocolError(OmnirouteError): ...
class UnsupportedError(OmnirouteError): ...

# `framing_kind` in the tuple `parse_response_head` returns.
FRAMING_LENGTH: Final = 0
FRAMING_CHUNKED: Final = 1
FRAMING_UNTIL_CLOSE: Final = 2
FRAMING_EMPTY: Final = 3

@final
class RequestInfo:
    @property
    def model(self) -> str | None: ...
    @property
    def stream(self) -> bool: ...
    @property
    def include_usage(self) -> bool: ...
    @property
    def max_tokens(self) -> int | None: ...
    @property
    def has_tools(self) -> bool: ...
    @property
    def temperature_zero(self) -> bool: ...

@final
class Usage:
    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cached_tokens(self) -> int: ...
    @property
    def cache_creation_tokens(self) -> int: ...
    @property
    def reasoning_tokens(self) -> int: ...

@final
class SseDecoder:
    def __new__(cls) -> SseDecoder: ...
    def feed(self, chunk: bytes) -> list[tuple[str | None, str]]: ...
    @property
    def has_pending(self) -> bool: ...

@final
class StreamTranslator:
    def __new__(
        cls,
        upstream: str,
        client: str,
        *,
        include_usage: bool = False,
        created: int = 0,
        response_id: str | None = None,
        model: str | None = None,
    ) -> StreamTranslator: ...
    def feed(self, chunk: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def fail(self, message: str) -> bytes: ...
    @property
    def usage(self) -> Usage | None: ...
    @property
    def state(self) -> str: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def completed_response(self) -> str | None: ...

@final
class Limiter:
    def __new__(cls, rpm: int = 0, min_gap_ms: int = 0, max_concurrent: int = 0) -> Limiter: ...
    def try_acquire(self, now_ms: int) -> int: ...
    def release(self) -> None: ...
    def learn(
        self,
        now_ms: int,
        *,
        remaining: int | None = None,
        limit: int | None = None,
        reset_after_ms: int | None = None,
        retry_after_ms: int | None = None,
    ) -> None: ...
    def configure(self, rpm: int, min_gap_ms: int, max_concurrent: int) -> None: ...
    def state(self, now_ms: int) -> dict[str, int | None]: ...

@final
class ChunkedDecoder:
    def __new__(cls) -> ChunkedDecoder: ...
    def feed(self, data: bytes | bytearray) -> tuple[bytes, int]: ...
    @property
    def done(self) -> bool: ...

def parse_response_head(
    buf: bytes | bytearray,
) -> tuple[int, list[tuple[str, str]], int, int, int, bool] | None: ...
def inspect_request(body: bytes, dialect_name: str) -> RequestInfo: ...
def translate_request(
    body: bytes,
    client: str,
    upstream: str,
    *,
    model: str | None = None,
    force_stream_usage: bool = False,
    merge_system: bool = False,
    stream: bool | None = None,
) -> bytes: ...
def translate_response(
    body: bytes,
    upstream: str,
    client: str,
    *,
    created: int = 0,
    response_id: str | None = None,
    model: str | None = None,
) -> tuple[bytes, Usage | None]: ...
def error_body(
    dialect_name: str,
    status: int,
    message: str,
    *,
    error_type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    request_id: str | None = None,
) -> bytes: ...
def stream_error(
    dialect_name: str,
    status: int,
    message: str,
    *,
    error_type: str | None = None,
    code: str | None = None,
    sequence_number: int = 0,
) -> bytes: ...
def encode_sse(data: str, event: str | None = None) -> bytes: ...
def keepalive(dialect_name: str) -> bytes: ...
def estimate_tokens(body: bytes, dialect_name: str) -> int: ...

# Prompt-guard detectors: hits `(kind, start, end)` in code points of `text`. A `str` holding lone
# surrogates is scanned with each surrogate read as U+FFFD, which changes no hit and no span.
def find_injection(text: str, user_authored: bool) -> list[tuple[str, int, int]]: ...
