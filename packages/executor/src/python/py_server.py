"""The Python side of the executor: a fork server that runs one child per task.

Started inside the jail, it talks to the runner over fd 3 (4-byte big-endian length + UTF-8 JSON
frames, both directions). For each task it forks a child that drops to its own user (when the
server runs as root), applies its own resource limits, and runs the snippet with filtered builtins,
a guarded import, a guarded str.format, a cleared environment and a pruned sys.modules. The child
writes its result on a pipe (spec 7.4 framing: {"result"|"error": ..., "print_args": [...]}); the
server relays those bytes to the runner unparsed, with the child's exit status.

`single` runs one task in this process (strict mode: a fresh jailed interpreter per task).
Standard library only.
"""

import ast
import builtins
import gc
import importlib
import io
import json
import operator
import os
import select
import selectors
import signal
import string
import struct
import sys
import time
import traceback
import types

try:
    import ctypes

    _libc = ctypes.CDLL(None, use_errno=True)
except (ImportError, OSError):
    _libc = None

try:
    import resource
except ImportError:
    resource = None

CHANNEL_FD = 3
MAX_FD = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
MAX_PRINT_CALLS = 100
MAX_PRINT_ARG = 64 * 1024
MAX_PRINT_BYTES = 1024 * 1024
FILENAMES = {"all_items": "<all_items_task_execution>", "per_item": "<per_item_task_execution>"}
SAFE_FORMAT = "__taskrunner_safe_format__"
ALWAYS_KEPT = ("builtins", "__main__", "sys", "traceback", "linecache", "importlib", "importlib.machinery")

BLOCKED_ATTRIBUTES = frozenset({
    "__subclasses__", "__globals__", "__builtins__", "__traceback__", "tb_frame", "tb_next", "f_back",
    "f_globals", "f_locals", "f_code", "f_builtins", "__getattribute__", "__qualname__", "__module__",
    "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "ag_frame", "ag_code", "obj",
    "__thisclass__", "__self_class__", "__objclass__", "__reduce__", "__reduce_ex__", "__prepare__",
    "__instancecheck__", "__subclasscheck__", "__match_args__", "__base__", "__class__", "__bases__",
    "__code__", "__closure__", "__loader__", "__cached__", "__dict__", "__import__", "__mro__",
    "__init_subclass__", "__getattr__", "__setattr__", "__delattr__", "__self__", "__func__",
    "__wrapped__", "__annotations__", "__spec__",
})


# ---------------------------------------------------------------------------------------------
# Framing


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FrameReader:
    def __init__(self):
        self.buffer = bytearray()

    def feed(self, data):
        self.buffer += data
        frames = []
        while len(self.buffer) >= 4:
            length = struct.unpack(">I", self.buffer[:4])[0]
            if len(self.buffer) < 4 + length:
                break
            frames.append(bytes(self.buffer[4:4 + length]))
            del self.buffer[:4 + length]
        return frames


ZEROS = bytes(1 << 16)
# The one buffer a task's result passes through on its way to the runner (and a dropped frame on its
# way nowhere): filled from a pipe, forwarded, and wiped before anything else happens, so no child
# is forked while it holds another task's data.
CHUNK = bytearray(1 << 16)
CHUNKS_PER_ROUND = 16


def wipe(buffer):
    """Overwrites a buffer with zeros before it is dropped. Memory the server frees is not cleared,
    and every child forked later starts with a copy of it: other tasks' code, items and results
    must not be in it."""
    view = memoryview(buffer)
    for start in range(0, len(view), len(ZEROS)):
        part = view[start:start + len(ZEROS)]
        part[:] = ZEROS[:len(part)]
    view.release()


class ExactReader:
    """Reads length-prefixed frames from a descriptor straight into buffers of their exact size
    (no intermediate copies that would be freed with their contents). `limit` caps a frame.

    `read()` consumes what the descriptor has now and returns the frames completed, or raises
    EOFError at the end of the stream. On a blocking descriptor it reads again only while the
    descriptor says it has more (the caller's selector said it had some). A frame there is no
    memory for is read and dropped, and returned as None."""

    def __init__(self, fd, limit, blocking=False, one_frame=False):
        self.fd = fd
        self.limit = limit
        self.blocking = blocking
        # Stop after each frame: what follows stays in the kernel's buffer, not in our memory
        # (the channel: a task's child must not be forked while the next task's frames are here).
        self.one_frame = one_frame
        self.header = bytearray(4)
        self.have = 0
        self.body = None
        self.skipping = None  # bytes left of a frame being dropped
        self.overflow = False

    def _complete(self, frames, frame):
        frames.append(frame)
        self.body = None
        self.skipping = None
        self.have = 0
        return self.one_frame

    def read(self):
        frames = []
        first = True
        while True:
            if self.skipping == 0:
                if self._complete(frames, None):
                    return frames
                continue
            target = self.header if self.body is None else self.body
            if self.skipping is None and self.have == len(target):
                if self.body is None:
                    length = struct.unpack(">I", self.header)[0]
                    if length > self.limit:
                        self.overflow = True
                        return frames
                    try:
                        self.body = bytearray(length)
                    except MemoryError:
                        self.skipping = length
                    self.have = 0
                    continue
                if self._complete(frames, self.body):
                    return frames
                continue
            if self.blocking and not first and not select.select([self.fd], [], [], 0)[0]:
                return frames
            first = False
            if self.skipping is not None:
                target = memoryview(CHUNK)[:min(self.skipping, len(CHUNK))]
            else:
                target = memoryview(target)[self.have:]
            try:
                count = os.readv(self.fd, [target])
            except BlockingIOError:
                return frames
            if count == 0:
                raise EOFError(frames)
            if self.skipping is not None:
                wipe(target[:count])
                self.skipping -= count
            else:
                self.have += count


