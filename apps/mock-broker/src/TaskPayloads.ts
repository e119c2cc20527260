import type { DataRequest, TaskSettings } from "@taskrunner/protocol"
import { Defaults } from "@taskrunner/protocol"
import type { ResolvedSubmission } from "./TaskSubmission.js"

/**
 * What the broker sends for a submission, built the way n8n builds it: Python settings carry the
 * items inline (spec 4.1); JavaScript settings do not, and the runner fetches what it needs with
 * a data request (spec 4.2-4.3), answered from the submission.
 */

/** The chunks n8n runs one task each for: per-item JavaScript is split into 1000-item chunks. */
export const taskChunks = (submission: ResolvedSubmission): ReadonlyArray<TaskSettings.Chunk | undefined> => {
  if (submission.taskType !== "javascript" || submission.nodeMode !== "runOnceForEachItem") return [undefined]
  const chunks: Array<TaskSettings.Chunk> = []
  for (let startIndex = 0; startIndex < submission.items.length; startIndex += Defaults.perItemChunkSize) {
    chunks.push({ startIndex, count: Math.min(Defaults.perItemChunkSize, submission.items.length - startIndex) })
  }
  // Even without items n8n runs the node once.
  return chunks.length > 0 ? chunks : [{ startIndex: 0, count: 0 }]
}

/** `broker:tasksettings.settings` of one task. */
export const buildSettings = (
  submission: ResolvedSubmission,
  chunk: TaskSettings.Chunk | undefined
): TaskSettings.JsTaskSettings | TaskSettings.PythonTaskSettings =>
  submission.taskType === "python"
    ? {
      code: submission.code,
      nodeMode: submission.nodeMode,
      workflowMode: submission.workflowMode,
      continueOnFail: submission.continueOnFail,
      items: submission.items,
      nodeId: codeNodeId,
      nodeName: submission.nodeName,
      workflowId: submission.workflowId,
      workflowName: submission.workflowName,
      ...(submission.query === undefined ? {} : { query: submission.query })
    }
    : {
      code: submission.code,
      nodeMode: submission.nodeMode,
      workflowMode: submission.workflowMode,
      continueOnFail: submission.continueOnFail,
      ...(chunk === undefined ? {} : { chunk }),
      additionalProperties: {}
    }

const codeNodeId = "code-node"
const baseUrl = "http://localhost:5678"

const codeNode = (submission: ResolvedSubmission, position: number): DataRequest.WorkflowNode => ({
  id: codeNodeId,
  name: submission.nodeName,
  type: "n8n-nodes-base.code",
  typeVersion: 2,
  position: [position * 200, 0],
  parameters: submission.taskType === "javascript"
    ? { mode: submission.nodeMode, language: "javaScript", jsCode: submission.code }
    : { mode: submission.nodeMode, language: "pythonNative", pythonCode: submission.code }
})

/** Upstream node names in order: those with run data, then the previous node if it has none. */
const upstreamNodes = (submission: ResolvedSubmission): ReadonlyArray<string> => {
  const names = Object.keys(submission.runData)
  const previous = submission.previousNode
  return previous !== undefined && !names.includes(previous) ? [...names, previous] : names
}

const workflowNodes = (submission: ResolvedSubmission): ReadonlyArray<DataRequest.WorkflowNode> => {
  const given = submission.workflow?.nodes
  if (given !== undefined) {
    return given.some((node) => node.name === submission.nodeName)
      ? given
      : [...given, codeNode(submission, given.length)]
  }
  const upstream = upstreamNodes(submission).map((name, index): DataRequest.WorkflowNode => ({
    id: `node-${index}`,
    name,
    type: "n8n-nodes-base.noOp",
    typeVersion: 1,
    position: [index * 200, 0],
    parameters: {}
  }))
  return [...upstream, codeNode(submission, upstream.length)]
}

const connect = (to: string) => ({ main: [[{ node: to, type: "main", index: 0 }]] })

