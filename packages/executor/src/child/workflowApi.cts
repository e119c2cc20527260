/**
 * n8n's Code-node globals (`$`, `$input`, `$node`, `$prevNode`, `$workflow`, `$execution`,
 * `$getWorkflowStaticData`, `$vars`, `$env`, `$now`, `$today`, `DateTime`, `Duration`,
 * `Interval`, `$jmespath`, `helpers`, ...), built from the broker's data-request response.
 *
 * `installWorkflowApi` never runs in the child's own realm: the child evaluates its source
 * (`installWorkflowApi.toString()`) inside each task's context, so every object and function it
 * makes belongs to that context (whose `Function` cannot compile strings). It must therefore use
 * nothing from this module's scope: only its parameters and the context's own globals.
 *
 * It runs in two steps: the globals' functions are made when the context is prepared (before the
 * task comes), and the returned `bind` gives them the task's data once it is here. A context
 * serves one task, so `bind` is called once.
 */

function installWorkflowApi(host: installWorkflowApi.ApiHost): installWorkflowApi.Bind {
  "use strict"
  const g = globalThis as unknown as Record<string, unknown>
  const define = (name: string, value: unknown) =>
    Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false })
  /** A global computed on first read (the libraries are only evaluated when used). */
  const lazy = (name: string, compute: () => unknown) =>
    Object.defineProperty(g, name, {
      get() {
        const value = compute()
        define(name, value)
        return value
      },
      set(value: unknown) {
        define(name, value)
      },
      configurable: true,
      enumerable: false
    })
  /** n8n's own errors: its runner reports them with their message only (marked for the child). */
  const fail = (message: string): never => {
    const error = new Error(message)
    Object.defineProperty(error, "__taskrunnerApiError", { value: true })
    throw error
  }

  // The task's data, set by `bind`.
  let data = undefined as unknown as installWorkflowApi.WorkflowData
  let items: ReadonlyArray<Item> = []
  let startIndex = 0
  let itemIndex = 0
  let nodeByName = new Map<string, installWorkflowApi.WorkflowData["node"]>()
  const parametersOf = (node: { readonly parameters?: unknown } | undefined) =>
    (node?.parameters ?? {}) as Record<string, unknown>

  // --- Items of other nodes -----------------------------------------------------------------

  const outputOf = (name: string, branch = 0, run?: number): ReadonlyArray<Item> => {
    const runs = data.runData[name]
    if (runs === undefined || runs.length === 0) return []
    const entry = runs[run ?? runs.length - 1]
    return entry?.data?.main?.[branch] ?? []
  }

  type Item = installWorkflowApi.Item
  const pairedIndex = (item: Item | undefined): number | undefined => {
    const paired = item?.pairedItem
    if (typeof paired === "number") return paired
    if (Array.isArray(paired)) return pairedIndex({ pairedItem: paired[0] } as Item)
    if (paired !== null && typeof paired === "object" && !Array.isArray(paired)) {
      return (paired as { item?: number }).item ?? 0
    }
    return undefined
  }

  /** The item of node `target` that input item `index` came from, following paired items back. */
  const pairedItemOf = (target: string, index: number): Item => {
    let item: Item | undefined = items[index - startIndex]
    let node = data.previousNode?.name
    for (let hops = 0; node !== undefined && hops < 1000; hops++) {
      const paired = pairedIndex(item)
      if (paired === undefined) break
      const runs = data.runData[node]
      const output = outputOf(node)
      const found = output[paired]
      if (node === target) {
        if (found === undefined) break
        return found
      }
      item = found
      const source = runs?.[runs.length - 1]?.source?.[0]
      node = source?.previousNode
    }
    return fail(
      `Paired item data for item from node '${target}' is unavailable. Ensure '${target}' is providing the required output.`
    )
  }

  const nodeProxy = (name: unknown) => {
    if (typeof name !== "string") return fail("The node name must be a string")
    if (!nodeByName.has(name)) return fail("Referenced node doesn't exist")
    const all = (branch?: number, run?: number) => outputOf(name, branch, run)
    return Object.freeze({
      all,
      first: (branch?: number, run?: number) => all(branch, run)[0],
      last: (branch?: number, run?: number) => {
        const output = all(branch, run)
        return output[output.length - 1]
      },
      get item() {
        return pairedItemOf(name, itemIndex)
      },
      pairedItem: (index?: number) => pairedItemOf(name, index ?? itemIndex),
      itemMatching: (index: number) => pairedItemOf(name, index),
      get isExecuted() {
        return data.runData[name] !== undefined
      },
      get params() {
        return parametersOf(nodeByName.get(name))
      },
      get runIndex() {
        return Math.max(0, (data.runData[name]?.length ?? 1) - 1)
      }
    })
  }
  define("$", nodeProxy)
  define(
    "$items",
    (name?: string, branch?: number, run?: number) => (name === undefined ? items : outputOf(name, branch, run))
  )
  define(
    "$node",
    new Proxy({}, {
      get(_target, name) {
        if (typeof name !== "string" || !nodeByName.has(name)) return undefined
        const output = outputOf(name)
        const item = output[itemIndex] ?? output[0]
        return Object.freeze({
          json: item?.json ?? {},
          binary: item?.binary ?? {},
          parameter: parametersOf(nodeByName.get(name)),
          runIndex: Math.max(0, (data.runData[name]?.length ?? 1) - 1)
        })
      }
    })
  )
  define(
    "$input",
    Object.freeze({
      all: () => items,
      first: () => items[0],
      last: () => items[items.length - 1],
      get item() {
        return items[itemIndex - startIndex]
      },
      // n8n: the parameters of the node the input comes from.
      get params() {
        return parametersOf(data.previousNode === null ? undefined : nodeByName.get(data.previousNode.name))
      },
      context: Object.freeze({ noItemsLeft: false })
    })
  )

  // --- The execution ---------------------------------------------------------------------------

  let customData: Record<string, string> = {}
  const setCustom = (key: unknown, value: unknown) => {
    if (typeof key !== "string") fail("Custom data key must be a string")
    if (Object.keys(customData).length >= 10 && !((key as string) in customData)) {
      fail("Custom data can only contain up to 10 items")
    }
    customData[(key as string).slice(0, 50)] = String(value).slice(0, 255)
  }
  const customDataApi = Object.freeze({
    set: setCustom,
    setAll: (values: Record<string, unknown>) => {
      for (const [key, value] of Object.entries(values ?? {})) setCustom(key, value)
    },
    get: (key: string) => customData[key],
    getAll: () => ({ ...customData })
  })

  let staticData: Record<string, unknown> = {}
  let staticBefore = "{}"
  define("$getWorkflowStaticData", (type: unknown) => {
    if (type !== "global" && type !== "node") {
      return fail(`The static data of type "${String(type)}" is not known. Valid types are "global" and "node".`)
    }
    const key = type === "global" ? "global" : `node:${data.node.name}`
    if (staticData[key] === undefined || staticData[key] === null || typeof staticData[key] !== "object") {
      staticData[key] = {}
    }
    return staticData[key]
  })

  const blockedEnv = new Proxy({}, {
    get: () => fail("access to env vars denied")
  })

  // --- Dates and queries ----------------------------------------------------------------------

  type Luxon = Record<string, unknown> & {
    DateTime: { now: () => { startOf: (unit: string) => unknown } }
    Settings: { defaultZone: unknown }
  }
  let luxon: Luxon | undefined
  const loadLuxon = (): Luxon => {
    if (luxon === undefined) {
      const loaded = host.library("luxon") as Luxon
      loaded.Settings.defaultZone = data.timezone
      luxon = loaded
    }
    return luxon
  }
  lazy("DateTime", () => loadLuxon()["DateTime"])
  lazy("Duration", () => loadLuxon()["Duration"])
  lazy("Interval", () => loadLuxon()["Interval"])
  lazy("$now", () => loadLuxon().DateTime.now())
  lazy("$today", () => loadLuxon().DateTime.now().startOf("day"))
  const jmespath = (value: unknown, expression: unknown) =>
    (host.library("jmespath") as { search: (v: unknown, e: unknown) => unknown }).search(value, expression)
  define("$jmespath", jmespath)
  define("$jmesPath", jmespath)

  // --- Helpers: forwarded to the broker, or refused like n8n's runner does --------------------

  const forwarded = [
    "assertBinaryData",
    "getBinaryDataBuffer",
    "prepareBinaryData",
    "setBinaryDataBuffer",
    "binaryToString",
    "httpRequest",
    "request"
  ]
  const unsupported = [
    "httpRequestWithAuthentication",
    "requestWithAuthenticationPaginated",
    "copyBinaryFile",
    "createReadStream",
    "getBinaryStream",
    "binaryToBuffer",
    "getBinaryMetadata",
    "getStoragePath",
    "getBinaryPath",
    "writeContentToFile",
    "copyInputItems",
    "returnJsonArray",
    "normalizeItems",
    "getSSHClient",
    "createDeferredPromise",
    "constructExecutionMetaData"
  ]
  /** Buffers travel as `{type: "Buffer", data: [...]}` (what JSON.stringify makes of them) and come back as Buffers. */
  const revive = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(revive)
    if (value === null || typeof value !== "object") return value
    const record = value as Record<string, unknown>
    if (record["type"] === "Buffer" && Array.isArray(record["data"]) && Object.keys(record).length === 2) {
      return (g["Buffer"] as { from: (data: unknown) => unknown }).from(record["data"])
    }
    for (const key of Object.keys(record)) record[key] = revive(record[key])
    return record
  }
  const call = (name: string, params: Array<unknown>) =>
    new Promise((resolve, reject) => {
      host.rpc(name, JSON.stringify(params), (ok, answer) => {
        const value = answer === undefined ? undefined : revive(JSON.parse(answer))
        if (ok) resolve(value)
        else reject(typeof value === "string" ? new Error(value) : value)
      })
    })
  const helpers: Record<string, unknown> = {}
  for (const name of forwarded) helpers[name] = (...params: Array<unknown>) => call(`helpers.${name}`, params)
  for (const name of unsupported) {
    helpers[name] = () => fail(`The function "helpers.${name}" is not supported in the Code Node`)
  }
  define("helpers", Object.freeze(helpers))

  const state: installWorkflowApi.ApiState = Object.freeze({
    customData: () => ({ ...customData }),
    staticData: () => (JSON.stringify(staticData) === staticBefore ? undefined : staticData),
    setItem: (index: number) => {
      itemIndex = index
    }
  })

  // --- The task's data: the node, the workflow, the execution ---------------------------------

  return (taskData, taskItems, taskStartIndex) => {
    data = taskData
    items = taskItems
    startIndex = taskStartIndex
    itemIndex = taskStartIndex
    nodeByName = new Map(data.nodes.map((node) => [node.name, node]))
    customData = { ...data.customData }
    staticData = data.staticData
    staticBefore = JSON.stringify(staticData)
    define("$prevNode", data.previousNode ?? {})
    define("$runIndex", data.runIndex)
    define("$mode", data.mode)
    define("$nodeId", data.node.id)
    define("$nodeVersion", data.node.typeVersion)
    define("$parameter", parametersOf(data.node))
    define("$workflow", Object.freeze({ ...data.workflow }))
    define("$vars", Object.freeze({ ...data.variables }))
    define(
      "$execution",
      Object.freeze({
        id: data.executionId,
        mode: data.mode === "manual" ? "test" : "production",
        resumeUrl: data.resumeUrl,
        resumeFormUrl: data.resumeFormUrl,
        customData: customDataApi
      })
    )
    define("$env", data.env.blocked ? blockedEnv : Object.freeze({ ...data.env.values }))
    return state
  }
}