def send_message(message, raw=None):
    data = frame(json.dumps(message).encode("utf-8"))
    if raw is None:
        write_all(CHANNEL_FD, data)
        return
    # A result can be most of the server's memory: it is written from where it is, not copied.
    write_all(CHANNEL_FD, data + struct.pack(">I", len(raw)))
    write_all(CHANNEL_FD, raw)


# ---------------------------------------------------------------------------------------------
# The child: everything below runs in the forked process, before and around the user's code.


class SecurityViolationError(Exception):
    def __init__(self, description):
        super().__init__("Security violation detected")
        self.description = description


def allowed(name, allow):
    top = name.split(".")[0]
    return allow == "*" or top in allow


def import_message(name, task):
    top = name.split(".")[0]
    if top in sys.stdlib_module_names:
        allow = task["stdlibAllow"]
        listed = ", ".join(sorted(allow)) if allow else "none"
        return f"Import of standard library module '{top}' is disallowed. Allowed stdlib modules: {listed}"
    allow = task["externalAllow"]
    listed = ", ".join(sorted(allow)) if allow else "none"
    return f"Import of external package '{top}' is disallowed. Allowed external packages: {listed}"


def import_allowed(name, task):
    top = name.split(".")[0]
    allow = task["stdlibAllow"] if top in sys.stdlib_module_names else task["externalAllow"]
    return allowed(name, allow)


def make_import_guard(task, real_import):
    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if type(fromlist) is list and not fromlist and level == 0 and type(name) is str:
            # CPython's C code imports its own dependencies through the running frame's builtins
            # with an empty *list* (datetime.strftime -> time, time.strptime -> _strptime), then
            # takes the module from sys.modules and ignores what __import__ returned. So the
            # import happens, but nothing is returned: code mimicking the call gets no module.
            real_import(name, globals, locals, fromlist, level)
            return None
        if level:
            raise SecurityViolationError("Relative imports are disallowed.")
        if not isinstance(name, str) or not import_allowed(name, task):
            raise SecurityViolationError(import_message(str(name), task))
        return module_view(real_import(name, globals, locals, fromlist, level), task)

    return guarded_import


def guard_importlib(task):
    """`importlib.import_module` and `importlib.__import__` re-check the allow-lists, unless
    library code calls them and transitive imports are allowed. User code gets a module view."""
    real_import_module = importlib.import_module
    real_import = importlib.__import__

    def from_user():
        return sys._getframe(2).f_code.co_filename in FILENAMES.values()

    def checked(name, user):
        if (user or not task["allowTransitiveImports"]) and not import_allowed(str(name), task):
            raise SecurityViolationError(import_message(str(name), task))

    def import_module(name, package=None):
        user = from_user()
        checked(name, user)
        module = real_import_module(name, package)
        return module_view(module, task) if user else module

    def dunder_import(name, globals=None, locals=None, fromlist=(), level=0):
        user = from_user()
        checked(name, user)
        module = real_import(name, globals, locals, fromlist, level)
        return module_view(module, task) if user else module

    importlib.import_module = import_module
    importlib.__import__ = dunder_import


# ---------------------------------------------------------------------------------------------
# Module views: what user code gets for a module. A module's attributes include the modules it
# imported itself (json.decoder.re, re.enum, enum.sys, sys.modules, ...): through a view, a module
# found as an attribute is handed out only when it is an allowed import itself or a submodule of
# the module it was found on (os.path), so the allow-lists hold for attribute chains too.


class ModuleView:
    __slots__ = ("_taskrunner_module", "_taskrunner_task")

    def __init__(self, module, task):
        object.__setattr__(self, "_taskrunner_module", module)
        object.__setattr__(self, "_taskrunner_task", task)

    def __getattribute__(self, name):
        if name.startswith("_taskrunner_"):
            raise AttributeError(f"module has no attribute '{name}'")
        module = object.__getattribute__(self, "_taskrunner_module")
        task = object.__getattribute__(self, "_taskrunner_task")
        value = getattr(module, name)
        special = GUARDED_MEMBERS.get((getattr(module, "__name__", None), name))
        if special is not None:
            return special
        if isinstance(value, types.ModuleType):
            return reachable_module(module, name, value, task)
        return value

    def __setattr__(self, name, value):
        setattr(object.__getattribute__(self, "_taskrunner_module"), name, value)

    def __delattr__(self, name):
        delattr(object.__getattribute__(self, "_taskrunner_module"), name)

    def __dir__(self):
        return dir(object.__getattribute__(self, "_taskrunner_module"))

    def __repr__(self):
        return repr(object.__getattribute__(self, "_taskrunner_module"))


