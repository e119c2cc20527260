/**
 * Ordinary Code-node JavaScript: every snippet must be accepted (over-blocking is a bug) and,
 * run in `mode` over `items`, must give `expected`. The workflow data is a manual execution in
 * UTC, plus what `workflow` adds; `crypto` is the one built-in module allowed.
 */

/** An n8n item as the Code node gets it. */
export interface JsItem {
  readonly json: Readonly<Record<string, unknown>>
  readonly pairedItem?: { readonly item: number }
}

/** One snippet: its code, the n8n mode and input it runs with, and what it must give. */
export interface JsBenign {
  /** `js-benign-` and the name in kebab case. */
  readonly id: string
  readonly name: string
  readonly code: string
  /** n8n's Code-node mode the snippet is written for. */
  readonly mode: "runOnceForAllItems" | "runOnceForEachItem"
  readonly items: ReadonlyArray<JsItem>
  /**
   * What the executor returns. All items: the code's value (nothing or `null`: `[]`). Each item:
   * `{ json, pairedItem: { item } }` per item whose value is truthy (a `{ json }` value unwrapped).
   */
  readonly expected: unknown
  /** Workflow data the snippet reads: the execution id, static data, other nodes' output for `$('Node')`. */
  readonly workflow?: {
    readonly executionId?: string
    readonly staticData?: Readonly<Record<string, unknown>>
    readonly nodes?: Readonly<Record<string, ReadonlyArray<JsItem>>>
  }
  /** What the helpers it calls answer, by helper name (`httpRequest`). */
  readonly helpers?: Readonly<Record<string, unknown>>
  /** It throws on purpose: run with continueOnFail, `expected` holds n8n's error item. */
  readonly continueOnFail?: boolean
}

/** For snippets that do not read their input: one empty item (n8n runs a node only when it has input). */
const single: ReadonlyArray<JsItem> = [{ json: {} }]

