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
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import ijson  # type: ignore[import-untyped]
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

    JSON Lines are read a line at a time (UTF-16/32 after one pass that finds the whole file decodes), and a
    ``.json`` file holding a list of records (bare, or a Graph response's ``value``) a record at a time by ijson
    after one pass that finds it reads as a whole read would (:func:`_survey`), so their records are never held
    together in memory. Anything else (one object, what yajl reads otherwise than ``json.loads``, a ``.json`` file
    up to :data:`_BROKEN_READ_WHOLE` bytes that does not parse) is read whole, as before; a bigger file that does
    not parse is rejected without being read whole (:func:`_broken`).
    """
    given = 0
    try:
        if file.suffix == ".jsonl":
            with file.open("rb") as fh:
                encoding = _encoding(fh.read(4))
                fh.seek(0)
                if encoding == "utf-8":
                    lines: Iterator[tuple[dict[str, Any], str]] = _read_lines(file, fh, out)
                elif (problem := _undecodable(fh, encoding)) is not None:
                    out.rejected.append(Rejected(f"{problem}; no record in it was loaded", str(file)))
                    return
                else:
                    fh.seek(0)
                    lines = _read_text_lines(file, fh, encoding, out)
                for record in lines:
                    given += 1
                    yield record
                return
    except OSError as exc:
        loaded = f"the {given} records before it were loaded" if given else "no record in it was loaded"
        out.rejected.append(Rejected(f"cannot be read ({exc.strerror or exc}); {loaded}", str(file)))
        return
    survey = _survey(file)
    if isinstance(survey, _Survey):
        out.context = out.context or survey.context
        yield from _stream_json(file, out, survey)
        return
    if isinstance(survey, _Broken) and _size(file) > _BROKEN_READ_WHOLE:
        out.rejected.append(_broken(file, survey))
        return
    whole = FileRecords()
    _read_whole(file, whole)
    out.rejected.extend(whole.rejected)
    out.context = out.context or whole.context
    yield from whole.records


def _undecodable(fh: BinaryIO, encoding: str) -> str | None:
    """Why the bytes of ``fh`` are not text in ``encoding`` (what :func:`_decode` says of them read whole), read a
    chunk at a time; ``None`` when they are."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0  # of the chunk's first byte in the file
    while True:
        chunk = fh.read(_STREAM_CHARS)
        pending = decoder.getstate()[0]  # the bytes of a character the last chunk cut
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            at = offset - len(pending) + exc.start
            return (
                f"not {encoding.upper().removesuffix('-SIG')} text (byte {at}: 0x{exc.object[exc.start]:02x});"
                " save the export as UTF-8"
            )
        if not chunk:
            return None
        offset += len(chunk)


def _read_text_lines(file: Path, fh: BinaryIO, encoding: str, out: FileRecords) -> Iterator[tuple[dict[str, Any], str]]:
    """The records of a JSON Lines file in UTF-16 or UTF-32 (PowerShell's ``Out-File``), which
    :func:`_undecodable` found decodes, read a line at a time: the lines, their numbers and what each gives are
    those of the file read whole (split at ``\\n`` only, leading byte-order marks dropped)."""
    text = io.TextIOWrapper(fh, encoding=encoding, errors="strict", newline="\n")
    try:
        for number, row in enumerate(text, 1):
            row = row.removesuffix("\n")
            if number == 1:
                row = row.lstrip("\ufeff")
            if not row.strip():
                continue
            where = f"{file} line {number}"
            surrogates = bool(_SURROGATE_ESCAPE.search(row))
            yield from _objects(_parse_document(row, where, out, line=True), out, surrogates)
    except UnicodeDecodeError as exc:
        raise InputError(f"{file} changed while it was read; run again") from exc


def _ijson_backend() -> Any:
    """ijson's C backend (yajl2_c), else the best one installed (ijson's default)."""
    try:
        return ijson.get_backend("yajl2_c")
    except ImportError:  # no compiled backend for this platform
        return ijson


_IJSON = _ijson_backend()
#: ijson's Python backend, whose strings are json.loads' (a lone surrogate escape kept as it is): see :class:`_Utf8`.
_PYTHON = ijson.get_backend("python")
#: Whether :data:`_IJSON` is one of yajl's (C, cffi, ctypes), whose grammar :func:`_survey` checks against json's;
#: ijson's pure-Python backend also takes ``+1`` and Unicode spaces, so with it a ``.json`` file is read whole.
_YAJL = str(_IJSON.backend_name).startswith("yajl")
#: Bytes of a ``.json`` file handed to ijson at a time (characters, for a file in UTF-16 or UTF-32).
_STREAM_CHARS = 1 << 22
#: The largest ``.json`` file that does not parse read whole for the message ``json.loads`` gives (its line and
#: column); a bigger one is rejected with what yajl says and where, so a broken export is never held whole.
_BROKEN_READ_WHOLE = 1 << 24
#: What yajl fails on where ``json.loads`` may not: ``NaN``, ``Infinity``, ``-Infinity``, an integer beyond 64
#: bits, ``1e400``. A file yajl fails on so is read whole.
_YAJL_ONLY = ("invalid char in json text", "digit is required after the minus sign", "overflow")
#: A surrogate escape, as the high and low halves of one character or alone (which yajl reads as ``?``).
_SURROGATES = re.compile(
    rb"(?P<pair>\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
)
_CONTAINERS = frozenset({"start_map", "start_array"})
_ENDS = frozenset({"end_map", "end_array"})


class _Utf8:
    """A ``.json`` file as the UTF-8 bytes ijson reads, a chunk at a time: decoded from the encoding
    :func:`_encoding` finds (UTF-8 passes as it is), leading byte-order marks dropped as a whole read drops them.

    Raises :class:`NotStreamable` at text not in its encoding and at a vertical tab or form feed (whitespace to yajl,
    an error to ``json.loads``). With ``neutral``, a lone surrogate escape such as ``\\ud800`` (``json.loads`` keeps
    it, and the record is then rejected; yajl reads it as ``?``, or with another as one character, or fails) is
    handed on as ``\\u003f`` and :attr:`lone` is set: such a file's records are read by ijson's Python backend,
    whose strings are ``json.loads``'.
    """

    def __init__(self, fh: BinaryIO, *, neutral: bool) -> None:
        self.fh = fh
        encoding = _encoding(fh.read(4))
        fh.seek(0)
        self.text = None if encoding == "utf-8" else io.TextIOWrapper(fh, encoding, errors="strict", newline="")
        self.neutral = neutral
        self.lone = False
        #: The UTF-8 bytes handed on, and those of the last read: where yajl stopped, when it stops.
        self.given, self.last = 0, 0
        self.first = True
        self.tail = b""  # the end of the last chunk, where a surrogate escape may go on into the next

    def _chunk(self, size: int) -> bytes:
        if self.text is None:
            return self.fh.read(size)
        try:
            chunk = self.text.read(size)
            while self.first and chunk:
                chunk = chunk.lstrip("\ufeff")
                self.first = not chunk
                if self.first:
                    chunk = self.text.read(size)
        except (UnicodeDecodeError, ValueError) as exc:
            raise NotStreamable("not text in its encoding") from exc
        return chunk.encode("utf-8")

    def read(self, size: int) -> bytes:
        data = self._read(size)
        if size:
            self.given, self.last = self.given + len(data), len(data)
        return data

    def _read(self, size: int) -> bytes:
        while True:
            data = self._chunk(size)
            if b"\x0b" in data or b"\x0c" in data:
                raise NotStreamable("a vertical tab or form feed, which JSON allows neither between values nor in text")
            if not self.neutral:
                return data
            buf, self.tail = self.tail + data, b""
            if b"\\" not in buf:
                return buf
            # each escape is judged once, whole: one that starts in the last 11 bytes may go on in the next chunk
            limit = len(buf) - 11 if data else len(buf)
            pieces: list[bytes] = []
            done = judged = 0
            for match in _SURROGATES.finditer(buf):
                if match.start() >= limit:
                    break
                judged = match.end()
                if match.lastgroup != "pair":
                    pieces += [buf[done : match.start()], b"\\u003f"]
                    done, self.lone = judged, True
            cut = max(judged, limit, 0)
            pieces.append(buf[done:cut])
            self.tail = buf[cut:]
            given = b"".join(pieces)
            if given or not data:  # an empty read is the end of the file to ijson
                return given


@dataclass
class _Survey:
    """What :func:`_survey` found of a ``.json`` file it can stream: the ijson prefix of its records, their
    number, its ``@odata.context`` (as :func:`_read_whole` gives it) and whether it holds a lone surrogate
    escape (see :class:`_Utf8`)."""

    prefix: str
    records: int
    context: str
    lone: bool


@dataclass
class _Broken:
    """Where and why :func:`_survey` found a ``.json`` file is not JSON (``json.loads`` would fail on it too)."""

    why: str
    start: int  # the UTF-8 bytes yajl was reading
    end: int
    utf8: bool  # whether those are the file's bytes (else of its text encoded as UTF-8)


def _survey(file: Path) -> _Survey | _Broken | None:
    """When ``file`` (``.json``) holds a list of records (bare, or the ``value`` of a Graph response) that ijson
    reads as one ``json.loads`` of its text would, what streaming it needs to know (one pass through it with yajl,
    keeping no record); when it is not JSON, why and where; else ``None``, and the file is read whole.

    Not streamed: JSON that does not parse (nor what yajl reads differently: ``NaN``, ``Infinity``, an integer
    beyond 64 bits, ``1e400``; see also :class:`_Utf8`), a document deeper than
    :data:`~sspr_review.core.records.MAX_DEPTH` allows, one object or value, a ``value`` that is not a list or
    that is given twice (``json.loads`` keeps the last), an ``@odata.context`` that is not text or a number.
    """
    if not _YAJL:
        return None
    level, top, key, records = 0, "", "", 0
    listed = within = False
    context: Any = None
    try:
        with file.open("rb") as fh:
            utf8 = _Utf8(fh, neutral=True)
            for event, value in _IJSON.basic_parse(utf8, buf_size=_STREAM_CHARS, use_float=True):
                if event in _CONTAINERS:
                    level += 1
                    if level > MAX_DEPTH + 1:
                        return None
                    if level == 1:
                        top = event
                    elif level == 2 and key in ("value", "@odata.context"):
                        if key != "value" or event != "start_array":
                            return None  # a value that is not a list, or an @odata.context that is no text
                        listed = within = True
                    elif level == 2 + (top == "start_map") and (within or top == "start_array"):
                        records += 1
                elif event in _ENDS:
                    level -= 1
                    within = within and level > 1
                elif level > 2:
                    continue  # a key or value inside a record: most of the events
                elif level == 0:
                    return None  # one bare value: read whole
                elif level == 1 and event == "map_key":
                    key = str(value)
                    if key == "value" and listed:
                        return None  # given twice: json.loads keeps the last
                elif level == 1 and top == "start_map":
                    if key == "value":
                        return None  # not a list
                    if key == "@odata.context":
                        context = value
                elif level == 1 or (within and level == 2):
                    records += 1
    except (ijson.JSONError, NotStreamable, UnicodeDecodeError) as exc:
        said = exc.args[0] if exc.args else ""
        lines = (said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)).splitlines() or [""]
        if isinstance(exc, ijson.JSONError) and any(text in lines[0] for text in _YAJL_ONLY):
            return None
        near = f' near "{lines[1].strip()}"' if len(lines) > 2 and lines[1].strip() else ""
        start = utf8.given - utf8.last
        return _Broken(lines[0].rstrip(".") + near, start, utf8.given, utf8.text is None)
    except (OSError, ValueError):
        return None
    if top == "start_map" and not listed:
        return None  # one object: the record itself
    prefix = "value.item" if top == "start_map" else "item"
    return _Survey(prefix, records, "" if context is None else str(context), utf8.lone)


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0


