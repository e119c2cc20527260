/**
 * What a JavaScript snippet needs from the broker (spec 4.3): the runner turns it into the
 * `requestParams` of `runner:taskdatarequest`, so only what the code uses is transferred.
 */
export interface DataNeeds {
  /** Run data of these nodes, or of every node. */
  readonly dataOfNodes: "all" | ReadonlyArray<string>
  /** Also the node connected to input 0. */
  readonly prevNode: boolean
  /** The input items. */
  readonly input: boolean
  /** `$env` values. */
  readonly env: boolean
}

/** Needs of code that uses none of n8n's data globals. */
export const noDataNeeds: DataNeeds = { dataOfNodes: [], prevNode: false, input: false, env: false }

/** Needs when the code cannot be understood (n8n asks for everything then). */
export const allDataNeeds: DataNeeds = { dataOfNodes: "all", prevNode: true, input: true, env: true }