export const benignJavaScript: ReadonlyArray<JsBenign> = [
  {
    id: "js-benign-map-items",
    name: "map items",
    code: "return $input.all().map(item => ({ json: { ...item.json, seen: true } }))",
    mode: "runOnceForAllItems",
    items: [{ json: { id: 1 } }, { json: { id: 2 } }],
    expected: [{ json: { id: 1, seen: true } }, { json: { id: 2, seen: true } }]
  },
  {
    id: "js-benign-legacy-items-loop",
    name: "legacy items loop",
    code: "for (const item of items) { item.json.total = item.json.a + item.json.b }\nreturn items",
    mode: "runOnceForAllItems",
    items: [{ json: { a: 1, b: 2 } }, { json: { a: 10, b: 5 } }],
    expected: [{ json: { a: 1, b: 2, total: 3 } }, { json: { a: 10, b: 5, total: 15 } }]
  },
  {
    id: "js-benign-per-item-json",
    name: "per-item $json",
    code: "return { json: { name: $json.name?.trim() ?? 'anonymous' } }",
    mode: "runOnceForEachItem",
    items: [{ json: { name: "  Ada " } }, { json: { name: null } }],
    expected: [
      { json: { name: "Ada" }, pairedItem: { item: 0 } },
      { json: { name: "anonymous" }, pairedItem: { item: 1 } }
    ]
  },
  {
    id: "js-benign-filter",
    name: "filter",
    code: "return $input.all().filter(i => i.json.status === 'active')",
    mode: "runOnceForAllItems",
    items: [
      { json: { id: 1, status: "active" } },
      { json: { id: 2, status: "paused" } },
      { json: { id: 3, status: "active" } }
    ],
    expected: [{ json: { id: 1, status: "active" } }, { json: { id: 3, status: "active" } }]
  },
  {
    id: "js-benign-reduce-aggregate",
    name: "reduce aggregate",
    code: "const total = $input.all().reduce((sum, i) => sum + (i.json.amount ?? 0), 0)\nreturn [{ json: { total } }]",
    mode: "runOnceForAllItems",
    items: [{ json: { amount: 5 } }, { json: { amount: 7.5 } }, { json: {} }],
    expected: [{ json: { total: 12.5 } }]
  },
  {
    id: "js-benign-object-spread-and-rest",
    name: "object spread and rest",
    code: "const { id, ...rest } = $json\nreturn { json: { ...rest, ref: id } }",
    mode: "runOnceForEachItem",
    items: [{ json: { id: 7, name: "Ada", tags: ["x"] } }, { json: { id: 8, name: "Bob" } }],
    expected: [
      { json: { name: "Ada", tags: ["x"], ref: 7 }, pairedItem: { item: 0 } },
      { json: { name: "Bob", ref: 8 }, pairedItem: { item: 1 } }
    ]
  },
  {
    id: "js-benign-optional-call",
    name: "optional call",
    code: "const f = $json.maybe?.fn\nreturn [{ json: { r: f?.(1) ?? null } }]",
    mode: "runOnceForAllItems",
    items: [{ json: { maybe: null } }],
    expected: [{ json: { r: null } }]
  },
  {
    id: "js-benign-nullish-assignment",
    name: "nullish assignment",
    code: "const o = {}\no.a ??= 1\no.b ||= 2\no.c &&= 3\nreturn [{ json: o }]",
    mode: "runOnceForAllItems",
    items: single,
    // `&&=` on a missing key assigns nothing.
    expected: [{ json: { a: 1, b: 2 } }]
  },
  {
    id: "js-benign-async-await",
    name: "async await",
    code: "const wait = (ms) => new Promise(r => setTimeout(r, ms))\nawait wait(1)\nreturn [{ json: { ok: true } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { ok: true } }]
  },
  {
    id: "js-benign-promise-all",
    name: "promise all",
    code:
      "const results = await Promise.all([1, 2, 3].map(async n => n * 2))\nreturn results.map(n => ({ json: { n } }))",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { n: 2 } }, { json: { n: 4 } }, { json: { n: 6 } }]
  },
  {
    id: "js-benign-array-destructuring",
    name: "array destructuring",
    code: "const [first, , third = 3] = [1, 2]\nreturn [{ json: { first, third } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { first: 1, third: 3 } }]
  },
  {
    id: "js-benign-class-with-private-fields",
    name: "class with private fields",
    code:
      "class Counter { #n = 0; static made = 0; inc() { return ++this.#n } get value() { return this.#n } }\nconst c = new Counter()\nc.inc()\nreturn [{ json: { v: c.value } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { v: 1 } }]
  },
  {
    id: "js-benign-class-constructor-method",
    name: "class constructor method",
    code: "class Point { constructor(x, y) { this.x = x; this.y = y } }\nreturn [{ json: new Point(1, 2) }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { x: 1, y: 2 } }]
  },
  {
    id: "js-benign-class-inheritance-and-super",
    name: "class inheritance and super",
    code:
      "class A { hi() { return 'a' } }\nclass B extends A { hi() { return super.hi() + 'b' } }\nreturn [{ json: { s: new B().hi() } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { s: "ab" } }]
  },
  {
    id: "js-benign-static-block",
    name: "static block",
    code:
      "class Config { static defaults; static { Config.defaults = { retries: 3 } } }\nreturn [{ json: Config.defaults }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { retries: 3 } }]
  },
  {
    id: "js-benign-generator",
    name: "generator",
    code:
      "function* range(n) { for (let i = 0; i < n; i++) yield i }\nreturn [...range(3)].map(i => ({ json: { i } }))",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { i: 0 } }, { json: { i: 1 } }, { json: { i: 2 } }]
  },
  {
    id: "js-benign-async-generator",
    name: "async generator",
    code:
      "async function* gen() { yield 1; yield 2 }\nconst out = []\nfor await (const v of gen()) out.push(v)\nreturn [{ json: { out } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { out: [1, 2] } }]
  },
  {
    id: "js-benign-regex-named-groups",
    name: "regex named groups",
    code: "const m = /(?<year>\\d{4})-(?<month>\\d{2})/u.exec('2026-11')\nreturn [{ json: { year: m.groups.year } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { year: "2026" } }]
  },
  {
    id: "js-benign-regex-flags",
    name: "regex flags",
    code: "return [{ json: { ok: /a.b/s.test('a\\nb'), all: [...'a1b2'.matchAll(/\\d/g)].length } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { ok: true, all: 2 } }]
  },
  {
    id: "js-benign-intl",
    name: "Intl",
    code:
      "const fmt = new Intl.NumberFormat('de-DE', { style: 'currency', currency: 'EUR' })\nreturn [{ json: { price: fmt.format(12.5) } }]",
    mode: "runOnceForAllItems",
    items: single,
    // A no-break space before the sign.
    expected: [{ json: { price: "12,50\u00a0€" } }]
  },
  {
    id: "js-benign-json",
    name: "JSON",
    code: "const parsed = JSON.parse($json.body ?? '{}')\nreturn [{ json: { text: JSON.stringify(parsed, null, 2) } }]",
    mode: "runOnceForAllItems",
    items: [{ json: { body: "{\"a\":1,\"b\":[2]}" } }],
    expected: [{ json: { text: "{\n  \"a\": 1,\n  \"b\": [\n    2\n  ]\n}" } }]
  },
  {
    id: "js-benign-date",
    name: "Date",
    code: "const d = new Date('2026-01-01T00:00:00Z')\nreturn [{ json: { iso: d.toISOString(), day: d.getUTCDay() } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { iso: "2026-01-01T00:00:00.000Z", day: 4 } }]
  },
  {
    id: "js-benign-luxon-chain",
    name: "luxon chain",
    // Only what does not change with the clock is returned: the time of day and the order.
    code:
      "const due = DateTime.now().plus({ days: 3 }).startOf('day').toISO()\nreturn [{ json: { time: due.slice(10), later: DateTime.fromISO(due) > $today, today: $today.toFormat('HH:mm') } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { time: "T00:00:00.000Z", later: true, today: "00:00" } }]
  },
  {
    id: "js-benign-object-key-named-constructor",
    name: "object key named constructor",
    code: "return [{ json: { constructor: 'Ada', prototype: 1, caller: '+49 30 123' } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { constructor: "Ada", prototype: 1, caller: "+49 30 123" } }]
  },
  {
    id: "js-benign-string-mentioning-require",
    name: "string mentioning require",
    code: "const note = 'use require(\"fs\") to read files'\nreturn [{ json: { note, word: 'process' } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { note: "use require(\"fs\") to read files", word: "process" } }]
  },
  {
    id: "js-benign-user-variable-named-process",
    name: "user variable named process",
    code:
      "function process(item) { return item.json.value * 2 }\nreturn $input.all().map(i => ({ json: { v: process(i) } }))",
    mode: "runOnceForAllItems",
    items: [{ json: { value: 2 } }, { json: { value: 21 } }],
    expected: [{ json: { v: 4 } }, { json: { v: 42 } }]
  },
  {
    id: "js-benign-user-variable-named-self",
    name: "user variable named self",
    code: "const self = { process: 1, name: 'me' }\nreturn [{ json: { n: self.name, p: self.process } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { n: "me", p: 1 } }]
  },
  {
    id: "js-benign-member-named-process-on-user-data",
    name: "member named process on user data",
    code: "return [{ json: { step: $json.process, env: $json.env } }]",
    mode: "runOnceForAllItems",
    items: [{ json: { process: "ship", env: "prod" } }],
    expected: [{ json: { step: "ship", env: "prod" } }]
  },
  {
    id: "js-benign-typeof-checks",
    name: "typeof checks",
    code:
      "const hasProcess = typeof process !== 'undefined'\nconst hasRequire = typeof require === 'function'\nreturn [{ json: { hasProcess, hasRequire } }]",
    mode: "runOnceForAllItems",
    items: single,
    // Code nodes have `require` but no `process`.
    expected: [{ json: { hasProcess: false, hasRequire: true } }]
  },
  {
    id: "js-benign-instanceof-function",
    name: "instanceof Function",
    code: "const isFn = (v) => v instanceof Function\nreturn [{ json: { f: isFn(() => 1) } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { f: true } }]
  },
  {
    id: "js-benign-labels-and-switch",
    name: "labels and switch",
    code: "outer: for (const a of [1, 2]) { switch (a) { case 1: continue outer; default: break outer } }\nreturn []",
    mode: "runOnceForAllItems",
    items: single,
    expected: []
  },
  {
    id: "js-benign-try-catch-finally",
    name: "try catch finally",
    // The error's name, not its message: V8's wording of JSON errors changes between Node versions.
    code:
      "let msg\ntry { JSON.parse('{') } catch (error) { msg = error.name } finally { msg ??= 'ok' }\nreturn [{ json: { msg } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { msg: "SyntaxError" } }]
  },
  {
    id: "js-benign-optional-catch-binding",
    name: "optional catch binding",
    code: "try { JSON.parse('{') } catch { return [{ json: { bad: true } }] }\nreturn []",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { bad: true } }]
  },
  {
    id: "js-benign-tagged-template",
    name: "tagged template",
    code: "const tag = (s, ...v) => s.raw.join('|') + v.join(',')\nreturn [{ json: { t: tag`a${1}b${2}` } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { t: "a|b|1,2" } }]
  },
  {
    id: "js-benign-map-and-set",
    name: "Map and Set",
    code:
      "const seen = new Set()\nconst byId = new Map()\nfor (const i of $input.all()) { seen.add(i.json.id); byId.set(i.json.id, i.json) }\nreturn [{ json: { unique: seen.size } }]",
    mode: "runOnceForAllItems",
    items: [{ json: { id: 1 } }, { json: { id: 2 } }, { json: { id: 1 } }],
    expected: [{ json: { unique: 2 } }]
  },
  {
    id: "js-benign-getters-and-setters-in-literals",
    name: "getters and setters in literals",
    code:
      "const o = { _v: 1, get v() { return this._v }, set v(x) { this._v = x } }\no.v = 5\nreturn [{ json: { v: o.v } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { v: 5 } }]
  },
  {
    id: "js-benign-big-int-and-numeric-separators",
    name: "BigInt and numeric separators",
    code: "const big = 10_000n * 3n\nreturn [{ json: { big: big.toString(), n: 1_000_000 } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { big: "30000", n: 1000000 } }]
  },
  {
    id: "js-benign-exponent-and-bitwise",
    name: "exponent and bitwise",
    code: "return [{ json: { a: 2 ** 10, b: 5 & 3, c: -7 >>> 28 } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { a: 1024, b: 1, c: 15 } }]
  },
  {
    id: "js-benign-object-helpers",
    name: "Object helpers",
    code:
      "const entries = Object.entries($json ?? {})\nreturn [{ json: Object.fromEntries(entries.map(([k, v]) => [k.toUpperCase(), v])) }]",
    mode: "runOnceForAllItems",
    items: [{ json: { name: "Ada", city: "Berlin" } }],
    expected: [{ json: { NAME: "Ada", CITY: "Berlin" } }]
  },
  {
    id: "js-benign-json-deep-copy-and-array-from",
    name: "JSON deep copy and Array.from",
    // Not structuredClone: a Node global, which Code nodes (n8n's runner too) do not have.
    code:
      "const copy = JSON.parse(JSON.stringify({ a: [1, 2] }))\nreturn Array.from({ length: 2 }, (_, i) => ({ json: { i, copy } }))",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { i: 0, copy: { a: [1, 2] } } }, { json: { i: 1, copy: { a: [1, 2] } } }]
  },
  {
    id: "js-benign-node-first",
    name: "$('Node').first()",
    code: "const webhook = $('Webhook').first().json\nreturn [{ json: { body: webhook.body } }]",
    mode: "runOnceForAllItems",
    items: single,
    workflow: { nodes: { Webhook: [{ json: { headers: {}, body: { name: "Ada" } } }] } },
    expected: [{ json: { body: { name: "Ada" } } }]
  },
  {
    id: "js-benign-node-all-map",
    name: "$('Node').all() map",
    code: "return $('HTTP Request').all().map(r => ({ json: r.json }))",
    mode: "runOnceForAllItems",
    items: single,
    workflow: {
      nodes: {
        "HTTP Request": [{ json: { id: 1 }, pairedItem: { item: 0 } }, { json: { id: 2 }, pairedItem: { item: 0 } }]
      }
    },
    expected: [{ json: { id: 1 } }, { json: { id: 2 } }]
  },
  {
    id: "js-benign-input-first-and-last",
    name: "$input.first and last",
    code: "return [{ json: { first: $input.first().json, last: $input.last().json } }]",
    mode: "runOnceForAllItems",
    items: [{ json: { n: 1 } }, { json: { n: 2 } }, { json: { n: 3 } }],
    expected: [{ json: { first: { n: 1 }, last: { n: 3 } } }]
  },
  {
    id: "js-benign-console-log-objects",
    name: "console.log objects",
    code: "console.log('items', $input.all().length, { a: 1 })\nreturn $input.all()",
    mode: "runOnceForAllItems",
    items: [{ json: { n: 1 } }, { json: { n: 2 } }],
    expected: [{ json: { n: 1 } }, { json: { n: 2 } }]
  },
  {
    id: "js-benign-execution-custom-data",
    name: "$execution custom data",
    code: "$execution.customData.set('orderId', String($json.id))\nreturn [{ json: { id: $execution.id } }]",
    mode: "runOnceForAllItems",
    items: [{ json: { id: 1001 } }],
    workflow: { executionId: "42" },
    expected: [{ json: { id: "42" } }]
  },
  {
    id: "js-benign-jmespath",
    name: "$jmespath",
    code: "const names = $jmespath($json, 'people[*].name')\nreturn [{ json: { names } }]",
    mode: "runOnceForAllItems",
    items: [{ json: { people: [{ name: "Ada" }, { name: "Bob" }] } }],
    expected: [{ json: { names: ["Ada", "Bob"] } }]
  },
  {
    id: "js-benign-static-data",
    name: "static data",
    code:
      "const data = $getWorkflowStaticData('global')\ndata.count = (data.count ?? 0) + 1\nreturn [{ json: { count: data.count } }]",
    mode: "runOnceForAllItems",
    items: single,
    workflow: { staticData: { global: { count: 41 } } },
    expected: [{ json: { count: 42 } }]
  },
  {
    id: "js-benign-require-allowed-builtin",
    name: "require allowed builtin",
    code:
      "const crypto = require('crypto')\nreturn [{ json: { h: crypto.createHash('sha256').update('x').digest('hex') } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { h: "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" } }]
  },
  {
    id: "js-benign-string-containing-closing-brace",
    name: "string containing closing brace",
    code: "const s = '}; process.exit(); function x() {'\nreturn [{ json: { s } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { s: "}; process.exit(); function x() {" } }]
  },
  {
    id: "js-benign-comment-at-the-end",
    name: "comment at the end",
    code: "return [] // done",
    mode: "runOnceForAllItems",
    items: single,
    expected: []
  },
  {
    id: "js-benign-error-subclass",
    name: "Error subclass",
    code:
      "class MyError extends Error { constructor(m) { super(m); this.name = 'MyError' } }\nthrow new MyError('nope')",
    mode: "runOnceForAllItems",
    items: single,
    continueOnFail: true,
    expected: [{ json: { error: "nope [line 2]" } }]
  },
  {
    id: "js-benign-symbol-iterator",
    name: "Symbol.iterator",
    code: "const it = { *[Symbol.iterator]() { yield 1 } }\nreturn [...it].map(n => ({ json: { n } }))",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { n: 1 } }]
  },
  {
    id: "js-benign-computed-key-from-variable",
    name: "computed key from variable",
    code: "const key = 'total'\nreturn [{ json: { [key]: 1, [`${key}2`]: 2 } }]",
    mode: "runOnceForAllItems",
    items: single,
    expected: [{ json: { total: 1, total2: 2 } }]
  },
  {
    id: "js-benign-helpers-http-request",
    name: "helpers.httpRequest",
    code: "const res = await helpers.httpRequest({ url: 'https://example.com', json: true })\nreturn [{ json: res }]",
    mode: "runOnceForAllItems",
    items: single,
    helpers: { httpRequest: { title: "Example Domain" } },
    expected: [{ json: { title: "Example Domain" } }]
  }
]
