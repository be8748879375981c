"""Read an uploaded file from the request body chunk by chunk: hash, sniff and store in one pass.

Werkzeug's form parser (``request.files``) spools every file over 500 KB to a temporary file, which
code then reads again; on a tmpfs ``/tmp`` that spool is RAM. These routes never touch
``request.files``/``request.form``: they read ``request.stream`` ``UPLOAD_READ_SIZE`` bytes at a time
and feed a multipart body through Werkzeug's sans-IO :class:`MultipartDecoder`, so each byte is held
once, briefly, on its way to the hash and the storage.

The read size (``UPLOAD_READ_SIZE``, 1 MiB) matches gunicorn's read-ahead: its body reader receives
up to 1 MiB from the socket and, on every ``read()``, copies all it still holds, so a 64 KiB read costs
about as much as a 1 MiB one. With 64 KiB reads those copies were the largest part of the worker's
CPU. Werkzeug's decoder, too, costs mostly per call: larger pieces make it cheaper per byte.

Two body shapes are accepted: ``multipart/form-data`` with a ``file`` part (what browsers send), and
a raw body of any other content type with the name in ``?filename=`` or ``X-Filename`` (for clients
that stream). The size limit is enforced on the bytes actually received, so a missing or lying
``Content-Length`` (or chunked transfer encoding) changes nothing. A form-urlencoded body has no file
in it: that is a 400 naming the missing field, not a guess at its type.

Every read of the body has a deadline (``UPLOAD_READ_TIMEOUT`` seconds between bytes) set on the
server's socket, so a client that stops sending mid-body gets a 408 instead of holding its greenlet,
and its temp file, until it hangs up.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import unquote

from flask import Request, after_this_request, current_app, request
from flask.wrappers import Response
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import NEED_DATA, Data, Epilogue, Field, File, MultipartDecoder, State

from app.errors import ApiError
from app.exports.turns import Turns, counted_here
from app.uploads.sniffing import Sniffer, UnsupportedType
from values import MB

FILE_FIELD = "file"
# Part headers, boundaries and small form fields around the file: the body may exceed the file's
# limit by this much, and the decoder's buffer never holds more than a read plus this.
MULTIPART_OVERHEAD = 64 * 1024
MAX_FIELD_BYTES = 64 * 1024  # a field such as an import's conflict decisions (JSON)
MAX_PARTS = 16
TURN_BYTES = MB  # a turn per MiB: ~100 per 100 MB, too few to cost throughput, often enough for list calls
DEFAULT_FILENAME = "upload"


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the file is larger than the {limit // MB} MB limit", "upload_too_large")


def incomplete() -> ApiError:
    return ApiError(400, "the request body ended before the upload was complete", "upload_incomplete")


def timed_out(seconds: float) -> ApiError:
    return ApiError(408, f"no body bytes received for {seconds:g} s; the upload was dropped", "upload_timeout")


def no_file_field() -> ApiError:
    return ApiError(
        400,
        "no file field: send multipart/form-data with a 'file' part, or the raw file with ?filename=",
        "no_file_field",
    )


FORM_URLENCODED = "application/x-www-form-urlencoded"


@dataclass
class Upload:
    """The file in a request: its display name, the small form fields, and its bytes as chunks.

    ``fields`` is complete only after ``chunks`` is exhausted (fields may follow the file part).
    """

    filename: str
    chunks: Iterator[bytes]
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    sha256: str
    size: int
    content_type: str


def open_upload(request: Request, limit: int, read_size: int, read_timeout: float | None = None) -> Upload:
    """Start reading the upload in ``request``; nothing beyond the file part's headers is read yet."""
    uploads = open_uploads(request, limit, read_size, read_timeout)
    first = next(uploads, None)
    if first is None:
        raise no_file_field()
    return Upload(first.filename, _only_file(first, uploads), first.fields)


def open_uploads(request: Request, limit: int, read_size: int, read_timeout: float | None = None) -> Iterator[Upload]:
    """Every ``file`` part of ``request`` in turn (a raw body is one file), each read as it is consumed.

    One part is read at a time: take the next upload only after consuming the previous one's chunks
    (what is left of a part is skipped). ``limit`` bounds each file and, with the multipart overhead,
    the whole body. The body is read ``read_size`` bytes at a time, and a raw body's chunks are those
    reads. The uploads share one ``fields`` dict, complete once the body is read. ``read_timeout``
    (seconds between bytes) applies where the server exposes its socket (gunicorn).
    """
    request.max_content_length = limit + MULTIPART_OVERHEAD
    _stop_reading_body_after_error(request)
    mimetype, options = parse_options_header(request.headers.get("Content-Type", ""))
    if mimetype == FORM_URLENCODED:
        raise no_file_field()
    try:
        stream = request.stream  # raises 413 at once when Content-Length already exceeds the limit
    except RequestEntityTooLarge:
        raise too_large(limit) from None
    sock = request.environ.get("gunicorn.socket") if read_timeout else None
    read = _reader(stream, read_size, limit, request.content_length, _Deadline(sock, read_timeout))
    if mimetype == "multipart/form-data":
        boundary = options.get("boundary", "")
        if not boundary:
            raise ApiError(400, "multipart body without a boundary", "malformed_upload")
        return _multipart_uploads(read, boundary.encode("latin-1"), read_size)
    name = request.args.get("filename") or unquote(request.headers.get("X-Filename", ""))
    return iter([Upload(display_name(name), _raw_chunks(read))])


