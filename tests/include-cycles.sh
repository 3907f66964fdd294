#!/bin/bash
# Fails when the source files of vmm/, devices/, vfio/ and arch/ depend on each other in a
# cycle, printing each one as "a.c -> b.h(b.c) -> ... -> a.h(a.c)" (the header through
# which each step is made, and the file that implements what it uses there) and below it
# what each file uses of the next.
#
#   tests/include-cycles.sh [--root DIR] [--allow FILE] [--verbose]   (default: this tree)
#   tests/include-cycles.sh --selftest        the checker itself, on fake trees
#
# The model. A node is a .c file, or a header with no .c of the same name that holds
# inline helpers (it implements those itself). A .c file depends on the file that
# implements each function or global it uses and sees through a project header it
# includes, directly or through other headers; an inline function of X.h is X.c's when
# X.c exists, else the header's; a macro counts as what its body uses. A file's use of
# its own header is no cycle. Types and constants are not a dependency: counting every
# #include would tie each file that needs struct config to config.c, whatever config.c
# calls, and would not see through a header that declares the functions of several
# files (vfio/internal.h; arch/arch.h, implemented in arch/x86/), where real cycles hide.
#
# What is reported: each strongly connected set of nodes (one round trip through all of
# its members), and inside a larger set each pair of files that use each other directly,
# since those are cut one at a time.
#
# --allow FILE (default tests/include-cycles.allow when it exists): known cycles, one a
# line, as the sorted list of its members. A pair is known only by its own line; a larger
# set is known when a line holds all of its members, so only new cycles, new pairs and a
# set that grows fail. A line that no longer matches is pointed out; --verbose prints the
# known ones in full. Python 3 with its standard library only; well under a second.
exec python3 - "$0" "$@" <<'PY'
import collections
import contextlib
import io
import os
import re
import sys
import tempfile

SRC_DIRS = ("vmm", "devices", "vfio", "arch/x86")
HEADER_ONLY_DIRS = ("arch",)  # arch/arch.h: the interface, implemented in arch/x86/
INCLUDE_DIRS = ("", "arch/x86")  # -I. -Iarch/$(ARCH), as in the Makefile

# Comments, string and character literals, in one pass so that "//" in a string or a
# quote in a comment is taken for what it is.
LEXEMES = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)
DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)(\([^)]*\))?(.*)$", re.M)
DIRECTIVE = re.compile(r"^[ \t]*#.*$", re.M)
IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
ATTRIBUTE = re.compile(r"\b__attribute__\s*\(\(")
TAG_BODY = re.compile(r"\b(?:struct|union|enum)\b\s*\w*\s*(?:\{\})?")
C_WORDS = set(
    "auto break case char const continue default do double else enum extern float for goto "
    "if inline int long register restrict return short signed sizeof static struct switch "
    "typedef union unsigned void volatile while _Bool _Static_assert _Thread_local "
    "__thread __inline __restrict bool".split()
)


def strip_comments(text):
    """The text without comments (kept: strings, for #include) and line continuations."""
    text = LEXEMES.sub(lambda m: " " if m.group().startswith("/") else m.group(), text)
    return text.replace("\\\n", " ")


def strip_literals(text):
    return LEXEMES.sub('""', text)


def matching(code, i, open_ch, close_ch):
    """Index of the bracket that closes the one at code[i] (or the end of code)."""
    depth = 0
    for j in range(i, len(code)):
        if code[j] == open_ch:
            depth += 1
        elif code[j] == close_ch:
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


def drop_attributes(head):
    while True:
        m = ATTRIBUTE.search(head)
        if not m:
            return head
        end = matching(head, m.end() - 2, "(", ")")
        head = head[: m.start()] + " " + head[end + 1 :]


def function_name(head):
    """The name defined by a top-level "head {" when it is a function definition."""
    head = drop_attributes(head).strip()
    if not head.endswith(")") or "=" in head or head.split()[0] == "typedef":
        return None
    m = re.search(r"(\w+)\s*\(", head)
    return m.group(1) if m and m.group(1) not in C_WORDS else None


