"""The cold tier's unit: the events of one series on one UTC day, column by column, each column compressed.

A block holds Rows (store/rows.py) sorted by (time, event_id). What can be worked out from the rest is not
stored, only the events where working it out gives something else (the exceptions):
- event_id: a state change's id hashes (entity, time, state), any other event's (type, time, context, data)
  (ingestor.event_id);
- old_state: the state of the series' previous event in the block (None for events that are not state
  changes);
- state_value: coerce_state_value(state);
- duration_in_state: the time since the block's previous change of state, when this event changes it.
A state that is a plain decimal ("21.5", "-3", "1520.125") is kept as an integer and a scale; any other
state goes in the block's own list of distinct states. Context ids that are ULIDs (as Home Assistant makes
them) keep their 80 random bits and how far their 48-bit millisecond time lies from the event's time
(usually not at all); any other id is an exception.

The time column is kept apart (`times`: a trace or a count of a window reads it without the rest). The
payload holds the other sections, each zlib-compressed on its own so a reader decompresses only the columns
it needs: s states, k document keys and users, c contexts, p parents, a ages; a JSON header holds the counts,
the block's distinct states and users, and the exceptions. Integer columns are stored byte-shuffled (all
first bytes, then all second bytes…), which zlib compresses about a fifth better than plain little-endian.
"""

from __future__ import annotations

import re
import struct
import zlib
from array import array
from collections import deque
from collections.abc import Callable
from functools import cached_property
from itertools import accumulate
from typing import Any

from ingestor import jsoncodec
from ingestor.event_id import other_event_id, state_change_id_at
from ingestor.normalization import coerce_state_value
from ingestor.store.rows import Row, stamp

MAGIC = b"B1"
SECTIONS = ("s", "k", "c", "p", "a")
LEVEL = 6
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]{0,16})(?:\.[0-9]{1,15})?", re.ASCII)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_FROM_CROCKFORD = str.maketrans(_CROCKFORD, "0123456789abcdefghijklmnopqrstuv")
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", re.ASCII)
_HEADER = struct.Struct("<I")


def ulid_bytes(text: str | None) -> bytes | None:
    """The 16 bytes of a canonical ULID (uppercase Crockford base 32), else None."""
    if text is None or len(text) != 26 or not _ULID.fullmatch(text):
        return None
    return int(text.translate(_FROM_CROCKFORD), 32).to_bytes(16, "big")


_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits -> two characters
_SHIFTS = tuple(range(120, -10, -10))


def ulid_text(raw: bytes) -> str:
    n = int.from_bytes(raw, "big")
    return "".join([_PAIRS[(n >> s) & 1023] for s in _SHIFTS])


def decimal_parts(state: str) -> tuple[int, int] | None:
    """(integer, scale) of a plain decimal that prints back exactly, e.g. "21.50" -> (2150, 2)."""
    if not _DECIMAL.fullmatch(state):
        return None
    whole, _, fraction = state.partition(".")
    mantissa = int(whole + fraction)
    if mantissa == 0 and state.startswith("-"):
        return None  # "-0" would print back as "0"
    return mantissa, len(fraction)


def decimal_text(mantissa: int, scale: int) -> str:
    if not scale:
        return str(mantissa)
    digits = str(abs(mantissa)).rjust(scale + 1, "0")
    return ("-" if mantissa < 0 else "") + digits[:-scale] + "." + digits[-scale:]


def _shuffled(values: array) -> bytes:
    raw, size = values.tobytes(), values.itemsize
    return b"".join(raw[k::size] for k in range(size))


def _unshuffled(raw: bytes, typecode: str, count: int) -> array:
    size = array(typecode).itemsize
    out = bytearray(count * size)
    for k in range(size):
        out[k::size] = raw[k * count:(k + 1) * count]
    return array(typecode, bytes(out))


def encode_times(ts: list[int]) -> bytes:
    """The time column: deltas from the first time, byte-shuffled, compressed."""
    deltas = array("q", [0] * len(ts))
    for i in range(1, len(ts)):
        deltas[i] = ts[i] - ts[i - 1]
    return zlib.compress(_shuffled(deltas), LEVEL)


