import { AnalysisFailed, CodeSyntaxError, SecurityViolation, userLine, wrapJavaScript } from "@taskrunner/protocol"
import type { Finding } from "@taskrunner/protocol"
import { parseScript, tokenize } from "esprima-next"
import { isBuiltin } from "node:module"
import { Script } from "node:vm"
import type { DataNeeds } from "./DataNeeds.js"
import { allDataNeeds } from "./DataNeeds.js"
import { constant, fold } from "./internal/fold.js"
import { blockNames, isNode, patternNames, Scope, varNames } from "./internal/scope.js"
import type { Node } from "./internal/scope.js"
import type { JsPolicy } from "./JsPolicy.js"
import { blockedMemberReasons, defaultJsPolicy } from "./JsPolicy.js"

/** The analyser's answer for one snippet. */
export type JsVerdict =
  | { readonly _tag: "Accepted"; readonly dataNeeds: DataNeeds }
  | { readonly _tag: "Rejected"; readonly error: CodeSyntaxError | SecurityViolation | AnalysisFailed }

const globalObjects = new Set(["globalThis", "global", "self", "window"])
/** Calls that read or define a property named by a string argument. */
const reflectiveReads: Readonly<Record<string, ReadonlySet<string>>> = {
  Reflect: new Set(["get", "set", "getOwnPropertyDescriptor", "defineProperty", "has", "apply", "construct"]),
  Object: new Set(["getOwnPropertyDescriptor", "defineProperty", "defineProperties"])
}
/** Accesses on `$("Node")` that make n8n's runner fetch every node (paired-item lookups). */
const escalatingAccessors = new Set(["item", "pairedItem", "itemMatching"])

const globalReasons: Readonly<Record<string, string>> = {
  process: "it reaches the runner process",
  eval: "it compiles code from strings",
  Function: "it compiles code from strings",
  module: "it reaches the runner's module system",
  exports: "it reaches the runner's module system",
  __dirname: "it reveals the runner's files",
  __filename: "it reveals the runner's files",
  WebAssembly: "it compiles and runs native code"
}

interface Position {
  readonly loc: { readonly start: { readonly line: number; readonly column: number } }
}

type Parent = { readonly node: Node; readonly key: string } | undefined

class Walker {
  readonly findings: Array<Finding> = []
  private readonly nodes = new Set<string>()
  private everything = false
  private input = false
  private prevNode = false
  private env = false
  private readonly denied: ReadonlySet<string>
  private readonly blocked: ReadonlySet<string>

  constructor(private readonly policy: JsPolicy) {
    this.denied = new Set(policy.deniedGlobals)
    this.blocked = new Set(policy.blockedMembers)
  }

  get dataNeeds(): DataNeeds {
    if (this.everything) return { dataOfNodes: "all", prevNode: true, input: true, env: this.env }
    return { dataOfNodes: [...this.nodes], prevNode: this.prevNode, input: this.input, env: this.env }
  }

  private report(at: unknown, rule: string, message: string) {
    const start = (at as Position).loc.start
    this.findings.push({ line: userLine(start.line), column: start.column + 1, rule, message })
  }

  /** The wrapper function: its body is the user's code. */
  walkWrapper(wrapper: Node) {
    this.visitFunction(wrapper, new Scope(undefined))
  }

  private visitAll(value: unknown, scope: Scope, parent: Parent) {
    if (Array.isArray(value)) {
      for (const item of value) this.visit(item, scope, parent)
    } else {
      this.visit(value, scope, parent)
    }
  }

  /** Visits every child node generically (for node types without special meaning). */
  private visitChildren(node: Node, scope: Scope) {
    for (const key in node) {
      if (key === "loc" || key === "range" || key === "type") continue
      const value = node[key]
      if (Array.isArray(value)) {
        for (const item of value) this.visit(item, scope, { node, key })
      } else if (isNode(value)) {
        this.visit(value, scope, { node, key })
      }
    }
  }