def object_name(decl):
    """The global a top-level declaration ending in ';' defines, if it defines one."""
    words = decl.split()
    if not words or words[0] in ("typedef", "extern", "_Static_assert"):
        return None
    decl = drop_attributes(decl.split("=")[0])
    if "(" in decl:  # a prototype, unless a pointer to a function: (*name)(...)
        m = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", decl)
        return m.group(1) if m else None
    decl = TAG_BODY.sub(" ", decl)
    m = re.search(r"(\w+)\s*(?:\[[^\]]*\]\s*)*$", decl.strip())
    return m.group(1) if m and m.group(1) not in C_WORDS else None


def definitions(code):
    """(name, is_static, body) for every function and global defined at file scope."""
    found = []
    chunk = []
    i = 0
    while i < len(code):
        ch = code[i]
        if ch == ";":
            head = "".join(chunk)
            name = object_name(head)
            if name:
                found.append((name, "static" in head.split(), ""))
            chunk = []
        elif ch == "{":
            end = matching(code, i, "{", "}")
            head = "".join(chunk)
            name = function_name(head)
            if name:
                found.append((name, "static" in head.split(), code[i : end + 1]))
                chunk = []
            else:  # a struct or an initializer: the declaration goes on to its ';'
                chunk.append("{}")
            i = end
        else:
            chunk.append(ch)
        i += 1
    return found


class Tree:
    def __init__(self, root):
        self.root = root
        self.files = []
        for d in SRC_DIRS + HEADER_ONLY_DIRS:
            try:
                names = sorted(os.listdir(os.path.join(root, d)))
            except FileNotFoundError:
                continue
            exts = (".h",) if d in HEADER_ONLY_DIRS else (".c", ".h")
            self.files += [f"{d}/{n}" for n in names if n.endswith(exts)]
        known = set(self.files)
        self.includes, self.tokens, self.declared = {}, {}, {}
        self.macros = collections.defaultdict(dict)  # header -> {macro: what it uses}
        defined = collections.defaultdict(set)  # name -> nodes that implement it
        self.local = collections.defaultdict(set)  # node -> names it defines itself
        self.inline_uses = collections.defaultdict(set)  # node -> what its headers' inlines use
        for f in self.files:
            with open(os.path.join(root, f), errors="replace") as fh:
                text = strip_comments(fh.read())
            paths = (self.resolve(f, name) for name in INCLUDE.findall(text))
            self.includes[f] = [h for h in paths if h in known]
            code = strip_literals(text)
            self.tokens[f] = set(IDENT.findall(INCLUDE.sub(" ", code)))
            node = self.node(f)
            if f.endswith(".h"):
                self.declared[f] = self.tokens[f]
                for name, params, body in DEFINE.findall(code):
                    if params:
                        self.macros[f][name] = set(IDENT.findall(body)) - {name}
            for name, static, body in definitions(DIRECTIVE.sub(" ", code)):
                self.local[node].add(name)
                if f.endswith(".h"):
                    if body:  # an inline helper; a header defines nothing else
                        defined[name].add(node)
                        self.inline_uses[node] |= set(IDENT.findall(body))
                elif not static:
                    defined[name].add(node)
        self.defined = defined
        self.nodes = sorted({self.node(f) for f in self.files if f.endswith(".c")} |
                            {n for n in self.inline_uses if n.endswith(".h")})
        self.edges = {n: self.depends(n) for n in self.nodes}

    def resolve(self, f, name):
        for d in INCLUDE_DIRS + (os.path.dirname(f),):
            path = os.path.normpath(os.path.join(d, name))
            if os.path.exists(os.path.join(self.root, path)):
                return path
        return name

    def node(self, f):
        """Who implements what f declares: X.c for X.h when it exists."""
        if f.endswith(".h") and f[:-2] + ".c" in self.files:
            return f[:-2] + ".c"
        return f

    def visible(self, start):
        """The headers start sees, nearest first (breadth first over #include)."""
        seen, order, queue = set(), [], collections.deque(self.includes[start])
        while queue:
            h = queue.popleft()
            if h not in seen:
                seen.add(h)
                order.append(h)
                queue.extend(self.includes[h])
        return order

    def depends(self, node):
        """{node it depends on: {symbol: header it sees the symbol through}}."""
        if node.endswith(".c"):
            uses = set(self.tokens[node]) | self.inline_uses[node]
            headers = self.visible(node)
        else:
            uses = set(self.inline_uses[node])
            headers = [node] + self.visible(node)
        macros = {}  # a macro is what it expands to
        for h in reversed(headers):
            macros.update(self.macros[h])
        pending = [u for u in uses if u in macros]
        while pending:
            for u in macros[pending.pop()] - uses:
                uses.add(u)
                if u in macros:
                    pending.append(u)
        out = collections.defaultdict(dict)
        for sym in sorted(uses - self.local[node]):
            owners = self.defined.get(sym, set()) - {node}
            via = next((h for h in headers if sym in self.declared[h]), None)
            if owners and via:
                for o in owners:
                    out[o][sym] = via
        return out


