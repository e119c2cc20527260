/**
 * Code-node snippets of the kind n8n templates and forum answers use, for the differential test:
 * each runs on n8n's official runner and on ours, through the same mock broker set-up, and must
 * give the same result, logs, custom data, static data and error text.
 */

/** The workflow every snippet runs in: a Webhook, then Set Fields, then the Code node. */
export const workflow = {
  id: "wf-diff-1",
  name: "Differential workflow",
  nodes: [
    {
      id: "n-webhook",
      name: "Webhook",
      type: "n8n-nodes-base.webhook",
      typeVersion: 2,
      position: [0, 0],
      parameters: { path: "orders", httpMethod: "POST" }
    },
    {
      id: "n-set",
      name: "Set Fields",
      type: "n8n-nodes-base.set",
      typeVersion: 3.4,
      position: [200, 0],
      parameters: { mode: "manual", includeOtherFields: true }
    },
    {
      id: "n-code",
      name: "Code",
      type: "n8n-nodes-base.code",
      typeVersion: 2,
      position: [400, 0],
      parameters: { language: "javaScript", mode: "runOnceForAllItems" }
    }
  ],
  staticData: { global: { runs: 2 } }
} as const

export const runData = {
  Webhook: [{ json: { body: { customer: "Ada", total: 42.5 }, headers: { "content-type": "application/json" } } }],
  "Set Fields": [
    { json: { name: "Ada", n: 1, tags: ["a", "b"] }, pairedItem: { item: 0 } },
    { json: { name: "Bob", n: 2, tags: [] }, pairedItem: { item: 0 } },
    { json: { name: "Cy", n: 3, tags: ["c"] }, pairedItem: { item: 0 } }
  ]
}

/** The Code node's input: Set Fields' output. */
export const items = runData["Set Fields"].map((item, index) => ({ json: item.json, pairedItem: { item: index } }))

export interface Snippet {
  readonly name: string
  readonly code: string
  readonly nodeMode?: "runOnceForAllItems" | "runOnceForEachItem"
  readonly continueOnFail?: boolean
  readonly items?: ReadonlyArray<unknown>
  readonly env?: Record<string, string>
  /** More fields of the mock broker's submission (`variables`, `blockEnvAccess`, ...). */
  readonly submission?: Record<string, unknown>
}

/** `{{HTTP}}` in a snippet is replaced by the address of a local HTTP server the test runs. */
export const httpPlaceholder = "{{HTTP}}"

const each = "runOnceForEachItem" as const

