"""Where document bytes live: a small Protocol so S3-compatible storage can replace the local disk
later without touching the service. Keys are "<org_id>/<booking_id>/<type>-v<version>.pdf".

The database row is the truth (checksum, size); a stored file with no row (its transaction rolled
back) is harmless: nothing points at it, and whoever next claims the same (booking, type,
version) slot overwrites it."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Protocol

DOCUMENTS_DIR_ENV = "TOS_DOCUMENTS_DIR"
DEFAULT_DOCUMENTS_DIR = "var/documents"


class NotStored(LookupError):
    """No object under this key."""


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...


class LocalStorage:
    """Files under `root`. A write goes to a temporary file in the same directory and is renamed
    over the key, so a reader never sees half a PDF and a crash leaves the old file or the new."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        # Keys are ours, but a key is a path here: refuse anything that could leave the root.
        if not key or "\\" in key or "\x00" in key or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"invalid storage key: {key!r}")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                # On disk before the row that points at it is committed.
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotStored(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def get_storage() -> Storage:
    """The install's document storage (read on each call, so tests can point it elsewhere)."""
    return LocalStorage(os.environ.get(DOCUMENTS_DIR_ENV) or DEFAULT_DOCUMENTS_DIR)


def storage_key(organization_id: str, booking_id: str, type_: str, version: int) -> str:
    return f"{organization_id}/{booking_id}/{type_}-v{version}.pdf"
