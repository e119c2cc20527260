import { javaScriptDataNeeds } from "@taskrunner/analyzer"
import type { AnalysisError, SecurityAnalyzerShape } from "@taskrunner/analyzer"
import type { CodeExecutorShape, ExecutionOutput, ExecutionRequest, TaskHandle } from "@taskrunner/executor"
import { MessageCodec, RpcErrorText, RpcMethod } from "@taskrunner/protocol"
import type { DataRequest, ExecutionError, TaskResultData, TaskSettings, WorkerMessage } from "@taskrunner/protocol"
import { Data, Effect, Either } from "effect"

/**
 * A task's answer: n8n's `runner:taskdone` data, and for JavaScript the result as checked JSON
 * text (`resultJson`, then `result` is a placeholder): it goes into the message as it is.
 */
export type TaskAnswer = TaskResultData & { readonly resultJson?: Uint8Array }

/** What a task's pipeline needs from the runner around it. */
export interface TaskIo {
  /**
   * Sends `runner:taskdatarequest`; `answered` gets the `data` of `broker:taskdataresponse`, and
   * for a large response the input items apart, as the JSON text they came in (then `data` has none).
   */
  readonly requestData: (
    params: DataRequest.TaskDataRequestParams,
    answered: (answer: { readonly data: unknown; readonly itemsJson?: Uint8Array }) => void
  ) => void
  /** Relays one console call as a `logNodeOutput` RPC (fire-and-forget, before the task's answer). */
  readonly log: (args: ReadonlyArray<string | null>) => void
  /** Calls a helper on the broker (`runner:rpc`) and waits for its `broker:rpcresponse`. */
  readonly rpc: (
    name: string,
    params: ReadonlyArray<unknown>
  ) => Promise<{ readonly status: "success" | "error"; readonly data?: unknown }>
  /** Milliseconds left until the task's deadline. */
  readonly remainingMs: () => number
}

/** The error object of `runner:taskerror` (spec 4.6), with how it is counted. */
export class TaskFailed extends Data.TaggedError("TaskFailed")<{
  readonly payload: Readonly<Record<string, unknown>>
  /** For metrics and the audit line: `error`, `timeout`, `oom`, `security`, `syntax`, ... */
  readonly kind: string
}> {}

/** Who ran the task, for the audit line (never code, items or secrets). */
export interface TaskLabels {
  readonly nodeName?: string
  readonly nodeId?: string
  readonly workflowName?: string
  readonly workflowId?: string
}

const kindOf = (error: ExecutionError | AnalysisError): string => {
  switch (error._tag) {
    case "TimedOut":
      return "timeout"
    case "OutOfMemory":
      return "oom"
    case "SecurityViolation":
    case "AnalysisFailed":
      return "security"
    case "CodeSyntaxError":
      return "syntax"
    case "RuntimeError":
      return "error"
    default:
      return "process"
  }
}

/** An execution or analysis error as n8n expects it in `runner:taskerror` (spec 4.6). */
export const errorPayload = (error: ExecutionError | AnalysisError, language: "javascript" | "python"): TaskFailed => {
  const kind = kindOf(error)
  switch (error._tag) {
    case "RuntimeError":
      return new TaskFailed({
        kind,
        payload: language === "javascript"
          ? {
            message: error.message,
            ...(error.description === undefined ? {} : { description: error.description }),
            ...(error.lineNumber === undefined ? {} : { lineNumber: error.lineNumber }),
            ...(error.itemIndex === undefined ? {} : { itemIndex: error.itemIndex }),
            context: error.itemIndex === undefined ? {} : { itemIndex: error.itemIndex },
            ...(error.stack === undefined ? {} : { stack: error.stack })
          }
          : { message: error.message, description: error.description ?? "" }
      })
    case "CodeSyntaxError": {
      return new TaskFailed({
        kind,
        payload: language === "javascript"
          // As n8n's runner: V8's stack of a syntax error has no frame in the code, so no line.
          ? { message: error.message, description: "SyntaxError" }
          // n8n's Python runner sends only a message for syntax errors.
          : { message: `${error.message}${error.lineNumber === undefined ? "" : ` (line ${error.lineNumber})`}` }
      })
    }
    case "SecurityViolation":
      return new TaskFailed({ kind, payload: { message: error.message, description: error.description } })
    case "ProcessFailed":
      return new TaskFailed({ kind, payload: { message: error.message, description: error.stderr ?? "" } })
    default:
      return new TaskFailed({ kind, payload: { message: error.message, description: "" } })
  }
}