  visit(node: unknown, scope: Scope, parent: Parent): void {
    if (!isNode(node)) return
    switch (node.type) {
      case "FunctionDeclaration":
      case "FunctionExpression":
      case "ArrowFunctionExpression":
        return this.visitFunction(node, scope)
      case "BlockStatement":
      case "StaticBlock": {
        const body = node["body"] as Array<Node>
        const inner = new Scope(scope)
        for (const name of blockNames(body)) inner.names.add(name)
        if (node.type === "StaticBlock") { for (const name of varNames(body)) inner.names.add(name) }
        return this.visitAll(body, inner, { node, key: "body" })
      }
      case "ForStatement":
      case "ForInStatement":
      case "ForOfStatement": {
        const head = node.type === "ForStatement" ? node["init"] : node["left"]
        const inner = new Scope(scope)
        if (isNode(head) && head.type === "VariableDeclaration") {
          for (const name of blockNames([head])) inner.names.add(name)
        }
        return this.visitChildren(node, inner)
      }
      case "SwitchStatement": {
        this.visit(node["discriminant"], scope, { node, key: "discriminant" })
        const cases = node["cases"] as Array<Node>
        const inner = new Scope(scope)
        for (const name of blockNames(cases.flatMap((c) => c["consequent"] as Array<Node>))) inner.names.add(name)
        return this.visitAll(cases, inner, { node, key: "cases" })
      }
      case "CatchClause": {
        const inner = new Scope(scope)
        for (const name of patternNames(node["param"])) inner.names.add(name)
        this.visitPattern(node["param"], inner, false, undefined)
        return this.visit(node["body"], inner, { node, key: "body" })
      }
      case "ClassDeclaration":
      case "ClassExpression":
        return this.visitClass(node, scope)
      case "VariableDeclaration": {
        for (const declarator of node["declarations"] as Array<Node>) {
          const init = declarator["init"]
          this.visitPattern(declarator["id"], scope, false, this.globalObjectName(init, scope))
          this.visit(init, scope, { node: declarator, key: "init" })
        }
        return
      }
      case "AssignmentExpression": {
        const left = node["left"] as Node
        if (left.type === "ObjectPattern" || left.type === "ArrayPattern") {
          this.visitPattern(left, scope, true, this.globalObjectName(node["right"], scope))
        } else {
          this.visit(left, scope, { node, key: "left" })
        }
        return this.visit(node["right"], scope, { node, key: "right" })
      }
      case "Identifier":
        return this.reference(node, scope, parent)
      case "MemberExpression":
        return this.visitMember(node, scope)
      case "CallExpression":
      case "NewExpression":
        return this.visitCall(node, scope, parent)
      case "ImportExpression": {
        this.checkModule(node["source"], node)
        return this.visitChildren(node, scope)
      }
      case "MetaProperty": {
        const meta = node["meta"] as Node
        if (meta["name"] === "import") {
          this.report(node, "import-meta", "import.meta is disallowed, because Code nodes are not modules.")
        }
        return
      }
      case "WithStatement":
        this.report(
          node,
          "with",
          "'with' statements are disallowed, because they can be used to bypass security restrictions."
        )
        return this.visitChildren(node, scope)
      case "ObjectExpression":
        return this.visitObject(node, scope)
      case "LabeledStatement":
        return this.visit(node["body"], scope, { node, key: "body" })
      case "BreakStatement":
      case "ContinueStatement":
        return
      case "ImportDeclaration":
        this.report(node, "static-import", staticImportMessage)
        return
      default:
        return this.visitChildren(node, scope)
    }
  }

  private visitFunction(node: Node, outer: Scope) {
    const scope = new Scope(outer)
    if (node.type === "FunctionExpression" && isNode(node["id"])) scope.names.add(node["id"]["name"] as string)
    if (node.type !== "ArrowFunctionExpression") scope.names.add("arguments")
    const params = node["params"] as Array<Node>
    for (const param of params) for (const name of patternNames(param)) scope.names.add(name)
    const body = node["body"] as Node
    if (body.type === "BlockStatement") {
      const statements = body["body"] as Array<Node>
      for (const name of varNames(statements)) scope.names.add(name)
      for (const name of blockNames(statements)) scope.names.add(name)
    }
    for (const param of params) this.visitPattern(param, scope, false, undefined)
    if (body.type === "BlockStatement") this.visitAll(body["body"], scope, { node: body, key: "body" })
    else this.visit(body, scope, { node, key: "body" })
  }

  private visitClass(node: Node, outer: Scope) {
    const scope = new Scope(outer)
    if (isNode(node["id"])) scope.names.add(node["id"]["name"] as string)
    this.visit(node["superClass"], scope, { node, key: "superClass" })
    for (const element of (node["body"] as Node)["body"] as Array<Node>) {
      // Method and field names are definitions, not accesses: `constructor() {}` is fine.
      if (element["computed"] === true) this.visit(element["key"], scope, { node: element, key: "key" })
      if (element.type === "StaticBlock") this.visit(element, scope, undefined)
      else this.visit(element["value"], scope, { node: element, key: "value" })
      if (Array.isArray(element["decorators"])) this.visitAll(element["decorators"], scope, undefined)
    }
  }

