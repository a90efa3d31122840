"""Reading a folder of Graph JSON exports (for the files source) without ever crashing on what is in it.

Whatever a file holds, :func:`read_file` returns the records it could read and lists the rest, each with where it
was (file, item or line, record id, field) and why: a file that cannot be opened (a symlink loop, no permission),
text that is not UTF-8/UTF-16/UTF-32, JSON that does not parse, a record nested deeper than
:data:`~sspr_review.core.records.MAX_DEPTH` (parsing it would exhaust the stack: the other records of its file are
still read, by splitting the file's record list without parsing it), an item that is not a JSON object, and text
that is not valid Unicode (a lone surrogate from a ``\\ud800`` escape).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import numpy as np

from ..core.errors import InputError, NotStreamable
from ..core.records import MAX_DEPTH, Rejected, unicode_problem

_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:,]', re.S)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_TOO_DEEP = object()
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass
class FileRecords:
    """What one file gave: records (with where each was) and what could not be read."""

    records: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    context: str = ""


def depth(text: str) -> int:
    """How deeply ``text`` (JSON) nests arrays and objects, without parsing it (brackets in strings skipped).

    Vectorised: escaped backslashes and quotes are removed, then everything but brackets and quotes; a bracket
    after an odd number of quotes is inside a string.
    """
    data = text.encode("utf-8", "surrogatepass").replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = data.translate(None, _NOT_STRUCTURE)
    if not kept:
        return 0
    codes = np.frombuffer(kept, dtype=np.uint8)
    outside = np.cumsum(codes == ord('"')) % 2 == 0
    steps = ((codes == ord("[")) | (codes == ord("{"))).astype(np.int64) - ((codes == ord("]")) | (codes == ord("}")))
    return max(int(np.cumsum(steps * outside).max()), 0)


def _encoding(data: bytes) -> str:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    if len(data) >= 2 and data[0] != 0 and data[1] == 0:
        return "utf-16-le"  # PowerShell's Out-File without a byte-order mark
    if len(data) >= 2 and data[0] == 0 and data[1] != 0:
        return "utf-16-be"
    return "utf-8"


def _decode(data: bytes, encoding: str) -> str:
    """``data`` as text; ``ValueError`` naming the byte when it is not text in ``encoding``."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"not {encoding.upper().removesuffix('-SIG')} text (byte {exc.start}: 0x{data[exc.start]:02x});"
            " save the export as UTF-8"
        ) from None


def _json_error(exc: json.JSONDecodeError) -> str:
    return f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"


def _deep_detail(text: str) -> str:
    """Which top-level field of the record in ``text`` nests deepest, and the record's id, for the message."""
    level, key, prev, record_id = 0, "", "", ""
    deepest: dict[str, int] = {}
    for match in _TOKEN.finditer(text):
        token = match.group()
        char = token[0]
        if char in "[{":
            level += 1
            if level > 1 and key:
                deepest[key] = max(deepest.get(key, 0), level - 1)
        elif char in "]}":
            level -= 1
        elif char == '"' and level == 1:
            if prev in ("{", ","):
                key = str(json.loads(token))
            elif prev == ":" and key == "id":
                record_id = str(json.loads(token))
        prev = char
    field_name = max(deepest, key=lambda k: deepest[k]) if deepest else ""
    parts = [f"id {record_id!r}" if record_id else "", f"field {field_name}" if field_name else ""]
    return ", ".join(p for p in parts if p)