def module_view(module, task):
    return ModuleView(module, task) if isinstance(module, types.ModuleType) else module


def reachable_module(parent, name, value, task):
    parent_name = getattr(parent, "__name__", None)
    value_name = getattr(value, "__name__", None)
    submodule = type(parent_name) is str and sys.modules.get(f"{parent_name}.{name}") is value
    if submodule or (type(value_name) is str and import_allowed(value_name, task)):
        return ModuleView(value, task)
    raise SecurityViolationError(import_message(value_name if type(value_name) is str else name, task))


def blocked_name(name):
    return not isinstance(name, str) or name in BLOCKED_ATTRIBUTES or name.startswith("__")


def guarded_attrgetter(*names):
    """operator.attrgetter, refusing the attributes the analyzer refuses as `x.name`."""
    for dotted in names:
        for part in dotted.split(".") if isinstance(dotted, str) else [dotted]:
            if blocked_name(part):
                raise SecurityViolationError(f"Access to attribute '{part}' is disallowed, because it can be used to bypass security restrictions.")
    return operator.attrgetter(*names)


def guarded_methodcaller(name, *args, **kwargs):
    """operator.methodcaller, refusing blocked names and checking format templates."""
    if blocked_name(name):
        raise SecurityViolationError(f"Access to attribute '{name}' is disallowed, because it can be used to bypass security restrictions.")
    if name in FORMAT_METHODS:
        return lambda receiver: safe_format(receiver, name)(*args, **kwargs)
    return operator.methodcaller(name, *args, **kwargs)


GUARDED_MEMBERS = {
    ("operator", "attrgetter"): guarded_attrgetter,
    ("operator", "methodcaller"): guarded_methodcaller,
    ("_operator", "attrgetter"): guarded_attrgetter,
    ("_operator", "methodcaller"): guarded_methodcaller,
}


# The same walk as in packages/analyzer/src/python/task_analyzer.py: each script is the only file its process may read, so
# the two cannot share a module. Keep them alike.
def field_accesses(field):
    """The attribute names and keys a replacement field's name reaches (`0.a[b].c` -> a, b, c)."""
    index = 0
    while index < len(field) and field[index] not in ".[":
        index += 1
    while index < len(field):
        if field[index] == ".":
            end = index + 1
            while end < len(field) and field[end] not in ".[":
                end += 1
            yield field[index + 1:end]
            index = end
        elif field[index] == "[":
            end = field.find("]", index)
            if end < 0:
                return
            yield field[index + 1:end]
            index = end + 1
        else:
            index += 1


def template_accesses(template, depth=0):
    if depth > 8:
        return
    for _literal, field, spec, _conversion in string.Formatter().parse(template):
        if field:
            yield from field_accesses(field)
        if spec:
            yield from template_accesses(spec, depth + 1)


FORMAT_METHODS = ("format", "format_map", "vformat", "get_field")


def check_accesses(accesses):
    for access in accesses:
        if access in BLOCKED_ATTRIBUTES or access.startswith("__"):
            raise SecurityViolationError(
                f"String pattern accessing '{access}' is disallowed, because it can be used to bypass security restrictions."
            )


def check_template(template):
    check_accesses(template_accesses(template))


def is_formatter(receiver):
    """Whether `receiver` formats templates given as arguments: `str` itself (`str.format(t, ...)`),
    a `string.Formatter`, or a subclass of either."""
    if isinstance(receiver, type):
        return issubclass(receiver, (str, string.Formatter))
    return isinstance(receiver, string.Formatter)


def safe_format(receiver, method):
    """`receiver.<method>` for the format methods, checking the template before it runs. Every
    load of these attributes in user code goes through here (calls, bound-method extraction,
    `str.format(template, ...)`, `string.Formatter().vformat(...)`)."""
    bound = getattr(receiver, method)
    if isinstance(receiver, str):
        def checked(*args, **kwargs):
            check_template(receiver)
            return bound(*args, **kwargs)
    elif is_formatter(receiver) and method == "get_field":
        def checked(*args, **kwargs):
            field = args[0] if args else kwargs.get("field_name")
            if isinstance(field, str):
                check_accesses(field_accesses(field))
            return bound(*args, **kwargs)
    elif is_formatter(receiver):
        def checked(*args, **kwargs):
            for argument in args:
                if isinstance(argument, str):
                    check_template(argument)
            return bound(*args, **kwargs)
    else:
        return bound
    return checked


