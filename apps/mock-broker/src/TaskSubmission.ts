import { DataRequest, MessageCodec, TaskSettings } from "@taskrunner/protocol"
import { Either, Schema } from "effect"

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** Body of `POST /api/tasks`: one Code-node execution. */
export const TaskSubmission = Schema.Struct({
  taskType: Schema.Literal("javascript", "python"),
  code: Schema.String,
  nodeMode: optional(TaskSettings.NodeMode),
  /** Input items; default `[{json: {}}]`. */
  items: optional(Schema.Array(TaskSettings.TaskItem)),
  continueOnFail: optional(Schema.Boolean),
  workflow: optional(Schema.Struct({
    id: optional(Schema.String),
    name: optional(Schema.String),
    nodes: optional(Schema.Array(DataRequest.WorkflowNode)),
    connections: optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
    staticData: optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
  })),
  /** Name of the Code node; default `Code`. */
  nodeName: optional(Schema.NonEmptyString),
  /** Output of earlier nodes, by node name (one run, main output 0), for `$("Name")`. */
  runData: optional(Schema.Record({ key: Schema.String, value: Schema.Array(TaskSettings.TaskItem) })),
  /** Node connected to the Code node's input; default: the last node of `runData`. */
  previousNode: optional(Schema.NonEmptyString),
  /** Values `$env` sees (only when the code asks for them). */
  env: optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  /** As n8n's `N8N_BLOCK_ENV_ACCESS_IN_NODE`: `$env` refuses every read. */
  blockEnvAccess: optional(Schema.Boolean),
  /** The instance's variables (`$vars`). */
  variables: optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  /** n8n's execution mode; default `manual`. */
  workflowMode: optional(Schema.NonEmptyString),
  /** The execution's id (`$execution.id`); default: the task's id. */
  executionId: optional(Schema.NonEmptyString),
  /** Python, as a tool (the Code tool of an AI agent): the tool's input, `_query` in the code. */
  query: optional(Schema.Union(Schema.String, Schema.Record({ key: Schema.String, value: Schema.Unknown }))),
  /** A caller-chosen id, to cancel the task before it completes. */
  id: optional(Schema.String.pipe(Schema.pattern(/^[\w-]{1,64}$/, {
    message: () => "id must be 1-64 characters of [A-Za-z0-9_-]"
  })))
}).annotations({ identifier: "TaskSubmission" })

/** Body of `POST /api/tasks`. */
export type TaskSubmission = typeof TaskSubmission.Type

const decode = Schema.decodeUnknownEither(TaskSubmission, { errors: "first", onExcessProperty: "error" })

/** Decodes a submission, or explains the first problem naming its field. */
export const decodeTaskSubmission = (body: unknown): Either.Either<TaskSubmission, string> =>
  Either.mapLeft(decode(body), (error) => {
    const { detail, path } = MessageCodec.describeParseIssue(error.issue)
    return path === "(root)" ? `Invalid task: ${detail}` : `Invalid task: ${path} ${detail}`
  })

/** A submission with every default applied. */
export interface ResolvedSubmission {
  readonly id: string
  readonly taskType: "javascript" | "python"
  readonly code: string
  readonly nodeMode: TaskSettings.NodeMode
  readonly items: ReadonlyArray<TaskSettings.TaskItem>
  readonly continueOnFail: boolean
  readonly workflowId: string
  readonly workflowName: string
  readonly nodeName: string
  readonly workflowMode: string
  readonly workflow: TaskSubmission["workflow"]
  readonly runData: Readonly<Record<string, ReadonlyArray<TaskSettings.TaskItem>>>
  readonly previousNode: string | undefined
  readonly env: Readonly<Record<string, string>>
  readonly blockEnvAccess: boolean
  readonly variables: Readonly<Record<string, string>>
  readonly query: TaskSubmission["query"]
  readonly executionId: string | undefined
}

/** Applies the defaults of the task API. */
export const resolveSubmission = (submission: TaskSubmission, fallbackId: string): ResolvedSubmission => {
  const runData = submission.runData ?? {}
  const runDataNodes = Object.keys(runData)
  return {
    id: submission.id ?? fallbackId,
    taskType: submission.taskType,
    code: submission.code,
    nodeMode: submission.nodeMode ?? "runOnceForAllItems",
    items: submission.items ?? [{ json: {} }],
    continueOnFail: submission.continueOnFail ?? false,
    workflowId: submission.workflow?.id ?? "mock-workflow",
    workflowName: submission.workflow?.name ?? "Mock workflow",
    nodeName: submission.nodeName ?? "Code",
    workflowMode: submission.workflowMode ?? "manual",
    workflow: submission.workflow,
    runData,
    previousNode: submission.previousNode ?? runDataNodes.at(-1),
    env: submission.env ?? {},
    blockEnvAccess: submission.blockEnvAccess ?? false,
    variables: submission.variables ?? {},
    query: submission.query,
    executionId: submission.executionId
  }
}
