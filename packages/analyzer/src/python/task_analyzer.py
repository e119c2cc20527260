"""Static security analysis of Python Code-node snippets, run by the runner as a long-lived helper.

It parses with this interpreter's own `ast` (the one that will run the code, so there is no parser
differential) and answers one request per frame: 4-byte big-endian length, then UTF-8 JSON, on
stdin/stdout. Standard library only.
"""

import ast
import json
import string
import struct
import sys

BLOCKED_NAMES = frozenset({
    "__loader__", "__builtins__", "__globals__", "__spec__", "__name__", "__taskrunner_safe_format__",
})

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

FORMAT_METHODS = frozenset({"format", "format_map", "vformat", "get_field"})
BUILTINS_HOLDERS = frozenset({"__builtins__", "builtins"})
BYPASS = "because it can be used to bypass security restrictions."
MAX_TEMPLATE_DEPTH = 8


def name_message(name):
    return f"Access to name '{name}' is disallowed, {BYPASS}"


def attribute_message(attribute):
    return f"Access to attribute '{attribute}' is disallowed, {BYPASS}"


def is_name_mangled(attribute):
    # `_Class__secret`: a leading underscore, a class name, then two more underscores.
    if not attribute.startswith("_") or attribute.startswith("__"):
        return False
    rest = attribute[1:]
    index = rest.find("__")
    return index > 0 and not rest.endswith("__")


def template_fields(template, depth=0):
    """Field names used by a str.format template, including those nested in format specs."""
    if depth > MAX_TEMPLATE_DEPTH:
        return
    try:
        parsed = list(string.Formatter().parse(template))
    except (ValueError, TypeError):
        return
    for _literal, field, spec, _conversion in parsed:
        if field:
            yield field
        if spec:
            yield from template_fields(spec, depth + 1)


# The same walk as in packages/executor/src/python/py_server.py: each script is the only file its process may read, so
# the two cannot share a module. Keep them alike.
def field_accesses(field):
    """The attribute and key names a format field reaches: `0.__class__[x]` -> `__class__`, `x`."""
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