def _only_file(first: Upload, rest: Iterator[Upload]) -> Iterator[bytes]:
    yield from first.chunks
    if next(rest, None) is not None:
        raise ApiError(400, "only one file per upload", "malformed_upload")


def upload_limit() -> int:
    """``MAX_UPLOAD_MB`` in bytes: the one limit every body-reading view applies."""
    return current_app.config["MAX_UPLOAD_MB"] * MB


def open_request_upload() -> Upload:
    """The current request's body as an :class:`Upload`, with the app's limit and read size."""
    config = current_app.config
    return open_upload(request, upload_limit(), config["UPLOAD_READ_SIZE"], config["UPLOAD_READ_TIMEOUT"])


def open_request_uploads() -> Iterator[Upload]:
    """Every file of the current request (several ``file`` parts), with the app's limit and read size."""
    config = current_app.config
    return open_uploads(request, upload_limit(), config["UPLOAD_READ_SIZE"], config["UPLOAD_READ_TIMEOUT"])


def receive(upload: Upload, write: Callable[[bytes], None], limit: int, allowed: frozenset[str]) -> Received:
    """Pass every chunk to the hash, the sniffer and ``write`` in one pass; enforce the limit as it grows.

    Raises 400 (empty or incomplete body), 413 (over ``limit``) or 415 (type not in ``allowed``) as
    soon as that is known; the caller's ``write`` target is responsible for discarding what it got.
    Every ``TURN_BYTES`` the upload takes a turn (:class:`app.exports.turns.Turns`): with the body
    already in the socket buffer no read ever waits, and without turns one upload would hold its gevent
    worker, new connections included, until its last byte.
    """
    digest = hashlib.sha256()
    sniffer = Sniffer(allowed)
    size = since_turn = 0
    try:
        with Turns(counted_self=counted_here()) as turns:
            for chunk in upload.chunks:
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                sniffer.feed(chunk)
                digest.update(chunk)
                write(chunk)
                since_turn += len(chunk)
                if since_turn >= TURN_BYTES:
                    turns.take()
                    since_turn = 0
        if size == 0:
            raise ApiError(400, "the file is empty", "empty_upload")
        content_type = sniffer.result()
    except UnsupportedType as exc:
        raise ApiError(415, f"unsupported file type ({exc}); allowed: {_names(allowed)}", "unsupported_type") from None
    return Received(digest.hexdigest(), size, content_type)


def display_name(raw: str) -> str:
    """The client's file name reduced to a safe display name (never used as a path)."""
    base = raw.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip().strip(".")
    return cleaned[:255] or DEFAULT_FILENAME


def _names(types: frozenset[str]) -> str:
    return ", ".join(sorted(types))


class _Deadline:
    """Sets the socket's timeout around one body read and puts the server's own value back after.

    gunicorn's body reader calls ``recv`` on this socket (under gevent, a cooperative one), so the
    timeout surfaces from ``stream.read`` as ``TimeoutError``. The previous value is restored because
    gunicorn keeps using the socket for the response and for keep-alive.
    """

    def __init__(self, sock: socket.socket | None, seconds: float | None) -> None:
        self.sock = sock
        self.seconds = seconds or 0.0

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        if self.sock is None:
            yield
            return
        previous = self.sock.gettimeout()
        self.sock.settimeout(self.seconds)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                self.sock.settimeout(previous)


def _reader(
    stream: IO[bytes], read_size: int, limit: int, declared: int | None, deadline: _Deadline
) -> Callable[[], bytes]:
    """``read()`` returning the next chunk (b"" at the end) with every transport failure mapped to 4xx.

    A client that disconnects shows up as a short body (fewer bytes than its Content-Length), as
    Werkzeug's ``ClientDisconnected``, or as an ``OSError`` from the server's socket (gunicorn raises
    ``NoMoreData`` mid-chunk); all of them mean "incomplete". A client that stops sending is a
    ``TimeoutError`` (408). Anything else the server's reader raises is its parser refusing the
    framing (gunicorn's ``InvalidChunkSize`` and friends, which are not ``OSError``): the body is
    malformed, a 400, not a 500.
    """
    received = 0

    def read() -> bytes:
        nonlocal received
        try:
            with deadline.applied():
                chunk = stream.read(read_size)
        except RequestEntityTooLarge:
            raise too_large(limit) from None
        except (ClientDisconnected, OSError) as exc:
            # Werkzeug's length-limited stream turns the socket's TimeoutError into ClientDisconnected.
            if _caused_by(exc, TimeoutError):
                raise timed_out(deadline.seconds) from None
            raise incomplete() from None
        except Exception as exc:  # the server's HTTP parser rejected the body's framing
            raise ApiError(400, f"malformed request body ({type(exc).__name__})", "malformed_body") from None
        received += len(chunk)
        if not chunk and declared is not None and received < declared:
            raise incomplete()
        return chunk

    return read