class FormatGuard(ast.NodeTransformer):
    """Rewrites every `x.format` / `x.format_map` / `x.vformat` load into a checked one."""

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if node.attr in FORMAT_METHODS and isinstance(node.ctx, ast.Load):
            return ast.copy_location(
                ast.Call(
                    func=ast.Name(id=SAFE_FORMAT, ctx=ast.Load()),
                    args=[node.value, ast.Constant(node.attr)],
                    keywords=[],
                ),
                node,
            )
        return node


def safe_str(value, fallback):
    """str(value), or `fallback` when the object's own __str__ raises or returns a non-string."""
    try:
        text = str(value)
    except Exception:  # noqa: BLE001
        return fallback
    return text if type(text) is str else fallback


def type_name(value):
    try:
        name = type(value).__name__
    except Exception:  # noqa: BLE001
        return "object"
    return name if type(name) is str else "object"


def format_print_arg(value):
    if isinstance(value, str):
        text = f"'{value}'"
    elif value is None or isinstance(value, (bool, int, float)):
        text = str(value)
    else:
        try:
            text = json.dumps(value, default=str, ensure_ascii=False)
        except RecursionError:
            text = f"[Circular {type_name(value)}]"
        except Exception as error:  # noqa: BLE001 - e.g. tuple keys, or a __str__ that raises
            if type(error) is ValueError and error.args[:1] == ("Circular reference detected",):
                text = f"[Circular {type_name(value)}]"
            else:
                text = safe_str(value, f"[Unprintable {type_name(value)}]")
    return text if len(text) <= MAX_PRINT_ARG else text[:MAX_PRINT_ARG] + "… [truncated]"


class PrintCapture:
    def __init__(self):
        self.calls = []
        self.dropped = 0
        self.size = 0

    def __call__(self, *args, sep=" ", end="\n", file=None, flush=False):
        if len(self.calls) >= MAX_PRINT_CALLS:
            self.dropped += 1
            return
        formatted = [format_print_arg(arg) for arg in args]
        size = sum(len(part) for part in formatted)
        if self.size + size > MAX_PRINT_BYTES:
            self.dropped += 1
            return
        self.size += size
        self.calls.append(formatted)

    def result(self):
        if self.dropped:
            return self.calls + [[f"[Output truncated - {self.dropped} more print statements]"]]
        return self.calls


def wrap_code(code, filename):
    body = "\n".join("    " + line for line in code.split("\n"))
    source = "def _user_function():\n" + body + "\n    pass\n__n8n_internal_user_output__ = _user_function()\n"
    tree = FormatGuard().visit(ast.parse(source, filename=filename))
    ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec")


def prune_modules(task):
    """Takes every module the task may not import out of `sys.modules` (so it cannot be reached
    through it). The modules stay referenced here: freeing them would write to most of the
    interpreter's memory, which fork shares copy-on-write, and cost each task milliseconds."""
    stdlib_allow, external_allow = task["stdlibAllow"], task["externalAllow"]
    for name in list(sys.modules):
        top = name.split(".")[0]
        if name in ALWAYS_KEPT:
            continue
        allow = stdlib_allow if top in sys.stdlib_module_names else external_allow
        if allow == "*" or top in allow:
            continue
        _PRUNED.append(sys.modules.pop(name))


_PRUNED = []


def user_frames(error):
    """The traceback without the runner's own frames."""
    return "".join(
        entry for entry in traceback.format_exception(error)
        if not entry.startswith("  File ") or any(name in entry for name in FILENAMES.values())
    )


def error_payload(error, stderr):
    if isinstance(error, SystemExit):
        message = f"Process exited with code {error.code if isinstance(error.code, int) else 1}"
    elif isinstance(error, SecurityViolationError):
        message = "Security violation detected"
    else:
        message = safe_str(error, "") or type_name(error)
    try:
        description = getattr(error, "description", None)
    except Exception:  # noqa: BLE001
        description = None
    try:
        stack = user_frames(error)
    except Exception:  # noqa: BLE001
        stack = ""
    payload = {
        "message": message,
        "description": description if type(description) is str and description else stderr,
        "stack": stack,
        "stderr": stderr,
    }
    if isinstance(error, MemoryError):
        payload["kind"] = "OutOfMemory"
    return payload


def shape_item(value, index):
    if isinstance(value, dict) and "json" in value:
        json_value = value["json"]
    elif isinstance(value, dict) and "binary" in value:
        json_value = {k: v for k, v in value.items() if k != "binary"}
    else:
        json_value = value
    item = {"json": json_value, "pairedItem": {"item": index}}
    if isinstance(value, dict) and "binary" in value:
        item["binary"] = value["binary"]
    return item


def apply_limits(task):
    limits = task["limits"]
    if resource is None:
        return
    pairs = [
        (resource.RLIMIT_AS, limits["addressSpaceBytes"]),
        (resource.RLIMIT_CPU, limits["cpuSeconds"]),
        (resource.RLIMIT_FSIZE, limits["maxFileBytes"]),
        (resource.RLIMIT_NOFILE, limits["maxOpenFiles"]),
        (resource.RLIMIT_CORE, 0),
    ]
    if task.get("uid") is not None:
        pairs.append((resource.RLIMIT_NPROC, limits["maxProcesses"]))
    for which, value in pairs:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass


