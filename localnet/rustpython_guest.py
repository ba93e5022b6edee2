"""The guest side of localnet's RustPython runtime: runs in Kybra's interpreter (wasm), never under CPython.

It installs the `_kybra_ic` stand-in that Kybra's `ic` API and `StableBTreeMap` call, then serves the host:
it asks for a command, executes it in the canister's modules and sends the result with the next request.
Host and guest talk through WASI fd 0 (`localnet/wasi_preview1.py`): a request is written as one
`marshal` blob and the reply read back. Values cross as `marshal` data; a `Principal` crosses as a
frozenset holding its text (Candid values never contain frozensets), made and read as Kybra's Rust glue
does on the IC: `Principal.from_str(text)` into Python, the object's `to_str()` out of it.
Python 3.10 syntax, stdlib only.
"""

import builtins
import marshal
import os
import sys


class _Trap(BaseException):
    """A trap reported by the host (`ic.trap`, an oversize stable value...): ends the message."""


def _principal(text):
    """A Principal for the canister, made as Kybra's Rust glue makes one: it runs
    `from kybra import Principal; Principal` as a block, then calls `Principal.from_str(text)`."""
    scope = {"__builtins__": builtins}
    exec("from kybra import Principal as _P", scope)
    return scope["_P"].from_str(text)


def _from_host(v):
    t = type(v)
    if t is frozenset:
        return _principal(next(iter(v)))
    if t is list:
        return [_from_host(x) for x in v]
    if t is dict:
        return {k: _from_host(x) for k, x in v.items()}
    if t is tuple:
        return tuple(_from_host(x) for x in v)
    return v


def _to_host(v):
    t = type(v)
    if t is list:
        return [_to_host(x) for x in v]
    if t is dict:
        return {k: _to_host(x) for k, x in v.items()}
    if t is tuple:
        return tuple(_to_host(x) for x in v)
    if t in (str, int, bool, float, bytes) or v is None:
        return v
    if getattr(v, "isPrincipal", False) is True:
        return frozenset((v.to_str(),))  # Kybra converts a Principal to Rust by calling its to_str()
    return v


def _along(v, plan):
    """`v` with the Principals on the paths of `plan` converted for the host (localnet/principal_paths.py
    describes plans); the containers on those paths are copied, nothing else is touched."""
    kind = plan[0]
    t = type(v)
    if kind == "r":
        if t is not dict:
            return v
        out = v
        for name, sub in plan[1].items():
            if name in v:
                x = v[name]
                y = _along(x, sub)
                if y is not x:
                    if out is v:
                        out = dict(v)
                    out[name] = y
        return out
    if kind == "v":
        if t is list:
            return [_along(x, plan[1]) for x in v]
        return tuple(_along(x, plan[1]) for x in v) if t is tuple else v
    if kind == "o":
        return v if v is None else _along(v, plan[1])
    if kind == "t":
        if t is not tuple and t is not list:
            return v
        out = list(v)
        for i, sub in plan[1]:
            if i < len(out):
                out[i] = _along(out[i], sub)
        return out if t is list else tuple(out)
    if kind == "P":
        if getattr(v, "isPrincipal", False) is True:
            return frozenset((v.to_str(),))  # as _to_host converts one
        return v
    return _to_host(v)  # "W": a recursive type, walked whole


def _reply(result):
    """The `next` request carrying `result`; a returned value is converted along the reply's plan."""
    plan = _plan[0]
    if plan is not None and result[0] == "return":
        _plan[0] = None
        value = result[1]
        converted = _along(value, plan)
        if converted is not value:
            result = ("return", converted)
    return ("next", result)


def _dumps(v):
    try:
        return marshal.dumps(v)
    except (ValueError, NotImplementedError):  # RustPython's marshal raises the latter for a class
        return marshal.dumps(_to_host(v))


def _request(request):
    n = os.write(0, _dumps(request))
    return marshal.loads(os.read(0, n))


def _host_call(name, args):
    status, value = _request(("ic", name, args))
    if status == "ok":
        return _from_host(value)
    if status == "trap":
        raise _Trap(value)
    raise AttributeError(value)


_PLAIN = (str, int, bool, float, bytes, type(None))


