/**
 * Lexical scopes, so a name the user declared (`const process = ...`, `function item() {}`) is not
 * mistaken for the global of the same name.
 */

// esprima-next's ESTree nodes, read structurally.
export interface Node {
  readonly type: string
  readonly [key: string]: unknown
}

export class Scope {
  readonly names = new Set<string>()
  constructor(readonly parent: Scope | undefined) {}

  declares(name: string): boolean {
    return this.names.has(name) || (this.parent?.declares(name) ?? false)
  }
}

export const isNode = (value: unknown): value is Node =>
  typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string"

/** Names bound by a binding pattern (`a`, `{a, b: [c]}`, `...rest`, `x = 1`). */
export const patternNames = (pattern: unknown, out: Array<string> = []): Array<string> => {
  if (!isNode(pattern)) return out
  switch (pattern.type) {
    case "Identifier":
      out.push(pattern["name"] as string)
      break
    case "ObjectPattern":
      for (const property of pattern["properties"] as Array<Node>) {
        patternNames(property.type === "RestElement" ? property["argument"] : property["value"], out)
      }
      break
    case "ArrayPattern":
      for (const element of pattern["elements"] as Array<Node | null>) patternNames(element, out)
      break
    case "RestElement":
      patternNames(pattern["argument"], out)
      break
    case "AssignmentPattern":
      patternNames(pattern["left"], out)
      break
  }
  return out
}

const isFunction = (node: Node) =>
  node.type === "FunctionDeclaration" || node.type === "FunctionExpression" || node.type === "ArrowFunctionExpression"

/** `var` names anywhere in a function body (not inside nested functions or classes). */
export const varNames = (body: unknown, out: Array<string> = []): Array<string> => {
  const stack: Array<unknown> = [body]
  while (stack.length > 0) {
    const node = stack.pop()
    if (Array.isArray(node)) {
      stack.push(...node)
      continue
    }
    if (!isNode(node) || isFunction(node) || node.type === "ClassDeclaration" || node.type === "ClassExpression") {
      continue
    }
    if (node.type === "VariableDeclaration" && node["kind"] === "var") {
      for (const declarator of node["declarations"] as Array<Node>) patternNames(declarator["id"], out)
    }
    for (const key in node) {
      if (key !== "loc" && key !== "range") stack.push(node[key])
    }
  }
  return out
}

/** Names a statement list binds in its own block: `let`, `const`, classes and (strict) functions. */
export const blockNames = (statements: ReadonlyArray<Node>, out: Array<string> = []): Array<string> => {
  for (const statement of statements) {
    if (statement.type === "VariableDeclaration" && statement["kind"] !== "var") {
      for (const declarator of statement["declarations"] as Array<Node>) patternNames(declarator["id"], out)
    } else if (
      (statement.type === "FunctionDeclaration" || statement.type === "ClassDeclaration") && isNode(statement["id"])
    ) {
      out.push(statement["id"]["name"] as string)
    }
  }
  return out
}
