import { Effect } from "effect"
import type { ResolvedSubmission } from "./TaskSubmission.js"

/**
 * The broker side of the Code node's `helpers.*` RPCs (spec 4.4), done for real: `httpRequest`
 * and `request` make the HTTP request, the binary helpers work on the submission's items.
 * Buffers travel as `{type: "Buffer", data: [bytes]}` both ways.
 */

export type HelperAnswer = { readonly status: "success" | "error"; readonly data?: unknown }

const fail = (data: unknown): HelperAnswer => ({ status: "error", data })
const succeed = (
  data: unknown
): HelperAnswer => (data === undefined ? { status: "success" } : { status: "success", data })

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** A `{type: "Buffer", data}` parameter (or a string) as bytes; undefined for anything else. */
const bytesOf = (value: unknown): Buffer | undefined => {
  if (typeof value === "string") return Buffer.from(value, "utf8")
  if (isRecord(value) && value["type"] === "Buffer" && Array.isArray(value["data"])) {
    return Buffer.from(value["data"].filter((b): b is number => typeof b === "number"))
  }
  return undefined
}

const asBufferJson = (bytes: Buffer) => ({ type: "Buffer", data: [...bytes] })

const extensions: Record<string, string> = {
  "application/json": "json",
  "text/plain": "txt",
  "text/html": "html",
  "text/csv": "csv",
  "image/png": "png",
  "image/jpeg": "jpg",
  "application/pdf": "pdf"
}

interface RequestOptions {
  readonly url: string
  readonly method: string
  readonly headers: Record<string, string>
  readonly body: string | undefined
  readonly timeoutMs: number
  readonly fullResponse: boolean
  /** Parse the answer as JSON: always, never, or when the response says it is JSON. */
  readonly json: "always" | "never" | "auto"
}

