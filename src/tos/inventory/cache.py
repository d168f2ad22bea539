"""Availability answers cached per process, valid for one inventory version of the tour and only
until the first listed departure starts (after that it would no longer be bookable)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

MAX_ENTRIES = 2048


@dataclass(frozen=True, slots=True)
class Entry:
    version: int
    valid_until: dt.datetime | None
    body: bytes


class AvailabilityCache:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._data: OrderedDict[Hashable, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: Hashable, *, version: int, now: dt.datetime) -> bytes | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry.version != version or (entry.valid_until and now >= entry.valid_until):
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return entry.body

    def put(self, key: Hashable, entry: Entry) -> None:
        with self._lock:
            self._data[key] = entry
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)


availability_cache = AvailabilityCache()
