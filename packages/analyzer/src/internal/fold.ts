import { isNode } from "./scope.js"
import type { Node } from "./scope.js"

/** The constant strings an expression may evaluate to; `complete` when every branch was constant. */
export interface Folded {
  readonly values: ReadonlyArray<string>
  readonly complete: boolean
}

const maxValues = 64

/**
 * Folds expressions built from constants: string/number literals, templates whose holes fold,
 * `+` of those, both branches of `?:`, `||`, `&&`, `??`, and the last element of a sequence.
 * `undefined` when nothing about the value is constant (left to the runtime layers).
 */
export const fold = (node: unknown): Folded | undefined => {
  if (!isNode(node)) return undefined
  switch (node.type) {
    case "Literal": {
      const value = node["value"]
      return typeof value === "string" || typeof value === "number" || typeof value === "boolean"
        ? { values: [String(value)], complete: true }
        : undefined
    }
    case "TemplateLiteral": {
      const expressions = node["expressions"] as ReadonlyArray<unknown>
      const quasis = node["quasis"] as ReadonlyArray<{ readonly value: { readonly cooked: string | null } }>
      let out: Folded = { values: [quasis[0]?.value.cooked ?? ""], complete: true }
      for (let i = 0; i < expressions.length; i++) {
        const hole = fold(expressions[i])
        if (hole === undefined) return undefined
        out = concat(concat(out, hole), { values: [quasis[i + 1]?.value.cooked ?? ""], complete: true })
      }
      return out
    }
    case "BinaryExpression": {
      if (node["operator"] !== "+") return undefined
      const left = fold(node["left"])
      const right = fold(node["right"])
      return left === undefined || right === undefined ? undefined : concat(left, right)
    }
    case "ConditionalExpression":
      return either(fold(node["consequent"]), fold(node["alternate"]))
    case "LogicalExpression":
      return either(fold(node["left"]), fold(node["right"]))
    case "SequenceExpression": {
      const expressions = node["expressions"] as ReadonlyArray<Node>
      return fold(expressions[expressions.length - 1])
    }
    default:
      return undefined
  }
}

/** The single constant value of an expression, if it has exactly one. */
export const constant = (node: unknown): string | undefined => {
  const folded = fold(node)
  return folded !== undefined && folded.complete && folded.values.length === 1 ? folded.values[0] : undefined
}

const concat = (left: Folded, right: Folded): Folded => {
  const values: Array<string> = []
  for (const a of left.values) {
    for (const b of right.values) if (values.length < maxValues) values.push(a + b)
  }
  return {
    values,
    complete: left.complete && right.complete && values.length === left.values.length * right.values.length
  }
}

const either = (a: Folded | undefined, b: Folded | undefined): Folded | undefined =>
  a === undefined && b === undefined
    ? undefined
    : {
      values: [...(a?.values ?? []), ...(b?.values ?? [])],
      complete: a !== undefined && b !== undefined && a.complete && b.complete
    }
