import { Either, Option, Schema, SchemaAST } from "effect"
import type { ParseResult } from "effect"
import * as BrokerMessage from "./BrokerMessage.js"
import * as DataRequest from "./DataRequest.js"
import { findForbiddenKeyPath, formatPath, isJsonObject, preview } from "./internal/json.js"
import { MalformedFrame, UnencodableMessage } from "./MalformedFrame.js"
import * as RunnerMessage from "./RunnerMessage.js"
import { TaskErrorPayload } from "./TaskErrorPayload.js"
import * as TaskSettings from "./TaskSettings.js"
import * as WorkerMessage from "./WorkerMessage.js"

/** What `ws` hands to a message listener: text, or binary in one of its shapes. */
export type Frame = string | Uint8Array | ArrayBuffer | ReadonlyArray<Uint8Array>

/** Decoding limits. */
export interface DecodeOptions {
  /** Frames longer than this many bytes are rejected before parsing. Default: no limit. */
  readonly maxBytes?: number
}

type Side = "broker" | "runner" | "worker"

const utf8 = new TextDecoder("utf-8", { fatal: true })

const frameText = (frame: Frame, from: Side, maxBytes: number): Either.Either<string, MalformedFrame> => {
  if (typeof frame === "string") {
    // A string's UTF-8 length is at least its UTF-16 length, so this check never rejects early.
    if (frame.length > maxBytes && Buffer.byteLength(frame, "utf8") > maxBytes) {
      return Either.left(new MalformedFrame({ from, reason: "TooLarge", detail: tooLarge(maxBytes) }))
    }
    return Either.right(frame)
  }
  const bytes = frame instanceof ArrayBuffer
    ? new Uint8Array(frame)
    : frame instanceof Uint8Array
    ? frame
    : Buffer.concat(frame)
  if (bytes.byteLength > maxBytes) {
    return Either.left(new MalformedFrame({ from, reason: "TooLarge", detail: tooLarge(maxBytes) }))
  }
  try {
    return Either.right(utf8.decode(bytes))
  } catch {
    return Either.left(new MalformedFrame({ from, reason: "InvalidUtf8", detail: "the frame is not valid UTF-8" }))
  }
}

const tooLarge = (maxBytes: number) => `the frame is larger than the ${maxBytes} byte limit`

// `__proto__` can only appear as a key literally or through a \u escape; only then is the parsed
// tree walked, so ordinary large payloads pay nothing for the check.
const mayHideForbiddenKey = (text: string): boolean => text.includes("__proto__") || text.includes("\\u")

const parseObject = (text: string, from: Side): Either.Either<Record<string, unknown>, MalformedFrame> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    const detail = error instanceof Error ? error.message : "unparsable JSON"
    return Either.left(new MalformedFrame({ from, reason: "InvalidJson", detail: `invalid JSON: ${detail}` }))
  }
  if (!isJsonObject(parsed)) {
    const kind = parsed === null ? "null" : Array.isArray(parsed) ? "an array" : typeof parsed
    return Either.left(
      new MalformedFrame({ from, reason: "NotAnObject", detail: `expected a JSON object, got ${kind}` })
    )
  }
  if (mayHideForbiddenKey(text)) {
    const path = findForbiddenKeyPath(parsed)
    if (path !== undefined) {
      return Either.left(
        new MalformedFrame({
          from,
          reason: "ForbiddenKey",
          path: formatPath(path),
          detail: "the key \"__proto__\" is not allowed"
        })
      )
    }
  }
  return Either.right(parsed)
}

/**
 * Finds the most specific failure of a parse issue, with its path, and renders it without dumping
 * values. For a union, the member that got furthest into the value wins; if none got past the
 * union itself, the union as a whole is what was expected.
 */
export const describeParseIssue = (
  issue: ParseResult.ParseIssue
): { readonly path: string; readonly detail: string } => {
  const leaf = findLeaf(issue)
  return { path: formatPath(leaf.path), detail: leaf.detail }
}

interface Leaf {
  readonly path: ReadonlyArray<PropertyKey>
  readonly detail: string
}