def _broken(file: Path, broken: _Broken) -> Rejected:
    """The file :func:`_survey` found broken, rejected without reading it whole: as a whole read rejects it when it
    is not text in its encoding, else with what yajl says and where."""
    with file.open("rb") as fh:
        encoding = _encoding(fh.read(4))
        fh.seek(0)
        if problem := _undecodable(fh, encoding):
            return Rejected(f"{problem}; no record in it was loaded", str(file))
        fh.seek(0)
        head = io.TextIOWrapper(fh, encoding, newline="").read(4000).lstrip("\ufeff")[:2000]
    at = (
        f"at its end, byte {broken.end:,}"
        if broken.start == broken.end
        else f"in bytes {broken.start:,}-{broken.end:,}"
    )
    utf8 = "" if broken.utf8 else " of its text in UTF-8"
    return Rejected(f"not valid JSON ({broken.why}, {at}{utf8}); no record in it was loaded", str(file), head)


def _stream_json(file: Path, out: FileRecords, survey: _Survey) -> Iterator[tuple[dict[str, Any], str]]:
    """The records of a ``.json`` file :func:`_survey` accepted, parsed one at a time by ijson (what
    :func:`_read_whole` gives, never holding the file or its records whole)."""
    number = -1
    backend = _PYTHON if survey.lone else _IJSON
    try:
        with file.open("rb") as fh:
            utf8 = _Utf8(fh, neutral=not survey.lone)
            items = backend.items(utf8, survey.prefix, buf_size=_STREAM_CHARS, use_float=True)
            for number, item in enumerate(items):
                yield from _objects([(item, f"{file} item {number}")], out, survey.lone)
    except (ijson.JSONError, NotStreamable, OSError, ValueError) as exc:
        raise InputError(f"{file} changed while it was read; run again") from exc
    if number + 1 != survey.records or utf8.lone:
        raise InputError(f"{file} changed while it was read; run again")


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
