/** Ordinary Code-node JavaScript: every snippet must be accepted. Over-blocking is a bug. */
export const benignJavaScript: ReadonlyArray<{ readonly name: string; readonly code: string }> = [
  { name: "map items", code: "return $input.all().map(item => ({ json: { ...item.json, seen: true } }))" },
  {
    name: "legacy items loop",
    code: "for (const item of items) { item.json.total = item.json.a + item.json.b }\nreturn items"
  },
  { name: "per-item $json", code: "return { json: { name: $json.name?.trim() ?? 'anonymous' } }" },
  { name: "filter", code: "return $input.all().filter(i => i.json.status === 'active')" },
  {
    name: "reduce aggregate",
    code: "const total = $input.all().reduce((sum, i) => sum + (i.json.amount ?? 0), 0)\nreturn [{ json: { total } }]"
  },
  { name: "object spread and rest", code: "const { id, ...rest } = $json\nreturn { json: { ...rest, ref: id } }" },
  { name: "optional call", code: "const f = $json.maybe?.fn\nreturn [{ json: { r: f?.(1) ?? null } }]" },
  { name: "nullish assignment", code: "const o = {}\no.a ??= 1\no.b ||= 2\no.c &&= 3\nreturn [{ json: o }]" },
  {
    name: "async await",
    code: "const wait = (ms) => new Promise(r => setTimeout(r, ms))\nawait wait(1)\nreturn [{ json: { ok: true } }]"
  },
  {
    name: "promise all",
    code:
      "const results = await Promise.all([1, 2, 3].map(async n => n * 2))\nreturn results.map(n => ({ json: { n } }))"
  },
  { name: "array destructuring", code: "const [first, , third = 3] = [1, 2]\nreturn [{ json: { first, third } }]" },
  {
    name: "class with private fields",
    code:
      "class Counter { #n = 0; static made = 0; inc() { return ++this.#n } get value() { return this.#n } }\nconst c = new Counter()\nc.inc()\nreturn [{ json: { v: c.value } }]"
  },
  {
    name: "class constructor method",
    code: "class Point { constructor(x, y) { this.x = x; this.y = y } }\nreturn [{ json: new Point(1, 2) }]"
  },
  {
    name: "class inheritance and super",
    code:
      "class A { hi() { return 'a' } }\nclass B extends A { hi() { return super.hi() + 'b' } }\nreturn [{ json: { s: new B().hi() } }]"
  },
  {
    name: "static block",
    code:
      "class Config { static defaults; static { Config.defaults = { retries: 3 } } }\nreturn [{ json: Config.defaults }]"
  },
  {
    name: "generator",
    code: "function* range(n) { for (let i = 0; i < n; i++) yield i }\nreturn [...range(3)].map(i => ({ json: { i } }))"
  },
  {
    name: "async generator",
    code:
      "async function* gen() { yield 1; yield 2 }\nconst out = []\nfor await (const v of gen()) out.push(v)\nreturn [{ json: { out } }]"
  },
  {
    name: "regex named groups",
    code: "const m = /(?<year>\\d{4})-(?<month>\\d{2})/u.exec('2026-11')\nreturn [{ json: { year: m.groups.year } }]"
  },
  {
    name: "regex flags",
    code: "return [{ json: { ok: /a.b/s.test('a\\nb'), all: [...'a1b2'.matchAll(/\\d/g)].length } }]"
  },
  {
    name: "Intl",
    code:
      "const fmt = new Intl.NumberFormat('de-DE', { style: 'currency', currency: 'EUR' })\nreturn [{ json: { price: fmt.format(12.5) } }]"
  },
  {
    name: "JSON",
    code: "const parsed = JSON.parse($json.body ?? '{}')\nreturn [{ json: { text: JSON.stringify(parsed, null, 2) } }]"
  },
  {
    name: "Date",
    code: "const d = new Date('2026-01-01T00:00:00Z')\nreturn [{ json: { iso: d.toISOString(), day: d.getUTCDay() } }]"
  },
  {
    name: "luxon chain",
    code:
      "const due = DateTime.now().plus({ days: 3 }).startOf('day').toISO()\nreturn [{ json: { due, today: $today.toFormat('yyyy-MM-dd') } }]"
  },
  {
    name: "object key named constructor",
    code: "return [{ json: { constructor: 'Ada', prototype: 1, caller: '+49 30 123' } }]"
  },
  {
    name: "string mentioning require",
    code: "const note = 'use require(\"fs\") to read files'\nreturn [{ json: { note, word: 'process' } }]"
  },
  {
    name: "user variable named process",
    code:
      "function process(item) { return item.json.value * 2 }\nreturn $input.all().map(i => ({ json: { v: process(i) } }))"
  },
  {
    name: "user variable named self",
    code: "const self = { process: 1, name: 'me' }\nreturn [{ json: { n: self.name, p: self.process } }]"
  },
  { name: "member named process on user data", code: "return [{ json: { step: $json.process, env: $json.env } }]" },
  {
    name: "typeof checks",
    code:
      "const hasProcess = typeof process !== 'undefined'\nconst hasRequire = typeof require === 'function'\nreturn [{ json: { hasProcess, hasRequire } }]"
  },
  {
    name: "instanceof Function",
    code: "const isFn = (v) => v instanceof Function\nreturn [{ json: { f: isFn(() => 1) } }]"
  },
  {
    name: "labels and switch",
    code: "outer: for (const a of [1, 2]) { switch (a) { case 1: continue outer; default: break outer } }\nreturn []"
  },
  {
    name: "try catch finally",
    code:
      "let msg\ntry { JSON.parse('{') } catch (error) { msg = error.message } finally { msg ??= 'ok' }\nreturn [{ json: { msg } }]"
  },
  {
    name: "optional catch binding",
    code: "try { JSON.parse('{') } catch { return [{ json: { bad: true } }] }\nreturn []"
  },
  {
    name: "tagged template",
    code: "const tag = (s, ...v) => s.raw.join('|') + v.join(',')\nreturn [{ json: { t: tag`a${1}b${2}` } }]"
  },
  {
    name: "Map and Set",
    code:
      "const seen = new Set()\nconst byId = new Map()\nfor (const i of $input.all()) { seen.add(i.json.id); byId.set(i.json.id, i.json) }\nreturn [{ json: { unique: seen.size } }]"
  },
  {
    name: "getters and setters in literals",
    code:
      "const o = { _v: 1, get v() { return this._v }, set v(x) { this._v = x } }\no.v = 5\nreturn [{ json: { v: o.v } }]"
  },
  {
    name: "BigInt and numeric separators",
    code: "const big = 10_000n * 3n\nreturn [{ json: { big: big.toString(), n: 1_000_000 } }]"
  },
  { name: "exponent and bitwise", code: "return [{ json: { a: 2 ** 10, b: 5 & 3, c: -7 >>> 28 } }]" },
  {
    name: "Object helpers",
    code:
      "const entries = Object.entries($json ?? {})\nreturn [{ json: Object.fromEntries(entries.map(([k, v]) => [k.toUpperCase(), v])) }]"
  },
  {
    name: "structuredClone and Array.from",
    code:
      "const copy = structuredClone({ a: [1, 2] })\nreturn Array.from({ length: 2 }, (_, i) => ({ json: { i, copy } }))"
  },
  {
    name: "$('Node').first()",
    code: "const webhook = $('Webhook').first().json\nreturn [{ json: { body: webhook.body } }]"
  },
  { name: "$('Node').all() map", code: "return $('HTTP Request').all().map(r => ({ json: r.json }))" },
  {
    name: "$input.first and last",
    code: "return [{ json: { first: $input.first().json, last: $input.last().json } }]"
  },
  { name: "console.log objects", code: "console.log('items', $input.all().length, { a: 1 })\nreturn $input.all()" },
  {
    name: "$execution custom data",
    code: "$execution.customData.set('orderId', String($json.id))\nreturn [{ json: { id: $execution.id } }]"
  },
  { name: "$jmespath", code: "const names = $jmespath($json, 'people[*].name')\nreturn [{ json: { names } }]" },
  {
    name: "static data",
    code:
      "const data = $getWorkflowStaticData('global')\ndata.count = (data.count ?? 0) + 1\nreturn [{ json: { count: data.count } }]"
  },
  {
    name: "require allowed builtin",
    code:
      "const crypto = require('crypto')\nreturn [{ json: { h: crypto.createHash('sha256').update('x').digest('hex') } }]"
  },
  {
    name: "string containing closing brace",
    code: "const s = '}; process.exit(); function x() {'\nreturn [{ json: { s } }]"
  },
  { name: "comment at the end", code: "return [] // done" },
  {
    name: "Error subclass",
    code:
      "class MyError extends Error { constructor(m) { super(m); this.name = 'MyError' } }\nthrow new MyError('nope')"
  },
  {
    name: "Symbol.iterator",
    code: "const it = { *[Symbol.iterator]() { yield 1 } }\nreturn [...it].map(n => ({ json: { n } }))"
  },
  { name: "computed key from variable", code: "const key = 'total'\nreturn [{ json: { [key]: 1, [`${key}2`]: 2 } }]" },
  {
    name: "helpers.httpRequest",
    code: "const res = await helpers.httpRequest({ url: 'https://example.com', json: true })\nreturn [{ json: res }]"
  }
]
