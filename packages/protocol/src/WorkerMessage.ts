import { Schema } from "effect"
import { JsonValue } from "./JsonValue.js"

/**
 * Messages on the pipe between the runner and a task's child process: 4-byte big-endian length,
 * then UTF-8 JSON (spec 7.4), both directions. The child is untrusted: the runner decodes every
 * message it sends with these schemas. A message may announce raw JSON frames that follow it
 * (`payloadFrames`), so large data is parsed once, where it is used.
 */

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** How the snippet runs over the items. */
export const ExecutionMode = Schema.Union(
  Schema.Struct({ _tag: Schema.Literal("AllItems") }),
  Schema.Struct({ _tag: Schema.Literal("PerItem"), startIndex: Schema.NonNegativeInt }),
  Schema.Struct({ _tag: Schema.Literal("Raw") })
)

/** How the snippet runs over the items. */
export type ExecutionMode = typeof ExecutionMode.Type

const JsonRecord = Schema.Record({ key: Schema.String, value: JsonValue })

/**
 * What a JavaScript task's child needs for n8n's Code-node globals (`$`, `$node`, `$workflow`,
 * `$execution`, `$getWorkflowStaticData`, `$vars`, `$env`, dates), taken from the broker's
 * data-request response by the runner.
 */
export const WorkflowData = Schema.Struct({
  workflow: Schema.Struct({ id: Schema.String, name: Schema.String, active: Schema.Boolean }),
  staticData: JsonRecord,
  nodes: Schema.Array(Schema.Struct({
    name: Schema.String,
    id: optional(Schema.String),
    typeVersion: optional(Schema.Number),
    parameters: optional(JsonValue)
  })),
  node: Schema.Struct({
    name: Schema.String,
    id: optional(Schema.String),
    typeVersion: optional(Schema.Number),
    parameters: optional(JsonValue)
  }),
  /** Run data of the nodes the snippet reads (as n8n's `runExecutionData.resultData.runData`). */
  runData: Schema.Record({ key: Schema.String, value: Schema.Array(JsonValue) }),
  previousNode: Schema.NullOr(Schema.Struct({ name: Schema.String, outputIndex: Schema.Int, runIndex: Schema.Int })),
  runIndex: Schema.Int,
  /** n8n's workflow execute mode (`manual`, `trigger`, `webhook`, ...). */
  mode: Schema.String,
  executionId: Schema.String,
  resumeUrl: Schema.String,
  resumeFormUrl: Schema.String,
  variables: JsonRecord,
  customData: Schema.Record({ key: Schema.String, value: Schema.String }),
  env: Schema.Struct({ blocked: Schema.Boolean, values: Schema.Record({ key: Schema.String, value: Schema.String }) }),
  /** For luxon's default zone (`GENERIC_TIMEZONE`). */
  timezone: Schema.String
})

/**
 * Runner -> child: run this task. Its input follows in two frames, maybe a little later (the
 * runner may still be fetching it from the broker while the child compiles the code): a
 * `TaskInput` message, then one raw frame with the items as a JSON array.
 */
export const RunTask = Schema.Struct({
  type: Schema.Literal("task"),
  code: Schema.String,
  mode: ExecutionMode,
  continueOnFail: Schema.Boolean,
  /** Extra values for the snippet's globals (e.g. the data-request response). */
  context: Schema.Record({ key: Schema.String, value: JsonValue }),
  builtinAllowed: Schema.Union(Schema.Literal("*"), Schema.Array(Schema.String)),
  externalAllowed: Schema.Union(Schema.Literal("*"), Schema.Array(Schema.String)),
  maxResultBytes: Schema.Int,
  maxResultDepth: Schema.Int,
  /** The child's last task: it need not prepare a context for another. */
  last: optional(Schema.Boolean)
})

/** Runner -> child: the input of the task it was sent last (the items' raw frame follows). */
export const TaskInput = Schema.Struct({
  type: Schema.Literal("input"),
  workflow: optional(WorkflowData)
})

/** Runner -> child: the answer to an RPC the child made. */
export const RpcResult = Schema.Struct({
  type: Schema.Literal("rpcResult"),
  id: Schema.Int,
  status: Schema.Literal("success", "error"),
  data: optional(JsonValue)
})

/** Every message the runner sends to a child. */
export const ToWorker = Schema.Union(RunTask, TaskInput, RpcResult)

/** Every message the runner sends to a child. */
export type ToWorker = typeof ToWorker.Type

/** Child -> runner: the child has started and waits for a task. */
export const WorkerReady = Schema.Struct({ type: Schema.Literal("ready") })

/** Child -> runner: one console call, already formatted for `logNodeOutput`. */
export const WorkerConsole = Schema.Struct({
  type: Schema.Literal("console"),
  /** null for `undefined`, as n8n's runner sends it. */
  args: Schema.Array(Schema.NullOr(Schema.String))
})

/** Child -> runner: call a helper on the broker side. */
export const WorkerRpc = Schema.Struct({
  type: Schema.Literal("rpc"),
  id: Schema.Int,
  name: Schema.String,
  params: Schema.Array(JsonValue)
})