  private visitObject(node: Node, scope: Scope) {
    for (const property of node["properties"] as Array<Node>) {
      if (property.type !== "Property") {
        this.visit(property, scope, { node, key: "properties" })
        continue
      }
      const key = property["key"] as Node
      if (property["computed"] === true) this.visit(key, scope, { node: property, key: "key" })
      // A user key named `constructor` is fine; these are not, however written: `{__proto__: x}`
      // sets the literal's prototype (and a computed one makes a key every JSON reader refuses),
      // and an object with a `prepareStackTrace` put in `Error`'s place is a stack-trace hook.
      const names = property["computed"] === true ? fold(key)?.values ?? [] : [propertyName(key)]
      const sets = property["shorthand"] !== true
      for (const name of names) {
        if (sets && name !== undefined && literalKeysRefused.has(name) && this.blocked.has(name)) {
          this.report(key, "blocked-member", memberMessage(name))
        }
      }
      this.visit(property["value"], scope, { node: property, key: "value" })
    }
  }

  /**
   * A binding or assignment pattern. Destructuring reads members of its source, so its keys are
   * checked like member accesses (`const {constructor} = x`); `fromGlobal` names the global
   * object being destructured (`const {process} = globalThis`).
   */
  private visitPattern(pattern: unknown, scope: Scope, assigning: boolean, fromGlobal: string | undefined): void {
    if (!isNode(pattern)) return
    switch (pattern.type) {
      case "Identifier":
        if (assigning) this.reference(pattern, scope, undefined)
        return
      case "ObjectPattern":
        for (const property of pattern["properties"] as Array<Node>) {
          if (property.type === "RestElement") {
            this.visitPattern(property["argument"], scope, assigning, undefined)
            continue
          }
          const key = property["key"] as Node
          const names = property["computed"] === true ? fold(key)?.values ?? [] : [propertyName(key)]
          if (property["computed"] === true) this.visit(key, scope, { node: property, key: "key" })
          for (const name of names) {
            if (name === undefined) continue
            this.checkMemberName(name, key)
            if (fromGlobal !== undefined) this.checkGlobalReach(fromGlobal, name, key)
          }
          this.visitPattern(property["value"], scope, assigning, undefined)
        }
        return
      case "ArrayPattern":
        for (const element of pattern["elements"] as Array<Node | null>) {
          this.visitPattern(element, scope, assigning, undefined)
        }
        return
      case "RestElement":
        return this.visitPattern(pattern["argument"], scope, assigning, undefined)
      case "AssignmentPattern":
        this.visitPattern(pattern["left"], scope, assigning, fromGlobal)
        return this.visit(pattern["right"], scope, { node: pattern, key: "right" })
      default:
        // A member expression as an assignment target (`[a.b] = list`).
        return this.visit(pattern, scope, undefined)
    }
  }

  /** The name of the global object an expression is, if it is one (`globalThis`, not shadowed). */
  private globalObjectName(node: unknown, scope: Scope): string | undefined {
    if (!isNode(node) || node.type !== "Identifier") return undefined
    const name = node["name"] as string
    return globalObjects.has(name) && !scope.declares(name) ? name : undefined
  }

  private reference(node: Node, scope: Scope, parent: Parent) {
    const name = node["name"] as string
    if (scope.declares(name)) return
    switch (name) {
      case "$env":
        this.env = true
        break
      case "$input":
      case "$json":
      case "$binary":
      case "items":
      case "item":
        this.input = true
        break
      case "$prevNode":
        this.prevNode = true
        break
      case "$item":
      case "$node":
        this.everything = true
        break
    }
    const isTypeof = parent?.node.type === "UnaryExpression" && parent.node["operator"] === "typeof"
    if (name === "require") {
      const called = (parent?.node.type === "CallExpression" || parent?.node.type === "NewExpression") &&
        parent.key === "callee"
      if (!called && !isTypeof) {
        this.report(
          node,
          "require",
          "'require' can only be called directly with a module name, e.g. require(\"crypto\")."
        )
      }
      return
    }
    if (!this.denied.has(name) || isTypeof) return
    const isInstanceofTarget = name === "Function" && parent?.node.type === "BinaryExpression" &&
      parent.node["operator"] === "instanceof" && parent.key === "right"
    if (isInstanceofTarget) return
    this.report(
      node,
      "denied-global",
      `Access to '${name}' is disallowed, because ${globalReasons[name] ?? "it reaches the host"}.`
    )
  }

