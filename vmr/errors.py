"""Errors that reach the user as one line: what went wrong, and with which file."""

from __future__ import annotations

from pathlib import Path


class VmrError(Exception):
    """An error the CLI prints as a single line before exiting non-zero."""


class MediaError(VmrError):
    """A file that cannot be decoded as a video (or its audio)."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class Stopped(Exception):
    """Raised inside a part of an analysis told to stop because another part failed or was
    interrupted; the other part's error is the one that reaches the user."""


class ModelError(VmrError):
    """Model weights that are missing, corrupt or cannot be loaded."""


class QueryError(VmrError):
    """A search request that cannot be answered as asked (empty query, bad k)."""


def printable(text: object) -> str:
    """`text` on one line, as a message shows it: control characters (a newline in a file
    name) and bytes that are not UTF-8 (kept by Python as lone surrogates) become backslash
    escapes, so that one message stays one line and can always be printed."""
    out = []
    for char in str(text):
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as os.fsdecode keeps it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code <= 0xDFFF or code in (0x2028, 0x2029):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def not_utf8(text: str) -> str | None:
    """Why `text` (an argument, a file name) is not valid UTF-8, or None when it is."""
    for position, char in enumerate(text):
        if 0xDC80 <= ord(char) <= 0xDCFF:
            return f"not valid UTF-8 (byte 0x{ord(char) - 0xDC00:02x} at position {position})"
        if 0xD800 <= ord(char) <= 0xDFFF:
            return f"not valid UTF-8 (a lone surrogate at position {position})"
    return None


def os_problem(exc: OSError) -> str:
    """What an OSError says about a file, in the words vmr's messages use."""
    import errno

    return {
        errno.ENOENT: "no such file or folder",
        errno.ELOOP: "a symlink loop (too many levels of symbolic links)",
        errno.ENAMETOOLONG: "file name too long for the file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOTDIR: "a part of the path is not a folder",
    }.get(exc.errno, exc.strerror or str(exc))
