#!/usr/bin/env python3
"""The house rules of docs/architecture (issue 18), checked on the source as text:

1. no import circle between the files of `src/` (Rust `crate::`, `super::` and child-module paths;
   a file reading its own folder's `mod.rs` is not counted) nor of `training/` (Python imports of
   sibling modules);
2. no source file over 600 lines (`src/`, `training/`, `scripts/`);
3. no Rust function over 80 lines outside `#[cfg(test)]` modules;
4. the README's "How a request flows" names every folder and file at the top of `src/`.

Prints every violation and exits 1 when there is one. Run by `make test`.
"""
import os
import re
import sys

MAX_FILE_LINES = 600
MAX_FN_LINES = 80
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rust_files():
    for dirpath, _, files in os.walk(os.path.join(ROOT, "src")):
        for f in files:
            if f.endswith(".rs"):
                yield os.path.join(dirpath, f)


def module_of(path):
    """`src/a/b.rs` -> ("a", "b"); `src/a/mod.rs` -> ("a",); lib.rs/main.rs -> ()."""
    rel = os.path.relpath(path, os.path.join(ROOT, "src"))[:-3].split(os.sep)
    if rel[-1] == "mod" or rel in (["lib"], ["main"]):
        rel = rel[:-1]
    return tuple(rel)


def strip_tests(text):
    """The text before a `#[cfg(test)]` module (tests may import anything)."""
    m = re.search(r"^#\[cfg\(test\)\]\s*\nmod ", text, re.M)
    return text[: m.start()] if m else text


def rust_paths(text, here):
    """Every module path a file names: `crate::a::b::C`, `super::x`, `use crate::a::{b, c::d}`."""
    paths = []
    for m in re.finditer(r"\b(crate|super|self)((?:::\w+)+)", text):
        head, rest = m.group(1), m.group(2).split("::")[1:]
        base = {"crate": (), "super": here[:-1], "self": here}[head]
        paths.append(base + tuple(rest))
    for m in re.finditer(r"\buse\s+(crate|super)::([\w:]*)\{([^;]*)\};", text, re.S):
        head = m.group(1)
        base = {"crate": (), "super": here[:-1]}[head] + tuple(p for p in m.group(2).split("::") if p)
        for item in re.split(r"[,\s]+", re.sub(r"\{[^}]*\}", "", m.group(3))):
            if item and item != "self":
                paths.append(base + tuple(item.split("::")))
    return paths


def resolve(path, modules):
    """The longest prefix of `path` that is a file's module."""
    for n in range(len(path), 0, -1):
        if path[:n] in modules:
            return path[:n]
    return None


def rust_graph():
    """File -> the files it names. Paths through a folder's re-exports count as naming its mod.rs."""
    files = {module_of(p): p for p in rust_files() if not p.endswith("main.rs")}
    graph = {}
    for mod, path in files.items():
        text = strip_tests(open(path, encoding="utf-8").read())
        paths = rust_paths(text, mod)
        # a child module named by its bare name in the file that declares it (`mod x;`, `x::Y`)
        children = set(re.findall(r"^\s*(?:pub(?:\([\w:]+\))?\s+)?mod\s+(\w+)\s*;", text, re.M))
        for m in re.finditer(r"(?<![\w:])(\w+)((?:::\w+)+)", text):
            if m.group(1) in children:
                paths.append(mod + (m.group(1),) + tuple(m.group(2).split("::")[1:]))
        # a file naming its own folder's mod.rs (`super::X`) is reading the folder's shared part,
        # which the folder declares it with: not counted as an arrow back
        graph[mod] = {t for t in (resolve(p, files) for p in paths) if t is not None and t != mod and t != mod[:-1]}
    return graph, files


def python_graph():
    d = os.path.join(ROOT, "training")
    names = {f[:-3] for f in os.listdir(d) if f.endswith(".py")}
    graph = {}
    for n in names:
        text = open(os.path.join(d, n + ".py"), encoding="utf-8").read()
        found = set(re.findall(r"^\s*(?:from|import)\s+(\w+)", text, re.M))
        graph[n] = {t for t in found if t in names and t != n}
    return graph


def circles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def long_functions(path):
    """(name, first line, length) of every fn longer than MAX_FN_LINES, tests left out."""
    lines = strip_tests(open(path, encoding="utf-8").read()).split("\n")
    found = []
    i = 0
    while i < len(lines):
        m = re.match(r"\s*(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+)?(?:const\s+)?(?:unsafe\s+)?fn\s+(\w+)", lines[i])
        if not m:
            i += 1
            continue
        depth, started, j = 0, False, i
        while j < len(lines):
            code = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])\'|//.*$', "", lines[j])
            depth += code.count("{") - code.count("}")
            started = started or "{" in code
            if started and depth <= 0 or (not started and code.rstrip().endswith(";")):
                break
            j += 1
        if started and j - i + 1 > MAX_FN_LINES:
            found.append((m.group(1), i + 1, j - i + 1))
        i = i + 1 if not started else i + 1
    return found


def readme_tree_problems():
    """Every top-level entry of src/ named in the README's "How a request flows" section."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    start = readme.find("## How a request flows")
    if start < 0:
        return ["README.md: no \"How a request flows\" section"]
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end > 0 else len(readme)]
    out = []
    for entry in sorted(os.listdir(os.path.join(ROOT, "src"))):
        full = os.path.join(ROOT, "src", entry)
        if entry in ("lib.rs", "main.rs") or not (os.path.isdir(full) or entry.endswith(".rs")):
            continue
        name = f"src/{entry}/" if os.path.isdir(full) else f"src/{entry}"
        if name not in section:
            out.append(f"README.md \"How a request flows\" does not name {name}")
    return out


def main():
    problems = []
    graph, files = rust_graph()
    for c in circles(graph):
        problems.append("import circle in src/: " + " -> ".join(os.path.relpath(files[m], ROOT) for m in c))
    for c in circles(python_graph()):
        problems.append("import circle in training/: " + ", ".join(f"{m}.py" for m in c))
    for top in ("src", "training", "scripts"):
        for dirpath, _, names in os.walk(os.path.join(ROOT, top)):
            for f in names:
                if f.endswith((".rs", ".py", ".sh")):
                    p = os.path.join(dirpath, f)
                    n = sum(1 for _ in open(p, encoding="utf-8"))
                    if n > MAX_FILE_LINES:
                        problems.append(f"{os.path.relpath(p, ROOT)}: {n} lines (at most {MAX_FILE_LINES})")
    for p in rust_files():
        for name, line, n in long_functions(p):
            problems.append(f"{os.path.relpath(p, ROOT)}:{line}: fn {name} is {n} lines (at most {MAX_FN_LINES})")
    problems.extend(readme_tree_problems())
    for p in problems:
        print(p)
    print(f"check-layout: {len(graph)} Rust modules, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