const findLeaf = (issue: ParseResult.ParseIssue): Leaf => {
  switch (issue._tag) {
    case "Pointer": {
      const inner = findLeaf(issue.issue)
      const here = Array.isArray(issue.path) ? (issue.path as ReadonlyArray<PropertyKey>) : [issue.path as PropertyKey]
      return { path: [...here, ...inner.path], detail: inner.detail }
    }
    case "Composite": {
      const issues = Array.isArray(issue.issues)
        ? (issue.issues as ReadonlyArray<ParseResult.ParseIssue>)
        : [issue.issues as ParseResult.ParseIssue]
      const leaves = issues.map(findLeaf)
      const deepest = leaves.reduce((best, leaf) => (leaf.path.length > best.path.length ? leaf : best))
      if (leaves.length > 1 && deepest.path.length === 0) {
        return { path: [], detail: `expected ${expected(issue.ast)}, got ${preview(issue.actual)}` }
      }
      return deepest
    }
    case "Transformation":
      return findLeaf(issue.issue)
    case "Refinement":
      return issue.kind === "From" ? findLeaf(issue.issue) : { path: [], detail: refinementDetail(issue) }
    case "Missing":
      return { path: [], detail: "is missing" }
    case "Unexpected":
      return { path: [], detail: "is not a known field" }
    case "Forbidden":
      return { path: [], detail: "cannot be decoded synchronously" }
    case "Type":
      return { path: [], detail: `expected ${expected(issue.ast)}, got ${preview(issue.actual)}` }
  }
}

const refinementDetail = (issue: ParseResult.Refinement): string => {
  // A predicate returning a string, or a `message` annotation, is our own wording; else describe it.
  if (issue.issue._tag === "Type" && issue.issue.message !== undefined) return issue.issue.message
  const annotation = SchemaAST.getMessageAnnotation(issue.ast)
  if (Option.isSome(annotation)) {
    const text = annotation.value(issue)
    if (typeof text === "string") return text
    if (typeof text === "object" && text !== null && "message" in text && typeof text.message === "string") {
      return text.message
    }
  }
  return `expected ${expected(issue.ast)}, got ${preview(issue.actual)}`
}

// Keywords describe themselves ("number"); declared schemas (items) carry a description.
const expected = (ast: SchemaAST.AST): string =>
  SchemaAST.isDeclaration(ast)
    ? Option.getOrElse(SchemaAST.getDescriptionAnnotation(ast), () => String(ast))
    : String(ast)

const makeDecoder = <Table extends Record<string, Schema.Schema.AnyNoContext>>(table: Table, from: Side) => {
  const decoders = new Map<string, (u: unknown) => Either.Either<unknown, ParseResult.ParseError>>()
  for (const [type, schema] of Object.entries(table)) {
    decoders.set(type, Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "ignore" }))
  }
  return (
    frame: Frame,
    options?: DecodeOptions
  ): Either.Either<Schema.Schema.Type<Table[keyof Table]>, MalformedFrame> =>
    Either.flatMap(
      frameText(frame, from, options?.maxBytes ?? Number.POSITIVE_INFINITY),
      (text) =>
        Either.flatMap(parseObject(text, from), (object) => {
          const type = object["type"]
          if (typeof type !== "string") {
            return Either.left(
              new MalformedFrame({
                from,
                reason: "MissingType",
                path: "type",
                detail: "expected a string message type"
              })
            )
          }
          const decode = decoders.get(type)
          if (decode === undefined) {
            return Either.left(
              new MalformedFrame({ from, reason: "UnknownType", detail: `unknown message type ${preview(type, 100)}` })
            )
          }
          return Either.mapLeft(decode(object), (error) => {
            const { detail, path } = describeParseIssue(error.issue)
            return new MalformedFrame({ from, reason: "InvalidField", messageType: type, path, detail })
          }) as Either.Either<Schema.Schema.Type<Table[keyof Table]>, MalformedFrame>
        })
    )
}

/** Decodes a frame a broker sent (what a runner receives). Never throws. */
export const decodeBrokerMessage: (
  frame: Frame,
  options?: DecodeOptions
) => Either.Either<BrokerMessage.BrokerMessage, MalformedFrame> = makeDecoder(BrokerMessage.schemas, "broker")

/** Decodes a frame a runner sent (what a broker receives). Never throws. */
export const decodeRunnerMessage: (
  frame: Frame,
  options?: DecodeOptions
) => Either.Either<RunnerMessage.RunnerMessage, MalformedFrame> = makeDecoder(RunnerMessage.schemas, "runner")