def drop_privileges(task):
    # Whatever a task manages to create is readable by its own user only.
    os.umask(0o077)
    uid = task.get("uid")
    if uid is not None and os.getuid() == 0:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    if _libc is not None:
        # Not dumpable: other tasks (same user or not) cannot ptrace it or read its memory.
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        # Dies with the server. Set after the uid change, which clears it.
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class ReadOnlyBuiltins(dict):
    """The user's builtins: CPython needs a real dict (imports read it directly), but the user's
    code cannot change it."""

    def _refuse(self, *_args, **_kwargs):
        raise TypeError("builtins are read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse


def run_task(task, items_bytes, result_fd):
    """Runs one task in this (child) process and writes the framed result to `result_fd`."""
    drop_privileges(task)
    apply_limits(task)
    if task["blockEnvAccess"]:
        os.environ.clear()
    captured_stderr = io.StringIO()
    sys.stderr = captured_stderr
    sys.stdout = io.StringIO()
    printer = PrintCapture()
    mode = task["mode"]
    filename = FILENAMES[mode]
    message = None
    try:
        items = json.loads(items_bytes)
        code = wrap_code(task["code"], filename)
        # The module's own dunders (__loader__, __spec__, ...) are not builtins the user needs.
        hidden = set(task["builtinsDeny"]) | {"__loader__", "__spec__", "__name__", "__package__", "__doc__"}
        user_builtins = {k: v for k, v in builtins.__dict__.items() if k not in hidden}
        user_builtins["__import__"] = make_import_guard(task, builtins.__import__)
        user_builtins["print"] = printer
        guard_importlib(task)
        prune_modules(task)
        # The user's code runs as `__main__` (this server's own module, with everything it imported,
        # is no longer reachable under that name).
        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main
        scope = main.__dict__
        for name in ("__loader__", "__spec__", "__package__", "__doc__"):
            scope.pop(name, None)
        scope.update({"__builtins__": ReadOnlyBuiltins(user_builtins), SAFE_FORMAT: safe_format})
        if mode == "all_items":
            scope.update(_items=items, _query=task.get("query"))
            exec(code, scope)
            message = {"result": scope["__n8n_internal_user_output__"]}
        else:
            output = []
            for index, item in enumerate(items):
                scope["_item"] = item
                exec(code, scope)
                value = scope["__n8n_internal_user_output__"]
                if value is not None:
                    output.append(shape_item(value, index))
            message = {"result": output}
    except BaseException as error:  # noqa: BLE001 - every failure of the user's code is reported
        if task["continueOnFail"]:
            # n8n's runner: the failure becomes the result, and the prints so far are dropped.
            printer = PrintCapture()
            message = {"result": [{"json": {"error": safe_str(error, type_name(error))}}]}
        else:
            message = {"error": error_payload(error, captured_stderr.getvalue())}
    message["print_args"] = printer.result()
    try:
        payload = json.dumps(message, default=str, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except BaseException as error:  # noqa: BLE001 - whatever the result's objects do while converted
        reason = safe_str(error, type_name(error))
        payload = json.dumps({
            "error": {"message": f"The result cannot be converted to JSON: {reason}", "description": ""},
            "print_args": printer.result(),
        }).encode("utf-8")
    if len(payload) > task["maxResultBytes"]:
        payload = json.dumps({
            "error": {"message": f"The result is {len(payload)} bytes; the limit is {task['maxResultBytes']}", "description": "", "kind": "ResultTooLarge", "bytes": len(payload)},
            "print_args": [],
        }).encode("utf-8")
    write_all(result_fd, frame(payload))


# ---------------------------------------------------------------------------------------------
# System call filter (seccomp), installed in the server (every child inherits it) and in strict
# mode's single process. The jail already keeps tasks off the network and the host; this takes
# away what tasks of the same jail could otherwise share or reach: System V and POSIX message
# queues, shared memory and semaphores (they outlive a task), tracing and reading other processes,
# new namespaces, keyrings, BPF, userfaultfd, io_uring, perf, mounts and the like.

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_KILL_PROCESS = 0x80000000
BPF_LD_W_ABS, BPF_JEQ_K, BPF_JGE_K, BPF_JSET_K, BPF_RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
EPERM, ENOSYS = 1, 38
# clone(2) flags that make new namespaces (NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET).
CLONE_NEW_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
SYSCALLS = {
    "x86_64": {
        "arch": 0xC000003E, "clone": 56, "clone3": 435,
        "denied": (
            29, 30, 31, 67,  # shmget shmat shmctl shmdt
            64, 65, 66, 220,  # semget semop semctl semtimedop
            68, 69, 70, 71,  # msgget msgsnd msgrcv msgctl
            240, 241, 242, 243, 244, 245,  # mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr
            101, 310, 311, 312, 438,  # ptrace process_vm_readv process_vm_writev kcmp pidfd_getfd
            272, 308,  # unshare setns
            248, 249, 250,  # add_key request_key keyctl
            321, 323, 298, 425, 426, 427,  # bpf userfaultfd perf_event_open io_uring_setup/enter/register
            165, 166, 155, 161, 428, 429, 430, 432, 433, 442,  # mount umount2 pivot_root chroot open_tree move_mount fsopen fsmount fspick mount_setattr
            246, 175, 313, 303, 304,  # kexec_load init_module finit_module name_to_handle_at open_by_handle_at
            167, 168, 169, 163, 179, 103,  # swapon swapoff reboot acct quotactl syslog
        ),
    },
    "aarch64": {
        "arch": 0xC00000B7, "clone": 220, "clone3": 435,
        "denied": (
            194, 196, 195, 197,  # shmget shmat shmctl shmdt
            190, 193, 191, 192,  # semget semop semctl semtimedop
            186, 189, 188, 187,  # msgget msgsnd msgrcv msgctl
            180, 181, 182, 183, 184, 185,  # mq_*
            117, 270, 271, 272, 438,  # ptrace process_vm_readv process_vm_writev kcmp pidfd_getfd
            97, 268,  # unshare setns
            217, 218, 219,  # add_key request_key keyctl
            280, 282, 241, 425, 426, 427,  # bpf userfaultfd perf_event_open io_uring_*
            40, 39, 41, 51, 428, 429, 430, 432, 433, 442,  # mount umount2 pivot_root chroot open_tree ... mount_setattr
            104, 105, 273, 264, 265,  # kexec_load init_module finit_module name_to_handle_at open_by_handle_at
            224, 225, 142, 89, 60, 116,  # swapon swapoff reboot acct quotactl syslog
        ),
    },
}


def seccomp_program(machine):
    """The filter as (code, jt, jf, k) instructions, or None for an architecture without a table."""
    table = SYSCALLS.get(machine)
    if table is None:
        return None
    deny = SECCOMP_RET_ERRNO | EPERM
    program = [
        (BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (BPF_JEQ_K, 1, 0, table["arch"]),
        (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),  # another ABI (e.g. 32-bit): its numbers differ
        (BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        program += [(BPF_JGE_K, 0, 1, 0x40000000), (BPF_RET_K, 0, 0, deny)]  # the x32 ABI
    for number in table["denied"]:
        program += [(BPF_JEQ_K, 0, 1, number), (BPF_RET_K, 0, 0, deny)]
    # clone3 passes its flags in memory the filter cannot see: "not implemented" makes the C
    # library fall back to clone, whose flags it can.
    program += [(BPF_JEQ_K, 0, 1, table["clone3"]), (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS)]
    program += [
        (BPF_JEQ_K, 1, 0, table["clone"]),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        (BPF_LD_W_ABS, 0, 0, 16),  # the low half of clone's first argument, its flags
        (BPF_JSET_K, 0, 1, CLONE_NEW_FLAGS),
        (BPF_RET_K, 0, 0, deny),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
    return program


def install_seccomp():
    """Installs the filter for this process and all it starts. Fails (raises) rather than run
    without it, except on an architecture it has no table for."""
    program = seccomp_program(os.uname().machine)
    if program is None:
        sys.stderr.write(f"No system call filter for {os.uname().machine}: running without one\n")
        return
    if _libc is None:
        raise RuntimeError("cannot install the system call filter: ctypes is not available")

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    filters = (SockFilter * len(program))(*[SockFilter(*instruction) for instruction in program])
    fprog = SockFprog(len(program), filters)
    zero = ctypes.c_ulong(0)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), zero, zero, zero) != 0:
        raise OSError(ctypes.get_errno(), "cannot set no_new_privs for the system call filter")
    if _libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), zero, zero) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"cannot install the system call filter: {os.strerror(errno)}")


# ---------------------------------------------------------------------------------------------
# The server


class Running:
    """A forked task: its pipe, its deadline, and how much of its result frame it has written."""

    def __init__(self, dispatch, pid, read_fd):
        self.task_id = dispatch["id"]
        self.uid = dispatch["uid"]
        self.pid = pid
        self.read_fd = read_fd
        self.deadline = time.monotonic() + dispatch["timeoutSeconds"]
        self.limit = dispatch["maxResultBytes"]
        self.header = bytearray(4)
        self.received = 0  # bytes of the frame (header included) forwarded so far
        self.claimed = None  # the length the frame's header claims
        self.term_at = None
        self.status = "exited"
        self.wait_status = None


def close_descriptors(keep=()):
    """Closes every descriptor from 3 up except `keep`."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, MAX_FD)


def fork_task(dispatch, task_bytes, items_bytes):
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        # The child: no way back to the runner except its result pipe. Nothing of the server's
        # stays open (the runner's channel, other tasks' pipes, the selector, whatever the runner
        # itself inherited), and its standard streams are /dev/null.
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            close_descriptors(keep=(write_fd,))
            # A session of its own: it cannot join another task's (or the server's) process
            # group, so killing its group reaches everything it started that stayed in it.
            os.setsid()
            run_task(json.loads(task_bytes), items_bytes, write_fd)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(70)
    os.close(write_fd)
    os.set_blocking(read_fd, False)
    return Running(dispatch, pid, read_fd)


def kill_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        # No such group (any more): the child itself may still be there.
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    except PermissionError:
        # Without CAP_KILL for the child's user, signal it by pid at least (never crash the server).
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def proc_is_ours():
    """Whether /proc shows this PID namespace (bwrap mounts one; `unshare` without a new mount
    namespace leaves the host's, whose numbers mean other processes here)."""
    try:
        return os.readlink("/proc/self") == str(os.getpid())
    except OSError:
        return False


PROC_IS_OURS = proc_is_ours()


def kill_user(uid):
    """Kills every process left running as a task's own user (ones that left its process group),
    pass after pass until none is left: a process forked during a pass dies in the next one. Then
    waits briefly (at most 0.2 s) for their zombies to be reaped, as they still count against the
    uid's process limit."""
    deadline = time.monotonic() + 0.2
    for _ in range(64):
        found = zombies = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/status", "rb") as status:
                    fields = dict(line.split(b":", 1) for line in status if b":" in line)
                if int(fields[b"Uid"].split()[0]) != uid:
                    continue
                if fields[b"State"].strip().startswith(b"Z"):
                    zombies = True
                else:
                    os.kill(int(entry), signal.SIGKILL)
                    found = True
            except (OSError, ValueError, KeyError, IndexError):
                pass
        if not found and (not zombies or time.monotonic() > deadline):
            return
        if not found:
            time.sleep(0.005)




def forward(running, count):
    """Sends the first `count` bytes of CHUNK on to the runner (as far as they belong to the
    child's result frame), and checks the frame's claimed length against the task's limit."""
    view = memoryview(CHUNK)
    if running.received < 4:
        take = min(4 - running.received, count)
        running.header[running.received:running.received + take] = view[:take]
        if running.received + take == 4:
            running.claimed = struct.unpack(">I", running.header)[0]
            if running.claimed > running.limit:
                running.status = "tooLarge"
                view.release()
                return
    # Whatever a child writes after its frame is dropped.
    wanted = 4 + running.claimed - running.received if running.claimed is not None else count
    end = min(count, max(0, wanted))
    if end > 0:
        send_message({"type": "pydata", "id": running.task_id}, view[:end])
    running.received += end
    view.release()


def drain(running, rounds=CHUNKS_PER_ROUND):
    """Forwards what the pipe holds now (at most `rounds` chunks: other tasks get their turn);
    False once the pipe is at its end, or when the result claims to be larger than it may be
    (`tooLarge`: the task is killed)."""
    for _ in range(rounds):
        try:
            count = os.readv(running.read_fd, [CHUNK])
        except BlockingIOError:
            return True
        if count == 0:
            return False
        try:
            forward(running, count)
        finally:
            wipe(memoryview(CHUNK)[:count])
        if running.status == "tooLarge":
            kill_group(running.pid, signal.SIGKILL)
            return False
    return True


def close_pipe(running, selector):
    if running.read_fd is None:
        return
    selector.unregister(running.read_fd)
    os.close(running.read_fd)
    running.read_fd = None


def exit_code(status):
    try:
        return os.waitstatus_to_exitcode(status)
    except ValueError:
        return -signal.SIGKILL


def conclude(running, selector, tasks):
    """Reports a task whose child has exited and whose pipe is closed; the task's leftovers (processes
    in its group, or running as its user) are killed first."""
    if running.wait_status is None or running.read_fd is not None:
        return
    kill_group(running.pid, signal.SIGKILL)
    if running.uid is not None and os.getuid() == 0 and PROC_IS_OURS:
        kill_user(running.uid)
    code = exit_code(running.wait_status)
    tasks.pop(running.task_id, None)
    send_message({
        "type": "pydone",
        "id": running.task_id,
        "status": running.status,
        "exitCode": code if code >= 0 else None,
        "signal": -code if code < 0 else None,
        "claimedBytes": running.claimed if running.status == "tooLarge" else 0,
    })


def collect_exits():
    """Every child that has ended, by pid. A child that stopped instead (a traced child stops
    rather than exits) is killed: nothing here resumes it, and its exit is collected later."""
    exits = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return exits
        if pid == 0:
            return exits
        if os.WIFSTOPPED(status):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            continue
        exits[pid] = status


def reap(selector, tasks):
    """After SIGCHLD: records the status of every task child that exited. Whatever such a child
    wrote is already in its pipe, so the pipe is drained and closed even if a process it left
    behind still holds the write end."""
    exits = collect_exits()
    for running in list(tasks.values()):
        if running.wait_status is not None or running.pid not in exits:
            continue
        running.wait_status = exits[running.pid]
        if running.read_fd is not None:
            drain(running, rounds=1 << 62)
            close_pipe(running, selector)
        conclude(running, selector, tasks)


def preload(stdlib_allow, external_allow):
    """Imports the allow-listed modules once, so forked children find them loaded."""
    for allow in (stdlib_allow, external_allow):
        if allow == "*":
            continue
        for name in allow:
            try:
                __import__(name)
            except Exception:  # noqa: BLE001 - a missing package fails the task that imports it
                pass


def serve(settings):
    # Whatever descriptors the runner inherited from its own parent are no business of ours.
    close_descriptors(keep=(CHANNEL_FD,))
    preload(settings["stdlibAllow"], settings["externalAllow"])
    # Prune once here, so each child has (next to) nothing left to prune.
    prune_modules(settings)
    install_seccomp()
    # What exists now is shared with every child: keep the collector from walking (and so
    # copying) it in each of them.
    gc.freeze()
    # Children's exits wake the selector through a self-pipe written by the SIGCHLD handler.
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
    # The channel stays blocking (large results are written whole); the selector says when it is readable.
    selector = selectors.DefaultSelector()
    selector.register(CHANNEL_FD, selectors.EVENT_READ, "channel")
    selector.register(wake_read, selectors.EVENT_READ, "sigchld")
    channel = ExactReader(CHANNEL_FD, 0xFFFFFFFF, blocking=True, one_frame=True)
    tasks = {}
    starting = None  # the frames of a task being received: dispatch, task, items
    send_message({"type": "ready"})
    while True:
        wakes = [r.term_at if r.term_at is not None else r.deadline for r in tasks.values() if r.wait_status is None]
        timeout = max(0.0, min(wakes) - time.monotonic()) if wakes else None
        for key, _events in selector.select(timeout):
            if key.data == "channel":
                try:
                    frames = channel.read()
                except EOFError:
                    # The runner closed the channel: stop every child and leave.
                    for running in list(tasks.values()):
                        kill_group(running.pid, signal.SIGKILL)
                    return
                for body in frames:
                    if starting is not None:
                        starting.append(body)
                        if len(starting) == 3:
                            dispatch, task_bytes, items_bytes = starting
                            starting = None
                            if task_bytes is None or items_bytes is None:
                                # No memory for the task's frames next to the others': it fails alone.
                                for body_ in (task_bytes, items_bytes):
                                    if body_ is not None:
                                        wipe(body_)
                                send_message({
                                    "type": "pydone", "id": dispatch["id"], "status": "noMemory",
                                    "exitCode": None, "signal": None, "claimedBytes": 0,
                                })
                                continue
                            running = fork_task(dispatch, task_bytes, items_bytes)
                            # The child has its copy; none stays behind for later children.
                            wipe(task_bytes)
                            wipe(items_bytes)
                            tasks[running.task_id] = running
                            selector.register(running.read_fd, selectors.EVENT_READ, running)
                        continue
                    if body is None:
                        continue  # a message there was no memory for (only tasks' frames are large)
                    message = json.loads(body)
                    if not isinstance(message, dict):
                        continue
                    if message.get("type") == "dispatch":
                        starting = [message]
                    elif message.get("type") == "cancel":
                        running = tasks.get(message["id"])
                        if running is not None and running.term_at is None and running.wait_status is None:
                            running.status = "cancelled"
                            kill_group(running.pid, signal.SIGTERM)
                            running.term_at = time.monotonic() + 1
            elif key.data == "sigchld":
                try:
                    while os.read(wake_read, 4096):
                        pass
                except BlockingIOError:
                    pass
                reap(selector, tasks)
            else:
                running = key.data
                if running.read_fd is None:
                    continue  # closed earlier in this round
                if not drain(running):
                    close_pipe(running, selector)
                    conclude(running, selector, tasks)
        now = time.monotonic()
        for running in list(tasks.values()):
            if running.wait_status is not None:
                continue
            if running.term_at is None and now >= running.deadline:
                running.status = "timedOut"
                kill_group(running.pid, signal.SIGTERM)
                running.term_at = now + 1
            elif running.term_at is not None and now >= running.term_at:
                kill_group(running.pid, signal.SIGKILL)
                running.term_at = now + 3600


def single():
    """Strict mode: one task, run here, the result written straight to the channel."""
    close_descriptors(keep=(CHANNEL_FD,))
    reader = FrameReader()
    frames = []
    while len(frames) < 3:
        data = os.read(CHANNEL_FD, 1 << 20)
        if not data:
            return
        frames += reader.feed(data)
    task = json.loads(frames[1])
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    os.setpgid(0, 0)
    install_seccomp()
    run_task(task, frames[2], CHANNEL_FD)


if __name__ == "__main__":
    if sys.argv[1:2] == ["single"]:
        single()
    else:
        serve(json.loads(sys.argv[2]))
    os._exit(0)
