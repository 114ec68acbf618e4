"""Recorded delivery attempts: one row per attempt, read from HAR 1.2, whsim JSONL or a DataFrame.

An :class:`Attempt` is what a recording of a sender holds about one HTTP request: where it went,
its headers and exact body bytes, when it started and ended (integer nanoseconds on one clock of
the recording; only differences are used), and the answer (``status``) or why none came
(``error``, one of :data:`whsim.core.policy.NETWORK_ERRORS`). ``wall_ms`` is the start in epoch
milliseconds when the recording knows it (HAR always does), which the 24 h expiry needs.

Readers stream: :func:`read_jsonl` yields one attempt per line and never holds the file, so a
trace of a million attempts costs the memory of one line. HAR is a single JSON document and is
parsed whole. Every reader turns bad input into :class:`~whsim.core.errors.TraceError` naming the
line or entry and the field, never a traceback. The JSONL format is ``docs/trace-format.md``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from whsim.core.errors import TraceError
from whsim.core.policy import NETWORK_ERRORS

_orjson: Any
try:  # a JSON parser in Rust: a trace line in a third of json's time (see load_json)
    import orjson as _orjson
except ImportError:  # pragma: no cover - a declared dependency; json alone gives equal results
    _orjson = None

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_LINE",
    "UNPARSED",
    "Attempt",
    "TraceMeta",
    "attempt_row",
    "from_frame",
    "line_attempt",
    "line_fields",
    "load_json",
    "parse_body",
    "read_har",
    "read_jsonl",
    "read_trace",
    "to_frame",
    "write_jsonl",
]

MAX_LINE: Final = 4 << 20
"""Longest JSONL line read (4 MiB): a longer one is refused, not buffered."""

FORMAT_VERSION: Final = 1

UNPARSED: Final = object()
"""The :attr:`Attempt.doc` of an attempt whose body no reader parsed."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One recorded delivery attempt. ``index`` is its line, entry or row number (from 1)."""

    index: int
    url: str
    method: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    start_ns: int
    end_ns: int
    status: int | None
    error: str | None
    event_id: str | None = None
    wall_ms: int | None = None
    doc: object = dataclasses.field(default=UNPARSED, compare=False, repr=False)
    """The body parsed as JSON when a reader already did (None: not JSON), so a grader does
    not parse a million bodies twice; :data:`UNPARSED` when no reader looked."""

    def header(self, name: str) -> str | None:
        """A request header by name, matched case-insensitively (tools differ in case)."""
        lowered = name.lower()
        for k, v in self.headers:
            if k.lower() == lowered:
                return v
        return None

    @property
    def answer(self) -> str:
        return str(self.status) if self.status is not None else (self.error or "no answer")


@dataclass(frozen=True, slots=True)
class TraceMeta:
    """The optional first line of a JSONL trace: who wrote it and the sender's time scale."""

    source: str = ""
    time_scale: float = 1.0
    end_ns: int | None = None
    """When the recording stopped, on the attempts' clock: a retry not seen by then was not
    missed if it was not due yet. Without it the last attempt's end is taken."""


def _where_fail(where: str, field: str, message: str) -> TraceError:
    return TraceError(f"field {field!r}: {message}", where=where, field=field)