  private visitMember(node: Node, scope: Scope) {
    const object = node["object"] as Node
    const property = node["property"] as Node
    this.visit(object, scope, { node, key: "object" })
    let names: ReadonlyArray<string>
    if (node["computed"] === true) {
      this.visit(property, scope, { node, key: "property" })
      names = fold(property)?.values ?? []
    } else {
      names = property.type === "Identifier" ? [property["name"] as string] : []
    }
    const globalObject = this.globalObjectName(object, scope)
    for (const name of names) {
      this.checkMemberName(name, property)
      if (globalObject !== undefined) this.checkGlobalReach(globalObject, name, property)
    }
  }

  private checkMemberName(name: string, at: unknown) {
    if (this.blocked.has(name)) this.report(at, "blocked-member", memberMessage(name))
  }

  private checkGlobalReach(globalObject: string, name: string, at: unknown) {
    if (this.denied.has(name) || name === "require") {
      this.report(
        at,
        "denied-global",
        `Access to '${name}' through '${globalObject}' is disallowed, because ${
          globalReasons[name] ?? "it reaches the host"
        }.`
      )
    }
  }

  private visitCall(node: Node, scope: Scope, parent: Parent) {
    const callee = node["callee"] as Node
    const args = node["arguments"] as Array<Node>
    if (callee.type === "Identifier" && !scope.declares(callee["name"] as string)) {
      const name = callee["name"] as string
      if (name === "require") {
        if (args.length === 0) this.report(node, "module", dynamicModuleMessage)
        else this.checkModule(args[0], node)
      } else if (name === "$" && node.type === "CallExpression") {
        this.nodeLookup(args, parent)
      } else if (name === "$items" && node.type === "CallExpression") {
        if (args.length === 0) this.input = true
        else {
          const nodeName = constant(args[0])
          if (nodeName === undefined) this.everything = true
          else this.nodes.add(nodeName)
        }
      }
    }
    if (callee.type === "MemberExpression" && callee["computed"] !== true) {
      // Reflect.get(x, "constructor") and friends name the member in a string argument.
      const owner = callee["object"] as Node
      const ownerName = owner.type === "Identifier" ? (owner["name"] as string) : undefined
      const method = (callee["property"] as Node)["name"] as string
      if (ownerName !== undefined && !scope.declares(ownerName) && reflectiveReads[ownerName]?.has(method) === true) {
        for (const arg of args) {
          for (const value of fold(arg)?.values ?? []) {
            if (this.blocked.has(value)) {
              this.report(
                arg,
                "blocked-member",
                `${memberMessage(value).slice(0, -1)} (through ${ownerName}.${method}).`
              )
            }
          }
        }
      }
    }
    this.visit(callee, scope, { node, key: "callee" })
    this.visitAll(args, scope, { node, key: "arguments" })
  }

  /** `$("Name")`: n8n's runner fetches only that node unless the lookup needs paired items. */
  private nodeLookup(args: ReadonlyArray<Node>, parent: Parent) {
    const nodeName = constant(args[0])
    if (nodeName === undefined) {
      this.everything = true
      return
    }
    const member = parent?.node.type === "MemberExpression" && parent.key === "object" ? parent.node : undefined
    if (member === undefined) {
      // Stored, passed along or called: the runner cannot tell which items it will need.
      this.everything = true
      return
    }
    const property = member["property"] as Node
    const accessed = member["computed"] === true ? constant(property) : (property["name"] as string | undefined)
    if (accessed === undefined || escalatingAccessors.has(accessed)) this.everything = true
    else this.nodes.add(nodeName)
  }