def decode_times(times: bytes, first: int) -> list[int]:
    raw = zlib.decompress(times)
    out = list(accumulate(_unshuffled(raw, "q", len(raw) // 8), initial=first))
    del out[0]
    return out


def _derived_id(event_type: str | None, entity_id: str | None, ts: int, state: str | None, ctx: str | None,
                data: Any) -> bytes:
    when = stamp(ts)
    if event_type == "state_changed":
        return bytes.fromhex(state_change_id_at(entity_id, when, state))
    return bytes.fromhex(other_event_id(event_type, when, ctx, data))


DataOf = Callable[[int], Any]
"""The parsed `data` document of an id (for the ids of events that are not state changes)."""


def encode(rows: list[Row], event_type: str | None, entity_id: str | None, data_of: DataOf) -> tuple[bytes, bytes]:
    """The time column and the payload of the block of `rows` (one series, sorted by time then event_id)."""
    n = len(rows)
    is_state = event_type == "state_changed"
    exceptions: dict[str, list[list[Any]]] = {k: [] for k in ("o", "v", "d", "e", "c", "p")}
    codes = array("I", [0] * n)
    mantissas, scales = array("q"), bytearray()
    local: dict[str, int] = {}
    users: dict[str, int] = {}
    keys = array("I", [0] * (4 * n))
    residuals = array("q", [0] * n)
    randoms = bytearray(10 * n)
    parent_at, parents = array("I"), bytearray()
    ages: list[str] = []
    last_mantissa = 0
    previous_state: str | None = None
    changed_at: int | None = None
    for i, row in enumerate(rows):
        state = row.state
        parts = None if state is None else decimal_parts(state)
        if parts is not None:
            codes[i] = 1
            mantissas.append(parts[0] - last_mantissa)
            last_mantissa = parts[0]
            scales.append(parts[1])
        elif state is not None:
            codes[i] = local.setdefault(state, len(local)) + 2
        if row.value != coerce_state_value(state):
            exceptions["v"].append([i, row.value])
        predicted_old = (previous_state if i else None) if is_state else None
        if row.old_state != predicted_old:
            exceptions["o"].append([i, row.old_state])
        changes = is_state and row.state != row.old_state
        predicted_duration = None
        if changes and changed_at is not None and row.ts >= changed_at:
            predicted_duration = (row.ts - changed_at) / 1_000_000
        if row.duration != predicted_duration:
            exceptions["d"].append([i, row.duration])
        if changes:
            changed_at = row.ts
        previous_state = state
        keys[i], keys[n + i], keys[2 * n + i] = row.attrs, row.enrich, row.data
        keys[3 * n + i] = 0 if row.user is None else users.setdefault(row.user, len(users)) + 1
        raw = ulid_bytes(row.ctx)
        if raw is None:
            exceptions["c"].append([i, row.ctx])
        else:
            residuals[i] = int.from_bytes(raw[:6], "big") - row.ts // 1000
            randoms[10 * i:10 * i + 10] = raw[6:]
        if row.parent is not None:
            raw = ulid_bytes(row.parent)
            if raw is None:
                exceptions["p"].append([i, row.parent])
            else:
                parent_at.append(i)
                parents += raw
        ages.append(row.ages or "")
        derived = _derived_id(event_type, entity_id, row.ts, state, row.ctx,
                              data_of(row.data) if row.data and not is_state else None)
        if derived != row.eid:
            exceptions["e"].append([i, row.eid.hex()])
    sections = [_shuffled(codes) + _shuffled(mantissas) + bytes(scales), _shuffled(keys),
                _shuffled(residuals) + bytes(randoms), parent_at.tobytes() + bytes(parents),
                "\n".join(ages).encode() if any(ages) else b""]
    packed = [zlib.compress(s, LEVEL) if s else b"" for s in sections]
    meta = {"n": n, "m": len(mantissas), "st": list(local), "us": list(users), "pn": len(parent_at),
            "x": {k: v for k, v in exceptions.items() if v}, "sec": [len(p) for p in packed]}
    header = zlib.compress(jsoncodec.dumps(meta), LEVEL)
    payload = b"".join([MAGIC, _HEADER.pack(len(header)), header, *packed])
    return encode_times([row.ts for row in rows]), payload


class Block:
    """A decoded block; each column is decompressed when first asked for."""

    def __init__(self, times: bytes, first: int, payload: bytes | None, event_type: str | None,
                 entity_id: str | None, data_of: DataOf) -> None:
        self._times, self._first = times, first
        self._payload = payload
        self.event_type, self.entity_id, self._data_of = event_type, entity_id, data_of
        self._parsed = False

    def _parse(self) -> None:
        """Read the payload's header (once, when a column other than time is first asked for)."""
        if self._parsed:
            return
        payload = self._payload
        if payload is None:
            raise ValueError("block read without its payload")
        if payload[:2] != MAGIC:
            raise ValueError("not an event block")
        size = _HEADER.unpack_from(payload, 2)[0]
        self._meta: dict[str, Any] = jsoncodec.loads(zlib.decompress(payload[6:6 + size]))
        self._offsets: dict[str, tuple[int, int]] = {}
        at = 6 + size
        for name, length in zip(SECTIONS, self._meta["sec"], strict=True):
            self._offsets[name] = (at, length)
            at += length
        self._x: dict[str, dict[int, Any]] = {}  # by kind, made when first asked for (_exceptions)
        self._parsed = True

    def _section(self, name: str) -> bytes:
        self._parse()
        at, length = self._offsets[name]
        return zlib.decompress(self._payload[at:at + length]) if length else b""  # type: ignore[index]

    def _exceptions(self, kind: str) -> dict[int, Any]:
        """The stored values of `kind` by event index. Only the kinds a read asks for are made into dicts: a
        block's event ids, when stored whole, can be most of its exceptions and a stays read never wants them."""
        self._parse()
        found = self._x.get(kind)
        if found is None:
            found = self._x[kind] = dict(self._meta["x"].get(kind, ()))
        return found

    @cached_property
    def ts(self) -> list[int]:
        return decode_times(self._times, self._first)

    @cached_property
    def n(self) -> int:
        return len(self.ts)

    @cached_property
    def _state_columns(self) -> tuple[array, array, bytes]:
        """(codes, mantissa deltas, scales): 0 no state, 1 the next decimal, k >= 2 the block's state k - 2."""
        raw = self._section("s")
        n, numeric = self.n, self._meta["m"]
        return (_unshuffled(raw[:4 * n], "I", n), _unshuffled(raw[4 * n:4 * n + 8 * numeric], "q", numeric),
                raw[4 * n + 8 * numeric:])

    @cached_property
    def states(self) -> list[str | None]:
        return self.states_between(0, self.n)

    def states_between(self, lo: int, hi: int) -> list[str | None]:
        """states[lo:hi], decoding only those: a read at a range's edge wants a few of a day's events."""
        if "states" in self.__dict__:
            return self.states[lo:hi]
        codes, mantissas, scales = self._state_columns
        local = self._meta["st"]
        if not mantissas:  # no decimal: each code names its state (most blocks a stays read decodes)
            named = [None, None, *local]
            return [named[code] for code in codes[lo:hi]]
        j = codes[:lo].count(1)
        mantissa = sum(mantissas[:j])
        out: list[str | None] = []
        for code in codes[lo:hi]:
            if code == 1:
                mantissa += mantissas[j]
                out.append(decimal_text(mantissa, scales[j]))
                j += 1
            else:
                out.append(local[code - 2] if code else None)
        return out

    def named_states(self) -> list[str | None]:
        """Every state an event of the block may be in or leave, but the decimals: a cheap test of a whole block."""
        left = self._exceptions("o").values()
        return [*self._meta["st"], *left]

    def values_between(self, lo: int, hi: int) -> list[float | None]:
        """values[lo:hi], decoding only those states."""
        if "values" in self.__dict__:
            return self.values[lo:hi]
        out = [coerce_state_value(state) for state in self.states_between(lo, hi)]
        for i, value in self._exceptions("v").items():
            if lo <= i < hi:
                out[i - lo] = None if value is None else float(value)
        return out

    @cached_property
    def old_states(self) -> list[str | None]:
        out = [None, *self.states[:-1]] if self.event_type == "state_changed" else [None] * self.n
        for i, value in self._exceptions("o").items():
            out[i] = value
        return out

    @cached_property
    def values(self) -> list[float | None]:
        return self.values_between(0, self.n)

    @cached_property
    def durations(self) -> list[float | None]:
        out: list[float | None] = [None] * self.n
        if self.event_type == "state_changed":  # a change's duration is the time since the change before it
            ts = self.ts
            changes = [i for i, state, old in zip(range(self.n), self.states, self.old_states, strict=True)
                       if state != old]
            at = [ts[i] for i in changes]
            lasted = [(t - before) / 1_000_000 if t >= before else None for before, t in zip(at, at[1:], strict=False)]
            deque(map(out.__setitem__, changes[1:], lasted), maxlen=0)  # out[changes[k + 1]] = lasted[k], in C
        for i, value in self._exceptions("d").items():
            out[i] = None if value is None else float(value)
        return out

    @cached_property
    def _keys(self) -> array:
        return _unshuffled(self._section("k"), "I", 4 * self.n)

    @cached_property
    def attrs(self) -> list[int]:
        return list(self._keys[:self.n])

    @cached_property
    def enrich(self) -> list[int]:
        return list(self._keys[self.n:2 * self.n])

    @cached_property
    def data(self) -> list[int]:
        return list(self._keys[2 * self.n:3 * self.n])

    @cached_property
    def users(self) -> list[str | None]:
        names = self._meta["us"]
        return [names[k - 1] if k else None for k in self._keys[3 * self.n:]]

    @cached_property
    def contexts(self) -> list[str | None]:
        raw = self._section("c")
        n = self.n
        residuals = _unshuffled(raw[:8 * n], "q", n)
        out: list[str | None] = []
        for i, (ts, residual) in enumerate(zip(self.ts, residuals, strict=True)):
            millis = ts // 1000 + residual
            out.append(ulid_text(millis.to_bytes(6, "big") + raw[8 * n + 10 * i:8 * n + 10 * i + 10]))
        for i, value in self._exceptions("c").items():
            out[i] = value
        return out

    @cached_property
    def parents(self) -> list[str | None]:
        out: list[str | None] = [None] * self.n
        self._parse()
        count = self._meta["pn"]
        if count:
            raw = self._section("p")
            for j, i in enumerate(array("I", raw[:4 * count])):
                out[i] = ulid_text(raw[4 * count + 16 * j:4 * count + 16 * j + 16])
        for i, value in self._exceptions("p").items():
            out[i] = value
        return out

    @cached_property
    def ages(self) -> list[str | None]:
        raw = self._section("a")
        if not raw:
            return [None] * self.n
        return [a or None for a in raw.decode().split("\n")]

    def eid(self, i: int) -> bytes:
        stored = self._exceptions("e").get(i)
        if stored is not None:
            return bytes.fromhex(stored)
        if self.event_type == "state_changed":  # its id hashes entity, time and state: no context, no data
            return _derived_id(self.event_type, self.entity_id, self.ts[i], self.states[i], None, None)
        data = self.data[i]
        return _derived_id(self.event_type, self.entity_id, self.ts[i], self.states[i], self.contexts[i],
                           self._data_of(data) if data else None)

    def row(self, i: int) -> Row:
        return Row(self.eid(i), self.ts[i], self.states[i], self.old_states[i], self.values[i], self.durations[i],
                   self.attrs[i], self.contexts[i], self.parents[i], self.users[i], self.enrich[i], self.ages[i],
                   self.data[i])

    def rows(self) -> list[Row]:
        return [self.row(i) for i in range(self.n)]
