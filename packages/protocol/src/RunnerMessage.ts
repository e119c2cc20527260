import { Schema } from "effect"
import { NodeTypeRequest, TaskDataRequestParams } from "./DataRequest.js"
import { JsonValue } from "./JsonValue.js"
import { TaskResultData } from "./TaskResultData.js"

/** Answer to `broker:inforequest`; the only message accepted before registration. */
export const Info = Schema.Struct({
  type: Schema.Literal("runner:info"),
  name: Schema.String,
  types: Schema.Array(Schema.String),
  /**
   * Not n8n's: the isolation tier this runner runs tasks in (`bwrap`, `unshare`, `none`), for the
   * mock broker's playground. n8n's broker reads only `name` and `types`.
   */
  sandbox: Schema.optionalWith(Schema.String, { exact: true })
}).annotations({ identifier: "runner:info" })

/** Capacity for one task of `taskType`, valid for `validFor` ms (`-1`: never expires). */
export const TaskOffer = Schema.Struct({
  type: Schema.Literal("runner:taskoffer"),
  offerId: Schema.String,
  taskType: Schema.String,
  validFor: Schema.Finite.pipe(Schema.greaterThanOrEqualTo(-1))
}).annotations({ identifier: "runner:taskoffer" })

/** Completes the accept handshake. */
export const TaskAccepted = Schema.Struct({
  type: Schema.Literal("runner:taskaccepted"),
  taskId: Schema.String
}).annotations({ identifier: "runner:taskaccepted" })

/** Declines an accept; the broker re-matches the request. */
export const TaskRejected = Schema.Struct({
  type: Schema.Literal("runner:taskrejected"),
  taskId: Schema.String,
  reason: Schema.String
}).annotations({ identifier: "runner:taskrejected" })

/** "Hold this request, a real runner is coming" (n8n's launcher). */
export const TaskDeferred = Schema.Struct({
  type: Schema.Literal("runner:taskdeferred"),
  taskId: Schema.String
}).annotations({ identifier: "runner:taskdeferred" })

/** The task finished with a result. */
export const TaskDone = Schema.Struct({
  type: Schema.Literal("runner:taskdone"),
  taskId: Schema.String,
  data: TaskResultData
}).annotations({ identifier: "runner:taskdone" })

/** The task failed; `error` is usually a `TaskErrorPayload`, but n8n accepts anything. */
export const TaskError = Schema.Struct({
  type: Schema.Literal("runner:taskerror"),
  taskId: Schema.String,
  error: JsonValue
}).annotations({ identifier: "runner:taskerror" })

/** Asks the broker for the data a JavaScript task needs. */
export const TaskDataRequest = Schema.Struct({
  type: Schema.Literal("runner:taskdatarequest"),
  taskId: Schema.String,
  requestId: Schema.String,
  requestParams: TaskDataRequestParams
}).annotations({ identifier: "runner:taskdatarequest" })

/** Asks the broker for node type descriptions. */
export const NodeTypesRequest = Schema.Struct({
  type: Schema.Literal("runner:nodetypesrequest"),
  taskId: Schema.String,
  requestId: Schema.String,
  requestParams: Schema.Array(NodeTypeRequest)
}).annotations({ identifier: "runner:nodetypesrequest" })

/** Calls a helper on the broker side (`name` should be an `RpcMethod`; others get an error answer). */
export const Rpc = Schema.Struct({
  type: Schema.Literal("runner:rpc"),
  callId: Schema.String,
  taskId: Schema.String,
  name: Schema.String,
  params: Schema.Array(JsonValue)
}).annotations({ identifier: "runner:rpc" })

/** Every message a runner sends to a broker. */
export const RunnerMessage = Schema.Union(
  Info,
  TaskOffer,
  TaskAccepted,
  TaskRejected,
  TaskDeferred,
  TaskDone,
  TaskError,
  TaskDataRequest,
  NodeTypesRequest,
  Rpc
).annotations({ identifier: "RunnerMessage" })

/** Every message a runner sends to a broker. */
export type RunnerMessage = typeof RunnerMessage.Type

/** The `type` string of a runner message. */
export type RunnerMessageType = RunnerMessage["type"]

/** Runner messages by `type`. */
export type RunnerMessageOf<T extends RunnerMessageType> = Extract<RunnerMessage, { readonly type: T }>

/** The schema of each runner message, by `type`. */
export const schemas: { readonly [T in RunnerMessageType]: Schema.Schema<RunnerMessageOf<T>> } = {
  "runner:info": Info,
  "runner:taskoffer": TaskOffer,
  "runner:taskaccepted": TaskAccepted,
  "runner:taskrejected": TaskRejected,
  "runner:taskdeferred": TaskDeferred,
  "runner:taskdone": TaskDone,
  "runner:taskerror": TaskError,
  "runner:taskdatarequest": TaskDataRequest,
  "runner:nodetypesrequest": NodeTypesRequest,
  "runner:rpc": Rpc
}