  private checkModule(source: unknown, at: unknown) {
    const name = constant(source)
    if (name === undefined) {
      this.report(at, "module", dynamicModuleMessage)
      return
    }
    if (
      name.startsWith(".") || name.startsWith("/") || name.includes("\\") ||
      /^[a-z][\w+.-]*:/i.test(name) && !name.startsWith("node:")
    ) {
      this.report(
        at,
        "module",
        `Loading '${name}' is disallowed: only modules can be required by name, not files or URLs.`
      )
      return
    }
    const builtin = isBuiltin(name)
    const bare = name.startsWith("node:") ? name.slice("node:".length) : name
    const allowed = builtin ? this.policy.allowBuiltin : this.policy.allowExternal
    if (allowed === "*") return
    const normalised = allowed.map((entry) => (entry.startsWith("node:") ? entry.slice("node:".length) : entry))
    const root = builtin ? bare.split("/")[0]! : packageRoot(bare)
    if (normalised.includes(bare) || normalised.includes(root)) return
    const kind = builtin ? "built-in" : "external"
    const list = normalised.length === 0 ? "none" : [...normalised].sort().join(", ")
    this.report(at, "module", `Module '${name}' is disallowed. Allowed ${kind} modules: ${list}`)
  }
}

const packageRoot = (name: string): string => {
  const parts = name.split("/")
  return name.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!
}

/** Member names refused as keys of object literals too (see `visitObject`). */
const literalKeysRefused = new Set(["__proto__", "prepareStackTrace", "captureStackTrace"])

const propertyName = (key: Node): string | undefined =>
  key.type === "Identifier" ? (key["name"] as string) : key.type === "Literal" ? String(key["value"]) : undefined

const memberMessage = (name: string) =>
  `Access to member '${name}' is disallowed, because ${blockedMemberReasons[name] ?? "it reaches engine internals"}.`

const dynamicModuleMessage =
  "Modules must be named with a string literal, e.g. require(\"crypto\"); computed module names are disallowed."

const staticImportMessage =
  "Static import declarations are not supported in Code nodes; use const x = require(\"module\") instead."

interface EsprimaError {
  readonly lineNumber: number
  readonly column: number
  readonly description: string
}

const isEsprimaError = (error: unknown): error is EsprimaError =>
  typeof error === "object" && error !== null && typeof (error as { lineNumber?: unknown }).lineNumber === "number" &&
  typeof (error as { description?: unknown }).description === "string"

/** `import x from "y"` at the top level of the snippet (which cannot parse inside a function). */
const findStaticImports = (code: string): Array<Finding> => {
  let tokens: Array<{ type: string; value: string; loc?: { start: { line: number; column: number } } }>
  try {
    tokens = tokenize(code, { loc: true }) as typeof tokens
  } catch {
    return []
  }
  const findings: Array<Finding> = []
  let depth = 0
  tokens.forEach((token, i) => {
    if (token.type === "Punctuator") {
      if ("{([".includes(token.value)) depth++
      else if ("})]".includes(token.value)) depth--
      return
    }
    const before = tokens[i - 1]
    const after = tokens[i + 1]
    if (
      depth === 0 && token.type === "Keyword" && token.value === "import" && before?.value !== "." &&
      after?.value !== "(" && after?.value !== "." && token.loc !== undefined
    ) {
      findings.push({
        line: token.loc.start.line,
        column: token.loc.start.column + 1,
        rule: "static-import",
        message: staticImportMessage
      })
    }
  })
  return findings
}

const byPosition = (a: Finding, b: Finding) => a.line - b.line || a.column - b.column