def _split_records(text: str) -> tuple[list[str], str, bool]:
    """The texts of a document's records without parsing them, and its ``@odata.context``.

    The records are the elements of a top-level array, of a top-level object's ``value`` array, or the
    document itself. Used only for documents too deep to parse; each piece is then parsed (or rejected) alone.
    """
    level = 0
    records_level: int | None = None
    start = 0
    prev, key, top, context = "", "", "", ""
    items: list[str] = []
    found = False
    for match in _TOKEN.finditer(text):
        token = match.group()
        char = token[0]
        if char in "[{":
            level += 1
            if level == 1:
                top = char
                if char == "[":
                    records_level, start, found = 1, match.end(), True
            elif level == 2 and char == "[" and top == "{" and prev == ":" and key == "value" and not found:
                records_level, start, found = 2, match.end(), True
        elif char in "]}":
            if records_level is not None and level == records_level and char == "]":
                piece = text[start : match.start()].strip()
                if piece or items:
                    items.append(piece)
                records_level = None
            level -= 1
        elif char == "," and records_level is not None and level == records_level:
            items.append(text[start : match.start()].strip())
            start = match.end()
        elif char == '"' and level == 1 and top == "{":
            if prev in ("{", ","):
                key = str(json.loads(token))
            elif prev == ":" and key == "@odata.context":
                context = str(json.loads(token))
        prev = char
    if not found:
        return [text.strip()], context, False
    return items, context, True


def _parse_document(text: str, where: str, out: FileRecords, *, line: bool = False) -> list[tuple[Any, str]]:
    """Items of one JSON document, each with where it was; what cannot be read goes to ``out.rejected``.

    A ``line`` of JSON Lines is one item, unless it is a Graph response (an object with a ``value`` list).
    """
    doc: Any = _TOO_DEEP
    try:
        if depth(text) <= MAX_DEPTH + 1:
            doc = json.loads(text)
    except json.JSONDecodeError as exc:
        out.rejected.append(Rejected(_json_error(exc), where, text[:2000]))
        return []
    except RecursionError:
        doc = _TOO_DEEP
    if doc is not _TOO_DEEP:
        if isinstance(doc, dict):
            out.context = out.context or str(doc.get("@odata.context", ""))
            if isinstance(doc.get("value"), list):
                return [(item, f"{where} item {i}") for i, item in enumerate(doc["value"])]
            return [(doc, where)]
        if isinstance(doc, list) and not line:
            return [(item, f"{where} item {i}") for i, item in enumerate(doc)]
        return [(doc, where)]
    # Too deep to parse as a whole: split the record list and read each record alone.
    pieces, context, listed = _split_records(text)
    if line and not text.lstrip().startswith("{"):
        pieces, listed = [text.strip()], False
    out.context = out.context or context
    items: list[tuple[Any, str]] = []
    for i, piece in enumerate(pieces):
        at = f"{where} item {i}" if listed else where
        levels = depth(piece)
        if levels > MAX_DEPTH:
            detail = _deep_detail(piece)
            out.rejected.append(
                Rejected(
                    f"nested {levels} levels deep{f' ({detail})' if detail else ''}; Graph records are under ten"
                    " levels deep, so this is not one",
                    at,
                    piece[:2000],
                )
            )
            continue
        try:
            items.append((json.loads(piece), at))
        except json.JSONDecodeError as exc:
            out.rejected.append(Rejected(_json_error(exc), at, piece[:2000]))
    return items


def read_file(file: Path) -> FileRecords:
    """The JSON objects in ``file`` (``.json``: a Graph response, a list or one object; ``.jsonl``: one per line)."""
    out = FileRecords()
    out.records = list(stream_file(file, out))
    return out


def stream_file(file: Path, out: FileRecords) -> Iterator[tuple[dict[str, Any], str]]:
    """The JSON objects of ``file`` with where each was, one at a time (what :func:`read_file` lists); what cannot
    be read goes to ``out.rejected`` and the file's ``@odata.context`` to ``out.context``.

    A UTF-8 JSON Lines file is read a line at a time, and a ``.json`` file holding a list of records (bare, or a
    Graph response's ``value``) a record at a time after one read-through that finds it parses as a whole read would
    (:class:`_JsonStream`), so their records are never held together in memory. Anything else (a file that does
    not parse, one object, JSON Lines not in UTF-8) is read whole, as before.
    """
    given = 0
    try:
        if file.suffix == ".jsonl":
            with file.open("rb") as fh:
                if _encoding(fh.read(4)) == "utf-8":
                    fh.seek(0)
                    for record in _read_lines(file, fh, out):
                        given += 1
                        yield record
                    return
    except OSError as exc:
        loaded = f"the {given} records before it were loaded" if given else "no record in it was loaded"
        out.rejected.append(Rejected(f"cannot be read ({exc.strerror or exc}); {loaded}", str(file)))
        return
    if file.suffix != ".jsonl":
        streamed = _streamed_json(file)
        if streamed is not None:
            out.context = out.context or streamed
            yield from _stream_json(file, out)
            return
    whole = FileRecords()
    _read_whole(file, whole)
    out.rejected.extend(whole.rejected)
    out.context = out.context or whole.context
    yield from whole.records