class Analyzer(ast.NodeVisitor):
    def __init__(self, stdlib_allow, external_allow):
        self.stdlib_allow = stdlib_allow
        self.external_allow = external_allow
        self.findings = []
        self.checked_modules = set()
        self.format_receivers = set()

    def report(self, node, message):
        line = getattr(node, "lineno", 1)
        column = getattr(node, "col_offset", 0) + 1
        self.findings.append((line, column, message))

    # --- imports ---------------------------------------------------------------------------

    def check_module(self, node, module):
        top = module.split(".")[0]
        if top in self.checked_modules:
            return
        self.checked_modules.add(top)
        if top in sys.stdlib_module_names:
            allowed = self.stdlib_allow
            if allowed != "*" and top not in allowed:
                listed = ", ".join(sorted(allowed)) if allowed else "none"
                self.report(node, f"Import of standard library module '{top}' is disallowed. Allowed stdlib modules: {listed}")
        else:
            allowed = self.external_allow
            if allowed != "*" and top not in allowed:
                listed = ", ".join(sorted(allowed)) if allowed else "none"
                self.report(node, f"Import of external package '{top}' is disallowed. Allowed external packages: {listed}")

    def check_bound_name(self, node, name):
        if name in BLOCKED_NAMES:
            self.report(node, name_message(name))
        elif name in BLOCKED_ATTRIBUTES:
            self.report(node, attribute_message(name))

    def visit_Import(self, node):
        for alias in node.names:
            self.check_module(node, alias.name)
            if alias.asname:
                self.check_bound_name(node, alias.asname)
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        if node.level > 0:
            self.report(node, "Relative imports are disallowed.")
        elif node.module:
            self.check_module(node, node.module)
        for alias in node.names:
            self.check_bound_name(node, alias.name)
            if alias.asname:
                self.check_bound_name(node, alias.asname)
        self.generic_visit(node)

    # --- names and attributes --------------------------------------------------------------

    def visit_Name(self, node):
        if node.id in BLOCKED_NAMES:
            self.report(node, name_message(node.id))
        self.generic_visit(node)

    def visit_Attribute(self, node):
        attribute = node.attr
        if attribute in BLOCKED_ATTRIBUTES:
            self.report(node, attribute_message(attribute))
        elif is_name_mangled(attribute):
            self.report(node, "Access to name-mangled attributes (pattern: _ClassName__attr) is disallowed for security reasons.")
        elif attribute in FORMAT_METHODS and id(node) not in self.format_receivers:
            self.report(node, f"Extracting '{attribute}' as a bound method is disallowed; call it directly on its receiver instead.")
        self.generic_visit(node)

    def visit_Call(self, node):
        function = node.func
        if isinstance(function, ast.Attribute) and function.attr in FORMAT_METHODS:
            # Calling `.format(...)` directly is fine; its template is checked when it is constant.
            self.format_receivers.add(id(function))
        if self.is_dynamic_import(function):
            argument = node.args[0] if node.args else None
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                self.check_module(node, argument.value)
            else:
                self.report(node, "Dynamic __import__() calls are not allowed for security reasons.")
        self.generic_visit(node)

    @staticmethod
    def is_dynamic_import(function):
        if isinstance(function, ast.Name):
            return function.id == "__import__"
        return isinstance(function, ast.Attribute) and function.attr == "__import__" and (
            isinstance(function.value, ast.Name) and function.value.id in BUILTINS_HOLDERS
        )

    def visit_Subscript(self, node):
        holder = node.value
        reaches_builtins = (isinstance(holder, ast.Name) and holder.id in BUILTINS_HOLDERS) or (
            isinstance(holder, ast.Attribute) and holder.attr == "__builtins__"
        )
        key = node.slice
        if reaches_builtins and isinstance(key, ast.Constant) and isinstance(key.value, str):
            if key.value in BLOCKED_ATTRIBUTES or key.value in BLOCKED_NAMES:
                self.report(node, attribute_message(key.value))
        self.generic_visit(node)

    # --- string constants ------------------------------------------------------------------

    def constant_string(self, node):
        """The value of a string literal or a `+` concatenation of them, else None."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.constant_string(node.left), self.constant_string(node.right)
            if left is not None and right is not None:
                return left + right
        return None

    def check_string(self, node, value):
        if value in BLOCKED_NAMES:
            self.report(node, name_message(value))
            return
        if value in BLOCKED_ATTRIBUTES:
            self.report(node, attribute_message(value))
            return
        if "{" not in value:
            return
        for field in template_fields(value):
            for access in field_accesses(field):
                if access in BLOCKED_ATTRIBUTES or access in BLOCKED_NAMES or is_name_mangled(access):
                    self.report(node, f"String pattern accessing '{access}' is disallowed, {BYPASS}")
                    return

    def visit_BinOp(self, node):
        value = self.constant_string(node)
        if value is not None:
            # A folded concatenation is checked as a whole; its parts are literals, not checked again.
            self.check_string(node, value)
            return
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            self.check_string(node, node.value)

    def visit_JoinedStr(self, node):
        # The literal parts of an f-string are text, not templates; its expressions are visited.
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                self.visit(value)

    # --- definitions -----------------------------------------------------------------------

    def visit_Global(self, node):
        for name in node.names:
            if name in BLOCKED_NAMES or name in BLOCKED_ATTRIBUTES:
                self.report(node, f"Global declaration of '{name}' is disallowed, {BYPASS}")
        self.generic_visit(node)

    def visit_Nonlocal(self, node):
        self.visit_Global(node)

    def check_definition(self, node, kind):
        if node.name in BLOCKED_NAMES or node.name in BLOCKED_ATTRIBUTES:
            self.report(node, f"{kind} named '{node.name}' is disallowed, {BYPASS}")

    def visit_FunctionDef(self, node):
        self.check_definition(node, "Function")
        self.generic_visit(node)

    def visit_AsyncFunctionDef(self, node):
        self.check_definition(node, "Function")
        self.generic_visit(node)

    def visit_ClassDef(self, node):
        self.check_definition(node, "Class")
        self.generic_visit(node)

    def visit_arg(self, node):
        if node.arg in BLOCKED_NAMES or node.arg in BLOCKED_ATTRIBUTES:
            self.report(node, f"Parameter named '{node.arg}' is disallowed, {BYPASS}")
        self.generic_visit(node)

    def visit_ExceptHandler(self, node):
        if node.name and (node.name in BLOCKED_NAMES or node.name in BLOCKED_ATTRIBUTES):
            self.report(node, name_message(node.name))
        self.generic_visit(node)

    # --- structural pattern matching -------------------------------------------------------

    def visit_MatchClass(self, node):
        if node.patterns:
            self.report(node, "Positional match patterns are disallowed for security reasons.")
        for attribute in node.kwd_attrs:
            if attribute in BLOCKED_ATTRIBUTES or is_name_mangled(attribute):
                self.report(node, f"Match pattern extracting attribute '{attribute}' is disallowed, {BYPASS}")
        self.generic_visit(node)

    def visit_MatchAs(self, node):
        if node.name and node.name in BLOCKED_NAMES:
            self.report(node, name_message(node.name))
        self.generic_visit(node)


def wrapped(code):
    """The snippet as the executor runs it: the body of `def _user_function():`."""
    body = "\n".join("    " + line for line in code.split("\n"))
    return "def _user_function():\n" + body + "\n    pass\n"


def analyze(request):
    code = request["code"]
    if len(code) > request.get("maxLength", 1024 * 1024):
        return {"verdict": "failed", "message": f"The code is {len(code)} characters long; the limit is {request['maxLength']}. Split it across several Code nodes."}
    try:
        # The snippet must parse both on its own lines and as the function body it becomes.
        tree = ast.parse(wrapped(code), filename="<user_code>")
    except SyntaxError as error:
        line = max(1, (error.lineno or 2) - 1)
        # The wrapper indents every line by four spaces.
        column = max(1, (error.offset or 5) - 4) if (error.lineno or 0) > 1 else 1
        return {"verdict": "syntax", "message": error.msg, "line": line, "column": column}
    except (RecursionError, MemoryError):
        return {"verdict": "failed", "message": "The code is nested too deeply to be analysed."}
    except ValueError as error:
        # e.g. source code containing NUL bytes
        return {"verdict": "syntax", "message": str(error), "line": 1, "column": 0}
    analyzer = Analyzer(request["stdlib"], request["external"])
    try:
        analyzer.visit(tree)
    except RecursionError:
        return {"verdict": "failed", "message": "The code is nested too deeply to be analysed."}
    if not analyzer.findings:
        # Parsing is not all of compiling: the compiler's own checks (a `nonlocal` with nothing to
        # bind, say) refuse code the parser takes. Found by the suite's fuzzer.
        try:
            compile(tree, "<user_code>", "exec")
        except SyntaxError as error:
            return {"verdict": "syntax", "message": error.msg, "line": max(1, (error.lineno or 2) - 1), "column": 1}
        except (RecursionError, MemoryError):
            return {"verdict": "failed", "message": "The code is nested too deeply to be analysed."}
        except ValueError as error:
            return {"verdict": "syntax", "message": str(error), "line": 1, "column": 0}
        return {"verdict": "ok"}
    seen = set()
    findings = []
    for line, column, message in sorted(analyzer.findings):
        user_line = max(1, line - 1)
        if (user_line, message) in seen:
            continue
        seen.add((user_line, message))
        findings.append({"line": user_line, "column": column, "message": message})
    return {"verdict": "violations", "findings": findings}


def read_exactly(stream, count):
    data = b""
    while len(data) < count:
        chunk = stream.read(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main():
    sys.setrecursionlimit(4000)
    try:
        import resource

        # A pathological snippet must not take the runner's memory with it.
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    except (ImportError, ValueError, OSError):
        pass
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = read_exactly(source, 4)
        if header is None:
            return
        body = read_exactly(source, struct.unpack(">I", header)[0])
        if body is None:
            return
        request_id = None
        try:
            request = json.loads(body)
            request_id = request.get("id")
            answer = analyze(request)
        except Exception as error:  # fail closed: any analyser failure refuses the code
            answer = {"verdict": "failed", "message": f"The code could not be analysed: {type(error).__name__}: {error}"}
        answer["id"] = request_id
        payload = json.dumps(answer).encode("utf-8")
        sink.write(struct.pack(">I", len(payload)) + payload)
        sink.flush()


if __name__ == "__main__":
    main()