def _caused_by(exc: BaseException | None, kind: type[BaseException]) -> bool:
    while exc is not None:
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _raw_chunks(read: Callable[[], bytes]) -> Iterator[bytes]:
    while chunk := read():
        yield chunk


class _Decoder(MultipartDecoder):
    """Werkzeug's decoder, holding back a partial closing delimiter (``CRLF--boundary-``) like a boundary.

    Werkzeug 3.1.9 keeps the bytes after the last line break only while they are shorter than
    ``CRLF--boundary``. When a read ended one byte into the closing ``--``, the CR before the boundary
    was handed on as file data: the stored file got one stray byte at its end, and a wrong sha256.
    Whether that happens depends only on where reads end (``test_every_read_size_...``). The window
    here is the closing delimiter's length; the rest is Werkzeug's method as it is.
    """

    def _last_partial_boundary_index(self, data: bytes | bytearray) -> int:
        complete_boundary_index = len(data) - len(b"\r\n--" + self.boundary + b"--")
        ends = [len(data)]
        for line_break in (b"\n", b"\r"):
            last = data.rfind(line_break)
            if last >= max(complete_boundary_index, 0):
                ends.append(last)
        return min(ends)


def _multipart_uploads(read: Callable[[], bytes], boundary: bytes, read_size: int) -> Iterator[Upload]:
    decoder = _Decoder(boundary, max_form_memory_size=read_size + MULTIPART_OVERHEAD, max_parts=MAX_PARTS)
    events = _events(decoder, read)
    fields: dict[str, str] = {}
    found = False
    for event in events:
        if isinstance(event, Field):
            fields[event.name] = _field_value(events)
        elif isinstance(event, File):
            if event.name != FILE_FIELD:
                raise ApiError(400, f"unexpected file field {event.name!r}; send files as 'file'", "malformed_upload")
            found = True
            upload = Upload(display_name(event.filename), _part_chunks(events), fields)
            yield upload
            for _ in upload.chunks:  # the consumer stopped early: skip the rest of this part
                pass
    if not found:
        raise no_file_field()


def _events(decoder: MultipartDecoder, read: Callable[[], bytes]) -> Iterator[object]:
    """Multipart events, reading a chunk whenever the decoder needs data; ends after the epilogue."""
    try:
        while True:
            event = decoder.next_event()
            if event is NEED_DATA:
                decoder.receive_data(read() or None)
                continue
            yield event
            if isinstance(event, Epilogue):
                return
    except RequestEntityTooLarge:
        if decoder.state is State.PREAMBLE:
            raise ApiError(400, "no multipart boundary found in the body", "malformed_upload") from None
        raise ApiError(413, "multipart headers or fields are too large", "upload_too_large") from None
    except ValueError:
        raise ApiError(400, "malformed or truncated multipart body", "malformed_upload") from None


def _part_chunks(events: Iterator[object]) -> Iterator[bytes]:
    """One file part's bytes, up to the end of that part."""
    for event in events:
        if not isinstance(event, Data):
            return
        if event.data:
            yield event.data
        if not event.more_data:
            return


def _field_value(events: Iterator[object]) -> str:
    value = bytearray()
    for event in events:
        if not isinstance(event, Data):
            break
        value += event.data
        if len(value) > MAX_FIELD_BYTES:
            raise ApiError(400, f"form fields are limited to {MAX_FIELD_BYTES} bytes", "malformed_upload")
        if not event.more_data:
            break
    return value.decode("utf-8", "replace")


def _stop_reading_body_after_error(request: Request) -> None:
    """After an error response, stop the server from draining the unread rest of the body.

    gunicorn reads and discards a request's unread body before the next request on the connection,
    so a 413 at 25 MB of a 1 GB upload would still pull the other 975 MB through the worker. Shutting
    the socket's read side after the response is sent ends that at once. Only gunicorn exposes the
    socket (``gunicorn.socket``); elsewhere this does nothing.
    """
    sock = request.environ.get("gunicorn.socket")
    if sock is None:
        return

    @after_this_request
    def _close_on_error(response: Response) -> Response:
        if response.status_code >= 400:
            response.call_on_close(lambda: _shutdown_read(sock))
        return response


def _shutdown_read(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the client is already gone
        sock.shutdown(socket.SHUT_RD)
