/**
 * What JavaScript the analyser lets through. Defaults follow n8n's runner: no modules unless
 * allow-listed (`NODE_FUNCTION_ALLOW_BUILTIN`, `NODE_FUNCTION_ALLOW_EXTERNAL`; `*` = all of that
 * kind), plus our deny lists of host-reaching globals and engine-reaching members.
 */
export interface JsPolicy {
  /** Built-in modules `require` may load: `"*"` or names (a `node:` prefix is ignored). */
  readonly allowBuiltin: "*" | ReadonlyArray<string>
  /** External packages `require` may load: `"*"` or package names (their subpaths included). */
  readonly allowExternal: "*" | ReadonlyArray<string>
  /** Globals that reach the host. Referencing one that the code did not declare itself is refused. */
  readonly deniedGlobals: ReadonlyArray<string>
  /** Property names that reach engine internals, refused however they are accessed. */
  readonly blockedMembers: ReadonlyArray<string>
  /** Larger code is refused without parsing (UTF-16 code units). */
  readonly maxCodeLength: number
}

/** Globals refused by default. `globalThis`, `global` and `self` are refused when used to reach these. */
export const defaultDeniedGlobals: ReadonlyArray<string> = [
  "process",
  "eval",
  "Function",
  "module",
  "exports",
  "__dirname",
  "__filename",
  "WebAssembly"
]

/** Members refused by default, with the reason each one is dangerous. */
export const blockedMemberReasons: Readonly<Record<string, string>> = {
  constructor: "it can be used to reach the Function constructor",
  // Computed: a plain `__proto__:` key would set this object's prototype instead of adding a key.
  ["__proto__"]: "it can be used to change prototypes",
  __defineGetter__: "it can be used to tamper with built-in objects",
  __defineSetter__: "it can be used to tamper with built-in objects",
  __lookupGetter__: "it can be used to reach internal functions",
  __lookupSetter__: "it can be used to reach internal functions",
  caller: "it can be used to reach the calling function",
  callee: "it can be used to reach the calling function",
  prepareStackTrace: "it can be used to reach host objects through stack traces",
  captureStackTrace: "it can be used to reach host objects through stack traces",
  unscopables: "it can be used to tamper with scope lookups"
}

/** The default policy: no modules, the default deny lists, code up to 1 MiB. */
export const defaultJsPolicy: JsPolicy = {
  allowBuiltin: [],
  allowExternal: [],
  deniedGlobals: defaultDeniedGlobals,
  blockedMembers: Object.keys(blockedMemberReasons),
  maxCodeLength: 1024 * 1024
}

/**
 * Reads an allow-list variable as n8n does: empty means none, `*` means all, otherwise a comma
 * list (whitespace trimmed, empty entries dropped).
 */
export const parseAllowList = (value: string | undefined): "*" | ReadonlyArray<string> => {
  const entries = (value ?? "").split(",").map((entry) => entry.trim()).filter((entry) => entry !== "")
  return entries.includes("*") ? "*" : entries
}

/** A stable string identifying everything in the policy that changes a verdict. */
export const policyFingerprint = (policy: JsPolicy): string =>
  JSON.stringify([
    policy.allowBuiltin === "*" ? "*" : [...policy.allowBuiltin].sort(),
    policy.allowExternal === "*" ? "*" : [...policy.allowExternal].sort(),
    [...policy.deniedGlobals].sort(),
    [...policy.blockedMembers].sort(),
    policy.maxCodeLength
  ])