// oxlint-disable-next-line typescript/no-namespace
declare namespace installWorkflowApi {
  /** What the runner sends about the workflow (all JSON). */
  export interface WorkflowData {
    readonly workflow: { readonly id: string; readonly name: string; readonly active: boolean }
    readonly staticData: Record<string, unknown>
    readonly nodes: ReadonlyArray<
      { readonly name: string; readonly id?: string; readonly typeVersion?: number; readonly parameters?: unknown }
    >
    readonly node: {
      readonly name: string
      readonly id?: string
      readonly typeVersion?: number
      readonly parameters?: unknown
    }
    readonly runData: Record<string, ReadonlyArray<RunEntry>>
    readonly previousNode: { readonly name: string; readonly outputIndex: number; readonly runIndex: number } | null
    readonly runIndex: number
    readonly mode: string
    readonly executionId: string
    readonly resumeUrl: string
    readonly resumeFormUrl: string
    readonly variables: Record<string, unknown>
    readonly customData: Record<string, string>
    readonly env: { readonly blocked: boolean; readonly values: Record<string, string> }
    readonly timezone: string
  }

  export interface RunEntry {
    readonly data?: { readonly main?: ReadonlyArray<ReadonlyArray<Item> | null> }
    readonly source?: ReadonlyArray<{ readonly previousNode: string; readonly previousNodeOutput?: number } | null>
  }

  export interface Item {
    readonly json?: unknown
    readonly binary?: unknown
    readonly pairedItem?: number | { readonly item?: number; readonly input?: number } | ReadonlyArray<unknown>
  }

  /** Host services the API calls (functions of the child's realm: they take and give only text and callbacks). */
  export interface ApiHost {
    /** Calls a helper on the broker's side (params as JSON); `done` gets its answer as JSON text. */
    readonly rpc: (name: string, params: string, done: (ok: boolean, answer: string | undefined) => void) => void
    /** Evaluates a bundled library (luxon, jmespath) in the context, once per task; returns its exports. */
    readonly library: (name: "luxon" | "jmespath") => unknown
  }

  /** Gives the globals the task's data and input items (`startIndex`: the first item's position). */
  export type Bind = (data: WorkflowData, items: ReadonlyArray<Item>, startIndex: number) => ApiState

  /** What the child reads back after the task: the custom data, and the static data if it changed. */
  export interface ApiState {
    readonly customData: () => Record<string, string>
    readonly staticData: () => Record<string, unknown> | undefined
    /** Points the item globals at item `index` of the input (per-item mode). */
    readonly setItem: (index: number) => void
  }
}

export = installWorkflowApi