/** A malformed payload from the broker, reported as the task's error. */
const malformed = (message: string) => new TaskFailed({ kind: "protocol", payload: { message, description: "" } })

const execute = (
  executor: CodeExecutorShape,
  request: ExecutionRequest<TaskFailed>,
  language: "javascript" | "python"
): Effect.Effect<ExecutionOutput, TaskFailed> =>
  executor.execute(request).pipe(
    Effect.mapError((error) => error instanceof TaskFailed ? error : errorPayload(error, language))
  )

const text = (value: unknown, fallback = "") => (typeof value === "string" ? value : fallback)

const nodeOf = (node: DataRequest.WorkflowNode) => ({
  name: node.name,
  ...(node.id === undefined ? {} : { id: node.id }),
  typeVersion: node.typeVersion,
  ...(node.parameters === undefined ? {} : { parameters: node.parameters })
})

/** What n8n's Code-node globals are built from: the parts of the data-request response they read. */
export const workflowDataOf = (
  response: DataRequest.DataRequestResponse,
  timezone: string
): typeof WorkerMessage.WorkflowData.Type => {
  const additional = (response.additionalData ?? {}) as Record<string, unknown>
  const executionId = text(additional["executionId"])
  const source = response.connectionInputSource as { main?: Array<Record<string, unknown> | null> } | null
  const previous = source?.main?.[0]
  const variables = additional["variables"]
  const staticData = response.workflow.staticData
  return {
    workflow: {
      id: response.workflow.id ?? "",
      name: response.workflow.name ?? "",
      active: response.workflow.active ?? false
    },
    staticData: typeof staticData === "object" && staticData !== null && !Array.isArray(staticData)
      ? staticData as Record<string, unknown>
      : {},
    nodes: response.workflow.nodes.map(nodeOf),
    node: nodeOf(response.node),
    runData: response.runExecutionData.resultData.runData as Record<string, ReadonlyArray<unknown>>,
    previousNode: previous !== null && previous !== undefined && typeof previous["previousNode"] === "string"
      ? {
        name: previous["previousNode"],
        outputIndex: typeof previous["previousNodeOutput"] === "number" ? previous["previousNodeOutput"] : 0,
        runIndex: typeof previous["previousNodeRun"] === "number" ? previous["previousNodeRun"] : 0
      }
      : null,
    runIndex: response.runIndex,
    mode: response.mode,
    executionId,
    resumeUrl: `${text(additional["webhookWaitingBaseUrl"])}/${executionId}`,
    resumeFormUrl: `${text(additional["formWaitingBaseUrl"])}/${executionId}`,
    variables: typeof variables === "object" && variables !== null && !Array.isArray(variables)
      ? variables as Record<string, unknown>
      : {},
    customData: response.runExecutionData.resultData.metadata ?? {},
    env: {
      blocked: response.envProviderState?.isEnvAccessBlocked ?? false,
      values: response.envProviderState?.env ?? {}
    },
    timezone
  }
}

/**
 * A child's helper call, passed on to the broker only if it names a helper the broker serves:
 * the child is untrusted, and its own list of helpers is no guarantee.
 */
export const helperCall = (io: Pick<TaskIo, "rpc">): TaskIo["rpc"] => (name, params) =>
  RpcMethod.isRpcMethod(name) && name !== "logNodeOutput"
    ? io.rpc(name, params)
    : Promise.resolve({ status: "error", data: RpcErrorText.methodNotAllowed })

/** The answer of a JavaScript task, as it goes into `runner:taskdone`. */
const answerOf = (output: ExecutionOutput): TaskAnswer => ({
  // Not `output.result`: reading it would parse the text into objects.
  ...(output.resultJson === undefined
    ? { result: output.result }
    : { result: null, resultJson: output.resultJson }),
  ...(output.customData === undefined ? {} : { customData: output.customData }),
  ...(output.staticData === undefined ? {} : { staticData: output.staticData as Record<string, unknown> })
})

/**
 * Starts a JavaScript task: analyse, ask the broker for only the data it needs, execute. No fiber:
 * the analysis is synchronous, the data request goes out first, a child gets the code at once and
 * compiles it while the broker answers, and the input follows. `done` gets the answer once (not
 * after `cancel`, which kills the task's process).
 */
