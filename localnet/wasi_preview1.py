"""A small WASI preview1 in Python for the RustPython guest: a read-only file tree, stdio, clock, random.

wasmtime's own WASI runs its file operations on tokio worker threads, which a `fork()` does not copy, so
a forked canister would hang on its next import. This implementation is single-threaded, so the canister
process can fork per message as the CPython runtime does. It also keeps the guest deterministic, as a
canister is: the clock is the message's IC time and `random_get` is a fixed pseudo-random stream.
File descriptor 0 is the channel to the host (see `localnet/rustpython_guest.py`).
"""

from __future__ import annotations

import hashlib
import posixpath
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wasmtime

# errno values of wasi_snapshot_preview1
SUCCESS, ACCES, BADF, EXIST, INVAL, ISDIR, NOENT, NOSYS, NOTDIR, ROFS = 0, 2, 8, 20, 28, 31, 44, 52, 54, 69
# file types
CHAR_DEVICE, DIRECTORY, REGULAR_FILE = 2, 3, 4
O_CREAT, O_DIRECTORY, O_EXCL, O_TRUNC = 1, 2, 4, 8
ALL_RIGHTS = (1 << 30) - 1
PREOPEN_FD = 3
WASI = "wasi_snapshot_preview1"


class GuestExit(Exception):
    """The guest called proc_exit."""

    def __init__(self, code: int):
        super().__init__(f"the guest exited with status {code}")
        self.code = code


@dataclass
class _Open:
    guest: str
    host: Path | None  # None: a directory made only of mount points
    data: bytes | None  # file content; None for a directory
    pos: int = 0


class GuestFiles:
    """Guest paths mapped read-only onto host directories or files (`mounts`: guest path -> host path)."""

    def __init__(self, mounts: dict[str, Path]):
        self.mounts = {posixpath.normpath(k): Path(v) for k, v in mounts.items()}

    def resolve(self, guest: str) -> tuple[str, Path | None, bool]:
        """(normalised guest path, host path or None for a virtual directory, exists)."""
        guest = posixpath.normpath("/" + guest.lstrip("/"))
        best = ""
        for m in self.mounts:
            if (guest == m or guest.startswith(m.rstrip("/") + "/")) and len(m) > len(best):
                best = m
        if best:
            host = self.mounts[best] / guest[len(best) :].lstrip("/")
            return guest, host, host.exists()
        virtual = guest == "/" or any(m.startswith(guest.rstrip("/") + "/") for m in self.mounts)
        return guest, None, virtual

    def listing(self, guest: str, host: Path | None) -> list[tuple[str, int]]:
        names: dict[str, int] = {}
        if host is not None:
            for p in sorted(host.iterdir()):
                names[p.name] = DIRECTORY if p.is_dir() else REGULAR_FILE
        prefix = guest.rstrip("/") + "/"
        for m in self.mounts:
            if m.startswith(prefix):
                names.setdefault(m[len(prefix) :].split("/")[0], DIRECTORY)
        return sorted(names.items())


