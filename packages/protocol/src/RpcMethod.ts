import { Schema } from "effect"

/** RPC names a runner may call (spec 4.4); the broker answers anything else with an error. */
export const RpcMethod = Schema.Literal(
  "helpers.assertBinaryData",
  "helpers.getBinaryDataBuffer",
  "helpers.prepareBinaryData",
  "helpers.setBinaryDataBuffer",
  "helpers.binaryToString",
  "helpers.httpRequest",
  "helpers.request",
  "logNodeOutput"
)

/** An RPC name a runner may call. */
export type RpcMethod = typeof RpcMethod.Type

/** True when `name` is an RPC the broker serves. */
export const isRpcMethod = Schema.is(RpcMethod)

/**
 * Helpers that exist on n8n's context but cannot run in a Code node; calling one throws
 * `The function "<name>" is not supported in the Code Node`.
 */
export const UnsupportedHelpers = [
  "helpers.httpRequestWithAuthentication",
  "helpers.requestWithAuthenticationPaginated",
  "helpers.copyBinaryFile",
  "helpers.createReadStream",
  "helpers.getBinaryStream",
  "helpers.binaryToBuffer",
  "helpers.getBinaryMetadata",
  "helpers.getStoragePath",
  "helpers.getBinaryPath",
  "helpers.writeContentToFile",
  "helpers.copyInputItems",
  "helpers.returnJsonArray",
  "helpers.normalizeItems",
  "helpers.getSSHClient",
  "helpers.createDeferredPromise",
  "helpers.constructExecutionMetaData"
] as const

/** The user-visible error of an unsupported helper. */
export const unsupportedHelperMessage = (name: string): string =>
  `The function "${name}" is not supported in the Code Node`