#: Characters of a ``.json`` file decoded and parsed at a time by the streaming reader.
_STREAM_CHARS = 1 << 22
#: The longest value (in characters) the streaming reader reads on for before it calls the file not streamable.
_LONGEST = 16 * _STREAM_CHARS
_WHITESPACE = " \t\n\r"
_DECODER = json.JSONDecoder()


class _JsonStream:
    """A ``.json`` document read :data:`_STREAM_CHARS` characters at a time: its records (the elements of its
    top-level array, or of its top-level object's ``value`` array) parsed one at a time, each with its text's span.

    Whatever :func:`_read_whole` would read differently from one ``json.loads`` of the whole text raises
    :class:`NotStreamable` (the caller then reads the file whole, as before): a syntax error anywhere, a
    document deeper than :data:`~sspr_review.core.records.MAX_DEPTH` allows, no such array, a repeated ``value``.
    """

    def __init__(self, fh: TextIO) -> None:
        self.fh = fh
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.context: Any = None
        self.has_context = False
        self.first = True

    def _more(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.fh.read(_STREAM_CHARS)
        except (UnicodeDecodeError, ValueError) as exc:
            raise NotStreamable from exc
        if self.first:
            chunk, self.first = chunk.lstrip("\ufeff"), False
        if not chunk:
            self.eof = True
            return False
        if self.pos > _STREAM_CHARS:
            self.buf, self.pos = self.buf[self.pos :], 0
        self.buf += chunk
        return True

    def _char(self) -> str:
        """The next character that is not whitespace ('' at the end of the file), not consumed."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def _expect(self, chars: str) -> str:
        char = self._char()
        if not char or char not in chars:
            raise NotStreamable
        self.pos += 1
        return char

    def _value(self, level: int) -> tuple[Any, int, int]:
        """The JSON value at the cursor, nested in ``level`` containers, and its text's span in :attr:`buf`."""
        self._char()
        while True:
            start = self.pos
            try:
                value, end = _DECODER.raw_decode(self.buf, start)
            except json.JSONDecodeError:
                if len(self.buf) - start <= _LONGEST and self._more():
                    continue  # cut by the chunk's end
                raise NotStreamable from None  # not JSON; or no Graph record, far longer than any
            except RecursionError:
                raise NotStreamable from None
            if self.buf[start] not in '{["' and end >= len(self.buf) and self._more():
                continue  # a number or literal cut by the chunk's end: parse it again whole
            text = self.buf[start:end]
            opened = text.count("{") + text.count("[")  # at least its depth: most records need no more
            if level + opened > MAX_DEPTH + 1 and level + depth(text) > MAX_DEPTH + 1:
                raise NotStreamable
            self.pos = end
            return value, start, end

    def _elements(self, level: int) -> Iterator[tuple[Any, int, int]]:
        """The elements of the array whose ``[`` was just consumed (nested in ``level`` containers)."""
        if self._char() == "]":
            self.pos += 1
            return
        while True:
            yield self._value(level)
            if self._expect(",]") == "]":
                return

    def records(self) -> Iterator[tuple[Any, int, int]]:
        """The records, in order; then the end of the document is checked (only whitespace after it)."""
        top = self._expect("[{")
        if top == "[":
            yield from self._elements(1)
        else:
            listed = False
            if self._char() == "}":
                raise NotStreamable  # one empty object: a record, read whole
            while True:
                if self._char() != '"':
                    raise NotStreamable
                key, _, _ = self._value(1)
                self._expect(":")
                if key == "value" and self._char() == "[" and not listed:
                    self.pos += 1
                    listed = True
                    yield from self._elements(2)
                elif key == "value":
                    raise NotStreamable  # not a list, or given twice: json.loads keeps the last
                else:
                    value, _, _ = self._value(1)
                    if key == "@odata.context":
                        self.context, self.has_context = value, True
                if self._expect(",}") == "}":
                    break
            if not listed:
                raise NotStreamable  # one object: the record itself
        if self._char():
            raise NotStreamable  # more after the document


def _open_text(file: Path) -> TextIO:
    with file.open("rb") as fh:
        encoding = _encoding(fh.read(4))
    return file.open(encoding=encoding, errors="strict", newline="")


def _streamed_json(file: Path) -> str | None:
    """When ``file`` (``.json``) can be streamed, its ``@odata.context`` (as :func:`_read_whole` gives it), after
    reading it through once without keeping a record; else ``None`` (it is then read whole)."""
    try:
        with _open_text(file) as fh:
            stream = _JsonStream(fh)
            for _ in stream.records():
                pass
    except (NotStreamable, OSError, LookupError):
        return None
    return str(stream.context) if stream.has_context else ""


def _stream_json(file: Path, out: FileRecords) -> Iterator[tuple[dict[str, Any], str]]:
    """The records of a ``.json`` file :func:`_streamed_json` accepted, parsed one at a time (what
    :func:`_read_whole` gives, never holding the file or its records whole)."""
    try:
        with _open_text(file) as fh:
            stream = _JsonStream(fh)
            for number, (item, start, end) in enumerate(stream.records()):
                surrogates = _SURROGATE_ESCAPE.search(stream.buf, start, end) is not None
                yield from _objects([(item, f"{file} item {number}")], out, surrogates)
    except (NotStreamable, OSError) as exc:
        raise InputError(f"{file} changed while it was read; run again") from exc


def _read_whole(file: Path, out: FileRecords) -> None:
    """The records of a ``.json`` file (or a JSON Lines file not in UTF-8), read whole."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        out.rejected.append(Rejected(f"cannot be read ({exc.strerror or exc}); no record in it was loaded", str(file)))
        return
    encoding = _encoding(data)
    items: list[tuple[Any, str]] = []
    if encoding == "utf-8":
        surrogates = bool(_SURROGATE_ESCAPE_BYTES.search(data))
    try:
        text = _decode(data, encoding).lstrip("\ufeff")
    except ValueError as exc:
        out.rejected.append(Rejected(f"{exc}; no record in it was loaded", str(file)))
        return
    del data
    if encoding != "utf-8":
        surrogates = bool(_SURROGATE_ESCAPE.search(text))
    if file.suffix == ".jsonl":
        for number, row in enumerate(text.split("\n"), 1):
            if row.strip():
                items.extend(_parse_document(row, f"{file} line {number}", out, line=True))
    else:
        items = _parse_document(text, str(file), out)
    del text
    out.records = list(_objects(items, out, surrogates))


def _objects(items: list[tuple[Any, str]], out: FileRecords, surrogates: bool) -> Iterator[tuple[dict[str, Any], str]]:
    """The JSON objects of ``items``; anything else (and bad Unicode) goes to ``out.rejected``."""
    for item, where in items:
        if not isinstance(item, dict):
            kind = "null" if item is None else type(item).__name__
            out.rejected.append(Rejected(f"is not a JSON object (a {kind})", where, json.dumps(item)[:2000]))
            continue
        if surrogates and (problem := unicode_problem(item)):
            out.rejected.append(Rejected(problem, where, json.dumps(item, ensure_ascii=True)[:2000]))
            continue
        yield item, where


def _read_lines(file: Path, fh: BinaryIO, out: FileRecords) -> Iterator[tuple[dict[str, Any], str]]:
    """The records of a UTF-8 JSON Lines file, read a line at a time (the file is never held whole in memory)."""
    for number, line in enumerate(fh, 1):
        line = line.rstrip(b"\n")
        if not line.strip():
            continue
        where = f"{file} line {number}"
        try:
            text = _decode(line, "utf-8")
        except ValueError as exc:
            out.rejected.append(Rejected(str(exc), where, line[:2000].decode("utf-8", "replace")))
            continue
        surrogates = bool(_SURROGATE_ESCAPE.search(text))
        yield from _objects(_parse_document(text, where, out, line=True), out, surrogates)
