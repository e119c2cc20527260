/**
 * JavaScript attacks over the technique families of security-model.md, each with two outcomes.
 *
 * `expected` is the analyser's verdict: `security` (refused with findings), `syntax` (does not
 * parse as the executor runs it), `failed` (cannot be analysed: refused), or `runtime` (not
 * decidable statically; accepted and left to the runtime layers).
 *
 * `runtime` is what must happen when the code runs with the analyser switched off (the child's
 * guards and the jail alone): `blocked` (the task fails with an error: a runtime guard or the jail
 * refused it), `contained` (it may run or fail, but reaches nothing it must not), `timeout` (killed
 * at the task deadline), `oom` (out of memory), or `capped` (it runs, its console output capped).
 *
 * Placeholders the suites replace, each inside a string literal so that every case parses as it
 * is: `{{CANARY_FILE}}` (a secret file the runner's user can read, outside the sandbox), `{{PORT}}`
 * (a TCP port on 127.0.0.1 whose listener records connections) and `{{SECRET_ENV}}` (the name of
 * an environment variable of the runner holding a secret).
 * Ids are stable: `js-attack-<family>-<name in kebab case>`.
 */
export type Expected = "security" | "syntax" | "failed" | "runtime"

/** What happens at run time with the analyser switched off. */
export type RuntimeOutcome = "blocked" | "contained" | "timeout" | "oom" | "capped"

export interface Attack {
  readonly id: string
  readonly name: string
  readonly family: string
  readonly code: string
  readonly expected: Expected
  readonly runtime: RuntimeOutcome
}

