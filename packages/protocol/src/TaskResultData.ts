import { Schema } from "effect"
import { JsonObject, JsonValue } from "./JsonValue.js"

/** `runner:taskdone.data` (spec 4.5). */
export const TaskResultData = Schema.Struct({
  /** The output; n8n validates and normalises it (spec 4.7). */
  result: JsonValue,
  /** What `$execution.customData` wrote; copied into the execution's metadata. */
  customData: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { exact: true }),
  /** The workflow static data, only when the task changed it. */
  staticData: Schema.optionalWith(JsonObject, { exact: true })
}).annotations({ identifier: "TaskResultData" })

/** `runner:taskdone.data`. */
export type TaskResultData = typeof TaskResultData.Type
