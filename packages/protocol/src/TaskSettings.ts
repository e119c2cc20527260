import { Schema } from "effect"
import { isJsonObject, jsonArbitrary } from "./internal/json.js"
import { JsonObject } from "./JsonValue.js"

/** How the Code node runs the snippet: once over all items, or once per item. */
export const NodeMode = Schema.Literal("runOnceForAllItems", "runOnceForEachItem")

/** How the Code node runs the snippet: once over all items, or once per item. */
export type NodeMode = typeof NodeMode.Type

/** JavaScript adds `runCode`: raw mode for other nodes and tools (no data request, no wrapping). */
export const JsNodeMode = Schema.Literal("runOnceForAllItems", "runOnceForEachItem", "runCode")

/** JavaScript node mode. */
export type JsNodeMode = typeof JsNodeMode.Type

/** One n8n item (`INodeExecutionData`): `json` plus optional `binary`, `pairedItem` and others. */
export interface TaskItem {
  readonly json: Record<string, unknown>
  readonly binary?: Record<string, unknown>
  readonly pairedItem?: unknown
  readonly [key: string]: unknown
}

const isTaskItem = (value: unknown): value is TaskItem =>
  isJsonObject(value) && isJsonObject(value["json"]) && (value["binary"] === undefined || isJsonObject(value["binary"]))

/**
 * An n8n item. Checked by shape without copying, because tasks can carry tens of thousands of
 * items and every key must survive the round trip.
 */
export const TaskItem: Schema.Schema<TaskItem> = Schema.declare(isTaskItem, {
  identifier: "TaskItem",
  description: "an item object with a `json` object (and `binary`, if present, an object)",
  arbitrary: () => (fc) =>
    fc.record(
      {
        json: fc.dictionary(fc.string({ maxLength: 8 }), jsonArbitrary(fc, 1), { maxKeys: 4 }),
        pairedItem: fc.record({ item: fc.nat() })
      },
      { requiredKeys: ["json"] }
    ).filter((item) => !Object.prototype.hasOwnProperty.call(item.json, "__proto__"))
})

/** `chunk` of a per-item JavaScript task: n8n sends one task per 1000 items. */
export const Chunk = Schema.Struct({
  startIndex: Schema.NonNegativeInt,
  count: Schema.NonNegativeInt
}).annotations({ identifier: "Chunk" })

/** `chunk` of a per-item JavaScript task. */
export type Chunk = typeof Chunk.Type

/** Settings of a `python` task (spec 4.1). Items travel inline. */
export const PythonTaskSettings = Schema.Struct({
  code: Schema.String,
  nodeMode: NodeMode,
  workflowMode: Schema.optionalWith(Schema.String, { exact: true }),
  continueOnFail: Schema.optionalWith(Schema.Boolean, { exact: true }),
  items: Schema.Array(TaskItem),
  nodeId: Schema.optionalWith(Schema.String, { exact: true }),
  nodeName: Schema.optionalWith(Schema.String, { exact: true }),
  workflowId: Schema.optionalWith(Schema.String, { exact: true }),
  workflowName: Schema.optionalWith(Schema.String, { exact: true }),
  /** Tool variant only: the tool input, exposed to user code as `_query`. */
  query: Schema.optionalWith(Schema.Union(Schema.String, JsonObject), { exact: true })
}).annotations({ identifier: "PythonTaskSettings" })

/** Settings of a `python` task. */
export type PythonTaskSettings = typeof PythonTaskSettings.Type

/** Settings of a `javascript` task (spec 4.2). Items are fetched with a data request. */
export const JsTaskSettings = Schema.Struct({
  code: Schema.String,
  nodeMode: JsNodeMode,
  workflowMode: Schema.optionalWith(Schema.String, { exact: true }),
  continueOnFail: Schema.optionalWith(Schema.Boolean, { exact: true }),
  chunk: Schema.optionalWith(Chunk, { exact: true }),
  additionalProperties: Schema.optionalWith(JsonObject, { exact: true })
}).pipe(
  Schema.filter((settings) =>
    settings.chunk === undefined || settings.nodeMode === "runOnceForEachItem" ||
    `chunk is only allowed with nodeMode "runOnceForEachItem", got "${settings.nodeMode}"`
  ),
  Schema.annotations({ identifier: "JsTaskSettings" })
)

/** Settings of a `javascript` task. */
export type JsTaskSettings = typeof JsTaskSettings.Type