def strongly_connected(nodes, edges):
    """Tarjan's algorithm, without recursion; the sets of more than one node."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                members = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    members.append(w)
                    if w == v:
                        break
                if len(members) > 1:
                    result.append(sorted(members))
    return sorted(result)


def round_trip(members, edges):
    """A closed walk from the first member through every member (shortest hops)."""
    inside = set(members)

    def path(a, goals):
        prev, queue = {a: None}, collections.deque([a])
        while queue:
            v = queue.popleft()
            for w in sorted(edges[v]):
                if w in inside and w not in prev:
                    prev[w] = v
                    if w in goals:
                        hops = [w]
                        while prev[hops[-1]] != a:
                            hops.append(prev[hops[-1]])
                        return hops[::-1]
                    queue.append(w)
        return []

    walk, left = [members[0]], set(members[1:])
    while left:
        hops = path(walk[-1], left)
        walk += hops
        left -= set(hops)
    return walk + path(walk[-1], {members[0]})


def describe(members, edges):
    walk = round_trip(members, edges)
    parts, why = [walk[0]], []
    for a, b in zip(walk, walk[1:]):
        syms = edges[a][b]
        via = collections.Counter(syms.values()).most_common(1)[0][0]
        parts.append(b if via == b else f"{via}({b})")
        names = sorted(syms)
        more = f", ... ({len(names)} in all)" if len(names) > 4 else ""
        why.append(f"    {a} uses {', '.join(names[:4])}{more} of {b}")
    return " -> ".join(parts), why


def read_allow(path):
    """[(line number, sorted members)] of the allow-list."""
    entries = []
    if path and os.path.exists(path):
        with open(path) as fh:
            for no, line in enumerate(fh, 1):
                members = line.split("#")[0].split()
                if members:
                    entries.append((no, sorted(members)))
    return entries


def knots(tree):
    """The cycles to report: each strongly connected set, and inside a larger one each
    pair of files that use each other directly (the knots that are cut one by one)."""
    found = []
    for members in strongly_connected(tree.nodes, tree.edges):
        found.append(members)
        if len(members) > 2:
            found += [[a, b] for a in members for b in tree.edges[a]
                      if a < b and b in members and a in tree.edges[b]]
    return found


def check(root, allow_path, verbose=False):
    tree = Tree(root)
    cycles = knots(tree)
    allowed = read_allow(allow_path)
    shown = allow_path or "an --allow file"
    if allow_path and allow_path.startswith(os.path.join(root, "")):
        shown = os.path.relpath(allow_path, root)
    new, used = [], set()
    for members in cycles:
        # A pair is known only as itself, so that no new one hides inside a known set;
        # a larger set may have shrunk since it was listed.
        known = next(((no, a) for no, a in allowed
                      if a == members or (len(members) > 2 and set(members) <= set(a))), None)
        line, why = describe(members, tree.edges)
        if known:
            no, a = known
            used.add(no)
            what = " <-> ".join(members) if len(members) == 2 else f"of {len(members)} files"
            print(f"include-cycles: known cycle ({shown}:{no}) {what}")
            if verbose:
                print(f"    {line}\n" + "\n".join(why))
            if a != members:
                print(f"include-cycles: note: it shrank; make line {no} of {shown}: "
                      + " ".join(members))
        else:
            new.append(members)
            print(f"include-cycles: cycle: {line}\n" + "\n".join(why))
    for no, a in allowed:
        if no not in used:
            print(f"include-cycles: note: line {no} of {shown} is no cycle any more "
                  "(remove it): " + " ".join(a))
    n = len(tree.files)
    if new:
        print(f"include-cycles: {len(new)} new cycle(s) among {n} files: break them (move "
              f"what both sides use below both), or list one in {shown} with the issue that "
              "will remove it")
        return 1
    if cycles:
        print(f"include-cycles: no new cycles among {n} files ({len(cycles)} known, listed in "
              f"{shown})")
    else:
        print(f"include-cycles: no cycles among {n} files")
    return 0


# ---- --selftest: fake trees with known verdicts ----

FAKE = {
    # Two files that call each other through their own headers.
    "pair": {
        "vmm/a.h": "struct a { int x; };\nint a_run(void);\n",
        "vmm/a.c": '#include "vmm/a.h"\n#include "vmm/b.h"\nint a_run(void) { return b_run(); }\n',
        "vmm/b.h": "int b_run(void);\n",
        "vmm/b.c": '#include "vmm/b.h"\n#include "vmm/a.h"\nint b_run(void) { return a_run(); }\n',
    },
    # Like vmm/config_internal.h: one header declares the functions of two files.
    "shared-header": {
        "vmm/p.h": "struct p { int x; };\nint p_load(void);\n",
        "vmm/p_internal.h": '#include "vmm/p.h"\nint p_fail(int);\nint q_enter(void);\n',
        "vmm/p.c": '#include "vmm/p_internal.h"\nint p_fail(int r) { return r; }\n'
                   "int p_load(void) { return q_enter(); }\n",
        "vmm/q.c": '#include "vmm/p_internal.h"\nint q_enter(void) { return p_fail(1); }\n',
    },
    # A call hidden in a macro of a header without a .c, and one in an inline helper.
    "macro": {
        "vmm/log.h": "void log_write(const char *s);\n#define LOG(s) log_write(s)\n",
        "vmm/log.c": '#include "vmm/log.h"\n#include "devices/d.h"\n'
                     "void log_write(const char *s) { d_poke(); (void)s; }\n",
        "devices/d.h": "void d_poke(void);\n",
        "devices/d.c": '#include "devices/d.h"\n#include "vfio/u.h"\n'
                       "void d_poke(void) { u_say(); }\n",
        "vfio/u.h": '#include "vmm/log.h"\nstatic inline void u_say(void) { LOG("x"); }\n',
    },
    # a -> b -> c -> a, no two of them calling each other.
    "ring": {
        "vmm/a.h": "int a_run(void);\n",
        "vmm/a.c": '#include "vmm/a.h"\n#include "vmm/b.h"\nint a_run(void) { return b_run(); }\n',
        "vmm/b.h": "int b_run(void);\n",
        "vmm/b.c": '#include "vmm/b.h"\n#include "vmm/c.h"\nint b_run(void) { return c_run(); }\n',
        "vmm/c.h": "int c_run(void);\n",
        "vmm/c.c": '#include "vmm/c.h"\n#include "vmm/a.h"\nint c_run(void) { return a_run(); }\n',
    },
    # Acyclic: a type from a header is no dependency; a file including its own header,
    # an inline helper and a static function named like another file's are no cycle.
    "acyclic": {
        "vmm/a.h": "struct a { int x; };\nint a_run(void);\n",
        "vmm/a.c": '#include "vmm/a.h"\n#include "vmm/b.h"\n#include "vmm/h.h"\n'
                   '#include "arch/arch.h"\n'
                   "int a_run(void) { return b_run() + h_twice(1) + arch_init(); }\n",
        "vmm/b.h": '#include "vmm/a.h"\nint b_run(void);\nint b_size(struct a *p);\n',
        "vmm/b.c": '#include "vmm/b.h"\n#include "vmm/h.h"\n'
                   "static int a_run(void) { return 2; } /* not a.c's */\n"
                   "int b_run(void) { return a_run() + h_twice(2); }\n"
                   'int b_size(struct a *p) { return p->x; } /* a_run() in a comment */\n'
                   'const char *b_name = "a_run()";\n',
        "vmm/h.h": "static inline int h_twice(int x) { return 2 * x; }\n",
        "arch/arch.h": "int arch_init(void);\n",
        "arch/x86/x86.c": '#include "arch/arch.h"\nint arch_init(void) { return 0; }\n',
    },
}


def run_on(files, allow=None):
    with tempfile.TemporaryDirectory() as root:
        for path, text in files.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as fh:
                fh.write(text)
        allow_path = None
        if allow is not None:
            allow_path = os.path.join(root, "allow")
            with open(allow_path, "w") as fh:
                fh.write(allow)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = check(root, allow_path)
        return rc, out.getvalue()


def selftest():
    cases = [
        ("pair", FAKE["pair"], None, 1,
         "cycle: vmm/a.c -> vmm/b.h(vmm/b.c) -> vmm/a.h(vmm/a.c)"),
        ("shared header", FAKE["shared-header"], None, 1,
         "cycle: vmm/p.c -> vmm/p_internal.h(vmm/q.c) -> vmm/p_internal.h(vmm/p.c)"),
        ("macro and inline helper", FAKE["macro"], None, 1,
         "cycle: devices/d.c -> vfio/u.h -> vmm/log.h(vmm/log.c) -> devices/d.h(devices/d.c)"),
        ("acyclic", FAKE["acyclic"], None, 0, "no cycles among 7 files"),
        ("allowed", FAKE["pair"], "# known\nvmm/b.c vmm/a.c\n", 0,
         "known cycle (allow:2) vmm/a.c <-> vmm/b.c"),
        ("a pair is known only as itself", FAKE["pair"], "vmm/a.c vmm/b.c vmm/c.c\n", 1,
         "1 new cycle(s)"),
        ("allowed, gone", FAKE["acyclic"], "vmm/a.c vmm/b.c\n", 0,
         "line 1 of allow is no cycle any more"),
        ("another one allowed", FAKE["pair"], "vmm/a.c vmm/c.c\n", 1, "1 new cycle(s)"),
    ]
    ring_pair = dict(FAKE["ring"])
    ring_pair["vmm/c.c"] = ('#include "vmm/c.h"\n#include "vmm/a.h"\n#include "vmm/b.h"\n'
                            "int c_run(void) { return a_run() + b_run(); }\n")
    ring = "vmm/a.c vmm/b.c vmm/c.c\n"
    cases += [
        ("ring", FAKE["ring"], None, 1,
         "cycle: vmm/a.c -> vmm/b.h(vmm/b.c) -> vmm/c.h(vmm/c.c) -> vmm/a.h(vmm/a.c)"),
        ("ring allowed, shrunk", FAKE["ring"], "vmm/a.c vmm/b.c vmm/c.c vmm/d.c\n", 0,
         "it shrank; make line 1 of allow: vmm/a.c vmm/b.c vmm/c.c"),
        ("new pair inside an allowed ring", ring_pair, ring, 1,
         "cycle: vmm/b.c -> vmm/c.h(vmm/c.c) -> vmm/b.h(vmm/b.c)"),
        ("ring and its pair allowed", ring_pair, ring + "vmm/c.c vmm/b.c\n", 0,
         "no new cycles among 6 files (2 known"),
    ]
    failed = 0
    for name, files, allow, want_rc, want in cases:
        rc, out = run_on(files, allow)
        if rc != want_rc or want not in out:
            failed += 1
            print(f"FAIL include-cycles selftest {name}: exit {rc} (want {want_rc}), "
                  f"want '{want}' in:\n{out}")
    print(f"include-cycles selftest: {len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv):
    script, args = argv[0], argv[1:]
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(script)), ".."))
    allow, verbose = None, False
    while args:
        opt = args.pop(0)
        if opt == "--selftest":
            return selftest()
        if opt == "--verbose":
            verbose = True
        elif opt in ("--root", "--allow") and args:
            if opt == "--root":
                root = os.path.abspath(args.pop(0))
            else:
                allow = os.path.abspath(args.pop(0))
        else:
            print("usage: tests/include-cycles.sh [--root DIR] [--allow FILE] [--verbose]"
                  " | --selftest", file=sys.stderr)
            return 2
    if allow is None and os.path.exists(os.path.join(root, "tests/include-cycles.allow")):
        allow = os.path.join(root, "tests/include-cycles.allow")
    return check(root, allow, verbose)


sys.exit(main(sys.argv[1:]))
PY