class _IC:
    """`_kybra_ic`: every call goes to the host, which implements it as localnet's CPython host does."""

    def __getattr__(self, name):
        write, read, loads, dumps, plain = os.write, os.read, marshal.loads, marshal.dumps, _PLAIN

        def forward(*args):  # _host_call inlined: this is the path of every stable-map access
            try:
                data = dumps(("ic", name, args))
            except (ValueError, NotImplementedError):
                data = dumps(_to_host(("ic", name, args)))
            status, value = loads(read(0, write(0, data)))
            if status == "ok":
                return value if type(value) in plain else _from_host(value)
            if status == "trap":
                raise _Trap(value)
            raise AttributeError(value)

        forward.__name__ = name
        self.__dict__[name] = forward
        return forward

    def reply(self, function_name, value):
        return _host_call("reply", (function_name, value))

    def set_timer(self, delay, func):
        timer_id = _host_call("set_timer", (delay, None))  # the host keeps the due time, the guest func
        _timers[timer_id] = func
        return timer_id

    def set_timer_interval(self, interval, func):
        timer_id = _host_call("set_timer_interval", (interval, None))
        _timers[timer_id] = func
        return timer_id

    def clear_timer(self, timer_id):
        _host_call("clear_timer", (timer_id,))
        _timers.pop(timer_id, None)


def _function(module, name):
    fn = getattr(sys.modules.get(module), name, None)
    if fn is None:
        for m in _modules:
            fn = getattr(sys.modules[m], name, None)
            if fn is not None:
                break
    if fn is None:
        raise _Trap("function " + name + " not found in module " + module)
    return fn


_modules = []
_timers = {}  # timer id -> the callback (ic.set_timer); the host schedules them
_suspended = {}  # call id -> the generator stack of an async method awaiting a call
_next_call = [0]
_plan = [None]  # the reply plan of the method being called (sent with its command)


def _drive(stack, send):
    """Advance an async method's generators until it returns or yields a call (sent to the host)."""
    while True:
        try:
            yielded = stack[-1].send(send)
        except StopIteration as stop:
            stack.pop()
            if not stack:
                return ("return", stop.value)
            send = stop.value
            continue
        kind = type(yielded).__name__
        if kind == "generator":
            stack.append(yielded)
            send = None
        elif kind == "AsyncInfo":
            call_id = _next_call[0]
            _next_call[0] += 1
            _suspended[call_id] = stack
            return ("call", call_id, yielded.name, list(yielded.args))
        else:
            raise _Trap("an async method may only yield calls or generators, not " + kind)


def _resume(call_id, ok, err):
    from kybra import CallResult

    stack = _suspended.pop(call_id, None)
    if stack is None:
        raise _Trap("no async method awaits call " + str(call_id))
    return _drive(stack, CallResult(_from_host(ok), err))


def _execute(command):
    """One command from the host; the result goes back with the next request."""
    op = command[0]
    try:
        if op == "import":
            for name in command[1]:
                __import__(name)
                _modules.append(name)
            return ("return", None)
        if op == "resume":
            return _resume(command[1], command[2], command[3])
        if op == "fire":
            func = _timers.pop(command[1], None) if command[2] else _timers.get(command[1])
            value = func() if func is not None else None
            if type(value).__name__ == "generator":
                return _drive([value], None)
            return ("return", None)
        _, guard, module, name, args, bad_args, principals, plan = command
        _plan[0] = plan
        if guard is not None:
            verdict = _function(module, guard)()
            if isinstance(verdict, dict) and "Err" in verdict:
                return ("guard", str(verdict["Err"]))
        if bad_args is not None:
            raise _Trap(bad_args)
        if name is None:
            return ("return", None)
        value = _function(module, name)(*(_from_host(args) if principals else args))
        if type(value).__name__ == "generator":
            return _drive([value], None)
        return ("return", value)
    except _Trap as e:
        return ("trap", str(e))
    except RecursionError as e:
        return ("trap", "RecursionError: " + str(e))
    except Exception as e:
        return ("trap", type(e).__name__ + ": " + str(e))


def main():
    builtins._kybra_ic = _IC()
    result = None
    while True:
        try:
            command = _request(_reply(result))
        except (ValueError, NotImplementedError) as e:
            command = _request(("next", ("trap", "the result cannot be sent to the host: " + str(e))))
        result = _execute(command)


main()