def _int(doc: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> int | None:
    value = doc.get(key)
    if value is None:
        if required:
            raise _where_fail(where, key, "is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _where_fail(where, key, f"must be an integer, got {value!r:.60}")
    return value


def _text(doc: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = doc.get(key)
    if value is None:
        if required:
            raise _where_fail(where, key, "is missing")
        return None
    if not isinstance(value, str):
        raise _where_fail(where, key, f"must be a string, got {type(value).__name__}")
    return value


def _headers(value: object, where: str, key: str = "headers") -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = []
        for i, item in enumerate(value):
            if isinstance(item, Mapping) and "name" in item:  # HAR form {name, value}
                pairs.append((item.get("name"), item.get("value")))
            elif isinstance(item, list | tuple) and len(item) == 2:
                pairs.append((item[0], item[1]))
            else:
                raise _where_fail(where, f"{key}[{i}]", "must be [name, value] or {name, value}")
    else:
        raise _where_fail(where, key, "must be an object or a list of [name, value]")
    out = []
    for name, val in pairs:
        if not isinstance(name, str) or not isinstance(val, str):
            raise _where_fail(where, key, f"header {name!r:.40} must map a string to a string")
        out.append((name, val))
    return tuple(out)


def _b64(text: str, where: str, key: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _where_fail(where, key, "is not valid base64") from None


def _moment(text: str, where: str, key: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _where_fail(where, key, f"is not an ISO-8601 time: {text!r:.60}") from None
    if moment.tzinfo is None:
        raise _where_fail(where, key, f"needs a UTC offset: {text!r:.60}")
    return moment


def _wall_ms(text: str, where: str, key: str) -> int:
    if len(text) == 24 and text[19] == "." and text[23] == "Z" and text[20:23].isascii():
        # The common form (YYYY-MM-DDTHH:MM:SS.mmmZ): its whole second parsed once, then reused
        # by the hundred attempts that start within it; anything odd takes the full parse.
        second = _SECONDS.get(text[:19])
        if second is None and text[20:23].isdigit():
            try:
                moment = datetime.fromisoformat(text[:19] + "+00:00")
            except ValueError:
                moment = None
            if moment is not None:
                if len(_SECONDS) > 4096:
                    _SECONDS.clear()
                second = _SECONDS[text[:19]] = round(moment.timestamp())
        if second is not None and text[20:23].isdigit():
            return second * 1000 + int(text[20:23])
    return round(_moment(text, where, key).timestamp() * 1000)


_SECONDS: dict[str, int] = {}


def _wall_ns(text: str, where: str, key: str) -> int:
    """Epoch nanoseconds, exact to the text's microseconds (mitmproxy writes microseconds)."""
    moment = _moment(text, where, key)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def har_error_kind(why: str) -> str:
    """The error kind (``NETWORK_ERRORS``) of a HAR entry without an answer, from its ``_error``.

    mitmproxy writes its flow's error message (``Client disconnected.`` when the sender gave
    up first, ``Server disconnected.``, ``[Errno 111] Connection refused``, ...), browsers
    ``net::ERR_...`` names. A HAR does not say *when* a sender gave up: an entry without an
    answer lasts only its connect and send time (``time``), so a timed-out attempt's end is
    not in the recording (see ``docs/trace-format.md``).
    """
    text = why.lower()
    if "timeout" in text or "timed out" in text or "timed_out" in text:
        return "timeout"
    if "name_not_resolved" in text or "resolve" in text or "name or service" in text:
        return "dns"
    if "ssl" in text or "tls" in text or "cert" in text:
        return "tls"
    if "client disconnected" in text or "reset" in text or "server disconnected" in text:
        return "reset"
    return "connect"


def _har_text_bytes(text: str, mime: object, where: str) -> bytes:
    """The exact bytes of a HAR body given as text: encoded back with the charset of its
    ``mimeType`` (UTF-8 when none), bytes a tool could not decode restored from the lone
    surrogates they were kept as (mitmproxy decodes with ``surrogateescape``)."""
    charset = "utf-8"
    if isinstance(mime, str) and "charset=" in mime.lower():
        charset = mime.lower().split("charset=", 1)[1].split(";")[0].strip().strip('"') or charset
    try:
        "".encode(charset)
    except LookupError:
        raise _where_fail(
            where, "request.postData.mimeType", f"unknown charset {charset!r}"
        ) from None
    try:
        return text.encode(charset, "surrogateescape")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogatepass")
        except UnicodeEncodeError:
            raise _where_fail(
                where, "request.postData.text", f"cannot be encoded as {charset}"
            ) from None


_DEEP: Final = 1800
"""Text this long may nest deeper than json's recursion allows (~990 levels); such text is
counted for brackets before orjson (whose limit is 1024) may parse it."""
_WIDE: Final = 9.2e18
"""orjson turns an integer outside 64 bits into a float; json keeps the int. Such a float is at
least this large, so a parsed value holding one is parsed again with json."""


def _quick(data: bytes | str) -> Any:
    """orjson's value of ``data``, or :data:`UNPARSED` where json must decide: orjson refused
    it (lone surrogates, NaN, a syntax error whose words json gives), or it may nest too deeply
    for json. The caller still checks for :data:`_WIDE` floats where values matter."""
    if _orjson is None:
        return UNPARSED
    if len(data) > _DEEP:
        brackets = (b"[", b"{") if isinstance(data, bytes) else ("[", "{")
        if data.count(brackets[0]) + data.count(brackets[1]) > 900:  # type: ignore[arg-type]
            return UNPARSED
    try:
        return _orjson.loads(data)
    except _orjson.JSONDecodeError:
        return UNPARSED


def _has_wide(value: object) -> bool:
    """True when a parsed value holds a float orjson may have made of a wide integer."""
    kind = type(value)
    if kind is float:
        return not -_WIDE < value < _WIDE  # type: ignore[operator]
    if kind is dict:
        for v in value.values():  # type: ignore[attr-defined]
            k = type(v)
            if k is not str and k is not int and _has_wide(v):
                return True
    elif kind is list:
        for v in value:  # type: ignore[attr-defined]
            k = type(v)
            if k is not str and k is not int and _has_wide(v):
                return True
    return False


def load_json(data: bytes | str) -> Any:
    """``json.loads(data)``: the same value, or the same ``ValueError`` with json's words.

    orjson parses when it can (a third of json's time, which a million-line trace feels); json
    decides what orjson refuses or reads differently: lone surrogates (the JSONL format keeps
    undecodable bytes so), ``NaN``/``Infinity``, integers beyond 64 bits (orjson makes them
    floats), nesting deeper than json allows, and every malformed text (so the error names the
    same position). Bytes must be UTF-8, as ``json.loads(data.decode("utf-8"))`` requires.
    """
    value = _quick(data)
    if value is UNPARSED or _has_wide(value):
        return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    return value


def parse_body(body: bytes) -> object:
    """The body as JSON when it looks like a JSON object or array, else None."""
    if body[:1] not in (b"{", b"[", b" "):
        return None
    try:
        return load_json(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


def _id_of(doc: object, headers: tuple[tuple[str, str], ...]) -> str | None:
    """The event id a receiver would dedupe on: the body's ``id``, else ``X-Webhook-Id``."""
    if isinstance(doc, dict) and isinstance(doc.get("id"), str):
        return str(doc["id"])
    return next((v for k, v in headers if k.lower() == "x-webhook-id"), None)


def attempt_row(doc: object, where: str, index: int) -> Attempt:
    """One attempt from a JSONL object or a DataFrame row (see ``docs/trace-format.md``)."""
    if not isinstance(doc, Mapping):
        raise TraceError(f"expected a JSON object, got {type(doc).__name__}", where=where)
    url = _text(doc, "url", where)
    assert url is not None
    method = _text(doc, "method", where, required=False) or "POST"
    headers = _headers(doc.get("headers"), where)
    if doc.get("body_base64") is not None:
        raw = _text(doc, "body_base64", where)
        assert raw is not None
        body = _b64(raw, where, "body_base64")
    else:
        value = doc.get("body")
        if isinstance(value, bytes | bytearray):
            body = bytes(value)
        elif isinstance(value, str):
            body = value.encode("utf-8", "surrogatepass")
        elif value is None:
            body = b""
        else:
            raise _where_fail(where, "body", f"must be a string, got {type(value).__name__}")
    start = _int(doc, "start_ns", where)
    end = _int(doc, "end_ns", where)
    assert start is not None and end is not None
    if end < start:
        raise _where_fail(where, "end_ns", f"{end} is before start_ns {start}")
    status = _int(doc, "status", where, required=False)
    error = _text(doc, "error", where, required=False)
    if status is None and error is None:
        raise _where_fail(where, "status", "an attempt needs a status or an error")
    if status is not None and not 100 <= status <= 599:
        raise _where_fail(where, "status", f"must be an HTTP status 100..599, got {status}")
    if error is not None and status is None and error not in NETWORK_ERRORS:
        raise _where_fail(where, "error", f"must be one of {', '.join(NETWORK_ERRORS)}")
    parsed = parse_body(body)
    event_id = _text(doc, "event_id", where, required=False) or _id_of(parsed, headers)
    started = _text(doc, "started", where, required=False)
    wall = _wall_ms(started, where, "started") if started else None
    return Attempt(
        index, url, method, headers, body, start, end, status, error, event_id, wall, parsed
    )


_ERRORS: Final = frozenset(NETWORK_ERRORS)


def _fast_row(doc: dict[str, Any], index: int) -> Attempt | None:
    """:func:`attempt_row` for the common well-formed line, or None to take the full path.

    Same result as :func:`attempt_row` whenever it returns one (every check the full path makes
    is made here, or the line goes there); a million-attempt trace spends most of its reading
    time in this function, so it checks types with ``type() is`` and builds no message.
    """
    url = doc.get("url")
    start = doc.get("start_ns")
    end = doc.get("end_ns")
    text = doc.get("body")
    if (
        type(url) is not str
        or type(start) is not int
        or type(end) is not int
        or end < start
        or type(text) is not str
        or doc.get("body_base64") is not None
    ):
        return None
    status = doc.get("status")
    error = doc.get("error")
    if type(status) is int:
        if not 100 <= status <= 599 or (error is not None and type(error) is not str):
            return None
    elif status is not None or type(error) is not str or error not in _ERRORS:
        return None
    method = doc.get("method")
    if method is None or method == "":
        method = "POST"
    elif type(method) is not str:
        return None
    raw = doc.get("headers")
    if raw is None:
        headers: tuple[tuple[str, str], ...] = ()
    elif type(raw) is list:
        for item in raw:
            if (
                type(item) is not list
                or len(item) != 2
                or type(item[0]) is not str
                or type(item[1]) is not str
            ):
                return None
        headers = tuple(map(tuple, raw))
    else:
        return None
    event_id = doc.get("event_id")
    started = doc.get("started")
    if (event_id is not None and type(event_id) is not str) or (
        started is not None and type(started) is not str
    ):
        return None
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: the full path keeps them as the format says
        return None
    parsed: object = None
    if text[:1] in ("{", "[", " "):
        try:
            parsed = load_json(text)
        except (ValueError, RecursionError):
            parsed = None
    if not event_id:
        event_id = _id_of(parsed, headers)
    wall = _wall_ms(started, f"line {index}", "started") if started else None
    return Attempt(
        index, url, method, headers, body, start, end, status, error, event_id, wall, parsed
    )


def _meta(doc: Mapping[str, Any], where: str) -> TraceMeta:
    scale = doc.get("time_scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
        raise _where_fail(where, "time_scale", f"must be a positive number, got {scale!r}")
    if doc.get("whsim_trace") != FORMAT_VERSION:
        raise _where_fail(where, "whsim_trace", f"this kit reads version {FORMAT_VERSION}")
    end = doc.get("end_ns")
    if end is not None and (isinstance(end, bool) or not isinstance(end, int)):
        raise _where_fail(where, "end_ns", f"must be an integer, got {end!r:.40}")
    return TraceMeta(str(doc.get("source", "")), float(scale), end)


def _line_json(line: bytes, where: str) -> Any:
    """One JSONL line parsed by json (the reference reading); bad JSON names the line."""
    try:
        return json.loads(line.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError is one
        raise TraceError(f"not valid JSON ({exc})", where=where) from None
    except RecursionError:
        raise TraceError("not valid JSON (nested too deeply)", where=where) from None


def line_attempt(line: bytes, number: int, meta: list[TraceMeta] | None = None) -> Attempt | None:
    """The attempt on one non-blank JSONL line (numbered from 1), or None for a header line
    (its :class:`TraceMeta` appended to ``meta``); bad input raises :class:`TraceError`."""
    # orjson's value where the fast row takes it: that row accepts only str, int and lists of
    # str, which orjson and json read alike; json's value for everything else.
    doc = _quick(line)
    if type(doc) is dict and "whsim_trace" not in doc:
        fast = _fast_row(doc, number)
        if fast is not None:
            return fast
    where = f"line {number}"
    doc = _line_json(line, where)
    if type(doc) is dict:
        if "whsim_trace" in doc:
            if meta is not None:
                meta.append(_meta(doc, where))
            return None
        fast = _fast_row(doc, number)
        if fast is not None:
            return fast
    return attempt_row(doc, where, number)


def line_fields(line: bytes, number: int, meta: list[TraceMeta]) -> Any:
    """One non-blank JSONL line parsed for routing, without building its attempt: the value
    (json's wherever orjson's ``url``, ``start_ns`` or ``end_ns`` could differ), or
    :data:`UNPARSED` for a header line (its :class:`TraceMeta` appended to ``meta``). Raises :class:`TraceError` for a
    line that is not JSON, as :func:`read_jsonl` does; the attempt's own checks come later."""
    doc = _quick(line)
    if (
        type(doc) is dict
        and "whsim_trace" not in doc
        and type(doc.get("start_ns")) is int
        and type(doc.get("end_ns")) is int
    ):
        return doc
    where = f"line {number}"
    doc = _line_json(line, where)
    if type(doc) is dict and "whsim_trace" in doc:
        meta.append(_meta(doc, where))
        return UNPARSED
    return doc


def read_jsonl(
    source: str | Path | IO[bytes], meta: list[TraceMeta] | None = None
) -> Iterator[Attempt]:
    """Attempts from a JSONL trace, one per line, streamed; ``meta`` receives the header line."""
    stream: IO[bytes]
    if isinstance(source, str | Path):
        stream = open(source, "rb")  # noqa: SIM115 - closed in finally, the generator may stop
        owned = True
    else:
        stream, owned = source, False
    try:
        number = 0
        while True:
            line = stream.readline(MAX_LINE + 1)
            if not line:
                return
            number += 1
            if len(line) > MAX_LINE:
                raise TraceError(f"longer than {MAX_LINE} bytes", where=f"line {number}")
            if not line.strip():
                continue
            attempt = line_attempt(line, number, meta)
            if attempt is not None:
                yield attempt
    finally:
        if owned:
            stream.close()


def _har_entry(entry: object, n: int) -> Attempt:
    where = f"entry {n}"
    if not isinstance(entry, Mapping):
        raise TraceError("expected an object", where=where)
    request = entry.get("request")
    response = entry.get("response")
    if not isinstance(request, Mapping):
        raise _where_fail(where, "request", "is missing or not an object")
    if response is not None and not isinstance(response, Mapping):
        raise _where_fail(where, "response", "must be an object")
    started = _text(entry, "startedDateTime", where)
    assert started is not None
    wall = _wall_ms(started, where, "startedDateTime")
    total = entry.get("time", 0)
    if isinstance(total, bool) or not isinstance(total, int | float) or total < 0:
        raise _where_fail(where, "time", f"must be a non-negative number of ms, got {total!r}")
    url = _text(request, "url", f"{where} request")
    method = _text(request, "method", f"{where} request", required=False) or "POST"
    assert url is not None
    headers = _headers(request.get("headers"), f"{where} request")
    post = request.get("postData") or {}
    if not isinstance(post, Mapping):
        raise _where_fail(where, "request.postData", "must be an object")
    text = post.get("text") or ""
    if not isinstance(text, str):
        raise _where_fail(where, "request.postData.text", "must be a string")
    encoding = post.get("encoding") or post.get("_encoding")
    if encoding == "base64":
        body = _b64(text, where, "request.postData.text")
    else:
        body = _har_text_bytes(text, post.get("mimeType"), where)
    status_value = (response or {}).get("status", 0)
    if isinstance(status_value, bool) or not isinstance(status_value, int):
        raise _where_fail(where, "response.status", f"must be an integer, got {status_value!r}")
    status: int | None = status_value if 100 <= status_value <= 599 else None
    error = None
    if status is None:
        why = entry.get("_error") or (response or {}).get("_error") or ""
        error = har_error_kind(str(why))
    start_ns = _wall_ns(started, where, "startedDateTime")
    end_ns = start_ns + round(float(total) * 1_000_000)
    parsed = parse_body(body)
    return Attempt(
        n,
        url,
        method,
        headers,
        body,
        start_ns,
        end_ns,
        status,
        error,
        _id_of(parsed, headers),
        wall,
        parsed,
    )


def read_har(source: str | Path | IO[bytes]) -> Iterator[Attempt]:
    """Attempts from a HAR 1.2 file: every entry with a request body (POSTs), in file order."""
    try:
        if isinstance(source, str | Path):
            with open(source, "rb") as f:
                doc = json.load(f)
        else:
            doc = json.load(source)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TraceError(f"not valid JSON ({exc})", where="HAR") from None
    log = doc.get("log") if isinstance(doc, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise TraceError("no log.entries list: not a HAR file", where="HAR", field="log.entries")
    for n, entry in enumerate(entries, start=1):
        attempt = _har_entry(entry, n)
        if attempt.method.upper() == "POST":
            yield attempt


def sniff_kind(path: Path) -> str:
    """``har`` when the file starts as a HAR document, else ``jsonl``."""
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    if head.startswith(b"{") and b'"log"' in head[:200]:
        return "har"
    return "jsonl"


def read_trace(
    source: str | Path, *, kind: str | None = None, meta: list[TraceMeta] | None = None
) -> Iterator[Attempt]:
    """Attempts from a file: HAR when it is one JSON document with ``log``, else JSONL."""
    path = Path(source)
    if not path.is_file():
        raise TraceError(f"no such file: {path}", where="trace")
    kind = kind or ("har" if path.suffix.lower() == ".har" else sniff_kind(path))
    if kind == "har":
        return read_har(path)
    if kind == "jsonl":
        return read_jsonl(path, meta)
    raise TraceError(f"unknown trace kind {kind!r}; known: har, jsonl", where="trace")


def as_json(attempt: Attempt) -> dict[str, Any]:
    """One attempt as a JSONL object (body as text when it is UTF-8, else base64)."""
    doc: dict[str, Any] = {
        "event_id": attempt.event_id,
        "url": attempt.url,
        "method": attempt.method,
        "headers": [list(h) for h in attempt.headers],
    }
    try:
        doc["body"] = attempt.body.decode("utf-8")
    except UnicodeDecodeError:
        doc["body_base64"] = base64.b64encode(attempt.body).decode("ascii")
    doc.update(
        start_ns=attempt.start_ns, end_ns=attempt.end_ns, status=attempt.status, error=attempt.error
    )
    if attempt.wall_ms is not None:
        from whsim.core.spec.events import format_timestamp

        doc["started"] = format_timestamp(attempt.wall_ms)
    return doc


def write_jsonl(
    attempts: Iterable[Attempt], out: str | Path | IO[str], *, meta: TraceMeta | None = None
) -> int:
    """Write attempts as JSONL (with a header line when ``meta`` is given); returns the count."""
    if isinstance(out, str | Path):
        with open(out, "w", encoding="utf-8") as f:
            return write_jsonl(attempts, f, meta=meta)
    n = 0
    if meta is not None:
        head: dict[str, Any] = {
            "whsim_trace": FORMAT_VERSION,
            "source": meta.source,
            "time_scale": meta.time_scale,
        }
        if meta.end_ns is not None:
            head["end_ns"] = meta.end_ns
        out.write(json.dumps(head) + "\n")
    for a in attempts:
        out.write(json.dumps(as_json(a), ensure_ascii=False) + "\n")
        n += 1
    return n


_COLUMNS: Final = (
    "event_id",
    "url",
    "method",
    "headers",
    "body",
    "start_ns",
    "end_ns",
    "status",
    "error",
    "wall_ms",
)


def to_frame(attempts: Iterable[Attempt]) -> pd.DataFrame:
    """One row per attempt (body as bytes, headers as a list of pairs)."""
    import pandas as pd

    rows = [
        (
            a.event_id,
            a.url,
            a.method,
            [list(h) for h in a.headers],
            a.body,
            a.start_ns,
            a.end_ns,
            a.status,
            a.error,
            a.wall_ms,
        )
        for a in attempts
    ]
    frame = pd.DataFrame(rows, columns=list(_COLUMNS))
    frame["status"] = frame["status"].astype("Int64")
    frame["wall_ms"] = frame["wall_ms"].astype("Int64")
    return frame


def from_frame(frame: pd.DataFrame) -> Iterator[Attempt]:
    """Attempts from a DataFrame with the JSONL fields as columns (``url``, ``start_ns``, ...)."""
    import pandas as pd

    for col in ("url", "start_ns", "end_ns"):
        if col not in frame.columns:
            raise TraceError(f"column {col!r} is missing", where="DataFrame", field=col)
    for n, row in enumerate(frame.to_dict("records"), start=1):
        doc: dict[str, Any] = {}
        for key, value in row.items():
            if value is pd.NA or (isinstance(value, float) and value != value):
                continue
            if hasattr(value, "item") and not isinstance(value, bytes | str):
                value = value.item()  # numpy scalar -> Python
            doc[str(key)] = value
        if isinstance(doc.get("headers"), str):
            try:
                doc["headers"] = json.loads(doc["headers"])
            except ValueError:
                raise _where_fail(f"row {n}", "headers", "is not JSON") from None
        wall = doc.pop("wall_ms", None)
        attempt = attempt_row(doc, f"row {n}", n)
        if wall is not None and attempt.wall_ms is None:
            attempt = dataclasses.replace(attempt, wall_ms=int(wall))
        yield attempt
