/**
 * Ordinary Python Code-node snippets: every one must be accepted by the analyser and produce
 * `expected` when run (all items, over `items`). `stdlib` lists the modules it needs allowed;
 * `classes` means it defines classes (n8n denies `__build_class__` by default).
 */
export interface PythonBenign {
  readonly id: string
  readonly code: string
  readonly items?: ReadonlyArray<unknown>
  readonly stdlib?: ReadonlyArray<string>
  readonly classes?: boolean
  readonly query?: unknown
  readonly expected: unknown
}

const items = [{ json: { name: "coffee", price: 3.5, qty: 2 } }, { json: { name: "bagel", price: 2.25, qty: 4 } }]

export const benignPython: ReadonlyArray<PythonBenign> = [
  { id: "py-benign-items", code: "return _items", items, expected: items },
  {
    id: "py-benign-sum",
    code: "return [{'json': {'total': sum(i['json']['price'] * i['json']['qty'] for i in _items)}}]",
    items,
    expected: [{ json: { total: 16 } }]
  },
  {
    id: "py-benign-comprehension",
    code: "return [i for i in _items if i['json']['qty'] > 2]",
    items,
    expected: [items[1]]
  },
  {
    id: "py-benign-dict-comprehension",
    code: "return [{'json': {i['json']['name']: i['json']['qty'] for i in _items}}]",
    items,
    expected: [{ json: { coffee: 2, bagel: 4 } }]
  },
  {
    id: "py-benign-fstring",
    code: "return [{'json': {'label': f\"{i['json']['name']}: {i['json']['price']:.2f}\"}} for i in _items]",
    items,
    expected: [{ json: { label: "coffee: 3.50" } }, { json: { label: "bagel: 2.25" } }]
  },
  {
    id: "py-benign-string-methods",
    code: "return [{'json': {'words': ' '.join(w.capitalize() for w in 'hello big world'.split())}}]",
    expected: [{ json: { words: "Hello Big World" } }]
  },
  {
    id: "py-benign-sorted-key",
    code: "return sorted(_items, key=lambda i: i['json']['price'])",
    items,
    expected: [items[1], items[0]]
  },
  {
    id: "py-benign-max-key",
    code: "best = max(_items, key=lambda i: i['json']['qty'])\nreturn [{'json': {'best': best['json']['name']}}]",
    items,
    expected: [{ json: { best: "bagel" } }]
  },
  {
    id: "py-benign-enumerate-zip",
    code:
      "names = [i['json']['name'] for i in _items]\nreturn [{'json': {'pairs': [[n, k] for k, n in enumerate(names)], 'zipped': list(zip(names, [1, 2]))}}]",
    items,
    expected: [{ json: { pairs: [["coffee", 0], ["bagel", 1]], zipped: [["coffee", 1], ["bagel", 2]] } }]
  },
  {
    id: "py-benign-try-except",
    code: "try:\n    int('x')\nexcept ValueError as error:\n    return [{'json': {'error': str(error)}}]",
    expected: [{ json: { error: "invalid literal for int() with base 10: 'x'" } }]
  },
  {
    id: "py-benign-json",
    code:
      "import json\ndata = json.loads('{\"a\": [1, 2]}')\nreturn [{'json': {'text': json.dumps(data, sort_keys=True)}}]",
    stdlib: ["json"],
    expected: [{ json: { text: "{\"a\": [1, 2]}" } }]
  },
  {
    id: "py-benign-datetime",
    code:
      "from datetime import datetime, timedelta\nd = datetime(2026, 1, 31) + timedelta(days=1)\nreturn [{'json': {'date': d.strftime('%Y-%m-%d'), 'weekday': d.weekday()}}]",
    stdlib: ["datetime"],
    expected: [{ json: { date: "2026-02-01", weekday: 6 } }]
  },
  {
    id: "py-benign-re",
    code: "import re\nreturn [{'json': {'numbers': re.findall(r'\\d+', 'a1b22c333')}}]",
    stdlib: ["re"],
    expected: [{ json: { numbers: ["1", "22", "333"] } }]
  },
  {
    id: "py-benign-math",
    code: "import math\nreturn [{'json': {'root': math.sqrt(16), 'ceil': math.ceil(2.1)}}]",
    stdlib: ["math"],
    expected: [{ json: { root: 4, ceil: 3 } }]
  },
  {
    id: "py-benign-counter",
    code: "from collections import Counter\nc = Counter('abracadabra')\nreturn [{'json': {'top': c.most_common(2)}}]",
    stdlib: ["collections"],
    expected: [{ json: { top: [["a", 5], ["b", 2]] } }]
  },
  {
    id: "py-benign-groupby",
    code:
      "from itertools import groupby\nwords = ['apple', 'avocado', 'banana', 'blueberry', 'cherry']\nreturn [{'json': {k: list(g) for k, g in groupby(words, key=lambda w: w[0])}}]",
    stdlib: ["itertools"],
    expected: [{ json: { a: ["apple", "avocado"], b: ["banana", "blueberry"], c: ["cherry"] } }]
  },
  {
    id: "py-benign-generator",
    code:
      "def squares(n):\n    for i in range(n):\n        yield i * i\nreturn [{'json': {'squares': list(squares(5))}}]",
    expected: [{ json: { squares: [0, 1, 4, 9, 16] } }]
  },
  {
    id: "py-benign-closure",
    code:
      "def make_adder(n):\n    def add(x):\n        return x + n\n    return add\nplus3 = make_adder(3)\nreturn [{'json': {'v': plus3(4)}}]",
    expected: [{ json: { v: 7 } }]
  },
  {
    id: "py-benign-map-filter",
    code:
      "evens = list(filter(lambda x: x % 2 == 0, map(lambda x: x * 3, range(6))))\nreturn [{'json': {'evens': evens}}]",
    expected: [{ json: { evens: [0, 6, 12] } }]
  },
  {
    id: "py-benign-format-call",
    code: "return [{'json': {'text': 'Hello, {}! You have {n} items.'.format('Ada', n=3)}}]",
    expected: [{ json: { text: "Hello, Ada! You have 3 items." } }]
  },
  {
    id: "py-benign-format-map",
    code: "return [{'json': {'text': '{name} costs {price}'.format_map({'name': 'tea', 'price': 2})}}]",
    expected: [{ json: { text: "tea costs 2" } }]
  },
  {
    id: "py-benign-percent-format",
    code: "return [{'json': {'text': '%s is %d years old' % ('Ada', 36)}}]",
    expected: [{ json: { text: "Ada is 36 years old" } }]
  },
  {
    id: "py-benign-sets",
    code: "a, b = {1, 2, 3}, {2, 3, 4}\nreturn [{'json': {'union': sorted(a | b), 'common': sorted(a & b)}}]",
    expected: [{ json: { union: [1, 2, 3, 4], common: [2, 3] } }]
  },
  {
    id: "py-benign-unpacking",
    code:
      "first, *rest = [1, 2, 3, 4]\ndef total(*args, **kwargs):\n    return sum(args) + sum(kwargs.values())\nreturn [{'json': {'first': first, 'rest': rest, 'total': total(1, 2, x=3)}}]",
    expected: [{ json: { first: 1, rest: [2, 3, 4], total: 6 } }]
  },
  {
    id: "py-benign-while-break",
    code: "n = 0\nwhile True:\n    n += 1\n    if n >= 5:\n        break\nreturn [{'json': {'n': n}}]",
    expected: [{ json: { n: 5 } }]
  },
  {
    id: "py-benign-isinstance",
    code:
      "values = [1, 'a', 2.5, None, [1]]\nreturn [{'json': {'kinds': [type_name for type_name in ['int' if isinstance(v, int) else 'other' for v in values]]}}]",
    expected: [{ json: { kinds: ["int", "other", "other", "other", "other"] } }]
  },
  {
    id: "py-benign-dict-get",
    code:
      "d = {'a': 1}\nd.setdefault('b', 2)\nreturn [{'json': {'a': d.get('a'), 'c': d.get('c', 'none'), 'keys': sorted(d)}}]",
    expected: [{ json: { a: 1, c: "none", keys: ["a", "b"] } }]
  },
  {
    id: "py-benign-slicing",
    code:
      "xs = list(range(10))\nreturn [{'json': {'tail': xs[-3:], 'every_other': xs[::2], 'back': list(reversed(xs[:3]))}}]",
    expected: [{ json: { tail: [7, 8, 9], every_other: [0, 2, 4, 6, 8], back: [2, 1, 0] } }]
  },
  {
    id: "py-benign-walrus",
    code: "if (n := len(_items)) > 1:\n    return [{'json': {'n': n}}]\nreturn []",
    items,
    expected: [{ json: { n: 2 } }]
  },
  {
    id: "py-benign-match-literal",
    code:
      "def kind(v):\n    match v:\n        case {'type': 'a', 'value': x}:\n            return f'a:{x}'\n        case [first, *_]:\n            return f'list:{first}'\n        case 0 | 1:\n            return 'bit'\n        case _:\n            return 'other'\nreturn [{'json': {'kinds': [kind({'type': 'a', 'value': 5}), kind([9, 8]), kind(1), kind('x')]}}]",
    expected: [{ json: { kinds: ["a:5", "list:9", "bit", "other"] } }]
  },
  // The snippet runs inside a function (spec 7.5), so an enclosing variable is `nonlocal`, as in n8n.
  {
    id: "py-benign-nonlocal",
    code:
      "counter = 0\ndef bump():\n    nonlocal counter\n    counter += 1\nbump()\nbump()\nreturn [{'json': {'counter': counter}}]",
    expected: [{ json: { counter: 2 } }]
  },
  {
    id: "py-benign-none",
    code: "x = None\nreturn [{'json': {'is_none': x is None}}]",
    expected: [{ json: { is_none: true } }]
  },
  {
    id: "py-benign-query",
    code: "return [{'json': {'city': _query['city']}}]",
    query: { city: "Berlin" },
    expected: [{ json: { city: "Berlin" } }]
  },
  {
    id: "py-benign-classes",
    code:
      "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n    def norm1(self):\n        return abs(self.x) + abs(self.y)\nreturn [{'json': {'n': Point(3, -4).norm1()}}]",
    classes: true,
    expected: [{ json: { n: 7 } }]
  },
  {
    id: "py-benign-dataclass",
    code:
      "from dataclasses import dataclass, asdict\n@dataclass\nclass Order:\n    id: int\n    total: float = 0.0\nreturn [{'json': asdict(Order(7, 9.5))}]",
    stdlib: ["dataclasses"],
    classes: true,
    expected: [{ json: { id: 7, total: 9.5 } }]
  },
  {
    id: "py-benign-decorator",
    code:
      "import functools\ndef twice(fn):\n    @functools.wraps(fn)\n    def run(x):\n        return fn(fn(x))\n    return run\n@twice\ndef inc(x):\n    return x + 1\nreturn [{'json': {'v': inc(1)}}]",
    stdlib: ["functools"],
    expected: [{ json: { v: 3 } }]
  },
  {
    id: "py-benign-string-with-dunder-words",
    code: "note = 'use obj.name, not private things'\nreturn [{'json': {'note': note}}]",
    expected: [{ json: { note: "use obj.name, not private things" } }]
  }
]
