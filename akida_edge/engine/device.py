"""The virtual AKD1000: a description of the chip (STYLE §1: frozen, validated, computing nothing).

Topology from MetaTF's `akida.AKD1000()` virtual device (`reference/akida-facts.md` §4.2): 20 nodes
in a mesh addressed (column, row), four neural processors (NPs) each, 78 usable because the node
at (3, 1) gives NPs 0 and 1 to the event and configuration DMA engines.

- columns 1-2: rows 3-5; column 3: rows 1 (NPs 2, 3 only, type CNP1) to 5; column 4: rows 1 (all
  four NPs of types {CNP1, FNP2}) to 5; column 5: rows 2-5;
- a standard node: NP0 = {CNP1, FNP3}, NP1-3 = {CNP1, CNP2}.

CNP = convolutional NP, FNP = fully connected NP; what the suffixes 1/2/3 mean is not public
(the mapper's assumption is in `mapping.py`). On-chip SRAM: 8 MB in total (brainchip.com).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from akida_edge.errors import MappingError

NP_TYPES = ("CNP1", "CNP2", "FNP2", "FNP3")
HW_VERSIONS = ("NSoC_v2", "NSoC_v1")
SRAM_BYTES = 8 * 1024 * 1024  # 8 MB on-chip SRAM (akida-facts §4.1)

_STANDARD = (frozenset({"CNP1", "FNP3"}),) + (frozenset({"CNP1", "CNP2"}),) * 3


@dataclass(frozen=True)
class NP:
    """One neural processor, addressed like MetaTF's `NP.Ident(col, row, id)`."""

    col: int
    row: int
    id: int
    types: frozenset[str]

    @property
    def ident(self) -> tuple[int, int, int]:
        return (self.col, self.row, self.id)

    def __str__(self) -> str:
        return f"({self.col}, {self.row}, {self.id})"


@dataclass(frozen=True)
class Node:
    col: int
    row: int
    nps: tuple[NP, ...]


@dataclass
class SoC:
    """System-on-chip settings the user may change, as in MetaTF (`device.soc`).

    `power_measurement_enabled`: when true at `map()` time, `statistics.report(model)` adds the
    power model's (estimated) figures to the per-layer activity."""

    power_measurement_enabled: bool = False


@dataclass(frozen=True)
class Device:
    """A description of an Akida device: nodes, NPs and memory."""

    name: str
    hw_version: str
    nodes: tuple[Node, ...]
    sram_bytes: int
    soc: SoC = field(default_factory=SoC, compare=False)

    @property
    def version(self) -> str:
        return f"virtual {self.name} ({self.hw_version}, Akida 1.0 IP)"

    @property
    def nps(self) -> tuple[NP, ...]:
        return tuple(np_ for node in self.nodes for np_ in node.nps)

    @property
    def np_count(self) -> int:
        return len(self.nps)

    def count(self, np_type: str) -> int:
        """Number of NPs that can take the role `np_type`."""
        return sum(np_type in np_.types for np_ in self.nps)

    def __repr__(self) -> str:
        return f"<Device {self.version}: {len(self.nodes)} nodes, {self.np_count} NPs, " \
               f"{self.sram_bytes // 2**20} MB SRAM>"


def _topology() -> tuple[Node, ...]:
    rows = {1: (3, 4, 5), 2: (3, 4, 5), 3: (1, 2, 3, 4, 5), 4: (1, 2, 3, 4, 5), 5: (2, 3, 4, 5)}
    nodes = []
    for col, col_rows in rows.items():
        for row in col_rows:
            if (col, row) == (3, 1):  # NPs 0 and 1 are the event and config DMA engines
                types = {2: frozenset({"CNP1"}), 3: frozenset({"CNP1"})}
            elif (col, row) == (4, 1):
                types = {i: frozenset({"CNP1", "FNP2"}) for i in range(4)}
            else:
                types = dict(enumerate(_STANDARD))
            nodes.append(Node(col, row, tuple(NP(col, row, i, t) for i, t in types.items())))
    return tuple(nodes)


def AKD1000(hw_version: str = "NSoC_v2") -> Device:  # noqa: N802 - MetaTF's name
    """The AKD1000 reference SoC (NSoC_v2 = production; NSoC_v1 = pre-production, accepted)."""
    if hw_version not in HW_VERSIONS:
        raise MappingError(
            f"hw_version={hw_version!r} is not an Akida 1.0 chip; use one of {', '.join(HW_VERSIONS)}"
        )
    return Device(name="AKD1000", hw_version=hw_version, nodes=_topology(), sram_bytes=SRAM_BYTES)
