#!/usr/bin/env python3
"""Fails when the layering of fs/ and core/ is broken.

1. Forbidden headers: fs/ never includes RocksDB or LLVM (it reaches
   them only through core/'s interface), core/ never includes FUSE.
2. Include cycles among the headers of fs/ or of core/.
3. Call cycles among the .c files of fs/ or of core/:

For each of fs/ and core/ (or the folders given): every function defined
at file scope (not static) belongs to its file; a file that calls a
function of another file depends on it. A cycle in that graph (A calls
B, B calls A, directly or around) is printed with the calls that make it,
and the exit status is 1. Function pointers handed over as callbacks are
not calls: that is how a lower layer reaches up without a cycle.
"""
import os
import re
import sys

DEF = re.compile(r'^(?!static\b)[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*\([^;]*$')
CALL = re.compile(r'\b([A-Za-z_]\w*)\s*\(')


def strip(text):
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', ' ', text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    return text


def graph(root):
    files = []
    for d, _, names in os.walk(root):
        files += [os.path.join(d, n) for n in names
                  if n.endswith(('.c', '.cc'))]
    owner, calls = {}, {}
    for f in files:
        text = strip(open(f, encoding='utf-8').read())
        for line in text.split('\n'):
            m = DEF.match(line)
            if m and not line.startswith((' ', '\t', '#')):
                owner.setdefault(m.group(1), f)
        calls[f] = set(CALL.findall(text))
    edges = {f: {} for f in files}
    for f in files:
        for name in calls[f]:
            g = owner.get(name)
            if g and g != f:
                edges[f].setdefault(g, name)
    return edges


def sccs(edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


FORBIDDEN = {
    'fs': re.compile(r'#\s*include\s*[<"](rocksdb/|llvm-c/|llvm/)'),
    'core': re.compile(r'#\s*include\s*[<"](fuse|fuse3/)'),
}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def sources(root, ext):
    for d, _, names in os.walk(root):
        for n in sorted(names):
            if n.endswith(ext):
                yield os.path.join(d, n)


def forbidden(root):
    bad = 0
    rule = FORBIDDEN.get(os.path.basename(os.path.normpath(root)))
    if not rule:
        return 0
    for f in sources(root, ('.c', '.cc', '.h')):
        for n, line in enumerate(open(f, encoding='utf-8'), 1):
            if rule.search(line):
                print(f'{f}:{n}: {root}/ may not include this: '
                      f'{line.strip()}')
                bad += 1
    return bad


def include_graph(root):
    headers = list(sources(root, '.h'))
    by_name = {}
    for h in headers:
        by_name.setdefault(os.path.basename(h), h)
        by_name[os.path.relpath(h, root)] = h
    edges = {}
    for h in headers:
        text = open(h, encoding='utf-8').read()
        edges[h] = {}
        for inc in INCLUDE.findall(text):
            g = by_name.get(inc) or by_name.get(os.path.basename(inc))
            if g and g != h:
                edges[h].setdefault(g, inc)
    return edges


def main():
    roots = sys.argv[1:] or ['fs', 'core']
    bad = 0
    for root in roots:
        bad += forbidden(root)
        edges = include_graph(root)
        for comp in sccs(edges):
            bad += 1
            print(f'include cycle in {root}/: ' + ' -> '.join(comp))
    for root in roots:
        edges = graph(root)
        for comp in sccs(edges):
            bad += 1
            print(f'cycle in {root}/ among {len(comp)} files:')
            for f in comp:
                for g, name in sorted(edges[f].items()):
                    if g in comp:
                        print(f'  {f} -> {g} (calls {name})')
    if bad:
        print(f'{bad} problem(s): move the shared part below its users, '
              'or hand it over as a callback')
        return 1
    print('layers hold in ' + ', '.join(roots) + ': no forbidden '
          'headers, no include or call cycles')
    return 0


if __name__ == '__main__':
    sys.exit(main())
