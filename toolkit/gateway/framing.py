"""TWS socket framing: 4-byte big-endian length + NUL-terminated UTF-8 fields.

The connection opens with the raw bytes ``API\\0`` and one length-prefixed payload
``v<min>..<max>[ options]`` (no trailing NUL); every later message in both directions is a
frame whose payload is a list of fields, each followed by NUL (the installed ib_async
client's ``client.py`` and ``decoder.py`` are the specification).
"""

from __future__ import annotations

import struct

from toolkit.errors import ToolkitError

MAX_FRAME = 16 * 1024 * 1024  # a client message larger than this is treated as garbage
PREFIX = b"API\0"


class ProtocolError(ToolkitError):
    """A peer sent bytes that do not follow the protocol; its connection is closed."""


def encode(fields: list[str | int | float]) -> bytes:
    """One framed message from its fields (ints as plain integers, floats via repr)."""
    parts = []
    for f in fields:
        text = f if isinstance(f, str) else (str(f) if isinstance(f, int) else repr(float(f)))
        if "\0" in text:
            raise ProtocolError(f"field {text!r} contains NUL")
        parts.append(text.encode())
    payload = b"".join(p + b"\0" for p in parts)
    return struct.pack(">I", len(payload)) + payload


class FrameReader:
    """Incremental decoder: feed bytes, take complete messages (lists of field strings).

    A length prefix above ``max_frame`` is refused as soon as it arrives, so an oversized
    frame is never buffered. Frames decoded before a bad one are still returned (a client's
    last good requests are served); the bad one is then kept in ``error`` and nothing after
    it is read. ``pending`` tells whether an incomplete frame is waiting."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.buffer = bytearray()
        self.max_frame = max_frame
        self.error: ProtocolError | None = None

    @property
    def pending(self) -> bool:
        return bool(self.buffer)

    def feed(self, data: bytes) -> list[list[str]]:
        if self.error is not None:
            return []
        self.buffer.extend(data)
        out: list[list[str]] = []
        buf, pos = self.buffer, 0
        while len(buf) - pos >= 4:
            (size,) = struct.unpack_from(">I", buf, pos)
            if size == 0 or size > self.max_frame:
                self.error = ProtocolError(
                    f"frame length {size} is out of range (1..{self.max_frame} bytes)"
                )
                pos = len(buf)
                break
            if len(buf) - pos < 4 + size:
                break
            payload = bytes(buf[pos + 4 : pos + 4 + size])
            pos += 4 + size
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                self.error = ProtocolError("frame is not UTF-8")
                pos = len(buf)
                break
            fields = text.split("\0")
            if fields and fields[-1] == "":
                fields.pop()
            out.append(fields)
        del buf[:pos]
        return out


def parse_version_range(payload: bytes) -> tuple[int, int]:
    """``v157..178[ opts]`` -> (157, 178)."""
    try:
        text = payload.decode("ascii").split(" ")[0]
        if not text.startswith("v"):
            raise ValueError
        lo, hi = text[1:].split("..")
        return int(lo), int(hi)
    except ValueError:
        raise ProtocolError(f"bad version handshake {payload[:40]!r}") from None
