/**
 * Attacks on the analyser, over the technique families of security-model.md, each with the
 * verdict it must get: `security` (refused with findings), `syntax` (does not parse as the
 * executor runs it), `failed` (cannot be analysed: refused), or `runtime` (not decidable
 * statically; accepted here and left to the runtime layers, which the security suite tests).
 */
export type Expected = "security" | "syntax" | "failed" | "runtime"

export interface Attack {
  readonly name: string
  readonly family: string
  readonly code: string
  readonly expected: Expected
}

export const attackJavaScript: ReadonlyArray<Attack> = [
  // Constructor chains to Function, in every disguise.
  {
    family: "constructor",
    name: "plain chain",
    code: "return [].constructor.constructor('return process')()",
    expected: "security"
  },
  {
    family: "constructor",
    name: "computed key",
    code: "return ({})['constructor']['constructor']('return this')()",
    expected: "security"
  },
  {
    family: "constructor",
    name: "concatenated key",
    code: "const f = (() => 1)['constr' + 'uctor']\nreturn f('return 1')()",
    expected: "security"
  },
  {
    family: "constructor",
    name: "template key",
    code: "return (async () => {})[`constructor`]('return 1')",
    expected: "security"
  },
  {
    family: "constructor",
    name: "template with folded hole",
    code: "return x[`con${'struc'}tor`]",
    expected: "security"
  },
  {
    family: "constructor",
    name: "unicode escape in identifier",
    code: "return (() => 1).constr\\u0075ctor('return 1')()",
    expected: "security"
  },
  {
    family: "constructor",
    name: "unicode escape in string",
    code: "return (() => 1)['\\u0063onstructor']('return 1')()",
    expected: "security"
  },
  {
    family: "constructor",
    name: "destructuring",
    code: "const { constructor: F } = () => 1\nreturn F('return 1')()",
    expected: "security"
  },
  {
    family: "constructor",
    name: "nested destructuring",
    code: "const { a: { constructor: F } } = { a: () => 1 }\nreturn F",
    expected: "security"
  },
  {
    family: "constructor",
    name: "destructuring assignment",
    code: "let F\n({ constructor: F } = function* () {})\nreturn F",
    expected: "security"
  },
  {
    family: "constructor",
    name: "optional chaining",
    code: "return (() => 1)?.constructor?.('return 1')?.()",
    expected: "security"
  },
  {
    family: "constructor",
    name: "conditional key",
    code: "return (() => 1)[Math.random() > 2 ? 'x' : 'constructor']",
    expected: "security"
  },
  { family: "constructor", name: "sequence key", code: "return (() => 1)[(0, 'constructor')]", expected: "security" },
  {
    family: "constructor",
    name: "Reflect.get",
    code: "return Reflect.get(() => 1, 'constructor')('return 1')()",
    expected: "security"
  },
  {
    family: "constructor",
    name: "getOwnPropertyDescriptor",
    code: "return Object.getOwnPropertyDescriptor(Object.getPrototypeOf(() => 1), 'constructor').value",
    expected: "security"
  },
  {
    family: "constructor",
    name: "join-built key (runtime)",
    code: "const k = ['con', 'structor'].join('')\nreturn (() => 1)[k]",
    expected: "runtime"
  },
  {
    family: "constructor",
    name: "async function constructor",
    code: "const AsyncFunction = (async () => {}).constructor\nreturn AsyncFunction",
    expected: "security"
  },
  // Direct code generation.
  { family: "codegen", name: "eval", code: "return eval('1 + 1')", expected: "security" },
  { family: "codegen", name: "indirect eval", code: "return (0, eval)('this')", expected: "security" },
  { family: "codegen", name: "Function", code: "return Function('return this')()", expected: "security" },
  { family: "codegen", name: "new Function", code: "return new Function('a', 'return a')(1)", expected: "security" },
  {
    family: "codegen",
    name: "WebAssembly compile",
    code: "return await WebAssembly.compile(new Uint8Array([0, 97, 115, 109]))",
    expected: "security"
  },
  // Host objects and the runner's internals.
  { family: "host", name: "process.env", code: "return [{ json: process.env }]", expected: "security" },
  { family: "host", name: "process.binding", code: "return process.binding('spawn_sync')", expected: "security" },
  {
    family: "host",
    name: "getBuiltinModule",
    code: "return process.getBuiltinModule('child_process')",
    expected: "security"
  },
  { family: "host", name: "globalThis.process", code: "return globalThis.process.mainModule", expected: "security" },
  { family: "host", name: "global['process']", code: "return global['pro' + 'cess']", expected: "security" },
  { family: "host", name: "self destructuring", code: "const { process: p } = self\nreturn p", expected: "security" },
  { family: "host", name: "globalThis.require", code: "return globalThis.require('fs')", expected: "security" },
  { family: "host", name: "module.constructor", code: "return module.constructor._load('fs')", expected: "security" },
  { family: "host", name: "exports", code: "exports.x = 1\nreturn []", expected: "security" },
  {
    family: "host",
    name: "__dirname",
    code: "return [{ json: { dir: __dirname, file: __filename } }]",
    expected: "security"
  },
  {
    family: "host",
    name: "globalThis alias (runtime)",
    code: "const g = globalThis\nconst k = 'proc' + 'ess'\nreturn g[k + '']",
    expected: "runtime"
  },
  // Modules.
  {
    family: "modules",
    name: "require fs",
    code: "const fs = require('fs')\nreturn [{ json: { f: fs.readFileSync('/etc/passwd', 'utf8') } }]",
    expected: "security"
  },
  {
    family: "modules",
    name: "require node: prefix",
    code: "return require('node:child_process').execSync('id')",
    expected: "security"
  },
  {
    family: "modules",
    name: "require computed",
    code: "const name = 'child_' + $json.x\nreturn require(name)",
    expected: "security"
  },
  { family: "modules", name: "require as a value", code: "const r = require\nreturn r('fs')", expected: "security" },
  { family: "modules", name: "require.cache", code: "return Object.keys(require.cache)", expected: "security" },
  {
    family: "modules",
    name: "dynamic import",
    code: "const cp = await import('child_process')\nreturn cp",
    expected: "security"
  },
  { family: "modules", name: "dynamic import computed", code: "return await import($json.mod)", expected: "security" },
  { family: "modules", name: "static import", code: "import fs from 'fs'\nreturn []", expected: "security" },
  { family: "modules", name: "require by path", code: "return require('/etc/passwd')", expected: "security" },
  {
    family: "modules",
    name: "worker_threads",
    code: "const { Worker } = require('worker_threads')\nreturn new Worker('x')",
    expected: "security"
  },
  // Error machinery and engine internals.
  {
    family: "errors",
    name: "prepareStackTrace",
    code: "Error.prepareStackTrace = (e, frames) => frames\nreturn new Error().stack",
    expected: "security"
  },
  {
    family: "errors",
    name: "captureStackTrace",
    code: "const o = {}\nError.captureStackTrace(o)\nreturn o.stack",
    expected: "security"
  },
  {
    family: "errors",
    name: "callee",
    code: "return (function () { return arguments.callee })()",
    expected: "security"
  },
  { family: "errors", name: "caller", code: "function f() { return f.caller }\nreturn f()", expected: "security" },
  {
    family: "prototype",
    name: "__proto__ member",
    code: "const o = {}\no.__proto__.polluted = 1\nreturn []",
    expected: "security"
  },
  {
    family: "prototype",
    name: "__proto__ literal key",
    code: "return [{ json: { __proto__: { admin: true } } }]",
    expected: "security"
  },
  {
    family: "prototype",
    name: "__defineGetter__",
    code: "({}).__defineGetter__('x', () => 1)\nreturn []",
    expected: "security"
  },
  {
    family: "prototype",
    name: "__lookupGetter__",
    code: "return ({}).__lookupGetter__('__proto__')",
    expected: "security"
  },
  { family: "scope", name: "with statement", code: "with ({ a: 1 }) { return a }", expected: "security" },
  {
    family: "scope",
    name: "Symbol.unscopables",
    code: "const o = { [Symbol.unscopables]: { x: true } }\nreturn Symbol.unscopables",
    expected: "security"
  },
  { family: "scope", name: "import.meta", code: "return import.meta.url", expected: "syntax" },
  // Attacks on the wrapper and the analyser itself.
  {
    family: "wrapper",
    name: "closing the wrapper early",
    code: "return 1\n}\nprocess.exit(1)\nfunction again() {",
    expected: "syntax"
  },
  // The wrapper is sloppy (as n8n's): what strict mode used to refuse is refused by the rules.
  {
    family: "wrapper",
    name: "sloppy arguments.callee",
    code: "return (function () { return arguments.callee })()",
    expected: "security"
  },
  {
    family: "analyser",
    name: "deep nesting",
    code: `return ${"(".repeat(10_000)}1${")".repeat(10_000)}`,
    expected: "failed"
  },
  {
    family: "analyser",
    name: "deep arrays",
    code: `return ${"[".repeat(50_000)}${"]".repeat(50_000)}`,
    expected: "failed"
  },
  { family: "analyser", name: "oversize", code: `// ${"x".repeat(1024 * 1024)}\nreturn []`, expected: "failed" },
  // Resource exhaustion is a runtime matter (the jail's limits), but it must at least parse.
  { family: "resources", name: "infinite loop (runtime)", code: "while (true) {}", expected: "runtime" },
  {
    family: "resources",
    name: "memory bomb (runtime)",
    code: "const a = []\nwhile (true) a.push(new Array(1e6).fill(1))",
    expected: "runtime"
  }
]
