import { specError } from './errors';

/**
 * Constraints on a cell's parameters, a small declarative language parsed here (never eval'd):
 *   constraint := sum (relop sum)+          chains mean "and": "5 <= fast < slow" is 5 <= fast and fast < slow
 *   sum        := product (("+" | "-") product)*
 *   product    := unary (("*" | "/") unary)*
 *   unary      := "-" unary | number | name | "(" sum ")"
 *   relop      := "<" | "<=" | ">" | ">=" | "==" | "!="
 * Names are parameter names; numbers are decimals with an optional exponent. Examples: "fast < slow",
 * "slow >= 2 * fast", "oversold + 10 <= overbought".
 */
export type Compiled = (p: Readonly<Record<string, number>>) => number;

export interface Constraint {
  source: string;
  names: string[];
  test(p: Readonly<Record<string, number>>): boolean;
}

const RELOPS = ['<=', '>=', '==', '!=', '<', '>'] as const;
type RelOp = (typeof RELOPS)[number];
const TOKEN = /\s*(?:(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(<=|>=|==|!=|[<>+\-*/()]))/y;

type Token = { kind: 'num'; value: number } | { kind: 'name'; value: string } | { kind: 'op'; value: string };

function tokenize(src: string, path: Array<string | number>): Token[] {
  const out: Token[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < src.length) {
    if (/^\s*$/.test(src.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(src);
    if (!m) throw specError(path, `cannot read "${src.slice(at).trim()}" in "${src}"`);
    if (m[1] !== undefined) out.push({ kind: 'num', value: Number(m[1]) });
    else if (m[2] !== undefined) out.push({ kind: 'name', value: m[2] });
    else out.push({ kind: 'op', value: m[3] });
    at = TOKEN.lastIndex;
  }
  return out;
}

/** Parses one constraint; `known` are the parameter names it may use. */
export function parseConstraint(src: string, known: ReadonlySet<string>, path: Array<string | number>): Constraint {
  if (src.length > 200) throw specError(path, 'a constraint is at most 200 characters');
  const tokens = tokenize(src, path);
  const names = new Set<string>();
  let pos = 0;
  const peek = () => tokens[pos];
  const fail = (what: string): never => {
    throw specError(path, `${what} in "${src}" (write e.g. "fast < slow" or "slow >= 2 * fast")`);
  };
  const isOp = (t: Token | undefined, ...ops: string[]) => t !== undefined && t.kind === 'op' && ops.includes(t.value);

  function unary(): Compiled {
    const t = tokens[pos++];
    if (t === undefined) return fail('an expression ends early');
    if (t.kind === 'num') {
      const v = t.value;
      return () => v;
    }
    if (t.kind === 'name') {
      if (!known.has(t.value)) fail(`unknown parameter "${t.value}" (known: ${[...known].join(', ') || 'none'})`);
      names.add(t.value);
      const name = t.value;
      return (p) => p[name];
    }
    if (t.value === '-') {
      const e = unary();
      return (p) => -e(p);
    }
    if (t.value === '(') {
      const e = sum();
      if (!isOp(tokens[pos++], ')')) fail('a missing ")"');
      return e;
    }
    return fail(`an unexpected "${t.value}"`);
  }

  function product(): Compiled {
    let e = unary();
    while (isOp(peek(), '*', '/')) {
      const op = (tokens[pos++] as { value: string }).value;
      const a = e;
      const b = unary();
      e = op === '*' ? (p) => a(p) * b(p) : (p) => a(p) / b(p);
    }
    return e;
  }

  function sum(): Compiled {
    let e = product();
    while (isOp(peek(), '+', '-')) {
      const op = (tokens[pos++] as { value: string }).value;
      const a = e;
      const b = product();
      e = op === '+' ? (p) => a(p) + b(p) : (p) => a(p) - b(p);
    }
    return e;
  }

  const terms = [sum()];
  const ops: RelOp[] = [];
  while (isOp(peek(), ...RELOPS)) {
    ops.push(tokens[pos++].value as RelOp);
    terms.push(sum());
  }
  if (pos < tokens.length) fail(`an unexpected "${String(tokens[pos].value)}"`);
  if (ops.length === 0) fail('no comparison (<, <=, >, >=, ==, !=)');
  return {
    source: src,
    names: [...names],
    test(p) {
      for (let k = 0; k < ops.length; k++) if (!compare(terms[k](p), ops[k], terms[k + 1](p))) return false;
      return true;
    },
  };
}

function compare(a: number, op: RelOp, b: number): boolean {
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
}