class Wasi:
    """The WASI functions the runner imports, defined on a wasmtime Linker.

    `channel(request) -> reply` serves the guest's writes to fd 0 (the reply is read back from fd 0);
    `output(fd, data)` receives stdout/stderr; `now_ns()` is the clock.
    """

    def __init__(
        self,
        files: GuestFiles,
        argv: list[str],
        channel: Callable[[Any, bytes], bytes],
        output: Callable[[int, bytes], None],
        now_ns: Callable[[], int],
        seed: bytes = b"",
    ):
        self.files = files
        self.argv = [a.encode() + b"\0" for a in argv]
        self.channel = channel
        self.output = output
        self.now_ns = now_ns
        self.fds: dict[int, _Open] = {}
        self.next_fd = PREOPEN_FD + 1
        self.pending = b""
        self.random_state = hashlib.sha256(b"localnet-rustpython" + seed).digest()
        self.random_buf = b""

    def define(self, linker: wasmtime.Linker, module: wasmtime.Module) -> None:
        for imp in module.imports:
            if imp.module != WASI:
                continue
            impl = getattr(self, imp.name, None) or self._unsupported(imp.name)
            linker.define_func(WASI, imp.name, imp.type, impl, access_caller=True)  # type: ignore[arg-type]

    def _unsupported(self, name: str) -> Callable[..., int]:
        def fail(caller: Any, *args: Any) -> int:
            return ROFS if name.startswith("path_") else NOSYS

        return fail

    # -- memory helpers --------------------------------------------------------------------------------------

    @staticmethod
    def _mem(caller: Any) -> wasmtime.Memory:
        return caller.get("memory")

    def _put(self, caller: Any, ptr: int, fmt: str, *values: Any) -> None:
        self._mem(caller).write(caller, struct.pack(fmt, *values), ptr)

    def _iovecs(self, caller: Any, iovs: int, n: int) -> list[tuple[int, int]]:
        raw = bytes(self._mem(caller).read(caller, iovs, iovs + 8 * n))
        return [struct.unpack_from("<II", raw, 8 * i) for i in range(n)]

    def _string(self, caller: Any, ptr: int, length: int) -> str:
        return bytes(self._mem(caller).read(caller, ptr, ptr + length)).decode("utf-8", "surrogateescape")

    # -- process ---------------------------------------------------------------------------------------------

    def args_sizes_get(self, caller: Any, argc: int, size: int) -> int:
        self._put(caller, argc, "<I", len(self.argv))
        self._put(caller, size, "<I", sum(len(a) for a in self.argv))
        return SUCCESS

    def args_get(self, caller: Any, argv: int, buf: int) -> int:
        mem = self._mem(caller)
        for i, a in enumerate(self.argv):
            mem.write(caller, struct.pack("<I", buf), argv + 4 * i)
            mem.write(caller, a, buf)
            buf += len(a)
        return SUCCESS

    def environ_sizes_get(self, caller: Any, count: int, size: int) -> int:
        self._put(caller, count, "<I", 0)
        self._put(caller, size, "<I", 0)
        return SUCCESS

    def environ_get(self, caller: Any, environ: int, buf: int) -> int:
        return SUCCESS

    def clock_time_get(self, caller: Any, clock: int, precision: int, out: int) -> int:
        self._put(caller, out, "<Q", self.now_ns())
        return SUCCESS

    def random_get(self, caller: Any, buf: int, length: int) -> int:
        while len(self.random_buf) < length:
            self.random_state = hashlib.sha256(self.random_state).digest()
            self.random_buf += self.random_state
        data, self.random_buf = self.random_buf[:length], self.random_buf[length:]
        self._mem(caller).write(caller, data, buf)
        return SUCCESS

    def proc_exit(self, caller: Any, code: int) -> None:
        raise GuestExit(code)

    def sched_yield(self, caller: Any) -> int:
        return SUCCESS

    # -- descriptors -----------------------------------------------------------------------------------------

    def fd_prestat_get(self, caller: Any, fd: int, out: int) -> int:
        if fd != PREOPEN_FD:
            return BADF
        self._put(caller, out, "<BxxxI", 0, 1)
        return SUCCESS

    def fd_prestat_dir_name(self, caller: Any, fd: int, path: int, length: int) -> int:
        if fd != PREOPEN_FD:
            return BADF
        self._mem(caller).write(caller, b"/"[:length], path)
        return SUCCESS

    def fd_fdstat_get(self, caller: Any, fd: int, out: int) -> int:
        if fd in (0, 1, 2):
            kind = CHAR_DEVICE
        elif fd == PREOPEN_FD:
            kind = DIRECTORY
        elif fd in self.fds:
            kind = DIRECTORY if self.fds[fd].data is None else REGULAR_FILE
        else:
            return BADF
        self._put(caller, out, "<BxHxxxxQQ", kind, 0, ALL_RIGHTS, ALL_RIGHTS)
        return SUCCESS

    def fd_fdstat_set_flags(self, caller: Any, fd: int, flags: int) -> int:
        return SUCCESS if fd in (0, 1, 2) or fd in self.fds else BADF

    def fd_sync(self, caller: Any, fd: int) -> int:
        return SUCCESS

    def fd_close(self, caller: Any, fd: int) -> int:
        return SUCCESS if self.fds.pop(fd, None) is not None else BADF

    def _filestat(self, caller: Any, out: int, kind: int, size: int) -> None:
        self._put(caller, out, "<QQB7xQQQQQ", 0, 0, kind, 1, size, 0, 0, 0)

    def fd_filestat_get(self, caller: Any, fd: int, out: int) -> int:
        if fd in (0, 1, 2):
            self._filestat(caller, out, CHAR_DEVICE, 0)
        elif fd == PREOPEN_FD:
            self._filestat(caller, out, DIRECTORY, 0)
        elif fd in self.fds:
            h = self.fds[fd]
            self._filestat(caller, out, DIRECTORY if h.data is None else REGULAR_FILE, len(h.data or b""))
        else:
            return BADF
        return SUCCESS

    def fd_read(self, caller: Any, fd: int, iovs: int, n: int, nread: int) -> int:
        if fd == 0:
            source, start = self.pending, 0
        elif fd in self.fds and self.fds[fd].data is not None:
            h = self.fds[fd]
            source, start = h.data, h.pos  # type: ignore[assignment]
        elif fd in self.fds:
            return ISDIR
        else:
            return BADF
        mem = self._mem(caller)
        pos = start
        for ptr, length in self._iovecs(caller, iovs, n):
            chunk = source[pos : pos + length]
            if chunk:
                mem.write(caller, chunk, ptr)
            pos += len(chunk)
            if len(chunk) < length:
                break
        if fd == 0:
            self.pending = self.pending[pos:]
        else:
            self.fds[fd].pos = pos
        self._put(caller, nread, "<I", pos - start)
        return SUCCESS

    def fd_write(self, caller: Any, fd: int, iovs: int, n: int, nwritten: int) -> int:
        if fd not in (0, 1, 2):
            return BADF
        mem = self._mem(caller)
        data = b"".join(bytes(mem.read(caller, p, p + ln)) for p, ln in self._iovecs(caller, iovs, n))
        if fd == 0:
            # The channel: the reply's length is returned as the count written, so the guest can read it
            # back from fd 0 in one call.
            self.pending = self.channel(caller, data)
            self._put(caller, nwritten, "<I", len(self.pending))
            return SUCCESS
        self.output(fd, data)
        self._put(caller, nwritten, "<I", len(data))
        return SUCCESS

    def fd_seek(self, caller: Any, fd: int, offset: int, whence: int, out: int) -> int:
        h = self.fds.get(fd)
        if h is None or h.data is None:
            return BADF if h is None else ISDIR
        base = (0, h.pos, len(h.data))[whence] if whence in (0, 1, 2) else None
        if base is None or base + offset < 0:
            return INVAL
        h.pos = base + offset
        self._put(caller, out, "<Q", h.pos)
        return SUCCESS

    def fd_readdir(self, caller: Any, fd: int, buf: int, length: int, cookie: int, used: int) -> int:
        if fd == PREOPEN_FD:
            guest, host = "/", self.files.resolve("/")[1]
        elif fd in self.fds and self.fds[fd].data is None:
            guest, host = self.fds[fd].guest, self.fds[fd].host
        else:
            return BADF
        out = b""
        for i, (name, kind) in enumerate(self.files.listing(guest, host)):
            if i < cookie:
                continue
            raw = name.encode()
            out += struct.pack("<QQIB3x", i + 1, i + 1, len(raw), kind) + raw
            if len(out) >= length:
                break
        out = out[:length]
        self._mem(caller).write(caller, out, buf)
        self._put(caller, used, "<I", len(out))
        return SUCCESS

    # -- paths -----------------------------------------------------------------------------------------------

    def _lookup(self, caller: Any, fd: int, path: int, length: int) -> tuple[str, Path | None, bool] | int:
        if fd == PREOPEN_FD:
            base = "/"
        elif fd in self.fds and self.fds[fd].data is None:
            base = self.fds[fd].guest
        else:
            return BADF
        return self.files.resolve(posixpath.join(base, self._string(caller, path, length)))

    def path_filestat_get(self, caller: Any, fd: int, flags: int, path: int, length: int, out: int) -> int:
        found = self._lookup(caller, fd, path, length)
        if isinstance(found, int):
            return found
        _, host, exists = found
        if not exists:
            return NOENT
        if host is None or host.is_dir():
            self._filestat(caller, out, DIRECTORY, 0)
        else:
            self._filestat(caller, out, REGULAR_FILE, host.stat().st_size)
        return SUCCESS

    def path_open(
        self,
        caller: Any,
        fd: int,
        dirflags: int,
        path: int,
        length: int,
        oflags: int,
        rights: int,
        inheriting: int,
        fdflags: int,
        out: int,
    ) -> int:
        found = self._lookup(caller, fd, path, length)
        if isinstance(found, int):
            return found
        guest, host, exists = found
        if not exists:
            return ROFS if oflags & O_CREAT else NOENT
        if oflags & O_EXCL:
            return EXIST
        if oflags & (O_CREAT | O_TRUNC):
            return ROFS
        is_dir = host is None or host.is_dir()
        if oflags & O_DIRECTORY and not is_dir:
            return NOTDIR
        try:
            data = None if is_dir else host.read_bytes()  # type: ignore[union-attr]
        except OSError:
            return ACCES
        new = self.next_fd
        self.next_fd += 1
        self.fds[new] = _Open(guest, host, data)
        self._put(caller, out, "<I", new)
        return SUCCESS

    def path_readlink(self, caller: Any, *args: Any) -> int:
        return INVAL


def write_to(stream: Any) -> Callable[[int, bytes], None]:
    """An `output` callback writing the guest's stdout and stderr to a text stream (the canister log)."""

    def output(fd: int, data: bytes) -> None:
        stream.write(data.decode("utf-8", "replace"))
        stream.flush()

    return output
