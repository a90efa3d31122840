"""A wheelhouse for installing the built sspr-review into a fresh virtual environment without the network.

Each distribution the requirements need (resolved through the metadata of what is installed in the running
environment, extras and markers included) is repacked from its installed files into a wheel: the files listed in
its RECORD, the console scripts left for pip to regenerate, data files under ``.data/``. ``pip install --no-index
--find-links`` then resolves and installs from these wheels as it would from the package index, so the test checks
the declared dependencies, not the developer's environment. Wheels are cached in the environment they come from.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import re
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

SKIPPED_METADATA = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def closure(requirements: Iterable[str]) -> list[md.Distribution]:
    """The installed distributions ``requirements`` need, transitively (each once)."""
    found: dict[str, md.Distribution] = {}
    todo = [(Requirement(r), frozenset[str]()) for r in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, _ = todo.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        dist = found.get(name) or md.distribution(req.name)
        found[name] = dist
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in {"", *req.extras}):
                todo.append((sub, frozenset(sub.extras)))
    return list(found.values())


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def repack(dist: md.Distribution, folder: Path) -> Path:
    """A wheel of ``dist`` rebuilt from its installed files (cached by file name in ``folder``)."""
    wheel_meta = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")]
    parts = [sorted({t.split("-")[i] for t in tags}) for i in range(3)]
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    version = dist.version
    target = folder / f"{name}-{version}-{'-'.join('.'.join(p) for p in parts)}.whl"
    if target.exists():
        return target
    site = Path(str(dist.locate_file(""))).resolve()
    prefix = Path(sys.prefix).resolve()
    scripts = {ep.name for ep in dist.entry_points if ep.group in ("console_scripts", "gui_scripts")}
    info_dir = next(str(f).split("/")[0] for f in dist.files or [] if str(f).split("/")[0].endswith(".dist-info"))
    records: list[str] = []
    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as wheel:

        def add(arcname: str, data: bytes) -> None:
            wheel.writestr(arcname, data)
            records.append(f"{arcname},{_record_hash(data)},{len(data)}")

        for file in dist.files or []:
            path = Path(str(dist.locate_file(file))).resolve()
            if "__pycache__" in path.parts or not path.is_file():
                continue
            if path.is_relative_to(site):
                arcname = path.relative_to(site).as_posix()
                if arcname.startswith(info_dir + "/") and path.name in SKIPPED_METADATA:
                    continue
                add(arcname, path.read_bytes())
                continue
            rel = path.relative_to(prefix).as_posix()
            if rel.startswith("bin/"):
                if path.name in scripts:
                    continue  # pip writes console scripts for the new environment
                data = path.read_bytes()
                if data.startswith(b"#!"):
                    data = b"#!python" + data[data.index(b"\n") :]
                add(f"{name}-{version}.data/scripts/{path.name}", data)
            else:
                add(f"{name}-{version}.data/data/{rel}", path.read_bytes())
        record = f"{info_dir}/RECORD"
        wheel.writestr(record, "\n".join([*records, f"{record},,"]) + "\n")
    partial.rename(target)
    return target


def build(requirements: Iterable[str], folder: Path) -> Path:
    """Repack everything ``requirements`` need into ``folder``; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for dist in closure(requirements):
        repack(dist, folder)
    return folder
