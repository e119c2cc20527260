/**
 * Python attacks over the families of security-model.md. `expected` is the analyser's verdict;
 * `runtime` is what must happen when the code runs with the analyser switched off (the child's
 * guards and the jail alone): `blocked` (refused by a runtime guard: an error), `contained` (it
 * runs, but no canary is reached), `timeout`, `oom`, or `capped` (output capped).
 * `{{CANARY_FILE}}` and `{{PORT}}` are replaced by the test with a canary file and a listening port.
 */
export interface PythonAttack {
  readonly id: string
  readonly family: string
  readonly code: string
  readonly expected: "security" | "syntax" | "failed" | "runtime"
  readonly runtime: "blocked" | "contained" | "timeout" | "oom" | "capped"
}

/** Reaches the real `os` module through the class hierarchy (no imports, no blocked builtins). */
const osByWalk = `real_os = None
for cls in ().__class__.__base__.__subclasses__():
    if cls.__name__ == "catch_warnings":
        real_os = cls()._module.__builtins__["__import__"]("os")
        break`

export const attackPython: ReadonlyArray<PythonAttack> = [
  // Introspection walks.
  {
    id: "py-attack-subclasses",
    family: "introspection",
    code: "return [{'json': {'n': len(().__class__.__bases__[0].__subclasses__())}}]",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-walk-env",
    family: "introspection",
    code: `${osByWalk}\nreturn [{'json': {'env': dict(real_os.environ)}}]`,
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-walk-file",
    family: "introspection",
    code:
      `${osByWalk}\nfd = real_os.open("{{CANARY_FILE}}", 0)\nreturn [{'json': {'canary': real_os.read(fd, 100).decode()}}]`,
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-walk-network",
    family: "introspection",
    code:
      `${osByWalk}\nsocket = real_os.__dict__["sys"].modules.get("socket") or [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "catch_warnings"][0]()._module.__builtins__["__import__"]("socket")\nsocket.create_connection(("127.0.0.1", {{PORT}}), timeout=2)\nreturn [{'json': {'connected': True}}]`,
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-walk-fork-bomb",
    family: "introspection",
    code:
      `${osByWalk}\npids = []\nfor _ in range(200):\n    pids.append(real_os.fork())\nreturn [{'json': {'forked': len(pids)}}]`,
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-walk-kill",
    family: "introspection",
    code:
      `${osByWalk}\nkilled = 0\nfor pid in real_os.listdir('/proc'):\n    if pid.isdigit() and int(pid) != real_os.getpid():\n        try:\n            real_os.kill(int(pid), 9)\n            killed += 1\n        except OSError:\n            pass\nreturn [{'json': {'killed': killed}}]`,
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-mro",
    family: "introspection",
    code: "return [{'json': {'base': str(type(1).__mro__)}}]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-dict",
    family: "introspection",
    code: "def f(): pass\nreturn [{'json': {'keys': list(f.__dict__)}}]",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-code",
    family: "introspection",
    code: "return [{'json': {'c': str((lambda: 0).__code__)}}]",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-globals-attr",
    family: "introspection",
    code: "def f(): pass\nreturn [{'json': {'g': list(f.__globals__)}}]",
    expected: "security",
    runtime: "contained"
  },
  // Frames.
  {
    id: "py-attack-traceback-frame",
    family: "frames",
    code:
      "try:\n    1 / 0\nexcept Exception as e:\n    g = e.__traceback__.tb_frame.f_back.f_globals\n    return [{'json': {'keys': sorted(k for k in g if not k.startswith('__'))[:5]}}]",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-generator-frame",
    family: "frames",
    code: "g = (x for x in [1])\nreturn [{'json': {'f': str(g.gi_frame.f_back)}}]",
    expected: "security",
    runtime: "contained"
  },
  // Format strings.
  {
    id: "py-attack-format-class",
    family: "format",
    code: "return [{'json': {'s': '{0.__class__.__base__.__subclasses__}'.format(())}}]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-format-nested-spec",
    family: "format",
    code: "return [{'json': {'s': '{0:{1.__class__}}'.format(1, 2)}}]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-format-concat",
    family: "format",
    code: "t = '{0.__cla' + 'ss__}'\nreturn [{'json': {'s': t.format(1)}}]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-format-dynamic",
    family: "format",
    code: "t = ''.join(['{0.', '__class__', '}'])\nreturn [{'json': {'s': t.format(1)}}]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-format-bound",
    family: "format",
    code: "f = '{0}'.format\nreturn [{'json': {'s': f(1)}}]",
    expected: "security",
    runtime: "contained"
  },
  // Pattern matching.
  {
    id: "py-attack-match-class-attr",
    family: "match",
    code: "match ():\n    case object(__class__=c):\n        return [{'json': {'c': str(c)}}]",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-match-positional",
    family: "match",
    code: "match 1:\n    case int(x):\n        return [{'json': {'x': x}}]",
    expected: "security",
    runtime: "contained"
  },
  // Decorators and builtins.
  {
    id: "py-attack-decorator-import",
    family: "decorators",
    code: "@__import__('os').system\ndef f():\n    pass\nreturn []",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-builtins-subscript",
    family: "builtins",
    code: "return [{'json': {'b': str(__builtins__['__import__'])}}]",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-dynamic-import",
    family: "builtins",
    code: "name = 'o' + 's'\nreturn [{'json': {'m': str(__import__(name))}}]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-getattr-string",
    family: "builtins",
    code: "return [{'json': {'c': str(getattr(1, '__class__'))}}]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-eval",
    family: "builtins",
    code: "return [{'json': {'v': eval('1 + 1')}}]",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "py-attack-exec-compile",
    family: "builtins",
    code: "exec(compile('x = 1', 'f', 'exec'))\nreturn []",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "py-attack-globals-call",
    family: "builtins",
    code: "return [{'json': {'g': sorted(globals())}}]",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "py-attack-loader-name",
    family: "builtins",
    code: "return [{'json': {'l': str(__loader__)}}]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-except-builtins",
    family: "builtins",
    code: "try:\n    1 / 0\nexcept Exception as __builtins__:\n    pass\nreturn []",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-param-globals",
    family: "builtins",
    code: "def f(__globals__=1):\n    return __globals__\nreturn [{'json': {'v': f()}}]",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-global-decl",
    family: "builtins",
    code: "def f():\n    global __builtins__\n    return 1\nreturn []",
    expected: "security",
    runtime: "contained"
  },
  // Name mangling and unicode.
  {
    id: "py-attack-name-mangling",
    family: "mangling",
    code: "x = object()\nreturn [{'json': {'v': str(x._Secret__key)}}]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-fullwidth-attribute",
    family: "unicode",
    code: "return [{'json': {'c': str(().__ｃｌａｓｓ__)}}]",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "py-attack-fullwidth-eval",
    family: "unicode",
    code: "return [{'json': {'v': ｅｖａｌ('1')}}]",
    expected: "runtime",
    runtime: "blocked"
  },
  // Environment, files, network, processes through imports.
  {
    id: "py-attack-import-os-environ",
    family: "env",
    code: "import os\nreturn [{'json': dict(os.environ)}]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-open-file",
    family: "files",
    code: "return [{'json': {'c': open('{{CANARY_FILE}}').read()}}]",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "py-attack-import-io",
    family: "files",
    code: "import io\nreturn [{'json': {'c': io.open('{{CANARY_FILE}}').read()}}]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-import-socket",
    family: "network",
    code: "import socket\nsocket.create_connection(('127.0.0.1', {{PORT}}))\nreturn []",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-import-subprocess",
    family: "processes",
    code: "import subprocess\nreturn [{'json': {'o': subprocess.check_output(['id']).decode()}}]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-relative-import",
    family: "processes",
    code: "from . import secrets\nreturn []",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "py-attack-import-sys",
    family: "processes",
    code: "import sys\nreturn [{'json': {'m': len(sys.modules)}}]",
    expected: "security",
    runtime: "blocked"
  },
  // Resource exhaustion.
  {
    id: "py-attack-memory-bomb",
    family: "resources",
    code: "a = []\nwhile True:\n    a.append(' ' * 10**7)",
    expected: "runtime",
    runtime: "oom"
  },
  {
    id: "py-attack-infinite-loop",
    family: "resources",
    code: "while True:\n    pass",
    expected: "runtime",
    runtime: "timeout"
  },
  {
    id: "py-attack-recursion",
    family: "resources",
    code: "def f(n):\n    return f(n + 1)\nreturn [{'json': {'v': f(0)}}]",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "py-attack-print-flood",
    family: "resources",
    code: "for i in range(100000):\n    print('x' * 100, i)\nreturn []",
    expected: "runtime",
    runtime: "capped"
  },
  // The analyser itself.
  {
    id: "py-attack-nul-byte",
    family: "analyser",
    code: "x = 1\u0000\nreturn []",
    expected: "syntax",
    runtime: "blocked"
  },
  {
    id: "py-attack-deep-nesting",
    family: "analyser",
    code: `return ${"(".repeat(300)}1${")".repeat(300)}`,
    expected: "syntax",
    runtime: "blocked"
  },
  {
    id: "py-attack-oversize",
    family: "analyser",
    code: `# ${"x".repeat(1024 * 1024)}\nreturn []`,
    expected: "failed",
    runtime: "contained"
  }
]
