import { Schema } from "effect"
import { JsonValue } from "./JsonValue.js"

/** Sent right after the upgrade; the runner answers with `runner:info`. */
export const InfoRequest = Schema.Struct({
  type: Schema.Literal("broker:inforequest")
}).annotations({ identifier: "broker:inforequest" })

/** Sent once the broker has processed `runner:info`; offers may start. */
export const RunnerRegistered = Schema.Struct({
  type: Schema.Literal("broker:runnerregistered")
}).annotations({ identifier: "broker:runnerregistered" })

/** The broker picked one of the runner's offers for a new task; answer within the accept window. */
export const TaskOfferAccept = Schema.Struct({
  type: Schema.Literal("broker:taskofferaccept"),
  taskId: Schema.String,
  offerId: Schema.String
}).annotations({ identifier: "broker:taskofferaccept" })

/** The task payload; its shape depends on the task type (see `TaskSettings`). */
export const TaskSettings = Schema.Struct({
  type: Schema.Literal("broker:tasksettings"),
  taskId: Schema.String,
  settings: JsonValue
}).annotations({ identifier: "broker:tasksettings" })

/** Stop and forget the task; nothing may be sent for it afterwards. */
export const TaskCancel = Schema.Struct({
  type: Schema.Literal("broker:taskcancel"),
  taskId: Schema.String,
  reason: Schema.String
}).annotations({ identifier: "broker:taskcancel" })

/** Answer to `runner:taskdatarequest`; `data` is a `DataRequestResponse`. */
export const TaskDataResponse = Schema.Struct({
  type: Schema.Literal("broker:taskdataresponse"),
  taskId: Schema.String,
  requestId: Schema.String,
  data: JsonValue
}).annotations({ identifier: "broker:taskdataresponse" })

/** Answer to `runner:nodetypesrequest`: node type descriptions (opaque). */
export const NodeTypes = Schema.Struct({
  type: Schema.Literal("broker:nodetypes"),
  taskId: Schema.String,
  requestId: Schema.String,
  nodeTypes: Schema.Array(JsonValue)
}).annotations({ identifier: "broker:nodetypes" })

/** Answer to `runner:rpc`. */
export const RpcResponse = Schema.Struct({
  type: Schema.Literal("broker:rpcresponse"),
  callId: Schema.String,
  taskId: Schema.String,
  status: Schema.Literal("success", "error"),
  data: JsonValue
}).annotations({ identifier: "broker:rpcresponse" })

/** The broker is shutting down: stop offering, finish running tasks. */
export const Drain = Schema.Struct({
  type: Schema.Literal("broker:drain")
}).annotations({ identifier: "broker:drain" })

/** Every message a broker sends to a runner. */
export const BrokerMessage = Schema.Union(
  InfoRequest,
  RunnerRegistered,
  TaskOfferAccept,
  TaskSettings,
  TaskCancel,
  TaskDataResponse,
  NodeTypes,
  RpcResponse,
  Drain
).annotations({ identifier: "BrokerMessage" })

/** Every message a broker sends to a runner. */
export type BrokerMessage = typeof BrokerMessage.Type

/** The `type` string of a broker message. */
export type BrokerMessageType = BrokerMessage["type"]

/** Broker messages by `type`. */
export type BrokerMessageOf<T extends BrokerMessageType> = Extract<BrokerMessage, { readonly type: T }>

/** The schema of each broker message, by `type`. */
export const schemas: { readonly [T in BrokerMessageType]: Schema.Schema<BrokerMessageOf<T>> } = {
  "broker:inforequest": InfoRequest,
  "broker:runnerregistered": RunnerRegistered,
  "broker:taskofferaccept": TaskOfferAccept,
  "broker:tasksettings": TaskSettings,
  "broker:taskcancel": TaskCancel,
  "broker:taskdataresponse": TaskDataResponse,
  "broker:nodetypes": NodeTypes,
  "broker:rpcresponse": RpcResponse,
  "broker:drain": Drain
}
