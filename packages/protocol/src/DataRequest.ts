import { Schema } from "effect"
import { JsonObject, JsonValue } from "./JsonValue.js"
import { Chunk, TaskItem } from "./TaskSettings.js"

/** Keys n8n adds over time are kept: every typed object below has this index signature. */
const rest = Schema.Record({ key: Schema.String, value: JsonValue })

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** `requestParams` of `runner:taskdatarequest` (spec 4.3). */
export const TaskDataRequestParams = Schema.Struct({
  /** Run data of these node names, or of every node. */
  dataOfNodes: Schema.Union(Schema.Literal("all"), Schema.Array(Schema.String)),
  /** Also include the node connected to input 0. */
  prevNode: Schema.Boolean,
  input: Schema.Struct({
    include: Schema.Boolean,
    chunk: optional(Chunk)
  }),
  /** Include `$env` values. */
  env: Schema.Boolean
}).annotations({ identifier: "TaskDataRequestParams" })

/** `requestParams` of `runner:taskdatarequest`. */
export type TaskDataRequestParams = typeof TaskDataRequestParams.Type

/** One entry of `runner:nodetypesrequest.requestParams`. */
export const NodeTypeRequest = Schema.Struct({
  name: Schema.String,
  version: Schema.Finite
}).annotations({ identifier: "NodeTypeRequest" })

/** One entry of `runner:nodetypesrequest.requestParams`. */
export type NodeTypeRequest = typeof NodeTypeRequest.Type

/** A workflow node (`INode`): the fields the runner reads, everything else kept. */
export const WorkflowNode = Schema.Struct({
  id: optional(Schema.String),
  name: Schema.String,
  type: Schema.String,
  typeVersion: Schema.Finite,
  parameters: optional(JsonObject),
  disabled: optional(Schema.Boolean)
}, rest).annotations({ identifier: "WorkflowNode" })

/** A workflow node. */
export type WorkflowNode = typeof WorkflowNode.Type

/** Output of one node run, by connection type (`main`), by output index. */
export const NodeOutputs = Schema.Record({
  key: Schema.String,
  value: Schema.Array(Schema.NullOr(Schema.Array(TaskItem)))
}).annotations({ identifier: "NodeOutputs" })

/** Output of one node run. */
export type NodeOutputs = typeof NodeOutputs.Type

/** One run of one node (`ITaskData`). */
export const TaskRunData = Schema.Struct({
  startTime: optional(Schema.Finite),
  executionTime: optional(Schema.Finite),
  executionStatus: optional(Schema.String),
  data: optional(NodeOutputs),
  source: optional(Schema.Array(Schema.NullOr(JsonValue))),
  error: optional(JsonValue)
}, rest).annotations({ identifier: "TaskRunData" })

/** One run of one node. */
export type TaskRunData = typeof TaskRunData.Type

/** `runExecutionData` of a data-request response: the run data the runner reads. */
export const RunExecutionData = Schema.Struct({
  resultData: Schema.Struct({
    runData: Schema.Record({ key: Schema.String, value: Schema.Array(TaskRunData) }),
    pinData: optional(Schema.Record({ key: Schema.String, value: Schema.Array(TaskItem) })),
    lastNodeExecuted: optional(Schema.String),
    metadata: optional(Schema.Record({ key: Schema.String, value: Schema.String }))
  }, rest)
}, rest).annotations({ identifier: "RunExecutionData" })

/** `runExecutionData` of a data-request response. */
export type RunExecutionData = typeof RunExecutionData.Type

/** `envProviderState`: `env` is `{}` unless the request asked for it. */
export const EnvProviderState = Schema.Struct({
  env: Schema.Record({ key: Schema.String, value: Schema.String }),
  isEnvAccessBlocked: Schema.Boolean,
  isProcessAvailable: Schema.Boolean
}).annotations({ identifier: "EnvProviderState" })

/** `envProviderState` of a data-request response. */
export type EnvProviderState = typeof EnvProviderState.Type

/**
 * `broker:taskdataresponse.data` (n8n's `DataRequestResponse`). Typed where the runner reads it;
 * opaque parts stay `unknown` and every key n8n sends is kept.
 */
export const DataRequestResponse = Schema.Struct({
  workflow: Schema.Struct({
    id: optional(Schema.String),
    name: optional(Schema.String),
    active: optional(Schema.Boolean),
    connections: JsonObject,
    nodes: Schema.Array(WorkflowNode),
    pinData: optional(JsonValue),
    settings: optional(JsonValue),
    staticData: optional(JsonValue)
  }, rest),
  /** `{main: [[items]]}`, or `{}` when input was not requested. */
  inputData: Schema.Struct({
    main: optional(Schema.Array(Schema.NullOr(Schema.Array(TaskItem))))
  }, rest),
  connectionInputSource: Schema.NullOr(JsonValue),
  node: WorkflowNode,
  runExecutionData: RunExecutionData,
  runIndex: Schema.Finite,
  itemIndex: Schema.Finite,
  activeNodeName: Schema.String,
  contextNodeName: optional(Schema.String),
  defaultReturnRunIndex: optional(Schema.Finite),
  siblingParameters: optional(JsonValue),
  mode: Schema.String,
  envProviderState: optional(EnvProviderState),
  selfData: optional(JsonValue),
  additionalData: optional(JsonObject)
}, rest).annotations({ identifier: "DataRequestResponse" })

/** `broker:taskdataresponse.data`. */
export type DataRequestResponse = typeof DataRequestResponse.Type