const workflowConnections = (submission: ResolvedSubmission): Record<string, unknown> => {
  if (submission.workflow?.connections !== undefined) return { ...submission.workflow.connections }
  const chain = [...upstreamNodes(submission), submission.nodeName]
  const connections: Record<string, unknown> = {}
  for (let i = 0; i + 1 < chain.length; i++) connections[chain[i]!] = connect(chain[i + 1]!)
  return connections
}

const runDataOf = (
  submission: ResolvedSubmission,
  startTime: number
): Record<string, ReadonlyArray<DataRequest.TaskRunData>> => {
  const out: Record<string, ReadonlyArray<DataRequest.TaskRunData>> = {}
  const names = Object.keys(submission.runData)
  names.forEach((name, index) => {
    const previous = index > 0 ? names[index - 1] : undefined
    out[name] = [{
      startTime,
      executionIndex: index,
      executionTime: 0,
      executionStatus: "success",
      source: [previous === undefined ? null : { previousNode: previous }],
      data: { main: [submission.runData[name] ?? []] }
    }]
  })
  return out
}

/** The answer to a `runner:taskdatarequest`, honouring every request parameter. */
export const buildDataResponse = (
  submission: ResolvedSubmission,
  params: DataRequest.TaskDataRequestParams,
  taskId: string
): DataRequest.DataRequestResponse => {
  const executionId = submission.executionId ?? taskId
  const now = Date.now()
  const allRunData = runDataOf(submission, now)
  const wanted = params.dataOfNodes === "all"
    ? undefined
    : new Set([...params.dataOfNodes, ...(params.prevNode && submission.previousNode ? [submission.previousNode] : [])])
  const runData = wanted === undefined
    ? allRunData
    : Object.fromEntries(Object.entries(allRunData).filter(([name]) => wanted.has(name)))
  const chunk = params.input.chunk
  const input = chunk === undefined
    ? submission.items
    : submission.items.slice(chunk.startIndex, chunk.startIndex + chunk.count)
  const nodes = workflowNodes(submission)
  const node = nodes.find((n) => n.name === submission.nodeName) ?? codeNode(submission, nodes.length)
  return {
    workflow: {
      id: submission.workflowId,
      name: submission.workflowName,
      active: false,
      connections: workflowConnections(submission),
      nodes,
      pinData: {},
      settings: { executionOrder: "v1" },
      staticData: submission.workflow?.staticData ?? {}
    },
    inputData: params.input.include ? { main: [input] } : {},
    connectionInputSource: submission.previousNode === undefined
      ? null
      : { main: [{ previousNode: submission.previousNode, previousNodeOutput: 0, previousNodeRun: 0 }] },
    node,
    runExecutionData: {
      version: 1,
      startData: {},
      resultData: {
        runData,
        pinData: {},
        ...(submission.previousNode === undefined ? {} : { lastNodeExecuted: submission.previousNode }),
        metadata: {}
      },
      executionData: {
        contextData: {},
        metadata: {},
        nodeExecutionStack: [],
        waitingExecution: {},
        waitingExecutionSource: null
      }
    },
    runIndex: 0,
    itemIndex: 0,
    activeNodeName: submission.nodeName,
    contextNodeName: submission.nodeName,
    defaultReturnRunIndex: -1,
    siblingParameters: {},
    mode: submission.workflowMode,
    envProviderState: {
      env: params.env && !submission.blockEnvAccess ? { ...submission.env } : {},
      isEnvAccessBlocked: submission.blockEnvAccess,
      isProcessAvailable: true
    },
    selfData: {},
    additionalData: {
      formWaitingBaseUrl: `${baseUrl}/form-waiting`,
      instanceBaseUrl: `${baseUrl}/`,
      restApiUrl: `${baseUrl}/rest`,
      variables: { ...submission.variables },
      webhookBaseUrl: `${baseUrl}/webhook`,
      webhookTestBaseUrl: `${baseUrl}/webhook-test`,
      webhookWaitingBaseUrl: `${baseUrl}/webhook-waiting`,
      currentNodeParameters: {},
      executionId,
      userId: "mock-user"
    }
  }
}
