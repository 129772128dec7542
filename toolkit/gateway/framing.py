"""TWS socket framing: 4-byte big-endian length + NUL-terminated UTF-8 fields.

The connection opens with the raw bytes ``API\\0`` and one length-prefixed payload
``v<min>..<max>[ options]`` (no trailing NUL); every later message in both directions is a
frame whose payload is a list of fields, each followed by NUL (see docs/tws_protocol.md,
section 2, in the shared notes; the installed client's decoder is the specification).
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
    """Incremental decoder: feed bytes, take complete messages (lists of field strings)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[list[str]]:
        self.buffer.extend(data)
        out: list[list[str]] = []
        while len(self.buffer) >= 4:
            (size,) = struct.unpack(">I", self.buffer[:4])
            if size == 0 or size > MAX_FRAME:
                raise ProtocolError(f"frame length {size} is out of range")
            if len(self.buffer) < 4 + size:
                break
            payload = bytes(self.buffer[4 : 4 + size])
            del self.buffer[: 4 + size]
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError("frame is not UTF-8") from None
            fields = text.split("\0")
            if fields and fields[-1] == "":
                fields.pop()
            out.append(fields)
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