const makeEncoder = <M extends { readonly type: string }>(table: Record<string, Schema.Schema.AnyNoContext>) => {
  const encoders = new Map<string, (a: unknown) => Either.Either<unknown, ParseResult.ParseError>>()
  for (const [type, schema] of Object.entries(table)) {
    encoders.set(type, Schema.encodeUnknownEither(schema, { errors: "first", onExcessProperty: "ignore" }))
  }
  return (message: M): Either.Either<string, UnencodableMessage> => {
    const encode = encoders.get(message.type)
    if (encode === undefined) {
      return Either.left(new UnencodableMessage({ messageType: message.type, detail: "unknown message type" }))
    }
    return Either.flatMap(
      Either.mapLeft(encode(message), (error) => {
        const { detail, path } = describeParseIssue(error.issue)
        return new UnencodableMessage({ messageType: message.type, detail: `${path}: ${detail}` })
      }),
      (encoded) => {
        try {
          return Either.right(JSON.stringify(encoded))
        } catch (error) {
          const detail = error instanceof Error ? error.message : "JSON.stringify failed"
          return Either.left(new UnencodableMessage({ messageType: message.type, detail }))
        }
      }
    )
  }
}

/** Encodes a message for a runner to send: n8n's JSON (camelCase keys, no `undefined` keys). */
export const encodeRunnerMessage: (message: RunnerMessage.RunnerMessage) => Either.Either<string, UnencodableMessage> =
  makeEncoder(RunnerMessage.schemas)

/**
 * Encodes a message this side built from typed values, without the schema walk of
 * `encodeRunnerMessage` (the type is the check; a runner sends several per task). Same JSON as
 * `encodeRunnerMessage` for any message of the schema (a property test holds them together).
 */
export const writeRunnerMessage = (message: RunnerMessage.RunnerMessage): Either.Either<string, UnencodableMessage> =>
  stringify(message)

const stringify = (message: { readonly type: string }): Either.Either<string, UnencodableMessage> => {
  try {
    return Either.right(JSON.stringify(message))
  } catch (error) {
    const detail = error instanceof Error ? error.message : "JSON.stringify failed"
    return Either.left(new UnencodableMessage({ messageType: message.type, detail }))
  }
}

/** Encodes a message for a broker to send. */
export const encodeBrokerMessage: (message: BrokerMessage.BrokerMessage) => Either.Either<string, UnencodableMessage> =
  makeEncoder(BrokerMessage.schemas)

const makePayloadDecoder = <A>(
  schema: Schema.Schema<A>,
  from: Side,
  messageType: string,
  field: string
): (payload: unknown) => Either.Either<A, MalformedFrame> => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "ignore" })
  return (payload) =>
    Either.mapLeft(decode(payload), (error) => {
      const { detail, path } = describeParseIssue(error.issue)
      return new MalformedFrame({
        from,
        reason: "InvalidField",
        messageType,
        path: path === "(root)" ? field : path.startsWith("[") ? `${field}${path}` : `${field}.${path}`,
        detail
      })
    })
}

/** Decodes `broker:tasksettings.settings` of a task, by its task type. */
export const decodeTaskSettings = {
  javascript: makePayloadDecoder(TaskSettings.JsTaskSettings, "broker", "broker:tasksettings", "settings"),
  python: makePayloadDecoder(TaskSettings.PythonTaskSettings, "broker", "broker:tasksettings", "settings")
} as const

/** Decodes `broker:taskdataresponse.data`. */
export const decodeDataRequestResponse: (
  data: unknown
) => Either.Either<DataRequest.DataRequestResponse, MalformedFrame> = makePayloadDecoder(
  DataRequest.DataRequestResponse,
  "broker",
  "broker:taskdataresponse",
  "data"
)

/** Decodes `runner:taskerror.error` when it has n8n's usual shape (a broker reads it this way). */
export const decodeTaskErrorPayload: (error: unknown) => Either.Either<TaskErrorPayload, MalformedFrame> =
  makePayloadDecoder(TaskErrorPayload, "runner", "runner:taskerror", "error")

