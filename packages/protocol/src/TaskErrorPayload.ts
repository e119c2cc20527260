import { Schema } from "effect"
import { JsonValue } from "./JsonValue.js"

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/**
 * `runner:taskerror.error` (spec 4.6). n8n has no schema for it: it reads `message` and copies
 * every other own property into the node error. These are the fields its UI shows; any other key
 * is kept.
 */
export const TaskErrorPayload = Schema.Struct({
  message: Schema.String,
  /** The error type for JS user errors (`TypeError`), `null` for a plain `Error`; text for Python. */
  description: optional(Schema.NullOr(Schema.String)),
  lineNumber: optional(Schema.Int),
  itemIndex: optional(Schema.Int),
  context: optional(JsonValue),
  stack: optional(Schema.String)
}, Schema.Record({ key: Schema.String, value: JsonValue })).annotations({ identifier: "TaskErrorPayload" })

/** `runner:taskerror.error`. */
export type TaskErrorPayload = typeof TaskErrorPayload.Type