export const attackJavaScript: ReadonlyArray<Attack> = [
  // Constructor chains to Function, in every disguise.
  {
    id: "js-attack-constructor-plain-chain",
    family: "constructor",
    name: "plain chain",
    code: "return [].constructor.constructor('return process')()",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-constructor-computed-key",
    family: "constructor",
    name: "computed key",
    code: "return ({})['constructor']['constructor']('return this')()",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-constructor-concatenated-key",
    family: "constructor",
    name: "concatenated key",
    code: "const f = (() => 1)['constr' + 'uctor']\nreturn f('return 1')()",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-constructor-template-key",
    family: "constructor",
    name: "template key",
    code: "return (async () => {})[`constructor`]('return 1')",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-constructor-template-with-folded-hole",
    family: "constructor",
    name: "template with folded hole",
    code: "return x[`con${'struc'}tor`]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-constructor-unicode-escape-in-identifier",
    family: "constructor",
    name: "unicode escape in identifier",
    code: "return (() => 1).constr\\u0075ctor('return 1')()",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-constructor-unicode-escape-in-string",
    family: "constructor",
    name: "unicode escape in string",
    code: "return (() => 1)['\\u0063onstructor']('return 1')()",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-constructor-destructuring",
    family: "constructor",
    name: "destructuring",
    code: "const { constructor: F } = () => 1\nreturn F('return 1')()",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-constructor-nested-destructuring",
    family: "constructor",
    name: "nested destructuring",
    code: "const { a: { constructor: F } } = { a: () => 1 }\nreturn F",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-constructor-destructuring-assignment",
    family: "constructor",
    name: "destructuring assignment",
    code: "let F\n({ constructor: F } = function* () {})\nreturn F",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-constructor-optional-chaining",
    family: "constructor",
    name: "optional chaining",
    code: "return (() => 1)?.constructor?.('return 1')?.()",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-constructor-conditional-key",
    family: "constructor",
    name: "conditional key",
    code: "return (() => 1)[Math.random() > 2 ? 'x' : 'constructor']",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-constructor-sequence-key",
    family: "constructor",
    name: "sequence key",
    code: "return (() => 1)[(0, 'constructor')]",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-constructor-reflect-get",
    family: "constructor",
    name: "Reflect.get",
    code: "return Reflect.get(() => 1, 'constructor')('return 1')()",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-constructor-get-own-property-descriptor",
    family: "constructor",
    name: "getOwnPropertyDescriptor",
    code: "return Object.getOwnPropertyDescriptor(Object.getPrototypeOf(() => 1), 'constructor').value",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-constructor-join-built-key-runtime",
    family: "constructor",
    name: "join-built key (runtime)",
    code: "const k = ['con', 'structor'].join('')\nreturn (() => 1)[k]",
    expected: "runtime",
    runtime: "contained"
  },
  {
    id: "js-attack-constructor-async-function-constructor",
    family: "constructor",
    name: "async function constructor",
    code: "const AsyncFunction = (async () => {}).constructor\nreturn AsyncFunction",
    expected: "security",
    runtime: "contained"
  },
  // Direct code generation.
  {
    id: "js-attack-codegen-eval",
    family: "codegen",
    name: "eval",
    code: "return eval('1 + 1')",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-codegen-indirect-eval",
    family: "codegen",
    name: "indirect eval",
    code: "return (0, eval)('this')",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-codegen-function",
    family: "codegen",
    name: "Function",
    code: "return Function('return this')()",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-codegen-new-function",
    family: "codegen",
    name: "new Function",
    code: "return new Function('a', 'return a')(1)",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-codegen-webassembly-compile",
    family: "codegen",
    name: "WebAssembly compile",
    code: "return await WebAssembly.compile(new Uint8Array([0, 97, 115, 109]))",
    expected: "security",
    runtime: "blocked"
  },
  // Host objects and the runner's internals.
  {
    id: "js-attack-host-process-env",
    family: "host",
    name: "process.env",
    code: "return [{ json: process.env }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-host-process-binding",
    family: "host",
    name: "process.binding",
    code: "return process.binding('spawn_sync')",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-host-get-builtin-module",
    family: "host",
    name: "getBuiltinModule",
    code: "return process.getBuiltinModule('child_process')",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-host-globalthis-process",
    family: "host",
    name: "globalThis.process",
    code: "return globalThis.process.mainModule",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-host-global-process",
    family: "host",
    name: "global['process']",
    code: "return global['pro' + 'cess']",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-host-self-destructuring",
    family: "host",
    name: "self destructuring",
    code: "const { process: p } = self\nreturn p",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-host-globalthis-require",
    family: "host",
    name: "globalThis.require",
    code: "return globalThis.require('fs')",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-host-module-constructor",
    family: "host",
    name: "module.constructor",
    code: "return module.constructor._load('fs')",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-host-exports",
    family: "host",
    name: "exports",
    code: "exports.x = 1\nreturn []",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-host-dirname",
    family: "host",
    name: "__dirname",
    code: "return [{ json: { dir: __dirname, file: __filename } }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-host-globalthis-alias-runtime",
    family: "host",
    name: "globalThis alias (runtime)",
    code: "const g = globalThis\nconst k = 'proc' + 'ess'\nreturn g[k + '']",
    expected: "runtime",
    runtime: "contained"
  },
  // Modules.
  {
    id: "js-attack-modules-require-fs",
    family: "modules",
    name: "require fs",
    code: "const fs = require('fs')\nreturn [{ json: { f: fs.readFileSync('/etc/passwd', 'utf8') } }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-modules-require-node-prefix",
    family: "modules",
    name: "require node: prefix",
    code: "return require('node:child_process').execSync('id')",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-modules-require-computed",
    family: "modules",
    name: "require computed",
    code: "const name = 'child_' + $json.x\nreturn require(name)",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-modules-require-as-a-value",
    family: "modules",
    name: "require as a value",
    code: "const r = require\nreturn r('fs')",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-modules-require-cache",
    family: "modules",
    name: "require.cache",
    code: "return Object.keys(require.cache)",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-modules-dynamic-import",
    family: "modules",
    name: "dynamic import",
    code: "const cp = await import('child_process')\nreturn cp",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-modules-dynamic-import-computed",
    family: "modules",
    name: "dynamic import computed",
    code: "return await import($json.mod)",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-modules-static-import",
    family: "modules",
    name: "static import",
    code: "import fs from 'fs'\nreturn []",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-modules-require-by-path",
    family: "modules",
    name: "require by path",
    code: "return require('/etc/passwd')",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-modules-worker-threads",
    family: "modules",
    name: "worker_threads",
    code: "const { Worker } = require('worker_threads')\nreturn new Worker('x')",
    expected: "security",
    runtime: "blocked"
  },
  // Error machinery and engine internals.
  {
    id: "js-attack-errors-prepare-stack-trace",
    family: "errors",
    name: "prepareStackTrace",
    code: "Error.prepareStackTrace = (e, frames) => frames\nreturn new Error().stack",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-errors-capture-stack-trace",
    family: "errors",
    name: "captureStackTrace",
    code: "const o = {}\nError.captureStackTrace(o)\nreturn o.stack",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-errors-callee",
    family: "errors",
    name: "callee",
    code: "return (function () { return arguments.callee })()",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-errors-caller",
    family: "errors",
    name: "caller",
    code: "function f() { return f.caller }\nreturn f()",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-prototype-proto-member",
    family: "prototype",
    name: "__proto__ member",
    code: "const o = {}\no.__proto__.polluted = 1\nreturn []",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-prototype-proto-literal-key",
    family: "prototype",
    name: "__proto__ literal key",
    code: "return [{ json: { __proto__: { admin: true } } }]",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-prototype-define-getter",
    family: "prototype",
    name: "__defineGetter__",
    code: "({}).__defineGetter__('x', () => 1)\nreturn []",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-prototype-lookup-getter",
    family: "prototype",
    name: "__lookupGetter__",
    code: "return ({}).__lookupGetter__('__proto__')",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-scope-with-statement",
    family: "scope",
    name: "with statement",
    code: "with ({ a: 1 }) { return a }",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-scope-symbol-unscopables",
    family: "scope",
    name: "Symbol.unscopables",
    code: "const o = { [Symbol.unscopables]: { x: true } }\nreturn Symbol.unscopables",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-scope-import-meta",
    family: "scope",
    name: "import.meta",
    code: "return import.meta.url",
    expected: "syntax",
    runtime: "blocked"
  },
  // Attacks on the wrapper and the analyser itself.
  {
    id: "js-attack-wrapper-closing-the-wrapper-early",
    family: "wrapper",
    name: "closing the wrapper early",
    code: "return 1\n}\nprocess.exit(1)\nfunction again() {",
    expected: "syntax",
    runtime: "blocked"
  },
  // The wrapper is sloppy (as n8n's): what strict mode used to refuse is refused by the rules.
  {
    id: "js-attack-wrapper-sloppy-arguments-callee",
    family: "wrapper",
    name: "sloppy arguments.callee",
    code: "return (function () { return arguments.callee })()",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-analyser-deep-nesting",
    family: "analyser",
    name: "deep nesting",
    code: `return ${"(".repeat(10_000)}1${")".repeat(10_000)}`,
    expected: "failed",
    runtime: "blocked"
  },
  {
    id: "js-attack-analyser-deep-arrays",
    family: "analyser",
    name: "deep arrays",
    code: `return ${"[".repeat(50_000)}${"]".repeat(50_000)}`,
    expected: "failed",
    runtime: "blocked"
  },
  {
    id: "js-attack-analyser-oversize",
    family: "analyser",
    name: "oversize",
    code: `// ${"x".repeat(1024 * 1024)}\nreturn []`,
    expected: "failed",
    runtime: "contained"
  },
  // Resource exhaustion is a runtime matter (the jail's limits), but it must at least parse.
  {
    id: "js-attack-resources-infinite-loop-runtime",
    family: "resources",
    name: "infinite loop (runtime)",
    code: "while (true) {}",
    expected: "runtime",
    runtime: "timeout"
  },
  {
    id: "js-attack-resources-memory-bomb-runtime",
    family: "resources",
    name: "memory bomb (runtime)",
    code: "const a = []\nwhile (true) a.push(new Array(1e6).fill(1))",
    expected: "runtime",
    runtime: "oom"
  },
  // Constructor chains and code generation, more disguises (reaching host realms too).
  {
    id: "js-attack-constructor-generator-function",
    family: "constructor",
    name: "generator function constructor",
    code: "return Object.getPrototypeOf(function* () {}).constructor('yield 1')().next()",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-constructor-reflect-get-join-built-key",
    family: "constructor",
    name: "Reflect.get with a join-built key",
    code:
      "const F = Reflect.get(Object.getPrototypeOf(() => 1), ['con', 'structor'].join(''))\nreturn [{ json: { v: F('return 1')() } }]",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "js-attack-codegen-settimeout-string",
    family: "codegen",
    name: "setTimeout with a string",
    code:
      "setTimeout('globalThis.x = 1', 0)\nawait new Promise((r) => setTimeout(r, 50))\nreturn [{ json: { x: globalThis.x ?? null } }]",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "js-attack-codegen-webassembly-concatenated-key",
    family: "codegen",
    name: "WebAssembly through a concatenated key",
    code:
      "const W = globalThis['Web' + 'Assembly']\nreturn await W.instantiate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-codegen-webassembly-join-built-key",
    family: "codegen",
    name: "WebAssembly through a join-built key",
    code:
      "const W = globalThis[['Web', 'Assembly'].join('')]\nconst m = await W.instantiate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))\nreturn [{ json: { ok: !!m } }]",
    expected: "runtime",
    runtime: "blocked"
  },
  // Host objects reachable from the task's realm.
  {
    id: "js-attack-host-function-through-buffer",
    family: "host",
    name: "host Function through Buffer",
    code: "return [{ json: { s: Buffer.constructor('return process.env')()['{{SECRET_ENV}}'] } }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-host-function-through-host-error",
    family: "host",
    name: "host Function through a host error",
    code:
      "try {\n  Buffer.alloc(-1)\n} catch (e) {\n  return [{ json: { s: e.constructor.constructor('return process')().env['{{SECRET_ENV}}'] } }]\n}",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-host-context-global-names",
    family: "host",
    name: "the names on the context global",
    code:
      "return [{ json: { names: Object.getOwnPropertyNames(this), viaGlobal: Object.getOwnPropertyNames(globalThis) } }]",
    expected: "runtime",
    runtime: "contained"
  },
  {
    id: "js-attack-host-host-typedarray-prototype",
    family: "host",
    name: "host TypedArray prototype through Buffer",
    code:
      "const T = Object.getPrototypeOf(Object.getPrototypeOf(Buffer.prototype))\nT.polluted = 'yes'\nreturn [{ json: { seen: Buffer.from('a').polluted ?? null } }]",
    expected: "runtime",
    runtime: "contained"
  },
  {
    id: "js-attack-host-host-typedarray-getter-hook",
    family: "host",
    name: "host TypedArray length getter hooking the runner's buffers",
    code:
      "const T = Object.getPrototypeOf(Object.getPrototypeOf(Buffer.prototype))\nconst get = Object.getOwnPropertyDescriptor(T, 'length').get\nconst seen = []\nObject.defineProperty(T, 'length', {\n  get() {\n    const n = get.call(this)\n    if (seen.length < 20) seen.push(n)\n    return n\n  },\n  configurable: true\n})\nconsole.log('hooked')\nreturn [{ json: { seen } }]",
    expected: "runtime",
    runtime: "contained"
  },
  // Modules, more routes.
  {
    id: "js-attack-modules-require-process",
    family: "modules",
    name: "require process",
    code: "return [{ json: { s: require('process').env['{{SECRET_ENV}}'] } }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-modules-import-data-url",
    family: "modules",
    name: "dynamic import of a data URL",
    code: "const m = await import('data:text/javascript,export default 1')\nreturn [{ json: { v: m.default } }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-modules-fork-bomb",
    family: "modules",
    name: "fork bomb through child_process",
    code: "const cp = require('child_process')\nfor (let i = 0; i < 100; i++) cp.fork('x')\nreturn []",
    expected: "security",
    runtime: "blocked"
  },
  // Secrets: the runner's environment.
  {
    id: "js-attack-secrets-process-env-by-name",
    family: "secrets",
    name: "process.env by name",
    code: "return [{ json: { s: process.env['{{SECRET_ENV}}'] } }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-secrets-env-through-concatenated-global",
    family: "secrets",
    name: "env through a concatenated global",
    code: "const p = globalThis['pro' + 'cess']\nreturn [{ json: { s: p.env['{{SECRET_ENV}}'] } }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-secrets-env-through-join-built-global",
    family: "secrets",
    name: "env through a join-built global",
    code:
      "const p = globalThis[['pro', 'cess'].join('')]\nreturn [{ json: { s: p?.env?.['{{SECRET_ENV}}'] ?? null } }]",
    expected: "runtime",
    runtime: "contained"
  },
  {
    id: "js-attack-secrets-dollar-env",
    family: "secrets",
    name: "$env by name",
    code: "return [{ json: { s: typeof $env === 'undefined' ? null : $env['{{SECRET_ENV}}'] ?? null } }]",
    expected: "runtime",
    runtime: "contained"
  },
  {
    id: "js-attack-secrets-proc-self-environ",
    family: "secrets",
    name: "/proc/self/environ",
    code: "return [{ json: { s: require('fs').readFileSync('/proc/self/environ', 'utf8') } }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-secrets-proc-ppid-environ",
    family: "secrets",
    name: "/proc/<ppid>/environ through getBuiltinModule",
    code:
      "const p = globalThis['pro' + 'cess']\nconst fs = p.getBuiltinModule('fs')\nreturn [{ json: { s: fs.readFileSync('/proc/' + p.ppid + '/environ', 'utf8') } }]",
    expected: "security",
    runtime: "blocked"
  },
  // Secrets: a file of the runner's, by every route.
  {
    id: "js-attack-secrets-canary-require-fs",
    family: "secrets",
    name: "canary file through require fs",
    code: "return [{ json: { s: require('fs').readFileSync('{{CANARY_FILE}}', 'utf8') } }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-secrets-canary-fs-promises",
    family: "secrets",
    name: "canary file through node:fs/promises",
    code:
      "const { readFile } = require('node:fs/promises')\nreturn [{ json: { s: await readFile('{{CANARY_FILE}}', 'utf8') } }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-secrets-canary-process-binding",
    family: "secrets",
    name: "canary file through process.binding",
    code: "const fs = process.binding('fs')\nreturn [{ json: { s: String(fs.open('{{CANARY_FILE}}', 0, 0)) } }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-secrets-canary-dynamic-import",
    family: "secrets",
    name: "canary file through import fs",
    code: "const fs = await import('fs')\nreturn [{ json: { s: fs.readFileSync('{{CANARY_FILE}}', 'utf8') } }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-secrets-canary-fetch-file-url",
    family: "secrets",
    name: "canary file through fetch of a file URL",
    code: "const r = await fetch('file://{{CANARY_FILE}}')\nreturn [{ json: { s: await r.text() } }]",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "js-attack-secrets-canary-require-path",
    family: "secrets",
    name: "canary file through require by path",
    code: "return [{ json: { s: require('{{CANARY_FILE}}') } }]",
    expected: "security",
    runtime: "blocked"
  },
  // Network from the child.
  {
    id: "js-attack-network-fetch",
    family: "network",
    name: "fetch to the listener",
    code: "const r = await fetch('http://127.0.0.1:{{PORT}}/')\nreturn [{ json: { status: r.status } }]",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "js-attack-network-fetch-metadata",
    family: "network",
    name: "fetch to a metadata endpoint",
    code: "const r = await fetch('http://169.254.169.254/latest/meta-data/')\nreturn [{ json: { s: await r.text() } }]",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "js-attack-network-net-connect",
    family: "network",
    name: "net.connect",
    code:
      "const net = require('net')\nawait new Promise((resolve, reject) => {\n  const s = net.connect({ port: Number('{{PORT}}'), host: '127.0.0.1' }, resolve)\n  s.on('error', reject)\n})\nreturn []",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-network-http-get",
    family: "network",
    name: "http.get",
    code:
      "const http = require('node:http')\nawait new Promise((resolve, reject) => http.get('http://127.0.0.1:{{PORT}}/', resolve).on('error', reject))\nreturn []",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-network-websocket",
    family: "network",
    name: "WebSocket global",
    code:
      "const ws = new WebSocket('ws://127.0.0.1:{{PORT}}/')\nawait new Promise((resolve, reject) => {\n  ws.onopen = resolve\n  ws.onerror = reject\n})\nreturn []",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "js-attack-network-import-node-net",
    family: "network",
    name: "dynamic import of node:net",
    code:
      "const { connect } = await import('node:net')\nconnect({ port: Number('{{PORT}}'), host: '127.0.0.1' })\nreturn []",
    expected: "security",
    runtime: "blocked"
  },
  // Error machinery.
  {
    id: "js-attack-errors-replaced-error-global",
    family: "errors",
    name: "prepareStackTrace on a replaced Error global",
    code:
      "const E = Error\nglobalThis.Error = {\n  prepareStackTrace: (e, frames) =>\n    frames.map((f) => [f.getFileName(), f.getFunctionName(), typeof f.getThis(), typeof f.getFunction()].join(' '))\n}\nconst seen = []\nconsole.log({ toJSON() { seen.push(...new E('x').stack); return 1 } })\nreturn [{ json: { seen } }]",
    // Refused by the analyser (a literal key `prepareStackTrace`); at run time the context's
    // \`Error\` binding cannot be replaced, so no hook is installed.
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-errors-capture-stack-trace-in-host-callback",
    family: "errors",
    name: "captureStackTrace inside a host callback",
    code:
      "let s = ''\nconsole.log({ toJSON() { const o = {}; Error.captureStackTrace(o); s = o.stack; return 1 } })\nreturn [{ json: { s } }]",
    expected: "security",
    runtime: "contained"
  },
  {
    id: "js-attack-errors-host-error-stack",
    family: "errors",
    name: "stack of a host error",
    code: "try {\n  Buffer.alloc(-1)\n} catch (e) {\n  return [{ json: { s: String(e.stack) } }]\n}",
    expected: "runtime",
    runtime: "contained"
  },
  {
    id: "js-attack-errors-thrown-proxy",
    family: "errors",
    name: "thrown Proxy whose traps throw",
    code:
      "const trap = () => {\n  throw new Error('trap')\n}\nthrow new Proxy({}, { get: trap, has: trap, ownKeys: trap, getPrototypeOf: trap, getOwnPropertyDescriptor: trap })",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "js-attack-errors-thrown-symbol-to-primitive",
    family: "errors",
    name: "thrown value with Symbol.toPrimitive",
    code: "throw { [Symbol.toPrimitive]() { for (;;) {} }, message: { [Symbol.toPrimitive]() { for (;;) {} } } }",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "js-attack-errors-thrown-getter-throws",
    family: "errors",
    name: "thrown error whose message getter throws",
    code:
      "const e = new Error('x')\nObject.defineProperty(e, 'message', { get() { throw new Error('again') } })\nthrow e",
    expected: "runtime",
    runtime: "blocked"
  },
  // Prototype pollution through the result.
  {
    id: "js-attack-prototype-returned-proto-keys",
    family: "prototype",
    name: "returned __proto__ and constructor keys",
    code:
      "return [{ json: JSON.parse('{\"__proto__\": {\"polluted\": \"yes\"}, \"constructor\": {\"prototype\": {\"polluted\": \"yes\"}}}') }]",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "js-attack-prototype-computed-proto-key",
    family: "prototype",
    name: "computed __proto__ key",
    code: "return [{ json: { ['__proto__']: { polluted: 'yes' } } }]",
    expected: "security",
    runtime: "blocked"
  },
  {
    id: "js-attack-prototype-object-prototype-in-task",
    family: "prototype",
    name: "Object.prototype in the task's realm",
    code:
      "Object.prototype.polluted = 'yes'\nArray.prototype.push = () => 0\nreturn [{ json: { seen: ({}).polluted } }]",
    expected: "runtime",
    runtime: "contained"
  },
  // Values that fire while the result is serialised.
  {
    id: "js-attack-result-getter-throws",
    family: "result",
    name: "getter that throws during serialisation",
    code: "return [{ json: { get x() { throw new Error('from a getter') } } }]",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "js-attack-result-recursive-proxy",
    family: "result",
    name: "Proxy that nests itself forever",
    code:
      "const p = new Proxy({}, {\n  ownKeys: () => ['x'],\n  getOwnPropertyDescriptor: () => ({ value: 1, enumerable: true, configurable: true }),\n  get: () => p\n})\nreturn [{ json: p }]",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "js-attack-result-symbols",
    family: "result",
    name: "Symbols in the result",
    code: "return [{ json: { [Symbol('k')]: 1, v: Symbol('v'), [Symbol.toPrimitive]: () => { for (;;) {} } } }]",
    expected: "runtime",
    runtime: "contained"
  },
  {
    id: "js-attack-result-tojson-host-object",
    family: "result",
    name: "toJSON returning a host object",
    code: "return [{ json: { toJSON: () => Buffer.from('host') } }]",
    expected: "runtime",
    runtime: "contained"
  },
  {
    id: "js-attack-result-deep",
    family: "result",
    name: "deeply nested result",
    code: "let v = []\nfor (let i = 0; i < 100000; i++) v = [v]\nreturn v",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "js-attack-result-huge",
    family: "result",
    name: "huge result",
    code: "const s = 'x'.repeat(1 << 20)\nreturn Array.from({ length: 4096 }, () => ({ json: { s } }))",
    expected: "runtime",
    runtime: "oom"
  },
  // Work that outlives the task or its deadline.
  {
    id: "js-attack-deadline-interval-after-return",
    family: "deadline",
    name: "setInterval after the task returned",
    code: "setInterval(() => console.log('tick'), 1)\nreturn []",
    expected: "runtime",
    runtime: "contained"
  },
  {
    id: "js-attack-deadline-interval-keeps-task-alive",
    family: "deadline",
    name: "setInterval that keeps the task alive",
    code: "await new Promise(() => setInterval(() => {}, 5))",
    expected: "runtime",
    runtime: "timeout"
  },
  {
    id: "js-attack-deadline-awaited-microtask-loop",
    family: "deadline",
    name: "awaited microtask loop",
    code: "await (async () => {\n  for (;;) await null\n})()",
    expected: "runtime",
    runtime: "timeout"
  },
  {
    id: "js-attack-deadline-detached-microtask-loop",
    family: "deadline",
    name: "detached microtask loop",
    code: "const spin = () => Promise.resolve().then(spin)\nspin()\nreturn []",
    expected: "runtime",
    runtime: "contained"
  },
  {
    id: "js-attack-deadline-unhandled-rejections",
    family: "deadline",
    name: "unhandled rejections",
    code:
      "Promise.reject(new Error('now'))\nsetTimeout(() => Promise.reject({ get message() { for (;;) {} } }), 0)\nreturn []",
    expected: "runtime",
    runtime: "contained"
  },
  {
    id: "js-attack-deadline-timer-throws-after-return",
    family: "deadline",
    name: "timer that throws after the task returned",
    code: "setTimeout(() => {\n  throw new Error('late')\n}, 0)\nreturn []",
    expected: "runtime",
    runtime: "contained"
  },
  {
    id: "js-attack-deadline-getter-loops-in-serialisation",
    family: "deadline",
    name: "getter that loops during serialisation",
    code: "return [{ json: { get x() { for (;;) {} } } }]",
    expected: "runtime",
    runtime: "timeout"
  },
  {
    id: "js-attack-deadline-tojson-loops-in-serialisation",
    family: "deadline",
    name: "toJSON that loops during serialisation",
    code: "return [{ json: { toJSON() { for (;;) {} } } }]",
    expected: "runtime",
    runtime: "timeout"
  },
  {
    id: "js-attack-deadline-thrown-tojson-loops",
    family: "deadline",
    name: "thrown value whose toJSON loops",
    code: "throw { toJSON() { for (;;) {} } }",
    expected: "runtime",
    runtime: "timeout"
  },
  {
    id: "js-attack-deadline-console-getter-loops",
    family: "deadline",
    name: "logged value whose getter loops",
    code: "console.log({ get x() { for (;;) {} } })\nreturn []",
    expected: "runtime",
    runtime: "timeout"
  },
  // Resource exhaustion, more kinds.
  {
    id: "js-attack-resources-atomics-wait",
    family: "resources",
    name: "SharedArrayBuffer and Atomics.wait",
    code: "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)\nreturn []",
    expected: "runtime",
    runtime: "timeout"
  },
  {
    id: "js-attack-resources-buffer-bomb",
    family: "resources",
    name: "Buffer bomb",
    code: "const a = []\nwhile (true) a.push(Buffer.alloc(256 * 1024 * 1024))",
    expected: "runtime",
    runtime: "oom"
  },
  {
    id: "js-attack-resources-arraybuffer-bomb",
    family: "resources",
    name: "ArrayBuffer bomb",
    code: "const a = []\nwhile (true) a.push(new ArrayBuffer(256 * 1024 * 1024))",
    expected: "runtime",
    runtime: "oom"
  },
  {
    id: "js-attack-resources-string-doubling",
    family: "resources",
    name: "string doubling",
    code: "let s = 'x'\nwhile (true) s += s",
    expected: "runtime",
    runtime: "oom"
  },
  {
    id: "js-attack-resources-deep-recursion",
    family: "resources",
    name: "deep recursion",
    code: "const f = (n) => f(n + 1) + 1\nreturn [{ json: { v: f(0) } }]",
    expected: "runtime",
    runtime: "blocked"
  },
  {
    id: "js-attack-resources-console-flood",
    family: "resources",
    name: "console flood",
    code: "for (let i = 0; i < 1000000; i++) console.log('flood', i)\nreturn []",
    expected: "runtime",
    runtime: "capped"
  },
  {
    id: "js-attack-resources-log-volume",
    family: "resources",
    name: "huge log volume",
    code: "const line = 'y'.repeat(1000000)\nfor (let i = 0; i < 100; i++) console.log(line)\nreturn []",
    expected: "runtime",
    runtime: "capped"
  },
  {
    id: "js-attack-resources-timer-flood",
    family: "resources",
    name: "timer flood",
    code:
      "for (let i = 0; i < 100000; i++) setTimeout(() => console.log(i), 10)\nawait new Promise((r) => setTimeout(r, 200))\nreturn []",
    expected: "runtime",
    runtime: "capped"
  },
  // Attacks on the analyser itself.
  {
    id: "js-attack-analyser-deep-blocks",
    family: "analyser",
    name: "deep blocks",
    code: `${"{".repeat(20_000)}${"}".repeat(20_000)}\nreturn []`,
    expected: "failed",
    runtime: "blocked"
  }
]