/** Decodes a message frame from a task's child process (untrusted). Never throws. */
export const decodeFromWorker: (
  frame: Frame,
  options?: DecodeOptions
) => Either.Either<WorkerMessage.FromWorker, MalformedFrame> = makeDecoder({
  ready: WorkerMessage.WorkerReady,
  console: WorkerMessage.WorkerConsole,
  rpc: WorkerMessage.WorkerRpc,
  done: WorkerMessage.WorkerDone
}, "worker")

/** Encodes a message for a task's child process. */
export const encodeToWorker: (message: WorkerMessage.ToWorker) => Either.Either<string, UnencodableMessage> =
  makeEncoder({
    task: WorkerMessage.RunTask,
    input: WorkerMessage.TaskInput,
    rpcResult: WorkerMessage.RpcResult
  })

/** `encodeToWorker` without the schema walk, for messages built from typed values (see `writeRunnerMessage`). */
export const writeToWorker = (message: WorkerMessage.ToWorker): Either.Either<string, UnencodableMessage> =>
  stringify(message)

/**
 * Parses JSON that came from outside (a child's result) as data only: never throws, and refuses
 * `__proto__` keys like frames do.
 */
export const parseJson = (text: string | Uint8Array, from: Side): Either.Either<unknown, MalformedFrame> => {
  const decoded = typeof text === "string" ? Either.right(text) : frameText(text, from, Number.POSITIVE_INFINITY)
  return Either.flatMap(decoded, (json) => {
    let parsed: unknown
    try {
      parsed = JSON.parse(json)
    } catch (error) {
      const detail = error instanceof Error ? error.message : "unparsable JSON"
      return Either.left(new MalformedFrame({ from, reason: "InvalidJson", detail: `invalid JSON: ${detail}` }))
    }
    if (mayHideForbiddenKey(json)) {
      const path = findForbiddenKeyPath(parsed)
      if (path !== undefined) {
        return Either.left(
          new MalformedFrame({
            from,
            reason: "ForbiddenKey",
            path: formatPath(path),
            detail: "the key \"__proto__\" is not allowed"
          })
        )
      }
    }
    return Either.right(parsed)
  })
}

/** Decodes a message frame from the Python fork server (untrusted: it runs in the jail). */
export const decodeFromPythonServer: (
  frame: Frame,
  options?: DecodeOptions
) => Either.Either<WorkerMessage.FromPythonServer, MalformedFrame> = makeDecoder({
  ready: WorkerMessage.WorkerReady,
  pydata: WorkerMessage.PythonData,
  pydone: WorkerMessage.PythonDone
}, "worker")

/** Encodes a message for the Python fork server. */
export const encodeToPythonServer: (
  message:
    | typeof WorkerMessage.PythonDispatch.Type
    | typeof WorkerMessage.PythonTask.Type
    | typeof WorkerMessage.PythonCancel.Type
) => Either.Either<string, UnencodableMessage> = makeEncoder({
  dispatch: WorkerMessage.PythonDispatch,
  task: WorkerMessage.PythonTask,
  cancel: WorkerMessage.PythonCancel
})

const decodePipe = Schema.decodeUnknownEither(WorkerMessage.PipeMessage, {
  errors: "first",
  onExcessProperty: "ignore"
})

/**
 * Validates a Python child's pipe message as n8n's runner does (spec 7.4), with its messages:
 * `Invalid pipe message length: 0 bytes`, `Invalid pipe message content: ...`.
 */
export const decodePipeMessage = (payload: Uint8Array): Either.Either<WorkerMessage.PipeMessage, string> => {
  if (payload.byteLength === 0) return Either.left("Invalid pipe message length: 0 bytes")
  const parsed = parseJson(payload, "worker")
  if (Either.isLeft(parsed)) return Either.left(`Invalid pipe message content: ${parsed.left.detail}`)
  const value = parsed.right
  if (!isJsonObject(value)) return Either.left("Invalid pipe message content: expected an object")
  const hasResult = Object.prototype.hasOwnProperty.call(value, "result")
  const hasError = Object.prototype.hasOwnProperty.call(value, "error")
  if (hasResult === hasError) {
    return Either.left("Invalid pipe message content: expected exactly one of result and error")
  }
  return Either.mapLeft(decodePipe(value), (error) => {
    const { detail, path } = describeParseIssue(error.issue)
    return `Invalid pipe message content: ${path} ${detail}`
  })
}