/** A failure inside the child, as it reports it. */
export const WorkerFailure = Schema.Union(
  Schema.Struct({
    kind: Schema.Literal("RuntimeError"),
    /** Thrown by n8n's globals (not the user's code): reported with its message only. */
    plain: optional(Schema.Boolean),
    /** The thrown value's message (or its string form). */
    message: Schema.String,
    /** The error's constructor name, when it was an error object. */
    errorType: optional(Schema.String),
    description: optional(Schema.NullOr(Schema.String)),
    stack: optional(Schema.String),
    lineNumber: optional(Schema.Int),
    itemIndex: optional(Schema.Int)
  }),
  Schema.Struct({ kind: Schema.Literal("SyntaxError"), message: Schema.String, lineNumber: optional(Schema.Int) }),
  Schema.Struct({ kind: Schema.Literal("ResultTooLarge"), bytes: Schema.Int }),
  Schema.Struct({ kind: Schema.Literal("ResultTooDeep"), depth: Schema.Int }),
  Schema.Struct({ kind: Schema.Literal("ResultNotSerializable"), message: Schema.String }),
  Schema.Struct({ kind: Schema.Literal("OutOfMemory"), message: Schema.String })
)

/** A failure inside the child. */
export type WorkerFailure = typeof WorkerFailure.Type

/**
 * Child -> runner: the task finished. On success one raw frame follows: the result as JSON.
 * `droppedConsoleCalls` counts console calls past the cap of 100.
 */
export const WorkerDone = Schema.Struct({
  type: Schema.Literal("done"),
  ok: Schema.Boolean,
  failure: optional(WorkerFailure),
  /** What `$execution.customData` holds at the end. */
  customData: optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  /** The workflow static data, when the task changed it. */
  staticData: optional(JsonRecord),
  droppedConsoleCalls: Schema.NonNegativeInt
})

/** Every message a child sends to the runner. */
export const FromWorker = Schema.Union(WorkerReady, WorkerConsole, WorkerRpc, WorkerDone)

/** Every message a child sends to the runner. */
export type FromWorker = typeof FromWorker.Type

// ---------------------------------------------------------------------------------------------
// The Python fork server (one per executor): tasks in; out, per task, the bytes its child writes on
// its result pipe (`pydata`, as they arrive) and one `pydone` when the child has ended.

/** Resource limits a forked Python child applies to itself. */
export const PythonLimits = Schema.Struct({
  addressSpaceBytes: Schema.Int,
  cpuSeconds: Schema.Int,
  maxFileBytes: Schema.Int,
  maxOpenFiles: Schema.Int,
  maxProcesses: Schema.Int
})

/**
 * Runner -> Python server: run a task. Followed by two frames the server does not read but hands
 * to the task's child (and then wipes): the `PythonTask`, and the items as JSON. The server only
 * needs what is here, so other tasks' code and data never become objects in its memory.
 */
export const PythonDispatch = Schema.Struct({
  type: Schema.Literal("dispatch"),
  id: Schema.Int,
  timeoutSeconds: Schema.Number,
  uid: Schema.NullOr(Schema.Int),
  maxResultBytes: Schema.Int
})

/** What a Python task's child runs (the frame after a `PythonDispatch`). */
export const PythonTask = Schema.Struct({
  type: Schema.Literal("task"),
  id: Schema.Int,
  code: Schema.String,
  mode: Schema.Literal("all_items", "per_item"),
  continueOnFail: Schema.Boolean,
  query: Schema.NullOr(JsonValue),
  timeoutSeconds: Schema.Number,
  /** The child's own user (the server runs as root with only CAP_SETUID/CAP_SETGID), or null. */
  uid: Schema.NullOr(Schema.Int),
  limits: PythonLimits,
  stdlibAllow: Schema.Union(Schema.Literal("*"), Schema.Array(Schema.String)),
  externalAllow: Schema.Union(Schema.Literal("*"), Schema.Array(Schema.String)),
  builtinsDeny: Schema.Array(Schema.String),
  blockEnvAccess: Schema.Boolean,
  allowTransitiveImports: Schema.Boolean,
  maxResultBytes: Schema.Int
})

/** Runner -> Python server: stop a task (SIGTERM, then SIGKILL a second later). */
export const PythonCancel = Schema.Struct({ type: Schema.Literal("cancel"), id: Schema.Int })

/**
 * Python server -> runner: bytes a task's child wrote on its result pipe, in the raw frame that
 * follows. The server forwards them as they arrive and keeps none: a result is never held where
 * other tasks' children are forked from.
 */
export const PythonData = Schema.Struct({ type: Schema.Literal("pydata"), id: Schema.Int })

/** Python server -> runner: a task's child has ended; everything it wrote was sent before. */
export const PythonDone = Schema.Struct({
  type: Schema.Literal("pydone"),
  id: Schema.Int,
  /** `noMemory`: the server could not take the task's frames in; the task did not run. */
  status: Schema.Literal("exited", "timedOut", "cancelled", "tooLarge", "noMemory"),
  exitCode: Schema.NullOr(Schema.Int),
  signal: Schema.NullOr(Schema.Int),
  /** For `tooLarge`: the size the child's result frame claimed. */
  claimedBytes: Schema.NonNegativeInt
})

/** Every message the Python server sends. */
export type FromPythonServer = typeof WorkerReady.Type | typeof PythonData.Type | typeof PythonDone.Type

/** What a Python child writes on its pipe (spec 7.4): exactly one of `result` / `error`. */
export const PipeMessage = Schema.Struct({
  print_args: Schema.Array(Schema.Array(Schema.String)),
  result: optional(JsonValue),
  error: optional(Schema.Struct({
    message: Schema.String,
    description: optional(Schema.String),
    stack: optional(Schema.String),
    stderr: optional(Schema.String),
    /** Ours: how the runner should classify it (`OutOfMemory`, `ResultTooLarge`). */
    kind: optional(Schema.String),
    bytes: optional(Schema.Int)
  }))
})

/** What a Python child writes on its pipe. */
export type PipeMessage = typeof PipeMessage.Type