export const snippets: ReadonlyArray<Snippet> = [
  // Items in, items out.
  {
    name: "map items",
    code: "return $input.all().map(i => ({ json: { name: i.json.name.toUpperCase(), double: i.json.n * 2 } }))"
  },
  { name: "legacy items", code: "for (const item of items) item.json.seen = true\nreturn items" },
  { name: "filter", code: "return $input.all().filter(i => i.json.n % 2 === 1)" },
  {
    name: "aggregate",
    code:
      "const total = $input.all().reduce((s, i) => s + i.json.n, 0)\nreturn [{ json: { total, count: items.length } }]"
  },
  {
    name: "first and last",
    code: "return [{ json: { first: $input.first().json.name, last: $input.last().json.name } }]"
  },
  { name: "bare objects are wrapped", code: "return $input.all().map(i => ({ who: i.json.name }))" },
  { name: "a single object", code: "return { json: { only: true } }" },
  { name: "null is no items", code: "return null" },
  { name: "$json in all-items mode", code: "return [{ json: { json: $json.name } }]" },
  { name: "split a list into items", code: "return $input.first().json.tags.map(tag => ({ json: { tag } }))" },
  {
    name: "sort and dedupe",
    code:
      "const names = [...new Set(items.map(i => i.json.name))].sort().reverse()\nreturn names.map(name => ({ json: { name } }))"
  },
  {
    name: "dates in results become strings",
    code: "return [{ json: { epoch: new Date(0), list: [new Date(86400000)] } }]"
  },
  // Per item.
  { name: "per item: $json and $itemIndex", nodeMode: each, code: "return { json: { ...$json, index: $itemIndex } }" },
  {
    name: "per item: item and $input.item",
    nodeMode: each,
    code: "return { json: { a: item.json.name, b: $input.item.json.n } }"
  },
  {
    name: "per item: skipped items",
    nodeMode: each,
    code: "if ($json.n === 2) return\nreturn { json: { kept: $json.name } }"
  },
  { name: "per item: binary key only", nodeMode: each, code: "return { binary: {} }" },
  {
    name: "per item: more than one chunk (1,500 items)",
    nodeMode: each,
    items: Array.from({ length: 1500 }, (_, n) => ({ json: { n } })),
    code: "return { json: { n: $json.n, index: $itemIndex } }"
  },
  // Other nodes.
  { name: "$('Node').all()", code: "return $('Set Fields').all().map(i => ({ json: { from: i.json.name } }))" },
  { name: "$('Node').first()", code: "return [{ json: $('Webhook').first().json.body }]" },
  { name: "$('Node').last()", code: "return [{ json: { last: $('Set Fields').last().json.name } }]" },
  { name: "$('Node').isExecuted", code: "return [{ json: { webhook: $('Webhook').isExecuted } }]" },
  { name: "$('Node').params", code: "return [{ json: $('Webhook').params }]" },
  {
    name: "per item: $('Node').item (paired item)",
    nodeMode: each,
    code: "return { json: { name: $('Set Fields').item.json.name, mine: $json.n } }"
  },
  { name: "$('Missing')", code: "return $('Nope').all()" },
  { name: "$node['Node'].json", code: "return [{ json: { customer: $node['Webhook'].json.body.customer } }]" },
  {
    name: "$prevNode",
    code: "return [{ json: { name: $prevNode.name, output: $prevNode.outputIndex, run: $prevNode.runIndex } }]"
  },
  { name: "$input.params", code: "return [{ json: { mode: $input.params.mode } }]" },
  // Workflow and execution.
  {
    name: "$workflow",
    code: "return [{ json: { id: $workflow.id, name: $workflow.name, active: $workflow.active } }]"
  },
  {
    name: "$execution id and mode",
    code:
      "return [{ json: { hasId: typeof $execution.id === 'string' && $execution.id.length > 0, mode: $execution.mode } }]"
  },
  {
    name: "$execution.resumeUrl",
    code: "return [{ json: { resume: $execution.resumeUrl.endsWith('/webhook-waiting/' + $execution.id) } }]"
  },
  {
    name: "customData set/get",
    code:
      "$execution.customData.set('orderId', '1234')\n$execution.customData.set('region', 'eu')\nreturn [{ json: { got: $execution.customData.get('orderId'), all: $execution.customData.getAll() } }]"
  },
  {
    name: "customData setAll",
    code: "$execution.customData.setAll({ a: '1', b: '2' })\nreturn [{ json: $execution.customData.getAll() }]"
  },
  {
    name: "global static data",
    code:
      "const data = $getWorkflowStaticData('global')\ndata.runs = (data.runs ?? 0) + 1\ndata.last = 'Ada'\nreturn [{ json: { runs: data.runs } }]"
  },
  {
    name: "node static data",
    code: "const data = $getWorkflowStaticData('node')\ndata.seen = ['x']\nreturn [{ json: { seen: data.seen } }]"
  },
  { name: "static data read only", code: "return [{ json: { runs: $getWorkflowStaticData('global').runs } }]" },
  {
    name: "$env",
    env: { GREETING: "hello" },
    code: "return [{ json: { greeting: $env.GREETING, missing: $env.NOPE ?? null } }]"
  },
  { name: "$runIndex and $mode", code: "return [{ json: { run: $runIndex, mode: $mode } }]" },
  // Dates (luxon) and queries.
  {
    name: "$now and $today are DateTimes",
    code:
      "return [{ json: { now: DateTime.isDateTime($now), today: $today.hour === 0 && $today.minute === 0, recent: Math.abs($now.toMillis() - Date.now()) < 60000 } }]"
  },
  {
    name: "DateTime arithmetic",
    code:
      "return [{ json: { d: DateTime.fromISO('2024-01-30T10:00:00Z', { zone: 'utc' }).plus({ days: 3 }).toISODate() } }]"
  },
  {
    name: "DateTime formatting",
    code:
      "return [{ json: { f: DateTime.fromISO('2024-03-05T08:09:10Z').setZone('UTC').toFormat('yyyy LLL dd HH:mm') } }]"
  },
  {
    name: "Duration",
    code:
      "return [{ json: { minutes: Duration.fromObject({ hours: 2, minutes: 5 }).as('minutes'), iso: Duration.fromMillis(90061000).toISO() } }]"
  },
  {
    name: "Interval",
    code:
      "const i = Interval.fromDateTimes(DateTime.fromISO('2024-01-01'), DateTime.fromISO('2024-03-01'))\nreturn [{ json: { days: i.length('days'), valid: i.isValid } }]"
  },
  {
    name: "DateTime in results and logs",
    code:
      "const d = DateTime.fromISO('2024-05-06T07:08:09.000Z', { zone: 'utc' })\nconsole.log(d)\nreturn [{ json: { d } }]"
  },
  {
    name: "$jmespath",
    code:
      "const data = { people: [{ name: 'Ada', age: 36 }, { name: 'Bob', age: 19 }] }\nreturn [{ json: { adults: $jmespath(data, 'people[?age > `20`].name') } }]"
  },
  { name: "$jmespath over items", code: "return [{ json: { names: $jmespath($input.all(), '[*].json.name') } }]" },
  // Console.
  {
    name: "console.log strings and objects",
    code: "console.log('hello', { a: 1, nested: { b: [1, 2] } })\nconsole.log(42, true, null, [1, 'x'])\nreturn []"
  },
  {
    name: "console.log per item",
    nodeMode: each,
    code: "console.log('item', $itemIndex, $json.name)\nreturn $input.item"
  },
  { name: "console.log circular", code: "const a = { name: 'a' }\na.self = a\nconsole.log(a)\nreturn []" },
  { name: "console.log undefined", code: "console.log(undefined)\nconsole.log()\nreturn []" },
  // Errors.
  { name: "thrown Error", code: "const x = 1\nthrow new Error('Something went wrong')" },
  {
    name: "TypeError with line number",
    code: "const rows = $input.all()\nconst missing = undefined\nreturn missing.length"
  },
  {
    name: "per item: error names the item",
    nodeMode: each,
    code: "if ($itemIndex === 1) {\n  throw new Error('bad item')\n}\nreturn $input.item"
  },
  { name: "thrown string", code: "throw 'plain string'" },
  { name: "continueOnFail all items", continueOnFail: true, code: "throw new Error('handled')" },
  {
    name: "continueOnFail per item",
    nodeMode: each,
    continueOnFail: true,
    code: "if ($json.n === 2) throw new Error('no twos')\nreturn { json: { ok: $json.n } }"
  },
  { name: "syntax error", code: "return [{ json: { a: 1 }" },
  { name: "syntax error: unexpected token", code: "const a = 1\nconst b = )\nreturn []" },
  { name: "unsupported helper", code: "return helpers.getBinaryPath('x')" },
  { name: "returning a string", code: "return 'oops'" },
  // More of what forum answers do.
  {
    name: "loop variable without a declaration (sloppy mode)",
    code: "for (item of items) {\n  item.json.flag = item.json.n > 1\n}\nreturn items"
  },
  // (n8n's own runner fails on `this.$input` with "No execution data available"; ours gives the context.)
  {
    name: "this is the context",
    code: "return [{ json: { helpers: typeof this.helpers.httpRequest, same: this.helpers === helpers } }]"
  },
  {
    name: "$items()",
    code: "return [{ json: { mine: $items().length, webhook: $items('Webhook')[0].json.body.customer } }]"
  },
  {
    name: "$('Node').pairedItem() and itemMatching()",
    nodeMode: each,
    code:
      "return { json: { a: $('Set Fields').pairedItem().json.name, b: $('Set Fields').itemMatching($itemIndex).json.n } }"
  },
  { name: "$input.item in all-items mode", code: "return [{ json: { first: $input.item.json.name } }]" },
  {
    name: "$vars",
    submission: { variables: { region: "eu-west", tier: "gold" } },
    code: "return [{ json: { region: $vars.region, tier: $vars.tier } }]"
  },
  {
    name: "$env when access is blocked",
    env: { SECRET: "x" },
    submission: { blockEnvAccess: true },
    code: "return [{ json: { secret: $env.SECRET } }]"
  },
  { name: "throw null", code: "throw null" },
  { name: "throw an object", code: "throw { code: 42, reason: 'nope' }" },
  { name: "throw an object with a message", code: "throw { message: 'custom message' }" },
  {
    name: "custom error class",
    code: "class ValidationError extends Error {}\nthrow new ValidationError('invalid input')"
  },
  {
    name: "error in a named function",
    code:
      "function check(value) {\n  if (!value) {\n    throw new RangeError('value required')\n  }\n}\ncheck(0)\nreturn []"
  },
  { name: "error in an arrow callback", code: "return items.map((i) => {\n  return i.json.missing.deep\n})" },
  { name: "console.log a function and a Date", code: "console.log(() => 1, new Date(0), Symbol('s'))\nreturn []" },
  {
    name: "helpers.httpRequest (JSON)",
    code:
      "const answer = await helpers.httpRequest({ url: '{{HTTP}}/orders?x=1', method: 'POST', body: { id: 7 } })\nreturn [{ json: answer }]"
  },
  {
    name: "this.helpers.httpRequest (full response, text)",
    code:
      "const r = await this.helpers.httpRequest({ url: '{{HTTP}}/text', returnFullResponse: true })\nreturn [{ json: { status: r.statusCode, body: r.body } }]"
  },
  {
    name: "helpers.httpRequest error",
    code:
      "try {\n  await helpers.httpRequest({ url: '{{HTTP}}/missing' })\n  return [{ json: { ok: true } }]\n} catch (e) {\n  return [{ json: { failed: e.message } }]\n}"
  },
  {
    name: "helpers.binaryToString",
    code: "return [{ json: { text: await helpers.binaryToString(Buffer.from('héllo')) } }]"
  },
  {
    name: "helpers.prepareBinaryData",
    code:
      "const b = await helpers.prepareBinaryData(Buffer.from('a,b\\n1,2'), 'data.csv', 'text/csv')\nreturn [{ json: { mime: b.mimeType, name: b.fileName, ext: b.fileExtension } }]"
  }
]