const dedupe = (findings: ReadonlyArray<Finding>): Array<Finding> => {
  const seen = new Set<string>()
  return [...findings].sort(byPosition).filter((f) => {
    const key = `${f.line}:${f.column}:${f.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

type Parsed = { readonly _tag: "Parsed"; readonly wrapper: Node } | {
  readonly _tag: "Failed"
  readonly verdict: JsVerdict
}

const rejected = (error: CodeSyntaxError | SecurityViolation | AnalysisFailed): JsVerdict => ({
  _tag: "Rejected",
  error
})

const parse = (code: string, policy: JsPolicy): Parsed => {
  if (code.length > policy.maxCodeLength) {
    return {
      _tag: "Failed",
      verdict: rejected(
        new AnalysisFailed({
          message:
            `The code is ${code.length} characters long; the limit is ${policy.maxCodeLength}. Split it across several Code nodes.`
        })
      )
    }
  }
  let program: Node
  try {
    program = parseScript(wrapJavaScript(code), { loc: true, range: true }) as unknown as Node
  } catch (error) {
    if (error instanceof RangeError) {
      return {
        _tag: "Failed",
        verdict: rejected(new AnalysisFailed({ message: "The code is nested too deeply to be analysed." }))
      }
    }
    if (isEsprimaError(error)) {
      const imports = findStaticImports(code)
      if (imports.length > 0) return { _tag: "Failed", verdict: rejected(SecurityViolation.fromFindings(imports)) }
      // V8's wording where V8 refuses it too: that is what n8n's runner reports.
      const v8 = v8SyntaxError(code)
      if (v8 !== undefined) return { _tag: "Failed", verdict: rejected(v8) }
      return {
        _tag: "Failed",
        verdict: rejected(
          new CodeSyntaxError({
            message: error.description,
            lineNumber: userLine(error.lineNumber),
            column: error.column
          })
        )
      }
    }
    const detail = error instanceof Error ? error.message : String(error)
    return {
      _tag: "Failed",
      verdict: rejected(new AnalysisFailed({ message: `The code could not be analysed: ${detail}` }))
    }
  }
  const body = program["body"] as Array<Node & Position>
  const wrapper = body[0]
  if (body.length !== 1 || wrapper === undefined) {
    // The snippet closed the wrapper function early (`}; ...`): refuse it like the parser would.
    const end = (wrapper as unknown as { loc: { end: { line: number; column: number } } } | undefined)?.loc.end
    return {
      _tag: "Failed",
      verdict: rejected(
        new CodeSyntaxError({
          message: "Unexpected token '}'",
          ...(end === undefined ? {} : { lineNumber: userLine(end.line), column: end.column })
        })
      )
    }
  }
  const v8 = v8SyntaxError(code)
  if (v8 !== undefined) return { _tag: "Failed", verdict: rejected(v8) }
  return { _tag: "Parsed", wrapper }
}

/**
 * V8 runs the code, so V8 has the last word on syntax: the wrapped code is compiled (never run)
 * and anything V8 refuses is a syntax error, whatever esprima thought (e.g. esprima-next accepts
 * a private name like `#x` outside a class).
 */
const v8SyntaxError = (code: string): CodeSyntaxError | undefined => {
  try {
    // Shaped as n8n's runner compiles it (the wrapper called as an expression), so V8 words its
    // errors the same way (an unclosed brace is "Unexpected end of input", as there).
    // oxlint-disable-next-line no-new -- compiling is the check; the script is never run
    new Script(`void ${wrapJavaScript(code)}()`, { filename: "code.js" })
    return undefined
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const line = error instanceof Error ? /^code\.js:(\d+)/.exec(error.stack ?? "")?.[1] : undefined
    return new CodeSyntaxError({ message, ...(line === undefined ? {} : { lineNumber: userLine(Number(line)) }) })
  }
}

const walk = (wrapper: Node, policy: JsPolicy): Walker | AnalysisFailed => {
  const walker = new Walker(policy)
  try {
    walker.walkWrapper(wrapper)
    return walker
  } catch (error) {
    // Fail closed: whatever went wrong, the code does not run.
    return error instanceof RangeError
      ? new AnalysisFailed({ message: "The code is nested too deeply to be analysed." })
      : new AnalysisFailed({
        message: `The code could not be analysed: ${error instanceof Error ? error.message : String(error)}`
      })
  }
}

/**
 * Decides whether a Code-node snippet may run, and what data it needs. Fails closed: a syntax
 * error, oversize input, deep nesting or any analyser failure rejects the code. Never throws.
 */
export const analyzeJavaScript = (code: string, policy: JsPolicy = defaultJsPolicy): JsVerdict => {
  const parsed = parse(code, policy)
  if (parsed._tag === "Failed") return parsed.verdict
  const walked = walk(parsed.wrapper, policy)
  if (walked instanceof AnalysisFailed) return rejected(walked)
  if (walked.findings.length > 0) return rejected(SecurityViolation.fromFindings(dedupe(walked.findings)))
  return { _tag: "Accepted", dataNeeds: walked.dataNeeds }
}

/**
 * Only the data needs, without judging the code (for when analysis is switched off for tests).
 * Code that does not parse needs everything, as in n8n's runner.
 */
export const javaScriptDataNeeds = (code: string): DataNeeds => {
  const parsed = parse(code, { ...defaultJsPolicy, maxCodeLength: Number.POSITIVE_INFINITY })
  if (parsed._tag === "Failed") return allDataNeeds
  const walked = walk(parsed.wrapper, defaultJsPolicy)
  return walked instanceof AnalysisFailed ? allDataNeeds : walked.dataNeeds
}