export const startJavaScript = (
  deps: {
    readonly analyzer: SecurityAnalyzerShape | undefined
    readonly executor: CodeExecutorShape
    readonly timezone: string
  },
  settings: TaskSettings.JsTaskSettings,
  io: TaskIo,
  onLabels: (labels: TaskLabels) => void,
  done: (answer: Either.Either<TaskAnswer, TaskFailed>) => void
): { readonly cancel: () => void } => {
  // Analysis happens in every mode, including the raw `runCode` mode.
  const analysis = deps.analyzer === undefined
    ? Either.right({ dataNeeds: javaScriptDataNeeds(settings.code) })
    : deps.analyzer.javascript(settings.code)
  if (Either.isLeft(analysis)) {
    done(Either.left(errorPayload(analysis.left, "javascript")))
    return { cancel: () => {} }
  }
  const needs = analysis.right.dataNeeds
  let handle: TaskHandle | undefined
  let failed = false
  if (settings.nodeMode !== "runCode") {
    io.requestData({
      dataOfNodes: needs.dataOfNodes,
      prevNode: needs.prevNode,
      // Per item, the items are what the snippet runs over, even when it does not read them.
      input: {
        include: needs.input || settings.nodeMode === "runOnceForEachItem",
        ...(settings.chunk === undefined ? {} : { chunk: settings.chunk })
      },
      env: needs.env
    }, ({ data, itemsJson }) => {
      const response = MessageCodec.decodeDataRequestResponse(data)
      if (Either.isLeft(response)) {
        failed = true
        handle?.cancel()
        return done(Either.left(malformed(response.left.message)))
      }
      const { node, workflow } = response.right
      onLabels({
        nodeName: node.name,
        ...(node.id === undefined ? {} : { nodeId: node.id }),
        ...(workflow.name === undefined ? {} : { workflowName: workflow.name }),
        ...(workflow.id === undefined ? {} : { workflowId: workflow.id })
      })
      handle?.provide({
        items: response.right.inputData.main?.[0] ?? [],
        ...(itemsJson === undefined ? {} : { itemsJson }),
        workflow: workflowDataOf(response.right, deps.timezone)
      })
    })
  }
  handle = deps.executor.startJavaScript({
    language: "javascript",
    code: settings.code,
    mode: settings.nodeMode === "runOnceForEachItem"
      ? { _tag: "PerItem", startIndex: settings.chunk?.startIndex ?? 0 }
      : settings.nodeMode === "runCode"
      ? { _tag: "Raw" }
      : { _tag: "AllItems" },
    items: [],
    continueOnFail: settings.continueOnFail ?? false,
    context: { ...settings.additionalProperties },
    timeoutMs: Math.max(1, io.remainingMs()),
    onConsole: io.log,
    onRpc: helperCall(io)
  }, (outcome) => {
    if (!failed) done(Either.mapBoth(outcome, { onLeft: (e) => errorPayload(e, "javascript"), onRight: answerOf }))
  })
  if (settings.nodeMode === "runCode") handle.provide({ items: [] })
  return handle
}

/** Runs a Python task: analyse with CPython's own `ast`, then execute; the items travel with the settings. */
export const runPython = (
  deps: { readonly analyzer: SecurityAnalyzerShape | undefined; readonly executor: CodeExecutorShape },
  settings: TaskSettings.PythonTaskSettings,
  io: TaskIo
): Effect.Effect<TaskResultData, TaskFailed> =>
  Effect.zipRight(
    deps.analyzer === undefined
      ? Effect.void
      : deps.analyzer.python(settings.code).pipe(Effect.mapError((error) => errorPayload(error, "python"))),
    Effect.map(
      execute(deps.executor, {
        language: "python",
        code: settings.code,
        mode: settings.nodeMode === "runOnceForEachItem" ? { _tag: "PerItem", startIndex: 0 } : { _tag: "AllItems" },
        items: settings.items,
        continueOnFail: settings.continueOnFail ?? false,
        context: settings.query === undefined ? {} : { _query: settings.query },
        timeoutMs: Math.max(1, io.remainingMs()),
        onConsole: io.log
      }, "python"),
      (output) => ({ result: output.result })
    )
  )