const optionsOf = (params: ReadonlyArray<unknown>, legacy: boolean): RequestOptions | string => {
  const first = params[0]
  const raw: Record<string, unknown> = typeof first === "string" ? { uri: first } : isRecord(first) ? first : {}
  const url = raw["url"] ?? raw["uri"]
  if (typeof url !== "string" || url === "") return "The request needs a url"
  let target: URL
  try {
    target = new URL(url)
  } catch {
    return `Invalid URL: ${url}`
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") return `Unsupported protocol ${target.protocol}`
  const qs = raw["qs"]
  if (isRecord(qs)) { for (const [key, value] of Object.entries(qs)) target.searchParams.append(key, String(value)) }
  const headers: Record<string, string> = {}
  if (isRecord(raw["headers"])) {
    for (const [key, value] of Object.entries(raw["headers"])) headers[key.toLowerCase()] = String(value)
  }
  let body: string | undefined
  const given = raw["body"]
  if (given !== undefined && given !== null) {
    if (typeof given === "string") body = given
    else {
      body = JSON.stringify(given)
      headers["content-type"] ??= "application/json"
    }
  }
  const timeout = raw["timeout"]
  return {
    url: target.toString(),
    method: typeof raw["method"] === "string" ? raw["method"].toUpperCase() : "GET",
    headers,
    body,
    timeoutMs: typeof timeout === "number" && timeout > 0 ? Math.min(timeout, 300_000) : 30_000,
    fullResponse: raw["returnFullResponse"] === true || raw["resolveWithFullResponse"] === true,
    json: raw["json"] === true ? "always" : legacy ? "never" : "auto"
  }
}

const httpRequest = (params: ReadonlyArray<unknown>, legacy: boolean): Effect.Effect<HelperAnswer> =>
  Effect.promise(async () => {
    const options = optionsOf(params, legacy)
    if (typeof options === "string") return fail(options)
    let response: Response
    try {
      response = await fetch(options.url, {
        method: options.method,
        headers: options.headers,
        ...(options.body === undefined ? {} : { body: options.body }),
        signal: AbortSignal.timeout(options.timeoutMs)
      })
    } catch (error) {
      const cause = (error as { cause?: { message?: unknown } }).cause?.message
      return fail(typeof cause === "string" ? cause : error instanceof Error ? error.message : String(error))
    }
    const text = await response.text()
    if (!response.ok) return fail(`Request failed with status code ${response.status}`)
    const isJson = options.json === "always" ||
      (options.json === "auto" && /json/i.test(response.headers.get("content-type") ?? ""))
    let body: unknown = text
    if (isJson && text !== "") {
      try {
        body = JSON.parse(text)
      } catch {
        body = text
      }
    }
    if (!options.fullResponse) return succeed(body)
    return succeed({
      body,
      headers: Object.fromEntries(response.headers.entries()),
      statusCode: response.status,
      statusMessage: response.statusText
    })
  })

/** The binary entry `property` of input item `index`, or why there is none. */
const binaryOf = (submission: ResolvedSubmission, index: unknown, property: unknown) => {
  const item = typeof index === "number" ? submission.items[index] : undefined
  const binary = (item as { binary?: Record<string, unknown> } | undefined)?.binary
  if (binary === undefined) return "No binary data exists on item!"
  const entry = typeof property === "string" ? binary[property] : undefined
  if (!isRecord(entry)) return `Item has no binary property called "${String(property)}"`
  return entry
}

/** Answers one helper call of a task of `submission`. */
export const callHelper = (
  name: string,
  params: ReadonlyArray<unknown>,
  submission: ResolvedSubmission
): Effect.Effect<HelperAnswer> => {
  switch (name) {
    case "helpers.httpRequest":
      return httpRequest(params, false)
    case "helpers.request":
      return httpRequest(params, true)
    case "helpers.binaryToString": {
      const bytes = bytesOf(params[0])
      const encoding = typeof params[1] === "string" && Buffer.isEncoding(params[1]) ? params[1] : "utf8"
      return Effect.succeed(bytes === undefined ? fail("The data must be a Buffer") : succeed(bytes.toString(encoding)))
    }
    case "helpers.prepareBinaryData": {
      const bytes = bytesOf(params[0])
      if (bytes === undefined) return Effect.succeed(fail("The data must be a Buffer"))
      const fileName = typeof params[1] === "string" ? params[1] : undefined
      const mimeType = typeof params[2] === "string" ? params[2] : "application/octet-stream"
      const fileExtension = fileName?.includes(".") ? fileName.split(".").pop() : extensions[mimeType]
      return Effect.succeed(succeed({
        mimeType,
        fileType: mimeType.split("/")[0],
        ...(fileExtension === undefined ? {} : { fileExtension }),
        data: bytes.toString("base64"),
        ...(fileName === undefined ? {} : { fileName }),
        fileSize: `${bytes.length} B`
      }))
    }
    case "helpers.assertBinaryData": {
      const entry = binaryOf(submission, params[0], params[1])
      return Effect.succeed(typeof entry === "string" ? fail(entry) : succeed(entry))
    }
    case "helpers.getBinaryDataBuffer": {
      const entry = binaryOf(submission, params[0], params[1])
      if (typeof entry === "string") return Effect.succeed(fail(entry))
      const data = entry["data"]
      return Effect.succeed(
        typeof data === "string"
          ? succeed(asBufferJson(Buffer.from(data, "base64")))
          : fail("The binary data has no content")
      )
    }
    case "helpers.setBinaryDataBuffer": {
      const target = params[0]
      const bytes = bytesOf(params[1])
      if (!isRecord(target) || bytes === undefined) return Effect.succeed(fail("Expected binary data and a Buffer"))
      return Effect.succeed(succeed({ ...target, data: bytes.toString("base64"), fileSize: `${bytes.length} B` }))
    }
    default:
      return Effect.succeed(fail(`${name} is not supported by the mock broker`))
  }
}
