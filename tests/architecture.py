"""An import-linter contract of our own (``.importlinter``): no import cycles between modules.

import-linter's own ``acyclic_siblings`` looks inside one package; PowerSync's apps are separate
top-level packages, and the cycles worth catching ran across them (a service importing a task
module that imported the service back, lazily, inside a function). This contract finds every
strongly connected set of modules in the whole import graph of the root packages, lazy imports
included, and fails on any set of more than one module.
"""

from __future__ import annotations

from typing import Any

import grimp
from importlinter import Contract, ContractCheck, output


def import_cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """The strongly connected sets of more than one module among ``modules`` (Tarjan's
    algorithm, iterative: the graph has hundreds of modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0

    def imported_by(module: str) -> list[str]:
        return sorted(m for m in graph.find_modules_directly_imported_by(module) if m in modules)

    for root in sorted(modules):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, imported_by(root))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            module, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, imported_by(nxt)))
                elif nxt in on_stack:
                    low[module] = min(low[module], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return sorted(cycles)


class AcyclicModulesContract(Contract):
    """Kept when no two modules of the root packages import each other, directly or through
    others."""

    type_name = "acyclic_modules"

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        roots = tuple(self.session_options["root_packages"])
        ours = {m for m in graph.modules if m.split(".")[0] in roots}
        cycles = import_cycles(graph, ours)
        return ContractCheck(kept=not cycles, warnings=[], metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        cycles: Any = check.metadata["cycles"]
        for cycle in cycles:
            output.print(f"These modules import each other: {', '.join(cycle)}")
            output.new_line()
